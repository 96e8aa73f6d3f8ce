//! The APNs request Novu's library (node-apn) builds from `{body: content, title, payload:
//! <trigger payload>, topic: applicationId, ...overrides.apns}`
//! (https://developer.apple.com/documentation/usernotifications/generating-a-remote-notification):
//!
//! - body: the custom keys (`overrides.payload`, else the trigger payload) at the top level and
//!   `aps: {alert: {title?, subtitle?, body, …loc keys}, badge?, sound?, category?,
//!   thread-id?, content-available: 1?, mutable-content: 1?, target-content-id?,
//!   interruption-level?, relevance-score?, url-args?}` from the camelCase overrides, with
//!   `overrides.aps` merged over it; `overrides.alert` (a string or an object) replaces the
//!   alert; `overrides.rawPayload` replaces the whole body;
//! - headers: `apns-topic` (`overrides.topic`, else the integration's `applicationId`),
//!   `apns-push-type` (`overrides.pushType`, else `alert`: Novu sends none, but Apple requires
//!   it on watchOS and recommends it everywhere), and `apns-priority`, `apns-expiration`,
//!   `apns-collapse-id`, `apns-id` only when the overrides give `priority`, `expiry` (≥ 0),
//!   `collapseId`, `id`.

use serde_json::{json, Map, Value};

use crate::settings::put;
use crate::Message;

/// camelCase `aps` keys and Apple's names for them; `true` flags become `1`.
const APS_KEYS: &[(&str, &str)] = &[
    ("contentAvailable", "content-available"),
    ("mutableContent", "mutable-content"),
    ("threadId", "thread-id"),
    ("targetContentId", "target-content-id"),
    ("interruptionLevel", "interruption-level"),
    ("relevanceScore", "relevance-score"),
    ("urlArgs", "url-args"),
    ("filterCriteria", "filter-criteria"),
    ("staleDate", "stale-date"),
    ("contentState", "content-state"),
    ("dismissalDate", "dismissal-date"),
];

/// camelCase alert keys and Apple's names for them.
const ALERT_KEYS: &[(&str, &str)] = &[
    ("titleLocKey", "title-loc-key"),
    ("titleLocArgs", "title-loc-args"),
    ("subtitleLocKey", "subtitle-loc-key"),
    ("subtitleLocArgs", "subtitle-loc-args"),
    ("locKey", "loc-key"),
    ("locArgs", "loc-args"),
    ("actionLocKey", "action-loc-key"),
    ("launchImage", "launch-image"),
];

fn rename(key: &str, table: &[(&str, &'static str)]) -> Option<&'static str> {
    table
        .iter()
        .find(|(from, _)| *from == key)
        .map(|(_, to)| *to)
}

fn flag(v: &Value) -> Value {
    match v {
        Value::Bool(true) => json!(1),
        other => other.clone(),
    }
}

/// `aps` with its camelCase keys (and its alert's) spelled as Apple spells them.
pub(crate) fn hyphenate_aps(aps: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in aps {
        match (k.as_str(), v) {
            ("alert", Value::Object(alert)) => {
                let mut a = Map::new();
                for (ak, av) in alert {
                    a.insert(rename(ak, ALERT_KEYS).unwrap_or(ak).to_owned(), av.clone());
                }
                out.insert("alert".into(), Value::Object(a));
            }
            _ => match rename(k, APS_KEYS) {
                Some(apple) => {
                    out.insert(apple.into(), flag(v));
                }
                None => {
                    out.insert(k.clone(), v.clone());
                }
            },
        }
    }
    out
}

/// The request's headers (besides `authorization`) and body.
pub(crate) struct Built {
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

pub(crate) fn build(m: &Message<'_>, topic: &str) -> Built {
    let o = m.overrides;
    let get = |k: &str| o.get(k).filter(|v| !v.is_null());
    let mut headers = vec![
        (
            "apns-topic",
            get("topic")
                .and_then(text)
                .unwrap_or_else(|| topic.to_owned()),
        ),
        (
            "apns-push-type",
            get("pushType")
                .and_then(text)
                .unwrap_or_else(|| "alert".into()),
        ),
    ];
    if let Some(p) = get("priority").and_then(text) {
        headers.push(("apns-priority", p));
    }
    if let Some(e) = get("expiry").and_then(Value::as_i64).filter(|e| *e >= 0) {
        headers.push(("apns-expiration", e.to_string()));
    }
    if let Some(c) = get("collapseId").and_then(text) {
        headers.push(("apns-collapse-id", c));
    }
    if let Some(id) = get("id").and_then(text) {
        headers.push(("apns-id", id));
    }
    if let Some(Value::Object(raw)) = get("rawPayload") {
        return Built {
            headers,
            body: Value::Object(raw.clone()),
        };
    }
    let mut alert = Map::new();
    put(&mut alert, "title", m.title.map(|t| json!(t)));
    put(&mut alert, "subtitle", get("subtitle").cloned());
    alert.insert("body".into(), json!(m.content));
    for (k, apple) in ALERT_KEYS {
        put(&mut alert, apple, get(k).cloned());
    }
    let mut aps = Map::new();
    aps.insert(
        "alert".into(),
        match get("alert") {
            Some(a @ (Value::String(_) | Value::Object(_))) => a.clone(),
            _ => Value::Object(alert),
        },
    );
    for key in ["badge", "sound", "category"] {
        put(&mut aps, key, get(key).cloned());
    }
    for (k, apple) in APS_KEYS {
        put(&mut aps, apple, get(k).map(flag));
    }
    if let Some(Value::Object(extra)) = get("aps") {
        for (k, v) in hyphenate_aps(extra) {
            aps.insert(k, v);
        }
    }
    let mut body = match get("payload").unwrap_or(m.payload) {
        Value::Object(custom) => custom.clone(),
        _ => Map::new(),
    };
    body.insert("aps".into(), Value::Object(aps));
    Built {
        headers,
        body: Value::Object(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_overrides_become_apples_keys_and_headers() {
        let payload = json!({"orderId": 42});
        let o = json!({
            "badge": 3, "sound": "default", "threadId": "orders", "mutableContent": true,
            "titleLocKey": "T", "aps": {"contentAvailable": true},
            "priority": 5, "expiry": 0, "collapseId": "c1", "topic": "com.example.other"
        });
        let m = Message {
            title: Some("Order"),
            content: "Shipped",
            payload: &payload,
            overrides: o.as_object().unwrap(),
            subscriber: &Value::Null,
            step: &Value::Null,
        };
        let b = build(&m, "com.example.app");
        assert_eq!(
            b.body,
            json!({"orderId": 42, "aps": {
                "alert": {"title": "Order", "body": "Shipped", "title-loc-key": "T"},
                "badge": 3, "sound": "default", "mutable-content": 1, "thread-id": "orders",
                "content-available": 1
            }})
        );
        assert_eq!(
            b.headers,
            vec![
                ("apns-topic", "com.example.other".to_owned()),
                ("apns-push-type", "alert".to_owned()),
                ("apns-priority", "5".to_owned()),
                ("apns-expiration", "0".to_owned()),
                ("apns-collapse-id", "c1".to_owned()),
            ]
        );
    }
}
