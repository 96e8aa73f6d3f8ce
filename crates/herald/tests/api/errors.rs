//! What every response shares (spec §1.1, §1.3, §1.4; SDK wire §1): JSON content type, the
//! `{"data": …}` envelope, Novu's error body, and the errors for malformed and oversized bodies,
//! unknown routes and undecodable paths.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_error_shape, TestApp, TestResponse};

backend_tests!(
    every_error_is_json_with_status_timestamp_path_and_message,
    success_responses_are_json_in_a_data_only_envelope,
    malformed_json_is_400_with_a_string_message,
    a_body_over_100_kb_is_413_in_novu_format,
    an_unknown_route_is_404_cannot_method_path,
    a_path_id_that_is_not_utf8_is_400,
);

async fn every_error_is_json_with_status_timestamp_path_and_message(app: TestApp) {
    let fx = app.spec_fixture().await;
    let integration = format!("/v1/integrations/{}?dry=1", fx.fcm);
    let cases: Vec<(TestResponse, &str)> = vec![
        (
            app.anonymous().get("/v1/subscribers?page=1").await,
            "/v1/subscribers?page=1",
        ),
        (
            app.get("/v1/subscribers?limit=0&x=%20y").await,
            "/v1/subscribers?limit=0&x=%20y",
        ),
        (
            app.get("/v1/subscribers/nope").await,
            "/v1/subscribers/nope",
        ),
        (
            app.put("/v1/subscribers/nope", json!({})).await,
            "/v1/subscribers/nope",
        ),
        (
            app.post(
                "/v1/integrations",
                json!({"providerId": "slack", "channel": "chat", "identifier": "slack"}),
            )
            .await,
            "/v1/integrations",
        ),
        (app.put(&integration, json!({})).await, &integration),
        (app.get("/v1/nothing-here").await, "/v1/nothing-here"),
    ];
    for (res, path) in &cases {
        assert!(res.status >= 400, "{}", res.text);
        assert_error_shape(res);
        assert_eq!(res.body["path"], *path, "{}", res.text);
    }
}

async fn success_responses_are_json_in_a_data_only_envelope(app: TestApp) {
    let fx = app.spec_fixture().await;
    let responses = vec![
        app.post("/v1/subscribers", json!({"subscriberId": "s1"}))
            .await,
        app.get("/v1/subscribers/s1").await,
        app.put("/v1/subscribers/s1", json!({"firstName": "A"}))
            .await,
        app.put(
            "/v1/subscribers/s1/credentials",
            json!({"providerId": "fcm", "credentials": {"deviceTokens": ["t"]}}),
        )
        .await,
        app.patch(
            "/v1/subscribers/s1/online-status",
            json!({"isOnline": true}),
        )
        .await,
        app.post(
            "/v1/subscribers/bulk",
            json!({"subscribers": [{"subscriberId": "s2"}]}),
        )
        .await,
        app.get("/v1/integrations").await,
        app.get("/v1/integrations/active").await,
        app.put(
            &format!("/v1/integrations/{}", fx.fcm),
            json!({"name": "Push"}),
        )
        .await,
        app.delete("/v1/subscribers/s2").await,
    ];
    for res in &responses {
        assert!(res.status == 200 || res.status == 201, "{}", res.text);
        // `data()` checks the content type and that `data` is the only key.
        let data = res.data();
        assert!(data.is_object() || data.is_array(), "{}", res.text);
    }
    // The paginated list is not wrapped: `data` sits beside the paging keys.
    let list = app.get("/v1/subscribers").await;
    assert_eq!(list.content_type(), Some("application/json"));
    assert!(list.body.get("page").is_some(), "{}", list.text);
    assert!(list.body["data"].is_array(), "{}", list.text);
}

async fn malformed_json_is_400_with_a_string_message(app: TestApp) {
    let res = app
        .raw(
            Method::POST,
            "/v1/subscribers",
            "application/json",
            r#"{"subscriberId":"a","#,
        )
        .await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert_error_shape(&res);
    assert_eq!(res.body["error"], "Bad Request");
    assert!(res.body["message"].is_string(), "{}", res.text);
    assert_eq!(app.get("/v1/subscribers").await.body["data"], json!([]));
}

async fn a_body_over_100_kb_is_413_in_novu_format(app: TestApp) {
    app.spec_fixture().await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let big = "x".repeat(101 * 1024);
    let res = app
        .put(
            "/v1/subscribers/s1/credentials",
            json!({"providerId": "slack", "credentials": {"webhookUrl": big}}),
        )
        .await;
    assert_eq!(res.status, 413, "{}", res.text);
    assert_error_shape(&res);
    assert_eq!(res.body["path"], "/v1/subscribers/s1/credentials");
    assert_eq!(app.subscriber("s1").await["channels"], json!([]));

    let items: Vec<Value> = (0..500)
        .map(|i| json!({"subscriberId": format!("bulk-subscriber-{i:04}"), "firstName": "x".repeat(200)}))
        .collect();
    let res = app
        .post("/v1/subscribers/bulk", json!({ "subscribers": items }))
        .await;
    assert_eq!(res.status, 413, "{}", res.text);
    assert_error_shape(&res);
    // Just under the limit is accepted.
    let fits = "x".repeat(90 * 1024);
    let res = app
        .put("/v1/subscribers/s1", json!({"data": {"blob": fits}}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
}

async fn an_unknown_route_is_404_cannot_method_path(app: TestApp) {
    app.get("/v1/nothing-here")
        .await
        .assert_not_found("Cannot GET /v1/nothing-here");
    app.send(app.request(Method::PATCH, "/v1/subscribers"))
        .await
        .assert_not_found("Cannot PATCH /v1/subscribers");
    app.anonymous()
        .get("/v1/nothing-here")
        .await
        .assert_not_found("Cannot GET /v1/nothing-here");
}

async fn a_path_id_that_is_not_utf8_is_400(app: TestApp) {
    let res = app.get("/v1/subscribers/%FF").await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert_error_shape(&res);
    assert_eq!(res.body["error"], "Bad Request");
}
