//! Searches whose cost has a bound (issue 14): needles of at most 256 characters, scans on
//! connections of their own so that point reads and authentication are answered while any
//! number of searches run, and on PostgreSQL every statement under the statement timeout and a
//! search cancelled on the server when its client goes away.
//!
//! Scans are made slow by data (names of 50,000 characters, so comparing a needle costs each row
//! real work) or, on PostgreSQL, held by a lock on `topics` that only topic reads wait for. The
//! tests assert on order and readiness (a read answered while searches are still outstanding,
//! statements seen waiting in `pg_stat_activity`), never on sleeps.

use std::time::{Duration, Instant};

use herald::ServerSettings;
use herald_core::{NewSubscriber, Profile};
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::{App, Backend, StoreOptions};

both_backends!(
    search_needles_over_256_characters_are_refused_and_256_are_served,
    subscribers_are_read_and_keys_authenticated_at_once_while_slow_searches_run,
);

async fn search_needles_over_256_characters_are_refused_and_256_are_served(backend: Backend) {
    let Some(app) = App::spawn(backend, ServerSettings::default()).await else {
        return;
    };
    let api = &app.dev;
    let (fits, over) = ("é".repeat(256), "é".repeat(257));
    for param in ["name", "email", "phone", "subscriberId"] {
        let res = api.get(&format!("/v2/subscribers?{param}={over}")).await;
        res.assert_error(
            400,
            json!([format!(
                "{param} must be shorter than or equal to 256 characters"
            )]),
        );
        let res = api.get(&format!("/v2/subscribers?{param}={fits}")).await;
        assert_eq!(res.status, 200, "{param}: {}", res.brief());
    }
    let res = api
        .get(&format!("/v2/subscribers?name={over}&email={over}&limit=5"))
        .await;
    res.assert_error(
        400,
        json!([
            "email must be shorter than or equal to 256 characters",
            "name must be shorter than or equal to 256 characters",
        ]),
    );
    for list in [
        "/v2/workflows",
        "/v1/workflows",
        "/v1/notification-templates",
    ] {
        let res = api.get(&format!("{list}?query={over}")).await;
        res.assert_error(
            400,
            json!(["query must be shorter than or equal to 256 characters"]),
        );
        let res = api.get(&format!("{list}?query={fits}")).await;
        assert_eq!(res.status, 200, "{list}: {}", res.brief());
    }
    let res = api.get(&format!("/v2/topics?name={over}")).await;
    res.assert_error(
        400,
        json!(["name must be shorter than or equal to 256 characters"]),
    );
    let res = api.get(&format!("/v2/topics?name={fits}")).await;
    assert_eq!(res.status, 200, "{}", res.brief());
}

/// `n` subscribers `slow-{i}` whose first and last names are `len` characters long, written
/// through the store (the API would take a request each).
async fn seed_long_names(app: &App, n: usize, len: usize) {
    let env = app
        .store
        .list_environments()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.name == "Development")
        .unwrap();
    let items: Vec<NewSubscriber> = (0..n)
        .map(|i| NewSubscriber {
            subscriber_id: format!("slow-{i}"),
            profile: Profile {
                first_name: herald_core::Field::Value(format!("{i}{}", "x".repeat(len))),
                last_name: herald_core::Field::Value(format!("{i}{}", "y".repeat(len))),
                ..Default::default()
            },
        })
        .collect();
    for chunk in items.chunks(50) {
        app.store
            .bulk_upsert_subscribers(&env.id, &env.organization_id, chunk)
            .await
            .unwrap();
    }
}

async fn subscribers_are_read_and_keys_authenticated_at_once_while_slow_searches_run(
    backend: Backend,
) {
    let Some(app) = App::spawn(backend, ServerSettings::default()).await else {
        return;
    };
    seed_long_names(&app, 200, 50_000).await;
    let res = app
        .dev
        .post("/v1/subscribers", json!({"subscriberId": "ada"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.brief());

    // More searches than there are scan connections (SQLite) or scan permits (PostgreSQL),
    // each comparing a 256-character needle with 200 names of 50,000 characters.
    const SEARCHES: usize = 16;
    let path = format!("/v2/subscribers?name={}", "q".repeat(256));
    let (done, mut finished) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    for _ in 0..SEARCHES {
        let (api, path, done) = (app.dev.clone(), path.clone(), done.clone());
        tokio::spawn(async move {
            let res = api.get(&path).await;
            let _ = done.send(res.status);
        });
    }
    // Readiness: once one search is answered, the others are running or queued behind it.
    assert_eq!(finished.recv().await, Some(200));
    let first_search = started.elapsed();

    let read_at = Instant::now();
    let res = app.dev.get("/v1/subscribers/ada").await;
    let read = read_at.elapsed();
    assert_eq!(res.status, 200, "{}", res.brief());
    // The Production key has not been used yet: its first request authenticates against the
    // store, not the cache.
    let auth_at = Instant::now();
    app.prod
        .get("/v1/subscribers/ada")
        .await
        .assert_error(404, json!("Subscriber not found for id ada"));
    let authenticated = auth_at.elapsed();

    let mut answered = 1;
    while let Ok(status) = finished.try_recv() {
        assert_eq!(status, 200);
        answered += 1;
    }
    assert!(
        answered < SEARCHES,
        "the point read and the authentication waited for every search ({answered} answered)"
    );
    for _ in answered..SEARCHES {
        assert_eq!(finished.recv().await, Some(200));
    }
    eprintln!(
        "{backend:?}: first of {SEARCHES} searches after {first_search:?}, all after {:?}; \
         GET /v1/subscribers/ada took {read:?} and a first authentication {authenticated:?} \
         with {} searches still outstanding",
        started.elapsed(),
        SEARCHES - answered
    );
}

/// Another session holding `ACCESS EXCLUSIVE` on `topics` (only topic reads wait for it).
async fn lock_topics(url: &str) -> PgConnection {
    let mut conn = PgConnection::connect(url).await.unwrap();
    conn.execute("BEGIN; LOCK TABLE topics IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    conn
}

/// Polls (a bounded loop of queries, no sleeps) until `n` statements of this database wait for a
/// lock.
async fn until_waiting(watcher: &mut PgConnection, n: i64) {
    let mut last = -1;
    for _ in 0..20_000 {
        last = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut *watcher)
        .await
        .unwrap();
        if last == n {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("never saw {n} statements waiting on a lock (last: {last})");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_search_stuck_past_the_statement_timeout_answers_503_in_novus_format() {
    let options = StoreOptions {
        statement_timeout: Some(Duration::from_millis(300)),
    };
    let Some(app) = App::spawn_with(Backend::Postgres, ServerSettings::default(), options).await
    else {
        return;
    };
    let lock = lock_topics(app.db.url()).await;
    let res = app.dev.get("/v2/topics?name=news").await;
    res.assert_error(
        503,
        json!("the database did not answer in time; try again later"),
    );
    assert_eq!(res.body["error"], "Service Unavailable");
    // Subscribers do not wait for the lock: their reads are answered meanwhile.
    let res = app.dev.get("/v2/subscribers?name=ada").await;
    assert_eq!(res.status, 200, "{}", res.brief());
    drop(lock);
    let res = app.dev.get("/v2/topics?name=news").await;
    assert_eq!(res.status, 200, "{}", res.brief());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_search_whose_client_disconnects_is_cancelled_on_the_server() {
    // No statement timeout: only the cancel can end the blocked statement.
    let options = StoreOptions {
        statement_timeout: None,
    };
    let Some(app) = App::spawn_with(Backend::Postgres, ServerSettings::default(), options).await
    else {
        return;
    };
    let lock = lock_topics(app.db.url()).await;
    let mut watcher = PgConnection::connect(app.db.url()).await.unwrap();
    let mut client = TcpStream::connect(app.dev.addr).await.unwrap();
    let key = app.dev.key().unwrap().to_string();
    client
        .write_all(
            format!(
                "GET /v2/topics?name=news HTTP/1.1\r\nHost: herald\r\n\
                 Authorization: ApiKey {key}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    until_waiting(&mut watcher, 1).await;
    // The client goes away; its statement is cancelled while the lock is still held.
    drop(client);
    until_waiting(&mut watcher, 0).await;
    drop(lock);
    let res = app.dev.get("/v2/topics?name=news").await;
    assert_eq!(res.status, 200, "{}", res.brief());
}
