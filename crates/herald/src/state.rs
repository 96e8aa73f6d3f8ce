//! What every handler shares: the store, the lookup caches, the metrics and the rate limiters.
//! Passed as axum state, never global.

use std::sync::Arc;
use std::time::Duration;

use herald_core::{Store, TokenOwnership};
use tokio::sync::Notify;

use crate::health::Heartbeat;
use crate::http::auth::AuthCache;
use crate::http::credentials::IntegrationCache;
use crate::http::idempotency::InFlight;
use crate::http::rate_limit::RateLimits;
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub auth: Arc<AuthCache>,
    /// Which integration a provider's credentials bind to (see [`IntegrationCache`]).
    pub integrations: Arc<IntegrationCache>,
    /// Wakes this process's delivery worker when a trigger was accepted.
    pub delivery_wake: Arc<Notify>,
    /// `Idempotency-Key`s of trigger requests in flight in this process.
    pub in_flight: InFlight,
    /// What registering a device token does to other subscribers holding it
    /// (`HERALD_TOKEN_OWNERSHIP`); every credentials write carries it to the store.
    pub token_ownership: TokenOwnership,
    /// This server's metrics (see [`crate::metrics`]).
    pub metrics: Arc<Metrics>,
    /// Per-API-key limits (see [`crate::http::rate_limit`]); off unless configured.
    pub rate_limits: Arc<RateLimits>,
    /// The heartbeat of this process's delivery worker, `None` when it runs none (readiness).
    pub worker_heartbeat: Option<Heartbeat>,
}

impl AppState {
    /// State over `store` whose caches remember lookups for `cache_ttl`, with fresh metrics,
    /// no rate limits and no worker.
    pub fn new(store: Arc<dyn Store>, cache_ttl: Duration) -> Self {
        AppState {
            store,
            auth: Arc::new(AuthCache::new(cache_ttl)),
            integrations: Arc::new(IntegrationCache::new(cache_ttl)),
            delivery_wake: Arc::new(Notify::new()),
            in_flight: InFlight::default(),
            token_ownership: TokenOwnership::default(),
            metrics: Arc::new(Metrics::new()),
            rate_limits: Arc::new(RateLimits::new(&Default::default())),
            worker_heartbeat: None,
        }
    }

    /// Tells the worker of this process that jobs may be due (no-op without a worker).
    pub fn wake_delivery(&self) {
        self.delivery_wake.notify_one();
    }

    /// Called after this process changed an integration: the next credentials write resolves
    /// integrations from the store again. (The whole cache is cleared: integration writes are
    /// rare, and a per-environment clear would not be worth its bookkeeping.)
    pub fn integrations_changed(&self) {
        self.integrations.clear();
    }
}
