//! Chat Webhook, as upstream Novu later added it: the subscriber's `webhookUrl` receives
//! `{content, webhookUrl, channel?, phoneNumber?, ...overrides}` and, when a signing key is set,
//! `X-Novu-Signature`: the hex HMAC-SHA256 of the exact body bytes under the integration's
//! `secretKey` (or `overrides.hmacSecretKey`, which is taken out of the body). An
//! `overrides.webhookUrl` redirects the send, as upstream allows; either way the destination
//! goes through the outbound policy before anything is signed or sent. The answer's `id` is the
//! message id; the shared classes apply.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{Map, Value};
use url::Url;

use super::push_webhook::{signature, SIGNATURE_HEADER};
use super::{delivered, Classifier, Ctx};
use crate::outbound::ProviderRequest;
use crate::response::{field_string, Response};
use crate::settings::put;

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    let own = ctx.webhook_url()?;
    let (credentials, phone) = ctx.chat()?;
    let m = ctx.req.message;
    let mut body = Map::new();
    body.insert("content".into(), Value::String(m.content.to_owned()));
    body.insert("webhookUrl".into(), Value::String(own.as_str().to_owned()));
    put(
        &mut body,
        "channel",
        credentials.channel.clone().map(Value::String),
    );
    put(
        &mut body,
        "phoneNumber",
        phone.map(|p| Value::String(p.to_owned())),
    );
    for (k, v) in m.overrides {
        body.insert(k.clone(), v.clone());
    }
    let key = match body.remove("hmacSecretKey") {
        Some(Value::String(k)) if !k.trim().is_empty() => Some(k),
        _ => ctx.settings().str("secretKey").map(str::to_owned),
    };
    if let Some(k) = &key {
        ctx.secrets.add(k);
    }
    let url = match body.get("webhookUrl").and_then(Value::as_str) {
        Some(raw) if raw != own.as_str() => {
            ctx.secrets.add_url(raw);
            Url::parse(raw.trim()).map_err(|e| {
                Attempt::new(
                    Outcome::Rejected,
                    format!("the overrides' webhookUrl is not a valid URL ({e})"),
                )
            })?
        }
        _ => own,
    };
    let bytes = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
    let mut request = ProviderRequest::bytes(url, bytes);
    if let Some(k) = key {
        let sig = signature(&k, &request.body);
        request = request.header(SIGNATURE_HEADER, &sig);
    }
    Ok((request, Classifier::ChatWebhook))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    if resp.is_success() {
        return delivered(
            resp,
            "the chat webhook",
            resp.json().and_then(|j| field_string(&j, "id")),
        );
    }
    resp.attempt(
        resp.status_outcome(),
        resp.answered("the chat webhook", &resp.excerpt()),
    )
}
