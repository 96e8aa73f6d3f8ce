//! Discord webhooks against a fake: `?wait=true`, the body, the message id, and the JSON codes.

use std::time::Duration;

use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use serde_json::json;

use crate::fake::{Fake, Reply};
use crate::{assert_no_secret, providers, send_chat, Msg};

fn error(code: u32, message: &str) -> String {
    json!({"message": message, "code": code}).to_string()
}

#[tokio::test]
async fn discord_posts_content_and_custom_data_with_wait_and_records_the_message_id() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(
        200,
        r#"{"id":"1219000000000000001","timestamp":"2024-03-18T10:00:00.000000+00:00","content":"Deploy done"}"#,
    ));
    let msg = Msg::text("Deploy done").with_overrides(json!({
        "embeds": [{"title": "v1.2", "color": 5814783}],
        "username": "Herald"
    }));
    let url = fake.url("/api/webhooks/123/tok-secret");
    let a = send_chat(&providers(), ProviderId::Discord, &url, None, &msg).await;

    let req = fake.take_one();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/api/webhooks/123/tok-secret");
    assert_eq!(req.query.as_deref(), Some("wait=true"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.body_text(),
        r#"{"content":"Deploy done","embeds":[{"title":"v1.2","color":5814783}],"username":"Herald"}"#
    );
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.http_status, Some(200));
    assert_eq!(
        a.provider_message_id.as_deref(),
        Some("1219000000000000001")
    );
}

#[tokio::test]
async fn discord_wait_replaces_an_existing_wait_and_keeps_other_parameters() {
    let fake = Fake::start().await;
    let url = fake.url("/api/webhooks/1/t?thread_id=99&wait=false&wait=0");
    send_chat(
        &providers(),
        ProviderId::Discord,
        &url,
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(
        fake.take_one().query.as_deref(),
        Some("thread_id=99&wait=true")
    );
}

#[tokio::test]
async fn discord_unknown_webhooks_and_bad_tokens_are_token_dead() {
    let fake = Fake::start().await;
    let p = providers();
    let url = fake.url("/api/webhooks/123/tok-secret");
    for (status, code, message) in [
        (404, 10015, "Unknown Webhook"),
        (404, 10003, "Unknown Channel"),
        (401, 50027, "Invalid Webhook Token"),
    ] {
        fake.reply(Reply::new(status, error(code, message)));
        let a = send_chat(&p, ProviderId::Discord, &url, None, &Msg::text("x")).await;
        assert_eq!(a.outcome, Outcome::TokenDead, "{code}");
        assert_eq!(a.provider_code, Some(code.to_string()));
        assert_eq!(
            a.detail,
            format!("Discord answered HTTP {status}: {message} (code {code}); the webhook no longer works")
        );
        assert_no_secret(&a, &["tok-secret"]);
    }
}

#[tokio::test]
async fn discord_invalid_messages_and_blocked_webhooks_are_rejected() {
    let fake = Fake::start().await;
    let p = providers();
    for (status, code) in [
        (400, 50006),
        (400, 50035),
        (400, 50109),
        (413, 40005),
        (403, 50013),
        (403, 50001),
    ] {
        fake.reply(Reply::new(status, error(code, "no")));
        let a = send_chat(
            &p,
            ProviderId::Discord,
            &fake.url("/w"),
            None,
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, Outcome::Rejected, "{code}");
        assert_eq!(a.provider_code, Some(code.to_string()));
    }
    // A 413 from a proxy in front of Discord has no JSON.
    fake.reply(Reply::new(413, "Request Entity Too Large"));
    let a = send_chat(
        &p,
        ProviderId::Discord,
        &fake.url("/w"),
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Rejected);
    assert_eq!(a.provider_code, None);
}

#[tokio::test]
async fn discord_rate_limits_wait_for_the_float_retry_after_of_the_body() {
    let fake = Fake::start().await;
    let p = providers();
    fake.reply(
        Reply::new(
            429,
            r#"{"message":"You are being rate limited.","retry_after":1.5,"global":false}"#,
        )
        .header("retry-after", "2")
        .header("x-ratelimit-scope", "user"),
    );
    let a = send_chat(
        &p,
        ProviderId::Discord,
        &fake.url("/w"),
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(
        a.outcome,
        Outcome::Retry {
            after: Some(Duration::from_millis(1500))
        }
    );
    assert_eq!(a.http_status, Some(429));

    fake.reply(Reply::new(
        429,
        r#"{"message":"global","retry_after":0.25,"global":true}"#,
    ));
    let a = send_chat(
        &p,
        ProviderId::Discord,
        &fake.url("/w"),
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(
        a.outcome,
        Outcome::Retry {
            after: Some(Duration::from_millis(250))
        }
    );
    assert!(a.detail.ends_with("; global rate limit"), "{}", a.detail);

    // Without a body, the headers say how long.
    fake.reply(Reply::new(429, "").header("x-ratelimit-reset-after", "3.5"));
    let a = send_chat(
        &p,
        ProviderId::Discord,
        &fake.url("/w"),
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(
        a.outcome,
        Outcome::Retry {
            after: Some(Duration::from_millis(3500))
        }
    );
}

#[tokio::test]
async fn discord_server_errors_are_retried() {
    let fake = Fake::start().await;
    let p = providers();
    for status in [500, 502, 503, 504] {
        fake.reply(Reply::new(status, "upstream"));
        let a = send_chat(
            &p,
            ProviderId::Discord,
            &fake.url("/w"),
            None,
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, Outcome::Retry { after: None }, "{status}");
    }
}
