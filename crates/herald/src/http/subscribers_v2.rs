//! v2 subscribers, as `@novu/api` and `novu-py` call them: create (upsert, `failIfExists`), get,
//! patch, delete.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_core::subscriber::Profile;
use herald_core::topic::SubscriberFilter;
use herald_core::{NewSubscriber, SubscriberPatch};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::cursor::{parse_cursor, CursorList};
use super::dto::{Data, Envelope, Plain, SubscriberResponse};
use super::error::ApiError;
use super::extract::{JsonBody, PathParams, QueryMap};
use super::openapi as oa;
use super::subscribers::{as_update, not_found, parse_create, respond_deleted, respond_subscriber};
use super::topics_v2::SubscriptionResponse;
use super::validate::{search_needles, Fields};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_subscriber, search_subscribers))
        .routes(routes!(get_subscriber, patch_subscriber, delete_subscriber))
        .routes(routes!(list_subscriptions))
}

/// `POST /v2/subscribers[?failIfExists=true]`: 201 with the subscriber, created or updated. With
/// `failIfExists=true` an existing subscriber is a 409 whose body is that subscriber (the SDKs
/// parse it as `SubscriberResponseDto`).
#[utoipa::path(
    post,
    path = "/v2/subscribers",
    tag = "Subscribers",
    operation_id = "create_subscriber_v2",
    params(
        ("failIfExists" = Option<bool>, Query, description = "Answer 409 with the existing resource instead of updating it"),
    ),
    request_body = oa::CreateSubscriberV2RequestDto,
    responses(
        (status = 201, description = "Created, or updated when the id exists", body = Data<SubscriberResponse>),
        (status = 409, description = "Exists and `failIfExists=true`: the existing subscriber", body = SubscriberResponse),
    )
)]
async fn create_subscriber(
    auth: Auth,
    State(state): State<AppState>,
    q: QueryMap,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let fail_if_exists = match q.get("failIfExists") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::Validation(vec![
                "failIfExists must be a boolean value".into(),
            ]))
        }
    };
    let mut f = Fields::new(&body.0);
    let req = parse_create(&mut f);
    let req = f.finish(|| req)?.expect("complete request");
    if !req.channels.is_empty() {
        return Err(ApiError::Validation(vec![
            "channels are not accepted here; set them with PUT /v1/subscribers/{subscriberId}/credentials".into(),
        ]));
    }
    if fail_if_exists {
        if let Some(existing) = state
            .store
            .get_subscriber(&ctx.environment_id, &req.subscriber_id)
            .await?
        {
            return Ok(
                Plain(StatusCode::CONFLICT, SubscriberResponse::one(&existing)).into_response(),
            );
        }
    }
    let new = NewSubscriber {
        subscriber_id: req.subscriber_id.clone(),
        profile: req.profile.clone(),
    };
    let patch = SubscriberPatch {
        profile: as_update(&req.profile),
    };
    let (subscriber, _) = state
        .store
        .upsert_subscriber(&ctx.environment_id, &ctx.organization_id, &new, &patch)
        .await?;
    Ok(Envelope(StatusCode::CREATED, SubscriberResponse::one(&subscriber)).into_response())
}

#[utoipa::path(
    get,
    path = "/v2/subscribers/{subscriberId}",
    tag = "Subscribers",
    operation_id = "get_subscriber_v2",
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

/// `PATCH /v2/subscribers/{id}`: given fields are set; an explicit `null` clears a field.
#[utoipa::path(
    patch,
    path = "/v2/subscribers/{subscriberId}",
    tag = "Subscribers",
    operation_id = "patch_subscriber_v2",
    params(
        oa::SubscriberIdPath,
    ),
    request_body = oa::UpdateSubscriberRequestDto,
    responses(
        (status = 200, description = "The updated subscriber; `null` clears a field", body = Data<SubscriberResponse>),
        (status = 404, response = oa::NotFound),
    )
)]
async fn patch_subscriber(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let id = &p.0[0];
    let mut f = Fields::new(&body.0);
    let profile = Profile {
        first_name: f.optional_string("firstName"),
        last_name: f.optional_string("lastName"),
        email: f.optional_email("email"),
        phone: f.optional_string("phone"),
        avatar: f.optional_string("avatar"),
        locale: f.optional_locale("locale"),
        timezone: f.optional_string("timezone"),
        data: f.optional_any("data"),
    };
    let patch = f.finish(|| SubscriberPatch { profile })?;
    match state
        .store
        .update_subscriber(&auth.0.environment_id, id, &patch)
        .await?
    {
        Some(s) => Ok(Envelope(StatusCode::OK, SubscriberResponse::one(&s)).into_response()),
        None => Err(not_found(id)),
    }
}

#[utoipa::path(
    delete,
    path = "/v2/subscribers/{subscriberId}",
    tag = "Subscribers",
    operation_id = "delete_subscriber_v2",
    params(
        oa::SubscriberIdPath,
    ),
    responses(
        (status = 200, description = "Deleted", body = Data<super::subscribers::RemoveResponse>),
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

/// `GET /v2/subscribers?subscriberId&email&phone&name&limit&after&before&orderDirection`. Each
/// filter is at most [`super::validate::MAX_SEARCH_LEN`] characters (a longer one is a 400).
#[utoipa::path(
    get,
    path = "/v2/subscribers",
    tag = "Subscribers",
    operation_id = "search_subscribers_v2",
    params(
        ("subscriberId" = Option<String>, Query, description = "Substring of the subscriber id, ignoring case (at most 256 characters)"),
        ("email" = Option<String>, Query, description = "Substring of the email, ignoring case (at most 256 characters)"),
        ("phone" = Option<String>, Query, description = "Substring of the phone (at most 256 characters)"),
        ("name" = Option<String>, Query, description = "Substring of the first, last or full name, ignoring case (at most 256 characters)"),
        oa::CursorParams,
    ),
    responses(
        (status = 200, description = "One page of subscribers", body = CursorList<SubscriberResponse>),
    )
)]
async fn search_subscribers(
    auth: Auth,
    State(state): State<AppState>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let [subscriber_id, email, phone, name] = search_needles(
        |k| q.get(k).filter(|v| !v.is_empty()).map(str::to_string),
        ["subscriberId", "email", "phone", "name"],
    )?;
    let page = parse_cursor(&q)?;
    let filter = SubscriberFilter {
        subscriber_id,
        email,
        phone,
        name,
    };
    let result = state
        .store
        .search_subscribers(&auth.0.environment_id, &filter, &page)
        .await?;
    let list = CursorList::new(&result, |s| &s.id, SubscriberResponse::list_item);
    Ok(Plain(StatusCode::OK, list).into_response())
}

/// `GET /v2/subscribers/{id}/subscriptions[?key]`: the subscriber's topic memberships.
#[utoipa::path(
    get,
    path = "/v2/subscribers/{subscriberId}/subscriptions",
    tag = "Subscribers",
    operation_id = "list_subscriptions_v2",
    params(
        oa::SubscriberIdPath,
        ("key" = Option<String>, Query, description = "Only this topic"),
        oa::CursorParams,
    ),
    responses(
        (status = 200, description = "The subscriber's topic subscriptions", body = CursorList<SubscriptionResponse>),
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
    let id = &p.0[0];
    let page = parse_cursor(&q)?;
    if state.store.get_subscriber(env, id).await?.is_none() {
        return Err(not_found(id));
    }
    let result = state
        .store
        .subscriber_subscriptions(env, id, q.get("key"), &page)
        .await?;
    let list = CursorList::new(&result, |s| &s.id, SubscriptionResponse::from);
    Ok(Plain(StatusCode::OK, list).into_response())
}
