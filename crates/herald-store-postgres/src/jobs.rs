//! The job queue ([`JobQueue`]) on PostgreSQL, shared by every Herald process on the database:
//! claims take due rows with `FOR UPDATE SKIP LOCKED`, so concurrent workers never claim the same
//! job and never wait for each other; a record locks its job row and checks the lease first.
//! [`load_job`](JobQueue::load_job) reads everything a run needs in one snapshot.

use std::collections::HashSet;
use std::time::Duration;

use async_trait::async_trait;
use herald_core::delivery::event::{EventInfo, WorkflowSnapshot};
use herald_core::delivery::job::{
    ChannelTarget, ClaimedJob, DeliveryState, DeliveryStatus, JobContext, JobInfo, JobOutcome,
    JobRun, MessageState, NewExecutionDetail, ReceiptCheck, ReceiptResult, TokenRemoval,
    TokenTarget,
};
use herald_core::delivery::{JobQueue, QueueState};
use herald_core::secrets::Owner;
use herald_core::{ObjectId, ProviderId, StoreResult, Timestamp};
use serde_json::{Map, Value};
use sqlx::postgres::PgConnection;
use sqlx::FromRow;

use crate::error::{corrupt, retrying, Result};
use crate::pagination::snapshot;
use crate::rows::{json_text, now, provider, IntegrationRow, ProfileRow, INTEGRATION_COLUMNS};
use crate::PgStore;

fn json_object(what: &str, text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(corrupt(format!("{what}: not a JSON object"))),
    }
}

#[derive(FromRow)]
struct ClaimedRow {
    id: String,
    environment_id: String,
    runs: i64,
}

#[derive(FromRow)]
struct JobRow {
    pk: i64,
    step_index: i64,
    channel: String,
    notification_id: String,
    subscriber_pk: i64,
    subscriber_ref: String,
    subscriber_id: String,
    event_id: String,
    organization_id: String,
    transaction_id: String,
    workflow: String,
    payload: String,
    overrides: String,
    actor: Option<String>,
    tenant: Option<String>,
    canceled: bool,
    created_at: i64,
}

#[derive(FromRow)]
struct SubscriberProfileRow {
    id: String,
    environment_id: String,
    organization_id: String,
    subscriber_id: String,
    #[sqlx(flatten)]
    profile: ProfileRow,
    is_online: Option<bool>,
    last_online_at: Option<i64>,
    version: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

#[derive(FromRow)]
struct TargetRow {
    pk: i64,
    provider_id: String,
    integration_id: String,
    webhook_url: Option<String>,
    channel: Option<String>,
    alert_uid: Option<String>,
    title: Option<String>,
    image_url: Option<String>,
    state: Option<String>,
    external_url: Option<String>,
    environment_id: String,
    token_hash: Option<String>,
    token: Option<String>,
}

#[derive(FromRow)]
struct MessageRow {
    pk: i64,
    id: String,
    provider_id: String,
    integration_id: String,
    content: String,
    title: Option<String>,
    overrides: String,
    error_text: Option<String>,
    delivery_id: Option<String>,
    target: Option<String>,
    status: Option<String>,
    attempts: Option<i64>,
}

impl PgStore {
    async fn claim_once(
        &self,
        owner: &str,
        limit: usize,
        lease: Duration,
        now: i64,
    ) -> Result<Vec<ClaimedJob>> {
        let mut tx = self.pool.begin().await?;
        let lease_until = now + lease.as_millis() as i64;
        let mut claimed: Vec<ClaimedRow> = Vec::new();
        for due in [
            "SELECT pk FROM jobs WHERE status = 'queued' AND run_at <= $3
             ORDER BY run_at LIMIT $4 FOR UPDATE SKIP LOCKED",
            "SELECT pk FROM jobs WHERE status = 'running' AND lease_until <= $3
             ORDER BY lease_until LIMIT $4 FOR UPDATE SKIP LOCKED",
        ] {
            let left = limit - claimed.len();
            if left == 0 {
                break;
            }
            let rows: Vec<ClaimedRow> = sqlx::query_as(&format!(
                "UPDATE jobs SET status = 'running', lease_owner = $1, lease_until = $2,
                     runs = runs + 1, updated_at = $3
                 WHERE pk IN ({due})
                 RETURNING id, environment_id, runs"
            ))
            .bind(owner)
            .bind(lease_until)
            .bind(now)
            .bind(left as i64)
            .fetch_all(&mut *tx)
            .await?;
            claimed.extend(rows);
        }
        tx.commit().await?;
        Ok(claimed
            .into_iter()
            .map(|r| ClaimedJob {
                id: ObjectId::from_stored(r.id),
                environment_id: ObjectId::from_stored(r.environment_id),
                runs: u32::try_from(r.runs).unwrap_or(u32::MAX),
            })
            .collect())
    }

    async fn load_once(&self, job: &ClaimedJob) -> Result<Option<JobContext>> {
        let mut tx = snapshot(&self.pool).await?;
        let found: Option<JobRow> = sqlx::query_as(
            "SELECT j.pk, j.step_index, j.channel, n.id AS notification_id, n.subscriber_pk,
                    n.subscriber_ref, n.subscriber_id, e.id AS event_id, e.organization_id,
                    e.transaction_id, e.workflow, e.payload, e.overrides, e.actor, e.tenant,
                    e.canceled, e.created_at
             FROM jobs j
             JOIN notifications n ON n.pk = j.notification_pk
             JOIN events e ON e.pk = n.event_pk
             WHERE j.id = $1 AND j.environment_id = $2",
        )
        .bind(job.id.as_str())
        .bind(job.environment_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = found else {
            return Ok(None);
        };
        let workflow: WorkflowSnapshot = serde_json::from_str(&row.workflow)
            .map_err(|e| corrupt(format!("event workflow: {e}")))?;
        let parse_opt = |what: &str, v: &Option<String>| -> Result<Option<Value>> {
            v.as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| corrupt(format!("{what}: {e}")))
        };
        let event = EventInfo {
            id: ObjectId::from_stored(row.event_id.clone()),
            environment_id: job.environment_id.clone(),
            organization_id: ObjectId::from_stored(row.organization_id.clone()),
            transaction_id: row.transaction_id.clone(),
            workflow,
            payload: json_object("event payload", &row.payload)?,
            overrides: json_object("event overrides", &row.overrides)?,
            actor: parse_opt("event actor", &row.actor)?,
            tenant: parse_opt("event tenant", &row.tenant)?,
            canceled: row.canceled,
            created_at: Timestamp::from_millis(row.created_at),
        };
        let subscriber: Option<SubscriberProfileRow> = sqlx::query_as(&format!(
            "SELECT id, environment_id, organization_id, subscriber_id, {}, is_online,
                    last_online_at, version, created_at, updated_at
             FROM subscribers WHERE pk = $1 AND id = $2 AND NOT deleted",
            crate::rows::PROFILE_COLUMNS
        ))
        .bind(row.subscriber_pk)
        .bind(&row.subscriber_ref)
        .fetch_optional(&mut *tx)
        .await?;
        let subscriber = subscriber.map(|s| herald_core::Subscriber {
            id: ObjectId::from_stored(s.id),
            environment_id: ObjectId::from_stored(s.environment_id),
            organization_id: ObjectId::from_stored(s.organization_id),
            subscriber_id: s.subscriber_id,
            profile: s.profile.into_profile(),
            channels: Vec::new(),
            is_online: s.is_online,
            last_online_at: s.last_online_at.map(Timestamp::from_millis),
            created_at: Timestamp::from_millis(s.created_at),
            updated_at: Timestamp::from_millis(s.updated_at),
            version: s.version,
        });
        let mut channels: Vec<ChannelTarget> = Vec::new();
        if subscriber.is_some() {
            let rows: Vec<TargetRow> = sqlx::query_as(
                "SELECT c.pk, c.provider_id, c.integration_id, c.webhook_url, c.channel,
                        c.alert_uid, c.title, c.image_url, c.state, c.external_url,
                        c.environment_id, t.token_hash, t.token
                 FROM subscriber_channels c LEFT JOIN device_tokens t ON t.channel_pk = c.pk
                 WHERE c.subscriber_pk = $1 ORDER BY c.pk, t.pk",
            )
            .bind(row.subscriber_pk)
            .fetch_all(&mut *tx)
            .await?;
            let mut last = None;
            for t in rows {
                let provider_id = provider(&t.provider_id)?;
                if provider_id.channel().as_str() != row.channel {
                    continue;
                }
                if last != Some(t.pk) {
                    last = Some(t.pk);
                    let owner = Owner::Channel {
                        subscriber: &row.subscriber_ref,
                        integration: &t.integration_id,
                    };
                    let credentials = self.vault.open_channel(
                        &t.environment_id,
                        owner,
                        [
                            t.webhook_url,
                            t.channel,
                            t.alert_uid,
                            t.title,
                            t.image_url,
                            t.state,
                            t.external_url,
                        ],
                    )?;
                    channels.push(ChannelTarget {
                        provider_id,
                        integration_id: ObjectId::from_stored(t.integration_id),
                        credentials,
                        tokens: Vec::new(),
                    });
                }
                if let (Some(hash), Some(token)) = (t.token_hash, t.token) {
                    let owner = Owner::Channel {
                        subscriber: &row.subscriber_ref,
                        integration: channels.last().map_or("", |c| c.integration_id.as_str()),
                    };
                    let token = self.vault.open_token(&t.environment_id, owner, &token)?;
                    if let Some(c) = channels.last_mut() {
                        c.tokens.push(TokenTarget { hash, token });
                    }
                }
            }
        }
        let ids: Vec<String> = channels
            .iter()
            .map(|c| c.integration_id.as_str().to_string())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut integrations = Vec::new();
        if !ids.is_empty() {
            let rows: Vec<IntegrationRow> = sqlx::query_as(&format!(
                "SELECT {INTEGRATION_COLUMNS} FROM integrations
                 WHERE id = ANY($1) AND environment_id = $2 AND NOT deleted ORDER BY pk"
            ))
            .bind(&ids)
            .bind(job.environment_id.as_str())
            .fetch_all(&mut *tx)
            .await?;
            for r in rows {
                integrations.push(r.into_integration(&self.vault)?);
            }
        }
        let rows: Vec<MessageRow> = sqlx::query_as(
            "SELECT m.pk, m.id, m.provider_id, m.integration_id, m.content, m.title,
                    m.overrides, m.error_text, d.id AS delivery_id, d.target, d.status,
                    d.attempts
             FROM messages m LEFT JOIN deliveries d ON d.message_pk = m.pk
             WHERE m.job_pk = $1 ORDER BY m.pk, d.pk",
        )
        .bind(row.pk)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut messages: Vec<(i64, MessageState)> = Vec::new();
        for m in rows {
            if messages.last().map(|x| x.0) != Some(m.pk) {
                messages.push((
                    m.pk,
                    MessageState {
                        id: ObjectId::from_stored(m.id.clone()),
                        provider_id: provider(&m.provider_id)?,
                        integration_id: ObjectId::from_stored(m.integration_id.clone()),
                        content: m.content.clone(),
                        title: m.title.clone(),
                        overrides: json_object("message overrides", &m.overrides)?,
                        error_text: m.error_text.clone(),
                        deliveries: Vec::new(),
                    },
                ));
            }
            if let (Some(id), Some(target), Some(status), Some(attempts)) =
                (m.delivery_id, m.target, m.status, m.attempts)
            {
                let status = DeliveryStatus::parse(&status)
                    .ok_or_else(|| corrupt(format!("delivery status {status:?}")))?;
                if let Some((_, last)) = messages.last_mut() {
                    last.deliveries.push(DeliveryState {
                        id: ObjectId::from_stored(id),
                        target,
                        status,
                        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
                    });
                }
            }
        }
        Ok(Some(JobContext {
            job: JobInfo {
                id: job.id.clone(),
                environment_id: job.environment_id.clone(),
                organization_id: ObjectId::from_stored(row.organization_id),
                notification_id: ObjectId::from_stored(row.notification_id),
                subscriber_internal_id: ObjectId::from_stored(row.subscriber_ref),
                subscriber_id: row.subscriber_id,
                step_index: usize::try_from(row.step_index).unwrap_or(usize::MAX),
                runs: job.runs,
            },
            event,
            subscriber,
            channels,
            integrations,
            messages: messages.into_iter().map(|(_, m)| m).collect(),
        }))
    }

    async fn record_once(&self, run: &JobRun) -> Result<bool> {
        #[derive(FromRow)]
        struct Held {
            pk: i64,
            status: String,
            lease_owner: Option<String>,
            environment_id: String,
            transaction_id: String,
            subscriber_id: String,
            subscriber_pk: i64,
        }
        let mut tx = self.pool.begin().await?;
        let held: Option<Held> = sqlx::query_as(
            "SELECT j.pk, j.status, j.lease_owner, j.environment_id, e.transaction_id,
                    n.subscriber_id, n.subscriber_pk
             FROM jobs j JOIN notifications n ON n.pk = j.notification_pk
             JOIN events e ON e.pk = n.event_pk
             WHERE j.id = $1
             FOR UPDATE OF j",
        )
        .bind(run.job_id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(held) = held else {
            return Ok(false);
        };
        if held.status != "running" || held.lease_owner.as_deref() != Some(&run.lease_owner) {
            return Ok(false);
        }
        let now = now();
        for m in &run.new_messages {
            let message_pk: i64 = sqlx::query_scalar(
                "INSERT INTO messages (id, job_pk, environment_id, transaction_id, subscriber_id,
                     channel, provider_id, integration_id, content, title,
                     webhook_hint, device_tokens, overrides, status, error_id, error_text,
                     created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17, $17)
                 RETURNING pk",
            )
            .bind(m.id.as_str())
            .bind(held.pk)
            .bind(&held.environment_id)
            .bind(&held.transaction_id)
            .bind(&held.subscriber_id)
            .bind(m.channel.as_str())
            .bind(m.provider_id.as_str())
            .bind(m.integration_id.as_str())
            .bind(&m.content)
            .bind(&m.title)
            .bind(&m.webhook_hint)
            .bind(json_text(&m.device_token_hints))
            .bind(json_text(&m.overrides))
            .bind(m.status.as_str())
            .bind(&m.error_id)
            .bind(&m.error_text)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            for d in &m.deliveries {
                let s = &d.state;
                sqlx::query(
                    "INSERT INTO deliveries (id, message_pk, target, target_hint, status,
                         attempts, outcome, http_status, provider_code, provider_message_id,
                         detail, receipt_due_at, updated_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                )
                .bind(s.id.as_str())
                .bind(message_pk)
                .bind(&d.target)
                .bind(&d.target_hint)
                .bind(s.status.as_str())
                .bind(i64::from(s.attempts))
                .bind(&s.outcome)
                .bind(s.http_status.map(i64::from))
                .bind(&s.provider_code)
                .bind(&s.provider_message_id)
                .bind(&s.detail)
                .bind(s.receipt_due_at.map(Timestamp::millis))
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        for m in &run.message_updates {
            sqlx::query(
                "UPDATE messages SET status = $3, error_id = $4, error_text = $5, updated_at = $6
                 WHERE id = $1 AND job_pk = $2",
            )
            .bind(m.id.as_str())
            .bind(held.pk)
            .bind(m.status.as_str())
            .bind(&m.error_id)
            .bind(&m.error_text)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        for s in &run.delivery_updates {
            sqlx::query(
                "UPDATE deliveries SET status = $2, attempts = $3, outcome = $4, http_status = $5,
                     provider_code = $6, provider_message_id = $7, detail = $8, updated_at = $9,
                     receipt_due_at = $10
                 WHERE id = $1",
            )
            .bind(s.id.as_str())
            .bind(s.status.as_str())
            .bind(i64::from(s.attempts))
            .bind(&s.outcome)
            .bind(s.http_status.map(i64::from))
            .bind(&s.provider_code)
            .bind(&s.provider_message_id)
            .bind(&s.detail)
            .bind(now)
            .bind(s.receipt_due_at.map(Timestamp::millis))
            .execute(&mut *tx)
            .await?;
        }
        insert_details(&mut tx, held.pk, &run.details).await?;
        // Pruning: dead tokens leave the subscriber's channels in the same transaction.
        remove_tokens(&mut tx, held.subscriber_pk, &run.removed_tokens, now).await?;
        let (status, run_at) = match run.outcome {
            JobOutcome::Completed => ("completed", None),
            JobOutcome::Failed => ("failed", None),
            JobOutcome::Canceled => ("canceled", None),
            JobOutcome::RetryAt(at) => ("queued", Some(at.millis())),
        };
        sqlx::query(
            "UPDATE jobs SET status = $2, run_at = COALESCE($3, run_at), lease_owner = NULL,
                 lease_until = NULL, provider_id = COALESCE($4, provider_id), updated_at = $5
             WHERE pk = $1",
        )
        .bind(held.pk)
        .bind(status)
        .bind(run_at)
        .bind(run.provider_id.map(ProviderId::as_str))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}

/// Appends execution details to the job `job_pk`.
async fn insert_details(
    conn: &mut PgConnection,
    job_pk: i64,
    details: &[NewExecutionDetail],
) -> Result<()> {
    for d in details {
        sqlx::query(
            "INSERT INTO execution_details (id, job_pk, message_id, provider_id, detail, source,
                 status, is_retry, raw, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(d.id.as_str())
        .bind(job_pk)
        .bind(d.message_id.as_ref().map(ObjectId::as_str))
        .bind(d.provider_id.map(ProviderId::as_str))
        .bind(&d.detail)
        .bind(d.source.as_str())
        .bind(d.status.as_str())
        .bind(d.is_retry)
        .bind(&d.raw)
        .bind(d.created_at.millis())
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Removes dead tokens from the subscriber's channels (pruning); the subscriber's `updated_at`
/// moves when one was there.
async fn remove_tokens(
    conn: &mut PgConnection,
    subscriber_pk: i64,
    removals: &[TokenRemoval],
    now: i64,
) -> Result<()> {
    let mut removed = 0;
    for r in removals {
        removed += sqlx::query(
            "DELETE FROM device_tokens
             WHERE token_hash = $3 AND channel_pk IN (
                 SELECT pk FROM subscriber_channels
                 WHERE subscriber_pk = $1 AND integration_id = $2)",
        )
        .bind(subscriber_pk)
        .bind(r.integration_id.as_str())
        .bind(&r.token_hash)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    if removed > 0 {
        sqlx::query("UPDATE subscribers SET updated_at = $2 WHERE pk = $1")
            .bind(subscriber_pk)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

#[derive(FromRow)]
struct ReceiptRow {
    delivery_id: String,
    job_id: String,
    message_id: String,
    environment_id: String,
    integration_id: String,
    provider_id: String,
    provider_message_id: Option<String>,
    target: String,
    target_hint: String,
    updated_at: i64,
}

impl PgStore {
    async fn due_receipts_once(&self, now: i64, limit: usize) -> Result<Vec<ReceiptCheck>> {
        let mut tx = snapshot(&self.pool).await?;
        let rows: Vec<ReceiptRow> = sqlx::query_as(
            "SELECT d.id AS delivery_id, j.id AS job_id, m.id AS message_id, m.environment_id,
                    m.integration_id, m.provider_id, d.provider_message_id, d.target,
                    d.target_hint, d.updated_at
             FROM deliveries d JOIN messages m ON m.pk = d.message_pk
             JOIN jobs j ON j.pk = m.job_pk
             WHERE d.receipt_due_at IS NOT NULL AND d.receipt_due_at <= $1
             ORDER BY d.receipt_due_at LIMIT $2",
        )
        .bind(now)
        .bind(limit as i64)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let found: Option<IntegrationRow> = sqlx::query_as(&format!(
                "SELECT {INTEGRATION_COLUMNS} FROM integrations
                 WHERE id = $1 AND environment_id = $2 AND NOT deleted"
            ))
            .bind(&r.integration_id)
            .bind(&r.environment_id)
            .fetch_optional(&mut *tx)
            .await?;
            out.push(ReceiptCheck {
                integration: found.map(|i| i.into_integration(&self.vault)).transpose()?,
                provider_id: provider(&r.provider_id)?,
                delivery_id: ObjectId::from_stored(r.delivery_id),
                job_id: ObjectId::from_stored(r.job_id),
                message_id: ObjectId::from_stored(r.message_id),
                environment_id: ObjectId::from_stored(r.environment_id),
                integration_id: ObjectId::from_stored(r.integration_id),
                receipt_id: r.provider_message_id.unwrap_or_default(),
                target: r.target,
                target_hint: r.target_hint,
                sent_at: Timestamp::from_millis(r.updated_at),
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    async fn record_receipts_once(&self, results: &[ReceiptResult]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let now = now();
        for r in results {
            let found: Option<(i64, i64)> = sqlx::query_as(
                "SELECT j.pk, n.subscriber_pk FROM jobs j
                 JOIN notifications n ON n.pk = j.notification_pk WHERE j.id = $1",
            )
            .bind(r.job_id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let Some((job_pk, subscriber_pk)) = found else {
                continue;
            };
            sqlx::query("UPDATE deliveries SET receipt_due_at = $2 WHERE id = $1")
                .bind(r.delivery_id.as_str())
                .bind(r.ask_again_at.map(Timestamp::millis))
                .execute(&mut *tx)
                .await?;
            if let Some((outcome, code, detail)) = &r.failure {
                sqlx::query(
                    "UPDATE deliveries SET status = 'failed', outcome = $2, provider_code = $3,
                         detail = $4, updated_at = $5
                     WHERE id = $1",
                )
                .bind(r.delivery_id.as_str())
                .bind(outcome)
                .bind(code)
                .bind(detail)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE messages SET status = 'error', error_id = 'unexpected_push_error',
                         error_text = $2, updated_at = $3
                     WHERE id = $1",
                )
                .bind(r.message_id.as_str())
                .bind(detail)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            if let Some(removal) = &r.remove {
                remove_tokens(&mut tx, subscriber_pk, std::slice::from_ref(removal), now).await?;
            }
            insert_details(&mut tx, job_pk, &r.details).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

async fn release(conn: &mut PgConnection, owner: &str, jobs: &[ObjectId]) -> Result<()> {
    let ids: Vec<&str> = jobs.iter().map(ObjectId::as_str).collect();
    sqlx::query(
        "UPDATE jobs SET status = 'queued', run_at = $3, lease_owner = NULL, lease_until = NULL,
             runs = GREATEST(runs - 1, 0), updated_at = $3
         WHERE id = ANY($1) AND lease_owner = $2 AND status = 'running'",
    )
    .bind(&ids)
    .bind(owner)
    .bind(now())
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl JobQueue for PgStore {
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
        retrying(|| self.claim_once(owner, limit, lease, now.millis())).await
    }

    async fn load_job(&self, job: &ClaimedJob) -> StoreResult<Option<JobContext>> {
        retrying(|| self.load_once(job)).await
    }

    async fn record_job_run(&self, run: &JobRun) -> StoreResult<bool> {
        retrying(|| self.record_once(run)).await
    }

    async fn release_jobs(&self, owner: &str, jobs: &[ObjectId]) -> StoreResult<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        retrying(|| async {
            let mut conn = self.pool.acquire().await?;
            release(&mut conn, owner, jobs).await
        })
        .await
    }

    async fn due_receipts(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<ReceiptCheck>> {
        retrying(|| self.due_receipts_once(now.millis(), limit)).await
    }

    async fn record_receipts(&self, results: &[ReceiptResult]) -> StoreResult<()> {
        if results.is_empty() {
            return Ok(());
        }
        retrying(|| self.record_receipts_once(results)).await
    }

    async fn queue_state(&self) -> StoreResult<QueueState> {
        retrying(|| async {
            let (queued, leased, fan_outs_pending): (Option<i64>, Option<i64>, bool) =
                sqlx::query_as(
                    "SELECT (SELECT min(run_at) FROM jobs WHERE status = 'queued'),
                            (SELECT min(lease_until) FROM jobs WHERE status = 'running'),
                            EXISTS (SELECT 1 FROM fan_outs WHERE NOT done)",
                )
                .fetch_one(&self.pool)
                .await?;
            let next_due = match (queued, leased) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            Ok(QueueState {
                next_due: next_due.map(Timestamp::from_millis),
                fan_outs_pending,
            })
        })
        .await
    }
}
