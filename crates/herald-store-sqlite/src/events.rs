//! Accepting triggers ([`EventStore`]): the event and its directly named recipients in one write
//! job (so in one transaction with the `Idempotency-Key` record), topic and broadcast fan-out one
//! page per write job, and cancellation. Every write runs on the writer thread, so the checks
//! ("is this key or transactionId taken?", "is this subscriber already reached?") cannot race.

use std::collections::HashSet;

use async_trait::async_trait;
use herald_core::delivery::event::{
    EventCreated, IdempotencyRecord, IdempotentResponse, NewEvent, WorkflowSnapshot,
    IDEMPOTENCY_TTL_MS,
};
use herald_core::delivery::{EventStore, FanOutProgress};
use herald_core::{NewSubscriber, ObjectId, Profile, StoreResult, Timestamp};
use rusqlite::{Connection, OptionalExtension};

use crate::error::DbResult;
use crate::subscribers::{find_any, insert};
use crate::SqliteStore;

/// The stored answer under `key`, if it is younger than a day.
fn find_idempotent(
    conn: &Connection,
    env: &ObjectId,
    key: &str,
    now: i64,
) -> DbResult<Option<IdempotentResponse>> {
    let mut stmt = conn.prepare_cached(
        "SELECT request_hash, status, body, created_at FROM idempotency_keys
         WHERE environment_id = ?1 AND key = ?2 AND created_at > ?3",
    )?;
    Ok(stmt
        .query_row((env.as_str(), key, now - IDEMPOTENCY_TTL_MS), |r| {
            Ok(IdempotentResponse {
                request_hash: r.get(0)?,
                status: r.get(1)?,
                body: r.get(2)?,
                created_at: Timestamp::from_millis(r.get(3)?),
            })
        })
        .optional()?)
}

/// Stores `record` unless its key holds a live answer, which is returned instead. An expired
/// answer is replaced.
fn claim_idempotency_key(
    conn: &Connection,
    env: &ObjectId,
    record: &IdempotencyRecord,
    now: i64,
) -> DbResult<Option<IdempotentResponse>> {
    if let Some(stored) = find_idempotent(conn, env, &record.key, now)? {
        return Ok(Some(stored));
    }
    let r = &record.response;
    conn.prepare_cached(
        "INSERT INTO idempotency_keys (environment_id, key, request_hash, status, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (environment_id, key) DO UPDATE SET request_hash = excluded.request_hash,
             status = excluded.status, body = excluded.body, created_at = excluded.created_at",
    )?
    .execute(rusqlite::params![
        env.as_str(),
        record.key,
        r.request_hash,
        r.status,
        r.body,
        r.created_at.millis(),
    ])?;
    Ok(None)
}

/// The subscriber's `(pk, _id)`, creating it (with just its id) if it does not exist, as Novu does
/// for a recipient it does not know. A soft-deleted one is replaced by a fresh subscriber.
fn ensure_subscriber(
    conn: &Connection,
    env: &ObjectId,
    org: &ObjectId,
    subscriber_id: &str,
    now: i64,
) -> DbResult<(i64, String)> {
    let pk = match find_any(conn, env, subscriber_id)? {
        Some((pk, false)) => pk,
        found => {
            if let Some((pk, true)) = found {
                conn.prepare_cached("DELETE FROM subscribers WHERE pk = ?1")?
                    .execute([pk])?;
            }
            let new = NewSubscriber {
                subscriber_id: subscriber_id.to_string(),
                profile: Profile::default(),
            };
            insert(conn, env, org, &new, Some(0), now)?
        }
    };
    let id = conn
        .prepare_cached("SELECT id FROM subscribers WHERE pk = ?1")?
        .query_row([pk], |r| r.get(0))?;
    Ok((pk, id))
}

/// A notification for this subscriber and one queued job per step, unless the event already
/// reaches the subscriber. Returns whether it was created.
pub(crate) fn insert_notification(
    conn: &Connection,
    event_pk: i64,
    env: &str,
    workflow: &WorkflowSnapshot,
    subscriber: (i64, &str, &str),
    now: i64,
) -> DbResult<bool> {
    let (subscriber_pk, subscriber_ref, subscriber_id) = subscriber;
    let inserted = conn
        .prepare_cached(
            "INSERT INTO notifications (id, event_pk, environment_id, subscriber_pk, subscriber_ref,
                 subscriber_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (event_pk, subscriber_pk) DO NOTHING",
        )?
        .execute(rusqlite::params![
            ObjectId::new().as_str(),
            event_pk,
            env,
            subscriber_pk,
            subscriber_ref,
            subscriber_id,
            now,
        ])?;
    if inserted == 0 {
        return Ok(false);
    }
    let notification_pk = conn.last_insert_rowid();
    let mut job = conn.prepare_cached(
        "INSERT INTO jobs (id, notification_pk, environment_id, step_index, step_id, channel, status,
             run_at, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?7, ?7)",
    )?;
    for (index, step) in workflow.steps.iter().enumerate() {
        job.execute(rusqlite::params![
            ObjectId::new().as_str(),
            notification_pk,
            env,
            index as i64,
            step.id.as_str(),
            step.kind,
            now,
        ])?;
    }
    Ok(true)
}

fn create_event(
    conn: &Connection,
    env: &ObjectId,
    org: &ObjectId,
    event: &NewEvent,
) -> DbResult<EventCreated> {
    let now = Timestamp::now().millis();
    if let Some(record) = &event.idempotency {
        if let Some(stored) = find_idempotent(conn, env, &record.key, now)? {
            return Ok(EventCreated::Replay(stored));
        }
    }
    let taken: Option<i64> = conn
        .prepare_cached("SELECT pk FROM events WHERE environment_id = ?1 AND transaction_id = ?2")?
        .query_row((env.as_str(), &event.transaction_id), |r| r.get(0))
        .optional()?;
    if taken.is_some() {
        return Ok(EventCreated::DuplicateTransaction);
    }
    if let Some(record) = &event.idempotency {
        claim_idempotency_key(conn, env, record, now)?;
    }
    conn.prepare_cached(
        "INSERT INTO events (id, environment_id, organization_id, transaction_id, workflow_id,
             workflow_identifier, workflow_name, workflow, payload, overrides, actor, tenant,
             fan_out_exclude, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?
    .execute(rusqlite::params![
        event.id.as_str(),
        env.as_str(),
        org.as_str(),
        event.transaction_id,
        event.workflow.id.as_str(),
        event.workflow.identifier,
        event.workflow.name,
        serde_json::to_string(&event.workflow)?,
        serde_json::Value::Object(event.payload.clone()).to_string(),
        serde_json::Value::Object(event.overrides.clone()).to_string(),
        event.actor.as_ref().map(|a| a.to_string()),
        event.tenant.as_ref().map(|t| t.to_string()),
        serde_json::to_string(&event.recipients.fan_out_exclude)?,
        now,
    ])?;
    let event_pk = conn.last_insert_rowid();
    let mut notifications = 0;
    for subscriber_id in &event.recipients.subscribers {
        let (pk, internal) = ensure_subscriber(conn, env, org, subscriber_id, now)?;
        if insert_notification(
            conn,
            event_pk,
            env.as_str(),
            &event.workflow,
            (pk, &internal, subscriber_id),
            now,
        )? {
            notifications += 1;
        }
    }
    let mut fan_out = conn.prepare_cached(
        "INSERT INTO fan_outs (event_pk, topic_key, exclude) VALUES (?1, ?2, ?3)",
    )?;
    for topic in &event.recipients.topics {
        fan_out.execute(rusqlite::params![
            event_pk,
            topic.key,
            serde_json::to_string(&topic.exclude)?
        ])?;
    }
    if event.recipients.broadcast {
        fan_out.execute(rusqlite::params![event_pk, None::<String>, "[]"])?;
    }
    Ok(EventCreated::Created { notifications })
}

/// One page of the oldest unfinished fan-out.
fn expand_fan_out(conn: &Connection, page_size: usize) -> DbResult<FanOutProgress> {
    let found = conn
        .prepare_cached(
            "SELECT f.pk, f.event_pk, f.topic_key, f.exclude, f.last_pk, e.environment_id,
                    e.workflow, e.fan_out_exclude, e.canceled
             FROM fan_outs f JOIN events e ON e.pk = f.event_pk
             WHERE f.done = 0 ORDER BY f.pk LIMIT 1",
        )?
        .query_row([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, bool>(8)?,
            ))
        })
        .optional()?;
    let Some((pk, event_pk, topic_key, exclude, cursor, env, workflow, event_exclude, canceled)) =
        found
    else {
        return Ok(FanOutProgress::default());
    };
    let finish = |conn: &Connection, cursor: i64, done: bool| -> DbResult<()> {
        conn.prepare_cached("UPDATE fan_outs SET last_pk = ?2, done = ?3 WHERE pk = ?1")?
            .execute((pk, cursor, done))?;
        Ok(())
    };
    if canceled {
        finish(conn, cursor, true)?;
        return Ok(FanOutProgress {
            expanded: true,
            notifications: 0,
        });
    }
    let workflow: WorkflowSnapshot = serde_json::from_str(&workflow)?;
    let mut excluded: HashSet<String> = serde_json::from_str(&exclude)?;
    excluded.extend(serde_json::from_str::<Vec<String>>(&event_exclude)?);
    // (position, subscriber pk, _id, subscriberId), in position order.
    let page: Vec<(i64, i64, String, String)> = match &topic_key {
        Some(key) => {
            let mut stmt = conn.prepare_cached(
                "SELECT ts.pk, s.pk, s.id, s.subscriber_id
                 FROM topics t
                 JOIN topic_subscriptions ts ON ts.topic_pk = t.pk
                 JOIN subscribers s ON s.pk = ts.subscriber_pk
                 WHERE t.environment_id = ?1 AND t.key = ?2 AND ts.pk > ?3 AND s.deleted = 0
                 ORDER BY ts.pk LIMIT ?4",
            )?;
            let rows = stmt
                .query_map(rusqlite::params![env, key, cursor, page_size as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?;
            rows.collect::<Result<_, _>>()?
        }
        None => {
            let mut stmt = conn.prepare_cached(
                "SELECT pk, pk, id, subscriber_id FROM subscribers
                 WHERE environment_id = ?1 AND deleted = 0 AND pk > ?2
                 ORDER BY pk LIMIT ?3",
            )?;
            let rows = stmt.query_map(rusqlite::params![env, cursor, page_size as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            rows.collect::<Result<_, _>>()?
        }
    };
    let now = Timestamp::now().millis();
    let mut notifications = 0;
    for (_, subscriber_pk, internal, subscriber_id) in &page {
        if excluded.contains(subscriber_id) {
            continue;
        }
        if insert_notification(
            conn,
            event_pk,
            &env,
            &workflow,
            (*subscriber_pk, internal, subscriber_id),
            now,
        )? {
            notifications += 1;
        }
    }
    let last = page.last().map_or(cursor, |p| p.0);
    finish(conn, last, page.len() < page_size)?;
    Ok(FanOutProgress {
        expanded: true,
        notifications,
    })
}

/// A canceled message's `errorText`, and the execution detail of a canceled job.
const CANCELED_TEXT: &str = "Canceled before it was sent";
const CANCELED_DETAIL: &str = "Step canceled: the event was canceled before it was sent";

fn cancel_event(conn: &Connection, env: &ObjectId, transaction_id: &str) -> DbResult<bool> {
    let found: Option<(i64, bool)> = conn
        .prepare_cached(
            "SELECT pk, canceled FROM events WHERE environment_id = ?1 AND transaction_id = ?2",
        )?
        .query_row((env.as_str(), transaction_id), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let Some((event_pk, false)) = found else {
        return Ok(false);
    };
    let now = Timestamp::now().millis();
    let fan_outs = conn
        .prepare_cached("UPDATE fan_outs SET done = 1 WHERE event_pk = ?1 AND done = 0")?
        .execute([event_pk])?;
    // The queued jobs, and the messages of theirs still waiting for a retry.
    let queued: Vec<i64> = conn
        .prepare_cached(
            "SELECT j.pk FROM jobs j JOIN notifications n ON n.pk = j.notification_pk
             WHERE n.event_pk = ?1 AND j.status = 'queued'",
        )?
        .query_map([event_pk], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for job_pk in &queued {
        conn.prepare_cached(
            "UPDATE messages SET error_id = NULL, error_text = ?3, updated_at = ?2,
                 status = CASE WHEN EXISTS (SELECT 1 FROM deliveries d
                     WHERE d.message_pk = messages.pk AND d.status = 'sent')
                 THEN 'sent' ELSE 'warning' END
             WHERE job_pk = ?1 AND EXISTS (SELECT 1 FROM deliveries d
                 WHERE d.message_pk = messages.pk AND d.status = 'pending')",
        )?
        .execute(rusqlite::params![job_pk, now, CANCELED_TEXT])?;
        conn.prepare_cached(
            "UPDATE deliveries SET status = 'canceled', updated_at = ?2
             WHERE status = 'pending'
               AND message_pk IN (SELECT pk FROM messages WHERE job_pk = ?1)",
        )?
        .execute((job_pk, now))?;
        conn.prepare_cached(
            "INSERT INTO execution_details (id, job_pk, detail, source, status, is_retry,
                 created_at)
             VALUES (?1, ?2, ?3, 'Internal', 'Warning', 0, ?4)",
        )?
        .execute(rusqlite::params![
            ObjectId::new().as_str(),
            job_pk,
            CANCELED_DETAIL,
            now
        ])?;
    }
    let jobs = conn
        .prepare_cached(
            "UPDATE jobs SET status = 'canceled', updated_at = ?2
             WHERE status = 'queued'
               AND notification_pk IN (SELECT pk FROM notifications WHERE event_pk = ?1)",
        )?
        .execute((event_pk, now))?;
    if fan_outs == 0 && jobs == 0 {
        return Ok(false);
    }
    conn.prepare_cached("UPDATE events SET canceled = 1 WHERE pk = ?1")?
        .execute([event_pk])?;
    Ok(true)
}

#[async_trait]
impl EventStore for SqliteStore {
    async fn create_event(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        event: &NewEvent,
    ) -> StoreResult<EventCreated> {
        let (env, org, event) = (env.clone(), org.clone(), event.clone());
        self.writer
            .write(move |conn| create_event(conn, &env, &org, &event))
            .await
    }

    async fn idempotent_response(
        &self,
        env: &ObjectId,
        key: &str,
    ) -> StoreResult<Option<IdempotentResponse>> {
        let (env, key) = (env.clone(), key.to_string());
        self.readers
            .lookup(move |conn| find_idempotent(conn, &env, &key, Timestamp::now().millis()))
            .await
    }

    async fn save_idempotent_response(
        &self,
        env: &ObjectId,
        record: &IdempotencyRecord,
    ) -> StoreResult<Option<IdempotentResponse>> {
        let (env, record) = (env.clone(), record.clone());
        self.writer
            .write(move |conn| {
                claim_idempotency_key(conn, &env, &record, Timestamp::now().millis())
            })
            .await
    }

    async fn expand_fan_out(&self, page_size: usize) -> StoreResult<FanOutProgress> {
        let page_size = page_size.max(1);
        self.writer
            .write(move |conn| expand_fan_out(conn, page_size))
            .await
    }

    async fn cancel_event(&self, env: &ObjectId, transaction_id: &str) -> StoreResult<bool> {
        let (env, transaction_id) = (env.clone(), transaction_id.to_string());
        self.writer
            .write(move |conn| cancel_event(conn, &env, &transaction_id))
            .await
    }
}
