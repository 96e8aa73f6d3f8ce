//! v2 subscribers as `@novu/api` and `novu-py` call them (SDK wire §1, §3.1, §4
//! `SubscriberResponseDto`, `ListSubscribersResponseDto`, `ListTopicSubscriptionsResponseDto`):
//! create (upsert, `failIfExists`), get, patch, delete, search with cursor paging, and a
//! subscriber's topic subscriptions.

use serde_json::{json, Value};

use crate::cursor_walk::{cursor_page, field_of, walk};
use crate::helpers::{assert_iso_millis, TestApp};

backend_tests!(
    create_answers_201_with_the_subscriber,
    create_of_an_existing_id_updates_it_and_still_answers_201,
    create_with_fail_if_exists_answers_409_with_the_bare_subscriber,
    create_validates_like_v1_and_refuses_channels,
    get_returns_the_subscriber_and_404_for_an_unknown_id,
    patch_sets_given_fields_keeps_absent_ones_and_null_clears,
    patch_validates_and_404s_an_unknown_subscriber,
    delete_acknowledges_and_the_subscriber_is_gone,
    search_matches_substrings_of_id_email_phone_and_name_ignoring_case,
    search_pages_with_cursors_both_ways_and_float_limits,
    search_validates_paging,
    subscriptions_list_the_subscriber_topics_with_a_key_filter,
    subscriptions_of_an_unknown_subscriber_are_404,
);

/// A `SubscriberResponseDto`: the required fields, `_id`, and no `null` where the SDK forbids it.
fn assert_subscriber_dto(s: &Value, subscriber_id: &str) {
    assert_eq!(s["subscriberId"], subscriber_id, "{s}");
    assert_eq!(s["_id"].as_str().map(str::len), Some(24), "{s}");
    for key in ["_organizationId", "_environmentId"] {
        assert!(s[key].is_string(), "{key}: {s}");
    }
    assert_eq!(s["deleted"], false, "{s}");
    assert_iso_millis(s["createdAt"].as_str().unwrap());
    assert_iso_millis(s["updatedAt"].as_str().unwrap());
    assert!(s["channels"].is_array(), "{s}");
    for key in ["_id", "channels", "topics", "__v"] {
        assert!(
            !s.get(key).is_some_and(Value::is_null),
            "{key} is not nullable: {s}"
        );
    }
}

async fn create_answers_201_with_the_subscriber(app: TestApp) {
    let body = json!({"subscriberId": "s1", "firstName": "Ann", "lastName": "Lee",
                      "email": "ann@example.com", "phone": "+15550001", "avatar": "https://a/x.png",
                      "locale": "en-US", "timezone": "Europe/Paris", "data": {"plan": "pro"}});
    let res = app.post("/v2/subscribers", body.clone()).await;
    assert_eq!(res.status, 201, "{}", res.text);
    let s = res.data();
    assert_subscriber_dto(s, "s1");
    for key in [
        "firstName",
        "lastName",
        "email",
        "phone",
        "avatar",
        "locale",
        "timezone",
        "data",
    ] {
        assert_eq!(s[key], body[key], "{key}");
    }
    assert_eq!(s["channels"], json!([]));

    let got = app.get("/v2/subscribers/s1").await;
    assert_eq!(got.status, 200, "{}", got.text);
    assert_eq!(got.data()["_id"], s["_id"]);
    assert_eq!(got.data()["email"], "ann@example.com");
}

async fn create_of_an_existing_id_updates_it_and_still_answers_201(app: TestApp) {
    let first = app
        .post(
            "/v2/subscribers",
            json!({"subscriberId": "s1", "firstName": "Ann", "phone": "1"}),
        )
        .await;
    let first = first.data().clone();
    let res = app
        .post(
            "/v2/subscribers",
            json!({"subscriberId": "s1", "firstName": "Anna", "email": "a@example.com"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let s = res.data();
    assert_eq!(s["_id"], first["_id"]);
    assert_eq!(s["firstName"], "Anna");
    assert_eq!(s["email"], "a@example.com");
    assert_eq!(s["phone"], "1", "absent fields are kept");
    assert_eq!(s["createdAt"], first["createdAt"]);

    let list = app.get("/v2/subscribers").await;
    assert_eq!(cursor_page(&list)["totalCount"], 1);
}

async fn create_with_fail_if_exists_answers_409_with_the_bare_subscriber(app: TestApp) {
    let res = app
        .post(
            "/v2/subscribers?failIfExists=true",
            json!({"subscriberId": "s1", "firstName": "Ann"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let created = res.data().clone();

    let res = app
        .post(
            "/v2/subscribers?failIfExists=true",
            json!({"subscriberId": "s1", "firstName": "Other"}),
        )
        .await;
    assert_eq!(res.status, 409, "{}", res.text);
    assert_eq!(res.content_type(), Some("application/json"));
    // Not an ErrorDto and not enveloped: the SDKs parse the 409 as `SubscriberResponseDto`.
    assert!(res.body.get("statusCode").is_none(), "{}", res.text);
    assert!(res.body.get("data").is_none(), "{}", res.text);
    assert_subscriber_dto(&res.body, "s1");
    assert_eq!(res.body["_id"], created["_id"]);
    assert_eq!(res.body["firstName"], "Ann");
    assert_eq!(
        app.get("/v2/subscribers/s1").await.data()["firstName"],
        "Ann"
    );

    app.post(
        "/v2/subscribers?failIfExists=1",
        json!({"subscriberId": "s2"}),
    )
    .await
    .assert_validation(&["failIfExists must be a boolean value"]);
}

async fn create_validates_like_v1_and_refuses_channels(app: TestApp) {
    app.post("/v2/subscribers", json!({}))
        .await
        .assert_validation(&[
            "subscriberId should not be null or undefined",
            "subscriberId must be a string",
        ]);
    app.post(
        "/v2/subscribers",
        json!({"subscriberId": "s1", "email": "nope", "locale": "xx_not"}),
    )
    .await
    .assert_validation(&["email must be an email", "locale must be locale"]);
    app.post(
        "/v2/subscribers",
        json!({"subscriberId": "s1", "channels": [{"providerId": "fcm", "credentials": {}}]}),
    )
    .await
    .assert_validation(&[
        "channels are not accepted here; set them with PUT /v1/subscribers/{subscriberId}/credentials",
    ]);
    let list = app.get("/v2/subscribers").await;
    assert_eq!(cursor_page(&list)["totalCount"], 0);
}

async fn get_returns_the_subscriber_and_404_for_an_unknown_id(app: TestApp) {
    app.post("/v2/subscribers", json!({"subscriberId": "a/b@c"}))
        .await;
    let res = app.get("/v2/subscribers/a%2Fb%40c").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_subscriber_dto(res.data(), "a/b@c");
    app.get("/v2/subscribers/ghost")
        .await
        .assert_not_found("Subscriber not found for id ghost");
}

async fn patch_sets_given_fields_keeps_absent_ones_and_null_clears(app: TestApp) {
    let created = app
        .post(
            "/v2/subscribers",
            json!({"subscriberId": "s1", "firstName": "Ann", "lastName": "Lee",
                   "email": "ann@example.com", "data": {"a": 1}}),
        )
        .await;
    let created = created.data().clone();
    let res = app
        .patch(
            "/v2/subscribers/s1",
            json!({"firstName": null, "phone": "+1555", "data": {"b": 2}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let s = res.data();
    assert_subscriber_dto(s, "s1");
    assert_eq!(s["_id"], created["_id"]);
    assert!(s["firstName"].is_null(), "null clears: {s}");
    assert_eq!(s["lastName"], "Lee", "absent keeps");
    assert_eq!(s["email"], "ann@example.com");
    assert_eq!(s["phone"], "+1555");
    assert_eq!(s["data"], json!({"b": 2}));

    let got = app.get("/v2/subscribers/s1").await;
    assert!(got.data()["firstName"].is_null(), "{}", got.text);
    assert_eq!(got.data()["phone"], "+1555");

    let res = app
        .patch("/v2/subscribers/s1", json!({"email": null, "data": null}))
        .await;
    assert!(res.data()["email"].is_null(), "{}", res.text);
    assert!(res.data()["data"].is_null(), "{}", res.text);
    // An empty patch changes nothing.
    let res = app.patch("/v2/subscribers/s1", json!({})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data()["lastName"], "Lee");
}

async fn patch_validates_and_404s_an_unknown_subscriber(app: TestApp) {
    app.post(
        "/v2/subscribers",
        json!({"subscriberId": "s1", "email": "a@example.com"}),
    )
    .await;
    app.patch(
        "/v2/subscribers/s1",
        json!({"email": "nope", "firstName": 3}),
    )
    .await
    .assert_validation(&["firstName must be a string", "email must be an email"]);
    assert_eq!(
        app.get("/v2/subscribers/s1").await.data()["email"],
        "a@example.com"
    );
    app.patch("/v2/subscribers/ghost", json!({"firstName": "x"}))
        .await
        .assert_not_found("Subscriber not found for id ghost");
}

async fn delete_acknowledges_and_the_subscriber_is_gone(app: TestApp) {
    app.post("/v2/subscribers", json!({"subscriberId": "s1"}))
        .await;
    let res = app.delete("/v2/subscribers/s1").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        res.data(),
        &json!({"acknowledged": true, "status": "deleted"})
    );
    app.get("/v2/subscribers/s1")
        .await
        .assert_not_found("Subscriber not found for id s1");
    app.delete("/v2/subscribers/s1")
        .await
        .assert_not_found("Subscriber not found for id s1");
    let list = app.get("/v2/subscribers").await;
    assert_eq!(cursor_page(&list)["totalCount"], 0);
    // The id can be created again.
    let res = app
        .post("/v2/subscribers", json!({"subscriberId": "s1"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
}

async fn search_matches_substrings_of_id_email_phone_and_name_ignoring_case(app: TestApp) {
    for body in [
        json!({"subscriberId": "user-Alpha", "firstName": "Ann", "lastName": "Lee",
               "email": "Ann.Lee@Example.com", "phone": "+15550001"}),
        json!({"subscriberId": "user-beta", "firstName": "Bob", "lastName": "Stone",
               "email": "bob@test.org", "phone": "+4930123"}),
        json!({"subscriberId": "admin-gamma", "firstName": "Åsa", "lastName": "Lindqvist"}),
        json!({"subscriberId": "x_y%z"}),
    ] {
        let res = app.post("/v2/subscribers", body).await;
        assert_eq!(res.status, 201, "{}", res.text);
    }
    let ids = |q: &str| {
        let app = &app;
        let q = q.to_string();
        async move {
            let res = app
                .get(&format!("/v2/subscribers?orderDirection=ASC&{q}"))
                .await;
            let page = cursor_page(&res).clone();
            let ids = field_of(&page, "subscriberId");
            assert_eq!(page["totalCount"], ids.len() as u64, "{q}");
            ids
        }
    };
    assert_eq!(ids("subscriberId=USER").await, ["user-Alpha", "user-beta"]);
    assert_eq!(ids("subscriberId=alph").await, ["user-Alpha"]);
    assert_eq!(ids("email=example.COM").await, ["user-Alpha"]);
    assert_eq!(ids("email=%40").await, ["user-Alpha", "user-beta"]);
    assert_eq!(ids("phone=555").await, ["user-Alpha"]);
    assert_eq!(ids("phone=%2B49").await, ["user-beta"]);
    assert_eq!(ids("name=lee").await, ["user-Alpha"]);
    assert_eq!(ids("name=bob").await, ["user-beta"]);
    assert_eq!(ids("name=ann%20lee").await, ["user-Alpha"], "full name");
    assert_eq!(
        ids("name=ÅSA").await,
        ["admin-gamma"],
        "Unicode case folding"
    );
    assert_eq!(ids("name=o").await, ["user-beta"]);
    // Filters combine; an empty filter is no filter.
    assert_eq!(
        ids("subscriberId=user&phone=%2B").await,
        ["user-Alpha", "user-beta"]
    );
    assert_eq!(ids("subscriberId=user&name=bob").await, ["user-beta"]);
    assert_eq!(ids("email=").await.len(), 4);
    assert!(ids("email=nobody").await.is_empty());
    // LIKE metacharacters are literal.
    assert_eq!(ids("subscriberId=_y%25").await, ["x_y%z"]);
    assert!(ids("subscriberId=%25%25").await.is_empty());
}

async fn search_pages_with_cursors_both_ways_and_float_limits(app: TestApp) {
    let ids: Vec<String> = (0..27).map(|i| format!("sub-{i:02}")).collect();
    for id in &ids {
        app.post("/v2/subscribers", json!({ "subscriberId": id }))
            .await;
    }
    let mut desc = ids.clone();
    desc.reverse();
    assert_eq!(
        walk(&app, "/v2/subscribers", 10, "subscriberId").await,
        desc
    );
    assert_eq!(
        walk(
            &app,
            "/v2/subscribers?orderDirection=ASC",
            7,
            "subscriberId"
        )
        .await,
        ids
    );
    // novu-py sends `limit=10.0`.
    let res = app.get("/v2/subscribers?limit=10.0").await;
    let page = cursor_page(&res);
    assert_eq!(field_of(page, "subscriberId"), desc[..10]);
    assert_eq!(page["totalCount"], 27);
    let next = page["next"].as_str().unwrap().to_string();
    let res = app
        .get(&format!("/v2/subscribers?limit=10.0&after={next}"))
        .await;
    assert_eq!(field_of(cursor_page(&res), "subscriberId"), desc[10..20]);
    // Items of a list carry the subscriber fields.
    for s in res.body["data"].as_array().unwrap() {
        assert_subscriber_dto(s, s["subscriberId"].as_str().unwrap());
    }
    // A search narrows the pages and the total.
    assert_eq!(
        walk(
            &app,
            "/v2/subscribers?subscriberId=sub-1&orderDirection=ASC",
            3,
            "subscriberId"
        )
        .await,
        ids[10..20]
    );
}

async fn search_validates_paging(app: TestApp) {
    app.get("/v2/subscribers?limit=0")
        .await
        .assert_validation(&["limit must not be less than 1"]);
    app.get("/v2/subscribers?limit=101")
        .await
        .assert_validation(&["limit must not be greater than 100"]);
    app.get("/v2/subscribers?limit=abc")
        .await
        .assert_validation(&["limit must be an integer number"]);
    app.get("/v2/subscribers?before=123&after=xyz")
        .await
        .assert_validation(&[
            "after must be a cursor returned by a previous page",
            "before must be a cursor returned by a previous page",
        ]);
    app.get("/v2/subscribers?orderDirection=sideways")
        .await
        .assert_validation(&["orderDirection must be one of the following values: ASC, DESC"]);
}

async fn subscriptions_list_the_subscriber_topics_with_a_key_filter(app: TestApp) {
    app.post(
        "/v2/subscribers",
        json!({"subscriberId": "s1", "firstName": "Ann"}),
    )
    .await;
    app.post("/v2/subscribers", json!({"subscriberId": "s2"}))
        .await;
    let keys: Vec<String> = (0..6).map(|i| format!("topic-{i}")).collect();
    for key in &keys {
        let res = app
            .post(
                &format!("/v2/topics/{key}/subscriptions"),
                json!({"subscriberIds": ["s1"]}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
    }
    app.post(
        "/v2/topics/only-s2/subscriptions",
        json!({"subscriberIds": ["s2"]}),
    )
    .await;

    let identifiers = walk(
        &app,
        "/v2/subscribers/s1/subscriptions?orderDirection=ASC",
        4,
        "identifier",
    )
    .await;
    let expected: Vec<String> = keys.iter().map(|k| format!("{k}:s1")).collect();
    assert_eq!(identifiers, expected);

    let res = app.get("/v2/subscribers/s1/subscriptions").await;
    let page = cursor_page(&res);
    let item = &page["data"][0];
    assert_eq!(item["_id"].as_str().map(str::len), Some(24), "{item}");
    assert_eq!(item["topic"]["key"], "topic-5", "newest first: {item}");
    assert_eq!(item["topic"]["_id"].as_str().map(str::len), Some(24));
    assert_eq!(item["subscriber"]["subscriberId"], "s1");
    assert_eq!(item["subscriber"]["firstName"], "Ann");
    assert_iso_millis(item["createdAt"].as_str().unwrap());

    let res = app
        .get("/v2/subscribers/s1/subscriptions?key=topic-3")
        .await;
    let page = cursor_page(&res);
    assert_eq!(page["totalCount"], 1);
    assert_eq!(field_of(page, "identifier"), ["topic-3:s1"]);
    let res = app
        .get("/v2/subscribers/s1/subscriptions?key=only-s2")
        .await;
    assert_eq!(cursor_page(&res)["totalCount"], 0);
    let res = app.get("/v2/subscribers/s2/subscriptions").await;
    assert_eq!(field_of(cursor_page(&res), "identifier"), ["only-s2:s2"]);
}

async fn subscriptions_of_an_unknown_subscriber_are_404(app: TestApp) {
    app.get("/v2/subscribers/ghost/subscriptions")
        .await
        .assert_not_found("Subscriber not found for id ghost");
    // A known subscriber without topics has an empty list.
    app.post("/v2/subscribers", json!({"subscriberId": "s1"}))
        .await;
    let res = app.get("/v2/subscribers/s1/subscriptions").await;
    let page = cursor_page(&res);
    assert_eq!(page["data"], json!([]));
    assert!(page["next"].is_null() && page["previous"].is_null());
}
