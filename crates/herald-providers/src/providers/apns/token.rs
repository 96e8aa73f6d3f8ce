//! APNs provider tokens
//! (https://developer.apple.com/documentation/usernotifications/establishing-a-token-based-connection-to-apns):
//! an ES256 JWT with header `{alg: "ES256", kid: <apiKey, the key id>}` and claims `{iss:
//! <projectName, the team id>, iat}`, signed with the `.p8` key in the integration's
//! `secretKey`. Apple rejects a token older than an hour (`ExpiredProviderToken`) and one
//! refreshed more often than every 20 minutes (`TooManyProviderTokenUpdates`), so one token per
//! (team, key) is reused for every request and replaced after [`REFRESH_AFTER`], or at once when
//! APNs calls it expired (only the token that was called expired is replaced, so a burst of such
//! answers mints once).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use herald_core::delivery::Attempt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::settings::invalid_config_because;

/// A token is replaced after 50 minutes: inside Apple's window of 20 to 60.
pub(crate) const REFRESH_AFTER: Duration = Duration::from_secs(50 * 60);

/// Whether a token minted at `minted` is still used at `now`.
pub(crate) fn is_fresh(minted: Instant, now: Instant) -> bool {
    now.saturating_duration_since(minted) < REFRESH_AFTER
}

struct Cached {
    jwt: String,
    minted: Instant,
}

#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<String, Cached>>,
}

/// The key material of one integration.
pub(crate) struct Signer<'a> {
    pub team_id: &'a str,
    pub key_id: &'a str,
    pub pem: &'a str,
}

impl Signer<'_> {
    fn cache_key(&self) -> String {
        let mut h = Sha256::new();
        for part in [self.team_id, self.key_id, self.pem] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    pub fn sign(&self, iat: u64) -> Result<String, Attempt> {
        let bad_key = || {
            invalid_config_because(
                "apns",
                "the secretKey is not an APNs auth key (.p8, a PKCS#8 P-256 private key in PEM form)",
            )
        };
        let key = EncodingKey::from_ec_pem(self.pem.as_bytes()).map_err(|_| bad_key())?;
        let mut header = Header::new(Algorithm::ES256);
        header.typ = None;
        header.kid = Some(self.key_id.to_owned());
        let claims = json!({"iss": self.team_id, "iat": iat});
        jsonwebtoken::encode(&header, &claims, &key).map_err(|_| bad_key())
    }
}

impl TokenCache {
    /// The token to send with: the cached one while fresh and not `stale`, else a new one.
    pub fn token(&self, signer: &Signer<'_>, stale: Option<&str>) -> Result<String, Attempt> {
        let key = signer.cache_key();
        let mut tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if let Some(c) = tokens.get(&key) {
            if is_fresh(c.minted, now) && Some(c.jwt.as_str()) != stale {
                return Ok(c.jwt.clone());
            }
        }
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let jwt = signer.sign(iat)?;
        tokens.insert(
            key,
            Cached {
                jwt: jwt.clone(),
                minted: now,
            },
        );
        Ok(jwt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_reused_for_fifty_minutes_and_then_replaced() {
        let t0 = Instant::now();
        assert!(is_fresh(t0, t0));
        assert!(is_fresh(t0, t0 + Duration::from_secs(20 * 60)));
        assert!(is_fresh(t0, t0 + Duration::from_secs(50 * 60 - 1)));
        assert!(!is_fresh(t0, t0 + Duration::from_secs(50 * 60)));
        assert!(!is_fresh(t0, t0 + Duration::from_secs(61 * 60)));
    }
}
