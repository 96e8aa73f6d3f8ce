//! The delegating half of [`MeteredStore`]: every store trait method, timed under its own name
//! and kind (see `store` for what the kinds mean). Adding a method to a store trait fails to
//! compile here until it is timed too, so no call goes unmeasured.

use std::time::Duration;

use async_trait::async_trait;
use herald_core::delivery::activity::{
    ExecutionDetail, Message, MessageQuery, NotificationActivity, NotificationQuery,
};
use herald_core::delivery::event::{EventCreated, IdempotencyRecord, IdempotentResponse, NewEvent};
use herald_core::delivery::job::{ClaimedJob, JobContext, JobRun};
use herald_core::delivery::{self, FanOutProgress, QueueState};
use herald_core::secrets::KeyId;
use herald_core::topic::{
    AddSubscribersOutcome, CursorPage, CursorQuery, NewSubscription, NewTopic, SubscriberFilter,
    Topic, TopicFilter, TopicPatch, TopicSubscription,
};
use herald_core::workflow::{self, WorkflowQuery};
use herald_core::{
    ApiKeyInfo, AuthContext, BulkOutcome, ChannelType, CredentialsUpdate, Environment,
    EnvironmentStore, Integration, IntegrationPatch, IntegrationStore, KeyHash, KeyUsage,
    NewIntegration, NewSubscriber, NotificationGroup, ObjectId, ProviderId, SecretStore, Store,
    StoreResult, Subscriber, SubscriberPatch, SubscriberStore, SubscriberWrite, Timestamp,
    TopicStore, Workflow, WorkflowDefinition,
};

use super::store::{Kind, MeteredStore};

#[async_trait]
impl Store for MeteredStore {
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.timed("ping", Kind::read, self.inner.ping()).await
    }

    async fn close(&self) {
        self.inner.close().await
    }
}

#[async_trait]
impl EnvironmentStore for MeteredStore {
    async fn bootstrap(
        &self,
        development: &KeyHash,
        production: &KeyHash,
    ) -> StoreResult<Option<Vec<Environment>>> {
        self.timed(
            "bootstrap",
            Kind::write,
            self.inner.bootstrap(development, production),
        )
        .await
    }

    async fn list_environments(&self) -> StoreResult<Vec<Environment>> {
        self.timed(
            "list_environments",
            Kind::scan,
            self.inner.list_environments(),
        )
        .await
    }

    async fn authenticate(&self, hash: &KeyHash) -> StoreResult<Option<AuthContext>> {
        self.timed("authenticate", Kind::read, self.inner.authenticate(hash))
            .await
    }

    async fn add_api_key(
        &self,
        environment_id: &ObjectId,
        hash: &KeyHash,
        hint: &str,
    ) -> StoreResult<Option<ApiKeyInfo>> {
        self.timed(
            "add_api_key",
            Kind::write,
            self.inner.add_api_key(environment_id, hash, hint),
        )
        .await
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyInfo>> {
        self.timed("list_api_keys", Kind::scan, self.inner.list_api_keys())
            .await
    }

    async fn revoke_api_key(&self, id: &ObjectId) -> StoreResult<bool> {
        self.timed("revoke_api_key", Kind::write, self.inner.revoke_api_key(id))
            .await
    }
}

#[async_trait]
impl SubscriberStore for MeteredStore {
    async fn list_subscribers(
        &self,
        env: &ObjectId,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<Subscriber>> {
        self.timed(
            "list_subscribers",
            Kind::scan,
            self.inner.list_subscribers(env, offset, limit),
        )
        .await
    }

    async fn get_subscriber(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
    ) -> StoreResult<Option<Subscriber>> {
        self.timed(
            "get_subscriber",
            Kind::read,
            self.inner.get_subscriber(env, subscriber_id),
        )
        .await
    }

    async fn upsert_subscriber(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewSubscriber,
        patch: &SubscriberPatch,
    ) -> StoreResult<(Subscriber, bool)> {
        self.timed(
            "upsert_subscriber",
            Kind::write,
            self.inner.upsert_subscriber(env, org, new, patch),
        )
        .await
    }

    async fn upsert_subscriber_with_channels(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewSubscriber,
        patch: &SubscriberPatch,
        channels: &[CredentialsUpdate],
    ) -> StoreResult<(Subscriber, bool)> {
        self.timed(
            "upsert_subscriber_with_channels",
            Kind::write,
            self.inner
                .upsert_subscriber_with_channels(env, org, new, patch, channels),
        )
        .await
    }

    async fn bulk_upsert_subscribers(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        items: &[NewSubscriber],
    ) -> StoreResult<Vec<BulkOutcome>> {
        self.timed(
            "bulk_upsert_subscribers",
            Kind::write,
            self.inner.bulk_upsert_subscribers(env, org, items),
        )
        .await
    }

    async fn bulk_write_subscribers(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        items: &[SubscriberWrite],
    ) -> StoreResult<Vec<StoreResult<BulkOutcome>>> {
        self.timed(
            "bulk_write_subscribers",
            Kind::write,
            self.inner.bulk_write_subscribers(env, org, items),
        )
        .await
    }

    async fn update_subscriber(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        patch: &SubscriberPatch,
    ) -> StoreResult<Option<Subscriber>> {
        self.timed(
            "update_subscriber",
            Kind::write,
            self.inner.update_subscriber(env, subscriber_id, patch),
        )
        .await
    }

    async fn delete_subscriber(&self, env: &ObjectId, subscriber_id: &str) -> StoreResult<bool> {
        self.timed(
            "delete_subscriber",
            Kind::write,
            self.inner.delete_subscriber(env, subscriber_id),
        )
        .await
    }

    async fn set_online(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        online: bool,
        now: Timestamp,
    ) -> StoreResult<Option<Subscriber>> {
        self.timed(
            "set_online",
            Kind::write,
            self.inner.set_online(env, subscriber_id, online, now),
        )
        .await
    }

    async fn update_credentials(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        update: &CredentialsUpdate,
    ) -> StoreResult<Option<Subscriber>> {
        self.timed(
            "update_credentials",
            Kind::write,
            self.inner.update_credentials(env, subscriber_id, update),
        )
        .await
    }

    async fn search_subscribers(
        &self,
        env: &ObjectId,
        filter: &SubscriberFilter,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<Subscriber>> {
        self.timed(
            "search_subscribers",
            Kind::scan,
            self.inner.search_subscribers(env, filter, page),
        )
        .await
    }

    async fn delete_credentials(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        provider: ProviderId,
    ) -> StoreResult<bool> {
        self.timed(
            "delete_credentials",
            Kind::write,
            self.inner.delete_credentials(env, subscriber_id, provider),
        )
        .await
    }
}

#[async_trait]
impl IntegrationStore for MeteredStore {
    async fn list_integrations(&self, env: &ObjectId) -> StoreResult<Vec<Integration>> {
        self.timed(
            "list_integrations",
            Kind::scan,
            self.inner.list_integrations(env),
        )
        .await
    }

    async fn get_integration(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<Integration>> {
        self.timed(
            "get_integration",
            Kind::read,
            self.inner.get_integration(env, id),
        )
        .await
    }

    async fn create_integration(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewIntegration,
    ) -> StoreResult<Integration> {
        self.timed(
            "create_integration",
            Kind::write,
            self.inner.create_integration(env, org, new),
        )
        .await
    }

    async fn update_integration(
        &self,
        env: &ObjectId,
        id: &ObjectId,
        patch: &IntegrationPatch,
    ) -> StoreResult<Option<Integration>> {
        self.timed(
            "update_integration",
            Kind::write,
            self.inner.update_integration(env, id, patch),
        )
        .await
    }

    async fn delete_integration(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool> {
        self.timed(
            "delete_integration",
            Kind::write,
            self.inner.delete_integration(env, id),
        )
        .await
    }

    async fn set_primary_integration(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<Integration>> {
        self.timed(
            "set_primary_integration",
            Kind::write,
            self.inner.set_primary_integration(env, id),
        )
        .await
    }

    async fn find_active_integration(
        &self,
        env: &ObjectId,
        provider: ProviderId,
        identifier: Option<&str>,
    ) -> StoreResult<Option<Integration>> {
        self.timed(
            "find_active_integration",
            Kind::read,
            self.inner
                .find_active_integration(env, provider, identifier),
        )
        .await
    }
}

#[async_trait]
impl TopicStore for MeteredStore {
    async fn create_topic(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewTopic,
    ) -> StoreResult<Topic> {
        self.timed(
            "create_topic",
            Kind::write,
            self.inner.create_topic(env, org, new),
        )
        .await
    }

    async fn upsert_topic(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewTopic,
    ) -> StoreResult<(Topic, bool)> {
        self.timed(
            "upsert_topic",
            Kind::write,
            self.inner.upsert_topic(env, org, new),
        )
        .await
    }

    async fn get_topic(&self, env: &ObjectId, key: &str) -> StoreResult<Option<Topic>> {
        self.timed("get_topic", Kind::read, self.inner.get_topic(env, key))
            .await
    }

    async fn list_topics(
        &self,
        env: &ObjectId,
        key: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> StoreResult<(Vec<Topic>, u64)> {
        self.timed(
            "list_topics",
            Kind::scan,
            self.inner.list_topics(env, key, offset, limit),
        )
        .await
    }

    async fn search_topics(
        &self,
        env: &ObjectId,
        filter: &TopicFilter,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<Topic>> {
        self.timed(
            "search_topics",
            Kind::scan,
            self.inner.search_topics(env, filter, page),
        )
        .await
    }

    async fn update_topic(
        &self,
        env: &ObjectId,
        key: &str,
        patch: &TopicPatch,
    ) -> StoreResult<Option<Topic>> {
        self.timed(
            "update_topic",
            Kind::write,
            self.inner.update_topic(env, key, patch),
        )
        .await
    }

    async fn delete_topic(&self, env: &ObjectId, key: &str) -> StoreResult<bool> {
        self.timed(
            "delete_topic",
            Kind::write,
            self.inner.delete_topic(env, key),
        )
        .await
    }

    async fn add_topic_subscribers(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        key: &str,
        subscriptions: &[NewSubscription],
        name_if_created: Option<&str>,
    ) -> StoreResult<AddSubscribersOutcome> {
        self.timed(
            "add_topic_subscribers",
            Kind::write,
            self.inner
                .add_topic_subscribers(env, org, key, subscriptions, name_if_created),
        )
        .await
    }

    async fn remove_topic_subscribers(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_ids: &[String],
    ) -> StoreResult<Vec<TopicSubscription>> {
        self.timed(
            "remove_topic_subscribers",
            Kind::write,
            self.inner
                .remove_topic_subscribers(env, key, subscriber_ids),
        )
        .await
    }

    async fn topic_subscriptions(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_id: Option<&str>,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<TopicSubscription>> {
        self.timed(
            "topic_subscriptions",
            Kind::scan,
            self.inner
                .topic_subscriptions(env, key, subscriber_id, page),
        )
        .await
    }

    async fn get_topic_subscription(
        &self,
        env: &ObjectId,
        key: &str,
        subscriber_id: &str,
    ) -> StoreResult<Option<TopicSubscription>> {
        self.timed(
            "get_topic_subscription",
            Kind::read,
            self.inner.get_topic_subscription(env, key, subscriber_id),
        )
        .await
    }

    async fn get_topic_subscription_by_identifier(
        &self,
        env: &ObjectId,
        key: &str,
        identifier: &str,
    ) -> StoreResult<Option<TopicSubscription>> {
        self.timed(
            "get_topic_subscription_by_identifier",
            Kind::read,
            self.inner
                .get_topic_subscription_by_identifier(env, key, identifier),
        )
        .await
    }

    async fn subscriber_subscriptions(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        key: Option<&str>,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<TopicSubscription>> {
        self.timed(
            "subscriber_subscriptions",
            Kind::scan,
            self.inner
                .subscriber_subscriptions(env, subscriber_id, key, page),
        )
        .await
    }

    async fn topic_subscriber_ids(&self, env: &ObjectId, key: &str) -> StoreResult<Vec<String>> {
        self.timed(
            "topic_subscriber_ids",
            Kind::scan,
            self.inner.topic_subscriber_ids(env, key),
        )
        .await
    }
}

#[async_trait]
impl SecretStore for MeteredStore {
    async fn key_usage(&self) -> StoreResult<Vec<KeyUsage>> {
        self.timed("key_usage", Kind::scan, self.inner.key_usage())
            .await
    }

    async fn promote_key(&self, id: &KeyId) -> StoreResult<()> {
        self.timed("promote_key", Kind::write, self.inner.promote_key(id))
            .await
    }

    async fn reencrypt_batch(&self, limit: usize) -> StoreResult<usize> {
        self.timed(
            "reencrypt_batch",
            Kind::write,
            self.inner.reencrypt_batch(limit),
        )
        .await
    }

    async fn retire_keys(&self) -> StoreResult<Vec<KeyId>> {
        self.timed("retire_keys", Kind::write, self.inner.retire_keys())
            .await
    }
}

#[async_trait]
impl delivery::EventStore for MeteredStore {
    async fn create_event(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        event: &NewEvent,
    ) -> StoreResult<EventCreated> {
        self.timed(
            "create_event",
            Kind::write,
            self.inner.create_event(env, org, event),
        )
        .await
    }

    async fn idempotent_response(
        &self,
        env: &ObjectId,
        key: &str,
    ) -> StoreResult<Option<IdempotentResponse>> {
        self.timed(
            "idempotent_response",
            Kind::read,
            self.inner.idempotent_response(env, key),
        )
        .await
    }

    async fn save_idempotent_response(
        &self,
        env: &ObjectId,
        record: &IdempotencyRecord,
    ) -> StoreResult<Option<IdempotentResponse>> {
        self.timed(
            "save_idempotent_response",
            Kind::write,
            self.inner.save_idempotent_response(env, record),
        )
        .await
    }

    async fn expand_fan_out(&self, page_size: usize) -> StoreResult<FanOutProgress> {
        self.timed(
            "expand_fan_out",
            Kind::write,
            self.inner.expand_fan_out(page_size),
        )
        .await
    }

    async fn cancel_event(&self, env: &ObjectId, transaction_id: &str) -> StoreResult<bool> {
        self.timed(
            "cancel_event",
            Kind::write,
            self.inner.cancel_event(env, transaction_id),
        )
        .await
    }
}

#[async_trait]
impl delivery::JobQueue for MeteredStore {
    async fn claim_due_jobs(
        &self,
        owner: &str,
        limit: usize,
        lease: Duration,
        now: Timestamp,
    ) -> StoreResult<Vec<ClaimedJob>> {
        self.timed(
            "claim_due_jobs",
            Kind::write,
            self.inner.claim_due_jobs(owner, limit, lease, now),
        )
        .await
    }

    async fn load_job(&self, job: &ClaimedJob) -> StoreResult<Option<JobContext>> {
        self.timed("load_job", Kind::read, self.inner.load_job(job))
            .await
    }

    async fn record_job_run(&self, run: &JobRun) -> StoreResult<bool> {
        self.timed(
            "record_job_run",
            Kind::write,
            self.inner.record_job_run(run),
        )
        .await
    }

    async fn release_jobs(&self, owner: &str, jobs: &[ObjectId]) -> StoreResult<()> {
        self.timed(
            "release_jobs",
            Kind::write,
            self.inner.release_jobs(owner, jobs),
        )
        .await
    }

    async fn queue_state(&self) -> StoreResult<QueueState> {
        self.timed("queue_state", Kind::read, self.inner.queue_state())
            .await
    }
}

#[async_trait]
impl delivery::ActivityStore for MeteredStore {
    async fn list_messages(
        &self,
        env: &ObjectId,
        query: &MessageQuery,
    ) -> StoreResult<Option<(Vec<Message>, u64)>> {
        self.timed(
            "list_messages",
            Kind::scan,
            self.inner.list_messages(env, query),
        )
        .await
    }

    async fn delete_message(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool> {
        self.timed(
            "delete_message",
            Kind::write,
            self.inner.delete_message(env, id),
        )
        .await
    }

    async fn delete_messages_by_transaction(
        &self,
        env: &ObjectId,
        transaction_id: &str,
        channel: Option<ChannelType>,
    ) -> StoreResult<u64> {
        self.timed(
            "delete_messages_by_transaction",
            Kind::write,
            self.inner
                .delete_messages_by_transaction(env, transaction_id, channel),
        )
        .await
    }

    async fn list_notifications(
        &self,
        env: &ObjectId,
        query: &NotificationQuery,
    ) -> StoreResult<Vec<NotificationActivity>> {
        self.timed(
            "list_notifications",
            Kind::scan,
            self.inner.list_notifications(env, query),
        )
        .await
    }

    async fn get_notification(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<NotificationActivity>> {
        self.timed(
            "get_notification",
            Kind::scan,
            self.inner.get_notification(env, id),
        )
        .await
    }

    async fn execution_details(
        &self,
        env: &ObjectId,
        notification_id: &ObjectId,
        subscriber_id: &str,
    ) -> StoreResult<Option<Vec<ExecutionDetail>>> {
        self.timed(
            "execution_details",
            Kind::scan,
            self.inner
                .execution_details(env, notification_id, subscriber_id),
        )
        .await
    }
}

#[async_trait]
impl workflow::WorkflowStore for MeteredStore {
    async fn workflow_by_identifier(
        &self,
        env: &ObjectId,
        identifier: &str,
    ) -> StoreResult<Option<Workflow>> {
        self.timed(
            "workflow_by_identifier",
            Kind::read,
            self.inner.workflow_by_identifier(env, identifier),
        )
        .await
    }

    async fn get_workflow(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<Option<Workflow>> {
        self.timed("get_workflow", Kind::read, self.inner.get_workflow(env, id))
            .await
    }

    async fn create_workflow(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        definition: &WorkflowDefinition,
    ) -> StoreResult<Workflow> {
        self.timed(
            "create_workflow",
            Kind::write,
            self.inner.create_workflow(env, org, definition),
        )
        .await
    }

    async fn update_workflow(
        &self,
        env: &ObjectId,
        id: &ObjectId,
        definition: &WorkflowDefinition,
    ) -> StoreResult<Option<Workflow>> {
        self.timed(
            "update_workflow",
            Kind::write,
            self.inner.update_workflow(env, id, definition),
        )
        .await
    }

    async fn delete_workflow(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool> {
        self.timed(
            "delete_workflow",
            Kind::write,
            self.inner.delete_workflow(env, id),
        )
        .await
    }

    async fn list_workflows(
        &self,
        env: &ObjectId,
        query: &WorkflowQuery,
    ) -> StoreResult<(Vec<Workflow>, u64)> {
        self.timed(
            "list_workflows",
            Kind::scan,
            self.inner.list_workflows(env, query),
        )
        .await
    }

    async fn list_notification_groups(
        &self,
        env: &ObjectId,
    ) -> StoreResult<Vec<NotificationGroup>> {
        self.timed(
            "list_notification_groups",
            Kind::scan,
            self.inner.list_notification_groups(env),
        )
        .await
    }

    async fn get_notification_group(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<NotificationGroup>> {
        self.timed(
            "get_notification_group",
            Kind::read,
            self.inner.get_notification_group(env, id),
        )
        .await
    }

    async fn create_notification_group(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        name: &str,
    ) -> StoreResult<(NotificationGroup, bool)> {
        self.timed(
            "create_notification_group",
            Kind::write,
            self.inner.create_notification_group(env, org, name),
        )
        .await
    }
}
