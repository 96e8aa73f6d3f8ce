//! Webex messages (https://developer.webex.com/docs/api/v1/messages/create-a-message).
//! Request: `POST https://webexapis.com/v1/messages` with `Authorization: Bearer <token>` (a bot
//! or integration token from the integration's `token`; the integration's `baseUrl` replaces
//! `https://webexapis.com/v1` as upstream Novu allows) and `{<destination>, text: content,
//! ...overrides}` (overrides add `markdown`, `parentId`, …). The destination is the subscriber
//! channel's `channel`: an e-mail address goes as `toPersonEmail`; a Webex id as `toPersonId`
//! when it names a person and as `roomId` otherwise (Webex ids are base64 of
//! `ciscospark://<region>/<KIND>/<uuid>`, which says which). The answer's `id` is the message id.
//!
//! Classes: 401 is the token; 429 (with `Retry-After`) and 5xx are retried; 403 and 404 (the bot
//! is not in the room, the person is unknown) reject the message but keep the channel, since
//! adding the bot back makes it work again; other 4xx reject the message.

use base64::Engine;
use herald_core::delivery::{Attempt, Outcome};
use serde_json::{Map, Value};

use super::{delivered, Classifier, Ctx};
use crate::outbound::ProviderRequest;
use crate::response::{field_string, Response};
use crate::settings::invalid_config;

pub(crate) const BASE: &str = "https://webexapis.com";

/// Which destination field a channel value is.
pub(crate) fn destination(channel: &str) -> &'static str {
    if channel.contains('@') {
        return "toPersonEmail";
    }
    let engines = [
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    let decoded = engines
        .iter()
        .find_map(|e| e.decode(channel.trim_end_matches('=')).ok());
    match decoded {
        Some(bytes) if String::from_utf8_lossy(&bytes).contains("/PEOPLE/") => "toPersonId",
        _ => "roomId",
    }
}

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    ctx.chat()?;
    let token = ctx
        .secret("token")
        .ok_or_else(|| invalid_config("webex-messaging"))?;
    let to = ctx.channel("the room id, person id or e-mail the message goes to")?;
    let url = match ctx.settings().str("baseUrl") {
        Some(base) => url::Url::parse(&format!("{}/messages", base.trim_end_matches('/')))
            .map_err(|e| {
                crate::settings::invalid_config_because(
                    "webex-messaging",
                    &format!("baseUrl is not a URL ({e})"),
                )
            })?,
        None => ctx.endpoint(BASE, "/v1/messages")?,
    };
    let m = ctx.req.message;
    let mut body = Map::new();
    body.insert(destination(to).into(), Value::String(to.to_owned()));
    body.insert("text".into(), Value::String(m.content.to_owned()));
    for (k, v) in m.overrides {
        body.insert(k.clone(), v.clone());
    }
    Ok((
        ProviderRequest::json(url, &Value::Object(body)).bearer(token),
        Classifier::Webex,
    ))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    let json = resp.json().unwrap_or(Value::Null);
    if resp.is_success() {
        return delivered(resp, "Webex", field_string(&json, "id"));
    }
    let said = field_string(&json, "message").unwrap_or_else(|| resp.excerpt());
    let outcome = match resp.status {
        401 => Outcome::CredentialInvalid,
        _ => resp.status_outcome(),
    };
    let mut a = resp.attempt(outcome, resp.answered("Webex", &said));
    a.provider_code = field_string(&json, "trackingId");
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_channel_value_names_its_destination_field() {
        assert_eq!(destination("ada@example.com"), "toPersonEmail");
        let person = base64::engine::general_purpose::STANDARD_NO_PAD
            .encode("ciscospark://us/PEOPLE/f5b3-1d9a");
        assert_eq!(destination(&person), "toPersonId");
        let room = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode("ciscospark://us/ROOM/bbcb-1d9a");
        assert_eq!(destination(&room), "roomId");
        assert_eq!(destination("not base64 at all!"), "roomId");
    }
}
