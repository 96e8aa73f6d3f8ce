//! Topic memberships: add (creating the topic if missing), remove, the two cursor lists (a topic's
//! members, a subscriber's topics), one membership, and a topic's member ids.
//!
//! A membership row points at the subscriber's `pk`. Soft-deleting a subscriber removes its rows
//! (`drop_memberships`), and every read also requires `s.deleted = 0`, so a deleted subscriber is
//! never listed even if a row were left behind. Adding runs on the writer thread, so "is it a
//! member already, is the identifier free, insert" cannot race: re-adding a member keeps its row
//! (id, identifier, `createdAt`) and reports it again, and an identifier that another membership of
//! the topic has is reported as a conflict (`UNIQUE (topic_pk, identifier)` backs this up).

use std::collections::HashSet;

use herald_core::topic::{
    AddSubscribersOutcome, CursorPage, CursorQuery, IdentifierConflict, NewSubscription, NewTopic,
    TopicSubscription,
};
use herald_core::{ObjectId, Timestamp};
use rusqlite::{Connection, OptionalExtension};

use crate::error::DbResult;
use crate::paging::{fetch_page, text, Listing};
use crate::rows::{find_live_subscriber_pk, subscription, SUBSCRIPTION_COLUMNS};
use crate::topics::{find_topic, insert_topic};

/// The membership joined with its topic and subscriber, as [`SUBSCRIPTION_COLUMNS`] expects.
const FROM: &str = "FROM topic_subscriptions ts
     JOIN topics t ON t.pk = ts.topic_pk
     JOIN subscribers s ON s.pk = ts.subscriber_pk";

/// The membership of a live subscriber of the environment in topic `topic_pk`.
fn find_membership(
    conn: &Connection,
    env: &ObjectId,
    topic_pk: i64,
    subscriber_id: &str,
) -> DbResult<Option<(i64, TopicSubscription)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUBSCRIPTION_COLUMNS} {FROM}
         WHERE ts.topic_pk = ?1 AND s.environment_id = ?2 AND s.subscriber_id = ?3
           AND s.deleted = 0"
    ))?;
    Ok(stmt
        .query_row((topic_pk, env.as_str(), subscriber_id), subscription)
        .optional()?)
}

/// Request ids without repeats, first occurrence kept: each id is reported once.
fn distinct(ids: &[String]) -> impl Iterator<Item = &String> {
    let mut seen = HashSet::new();
    ids.iter().filter(move |id| seen.insert(id.as_str()))
}

pub(crate) fn add(
    conn: &Connection,
    env: &ObjectId,
    org: &ObjectId,
    key: &str,
    requested: &[NewSubscription],
    name_if_created: Option<String>,
) -> DbResult<AddSubscribersOutcome> {
    let topic_pk = match find_topic(conn, env, key)? {
        Some((pk, _)) => pk,
        None => {
            let new = NewTopic {
                key: key.to_string(),
                name: name_if_created,
                data: None,
            };
            insert_topic(conn, env, org, &new)?.0
        }
    };
    let now = Timestamp::now().millis();
    let mut outcome = AddSubscribersOutcome::default();
    let mut seen = HashSet::new();
    for new in requested {
        let id = &new.subscriber_id;
        if !seen.insert(id.as_str()) {
            continue;
        }
        let Some(subscriber_pk) = find_live_subscriber_pk(conn, env, id)? else {
            outcome.not_found.push(id.clone());
            continue;
        };
        if let Some((_, existing)) = find_membership(conn, env, topic_pk, id)? {
            outcome.subscriptions.push(existing);
            continue;
        }
        let identifier = new.identifier_in(key);
        // Not a member, so the only unique key this can hit is the identifier.
        let inserted = conn
            .prepare_cached(
                "INSERT OR IGNORE INTO topic_subscriptions
                     (id, environment_id, topic_pk, subscriber_pk, identifier, name, created_at,
                      updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )?
            .execute((
                ObjectId::new().as_str(),
                env.as_str(),
                topic_pk,
                subscriber_pk,
                &identifier,
                new.name.as_deref(),
                now,
            ))?;
        if inserted == 0 {
            outcome.conflicts.push(IdentifierConflict {
                subscriber_id: id.clone(),
                identifier,
            });
            continue;
        }
        let stored = find_membership(conn, env, topic_pk, id)?
            .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
        outcome.subscriptions.push(stored.1);
    }
    Ok(outcome)
}

pub(crate) fn remove(
    conn: &Connection,
    env: &ObjectId,
    key: &str,
    subscriber_ids: &[String],
) -> DbResult<Vec<TopicSubscription>> {
    let Some((topic_pk, _)) = find_topic(conn, env, key)? else {
        return Ok(Vec::new());
    };
    let mut removed = Vec::new();
    for id in distinct(subscriber_ids) {
        if let Some((pk, membership)) = find_membership(conn, env, topic_pk, id)? {
            conn.prepare_cached("DELETE FROM topic_subscriptions WHERE pk = ?1")?
                .execute([pk])?;
            removed.push(membership);
        }
    }
    Ok(removed)
}

/// Removes every membership of subscriber `pk` (its soft delete).
pub(crate) fn drop_memberships(conn: &Connection, subscriber_pk: i64) -> DbResult<()> {
    conn.prepare_cached("DELETE FROM topic_subscriptions WHERE subscriber_pk = ?1")?
        .execute([subscriber_pk])?;
    Ok(())
}

fn listing(from_where: String, params: Vec<rusqlite::types::Value>) -> Listing<'static> {
    Listing {
        columns: SUBSCRIPTION_COLUMNS,
        from_where,
        params,
        pk: "ts.pk",
        cursor_table: "topic_subscriptions",
    }
}

pub(crate) fn of_topic(
    conn: &Connection,
    env: &ObjectId,
    key: &str,
    subscriber_id: Option<&str>,
    page: &CursorQuery,
) -> DbResult<CursorPage<TopicSubscription>> {
    let mut list = listing(
        format!("{FROM} WHERE t.environment_id = ? AND t.key = ? AND s.deleted = 0"),
        vec![text(env.as_str()), text(key)],
    );
    if let Some(subscriber_id) = subscriber_id {
        list.and("s.subscriber_id = ?", [text(subscriber_id)]);
    }
    fetch_page(conn, &list, env, page, subscription)
}

pub(crate) fn of_subscriber(
    conn: &Connection,
    env: &ObjectId,
    subscriber_id: &str,
    key: Option<&str>,
    page: &CursorQuery,
) -> DbResult<CursorPage<TopicSubscription>> {
    let mut list = listing(
        format!("{FROM} WHERE s.environment_id = ? AND s.subscriber_id = ? AND s.deleted = 0"),
        vec![text(env.as_str()), text(subscriber_id)],
    );
    if let Some(key) = key {
        list.and("t.key = ?", [text(key)]);
    }
    fetch_page(conn, &list, env, page, subscription)
}

pub(crate) fn get(
    conn: &Connection,
    env: &ObjectId,
    key: &str,
    subscriber_id: &str,
) -> DbResult<Option<TopicSubscription>> {
    let Some((topic_pk, _)) = find_topic(conn, env, key)? else {
        return Ok(None);
    };
    Ok(find_membership(conn, env, topic_pk, subscriber_id)?.map(|(_, m)| m))
}

pub(crate) fn get_by_identifier(
    conn: &Connection,
    env: &ObjectId,
    key: &str,
    identifier: &str,
) -> DbResult<Option<TopicSubscription>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUBSCRIPTION_COLUMNS} {FROM}
         WHERE t.environment_id = ?1 AND t.key = ?2 AND ts.identifier = ?3 AND s.deleted = 0"
    ))?;
    Ok(stmt
        .query_row((env.as_str(), key, identifier), subscription)
        .optional()?
        .map(|(_, m)| m))
}

pub(crate) fn member_ids(conn: &Connection, env: &ObjectId, key: &str) -> DbResult<Vec<String>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT s.subscriber_id {FROM}
         WHERE t.environment_id = ?1 AND t.key = ?2 AND s.deleted = 0
         ORDER BY ts.pk"
    ))?;
    let ids = stmt
        .query_map((env.as_str(), key), |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(ids)
}
