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
