//! Dead device tokens are pruned (issue 11): a local fake FCM (OAuth token endpoint and
//! `messages:send`, reached through `HERALD_PROVIDER_ENDPOINT_FCM` and the service account's
//! `token_uri`) answers `UNREGISTERED` for one token of a subscriber and delivers the others; the
//! dead token leaves the subscriber, the live ones are delivered once, and the execution details
//! say what was removed. With pruning off, or on a credential-shaped code without evidence that
//! the integration's credentials work, the token is kept.

use serde_json::{json, Value};

use crate::delivery::{integration, messages, push_step, subscriber_with, trigger, workflow};
use crate::helpers::{device_tokens, TestApp};
use crate::receiver::{Answer, Receiver};

const RSA_KEY: &str =
    include_str!("../../../herald-providers/tests/providers/keys/test-only-rsa.pem");
const SEND: &str = "/v1/projects/herald-test/messages:send";

fn fcm_error(status: u16, code: &str) -> Answer {
    let body = json!({"error": {"code": status, "message": "nope", "status": "NOT_FOUND",
        "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                     "errorCode": code}]}});
    Answer::new(status, &body.to_string()).header("content-type", "application/json")
}

/// A fake FCM on `rx`: tokens containing `dead` get `code`, the others are delivered.
async fn fake_fcm(app: &TestApp, rx: &Receiver, code: &str) {
    rx.rule(
        "/token",
        None,
        Answer::new(
            200,
            r#"{"access_token":"at-1","expires_in":3600,"token_type":"Bearer"}"#,
        )
        .header("content-type", "application/json"),
    );
    let status = if code == "SENDER_ID_MISMATCH" {
        403
    } else {
        404
    };
    rx.rule(SEND, Some("dead"), fcm_error(status, code));
    rx.rule(
        SEND,
        None,
        Answer::new(200, r#"{"name":"projects/herald-test/messages/1"}"#)
            .header("content-type", "application/json"),
    );
    let account = json!({
        "type": "service_account", "project_id": "herald-test", "private_key_id": "k1",
        "private_key": RSA_KEY, "client_email": "herald@herald-test.iam.gserviceaccount.com",
        "token_uri": rx.url("/token"),
    });
    integration(
        app,
        "fcm",
        "push",
        json!({"serviceAccount": account.to_string()}),
    )
    .await;
}

async fn deliver_through(app: &TestApp, rx: &Receiver, prune: bool) {
    let base = rx.url("").parse().expect("a URL");
    app.worker_with(|s| {
        s.providers
            .endpoints
            .insert(herald_core::ProviderId::Fcm, base);
        s.prune_dead_tokens = prune;
    })
    .run_until_idle()
    .await;
}

fn sent_tokens(rx: &Receiver) -> Vec<String> {
    let mut t: Vec<String> = rx
        .at(SEND)
        .iter()
        .map(|r| r.json()["message"]["token"].as_str().unwrap().to_string())
        .collect();
    t.sort();
    t
}

async fn execution_details(app: &TestApp, subscriber: &str) -> Vec<Value> {
    let m = &messages(app, &format!("?subscriberId={subscriber}")).await["data"][0];
    let nid = m["_notificationId"].as_str().unwrap();
    let res = app
        .get(&format!(
            "/v1/execution-details?notificationId={nid}&subscriberId={subscriber}"
        ))
        .await;
    res.data().as_array().unwrap().clone()
}

async fn a_dead_token_is_removed_and_the_live_ones_are_delivered_once(app: TestApp) {
    let rx = Receiver::start().await;
    fake_fcm(&app, &rx, "UNREGISTERED").await;
    subscriber_with(
        &app,
        "ada",
        "fcm",
        json!({"deviceTokens": ["live-1", "dead-1", "live-2"]}),
    )
    .await;
    workflow(&app, "p", json!([push_step("Hi", "Body")])).await;
    trigger(&app, json!({"name": "p", "to": "ada"})).await;
    deliver_through(&app, &rx, true).await;
    assert_eq!(
        sent_tokens(&rx),
        ["dead-1", "live-1", "live-2"],
        "each token tried once"
    );
    assert_eq!(
        rx.at(SEND)[0].header("authorization"),
        Some("Bearer at-1"),
        "the fake's OAuth token"
    );
    let ada = app.subscriber("ada").await;
    assert_eq!(device_tokens(&ada, "fcm"), ["live-1", "live-2"]);
    assert!(
        app.metrics
            .render()
            .contains("herald_delivery_dead_tokens_removed_total{provider=\"fcm\"} 1\n"),
        "the removal is counted"
    );
    let details = execution_details(&app, "ada").await;
    let removed: Vec<&Value> = details
        .iter()
        .filter(|d| d["detail"] == "Device token removed: UNREGISTERED")
        .collect();
    assert_eq!(removed.len(), 1, "{details:?}");
    let raw: Value = serde_json::from_str(removed[0]["raw"].as_str().unwrap()).unwrap();
    assert_eq!(raw["providerId"], "fcm");
    assert_eq!(raw["code"], "UNREGISTERED");
    assert!(
        !raw["token"].as_str().unwrap().contains("dead-1"),
        "only a hint: {raw}"
    );
    // Nothing else changed, and a second trigger sends to the live tokens only.
    trigger(&app, json!({"name": "p", "to": "ada"})).await;
    deliver_through(&app, &rx, true).await;
    assert_eq!(rx.at(SEND).len(), 5);
}

async fn with_pruning_off_a_dead_token_is_kept(app: TestApp) {
    let rx = Receiver::start().await;
    fake_fcm(&app, &rx, "UNREGISTERED").await;
    subscriber_with(
        &app,
        "ada",
        "fcm",
        json!({"deviceTokens": ["live-1", "dead-1"]}),
    )
    .await;
    workflow(&app, "p", json!([push_step("Hi", "Body")])).await;
    trigger(&app, json!({"name": "p", "to": "ada"})).await;
    deliver_through(&app, &rx, false).await;
    assert_eq!(
        device_tokens(&app.subscriber("ada").await, "fcm"),
        ["live-1", "dead-1"]
    );
    let details = execution_details(&app, "ada").await;
    assert!(details.iter().any(|d| d["detail"]
        .as_str()
        .unwrap()
        .starts_with("Device token kept: pruning is off")));
}

async fn a_credential_shaped_code_without_evidence_keeps_the_token(app: TestApp) {
    let rx = Receiver::start().await;
    fake_fcm(&app, &rx, "SENDER_ID_MISMATCH").await;
    // Every token fails as if the integration's project were wrong: none may be wiped.
    subscriber_with(
        &app,
        "ada",
        "fcm",
        json!({"deviceTokens": ["dead-a", "dead-b"]}),
    )
    .await;
    workflow(&app, "p", json!([push_step("Hi", "Body")])).await;
    trigger(&app, json!({"name": "p", "to": "ada"})).await;
    deliver_through(&app, &rx, true).await;
    assert_eq!(
        device_tokens(&app.subscriber("ada").await, "fcm"),
        ["dead-a", "dead-b"]
    );
    let details = execution_details(&app, "ada").await;
    let kept = details
        .iter()
        .filter(|d| {
            d["detail"]
                .as_str()
                .unwrap()
                .starts_with("Device token kept")
        })
        .count();
    assert_eq!(kept, 2, "{details:?}");
}

backend_tests!(
    a_dead_token_is_removed_and_the_live_ones_are_delivered_once,
    with_pruning_off_a_dead_token_is_kept,
    a_credential_shaped_code_without_evidence_keeps_the_token,
    an_expo_receipt_that_says_device_not_registered_prunes_the_token,
);

async fn an_expo_receipt_that_says_device_not_registered_prunes_the_token(app: TestApp) {
    let rx = Receiver::start().await;
    let json = |a: Answer| a.header("content-type", "application/json");
    rx.rule(
        "/--/api/v2/push/send",
        None,
        json(Answer::new(
            200,
            r#"{"data":[{"status":"ok","id":"r-1"},{"status":"ok","id":"r-2"}]}"#,
        )),
    );
    rx.rule(
        "/--/api/v2/push/getReceipts",
        None,
        json(Answer::new(
            200,
            r#"{"data":{"r-1":{"status":"ok"},"r-2":{"status":"error","message":"gone",
                "details":{"error":"DeviceNotRegistered"}}}}"#,
        )),
    );
    integration(&app, "expo", "push", json!({"apiKey": "expo-token"})).await;
    subscriber_with(
        &app,
        "ada",
        "expo",
        json!({"deviceTokens": ["ExponentPushToken[live]", "ExponentPushToken[gone]"]}),
    )
    .await;
    workflow(&app, "p", json!([push_step("Hi", "Body")])).await;
    trigger(&app, json!({"name": "p", "to": "ada"})).await;
    let base = rx.url("").parse().expect("a URL");
    let worker = app.worker_with(|s| {
        s.providers
            .endpoints
            .insert(herald_core::ProviderId::Expo, base);
    });
    worker.run_until_idle().await;
    assert_eq!(
        rx.at("/--/api/v2/push/send").len(),
        1,
        "one batch for both tokens"
    );
    assert_eq!(messages(&app, "").await["data"][0]["status"], "sent");
    // Receipts are not due yet; sixteen minutes later they are.
    assert_eq!(
        worker.check_receipts(herald_core::Timestamp::now()).await,
        0
    );
    let later = herald_core::Timestamp::from_millis(
        herald_core::Timestamp::now().millis() + 16 * 60 * 1000,
    );
    assert_eq!(worker.check_receipts(later).await, 2);
    let asked = rx.at("/--/api/v2/push/getReceipts");
    assert_eq!(asked.len(), 1);
    let mut ids: Vec<String> = asked[0].json()["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, ["r-1", "r-2"]);
    assert_eq!(
        device_tokens(&app.subscriber("ada").await, "expo"),
        ["ExponentPushToken[live]"]
    );
    assert!(
        app.metrics
            .render()
            .contains("herald_delivery_dead_tokens_removed_total{provider=\"expo\"} 1\n"),
        "the removal is counted"
    );
    let m = &messages(&app, "").await["data"][0];
    assert_eq!(m["status"], "error", "{m}");
    let details = execution_details(&app, "ada").await;
    assert!(
        details
            .iter()
            .any(|d| d["detail"] == "Device token removed: DeviceNotRegistered"),
        "{details:?}"
    );
    // Done: nothing is due any more.
    assert_eq!(worker.check_receipts(later).await, 0);
}
