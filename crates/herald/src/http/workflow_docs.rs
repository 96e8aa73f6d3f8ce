//! The request bodies of the workflow and notification-group routes, for the OpenAPI document.
//! The handlers read bodies field by field (`workflow_input`, `workflow_input_v2`) so that every
//! problem gets Novu's message; these types describe what those parsers accept. `null` is
//! accepted wherever a field is optional (the classic Python SDK sends it for every unset field).

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::workflow_response::StepTypeDto;

/// A v1 step's message template.
#[derive(Serialize, ToSchema)]
pub struct MessageTemplateRequestDto {
    /// `chat` or `push`; any other step type is refused with a 400.
    #[serde(rename = "type")]
    pub kind: StepTypeDto,
    /// Handlebars source of the chat text or push body; payload keys at the top level
    /// (`{{orderId}}`).
    pub content: Option<String>,
    /// Handlebars source of the push title.
    pub title: Option<String>,
    pub name: Option<String>,
}

/// A v1 step (`NotificationStep`). `should_stop_on_fail` and `_template_id` (the classic Python
/// SDK's spelling) are read too.
#[derive(Serialize, ToSchema)]
pub struct NotificationStepRequestDto {
    /// Required: a step without it is `400 Unexpected error: message template is missing`.
    pub template: MessageTemplateRequestDto,
    /// Default `true`.
    pub active: Option<bool>,
    pub name: Option<String>,
    #[serde(rename = "shouldStopOnFail")]
    pub should_stop_on_fail: Option<bool>,
    /// Novu's step filters, kept as given.
    pub filters: Option<Vec<Value>>,
    pub uuid: Option<String>,
    /// An existing step's `_id` (update): the step keeps its id and `stepId`.
    #[serde(rename = "_id")]
    pub id: Option<String>,
    #[serde(rename = "_templateId")]
    pub template_id: Option<String>,
}

/// v1 `preferenceSettings`; each channel defaults to `true`.
#[derive(Serialize, ToSchema)]
pub struct PreferenceSettingsRequestDto {
    pub email: Option<bool>,
    pub sms: Option<bool>,
    pub in_app: Option<bool>,
    pub chat: Option<bool>,
    pub push: Option<bool>,
}

/// `POST /v1/workflows`, `POST /v1/notification-templates`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateWorkflowV1RequestDto {
    /// The trigger identifier is its slug (npm `slugify` rules), `-<suffix>` when taken; it must
    /// have a letter or digit.
    #[schema(min_length = 1, pattern = "[A-Za-z0-9]")]
    pub name: String,
    /// A group of this environment (`GET /v1/notification-groups`).
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub notification_group_id: String,
    pub steps: Vec<NotificationStepRequestDto>,
    /// Default `false`: an inactive workflow's triggers answer `trigger_not_active`.
    pub active: Option<bool>,
    pub critical: Option<bool>,
    pub tags: Option<Vec<String>>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    pub preference_settings: Option<PreferenceSettingsRequestDto>,
    pub data: Option<Map<String, Value>>,
}

/// `PUT /v1/workflows/{id}`: the fields given change; `steps` replaces the list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateWorkflowV1RequestDto {
    pub name: Option<String>,
    /// A new trigger identifier (`^[A-Za-z0-9._-]+$`, not another workflow's).
    pub identifier: Option<String>,
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub notification_group_id: Option<String>,
    pub steps: Option<Vec<NotificationStepRequestDto>>,
    pub critical: Option<bool>,
    pub tags: Option<Vec<String>>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    pub preference_settings: Option<PreferenceSettingsRequestDto>,
    pub data: Option<Map<String, Value>>,
}

/// `PUT …/status`.
#[derive(Serialize, ToSchema)]
pub struct WorkflowStatusRequestDto {
    pub active: bool,
}

/// `POST /v1/notification-groups`.
#[derive(Serialize, ToSchema)]
pub struct CreateNotificationGroupRequestDto {
    /// Not blank, at most 256 characters.
    #[schema(min_length = 1, max_length = 256, pattern = r"\S")]
    pub name: String,
}

/// A v2 step (`ChatStepUpsertDto` / `PushStepUpsertDto`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepUpsertDto {
    /// `chat` or `push`; any other step type is refused with a 400.
    #[serde(rename = "type")]
    pub kind: StepTypeDto,
    /// Not blank.
    #[schema(min_length = 1, pattern = r"\S")]
    pub name: String,
    /// Unique within the workflow; default: the slug of `name`.
    #[schema(pattern = "^[A-Za-z0-9._-]+$")]
    pub step_id: Option<String>,
    /// An existing step's `_id` (update): the step keeps its id, and what it does not give.
    #[serde(rename = "_id")]
    pub id: Option<String>,
    /// chat: `{body}`; push: `{subject, body}` (Handlebars, payload under `payload.`); other
    /// keys are kept as given. `null` clears them.
    pub control_values: Option<Map<String, Value>>,
    /// `{<providerId>: {...}}`, merged into what that provider is sent.
    pub provider_overrides: Option<Map<String, Value>>,
}

/// Novu's `SeverityLevelEnum`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeverityRequestDto {
    High,
    Medium,
    Low,
    None,
}

/// `POST /v2/workflows` (`CreateWorkflowDto`).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateWorkflowDto {
    /// Not blank.
    #[schema(min_length = 1, pattern = r"\S")]
    pub name: String,
    /// The trigger identifier, unique in the environment.
    #[schema(pattern = "^[A-Za-z0-9._-]+$", min_length = 1, max_length = 256)]
    pub workflow_id: String,
    pub steps: Vec<StepUpsertDto>,
    /// The SDKs send `false` unless told otherwise: an inactive workflow's triggers answer
    /// `trigger_not_active`.
    pub active: Option<bool>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub validate_payload: Option<bool>,
    pub payload_schema: Option<Map<String, Value>>,
    pub is_translation_enabled: Option<bool>,
    /// `{user?: {all, channels} | null, workflow?: {all, channels} | null}`.
    pub preferences: Option<Map<String, Value>>,
    pub severity: Option<SeverityRequestDto>,
}

/// `PUT /v2/workflows/{workflowId}` (`UpdateWorkflowDto`): replaces the definition.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateWorkflowDto {
    pub name: String,
    /// A new trigger identifier.
    #[schema(pattern = "^[A-Za-z0-9._-]+$", max_length = 256)]
    pub workflow_id: Option<String>,
    pub steps: Vec<StepUpsertDto>,
    /// Required (may be `{}`).
    pub preferences: Map<String, Value>,
    pub active: Option<bool>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub validate_payload: Option<bool>,
    pub payload_schema: Option<Map<String, Value>>,
    pub is_translation_enabled: Option<bool>,
    pub severity: Option<SeverityRequestDto>,
}

/// `PATCH /v2/workflows/{workflowId}` (`PatchWorkflowDto`): the fields given change.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PatchWorkflowDto {
    pub active: Option<bool>,
    pub name: Option<String>,
    #[schema(max_length = 1000)]
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub payload_schema: Option<Map<String, Value>>,
    pub validate_payload: Option<bool>,
    pub is_translation_enabled: Option<bool>,
}

/// `PUT /v2/workflows/{workflowId}/sync`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyncWorkflowDto {
    /// Another environment of the organization.
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub target_environment_id: String,
}
