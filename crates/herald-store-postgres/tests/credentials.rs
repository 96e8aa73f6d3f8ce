//! PostgreSQL credentials writes beyond the conformance suite: the response is built from what
//! the write read plus the merged channel (not read back), and the write is guarded by the
//! subscriber row's version, so these tests pin that the response is exactly what `GET` returns
//! next, and that a write whose read went stale is redone rather than applied to stale data.

use std::time::{Duration, Instant};

use herald_core::{
    ChannelCredentials, ChannelType, CredentialsMode, CredentialsUpdate, IntegrationStore,
    NewIntegration, NewSubscriber, ObjectId, Profile, ProviderId, Subscriber, SubscriberPatch,
    SubscriberStore,
};
use herald_store_postgres::test_support::test_database;
use herald_store_postgres::PgStore;
use sqlx::{Connection, PgConnection};

use CredentialsMode::{Append, Replace};

async fn integration(
    store: &PgStore,
    env: &ObjectId,
    provider: ProviderId,
    name: &str,
) -> ObjectId {
    let new = NewIntegration {
        provider_id: provider,
        channel: ChannelType::Push,
        name: name.into(),
        identifier: name.into(),
        credentials: Default::default(),
        active: true,
        conditions: vec![],
    };
    store.create_integration(env, env, &new).await.unwrap().id
}

async fn subscriber(store: &PgStore, env: &ObjectId, id: &str) {
    let new = NewSubscriber {
        subscriber_id: id.into(),
        profile: Profile::default(),
    };
    store
        .upsert_subscriber(env, env, &new, &SubscriberPatch::default())
        .await
        .unwrap();
}

fn tokens(integration: &ObjectId, mode: CredentialsMode, tokens: &[&str]) -> CredentialsUpdate {
    CredentialsUpdate {
        provider_id: ProviderId::Fcm,
        integration_id: integration.clone(),
        credentials: ChannelCredentials {
            device_tokens: Some(tokens.iter().map(|t| t.to_string()).collect()),
            ..Default::default()
        },
        mode,
        ownership: herald_core::TokenOwnership::Move,
    }
}

fn tokens_of(s: &Subscriber, integration: &ObjectId) -> Vec<String> {
    let channel = s.channels.iter().find(|c| &c.integration_id == integration);
    channel
        .and_then(|c| c.credentials.device_tokens.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_credentials_response_is_what_get_returns_next() {
    let Some(db) = test_database().await else {
        return;
    };
    let store = db.connect().await;
    let env = ObjectId::new();
    subscriber(&store, &env, "ada").await;
    let fcm = integration(&store, &env, ProviderId::Fcm, "fcm-1").await;
    let fcm2 = integration(&store, &env, ProviderId::Fcm, "fcm-2").await;
    let apns = integration(&store, &env, ProviderId::Apns, "apns-1").await;
    let gone = integration(&store, &env, ProviderId::Fcm, "gone").await;
    assert!(store.delete_integration(&env, &gone).await.unwrap());

    let slack_fields = CredentialsUpdate {
        provider_id: ProviderId::Apns,
        integration_id: apns.clone(),
        credentials: ChannelCredentials {
            webhook_url: Some("https://hooks.example/1".into()),
            title: Some(String::new()),
            state: Some("s".into()),
            ..Default::default()
        },
        mode: Replace,
        ownership: herald_core::TokenOwnership::Move,
    };
    let steps = [
        ("a first channel", tokens(&fcm, Replace, &["a", "b"])),
        ("a second channel, no tokens", slack_fields.clone()),
        ("the same again: nothing changes", slack_fields),
        ("a third channel", tokens(&fcm2, Append, &["x"])),
        (
            "an append with repeats",
            tokens(&fcm, Append, &["c", "a", "c", "d"]),
        ),
        ("a reordering", tokens(&fcm, Replace, &["d", "a", "b"])),
        (
            "a put with repeats",
            tokens(&fcm, Replace, &["b", "e", "b", "a"]),
        ),
        ("a removal", tokens(&fcm, Replace, &["e", "a"])),
        ("an unchanged put", tokens(&fcm, Replace, &["e", "a"])),
        (
            "a channel of a deleted integration",
            tokens(&gone, Append, &["z"]),
        ),
        ("clearing", tokens(&fcm2, Replace, &[])),
        ("a put without tokens", {
            let mut u = tokens(&fcm, Replace, &[]);
            u.credentials.device_tokens = None;
            u
        }),
    ];
    for (what, update) in steps {
        let written = store
            .update_credentials(&env, "ada", &update)
            .await
            .unwrap()
            .unwrap();
        let read = store.get_subscriber(&env, "ada").await.unwrap().unwrap();
        assert_eq!(written, read, "after {what}");
    }
    let s = store.get_subscriber(&env, "ada").await.unwrap().unwrap();
    let order: Vec<_> = s.channels.iter().map(|c| &c.integration_id).collect();
    assert_eq!(
        order,
        [&fcm, &apns, &fcm2, &gone],
        "channels in insertion order"
    );
    assert_eq!(s.channels[3].integration_identifier, None);
    assert_eq!(s.channels[0].credentials.device_tokens, Some(vec![]));
}

/// Waits until some session of this database waits for a lock.
async fn someone_waits_for_a_lock(conn: &mut PgConnection) {
    let start = Instant::now();
    loop {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "nobody waits");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_whose_read_went_stale_is_redone_on_the_current_tokens() {
    let Some(db) = test_database().await else {
        return;
    };
    let store = db.connect().await;
    let env = ObjectId::new();
    subscriber(&store, &env, "ada").await;
    let fcm = integration(&store, &env, ProviderId::Fcm, "fcm-1").await;
    store
        .update_credentials(&env, "ada", &tokens(&fcm, Replace, &["a", "b"]))
        .await
        .unwrap();

    // Another writer, mid-transaction: it removed the tokens and holds the subscriber row.
    let mut other = PgConnection::connect(db.url()).await.unwrap();
    let mut tx = other.begin().await.unwrap();
    let pk: i64 = sqlx::query_scalar(
        "UPDATE subscribers SET updated_at = updated_at + 1
         WHERE environment_id = $1 AND subscriber_id = 'ada' RETURNING pk",
    )
    .bind(env.as_str())
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    sqlx::query("DELETE FROM device_tokens WHERE subscriber_pk = $1")
        .bind(pk)
        .execute(&mut *tx)
        .await
        .unwrap();

    // The append reads ["a", "b"] (the delete is not committed) and then waits for the row.
    let append = {
        let store = store.clone();
        let env = env.clone();
        let update = tokens(&fcm, Append, &["c"]);
        tokio::spawn(async move { store.update_credentials(&env, "ada", &update).await })
    };
    let mut watcher = PgConnection::connect(db.url()).await.unwrap();
    someone_waits_for_a_lock(&mut watcher).await;
    tx.commit().await.unwrap();

    let written = append.await.unwrap().unwrap().unwrap();
    assert_eq!(tokens_of(&written, &fcm), ["c"]);
    assert_eq!(
        written,
        store.get_subscriber(&env, "ada").await.unwrap().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_racing_a_delete_of_the_subscriber_finds_nobody() {
    let Some(db) = test_database().await else {
        return;
    };
    let store = db.connect().await;
    let env = ObjectId::new();
    subscriber(&store, &env, "ada").await;
    let fcm = integration(&store, &env, ProviderId::Fcm, "fcm-1").await;

    let mut other = PgConnection::connect(db.url()).await.unwrap();
    let mut tx = other.begin().await.unwrap();
    sqlx::query(
        "UPDATE subscribers SET deleted = TRUE, deleted_at = 1
         WHERE environment_id = $1 AND subscriber_id = 'ada'",
    )
    .bind(env.as_str())
    .execute(&mut *tx)
    .await
    .unwrap();
    let put = {
        let store = store.clone();
        let env = env.clone();
        let update = tokens(&fcm, Replace, &["a"]);
        tokio::spawn(async move { store.update_credentials(&env, "ada", &update).await })
    };
    let mut watcher = PgConnection::connect(db.url()).await.unwrap();
    someone_waits_for_a_lock(&mut watcher).await;
    tx.commit().await.unwrap();

    assert_eq!(put.await.unwrap().unwrap(), None);
    let channels: i64 = sqlx::query_scalar("SELECT count(*) FROM subscriber_channels")
        .fetch_one(&mut watcher)
        .await
        .unwrap();
    assert_eq!(channels, 0, "nothing written for a deleted subscriber");
}
