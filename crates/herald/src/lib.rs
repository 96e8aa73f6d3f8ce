//! Herald: a self-hostable notification server that speaks Novu's REST API.
//!
//! The library holds everything; `main.rs` only parses the command line and dispatches. Tests
//! start the server with [`run`] on a listener bound to port 0 and stop it through the
//! cancellation token.
#![forbid(unsafe_code)]

pub mod backup;
pub mod config;
pub mod config_reference;
pub mod delivery;
pub mod delivery_config;
pub mod health;
pub mod http;
pub mod keys;
pub mod metrics;
pub mod ops_config;
pub mod secrets;
pub mod serve;
pub mod startup;
pub mod state;
pub mod telemetry;

use std::sync::Arc;
use std::time::Duration;

use herald_core::Store;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use state::AppState;

/// Settings of one running server. The connection limits are explained in [`serve`].
#[derive(Clone, Debug)]
pub struct ServerSettings {
    /// How long an API-key lookup, and which integration a provider's credentials bind to, are
    /// cached. Changes made through another process are seen within this time.
    pub cache_ttl: Duration,
    /// The delivery worker (run in this process unless disabled), retries and outbound policy.
    pub delivery: delivery::DeliverySettings,
    /// A request's headers must arrive within this time (on a new connection, from accept; on a
    /// kept-alive one, from the request's first byte), else the connection is closed.
    pub header_read_timeout: Duration,
    /// A kept-alive connection idle this long between requests is closed, and so is one whose
    /// client does not read its response for this long.
    pub idle_timeout: Duration,
    /// A request's body must arrive within this time from its headers, else the request
    /// answers 408 and the connection is closed.
    pub body_read_timeout: Duration,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Largest request line plus headers, in bytes (at least 8192); larger is a 431. The default,
    /// 64 KiB, lets every id and search the API accepts through (so an id too long is still a 400
    /// in Novu's format) while bounding what each connection can make Herald hold.
    pub max_header_bytes: usize,
    /// How long a shutdown waits for open connections to finish before dropping them.
    pub shutdown_timeout: Duration,
    /// Serve HTTPS with this certificate (`None`: plain HTTP).
    pub tls: Option<serve::tls::TlsSettings>,
    /// Whether registering a device token takes it away from the other subscribers holding it
    /// (`move`, the default) or lets them keep it (`share`, Novu's behaviour).
    pub token_ownership: herald_core::TokenOwnership,
    /// Per-API-key rate limits (off by default).
    pub rate_limits: http::rate_limit::RateLimitSettings,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            cache_ttl: Duration::from_secs(5),
            delivery: delivery::DeliverySettings::default(),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 512,
            max_header_bytes: 64 * 1024,
            shutdown_timeout: Duration::from_secs(10),
            tls: None,
            token_ownership: herald_core::TokenOwnership::Move,
            rate_limits: http::rate_limit::RateLimitSettings::default(),
        }
    }
}

/// Serves the API on `listener` until `shutdown` is cancelled, then stops accepting connections,
/// lets in-flight requests finish for up to the shutdown timeout, and drops what is still open.
/// Unless disabled, the delivery worker runs beside it and is stopped (jobs in flight finished
/// or handed back) before this returns.
pub async fn run(
    listener: TcpListener,
    store: Arc<dyn Store>,
    settings: ServerSettings,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    Server::new(store, settings).run(listener, shutdown).await
}

/// A server before it runs: what [`run`] does, with its shared state reachable (tests look at
/// the `Idempotency-Key`s in flight through it), and optionally a listener for its metrics.
pub struct Server {
    state: AppState,
    store: Arc<dyn Store>,
    settings: ServerSettings,
    metrics_listener: Option<TcpListener>,
}

impl Server {
    /// A server over `store` with fresh metrics (served only if [`Server::serve_metrics_on`]
    /// is called).
    pub fn new(store: Arc<dyn Store>, settings: ServerSettings) -> Self {
        Self::with_metrics(store, settings, Arc::new(metrics::Metrics::new()))
    }

    /// A server that counts into `metrics` (the binary creates them first, so that the SQLite
    /// store it opens can report its group commits into them too). Every store call of the API
    /// and the worker is timed into them.
    pub fn with_metrics(
        store: Arc<dyn Store>,
        settings: ServerSettings,
        metrics: Arc<metrics::Metrics>,
    ) -> Self {
        let store = metrics::MeteredStore::wrap(store, metrics.clone());
        let mut state = AppState::new(store.clone(), settings.cache_ttl);
        state.metrics = metrics;
        state.token_ownership = settings.token_ownership;
        state.rate_limits = Arc::new(http::rate_limit::RateLimits::new(&settings.rate_limits));
        if settings.delivery.worker_enabled {
            state.worker_heartbeat = Some(health::Heartbeat::new(
                settings.delivery.worker.stall_timeout,
            ));
        }
        Server {
            state,
            store,
            settings,
            metrics_listener: None,
        }
    }

    /// Serves `GET /metrics` on `listener` while the server runs.
    pub fn serve_metrics_on(mut self, listener: TcpListener) -> Self {
        self.metrics_listener = Some(listener);
        self
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// See [`run`].
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let Server {
            state,
            store,
            settings,
            metrics_listener,
        } = self;
        let worker = match &state.worker_heartbeat {
            Some(heartbeat) => {
                let worker = delivery::worker(
                    store.clone(),
                    &settings.delivery,
                    state.delivery_wake.clone(),
                )
                .map_err(|e| std::io::Error::other(format!("{e:#}")))?
                .with_metrics(state.metrics.clone())
                .with_heartbeat(heartbeat.clone());
                Some(tokio::spawn(worker.run(shutdown.clone())))
            }
            None => None,
        };
        let metrics = metrics_listener.map(|listener| {
            let served = metrics::serve(listener, state.metrics.clone(), store, shutdown.clone());
            tokio::spawn(async move {
                // The API keeps serving without its metrics.
                if let Err(e) = served.await {
                    tracing::error!(error = %e, "the metrics listener failed");
                }
            })
        });
        let served = serve(listener, state, &settings, shutdown.clone()).await;
        // The listener stopped (shutdown, or an error): the worker and the metrics stop with it.
        shutdown.cancel();
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        served
    }
}

async fn serve(
    listener: TcpListener,
    state: AppState,
    settings: &ServerSettings,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = tower::util::MapRequestLayer::new(http::normalize_path);
    let app = tower::Layer::layer(&app, http::router(state));
    serve::serve(listener, app, settings, shutdown).await
}
