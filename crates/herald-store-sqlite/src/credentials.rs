//! Channel credentials: the write behind `PUT`/`PATCH …/credentials` and `DELETE …/credentials`.
//!
//! The merge rules are core's ([`CredentialsUpdate::merged`]); this module reads the channel's
//! current state, asks core for the result, and writes only the difference. That runs inside one
//! write job, and all writes are serialised by the writer thread, so two concurrent appends to the
//! same channel are applied one after the other and neither loses a token. Tokens are rows with a
//! `UNIQUE (channel_pk, token)` constraint: an append is an `INSERT OR IGNORE` of the new tokens,
//! a replacement deletes and re-inserts in the given order (insertion order is the order clients
//! see).

use herald_core::{
    ChannelCredentials, CredentialsUpdate, ObjectId, ProviderId, Subscriber, Timestamp,
};
use rusqlite::{Connection, OptionalExtension};

use crate::error::DbResult;
use crate::rows::{channel_text, find_live_subscriber, load_subscriber};

/// The stored channel of a subscriber bound to one integration: its `pk` and credentials.
fn find_channel(
    conn: &Connection,
    subscriber_pk: i64,
    integration_id: &ObjectId,
) -> DbResult<Option<(i64, ChannelCredentials)>> {
    let found = conn
        .prepare_cached(
            "SELECT pk, webhook_url, channel, alert_uid, title, image_url, state, external_url,
                    tokens_set
             FROM subscriber_channels WHERE subscriber_pk = ?1 AND integration_id = ?2",
        )?
        .query_row((subscriber_pk, integration_id.as_str()), |row| {
            let mut credentials = channel_text(row, 1)?;
            let tokens_set: bool = row.get(8)?;
            credentials.device_tokens = tokens_set.then(Vec::new);
            Ok((row.get::<_, i64>(0)?, credentials))
        })
        .optional()?;
    let Some((pk, mut credentials)) = found else {
        return Ok(None);
    };
    if let Some(tokens) = credentials.device_tokens.as_mut() {
        let mut stmt = conn
            .prepare_cached("SELECT token FROM device_tokens WHERE channel_pk = ?1 ORDER BY pk")?;
        for token in stmt.query_map([pk], |r| r.get::<_, String>(0))? {
            tokens.push(token?);
        }
    }
    Ok(Some((pk, credentials)))
}

fn write_text(conn: &Connection, channel_pk: i64, c: &ChannelCredentials) -> DbResult<()> {
    conn.prepare_cached(
        "UPDATE subscriber_channels SET webhook_url = ?2, channel = ?3, alert_uid = ?4,
             title = ?5, image_url = ?6, state = ?7, external_url = ?8, tokens_set = ?9
         WHERE pk = ?1",
    )?
    .execute(rusqlite::params![
        channel_pk,
        c.webhook_url,
        c.channel,
        c.alert_uid,
        c.title,
        c.image_url,
        c.state,
        c.external_url,
        c.device_tokens.is_some(),
    ])?;
    Ok(())
}

struct ChannelKey<'a> {
    pk: i64,
    env: &'a ObjectId,
    subscriber_pk: i64,
    integration_id: &'a ObjectId,
}

fn insert_tokens(conn: &Connection, key: &ChannelKey, tokens: &[String]) -> DbResult<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT OR IGNORE INTO device_tokens
             (channel_pk, environment_id, subscriber_pk, integration_id, token)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for token in tokens {
        stmt.execute((
            key.pk,
            key.env.as_str(),
            key.subscriber_pk,
            key.integration_id.as_str(),
            token,
        ))?;
    }
    Ok(())
}

/// Writes `merged` over `old` (the channel's current tokens) with as few statements as possible.
fn write_tokens(
    conn: &Connection,
    key: &ChannelKey,
    old: &[String],
    merged: &[String],
) -> DbResult<()> {
    if merged == old {
        return Ok(());
    }
    if let Some(added) = merged.strip_prefix(old) {
        // An append: the existing tokens keep their rows (and order), the new ones follow.
        return insert_tokens(conn, key, added);
    }
    conn.prepare_cached("DELETE FROM device_tokens WHERE channel_pk = ?1")?
        .execute([key.pk])?;
    insert_tokens(conn, key, merged)
}

pub(crate) fn update(
    conn: &Connection,
    env: &ObjectId,
    subscriber_id: &str,
    update: &CredentialsUpdate,
) -> DbResult<Option<Subscriber>> {
    let Some((subscriber_pk, _)) = find_live_subscriber(conn, env, subscriber_id)? else {
        return Ok(None);
    };
    let existing = find_channel(conn, subscriber_pk, &update.integration_id)?;
    let merged = update.merged(existing.as_ref().map(|(_, c)| c))?;
    match existing {
        Some((_, old)) if old == merged => {
            // Nothing changes: no write, and `updated_at` stays.
            return Ok(Some(load_subscriber(conn, subscriber_pk)?));
        }
        Some((pk, old)) => {
            write_text(conn, pk, &merged)?;
            let key = ChannelKey {
                pk,
                env,
                subscriber_pk,
                integration_id: &update.integration_id,
            };
            write_tokens(
                conn,
                &key,
                old.device_tokens.as_deref().unwrap_or_default(),
                merged.device_tokens.as_deref().unwrap_or_default(),
            )?;
        }
        None => {
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
                merged.webhook_url,
                merged.channel,
                merged.alert_uid,
                merged.title,
                merged.image_url,
                merged.state,
                merged.external_url,
                merged.device_tokens.is_some(),
            ])?;
            let key = ChannelKey {
                pk: conn.last_insert_rowid(),
                env,
                subscriber_pk,
                integration_id: &update.integration_id,
            };
            insert_tokens(
                conn,
                &key,
                merged.device_tokens.as_deref().unwrap_or_default(),
            )?;
        }
    }
    touch(conn, subscriber_pk)?;
    Ok(Some(load_subscriber(conn, subscriber_pk)?))
}

pub(crate) fn delete(
    conn: &Connection,
    env: &ObjectId,
    subscriber_id: &str,
    provider: ProviderId,
) -> DbResult<bool> {
    let Some((subscriber_pk, _)) = find_live_subscriber(conn, env, subscriber_id)? else {
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
