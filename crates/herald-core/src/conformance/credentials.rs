//! Cases for channel credentials (`update_credentials`, `delete_credentials`): the merge rules of
//! [`CredentialsUpdate::merged`](crate::CredentialsUpdate::merged) as stored and read back,
//! channel binding per integration, order, limits and no-op detection.

use super::fixtures::*;
use crate::{
    ChannelCredentials, CredentialsMode, CredentialsUpdate, ProviderId, Store, StoreError,
    MAX_DEVICE_TOKENS,
};

use CredentialsMode::{Append, Replace};

pub async fn a_new_channel_stores_all_eight_fields_and_the_integration_identifier(
    store: &dyn Store,
) {
    let (env, _) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm-main", true).await;
    create_subscriber(store, &env, "ada").await;
    let credentials = ChannelCredentials {
        webhook_url: Some("https://hooks.example.com/1".into()),
        channel: Some("general".into()),
        device_tokens: Some(strings(&["t1", "t2"])),
        alert_uid: Some("alert-1".into()),
        title: Some("Title".into()),
        image_url: Some("https://img.example.com/x.png".into()),
        state: Some("open".into()),
        external_url: Some("https://example.com/x".into()),
    };
    let update = CredentialsUpdate {
        provider_id: ProviderId::Fcm,
        integration_id: fcm.id.clone(),
        credentials: credentials.clone(),
        mode: Replace,
        ownership: crate::TokenOwnership::Move,
    };
    let s = write_credentials(store, &env, "ada", &update).await;
    assert_eq!(s.channels.len(), 1);
    let channel = &s.channels[0];
    assert_eq!(channel.provider_id, ProviderId::Fcm);
    assert_eq!(channel.integration_id, fcm.id);
    assert_eq!(channel.integration_identifier.as_deref(), Some("fcm-main"));
    assert_eq!(channel.credentials, credentials);
    assert_eq!(get(store, &env, "ada").await, s);
    assert_eq!(store.list_subscribers(&env.id, 0, 1).await.unwrap()[0], s);
}

pub async fn a_new_channel_without_device_tokens_has_no_device_tokens(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let slack = create_integration(store, &env, ProviderId::Slack, "slack", true).await;
    create_subscriber(store, &env, "ada").await;
    let s = write_credentials(store, &env, "ada", &webhook_update(&slack, Append, "u1")).await;
    let c = channel_of(&s, &slack.id);
    assert_eq!(c.webhook_url.as_deref(), Some("u1"));
    assert_eq!(c.device_tokens, None, "a key never written stays absent");
    // Once written, an empty list is not the same as absent.
    let s = write_credentials(store, &env, "ada", &webhook_update(&slack, Replace, "u2")).await;
    assert_eq!(channel_of(&s, &slack.id).device_tokens, Some(vec![]));
    assert_eq!(
        channel_of(&get(store, &env, "ada").await, &slack.id).device_tokens,
        Some(vec![])
    );
}

pub async fn put_credentials_replaces_device_tokens(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    create_subscriber(store, &env, "ada").await;
    let put = |t: &'static [&'static str]| tokens_update(&fcm, Replace, Some(t));
    write_credentials(store, &env, "ada", &put(&["a", "b"])).await;
    let s = write_credentials(store, &env, "ada", &put(&["c", "a"])).await;
    assert_eq!(tokens_of(&s, &fcm.id), ["c", "a"], "in the given order");
    let s = write_credentials(store, &env, "ada", &put(&["token_555"])).await;
    assert_eq!(tokens_of(&s, &fcm.id), ["token_555"]);
    assert_eq!(
        tokens_of(&get(store, &env, "ada").await, &fcm.id),
        ["token_555"]
    );
}

pub async fn patch_credentials_appends_unique_tokens_in_order(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    create_subscriber(store, &env, "ada").await;
    let patch = |t: &'static [&'static str]| tokens_update(&fcm, Append, Some(t));
    write_credentials(store, &env, "ada", &patch(&["identifier"])).await;
    let s = write_credentials(store, &env, "ada", &patch(&["token_1"])).await;
    assert_eq!(tokens_of(&s, &fcm.id), ["identifier", "token_1"]);
    let s = write_credentials(
        store,
        &env,
        "ada",
        &patch(&["token_2", "identifier", "token_3"]),
    )
    .await;
    assert_eq!(
        tokens_of(&s, &fcm.id),
        ["identifier", "token_1", "token_2", "token_3"]
    );
    assert_eq!(
        tokens_of(&get(store, &env, "ada").await, &fcm.id),
        ["identifier", "token_1", "token_2", "token_3"]
    );
}

pub async fn put_credentials_without_device_tokens_clears_them(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    create_subscriber(store, &env, "ada").await;
    write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm, Replace, Some(&["a"])),
    )
    .await;
    let s = write_credentials(store, &env, "ada", &webhook_update(&fcm, Replace, "u")).await;
    let c = channel_of(&s, &fcm.id);
    assert_eq!(c.device_tokens, Some(vec![]));
    assert_eq!(c.webhook_url.as_deref(), Some("u"));
    assert_eq!(channel_of(&get(store, &env, "ada").await, &fcm.id), c);
}

pub async fn patch_credentials_without_device_tokens_keeps_them(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    create_subscriber(store, &env, "ada").await;
    write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm, Append, Some(&["a", "b"])),
    )
    .await;
    let s = write_credentials(store, &env, "ada", &webhook_update(&fcm, Append, "u")).await;
    let c = channel_of(&s, &fcm.id);
    assert_eq!(c.device_tokens, Some(strings(&["a", "b"])));
    assert_eq!(c.webhook_url.as_deref(), Some("u"));
    assert_eq!(channel_of(&get(store, &env, "ada").await, &fcm.id), c);
}

pub async fn an_empty_token_list_clears_the_tokens_in_both_modes(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    create_subscriber(store, &env, "ada").await;
    for mode in [Replace, Append] {
        write_credentials(
            store,
            &env,
            "ada",
            &tokens_update(&fcm, Append, Some(&["a", "b"])),
        )
        .await;
        let s = write_credentials(store, &env, "ada", &tokens_update(&fcm, mode, Some(&[]))).await;
        assert_eq!(
            channel_of(&s, &fcm.id).device_tokens,
            Some(vec![]),
            "{mode:?}"
        );
        let stored = get(store, &env, "ada").await;
        assert_eq!(channel_of(&stored, &fcm.id).device_tokens, Some(vec![]));
    }
}

pub async fn credentials_fields_not_given_are_kept(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let slack = create_integration(store, &env, ProviderId::Slack, "slack", true).await;
    create_subscriber(store, &env, "ada").await;
    let mut first = webhook_update(&slack, Append, "u1");
    first.credentials.channel = Some("general".into());
    first.credentials.title = Some("T".into());
    write_credentials(store, &env, "ada", &first).await;
    for mode in [Append, Replace] {
        let s = write_credentials(store, &env, "ada", &webhook_update(&slack, mode, "u2")).await;
        let c = channel_of(&s, &slack.id);
        assert_eq!(c.webhook_url.as_deref(), Some("u2"));
        assert_eq!(c.channel.as_deref(), Some("general"), "{mode:?}");
        assert_eq!(c.title.as_deref(), Some("T"), "{mode:?}");
    }
}

pub async fn a_credentials_write_that_changes_nothing_keeps_updated_at(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    create_subscriber(store, &env, "ada").await;
    let before = write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm, Replace, Some(&["a", "b"])),
    )
    .await;
    for update in [
        tokens_update(&fcm, Append, Some(&["a"])),
        tokens_update(&fcm, Append, Some(&["b", "a"])),
        tokens_update(&fcm, Replace, Some(&["a", "b"])),
        tokens_update(&fcm, Append, None),
    ] {
        let after = write_credentials(store, &env, "ada", &update).await;
        assert_eq!(after, before, "{update:?} changes nothing");
    }
    assert_eq!(get(store, &env, "ada").await.updated_at, before.updated_at);
}

pub async fn channels_of_one_provider_bound_to_different_integrations_stay_apart(
    store: &dyn Store,
) {
    let (env, _) = environments(store).await;
    let a = create_integration(store, &env, ProviderId::Slack, "slack-a", true).await;
    let b = create_integration(store, &env, ProviderId::Slack, "slack-b", true).await;
    create_subscriber(store, &env, "ada").await;
    write_credentials(store, &env, "ada", &webhook_update(&a, Replace, "ua")).await;
    write_credentials(store, &env, "ada", &webhook_update(&b, Replace, "ub")).await;
    let s = write_credentials(store, &env, "ada", &webhook_update(&a, Replace, "ua2")).await;
    let bound: Vec<_> = s
        .channels
        .iter()
        .map(|c| {
            (
                c.provider_id,
                c.integration_identifier.as_deref().unwrap_or_default(),
                c.credentials.webhook_url.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        bound,
        [
            (ProviderId::Slack, "slack-a", "ua2"),
            (ProviderId::Slack, "slack-b", "ub")
        ],
        "one channel per integration, in insertion order"
    );
    assert_eq!(get(store, &env, "ada").await, s);
}

pub async fn more_than_100_device_tokens_are_refused_and_nothing_is_stored(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    let before = create_subscriber(store, &env, "ada").await;
    let many: Vec<String> = (0..=MAX_DEVICE_TOKENS).map(|i| format!("t{i}")).collect();
    let too_many = |tokens: &[String], mode| CredentialsUpdate {
        credentials: ChannelCredentials {
            device_tokens: Some(tokens.to_vec()),
            ..Default::default()
        },
        ..tokens_update(&fcm, mode, None)
    };
    let err = store
        .update_credentials(&env.id, "ada", &too_many(&many, Replace))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::TooManyDeviceTokens(e) if e.count == MAX_DEVICE_TOKENS + 1),
        "{err:?}"
    );
    assert_eq!(get(store, &env, "ada").await, before, "nothing stored");

    let hundred = &many[..MAX_DEVICE_TOKENS];
    let full = write_credentials(store, &env, "ada", &too_many(hundred, Replace)).await;
    assert_eq!(tokens_of(&full, &fcm.id), hundred);
    let err = store
        .update_credentials(
            &env.id,
            "ada",
            &too_many(&many[MAX_DEVICE_TOKENS..], Append),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::TooManyDeviceTokens(_)), "{err:?}");
    assert_eq!(get(store, &env, "ada").await, full, "nothing stored");
    // Re-sending tokens already held is fine.
    let same = write_credentials(store, &env, "ada", &too_many(&many[..3], Append)).await;
    assert_eq!(same, full);
}

pub async fn a_channel_loses_its_integration_identifier_when_the_integration_is_deleted(
    store: &dyn Store,
) {
    let (env, _) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm-main", true).await;
    create_subscriber(store, &env, "ada").await;
    let s = write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm, Append, Some(&["t"])),
    )
    .await;
    assert_eq!(
        s.channels[0].integration_identifier.as_deref(),
        Some("fcm-main")
    );
    assert!(store.delete_integration(&env.id, &fcm.id).await.unwrap());
    let s = get(store, &env, "ada").await;
    assert_eq!(s.channels.len(), 1, "the channel itself stays");
    assert_eq!(s.channels[0].integration_id, fcm.id);
    assert_eq!(s.channels[0].integration_identifier, None);
    assert_eq!(tokens_of(&s, &fcm.id), ["t"]);
}

pub async fn update_credentials_of_an_unknown_or_deleted_subscriber_returns_none(
    store: &dyn Store,
) {
    let (env, _) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    let update = tokens_update(&fcm, Append, Some(&["t"]));
    assert!(store
        .update_credentials(&env.id, "ghost", &update)
        .await
        .unwrap()
        .is_none());
    create_subscriber(store, &env, "ada").await;
    store.delete_subscriber(&env.id, "ada").await.unwrap();
    assert!(store
        .update_credentials(&env.id, "ada", &update)
        .await
        .unwrap()
        .is_none());
}

pub async fn delete_credentials_removes_every_channel_of_that_provider_only(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let d1 = create_integration(store, &env, ProviderId::Discord, "discord-1", true).await;
    let d2 = create_integration(store, &env, ProviderId::Discord, "discord-2", true).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    create_subscriber(store, &env, "ada").await;
    create_subscriber(store, &env, "bob").await;
    write_credentials(store, &env, "ada", &webhook_update(&d1, Append, "w1")).await;
    write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm, Append, Some(&["t1", "t2"])),
    )
    .await;
    write_credentials(store, &env, "ada", &webhook_update(&d2, Append, "w2")).await;
    write_credentials(store, &env, "bob", &webhook_update(&d1, Append, "wb")).await;
    assert_eq!(get(store, &env, "ada").await.channels.len(), 3);

    assert!(store
        .delete_credentials(&env.id, "ada", ProviderId::Discord)
        .await
        .unwrap());
    let ada = get(store, &env, "ada").await;
    assert_eq!(ada.channels.len(), 1);
    assert_eq!(ada.channels[0].provider_id, ProviderId::Fcm);
    assert_eq!(tokens_of(&ada, &fcm.id), ["t1", "t2"]);
    assert_eq!(
        get(store, &env, "bob").await.channels.len(),
        1,
        "other subscribers keep theirs"
    );
    // A provider the subscriber has no channel for: still found, nothing changes.
    assert!(store
        .delete_credentials(&env.id, "ada", ProviderId::Slack)
        .await
        .unwrap());
    assert_eq!(get(store, &env, "ada").await, ada);
    // Credentials can be written again afterwards.
    let again = write_credentials(store, &env, "ada", &webhook_update(&d1, Append, "w3")).await;
    assert_eq!(again.channels.len(), 2);
    assert_eq!(
        channel_of(&again, &d1.id).webhook_url.as_deref(),
        Some("w3")
    );
}

pub async fn delete_credentials_of_an_unknown_subscriber_returns_false(store: &dyn Store) {
    let (env, _) = environments(store).await;
    assert!(!store
        .delete_credentials(&env.id, "ghost", ProviderId::Fcm)
        .await
        .unwrap());
    create_subscriber(store, &env, "ada").await;
    store.delete_subscriber(&env.id, "ada").await.unwrap();
    assert!(!store
        .delete_credentials(&env.id, "ada", ProviderId::Fcm)
        .await
        .unwrap());
}
