//! The v2 workflow answers of `@novu/api` / `novu-py` (`WorkflowResponseDto`, its steps, the list
//! item), one type per wire shape (serialized by the handlers and described in the OpenAPI
//! document by the same type), and the enums both API versions share.
//!
//! The shapes follow what the SDK's parser demands (spec §2.3): every required field present,
//! closed enums spelled exactly, and optional-not-nullable fields omitted rather than `null`.

use herald_core::workflow::variables;
use herald_core::workflow::{slug, Step, StepKind, Workflow, WorkflowOrigin};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

/// A step's `type`: the two Herald delivers.
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepTypeDto {
    Chat,
    Push,
}

impl From<StepKind> for StepTypeDto {
    fn from(k: StepKind) -> Self {
        match k {
            StepKind::Chat => StepTypeDto::Chat,
            StepKind::Push => StepTypeDto::Push,
        }
    }
}

/// Novu's `ResourceOriginEnum`.
#[derive(Clone, Copy, Serialize, ToSchema)]
pub enum OriginDto {
    #[serde(rename = "novu-cloud")]
    NovuCloud,
    #[serde(rename = "novu-cloud-v1")]
    NovuCloudV1,
}

impl From<WorkflowOrigin> for OriginDto {
    fn from(o: WorkflowOrigin) -> Self {
        match o {
            WorkflowOrigin::V1 => OriginDto::NovuCloudV1,
            WorkflowOrigin::V2 => OriginDto::NovuCloud,
        }
    }
}

/// Novu's `WorkflowStatusEnum` (Herald never reports `ERROR`).
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WorkflowStatusDto {
    Active,
    Inactive,
}

/// Novu's `SeverityLevelEnum`.
#[derive(Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeverityDto {
    High,
    Medium,
    Low,
    None,
}

impl From<herald_core::workflow::Severity> for SeverityDto {
    fn from(s: herald_core::workflow::Severity) -> Self {
        use herald_core::workflow::Severity;
        match s {
            Severity::High => SeverityDto::High,
            Severity::Medium => SeverityDto::Medium,
            Severity::Low => SeverityDto::Low,
            Severity::None => SeverityDto::None,
        }
    }
}

/// `{values}`: the step's control values as the SDK's `ChatControlDto` / `PushControlDto`.
#[derive(Serialize, ToSchema)]
pub struct StepControlsDto {
    /// chat: `{body, skip?, editorType?}`; push: `{subject?, body, skip?}`.
    pub values: Map<String, Value>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepResponseDto {
    #[serde(rename = "_id")]
    pub id: String,
    pub step_id: String,
    pub name: String,
    /// `stp_` + base62 of `_id`.
    pub slug: String,
    #[serde(rename = "type")]
    pub kind: StepTypeDto,
    pub origin: OriginDto,
    /// The workflow's trigger identifier.
    pub workflow_id: String,
    /// The workflow's `_id`.
    pub workflow_database_id: String,
    /// A JSON schema of the variables the step's texts use.
    pub variables: Map<String, Value>,
    pub controls: StepControlsDto,
    pub control_values: Map<String, Value>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    #[schema(nullable = false)]
    pub provider_overrides: Map<String, Value>,
}

/// `{type: object, properties}` of the variables used, nested along their dotted names.
fn variables_schema(step: &Step) -> Map<String, Value> {
    fn insert(props: &mut Map<String, Value>, path: &[&str], leaf: &Value) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            props
                .entry(first.to_string())
                .or_insert_with(|| leaf.clone());
            return;
        }
        let entry = props
            .entry(first.to_string())
            .or_insert_with(|| json!({"type": "object", "properties": {}}));
        // The names used inside `{{#each list}}` describe the list's items.
        let node = if entry.get("type") == Some(&json!("array")) {
            let items = &mut entry["items"];
            if !items.get("properties").is_some_and(Value::is_object) {
                *items = json!({"type": "object", "properties": {}});
            }
            items
        } else {
            if !entry.get("properties").is_some_and(Value::is_object) {
                *entry = json!({"type": "object", "properties": {}});
            }
            entry
        };
        if let Some(Value::Object(inner)) = node.get_mut("properties") {
            insert(inner, rest, leaf);
        }
    }
    let mut props = Map::new();
    for v in variables::used_variables(step.texts()) {
        let leaf = match v.kind {
            variables::VariableType::String => json!({"type": "string"}),
            variables::VariableType::Array => json!({"type": "array"}),
            variables::VariableType::Boolean => json!({"type": "boolean"}),
        };
        let path: Vec<&str> = v.name.split(['.', '/']).collect();
        insert(&mut props, &path, &leaf);
    }
    let mut schema = Map::new();
    schema.insert("type".into(), json!("object"));
    schema.insert("properties".into(), Value::Object(props));
    schema
}

impl StepResponseDto {
    pub fn new(w: &Workflow, s: &Step) -> Self {
        let mut values = Map::new();
        if let Some(title) = &s.title {
            values.insert("subject".into(), json!(title));
        }
        values.insert("body".into(), json!(s.content));
        if let Some(skip) = s.extras.controls.get("skip").filter(|v| v.is_object()) {
            values.insert("skip".into(), skip.clone());
        }
        let editor = s.extras.controls.get("editorType").and_then(Value::as_str);
        if let (StepKind::Chat, Some(e @ ("block" | "text"))) = (s.kind, editor) {
            values.insert("editorType".into(), json!(e));
        }
        let mut control_values = s.extras.controls.clone();
        if let Some(title) = &s.title {
            control_values.insert("subject".into(), json!(title));
        }
        control_values.insert("body".into(), json!(s.content));
        StepResponseDto {
            id: s.id.to_string(),
            step_id: s.step_id.clone(),
            name: s.name.clone(),
            slug: slug::step_slug(&s.id),
            kind: s.kind.into(),
            origin: w.origin.into(),
            workflow_id: w.identifier.clone(),
            workflow_database_id: w.id.to_string(),
            variables: variables_schema(s),
            controls: StepControlsDto { values },
            control_values,
            provider_overrides: s.provider_overrides.clone(),
        }
    }
}

/// `{user?, default}`: the subscriber-level defaults (as given) and the workflow's.
#[derive(Serialize, ToSchema)]
pub struct WorkflowPreferencesDto {
    /// `{all: {enabled?, readOnly?}, channels: {<channel>: {enabled?}}}` or `null`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<Value>,
    /// `{all: {enabled?, readOnly?}, channels: {<channel>: {enabled?}}}`.
    pub default: Value,
}

impl WorkflowPreferencesDto {
    fn new(w: &Workflow) -> Self {
        let given = w.details.preferences.as_ref();
        let default = given
            .and_then(|p| p.get("workflow"))
            .filter(|v| v.is_object())
            .cloned()
            .unwrap_or_else(|| {
                let on = json!({"enabled": true});
                json!({"all": {"enabled": true, "readOnly": false},
                       "channels": {"in_app": on, "email": on, "sms": on, "chat": on, "push": on}})
            });
        WorkflowPreferencesDto {
            user: given.and_then(|p| p.get("user")).cloned(),
            default,
        }
    }
}

/// `@novu/api`'s `WorkflowResponseDto`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowResponseDto {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub description: Option<String>,
    pub tags: Vec<String>,
    /// `false` unless created or set active: the SDKs send `active: false` unless told
    /// otherwise, and a trigger of an inactive workflow answers `trigger_not_active`.
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub validate_payload: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_schema: Option<Map<String, Value>>,
    pub is_translation_enabled: bool,
    /// The trigger identifier.
    pub workflow_id: String,
    /// `wf_` + base62 of `_id`; accepted wherever `{workflowId}` is.
    pub slug: String,
    pub updated_at: String,
    pub created_at: String,
    pub steps: Vec<StepResponseDto>,
    pub origin: OriginDto,
    pub preferences: WorkflowPreferencesDto,
    pub status: WorkflowStatusDto,
    pub severity: SeverityDto,
}

fn status(w: &Workflow) -> WorkflowStatusDto {
    if w.active {
        WorkflowStatusDto::Active
    } else {
        WorkflowStatusDto::Inactive
    }
}

impl WorkflowResponseDto {
    pub fn new(w: &Workflow) -> Self {
        WorkflowResponseDto {
            id: w.id.to_string(),
            name: w.name.clone(),
            description: w.details.description.clone(),
            tags: w.tags.clone(),
            active: w.active,
            validate_payload: w.details.validate_payload,
            payload_schema: w.details.payload_schema.clone(),
            is_translation_enabled: w.details.is_translation_enabled,
            workflow_id: w.identifier.clone(),
            slug: slug::workflow_slug(&w.id),
            updated_at: w.updated_at.to_iso(),
            created_at: w.created_at.to_iso(),
            steps: w.steps.iter().map(|s| StepResponseDto::new(w, s)).collect(),
            origin: w.origin.into(),
            preferences: WorkflowPreferencesDto::new(w),
            status: status(w),
            severity: w.details.severity.into(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct WorkflowEnvelope {
    pub data: WorkflowResponseDto,
}

#[derive(Serialize, ToSchema)]
pub struct StepListItemDto {
    pub slug: String,
    #[serde(rename = "type")]
    pub kind: StepTypeDto,
}

/// An item of `GET /v2/workflows`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowListItemDto {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    pub tags: Vec<String>,
    pub updated_at: String,
    pub created_at: String,
    pub workflow_id: String,
    pub slug: String,
    pub status: WorkflowStatusDto,
    pub origin: OriginDto,
    /// The step types, in step order.
    pub step_type_overviews: Vec<StepTypeDto>,
    pub is_translation_enabled: bool,
    pub steps: Vec<StepListItemDto>,
}

impl WorkflowListItemDto {
    pub fn new(w: &Workflow) -> Self {
        WorkflowListItemDto {
            id: w.id.to_string(),
            name: w.name.clone(),
            tags: w.tags.clone(),
            updated_at: w.updated_at.to_iso(),
            created_at: w.created_at.to_iso(),
            workflow_id: w.identifier.clone(),
            slug: slug::workflow_slug(&w.id),
            status: status(w),
            origin: w.origin.into(),
            step_type_overviews: w.steps.iter().map(|s| s.kind.into()).collect(),
            is_translation_enabled: w.details.is_translation_enabled,
            steps: w
                .steps
                .iter()
                .map(|s| StepListItemDto {
                    slug: slug::step_slug(&s.id),
                    kind: s.kind.into(),
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListWorkflowResponse {
    pub workflows: Vec<WorkflowListItemDto>,
    pub total_count: u64,
}

#[derive(Serialize, ToSchema)]
pub struct WorkflowListEnvelope {
    pub data: ListWorkflowResponse,
}
