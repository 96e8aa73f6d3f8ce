//! Organizations, environments and API keys. An API key belongs to one environment; every query a
//! request makes is scoped by that environment. Keys are stored only as SHA-256 hashes.

use std::fmt;

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::{ObjectId, Timestamp};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Environment {
    pub id: ObjectId,
    pub organization_id: ObjectId,
    pub name: String,
}

/// Who a request acts as, derived from its API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthContext {
    pub environment_id: ObjectId,
    pub organization_id: ObjectId,
    pub api_key_id: ObjectId,
}

/// The lowercase hex SHA-256 of an API key: what is stored and looked up.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyHash(String);

impl KeyHash {
    pub fn of(key: &str) -> Self {
        KeyHash(hex::encode(Sha256::digest(key.as_bytes())))
    }

    pub fn from_stored(hex: String) -> Self {
        KeyHash(hex)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A hash is not a secret, but there is no reason to print it whole either.
        write!(f, "KeyHash({}…)", &self.0[..8.min(self.0.len())])
    }
}

/// A new random API key: 16 random bytes as 32 hex characters, like Novu's.
pub fn generate_api_key() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The last four characters of a key, kept so that `herald keys list` can tell keys apart.
pub fn key_hint(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    chars[chars.len().saturating_sub(4)..].iter().collect()
}

/// A stored API key as listed by `herald keys list` (never the key itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiKeyInfo {
    pub id: ObjectId,
    pub environment_id: ObjectId,
    pub environment_name: String,
    pub hint: String,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hash_is_lowercase_sha256_hex() {
        assert_eq!(
            KeyHash::of("abc").as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn generated_keys_are_32_hex_and_hint_is_last_four() {
        let k = generate_api_key();
        assert_eq!(k.len(), 32);
        assert_eq!(key_hint(&k), &k[28..]);
        assert_eq!(key_hint("ab"), "ab");
    }
}
