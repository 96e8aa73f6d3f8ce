//! The chat providers with their own APIs — Rocket.Chat, Webex and Sendblue (Telegram and LINE
//! are in `chat_bots`) — against fakes: the exact requests (path, auth, body), where the channel's `channel` and the
//! subscriber's phone go, and the answer classes each documents.

use std::time::Duration;

use base64::Engine;
use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use serde_json::json;

use crate::fake::{Fake, Reply};
use crate::{assert_no_secret, channel, chat_to, obj, providers, providers_at, Msg};

#[tokio::test]
async fn rocket_chat_posts_to_the_servers_send_message_api_with_the_users_token() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(
        200,
        r#"{"success":true,"message":{"_id":"msg-1","ts":"2024"}}"#,
    ));
    let p = providers();
    let integration = obj(json!({"token": "rc-personal-token", "user": "rc-user-id"}));
    let ch = channel(Some("GENERAL"), Some(&fake.url("/chat/")));
    let a = chat_to(
        &p,
        ProviderId::RocketChat,
        &integration,
        &ch,
        None,
        &Msg::text("hello"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("msg-1"));
    let req = fake.take_one();
    assert_eq!(req.path, "/chat/api/v1/chat.sendMessage");
    assert_eq!(req.header("x-auth-token"), Some("rc-personal-token"));
    assert_eq!(req.header("x-user-id"), Some("rc-user-id"));
    assert_eq!(
        req.body_text(),
        r#"{"message":{"rid":"GENERAL","msg":"hello"}}"#
    );
    assert_no_secret(&a, &["rc-personal-token"]);
    let cases = [
        (
            Reply::new(
                401,
                r#"{"status":"error","message":"You must be logged in to do this."}"#,
            ),
            Outcome::CredentialInvalid,
        ),
        (
            Reply::new(
                400,
                r#"{"success":false,"error":"invalid room","errorType":"error-invalid-room"}"#,
            ),
            Outcome::Rejected,
        ),
        (
            Reply::new(200, r#"{"success":false,"error":"nope"}"#),
            Outcome::Rejected,
        ),
        (
            Reply::new(429, "slow").header("retry-after", "4"),
            Outcome::Retry {
                after: Some(Duration::from_secs(4)),
            },
        ),
        (Reply::new(500, "x"), Outcome::Retry { after: None }),
    ];
    for (reply, outcome) in cases {
        fake.reply(reply);
        let a = chat_to(
            &p,
            ProviderId::RocketChat,
            &integration,
            &ch,
            None,
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, outcome, "{}", a.detail);
    }
    let no_room = channel(None, Some(&fake.url("/chat")));
    let a = chat_to(
        &p,
        ProviderId::RocketChat,
        &integration,
        &no_room,
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Rejected);
    assert_eq!(a.detail, "the subscriber's rocket-chat channel has no `channel` credential (the room id the message goes to)");
}

#[tokio::test]
async fn webex_sends_to_a_room_a_person_or_an_email_from_the_channel() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::WebexMessaging, &fake.url(""))]);
    let integration = obj(json!({"token": "webex-bot-token"}));
    let room =
        base64::engine::general_purpose::STANDARD_NO_PAD.encode("ciscospark://us/ROOM/bbcb-1d9a");
    let person =
        base64::engine::general_purpose::STANDARD_NO_PAD.encode("ciscospark://us/PEOPLE/f5b3-1d9a");
    fake.reply(Reply::new(
        200,
        r#"{"id":"msg-9","created":"2024-01-01T00:00:00Z"}"#,
    ));
    let msg = Msg::text("hi").with_overrides(json!({"markdown": "**hi**"}));
    let a = chat_to(
        &p,
        ProviderId::WebexMessaging,
        &integration,
        &channel(Some(&room), None),
        None,
        &msg,
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("msg-9"));
    let req = fake.take_one();
    assert_eq!(req.path, "/v1/messages");
    assert_eq!(req.header("authorization"), Some("Bearer webex-bot-token"));
    assert_eq!(
        req.json(),
        json!({"roomId": room, "text": "hi", "markdown": "**hi**"})
    );
    chat_to(
        &p,
        ProviderId::WebexMessaging,
        &integration,
        &channel(Some(&person), None),
        None,
        &Msg::text("hi"),
    )
    .await;
    assert_eq!(
        fake.take_one().json(),
        json!({"toPersonId": person, "text": "hi"})
    );
    chat_to(
        &p,
        ProviderId::WebexMessaging,
        &integration,
        &channel(Some("ada@example.com"), None),
        None,
        &Msg::text("hi"),
    )
    .await;
    assert_eq!(
        fake.take_one().json(),
        json!({"toPersonEmail": "ada@example.com", "text": "hi"})
    );

    // The integration's baseUrl replaces the default host and its /v1, as upstream Novu allows.
    let own = obj(json!({"token": "t", "baseUrl": fake.url("/webex/v1/")}));
    chat_to(
        &p,
        ProviderId::WebexMessaging,
        &own,
        &channel(Some(&room), None),
        None,
        &Msg::text("hi"),
    )
    .await;
    assert_eq!(fake.take_one().path, "/webex/v1/messages");

    for (status, outcome) in [
        (401, Outcome::CredentialInvalid),
        (403, Outcome::Rejected),
        (404, Outcome::Rejected),
        (400, Outcome::Rejected),
        (
            429,
            Outcome::Retry {
                after: Some(Duration::from_secs(5)),
            },
        ),
        (
            503,
            Outcome::Retry {
                after: Some(Duration::from_secs(5)),
            },
        ),
    ] {
        fake.reply(
            Reply::new(status, r#"{"message":"why","trackingId":"ROUTER_1"}"#)
                .header("retry-after", "5"),
        );
        let a = chat_to(
            &p,
            ProviderId::WebexMessaging,
            &integration,
            &channel(Some(&room), None),
            None,
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, outcome, "{status}");
        assert_eq!(a.detail, format!("Webex answered HTTP {status}: why"));
        assert_no_secret(&a, &["webex-bot-token"]);
    }
}

#[tokio::test]
async fn sendblue_sends_to_the_subscribers_phone_with_its_key_headers() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(
        202,
        r#"{"status":"QUEUED","message_handle":"mh-1","date_created":"2024"}"#,
    ));
    let p = providers_at(&[(ProviderId::Sendblue, &fake.url(""))]);
    let integration =
        obj(json!({"apiKey": "sb-key-id-123", "secretKey": "sb-secret-456", "from": "+15550199"}));
    let ch = channel(None, None);
    let a = chat_to(
        &p,
        ProviderId::Sendblue,
        &integration,
        &ch,
        Some("+15550100"),
        &Msg::text("hi"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("mh-1"));
    let req = fake.take_one();
    assert_eq!(req.path, "/api/send-message");
    assert_eq!(req.header("sb-api-key-id"), Some("sb-key-id-123"));
    assert_eq!(req.header("sb-api-secret-key"), Some("sb-secret-456"));
    assert_eq!(
        req.body_text(),
        r#"{"number":"+15550100","from_number":"+15550199","content":"hi"}"#
    );
    let cases = [
        (
            Reply::new(
                200,
                r#"{"status":"ERROR","error_message":"not an iMessage number","error_code":10001}"#,
            ),
            Outcome::Rejected,
        ),
        (
            Reply::new(401, r#"{"message":"bad keys"}"#),
            Outcome::CredentialInvalid,
        ),
        (
            Reply::new(400, r#"{"message":"bad number"}"#),
            Outcome::Rejected,
        ),
        (
            Reply::new(429, "slow").header("retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"),
            Outcome::Retry {
                after: Some(Duration::ZERO),
            },
        ),
        (Reply::new(500, "x"), Outcome::Retry { after: None }),
    ];
    for (reply, outcome) in cases {
        fake.reply(reply);
        let a = chat_to(
            &p,
            ProviderId::Sendblue,
            &integration,
            &ch,
            Some("+15550100"),
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, outcome, "{}", a.detail);
        assert_no_secret(&a, &["sb-key-id-123", "sb-secret-456"]);
    }
    fake.take_all();
    let a = chat_to(
        &p,
        ProviderId::Sendblue,
        &integration,
        &ch,
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Rejected);
    assert_eq!(a.detail, "Subscriber is missing a phone number");
    assert!(fake.requests().is_empty());
}
