//! Channel credentials writes (`PUT`/`PATCH`/`DELETE …/credentials`), the heart of Herald.
//!
//! A write locks the subscriber's row (`SELECT … FOR UPDATE`) for its transaction, reads the
//! channel, computes the result with `herald-core`'s `CredentialsUpdate::merged` (the merge rules
//! exist once, for both backends) and writes only the difference. Holding the row lock serialises
//! writers on one subscriber across every process sharing the database, so 50 concurrent appends
//! of distinct tokens end with 50 tokens; the token inserts are still `ON CONFLICT DO NOTHING`.
//! A write that changes nothing touches no row and leaves `updated_at` alone.
//!
//! Secrets are encrypted on the way in and decrypted on the way out, so the merge compares plain
//! values. Token rows hold a ciphertext plus a keyed hash; uniqueness is on `(channel_pk,
//! token_hash)` and removals match hashes, so no token has to be decrypted to be found.

use herald_core::secrets::Vault;
use herald_core::{ChannelCredentials, CredentialsUpdate, ObjectId, ProviderId, Subscriber};
use sqlx::postgres::PgConnection;

use crate::error::Result;
use crate::rows::{now, ChannelRow, SELECT_CHANNEL};
use crate::secrets::follow_current_key;
use crate::subscribers::{lock_live, read_by_pk};
use crate::PgStore;

/// What to do with a channel's token rows to go from `old` to `new` (both in insertion order).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenDelta<'a> {
    /// Delete these tokens, then append these, keeping the survivors' rows (and order).
    Edit {
        remove: Vec<&'a str>,
        append: &'a [String],
    },
    /// The survivors would have to change order: delete every row and insert `new` in order.
    Rewrite(&'a [String]),
}

pub(crate) fn token_delta<'a>(old: &'a [String], new: &'a [String]) -> TokenDelta<'a> {
    let kept: Vec<&String> = old.iter().filter(|t| new.contains(t)).collect();
    if kept.iter().copied().eq(new.iter().take(kept.len())) {
        TokenDelta::Edit {
            remove: old
                .iter()
                .filter(|t| !new.contains(t))
                .map(String::as_str)
                .collect(),
            append: &new[kept.len()..],
        }
    } else {
        TokenDelta::Rewrite(new)
    }
}

/// Where a channel's token rows belong.
struct ChannelKey<'a> {
    channel_pk: i64,
    subscriber_pk: i64,
    env: &'a ObjectId,
    integration_id: &'a ObjectId,
    vault: &'a Vault,
}

/// Appends `tokens` in the given order; tokens already on the channel are skipped.
async fn insert_tokens(
    conn: &mut PgConnection,
    key: &ChannelKey<'_>,
    tokens: &[String],
) -> Result<()> {
    if tokens.is_empty() {
        return Ok(());
    }
    let (mut sealed, mut hashes) = (Vec::new(), Vec::new());
    for token in tokens {
        let (s, h) = key.vault.seal_token(key.env.as_str(), token)?;
        sealed.push(s);
        hashes.push(h);
    }
    // ORDER BY the input position, so the serial `pk` (the token order clients see) follows it.
    sqlx::query(
        "INSERT INTO device_tokens
             (channel_pk, environment_id, subscriber_pk, integration_id, token, token_hash)
         SELECT $1, $2, $3, $4, u.token, u.token_hash
         FROM UNNEST($5::text[], $6::text[]) WITH ORDINALITY AS u(token, token_hash, n)
         ORDER BY u.n
         ON CONFLICT (channel_pk, token_hash) DO NOTHING",
    )
    .bind(key.channel_pk)
    .bind(key.env.as_str())
    .bind(key.subscriber_pk)
    .bind(key.integration_id.as_str())
    .bind(sealed)
    .bind(hashes)
    .execute(conn)
    .await?;
    Ok(())
}

async fn write_tokens(
    conn: &mut PgConnection,
    key: &ChannelKey<'_>,
    old: &[String],
    new: &[String],
) -> Result<()> {
    match token_delta(old, new) {
        TokenDelta::Edit { remove, append } => {
            if !remove.is_empty() {
                let env = key.env.as_str();
                let hashes: Vec<String> = remove
                    .iter()
                    .map(|t| key.vault.token_hash(env, t))
                    .collect();
                sqlx::query(
                    "DELETE FROM device_tokens WHERE channel_pk = $1 AND token_hash = ANY($2)",
                )
                .bind(key.channel_pk)
                .bind(&hashes)
                .execute(&mut *conn)
                .await?;
            }
            insert_tokens(conn, key, append).await
        }
        TokenDelta::Rewrite(all) => {
            sqlx::query("DELETE FROM device_tokens WHERE channel_pk = $1")
                .bind(key.channel_pk)
                .execute(&mut *conn)
                .await?;
            insert_tokens(conn, key, all).await
        }
    }
}

impl PgStore {
    pub(crate) async fn update_credentials_once(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        update: &CredentialsUpdate,
    ) -> Result<Option<Subscriber>> {
        let mut tx = self.pool.begin().await?;
        let Some(subscriber_pk) = lock_live(&mut tx, env, subscriber_id).await? else {
            return Ok(None);
        };
        let existing: Option<ChannelRow> = sqlx::query_as(SELECT_CHANNEL)
            .bind(subscriber_pk)
            .bind(update.integration_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let old = existing
            .as_ref()
            .map(|row| row.credentials(&self.vault))
            .transpose()?;
        let merged = update.merged(old.as_ref())?;
        let unchanged = existing.as_ref().is_some_and(|row| {
            old.as_ref() == Some(&merged) && row.provider_id == update.provider_id.as_str()
        });
        if !unchanged {
            follow_current_key(&mut tx, &self.vault).await?;
            let old_tokens = old.and_then(|c| c.device_tokens).unwrap_or_default();
            self.write_channel(
                &mut tx,
                env,
                subscriber_pk,
                update,
                existing.is_some(),
                &old_tokens,
                &merged,
            )
            .await?;
            sqlx::query("UPDATE subscribers SET updated_at = $2 WHERE pk = $1")
                .bind(subscriber_pk)
                .bind(now())
                .execute(&mut *tx)
                .await?;
        }
        let subscriber = read_by_pk(&mut tx, &self.vault, subscriber_pk).await?;
        tx.commit().await?;
        Ok(Some(subscriber))
    }

    /// Stores `merged` as the channel's new state, creating the channel unless it `exists`
    /// (holding `old_tokens`, decrypted).
    #[allow(clippy::too_many_arguments)]
    async fn write_channel(
        &self,
        conn: &mut PgConnection,
        env: &ObjectId,
        subscriber_pk: i64,
        update: &CredentialsUpdate,
        exists: bool,
        old_tokens: &[String],
        merged: &ChannelCredentials,
    ) -> Result<()> {
        let m = merged;
        let fields = self.vault.seal_channel(env.as_str(), m)?;
        let query = if exists {
            "UPDATE subscriber_channels SET
                     provider_id = $4, webhook_url = $5, channel = $6, alert_uid = $7, title = $8,
                     image_url = $9, state = $10, external_url = $11, tokens_set = $12
                 WHERE subscriber_pk = $1 AND integration_id = $3 AND environment_id = $2
                 RETURNING pk"
        } else {
            "INSERT INTO subscriber_channels (subscriber_pk, environment_id, integration_id,
                     provider_id, webhook_url, channel, alert_uid, title, image_url, state,
                     external_url, tokens_set)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 RETURNING pk"
        };
        let mut q = sqlx::query_scalar(query)
            .bind(subscriber_pk)
            .bind(env.as_str())
            .bind(update.integration_id.as_str())
            .bind(update.provider_id.as_str());
        for f in fields {
            q = q.bind(f);
        }
        let channel_pk: i64 = q
            .bind(m.device_tokens.is_some())
            .fetch_one(&mut *conn)
            .await?;
        let key = ChannelKey {
            channel_pk,
            subscriber_pk,
            env,
            integration_id: &update.integration_id,
            vault: &self.vault,
        };
        let new_tokens = m.device_tokens.as_deref().unwrap_or_default();
        write_tokens(conn, &key, old_tokens, new_tokens).await
    }

    pub(crate) async fn delete_credentials_once(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        provider: ProviderId,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let Some(subscriber_pk) = lock_live(&mut tx, env, subscriber_id).await? else {
            return Ok(false);
        };
        let removed = sqlx::query(
            "DELETE FROM subscriber_channels WHERE subscriber_pk = $1 AND provider_id = $2",
        )
        .bind(subscriber_pk)
        .bind(provider.as_str())
        .execute(&mut *tx)
        .await?;
        if removed.rows_affected() > 0 {
            sqlx::query("UPDATE subscribers SET updated_at = $2 WHERE pk = $1")
                .bind(subscriber_pk)
                .bind(now())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(tokens: &[&str]) -> Vec<String> {
        tokens.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn an_append_only_inserts_the_new_tokens() {
        let (old, new) = (v(&["a", "b"]), v(&["a", "b", "c"]));
        assert_eq!(
            token_delta(&old, &new),
            TokenDelta::Edit {
                remove: vec![],
                append: &new[2..]
            }
        );
    }

    #[test]
    fn a_removal_keeps_the_survivors_rows() {
        let (old, new) = (v(&["a", "b", "c"]), v(&["a", "c", "d"]));
        assert_eq!(
            token_delta(&old, &new),
            TokenDelta::Edit {
                remove: vec!["b"],
                append: &new[2..]
            }
        );
        let empty = v(&[]);
        assert_eq!(
            token_delta(&old, &empty),
            TokenDelta::Edit {
                remove: vec!["a", "b", "c"],
                append: &[]
            }
        );
    }

    #[test]
    fn a_reordering_rewrites_every_row() {
        let (old, new) = (v(&["a", "b"]), v(&["b", "a"]));
        assert_eq!(token_delta(&old, &new), TokenDelta::Rewrite(&new));
        let (old, new) = (v(&["a", "b"]), v(&["c", "a", "b"]));
        assert_eq!(token_delta(&old, &new), TokenDelta::Rewrite(&new));
    }
}
