//! Slack incoming webhooks (https://api.slack.com/messaging/webhooks#handling_errors).
//! Request: `POST <webhookUrl>` with `{text: content, ...customData}`. Slack answers errors with a
//! plain-text code, so the body string decides the class first and the status second.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{Map, Value};
use url::Url;

use crate::outbound::ProviderRequest;
use crate::response::Response;
use crate::Message;

/// The webhook, app or channel is gone: the subscriber's `webhookUrl` will never work again
/// (`channel_is_archived` included: an admin may unarchive, but until then it is dead).
const DEAD: &[&str] = &[
    "no_service",
    "no_active_hooks",
    "invalid_token",
    "no_team",
    "team_disabled",
    "channel_not_found",
    "channel_is_archived",
];

/// The workspace's policy blocks the post: not retried, but the webhook is kept (an admin can
/// lift the block), so these are rejections rather than dead targets.
const BLOCKED: &[&str] = &["action_prohibited", "posting_to_general_channel_denied"];

/// This message is wrong; the webhook is fine.
const BAD_MESSAGE: &[&str] = &[
    "invalid_payload",
    "user_not_found",
    "too_many_attachments",
    "no_text",
    "no_service_id",
];

pub(crate) fn request(url: Url, message: &Message<'_>) -> ProviderRequest {
    let mut body = Map::new();
    body.insert("text".into(), Value::String(message.content.to_owned()));
    // `customData` spreads over `text`, as in Novu: overrides may replace it or add `blocks`.
    for (k, v) in message.overrides {
        body.insert(k.clone(), v.clone());
    }
    ProviderRequest::json(url, &Value::Object(body))
}

/// Slack's error codes are short snake_case words; anything else is not a code.
fn code_of(text: &str) -> Option<&str> {
    let is_code = !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    is_code.then_some(text)
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    if resp.is_success() {
        let mut a = resp.attempt(
            Outcome::Delivered,
            format!("Slack accepted the message (HTTP {})", resp.status),
        );
        a.provider_message_id = resp.header("x-slack-req-id").map(str::to_owned);
        return a;
    }
    let text = resp.text();
    let code = code_of(&text);
    let (outcome, why) = match code {
        Some(c) if DEAD.contains(&c) => (Outcome::TokenDead, "; the webhook no longer works"),
        Some(c) if BLOCKED.contains(&c) => (
            Outcome::Rejected,
            "; the workspace blocks this webhook from posting",
        ),
        Some(c) if BAD_MESSAGE.contains(&c) => (Outcome::Rejected, ""),
        _ => (resp.status_outcome(), ""),
    };
    let mut a = resp.attempt(
        outcome,
        format!("{}{why}", resp.answered("Slack", &resp.excerpt())),
    );
    a.provider_code = code.map(str::to_owned);
    a
}
