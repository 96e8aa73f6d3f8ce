//! Two small pools of query-only connections. WAL lets these read while the writer commits, each
//! seeing the last committed state. Every read runs inside one read transaction so that a
//! multi-statement read (a subscriber, then its channels and tokens) sees one consistent snapshot.
//!
//! Two kinds of read, each with connections of its own, so that one kind can never take all the
//! connections the other needs:
//! - [`ReadPool::lookup`], for indexed point reads (a subscriber by id, a key by hash, the
//!   authentication of every request): these take microseconds, less than handing the work to
//!   another thread and waking the task again would cost, so they run right on the calling runtime
//!   thread, on one of the *point* connections.
//! - [`ReadPool::read`], for anything whose cost grows with the data (lists, searches): it runs on
//!   `spawn_blocking`, on one of the few *scan* connections, so a long scan never stalls the
//!   runtime, a burst of them queues on the async side instead of occupying blocking threads, and
//!   however many scans are asked for, point reads keep their connections (issue 14: eight
//!   parallel searches had made an unrelated 1 ms read take seconds). A scan is stopped by a
//!   progress handler (checked every few thousand SQLite instructions) when its caller goes away
//!   (the request was dropped) or when it runs past the statement timeout, which answers
//!   [`StoreError::Busy`]. The handler is installed before the scan's first statement and removed
//!   before the connection goes back, so neither can be missed nor reach the next read.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use herald_core::{StoreError, StoreResult};
use rusqlite::{Connection, ErrorCode};
use tokio::sync::Semaphore;

use crate::connection::open_reader;
use crate::error::{Closed, DbResult, SqliteOpenError};

#[derive(Debug, thiserror::Error)]
#[error("a read panicked")]
struct ReadPanicked;

/// Connections of one kind and the permits that hand them out (one permit per connection).
struct Lane {
    connections: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
    size: u32,
}

impl Lane {
    fn open(path: &Path, size: usize) -> Result<Lane, SqliteOpenError> {
        let connections = (0..size)
            .map(|_| open_reader(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Lane {
            connections: Arc::new(Mutex::new(connections)),
            permits: Arc::new(Semaphore::new(size)),
            size: size as u32,
        })
    }

    /// Waits for reads in flight, then closes every connection; later reads fail with `Closed`.
    async fn close(&self) {
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

/// How many connections of each kind, and how long a scan may run.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadPoolSize {
    pub points: usize,
    pub scans: usize,
    /// A scan still running after this long is interrupted (`None`: never).
    pub scan_timeout: Option<Duration>,
}

pub(crate) struct ReadPool {
    points: Lane,
    scans: Lane,
    scan_timeout: Option<Duration>,
}

/// How long a scan waits for a scan connection before answering [`StoreError::Busy`], as a
/// PostgreSQL request waits for a pooled connection.
const SCAN_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite virtual machine instructions between two checks of a scan's progress handler (a clock
/// read and a flag): frequent enough that a stop takes effect within a few rows even when each
/// row calls an expensive function, rare enough that the checks cost nothing measurable.
const PROGRESS_EVERY: i32 = 1000;

/// Tells a running scan to stop when dropped (its caller went away).
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Whether `e` is SQLite's answer to a progress handler that asked to stop.
fn interrupted(e: &StoreError) -> bool {
    let StoreError::Backend(source) = e else {
        return false;
    };
    matches!(
        source.downcast_ref::<rusqlite::Error>(),
        Some(rusqlite::Error::SqliteFailure(f, _)) if f.code == ErrorCode::OperationInterrupted
    )
}

impl ReadPool {
    pub(crate) fn open(path: &Path, size: ReadPoolSize) -> Result<ReadPool, SqliteOpenError> {
        Ok(ReadPool {
            points: Lane::open(path, size.points)?,
            scans: Lane::open(path, size.scans)?,
            scan_timeout: size.scan_timeout,
        })
    }

    /// Runs `work`, an indexed point read, on a point connection inside a read transaction, on
    /// this thread (waiting for a point connection if all are in use: never for a scan).
    pub(crate) async fn lookup<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        let _permit = match self.points.permits.try_acquire() {
            Ok(permit) => permit,
            Err(_) => self
                .points
                .permits
                .acquire()
                .await
                .map_err(|_| StoreError::backend(Closed))?,
        };
        with_pooled(&self.points.connections, work)
    }

    /// Runs `work`, a scan, on a scan connection inside a read transaction, on a blocking thread.
    /// Dropping the returned future stops the scan at its next progress check; so does the scan
    /// timeout, which answers [`StoreError::Busy`].
    pub(crate) async fn read<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        let waiting = self.scans.permits.clone().acquire_owned();
        let permit = tokio::time::timeout(SCAN_QUEUE_TIMEOUT, waiting)
            .await
            .map_err(|_| {
                StoreError::Busy(format!(
                    "no scan connection became free within {SCAN_QUEUE_TIMEOUT:?}"
                ))
            })?
            .map_err(|_| StoreError::backend(Closed))?;
        let stop = Arc::new(AtomicBool::new(false));
        let _stop_on_drop = StopOnDrop(stop.clone());
        let connections = self.scans.connections.clone();
        let deadline = self.scan_timeout.map(|t| (Instant::now() + t, t));
        let task = tokio::task::spawn_blocking(move || {
            // The permit is released only once the connection is back.
            let _permit = permit;
            let taken = connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .pop();
            let Some(conn) = taken else {
                return Err(StoreError::backend(Closed));
            };
            let expired = move || deadline.is_some_and(|(at, _)| Instant::now() >= at);
            let handler_stop = stop.clone();
            conn.progress_handler(
                PROGRESS_EVERY,
                Some(move || handler_stop.load(Ordering::Relaxed) || expired()),
            );
            let result = if stop.load(Ordering::Relaxed) {
                Err(StoreError::backend(Closed))
            } else {
                run_in_snapshot(&conn, work)
            };
            conn.progress_handler(0, None::<fn() -> bool>);
            connections
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
            match (result, deadline) {
                (Err(e), Some((_, limit))) if interrupted(&e) => Err(StoreError::Busy(format!(
                    "a SQLite scan ran past the statement timeout ({limit:?}) and was stopped"
                ))),
                (result, _) => result,
            }
        });
        task.await
            .map_err(|e| StoreError::backend(std::io::Error::other(e.to_string())))?
    }

    /// Waits for reads in flight, then closes every connection; later reads fail with `Closed`.
    pub(crate) async fn close(&self) {
        self.points.close().await;
        self.scans.close().await;
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

    fn pool(scan_timeout: Option<Duration>) -> (tempfile::TempDir, ReadPool) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = open_writer(&path).unwrap();
        writer
            .execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (7);")
            .unwrap();
        let size = ReadPoolSize {
            points: 1,
            scans: 1,
            scan_timeout,
        };
        let pool = ReadPool::open(&path, size).unwrap();
        (dir, pool)
    }

    fn value(conn: &Connection) -> DbResult<i64> {
        Ok(conn.query_row("SELECT v FROM t", [], |r| r.get(0))?)
    }

    /// A statement that runs until interrupted (a billion rows of a recursive CTE: minutes).
    fn endless(conn: &Connection) -> DbResult<i64> {
        Ok(conn.query_row(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000000000)
             SELECT count(*) FROM n",
            [],
            |r| r.get(0),
        )?)
    }

    /// Occupies the only scan connection with a read that waits to be released.
    async fn hold_the_scan(
        pool: &Arc<ReadPool>,
    ) -> (mpsc::Sender<()>, tokio::task::JoinHandle<StoreResult<i64>>) {
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
        (release, busy)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lookup_does_not_wait_for_scans_holding_every_scan_connection() {
        let (_dir, pool) = pool(None);
        let pool = Arc::new(pool);
        let (release, busy) = hold_the_scan(&pool).await;
        // A second scan queues behind the first…
        let p = pool.clone();
        let queued = tokio::spawn(async move { p.read(value).await });
        tokio::task::yield_now().await;
        assert!(
            !queued.is_finished(),
            "a scan ran without a scan connection"
        );
        // …while a point read answers at once, the scan connection still held.
        assert_eq!(pool.lookup(value).await.unwrap(), 7);
        assert!(!busy.is_finished());
        release.send(()).unwrap();
        assert_eq!(busy.await.unwrap().unwrap(), 7);
        assert_eq!(queued.await.unwrap().unwrap(), 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_dropped_scan_is_interrupted_and_frees_its_connection() {
        let (_dir, pool) = pool(None);
        let pool = Arc::new(pool);
        let p = pool.clone();
        let (entered, is_entered) = tokio::sync::oneshot::channel();
        let scan = tokio::spawn(async move {
            p.read(move |conn| {
                let _ = entered.send(());
                endless(conn)
            })
            .await
        });
        // Once it runs, drop it (as hyper drops a request whose client went away).
        is_entered.await.unwrap();
        scan.abort();
        assert!(scan.await.unwrap_err().is_cancelled());
        // The only scan connection comes back long before the endless statement could end.
        let next = tokio::time::timeout(Duration::from_secs(60), pool.read(value)).await;
        assert_eq!(next.expect("the scan connection came back").unwrap(), 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_scan_past_the_timeout_is_interrupted_and_answers_busy() {
        let (_dir, pool) = pool(Some(Duration::from_millis(100)));
        let err = pool.read(endless).await.unwrap_err();
        assert!(matches!(err, StoreError::Busy(_)), "{err:?}");
        assert!(err.to_string().contains("statement timeout"), "{err}");
        assert_eq!(pool.read(value).await.unwrap(), 7);
        assert_eq!(pool.lookup(value).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn a_failed_read_leaves_the_connection_usable_outside_a_transaction() {
        let (_dir, pool) = pool(None);
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
        assert!(pool.read(value).await.is_err());
    }
}
