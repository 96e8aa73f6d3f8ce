//! Mattermost incoming webhooks (`HandleIncomingWebhook` in mattermost/mattermost).
//! Request: `POST <webhookUrl>` with `{text, channel?}` (the subscriber channel's
//! `channel`); overrides are not sent, as in Novu. Errors are AppError JSON whose `id` decides
//! the class — a deleted hook answers 400, not 404.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{Map, Value};
use url::Url;

use crate::outbound::ProviderRequest;
use crate::response::{excerpt, field_string, Response};
use crate::Message;

pub(crate) fn request(url: Url, message: &Message<'_>, channel: Option<&str>) -> ProviderRequest {
    let mut body = Map::new();
    body.insert("text".into(), Value::String(message.content.to_owned()));
    if let Some(channel) = channel.filter(|c| !c.is_empty()) {
        body.insert("channel".into(), Value::String(channel.to_owned()));
    }
    ProviderRequest::json(url, &Value::Object(body))
}

fn outcome_of(status: u16, id: &str, by_status: Outcome) -> Outcome {
    match (status, id) {
        // The hook was deleted; the hook's own channel was deleted; its creator is gone.
        (_, "web.incoming_webhook.invalid.app_error")
        | (_, "app.channel.get.existing.app_error")
        | (403, "web.incoming_webhook.user.app_error") => Outcome::TokenDead,
        // Incoming webhooks are off server-wide: an admin must act; retrying cannot help and
        // the URL works again once they do, so it is kept.
        (_, "web.incoming_webhook.disabled.app_error") => Outcome::Rejected,
        // The `channel` override is missing or not allowed, or the payload is bad (a 400
        // `user.app_error` is an unknown `@user` in the text).
        (_, "web.incoming_webhook.channel.app_error")
        | (_, "web.incoming_webhook.channel_locked.app_error")
        | (_, "web.incoming_webhook.permissions.app_error")
        | (_, "web.incoming_webhook.text.app_error")
        | (_, "web.incoming_webhook.parse.app_error")
        | (_, "web.incoming_webhook.user.app_error")
        | (_, "api.webhook.incoming.error") => Outcome::Rejected,
        _ => by_status,
    }
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    if resp.is_success() {
        let mut a = resp.attempt(
            Outcome::Delivered,
            format!("Mattermost accepted the message (HTTP {})", resp.status),
        );
        a.provider_message_id = resp.header("x-request-id").map(str::to_owned);
        return a;
    }
    let json = resp.json().unwrap_or(Value::Null);
    let id = field_string(&json, "id");
    let said = field_string(&json, "message")
        .map(|m| excerpt(&m))
        .unwrap_or_else(|| resp.excerpt());
    let outcome = outcome_of(
        resp.status,
        id.as_deref().unwrap_or_default(),
        resp.status_outcome(),
    );
    let id_text = id.as_deref().map(|i| format!(" ({i})")).unwrap_or_default();
    let mut a = resp.attempt(
        outcome,
        format!("{}{id_text}", resp.answered("Mattermost", &said)),
    );
    a.provider_code = id;
    a
}
