//! v1 subscribers: list, get, create (upsert), bulk upsert, update, delete, online status.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use herald_core::subscriber::{BulkOutcome, Field, Profile};
use herald_core::{
    CredentialsMode, CredentialsUpdate, NewSubscriber, ObjectId, SubscriberPatch, SubscriberWrite,
    Timestamp,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::credentials::{parse_channel_request, resolve, ChannelRequest};
use super::dto::{Data, Envelope, Plain, SubscriberResponse};
use super::error::ApiError;
use super::extract::{parse_paging, JsonBody, PathParams, QueryMap};
use super::openapi as oa;
use super::validate::Fields;
use crate::state::AppState;

/// At most this many subscribers in one `/bulk` request (Novu's limit).
const MAX_BULK: usize = 500;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_subscribers, create_subscriber))
        .routes(routes!(bulk_create_subscribers))
        .routes(routes!(
            get_subscriber,
            update_subscriber,
            delete_subscriber
        ))
        .routes(routes!(update_online_status))
        // `GET`/`PUT`/`DELETE /v1/subscribers/bulk` address the subscriber whose id is `bulk`,
        // as in Novu (only `POST` is the bulk create): the static `/bulk` route would otherwise
        // shadow `/{subscriberId}` for these methods.
        .route(
            "/v1/subscribers/bulk",
            get(|auth: Auth, state: State<AppState>| get_subscriber(auth, state, bulk()))
                .put(|auth: Auth, state: State<AppState>, body: JsonBody| {
                    update_subscriber(auth, state, bulk(), body)
                })
                .delete(|auth: Auth, state: State<AppState>| {
                    delete_subscriber(auth, state, bulk())
                }),
        )
}

/// The path parameters of a route that names the subscriber `bulk`.
fn bulk() -> PathParams {
    PathParams(vec!["bulk".to_string()])
}

pub(super) fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("Subscriber not found for id {id}"))
}

/// `GET /v1/subscribers`.
#[derive(Serialize, ToSchema)]
#[schema(as = SubscribersPageV1)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<'a> {
    page: u64,
    /// True when the page is full.
    has_more: bool,
    page_size: u64,
    data: Vec<SubscriberResponse<'a>>,
}

/// `GET /v1/subscribers?page&limit`: unwrapped `{page, hasMore, pageSize, data}`; `hasMore` is
/// "the page is full", as in Novu.
#[utoipa::path(
    get,
    path = "/v1/subscribers",
    tag = "Subscribers",
    operation_id = "list_subscribers_v1",
    params(
        ("page" = Option<u64>, Query, description = "Page number, from 0"),
        ("limit" = Option<u64>, Query, description = "Page size, 1 to 100 (default 10)"),
    ),
    responses(
        (status = 200, description = "One page of subscribers (not wrapped in `data`)", body = ListResponse),
    )
)]
async fn list_subscribers(
    auth: Auth,
    State(state): State<AppState>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let (page, limit) = parse_paging(&q, 10, 100)?;
    let offset = page.saturating_mul(limit);
    let subscribers = state
        .store
        .list_subscribers(&auth.0.environment_id, offset, limit)
        .await?;
    let body = ListResponse {
        page,
        has_more: subscribers.len() as u64 == limit,
        page_size: limit,
        data: subscribers
            .iter()
            .map(SubscriberResponse::list_item)
            .collect(),
    };
    Ok(Plain(StatusCode::OK, body).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/subscribers/{subscriberId}",
    tag = "Subscribers",
    operation_id = "get_subscriber_v1",
    params(
        oa::SubscriberIdPath,
    ),
    responses(
        (status = 200, description = "The subscriber", body = Data<SubscriberResponse>),
        (status = 404, response = oa::NotFound),
    )
)]
async fn get_subscriber(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    respond_subscriber(&state, &auth, &p.0[0]).await
}

/// A parsed `CreateSubscriberRequestDto`.
pub(super) struct CreateRequest {
    pub subscriber_id: String,
    pub profile: Profile,
    pub channels: Vec<ChannelRequest>,
}

/// Parses a create body (also each `/bulk` item), in the DTO's property order.
pub(super) fn parse_create(f: &mut Fields<'_>) -> Option<CreateRequest> {
    let subscriber_id = f.required_id("subscriberId");
    let email = f.optional_email("email");
    let first_name = f.optional_string("firstName");
    let last_name = f.optional_string("lastName");
    let phone = f.optional_string("phone");
    let avatar = f.optional_string("avatar");
    let locale = f.optional_locale("locale");
    let timezone = f.optional_string("timezone");
    let data = f.optional_any("data");
    let mut channels = Vec::new();
    if let Some(items) = f.optional_array("channels") {
        for (i, item) in items.iter().enumerate() {
            let prefix = format!("{}{i}.", f.name("channels."));
            match item {
                Value::Object(obj) => {
                    let mut c = Fields::nested(obj, prefix);
                    let parsed = parse_channel_request(&mut c);
                    f.absorb(c);
                    channels.extend(parsed);
                }
                _ => f.error(format!(
                    "{} must be an object",
                    prefix.trim_end_matches('.')
                )),
            }
        }
    }
    Some(CreateRequest {
        subscriber_id: subscriber_id?,
        profile: Profile {
            first_name,
            last_name,
            email,
            phone,
            avatar,
            locale,
            timezone,
            data,
        },
        channels,
    })
}

/// What an existing subscriber gets from a create (upsert) or v1 PUT: `null` leaves a field
/// unchanged, except `email`, which `null` clears (Novu).
pub(super) fn as_update(profile: &Profile) -> Profile {
    fn keep_on_null<T: Clone>(f: &Field<T>) -> Field<T> {
        match f {
            Field::Null => Field::Absent,
            other => other.clone(),
        }
    }
    Profile {
        first_name: keep_on_null(&profile.first_name),
        last_name: keep_on_null(&profile.last_name),
        email: profile.email.clone(),
        phone: keep_on_null(&profile.phone),
        avatar: keep_on_null(&profile.avatar),
        locale: keep_on_null(&profile.locale),
        timezone: keep_on_null(&profile.timezone),
        data: keep_on_null(&profile.data),
    }
}

/// Resolves every channel of a request before anything is written, so a bad channel leaves no
/// half-created subscriber behind.
async fn resolve_all(
    state: &AppState,
    env: &ObjectId,
    channels: &[ChannelRequest],
) -> Result<Result<Vec<CredentialsUpdate>, ApiError>, ApiError> {
    let mut updates = Vec::with_capacity(channels.len());
    for req in channels {
        match resolve(state, env, req, CredentialsMode::Append).await? {
            Ok(u) => updates.push(u),
            Err(e) => return Ok(Err(e)),
        }
    }
    Ok(Ok(updates))
}

/// Creates the subscriber of a create request, or updates the existing one with that id, and
/// appends its `channels` (every one resolved before anything is written), all or nothing.
pub(super) async fn upsert_with_channels(
    state: &AppState,
    ctx: &herald_core::AuthContext,
    req: &CreateRequest,
) -> Result<herald_core::Subscriber, ApiError> {
    let updates = resolve_all(state, &ctx.environment_id, &req.channels).await??;
    let new = NewSubscriber {
        subscriber_id: req.subscriber_id.clone(),
        profile: req.profile.clone(),
    };
    let patch = SubscriberPatch {
        profile: as_update(&req.profile),
    };
    // The profile and every channel in one transaction: a channel that cannot be written (too
    // many device tokens) leaves nothing behind, not even a changed profile.
    let (subscriber, _created) = state
        .store
        .upsert_subscriber_with_channels(
            &ctx.environment_id,
            &ctx.organization_id,
            &new,
            &patch,
            &updates,
        )
        .await?;
    Ok(subscriber)
}

/// `POST /v1/subscribers`: create, or update the existing subscriber with that id. Always 201.
/// `channels` are written with append semantics and returned (deliberate difference 5).
#[utoipa::path(
    post,
    path = "/v1/subscribers",
    tag = "Subscribers",
    operation_id = "create_subscriber_v1",
    request_body = oa::CreateSubscriberRequestDto,
    responses(
        (status = 201, description = "Created, or updated when the id exists", body = Data<SubscriberResponse>),
    )
)]
async fn create_subscriber(
    auth: Auth,
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let mut f = Fields::new(&body.0);
    let req = parse_create(&mut f);
    let req = f.finish(|| req)?.expect("complete request");
    let subscriber = upsert_with_channels(&state, ctx, &req).await?;
    Ok(Envelope(StatusCode::CREATED, SubscriberResponse::one(&subscriber)).into_response())
}

#[derive(Serialize, ToSchema)]
#[schema(as = SubscriberIdDto)]
pub struct BulkItem<'a> {
    #[serde(rename = "subscriberId")]
    subscriber_id: &'a str,
}

/// An item of `/bulk` that was not written, and why.
#[derive(Serialize, ToSchema)]
#[schema(as = FailedSubscriberDto)]
pub struct BulkFailure<'a> {
    #[serde(rename = "subscriberId")]
    subscriber_id: &'a str,
    message: String,
}

/// `BulkCreateSubscriberResponseDto`.
#[derive(Serialize, ToSchema)]
#[schema(as = BulkCreateSubscriberResponseDto)]
pub struct BulkResponse<'a> {
    updated: Vec<BulkItem<'a>>,
    created: Vec<BulkItem<'a>>,
    failed: Vec<BulkFailure<'a>>,
}

/// `DELETE /v1/subscribers/{id}` and `/v2/…`: `{acknowledged: true, status: "deleted"}`.
#[derive(Serialize, ToSchema)]
#[schema(as = RemoveSubscriberResponseDto)]
pub struct RemoveResponse {
    acknowledged: bool,
    status: &'static str,
}

/// `POST /v1/subscribers/bulk`: up to 500 upserts in one transaction; `created`, `updated` and
/// `failed` in input order. Each item is all-or-nothing: one whose channels cannot be bound or
/// written is reported in `failed` with its reason, and nothing of it is written.
#[utoipa::path(
    post,
    path = "/v1/subscribers/bulk",
    tag = "Subscribers",
    operation_id = "bulk_create_subscribers_v1",
    request_body = oa::BulkSubscriberCreateDto,
    responses(
        (status = 201, description = "Created and updated ids, in request order", body = Data<BulkResponse>),
    )
)]
async fn bulk_create_subscribers(
    auth: Auth,
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let mut f = Fields::new(&body.0);
    let items = match f.raw("subscribers") {
        Some(Value::Array(items)) if items.len() > MAX_BULK => {
            return Err(ApiError::Validation(vec![format!(
                "subscribers must contain no more than {MAX_BULK} elements"
            )]))
        }
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(ApiError::Validation(vec![
                "subscribers should not be empty".into(),
            ]))
        }
        Some(Value::Array(items)) => items,
        _ => {
            return Err(ApiError::Validation(vec![
                format!("subscribers must contain no more than {MAX_BULK} elements"),
                "subscribers should not be empty".into(),
                "subscribers must be an array".into(),
            ]))
        }
    };
    let mut requests = Vec::with_capacity(items.len());
    let empty = serde_json::Map::new();
    for (i, item) in items.iter().enumerate() {
        let obj = item.as_object().unwrap_or(&empty);
        let mut item_fields = Fields::nested(obj, format!("subscribers.{i}."));
        let parsed = parse_create(&mut item_fields);
        f.absorb(item_fields);
        requests.extend(parsed);
    }
    let requests = f.finish(|| requests)?;

    // Each item is resolved, then written whole or not at all: an item whose channels cannot be
    // bound, or cannot be written (too many device tokens), is reported in `failed` with its
    // reason and leaves nothing behind; the others are written, all in one transaction.
    let mut results: Vec<Option<Result<BulkOutcome, String>>> = Vec::with_capacity(requests.len());
    let mut writes = Vec::with_capacity(requests.len());
    for req in &requests {
        match resolve_all(&state, &ctx.environment_id, &req.channels).await? {
            Ok(channels) => {
                results.push(None);
                writes.push(SubscriberWrite {
                    subscriber: NewSubscriber {
                        subscriber_id: req.subscriber_id.clone(),
                        profile: req.profile.clone(),
                    },
                    channels,
                });
            }
            Err(e) => results.push(Some(Err(error_message(&e)))),
        }
    }
    let mut written = if writes.is_empty() {
        Vec::new()
    } else {
        state
            .store
            .bulk_write_subscribers(&ctx.environment_id, &ctx.organization_id, &writes)
            .await?
    }
    .into_iter();
    for slot in results.iter_mut().filter(|r| r.is_none()) {
        let outcome = written.next().ok_or_else(|| {
            anyhow::anyhow!("the store answered fewer bulk items than it was given")
        })?;
        *slot = Some(outcome.map_err(|e| error_message(&ApiError::from(e))));
    }
    let (mut updated, mut created, mut failed) = (Vec::new(), Vec::new(), Vec::new());
    for (req, result) in requests.iter().zip(results) {
        let item = BulkItem {
            subscriber_id: &req.subscriber_id,
        };
        match result {
            Some(Ok(BulkOutcome::Updated)) => updated.push(item),
            Some(Ok(BulkOutcome::Created)) => created.push(item),
            Some(Err(message)) => failed.push(BulkFailure {
                subscriber_id: &req.subscriber_id,
                message,
            }),
            None => {}
        }
    }
    let body = BulkResponse {
        updated,
        created,
        failed,
    };
    Ok(Envelope(StatusCode::CREATED, body).into_response())
}

/// The reason an item of `/bulk` failed, as the `message` of its `failed` entry.
fn error_message(e: &ApiError) -> String {
    match e {
        ApiError::BadRequest(m) | ApiError::NotFound(m) | ApiError::Conflict(m) => m.clone(),
        ApiError::Validation(messages) => messages.join("; "),
        other => other.to_string(),
    }
}

/// `PUT /v1/subscribers/{id}`: `""` or `null` email clears it; other `null`s leave fields alone.
/// Unknown subscriber is a 400 (Novu). The response carries the `updatedAt` from before the write,
/// as Novu's does.
#[utoipa::path(
    put,
    path = "/v1/subscribers/{subscriberId}",
    tag = "Subscribers",
    operation_id = "update_subscriber_v1",
    params(
        oa::SubscriberIdPath,
    ),
    request_body = oa::UpdateSubscriberRequestDto,
    responses(
        (status = 200, description = "The updated subscriber (`updatedAt` as before the write, like Novu)", body = Data<SubscriberResponse>),
        (status = 400, description = "Invalid request, or unknown subscriber (Novu answers 400 here)", body = oa::ErrorBody),
    )
)]
async fn update_subscriber(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let env = &auth.0.environment_id;
    let id = &p.0[0];
    let mut obj = body.0;
    if obj.get("email") == Some(&Value::String(String::new())) {
        obj.insert("email".into(), Value::Null);
    }
    let mut f = Fields::new(&obj);
    let profile = Profile {
        email: f.optional_email("email"),
        first_name: f.optional_string("firstName"),
        last_name: f.optional_string("lastName"),
        phone: f.optional_string("phone"),
        avatar: f.optional_string("avatar"),
        locale: f.optional_locale("locale"),
        timezone: f.optional_string("timezone"),
        data: f.optional_any("data"),
    };
    let patch = f.finish(|| SubscriberPatch {
        profile: as_update(&profile),
    })?;
    let Some(before) = state.store.get_subscriber(env, id).await? else {
        return Err(ApiError::BadRequest(format!(
            "SubscriberId: {id} not found"
        )));
    };
    match state.store.update_subscriber(env, id, &patch).await? {
        Some(s) => Ok(Envelope(
            StatusCode::OK,
            SubscriberResponse::one(&s).with_updated_at(before.updated_at),
        )
        .into_response()),
        None => Err(ApiError::BadRequest(format!(
            "SubscriberId: {id} not found"
        ))),
    }
}

#[utoipa::path(
    delete,
    path = "/v1/subscribers/{subscriberId}",
    tag = "Subscribers",
    operation_id = "delete_subscriber_v1",
    params(
        oa::SubscriberIdPath,
    ),
    responses(
        (status = 200, description = "Deleted", body = Data<RemoveResponse>),
        (status = 404, response = oa::NotFound),
    )
)]
async fn delete_subscriber(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    respond_deleted(&state, &auth, &p.0[0]).await
}

/// The subscriber as `{"data": …}`, or 404: v1 and v2 `GET` answer alike.
pub(super) async fn respond_subscriber(
    state: &AppState,
    auth: &Auth,
    id: &str,
) -> Result<Response, ApiError> {
    match state
        .store
        .get_subscriber(&auth.0.environment_id, id)
        .await?
    {
        Some(s) => Ok(Envelope(StatusCode::OK, SubscriberResponse::one(&s)).into_response()),
        None => Err(not_found(id)),
    }
}

/// Soft-deletes and answers `{acknowledged, status}`, or 404: v1 and v2 `DELETE` answer alike.
pub(super) async fn respond_deleted(
    state: &AppState,
    auth: &Auth,
    id: &str,
) -> Result<Response, ApiError> {
    if !state
        .store
        .delete_subscriber(&auth.0.environment_id, id)
        .await?
    {
        return Err(not_found(id));
    }
    Ok(Envelope(
        StatusCode::OK,
        RemoveResponse {
            acknowledged: true,
            status: "deleted",
        },
    )
    .into_response())
}

/// `PATCH /v1/subscribers/{id}/online-status` with `{isOnline}`. `{online}` (what `@novu/node`
/// sends) is accepted too, so that SDK's `updateOnlineStatus` works.
#[utoipa::path(
    patch,
    path = "/v1/subscribers/{subscriberId}/online-status",
    tag = "Subscribers",
    operation_id = "update_online_status_v1",
    params(
        oa::SubscriberIdPath,
    ),
    request_body = oa::UpdateSubscriberOnlineFlagRequestDto,
    responses(
        (status = 200, description = "The subscriber", body = Data<SubscriberResponse>),
        (status = 404, response = oa::NotFound),
    )
)]
async fn update_online_status(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let id = &p.0[0];
    let mut obj = body.0;
    if !obj.contains_key("isOnline") {
        if let Some(online @ Value::Bool(_)) = obj.get("online").cloned() {
            obj.insert("isOnline".into(), online);
        }
    }
    let mut f = Fields::new(&obj);
    let online = f.required_bool("isOnline");
    let online = f.finish(|| online)?.expect("complete request");
    match state
        .store
        .set_online(&auth.0.environment_id, id, online, Timestamp::now())
        .await?
    {
        Some(s) => Ok(Envelope(StatusCode::OK, SubscriberResponse::one(&s)).into_response()),
        None => Err(ApiError::NotFound("Subscriber not found".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn create_messages_follow_the_dto_order() {
        let body =
            json!({"subscriberId":"s1","email":"bad","locale":"x","firstName":5,"channels":"x"});
        let mut f = Fields::new(body.as_object().unwrap());
        parse_create(&mut f);
        match f.finish(|| ()) {
            Err(ApiError::Validation(m)) => assert_eq!(
                m,
                [
                    "email must be an email",
                    "firstName must be a string",
                    "locale must be locale",
                    "channels must be an array"
                ]
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn update_keeps_fields_on_null_but_clears_email() {
        let p = Profile {
            first_name: Field::Null,
            email: Field::Null,
            ..Default::default()
        };
        let u = as_update(&p);
        assert_eq!(u.first_name, Field::Absent);
        assert_eq!(u.email, Field::Null);
    }
}
