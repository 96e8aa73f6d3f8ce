//! A small pool of query-only connections. WAL lets these read while the writer commits, each
//! seeing the last committed state. Every read runs inside one read transaction so that a
//! multi-statement read (a subscriber, then its channels and tokens) sees one consistent snapshot.
//! A semaphore hands out connections.
//!
//! Two ways to run a read:
//! - [`ReadPool::lookup`], for indexed point reads (a subscriber by id, a key by hash): these take
//!   microseconds, less than handing the work to another thread and waking the task again would
//!   cost, so they run right on the calling runtime thread when a connection is free, and queue like
//!   a scan only when none is.
//! - [`ReadPool::read`], for anything whose cost grows with the data (lists, searches): it runs on
//!   `spawn_blocking`, so a long scan never stalls the runtime; a burst of them queues on the async
//!   side instead of occupying blocking threads.

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

    /// Runs `work`, an indexed point read, on a pooled connection inside a read transaction: on
    /// this thread if a connection is free, else like [`ReadPool::read`].
    pub(crate) async fn lookup<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        let Ok(_permit) = self.permits.try_acquire() else {
            return self.read(work).await;
        };
        with_pooled(&self.connections, work)
    }

    /// Runs `work` on a pooled connection inside a read transaction, on a blocking thread.
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
            with_pooled(&connections, work)
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

/// Runs `work` in a snapshot on a connection taken from `connections`, and puts it back. The
/// caller holds a permit, which guarantees a connection unless the pool was closed meanwhile.
fn with_pooled<T, F>(connections: &Mutex<Vec<Connection>>, work: F) -> StoreResult<T>
where
    F: FnOnce(&Connection) -> DbResult<T>,
{
    let taken = connections
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .pop();
    let Some(conn) = taken else {
        return Err(StoreError::backend(Closed));
    };
    let result = run_in_snapshot(&conn, work);
    connections
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(conn);
    result
}

/// Runs `work` between `BEGIN` and `COMMIT` (prepared once per connection: parsing them on every
/// read showed up in profiles).
fn run_in_snapshot<T, F>(conn: &Connection, work: F) -> StoreResult<T>
where
    F: FnOnce(&Connection) -> DbResult<T>,
{
    let statement = |sql: &str| -> rusqlite::Result<()> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    statement("BEGIN").map_err(StoreError::backend)?;
    let result = match catch_unwind(AssertUnwindSafe(|| work(conn))) {
        Ok(r) => r.map_err(StoreError::from),
        Err(_) => Err(StoreError::backend(ReadPanicked)),
    };
    // Ending a read transaction cannot lose anything; an error here only matters if the read
    // itself succeeded. If `COMMIT` fails, `ROLLBACK` makes sure the connection goes back to the
    // pool outside any transaction.
    match (statement("COMMIT"), result) {
        (Ok(()), result) => result,
        (Err(e), result) => {
            let _ = statement("ROLLBACK");
            match result {
                Ok(_) => Err(StoreError::backend(e)),
                Err(read) => Err(read),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::connection::open_writer;

    fn pool_of_one() -> (tempfile::TempDir, ReadPool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = open_writer(&path).unwrap();
        writer
            .execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (7);")
            .unwrap();
        let pool = ReadPool::open(&path, 1).unwrap();
        (dir, pool)
    }

    fn value(conn: &Connection) -> DbResult<i64> {
        Ok(conn.query_row("SELECT v FROM t", [], |r| r.get(0))?)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lookup_waits_for_a_connection_when_all_are_busy() {
        let (_dir, pool) = pool_of_one();
        let pool = Arc::new(pool);
        assert_eq!(pool.lookup(value).await.unwrap(), 7);

        // Occupy the only connection with a read that waits to be released.
        let (release, wait) = mpsc::channel::<()>();
        let (entered, is_entered) = tokio::sync::oneshot::channel();
        let p = pool.clone();
        let busy = tokio::spawn(async move {
            p.read(move |conn| {
                let _ = entered.send(());
                let _ = wait.recv();
                value(conn)
            })
            .await
        });
        is_entered.await.unwrap();
        let p = pool.clone();
        let queued = tokio::spawn(async move { p.lookup(value).await });
        tokio::task::yield_now().await;
        assert!(!queued.is_finished(), "a lookup ran without a connection");
        release.send(()).unwrap();
        assert_eq!(busy.await.unwrap().unwrap(), 7);
        assert_eq!(queued.await.unwrap().unwrap(), 7);
    }

    #[tokio::test]
    async fn a_failed_read_leaves_the_connection_usable_outside_a_transaction() {
        let (_dir, pool) = pool_of_one();
        let err = pool
            .lookup(|conn| Ok(conn.query_row("SELECT nope FROM t", [], |r| r.get::<_, i64>(0))?))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let autocommit = pool.lookup(|conn| Ok(conn.is_autocommit())).await.unwrap();
        assert!(!autocommit, "the read runs inside its snapshot");
        assert_eq!(pool.lookup(value).await.unwrap(), 7);
        pool.close().await;
        assert!(pool.lookup(value).await.is_err());
    }
}
