//! The activity reads ([`ActivityStore`]) on PostgreSQL: messages, notifications with their jobs
//! and execution details, and the execution details of one notification. Each list is one snapshot
//! (count, page and the rows hanging off it agree) and a scan (`scan.rs`: it never takes the
//! connections of point reads, and is cancelled when its request goes away); filters are bound
//! parameters.

use async_trait::async_trait;
use herald_core::delivery::activity::{
    ExecutionDetail, JobActivity, Message, MessageQuery, NotificationActivity, NotificationQuery,
    SubscriberSummary,
};
use herald_core::delivery::event::WorkflowSnapshot;
use herald_core::delivery::job::{DetailSource, DetailStatus, JobStatus, MessageStatus};
use herald_core::delivery::ActivityStore;
use herald_core::{ChannelType, ObjectId, StoreResult, Timestamp};
use serde_json::{Map, Value};
use sqlx::postgres::PgConnection;
use sqlx::FromRow;

use crate::error::{corrupt, retrying, Result};
use crate::pagination::{snapshot, Sql};
use crate::rows::{now, provider};
use crate::PgStore;

fn object(what: &str, text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(corrupt(format!("{what}: not a JSON object"))),
    }
}

fn channel(s: &str) -> Result<ChannelType> {
    ChannelType::parse(s).ok_or_else(|| corrupt(format!("channel {s:?}")))
}

fn opt_provider(s: Option<String>) -> Result<Option<herald_core::ProviderId>> {
    s.as_deref().map(provider).transpose()
}

const MESSAGE_COLUMNS: &str =
    "m.id, m.environment_id, e.organization_id, n.id AS notification_id, \
     j.id AS job_id, n.subscriber_ref, m.subscriber_id, e.workflow_id, e.workflow_identifier, \
     j.step_id, m.transaction_id, m.channel, m.provider_id, m.content, m.title, m.webhook_hint, \
     m.device_tokens, e.payload, m.overrides, m.status, m.error_id, m.error_text, m.created_at, \
     m.updated_at";

const MESSAGE_FROM: &str = " FROM messages m JOIN jobs j ON j.pk = m.job_pk \
     JOIN notifications n ON n.pk = j.notification_pk JOIN events e ON e.pk = n.event_pk ";

#[derive(FromRow)]
struct MessageRow {
    id: String,
    environment_id: String,
    organization_id: String,
    notification_id: String,
    job_id: String,
    subscriber_ref: String,
    subscriber_id: String,
    workflow_id: String,
    workflow_identifier: String,
    step_id: String,
    transaction_id: String,
    channel: String,
    provider_id: String,
    content: String,
    title: Option<String>,
    webhook_hint: Option<String>,
    device_tokens: String,
    payload: String,
    overrides: String,
    status: String,
    error_id: Option<String>,
    error_text: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl MessageRow {
    fn into_message(self) -> Result<Message> {
        Ok(Message {
            device_token_hints: serde_json::from_str(&self.device_tokens)
                .map_err(|e| corrupt(format!("device token hints: {e}")))?,
            payload: object("event payload", &self.payload)?,
            overrides: object("message overrides", &self.overrides)?,
            status: MessageStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("message status {:?}", self.status)))?,
            channel: channel(&self.channel)?,
            provider_id: provider(&self.provider_id)?,
            id: ObjectId::from_stored(self.id),
            environment_id: ObjectId::from_stored(self.environment_id),
            organization_id: ObjectId::from_stored(self.organization_id),
            notification_id: ObjectId::from_stored(self.notification_id),
            job_id: ObjectId::from_stored(self.job_id),
            subscriber_internal_id: ObjectId::from_stored(self.subscriber_ref),
            subscriber_id: self.subscriber_id,
            workflow_id: ObjectId::from_stored(self.workflow_id),
            workflow_identifier: self.workflow_identifier,
            step_id: ObjectId::from_stored(self.step_id),
            transaction_id: self.transaction_id,
            content: self.content,
            title: self.title,
            webhook_hint: self.webhook_hint,
            error_id: self.error_id,
            error_text: self.error_text,
            created_at: Timestamp::from_millis(self.created_at),
            updated_at: Timestamp::from_millis(self.updated_at),
        })
    }
}

/// Pushes the `WHERE` of a message query (the subscriber is known to exist).
fn message_filter(q: &mut Sql, env: &ObjectId, query: &MessageQuery) {
    q.push(" WHERE m.environment_id = ")
        .push_bind(env.as_str().to_string())
        .push(" AND NOT m.deleted");
    if let Some(s) = &query.subscriber_id {
        q.push(" AND m.subscriber_id = ").push_bind(s.clone());
    }
    if let Some(c) = query.channel {
        q.push(" AND m.channel = ")
            .push_bind(c.as_str().to_string());
    }
    if !query.transaction_ids.is_empty() {
        q.push(" AND m.transaction_id = ANY(")
            .push_bind(query.transaction_ids.clone())
            .push(")");
    }
}

async fn subscriber_exists(conn: &mut PgConnection, env: &ObjectId, id: &str) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM subscribers
             WHERE environment_id = $1 AND subscriber_id = $2 AND NOT deleted)",
    )
    .bind(env.as_str())
    .bind(id)
    .fetch_one(conn)
    .await?)
}

const DETAIL_SELECT: &str = "SELECT d.id, n.environment_id, e.organization_id, j.id AS job_id, \
     n.id AS notification_id, e.workflow_id, n.subscriber_ref, d.message_id, d.provider_id, \
     e.transaction_id, j.channel, d.detail, d.source, d.status, d.is_retry, d.raw, d.created_at \
     FROM execution_details d JOIN jobs j ON j.pk = d.job_pk \
     JOIN notifications n ON n.pk = j.notification_pk JOIN events e ON e.pk = n.event_pk ";

#[derive(FromRow)]
struct DetailRow {
    id: String,
    environment_id: String,
    organization_id: String,
    job_id: String,
    notification_id: String,
    workflow_id: String,
    subscriber_ref: String,
    message_id: Option<String>,
    provider_id: Option<String>,
    transaction_id: String,
    channel: String,
    detail: String,
    source: String,
    status: String,
    is_retry: bool,
    raw: Option<String>,
    created_at: i64,
}

impl DetailRow {
    fn into_detail(self) -> Result<ExecutionDetail> {
        Ok(ExecutionDetail {
            source: DetailSource::parse(&self.source)
                .ok_or_else(|| corrupt(format!("detail source {:?}", self.source)))?,
            status: DetailStatus::parse(&self.status)
                .ok_or_else(|| corrupt(format!("detail status {:?}", self.status)))?,
            channel: channel(&self.channel)?,
            provider_id: opt_provider(self.provider_id)?,
            id: ObjectId::from_stored(self.id),
            environment_id: ObjectId::from_stored(self.environment_id),
            organization_id: ObjectId::from_stored(self.organization_id),
            job_id: ObjectId::from_stored(self.job_id),
            notification_id: ObjectId::from_stored(self.notification_id),
            workflow_id: ObjectId::from_stored(self.workflow_id),
            subscriber_internal_id: ObjectId::from_stored(self.subscriber_ref),
            message_id: self.message_id.map(ObjectId::from_stored),
            transaction_id: self.transaction_id,
            detail: self.detail,
            is_retry: self.is_retry,
            raw: self.raw,
            created_at: Timestamp::from_millis(self.created_at),
        })
    }
}

#[derive(FromRow)]
struct JobRow {
    pk: i64,
    id: String,
    channel: String,
    status: String,
    provider_id: Option<String>,
    step_id: String,
    created_at: i64,
    updated_at: i64,
}

#[derive(FromRow)]
struct NotificationRow {
    pk: i64,
    id: String,
    environment_id: String,
    organization_id: String,
    transaction_id: String,
    workflow_id: String,
    workflow_name: String,
    workflow_identifier: String,
    workflow: String,
    subscriber_pk: i64,
    subscriber_ref: String,
    subscriber_id: String,
    payload: String,
    created_at: i64,
}

const NOTIFICATION_SELECT: &str = "SELECT n.pk, n.id, n.environment_id, e.organization_id, \
     e.transaction_id, e.workflow_id, e.workflow_name, e.workflow_identifier, e.workflow, \
     n.subscriber_pk, n.subscriber_ref, n.subscriber_id, e.payload, n.created_at \
     FROM notifications n JOIN events e ON e.pk = n.event_pk ";

/// The profile fields the feed shows of a notification's subscriber.
type SummaryRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn notification(
    conn: &mut PgConnection,
    row: NotificationRow,
) -> Result<NotificationActivity> {
    let workflow: WorkflowSnapshot =
        serde_json::from_str(&row.workflow).map_err(|e| corrupt(format!("event workflow: {e}")))?;
    let mut channels: Vec<ChannelType> = Vec::new();
    for step in &workflow.steps {
        let c = step.step_kind().channel();
        if !channels.contains(&c) {
            channels.push(c);
        }
    }
    let profile: Option<SummaryRow> = sqlx::query_as(
        "SELECT first_name, last_name, email, phone FROM subscribers WHERE pk = $1 AND id = $2",
    )
    .bind(row.subscriber_pk)
    .bind(&row.subscriber_ref)
    .fetch_optional(&mut *conn)
    .await?;
    let (first_name, last_name, email, phone) = profile.unwrap_or_default();
    let job_rows: Vec<JobRow> = sqlx::query_as(
        "SELECT pk, id, channel, status, provider_id, step_id, created_at, updated_at
         FROM jobs WHERE notification_pk = $1 ORDER BY step_index",
    )
    .bind(row.pk)
    .fetch_all(&mut *conn)
    .await?;
    let mut jobs = Vec::with_capacity(job_rows.len());
    for j in job_rows {
        let details: Vec<DetailRow> = sqlx::query_as(&format!(
            "{DETAIL_SELECT} WHERE d.job_pk = $1 ORDER BY d.pk"
        ))
        .bind(j.pk)
        .fetch_all(&mut *conn)
        .await?;
        jobs.push(JobActivity {
            channel: channel(&j.channel)?,
            status: JobStatus::parse(&j.status)
                .ok_or_else(|| corrupt(format!("job status {:?}", j.status)))?,
            provider_id: opt_provider(j.provider_id)?,
            id: ObjectId::from_stored(j.id),
            step_id: ObjectId::from_stored(j.step_id),
            created_at: Timestamp::from_millis(j.created_at),
            updated_at: Timestamp::from_millis(j.updated_at),
            details: details
                .into_iter()
                .map(DetailRow::into_detail)
                .collect::<Result<_>>()?,
        });
    }
    let created_at = Timestamp::from_millis(row.created_at);
    let updated_at = jobs
        .iter()
        .map(|j| j.updated_at)
        .max()
        .unwrap_or(created_at);
    Ok(NotificationActivity {
        payload: object("event payload", &row.payload)?,
        id: ObjectId::from_stored(row.id),
        environment_id: ObjectId::from_stored(row.environment_id),
        organization_id: ObjectId::from_stored(row.organization_id),
        transaction_id: row.transaction_id,
        workflow_id: ObjectId::from_stored(row.workflow_id),
        workflow_name: row.workflow_name,
        workflow_identifier: row.workflow_identifier,
        subscriber: SubscriberSummary {
            id: ObjectId::from_stored(row.subscriber_ref),
            subscriber_id: row.subscriber_id,
            first_name,
            last_name,
            email,
            phone,
        },
        channels,
        created_at,
        updated_at,
        jobs,
    })
}

impl PgStore {
    async fn list_messages_once(
        &self,
        env: &ObjectId,
        query: &MessageQuery,
    ) -> Result<Option<(Vec<Message>, u64)>> {
        let mut tx = self.scan().await?;
        if let Some(s) = &query.subscriber_id {
            if !subscriber_exists(&mut tx, env, s).await? {
                return Ok(None);
            }
        }
        let mut count = Sql::new("SELECT count(*) FROM messages m");
        message_filter(&mut count, env, query);
        let total: i64 = count.build_query_scalar().fetch_one(&mut *tx).await?;
        let mut page = Sql::new(format!("SELECT {MESSAGE_COLUMNS}{MESSAGE_FROM}"));
        message_filter(&mut page, env, query);
        page.push(" ORDER BY m.pk DESC LIMIT ")
            .push_bind(query.limit as i64)
            .push(" OFFSET ")
            .push_bind(query.page.saturating_mul(query.limit) as i64);
        let rows: Vec<MessageRow> = page.build_query_as().fetch_all(&mut *tx).await?;
        tx.finish().await?;
        let messages = rows
            .into_iter()
            .map(MessageRow::into_message)
            .collect::<Result<_>>()?;
        Ok(Some((messages, total as u64)))
    }

    async fn delete_messages_once(
        &self,
        env: &ObjectId,
        column: &'static str,
        value: &str,
        channel: Option<ChannelType>,
    ) -> Result<u64> {
        let mut q = Sql::new("UPDATE messages SET deleted = TRUE, updated_at = ");
        q.push_bind(now())
            .push(" WHERE environment_id = ")
            .push_bind(env.as_str().to_string())
            .push(" AND NOT deleted AND ")
            .push(column)
            .push(" = ")
            .push_bind(value.to_string());
        if let Some(c) = channel {
            q.push(" AND channel = ").push_bind(c.as_str().to_string());
        }
        Ok(q.build().execute(&self.pool).await?.rows_affected())
    }

    async fn list_notifications_once(
        &self,
        env: &ObjectId,
        query: &NotificationQuery,
    ) -> Result<Vec<NotificationActivity>> {
        let mut tx = self.scan().await?;
        let mut q = Sql::new(NOTIFICATION_SELECT);
        q.push(" WHERE n.environment_id = ")
            .push_bind(env.as_str().to_string());
        if !query.subscriber_ids.is_empty() {
            q.push(" AND n.subscriber_id = ANY(")
                .push_bind(query.subscriber_ids.clone())
                .push(")");
        }
        if !query.transaction_ids.is_empty() {
            q.push(" AND e.transaction_id = ANY(")
                .push_bind(query.transaction_ids.clone())
                .push(")");
        }
        if !query.workflow_ids.is_empty() {
            let ids: Vec<String> = query
                .workflow_ids
                .iter()
                .map(|w| w.as_str().to_string())
                .collect();
            q.push(" AND e.workflow_id = ANY(").push_bind(ids).push(")");
        }
        if !query.channels.is_empty() {
            let channels: Vec<String> = query
                .channels
                .iter()
                .map(|c| c.as_str().to_string())
                .collect();
            q.push(
                " AND EXISTS (SELECT 1 FROM jobs j WHERE j.notification_pk = n.pk
                     AND j.channel = ANY(",
            )
            .push_bind(channels)
            .push("))");
        }
        if !query.emails.is_empty() {
            q.push(
                " AND n.subscriber_pk IN (SELECT s.pk FROM subscribers s
                     WHERE s.environment_id = n.environment_id AND s.email = ANY(",
            )
            .push_bind(query.emails.clone())
            .push("))");
        }
        q.push(" ORDER BY n.pk DESC LIMIT ")
            .push_bind(query.limit as i64 + 1)
            .push(" OFFSET ")
            .push_bind(query.page.saturating_mul(query.limit) as i64);
        let rows: Vec<NotificationRow> = q.build_query_as().fetch_all(&mut *tx).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(notification(&mut tx, row).await?);
        }
        tx.finish().await?;
        Ok(out)
    }

    async fn get_notification_once(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> Result<Option<NotificationActivity>> {
        let mut tx = snapshot(&self.pool).await?;
        let row: Option<NotificationRow> = sqlx::query_as(&format!(
            "{NOTIFICATION_SELECT} WHERE n.environment_id = $1 AND n.id = $2"
        ))
        .bind(env.as_str())
        .bind(id.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        let found = match row {
            Some(row) => Some(notification(&mut tx, row).await?),
            None => None,
        };
        tx.commit().await?;
        Ok(found)
    }

    async fn execution_details_once(
        &self,
        env: &ObjectId,
        notification_id: &ObjectId,
        subscriber_id: &str,
    ) -> Result<Option<Vec<ExecutionDetail>>> {
        let mut tx = snapshot(&self.pool).await?;
        if !subscriber_exists(&mut tx, env, subscriber_id).await? {
            return Ok(None);
        }
        let rows: Vec<DetailRow> = sqlx::query_as(&format!(
            "{DETAIL_SELECT} WHERE n.environment_id = $1 AND n.id = $2 AND n.subscriber_id = $3
             ORDER BY d.pk"
        ))
        .bind(env.as_str())
        .bind(notification_id.as_str())
        .bind(subscriber_id)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(
            rows.into_iter()
                .map(DetailRow::into_detail)
                .collect::<Result<_>>()?,
        ))
    }
}

#[async_trait]
impl ActivityStore for PgStore {
    async fn list_messages(
        &self,
        env: &ObjectId,
        query: &MessageQuery,
    ) -> StoreResult<Option<(Vec<Message>, u64)>> {
        retrying(|| self.list_messages_once(env, query)).await
    }

    async fn delete_message(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool> {
        retrying(|| async {
            Ok(self
                .delete_messages_once(env, "id", id.as_str(), None)
                .await?
                > 0)
        })
        .await
    }

    async fn delete_messages_by_transaction(
        &self,
        env: &ObjectId,
        transaction_id: &str,
        channel: Option<ChannelType>,
    ) -> StoreResult<u64> {
        retrying(|| self.delete_messages_once(env, "transaction_id", transaction_id, channel)).await
    }

    async fn list_notifications(
        &self,
        env: &ObjectId,
        query: &NotificationQuery,
    ) -> StoreResult<Vec<NotificationActivity>> {
        retrying(|| self.list_notifications_once(env, query)).await
    }

    async fn get_notification(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<NotificationActivity>> {
        retrying(|| self.get_notification_once(env, id)).await
    }

    async fn execution_details(
        &self,
        env: &ObjectId,
        notification_id: &ObjectId,
        subscriber_id: &str,
    ) -> StoreResult<Option<Vec<ExecutionDetail>>> {
        retrying(|| self.execution_details_once(env, notification_id, subscriber_id)).await
    }
}
