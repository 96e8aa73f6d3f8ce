//! Cases for the encryption keys ([`SecretStore`](crate::SecretStore)): a store opened with
//! [`test_keyring`](crate::secrets::test_keyring) encrypts under its first key; rotating to the
//! second re-encrypts every value in batches, changes nothing a reader sees, and lets the first
//! key be retired. Secrets are checked through the trait only; each backend's own tests look at
//! the raw database.

use super::fixtures::*;
use crate::secrets::{test_keyring, KeyId};
use crate::{ChannelCredentials, CredentialsMode, CredentialsUpdate, KeyUsage, ProviderId, Store};

fn values_under(usage: &[KeyUsage], id: &KeyId) -> u64 {
    usage
        .iter()
        .find(|k| &k.key_id == id)
        .map_or(0, |k| k.values)
}

pub async fn rotating_keys_re_encrypts_every_value_in_batches_and_reads_stay_the_same(
    store: &dyn Store,
) {
    let ids = test_keyring().ids();
    let (first, second) = (&ids[0], &ids[1]);
    let (env, other_env) = environments(store).await;
    let fcm = create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    let slack = create_integration(store, &other_env, ProviderId::Slack, "slack", true).await;
    for id in ["ada", "bob", "cy"] {
        create_subscriber(store, &env, id).await;
        let tokens = [format!("{id}-1"), format!("{id}-2")];
        let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
        write_credentials(
            store,
            &env,
            id,
            &tokens_update(&fcm, CredentialsMode::Append, Some(&tokens)),
        )
        .await;
    }
    create_subscriber(store, &other_env, "dee").await;
    let chat = CredentialsUpdate {
        provider_id: ProviderId::Slack,
        integration_id: slack.id.clone(),
        credentials: ChannelCredentials {
            webhook_url: Some("https://hooks.example.com/dee".into()),
            channel: Some("#dee".into()),
            ..Default::default()
        },
        mode: CredentialsMode::Replace,
        ownership: crate::TokenOwnership::Move,
    };
    write_credentials(store, &other_env, "dee", &chat).await;
    let before = (
        store.list_subscribers(&env.id, 0, 10).await.unwrap(),
        store.list_subscribers(&other_env.id, 0, 10).await.unwrap(),
        store.list_integrations(&env.id).await.unwrap(),
        store.list_integrations(&other_env.id).await.unwrap(),
    );

    // 6 tokens, 2 channel fields, 2 integration credentials.
    let usage = store.key_usage().await.unwrap();
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert!(usage[0].current && usage[0].registered && &usage[0].key_id == first);
    assert_eq!(usage[0].values, 10);

    store.promote_key(second).await.unwrap();
    let mut batches = 0;
    let mut total = 0;
    loop {
        let done = store.reencrypt_batch(2).await.unwrap();
        if done == 0 {
            break;
        }
        total += done;
        batches += 1;
        assert!(batches < 20, "re-encryption must finish");
    }
    assert_eq!(total, 10);
    assert!(batches >= 3, "small batches: {batches}");
    let usage = store.key_usage().await.unwrap();
    assert_eq!(&usage[0].key_id, second, "current key first: {usage:?}");
    assert!(usage[0].current);
    assert_eq!(values_under(&usage, second), 10);
    assert_eq!(values_under(&usage, first), 0);

    let after = (
        store.list_subscribers(&env.id, 0, 10).await.unwrap(),
        store.list_subscribers(&other_env.id, 0, 10).await.unwrap(),
        store.list_integrations(&env.id).await.unwrap(),
        store.list_integrations(&other_env.id).await.unwrap(),
    );
    assert_eq!(after, before, "rotation changes no value a reader sees");

    // Token identity survives: re-sending a token adds nothing, a new one is encrypted anew.
    let s = write_credentials(
        store,
        &env,
        "ada",
        &tokens_update(&fcm, CredentialsMode::Append, Some(&["ada-1", "ada-3"])),
    )
    .await;
    assert_eq!(
        tokens_of(&s, &fcm.id),
        strings(&["ada-1", "ada-2", "ada-3"])
    );
    let usage = store.key_usage().await.unwrap();
    assert_eq!(values_under(&usage, second), 11);

    assert_eq!(store.retire_keys().await.unwrap(), vec![first.clone()]);
    let usage = store.key_usage().await.unwrap();
    assert_eq!(usage.len(), 1, "{usage:?}");
    assert!(store.retire_keys().await.unwrap().is_empty());
}

pub async fn a_key_still_encrypting_values_is_not_retired(store: &dyn Store) {
    let ids = test_keyring().ids();
    let (env, _) = environments(store).await;
    create_integration(store, &env, ProviderId::Fcm, "fcm", true).await;
    store.promote_key(&ids[1]).await.unwrap();
    // Nothing re-encrypted yet: the first key still holds the integration's credentials.
    assert!(store.retire_keys().await.unwrap().is_empty());
    let usage = store.key_usage().await.unwrap();
    assert_eq!(values_under(&usage, &ids[0]), 1);
    assert!(usage
        .iter()
        .any(|k| k.key_id == ids[0] && k.registered && !k.current));
    // New values go under the promoted key at once.
    create_integration(store, &env, ProviderId::Apns, "apns", true).await;
    assert_eq!(values_under(&store.key_usage().await.unwrap(), &ids[1]), 1);
}
