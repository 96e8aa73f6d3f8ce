//! Errors. Opening the database has its own readable error ([`SqliteOpenError`]) because it happens
//! at startup, where the operator needs to know which file and which step failed. At run time
//! everything becomes a [`StoreError`]; inside the crate, [`DbError`] lets the SQL code use `?` on
//! both rusqlite errors and domain errors (the orphan rule forbids `From<rusqlite::Error>` for
//! `StoreError`).

use std::path::PathBuf;

use herald_core::secrets::{SecretError, UnlockError};
use herald_core::{StoreError, TooManyDeviceTokens};

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SqliteOpenError {
    #[error("invalid SQLite database location {0:?}: expected sqlite://PATH, sqlite:PATH or a file path")]
    InvalidLocation(String),
    #[error("cannot create SQLite database file {path}: {source}")]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open SQLite database file {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("cannot configure SQLite database {path} ({setting}): {source}")]
    Configure {
        path: PathBuf,
        setting: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("SQLite migration {version} failed: {source}")]
    Migration {
        version: i64,
        #[source]
        source: rusqlite::Error,
    },
    #[error("the SQLite database has schema version {found}, newer than this Herald knows ({known}); upgrade Herald")]
    SchemaTooNew { found: i64, known: i64 },
    /// The keys do not open this database (one line, from `herald_core::secrets`).
    #[error(transparent)]
    Secrets(#[from] UnlockError),
    #[error("cannot encrypt the stored secrets: {0}")]
    Encryption(String),
    #[error("cannot start the SQLite writer thread: {0}")]
    Thread(#[source] std::io::Error),
}

/// A failure inside a store operation: either SQL or a domain rule.
#[derive(Debug)]
pub(crate) enum DbError {
    Sql(rusqlite::Error),
    Store(StoreError),
}

pub(crate) type DbResult<T> = Result<T, DbError>;

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sql(e)
    }
}

impl From<StoreError> for DbError {
    fn from(e: StoreError) -> Self {
        DbError::Store(e)
    }
}

impl From<TooManyDeviceTokens> for DbError {
    fn from(e: TooManyDeviceTokens) -> Self {
        DbError::Store(e.into())
    }
}

impl From<SecretError> for DbError {
    fn from(e: SecretError) -> Self {
        DbError::Store(StoreError::backend(e))
    }
}

impl From<serde_json::Error> for DbError {
    fn from(e: serde_json::Error) -> Self {
        DbError::Store(StoreError::backend(e))
    }
}

impl From<DbError> for StoreError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Sql(e) => StoreError::backend(e),
            DbError::Store(e) => e,
        }
    }
}

/// The store was closed (or its writer thread is gone): requests fail instead of hanging.
#[derive(Debug, thiserror::Error)]
#[error("the SQLite store is closed")]
pub(crate) struct Closed;

/// A value read from the database that Herald cannot interpret (e.g. an unknown provider id).
#[derive(Debug, thiserror::Error)]
#[error("unexpected stored {what}: {value:?}")]
pub(crate) struct BadStoredValue {
    pub what: &'static str,
    pub value: String,
}
