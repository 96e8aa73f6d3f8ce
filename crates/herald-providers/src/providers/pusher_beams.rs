//! Pusher Beams publish to users
//! (https://pusher.com/docs/beams/reference/publish-api/#publish-to-users).
//! Request: `POST https://<instanceId>.pushnotifications.pusher.com/publish_api/v1/instances/
//! <instanceId>/publishes/users` with `Authorization: Bearer <secretKey>` and `{users: [token],
//! apns: {aps: {alert: {title, body}, badge?, category?, sound?}}, fcm: {notification: {title,
//! body, android_channel_id?, click_action?, color?, icon?, sound?, tag?}, data: payload,
//! time_to_live?}, web: {notification: {title, body, icon?}, data: payload, time_to_live?}}`, as
//! Novu sends it, from `overrides.badge`, `sound`, `categoryId`, `channelId`, `clickAction`,
//! `color`, `icon`, `tag` and `ttl`. The "device token" is a Beams user id. The answer's
//! `publishId` is the id.
//!
//! Classes: 401 and 403 (the secret key) and 404 (the instance) are the integration's
//! credential; 429 and 5xx are retried; other 4xx reject the message.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{json, Map, Value};

use super::{delivered, Classifier, Ctx};
use crate::outbound::ProviderRequest;
use crate::response::{field_string, Response};
use crate::settings::{invalid_config, invalid_config_because, put};

pub(crate) fn body(token: &str, m: &crate::Message<'_>) -> Value {
    let o = m.overrides;
    let s = |k: &str| o.get(k).filter(|v| !v.is_null()).cloned();
    let title = m.title.map(|t| json!(t));
    let mut alert = Map::new();
    put(&mut alert, "title", title.clone());
    alert.insert("body".into(), json!(m.content));
    let mut aps = Map::new();
    aps.insert("alert".into(), Value::Object(alert));
    put(&mut aps, "badge", s("badge"));
    put(&mut aps, "category", s("categoryId"));
    put(&mut aps, "sound", s("sound"));
    let mut fcm_n = Map::new();
    put(&mut fcm_n, "title", title.clone());
    fcm_n.insert("body".into(), json!(m.content));
    put(&mut fcm_n, "android_channel_id", s("channelId"));
    put(&mut fcm_n, "click_action", s("clickAction"));
    put(&mut fcm_n, "color", s("color"));
    put(&mut fcm_n, "icon", s("icon"));
    put(&mut fcm_n, "sound", s("sound"));
    put(&mut fcm_n, "tag", s("tag"));
    let mut fcm = Map::new();
    fcm.insert("notification".into(), Value::Object(fcm_n));
    fcm.insert("data".into(), m.payload.clone());
    put(&mut fcm, "time_to_live", s("ttl"));
    let mut web_n = Map::new();
    put(&mut web_n, "title", title);
    web_n.insert("body".into(), json!(m.content));
    put(&mut web_n, "icon", s("icon"));
    let mut web = Map::new();
    web.insert("notification".into(), Value::Object(web_n));
    web.insert("data".into(), m.payload.clone());
    put(&mut web, "time_to_live", s("ttl"));
    json!({"users": [token], "apns": {"aps": aps}, "fcm": fcm, "web": web})
}

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    let token = ctx.token()?;
    let (Some(instance), Some(secret)) =
        (ctx.settings().str("instanceId"), ctx.secret("secretKey"))
    else {
        return Err(invalid_config("Pusher Beams"));
    };
    // The instance id becomes a host name label.
    if !instance
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(invalid_config_because(
            "Pusher Beams",
            "the instanceId is not a Beams instance id",
        ));
    }
    let url = ctx.endpoint(
        &format!("https://{instance}.pushnotifications.pusher.com"),
        &format!("/publish_api/v1/instances/{instance}/publishes/users"),
    )?;
    let body = body(token, ctx.req.message);
    Ok((
        ProviderRequest::json(url, &body).bearer(secret),
        Classifier::PusherBeams,
    ))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    let json = resp.json().unwrap_or(Value::Null);
    if resp.is_success() {
        return delivered(resp, "Pusher Beams", field_string(&json, "publishId"));
    }
    let code = field_string(&json, "error");
    let said = field_string(&json, "description").unwrap_or_else(|| resp.excerpt());
    let outcome = match resp.status {
        401 | 403 | 404 => Outcome::CredentialInvalid,
        _ => resp.status_outcome(),
    };
    let mut a = resp.attempt(outcome, resp.answered("Pusher Beams", &said));
    a.provider_code = code;
    a
}
