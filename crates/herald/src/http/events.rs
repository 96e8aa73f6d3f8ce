//! Events: `POST /v1/events/trigger`, `/trigger/bulk`, `/trigger/broadcast` and
//! `DELETE /v1/events/trigger/{transactionId}`. Accepting a trigger is `trigger.rs`; this module
//! adds the routes, the envelopes, the bulk rules and idempotency (`idempotency.rs`).

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::dto::{Data, Envelope};
use super::error::{ApiError, ErrorPayload};
use super::extract::PathParams;
use super::idempotency::{idempotent, IdempotentBody, Produced};
use super::openapi as oa;
use super::openapi_delivery as oad;
use super::trigger::{self, Accepted};
use crate::state::AppState;

/// Event routes take larger bodies than the rest (a bulk of 100 events with their payloads);
/// Novu's limit is 20 MB, Herald's this.
pub const EVENT_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// Most events in one bulk request (Novu's).
const MAX_BULK: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(trigger_event))
        .routes(routes!(bulk_trigger_event))
        .routes(routes!(broadcast_event))
        .routes(routes!(cancel_event))
        .layer(DefaultBodyLimit::max(EVENT_BODY_LIMIT))
        .layer(map_response(payload_validation_shape))
}

/// The `type` of a trigger route's 400.
const VALIDATION_ERROR_TYPE: &str = "VALIDATION_ERROR";

/// `@novu/api` and `novu-py` read a 400 from the trigger routes as `PayloadValidationExceptionDto`:
/// Novu's error fields plus `type` and `errors: [{field, message}]`, both required (without them
/// the caller gets a `ResponseValidationError` instead of the documented class). Each message
/// becomes one entry of `errors`; the body keeps `message` as it was for the other clients.
async fn payload_validation_shape(mut res: Response) -> Response {
    if let Some(p) = res.extensions_mut().get_mut::<ErrorPayload>() {
        if p.status == StatusCode::BAD_REQUEST {
            let messages: Vec<&str> = match &p.message {
                Value::String(m) => vec![m.as_str()],
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            let errors: Vec<Value> = messages
                .iter()
                .map(|m| json!({"field": field_of(m), "message": m}))
                .collect();
            p.kind = Some(VALIDATION_ERROR_TYPE);
            p.errors = Some(Value::Array(errors));
        }
    }
    res
}

/// The property a class-validator style message is about (`to.0 must be …` → `to.0`), else
/// `body` (a message about the request as a whole, e.g. `Trigger is missing: …`).
fn field_of(message: &str) -> &str {
    let first = message.split_whitespace().next().unwrap_or_default();
    let is_path = first.starts_with(|c: char| c.is_ascii_lowercase())
        && first
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
    if is_path {
        first
    } else {
        "body"
    }
}

fn produced(accepted: Accepted) -> Produced {
    match accepted {
        Accepted::Answer { body, stored } => Produced::Answer {
            status: StatusCode::CREATED,
            body: json!({"data": body}),
            stored,
        },
        Accepted::Replay(stored) => Produced::Replay(stored),
    }
}

/// `POST /v1/events/trigger`: starts a workflow for its recipients. 201 once the event is durable.
#[utoipa::path(
    post,
    path = "/v1/events/trigger",
    tag = "Events",
    operation_id = "trigger_event_v1",
    request_body = oad::TriggerEventRequestDto,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for 24 hours")),
    responses(
        (status = 201, description = "Accepted (see `status`)", body = Data<trigger::TriggerAnswer>),
        (status = 404, description = "A topic named in `to` does not exist", body = oa::ErrorBody),
        (status = 409, description = "transactionId already used, or the same Idempotency-Key in flight", body = oa::ErrorBody),
        (status = 413, description = "Body over 2 MB", body = oa::ErrorBody),
        (status = 422, description = "`workflow_not_found`, or an Idempotency-Key reused for another request", body = oa::ErrorBody),
    )
)]
async fn trigger_event(
    auth: Auth,
    State(state): State<AppState>,
    body: IdempotentBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    idempotent(&state, ctx, &body, |key| async {
        let req = trigger::parse(&body.map, false)?;
        Ok(produced(trigger::accept(&state, ctx, req, key).await?))
    })
    .await
}

/// `POST /v1/events/trigger/broadcast`: to every subscriber of the environment.
#[utoipa::path(
    post,
    path = "/v1/events/trigger/broadcast",
    tag = "Events",
    operation_id = "broadcast_event_v1",
    request_body = oad::BroadcastEventRequestDto,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for 24 hours")),
    responses(
        (status = 201, description = "Accepted (see `status`)", body = Data<trigger::TriggerAnswer>),
        (status = 409, description = "transactionId already used, or the same Idempotency-Key in flight", body = oa::ErrorBody),
        (status = 413, description = "Body over 2 MB", body = oa::ErrorBody),
        (status = 422, description = "`workflow_not_found`, or an Idempotency-Key reused for another request", body = oa::ErrorBody),
    )
)]
async fn broadcast_event(
    auth: Auth,
    State(state): State<AppState>,
    body: IdempotentBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    idempotent(&state, ctx, &body, |key| async {
        let req = trigger::parse(&body.map, true)?;
        Ok(produced(trigger::accept(&state, ctx, req, key).await?))
    })
    .await
}

/// One bulk item's failure, as Novu reports it: `{acknowledged: true, status: "error", error}`,
/// plus the item's `transactionId` (generated when it gave none or an unusable one): the classic
/// Python SDK parses every item as an `EventDto`, which requires it.
fn bulk_error(e: &ApiError, event: &Value) -> Value {
    let messages: Vec<String> = match e {
        ApiError::Validation(m) => m.clone(),
        ApiError::BadRequest(m)
        | ApiError::NotFound(m)
        | ApiError::Conflict(m)
        | ApiError::Unprocessable { message: m, .. } => vec![m.clone()],
        other => vec![other.to_string()],
    };
    let transaction_id = event
        .get("transactionId")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(trigger::uuid_v4);
    json!(trigger::TriggerAnswer {
        acknowledged: true,
        status: "error",
        error: Some(messages),
        transaction_id: &transaction_id,
    })
}

/// `POST /v1/events/trigger/bulk`: up to 100 triggers, each accepted (or failed) on its own, in
/// order; the answer lists each one's outcome.
#[utoipa::path(
    post,
    path = "/v1/events/trigger/bulk",
    tag = "Events",
    operation_id = "bulk_trigger_event_v1",
    request_body = oad::BulkTriggerEventRequestDto,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for 24 hours")),
    responses(
        (status = 201, description = "Each event's outcome, in order", body = Data<Vec<trigger::TriggerAnswer>>),
        (status = 409, description = "The same Idempotency-Key in flight", body = oa::ErrorBody),
        (status = 413, description = "Body over 2 MB", body = oa::ErrorBody),
        (status = 422, description = "An Idempotency-Key reused for another request", body = oa::ErrorBody),
    )
)]
async fn bulk_trigger_event(
    auth: Auth,
    State(state): State<AppState>,
    body: IdempotentBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let events = match body.map.get("events") {
        None | Some(Value::Null) => {
            return Err(ApiError::Validation(vec![
                "events should not be null or undefined".into(),
                "events must be an array".into(),
            ]))
        }
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(ApiError::Validation(vec![
                "events should not be empty".into()
            ]))
        }
        Some(Value::Array(items)) if items.len() > MAX_BULK => {
            return Err(ApiError::Validation(vec![format!(
                "events must contain no more than {MAX_BULK} elements"
            )]))
        }
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(ApiError::Validation(vec!["events must be an array".into()])),
    };
    idempotent(&state, ctx, &body, |_key| async {
        let mut results = Vec::with_capacity(events.len());
        for event in &events {
            let outcome = match event {
                Value::Object(map) => match trigger::parse(map, false) {
                    Ok(req) => trigger::accept(&state, ctx, req, None).await,
                    Err(e) => Err(e),
                },
                _ => Err(ApiError::Validation(vec![
                    "each event must be an object".into()
                ])),
            };
            results.push(match outcome {
                Ok(Accepted::Answer { body, .. }) => body,
                Ok(Accepted::Replay(stored)) => serde_json::from_str::<Value>(&stored.body)
                    .ok()
                    .and_then(|v| v.get("data").cloned())
                    .unwrap_or(Value::Null),
                // A store failure is not the item's fault: the whole request fails.
                Err(ApiError::Internal(e)) => return Err(ApiError::Internal(e)),
                Err(e) => bulk_error(&e, event),
            });
        }
        Ok(Produced::Answer {
            status: StatusCode::CREATED,
            body: json!({"data": results}),
            stored: false,
        })
    })
    .await
}

/// `DELETE /v1/events/trigger/{transactionId}`: cancels what has not been sent yet. `data` says
/// whether anything was left to cancel.
#[utoipa::path(
    delete,
    path = "/v1/events/trigger/{transactionId}",
    tag = "Events",
    operation_id = "cancel_event_v1",
    params(("transactionId" = String, Path, description = "The trigger's transactionId")),
    responses(
        (status = 200, description = "Whether anything was canceled", body = Data<bool>),
    )
)]
async fn cancel_event(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let canceled = state
        .store
        .cancel_event(&auth.0.environment_id, &p.0[0])
        .await?;
    Ok(Envelope(StatusCode::OK, json!(canceled)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_names_the_property_it_starts_with() {
        assert_eq!(field_of("to.0 must be a subscriber id"), "to.0");
        assert_eq!(
            field_of("events must contain no more than 100 elements"),
            "events"
        );
        assert_eq!(field_of("Trigger is missing: actor object"), "body");
        assert_eq!(field_of(""), "body");
    }
}
