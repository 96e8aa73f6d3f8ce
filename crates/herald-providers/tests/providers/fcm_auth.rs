//! FCM's service account and OAuth token endpoint: what makes a service account an invalid
//! config, and how the token endpoint's errors are classified.

use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use serde_json::{json, Value};

use crate::fake::{Fake, Reply};
use crate::fcm::{fake_fcm, integration, message, service_account, SEND};
use crate::{assert_no_secret, obj, providers_at, push_to};

#[tokio::test]
async fn token_endpoint_errors_are_the_credential_unless_they_blame_the_clock() {
    let p = providers_at(&[]);
    let cases = [
        (
            400,
            json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
            Outcome::CredentialInvalid,
        ),
        (
            401,
            json!({"error": "invalid_client", "error_description": "The OAuth client was not found."}),
            Outcome::CredentialInvalid,
        ),
        (
            400,
            json!({"error": "invalid_grant", "error_description": "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."}),
            Outcome::Retry { after: None },
        ),
        (
            503,
            json!({"error": "temporarily_unavailable"}),
            Outcome::Retry { after: None },
        ),
    ];
    for (status, body, outcome) in cases {
        let fake = Fake::start().await;
        fake.always_on("/token", Reply::new(status, body.to_string()));
        let p2 = providers_at(&[(ProviderId::Fcm, &fake.url(""))]);
        let a = push_to(
            &p2,
            ProviderId::Fcm,
            &integration(&fake),
            "tok",
            &message(),
            "k",
        )
        .await;
        assert_eq!(a.outcome, outcome, "{body}");
        assert_eq!(a.provider_code.as_deref(), body["error"].as_str());
        assert!(fake.requests_to(SEND).is_empty());
    }
    let fake = Fake::start().await;
    fake.always_on(
        "/token",
        Reply::new(
            400,
            json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
                .to_string(),
        ),
    );
    let a = push_to(
        &p,
        ProviderId::Fcm,
        &integration(&fake),
        "tok",
        &message(),
        "k",
    )
    .await;
    assert_eq!(
        a.detail,
        "the FCM token endpoint answered HTTP 400: invalid_grant (Invalid JWT Signature.)"
    );
    assert_eq!(a.http_status, Some(400));
}

#[tokio::test]
async fn a_service_account_that_is_not_json_or_lacks_a_field_is_an_invalid_config() {
    let fake = fake_fcm().await;
    let p = providers_at(&[(ProviderId::Fcm, &fake.url(""))]);
    let full: Value = serde_json::from_str(&service_account(&fake, "a@b.c")).unwrap();
    let without = |k: &str| {
        let mut v = full.clone();
        v.as_object_mut().unwrap().remove(k);
        v.to_string()
    };
    let mut bad_key = full.clone();
    bad_key["private_key"] =
        json!("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    let cases = [
        ("{not json", "Config is not valid for fcm: the service account is not valid JSON".to_owned()),
        (&without("private_key")[..], "Config is not valid for fcm: the service account has no private_key".to_owned()),
        (&without("project_id")[..], "Config is not valid for fcm: the service account has no project_id".to_owned()),
        (&without("client_email")[..], "Config is not valid for fcm: the service account has no client_email".to_owned()),
        (&bad_key.to_string()[..], "Config is not valid for fcm: the service account's private_key is not an RSA private key in PEM form".to_owned()),
    ];
    for (sa, detail) in cases {
        let a = push_to(
            &p,
            ProviderId::Fcm,
            &obj(json!({"serviceAccount": sa})),
            "tok",
            &message(),
            "k",
        )
        .await;
        assert_eq!(a.outcome, Outcome::CredentialInvalid);
        assert_eq!(a.detail, detail);
        assert_no_secret(&a, &["MIIE"]);
    }
    assert!(fake.requests().is_empty());

    // Novu falls back to `user` when `serviceAccount` is empty.
    let sa = service_account(&fake, "a@b.c");
    let a = push_to(
        &p,
        ProviderId::Fcm,
        &obj(json!({"serviceAccount": "", "user": sa})),
        "tok",
        &message(),
        "k",
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
}
