//! Cases for one owner per device token ([`TokenOwnership`]) and for removing tokens one by one
//! (`remove_device_tokens`). Under `Move`, every write that registers a token (a credentials
//! `PUT` or `PATCH`, a subscriber create or `/bulk` item with channels) takes it away from the
//! other subscribers of the environment holding it for the same integration: their channel stays,
//! the token leaves its list, their `updated_at` moves. Under `Share` nothing moves (Novu).

use std::sync::Arc;

use super::fixtures::*;
use super::Spawn;
use crate::{
    CredentialsMode, CredentialsUpdate, Environment, Integration, ProviderId, Store,
    SubscriberWrite, Timestamp, TokenOwnership,
};

use CredentialsMode::{Append, Replace};

/// A write of device tokens under `Share` (Novu's behaviour).
fn shared(integration: &Integration, mode: CredentialsMode, tokens: &[&str]) -> CredentialsUpdate {
    CredentialsUpdate {
        ownership: TokenOwnership::Share,
        ..tokens_update(integration, mode, Some(tokens))
    }
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// A time strictly after `t`, once the clock has passed it: a write stamped at or after this
/// moved `updated_at`. Spins for at most a second (the clock moves every millisecond).
fn after(t: Timestamp) -> Timestamp {
    let started = std::time::Instant::now();
    loop {
        let now = Timestamp::now();
        if now > t {
            return now;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "the clock did not move"
        );
        std::thread::yield_now();
    }
}

async fn fcm(store: &dyn Store, env: &Environment, identifier: &str) -> Integration {
    create_integration(store, env, ProviderId::Fcm, identifier, true).await
}

pub async fn registering_a_held_token_with_put_moves_it_from_the_other_subscriber(
    store: &dyn Store,
) {
    let (env, _) = environments(store).await;
    let fcm = fcm(store, &env, "fcm").await;
    create_subscriber(store, &env, "ada").await;
    create_subscriber(store, &env, "bob").await;
    let ada = write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm, Replace, Some(&["a1", "phone", "a2"])),
    )
    .await;
    let mark = after(ada.updated_at);
    let bob = write_credentials(
        store,
        &env,
        "bob",
        &tokens_update(&fcm, Replace, Some(&["phone"])),
    )
    .await;
    assert_eq!(tokens_of(&bob, &fcm.id), ["phone"]);
    let ada = get(store, &env, "ada").await;
    assert_eq!(
        tokens_of(&ada, &fcm.id),
        ["a1", "a2"],
        "the others keep order"
    );
    assert!(
        ada.updated_at >= mark,
        "the former holder's updated_at moves"
    );
    assert_eq!(get(store, &env, "bob").await, bob);
}

pub async fn registering_a_held_token_with_patch_keeps_the_emptied_channel(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = fcm(store, &env, "fcm").await;
    create_subscriber(store, &env, "ada").await;
    create_subscriber(store, &env, "bob").await;
    let mut first = tokens_update(&fcm, Append, Some(&["phone"]));
    first.credentials.title = Some("Ada's phone".into());
    write_credentials(store, &env, "ada", &first).await;
    write_credentials(
        store,
        &env,
        "bob",
        &tokens_update(&fcm, Append, Some(&["b1"])),
    )
    .await;
    let bob = write_credentials(
        store,
        &env,
        "bob",
        &tokens_update(&fcm, Append, Some(&["phone"])),
    )
    .await;
    assert_eq!(tokens_of(&bob, &fcm.id), ["b1", "phone"]);
    let ada = get(store, &env, "ada").await;
    let channel = channel_of(&ada, &fcm.id);
    assert_eq!(
        channel.device_tokens,
        Some(vec![]),
        "the channel stays, with an empty token list"
    );
    assert_eq!(channel.title.as_deref(), Some("Ada's phone"));
}

pub async fn a_subscriber_create_or_bulk_write_with_channels_moves_held_tokens(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = fcm(store, &env, "fcm").await;
    create_subscriber(store, &env, "ada").await;
    write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm, Append, Some(&["t1", "t2", "t3"])),
    )
    .await;
    let (bob, created) = store
        .upsert_subscriber_with_channels(
            &env.id,
            &env.organization_id,
            &new_subscriber("bob", Default::default()),
            &patch(Default::default()),
            &[tokens_update(&fcm, Append, Some(&["t1"]))],
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(tokens_of(&bob, &fcm.id), ["t1"]);
    assert_eq!(
        tokens_of(&get(store, &env, "ada").await, &fcm.id),
        ["t2", "t3"]
    );

    let item = |id: &str, tokens: &[&str]| SubscriberWrite {
        subscriber: new_subscriber(id, Default::default()),
        channels: vec![tokens_update(&fcm, Append, Some(tokens))],
    };
    // Two items of one request registering the same token: the later one ends holding it.
    let outcomes = store
        .bulk_write_subscribers(
            &env.id,
            &env.organization_id,
            &[item("carol", &["t2", "x"]), item("dave", &["x", "t3"])],
        )
        .await
        .unwrap();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(
        tokens_of(&get(store, &env, "ada").await, &fcm.id),
        Vec::<String>::new()
    );
    assert_eq!(tokens_of(&get(store, &env, "carol").await, &fcm.id), ["t2"]);
    assert_eq!(
        tokens_of(&get(store, &env, "dave").await, &fcm.id),
        ["x", "t3"]
    );
    assert_eq!(tokens_of(&get(store, &env, "bob").await, &fcm.id), ["t1"]);
}

/// A `/bulk` request claiming more tokens than a backend may lock one by one (PostgreSQL locks
/// the environment instead) moves them all the same.
pub async fn a_bulk_write_claiming_many_tokens_moves_them_all(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = fcm(store, &env, "fcm").await;
    let named = |prefix: &str, range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|i| format!("{prefix}{i:03}")).collect()
    };
    create_subscriber(store, &env, "ada").await;
    let held = named("t", 0..100);
    write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm, Append, Some(&strs(&held))),
    )
    .await;
    let bob = named("t", 0..70);
    let carol = [named("t", 50..100), named("u", 0..30)].concat();
    let item = |id: &str, tokens: &[String]| SubscriberWrite {
        subscriber: new_subscriber(id, Default::default()),
        channels: vec![tokens_update(&fcm, Append, Some(&strs(tokens)))],
    };
    let outcomes = store
        .bulk_write_subscribers(
            &env.id,
            &env.organization_id,
            &[item("bob", &bob), item("carol", &carol)],
        )
        .await
        .unwrap();
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(
        tokens_of(&get(store, &env, "ada").await, &fcm.id),
        Vec::<String>::new()
    );
    assert_eq!(
        tokens_of(&get(store, &env, "bob").await, &fcm.id),
        named("t", 0..50)
    );
    assert_eq!(tokens_of(&get(store, &env, "carol").await, &fcm.id), carol);
}

pub async fn sharing_keeps_a_token_on_every_subscriber_that_registered_it(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = fcm(store, &env, "fcm").await;
    for id in ["ada", "bob", "carol"] {
        create_subscriber(store, &env, id).await;
    }
    let ada = write_credentials(store, &env, "ada", &shared(&fcm, Replace, &["phone"])).await;
    write_credentials(store, &env, "bob", &shared(&fcm, Append, &["phone"])).await;
    let (carol, _) = store
        .upsert_subscriber_with_channels(
            &env.id,
            &env.organization_id,
            &new_subscriber("carol", Default::default()),
            &patch(Default::default()),
            &[shared(&fcm, Append, &["phone"])],
        )
        .await
        .unwrap();
    assert_eq!(tokens_of(&carol, &fcm.id), ["phone"]);
    assert_eq!(get(store, &env, "ada").await, ada, "ada is untouched");
    assert_eq!(
        tokens_of(&get(store, &env, "bob").await, &fcm.id),
        ["phone"]
    );

    // A moving registration of a shared token takes it from every other holder at once.
    write_credentials(
        store,
        &env,
        "bob",
        &tokens_update(&fcm, Append, Some(&["phone"])),
    )
    .await;
    for id in ["ada", "carol"] {
        assert_eq!(
            tokens_of(&get(store, &env, id).await, &fcm.id),
            Vec::<String>::new(),
            "{id}"
        );
    }
    assert_eq!(
        tokens_of(&get(store, &env, "bob").await, &fcm.id),
        ["phone"]
    );
}

pub async fn re_registering_a_held_token_takes_it_from_those_sharing_it(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm = fcm(store, &env, "fcm").await;
    create_subscriber(store, &env, "ada").await;
    create_subscriber(store, &env, "bob").await;
    write_credentials(store, &env, "bob", &shared(&fcm, Append, &["phone"])).await;
    let ada = write_credentials(store, &env, "ada", &shared(&fcm, Append, &["phone"])).await;
    // Ada's channel does not change, so her `updated_at` stays; Bob loses the token.
    for update in [
        tokens_update(&fcm, Append, Some(&["phone"])),
        tokens_update(&fcm, Replace, Some(&["phone"])),
    ] {
        let again = write_credentials(store, &env, "ada", &update).await;
        assert_eq!(again, ada, "{update:?}");
    }
    assert_eq!(get(store, &env, "ada").await, ada);
    let bob = get(store, &env, "bob").await;
    assert_eq!(tokens_of(&bob, &fcm.id), Vec::<String>::new());
}

pub async fn a_token_moves_only_between_channels_of_the_same_integration(store: &dyn Store) {
    let (env, _) = environments(store).await;
    let fcm_a = fcm(store, &env, "fcm-a").await;
    let fcm_b = fcm(store, &env, "fcm-b").await;
    let apns = create_integration(store, &env, ProviderId::Apns, "apns", true).await;
    create_subscriber(store, &env, "ada").await;
    create_subscriber(store, &env, "bob").await;
    write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm_a, Append, Some(&["t"])),
    )
    .await;
    let ada = write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&apns, Append, Some(&["t"])),
    )
    .await;
    // Bob registers the same token through another integration of the same provider, and
    // through another provider: Ada keeps both of hers.
    write_credentials(
        store,
        &env,
        "bob",
        &tokens_update(&fcm_b, Append, Some(&["t"])),
    )
    .await;
    assert_eq!(get(store, &env, "ada").await, ada);
    // One subscriber holding a token on two integrations keeps both when it registers it again.
    let bob = write_credentials(
        store,
        &env,
        "bob",
        &tokens_update(&fcm_a, Append, Some(&["t"])),
    )
    .await;
    assert_eq!(tokens_of(&bob, &fcm_a.id), ["t"]);
    assert_eq!(tokens_of(&bob, &fcm_b.id), ["t"]);
    let ada = get(store, &env, "ada").await;
    assert_eq!(tokens_of(&ada, &fcm_a.id), Vec::<String>::new());
    assert_eq!(tokens_of(&ada, &apns.id), ["t"]);
}

pub async fn registering_a_token_never_touches_another_environment(store: &dyn Store) {
    let (dev, prod) = environments(store).await;
    let fcm = fcm(store, &dev, "fcm").await;
    let prod_fcm = create_integration(store, &prod, ProviderId::Fcm, "fcm", true).await;
    create_subscriber(store, &prod, "zed").await;
    // Bound to the Development integration's id too: only the environment tells them apart.
    let mut foreign = tokens_update(&fcm, Append, Some(&["phone"]));
    foreign.ownership = TokenOwnership::Share;
    write_credentials(store, &prod, "zed", &foreign).await;
    let zed = write_credentials(
        store,
        &prod,
        "zed",
        &tokens_update(&prod_fcm, Append, Some(&["phone"])),
    )
    .await;
    create_subscriber(store, &dev, "ada").await;
    let ada = write_credentials(
        store,
        &dev,
        "ada",
        &tokens_update(&fcm, Replace, Some(&["phone"])),
    )
    .await;
    assert_eq!(tokens_of(&ada, &fcm.id), ["phone"]);
    assert_eq!(
        get(store, &prod, "zed").await,
        zed,
        "nothing of zed changed"
    );
}

pub async fn removing_device_tokens_takes_them_from_every_channel_of_the_provider_only(
    store: &dyn Store,
) {
    let (env, _) = environments(store).await;
    let fcm_a = fcm(store, &env, "fcm-a").await;
    let fcm_b = fcm(store, &env, "fcm-b").await;
    let apns = create_integration(store, &env, ProviderId::Apns, "apns", true).await;
    create_subscriber(store, &env, "ada").await;
    create_subscriber(store, &env, "bob").await;
    write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm_a, Append, Some(&["a", "b", "c"])),
    )
    .await;
    write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm_b, Append, Some(&["b"])),
    )
    .await;
    let before = write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&apns, Append, Some(&["b"])),
    )
    .await;
    let bob = write_credentials(store, &env, "bob", &shared(&fcm_a, Append, &["b"])).await;
    let mark = after(before.updated_at);

    let removed = store
        .remove_device_tokens(
            &env.id,
            "ada",
            ProviderId::Fcm,
            &strings(&["b", "not-held"]),
        )
        .await
        .unwrap()
        .expect("ada exists");
    assert_eq!(tokens_of(&removed, &fcm_a.id), ["a", "c"]);
    assert_eq!(
        channel_of(&removed, &fcm_b.id).device_tokens,
        Some(vec![]),
        "the emptied channel stays"
    );
    assert_eq!(
        tokens_of(&removed, &apns.id),
        ["b"],
        "another provider keeps it"
    );
    assert!(removed.updated_at >= mark);
    assert_eq!(get(store, &env, "ada").await, removed);
    assert_eq!(
        get(store, &env, "bob").await,
        bob,
        "other subscribers keep theirs"
    );

    // Tokens not held are ignored, and nothing changing keeps `updated_at`.
    let again = store
        .remove_device_tokens(&env.id, "ada", ProviderId::Fcm, &strings(&["b", "zzz"]))
        .await
        .unwrap()
        .expect("ada exists");
    assert_eq!(again, removed);
    for ghost in ["ghost", "deleted"] {
        if ghost == "deleted" {
            create_subscriber(store, &env, ghost).await;
            store.delete_subscriber(&env.id, ghost).await.unwrap();
        }
        let none = store
            .remove_device_tokens(&env.id, ghost, ProviderId::Fcm, &strings(&["a"]))
            .await
            .unwrap();
        assert!(none.is_none(), "{ghost}");
    }
}

/// Twenty registrations of one token by each of two subscribers, all at once, alternating PUT
/// and PATCH: exactly one of them holds it afterwards, and each keeps its own other token (five
/// rounds, one token each, as a lost race shows only now and then). Then two subscribers swapping
/// tokens at once, ten times: each token ends with exactly one holder.
pub async fn concurrent_registrations_of_one_token_leave_one_holder(
    store: Arc<dyn Store>,
    spawn: Spawn,
) {
    let (env, _) = environments(&*store).await;
    let fcm = fcm(&*store, &env, "fcm").await;
    let subscribers = [("ada", "ada-own"), ("bob", "bob-own")];
    for (id, own) in subscribers {
        create_subscriber(&*store, &env, id).await;
        write_credentials(
            &*store,
            &env,
            id,
            &tokens_update(&fcm, Append, Some(&[own])),
        )
        .await;
    }
    let register = |id: &'static str, update: CredentialsUpdate| {
        let (store, env_id) = (store.clone(), env.id.clone());
        spawn(Box::pin(async move {
            store
                .update_credentials(&env_id, id, &update)
                .await
                .unwrap()
                .expect("the subscriber exists");
        }))
    };
    let holders_of = |token: String| {
        let (store, env) = (store.clone(), env.clone());
        let fcm = fcm.id.clone();
        async move {
            let mut holders = Vec::new();
            for (id, own) in subscribers {
                let tokens = tokens_of(&get(&*store, &env, id).await, &fcm);
                assert!(tokens.contains(&own.to_string()), "{id}: {tokens:?}");
                if tokens.contains(&token) {
                    holders.push(id);
                }
            }
            holders
        }
    };
    for round in 0..5 {
        let phone = format!("phone-{round}");
        let tasks: Vec<_> = (0..40)
            .map(|i| {
                let (id, own) = subscribers[i % 2];
                let update = if i % 4 < 2 {
                    tokens_update(&fcm, Replace, Some(&[own, phone.as_str()]))
                } else {
                    tokens_update(&fcm, Append, Some(&[phone.as_str()]))
                };
                register(id, update)
            })
            .collect();
        for task in tasks {
            task.await;
        }
        let holders = holders_of(phone.clone()).await;
        assert_eq!(holders.len(), 1, "{phone}: one holder, not {holders:?}");
    }

    // Swaps: Ada registers Bob's token while Bob registers Ada's, ten rounds at once.
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (id, token) = if i % 2 == 0 {
                ("ada", "bob-own")
            } else {
                ("bob", "ada-own")
            };
            register(id, tokens_update(&fcm, Append, Some(&[token])))
        })
        .collect();
    for task in tasks {
        task.await;
    }
    let ada = tokens_of(&get(&*store, &env, "ada").await, &fcm.id);
    let bob = tokens_of(&get(&*store, &env, "bob").await, &fcm.id);
    for token in ["ada-own", "bob-own"] {
        let held = [&ada, &bob]
            .iter()
            .filter(|t| t.contains(&token.to_string()))
            .count();
        assert_eq!(held, 1, "{token}: ada {ada:?}, bob {bob:?}");
    }
}
