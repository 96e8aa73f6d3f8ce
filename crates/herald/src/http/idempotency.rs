//! `Idempotency-Key` on the POST trigger routes (Novu's idempotency interceptor): the same key and
//! request within 24 hours replays the first answer without a second notification; the same key
//! with another request is 422; a request still in flight with that key in this process is 409.
//! Keys are per environment. For a single trigger the key's record is written in the same
//! transaction as the event, so a crash cannot leave one without the other. The SDKs send a key
//! on every request, GETs and DELETEs included; those routes ignore it.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_core::delivery::event::{IdempotencyRecord, IdempotentResponse};
use herald_core::{AuthContext, ObjectId, Timestamp};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::extract::parse_body;
use crate::state::AppState;

/// The longest key accepted (Novu's keys are about 20 characters; UUIDs 36).
pub const MAX_KEY_LEN: usize = 255;

const KEY_HEADER: &str = "idempotency-key";
const REPLAY_HEADER: &str = "idempotency-replay";

/// A trigger body with what idempotency needs: the key, if any, and a hash of the request.
pub struct IdempotentBody {
    pub map: Map<String, Value>,
    pub key: Option<String>,
    /// SHA-256 of method, path and body bytes.
    pub hash: String,
}

impl<S: Send + Sync> FromRequest<S> for IdempotentBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let key = match req.headers().get(KEY_HEADER) {
            None => None,
            Some(v) => {
                let k = v.to_str().map(str::trim).unwrap_or_default();
                if k.is_empty() || k.len() > MAX_KEY_LEN || k.chars().any(char::is_control) {
                    return Err(ApiError::BadRequest(format!(
                        "Idempotency-Key must be 1 to {MAX_KEY_LEN} visible ASCII characters"
                    )));
                }
                Some(k.to_string())
            }
        };
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_ascii_lowercase();
        let mut hasher = Sha256::new();
        hasher.update(req.method().as_str());
        hasher.update(b" ");
        hasher.update(req.uri().path());
        hasher.update(b"\n");
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest(e.body_text())
            }
        })?;
        hasher.update(&bytes);
        let hash = hex::encode(hasher.finalize());
        let map = parse_body(&content_type, &bytes)?;
        Ok(IdempotentBody { map, key, hash })
    }
}

/// The keys of requests in flight in this process.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashSet<(ObjectId, String)>>>);

/// Removes its key from [`InFlight`] when dropped (the request finished or was cancelled).
pub struct InFlightGuard {
    set: InFlight,
    entry: (ObjectId, String),
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.set
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.entry);
    }
}

impl InFlight {
    /// Marks the key in flight; `None` if it already is.
    pub fn enter(&self, env: &ObjectId, key: &str) -> Option<InFlightGuard> {
        let entry = (env.clone(), key.to_string());
        let fresh = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(entry.clone());
        fresh.then(|| InFlightGuard {
            set: self.clone(),
            entry,
        })
    }
}

/// What a trigger route produced.
pub enum Produced {
    /// A new answer (`body` is the whole response body); `stored` if the store already keeps it
    /// under the key (written with the event).
    Answer {
        status: StatusCode,
        body: Value,
        stored: bool,
    },
    /// The store found the key already used (a concurrent request from another process won).
    Replay(IdempotentResponse),
}

fn replay(key: &str, hash: &str, stored: IdempotentResponse) -> Result<Response, ApiError> {
    if stored.request_hash != hash {
        return Err(ApiError::Unprocessable {
            field: "Idempotency-Key",
            value: Some(Value::String(key.to_string())),
            message: format!("Request with key \"{key}\" is being reused for a different body"),
        });
    }
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::CREATED);
    let mut res = (
        status,
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        stored.body,
    )
        .into_response();
    res.headers_mut().insert(
        HeaderName::from_static(REPLAY_HEADER),
        HeaderValue::from_static("true"),
    );
    with_key(&mut res, key);
    Ok(res)
}

fn with_key(res: &mut Response, key: &str) {
    if let Ok(v) = HeaderValue::from_str(key) {
        res.headers_mut()
            .insert(HeaderName::from_static(KEY_HEADER), v);
    }
}

/// Runs `produce` under the request's `Idempotency-Key` (if any). `produce` gets the key and
/// request hash to write with the event.
pub async fn idempotent<F, Fut>(
    state: &AppState,
    ctx: &AuthContext,
    body: &IdempotentBody,
    produce: F,
) -> Result<Response, ApiError>
where
    F: FnOnce(Option<(String, String)>) -> Fut,
    Fut: Future<Output = Result<Produced, ApiError>>,
{
    let env = &ctx.environment_id;
    let Some(key) = &body.key else {
        return match produce(None).await? {
            Produced::Answer { status, body, .. } => Ok((status, axum::Json(body)).into_response()),
            // Without a key nothing can be replayed.
            Produced::Replay(stored) => replay("", &stored.request_hash.clone(), stored),
        };
    };
    let Some(_guard) = state.in_flight.enter(env, key) else {
        return Err(ApiError::Conflict(format!(
            "Request with key \"{key}\" is currently being processed. Please retry after 1 second"
        )));
    };
    if let Some(stored) = state.store.idempotent_response(env, key).await? {
        return replay(key, &body.hash, stored);
    }
    match produce(Some((key.clone(), body.hash.clone()))).await? {
        Produced::Replay(stored) => replay(key, &body.hash, stored),
        Produced::Answer {
            status,
            body: answer,
            stored,
        } => {
            if !stored {
                let record = IdempotencyRecord {
                    key: key.clone(),
                    response: IdempotentResponse {
                        request_hash: body.hash.clone(),
                        status: status.as_u16(),
                        body: answer.to_string(),
                        created_at: Timestamp::now(),
                    },
                };
                if let Some(earlier) = state.store.save_idempotent_response(env, &record).await? {
                    return replay(key, &body.hash, earlier);
                }
            }
            let mut res = (status, axum::Json(answer)).into_response();
            with_key(&mut res, key);
            Ok(res)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_in_flight_until_its_guard_drops() {
        let set = InFlight::default();
        let env = ObjectId::new();
        let guard = set.enter(&env, "k").expect("first entry");
        assert!(set.enter(&env, "k").is_none());
        assert!(
            set.enter(&ObjectId::new(), "k").is_some(),
            "keys are per environment"
        );
        drop(guard);
        assert!(set.enter(&env, "k").is_some());
    }
}
