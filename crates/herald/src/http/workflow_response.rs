//! The workflow answers, one type per wire shape (serialized by the handlers and described in the
//! OpenAPI document by the same type): Novu's v1 workflow (`/v1/workflows`,
//! `/v1/notification-templates`), the v2 `WorkflowResponseDto` and list item of `@novu/api`, and
//! the notification group.
//!
//! The v2 shapes follow what the SDK's parser demands (spec §2.3): every required field present,
//! closed enums spelled exactly, and optional-not-nullable fields omitted rather than `null`.

use herald_core::workflow::variables::{self, TemplateVariable};
use herald_core::workflow::{slug, NotificationGroup, Step, StepKind, Workflow, WorkflowOrigin};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

/// `{name, type}` of a trigger or template variable.
#[derive(Serialize, ToSchema)]
pub struct VariableDto {
    pub name: String,
    /// `String`, `Array` or `Boolean`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl From<TemplateVariable> for VariableDto {
    fn from(v: TemplateVariable) -> Self {
        VariableDto {
            name: v.name,
            kind: v.kind.as_str().to_string(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ReservedVariablesDto {
    /// `tenant` or `actor`.
    #[serde(rename = "type")]
    pub kind: String,
    pub variables: Vec<VariableDto>,
}

/// `triggers[0]`: the identifier `POST /v1/events/trigger {name}` takes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerDto {
    /// Always `event`.
    #[serde(rename = "type")]
    pub kind: String,
    pub identifier: String,
    pub variables: Vec<VariableDto>,
    pub reserved_variables: Vec<ReservedVariablesDto>,
    pub subscriber_variables: Vec<VariableDto>,
}

#[derive(Serialize, ToSchema)]
pub struct PreferenceSettingsDto {
    pub email: bool,
    pub sms: bool,
    pub in_app: bool,
    pub chat: bool,
    pub push: bool,
}

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

/// A v1 step's message template.
#[derive(Serialize, ToSchema)]
pub struct MessageTemplateV1Dto {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "type")]
    pub kind: StepTypeDto,
    /// Handlebars source of the chat text or push body.
    pub content: String,
    /// Handlebars source of the push title.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub title: Option<String>,
    pub name: String,
    pub variables: Vec<VariableDto>,
    pub active: bool,
    #[serde(rename = "_environmentId")]
    pub environment_id: String,
    #[serde(rename = "_organizationId")]
    pub organization_id: String,
    /// Always `null` (in-app feeds are not served).
    #[serde(rename = "_feedId")]
    pub feed_id: Option<String>,
    /// Always `null` (email layouts are not served).
    #[serde(rename = "_layoutId")]
    pub layout_id: Option<String>,
    pub deleted: bool,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct StepV1Dto {
    #[serde(rename = "_id")]
    pub id: String,
    /// The step's message template; the same id as the step.
    #[serde(rename = "_templateId")]
    pub template_id: String,
    /// The previous step's `_id` (`null` for the first).
    #[serde(rename = "_parentId")]
    pub parent_id: Option<String>,
    pub active: bool,
    #[serde(rename = "shouldStopOnFail")]
    pub should_stop_on_fail: bool,
    pub filters: Vec<Value>,
    pub name: String,
    /// The step's id within the workflow (trigger overrides address steps by it).
    #[serde(rename = "stepId")]
    pub step_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub uuid: Option<String>,
    pub variants: Vec<Value>,
    pub template: MessageTemplateV1Dto,
}

/// Novu's v1 workflow (notification template).
#[derive(Serialize, ToSchema)]
pub struct WorkflowV1ResponseDto {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_organizationId")]
    pub organization_id: String,
    #[serde(rename = "_environmentId")]
    pub environment_id: String,
    #[serde(rename = "_notificationGroupId")]
    pub notification_group_id: String,
    pub name: String,
    pub description: String,
    /// `false` until activated (`PUT …/status`): a trigger of an inactive workflow answers
    /// `trigger_not_active`.
    pub active: bool,
    /// `!active`.
    pub draft: bool,
    pub critical: bool,
    #[serde(rename = "isBlueprint")]
    pub is_blueprint: bool,
    /// Always `REGULAR`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `novu-cloud-v1` for workflows made through v1, `novu-cloud` for those made through v2.
    pub origin: OriginDto,
    pub tags: Vec<String>,
    #[serde(rename = "preferenceSettings")]
    pub preference_settings: PreferenceSettingsDto,
    pub steps: Vec<StepV1Dto>,
    pub triggers: Vec<TriggerDto>,
    pub deleted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub data: Option<Value>,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
    #[serde(rename = "__v")]
    pub version: i64,
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

/// The variables reserved objects require on every trigger.
fn reserved(w: &Workflow) -> Vec<ReservedVariablesDto> {
    let r = w.reserved_variables();
    let mut out = Vec::new();
    let var = |name: &str| VariableDto {
        name: name.into(),
        kind: "String".into(),
    };
    if r.tenant {
        out.push(ReservedVariablesDto {
            kind: "tenant".into(),
            variables: vec![var("identifier")],
        });
    }
    if r.actor {
        out.push(ReservedVariablesDto {
            kind: "actor".into(),
            variables: vec![var("subscriberId")],
        });
    }
    out
}

impl WorkflowV1ResponseDto {
    pub fn new(w: &Workflow) -> Self {
        let (created, updated) = (w.created_at.to_iso(), w.updated_at.to_iso());
        let mut parent: Option<String> = None;
        let steps = w
            .steps
            .iter()
            .map(|s| StepV1Dto {
                id: s.id.to_string(),
                template_id: s.id.to_string(),
                parent_id: parent.replace(s.id.to_string()),
                active: s.active,
                should_stop_on_fail: s.extras.should_stop_on_fail,
                filters: s.extras.filters.clone(),
                name: s.name.clone(),
                step_id: s.step_id.clone(),
                uuid: s.extras.uuid.clone(),
                variants: Vec::new(),
                template: MessageTemplateV1Dto {
                    id: s.id.to_string(),
                    kind: s.kind.into(),
                    content: s.content.clone(),
                    title: s.title.clone(),
                    name: s.name.clone(),
                    variables: variables::trigger_variables(s.texts())
                        .into_iter()
                        .map(Into::into)
                        .collect(),
                    active: s.active,
                    environment_id: w.environment_id.to_string(),
                    organization_id: w.organization_id.to_string(),
                    feed_id: None,
                    layout_id: None,
                    deleted: false,
                    created_at: created.clone(),
                    updated_at: updated.clone(),
                },
            })
            .collect();
        let p = w.details.preference_settings;
        WorkflowV1ResponseDto {
            id: w.id.to_string(),
            organization_id: w.organization_id.to_string(),
            environment_id: w.environment_id.to_string(),
            notification_group_id: w
                .details
                .notification_group_id
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            name: w.name.clone(),
            description: w.details.description.clone().unwrap_or_default(),
            active: w.active,
            draft: !w.active,
            critical: w.critical,
            is_blueprint: false,
            kind: "REGULAR".into(),
            origin: w.origin.into(),
            tags: w.tags.clone(),
            preference_settings: PreferenceSettingsDto {
                email: p.email,
                sms: p.sms,
                in_app: p.in_app,
                chat: p.chat,
                push: p.push,
            },
            steps,
            triggers: vec![TriggerDto {
                kind: "event".into(),
                identifier: w.identifier.clone(),
                variables: w.trigger_variables().into_iter().map(Into::into).collect(),
                reserved_variables: reserved(w),
                subscriber_variables: Vec::new(),
            }],
            deleted: false,
            data: w.details.data.clone(),
            created_at: created,
            updated_at: updated,
            version: 0,
        }
    }
}

/// `{"data": workflow}` (v1).
#[derive(Serialize, ToSchema)]
pub struct WorkflowV1Envelope {
    pub data: WorkflowV1ResponseDto,
}

/// `GET /v1/workflows`: one page, not wrapped in `data`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkflowsPageV1 {
    pub page: u64,
    pub data: Vec<WorkflowV1ResponseDto>,
    pub total_count: u64,
    pub page_size: u64,
}

/// `{"data": true}`.
#[derive(Serialize, ToSchema)]
pub struct DeletedV1Envelope {
    pub data: bool,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationGroupDto {
    #[serde(rename = "_id")]
    pub id: String,
    pub name: String,
    #[serde(rename = "_environmentId")]
    pub environment_id: String,
    #[serde(rename = "_organizationId")]
    pub organization_id: String,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

impl From<&NotificationGroup> for NotificationGroupDto {
    fn from(g: &NotificationGroup) -> Self {
        NotificationGroupDto {
            id: g.id.to_string(),
            name: g.name.clone(),
            environment_id: g.environment_id.to_string(),
            organization_id: g.organization_id.to_string(),
            created_at: g.created_at.to_iso(),
            updated_at: g.updated_at.to_iso(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct NotificationGroupEnvelope {
    pub data: NotificationGroupDto,
}

#[derive(Serialize, ToSchema)]
pub struct NotificationGroupListEnvelope {
    pub data: Vec<NotificationGroupDto>,
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
