//! v2 topic subscriptions as `@novu/api` and `novu-py` call them (SDK wire §3.1, §4
//! `CreateSubscriptionsResponseDto`, `DeleteTopicSubscriptionsResponseDto`,
//! `ListTopicSubscriptionsResponseDto`): create by ids or `subscriptions`, delete with a JSON
//! body, list with cursors and the `subscriberId` filter, get one.

use reqwest::Method;
use serde_json::json;

use crate::cursor_walk::{cursor_page, walk};
use crate::helpers::{assert_error_shape, TestApp};
use crate::topics_v2_api::{
    assert_subscription_item, assert_topic_dto, ids_of, subscribe, subscribers, upsert,
};

backend_tests!(
    subscribing_by_ids_answers_201_with_items_and_meta,
    subscribing_reports_unknown_subscribers_in_errors,
    subscribing_accepts_the_subscriptions_form,
    subscribing_to_a_missing_topic_creates_it,
    subscribing_requires_subscriber_ids,
    unsubscribing_takes_a_json_body_and_answers_the_removed_items,
    subscription_list_pages_and_filters_by_subscriber,
    subscription_list_of_an_unknown_topic_is_404,
    one_subscription_by_identifier_or_subscriber_id,
);

async fn subscribing_by_ids_answers_201_with_items_and_meta(app: TestApp) {
    let topic = upsert(
        &app,
        json!({"key": "news", "name": "News", "data": {"a": 1}}),
    )
    .await;
    let topic = topic.data().clone();
    subscribers(&app, &["s1", "s2"]).await;
    let res = subscribe(&app, "news", json!({"subscriberIds": ["s1", "s2"]})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.content_type(), Some("application/json"));
    let keys: Vec<&String> = res.body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["data", "meta"],
        "no `errors` when none failed: {}",
        res.text
    );
    assert_eq!(
        res.body["meta"],
        json!({"totalCount": 2, "successful": 2, "failed": 0})
    );
    let data = res.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_subscription_item(&data[0], "news", "s1");
    assert_subscription_item(&data[1], "news", "s2");
    assert_eq!(data[0]["topic"]["_id"], topic["_id"]);
    assert_eq!(data[0]["topic"]["name"], "News");
    assert_eq!(data[0]["subscriber"]["firstName"], "F-s1");
    assert_eq!(data[0]["subscriber"]["email"], "s1@example.com");
    assert!(data[0]["subscriber"]["lastName"].is_null());

    // Subscribing again is idempotent: the same memberships come back.
    let again = subscribe(&app, "news", json!({"subscriberIds": ["s1"]})).await;
    assert_eq!(again.status, 201, "{}", again.text);
    assert_eq!(again.body["data"][0]["_id"], data[0]["_id"]);
    let list = app.get("/v2/topics/news/subscriptions").await;
    assert_eq!(cursor_page(&list)["totalCount"], 2);
}

async fn subscribing_reports_unknown_subscribers_in_errors(app: TestApp) {
    subscribers(&app, &["s1"]).await;
    let res = subscribe(
        &app,
        "news",
        json!({"subscriberIds": ["ghost", "s1", "nobody"]}),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(
        res.body["meta"],
        json!({"totalCount": 3, "successful": 1, "failed": 2})
    );
    assert_eq!(ids_of(&res.body["data"]), ["s1"]);
    let errors = res.body["errors"].as_array().expect("errors[]");
    let mut failed: Vec<&str> = errors
        .iter()
        .map(|e| {
            assert_eq!(e["code"], "SUBSCRIBER_NOT_FOUND", "{e}");
            assert!(e["message"].is_string(), "{e}");
            e["subscriberId"].as_str().unwrap()
        })
        .collect();
    failed.sort_unstable();
    assert_eq!(failed, ["ghost", "nobody"]);

    let only_unknown = subscribe(&app, "news", json!({"subscriberIds": ["ghost"]})).await;
    assert_eq!(only_unknown.status, 201, "{}", only_unknown.text);
    assert_eq!(only_unknown.body["data"], json!([]));
    assert_eq!(
        only_unknown.body["meta"],
        json!({"totalCount": 1, "successful": 0, "failed": 1})
    );
}

async fn subscribing_accepts_the_subscriptions_form(app: TestApp) {
    subscribers(&app, &["s1", "s2", "s3"]).await;
    let res = subscribe(
        &app,
        "news",
        json!({"subscriptions": ["s1", {"subscriberId": "s2"}]}),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(ids_of(&res.body["data"]), ["s1", "s2"]);
    // Both forms in one body add up.
    let res = subscribe(
        &app,
        "news",
        json!({"subscriberIds": ["s3"], "subscriptions": [{"subscriberId": "s1"}]}),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(ids_of(&res.body["data"]), ["s1", "s3"]);
    let list = app.get("/v2/topics/news/subscriptions").await;
    assert_eq!(cursor_page(&list)["totalCount"], 3);

    subscribe(&app, "news", json!({"subscriptions": [{"name": "x"}, 5]}))
        .await
        .assert_validation(&[
            "subscriptions.0.subscriberId must be a string",
            "subscriptions.1 must be a string or an object",
        ]);
}

async fn subscribing_to_a_missing_topic_creates_it(app: TestApp) {
    subscribers(&app, &["s1"]).await;
    let res = subscribe(&app, "fresh", json!({"subscriberIds": ["s1"]})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_subscription_item(&res.body["data"][0], "fresh", "s1");
    let t = app.get("/v2/topics/fresh").await;
    assert_eq!(t.status, 200, "{}", t.text);
    assert_topic_dto(t.data());
    assert_eq!(t.data()["_id"], res.body["data"][0]["topic"]["_id"]);
}

async fn subscribing_requires_subscriber_ids(app: TestApp) {
    for body in [
        json!({}),
        json!({"subscriberIds": []}),
        json!({"subscriptions": null}),
    ] {
        subscribe(&app, "news", body)
            .await
            .assert_validation(&["subscriberIds should not be empty"]);
    }
    subscribe(&app, "news", json!({"subscriberIds": "s1"}))
        .await
        .assert_validation(&["subscriberIds must be an array"]);
    subscribe(&app, "news", json!({"subscriberIds": [1]}))
        .await
        .assert_validation(&["each value in subscriberIds must be a string"]);
    // Nothing was created by the refused calls.
    app.get("/v2/topics/news")
        .await
        .assert_not_found("Topic with key news not found");
}

async fn unsubscribing_takes_a_json_body_and_answers_the_removed_items(app: TestApp) {
    subscribers(&app, &["s1", "s2", "s3", "outsider"]).await;
    subscribe(&app, "news", json!({"subscriberIds": ["s1", "s2", "s3"]})).await;
    let rb = app
        .request(Method::DELETE, "/v2/topics/news/subscriptions")
        .json(&json!({"subscriberIds": ["s1", "s3"]}));
    let res = app.send(rb).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.content_type(), Some("application/json"));
    let keys: Vec<&String> = res.body.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        ["data", "meta"],
        "no `errors` when all were removed: {}",
        res.text
    );
    assert_eq!(ids_of(&res.body["data"]), ["s1", "s3"]);
    for item in res.body["data"].as_array().unwrap() {
        let id = item["subscriber"]["subscriberId"].as_str().unwrap();
        assert_subscription_item(item, "news", id);
    }
    assert_eq!(
        res.body["meta"],
        json!({"totalCount": 2, "successful": 2, "failed": 0})
    );
    let list = app.get("/v2/topics/news/subscriptions").await;
    assert_eq!(ids_of(&cursor_page(&list)["data"]), ["s2"]);

    // Ids that were not removed are errors, as in Novu: unknown subscriber, or not a member.
    let rb = app
        .request(Method::DELETE, "/v2/topics/news/subscriptions")
        .json(&json!({"subscriberIds": ["ghost", "s1", "outsider"]}));
    let res = app.send(rb).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.body["data"], json!([]));
    assert_eq!(
        res.body["meta"],
        json!({"totalCount": 3, "successful": 0, "failed": 3})
    );
    assert_eq!(
        res.body["errors"],
        json!([
            {"subscriberId": "ghost", "code": "SUBSCRIBER_NOT_FOUND",
             "message": "Subscriber with ID 'ghost' could not be found."},
            {"subscriberId": "s1", "code": "SUBSCRIPTION_NOT_FOUND",
             "message": "Subscription for subscriber 's1' not found."},
            {"subscriberId": "outsider", "code": "SUBSCRIPTION_NOT_FOUND",
             "message": "Subscription for subscriber 'outsider' not found."},
        ])
    );

    // The subscriptions form, as `@novu/api` may send it.
    let rb = app
        .request(Method::DELETE, "/v2/topics/news/subscriptions")
        .json(&json!({"subscriptions": [{"subscriberId": "s2"}]}));
    let res = app.send(rb).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(ids_of(&res.body["data"]), ["s2"]);
    let list = app.get("/v2/topics/news/subscriptions").await;
    assert_eq!(cursor_page(&list)["totalCount"], 0);
    // The topic itself stays.
    assert_eq!(app.get("/v2/topics/news").await.status, 200);

    // An unknown topic is a 404 (Novu), whatever the body names.
    let rb = app
        .request(Method::DELETE, "/v2/topics/ghost/subscriptions")
        .json(&json!({"subscriberIds": ["s2"]}));
    app.send(rb)
        .await
        .assert_not_found("Topic with key ghost not found");

    // Without a body: the same validation as create.
    let res = app
        .send(app.request(Method::DELETE, "/v2/topics/news/subscriptions"))
        .await;
    res.assert_validation(&["subscriberIds should not be empty"]);
}

async fn subscription_list_pages_and_filters_by_subscriber(app: TestApp) {
    let ids: Vec<String> = (0..13).map(|i| format!("s{i:02}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    subscribers(&app, &refs).await;
    subscribe(&app, "news", json!({ "subscriberIds": refs })).await;
    subscribe(&app, "other", json!({"subscriberIds": ["s00"]})).await;

    let all = walk(
        &app,
        "/v2/topics/news/subscriptions?orderDirection=ASC",
        5,
        "identifier",
    )
    .await;
    let expected: Vec<String> = ids.iter().map(|id| format!("news:{id}")).collect();
    assert_eq!(all, expected);
    let mut desc = expected.clone();
    desc.reverse();
    assert_eq!(
        walk(&app, "/v2/topics/news/subscriptions", 4, "identifier").await,
        desc
    );

    let res = app
        .get("/v2/topics/news/subscriptions?subscriberId=s07")
        .await;
    let page = cursor_page(&res);
    assert_eq!(page["totalCount"], 1);
    assert_subscription_item(&page["data"][0], "news", "s07");
    // `subscriberId` is exact.
    let res = app
        .get("/v2/topics/news/subscriptions?subscriberId=s0")
        .await;
    assert_eq!(cursor_page(&res)["totalCount"], 0);

    let res = app.get("/v2/topics/news/subscriptions?limit=0").await;
    res.assert_validation(&["limit must not be less than 1"]);
}

async fn subscription_list_of_an_unknown_topic_is_404(app: TestApp) {
    subscribers(&app, &["s1"]).await;
    app.get("/v2/topics/ghost/subscriptions")
        .await
        .assert_not_found("Topic with key ghost not found");
    app.get("/v2/topics/ghost/subscriptions?subscriberId=s1")
        .await
        .assert_not_found("Topic with key ghost not found");
    // A topic without members has an empty list.
    upsert(&app, json!({"key": "empty"})).await;
    let res = app.get("/v2/topics/empty/subscriptions").await;
    let page = cursor_page(&res);
    assert_eq!(page["data"], json!([]));
    assert!(page["next"].is_null() && page["previous"].is_null());
    assert_eq!(page["totalCount"], 0);
}

async fn one_subscription_by_identifier_or_subscriber_id(app: TestApp) {
    subscribers(&app, &["s1", "s2"]).await;
    let res = subscribe(&app, "news", json!({"subscriberIds": ["s1"]})).await;
    let id = res.body["data"][0]["_id"].clone();

    for identifier in ["news:s1", "s1"] {
        let res = app
            .get(&format!("/v2/topics/news/subscriptions/{identifier}"))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        let s = res.data();
        assert_eq!(s["id"], id, "{}", res.text);
        assert_eq!(s["identifier"], "news:s1", "{}", res.text);
    }
    // Percent-encoded, as `@novu/api` sends the colon.
    let res = app.get("/v2/topics/news/subscriptions/news%3As1").await;
    assert_eq!(res.data()["identifier"], "news:s1");

    for (key, identifier) in [
        ("news", "s2"),
        ("news", "news:s2"),
        ("news", "ghost"),
        ("ghost", "s1"),
        ("news", "other:s1"),
    ] {
        let res = app
            .get(&format!("/v2/topics/{key}/subscriptions/{identifier}"))
            .await;
        res.assert_not_found(&format!(
            "Subscription {identifier} not found for topic {key}"
        ));
        assert_error_shape(&res);
    }
}
