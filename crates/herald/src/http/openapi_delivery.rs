//! OpenAPI schemas of the event routes' request bodies. Doc-only: `trigger::parse` reads each body
//! field by field to answer with Novu's messages, so no typed struct is deserialized that could
//! carry the derive. The answers' schemas come from the type that is serialized
//! (`trigger::TriggerAnswer`).

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A recipient: a subscriber id, a subscriber object (`subscriberId` plus profile fields and
/// `channels`, created or updated as `POST /v1/subscribers` would), or a topic
/// `{type: "Topic", topicKey, exclude?}`; or an array mixing them.
/// Doc-only: read by `trigger::parse`.
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct TriggerRecipientsDto(Value);

/// Doc-only: read by `trigger::parse`.
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

/// Doc-only: read by `trigger::parse` (as a broadcast).
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

/// Doc-only: read by `events::bulk_trigger_event`, each event by `trigger::parse`.
#[derive(Serialize, ToSchema)]
pub struct BulkTriggerEventRequestDto {
    #[schema(min_items = 1, max_items = 100)]
    pub events: Vec<TriggerEventRequestDto>,
}
