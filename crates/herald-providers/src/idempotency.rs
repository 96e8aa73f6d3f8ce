//! Idempotency keys for providers that deduplicate repeated requests (OneSignal's
//! `idempotency_key`, LINE's `X-Line-Retry-Key`). Both want a UUID, while the worker's key is a
//! delivery id (24 hex digits): a key that already is a UUID is used as it is, any other becomes
//! the UUID spelled by the first 16 bytes of its SHA-256 (version and variant bits set as for a
//! v4 UUID). The same key always gives the same UUID, so every retry of one delivery carries
//! the same value and the provider sends it at most once.

use sha2::{Digest, Sha256};

/// The UUID for `key`, or `None` for an empty key: an empty key would make every delivery
/// share one UUID, and the provider would drop all but the first as duplicates.
pub(crate) fn uuid_for(key: &str) -> Option<String> {
    let key = key.trim();
    if key.is_empty() {
        return None;
    }
    if is_uuid(key) {
        return Some(key.to_ascii_lowercase());
    }
    let digest = Sha256::digest(key.as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    Some(format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    ))
}

fn is_uuid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_id_always_maps_to_the_same_v4_shaped_uuid() {
        let a = uuid_for("65f1c0ffee0123456789abcd").unwrap();
        assert_eq!(a, uuid_for("65f1c0ffee0123456789abcd").unwrap());
        assert_ne!(a, uuid_for("65f1c0ffee0123456789abce").unwrap());
        assert!(is_uuid(&a), "{a}");
        assert_eq!(&a[14..15], "4");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }

    #[test]
    fn a_uuid_is_kept_and_an_empty_key_gives_none() {
        assert_eq!(
            uuid_for("0F8FAD5B-D9CB-469F-A165-70867728950E").as_deref(),
            Some("0f8fad5b-d9cb-469f-a165-70867728950e")
        );
        assert_eq!(uuid_for("  "), None);
    }
}
