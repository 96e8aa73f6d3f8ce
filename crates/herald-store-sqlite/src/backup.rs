//! Online backups: a consistent copy of the database while Herald keeps serving.
//!
//! `VACUUM INTO` reads the whole database inside one read transaction, so the copy is exactly
//! the database as of one commit, whatever the writer does meanwhile (WAL readers do not block
//! it, nor it them). SQLite's backup API would copy pages incrementally instead, and restart
//! from the beginning whenever another connection writes, which under steady writes may never
//! finish. The copy is compact (free pages dropped) and is a plain single-file database: it has
//! no `-wal` file to lose.
//!
//! The destination is created here, new, with mode 0600 (it holds everything the database
//! holds), so an existing file is never overwritten; SQLite then fills the empty file. SQLite
//! does not fsync what `VACUUM INTO` writes, so the copy is synced before it is reported done,
//! and checked (`PRAGMA quick_check`) from a fresh connection.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// What a finished backup holds.
#[derive(Debug)]
pub struct BackupReport {
    /// Size of the copy in bytes.
    pub bytes: u64,
    /// The schema version of the copy (its newest applied migration).
    pub schema_version: i64,
    /// Ids of the keys that encrypt its credentials (`secret_keys`), the current one first.
    pub key_ids: Vec<String>,
}

/// Why a backup failed; one line each.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("no database at {0}")]
    NoDatabase(PathBuf),
    #[error("{0} already exists; refusing to overwrite it (choose a new file name)")]
    Exists(PathBuf),
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("backing up {from} failed: {cause}")]
    Copy { from: PathBuf, cause: String },
    #[error("the copy {path} failed its integrity check: {cause}")]
    Check { path: PathBuf, cause: String },
}

/// How long the copy waits for a lock (a checkpoint truncating the WAL, a migration).
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// Copies the database at `database` to the new file `to` (see the module docs).
pub fn backup(database: &Path, to: &Path) -> Result<BackupReport, BackupError> {
    if !database.is_file() {
        return Err(BackupError::NoDatabase(database.to_owned()));
    }
    create_new_private(to)?;
    match copy(database, to).and_then(|()| check(to)) {
        Ok(report) => Ok(report),
        Err(e) => {
            let _ = std::fs::remove_file(to);
            Err(e)
        }
    }
}

fn create_new_private(path: &Path) -> Result<(), BackupError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(BackupError::Exists(path.to_owned()))
        }
        Err(source) => Err(BackupError::Create {
            path: path.to_owned(),
            source,
        }),
    }
}

fn copy(database: &Path, to: &Path) -> Result<(), BackupError> {
    let failed = |e: rusqlite::Error| BackupError::Copy {
        from: database.to_owned(),
        cause: e.to_string(),
    };
    // Read-only: the copy never writes to the live database (no WAL or shm is created by it
    // beyond what a reader needs).
    let conn = Connection::open_with_flags(
        database,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(failed)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(failed)?;
    let target = to.to_str().ok_or_else(|| BackupError::Copy {
        from: database.to_owned(),
        cause: format!("{} is not a UTF-8 path", to.display()),
    })?;
    conn.execute("VACUUM INTO ?1", [target]).map_err(failed)?;
    drop(conn);
    let synced = std::fs::File::open(to).and_then(|f| f.sync_all());
    synced.map_err(|e| BackupError::Copy {
        from: database.to_owned(),
        cause: format!("syncing {}: {e}", to.display()),
    })?;
    if let Some(dir) = to.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Makes the new directory entry durable; best effort.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn check(copy: &Path) -> Result<BackupReport, BackupError> {
    let failed = |cause: String| BackupError::Check {
        path: copy.to_owned(),
        cause,
    };
    let conn = Connection::open_with_flags(copy, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| failed(e.to_string()))?;
    let verdict: String = conn
        .query_row("PRAGMA quick_check", [], |r| r.get(0))
        .map_err(|e| failed(e.to_string()))?;
    if verdict != "ok" {
        return Err(failed(verdict));
    }
    let schema_version: i64 = conn
        .query_row(
            "SELECT coalesce(max(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(|e| failed(e.to_string()))?;
    let mut ids = conn
        .prepare("SELECT key_id FROM secret_keys ORDER BY current DESC, key_id")
        .map_err(|e| failed(e.to_string()))?;
    let key_ids = ids
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
        .map_err(|e| failed(e.to_string()))?;
    let bytes = std::fs::metadata(copy)
        .map_err(|e| failed(e.to_string()))?
        .len();
    Ok(BackupReport {
        bytes,
        schema_version,
        key_ids,
    })
}
