//! APNs against an HTTP/2 (h2c) fake: the ES256 provider token (verified with the test key),
//! the exact request, one token for many sends, the resend after `ExpiredProviderToken`, and
//! every reason class of the APNs table.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::Version;
use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use herald_providers::{PushBatch, PushToken};
use serde_json::{json, Map, Value};

use crate::fake::{Fake, Reply};
use crate::{assert_no_secret, obj, providers_at, push_to, verify_es256, Msg, EC_KEY};

const TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

fn integration() -> Map<String, Value> {
    obj(json!({
        "secretKey": EC_KEY,
        "apiKey": "ABC123DEFG",
        "projectName": "TEAM123456",
        "applicationId": "com.example.app",
        "secure": true
    }))
}

fn message() -> Msg {
    let mut msg =
        Msg::text("Your order shipped").with_overrides(json!({"badge": 2, "sound": "default"}));
    msg.title = Some("Order 42".into());
    msg.payload = json!({"orderId": 42});
    msg
}

fn reason(status: u16, reason: &str) -> Reply {
    Reply::new(status, json!({ "reason": reason }).to_string())
}

#[tokio::test]
async fn apns_sends_over_http2_with_an_es256_provider_token_and_novus_payload() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(200, "").header("apns-id", "EC1BF194-B3B2-424A-89A9-5A918A6E6B5D"));
    let p = providers_at(&[(ProviderId::Apns, &fake.url(""))]);
    let a = push_to(&p, ProviderId::Apns, &integration(), TOKEN, &message(), "k").await;
    assert_eq!(a.outcome, Outcome::Delivered, "{}", a.detail);
    assert_eq!(
        a.provider_message_id.as_deref(),
        Some("EC1BF194-B3B2-424A-89A9-5A918A6E6B5D")
    );

    let req = fake.take_one();
    assert_eq!(req.version, Version::HTTP_2);
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, format!("/3/device/{TOKEN}"));
    assert_eq!(req.header("apns-topic"), Some("com.example.app"));
    assert_eq!(req.header("apns-push-type"), Some("alert"));
    assert_eq!(req.header("apns-priority"), None);
    assert_eq!(req.header("content-type"), Some("application/json"));
    let jwt = req
        .header("authorization")
        .unwrap()
        .strip_prefix("bearer ")
        .unwrap();
    let (header, claims) = verify_es256(jwt);
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.kid.as_deref(), Some("ABC123DEFG"));
    assert_eq!(header.typ, None);
    assert_eq!(claims.as_object().unwrap().len(), 2);
    assert_eq!(claims["iss"], "TEAM123456");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(claims["iat"].as_u64().unwrap()) < 60);
    assert_eq!(
        req.json(),
        json!({"orderId": 42, "aps": {"alert": {"title": "Order 42", "body": "Your order shipped"}, "badge": 2, "sound": "default"}})
    );
    assert_no_secret(&a, &[TOKEN, jwt]);
}

#[tokio::test]
async fn one_provider_token_serves_every_send_of_the_integration() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::Apns, &fake.url(""))]);
    let names: Vec<String> = (0..12).map(|i| format!("{i:064x}")).collect();
    let tokens: Vec<PushToken> = names
        .iter()
        .map(|t| PushToken {
            token: t,
            idempotency_key: t,
        })
        .collect();
    let msg = message();
    let m = msg.message();
    let integration = integration();
    let attempts = p
        .send_push(&PushBatch {
            provider: ProviderId::Apns,
            integration: &integration,
            tokens: &tokens,
            message: &m,
        })
        .await;
    assert_eq!(attempts.len(), 12);
    assert!(attempts.iter().all(|a| a.outcome == Outcome::Delivered));
    push_to(&p, ProviderId::Apns, &integration, TOKEN, &msg, "k").await;
    let auths: std::collections::HashSet<String> = fake
        .take_all()
        .iter()
        .map(|r| r.header("authorization").unwrap().to_owned())
        .collect();
    assert_eq!(auths.len(), 1, "one provider token for 13 sends");
}

#[tokio::test]
async fn an_expired_provider_token_is_replaced_and_the_request_sent_once_more() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::Apns, &fake.url(""))]);
    fake.reply(reason(403, "ExpiredProviderToken"));
    let a = push_to(&p, ProviderId::Apns, &integration(), TOKEN, &message(), "k").await;
    assert_eq!(a.outcome, Outcome::Delivered);
    let sent = fake.take_all();
    assert_eq!(sent.len(), 2);
    let (first, second) = (
        sent[0].header("authorization").unwrap(),
        sent[1].header("authorization").unwrap(),
    );
    assert_ne!(first, second);
    verify_es256(second.strip_prefix("bearer ").unwrap());

    // The new token is the cached one now.
    push_to(&p, ProviderId::Apns, &integration(), TOKEN, &message(), "k").await;
    assert_eq!(fake.take_one().header("authorization"), Some(second));

    // Expired twice in a row: retried later, never a loop.
    fake.reply(reason(403, "ExpiredProviderToken"));
    fake.reply(reason(403, "ExpiredProviderToken"));
    let a = push_to(&p, ProviderId::Apns, &integration(), TOKEN, &message(), "k").await;
    assert_eq!(a.outcome, Outcome::Retry { after: None });
    assert_eq!(a.provider_code.as_deref(), Some("ExpiredProviderToken"));
    assert_eq!(fake.take_all().len(), 2);
}

#[tokio::test]
async fn apns_reasons_fall_into_their_classes() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::Apns, &fake.url(""))]);
    let cases = [
        (reason(410, "Unregistered"), Outcome::TokenDead),
        (reason(410, "ExpiredToken"), Outcome::TokenDead),
        (reason(400, "BadDeviceToken"), Outcome::TokenDead),
        (reason(400, "DeviceTokenNotForTopic"), Outcome::TokenDead),
        (reason(400, "TopicDisallowed"), Outcome::CredentialInvalid),
        (reason(400, "BadCollapseId"), Outcome::Rejected),
        (reason(400, "PayloadEmpty"), Outcome::Rejected),
        (reason(400, "IdleTimeout"), Outcome::Retry { after: None }),
        (
            reason(403, "InvalidProviderToken"),
            Outcome::CredentialInvalid,
        ),
        (
            reason(403, "MissingProviderToken"),
            Outcome::CredentialInvalid,
        ),
        (
            reason(403, "BadCertificateEnvironment"),
            Outcome::CredentialInvalid,
        ),
        (reason(403, "Forbidden"), Outcome::Rejected),
        (reason(404, "BadPath"), Outcome::Rejected),
        (reason(413, "PayloadTooLarge"), Outcome::Rejected),
        (
            reason(429, "TooManyRequests"),
            Outcome::Retry { after: None },
        ),
        (
            reason(429, "TooManyProviderTokenUpdates").header("retry-after", "60"),
            Outcome::Retry {
                after: Some(Duration::from_secs(60)),
            },
        ),
        (
            reason(500, "InternalServerError"),
            Outcome::Retry { after: None },
        ),
        (
            reason(503, "ServiceUnavailable"),
            Outcome::Retry { after: None },
        ),
    ];
    for (reply, outcome) in cases {
        let code = serde_json::from_str::<Value>(&reply.body).unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_owned();
        let status = reply.status;
        fake.reply(reply);
        let a = push_to(&p, ProviderId::Apns, &integration(), TOKEN, &message(), "k").await;
        assert_eq!(a.outcome, outcome, "{code}");
        assert_eq!(a.provider_code.as_deref(), Some(code.as_str()));
        assert_eq!(a.detail, format!("APNs answered HTTP {status}: {code}"));
    }
    fake.reply(Reply::new(
        410,
        r#"{"reason":"Unregistered","timestamp":1712345678901}"#,
    ));
    let a = push_to(&p, ProviderId::Apns, &integration(), TOKEN, &message(), "k").await;
    assert_eq!(
        a.detail,
        "APNs answered HTTP 410: Unregistered (timestamp 1712345678901)"
    );
}

#[tokio::test]
async fn overrides_set_the_topic_headers_and_aps_keys() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::Apns, &fake.url(""))]);
    let msg = Msg::text("Ping").with_overrides(json!({
        "topic": "com.example.app.voip", "pushType": "voip", "priority": 5, "expiry": 0,
        "collapseId": "c-1", "contentAvailable": true, "payload": {"custom": true}
    }));
    push_to(&p, ProviderId::Apns, &integration(), TOKEN, &msg, "k").await;
    let req = fake.take_one();
    assert_eq!(req.header("apns-topic"), Some("com.example.app.voip"));
    assert_eq!(req.header("apns-push-type"), Some("voip"));
    assert_eq!(req.header("apns-priority"), Some("5"));
    assert_eq!(req.header("apns-expiration"), Some("0"));
    assert_eq!(req.header("apns-collapse-id"), Some("c-1"));
    assert_eq!(
        req.json(),
        json!({"custom": true, "aps": {"alert": {"body": "Ping"}, "content-available": 1}})
    );
}

#[tokio::test]
async fn a_key_that_is_not_a_p8_or_a_missing_bundle_id_is_an_invalid_config() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::Apns, &fake.url(""))]);
    let mut bad = integration();
    bad.insert(
        "secretKey".into(),
        json!("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"),
    );
    let a = push_to(&p, ProviderId::Apns, &bad, TOKEN, &message(), "k").await;
    assert_eq!(a.outcome, Outcome::CredentialInvalid);
    assert_eq!(
        a.detail,
        "Config is not valid for apns: the secretKey is not an APNs auth key (.p8, a PKCS#8 P-256 private key in PEM form)"
    );
    let mut no_topic = integration();
    no_topic.remove("applicationId");
    let a = push_to(&p, ProviderId::Apns, &no_topic, TOKEN, &message(), "k").await;
    assert_eq!(
        a.detail,
        "Config is not valid for apns: the applicationId (the app's bundle id) is missing"
    );
    assert!(fake.requests().is_empty());
}
