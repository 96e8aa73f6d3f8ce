//! Topic memberships: adding and removing subscribers, and the three ways of reading them (one
//! membership, a topic's members, a subscriber's topics).
//!
//! Adding is one transaction that is safe to race from several processes: the topic is created
//! with `INSERT … ON CONFLICT DO NOTHING` (or found and locked against deletion), the subscribers
//! are locked `FOR SHARE` (a concurrent soft delete waits, or has already removed them from the
//! candidates), and the memberships are inserted with `ON CONFLICT (topic_pk, subscriber_pk) DO
//! NOTHING`, so two racing adds of one subscriber store one membership and both report it.
//!
//! Memberships of soft-deleted subscribers are removed by `delete_subscriber`; reads still exclude
//! deleted subscribers, so a row left by an older version is never shown.

use std::collections::HashMap;

use herald_core::topic::{AddSubscribersOutcome, CursorPage, CursorQuery, TopicSubscription};
use herald_core::{ObjectId, StoreResult};

use crate::error::{db, Result};
use crate::pagination::{page_keys, snapshot};
use crate::rows::{now, SubscriptionRow, SUBSCRIPTION_COLUMNS, SUBSCRIPTION_JOINS};
use crate::topics::topic_for_membership;
use crate::PgStore;

/// `ids` without repeats, in first-seen order.
fn distinct(ids: &[String]) -> Vec<&str> {
    let mut seen = Vec::with_capacity(ids.len());
    for id in ids {
        if !seen.contains(&id.as_str()) {
            seen.push(id.as_str());
        }
    }
    seen
}

fn into_subscriptions(rows: Vec<SubscriptionRow>) -> Result<Vec<TopicSubscription>> {
    rows.into_iter()
        .map(SubscriptionRow::into_subscription)
        .collect()
}

impl PgStore {
    pub(crate) async fn add_topic_subscribers_once(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        key: &str,
        subscriber_ids: &[String],
        name_if_created: Option<&str>,
    ) -> Result<AddSubscribersOutcome> {
        let requested = distinct(subscriber_ids);
        let mut tx = self.pool.begin().await?;
        let topic_pk = topic_for_membership(&mut tx, env, org, key, name_if_created).await?;
        // Locked in key order, so two adds never wait on each other's subscribers in a cycle.
        let found: Vec<(i64, String)> = sqlx::query_as(
            "SELECT pk, subscriber_id FROM subscribers
             WHERE environment_id = $1 AND subscriber_id = ANY($2) AND NOT deleted
             ORDER BY pk
             FOR SHARE",
        )
        .bind(env.as_str())
        .bind(&requested)
        .fetch_all(&mut *tx)
        .await?;
        let by_id: HashMap<&str, i64> = found.iter().map(|(pk, id)| (id.as_str(), *pk)).collect();
        let mut pks = Vec::with_capacity(found.len());
        let mut not_found = Vec::new();
        for id in &requested {
            match by_id.get(id) {
                Some(pk) => pks.push(*pk),
                None => not_found.push(id.to_string()),
            }
        }
        let new_ids: Vec<String> = pks.iter().map(|_| ObjectId::new().to_string()).collect();
        // ORDER BY the request position, so the serial `pk` (membership order) follows it.
        sqlx::query(
            "INSERT INTO topic_subscriptions (id, environment_id, topic_pk, subscriber_pk,
                 created_at, updated_at)
             SELECT u.id, $1, $2, u.subscriber_pk, $3, $3
             FROM UNNEST($4::text[], $5::bigint[]) WITH ORDINALITY AS u(id, subscriber_pk, n)
             ORDER BY u.n
             ON CONFLICT (topic_pk, subscriber_pk) DO NOTHING",
        )
        .bind(env.as_str())
        .bind(topic_pk)
        .bind(now())
        .bind(&new_ids)
        .bind(&pks)
        .execute(&mut *tx)
        .await?;
        // New and existing memberships alike, in request order.
        let rows: Vec<SubscriptionRow> = sqlx::query_as(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM topic_subscriptions ts {SUBSCRIPTION_JOINS}
             JOIN UNNEST($2::bigint[]) WITH ORDINALITY AS o(pk, n) ON o.pk = ts.subscriber_pk
             WHERE ts.topic_pk = $1
             ORDER BY o.n"
        ))
        .bind(topic_pk)
        .bind(&pks)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(AddSubscribersOutcome {
            subscriptions: into_subscriptions(rows)?,
            not_found,
        })
    }

    pub(crate) async fn remove_topic_subscribers_impl(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_ids: &[String],
    ) -> StoreResult<Vec<TopicSubscription>> {
        // One statement: the outer SELECT joins the deleted rows with the snapshot the DELETE ran
        // on, so each removed membership comes back with its topic and subscriber.
        let rows: Vec<SubscriptionRow> = sqlx::query_as(&format!(
            "WITH ts AS (
                 DELETE FROM topic_subscriptions d
                 USING topics t, subscribers s
                 WHERE t.pk = d.topic_pk AND s.pk = d.subscriber_pk
                   AND t.environment_id = $1 AND t.key = $2
                   AND s.environment_id = $1 AND s.subscriber_id = ANY($3) AND NOT s.deleted
                 RETURNING d.*
             )
             SELECT {SUBSCRIPTION_COLUMNS} FROM ts {SUBSCRIPTION_JOINS}
             ORDER BY array_position($3, s.subscriber_id)"
        ))
        .bind(env.as_str())
        .bind(key)
        .bind(distinct(subscriber_ids))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(into_subscriptions(rows)?)
    }

    pub(crate) async fn topic_subscriptions_impl(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_id: Option<&str>,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<TopicSubscription>> {
        self.subscriptions_page(env, page, |q| {
            q.push(" AND t.key = ").push_bind(key.to_owned());
            if let Some(id) = subscriber_id {
                q.push(" AND s.subscriber_id = ").push_bind(id.to_owned());
            }
        })
        .await
    }

    pub(crate) async fn subscriber_subscriptions_impl(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        key: Option<&str>,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<TopicSubscription>> {
        self.subscriptions_page(env, page, |q| {
            q.push(" AND s.subscriber_id = ")
                .push_bind(subscriber_id.to_owned());
            if let Some(key) = key {
                q.push(" AND t.key = ").push_bind(key.to_owned());
            }
        })
        .await
    }

    /// A page of the environment's memberships of live subscribers narrowed by `filter`, which
    /// pushes ` AND …` conditions on `ts`, `t` and `s`.
    async fn subscriptions_page(
        &self,
        env: &ObjectId,
        page: &CursorQuery,
        filter: impl FnOnce(&mut crate::pagination::Sql),
    ) -> StoreResult<CursorPage<TopicSubscription>> {
        let mut tx = snapshot(&self.pool).await.map_err(db)?;
        let keys = page_keys(&mut tx, env, "topic_subscriptions", page, |q| {
            q.push("SELECT ts.pk FROM topic_subscriptions ts ")
                .push(SUBSCRIPTION_JOINS)
                .push(" WHERE ts.environment_id = ")
                .push_bind(env.as_str().to_owned())
                .push(" AND NOT s.deleted");
            filter(q);
        })
        .await
        .map_err(db)?;
        let rows: Vec<SubscriptionRow> = sqlx::query_as(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM topic_subscriptions ts {SUBSCRIPTION_JOINS}
             JOIN UNNEST($1::bigint[]) WITH ORDINALITY AS o(pk, n) ON o.pk = ts.pk
             ORDER BY o.n"
        ))
        .bind(&keys.pks)
        .fetch_all(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        Ok(keys.with_items(into_subscriptions(rows)?))
    }

    pub(crate) async fn get_topic_subscription_impl(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_id: &str,
    ) -> StoreResult<Option<TopicSubscription>> {
        let row: Option<SubscriptionRow> = sqlx::query_as(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM topic_subscriptions ts {SUBSCRIPTION_JOINS}
             WHERE ts.environment_id = $1 AND t.key = $2 AND s.subscriber_id = $3
               AND NOT s.deleted"
        ))
        .bind(env.as_str())
        .bind(key)
        .bind(subscriber_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(SubscriptionRow::into_subscription).transpose()?)
    }

    pub(crate) async fn topic_subscriber_ids_impl(
        &self,
        env: &ObjectId,
        key: &str,
    ) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(&format!(
            "SELECT s.subscriber_id FROM topic_subscriptions ts {SUBSCRIPTION_JOINS}
             WHERE ts.environment_id = $1 AND t.key = $2 AND NOT s.deleted
             ORDER BY ts.pk"
        ))
        .bind(env.as_str())
        .bind(key)
        .fetch_all(&self.pool)
        .await
        .map_err(db)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_ids_are_kept_once_in_first_seen_order() {
        let ids: Vec<String> = ["b", "a", "b", "c", "a"].map(String::from).into();
        assert_eq!(distinct(&ids), ["b", "a", "c"]);
    }
}
