//! `/v1/notification-templates`: the prefix `@novu/node` (`notificationTemplates.*`) and `novu`
//! (`NotificationTemplateApi`) call for v1 workflows. The same handlers as `/v1/workflows`
//! (`workflows_v1`), as in Novu; only the id parameter is named `templateId`.

use axum::extract::State;
use axum::response::Response;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::error::ApiError;
use super::extract::{JsonBody, PathParams, QueryMap};
use super::openapi as oa;
use super::workflow_docs as docs;
use super::workflow_response_v1::{DeletedV1Envelope, WorkflowV1Envelope, WorkflowsPageV1};
use super::workflows_v1 as v1;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_template, list_templates))
        .routes(routes!(get_template, update_template, delete_template))
        .routes(routes!(update_template_status))
}

#[utoipa::path(
    post,
    path = "/v1/notification-templates",
    tag = "Workflows",
    operation_id = "create_notification_template",
    request_body = docs::CreateWorkflowV1RequestDto,
    responses(
        (status = 201, description = "Created (inactive unless `active: true`); `triggers[0].identifier` is the slug of the name", body = WorkflowV1Envelope),
        (status = 400, description = "Invalid request, a step without `template`, or a step type other than chat and push", body = oa::ErrorBody),
        (status = 409, description = "No free identifier could be found", body = oa::ErrorBody),
    )
)]
async fn create_template(
    auth: Auth,
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    v1::create(&auth.0, &state, &body.0).await
}

#[utoipa::path(
    get,
    path = "/v1/notification-templates",
    tag = "Workflows",
    operation_id = "list_notification_templates",
    params(
        ("page" = Option<u64>, Query, description = "Page number, from 0"),
        ("limit" = Option<u64>, Query, description = "1 to 100 (default 10)"),
        ("query" = Option<String>, Query, description = "Substring of the name or the identifier, ignoring case"),
    ),
    responses(
        (status = 200, description = "One page, newest first (not wrapped in `data`)", body = WorkflowsPageV1),
        (status = 400, description = "Invalid paging", body = oa::ErrorBody),
    )
)]
async fn list_templates(
    auth: Auth,
    State(state): State<AppState>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    v1::list(&auth.0, &state, &q).await
}

#[utoipa::path(
    get,
    path = "/v1/notification-templates/{templateId}",
    tag = "Workflows",
    operation_id = "get_notification_template",
    params(("templateId" = String, Path, description = "The `_id`, or the trigger identifier")),
    responses(
        (status = 200, description = "The workflow", body = WorkflowV1Envelope),
        (status = 404, response = oa::NotFound),
    )
)]
async fn get_template(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    v1::get(&auth.0, &state, &p.0[0]).await
}

#[utoipa::path(
    put,
    path = "/v1/notification-templates/{templateId}",
    tag = "Workflows",
    operation_id = "update_notification_template",
    params(("templateId" = String, Path, description = "The `_id`")),
    request_body = docs::UpdateWorkflowV1RequestDto,
    responses(
        (status = 200, description = "The updated workflow", body = WorkflowV1Envelope),
        (status = 400, description = "Invalid request, nothing to update, or the identifier is taken", body = oa::ErrorBody),
        (status = 404, response = oa::NotFound),
    )
)]
async fn update_template(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    v1::update(&auth.0, &state, &p.0[0], &body.0).await
}

#[utoipa::path(
    put,
    path = "/v1/notification-templates/{templateId}/status",
    tag = "Workflows",
    operation_id = "update_notification_template_status",
    params(("templateId" = String, Path, description = "The `_id`")),
    request_body = docs::WorkflowStatusRequestDto,
    responses(
        (status = 200, description = "The workflow with its new status", body = WorkflowV1Envelope),
        (status = 400, description = "Invalid request, or the status it already has", body = oa::ErrorBody),
        (status = 404, response = oa::NotFound),
    )
)]
async fn update_template_status(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    v1::update_status(&auth.0, &state, &p.0[0], &body.0).await
}

#[utoipa::path(
    delete,
    path = "/v1/notification-templates/{templateId}",
    tag = "Workflows",
    operation_id = "delete_notification_template",
    params(("templateId" = String, Path, description = "The `_id`")),
    responses(
        (status = 200, description = "Deleted: `{data: true}`", body = DeletedV1Envelope),
        (status = 404, description = "No such workflow (Novu answers 400)", body = oa::ErrorBody),
    )
)]
async fn delete_template(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    v1::delete(&auth.0, &state, &p.0[0]).await
}
