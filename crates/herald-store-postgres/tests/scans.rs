//! Scans (searches and lists) on PostgreSQL: every statement runs under the statement timeout, a
//! scan whose caller goes away is cancelled on the server, and scans never hold more than half the
//! pool, so point reads, authentication and writes always find a connection (issue 14).
//!
//! A scan is held deterministically by a lock: another connection takes `ACCESS EXCLUSIVE` on
//! `topics`, which only topic reads touch, so `search_topics` waits while subscriber reads and
//! writes do not. Readiness is read from `pg_stat_activity` in bounded loops, never waited for
//! with sleeps.

use std::time::Duration;

use herald_core::secrets::test_keyring;
use herald_core::topic::{CursorQuery, TopicFilter};
use herald_core::{
    Environment, EnvironmentStore, KeyHash, NewSubscriber, Profile, StoreError, SubscriberPatch,
    SubscriberStore, TopicStore,
};
use herald_store_postgres::test_support::{test_database, TestDatabase};
use herald_store_postgres::{PgConfig, PgStore};
use sqlx::{Connection, Executor, PgConnection};

/// A store on `db` with `max_connections` and `statement_timeout`, bootstrapped; its Development
/// environment.
async fn store(
    db: &TestDatabase,
    max_connections: u32,
    statement_timeout: Option<Duration>,
) -> (PgStore, Environment) {
    let cfg = PgConfig {
        max_connections,
        statement_timeout,
        acquire_timeout: Duration::from_secs(5),
        ..db.config()
    };
    let store = PgStore::connect(&cfg, test_keyring())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let envs = store
        .bootstrap(&KeyHash::of("dev-key"), &KeyHash::of("prod-key"))
        .await
        .unwrap()
        .expect("a fresh database");
    (store, envs[0].clone())
}

/// Another session holding `ACCESS EXCLUSIVE` on `topics` until it is dropped or committed.
async fn lock_topics(db: &TestDatabase) -> PgConnection {
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    conn.execute("BEGIN; LOCK TABLE topics IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    conn
}

/// Statements of this database waiting for a lock.
async fn waiting_on_locks(watcher: &mut PgConnection) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .fetch_one(watcher)
    .await
    .unwrap()
}

/// Polls until `waiting_on_locks` is `n` (a bounded loop of queries, no sleeps).
async fn until_waiting(watcher: &mut PgConnection, n: i64) {
    for _ in 0..20_000 {
        if waiting_on_locks(watcher).await == n {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!(
        "never saw {n} statements waiting on locks (last: {})",
        waiting_on_locks(watcher).await
    );
}

fn by_name(name: &str) -> TopicFilter {
    TopicFilter {
        key: None,
        name: Some(name.to_string()),
    }
}

fn first_page() -> CursorQuery {
    CursorQuery {
        after: None,
        before: None,
        limit: 10,
        descending: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_past_the_statement_timeout_is_cancelled_and_answers_busy() {
    let Some(db) = test_database().await else {
        return;
    };
    let (store, env) = store(&db, 4, Some(Duration::from_millis(300))).await;
    let lock = lock_topics(&db).await;
    let err = store
        .search_topics(&env.id, &by_name("news"), &first_page())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Busy(_)), "{err:?}");
    assert!(err.to_string().contains("statement timeout"), "{err}");
    drop(lock);
    let page = store
        .search_topics(&env.id, &by_name("news"), &first_page())
        .await
        .unwrap();
    assert!(page.items.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_search_is_cancelled_on_the_server() {
    let Some(db) = test_database().await else {
        return;
    };
    // No statement timeout: only the cancel can end the blocked statement.
    let (store, env) = store(&db, 4, None).await;
    let lock = lock_topics(&db).await;
    let mut watcher = PgConnection::connect(db.url()).await.unwrap();
    let search = {
        let (store, env) = (store.clone(), env.id.clone());
        tokio::spawn(async move {
            store
                .search_topics(&env, &by_name("news"), &first_page())
                .await
        })
    };
    until_waiting(&mut watcher, 1).await;
    // The request goes away (hyper drops the handler's future when its client disconnects).
    search.abort();
    assert!(search.await.unwrap_err().is_cancelled());
    // The statement is gone from the server while the lock it waited for is still held.
    until_waiting(&mut watcher, 0).await;
    drop(lock);
    // Its connection went back to the pool in working order.
    let page = store
        .search_topics(&env.id, &by_name("news"), &first_page())
        .await
        .unwrap();
    assert_eq!(page.total, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_hold_at_most_half_the_pool_and_point_reads_and_writes_keep_going() {
    let Some(db) = test_database().await else {
        return;
    };
    let (store, env) = store(&db, 4, None).await;
    let lock = lock_topics(&db).await;
    let mut watcher = PgConnection::connect(db.url()).await.unwrap();
    // Five searches: two hold a connection each (half the pool of four), blocked on the lock;
    // three wait for a scan permit without a connection.
    let searches: Vec<_> = (0..5)
        .map(|_| {
            let (store, env) = (store.clone(), env.id.clone());
            tokio::spawn(async move {
                store
                    .search_topics(&env, &by_name("news"), &first_page())
                    .await
            })
        })
        .collect();
    until_waiting(&mut watcher, 2).await;

    // While they are stuck, authentication, a point read and a write are answered.
    let auth = store.authenticate(&KeyHash::of("dev-key")).await.unwrap();
    assert_eq!(auth.map(|a| a.environment_id), Some(env.id.clone()));
    let (created, _) = store
        .upsert_subscriber(
            &env.id,
            &env.organization_id,
            &NewSubscriber {
                subscriber_id: "ada".into(),
                profile: Profile::default(),
            },
            &SubscriberPatch::default(),
        )
        .await
        .unwrap();
    let read = store.get_subscriber(&env.id, "ada").await.unwrap();
    assert_eq!(read.map(|s| s.id), Some(created.id));
    let listed_connections: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'herald'",
    )
    .fetch_one(&mut watcher)
    .await
    .unwrap();
    assert!(listed_connections <= 4, "{listed_connections}");
    assert!(
        searches.iter().all(|s| !s.is_finished()),
        "the searches are still blocked"
    );
    assert_eq!(
        waiting_on_locks(&mut watcher).await,
        2,
        "never more than two"
    );

    drop(lock);
    for search in searches {
        assert_eq!(search.await.unwrap().unwrap().total, 0);
    }
}

#[tokio::test]
async fn workflow_lists_are_scans_too() {
    use herald_core::workflow::{WorkflowOrder, WorkflowQuery, WorkflowStore};
    let Some(db) = test_database().await else {
        return;
    };
    let (store, env) = store(&db, 4, None).await;
    let mut lock = PgConnection::connect(db.url()).await.unwrap();
    lock.execute("BEGIN; LOCK TABLE workflows IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let mut watcher = PgConnection::connect(db.url()).await.unwrap();
    let query = WorkflowQuery {
        text: None,
        tags: Vec::new(),
        active: None,
        order: WorkflowOrder::CreatedAt,
        descending: true,
        offset: 0,
        limit: 10,
    };
    // Four lists: two hold the scan half of the pool, blocked on the lock; two wait for a permit.
    let lists: Vec<_> = (0..4)
        .map(|_| {
            let (store, env, query) = (store.clone(), env.id.clone(), query.clone());
            tokio::spawn(async move { store.list_workflows(&env, &query).await })
        })
        .collect();
    until_waiting(&mut watcher, 2).await;
    let auth = store.authenticate(&KeyHash::of("dev-key")).await.unwrap();
    assert_eq!(auth.map(|a| a.environment_id), Some(env.id.clone()));
    assert_eq!(
        waiting_on_locks(&mut watcher).await,
        2,
        "never more than two"
    );
    drop(lock);
    for list in lists {
        assert_eq!(list.await.unwrap().unwrap().1, 0);
    }
}
