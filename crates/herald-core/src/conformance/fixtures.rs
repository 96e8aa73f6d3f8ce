//! Builders shared by the conformance cases. Every case starts from [`environments`], which
//! bootstraps the store and returns its two environments, so that cases use real environment ids
//! (a backend may enforce foreign keys) and always have a second environment to check isolation.

use serde_json::{json, Map, Value};

use crate::topic::{NewSubscription, NewTopic, Topic, TopicSubscription};
use crate::{
    ChannelCredentials, CredentialsMode, CredentialsUpdate, Environment, Field, Integration,
    KeyHash, NewIntegration, NewSubscriber, ObjectId, Profile, ProviderId, Store, Subscriber,
    SubscriberPatch,
};

/// Bootstraps the store: `(Development, Production)`.
pub(crate) async fn environments(store: &dyn Store) -> (Environment, Environment) {
    let envs = store
        .bootstrap(&KeyHash::of("dev-key"), &KeyHash::of("prod-key"))
        .await
        .unwrap()
        .expect("a fresh store bootstraps");
    let [a, b]: [Environment; 2] = envs.try_into().expect("two environments");
    (a, b)
}

pub(crate) fn text(v: &str) -> Field<String> {
    Field::Value(v.to_string())
}

pub(crate) fn new_subscriber(id: &str, profile: Profile) -> NewSubscriber {
    NewSubscriber {
        subscriber_id: id.to_string(),
        profile,
    }
}

pub(crate) fn patch(profile: Profile) -> SubscriberPatch {
    SubscriberPatch { profile }
}

/// Creates (or patches) a subscriber with just a first name.
pub(crate) async fn create_subscriber(
    store: &dyn Store,
    env: &Environment,
    id: &str,
) -> Subscriber {
    let profile = Profile {
        first_name: text(id),
        ..Default::default()
    };
    store
        .upsert_subscriber(
            &env.id,
            &env.organization_id,
            &new_subscriber(id, profile.clone()),
            &patch(profile),
        )
        .await
        .unwrap()
        .0
}

pub(crate) fn new_integration(
    provider: ProviderId,
    identifier: &str,
    active: bool,
) -> NewIntegration {
    let mut credentials = Map::new();
    credentials.insert("apiKey".into(), json!(format!("key-{identifier}")));
    NewIntegration {
        provider_id: provider,
        channel: provider.channel(),
        name: provider.display_name().to_string(),
        identifier: identifier.to_string(),
        credentials,
        active,
        conditions: Vec::new(),
    }
}

pub(crate) async fn create_integration(
    store: &dyn Store,
    env: &Environment,
    provider: ProviderId,
    identifier: &str,
    active: bool,
) -> Integration {
    store
        .create_integration(
            &env.id,
            &env.organization_id,
            &new_integration(provider, identifier, active),
        )
        .await
        .unwrap()
}

pub(crate) fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A credentials write of device tokens (`None`: the key is not sent).
pub(crate) fn tokens_update(
    integration: &Integration,
    mode: CredentialsMode,
    tokens: Option<&[&str]>,
) -> CredentialsUpdate {
    CredentialsUpdate {
        provider_id: integration.provider_id,
        integration_id: integration.id.clone(),
        credentials: ChannelCredentials {
            device_tokens: tokens.map(strings),
            ..Default::default()
        },
        mode,
        ownership: crate::TokenOwnership::Move,
    }
}

/// A credentials write of a webhook URL only.
pub(crate) fn webhook_update(
    integration: &Integration,
    mode: CredentialsMode,
    url: &str,
) -> CredentialsUpdate {
    CredentialsUpdate {
        provider_id: integration.provider_id,
        integration_id: integration.id.clone(),
        credentials: ChannelCredentials {
            webhook_url: Some(url.to_string()),
            ..Default::default()
        },
        mode,
        ownership: crate::TokenOwnership::Move,
    }
}

/// Applies a credentials write that must find its subscriber.
pub(crate) async fn write_credentials(
    store: &dyn Store,
    env: &Environment,
    subscriber_id: &str,
    update: &CredentialsUpdate,
) -> Subscriber {
    store
        .update_credentials(&env.id, subscriber_id, update)
        .await
        .unwrap()
        .expect("the subscriber exists")
}

/// The credentials of the subscriber's channel bound to `integration`.
pub(crate) fn channel_of(subscriber: &Subscriber, integration: &ObjectId) -> ChannelCredentials {
    subscriber
        .channels
        .iter()
        .find(|c| &c.integration_id == integration)
        .unwrap_or_else(|| panic!("no channel bound to {integration}"))
        .credentials
        .clone()
}

/// The device tokens of the subscriber's channel bound to `integration` (`[]` when absent).
pub(crate) fn tokens_of(subscriber: &Subscriber, integration: &ObjectId) -> Vec<String> {
    channel_of(subscriber, integration)
        .device_tokens
        .unwrap_or_default()
}

pub(crate) async fn get(store: &dyn Store, env: &Environment, subscriber_id: &str) -> Subscriber {
    store
        .get_subscriber(&env.id, subscriber_id)
        .await
        .unwrap()
        .expect("the subscriber exists")
}

pub(crate) fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

pub(crate) fn new_topic(key: &str, name: Option<&str>, data: Option<Value>) -> NewTopic {
    NewTopic {
        key: key.to_string(),
        name: name.map(str::to_string),
        data,
    }
}

/// Creates a topic named after its key (v1 create).
pub(crate) async fn create_topic(store: &dyn Store, env: &Environment, key: &str) -> Topic {
    store
        .create_topic(
            &env.id,
            &env.organization_id,
            &new_topic(key, Some(&format!("{key} name")), None),
        )
        .await
        .unwrap()
}

/// Subscriptions of these subscribers with default identifiers and no names.
pub(crate) fn by_id(subscriber_ids: &[&str]) -> Vec<NewSubscription> {
    subscriber_ids
        .iter()
        .map(|id| NewSubscription::of(*id))
        .collect()
}

/// Adds existing subscribers to a topic (creating it if missing) and returns the memberships.
pub(crate) async fn subscribe(
    store: &dyn Store,
    env: &Environment,
    key: &str,
    subscriber_ids: &[&str],
) -> Vec<TopicSubscription> {
    let outcome = store
        .add_topic_subscribers(
            &env.id,
            &env.organization_id,
            key,
            &by_id(subscriber_ids),
            None,
        )
        .await
        .unwrap();
    assert!(outcome.not_found.is_empty(), "{:?}", outcome.not_found);
    assert!(outcome.conflicts.is_empty(), "{:?}", outcome.conflicts);
    outcome.subscriptions
}

/// The external ids of the topic's members, in membership order.
pub(crate) async fn members(store: &dyn Store, env: &Environment, key: &str) -> Vec<String> {
    store.topic_subscriber_ids(&env.id, key).await.unwrap()
}
