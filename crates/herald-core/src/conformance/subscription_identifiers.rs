//! Cases for the identifier that names a subscription within its topic: the caller's or the
//! default `<topicKey>:<subscriberId>`, unique per topic, kept when the subscriber subscribes
//! again, and found by `get_topic_subscription_by_identifier`.

use super::fixtures::*;
use super::paging::query;
use crate::topic::{IdentifierConflict, NewSubscription, TopicSubscription};
use crate::{Environment, Store};

/// A subscription of `subscriber_id` named `identifier`.
fn named(subscriber_id: &str, identifier: &str) -> NewSubscription {
    NewSubscription {
        identifier: Some(identifier.to_string()),
        ..NewSubscription::of(subscriber_id)
    }
}

fn conflict(subscriber_id: &str, identifier: &str) -> IdentifierConflict {
    IdentifierConflict {
        subscriber_id: subscriber_id.to_string(),
        identifier: identifier.to_string(),
    }
}

fn identifiers(list: &[TopicSubscription]) -> Vec<&str> {
    list.iter().map(|s| s.identifier.as_str()).collect()
}

async fn add(
    store: &dyn Store,
    env: &Environment,
    key: &str,
    requested: &[NewSubscription],
) -> crate::topic::AddSubscribersOutcome {
    store
        .add_topic_subscribers(&env.id, &env.organization_id, key, requested, None)
        .await
        .unwrap()
}

async fn by_identifier(
    store: &dyn Store,
    env: &Environment,
    key: &str,
    identifier: &str,
) -> Option<TopicSubscription> {
    store
        .get_topic_subscription_by_identifier(&env.id, key, identifier)
        .await
        .unwrap()
}

pub async fn a_subscription_keeps_the_identifier_and_name_it_was_created_with(store: &dyn Store) {
    let (env, _) = environments(store).await;
    create_subscriber(store, &env, "ada").await;
    let requested = NewSubscription {
        name: Some("Ada's news".into()),
        ..named("ada", "my-sub-1")
    };
    let outcome = add(store, &env, "news", &[requested]).await;
    assert!(outcome.not_found.is_empty() && outcome.conflicts.is_empty());
    let added = outcome.subscriptions[0].clone();
    assert_eq!(added.identifier, "my-sub-1");
    assert_eq!(added.name.as_deref(), Some("Ada's news"));

    // Every read shows the stored identifier and name.
    assert_eq!(
        by_identifier(store, &env, "news", "my-sub-1").await,
        Some(added.clone())
    );
    let got = store
        .get_topic_subscription(&env.id, "news", "ada")
        .await
        .unwrap();
    assert_eq!(got, Some(added.clone()), "still found by subscriber id");
    let all = query(None, None, 10, false);
    let listed = store
        .topic_subscriptions(&env.id, "news", None, &all)
        .await
        .unwrap();
    assert_eq!(listed.items, std::slice::from_ref(&added));
    let listed = store
        .subscriber_subscriptions(&env.id, "ada", None, &all)
        .await
        .unwrap();
    assert_eq!(listed.items, std::slice::from_ref(&added));
    let removed = store
        .remove_topic_subscribers(&env.id, "news", &strings(&["ada"]))
        .await
        .unwrap();
    assert_eq!(removed, [added]);
}

pub async fn a_subscription_without_an_identifier_is_named_topic_key_colon_subscriber_id(
    store: &dyn Store,
) {
    let (env, _) = environments(store).await;
    for id in ["ada", "bob"] {
        create_subscriber(store, &env, id).await;
    }
    let outcome = add(
        store,
        &env,
        "news",
        &[NewSubscription::of("ada"), named("bob", "bobs")],
    )
    .await;
    assert_eq!(identifiers(&outcome.subscriptions), ["news:ada", "bobs"]);
    assert_eq!(outcome.subscriptions[0].name, None);
    assert_eq!(
        by_identifier(store, &env, "news", "news:ada").await,
        Some(outcome.subscriptions[0].clone())
    );
    let added = subscribe(store, &env, "sports", &["ada"]).await;
    assert_eq!(identifiers(&added), ["sports:ada"]);
}

pub async fn get_topic_subscription_by_identifier_finds_only_that_topics_subscription(
    store: &dyn Store,
) {
    let (env, _) = environments(store).await;
    for id in ["ada", "bob", "cy"] {
        create_subscriber(store, &env, id).await;
    }
    let news = add(
        store,
        &env,
        "news",
        &[named("ada", "shared"), named("bob", "b")],
    )
    .await;
    // The same identifier names a different subscription in another topic.
    let sports = add(store, &env, "sports", &[named("cy", "shared")]).await;
    assert!(news.conflicts.is_empty() && sports.conflicts.is_empty());

    let env = &env;
    let find = move |key: &'static str, identifier: &'static str| {
        by_identifier(store, env, key, identifier)
    };
    assert_eq!(
        find("news", "shared").await,
        Some(news.subscriptions[0].clone())
    );
    assert_eq!(
        find("sports", "shared").await,
        Some(sports.subscriptions[0].clone())
    );
    assert_eq!(find("news", "b").await, Some(news.subscriptions[1].clone()));
    assert_eq!(
        find("sports", "b").await,
        None,
        "another topic's identifier"
    );
    assert_eq!(
        find("news", "ada").await,
        None,
        "a subscriber id is not an identifier"
    );
    assert_eq!(
        find("news", "news:ada").await,
        None,
        "the default of a named one"
    );
    assert_eq!(
        find("news", "SHARED").await,
        None,
        "identifiers are case-sensitive"
    );
    assert_eq!(find("news", "ghost").await, None);
    assert_eq!(find("missing", "shared").await, None, "no such topic");

    // A removed or deleted subscriber's subscription is gone, identifier included.
    store
        .remove_topic_subscribers(&env.id, "news", &strings(&["bob"]))
        .await
        .unwrap();
    assert_eq!(find("news", "b").await, None);
    assert!(store.delete_subscriber(&env.id, "ada").await.unwrap());
    assert_eq!(find("news", "shared").await, None);
}

pub async fn an_identifier_taken_in_the_topic_is_reported_as_a_conflict_and_not_stored(
    store: &dyn Store,
) {
    let (env, _) = environments(store).await;
    for id in ["ada", "bob", "cy", "dee", "eve", "fay"] {
        create_subscriber(store, &env, id).await;
    }
    let first = add(
        store,
        &env,
        "news",
        &[named("ada", "shared"), named("cy", "news:eve")],
    )
    .await;
    assert!(first.conflicts.is_empty());

    let outcome = add(
        store,
        &env,
        "news",
        &[
            named("bob", "shared"),
            named("dee", "fresh"),
            named("ghost", "shared"),
            // Taken by `dee` a moment ago, in the same request.
            named("fay", "fresh"),
            // The default `news:eve` is taken too.
            NewSubscription::of("eve"),
        ],
    )
    .await;
    assert_eq!(identifiers(&outcome.subscriptions), ["fresh"]);
    assert_eq!(outcome.not_found, ["ghost"]);
    assert_eq!(
        outcome.conflicts,
        [
            conflict("bob", "shared"),
            conflict("fay", "fresh"),
            conflict("eve", "news:eve")
        ]
    );
    // The same identifier in another topic is no conflict.
    let elsewhere = add(store, &env, "sports", &[named("bob", "shared")]).await;
    assert!(elsewhere.conflicts.is_empty());
    let outcome = add(store, &env, "news", &[named("bob", "bobs")]).await;
    assert_eq!(identifiers(&outcome.subscriptions), ["bobs"]);

    assert_eq!(
        members(store, &env, "news").await,
        ["ada", "cy", "dee", "bob"]
    );
    assert_eq!(
        by_identifier(store, &env, "news", "shared")
            .await
            .map(|s| s.subscriber.subscriber_id),
        Some("ada".to_string()),
        "the first holder keeps it"
    );
    // Free again once its holder leaves.
    store
        .remove_topic_subscribers(&env.id, "news", &strings(&["ada"]))
        .await
        .unwrap();
    let outcome = add(store, &env, "news", &[named("eve", "shared")]).await;
    assert!(outcome.conflicts.is_empty());
    assert_eq!(identifiers(&outcome.subscriptions), ["shared"]);
}

pub async fn subscribing_again_keeps_the_subscription_and_its_identifier(store: &dyn Store) {
    let (env, _) = environments(store).await;
    for id in ["ada", "bob"] {
        create_subscriber(store, &env, id).await;
    }
    let first = add(
        store,
        &env,
        "news",
        &[named("ada", "first"), named("bob", "bobs")],
    )
    .await;
    let ada = first.subscriptions[0].clone();

    // Neither another identifier, nor none, nor one that bob's subscription has changes ada's.
    for again in [
        NewSubscription {
            name: Some("renamed".into()),
            ..named("ada", "second")
        },
        NewSubscription::of("ada"),
        named("ada", "bobs"),
    ] {
        let outcome = add(store, &env, "news", &[again]).await;
        assert_eq!(outcome.subscriptions, std::slice::from_ref(&ada));
        assert!(outcome.conflicts.is_empty());
    }
    assert_eq!(by_identifier(store, &env, "news", "second").await, None);
    let page = store
        .topic_subscriptions(&env.id, "news", None, &query(None, None, 10, false))
        .await
        .unwrap();
    assert_eq!(identifiers(&page.items), ["first", "bobs"]);

    // After leaving, a subscriber comes back under the identifier it asks for.
    store
        .remove_topic_subscribers(&env.id, "news", &strings(&["ada"]))
        .await
        .unwrap();
    let back = add(store, &env, "news", &[named("ada", "second")]).await;
    assert_eq!(identifiers(&back.subscriptions), ["second"]);
    assert_ne!(back.subscriptions[0].id, ada.id);
    assert_eq!(by_identifier(store, &env, "news", "first").await, None);
}

pub async fn subscription_identifiers_are_scoped_to_the_environment(store: &dyn Store) {
    let (a, b) = environments(store).await;
    create_subscriber(store, &a, "ada").await;
    create_subscriber(store, &b, "ada").await;
    let in_a = add(store, &a, "news", &[named("ada", "shared")]).await;
    assert!(in_a.conflicts.is_empty());

    assert_eq!(by_identifier(store, &b, "news", "shared").await, None);
    let in_b = add(store, &b, "news", &[named("ada", "shared")]).await;
    assert!(in_b.conflicts.is_empty(), "{:?}", in_b.conflicts);
    assert_ne!(in_b.subscriptions[0].id, in_a.subscriptions[0].id);
    assert_eq!(
        by_identifier(store, &b, "news", "shared").await,
        Some(in_b.subscriptions[0].clone())
    );
    assert_eq!(
        by_identifier(store, &a, "news", "shared").await,
        Some(in_a.subscriptions[0].clone())
    );
}
