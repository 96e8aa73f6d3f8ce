//! 24-hex-character ids shaped like MongoDB ObjectIds (4-byte timestamp, 5 random bytes, 3-byte
//! counter), because Novu returns those and clients store them.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use rand::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjectId(String);

// The counter only needs to differ between ids minted in the same second by this process; it is
// seeded randomly, so it is not a shared configuration value, just an id source.
static COUNTER: AtomicU32 = AtomicU32::new(0);

impl ObjectId {
    /// A fresh id: seconds since the epoch, 5 random bytes, a wrapping counter.
    pub fn new() -> Self {
        let secs = chrono::Utc::now().timestamp() as u32;
        let mut rng = rand::thread_rng();
        let random: [u8; 5] = rng.gen();
        let count = COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(rng.gen::<u32>() & 0xff);
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&secs.to_be_bytes());
        bytes[4..9].copy_from_slice(&random);
        bytes[9..].copy_from_slice(&count.to_be_bytes()[1..]);
        ObjectId(hex::encode(bytes))
    }

    /// Parses a 24-hex id as given by a client (Novu's `isMongoId`). Upper case is accepted and
    /// normalised to lower case.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Some(ObjectId(s.to_ascii_lowercase()))
        } else {
            None
        }
    }

    /// Wraps an id read back from storage, where it was written by [`ObjectId::new`].
    pub fn from_stored(s: String) -> Self {
        ObjectId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ObjectId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_are_24_lower_hex_and_distinct() {
        let a = ObjectId::new();
        let b = ObjectId::new();
        assert_eq!(a.as_str().len(), 24);
        assert!(a
            .as_str()
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, b);
    }

    #[test]
    fn parse_accepts_only_24_hex() {
        assert!(ObjectId::parse("63cc6e0b561e0a609f223e27").is_some());
        assert_eq!(
            ObjectId::parse("63CC6E0B561E0A609F223E27")
                .unwrap()
                .as_str(),
            "63cc6e0b561e0a609f223e27"
        );
        assert!(ObjectId::parse("not-an-id").is_none());
        assert!(ObjectId::parse("63cc6e0b561e0a609f223e2").is_none());
        assert!(ObjectId::parse("63cc6e0b561e0a609f223e2g").is_none());
    }
}
