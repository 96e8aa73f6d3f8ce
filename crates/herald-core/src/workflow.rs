//! Workflows: what a trigger runs. Both SDK generations land in this one model: v1
//! (`/v1/notification-templates`, `/v1/workflows`: `template.content` / `template.title`) and v2
//! (`/v2/workflows`: chat `controlValues.body`, push `controlValues.subject` / `body`). Herald
//! delivers chat and push steps only; any other step type is refused when the workflow is written.
//!
//! The origin decides how step texts are rendered: v1 templates see the trigger payload at the top
//! level (`{{orderId}}`), v2 templates under `payload` (`{{payload.orderId}}`).

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
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Which reserved objects a workflow's templates use: a trigger of such a workflow must carry
/// them (Novu: `Trigger is missing: …`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReservedVariables {
    pub tenant: bool,
    pub actor: bool,
}

/// Workflows, as the trigger needs them. (The definition API adds its own methods.)
#[async_trait]
pub trait WorkflowStore: Send + Sync {
    /// The non-deleted workflow with this trigger identifier.
    async fn workflow_by_identifier(
        &self,
        env: &ObjectId,
        identifier: &str,
    ) -> StoreResult<Option<Workflow>>;
}
