//! Herald's embedded store: every trait of [`herald_core::store`] on one SQLite file.
//!
//! The shape follows from SQLite's concurrency model. SQLite allows one writer at a time, so
//! instead of letting request tasks fight over the write lock, all writes go to **one writer
//! thread** (`writer`) that batches whatever is queued into one transaction and one fsync
//! (group commit), with a savepoint per request so that one failing request does not take the
//! others down. Reads run concurrently on a small pool of query-only connections (`read_pool`),
//! which WAL mode lets proceed while the writer commits; indexed point reads run right on the
//! calling runtime thread, anything that scans on a blocking thread, each kind on connections of
//! its own so that scans can never keep point reads (and authentication) waiting. A third thread
//! (`checkpointer`) copies the WAL back into the database file, so that the writer never spends
//! its time on that.
//!
//! The SQL for each capability lives next to its trait implementation (`environments`,
//! `subscribers`, `credentials`, `integrations`, `topics` with `subscriptions`, `workflows`); row mapping lives
//! in `rows`, and the cursor pagination of the v2 lists in `paging`. Credentials are stored
//! encrypted (`secrets`): the store holds the vault that opens them, checked against the database
//! when it opens.
#![forbid(unsafe_code)]

mod activity;
mod backup;
mod checkpointer;
mod connection;
mod credentials;
mod environments;
mod error;
mod events;
mod integrations;
mod jobs;
mod migrations;
mod paging;
mod read_pool;
mod rows;
mod secrets;
mod subscribers;
mod subscriptions;
mod topics;
mod workflows;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use herald_core::secrets::{KeyProvider, Vault};
use herald_core::{Store, StoreResult};

pub use backup::{backup, BackupError, BackupReport};
pub use connection::{database_path, Pragmas};
pub use error::SqliteOpenError;
pub use writer::{WriteBatch, WriteObserver, WriteStats};

use checkpointer::Checkpointer;
use read_pool::{ReadPool, ReadPoolSize};
use writer::Writer;

/// How many read connections serve point reads. Those are short indexed lookups, so a few
/// connections saturate a small machine; more would only add memory.
const POINT_CONNECTIONS: usize = 4;
/// How many read connections serve scans (lists, searches). Scans have their own connections so
/// that any number of them never keeps a point read (authentication, a subscriber by id) waiting;
/// beyond two, concurrent scans queue.
const SCAN_CONNECTIONS: usize = 2;

/// Settings of a SQLite store beyond its location and keys.
#[derive(Clone)]
pub struct SqliteOptions {
    /// A scan (list or search) still running after this long is stopped and answers
    /// [`herald_core::StoreError::Busy`]; `None`: no limit. Point reads and writes are bounded
    /// by their indexes and are not timed.
    pub statement_timeout: Option<std::time::Duration>,
    /// Told about every group commit (see [`WriteBatch`]); the server's metrics use it.
    pub write_observer: Option<WriteObserver>,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            statement_timeout: Some(std::time::Duration::from_secs(10)),
            write_observer: None,
        }
    }
}

impl std::fmt::Debug for SqliteOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteOptions")
            .field("statement_timeout", &self.statement_timeout)
            .field("write_observer", &self.write_observer.is_some())
            .finish()
    }
}

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    readers: ReadPool,
    /// Encrypts and decrypts the secret columns (see `secrets`).
    vault: Arc<Vault>,
}

impl SqliteStore {
    /// Opens (creating the file if missing) the database named by `url_or_path`:
    /// `sqlite://herald.db`, `sqlite:herald.db` or a plain path. Applies pending migrations and
    /// checks that `keys` open the database's secrets (a wrong key is
    /// [`SqliteOpenError::Secrets`]), then starts the writer thread and the read pool.
    pub async fn open(
        url_or_path: &str,
        keys: impl Into<KeyProvider>,
    ) -> Result<SqliteStore, SqliteOpenError> {
        Self::open_with(url_or_path, keys, SqliteOptions::default()).await
    }

    /// [`SqliteStore::open`] with `options` instead of the defaults.
    pub async fn open_with(
        url_or_path: &str,
        keys: impl Into<KeyProvider>,
        options: SqliteOptions,
    ) -> Result<SqliteStore, SqliteOpenError> {
        let path = database_path(url_or_path)?;
        let keys = keys.into();
        let opened =
            tokio::task::spawn_blocking(move || Self::open_blocking(path, &keys, &options))
                .await
                .map_err(|e| SqliteOpenError::Thread(std::io::Error::other(e.to_string())))??;
        Ok(opened)
    }

    fn open_blocking(
        path: PathBuf,
        keys: &KeyProvider,
        options: &SqliteOptions,
    ) -> Result<SqliteStore, SqliteOpenError> {
        let mut conn = connection::open_writer(&path)?;
        let vault = Arc::new(migrations::apply(&mut conn, keys)?);
        let size = ReadPoolSize {
            points: POINT_CONNECTIONS,
            scans: SCAN_CONNECTIONS,
            scan_timeout: options.statement_timeout,
        };
        let readers = ReadPool::open(&path, size)?;
        let writer = Writer::start(
            conn,
            Some(Checkpointer::open(&path)?),
            options.write_observer.clone(),
        )?;
        tracing::info!(path = %path.display(), "sqlite store opened");
        Ok(SqliteStore {
            path,
            writer,
            readers,
            vault,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Counters of the writer: how many write requests it ran and in how many commits.
    pub fn write_stats(&self) -> WriteStats {
        self.writer.stats()
    }

    /// The durability settings in force on the writer connection (for diagnostics and tests).
    pub async fn pragmas(&self) -> StoreResult<Pragmas> {
        self.writer
            .write(|conn| Ok(connection::pragmas(conn)?))
            .await
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    /// A point read (`SELECT 1` on a read connection) and a look at the writer thread: a ping
    /// writes nothing, so it cannot tell a full disk, but it does tell a closed store, a writer
    /// that died and a database file that cannot be read.
    async fn ping(&self) -> StoreResult<()> {
        if !self.writer.is_running() {
            return Err(herald_core::StoreError::backend(error::Closed));
        }
        self.readers
            .lookup(|conn| Ok(conn.query_row("SELECT 1", [], |_| Ok(()))?))
            .await
    }

    async fn close(&self) {
        // Readers first, so that the writer's final checkpoint is not held back by open reads.
        self.readers.close().await;
        self.writer.close().await;
        tracing::info!(path = %self.path.display(), "sqlite store closed");
    }
}
