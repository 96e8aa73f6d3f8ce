//! Push Webhook, as Novu sends it: the integration's own endpoint receives one signed
//! request per device token. Body `{target: [token], title, content, overrides, payload:
//! {...payload, subscriber, step}}`; `X-Novu-Signature` is the hex HMAC-SHA256 of the exact body
//! bytes under the integration's `secretKey`, so receivers written for Novu verify Herald's
//! requests unchanged.

use herald_core::delivery::{Attempt, Outcome};
use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;
use url::Url;

use super::{Classifier, Ctx};
use crate::outbound::ProviderRequest;
use crate::response::{field_string, Response};
use crate::settings::invalid_config;
use crate::Message;

pub(crate) const SIGNATURE_HEADER: &str = "x-novu-signature";

pub(crate) fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

pub(crate) fn body(token: &str, message: &Message<'_>) -> Value {
    let mut body = Map::new();
    body.insert(
        "target".into(),
        Value::Array(vec![Value::String(token.to_owned())]),
    );
    if let Some(title) = message.title {
        body.insert("title".into(), Value::String(title.to_owned()));
    }
    body.insert("content".into(), Value::String(message.content.to_owned()));
    body.insert("overrides".into(), Value::Object(message.overrides.clone()));
    let mut payload = match message.payload {
        Value::Object(p) => p.clone(),
        _ => Map::new(),
    };
    payload.insert("subscriber".into(), message.subscriber.clone());
    payload.insert("step".into(), message.step.clone());
    body.insert("payload".into(), Value::Object(payload));
    Value::Object(body)
}

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    if !matches!(ctx.req.target, crate::Target::Push { .. }) {
        return Err(super::wrong_target(ctx.req.provider));
    }
    let (Some(raw), Some(secret)) = (ctx.settings().str("webhookUrl"), ctx.secret("secretKey"))
    else {
        return Err(invalid_config("push-webhook provider"));
    };
    ctx.secrets.add_url(raw);
    let token = ctx.token()?;
    let url = Url::parse(raw).map_err(|e| {
        Attempt::new(
            Outcome::CredentialInvalid,
            format!("the push-webhook integration's webhookUrl is not a valid URL ({e})"),
        )
    })?;
    Ok((
        request(url, secret, token, ctx.req.message),
        Classifier::PushWebhook,
    ))
}

pub(crate) fn request(
    url: Url,
    secret: &str,
    token: &str,
    message: &Message<'_>,
) -> ProviderRequest {
    let bytes = serde_json::to_vec(&body(token, message)).unwrap_or_default();
    let sig = signature(secret, &bytes);
    ProviderRequest::bytes(url, bytes).header(SIGNATURE_HEADER, &sig)
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    if resp.is_success() {
        let mut a = resp.attempt(
            Outcome::Delivered,
            format!(
                "the push webhook accepted the message (HTTP {})",
                resp.status
            ),
        );
        a.provider_message_id = resp.json().and_then(|j| field_string(&j, "id"));
        return a;
    }
    resp.attempt(
        resp.status_outcome(),
        resp.answered("the push webhook", &resp.excerpt()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hex_hmac_sha256_of_the_bytes() {
        // RFC 4231-style reference value (the widely published "quick brown fox" vector).
        assert_eq!(
            signature("key", b"The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
