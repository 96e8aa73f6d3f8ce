//! The chat providers that post to the subscriber's webhook URL — Ryver, Zulip, Grafana OnCall,
//! GetStream and Chat Webhook — against a fake: the exact bodies Novu sends and the answer
//! classes each documents.

use std::time::Duration;

use herald_core::delivery::Outcome;
use herald_core::{ChannelCredentials, ProviderId};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use crate::fake::{Fake, Reply};
use crate::{assert_no_secret, channel, chat_to, obj, providers, send_chat, Msg};

fn shared_classes() -> Vec<(u16, Option<&'static str>, Outcome)> {
    vec![
        (500, None, Outcome::Retry { after: None }),
        (
            429,
            Some("9"),
            Outcome::Retry {
                after: Some(Duration::from_secs(9)),
            },
        ),
        (408, None, Outcome::Retry { after: None }),
        (400, None, Outcome::Rejected),
        (404, None, Outcome::Rejected),
    ]
}

#[tokio::test]
async fn ryver_posts_the_content_and_answers_fall_into_the_shared_classes() {
    let fake = Fake::start().await;
    let p = providers();
    let hook = fake.url("/application/webhook/abc123secret");
    let a = send_chat(
        &p,
        ProviderId::Ryver,
        &hook,
        None,
        &Msg::text("Deploy done"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    let req = fake.take_one();
    assert_eq!(req.path, "/application/webhook/abc123secret");
    assert_eq!(req.body_text(), r#"{"content":"Deploy done"}"#);
    assert_no_secret(&a, &["abc123secret"]);
    for (status, retry_after, outcome) in shared_classes() {
        let mut reply = Reply::new(status, "nope");
        if let Some(v) = retry_after {
            reply = reply.header("retry-after", v);
        }
        fake.reply(reply);
        let a = send_chat(&p, ProviderId::Ryver, &hook, None, &Msg::text("x")).await;
        assert_eq!(a.outcome, outcome, "{status}");
        assert_eq!(a.detail, format!("Ryver answered HTTP {status}: nope"));
    }
}

#[tokio::test]
async fn zulip_posts_text_and_reads_its_error_codes() {
    let fake = Fake::start().await;
    let p = providers();
    let hook = fake.url("/api/v1/external/slack_incoming?api_key=zulip-bot-key&stream=ops");
    fake.reply(Reply::new(200, r#"{"result":"success","msg":""}"#));
    let a = send_chat(
        &p,
        ProviderId::Zulip,
        &hook,
        None,
        &Msg::text("Deploy done"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    let req = fake.take_one();
    assert_eq!(
        req.query.as_deref(),
        Some("api_key=zulip-bot-key&stream=ops")
    );
    assert_eq!(req.body_text(), r#"{"text":"Deploy done"}"#);
    let err = |status: u16, code: &str| {
        Reply::new(
            status,
            json!({"result": "error", "msg": format!("{code} msg"), "code": code}).to_string(),
        )
    };
    let cases = [
        (err(401, "INVALID_API_KEY"), Outcome::TokenDead),
        (err(400, "USER_DEACTIVATED"), Outcome::TokenDead),
        (err(400, "BAD_REQUEST"), Outcome::Rejected),
        (
            Reply::new(
                429,
                r#"{"result":"error","msg":"API usage exceeded rate limit","code":"RATE_LIMIT_HIT","retry-after":28.5}"#,
            ),
            Outcome::Retry {
                after: Some(Duration::from_millis(28_500)),
            },
        ),
        (
            Reply::new(502, "bad gateway"),
            Outcome::Retry { after: None },
        ),
    ];
    for (reply, outcome) in cases {
        fake.reply(reply);
        let a = send_chat(&p, ProviderId::Zulip, &hook, None, &Msg::text("x")).await;
        assert_eq!(a.outcome, outcome, "{}", a.detail);
        assert_no_secret(&a, &["zulip-bot-key"]);
    }
    fake.reply(err(401, "INVALID_API_KEY"));
    let a = send_chat(&p, ProviderId::Zulip, &hook, None, &Msg::text("x")).await;
    assert_eq!(
        a.detail,
        "Zulip answered HTTP 401: INVALID_API_KEY msg (INVALID_API_KEY)"
    );
    assert_eq!(a.provider_code.as_deref(), Some("INVALID_API_KEY"));
}

#[tokio::test]
async fn grafana_on_call_sends_the_alert_fields_channel_first_then_integration() {
    let fake = Fake::start().await;
    let p = providers();
    let integration = obj(json!({
        "alertUid": "int-uid", "title": "Integration title", "imageUrl": "https://img/int.png",
        "state": "alerting", "externalLink": "https://mon/int"
    }));
    let credentials = ChannelCredentials {
        webhook_url: Some(fake.url("/integrations/v1/formatted_webhook/tok123/")),
        title: Some("Channel title".into()),
        external_url: Some("https://mon/channel".into()),
        ..ChannelCredentials::default()
    };
    let a = chat_to(
        &p,
        ProviderId::GrafanaOnCall,
        &integration,
        &credentials,
        None,
        &Msg::text("CPU high"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(
        fake.take_one().body_text(),
        concat!(
            r#"{"alert_uid":"int-uid","title":"Channel title","image_url":"https://img/int.png","state":"alerting","#,
            r#""link_to_upstream_details":"https://mon/channel","message":"CPU high"}"#
        )
    );
    let bare = channel(None, Some(&fake.url("/h")));
    chat_to(
        &p,
        ProviderId::GrafanaOnCall,
        &obj(json!({})),
        &bare,
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(fake.take_one().body_text(), r#"{"message":"x"}"#);
    for (status, retry_after, outcome) in shared_classes() {
        let mut reply = Reply::new(status, "no");
        if let Some(v) = retry_after {
            reply = reply.header("retry-after", v);
        }
        fake.reply(reply);
        let a = chat_to(
            &p,
            ProviderId::GrafanaOnCall,
            &obj(json!({})),
            &bare,
            None,
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, outcome, "{status}");
    }
}

#[tokio::test]
async fn getstream_sends_the_key_in_novus_body_and_as_a_header() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(200, "").header("x-webhook-id", "wh-1"));
    let p = providers();
    let integration = obj(json!({"apiKey": "stream-api-key-1"}));
    let ch = channel(None, Some(&fake.url("/hook")));
    let a = chat_to(
        &p,
        ProviderId::GetStream,
        &integration,
        &ch,
        None,
        &Msg::text("hi"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("wh-1"));
    let req = fake.take_one();
    assert_eq!(
        req.body_text(),
        r#"{"text":"hi","headers":{"X-API-KEY":"stream-api-key-1"}}"#
    );
    assert_eq!(req.header("x-api-key"), Some("stream-api-key-1"));
    fake.reply(Reply::new(401, "bad key stream-api-key-1"));
    let a = chat_to(
        &p,
        ProviderId::GetStream,
        &integration,
        &ch,
        None,
        &Msg::text("hi"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Rejected);
    assert_eq!(a.detail, "GetStream answered HTTP 401: bad key …");
    fake.reply(Reply::new(503, ""));
    let a = chat_to(
        &p,
        ProviderId::GetStream,
        &integration,
        &ch,
        None,
        &Msg::text("hi"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Retry { after: None });
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn chat_webhook_signs_the_exact_body_when_a_key_is_set() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(200, r#"{"id":"m-1"}"#));
    let p = providers();
    let hook = fake.url("/in/chat");
    let credentials = channel(Some("general"), Some(&hook));
    let integration = obj(json!({"secretKey": "chat-hmac-key"}));
    let msg = Msg::text("hello").with_overrides(json!({"card": {"title": "T"}}));
    let a = chat_to(
        &p,
        ProviderId::ChatWebhook,
        &integration,
        &credentials,
        Some("+15550100"),
        &msg,
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("m-1"));
    let req = fake.take_one();
    assert_eq!(
        req.body_text(),
        format!(
            r#"{{"content":"hello","webhookUrl":"{hook}","channel":"general","phoneNumber":"+15550100","card":{{"title":"T"}}}}"#
        )
    );
    assert_eq!(
        req.header("x-novu-signature"),
        Some(hmac_hex("chat-hmac-key", &req.body).as_str())
    );

    // The overrides' key wins and leaves the body; without any key nothing is signed.
    let msg = Msg::text("x").with_overrides(json!({"hmacSecretKey": "per-send-key"}));
    chat_to(
        &p,
        ProviderId::ChatWebhook,
        &integration,
        &credentials,
        None,
        &msg,
    )
    .await;
    let req = fake.take_one();
    assert!(!req.body_text().contains("per-send-key"));
    assert_eq!(
        req.header("x-novu-signature"),
        Some(hmac_hex("per-send-key", &req.body).as_str())
    );
    chat_to(
        &p,
        ProviderId::ChatWebhook,
        &obj(json!({})),
        &credentials,
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(fake.take_one().header("x-novu-signature"), None);

    for (status, retry_after, outcome) in shared_classes() {
        let mut reply = Reply::new(status, "no");
        if let Some(v) = retry_after {
            reply = reply.header("retry-after", v);
        }
        fake.reply(reply);
        let a = chat_to(
            &p,
            ProviderId::ChatWebhook,
            &integration,
            &credentials,
            None,
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, outcome, "{status}");
    }
}

#[tokio::test]
async fn a_chat_webhook_override_url_goes_through_the_outbound_policy_before_signing() {
    let p = crate::providers_with(&[], &[]);
    let credentials = channel(None, Some("https://hooks.example.com/in"));
    let msg = Msg::text("x").with_overrides(json!({"webhookUrl": "http://169.254.169.254/latest"}));
    let a = chat_to(
        &p,
        ProviderId::ChatWebhook,
        &obj(json!({"secretKey": "k"})),
        &credentials,
        None,
        &msg,
    )
    .await;
    assert_eq!(a.outcome, Outcome::Rejected);
    assert!(
        a.detail
            .starts_with("destination refused by the outbound policy: 169.254.169.254"),
        "{}",
        a.detail
    );
}
