//! Environment isolation: a subscriber, credential or integration of one environment is invisible
//! to, and unchanged by, every method called with another environment. Also the concurrency cases,
//! which need an `Arc` and a task spawner rather than a plain reference.

use std::collections::HashSet;
use std::sync::Arc;

use super::fixtures::*;
use super::Spawn;
use crate::{CredentialsMode, IntegrationPatch, Profile, ProviderId, Store};

pub async fn subscribers_are_invisible_and_untouchable_from_another_environment(store: &dyn Store) {
    let (a, b) = environments(store).await;
    let alice = create_subscriber(store, &a, "alice").await;
    create_subscriber(store, &a, "bob").await;
    let change = patch(Profile {
        email: text("intruder@example.com"),
        ..Default::default()
    });

    assert!(store
        .get_subscriber(&b.id, "alice")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .list_subscribers(&b.id, 0, 100)
        .await
        .unwrap()
        .is_empty());
    assert!(store
        .update_subscriber(&b.id, "alice", &change)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .set_online(&b.id, "alice", false, crate::Timestamp::now())
        .await
        .unwrap()
        .is_none());
    assert!(!store.delete_subscriber(&b.id, "alice").await.unwrap());

    // The same external id in B is another subscriber.
    let (in_b, created) = store
        .upsert_subscriber(
            &b.id,
            &b.organization_id,
            &new_subscriber("alice", change.profile.clone()),
            &change,
        )
        .await
        .unwrap();
    assert!(created);
    assert_ne!(in_b.id, alice.id);
    assert_eq!(in_b.environment_id, b.id);
    let outcomes = store
        .bulk_upsert_subscribers(
            &b.id,
            &b.organization_id,
            &[new_subscriber("bob", change.profile.clone())],
        )
        .await
        .unwrap();
    assert_eq!(outcomes, [crate::BulkOutcome::Created]);
    assert!(store.delete_subscriber(&b.id, "alice").await.unwrap());

    assert_eq!(
        get(store, &a, "alice").await,
        alice,
        "A's subscriber is untouched"
    );
    assert_eq!(
        get(store, &a, "bob").await.profile.email,
        crate::Field::Absent
    );
    assert_eq!(
        store.list_subscribers(&a.id, 0, 100).await.unwrap().len(),
        2
    );
    assert_eq!(
        store.list_subscribers(&b.id, 0, 100).await.unwrap().len(),
        1
    );
}

pub async fn credentials_are_invisible_and_untouchable_from_another_environment(store: &dyn Store) {
    let (a, b) = environments(store).await;
    let fcm_a = create_integration(store, &a, ProviderId::Fcm, "fcm", true).await;
    let fcm_b = create_integration(store, &b, ProviderId::Fcm, "fcm", true).await;
    create_subscriber(store, &a, "alice").await;
    let alice = write_credentials(
        store,
        &a,
        "alice",
        &tokens_update(&fcm_a, CredentialsMode::Append, Some(&["ta"])),
    )
    .await;

    for update in [
        tokens_update(&fcm_a, CredentialsMode::Replace, Some(&["tb"])),
        tokens_update(&fcm_b, CredentialsMode::Append, Some(&["tb"])),
    ] {
        assert!(store
            .update_credentials(&b.id, "alice", &update)
            .await
            .unwrap()
            .is_none());
    }
    assert!(!store
        .delete_credentials(&b.id, "alice", ProviderId::Fcm)
        .await
        .unwrap());

    // B's own subscriber of the same id gets its own channel; A's stays as it was.
    create_subscriber(store, &b, "alice").await;
    let in_b = write_credentials(
        store,
        &b,
        "alice",
        &tokens_update(&fcm_b, CredentialsMode::Append, Some(&["tb"])),
    )
    .await;
    assert_eq!(tokens_of(&in_b, &fcm_b.id), ["tb"]);
    assert!(store
        .delete_credentials(&b.id, "alice", ProviderId::Fcm)
        .await
        .unwrap());
    assert_eq!(get(store, &a, "alice").await, alice);
    assert_eq!(tokens_of(&alice, &fcm_a.id), ["ta"]);
}

pub async fn integrations_are_invisible_and_untouchable_from_another_environment(
    store: &dyn Store,
) {
    let (a, b) = environments(store).await;
    let in_a = create_integration(store, &a, ProviderId::Fcm, "fcm", true).await;
    let patch = IntegrationPatch {
        name: Some("hijacked".into()),
        active: Some(false),
        ..Default::default()
    };

    assert!(store
        .get_integration(&b.id, &in_a.id)
        .await
        .unwrap()
        .is_none());
    assert!(store.list_integrations(&b.id).await.unwrap().is_empty());
    assert!(store
        .find_active_integration(&b.id, ProviderId::Fcm, None)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .find_active_integration(&b.id, ProviderId::Fcm, Some("fcm"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .update_integration(&b.id, &in_a.id, &patch)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .set_primary_integration(&b.id, &in_a.id)
        .await
        .unwrap()
        .is_none());
    assert!(!store.delete_integration(&b.id, &in_a.id).await.unwrap());

    // Identifiers are unique per environment only.
    let in_b = create_integration(store, &b, ProviderId::Fcm, "fcm", true).await;
    store
        .set_primary_integration(&b.id, &in_b.id)
        .await
        .unwrap()
        .unwrap();
    let found = store
        .find_active_integration(&b.id, ProviderId::Fcm, None)
        .await
        .unwrap();
    assert_eq!(found.map(|i| i.id), Some(in_b.id));

    let still = store.get_integration(&a.id, &in_a.id).await.unwrap();
    assert_eq!(still.as_ref(), Some(&in_a), "A's integration is untouched");
    let found = store
        .find_active_integration(&a.id, ProviderId::Fcm, None)
        .await
        .unwrap();
    assert_eq!(found.map(|i| i.id), Some(in_a.id));
}

/// Fifty appends of distinct tokens, racing on one channel that none of them finds existing:
/// every token survives, exactly once.
pub async fn concurrent_appends_of_distinct_tokens_keep_every_token(
    store: Arc<dyn Store>,
    spawn: Spawn,
) {
    let (env, _) = environments(&*store).await;
    let fcm = create_integration(&*store, &env, ProviderId::Fcm, "fcm", true).await;
    create_subscriber(&*store, &env, "ada").await;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (store, env_id) = (store.clone(), env.id.clone());
            let token = format!("token-{i}");
            let update = tokens_update(&fcm, CredentialsMode::Append, Some(&[token.as_str()]));
            spawn(Box::pin(async move {
                let s = store
                    .update_credentials(&env_id, "ada", &update)
                    .await
                    .unwrap()
                    .expect("the subscriber exists");
                assert!(tokens_of(&s, &update.integration_id).contains(&token));
            }))
        })
        .collect();
    for task in tasks {
        task.await;
    }
    let s = get(&*store, &env, "ada").await;
    assert_eq!(s.channels.len(), 1, "one channel, created once");
    let tokens = tokens_of(&s, &fcm.id);
    assert_eq!(tokens.len(), 50);
    let distinct: HashSet<_> = tokens.iter().collect();
    assert_eq!(distinct.len(), 50);
    assert!((0..50).all(|i| distinct.contains(&format!("token-{i}"))));
}

/// Twenty racing upserts of one new id: exactly one creates, the others patch, none fails.
pub async fn concurrent_upserts_of_one_id_create_it_once(store: Arc<dyn Store>, spawn: Spawn) {
    let (env, _) = environments(&*store).await;
    let created = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (store, env, created) = (store.clone(), env.clone(), created.clone());
            spawn(Box::pin(async move {
                let profile = Profile {
                    first_name: text(&format!("n{i}")),
                    ..Default::default()
                };
                let (s, was_created) = store
                    .upsert_subscriber(
                        &env.id,
                        &env.organization_id,
                        &new_subscriber("racer", profile.clone()),
                        &patch(profile),
                    )
                    .await
                    .unwrap();
                assert_eq!(s.subscriber_id, "racer");
                if was_created {
                    created.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }))
        })
        .collect();
    for task in tasks {
        task.await;
    }
    assert_eq!(created.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(
        store.list_subscribers(&env.id, 0, 100).await.unwrap().len(),
        1
    );
}
