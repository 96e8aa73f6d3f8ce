//! WhatsApp Business through Meta's Graph API
//! (https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages).
//! Request: `POST https://graph.facebook.com/v18.0/<phoneNumberIdentification>/messages` with
//! `Authorization: Bearer <apiToken>`, to the subscriber's phone number, as Novu sends it: text
//! mode `{messaging_product: "whatsapp", recipient_type: "individual", to, type: "text", text:
//! {body: content, preview_url: false}}`, or template mode when the overrides hold a `template`
//! (`type: "template", template: <overrides.template>`), which is what WhatsApp requires outside
//! the 24-hour customer-service window. (Graph API calls to a retired version are served by the
//! oldest live one, so Novu's `v18.0` keeps working.) The answer's `messages[0].id` is the id.
//!
//! Graph errors are `{"error": {"message", "type", "code", "error_subcode"}}`
//! (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes): 190 (access
//! token expired or revoked), 0, 3, 10, 200–299 (permissions), 131031 (account locked) and
//! 133010 (the sender number is not registered) are the integration's credential; 4, 80007,
//! 130429, 131048 and 131056 (rate and spam limits), 1, 2, 131000 and 131016 (temporary) are
//! retried; anything else — including 131026, an unreachable recipient, which is a property of
//! the subscriber's phone number rather than a dead token — rejects the message.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{json, Value};

use super::{delivered, segment, Classifier, Ctx};
use crate::outbound::ProviderRequest;
use crate::response::{field_string, Response};
use crate::settings::invalid_config;

pub(crate) const BASE: &str = "https://graph.facebook.com";

const CREDENTIAL: &[i64] = &[0, 3, 10, 190, 131031, 133010];
const RETRY: &[i64] = &[1, 2, 4, 80007, 130429, 131000, 131016, 131048, 131056];

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    ctx.chat()?;
    let (Some(token), Some(phone_id)) = (
        ctx.secret("apiToken"),
        ctx.settings().str("phoneNumberIdentification"),
    ) else {
        return Err(invalid_config("whatsapp-business"));
    };
    let to = ctx.phone()?;
    let url = ctx.endpoint(BASE, &format!("/v18.0/{}/messages", segment(phone_id)))?;
    let m = ctx.req.message;
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
    });
    match m.overrides.get("template") {
        Some(template) => {
            body["type"] = json!("template");
            body["template"] = template.clone();
        }
        None => {
            body["type"] = json!("text");
            body["text"] = json!({"body": m.content, "preview_url": false});
        }
    }
    Ok((
        ProviderRequest::json(url, &body).bearer(token),
        Classifier::WhatsApp,
    ))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    let json = resp.json().unwrap_or(Value::Null);
    if resp.is_success() {
        let id = json
            .get("messages")
            .and_then(|m| m.get(0))
            .and_then(|m| field_string(m, "id"));
        return delivered(resp, "WhatsApp", id);
    }
    let error = json.get("error").cloned().unwrap_or(Value::Null);
    let code = error.get("code").and_then(Value::as_i64);
    let said = field_string(&error, "message").unwrap_or_else(|| resp.excerpt());
    let outcome = match code {
        Some(c) if CREDENTIAL.contains(&c) || (200..=299).contains(&c) => {
            Outcome::CredentialInvalid
        }
        Some(c) if RETRY.contains(&c) => Outcome::Retry {
            after: resp.retry_after(),
        },
        _ if resp.status == 401 => Outcome::CredentialInvalid,
        _ => resp.status_outcome(),
    };
    let code_text = code.map(|c| format!(" (code {c})")).unwrap_or_default();
    let mut a = resp.attempt(
        outcome,
        format!("{}{code_text}", resp.answered("WhatsApp", &said)),
    );
    a.provider_code = code.map(|c| c.to_string());
    a
}
