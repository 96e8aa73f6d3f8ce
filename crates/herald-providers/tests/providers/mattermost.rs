//! Mattermost incoming webhooks against a fake: `{text, channel?}`, and the AppError ids.

use std::time::Duration;

use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use serde_json::json;

use crate::fake::{Fake, Reply};
use crate::{providers, send_chat, Msg};

fn app_error(id: &str, status: u16) -> String {
    json!({
        "id": id,
        "message": "Unable to process the webhook.",
        "detailed_error": "",
        "request_id": "req-9",
        "status_code": status
    })
    .to_string()
}

#[tokio::test]
async fn mattermost_posts_text_and_the_channel_and_ignores_overrides() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(200, "ok").header("x-request-id", "abcd1234"));
    let msg = Msg::text("Hello :wave:").with_overrides(json!({"username": "ignored"}));
    let url = fake.url("/hooks/xyz789");
    let a = send_chat(
        &providers(),
        ProviderId::Mattermost,
        &url,
        Some("town-square"),
        &msg,
    )
    .await;
    let req = fake.take_one();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/hooks/xyz789");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.body_text(),
        r#"{"text":"Hello :wave:","channel":"town-square"}"#
    );
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("abcd1234"));

    send_chat(&providers(), ProviderId::Mattermost, &url, None, &msg).await;
    assert_eq!(fake.take_one().body_text(), r#"{"text":"Hello :wave:"}"#);
}

#[tokio::test]
async fn mattermost_app_errors_fall_into_their_classes() {
    let fake = Fake::start().await;
    let p = providers();
    let cases = [
        (
            400,
            "web.incoming_webhook.invalid.app_error",
            Outcome::TokenDead,
        ),
        (
            404,
            "app.channel.get.existing.app_error",
            Outcome::TokenDead,
        ),
        (
            403,
            "web.incoming_webhook.user.app_error",
            Outcome::TokenDead,
        ),
        (
            400,
            "web.incoming_webhook.user.app_error",
            Outcome::Rejected,
        ),
        (
            501,
            "web.incoming_webhook.disabled.app_error",
            Outcome::Rejected,
        ),
        (
            404,
            "web.incoming_webhook.channel.app_error",
            Outcome::Rejected,
        ),
        (
            403,
            "web.incoming_webhook.channel_locked.app_error",
            Outcome::Rejected,
        ),
        (
            403,
            "web.incoming_webhook.permissions.app_error",
            Outcome::Rejected,
        ),
        (
            400,
            "web.incoming_webhook.text.app_error",
            Outcome::Rejected,
        ),
        (
            400,
            "web.incoming_webhook.parse.app_error",
            Outcome::Rejected,
        ),
        (400, "api.webhook.incoming.error", Outcome::Rejected),
        (
            500,
            "app.post.create_post.app_error",
            Outcome::Retry { after: None },
        ),
    ];
    for (status, id, outcome) in cases {
        fake.reply(Reply::new(status, app_error(id, status)));
        let a = send_chat(
            &p,
            ProviderId::Mattermost,
            &fake.url("/hooks/x"),
            Some("c"),
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, outcome, "{status} {id}");
        assert_eq!(a.http_status, Some(status));
        assert_eq!(a.provider_code.as_deref(), Some(id));
        assert_eq!(
            a.detail,
            format!("Mattermost answered HTTP {status}: Unable to process the webhook. ({id})")
        );
    }
}

#[tokio::test]
async fn mattermost_rate_limits_and_proxies_errors_are_retried() {
    let fake = Fake::start().await;
    let p = providers();
    fake.reply(Reply::new(429, "limit exceeded").header("retry-after", "1"));
    let a = send_chat(
        &p,
        ProviderId::Mattermost,
        &fake.url("/hooks/x"),
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(
        a.outcome,
        Outcome::Retry {
            after: Some(Duration::from_secs(1))
        }
    );
    assert_eq!(a.provider_code, None);
    fake.reply(Reply::new(502, "<html>Bad Gateway</html>"));
    let a = send_chat(
        &p,
        ProviderId::Mattermost,
        &fake.url("/hooks/x"),
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Retry { after: None });
}
