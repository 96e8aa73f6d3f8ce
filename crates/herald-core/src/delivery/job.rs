//! Delivery jobs: one per (notification, step), i.e. per subscriber and step. A job is the unit the
//! worker claims (with a lease) and runs; inside it, each target (a chat channel, a push device
//! token) is a *delivery* with its own attempts, so a retry re-sends only what has not gone out.
//!
//! The worker decides everything (what to send, what each answer means, when to try again) and
//! hands the store a [`JobRun`] to write in one transaction; the store only records it. Targets
//! are named by what identifies them across writes, never by the secret itself: a chat channel by
//! its integration (a subscriber has one channel per integration), a device token by its keyed
//! hash (the store's lookup hash), so a token removed and added again is still the same target.

use serde_json::{Map, Value};

use crate::delivery::event::EventInfo;
use crate::{
    ChannelCredentials, ChannelType, Integration, ObjectId, ProviderId, Subscriber, Timestamp,
};

/// A job's state, with Novu's `JobStatusEnum` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Waiting until its `run_at` (first run or a scheduled retry).
    Queued,
    /// Claimed by a worker whose lease has not expired.
    Running,
    /// Every delivery ended (sent, or failed for good), at least one was sent or there was
    /// nothing to send.
    Completed,
    /// Every delivery ended and none was sent, or the step could not run at all.
    Failed,
    /// Canceled (`DELETE /v1/events/trigger/{transactionId}`) before it ran to the end.
    Canceled,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Completed,
            JobStatus::Failed,
            JobStatus::Canceled,
        ]
        .into_iter()
        .find(|j| j.as_str() == s)
    }
}

/// A job a worker has claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimedJob {
    pub id: ObjectId,
    pub environment_id: ObjectId,
    /// How many times the job has been claimed, this claim included.
    pub runs: u32,
}

/// Which job, for whom, which step.
#[derive(Clone, Debug, PartialEq)]
pub struct JobInfo {
    pub id: ObjectId,
    pub environment_id: ObjectId,
    pub organization_id: ObjectId,
    pub notification_id: ObjectId,
    /// The subscriber's `_id`.
    pub subscriber_internal_id: ObjectId,
    /// The subscriber's `subscriberId`.
    pub subscriber_id: String,
    /// Index into the event's `workflow.steps`.
    pub step_index: usize,
    pub runs: u32,
}

/// A subscriber channel the step could send to, as stored now.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelTarget {
    pub provider_id: ProviderId,
    pub integration_id: ObjectId,
    /// Decrypted; `device_tokens` is `None` here (see `tokens`).
    pub credentials: ChannelCredentials,
    /// Decrypted device tokens with their lookup hashes, in order.
    pub tokens: Vec<TokenTarget>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenTarget {
    /// The token's keyed hash (see `herald_core::secrets`): its identity in deliveries.
    pub hash: String,
    pub token: String,
}

/// Where one delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Not sent yet: due at the job's next run.
    Pending,
    Sent,
    /// Failed for good (permanent answer, or attempts used up).
    Failed,
    /// Its target disappeared (token removed, channel deleted) or the event was canceled.
    Canceled,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Sent,
            DeliveryStatus::Failed,
            DeliveryStatus::Canceled,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        self != DeliveryStatus::Pending
    }
}

/// A delivery as recorded by an earlier run.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryState {
    pub id: ObjectId,
    /// What it sends to: the channel's integration id (chat) or the token's hash (push).
    pub target: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
}

/// A message recorded by an earlier run, with its deliveries.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageState {
    pub id: ObjectId,
    pub provider_id: ProviderId,
    pub integration_id: ObjectId,
    pub content: String,
    pub title: Option<String>,
    /// The overrides the provider gets (merged at the first run).
    pub overrides: Map<String, Value>,
    pub error_text: Option<String>,
    pub deliveries: Vec<DeliveryState>,
}

/// Everything a worker needs to run a job, read in one snapshot.
#[derive(Clone, Debug, PartialEq)]
pub struct JobContext {
    pub job: JobInfo,
    pub event: EventInfo,
    /// `None` if the subscriber has been deleted since the trigger.
    pub subscriber: Option<Subscriber>,
    /// The subscriber's channels of the step's channel type.
    pub channels: Vec<ChannelTarget>,
    /// The non-deleted integrations those channels are bound to (decrypted), active or not.
    pub integrations: Vec<Integration>,
    /// Messages recorded by earlier runs of this job (empty on its first run).
    pub messages: Vec<MessageState>,
}

/// A delivery's state after this run.
#[derive(Clone, Debug, PartialEq)]
pub struct DeliveryUpdate {
    pub id: ObjectId,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// The outcome class of the last attempt (`delivered`, `retry`, …), if one was made.
    pub outcome: Option<String>,
    pub http_status: Option<u16>,
    pub provider_code: Option<String>,
    pub provider_message_id: Option<String>,
    pub detail: Option<String>,
    /// When to ask the provider for this delivery's receipt (Expo: a ticket `ok` only means
    /// queued), `None` for no receipt to ask for.
    pub receipt_due_at: Option<Timestamp>,
}

/// A delivery first recorded by this run.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDelivery {
    /// See [`DeliveryState::target`].
    pub target: String,
    /// A short, non-secret hint of the target (`…a1b2c3`).
    pub target_hint: String,
    pub state: DeliveryUpdate,
}

/// Novu's message `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageStatus {
    Sent,
    Error,
    /// Not delivered yet (a retry is scheduled), or could not be sent for a reason on the
    /// subscriber's side (Novu: no chat channel id).
    Warning,
}

impl MessageStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Sent => "sent",
            MessageStatus::Error => "error",
            MessageStatus::Warning => "warning",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sent" => Some(MessageStatus::Sent),
            "error" => Some(MessageStatus::Error),
            "warning" => Some(MessageStatus::Warning),
            _ => None,
        }
    }
}

/// A message first recorded by this run (one per subscriber channel the step sends to).
#[derive(Clone, Debug, PartialEq)]
pub struct NewMessage {
    pub id: ObjectId,
    pub channel: ChannelType,
    pub provider_id: ProviderId,
    pub integration_id: ObjectId,
    pub content: String,
    pub title: Option<String>,
    /// Chat: a hint of the webhook URL.
    pub webhook_hint: Option<String>,
    /// Push: hints of the device tokens.
    pub device_token_hints: Vec<String>,
    pub overrides: Map<String, Value>,
    pub status: MessageStatus,
    pub error_id: Option<String>,
    pub error_text: Option<String>,
    pub deliveries: Vec<NewDelivery>,
}

/// A recorded message's new status.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageUpdate {
    pub id: ObjectId,
    pub status: MessageStatus,
    pub error_id: Option<String>,
    pub error_text: Option<String>,
}

/// Execution-detail `status` (Novu's `ExecutionDetailsStatusEnum`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DetailStatus {
    Success,
    Warning,
    Failed,
    Pending,
    Queued,
}

impl DetailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DetailStatus::Success => "Success",
            DetailStatus::Warning => "Warning",
            DetailStatus::Failed => "Failed",
            DetailStatus::Pending => "Pending",
            DetailStatus::Queued => "Queued",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            DetailStatus::Success,
            DetailStatus::Warning,
            DetailStatus::Failed,
            DetailStatus::Pending,
            DetailStatus::Queued,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// Execution-detail `source` (Novu's `ExecutionDetailsSourceEnum`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DetailSource {
    Internal,
    Credentials,
    Payload,
    Webhook,
}

impl DetailSource {
    pub fn as_str(self) -> &'static str {
        match self {
            DetailSource::Internal => "Internal",
            DetailSource::Credentials => "Credentials",
            DetailSource::Payload => "Payload",
            DetailSource::Webhook => "Webhook",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            DetailSource::Internal,
            DetailSource::Credentials,
            DetailSource::Payload,
            DetailSource::Webhook,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// One line of a job's history.
#[derive(Clone, Debug, PartialEq)]
pub struct NewExecutionDetail {
    pub id: ObjectId,
    pub message_id: Option<ObjectId>,
    pub provider_id: Option<ProviderId>,
    pub detail: String,
    pub source: DetailSource,
    pub status: DetailStatus,
    pub is_retry: bool,
    /// JSON text with more about it; never a secret.
    pub raw: Option<String>,
    pub created_at: Timestamp,
}

/// A dead device token to remove from the job's subscriber (pruning): the token with this hash
/// in the subscriber's channel bound to this integration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRemoval {
    pub integration_id: ObjectId,
    pub token_hash: String,
}

/// A delivery whose receipt is due (see [`DeliveryUpdate::receipt_due_at`]).
#[derive(Clone, Debug, PartialEq)]
pub struct ReceiptCheck {
    pub delivery_id: ObjectId,
    pub job_id: ObjectId,
    pub message_id: ObjectId,
    pub environment_id: ObjectId,
    /// The integration the delivery went through (decrypted), `None` if it has been deleted.
    pub integration: Option<Integration>,
    pub integration_id: ObjectId,
    pub provider_id: ProviderId,
    /// The provider's id for the sent message (Expo: the ticket id, which names its receipt).
    pub receipt_id: String,
    /// The delivery's target (the device token's hash) and its hint.
    pub target: String,
    pub target_hint: String,
    /// When the delivery was sent.
    pub sent_at: Timestamp,
}

/// What asking for a receipt came to.
#[derive(Clone, Debug, PartialEq)]
pub struct ReceiptResult {
    pub delivery_id: ObjectId,
    pub job_id: ObjectId,
    /// Ask again then (the receipt is not ready yet), or `None`: done.
    pub ask_again_at: Option<Timestamp>,
    /// The receipt reports a failure: the delivery fails with this outcome class, provider code
    /// and detail, and the message turns to `error`.
    pub failure: Option<(String, Option<String>, String)>,
    pub message_id: ObjectId,
    /// The dead token to remove from the job's subscriber (pruning).
    pub remove: Option<TokenRemoval>,
    pub details: Vec<NewExecutionDetail>,
}

/// How the job stands after this run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    Completed,
    Failed,
    /// Some deliveries are pending: run again at this time.
    RetryAt(Timestamp),
    Canceled,
}

/// What one run of a job did, written in one transaction if the run still holds the job's lease.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRun {
    pub job_id: ObjectId,
    /// The worker that claimed it (see [`crate::delivery::JobQueue::claim_due_jobs`]).
    pub lease_owner: String,
    pub outcome: JobOutcome,
    /// The provider the job used (the first channel's), shown in the activity feed.
    pub provider_id: Option<ProviderId>,
    pub new_messages: Vec<NewMessage>,
    pub message_updates: Vec<MessageUpdate>,
    pub delivery_updates: Vec<DeliveryUpdate>,
    pub details: Vec<NewExecutionDetail>,
    /// Dead device tokens to remove from the subscriber, in the same transaction.
    pub removed_tokens: Vec<TokenRemoval>,
}
