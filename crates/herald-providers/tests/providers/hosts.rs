//! Without an endpoint override every provider goes to its own documented host (APNs to the
//! production or sandbox one by the integration's `secure`). Proved without any traffic: the
//! hosts are answered with a loopback address the outbound policy refuses, and the refusal
//! names the host that was asked for.

use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::{channel, chat_to, obj, push_to, Msg, EC_KEY, RSA_KEY};

const HOSTS: &[&str] = &[
    "fcm.googleapis.com",
    "oauth2.googleapis.com",
    "api.push.apple.com",
    "api.sandbox.push.apple.com",
    "exp.host",
    "api.onesignal.com",
    "pushpad.xyz",
    "inst-1.pushnotifications.pusher.com",
    "graph.facebook.com",
    "api.telegram.org",
    "api.line.me",
    "webexapis.com",
    "api.sendblue.co",
];

fn refused_at(detail: &str, host: &str) -> bool {
    detail.contains(&format!(
        "destination refused by the outbound policy: {host} resolves to 127.0.0.2 (loopback address)"
    ))
}

#[tokio::test]
async fn every_fixed_host_is_the_providers_own() {
    let token_fake = Fake::start().await;
    token_fake.always_on(
        "/token",
        Reply::new(200, r#"{"access_token":"t","expires_in":3600}"#),
    );
    let hosts: Vec<(&str, &[&str])> = HOSTS.iter().map(|h| (*h, &["127.0.0.2"][..])).collect();
    // 127.0.0.1 (the token fake) is allowed; 127.0.0.2, where every provider host points, is not.
    let p = crate::providers_with(&["127.0.0.1"], &hosts);
    let sa = |token_uri: Option<String>| {
        let mut v = json!({"project_id": "p", "client_email": "e@p", "private_key": RSA_KEY});
        if let Some(u) = token_uri {
            v["token_uri"] = json!(u);
        }
        obj(json!({ "serviceAccount": v.to_string() }))
    };
    let apns = |secure: Value| {
        obj(
            json!({"secretKey": EC_KEY, "apiKey": "K", "projectName": "T", "applicationId": "a.b", "secure": secure}),
        )
    };
    let push_cases = [
        (
            ProviderId::Fcm,
            sa(Some(token_fake.url("/token"))),
            "fcm.googleapis.com",
        ),
        (ProviderId::Fcm, sa(None), "oauth2.googleapis.com"),
        (ProviderId::Apns, apns(json!(true)), "api.push.apple.com"),
        (ProviderId::Apns, apns(json!("true")), "api.push.apple.com"),
        (
            ProviderId::Apns,
            apns(json!(false)),
            "api.sandbox.push.apple.com",
        ),
        (
            ProviderId::Apns,
            apns(Value::Null),
            "api.sandbox.push.apple.com",
        ),
        (ProviderId::Expo, obj(json!({"apiKey": "k"})), "exp.host"),
        (
            ProviderId::OneSignal,
            obj(json!({"apiKey": "k", "applicationId": "a"})),
            "api.onesignal.com",
        ),
        (
            ProviderId::Pushpad,
            obj(json!({"apiKey": "k", "applicationId": "1"})),
            "pushpad.xyz",
        ),
        (
            ProviderId::PusherBeams,
            obj(json!({"instanceId": "inst-1", "secretKey": "s"})),
            "inst-1.pushnotifications.pusher.com",
        ),
    ];
    for (provider, integration, host) in push_cases {
        let a = push_to(&p, provider, &integration, "tok", &Msg::text("x"), "k").await;
        assert_eq!(a.outcome, Outcome::Rejected, "{provider}: {}", a.detail);
        assert!(refused_at(&a.detail, host), "{provider}: {}", a.detail);
    }
    let ch = channel(Some("room"), None);
    let chat_cases = [
        (
            ProviderId::WhatsAppBusiness,
            obj(json!({"apiToken": "t", "phoneNumberIdentification": "1"})),
            "graph.facebook.com",
        ),
        (
            ProviderId::Telegram,
            obj(json!({"apiToken": "1:t"})),
            "api.telegram.org",
        ),
        (
            ProviderId::Line,
            obj(json!({"apiToken": "t"})),
            "api.line.me",
        ),
        (
            ProviderId::WebexMessaging,
            obj(json!({"token": "t"})),
            "webexapis.com",
        ),
        (
            ProviderId::Sendblue,
            obj(json!({"apiKey": "k", "secretKey": "s"})),
            "api.sendblue.co",
        ),
    ];
    for (provider, integration, host) in chat_cases {
        let a = chat_to(
            &p,
            provider,
            &integration,
            &ch,
            Some("+15550100"),
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, Outcome::Rejected, "{provider}: {}", a.detail);
        assert!(refused_at(&a.detail, host), "{provider}: {}", a.detail);
    }
}
