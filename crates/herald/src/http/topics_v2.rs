//! v2 topics, as `@novu/api` and `novu-py` call them: create (upsert, `failIfExists`), get, list,
//! update, delete, and subscriptions (create, list, delete with a JSON body, get one).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_core::subscriber::Field;
use herald_core::topic::{NewTopic, Topic, TopicFilter, TopicPatch, TopicSubscription};
use herald_core::{ObjectId, Timestamp};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::cursor::{parse_cursor, CursorList};
use super::dto::{Envelope, Plain};
use super::error::ApiError;
use super::extract::{JsonBody, PathParams, QueryMap};
use super::openapi as oa;
use super::validate::Fields;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_topics, create_topic))
        .routes(routes!(get_topic, update_topic, delete_topic))
        .routes(routes!(
            list_subscriptions,
            create_subscriptions,
            delete_subscriptions
        ))
        .routes(routes!(get_subscription))
}

/// `TopicResponseDto`.
#[derive(Serialize)]
pub struct TopicResponse<'a> {
    #[serde(rename = "_id")]
    id: &'a ObjectId,
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: &'a Option<Value>,
    #[serde(rename = "createdAt")]
    created_at: Timestamp,
    #[serde(rename = "updatedAt")]
    updated_at: Timestamp,
}

impl<'a> From<&'a Topic> for TopicResponse<'a> {
    fn from(t: &'a Topic) -> Self {
        TopicResponse {
            id: &t.id,
            key: &t.key,
            name: &t.name,
            data: &t.data,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A subscription's public identifier: `<topicKey>:<subscriberId>`.
pub fn subscription_identifier(s: &TopicSubscription) -> String {
    format!("{}:{}", s.topic.key, s.subscriber.subscriber_id)
}

/// One item of the subscription lists and of the create/delete responses.
pub fn subscription_json(s: &TopicSubscription) -> Value {
    fn nullable(f: &Field<String>) -> Value {
        f.value().map(|v| json!(v)).unwrap_or(Value::Null)
    }
    let mut topic = Map::new();
    topic.insert("_id".into(), json!(s.topic.id));
    topic.insert("key".into(), json!(s.topic.key));
    if let Some(name) = &s.topic.name {
        topic.insert("name".into(), json!(name));
    }
    if let Some(data) = &s.topic.data {
        topic.insert("data".into(), data.clone());
    }
    json!({
        "_id": s.id,
        "identifier": subscription_identifier(s),
        "topic": topic,
        "subscriber": {
            "_id": s.subscriber.id,
            "subscriberId": s.subscriber.subscriber_id,
            "avatar": nullable(&s.subscriber.avatar),
            "firstName": nullable(&s.subscriber.first_name),
            "lastName": nullable(&s.subscriber.last_name),
            "email": nullable(&s.subscriber.email),
        },
        "createdAt": s.created_at,
        "updatedAt": s.updated_at,
    })
}

fn topic_not_found(key: &str) -> ApiError {
    ApiError::NotFound(format!("Topic with key {key} not found"))
}

fn parse_fail_if_exists(q: &QueryMap) -> Result<bool, ApiError> {
    match q.get("failIfExists") {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::Validation(vec![
            "failIfExists must be a boolean value".into(),
        ])),
    }
}

/// `POST /v2/topics[?failIfExists]`: 201 when created, 200 when an existing topic was updated,
/// 409 with the topic as body when it exists and `failIfExists=true`.
#[utoipa::path(
    post,
    path = "/v2/topics",
    tag = "Topics",
    operation_id = "create_topic_v2",
    params(
        ("failIfExists" = Option<bool>, Query, description = "Answer 409 with the existing resource instead of updating it"),
    ),
    request_body = oa::CreateUpdateTopicRequestDto,
    responses(
        (status = 201, description = "Created", body = oa::TopicEnvelope),
        (status = 200, description = "Existed; name and data updated", body = oa::TopicEnvelope),
        (status = 400, description = "Invalid request", body = oa::ErrorDto),
        (status = 401, description = "Missing or invalid API key", body = oa::ErrorDto),
        (status = 409, description = "Exists and `failIfExists=true`: the existing topic", body = oa::TopicResponseDto),
    )
)]
async fn create_topic(
    auth: Auth,
    State(state): State<AppState>,
    q: QueryMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let fail_if_exists = parse_fail_if_exists(&q)?;
    let mut f = Fields::new(&body.0);
    let key = f.required_id("key");
    let name = f.optional_string("name").value().cloned();
    let data = f.optional_object("data").cloned().map(Value::Object);
    let key = f.finish(|| key)?.expect("complete request");
    if fail_if_exists {
        if let Some(existing) = state.store.get_topic(&ctx.environment_id, &key).await? {
            return Ok(Plain(StatusCode::CONFLICT, TopicResponse::from(&existing)).into_response());
        }
    }
    let new = NewTopic { key, name, data };
    let (topic, created) = state
        .store
        .upsert_topic(&ctx.environment_id, &ctx.organization_id, &new)
        .await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(Envelope(status, TopicResponse::from(&topic)).into_response())
}

#[utoipa::path(
    get,
    path = "/v2/topics/{topicKey}",
    tag = "Topics",
    operation_id = "get_topic_v2",
    params(
        ("topicKey" = String, Path, description = "The topic key"),
    ),
    responses(
        (status = 200, description = "The topic", body = oa::TopicEnvelope),
        (status = 401, description = "Missing or invalid API key", body = oa::ErrorDto),
        (status = 404, description = "Topic not found", body = oa::ErrorDto),
    )
)]
async fn get_topic(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let key = &p.0[0];
    match state.store.get_topic(&auth.0.environment_id, key).await? {
        Some(t) => Ok(Envelope(StatusCode::OK, TopicResponse::from(&t)).into_response()),
        None => Err(topic_not_found(key)),
    }
}

#[utoipa::path(
    get,
    path = "/v2/topics",
    tag = "Topics",
    operation_id = "list_topics_v2",
    params(
        ("key" = Option<String>, Query, description = "Exact key"),
        ("name" = Option<String>, Query, description = "Substring of the name"),
        ("limit" = Option<u64>, Query, description = "Page size, 1 to 100 (default 10)"),
        ("after" = Option<String>, Query, description = "Cursor: items after this one"),
        ("before" = Option<String>, Query, description = "Cursor: items before this one"),
        ("orderDirection" = Option<String>, Query, description = "ASC or DESC (default DESC)"),
    ),
    responses(
        (status = 200, description = "One page of topics", body = oa::ListTopicsResponseDto),
        (status = 400, description = "Invalid request", body = oa::ErrorDto),
        (status = 401, description = "Missing or invalid API key", body = oa::ErrorDto),
    )
)]
async fn list_topics(
    auth: Auth,
    State(state): State<AppState>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let page = parse_cursor(&q)?;
    let filter = TopicFilter {
        key: q.get("key").map(str::to_string),
        name: q.get("name").map(str::to_string),
    };
    let result = state
        .store
        .search_topics(&auth.0.environment_id, &filter, &page)
        .await?;
    let list = CursorList::new(&result, |t| &t.id, TopicResponse::from);
    Ok(Plain(StatusCode::OK, list).into_response())
}

#[utoipa::path(
    patch,
    path = "/v2/topics/{topicKey}",
    tag = "Topics",
    operation_id = "update_topic_v2",
    params(
        ("topicKey" = String, Path, description = "The topic key"),
    ),
    request_body = oa::UpdateTopicRequestDto,
    responses(
        (status = 200, description = "The updated topic", body = oa::TopicEnvelope),
        (status = 400, description = "Invalid request", body = oa::ErrorDto),
        (status = 401, description = "Missing or invalid API key", body = oa::ErrorDto),
        (status = 404, description = "Topic not found", body = oa::ErrorDto),
    )
)]
async fn update_topic(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let key = &p.0[0];
    let mut f = Fields::new(&body.0);
    let name = f.optional_string("name").value().cloned();
    let data = f.optional_object("data").cloned().map(Value::Object);
    let patch = f.finish(|| TopicPatch { name, data })?;
    match state
        .store
        .update_topic(&auth.0.environment_id, key, &patch)
        .await?
    {
        Some(t) => Ok(Envelope(StatusCode::OK, TopicResponse::from(&t)).into_response()),
        None => Err(topic_not_found(key)),
    }
}

/// `DELETE /v2/topics/{key}`: removes the topic and its subscriptions.
#[utoipa::path(
    delete,
    path = "/v2/topics/{topicKey}",
    tag = "Topics",
    operation_id = "delete_topic_v2",
    params(
        ("topicKey" = String, Path, description = "The topic key"),
    ),
    responses(
        (status = 200, description = "Deleted with its subscriptions", body = oa::DeleteTopicEnvelope),
        (status = 401, description = "Missing or invalid API key", body = oa::ErrorDto),
        (status = 404, description = "Topic not found", body = oa::ErrorDto),
    )
)]
async fn delete_topic(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let key = &p.0[0];
    if !state
        .store
        .delete_topic(&auth.0.environment_id, key)
        .await?
    {
        return Err(topic_not_found(key));
    }
    Ok(Envelope(StatusCode::OK, json!({"acknowledged": true})).into_response())
}

/// Subscriber ids from `{subscriberIds: [...]}` and/or `{subscriptions: [id | {subscriberId}]}`.
fn parse_subscription_targets(body: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::new();
    let mut errors = Vec::new();
    match body.get("subscriberIds") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                match item.as_str() {
                    Some(s) => ids.push(s.to_string()),
                    None => errors.push("each value in subscriberIds must be a string".to_string()),
                }
            }
        }
        Some(_) => errors.push("subscriberIds must be an array".into()),
    }
    match body.get("subscriptions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => ids.push(s.clone()),
                    Value::Object(o) => match o.get("subscriberId").and_then(Value::as_str) {
                        Some(s) => ids.push(s.to_string()),
                        None => {
                            errors.push(format!("subscriptions.{i}.subscriberId must be a string"))
                        }
                    },
                    _ => errors.push(format!("subscriptions.{i} must be a string or an object")),
                }
            }
        }
        Some(_) => errors.push("subscriptions must be an array".into()),
    }
    if errors.is_empty() && ids.is_empty() {
        errors.push("subscriberIds should not be empty".into());
    }
    // Looked up in the store, where PostgreSQL text cannot hold NUL.
    if errors.is_empty() && ids.iter().any(|id| id.contains('\0')) {
        errors.push("each subscriber id must not contain null characters".into());
    }
    if errors.is_empty() {
        Ok(ids)
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// `POST /v2/topics/{key}/subscriptions`: 201 `{data, meta, errors?}`; the topic is created if
/// missing; unknown subscribers are reported in `errors`.
#[utoipa::path(
    post,
    path = "/v2/topics/{topicKey}/subscriptions",
    tag = "Topics",
    operation_id = "create_subscriptions_v2",
    params(
        ("topicKey" = String, Path, description = "The topic key"),
    ),
    request_body = oa::TopicSubscriptionsRequestDto,
    responses(
        (status = 201, description = "Subscriptions (a missing topic is created); unknown subscribers in `errors`", body = oa::CreateSubscriptionsResponseDto),
        (status = 400, description = "Invalid request", body = oa::ErrorDto),
        (status = 401, description = "Missing or invalid API key", body = oa::ErrorDto),
    )
)]
async fn create_subscriptions(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let key = &p.0[0];
    let ids = parse_subscription_targets(&body.0)?;
    let outcome = state
        .store
        .add_topic_subscribers(&ctx.environment_id, &ctx.organization_id, key, &ids, None)
        .await?;
    let data: Vec<Value> = outcome
        .subscriptions
        .iter()
        .map(subscription_json)
        .collect();
    let mut body = json!({
        "data": data,
        "meta": {
            "totalCount": outcome.subscriptions.len() + outcome.not_found.len(),
            "successful": outcome.subscriptions.len(),
            "failed": outcome.not_found.len(),
        },
    });
    if !outcome.not_found.is_empty() {
        body["errors"] = outcome
            .not_found
            .iter()
            .map(|id| {
                json!({
                    "subscriberId": id,
                    "code": "SUBSCRIBER_NOT_FOUND",
                    "message": format!("Subscriber with ID '{id}' could not be found."),
                })
            })
            .collect();
    }
    Ok(Plain(StatusCode::CREATED, body).into_response())
}

/// `DELETE /v2/topics/{key}/subscriptions` with a JSON body: 200 `{data, meta, errors?}`, where
/// each id that was not removed is an error, `SUBSCRIBER_NOT_FOUND` or `SUBSCRIPTION_NOT_FOUND`
/// (Novu's codes); 404 for an unknown topic.
#[utoipa::path(
    delete,
    path = "/v2/topics/{topicKey}/subscriptions",
    tag = "Topics",
    operation_id = "delete_subscriptions_v2",
    params(
        ("topicKey" = String, Path, description = "The topic key"),
    ),
    request_body = oa::TopicSubscriptionsRequestDto,
    responses(
        (status = 200, description = "The removed subscriptions; ids not removed in `errors`", body = oa::CreateSubscriptionsResponseDto),
        (status = 400, description = "Invalid request", body = oa::ErrorDto),
        (status = 401, description = "Missing or invalid API key", body = oa::ErrorDto),
        (status = 404, description = "Topic not found", body = oa::ErrorDto),
    )
)]
async fn delete_subscriptions(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let env = &auth.0.environment_id;
    let key = &p.0[0];
    let ids = parse_subscription_targets(&body.0)?;
    if state.store.get_topic(env, key).await?.is_none() {
        return Err(topic_not_found(key));
    }
    let removed = state.store.remove_topic_subscribers(env, key, &ids).await?;
    let mut errors = Vec::new();
    let mut reported = std::collections::HashSet::new();
    for id in &ids {
        let was_removed = removed.iter().any(|s| &s.subscriber.subscriber_id == id);
        if was_removed || !reported.insert(id.as_str()) {
            continue;
        }
        errors.push(match state.store.get_subscriber(env, id).await? {
            None => json!({
                "subscriberId": id,
                "code": "SUBSCRIBER_NOT_FOUND",
                "message": format!("Subscriber with ID '{id}' could not be found."),
            }),
            Some(_) => json!({
                "subscriberId": id,
                "code": "SUBSCRIPTION_NOT_FOUND",
                "message": format!("Subscription for subscriber '{id}' not found."),
            }),
        });
    }
    let data: Vec<Value> = removed.iter().map(subscription_json).collect();
    let mut body = json!({
        "data": data,
        "meta": {
            "totalCount": ids.len(),
            "successful": removed.len(),
            "failed": errors.len(),
        },
    });
    if !errors.is_empty() {
        body["errors"] = Value::Array(errors);
    }
    Ok(Plain(StatusCode::OK, body).into_response())
}

#[utoipa::path(
    get,
    path = "/v2/topics/{topicKey}/subscriptions",
    tag = "Topics",
    operation_id = "list_subscriptions_v2",
    params(
        ("topicKey" = String, Path, description = "The topic key"),
        ("subscriberId" = Option<String>, Query, description = "Only this subscriber"),
        ("limit" = Option<u64>, Query, description = "Page size, 1 to 100 (default 10)"),
        ("after" = Option<String>, Query, description = "Cursor: items after this one"),
        ("before" = Option<String>, Query, description = "Cursor: items before this one"),
        ("orderDirection" = Option<String>, Query, description = "ASC or DESC (default DESC)"),
    ),
    responses(
        (status = 200, description = "One page of subscriptions", body = oa::ListTopicSubscriptionsResponseDto),
        (status = 400, description = "Invalid request", body = oa::ErrorDto),
        (status = 401, description = "Missing or invalid API key", body = oa::ErrorDto),
        (status = 404, description = "Topic not found", body = oa::ErrorDto),
    )
)]
async fn list_subscriptions(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let env = &auth.0.environment_id;
    let key = &p.0[0];
    let page = parse_cursor(&q)?;
    // Novu answers 404 for an unknown topic, not an empty list.
    if state.store.get_topic(env, key).await?.is_none() {
        return Err(topic_not_found(key));
    }
    let result = state
        .store
        .topic_subscriptions(env, key, q.get("subscriberId"), &page)
        .await?;
    let list = CursorList::new(&result, |s| &s.id, subscription_json);
    Ok(Plain(StatusCode::OK, list).into_response())
}

/// `GET /v2/topics/{key}/subscriptions/{identifier}`: by `<topicKey>:<subscriberId>` or by the
/// bare subscriber id.
#[utoipa::path(
    get,
    path = "/v2/topics/{topicKey}/subscriptions/{identifier}",
    tag = "Topics",
    operation_id = "get_subscription_v2",
    params(
        ("topicKey" = String, Path, description = "The topic key"),
        ("identifier" = String, Path, description = "`<topicKey>:<subscriberId>` or the subscriber id"),
    ),
    responses(
        (status = 200, description = "The subscription", body = oa::SubscriptionRefEnvelope),
        (status = 401, description = "Missing or invalid API key", body = oa::ErrorDto),
        (status = 404, description = "Not subscribed", body = oa::ErrorDto),
    )
)]
async fn get_subscription(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let (key, identifier) = (&p.0[0], &p.0[1]);
    let subscriber_id = identifier
        .strip_prefix(&format!("{key}:"))
        .unwrap_or(identifier);
    match state
        .store
        .get_topic_subscription(&auth.0.environment_id, key, subscriber_id)
        .await?
    {
        Some(s) => {
            let body = json!({"id": s.id, "identifier": subscription_identifier(&s)});
            Ok(Envelope(StatusCode::OK, body).into_response())
        }
        None => Err(ApiError::NotFound(format!(
            "Subscription {identifier} not found for topic {key}"
        ))),
    }
}
