//! Rows to domain values, in one place. Column lists are constants so that every query selecting a
//! subscriber, an integration, a topic or a subscription selects the same columns in the same
//! order as the mapper reads. Channels and their tokens are loaded for a set of subscribers in one
//! query, ordered by channel then token insertion (`pk`), which is the order clients see.
//! Secret columns are decrypted here too, bound to the environment of the row that holds them and
//! to their owner (a channel's subscriber and integration, an integration), so no caller ever sees
//! a ciphertext, and one moved to another row fails instead of decrypting there.

use std::collections::HashMap;
use std::str::FromStr;

use herald_core::secrets::{Owner, SecretError, UnreadableSecret, Vault};
use herald_core::topic::{SubscriberRef, Topic, TopicSubscription};
use herald_core::{
    ChannelCredentials, ChannelSettings, ChannelType, Integration, ObjectId, Profile, ProviderId,
    Subscriber, Timestamp,
};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row};
use serde_json::Value;

use crate::error::{BadStoredValue, DbError, DbResult};

/// Selected by every subscriber query, read by [`subscriber`].
pub(crate) const SUBSCRIBER_COLUMNS: &str = "pk, id, organization_id, environment_id, \
     subscriber_id, first_name, last_name, email, phone, avatar, locale, timezone, data, null_mask, \
     is_online, last_online_at, version, created_at, updated_at";

/// Selected by every integration query, read by [`integration`].
pub(crate) const INTEGRATION_COLUMNS: &str = "id, environment_id, organization_id, provider_id, \
     channel, name, identifier, credentials, active, \"primary\", priority, conditions, deleted, \
     deleted_at, created_at, updated_at";

/// Selected by every topic query, read by [`topic`].
pub(crate) const TOPIC_COLUMNS: &str =
    "pk, id, environment_id, organization_id, key, name, data, created_at, updated_at";

/// Selected by every subscription query (aliases `ts` for the membership, `t` for its topic and
/// `s` for its subscriber), read by [`subscription`].
pub(crate) const SUBSCRIPTION_COLUMNS: &str = "ts.pk, ts.id, ts.created_at, ts.updated_at, \
     t.id, t.environment_id, t.organization_id, t.key, t.name, t.data, t.created_at, t.updated_at, \
     s.id, s.subscriber_id, s.first_name, s.last_name, s.email, s.avatar, s.null_mask, \
     ts.identifier, ts.name";

fn bad(idx: usize, what: &'static str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        Type::Text,
        Box::new(BadStoredValue {
            what,
            value: value.to_string(),
        }),
    )
}

fn id(row: &Row, idx: usize) -> rusqlite::Result<ObjectId> {
    Ok(ObjectId::from_stored(row.get(idx)?))
}

fn ts(row: &Row, idx: usize) -> rusqlite::Result<Timestamp> {
    Ok(Timestamp::from_millis(row.get(idx)?))
}

pub(crate) fn provider(row: &Row, idx: usize) -> rusqlite::Result<ProviderId> {
    let s: String = row.get(idx)?;
    ProviderId::from_str(&s).map_err(|_| bad(idx, "provider id", &s))
}

/// A subscriber row (without channels) and its `pk`.
pub(crate) fn subscriber(row: &Row) -> rusqlite::Result<(i64, Subscriber)> {
    let text = [
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
        row.get(10)?,
        row.get(11)?,
    ];
    let profile = Profile::from_columns(text, row.get(12)?, row.get(13)?);
    Ok((
        row.get(0)?,
        Subscriber {
            id: id(row, 1)?,
            organization_id: id(row, 2)?,
            environment_id: id(row, 3)?,
            subscriber_id: row.get(4)?,
            profile,
            channels: Vec::new(),
            is_online: row.get(14)?,
            last_online_at: row.get::<_, Option<i64>>(15)?.map(Timestamp::from_millis),
            version: row.get(16)?,
            created_at: ts(row, 17)?,
            updated_at: ts(row, 18)?,
        },
    ))
}

/// A secret that cannot be decrypted, as a column error (its message never holds the value).
fn undecryptable(idx: usize, e: UnreadableSecret) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e))
}

/// An integration row ([`INTEGRATION_COLUMNS`]) with its credentials decrypted (bound to the
/// integration's environment and `_id`).
pub(crate) fn integration(row: &Row, vault: &Vault) -> rusqlite::Result<Integration> {
    let channel: String = row.get(4)?;
    let integration_id = id(row, 0)?;
    let environment_id = id(row, 1)?;
    let credentials: String = row.get(7)?;
    let credentials = vault
        .open_credentials(
            environment_id.as_str(),
            integration_id.as_str(),
            &credentials,
        )
        .map_err(|e| {
            let owner = Owner::Integration(integration_id.as_str());
            undecryptable(7, UnreadableSecret::new(owner, e))
        })?;
    let conditions: String = row.get(11)?;
    Ok(Integration {
        id: integration_id,
        environment_id,
        organization_id: id(row, 2)?,
        provider_id: provider(row, 3)?,
        channel: ChannelType::parse(&channel).ok_or_else(|| bad(4, "channel type", &channel))?,
        name: row.get(5)?,
        identifier: row.get(6)?,
        credentials,
        active: row.get(8)?,
        primary: row.get(9)?,
        priority: row.get(10)?,
        conditions: serde_json::from_str::<Vec<Value>>(&conditions)
            .map_err(|_| bad(11, "integration conditions", &conditions))?,
        deleted: row.get(12)?,
        deleted_at: row.get::<_, Option<i64>>(13)?.map(Timestamp::from_millis),
        created_at: ts(row, 14)?,
        updated_at: ts(row, 15)?,
    })
}

/// The eight topic columns from `id` to `updated_at`, starting at `first`.
fn topic_at(row: &Row, first: usize) -> rusqlite::Result<Topic> {
    let data = match row.get::<_, Option<String>>(first + 5)? {
        None => None,
        Some(text) => Some(
            serde_json::from_str::<Value>(&text)
                .map_err(|_| bad(first + 5, "topic data", &text))?,
        ),
    };
    Ok(Topic {
        id: id(row, first)?,
        environment_id: id(row, first + 1)?,
        organization_id: id(row, first + 2)?,
        key: row.get(first + 3)?,
        name: row.get(first + 4)?,
        data,
        created_at: ts(row, first + 6)?,
        updated_at: ts(row, first + 7)?,
    })
}

/// A topic row ([`TOPIC_COLUMNS`]) and its `pk`.
pub(crate) fn topic(row: &Row) -> rusqlite::Result<(i64, Topic)> {
    Ok((row.get(0)?, topic_at(row, 1)?))
}

/// A subscription row ([`SUBSCRIPTION_COLUMNS`]) and its `pk`. The subscriber's profile fields
/// keep the absent/null distinction through the null mask, as in [`subscriber`].
pub(crate) fn subscription(row: &Row) -> rusqlite::Result<(i64, TopicSubscription)> {
    let profile = Profile::from_columns(
        [
            row.get(14)?,
            row.get(15)?,
            row.get(16)?,
            None,
            row.get(17)?,
            None,
            None,
        ],
        None,
        row.get(18)?,
    );
    Ok((
        row.get(0)?,
        TopicSubscription {
            id: id(row, 1)?,
            identifier: row.get(19)?,
            name: row.get(20)?,
            created_at: ts(row, 2)?,
            updated_at: ts(row, 3)?,
            topic: topic_at(row, 4)?,
            subscriber: SubscriberRef {
                id: id(row, 12)?,
                subscriber_id: row.get(13)?,
                first_name: profile.first_name,
                last_name: profile.last_name,
                email: profile.email,
                avatar: profile.avatar,
            },
        },
    ))
}

/// The seven encrypted text columns (`webhook_url, channel, alert_uid, title, image_url, state,
/// external_url`, the order of [`ChannelCredentials::text_fields`]) starting at `first`.
pub(crate) fn channel_columns(row: &Row, first: usize) -> rusqlite::Result<[Option<String>; 7]> {
    let mut out: [Option<String>; 7] = Default::default();
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = row.get(first + i)?;
    }
    Ok(out)
}

/// The channel's credentials (without tokens) from its encrypted text columns at `first`,
/// bound to the environment `env` and the channel `owner`.
pub(crate) fn channel_text(
    row: &Row,
    first: usize,
    vault: &Vault,
    env: &str,
    owner: Owner<'_>,
) -> DbResult<ChannelCredentials> {
    vault
        .open_channel(env, owner, channel_columns(row, first)?)
        .map_err(|e| unreadable(owner, e))
}

/// A secret of `owner` that cannot be decrypted, as the store's error: it names the owner, never
/// the value.
pub(crate) fn unreadable(owner: Owner<'_>, e: SecretError) -> DbError {
    DbError::Store(herald_core::StoreError::backend(UnreadableSecret::new(
        owner, e,
    )))
}

/// The channels of the subscribers matched by `$where`, with their tokens, one row per token (or
/// per channel without tokens), as one string literal (no formatting on every read).
macro_rules! channel_query {
    ($where:literal) => {
        concat!(
            "SELECT c.subscriber_pk, c.pk, c.provider_id, c.integration_id,
                    i.identifier, c.webhook_url, c.channel, c.alert_uid, c.title, c.image_url,
                    c.state, c.external_url, c.tokens_set, t.token, c.environment_id
             FROM subscriber_channels c
             LEFT JOIN integrations i
                    ON i.id = c.integration_id AND i.environment_id = c.environment_id
                   AND i.deleted = 0
             LEFT JOIN device_tokens t
                    ON t.pk BETWEEN c.pk * 4294967296 AND c.pk * 4294967296 + 4294967295
             WHERE ",
            $where,
            " ORDER BY c.subscriber_pk, c.pk, t.pk"
        )
    };
}

/// Fills in the channels of the given subscribers (matched by `pk`), in channel insertion order
/// with tokens in insertion order. The integration identifier comes from the bound integration,
/// if it still exists (a deleted one leaves it absent).
pub(crate) fn attach_channels(
    conn: &Connection,
    vault: &Vault,
    subscribers: Vec<(i64, Subscriber)>,
) -> DbResult<Vec<Subscriber>> {
    if subscribers.is_empty() {
        return Ok(Vec::new());
    }
    // One subscriber (a GET, the answer to a write) is matched directly; a page of them through
    // a JSON array of their pks, so that the statement stays the same whatever the page size.
    let (mut stmt, key) = match subscribers.as_slice() {
        [(pk, _)] => (
            conn.prepare_cached(channel_query!("c.subscriber_pk = ?1"))?,
            rusqlite::types::Value::Integer(*pk),
        ),
        _ => {
            let pks = Value::from(subscribers.iter().map(|(pk, _)| *pk).collect::<Vec<_>>());
            (
                conn.prepare_cached(channel_query!(
                    "c.subscriber_pk IN (SELECT value FROM json_each(?1))"
                ))?,
                rusqlite::types::Value::Text(pks.to_string()),
            )
        }
    };
    // A channel's secrets are bound to its subscriber's `_id` and its integration's.
    let ids: HashMap<i64, &str> = subscribers
        .iter()
        .map(|(pk, s)| (*pk, s.id.as_str()))
        .collect();
    let mut rows = stmt.query([key])?;
    let mut channels: HashMap<i64, Vec<ChannelSettings>> = HashMap::new();
    let mut last_channel = None;
    while let Some(row) = rows.next()? {
        let subscriber_pk: i64 = row.get(0)?;
        let channel_pk: i64 = row.get(1)?;
        let env: String = row.get(14)?;
        let integration: String = row.get(3)?;
        let owner = Owner::Channel {
            subscriber: ids.get(&subscriber_pk).copied().unwrap_or_default(),
            integration: &integration,
        };
        let list = channels.entry(subscriber_pk).or_default();
        if last_channel != Some(channel_pk) {
            last_channel = Some(channel_pk);
            let mut credentials = channel_text(row, 5, vault, &env, owner)?;
            let tokens_set: bool = row.get(12)?;
            credentials.device_tokens = tokens_set.then(Vec::new);
            list.push(ChannelSettings {
                provider_id: provider(row, 2)?,
                integration_id: ObjectId::from_stored(integration.clone()),
                integration_identifier: row.get(4)?,
                credentials,
            });
        }
        if let Some(token) = row.get::<_, Option<String>>(13)? {
            let token = vault
                .open_token(&env, owner, &token)
                .map_err(|e| unreadable(owner, e))?;
            if let Some(channel) = list.last_mut() {
                channel
                    .credentials
                    .device_tokens
                    .get_or_insert_with(Vec::new)
                    .push(token);
            }
        }
    }
    Ok(subscribers
        .into_iter()
        .map(|(pk, mut s)| {
            s.channels = channels.remove(&pk).unwrap_or_default();
            s
        })
        .collect())
}

/// The first and last row id the device tokens of channel `channel_pk` can have: a token's `pk` is
/// `channel_pk * 2^32 + position` (migration 0008), so a channel's tokens are one range of row ids,
/// in insertion order. Fails for a channel `pk` beyond 2^31 - 1 (two billion channels).
pub(crate) fn token_pks(channel_pk: i64) -> DbResult<(i64, i64)> {
    channel_pk
        .checked_mul(1 << 32)
        .filter(|first| *first >= 0)
        .and_then(|first| first.checked_add((1 << 32) - 1).map(|last| (first, last)))
        .ok_or_else(|| {
            DbError::Store(herald_core::StoreError::backend(std::io::Error::other(
                "channel pk out of the range device tokens can be stored for",
            )))
        })
}

/// A non-deleted subscriber of the environment (without channels).
pub(crate) fn find_live_subscriber(
    conn: &Connection,
    env: &ObjectId,
    subscriber_id: &str,
) -> DbResult<Option<(i64, Subscriber)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers
         WHERE environment_id = ?1 AND subscriber_id = ?2 AND deleted = 0"
    ))?;
    Ok(stmt
        .query_row((env.as_str(), subscriber_id), subscriber)
        .optional()?)
}

/// The `pk` and `_id` of the live subscriber with that id, for writes of its secrets (which are
/// bound to its `_id`).
pub(crate) fn find_live_subscriber_key(
    conn: &Connection,
    env: &ObjectId,
    subscriber_id: &str,
) -> DbResult<Option<(i64, ObjectId)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT pk, id FROM subscribers
         WHERE environment_id = ?1 AND subscriber_id = ?2 AND deleted = 0",
    )?;
    Ok(stmt
        .query_row((env.as_str(), subscriber_id), |r| {
            Ok((r.get(0)?, id(r, 1)?))
        })
        .optional()?)
}

/// The `pk` of the live subscriber with that id, for writes that need nothing else of the row.
pub(crate) fn find_live_subscriber_pk(
    conn: &Connection,
    env: &ObjectId,
    subscriber_id: &str,
) -> DbResult<Option<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT pk FROM subscribers
         WHERE environment_id = ?1 AND subscriber_id = ?2 AND deleted = 0",
    )?;
    Ok(stmt
        .query_row((env.as_str(), subscriber_id), |r| r.get(0))
        .optional()?)
}

/// The full subscriber (with channels) stored under `pk`.
pub(crate) fn load_subscriber(conn: &Connection, vault: &Vault, pk: i64) -> DbResult<Subscriber> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE pk = ?1"
    ))?;
    let row = stmt.query_row([pk], subscriber)?;
    attach_channels(conn, vault, vec![row])?
        .pop()
        .ok_or(DbError::Sql(rusqlite::Error::QueryReturnedNoRows))
}
