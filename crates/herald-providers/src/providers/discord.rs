//! Discord webhooks (https://discord.com/developers/docs/resources/webhook#execute-webhook, JSON
//! error codes and rate limits in the same documentation).
//! Request: `POST <webhookUrl>?wait=true` with `{content, ...customData}`; with `wait=true`
//! Discord answers 200 and the created message, whose `id` is recorded. Errors carry a JSON
//! `code` that decides the class; a 429 carries `retry_after` in (float) seconds.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{Map, Value};
use url::Url;

use crate::outbound::ProviderRequest;
use crate::response::{field_string, seconds_value, Response};
use crate::Message;

/// 10015 unknown webhook, 10003 unknown channel, 50027 invalid webhook token.
const DEAD: &[&str] = &["10015", "10003", "50027"];
/// 50013 missing permissions, 50001 missing access: the webhook is blocked, not deleted.
const BLOCKED: &[&str] = &["50013", "50001"];
/// 50006 empty message, 50035 invalid form body, 50109 invalid JSON, 40005 entity too large.
const BAD_MESSAGE: &[&str] = &["50006", "50035", "50109", "40005"];

/// The webhook URL with `wait=true` set the way `URLSearchParams.set` does: the first `wait`
/// parameter takes the value, later ones go, other parameters stay in order.
pub(crate) fn execute_url(mut url: Url) -> Url {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut seen = false;
    for (k, v) in url.query_pairs() {
        if k == "wait" {
            if !seen {
                pairs.push(("wait".into(), "true".into()));
                seen = true;
            }
        } else {
            pairs.push((k.into_owned(), v.into_owned()));
        }
    }
    if !seen {
        pairs.push(("wait".into(), "true".into()));
    }
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url
}

pub(crate) fn request(url: Url, message: &Message<'_>) -> ProviderRequest {
    let mut body = Map::new();
    body.insert("content".into(), Value::String(message.content.to_owned()));
    for (k, v) in message.overrides {
        body.insert(k.clone(), v.clone());
    }
    ProviderRequest::json(execute_url(url), &Value::Object(body))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    let json = resp.json().unwrap_or(Value::Null);
    if resp.is_success() {
        let mut a = resp.attempt(
            Outcome::Delivered,
            format!("Discord accepted the message (HTTP {})", resp.status),
        );
        a.provider_message_id = field_string(&json, "id");
        return a;
    }
    let code = field_string(&json, "code");
    let said = field_string(&json, "message").unwrap_or_else(|| resp.excerpt());
    let c = code.as_deref().unwrap_or_default();
    let (outcome, why) = if DEAD.contains(&c) {
        (Outcome::TokenDead, "; the webhook no longer works")
    } else if BLOCKED.contains(&c) {
        (Outcome::Rejected, "; the webhook may not post here")
    } else if BAD_MESSAGE.contains(&c) || resp.status == 413 {
        (Outcome::Rejected, "")
    } else if resp.status == 429 {
        // The body's float is the precise wish; the headers round it.
        let after = json
            .get("retry_after")
            .and_then(seconds_value)
            .or_else(|| resp.retry_after())
            .or_else(|| {
                resp.header("x-ratelimit-reset-after")
                    .and_then(|v| v.parse::<f64>().ok())
                    .and_then(|s| seconds_value(&Value::from(s)))
            });
        let global = json.get("global").and_then(Value::as_bool) == Some(true);
        (
            Outcome::Retry { after },
            if global { "; global rate limit" } else { "" },
        )
    } else {
        (resp.status_outcome(), "")
    };
    let code_text = code
        .as_deref()
        .map(|c| format!(" (code {c})"))
        .unwrap_or_default();
    let mut a = resp.attempt(
        outcome,
        format!("{}{code_text}{why}", resp.answered("Discord", &said)),
    );
    a.provider_code = code;
    a
}
