//! Encryption at rest of the secrets Herald stores: subscriber channel credentials (webhook URLs,
//! chat channels, device tokens and the other credential fields) and integration credentials
//! (provider API keys, service accounts).
//!
//! Why here, in the core: both stores must encrypt exactly the same fields the same way, and a
//! value written by one Herald process must be readable by every other process holding the key,
//! so the format, the key handling and the "is this the right key" check exist once. The stores
//! only decide where ciphertexts go.
//!
//! - [`keys`]: keys (32 bytes, base64), their derived ids, and the process's [`Keyring`]
//!   (primary first, older keys after it for reading).
//! - [`cipher`]: the stored format `hv2:<key id>:<base64url(nonce ‖ ciphertext)>`
//!   (XChaCha20-Poly1305, random nonces, bound to field, environment and owning row), and the
//!   keyed HMAC-SHA256 hash used where a store needs equality (device-token uniqueness).
//! - [`vault`]: what a store holds at run time, and the check at open that the keys belong to the
//!   database (a wrong key is a clear startup error, never garbage output).

pub mod cipher;
pub mod keys;
pub mod vault;

pub use cipher::{
    is_owner_bound, key_id_of, Field, HashKey, Owner, SecretError, UnreadableSecret, PREFIX,
    UNBOUND_PREFIX,
};
pub use keys::{list_ids, KeyError, KeyId, Keyring, SecretKey};
pub use vault::{KeyProvider, Reload, StoredKey, Unlock, UnlockError, Vault};

/// Two fixed keys for tests (feature `test-support`): stores under test open with both, the
/// first as primary, so that rotation to the second can be tested on any store. Never use them
/// for real data.
#[cfg(feature = "test-support")]
pub const TEST_SECRET_KEYS: &str = "aGVyYWxkLXRlc3Qta2V5LW9uZS0wMDAwMDAwMDAwMDE=,\
                                    aGVyYWxkLXRlc3Qta2V5LXR3by0wMDAwMDAwMDAwMDI=";

/// The keyring of [`TEST_SECRET_KEYS`].
#[cfg(feature = "test-support")]
pub fn test_keyring() -> Keyring {
    Keyring::parse(TEST_SECRET_KEYS).unwrap_or_else(|e| panic!("the test keys parse: {e}"))
}

#[cfg(test)]
mod tests;
