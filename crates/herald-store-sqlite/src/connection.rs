//! Where the database is and how each connection is configured. The durability settings are the
//! point of this module: WAL (readers never wait for the writer), `synchronous=FULL` (an
//! acknowledged write survives power loss: the WAL is fsynced on every commit, which group commit
//! makes affordable), foreign keys on (channels and tokens cascade with their owner) and a busy
//! timeout (another process holding the lock makes us wait, not fail). Each connection also gets
//! the SQL function the v2 searches match with (`herald_contains`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::functions::FunctionFlags;
use rusqlite::{Connection, OpenFlags};

use crate::error::SqliteOpenError;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Page cache of the writer connection, in KiB: SQLite's default, 2 MiB. A larger one (32 MiB
/// until issue 13) costs more than it saves: SQLite scans the whole cache's hash table
/// (`pcache1TruncateUnsafe`) at transaction ends, which took a fifth of the writer's time with
/// 1,000,000 subscribers; at 2 MiB the benchmark's PUT gained 18% (10k subscribers) and 26% (1M).
const WRITER_CACHE_KIB: i64 = 2 * 1024;
/// Page cache of each read connection, in KiB. A reader's cache is emptied whenever it starts a
/// transaction after another connection wrote, so it pays off for read-mostly periods; four of
/// them bound the memory it can take.
const READER_CACHE_KIB: i64 = 16 * 1024;
/// WAL pages past which the writer checkpoints by itself. Checkpoints normally run on their own
/// thread long before this (see `checkpointer`); this only bounds the WAL should that thread fall
/// behind (40 MiB with 4 KiB pages).
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 10_000;
/// Prepared statements kept per connection; the store uses a few dozen distinct statements.
const STATEMENT_CACHE: usize = 128;

/// The file named by `sqlite://PATH`, `sqlite:PATH` (a `?query` suffix is ignored) or a plain path.
pub fn database_path(url_or_path: &str) -> Result<PathBuf, SqliteOpenError> {
    let s = url_or_path.trim();
    let invalid = || SqliteOpenError::InvalidLocation(url_or_path.to_string());
    let path = if let Some(rest) = s.strip_prefix("sqlite://").or(s.strip_prefix("sqlite:")) {
        rest.split_once('?').map_or(rest, |(p, _)| p)
    } else if s.contains("://") {
        return Err(invalid());
    } else {
        s
    };
    // An in-memory database would be a different database on every connection of the pool.
    if path.is_empty() || path.starts_with(":memory:") {
        return Err(invalid());
    }
    Ok(PathBuf::from(path))
}

/// The writer connection: creates the file if missing and switches it to WAL.
pub(crate) fn open_writer(path: &Path) -> Result<Connection, SqliteOpenError> {
    create_private(path).map_err(|source| SqliteOpenError::Create {
        path: path.to_path_buf(),
        source,
    })?;
    let conn = open_with(path, OpenFlags::default())?;
    let configure = configurer(path);
    configure(
        "journal_mode=WAL",
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get::<_, String>(0))
            .and_then(|mode| {
                if mode.eq_ignore_ascii_case("wal") {
                    Ok(())
                } else {
                    Err(rusqlite::Error::InvalidParameterName(format!(
                        "journal_mode is {mode}, WAL is not supported here"
                    )))
                }
            }),
    )?;
    configure(
        "synchronous=FULL",
        conn.pragma_update(None, "synchronous", "FULL"),
    )?;
    configure(
        "foreign_keys=ON",
        conn.pragma_update(None, "foreign_keys", "ON"),
    )?;
    configure(
        "cache_size",
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB),
    )?;
    configure(
        "wal_autocheckpoint",
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES),
    )?;
    configure("functions", register_functions(&conn))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The connection of the checkpoint thread: it only runs `PRAGMA wal_checkpoint`, whose fsyncs
/// follow this connection's `synchronous=FULL`.
pub(crate) fn open_checkpointer(path: &Path) -> Result<Connection, SqliteOpenError> {
    let conn = open_with(path, OpenFlags::default())?;
    configurer(path)(
        "synchronous=FULL",
        conn.pragma_update(None, "synchronous", "FULL"),
    )?;
    Ok(conn)
}

/// Opens `path` with `flags` and the busy timeout every connection has.
fn open_with(path: &Path, flags: OpenFlags) -> Result<Connection, SqliteOpenError> {
    let conn =
        Connection::open_with_flags(path, flags).map_err(|source| SqliteOpenError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    configurer(path)("busy_timeout", conn.busy_timeout(BUSY_TIMEOUT))?;
    Ok(conn)
}

/// Turns a failed setting of a connection to `path` into an error that names both.
fn configurer(
    path: &Path,
) -> impl Fn(&'static str, rusqlite::Result<()>) -> Result<(), SqliteOpenError> + '_ {
    move |setting, result| {
        result.map_err(|source| SqliteOpenError::Configure {
            path: path.to_path_buf(),
            setting,
            source,
        })
    }
}

/// Creates a missing database file readable and writable by its owner only (0600). SQLite gives
/// the `-wal` and `-shm` files it creates next to it the same permissions, so stored subscriber
/// data is not world-readable. An existing file keeps the permissions it has.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// A read connection. `query_only` rather than a read-only open, so that opening never depends
/// on the WAL index files' permissions; the effect is the same: this connection cannot write.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, SqliteOpenError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = open_with(path, flags)?;
    let configure = configurer(path);
    configure(
        "query_only=ON",
        conn.pragma_update(None, "query_only", "ON"),
    )?;
    configure(
        "cache_size",
        conn.pragma_update(None, "cache_size", -READER_CACHE_KIB),
    )?;
    configure("functions", register_functions(&conn))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Registers `herald_contains(haystack, folded_needle)`: whether `haystack` contains the needle
/// ignoring case, `false` for a `NULL` haystack. The needle must already be lower-cased
/// ([`fold_needle`]): it is folded once per search, not once per row, so the work per row depends
/// on the stored value only, never on the size of the request (issue 14). The v2 searches use it
/// because SQLite's `LIKE` folds ASCII letters only (and would need `%`/`_` escaping); this folds
/// with Unicode lower-casing, as PostgreSQL's `ILIKE` does under a UTF-8 locale.
fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "herald_contains",
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let Some(haystack) = ctx.get_raw(0).as_str_or_null()? else {
                return Ok(false);
            };
            let needle = ctx.get_raw(1).as_str()?;
            Ok(contains_folded(haystack, needle))
        },
    )
}

/// A search needle as `herald_contains` expects it.
pub(crate) fn fold_needle(needle: &str) -> String {
    needle.to_lowercase()
}

/// Whether `haystack`, lower-cased, contains `folded_needle` (already lower-cased).
fn contains_folded(haystack: &str, folded_needle: &str) -> bool {
    if folded_needle.is_empty() {
        return true;
    }
    haystack.to_lowercase().contains(folded_needle)
}

/// The settings in force on a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pragmas {
    /// `wal`.
    pub journal_mode: String,
    /// `2` is FULL.
    pub synchronous: i64,
    pub foreign_keys: bool,
    pub busy_timeout_ms: i64,
}

pub(crate) fn pragmas(conn: &Connection) -> rusqlite::Result<Pragmas> {
    Ok(Pragmas {
        journal_mode: conn.pragma_query_value(None, "journal_mode", |r| r.get(0))?,
        synchronous: conn.pragma_query_value(None, "synchronous", |r| r.get(0))?,
        foreign_keys: conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))?,
        busy_timeout_ms: conn.pragma_query_value(None, "busy_timeout", |r| r.get(0))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_path_accepts_urls_and_plain_paths() {
        let p = |s| database_path(s).unwrap();
        assert_eq!(p("sqlite://herald.db"), PathBuf::from("herald.db"));
        assert_eq!(p("sqlite:herald.db"), PathBuf::from("herald.db"));
        assert_eq!(p("sqlite:///var/lib/h.db"), PathBuf::from("/var/lib/h.db"));
        assert_eq!(p("sqlite://data/h.db?mode=rwc"), PathBuf::from("data/h.db"));
        assert_eq!(p("/tmp/x.db"), PathBuf::from("/tmp/x.db"));
    }

    #[test]
    fn contains_folded_folds_unicode_letters_of_the_haystack() {
        let contains = |h: &str, n: &str| contains_folded(h, &fold_needle(n));
        assert!(contains("Ada Lovelace", "LOVE"));
        assert!(contains("ÄRGER", "ärg"));
        assert!(contains("50% off_now", "% OFF_"));
        assert!(!contains("Ada", "ada lovelace"));
        assert!(contains("Ada", ""));
    }

    #[test]
    fn herald_contains_is_false_for_null() {
        let conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        let found: Vec<bool> = [
            "SELECT herald_contains(NULL, 'a')",
            "SELECT herald_contains('xAy', 'a')",
            // The needle is taken as folded already: an upper-case needle matches nothing.
            "SELECT herald_contains('xAy', 'A')",
        ]
        .iter()
        .map(|sql| conn.query_row(sql, [], |r| r.get(0)).unwrap())
        .collect();
        assert_eq!(found, [false, true, false]);
    }

    #[test]
    fn database_path_rejects_other_schemes_memory_and_empty() {
        for bad in [
            "postgres://localhost/h",
            "sqlite::memory:",
            "sqlite://",
            "",
            "  ",
        ] {
            let err = database_path(bad).unwrap_err();
            assert!(
                err.to_string().contains("expected sqlite://PATH"),
                "{bad}: {err}"
            );
        }
    }
}
