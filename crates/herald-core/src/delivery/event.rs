//! A trigger as the store keeps it: the event (what was asked, with a snapshot of the workflow's
//! active steps, so that editing the workflow later does not change what an accepted trigger
//! sends), its recipients, and the Idempotency-Key record written in the same transaction.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::workflow::{Step, StepKind, Workflow, WorkflowOrigin};
use crate::{ObjectId, Timestamp};

/// The parts of a workflow a trigger needs after it has been accepted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WorkflowSnapshot {
    pub id: ObjectId,
    pub identifier: String,
    pub name: String,
    pub origin: SnapshotOrigin,
    pub critical: bool,
    /// The active steps, in order.
    pub steps: Vec<StepSnapshot>,
}

/// [`WorkflowOrigin`] in a serialisable form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotOrigin {
    V1,
    V2,
}

impl From<WorkflowOrigin> for SnapshotOrigin {
    fn from(o: WorkflowOrigin) -> Self {
        match o {
            WorkflowOrigin::V1 => SnapshotOrigin::V1,
            WorkflowOrigin::V2 => SnapshotOrigin::V2,
        }
    }
}

impl From<SnapshotOrigin> for WorkflowOrigin {
    fn from(o: SnapshotOrigin) -> Self {
        match o {
            SnapshotOrigin::V1 => WorkflowOrigin::V1,
            SnapshotOrigin::V2 => WorkflowOrigin::V2,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepSnapshot {
    /// The step's `_id`.
    pub id: ObjectId,
    pub step_id: String,
    pub name: String,
    /// `chat` or `push`.
    pub kind: String,
    pub content: String,
    pub title: Option<String>,
    #[serde(default)]
    pub provider_overrides: Map<String, Value>,
}

impl StepSnapshot {
    pub fn step_kind(&self) -> StepKind {
        StepKind::parse(&self.kind).unwrap_or(StepKind::Chat)
    }
}

impl WorkflowSnapshot {
    /// The workflow as a trigger sees it: only its active steps.
    pub fn of(w: &Workflow) -> Self {
        WorkflowSnapshot {
            id: w.id.clone(),
            identifier: w.identifier.clone(),
            name: w.name.clone(),
            origin: w.origin.into(),
            critical: w.critical,
            steps: w
                .steps
                .iter()
                .filter(|s| s.active)
                .map(StepSnapshot::of)
                .collect(),
        }
    }
}

impl StepSnapshot {
    pub fn of(s: &Step) -> Self {
        StepSnapshot {
            id: s.id.clone(),
            step_id: s.step_id.clone(),
            name: s.name.clone(),
            kind: s.kind.as_str().to_string(),
            content: s.content.clone(),
            title: s.title.clone(),
            provider_overrides: s.provider_overrides.clone(),
        }
    }
}

/// A topic to fan the event out to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicRecipient {
    pub key: String,
    /// Subscriber ids of the topic that do not get this event.
    pub exclude: Vec<String>,
}

/// Who an event goes to.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Recipients {
    /// Subscribers named directly, each once, in request order. Missing ones are created (with
    /// just their id), as Novu does.
    pub subscribers: Vec<String>,
    /// Topics, expanded later page by page; a subscriber already named, or reached through an
    /// earlier topic, is not reached twice.
    pub topics: Vec<TopicRecipient>,
    /// Every subscriber of the environment (`/v1/events/trigger/broadcast`), expanded page by page.
    pub broadcast: bool,
    /// Never reached through a topic or a broadcast (the actor, as in Novu).
    pub fan_out_exclude: Vec<String>,
}

/// What to answer a repeated request with the same `Idempotency-Key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotentResponse {
    /// SHA-256 of the request (method, path and body): the same key with another request is 422.
    pub request_hash: String,
    pub status: u16,
    pub body: String,
    pub created_at: Timestamp,
}

/// An `Idempotency-Key` and the response to store under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub key: String,
    pub response: IdempotentResponse,
}

/// An accepted trigger, written in one transaction.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub id: ObjectId,
    pub transaction_id: String,
    pub workflow: WorkflowSnapshot,
    pub payload: Map<String, Value>,
    /// The request's `overrides`, as sent (merged per step and provider at send time).
    pub overrides: Map<String, Value>,
    /// The actor as templates see it (`actor.*`), if the trigger named one.
    pub actor: Option<Value>,
    /// The tenant as templates see it (`tenant.*`), if the trigger named one.
    pub tenant: Option<Value>,
    pub recipients: Recipients,
    pub idempotency: Option<IdempotencyRecord>,
}

/// What [`crate::delivery::EventStore::create_event`] did.
#[derive(Clone, Debug, PartialEq)]
pub enum EventCreated {
    /// Written; `notifications` were created for the directly named subscribers.
    Created { notifications: u64 },
    /// The `Idempotency-Key` was already used within its lifetime: nothing was written, answer
    /// with this (or 422 if its request hash differs).
    Replay(IdempotentResponse),
    /// Another event of the environment has this `transactionId`: nothing was written.
    DuplicateTransaction,
}

/// The stored part of an event a delivery job needs.
#[derive(Clone, Debug, PartialEq)]
pub struct EventInfo {
    pub id: ObjectId,
    pub environment_id: ObjectId,
    pub organization_id: ObjectId,
    pub transaction_id: String,
    pub workflow: WorkflowSnapshot,
    pub payload: Map<String, Value>,
    pub overrides: Map<String, Value>,
    pub actor: Option<Value>,
    pub tenant: Option<Value>,
    pub canceled: bool,
    pub created_at: Timestamp,
}

/// Idempotency keys are kept this long (Novu: 24 h).
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 60 * 60 * 1000;
