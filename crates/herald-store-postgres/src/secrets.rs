//! Encryption at rest on PostgreSQL: unlocking the database at connect, encrypting the rows an
//! older Herald stored in plain text, binding the values of a database from before schema version
//! 5 to their owners, and the key rotation steps behind `herald secrets`.
//!
//! Which values are secret and how they are encrypted is `herald_core::secrets`; this module only
//! knows where they are, and whom they belong to: the seven text columns of `subscriber_channels`
//! and `device_tokens.token` (plus its `token_hash`) belong to their channel (its subscriber's
//! `_id` and its integration's), `integrations.credentials` to its integration. Every value is
//! bound to its environment and its owner.
//!
//! Several processes share the database, so the one-time steps (registering the first key and
//! encrypting the old rows, promoting and retiring keys) run under a transaction-scoped advisory
//! lock, and a rotation batch locks the rows it rewrites (`FOR UPDATE`): a credentials write that
//! reaches one of them waits for the batch, then writes its own newer values, so neither
//! overwrites the other with stale data. Readers never wait.

use std::collections::BTreeMap;

use async_trait::async_trait;
use herald_core::secrets::{
    key_id_of, Field, KeyId, KeyProvider, Owner, SecretError, StoredKey, Unlock, UnlockError,
    Vault, PREFIX,
};
use herald_core::{KeyUsage, SecretStore, StoreError, StoreResult};
use sqlx::postgres::PgConnection;
use sqlx::{Connection, FromRow};

use crate::error::{retrying, Error, Result};
use crate::rows::now;
use crate::PgStore;

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

/// Advisory lock key serialising key registration across processes ("herald" + 2 in ASCII).
const SECRETS_LOCK: i64 = 0x6865_7261_6c64_0002;

/// Why [`unlock`] failed: the keys do not fit, or the database failed.
pub(crate) enum UnlockFailure {
    Keys(UnlockError),
    Db(Error),
}

impl From<Error> for UnlockFailure {
    fn from(e: Error) -> Self {
        UnlockFailure::Db(e)
    }
}

impl From<sqlx::Error> for UnlockFailure {
    fn from(e: sqlx::Error) -> Self {
        UnlockFailure::Db(Error::Sql(e))
    }
}

impl From<SecretError> for UnlockFailure {
    fn from(e: SecretError) -> Self {
        UnlockFailure::Db(e.into())
    }
}

#[derive(FromRow)]
struct KeyRow {
    key_id: String,
    wrapped_hash_key: String,
    current: bool,
}

async fn stored_keys(conn: &mut PgConnection) -> Result<Vec<StoredKey>> {
    let rows: Vec<KeyRow> =
        sqlx::query_as("SELECT key_id, wrapped_hash_key, current FROM secret_keys ORDER BY key_id")
            .fetch_all(conn)
            .await?;
    rows.into_iter()
        .map(|r| {
            Ok(StoredKey {
                key_id: KeyId::parse(&r.key_id).ok_or(SecretError::Malformed)?,
                wrapped_hash_key: r.wrapped_hash_key,
                current: r.current,
            })
        })
        .collect()
}

/// Checks the keys against `secret_keys` and returns the vault. On the first connect to a
/// database, registers the primary key and encrypts every stored secret, in one transaction.
pub(crate) async fn unlock(
    conn: &mut PgConnection,
    keys: &KeyProvider,
) -> std::result::Result<Vault, UnlockFailure> {
    let mut tx = conn.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SECRETS_LOCK)
        .execute(&mut *tx)
        .await?;
    let stored = stored_keys(&mut tx).await?;
    match keys.unlock(&stored).map_err(UnlockFailure::Keys)? {
        Unlock::Ready(vault) => {
            // Under the advisory lock: of several processes starting on a database just
            // migrated to version 5, exactly one binds its values; the others find it done.
            if owner_binding_pending(&mut tx).await? {
                let bound = bind_owners(&mut tx, &vault).await?;
                owner_binding_done(&mut tx).await?;
                tracing::info!(
                    values = bound,
                    "bound every stored secret to its owner (schema version 5)"
                );
            }
            tx.commit().await?;
            Ok(vault)
        }
        Unlock::Fresh { vault, row } => {
            sqlx::query(
                "INSERT INTO secret_keys (key_id, wrapped_hash_key, current, created_at)
                 VALUES ($1, $2, TRUE, $3)",
            )
            .bind(row.key_id.as_str())
            .bind(&row.wrapped_hash_key)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            let converted = encrypt_plain_rows(&mut tx, &vault).await?;
            // They were encrypted bound to their owners already.
            owner_binding_done(&mut tx).await?;
            tx.commit().await?;
            tracing::info!(
                values = converted,
                key_id = %row.key_id,
                "registered the first secret key; stored secrets are encrypted from now on"
            );
            Ok(vault)
        }
    }
}

#[derive(FromRow)]
struct ChannelSecrets {
    pk: i64,
    environment_id: String,
    integration_id: String,
    subscriber_id: String,
    webhook_url: Option<String>,
    channel: Option<String>,
    alert_uid: Option<String>,
    title: Option<String>,
    image_url: Option<String>,
    state: Option<String>,
    external_url: Option<String>,
}

impl ChannelSecrets {
    fn columns(&self) -> [Option<String>; 7] {
        [
            self.webhook_url.clone(),
            self.channel.clone(),
            self.alert_uid.clone(),
            self.title.clone(),
            self.image_url.clone(),
            self.state.clone(),
            self.external_url.clone(),
        ]
    }

    fn owner(&self) -> Owner<'_> {
        Owner::Channel {
            subscriber: &self.subscriber_id,
            integration: &self.integration_id,
        }
    }
}

/// A secret value with its row key, environment and owner.
#[derive(FromRow)]
struct Secret {
    pk: i64,
    environment_id: String,
    /// The integration's `_id` (of the token's channel, or whose credentials these are).
    integration_id: String,
    /// The subscriber's `_id` (tokens only).
    subscriber_id: Option<String>,
    value: String,
}

impl Secret {
    fn owner(&self) -> Owner<'_> {
        match &self.subscriber_id {
            Some(subscriber) => Owner::Channel {
                subscriber,
                integration: &self.integration_id,
            },
            None => Owner::Integration(&self.integration_id),
        }
    }
}

/// Channels with their secret columns and owners, from `subscriber_channels c` joined with
/// `subscribers s`: all of them, or (given the current key's prefix, `$1` in `filter`) those
/// `filter` selects.
async fn channels(
    conn: &mut PgConnection,
    filter: &str,
    prefix: Option<&str>,
) -> Result<Vec<ChannelSecrets>> {
    let cols = CHANNEL_COLUMNS.map(|c| format!("c.{c}")).join(", ");
    let sql = format!(
        "SELECT c.pk, c.environment_id, c.integration_id, s.id AS subscriber_id, {cols}
         FROM subscriber_channels c JOIN subscribers s ON s.pk = c.subscriber_pk {filter}"
    );
    let mut q = sqlx::query_as(&sql);
    if let Some(prefix) = prefix {
        q = q.bind(prefix);
    }
    Ok(q.fetch_all(conn).await?)
}

async fn write_channels(
    conn: &mut PgConnection,
    rows: Vec<(i64, [Option<String>; 7])>,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let pks: Vec<i64> = rows.iter().map(|r| r.0).collect();
    let mut columns: [Vec<Option<String>>; 7] = Default::default();
    for (_, values) in rows {
        for (column, value) in columns.iter_mut().zip(values) {
            column.push(value);
        }
    }
    let mut q = sqlx::query(
        "UPDATE subscriber_channels c SET webhook_url = u.c0, channel = u.c1, alert_uid = u.c2,
             title = u.c3, image_url = u.c4, state = u.c5, external_url = u.c6
         FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                     $7::text[], $8::text[]) AS u(pk, c0, c1, c2, c3, c4, c5, c6)
         WHERE c.pk = u.pk",
    )
    .bind(pks);
    for column in columns {
        q = q.bind(column);
    }
    q.execute(conn).await?;
    Ok(())
}

/// Sets `column` of `table` for each `(pk, value)`.
async fn write_values(
    conn: &mut PgConnection,
    table: &str,
    column: &str,
    rows: Vec<(i64, String)>,
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let (pks, values): (Vec<i64>, Vec<String>) = rows.into_iter().unzip();
    sqlx::query(&format!(
        "UPDATE {table} t SET {column} = u.v
         FROM UNNEST($1::bigint[], $2::text[]) AS u(pk, v) WHERE t.pk = u.pk"
    ))
    .bind(pks)
    .bind(values)
    .execute(conn)
    .await?;
    Ok(())
}

const TOKENS: &str = "SELECT t.pk, c.environment_id, c.integration_id, s.id AS subscriber_id,
        t.token AS value
    FROM device_tokens t
    JOIN subscriber_channels c ON c.pk = t.channel_pk
    JOIN subscribers s ON s.pk = c.subscriber_pk";
const CREDENTIALS: &str = "SELECT pk, environment_id, id AS integration_id,
        NULL::text AS subscriber_id, credentials AS value
    FROM integrations";

/// Encrypts every secret stored before version 4 (all of them are plain text then: the key
/// table was empty). Returns how many values it encrypted.
async fn encrypt_plain_rows(conn: &mut PgConnection, vault: &Vault) -> Result<usize> {
    let mut done = 0;
    let mut sealed_channels = Vec::new();
    for row in channels(conn, "", None).await? {
        let mut sealed: [Option<String>; 7] = Default::default();
        for (i, value) in row.columns().iter().enumerate() {
            sealed[i] = vault.encrypt_opt(
                Field::CHANNEL_TEXT[i],
                &row.environment_id,
                row.owner(),
                value.as_deref(),
            )?;
            done += usize::from(value.is_some());
        }
        sealed_channels.push((row.pk, sealed));
    }
    write_channels(conn, sealed_channels).await?;

    let tokens: Vec<Secret> = sqlx::query_as(TOKENS).fetch_all(&mut *conn).await?;
    let (mut pks, mut sealed, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    for t in tokens {
        let (token, hash) = vault.seal_token(&t.environment_id, t.owner(), &t.value)?;
        pks.push(t.pk);
        sealed.push(token);
        hashes.push(hash);
    }
    done += pks.len();
    sqlx::query(
        "UPDATE device_tokens t SET token = u.token, token_hash = u.hash
         FROM UNNEST($1::bigint[], $2::text[], $3::text[]) AS u(pk, token, hash)
         WHERE t.pk = u.pk",
    )
    .bind(pks)
    .bind(sealed)
    .bind(hashes)
    .execute(&mut *conn)
    .await?;

    let integrations: Vec<Secret> = sqlx::query_as(CREDENTIALS).fetch_all(&mut *conn).await?;
    let mut sealed = Vec::new();
    for i in integrations {
        sealed.push((
            i.pk,
            vault.encrypt(
                Field::IntegrationCredentials,
                &i.environment_id,
                i.owner(),
                &i.value,
            )?,
        ));
    }
    done += sealed.len();
    write_values(conn, "integrations", "credentials", sealed).await?;
    Ok(done)
}

/// Whether the values of this database still have to be bound to their owners (schema version
/// 5 was just applied to a database with encrypted secrets).
async fn owner_binding_pending(conn: &mut PgConnection) -> Result<bool> {
    let pending: Option<Option<i64>> =
        sqlx::query_scalar("SELECT applied_at FROM secret_upgrades WHERE name = 'owner-bound'")
            .fetch_optional(conn)
            .await?;
    Ok(matches!(pending, Some(None)))
}

async fn owner_binding_done(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("UPDATE secret_upgrades SET applied_at = $1 WHERE name = 'owner-bound'")
        .bind(now())
        .execute(conn)
        .await?;
    Ok(())
}

/// Rows read per statement by [`bind_owners`]: bounds the memory of the upgrade of a large
/// database (all batches share its transaction).
const BIND_BATCH: i64 = 1000;

/// Rewrites every value written before schema version 5 (format 1, bound to its field and
/// environment only) under the current key, bound to its owner. Runs once, in the unlock
/// transaction, when that version has been applied. Returns how many values it rewrote.
async fn bind_owners(conn: &mut PgConnection, vault: &Vault) -> Result<usize> {
    let mut done = 0;
    let mut after = 0i64;
    loop {
        let batch = channels(
            conn,
            &format!("WHERE c.pk > {after} ORDER BY c.pk LIMIT {BIND_BATCH}"),
            None,
        )
        .await?;
        let Some(last) = batch.last() else { break };
        after = last.pk;
        let mut rewritten = Vec::new();
        for row in &batch {
            let mut columns = row.columns();
            let mut changed = false;
            for (i, value) in columns.iter_mut().enumerate() {
                let Some(v) = value.as_mut() else { continue };
                if let Some(bound) = vault.bind_to_owner(
                    Field::CHANNEL_TEXT[i],
                    &row.environment_id,
                    row.owner(),
                    v,
                )? {
                    *v = bound;
                    changed = true;
                    done += 1;
                }
            }
            if changed {
                rewritten.push((row.pk, columns));
            }
        }
        write_channels(conn, rewritten).await?;
    }
    for (table, column, select, key, field) in [
        ("device_tokens", "token", TOKENS, "t.pk", Field::DeviceToken),
        (
            "integrations",
            "credentials",
            CREDENTIALS,
            "pk",
            Field::IntegrationCredentials,
        ),
    ] {
        let mut after = 0i64;
        loop {
            let batch: Vec<Secret> = sqlx::query_as(&format!(
                "{select} WHERE {key} > $1 ORDER BY {key} LIMIT $2"
            ))
            .bind(after)
            .bind(BIND_BATCH)
            .fetch_all(&mut *conn)
            .await?;
            let Some(last) = batch.last() else { break };
            after = last.pk;
            let mut rewritten = Vec::new();
            for row in &batch {
                if let Some(bound) =
                    vault.bind_to_owner(field, &row.environment_id, row.owner(), &row.value)?
                {
                    rewritten.push((row.pk, bound));
                }
            }
            done += rewritten.len();
            write_values(conn, table, column, rewritten).await?;
        }
    }
    Ok(done)
}

/// The key the database encrypts new values under.
async fn current_key(conn: &mut PgConnection) -> Result<KeyId> {
    let id: Option<String> = sqlx::query_scalar("SELECT key_id FROM secret_keys WHERE current")
        .fetch_optional(conn)
        .await?;
    Ok(id
        .and_then(|id| KeyId::parse(&id))
        .ok_or(SecretError::Malformed)?)
}

/// Called by every write that encrypts, before it does: follows the database's current key
/// (rotated by `herald secrets rotate`) once per check period.
pub(crate) async fn follow_current_key(conn: &mut PgConnection, vault: &Vault) -> Result<()> {
    if vault.current_check_due() {
        vault.observe_current(&current_key(conn).await?);
    }
    Ok(())
}

/// `col IS NOT NULL AND col is not under the key whose prefix is $1`.
fn stale(column: &str) -> String {
    format!("({column} IS NOT NULL AND substr({column}, 1, 13) <> $1)")
}

async fn lock_secrets(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SECRETS_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

async fn usage(conn: &mut PgConnection) -> Result<Vec<KeyUsage>> {
    let mut by_id: BTreeMap<KeyId, KeyUsage> = BTreeMap::new();
    for key in stored_keys(conn).await? {
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
    let counts: Vec<(String, i64)> = sqlx::query_as(&format!(
        "SELECT substr(v, 1, 13), count(*) FROM ({values}) s WHERE v IS NOT NULL GROUP BY 1"
    ))
    .fetch_all(conn)
    .await?;
    for (prefix, n) in counts {
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

impl PgStore {
    async fn promote_once(&self, id: &KeyId) -> Result<()> {
        let wrapped = self.vault.wrap_hash_key(id)?;
        let mut tx = self.pool.begin().await?;
        lock_secrets(&mut tx).await?;
        sqlx::query(
            "INSERT INTO secret_keys (key_id, wrapped_hash_key, current, created_at)
             VALUES ($1, $2, FALSE, $3) ON CONFLICT (key_id) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(wrapped)
        .bind(now())
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE secret_keys SET current = FALSE WHERE current AND key_id <> $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE secret_keys SET current = TRUE WHERE key_id = $1")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        self.vault.observe_current(id);
        Ok(())
    }

    async fn reencrypt_once(&self, limit: usize) -> Result<usize> {
        let vault = &self.vault;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
        let current = current_key(&mut tx).await?;
        if !vault.observe_current(&current) {
            return Err(SecretError::UnknownKey(current).into());
        }
        let prefix = format!("{PREFIX}{current}:");
        let mut done = 0;

        let any_stale = CHANNEL_COLUMNS
            .map(|c| stale(&format!("c.{c}")))
            .join(" OR ");
        let filter = format!("WHERE {any_stale} ORDER BY c.pk LIMIT {limit} FOR UPDATE OF c");
        let mut rewritten = Vec::new();
        for row in channels(&mut tx, &filter, Some(&prefix)).await? {
            let mut columns = row.columns();
            for (i, value) in columns.iter_mut().enumerate() {
                if let Some(v) = value.as_mut().filter(|v| !vault.is_current(v)) {
                    *v = vault.reencrypt(
                        Field::CHANNEL_TEXT[i],
                        &row.environment_id,
                        row.owner(),
                        v,
                    )?;
                    done += 1;
                }
            }
            rewritten.push((row.pk, columns));
        }
        write_channels(&mut tx, rewritten).await?;

        // Only the token rows are locked, not their channels: a credentials write holds its
        // channel row while it edits that channel's tokens.
        for (table, column, select, stale_column, lock, field) in [
            (
                "device_tokens",
                "token",
                TOKENS,
                "t.token",
                "FOR UPDATE OF t",
                Field::DeviceToken,
            ),
            (
                "integrations",
                "credentials",
                CREDENTIALS,
                "credentials",
                "FOR UPDATE OF integrations",
                Field::IntegrationCredentials,
            ),
        ] {
            let rows: Vec<Secret> = sqlx::query_as(&format!(
                "{select} WHERE {} ORDER BY 1 LIMIT $2 {lock}",
                stale(stale_column)
            ))
            .bind(&prefix)
            .bind(limit)
            .fetch_all(&mut *tx)
            .await?;
            let mut rewritten = Vec::new();
            for row in rows {
                rewritten.push((
                    row.pk,
                    vault.reencrypt(field, &row.environment_id, row.owner(), &row.value)?,
                ));
            }
            done += rewritten.len();
            write_values(&mut tx, table, column, rewritten).await?;
        }
        tx.commit().await?;
        Ok(done)
    }

    async fn retire_once(&self) -> Result<Vec<KeyId>> {
        let mut tx = self.pool.begin().await?;
        lock_secrets(&mut tx).await?;
        let mut retired = Vec::new();
        for key in usage(&mut tx).await? {
            if key.registered && !key.current && key.values == 0 {
                sqlx::query("DELETE FROM secret_keys WHERE key_id = $1 AND NOT current")
                    .bind(key.key_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                retired.push(key.key_id);
            }
        }
        tx.commit().await?;
        Ok(retired)
    }
}

#[async_trait]
impl SecretStore for PgStore {
    async fn key_usage(&self) -> StoreResult<Vec<KeyUsage>> {
        retrying(|| async {
            let mut conn = self.pool.acquire().await?;
            usage(&mut conn).await
        })
        .await
    }

    async fn promote_key(&self, id: &KeyId) -> StoreResult<()> {
        if !self.vault.keyring().contains(id) {
            return Err(StoreError::backend(SecretError::UnknownKey(id.clone())));
        }
        retrying(|| self.promote_once(id)).await
    }

    async fn reencrypt_batch(&self, limit: usize) -> StoreResult<usize> {
        retrying(|| self.reencrypt_once(limit)).await
    }

    async fn retire_keys(&self) -> StoreResult<Vec<KeyId>> {
        retrying(|| self.retire_once()).await
    }
}
