//! Encryption at rest on PostgreSQL: unlocking the database at connect, encrypting the rows an
//! older Herald stored in plain text, and the key rotation steps behind `herald secrets`.
//!
//! Which values are secret and how they are encrypted is `herald_core::secrets`; this module only
//! knows where they are: the seven text columns of `subscriber_channels`, `device_tokens.token`
//! (plus its `token_hash`) and `integrations.credentials`. Every value is bound to its
//! environment; a device token to its channel's.
//!
//! Several processes share the database, so the one-time steps (registering the first key and
//! encrypting the old rows, promoting and retiring keys) run under a transaction-scoped advisory
//! lock, and a rotation batch locks the rows it rewrites (`FOR UPDATE`): a credentials write that
//! reaches one of them waits for the batch, then writes its own newer values, so neither
//! overwrites the other with stale data. Readers never wait.

use std::collections::BTreeMap;

use async_trait::async_trait;
use herald_core::secrets::{
    key_id_of, Field, KeyId, KeyProvider, SecretError, StoredKey, Unlock, UnlockError, Vault,
    PREFIX,
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
    webhook_url: Option<String>,
    channel: Option<String>,
    alert_uid: Option<String>,
    title: Option<String>,
    image_url: Option<String>,
    state: Option<String>,
    external_url: Option<String>,
}

impl ChannelSecrets {
    fn columns(self) -> [Option<String>; 7] {
        [
            self.webhook_url,
            self.channel,
            self.alert_uid,
            self.title,
            self.image_url,
            self.state,
            self.external_url,
        ]
    }
}

/// A secret value with its row key and environment.
#[derive(FromRow)]
struct Secret {
    pk: i64,
    environment_id: String,
    value: String,
}

/// Channels with their secret columns: all of them, or (given the current key's prefix, `$1` in
/// `filter`) those `filter` selects.
async fn channels(
    conn: &mut PgConnection,
    filter: &str,
    prefix: Option<&str>,
) -> Result<Vec<ChannelSecrets>> {
    let cols = CHANNEL_COLUMNS.join(", ");
    let sql = format!("SELECT pk, environment_id, {cols} FROM subscriber_channels {filter}");
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

const TOKENS: &str = "SELECT t.pk, c.environment_id, t.token AS value
    FROM device_tokens t JOIN subscriber_channels c ON c.pk = t.channel_pk";
const CREDENTIALS: &str = "SELECT pk, environment_id, credentials AS value FROM integrations";

/// Encrypts every secret stored before version 4 (all of them are plain text then: the key
/// table was empty). Returns how many values it encrypted.
async fn encrypt_plain_rows(conn: &mut PgConnection, vault: &Vault) -> Result<usize> {
    let mut done = 0;
    let mut sealed_channels = Vec::new();
    for row in channels(conn, "", None).await? {
        let (pk, env) = (row.pk, row.environment_id.clone());
        let mut sealed: [Option<String>; 7] = Default::default();
        for (i, value) in row.columns().iter().enumerate() {
            sealed[i] = vault.encrypt_opt(Field::CHANNEL_TEXT[i], &env, value.as_deref())?;
            done += usize::from(value.is_some());
        }
        sealed_channels.push((pk, sealed));
    }
    write_channels(conn, sealed_channels).await?;

    let tokens: Vec<Secret> = sqlx::query_as(TOKENS).fetch_all(&mut *conn).await?;
    let (mut pks, mut sealed, mut hashes) = (Vec::new(), Vec::new(), Vec::new());
    for t in tokens {
        let (token, hash) = vault.seal_token(&t.environment_id, &t.value)?;
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
            vault.encrypt(Field::IntegrationCredentials, &i.environment_id, &i.value)?,
        ));
    }
    done += sealed.len();
    write_values(conn, "integrations", "credentials", sealed).await?;
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

        let any_stale = CHANNEL_COLUMNS.map(stale).join(" OR ");
        let filter = format!("WHERE {any_stale} ORDER BY pk LIMIT {limit} FOR UPDATE");
        let mut rewritten = Vec::new();
        for row in channels(&mut tx, &filter, Some(&prefix)).await? {
            let (pk, env) = (row.pk, row.environment_id.clone());
            let mut columns = row.columns();
            for (i, value) in columns.iter_mut().enumerate() {
                if let Some(v) = value.as_mut().filter(|v| !vault.is_current(v)) {
                    *v = vault.reencrypt(Field::CHANNEL_TEXT[i], &env, v)?;
                    done += 1;
                }
            }
            rewritten.push((pk, columns));
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
                "FOR UPDATE",
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
                    vault.reencrypt(field, &row.environment_id, &row.value)?,
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
