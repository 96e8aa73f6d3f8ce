//! `/v1/notification-groups`: the groups v1 workflows belong to. node and pyc users list them to
//! find the `notificationGroupId` a v1 create needs; every environment has one named `General`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_core::ObjectId;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::dto::Plain;
use super::error::ApiError;
use super::extract::{JsonBody, PathParams};
use super::openapi as oa;
use super::validate::Fields;
use super::workflow_docs as docs;
use super::workflow_input::required_name;
use super::workflow_response_v1::{
    NotificationGroupDto, NotificationGroupEnvelope, NotificationGroupListEnvelope,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notification_groups, create_notification_group))
        .routes(routes!(get_notification_group))
}

#[utoipa::path(
    get,
    path = "/v1/notification-groups",
    tag = "Workflows",
    operation_id = "list_notification_groups",
    responses(
        (status = 200, description = "The environment's groups, oldest (`General`) first", body = NotificationGroupListEnvelope),
    )
)]
async fn list_notification_groups(
    auth: Auth,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let groups = state
        .store
        .list_notification_groups(&auth.0.environment_id)
        .await?;
    let data = groups.iter().map(NotificationGroupDto::from).collect();
    Ok(Plain(StatusCode::OK, NotificationGroupListEnvelope { data }).into_response())
}

/// Creating a name the environment already has answers with that group (as Novu does).
#[utoipa::path(
    post,
    path = "/v1/notification-groups",
    tag = "Workflows",
    operation_id = "create_notification_group",
    request_body = docs::CreateNotificationGroupRequestDto,
    responses(
        (status = 201, description = "The group of that name (created, or the existing one)", body = NotificationGroupEnvelope),
    )
)]
async fn create_notification_group(
    auth: Auth,
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let mut f = Fields::new(&body.0);
    let name = required_name(&mut f, "name");
    let name = f.finish(|| name)?.unwrap_or_default();
    if name.chars().count() > super::validate::MAX_ID_LEN {
        return Err(ApiError::Validation(vec![format!(
            "name must be shorter than or equal to {} characters",
            super::validate::MAX_ID_LEN
        )]));
    }
    let (group, _) = state
        .store
        .create_notification_group(&ctx.environment_id, &ctx.organization_id, &name)
        .await?;
    let data = NotificationGroupDto::from(&group);
    Ok(Plain(StatusCode::CREATED, NotificationGroupEnvelope { data }).into_response())
}

#[utoipa::path(
    get,
    path = "/v1/notification-groups/{id}",
    tag = "Workflows",
    operation_id = "get_notification_group",
    params(("id" = String, Path, description = "The group's `_id`")),
    responses(
        (status = 200, description = "The group", body = NotificationGroupEnvelope),
        (status = 404, response = oa::NotFound),
    )
)]
async fn get_notification_group(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let id = &p.0[0];
    let group = match ObjectId::parse(id) {
        Some(oid) => {
            state
                .store
                .get_notification_group(&auth.0.environment_id, &oid)
                .await?
        }
        None => None,
    };
    match group {
        Some(g) => {
            let data = NotificationGroupDto::from(&g);
            Ok(Plain(StatusCode::OK, NotificationGroupEnvelope { data }).into_response())
        }
        None => Err(ApiError::NotFound(format!(
            "Notification group with id {id} not found"
        ))),
    }
}
