//! Herald's domain: the values an API request is parsed into, the records the stores keep, and the
//! storage traits every backend implements. This crate knows nothing about HTTP or any database
//! driver, so the rules here are tested once and hold for every backend.
#![forbid(unsafe_code)]

pub mod delivery;
pub mod ids;
pub mod integration;
pub mod provider;
pub mod render;
pub mod secrets;
pub mod store;
pub mod subscriber;
pub mod tenancy;
pub mod time;
pub mod topic;
pub mod values;
pub mod workflow;

#[cfg(feature = "test-support")]
pub mod conformance;

pub use ids::ObjectId;
pub use integration::{Integration, IntegrationPatch, NewIntegration};
pub use provider::{ChannelType, ProviderId};
pub use store::{
    EnvironmentStore, IntegrationStore, KeyUsage, SecretStore, Store, StoreError, StoreResult,
    SubscriberStore, TopicStore,
};
pub use subscriber::{
    BulkOutcome, ChannelCredentials, ChannelSettings, CredentialsMode, CredentialsUpdate, Field,
    NewSubscriber, Profile, Subscriber, SubscriberPatch, SubscriberWrite, TokenOwnership,
    TooManyDeviceTokens, MAX_DEVICE_TOKENS,
};
pub use tenancy::{ApiKeyInfo, AuthContext, Environment, KeyHash};
pub use time::Timestamp;
pub use workflow::{
    NotificationGroup, ReservedVariables, Step, StepKind, Workflow, WorkflowDefinition,
    WorkflowOrigin, WorkflowStore,
};
