//! Crash durability, on the real binary: an acknowledged write survives the process being killed
//! (SIGKILL, so no shutdown code runs) in the middle of a concurrent load, and the database is
//! whole afterwards.
//!
//! Each case starts `herald` on a fresh database, drives concurrent writes from several workers,
//! kills the process once enough of them were acknowledged (counted through a channel, no
//! timers), starts a new process on the same database, and checks that every write answered
//! 2xx is there. A write whose answer never arrived may or may not be stored; both are fine.
//!
//! A killed process keeps what it handed to the kernel, so this proves "acknowledged means
//! committed" (no answer before the commit, nothing lost in a writer queue), not power-loss
//! safety, which `synchronous=FULL` covers and a test cannot simulate.

#[macro_use]
mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use support::{all_subscribers, device_tokens, Api, Backend, Database, HeraldProcess};

both_backends!(
    acknowledged_token_appends_survive_a_sigkill,
    acknowledged_subscriber_creations_survive_a_sigkill,
);

/// Concurrent workers (one subscriber each for token appends, which keeps every channel under
/// the 100-token limit).
const WORKERS: usize = 8;
/// Requests per worker: 400 in all.
const PER_WORKER: usize = 50;
/// The process is killed once this many writes were acknowledged, with most of the load to go.
const KILL_AFTER: usize = 100;

/// What one worker writes: the `i`-th item of worker `w`.
#[derive(Clone, Copy)]
enum Load {
    /// `PATCH /v1/subscribers/sub-{w}/credentials` appending token `w{w}-t{i}`.
    AppendToken,
    /// `POST /v1/subscribers` creating `w{w}-s{i}`.
    CreateSubscriber,
}

impl Load {
    /// Sends one write. `Some(item)` when acknowledged, `None` when the connection failed (the
    /// server is gone). Any other answer is a bug and fails the test.
    async fn send(self, api: &Api, w: usize, i: usize) -> Option<String> {
        let (rb, item, ok) = match self {
            Load::AppendToken => {
                let token = format!("w{w}-t{i:03}");
                let body = json!({"providerId": "fcm", "credentials": {"deviceTokens": [token]}});
                let rb = api
                    .request(
                        reqwest::Method::PATCH,
                        &format!("/v1/subscribers/sub-{w}/credentials"),
                    )
                    .json(&body);
                (rb, token, 200)
            }
            Load::CreateSubscriber => {
                let id = format!("w{w}-s{i:03}");
                let rb = api
                    .request(reqwest::Method::POST, "/v1/subscribers")
                    .json(&json!({"subscriberId": id, "firstName": "Load"}));
                (rb, id, 201)
            }
        };
        let res = api.try_send(rb).await.ok()?;
        assert_eq!(res.status, ok, "{item}: {}", res.text);
        Some(item)
    }
}

/// Runs the load against `server` and kills it (SIGKILL) after [`KILL_AFTER`] acknowledgements.
/// Returns the acknowledged items of each worker.
async fn load_until_killed(server: HeraldProcess, load: Load) -> Vec<Vec<String>> {
    let (acked_tx, mut acked_rx) = mpsc::unbounded_channel();
    let mut workers = JoinSet::new();
    for w in 0..WORKERS {
        let api = server.api.clone();
        let acked_tx = acked_tx.clone();
        workers.spawn(async move {
            let mut acked = Vec::new();
            for i in 0..PER_WORKER {
                let Some(item) = load.send(&api, w, i).await else {
                    break;
                };
                acked.push(item);
                let _ = acked_tx.send(());
            }
            (w, acked)
        });
    }
    drop(acked_tx);
    for n in 0..KILL_AFTER {
        acked_rx.recv().await.unwrap_or_else(|| {
            panic!("the load ended after {n} acknowledged writes, before the kill")
        });
    }
    server.kill().await;
    let mut per_worker = vec![Vec::new(); WORKERS];
    while let Some(done) = workers.join_next().await {
        let (w, acked) = done.expect("a worker panicked");
        per_worker[w] = acked;
    }
    let total: usize = per_worker.iter().map(Vec::len).sum();
    assert!(total >= KILL_AFTER, "{total} acknowledged");
    assert!(
        total < WORKERS * PER_WORKER,
        "the kill landed after the whole load was acknowledged"
    );
    per_worker
}

/// `PRAGMA integrity_check` and `foreign_key_check` on a SQLite file no process has open.
fn assert_sqlite_file_is_whole(db: &Database) {
    let Some(file) = db.sqlite_file() else { return };
    let conn = rusqlite::Connection::open(file).expect("opening the database file");
    let integrity: Vec<String> = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| {
            s.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .expect("integrity_check");
    assert_eq!(integrity, ["ok"]);
    let violations: usize = conn
        .prepare("PRAGMA foreign_key_check")
        .and_then(|mut s| Ok(s.query_map([], |_| Ok(()))?.count()))
        .expect("foreign_key_check");
    assert_eq!(violations, 0, "foreign key violations");
}

async fn acknowledged_token_appends_survive_a_sigkill(backend: Backend) {
    let Some(db) = Database::fresh(backend).await else {
        return;
    };
    let server = HeraldProcess::start(&db, &[]).await;
    let api = server.api.clone();
    let res = api
        .post(
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "active": true}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    for w in 0..WORKERS {
        let res = api
            .post(
                "/v1/subscribers",
                json!({"subscriberId": format!("sub-{w}")}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
    }

    let acked = load_until_killed(server, Load::AppendToken).await;

    let server = HeraldProcess::start(&db, &[]).await;
    for (w, acked) in acked.iter().enumerate() {
        let res = server.api.get(&format!("/v1/subscribers/sub-{w}")).await;
        let stored = device_tokens(res.data(200), "fcm");
        let unique: BTreeSet<&String> = stored.iter().collect();
        assert_eq!(unique.len(), stored.len(), "duplicate tokens: {stored:?}");
        let missing: Vec<&String> = acked.iter().filter(|t| !unique.contains(t)).collect();
        assert!(
            missing.is_empty(),
            "sub-{w} lost acknowledged tokens {missing:?}"
        );
        // Nothing but this worker's tokens, and only ones it sent.
        let sent: BTreeSet<String> = (0..PER_WORKER).map(|i| format!("w{w}-t{i:03}")).collect();
        assert!(
            stored.iter().all(|t| sent.contains(t)),
            "sub-{w} holds tokens it was never sent: {stored:?}"
        );
    }
    server.kill().await;
    assert_sqlite_file_is_whole(&db);
}

async fn acknowledged_subscriber_creations_survive_a_sigkill(backend: Backend) {
    let Some(db) = Database::fresh(backend).await else {
        return;
    };
    let server = HeraldProcess::start(&db, &[]).await;

    let acked = load_until_killed(server, Load::CreateSubscriber).await;

    let server = HeraldProcess::start(&db, &[]).await;
    for id in acked.iter().flatten() {
        let res = server.api.get(&format!("/v1/subscribers/{id}")).await;
        assert_eq!(
            res.data(200)["subscriberId"],
            json!(id),
            "acknowledged subscriber {id} after the restart"
        );
    }
    // The list reads whole: each id once, every one of them sent by a worker.
    let listed = all_subscribers(&server.api).await;
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in &listed {
        *counts
            .entry(s["subscriberId"].as_str().expect("subscriberId"))
            .or_default() += 1;
    }
    let repeated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "listed twice: {repeated:?}");
    let acked_count = acked.iter().map(Vec::len).sum::<usize>();
    assert!(listed.len() >= acked_count, "{} listed", listed.len());
    assert!(
        listed.iter().all(|s| s["firstName"] == "Load"),
        "a subscriber not written by the load"
    );
    server.kill().await;
    assert_sqlite_file_is_whole(&db);
}
