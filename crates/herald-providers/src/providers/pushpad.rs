//! Pushpad (https://pushpad.xyz/docs/rest_api#notifications_api_docs_create).
//! Request: `POST https://pushpad.xyz/api/v1/projects/<applicationId>/notifications` with
//! `Authorization: Token token="<apiKey>"`, `Accept: application/json`, `Content-Type:
//! application/json;charset=UTF-8` and `{notification: {body: content, title?}, uids:
//! [token]}`, as Novu's library sends it (the "device token" is a Pushpad user id). The answer
//! (201) has the notification `id`.
//!
//! Classes: 401 and 403 (the token) and 404 (the project) are the integration's credential;
//! 429 and 5xx are retried; other 4xx (422: an invalid notification) reject the message. A user
//! id with no subscription is not an error to Pushpad, so it is never dead here.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{json, Value};

use super::{delivered, segment, Classifier, Ctx};
use crate::outbound::ProviderRequest;
use crate::response::{field_string, Response};
use crate::settings::{invalid_config, put};

pub(crate) const BASE: &str = "https://pushpad.xyz";

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    let token = ctx.token()?;
    let (Some(key), Some(project)) = (ctx.secret("apiKey"), ctx.settings().str("applicationId"))
    else {
        return Err(invalid_config("Pushpad"));
    };
    let url = ctx.endpoint(
        BASE,
        &format!("/api/v1/projects/{}/notifications", segment(project)),
    )?;
    let m = ctx.req.message;
    let mut notification = serde_json::Map::new();
    notification.insert("body".into(), json!(m.content));
    put(&mut notification, "title", m.title.map(|t| json!(t)));
    let body = json!({"notification": notification, "uids": [token]});
    let mut request = ProviderRequest::json(url, &body)
        .header("authorization", &format!("Token token=\"{key}\""))
        .header("accept", "application/json");
    request.content_type = "application/json;charset=UTF-8";
    Ok((request, Classifier::Pushpad))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    let json = resp.json().unwrap_or(Value::Null);
    if resp.is_success() {
        return delivered(resp, "Pushpad", field_string(&json, "id"));
    }
    let said = field_string(&json, "error").unwrap_or_else(|| resp.excerpt());
    let outcome = match resp.status {
        401 | 403 | 404 => Outcome::CredentialInvalid,
        _ => resp.status_outcome(),
    };
    resp.attempt(outcome, resp.answered("Pushpad", &said))
}
