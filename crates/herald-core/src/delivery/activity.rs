//! What happened, as the activity APIs read it back: messages (`/v1/messages`), notifications with
//! their jobs and execution details (`/v1/notifications`), execution details
//! (`/v1/execution-details`). Nothing here holds a secret: targets appear only as hints.

use serde_json::{Map, Value};

use crate::delivery::job::{DetailSource, DetailStatus, JobStatus, MessageStatus};
use crate::{ChannelType, ObjectId, ProviderId, Timestamp};

#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub id: ObjectId,
    pub environment_id: ObjectId,
    pub organization_id: ObjectId,
    pub notification_id: ObjectId,
    pub job_id: ObjectId,
    /// The subscriber's `_id`.
    pub subscriber_internal_id: ObjectId,
    pub subscriber_id: String,
    /// The workflow's `_id` and trigger identifier.
    pub workflow_id: ObjectId,
    pub workflow_identifier: String,
    /// The step's `_id` (Novu's `_messageTemplateId`).
    pub step_id: ObjectId,
    pub transaction_id: String,
    pub channel: ChannelType,
    pub provider_id: ProviderId,
    pub content: String,
    pub title: Option<String>,
    pub webhook_hint: Option<String>,
    pub device_token_hints: Vec<String>,
    pub payload: Map<String, Value>,
    pub overrides: Map<String, Value>,
    pub status: MessageStatus,
    pub error_id: Option<String>,
    pub error_text: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// `GET /v1/messages` filters and page (newest first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageQuery {
    /// A subscriber's `subscriberId`.
    pub subscriber_id: Option<String>,
    pub channel: Option<ChannelType>,
    /// Any of these (empty: all).
    pub transaction_ids: Vec<String>,
    pub page: u64,
    pub limit: u64,
}

/// `GET /v1/notifications` filters and page (newest first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NotificationQuery {
    /// Notifications with a step of any of these channels (empty: all).
    pub channels: Vec<ChannelType>,
    /// Workflow `_id`s (empty: all).
    pub workflow_ids: Vec<ObjectId>,
    /// Subscriber `subscriberId`s (empty: all).
    pub subscriber_ids: Vec<String>,
    /// Subscriber emails (empty: all).
    pub emails: Vec<String>,
    pub transaction_ids: Vec<String>,
    pub page: u64,
    pub limit: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExecutionDetail {
    pub id: ObjectId,
    pub environment_id: ObjectId,
    pub organization_id: ObjectId,
    pub job_id: ObjectId,
    pub notification_id: ObjectId,
    pub workflow_id: ObjectId,
    pub subscriber_internal_id: ObjectId,
    pub message_id: Option<ObjectId>,
    pub provider_id: Option<ProviderId>,
    pub transaction_id: String,
    pub channel: ChannelType,
    pub detail: String,
    pub source: DetailSource,
    pub status: DetailStatus,
    pub is_retry: bool,
    pub raw: Option<String>,
    pub created_at: Timestamp,
}

/// A job as the activity feed shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct JobActivity {
    pub id: ObjectId,
    pub channel: ChannelType,
    pub status: JobStatus,
    pub provider_id: Option<ProviderId>,
    /// The step's `_id`.
    pub step_id: ObjectId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub details: Vec<ExecutionDetail>,
}

/// The subscriber of a notification, as the activity feed shows it (read when the feed is read;
/// the ids alone if the subscriber has been deleted).
#[derive(Clone, Debug, PartialEq)]
pub struct SubscriberSummary {
    pub id: ObjectId,
    pub subscriber_id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
}

/// One notification (an event for one subscriber) with its jobs.
#[derive(Clone, Debug, PartialEq)]
pub struct NotificationActivity {
    pub id: ObjectId,
    pub environment_id: ObjectId,
    pub organization_id: ObjectId,
    pub transaction_id: String,
    pub workflow_id: ObjectId,
    pub workflow_name: String,
    pub workflow_identifier: String,
    pub subscriber: SubscriberSummary,
    /// The step types of the workflow, in order, each once.
    pub channels: Vec<ChannelType>,
    pub payload: Map<String, Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub jobs: Vec<JobActivity>,
}
