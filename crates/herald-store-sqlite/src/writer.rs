//! The single writer with group commit.
//!
//! SQLite serialises writers anyway; with `synchronous=FULL` every commit costs an fsync, which is
//! what limits write throughput. So one dedicated thread owns the only writable connection. Callers
//! send it a job (a closure over the connection) and await a oneshot. The thread takes the first
//! queued job, drains whatever else is already queued (up to [`MAX_BATCH`]), runs them all in one
//! `IMMEDIATE` transaction, each inside its own savepoint, commits once, and only then answers
//! every caller. Under load many requests share one fsync; idle, a job is committed on its own with
//! no added delay. A job that fails (or panics) rolls back its savepoint only; the others commit.
//!
//! Because every write is serialised here, read-modify-write sequences (credentials merges, upserts)
//! need no retry loops and cannot race, within this process or (thanks to `IMMEDIATE`) across
//! processes sharing the file.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use herald_core::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::checkpointer::Checkpointer;
use crate::error::{Closed, DbResult, SqliteOpenError};

/// The most jobs committed together. Bounds the latency one batch adds to its first job and the
/// work lost to a failed commit.
const MAX_BATCH: usize = 256;

/// What the writer has done so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Write requests run (successful or not).
    pub jobs: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Background WAL checkpoints run (see `checkpointer`).
    pub checkpoints: u64,
}

/// One group commit, as the writer reports it to a [`WriteObserver`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteBatch {
    /// Write requests in the batch.
    pub jobs: usize,
    /// From `BEGIN` to the end of `COMMIT` (its fsync included), or to the rollback.
    pub duration: Duration,
    /// Whether the batch committed (a failed commit fails every job of the batch).
    pub committed: bool,
}

/// Called by the writer thread after every batch (metrics: batch sizes, commit latency). It runs
/// on the writer thread between two batches, so it must be quick and must not block.
pub type WriteObserver = Arc<dyn Fn(WriteBatch) + Send + Sync>;

#[derive(Default)]
struct Counters {
    jobs: AtomicU64,
    commits: AtomicU64,
}

enum Message {
    Job(Box<dyn Job>),
    /// Finish the jobs queued before this message, checkpoint, stop, then answer.
    Close(oneshot::Sender<()>),
}

/// A type-erased write request.
trait Job: Send {
    /// Runs inside the job's savepoint; returns whether its changes are to be kept.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller once the batch is committed (`Ok`) or lost (`Err` with the reason).
    fn answer(self: Box<Self>, batch: Result<(), &str>);
}

struct Pending<T, F> {
    work: Option<F>,
    outcome: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

#[derive(Debug, thiserror::Error)]
#[error("the write transaction failed: {0}")]
struct BatchFailed(String);

#[derive(Debug, thiserror::Error)]
#[error("a write job panicked; its changes were rolled back")]
struct JobPanicked;

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection) -> DbResult<T> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let outcome = match catch_unwind(AssertUnwindSafe(|| work(conn))) {
            Ok(r) => r.map_err(StoreError::from),
            Err(_) => Err(StoreError::backend(JobPanicked)),
        };
        let keep = outcome.is_ok();
        self.outcome = Some(outcome);
        keep
    }

    fn answer(self: Box<Self>, batch: Result<(), &str>) {
        let result = match (batch, self.outcome) {
            (Ok(()), Some(outcome)) => outcome,
            // Its own error stands: its savepoint was rolled back whatever happened to the batch.
            (Err(_), Some(Err(e))) => Err(e),
            (Err(msg), _) => Err(StoreError::backend(BatchFailed(msg.to_string()))),
            (Ok(()), None) => Err(StoreError::backend(BatchFailed("job not run".into()))),
        };
        // The caller may have given up (request cancelled); nothing to do then.
        let _ = self.reply.send(result);
    }
}

/// Handle to the writer thread.
pub(crate) struct Writer {
    tx: Sender<Message>,
    counters: Arc<Counters>,
    checkpointer: Option<Arc<Checkpointer>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the writer thread on `conn`. With a `checkpointer`, every commit is reported to it
    /// and it is stopped before the writer's final checkpoint.
    pub(crate) fn start(
        conn: Connection,
        checkpointer: Option<Checkpointer>,
        observer: Option<WriteObserver>,
    ) -> Result<Writer, SqliteOpenError> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let counters = Arc::new(Counters::default());
        let thread_counters = counters.clone();
        let checkpointer = checkpointer.map(Arc::new);
        let thread_checkpointer = checkpointer.clone();
        let thread = std::thread::Builder::new()
            .name("herald-sqlite-writer".into())
            .spawn(move || {
                let observer = observer.as_deref();
                run(
                    conn,
                    rx,
                    &thread_counters,
                    thread_checkpointer.as_deref(),
                    observer,
                )
            })
            .map_err(SqliteOpenError::Thread)?;
        Ok(Writer {
            tx,
            counters,
            checkpointer,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Runs `work` in the next batch and returns its result once that batch is committed. An
    /// `Err` from `work` rolls back everything it wrote.
    pub(crate) async fn write<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> DbResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Pending {
            work: Some(work),
            outcome: None,
            reply,
        };
        // Unbounded: sending never blocks the runtime. Backpressure comes from callers awaiting.
        self.tx
            .send(Message::Job(Box::new(job)))
            .map_err(|_| StoreError::backend(Closed))?;
        answer.await.map_err(|_| StoreError::backend(Closed))?
    }

    /// Jobs sent but not yet picked up by the writer thread.
    #[cfg(test)]
    fn queued(&self) -> usize {
        self.tx.len()
    }

    pub(crate) fn stats(&self) -> WriteStats {
        WriteStats {
            jobs: self.counters.jobs.load(Ordering::Relaxed),
            commits: self.counters.commits.load(Ordering::Relaxed),
            checkpoints: self.checkpointer.as_ref().map_or(0, |c| c.checkpoints()),
        }
    }

    /// Whether the writer thread is running (not closed, not died).
    pub(crate) fn is_running(&self) -> bool {
        self.thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .is_some_and(|t| !t.is_finished())
    }

    /// Drains the queue, checkpoints the WAL into the database file and stops the thread.
    pub(crate) async fn close(&self) {
        let (done, stopped) = oneshot::channel();
        if self.tx.send(Message::Close(done)).is_ok() {
            let _ = stopped.await;
        }
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            // The thread has answered and is returning; joining it is brief but still blocking.
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
    }
}

fn run(
    mut conn: Connection,
    rx: Receiver<Message>,
    counters: &Counters,
    checkpointer: Option<&Checkpointer>,
    observer: Option<&(dyn Fn(WriteBatch) + Send + Sync)>,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    loop {
        let mut close = None;
        match rx.recv() {
            Ok(Message::Job(job)) => batch.push(job),
            Ok(Message::Close(done)) => close = Some(done),
            // Every handle is gone: the store was dropped without `close`.
            Err(_) => break,
        }
        while close.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Message::Job(job)) => batch.push(job),
                Ok(Message::Close(done)) => close = Some(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() && commit_batch(&mut conn, &mut batch, counters, observer) {
            if let Some(c) = checkpointer {
                c.committed();
            }
        }
        if let Some(done) = close {
            if let Some(c) = checkpointer {
                c.stop();
            }
            checkpoint(&conn);
            let _ = done.send(());
            // Jobs sent after `Close` are dropped with the receiver; their callers get `Closed`.
            return;
        }
    }
    if let Some(c) = checkpointer {
        c.stop();
    }
    checkpoint(&conn);
}

/// Runs and commits `batch`, answers its callers; returns whether it committed.
fn commit_batch(
    conn: &mut Connection,
    batch: &mut Vec<Box<dyn Job>>,
    counters: &Counters,
    observer: Option<&(dyn Fn(WriteBatch) + Send + Sync)>,
) -> bool {
    let size = batch.len();
    let started = Instant::now();
    let result = run_batch(conn, batch);
    if let Some(observe) = observer {
        observe(WriteBatch {
            jobs: size,
            duration: started.elapsed(),
            committed: result.is_ok(),
        });
    }
    counters.jobs.fetch_add(size as u64, Ordering::Relaxed);
    let message = match &result {
        Ok(()) => {
            counters.commits.fetch_add(1, Ordering::Relaxed);
            None
        }
        Err(e) => {
            tracing::error!(error = %e, jobs = size, "sqlite write batch failed");
            Some(e.to_string())
        }
    };
    for job in batch.drain(..) {
        job.answer(message.as_deref().map_or(Ok(()), Err));
    }
    message.is_none()
}

/// One `IMMEDIATE` transaction with a savepoint per job. The transaction and savepoint statements
/// are prepared once (rusqlite's `Transaction`/`Savepoint` would parse them for every job, which
/// showed in profiles). On any error the whole transaction is rolled back.
fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> rusqlite::Result<()> {
    let statement = |sql: &str| -> rusqlite::Result<()> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    statement("BEGIN IMMEDIATE")?;
    let result = (|| {
        for job in batch.iter_mut() {
            statement("SAVEPOINT job")?;
            if !job.run(conn) {
                statement("ROLLBACK TO job")?;
            }
            statement("RELEASE job")?;
        }
        statement("COMMIT")
    })();
    if result.is_err() && !conn.is_autocommit() {
        if let Err(e) = statement("ROLLBACK") {
            tracing::error!(error = %e, "sqlite rollback of a failed write batch failed");
        }
    }
    result
}

fn checkpoint(conn: &Connection) {
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::warn!(error = %e, "sqlite WAL checkpoint at shutdown failed");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;
    use crate::error::DbError;

    fn writer() -> Writer {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v TEXT NOT NULL)")
            .unwrap();
        Writer::start(conn, None, None).unwrap()
    }

    fn insert(conn: &Connection, v: &str) -> DbResult<()> {
        conn.execute("INSERT INTO t (v) VALUES (?1)", [v])?;
        Ok(())
    }

    /// Holds the writer thread inside a job until released, so that the jobs sent meanwhile are
    /// all queued and form the next batch.
    async fn hold(w: &Arc<Writer>) -> (mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
        let (release, wait) = mpsc::channel::<()>();
        let (entered, is_entered) = oneshot::channel();
        let w2 = w.clone();
        let held = tokio::spawn(async move {
            w2.write(move |_| {
                let _ = entered.send(());
                let _ = wait.recv();
                Ok(())
            })
            .await
            .unwrap()
        });
        is_entered.await.unwrap();
        (release, held)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_batch_commits_once_and_failing_jobs_roll_back_only_themselves() {
        let w = Arc::new(writer());
        let (release, held) = hold(&w).await;
        let spawn = |f: fn(&Connection) -> DbResult<()>| {
            let w = w.clone();
            tokio::spawn(async move { w.write(f).await })
        };
        let ok_a = spawn(|c| insert(c, "a"));
        let fails = spawn(|c| {
            insert(c, "b")?;
            Err(DbError::Store(StoreError::Conflict("b".into())))
        });
        let panics = spawn(|c| {
            insert(c, "c")?;
            panic!("job bug")
        });
        let ok_d = spawn(|c| insert(c, "d"));
        while w.queued() < 4 {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        held.await.unwrap();

        ok_a.await.unwrap().unwrap();
        assert!(matches!(fails.await.unwrap(), Err(StoreError::Conflict(_))));
        assert!(matches!(panics.await.unwrap(), Err(StoreError::Backend(_))));
        ok_d.await.unwrap().unwrap();
        // The four tasks reach the queue in whatever order the runtime runs them.
        let rows = w
            .write(|c| {
                let mut stmt = c.prepare("SELECT v FROM t ORDER BY v")?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(rows, ["a", "d"]);
        // The held job, the batch of four, the final read.
        assert_eq!(
            w.stats(),
            WriteStats {
                jobs: 6,
                commits: 3,
                checkpoints: 0,
            }
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_commit_fails_the_whole_batch_and_the_writer_carries_on() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE t (v TEXT NOT NULL);
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (parent_id INTEGER
                 REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        let w = Arc::new(Writer::start(conn, None, None).unwrap());
        let (release, held) = hold(&w).await;
        let w2 = w.clone();
        let ok = tokio::spawn(async move { w2.write(|c| insert(c, "a")).await });
        let w3 = w.clone();
        // Passes its own savepoint; the deferred foreign key fails only at COMMIT.
        let dangling = tokio::spawn(async move {
            w3.write(|c| {
                c.execute("INSERT INTO child (parent_id) VALUES (42)", [])?;
                Ok(())
            })
            .await
        });
        while w.queued() < 2 {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        held.await.unwrap();
        for outcome in [ok.await.unwrap(), dangling.await.unwrap()] {
            let err = outcome.unwrap_err();
            assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
        }
        // Nothing of the failed batch is kept, and the next batch starts a fresh transaction.
        w.write(|c| insert(c, "b")).await.unwrap();
        let rows = w
            .write(|c| {
                let mut stmt = c.prepare("SELECT v FROM t ORDER BY rowid")?;
                let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(rows, ["b"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_observer_hears_of_every_batch_with_its_size_and_outcome() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (v TEXT NOT NULL)")
            .unwrap();
        let seen: Arc<Mutex<Vec<(usize, bool)>>> = Arc::default();
        let record = seen.clone();
        let observer: WriteObserver = Arc::new(move |b: WriteBatch| {
            record.lock().unwrap().push((b.jobs, b.committed));
        });
        let w = Arc::new(Writer::start(conn, None, Some(observer)).unwrap());
        let (release, held) = hold(&w).await;
        let writes: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|v| {
                let w = w.clone();
                tokio::spawn(async move { w.write(move |c| insert(c, v)).await })
            })
            .collect();
        while w.queued() < 3 {
            tokio::task::yield_now().await;
        }
        release.send(()).unwrap();
        held.await.unwrap();
        for write in writes {
            write.await.unwrap().unwrap();
        }
        w.write(|c| {
            c.execute("INSERT INTO missing (v) VALUES (1)", [])?;
            Ok(())
        })
        .await
        .unwrap_err();
        // The held job alone, the three queued behind it together, then the failing one (its
        // savepoint rolled back, the empty batch still committed).
        assert_eq!(*seen.lock().unwrap(), [(1, true), (3, true), (1, true)]);
        w.close().await;
    }

    #[tokio::test]
    async fn writes_after_close_fail_instead_of_hanging() {
        let w = writer();
        w.write(|c| insert(c, "a")).await.unwrap();
        w.close().await;
        w.close().await;
        let err = w.write(|c| insert(c, "b")).await.unwrap_err();
        assert!(err.to_string().contains("closed"), "{err}");
    }
}
