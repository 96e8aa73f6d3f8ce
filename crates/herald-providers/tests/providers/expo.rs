//! Expo against a fake: batches of up to 100 messages, one attempt per token from its ticket,
//! request-level errors, tokens of several projects, and the receipts call.

use std::time::Duration;

use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use herald_providers::{PushBatch, PushToken};
use serde_json::{json, Map, Value};

use crate::fake::{Fake, Reply};
use crate::{assert_no_secret, obj, providers_at, push_to, Msg};

const SEND: &str = "/--/api/v2/push/send";
const RECEIPTS: &str = "/--/api/v2/push/getReceipts";
const ACCESS: &str = "expo-access-token-123";

fn integration() -> Map<String, Value> {
    obj(json!({ "apiKey": ACCESS }))
}

fn ok_ticket(id: &str) -> Value {
    json!({"status": "ok", "id": id})
}

fn error_ticket(code: &str) -> Value {
    json!({"status": "error", "message": format!("{code} said Expo"), "details": {"error": code}})
}

fn tickets(list: Vec<Value>) -> Reply {
    Reply::new(200, json!({ "data": list }).to_string())
}

#[tokio::test]
async fn expo_sends_novus_message_with_the_access_token_and_records_the_ticket_id() {
    let fake = Fake::start().await;
    fake.reply(tickets(vec![ok_ticket("XXXX-receipt-1")]));
    let p = providers_at(&[(ProviderId::Expo, &fake.url(""))]);
    let mut msg = Msg::text("Your order shipped").with_overrides(
        json!({"sound": "default", "badge": 1, "channelId": "orders", "deviceTokens": ["x"]}),
    );
    msg.title = Some("Order 42".into());
    msg.payload = json!({"orderId": 42});
    let token = "ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]";
    let a = push_to(&p, ProviderId::Expo, &integration(), token, &msg, "k").await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("XXXX-receipt-1"));
    assert_eq!(a.http_status, Some(200));

    let req = fake.take_one();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, SEND);
    assert_eq!(
        req.header("authorization"),
        Some("Bearer expo-access-token-123")
    );
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(
        req.json(),
        json!([{"to": [token], "title": "Order 42", "body": "Your order shipped", "data": {"orderId": 42},
                "badge": 1, "sound": "default", "channelId": "orders"}])
    );
    assert_no_secret(&a, &[token, ACCESS]);
}

#[tokio::test]
async fn a_batch_of_150_tokens_is_two_requests_and_each_token_gets_its_tickets_outcome() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::Expo, &fake.url(""))]);
    let names: Vec<String> = (0..150)
        .map(|i| format!("ExponentPushToken[t{i:03}]"))
        .collect();
    let first: Vec<Value> = (0..100)
        .map(|i| match i {
            3 => error_ticket("DeviceNotRegistered"),
            4 => error_ticket("MessageTooBig"),
            5 => error_ticket("MessageRateExceeded"),
            6 => error_ticket("InvalidCredentials"),
            _ => ok_ticket(&format!("r{i}")),
        })
        .collect();
    fake.reply(tickets(first));
    fake.reply(tickets(
        (100..149).map(|i| ok_ticket(&format!("r{i}"))).collect(),
    ));
    let tokens: Vec<PushToken> = names
        .iter()
        .map(|t| PushToken {
            token: t,
            idempotency_key: t,
        })
        .collect();
    let msg = Msg::text("hi");
    let m = msg.message();
    let integration = integration();
    let attempts = p
        .send_push(&PushBatch {
            provider: ProviderId::Expo,
            integration: &integration,
            tokens: &tokens,
            message: &m,
        })
        .await;
    assert_eq!(attempts.len(), 150);
    let sent = fake.take_all();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].json().as_array().unwrap().len(), 100);
    assert_eq!(sent[1].json().as_array().unwrap().len(), 50);
    assert_eq!(sent[1].json()[0]["to"], json!(["ExponentPushToken[t100]"]));
    assert_eq!(attempts[0].provider_message_id.as_deref(), Some("r0"));
    assert_eq!(attempts[3].outcome, Outcome::TokenDead);
    assert_eq!(
        attempts[3].provider_code.as_deref(),
        Some("DeviceNotRegistered")
    );
    assert_eq!(
        attempts[3].detail,
        "Expo ticket error: DeviceNotRegistered said Expo (DeviceNotRegistered)"
    );
    assert_eq!(attempts[4].outcome, Outcome::Rejected);
    assert_eq!(attempts[5].outcome, Outcome::Retry { after: None });
    assert_eq!(attempts[6].outcome, Outcome::CredentialInvalid);
    assert_eq!(attempts[148].provider_message_id.as_deref(), Some("r148"));
    // Expo answered 49 tickets for 50 messages: the last is unknown, so it is tried again.
    assert_eq!(attempts[149].outcome, Outcome::Retry { after: None });
    assert_eq!(
        attempts[149].detail,
        "Expo answered without a ticket for this token"
    );
}

#[tokio::test]
async fn request_errors_apply_to_every_token_of_the_request() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::Expo, &fake.url(""))]);
    let err = |status: u16, code: &str| {
        Reply::new(
            status,
            json!({"errors": [{"code": code, "message": format!("{code} message")}]}).to_string(),
        )
    };
    let cases = [
        (
            err(401, "UNAUTHORIZED"),
            Outcome::CredentialInvalid,
            Some("UNAUTHORIZED"),
        ),
        (
            err(429, "TOO_MANY_REQUESTS").header("retry-after", "3"),
            Outcome::Retry {
                after: Some(Duration::from_secs(3)),
            },
            Some("TOO_MANY_REQUESTS"),
        ),
        (
            err(400, "PUSH_TOO_MANY_NOTIFICATIONS"),
            Outcome::Rejected,
            Some("PUSH_TOO_MANY_NOTIFICATIONS"),
        ),
        (
            Reply::new(503, "upstream down"),
            Outcome::Retry { after: None },
            None,
        ),
    ];
    for (reply, outcome, code) in cases {
        fake.reply(reply);
        let a = push_to(
            &p,
            ProviderId::Expo,
            &integration(),
            "ExponentPushToken[a]",
            &Msg::text("x"),
            "k",
        )
        .await;
        assert_eq!(a.outcome, outcome, "{code:?}");
        assert_eq!(a.provider_code.as_deref(), code);
    }
    fake.reply(err(401, "UNAUTHORIZED"));
    let a = push_to(
        &p,
        ProviderId::Expo,
        &integration(),
        "ExponentPushToken[a]",
        &Msg::text("x"),
        "k",
    )
    .await;
    assert_eq!(a.detail, "Expo answered HTTP 401: UNAUTHORIZED message");
}

#[tokio::test]
async fn tokens_of_several_expo_projects_are_sent_one_per_request() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::Expo, &fake.url(""))]);
    fake.reply(Reply::new(
        400,
        json!({"errors": [{"code": "PUSH_TOO_MANY_EXPERIENCE_IDS", "message": "two projects"}]})
            .to_string(),
    ));
    fake.reply(tickets(vec![ok_ticket("ra")]));
    fake.reply(tickets(vec![error_ticket("DeviceNotRegistered")]));
    let tokens = [
        PushToken {
            token: "ExponentPushToken[a]",
            idempotency_key: "1",
        },
        PushToken {
            token: "ExponentPushToken[b]",
            idempotency_key: "2",
        },
    ];
    let msg = Msg::text("x");
    let m = msg.message();
    let integration = integration();
    let attempts = p
        .send_push(&PushBatch {
            provider: ProviderId::Expo,
            integration: &integration,
            tokens: &tokens,
            message: &m,
        })
        .await;
    assert_eq!(attempts[0].outcome, Outcome::Delivered);
    assert_eq!(attempts[1].outcome, Outcome::TokenDead);
    let sent = fake.take_all();
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[1].json()[0]["to"], json!(["ExponentPushToken[a]"]));
    assert_eq!(sent[2].json()[0]["to"], json!(["ExponentPushToken[b]"]));
}

#[tokio::test]
async fn receipts_classify_each_id_and_leave_out_the_ones_not_ready() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::Expo, &fake.url(""))]);
    fake.reply_on(
        RECEIPTS,
        Reply::new(200, json!({"data": {
            "r1": {"status": "ok"},
            "r2": {"status": "error", "message": "\"ExponentPushToken[b]\" is not a registered push notification recipient", "details": {"error": "DeviceNotRegistered"}},
            "r3": {"status": "error", "message": "creds", "details": {"error": "MismatchSenderId"}},
            "r4": {"status": "error", "message": "slow down", "details": {"error": "MessageRateExceeded"}}
        }}).to_string()),
    );
    let got = p
        .expo_receipts(&integration(), &["r1", "r2", "r3", "r4", "r5"])
        .await
        .unwrap();
    assert_eq!(got.len(), 4);
    assert_eq!(got["r1"].outcome, Outcome::Delivered);
    assert_eq!(got["r2"].outcome, Outcome::TokenDead);
    assert_eq!(
        got["r2"].provider_code.as_deref(),
        Some("DeviceNotRegistered")
    );
    assert_eq!(got["r3"].outcome, Outcome::CredentialInvalid);
    assert_eq!(got["r4"].outcome, Outcome::Retry { after: None });
    assert!(!got.contains_key("r5"));
    let req = fake.take_one();
    assert_eq!(req.path, RECEIPTS);
    assert_eq!(
        req.header("authorization"),
        Some("Bearer expo-access-token-123")
    );
    assert_eq!(req.json(), json!({"ids": ["r1", "r2", "r3", "r4", "r5"]}));

    // 1001 ids: two requests of at most 1000.
    let ids: Vec<String> = (0..1001).map(|i| format!("id{i}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    // The first answer is larger than the default 64 KiB response cap.
    let many: Map<String, Value> = (0..1000)
        .map(|i| {
            (
                format!("id{i}"),
                json!({"status": "error", "message": format!("{} is not a registered push notification recipient", "x".repeat(100)),
                       "details": {"error": "DeviceNotRegistered"}}),
            )
        })
        .collect();
    let big = json!({ "data": many }).to_string();
    assert!(big.len() > 128 * 1024);
    fake.reply_on(RECEIPTS, Reply::new(200, big));
    fake.reply_on(
        RECEIPTS,
        Reply::new(200, r#"{"data":{"id1000":{"status":"ok"}}}"#),
    );
    let got = p.expo_receipts(&integration(), &refs).await.unwrap();
    assert_eq!(got.len(), 1001);
    assert_eq!(got["id999"].outcome, Outcome::TokenDead);
    assert_eq!(got["id1000"].outcome, Outcome::Delivered);
    let sent = fake.take_all();
    assert_eq!(sent[0].json()["ids"].as_array().unwrap().len(), 1000);
    assert_eq!(sent[1].json()["ids"], json!(["id1000"]));

    // A failed call is an error as a whole.
    fake.reply_on(
        RECEIPTS,
        Reply::new(
            401,
            json!({"errors": [{"code": "UNAUTHORIZED", "message": "no"}]}).to_string(),
        ),
    );
    let err = p.expo_receipts(&integration(), &["r1"]).await.unwrap_err();
    assert_eq!(err.outcome, Outcome::CredentialInvalid);
    let err = p.expo_receipts(&Map::new(), &["r1"]).await.unwrap_err();
    assert_eq!(err.detail, "Config is not valid for expo");
}
