//! The delegating half of [`MeteredStore`]: every store trait method, timed under its own name
//! and the kind written before it (see `store` for what the kinds mean). This is also the table
//! of which call is a read, a write or a scan. Adding a method to a store trait fails to compile
//! here until it is listed, so no call goes unmeasured.

use std::time::Duration;

use async_trait::async_trait;
use herald_core::delivery::activity::{
    ExecutionDetail, Message, MessageQuery, NotificationActivity, NotificationQuery,
};
use herald_core::delivery::event::{EventCreated, IdempotencyRecord, IdempotentResponse, NewEvent};
use herald_core::delivery::job::{ClaimedJob, JobContext, JobRun, ReceiptCheck, ReceiptResult};
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

/// Implements a store trait for [`MeteredStore`]: each listed method delegates to the inner
/// store through [`MeteredStore::timed`], under its own name and the kind written before it.
macro_rules! timed {
    (impl $trait:path {
        $($kind:ident fn $name:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $ret:ty;)*
    }) => {
        #[async_trait]
        impl $trait for MeteredStore {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.timed(stringify!($name), Kind::$kind, self.inner.$name($($arg),*))
                        .await
                }
            )*
        }
    };
}

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

timed! {
    impl EnvironmentStore {
        write fn bootstrap(&self, development: &KeyHash, production: &KeyHash)
            -> StoreResult<Option<Vec<Environment>>>;
        scan fn list_environments(&self) -> StoreResult<Vec<Environment>>;
        read fn authenticate(&self, hash: &KeyHash) -> StoreResult<Option<AuthContext>>;
        write fn add_api_key(&self, environment_id: &ObjectId, hash: &KeyHash, hint: &str)
            -> StoreResult<Option<ApiKeyInfo>>;
        scan fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyInfo>>;
        write fn revoke_api_key(&self, id: &ObjectId) -> StoreResult<bool>;
    }
}

timed! {
    impl SubscriberStore {
        scan fn list_subscribers(&self, env: &ObjectId, offset: u64, limit: u64)
            -> StoreResult<Vec<Subscriber>>;
        read fn get_subscriber(&self, env: &ObjectId, subscriber_id: &str)
            -> StoreResult<Option<Subscriber>>;
        write fn upsert_subscriber(
            &self,
            env: &ObjectId,
            org: &ObjectId,
            new: &NewSubscriber,
            patch: &SubscriberPatch,
        ) -> StoreResult<(Subscriber, bool)>;
        write fn upsert_subscriber_with_channels(
            &self,
            env: &ObjectId,
            org: &ObjectId,
            new: &NewSubscriber,
            patch: &SubscriberPatch,
            channels: &[CredentialsUpdate],
        ) -> StoreResult<(Subscriber, bool)>;
        write fn bulk_upsert_subscribers(
            &self,
            env: &ObjectId,
            org: &ObjectId,
            items: &[NewSubscriber],
        ) -> StoreResult<Vec<BulkOutcome>>;
        write fn bulk_write_subscribers(
            &self,
            env: &ObjectId,
            org: &ObjectId,
            items: &[SubscriberWrite],
        ) -> StoreResult<Vec<StoreResult<BulkOutcome>>>;
        write fn update_subscriber(
            &self,
            env: &ObjectId,
            subscriber_id: &str,
            patch: &SubscriberPatch,
        ) -> StoreResult<Option<Subscriber>>;
        write fn delete_subscriber(&self, env: &ObjectId, subscriber_id: &str) -> StoreResult<bool>;
        write fn set_online(
            &self,
            env: &ObjectId,
            subscriber_id: &str,
            online: bool,
            now: Timestamp,
        ) -> StoreResult<Option<Subscriber>>;
        write fn update_credentials(
            &self,
            env: &ObjectId,
            subscriber_id: &str,
            update: &CredentialsUpdate,
        ) -> StoreResult<Option<Subscriber>>;
        write fn remove_device_tokens(
            &self,
            env: &ObjectId,
            subscriber_id: &str,
            provider: ProviderId,
            tokens: &[String],
        ) -> StoreResult<Option<Subscriber>>;
        scan fn search_subscribers(
            &self,
            env: &ObjectId,
            filter: &SubscriberFilter,
            page: &CursorQuery,
        ) -> StoreResult<CursorPage<Subscriber>>;
        write fn delete_credentials(
            &self,
            env: &ObjectId,
            subscriber_id: &str,
            provider: ProviderId,
        ) -> StoreResult<bool>;
    }
}

timed! {
    impl IntegrationStore {
        scan fn list_integrations(&self, env: &ObjectId) -> StoreResult<Vec<Integration>>;
        read fn get_integration(&self, env: &ObjectId, id: &ObjectId)
            -> StoreResult<Option<Integration>>;
        write fn create_integration(&self, env: &ObjectId, org: &ObjectId, new: &NewIntegration)
            -> StoreResult<Integration>;
        write fn update_integration(&self, env: &ObjectId, id: &ObjectId, patch: &IntegrationPatch)
            -> StoreResult<Option<Integration>>;
        write fn delete_integration(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool>;
        write fn set_primary_integration(&self, env: &ObjectId, id: &ObjectId)
            -> StoreResult<Option<Integration>>;
        read fn find_active_integration(
            &self,
            env: &ObjectId,
            provider: ProviderId,
            identifier: Option<&str>,
        ) -> StoreResult<Option<Integration>>;
    }
}

timed! {
    impl TopicStore {
        write fn create_topic(&self, env: &ObjectId, org: &ObjectId, new: &NewTopic)
            -> StoreResult<Topic>;
        write fn upsert_topic(&self, env: &ObjectId, org: &ObjectId, new: &NewTopic)
            -> StoreResult<(Topic, bool)>;
        read fn get_topic(&self, env: &ObjectId, key: &str) -> StoreResult<Option<Topic>>;
        scan fn list_topics(&self, env: &ObjectId, key: Option<&str>, offset: u64, limit: u64)
            -> StoreResult<(Vec<Topic>, u64)>;
        scan fn search_topics(&self, env: &ObjectId, filter: &TopicFilter, page: &CursorQuery)
            -> StoreResult<CursorPage<Topic>>;
        write fn update_topic(&self, env: &ObjectId, key: &str, patch: &TopicPatch)
            -> StoreResult<Option<Topic>>;
        write fn delete_topic(&self, env: &ObjectId, key: &str) -> StoreResult<bool>;
        write fn add_topic_subscribers(
            &self,
            env: &ObjectId,
            org: &ObjectId,
            key: &str,
            subscriptions: &[NewSubscription],
            name_if_created: Option<&str>,
        ) -> StoreResult<AddSubscribersOutcome>;
        write fn remove_topic_subscribers(
            &self,
            env: &ObjectId,
            key: &str,
            subscriber_ids: &[String],
        ) -> StoreResult<Vec<TopicSubscription>>;
        scan fn topic_subscriptions(
            &self,
            env: &ObjectId,
            key: &str,
            subscriber_id: Option<&str>,
            page: &CursorQuery,
        ) -> StoreResult<CursorPage<TopicSubscription>>;
        read fn get_topic_subscription(&self, env: &ObjectId, key: &str, subscriber_id: &str)
            -> StoreResult<Option<TopicSubscription>>;
        read fn get_topic_subscription_by_identifier(
            &self,
            env: &ObjectId,
            key: &str,
            identifier: &str,
        ) -> StoreResult<Option<TopicSubscription>>;
        scan fn subscriber_subscriptions(
            &self,
            env: &ObjectId,
            subscriber_id: &str,
            key: Option<&str>,
            page: &CursorQuery,
        ) -> StoreResult<CursorPage<TopicSubscription>>;
        scan fn topic_subscriber_ids(&self, env: &ObjectId, key: &str) -> StoreResult<Vec<String>>;
    }
}

timed! {
    impl SecretStore {
        scan fn key_usage(&self) -> StoreResult<Vec<KeyUsage>>;
        write fn promote_key(&self, id: &KeyId) -> StoreResult<()>;
        write fn reencrypt_batch(&self, limit: usize) -> StoreResult<usize>;
        write fn retire_keys(&self) -> StoreResult<Vec<KeyId>>;
    }
}

timed! {
    impl delivery::EventStore {
        write fn create_event(&self, env: &ObjectId, org: &ObjectId, event: &NewEvent)
            -> StoreResult<EventCreated>;
        read fn idempotent_response(&self, env: &ObjectId, key: &str)
            -> StoreResult<Option<IdempotentResponse>>;
        write fn save_idempotent_response(&self, env: &ObjectId, record: &IdempotencyRecord)
            -> StoreResult<Option<IdempotentResponse>>;
        write fn expand_fan_out(&self, page_size: usize) -> StoreResult<FanOutProgress>;
        write fn cancel_event(&self, env: &ObjectId, transaction_id: &str) -> StoreResult<bool>;
    }
}

timed! {
    impl delivery::JobQueue {
        write fn claim_due_jobs(&self, owner: &str, limit: usize, lease: Duration, now: Timestamp)
            -> StoreResult<Vec<ClaimedJob>>;
        read fn load_job(&self, job: &ClaimedJob) -> StoreResult<Option<JobContext>>;
        write fn record_job_run(&self, run: &JobRun) -> StoreResult<bool>;
        write fn release_jobs(&self, owner: &str, jobs: &[ObjectId]) -> StoreResult<()>;
        read fn due_receipts(&self, now: Timestamp, limit: usize)
            -> StoreResult<Vec<ReceiptCheck>>;
        write fn record_receipts(&self, results: &[ReceiptResult]) -> StoreResult<()>;
        read fn queue_state(&self) -> StoreResult<QueueState>;
    }
}

timed! {
    impl delivery::ActivityStore {
        scan fn list_messages(&self, env: &ObjectId, query: &MessageQuery)
            -> StoreResult<Option<(Vec<Message>, u64)>>;
        write fn delete_message(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool>;
        write fn delete_messages_by_transaction(
            &self,
            env: &ObjectId,
            transaction_id: &str,
            channel: Option<ChannelType>,
        ) -> StoreResult<u64>;
        scan fn list_notifications(&self, env: &ObjectId, query: &NotificationQuery)
            -> StoreResult<Vec<NotificationActivity>>;
        scan fn get_notification(&self, env: &ObjectId, id: &ObjectId)
            -> StoreResult<Option<NotificationActivity>>;
        scan fn execution_details(
            &self,
            env: &ObjectId,
            notification_id: &ObjectId,
            subscriber_id: &str,
        ) -> StoreResult<Option<Vec<ExecutionDetail>>>;
    }
}

timed! {
    impl workflow::WorkflowStore {
        read fn workflow_by_identifier(&self, env: &ObjectId, identifier: &str)
            -> StoreResult<Option<Workflow>>;
        read fn get_workflow(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<Option<Workflow>>;
        write fn create_workflow(
            &self,
            env: &ObjectId,
            org: &ObjectId,
            definition: &WorkflowDefinition,
        ) -> StoreResult<Workflow>;
        write fn update_workflow(
            &self,
            env: &ObjectId,
            id: &ObjectId,
            definition: &WorkflowDefinition,
        ) -> StoreResult<Option<Workflow>>;
        write fn delete_workflow(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool>;
        scan fn list_workflows(&self, env: &ObjectId, query: &WorkflowQuery)
            -> StoreResult<(Vec<Workflow>, u64)>;
        scan fn list_notification_groups(&self, env: &ObjectId)
            -> StoreResult<Vec<NotificationGroup>>;
        read fn get_notification_group(&self, env: &ObjectId, id: &ObjectId)
            -> StoreResult<Option<NotificationGroup>>;
        write fn create_notification_group(&self, env: &ObjectId, org: &ObjectId, name: &str)
            -> StoreResult<(NotificationGroup, bool)>;
    }
}
