//! Slack incoming webhooks against a fake: the exact request, and each answer class of the spec
//! (body string first, status second).

use std::time::Duration;

use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use serde_json::json;

use crate::fake::{Fake, Reply};
use crate::{assert_no_secret, providers, send_chat, Msg};

#[tokio::test]
async fn slack_posts_the_text_with_custom_data_spread_over_it() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(200, "ok").header("x-slack-req-id", "req-42"));
    let msg = Msg::text("Hello <b>world</b>").with_overrides(json!({
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hi*"}}],
        "username": "herald"
    }));
    let url = fake.url("/services/T000/B000/XXXX");
    let a = send_chat(&providers(), ProviderId::Slack, &url, None, &msg).await;

    let req = fake.take_one();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/services/T000/B000/XXXX");
    assert_eq!(req.query, None);
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.body_text(),
        r#"{"text":"Hello <b>world</b>","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"*Hi*"}}],"username":"herald"}"#
    );
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.http_status, Some(200));
    assert_eq!(a.provider_message_id.as_deref(), Some("req-42"));
    assert_eq!(a.detail, "Slack accepted the message (HTTP 200)");
}

#[tokio::test]
async fn slack_custom_data_can_replace_the_text_in_place() {
    let fake = Fake::start().await;
    let msg = Msg::text("rendered").with_overrides(json!({"mrkdwn": false, "text": "override"}));
    send_chat(&providers(), ProviderId::Slack, &fake.url("/h"), None, &msg).await;
    assert_eq!(
        fake.take_one().body_text(),
        r#"{"text":"override","mrkdwn":false}"#
    );
}

#[tokio::test]
async fn slack_codes_of_a_dead_webhook_are_token_dead() {
    let fake = Fake::start().await;
    let p = providers();
    let url = fake.url("/services/T1/B1/deadsecret");
    for (status, code) in [
        (404, "no_service"),
        (404, "no_active_hooks"),
        (403, "invalid_token"),
        (404, "no_team"),
        (403, "team_disabled"),
        (404, "channel_not_found"),
        (410, "channel_is_archived"),
    ] {
        fake.reply(Reply::new(status, code));
        let a = send_chat(&p, ProviderId::Slack, &url, None, &Msg::text("x")).await;
        assert_eq!(a.outcome, Outcome::TokenDead, "{code}");
        assert_eq!(a.http_status, Some(status));
        assert_eq!(a.provider_code.as_deref(), Some(code));
        assert_eq!(
            a.detail,
            format!("Slack answered HTTP {status}: {code}; the webhook no longer works")
        );
        assert_no_secret(&a, &["deadsecret"]);
    }
}

#[tokio::test]
async fn slack_payload_errors_and_policy_blocks_are_rejected_without_retry() {
    let fake = Fake::start().await;
    let p = providers();
    for (status, code) in [
        (400, "invalid_payload"),
        (400, "user_not_found"),
        (400, "too_many_attachments"),
        (400, "no_text"),
        (400, "no_service_id"),
        (403, "action_prohibited"),
        (403, "posting_to_general_channel_denied"),
    ] {
        fake.reply(Reply::new(status, code));
        let a = send_chat(
            &p,
            ProviderId::Slack,
            &fake.url("/h"),
            None,
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, Outcome::Rejected, "{code}");
        assert_eq!(a.provider_code.as_deref(), Some(code));
    }
    // The body decides before the status: a dead-webhook code on a 500 is still dead.
    fake.reply(Reply::new(500, "no_service"));
    let a = send_chat(
        &p,
        ProviderId::Slack,
        &fake.url("/h"),
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::TokenDead);
}

#[tokio::test]
async fn slack_rate_limits_and_server_errors_are_retried_honouring_retry_after() {
    let fake = Fake::start().await;
    let p = providers();
    fake.reply(Reply::new(429, "rate_limited").header("retry-after", "30"));
    let a = send_chat(
        &p,
        ProviderId::Slack,
        &fake.url("/h"),
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(
        a.outcome,
        Outcome::Retry {
            after: Some(Duration::from_secs(30))
        }
    );
    assert_eq!(a.http_status, Some(429));

    fake.reply(Reply::new(500, "rollup_error"));
    let a = send_chat(
        &p,
        ProviderId::Slack,
        &fake.url("/h"),
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Retry { after: None });
    assert_eq!(a.provider_code.as_deref(), Some("rollup_error"));

    fake.reply(Reply::new(503, "<html>Service Unavailable</html>"));
    let a = send_chat(
        &p,
        ProviderId::Slack,
        &fake.url("/h"),
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Retry { after: None });
    assert_eq!(a.provider_code, None, "an HTML page is not a Slack code");
    assert_eq!(
        a.detail,
        "Slack answered HTTP 503: <html>Service Unavailable</html>"
    );

    fake.reply(Reply::new(408, ""));
    let a = send_chat(
        &p,
        ProviderId::Slack,
        &fake.url("/h"),
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Retry { after: None });
}
