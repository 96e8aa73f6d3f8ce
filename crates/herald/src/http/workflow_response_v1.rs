//! The v1 workflow answers (`/v1/workflows`, `/v1/notification-templates`) and the notification
//! group, one type per wire shape (serialized by the handlers and described in the OpenAPI
//! document by the same type). `@novu/node` and `novu` read them without validating; the
//! classic Python SDK needs `name` and each trigger's `type` and `identifier`.

use herald_core::workflow::variables::{self, TemplateVariable};
use herald_core::workflow::{NotificationGroup, Workflow};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::workflow_response::{OriginDto, StepTypeDto};

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
