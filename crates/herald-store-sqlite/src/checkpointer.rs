//! WAL checkpoints on their own thread.
//!
//! In WAL mode every commit appends pages to the `-wal` file; a checkpoint copies them back into the
//! database file so that the WAL can start over. SQLite runs that copy inside whichever commit
//! crosses `wal_autocheckpoint` pages, which here would be the writer thread: profiles of the
//! credentials benchmark showed a fifth of the writer's time in `walCheckpoint`, time during which no
//! request's write can proceed. So the writer only tells this thread how many commits it made, and
//! every [`CHECKPOINT_EVERY`] commits this thread runs a `PASSIVE` checkpoint on its own
//! connection. A passive checkpoint never blocks the writer or the readers; it copies what no open
//! read still needs, and the next one copies the rest.
//!
//! The writer keeps a high `wal_autocheckpoint` of its own ([`crate::connection`]) as a safety net:
//! should this thread fall far behind, the WAL is still bounded.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use rusqlite::Connection;

use crate::error::SqliteOpenError;

/// Commits between two checkpoints. Under load a commit carries a batch of writes of a few pages
/// each, so this keeps the WAL around a thousand pages (SQLite's default checkpoint threshold);
/// when idle, the pages simply wait in the WAL, where they are as durable as in the database file.
const CHECKPOINT_EVERY: u64 = 32;

enum Message {
    Committed,
    Stop,
}

/// Handle to the checkpoint thread.
pub(crate) struct Checkpointer {
    tx: Sender<Message>,
    checkpoints: Arc<AtomicU64>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    /// Starts the thread with `conn`, a read-write connection to the database the writer commits to.
    pub(crate) fn start(conn: Connection) -> Result<Checkpointer, SqliteOpenError> {
        let (tx, rx) = crossbeam_channel::unbounded();
        let checkpoints = Arc::new(AtomicU64::new(0));
        let counter = checkpoints.clone();
        let thread = std::thread::Builder::new()
            .name("herald-sqlite-ckpt".into())
            .spawn(move || run(&conn, &rx, &counter))
            .map_err(SqliteOpenError::Thread)?;
        Ok(Checkpointer {
            tx,
            checkpoints,
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Opens the checkpoint connection for the database at `path` and starts the thread.
    pub(crate) fn open(path: &Path) -> Result<Checkpointer, SqliteOpenError> {
        Self::start(crate::connection::open_checkpointer(path)?)
    }

    /// Called by the writer after each commit. Never blocks.
    pub(crate) fn committed(&self) {
        let _ = self.tx.send(Message::Committed);
    }

    /// Checkpoints run so far (successful or not).
    pub(crate) fn checkpoints(&self) -> u64 {
        self.checkpoints.load(Ordering::Relaxed)
    }

    /// Handles every commit reported before this call, then stops the thread and waits for it.
    /// Blocking: called from the writer thread when it closes.
    pub(crate) fn stop(&self) {
        let _ = self.tx.send(Message::Stop);
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

fn run(conn: &Connection, rx: &Receiver<Message>, checkpoints: &AtomicU64) {
    let mut commits = 0;
    loop {
        let mut stop = false;
        match rx.recv() {
            Ok(Message::Committed) => commits += 1,
            Ok(Message::Stop) | Err(_) => stop = true,
        }
        // Reports that queued up while the last checkpoint ran count together.
        while !stop {
            match rx.try_recv() {
                Ok(Message::Committed) => commits += 1,
                Ok(Message::Stop) => stop = true,
                Err(_) => break,
            }
        }
        if commits >= CHECKPOINT_EVERY {
            commits = 0;
            checkpoint(conn);
            checkpoints.fetch_add(1, Ordering::Relaxed);
        }
        if stop {
            return;
        }
    }
}

fn checkpoint(conn: &Connection) {
    let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    });
    match result {
        Ok((wal_pages, copied)) => {
            tracing::trace!(wal_pages, copied, "sqlite checkpoint");
        }
        Err(e) => tracing::warn!(error = %e, "sqlite background checkpoint failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connection::{open_checkpointer, open_writer};

    fn file_len(path: &Path) -> u64 {
        std::fs::metadata(path).unwrap().len()
    }

    #[test]
    fn every_so_many_commits_the_wal_is_copied_into_the_database_off_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = open_writer(&path).unwrap();
        writer
            .execute_batch("PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (v BLOB NOT NULL);")
            .unwrap();
        writer
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let before = file_len(&path);

        let checkpointer = Checkpointer::start(open_checkpointer(&path).unwrap()).unwrap();
        for _ in 0..(2 * CHECKPOINT_EVERY + 1) {
            writer
                .execute("INSERT INTO t (v) VALUES (zeroblob(4096))", [])
                .unwrap();
            checkpointer.committed();
        }
        // Neither the writer nor anything else checkpointed: only the checkpointer can have
        // grown the database file. Its first checkpoint ran once at least CHECKPOINT_EVERY
        // commits had been reported, each committed before it was reported; how the reports
        // were grouped decides whether a second one ran.
        checkpointer.stop();
        assert!((1..=2).contains(&checkpointer.checkpoints()));
        assert!(
            file_len(&path) >= before + CHECKPOINT_EVERY * 4096,
            "{} bytes, was {before}",
            file_len(&path)
        );
        let rows: i64 = writer
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows as u64, 2 * CHECKPOINT_EVERY + 1);
    }

    #[test]
    fn stopping_twice_or_without_commits_is_harmless() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let _writer = open_writer(&path).unwrap();
        let checkpointer = Checkpointer::open(&path).unwrap();
        checkpointer.stop();
        checkpointer.stop();
        checkpointer.committed();
        assert_eq!(checkpointer.checkpoints(), 0);
    }
}
