//! What every handler shares: the store and the API-key cache. Passed as axum state, never global.

use std::sync::Arc;

use herald_core::Store;

use crate::http::auth::AuthCache;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub auth: Arc<AuthCache>,
}
