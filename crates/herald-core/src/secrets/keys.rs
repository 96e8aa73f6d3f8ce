//! Keys and keyrings. A [`SecretKey`] is 32 random bytes, written as base64 (or hex). Its
//! [`KeyId`] is derived from the key itself, so a deployment never has to name its keys: the id
//! stored beside each ciphertext says which key of the [`Keyring`] opens it, and the same key
//! always has the same id in every process.
//!
//! The raw key is never used directly: HKDF-SHA256 derives one subkey for encryption and one for
//! the id, so publishing ids (in logs, error messages, `herald secrets status`) reveals nothing
//! about the encryption key. Key bytes are zeroed on drop and never appear in `Debug` output.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// Bytes in a key.
pub const KEY_LEN: usize = 32;

/// One 256-bit key.
#[derive(Clone)]
pub struct SecretKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    /// The AEAD subkey, derived once (every encryption needs it).
    encryption: Zeroizing<[u8; KEY_LEN]>,
    id: KeyId,
}

impl SecretKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> SecretKey {
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        rand::rngs::OsRng.fill_bytes(&mut *bytes);
        SecretKey::from_bytes(bytes)
    }

    fn from_bytes(bytes: Zeroizing<[u8; KEY_LEN]>) -> SecretKey {
        let mut id = [0u8; 4];
        derive(&bytes, b"herald/v1 key id", &mut id);
        let mut encryption = Zeroizing::new([0u8; KEY_LEN]);
        derive(&bytes, b"herald/v1 encryption", &mut *encryption);
        SecretKey {
            bytes,
            encryption,
            id: KeyId(hex::encode(id)),
        }
    }

    /// Parses a key written as 64 hex digits or as base64 (standard or URL-safe, padded or not)
    /// of 32 bytes. The error never repeats the text, which may be a mistyped key.
    pub fn parse(text: &str) -> Result<SecretKey, KeyError> {
        let text = text.trim();
        let decoded: Option<Zeroizing<Vec<u8>>> =
            if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                hex::decode(text).ok().map(Zeroizing::new)
            } else {
                [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
                    .iter()
                    .find_map(|engine| engine.decode(text).ok())
                    .map(Zeroizing::new)
            };
        let Some(decoded) = decoded else {
            return Err(KeyError::Encoding);
        };
        let mut bytes = Zeroizing::new([0u8; KEY_LEN]);
        if decoded.len() != KEY_LEN {
            return Err(KeyError::Length(decoded.len()));
        }
        bytes.copy_from_slice(&decoded);
        Ok(SecretKey::from_bytes(bytes))
    }

    /// The key as standard base64, the form [`SecretKey::parse`] reads and key files hold.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(*self.bytes))
    }

    pub fn id(&self) -> &KeyId {
        &self.id
    }

    /// The subkey for the AEAD cipher.
    pub(crate) fn encryption_key(&self) -> &[u8; KEY_LEN] {
        &self.encryption
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, <redacted>)", self.id)
    }
}

fn derive(key: &[u8; KEY_LEN], info: &[u8], out: &mut [u8]) {
    // HKDF-Expand output up to 255 * 32 bytes cannot fail for the lengths used here.
    Hkdf::<Sha256>::new(None, key)
        .expand(info, out)
        .unwrap_or_else(|_| unreachable!("HKDF output of at most 32 bytes"));
}

/// A key's short public name: 8 hex digits derived from the key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// `Some` for 8 lower-case hex digits.
    pub fn parse(s: &str) -> Option<KeyId> {
        (s.len() == 8
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| KeyId(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Key ids as `a, b and c` for messages.
pub fn list_ids<'a>(ids: impl IntoIterator<Item = &'a KeyId>) -> String {
    let ids: Vec<&str> = ids.into_iter().map(KeyId::as_str).collect();
    match ids.split_last() {
        None => "none".to_string(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
    }
}

/// Why a key or a key list could not be read. Never contains key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error(
        "a secret key must be 32 bytes written as base64 or as 64 hex digits; this one is neither"
    )]
    Encoding,
    #[error("a secret key must be 32 bytes; this one decodes to {0} bytes")]
    Length(usize),
    #[error("key {position} of the list: {source}")]
    InList {
        position: usize,
        #[source]
        source: Box<KeyError>,
    },
    #[error("no secret key given")]
    Empty,
}

/// The keys one process holds: the primary (first) and older ones, each usable to decrypt. Which
/// key *encrypts* is decided by the database (see [`crate::secrets::Vault`]); the primary is the
/// one a new database starts with and the one `herald secrets rotate` promotes.
#[derive(Clone)]
pub struct Keyring {
    keys: Vec<SecretKey>,
}

impl Keyring {
    /// The keys in order, primary first; a key listed twice is kept once.
    pub fn new(keys: impl IntoIterator<Item = SecretKey>) -> Result<Keyring, KeyError> {
        let mut unique: Vec<SecretKey> = Vec::new();
        for key in keys {
            if !unique.iter().any(|k| k.id == key.id) {
                unique.push(key);
            }
        }
        if unique.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Keyring { keys: unique })
    }

    /// Keys separated by commas or newlines, primary first. Blank lines and lines starting with
    /// `#` are skipped, so a key file can carry a comment.
    pub fn parse(text: &str) -> Result<Keyring, KeyError> {
        let parts = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with('#'))
            .flat_map(|l| l.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty());
        let keys = parts
            .enumerate()
            .map(|(i, p)| {
                SecretKey::parse(p).map_err(|e| KeyError::InList {
                    position: i + 1,
                    source: Box::new(e),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Keyring::new(keys)
    }

    /// A keyring with `key` first and this one's keys after it.
    pub fn with_primary(&self, key: SecretKey) -> Keyring {
        let mut keys = vec![key];
        keys.extend(self.keys.iter().cloned());
        Keyring::new(keys).unwrap_or_else(|_| unreachable!("at least one key"))
    }

    /// This keyring without the keys whose ids are not in `keep` (the primary always stays).
    pub fn retain(&self, keep: &[KeyId]) -> Keyring {
        let keys = self
            .keys
            .iter()
            .enumerate()
            .filter(|(i, k)| *i == 0 || keep.contains(&k.id))
            .map(|(_, k)| k.clone());
        Keyring::new(keys).unwrap_or_else(|_| unreachable!("the primary is kept"))
    }

    pub fn primary(&self) -> &SecretKey {
        &self.keys[0]
    }

    pub fn keys(&self) -> &[SecretKey] {
        &self.keys
    }

    pub fn ids(&self) -> Vec<KeyId> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    pub fn get(&self, id: &KeyId) -> Option<&SecretKey> {
        self.keys.iter().find(|k| &k.id == id)
    }

    pub fn contains(&self, id: &KeyId) -> bool {
        self.get(id).is_some()
    }

    /// The text of a key file holding these keys, primary first, with a comment saying why the
    /// file matters.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let mut out = Zeroizing::new(String::from(
            "# Herald secret keys (primary first). They encrypt the credentials stored in the\n\
             # database: keep this file private and back it up with the database, or the stored\n\
             # credentials are lost. See `herald secrets --help` to rotate them.\n",
        ));
        for key in &self.keys {
            out.push_str(&key.to_base64());
            out.push('\n');
        }
        out
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("ids", &self.ids())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_hex_and_every_base64_form_to_the_same_id() {
        let key = SecretKey::generate();
        let b64 = key.to_base64();
        let hex = hex::encode(*key.bytes);
        let url = URL_SAFE_NO_PAD.encode(*key.bytes);
        for text in [
            b64.as_str(),
            hex.as_str(),
            url.as_str(),
            b64.trim_end_matches('='),
        ] {
            assert_eq!(SecretKey::parse(text).unwrap().id(), key.id());
        }
        assert_eq!(key.id().as_str().len(), 8);
        assert!(KeyId::parse(key.id().as_str()).is_some());
    }

    #[test]
    fn bad_keys_are_refused_without_repeating_them() {
        let short = STANDARD.encode([7u8; 16]);
        assert_eq!(SecretKey::parse(&short).unwrap_err(), KeyError::Length(16));
        let err = Keyring::parse("not a key!").unwrap_err().to_string();
        assert!(!err.contains("not a key"), "{err}");
        assert!(err.starts_with("key 1 of the list"), "{err}");
        assert_eq!(
            Keyring::parse(" , \n# only a comment\n").unwrap_err(),
            KeyError::Empty
        );
    }

    #[test]
    fn a_key_list_keeps_its_order_and_drops_repeats() {
        let (a, b) = (SecretKey::generate(), SecretKey::generate());
        let text = format!("{}, {}\n{}", *a.to_base64(), *b.to_base64(), *a.to_base64());
        let ring = Keyring::parse(&text).unwrap();
        assert_eq!(ring.ids(), [a.id().clone(), b.id().clone()]);
        let file = Keyring::parse(&ring.to_file_text()).unwrap();
        assert_eq!(file.ids(), ring.ids());
        let promoted = ring.with_primary(b.clone());
        assert_eq!(promoted.ids(), [b.id().clone(), a.id().clone()]);
        assert_eq!(promoted.retain(&[]).ids(), [b.id().clone()]);
    }

    #[test]
    fn debug_output_never_shows_key_material() {
        let key = SecretKey::generate();
        let ring = Keyring::new([key.clone()]).unwrap();
        let out = format!("{key:?} {ring:?}");
        assert!(!out.contains(key.to_base64().as_str()), "{out}");
        assert!(!out.contains(&hex::encode(*key.bytes)), "{out}");
        assert!(out.contains(key.id().as_str()));
    }

    #[test]
    fn ids_are_listed_for_people() {
        let ids: Vec<KeyId> = ["0000000a", "0000000b", "0000000c"]
            .iter()
            .map(|s| KeyId::parse(s).unwrap())
            .collect();
        assert_eq!(list_ids(&ids[..1]), "0000000a");
        assert_eq!(list_ids(&ids), "0000000a, 0000000b and 0000000c");
        assert_eq!(list_ids(&[]), "none");
    }
}
