//! `Authorization` handling (spec §1.2, cases 1-5) and environment isolation: a key sees its own
//! environment and nothing else.

use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde_json::json;

use herald_core::KeyHash;

use crate::helpers::TestApp;

backend_tests!(
    a_request_without_authorization_is_401_missing_header,
    a_basic_scheme_is_401_invalid_scheme,
    an_unknown_api_key_is_401_api_key_not_found,
    a_bearer_token_is_401_unauthorized_without_error_key,
    a_lowercase_apikey_scheme_is_401_invalid_scheme,
    a_bare_apikey_scheme_is_401_unauthorized_without_error_key,
    a_key_after_two_spaces_is_not_trimmed,
    authentication_is_checked_before_the_body_is_validated,
    the_seeded_key_reaches_the_api,
    the_production_key_cannot_see_development_subscribers,
    the_production_key_cannot_touch_development_integrations,
    a_second_key_of_an_environment_sees_that_environment,
);

async fn with_authorization(app: &TestApp, value: &str) -> crate::helpers::TestResponse {
    let rb = app
        .anonymous()
        .request(Method::GET, "/v1/subscribers")
        .header(AUTHORIZATION, value);
    app.send(rb).await
}

async fn a_request_without_authorization_is_401_missing_header(app: TestApp) {
    let res = app.anonymous().get("/v1/subscribers").await;
    res.assert_error(
        401,
        json!("Missing authorization header"),
        Some("Unauthorized"),
    );
    assert_eq!(res.body["path"], "/v1/subscribers");
}

async fn a_basic_scheme_is_401_invalid_scheme(app: TestApp) {
    let res = with_authorization(&app, "Basic abc").await;
    res.assert_error(
        401,
        json!("Invalid authentication scheme: \"Basic\""),
        Some("Unauthorized"),
    );
}

async fn an_unknown_api_key_is_401_api_key_not_found(app: TestApp) {
    let res = with_authorization(&app, "ApiKey wrong").await;
    res.assert_error(401, json!("API Key not found"), Some("Unauthorized"));
}

async fn a_bearer_token_is_401_unauthorized_without_error_key(app: TestApp) {
    let res = with_authorization(&app, "Bearer garbage").await;
    res.assert_error(401, json!("Unauthorized"), None);
}

async fn a_lowercase_apikey_scheme_is_401_invalid_scheme(app: TestApp) {
    let res = with_authorization(&app, &format!("apikey {}", crate::helpers::API_KEY)).await;
    res.assert_error(
        401,
        json!("Invalid authentication scheme: \"apikey\""),
        Some("Unauthorized"),
    );
}

async fn a_bare_apikey_scheme_is_401_unauthorized_without_error_key(app: TestApp) {
    let res = with_authorization(&app, "ApiKey").await;
    res.assert_error(401, json!("Unauthorized"), None);
}

async fn a_key_after_two_spaces_is_not_trimmed(app: TestApp) {
    let res = with_authorization(&app, &format!("ApiKey  {}", crate::helpers::API_KEY)).await;
    res.assert_error(401, json!("API Key not found"), Some("Unauthorized"));
}

async fn authentication_is_checked_before_the_body_is_validated(app: TestApp) {
    let res = app
        .with_key("wrong")
        .post("/v1/subscribers", json!({}))
        .await;
    res.assert_error(401, json!("API Key not found"), Some("Unauthorized"));
}

async fn the_seeded_key_reaches_the_api(app: TestApp) {
    let res = app.get("/v1/subscribers").await;
    assert_eq!(res.status, 200, "{}", res.text);
    let prod = app
        .with_key(&app.production_key)
        .get("/v1/subscribers")
        .await;
    assert_eq!(prod.status, 200, "{}", prod.text);
}

async fn the_production_key_cannot_see_development_subscribers(app: TestApp) {
    let fx = app.spec_fixture().await;
    let dev = app.create_subscriber(json!({"subscriberId": "s1"})).await;
    assert_eq!(dev["_environmentId"], fx.env.as_str());
    let prod = app.with_key(&app.production_key);

    let list = prod.get("/v1/subscribers").await;
    assert_eq!(list.status, 200, "{}", list.text);
    assert_eq!(list.body["data"], json!([]));
    prod.get("/v1/subscribers/s1")
        .await
        .assert_not_found("Subscriber not found for id s1");
    prod.put("/v1/subscribers/s1", json!({"firstName": "x"}))
        .await
        .assert_bad_request("SubscriberId: s1 not found");
    prod.delete("/v1/subscribers/s1")
        .await
        .assert_not_found("Subscriber not found for id s1");

    // The same id in Production is another subscriber, in another environment.
    let res = prod
        .post(
            "/v1/subscribers",
            json!({"subscriberId": "s1", "firstName": "Prod"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_ne!(res.data()["_id"], dev["_id"]);
    assert_ne!(res.data()["_environmentId"], dev["_environmentId"]);
    let still_dev = app.subscriber("s1").await;
    assert!(still_dev.get("firstName").is_none(), "{still_dev}");
}

async fn the_production_key_cannot_touch_development_integrations(app: TestApp) {
    let fx = app.spec_fixture().await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let prod = app.with_key(&app.production_key);

    let list = prod.get("/v1/integrations").await;
    assert_eq!(list.data(), &json!([]));
    prod.put(
        &format!("/v1/integrations/{}", fx.fcm),
        json!({"name": "x"}),
    )
    .await
    .assert_not_found(&format!("Entity with id {} not found", fx.fcm));
    prod.delete(&format!("/v1/integrations/{}", fx.fcm))
        .await
        .assert_not_found(&format!("Entity with id {} not found", fx.fcm));

    // Production has no fcm integration of its own, so its subscribers cannot bind fcm.
    let prod_sub = prod
        .post("/v1/subscribers", json!({"subscriberId": "p1"}))
        .await;
    let prod_env = prod_sub.data()["_environmentId"]
        .as_str()
        .unwrap()
        .to_string();
    prod.put(
        "/v1/subscribers/p1/credentials",
        json!({"providerId": "fcm", "credentials": {"deviceTokens": ["t"]}}),
    )
    .await
    .assert_bad_request(&format!(
        "Subscribers environment ({prod_env}) do not have active fcm integration."
    ));
    // Identifiers are unique per environment: Production may reuse `fcm`.
    let res = prod
        .post(
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "identifier": "fcm", "active": true}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(
        app.get("/v1/integrations")
            .await
            .data()
            .as_array()
            .unwrap()
            .len(),
        5
    );
}

async fn a_second_key_of_an_environment_sees_that_environment(app: TestApp) {
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let envs = app.store.list_environments().await.expect("environments");
    let production = envs.iter().find(|e| e.name == "Production").unwrap();
    let development = envs.iter().find(|e| e.name == "Development").unwrap();
    let second = "herald-test-second-production-key";
    app.store
        .add_api_key(&production.id, &KeyHash::of(second), "herald-t")
        .await
        .expect("adding a key")
        .expect("the environment exists");
    let res = app.with_key(second).get("/v1/subscribers").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["data"], json!([]));

    let dev_second = "herald-test-second-development-key";
    app.store
        .add_api_key(&development.id, &KeyHash::of(dev_second), "herald-t")
        .await
        .expect("adding a key");
    let s = app.with_key(dev_second).get("/v1/subscribers/s1").await;
    assert_eq!(s.status, 200, "{}", s.text);
    assert_eq!(s.data()["subscriberId"], "s1");
}
