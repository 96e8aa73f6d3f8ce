//! Rocket.Chat's REST API (https://developer.rocket.chat/apidocs/send-message).
//! Request: `POST <webhookUrl>/api/v1/chat.sendMessage` (the subscriber's `webhookUrl` is the
//! Rocket.Chat server's base URL) with headers `x-auth-token: <token>` and `x-user-id: <user>`
//! from the integration and body `{message: {rid: <the channel's channel>, msg: content}}`, as
//! Novu sends it. The answer `{success, message: {_id, ts}}` gives the message id.
//!
//! Classes: 2xx with `success: true` delivered; 401 (a revoked personal access token) is the
//! integration's credential; 429 and 5xx retried; other 4xx, or `success: false`, reject the
//! message.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{json, Value};

use super::{delivered, Classifier, Ctx};
use crate::outbound::ProviderRequest;
use crate::response::{field_string, Response};
use crate::settings::invalid_config;

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    ctx.chat()?;
    let (Some(token), Some(user)) = (ctx.secret("token"), ctx.settings().str("user")) else {
        return Err(invalid_config("rocket-chat"));
    };
    let base = ctx.webhook_url()?;
    let room = ctx.channel("the room id the message goes to")?;
    let url = base
        .join(&format!(
            "{}/api/v1/chat.sendMessage",
            base.path().trim_end_matches('/')
        ))
        .map_err(|e| {
            Attempt::new(
                Outcome::Rejected,
                format!("the Rocket.Chat server URL cannot take the API path ({e})"),
            )
        })?;
    let body = json!({"message": {"rid": room, "msg": ctx.req.message.content}});
    Ok((
        ProviderRequest::json(url, &body)
            .header("x-auth-token", token)
            .header("x-user-id", user),
        Classifier::RocketChat,
    ))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    let json = resp.json().unwrap_or(Value::Null);
    let ok = json.get("success").and_then(Value::as_bool) != Some(false);
    if resp.is_success() && ok {
        let id = json.get("message").and_then(|m| field_string(m, "_id"));
        return delivered(resp, "Rocket.Chat", id);
    }
    let code = field_string(&json, "errorType");
    let said = field_string(&json, "error")
        .or_else(|| field_string(&json, "message"))
        .unwrap_or_else(|| resp.excerpt());
    let outcome = match resp.status {
        401 => Outcome::CredentialInvalid,
        _ if resp.is_success() => Outcome::Rejected,
        _ => resp.status_outcome(),
    };
    let mut a = resp.attempt(outcome, resp.answered("Rocket.Chat", &said));
    a.provider_code = code;
    a
}
