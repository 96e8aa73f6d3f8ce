//! Cases for [`EnvironmentStore`](crate::EnvironmentStore): bootstrap, authentication and API keys.

use super::fixtures::environments;
use crate::{KeyHash, ObjectId, Store};

pub async fn bootstrap_creates_two_environments_once(store: &dyn Store) {
    assert!(store.list_environments().await.unwrap().is_empty());
    let dev = KeyHash::of("dev-key");
    let prod = KeyHash::of("prod-key");
    let envs = store
        .bootstrap(&dev, &prod)
        .await
        .unwrap()
        .expect("first bootstrap creates");
    assert_eq!(envs.len(), 2);
    assert_eq!(envs[0].name, "Development");
    assert_eq!(envs[1].name, "Production");
    assert_eq!(envs[0].organization_id, envs[1].organization_id);
    assert_ne!(envs[0].id, envs[1].id);
    assert!(store.bootstrap(&dev, &prod).await.unwrap().is_none());
    assert!(store
        .bootstrap(&KeyHash::of("other"), &KeyHash::of("keys"))
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.list_environments().await.unwrap(), envs);

    let ctx = store.authenticate(&dev).await.unwrap().unwrap();
    assert_eq!(ctx.environment_id, envs[0].id);
    assert_eq!(ctx.organization_id, envs[0].organization_id);
    let ctx = store.authenticate(&prod).await.unwrap().unwrap();
    assert_eq!(ctx.environment_id, envs[1].id);
    assert!(store
        .authenticate(&KeyHash::of("other"))
        .await
        .unwrap()
        .is_none());
}

pub async fn authenticate_rejects_unknown_and_revoked_keys(store: &dyn Store) {
    let (dev, _) = environments(store).await;
    assert!(store
        .authenticate(&KeyHash::of("nope"))
        .await
        .unwrap()
        .is_none());
    let ctx = store
        .authenticate(&KeyHash::of("dev-key"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ctx.environment_id, dev.id);
    assert!(store.revoke_api_key(&ctx.api_key_id).await.unwrap());
    assert!(store
        .authenticate(&KeyHash::of("dev-key"))
        .await
        .unwrap()
        .is_none());
}

pub async fn add_api_key_returns_the_stored_key_for_a_known_hash(store: &dyn Store) {
    let (dev, prod) = environments(store).await;
    let hash = KeyHash::of("second-dev-key");
    let added = store
        .add_api_key(&dev.id, &hash, "-key")
        .await
        .unwrap()
        .expect("the environment exists");
    assert_eq!(added.environment_id, dev.id);
    assert_eq!(added.environment_name, "Development");
    assert_eq!(added.hint, "-key");
    assert_eq!(added.revoked_at, None);
    let ctx = store.authenticate(&hash).await.unwrap().unwrap();
    assert_eq!(ctx.api_key_id, added.id);
    assert_eq!(ctx.environment_id, dev.id);

    // Same hash again, even for another environment and hint: the stored key, unchanged.
    let again = store.add_api_key(&prod.id, &hash, "zzzz").await.unwrap();
    assert_eq!(again.as_ref(), Some(&added));

    // Also when it was revoked: adding does not un-revoke.
    assert!(store.revoke_api_key(&added.id).await.unwrap());
    let revoked = store
        .add_api_key(&dev.id, &hash, "-key")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revoked.id, added.id);
    assert!(revoked.revoked_at.is_some());
    assert!(store.authenticate(&hash).await.unwrap().is_none());
    assert_eq!(store.list_api_keys().await.unwrap().len(), 3);
}

pub async fn add_api_key_to_an_unknown_environment_returns_none(store: &dyn Store) {
    environments(store).await;
    let hash = KeyHash::of("orphan");
    assert!(store
        .add_api_key(&ObjectId::new(), &hash, "phan")
        .await
        .unwrap()
        .is_none());
    assert!(store.authenticate(&hash).await.unwrap().is_none());
    assert_eq!(store.list_api_keys().await.unwrap().len(), 2);
}

pub async fn revoke_api_key_succeeds_once_per_key(store: &dyn Store) {
    environments(store).await;
    let key = store
        .authenticate(&KeyHash::of("prod-key"))
        .await
        .unwrap()
        .unwrap();
    assert!(store.revoke_api_key(&key.api_key_id).await.unwrap());
    assert!(!store.revoke_api_key(&key.api_key_id).await.unwrap());
    assert!(!store.revoke_api_key(&ObjectId::new()).await.unwrap());
    let keys = store.list_api_keys().await.unwrap();
    let revoked: Vec<_> = keys.iter().filter(|k| k.revoked_at.is_some()).collect();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].id, key.api_key_id);
    // The other environment's key still works.
    assert!(store
        .authenticate(&KeyHash::of("dev-key"))
        .await
        .unwrap()
        .is_some());
}

pub async fn list_api_keys_names_each_keys_environment(store: &dyn Store) {
    let (dev, prod) = environments(store).await;
    let added = store
        .add_api_key(&prod.id, &KeyHash::of("another"), "ther")
        .await
        .unwrap()
        .unwrap();
    let keys = store.list_api_keys().await.unwrap();
    assert_eq!(keys.len(), 3);
    let named = |env: &crate::ObjectId| {
        keys.iter()
            .filter(|k| &k.environment_id == env)
            .map(|k| k.environment_name.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(named(&dev.id), ["Development"]);
    assert_eq!(named(&prod.id), ["Production", "Production"]);
    assert!(keys.contains(&added));
    assert!(keys.iter().all(|k| k.revoked_at.is_none()));
}

/// `ping` is what readiness checks ask: it answers while the store is open (empty or not) and
/// fails, without hanging, once the store is closed.
pub async fn ping_answers_while_the_store_is_open_and_fails_once_it_is_closed(store: &dyn Store) {
    store.ping().await.expect("a fresh store answers");
    environments(store).await;
    store.ping().await.expect("a store with data answers");
    store.close().await;
    assert!(
        store.ping().await.is_err(),
        "a closed store must not answer"
    );
}
