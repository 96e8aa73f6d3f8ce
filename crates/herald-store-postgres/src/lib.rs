//! Herald's shared store: PostgreSQL through sqlx, so that several Herald processes (API servers and
//! delivery workers) can run against one database.
//!
//! Every query is a runtime query (`sqlx::query` + `FromRow`), so building Herald never needs a
//! database. The rules for merging credentials and profiles come from `herald-core`; this crate only
//! makes them atomic across processes: writes that read-modify-write lock the subscriber row
//! (`SELECT … FOR UPDATE`; credentials writes, the hot path, first try a write guarded by the
//! row's version and lock only if it lost a race, see `credentials`), creations use `INSERT …
//! ON CONFLICT`, and the one-time steps (migrations, bootstrap, registering encryption keys) run
//! under transaction-scoped advisory locks. Credentials are stored encrypted (`secrets`): the
//! store holds the vault that opens them, checked against the database at connect.
//!
//! Every pooled connection runs under a `statement_timeout`, and reads whose cost grows with the
//! data (searches, lists) go through `scan`: at most half the pool at once, and cancelled on the
//! server when the request that started them is dropped, so slow searches can neither outlive
//! their client nor starve point reads and authentication.
#![forbid(unsafe_code)]

mod activity;
mod claims;
mod config;
mod credentials;
mod environments;
mod error;
mod events;
mod integrations;
mod jobs;
mod migrate;
mod pagination;
mod rows;
mod scan;
mod secrets;
mod subscribers;
mod subscriptions;
#[cfg(feature = "test-support")]
pub mod test_support;
mod topics;
mod workflows;

use std::sync::Arc;

use async_trait::async_trait;
use herald_core::secrets::{KeyProvider, Vault};
use herald_core::Store;
use sqlx::postgres::{PgConnection, PgPoolOptions};
use sqlx::{Connection, PgPool};

pub use config::{PgConfig, PgOpenError};
pub use migrate::{migrate, MigrateError, Migration, MIGRATIONS};

/// A pooled connection idle for at least this long is pinged before it is handed out; one used
/// more recently is handed out as it is.
const PING_AFTER_IDLE: std::time::Duration = std::time::Duration::from_secs(1);

/// The PostgreSQL implementation of [`herald_core::Store`]. Cheap to clone: clones share one pool.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
    /// The collation the v2 searches fold case under, found on first use (see
    /// `pagination::fold_collation`).
    fold: Arc<tokio::sync::OnceCell<&'static str>>,
    /// Permits for scans (searches and lists): at most [`PgConfig::max_scans`] hold a pooled
    /// connection at once (see `scan`).
    scans: Arc<tokio::sync::Semaphore>,
    /// How long a scan waits for a permit, as a request waits for a pooled connection.
    acquire_timeout: std::time::Duration,
    /// Encrypts and decrypts the secret columns (see `secrets`).
    vault: Arc<Vault>,
}

impl PgStore {
    /// Connects, applies pending migrations, checks that `keys` open the database's secrets (a
    /// wrong key is [`PgOpenError::Secrets`]; the first connect with keys encrypts the secrets
    /// an older Herald stored in plain text) and returns a store with a lazily filled pool.
    ///
    /// The first connection is made directly (not through the pool) so that a failure reports its
    /// real cause (`connection refused`, `password authentication failed …`) instead of the pool's
    /// generic timeout, and it is bounded by [`PgConfig::connect_timeout`].
    pub async fn connect(
        cfg: &PgConfig,
        keys: impl Into<KeyProvider>,
    ) -> Result<PgStore, PgOpenError> {
        let keys = keys.into();
        let options = cfg.connect_options()?;
        let target = config::target(&options);
        let first = tokio::time::timeout(cfg.connect_timeout, PgConnection::connect_with(&options));
        let mut conn = match first.await {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => return Err(PgOpenError::connect(target, cfg, &e)),
            Err(_) => {
                return Err(PgOpenError::Connect {
                    target,
                    cause: format!("timed out after {:?}", cfg.connect_timeout),
                })
            }
        };
        let applied = migrate(&mut conn)
            .await
            .map_err(|e| PgOpenError::migrate(target.clone(), cfg, &e))?;
        if !applied.is_empty() {
            tracing::info!(?applied, %target, "applied PostgreSQL migrations");
        }
        let vault = match secrets::unlock(&mut conn, &keys).await {
            Ok(vault) => vault,
            Err(secrets::UnlockFailure::Keys(e)) => return Err(PgOpenError::Secrets(e)),
            Err(secrets::UnlockFailure::Db(e)) => return Err(PgOpenError::encrypt(target, cfg, e)),
        };
        // Best effort: the connection is dropped either way.
        let _ = conn.close().await;

        // sqlx pings every connection it hands out by default: one more round trip per request
        // (issue 13's profile). A connection that was in use a moment ago is alive, so only one
        // that sat idle for a while is pinged (and replaced if the ping fails, e.g. after a
        // PostgreSQL restart); under load no checkout pays for a ping.
        let pool = PgPoolOptions::new()
            .max_connections(cfg.max_connections.max(1))
            .min_connections(cfg.min_connections.min(cfg.max_connections))
            .acquire_timeout(cfg.acquire_timeout)
            .idle_timeout(cfg.idle_timeout)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(cfg.pool_options()?);
        Ok(PgStore {
            pool,
            fold: Arc::default(),
            scans: Arc::new(tokio::sync::Semaphore::new(cfg.max_scans() as usize)),
            acquire_timeout: cfg.acquire_timeout,
            vault: Arc::new(vault),
        })
    }

    /// The underlying pool, for callers that run their own queries (e.g. health checks).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    /// `SELECT 1` on a pooled connection, within the pool's acquire timeout: a closed pool, an
    /// unreachable server or an exhausted pool all fail it.
    async fn ping(&self) -> herald_core::StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(error::db)
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
