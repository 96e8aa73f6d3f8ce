//! A small pool of query-only connections. WAL lets these read while the writer commits, each
//! seeing the last committed state. A read runs on `spawn_blocking` (SQLite calls block), inside one
//! read transaction so that a multi-statement read (a subscriber, then its channels and tokens) sees
//! one consistent snapshot. A semaphore hands out connections, so a burst of reads queues on the
//! async side instead of occupying blocking threads.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use herald_core::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::Semaphore;

use crate::connection::open_reader;
use crate::error::{Closed, DbResult, SqliteOpenError};

#[derive(Debug, thiserror::Error)]
#[error("a read panicked")]
struct ReadPanicked;

pub(crate) struct ReadPool {
    connections: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
    size: u32,
}

impl ReadPool {
    pub(crate) fn open(path: &Path, size: usize) -> Result<ReadPool, SqliteOpenError> {
        let connections = (0..size)
            .map(|_| open_reader(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ReadPool {
            connections: Arc::new(Mutex::new(connections)),
            permits: Arc::new(Semaphore::new(size)),
            size: size as u32,
        })
    }

    /// Runs `work` on a pooled connection inside a read transaction.
    pub(crate) async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::backend(Closed))?;
        let connections = self.connections.clone();
        let task = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let taken = connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            // A permit guarantees a connection unless the pool was closed meanwhile.
            let Some(mut conn) = taken else {
                return Err(StoreError::backend(Closed));
            };
            let result = run_in_snapshot(&mut conn, work);
            connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
            result
        });
        task.await
            .map_err(|e| StoreError::backend(std::io::Error::other(e.to_string())))?
    }

    /// Waits for reads in flight, then closes every connection; later reads fail with `Closed`.
    pub(crate) async fn close(&self) {
        if let Ok(all) = self.permits.acquire_many(self.size).await {
            all.forget();
        }
        self.permits.close();
        let connections = std::mem::take(
            &mut *self
                .connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        drop(connections);
    }
}

fn run_in_snapshot<T, F>(conn: &mut Connection, work: F) -> StoreResult<T>
where
    F: FnOnce(&Connection) -> DbResult<T>,
{
    let tx = conn.transaction().map_err(StoreError::backend)?;
    let result = match catch_unwind(AssertUnwindSafe(|| work(&tx))) {
        Ok(r) => r.map_err(StoreError::from),
        Err(_) => Err(StoreError::backend(ReadPanicked)),
    };
    // Ending a read transaction cannot lose anything; an error here only matters if the read
    // itself succeeded.
    match (tx.commit(), result) {
        (Err(e), Ok(_)) => Err(StoreError::backend(e)),
        (_, result) => result,
    }
}
