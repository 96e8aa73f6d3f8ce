//! What every handler shares: the store and the lookup caches. Passed as axum state, never
//! global.

use std::sync::Arc;
use std::time::Duration;

use herald_core::Store;

use crate::http::auth::AuthCache;
use crate::http::credentials::IntegrationCache;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub auth: Arc<AuthCache>,
    /// Which integration a provider's credentials bind to (see [`IntegrationCache`]).
    pub integrations: Arc<IntegrationCache>,
}

impl AppState {
    /// State over `store` whose caches remember lookups for `cache_ttl`.
    pub fn new(store: Arc<dyn Store>, cache_ttl: Duration) -> Self {
        AppState {
            store,
            auth: Arc::new(AuthCache::new(cache_ttl)),
            integrations: Arc::new(IntegrationCache::new(cache_ttl)),
        }
    }

    /// Called after this process changed an integration: the next credentials write resolves
    /// integrations from the store again. (The whole cache is cleared: integration writes are
    /// rare, and a per-environment clear would not be worth its bookkeeping.)
    pub fn integrations_changed(&self) {
        self.integrations.clear();
    }
}
