//! Encryption at rest on PostgreSQL, checked on what the tables hold: no credential is stored in
//! plain text in any table, a wrong key is refused at connect, a database from before encryption
//! is encrypted on first connect, and a key rotation run by one process never interrupts another
//! process's reads.

use std::time::Duration;

use herald_core::secrets::{test_keyring, KeyProvider, Keyring, SecretKey};
use herald_core::{
    ChannelCredentials, CredentialsMode, CredentialsUpdate, Environment, EnvironmentStore,
    Integration, IntegrationStore, KeyHash, NewIntegration, NewSubscriber, ObjectId, Profile,
    ProviderId, SecretStore, SubscriberPatch, SubscriberStore,
};
use herald_store_postgres::test_support::test_database;
use herald_store_postgres::{PgOpenError, PgStore, MIGRATIONS};
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};

const TOKEN: &str = "fcm-device-token-4f1e9a7c2b";
const WEBHOOK: &str = "https://hooks.slack.com/services/T0/B0/webhook-secret-8d2c";
const API_SECRET: &str = "provider-api-secret-93b7e1";

/// Every row of every table of the database, as text.
async fn all_rows(url: &str) -> String {
    let mut conn = PgConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(tables.contains(&"device_tokens".to_string()), "{tables:?}");
    let mut out = String::new();
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        out.push_str(&rows.join("\n"));
        out.push('\n');
    }
    out
}

/// The secret columns as stored, one string per value.
async fn stored_values(url: &str) -> Vec<String> {
    let mut conn = PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(
        "SELECT v FROM (
             SELECT webhook_url AS v FROM subscriber_channels UNION ALL
             SELECT channel FROM subscriber_channels UNION ALL
             SELECT token FROM device_tokens UNION ALL
             SELECT credentials FROM integrations) s
         WHERE v IS NOT NULL",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

fn assert_absent(rows: &str, secrets: &[&str]) {
    for secret in secrets {
        if let Some(line) = rows.lines().find(|l| l.contains(secret)) {
            panic!("{secret:?} is stored in plain text: {line}");
        }
    }
}

async fn environment(store: &PgStore) -> Environment {
    store
        .bootstrap(&KeyHash::of("d"), &KeyHash::of("p"))
        .await
        .unwrap()
        .unwrap()
        .remove(0)
}

fn integration(provider: ProviderId, secret: &str) -> NewIntegration {
    NewIntegration {
        provider_id: provider,
        channel: provider.channel(),
        name: provider.display_name().into(),
        identifier: provider.as_str().into(),
        credentials: json!({"apiKey": secret}).as_object().unwrap().clone(),
        active: true,
        conditions: Vec::new(),
    }
}

fn append(integration: &Integration, credentials: ChannelCredentials) -> CredentialsUpdate {
    CredentialsUpdate {
        provider_id: integration.provider_id,
        integration_id: integration.id.clone(),
        credentials,
        mode: CredentialsMode::Append,
        ownership: herald_core::TokenOwnership::Move,
    }
}

fn tokens(tokens: &[&str]) -> ChannelCredentials {
    ChannelCredentials {
        device_tokens: Some(tokens.iter().map(|t| t.to_string()).collect()),
        ..Default::default()
    }
}

/// A subscriber with an FCM token and a Slack webhook; integrations holding `API_SECRET`.
async fn write_secrets(store: &PgStore, env: &Environment) {
    let org = &env.organization_id;
    let fcm = store
        .create_integration(&env.id, org, &integration(ProviderId::Fcm, API_SECRET))
        .await
        .unwrap();
    let slack = store
        .create_integration(&env.id, org, &integration(ProviderId::Slack, "x"))
        .await
        .unwrap();
    let new = NewSubscriber {
        subscriber_id: "ada".into(),
        profile: Profile::default(),
    };
    store
        .upsert_subscriber(&env.id, org, &new, &SubscriberPatch::default())
        .await
        .unwrap();
    let webhook = ChannelCredentials {
        webhook_url: Some(WEBHOOK.into()),
        channel: Some("#secret-channel".into()),
        ..Default::default()
    };
    for update in [append(&fcm, tokens(&[TOKEN])), append(&slack, webhook)] {
        store
            .update_credentials(&env.id, "ada", &update)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_table_holds_a_secret_in_plain_text() {
    let Some(db) = test_database().await else {
        return;
    };
    let store = db.connect().await;
    let env = environment(&store).await;
    write_secrets(&store, &env).await;
    let ada = store.get_subscriber(&env.id, "ada").await.unwrap().unwrap();
    assert_eq!(
        ada.channels[0].credentials.device_tokens,
        Some(vec![TOKEN.to_string()])
    );
    assert_eq!(
        ada.channels[1].credentials.webhook_url.as_deref(),
        Some(WEBHOOK)
    );
    let key = test_keyring().primary().to_base64();
    let rows = all_rows(db.url()).await;
    assert!(rows.contains("hv2:"), "the secrets are there, encrypted");
    assert_absent(
        &rows,
        &[TOKEN, WEBHOOK, API_SECRET, "#secret-channel", &key],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_at_connect_with_one_clear_line() {
    let Some(db) = test_database().await else {
        return;
    };
    let store = db.connect().await;
    write_secrets(&store, &environment(&store).await).await;
    drop(store);
    let wrong = Keyring::new([SecretKey::generate()]).unwrap();
    let err = PgStore::connect(&db.config(), wrong.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, PgOpenError::Secrets(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "the secret key does not match this database (it was encrypted with key id {}; this \
             process holds key id {}); set HERALD_SECRET_KEY to the key this database was created with",
            test_keyring().primary().id(),
            wrong.primary().id()
        )
    );
    drop(db.connect().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_before_encryption_is_encrypted_on_first_connect() {
    let Some(db) = test_database().await else {
        return;
    };
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    conn.execute(sqlx::raw_sql(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    ))
    .await
    .unwrap();
    for m in &MIGRATIONS[..2] {
        conn.execute(sqlx::raw_sql(m.sql)).await.unwrap();
    }
    let plain = format!(
        "INSERT INTO schema_migrations VALUES (1, 0), (2, 0);
         INSERT INTO subscribers (id, environment_id, organization_id, subscriber_id,
             created_at, updated_at)
         VALUES ('5f0000000000000000000001', 'env', 'org', 'ada', 0, 0);
         INSERT INTO integrations (id, environment_id, organization_id, provider_id, channel,
             name, identifier, credentials, active, created_at, updated_at)
         VALUES ('5f0000000000000000000002', 'env', 'org', 'fcm', 'push', 'FCM', 'fcm',
             '{{\"apiKey\":\"{API_SECRET}\"}}', TRUE, 0, 0);
         INSERT INTO subscriber_channels (subscriber_pk, environment_id, integration_id,
             provider_id, webhook_url, tokens_set)
         SELECT pk, 'env', '5f0000000000000000000002', 'fcm', '{WEBHOOK}', TRUE FROM subscribers;
         INSERT INTO device_tokens (channel_pk, environment_id, subscriber_pk, integration_id, token)
         SELECT c.pk, 'env', c.subscriber_pk, c.integration_id, t
         FROM subscriber_channels c, unnest(ARRAY['{TOKEN}', 'second-token']) t;"
    );
    conn.execute(sqlx::raw_sql(&plain)).await.unwrap();

    let store = db.connect().await;
    let env = ObjectId::from_stored("env".into());
    let ada = store.get_subscriber(&env, "ada").await.unwrap().unwrap();
    let c = &ada.channels[0].credentials;
    assert_eq!(c.webhook_url.as_deref(), Some(WEBHOOK));
    assert_eq!(
        c.device_tokens,
        tokens(&[TOKEN, "second-token"]).device_tokens
    );
    let listed = store.list_integrations(&env).await.unwrap();
    assert_eq!(listed[0].credentials["apiKey"], API_SECRET);
    // The converted tokens dedupe like new ones.
    let again = store
        .update_credentials(&env, "ada", &append(&listed[0], tokens(&[TOKEN])))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.channels[0]
            .credentials
            .device_tokens
            .as_ref()
            .unwrap()
            .len(),
        2
    );
    assert_absent(
        &all_rows(db.url()).await,
        &[TOKEN, WEBHOOK, API_SECRET, "second-token"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_process_keeps_reading_and_writing_while_one_rotates_the_keys() {
    let Some(db) = test_database().await else {
        return;
    };
    let keys = test_keyring();
    let (old, new) = (keys.keys()[0].clone(), keys.keys()[1].clone());
    // Step 1 of the procedure: every process holds the new key as a secondary key.
    let server = PgStore::connect(
        &db.config(),
        KeyProvider::new(keys.clone()).check_every(Duration::ZERO),
    )
    .await
    .unwrap();
    let env = environment(&server).await;
    write_secrets(&server, &env).await;
    let fcm = server.list_integrations(&env.id).await.unwrap().remove(0);

    // Step 2: `herald secrets rotate --new-key NEW` in another process.
    let rotator = PgStore::connect(&db.config(), keys.with_primary(new.clone()))
        .await
        .unwrap();
    rotator.promote_key(new.id()).await.unwrap();
    server
        .update_credentials(&env.id, "ada", &append(&fcm, tokens(&["during-rotation"])))
        .await
        .unwrap();
    let snapshot = || async {
        let subscribers = server.list_subscribers(&env.id, 0, 100).await.unwrap();
        let integrations = server.list_integrations(&env.id).await.unwrap();
        (subscribers, integrations)
    };
    let before = snapshot().await;
    let mut batches = 0;
    while rotator.reencrypt_batch(1).await.unwrap() > 0 {
        batches += 1;
        assert_eq!(snapshot().await, before, "after batch {batches}");
    }
    assert!(batches >= 2, "{batches} batches");
    let values = stored_values(db.url()).await;
    let new_prefix = format!("hv2:{}:", new.id());
    assert_eq!(values.len(), 6, "{values:?}");
    assert!(
        values.iter().all(|v| v.starts_with(&new_prefix)),
        "{values:?}"
    );
    let usage = rotator.key_usage().await.unwrap();
    assert_eq!(&usage[0].key_id, new.id());
    assert_eq!(usage[0].values, 6);

    // Step 3: retire the old key; a process holding only it can no longer connect.
    assert_eq!(rotator.retire_keys().await.unwrap(), vec![old.id().clone()]);
    let err = PgStore::connect(&db.config(), Keyring::new([old]).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, PgOpenError::Secrets(_)), "{err}");
    let only_new = PgStore::connect(&db.config(), Keyring::new([new]).unwrap())
        .await
        .unwrap();
    assert_eq!(
        only_new.list_subscribers(&env.id, 0, 100).await.unwrap(),
        before.0
    );
}
