//! PostgreSQL-specific behaviour the conformance suite cannot express: migrations, connection
//! errors, and several Herald processes (simulated by several `PgStore`s, each with its own pool)
//! sharing one database.

use std::sync::Arc;

use herald_core::{
    ChannelCredentials, ChannelType, CredentialsMode, CredentialsUpdate, EnvironmentStore,
    IntegrationStore, KeyHash, NewIntegration, NewSubscriber, ObjectId, Profile, ProviderId,
    SubscriberPatch, SubscriberStore,
};
use herald_store_postgres::test_support::test_database;
use herald_store_postgres::{migrate, PgConfig, PgStore, MIGRATIONS};
use sqlx::{Connection, PgConnection};

async fn applied_versions(url: &str) -> Vec<i64> {
    let mut conn = PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_recorded_once_and_rerunning_them_does_nothing() {
    let Some(db) = test_database().await else {
        return;
    };
    let store = db.connect().await;
    let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(applied_versions(db.url()).await, all);

    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    assert!(migrate(&mut conn).await.unwrap().is_empty());
    drop(store);
    let _again = db.connect().await;
    assert_eq!(applied_versions(db.url()).await, all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connects_to_a_fresh_database_migrate_it_once() {
    let Some(db) = test_database().await else {
        return;
    };
    let cfg = db.config();
    let connects: Vec<_> = (0..4)
        .map(|_| {
            let cfg = cfg.clone();
            tokio::spawn(async move { PgStore::connect(&cfg).await })
        })
        .collect();
    for c in connects {
        c.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
    }
    let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(applied_versions(db.url()).await, all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_migrated_by_a_newer_herald_is_refused_with_a_readable_message() {
    let Some(db) = test_database().await else {
        return;
    };
    drop(db.connect().await);
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = PgStore::connect(&db.config())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot migrate the PostgreSQL database at ")
            && err.ends_with(
                "schema version 999, newer than the 1 this Herald knows; upgrade Herald"
            ),
        "{err}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_one_line_naming_host_and_port_but_not_the_password() {
    // Bind then drop: nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = PgConfig::new(format!("postgres://herald:hunter2@127.0.0.1:{port}/herald"));
    let err = PgStore::connect(&cfg).await.unwrap_err().to_string();
    assert_eq!(
        err,
        format!("cannot connect to PostgreSQL at 127.0.0.1:{port}: connection refused")
    );
    assert!(!err.contains("hunter2") && !err.contains('\n'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_database_name_is_reported_by_the_server_message() {
    let Some(db) = test_database().await else {
        return;
    };
    let url = format!("{}_missing", db.url());
    let err = PgStore::connect(&PgConfig::new(url)).await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("cannot connect to PostgreSQL at ") && msg.contains("does not exist"),
        "{msg}"
    );
}

/// Two stores on one database, as two Herald processes would have.
async fn two_processes() -> Option<(PgStore, PgStore)> {
    let db = test_database().await?;
    Some((db.connect().await, db.connect().await))
}

async fn push_integration(store: &PgStore, env: &ObjectId) -> ObjectId {
    push_integration_result(store, env).await.unwrap().id
}

fn subscriber(id: &str) -> NewSubscriber {
    NewSubscriber {
        subscriber_id: id.into(),
        profile: Profile::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_process_is_read_through_the_other() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let env = ObjectId::new();
    let (created, was_new) = a
        .upsert_subscriber(&env, &env, &subscriber("s1"), &SubscriberPatch::default())
        .await
        .unwrap();
    assert!(was_new);
    let read = b.get_subscriber(&env, "s1").await.unwrap().unwrap();
    assert_eq!(read, created);
    let integration = push_integration(&b, &env).await;
    let found = a
        .find_active_integration(&env, ProviderId::Fcm, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, integration);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_appends_across_two_processes_keep_every_token() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let env = ObjectId::new();
    a.upsert_subscriber(&env, &env, &subscriber("s1"), &SubscriberPatch::default())
        .await
        .unwrap();
    let integration = push_integration(&a, &env).await;
    let (a, b, env) = (Arc::new(a), Arc::new(b), Arc::new(env));
    let appends: Vec<_> = (0..50)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let env = env.clone();
            let update = CredentialsUpdate {
                provider_id: ProviderId::Fcm,
                integration_id: integration.clone(),
                credentials: ChannelCredentials {
                    device_tokens: Some(vec![format!("token-{i}")]),
                    ..Default::default()
                },
                mode: CredentialsMode::Append,
            };
            tokio::spawn(async move { store.update_credentials(&env, "s1", &update).await })
        })
        .collect();
    for append in appends {
        append.await.unwrap().unwrap().unwrap();
    }
    let stored = a.get_subscriber(&env, "s1").await.unwrap().unwrap();
    assert_eq!(stored.channels.len(), 1);
    let mut tokens = stored.channels[0]
        .credentials
        .device_tokens
        .clone()
        .unwrap();
    assert_eq!(tokens.len(), 50);
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_through_one_process_fails_authentication_in_the_other() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let dev = KeyHash::of("dev");
    let envs = a
        .bootstrap(&dev, &KeyHash::of("prod"))
        .await
        .unwrap()
        .unwrap();
    let ctx = b.authenticate(&dev).await.unwrap().expect("valid key");
    assert_eq!(ctx.environment_id, envs[0].id);
    assert!(a.revoke_api_key(&ctx.api_key_id).await.unwrap());
    assert_eq!(b.authenticate(&dev).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_bootstraps_in_two_processes_create_one_organization() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let (dev, prod) = (KeyHash::of("d"), KeyHash::of("p"));
    let (ra, rb) = tokio::join!(a.bootstrap(&dev, &prod), b.bootstrap(&dev, &prod));
    let created = [ra.unwrap(), rb.unwrap()];
    assert_eq!(created.iter().filter(|c| c.is_some()).count(), 1);
    assert_eq!(a.list_environments().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_upserts_of_one_id_in_two_processes_create_it_once() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let env = ObjectId::new();
    let (a, b) = (Arc::new(a), Arc::new(b));
    let upserts: Vec<_> = (0..10)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let env = env.clone();
            tokio::spawn(async move {
                store
                    .upsert_subscriber(&env, &env, &subscriber("same"), &SubscriberPatch::default())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut created = 0;
    let mut ids = Vec::new();
    for u in upserts {
        let (s, was_new) = u.await.unwrap();
        created += usize::from(was_new);
        ids.push(s.id);
    }
    assert_eq!(created, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creates_of_one_identifier_in_two_processes_let_exactly_one_win() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let env = ObjectId::new();
    let (ra, rb) = tokio::join!(
        push_integration_result(&a, &env),
        push_integration_result(&b, &env)
    );
    let results = [ra, rb];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(results
        .iter()
        .any(|r| matches!(r, Err(herald_core::StoreError::Conflict(_)))));
    assert_eq!(a.list_integrations(&env).await.unwrap().len(), 1);
}

async fn push_integration_result(
    store: &PgStore,
    env: &ObjectId,
) -> herald_core::StoreResult<herald_core::Integration> {
    let new = NewIntegration {
        provider_id: ProviderId::Fcm,
        channel: ChannelType::Push,
        name: "FCM".into(),
        identifier: "fcm-1".into(),
        credentials: Default::default(),
        active: true,
        conditions: vec![],
    };
    store.create_integration(env, env, &new).await
}
