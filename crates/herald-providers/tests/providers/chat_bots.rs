//! The bot APIs among the chat providers — Telegram and LINE — against fakes: the token in the
//! path or header, the chat id from the channel's `channel`, LINE's retry key, and the answer
//! classes each documents.

use std::time::Duration;

use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use serde_json::json;

use crate::fake::{Fake, Reply};
use crate::{assert_no_secret, channel, chat_to, obj, providers_at, Msg};

#[tokio::test]
async fn telegram_sends_to_the_chat_with_the_bot_token_in_the_path() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(
        200,
        r#"{"ok":true,"result":{"message_id":77,"date":1700000000}}"#,
    ));
    let p = providers_at(&[(ProviderId::Telegram, &fake.url(""))]);
    let integration = obj(json!({"apiToken": "123456:ABC-DEF_bot-token"}));
    let ch = channel(Some("-1001234567890"), None);
    let msg = Msg::text("*bold*").with_overrides(json!({"parse_mode": "MarkdownV2"}));
    let a = chat_to(&p, ProviderId::Telegram, &integration, &ch, None, &msg).await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("77"));
    let req = fake.take_one();
    assert_eq!(req.path, "/bot123456:ABC-DEF_bot-token/sendMessage");
    assert_eq!(
        req.body_text(),
        r#"{"chat_id":-1001234567890,"text":"*bold*","parse_mode":"MarkdownV2"}"#
    );
    let err = |status: u16, description: &str| {
        Reply::new(
            status,
            json!({"ok": false, "error_code": status, "description": description}).to_string(),
        )
    };
    let cases = [
        (err(401, "Unauthorized"), Outcome::CredentialInvalid),
        (err(400, "Bad Request: chat not found"), Outcome::TokenDead),
        (
            err(403, "Forbidden: user is deactivated"),
            Outcome::TokenDead,
        ),
        (
            err(403, "Forbidden: bot was kicked from the group chat"),
            Outcome::TokenDead,
        ),
        (
            err(403, "Forbidden: bot was blocked by the user"),
            Outcome::Rejected,
        ),
        (
            err(400, "Bad Request: message text is empty"),
            Outcome::Rejected,
        ),
        (
            Reply::new(
                400,
                r#"{"ok":false,"error_code":400,"description":"Bad Request: group chat was upgraded to a supergroup chat","parameters":{"migrate_to_chat_id":-1009}}"#,
            ),
            Outcome::TokenDead,
        ),
        (
            Reply::new(
                429,
                r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 35","parameters":{"retry_after":35}}"#,
            ),
            Outcome::Retry {
                after: Some(Duration::from_secs(35)),
            },
        ),
        (
            Reply::new(502, "bad gateway"),
            Outcome::Retry { after: None },
        ),
    ];
    for (reply, outcome) in cases {
        fake.reply(reply);
        let a = chat_to(
            &p,
            ProviderId::Telegram,
            &integration,
            &ch,
            None,
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, outcome, "{}", a.detail);
        assert_no_secret(&a, &["123456:ABC-DEF_bot-token"]);
    }
    fake.reply(err(400, "Bad Request: chat not found"));
    let a = chat_to(
        &p,
        ProviderId::Telegram,
        &integration,
        &ch,
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(
        a.detail,
        "Telegram answered HTTP 400: Bad Request: chat not found"
    );
    assert_eq!(a.provider_code.as_deref(), Some("400"));
    let named = channel(Some("@herald_news"), None);
    chat_to(
        &p,
        ProviderId::Telegram,
        &integration,
        &named,
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(
        fake.take_all().last().unwrap().json()["chat_id"],
        json!("@herald_news")
    );
}

#[tokio::test]
async fn line_pushes_to_the_user_with_a_retry_key_and_a_seen_key_counts_as_delivered() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(
        200,
        r#"{"sentMessages":[{"id":"461230966842064897","quoteToken":"q"}]}"#,
    ));
    let p = providers_at(&[(ProviderId::Line, &fake.url(""))]);
    let integration = obj(json!({"apiToken": "line-channel-access-token"}));
    let ch = channel(Some("U4af4980629"), None);
    let a = chat_to(
        &p,
        ProviderId::Line,
        &integration,
        &ch,
        None,
        &Msg::text("hello"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("461230966842064897"));
    let req = fake.take_one();
    assert_eq!(req.path, "/v2/bot/message/push");
    assert_eq!(
        req.header("authorization"),
        Some("Bearer line-channel-access-token")
    );
    let retry_key = req.header("x-line-retry-key").unwrap().to_owned();
    assert_eq!(retry_key.len(), 36);
    assert_eq!(
        req.body_text(),
        r#"{"to":"U4af4980629","messages":[{"type":"text","text":"hello"}]}"#
    );

    // The same delivery sends the same retry key; LINE's 409 for it means it already went out.
    fake.reply(
        Reply::new(409, r#"{"message":"The retry key is already accepted"}"#)
            .header("x-line-accepted-request-id", "req-1"),
    );
    let a = chat_to(
        &p,
        ProviderId::Line,
        &integration,
        &ch,
        None,
        &Msg::text("hello"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("req-1"));
    assert_eq!(
        fake.take_one().header("x-line-retry-key"),
        Some(retry_key.as_str())
    );

    let sticker = Msg::text("x")
        .with_overrides(json!({"sticker": {"packageId": "446", "stickerId": "1988"}}));
    chat_to(&p, ProviderId::Line, &integration, &ch, None, &sticker).await;
    assert_eq!(
        fake.take_one().json()["messages"],
        json!([{"packageId": "446", "stickerId": "1988", "type": "sticker"}])
    );
    for (status, outcome) in [
        (401, Outcome::CredentialInvalid),
        (403, Outcome::CredentialInvalid),
        (400, Outcome::Rejected),
        (
            429,
            Outcome::Retry {
                after: Some(Duration::from_secs(8)),
            },
        ),
        (500, Outcome::Retry { after: None }),
    ] {
        let mut reply = Reply::new(status, r#"{"message":"why"}"#);
        if status == 429 {
            reply = reply.header("retry-after", "8");
        }
        fake.reply(reply);
        let a = chat_to(
            &p,
            ProviderId::Line,
            &integration,
            &ch,
            None,
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, outcome, "{status}");
        assert_eq!(a.detail, format!("LINE answered HTTP {status}: why"));
    }
}
