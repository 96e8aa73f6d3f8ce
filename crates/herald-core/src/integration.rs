//! Integrations: the configured chat and push providers of an environment. A subscriber channel is
//! bound to one integration when its credentials are set.

use serde_json::{Map, Value};

use crate::{ChannelType, ObjectId, ProviderId, Timestamp};

#[derive(Clone, Debug, PartialEq)]
pub struct Integration {
    pub id: ObjectId,
    pub environment_id: ObjectId,
    pub organization_id: ObjectId,
    pub provider_id: ProviderId,
    pub channel: ChannelType,
    pub name: String,
    /// Unique among the environment's non-deleted integrations.
    pub identifier: String,
    /// The provider's credentials object (API keys, service accounts, …), as given.
    pub credentials: Map<String, Value>,
    pub active: bool,
    pub primary: bool,
    pub priority: i64,
    /// Novu's `StepFilter[]`, kept as given.
    pub conditions: Vec<Value>,
    pub deleted: bool,
    pub deleted_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewIntegration {
    pub provider_id: ProviderId,
    pub channel: ChannelType,
    pub name: String,
    pub identifier: String,
    pub credentials: Map<String, Value>,
    pub active: bool,
    pub conditions: Vec<Value>,
}

/// Fields to change; `None` leaves a field as it is. `credentials` replaces the whole object.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IntegrationPatch {
    pub name: Option<String>,
    pub identifier: Option<String>,
    pub credentials: Option<Map<String, Value>>,
    pub active: Option<bool>,
    pub conditions: Option<Vec<Value>>,
}

impl IntegrationPatch {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.identifier.is_none()
            && self.credentials.is_none()
            && self.active.is_none()
            && self.conditions.is_none()
    }
}
