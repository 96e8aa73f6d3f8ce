//! Push Webhook against a fake: one signed request per token to the integration's URL, the exact
//! body Novu sends, the signature over the exact bytes, and the answer classes.

use std::time::Duration;

use herald_core::delivery::{Attempt, Outcome};
use herald_core::ProviderId;
use herald_providers::{Providers, SendRequest, Target};
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::fake::{Fake, Reply};
use crate::{assert_no_secret, providers, Msg};

const SECRET: &str = "hmac-secret-key-123";

fn integration(url: &str) -> Map<String, Value> {
    json!({"webhookUrl": url, "secretKey": SECRET})
        .as_object()
        .unwrap()
        .clone()
}

async fn push(p: &Providers, integration: &Map<String, Value>, token: &str, msg: &Msg) -> Attempt {
    let message = msg.message();
    p.send(&SendRequest {
        provider: ProviderId::PushWebhook,
        integration,
        target: Target::Push { token },
        message: &message,
        idempotency_key: "65f1c0ffee0123456789abcd",
    })
    .await
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn message() -> Msg {
    let mut msg = Msg::text("Your order shipped").with_overrides(json!({"sound": "default"}));
    msg.title = Some("Order 42".into());
    msg.payload = json!({"orderId": 42, "subscriber": "shadowed"});
    msg.subscriber = json!({"subscriberId": "sub-1", "firstName": "Ada"});
    msg.step = json!({"digest": false, "events": [], "total_count": 0});
    msg
}

#[tokio::test]
async fn push_webhook_signs_the_exact_body_and_posts_it_to_the_integration_url() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(200, r#"{"id":"evt_1"}"#));
    let integration = integration(&fake.url("/novu/push"));
    let a = push(
        &providers(),
        &integration,
        "device-token-abcdef",
        &message(),
    )
    .await;

    let req = fake.take_one();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/novu/push");
    assert_eq!(req.query, None);
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.body_text(),
        concat!(
            r#"{"target":["device-token-abcdef"],"title":"Order 42","content":"Your order shipped","#,
            r#""overrides":{"sound":"default"},"payload":{"orderId":42,"subscriber":{"subscriberId":"sub-1","firstName":"Ada"},"#,
            r#""step":{"digest":false,"events":[],"total_count":0}}}"#
        )
    );
    assert_eq!(
        req.header("x-novu-signature"),
        Some(hmac_hex(SECRET, &req.body).as_str())
    );
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("evt_1"));
    assert_no_secret(&a, &[SECRET, "device-token-abcdef"]);
}

#[tokio::test]
async fn push_webhook_sends_no_title_key_without_a_title_and_empty_overrides_as_an_object() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(204, ""));
    let integration = integration(&fake.url("/p"));
    let a = push(&providers(), &integration, "tok-1", &Msg::text("hi")).await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id, None);
    assert_eq!(
        fake.take_one().body_text(),
        r#"{"target":["tok-1"],"content":"hi","overrides":{},"payload":{"subscriber":{"subscriberId":"sub-1"},"step":{"digest":false,"events":[],"total_count":0}}}"#
    );
}

#[tokio::test]
async fn push_webhook_without_url_or_secret_key_is_an_invalid_config_and_sends_nothing() {
    let fake = Fake::start().await;
    let p = providers();
    let url = fake.url("/p");
    for integration in [
        json!({"secretKey": SECRET}),
        json!({"webhookUrl": url}),
        json!({"webhookUrl": url, "secretKey": ""}),
        json!({"webhookUrl": "  ", "secretKey": SECRET}),
        json!({"webhookUrl": url, "secretKey": 7}),
        json!({}),
    ] {
        let a = push(&p, integration.as_object().unwrap(), "tok", &Msg::text("x")).await;
        assert_eq!(a.outcome, Outcome::CredentialInvalid, "{integration}");
        assert_eq!(a.detail, "Config is not valid for push-webhook provider");
    }
    let a = push(&p, &integration("not a url"), "tok", &Msg::text("x")).await;
    assert_eq!(a.outcome, Outcome::CredentialInvalid);
    assert_eq!(
        a.detail,
        "the push-webhook integration's webhookUrl is not a valid URL (relative URL without a base)"
    );
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn push_webhook_answers_fall_into_the_shared_classes() {
    let fake = Fake::start().await;
    let p = providers();
    let integration = integration(&fake.url("/p"));
    let cases = [
        (500, None, Outcome::Retry { after: None }),
        (
            503,
            Some("120"),
            Outcome::Retry {
                after: Some(Duration::from_secs(120)),
            },
        ),
        (
            429,
            Some("5"),
            Outcome::Retry {
                after: Some(Duration::from_secs(5)),
            },
        ),
        (408, None, Outcome::Retry { after: None }),
        (400, None, Outcome::Rejected),
        (401, None, Outcome::Rejected),
        (404, None, Outcome::Rejected),
    ];
    for (status, retry_after, outcome) in cases {
        let mut reply = Reply::new(status, r#"{"error":"nope"}"#);
        if let Some(v) = retry_after {
            reply = reply.header("retry-after", v);
        }
        fake.reply(reply);
        let a = push(&p, &integration, "tok-123456789", &Msg::text("x")).await;
        assert_eq!(a.outcome, outcome, "{status}");
        assert_eq!(a.http_status, Some(status));
        assert_eq!(
            a.detail,
            format!("the push webhook answered HTTP {status}: {{\"error\":\"nope\"}}")
        );
    }
}

#[tokio::test]
async fn a_receiver_echoing_the_token_and_key_back_has_them_cut_from_the_detail() {
    let fake = Fake::start().await;
    let p = providers();
    let integration = integration(&fake.url("/p/route-secret"));
    fake.reply(Reply::new(
        400,
        format!("bad token device-token-abcdef signed with {SECRET} at /p/route-secret"),
    ));
    let a = push(&p, &integration, "device-token-abcdef", &Msg::text("x")).await;
    assert_eq!(a.outcome, Outcome::Rejected);
    assert_eq!(
        a.detail,
        "the push webhook answered HTTP 400: bad token … signed with … at …"
    );
}
