//! `send_push`: one attempt per token in the order given, each token's own outcome, concurrent
//! single requests, and the idempotency key of each token's delivery.

use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use herald_providers::{PushBatch, PushToken};
use serde_json::json;

use crate::fake::{Fake, Reply};
use crate::{obj, providers, providers_at, Msg};

#[tokio::test]
async fn every_token_gets_its_own_attempt_in_the_order_given() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::OneSignal, &fake.url(""))]);
    let integration = obj(json!({"applicationId": "app", "apiKey": "key"}));
    // Each token's answer is chosen by the token the fake sees, whatever the arrival order.
    let names: Vec<String> = (0..40).map(|i| format!("sub-{i:02}")).collect();
    let keys: Vec<String> = (0..40).map(|i| format!("delivery-{i:02}")).collect();
    let tokens: Vec<PushToken> = names
        .iter()
        .zip(&keys)
        .map(|(t, k)| PushToken {
            token: t,
            idempotency_key: k,
        })
        .collect();
    for _ in 0..40 {
        fake.reply(Reply::new(200, r#"{"id":"n"}"#));
    }
    let msg = Msg::text("x");
    let m = msg.message();
    let attempts = p
        .send_push(&PushBatch {
            provider: ProviderId::OneSignal,
            integration: &integration,
            tokens: &tokens,
            message: &m,
        })
        .await;
    assert_eq!(attempts.len(), 40);
    assert!(attempts.iter().all(|a| a.outcome == Outcome::Delivered));
    let sent = fake.take_all();
    assert_eq!(sent.len(), 40);
    // Every token went once, with its own delivery's key.
    let mut pairs: Vec<(String, String)> = sent
        .iter()
        .map(|r| {
            let b = r.json();
            (
                b["include_subscription_ids"][0]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                b["idempotency_key"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), 40);
    let keys_seen: std::collections::HashSet<&String> = pairs.iter().map(|(_, k)| k).collect();
    assert_eq!(keys_seen.len(), 40);
}

#[tokio::test]
async fn mixed_outcomes_stay_with_their_tokens() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::Apns, &fake.url(""))]);
    let integration = obj(json!({
        "secretKey": crate::EC_KEY, "apiKey": "ABC123DEFG", "projectName": "TEAM123456",
        "applicationId": "com.example.app"
    }));
    // APNs puts the token in the path, so each token's answer is scripted by path whatever the
    // order the concurrent requests arrive in.
    let answers = [
        (200, ""),
        (410, r#"{"reason":"Unregistered"}"#),
        (400, r#"{"reason":"BadDeviceToken"}"#),
        (500, r#"{"reason":"InternalServerError"}"#),
    ];
    let names: Vec<String> = (0..4).map(|i| format!("{i:064x}")).collect();
    for (name, (status, body)) in names.iter().zip(answers) {
        fake.reply_on(&format!("/3/device/{name}"), Reply::new(status, body));
    }
    let mut tokens: Vec<PushToken> = names
        .iter()
        .map(|t| PushToken {
            token: t,
            idempotency_key: t,
        })
        .collect();
    tokens.insert(
        2,
        PushToken {
            token: " ",
            idempotency_key: "x",
        },
    );
    let msg = Msg::text("x");
    let m = msg.message();
    let attempts = p
        .send_push(&PushBatch {
            provider: ProviderId::Apns,
            integration: &integration,
            tokens: &tokens,
            message: &m,
        })
        .await;
    let outcomes: Vec<Outcome> = attempts.iter().map(|a| a.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        [
            Outcome::Delivered,
            Outcome::TokenDead,
            Outcome::Rejected,
            Outcome::TokenDead,
            Outcome::Retry { after: None }
        ]
    );
    assert_eq!(attempts[2].detail, "the device token is empty");
    assert_eq!(attempts[3].provider_code.as_deref(), Some("BadDeviceToken"));
    assert_eq!(fake.take_all().len(), 4);
}

#[tokio::test]
async fn an_empty_batch_sends_nothing_and_a_chat_provider_is_rejected_per_token() {
    let p = providers();
    let integration = obj(json!({}));
    let msg = Msg::text("x");
    let m = msg.message();
    let none = p
        .send_push(&PushBatch {
            provider: ProviderId::Fcm,
            integration: &integration,
            tokens: &[],
            message: &m,
        })
        .await;
    assert!(none.is_empty());
    let tokens = [
        PushToken {
            token: "t1",
            idempotency_key: "a",
        },
        PushToken {
            token: "t2",
            idempotency_key: "b",
        },
    ];
    let attempts = p
        .send_push(&PushBatch {
            provider: ProviderId::Slack,
            integration: &integration,
            tokens: &tokens,
            message: &m,
        })
        .await;
    assert_eq!(attempts.len(), 2);
    assert!(attempts
        .iter()
        .all(|a| a.detail == "slack delivers to a chat channel, not to the target given"));
}
