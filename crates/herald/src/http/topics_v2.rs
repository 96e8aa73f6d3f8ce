//! v2 topics, as `@novu/api` and `novu-py` call them: create (upsert, `failIfExists`), get, list,
//! update, delete, and subscriptions (create, list, delete with a JSON body, get one).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_core::topic::{
    NewSubscription, NewTopic, Topic, TopicFilter, TopicPatch, TopicSubscription,
};
use herald_core::{ObjectId, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::cursor::{parse_cursor, CursorList};
use super::dto::{Data, Envelope, Plain};
use super::error::ApiError;
use super::extract::{JsonBody, PathParams, QueryMap};
use super::openapi as oa;
use super::validate::{search_needles, Fields};
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
#[derive(Serialize, ToSchema)]
#[schema(as = TopicResponseDto)]
pub struct TopicResponse<'a> {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    id: &'a ObjectId,
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    name: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>, nullable = false)]
    data: &'a Option<Value>,
    #[serde(rename = "createdAt")]
    #[schema(value_type = String)]
    created_at: Timestamp,
    #[serde(rename = "updatedAt")]
    #[schema(value_type = String)]
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

/// The topic of a subscription.
#[derive(Serialize, ToSchema)]
#[schema(as = SubscriptionTopicDto)]
pub struct SubscriptionTopic<'a> {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    id: &'a ObjectId,
    key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    name: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>, nullable = false)]
    data: &'a Option<Value>,
}

/// The subscriber of a subscription; profile fields it does not have are `null`.
#[derive(Serialize, ToSchema)]
#[schema(as = SubscriptionSubscriberDto)]
pub struct SubscriptionSubscriber<'a> {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    id: &'a ObjectId,
    #[serde(rename = "subscriberId")]
    subscriber_id: &'a str,
    avatar: Option<&'a str>,
    #[serde(rename = "firstName")]
    first_name: Option<&'a str>,
    #[serde(rename = "lastName")]
    last_name: Option<&'a str>,
    email: Option<&'a str>,
}

/// One item of the subscription lists and of the create/delete responses.
#[derive(Serialize, ToSchema)]
#[schema(as = TopicSubscriptionDto)]
pub struct SubscriptionResponse<'a> {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    id: &'a ObjectId,
    /// The caller's, or by default `<topicKey>:<subscriberId>`; unique within the topic.
    identifier: &'a str,
    topic: SubscriptionTopic<'a>,
    subscriber: SubscriptionSubscriber<'a>,
    #[serde(rename = "createdAt")]
    #[schema(value_type = String)]
    created_at: Timestamp,
    #[serde(rename = "updatedAt")]
    #[schema(value_type = String)]
    updated_at: Timestamp,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    name: &'a Option<String>,
}

impl<'a> From<&'a TopicSubscription> for SubscriptionResponse<'a> {
    fn from(s: &'a TopicSubscription) -> Self {
        let t = &s.topic;
        let p = &s.subscriber;
        SubscriptionResponse {
            id: &s.id,
            identifier: &s.identifier,
            topic: SubscriptionTopic {
                id: &t.id,
                key: &t.key,
                name: &t.name,
                data: &t.data,
            },
            subscriber: SubscriptionSubscriber {
                id: &p.id,
                subscriber_id: &p.subscriber_id,
                avatar: p.avatar.value().map(String::as_str),
                first_name: p.first_name.value().map(String::as_str),
                last_name: p.last_name.value().map(String::as_str),
                email: p.email.value().map(String::as_str),
            },
            created_at: s.created_at,
            updated_at: s.updated_at,
            name: &s.name,
        }
    }
}

/// `{totalCount, successful, failed}` of the subscription create and delete answers.
#[derive(Serialize, ToSchema)]
#[schema(as = SubscriptionsMetaDto)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionsMeta {
    total_count: usize,
    successful: usize,
    failed: usize,
}

/// A subscriber id that was not subscribed (or unsubscribed), and why (Novu's codes).
#[derive(Serialize, ToSchema)]
#[schema(as = SubscriptionErrorDto)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionError<'a> {
    subscriber_id: &'a str,
    code: &'static str,
    message: String,
}

/// The answer of the subscription create and delete calls: `{data, meta, errors?}`.
#[derive(Serialize, ToSchema)]
#[schema(as = CreateSubscriptionsResponseDto)]
pub struct SubscriptionsResponse<'a> {
    data: Vec<SubscriptionResponse<'a>>,
    meta: SubscriptionsMeta,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<SubscriptionError<'a>>,
}

/// `{id, identifier, name?}`: one subscription, by its identifier.
#[derive(Serialize, ToSchema)]
#[schema(as = SubscriptionRefDto)]
pub struct SubscriptionRef<'a> {
    #[schema(value_type = String)]
    id: &'a ObjectId,
    identifier: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    name: &'a Option<String>,
}

/// `DELETE /v2/topics/{key}`: `{acknowledged: true}`.
#[derive(Serialize, ToSchema)]
#[schema(as = AcknowledgedDto)]
pub struct Acknowledged {
    acknowledged: bool,
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
        (status = 201, description = "Created", body = Data<TopicResponse>),
        (status = 200, description = "Existed; name and data updated", body = Data<TopicResponse>),
        (status = 409, description = "Exists and `failIfExists=true`: the existing topic", body = TopicResponse),
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
        oa::TopicKeyPath,
    ),
    responses(
        (status = 200, description = "The topic", body = Data<TopicResponse>),
        (status = 404, response = oa::NotFound),
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
        ("name" = Option<String>, Query, description = "Substring of the name, ignoring case (at most 256 characters)"),
        oa::CursorParams,
    ),
    responses(
        (status = 200, description = "One page of topics", body = CursorList<TopicResponse>),
    )
)]
async fn list_topics(
    auth: Auth,
    State(state): State<AppState>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let [name] = search_needles(|k| q.get(k).map(str::to_string), ["name"])?;
    let page = parse_cursor(&q)?;
    let filter = TopicFilter {
        key: q.get("key").map(str::to_string),
        name,
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
        oa::TopicKeyPath,
    ),
    request_body = oa::UpdateTopicRequestDto,
    responses(
        (status = 200, description = "The updated topic", body = Data<TopicResponse>),
        (status = 404, response = oa::NotFound),
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
        oa::TopicKeyPath,
    ),
    responses(
        (status = 200, description = "Deleted with its subscriptions", body = Data<Acknowledged>),
        (status = 404, response = oa::NotFound),
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
    Ok(Envelope(StatusCode::OK, Acknowledged { acknowledged: true }).into_response())
}

/// The subscriptions of `{subscriberIds: [...]}` and/or `{subscriptions: [id | {subscriberId,
/// identifier?, name?}]}`, in that order. An `identifier` is checked like any id (trimmed, at most
/// 256 characters, no control characters); without one the store derives the default.
fn parse_new_subscriptions(body: &Map<String, Value>) -> Result<Vec<NewSubscription>, ApiError> {
    let mut subscriptions = Vec::new();
    let mut f = Fields::new(body);
    match body.get("subscriberIds") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                match item.as_str() {
                    Some(s) => subscriptions.push(NewSubscription::of(s)),
                    None => f.error("each value in subscriberIds must be a string".to_string()),
                }
            }
        }
        Some(_) => f.error("subscriberIds must be an array".into()),
    }
    match body.get("subscriptions") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::String(s) => subscriptions.push(NewSubscription::of(s.as_str())),
                    Value::Object(o) => {
                        let mut item = Fields::nested(o, format!("subscriptions.{i}."));
                        let subscriber_id = o.get("subscriberId").and_then(Value::as_str);
                        if subscriber_id.is_none() {
                            item.error(format!("subscriptions.{i}.subscriberId must be a string"));
                        }
                        let identifier = item.optional_id("identifier");
                        let name = item.optional_string("name").value().cloned();
                        if let (Some(id), false) = (subscriber_id, item.has_errors()) {
                            subscriptions.push(NewSubscription {
                                subscriber_id: id.to_string(),
                                identifier,
                                name,
                            });
                        }
                        f.absorb(item);
                    }
                    _ => f.error(format!("subscriptions.{i} must be a string or an object")),
                }
            }
        }
        Some(_) => f.error("subscriptions must be an array".into()),
    }
    if !f.has_errors() && subscriptions.is_empty() {
        f.error("subscriberIds should not be empty".into());
    }
    // Looked up in the store, where PostgreSQL text cannot hold NUL.
    if !f.has_errors() && subscriptions.iter().any(|s| s.subscriber_id.contains('\0')) {
        f.error("each subscriber id must not contain null characters".into());
    }
    f.finish(|| subscriptions)
}

/// The subscriber ids of the same body (removal goes by subscriber).
fn parse_subscription_targets(body: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let subscriptions = parse_new_subscriptions(body)?;
    Ok(subscriptions.into_iter().map(|s| s.subscriber_id).collect())
}

/// `POST /v2/topics/{key}/subscriptions`: 201 `{data, meta, errors?}`; the topic is created if
/// missing. Unknown subscribers (`SUBSCRIBER_NOT_FOUND`) and subscriptions whose identifier another
/// subscription of the topic has (`SUBSCRIPTION_IDENTIFIER_CONFLICT`) are reported in `errors`. A
/// subscriber already in the topic keeps its subscription, identifier and name included.
#[utoipa::path(
    post,
    path = "/v2/topics/{topicKey}/subscriptions",
    tag = "Topics",
    operation_id = "create_subscriptions_v2",
    params(
        oa::TopicKeyPath,
    ),
    request_body = oa::TopicSubscriptionsRequestDto,
    responses(
        (status = 201, description = "Subscriptions (a missing topic is created); unknown subscribers in `errors`", body = SubscriptionsResponse),
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
    let requested = parse_new_subscriptions(&body.0)?;
    let outcome = state
        .store
        .add_topic_subscribers(
            &ctx.environment_id,
            &ctx.organization_id,
            key,
            &requested,
            None,
        )
        .await?;
    let data: Vec<SubscriptionResponse> = outcome
        .subscriptions
        .iter()
        .map(SubscriptionResponse::from)
        .collect();
    let not_found = outcome.not_found.iter().map(|id| SubscriptionError {
        subscriber_id: id,
        code: "SUBSCRIBER_NOT_FOUND",
        message: format!("Subscriber with ID '{id}' could not be found."),
    });
    let conflicts = outcome.conflicts.iter().map(|c| SubscriptionError {
        subscriber_id: &c.subscriber_id,
        code: "SUBSCRIPTION_IDENTIFIER_CONFLICT",
        message: format!(
            "Subscription identifier '{}' is already used by another subscription of topic {key}.",
            c.identifier
        ),
    });
    let errors: Vec<SubscriptionError> = not_found.chain(conflicts).collect();
    let body = SubscriptionsResponse {
        meta: SubscriptionsMeta {
            total_count: data.len() + errors.len(),
            successful: data.len(),
            failed: errors.len(),
        },
        data,
        errors,
    };
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
        oa::TopicKeyPath,
    ),
    request_body = oa::TopicSubscriptionsRequestDto,
    responses(
        (status = 200, description = "The removed subscriptions; ids not removed in `errors`", body = SubscriptionsResponse),
        (status = 404, response = oa::NotFound),
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
            None => SubscriptionError {
                subscriber_id: id,
                code: "SUBSCRIBER_NOT_FOUND",
                message: format!("Subscriber with ID '{id}' could not be found."),
            },
            Some(_) => SubscriptionError {
                subscriber_id: id,
                code: "SUBSCRIPTION_NOT_FOUND",
                message: format!("Subscription for subscriber '{id}' not found."),
            },
        });
    }
    let body = SubscriptionsResponse {
        data: removed.iter().map(SubscriptionResponse::from).collect(),
        meta: SubscriptionsMeta {
            total_count: ids.len(),
            successful: removed.len(),
            failed: errors.len(),
        },
        errors,
    };
    Ok(Plain(StatusCode::OK, body).into_response())
}

#[utoipa::path(
    get,
    path = "/v2/topics/{topicKey}/subscriptions",
    tag = "Topics",
    operation_id = "list_subscriptions_v2",
    params(
        oa::TopicKeyPath,
        ("subscriberId" = Option<String>, Query, description = "Only this subscriber"),
        oa::CursorParams,
    ),
    responses(
        (status = 200, description = "One page of subscriptions", body = CursorList<SubscriptionResponse>),
        (status = 404, response = oa::NotFound),
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
    let list = CursorList::new(&result, |s| &s.id, SubscriptionResponse::from);
    Ok(Plain(StatusCode::OK, list).into_response())
}

/// `GET /v2/topics/{key}/subscriptions/{identifier}`: by the subscription's identifier, or else by
/// the bare subscriber id (as Herald answered before identifiers were stored).
#[utoipa::path(
    get,
    path = "/v2/topics/{topicKey}/subscriptions/{identifier}",
    tag = "Topics",
    operation_id = "get_subscription_v2",
    params(
        oa::TopicKeyPath,
        ("identifier" = String, Path, description = "The subscription's identifier (by default `<topicKey>:<subscriberId>`), or the subscriber id"),
    ),
    responses(
        (status = 200, description = "The subscription", body = Data<SubscriptionRef>),
        (status = 404, description = "Not subscribed", body = oa::ErrorBody),
    )
)]
async fn get_subscription(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let env = &auth.0.environment_id;
    let (key, identifier) = (&p.0[0], &p.0[1]);
    let found = match state
        .store
        .get_topic_subscription_by_identifier(env, key, identifier)
        .await?
    {
        Some(s) => Some(s),
        None => {
            state
                .store
                .get_topic_subscription(env, key, identifier)
                .await?
        }
    };
    match found {
        Some(s) => Ok(Envelope(
            StatusCode::OK,
            SubscriptionRef {
                id: &s.id,
                identifier: &s.identifier,
                name: &s.name,
            },
        )
        .into_response()),
        None => Err(ApiError::NotFound(format!(
            "Subscription {identifier} not found for topic {key}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<Vec<NewSubscription>, Vec<String>> {
        parse_new_subscriptions(body.as_object().unwrap()).map_err(|e| match e {
            ApiError::Validation(messages) => messages,
            other => panic!("not a validation error: {other:?}"),
        })
    }

    #[test]
    fn subscription_objects_carry_their_identifier_and_name() {
        let parsed = parse(json!({
            "subscriberIds": ["a"],
            "subscriptions": [
                "b",
                {"subscriberId": "c", "identifier": "  mine  ", "name": "Mine"},
                {"subscriberId": "d", "identifier": null},
            ],
        }))
        .unwrap();
        assert_eq!(
            parsed,
            [
                NewSubscription::of("a"),
                NewSubscription::of("b"),
                NewSubscription {
                    subscriber_id: "c".into(),
                    identifier: Some("mine".into()),
                    name: Some("Mine".into()),
                },
                NewSubscription::of("d"),
            ]
        );
    }

    #[test]
    fn an_identifier_is_checked_like_an_id() {
        let long = "i".repeat(257);
        let messages = parse(json!({"subscriptions": [
            {"subscriberId": "a", "identifier": " "},
            {"subscriberId": "b", "identifier": long},
            {"subscriberId": "c", "identifier": "a\tb"},
            {"subscriberId": "d", "identifier": 5, "name": false},
            {"identifier": "x"},
        ]}))
        .unwrap_err();
        assert_eq!(
            messages,
            [
                "subscriptions.0.identifier should not be empty",
                "subscriptions.1.identifier must be shorter than or equal to 256 characters",
                "subscriptions.2.identifier must not contain control characters",
                "subscriptions.3.identifier must be a string",
                "subscriptions.3.name must be a string",
                "subscriptions.4.subscriberId must be a string",
            ]
        );
        let at_limit = parse(json!({"subscriptions": [
            {"subscriberId": "a", "identifier": "i".repeat(256)},
        ]}))
        .unwrap();
        assert_eq!(at_limit[0].identifier.as_deref().map(str::len), Some(256));
    }
}
