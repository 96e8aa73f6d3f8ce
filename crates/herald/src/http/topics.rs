//! v1 topics, as `@novu/node` and `novu` (Python) call them: create, list, get (with member ids),
//! rename, delete, add and remove subscribers, membership check.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use herald_core::topic::{NewSubscription, NewTopic, Topic, TopicPatch};
use herald_core::{ObjectId, StoreError, Timestamp};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::dto::{Data, Envelope, Plain};
use super::error::ApiError;
use super::extract::{js_number, JsonBody, PathParams, QueryMap};
use super::openapi as oa;
use super::validate::Fields;
use crate::state::AppState;

/// Novu's largest v1 page.
const MAX_PAGE_SIZE: u64 = 10;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_topic, list_topics))
        .routes(routes!(get_topic, rename_topic, delete_topic))
        .routes(routes!(add_subscribers))
        .routes(routes!(remove_subscribers))
        .routes(routes!(check_subscriber))
        .route(
            "/v1/topics/{topicKey}/subscribers/removal",
            get(check_subscriber_named_removal),
        )
}

/// `GET /v1/topics/{key}/subscribers/removal` checks the subscriber whose id is `removal` (only
/// `POST` is the removal); the static route would otherwise shadow `{externalSubscriberId}`.
async fn check_subscriber_named_removal(
    auth: Auth,
    state: State<AppState>,
    mut p: PathParams,
) -> Result<Response, ApiError> {
    p.0.push("removal".to_string());
    check_subscriber(auth, state, p).await
}

fn topic_not_found(key: &str, env: &ObjectId) -> ApiError {
    ApiError::NotFound(format!(
        "Topic not found for id {key} in the environment {env}"
    ))
}

/// The v1 topic DTO: `{_id, _organizationId, _environmentId, key, name, subscribers}`.
#[derive(Serialize, ToSchema)]
#[schema(as = TopicV1Dto)]
pub struct TopicV1<'a> {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    id: &'a ObjectId,
    #[serde(rename = "_organizationId")]
    #[schema(value_type = String)]
    organization_id: &'a ObjectId,
    #[serde(rename = "_environmentId")]
    #[schema(value_type = String)]
    environment_id: &'a ObjectId,
    key: &'a str,
    name: &'a str,
    /// External ids of all members.
    subscribers: Vec<String>,
}

/// `POST /v1/topics`: `{_id, key}`.
#[derive(Serialize, ToSchema)]
#[schema(as = CreatedTopicDto)]
pub struct CreatedTopic<'a> {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    id: &'a ObjectId,
    key: &'a str,
}

/// `failed` of an add: who could not be added.
#[derive(Serialize, ToSchema)]
#[schema(as = NotFoundIdsDto)]
#[serde(rename_all = "camelCase")]
pub struct AddFailures<'a> {
    not_found: &'a [String],
    /// Subscribers whose default subscription identifier (`<topicKey>:<subscriberId>`) another
    /// subscription of the topic already has (a Herald addition).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    identifier_conflict: Vec<&'a str>,
}

/// `POST /v1/topics/{key}/subscribers`: `{succeeded, failed?}`.
#[derive(Serialize, ToSchema)]
#[schema(as = AddSubscribersResponseDto)]
pub struct AddSubscribersResponse<'a> {
    succeeded: Vec<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    failed: Option<AddFailures<'a>>,
}

/// `TopicSubscriberDto`: a v1 membership.
#[derive(Serialize, ToSchema)]
#[schema(as = TopicSubscriberDto)]
pub struct TopicSubscriberResponse<'a> {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    id: &'a ObjectId,
    #[serde(rename = "_organizationId")]
    #[schema(value_type = String)]
    organization_id: &'a ObjectId,
    #[serde(rename = "_environmentId")]
    #[schema(value_type = String)]
    environment_id: &'a ObjectId,
    #[serde(rename = "_subscriberId")]
    #[schema(value_type = String)]
    subscriber_id: &'a ObjectId,
    #[serde(rename = "_topicId")]
    #[schema(value_type = String)]
    topic_id: &'a ObjectId,
    #[serde(rename = "topicKey")]
    topic_key: &'a str,
    #[serde(rename = "externalSubscriberId")]
    external_subscriber_id: &'a str,
    #[serde(rename = "createdAt")]
    #[schema(value_type = String)]
    created_at: Timestamp,
    #[serde(rename = "updatedAt")]
    #[schema(value_type = String)]
    updated_at: Timestamp,
}

impl<'a> TopicV1<'a> {
    fn new(t: &'a Topic, subscribers: Vec<String>) -> Self {
        TopicV1 {
            id: &t.id,
            organization_id: &t.organization_id,
            environment_id: &t.environment_id,
            key: &t.key,
            name: t.name.as_deref().unwrap_or_default(),
            subscribers,
        }
    }
}

#[utoipa::path(
    post,
    path = "/v1/topics",
    tag = "Topics",
    operation_id = "create_topic_v1",
    request_body = oa::CreateTopicRequestDto,
    responses(
        (status = 201, description = "Created", body = Data<CreatedTopic>),
        (status = 409, description = "A topic with that key exists", body = oa::ErrorBody),
    )
)]
async fn create_topic(
    auth: Auth,
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let mut f = Fields::new(&body.0);
    let key = f.required_id("key");
    let name = f.required_string("name");
    let (key, name) = f.finish(|| key.zip(name))?.expect("complete request");
    let new = NewTopic {
        key: key.clone(),
        name: Some(name),
        data: None,
    };
    match state
        .store
        .create_topic(&ctx.environment_id, &ctx.organization_id, &new)
        .await
    {
        Ok(t) => {
            let created = CreatedTopic {
                id: &t.id,
                key: &t.key,
            };
            Ok(Envelope(StatusCode::CREATED, created).into_response())
        }
        Err(StoreError::Conflict(_)) => Err(ApiError::Conflict(format!(
            "Topic exists with key {key} in the environment {} of the organization {}",
            ctx.environment_id, ctx.organization_id
        ))),
        Err(e) => Err(e.into()),
    }
}

/// `GET /v1/topics`.
#[derive(Serialize, ToSchema)]
#[schema(as = TopicsPageV1)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<'a> {
    page: u64,
    page_size: u64,
    total_count: u64,
    data: Vec<TopicV1<'a>>,
}

/// `GET /v1/topics?page&pageSize&key` (the Python SDK sends `limit` for `pageSize`): unwrapped
/// `{page, pageSize, totalCount, data}`.
#[utoipa::path(
    get,
    path = "/v1/topics",
    tag = "Topics",
    operation_id = "list_topics_v1",
    params(
        ("page" = Option<u64>, Query, description = "Page number, from 0"),
        ("pageSize" = Option<u64>, Query, description = "1 to 10 (default 10); `limit` is accepted too"),
        ("key" = Option<String>, Query, description = "Only the topic with this key"),
    ),
    responses(
        (status = 200, description = "One page of topics (not wrapped in `data`)", body = ListResponse),
    )
)]
async fn list_topics(
    auth: Auth,
    State(state): State<AppState>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let env = &auth.0.environment_id;
    let mut errors = Vec::new();
    let page = q.get("page").map(js_number).unwrap_or(0.0);
    if page.fract() != 0.0 || !page.is_finite() {
        errors.push("page must be an integer number".to_string());
    } else if page < 0.0 {
        errors.push("page must not be less than 0".to_string());
    }
    let size = q
        .get("pageSize")
        .or_else(|| q.get("limit"))
        .map(js_number)
        .unwrap_or(10.0);
    if size.fract() != 0.0 || !size.is_finite() {
        errors.push("pageSize must be an integer number".to_string());
    } else if size < 1.0 {
        errors.push("pageSize must not be less than 1".to_string());
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    if size > MAX_PAGE_SIZE as f64 {
        return Err(ApiError::BadRequest(format!(
            "Page size can not be larger then {MAX_PAGE_SIZE}"
        )));
    }
    let (page, size) = (page as u64, size as u64);
    let (topics, total) = state
        .store
        .list_topics(env, q.get("key"), page.saturating_mul(size), size)
        .await?;
    let mut members = Vec::with_capacity(topics.len());
    for t in &topics {
        members.push(state.store.topic_subscriber_ids(env, &t.key).await?);
    }
    let data = topics
        .iter()
        .zip(members)
        .map(|(t, m)| TopicV1::new(t, m))
        .collect();
    Ok(Plain(
        StatusCode::OK,
        ListResponse {
            page,
            page_size: size,
            total_count: total,
            data,
        },
    )
    .into_response())
}

#[utoipa::path(
    get,
    path = "/v1/topics/{topicKey}",
    tag = "Topics",
    operation_id = "get_topic_v1",
    params(
        oa::TopicKeyPath,
    ),
    responses(
        (status = 200, description = "The topic with its members' ids", body = Data<TopicV1>),
        (status = 404, response = oa::NotFound),
    )
)]
async fn get_topic(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let env = &auth.0.environment_id;
    let key = &p.0[0];
    let Some(topic) = state.store.get_topic(env, key).await? else {
        return Err(topic_not_found(key, env));
    };
    let members = state.store.topic_subscriber_ids(env, key).await?;
    Ok(Envelope(StatusCode::OK, TopicV1::new(&topic, members)).into_response())
}

#[utoipa::path(
    patch,
    path = "/v1/topics/{topicKey}",
    tag = "Topics",
    operation_id = "rename_topic_v1",
    params(
        oa::TopicKeyPath,
    ),
    request_body = oa::RenameTopicRequestDto,
    responses(
        (status = 200, description = "The renamed topic", body = Data<TopicV1>),
        (status = 404, response = oa::NotFound),
    )
)]
async fn rename_topic(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let env = &auth.0.environment_id;
    let key = &p.0[0];
    let mut f = Fields::new(&body.0);
    let name = f.required_string("name");
    let name = f.finish(|| name)?;
    let patch = TopicPatch { name, data: None };
    let Some(topic) = state.store.update_topic(env, key, &patch).await? else {
        return Err(topic_not_found(key, env));
    };
    let members = state.store.topic_subscriber_ids(env, key).await?;
    Ok(Envelope(StatusCode::OK, TopicV1::new(&topic, members)).into_response())
}

/// `DELETE /v1/topics/{key}`: 204; refused (409) while the topic has subscribers, as in Novu v1.
#[utoipa::path(
    delete,
    path = "/v1/topics/{topicKey}",
    tag = "Topics",
    operation_id = "delete_topic_v1",
    params(
        oa::TopicKeyPath,
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = oa::NotFound),
        (status = 409, description = "The topic still has subscribers", body = oa::ErrorBody),
    )
)]
async fn delete_topic(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let env = &auth.0.environment_id;
    let key = &p.0[0];
    if state.store.get_topic(env, key).await?.is_none() {
        return Err(topic_not_found(key, env));
    }
    if !state.store.topic_subscriber_ids(env, key).await?.is_empty() {
        return Err(ApiError::Conflict(format!(
            "Topic with key {key} in the environment {env} can't be deleted as it still has subscribers assigned"
        )));
    }
    state.store.delete_topic(env, key).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `{subscribers: string[]}` of the add and remove calls.
fn parse_subscriber_list(body: &serde_json::Map<String, Value>) -> Result<Vec<String>, ApiError> {
    match body.get("subscribers") {
        None | Some(Value::Null) => Err(ApiError::Validation(vec![
            "subscribers should not be null or undefined".into(),
            "subscribers must be an array".into(),
        ])),
        Some(Value::Array(items)) => {
            let ids: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_string))
                .collect();
            let ids = ids.ok_or_else(|| {
                ApiError::Validation(vec!["each value in subscribers must be a string".into()])
            })?;
            // Looked up in the store, where PostgreSQL text cannot hold NUL.
            if ids.iter().any(|id| id.contains('\0')) {
                return Err(ApiError::Validation(vec![
                    "each value in subscribers must not contain null characters".into(),
                ]));
            }
            Ok(ids)
        }
        Some(_) => Err(ApiError::Validation(vec![
            "subscribers must be an array".into()
        ])),
    }
}

/// `POST /v1/topics/{key}/subscribers`: 200 `{succeeded, failed?: {notFound, identifierConflict?}}`;
/// a missing topic is created as `Autogenerated-<key>`.
#[utoipa::path(
    post,
    path = "/v1/topics/{topicKey}/subscribers",
    tag = "Topics",
    operation_id = "add_subscribers_v1",
    params(
        oa::TopicKeyPath,
    ),
    request_body = oa::TopicSubscribersRequestDto,
    responses(
        (status = 200, description = "Added (a missing topic is created)", body = Data<AddSubscribersResponse>),
    )
)]
async fn add_subscribers(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let key = &p.0[0];
    let ids = parse_subscriber_list(&body.0)?;
    let name = format!("Autogenerated-{key}");
    let requested: Vec<NewSubscription> = ids.into_iter().map(NewSubscription::of).collect();
    let outcome = state
        .store
        .add_topic_subscribers(
            &ctx.environment_id,
            &ctx.organization_id,
            key,
            &requested,
            Some(&name),
        )
        .await?;
    let succeeded: Vec<&str> = outcome
        .subscriptions
        .iter()
        .map(|s| s.subscriber.subscriber_id.as_str())
        .collect();
    // `identifierConflict` only when a v2 caller named another subscriber's subscription
    // `<key>:<this subscriber>`, the identifier this one would get by default. Novu's v1 has no
    // such case; a key of its own keeps `notFound` truthful.
    let failed =
        (!outcome.not_found.is_empty() || !outcome.conflicts.is_empty()).then(|| AddFailures {
            not_found: &outcome.not_found,
            identifier_conflict: outcome
                .conflicts
                .iter()
                .map(|c| c.subscriber_id.as_str())
                .collect(),
        });
    let data = AddSubscribersResponse { succeeded, failed };
    Ok(Envelope(StatusCode::OK, data).into_response())
}

#[utoipa::path(
    post,
    path = "/v1/topics/{topicKey}/subscribers/removal",
    tag = "Topics",
    operation_id = "remove_subscribers_v1",
    params(
        oa::TopicKeyPath,
    ),
    request_body = oa::TopicSubscribersRequestDto,
    responses(
        (status = 204, description = "Removed"),
    )
)]
async fn remove_subscribers(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ids = parse_subscriber_list(&body.0)?;
    state
        .store
        .remove_topic_subscribers(&auth.0.environment_id, &p.0[0], &ids)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /v1/topics/{key}/subscribers/{id}`: the membership (`TopicSubscriberDto`), 404 when the
/// subscriber is not in the topic.
#[utoipa::path(
    get,
    path = "/v1/topics/{topicKey}/subscribers/{externalSubscriberId}",
    tag = "Topics",
    operation_id = "check_subscriber_v1",
    params(
        oa::TopicKeyPath,
        ("externalSubscriberId" = String, Path, description = "The subscriber's external id"),
    ),
    responses(
        (status = 200, description = "The membership", body = Data<TopicSubscriberResponse>),
        (status = 404, description = "Not a member", body = oa::ErrorBody),
    )
)]
async fn check_subscriber(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let (key, subscriber_id) = (&p.0[0], &p.0[1]);
    match state
        .store
        .get_topic_subscription(&ctx.environment_id, key, subscriber_id)
        .await?
    {
        Some(s) => Ok(Envelope(
            StatusCode::OK,
            TopicSubscriberResponse {
                id: &s.id,
                organization_id: &s.topic.organization_id,
                environment_id: &s.topic.environment_id,
                subscriber_id: &s.subscriber.id,
                topic_id: &s.topic.id,
                topic_key: &s.topic.key,
                external_subscriber_id: &s.subscriber.subscriber_id,
                created_at: s.created_at,
                updated_at: s.updated_at,
            },
        )
        .into_response()),
        None => Err(ApiError::NotFound(format!(
            "Subscriber {subscriber_id} not found for topic {key} in the environment {}",
            ctx.environment_id
        ))),
    }
}
