//! `/v2/workflows`, as `@novu/api` 3.19.1 and `novu-py` 3.19.0 call it: create (201), list, get,
//! update (full), patch, delete (204) and sync into another environment of the organization.
//!
//! The request's `workflowId` is the trigger identifier (unique per environment; a duplicate is
//! 409). `{workflowId}` in a path is that identifier, the `_id` or the `slug`. The SDKs send
//! `active: false` unless told otherwise, on create and on every update: such workflows are
//! `INACTIVE` and their triggers answer `trigger_not_active`, as in Novu.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_core::workflow::{
    slug, Workflow, WorkflowDefinition, WorkflowDetails, WorkflowOrder, WorkflowOrigin,
    WorkflowQuery, GENERAL_GROUP,
};
use herald_core::{AuthContext, ObjectId, StoreError};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::dto::Plain;
use super::error::ApiError;
use super::extract::{js_number, JsonBody, PathParams, QueryMap};
use super::openapi as oa;
use super::validate::Fields;
use super::workflow_docs as docs;
use super::workflow_input_v2::{parse_v2, V2Request};
use super::workflow_response::{
    ListWorkflowResponse, WorkflowEnvelope, WorkflowListEnvelope, WorkflowListItemDto,
    WorkflowResponseDto,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_workflow, list_workflows))
        .routes(routes!(
            get_workflow,
            update_workflow,
            patch_workflow,
            delete_workflow
        ))
        .routes(routes!(sync_workflow))
}

fn envelope(status: StatusCode, w: &Workflow) -> Response {
    Plain(
        status,
        WorkflowEnvelope {
            data: WorkflowResponseDto::new(w),
        },
    )
    .into_response()
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("Workflow {id} not found"))
}

fn taken(identifier: &str) -> ApiError {
    ApiError::Conflict(format!(
        "Workflow with workflowId {identifier} already exists in this environment"
    ))
}

/// `{workflowId}`: the `_id`, the `slug` (`wf_…`) or the trigger identifier. An id or slug that
/// names no workflow is tried as an identifier too (identifiers may look like either).
async fn resolve(state: &AppState, env: &ObjectId, param: &str) -> Result<Workflow, ApiError> {
    let by_id = ObjectId::parse(param).or_else(|| slug::workflow_id_from_slug(param));
    if let Some(id) = by_id {
        if let Some(w) = state.store.get_workflow(env, &id).await? {
            return Ok(w);
        }
    }
    state
        .store
        .workflow_by_identifier(env, param)
        .await?
        .ok_or_else(|| not_found(param))
}

#[utoipa::path(
    post,
    path = "/v2/workflows",
    tag = "Workflows",
    operation_id = "create_workflow_v2",
    request_body = docs::CreateWorkflowDto,
    responses(
        (status = 201, description = "Created; `INACTIVE` unless `active: true`", body = WorkflowEnvelope),
        (status = 400, description = "Invalid request, or a step type other than chat and push", body = oa::ErrorBody),
        (status = 409, description = "The environment has a workflow with that `workflowId`", body = oa::ErrorBody),
    )
)]
async fn create_workflow(
    auth: Auth,
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let b = parse_v2(&body.0, V2Request::Create, &[])?;
    let (Some(name), Some(identifier), Some(steps)) = (b.name, b.identifier, b.steps) else {
        return Err(ApiError::Internal(anyhow::anyhow!(
            "parse_v2 accepted a create body without its required fields"
        )));
    };
    let (general, _) = state
        .store
        .create_notification_group(&ctx.environment_id, &ctx.organization_id, GENERAL_GROUP)
        .await?;
    let definition = WorkflowDefinition {
        identifier,
        name,
        origin: WorkflowOrigin::V2,
        active: b.active.unwrap_or(false),
        critical: false,
        tags: b.tags.unwrap_or_default(),
        steps,
        details: WorkflowDetails {
            description: b.description,
            notification_group_id: Some(general.id),
            severity: b.severity.unwrap_or_default(),
            preferences: b.preferences,
            payload_schema: b.payload_schema.flatten(),
            validate_payload: b.validate_payload,
            is_translation_enabled: b.is_translation_enabled.unwrap_or(false),
            ..Default::default()
        },
    };
    match state
        .store
        .create_workflow(&ctx.environment_id, &ctx.organization_id, &definition)
        .await
    {
        Ok(w) => Ok(envelope(StatusCode::CREATED, &w)),
        Err(StoreError::Conflict(_)) => Err(taken(&definition.identifier)),
        Err(e) => Err(e.into()),
    }
}

/// The list query of `GET /v2/workflows`, with class-validator's messages.
fn parse_list_query(q: &QueryMap) -> Result<(WorkflowQuery, bool), ApiError> {
    let mut errors = Vec::new();
    let mut int = |key: &str, default: f64, min: f64, max: Option<f64>| {
        let v = q.get(key).map(js_number).unwrap_or(default);
        if v.fract() != 0.0 || !v.is_finite() {
            errors.push(format!("{key} must be an integer number"));
        } else if v < min {
            errors.push(format!("{key} must not be less than {min}"));
        } else if let Some(max) = max.filter(|m| v > *m) {
            errors.push(format!("{key} must not be greater than {max}"));
        }
        v.max(0.0) as u64
    };
    let limit = int("limit", 10.0, 1.0, Some(100.0));
    let offset = int("offset", 0.0, 0.0, None);
    let order = match q.get("orderBy") {
        None | Some("createdAt") | Some("lastTriggeredAt") => WorkflowOrder::CreatedAt,
        Some("updatedAt") => WorkflowOrder::UpdatedAt,
        Some("name") => WorkflowOrder::Name,
        Some(_) => {
            errors.push(
                "orderBy must be one of the following values: createdAt, updatedAt, name, lastTriggeredAt"
                    .into(),
            );
            WorkflowOrder::CreatedAt
        }
    };
    let descending = match q.get("orderDirection") {
        None | Some("DESC") => true,
        Some("ASC") => false,
        Some(_) => {
            errors.push("orderDirection must be one of the following values: ASC, DESC".into());
            true
        }
    };
    let all = |key: &str| -> Vec<String> {
        q.0.iter()
            .filter(|(k, _)| k == key || *k == format!("{key}[]"))
            .map(|(_, v)| v.clone())
            .collect()
    };
    let statuses = all("status");
    for s in &statuses {
        if !matches!(s.as_str(), "ACTIVE" | "INACTIVE" | "ERROR") {
            errors.push(
                "each value in status must be one of the following values: ACTIVE, INACTIVE, ERROR"
                    .into(),
            );
            break;
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let wants = |s: &str| statuses.iter().any(|x| x == s);
    // Herald's workflows are never in ERROR: asking only for it matches nothing.
    let (active, matches_nothing) = match (statuses.is_empty(), wants("ACTIVE"), wants("INACTIVE"))
    {
        (true, _, _) | (false, true, true) => (None, false),
        (false, true, false) => (Some(true), false),
        (false, false, true) => (Some(false), false),
        (false, false, false) => (None, true),
    };
    // A search compares its needle with every workflow: bounded like the other searches.
    let [text] = super::validate::search_needles(|k| q.get(k).map(str::to_string), ["query"])?;
    let query = WorkflowQuery {
        text: text.filter(|s| !s.is_empty()),
        tags: all("tags"),
        active,
        order,
        descending,
        offset,
        limit,
    };
    Ok((query, matches_nothing))
}

#[utoipa::path(
    get,
    path = "/v2/workflows",
    tag = "Workflows",
    operation_id = "list_workflows_v2",
    params(
        ("limit" = Option<u64>, Query, description = "1 to 100 (default 10)"),
        ("offset" = Option<u64>, Query, description = "Workflows to skip (default 0)"),
        ("orderBy" = Option<String>, Query, description = "`createdAt` (default), `updatedAt`, `name` or `lastTriggeredAt` (not recorded: creation order)"),
        ("orderDirection" = Option<String>, Query, description = "`ASC` or `DESC` (default)"),
        ("query" = Option<String>, Query, description = "Substring of the name or the workflowId, ignoring case"),
        ("tags" = Option<Vec<String>>, Query, description = "Workflows with any of these tags (repeat the key)"),
        ("status" = Option<Vec<String>>, Query, description = "`ACTIVE`, `INACTIVE`, `ERROR` (repeat the key)"),
    ),
    responses(
        (status = 200, description = "One page and the total", body = WorkflowListEnvelope),
        (status = 400, description = "Invalid query", body = oa::ErrorBody),
    )
)]
async fn list_workflows(
    auth: Auth,
    State(state): State<AppState>,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let (query, matches_nothing) = parse_list_query(&q)?;
    let (workflows, total) = if matches_nothing {
        (Vec::new(), 0)
    } else {
        state
            .store
            .list_workflows(&auth.0.environment_id, &query)
            .await?
    };
    let data = ListWorkflowResponse {
        workflows: workflows.iter().map(WorkflowListItemDto::new).collect(),
        total_count: total,
    };
    Ok(Plain(StatusCode::OK, WorkflowListEnvelope { data }).into_response())
}

#[utoipa::path(
    get,
    path = "/v2/workflows/{workflowId}",
    tag = "Workflows",
    operation_id = "get_workflow_v2",
    params(
        ("workflowId" = String, Path, description = "The workflowId (trigger identifier), `_id` or slug"),
        ("environmentId" = Option<String>, Query, description = "If given, the API key's environment"),
    ),
    responses(
        (status = 200, description = "The workflow", body = WorkflowEnvelope),
        (status = 400, description = "`environmentId` is another environment", body = oa::ErrorBody),
        (status = 404, response = oa::NotFound),
    )
)]
async fn get_workflow(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    q: QueryMap,
) -> Result<Response, ApiError> {
    let env = &auth.0.environment_id;
    if q.get("environmentId").is_some_and(|e| e != env.as_str()) {
        return Err(ApiError::Validation(vec![
            "environmentId must be the environment of the API key".into(),
        ]));
    }
    let w = resolve(&state, env, &p.0[0]).await?;
    Ok(envelope(StatusCode::OK, &w))
}

/// Writes `def` over workflow `w`; a taken identifier is 409.
async fn save(
    state: &AppState,
    ctx: &AuthContext,
    w: &Workflow,
    def: &WorkflowDefinition,
    param: &str,
) -> Result<Response, ApiError> {
    match state
        .store
        .update_workflow(&ctx.environment_id, &w.id, def)
        .await
    {
        Ok(Some(w)) => Ok(envelope(StatusCode::OK, &w)),
        Ok(None) => Err(not_found(param)),
        Err(StoreError::Conflict(_)) => Err(taken(&def.identifier)),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(
    put,
    path = "/v2/workflows/{workflowId}",
    tag = "Workflows",
    operation_id = "update_workflow_v2",
    params(("workflowId" = String, Path, description = "The workflowId (trigger identifier), `_id` or slug")),
    request_body = docs::UpdateWorkflowDto,
    responses(
        (status = 200, description = "The workflow, its definition replaced (`active` is `false` unless sent)", body = WorkflowEnvelope),
        (status = 400, description = "Invalid request, or a step type other than chat and push", body = oa::ErrorBody),
        (status = 404, response = oa::NotFound),
        (status = 409, description = "The new `workflowId` is another workflow's", body = oa::ErrorBody),
    )
)]
async fn update_workflow(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let param = &p.0[0];
    let w = resolve(&state, &ctx.environment_id, param).await?;
    let b = parse_v2(&body.0, V2Request::Update, &w.steps)?;
    let mut def = w.definition();
    def.identifier = b.identifier.unwrap_or(def.identifier);
    def.name = b.name.unwrap_or(def.name);
    def.active = b.active.unwrap_or(false);
    def.tags = b.tags.unwrap_or_default();
    def.steps = b.steps.unwrap_or_default();
    let d = &mut def.details;
    d.description = b.description;
    d.severity = b.severity.unwrap_or_default();
    d.preferences = b.preferences;
    d.payload_schema = b.payload_schema.flatten();
    d.validate_payload = b.validate_payload;
    d.is_translation_enabled = b.is_translation_enabled.unwrap_or(false);
    save(&state, ctx, &w, &def, param).await
}

#[utoipa::path(
    patch,
    path = "/v2/workflows/{workflowId}",
    tag = "Workflows",
    operation_id = "patch_workflow_v2",
    params(("workflowId" = String, Path, description = "The workflowId (trigger identifier), `_id` or slug")),
    request_body = docs::PatchWorkflowDto,
    responses(
        (status = 200, description = "The workflow with the given fields changed", body = WorkflowEnvelope),
        (status = 404, response = oa::NotFound),
    )
)]
async fn patch_workflow(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let param = &p.0[0];
    let w = resolve(&state, &ctx.environment_id, param).await?;
    let b = parse_v2(&body.0, V2Request::Patch, &w.steps)?;
    let mut def = w.definition();
    def.active = b.active.unwrap_or(def.active);
    def.name = b.name.unwrap_or(def.name);
    def.tags = b.tags.unwrap_or(def.tags);
    let d = &mut def.details;
    d.description = b.description.or(d.description.take());
    if let Some(schema) = b.payload_schema {
        d.payload_schema = schema;
    }
    d.validate_payload = b.validate_payload.or(d.validate_payload);
    d.is_translation_enabled = b.is_translation_enabled.unwrap_or(d.is_translation_enabled);
    save(&state, ctx, &w, &def, param).await
}

#[utoipa::path(
    delete,
    path = "/v2/workflows/{workflowId}",
    tag = "Workflows",
    operation_id = "delete_workflow_v2",
    params(("workflowId" = String, Path, description = "The workflowId (trigger identifier), `_id` or slug")),
    responses(
        (status = 204, description = "Deleted (no body)"),
        (status = 404, response = oa::NotFound),
    )
)]
async fn delete_workflow(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let env = &auth.0.environment_id;
    let param = &p.0[0];
    let w = resolve(&state, env, param).await?;
    if !state.store.delete_workflow(env, &w.id).await? {
        return Err(not_found(param));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Copies a workflow into another environment of the organization: created there, or the
/// target's workflow with the same identifier replaced (steps with the same `stepId` keep their
/// ids in the target). The copy keeps its group's name (the target's group of that name).
#[utoipa::path(
    put,
    path = "/v2/workflows/{workflowId}/sync",
    tag = "Workflows",
    operation_id = "sync_workflow_v2",
    params(("workflowId" = String, Path, description = "The workflowId (trigger identifier), `_id` or slug")),
    request_body = docs::SyncWorkflowDto,
    responses(
        (status = 200, description = "The workflow as it now is in the target environment", body = WorkflowEnvelope),
        (status = 400, description = "Invalid request, or the target is the workflow's own environment", body = oa::ErrorBody),
        (status = 404, description = "No such workflow, or no such environment in the organization", body = oa::ErrorBody),
    )
)]
async fn sync_workflow(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let mut f = Fields::new(&body.0);
    let target = f.required_string("targetEnvironmentId");
    let target = f.finish(|| target)?.unwrap_or_default();
    let Some(target) = ObjectId::parse(&target) else {
        return Err(ApiError::Validation(vec![
            "targetEnvironmentId must be a mongodb id".into(),
        ]));
    };
    let source = resolve(&state, &ctx.environment_id, &p.0[0]).await?;
    if target == ctx.environment_id {
        return Err(ApiError::BadRequest(
            "targetEnvironmentId must be another environment than the workflow's own".into(),
        ));
    }
    let known = state.store.list_environments().await?;
    if !known
        .iter()
        .any(|e| e.id == target && e.organization_id == ctx.organization_id)
    {
        return Err(ApiError::NotFound(format!(
            "Environment {target} not found in the organization"
        )));
    }
    let group_name = match &source.details.notification_group_id {
        Some(id) => state
            .store
            .get_notification_group(&ctx.environment_id, id)
            .await?
            .map(|g| g.name),
        None => None,
    }
    .unwrap_or_else(|| GENERAL_GROUP.to_string());
    let (group, _) = state
        .store
        .create_notification_group(&target, &ctx.organization_id, &group_name)
        .await?;
    let existing = state
        .store
        .workflow_by_identifier(&target, &source.identifier)
        .await?;
    let mut def = source.definition();
    def.details.notification_group_id = Some(group.id);
    for step in &mut def.steps {
        step.id = existing
            .as_ref()
            .and_then(|e| e.steps.iter().find(|s| s.step_id == step.step_id))
            .map(|s| s.id.clone())
            .unwrap_or_default();
    }
    let synced = match existing {
        Some(e) => state.store.update_workflow(&target, &e.id, &def).await?,
        None => Some(
            state
                .store
                .create_workflow(&target, &ctx.organization_id, &def)
                .await?,
        ),
    };
    match synced {
        Some(w) => Ok(envelope(StatusCode::OK, &w)),
        None => Err(not_found(&p.0[0])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> QueryMap {
        QueryMap(form_urlencoded::parse(s.as_bytes()).into_owned().collect())
    }

    #[test]
    fn list_query_defaults_and_repeated_keys() {
        let (query, nothing) = parse_list_query(&q("")).unwrap();
        assert_eq!(
            (query.limit, query.offset, query.descending, nothing),
            (10, 0, true, false)
        );
        let (query, _) = parse_list_query(&q(
            "tags=a&tags=b&status=INACTIVE&orderBy=name&orderDirection=ASC&limit=5.0",
        ))
        .unwrap();
        assert_eq!(query.tags, ["a", "b"]);
        assert_eq!(query.active, Some(false));
        assert_eq!(
            (query.order, query.descending, query.limit),
            (WorkflowOrder::Name, false, 5)
        );
        let (query, _) = parse_list_query(&q("status=ACTIVE&status=INACTIVE")).unwrap();
        assert_eq!(query.active, None);
        assert!(parse_list_query(&q("status=ERROR")).unwrap().1);
    }

    #[test]
    fn list_query_messages() {
        match parse_list_query(&q("limit=0&offset=-1&orderBy=x&orderDirection=up&status=ON")) {
            Err(ApiError::Validation(m)) => assert_eq!(
                m,
                [
                    "limit must not be less than 1",
                    "offset must not be less than 0",
                    "orderBy must be one of the following values: createdAt, updatedAt, name, lastTriggeredAt",
                    "orderDirection must be one of the following values: ASC, DESC",
                    "each value in status must be one of the following values: ACTIVE, INACTIVE, ERROR",
                ]
            ),
            other => panic!("{other:?}"),
        }
    }
}
