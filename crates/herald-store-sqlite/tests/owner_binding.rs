//! Secrets bound to their owners on SQLite (issue 14): a webhook URL, device token or provider
//! credential copied by someone who can write the database file (but does not hold the key) to
//! another subscriber, channel or integration fails to decrypt, with an error that names the
//! owner and no secret; a database from before schema version 5 has its values bound once, when
//! it is upgraded, and an unbound value found afterwards is refused, never bound.

use std::path::Path;
use std::time::Duration;

use herald_core::secrets::{test_keyring, Field};
use herald_core::{
    ChannelCredentials, CredentialsMode, CredentialsUpdate, Environment, EnvironmentStore,
    Integration, IntegrationStore, KeyHash, NewIntegration, NewSubscriber, Profile, ProviderId,
    Store, SubscriberPatch, SubscriberStore,
};
use herald_store_sqlite::SqliteStore;
use serde_json::json;
use tempfile::TempDir;

const TOKEN: &str = "fcm-device-token-4f1e9a7c2b";
const WEBHOOK: &str = "https://hooks.slack.com/services/T0/B0/webhook-secret-8d2c";
const API_SECRET: &str = "provider-api-secret-93b7e1";

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

fn credentials(integration: &Integration, credentials: ChannelCredentials) -> CredentialsUpdate {
    CredentialsUpdate {
        provider_id: integration.provider_id,
        integration_id: integration.id.clone(),
        credentials,
        mode: CredentialsMode::Append,
        ownership: herald_core::TokenOwnership::Move,
    }
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

/// Runs `sql` on the database file through a connection of its own: what someone who can write
/// the database, but does not hold the key, can do.
fn tamper(path: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.execute_batch(sql).unwrap();
}

/// One value of the database file.
fn stored(path: &Path, sql: &str) -> String {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// `ada` and `bob`, each with a Slack webhook and an FCM token of their own, and the two
/// integrations (FCM's credentials hold `API_SECRET`).
async fn two_subscribers(store: &SqliteStore, env: &Environment) -> (Integration, Integration) {
    let org = &env.organization_id;
    let fcm = store
        .create_integration(&env.id, org, &integration(ProviderId::Fcm, API_SECRET))
        .await
        .unwrap();
    let slack = store
        .create_integration(
            &env.id,
            org,
            &integration(ProviderId::Slack, "slack-secret"),
        )
        .await
        .unwrap();
    for who in ["ada", "bob"] {
        let new = NewSubscriber {
            subscriber_id: who.into(),
            profile: Profile::default(),
        };
        store
            .upsert_subscriber(&env.id, org, &new, &SubscriberPatch::default())
            .await
            .unwrap();
        let token = ChannelCredentials {
            device_tokens: Some(vec![format!("{who}-{TOKEN}")]),
            ..Default::default()
        };
        let webhook = ChannelCredentials {
            webhook_url: Some(format!("{WEBHOOK}-{who}")),
            ..Default::default()
        };
        for update in [credentials(&fcm, token), credentials(&slack, webhook)] {
            store
                .update_credentials(&env.id, who, &update)
                .await
                .unwrap()
                .unwrap();
        }
    }
    (fcm, slack)
}

/// The error of reading `who`, which must fail naming the owner and no secret.
async fn unreadable(store: &SqliteStore, env: &Environment, who: &str) -> String {
    let err = store
        .get_subscriber(&env.id, who)
        .await
        .expect_err("a moved secret does not decrypt")
        .to_string();
    assert!(!err.contains(WEBHOOK) && !err.contains(TOKEN), "{err}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_moved_to_another_owner_fails_to_decrypt_with_a_clear_error() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("herald.db");
    let store = SqliteStore::open(path.to_str().unwrap(), test_keyring())
        .await
        .unwrap();
    let env = environment(&store).await;
    let (fcm, slack) = two_subscribers(&store, &env).await;
    let ada = store.get_subscriber(&env.id, "ada").await.unwrap().unwrap();
    let bob = store.get_subscriber(&env.id, "bob").await.unwrap().unwrap();
    let channel_of = |who: &str, provider: &str| {
        format!(
            "(SELECT c.pk FROM subscriber_channels c JOIN subscribers s ON s.pk = c.subscriber_pk
              WHERE s.subscriber_id = '{who}' AND c.provider_id = '{provider}')"
        )
    };
    let forged = "failed authentication: wrong key, altered, or moved from another field, owner";

    // Ada's webhook URL copied over Bob's: Bob's channel no longer reads, Ada's still does.
    let bobs = stored(
        &path,
        &format!(
            "SELECT webhook_url FROM subscriber_channels WHERE pk = {}",
            channel_of("bob", "slack")
        ),
    );
    tamper(
        &path,
        &format!(
            "UPDATE subscriber_channels SET webhook_url =
                 (SELECT webhook_url FROM subscriber_channels WHERE pk = {})
             WHERE pk = {}",
            channel_of("ada", "slack"),
            channel_of("bob", "slack")
        ),
    );
    let err = unreadable(&store, &env, "bob").await;
    assert!(err.contains(forged), "{err}");
    assert!(
        err.contains(&format!(
            "the channel of subscriber _id {} bound to integration {}",
            bob.id, slack.id
        )),
        "{err}"
    );
    assert_eq!(
        store.get_subscriber(&env.id, "ada").await.unwrap().unwrap(),
        ada
    );
    // Put back, it reads again: the move, not the value, is what fails.
    tamper(
        &path,
        &format!(
            "UPDATE subscriber_channels SET webhook_url = '{bobs}' WHERE pk = {}",
            channel_of("bob", "slack")
        ),
    );
    assert_eq!(
        store.get_subscriber(&env.id, "bob").await.unwrap().unwrap(),
        bob
    );

    // Into another channel of the same subscriber: bound to the integration too.
    tamper(
        &path,
        &format!(
            "UPDATE subscriber_channels SET webhook_url =
                 (SELECT webhook_url FROM subscriber_channels WHERE pk = {})
             WHERE pk = {}",
            channel_of("ada", "slack"),
            channel_of("ada", "fcm")
        ),
    );
    assert!(unreadable(&store, &env, "ada").await.contains(forged));
    tamper(
        &path,
        &format!(
            "UPDATE subscriber_channels SET webhook_url = NULL WHERE pk = {}",
            channel_of("ada", "fcm")
        ),
    );
    assert_eq!(
        store.get_subscriber(&env.id, "ada").await.unwrap().unwrap(),
        ada
    );

    // Ada's device token over Bob's.
    tamper(
        &path,
        &format!(
            "UPDATE device_tokens SET token =
                 (SELECT token FROM device_tokens WHERE channel_pk = {})
             WHERE channel_pk = {}",
            channel_of("ada", "fcm"),
            channel_of("bob", "fcm")
        ),
    );
    assert!(unreadable(&store, &env, "bob").await.contains(forged));

    // FCM's provider credentials over Slack's.
    tamper(
        &path,
        &format!(
            "UPDATE integrations SET credentials =
                 (SELECT credentials FROM integrations WHERE id = '{}')
             WHERE id = '{}'",
            fcm.id, slack.id
        ),
    );
    let err = store
        .list_integrations(&env.id)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(forged), "{err}");
    assert!(err.contains(&format!("integration {}", slack.id)), "{err}");
    assert!(!err.contains(API_SECRET), "{err}");
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_from_before_owner_binding_is_bound_once_and_later_unbound_values_are_refused() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("herald.db");
    let url = path.to_str().unwrap().to_string();
    let store = SqliteStore::open(&url, test_keyring()).await.unwrap();
    let env = environment(&store).await;
    let (fcm, slack) = two_subscribers(&store, &env).await;
    let before = snapshot(&store, &env).await;
    store.close().await;

    // The database as version 4 left it: every secret bound to its field and environment only.
    let keys = test_keyring();
    let key = keys.primary().id().clone();
    let unbound = |field, plain: &str| {
        keys.seal(&key, field, env.id.as_str(), plain.as_bytes())
            .unwrap()
    };
    // Versions 5 and later undone: their tables dropped, their records deleted.
    let mut sql = String::from(
        "DELETE FROM schema_migrations WHERE version >= 5; DROP TABLE secret_upgrades;
         DROP TABLE idempotency_keys; DROP TABLE execution_details; DROP TABLE deliveries;
         DROP TABLE messages; DROP TABLE jobs; DROP TABLE notifications; DROP TABLE fan_outs;
         DROP TABLE events; DROP TABLE workflows; DROP TABLE notification_groups;
         DROP TRIGGER device_tokens_of_deleted_channel;",
    );
    for who in ["ada", "bob"] {
        sql.push_str(&format!(
            "UPDATE subscriber_channels SET webhook_url = '{}'
             WHERE provider_id = 'slack' AND subscriber_pk =
                 (SELECT pk FROM subscribers WHERE subscriber_id = '{who}');
             UPDATE device_tokens SET token = '{}'
             WHERE subscriber_pk = (SELECT pk FROM subscribers WHERE subscriber_id = '{who}');",
            unbound(Field::WebhookUrl, &format!("{WEBHOOK}-{who}")),
            unbound(Field::DeviceToken, &format!("{who}-{TOKEN}")),
        ));
    }
    for (id, secret) in [(&fcm.id, API_SECRET), (&slack.id, "slack-secret")] {
        sql.push_str(&format!(
            "UPDATE integrations SET credentials = '{}' WHERE id = '{id}';",
            unbound(
                Field::IntegrationCredentials,
                &json!({"apiKey": secret}).to_string()
            )
        ));
    }
    tamper(&path, &sql);
    assert!(stored_values(&path).iter().all(|v| v.starts_with("hv1:")));

    // Opening applies version 5: every value is rewritten bound to its owner, and reads the same.
    let store = SqliteStore::open(&url, test_keyring()).await.unwrap();
    assert_eq!(snapshot(&store, &env).await, before);
    let values = stored_values(&path);
    assert_eq!(values.len(), 6);
    assert!(values.iter().all(|v| v.starts_with("hv2:")), "{values:?}");

    // An unbound value written afterwards (an older Herald, an old backup) is refused, by reads
    // and by later opens alike: it is never bound to wherever it was planted.
    let planted = unbound(Field::WebhookUrl, "https://attacker.example/hook");
    tamper(
        &path,
        &format!(
            "UPDATE subscriber_channels SET webhook_url = '{planted}' WHERE provider_id = 'slack'
             AND subscriber_pk = (SELECT pk FROM subscribers WHERE subscriber_id = 'bob')"
        ),
    );
    let err = unreadable(&store, &env, "bob").await;
    assert!(err.contains("not bound to its owner"), "{err}");
    store.close().await;
    let store = SqliteStore::open(&url, test_keyring()).await.unwrap();
    let err = unreadable(&store, &env, "bob").await;
    assert!(err.contains("not bound to its owner"), "{err}");
    assert!(store
        .get_subscriber(&env.id, "ada")
        .await
        .unwrap()
        .is_some());
    store.close().await;
}
