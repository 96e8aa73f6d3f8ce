//! Requests exactly as the official SDKs send them (SDK wire §1 item 9, §3): `//v1/…` from a base
//! URL ending in `/`, percent-encoded ids, the `Idempotency-Key` and empty `Cookie` headers of
//! `@novu/api`, and the classic Python SDK's `null` for every unset field.

use reqwest::header::COOKIE;
use reqwest::Method;
use serde_json::json;

use crate::helpers::TestApp;

backend_tests!(
    a_double_slash_path_is_served,
    percent_encoded_subscriber_ids_round_trip,
    a_literal_percent_in_a_subscriber_id_is_decoded_once,
    idempotency_key_and_empty_cookie_headers_are_accepted,
    classic_python_bodies_with_nulls_are_accepted,
);

async fn a_double_slash_path_is_served(app: TestApp) {
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let res = app.get("//v1/subscribers").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["data"][0]["subscriberId"], "s1");
    let res = app.get("//v1/subscribers/s1").await;
    assert_eq!(res.data()["subscriberId"], "s1");
    let res = app
        .post("//v1/subscribers", json!({"subscriberId": "s2"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
}

async fn percent_encoded_subscriber_ids_round_trip(app: TestApp) {
    app.spec_fixture().await;
    for (id, encoded) in [("a/b", "a%2Fb"), ("x@y.com", "x%40y.com"), ("p+q", "p%2Bq")] {
        app.create_subscriber(json!({ "subscriberId": id })).await;
        let s = app.subscriber(encoded).await;
        assert_eq!(s["subscriberId"], id);

        let res = app
            .put(
                &format!("/v1/subscribers/{encoded}"),
                json!({"firstName": "E"}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(res.data()["subscriberId"], id);

        let res = app
            .put(
                &format!("/v1/subscribers/{encoded}/credentials"),
                json!({"providerId": "fcm", "credentials": {"deviceTokens": ["t"]}}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        let res = app
            .delete(&format!("/v1/subscribers/{encoded}/credentials/fcm"))
            .await;
        assert_eq!(res.status, 204, "{}", res.text);
        let res = app
            .patch(
                &format!("/v1/subscribers/{encoded}/online-status"),
                json!({"isOnline": true}),
            )
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        let res = app.delete(&format!("/v1/subscribers/{encoded}")).await;
        assert_eq!(res.status, 200, "{}", res.text);
        app.get(&format!("/v1/subscribers/{encoded}"))
            .await
            .assert_not_found(&format!("Subscriber not found for id {id}"));
    }
}

async fn a_literal_percent_in_a_subscriber_id_is_decoded_once(app: TestApp) {
    // `%2541` is `%41` once decoded; decoding twice would look up `A`.
    app.create_subscriber(json!({"subscriberId": "50%41"}))
        .await;
    app.create_subscriber(json!({"subscriberId": "50A"})).await;
    let s = app.subscriber("50%2541").await;
    assert_eq!(s["subscriberId"], "50%41");
    app.get("/v1/subscribers/100%25")
        .await
        .assert_not_found("Subscriber not found for id 100%");
}

async fn idempotency_key_and_empty_cookie_headers_are_accepted(app: TestApp) {
    let rb = app
        .request(Method::GET, "/v1/subscribers")
        .header("idempotency-key", "k-1")
        .header(COOKIE, "");
    let res = app.send(rb).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let rb = app
        .request(Method::POST, "/v1/subscribers")
        .header("idempotency-key", "k-2")
        .json(&json!({"subscriberId": "s1"}));
    let res = app.send(rb).await;
    assert_eq!(res.status, 201, "{}", res.text);
}

async fn classic_python_bodies_with_nulls_are_accepted(app: TestApp) {
    app.spec_fixture().await;
    let nulls = |id: &str| {
        json!({"subscriberId": id, "email": null, "firstName": null, "lastName": null,
               "phone": null, "avatar": null, "locale": null, "channels": null, "data": null})
    };
    let res = app.post("/v1/subscribers", nulls("py1")).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.data()["subscriberId"], "py1");
    assert_eq!(res.data()["channels"], json!([]));

    let mut update = nulls("py1");
    update["firstName"] = json!("Py");
    let res = app.put("/v1/subscribers/py1", update).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data()["firstName"], "Py");

    let res = app
        .post(
            "/v1/subscribers/bulk",
            json!({"subscribers": [nulls("py2"), nulls("py1")]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.data()["created"], json!([{"subscriberId": "py2"}]));

    // `credentials(id, provider_id, webhook_url=None, device_tokens=[…])`
    let res = app
        .put(
            "/v1/subscribers/py1/credentials",
            json!({"providerId": "fcm", "credentials": {"webhookUrl": null, "deviceTokens": ["t"]}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);

    // IntegrationDto: no name or identifier; the update repeats providerId and channel.
    let res = app
        .post(
            "/v1/integrations",
            json!({"providerId": "pushpad", "channel": "push", "active": true,
                   "credentials": {"apiKey": "k", "applicationId": null}, "check": true}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let id = res.data()["_id"].as_str().unwrap().to_string();
    let res = app
        .put(
            &format!("/v1/integrations/{id}"),
            json!({"providerId": "pushpad", "channel": "push", "active": false,
                   "credentials": {"apiKey": "k2"}, "check": true}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data()["active"], false);
}
