//! Schema migrations, embedded in the binary and applied at connect.
//!
//! The migration files share their version numbers with the SQLite store's. Applied
//! versions are recorded in `schema_migrations`. Everything runs in one transaction that first takes
//! a transaction-scoped advisory lock, so several Herald processes starting at once apply each
//! migration exactly once: the others wait for the lock and then find nothing left to do.

use sqlx::postgres::PgConnection;
use sqlx::{Connection, Executor};

/// One embedded migration.
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration this build knows, in version order. Version numbers are shared with the SQLite
/// store; version 8 is SQLite's alone (its device-token layout, nothing the stores hold differs),
/// and version 9 is PostgreSQL's alone (an index), so the next migration of either is 0010.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "topics",
        sql: include_str!("../migrations/0002_topics.sql"),
    },
    Migration {
        version: 3,
        name: "subscription_identifier",
        sql: include_str!("../migrations/0003_subscription_identifier.sql"),
    },
    Migration {
        version: 4,
        name: "secrets",
        sql: include_str!("../migrations/0004_secrets.sql"),
    },
    Migration {
        version: 5,
        name: "owner_bound_secrets",
        sql: include_str!("../migrations/0005_owner_bound_secrets.sql"),
    },
    Migration {
        version: 6,
        name: "workflows",
        sql: include_str!("../migrations/0006_workflows.sql"),
    },
    Migration {
        version: 7,
        name: "delivery",
        sql: include_str!("../migrations/0007_delivery.sql"),
    },
    Migration {
        version: 9,
        name: "device_tokens_by_hash",
        sql: include_str!("../migrations/0009_device_tokens_by_hash.sql"),
    },
];

/// Advisory lock key serialising migrations across processes ("herald" + 1 in ASCII).
const MIGRATION_LOCK: i64 = 0x6865_7261_6c64_0001;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("migration {version} failed: {source}")]
    Failed {
        version: i64,
        #[source]
        source: sqlx::Error,
    },
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    #[error("the database is at schema version {found}, newer than the {known} this Herald knows; upgrade Herald")]
    TooNew { found: i64, known: i64 },
}

/// Applies the pending migrations and returns their versions (empty when up to date).
pub async fn migrate(conn: &mut PgConnection) -> Result<Vec<i64>, MigrateError> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             applied_at BIGINT NOT NULL
         )",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut *tx)
        .await?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some(&found) = applied.iter().max().filter(|&&v| v > known) {
        return Err(MigrateError::TooNew { found, known });
    }
    let mut done = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
        // `Executor::execute` rather than `RawSql::execute`: the latter is a generic `async fn`
        // whose future the compiler cannot prove `Send` for every lifetime of the borrow, which
        // would make `PgStore::connect` impossible to `tokio::spawn`.
        (&mut *tx)
            .execute(sqlx::raw_sql(m.sql))
            .await
            .map_err(|source| MigrateError::Failed {
                version: m.version,
                source,
            })?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(m.version)
            .bind(herald_core::Timestamp::now().millis())
            .execute(&mut *tx)
            .await?;
        done.push(m.version);
    }
    tx.commit().await?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_in_strictly_increasing_version_order() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
        assert_eq!(MIGRATIONS[0].version, 1);
    }
}
