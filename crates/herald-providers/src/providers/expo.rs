//! Expo's push service (https://docs.expo.dev/push-notifications/sending-notifications/).
//! Request: `POST https://exp.host/--/api/v2/push/send` with `Authorization: Bearer <apiKey>`
//! (the access token Novu requires), `Accept: application/json` and a JSON array of up to 100
//! messages, one per token, each as Novu sends it: `{to: [token], title?, body: content, data:
//! <trigger payload>, badge?, sound: <overrides.sound if a string, else null>, ...the other
//! overrides}`. Expo answers one ticket per message, in order: `{status: "ok", id}` (the id of
//! the receipt to ask for later) or `{status: "error", message, details: {error}}`.
//!
//! Ticket and receipt errors (`details.error`): `DeviceNotRegistered` is a dead token;
//! `MessageTooBig` rejects the message; `MessageRateExceeded` is retried; `MismatchSenderId`
//! and `InvalidCredentials` are the Expo project's push credentials. Request errors
//! (`errors[].code`): `UNAUTHORIZED` is the access token; `TOO_MANY_REQUESTS` (and 429, 5xx) are
//! retried; `PUSH_TOO_MANY_EXPERIENCE_IDS` (tokens of several Expo projects in one request) makes
//! Herald send that batch's tokens one per request; `PUSH_TOO_MANY_NOTIFICATIONS` and
//! `PUSH_TOO_MANY_RECEIPTS` reject. A ticket `ok` only means Expo queued the message: receipts
//! ([`receipts`], at most 1000 ids per request) tell whether Apple or Google took it.

use std::collections::HashMap;

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{json, Map, Value};
use url::Url;

use super::endpoint;
use crate::hints::Secrets;
use crate::outbound::ProviderRequest;
use crate::response::{field_string, Response};
use crate::settings::{invalid_config, put, Settings};
use crate::{Message, Providers, PushToken};
use herald_core::ProviderId;

pub(crate) const BASE: &str = "https://exp.host";
/// Messages per send request (Expo's limit).
pub(crate) const MAX_BATCH: usize = 100;
/// Ids per receipts request (Expo's limit).
pub(crate) const MAX_RECEIPTS: usize = 1000;
/// Response bytes read for one request: a ticket or receipt with an error message runs to a
/// few hundred bytes, and a request carries up to 1000 of them.
const RESPONSE_CAP: usize = 1024 * 1024;

/// Override keys that are not spread into the message: `sound` and `badge` are placed
/// explicitly, `deviceTokens` chose the targets.
const PLACED: &[&str] = &["sound", "badge", "deviceTokens"];

pub(crate) fn message(token: &str, m: &Message<'_>) -> Value {
    let o = m.overrides;
    let mut b = Map::new();
    b.insert("to".into(), json!([token]));
    put(&mut b, "title", m.title.map(|t| json!(t)));
    b.insert("body".into(), json!(m.content));
    b.insert("data".into(), m.payload.clone());
    put(&mut b, "badge", o.get("badge").cloned());
    let sound = o.get("sound").filter(|s| s.is_string()).cloned();
    b.insert("sound".into(), sound.unwrap_or(Value::Null));
    for (k, v) in o {
        if !PLACED.contains(&k.as_str()) {
            b.insert(k.clone(), v.clone());
        }
    }
    Value::Object(b)
}

/// What one send request came to.
enum Answer {
    /// One attempt per message, in order.
    Tickets(Vec<Attempt>),
    /// The whole request failed the same way for every message.
    Whole(Attempt),
    /// The tokens belong to several Expo projects.
    SeveralProjects(Attempt),
}

/// Sends `m` to every token, one attempt per token in order.
pub(crate) async fn send_batch(
    p: &Providers,
    integration: &Map<String, Value>,
    tokens: &[PushToken<'_>],
    m: &Message<'_>,
) -> Vec<Attempt> {
    let mut secrets = Secrets::default();
    let Some(access) = Settings(integration).str("apiKey") else {
        return vec![invalid_config("expo"); tokens.len()];
    };
    secrets.add(access);
    let url = match endpoint(&p.config, ProviderId::Expo, BASE, "/--/api/v2/push/send") {
        Ok(u) => u,
        Err(a) => return vec![a; tokens.len()],
    };
    let mut out: Vec<Option<Attempt>> = vec![None; tokens.len()];
    let mut live: Vec<(usize, &str)> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        secrets.add(t.token);
        let token = t.token.trim();
        if token.is_empty() {
            out[i] = Some(Attempt::new(Outcome::Rejected, "the device token is empty"));
        } else {
            live.push((i, token));
        }
    }
    for chunk in live.chunks(MAX_BATCH) {
        let list: Vec<&str> = chunk.iter().map(|(_, t)| *t).collect();
        let attempts = match post(p, &url, access, &list, m).await {
            Answer::Tickets(a) => a,
            Answer::Whole(a) => vec![a; list.len()],
            Answer::SeveralProjects(a) if list.len() == 1 => vec![a],
            // Bounded: one request per token of this chunk, each of which has one project.
            Answer::SeveralProjects(_) => {
                let mut each = Vec::with_capacity(list.len());
                for token in &list {
                    each.push(match post(p, &url, access, &[token], m).await {
                        Answer::Tickets(mut a) => a.pop().unwrap_or_else(no_ticket),
                        Answer::Whole(a) | Answer::SeveralProjects(a) => a,
                    });
                }
                each
            }
        };
        for ((i, _), a) in chunk.iter().zip(attempts) {
            out[*i] = Some(a);
        }
    }
    out.into_iter()
        .map(|a| secrets.scrub(a.unwrap_or_else(no_ticket)))
        .collect()
}

fn no_ticket() -> Attempt {
    Attempt::new(
        Outcome::Retry { after: None },
        "Expo answered without a ticket for this token",
    )
}

async fn post(p: &Providers, url: &Url, access: &str, tokens: &[&str], m: &Message<'_>) -> Answer {
    let body = Value::Array(tokens.iter().map(|t| message(t, m)).collect());
    let mut request = ProviderRequest::json(url.clone(), &body)
        .bearer(access)
        .header("accept", "application/json");
    request.response_cap = Some(RESPONSE_CAP);
    let resp = match p.outbound.post(request).await {
        Ok(r) => r,
        Err(a) => return Answer::Whole(a),
    };
    let json = resp.json().unwrap_or(Value::Null);
    if resp.is_success() {
        if let Some(Value::Array(tickets)) = json.get("data") {
            return Answer::Tickets(
                (0..tokens.len())
                    .map(|i| match tickets.get(i) {
                        Some(t) => classify_ticket(t, "ticket", Some(&resp)),
                        None => no_ticket(),
                    })
                    .collect(),
            );
        }
    }
    let (attempt, several) = request_error(&resp, &json);
    if several {
        Answer::SeveralProjects(attempt)
    } else {
        Answer::Whole(attempt)
    }
}

/// A request-level failure (`errors[]`, or only a status): the attempt, and whether it was
/// `PUSH_TOO_MANY_EXPERIENCE_IDS`.
fn request_error(resp: &Response, json: &Value) -> (Attempt, bool) {
    let first = json.get("errors").and_then(|e| e.get(0));
    let code = first.and_then(|e| field_string(e, "code"));
    let said = first
        .and_then(|e| field_string(e, "message"))
        .unwrap_or_else(|| resp.excerpt());
    let outcome = match code.as_deref() {
        Some("UNAUTHORIZED") => Outcome::CredentialInvalid,
        Some("TOO_MANY_REQUESTS") => Outcome::Retry {
            after: resp.retry_after(),
        },
        Some("PUSH_TOO_MANY_NOTIFICATIONS" | "PUSH_TOO_MANY_RECEIPTS") => Outcome::Rejected,
        _ if resp.status == 401 || resp.status == 403 => Outcome::CredentialInvalid,
        _ if resp.is_success() => Outcome::Rejected,
        _ => resp.status_outcome(),
    };
    let several = code.as_deref() == Some("PUSH_TOO_MANY_EXPERIENCE_IDS");
    let mut a = resp.attempt(outcome, resp.answered("Expo", &said));
    a.provider_code = code;
    (a, several)
}

/// One ticket or receipt: `ok` delivered (a ticket's `id` is the receipt id), `error` by its
/// `details.error`.
pub(crate) fn classify_ticket(t: &Value, what: &str, resp: Option<&Response>) -> Attempt {
    let status = t.get("status").and_then(Value::as_str);
    let http = resp.map(|r| r.status);
    let mut a = if status == Some("ok") {
        let mut a = Attempt::new(
            Outcome::Delivered,
            format!("Expo accepted the message ({what} ok)"),
        );
        if what == "ticket" {
            a.provider_message_id = field_string(t, "id");
        }
        a
    } else {
        let code = t.get("details").and_then(|d| field_string(d, "error"));
        let outcome = match code.as_deref() {
            Some("DeviceNotRegistered") => Outcome::TokenDead,
            Some("MessageRateExceeded") => Outcome::Retry { after: None },
            Some("MismatchSenderId" | "InvalidCredentials") => Outcome::CredentialInvalid,
            _ => Outcome::Rejected,
        };
        let said = field_string(t, "message").unwrap_or_else(|| t.to_string());
        let code_text = code
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        let mut a = Attempt::new(
            outcome,
            format!(
                "Expo {what} error: {}{code_text}",
                crate::response::excerpt(&said)
            ),
        );
        a.provider_code = code;
        a
    };
    a.http_status = http;
    a
}

/// The receipts of `ids`: present ones classified, absent ones not ready yet.
pub(crate) async fn receipts(
    p: &Providers,
    integration: &Map<String, Value>,
    ids: &[&str],
) -> Result<HashMap<String, Attempt>, Attempt> {
    let mut secrets = Secrets::default();
    let access = Settings(integration)
        .str("apiKey")
        .ok_or_else(|| invalid_config("expo"))?;
    secrets.add(access);
    let url = endpoint(
        &p.config,
        ProviderId::Expo,
        BASE,
        "/--/api/v2/push/getReceipts",
    )?;
    let mut found = HashMap::new();
    for chunk in ids.chunks(MAX_RECEIPTS) {
        let mut request = ProviderRequest::json(url.clone(), &json!({ "ids": chunk }))
            .bearer(access)
            .header("accept", "application/json");
        request.response_cap = Some(RESPONSE_CAP);
        let resp = p
            .outbound
            .post(request)
            .await
            .map_err(|a| secrets.scrub(a))?;
        let json = resp.json().unwrap_or(Value::Null);
        match json.get("data") {
            Some(Value::Object(data)) if resp.is_success() => {
                for (id, receipt) in data {
                    found.insert(
                        id.clone(),
                        secrets.scrub(classify_ticket(receipt, "receipt", Some(&resp))),
                    );
                }
            }
            _ => return Err(secrets.scrub(request_error(&resp, &json).0)),
        }
    }
    Ok(found)
}
