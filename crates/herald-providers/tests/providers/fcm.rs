//! FCM HTTP v1 against a fake serving both the OAuth token endpoint (the service account's
//! `token_uri`) and `messages:send`: the signed assertion, the exact message, token caching,
//! the refresh-once on `UNAUTHENTICATED`, and every error class of the FCM table.

use std::time::Duration;

use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use herald_providers::{PushBatch, PushToken};
use serde_json::{json, Map, Value};

use crate::fake::{Fake, Reply};
use crate::{assert_no_secret, obj, providers_at, push_to, verify_rs256, Msg, RSA_KEY};

pub const SEND: &str = "/v1/projects/demo-project/messages:send";

pub fn service_account(fake: &Fake, email: &str) -> String {
    json!({
        "type": "service_account",
        "project_id": "demo-project",
        "private_key_id": "kid-1",
        "private_key": RSA_KEY,
        "client_email": email,
        "token_uri": fake.url("/token"),
    })
    .to_string()
}

pub fn integration(fake: &Fake) -> Map<String, Value> {
    obj(
        json!({"serviceAccount": service_account(fake, "herald@demo-project.iam.gserviceaccount.com")}),
    )
}

pub fn token_reply(token: &str, expires_in: u64) -> Reply {
    Reply::new(
        200,
        json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"})
            .to_string(),
    )
}

fn fcm_error(status: u16, canonical: &str, code: Option<&str>, extra: Value) -> Reply {
    let mut details = vec![];
    if let Some(c) = code {
        details.push(
            json!({"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": c}),
        );
    }
    if !extra.is_null() {
        details.push(extra);
    }
    Reply::new(
        status,
        json!({"error": {"code": status, "message": format!("{canonical} happened"), "status": canonical, "details": details}})
            .to_string(),
    )
}

pub async fn fake_fcm() -> Fake {
    let fake = Fake::start().await;
    fake.always_on("/token", token_reply("ya29.token-1", 3599));
    fake.always_on(
        SEND,
        Reply::new(200, r#"{"name":"projects/demo-project/messages/0:42"}"#),
    );
    fake
}

pub fn message() -> Msg {
    let mut msg = Msg::text("Your order shipped").with_overrides(json!({
        "deviceTokens": ["ignored"], "image": "https://img.example/1.png",
        "data": {"orderId": "42"}, "android": {"priority": "HIGH"}
    }));
    msg.title = Some("Order 42".into());
    msg.payload = json!({"orderId": 42});
    msg
}

#[tokio::test]
async fn fcm_mints_an_access_token_from_the_service_account_and_sends_the_novu_message() {
    let fake = fake_fcm().await;
    let p = providers_at(&[(ProviderId::Fcm, &fake.url(""))]);
    let a = push_to(
        &p,
        ProviderId::Fcm,
        &integration(&fake),
        "fcm-token-abcdef",
        &message(),
        "k",
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered, "{}", a.detail);
    assert_eq!(
        a.provider_message_id.as_deref(),
        Some("projects/demo-project/messages/0:42")
    );
    assert_eq!(a.http_status, Some(200));

    let all = fake.take_all();
    assert_eq!(all.len(), 2);
    let (token_req, send) = (&all[0], &all[1]);
    assert_eq!(token_req.method, "POST");
    assert_eq!(token_req.path, "/token");
    assert_eq!(
        token_req.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&token_req.body)
        .into_owned()
        .collect();
    assert_eq!(form.len(), 2);
    assert_eq!(
        form[0],
        (
            "grant_type".into(),
            "urn:ietf:params:oauth:grant-type:jwt-bearer".into()
        )
    );
    assert_eq!(form[1].0, "assertion");
    let (header, claims) = verify_rs256(&form[1].1, &fake.url("/token"));
    assert_eq!(header.kid.as_deref(), Some("kid-1"));
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(claims["iss"], "herald@demo-project.iam.gserviceaccount.com");
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/firebase.messaging"
    );
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );

    assert_eq!(send.method, "POST");
    assert_eq!(send.path, SEND);
    assert_eq!(send.header("authorization"), Some("Bearer ya29.token-1"));
    assert_eq!(send.header("content-type"), Some("application/json"));
    assert_eq!(
        send.json(),
        json!({"message": {
            "token": "fcm-token-abcdef",
            "notification": {"title": "Order 42", "body": "Your order shipped", "image": "https://img.example/1.png"},
            "data": {"orderId": "42"},
            "android": {"priority": "HIGH"}
        }})
    );
    assert_no_secret(&a, &["fcm-token-abcdef", "ya29.token-1"]);
}

#[tokio::test]
async fn data_mode_sends_the_payload_as_strings_and_no_notification() {
    let fake = fake_fcm().await;
    let p = providers_at(&[(ProviderId::Fcm, &fake.url(""))]);
    let mut msg = Msg::text("Hi").with_overrides(json!({"type": "data", "sound": "x"}));
    msg.payload = json!({"n": 1, "s": "two"});
    let a = push_to(&p, ProviderId::Fcm, &integration(&fake), "tok-1", &msg, "k").await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(
        fake.requests_to(SEND)[0].json(),
        json!({"message": {"token": "tok-1", "data": {"n": "1", "s": "two", "body": "Hi", "message": "Hi"}}})
    );
}

#[tokio::test]
async fn one_access_token_serves_many_sends_until_shortly_before_it_expires() {
    let fake = fake_fcm().await;
    let p = providers_at(&[(ProviderId::Fcm, &fake.url(""))]);
    let integration = integration(&fake);
    for i in 0..3 {
        let a = push_to(
            &p,
            ProviderId::Fcm,
            &integration,
            &format!("tok-{i}"),
            &message(),
            "k",
        )
        .await;
        assert_eq!(a.outcome, Outcome::Delivered);
    }
    let names: Vec<String> = (0..20).map(|i| format!("batch-token-{i}")).collect();
    let tokens: Vec<PushToken> = names
        .iter()
        .map(|t| PushToken {
            token: t,
            idempotency_key: t,
        })
        .collect();
    let msg = message();
    let m = msg.message();
    let attempts = p
        .send_push(&PushBatch {
            provider: ProviderId::Fcm,
            integration: &integration,
            tokens: &tokens,
            message: &m,
        })
        .await;
    assert!(attempts.iter().all(|a| a.outcome == Outcome::Delivered));
    assert_eq!(fake.requests_to("/token").len(), 1, "one mint for 23 sends");
    assert_eq!(fake.requests_to(SEND).len(), 23);

    // A token that expires within the refresh margin is never reused; another credential has
    // its own token.
    let short = Fake::start().await;
    short.always_on("/token", token_reply("ya29.short", 60));
    let other = obj(
        json!({"serviceAccount": service_account(&short, "other@demo-project.iam.gserviceaccount.com")}),
    );
    for _ in 0..2 {
        push_to(&p, ProviderId::Fcm, &other, "tok", &message(), "k").await;
    }
    assert_eq!(short.requests_to("/token").len(), 2);
    assert_eq!(fake.requests_to("/token").len(), 1);
}

#[tokio::test]
async fn an_unauthenticated_answer_gets_a_new_access_token_and_one_resend() {
    let fake = fake_fcm().await;
    let p = providers_at(&[(ProviderId::Fcm, &fake.url(""))]);
    let integration = integration(&fake);
    fake.reply_on("/token", token_reply("ya29.first", 3599));
    fake.reply_on("/token", token_reply("ya29.second", 3599));
    fake.reply_on(SEND, fcm_error(401, "UNAUTHENTICATED", None, Value::Null));
    let a = push_to(&p, ProviderId::Fcm, &integration, "tok", &message(), "k").await;
    assert_eq!(a.outcome, Outcome::Delivered);
    let sends = fake.requests_to(SEND);
    assert_eq!(sends.len(), 2);
    assert_eq!(sends[0].header("authorization"), Some("Bearer ya29.first"));
    assert_eq!(sends[1].header("authorization"), Some("Bearer ya29.second"));
    assert_eq!(fake.requests_to("/token").len(), 2);

    // Twice in a row: the credential is the problem, and nothing loops.
    fake.take_all();
    fake.reply_on(SEND, fcm_error(401, "UNAUTHENTICATED", None, Value::Null));
    fake.reply_on(SEND, fcm_error(401, "UNAUTHENTICATED", None, Value::Null));
    let a = push_to(&p, ProviderId::Fcm, &integration, "tok", &message(), "k").await;
    assert_eq!(a.outcome, Outcome::CredentialInvalid);
    assert_eq!(a.provider_code.as_deref(), Some("UNAUTHENTICATED"));
    assert_eq!(
        a.detail,
        "FCM answered HTTP 401: UNAUTHENTICATED happened (UNAUTHENTICATED)"
    );
    assert_eq!(fake.requests_to(SEND).len(), 2);
    assert_eq!(
        fake.requests_to("/token").len(),
        1,
        "the stale token is replaced once"
    );
}

#[tokio::test]
async fn fcm_error_codes_fall_into_their_classes() {
    let fake = fake_fcm().await;
    let p = providers_at(&[(ProviderId::Fcm, &fake.url(""))]);
    let integration = integration(&fake);
    let violation = |field: &str| json!({"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [{"field": field, "description": "bad"}]});
    let bad_token = Reply::new(400, json!({"error": {"code": 400, "status": "INVALID_ARGUMENT",
        "message": "The registration token is not a valid FCM registration token",
        "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "INVALID_ARGUMENT"}]}}).to_string());
    let retry = |s: u64| Outcome::Retry {
        after: Some(Duration::from_secs(s)),
    };
    let cases: Vec<(Reply, Outcome, &str)> = vec![
        (
            fcm_error(404, "NOT_FOUND", Some("UNREGISTERED"), Value::Null),
            Outcome::TokenDead,
            "UNREGISTERED",
        ),
        (bad_token, Outcome::TokenDead, "INVALID_ARGUMENT"),
        (
            fcm_error(400, "INVALID_ARGUMENT", None, violation("message.token")),
            Outcome::TokenDead,
            "INVALID_ARGUMENT",
        ),
        (
            fcm_error(
                400,
                "INVALID_ARGUMENT",
                Some("INVALID_ARGUMENT"),
                violation("message.notification.sound"),
            ),
            Outcome::Rejected,
            "INVALID_ARGUMENT",
        ),
        (
            fcm_error(
                403,
                "PERMISSION_DENIED",
                Some("SENDER_ID_MISMATCH"),
                Value::Null,
            ),
            Outcome::TokenDead,
            "SENDER_ID_MISMATCH",
        ),
        (
            fcm_error(
                401,
                "UNAUTHENTICATED",
                Some("THIRD_PARTY_AUTH_ERROR"),
                Value::Null,
            ),
            Outcome::CredentialInvalid,
            "THIRD_PARTY_AUTH_ERROR",
        ),
        (
            fcm_error(403, "PERMISSION_DENIED", None, Value::Null),
            Outcome::CredentialInvalid,
            "PERMISSION_DENIED",
        ),
        (
            fcm_error(404, "NOT_FOUND", None, Value::Null),
            Outcome::CredentialInvalid,
            "NOT_FOUND",
        ),
        (
            fcm_error(
                429,
                "RESOURCE_EXHAUSTED",
                Some("QUOTA_EXCEEDED"),
                Value::Null,
            )
            .header("retry-after", "30"),
            retry(30),
            "QUOTA_EXCEEDED",
        ),
        (
            fcm_error(503, "UNAVAILABLE", Some("UNAVAILABLE"), Value::Null),
            Outcome::Retry { after: None },
            "UNAVAILABLE",
        ),
        (
            fcm_error(500, "INTERNAL", Some("INTERNAL"), Value::Null),
            Outcome::Retry { after: None },
            "INTERNAL",
        ),
    ];
    for (reply, outcome, code) in cases {
        fake.reply_on(SEND, reply);
        let a = push_to(
            &p,
            ProviderId::Fcm,
            &integration,
            "tok-123456789",
            &message(),
            "k",
        )
        .await;
        assert_eq!(a.outcome, outcome, "{code}: {}", a.detail);
        assert_eq!(a.provider_code.as_deref(), Some(code));
    }
    for (status, outcome) in [
        (400, Outcome::Rejected),
        (403, Outcome::CredentialInvalid),
        (502, Outcome::Retry { after: None }),
    ] {
        fake.reply_on(SEND, Reply::new(status, "<html>oops</html>"));
        let a = push_to(&p, ProviderId::Fcm, &integration, "tok", &message(), "k").await;
        assert_eq!(a.outcome, outcome, "{status}");
        assert_eq!(
            a.detail,
            format!("FCM answered HTTP {status}: <html>oops</html>")
        );
        assert_eq!(a.provider_code, None);
    }
    fake.reply_on(
        SEND,
        fcm_error(404, "NOT_FOUND", Some("UNREGISTERED"), Value::Null),
    );
    let a = push_to(&p, ProviderId::Fcm, &integration, "tok", &message(), "k").await;
    assert_eq!(
        a.detail,
        "FCM answered HTTP 404: NOT_FOUND happened (UNREGISTERED)"
    );
    assert_eq!(a.http_status, Some(404));
}
