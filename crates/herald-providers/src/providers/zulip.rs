//! Zulip, through the subscriber's incoming-webhook URL (Zulip's Slack-compatible
//! `…/api/v1/external/slack_incoming?api_key=…&stream=…`, which carries the bot's key and the
//! target stream). Request: `POST <webhookUrl>` with `{text: content}`, as Novu sends it.
//!
//! Zulip answers errors as `{"result": "error", "msg", "code"}`
//! (https://zulip.com/api/rest-error-handling): `INVALID_API_KEY`, `USER_DEACTIVATED` and
//! `REALM_DEACTIVATED` mean the URL's bot key will never work again (the webhook is dead);
//! `RATE_LIMIT_HIT` is retried after the body's `retry-after` seconds (or the header's); other
//! codes reject the message.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{json, Value};

use super::{delivered, Classifier, Ctx};
use crate::outbound::ProviderRequest;
use crate::response::{field_string, seconds_value, Response};

const DEAD: &[&str] = &["INVALID_API_KEY", "USER_DEACTIVATED", "REALM_DEACTIVATED"];

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    let url = ctx.webhook_url()?;
    let body = json!({ "text": ctx.req.message.content });
    Ok((ProviderRequest::json(url, &body), Classifier::Zulip))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    let json = resp.json().unwrap_or(Value::Null);
    let error = json.get("result").and_then(Value::as_str) == Some("error");
    if resp.is_success() && !error {
        return delivered(resp, "Zulip", field_string(&json, "id"));
    }
    let code = field_string(&json, "code");
    let said = field_string(&json, "msg").unwrap_or_else(|| resp.excerpt());
    let c = code.as_deref().unwrap_or_default();
    let outcome = if DEAD.contains(&c) {
        Outcome::TokenDead
    } else if c == "RATE_LIMIT_HIT" || resp.status == 429 {
        Outcome::Retry {
            after: json
                .get("retry-after")
                .and_then(seconds_value)
                .or_else(|| resp.retry_after()),
        }
    } else if resp.is_success() {
        Outcome::Rejected
    } else {
        resp.status_outcome()
    };
    let code_text = code
        .as_deref()
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    let mut a = resp.attempt(
        outcome,
        format!("{}{code_text}", resp.answered("Zulip", &said)),
    );
    a.provider_code = code;
    a
}
