//! The encrypted value format and the keyed token hash.
//!
//! A stored secret is the text `hv1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`:
//! XChaCha20-Poly1305 with a random 24-byte nonce (large enough that random nonces never repeat
//! under one key), so the same value encrypts differently every time and equality of
//! ciphertexts reveals nothing. Text rather than bytes keeps the columns `TEXT` in both backends.
//!
//! The additional authenticated data binds each value to where it belongs: the format version,
//! the key id, the [`Field`] it was written to and the environment that owns it. A ciphertext
//! copied into another field, another environment (another tenant) or relabelled with another key
//! id fails authentication instead of decrypting there.
//!
//! Equality lookups (a device token's uniqueness on its channel, "who holds this token") cannot use
//! randomised ciphertexts, so each token also gets a [`HashKey`] hash: HMAC-SHA256 under a random
//! key that never rotates (it is stored wrapped under the encryption keys), so hashes stay valid
//! across key rotations and reveal nothing without the key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::keys::{KeyId, Keyring, KEY_LEN};

/// The prefix of every encrypted value (format version 1).
pub const PREFIX: &str = "hv1:";
const NONCE_LEN: usize = 24;

/// Where an encrypted value lives; part of its authenticated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    WebhookUrl,
    Channel,
    AlertUid,
    Title,
    ImageUrl,
    State,
    ExternalUrl,
    DeviceToken,
    IntegrationCredentials,
    /// The token hash key, wrapped under each registered encryption key.
    HashKey,
}

impl Field {
    /// The channel text fields in the order of [`crate::ChannelCredentials::text_fields`].
    pub const CHANNEL_TEXT: [Field; 7] = [
        Field::WebhookUrl,
        Field::Channel,
        Field::AlertUid,
        Field::Title,
        Field::ImageUrl,
        Field::State,
        Field::ExternalUrl,
    ];

    fn label(self) -> &'static str {
        match self {
            Field::WebhookUrl => "channel.webhookUrl",
            Field::Channel => "channel.channel",
            Field::AlertUid => "channel.alertUid",
            Field::Title => "channel.title",
            Field::ImageUrl => "channel.imageUrl",
            Field::State => "channel.state",
            Field::ExternalUrl => "channel.externalUrl",
            Field::DeviceToken => "channel.deviceToken",
            Field::IntegrationCredentials => "integration.credentials",
            Field::HashKey => "database.hashKey",
        }
    }
}

/// Why a value could not be encrypted or decrypted. Never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("a stored secret is not in Herald's encrypted format")]
    Malformed,
    #[error("a stored secret was encrypted with key id {0}, which this process does not hold")]
    UnknownKey(KeyId),
    #[error("a stored secret failed authentication: wrong key, altered, or moved from another field or environment")]
    Forged,
    #[error("a decrypted secret is not valid text")]
    NotText,
}

/// The key id of an encrypted value, if it is one.
pub fn key_id_of(stored: &str) -> Option<KeyId> {
    let rest = stored.strip_prefix(PREFIX)?;
    KeyId::parse(rest.get(..8)?).filter(|_| rest.as_bytes().get(8) == Some(&b':'))
}

fn aad(id: &KeyId, field: Field, scope: &str) -> Vec<u8> {
    format!("{PREFIX}{id}|{}|{scope}", field.label()).into_bytes()
}

fn cipher(keyring: &Keyring, id: &KeyId) -> Result<XChaCha20Poly1305, SecretError> {
    let key = keyring
        .get(id)
        .ok_or_else(|| SecretError::UnknownKey(id.clone()))?;
    Ok(XChaCha20Poly1305::new(key.encryption_key().into()))
}

impl Keyring {
    /// Encrypts `plaintext` under key `id` for `field` of `scope` (an environment id, or `""` for
    /// database-wide values).
    pub fn seal(
        &self,
        id: &KeyId,
        field: Field,
        scope: &str,
        plaintext: &[u8],
    ) -> Result<String, SecretError> {
        let cipher = cipher(self, id)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = aad(id, field, scope);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            // Only fails for plaintexts beyond 256 GiB.
            .map_err(|_| SecretError::Malformed)?;
        let mut body = Vec::with_capacity(NONCE_LEN + sealed.len());
        body.extend_from_slice(&nonce);
        body.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{id}:{}", URL_SAFE_NO_PAD.encode(body)))
    }

    /// Decrypts a value written by [`Keyring::seal`] for the same `field` and `scope`.
    pub fn open(
        &self,
        field: Field,
        scope: &str,
        stored: &str,
    ) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let id = key_id_of(stored).ok_or(SecretError::Malformed)?;
        let body = URL_SAFE_NO_PAD
            .decode(&stored[PREFIX.len() + 9..])
            .map_err(|_| SecretError::Malformed)?;
        if body.len() < NONCE_LEN + 16 {
            return Err(SecretError::Malformed);
        }
        let cipher = cipher(self, &id)?;
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let aad = aad(&id, field, scope);
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SecretError::Forged)
    }
}

/// The key of the device-token hashes: random, per database, never rotated.
#[derive(Clone)]
pub struct HashKey(Zeroizing<[u8; KEY_LEN]>);

impl HashKey {
    pub fn generate() -> HashKey {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut *bytes);
        HashKey(bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<HashKey> {
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        (bytes.len() == KEY_LEN).then(|| {
            out.copy_from_slice(bytes);
            HashKey(out)
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &*self.0
    }

    /// The lookup hash of a device token in an environment: 64 hex digits.
    pub fn token_hash(&self, env: &str, token: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&*self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(b"herald/v1|device-token|");
        mac.update(env.as_bytes());
        mac.update(b"|");
        mac.update(token.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

impl std::fmt::Debug for HashKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HashKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretKey;

    fn ring() -> (Keyring, KeyId) {
        let ring = Keyring::new([SecretKey::generate()]).unwrap();
        let id = ring.primary().id().clone();
        (ring, id)
    }

    #[test]
    fn a_value_round_trips_and_encrypts_differently_each_time() {
        let (ring, id) = ring();
        let a = ring
            .seal(&id, Field::WebhookUrl, "env1", b"https://hook")
            .unwrap();
        let b = ring
            .seal(&id, Field::WebhookUrl, "env1", b"https://hook")
            .unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("hv1:{id}:")));
        assert!(!a.contains("hook"));
        assert_eq!(key_id_of(&a), Some(id));
        let back = ring.open(Field::WebhookUrl, "env1", &a).unwrap();
        assert_eq!(&back[..], b"https://hook");
        let empty = ring
            .seal(ring.primary().id(), Field::Title, "e", b"")
            .unwrap();
        assert!(ring.open(Field::Title, "e", &empty).unwrap().is_empty());
    }

    #[test]
    fn another_key_cannot_open_a_value() {
        let (ring, id) = ring();
        let sealed = ring.seal(&id, Field::DeviceToken, "env", b"tok").unwrap();
        let (other, _) = self::ring();
        assert_eq!(
            other.open(Field::DeviceToken, "env", &sealed),
            Err(SecretError::UnknownKey(id.clone()))
        );
        // A different key relabelled with the right id still fails: ids select, tags decide.
        let forged = format!(
            "hv1:{id}:{}",
            &other
                .seal(other.primary().id(), Field::DeviceToken, "env", b"tok")
                .unwrap()[13..]
        );
        assert_eq!(
            ring.open(Field::DeviceToken, "env", &forged),
            Err(SecretError::Forged)
        );
    }

    #[test]
    fn any_altered_byte_fails_authentication() {
        let (ring, id) = ring();
        let sealed = ring.seal(&id, Field::Channel, "env", b"#general").unwrap();
        let body = URL_SAFE_NO_PAD.decode(&sealed[13..]).unwrap();
        for i in [0, NONCE_LEN, body.len() - 1] {
            let mut bad = body.clone();
            bad[i] ^= 1;
            let text = format!("hv1:{id}:{}", URL_SAFE_NO_PAD.encode(&bad));
            assert_eq!(
                ring.open(Field::Channel, "env", &text),
                Err(SecretError::Forged),
                "byte {i}"
            );
        }
        for bad in [
            "",
            "plain text",
            "hv1:",
            "hv1:zzzzzzzz:AAAA",
            &format!("hv1:{id}:!!"),
            &sealed[..20],
        ] {
            assert_eq!(
                ring.open(Field::Channel, "env", bad),
                Err(SecretError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_value_is_bound_to_its_environment_and_field() {
        let (ring, id) = ring();
        let sealed = ring
            .seal(&id, Field::WebhookUrl, "tenant-a", b"https://a")
            .unwrap();
        assert_eq!(
            ring.open(Field::WebhookUrl, "tenant-b", &sealed),
            Err(SecretError::Forged)
        );
        assert_eq!(
            ring.open(Field::ImageUrl, "tenant-a", &sealed),
            Err(SecretError::Forged)
        );
    }

    #[test]
    fn token_hashes_are_keyed_and_scoped_by_environment() {
        let (k1, k2) = (HashKey::generate(), HashKey::generate());
        let h = k1.token_hash("env", "token");
        assert_eq!(h.len(), 64);
        assert_eq!(h, k1.token_hash("env", "token"));
        assert_ne!(h, k2.token_hash("env", "token"));
        assert_ne!(h, k1.token_hash("env2", "token"));
        assert!(
            HashKey::from_bytes(k1.as_bytes()).is_some_and(|k| k.token_hash("env", "token") == h)
        );
        assert_eq!(format!("{k1:?}"), "HashKey(<redacted>)");
    }
}
