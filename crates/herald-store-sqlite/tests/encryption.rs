//! Encryption at rest on SQLite, checked on the bytes Herald leaves on disk: no credential is ever
//! written in plain text (not in the database file, its WAL or its shared-memory index), a wrong
//! key is refused at open, a database from before encryption is encrypted on first open, and a
//! key rotation by another process never interrupts a server's reads. Secrets bound to their
//! owners are `owner_binding.rs`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_core::secrets::{test_keyring, KeyProvider, Keyring, SecretKey};
use herald_core::{
    ChannelCredentials, CredentialsMode, CredentialsUpdate, Environment, EnvironmentStore,
    IntegrationStore, KeyHash, NewIntegration, NewSubscriber, Profile, ProviderId, SecretStore,
    Store, SubscriberPatch, SubscriberStore,
};
use herald_store_sqlite::{SqliteOpenError, SqliteStore};
use serde_json::json;
use tempfile::TempDir;

const TOKEN: &str = "fcm-device-token-4f1e9a7c2b";
const WEBHOOK: &str = "https://hooks.slack.com/services/T0/B0/webhook-secret-8d2c";
const API_SECRET: &str = "provider-api-secret-93b7e1";

/// Everything on disk for the database at `path`: the file, its WAL and its shared memory.
fn disk_bytes(path: &Path) -> Vec<(String, Vec<u8>)> {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let file = PathBuf::from(format!("{}{suffix}", path.display()));
            (
                file.display().to_string(),
                std::fs::read(&file).unwrap_or_default(),
            )
        })
        .collect()
}

fn assert_not_on_disk(path: &Path, secrets: &[&str]) {
    for (file, bytes) in disk_bytes(path) {
        for secret in secrets {
            let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
            assert!(!found, "{secret:?} is in {file} in plain text");
        }
    }
}

async fn environment(store: &SqliteStore) -> Environment {
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

fn credentials(
    integration: &herald_core::Integration,
    credentials: ChannelCredentials,
) -> CredentialsUpdate {
    CredentialsUpdate {
        provider_id: integration.provider_id,
        integration_id: integration.id.clone(),
        credentials,
        mode: CredentialsMode::Append,
        ownership: herald_core::TokenOwnership::Move,
    }
}

/// Writes a subscriber with an FCM token and a Slack webhook, and integrations whose credentials
/// hold `API_SECRET`.
async fn write_secrets(store: &SqliteStore, env: &Environment) {
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
    let token = ChannelCredentials {
        device_tokens: Some(vec![TOKEN.into()]),
        ..Default::default()
    };
    let webhook = ChannelCredentials {
        webhook_url: Some(WEBHOOK.into()),
        channel: Some("#secret-channel".into()),
        ..Default::default()
    };
    for update in [credentials(&fcm, token), credentials(&slack, webhook)] {
        store
            .update_credentials(&env.id, "ada", &update)
            .await
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn secrets_never_reach_the_database_file_its_wal_or_its_shared_memory() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("herald.db");
    let store = SqliteStore::open(path.to_str().unwrap(), test_keyring())
        .await
        .unwrap();
    let env = environment(&store).await;
    write_secrets(&store, &env).await;
    let ada = store.get_subscriber(&env.id, "ada").await.unwrap().unwrap();
    let channels: Vec<_> = ada.channels.iter().map(|c| &c.credentials).collect();
    assert_eq!(
        channels[0].device_tokens.as_deref(),
        Some(&[TOKEN.to_string()][..])
    );
    assert_eq!(channels[1].webhook_url.as_deref(), Some(WEBHOOK));
    // While the store is open the writes sit in the WAL; after close, in the file.
    let key = test_keyring().primary().to_base64();
    let secrets = [TOKEN, WEBHOOK, API_SECRET, "#secret-channel", key.as_str()];
    assert_not_on_disk(&path, &secrets);
    store.close().await;
    assert_not_on_disk(&path, &secrets);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let (token, hash): (String, String) = conn
        .query_row("SELECT token, token_hash FROM device_tokens", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(token.starts_with("hv2:"), "{token}");
    assert_eq!(hash.len(), 64);
}

#[tokio::test]
async fn a_wrong_key_is_refused_at_open_with_one_clear_line() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("herald.db");
    let store = SqliteStore::open(path.to_str().unwrap(), test_keyring())
        .await
        .unwrap();
    write_secrets(&store, &environment(&store).await).await;
    store.close().await;
    drop(store);

    let wrong = Keyring::new([SecretKey::generate()]).unwrap();
    let err = SqliteStore::open(path.to_str().unwrap(), wrong.clone())
        .await
        .err()
        .expect("a wrong key is refused");
    assert!(matches!(err, SqliteOpenError::Secrets(_)), "{err:?}");
    let expected = format!(
        "the secret key does not match this database (it was encrypted with key id {}; this \
         process holds key id {}); set HERALD_SECRET_KEY to the key this database was created with",
        test_keyring().primary().id(),
        wrong.primary().id()
    );
    assert_eq!(err.to_string(), expected);
    // The right key still opens it: the refused open changed nothing.
    let store = SqliteStore::open(path.to_str().unwrap(), test_keyring())
        .await
        .unwrap();
    store.close().await;
}

#[tokio::test]
async fn a_database_from_before_encryption_is_encrypted_on_first_open() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("herald.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);
         {}
         {}
         INSERT INTO schema_migrations VALUES (1, 0), (2, 0);
         INSERT INTO subscribers (id, environment_id, organization_id, subscriber_id,
             created_at, updated_at)
         VALUES ('5f0000000000000000000001', 'env', 'org', 'ada', 0, 0);
         INSERT INTO integrations (id, environment_id, organization_id, provider_id, channel,
             name, identifier, credentials, active, created_at, updated_at)
         VALUES ('5f0000000000000000000002', 'env', 'org', 'fcm', 'push', 'FCM', 'fcm',
             '{{\"apiKey\":\"{API_SECRET}\"}}', 1, 0, 0);
         INSERT INTO subscriber_channels (subscriber_pk, environment_id, integration_id,
             provider_id, webhook_url, tokens_set)
         VALUES (1, 'env', '5f0000000000000000000002', 'fcm', '{WEBHOOK}', 1);
         INSERT INTO device_tokens (channel_pk, environment_id, subscriber_pk, integration_id,
             token)
         VALUES (1, 'env', 1, '5f0000000000000000000002', '{TOKEN}'),
                (1, 'env', 1, '5f0000000000000000000002', 'second-token');",
        include_str!("../migrations/0001_initial.sql"),
        include_str!("../migrations/0002_topics.sql"),
    ))
    .unwrap();
    drop(conn);

    let store = SqliteStore::open(path.to_str().unwrap(), test_keyring())
        .await
        .unwrap();
    let env = herald_core::ObjectId::from_stored("env".into());
    let ada = store.get_subscriber(&env, "ada").await.unwrap().unwrap();
    let c = &ada.channels[0].credentials;
    assert_eq!(c.webhook_url.as_deref(), Some(WEBHOOK));
    assert_eq!(
        c.device_tokens.as_deref(),
        Some(&[TOKEN.to_string(), "second-token".to_string()][..])
    );
    let listed = store.list_integrations(&env).await.unwrap();
    assert_eq!(listed[0].credentials["apiKey"], API_SECRET);
    // The converted tokens dedupe like new ones.
    let again = credentials(
        &listed[0],
        ChannelCredentials {
            device_tokens: Some(vec![TOKEN.into()]),
            ..Default::default()
        },
    );
    let ada = store
        .update_credentials(&env, "ada", &again)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ada.channels[0]
            .credentials
            .device_tokens
            .as_ref()
            .unwrap()
            .len(),
        2
    );
    store.close().await;
    assert_not_on_disk(&path, &[TOKEN, WEBHOOK, API_SECRET, "second-token"]);
}

async fn snapshot(store: &SqliteStore, env: &Environment) -> serde_json::Value {
    let subscribers = store.list_subscribers(&env.id, 0, 100).await.unwrap();
    let integrations = store.list_integrations(&env.id).await.unwrap();
    json!({"subscribers": format!("{subscribers:?}"), "integrations": format!("{integrations:?}")})
}

/// The secret columns as stored, one string per value.
fn stored_values(path: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let sql = "SELECT webhook_url FROM subscriber_channels UNION ALL
               SELECT channel FROM subscriber_channels UNION ALL
               SELECT token FROM device_tokens UNION ALL
               SELECT credentials FROM integrations";
    let mut stmt = conn.prepare(sql).unwrap();
    let values = stmt
        .query_map([], |r| r.get::<_, Option<String>>(0))
        .unwrap()
        .filter_map(|v| v.unwrap())
        .collect();
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_keep_reading_while_another_process_rotates_the_keys() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("herald.db");
    let url = path.to_str().unwrap();
    let keys = test_keyring();
    let (old, new) = (keys.keys()[0].clone(), keys.keys()[1].clone());
    // A server holding both keys, and one whose key file held only the old key when it started.
    let server = SqliteStore::open(
        url,
        KeyProvider::new(keys.clone()).check_every(Duration::ZERO),
    )
    .await
    .unwrap();
    let key_file = Arc::new(Mutex::new(Keyring::new([old.clone()]).unwrap()));
    let from_file = KeyProvider::new(Keyring::new([old.clone()]).unwrap())
        .check_every(Duration::ZERO)
        .reloading({
            let key_file = key_file.clone();
            Arc::new(move || Ok(key_file.lock().unwrap().clone()))
        });
    let env = environment(&server).await;
    write_secrets(&server, &env).await;
    let filed = SqliteStore::open(url, from_file).await.unwrap();

    // `herald secrets rotate`: the key file first, then the database.
    *key_file.lock().unwrap() = Keyring::new([new.clone(), old.clone()]).unwrap();
    let rotator = SqliteStore::open(url, keys.with_primary(new.clone()))
        .await
        .unwrap();
    rotator.promote_key(new.id()).await.unwrap();
    // A write during the rotation is encrypted under the new key at once.
    let fcm = server.list_integrations(&env.id).await.unwrap().remove(0);
    let more = credentials(
        &fcm,
        ChannelCredentials {
            device_tokens: Some(vec!["written-during-rotation".into()]),
            ..Default::default()
        },
    );
    server
        .update_credentials(&env.id, "ada", &more)
        .await
        .unwrap();
    let before = snapshot(&server, &env).await;
    let mut batches = 0;
    while rotator.reencrypt_batch(1).await.unwrap() > 0 {
        batches += 1;
        assert_eq!(
            snapshot(&server, &env).await,
            before,
            "after batch {batches}"
        );
        assert_eq!(
            snapshot(&filed, &env).await,
            before,
            "after batch {batches}"
        );
    }
    assert!(batches >= 2, "{batches} batches");
    let prefix = format!("hv2:{}:", new.id());
    let values = stored_values(&path);
    assert_eq!(values.len(), 6, "{values:?}");
    assert!(values.iter().all(|v| v.starts_with(&prefix)), "{values:?}");
    // After rotation the server writes under the new key too.
    filed
        .update_credentials(
            &env.id,
            "ada",
            &credentials(
                &fcm,
                ChannelCredentials {
                    device_tokens: Some(vec!["after".into()]),
                    ..Default::default()
                },
            ),
        )
        .await
        .unwrap();
    assert!(stored_values(&path).iter().all(|v| v.starts_with(&prefix)));
    assert_eq!(rotator.retire_keys().await.unwrap(), vec![old.id().clone()]);
    for store in [server, filed, rotator] {
        store.close().await;
    }
    // Only the new key opens the database now.
    let err = SqliteStore::open(url, Keyring::new([old]).unwrap())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SqliteOpenError::Secrets(_)), "{err}");
    SqliteStore::open(url, Keyring::new([new]).unwrap())
        .await
        .unwrap()
        .close()
        .await;
}
