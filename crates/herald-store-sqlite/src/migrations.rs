//! Schema migrations, embedded in the binary so that a single file is all a deployment needs.
//! They run at open, all pending ones in one `IMMEDIATE` transaction (so two processes opening the
//! same new file cannot both apply them), and each applied version is recorded in
//! `schema_migrations`. The version numbers match the PostgreSQL store's, which has no version 8
//! (this store's device-token layout, `0008_device_tokens_by_channel.sql`); this one has no
//! version 9 (a PostgreSQL index). The next migration of either is 0010.

use herald_core::secrets::{KeyProvider, Vault};
use herald_core::Timestamp;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use crate::error::SqliteOpenError;

/// `(version, sql)`, ascending. Never edit an applied migration: append a new one.
const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_initial.sql")),
    (2, include_str!("../migrations/0002_topics.sql")),
    (
        3,
        include_str!("../migrations/0003_subscription_identifier.sql"),
    ),
    (4, include_str!("../migrations/0004_secrets.sql")),
    (
        5,
        include_str!("../migrations/0005_owner_bound_secrets.sql"),
    ),
    (6, include_str!("../migrations/0006_workflows.sql")),
    (7, include_str!("../migrations/0007_delivery.sql")),
    (
        8,
        include_str!("../migrations/0008_device_tokens_by_channel.sql"),
    ),
];

/// Applies every migration newer than the database's version, then checks `keys` against the
/// database (encrypting the secrets of a database opened with a key for the first time, binding
/// those of a database from before version 5 to their owners), all in one transaction: a
/// database is never left migrated but unencrypted, or with secrets not bound to their owners.
///
/// When that encrypts values an older Herald stored in plain text, the file is then rewritten (`VACUUM`)
/// and the WAL emptied, so no page of the file still holds an old plain-text copy.
pub(crate) fn apply(conn: &mut Connection, keys: &KeyProvider) -> Result<Vault, SqliteOpenError> {
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
    let (vault, converted) = crate::secrets::unlock(&tx, keys)?;
    tx.commit().map_err(failed(known))?;
    if converted > 0 {
        conn.execute_batch("VACUUM").map_err(failed(known))?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(failed(known))?;
    }
    Ok(vault)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeyProvider {
        herald_core::secrets::test_keyring().into()
    }

    #[test]
    fn migrations_apply_once_and_record_their_versions() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn, &keys()).unwrap();
        apply(&mut conn, &keys()).unwrap();
        let versions: Vec<i64> = conn
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let known: Vec<i64> = MIGRATIONS.iter().map(|m| m.0).collect();
        assert_eq!(versions, known);
    }

    #[test]
    fn a_version_1_database_with_subscribers_gains_the_topic_tables() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
             {}
             INSERT INTO schema_migrations VALUES (1, 0);
             INSERT INTO subscribers (id, environment_id, organization_id, subscriber_id,
                 created_at, updated_at)
             VALUES ('s', 'e', 'o', 'ada', 0, 0);",
            MIGRATIONS[0].1
        ))
        .unwrap();
        apply(&mut conn, &keys()).unwrap();
        conn.execute_batch(
            "INSERT INTO topics (id, environment_id, organization_id, key, created_at, updated_at)
             VALUES ('t', 'e', 'o', 'news', 0, 0);
             INSERT INTO topic_subscriptions
                 (id, environment_id, topic_pk, subscriber_pk, created_at, updated_at)
             SELECT 'm', 'e', t.pk, s.pk, 0, 0 FROM topics t, subscribers s;
             DELETE FROM subscribers;",
        )
        .unwrap();
        let left: i64 = conn
            .query_row("SELECT count(*) FROM topic_subscriptions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0, "memberships cascade with their subscriber row");
    }

    #[test]
    fn a_version_2_database_keeps_its_subscriptions_under_their_derived_identifiers() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
             {}
             {}
             INSERT INTO schema_migrations VALUES (1, 0), (2, 0);
             INSERT INTO subscribers (id, environment_id, organization_id, subscriber_id,
                 created_at, updated_at)
             VALUES ('s1', 'e', 'o', 'ada', 0, 0), ('s2', 'e', 'o', 'bob', 0, 0);
             INSERT INTO topics (id, environment_id, organization_id, key, created_at, updated_at)
             VALUES ('t1', 'e', 'o', 'news', 0, 0), ('t2', 'e', 'o', 'sports', 0, 0);
             INSERT INTO topic_subscriptions
                 (id, environment_id, topic_pk, subscriber_pk, created_at, updated_at)
             SELECT t.id || s.id, 'e', t.pk, s.pk, 0, 0
             FROM topics t, subscribers s ORDER BY t.pk, s.pk;",
            MIGRATIONS[0].1, MIGRATIONS[1].1
        ))
        .unwrap();
        apply(&mut conn, &keys()).unwrap();
        let rows: Vec<(String, String, Option<String>)> = conn
            .prepare("SELECT id, identifier, name FROM topic_subscriptions ORDER BY pk")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let expected = [
            ("t1s1", "news:ada"),
            ("t1s2", "news:bob"),
            ("t2s1", "sports:ada"),
            ("t2s2", "sports:bob"),
        ]
        .map(|(id, identifier)| (id.to_string(), identifier.to_string(), None));
        assert_eq!(rows, expected);
        let other_topic = conn.execute(
            "UPDATE topic_subscriptions SET identifier = 'news:bob' WHERE id = 't2s1'",
            [],
        );
        assert!(other_topic.is_ok(), "identifiers are unique per topic only");
        let dup = conn.execute(
            "UPDATE topic_subscriptions SET identifier = 'news:bob' WHERE id = 't1s1'",
            [],
        );
        assert!(
            dup.is_err(),
            "an identifier names one subscription of its topic"
        );
    }

    #[test]
    fn a_version_4_database_gains_a_general_group_per_environment() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
             {}
             INSERT INTO schema_migrations VALUES (1, 0);
             INSERT INTO organizations VALUES ('o', 'Herald', 0);
             INSERT INTO environments VALUES ('e1', 'o', 'Development', 0), ('e2', 'o', 'Production', 0);",
            MIGRATIONS[0].1
        ))
        .unwrap();
        apply(&mut conn, &keys()).unwrap();
        let groups: Vec<(String, String, String, usize)> = conn
            .prepare(
                "SELECT environment_id, organization_id, name, length(id) FROM notification_groups
                 ORDER BY environment_id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let general = |env: &str| (env.to_string(), "o".to_string(), "General".to_string(), 24);
        assert_eq!(groups, [general("e1"), general("e2")]);
    }

    #[test]
    fn a_version_7_database_keeps_its_device_tokens_in_order_under_their_channels() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        let mut sql = String::from(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);",
        );
        for (version, migration) in &MIGRATIONS[..7] {
            sql += migration;
            sql += &format!("INSERT INTO schema_migrations VALUES ({version}, 0);");
        }
        // Two channels whose tokens were written interleaved, one of them removed since (as in
        // a database from before encryption, whose plain tokens are encrypted at first open).
        sql += "INSERT INTO subscribers (id, environment_id, organization_id, subscriber_id,
                    created_at, updated_at)
                VALUES ('s1', 'e', 'o', 'ada', 0, 0), ('s2', 'e', 'o', 'bob', 0, 0);
                INSERT INTO subscriber_channels (subscriber_pk, environment_id, integration_id,
                    provider_id, tokens_set)
                VALUES (1, 'e', 'i', 'fcm', 1), (2, 'e', 'i', 'fcm', 1);
                INSERT INTO device_tokens (channel_pk, environment_id, subscriber_pk,
                    integration_id, token)
                VALUES (1, 'e', 1, 'i', 'a'), (2, 'e', 2, 'i', 'x'), (1, 'e', 1, 'i', 'b'),
                       (2, 'e', 2, 'i', 'y'), (1, 'e', 1, 'i', 'c');
                DELETE FROM device_tokens WHERE token = 'b';";
        conn.execute_batch(&sql).unwrap();
        let vault = apply(&mut conn, &keys()).unwrap();
        let tokens = |conn: &Connection| -> Vec<(i64, i64, i64, String)> {
            conn.prepare(
                "SELECT pk >> 32, pk & 4294967295, channel_pk, token FROM device_tokens ORDER BY pk",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .into_iter()
            .map(|(channel, position, channel_pk, token): (i64, i64, i64, String)| {
                let subscriber = if channel_pk == 1 { "s1" } else { "s2" };
                let owner = herald_core::secrets::Owner::Channel {
                    subscriber,
                    integration: "i",
                };
                let token = vault.open_token("e", owner, &token).unwrap();
                (channel, position, channel_pk, token)
            })
            .collect()
        };
        let row = |c: i64, p: i64, t: &str| (c, p, c, t.to_string());
        assert_eq!(
            tokens(&conn),
            [
                row(1, 1, "a"),
                row(1, 2, "c"),
                row(2, 1, "x"),
                row(2, 2, "y")
            ]
        );
        let hashes: i64 = conn
            .query_row(
                "SELECT count(*) FROM device_tokens WHERE token_hash IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(hashes, 4, "every token has its lookup hash");
        conn.execute("DELETE FROM subscriber_channels WHERE pk = 1", [])
            .unwrap();
        assert_eq!(tokens(&conn), [row(2, 1, "x"), row(2, 2, "y")]);
        conn.execute("DELETE FROM subscribers WHERE pk = 2", [])
            .unwrap();
        assert_eq!(tokens(&conn), [], "tokens go with a subscriber's channels");
    }

    #[test]
    fn a_database_from_a_newer_herald_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        apply(&mut conn, &keys()).unwrap();
        conn.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)",
            [],
        )
        .unwrap();
        let err = apply(&mut conn, &keys()).unwrap_err();
        assert!(matches!(
            err,
            SqliteOpenError::SchemaTooNew {
                found: 99,
                known: 8
            }
        ));
    }
}
