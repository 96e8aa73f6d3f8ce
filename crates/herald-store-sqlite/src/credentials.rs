//! Channel credentials: the write behind `PUT`/`PATCH …/credentials`, `DELETE …/credentials` and
//! the per-token endpoints (`…/device-tokens`, `…/device-tokens/removal`).
//!
//! The merge rules are core's ([`CredentialsUpdate::merged`]); this module reads the channel's
//! current state, asks core for the result, and writes only the difference. That runs inside one
//! write job, and all writes are serialised by the writer thread, so two concurrent appends to the
//! same channel are applied one after the other and neither loses a token. Tokens are rows whose
//! `pk` is their channel's `pk * 2^32` plus their position in the channel (migration 0008), so a
//! channel's tokens are one range of row ids in the order clients see: an append inserts the new
//! tokens after the last position, a replacement deletes the range and inserts the list from
//! position 1. The merge keeps a channel's tokens distinct.
//!
//! One owner per token ([`herald_core::TokenOwnership::Move`]): the same write job removes the
//! tokens the write claims from every other subscriber of the environment holding them for the
//! same integration (`release_claimed`). The writer thread runs one job at a time, so two
//! subscribers racing to register a token end with one holder, the one written last.
//!
//! Secrets are encrypted on the way in. Token rows hold a ciphertext plus a keyed hash (HMAC of
//! the environment and the token), so the merge runs on hashes: the request's tokens are hashed,
//! the stored ones are not decrypted, core's rules (which only compare, dedupe and count tokens)
//! give the same result as on plain values, and only the tokens actually inserted are encrypted.

use std::collections::HashMap;

use herald_core::secrets::{Field, KeyId, Owner, Vault};
use herald_core::{
    ChannelCredentials, CredentialsUpdate, ObjectId, ProviderId, StoreError, Timestamp,
};
use rusqlite::{Connection, OptionalExtension};

use crate::error::{DbError, DbResult};
use crate::rows::{find_live_subscriber_key, find_live_subscriber_pk, token_pks, unreadable};
use crate::secrets::{follow_current_key, write_channel_columns};

/// A channel as stored: its `pk` and its credentials, each device token given by its keyed hash.
struct StoredChannel {
    pk: i64,
    credentials: ChannelCredentials,
    /// The position after its last token's (see [`crate::rows::token_pks`]).
    next_position: i64,
}

/// The stored channel of a subscriber bound to one integration. Its text fields are decrypted;
/// its tokens are not: the merge only compares tokens, and their hashes compare the same way.
fn find_channel(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    subscriber_pk: i64,
    integration_id: &ObjectId,
    owner: Owner<'_>,
) -> DbResult<Option<StoredChannel>> {
    let found = conn
        .prepare_cached(
            "SELECT pk, webhook_url, channel, alert_uid, title, image_url, state, external_url,
                    tokens_set
             FROM subscriber_channels WHERE subscriber_pk = ?1 AND integration_id = ?2",
        )?
        .query_row((subscriber_pk, integration_id.as_str()), |row| {
            let tokens_set: bool = row.get(8)?;
            Ok((
                row.get::<_, i64>(0)?,
                crate::rows::channel_columns(row, 1)?,
                tokens_set,
            ))
        })
        .optional()?;
    let Some((pk, columns, tokens_set)) = found else {
        return Ok(None);
    };
    let mut credentials = vault
        .open_channel(env.as_str(), owner, columns)
        .map_err(|e| unreadable(owner, e))?;
    let (first, last) = token_pks(pk)?;
    let mut next_position = 1;
    if tokens_set {
        let mut stmt = conn.prepare_cached(
            "SELECT token, token_hash, pk FROM device_tokens WHERE pk BETWEEN ?1 AND ?2
             ORDER BY pk",
        )?;
        let mut rows = stmt.query([first, last])?;
        let mut hashes = Vec::new();
        while let Some(row) = rows.next()? {
            next_position = row.get::<_, i64>(2)? - first + 1;
            // Every row has its hash (NULL only inside the migration that added the column).
            let hash = match row.get::<_, Option<String>>(1)? {
                Some(hash) => hash,
                None => {
                    let token = vault
                        .open_token(env.as_str(), owner, &row.get::<_, String>(0)?)
                        .map_err(|e| unreadable(owner, e))?;
                    vault.token_hash(env.as_str(), &token)
                }
            };
            hashes.push(hash);
        }
        credentials.device_tokens = Some(hashes);
    }
    Ok(Some(StoredChannel {
        pk,
        credentials,
        next_position,
    }))
}

/// A credentials write made ready before it reaches the writer thread: the request's tokens
/// replaced by their keyed hashes (which depend on the environment only) and, when the caller
/// knew the subscriber's `_id`, each token already encrypted for that subscriber's channel. The
/// writer thread then only reads, compares and writes rows; it hashes or encrypts a token itself
/// only when what was prepared no longer fits (the subscriber was re-created under the same id,
/// or the current key changed in between).
pub(crate) struct Prepared {
    /// The update with its tokens replaced by their hashes.
    hashed: CredentialsUpdate,
    /// The request's tokens by hash.
    plain: HashMap<String, String>,
    sealed: Option<Sealed>,
}

/// The request's tokens encrypted ahead of the write, valid for one subscriber and one key.
struct Sealed {
    subscriber: ObjectId,
    key: KeyId,
    /// Ciphertext by hash.
    by_hash: HashMap<String, String>,
}

impl Prepared {
    /// Hashes the request's tokens and, given the `_id` of the subscriber the write is for,
    /// encrypts them bound to its channel. Runs on the calling thread, off the writer.
    pub(crate) fn new(
        vault: &Vault,
        env: &ObjectId,
        update: &CredentialsUpdate,
        subscriber: Option<ObjectId>,
    ) -> DbResult<Prepared> {
        let mut plain = HashMap::new();
        let mut hashed = update.clone();
        if let Some(tokens) = &mut hashed.credentials.device_tokens {
            for token in tokens.iter_mut() {
                let hash = vault.token_hash(env.as_str(), token);
                plain.insert(hash.clone(), std::mem::replace(token, hash));
            }
        }
        let sealed = match subscriber {
            Some(subscriber) if !plain.is_empty() => {
                let key = vault.sealing_id();
                let owner = Owner::Channel {
                    subscriber: subscriber.as_str(),
                    integration: update.integration_id.as_str(),
                };
                let mut by_hash = HashMap::with_capacity(plain.len());
                for (hash, token) in &plain {
                    let sealed = vault.encrypt(Field::DeviceToken, env.as_str(), owner, token)?;
                    by_hash.insert(hash.clone(), sealed);
                }
                Some(Sealed {
                    subscriber,
                    key,
                    by_hash,
                })
            }
            _ => None,
        };
        Ok(Prepared {
            hashed,
            plain,
            sealed,
        })
    }

    /// The stored form of the request's token with this hash, for the channel `key`: the one
    /// prepared if it was made for this subscriber under the vault's current key, else encrypted
    /// now.
    fn seal(&self, key: &ChannelKey, hash: &str) -> DbResult<String> {
        if let Some(sealed) = &self.sealed {
            if sealed.subscriber == *key.subscriber && sealed.key == key.sealing {
                if let Some(v) = sealed.by_hash.get(hash) {
                    return Ok(v.clone());
                }
            }
        }
        let token = self.plain.get(hash).ok_or_else(|| {
            DbError::Store(StoreError::backend(std::io::Error::other(
                "a device token to insert is not one of the request's",
            )))
        })?;
        Ok(key
            .vault
            .encrypt(Field::DeviceToken, key.env.as_str(), key.owner, token)?)
    }
}

fn write_text(conn: &Connection, key: &ChannelKey, c: &ChannelCredentials) -> DbResult<()> {
    let sealed = key.vault.seal_channel(key.env.as_str(), key.owner, c)?;
    write_channel_columns(conn, key.pk, &sealed)?;
    conn.prepare_cached("UPDATE subscriber_channels SET tokens_set = ?2 WHERE pk = ?1")?
        .execute((key.pk, c.device_tokens.is_some()))?;
    Ok(())
}

/// Whether the channel row itself (its text columns and whether it has a token list) differs;
/// when only the tokens change, the row is left alone.
fn row_differs(a: &ChannelCredentials, b: &ChannelCredentials) -> bool {
    a.webhook_url != b.webhook_url
        || a.channel != b.channel
        || a.alert_uid != b.alert_uid
        || a.title != b.title
        || a.image_url != b.image_url
        || a.state != b.state
        || a.external_url != b.external_url
        || a.device_tokens.is_some() != b.device_tokens.is_some()
}

struct ChannelKey<'a> {
    pk: i64,
    env: &'a ObjectId,
    subscriber_pk: i64,
    subscriber: &'a ObjectId,
    /// The key new values are encrypted under, as of this write.
    sealing: KeyId,
    integration_id: &'a ObjectId,
    /// The subscriber's `_id` and the integration's, which the secrets are bound to.
    owner: Owner<'a>,
    vault: &'a Vault,
}

/// Inserts the tokens with these hashes, in order, each in its stored form from `prepared`, at
/// the channel's positions from `position` on; a hash listed twice is inserted once. Core's rules
/// insert only tokens of the request: a stored token survives a write only as part of the
/// unchanged prefix of an append, which is never re-inserted.
fn insert_tokens(
    conn: &Connection,
    key: &ChannelKey,
    hashes: &[String],
    mut position: i64,
    prepared: &Prepared,
) -> DbResult<()> {
    let (first, _) = token_pks(key.pk)?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO device_tokens
             (pk, channel_pk, environment_id, subscriber_pk, integration_id, token, token_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for (i, hash) in hashes.iter().enumerate() {
        if hashes[..i].contains(hash) {
            continue;
        }
        let sealed = prepared.seal(key, hash)?;
        stmt.execute(rusqlite::params![
            first + position,
            key.pk,
            key.env.as_str(),
            key.subscriber_pk,
            key.integration_id.as_str(),
            sealed,
            hash,
        ])?;
        position += 1;
    }
    Ok(())
}

/// Writes `merged` over `old` (the channel's current token hashes, the last of them at the
/// position before `next_position`) with as few statements as possible.
fn write_tokens(
    conn: &Connection,
    key: &ChannelKey,
    old: &[String],
    next_position: i64,
    merged: &[String],
    prepared: &Prepared,
) -> DbResult<()> {
    if merged == old {
        return Ok(());
    }
    let (first, last) = token_pks(key.pk)?;
    if let Some(added) = merged.strip_prefix(old) {
        // An append: the existing tokens keep their rows (and order), the new ones follow.
        let next = if next_position + added.len() as i64 > MAX_POSITION {
            renumber(conn, first, last)?
        } else {
            next_position
        };
        return insert_tokens(conn, key, added, next, prepared);
    }
    conn.prepare_cached("DELETE FROM device_tokens WHERE pk BETWEEN ?1 AND ?2")?
        .execute([first, last])?;
    insert_tokens(conn, key, merged, 1, prepared)
}

/// The last position a token can take in its channel.
const MAX_POSITION: i64 = (1 << 32) - 1;

/// Moves the tokens stored in `first..=last` (one channel) to positions 1, 2, … in their order
/// and returns the next free position. Positions only grow between two replacements of the
/// channel's list (each append after a removal takes a new one), so this runs after about four
/// billion of those at most; a channel holds at most 100 tokens.
fn renumber(conn: &Connection, first: i64, last: i64) -> DbResult<i64> {
    let pks = conn
        .prepare_cached("SELECT pk FROM device_tokens WHERE pk BETWEEN ?1 AND ?2 ORDER BY pk")?
        .query_map([first, last], |r| r.get::<_, i64>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    let mut update = conn.prepare_cached("UPDATE device_tokens SET pk = ?2 WHERE pk = ?1")?;
    let mut position = 1;
    // In ascending order every row moves down to a free position.
    for pk in pks {
        if pk != first + position {
            update.execute([pk, first + position])?;
        }
        position += 1;
    }
    Ok(position)
}

/// Applies `update` and returns the `pk` of the subscriber it changed (`None`: no live subscriber
/// with that id), hashing and encrypting its tokens here (for writes that run inside a larger
/// write job, such as an upsert with channels).
pub(crate) fn update(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    subscriber_id: &str,
    update: &CredentialsUpdate,
) -> DbResult<Option<i64>> {
    let prepared = Prepared::new(vault, env, update, None)?;
    update_prepared(conn, vault, env, subscriber_id, &prepared)
}

/// Applies a [`Prepared`] update, as [`update`]. The response is built after the commit, off the
/// writer thread (see `SqliteStore::update_credentials`): re-reading and decrypting every channel
/// of the subscriber was most of a credentials write's time on the single writer thread. For the
/// same reason the merge runs on token hashes: no stored token is decrypted here, and the tokens
/// inserted were hashed and encrypted before the job reached the writer.
pub(crate) fn update_prepared(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    subscriber_id: &str,
    prepared: &Prepared,
) -> DbResult<Option<i64>> {
    let update = &prepared.hashed;
    let Some((subscriber_pk, subscriber)) = find_live_subscriber_key(conn, env, subscriber_id)?
    else {
        return Ok(None);
    };
    let owner = Owner::Channel {
        subscriber: subscriber.as_str(),
        integration: update.integration_id.as_str(),
    };
    let existing = find_channel(
        conn,
        vault,
        env,
        subscriber_pk,
        &update.integration_id,
        owner,
    )?;
    let merged = update.merged(existing.as_ref().map(|c| &c.credentials))?;
    follow_current_key(conn, vault)?;
    let sealing = vault.sealing_id();
    let key = |pk| ChannelKey {
        pk,
        env,
        subscriber_pk,
        subscriber: &subscriber,
        sealing: sealing.clone(),
        integration_id: &update.integration_id,
        owner,
        vault,
    };
    let merged_tokens = merged.device_tokens.as_deref().unwrap_or_default();
    match existing {
        Some(old) if old.credentials == merged => {
            // Nothing changes on this channel: no write, and `updated_at` stays. Another
            // subscriber may still hold a token it claims (written under `share`).
            release_claimed(conn, env, update, subscriber_pk, update.claimed_tokens())?;
            return Ok(Some(subscriber_pk));
        }
        Some(old) => {
            let key = key(old.pk);
            if row_differs(&old.credentials, &merged) {
                write_text(conn, &key, &merged)?;
            }
            write_tokens(
                conn,
                &key,
                old.credentials.device_tokens.as_deref().unwrap_or_default(),
                old.next_position,
                merged_tokens,
                prepared,
            )?;
        }
        None => {
            let c = vault.seal_channel(env.as_str(), owner, &merged)?;
            conn.prepare_cached(
                "INSERT INTO subscriber_channels (subscriber_pk, environment_id, integration_id,
                     provider_id, webhook_url, channel, alert_uid, title, image_url, state,
                     external_url, tokens_set)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(rusqlite::params![
                subscriber_pk,
                env.as_str(),
                update.integration_id.as_str(),
                update.provider_id.as_str(),
                c[0],
                c[1],
                c[2],
                c[3],
                c[4],
                c[5],
                c[6],
                merged.device_tokens.is_some(),
            ])?;
            insert_tokens(
                conn,
                &key(conn.last_insert_rowid()),
                merged_tokens,
                1,
                prepared,
            )?;
        }
    }
    touch(conn, subscriber_pk)?;
    release_claimed(conn, env, update, subscriber_pk, update.claimed_tokens())?;
    Ok(Some(subscriber_pk))
}

/// One owner per token: removes the tokens with these hashes (the ones `update` claims) from
/// every other subscriber of the environment holding them for the same integration, and moves
/// those subscribers' `updated_at`; their channels stay, possibly with no token left (as after a
/// `PUT` with `[]`). It runs inside the write job of the claiming write, and the writer thread
/// runs one job at a time, so no registration of the same token can interleave: whichever of
/// two racing registrations runs second takes the token from the first. The lookup is the index
/// `(environment_id, integration_id, token_hash)`.
fn release_claimed(
    conn: &Connection,
    env: &ObjectId,
    update: &CredentialsUpdate,
    subscriber_pk: i64,
    hashes: &[String],
) -> DbResult<()> {
    if hashes.is_empty() {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "DELETE FROM device_tokens
         WHERE environment_id = ?1 AND integration_id = ?2 AND token_hash = ?3
           AND subscriber_pk <> ?4
         RETURNING subscriber_pk",
    )?;
    let mut losers = std::collections::BTreeSet::new();
    for hash in hashes {
        let params = (
            env.as_str(),
            update.integration_id.as_str(),
            hash,
            subscriber_pk,
        );
        for pk in stmt.query_map(params, |r| r.get::<_, i64>(0))? {
            losers.insert(pk?);
        }
    }
    for pk in losers {
        touch(conn, pk)?;
    }
    Ok(())
}

/// Removes the device tokens with these plain values from every channel of `provider` of the
/// live subscriber `subscriber_id`, matching their keyed hashes (`POST …/device-tokens/removal`).
/// Returns the subscriber's `pk` (`None`: no live subscriber with that id); `updated_at` moves
/// only when a token was removed. The channels stay, also when left without tokens.
pub(crate) fn remove_tokens(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    subscriber_id: &str,
    provider: ProviderId,
    tokens: &[String],
) -> DbResult<Option<i64>> {
    let Some(subscriber_pk) = find_live_subscriber_pk(conn, env, subscriber_id)? else {
        return Ok(None);
    };
    // Through the lookup index: the subscriber's integrations of that provider, and the hash.
    let mut stmt = conn.prepare_cached(
        "DELETE FROM device_tokens
         WHERE environment_id = ?4
           AND integration_id IN (SELECT integration_id FROM subscriber_channels
                                  WHERE subscriber_pk = ?1 AND provider_id = ?2)
           AND token_hash = ?3 AND subscriber_pk = ?1",
    )?;
    let mut removed = 0;
    for token in tokens {
        let hash = vault.token_hash(env.as_str(), token);
        removed += stmt.execute((subscriber_pk, provider.as_str(), hash, env.as_str()))?;
    }
    if removed > 0 {
        touch(conn, subscriber_pk)?;
    }
    Ok(Some(subscriber_pk))
}

pub(crate) fn delete(
    conn: &Connection,
    env: &ObjectId,
    subscriber_id: &str,
    provider: ProviderId,
) -> DbResult<bool> {
    let Some(subscriber_pk) = find_live_subscriber_pk(conn, env, subscriber_id)? else {
        return Ok(false);
    };
    let removed = conn
        .prepare_cached(
            "DELETE FROM subscriber_channels WHERE subscriber_pk = ?1 AND provider_id = ?2",
        )?
        .execute((subscriber_pk, provider.as_str()))?;
    if removed > 0 {
        touch(conn, subscriber_pk)?;
    }
    Ok(true)
}

fn touch(conn: &Connection, subscriber_pk: i64) -> DbResult<()> {
    conn.prepare_cached("UPDATE subscribers SET updated_at = ?2 WHERE pk = ?1")?
        .execute((subscriber_pk, Timestamp::now().millis()))?;
    Ok(())
}
