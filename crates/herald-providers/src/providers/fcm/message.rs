//! The FCM v1 message Novu's provider builds
//! (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages), from the
//! rendered title and content and the merged `overrides.fcm`:
//!
//! - `deviceTokens` is dropped; `android`, `apns`, `fcmOptions` (sent as `fcm_options`) and
//!   `webPush` (sent as `webpush`; the FCM spellings are accepted too) go to their fields;
//! - `type: "data"`: no `notification`; `data` is every trigger payload entry as a string
//!   (strings as they are, anything else as JSON) plus `title`, `body` and `message` (both the
//!   content); `overrides.data` and the other keys are ignored;
//! - otherwise `notification` is `{title, body: content, ...every other override key}` (FCM
//!   rejects keys it does not know there, as it does for Novu) and `data` is `overrides.data`,
//!   whose values must be strings.
//!
//! Like firebase-admin, a numeric `android.ttl` (milliseconds) becomes FCM's duration string and
//! the camelCase keys of `apns.payload.aps` become Apple's hyphenated ones.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{json, Map, Value};

use crate::providers::apns::payload::hyphenate_aps;
use crate::settings::put;
use crate::Message;

/// Override keys that are not notification fields.
const FIELDS: &[&str] = &[
    "deviceTokens",
    "type",
    "android",
    "apns",
    "fcmOptions",
    "fcm_options",
    "webPush",
    "webpush",
    "data",
];

fn as_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Milliseconds as FCM's duration (`"3600s"`, `"1.500000000s"`).
fn duration(ms: u64) -> String {
    let (secs, rest) = (ms / 1000, ms % 1000);
    if rest == 0 {
        format!("{secs}s")
    } else {
        format!("{secs}.{:09}s", rest * 1_000_000)
    }
}

fn android(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(ms) = v.get("ttl").and_then(Value::as_u64) {
        v["ttl"] = json!(duration(ms));
    }
    v
}

fn apns(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(Value::Object(aps)) = v.get("payload").and_then(|p| p.get("aps")) {
        let aps = hyphenate_aps(aps);
        v["payload"]["aps"] = Value::Object(aps);
    }
    v
}

/// `{"message": …}` for `token`, or the rejection of overrides FCM would refuse.
pub(crate) fn build(token: &str, m: &Message<'_>) -> Result<Value, Attempt> {
    let o = m.overrides;
    let mut msg = Map::new();
    msg.insert("token".into(), json!(token));
    if o.get("type").and_then(Value::as_str) == Some("data") {
        let mut data = Map::new();
        if let Value::Object(payload) = m.payload {
            for (k, v) in payload {
                data.insert(k.clone(), json!(as_string(v)));
            }
        }
        put(&mut data, "title", m.title.map(|t| json!(t)));
        data.insert("body".into(), json!(m.content));
        data.insert("message".into(), json!(m.content));
        msg.insert("data".into(), Value::Object(data));
    } else {
        let mut notification = Map::new();
        put(&mut notification, "title", m.title.map(|t| json!(t)));
        notification.insert("body".into(), json!(m.content));
        for (k, v) in o {
            if !FIELDS.contains(&k.as_str()) {
                notification.insert(k.clone(), v.clone());
            }
        }
        msg.insert("notification".into(), Value::Object(notification));
        match o.get("data") {
            None | Some(Value::Null) => {}
            Some(Value::Object(data)) => {
                if let Some((k, _)) = data.iter().find(|(_, v)| !v.is_string()) {
                    return Err(Attempt::new(
                        Outcome::Rejected,
                        format!("FCM data values must be strings; overrides data.{k} is not"),
                    ));
                }
                msg.insert("data".into(), Value::Object(data.clone()));
            }
            Some(_) => {
                return Err(Attempt::new(
                    Outcome::Rejected,
                    "FCM data must be an object of strings; overrides data is not an object",
                ))
            }
        }
    }
    put(&mut msg, "android", o.get("android").map(android));
    put(&mut msg, "apns", o.get("apns").map(apns));
    put(
        &mut msg,
        "fcm_options",
        o.get("fcmOptions")
            .or_else(|| o.get("fcm_options"))
            .cloned(),
    );
    put(
        &mut msg,
        "webpush",
        o.get("webPush").or_else(|| o.get("webpush")).cloned(),
    );
    Ok(json!({ "message": msg }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg<'a>(
        title: Option<&'a str>,
        payload: &'a Value,
        overrides: &'a Map<String, Value>,
    ) -> Message<'a> {
        Message {
            title,
            content: "Hello",
            payload,
            overrides,
            subscriber: &Value::Null,
            step: &Value::Null,
        }
    }

    #[test]
    fn notification_mode_puts_other_overrides_in_the_notification_and_renames_fields() {
        let payload = json!({"orderId": 42});
        let o = json!({
            "deviceTokens": ["x"], "image": "https://img", "data": {"k": "v"},
            "android": {"ttl": 1500, "priority": "HIGH"},
            "apns": {"payload": {"aps": {"contentAvailable": true, "threadId": "t"}}},
            "fcmOptions": {"analyticsLabel": "l"}, "webPush": {"headers": {"Urgency": "high"}}
        });
        let o = o.as_object().unwrap();
        let body = build("tok", &msg(Some("Hi"), &payload, o)).unwrap();
        assert_eq!(
            body,
            json!({"message": {
                "token": "tok",
                "notification": {"title": "Hi", "body": "Hello", "image": "https://img"},
                "data": {"k": "v"},
                "android": {"ttl": "1.500000000s", "priority": "HIGH"},
                "apns": {"payload": {"aps": {"content-available": 1, "thread-id": "t"}}},
                "fcm_options": {"analyticsLabel": "l"},
                "webpush": {"headers": {"Urgency": "high"}}
            }})
        );
    }

    #[test]
    fn data_mode_stringifies_the_payload_and_adds_title_body_and_message() {
        let payload = json!({"orderId": 42, "name": "Ada", "nested": {"a": [1]}});
        let o = json!({"type": "data", "data": {"ignored": "yes"}, "sound": "x"});
        let body = build("tok", &msg(Some("Hi"), &payload, o.as_object().unwrap())).unwrap();
        assert_eq!(
            body,
            json!({"message": {"token": "tok", "data": {
                "orderId": "42", "name": "Ada", "nested": "{\"a\":[1]}",
                "title": "Hi", "body": "Hello", "message": "Hello"
            }}})
        );
    }

    #[test]
    fn non_string_data_values_are_rejected_before_sending() {
        let o = json!({"data": {"n": 1}});
        let a = build("tok", &msg(None, &Value::Null, o.as_object().unwrap())).unwrap_err();
        assert_eq!(a.outcome, Outcome::Rejected);
        assert_eq!(
            a.detail,
            "FCM data values must be strings; overrides data.n is not"
        );
        assert_eq!(duration(3_600_000), "3600s");
    }
}
