//! Cases for the subscriber writes that bind channels as they create or update
//! (`upsert_subscriber_with_channels`, `bulk_write_subscribers`): a write is whole or absent.
//! `POST /v1/subscribers` keeps nothing when one of its channels cannot be written; in `/bulk`
//! only the failing item is rolled back, profile included, and the others are kept.

use super::fixtures::*;
use crate::{
    BulkOutcome, CredentialsMode, Environment, Integration, ProviderId, Store, StoreError,
    SubscriberWrite, MAX_DEVICE_TOKENS,
};

use CredentialsMode::Append;

/// `n` distinct device tokens named `{prefix}{i}`.
fn tokens(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// A subscriber `id` whose FCM channel holds `n` tokens.
async fn holding_tokens(
    store: &dyn Store,
    env: &Environment,
    fcm: &Integration,
    id: &str,
    n: usize,
) {
    create_subscriber(store, env, id).await;
    let held = tokens("held-", n);
    let held: Vec<&str> = held.iter().map(String::as_str).collect();
    write_credentials(store, env, id, &tokens_update(fcm, Append, Some(&held))).await;
}

pub async fn upsert_with_channels_writes_the_profile_and_every_channel(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let slack = create_integration(store, &env, ProviderId::Slack, "slack", true).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    let profile = crate::Profile {
        first_name: text("Ada"),
        ..Default::default()
    };
    let channels = [
        webhook_update(&slack, Append, "https://hooks.example.com/ada"),
        tokens_update(&fcm, Append, Some(&["t1", "t2"])),
    ];
    let (stored, created) = store
        .upsert_subscriber_with_channels(
            &env.id,
            &env.organization_id,
            &new_subscriber("ada", profile.clone()),
            &patch(profile),
            &channels,
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(stored.profile.first_name, text("Ada"));
    assert_eq!(
        channel_of(&stored, &slack.id).webhook_url.as_deref(),
        Some("https://hooks.example.com/ada")
    );
    assert_eq!(tokens_of(&stored, &fcm.id), ["t1", "t2"]);
    assert_eq!(get(store, &env, "ada").await, stored);

    // On an existing subscriber the channels are appended to, as a credentials PATCH does.
    let (again, created) = store
        .upsert_subscriber_with_channels(
            &env.id,
            &env.organization_id,
            &new_subscriber("ada", Default::default()),
            &patch(Default::default()),
            &[tokens_update(&fcm, Append, Some(&["t3"]))],
        )
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(tokens_of(&again, &fcm.id), ["t1", "t2", "t3"]);
}

pub async fn upsert_with_a_channel_over_the_token_limit_writes_nothing(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let slack = create_integration(store, &env, ProviderId::Slack, "slack", true).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    holding_tokens(store, &env, &fcm, "bob", 95).await;
    let before = get(store, &env, "bob").await;

    // An existing subscriber: the profile change and the first channel are rolled back with the
    // channel that fails.
    let ten = tokens("new-", 10);
    let ten: Vec<&str> = ten.iter().map(String::as_str).collect();
    let renamed = crate::Profile {
        first_name: text("Robert"),
        ..Default::default()
    };
    let err = store
        .upsert_subscriber_with_channels(
            &env.id,
            &env.organization_id,
            &new_subscriber("bob", renamed.clone()),
            &patch(renamed),
            &[
                webhook_update(&slack, Append, "https://hooks.example.com/bob"),
                tokens_update(&fcm, Append, Some(&ten)),
            ],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::TooManyDeviceTokens(e) if e.count == 105),
        "{err:?}"
    );
    assert_eq!(
        get(store, &env, "bob").await,
        before,
        "nothing of bob changed"
    );

    // A new subscriber whose two channels bind the same integration and add up past the limit
    // is not created at all.
    let sixty = tokens("a-", 60);
    let sixty: Vec<&str> = sixty.iter().map(String::as_str).collect();
    let more = tokens("b-", 60);
    let more: Vec<&str> = more.iter().map(String::as_str).collect();
    let err = store
        .upsert_subscriber_with_channels(
            &env.id,
            &env.organization_id,
            &new_subscriber("carol", Default::default()),
            &patch(Default::default()),
            &[
                tokens_update(&fcm, Append, Some(&sixty)),
                tokens_update(&fcm, Append, Some(&more)),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::TooManyDeviceTokens(_)), "{err:?}");
    assert_eq!(store.get_subscriber(&env.id, "carol").await.unwrap(), None);
    let listed = store.list_subscribers(&env.id, 0, 10).await.unwrap();
    assert_eq!(listed.len(), 1, "only bob exists");
}

/// The case of the security review: `[carol + a Slack webhook, bob + 10 tokens on top of his 95,
/// dave + a Slack webhook]`.
pub async fn bulk_write_rolls_back_only_the_item_that_fails(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let slack = create_integration(store, &env, ProviderId::Slack, "slack", true).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    holding_tokens(store, &env, &fcm, "bob", 95).await;
    let bob_before = get(store, &env, "bob").await;
    let ten = tokens("new-", 10);
    let ten: Vec<&str> = ten.iter().map(String::as_str).collect();
    let item = |id: &str, first_name: &str, channels| SubscriberWrite {
        subscriber: new_subscriber(
            id,
            crate::Profile {
                first_name: text(first_name),
                ..Default::default()
            },
        ),
        channels,
    };
    let items = [
        item(
            "carol",
            "Carol",
            vec![webhook_update(
                &slack,
                Append,
                "https://hooks.example.com/carol",
            )],
        ),
        item(
            "bob",
            "Robert",
            vec![tokens_update(&fcm, Append, Some(&ten))],
        ),
        item(
            "dave",
            "Dave",
            vec![webhook_update(
                &slack,
                Append,
                "https://hooks.example.com/dave",
            )],
        ),
    ];
    let outcomes = store
        .bulk_write_subscribers(&env.id, &env.organization_id, &items)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 3);
    assert!(
        matches!(outcomes[0], Ok(BulkOutcome::Created)),
        "{outcomes:?}"
    );
    assert!(
        matches!(&outcomes[1], Err(StoreError::TooManyDeviceTokens(e)) if e.count == 95 + 10),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[2], Ok(BulkOutcome::Created)),
        "{outcomes:?}"
    );

    assert_eq!(
        get(store, &env, "bob").await,
        bob_before,
        "bob is untouched"
    );
    assert_eq!(tokens_of(&bob_before, &fcm.id).len(), 95);
    for (id, name) in [("carol", "Carol"), ("dave", "Dave")] {
        let s = get(store, &env, id).await;
        assert_eq!(s.profile.first_name, text(name));
        assert_eq!(
            channel_of(&s, &slack.id).webhook_url,
            Some(format!("https://hooks.example.com/{id}")),
            "{id} was written with its channel"
        );
        assert_eq!(s.version, None, "created by a bulk write");
    }
}

pub async fn bulk_write_of_a_failing_new_subscriber_creates_nothing_for_it(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    let half = tokens("a-", MAX_DEVICE_TOKENS / 2 + 1);
    let half: Vec<&str> = half.iter().map(String::as_str).collect();
    let other = tokens("b-", MAX_DEVICE_TOKENS / 2 + 1);
    let other: Vec<&str> = other.iter().map(String::as_str).collect();
    let items = [
        SubscriberWrite {
            subscriber: new_subscriber("erin", Default::default()),
            channels: vec![
                tokens_update(&fcm, Append, Some(&half)),
                tokens_update(&fcm, Append, Some(&other)),
            ],
        },
        SubscriberWrite {
            subscriber: new_subscriber("frank", Default::default()),
            channels: vec![tokens_update(&fcm, Append, Some(&["f1"]))],
        },
        // The same id again after its failure: created now, as if the first had never been.
        SubscriberWrite {
            subscriber: new_subscriber("erin", Default::default()),
            channels: Vec::new(),
        },
    ];
    let outcomes = store
        .bulk_write_subscribers(&env.id, &env.organization_id, &items)
        .await
        .unwrap();
    assert!(
        matches!(outcomes[0], Err(StoreError::TooManyDeviceTokens(_))),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[1], Ok(BulkOutcome::Created)),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[2], Ok(BulkOutcome::Created)),
        "{outcomes:?}"
    );
    let erin = get(store, &env, "erin").await;
    assert!(erin.channels.is_empty(), "{erin:?}");
    assert_eq!(tokens_of(&get(store, &env, "frank").await, &fcm.id), ["f1"]);
}
