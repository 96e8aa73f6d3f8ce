//! Conformance of the job queue ([`crate::delivery::JobQueue`]) and the activity reads
//! ([`crate::delivery::ActivityStore`]): leases, records guarded by them, retries, what a run sees
//! of its targets, and reading it all back, per environment.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map};

use super::delivery::{accept, claim_all, event, to};
use super::fixtures::*;
use super::Spawn;
use crate::delivery::activity::{MessageQuery, NotificationQuery};
use crate::delivery::job::{
    ClaimedJob, DeliveryStatus, DeliveryUpdate, DetailSource, DetailStatus, JobContext, JobOutcome,
    JobRun, JobStatus, MessageStatus, MessageUpdate, NewDelivery, NewExecutionDetail, NewMessage,
};
use crate::{ChannelType, CredentialsMode, Environment, ObjectId, ProviderId, Store, Timestamp};

const HOUR: Duration = Duration::from_secs(3600);

fn later(ms: i64) -> Timestamp {
    Timestamp::from_millis(Timestamp::now().millis() + ms)
}

fn empty_run(job: &ClaimedJob, owner: &str, outcome: JobOutcome) -> JobRun {
    JobRun {
        job_id: job.id.clone(),
        lease_owner: owner.to_string(),
        outcome,
        provider_id: None,
        new_messages: Vec::new(),
        message_updates: Vec::new(),
        delivery_updates: Vec::new(),
        details: Vec::new(),
        removed_tokens: Vec::new(),
    }
}

fn state(id: &ObjectId, status: DeliveryStatus, attempts: u32) -> DeliveryUpdate {
    DeliveryUpdate {
        id: id.clone(),
        status,
        attempts,
        outcome: Some("retry".into()),
        http_status: Some(503),
        provider_code: None,
        provider_message_id: None,
        detail: Some("busy".into()),
        receipt_due_at: None,
    }
}

fn detail(text: &str, message: Option<&ObjectId>, retry: bool) -> NewExecutionDetail {
    NewExecutionDetail {
        id: ObjectId::new(),
        message_id: message.cloned(),
        provider_id: Some(ProviderId::Fcm),
        detail: text.to_string(),
        source: DetailSource::Internal,
        status: DetailStatus::Pending,
        is_retry: retry,
        raw: Some("{\"k\":1}".into()),
        created_at: Timestamp::now(),
    }
}

/// A subscriber `ada` with an FCM channel of two tokens, and an event to her; returns her push
/// job (claimed) and its context.
async fn push_job(store: &dyn Store, env: &Environment, owner: &str) -> (ClaimedJob, JobContext) {
    let fcm = create_integration(store, env, ProviderId::Fcm, "fcm", true).await;
    create_subscriber(store, env, "ada").await;
    write_credentials(
        store,
        env,
        "ada",
        &tokens_update(&fcm, CredentialsMode::Replace, Some(&["tok-a", "tok-b"])),
    )
    .await;
    accept(store, env, &event("tx", to(&["ada"]))).await;
    let jobs = store
        .claim_due_jobs(owner, 10, HOUR, Timestamp::now())
        .await
        .unwrap();
    for j in jobs {
        let ctx = store.load_job(&j).await.unwrap().unwrap();
        if ctx.job.step_index == 1 {
            return (j, ctx);
        }
    }
    panic!("no push job")
}

/// A claimed job is not claimed again while its lease runs; once it expires (a crashed worker)
/// another claim takes it, counting the run.
pub async fn a_claimed_job_is_claimed_again_only_after_its_lease_expires(store: &dyn Store) {
    let (env, _) = environments(store).await;
    accept(store, &env, &event("t", to(&["ada"]))).await;
    let first = store
        .claim_due_jobs("w1", 10, Duration::from_secs(60), Timestamp::now())
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    assert!(store
        .claim_due_jobs("w2", 10, HOUR, Timestamp::now())
        .await
        .unwrap()
        .is_empty());
    let state = store.queue_state().await.unwrap();
    assert!(
        state.next_due.is_some(),
        "a leased job becomes due at its lease's end"
    );
    let again = store
        .claim_due_jobs("w2", 10, HOUR, later(61_000))
        .await
        .unwrap();
    let ids: HashSet<_> = again.iter().map(|j| j.id.clone()).collect();
    assert_eq!(ids, first.iter().map(|j| j.id.clone()).collect());
    assert!(again.iter().all(|j| j.runs == 2));
    // The first worker lost its lease: its record is refused.
    assert!(!store
        .record_job_run(&empty_run(&first[0], "w1", JobOutcome::Completed))
        .await
        .unwrap());
    assert!(store
        .record_job_run(&empty_run(&first[0], "w2", JobOutcome::Completed))
        .await
        .unwrap());
}

/// A run recorded with a retry time makes the job due again at that time, not before; a
/// completed or failed job is never claimed again.
pub async fn a_recorded_retry_is_due_at_its_time_and_a_finished_job_never(store: &dyn Store) {
    let (env, _) = environments(store).await;
    accept(store, &env, &event("t", to(&["ada"]))).await;
    let jobs = claim_all(store, "w").await;
    let at = later(60_000);
    assert!(store
        .record_job_run(&empty_run(&jobs[0], "w", JobOutcome::RetryAt(at)))
        .await
        .unwrap());
    assert!(store
        .record_job_run(&empty_run(&jobs[1], "w", JobOutcome::Failed))
        .await
        .unwrap());
    assert!(
        !store
            .record_job_run(&empty_run(&jobs[1], "w", JobOutcome::Completed))
            .await
            .unwrap(),
        "a finished job holds no lease"
    );
    assert_eq!(store.queue_state().await.unwrap().next_due, Some(at));
    assert!(store
        .claim_due_jobs("w", 10, HOUR, Timestamp::now())
        .await
        .unwrap()
        .is_empty());
    let retried = store.claim_due_jobs("w", 10, HOUR, at).await.unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].id, jobs[0].id);
    assert_eq!(retried[0].runs, 2);
    assert!(store
        .record_job_run(&empty_run(&retried[0], "w", JobOutcome::Completed))
        .await
        .unwrap());
    assert!(store
        .claim_due_jobs("w", 10, HOUR, later(100 * 24 * 3_600_000))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.queue_state().await.unwrap().next_due, None);
}

/// Released jobs are due at once, for any worker.
pub async fn released_jobs_are_due_at_once(store: &dyn Store) {
    let (env, _) = environments(store).await;
    accept(store, &env, &event("t", to(&["ada"]))).await;
    let jobs = claim_all(store, "w1").await;
    let ids: Vec<ObjectId> = jobs.iter().map(|j| j.id.clone()).collect();
    store.release_jobs("someone-else", &ids).await.unwrap();
    assert!(
        claim_all(store, "w2").await.is_empty(),
        "only the holder releases"
    );
    store.release_jobs("w1", &ids).await.unwrap();
    let again = claim_all(store, "w2").await;
    assert_eq!(again.len(), 2);
    assert!(
        again.iter().all(|j| j.runs == 1),
        "a release does not count as a run"
    );
}

/// A job's context carries the subscriber's channels of the step's type as stored now, with
/// decrypted tokens and their keys, the integrations they are bound to, and what earlier runs
/// recorded (messages with the state of each delivery).
pub async fn a_job_sees_its_targets_and_what_earlier_runs_recorded(store: &dyn Store) {
    let (env, _) = environments(store).await;
    create_subscriber(store, &env, "ada").await;
    let slack = create_integration(store, &env, ProviderId::Slack, "slack", true).await;
    write_credentials(
        store,
        &env,
        "ada",
        &webhook_update(&slack, CredentialsMode::Replace, "https://hooks.example/x"),
    )
    .await;
    let (job, ctx) = push_job(store, &env, "w").await;
    assert_eq!(ctx.channels.len(), 1, "only push channels for a push step");
    let channel = &ctx.channels[0];
    assert_eq!(channel.provider_id, ProviderId::Fcm);
    let tokens: Vec<&str> = channel.tokens.iter().map(|t| t.token.as_str()).collect();
    assert_eq!(tokens, ["tok-a", "tok-b"]);
    assert_eq!(ctx.integrations.len(), 1);
    assert_eq!(ctx.integrations[0].id, channel.integration_id);
    assert_eq!(
        ctx.integrations[0].credentials.get("apiKey"),
        Some(&json!("key-fcm"))
    );
    // First run: one message, two deliveries, one sent and one pending.
    let message = ObjectId::new();
    let (d1, d2) = (ObjectId::new(), ObjectId::new());
    let mut run = empty_run(&job, "w", JobOutcome::RetryAt(Timestamp::now()));
    run.provider_id = Some(ProviderId::Fcm);
    run.new_messages.push(NewMessage {
        id: message.clone(),
        channel: ChannelType::Push,
        provider_id: ProviderId::Fcm,
        integration_id: channel.integration_id.clone(),
        content: "Body".into(),
        title: Some("Title".into()),
        webhook_hint: None,
        device_token_hints: strings(&["…tok-a", "…tok-b"]),
        overrides: Map::new(),
        status: MessageStatus::Warning,
        error_id: None,
        error_text: Some("retry scheduled".into()),
        deliveries: vec![
            NewDelivery {
                target: channel.tokens[0].hash.clone(),
                target_hint: "…tok-a".into(),
                state: state(&d1, DeliveryStatus::Sent, 1),
            },
            NewDelivery {
                target: channel.tokens[1].hash.clone(),
                target_hint: "…tok-b".into(),
                state: state(&d2, DeliveryStatus::Pending, 1),
            },
        ],
    });
    run.details
        .push(detail("Message created: fcm", Some(&message), false));
    assert!(store.record_job_run(&run).await.unwrap());
    let again = store
        .claim_due_jobs("w", 10, HOUR, Timestamp::now())
        .await
        .unwrap();
    let again = again
        .into_iter()
        .find(|j| j.id == job.id)
        .expect("due again");
    let ctx = store.load_job(&again).await.unwrap().unwrap();
    assert_eq!(ctx.messages.len(), 1);
    let m = &ctx.messages[0];
    assert_eq!(
        (m.id.clone(), m.content.as_str(), m.title.as_deref()),
        (message.clone(), "Body", Some("Title"))
    );
    let states: Vec<(ObjectId, DeliveryStatus, u32)> = m
        .deliveries
        .iter()
        .map(|d| (d.id.clone(), d.status, d.attempts))
        .collect();
    assert_eq!(
        states,
        [
            (d1.clone(), DeliveryStatus::Sent, 1),
            (d2.clone(), DeliveryStatus::Pending, 1)
        ]
    );
    assert_eq!(m.deliveries[1].target, channel.tokens[1].hash);
    // Second run: the pending delivery is sent; the message and the job complete.
    let mut run = empty_run(&again, "w", JobOutcome::Completed);
    run.delivery_updates
        .push(state(&d2, DeliveryStatus::Sent, 2));
    run.message_updates.push(MessageUpdate {
        id: message.clone(),
        status: MessageStatus::Sent,
        error_id: None,
        error_text: None,
    });
    run.details
        .push(detail("Message sent: fcm", Some(&message), true));
    assert!(store.record_job_run(&run).await.unwrap());
    let (messages, total) = store
        .list_messages(
            &env.id,
            &MessageQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(total, 1);
    let m = &messages[0];
    assert_eq!(m.status, MessageStatus::Sent);
    assert_eq!(m.error_text, None);
    assert_eq!(m.subscriber_id, "ada");
    assert_eq!(m.transaction_id, "tx");
    assert_eq!(m.device_token_hints, strings(&["…tok-a", "…tok-b"]));
    assert_eq!(m.payload.get("id"), Some(&json!(42)));
    let n = store
        .get_notification(&env.id, &m.notification_id)
        .await
        .unwrap()
        .expect("the notification");
    let push = n
        .jobs
        .iter()
        .find(|j| j.id == job.id)
        .expect("the push job");
    assert_eq!(push.status, JobStatus::Completed);
    assert_eq!(push.provider_id, Some(ProviderId::Fcm));
    let texts: Vec<(&str, bool)> = push
        .details
        .iter()
        .map(|d| (d.detail.as_str(), d.is_retry))
        .collect();
    assert_eq!(
        texts,
        [("Message created: fcm", false), ("Message sent: fcm", true)]
    );
    let details = store
        .execution_details(&env.id, &n.id, "ada")
        .await
        .unwrap()
        .expect("a known subscriber");
    assert_eq!(details.len(), 2);
    assert!(details
        .iter()
        .all(|d| d.message_id.as_ref() == Some(&message)));
    assert_eq!(details[0].raw.as_deref(), Some("{\"k\":1}"));
}

/// A token removed after the first run is no longer among the job's targets.
pub async fn a_job_sees_tokens_as_stored_now(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let (job, ctx) = push_job(store, &env, "w").await;
    let fcm = ctx.integrations[0].clone();
    write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm, CredentialsMode::Replace, Some(&["tok-b"])),
    )
    .await;
    let ctx = store.load_job(&job).await.unwrap().unwrap();
    let tokens: Vec<&str> = ctx.channels[0]
        .tokens
        .iter()
        .map(|t| t.token.as_str())
        .collect();
    assert_eq!(tokens, ["tok-b"]);
    store.delete_subscriber(&env.id, "ada").await.unwrap();
    let ctx = store.load_job(&job).await.unwrap().unwrap();
    assert!(ctx.subscriber.is_none());
    assert!(ctx.channels.is_empty());
}

/// A run that prunes a dead token removes it from the job's subscriber only (another subscriber
/// holding the same token through another integration keeps it), in the same transaction.
pub async fn a_pruned_token_leaves_only_the_jobs_subscriber(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let (job, ctx) = push_job(store, &env, "w").await;
    let fcm = ctx.integrations[0].clone();
    let other = create_integration(store, &env, ProviderId::Fcm, "fcm-2", true).await;
    create_subscriber(store, &env, "bob").await;
    write_credentials(
        store,
        &env,
        "bob",
        &tokens_update(&other, CredentialsMode::Replace, Some(&["tok-a"])),
    )
    .await;
    let before = store.get_subscriber(&env.id, "ada").await.unwrap().unwrap();
    let dead = ctx.channels[0].tokens[0].clone();
    assert_eq!(dead.token, "tok-a");
    let mut run = empty_run(&job, "w", JobOutcome::Completed);
    run.removed_tokens.push(crate::delivery::job::TokenRemoval {
        integration_id: fcm.id.clone(),
        token_hash: dead.hash.clone(),
    });
    assert!(store.record_job_run(&run).await.unwrap());
    let ada = store.get_subscriber(&env.id, "ada").await.unwrap().unwrap();
    assert_eq!(tokens_of(&ada, &fcm.id), strings(&["tok-b"]));
    assert!(ada.updated_at >= before.updated_at);
    let bob = store.get_subscriber(&env.id, "bob").await.unwrap().unwrap();
    assert_eq!(tokens_of(&bob, &other.id), strings(&["tok-a"]));
}

/// Messages are listed newest first, filtered by subscriber, channel and transaction, paged
/// with the total; an unknown subscriber is `None`; deleted messages disappear.
pub async fn messages_are_listed_filtered_and_deleted(store: &dyn Store) {
    let (env, _) = environments(store).await;
    for (i, sub) in ["ada", "bob", "ada"].iter().enumerate() {
        accept(store, &env, &event(&format!("t{i}"), to(&[sub]))).await;
    }
    for job in claim_all(store, "w").await {
        let ctx = store.load_job(&job).await.unwrap().unwrap();
        let channel = if ctx.job.step_index == 0 {
            ChannelType::Chat
        } else {
            ChannelType::Push
        };
        let mut run = empty_run(&job, "w", JobOutcome::Completed);
        run.new_messages.push(NewMessage {
            id: ObjectId::new(),
            channel,
            provider_id: if channel == ChannelType::Chat {
                ProviderId::Slack
            } else {
                ProviderId::Fcm
            },
            integration_id: ObjectId::new(),
            content: format!("{} {}", ctx.event.transaction_id, ctx.job.step_index),
            title: None,
            webhook_hint: None,
            device_token_hints: Vec::new(),
            overrides: Map::new(),
            status: MessageStatus::Sent,
            error_id: None,
            error_text: None,
            deliveries: Vec::new(),
        });
        assert!(store.record_job_run(&run).await.unwrap());
    }
    let env_id = env.id.clone();
    let list = |q: MessageQuery| {
        let env_id = env_id.clone();
        async move {
            store
                .list_messages(&env_id, &MessageQuery { limit: 100, ..q })
                .await
                .unwrap()
        }
    };
    let (all, total) = list(MessageQuery::default()).await.unwrap();
    assert_eq!((all.len(), total), (6, 6));
    let created: Vec<i64> = all.iter().map(|m| m.created_at.millis()).collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let (ada, _) = list(MessageQuery {
        subscriber_id: Some("ada".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(ada.len(), 4);
    let (chat, _) = list(MessageQuery {
        channel: Some(ChannelType::Chat),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(chat.len() == 3 && chat.iter().all(|m| m.provider_id == ProviderId::Slack));
    let (tx, total) = list(MessageQuery {
        transaction_ids: strings(&["t0", "t1"]),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!((tx.len(), total), (4, 4));
    assert!(list(MessageQuery {
        subscriber_id: Some("nobody".into()),
        ..Default::default()
    })
    .await
    .is_none());
    let (page, total) = store
        .list_messages(
            &env.id,
            &MessageQuery {
                page: 1,
                limit: 4,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((page.len(), total), (2, 6));
    let of_t2 = all
        .iter()
        .find(|m| m.transaction_id == "t2")
        .expect("t2's message");
    assert!(store.delete_message(&env.id, &of_t2.id).await.unwrap());
    assert!(!store.delete_message(&env.id, &of_t2.id).await.unwrap());
    assert_eq!(
        store
            .delete_messages_by_transaction(&env.id, "t0", Some(ChannelType::Push))
            .await
            .unwrap(),
        1
    );
    let (left, total) = list(MessageQuery::default()).await.unwrap();
    assert_eq!((left.len(), total), (4, 4));
    let notes = store
        .list_notifications(
            &env.id,
            &NotificationQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(notes.len(), 3, "one notification per (event, subscriber)");
    assert!(notes
        .iter()
        .all(|n| n.jobs.len() == 2 && n.channels == [ChannelType::Chat, ChannelType::Push]));
    let bob = store
        .list_notifications(
            &env.id,
            &NotificationQuery {
                subscriber_ids: strings(&["bob"]),
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].transaction_id, "t1");
    let one = store
        .list_notifications(
            &env.id,
            &NotificationQuery {
                limit: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(one.len(), 2, "limit + 1 tells that more exist");
}

/// Another environment sees none of the pipeline's records and cannot change them.
pub async fn delivery_records_are_invisible_from_another_environment(store: &dyn Store) {
    let (env, other) = environments(store).await;
    let (job, ctx) = push_job(store, &env, "w").await;
    let message = ObjectId::new();
    let mut run = empty_run(&job, "w", JobOutcome::Completed);
    run.new_messages.push(NewMessage {
        id: message.clone(),
        channel: ChannelType::Push,
        provider_id: ProviderId::Fcm,
        integration_id: ctx.channels[0].integration_id.clone(),
        content: "x".into(),
        title: None,
        webhook_hint: None,
        device_token_hints: Vec::new(),
        overrides: Map::new(),
        status: MessageStatus::Sent,
        error_id: None,
        error_text: None,
        deliveries: Vec::new(),
    });
    assert!(store.record_job_run(&run).await.unwrap());
    create_subscriber(store, &other, "ada").await;
    let (msgs, total) = store
        .list_messages(
            &other.id,
            &MessageQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert!(msgs.is_empty() && total == 0);
    assert!(!store.delete_message(&other.id, &message).await.unwrap());
    assert_eq!(
        store
            .delete_messages_by_transaction(&other.id, "tx", None)
            .await
            .unwrap(),
        0
    );
    assert!(store
        .list_notifications(
            &other.id,
            &NotificationQuery {
                limit: 10,
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .get_notification(&other.id, &ctx.job.notification_id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .execution_details(&other.id, &ctx.job.notification_id, "ada")
            .await
            .unwrap(),
        Some(Vec::new())
    );
    let foreign = ClaimedJob {
        environment_id: other.id.clone(),
        ..job.clone()
    };
    assert!(store.load_job(&foreign).await.unwrap().is_none());
    assert!(store.delete_message(&env.id, &message).await.unwrap());
}

/// Workers claiming at once never get the same job.
pub async fn concurrent_claims_never_hand_out_a_job_twice(store: Arc<dyn Store>, spawn: Spawn) {
    let (env, _) = environments(&*store).await;
    let ids: Vec<String> = (0..20).map(|i| format!("s{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    accept(&*store, &env, &event("many", to(&refs))).await;
    let claimed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let tasks: Vec<_> = (0..4)
        .map(|w| {
            let (store, claimed) = (store.clone(), claimed.clone());
            spawn(Box::pin(async move {
                for _ in 0..100 {
                    let batch = store
                        .claim_due_jobs(&format!("w{w}"), 3, HOUR, Timestamp::now())
                        .await
                        .unwrap();
                    if batch.is_empty() {
                        break;
                    }
                    claimed
                        .lock()
                        .unwrap()
                        .extend(batch.into_iter().map(|j| j.id));
                }
            }))
        })
        .collect();
    for t in tasks {
        t.await;
    }
    let claimed = claimed.lock().unwrap();
    assert_eq!(claimed.len(), 40);
    let distinct: HashSet<&ObjectId> = claimed.iter().collect();
    assert_eq!(distinct.len(), 40);
}
