//! Several processes, one database: two real `herald` processes (the binary, on `127.0.0.1:0`)
//! serving the same PostgreSQL database with the same seeded key, as behind a load balancer.
//! A write through one is read through the other at once, concurrent token appends split across
//! both lose nothing, a key revoked with `herald keys revoke` stops working on both within the
//! auth cache time, and two processes starting together on an empty database create one
//! organization.
//!
//! PostgreSQL only: SQLite is embedded and serves one node, so there is nothing to share and these
//! cases have no SQLite variant. Without PostgreSQL each test returns early after the support
//! crate's skip notice (a failure under `HERALD_TEST_REQUIRE_POSTGRES=1`). Server processes are
//! killed when dropped, so a failed assertion leaves no orphan.

#[path = "multiprocess/cli.rs"]
mod cli;
// `both_backends!` is for cases that also run on SQLite; none here do.
#[allow(unused_macros)]
mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_core::KeyHash;
use serde_json::json;
use tokio::sync::Barrier;
use tokio::task::JoinSet;

use support::{device_tokens, Api, Backend, Database, HeraldProcess, Output, DEV_KEY};

/// A fresh PostgreSQL database with process `a` started on it (which bootstraps it) and then
/// process `b`, both with `extra` arguments. `None` when PostgreSQL is unavailable.
async fn two_processes(extra: &[&str]) -> Option<(Database, HeraldProcess, HeraldProcess)> {
    let db = Database::fresh(Backend::Postgres).await?;
    let a = HeraldProcess::start(&db, extra).await;
    let b = HeraldProcess::start(&db, extra).await;
    Some((db, a, b))
}

/// An active FCM integration, so subscribers can hold FCM device tokens.
async fn add_fcm_integration(api: &Api) {
    let res = api
        .post(
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "active": true}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.brief());
}

fn append_token(token: &str) -> serde_json::Value {
    json!({"providerId": "fcm", "credentials": {"deviceTokens": [token]}})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_one_process_are_read_through_the_other_at_once() {
    let Some((_db, a, b)) = two_processes(&[]).await else {
        return;
    };
    add_fcm_integration(&a.api).await;

    let res = a
        .api
        .post(
            "/v1/subscribers",
            json!({"subscriberId": "ada", "firstName": "Ada", "email": "ada@example.com"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.brief());
    // No retry: the first read through B must see A's committed write.
    let res = b.api.get("/v1/subscribers/ada").await;
    let ada = res.data(200);
    assert_eq!(ada["subscriberId"], "ada");
    assert_eq!(ada["firstName"], "Ada");
    assert_eq!(ada["email"], "ada@example.com");

    let res = b
        .api
        .patch("/v1/subscribers/ada/credentials", append_token("via-b"))
        .await;
    assert_eq!(res.status, 200, "{}", res.brief());
    let res = a.api.get("/v1/subscribers/ada").await;
    assert_eq!(device_tokens(res.data(200), "fcm"), ["via-b"]);
}

/// Appends through the two processes, all released at once by a barrier.
const APPENDS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_token_appends_split_across_two_processes_keep_every_token() {
    let Some((_db, a, b)) = two_processes(&[]).await else {
        return;
    };
    add_fcm_integration(&a.api).await;
    let res = b
        .api
        .post("/v1/subscribers", json!({"subscriberId": "shared"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.brief());

    let barrier = Arc::new(Barrier::new(APPENDS));
    let mut appends = JoinSet::new();
    for i in 0..APPENDS {
        // Interleaved: even tokens through A, odd ones through B, 25 each.
        let api = if i % 2 == 0 { &a.api } else { &b.api }.clone();
        let barrier = barrier.clone();
        appends.spawn(async move {
            let token = format!("token-{i:02}");
            barrier.wait().await;
            let res = api
                .patch("/v1/subscribers/shared/credentials", append_token(&token))
                .await;
            assert_eq!(res.status, 200, "{token} via {}: {}", api.addr, res.brief());
        });
    }
    while let Some(done) = appends.join_next().await {
        done.expect("an append panicked");
    }

    let expected: BTreeSet<String> = (0..APPENDS).map(|i| format!("token-{i:02}")).collect();
    for server in [&a, &b] {
        let res = server.api.get("/v1/subscribers/shared").await;
        let stored = device_tokens(res.data(200), "fcm");
        assert_eq!(stored.len(), APPENDS, "via {}: {stored:?}", server.addr);
        let stored: BTreeSet<String> = stored.into_iter().collect();
        assert_eq!(stored, expected, "via {}", server.addr);
    }
}

/// Creates a second Development key with the CLI and shows it works on both processes; returns
/// it with the API of each process authenticated by it.
async fn second_key_in_use(
    db: &Database,
    a: &HeraldProcess,
    b: &HeraldProcess,
) -> (cli::CreatedKey, [Api; 2]) {
    let created = cli::create_key(db, "Development").await;
    assert_ne!(created.key, DEV_KEY);
    let apis = [a.api.with_key(&created.key), b.api.with_key(&created.key)];
    for api in &apis {
        let res = api.get("/v1/subscribers").await;
        assert_eq!(res.status, 200, "new key via {}: {}", api.addr, res.brief());
    }
    (created, apis)
}

/// After a revocation: `herald keys list` shows the key revoked, and the seeded key, which shares
/// its environment, still works on both processes.
async fn only_the_revoked_key_is_refused(
    db: &Database,
    revoked: &str,
    a: &HeraldProcess,
    b: &HeraldProcess,
) {
    let keys = cli::list_keys(db).await;
    let row = keys
        .iter()
        .find(|k| k.id == revoked)
        .unwrap_or_else(|| panic!("{revoked} not listed: {keys:?}"));
    assert_eq!(row.environment, "Development", "{row:?}");
    assert!(row.revoked.is_some(), "{row:?}");
    for server in [a, b] {
        let res = server.api.get("/v1/subscribers").await;
        assert_eq!(
            res.status,
            200,
            "seeded key via {}: {}",
            server.addr,
            res.brief()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_by_every_process_on_the_very_next_request_without_a_cache() {
    let Some((db, a, b)) = two_processes(&["--auth-cache-ttl", "0"]).await else {
        return;
    };
    let (created, apis) = second_key_in_use(&db, &a, &b).await;

    cli::revoke_key(&db, &created.id).await;

    for api in &apis {
        let res = api.get("/v1/subscribers").await;
        res.assert_error(401, json!("API Key not found"));
    }
    only_the_revoked_key_is_refused(&db, &created.id, &a, &b).await;
}

/// How long a process may keep accepting a revoked key with `--auth-cache-ttl 1`: the cache
/// time plus generous room for a loaded machine. The bound is the behaviour under test.
const REVOCATION_BOUND: Duration = Duration::from_secs(3);
/// Pause between tries while a process still accepts the revoked key (its cache is warm).
const POLL_PAUSE: Duration = Duration::from_millis(50);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_stops_working_on_every_process_within_the_cache_time() {
    let Some((db, a, b)) = two_processes(&["--auth-cache-ttl", "1"]).await else {
        return;
    };
    // Using the key on both processes caches it there as valid.
    let (created, apis) = second_key_in_use(&db, &a, &b).await;

    cli::revoke_key(&db, &created.id).await;
    let revoked_at = Instant::now();

    for api in &apis {
        loop {
            let res = api.get("/v1/subscribers").await;
            if res.status == 401 {
                res.assert_error(401, json!("API Key not found"));
                break;
            }
            // Until the cached entry expires the key still works, and nothing else happens.
            assert_eq!(res.status, 200, "via {}: {}", api.addr, res.brief());
            assert!(
                revoked_at.elapsed() < REVOCATION_BOUND,
                "{} still accepts the revoked key {:?} after the revocation",
                api.addr,
                revoked_at.elapsed()
            );
            tokio::time::sleep(POLL_PAUSE).await;
        }
        // Refused for good, not just once.
        let res = api.get("/v1/subscribers").await;
        res.assert_error(401, json!("API Key not found"));
    }
    only_the_revoked_key_is_refused(&db, &created.id, &a, &b).await;
}

/// The line the bootstrapping process prints before the new keys.
const CREATED_ORGANIZATION: &str = "Herald created your organization";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_starting_together_on_an_empty_database_create_one_organization() {
    let Some(db) = Database::fresh(Backend::Postgres).await else {
        return;
    };
    // Both race through migrations and bootstrap; each start panics if its process exits.
    let (a, b) = tokio::join!(
        HeraldProcess::start(&db, &[]),
        HeraldProcess::start(&db, &[])
    );
    for server in [&a, &b] {
        let res = server.api.get("/v1/subscribers").await;
        assert_eq!(res.status, 200, "via {}: {}", server.addr, res.brief());
    }
    let outputs: [Output; 2] = [a.kill().await, b.kill().await];

    // One winner printed the new Production key (the Development one is the seeded key).
    let winners: Vec<&Output> = outputs
        .iter()
        .filter(|o| o.stdout.contains(CREATED_ORGANIZATION))
        .collect();
    assert_eq!(winners.len(), 1, "{outputs:#?}");
    for o in &outputs {
        assert!(
            !o.stderr.lines().any(|l| l.contains("ERROR")),
            "a process logged an error:\n{}",
            o.stderr
        );
    }
    let production_key = winners[0]
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Production"))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no Production key in {:?}", winners[0].stdout));

    // Exactly one organization with its two environments, and their two keys: the seeded
    // Development key and the printed Production one.
    let store = db.open().await;
    let envs = store.list_environments().await.expect("environments");
    let names: Vec<&str> = envs.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["Development", "Production"], "{envs:?}");
    assert_eq!(envs[0].organization_id, envs[1].organization_id);
    let keys = cli::list_keys(&db).await;
    let mut key_envs: Vec<&str> = keys.iter().map(|k| k.environment.as_str()).collect();
    key_envs.sort_unstable();
    assert_eq!(key_envs, ["Development", "Production"], "{keys:?}");
    assert!(keys.iter().all(|k| k.revoked.is_none()), "{keys:?}");
    for (key, env) in [(DEV_KEY, &envs[0]), (production_key, &envs[1])] {
        let ctx = store
            .authenticate(&KeyHash::of(key))
            .await
            .expect("authenticate")
            .unwrap_or_else(|| panic!("the {} key is not stored", env.name));
        assert_eq!(ctx.environment_id, env.id, "{}", env.name);
    }
    store.close().await;
}
