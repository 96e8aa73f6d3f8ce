//! Topics: creating (v1 strict, v2 upsert), reading, listing, renaming and deleting. Memberships
//! live in `subscriptions.rs`.
//!
//! Creation is race-free across processes through the `(environment_id, key)` unique key: a strict
//! create is `INSERT … ON CONFLICT DO NOTHING` (no row back means the key is taken), an upsert is
//! `INSERT … ON CONFLICT DO UPDATE … RETURNING`, whose `xmax = 0` says whether the row was inserted.

use async_trait::async_trait;
use herald_core::topic::{
    AddSubscribersOutcome, CursorPage, CursorQuery, NewSubscription, NewTopic, Topic, TopicFilter,
    TopicPatch, TopicSubscription,
};
use herald_core::{ObjectId, StoreError, StoreResult, TopicStore};
use sqlx::postgres::PgConnection;

use crate::error::{db, retrying, Error, Result};
use crate::pagination::{fold_collation, page_keys, push_contains};
use crate::rows::{json_text, now, TopicRow, TOPIC_COLUMNS};
use crate::PgStore;

/// Rounds of "insert or lock" in [`topic_for_membership`]; each lost round means another
/// transaction deleted the topic in between, so more than a couple never happen in practice.
const ROUNDS: usize = 8;

#[derive(sqlx::FromRow)]
struct UpsertedRow {
    #[sqlx(flatten)]
    topic: TopicRow,
    created: bool,
}

/// The key of topic `key`, created with `name` if missing, and locked against deletion (`FOR KEY
/// SHARE`) until the transaction ends, so memberships can be added to it.
pub(crate) async fn topic_for_membership(
    conn: &mut PgConnection,
    env: &ObjectId,
    org: &ObjectId,
    key: &str,
    name: Option<&str>,
) -> Result<i64> {
    let now = now();
    for _ in 0..ROUNDS {
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO topics (id, environment_id, organization_id, key, name, created_at,
                 updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6)
             ON CONFLICT (environment_id, key) DO NOTHING
             RETURNING pk",
        )
        .bind(ObjectId::new().as_str())
        .bind(env.as_str())
        .bind(org.as_str())
        .bind(key)
        .bind(name)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(pk) = inserted {
            return Ok(pk);
        }
        // Under READ COMMITTED this statement sees the row whose conflict stopped the insert.
        let existing: Option<i64> = sqlx::query_scalar(
            "SELECT pk FROM topics WHERE environment_id = $1 AND key = $2 FOR KEY SHARE",
        )
        .bind(env.as_str())
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(pk) = existing {
            return Ok(pk);
        }
        // Deleted between the two statements: insert it again.
    }
    Err(Error::Store(StoreError::Conflict(format!(
        "topic {key:?} kept changing under concurrent writes; try again"
    ))))
}

/// `updated_at` moves only when the patch changes `name` or `data`; `$n`/`$d` are the new values
/// (NULL: unchanged), `$now` the time. Used by the upsert's `DO UPDATE` and by `update_topic`.
fn patched_set(n: &str, d: &str, now: &str) -> String {
    format!(
        "name = COALESCE({n}, t.name),
         data = COALESCE({d}, t.data),
         updated_at = CASE
             WHEN COALESCE({n}, t.name) IS DISTINCT FROM t.name
               OR COALESCE({d}, t.data) IS DISTINCT FROM t.data
             THEN {now} ELSE t.updated_at END"
    )
}

impl PgStore {
    pub(crate) async fn create_topic_impl(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewTopic,
    ) -> StoreResult<Topic> {
        let row: Option<TopicRow> = sqlx::query_as(&format!(
            "INSERT INTO topics AS t (id, environment_id, organization_id, key, name, data,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (environment_id, key) DO NOTHING
             RETURNING {TOPIC_COLUMNS}"
        ))
        .bind(ObjectId::new().as_str())
        .bind(env.as_str())
        .bind(org.as_str())
        .bind(&new.key)
        .bind(new.name.as_deref())
        .bind(new.data.as_ref().map(json_text))
        .bind(now())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        match row {
            Some(row) => Ok(row.into_topic()?),
            None => Err(StoreError::Conflict(format!(
                "a topic with key {:?} already exists",
                new.key
            ))),
        }
    }

    pub(crate) async fn upsert_topic_impl(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewTopic,
    ) -> StoreResult<(Topic, bool)> {
        // One statement: two racing upserts of one key insert once, and the loser updates the
        // winner's row (the unique index makes it wait for the winner's commit).
        let row: UpsertedRow = sqlx::query_as(&format!(
            "INSERT INTO topics AS t (id, environment_id, organization_id, key, name, data,
                 created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
             ON CONFLICT (environment_id, key) DO UPDATE SET {set}
             RETURNING {TOPIC_COLUMNS}, (t.xmax = 0) AS created",
            set = patched_set("EXCLUDED.name", "EXCLUDED.data", "EXCLUDED.updated_at"),
        ))
        .bind(ObjectId::new().as_str())
        .bind(env.as_str())
        .bind(org.as_str())
        .bind(&new.key)
        .bind(new.name.as_deref())
        .bind(new.data.as_ref().map(json_text))
        .bind(now())
        .fetch_one(&self.pool)
        .await
        .map_err(db)?;
        Ok((row.topic.into_topic()?, row.created))
    }

    pub(crate) async fn get_topic_impl(
        &self,
        env: &ObjectId,
        key: &str,
    ) -> StoreResult<Option<Topic>> {
        let row: Option<TopicRow> = sqlx::query_as(&format!(
            "SELECT {TOPIC_COLUMNS} FROM topics t WHERE t.environment_id = $1 AND t.key = $2"
        ))
        .bind(env.as_str())
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(TopicRow::into_topic).transpose()?)
    }

    pub(crate) async fn list_topics_impl(
        &self,
        env: &ObjectId,
        key: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<(Vec<Topic>, u64)> {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let mut tx = self.scan().await?;
        let rows: Vec<TopicRow> = sqlx::query_as(&format!(
            "SELECT {TOPIC_COLUMNS} FROM topics t
             WHERE t.environment_id = $1 AND ($2::text IS NULL OR t.key = $2)
             ORDER BY t.pk OFFSET $3 LIMIT $4"
        ))
        .bind(env.as_str())
        .bind(key)
        .bind(clamp(offset))
        .bind(clamp(limit))
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM topics t
             WHERE t.environment_id = $1 AND ($2::text IS NULL OR t.key = $2)",
        )
        .bind(env.as_str())
        .bind(key)
        .fetch_one(&mut *tx)
        .await
        .map_err(db)?;
        tx.finish().await?;
        let topics = rows
            .into_iter()
            .map(TopicRow::into_topic)
            .collect::<Result<_>>()?;
        Ok((topics, u64::try_from(total).unwrap_or(0)))
    }

    pub(crate) async fn search_topics_impl(
        &self,
        env: &ObjectId,
        filter: &TopicFilter,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<Topic>> {
        let collation = fold_collation(self).await.map_err(db)?;
        let mut tx = self.scan().await?;
        let keys = page_keys(&mut tx, env, "topics", page, |q| {
            q.push("SELECT t.pk FROM topics t WHERE t.environment_id = ")
                .push_bind(env.as_str().to_owned());
            if let Some(key) = &filter.key {
                q.push(" AND t.key = ").push_bind(key.clone());
            }
            if let Some(name) = &filter.name {
                q.push(" AND ");
                push_contains(q, collation, "t.name", name);
            }
        })
        .await
        .map_err(db)?;
        let rows: Vec<TopicRow> = sqlx::query_as(&format!(
            "SELECT {TOPIC_COLUMNS} FROM topics t
             JOIN UNNEST($1::bigint[]) WITH ORDINALITY AS o(pk, n) ON o.pk = t.pk
             ORDER BY o.n"
        ))
        .bind(&keys.pks)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.finish().await?;
        let topics = rows
            .into_iter()
            .map(TopicRow::into_topic)
            .collect::<Result<_>>()?;
        Ok(keys.with_items(topics))
    }

    pub(crate) async fn update_topic_impl(
        &self,
        env: &ObjectId,
        key: &str,
        patch: &TopicPatch,
    ) -> StoreResult<Option<Topic>> {
        let row: Option<TopicRow> = sqlx::query_as(&format!(
            "UPDATE topics AS t SET {set}
             WHERE t.environment_id = $1 AND t.key = $2
             RETURNING {TOPIC_COLUMNS}",
            set = patched_set("$3::text", "$4::text", "$5::bigint"),
        ))
        .bind(env.as_str())
        .bind(key)
        .bind(patch.name.as_deref())
        .bind(patch.data.as_ref().map(json_text))
        .bind(now())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(TopicRow::into_topic).transpose()?)
    }

    pub(crate) async fn delete_topic_impl(&self, env: &ObjectId, key: &str) -> StoreResult<bool> {
        // Its subscriptions go with it (ON DELETE CASCADE), in the same statement.
        let deleted = sqlx::query("DELETE FROM topics WHERE environment_id = $1 AND key = $2")
            .bind(env.as_str())
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(db)?;
        Ok(deleted.rows_affected() > 0)
    }
}

#[async_trait]
impl TopicStore for PgStore {
    async fn create_topic(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewTopic,
    ) -> StoreResult<Topic> {
        self.create_topic_impl(env, org, new).await
    }

    async fn upsert_topic(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewTopic,
    ) -> StoreResult<(Topic, bool)> {
        self.upsert_topic_impl(env, org, new).await
    }

    async fn get_topic(&self, env: &ObjectId, key: &str) -> StoreResult<Option<Topic>> {
        self.get_topic_impl(env, key).await
    }

    async fn list_topics(
        &self,
        env: &ObjectId,
        key: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<(Vec<Topic>, u64)> {
        self.list_topics_impl(env, key, offset, limit).await
    }

    async fn search_topics(
        &self,
        env: &ObjectId,
        filter: &TopicFilter,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<Topic>> {
        self.search_topics_impl(env, filter, page).await
    }

    async fn update_topic(
        &self,
        env: &ObjectId,
        key: &str,
        patch: &TopicPatch,
    ) -> StoreResult<Option<Topic>> {
        self.update_topic_impl(env, key, patch).await
    }

    async fn delete_topic(&self, env: &ObjectId, key: &str) -> StoreResult<bool> {
        self.delete_topic_impl(env, key).await
    }

    async fn add_topic_subscribers(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        key: &str,
        requested: &[NewSubscription],
        name_if_created: Option<&str>,
    ) -> StoreResult<AddSubscribersOutcome> {
        retrying(|| self.add_topic_subscribers_once(env, org, key, requested, name_if_created))
            .await
    }

    async fn remove_topic_subscribers(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_ids: &[String],
    ) -> StoreResult<Vec<TopicSubscription>> {
        self.remove_topic_subscribers_impl(env, key, subscriber_ids)
            .await
    }

    async fn topic_subscriptions(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_id: Option<&str>,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<TopicSubscription>> {
        self.topic_subscriptions_impl(env, key, subscriber_id, page)
            .await
    }

    async fn get_topic_subscription(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_id: &str,
    ) -> StoreResult<Option<TopicSubscription>> {
        self.get_topic_subscription_impl(env, key, subscriber_id)
            .await
    }

    async fn get_topic_subscription_by_identifier(
        &self,
        env: &ObjectId,
        key: &str,
        identifier: &str,
    ) -> StoreResult<Option<TopicSubscription>> {
        self.get_topic_subscription_by_identifier_impl(env, key, identifier)
            .await
    }

    async fn subscriber_subscriptions(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        key: Option<&str>,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<TopicSubscription>> {
        self.subscriber_subscriptions_impl(env, subscriber_id, key, page)
            .await
    }

    async fn topic_subscriber_ids(&self, env: &ObjectId, key: &str) -> StoreResult<Vec<String>> {
        self.topic_subscriber_ids_impl(env, key).await
    }
}
