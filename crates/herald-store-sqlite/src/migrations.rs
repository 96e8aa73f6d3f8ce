//! Schema migrations, embedded in the binary so that a single file is all a deployment needs.
//! They run at open, all pending ones in one `IMMEDIATE` transaction (so two processes opening the
//! same new file cannot both apply them), and each applied version is recorded in
//! `schema_migrations`. The version numbers match the PostgreSQL store's.

use herald_core::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::SqliteOpenError;

/// `(version, sql)`, ascending. Never edit an applied migration: append a new one.
const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../migrations/0001_initial.sql"))];

/// Applies every migration newer than the database's version.
pub(crate) fn apply(conn: &mut Connection) -> Result<(), SqliteOpenError> {
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    let failed = |version| move |source| SqliteOpenError::Migration { version, source };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed(0))?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at INTEGER NOT NULL
         )",
    )
    .map_err(failed(0))?;
    let current: i64 = tx
        .query_row("SELECT max(version) FROM schema_migrations", [], |r| {
            r.get::<_, Option<i64>>(0)
        })
        .optional()
        .map_err(failed(0))?
        .flatten()
        .unwrap_or(0);
    if current > known {
        return Err(SqliteOpenError::SchemaTooNew {
            found: current,
            known,
        });
    }
    for &(version, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.execute_batch(sql).map_err(failed(version))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            (version, Timestamp::now().millis()),
        )
        .map_err(failed(version))?;
        tracing::info!(version, "applied sqlite migration");
    }
    tx.commit().map_err(failed(known))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once_and_record_their_versions() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn).unwrap();
        apply(&mut conn).unwrap();
        let versions: Vec<i64> = conn
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(versions, [1]);
    }

    #[test]
    fn a_database_from_a_newer_herald_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)",
            [],
        )
        .unwrap();
        let err = apply(&mut conn).unwrap_err();
        assert!(matches!(
            err,
            SqliteOpenError::SchemaTooNew {
                found: 99,
                known: 1
            }
        ));
    }
}
