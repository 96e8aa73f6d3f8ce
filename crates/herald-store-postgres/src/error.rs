//! The crate's internal error: either a database error (kept as `sqlx::Error` so that a deadlock or
//! serialization failure can be recognised and the transaction retried) or an already-decided
//! domain error. Both become a [`StoreError`] at the trait boundary, and nothing here panics.

use std::future::Future;

use herald_core::secrets::SecretError;
use herald_core::{StoreError, StoreResult, TooManyDeviceTokens};

pub(crate) enum Error {
    Sql(sqlx::Error),
    Store(StoreError),
}

pub(crate) type Result<T> = std::result::Result<T, Error>;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Sql(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl From<TooManyDeviceTokens> for Error {
    fn from(e: TooManyDeviceTokens) -> Self {
        Error::Store(e.into())
    }
}

impl From<SecretError> for Error {
    fn from(e: SecretError) -> Self {
        Error::Store(StoreError::backend(e))
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        match e {
            Error::Sql(e) => db(e),
            Error::Store(e) => e,
        }
    }
}

/// A stored value this crate cannot read back (e.g. an unknown provider id written by hand).
#[derive(Debug, thiserror::Error)]
#[error("unreadable stored value: {0}")]
pub(crate) struct CorruptRow(pub String);

pub(crate) fn corrupt(what: impl Into<String>) -> Error {
    Error::Store(StoreError::backend(CorruptRow(what.into())))
}

/// SQLSTATE of a database error, if it is one.
pub(crate) fn sqlstate(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Whether `e` violates the unique index named `index`.
pub(crate) fn is_unique_violation(e: &sqlx::Error, index: &str) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("23505") && db.constraint() == Some(index)
        }
        _ => false,
    }
}

impl Error {
    /// Deadlocks (`40P01`) and serialization failures (`40001`) are resolved by running the whole
    /// transaction again; PostgreSQL has already rolled the loser back.
    fn is_retryable(&self) -> bool {
        match self {
            Error::Sql(e) => matches!(sqlstate(e).as_deref(), Some("40P01" | "40001")),
            Error::Store(_) => false,
        }
    }
}

/// Attempts of one transaction before its deadlock error is returned.
const ATTEMPTS: usize = 4;

/// Runs a transaction body, again if it lost a deadlock, and converts the error for the trait.
pub(crate) async fn retrying<T, F, Fut>(mut body: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let mut attempt = 1;
    loop {
        match body().await {
            Err(e) if e.is_retryable() && attempt < ATTEMPTS => {
                tracing::debug!(attempt, "transaction lost a deadlock; retrying");
                attempt += 1;
            }
            other => return other.map_err(StoreError::from),
        }
    }
}

/// A database error as the trait's error. A statement cancelled by its `statement_timeout`
/// (`57014`) and a pool with no free connection are [`StoreError::Busy`] (503): the database is
/// overloaded, nothing was changed, and trying later may work.
pub(crate) fn db(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::PoolTimedOut => {
            StoreError::Busy("no database connection became free in time".into())
        }
        _ if sqlstate(&e).as_deref() == Some("57014") => {
            StoreError::Busy("a statement ran past the statement timeout and was cancelled".into())
        }
        _ => StoreError::backend(e),
    }
}
