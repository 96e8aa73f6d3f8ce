//! OneSignal's Create Message API
//! (https://documentation.onesignal.com/reference/push-notification).
//! Request: `POST https://api.onesignal.com/notifications?c=push` with `Authorization: Key
//! <apiKey>` (`Basic` for a legacy key, one not starting `os_v2_`) and `{app_id: <applicationId>,
//! target_channel: "push", include_subscription_ids: [token], headings?: {en: title}, contents:
//! {en: content}, subtitle?, data: <trigger payload>, ios_badgeType: "Increase",
//! ios_badgeCount: 1, ios_sound?, android_sound?, mutable_content?, android_channel_id?,
//! small_icon?, large_icon?, chrome_icon?, firefox_icon?, ios_category?, idempotency_key}` — the
//! fields Novu sends, from `overrides.sound`, `subtitle`, `mutableContent`, `channelId`, `icon`
//! and `categoryId`, with today's names for the audience (`include_subscription_ids` is the same
//! ids as Novu's `include_player_ids`). `idempotency_key` is the delivery's key as a UUID:
//! OneSignal creates one notification per key for 30 days, so a retry after a lost answer is not
//! sent twice (https://documentation.onesignal.com/reference/idempotent-notification-requests).
//!
//! OneSignal answers 200 even when nothing was sent (https://documentation.onesignal.com/
//! reference/push-notification#response): `id` empty and `errors` either `{"invalid_player_ids":
//! [...]}` (also `invalid_subscription_ids`, `invalid_aliases`) — the id does not exist, a dead
//! token — or `["All included players are not subscribed"]` — the subscription exists but is
//! unsubscribed, which the device can undo, so the message is rejected and the token kept.
//! 400 naming `app_id`, 401 and 403 ("Access denied") are the integration's credential; 429
//! (`Retry-After`) and 5xx are retried, with the same idempotency key; other 4xx reject.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{json, Map, Value};

use super::{delivered, Classifier, Ctx};
use crate::idempotency::uuid_for;
use crate::outbound::ProviderRequest;
use crate::response::{field_string, Response};
use crate::settings::{invalid_config, override_str, put};

pub(crate) const BASE: &str = "https://api.onesignal.com";

pub(crate) fn body(
    app_id: &str,
    token: &str,
    key: Option<String>,
    m: &crate::Message<'_>,
) -> Value {
    let o = m.overrides;
    let s = |k: &str| o.get(k).filter(|v| !v.is_null()).cloned();
    let mut b = Map::new();
    b.insert("app_id".into(), json!(app_id));
    b.insert("target_channel".into(), json!("push"));
    b.insert("include_subscription_ids".into(), json!([token]));
    put(&mut b, "headings", m.title.map(|t| json!({"en": t})));
    b.insert("contents".into(), json!({"en": m.content}));
    put(&mut b, "subtitle", s("subtitle").map(|v| json!({"en": v})));
    b.insert("data".into(), m.payload.clone());
    b.insert("ios_badgeType".into(), json!("Increase"));
    b.insert("ios_badgeCount".into(), json!(1));
    let sound = override_str(o, "sound").map(|v| json!(v));
    put(&mut b, "ios_sound", sound.clone());
    put(&mut b, "android_sound", sound);
    put(&mut b, "mutable_content", s("mutableContent"));
    put(&mut b, "android_channel_id", s("channelId"));
    for icon in ["small_icon", "large_icon", "chrome_icon", "firefox_icon"] {
        put(&mut b, icon, s("icon"));
    }
    put(&mut b, "ios_category", s("categoryId"));
    put(&mut b, "idempotency_key", key.map(Value::String));
    Value::Object(b)
}

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    let token = ctx.token()?;
    let (Some(app_id), Some(api_key)) = (ctx.settings().str("applicationId"), ctx.secret("apiKey"))
    else {
        return Err(invalid_config("OneSignal"));
    };
    let url = ctx.endpoint(BASE, "/notifications?c=push")?;
    let scheme = if api_key.starts_with("os_v2_") {
        "Key"
    } else {
        "Basic"
    };
    let body = body(
        app_id,
        token,
        uuid_for(ctx.req.idempotency_key),
        ctx.req.message,
    );
    Ok((
        ProviderRequest::json(url, &body).header("authorization", &format!("{scheme} {api_key}")),
        Classifier::OneSignal,
    ))
}

/// The `errors` entry that says the id we sent does not exist, if any.
fn invalid_ids(errors: &Value) -> Option<String> {
    let Value::Object(map) = errors else {
        return None;
    };
    map.iter()
        .find(|(k, v)| {
            k.starts_with("invalid_")
                && match v {
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => o
                        .values()
                        .any(|x| x.as_array().is_some_and(|a| !a.is_empty())),
                    _ => false,
                }
        })
        .map(|(k, _)| k.clone())
}

fn error_texts(errors: &Value) -> Vec<String> {
    match errors {
        Value::Array(a) => a
            .iter()
            .filter_map(|e| e.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    let json = resp.json().unwrap_or(Value::Null);
    let errors = json.get("errors").cloned().unwrap_or(Value::Null);
    let id = field_string(&json, "id");
    if resp.is_success() && id.is_some() {
        return delivered(resp, "OneSignal", id);
    }
    let texts = error_texts(&errors);
    let said = if texts.is_empty() {
        if errors.is_null() {
            resp.excerpt()
        } else {
            crate::response::excerpt(&errors.to_string())
        }
    } else {
        texts.join("; ")
    };
    let (outcome, code) = if let Some(key) = invalid_ids(&errors) {
        (Outcome::TokenDead, Some(key))
    } else if texts.iter().any(|t| t.contains("not subscribed")) {
        (Outcome::Rejected, Some("not_subscribed".to_owned()))
    } else {
        let about_app = said.contains("app_id");
        let outcome = match resp.status {
            401 | 403 => Outcome::CredentialInvalid,
            400 if about_app => Outcome::CredentialInvalid,
            s if (200..300).contains(&s) => Outcome::Rejected,
            _ => resp.status_outcome(),
        };
        (outcome, None)
    };
    let mut a = resp.attempt(outcome, resp.answered("OneSignal", &said));
    a.provider_code = code;
    a
}
