//! APNs answers
//! (https://developer.apple.com/documentation/usernotifications/handling-notification-responses-from-apns):
//! 200 with the `apns-id` header (the message id), or `{"reason", "timestamp"?}`.
//!
//! | status / reason | class |
//! |---|---|
//! | 410 `Unregistered`, `ExpiredToken` | dead token (the detail keeps the 410's `timestamp`) |
//! | 400 `BadDeviceToken`, `DeviceTokenNotForTopic` | dead token (credential-shaped: a wrong production switch or bundle id fails every token the same way) |
//! | 400 `TopicDisallowed` | credential invalid |
//! | 400 `IdleTimeout` | retried |
//! | other 400, 403 `Forbidden`, 404, 405, 413 `PayloadTooLarge` | rejected (the request; the token is kept) |
//! | 403 `ExpiredProviderToken` | a new provider token and one resend; retried if it comes again |
//! | other 403 (`InvalidProviderToken`, `MissingProviderToken`, `BadCertificate`, `BadCertificateEnvironment`, key-scoping reasons) | credential invalid |
//! | 429 `TooManyRequests`, `TooManyProviderTokenUpdates`; 500; 503 | retried |

use herald_core::delivery::{Attempt, Outcome};
use serde_json::Value;

use crate::providers::delivered;
use crate::response::{field_string, Response};

pub(crate) enum Verdict {
    Done(Attempt),
    ExpiredProviderToken(Attempt),
}

pub(crate) fn classify(resp: &Response) -> Verdict {
    if resp.is_success() {
        return Verdict::Done(delivered(
            resp,
            "APNs",
            resp.header("apns-id").map(str::to_owned),
        ));
    }
    let json = resp.json().unwrap_or(Value::Null);
    let reason = field_string(&json, "reason");
    let r = reason.as_deref().unwrap_or_default();
    let mut expired = false;
    let outcome = match (resp.status, r) {
        (410, _) => Outcome::TokenDead,
        (400, "BadDeviceToken" | "DeviceTokenNotForTopic") => Outcome::TokenDead,
        (400, "TopicDisallowed") => Outcome::CredentialInvalid,
        (400, "IdleTimeout") => Outcome::Retry { after: None },
        (403, "ExpiredProviderToken") => {
            expired = true;
            Outcome::Retry { after: None }
        }
        (403, "Forbidden") => Outcome::Rejected,
        (403, _) => Outcome::CredentialInvalid,
        _ => resp.status_outcome(),
    };
    let said = match (r, json.get("timestamp").and_then(Value::as_u64)) {
        ("", _) => resp.excerpt(),
        (r, Some(ts)) => format!("{r} (timestamp {ts})"),
        (r, None) => r.to_owned(),
    };
    let mut a = resp.attempt(outcome, resp.answered("APNs", &said));
    a.provider_code = reason;
    if expired {
        Verdict::ExpiredProviderToken(a)
    } else {
        Verdict::Done(a)
    }
}
