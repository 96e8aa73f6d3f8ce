//! Integration `credentials` typed as Novu's `CredentialsDto` and `conditions` as `StepFilterDto`
//! (SDK finding F1): a mistyped value stored once would make every later integration listing fail
//! in `@novu/api` and `novu-py`, so it is refused with class-validator messages.

use serde_json::{json, Value};

use crate::helpers::TestApp;

backend_tests!(
    integration_credentials_are_typed_like_novu_credentials_dto,
    integration_conditions_must_be_step_filters,
);

async fn integration_credentials_are_typed_like_novu_credentials_dto(app: TestApp) {
    let create = |credentials: Value| {
        let app = &app;
        async move {
            app.post(
                "/v1/integrations",
                json!({"providerId": "slack", "channel": "chat", "credentials": credentials}),
            )
            .await
        }
    };
    create(json!({"apiKey": true}))
        .await
        .assert_validation(&["credentials.apiKey must be a string"]);
    create(
        json!({"port": 587, "secure": "yes", "tlsOptions": "x", "hmacSecretKeyEncoding": "rot13"}),
    )
    .await
    .assert_validation(&[
        "credentials.port must be a string",
        "credentials.secure must be a boolean value",
        "credentials.tlsOptions must be an object",
        "credentials.hmacSecretKeyEncoding must be one of the following values: text, base64, hex",
    ]);
    let res = app.get("/v1/integrations").await;
    assert_eq!(res.data(), &json!([]), "nothing stored by refused requests");

    // Booleans given as strings are stored as booleans; nulls and unknown keys are dropped.
    let res = create(json!({"apiKey": "k", "secure": "true", "requireTls": "false", "hmac": true,
                            "apiToken": null, "unknownKey": 5, "tlsOptions": {"rejectUnauthorized": false}}))
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let expected = json!({"apiKey": "k", "secure": true, "requireTls": false, "hmac": true,
                          "tlsOptions": {"rejectUnauthorized": false}});
    assert_eq!(res.data()["credentials"], expected);
    let id = res.data()["_id"].as_str().unwrap().to_string();
    let listed = app.get("/v1/integrations").await;
    assert_eq!(listed.data()[0]["credentials"], expected);

    // The same rules on update.
    let path = format!("/v1/integrations/{id}");
    app.put(&path, json!({"credentials": {"webhookUrl": ["x"]}}))
        .await
        .assert_validation(&["credentials.webhookUrl must be a string"]);
    let res = app
        .put(
            &path,
            json!({"credentials": {"ignoreTls": "true", "webhookUrl": null, "extra": {}}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let creds = res.data()["credentials"].as_object().unwrap();
    assert_eq!(creds.get("ignoreTls"), Some(&json!(true)), "{}", res.text);
    assert!(creds.values().all(|v| !v.is_null()), "{}", res.text);
    assert!(!creds.contains_key("extra"), "{}", res.text);
    assert!(!creds.contains_key("webhookUrl"), "{}", res.text);
}

async fn integration_conditions_must_be_step_filters(app: TestApp) {
    let create = |conditions: Value| {
        let app = &app;
        async move {
            app.post(
                "/v1/integrations",
                json!({"providerId": "slack", "channel": "chat", "conditions": conditions}),
            )
            .await
        }
    };
    create(json!([{}])).await.assert_validation(&[
        "conditions.0.isNegated must be a boolean value",
        "conditions.0.type must be one of the following values: BOOLEAN, TEXT, DATE, NUMBER, STATEMENT, LIST, MULTI_LIST, GROUP",
        "conditions.0.value must be one of the following values: AND, OR",
        "conditions.0.children must be an array",
    ]);
    create(json!("x"))
        .await
        .assert_validation(&["conditions must be an array"]);
    create(json!([{"isNegated": false, "type": "GROUP", "value": "AND",
                   "children": [{"field": 1, "operator": "EQ", "on": "tenant"}, 7]}]))
    .await
    .assert_validation(&[
        "conditions.0.children.0.field must be a string",
        "conditions.0.children.0.value must be a string",
        "conditions.0.children.0.operator must be one of the following values: LARGER, SMALLER, LARGER_EQUAL, SMALLER_EQUAL, EQUAL, NOT_EQUAL, ALL_IN, ANY_IN, NOT_IN, BETWEEN, NOT_BETWEEN, LIKE, NOT_LIKE, IN",
        "conditions.0.children.0.on must be one of the following values: subscriber, payload",
        "conditions.0.children.1 must be an object",
    ]);
    assert_eq!(app.get("/v1/integrations").await.data(), &json!([]));

    let good = json!([{"isNegated": false, "type": "GROUP", "value": "AND",
                       "children": [{"field": "identifier", "value": "t1", "operator": "EQUAL",
                                     "on": "subscriber"}]}]);
    let res = create(good.clone()).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.data()["conditions"], good);
    let id = res.data()["_id"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/v1/integrations").await.data()[0]["conditions"],
        good
    );
    app.put(&format!("/v1/integrations/{id}"), json!({"conditions": [{}]}))
        .await
        .assert_validation(&[
            "conditions.0.isNegated must be a boolean value",
            "conditions.0.type must be one of the following values: BOOLEAN, TEXT, DATE, NUMBER, STATEMENT, LIST, MULTI_LIST, GROUP",
            "conditions.0.value must be one of the following values: AND, OR",
            "conditions.0.children must be an array",
        ]);
    assert_eq!(
        app.get("/v1/integrations").await.data()[0]["conditions"],
        good
    );
}
