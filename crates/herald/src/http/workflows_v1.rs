//! v1 workflows, as `@novu/node` 2.6.6 and `novu` 1.14.0 (both through `/v1/notification-templates`)
//! and curl users (`/v1/workflows`) call them: create, list, get, update, status, delete. Both
//! prefixes run the handlers of this module (`notification_templates` holds that prefix's
//! routes); only the name of the id parameter differs, as in Novu.
//!
//! The trigger identifier of a v1 workflow is the slug of its name (npm `slugify` 1.6.6 rules,
//! `herald_core::workflow::slug`), with `-<shortid>` when the environment already has it. A
//! workflow is created inactive unless the body says `active: true` (Novu's default).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_core::workflow::{
    slug, Workflow, WorkflowDefinition, WorkflowDetails, WorkflowOrder, WorkflowOrigin,
    WorkflowQuery, MAX_IDENTIFIER_LEN,
};
use herald_core::{AuthContext, ObjectId, StoreError};
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::dto::Plain;
use super::error::ApiError;
use super::extract::{parse_paging, JsonBody, PathParams, QueryMap};
use super::openapi as oa;
use super::validate::Fields;
use super::workflow_docs as docs;
use super::workflow_input::{parse_v1, V1Body};
use super::workflow_response_v1::{
    DeletedV1Envelope, WorkflowV1Envelope, WorkflowV1ResponseDto, WorkflowsPageV1,
};
use crate::state::AppState;

/// Attempts at a free `<slug>-<shortid>` before giving up (each collision is a 1 in 64^9 event
/// after the first, so more than two never happen).
const IDENTIFIER_ATTEMPTS: usize = 8;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_workflow, list_workflows))
        .routes(routes!(get_workflow, update_workflow, delete_workflow))
        .routes(routes!(update_workflow_status))
}

fn envelope(status: StatusCode, w: &Workflow) -> Response {
    Plain(
        status,
        WorkflowV1Envelope {
            data: WorkflowV1ResponseDto::new(w),
        },
    )
    .into_response()
}

/// A workflow by `_id` (24 hex digits) or else by trigger identifier (Novu's `isInternalId`).
async fn find(state: &AppState, env: &ObjectId, id: &str) -> Result<Option<Workflow>, ApiError> {
    Ok(match ObjectId::parse(id) {
        Some(oid) => state.store.get_workflow(env, &oid).await?,
        None => state.store.workflow_by_identifier(env, id).await?,
    })
}

/// A workflow by `_id` only (update, status and delete take nothing else).
async fn find_by_id(
    state: &AppState,
    env: &ObjectId,
    id: &str,
) -> Result<Option<Workflow>, ApiError> {
    match ObjectId::parse(id) {
        Some(oid) => Ok(state.store.get_workflow(env, &oid).await?),
        None => Ok(None),
    }
}

/// The group must be one of this environment's (Novu does not check; Herald refuses a reference
/// that names nothing, or another environment's group).
async fn check_group(state: &AppState, env: &ObjectId, id: &ObjectId) -> Result<(), ApiError> {
    match state.store.get_notification_group(env, id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::BadRequest(format!(
            "Notification group with id {id} not found"
        ))),
    }
}

pub(crate) async fn create(
    ctx: &AuthContext,
    state: &AppState,
    body: &Map<String, Value>,
) -> Result<Response, ApiError> {
    let env = &ctx.environment_id;
    let parsed = parse_v1(body, true, &[])?;
    let V1Body {
        name: Some(name),
        notification_group_id: Some(group),
        steps: Some(steps),
        ..
    } = parsed
    else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "parse_v1 accepted a create body without its required fields"
        )));
    };
    check_group(state, env, &group).await?;
    let base = slug::v1_identifier(&name);
    if base.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "The workflow name {name:?} has no letters or digits that make a trigger identifier \
             (its slug is empty); use a name with some"
        )));
    }
    if base.len() > MAX_IDENTIFIER_LEN - 10 {
        return Err(ApiError::BadRequest(format!(
            "The workflow name is too long: its trigger identifier (the slug of the name) must be \
             at most {} characters",
            MAX_IDENTIFIER_LEN - 10
        )));
    }
    let mut definition = WorkflowDefinition {
        identifier: base.clone(),
        name,
        origin: WorkflowOrigin::V1,
        active: parsed.active.unwrap_or(false),
        critical: parsed.critical.unwrap_or(false),
        tags: parsed.tags.unwrap_or_default(),
        steps,
        details: WorkflowDetails {
            description: parsed.description,
            notification_group_id: Some(group),
            preference_settings: parsed.preference_settings.unwrap_or_default(),
            data: parsed.data,
            ..Default::default()
        },
    };
    for _ in 0..IDENTIFIER_ATTEMPTS {
        match state
            .store
            .create_workflow(env, &ctx.organization_id, &definition)
            .await
        {
            Ok(w) => return Ok(envelope(StatusCode::CREATED, &w)),
            Err(StoreError::Conflict(_)) => {
                definition.identifier = format!("{base}-{}", slug::short_id());
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Conflict(format!(
        "No free trigger identifier found for {base:?}; try again"
    )))
}

pub(crate) async fn list(
    ctx: &AuthContext,
    state: &AppState,
    q: &QueryMap,
) -> Result<Response, ApiError> {
    let (page, limit) = parse_paging(q, 10, 100)?;
    // A search compares its needle with every workflow: bounded like the other searches.
    let [text] = super::validate::search_needles(|k| q.get(k).map(str::to_string), ["query"])?;
    let query = WorkflowQuery {
        text: text.filter(|s| !s.is_empty()),
        tags: Vec::new(),
        active: None,
        order: WorkflowOrder::CreatedAt,
        descending: true,
        offset: page.saturating_mul(limit),
        limit,
    };
    let (workflows, total) = state
        .store
        .list_workflows(&ctx.environment_id, &query)
        .await?;
    Ok(Plain(
        StatusCode::OK,
        WorkflowsPageV1 {
            page,
            data: workflows.iter().map(WorkflowV1ResponseDto::new).collect(),
            total_count: total,
            page_size: limit,
        },
    )
    .into_response())
}

pub(crate) async fn get(
    ctx: &AuthContext,
    state: &AppState,
    id: &str,
) -> Result<Response, ApiError> {
    match find(state, &ctx.environment_id, id).await? {
        Some(w) => Ok(envelope(StatusCode::OK, &w)),
        None => Err(ApiError::NotFound(format!(
            "Template with id {id} not found"
        ))),
    }
}

pub(crate) async fn update(
    ctx: &AuthContext,
    state: &AppState,
    id: &str,
    body: &Map<String, Value>,
) -> Result<Response, ApiError> {
    let env = &ctx.environment_id;
    let Some(w) = find_by_id(state, env, id).await? else {
        return Err(ApiError::NotFound(format!(
            "Notification template with id {id} not found"
        )));
    };
    let parsed = parse_v1(body, false, &w.steps)?;
    if !parsed.changes_something() {
        return Err(ApiError::BadRequest(
            "No properties found for update".into(),
        ));
    }
    if let Some(group) = &parsed.notification_group_id {
        check_group(state, env, group).await?;
    }
    let mut def = w.definition();
    let d = &mut def.details;
    def.name = parsed.name.unwrap_or(def.name);
    def.identifier = parsed.identifier.unwrap_or(def.identifier);
    def.critical = parsed.critical.unwrap_or(def.critical);
    def.tags = parsed.tags.unwrap_or(def.tags);
    def.steps = parsed.steps.unwrap_or(def.steps);
    d.notification_group_id = parsed
        .notification_group_id
        .or(d.notification_group_id.take());
    d.description = parsed.description.or(d.description.take());
    d.preference_settings = parsed.preference_settings.unwrap_or(d.preference_settings);
    d.data = parsed.data.or(d.data.take());
    match state.store.update_workflow(env, &w.id, &def).await {
        Ok(Some(w)) => Ok(envelope(StatusCode::OK, &w)),
        Ok(None) => Err(ApiError::NotFound(format!(
            "Notification template with id {id} not found"
        ))),
        // Novu answers a taken identifier with 400 here.
        Err(StoreError::Conflict(_)) => Err(ApiError::BadRequest(format!(
            "Workflow with identifier {} already exists",
            def.identifier
        ))),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn update_status(
    ctx: &AuthContext,
    state: &AppState,
    id: &str,
    body: &Map<String, Value>,
) -> Result<Response, ApiError> {
    let env = &ctx.environment_id;
    let mut f = Fields::new(body);
    let active = f.required_bool("active");
    let active = f.finish(|| active)?.unwrap_or_default();
    let not_found = || ApiError::NotFound(format!("Template with id {id} not found"));
    let Some(w) = find_by_id(state, env, id).await? else {
        return Err(not_found());
    };
    if w.active == active {
        return Err(ApiError::BadRequest(
            "You must provide a different status from the current status".into(),
        ));
    }
    let mut def = w.definition();
    def.active = active;
    match state.store.update_workflow(env, &w.id, &def).await? {
        Some(w) => Ok(envelope(StatusCode::OK, &w)),
        None => Err(not_found()),
    }
}

pub(crate) async fn delete(
    ctx: &AuthContext,
    state: &AppState,
    id: &str,
) -> Result<Response, ApiError> {
    let deleted = match ObjectId::parse(id) {
        Some(oid) => {
            state
                .store
                .delete_workflow(&ctx.environment_id, &oid)
                .await?
        }
        None => false,
    };
    if !deleted {
        // Novu answers 400 with this message; Herald says 404 (see the README).
        return Err(ApiError::NotFound(format!(
            "Could not find workflow with id {id}"
        )));
    }
    Ok(Plain(StatusCode::OK, DeletedV1Envelope { data: true }).into_response())
}

#[utoipa::path(
    post,
    path = "/v1/workflows",
    tag = "Workflows",
    operation_id = "create_workflow_v1",
    request_body = docs::CreateWorkflowV1RequestDto,
    responses(
        (status = 201, description = "Created (inactive unless `active: true`); `triggers[0].identifier` is the slug of the name", body = WorkflowV1Envelope),
        (status = 400, description = "Invalid request, a step without `template`, or a step type other than chat and push", body = oa::ErrorBody),
        (status = 409, description = "No free identifier could be found", body = oa::ErrorBody),
    )
)]
async fn create_workflow(
    auth: Auth,
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    create(&auth.0, &state, &body.0).await
}

#[utoipa::path(
    get,
    path = "/v1/workflows",
    tag = "Workflows",
    operation_id = "list_workflows_v1",
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
async fn list_workflows(
    auth: Auth,
    State(state): State<AppState>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    list(&auth.0, &state, &q).await
}

#[utoipa::path(
    get,
    path = "/v1/workflows/{workflowId}",
    tag = "Workflows",
    operation_id = "get_workflow_v1",
    params(("workflowId" = String, Path, description = "The `_id`, or the trigger identifier")),
    responses(
        (status = 200, description = "The workflow", body = WorkflowV1Envelope),
        (status = 404, response = oa::NotFound),
    )
)]
async fn get_workflow(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    get(&auth.0, &state, &p.0[0]).await
}

#[utoipa::path(
    put,
    path = "/v1/workflows/{workflowId}",
    tag = "Workflows",
    operation_id = "update_workflow_v1",
    params(("workflowId" = String, Path, description = "The `_id`")),
    request_body = docs::UpdateWorkflowV1RequestDto,
    responses(
        (status = 200, description = "The updated workflow", body = WorkflowV1Envelope),
        (status = 400, description = "Invalid request, nothing to update, or the identifier is taken", body = oa::ErrorBody),
        (status = 404, response = oa::NotFound),
    )
)]
async fn update_workflow(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    update(&auth.0, &state, &p.0[0], &body.0).await
}

#[utoipa::path(
    put,
    path = "/v1/workflows/{workflowId}/status",
    tag = "Workflows",
    operation_id = "update_workflow_status_v1",
    params(("workflowId" = String, Path, description = "The `_id`")),
    request_body = docs::WorkflowStatusRequestDto,
    responses(
        (status = 200, description = "The workflow with its new status", body = WorkflowV1Envelope),
        (status = 400, description = "Invalid request, or the status it already has", body = oa::ErrorBody),
        (status = 404, response = oa::NotFound),
    )
)]
async fn update_workflow_status(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    update_status(&auth.0, &state, &p.0[0], &body.0).await
}

#[utoipa::path(
    delete,
    path = "/v1/workflows/{workflowId}",
    tag = "Workflows",
    operation_id = "delete_workflow_v1",
    params(("workflowId" = String, Path, description = "The `_id`")),
    responses(
        (status = 200, description = "Deleted: `{data: true}`", body = DeletedV1Envelope),
        (status = 404, description = "No such workflow (Novu answers 400)", body = oa::ErrorBody),
    )
)]
async fn delete_workflow(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    delete(&auth.0, &state, &p.0[0]).await
}
