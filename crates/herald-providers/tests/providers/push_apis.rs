//! Pushpad and Pusher Beams against fakes: the exact requests and the answer classes.

use std::time::Duration;

use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use serde_json::json;

use crate::fake::{Fake, Reply};
use crate::{assert_no_secret, obj, providers_at, push_to, Msg};

fn titled(content: &str, overrides: serde_json::Value) -> Msg {
    let mut msg = Msg::text(content).with_overrides(overrides);
    msg.title = Some("Order 42".into());
    msg.payload = json!({"orderId": 42});
    msg
}

#[tokio::test]
async fn pushpad_sends_the_notification_to_the_uid_with_its_token_header() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(201, r#"{"id":197123,"scheduled":1}"#));
    let p = providers_at(&[(ProviderId::Pushpad, &fake.url(""))]);
    let integration = obj(json!({"apiKey": "pushpad-auth-token", "applicationId": "1234"}));
    let a = push_to(
        &p,
        ProviderId::Pushpad,
        &integration,
        "user-77",
        &titled("Shipped", json!({"sound": "x"})),
        "k",
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("197123"));
    let req = fake.take_one();
    assert_eq!(req.path, "/api/v1/projects/1234/notifications");
    assert_eq!(
        req.header("authorization"),
        Some("Token token=\"pushpad-auth-token\"")
    );
    assert_eq!(
        req.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    assert_eq!(req.header("accept"), Some("application/json"));
    assert_eq!(
        req.json(),
        json!({"notification": {"body": "Shipped", "title": "Order 42"}, "uids": ["user-77"]})
    );
    assert_no_secret(&a, &["pushpad-auth-token"]);

    for (status, outcome) in [
        (401, Outcome::CredentialInvalid),
        (403, Outcome::CredentialInvalid),
        (404, Outcome::CredentialInvalid),
        (422, Outcome::Rejected),
        (
            429,
            Outcome::Retry {
                after: Some(Duration::from_secs(2)),
            },
        ),
        (
            500,
            Outcome::Retry {
                after: Some(Duration::from_secs(2)),
            },
        ),
    ] {
        fake.reply(Reply::new(status, r#"{"error":"nope"}"#).header("retry-after", "2"));
        let a = push_to(
            &p,
            ProviderId::Pushpad,
            &integration,
            "user-77",
            &Msg::text("x"),
            "k",
        )
        .await;
        assert_eq!(a.outcome, outcome, "{status}");
        assert_eq!(a.detail, format!("Pushpad answered HTTP {status}: nope"));
    }
}

#[tokio::test]
async fn pusher_beams_publishes_to_the_user_on_its_instance() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(200, r#"{"publishId":"pubid-33f3f68e"}"#));
    let p = providers_at(&[(ProviderId::PusherBeams, &fake.url(""))]);
    let integration =
        obj(json!({"instanceId": "8f9a6e22-2483-49aa", "secretKey": "beams-secret-key"}));
    let msg = titled(
        "Shipped",
        json!({"sound": "ding", "badge": 3, "icon": "ic", "ttl": 60, "clickAction": "OPEN"}),
    );
    let a = push_to(
        &p,
        ProviderId::PusherBeams,
        &integration,
        "user-1",
        &msg,
        "k",
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("pubid-33f3f68e"));
    let req = fake.take_one();
    assert_eq!(
        req.path,
        "/publish_api/v1/instances/8f9a6e22-2483-49aa/publishes/users"
    );
    assert_eq!(req.header("authorization"), Some("Bearer beams-secret-key"));
    assert_eq!(
        req.json(),
        json!({
            "users": ["user-1"],
            "apns": {"aps": {"alert": {"title": "Order 42", "body": "Shipped"}, "badge": 3, "sound": "ding"}},
            "fcm": {"notification": {"title": "Order 42", "body": "Shipped", "click_action": "OPEN", "icon": "ic", "sound": "ding"},
                    "data": {"orderId": 42}, "time_to_live": 60},
            "web": {"notification": {"title": "Order 42", "body": "Shipped", "icon": "ic"}, "data": {"orderId": 42}, "time_to_live": 60}
        })
    );
    assert_no_secret(&a, &["beams-secret-key"]);

    for (status, outcome) in [
        (401, Outcome::CredentialInvalid),
        (404, Outcome::CredentialInvalid),
        (400, Outcome::Rejected),
        (413, Outcome::Rejected),
        (
            429,
            Outcome::Retry {
                after: Some(Duration::from_secs(7)),
            },
        ),
        (
            503,
            Outcome::Retry {
                after: Some(Duration::from_secs(7)),
            },
        ),
    ] {
        fake.reply(
            Reply::new(
                status,
                r#"{"error":"Bad thing","description":"what went wrong"}"#,
            )
            .header("retry-after", "7"),
        );
        let a = push_to(
            &p,
            ProviderId::PusherBeams,
            &integration,
            "user-1",
            &Msg::text("x"),
            "k",
        )
        .await;
        assert_eq!(a.outcome, outcome, "{status}");
        assert_eq!(a.provider_code.as_deref(), Some("Bad thing"));
        assert_eq!(
            a.detail,
            format!("Pusher Beams answered HTTP {status}: what went wrong")
        );
    }
    let bad = obj(json!({"instanceId": "evil.example.com/x", "secretKey": "s"}));
    let a = push_to(
        &p,
        ProviderId::PusherBeams,
        &bad,
        "user-1",
        &Msg::text("x"),
        "k",
    )
    .await;
    assert_eq!(a.outcome, Outcome::CredentialInvalid);
    assert_eq!(
        a.detail,
        "Config is not valid for Pusher Beams: the instanceId is not a Beams instance id"
    );
}
