//! LINE Messaging API push messages
//! (https://developers.line.biz/en/reference/messaging-api/#send-push-message).
//! Request: `POST https://api.line.me/v2/bot/message/push` with `Authorization: Bearer
//! <apiToken>` (the channel access token) and `{to: <the channel's channel: a LINE user, group
//! or room id>, messages: [{type: "text", text: content}]}`, as upstream Novu sends it; an
//! `overrides.messages` array replaces the messages, and an `overrides.flex`, `image` or
//! `sticker` object becomes the one message of that type. `X-Line-Retry-Key` carries the
//! delivery's idempotency key as a UUID, so LINE delivers a retried request once: a 409 to a
//! retry key LINE already accepted means the message went out, and counts as delivered.
//!
//! Classes: 401 and 403 (a revoked token, a plan without this API) are the credential; 429
//! (rate or monthly limit) and 5xx are retried; other 4xx reject the message.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{json, Map, Value};

use super::{delivered, Classifier, Ctx};
use crate::idempotency::uuid_for;
use crate::outbound::ProviderRequest;
use crate::response::{field_string, Response};
use crate::settings::invalid_config;

pub(crate) const BASE: &str = "https://api.line.me";

const RICH: &[&str] = &["flex", "image", "sticker"];

fn messages(content: &str, overrides: &Map<String, Value>) -> Value {
    if let Some(Value::Array(list)) = overrides.get("messages") {
        return Value::Array(list.clone());
    }
    for kind in RICH {
        if let Some(Value::Object(rich)) = overrides.get(*kind) {
            let mut m = rich.clone();
            m.insert("type".into(), json!(kind));
            return json!([m]);
        }
    }
    json!([{"type": "text", "text": content}])
}

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    ctx.chat()?;
    let token = ctx
        .secret("apiToken")
        .ok_or_else(|| invalid_config("line"))?;
    let to = ctx.channel("the LINE user, group or room id the message goes to")?;
    let url = ctx.endpoint(BASE, "/v2/bot/message/push")?;
    let m = ctx.req.message;
    let body = json!({"to": to, "messages": messages(m.content, m.overrides)});
    let mut request = ProviderRequest::json(url, &body).bearer(token);
    if let Some(key) = uuid_for(ctx.req.idempotency_key) {
        request = request.header("x-line-retry-key", &key);
    }
    Ok((request, Classifier::Line))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    let json = resp.json().unwrap_or(Value::Null);
    let request_id = resp.header("x-line-request-id").map(str::to_owned);
    if resp.is_success() {
        let id = json
            .get("sentMessages")
            .and_then(|m| m.get(0))
            .and_then(|m| field_string(m, "id"))
            .or(request_id);
        return delivered(resp, "LINE", id);
    }
    let said = field_string(&json, "message").unwrap_or_else(|| resp.excerpt());
    if resp.status == 409 && resp.header("x-line-accepted-request-id").is_some() {
        let mut a = resp.attempt(
            Outcome::Delivered,
            format!(
                "LINE had already accepted this message (HTTP 409 to the same retry key): {said}"
            ),
        );
        a.provider_message_id = resp.header("x-line-accepted-request-id").map(str::to_owned);
        return a;
    }
    let outcome = match resp.status {
        401 | 403 => Outcome::CredentialInvalid,
        _ => resp.status_outcome(),
    };
    resp.attempt(outcome, resp.answered("LINE", &said))
}
