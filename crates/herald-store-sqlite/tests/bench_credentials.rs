//! A store-level microbenchmark of the credentials write (ignored by default). Run with
//! `cargo test --release -p herald-store-sqlite --test bench_credentials -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::Instant;

use herald_core::secrets::test_keyring;
use herald_core::{
    ChannelCredentials, CredentialsMode, CredentialsUpdate, EnvironmentStore, IntegrationStore,
    KeyHash, NewIntegration, NewSubscriber, Profile, ProviderId, SubscriberPatch, SubscriberStore,
};
use herald_store_sqlite::SqliteStore;
use serde_json::json;

const SUBSCRIBERS: usize = 100;
const TASKS: usize = 64;
const WRITES_PER_TASK: usize = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "benchmark"]
async fn concurrent_credentials_updates() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let store = Arc::new(
        SqliteStore::open(path.to_str().unwrap(), test_keyring())
            .await
            .unwrap(),
    );
    let env = store
        .bootstrap(&KeyHash::of("d"), &KeyHash::of("p"))
        .await
        .unwrap()
        .unwrap()
        .remove(0);
    let integration = |p: ProviderId| NewIntegration {
        provider_id: p,
        channel: p.channel(),
        name: p.display_name().into(),
        identifier: p.as_str().into(),
        credentials: json!({"apiKey": "k"}).as_object().unwrap().clone(),
        active: true,
        conditions: Vec::new(),
    };
    let org = &env.organization_id;
    let fcm = store
        .create_integration(&env.id, org, &integration(ProviderId::Fcm))
        .await
        .unwrap();
    let slack = store
        .create_integration(&env.id, org, &integration(ProviderId::Slack))
        .await
        .unwrap();
    for i in 0..SUBSCRIBERS {
        let new = NewSubscriber {
            subscriber_id: format!("s{i}"),
            profile: Profile::default(),
        };
        store
            .upsert_subscriber(&env.id, org, &new, &SubscriberPatch::default())
            .await
            .unwrap();
        let slack_update = CredentialsUpdate {
            provider_id: slack.provider_id,
            integration_id: slack.id.clone(),
            credentials: ChannelCredentials {
                webhook_url: Some("https://hooks.example.com/x".into()),
                ..Default::default()
            },
            mode: CredentialsMode::Replace,
            ownership: herald_core::TokenOwnership::Move,
        };
        store
            .update_credentials(&env.id, &format!("s{i}"), &slack_update)
            .await
            .unwrap()
            .unwrap();
    }
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let (store, env, fcm) = (store.clone(), env.id.clone(), fcm.clone());
        handles.push(tokio::spawn(async move {
            for n in 0..WRITES_PER_TASK {
                let update = CredentialsUpdate {
                    provider_id: fcm.provider_id,
                    integration_id: fcm.id.clone(),
                    credentials: ChannelCredentials {
                        device_tokens: Some(vec![
                            format!("token-a-{t}-{n}"),
                            format!("token-b-{t}-{n}"),
                            format!("token-c-{t}-{n}"),
                        ]),
                        ..Default::default()
                    },
                    mode: CredentialsMode::Replace,
                    ownership: herald_core::TokenOwnership::Move,
                };
                let sid = format!("s{}", (t * 7 + n) % SUBSCRIBERS);
                let got = store.update_credentials(&env, &sid, &update).await.unwrap();
                assert!(got.is_some());
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let elapsed = started.elapsed();
    let total = TASKS * WRITES_PER_TASK;
    let stats = store.write_stats();
    println!(
        "{total} updates in {elapsed:?}: {:.0}/s ({} jobs, {} commits)",
        total as f64 / elapsed.as_secs_f64(),
        stats.jobs,
        stats.commits
    );
}
