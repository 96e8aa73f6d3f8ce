//! FCM's OAuth 2.0 service-account flow
//! (https://developers.google.com/identity/protocols/oauth2/service-account#httprest): an RS256
//! JWT assertion signed with the service account's `private_key` (header `kid` =
//! `private_key_id`; claims `iss` = `client_email`, `scope` = the FCM scope, `aud` =
//! `token_uri`, `iat`, `exp` = `iat` + 1 h) is posted as a form
//! (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…`) to the service
//! account's `token_uri`, which answers `{access_token, expires_in}`.
//!
//! Access tokens are cached per credential (client, key and token URI) until five minutes before
//! they expire. One mint runs at a time per credential: concurrent sends wait for it and share
//! its token. A send told the token is stale (`UNAUTHENTICATED`) asks for a new one naming the
//! stale token, so a burst of such answers mints once.
//!
//! Token endpoint errors (`{error, error_description}`): `invalid_grant` about `iat`/`exp` or a
//! "reasonable timeframe" means Herald's clock is off (retried, not the credential's fault);
//! other `invalid_grant`, `invalid_client`, `unauthorized_client`, `invalid_scope` and
//! `access_denied` — and any other 4xx — are the credential; 429 and 5xx are retried.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use herald_core::delivery::{Attempt, Outcome};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

use crate::outbound::{Outbound, ProviderRequest};
use crate::response::field_string;
use crate::settings::{invalid_config, invalid_config_because, Settings};

pub(crate) const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
pub(crate) const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";
pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// A cached token is replaced this long before it expires.
const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);
/// What `expires_in` is taken to be when the endpoint leaves it out.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The parts of a service-account key file FCM needs.
#[derive(Clone)]
pub(crate) struct ServiceAccount {
    pub project_id: String,
    pub client_email: String,
    pub private_key: String,
    pub private_key_id: Option<String>,
    pub token_uri: String,
}

impl ServiceAccount {
    /// From the integration's `serviceAccount` (the key file as a string; `user` when it is
    /// empty, as Novu falls back).
    pub fn from_integration(integration: &Map<String, Value>) -> Result<Self, Attempt> {
        let s = Settings(integration);
        let file: Value = match integration.get("serviceAccount") {
            Some(Value::Object(o)) => Value::Object(o.clone()),
            _ => {
                let raw = s
                    .str("serviceAccount")
                    .or_else(|| s.str("user"))
                    .ok_or_else(|| invalid_config("fcm"))?;
                serde_json::from_str(raw).map_err(|_| {
                    invalid_config_because("fcm", "the service account is not valid JSON")
                })?
            }
        };
        let field = |k: &str| {
            file.get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let need = |k: &str| {
            field(k).ok_or_else(|| {
                invalid_config_because("fcm", &format!("the service account has no {k}"))
            })
        };
        // A key pasted with its line breaks written out as `\n` still parses.
        let mut private_key = need("private_key")?;
        if !private_key.contains('\n') {
            private_key = private_key.replace("\\n", "\n");
        }
        Ok(ServiceAccount {
            project_id: need("project_id")?,
            client_email: need("client_email")?,
            private_key,
            private_key_id: field("private_key_id"),
            token_uri: field("token_uri").unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned()),
        })
    }

    fn cache_key(&self) -> String {
        let mut h = Sha256::new();
        for part in [&self.client_email, &self.token_uri, &self.private_key] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(h.finalize())
    }

    /// The signed assertion for the token endpoint.
    pub fn assertion(&self, now: u64) -> Result<String, Attempt> {
        let bad_key = || {
            invalid_config_because(
                "fcm",
                "the service account's private_key is not an RSA private key in PEM form",
            )
        };
        let key = EncodingKey::from_rsa_pem(self.private_key.as_bytes()).map_err(|_| bad_key())?;
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.private_key_id.clone();
        let claims = json!({
            "iss": self.client_email,
            "scope": SCOPE,
            "aud": self.token_uri,
            "iat": now,
            "exp": now + 3600,
        });
        jsonwebtoken::encode(&header, &claims, &key).map_err(|_| bad_key())
    }
}

struct Cached {
    token: String,
    refresh_at: Instant,
}

type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

/// Access tokens per credential.
#[derive(Default)]
pub(crate) struct TokenCache {
    slots: Mutex<HashMap<String, Slot>>,
}

impl TokenCache {
    /// A valid access token for `sa`: the cached one, unless it is due for refresh or is
    /// `stale` (the token a send was just told is invalid), else a new one.
    pub async fn access_token(
        &self,
        sa: &ServiceAccount,
        outbound: &Outbound,
        stale: Option<&str>,
    ) -> Result<String, Attempt> {
        let slot: Slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(slots.entry(sa.cache_key()).or_default())
        };
        let mut cached = slot.lock().await;
        if let Some(c) = cached.as_ref() {
            if Instant::now() < c.refresh_at && Some(c.token.as_str()) != stale {
                return Ok(c.token.clone());
            }
        }
        *cached = None;
        let (token, lifetime) = mint(sa, outbound).await?;
        *cached = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN),
        });
        Ok(token)
    }
}

/// Asks the token endpoint for an access token and its lifetime.
async fn mint(sa: &ServiceAccount, outbound: &Outbound) -> Result<(String, Duration), Attempt> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let assertion = sa.assertion(now)?;
    let url = Url::parse(&sa.token_uri).map_err(|e| {
        invalid_config_because(
            "fcm",
            &format!("the service account's token_uri is not a URL ({e})"),
        )
    })?;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", GRANT_TYPE)
        .append_pair("assertion", &assertion)
        .finish();
    let mut request = ProviderRequest::bytes(url, form.into_bytes());
    request.content_type = "application/x-www-form-urlencoded";
    let resp = outbound.post(request).await.map_err(|mut a| {
        a.detail = format!("the FCM token endpoint: {}", a.detail);
        a
    })?;
    let json = resp.json().unwrap_or(Value::Null);
    if resp.is_success() {
        if let Some(token) = field_string(&json, "access_token") {
            let lifetime = json
                .get("expires_in")
                .and_then(Value::as_u64)
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_LIFETIME);
            return Ok((token, lifetime));
        }
    }
    let code = field_string(&json, "error");
    let description = field_string(&json, "error_description").unwrap_or_default();
    let clock = {
        let d = description.to_ascii_lowercase();
        d.contains("iat") || d.contains("exp") || d.contains("timeframe")
    };
    let outcome = match code.as_deref() {
        Some("invalid_grant") if clock => Outcome::Retry { after: None },
        Some(
            "invalid_grant"
            | "invalid_client"
            | "unauthorized_client"
            | "invalid_scope"
            | "access_denied",
        ) => Outcome::CredentialInvalid,
        _ if resp.is_success() => Outcome::Retry { after: None },
        _ => match resp.status_outcome() {
            Outcome::Rejected => Outcome::CredentialInvalid,
            other => other,
        },
    };
    let said = match (&code, description.is_empty()) {
        (Some(c), false) => format!("{c} ({description})"),
        (Some(c), true) => c.clone(),
        (None, _) if resp.is_success() => "no access_token in the answer".to_owned(),
        (None, _) => resp.excerpt(),
    };
    let mut a = resp.attempt(outcome, resp.answered("the FCM token endpoint", &said));
    a.provider_code = code;
    Err(a)
}
