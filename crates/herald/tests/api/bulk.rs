//! `POST /v1/subscribers/bulk` (spec §3.4; cases 40, 41, 44), and each item written whole or not at
//! all (issue 14).

use serde_json::{json, Value};

use crate::helpers::TestApp;

backend_tests!(
    bulk_reports_created_and_updated_in_input_order,
    bulk_validates_the_list_and_each_item,
    bulk_revives_a_deleted_subscriber_as_updated,
    bulk_creates_subscribers_without_version,
    bulk_binds_channels_and_reports_unbindable_items_as_failed,
    bulk_writes_each_item_whole_or_not_at_all,
    bulk_reports_unbindable_and_unwritable_items_in_input_order,
);

async fn bulk_reports_created_and_updated_in_input_order(app: TestApp) {
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let res = app
        .post(
            "/v1/subscribers/bulk",
            json!({"subscribers": [
                {"subscriberId": "b1"},
                {"subscriberId": "s1", "firstName": "Up"},
                {"subscriberId": "b1", "lastName": "x"},
            ]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(
        res.data(),
        &json!({
            "updated": [{"subscriberId": "s1"}, {"subscriberId": "b1"}],
            "created": [{"subscriberId": "b1"}],
            "failed": [],
        })
    );
    assert_eq!(app.subscriber("s1").await["firstName"], "Up");
    assert_eq!(app.subscriber("b1").await["lastName"], "x");
}

async fn bulk_validates_the_list_and_each_item(app: TestApp) {
    app.post("/v1/subscribers/bulk", json!({"subscribers": []}))
        .await
        .assert_validation(&["subscribers should not be empty"]);

    let many: Vec<Value> = (0..501)
        .map(|i| json!({ "subscriberId": format!("u{i}") }))
        .collect();
    let res = app
        .post("/v1/subscribers/bulk", json!({ "subscribers": many }))
        .await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert_eq!(
        res.body["message"][0],
        "subscribers must contain no more than 500 elements"
    );
    assert_eq!(res.body["error"], "Bad Request");

    app.post(
        "/v1/subscribers/bulk",
        json!({"subscribers": [{"subscriberId": "x", "email": "bad"}]}),
    )
    .await
    .assert_validation(&["subscribers.0.email must be an email"]);

    app.post("/v1/subscribers/bulk", json!({}))
        .await
        .assert_validation(&[
            "subscribers must contain no more than 500 elements",
            "subscribers should not be empty",
            "subscribers must be an array",
        ]);

    app.post(
        "/v1/subscribers/bulk",
        json!({"subscribers": [{"subscriberId": "x", "email": "bad"}, {"firstName": "y"}]}),
    )
    .await
    .assert_validation(&[
        "subscribers.0.email must be an email",
        "subscribers.1.subscriberId should not be null or undefined",
        "subscribers.1.subscriberId must be a string",
    ]);
    // Nothing was written by the refused requests.
    assert_eq!(app.get("/v1/subscribers").await.body["data"], json!([]));
}

async fn bulk_revives_a_deleted_subscriber_as_updated(app: TestApp) {
    app.post(
        "/v1/subscribers/bulk",
        json!({"subscribers": [{"subscriberId": "b1"}]}),
    )
    .await;
    let res = app.delete("/v1/subscribers/b1").await;
    assert_eq!(res.status, 200, "{}", res.text);
    app.get("/v1/subscribers/b1")
        .await
        .assert_not_found("Subscriber not found for id b1");

    let res = app
        .post(
            "/v1/subscribers/bulk",
            json!({"subscribers": [{"subscriberId": "b1"}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(
        res.data(),
        &json!({"updated": [{"subscriberId": "b1"}], "created": [], "failed": []})
    );
    let revived = app.subscriber("b1").await;
    assert_eq!(revived["deleted"], false);
}

async fn bulk_creates_subscribers_without_version(app: TestApp) {
    let res = app
        .post(
            "/v1/subscribers/bulk",
            json!({"subscribers": [{"subscriberId": "b1", "email": "b1@example.com"}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let s = app.subscriber("b1").await;
    assert!(s.get("__v").is_none(), "{s}");
    assert_eq!(s["email"], "b1@example.com");
    assert_eq!(s["channels"], json!([]));
}

async fn bulk_binds_channels_and_reports_unbindable_items_as_failed(app: TestApp) {
    let fx = app.spec_fixture().await;
    let res = app
        .post(
            "/v1/subscribers/bulk",
            json!({"subscribers": [
                {"subscriberId": "b1", "channels": [
                    {"providerId": "fcm", "credentials": {"deviceTokens": ["t1", "t1"]}}]},
                {"subscriberId": "b2", "channels": [
                    {"providerId": "expo", "credentials": {"deviceTokens": ["t2"]}}]},
            ]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let message = format!(
        "Subscribers environment ({}) do not have active expo integration.",
        fx.env
    );
    assert_eq!(
        res.data(),
        &json!({"updated": [], "created": [{"subscriberId": "b1"}],
                "failed": [{"subscriberId": "b2", "message": message}]})
    );
    let b1 = app.subscriber("b1").await;
    assert_eq!(
        b1["channels"],
        json!([{"providerId": "fcm", "integrationIdentifier": "fcm",
                "credentials": {"deviceTokens": ["t1"]}, "_integrationId": fx.fcm}])
    );
    app.get("/v1/subscribers/b2")
        .await
        .assert_not_found("Subscriber not found for id b2");
}

/// `n` distinct device tokens named `{prefix}{i}`.
fn tokens(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

/// `bob`, with a first name and 95 FCM device tokens.
async fn bob_with_95_tokens(app: &TestApp) -> Value {
    app.create_subscriber(json!({"subscriberId": "bob", "firstName": "Bob"}))
        .await;
    let res = app
        .put(
            "/v1/subscribers/bob/credentials",
            json!({"providerId": "fcm", "credentials": {"deviceTokens": tokens("held-", 95)}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    app.subscriber("bob").await
}

/// The security review's reproduction: the failing item leaves nothing behind (neither its
/// profile change nor any channel), the items before and after it are written whole.
async fn bulk_writes_each_item_whole_or_not_at_all(app: TestApp) {
    app.spec_fixture().await;
    let bob = bob_with_95_tokens(&app).await;
    let res = app
        .post(
            "/v1/subscribers/bulk",
            json!({"subscribers": [
                {"subscriberId": "carol", "channels": [
                    {"providerId": "slack", "credentials": {"webhookUrl": "https://hooks.example.com/carol"}}]},
                {"subscriberId": "bob", "firstName": "Robert", "channels": [
                    {"providerId": "fcm", "credentials": {"deviceTokens": tokens("new-", 10)}}]},
                {"subscriberId": "dave", "channels": [
                    {"providerId": "slack", "credentials": {"webhookUrl": "https://hooks.example.com/dave"}}]},
            ]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(
        res.data(),
        &json!({
            "updated": [],
            "created": [{"subscriberId": "carol"}, {"subscriberId": "dave"}],
            "failed": [{"subscriberId": "bob", "message":
                "credentials.deviceTokens: a channel can hold at most 100 device tokens; this request would leave 105"}],
        })
    );
    assert_eq!(app.subscriber("bob").await, bob, "bob is unchanged");
    for id in ["carol", "dave"] {
        let s = app.subscriber(id).await;
        let webhooks: Vec<&Value> = s["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["credentials"]["webhookUrl"])
            .collect();
        assert_eq!(
            webhooks,
            [&json!(format!("https://hooks.example.com/{id}"))],
            "{s}"
        );
    }
}

/// `failed`, `created` and `updated` keep input order whichever step an item failed at.
async fn bulk_reports_unbindable_and_unwritable_items_in_input_order(app: TestApp) {
    let fx = app.spec_fixture().await;
    bob_with_95_tokens(&app).await;
    let res = app
        .post(
            "/v1/subscribers/bulk",
            json!({"subscribers": [
                {"subscriberId": "bob", "channels": [
                    {"providerId": "fcm", "credentials": {"deviceTokens": tokens("new-", 10)}}]},
                {"subscriberId": "erin", "channels": [
                    {"providerId": "expo", "credentials": {"deviceTokens": ["e1"]}}]},
                {"subscriberId": "bob", "lastName": "B"},
            ]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let data = res.data();
    assert_eq!(data["updated"], json!([{"subscriberId": "bob"}]));
    assert_eq!(data["created"], json!([]));
    let failed: Vec<&Value> = data["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["subscriberId"])
        .collect();
    assert_eq!(failed, [&json!("bob"), &json!("erin")]);
    assert_eq!(
        data["failed"][1]["message"],
        format!(
            "Subscribers environment ({}) do not have active expo integration.",
            fx.env
        )
    );
    let bob = app.subscriber("bob").await;
    assert_eq!(bob["lastName"], "B");
    assert_eq!(
        crate::helpers::channel(&bob, "fcm")["credentials"]["deviceTokens"]
            .as_array()
            .unwrap()
            .len(),
        95
    );
}
