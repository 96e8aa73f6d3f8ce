//! The activity reads ([`ActivityStore`]): messages, notifications with their jobs and execution
//! details, and the execution details of one notification. Lists run on a blocking thread
//! (`ReadPool::read`), as every scan does; they are filtered with the same dynamic `WHERE` builder.

use async_trait::async_trait;
use herald_core::delivery::activity::{
    ExecutionDetail, JobActivity, Message, MessageQuery, NotificationActivity, NotificationQuery,
    SubscriberSummary,
};
use herald_core::delivery::event::WorkflowSnapshot;
use herald_core::delivery::job::{DetailSource, DetailStatus, JobStatus, MessageStatus};
use herald_core::delivery::ActivityStore;
use herald_core::{ChannelType, ObjectId, ProviderId, StoreResult, Timestamp};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, OptionalExtension, Row};
use serde_json::{Map, Value};

use crate::error::{BadStoredValue, DbResult};
use crate::rows::find_live_subscriber_pk;
use crate::SqliteStore;

fn bad(idx: usize, what: &'static str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        idx,
        rusqlite::types::Type::Text,
        Box::new(BadStoredValue {
            what,
            value: value.to_string(),
        }),
    )
}

fn id(row: &Row, idx: usize) -> rusqlite::Result<ObjectId> {
    Ok(ObjectId::from_stored(row.get(idx)?))
}

fn ts(row: &Row, idx: usize) -> rusqlite::Result<Timestamp> {
    Ok(Timestamp::from_millis(row.get(idx)?))
}

fn channel(row: &Row, idx: usize) -> rusqlite::Result<ChannelType> {
    let s: String = row.get(idx)?;
    ChannelType::parse(&s).ok_or_else(|| bad(idx, "channel", &s))
}

fn provider(row: &Row, idx: usize) -> rusqlite::Result<ProviderId> {
    let s: String = row.get(idx)?;
    s.parse().map_err(|_| bad(idx, "provider id", &s))
}

fn opt_provider(row: &Row, idx: usize) -> rusqlite::Result<Option<ProviderId>> {
    match row.get::<_, Option<String>>(idx)? {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| bad(idx, "provider id", &s)),
    }
}

fn object(row: &Row, idx: usize) -> rusqlite::Result<Map<String, Value>> {
    let s: String = row.get(idx)?;
    match serde_json::from_str(&s) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(bad(idx, "JSON object", &s)),
    }
}

/// A `WHERE` clause built from optional filters, with its parameters in order.
#[derive(Default)]
struct Filter {
    sql: String,
    params: Vec<SqlValue>,
}

impl Filter {
    fn new(first: &str, env: &ObjectId) -> Self {
        Filter {
            sql: first.to_string(),
            params: vec![SqlValue::Text(env.as_str().to_string())],
        }
    }

    fn and(&mut self, condition: &str, param: SqlValue) {
        self.sql.push_str(" AND ");
        self.sql.push_str(condition);
        self.params.push(param);
    }

    /// `AND <column> IN (…)` for a non-empty list (as a JSON array parameter).
    fn and_in(&mut self, column: &str, values: impl IntoIterator<Item = String>) {
        let values: Vec<String> = values.into_iter().collect();
        if values.is_empty() {
            return;
        }
        self.and(
            &format!("{column} IN (SELECT value FROM json_each(?))"),
            SqlValue::Text(Value::from(values).to_string()),
        );
    }
}

const MESSAGE_COLUMNS: &str = "m.id, m.environment_id, e.organization_id, n.id, j.id, \
     n.subscriber_ref, m.subscriber_id, e.workflow_id, e.workflow_identifier, j.step_id, \
     m.transaction_id, m.channel, m.provider_id, m.content, m.title, m.webhook_hint, \
     m.device_tokens, e.payload, m.overrides, m.status, m.error_id, m.error_text, m.created_at, \
     m.updated_at";

const MESSAGE_FROM: &str = "FROM messages m JOIN jobs j ON j.pk = m.job_pk \
     JOIN notifications n ON n.pk = j.notification_pk JOIN events e ON e.pk = n.event_pk";

fn message(row: &Row) -> rusqlite::Result<Message> {
    let status: String = row.get(19)?;
    let hints: String = row.get(16)?;
    Ok(Message {
        id: id(row, 0)?,
        environment_id: id(row, 1)?,
        organization_id: id(row, 2)?,
        notification_id: id(row, 3)?,
        job_id: id(row, 4)?,
        subscriber_internal_id: id(row, 5)?,
        subscriber_id: row.get(6)?,
        workflow_id: id(row, 7)?,
        workflow_identifier: row.get(8)?,
        step_id: id(row, 9)?,
        transaction_id: row.get(10)?,
        channel: channel(row, 11)?,
        provider_id: provider(row, 12)?,
        content: row.get(13)?,
        title: row.get(14)?,
        webhook_hint: row.get(15)?,
        device_token_hints: serde_json::from_str(&hints)
            .map_err(|_| bad(16, "device token hints", &hints))?,
        payload: object(row, 17)?,
        overrides: object(row, 18)?,
        status: MessageStatus::parse(&status).ok_or_else(|| bad(19, "message status", &status))?,
        error_id: row.get(20)?,
        error_text: row.get(21)?,
        created_at: ts(row, 22)?,
        updated_at: ts(row, 23)?,
    })
}

fn list_messages(
    conn: &Connection,
    env: &ObjectId,
    q: &MessageQuery,
) -> DbResult<Option<(Vec<Message>, u64)>> {
    let mut filter = Filter::new("m.environment_id = ? AND m.deleted = 0", env);
    if let Some(subscriber_id) = &q.subscriber_id {
        if find_live_subscriber_pk(conn, env, subscriber_id)?.is_none() {
            return Ok(None);
        }
        filter.and("m.subscriber_id = ?", SqlValue::Text(subscriber_id.clone()));
    }
    if let Some(c) = q.channel {
        filter.and("m.channel = ?", SqlValue::Text(c.as_str().to_string()));
    }
    filter.and_in("m.transaction_id", q.transaction_ids.iter().cloned());
    let total: u64 = conn
        .prepare(&format!(
            "SELECT count(*) FROM messages m WHERE {}",
            filter.sql
        ))?
        .query_row(params_from_iter(filter.params.iter()), |r| r.get(0))?;
    let mut params = filter.params.clone();
    params.push(SqlValue::Integer(q.limit as i64));
    params.push(SqlValue::Integer(q.page.saturating_mul(q.limit) as i64));
    let mut stmt = conn.prepare(&format!(
        "SELECT {MESSAGE_COLUMNS} {MESSAGE_FROM} WHERE {} ORDER BY m.pk DESC LIMIT ? OFFSET ?",
        filter.sql
    ))?;
    let rows = stmt.query_map(params_from_iter(params.iter()), message)?;
    Ok(Some((rows.collect::<Result<_, _>>()?, total)))
}

fn delete_messages(
    conn: &Connection,
    env: &ObjectId,
    column: &str,
    value: &str,
    channel: Option<ChannelType>,
) -> DbResult<u64> {
    let mut filter = Filter::new("environment_id = ? AND deleted = 0", env);
    filter.and(&format!("{column} = ?"), SqlValue::Text(value.to_string()));
    if let Some(c) = channel {
        filter.and("channel = ?", SqlValue::Text(c.as_str().to_string()));
    }
    let mut params = vec![SqlValue::Integer(Timestamp::now().millis())];
    params.extend(filter.params);
    let changed = conn
        .prepare(&format!(
            "UPDATE messages SET deleted = 1, updated_at = ? WHERE {}",
            filter.sql
        ))?
        .execute(params_from_iter(params.iter()))?;
    Ok(changed as u64)
}

const DETAIL_COLUMNS: &str =
    "d.id, n.environment_id, e.organization_id, j.id, n.id, e.workflow_id, \
     n.subscriber_ref, d.message_id, d.provider_id, e.transaction_id, j.channel, d.detail, \
     d.source, d.status, d.is_retry, d.raw, d.created_at";

const DETAIL_FROM: &str = "FROM execution_details d JOIN jobs j ON j.pk = d.job_pk \
     JOIN notifications n ON n.pk = j.notification_pk JOIN events e ON e.pk = n.event_pk";

fn detail(row: &Row) -> rusqlite::Result<ExecutionDetail> {
    let source: String = row.get(12)?;
    let status: String = row.get(13)?;
    Ok(ExecutionDetail {
        id: id(row, 0)?,
        environment_id: id(row, 1)?,
        organization_id: id(row, 2)?,
        job_id: id(row, 3)?,
        notification_id: id(row, 4)?,
        workflow_id: id(row, 5)?,
        subscriber_internal_id: id(row, 6)?,
        message_id: row.get::<_, Option<String>>(7)?.map(ObjectId::from_stored),
        provider_id: opt_provider(row, 8)?,
        transaction_id: row.get(9)?,
        channel: channel(row, 10)?,
        detail: row.get(11)?,
        source: DetailSource::parse(&source).ok_or_else(|| bad(12, "detail source", &source))?,
        status: DetailStatus::parse(&status).ok_or_else(|| bad(13, "detail status", &status))?,
        is_retry: row.get(14)?,
        raw: row.get(15)?,
        created_at: ts(row, 16)?,
    })
}

/// The jobs (in step order) of the notification `pk`, each with its execution details.
fn jobs_of(conn: &Connection, notification_pk: i64) -> DbResult<Vec<JobActivity>> {
    let mut stmt = conn.prepare_cached(
        "SELECT pk, id, channel, status, provider_id, step_id, created_at, updated_at
         FROM jobs WHERE notification_pk = ?1 ORDER BY step_index",
    )?;
    let rows = stmt.query_map([notification_pk], |row| {
        let status: String = row.get(3)?;
        Ok((
            row.get::<_, i64>(0)?,
            JobActivity {
                id: id(row, 1)?,
                channel: channel(row, 2)?,
                status: JobStatus::parse(&status).ok_or_else(|| bad(3, "job status", &status))?,
                provider_id: opt_provider(row, 4)?,
                step_id: id(row, 5)?,
                created_at: ts(row, 6)?,
                updated_at: ts(row, 7)?,
                details: Vec::new(),
            },
        ))
    })?;
    let mut jobs: Vec<(i64, JobActivity)> = rows.collect::<Result<_, _>>()?;
    let mut details = conn.prepare_cached(&format!(
        "SELECT {DETAIL_COLUMNS} {DETAIL_FROM} WHERE d.job_pk = ?1 ORDER BY d.pk"
    ))?;
    for (pk, job) in &mut jobs {
        let rows = details.query_map([*pk], detail)?;
        job.details = rows.collect::<Result<_, _>>()?;
    }
    Ok(jobs.into_iter().map(|(_, j)| j).collect())
}

const NOTIFICATION_COLUMNS: &str = "n.pk, n.id, n.environment_id, e.organization_id, \
     e.transaction_id, e.workflow_id, e.workflow_name, e.workflow_identifier, e.workflow, \
     n.subscriber_pk, n.subscriber_ref, n.subscriber_id, e.payload, n.created_at";

fn notification(conn: &Connection, row: &Row) -> DbResult<NotificationActivity> {
    let pk: i64 = row.get(0)?;
    let workflow: String = row.get(8)?;
    let workflow: WorkflowSnapshot = serde_json::from_str(&workflow)?;
    let mut channels: Vec<ChannelType> = Vec::new();
    for step in &workflow.steps {
        let c = step.step_kind().channel();
        if !channels.contains(&c) {
            channels.push(c);
        }
    }
    let subscriber_pk: i64 = row.get(9)?;
    let subscriber_ref = id(row, 10)?;
    let subscriber_id: String = row.get(11)?;
    let profile = conn
        .prepare_cached(
            "SELECT first_name, last_name, email, phone FROM subscribers WHERE pk = ?1 AND id = ?2",
        )?
        .query_row((subscriber_pk, subscriber_ref.as_str()), |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?;
    let (first_name, last_name, email, phone) = profile.unwrap_or_default();
    let jobs = jobs_of(conn, pk)?;
    let updated_at = jobs
        .iter()
        .map(|j| j.updated_at)
        .max()
        .unwrap_or(ts(row, 13)?);
    Ok(NotificationActivity {
        id: id(row, 1)?,
        environment_id: id(row, 2)?,
        organization_id: id(row, 3)?,
        transaction_id: row.get(4)?,
        workflow_id: id(row, 5)?,
        workflow_name: row.get(6)?,
        workflow_identifier: row.get(7)?,
        subscriber: SubscriberSummary {
            id: subscriber_ref,
            subscriber_id,
            first_name,
            last_name,
            email,
            phone,
        },
        channels,
        payload: object(row, 12)?,
        created_at: ts(row, 13)?,
        updated_at,
        jobs,
    })
}

fn list_notifications(
    conn: &Connection,
    env: &ObjectId,
    q: &NotificationQuery,
) -> DbResult<Vec<NotificationActivity>> {
    let mut filter = Filter::new("n.environment_id = ?", env);
    filter.and_in("n.subscriber_id", q.subscriber_ids.iter().cloned());
    filter.and_in("e.transaction_id", q.transaction_ids.iter().cloned());
    filter.and_in(
        "e.workflow_id",
        q.workflow_ids.iter().map(|w| w.as_str().to_string()),
    );
    if !q.channels.is_empty() {
        let channels: Vec<&str> = q.channels.iter().map(|c| c.as_str()).collect();
        filter.and(
            "EXISTS (SELECT 1 FROM jobs j WHERE j.notification_pk = n.pk
                 AND j.channel IN (SELECT value FROM json_each(?)))",
            SqlValue::Text(Value::from(channels).to_string()),
        );
    }
    if !q.emails.is_empty() {
        filter.and(
            "n.subscriber_pk IN (SELECT s.pk FROM subscribers s WHERE s.environment_id = n.environment_id
                 AND s.email IN (SELECT value FROM json_each(?)))",
            SqlValue::Text(Value::from(q.emails.clone()).to_string()),
        );
    }
    let mut params = filter.params;
    params.push(SqlValue::Integer(q.limit as i64 + 1));
    params.push(SqlValue::Integer(q.page.saturating_mul(q.limit) as i64));
    let mut stmt = conn.prepare(&format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications n JOIN events e ON e.pk = n.event_pk
         WHERE {} ORDER BY n.pk DESC LIMIT ? OFFSET ?",
        filter.sql
    ))?;
    let mut rows = stmt.query(params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(notification(conn, row)?);
    }
    Ok(out)
}

fn get_notification(
    conn: &Connection,
    env: &ObjectId,
    nid: &ObjectId,
) -> DbResult<Option<NotificationActivity>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications n JOIN events e ON e.pk = n.event_pk
         WHERE n.environment_id = ?1 AND n.id = ?2"
    ))?;
    let mut rows = stmt.query((env.as_str(), nid.as_str()))?;
    match rows.next()? {
        Some(row) => Ok(Some(notification(conn, row)?)),
        None => Ok(None),
    }
}

fn execution_details(
    conn: &Connection,
    env: &ObjectId,
    nid: &ObjectId,
    subscriber_id: &str,
) -> DbResult<Option<Vec<ExecutionDetail>>> {
    if find_live_subscriber_pk(conn, env, subscriber_id)?.is_none() {
        return Ok(None);
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {DETAIL_COLUMNS} {DETAIL_FROM}
         WHERE n.environment_id = ?1 AND n.id = ?2 AND n.subscriber_id = ?3 ORDER BY d.pk"
    ))?;
    let rows = stmt.query_map((env.as_str(), nid.as_str(), subscriber_id), detail)?;
    Ok(Some(rows.collect::<Result<_, _>>()?))
}

#[async_trait]
impl ActivityStore for SqliteStore {
    async fn list_messages(
        &self,
        env: &ObjectId,
        query: &MessageQuery,
    ) -> StoreResult<Option<(Vec<Message>, u64)>> {
        let (env, query) = (env.clone(), query.clone());
        self.readers
            .read(move |conn| list_messages(conn, &env, &query))
            .await
    }

    async fn delete_message(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool> {
        let (env, id) = (env.clone(), id.clone());
        self.writer
            .write(move |conn| Ok(delete_messages(conn, &env, "id", id.as_str(), None)? > 0))
            .await
    }

    async fn delete_messages_by_transaction(
        &self,
        env: &ObjectId,
        transaction_id: &str,
        channel: Option<ChannelType>,
    ) -> StoreResult<u64> {
        let (env, transaction_id) = (env.clone(), transaction_id.to_string());
        self.writer
            .write(move |conn| {
                delete_messages(conn, &env, "transaction_id", &transaction_id, channel)
            })
            .await
    }

    async fn list_notifications(
        &self,
        env: &ObjectId,
        query: &NotificationQuery,
    ) -> StoreResult<Vec<NotificationActivity>> {
        let (env, query) = (env.clone(), query.clone());
        self.readers
            .read(move |conn| list_notifications(conn, &env, &query))
            .await
    }

    async fn get_notification(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<NotificationActivity>> {
        let (env, id) = (env.clone(), id.clone());
        self.readers
            .read(move |conn| get_notification(conn, &env, &id))
            .await
    }

    async fn execution_details(
        &self,
        env: &ObjectId,
        notification_id: &ObjectId,
        subscriber_id: &str,
    ) -> StoreResult<Option<Vec<ExecutionDetail>>> {
        let (env, nid, sid) = (
            env.clone(),
            notification_id.clone(),
            subscriber_id.to_string(),
        );
        self.readers
            .read(move |conn| execution_details(conn, &env, &nid, &sid))
            .await
    }
}
