//! The vault's rules: unlocking a database with the right, a wrong and a partial keyring, the
//! switch to the database's current key, and key files re-read on an unknown key id.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::ChannelCredentials;

const ADA: Owner<'static> = Owner::Channel {
    subscriber: "65f000000000000000000001",
    integration: "65f0000000000000000000aa",
};
const BOB: Owner<'static> = Owner::Channel {
    subscriber: "65f000000000000000000002",
    integration: "65f0000000000000000000aa",
};

fn ring(n: usize) -> Keyring {
    Keyring::new((0..n).map(|_| SecretKey::generate())).unwrap()
}

/// A fresh database's `secret_keys` row and the vault that made it.
fn fresh(provider: &KeyProvider) -> (Vault, StoredKey) {
    match provider.unlock(&[]).unwrap() {
        Unlock::Fresh { vault, row } => (vault, row),
        Unlock::Ready(_) => panic!("an empty table is a fresh database"),
    }
}

fn ready(provider: &KeyProvider, rows: &[StoredKey]) -> Result<Vault, UnlockError> {
    match provider.unlock(rows)? {
        Unlock::Ready(vault) => Ok(vault),
        Unlock::Fresh { .. } => panic!("a database with keys is not fresh"),
    }
}

#[test]
fn a_fresh_database_gets_the_primary_key_and_the_same_keys_open_it_again() {
    let keys = ring(2);
    let provider = KeyProvider::new(keys.clone());
    let (vault, row) = fresh(&provider);
    assert_eq!(&row.key_id, keys.primary().id());
    assert!(row.current);
    let sealed = vault
        .encrypt(Field::WebhookUrl, "env", ADA, "https://hook")
        .unwrap();
    let again = ready(&provider, &[row]).unwrap();
    assert_eq!(
        again
            .decrypt(Field::WebhookUrl, "env", ADA, &sealed)
            .unwrap(),
        "https://hook"
    );
    // The hash key came back too: hashes are stable across opens.
    assert_eq!(vault.token_hash("env", "t"), again.token_hash("env", "t"));
}

#[test]
fn a_wrong_key_is_one_clear_error_naming_the_key_ids() {
    let (_, row) = fresh(&KeyProvider::new(ring(1)));
    let other = ring(1);
    let err = ready(&KeyProvider::new(other.clone()), std::slice::from_ref(&row)).unwrap_err();
    let msg = err.to_string();
    assert_eq!(
        msg,
        format!(
            "the secret key does not match this database (it was encrypted with key id {}; this \
             process holds key id {}); set HERALD_SECRET_KEY to the key this database was created with",
            row.key_id,
            other.primary().id()
        )
    );
    assert!(!msg.contains('\n'));
}

#[test]
fn a_process_without_the_current_key_is_refused() {
    let old = ring(1);
    let (_, old_row) = fresh(&KeyProvider::new(old.clone()));
    // Rotation registered a newer key and made it current.
    let newer = SecretKey::generate();
    let both = ready(
        &KeyProvider::new(old.with_primary(newer.clone())),
        std::slice::from_ref(&old_row),
    )
    .unwrap();
    let rows = [
        StoredKey {
            current: false,
            ..old_row
        },
        StoredKey {
            key_id: newer.id().clone(),
            wrapped_hash_key: both.wrap_hash_key(newer.id()).unwrap(),
            current: true,
        },
    ];
    let err = ready(&KeyProvider::new(old), &rows).unwrap_err();
    assert!(matches!(err, UnlockError::MissingCurrent { .. }), "{err}");
    assert!(err.to_string().contains(newer.id().as_str()), "{err}");
    // Holding only the newer key is enough.
    assert!(ready(&KeyProvider::new(Keyring::new([newer]).unwrap()), &rows).is_ok());
}

#[test]
fn channel_credentials_tokens_and_integration_credentials_round_trip() {
    let (vault, _) = fresh(&KeyProvider::new(ring(1)));
    let creds = ChannelCredentials {
        webhook_url: Some("https://hooks.example/T1".into()),
        channel: Some("#general".into()),
        title: Some(String::new()),
        ..Default::default()
    };
    let columns = vault.seal_channel("env", ADA, &creds).unwrap();
    assert!(columns[0].as_deref().is_some_and(|c| c.starts_with("hv2:")));
    assert_eq!(columns[2], None, "absent fields stay NULL");
    assert_eq!(
        vault.open_channel("env", ADA, columns.clone()).unwrap(),
        creds
    );
    assert!(vault
        .open_channel("other-env", ADA, columns.clone())
        .is_err());
    assert_eq!(
        vault.open_channel("env", BOB, columns),
        Err(SecretError::Forged),
        "another subscriber's channel"
    );

    let (token, hash) = vault.seal_token("env", ADA, "device-1").unwrap();
    assert_eq!(vault.open_token("env", ADA, &token).unwrap(), "device-1");
    assert_eq!(
        vault.open_token("env", BOB, &token),
        Err(SecretError::Forged)
    );
    assert_eq!(hash, vault.token_hash("env", "device-1"));

    let map = json!({"apiKey": "sk_live_1", "nested": {"a": [1, 2]}});
    let map = map.as_object().unwrap().clone();
    let sealed = vault.seal_credentials("env", "i1", &map).unwrap();
    assert!(!sealed.contains("sk_live_1"));
    assert_eq!(vault.open_credentials("env", "i1", &sealed).unwrap(), map);
    assert_eq!(
        vault.open_credentials("env", "i2", &sealed),
        Err(SecretError::Forged),
        "another integration's credentials"
    );
}

#[test]
fn a_value_from_before_owners_were_bound_is_bound_once_and_refused_otherwise() {
    let keys = ring(1);
    let (vault, _) = fresh(&KeyProvider::new(keys.clone()));
    let old = keys
        .seal(
            keys.primary().id(),
            Field::WebhookUrl,
            "env",
            b"https://old",
        )
        .unwrap();
    assert_eq!(
        vault.decrypt(Field::WebhookUrl, "env", ADA, &old),
        Err(SecretError::Unbound)
    );
    let bound = vault
        .bind_to_owner(Field::WebhookUrl, "env", ADA, &old)
        .unwrap()
        .expect("rewritten");
    assert!(vault.is_current(&bound));
    assert_eq!(
        vault
            .decrypt(Field::WebhookUrl, "env", ADA, &bound)
            .unwrap(),
        "https://old"
    );
    assert_eq!(
        vault.bind_to_owner(Field::WebhookUrl, "env", ADA, &bound),
        Ok(None),
        "an owner-bound value is left as it is"
    );
    assert!(
        !vault.is_current(&old),
        "rotation never keeps a format-1 value"
    );
}

#[test]
fn the_vault_switches_to_the_databases_current_key_when_it_holds_it() {
    let keys = ring(2);
    let second = keys.keys()[1].id().clone();
    let provider = KeyProvider::new(keys.clone()).check_every(Duration::ZERO);
    let (vault, _) = fresh(&provider);
    assert!(vault.current_check_due());
    let before = vault.encrypt(Field::Title, "e", ADA, "x").unwrap();
    assert!(vault.is_current(&before));
    assert!(vault.observe_current(&second));
    assert_eq!(vault.sealing_id(), second);
    assert!(!vault.is_current(&before));
    let after = vault.reencrypt(Field::Title, "e", ADA, &before).unwrap();
    assert_eq!(key_id_of(&after), Some(second));
    assert!(!vault.observe_current(&ring(1).primary().id().clone()));
}

#[test]
fn a_key_file_is_re_read_when_a_value_needs_a_key_the_process_lacks() {
    let old = ring(1);
    let file = Arc::new(Mutex::new(old.clone()));
    let reads = Arc::new(Mutex::new(0));
    let provider = KeyProvider::new(old.clone()).reloading({
        let (file, reads) = (file.clone(), reads.clone());
        Arc::new(move || {
            *reads.lock().unwrap() += 1;
            Ok(file.lock().unwrap().clone())
        })
    });
    let (reader, row) = fresh(&provider);
    // Another process rotates: the file gains a new primary, which it starts encrypting with.
    let rotated = old.with_primary(SecretKey::generate());
    *file.lock().unwrap() = rotated.clone();
    let writer = ready(&KeyProvider::new(rotated.clone()), &[row]).unwrap();
    assert!(writer.observe_current(rotated.primary().id()));
    let sealed = writer.encrypt(Field::Channel, "env", ADA, "#ops").unwrap();
    assert_eq!(
        reader.decrypt(Field::Channel, "env", ADA, &sealed).unwrap(),
        "#ops"
    );
    assert_eq!(*reads.lock().unwrap(), 1);
    assert!(reader.observe_current(rotated.primary().id()));
    assert_eq!(
        *reads.lock().unwrap(),
        1,
        "the key is held now: no second read"
    );
}

#[test]
fn errors_never_carry_the_secret() {
    let (vault, _) = fresh(&KeyProvider::new(ring(1)));
    let sealed = vault
        .encrypt(Field::WebhookUrl, "env", ADA, "https://secret-hook")
        .unwrap();
    let err = vault
        .decrypt(Field::WebhookUrl, "env", BOB, &sealed)
        .unwrap_err();
    assert_eq!(err, SecretError::Forged);
    assert!(!err.to_string().contains("secret-hook"));
    assert!(!format!("{vault:?}").contains(&sealed));
}
