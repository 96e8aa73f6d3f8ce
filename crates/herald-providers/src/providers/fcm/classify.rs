//! FCM's answers (https://firebase.google.com/docs/cloud-messaging/error-codes), classified
//! with firebase-admin's rule: the `errorCode` of the `FcmError` detail when there is one, else
//! the error's canonical `status`.
//!
//! | code | class |
//! |---|---|
//! | `UNREGISTERED` | dead token |
//! | `INVALID_ARGUMENT` about the registration token (the message says so, or a `BadRequest` violation on `message.token`) | dead token |
//! | other `INVALID_ARGUMENT` | rejected (the payload; the token is kept) |
//! | `SENDER_ID_MISMATCH` | dead token for this integration (credential-shaped: see `Providers::is_credential_shaped`) |
//! | `THIRD_PARTY_AUTH_ERROR` | credential invalid (the APNs or web-push key configured in Firebase) |
//! | `UNAUTHENTICATED` without `FcmError` (or a bare 401) | refresh the access token and resend once, then credential invalid |
//! | `PERMISSION_DENIED`, `NOT_FOUND` without `FcmError` (or a bare 403/404) | credential invalid (permissions, a wrong `project_id`) |
//! | `QUOTA_EXCEEDED`, `RESOURCE_EXHAUSTED`, `UNAVAILABLE`, `INTERNAL`, `UNSPECIFIED_ERROR`, 429, 5xx | retried, honouring `Retry-After` |

use herald_core::delivery::{Attempt, Outcome};
use serde_json::Value;

use crate::providers::delivered;
use crate::response::{field_string, Response};

/// What a send came to: done, or told the access token is stale.
pub(crate) enum Verdict {
    Done(Attempt),
    Unauthenticated(Attempt),
}

pub(crate) fn classify(resp: &Response) -> Verdict {
    let json = resp.json().unwrap_or(Value::Null);
    if resp.is_success() {
        return Verdict::Done(delivered(resp, "FCM", field_string(&json, "name")));
    }
    let error = json.get("error").cloned().unwrap_or(Value::Null);
    let details = error
        .get("details")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let of_type = |suffix: &str| {
        details.iter().find(|d| {
            d.get("@type")
                .and_then(Value::as_str)
                .is_some_and(|t| t.ends_with(suffix))
        })
    };
    let fcm_code =
        of_type("google.firebase.fcm.v1.FcmError").and_then(|d| field_string(d, "errorCode"));
    let token_violation = of_type("google.rpc.BadRequest")
        .and_then(|d| d.get("fieldViolations"))
        .and_then(Value::as_array)
        .is_some_and(|vs| {
            vs.iter()
                .any(|v| v.get("field").and_then(Value::as_str) == Some("message.token"))
        });
    let message = field_string(&error, "message").unwrap_or_else(|| resp.excerpt());
    let code = fcm_code.clone().or_else(|| field_string(&error, "status"));
    let about_token = message.to_ascii_lowercase().contains("registration token");
    let mut unauthenticated = false;
    let outcome = match code.as_deref() {
        Some("UNREGISTERED") => Outcome::TokenDead,
        Some("INVALID_ARGUMENT") if about_token || token_violation => Outcome::TokenDead,
        Some("INVALID_ARGUMENT") => Outcome::Rejected,
        Some("SENDER_ID_MISMATCH") => Outcome::TokenDead,
        Some("THIRD_PARTY_AUTH_ERROR") => Outcome::CredentialInvalid,
        Some(
            "QUOTA_EXCEEDED" | "RESOURCE_EXHAUSTED" | "UNAVAILABLE" | "INTERNAL"
            | "UNSPECIFIED_ERROR",
        ) => Outcome::Retry {
            after: resp.retry_after(),
        },
        Some("UNAUTHENTICATED") => {
            unauthenticated = true;
            Outcome::CredentialInvalid
        }
        Some("PERMISSION_DENIED" | "NOT_FOUND") => Outcome::CredentialInvalid,
        _ => match resp.status {
            401 => {
                unauthenticated = true;
                Outcome::CredentialInvalid
            }
            403 | 404 => Outcome::CredentialInvalid,
            _ => resp.status_outcome(),
        },
    };
    let code_text = code
        .as_deref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    let mut a = resp.attempt(
        outcome,
        format!(
            "{}{code_text}",
            resp.answered("FCM", &crate::response::excerpt(&message))
        ),
    );
    a.provider_code = code;
    if unauthenticated {
        Verdict::Unauthenticated(a)
    } else {
        Verdict::Done(a)
    }
}
