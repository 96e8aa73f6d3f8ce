//! `Authorization: ApiKey <key>` as an extractor: a handler that takes [`Auth`] is reachable only
//! with a valid, unrevoked key, and every store call it makes is scoped by that key's environment.
//!
//! Keys are looked up by SHA-256 hash. Lookups are cached in memory for a bounded time
//! ([`AuthCache`], a [`TtlCache`]), so a key revoked through another Herald process on the same database stops
//! working everywhere within that time (default 5 s).
//!
//! With rate limiting on, the extractor also counts the request against its key's limit (see
//! [`rate_limit`](super::rate_limit)): a key over its limit gets a 429 instead of the handler.

use std::time::Duration;

use axum::extract::{FromRequestParts, MatchedPath};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use herald_core::{AuthContext, KeyHash, Store};

use super::cache::TtlCache;
use super::error::ApiError;
use super::rate_limit::Slot;
use crate::state::AppState;

/// The authenticated environment of a request.
#[derive(Clone, Debug)]
pub struct Auth(pub AuthContext);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default();
        let key = parse_authorization(&header)?;
        match state.auth.lookup(&*state.store, &KeyHash::of(key)).await? {
            Some(ctx) => {
                tracing::Span::current().record("environment_id", ctx.environment_id.as_str());
                rate_limit(parts, state, &ctx)?;
                Ok(Auth(ctx))
            }
            None => Err(unauthorized("API Key not found")),
        }
    }
}

/// Counts the request against its key's limit (if one applies), leaves the decision for the
/// response headers, and refuses a key over its limit.
fn rate_limit(parts: &Parts, state: &AppState, ctx: &AuthContext) -> Result<(), ApiError> {
    if !state.rate_limits.is_enabled() {
        return Ok(());
    }
    let route = parts
        .extensions
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let Some(decision) = state.rate_limits.check(&ctx.api_key_id, route) else {
        return Ok(());
    };
    if let Some(slot) = parts.extensions.get::<Slot>() {
        slot.set(decision);
    }
    match decision.retry_after {
        Some(wait) => Err(ApiError::TooManyRequests { retry_after: wait }),
        None => Ok(()),
    }
}

fn unauthorized(message: &str) -> ApiError {
    ApiError::Unauthorized {
        message: message.to_string(),
        with_error: true,
    }
}

/// Novu's guard, message for message (spec §1.2): the scheme is the first whitespace-separated
/// token; `ApiKey ` is stripped literally and the rest is the key, untrimmed.
fn parse_authorization(header: &str) -> Result<&str, ApiError> {
    if header.trim().is_empty() {
        return Err(unauthorized("Missing authorization header"));
    }
    let scheme = header.split_whitespace().next().unwrap_or_default();
    match scheme {
        "ApiKey" => match header.strip_prefix("ApiKey ") {
            Some(key) if !key.is_empty() => Ok(key),
            _ => Err(ApiError::Unauthorized {
                message: "Unauthorized".into(),
                with_error: false,
            }),
        },
        // Dashboard JWTs are not issued by Herald, so none is valid.
        "Bearer" => Err(ApiError::Unauthorized {
            message: "Unauthorized".into(),
            with_error: false,
        }),
        other => Err(unauthorized(&format!(
            "Invalid authentication scheme: \"{other}\""
        ))),
    }
}

/// Hash → environment lookups, remembered for a bounded time (found and not-found alike).
pub struct AuthCache(TtlCache<KeyHash, Option<AuthContext>>);

impl AuthCache {
    pub fn new(ttl: Duration) -> Self {
        AuthCache(TtlCache::new(ttl))
    }

    pub async fn lookup(
        &self,
        store: &dyn Store,
        hash: &KeyHash,
    ) -> Result<Option<AuthContext>, ApiError> {
        let generation = match self.0.lookup(hash) {
            Ok(ctx) => return Ok(ctx),
            Err(generation) => generation,
        };
        let ctx = store.authenticate(hash).await?;
        self.0.insert(hash.clone(), ctx.clone(), generation);
        Ok(ctx)
    }

    /// Forgets everything (after this process revokes a key).
    pub fn clear(&self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(r: Result<&str, ApiError>) -> (String, bool) {
        match r {
            Err(ApiError::Unauthorized {
                message,
                with_error,
            }) => (message, with_error),
            other => panic!("expected 401, got {other:?}"),
        }
    }

    #[test]
    fn authorization_header_parsing_matches_novu() {
        assert_eq!(parse_authorization("ApiKey abc").unwrap(), "abc");
        assert_eq!(parse_authorization("ApiKey  abc").unwrap(), " abc");
        assert_eq!(
            message(parse_authorization("")),
            ("Missing authorization header".into(), true)
        );
        assert_eq!(
            message(parse_authorization("Basic abc")),
            ("Invalid authentication scheme: \"Basic\"".into(), true)
        );
        assert_eq!(
            message(parse_authorization("apikey abc")),
            ("Invalid authentication scheme: \"apikey\"".into(), true)
        );
        assert_eq!(
            message(parse_authorization("Bearer x")),
            ("Unauthorized".into(), false)
        );
        assert_eq!(
            message(parse_authorization("ApiKey")),
            ("Unauthorized".into(), false)
        );
    }
}
