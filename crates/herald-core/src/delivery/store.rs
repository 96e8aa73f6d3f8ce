//! The storage traits of the delivery pipeline, by capability: accepting triggers and fanning them
//! out ([`EventStore`]), the job queue the workers claim from ([`JobQueue`]), and the activity
//! reads ([`ActivityStore`]). Every method but the worker's claims is scoped by environment.

use std::time::Duration;

use async_trait::async_trait;

use crate::delivery::activity::{
    ExecutionDetail, Message, MessageQuery, NotificationActivity, NotificationQuery,
};
use crate::delivery::event::{EventCreated, IdempotencyRecord, IdempotentResponse, NewEvent};
use crate::delivery::job::{ClaimedJob, JobContext, JobRun, ReceiptCheck, ReceiptResult};
use crate::{ChannelType, ObjectId, StoreResult, Timestamp};

/// How far one [`EventStore::expand_fan_out`] call got.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FanOutProgress {
    /// Whether a fan-out with work left was found (and a page of it expanded).
    pub expanded: bool,
    /// Notifications created by this page.
    pub notifications: u64,
}

#[async_trait]
pub trait EventStore: Send + Sync {
    /// Writes an accepted trigger in one transaction: the `Idempotency-Key` record (unless the key
    /// is already taken: then nothing is written and the stored answer is returned), the event,
    /// the directly named subscribers (created with just their id if missing), a notification and
    /// a job per active step for each of them (due now), and a fan-out cursor per topic (or for
    /// the broadcast). A `transactionId` already used in the environment writes nothing.
    async fn create_event(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        event: &NewEvent,
    ) -> StoreResult<EventCreated>;

    /// The answer stored under an `Idempotency-Key` less than a day old.
    async fn idempotent_response(
        &self,
        env: &ObjectId,
        key: &str,
    ) -> StoreResult<Option<IdempotentResponse>>;

    /// Stores the answer to a request that wrote no event (e.g. `trigger_not_active`), unless the
    /// key is taken (then returns what is stored).
    async fn save_idempotent_response(
        &self,
        env: &ObjectId,
        record: &IdempotencyRecord,
    ) -> StoreResult<Option<IdempotentResponse>>;

    /// Expands the next page (at most `page_size` recipients) of one unfinished fan-out (topic
    /// members or broadcast) into notifications and jobs, and moves its cursor, in one
    /// transaction. Recipients already reached by the event, and those excluded, are skipped.
    /// Safe to call from several processes at once.
    async fn expand_fan_out(&self, page_size: usize) -> StoreResult<FanOutProgress>;

    /// Cancels what has not been sent of the event with this `transactionId`: unfinished fan-outs
    /// stop, queued jobs and their pending deliveries become canceled. `false` if no such event,
    /// or nothing of it was left to cancel.
    async fn cancel_event(&self, env: &ObjectId, transaction_id: &str) -> StoreResult<bool>;
}

#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Claims up to `limit` jobs of any environment that are due at `now` — queued with `run_at`
    /// passed, or running under an expired lease (a worker that crashed) — for `owner` until
    /// `now + lease`. Jobs of canceled events are not claimed. Several processes may claim at
    /// once; a job goes to one of them.
    async fn claim_due_jobs(
        &self,
        owner: &str,
        limit: usize,
        lease: Duration,
        now: Timestamp,
    ) -> StoreResult<Vec<ClaimedJob>>;

    /// What a claimed job needs to run. `None` if the job no longer exists.
    async fn load_job(&self, job: &ClaimedJob) -> StoreResult<Option<JobContext>>;

    /// Records a run in one transaction, if `run.lease_owner` still holds the job (`false`, and
    /// nothing written, otherwise).
    async fn record_job_run(&self, run: &JobRun) -> StoreResult<bool>;

    /// Gives jobs back (shutdown): those still held by `owner` become due at once.
    async fn release_jobs(&self, owner: &str, jobs: &[ObjectId]) -> StoreResult<()>;

    /// Up to `limit` deliveries whose receipt is due at `now` (any environment), oldest first.
    async fn due_receipts(&self, now: Timestamp, limit: usize) -> StoreResult<Vec<ReceiptCheck>>;

    /// Records what asking for receipts came to, each in the same transaction as its token
    /// removal and execution details.
    async fn record_receipts(&self, results: &[ReceiptResult]) -> StoreResult<()>;

    /// When the next job becomes due (queued or under a lease), `None` if none is waiting; and
    /// whether a fan-out has work left.
    async fn queue_state(&self) -> StoreResult<QueueState>;
}

/// What is waiting in the queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueState {
    pub next_due: Option<Timestamp>,
    pub fan_outs_pending: bool,
}

#[async_trait]
pub trait ActivityStore: Send + Sync {
    /// Messages matching the query, newest first, with the total count. `None` if the query names
    /// a subscriber that does not exist.
    async fn list_messages(
        &self,
        env: &ObjectId,
        query: &MessageQuery,
    ) -> StoreResult<Option<(Vec<Message>, u64)>>;

    /// Deletes one message. `false` if not found.
    async fn delete_message(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool>;

    /// Deletes the messages of a transaction (of one channel if given); how many were deleted.
    async fn delete_messages_by_transaction(
        &self,
        env: &ObjectId,
        transaction_id: &str,
        channel: Option<ChannelType>,
    ) -> StoreResult<u64>;

    /// Notifications matching the query, newest first, `limit + 1` at most (so that the caller
    /// can tell whether more exist), with their jobs and execution details.
    async fn list_notifications(
        &self,
        env: &ObjectId,
        query: &NotificationQuery,
    ) -> StoreResult<Vec<NotificationActivity>>;

    async fn get_notification(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<NotificationActivity>>;

    /// The execution details of one notification for one subscriber (by `subscriberId`), oldest
    /// first. `None` if the subscriber does not exist.
    async fn execution_details(
        &self,
        env: &ObjectId,
        notification_id: &ObjectId,
        subscriber_id: &str,
    ) -> StoreResult<Option<Vec<ExecutionDetail>>>;
}
