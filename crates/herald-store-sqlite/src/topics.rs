//! Topics: create (v1, refusing a taken key), upsert (v2), get, the v1 offset list, the v2 cursor
//! list, update and delete; and the [`TopicStore`] implementation, whose membership methods are
//! in `subscriptions`. Every write is one job on the writer thread, so "look up the key, then
//! insert or update" cannot interleave with another write (and the `IMMEDIATE` transaction extends
//! that to other processes sharing the file).

use async_trait::async_trait;
use herald_core::topic::{
    AddSubscribersOutcome, CursorPage, CursorQuery, NewSubscription, NewTopic, Topic, TopicFilter,
    TopicPatch, TopicSubscription,
};
use herald_core::{ObjectId, StoreError, StoreResult, Timestamp, TopicStore};
use rusqlite::{Connection, OptionalExtension};

use crate::connection::fold_needle;
use crate::error::DbResult;
use crate::paging::{fetch_page, text, Listing};
use crate::rows::TOPIC_COLUMNS;
use crate::{subscriptions, SqliteStore};

/// The topic with this key in the environment, and its `pk`.
pub(crate) fn find_topic(
    conn: &Connection,
    env: &ObjectId,
    key: &str,
) -> DbResult<Option<(i64, Topic)>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TOPIC_COLUMNS} FROM topics WHERE environment_id = ?1 AND key = ?2"
    ))?;
    Ok(stmt
        .query_row((env.as_str(), key), crate::rows::topic)
        .optional()?)
}

/// Inserts a topic whose key is known to be free; returns its `pk` and the stored topic.
pub(crate) fn insert_topic(
    conn: &Connection,
    env: &ObjectId,
    org: &ObjectId,
    new: &NewTopic,
) -> DbResult<(i64, Topic)> {
    let now = Timestamp::now();
    let topic = Topic {
        id: ObjectId::new(),
        environment_id: env.clone(),
        organization_id: org.clone(),
        key: new.key.clone(),
        name: new.name.clone(),
        data: new.data.clone(),
        created_at: now,
        updated_at: now,
    };
    conn.prepare_cached(
        "INSERT INTO topics (id, environment_id, organization_id, key, name, data, created_at,
             updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
    )?
    .execute(rusqlite::params![
        topic.id.as_str(),
        env.as_str(),
        org.as_str(),
        topic.key,
        topic.name,
        topic.data.as_ref().map(|d| d.to_string()),
        now.millis(),
    ])?;
    Ok((conn.last_insert_rowid(), topic))
}

/// Sets the given `name`/`data` on the stored topic `pk`; writes (moving `updated_at`) only when
/// something changes.
fn apply_patch(
    conn: &Connection,
    pk: i64,
    mut topic: Topic,
    patch: &TopicPatch,
) -> DbResult<Topic> {
    let mut changed = false;
    if let Some(name) = &patch.name {
        changed |= topic.name.as_ref() != Some(name);
        topic.name = Some(name.clone());
    }
    if let Some(data) = &patch.data {
        changed |= topic.data.as_ref() != Some(data);
        topic.data = Some(data.clone());
    }
    if changed {
        topic.updated_at = Timestamp::now();
        conn.prepare_cached(
            "UPDATE topics SET name = ?2, data = ?3, updated_at = ?4 WHERE pk = ?1",
        )?
        .execute(rusqlite::params![
            pk,
            topic.name,
            topic.data.as_ref().map(|d| d.to_string()),
            topic.updated_at.millis(),
        ])?;
    }
    Ok(topic)
}

fn create(conn: &Connection, env: &ObjectId, org: &ObjectId, new: &NewTopic) -> DbResult<Topic> {
    if find_topic(conn, env, &new.key)?.is_some() {
        return Err(StoreError::Conflict(format!("topic key {:?} is taken", new.key)).into());
    }
    Ok(insert_topic(conn, env, org, new)?.1)
}

fn upsert(
    conn: &Connection,
    env: &ObjectId,
    org: &ObjectId,
    new: &NewTopic,
) -> DbResult<(Topic, bool)> {
    match find_topic(conn, env, &new.key)? {
        Some((pk, topic)) => {
            let patch = TopicPatch {
                name: new.name.clone(),
                data: new.data.clone(),
            };
            Ok((apply_patch(conn, pk, topic, &patch)?, false))
        }
        None => Ok((insert_topic(conn, env, org, new)?.1, true)),
    }
}

fn update(
    conn: &Connection,
    env: &ObjectId,
    key: &str,
    patch: &TopicPatch,
) -> DbResult<Option<Topic>> {
    match find_topic(conn, env, key)? {
        Some((pk, topic)) => Ok(Some(apply_patch(conn, pk, topic, patch)?)),
        None => Ok(None),
    }
}

fn delete(conn: &Connection, env: &ObjectId, key: &str) -> DbResult<bool> {
    // Memberships go with the topic (ON DELETE CASCADE).
    let removed = conn
        .prepare_cached("DELETE FROM topics WHERE environment_id = ?1 AND key = ?2")?
        .execute((env.as_str(), key))?;
    Ok(removed > 0)
}

fn list(
    conn: &Connection,
    env: &ObjectId,
    key: Option<&str>,
    offset: u64,
    limit: u64,
) -> DbResult<(Vec<Topic>, u64)> {
    // Two statement shapes rather than `(?2 IS NULL OR key = ?2)`, which would keep the key
    // lookup off the unique index.
    let filter = match key {
        Some(_) => "environment_id = ?1 AND key = ?2",
        None => "environment_id = ?1 AND ?2 IS NULL",
    };
    let total: i64 = conn
        .prepare_cached(&format!("SELECT count(*) FROM topics WHERE {filter}"))?
        .query_row((env.as_str(), key), |r| r.get(0))?;
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {TOPIC_COLUMNS} FROM topics WHERE {filter} ORDER BY pk LIMIT ?3 OFFSET ?4"
    ))?;
    let topics = stmt
        .query_map(
            (env.as_str(), key, clamp(limit), clamp(offset)),
            crate::rows::topic,
        )?
        .map(|r| r.map(|(_, t)| t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((topics, total as u64))
}

fn search(
    conn: &Connection,
    env: &ObjectId,
    filter: &TopicFilter,
    page: &CursorQuery,
) -> DbResult<CursorPage<Topic>> {
    let mut listing = Listing {
        columns: TOPIC_COLUMNS,
        from_where: "FROM topics WHERE environment_id = ?".into(),
        params: vec![text(env.as_str())],
        pk: "pk",
        cursor_table: "topics",
    };
    if let Some(key) = &filter.key {
        listing.and("key = ?", [text(key)]);
    }
    if let Some(name) = &filter.name {
        listing.and("herald_contains(name, ?)", [text(&fold_needle(name))]);
    }
    fetch_page(conn, &listing, env, page, crate::rows::topic)
}

/// SQLite integers are signed; paging values past `i64::MAX` mean "everything" anyway.
fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[async_trait]
impl TopicStore for SqliteStore {
    async fn create_topic(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewTopic,
    ) -> StoreResult<Topic> {
        let (env, org, new) = (env.clone(), org.clone(), new.clone());
        self.writer
            .write(move |conn| create(conn, &env, &org, &new))
            .await
    }

    async fn upsert_topic(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewTopic,
    ) -> StoreResult<(Topic, bool)> {
        let (env, org, new) = (env.clone(), org.clone(), new.clone());
        self.writer
            .write(move |conn| upsert(conn, &env, &org, &new))
            .await
    }

    async fn get_topic(&self, env: &ObjectId, key: &str) -> StoreResult<Option<Topic>> {
        let (env, key) = (env.clone(), key.to_string());
        self.readers
            .lookup(move |conn| Ok(find_topic(conn, &env, &key)?.map(|(_, t)| t)))
            .await
    }

    async fn list_topics(
        &self,
        env: &ObjectId,
        key: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<(Vec<Topic>, u64)> {
        let (env, key) = (env.clone(), key.map(str::to_string));
        self.readers
            .read(move |conn| list(conn, &env, key.as_deref(), offset, limit))
            .await
    }

    async fn search_topics(
        &self,
        env: &ObjectId,
        filter: &TopicFilter,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<Topic>> {
        let (env, filter, page) = (env.clone(), filter.clone(), page.clone());
        self.readers
            .read(move |conn| search(conn, &env, &filter, &page))
            .await
    }

    async fn update_topic(
        &self,
        env: &ObjectId,
        key: &str,
        patch: &TopicPatch,
    ) -> StoreResult<Option<Topic>> {
        let (env, key, patch) = (env.clone(), key.to_string(), patch.clone());
        self.writer
            .write(move |conn| update(conn, &env, &key, &patch))
            .await
    }

    async fn delete_topic(&self, env: &ObjectId, key: &str) -> StoreResult<bool> {
        let (env, key) = (env.clone(), key.to_string());
        self.writer
            .write(move |conn| delete(conn, &env, &key))
            .await
    }

    async fn add_topic_subscribers(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        key: &str,
        requested: &[NewSubscription],
        name_if_created: Option<&str>,
    ) -> StoreResult<AddSubscribersOutcome> {
        let (env, org, key, requested) = (
            env.clone(),
            org.clone(),
            key.to_string(),
            requested.to_vec(),
        );
        let name = name_if_created.map(str::to_string);
        self.writer
            .write(move |conn| subscriptions::add(conn, &env, &org, &key, &requested, name))
            .await
    }

    async fn remove_topic_subscribers(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_ids: &[String],
    ) -> StoreResult<Vec<TopicSubscription>> {
        let (env, key, ids) = (env.clone(), key.to_string(), subscriber_ids.to_vec());
        self.writer
            .write(move |conn| subscriptions::remove(conn, &env, &key, &ids))
            .await
    }

    async fn topic_subscriptions(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_id: Option<&str>,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<TopicSubscription>> {
        let (env, key, page) = (env.clone(), key.to_string(), page.clone());
        let subscriber_id = subscriber_id.map(str::to_string);
        self.readers
            .read(move |conn| {
                subscriptions::of_topic(conn, &env, &key, subscriber_id.as_deref(), &page)
            })
            .await
    }

    async fn get_topic_subscription(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_id: &str,
    ) -> StoreResult<Option<TopicSubscription>> {
        let (env, key, sid) = (env.clone(), key.to_string(), subscriber_id.to_string());
        self.readers
            .lookup(move |conn| subscriptions::get(conn, &env, &key, &sid))
            .await
    }

    async fn get_topic_subscription_by_identifier(
        &self,
        env: &ObjectId,
        key: &str,
        identifier: &str,
    ) -> StoreResult<Option<TopicSubscription>> {
        let (env, key, identifier) = (env.clone(), key.to_string(), identifier.to_string());
        self.readers
            .lookup(move |conn| subscriptions::get_by_identifier(conn, &env, &key, &identifier))
            .await
    }

    async fn subscriber_subscriptions(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        key: Option<&str>,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<TopicSubscription>> {
        let (env, sid, page) = (env.clone(), subscriber_id.to_string(), page.clone());
        let key = key.map(str::to_string);
        self.readers
            .read(move |conn| subscriptions::of_subscriber(conn, &env, &sid, key.as_deref(), &page))
            .await
    }

    async fn topic_subscriber_ids(&self, env: &ObjectId, key: &str) -> StoreResult<Vec<String>> {
        let (env, key) = (env.clone(), key.to_string());
        self.readers
            .read(move |conn| subscriptions::member_ids(conn, &env, &key))
            .await
    }
}
