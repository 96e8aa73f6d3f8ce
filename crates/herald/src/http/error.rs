//! The one API error type, mapped once to Novu's error body
//! `{statusCode, timestamp, path, message, error}`.
//!
//! A handler cannot see the request's path when its error turns into a response, so
//! `IntoResponse` stores the error in the response's extensions and [`render_errors`] (a middleware
//! on the whole router) writes the body with the request's path and the time. 5xx bodies are opaque
//! (an `errorId`) and the cause is logged with that id.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use herald_core::StoreError;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with class-validator style messages (an array of strings).
    #[error("validation failed: {0:?}")]
    Validation(Vec<String>),
    /// 400 with a single message string.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401; `with_error: false` reproduces Novu's bare `{"message":"Unauthorized"}`.
    #[error("unauthorized: {message}")]
    Unauthorized { message: String, with_error: bool },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("conflict: {0}")]
    Conflict(String),
    /// 422 (Novu's `workflow_not_found`, a reused Idempotency-Key). The body's `message` is
    /// `message`, and `errors: {<field>: {messages: [message], value?}}` says what was wrong:
    /// `@novu/api` and `novu-py` read a 422 as `ValidationErrorDto`, which requires `errors`
    /// (without it their callers get a `ResponseValidationError` instead).
    #[error("unprocessable: {message}")]
    Unprocessable {
        field: &'static str,
        value: Option<Value>,
        message: String,
    },
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415 for a body that is not UTF-8 JSON where JSON is required.
    #[error("unsupported media type: {0}")]
    Unsupported(String),
    /// 408: the request body did not arrive within the body-read timeout.
    #[error("request timeout")]
    RequestTimeout,
    /// 429: the API key is over its rate limit; a request would pass after `retry_after`.
    #[error("too many requests")]
    TooManyRequests { retry_after: std::time::Duration },
    /// 503: the database did not answer in time (a statement timeout, no free connection).
    /// Nothing was changed; the cause is logged.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A failure that is not the client's: logged, answered with an opaque 500.
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::TooManyDeviceTokens(t) => ApiError::Validation(vec![format!(
                "credentials.deviceTokens: a channel can hold at most {} device tokens; this request would leave {}",
                herald_core::MAX_DEVICE_TOKENS,
                t.count
            )]),
            StoreError::Busy(cause) => ApiError::Unavailable(cause),
            StoreError::Backend(e) => ApiError::Internal(anyhow::anyhow!(e)),
        }
    }
}

/// The rendered parts of an error, carried in the response extensions until [`render_errors`]
/// writes them as an [`ErrorBody`].
#[derive(Clone, Debug)]
pub struct ErrorPayload {
    pub status: StatusCode,
    /// A string, or an array of validation messages.
    pub message: Value,
    pub error: Option<&'static str>,
    pub error_id: Option<String>,
    pub kind: Option<&'static str>,
    pub errors: Option<Value>,
}

impl ErrorPayload {
    fn new(status: StatusCode, message: Value, error: Option<&'static str>) -> Self {
        ErrorPayload {
            status,
            message,
            error,
            error_id: None,
            kind: None,
            errors: None,
        }
    }
}

/// Novu's error body (written by `render_errors`).
#[derive(Serialize, ToSchema)]
#[schema(as = ErrorDto)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody<'a> {
    pub status_code: u16,
    /// ISO-8601 with milliseconds.
    pub timestamp: String,
    /// The request path including the query string.
    pub path: &'a str,
    /// A string, or an array of validation messages.
    #[schema(value_type = Value)]
    pub message: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<&'a str>,
    /// Only on 500 answers: quote it when reporting the problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    pub error_id: Option<&'a String>,
    /// 400 answers of the trigger routes: `VALIDATION_ERROR`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub kind: Option<&'a str>,
    /// 422 answers: what was wrong, by field (`{<field>: {messages: [..], value?}}`, the SDKs'
    /// `ValidationErrorDto`). 400 answers of the trigger routes: one `{field, message}` per
    /// message (`PayloadValidationExceptionDto`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>, nullable = false)]
    pub errors: Option<&'a Value>,
}

impl ApiError {
    fn payload(&self) -> ErrorPayload {
        let (status, message, error): (StatusCode, Value, Option<&str>) = match self {
            ApiError::Validation(msgs) => {
                (StatusCode::BAD_REQUEST, json!(msgs), Some("Bad Request"))
            }
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, json!(m), Some("Bad Request")),
            ApiError::Unauthorized {
                message,
                with_error,
            } => (
                StatusCode::UNAUTHORIZED,
                json!(message),
                with_error.then_some("Unauthorized"),
            ),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, json!(m), Some("Not Found")),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, json!(m), Some("Conflict")),
            ApiError::Unprocessable {
                field,
                value,
                message,
            } => {
                let mut constraint = json!({"messages": [message]});
                if let Some(v) = value {
                    constraint["value"] = v.clone();
                }
                return ErrorPayload {
                    errors: Some(json!({ *field: constraint })),
                    ..ErrorPayload::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        json!(message),
                        Some("Unprocessable Entity"),
                    )
                };
            }
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                json!("request entity too large"),
                Some("Payload Too Large"),
            ),
            ApiError::Unsupported(m) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                json!(m),
                Some("Unsupported Media Type"),
            ),
            ApiError::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                json!("the request body did not arrive in time"),
                Some("Request Timeout"),
            ),
            // Novu's message (its throttler's `THROTTLED_EXCEPTION_MESSAGE`).
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                json!("API rate limit exceeded"),
                Some("Too Many Requests"),
            ),
            // The cause (which statement, how long) is logged, not shown.
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                json!("the database did not answer in time; try again later"),
                Some("Service Unavailable"),
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                json!("Internal server error, contact support and provide them with the errorId"),
                None,
            ),
        };
        ErrorPayload::new(status, message, error)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut payload = self.payload();
        if let ApiError::Internal(cause) = &self {
            let error_id = herald_core::ObjectId::new().to_string();
            tracing::error!(error_id = %error_id, error = format!("{cause:#}"), "request failed");
            payload.error_id = Some(error_id);
        }
        if let ApiError::Unavailable(cause) = &self {
            tracing::warn!(cause = %cause, "request answered 503: the database did not answer in time");
        }
        let mut response = payload.status.into_response();
        if let ApiError::TooManyRequests { retry_after } = &self {
            let secs = super::rate_limit::retry_after_secs(*retry_after);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response.extensions_mut().insert(payload);
        response
    }
}

/// Middleware: turns an [`ErrorPayload`] left by any handler, extractor or fallback into Novu's
/// JSON error body, with the request's path (including the query string) and the current time.
pub async fn render_errors(request: Request, next: Next) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned());
    let mut response = next.run(request).await;
    if let Some(payload) = response.extensions_mut().remove::<ErrorPayload>() {
        let body = ErrorBody {
            status_code: payload.status.as_u16(),
            timestamp: herald_core::Timestamp::now().to_iso(),
            path: &path,
            message: &payload.message,
            error: payload.error,
            error_id: payload.error_id.as_ref(),
            kind: payload.kind,
            errors: payload.errors.as_ref(),
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let (mut parts, _) = response.into_parts();
        parts.status = payload.status;
        parts.headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        parts.headers.remove(header::CONTENT_LENGTH);
        response = Response::from_parts(parts, Body::from(bytes));
    }
    response
}
