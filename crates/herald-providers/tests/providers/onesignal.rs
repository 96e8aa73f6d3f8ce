//! OneSignal against a fake: the exact request, the idempotency key kept across retries of one
//! delivery, and the answer classes, including the 200s that sent nothing.

use std::time::Duration;

use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use serde_json::{json, Map, Value};

use crate::fake::{Fake, Reply};
use crate::{assert_no_secret, obj, providers_at, push_to, Msg};

const APP: &str = "5eb5a37e-b458-11e3-ac11-000c2940e62c";

fn integration(key: &str) -> Map<String, Value> {
    obj(json!({"applicationId": APP, "apiKey": key}))
}

fn message() -> Msg {
    let mut msg = Msg::text("Your order shipped").with_overrides(json!({
        "sound": "ping.wav", "subtitle": "Today", "icon": "ic_order", "channelId": "orders", "categoryId": "cat"
    }));
    msg.title = Some("Order 42".into());
    msg.payload = json!({"orderId": 42});
    msg
}

#[tokio::test]
async fn onesignal_sends_novus_fields_with_a_stable_idempotency_key() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(
        200,
        r#"{"id":"b98881cc-1e94-4366-bbd9-db8f3429292b","external_id":null}"#,
    ));
    let p = providers_at(&[(ProviderId::OneSignal, &fake.url(""))]);
    let sub = "1dd608f2-c6a1-11e3-851d-000c2940e62c";
    let a = push_to(
        &p,
        ProviderId::OneSignal,
        &integration("os_v2_app_secretkey"),
        sub,
        &message(),
        "65f1c0ffee0123456789abcd",
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(
        a.provider_message_id.as_deref(),
        Some("b98881cc-1e94-4366-bbd9-db8f3429292b")
    );
    let req = fake.take_one();
    assert_eq!(req.path, "/notifications");
    assert_eq!(req.query.as_deref(), Some("c=push"));
    assert_eq!(req.header("authorization"), Some("Key os_v2_app_secretkey"));
    let body = req.json();
    let key = body["idempotency_key"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 36);
    assert_eq!(
        body,
        json!({
            "app_id": APP, "target_channel": "push", "include_subscription_ids": [sub],
            "headings": {"en": "Order 42"}, "contents": {"en": "Your order shipped"}, "subtitle": {"en": "Today"},
            "data": {"orderId": 42}, "ios_badgeType": "Increase", "ios_badgeCount": 1,
            "ios_sound": "ping.wav", "android_sound": "ping.wav", "android_channel_id": "orders",
            "small_icon": "ic_order", "large_icon": "ic_order", "chrome_icon": "ic_order", "firefox_icon": "ic_order",
            "ios_category": "cat", "idempotency_key": key
        })
    );
    assert_no_secret(&a, &["os_v2_app_secretkey", sub]);

    // A retry of the same delivery carries the same key; another delivery another one; a legacy
    // key authenticates with Basic.
    fake.reply(Reply::new(503, "down"));
    push_to(
        &p,
        ProviderId::OneSignal,
        &integration("legacy-rest-key"),
        sub,
        &message(),
        "65f1c0ffee0123456789abcd",
    )
    .await;
    push_to(
        &p,
        ProviderId::OneSignal,
        &integration("legacy-rest-key"),
        sub,
        &message(),
        "65f1c0ffee0123456789abce",
    )
    .await;
    let sent = fake.take_all();
    assert_eq!(sent[0].json()["idempotency_key"], json!(key));
    assert_ne!(sent[1].json()["idempotency_key"], json!(key));
    assert_eq!(
        sent[0].header("authorization"),
        Some("Basic legacy-rest-key")
    );
}

#[tokio::test]
async fn onesignal_answers_fall_into_their_classes() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::OneSignal, &fake.url(""))]);
    let cases = [
        (
            Reply::new(
                200,
                r#"{"id":"","errors":{"invalid_player_ids":["sub-1"]}}"#,
            ),
            Outcome::TokenDead,
            Some("invalid_player_ids"),
        ),
        (
            Reply::new(
                200,
                r#"{"id":"","errors":{"invalid_aliases":{"external_id":["sub-1"]}}}"#,
            ),
            Outcome::TokenDead,
            Some("invalid_aliases"),
        ),
        (
            Reply::new(
                200,
                r#"{"id":"","errors":["All included players are not subscribed"]}"#,
            ),
            Outcome::Rejected,
            Some("not_subscribed"),
        ),
        (
            Reply::new(
                400,
                r#"{"errors":["app_id not found. You may be missing a Content-Type: application/json header."]}"#,
            ),
            Outcome::CredentialInvalid,
            None,
        ),
        (
            Reply::new(
                403,
                r#"{"errors":["Access denied.  Please include an 'Authorization: ...' header with a valid API key"]}"#,
            ),
            Outcome::CredentialInvalid,
            None,
        ),
        (
            Reply::new(
                400,
                r#"{"errors":["Message Notifications must have English language content"]}"#,
            ),
            Outcome::Rejected,
            None,
        ),
        (
            Reply::new(429, r#"{"errors":["API rate limit exceeded."]}"#)
                .header("retry-after", "12"),
            Outcome::Retry {
                after: Some(Duration::from_secs(12)),
            },
            None,
        ),
        (
            Reply::new(500, "oops"),
            Outcome::Retry { after: None },
            None,
        ),
    ];
    for (reply, outcome, code) in cases {
        let body = reply.body.clone();
        fake.reply(reply);
        let a = push_to(
            &p,
            ProviderId::OneSignal,
            &integration("k"),
            "sub-1",
            &message(),
            "k",
        )
        .await;
        assert_eq!(a.outcome, outcome, "{body}");
        assert_eq!(a.provider_code.as_deref(), code, "{body}");
    }
    fake.reply(Reply::new(
        200,
        r#"{"id":"","errors":["All included players are not subscribed"]}"#,
    ));
    let a = push_to(
        &p,
        ProviderId::OneSignal,
        &integration("k"),
        "sub-1",
        &message(),
        "k",
    )
    .await;
    assert_eq!(
        a.detail,
        "OneSignal answered HTTP 200: All included players are not subscribed"
    );
}
