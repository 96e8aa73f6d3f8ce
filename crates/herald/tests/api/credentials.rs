//! `PUT` (replace), `PATCH` (append) and `DELETE …/credentials` (spec §3.7; cases 25-39), with
//! the README's deliberate differences 1, 2, 7 and 8.

use serde_json::{json, Value};

use crate::helpers::{channel, channels, Fixture, TestApp};

backend_tests!(
    put_binds_the_newest_active_integration_and_dedupes_tokens,
    patch_appends_new_tokens_after_the_stored_ones,
    put_replaces_the_stored_tokens,
    patch_with_an_empty_token_list_clears_the_tokens,
    patch_without_device_tokens_keeps_the_stored_tokens,
    put_without_device_tokens_clears_the_tokens,
    put_slack_binds_the_newest_slack_and_keeps_all_eight_fields,
    put_with_an_integration_identifier_binds_that_integration,
    put_for_an_inactive_provider_is_400,
    credentials_follow_integration_changes_at_once,
    put_with_an_unknown_integration_identifier_is_400,
    credentials_of_an_unknown_subscriber_are_400_subscriber_not_found,
    credentials_must_be_an_object,
    repeating_a_write_changes_nothing,
    delete_removes_every_channel_of_the_provider_with_204,
    delete_of_an_absent_provider_is_204,
    delete_for_an_unknown_subscriber_is_404,
);

const FCM: &str = "/v1/subscribers/s1/credentials";

async fn setup(app: &TestApp) -> Fixture {
    let fx = app.spec_fixture().await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    fx
}

fn fcm(tokens: &[&str]) -> Value {
    json!({"providerId": "fcm", "credentials": {"deviceTokens": tokens}})
}

/// Writes, asserts 200 and a single-entity subscriber, returns it.
async fn write(app: &TestApp, method: &str, body: Value) -> Value {
    let res = match method {
        "PUT" => app.put(FCM, body.clone()).await,
        "PATCH" => app.patch(FCM, body.clone()).await,
        _ => unreachable!(),
    };
    assert_eq!(res.status, 200, "{method} {body}: {}", res.text);
    let s = res.data().clone();
    assert_eq!(s["id"], s["_id"], "{s}");
    assert_eq!(s["subscriberId"], "s1");
    s
}

fn tokens(subscriber: &Value) -> &Value {
    &channel(subscriber, "fcm")["credentials"]["deviceTokens"]
}

async fn put_binds_the_newest_active_integration_and_dedupes_tokens(app: TestApp) {
    let fx = setup(&app).await;
    let s = write(&app, "PUT", fcm(&["a", "a", "b"])).await;
    // Deliberate difference 8: each channel also names its integration's identifier.
    assert_eq!(
        s["channels"],
        json!([{"providerId": "fcm", "integrationIdentifier": "fcm",
                "credentials": {"deviceTokens": ["a", "b"]}, "_integrationId": fx.fcm}])
    );
    assert_eq!(app.subscriber("s1").await["channels"], s["channels"]);
}

async fn patch_appends_new_tokens_after_the_stored_ones(app: TestApp) {
    setup(&app).await;
    write(&app, "PUT", fcm(&["a", "a", "b"])).await;
    let s = write(&app, "PATCH", fcm(&["b", "c"])).await;
    assert_eq!(tokens(&s), &json!(["a", "b", "c"]));
    // A PATCH on a subscriber without that channel creates it.
    app.create_subscriber(json!({"subscriberId": "s2"})).await;
    let res = app
        .patch("/v1/subscribers/s2/credentials", fcm(&["x", "x"]))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(tokens(res.data()), &json!(["x"]));
}

async fn put_replaces_the_stored_tokens(app: TestApp) {
    setup(&app).await;
    write(&app, "PUT", fcm(&["a", "b"])).await;
    write(&app, "PATCH", fcm(&["c"])).await;
    let s = write(&app, "PUT", fcm(&["z"])).await;
    assert_eq!(tokens(&s), &json!(["z"]));
    assert_eq!(tokens(&app.subscriber("s1").await), &json!(["z"]));
}

async fn patch_with_an_empty_token_list_clears_the_tokens(app: TestApp) {
    setup(&app).await;
    write(&app, "PUT", fcm(&["z"])).await;
    let s = write(&app, "PATCH", fcm(&[])).await;
    assert_eq!(tokens(&s), &json!([]));
}

async fn patch_without_device_tokens_keeps_the_stored_tokens(app: TestApp) {
    setup(&app).await;
    write(&app, "PUT", fcm(&["x"])).await;
    let s = write(
        &app,
        "PATCH",
        json!({"providerId": "fcm", "credentials": {"webhookUrl": "https://h"}}),
    )
    .await;
    // Deliberate difference 1: Novu wipes the tokens here.
    assert_eq!(
        channel(&s, "fcm")["credentials"],
        json!({"webhookUrl": "https://h", "deviceTokens": ["x"]})
    );
    let s = write(
        &app,
        "PATCH",
        json!({"providerId": "fcm", "credentials": {}}),
    )
    .await;
    assert_eq!(tokens(&s), &json!(["x"]));
}

async fn put_without_device_tokens_clears_the_tokens(app: TestApp) {
    setup(&app).await;
    write(&app, "PUT", fcm(&["x"])).await;
    let s = write(
        &app,
        "PUT",
        json!({"providerId": "fcm", "credentials": {"webhookUrl": "https://h"}}),
    )
    .await;
    // PUT keeps Novu's replace semantics.
    assert_eq!(
        channel(&s, "fcm")["credentials"],
        json!({"webhookUrl": "https://h", "deviceTokens": []})
    );
}

async fn put_slack_binds_the_newest_slack_and_keeps_all_eight_fields(app: TestApp) {
    let fx = setup(&app).await;
    let res = app
        .put(
            FCM,
            json!({"providerId": "slack", "credentials": {"webhookUrl": "u1", "title": "t"}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let slack = channel(res.data(), "slack");
    assert_eq!(slack["_integrationId"], fx.slack_2.as_str());
    assert_eq!(slack["integrationIdentifier"], "slack-2");
    // Deliberate difference 2: `title` is kept (Novu drops it).
    assert_eq!(
        slack["credentials"],
        json!({"webhookUrl": "u1", "title": "t"})
    );

    let all = json!({"webhookUrl": "https://hooks.example/x", "channel": "#general",
        "deviceTokens": ["d1"], "alertUid": "a-1", "title": "T", "imageUrl": "https://img.example/i.png",
        "state": "alerting", "externalUrl": "https://ext.example"});
    let res = app
        .put(FCM, json!({"providerId": "discord", "credentials": all}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(channel(res.data(), "discord")["credentials"], all);
    assert_eq!(
        channel(&app.subscriber("s1").await, "discord")["credentials"],
        all
    );
}

async fn put_with_an_integration_identifier_binds_that_integration(app: TestApp) {
    let fx = setup(&app).await;
    app.put(
        FCM,
        json!({"providerId": "slack", "credentials": {"webhookUrl": "u1"}}),
    )
    .await;
    let res = app
        .put(
            FCM,
            json!({"providerId": "slack", "integrationIdentifier": "slack",
                   "credentials": {"webhookUrl": "u2"}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let found = channels(res.data(), "slack");
    assert_eq!(found.len(), 2, "{}", res.text);
    assert_eq!(found[0]["_integrationId"], fx.slack_2.as_str());
    assert_eq!(found[0]["credentials"], json!({"webhookUrl": "u1"}));
    assert_eq!(found[1]["_integrationId"], fx.slack.as_str());
    assert_eq!(found[1]["integrationIdentifier"], "slack");
    assert_eq!(found[1]["credentials"], json!({"webhookUrl": "u2"}));
}

async fn put_for_an_inactive_provider_is_400(app: TestApp) {
    let fx = setup(&app).await;
    let message = format!(
        "Subscribers environment ({}) do not have active expo integration.",
        fx.env
    );
    app.put(
        FCM,
        json!({"providerId": "expo", "credentials": {"deviceTokens": ["t"]}}),
    )
    .await
    .assert_bad_request(&message);
    app.patch(
        FCM,
        json!({"providerId": "expo", "credentials": {"deviceTokens": ["t"]}}),
    )
    .await
    .assert_bad_request(&message);
    assert_eq!(app.subscriber("s1").await["channels"], json!([]));
}

/// The server remembers which integration a provider binds to; every integration change made
/// through it (create, deactivate, delete) is followed by the very next credentials write.
async fn credentials_follow_integration_changes_at_once(app: TestApp) {
    let fx = setup(&app).await;
    // The integration of the fcm channel whose tokens include `token`.
    let bound_with = |s: &Value, token: &str| -> Value {
        let found: Vec<&Value> = channels(s, "fcm")
            .into_iter()
            .filter(|c| {
                c["credentials"]["deviceTokens"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!(token)))
            })
            .collect();
        assert_eq!(found.len(), 1, "one fcm channel holding {token}: {s}");
        found[0]["_integrationId"].clone()
    };
    let s = write(&app, "PUT", fcm(&["a"])).await;
    assert_eq!(bound_with(&s, "a"), fx.fcm.as_str());

    let newer = app
        .create_integration(json!({"providerId": "fcm", "channel": "push",
            "identifier": "fcm-newer", "active": true, "credentials": {}}))
        .await;
    let newer_id = newer["_id"].as_str().expect("integration _id").to_string();
    let s = write(&app, "PUT", fcm(&["b"])).await;
    assert_eq!(bound_with(&s, "b"), newer_id.as_str());

    let res = app
        .put(
            &format!("/v1/integrations/{newer_id}"),
            json!({"active": false}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let s = write(&app, "PATCH", fcm(&["c"])).await;
    assert_eq!(bound_with(&s, "c"), fx.fcm.as_str());

    let res = app.delete(&format!("/v1/integrations/{}", fx.fcm)).await;
    assert_eq!(res.status, 200, "{}", res.text);
    app.put(FCM, fcm(&["d"])).await.assert_bad_request(&format!(
        "Subscribers environment ({}) do not have active fcm integration.",
        fx.env
    ));
}

async fn put_with_an_unknown_integration_identifier_is_400(app: TestApp) {
    let fx = setup(&app).await;
    app.put(
        FCM,
        json!({"providerId": "slack", "integrationIdentifier": "missing", "credentials": {}}),
    )
    .await
    .assert_bad_request(&format!(
        "Subscribers environment ({}) do not have active slack integration.",
        fx.env
    ));
    // An identifier of another provider's integration does not match either.
    app.put(
        FCM,
        json!({"providerId": "slack", "integrationIdentifier": "fcm", "credentials": {}}),
    )
    .await
    .assert_bad_request(&format!(
        "Subscribers environment ({}) do not have active slack integration.",
        fx.env
    ));
}

async fn credentials_of_an_unknown_subscriber_are_400_subscriber_not_found(app: TestApp) {
    setup(&app).await;
    let path = "/v1/subscribers/nope/credentials";
    // Deliberate difference 7: stays Novu's 400, for PUT and PATCH alike.
    app.put(path, json!({"providerId": "fcm", "credentials": {}}))
        .await
        .assert_bad_request("SubscriberId: nope not found");
    app.patch(path, fcm(&["t"]))
        .await
        .assert_bad_request("SubscriberId: nope not found");
    // The subscriber is checked before the integration.
    app.put(path, json!({"providerId": "expo", "credentials": {}}))
        .await
        .assert_bad_request("SubscriberId: nope not found");
}

async fn credentials_must_be_an_object(app: TestApp) {
    setup(&app).await;
    app.put(FCM, json!({"providerId": "slack"}))
        .await
        .assert_validation(&[
            "credentials should not be null or undefined",
            "credentials must be an object",
        ]);
    app.put(FCM, json!({"providerId": "slack", "credentials": []}))
        .await
        .assert_validation(&["credentials must be an object"]);
    app.put(FCM, json!({"providerId": "slack", "credentials": "str"}))
        .await
        .assert_validation(&["credentials must be an object"]);
    app.put(FCM, json!({})).await.assert_validation(&[
        "providerId should not be null or undefined",
        "providerId must be a string",
        "credentials should not be null or undefined",
        "credentials must be an object",
    ]);
    app.put(
        FCM,
        json!({"providerId": "slack", "integrationIdentifier": 5, "credentials": {}}),
    )
    .await
    .assert_validation(&["integrationIdentifier must be a string"]);
}

async fn repeating_a_write_changes_nothing(app: TestApp) {
    setup(&app).await;
    let first = write(&app, "PUT", fcm(&["z"])).await;
    let again = write(&app, "PUT", fcm(&["z"])).await;
    assert_eq!(again["updatedAt"], first["updatedAt"]);
    assert_eq!(again["channels"], first["channels"]);
    let patched = write(&app, "PATCH", fcm(&["z"])).await;
    assert_eq!(patched["updatedAt"], first["updatedAt"]);
    assert_eq!(app.subscriber("s1").await["updatedAt"], first["updatedAt"]);
}

async fn delete_removes_every_channel_of_the_provider_with_204(app: TestApp) {
    setup(&app).await;
    write(&app, "PUT", fcm(&["a"])).await;
    for identifier in ["slack", "slack-2"] {
        let res = app
            .put(
                FCM,
                json!({"providerId": "slack", "integrationIdentifier": identifier,
                       "credentials": {"webhookUrl": identifier}}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
    }
    assert_eq!(channels(&app.subscriber("s1").await, "slack").len(), 2);

    let res = app.delete("/v1/subscribers/s1/credentials/slack").await;
    assert_eq!(res.status, 204);
    assert_eq!(res.text, "");
    assert_eq!(res.content_type(), None);
    let s = app.subscriber("s1").await;
    assert!(channels(&s, "slack").is_empty(), "{s}");
    assert_eq!(tokens(&s), &json!(["a"]));
}

async fn delete_of_an_absent_provider_is_204(app: TestApp) {
    setup(&app).await;
    let res = app.delete("/v1/subscribers/s1/credentials/discord").await;
    assert_eq!(res.status, 204);
    assert_eq!(res.text, "");
    // Any provider id is accepted here, as in Novu.
    let res = app.delete("/v1/subscribers/s1/credentials/sendgrid").await;
    assert_eq!(res.status, 204);
}

async fn delete_for_an_unknown_subscriber_is_404(app: TestApp) {
    setup(&app).await;
    app.delete("/v1/subscribers/nope/credentials/fcm")
        .await
        .assert_not_found("Subscriber not found for id nope");
    app.delete("/v1/subscribers/nope/credentials/sendgrid")
        .await
        .assert_not_found("Subscriber not found for id nope");
}
