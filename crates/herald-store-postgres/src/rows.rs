//! Rows as they come out of PostgreSQL, and their conversion into `herald-core` records. Every
//! mapping from a column to a domain value lives here, so a schema change touches one
//! file. Secret columns are decrypted here too, bound to the environment of the row holding them
//! and to their owner (a channel's subscriber and integration, an integration), so no caller ever
//! sees a ciphertext, and one moved to another row fails instead of decrypting there.

use std::str::FromStr;

use herald_core::secrets::{Owner, SecretError, UnreadableSecret, Vault};
use herald_core::topic::{SubscriberRef, Topic, TopicSubscription};
use herald_core::{
    ChannelSettings, ChannelType, Integration, ObjectId, Profile, ProviderId, Subscriber, Timestamp,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use sqlx::FromRow;

use crate::error::{corrupt, Error, Result};

/// A secret of `owner` that cannot be decrypted, as the store's error: it names the owner, never
/// the value.
fn unreadable(owner: Owner<'_>, e: SecretError) -> Error {
    Error::Store(herald_core::StoreError::backend(UnreadableSecret::new(
        owner, e,
    )))
}

/// The profile columns, in `Profile::FIELD_ORDER`.
pub(crate) const PROFILE_COLUMNS: &str =
    "first_name, last_name, email, phone, avatar, locale, timezone, data, null_mask";

/// The columns of [`SubscriberRow`], from `subscribers s`: a subscriber with its channels, read in
/// one statement (so in one snapshot). The channels are aggregated to JSON in insertion order,
/// each with its tokens in insertion order and the identifier of its integration (`null` once
/// that integration is deleted). A macro so that other statements can `concat!` it.
macro_rules! subscriber_columns {
    () => {
        r#"
       s.id, s.environment_id, s.organization_id, s.subscriber_id,
       s.first_name, s.last_name, s.email, s.phone, s.avatar, s.locale, s.timezone, s.data,
       s.null_mask, s.is_online, s.last_online_at, s.version, s.created_at, s.updated_at,
       COALESCE((
           SELECT json_agg(json_build_object(
                      'integration_id', c.integration_id,
                      'environment_id', c.environment_id,
                      'provider_id', c.provider_id,
                      'identifier', i.identifier,
                      'webhook_url', c.webhook_url,
                      'channel', c.channel,
                      'alert_uid', c.alert_uid,
                      'title', c.title,
                      'image_url', c.image_url,
                      'state', c.state,
                      'external_url', c.external_url,
                      'tokens', CASE WHEN c.tokens_set THEN ARRAY(
                          SELECT t.token FROM device_tokens t
                          WHERE t.channel_pk = c.pk ORDER BY t.pk) END
                  ) ORDER BY c.pk)
           FROM subscriber_channels c
           LEFT JOIN integrations i
                  ON i.id = c.integration_id AND i.environment_id = c.environment_id
                 AND NOT i.deleted
           WHERE c.subscriber_pk = s.pk
       ), '[]')::text AS channels
"#
    };
}
pub(crate) use subscriber_columns;

/// A subscriber with its channels (see [`subscriber_columns`]); callers add the `WHERE`.
pub(crate) const SELECT_SUBSCRIBER: &str =
    concat!("SELECT", subscriber_columns!(), "FROM subscribers s\n");

#[derive(FromRow)]
pub(crate) struct ProfileRow {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    avatar: Option<String>,
    locale: Option<String>,
    timezone: Option<String>,
    data: Option<String>,
    null_mask: i64,
}

impl ProfileRow {
    pub(crate) fn into_profile(self) -> Profile {
        Profile::from_columns(
            [
                self.first_name,
                self.last_name,
                self.email,
                self.phone,
                self.avatar,
                self.locale,
                self.timezone,
            ],
            self.data,
            self.null_mask,
        )
    }
}

#[derive(FromRow)]
pub(crate) struct SubscriberRow {
    id: String,
    environment_id: String,
    organization_id: String,
    subscriber_id: String,
    #[sqlx(flatten)]
    profile: ProfileRow,
    is_online: Option<bool>,
    last_online_at: Option<i64>,
    version: Option<i64>,
    created_at: i64,
    updated_at: i64,
    channels: String,
}

#[derive(Deserialize)]
struct ChannelJson {
    integration_id: String,
    environment_id: String,
    provider_id: String,
    identifier: Option<String>,
    webhook_url: Option<String>,
    channel: Option<String>,
    alert_uid: Option<String>,
    title: Option<String>,
    image_url: Option<String>,
    state: Option<String>,
    external_url: Option<String>,
    tokens: Option<Vec<String>>,
}

impl SubscriberRow {
    pub(crate) fn into_subscriber(self, vault: &Vault) -> Result<Subscriber> {
        let channels: Vec<ChannelJson> = serde_json::from_str(&self.channels)
            .map_err(|e| corrupt(format!("channels of subscriber {}: {e}", self.id)))?;
        let channels = channels
            .into_iter()
            .map(|c| {
                let env = c.environment_id.as_str();
                let owner = Owner::Channel {
                    subscriber: &self.id,
                    integration: &c.integration_id,
                };
                let mut credentials = vault
                    .open_channel(
                        env,
                        owner,
                        [
                            c.webhook_url,
                            c.channel,
                            c.alert_uid,
                            c.title,
                            c.image_url,
                            c.state,
                            c.external_url,
                        ],
                    )
                    .map_err(|e| unreadable(owner, e))?;
                credentials.device_tokens = c
                    .tokens
                    .map(|tokens| {
                        tokens
                            .iter()
                            .map(|t| vault.open_token(env, owner, t))
                            .collect::<std::result::Result<Vec<_>, _>>()
                    })
                    .transpose()
                    .map_err(|e| unreadable(owner, e))?;
                Ok(ChannelSettings {
                    provider_id: provider(&c.provider_id)?,
                    integration_id: ObjectId::from_stored(c.integration_id),
                    integration_identifier: c.identifier,
                    credentials,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Subscriber {
            id: ObjectId::from_stored(self.id),
            organization_id: ObjectId::from_stored(self.organization_id),
            environment_id: ObjectId::from_stored(self.environment_id),
            subscriber_id: self.subscriber_id,
            profile: self.profile.into_profile(),
            channels,
            is_online: self.is_online,
            last_online_at: self.last_online_at.map(Timestamp::from_millis),
            created_at: Timestamp::from_millis(self.created_at),
            updated_at: Timestamp::from_millis(self.updated_at),
            version: self.version,
        })
    }
}

pub(crate) const INTEGRATION_COLUMNS: &str = r#"id, environment_id, organization_id, provider_id,
    channel, name, identifier, credentials, active, "primary", priority, conditions,
    deleted, deleted_at, created_at, updated_at"#;

#[derive(FromRow)]
pub(crate) struct IntegrationRow {
    id: String,
    environment_id: String,
    organization_id: String,
    provider_id: String,
    channel: String,
    name: String,
    identifier: String,
    credentials: String,
    active: bool,
    primary: bool,
    priority: i64,
    conditions: String,
    deleted: bool,
    deleted_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

impl IntegrationRow {
    /// The integration, its credentials decrypted.
    pub(crate) fn into_integration(self, vault: &Vault) -> Result<Integration> {
        let credentials: Map<String, Value> = vault
            .open_credentials(&self.environment_id, &self.id, &self.credentials)
            .map_err(|e| unreadable(Owner::Integration(&self.id), e))?;
        let conditions: Vec<Value> = serde_json::from_str(&self.conditions)
            .map_err(|e| corrupt(format!("conditions of integration {}: {e}", self.id)))?;
        Ok(Integration {
            provider_id: provider(&self.provider_id)?,
            channel: ChannelType::parse(&self.channel)
                .ok_or_else(|| corrupt(format!("channel type {:?}", self.channel)))?,
            id: ObjectId::from_stored(self.id),
            environment_id: ObjectId::from_stored(self.environment_id),
            organization_id: ObjectId::from_stored(self.organization_id),
            name: self.name,
            identifier: self.identifier,
            credentials,
            active: self.active,
            primary: self.primary,
            priority: self.priority,
            conditions,
            deleted: self.deleted,
            deleted_at: self.deleted_at.map(Timestamp::from_millis),
            created_at: Timestamp::from_millis(self.created_at),
            updated_at: Timestamp::from_millis(self.updated_at),
        })
    }
}

/// A topic's columns, from a table aliased `t`, named as [`TopicRow`] expects them (prefixed, so
/// that a subscription row can carry them beside its own and its subscriber's).
pub(crate) const TOPIC_COLUMNS: &str = "t.id AS topic_id, t.environment_id AS topic_environment_id,
    t.organization_id AS topic_organization_id, t.key AS topic_key, t.name AS topic_name,
    t.data AS topic_data, t.created_at AS topic_created_at, t.updated_at AS topic_updated_at";

#[derive(FromRow)]
pub(crate) struct TopicRow {
    topic_id: String,
    topic_environment_id: String,
    topic_organization_id: String,
    topic_key: String,
    topic_name: Option<String>,
    topic_data: Option<String>,
    topic_created_at: i64,
    topic_updated_at: i64,
}

impl TopicRow {
    pub(crate) fn into_topic(self) -> Result<Topic> {
        let data = self
            .topic_data
            .map(|d| serde_json::from_str(&d))
            .transpose()
            .map_err(|e| corrupt(format!("data of topic {}: {e}", self.topic_id)))?;
        Ok(Topic {
            id: ObjectId::from_stored(self.topic_id),
            environment_id: ObjectId::from_stored(self.topic_environment_id),
            organization_id: ObjectId::from_stored(self.topic_organization_id),
            key: self.topic_key,
            name: self.topic_name,
            data,
            created_at: Timestamp::from_millis(self.topic_created_at),
            updated_at: Timestamp::from_millis(self.topic_updated_at),
        })
    }
}

/// The columns of [`SubscriptionRow`]: the membership (`ts`), its topic (`t`) and its subscriber
/// (`s`). Callers add `FROM topic_subscriptions ts` (or a CTE aliased `ts`) and [`SUBSCRIPTION_JOINS`].
pub(crate) const SUBSCRIPTION_COLUMNS: &str = "ts.id, ts.identifier,
    ts.name AS subscription_name, ts.created_at, ts.updated_at,
    t.id AS topic_id, t.environment_id AS topic_environment_id,
    t.organization_id AS topic_organization_id, t.key AS topic_key, t.name AS topic_name,
    t.data AS topic_data, t.created_at AS topic_created_at, t.updated_at AS topic_updated_at,
    s.id AS subscriber_object_id, s.subscriber_id, s.first_name, s.last_name, s.email, s.avatar,
    s.null_mask";

pub(crate) const SUBSCRIPTION_JOINS: &str = "
    JOIN topics t ON t.pk = ts.topic_pk
    JOIN subscribers s ON s.pk = ts.subscriber_pk";

#[derive(FromRow)]
pub(crate) struct SubscriptionRow {
    id: String,
    identifier: String,
    subscription_name: Option<String>,
    created_at: i64,
    updated_at: i64,
    #[sqlx(flatten)]
    topic: TopicRow,
    subscriber_object_id: String,
    subscriber_id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    avatar: Option<String>,
    null_mask: i64,
}

impl SubscriptionRow {
    pub(crate) fn into_subscription(self) -> Result<TopicSubscription> {
        // The same null-mask reading as a full subscriber, so `null` and "never set" stay apart.
        let profile = Profile::from_columns(
            [
                self.first_name,
                self.last_name,
                self.email,
                None,
                self.avatar,
                None,
                None,
            ],
            None,
            self.null_mask,
        );
        Ok(TopicSubscription {
            id: ObjectId::from_stored(self.id),
            identifier: self.identifier,
            name: self.subscription_name,
            topic: self.topic.into_topic()?,
            subscriber: SubscriberRef {
                id: ObjectId::from_stored(self.subscriber_object_id),
                subscriber_id: self.subscriber_id,
                first_name: profile.first_name,
                last_name: profile.last_name,
                email: profile.email,
                avatar: profile.avatar,
            },
            created_at: Timestamp::from_millis(self.created_at),
            updated_at: Timestamp::from_millis(self.updated_at),
        })
    }
}

pub(crate) fn provider(s: &str) -> Result<ProviderId> {
    ProviderId::from_str(s).map_err(|_| corrupt(format!("provider id {s:?}")))
}

/// JSON text for a `TEXT` column holding an object or array.
pub(crate) fn json_text(v: &impl serde::Serialize) -> String {
    // Serialising a `serde_json` map or value list cannot fail.
    serde_json::to_string(v).unwrap_or_else(|_| "null".to_string())
}

pub(crate) fn now() -> i64 {
    Timestamp::now().millis()
}
