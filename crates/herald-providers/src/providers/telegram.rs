//! Telegram's Bot API (https://core.telegram.org/bots/api#sendmessage).
//! Request: `POST https://api.telegram.org/bot<apiToken>/sendMessage` with `{chat_id: <the
//! channel's channel>, text: content, ...overrides}` (overrides add `parse_mode`,
//! `reply_markup`, …), as upstream Novu sends it. The bot token sits in the path, so it is
//! scrubbed from anything recorded. The answer's `result.message_id` is the id.
//!
//! Errors are `{"ok": false, "error_code", "description", "parameters"?}`: 401 is the bot token;
//! 429 is retried after `parameters.retry_after`; "chat not found", a deleted or upgraded group
//! (`parameters.migrate_to_chat_id`), a deactivated user and a bot kicked from the chat mean the
//! chat id will never work again (dead); a user who blocked the bot can unblock it, so that is a
//! rejection that keeps the chat; other 4xx reject the message; 5xx are retried.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{Map, Value};

use super::{delivered, Classifier, Ctx};
use crate::outbound::ProviderRequest;
use crate::response::{field_string, seconds_value, Response};
use crate::settings::invalid_config;

pub(crate) const BASE: &str = "https://api.telegram.org";

const DEAD: &[&str] = &[
    "chat not found",
    "user is deactivated",
    "bot was kicked",
    "chat was deleted",
    "group chat was upgraded",
    "the group chat was deleted",
    "bot is not a member",
];

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    ctx.chat()?;
    let token = ctx
        .secret("apiToken")
        .ok_or_else(|| invalid_config("telegram"))?;
    let chat_id = ctx.channel("the chat id the message goes to")?;
    // The token is one path segment; `:` is allowed there and is how bot tokens are written.
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-'))
    {
        return Err(crate::settings::invalid_config_because(
            "telegram",
            "the apiToken is not a bot token",
        ));
    }
    let url = ctx.endpoint(BASE, &format!("/bot{token}/sendMessage"))?;
    let m = ctx.req.message;
    let mut body = Map::new();
    // A numeric id is sent as a number, an `@channelusername` as a string, as the Bot API takes.
    let chat = chat_id
        .parse::<i64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::String(chat_id.to_owned()));
    body.insert("chat_id".into(), chat);
    body.insert("text".into(), Value::String(m.content.to_owned()));
    for (k, v) in m.overrides {
        body.insert(k.clone(), v.clone());
    }
    Ok((
        ProviderRequest::json(url, &Value::Object(body)),
        Classifier::Telegram,
    ))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    let json = resp.json().unwrap_or(Value::Null);
    let ok = json.get("ok").and_then(Value::as_bool);
    if resp.is_success() && ok != Some(false) {
        let id = json
            .get("result")
            .and_then(|r| field_string(r, "message_id"));
        return delivered(resp, "Telegram", id);
    }
    let said = field_string(&json, "description").unwrap_or_else(|| resp.excerpt());
    let lower = said.to_ascii_lowercase();
    let params = json.get("parameters");
    let outcome = if resp.status == 401 {
        Outcome::CredentialInvalid
    } else if resp.status == 429 {
        Outcome::Retry {
            after: params
                .and_then(|p| p.get("retry_after"))
                .and_then(seconds_value)
                .or_else(|| resp.retry_after()),
        }
    } else if params.and_then(|p| p.get("migrate_to_chat_id")).is_some()
        || DEAD.iter().any(|d| lower.contains(d))
    {
        Outcome::TokenDead
    } else if resp.is_success() {
        Outcome::Rejected
    } else {
        resp.status_outcome()
    };
    let mut a = resp.attempt(outcome, resp.answered("Telegram", &said));
    a.provider_code = field_string(&json, "error_code");
    a
}
