//! Workflows: what a trigger runs. Both SDK generations land in this one model: v1
//! (`/v1/notification-templates`, `/v1/workflows`: `template.content` / `template.title`) and v2
//! (`/v2/workflows`: chat `controlValues.body`, push `controlValues.subject` / `body`). Herald
//! delivers chat and push steps only; any other step type is refused when the workflow is written.
//!
//! The origin decides how step texts are rendered: v1 templates see the trigger payload at the top
//! level (`{{orderId}}`), v2 templates under `payload` (`{{payload.orderId}}`).
//!
//! What only the definition API reads or echoes (description, notification group, v1 preference
//! settings and custom data, v2 preferences, severity and payload schema) is in
//! [`WorkflowDetails`] and [`StepExtras`], so the trigger's view stays the fields above them.
//! Submodules: `slug` (Novu's identifier and step-id slugs), `variables` (the variables step
//! texts use), `stored` (the JSON both backends keep steps and details in).

pub mod slug;
pub mod stored;
pub mod variables;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::{ObjectId, StoreResult, Timestamp};

/// Which API defined the workflow (and so which render context its steps get).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WorkflowOrigin {
    /// `/v1/notification-templates` or `/v1/workflows`.
    V1,
    /// `/v2/workflows`.
    V2,
}

impl WorkflowOrigin {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkflowOrigin::V1 => "v1",
            WorkflowOrigin::V2 => "v2",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "v1" => Some(WorkflowOrigin::V1),
            "v2" => Some(WorkflowOrigin::V2),
            _ => None,
        }
    }
}

/// The step types Herald delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StepKind {
    Chat,
    Push,
}

impl StepKind {
    /// Novu's `StepTypeEnum` value.
    pub fn as_str(self) -> &'static str {
        match self {
            StepKind::Chat => "chat",
            StepKind::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "chat" => Some(StepKind::Chat),
            "push" => Some(StepKind::Push),
            _ => None,
        }
    }

    pub fn channel(self) -> crate::ChannelType {
        match self {
            StepKind::Chat => crate::ChannelType::Chat,
            StepKind::Push => crate::ChannelType::Push,
        }
    }
}

/// One step of a workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    /// The step's `_id` (v1: also its message template's `_id`).
    pub id: ObjectId,
    /// v2 `stepId` (a slug, unique within the workflow); v1 steps get one too.
    pub step_id: String,
    pub name: String,
    pub kind: StepKind,
    /// Inactive steps are kept but never run.
    pub active: bool,
    /// Handlebars source of the chat text / push body.
    pub content: String,
    /// Handlebars source of the push title (push steps only).
    pub title: Option<String>,
    /// v2 `providerOverrides` (`{<providerId>: {...}}`), merged into what the provider is sent.
    pub provider_overrides: Map<String, Value>,
    /// What the definition API keeps and echoes but delivery does not read.
    pub extras: StepExtras,
}

/// The parts of a step only the definition API reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StepExtras {
    /// v1 `shouldStopOnFail`.
    pub should_stop_on_fail: bool,
    /// v1 `filters` (Novu's step filters), kept as given.
    pub filters: Vec<Value>,
    /// v1 `uuid`, when the client sent one.
    pub uuid: Option<String>,
    /// v2 `controlValues` other than the texts (`body`, and `subject` of a push step), e.g.
    /// `skip`, `editorType`.
    pub controls: Map<String, Value>,
}

/// A stored workflow.
#[derive(Clone, Debug, PartialEq)]
pub struct Workflow {
    pub id: ObjectId,
    pub environment_id: ObjectId,
    pub organization_id: ObjectId,
    /// The trigger identifier (`POST /v1/events/trigger {name}`; v2 `workflowId`). Unique per
    /// environment.
    pub identifier: String,
    pub name: String,
    pub origin: WorkflowOrigin,
    pub active: bool,
    pub critical: bool,
    pub tags: Vec<String>,
    pub steps: Vec<Step>,
    /// What the definition API keeps and echoes but delivery does not read.
    pub details: WorkflowDetails,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Novu's `SeverityLevelEnum` (v2 `severity`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Severity {
    High,
    Medium,
    Low,
    #[default]
    None,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Low => "low",
            Severity::None => "none",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// v1 `preferenceSettings`: which channels a subscriber gets by default (each `true` unless set).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreferenceSettings {
    pub email: bool,
    pub sms: bool,
    pub in_app: bool,
    pub chat: bool,
    pub push: bool,
}

impl Default for PreferenceSettings {
    fn default() -> Self {
        PreferenceSettings {
            email: true,
            sms: true,
            in_app: true,
            chat: true,
            push: true,
        }
    }
}

/// The parts of a workflow only the definition API reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkflowDetails {
    pub description: Option<String>,
    /// v1 `_notificationGroupId`; v2 workflows are put in the environment's `General` group.
    pub notification_group_id: Option<ObjectId>,
    pub preference_settings: PreferenceSettings,
    /// v1 custom `data`, echoed back.
    pub data: Option<Value>,
    pub severity: Severity,
    /// v2 `preferences` as the client gave them (`{user?, workflow?}`).
    pub preferences: Option<Map<String, Value>>,
    /// v2 `payloadSchema` (a JSON schema; `None`: none given or `null`).
    pub payload_schema: Option<Map<String, Value>>,
    pub validate_payload: Option<bool>,
    pub is_translation_enabled: bool,
}

/// Everything a create or an update writes: a workflow without its id, environment and times.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowDefinition {
    pub identifier: String,
    pub name: String,
    pub origin: WorkflowOrigin,
    pub active: bool,
    pub critical: bool,
    pub tags: Vec<String>,
    pub steps: Vec<Step>,
    pub details: WorkflowDetails,
}

impl Workflow {
    /// This workflow's definition, to change and write back.
    pub fn definition(&self) -> WorkflowDefinition {
        WorkflowDefinition {
            identifier: self.identifier.clone(),
            name: self.name.clone(),
            origin: self.origin,
            active: self.active,
            critical: self.critical,
            tags: self.tags.clone(),
            steps: self.steps.clone(),
            details: self.details.clone(),
        }
    }

    /// Every step text, in step order (content, then a push step's title).
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.steps.iter().flat_map(Step::texts)
    }

    /// Which of `tenant.*` / `actor.*` the step texts use: a trigger of this workflow must then
    /// carry `tenant` / `actor`.
    pub fn reserved_variables(&self) -> ReservedVariables {
        variables::reserved_variables(self.texts())
    }

    /// The trigger's `variables` (spec §1.4): what the step texts use, system objects excluded.
    pub fn trigger_variables(&self) -> Vec<variables::TemplateVariable> {
        variables::trigger_variables(self.texts())
    }
}

impl Step {
    /// The step's texts: its content, and a push step's title.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.content.as_str()).chain(self.title.as_deref())
    }
}

/// Why a trigger identifier (v2 `workflowId`, v1 `identifier`) is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_IDENTIFIER_LEN} characters")]
    TooLong,
    #[error("may only contain letters, numbers, hyphens, dots and underscores")]
    Characters,
}

/// Longest trigger identifier (ids are indexed; see the HTTP layer's id limit).
pub const MAX_IDENTIFIER_LEN: usize = 256;

/// Checks a trigger identifier given by a client: `^[A-Za-z0-9._-]+$` (Novu's documented rule
/// for `workflowId`), at most [`MAX_IDENTIFIER_LEN`] characters.
pub fn parse_identifier(s: &str) -> Result<String, IdentifierError> {
    if s.is_empty() {
        return Err(IdentifierError::Empty);
    }
    if s.len() > MAX_IDENTIFIER_LEN {
        return Err(IdentifierError::TooLong);
    }
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(IdentifierError::Characters);
    }
    Ok(s.to_string())
}

/// The group a v1 workflow belongs to (`/v1/notification-groups`). Every environment has one
/// named [`GENERAL_GROUP`].
#[derive(Clone, Debug, PartialEq)]
pub struct NotificationGroup {
    pub id: ObjectId,
    pub environment_id: ObjectId,
    pub organization_id: ObjectId,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The group every environment has, and the one v2 workflows are put in.
pub const GENERAL_GROUP: &str = "General";

/// What a workflow list is ordered by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkflowOrder {
    #[default]
    CreatedAt,
    UpdatedAt,
    Name,
}

/// A workflow list request: filters, order and page. Every filter given must match.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkflowQuery {
    /// Case-insensitive substring of the name or the identifier.
    pub text: Option<String>,
    /// The workflow has at least one of these tags (none: no tag filter).
    pub tags: Vec<String>,
    /// Only active (`Some(true)`) or inactive (`Some(false)`) workflows.
    pub active: Option<bool>,
    pub order: WorkflowOrder,
    pub descending: bool,
    pub offset: u64,
    pub limit: u64,
}

/// Which reserved objects a workflow's templates use: a trigger of such a workflow must carry
/// them (Novu: `Trigger is missing: …`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReservedVariables {
    pub tenant: bool,
    pub actor: bool,
}

/// Workflows and notification groups. Identifiers are unique among an environment's
/// non-deleted workflows; group names are unique per environment.
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// The non-deleted workflow with this trigger identifier.
    async fn workflow_by_identifier(
        &self,
        env: &ObjectId,
        identifier: &str,
    ) -> StoreResult<Option<Workflow>>;

    /// A non-deleted workflow by its `_id`.
    async fn get_workflow(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<Option<Workflow>>;

    /// Stores a new workflow (fresh `_id`, both times now). `Conflict` if a non-deleted workflow
    /// of the environment has the identifier.
    async fn create_workflow(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        definition: &WorkflowDefinition,
    ) -> StoreResult<Workflow>;

    /// Replaces a non-deleted workflow's definition and moves `updated_at` (last writer wins).
    /// `None` if not found; `Conflict` if another workflow has the identifier.
    async fn update_workflow(
        &self,
        env: &ObjectId,
        id: &ObjectId,
        definition: &WorkflowDefinition,
    ) -> StoreResult<Option<Workflow>>;

    /// Soft delete: the workflow disappears and its identifier is free again. `false` if not
    /// found.
    async fn delete_workflow(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool>;

    /// Non-deleted workflows matching the query, one page of them in the requested order (ties
    /// in creation order), and how many match in all.
    async fn list_workflows(
        &self,
        env: &ObjectId,
        query: &WorkflowQuery,
    ) -> StoreResult<(Vec<Workflow>, u64)>;

    /// The environment's notification groups, oldest first.
    async fn list_notification_groups(&self, env: &ObjectId)
        -> StoreResult<Vec<NotificationGroup>>;

    async fn get_notification_group(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<NotificationGroup>>;

    /// Creates the group named `name`, or returns the existing one of that name (Novu's create
    /// answers with it). The flag says whether it was created. Atomic under races.
    async fn create_notification_group(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        name: &str,
    ) -> StoreResult<(NotificationGroup, bool)>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_letters_digits_dots_dashes_and_underscores() {
        assert_eq!(
            parse_identifier("order.shipped_v2-x"),
            Ok("order.shipped_v2-x".into())
        );
        assert_eq!(parse_identifier(""), Err(IdentifierError::Empty));
        assert_eq!(parse_identifier("a b"), Err(IdentifierError::Characters));
        assert_eq!(parse_identifier("café"), Err(IdentifierError::Characters));
        assert_eq!(parse_identifier("a/b"), Err(IdentifierError::Characters));
        assert_eq!(
            parse_identifier(&"x".repeat(257)),
            Err(IdentifierError::TooLong)
        );
        assert!(parse_identifier(&"x".repeat(256)).is_ok());
    }

    #[test]
    fn severities_round_trip_their_wire_names() {
        for s in Severity::ALL {
            assert_eq!(Severity::parse(s.as_str()), Some(s));
        }
        assert_eq!(Severity::parse("urgent"), None);
        assert_eq!(Severity::default(), Severity::None);
    }

    fn step(kind: StepKind, content: &str, title: Option<&str>) -> Step {
        Step {
            id: ObjectId::new(),
            step_id: kind.as_str().into(),
            name: kind.as_str().into(),
            kind,
            active: true,
            content: content.into(),
            title: title.map(str::to_string),
            provider_overrides: Map::new(),
            extras: StepExtras::default(),
        }
    }

    #[test]
    fn a_workflow_reads_the_variables_of_every_step_text() {
        let workflow = Workflow {
            id: ObjectId::new(),
            environment_id: ObjectId::new(),
            organization_id: ObjectId::new(),
            identifier: "w".into(),
            name: "W".into(),
            origin: WorkflowOrigin::V1,
            active: true,
            critical: false,
            tags: vec![],
            steps: vec![
                step(StepKind::Chat, "{{orderId}}", None),
                step(
                    StepKind::Push,
                    "{{#each items}}x{{/each}}",
                    Some("{{tenant.name}}"),
                ),
            ],
            details: WorkflowDetails::default(),
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        };
        let names: Vec<String> = workflow
            .trigger_variables()
            .into_iter()
            .map(|v| v.name)
            .collect();
        assert_eq!(names, ["orderId", "items"]);
        assert_eq!(
            workflow.reserved_variables(),
            ReservedVariables {
                tenant: true,
                actor: false
            }
        );
    }
}
