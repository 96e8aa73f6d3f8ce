//! The encrypted value format and the keyed token hash.
//!
//! A stored secret is the text `hv2:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>`:
//! XChaCha20-Poly1305 with a random 24-byte nonce (large enough that random nonces never repeat
//! under one key), so the same value encrypts differently every time and equality of
//! ciphertexts reveals nothing. Text rather than bytes keeps the columns `TEXT` in both backends.
//!
//! The additional authenticated data binds each value to where it belongs: the format version,
//! the key id, the [`Field`] it was written to, the environment that owns it, and its [`Owner`]:
//! the subscriber and integration of a channel, or the integration whose credentials it is, by
//! ids that never change. A ciphertext copied into another field, another environment (another
//! tenant), another subscriber's or integration's row, or relabelled with another key id fails
//! authentication instead of decrypting there.
//!
//! Format 1 (`hv1:`) bound a value to its field and environment only, so someone able to write
//! the database could move one subscriber's webhook URL or token to another subscriber of the same
//! environment and it decrypted cleanly (issue 14). It is still the format of the wrapped token
//! hash key, which has no owner; a per-owner secret in it is refused ([`SecretError::Unbound`]),
//! except by [`Keyring::open`], with which the stores rewrite such values once, when they
//! upgrade a database to schema version 5.
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

/// The prefix of every encrypted value bound to its owner (format version 2).
pub const PREFIX: &str = "hv2:";
/// The prefix of values bound to their field and scope only (format version 1): the wrapped hash
/// key, and secrets written before schema version 5.
pub const UNBOUND_PREFIX: &str = "hv1:";
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

/// Who a stored secret belongs to within its environment: the row that owns it, named by ids
/// that never change. Part of the secret's authenticated data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner<'a> {
    /// A text field or device token of a subscriber's channel: the subscriber's `_id` (not its
    /// external `subscriberId`, which a deleted subscriber's successor reuses) and the `_id` of
    /// the integration the channel is bound to (a subscriber has one channel per integration).
    Channel {
        subscriber: &'a str,
        integration: &'a str,
    },
    /// An integration's credentials: the integration's `_id`.
    Integration(&'a str),
}

impl Owner<'_> {
    /// The owner in words, for error messages (ids only, never a value).
    pub fn describe(&self) -> String {
        match self {
            Owner::Channel {
                subscriber,
                integration,
            } => format!(
                "the channel of subscriber _id {subscriber} bound to integration {integration}"
            ),
            Owner::Integration(id) => format!("integration {id}"),
        }
    }

    fn label(&self) -> String {
        match self {
            Owner::Channel {
                subscriber,
                integration,
            } => format!("subscriber={subscriber};integration={integration}"),
            Owner::Integration(id) => format!("integration={id}"),
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
    #[error("a stored secret failed authentication: wrong key, altered, or moved from another field, owner (subscriber, channel, integration) or environment")]
    Forged,
    #[error("a stored secret is not bound to its owner (format hv1, from before schema version 5, which rewrites every stored secret when it is applied); it was written by an older Herald or copied from an old backup, and is refused")]
    Unbound,
    #[error("a decrypted secret is not valid text")]
    NotText,
}

/// A secret that could not be decrypted, with whose it is: what a store reports (and the server
/// logs) instead of any part of the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a secret of {owner} cannot be read: {error}")]
pub struct UnreadableSecret {
    /// [`Owner::describe`].
    pub owner: String,
    pub error: SecretError,
}

impl UnreadableSecret {
    pub fn new(owner: Owner<'_>, error: SecretError) -> Self {
        UnreadableSecret {
            owner: owner.describe(),
            error,
        }
    }
}

/// A stored value split into its format, key id and body.
struct Parsed<'a> {
    bound: bool,
    id: KeyId,
    body: &'a str,
}

fn parse(stored: &str) -> Option<Parsed<'_>> {
    let (bound, rest) = match stored.strip_prefix(PREFIX) {
        Some(rest) => (true, rest),
        None => (false, stored.strip_prefix(UNBOUND_PREFIX)?),
    };
    let id = KeyId::parse(rest.get(..8)?).filter(|_| rest.as_bytes().get(8) == Some(&b':'))?;
    Some(Parsed {
        bound,
        id,
        body: &rest[9..],
    })
}

/// The key id of an encrypted value (either format), if it is one.
pub fn key_id_of(stored: &str) -> Option<KeyId> {
    parse(stored).map(|p| p.id)
}

/// Whether `stored` is in the owner-bound format (`hv2:`).
pub fn is_owner_bound(stored: &str) -> bool {
    parse(stored).is_some_and(|p| p.bound)
}

fn aad(id: &KeyId, field: Field, scope: &str, owner: Option<&Owner<'_>>) -> Vec<u8> {
    match owner {
        Some(owner) => format!("{PREFIX}{id}|{}|{scope}|{}", field.label(), owner.label()),
        None => format!("{UNBOUND_PREFIX}{id}|{}|{scope}", field.label()),
    }
    .into_bytes()
}

fn cipher(keyring: &Keyring, id: &KeyId) -> Result<XChaCha20Poly1305, SecretError> {
    let key = keyring
        .get(id)
        .ok_or_else(|| SecretError::UnknownKey(id.clone()))?;
    Ok(XChaCha20Poly1305::new(key.encryption_key().into()))
}

impl Keyring {
    /// Encrypts `plaintext` under key `id` for `field` of `env`, bound to `owner` (format 2).
    pub fn seal_owned(
        &self,
        id: &KeyId,
        field: Field,
        env: &str,
        owner: Owner<'_>,
        plaintext: &[u8],
    ) -> Result<String, SecretError> {
        self.seal_with(id, field, env, Some(&owner), plaintext)
    }

    /// Decrypts a value written by [`Keyring::seal_owned`] for the same field, environment and
    /// owner. A value in format 1 is [`SecretError::Unbound`].
    pub fn open_owned(
        &self,
        field: Field,
        env: &str,
        owner: Owner<'_>,
        stored: &str,
    ) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        self.open_with(field, env, Some(&owner), stored)
    }

    /// Encrypts `plaintext` under key `id` for `field` of `scope` (an environment id, or `""` for
    /// database-wide values), bound to no owner (format 1): for the wrapped hash key only.
    pub fn seal(
        &self,
        id: &KeyId,
        field: Field,
        scope: &str,
        plaintext: &[u8],
    ) -> Result<String, SecretError> {
        self.seal_with(id, field, scope, None, plaintext)
    }

    /// Decrypts a value written by [`Keyring::seal`] (format 1) for the same `field` and `scope`:
    /// the wrapped hash key, or a secret from before schema version 5 being rewritten.
    pub fn open(
        &self,
        field: Field,
        scope: &str,
        stored: &str,
    ) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        self.open_with(field, scope, None, stored)
    }

    fn seal_with(
        &self,
        id: &KeyId,
        field: Field,
        scope: &str,
        owner: Option<&Owner<'_>>,
        plaintext: &[u8],
    ) -> Result<String, SecretError> {
        let cipher = cipher(self, id)?;
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let aad = aad(id, field, scope, owner);
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
        let prefix = if owner.is_some() {
            PREFIX
        } else {
            UNBOUND_PREFIX
        };
        Ok(format!("{prefix}{id}:{}", URL_SAFE_NO_PAD.encode(body)))
    }

    fn open_with(
        &self,
        field: Field,
        scope: &str,
        owner: Option<&Owner<'_>>,
        stored: &str,
    ) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let parsed = parse(stored).ok_or(SecretError::Malformed)?;
        match (parsed.bound, owner.is_some()) {
            (true, true) | (false, false) => {}
            (false, true) => return Err(SecretError::Unbound),
            // An owner-bound value where an unbound one belongs (the wrapped hash key).
            (true, false) => return Err(SecretError::Forged),
        }
        let body = URL_SAFE_NO_PAD
            .decode(parsed.body)
            .map_err(|_| SecretError::Malformed)?;
        if body.len() < NONCE_LEN + 16 {
            return Err(SecretError::Malformed);
        }
        let cipher = cipher(self, &parsed.id)?;
        let (nonce, sealed) = body.split_at(NONCE_LEN);
        let aad = aad(&parsed.id, field, scope, owner);
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

    const ADA: Owner<'static> = Owner::Channel {
        subscriber: "65f000000000000000000001",
        integration: "65f0000000000000000000aa",
    };

    #[test]
    fn an_owned_value_round_trips_only_for_its_owner() {
        let (ring, id) = ring();
        let sealed = ring
            .seal_owned(&id, Field::WebhookUrl, "env", ADA, b"https://ada")
            .unwrap();
        assert!(sealed.starts_with(&format!("hv2:{id}:")));
        assert!(is_owner_bound(&sealed));
        assert_eq!(key_id_of(&sealed), Some(id.clone()));
        let back = ring
            .open_owned(Field::WebhookUrl, "env", ADA, &sealed)
            .unwrap();
        assert_eq!(&back[..], b"https://ada");
        let others = [
            Owner::Channel {
                subscriber: "65f000000000000000000002",
                integration: "65f0000000000000000000aa",
            },
            Owner::Channel {
                subscriber: "65f000000000000000000001",
                integration: "65f0000000000000000000bb",
            },
            Owner::Integration("65f0000000000000000000aa"),
        ];
        for other in others {
            assert_eq!(
                ring.open_owned(Field::WebhookUrl, "env", other, &sealed),
                Err(SecretError::Forged),
                "{other:?}"
            );
        }
        // Still bound to field and environment too.
        assert_eq!(
            ring.open_owned(Field::Channel, "env", ADA, &sealed),
            Err(SecretError::Forged)
        );
        assert_eq!(
            ring.open_owned(Field::WebhookUrl, "env2", ADA, &sealed),
            Err(SecretError::Forged)
        );
    }

    #[test]
    fn the_two_formats_are_never_confused() {
        let (ring, id) = ring();
        let unbound = ring
            .seal(&id, Field::WebhookUrl, "env", b"https://old")
            .unwrap();
        assert!(unbound.starts_with(&format!("hv1:{id}:")) && !is_owner_bound(&unbound));
        // A value from before owners were bound is refused where an owner is expected…
        assert_eq!(
            ring.open_owned(Field::WebhookUrl, "env", ADA, &unbound),
            Err(SecretError::Unbound)
        );
        // …and relabelling it as format 2 does not help.
        let relabelled = unbound.replacen("hv1:", "hv2:", 1);
        assert_eq!(
            ring.open_owned(Field::WebhookUrl, "env", ADA, &relabelled),
            Err(SecretError::Forged)
        );
        // The upgrade reads it with the format-1 rules; a format-2 value is not one.
        assert_eq!(
            &ring.open(Field::WebhookUrl, "env", &unbound).unwrap()[..],
            b"https://old"
        );
        let bound = ring
            .seal_owned(&id, Field::WebhookUrl, "env", ADA, b"x")
            .unwrap();
        assert_eq!(
            ring.open(Field::WebhookUrl, "env", &bound),
            Err(SecretError::Forged)
        );
        assert!(SecretError::Unbound
            .to_string()
            .contains("not bound to its owner"));
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
