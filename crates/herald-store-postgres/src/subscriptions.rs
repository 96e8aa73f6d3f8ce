//! Topic memberships: adding and removing subscribers, and the three ways of reading them (one
//! membership, a topic's members, a subscriber's topics).
//!
//! Adding is one transaction that is safe to race from several processes: the topic is created
//! with `INSERT … ON CONFLICT DO NOTHING` (or found and locked against deletion), the subscribers
//! are locked `FOR SHARE` (a concurrent soft delete waits, or has already removed them from the
//! candidates), and the memberships are inserted with `ON CONFLICT DO NOTHING`, so two racing adds
//! of one subscriber store one membership and both report it. That statement also skips a
//! subscription whose identifier another membership of the topic has (`UNIQUE (topic_pk,
//! identifier)`): a found subscriber left without a membership afterwards lost its identifier to
//! another one and is reported as a conflict.
//!
//! Memberships of soft-deleted subscribers are removed by `delete_subscriber`; reads still exclude
//! deleted subscribers, so a row left by an older version is never shown.

use std::collections::{HashMap, HashSet};

use herald_core::topic::{
    AddSubscribersOutcome, CursorPage, CursorQuery, IdentifierConflict, NewSubscription,
    TopicSubscription,
};
use herald_core::{ObjectId, StoreResult};

use crate::error::{db, Result};
use crate::pagination::page_keys;
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

/// The requested subscriptions, one per subscriber id (its first occurrence), in request order.
fn distinct_subscribers(requested: &[NewSubscription]) -> Vec<&NewSubscription> {
    let mut seen = HashSet::with_capacity(requested.len());
    requested
        .iter()
        .filter(|r| seen.insert(r.subscriber_id.as_str()))
        .collect()
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
        requested: &[NewSubscription],
        name_if_created: Option<&str>,
    ) -> Result<AddSubscribersOutcome> {
        let requested = distinct_subscribers(requested);
        let ids: Vec<&str> = requested.iter().map(|r| r.subscriber_id.as_str()).collect();
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
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?;
        let by_id: HashMap<&str, i64> = found.iter().map(|(pk, id)| (id.as_str(), *pk)).collect();
        // The found subscribers, in request order, with what their new membership would be.
        let mut candidates = Vec::with_capacity(found.len());
        let mut not_found = Vec::new();
        for r in &requested {
            match by_id.get(r.subscriber_id.as_str()) {
                Some(pk) => candidates.push((*pk, *r)),
                None => not_found.push(r.subscriber_id.clone()),
            }
        }
        let pks: Vec<i64> = candidates.iter().map(|(pk, _)| *pk).collect();
        let new_ids: Vec<String> = pks.iter().map(|_| ObjectId::new().to_string()).collect();
        let identifiers: Vec<String> = candidates
            .iter()
            .map(|(_, r)| r.identifier_in(key))
            .collect();
        let names: Vec<Option<&str>> = candidates.iter().map(|(_, r)| r.name.as_deref()).collect();
        // ORDER BY the request position, so the serial `pk` (membership order) follows it, and an
        // identifier repeated within the request goes to its first subscriber.
        sqlx::query(
            "INSERT INTO topic_subscriptions (id, environment_id, topic_pk, subscriber_pk,
                 identifier, name, created_at, updated_at)
             SELECT u.id, $1, $2, u.subscriber_pk, u.identifier, u.name, $3, $3
             FROM UNNEST($4::text[], $5::bigint[], $6::text[], $7::text[])
                 WITH ORDINALITY AS u(id, subscriber_pk, identifier, name, n)
             ORDER BY u.n
             ON CONFLICT DO NOTHING",
        )
        .bind(env.as_str())
        .bind(topic_pk)
        .bind(now())
        .bind(&new_ids)
        .bind(&pks)
        .bind(&identifiers)
        .bind(&names)
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
        let subscriptions = into_subscriptions(rows)?;
        let members: HashSet<&str> = subscriptions
            .iter()
            .map(|s| s.subscriber.subscriber_id.as_str())
            .collect();
        let conflicts = candidates
            .iter()
            .zip(identifiers)
            .filter(|((_, r), _)| !members.contains(r.subscriber_id.as_str()))
            .map(|((_, r), identifier)| IdentifierConflict {
                subscriber_id: r.subscriber_id.clone(),
                identifier,
            })
            .collect();
        Ok(AddSubscribersOutcome {
            subscriptions,
            not_found,
            conflicts,
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
        let mut tx = self.scan().await?;
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
        tx.finish().await?;
        Ok(keys.with_items(into_subscriptions(rows)?))
    }

    pub(crate) async fn get_topic_subscription_impl(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_id: &str,
    ) -> StoreResult<Option<TopicSubscription>> {
        self.one_subscription(env, key, "s.subscriber_id", subscriber_id)
            .await
    }

    pub(crate) async fn get_topic_subscription_by_identifier_impl(
        &self,
        env: &ObjectId,
        key: &str,
        identifier: &str,
    ) -> StoreResult<Option<TopicSubscription>> {
        self.one_subscription(env, key, "ts.identifier", identifier)
            .await
    }

    /// The live subscription of topic `key` whose `column` (a fixed column name, never input)
    /// equals `value`.
    async fn one_subscription(
        &self,
        env: &ObjectId,
        key: &str,
        column: &'static str,
        value: &str,
    ) -> StoreResult<Option<TopicSubscription>> {
        let row: Option<SubscriptionRow> = sqlx::query_as(&format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM topic_subscriptions ts {SUBSCRIPTION_JOINS}
             WHERE ts.environment_id = $1 AND t.key = $2 AND {column} = $3
               AND NOT s.deleted"
        ))
        .bind(env.as_str())
        .bind(key)
        .bind(value)
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
        // Every member of the topic: a scan.
        let mut scan = self.scan().await?;
        let ids = sqlx::query_scalar(&format!(
            "SELECT s.subscriber_id FROM topic_subscriptions ts {SUBSCRIPTION_JOINS}
             WHERE ts.environment_id = $1 AND t.key = $2 AND NOT s.deleted
             ORDER BY ts.pk"
        ))
        .bind(env.as_str())
        .bind(key)
        .fetch_all(&mut *scan)
        .await
        .map_err(db)?;
        scan.finish().await?;
        Ok(ids)
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

    #[test]
    fn a_repeated_subscriber_keeps_its_first_requested_subscription() {
        let named = |id: &str, identifier: &str| NewSubscription {
            identifier: Some(identifier.into()),
            ..NewSubscription::of(id)
        };
        let requested = [
            named("b", "first"),
            NewSubscription::of("a"),
            named("b", "second"),
        ];
        assert_eq!(
            distinct_subscribers(&requested),
            [&requested[0], &requested[1]]
        );
    }
}
