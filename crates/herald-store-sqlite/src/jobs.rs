//! The job queue ([`JobQueue`]). Claims and records are write jobs on the writer thread, so two
//! workers of this process never claim the same job, and the `IMMEDIATE` transaction extends that
//! to other processes sharing the file. [`load_job`] reads everything a run needs in one read
//! snapshot: the job, its event, the subscriber's channels of the step's type with their tokens
//! (decrypted here, referenced afterwards by integration and token hash only), the integrations those channels are
//! bound to, and what earlier runs recorded.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use herald_core::delivery::event::{EventInfo, WorkflowSnapshot};
use herald_core::delivery::job::{
    ChannelTarget, ClaimedJob, DeliveryState, DeliveryStatus, JobContext, JobInfo, JobOutcome,
    JobRun, MessageState, NewExecutionDetail, ReceiptCheck, ReceiptResult, TokenRemoval,
    TokenTarget,
};
use herald_core::delivery::{JobQueue, QueueState};
use herald_core::secrets::{Owner, Vault};
use herald_core::{ObjectId, ProviderId, StoreResult, Timestamp};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Map, Value};

use crate::error::{BadStoredValue, DbError, DbResult};
use crate::rows::{channel_text, INTEGRATION_COLUMNS, SUBSCRIBER_COLUMNS};
use crate::SqliteStore;

fn bad_value(what: &'static str, value: &str) -> DbError {
    DbError::Sql(rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        Box::new(BadStoredValue {
            what,
            value: value.to_string(),
        }),
    ))
}

fn json_object(text: &str) -> DbResult<Map<String, Value>> {
    match serde_json::from_str(text)? {
        Value::Object(m) => Ok(m),
        _ => Err(bad_value("JSON object", text)),
    }
}

fn provider(s: &str) -> DbResult<ProviderId> {
    s.parse().map_err(|_| bad_value("provider id", s))
}

fn claim(
    conn: &Connection,
    owner: &str,
    limit: usize,
    lease: Duration,
    now: i64,
) -> DbResult<Vec<ClaimedJob>> {
    let mut found: Vec<(i64, ClaimedJob)> = Vec::new();
    for sql in [
        "SELECT pk, id, environment_id, runs FROM jobs
         WHERE status = 'queued' AND run_at <= ?1 ORDER BY run_at LIMIT ?2",
        "SELECT pk, id, environment_id, runs FROM jobs
         WHERE status = 'running' AND lease_until <= ?1 ORDER BY lease_until LIMIT ?2",
    ] {
        let left = limit - found.len();
        if left == 0 {
            break;
        }
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map((now, left as i64), |r| {
            Ok((
                r.get(0)?,
                ClaimedJob {
                    id: ObjectId::from_stored(r.get(1)?),
                    environment_id: ObjectId::from_stored(r.get(2)?),
                    runs: r.get::<_, u32>(3)? + 1,
                },
            ))
        })?;
        for row in rows {
            found.push(row?);
        }
    }
    let lease_until = now + lease.as_millis() as i64;
    let mut update = conn.prepare_cached(
        "UPDATE jobs SET status = 'running', lease_owner = ?2, lease_until = ?3, runs = runs + 1,
             updated_at = ?4
         WHERE pk = ?1",
    )?;
    for (pk, _) in &found {
        update.execute(rusqlite::params![pk, owner, lease_until, now])?;
    }
    Ok(found.into_iter().map(|(_, job)| job).collect())
}

/// The subscriber's channels whose provider delivers on `channel`, with their tokens.
fn channel_targets(
    conn: &Connection,
    vault: &Vault,
    subscriber: (i64, &str),
    channel: &str,
) -> DbResult<Vec<ChannelTarget>> {
    let (subscriber_pk, subscriber_ref) = subscriber;
    let mut stmt = conn.prepare_cached(
        "SELECT c.pk, c.provider_id, c.integration_id, c.webhook_url, c.channel, c.alert_uid,
                c.title, c.image_url, c.state, c.external_url, c.environment_id, t.token_hash,
                t.token
         FROM subscriber_channels c LEFT JOIN device_tokens t
              ON t.pk BETWEEN c.pk * 4294967296 AND c.pk * 4294967296 + 4294967295
         WHERE c.subscriber_pk = ?1 ORDER BY c.pk, t.pk",
    )?;
    let mut rows = stmt.query([subscriber_pk])?;
    let mut out: Vec<ChannelTarget> = Vec::new();
    let mut last = None;
    while let Some(row) = rows.next()? {
        let channel_pk: i64 = row.get(0)?;
        let provider_text: String = row.get(1)?;
        let provider_id = provider(&provider_text)?;
        if provider_id.channel().as_str() != channel {
            continue;
        }
        let env: String = row.get(10)?;
        let integration: String = row.get(2)?;
        let owner = Owner::Channel {
            subscriber: subscriber_ref,
            integration: &integration,
        };
        if last != Some(channel_pk) {
            last = Some(channel_pk);
            out.push(ChannelTarget {
                provider_id,
                credentials: channel_text(row, 3, vault, &env, owner)?,
                integration_id: ObjectId::from_stored(integration.clone()),
                tokens: Vec::new(),
            });
        }
        if let (Some(hash), Some(token)) = (
            row.get::<_, Option<String>>(11)?,
            row.get::<_, Option<String>>(12)?,
        ) {
            let token = vault.open_token(&env, owner, &token)?;
            if let Some(c) = out.last_mut() {
                c.tokens.push(TokenTarget { hash, token });
            }
        }
    }
    Ok(out)
}

fn earlier_messages(conn: &Connection, job_pk: i64) -> DbResult<Vec<MessageState>> {
    let mut stmt = conn.prepare_cached(
        "SELECT m.pk, m.id, m.provider_id, m.integration_id, m.content, m.title, m.overrides,
                m.error_text, d.id, d.target, d.status, d.attempts
         FROM messages m LEFT JOIN deliveries d ON d.message_pk = m.pk
         WHERE m.job_pk = ?1 ORDER BY m.pk, d.pk",
    )?;
    let mut rows = stmt.query([job_pk])?;
    let mut out: Vec<(i64, MessageState)> = Vec::new();
    while let Some(row) = rows.next()? {
        let pk: i64 = row.get(0)?;
        if out.last().map(|m| m.0) != Some(pk) {
            let provider_text: String = row.get(2)?;
            let overrides: String = row.get(6)?;
            out.push((
                pk,
                MessageState {
                    id: ObjectId::from_stored(row.get(1)?),
                    provider_id: provider(&provider_text)?,
                    integration_id: ObjectId::from_stored(row.get(3)?),
                    content: row.get(4)?,
                    title: row.get(5)?,
                    overrides: json_object(&overrides)?,
                    error_text: row.get(7)?,
                    deliveries: Vec::new(),
                },
            ));
        }
        if let Some(id) = row.get::<_, Option<String>>(8)? {
            let status: String = row.get(10)?;
            let state = DeliveryState {
                id: ObjectId::from_stored(id),
                target: row.get(9)?,
                status: DeliveryStatus::parse(&status)
                    .ok_or_else(|| bad_value("delivery status", &status))?,
                attempts: row.get(11)?,
            };
            if let Some((_, m)) = out.last_mut() {
                m.deliveries.push(state);
            }
        }
    }
    Ok(out.into_iter().map(|(_, m)| m).collect())
}

pub(crate) fn load_job(
    conn: &Connection,
    vault: &Vault,
    job: &ClaimedJob,
) -> DbResult<Option<JobContext>> {
    let found = conn
        .prepare_cached(
            "SELECT j.pk, j.step_index, j.channel, n.id, n.subscriber_pk, n.subscriber_ref,
                    n.subscriber_id, e.id, e.organization_id, e.transaction_id, e.workflow,
                    e.payload, e.overrides, e.actor, e.tenant, e.canceled, e.created_at
             FROM jobs j
             JOIN notifications n ON n.pk = j.notification_pk
             JOIN events e ON e.pk = n.event_pk
             WHERE j.id = ?1 AND j.environment_id = ?2",
        )?
        .query_row((job.id.as_str(), job.environment_id.as_str()), |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, String>(7)?,
                r.get::<_, String>(8)?,
                r.get::<_, String>(9)?,
                r.get::<_, String>(10)?,
                r.get::<_, String>(11)?,
                r.get::<_, String>(12)?,
                r.get::<_, Option<String>>(13)?,
                r.get::<_, Option<String>>(14)?,
                r.get::<_, bool>(15)?,
                r.get::<_, i64>(16)?,
            ))
        })
        .optional()?;
    let Some((
        job_pk,
        step_index,
        channel,
        notification_id,
        subscriber_pk,
        subscriber_ref,
        subscriber_id,
        event_id,
        org,
        transaction_id,
        workflow,
        payload,
        overrides,
        actor,
        tenant,
        canceled,
        created_at,
    )) = found
    else {
        return Ok(None);
    };
    let workflow: WorkflowSnapshot = serde_json::from_str(&workflow)?;
    let event = EventInfo {
        id: ObjectId::from_stored(event_id),
        environment_id: job.environment_id.clone(),
        organization_id: ObjectId::from_stored(org.clone()),
        transaction_id,
        workflow,
        payload: json_object(&payload)?,
        overrides: json_object(&overrides)?,
        actor: actor.as_deref().map(serde_json::from_str).transpose()?,
        tenant: tenant.as_deref().map(serde_json::from_str).transpose()?,
        canceled,
        created_at: Timestamp::from_millis(created_at),
    };
    let subscriber = conn
        .prepare_cached(&format!(
            "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE pk = ?1 AND deleted = 0 AND id = ?2"
        ))?
        .query_row((subscriber_pk, &subscriber_ref), crate::rows::subscriber)
        .optional()?
        .map(|(_, s)| s);
    let channels = match subscriber {
        Some(_) => channel_targets(conn, vault, (subscriber_pk, &subscriber_ref), &channel)?,
        None => Vec::new(),
    };
    let mut integrations = Vec::new();
    let mut seen = HashMap::new();
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {INTEGRATION_COLUMNS} FROM integrations
         WHERE id = ?1 AND environment_id = ?2 AND deleted = 0"
    ))?;
    for c in &channels {
        if seen.insert(c.integration_id.clone(), ()).is_some() {
            continue;
        }
        let found = stmt
            .query_row(
                (c.integration_id.as_str(), job.environment_id.as_str()),
                |r| crate::rows::integration(r, vault),
            )
            .optional()?;
        integrations.extend(found);
    }
    Ok(Some(JobContext {
        job: JobInfo {
            id: job.id.clone(),
            environment_id: job.environment_id.clone(),
            organization_id: ObjectId::from_stored(org),
            notification_id: ObjectId::from_stored(notification_id),
            subscriber_internal_id: ObjectId::from_stored(subscriber_ref),
            subscriber_id,
            step_index: step_index as usize,
            runs: job.runs,
        },
        event,
        subscriber,
        channels,
        integrations,
        messages: earlier_messages(conn, job_pk)?,
    }))
}

fn record(conn: &Connection, run: &JobRun) -> DbResult<bool> {
    let found = conn
        .prepare_cached(
            "SELECT j.pk, j.status, j.lease_owner, j.environment_id, e.transaction_id,
                    n.subscriber_id, n.subscriber_pk
             FROM jobs j JOIN notifications n ON n.pk = j.notification_pk
             JOIN events e ON e.pk = n.event_pk
             WHERE j.id = ?1",
        )?
        .query_row([run.job_id.as_str()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })
        .optional()?;
    let Some((job_pk, status, owner, env, transaction_id, subscriber_id, subscriber_pk)) = found
    else {
        return Ok(false);
    };
    if status != "running" || owner.as_deref() != Some(run.lease_owner.as_str()) {
        return Ok(false);
    }
    let now = Timestamp::now().millis();
    let mut insert_message = conn.prepare_cached(
        "INSERT INTO messages (id, job_pk, environment_id, transaction_id, subscriber_id, channel,
             provider_id, integration_id, content, title, webhook_hint, device_tokens,
             overrides, status, error_id, error_text, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
             ?17)",
    )?;
    let mut insert_delivery = conn.prepare_cached(
        "INSERT INTO deliveries (id, message_pk, target, target_hint, status, attempts,
             outcome, http_status, provider_code, provider_message_id, detail, receipt_due_at,
             updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    for m in &run.new_messages {
        insert_message.execute(rusqlite::params![
            m.id.as_str(),
            job_pk,
            env,
            transaction_id,
            subscriber_id,
            m.channel.as_str(),
            m.provider_id.as_str(),
            m.integration_id.as_str(),
            m.content,
            m.title,
            m.webhook_hint,
            serde_json::to_string(&m.device_token_hints)?,
            Value::Object(m.overrides.clone()).to_string(),
            m.status.as_str(),
            m.error_id,
            m.error_text,
            now,
        ])?;
        let message_pk = conn.last_insert_rowid();
        for d in &m.deliveries {
            let s = &d.state;
            insert_delivery.execute(rusqlite::params![
                s.id.as_str(),
                message_pk,
                d.target,
                d.target_hint,
                s.status.as_str(),
                s.attempts,
                s.outcome,
                s.http_status,
                s.provider_code,
                s.provider_message_id,
                s.detail,
                s.receipt_due_at.map(Timestamp::millis),
                now,
            ])?;
        }
    }
    let mut update_message = conn.prepare_cached(
        "UPDATE messages SET status = ?3, error_id = ?4, error_text = ?5, updated_at = ?6
         WHERE id = ?1 AND job_pk = ?2",
    )?;
    for m in &run.message_updates {
        update_message.execute(rusqlite::params![
            m.id.as_str(),
            job_pk,
            m.status.as_str(),
            m.error_id,
            m.error_text,
            now,
        ])?;
    }
    let mut update_delivery = conn.prepare_cached(
        "UPDATE deliveries SET status = ?2, attempts = ?3, outcome = ?4, http_status = ?5,
             provider_code = ?6, provider_message_id = ?7, detail = ?8, receipt_due_at = ?10,
             updated_at = ?9
         WHERE id = ?1",
    )?;
    for s in &run.delivery_updates {
        update_delivery.execute(rusqlite::params![
            s.id.as_str(),
            s.status.as_str(),
            s.attempts,
            s.outcome,
            s.http_status,
            s.provider_code,
            s.provider_message_id,
            s.detail,
            now,
            s.receipt_due_at.map(Timestamp::millis),
        ])?;
    }
    insert_details(conn, job_pk, &run.details)?;
    remove_tokens(conn, subscriber_pk, &run.removed_tokens, now)?;
    let (status, run_at) = match run.outcome {
        JobOutcome::Completed => ("completed", None),
        JobOutcome::Failed => ("failed", None),
        JobOutcome::Canceled => ("canceled", None),
        JobOutcome::RetryAt(at) => ("queued", Some(at.millis())),
    };
    conn.prepare_cached(
        "UPDATE jobs SET status = ?2, run_at = COALESCE(?3, run_at), lease_owner = NULL,
             lease_until = NULL, provider_id = COALESCE(?4, provider_id), updated_at = ?5
         WHERE pk = ?1",
    )?
    .execute(rusqlite::params![
        job_pk,
        status,
        run_at,
        run.provider_id.map(ProviderId::as_str),
        now,
    ])?;
    Ok(true)
}

/// Appends execution details to the job `job_pk`.
fn insert_details(conn: &Connection, job_pk: i64, details: &[NewExecutionDetail]) -> DbResult<()> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO execution_details (id, job_pk, message_id, provider_id, detail, source,
             status, is_retry, raw, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for d in details {
        insert.execute(rusqlite::params![
            d.id.as_str(),
            job_pk,
            d.message_id.as_ref().map(ObjectId::as_str),
            d.provider_id.map(ProviderId::as_str),
            d.detail,
            d.source.as_str(),
            d.status.as_str(),
            d.is_retry,
            d.raw,
            d.created_at.millis(),
        ])?;
    }
    Ok(())
}

fn due_receipts(
    conn: &Connection,
    vault: &Vault,
    now: i64,
    limit: usize,
) -> DbResult<Vec<ReceiptCheck>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.id, j.id, m.id, m.environment_id, m.integration_id, m.provider_id,
                d.provider_message_id, d.target, d.target_hint, d.updated_at
         FROM deliveries d JOIN messages m ON m.pk = d.message_pk JOIN jobs j ON j.pk = m.job_pk
         WHERE d.receipt_due_at IS NOT NULL AND d.receipt_due_at <= ?1
         ORDER BY d.receipt_due_at LIMIT ?2",
    )?;
    let rows = stmt.query_map((now, limit as i64), |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, Option<String>>(6)?,
            r.get::<_, String>(7)?,
            r.get::<_, String>(8)?,
            r.get::<_, i64>(9)?,
        ))
    })?;
    let rows: Vec<_> = rows.collect::<Result<_, _>>()?;
    let mut integration = conn.prepare_cached(&format!(
        "SELECT {INTEGRATION_COLUMNS} FROM integrations
         WHERE id = ?1 AND environment_id = ?2 AND deleted = 0"
    ))?;
    let mut out = Vec::with_capacity(rows.len());
    for (delivery, job, message, env, integration_id, provider_text, receipt, target, hint, at) in
        rows
    {
        let found = integration
            .query_row((integration_id.as_str(), env.as_str()), |r| {
                crate::rows::integration(r, vault)
            })
            .optional()?;
        out.push(ReceiptCheck {
            delivery_id: ObjectId::from_stored(delivery),
            job_id: ObjectId::from_stored(job),
            message_id: ObjectId::from_stored(message),
            environment_id: ObjectId::from_stored(env),
            integration: found,
            integration_id: ObjectId::from_stored(integration_id),
            provider_id: provider(&provider_text)?,
            receipt_id: receipt.unwrap_or_default(),
            target,
            target_hint: hint,
            sent_at: Timestamp::from_millis(at),
        });
    }
    Ok(out)
}

fn record_receipts(conn: &Connection, results: &[ReceiptResult]) -> DbResult<()> {
    let now = Timestamp::now().millis();
    for r in results {
        let found: Option<(i64, i64)> = conn
            .prepare_cached(
                "SELECT j.pk, n.subscriber_pk FROM jobs j
                 JOIN notifications n ON n.pk = j.notification_pk WHERE j.id = ?1",
            )?
            .query_row([r.job_id.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let Some((job_pk, subscriber_pk)) = found else {
            continue;
        };
        conn.prepare_cached("UPDATE deliveries SET receipt_due_at = ?2 WHERE id = ?1")?
            .execute((
                r.delivery_id.as_str(),
                r.ask_again_at.map(Timestamp::millis),
            ))?;
        if let Some((outcome, code, detail)) = &r.failure {
            conn.prepare_cached(
                "UPDATE deliveries SET status = 'failed', outcome = ?2, provider_code = ?3,
                     detail = ?4, updated_at = ?5
                 WHERE id = ?1",
            )?
            .execute(rusqlite::params![
                r.delivery_id.as_str(),
                outcome,
                code,
                detail,
                now
            ])?;
            conn.prepare_cached(
                "UPDATE messages SET status = 'error', error_id = 'unexpected_push_error',
                     error_text = ?2, updated_at = ?3
                 WHERE id = ?1",
            )?
            .execute((r.message_id.as_str(), detail, now))?;
        }
        if let Some(removal) = &r.remove {
            remove_tokens(conn, subscriber_pk, std::slice::from_ref(removal), now)?;
        }
        insert_details(conn, job_pk, &r.details)?;
    }
    Ok(())
}

/// Removes dead tokens from the subscriber's channels (pruning); the subscriber's `updated_at`
/// moves when one was there.
fn remove_tokens(
    conn: &Connection,
    subscriber_pk: i64,
    removals: &[TokenRemoval],
    now: i64,
) -> DbResult<()> {
    let mut removed = 0;
    let mut delete = conn.prepare_cached(
        "DELETE FROM device_tokens
         WHERE environment_id = (SELECT environment_id FROM subscribers WHERE pk = ?1)
           AND integration_id = ?2 AND token_hash = ?3 AND subscriber_pk = ?1",
    )?;
    for r in removals {
        removed += delete.execute(rusqlite::params![
            subscriber_pk,
            r.integration_id.as_str(),
            r.token_hash
        ])?;
    }
    if removed > 0 {
        conn.prepare_cached("UPDATE subscribers SET updated_at = ?2 WHERE pk = ?1")?
            .execute((subscriber_pk, now))?;
    }
    Ok(())
}

fn release(conn: &Connection, owner: &str, jobs: &[ObjectId]) -> DbResult<()> {
    let now = Timestamp::now().millis();
    let mut stmt = conn.prepare_cached(
        "UPDATE jobs SET status = 'queued', run_at = ?3, lease_owner = NULL, lease_until = NULL,
             runs = max(runs - 1, 0), updated_at = ?3
         WHERE id = ?1 AND lease_owner = ?2 AND status = 'running'",
    )?;
    for id in jobs {
        stmt.execute(rusqlite::params![id.as_str(), owner, now])?;
    }
    Ok(())
}

fn queue_state(conn: &Connection) -> DbResult<QueueState> {
    let queued: Option<i64> = conn
        .prepare_cached("SELECT min(run_at) FROM jobs WHERE status = 'queued'")?
        .query_row([], |r| r.get(0))?;
    let leased: Option<i64> = conn
        .prepare_cached("SELECT min(lease_until) FROM jobs WHERE status = 'running'")?
        .query_row([], |r| r.get(0))?;
    let fan_outs_pending: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM fan_outs WHERE done = 0)")?
        .query_row([], |r| r.get(0))?;
    let next_due = match (queued, leased) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(QueueState {
        next_due: next_due.map(Timestamp::from_millis),
        fan_outs_pending,
    })
}

#[async_trait]
impl JobQueue for SqliteStore {
    async fn claim_due_jobs(
        &self,
        owner: &str,
        limit: usize,
        lease: Duration,
        now: Timestamp,
    ) -> StoreResult<Vec<ClaimedJob>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let owner = owner.to_string();
        self.writer
            .write(move |conn| claim(conn, &owner, limit, lease, now.millis()))
            .await
    }

    async fn load_job(&self, job: &ClaimedJob) -> StoreResult<Option<JobContext>> {
        let (job, vault) = (job.clone(), self.vault.clone());
        self.readers
            .lookup(move |conn| load_job(conn, &vault, &job))
            .await
    }

    async fn record_job_run(&self, run: &JobRun) -> StoreResult<bool> {
        let run = run.clone();
        self.writer.write(move |conn| record(conn, &run)).await
    }

    async fn release_jobs(&self, owner: &str, jobs: &[ObjectId]) -> StoreResult<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        let (owner, jobs) = (owner.to_string(), jobs.to_vec());
        self.writer
            .write(move |conn| release(conn, &owner, &jobs))
            .await
    }

    async fn queue_state(&self) -> StoreResult<QueueState> {
        self.readers.lookup(queue_state).await
    }

    async fn due_receipts(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<ReceiptCheck>> {
        let vault = self.vault.clone();
        self.readers
            .read(move |conn| due_receipts(conn, &vault, now.millis(), limit))
            .await
    }

    async fn record_receipts(&self, results: &[ReceiptResult]) -> StoreResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        let results = results.to_vec();
        self.writer
            .write(move |conn| record_receipts(conn, &results))
            .await
    }
}
