//! The storage traits, split by capability so that each handler asks only for what it uses. Every
//! method is scoped by environment: nothing a method returns or changes crosses environments.
//! Backends implement them with plain SQL; the merge rules they apply come from this crate
//! (`CredentialsUpdate::merged`, `Profile::apply`) so that both backends behave the same.

use async_trait::async_trait;

use crate::secrets::KeyId;
use crate::subscriber::{BulkOutcome, SubscriberWrite, TooManyDeviceTokens};
use crate::topic::{
    AddSubscribersOutcome, CursorPage, CursorQuery, NewSubscription, NewTopic, SubscriberFilter,
    Topic, TopicFilter, TopicPatch, TopicSubscription,
};
use crate::{
    ApiKeyInfo, AuthContext, CredentialsUpdate, Environment, Integration, IntegrationPatch,
    KeyHash, NewIntegration, NewSubscriber, ObjectId, ProviderId, Subscriber, SubscriberPatch,
    Timestamp,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (e.g. an integration identifier already in use).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A credentials write would leave more device tokens on one channel than allowed.
    #[error("a channel can hold at most {max} device tokens; this write would leave {count}", max = crate::MAX_DEVICE_TOKENS, count = .0.count)]
    TooManyDeviceTokens(TooManyDeviceTokens),
    /// The database did not finish in time: a statement ran past its timeout, or no connection
    /// became free. Not the client's fault, and nothing was changed; trying later may work.
    #[error("the database is busy: {0}")]
    Busy(String),
    /// The database failed or could not be reached. Not the client's fault.
    #[error("storage failure: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    pub fn backend(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Backend(Box::new(e))
    }

    /// Whether the error is about what was asked (a conflict, a limit), not about the database:
    /// such an error fails one item of a bulk write, not the whole request.
    pub fn rejects_input(&self) -> bool {
        matches!(
            self,
            StoreError::Conflict(_) | StoreError::TooManyDeviceTokens(_)
        )
    }
}

impl From<TooManyDeviceTokens> for StoreError {
    fn from(e: TooManyDeviceTokens) -> Self {
        StoreError::TooManyDeviceTokens(e)
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Organization, environments and API keys.
#[async_trait]
pub trait EnvironmentStore: Send + Sync {
    /// On an empty database, creates the organization with its `Development` and `Production`
    /// environments, each with the given key hash and a `General` notification group, and
    /// returns them (Development first). On a
    /// database that already has them, does nothing and returns `None`. Safe to race from several
    /// processes: exactly one creates.
    async fn bootstrap(
        &self,
        development: &KeyHash,
        production: &KeyHash,
    ) -> StoreResult<Option<Vec<Environment>>>;

    async fn list_environments(&self) -> StoreResult<Vec<Environment>>;

    /// The environment of a non-revoked key with this hash.
    async fn authenticate(&self, hash: &KeyHash) -> StoreResult<Option<AuthContext>>;

    /// Adds a key to an environment. `None` if the environment does not exist. Adding a hash that
    /// is already stored returns the existing key unchanged (also when it was revoked).
    async fn add_api_key(
        &self,
        environment_id: &ObjectId,
        hash: &KeyHash,
        hint: &str,
    ) -> StoreResult<Option<ApiKeyInfo>>;

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyInfo>>;

    /// Marks a key revoked. `false` if no such key, or it was already revoked.
    async fn revoke_api_key(&self, id: &ObjectId) -> StoreResult<bool>;
}

/// Subscribers and their channel credentials.
#[async_trait]
pub trait SubscriberStore: Send + Sync {
    /// Non-deleted subscribers of the environment, oldest first, `limit` of them after skipping
    /// `offset`.
    async fn list_subscribers(
        &self,
        env: &ObjectId,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<Subscriber>>;

    /// A non-deleted subscriber by its external id.
    async fn get_subscriber(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
    ) -> StoreResult<Option<Subscriber>>;

    /// Creates `new` (version `Some(0)`), or, if a non-deleted subscriber with that id exists,
    /// applies `patch` to it instead (as [`SubscriberStore::update_subscriber`] does). A
    /// soft-deleted subscriber with the same id is replaced by a fresh one. Returns the stored
    /// subscriber and whether it was created. Atomic: two racing upserts of one id create it once.
    async fn upsert_subscriber(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewSubscriber,
        patch: &SubscriberPatch,
    ) -> StoreResult<(Subscriber, bool)> {
        self.upsert_subscriber_with_channels(env, org, new, patch, &[])
            .await
    }

    /// [`SubscriberStore::upsert_subscriber`], then each of `channels` written in order as
    /// [`SubscriberStore::update_credentials`] writes it, all in one transaction: when a channel
    /// cannot be written (e.g. [`StoreError::TooManyDeviceTokens`]) nothing is, not even the
    /// profile (`POST /v1/subscribers`). Returns the subscriber with its channels and whether it
    /// was created.
    async fn upsert_subscriber_with_channels(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewSubscriber,
        patch: &SubscriberPatch,
        channels: &[CredentialsUpdate],
    ) -> StoreResult<(Subscriber, bool)>;

    /// Bulk upsert in one transaction, Novu's `/bulk` semantics: each item's given fields are set,
    /// soft-deleted subscribers are revived (reported as updated), subscribers created here have no
    /// `__v`. Outcomes are in input order; a repeated id is `Updated` the second time.
    async fn bulk_upsert_subscribers(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        items: &[NewSubscriber],
    ) -> StoreResult<Vec<BulkOutcome>> {
        let items: Vec<SubscriberWrite> = items
            .iter()
            .map(|s| SubscriberWrite {
                subscriber: s.clone(),
                channels: Vec::new(),
            })
            .collect();
        self.bulk_write_subscribers(env, org, &items)
            .await?
            .into_iter()
            .collect()
    }

    /// [`SubscriberStore::bulk_upsert_subscribers`] with each item's channels written right
    /// after its profile (`POST /v1/subscribers/bulk`). One transaction for the request, and each
    /// item is all-or-nothing inside it: an item one of whose channels cannot be written (a
    /// client error such as [`StoreError::TooManyDeviceTokens`]) is rolled back alone, profile
    /// included, and its error is its outcome; the other items are kept. A backend failure fails
    /// the whole call and keeps nothing.
    async fn bulk_write_subscribers(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        items: &[SubscriberWrite],
    ) -> StoreResult<Vec<StoreResult<BulkOutcome>>>;

    /// Applies a profile patch. `None` if the subscriber does not exist. `updated_at` moves only
    /// when something changed.
    async fn update_subscriber(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        patch: &SubscriberPatch,
    ) -> StoreResult<Option<Subscriber>>;

    /// Soft-deletes a subscriber, drops its channels and its topic memberships. `false` if it did not exist.
    async fn delete_subscriber(&self, env: &ObjectId, subscriber_id: &str) -> StoreResult<bool>;

    /// Sets `isOnline`; going offline also sets `lastOnlineAt` to `now`. `None` if not found.
    async fn set_online(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        online: bool,
        now: Timestamp,
    ) -> StoreResult<Option<Subscriber>>;

    /// Writes one channel's credentials (see [`CredentialsUpdate::merged`]) atomically: concurrent
    /// appends to the same channel never lose a token. A write that changes nothing leaves
    /// `updated_at` alone. `None` if the subscriber does not exist.
    ///
    /// Ownership: the tokens of [`CredentialsUpdate::claimed_tokens`] (the given ones under
    /// [`TokenOwnership::Move`](crate::TokenOwnership::Move)) are removed, in the same
    /// transaction, from every other subscriber of the environment holding them for the same
    /// integration; their channels stay (with fewer tokens, possibly none) and their `updated_at`
    /// moves. Concurrent registrations of one token by different subscribers end with exactly one
    /// holder. Tokens are found by their keyed hash, never by their plain value.
    async fn update_credentials(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        update: &CredentialsUpdate,
    ) -> StoreResult<Option<Subscriber>>;

    /// Removes these device tokens from every channel of `provider` the subscriber has (whatever
    /// integration it is bound to); tokens it does not hold are ignored. The channels stay, also
    /// when their token list becomes empty. `updated_at` moves only when a token was removed.
    /// `None` if the subscriber does not exist.
    async fn remove_device_tokens(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        provider: ProviderId,
        tokens: &[String],
    ) -> StoreResult<Option<Subscriber>>;

    /// v2 search: non-deleted subscribers matching every given filter, with cursor pagination
    /// (cursor = subscriber `_id`, order = creation order).
    async fn search_subscribers(
        &self,
        env: &ObjectId,
        filter: &SubscriberFilter,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<Subscriber>>;

    /// Removes every channel of that provider. `false` if the subscriber does not exist.
    async fn delete_credentials(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        provider: ProviderId,
    ) -> StoreResult<bool>;
}

/// Integrations (configured providers).
#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Non-deleted integrations of the environment, oldest first.
    async fn list_integrations(&self, env: &ObjectId) -> StoreResult<Vec<Integration>>;

    async fn get_integration(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<Integration>>;

    /// `Conflict` if a non-deleted integration of the environment has the same identifier.
    async fn create_integration(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewIntegration,
    ) -> StoreResult<Integration>;

    /// `None` if not found; `Conflict` on a taken identifier.
    async fn update_integration(
        &self,
        env: &ObjectId,
        id: &ObjectId,
        patch: &IntegrationPatch,
    ) -> StoreResult<Option<Integration>>;

    /// Soft delete. `false` if not found.
    async fn delete_integration(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool>;

    /// Makes this integration the primary (and active) one of its channel type in the environment,
    /// clearing `primary` on the others. `None` if not found.
    async fn set_primary_integration(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<Integration>>;

    /// The newest-created active integration of that provider, restricted to one identifier when
    /// given: the integration a credentials write binds to.
    async fn find_active_integration(
        &self,
        env: &ObjectId,
        provider: ProviderId,
        identifier: Option<&str>,
    ) -> StoreResult<Option<Integration>>;
}

/// Topics and their subscriptions. Topic keys are unique per environment.
#[async_trait]
pub trait TopicStore: Send + Sync {
    /// v1 create: `Conflict` if the key exists.
    async fn create_topic(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewTopic,
    ) -> StoreResult<Topic>;

    /// v2 create: creates, or sets the given `name`/`data` on the existing topic. Returns the topic
    /// and whether it was created. Atomic under races.
    async fn upsert_topic(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewTopic,
    ) -> StoreResult<(Topic, bool)>;

    async fn get_topic(&self, env: &ObjectId, key: &str) -> StoreResult<Option<Topic>>;

    /// v1 list: topics in creation order (optionally only the one with `key`), `limit` after
    /// skipping `offset`, and the total count of matching topics.
    async fn list_topics(
        &self,
        env: &ObjectId,
        key: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<(Vec<Topic>, u64)>;

    /// v2 list with cursor pagination.
    async fn search_topics(
        &self,
        env: &ObjectId,
        filter: &TopicFilter,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<Topic>>;

    /// `None` if no topic has that key.
    async fn update_topic(
        &self,
        env: &ObjectId,
        key: &str,
        patch: &TopicPatch,
    ) -> StoreResult<Option<Topic>>;

    /// Deletes the topic and all its subscriptions. `false` if not found.
    async fn delete_topic(&self, env: &ObjectId, key: &str) -> StoreResult<bool>;

    /// Adds these subscribers (by external id) to the topic, each id once (its first occurrence
    /// counts). Idempotent: an existing membership is kept as it is and reported again. A new one
    /// gets its requested identifier (or the default); if another subscription of the topic already
    /// has that identifier, the subscriber is reported in `conflicts` and nothing is stored for it.
    /// A missing topic is created first with `name_if_created`.
    async fn add_topic_subscribers(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        key: &str,
        subscriptions: &[NewSubscription],
        name_if_created: Option<&str>,
    ) -> StoreResult<AddSubscribersOutcome>;

    /// Removes these subscribers from the topic; returns the memberships removed. A missing topic
    /// removes nothing.
    async fn remove_topic_subscribers(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_ids: &[String],
    ) -> StoreResult<Vec<TopicSubscription>>;

    /// The topic's memberships (optionally of one subscriber) with cursor pagination (cursor =
    /// subscription id). An unknown topic yields an empty page.
    async fn topic_subscriptions(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_id: Option<&str>,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<TopicSubscription>>;

    /// One membership, `None` if the subscriber is not in the topic (or either does not exist).
    async fn get_topic_subscription(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_id: &str,
    ) -> StoreResult<Option<TopicSubscription>>;

    /// The topic's subscription with this identifier, `None` if there is none (or no such topic).
    async fn get_topic_subscription_by_identifier(
        &self,
        env: &ObjectId,
        key: &str,
        identifier: &str,
    ) -> StoreResult<Option<TopicSubscription>>;

    /// A subscriber's memberships (optionally only of topic `key`), cursor = subscription id.
    async fn subscriber_subscriptions(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        key: Option<&str>,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<TopicSubscription>>;

    /// External ids of all members of the topic, in membership order (v1 `GET /v1/topics/{key}`).
    async fn topic_subscriber_ids(&self, env: &ObjectId, key: &str) -> StoreResult<Vec<String>>;
}

/// How many stored values one key encrypts (`herald secrets status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyUsage {
    pub key_id: KeyId,
    /// The key is registered in the database (it can open the database).
    pub registered: bool,
    /// New values are encrypted under this key.
    pub current: bool,
    /// Stored values encrypted under this key.
    pub values: u64,
}

/// The encryption keys of the stored secrets (see [`crate::secrets`]): what `herald secrets`
/// needs to rotate them while servers keep running. Each method is its own short transaction.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Every key id that is registered or still encrypts a value, current key first.
    async fn key_usage(&self) -> StoreResult<Vec<KeyUsage>>;

    /// Registers key `id` of this store's keyring (if it is not yet) and makes it the key new
    /// values are encrypted under, in this store at once and in every other process sharing the
    /// database within its check period.
    async fn promote_key(&self, id: &KeyId) -> StoreResult<()>;

    /// Re-encrypts under the current key the values still under another key, at most `limit`
    /// rows of each table holding secrets, in one transaction, and returns how many values it
    /// re-encrypted: `0` means none is left.
    async fn reencrypt_batch(&self, limit: usize) -> StoreResult<usize>;

    /// Unregisters every key that is not current and encrypts nothing any more, and returns
    /// their ids. A process holding only retired keys can no longer open the database.
    async fn retire_keys(&self) -> StoreResult<Vec<KeyId>>;
}

/// Everything the server needs from a backend.
#[async_trait]
pub trait Store:
    EnvironmentStore
    + SubscriberStore
    + IntegrationStore
    + TopicStore
    + SecretStore
    + crate::delivery::EventStore
    + crate::delivery::JobQueue
    + crate::delivery::ActivityStore
    + crate::workflow::WorkflowStore
{
    /// The backend's name for logs (`sqlite`, `postgres`).
    fn backend_name(&self) -> &'static str;

    /// Whether the database answers: the cheapest query that goes through the same connections
    /// requests use (readiness checks call it). An error once the store is closed.
    async fn ping(&self) -> StoreResult<()>;

    /// Flushes and closes; called once on shutdown.
    async fn close(&self);
}
