//! Reading what happened: `GET /v1/messages`, `DELETE /v1/messages/{messageId}`,
//! `DELETE /v1/messages/transaction/{transactionId}`, `GET /v1/notifications` (+ `/{id}`) and
//! `GET /v1/execution-details`. The response types below are the wire shapes (and their OpenAPI
//! schemas); `@novu/api` validates them strictly, so optional fields are omitted, never `null`.
//! No secret appears: webhook URLs and device tokens only as short hints.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_core::delivery::activity::{
    ExecutionDetail, JobActivity, Message, MessageQuery, NotificationActivity, NotificationQuery,
};
use herald_core::{ChannelType, Integration, ObjectId, ProviderId};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::dto::{Data, Envelope, Plain};
use super::error::ApiError;
use super::extract::{js_number, PathParams, QueryMap};
use super::openapi as oa;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_messages))
        .routes(routes!(delete_message))
        .routes(routes!(delete_messages_by_transaction))
        .routes(routes!(list_notifications))
        .routes(routes!(get_notification))
        .routes(routes!(list_execution_details))
}

fn subscriber_not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("Subscriber not found for id {id}"))
}

fn channel_param(name: &str, s: &str) -> Result<ChannelType, ApiError> {
    ChannelType::parse(s).ok_or_else(|| {
        ApiError::Validation(vec![format!(
            "{name} must be one of the following values: in_app, email, sms, chat, push"
        )])
    })
}

/// `page` (integer ≥ 0, default 0) and `limit` (integer 1..=max, default 10), with `message`
/// for a limit over the maximum.
fn paging(q: &QueryMap, max: u64, over: impl FnOnce() -> String) -> Result<(u64, u64), ApiError> {
    let page = q.get("page").map(js_number).unwrap_or(0.0);
    if !page.is_finite() || page.fract() != 0.0 || page < 0.0 {
        return Err(ApiError::Validation(vec![
            "page must be an integer number not less than 0".into(),
        ]));
    }
    let limit = q.get("limit").map(js_number).unwrap_or(10.0);
    if limit.is_finite() && limit > max as f64 {
        return Err(ApiError::BadRequest(over()));
    }
    if !limit.is_finite() || limit.fract() != 0.0 || limit < 1.0 {
        return Err(ApiError::Validation(vec![
            "limit must be an integer number not less than 1".into(),
        ]));
    }
    Ok((page as u64, limit as u64))
}

/// `MessageResponseDto`.
#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: ObjectId,
    #[serde(rename = "_environmentId")]
    #[schema(value_type = String)]
    pub environment_id: ObjectId,
    #[serde(rename = "_organizationId")]
    #[schema(value_type = String)]
    pub organization_id: ObjectId,
    #[serde(rename = "_notificationId")]
    #[schema(value_type = String)]
    pub notification_id: ObjectId,
    #[serde(rename = "_subscriberId")]
    #[schema(value_type = String)]
    pub subscriber_internal_id: ObjectId,
    #[serde(rename = "_templateId")]
    #[schema(value_type = String)]
    pub workflow_id: ObjectId,
    #[serde(rename = "_messageTemplateId")]
    #[schema(value_type = String)]
    pub step_id: ObjectId,
    #[serde(rename = "_jobId")]
    #[schema(value_type = String)]
    pub job_id: ObjectId,
    #[serde(rename = "templateIdentifier")]
    pub workflow_identifier: String,
    #[serde(rename = "subscriberId")]
    pub subscriber_id: String,
    #[serde(rename = "transactionId")]
    pub transaction_id: String,
    #[schema(value_type = String, pattern = "^(in_app|email|sms|chat|push)$")]
    pub channel: String,
    #[serde(rename = "providerId")]
    pub provider_id: String,
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub title: Option<String>,
    /// Push: a short hint of each device token (never the token).
    #[serde(rename = "deviceTokens", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub device_tokens: Option<Vec<String>>,
    /// Chat: a short hint of the webhook URL (never the URL).
    #[serde(rename = "webhookUrlHint", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub webhook_url_hint: Option<String>,
    pub payload: Map<String, Value>,
    pub overrides: Map<String, Value>,
    /// `sent`, `error`, or `warning` (not delivered yet: a retry is scheduled, or the
    /// subscriber's channel lacks a target).
    #[schema(pattern = "^(sent|error|warning)$")]
    pub status: String,
    #[serde(rename = "errorId", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error_id: Option<String>,
    #[serde(rename = "errorText", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error_text: Option<String>,
    pub read: bool,
    pub seen: bool,
    pub cta: Map<String, Value>,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

impl From<Message> for MessageResponse {
    fn from(m: Message) -> Self {
        let push = m.channel == ChannelType::Push;
        MessageResponse {
            id: m.id,
            environment_id: m.environment_id,
            organization_id: m.organization_id,
            notification_id: m.notification_id,
            subscriber_internal_id: m.subscriber_internal_id,
            workflow_id: m.workflow_id,
            step_id: m.step_id,
            job_id: m.job_id,
            workflow_identifier: m.workflow_identifier,
            subscriber_id: m.subscriber_id,
            transaction_id: m.transaction_id,
            channel: m.channel.as_str().to_string(),
            provider_id: m.provider_id.as_str().to_string(),
            content: m.content,
            title: m.title,
            device_tokens: push.then_some(m.device_token_hints),
            webhook_url_hint: m.webhook_hint,
            payload: m.payload,
            overrides: m.overrides,
            status: m.status.as_str().to_string(),
            error_id: m.error_id,
            error_text: m.error_text,
            read: false,
            seen: false,
            cta: Map::new(),
            created_at: m.created_at.to_iso(),
            updated_at: m.updated_at.to_iso(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MessagesPage {
    pub page: u64,
    #[serde(rename = "totalCount")]
    pub total_count: u64,
    #[serde(rename = "hasMore")]
    pub has_more: bool,
    #[serde(rename = "pageSize")]
    pub page_size: u64,
    pub data: Vec<MessageResponse>,
}

/// Every value of a repeated query key, in both wire forms: `key=a&key=b` (`@novu/api`) and
/// `key[]=a&key[]=b` (`@novu/node`).
fn all(q: &QueryMap, key: &str) -> Vec<String> {
    let bracketed = format!("{key}[]");
    q.0.iter()
        .filter(|(k, v)| (k == key || *k == bracketed) && !v.is_empty())
        .map(|(_, v)| v.clone())
        .collect()
}

/// `GET /v1/messages`: the environment's messages, newest first, filtered.
#[utoipa::path(
    get,
    path = "/v1/messages",
    tag = "Messages",
    operation_id = "list_messages_v1",
    params(
        ("subscriberId" = Option<String>, Query, description = "A subscriber's messages"),
        ("channel" = Option<String>, Query, description = "chat or push"),
        ("transactionId" = Option<Vec<String>>, Query, description = "Messages of these transactions"),
        ("page" = Option<u64>, Query, description = "From 0"),
        ("limit" = Option<u64>, Query, description = "1 to 1000, default 10"),
    ),
    responses(
        (status = 200, description = "A page of messages", body = MessagesPage),
        (status = 400, description = "Invalid query", body = oa::ErrorBody),
        (status = 404, description = "No such subscriber", body = oa::ErrorBody),
    )
)]
async fn list_messages(
    auth: Auth,
    State(state): State<AppState>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let (page, limit) = paging(&q, 1000, || "Limit can not be larger then 1000".into())?;
    let channel = q
        .get("channel")
        .filter(|c| !c.is_empty())
        .map(|c| channel_param("channel", c))
        .transpose()?;
    let query = MessageQuery {
        subscriber_id: q
            .get("subscriberId")
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        channel,
        transaction_ids: all(&q, "transactionId"),
        page,
        limit,
    };
    let Some((messages, total)) = state
        .store
        .list_messages(&auth.0.environment_id, &query)
        .await?
    else {
        return Err(subscriber_not_found(
            query.subscriber_id.as_deref().unwrap_or_default(),
        ));
    };
    let has_more = (page + 1) * limit < total;
    Ok(Plain(
        StatusCode::OK,
        MessagesPage {
            page,
            total_count: total,
            has_more,
            page_size: limit,
            data: messages.into_iter().map(MessageResponse::from).collect(),
        },
    )
    .into_response())
}

#[derive(Serialize, ToSchema)]
pub struct DeletedMessage {
    pub acknowledged: bool,
    pub status: String,
}

/// `DELETE /v1/messages/{messageId}`.
#[utoipa::path(
    delete,
    path = "/v1/messages/{messageId}",
    tag = "Messages",
    operation_id = "delete_message_v1",
    params(("messageId" = String, Path, description = "The message's _id")),
    responses(
        (status = 200, description = "Deleted", body = Data<DeletedMessage>),
        (status = 400, description = "Not an id", body = oa::ErrorBody),
        (status = 404, response = oa::NotFound),
    )
)]
async fn delete_message(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let raw = &p.0[0];
    let id = ObjectId::parse(raw)
        .ok_or_else(|| ApiError::Validation(vec!["messageId must be a mongodb id".into()]))?;
    if !state
        .store
        .delete_message(&auth.0.environment_id, &id)
        .await?
    {
        return Err(ApiError::NotFound(format!(
            "Message with id {raw} not found"
        )));
    }
    Ok(Envelope(
        StatusCode::OK,
        DeletedMessage {
            acknowledged: true,
            status: "deleted".into(),
        },
    )
    .into_response())
}

/// `DELETE /v1/messages/transaction/{transactionId}?channel=`: 204.
#[utoipa::path(
    delete,
    path = "/v1/messages/transaction/{transactionId}",
    tag = "Messages",
    operation_id = "delete_messages_by_transaction_v1",
    params(
        ("transactionId" = String, Path, description = "The trigger's transactionId"),
        ("channel" = Option<String>, Query, description = "Only this channel's messages"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Invalid channel", body = oa::ErrorBody),
        (status = 404, description = "No message of that transaction (and channel)", body = oa::ErrorBody),
    )
)]
async fn delete_messages_by_transaction(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let channel = q
        .get("channel")
        .filter(|c| !c.is_empty())
        .map(|c| channel_param("channel", c))
        .transpose()?;
    let deleted = state
        .store
        .delete_messages_by_transaction(&auth.0.environment_id, &p.0[0], channel)
        .await?;
    if deleted == 0 {
        return Err(ApiError::NotFound(
            "Invalid transactionId or channel".into(),
        ));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// An execution detail (`ExecutionDetailsResponseDto`).
#[derive(Serialize, ToSchema)]
pub struct ExecutionDetailResponse {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: ObjectId,
    #[serde(rename = "_organizationId")]
    #[schema(value_type = String)]
    pub organization_id: ObjectId,
    #[serde(rename = "_environmentId")]
    #[schema(value_type = String)]
    pub environment_id: ObjectId,
    #[serde(rename = "_jobId")]
    #[schema(value_type = String)]
    pub job_id: ObjectId,
    #[serde(rename = "_notificationId")]
    #[schema(value_type = String)]
    pub notification_id: ObjectId,
    #[serde(rename = "_notificationTemplateId")]
    #[schema(value_type = String)]
    pub workflow_id: ObjectId,
    #[serde(rename = "_subscriberId")]
    #[schema(value_type = String)]
    pub subscriber_internal_id: ObjectId,
    #[serde(rename = "_messageId", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, value_type = Option<String>)]
    pub message_id: Option<ObjectId>,
    #[serde(rename = "providerId", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub provider_id: Option<String>,
    #[serde(rename = "transactionId")]
    pub transaction_id: String,
    pub channel: String,
    pub detail: String,
    #[schema(pattern = "^(Internal|Credentials|Payload|Webhook)$")]
    pub source: String,
    #[schema(pattern = "^(Success|Warning|Failed|Pending|Queued)$")]
    pub status: String,
    #[serde(rename = "isTest")]
    pub is_test: bool,
    #[serde(rename = "isRetry")]
    pub is_retry: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub raw: Option<String>,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

impl From<ExecutionDetail> for ExecutionDetailResponse {
    fn from(d: ExecutionDetail) -> Self {
        ExecutionDetailResponse {
            id: d.id,
            organization_id: d.organization_id,
            environment_id: d.environment_id,
            job_id: d.job_id,
            notification_id: d.notification_id,
            workflow_id: d.workflow_id,
            subscriber_internal_id: d.subscriber_internal_id,
            message_id: d.message_id,
            provider_id: d.provider_id.map(|p| p.as_str().to_string()),
            transaction_id: d.transaction_id,
            channel: d.channel.as_str().to_string(),
            detail: d.detail,
            source: d.source.as_str().to_string(),
            status: d.status.as_str().to_string(),
            is_test: false,
            is_retry: d.is_retry,
            raw: d.raw,
            created_at: d.created_at.to_iso(),
            updated_at: d.created_at.to_iso(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct JobStepResponse {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: ObjectId,
    pub active: bool,
    pub filters: Vec<Value>,
    #[serde(rename = "_templateId")]
    #[schema(value_type = String)]
    pub template_id: ObjectId,
}

/// A job of the activity feed.
#[derive(Serialize, ToSchema)]
pub struct ActivityJobResponse {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: ObjectId,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    #[serde(rename = "providerId")]
    pub provider_id: String,
    pub step: JobStepResponse,
    // No `digest`: Herald has no digest steps, and `@novu/api` / `novu-py` read a present
    // `digest` as `DigestMetadataDto`, whose `type` is required (`{}` fails the whole feed).
    pub payload: Map<String, Value>,
    #[serde(rename = "executionDetails")]
    pub execution_details: Vec<ExecutionDetailResponse>,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct ActivitySubscriberResponse {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: ObjectId,
    #[serde(rename = "subscriberId")]
    pub subscriber_id: String,
    #[serde(rename = "firstName", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub first_name: Option<String>,
    #[serde(rename = "lastName", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub phone: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TriggerVariableResponse {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct ActivityTriggerResponse {
    #[serde(rename = "type")]
    pub kind: String,
    pub identifier: String,
    pub variables: Vec<TriggerVariableResponse>,
}

#[derive(Serialize, ToSchema)]
pub struct ActivityTemplateResponse {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: ObjectId,
    pub name: String,
    pub triggers: Vec<ActivityTriggerResponse>,
}

/// One notification of the activity feed (`ActivityNotificationResponseDto`).
#[derive(Serialize, ToSchema)]
pub struct ActivityNotificationResponse {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: ObjectId,
    #[serde(rename = "_environmentId")]
    #[schema(value_type = String)]
    pub environment_id: ObjectId,
    #[serde(rename = "_organizationId")]
    #[schema(value_type = String)]
    pub organization_id: ObjectId,
    #[serde(rename = "_subscriberId")]
    #[schema(value_type = String)]
    pub subscriber_internal_id: ObjectId,
    #[serde(rename = "_templateId")]
    #[schema(value_type = String)]
    pub workflow_id: ObjectId,
    #[serde(rename = "transactionId")]
    pub transaction_id: String,
    pub channels: Vec<String>,
    pub payload: Map<String, Value>,
    pub subscriber: ActivitySubscriberResponse,
    pub template: ActivityTemplateResponse,
    pub jobs: Vec<ActivityJobResponse>,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

/// A job's provider as the feed must show it (`@novu/api` requires one of Novu's provider ids):
/// the provider it used, else — a job that found no channel — the provider of the environment's
/// newest active integration of its channel, as Novu labels such jobs. A job with neither is left
/// out of `jobs` (its execution details stay readable at `/v1/execution-details`).
fn job_provider(job: &JobActivity, integrations: &[Integration]) -> Option<ProviderId> {
    job.provider_id.or_else(|| {
        integrations
            .iter()
            .rev()
            .find(|i| i.active && i.channel == job.channel)
            .map(|i| i.provider_id)
    })
}

fn notification_response(
    n: NotificationActivity,
    integrations: &[Integration],
) -> ActivityNotificationResponse {
    let jobs = n
        .jobs
        .into_iter()
        .filter_map(|j| {
            let provider = job_provider(&j, integrations)?;
            Some(ActivityJobResponse {
                id: j.id,
                kind: j.channel.as_str().to_string(),
                status: j.status.as_str().to_string(),
                provider_id: provider.as_str().to_string(),
                step: JobStepResponse {
                    id: j.step_id.clone(),
                    active: true,
                    filters: Vec::new(),
                    template_id: j.step_id,
                },
                payload: n.payload.clone(),
                execution_details: j.details.into_iter().map(Into::into).collect(),
                created_at: j.created_at.to_iso(),
                updated_at: j.updated_at.to_iso(),
            })
        })
        .collect();
    ActivityNotificationResponse {
        id: n.id,
        environment_id: n.environment_id,
        organization_id: n.organization_id,
        subscriber_internal_id: n.subscriber.id.clone(),
        workflow_id: n.workflow_id.clone(),
        transaction_id: n.transaction_id,
        channels: n.channels.iter().map(|c| c.as_str().to_string()).collect(),
        payload: n.payload,
        subscriber: ActivitySubscriberResponse {
            id: n.subscriber.id,
            subscriber_id: n.subscriber.subscriber_id,
            first_name: n.subscriber.first_name,
            last_name: n.subscriber.last_name,
            email: n.subscriber.email,
            phone: n.subscriber.phone,
        },
        template: ActivityTemplateResponse {
            id: n.workflow_id,
            name: n.workflow_name,
            triggers: vec![ActivityTriggerResponse {
                kind: "event".into(),
                identifier: n.workflow_identifier,
                variables: Vec::new(),
            }],
        },
        jobs,
        created_at: n.created_at.to_iso(),
        updated_at: n.updated_at.to_iso(),
    }
}

#[derive(Serialize, ToSchema)]
pub struct NotificationsPage {
    pub page: u64,
    #[serde(rename = "hasMore")]
    pub has_more: bool,
    #[serde(rename = "pageSize")]
    pub page_size: u64,
    pub data: Vec<ActivityNotificationResponse>,
}

/// `GET /v1/notifications`: the activity feed, newest first.
#[utoipa::path(
    get,
    path = "/v1/notifications",
    tag = "Notifications",
    operation_id = "list_notifications_v1",
    params(
        ("channels" = Option<Vec<String>>, Query, description = "Notifications with a step of these channels"),
        ("templates" = Option<Vec<String>>, Query, description = "Of these workflows (_id)"),
        ("subscriberIds" = Option<Vec<String>>, Query, description = "Of these subscribers"),
        ("emails" = Option<Vec<String>>, Query, description = "Of subscribers with these emails"),
        ("transactionId" = Option<Vec<String>>, Query, description = "Of these transactions"),
        ("page" = Option<u64>, Query, description = "From 0"),
        ("limit" = Option<u64>, Query, description = "1 to 100, default 10"),
    ),
    responses(
        (status = 200, description = "A page of notifications", body = NotificationsPage),
        (status = 400, description = "Invalid query", body = oa::ErrorBody),
    )
)]
async fn list_notifications(
    auth: Auth,
    State(state): State<AppState>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let (page, limit) = paging(&q, 100, || "limit must not be greater than 100".into())?;
    let channels = all(&q, "channels")
        .iter()
        .map(|c| channel_param("channels", c))
        .collect::<Result<Vec<_>, _>>()?;
    let query = NotificationQuery {
        channels,
        // An id that is not one matches nothing.
        workflow_ids: all(&q, "templates")
            .into_iter()
            .map(ObjectId::from_stored)
            .collect(),
        subscriber_ids: all(&q, "subscriberIds"),
        emails: all(&q, "emails"),
        transaction_ids: all(&q, "transactionId"),
        page,
        limit,
    };
    let env = &auth.0.environment_id;
    let mut found = state.store.list_notifications(env, &query).await?;
    let has_more = found.len() as u64 > limit;
    found.truncate(limit as usize);
    let integrations = state.store.list_integrations(env).await?;
    Ok(Plain(
        StatusCode::OK,
        NotificationsPage {
            page,
            has_more,
            page_size: limit,
            data: found
                .into_iter()
                .map(|n| notification_response(n, &integrations))
                .collect(),
        },
    )
    .into_response())
}

/// `GET /v1/notifications/{notificationId}`.
#[utoipa::path(
    get,
    path = "/v1/notifications/{notificationId}",
    tag = "Notifications",
    operation_id = "get_notification_v1",
    params(("notificationId" = String, Path, description = "The notification's _id")),
    responses(
        (status = 200, description = "The notification with its jobs", body = Data<ActivityNotificationResponse>),
        (status = 404, response = oa::NotFound),
    )
)]
async fn get_notification(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let raw = &p.0[0];
    let not_found = || ApiError::NotFound(format!("Notification with id {raw} not found"));
    let id = ObjectId::parse(raw).ok_or_else(not_found)?;
    let env = &auth.0.environment_id;
    let found = state
        .store
        .get_notification(env, &id)
        .await?
        .ok_or_else(not_found)?;
    let integrations = state.store.list_integrations(env).await?;
    Ok(Envelope(StatusCode::OK, notification_response(found, &integrations)).into_response())
}

/// `GET /v1/execution-details?notificationId&subscriberId`.
#[utoipa::path(
    get,
    path = "/v1/execution-details",
    tag = "Notifications",
    operation_id = "list_execution_details_v1",
    params(
        ("notificationId" = String, Query, description = "The notification's _id"),
        ("subscriberId" = String, Query, description = "Its subscriber's subscriberId"),
    ),
    responses(
        (status = 200, description = "The notification's execution details, oldest first", body = Data<Vec<ExecutionDetailResponse>>),
        (status = 400, description = "Invalid query", body = oa::ErrorBody),
        (status = 404, description = "No such subscriber", body = oa::ErrorBody),
    )
)]
async fn list_execution_details(
    auth: Auth,
    State(state): State<AppState>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let mut errors = Vec::new();
    let notification_id = q.get("notificationId").and_then(ObjectId::parse);
    if notification_id.is_none() {
        errors.push("notificationId must be a mongodb id".to_string());
    }
    let subscriber_id = q.get("subscriberId").filter(|s| !s.trim().is_empty());
    if subscriber_id.is_none() {
        errors.push("subscriberId should not be empty".to_string());
    }
    let (Some(nid), Some(sid)) = (notification_id, subscriber_id) else {
        return Err(ApiError::Validation(errors));
    };
    let Some(details) = state
        .store
        .execution_details(&auth.0.environment_id, &nid, sid)
        .await?
    else {
        return Err(subscriber_not_found(sid));
    };
    let data: Vec<ExecutionDetailResponse> = details.into_iter().map(Into::into).collect();
    Ok(Envelope(StatusCode::OK, data).into_response())
}
