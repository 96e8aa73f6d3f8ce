//! OpenAPI schemas of the event routes' request bodies and answers (the handlers parse bodies
//! field by field with Novu's messages, see `trigger.rs`, and answer with `json!` values of
//! exactly these shapes; the API tests check real answers against them).

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A recipient: a subscriber id, a subscriber object (`subscriberId` plus profile fields and
/// `channels`, created or updated as `POST /v1/subscribers` would), or a topic
/// `{type: "Topic", topicKey, exclude?}`; or an array mixing them.
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct TriggerRecipientsDto(Value);

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerEventRequestDto {
    /// The workflow's trigger identifier.
    pub name: String,
    pub to: TriggerRecipientsDto,
    /// Template data (`{{payload.x}}` in v2 workflows, `{{x}}` in v1 ones).
    #[schema(nullable = false)]
    pub payload: Option<Map<String, Value>>,
    /// Provider overrides: `overrides.<providerId>`, `overrides.<channel>`,
    /// `overrides.providers.<providerId>`, `overrides.steps.<stepId>.providers.<providerId>`.
    #[schema(nullable = false)]
    pub overrides: Option<Map<String, Value>>,
    /// Unique per environment; generated (UUID v4) when absent.
    #[schema(nullable = false, max_length = 256)]
    pub transaction_id: Option<String>,
    /// A subscriber id or subscriber object (`actor.*` in templates).
    #[schema(nullable = false, value_type = Option<Object>)]
    pub actor: Option<Value>,
    /// A tenant identifier or `{identifier, name?, data?}` (`tenant.*` in templates).
    #[schema(nullable = false, value_type = Option<Object>)]
    pub tenant: Option<Value>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BroadcastEventRequestDto {
    pub name: String,
    pub payload: Map<String, Value>,
    #[schema(nullable = false)]
    pub overrides: Option<Map<String, Value>>,
    #[schema(nullable = false, max_length = 256)]
    pub transaction_id: Option<String>,
    #[schema(nullable = false, value_type = Option<Object>)]
    pub actor: Option<Value>,
    #[schema(nullable = false, value_type = Option<Object>)]
    pub tenant: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkTriggerEventRequestDto {
    #[schema(min_items = 1, max_items = 100)]
    pub events: Vec<TriggerEventRequestDto>,
}

/// `status`: `processed` (accepted; `transactionId` given), `trigger_not_active`,
/// `no_workflow_steps_defined`, `no_workflow_active_steps_defined`, or (bulk items only)
/// `error` with `error` listing why.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerEventResponseDto {
    pub acknowledged: bool,
    #[schema(
        pattern = "^(processed|trigger_not_active|no_workflow_steps_defined|no_workflow_active_steps_defined|error)$"
    )]
    pub status: String,
    #[schema(nullable = false)]
    pub transaction_id: Option<String>,
    #[schema(nullable = false)]
    pub error: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct TriggerEventEnvelope {
    pub data: TriggerEventResponseDto,
}

#[derive(Serialize, ToSchema)]
pub struct BulkTriggerEventEnvelope {
    pub data: Vec<TriggerEventResponseDto>,
}

#[derive(Serialize, ToSchema)]
pub struct BooleanEnvelope {
    pub data: bool,
}
