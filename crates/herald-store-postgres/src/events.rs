//! Accepting triggers ([`EventStore`]) on PostgreSQL: the event with its directly named recipients
//! and the `Idempotency-Key` record in one transaction, fan-out one page per transaction, and
//! cancellation.
//!
//! Races between processes are settled by unique keys: the idempotency key and the
//! `(environment, transactionId)` of events are inserted with `ON CONFLICT DO NOTHING` (a
//! concurrent insert of the same key waits for the other transaction and then sees its row), a
//! notification is unique per (event, subscriber). A fan-out page locks its cursor row with
//! `FOR UPDATE SKIP LOCKED`, so two processes expand different fan-outs (or one waits its turn).

use std::collections::HashSet;

use async_trait::async_trait;
use herald_core::delivery::event::{
    EventCreated, IdempotencyRecord, IdempotentResponse, NewEvent, WorkflowSnapshot,
    IDEMPOTENCY_TTL_MS,
};
use herald_core::delivery::{EventStore, FanOutProgress};
use herald_core::{NewSubscriber, ObjectId, Profile, StoreResult, Timestamp};
use serde_json::Value;
use sqlx::postgres::PgConnection;
use sqlx::{Connection, FromRow};

use crate::error::{db, retrying, Result};
use crate::rows::{json_text, now};
use crate::subscribers::{insert, lock_any, unsettled, UPSERT_ROUNDS};
use crate::PgStore;

#[derive(FromRow)]
struct IdempotencyRow {
    request_hash: String,
    status: i64,
    body: String,
    created_at: i64,
}

impl From<IdempotencyRow> for IdempotentResponse {
    fn from(r: IdempotencyRow) -> Self {
        IdempotentResponse {
            request_hash: r.request_hash,
            status: u16::try_from(r.status).unwrap_or(500),
            body: r.body,
            created_at: Timestamp::from_millis(r.created_at),
        }
    }
}

async fn find_idempotent(
    conn: &mut PgConnection,
    env: &ObjectId,
    key: &str,
    now: i64,
) -> Result<Option<IdempotentResponse>> {
    let row: Option<IdempotencyRow> = sqlx::query_as(
        "SELECT request_hash, status, body, created_at FROM idempotency_keys
         WHERE environment_id = $1 AND key = $2 AND created_at > $3",
    )
    .bind(env.as_str())
    .bind(key)
    .bind(now - IDEMPOTENCY_TTL_MS)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}

/// Stores `record` unless its key holds a live answer, which is returned instead (an expired one
/// is replaced). A concurrent transaction storing the same key makes this one wait for it.
async fn claim_idempotency_key(
    conn: &mut PgConnection,
    env: &ObjectId,
    record: &IdempotencyRecord,
    now: i64,
) -> Result<Option<IdempotentResponse>> {
    let r = &record.response;
    let stored: Option<String> = sqlx::query_scalar(
        "INSERT INTO idempotency_keys (environment_id, key, request_hash, status, body, created_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (environment_id, key) DO UPDATE SET request_hash = excluded.request_hash,
             status = excluded.status, body = excluded.body, created_at = excluded.created_at
         WHERE idempotency_keys.created_at <= $7
         RETURNING key",
    )
    .bind(env.as_str())
    .bind(&record.key)
    .bind(&r.request_hash)
    .bind(i64::from(r.status))
    .bind(&r.body)
    .bind(r.created_at.millis())
    .bind(now - IDEMPOTENCY_TTL_MS)
    .fetch_optional(&mut *conn)
    .await?;
    if stored.is_some() {
        return Ok(None);
    }
    find_idempotent(conn, env, &record.key, now).await
}

/// The subscriber's `(pk, _id)`, creating it with just its id if missing; a soft-deleted one is
/// replaced by a fresh subscriber.
async fn ensure_subscriber(
    conn: &mut PgConnection,
    env: &ObjectId,
    org: &ObjectId,
    subscriber_id: &str,
    now: i64,
) -> Result<(i64, String)> {
    let new = NewSubscriber {
        subscriber_id: subscriber_id.to_string(),
        profile: Profile::default(),
    };
    for _ in 0..UPSERT_ROUNDS {
        let pk = match insert(conn, env, org, &new, Some(0), now).await? {
            Some(pk) => Some(pk),
            None => match lock_any(conn, env, subscriber_id).await? {
                Some(row) if !row.deleted => Some(row.pk),
                Some(row) => {
                    sqlx::query("DELETE FROM subscribers WHERE pk = $1")
                        .bind(row.pk)
                        .execute(&mut *conn)
                        .await?;
                    None
                }
                None => None,
            },
        };
        if let Some(pk) = pk {
            let id: String = sqlx::query_scalar("SELECT id FROM subscribers WHERE pk = $1")
                .bind(pk)
                .fetch_one(&mut *conn)
                .await?;
            return Ok((pk, id));
        }
    }
    Err(unsettled(subscriber_id))
}

/// A notification for this subscriber and one queued job per step, unless the event already
/// reaches the subscriber. Returns whether it was created.
async fn insert_notification(
    conn: &mut PgConnection,
    event_pk: i64,
    env: &str,
    workflow: &WorkflowSnapshot,
    subscriber: (i64, &str, &str),
    now: i64,
) -> Result<bool> {
    let (subscriber_pk, subscriber_ref, subscriber_id) = subscriber;
    let inserted: Option<i64> = sqlx::query_scalar(
        "INSERT INTO notifications (id, event_pk, environment_id, subscriber_pk, subscriber_ref,
             subscriber_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (event_pk, subscriber_pk) DO NOTHING
         RETURNING pk",
    )
    .bind(ObjectId::new().as_str())
    .bind(event_pk)
    .bind(env)
    .bind(subscriber_pk)
    .bind(subscriber_ref)
    .bind(subscriber_id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(notification_pk) = inserted else {
        return Ok(false);
    };
    if workflow.steps.is_empty() {
        return Ok(true);
    }
    // One statement for every step of this notification.
    let ids: Vec<String> = workflow
        .steps
        .iter()
        .map(|_| ObjectId::new().as_str().to_string())
        .collect();
    let indexes: Vec<i64> = (0..workflow.steps.len() as i64).collect();
    let step_ids: Vec<String> = workflow
        .steps
        .iter()
        .map(|s| s.id.as_str().to_string())
        .collect();
    let channels: Vec<String> = workflow.steps.iter().map(|s| s.kind.clone()).collect();
    sqlx::query(
        "INSERT INTO jobs (id, notification_pk, environment_id, step_index, step_id, channel,
             status, run_at, created_at, updated_at)
         SELECT u.id, $2, $3, u.step_index, u.step_id, u.channel, 'queued', $4, $4, $4
         FROM unnest($1::text[], $5::bigint[], $6::text[], $7::text[])
              AS u(id, step_index, step_id, channel)",
    )
    .bind(&ids)
    .bind(notification_pk)
    .bind(env)
    .bind(now)
    .bind(&indexes)
    .bind(&step_ids)
    .bind(&channels)
    .execute(&mut *conn)
    .await?;
    Ok(true)
}

/// A canceled message's `errorText`, and the execution detail of a canceled job.
const CANCELED_TEXT: &str = "Canceled before it was sent";
const CANCELED_DETAIL: &str = "Step canceled: the event was canceled before it was sent";

impl PgStore {
    async fn create_event_once(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        event: &NewEvent,
    ) -> Result<EventCreated> {
        let mut tx = self.pool.begin().await?;
        let now = now();
        if let Some(record) = &event.idempotency {
            if let Some(stored) = claim_idempotency_key(&mut tx, env, record, now).await? {
                return Ok(EventCreated::Replay(stored));
            }
        }
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO events (id, environment_id, organization_id, transaction_id, workflow_id,
                 workflow_identifier, workflow_name, workflow, payload, overrides, actor, tenant,
                 fan_out_exclude, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
             ON CONFLICT (environment_id, transaction_id) DO NOTHING
             RETURNING pk",
        )
        .bind(event.id.as_str())
        .bind(env.as_str())
        .bind(org.as_str())
        .bind(&event.transaction_id)
        .bind(event.workflow.id.as_str())
        .bind(&event.workflow.identifier)
        .bind(&event.workflow.name)
        .bind(json_text(&event.workflow))
        .bind(json_text(&event.payload))
        .bind(json_text(&event.overrides))
        .bind(event.actor.as_ref().map(Value::to_string))
        .bind(event.tenant.as_ref().map(Value::to_string))
        .bind(json_text(&event.recipients.fan_out_exclude))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(event_pk) = inserted else {
            // Rolls back the idempotency record with it.
            return Ok(EventCreated::DuplicateTransaction);
        };
        let mut notifications = 0;
        for subscriber_id in &event.recipients.subscribers {
            let (pk, internal) = ensure_subscriber(&mut tx, env, org, subscriber_id, now).await?;
            if insert_notification(
                &mut tx,
                event_pk,
                env.as_str(),
                &event.workflow,
                (pk, &internal, subscriber_id),
                now,
            )
            .await?
            {
                notifications += 1;
            }
        }
        for topic in &event.recipients.topics {
            sqlx::query("INSERT INTO fan_outs (event_pk, topic_key, exclude) VALUES ($1, $2, $3)")
                .bind(event_pk)
                .bind(&topic.key)
                .bind(json_text(&topic.exclude))
                .execute(&mut *tx)
                .await?;
        }
        if event.recipients.broadcast {
            sqlx::query(
                "INSERT INTO fan_outs (event_pk, topic_key, exclude) VALUES ($1, NULL, '[]')",
            )
            .bind(event_pk)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(EventCreated::Created { notifications })
    }

    async fn expand_once(&self, page_size: usize) -> Result<FanOutProgress> {
        #[derive(FromRow)]
        struct Pending {
            pk: i64,
            event_pk: i64,
            topic_key: Option<String>,
            exclude: String,
            last_pk: i64,
            environment_id: String,
            workflow: String,
            fan_out_exclude: String,
            canceled: bool,
        }
        let mut tx = self.pool.begin().await?;
        let found: Option<Pending> = sqlx::query_as(
            "SELECT f.pk, f.event_pk, f.topic_key, f.exclude, f.last_pk, e.environment_id,
                    e.workflow, e.fan_out_exclude, e.canceled
             FROM fan_outs f JOIN events e ON e.pk = f.event_pk
             WHERE NOT f.done ORDER BY f.pk LIMIT 1
             FOR UPDATE OF f SKIP LOCKED",
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(f) = found else {
            return Ok(FanOutProgress::default());
        };
        let finish = |last: i64, done: bool| {
            sqlx::query("UPDATE fan_outs SET last_pk = $2, done = $3 WHERE pk = $1")
                .bind(f.pk)
                .bind(last)
                .bind(done)
        };
        if f.canceled {
            finish(f.last_pk, true).execute(&mut *tx).await?;
            tx.commit().await?;
            return Ok(FanOutProgress {
                expanded: true,
                notifications: 0,
            });
        }
        let bad = |what: &str, e: serde_json::Error| crate::error::corrupt(format!("{what}: {e}"));
        let workflow: WorkflowSnapshot =
            serde_json::from_str(&f.workflow).map_err(|e| bad("event workflow", e))?;
        let mut excluded: HashSet<String> =
            serde_json::from_str(&f.exclude).map_err(|e| bad("fan-out exclude", e))?;
        excluded.extend(
            serde_json::from_str::<Vec<String>>(&f.fan_out_exclude)
                .map_err(|e| bad("event exclude", e))?,
        );
        let page: Vec<(i64, i64, String, String)> = match &f.topic_key {
            Some(key) => {
                sqlx::query_as(
                    "SELECT ts.pk, s.pk, s.id, s.subscriber_id
                     FROM topics t
                     JOIN topic_subscriptions ts ON ts.topic_pk = t.pk
                     JOIN subscribers s ON s.pk = ts.subscriber_pk
                     WHERE t.environment_id = $1 AND t.key = $2 AND ts.pk > $3 AND NOT s.deleted
                     ORDER BY ts.pk LIMIT $4",
                )
                .bind(&f.environment_id)
                .bind(key)
                .bind(f.last_pk)
                .bind(page_size as i64)
                .fetch_all(&mut *tx)
                .await?
            }
            None => {
                sqlx::query_as(
                    "SELECT pk, pk, id, subscriber_id FROM subscribers
                     WHERE environment_id = $1 AND NOT deleted AND pk > $2
                     ORDER BY pk LIMIT $3",
                )
                .bind(&f.environment_id)
                .bind(f.last_pk)
                .bind(page_size as i64)
                .fetch_all(&mut *tx)
                .await?
            }
        };
        let now = now();
        let mut notifications = 0;
        for (_, subscriber_pk, internal, subscriber_id) in &page {
            if excluded.contains(subscriber_id) {
                continue;
            }
            if insert_notification(
                &mut tx,
                f.event_pk,
                &f.environment_id,
                &workflow,
                (*subscriber_pk, internal, subscriber_id),
                now,
            )
            .await?
            {
                notifications += 1;
            }
        }
        let last = page.last().map_or(f.last_pk, |p| p.0);
        finish(last, page.len() < page_size)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(FanOutProgress {
            expanded: true,
            notifications,
        })
    }

    async fn cancel_once(&self, env: &ObjectId, transaction_id: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let found: Option<(i64, bool)> = sqlx::query_as(
            "SELECT pk, canceled FROM events WHERE environment_id = $1 AND transaction_id = $2
             FOR UPDATE",
        )
        .bind(env.as_str())
        .bind(transaction_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((event_pk, false)) = found else {
            return Ok(false);
        };
        let now = now();
        let fan_outs =
            sqlx::query("UPDATE fan_outs SET done = TRUE WHERE event_pk = $1 AND NOT done")
                .bind(event_pk)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        // The queued jobs, and the messages of theirs still waiting for a retry.
        let queued: Vec<i64> = sqlx::query_scalar(
            "SELECT j.pk FROM jobs j JOIN notifications n ON n.pk = j.notification_pk
             WHERE n.event_pk = $1 AND j.status = 'queued'",
        )
        .bind(event_pk)
        .fetch_all(&mut *tx)
        .await?;
        for job_pk in &queued {
            sqlx::query(
                "UPDATE messages SET error_id = NULL, error_text = $3, updated_at = $2,
                     status = CASE WHEN EXISTS (SELECT 1 FROM deliveries d
                         WHERE d.message_pk = messages.pk AND d.status = 'sent')
                     THEN 'sent' ELSE 'warning' END
                 WHERE job_pk = $1 AND EXISTS (SELECT 1 FROM deliveries d
                     WHERE d.message_pk = messages.pk AND d.status = 'pending')",
            )
            .bind(job_pk)
            .bind(now)
            .bind(CANCELED_TEXT)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE deliveries SET status = 'canceled', updated_at = $2
                 WHERE status = 'pending'
                   AND message_pk IN (SELECT pk FROM messages WHERE job_pk = $1)",
            )
            .bind(job_pk)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO execution_details (id, job_pk, detail, source, status, is_retry,
                     created_at)
                 VALUES ($1, $2, $3, 'Internal', 'Warning', FALSE, $4)",
            )
            .bind(ObjectId::new().as_str())
            .bind(job_pk)
            .bind(CANCELED_DETAIL)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let jobs = sqlx::query(
            "UPDATE jobs SET status = 'canceled', updated_at = $2
             WHERE status = 'queued'
               AND notification_pk IN (SELECT pk FROM notifications WHERE event_pk = $1)",
        )
        .bind(event_pk)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if fan_outs == 0 && jobs == 0 {
            return Ok(false);
        }
        sqlx::query("UPDATE events SET canceled = TRUE WHERE pk = $1")
            .bind(event_pk)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }
}

#[async_trait]
impl EventStore for PgStore {
    async fn create_event(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        event: &NewEvent,
    ) -> StoreResult<EventCreated> {
        retrying(|| self.create_event_once(env, org, event)).await
    }

    async fn idempotent_response(
        &self,
        env: &ObjectId,
        key: &str,
    ) -> StoreResult<Option<IdempotentResponse>> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        find_idempotent(&mut conn, env, key, now())
            .await
            .map_err(Into::into)
    }

    async fn save_idempotent_response(
        &self,
        env: &ObjectId,
        record: &IdempotencyRecord,
    ) -> StoreResult<Option<IdempotentResponse>> {
        retrying(|| async {
            let mut conn = self.pool.acquire().await?;
            let mut tx = conn.begin().await?;
            let stored = claim_idempotency_key(&mut tx, env, record, now()).await?;
            tx.commit().await?;
            Ok(stored)
        })
        .await
    }

    async fn expand_fan_out(&self, page_size: usize) -> StoreResult<FanOutProgress> {
        let page_size = page_size.max(1);
        retrying(|| self.expand_once(page_size)).await
    }

    async fn cancel_event(&self, env: &ObjectId, transaction_id: &str) -> StoreResult<bool> {
        retrying(|| self.cancel_once(env, transaction_id)).await
    }
}
