//! Conformance of the delivery pipeline's event side ([`crate::delivery::EventStore`]): accepting a
//! trigger in one write, idempotency keys, transaction ids, fan-out pages and cancellation.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map};

use super::fixtures::*;
use super::Spawn;
use crate::delivery::event::{
    EventCreated, IdempotencyRecord, IdempotentResponse, NewEvent, Recipients, SnapshotOrigin,
    StepSnapshot, TopicRecipient, WorkflowSnapshot,
};
use crate::delivery::job::ClaimedJob;
use crate::topic::{NewSubscription, NewTopic};
use crate::{Environment, ObjectId, Store, Timestamp};

/// A workflow snapshot with a chat step and a push step.
pub(crate) fn two_step_workflow() -> WorkflowSnapshot {
    WorkflowSnapshot {
        id: ObjectId::new(),
        identifier: "order-shipped".into(),
        name: "Order shipped".into(),
        origin: SnapshotOrigin::V2,
        critical: false,
        steps: vec![
            StepSnapshot {
                id: ObjectId::new(),
                step_id: "chat-step".into(),
                name: "chat-step".into(),
                kind: "chat".into(),
                content: "Order {{payload.id}} shipped".into(),
                title: None,
                provider_overrides: Map::new(),
            },
            StepSnapshot {
                id: ObjectId::new(),
                step_id: "push-step".into(),
                name: "push-step".into(),
                kind: "push".into(),
                content: "Body".into(),
                title: Some("Title".into()),
                provider_overrides: Map::new(),
            },
        ],
    }
}

pub(crate) fn event(transaction_id: &str, recipients: Recipients) -> NewEvent {
    let mut payload = Map::new();
    payload.insert("id".into(), json!(42));
    NewEvent {
        id: ObjectId::new(),
        transaction_id: transaction_id.to_string(),
        workflow: two_step_workflow(),
        payload,
        overrides: Map::new(),
        actor: None,
        tenant: None,
        recipients,
        idempotency: None,
    }
}

pub(crate) fn to(ids: &[&str]) -> Recipients {
    Recipients {
        subscribers: strings(ids),
        ..Recipients::default()
    }
}

pub(crate) async fn accept(store: &dyn Store, env: &Environment, e: &NewEvent) -> u64 {
    match store
        .create_event(&env.id, &env.organization_id, e)
        .await
        .unwrap()
    {
        EventCreated::Created { notifications } => notifications,
        other => panic!("expected the event to be created, got {other:?}"),
    }
}

/// Every job due now, claimed for `owner` (several claims, so the limit is exercised too).
pub(crate) async fn claim_all(store: &dyn Store, owner: &str) -> Vec<ClaimedJob> {
    let mut all = Vec::new();
    for _ in 0..1000 {
        let batch = store
            .claim_due_jobs(owner, 7, Duration::from_secs(3600), Timestamp::now())
            .await
            .unwrap();
        if batch.is_empty() {
            return all;
        }
        all.extend(batch);
    }
    panic!("claims never ran dry")
}

/// Expands every fan-out page by page; returns how many pages were expanded.
pub(crate) async fn expand_all(store: &dyn Store, page: usize) -> usize {
    for pages in 0..10_000 {
        if !store.expand_fan_out(page).await.unwrap().expanded {
            return pages;
        }
    }
    panic!("fan-out never finished")
}

/// The subscriber ids the claimed jobs are for.
async fn subscribers_of(store: &dyn Store, jobs: &[ClaimedJob]) -> Vec<String> {
    let mut out = Vec::new();
    for j in jobs {
        let ctx = store
            .load_job(j)
            .await
            .unwrap()
            .expect("a claimed job loads");
        out.push(ctx.job.subscriber_id);
    }
    out.sort();
    out
}

/// A trigger reaches each named subscriber with one queued job per step, and creates the
/// subscribers it does not know (with just their id).
pub async fn create_event_reaches_named_subscribers_with_one_job_per_step(store: &dyn Store) {
    let (env, _) = environments(store).await;
    create_subscriber(store, &env, "ada").await;
    let e = event("t-1", to(&["ada", "new-one"]));
    assert_eq!(accept(store, &env, &e).await, 2);
    let created = store
        .get_subscriber(&env.id, "new-one")
        .await
        .unwrap()
        .expect("an unknown recipient is created");
    assert_eq!(created.profile, crate::Profile::default());
    let jobs = claim_all(store, "w").await;
    assert_eq!(jobs.len(), 4, "two subscribers × two steps");
    let mut steps = HashSet::new();
    for j in &jobs {
        assert_eq!(j.environment_id, env.id);
        assert_eq!(j.runs, 1);
        let ctx = store.load_job(j).await.unwrap().expect("loads");
        assert_eq!(ctx.event.transaction_id, "t-1");
        assert_eq!(ctx.event.payload.get("id"), Some(&json!(42)));
        assert_eq!(ctx.event.workflow, e.workflow);
        assert!(!ctx.event.canceled);
        assert!(ctx.messages.is_empty());
        assert!(ctx.subscriber.is_some());
        steps.insert((ctx.job.subscriber_id.clone(), ctx.job.step_index));
    }
    assert_eq!(steps.len(), 4, "each (subscriber, step) once");
}

/// A second event with a used `transactionId` writes nothing.
pub async fn create_event_with_a_taken_transaction_id_writes_nothing(store: &dyn Store) {
    let (env, other) = environments(store).await;
    accept(store, &env, &event("dup", to(&["ada"]))).await;
    let again = store
        .create_event(&env.id, &env.organization_id, &event("dup", to(&["bob"])))
        .await
        .unwrap();
    assert_eq!(again, EventCreated::DuplicateTransaction);
    assert!(store
        .get_subscriber(&env.id, "bob")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        claim_all(store, "w").await.len(),
        2,
        "only the first event's jobs"
    );
    // Transaction ids are per environment.
    assert_eq!(accept(store, &other, &event("dup", to(&["ada"]))).await, 1);
}

fn record(key: &str, hash: &str, body: &str) -> IdempotencyRecord {
    IdempotencyRecord {
        key: key.to_string(),
        response: IdempotentResponse {
            request_hash: hash.to_string(),
            status: 201,
            body: body.to_string(),
            created_at: Timestamp::now(),
        },
    }
}

/// An `Idempotency-Key` is written with its event; a second event under the same key writes
/// nothing and returns the stored answer. Keys are per environment.
pub async fn an_idempotency_key_is_stored_with_its_event_and_replayed(store: &dyn Store) {
    let (env, other) = environments(store).await;
    let mut first = event("t-1", to(&["ada"]));
    first.idempotency = Some(record("k1", "h1", "{\"first\":true}"));
    accept(store, &env, &first).await;
    let stored = store
        .idempotent_response(&env.id, "k1")
        .await
        .unwrap()
        .expect("stored with the event");
    assert_eq!((stored.request_hash.as_str(), stored.status), ("h1", 201));
    assert_eq!(stored.body, "{\"first\":true}");
    let mut second = event("t-2", to(&["bob"]));
    second.idempotency = Some(record("k1", "h2", "{}"));
    match store
        .create_event(&env.id, &env.organization_id, &second)
        .await
        .unwrap()
    {
        EventCreated::Replay(r) => assert_eq!(r.request_hash, "h1"),
        other => panic!("expected a replay, got {other:?}"),
    }
    assert!(store
        .get_subscriber(&env.id, "bob")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .idempotent_response(&other.id, "k1")
        .await
        .unwrap()
        .is_none());
    let mut elsewhere = event("t-1", to(&["ada"]));
    elsewhere.idempotency = Some(record("k1", "h3", "{}"));
    accept(store, &other, &elsewhere).await;
    // An answer stored without an event (e.g. `trigger_not_active`) is kept the same way.
    assert_eq!(
        store
            .save_idempotent_response(&env.id, &record("k2", "h", "{\"n\":1}"))
            .await
            .unwrap(),
        None
    );
    let earlier = store
        .save_idempotent_response(&env.id, &record("k2", "other", "{}"))
        .await
        .unwrap()
        .expect("the key is taken");
    assert_eq!(earlier.request_hash, "h");
}

/// A duplicate transaction id rolls back the idempotency record written with it.
pub async fn a_refused_event_leaves_its_idempotency_key_free(store: &dyn Store) {
    let (env, _) = environments(store).await;
    accept(store, &env, &event("dup", to(&["ada"]))).await;
    let mut again = event("dup", to(&["ada"]));
    again.idempotency = Some(record("k", "h", "{}"));
    assert_eq!(
        store
            .create_event(&env.id, &env.organization_id, &again)
            .await
            .unwrap(),
        EventCreated::DuplicateTransaction
    );
    assert!(store
        .idempotent_response(&env.id, "k")
        .await
        .unwrap()
        .is_none());
}

async fn topic_with(store: &dyn Store, env: &Environment, key: &str, members: &[&str]) {
    for m in members {
        create_subscriber(store, env, m).await;
    }
    store
        .create_topic(
            &env.id,
            &env.organization_id,
            &NewTopic {
                key: key.into(),
                name: Some(key.into()),
                data: None,
            },
        )
        .await
        .unwrap();
    let subs: Vec<NewSubscription> = members.iter().map(|m| NewSubscription::of(*m)).collect();
    store
        .add_topic_subscribers(&env.id, &env.organization_id, key, &subs, None)
        .await
        .unwrap();
}

/// Topic fan-out expands the members page by page, each subscriber once per event: a member also
/// named directly, or in a second topic, is reached once; excluded members and the event's
/// fan-out exclusions (the actor) are skipped; deleted subscribers are not reached.
pub async fn fan_out_reaches_each_topic_member_once_in_pages(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let members = ["m1", "m2", "m3", "m4", "m5", "m6", "m7"];
    topic_with(store, &env, "all", &members).await;
    topic_with(store, &env, "some", &["m1", "m2", "x1"]).await;
    store.delete_subscriber(&env.id, "m7").await.unwrap();
    let mut e = event("fan", to(&["m1"]));
    e.recipients.topics = vec![
        TopicRecipient {
            key: "all".into(),
            exclude: strings(&["m2"]),
        },
        TopicRecipient {
            key: "some".into(),
            exclude: Vec::new(),
        },
    ];
    e.recipients.fan_out_exclude = strings(&["m3"]);
    assert_eq!(accept(store, &env, &e).await, 1);
    let state = store.queue_state().await.unwrap();
    assert!(state.fan_outs_pending);
    let pages = expand_all(store, 2).await;
    assert!(pages >= 4, "seven members in pages of two: {pages} pages");
    assert!(!store.queue_state().await.unwrap().fan_outs_pending);
    let jobs = claim_all(store, "w").await;
    let reached = subscribers_of(store, &jobs).await;
    let expected: Vec<String> = [
        "m1", "m1", "m2", "m2", "m4", "m4", "m5", "m5", "m6", "m6", "x1", "x1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(reached, expected, "two jobs (steps) per subscriber reached");
    // Expanding again finds nothing to do.
    assert_eq!(expand_all(store, 2).await, 0);
}

/// A broadcast reaches every live subscriber of the environment, and only of that environment.
pub async fn broadcast_reaches_every_live_subscriber_of_the_environment(store: &dyn Store) {
    let (env, other) = environments(store).await;
    for s in ["a", "b", "c"] {
        create_subscriber(store, &env, s).await;
    }
    create_subscriber(store, &other, "elsewhere").await;
    store.delete_subscriber(&env.id, "c").await.unwrap();
    let e = NewEvent {
        recipients: Recipients {
            broadcast: true,
            ..Recipients::default()
        },
        ..event("b", Recipients::default())
    };
    assert_eq!(accept(store, &env, &e).await, 0);
    expand_all(store, 500).await;
    let reached = subscribers_of(store, &claim_all(store, "w").await).await;
    assert_eq!(reached, strings(&["a", "a", "b", "b"]));
}

/// Canceling stops unfinished fan-outs and cancels queued jobs; a second cancel (or an unknown
/// transaction, or another environment's) cancels nothing.
pub async fn cancel_event_cancels_what_has_not_run(store: &dyn Store) {
    let (env, other) = environments(store).await;
    topic_with(store, &env, "t", &["m1", "m2", "m3"]).await;
    let mut e = event("c", to(&["ada"]));
    e.recipients.topics = vec![TopicRecipient {
        key: "t".into(),
        exclude: Vec::new(),
    }];
    accept(store, &env, &e).await;
    store.expand_fan_out(1).await.unwrap();
    assert!(!store.cancel_event(&other.id, "c").await.unwrap());
    assert!(!store.cancel_event(&env.id, "unknown").await.unwrap());
    assert!(store.cancel_event(&env.id, "c").await.unwrap());
    assert!(!store.cancel_event(&env.id, "c").await.unwrap());
    assert_eq!(expand_all(store, 1).await, 0, "the fan-out was stopped");
    assert!(
        claim_all(store, "w").await.is_empty(),
        "queued jobs were canceled"
    );
}

/// Fan-outs running in several workers at once create each notification once.
pub async fn concurrent_fan_out_creates_each_notification_once(
    store: Arc<dyn Store>,
    spawn: Spawn,
) {
    let (env, _) = environments(&*store).await;
    let members: Vec<String> = (0..60).map(|i| format!("m{i}")).collect();
    let refs: Vec<&str> = members.iter().map(String::as_str).collect();
    topic_with(&*store, &env, "big", &refs).await;
    let mut e = event("race", Recipients::default());
    e.recipients.topics = vec![TopicRecipient {
        key: "big".into(),
        exclude: Vec::new(),
    }];
    accept(&*store, &env, &e).await;
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            spawn(Box::pin(async move {
                expand_all(&*store, 7).await;
            }))
        })
        .collect();
    for t in tasks {
        t.await;
    }
    let reached = subscribers_of(&*store, &claim_all(&*store, "w").await).await;
    assert_eq!(reached.len(), 120, "60 members × 2 steps, none twice");
    let distinct: HashSet<&String> = reached.iter().collect();
    assert_eq!(distinct.len(), 60);
}
