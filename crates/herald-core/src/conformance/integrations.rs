//! Cases for [`IntegrationStore`](crate::IntegrationStore): create, list, get, update, soft delete,
//! primary selection and the active-integration lookup that credentials writes bind to.

use serde_json::json;

use super::fixtures::*;
use crate::{ChannelType, Integration, IntegrationPatch, ObjectId, ProviderId, Store, StoreError};

fn identifiers(list: &[Integration]) -> Vec<&str> {
    list.iter().map(|i| i.identifier.as_str()).collect()
}

pub async fn create_integration_stores_every_field(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let mut new = new_integration(ProviderId::Fcm, "fcm-main", true);
    new.name = "My FCM".into();
    new.credentials = object(json!({"serviceAccount": "{\"k\":1}", "nested": {"a": [1, 2]}}));
    new.conditions = vec![json!({"isNegated": false, "type": "GROUP", "children": []})];
    let created = store
        .create_integration(&env.id, &env.organization_id, &new)
        .await
        .unwrap();
    assert_eq!(created.id.as_str().len(), 24);
    assert_eq!(created.environment_id, env.id);
    assert_eq!(created.organization_id, env.organization_id);
    assert_eq!(created.provider_id, ProviderId::Fcm);
    assert_eq!(created.channel, ChannelType::Push);
    assert_eq!(created.name, "My FCM");
    assert_eq!(created.identifier, "fcm-main");
    assert_eq!(created.credentials, new.credentials);
    assert!(created.active);
    assert!(!created.primary);
    assert_eq!(created.priority, 0);
    assert_eq!(created.conditions, new.conditions);
    assert!(!created.deleted);
    assert_eq!(created.deleted_at, None);
    assert_eq!(created.created_at, created.updated_at);
    let got = store.get_integration(&env.id, &created.id).await.unwrap();
    assert_eq!(got.as_ref(), Some(&created));
    assert!(store
        .get_integration(&env.id, &ObjectId::new())
        .await
        .unwrap()
        .is_none());
}

pub async fn list_integrations_is_oldest_first_without_deleted_ones(store: &dyn Store) {
    let (env, _) = environments(store).await;
    assert!(store.list_integrations(&env.id).await.unwrap().is_empty());
    create_integration(store, &env, ProviderId::Slack, "i1", true).await;
    let i2 = create_integration(store, &env, ProviderId::Fcm, "i2", false).await;
    let i3 = create_integration(store, &env, ProviderId::Apns, "i3", true).await;
    let list = store.list_integrations(&env.id).await.unwrap();
    assert_eq!(identifiers(&list), ["i1", "i2", "i3"]);
    assert_eq!(list[2], i3);
    assert!(store.delete_integration(&env.id, &i2.id).await.unwrap());
    let list = store.list_integrations(&env.id).await.unwrap();
    assert_eq!(identifiers(&list), ["i1", "i3"]);
}

pub async fn create_integration_with_a_taken_identifier_conflicts(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let first = create_integration(store, &env, ProviderId::Slack, "shared", true).await;
    for provider in [ProviderId::Slack, ProviderId::Fcm] {
        let err = store
            .create_integration(
                &env.id,
                &env.organization_id,
                &new_integration(provider, "shared", true),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }
    assert_eq!(store.list_integrations(&env.id).await.unwrap().len(), 1);
    // A deleted integration's identifier is free again.
    assert!(store.delete_integration(&env.id, &first.id).await.unwrap());
    let second = create_integration(store, &env, ProviderId::Fcm, "shared", true).await;
    assert_ne!(second.id, first.id);
}

pub async fn update_integration_replaces_credentials_wholesale_and_keeps_the_rest(
    store: &dyn Store,
) {
    let (env, _) = environments(store).await;
    let mut new = new_integration(ProviderId::Fcm, "fcm", false);
    new.credentials = object(json!({"a": 1, "b": 2}));
    new.conditions = vec![json!({"x": 1})];
    let before = store
        .create_integration(&env.id, &env.organization_id, &new)
        .await
        .unwrap();
    let patch = IntegrationPatch {
        name: Some("Renamed".into()),
        credentials: Some(object(json!({"c": 3}))),
        ..Default::default()
    };
    let after = store
        .update_integration(&env.id, &before.id, &patch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.name, "Renamed");
    assert_eq!(after.credentials, object(json!({"c": 3})), "not merged");
    assert_eq!(after.identifier, "fcm");
    assert!(!after.active);
    assert_eq!(after.conditions, before.conditions);
    assert_eq!(after.created_at, before.created_at);
    assert!(after.updated_at >= before.updated_at);
    let got = store.get_integration(&env.id, &before.id).await.unwrap();
    assert_eq!(got.as_ref(), Some(&after));

    let patch = IntegrationPatch {
        identifier: Some("fcm".into()),
        active: Some(true),
        conditions: Some(vec![]),
        ..Default::default()
    };
    let after = store
        .update_integration(&env.id, &before.id, &patch)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        after.identifier, "fcm",
        "keeping its own identifier is no conflict"
    );
    assert!(after.active);
    assert!(after.conditions.is_empty());
    assert_eq!(after.credentials, object(json!({"c": 3})));
}

pub async fn update_integration_to_a_taken_identifier_conflicts(store: &dyn Store) {
    let (env, _) = environments(store).await;
    create_integration(store, &env, ProviderId::Slack, "taken", true).await;
    let other = create_integration(store, &env, ProviderId::Slack, "other", true).await;
    let patch = IntegrationPatch {
        identifier: Some("taken".into()),
        name: Some("changed".into()),
        ..Default::default()
    };
    let err = store
        .update_integration(&env.id, &other.id, &patch)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let got = store.get_integration(&env.id, &other.id).await.unwrap();
    assert_eq!(got.as_ref(), Some(&other), "nothing changed");
}

pub async fn update_integration_of_an_unknown_or_deleted_integration_returns_none(
    store: &dyn Store,
) {
    let (env, _) = environments(store).await;
    let patch = IntegrationPatch {
        name: Some("x".into()),
        ..Default::default()
    };
    assert!(store
        .update_integration(&env.id, &ObjectId::new(), &patch)
        .await
        .unwrap()
        .is_none());
    let i = create_integration(store, &env, ProviderId::Slack, "s", true).await;
    store.delete_integration(&env.id, &i.id).await.unwrap();
    assert!(store
        .update_integration(&env.id, &i.id, &patch)
        .await
        .unwrap()
        .is_none());
}

pub async fn delete_integration_is_soft_and_hides_it(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let i = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    assert!(store.delete_integration(&env.id, &i.id).await.unwrap());
    assert!(!store.delete_integration(&env.id, &i.id).await.unwrap());
    assert!(!store
        .delete_integration(&env.id, &ObjectId::new())
        .await
        .unwrap());
    assert!(store
        .get_integration(&env.id, &i.id)
        .await
        .unwrap()
        .is_none());
    assert!(store.list_integrations(&env.id).await.unwrap().is_empty());
    assert!(store
        .find_active_integration(&env.id, ProviderId::Fcm, None)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .set_primary_integration(&env.id, &i.id)
        .await
        .unwrap()
        .is_none());
}

pub async fn set_primary_integration_clears_other_primaries_of_its_channel_and_activates_it(
    store: &dyn Store,
) {
    let (env, other_env) = environments(store).await;
    let p1 = create_integration(store, &env, ProviderId::Fcm, "p1", false).await;
    let p2 = create_integration(store, &env, ProviderId::Apns, "p2", true).await;
    let chat = create_integration(store, &env, ProviderId::Slack, "c1", true).await;
    let foreign = create_integration(store, &other_env, ProviderId::Fcm, "p1", true).await;
    store
        .set_primary_integration(&env.id, &chat.id)
        .await
        .unwrap();
    store
        .set_primary_integration(&other_env.id, &foreign.id)
        .await
        .unwrap();

    let p1 = store
        .set_primary_integration(&env.id, &p1.id)
        .await
        .unwrap()
        .unwrap();
    assert!(p1.primary);
    assert!(p1.active, "the primary integration is active");
    let p2 = store
        .set_primary_integration(&env.id, &p2.id)
        .await
        .unwrap()
        .unwrap();
    assert!(p2.primary);
    let get = |id: ObjectId, env_id: ObjectId| async move {
        store.get_integration(&env_id, &id).await.unwrap().unwrap()
    };
    let p1 = get(p1.id.clone(), env.id.clone()).await;
    assert!(!p1.primary, "one primary per channel type");
    assert!(p1.active, "losing primary does not deactivate");
    assert!(
        get(chat.id.clone(), env.id.clone()).await.primary,
        "other channel types keep theirs"
    );
    assert!(
        get(foreign.id.clone(), other_env.id.clone()).await.primary,
        "other environments keep theirs"
    );
    assert!(store
        .set_primary_integration(&env.id, &ObjectId::new())
        .await
        .unwrap()
        .is_none());
}

pub async fn find_active_integration_returns_the_newest_active_one(store: &dyn Store) {
    let (env, _) = environments(store).await;
    create_integration(store, &env, ProviderId::Fcm, "f1", true).await;
    let f2 = create_integration(store, &env, ProviderId::Fcm, "f2", true).await;
    create_integration(store, &env, ProviderId::Fcm, "f3", false).await;
    create_integration(store, &env, ProviderId::Apns, "a1", true).await;
    let found = store
        .find_active_integration(&env.id, ProviderId::Fcm, None)
        .await
        .unwrap();
    assert_eq!(found.as_ref(), Some(&f2));
    // `primary` plays no role.
    let f1 = store.list_integrations(&env.id).await.unwrap()[0].clone();
    store
        .set_primary_integration(&env.id, &f1.id)
        .await
        .unwrap();
    let found = store
        .find_active_integration(&env.id, ProviderId::Fcm, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, f2.id);
}

pub async fn find_active_integration_filters_by_identifier(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let f1 = create_integration(store, &env, ProviderId::Fcm, "f1", true).await;
    create_integration(store, &env, ProviderId::Fcm, "f2", true).await;
    create_integration(store, &env, ProviderId::Fcm, "f3", false).await;
    create_integration(store, &env, ProviderId::Apns, "a1", true).await;
    let find = |identifier: &'static str| {
        store.find_active_integration(&env.id, ProviderId::Fcm, Some(identifier))
    };
    assert_eq!(find("f1").await.unwrap().as_ref(), Some(&f1));
    assert!(find("f3").await.unwrap().is_none(), "inactive");
    assert!(find("a1").await.unwrap().is_none(), "another provider");
    assert!(find("nope").await.unwrap().is_none());
}

pub async fn find_active_integration_never_returns_inactive_or_deleted_ones(store: &dyn Store) {
    let (env, _) = environments(store).await;
    create_integration(store, &env, ProviderId::Fcm, "off", false).await;
    let find = || store.find_active_integration(&env.id, ProviderId::Fcm, None);
    assert!(find().await.unwrap().is_none());
    let f1 = create_integration(store, &env, ProviderId::Fcm, "f1", true).await;
    let f2 = create_integration(store, &env, ProviderId::Fcm, "f2", true).await;
    assert!(store.delete_integration(&env.id, &f2.id).await.unwrap());
    assert_eq!(find().await.unwrap().map(|i| i.id), Some(f1.id.clone()));
    let deactivate = IntegrationPatch {
        active: Some(false),
        ..Default::default()
    };
    store
        .update_integration(&env.id, &f1.id, &deactivate)
        .await
        .unwrap();
    assert!(find().await.unwrap().is_none());
}
