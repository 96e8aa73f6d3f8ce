//! v1 integrations (delivery spec §1.2-1.5): create, list, list active, update, delete (soft),
//! set-primary, and how they decide which integration a subscriber channel binds to.

use serde_json::{json, Value};

use crate::helpers::{channel, TestApp};

backend_tests!(
    create_answers_201_with_a_generated_identifier_and_the_provider_name,
    create_with_a_taken_identifier_is_409,
    create_refuses_a_channel_that_does_not_match_the_provider,
    create_validates_provider_and_channel,
    create_refuses_another_environment_id,
    list_returns_all_and_active_returns_only_active_ones,
    update_changes_the_given_fields,
    update_of_an_unknown_integration_is_404,
    update_without_properties_is_400,
    update_to_a_taken_identifier_is_409,
    activating_an_integration_lets_subscribers_bind_to_it,
    delete_is_soft_and_answers_the_remaining_integrations,
    set_primary_makes_the_integration_primary_and_active,
    a_channel_keeps_its_integration_id_after_the_integration_is_deleted,
);

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("an array")
        .iter()
        .map(|i| i["identifier"].as_str().unwrap())
        .collect()
}

async fn create_answers_201_with_a_generated_identifier_and_the_provider_name(app: TestApp) {
    let res = app
        .post(
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "credentials": {"serviceAccount": "{}"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let i = res.data();
    assert_eq!(i["providerId"], "fcm");
    assert_eq!(i["channel"], "push");
    assert_eq!(i["name"], "Firebase Cloud Messaging");
    let identifier = i["identifier"].as_str().unwrap();
    let suffix = identifier
        .strip_prefix("firebase-cloud-messaging-")
        .unwrap_or_else(|| panic!("slug of the name, then a short id: {identifier}"));
    assert!(
        !suffix.is_empty()
            && suffix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "{identifier}"
    );
    assert_eq!(i["active"], false);
    assert_eq!(i["deleted"], false);
    assert_eq!(i["primary"], false);
    assert_eq!(i["_id"].as_str().map(str::len), Some(24));
    for key in ["_environmentId", "_organizationId"] {
        assert!(i[key].is_string(), "{key}: {i}");
    }
    assert_eq!(i["credentials"], json!({"serviceAccount": "{}"}));

    let named = app
        .create_integration(json!({"providerId": "slack", "channel": "chat", "name": "Team Chat"}))
        .await;
    assert_eq!(named["name"], "Team Chat");
    assert!(
        named["identifier"]
            .as_str()
            .unwrap()
            .starts_with("team-chat-"),
        "{named}"
    );
}

async fn create_with_a_taken_identifier_is_409(app: TestApp) {
    app.spec_fixture().await;
    app.post(
        "/v1/integrations",
        json!({"providerId": "discord", "channel": "chat", "identifier": "slack"}),
    )
    .await
    .assert_error(
        409,
        json!("Integration with identifier already exists"),
        Some("Conflict"),
    );
    assert_eq!(
        app.get("/v1/integrations")
            .await
            .data()
            .as_array()
            .map(Vec::len),
        Some(5)
    );
}

async fn create_refuses_a_channel_that_does_not_match_the_provider(app: TestApp) {
    app.post(
        "/v1/integrations",
        json!({"providerId": "slack", "channel": "push"}),
    )
    .await
    .assert_validation(&["channel must be chat for provider slack"]);
    app.post(
        "/v1/integrations",
        json!({"providerId": "fcm", "channel": "chat"}),
    )
    .await
    .assert_validation(&["channel must be push for provider fcm"]);
    assert_eq!(app.get("/v1/integrations").await.data(), &json!([]));
}

async fn create_validates_provider_and_channel(app: TestApp) {
    app.post("/v1/integrations", json!({}))
        .await
        .assert_validation(&[
            "providerId should not be null or undefined",
            "providerId must be a string",
            "channel should not be null or undefined",
            "channel must be a string",
        ]);
    app.post(
        "/v1/integrations",
        json!({"providerId": "slack", "channel": "fax"}),
    )
    .await
    .assert_validation(&[
        "channel must be one of the following values: in_app, email, sms, chat, push",
    ]);
    let res = app
        .post(
            "/v1/integrations",
            json!({"providerId": "sendgrid", "channel": "email"}),
        )
        .await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert!(
        res.body["message"][0]
            .as_str()
            .unwrap()
            .starts_with("providerId must be one of the following values: slack, discord"),
        "{}",
        res.text
    );
    app.post(
        "/v1/integrations",
        json!({"providerId": "slack", "channel": "chat", "active": "yes"}),
    )
    .await
    .assert_validation(&["active must be a boolean value"]);
}

async fn create_refuses_another_environment_id(app: TestApp) {
    let fx = app.spec_fixture().await;
    let prod = app
        .with_key(&app.production_key)
        .get("/v1/integrations")
        .await;
    assert_eq!(prod.status, 200, "{}", prod.text);
    let envs = app.store.list_environments().await.expect("environments");
    let production = envs.iter().find(|e| e.name == "Production").unwrap();
    app.post(
        "/v1/integrations",
        json!({"providerId": "slack", "channel": "chat", "_environmentId": production.id.to_string()}),
    )
    .await
    .assert_validation(&["_environmentId must be the environment of the API key"]);
    app.post(
        "/v1/integrations",
        json!({"providerId": "slack", "channel": "chat", "_environmentId": "nope"}),
    )
    .await
    .assert_validation(&["_environmentId must be a mongodb id"]);
    // Its own environment id is accepted.
    let own = app
        .create_integration(
            json!({"providerId": "slack", "channel": "chat", "_environmentId": fx.env}),
        )
        .await;
    assert_eq!(own["_environmentId"], fx.env.as_str());
    let prod = app
        .with_key(&app.production_key)
        .get("/v1/integrations")
        .await;
    assert_eq!(prod.data(), &json!([]));
}

async fn list_returns_all_and_active_returns_only_active_ones(app: TestApp) {
    let fx = app.spec_fixture().await;
    let all = app.get("/v1/integrations").await;
    assert_eq!(all.status, 200, "{}", all.text);
    assert_eq!(
        ids(all.data()),
        ["slack", "slack-2", "fcm", "discord", "expo"]
    );
    for i in all.data().as_array().unwrap() {
        assert_eq!(i["_environmentId"], fx.env.as_str());
        assert_eq!(i["deleted"], false);
    }
    let active = app.get("/v1/integrations/active").await;
    assert_eq!(active.status, 200, "{}", active.text);
    assert_eq!(ids(active.data()), ["slack", "slack-2", "fcm", "discord"]);
}

async fn update_changes_the_given_fields(app: TestApp) {
    let fx = app.spec_fixture().await;
    let path = format!("/v1/integrations/{}", fx.discord);
    // pyc sends providerId and channel too; unknown fields are ignored.
    let res = app
        .put(
            &path,
            json!({"name": "Ops Discord", "credentials": {"apiKey": "k"},
                   "providerId": "discord", "channel": "chat"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let i = res.data();
    assert_eq!(i["_id"], fx.discord.as_str());
    assert_eq!(i["name"], "Ops Discord");
    assert_eq!(i["identifier"], "discord");
    assert_eq!(i["credentials"], json!({"apiKey": "k"}));
    assert_eq!(i["active"], true);

    let res = app
        .put(&path, json!({"identifier": "discord-ops", "active": false}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data()["identifier"], "discord-ops");
    assert_eq!(res.data()["active"], false);
    assert_eq!(res.data()["name"], "Ops Discord");
    let active = app.get("/v1/integrations/active").await;
    assert_eq!(ids(active.data()), ["slack", "slack-2", "fcm"]);
}

async fn update_of_an_unknown_integration_is_404(app: TestApp) {
    app.spec_fixture().await;
    let missing = "0123456789abcdef01234567";
    app.put(&format!("/v1/integrations/{missing}"), json!({"name": "x"}))
        .await
        .assert_not_found(&format!("Entity with id {missing} not found"));
    app.put("/v1/integrations/not-an-id", json!({"name": "x"}))
        .await
        .assert_not_found("Entity with id not-an-id not found");
}

async fn update_without_properties_is_400(app: TestApp) {
    let fx = app.spec_fixture().await;
    app.put(&format!("/v1/integrations/{}", fx.fcm), json!({}))
        .await
        .assert_bad_request("No properties found for update");
}

async fn update_to_a_taken_identifier_is_409(app: TestApp) {
    let fx = app.spec_fixture().await;
    app.put(
        &format!("/v1/integrations/{}", fx.fcm),
        json!({"identifier": "slack"}),
    )
    .await
    .assert_error(
        409,
        json!("Integration with identifier already exists"),
        Some("Conflict"),
    );
}

async fn activating_an_integration_lets_subscribers_bind_to_it(app: TestApp) {
    let fx = app.spec_fixture().await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let body =
        json!({"providerId": "expo", "credentials": {"deviceTokens": ["ExponentPushToken[x]"]}});
    let res = app
        .put("/v1/subscribers/s1/credentials", body.clone())
        .await;
    assert_eq!(res.status, 400, "{}", res.text);

    let res = app
        .put(
            &format!("/v1/integrations/{}", fx.expo),
            json!({"active": true}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = app.put("/v1/subscribers/s1/credentials", body).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        channel(res.data(), "expo")["_integrationId"],
        fx.expo.as_str()
    );
}

async fn delete_is_soft_and_answers_the_remaining_integrations(app: TestApp) {
    let fx = app.spec_fixture().await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let res = app.delete(&format!("/v1/integrations/{}", fx.fcm)).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(ids(res.data()), ["slack", "slack-2", "discord", "expo"]);
    assert_eq!(
        ids(app.get("/v1/integrations").await.data()),
        ["slack", "slack-2", "discord", "expo"]
    );
    app.delete(&format!("/v1/integrations/{}", fx.fcm))
        .await
        .assert_not_found(&format!("Entity with id {} not found", fx.fcm));
    // A deleted integration binds no new channel.
    app.put(
        "/v1/subscribers/s1/credentials",
        json!({"providerId": "fcm", "credentials": {"deviceTokens": ["t"]}}),
    )
    .await
    .assert_bad_request(&format!(
        "Subscribers environment ({}) do not have active fcm integration.",
        fx.env
    ));
    // Its identifier is free again.
    app.create_integration(json!({"providerId": "fcm", "channel": "push", "identifier": "fcm"}))
        .await;
}

async fn set_primary_makes_the_integration_primary_and_active(app: TestApp) {
    let fx = app.spec_fixture().await;
    let res = app
        .post(
            &format!("/v1/integrations/{}/set-primary", fx.expo),
            json!({}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data()["_id"], fx.expo.as_str());
    assert_eq!(res.data()["primary"], true);
    assert_eq!(res.data()["active"], true);

    let res = app
        .post(
            &format!("/v1/integrations/{}/set-primary", fx.fcm),
            json!({}),
        )
        .await;
    assert_eq!(res.data()["primary"], true);
    let all = app.get("/v1/integrations").await;
    let expo = all
        .data()
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["_id"] == fx.expo.as_str())
        .unwrap();
    assert_eq!(expo["primary"], false, "one primary per channel: {expo}");

    app.post("/v1/integrations/nope/set-primary", json!({}))
        .await
        .assert_validation(&["integrationId must be a mongodb id"]);
    let missing = "0123456789abcdef01234567";
    app.post(
        &format!("/v1/integrations/{missing}/set-primary"),
        json!({}),
    )
    .await
    .assert_not_found(&format!("Integration with id {missing} not found"));
}

async fn a_channel_keeps_its_integration_id_after_the_integration_is_deleted(app: TestApp) {
    let fx = app.spec_fixture().await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let res = app
        .put(
            "/v1/subscribers/s1/credentials",
            json!({"providerId": "fcm", "credentials": {"deviceTokens": ["t"]}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = app.delete(&format!("/v1/integrations/{}", fx.fcm)).await;
    assert_eq!(res.status, 200, "{}", res.text);
    // The SDKs require providerId, credentials and _integrationId on every channel.
    let s = app.subscriber("s1").await;
    let fcm = channel(&s, "fcm");
    assert_eq!(fcm["_integrationId"], fx.fcm.as_str());
    assert_eq!(fcm["credentials"], json!({"deviceTokens": ["t"]}));
    // Its identifier may be gone with it, but is never `null`.
    if let Some(identifier) = fcm.get("integrationIdentifier") {
        assert!(identifier.is_string(), "{fcm}");
    }
}
