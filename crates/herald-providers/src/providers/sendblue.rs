//! Sendblue iMessage/SMS (https://docs.sendblue.co/api/resources/messages/methods/send).
//! Request: `POST https://api.sendblue.co/api/send-message` with headers `sb-api-key-id:
//! <apiKey>` and `sb-api-secret-key: <secretKey>` and `{number: <the subscriber's phone>,
//! from_number?: <from>, content, ...overrides}`, as upstream Novu sends it. The answer's
//! `message_handle` is the id; `status: "ERROR"` in a 2xx answer is a rejection.
//!
//! Classes: 401 and 403 are the integration's keys; 429 and 5xx are retried; other 4xx reject.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{Map, Value};

use super::{delivered, Classifier, Ctx};
use crate::outbound::ProviderRequest;
use crate::response::{field_string, Response};
use crate::settings::{invalid_config, put};

pub(crate) const BASE: &str = "https://api.sendblue.co";

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    ctx.chat()?;
    let (Some(key), Some(secret)) = (ctx.secret("apiKey"), ctx.secret("secretKey")) else {
        return Err(invalid_config("sendblue"));
    };
    let number = ctx.phone()?;
    let url = ctx.endpoint(BASE, "/api/send-message")?;
    let m = ctx.req.message;
    let mut body = Map::new();
    body.insert("number".into(), Value::String(number.to_owned()));
    put(
        &mut body,
        "from_number",
        ctx.settings()
            .str("from")
            .map(|f| Value::String(f.to_owned())),
    );
    body.insert("content".into(), Value::String(m.content.to_owned()));
    for (k, v) in m.overrides {
        body.insert(k.clone(), v.clone());
    }
    Ok((
        ProviderRequest::json(url, &Value::Object(body))
            .header("sb-api-key-id", key)
            .header("sb-api-secret-key", secret),
        Classifier::Sendblue,
    ))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    let json = resp.json().unwrap_or(Value::Null);
    let status = field_string(&json, "status");
    let failed = status.as_deref() == Some("ERROR");
    if resp.is_success() && !failed {
        return delivered(resp, "Sendblue", field_string(&json, "message_handle"));
    }
    let said = field_string(&json, "error_message")
        .or_else(|| field_string(&json, "message"))
        .unwrap_or_else(|| resp.excerpt());
    let outcome = match resp.status {
        401 | 403 => Outcome::CredentialInvalid,
        _ if resp.is_success() => Outcome::Rejected,
        _ => resp.status_outcome(),
    };
    let mut a = resp.attempt(outcome, resp.answered("Sendblue", &said));
    a.provider_code = field_string(&json, "error_code");
    a
}
