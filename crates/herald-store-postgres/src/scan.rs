//! Scans: the reads whose cost grows with the data (v2 searches, v1 and v2 lists). Each runs in a
//! read-only snapshot transaction obtained through [`PgStore::scan`], which bounds them twice:
//!
//! - **How many at once.** A scan first takes one of [`PgConfig::max_scans`] permits (half the
//!   pool), so however many searches arrive, the other half of the pool stays free for point
//!   reads, authentication and writes. A scan that waits longer than the pool's acquire timeout
//!   for a permit answers [`StoreError::Busy`] (503).
//! - **How long.** Every pooled connection has a `statement_timeout` (see `PgConfig`), and a scan
//!   whose request is dropped (the client went away) is cancelled on the server: sqlx has no
//!   query cancellation, and dropping a query future leaves the statement running, its
//!   connection drained only when the statement ends. So the scan records its backend's pid, and
//!   when it is dropped unfinished, a task asks PostgreSQL to `pg_cancel_backend` that pid while
//!   still holding the scan's connection, and gives the connection back only afterwards. Because
//!   the connection is held until the cancel has been delivered, the cancel cannot reach another
//!   request's statement on a reused connection; a cancel that arrives once the statement is over
//!   finds the backend idle, where PostgreSQL ignores it.
//!
//! [`PgConfig::max_scans`]: crate::PgConfig::max_scans

use std::ops::{Deref, DerefMut};

use herald_core::StoreError;
use sqlx::postgres::PgConnection;
use sqlx::{PgPool, Postgres, Transaction};
use tokio::sync::OwnedSemaphorePermit;

use crate::error::{Error, Result};
use crate::pagination::snapshot;
use crate::PgStore;

/// One scan's snapshot transaction. Derefs to its connection; [`Scan::finish`] ends it. Dropped
/// unfinished, it cancels whatever statement its connection is running (see the module docs).
pub(crate) struct Scan {
    tx: Option<Transaction<'static, Postgres>>,
    pid: i32,
    pool: PgPool,
    permit: Option<OwnedSemaphorePermit>,
}

impl PgStore {
    /// Takes a scan permit and begins a read-only snapshot transaction for a scan.
    pub(crate) async fn scan(&self) -> Result<Scan> {
        let permit = tokio::time::timeout(self.acquire_timeout, self.scans.clone().acquire_owned())
            .await
            .map_err(|_| {
                Error::Store(StoreError::Busy(format!(
                    "no search or list could start within {:?}: every scan slot stayed busy",
                    self.acquire_timeout
                )))
            })?
            .map_err(|_| Error::Store(StoreError::Busy("the store is closed".into())))?;
        let mut tx = snapshot(&self.pool).await?;
        let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
            .fetch_one(&mut *tx)
            .await?;
        Ok(Scan {
            tx: Some(tx),
            pid,
            pool: self.pool.clone(),
            permit: Some(permit),
        })
    }
}

impl Scan {
    /// Ends the snapshot (commits the read-only transaction) and gives the connection back.
    pub(crate) async fn finish(mut self) -> Result<()> {
        if let Some(tx) = self.tx.take() {
            tx.commit().await?;
        }
        Ok(())
    }
}

impl Deref for Scan {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.tx
            .as_ref()
            .expect("a scan's transaction lives until finish or drop")
    }
}

impl DerefMut for Scan {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.tx
            .as_mut()
            .expect("a scan's transaction lives until finish or drop")
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        let Some(tx) = self.tx.take() else {
            return;
        };
        let (pool, pid, permit) = (self.pool.clone(), self.pid, self.permit.take());
        // Without a runtime (the process is exiting) there is nothing to cancel for.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            if let Err(e) = sqlx::query("SELECT pg_cancel_backend($1)")
                .bind(pid)
                .execute(&pool)
                .await
            {
                tracing::warn!(error = %e, pid, "could not cancel the statement of a dropped scan");
            }
            // Only now may the connection serve another request (its rollback is queued).
            drop(tx);
            drop(permit);
        });
    }
}
