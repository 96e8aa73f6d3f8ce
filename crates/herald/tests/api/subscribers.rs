//! v1 subscribers one by one: create/upsert, get, list, update, delete, online status
//! (spec §3.1-3.3, 3.5, 3.6, 3.8; cases 6-24, 42-43).

use serde_json::{json, Value};

use crate::helpers::{assert_iso_millis, channel, TestApp};

backend_tests!(
    a_subscriber_named_bulk_is_read_updated_and_deleted_through_v1,
    create_without_subscriber_id_lists_both_messages,
    create_with_a_numeric_subscriber_id_must_be_a_string,
    create_with_a_blank_subscriber_id_should_not_be_empty,
    create_reports_every_invalid_field_in_dto_order,
    create_trims_the_id_and_returns_the_fresh_entity,
    create_of_an_existing_id_updates_it_and_replaces_data,
    get_returns_the_subscriber_in_a_data_only_envelope,
    get_of_an_unknown_subscriber_is_404,
    list_pages_are_unwrapped_and_has_more_means_a_full_page,
    list_validates_limit_and_page_like_class_validator,
    list_ignores_unknown_query_parameters,
    update_clears_email_on_empty_string_and_answers_the_old_updated_at,
    update_of_an_unknown_subscriber_is_400_with_a_string_message,
    update_with_an_invalid_email_is_400,
    going_offline_sets_last_online_at,
    online_status_requires_is_online,
    online_status_accepts_the_online_alias_of_novu_node,
    online_status_of_an_unknown_subscriber_is_404,
    delete_soft_deletes_and_hides_the_subscriber,
    delete_of_an_unknown_subscriber_is_404,
    create_with_channels_returns_the_stored_channels,
    create_with_a_channel_of_an_inactive_provider_is_400,
    create_with_a_channel_over_the_token_limit_changes_nothing,
    create_accepts_a_form_encoded_body,
    concurrent_creates_of_one_id_make_one_subscriber,
);

async fn create_without_subscriber_id_lists_both_messages(app: TestApp) {
    app.post("/v1/subscribers", json!({}))
        .await
        .assert_validation(&[
            "subscriberId should not be null or undefined",
            "subscriberId must be a string",
        ]);
}

async fn create_with_a_numeric_subscriber_id_must_be_a_string(app: TestApp) {
    app.post("/v1/subscribers", json!({"subscriberId": 123}))
        .await
        .assert_validation(&["subscriberId must be a string"]);
}

async fn create_with_a_blank_subscriber_id_should_not_be_empty(app: TestApp) {
    app.post("/v1/subscribers", json!({"subscriberId": "   "}))
        .await
        .assert_validation(&["subscriberId should not be empty"]);
}

async fn create_reports_every_invalid_field_in_dto_order(app: TestApp) {
    let body = json!({"subscriberId":"s1","email":"bad","locale":"x","firstName":5,"channels":"x"});
    app.post("/v1/subscribers", body).await.assert_validation(&[
        "email must be an email",
        "firstName must be a string",
        "locale must be locale",
        "channels must be an array",
    ]);
}

/// `bulk` is also the path of the bulk create (POST only); the other methods address the
/// subscriber with that id, as in Novu.
async fn a_subscriber_named_bulk_is_read_updated_and_deleted_through_v1(app: TestApp) {
    app.get("/v1/subscribers/bulk")
        .await
        .assert_not_found("Subscriber not found for id bulk");
    app.create_subscriber(json!({"subscriberId": "bulk", "firstName": "Ada"}))
        .await;
    let res = app.get("/v1/subscribers/bulk").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data()["subscriberId"], "bulk");
    assert_eq!(res.data()["firstName"], "Ada");

    let res = app
        .put("/v1/subscribers/bulk", json!({"firstName": "Grace"}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        app.get("/v1/subscribers/bulk").await.data()["firstName"],
        "Grace"
    );

    // The bulk create is still the bulk create.
    let res = app
        .post(
            "/v1/subscribers/bulk",
            json!({"subscribers": [{"subscriberId": "other"}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(app.get("/v1/subscribers/other").await.status, 200);

    let res = app.delete("/v1/subscribers/bulk").await;
    assert_eq!(res.status, 200, "{}", res.text);
    app.get("/v1/subscribers/bulk")
        .await
        .assert_not_found("Subscriber not found for id bulk");
}

async fn create_trims_the_id_and_returns_the_fresh_entity(app: TestApp) {
    let fx = app.spec_fixture().await;
    let res = app
        .post(
            "/v1/subscribers",
            json!({"subscriberId":" s1 ","firstName":"John","email":"john@doe.com","locale":"en","data":{"a":1}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let s = res.data();
    assert_eq!(s["subscriberId"], "s1");
    assert_eq!(s["firstName"], "John");
    assert_eq!(s["email"], "john@doe.com");
    assert_eq!(s["locale"], "en");
    assert_eq!(s["data"], json!({"a": 1}));
    assert_eq!(s["channels"], json!([]));
    assert_eq!(s["deleted"], false);
    assert_eq!(s["__v"], 0);
    assert_eq!(s["id"], s["_id"]);
    assert_eq!(s["_id"].as_str().map(str::len), Some(24));
    assert_eq!(s["createdAt"], s["updatedAt"]);
    assert_iso_millis(s["createdAt"].as_str().unwrap());
    assert!(s.get("lastName").is_none(), "{s}");
    assert!(s.get("isOnline").is_none(), "{s}");
    assert_eq!(s["_environmentId"], fx.env.as_str());
    assert!(s["_organizationId"].is_string());
}

async fn create_of_an_existing_id_updates_it_and_replaces_data(app: TestApp) {
    let first = app
        .create_subscriber(
            json!({"subscriberId":"s1","firstName":"John","email":"john@doe.com","data":{"a":1}}),
        )
        .await;
    let res = app
        .post(
            "/v1/subscribers",
            json!({"subscriberId":"s1","firstName":"Mary","data":{"b":2}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let s = res.data();
    assert_eq!(s["_id"], first["_id"]);
    assert_eq!(s["firstName"], "Mary");
    assert_eq!(s["email"], "john@doe.com");
    assert_eq!(s["data"], json!({"b": 2}));
    let stored = app.subscriber("s1").await;
    assert_eq!(stored["firstName"], "Mary");
    assert_eq!(stored["data"], json!({"b": 2}));
}

async fn get_returns_the_subscriber_in_a_data_only_envelope(app: TestApp) {
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let res = app.get("/v1/subscribers/s1").await;
    assert_eq!(res.status, 200);
    let s = res.data();
    assert_eq!(s["id"], s["_id"]);
    assert_eq!(s["subscriberId"], "s1");
    for key in [
        "_organizationId",
        "_environmentId",
        "deleted",
        "createdAt",
        "updatedAt",
    ] {
        assert!(s.get(key).is_some(), "{key} is required by the SDKs: {s}");
    }
}

async fn get_of_an_unknown_subscriber_is_404(app: TestApp) {
    app.get("/v1/subscribers/nope")
        .await
        .assert_not_found("Subscriber not found for id nope");
}

async fn create_three(app: &TestApp) {
    for id in ["s1", "s2", "s3"] {
        app.create_subscriber(json!({ "subscriberId": id })).await;
    }
}

fn ids(list: &Value) -> Vec<&str> {
    list["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|s| s["subscriberId"].as_str().unwrap())
        .collect()
}

async fn list_pages_are_unwrapped_and_has_more_means_a_full_page(app: TestApp) {
    create_three(&app).await;
    let res = app.get("/v1/subscribers?page=0&limit=2").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.content_type(), Some("application/json"));
    let keys: Vec<&String> = res.body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["page", "hasMore", "pageSize", "data"]);
    assert_eq!(res.body["page"], 0);
    assert_eq!(res.body["pageSize"], 2);
    assert_eq!(res.body["hasMore"], true);
    assert_eq!(ids(&res.body), ["s1", "s2"]);
    for item in res.body["data"].as_array().unwrap() {
        assert!(item.get("id").is_none(), "list items carry no `id`: {item}");
    }

    let res = app.get("/v1/subscribers?page=1&limit=2").await;
    assert_eq!(res.status, 200);
    assert_eq!(res.body["page"], 1);
    assert_eq!(res.body["hasMore"], false);
    assert_eq!(ids(&res.body), ["s3"]);

    // Novu's `hasMore` is "the page is full", even when nothing follows.
    let res = app.get("/v1/subscribers?page=0&limit=3").await;
    assert_eq!(res.body["hasMore"], true);
    let res = app.get("/v1/subscribers?page=5&limit=3").await;
    assert_eq!(res.body["data"], json!([]));
    assert_eq!(res.body["hasMore"], false);

    let res = app.get("/v1/subscribers").await;
    assert_eq!(res.body["pageSize"], 10);
    assert_eq!(ids(&res.body), ["s1", "s2", "s3"]);
}

async fn list_validates_limit_and_page_like_class_validator(app: TestApp) {
    app.get("/v1/subscribers?limit=101")
        .await
        .assert_validation(&["limit must not be greater than 100"]);
    app.get("/v1/subscribers?page=abc&limit=0")
        .await
        .assert_validation(&[
            "page must be an integer number",
            "limit must not be less than 1",
        ]);
    app.get("/v1/subscribers?limit=abc")
        .await
        .assert_validation(&[
            "limit must not be greater than 100",
            "limit must not be less than 1",
            "limit must be an integer number",
        ]);
    // Deliberate difference 6: Novu answers 500 to a negative page.
    let res = app.get("/v1/subscribers?page=-1").await;
    res.assert_validation(&["page must not be less than 0"]);
    assert_eq!(res.body["path"], "/v1/subscribers?page=-1");
    // novu-py sends numbers in the query as floats.
    let res = app.get("/v1/subscribers?page=0.0&limit=10.0").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["pageSize"], 10);
}

async fn list_ignores_unknown_query_parameters(app: TestApp) {
    create_three(&app).await;
    let res = app
        .get("/v1/subscribers?limit=2&page=0&includeTopics=true")
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(ids(&res.body), ["s1", "s2"]);
}

async fn update_clears_email_on_empty_string_and_answers_the_old_updated_at(app: TestApp) {
    app.create_subscriber(json!({"subscriberId":"s1","firstName":"John","email":"john@doe.com"}))
        .await;
    let before = app.subscriber("s1").await;
    let res = app
        .put(
            "/v1/subscribers/s1",
            json!({"lastName": "Doe", "email": ""}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let s = res.data();
    assert_eq!(s["email"], Value::Null);
    assert_eq!(s["lastName"], "Doe");
    assert_eq!(s["firstName"], "John");
    assert_eq!(s["id"], s["_id"]);
    assert_eq!(s["updatedAt"], before["updatedAt"]);

    let after = app.subscriber("s1").await;
    assert_eq!(after["email"], Value::Null);
    assert_eq!(after["lastName"], "Doe");
    // Milliseconds: the write may land in the same millisecond as the create.
    assert!(
        after["updatedAt"].as_str().unwrap() >= before["updatedAt"].as_str().unwrap(),
        "{after}"
    );
    // `null` leaves the other fields alone (only email can be cleared).
    let res = app
        .put("/v1/subscribers/s1", json!({"firstName": null}))
        .await;
    assert_eq!(res.data()["firstName"], "John");
}

async fn update_of_an_unknown_subscriber_is_400_with_a_string_message(app: TestApp) {
    app.put("/v1/subscribers/nope", json!({"firstName": "x"}))
        .await
        .assert_bad_request("SubscriberId: nope not found");
}

async fn update_with_an_invalid_email_is_400(app: TestApp) {
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    app.put("/v1/subscribers/s1", json!({"email": "bad"}))
        .await
        .assert_validation(&["email must be an email"]);
}

async fn going_offline_sets_last_online_at(app: TestApp) {
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let res = app
        .patch(
            "/v1/subscribers/s1/online-status",
            json!({"isOnline": false}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let s = res.data();
    assert_eq!(s["isOnline"], false);
    assert_iso_millis(s["lastOnlineAt"].as_str().expect("lastOnlineAt"));
    assert_eq!(s["id"], s["_id"]);
}

async fn online_status_requires_is_online(app: TestApp) {
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    app.patch("/v1/subscribers/s1/online-status", json!({}))
        .await
        .assert_validation(&[
            "isOnline should not be null or undefined",
            "isOnline must be a boolean value",
        ]);
    app.patch(
        "/v1/subscribers/s1/online-status",
        json!({"isOnline": "true"}),
    )
    .await
    .assert_validation(&["isOnline must be a boolean value"]);
}

async fn online_status_accepts_the_online_alias_of_novu_node(app: TestApp) {
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let res = app
        .patch("/v1/subscribers/s1/online-status", json!({"online": true}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data()["isOnline"], true);
    assert!(res.data().get("lastOnlineAt").is_none(), "{}", res.text);
    assert_eq!(app.subscriber("s1").await["isOnline"], true);
}

async fn online_status_of_an_unknown_subscriber_is_404(app: TestApp) {
    app.patch(
        "/v1/subscribers/nope/online-status",
        json!({"isOnline": true}),
    )
    .await
    .assert_not_found("Subscriber not found");
}

async fn delete_soft_deletes_and_hides_the_subscriber(app: TestApp) {
    create_three(&app).await;
    let res = app.delete("/v1/subscribers/s2").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        res.data(),
        &json!({"acknowledged": true, "status": "deleted"})
    );
    app.get("/v1/subscribers/s2")
        .await
        .assert_not_found("Subscriber not found for id s2");
    assert_eq!(ids(&app.get("/v1/subscribers").await.body), ["s1", "s3"]);
    app.delete("/v1/subscribers/s2")
        .await
        .assert_not_found("Subscriber not found for id s2");
    // Creating the id again makes a fresh subscriber (spec §2.1's recommendation).
    let again = app.create_subscriber(json!({"subscriberId": "s2"})).await;
    assert_eq!(again["deleted"], false);
    assert_eq!(again["createdAt"], again["updatedAt"]);
}

async fn delete_of_an_unknown_subscriber_is_404(app: TestApp) {
    app.delete("/v1/subscribers/nope")
        .await
        .assert_not_found("Subscriber not found for id nope");
}

async fn create_with_channels_returns_the_stored_channels(app: TestApp) {
    let fx = app.spec_fixture().await;
    let res = app
        .post(
            "/v1/subscribers",
            json!({"subscriberId": "c1", "channels": [
                {"providerId": "fcm", "credentials": {"deviceTokens": ["t1", "t1", "t2"]}},
                {"providerId": "slack", "integrationIdentifier": "slack",
                 "credentials": {"webhookUrl": "https://hooks.example/1"}},
            ]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let s = res.data();
    // Deliberate difference 5: Novu answers `channels: []` here.
    assert_eq!(
        s["channels"],
        json!([
            {"providerId": "fcm", "integrationIdentifier": "fcm",
             "credentials": {"deviceTokens": ["t1", "t2"]}, "_integrationId": fx.fcm},
            {"providerId": "slack", "integrationIdentifier": "slack",
             "credentials": {"webhookUrl": "https://hooks.example/1"}, "_integrationId": fx.slack},
        ])
    );
    assert_eq!(app.subscriber("c1").await["channels"], s["channels"]);

    // An upsert with channels appends (PATCH semantics).
    let res = app
        .post(
            "/v1/subscribers",
            json!({"subscriberId": "c1", "channels": [
                {"providerId": "fcm", "credentials": {"deviceTokens": ["t3"]}}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let stored = app.subscriber("c1").await;
    assert_eq!(
        channel(&stored, "fcm")["credentials"]["deviceTokens"],
        json!(["t1", "t2", "t3"])
    );
}

async fn create_with_a_channel_of_an_inactive_provider_is_400(app: TestApp) {
    let fx = app.spec_fixture().await;
    app.post(
        "/v1/subscribers",
        json!({"subscriberId": "c1", "channels": [
            {"providerId": "expo", "credentials": {"deviceTokens": ["t"]}}]}),
    )
    .await
    .assert_bad_request(&format!(
        "Subscribers environment ({}) do not have active expo integration.",
        fx.env
    ));
    app.post(
        "/v1/subscribers",
        json!({"subscriberId": "c1", "channels": [{"providerId": "fcm"}]}),
    )
    .await
    .assert_validation(&[
        "channels.0.credentials should not be null or undefined",
        "channels.0.credentials must be an object",
    ]);
}

/// `POST /v1/subscribers` is all-or-nothing: when a channel cannot be written (too many device
/// tokens), neither the profile change nor the channels before it are kept (issue 14).
async fn create_with_a_channel_over_the_token_limit_changes_nothing(app: TestApp) {
    app.spec_fixture().await;
    let tokens = |prefix: &str, n: usize| -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    };
    app.create_subscriber(json!({"subscriberId": "bob", "firstName": "Bob"}))
        .await;
    let res = app
        .put(
            "/v1/subscribers/bob/credentials",
            json!({"providerId": "fcm", "credentials": {"deviceTokens": tokens("held-", 95)}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let before = app.subscriber("bob").await;
    let message = "credentials.deviceTokens: a channel can hold at most 100 device tokens; \
                   this request would leave 105";
    app.post(
        "/v1/subscribers",
        json!({"subscriberId": "bob", "firstName": "Robert", "channels": [
            {"providerId": "slack", "credentials": {"webhookUrl": "https://hooks.example.com/b"}},
            {"providerId": "fcm", "credentials": {"deviceTokens": tokens("new-", 10)}}]}),
    )
    .await
    .assert_validation(&[message]);
    assert_eq!(app.subscriber("bob").await, before);

    // Two channels of one integration that add up past the limit: no subscriber is created.
    app.post(
        "/v1/subscribers",
        json!({"subscriberId": "carol", "channels": [
            {"providerId": "fcm", "credentials": {"deviceTokens": tokens("a-", 60)}},
            {"providerId": "fcm", "credentials": {"deviceTokens": tokens("b-", 60)}}]}),
    )
    .await
    .assert_validation(&[
        "credentials.deviceTokens: a channel can hold at most 100 device tokens; this request would leave 120",
    ]);
    app.get("/v1/subscribers/carol")
        .await
        .assert_not_found("Subscriber not found for id carol");
}

async fn create_accepts_a_form_encoded_body(app: TestApp) {
    let res = app
        .raw(
            reqwest::Method::POST,
            "/v1/subscribers",
            "application/x-www-form-urlencoded",
            "subscriberId=f1&firstName=Form",
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.data()["subscriberId"], "f1");
    assert_eq!(res.data()["firstName"], "Form");
}

async fn concurrent_creates_of_one_id_make_one_subscriber(app: TestApp) {
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20 {
        let api = app.api.clone();
        tasks.spawn(async move {
            api.post(
                "/v1/subscribers",
                json!({"subscriberId": "race", "data": {"n": i}}),
            )
            .await
        });
    }
    let mut ids = Vec::new();
    while let Some(res) = tasks.join_next().await {
        let res = res.expect("task");
        assert_eq!(res.status, 201, "{}", res.text);
        ids.push(res.data()["_id"].clone());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]), "one _id: {ids:?}");
    let list = app.get("/v1/subscribers").await;
    assert_eq!(list.body["data"].as_array().map(Vec::len), Some(1));
}
