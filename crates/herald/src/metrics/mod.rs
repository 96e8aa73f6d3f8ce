//! Prometheus metrics: what is counted, and the listener that serves them.
//!
//! One [`Metrics`] value per server holds a `prometheus-client` registry and a handle on every
//! metric family; it travels through [`AppState`](crate::AppState) and into the worker, never
//! through a global. (The `metrics` facade would have worked with a global recorder; a value
//! keeps each test server's counts to itself, so tests can assert exact numbers while many
//! servers run in one process.) Label values come only from closed sets, spelled by this module:
//! route templates, methods, status codes, store method names, provider ids and outcome classes;
//! never an id, a key, a token or a raw path.
//!
//! What each part counts: `http` (requests by route, method and status; latency), `store` (every
//! store call's latency, by method and read/write/scan, through a wrapping [`MeteredStore`]),
//! `delivery` (the worker's jobs, deliveries, fan-out pages, dead tokens) and `sqlite` (group
//! commit batch sizes). Gauges of the shared queue are read from the store at scrape time.
//!
//! The metrics are served as Prometheus text on their own listener (`HERALD_METRICS_BIND`, off by
//! default), so that they are never exposed on the API port by accident.

mod delivery;
pub mod http;
mod store;
mod store_calls;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use herald_core::{Store, Timestamp};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use delivery::{DeliveryMetrics, InFlight};
pub use http::HttpMetrics;
pub use store::{MeteredStore, StoreMetrics};

/// Buckets of request and store latencies, in seconds: 0.5 ms to 10 s.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How long a scrape waits for the queue gauges' query before serving without refreshing them.
const QUEUE_STATE_TIMEOUT: Duration = Duration::from_secs(2);

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every metric of one server, and the registry they are encoded from.
pub struct Metrics {
    registry: Registry,
    pub http: HttpMetrics,
    pub store: StoreMetrics,
    pub delivery: DeliveryMetrics,
    /// SQLite group commits: jobs per batch.
    sqlite_batch_jobs: Histogram,
    /// SQLite group commits: `BEGIN` to the end of `COMMIT`.
    sqlite_commit_seconds: Histogram,
    /// Seconds the oldest due job has been waiting (0 when none is due), read at scrape time.
    queue_lag: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// 1 while a fan-out (topic or broadcast) still has recipients to expand, read at scrape time.
    fan_out_pending: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Fresh metrics, every family registered and empty.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let http = HttpMetrics::register(&mut registry);
        let store = StoreMetrics::register(&mut registry);
        let delivery = DeliveryMetrics::register(&mut registry);
        let sqlite_batch_jobs =
            Histogram::new([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0]);
        registry.register(
            "herald_sqlite_write_batch_jobs",
            "Write requests committed together by the SQLite writer (group commit), per batch",
            sqlite_batch_jobs.clone(),
        );
        let sqlite_commit_seconds = latency_histogram();
        registry.register(
            "herald_sqlite_write_batch_duration_seconds",
            "Time the SQLite writer spent on one batch, from BEGIN to the end of COMMIT (fsync included)",
            sqlite_commit_seconds.clone(),
        );
        let queue_lag = Gauge::<f64, std::sync::atomic::AtomicU64>::default();
        registry.register(
            "herald_delivery_queue_lag_seconds",
            "How long the oldest due delivery job has been waiting (0 when none is due); read from the database at scrape time",
            queue_lag.clone(),
        );
        let fan_out_pending = Gauge::default();
        registry.register(
            "herald_delivery_fan_out_pending",
            "1 while a topic or broadcast fan-out still has recipients to expand; read from the database at scrape time",
            fan_out_pending.clone(),
        );
        Metrics {
            registry,
            http,
            store,
            delivery,
            sqlite_batch_jobs,
            sqlite_commit_seconds,
            queue_lag,
            fan_out_pending,
        }
    }

    /// The hook the SQLite store calls after each group commit (see
    /// [`herald_store_sqlite::SqliteOptions::write_observer`]).
    pub fn sqlite_write_observer(self: &Arc<Self>) -> herald_store_sqlite::WriteObserver {
        let metrics = Arc::downgrade(self);
        Arc::new(move |batch: herald_store_sqlite::WriteBatch| {
            if let Some(m) = metrics.upgrade() {
                m.sqlite_batch_jobs.observe(batch.jobs as f64);
                m.sqlite_commit_seconds
                    .observe(batch.duration.as_secs_f64());
            }
        })
    }

    /// Sets the queue gauges from what the store says now. A store that does not answer in time
    /// leaves them as they were (the failure shows in `herald_store_errors_total`).
    pub async fn refresh_queue_gauges(&self, store: &dyn Store) {
        match tokio::time::timeout(QUEUE_STATE_TIMEOUT, store.queue_state()).await {
            Ok(Ok(state)) => {
                let now = Timestamp::now().millis();
                let lag = state
                    .next_due
                    .map_or(0, |due| now.saturating_sub(due.millis()).max(0));
                self.queue_lag.set(lag as f64 / 1000.0);
                self.fan_out_pending.set(i64::from(state.fan_outs_pending));
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "queue gauges not refreshed"),
            Err(_) => {
                tracing::debug!("queue gauges not refreshed: the database did not answer in time")
            }
        }
    }

    /// Every metric in Prometheus's text format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail; a label value the encoder refused would be a bug
        // here, and an empty scrape is better than a panic.
        if let Err(e) = prometheus_text::encode(&mut out, &self.registry) {
            tracing::error!(error = %e, "encoding the metrics failed");
        }
        out
    }
}

#[derive(Clone)]
struct Scrape {
    metrics: Arc<Metrics>,
    store: Arc<dyn Store>,
}

/// The metrics listener's routes: `GET /metrics`, and 404 for anything else.
pub fn router(metrics: Arc<Metrics>, store: Arc<dyn Store>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape { metrics, store })
}

async fn scrape(State(scrape): State<Scrape>) -> Response {
    scrape.metrics.refresh_queue_gauges(&*scrape.store).await;
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, prometheus_text::CONTENT_TYPE)],
        scrape.metrics.render(),
    )
        .into_response()
}

/// Serves [`router`] on `listener` until `shutdown`. A scrape is small and quick, so this uses
/// axum's own server: none of the API listener's connection limits are needed on an address
/// that only Prometheus should reach.
pub async fn serve(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    store: Arc<dyn Store>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(metrics, store))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exposed_once_counted() {
        let metrics = Arc::new(Metrics::new());
        // A family (a metric with labels) appears with its first labelled series.
        metrics
            .http
            .observe(&axum::http::Method::GET, "/v1/health-check", 200, 0.001);
        metrics
            .delivery
            .dead_tokens_removed(herald_core::ProviderId::Apns, 1);
        let text = metrics.render();
        assert!(!text.contains("herald_store_errors_total"), "{text}");
        for name in [
            "herald_http_requests_total",
            "herald_http_request_duration_seconds",
            "herald_sqlite_write_batch_jobs",
            "herald_sqlite_write_batch_duration_seconds",
            "herald_delivery_jobs_claimed_total",
            "herald_delivery_fan_out_pages_total",
            "herald_delivery_fan_out_notifications_total",
            "herald_delivery_dead_tokens_removed_total",
            "herald_delivery_jobs_in_flight",
            "herald_delivery_queue_lag_seconds",
            "herald_delivery_fan_out_pending",
        ] {
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} missing from:\n{text}"
            );
        }
    }

    #[test]
    fn the_sqlite_observer_records_batch_sizes_and_stops_when_the_metrics_are_gone() {
        let metrics = Arc::new(Metrics::new());
        let observe = metrics.sqlite_write_observer();
        for jobs in [1, 3, 3, 200] {
            observe(herald_store_sqlite::WriteBatch {
                jobs,
                duration: Duration::from_millis(2),
                committed: true,
            });
        }
        let text = metrics.render();
        assert!(
            text.contains("herald_sqlite_write_batch_jobs_bucket{le=\"1\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("herald_sqlite_write_batch_jobs_bucket{le=\"4\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("herald_sqlite_write_batch_jobs_bucket{le=\"256\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("herald_sqlite_write_batch_jobs_sum 207.0\n"),
            "{text}"
        );
        assert!(
            text.contains("herald_sqlite_write_batch_jobs_count 4\n"),
            "{text}"
        );
        drop(metrics);
        // The store may outlive the server's metrics; its writer thread must not mind.
        observe(herald_store_sqlite::WriteBatch {
            jobs: 1,
            duration: Duration::ZERO,
            committed: true,
        });
    }
}
