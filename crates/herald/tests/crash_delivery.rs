//! Delivery survives a crash, on the real binary: a trigger to a topic of a few thousand
//! subscribers, the process killed (SIGKILL) in the middle of fan-out and sending, and then every
//! subscriber still receives its message — on SQLite after a restart, on PostgreSQL through a
//! second process sharing the database that takes over (the killed process's leased jobs come
//! back when their leases expire). Duplicates are bounded by what was in flight at the kill.
//!
//! The receiver stands in for Slack on `127.0.0.1` (allowed through `--outbound-allow`); the
//! test waits on the requests it counts, never on timers.

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use support::{Api, Backend, Database, HeraldProcess};

both_backends!(a_topic_trigger_reaches_everyone_after_a_sigkill_mid_delivery);

/// Subscribers in the topic.
const SUBSCRIBERS: usize = 3000;
/// The kill lands once this many messages were received.
const KILL_AFTER: usize = 300;
/// Jobs each process runs at once: at most this many can be sent and not yet recorded at the
/// kill, which bounds the duplicates.
const CONCURRENCY: usize = 8;
/// A guard against a hung run, not a wait: the test waits on the receiver's counts.
const DEADLINE: Duration = Duration::from_secs(300);

#[derive(Clone, Default)]
struct Counts {
    per_path: Arc<Mutex<BTreeMap<String, usize>>>,
}

/// A receiver counting requests per path and reporting each one on `seen`.
async fn receiver(seen: mpsc::UnboundedSender<()>) -> (String, Counts) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let counts = Counts::default();
    let state = (counts.clone(), seen);
    let app =
        axum::Router::new()
            .fallback(
                |State((counts, seen)): State<(Counts, mpsc::UnboundedSender<()>)>,
                 req: Request| async move {
                    *counts
                        .per_path
                        .lock()
                        .unwrap()
                        .entry(req.uri().path().to_string())
                        .or_default() += 1;
                    let _ = seen.send(());
                    "ok"
                },
            )
            .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, counts)
}

fn flags() -> Vec<&'static str> {
    vec![
        "--outbound-allow",
        "127.0.0.1",
        "--retry-initial-delay-ms",
        "0",
        "--worker-lease-seconds",
        "2",
        "--worker-poll-ms",
        "50",
        "--worker-concurrency",
        "8",
    ]
}

async fn setup(api: &Api, base: &str) {
    let res = api
        .post(
            "/v1/integrations",
            json!({"providerId": "slack", "channel": "chat", "active": true}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let ids: Vec<String> = (0..SUBSCRIBERS).map(|i| format!("s{i:05}")).collect();
    for chunk in ids.chunks(500) {
        let subscribers: Vec<_> = chunk
            .iter()
            .map(|id| {
                json!({"subscriberId": id, "channels": [{"providerId": "slack",
                        "credentials": {"webhookUrl": format!("{base}/hook/{id}")}}]})
            })
            .collect();
        let res = api
            .post("/v1/subscribers/bulk", json!({"subscribers": subscribers}))
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        let res = api
            .post(
                "/v1/topics/everyone/subscribers",
                json!({"subscribers": chunk}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
    }
    let res = api
        .post(
            "/v2/workflows",
            json!({"name": "Crash", "workflowId": "crash", "active": true,
                   "steps": [{"name": "chat", "type": "chat", "controlValues": {"body": "hi"}}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
}

/// Waits until every subscriber's hook was called at least once.
async fn until_everyone_received(seen: &mut mpsc::UnboundedReceiver<()>, counts: &Counts) {
    tokio::time::timeout(DEADLINE, async {
        loop {
            if counts.per_path.lock().unwrap().len() == SUBSCRIBERS {
                return;
            }
            seen.recv().await.expect("the receiver runs");
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "only {} of {SUBSCRIBERS} subscribers received their message",
            counts.per_path.lock().unwrap().len()
        )
    });
}

/// Polls the message count until it is `expected`, at most `DEADLINE`: the last records are
/// written after their sends, so no receiver event marks them.
async fn until_every_message_is_recorded(api: &Api, expected: usize) {
    let recorded = tokio::time::timeout(DEADLINE, async {
        loop {
            let res = api.get("/v1/messages?limit=1").await;
            assert_eq!(res.status, 200, "{}", res.text);
            if res.body["totalCount"] == json!(expected) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        recorded.is_ok(),
        "not every message was recorded within {DEADLINE:?}"
    );
}

async fn a_topic_trigger_reaches_everyone_after_a_sigkill_mid_delivery(backend: Backend) {
    let Some(db) = Database::fresh(backend).await else {
        return;
    };
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let (base, counts) = receiver(seen_tx).await;
    let first = HeraldProcess::start(&db, &flags()).await;
    // PostgreSQL: a second process works the same queue from the start and takes over.
    let second = match backend {
        Backend::Postgres => Some(HeraldProcess::start(&db, &flags()).await),
        Backend::Sqlite => None,
    };
    setup(&first.api, &base).await;
    let res = first
        .api
        .post(
            "/v1/events/trigger",
            json!({"name": "crash", "to": [{"type": "Topic", "topicKey": "everyone"}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.body["data"]["status"], "processed");
    for _ in 0..KILL_AFTER {
        seen.recv().await.expect("the receiver runs");
    }
    first.kill().await;
    let received_at_kill: usize = counts.per_path.lock().unwrap().values().sum();
    assert!(
        received_at_kill < SUBSCRIBERS,
        "the kill landed after everything was delivered ({received_at_kill})"
    );
    let survivor = match second {
        Some(p) => p,
        None => HeraldProcess::start(&db, &flags()).await,
    };
    until_everyone_received(&mut seen, &counts).await;
    // Every subscriber has its message, but a job the killed process sent and did not record
    // is still leased to it: the survivor sends it again once the lease expires and only then
    // records it. Wait for every message to be recorded (bounded by the deadline).
    until_every_message_is_recorded(&survivor.api, SUBSCRIBERS).await;
    let per_path = counts.per_path.lock().unwrap().clone();
    let total: usize = per_path.values().sum();
    let duplicates = total - SUBSCRIBERS;
    eprintln!("{backend:?}: {received_at_kill} received at the kill, {duplicates} duplicates");
    assert!(
        duplicates <= CONCURRENCY,
        "{duplicates} duplicates, more than the {CONCURRENCY} jobs that can be in flight"
    );
    // A graceful stop lets the last jobs record their runs; then the activity feed agrees:
    // one message per subscriber, every one sent.
    let (output, clean) = survivor.terminate().await;
    assert!(clean, "herald exits 0 on SIGTERM: {}", output.stderr);
    let reader = HeraldProcess::start(&db, &["--worker", "false"]).await;
    let res = reader.api.get("/v1/messages?limit=1").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["totalCount"], json!(SUBSCRIBERS));
    let res = reader.api.get("/v1/notifications?limit=100").await;
    for n in res.body["data"].as_array().expect("notifications") {
        assert_eq!(n["jobs"][0]["status"], "completed", "{n}");
    }
    reader.kill().await;
}

both_backends!(a_push_topic_trigger_prunes_dead_tokens_and_delivers_live_ones_across_a_sigkill);

/// Subscribers of the push case, each with a live token; every tenth has a dead one too.
const PUSH_SUBSCRIBERS: usize = 1000;
const RSA_KEY: &str = include_str!("../../herald-providers/tests/providers/keys/test-only-rsa.pem");

/// A fake FCM: an OAuth token endpoint, and `messages:send` answering `UNREGISTERED` for tokens
/// starting with `dead` and delivering the others; every send is counted per token.
async fn fake_fcm(seen: mpsc::UnboundedSender<()>) -> (String, Counts) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let counts = Counts::default();
    let state = (counts.clone(), seen);
    let app = axum::Router::new()
        .route(
            "/token",
            axum::routing::post(|| async {
                axum::Json(json!({"access_token": "at", "expires_in": 3600, "token_type": "Bearer"}))
            }),
        )
        .fallback(
            |State((counts, seen)): State<(Counts, mpsc::UnboundedSender<()>)>, body: axum::body::Bytes| async move {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let token = v["message"]["token"].as_str().unwrap_or_default().to_string();
                *counts.per_path.lock().unwrap().entry(token.clone()).or_default() += 1;
                let _ = seen.send(());
                if token.starts_with("dead") {
                    let err = json!({"error": {"code": 404, "message": "gone", "status": "NOT_FOUND",
                        "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                     "errorCode": "UNREGISTERED"}]}});
                    (axum::http::StatusCode::NOT_FOUND, axum::Json(err))
                } else {
                    (axum::http::StatusCode::OK, axum::Json(json!({"name": "projects/p/messages/1"})))
                }
            },
        )
        .with_state(state);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (base, counts)
}

async fn a_push_topic_trigger_prunes_dead_tokens_and_delivers_live_ones_across_a_sigkill(
    backend: Backend,
) {
    let Some(db) = Database::fresh(backend).await else {
        return;
    };
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let (base, counts) = fake_fcm(seen_tx).await;
    let env = [("HERALD_PROVIDER_ENDPOINT_FCM", base.as_str())];
    let flags = flags();
    let start = || {
        HeraldProcess::start_with_env(
            &db,
            &flags,
            Some(herald_core::secrets::TEST_SECRET_KEYS),
            &env,
        )
    };
    let first = start().await;
    let api = first.api.clone();
    let account = json!({"type": "service_account", "project_id": "p", "private_key_id": "k",
        "private_key": RSA_KEY, "client_email": "h@p.iam.gserviceaccount.com",
        "token_uri": format!("{base}/token")});
    let res = api
        .post(
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "active": true,
                   "credentials": {"serviceAccount": account.to_string()}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let ids: Vec<String> = (0..PUSH_SUBSCRIBERS).map(|i| format!("p{i:04}")).collect();
    let tokens = |i: usize| {
        let mut t = vec![format!("live-{i:04}")];
        if i.is_multiple_of(10) {
            t.push(format!("dead-{i:04}"));
        }
        t
    };
    for (n, chunk) in ids.chunks(500).enumerate() {
        let subscribers: Vec<_> = chunk
            .iter()
            .enumerate()
            .map(|(k, id)| {
                json!({"subscriberId": id, "channels": [{"providerId": "fcm",
                        "credentials": {"deviceTokens": tokens(n * 500 + k)}}]})
            })
            .collect();
        let res = api
            .post("/v1/subscribers/bulk", json!({"subscribers": subscribers}))
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        let res = api
            .post(
                "/v1/topics/phones/subscribers",
                json!({"subscribers": chunk}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
    }
    let res = api
        .post(
            "/v2/workflows",
            json!({"name": "Push", "workflowId": "push", "active": true,
                   "steps": [{"name": "push", "type": "push",
                              "controlValues": {"subject": "t", "body": "b"}}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let res = api
        .post(
            "/v1/events/trigger",
            json!({"name": "push", "to": {"type": "Topic", "topicKey": "phones"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    for _ in 0..150 {
        seen.recv().await.expect("the fake runs");
    }
    first.kill().await;
    let second = start().await;
    let dead = PUSH_SUBSCRIBERS / 10;
    tokio::time::timeout(DEADLINE, async {
        loop {
            if counts.per_path.lock().unwrap().len() == PUSH_SUBSCRIBERS + dead {
                return;
            }
            seen.recv().await.expect("the fake runs");
        }
    })
    .await
    .expect("every live and dead token was tried");
    // A job the killed process sent and did not record (its dead token not yet removed) runs
    // again once its lease expires: wait until every subscriber's message is recorded.
    until_every_message_is_recorded(&second.api, PUSH_SUBSCRIBERS).await;
    let (output, clean) = second.terminate().await;
    assert!(clean, "{}", output.stderr);
    let per_token = counts.per_path.lock().unwrap().clone();
    let total: usize = per_token.values().sum();
    assert!(
        total - (PUSH_SUBSCRIBERS + dead) <= CONCURRENCY * 2,
        "{} repeated sends",
        total - (PUSH_SUBSCRIBERS + dead)
    );
    // The dead tokens are gone, the live ones stay.
    let reader = HeraldProcess::start(&db, &["--worker", "false"]).await;
    for i in (0..PUSH_SUBSCRIBERS).step_by(10) {
        let res = reader.api.get(&format!("/v1/subscribers/p{i:04}")).await;
        assert_eq!(
            support::device_tokens(res.data(200), "fcm"),
            [format!("live-{i:04}")],
            "p{i:04}"
        );
    }
    reader.kill().await;
}
