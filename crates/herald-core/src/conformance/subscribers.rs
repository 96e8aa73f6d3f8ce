//! Cases for subscriber profiles: upsert, get, list, update, delete, bulk upsert, online status.

use serde_json::json;

use super::fixtures::*;
use crate::{
    BulkOutcome, CredentialsMode, Field, NewSubscriber, Profile, ProviderId, Store, Subscriber,
};

fn ids(list: &[Subscriber]) -> Vec<&str> {
    list.iter().map(|s| s.subscriber_id.as_str()).collect()
}

pub async fn upsert_creates_a_subscriber_with_version_zero(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let profile = Profile {
        first_name: text("Ada"),
        email: text("ada@example.com"),
        data: Field::Value(json!({"plan": "pro"})),
        ..Default::default()
    };
    let new = new_subscriber("ada", profile.clone());
    let (s, created) = store
        .upsert_subscriber(&env.id, &env.organization_id, &new, &patch(profile.clone()))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(s.subscriber_id, "ada");
    assert_eq!(s.environment_id, env.id);
    assert_eq!(s.organization_id, env.organization_id);
    assert_eq!(s.profile, profile);
    assert_eq!(s.version, Some(0));
    assert!(s.channels.is_empty());
    assert_eq!(s.is_online, None);
    assert_eq!(s.last_online_at, None);
    assert_eq!(s.created_at, s.updated_at);
    assert_eq!(s.id.as_str().len(), 24);
    assert_eq!(get(store, &env, "ada").await, s);
}

pub async fn upsert_of_an_existing_subscriber_applies_the_patch(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let first = Profile {
        first_name: text("Ada"),
        last_name: text("Lovelace"),
        data: Field::Value(json!({"a": 1, "b": 2})),
        ..Default::default()
    };
    let (created, _) = store
        .upsert_subscriber(
            &env.id,
            &env.organization_id,
            &new_subscriber("ada", first.clone()),
            &patch(first),
        )
        .await
        .unwrap();
    let second = Profile {
        first_name: text("Augusta"),
        data: Field::Value(json!({"c": 3})),
        ..Default::default()
    };
    let (updated, was_created) = store
        .upsert_subscriber(
            &env.id,
            &env.organization_id,
            &new_subscriber("ada", second.clone()),
            &patch(second),
        )
        .await
        .unwrap();
    assert!(!was_created);
    assert_eq!(updated.id, created.id);
    assert_eq!(updated.created_at, created.created_at);
    assert_eq!(updated.version, Some(0));
    assert_eq!(updated.profile.first_name, text("Augusta"));
    assert_eq!(
        updated.profile.last_name,
        text("Lovelace"),
        "absent fields are kept"
    );
    assert_eq!(
        updated.profile.data,
        Field::Value(json!({"c": 3})),
        "data is replaced, not merged"
    );
    assert!(updated.updated_at >= created.updated_at);
    assert_eq!(get(store, &env, "ada").await, updated);
    assert_eq!(
        store.list_subscribers(&env.id, 0, 10).await.unwrap().len(),
        1
    );
}

pub async fn null_and_absent_profile_fields_survive_a_round_trip(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let profile = Profile {
        first_name: text("Ada"),
        last_name: Field::Null,
        email: Field::Absent,
        phone: Field::Null,
        avatar: text("https://example.com/a.png"),
        locale: Field::Null,
        timezone: text("Europe/London"),
        data: Field::Null,
    };
    let (s, _) = store
        .upsert_subscriber(
            &env.id,
            &env.organization_id,
            &new_subscriber("ada", profile.clone()),
            &patch(profile.clone()),
        )
        .await
        .unwrap();
    assert_eq!(s.profile, profile);
    assert_eq!(get(store, &env, "ada").await.profile, profile);
    assert_eq!(
        store.list_subscribers(&env.id, 0, 1).await.unwrap()[0].profile,
        profile
    );

    // Data of any JSON type, and a value turned into null and back.
    let change = Profile {
        email: Field::Null,
        last_name: text("Lovelace"),
        data: Field::Value(json!([1, "two", {"three": null}])),
        ..Default::default()
    };
    let s = store
        .update_subscriber(&env.id, "ada", &patch(change))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.profile.email, Field::Null);
    assert_eq!(s.profile.last_name, text("Lovelace"));
    assert_eq!(s.profile.phone, Field::Null);
    assert_eq!(
        s.profile.data,
        Field::Value(json!([1, "two", {"three": null}]))
    );
    assert_eq!(get(store, &env, "ada").await, s);
}

pub async fn get_subscriber_ignores_unknown_and_deleted_subscribers(store: &dyn Store) {
    let (env, _) = environments(store).await;
    create_subscriber(store, &env, "ada").await;
    assert!(store
        .get_subscriber(&env.id, "bob")
        .await
        .unwrap()
        .is_none());
    assert!(store
        .get_subscriber(&env.id, "ADA")
        .await
        .unwrap()
        .is_none());
    assert!(store.delete_subscriber(&env.id, "ada").await.unwrap());
    assert!(store
        .get_subscriber(&env.id, "ada")
        .await
        .unwrap()
        .is_none());
}

pub async fn list_subscribers_is_oldest_first_with_offset_and_limit(store: &dyn Store) {
    let (env, _) = environments(store).await;
    for id in ["s1", "s2", "s3", "s4", "s5"] {
        create_subscriber(store, &env, id).await;
    }
    // Patching an early subscriber does not move it.
    create_subscriber(store, &env, "s1").await;
    let list = |offset, limit| store.list_subscribers(&env.id, offset, limit);
    assert_eq!(
        ids(&list(0, 10).await.unwrap()),
        ["s1", "s2", "s3", "s4", "s5"]
    );
    assert_eq!(ids(&list(1, 2).await.unwrap()), ["s2", "s3"]);
    assert_eq!(ids(&list(4, 10).await.unwrap()), ["s5"]);
    assert!(list(5, 10).await.unwrap().is_empty());
    assert!(list(0, 0).await.unwrap().is_empty());
    assert_eq!(ids(&list(3, u64::MAX).await.unwrap()), ["s4", "s5"]);
    assert_eq!(list(0, 10).await.unwrap()[2], get(store, &env, "s3").await);
}

pub async fn list_subscribers_excludes_deleted_subscribers(store: &dyn Store) {
    let (env, _) = environments(store).await;
    for id in ["s1", "s2", "s3"] {
        create_subscriber(store, &env, id).await;
    }
    assert!(store.delete_subscriber(&env.id, "s2").await.unwrap());
    let list = store.list_subscribers(&env.id, 0, 10).await.unwrap();
    assert_eq!(ids(&list), ["s1", "s3"]);
    let page = store.list_subscribers(&env.id, 1, 1).await.unwrap();
    assert_eq!(ids(&page), ["s3"], "offsets count only live subscribers");
}

pub async fn update_subscriber_changes_only_the_given_fields_and_replaces_data(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let profile = Profile {
        first_name: text("Ada"),
        email: text("ada@example.com"),
        data: Field::Value(json!({"a": 1})),
        ..Default::default()
    };
    let (before, _) = store
        .upsert_subscriber(
            &env.id,
            &env.organization_id,
            &new_subscriber("ada", profile.clone()),
            &patch(profile),
        )
        .await
        .unwrap();
    let change = Profile {
        last_name: text("Lovelace"),
        email: Field::Null,
        data: Field::Value(json!({"b": 2})),
        ..Default::default()
    };
    let after = store
        .update_subscriber(&env.id, "ada", &patch(change))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.profile.first_name, text("Ada"));
    assert_eq!(after.profile.last_name, text("Lovelace"));
    assert_eq!(after.profile.email, Field::Null);
    assert_eq!(after.profile.data, Field::Value(json!({"b": 2})));
    assert_eq!(after.id, before.id);
    assert_eq!(after.created_at, before.created_at);
    assert!(after.updated_at >= before.updated_at);
    assert_eq!(get(store, &env, "ada").await, after);
}

pub async fn update_subscriber_that_changes_nothing_keeps_updated_at(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let before = create_subscriber(store, &env, "ada").await;
    let same = Profile {
        first_name: text("ada"),
        ..Default::default()
    };
    let after = store
        .update_subscriber(&env.id, "ada", &patch(same))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after, before);
    let empty = store
        .update_subscriber(&env.id, "ada", &patch(Profile::default()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(empty, before);
    assert_eq!(get(store, &env, "ada").await.updated_at, before.updated_at);
}

pub async fn update_subscriber_of_an_unknown_or_deleted_subscriber_returns_none(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let change = patch(Profile {
        first_name: text("X"),
        ..Default::default()
    });
    assert!(store
        .update_subscriber(&env.id, "ghost", &change)
        .await
        .unwrap()
        .is_none());
    create_subscriber(store, &env, "ada").await;
    store.delete_subscriber(&env.id, "ada").await.unwrap();
    assert!(store
        .update_subscriber(&env.id, "ada", &change)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .list_subscribers(&env.id, 0, 10)
        .await
        .unwrap()
        .is_empty());
}

pub async fn delete_subscriber_soft_deletes_it_and_drops_its_channels(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    create_subscriber(store, &env, "ada").await;
    create_subscriber(store, &env, "bob").await;
    write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm, CredentialsMode::Append, Some(&["t1"])),
    )
    .await;
    assert!(store.delete_subscriber(&env.id, "ada").await.unwrap());
    assert!(!store.delete_subscriber(&env.id, "ada").await.unwrap());
    assert!(!store.delete_subscriber(&env.id, "ghost").await.unwrap());
    assert!(store
        .get_subscriber(&env.id, "ada")
        .await
        .unwrap()
        .is_none());
    assert!(get(store, &env, "bob").await.profile.first_name == text("bob"));
    // Credentials writes no longer find it; a new subscriber of that id starts without channels.
    assert!(store
        .update_credentials(
            &env.id,
            "ada",
            &tokens_update(&fcm, CredentialsMode::Append, Some(&["t2"]))
        )
        .await
        .unwrap()
        .is_none());
    let again = create_subscriber(store, &env, "ada").await;
    assert!(again.channels.is_empty());
}

pub async fn upsert_after_delete_creates_a_fresh_subscriber(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    let old_profile = Profile {
        first_name: text("Old"),
        email: text("old@example.com"),
        ..Default::default()
    };
    let (old, _) = store
        .upsert_subscriber(
            &env.id,
            &env.organization_id,
            &new_subscriber("x", old_profile.clone()),
            &patch(old_profile),
        )
        .await
        .unwrap();
    write_credentials(
        store,
        &env,
        "x",
        &tokens_update(&fcm, CredentialsMode::Append, Some(&["t1"])),
    )
    .await;
    store
        .set_online(&env.id, "x", false, crate::Timestamp::now())
        .await
        .unwrap();
    create_subscriber(store, &env, "y").await;
    assert!(store.delete_subscriber(&env.id, "x").await.unwrap());

    let new_profile = Profile {
        last_name: text("New"),
        ..Default::default()
    };
    let (fresh, created) = store
        .upsert_subscriber(
            &env.id,
            &env.organization_id,
            &new_subscriber("x", new_profile.clone()),
            &patch(new_profile.clone()),
        )
        .await
        .unwrap();
    assert!(created);
    assert_ne!(fresh.id, old.id);
    assert_eq!(fresh.profile, new_profile, "nothing of the old profile");
    assert_eq!(fresh.version, Some(0));
    assert!(fresh.channels.is_empty());
    assert_eq!(fresh.is_online, None);
    assert_eq!(fresh.last_online_at, None);
    assert!(fresh.created_at >= old.created_at);
    assert_eq!(fresh.created_at, fresh.updated_at);
    assert_eq!(get(store, &env, "x").await, fresh);
    let list = store.list_subscribers(&env.id, 0, 10).await.unwrap();
    assert_eq!(ids(&list), ["y", "x"], "the fresh subscriber is the newest");
}

pub async fn bulk_upsert_reports_created_and_updated_in_input_order(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let existing = create_subscriber(store, &env, "existing").await;
    let items: Vec<NewSubscriber> = ["test1", "test2", "existing", "test2"]
        .iter()
        .map(|id| new_subscriber(id, Profile::default()))
        .collect();
    let outcomes = store
        .bulk_upsert_subscribers(&env.id, &env.organization_id, &items)
        .await
        .unwrap();
    use BulkOutcome::*;
    assert_eq!(outcomes, [Created, Created, Updated, Updated]);
    let list = store.list_subscribers(&env.id, 0, 10).await.unwrap();
    assert_eq!(ids(&list), ["existing", "test1", "test2"]);
    assert_eq!(list[0].version, Some(0), "an existing subscriber keeps __v");
    assert_eq!(list[0].id, existing.id);
    assert_eq!(
        list[1].version, None,
        "subscribers created in bulk have no __v"
    );
    assert_eq!(list[2].version, None);
    assert_eq!(list[1].environment_id, env.id);
    assert_eq!(list[1].organization_id, env.organization_id);
    assert!(list[1].channels.is_empty());
}

pub async fn bulk_upsert_revives_deleted_subscribers_as_updated(store: &dyn Store) {
    let (env, _) = environments(store).await;
    create_subscriber(store, &env, "gone").await;
    assert!(store.delete_subscriber(&env.id, "gone").await.unwrap());
    let item = new_subscriber(
        "gone",
        Profile {
            email: text("back@example.com"),
            ..Default::default()
        },
    );
    let outcomes = store
        .bulk_upsert_subscribers(&env.id, &env.organization_id, &[item])
        .await
        .unwrap();
    assert_eq!(outcomes, [BulkOutcome::Updated]);
    let revived = get(store, &env, "gone").await;
    assert_eq!(revived.profile.email, text("back@example.com"));
    assert!(revived.channels.is_empty());
    assert_eq!(
        store.list_subscribers(&env.id, 0, 10).await.unwrap().len(),
        1
    );
}

pub async fn bulk_upsert_sets_the_given_fields_and_keeps_the_others(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let profile = Profile {
        first_name: text("Ada"),
        phone: text("+100"),
        data: Field::Value(json!({"a": 1})),
        ..Default::default()
    };
    store
        .upsert_subscriber(
            &env.id,
            &env.organization_id,
            &new_subscriber("ada", profile.clone()),
            &patch(profile),
        )
        .await
        .unwrap();
    let items = [
        new_subscriber(
            "ada",
            Profile {
                phone: text("+200"),
                locale: Field::Null,
                data: Field::Value(json!({"b": 2})),
                ..Default::default()
            },
        ),
        new_subscriber(
            "new",
            Profile {
                last_name: text("Fresh"),
                ..Default::default()
            },
        ),
    ];
    store
        .bulk_upsert_subscribers(&env.id, &env.organization_id, &items)
        .await
        .unwrap();
    let ada = get(store, &env, "ada").await;
    assert_eq!(ada.profile.first_name, text("Ada"));
    assert_eq!(ada.profile.phone, text("+200"));
    assert_eq!(ada.profile.locale, Field::Null);
    assert_eq!(ada.profile.data, Field::Value(json!({"b": 2})));
    let new = get(store, &env, "new").await;
    assert_eq!(new.profile, items[1].profile);
    assert_eq!(new.created_at, new.updated_at);
}

pub async fn set_online_sets_last_online_at_only_when_going_offline(store: &dyn Store) {
    let (env, _) = environments(store).await;
    create_subscriber(store, &env, "ada").await;
    let t1 = crate::Timestamp::from_millis(1_700_000_000_000);
    let online = store
        .set_online(&env.id, "ada", true, t1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(online.is_online, Some(true));
    assert_eq!(online.last_online_at, None);
    let offline = store
        .set_online(&env.id, "ada", false, t1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(offline.is_online, Some(false));
    assert_eq!(offline.last_online_at, Some(t1));
    let t2 = crate::Timestamp::from_millis(1_700_000_000_500);
    let back = store
        .set_online(&env.id, "ada", true, t2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.is_online, Some(true));
    assert_eq!(
        back.last_online_at,
        Some(t1),
        "going online keeps lastOnlineAt"
    );
    assert_eq!(get(store, &env, "ada").await, back);
}

pub async fn set_online_of_an_unknown_subscriber_returns_none(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let now = crate::Timestamp::now();
    assert!(store
        .set_online(&env.id, "ghost", true, now)
        .await
        .unwrap()
        .is_none());
    create_subscriber(store, &env, "ada").await;
    store.delete_subscriber(&env.id, "ada").await.unwrap();
    assert!(store
        .set_online(&env.id, "ada", false, now)
        .await
        .unwrap()
        .is_none());
}
