//! Encryption at rest on SQLite: unlocking the database at open, encrypting the rows an older
//! Herald stored in plain text, binding the values of a database from before schema version 5 to
//! their owners, and the key rotation steps behind `herald secrets`.
//!
//! Which values are secret and how they are encrypted is `herald_core::secrets`; this module only
//! knows where they are, and whom they belong to: the seven text columns of `subscriber_channels`
//! and `device_tokens.token` (plus its `token_hash`) belong to their channel (its subscriber's
//! `_id` and its integration's), `integrations.credentials` to its integration. Every value is
//! bound to its environment and its owner.
//!
//! Rotation runs as short write jobs on the single writer, like any request: a batch reads the
//! values not yet under the current key and rewrites them in the same transaction, so no write of
//! a server (this process or another sharing the file) can slip in between and be overwritten,
//! and readers keep reading the last committed state throughout.

use std::collections::BTreeMap;

use async_trait::async_trait;
use herald_core::secrets::{
    key_id_of, Field, KeyId, KeyProvider, Owner, SecretError, StoredKey, Unlock, Vault,
};
use herald_core::{KeyUsage, SecretStore, StoreError, StoreResult, Timestamp};
use rusqlite::{Connection, OptionalExtension};

use crate::error::{DbError, DbResult, SqliteOpenError};
use crate::rows::channel_columns;
use crate::SqliteStore;

/// The channel columns holding secrets, in `Field::CHANNEL_TEXT` order.
const CHANNEL_COLUMNS: [&str; 7] = [
    "webhook_url",
    "channel",
    "alert_uid",
    "title",
    "image_url",
    "state",
    "external_url",
];

/// Checks the keys against `secret_keys` (inside the open transaction) and returns the vault and
/// how many plain-text values it encrypted: on the first open of a database, it registers the
/// primary key and encrypts every stored secret.
pub(crate) fn unlock(
    conn: &Connection,
    keys: &KeyProvider,
) -> Result<(Vault, usize), SqliteOpenError> {
    let stored = stored_keys(conn).map_err(migration_error)?;
    match keys.unlock(&stored)? {
        Unlock::Ready(vault) => {
            if owner_binding_pending(conn).map_err(binding_error)? {
                let bound = bind_owners(conn, &vault).map_err(binding_error)?;
                owner_binding_done(conn).map_err(binding_error)?;
                tracing::info!(
                    values = bound,
                    "bound every stored secret to its owner (schema version 5)"
                );
            }
            Ok((vault, 0))
        }
        Unlock::Fresh { vault, row } => {
            conn.execute(
                "INSERT INTO secret_keys (key_id, wrapped_hash_key, current, created_at)
                 VALUES (?1, ?2, 1, ?3)",
                (row.key_id.as_str(), &row.wrapped_hash_key, now()),
            )
            .map_err(|e| migration_error(e.into()))?;
            let converted = encrypt_plain_rows(conn, &vault).map_err(migration_error)?;
            // They were encrypted bound to their owners already.
            owner_binding_done(conn).map_err(migration_error)?;
            tracing::info!(
                values = converted,
                key_id = %row.key_id,
                "registered the first secret key; stored secrets are encrypted from now on"
            );
            Ok((vault, converted))
        }
    }
}

fn migration_error(e: DbError) -> SqliteOpenError {
    match e {
        DbError::Sql(source) => SqliteOpenError::Migration { version: 4, source },
        DbError::Store(e) => SqliteOpenError::Encryption(e.to_string()),
    }
}

fn binding_error(e: DbError) -> SqliteOpenError {
    match e {
        DbError::Sql(source) => SqliteOpenError::Migration { version: 5, source },
        DbError::Store(e) => {
            SqliteOpenError::Encryption(format!("binding the stored secrets to their owners: {e}"))
        }
    }
}

fn now() -> i64 {
    Timestamp::now().millis()
}

fn stored_keys(conn: &Connection) -> DbResult<Vec<StoredKey>> {
    let mut stmt =
        conn.prepare("SELECT key_id, wrapped_hash_key, current FROM secret_keys ORDER BY key_id")?;
    let rows = stmt.query_map([], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, wrapped_hash_key, current) = row?;
        let key_id = KeyId::parse(&id).ok_or(SecretError::Malformed)?;
        out.push(StoredKey {
            key_id,
            wrapped_hash_key,
            current,
        });
    }
    Ok(out)
}

/// Selects the channels (`pk`, environment, integration, subscriber `_id`, then the seven secret
/// columns) after `FROM subscriber_channels c JOIN subscribers s`, followed by a condition.
const CHANNELS: &str = "SELECT c.pk, c.environment_id, c.integration_id, s.id,
        c.webhook_url, c.channel, c.alert_uid, c.title, c.image_url, c.state, c.external_url
     FROM subscriber_channels c JOIN subscribers s ON s.pk = c.subscriber_pk";

/// Selects the device tokens (`pk`, environment, integration, subscriber `_id`, token).
const TOKENS: &str = "SELECT t.pk, c.environment_id, c.integration_id, s.id, t.token
     FROM device_tokens t
     JOIN subscriber_channels c ON c.pk = t.channel_pk
     JOIN subscribers s ON s.pk = c.subscriber_pk";

/// Selects the integrations (`pk`, environment, `_id`, credentials).
const INTEGRATIONS: &str = "SELECT pk, environment_id, id, credentials FROM integrations";

/// A channel's secret columns with what they are bound to.
struct ChannelRow {
    pk: i64,
    env: String,
    integration: String,
    subscriber: String,
    columns: [Option<String>; 7],
}

impl ChannelRow {
    fn read(r: &rusqlite::Row) -> rusqlite::Result<ChannelRow> {
        Ok(ChannelRow {
            pk: r.get(0)?,
            env: r.get(1)?,
            integration: r.get(2)?,
            subscriber: r.get(3)?,
            columns: channel_columns(r, 4)?,
        })
    }

    fn owner(&self) -> Owner<'_> {
        Owner::Channel {
            subscriber: &self.subscriber,
            integration: &self.integration,
        }
    }
}

/// One secret value with what it is bound to: `(pk, environment, owner ids…, value)`.
struct ValueRow {
    pk: i64,
    env: String,
    /// The integration's `_id`.
    integration: String,
    /// The subscriber's `_id` (tokens only).
    subscriber: Option<String>,
    value: String,
}

impl ValueRow {
    fn token(r: &rusqlite::Row) -> rusqlite::Result<ValueRow> {
        Ok(ValueRow {
            pk: r.get(0)?,
            env: r.get(1)?,
            integration: r.get(2)?,
            subscriber: Some(r.get(3)?),
            value: r.get(4)?,
        })
    }

    fn integration(r: &rusqlite::Row) -> rusqlite::Result<ValueRow> {
        Ok(ValueRow {
            pk: r.get(0)?,
            env: r.get(1)?,
            integration: r.get(2)?,
            subscriber: None,
            value: r.get(3)?,
        })
    }

    fn owner(&self) -> Owner<'_> {
        match &self.subscriber {
            Some(subscriber) => Owner::Channel {
                subscriber,
                integration: &self.integration,
            },
            None => Owner::Integration(&self.integration),
        }
    }
}

/// Encrypts every secret stored before version 4 (all of them are plain text then: the key
/// table was empty), bound to its owner. Returns how many values it encrypted.
fn encrypt_plain_rows(conn: &Connection, vault: &Vault) -> DbResult<usize> {
    let mut done = 0;
    let channels: Vec<ChannelRow> = conn
        .prepare(CHANNELS)?
        .query_map([], ChannelRow::read)?
        .collect::<Result<_, _>>()?;
    for row in channels {
        let mut sealed: [Option<String>; 7] = Default::default();
        for (i, value) in row.columns.iter().enumerate() {
            sealed[i] = vault.encrypt_opt(
                Field::CHANNEL_TEXT[i],
                &row.env,
                row.owner(),
                value.as_deref(),
            )?;
            done += usize::from(value.is_some());
        }
        write_channel_columns(conn, row.pk, &sealed)?;
    }
    let tokens: Vec<ValueRow> = conn
        .prepare(TOKENS)?
        .query_map([], ValueRow::token)?
        .collect::<Result<_, _>>()?;
    for t in tokens {
        let (sealed, hash) = vault.seal_token(&t.env, t.owner(), &t.value)?;
        conn.execute(
            "UPDATE device_tokens SET token = ?2, token_hash = ?3 WHERE pk = ?1",
            (t.pk, sealed, hash),
        )?;
        done += 1;
    }
    let integrations: Vec<ValueRow> = conn
        .prepare(INTEGRATIONS)?
        .query_map([], ValueRow::integration)?
        .collect::<Result<_, _>>()?;
    for i in integrations {
        let sealed = vault.encrypt(Field::IntegrationCredentials, &i.env, i.owner(), &i.value)?;
        conn.execute(
            "UPDATE integrations SET credentials = ?2 WHERE pk = ?1",
            (i.pk, sealed),
        )?;
        done += 1;
    }
    Ok(done)
}

/// Whether the values of this database still have to be bound to their owners (schema version
/// 5 was just applied to a database with encrypted secrets).
fn owner_binding_pending(conn: &Connection) -> DbResult<bool> {
    let pending: Option<Option<i64>> = conn
        .query_row(
            "SELECT applied_at FROM secret_upgrades WHERE name = 'owner-bound'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(matches!(pending, Some(None)))
}

fn owner_binding_done(conn: &Connection) -> DbResult<()> {
    conn.execute(
        "UPDATE secret_upgrades SET applied_at = ?1 WHERE name = 'owner-bound'",
        [now()],
    )?;
    Ok(())
}

/// Rows rewritten per statement batch by [`bind_owners`]: bounds the memory of the upgrade of a
/// large database (all batches share its transaction).
const BIND_BATCH: i64 = 1000;

/// Rewrites every value written before schema version 5 (format 1, bound to its field and
/// environment only) under the current key, bound to its owner. Runs once, in the open
/// transaction, when that version is applied. Returns how many values it rewrote.
fn bind_owners(conn: &Connection, vault: &Vault) -> DbResult<usize> {
    let mut done = 0;
    let mut after = 0i64;
    loop {
        let batch: Vec<ChannelRow> = conn
            .prepare_cached(&format!(
                "{CHANNELS} WHERE c.pk > ?1 ORDER BY c.pk LIMIT ?2"
            ))?
            .query_map((after, BIND_BATCH), ChannelRow::read)?
            .collect::<Result<_, _>>()?;
        let Some(last) = batch.last() else { break };
        after = last.pk;
        for row in &batch {
            let mut columns = row.columns.clone();
            let mut changed = false;
            for (i, value) in columns.iter_mut().enumerate() {
                let Some(v) = value.as_mut() else { continue };
                if let Some(bound) =
                    vault.bind_to_owner(Field::CHANNEL_TEXT[i], &row.env, row.owner(), v)?
                {
                    *v = bound;
                    changed = true;
                    done += 1;
                }
            }
            if changed {
                write_channel_columns(conn, row.pk, &columns)?;
            }
        }
    }
    for (select, read, field, update) in [
        (
            format!("{TOKENS} WHERE t.pk > ?1 ORDER BY t.pk LIMIT ?2"),
            ValueRow::token as fn(&rusqlite::Row) -> rusqlite::Result<ValueRow>,
            Field::DeviceToken,
            "UPDATE device_tokens SET token = ?2 WHERE pk = ?1",
        ),
        (
            format!("{INTEGRATIONS} WHERE pk > ?1 ORDER BY pk LIMIT ?2"),
            ValueRow::integration,
            Field::IntegrationCredentials,
            "UPDATE integrations SET credentials = ?2 WHERE pk = ?1",
        ),
    ] {
        let mut after = 0i64;
        loop {
            let batch: Vec<ValueRow> = conn
                .prepare_cached(&select)?
                .query_map((after, BIND_BATCH), read)?
                .collect::<Result<_, _>>()?;
            let Some(last) = batch.last() else { break };
            after = last.pk;
            for row in &batch {
                if let Some(bound) =
                    vault.bind_to_owner(field, &row.env, row.owner(), &row.value)?
                {
                    conn.prepare_cached(update)?.execute((row.pk, bound))?;
                    done += 1;
                }
            }
        }
    }
    Ok(done)
}

pub(crate) fn write_channel_columns(
    conn: &Connection,
    pk: i64,
    c: &[Option<String>; 7],
) -> DbResult<()> {
    conn.prepare_cached(
        "UPDATE subscriber_channels SET webhook_url = ?2, channel = ?3, alert_uid = ?4,
             title = ?5, image_url = ?6, state = ?7, external_url = ?8
         WHERE pk = ?1",
    )?
    .execute(rusqlite::params![
        pk, c[0], c[1], c[2], c[3], c[4], c[5], c[6]
    ])?;
    Ok(())
}

/// The key the database encrypts new values under.
fn current_key(conn: &Connection) -> DbResult<KeyId> {
    let id: Option<String> = conn
        .prepare_cached("SELECT key_id FROM secret_keys WHERE current = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(id
        .and_then(|id| KeyId::parse(&id))
        .ok_or(SecretError::Malformed)?)
}

/// Called by every write that encrypts, before it does: follows the database's current key
/// (rotated by another process) once per check period.
pub(crate) fn follow_current_key(conn: &Connection, vault: &Vault) -> DbResult<()> {
    if vault.current_check_due() {
        vault.observe_current(&current_key(conn)?);
    }
    Ok(())
}

/// The current key, which this vault must be sealing with (rotation refuses otherwise).
fn sealing_current_key(conn: &Connection, vault: &Vault) -> DbResult<KeyId> {
    let current = current_key(conn)?;
    if !vault.observe_current(&current) {
        return Err(SecretError::UnknownKey(current).into());
    }
    Ok(current)
}

fn usage(conn: &Connection) -> DbResult<Vec<KeyUsage>> {
    let mut by_id: BTreeMap<KeyId, KeyUsage> = BTreeMap::new();
    for key in stored_keys(conn)? {
        by_id.insert(
            key.key_id.clone(),
            KeyUsage {
                key_id: key.key_id,
                registered: true,
                current: key.current,
                values: 0,
            },
        );
    }
    let values = CHANNEL_COLUMNS
        .iter()
        .map(|c| format!("SELECT {c} AS v FROM subscriber_channels"))
        .chain([
            "SELECT token AS v FROM device_tokens".to_string(),
            "SELECT credentials AS v FROM integrations".to_string(),
        ])
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    let mut stmt = conn.prepare(&format!(
        "SELECT substr(v, 1, 13), count(*) FROM ({values}) WHERE v IS NOT NULL GROUP BY 1"
    ))?;
    let counts = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for count in counts {
        let (prefix, n) = count?;
        let id = key_id_of(&prefix).ok_or(SecretError::Malformed)?;
        by_id
            .entry(id.clone())
            .or_insert(KeyUsage {
                key_id: id,
                registered: false,
                current: false,
                values: 0,
            })
            .values += u64::try_from(n).unwrap_or(0);
    }
    let mut all: Vec<KeyUsage> = by_id.into_values().collect();
    all.sort_by_key(|k| !k.current);
    Ok(all)
}

fn promote(conn: &Connection, vault: &Vault, id: &KeyId) -> DbResult<()> {
    let wrapped = vault.wrap_hash_key(id)?;
    conn.execute(
        "INSERT INTO secret_keys (key_id, wrapped_hash_key, current, created_at)
         VALUES (?1, ?2, 0, ?3) ON CONFLICT (key_id) DO NOTHING",
        (id.as_str(), wrapped, now()),
    )?;
    conn.execute(
        "UPDATE secret_keys SET current = 0 WHERE current = 1 AND key_id <> ?1",
        [id.as_str()],
    )?;
    conn.execute(
        "UPDATE secret_keys SET current = 1 WHERE key_id = ?1",
        [id.as_str()],
    )?;
    vault.observe_current(id);
    Ok(())
}

/// `col IS NOT NULL AND col is not under the key whose prefix is ?1`.
fn stale(column: &str) -> String {
    format!("({column} IS NOT NULL AND substr({column}, 1, 13) <> ?1)")
}

fn reencrypt_batch(conn: &Connection, vault: &Vault, limit: usize) -> DbResult<usize> {
    let current = sealing_current_key(conn, vault)?;
    let prefix = format!("{}{current}:", herald_core::secrets::PREFIX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut done = 0usize;

    let any_stale = CHANNEL_COLUMNS
        .map(|c| stale(&format!("c.{c}")))
        .join(" OR ");
    let channels: Vec<ChannelRow> = conn
        .prepare(&format!(
            "{CHANNELS} WHERE {any_stale} ORDER BY c.pk LIMIT ?2"
        ))?
        .query_map((&prefix, limit), ChannelRow::read)?
        .collect::<Result<_, _>>()?;
    for row in channels {
        let mut columns = row.columns.clone();
        for (i, value) in columns.iter_mut().enumerate() {
            if let Some(v) = value.as_mut().filter(|v| !vault.is_current(v)) {
                *v = vault.reencrypt(Field::CHANNEL_TEXT[i], &row.env, row.owner(), v)?;
                done += 1;
            }
        }
        write_channel_columns(conn, row.pk, &columns)?;
    }

    let tokens: Vec<ValueRow> = conn
        .prepare(&format!(
            "{TOKENS} WHERE {} ORDER BY t.pk LIMIT ?2",
            stale("t.token")
        ))?
        .query_map((&prefix, limit), ValueRow::token)?
        .collect::<Result<_, _>>()?;
    for t in tokens {
        let sealed = vault.reencrypt(Field::DeviceToken, &t.env, t.owner(), &t.value)?;
        conn.execute(
            "UPDATE device_tokens SET token = ?2 WHERE pk = ?1",
            (t.pk, sealed),
        )?;
        done += 1;
    }

    let integrations: Vec<ValueRow> = conn
        .prepare(&format!(
            "{INTEGRATIONS} WHERE {} ORDER BY pk LIMIT ?2",
            stale("credentials")
        ))?
        .query_map((&prefix, limit), ValueRow::integration)?
        .collect::<Result<_, _>>()?;
    for i in integrations {
        let sealed = vault.reencrypt(Field::IntegrationCredentials, &i.env, i.owner(), &i.value)?;
        conn.execute(
            "UPDATE integrations SET credentials = ?2 WHERE pk = ?1",
            (i.pk, sealed),
        )?;
        done += 1;
    }
    Ok(done)
}

fn retire(conn: &Connection) -> DbResult<Vec<KeyId>> {
    let mut retired = Vec::new();
    for key in usage(conn)? {
        if key.registered && !key.current && key.values == 0 {
            conn.execute(
                "DELETE FROM secret_keys WHERE key_id = ?1 AND current = 0",
                [key.key_id.as_str()],
            )?;
            retired.push(key.key_id);
        }
    }
    Ok(retired)
}

#[async_trait]
impl SecretStore for SqliteStore {
    async fn key_usage(&self) -> StoreResult<Vec<KeyUsage>> {
        self.readers.read(usage).await
    }

    async fn promote_key(&self, id: &KeyId) -> StoreResult<()> {
        if !self.vault.keyring().contains(id) {
            return Err(StoreError::backend(SecretError::UnknownKey(id.clone())));
        }
        let (vault, id) = (self.vault.clone(), id.clone());
        self.writer
            .write(move |conn| promote(conn, &vault, &id))
            .await
    }

    async fn reencrypt_batch(&self, limit: usize) -> StoreResult<usize> {
        let vault = self.vault.clone();
        self.writer
            .write(move |conn| reencrypt_batch(conn, &vault, limit))
            .await
    }

    async fn retire_keys(&self) -> StoreResult<Vec<KeyId>> {
        self.writer.write(retire).await
    }
}
