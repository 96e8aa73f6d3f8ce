//! v2 topics as `@novu/api` and `novu-py` call them (SDK wire §3.1, §4 `TopicResponseDto`,
//! `ListTopicsResponseDto`): upsert with `failIfExists`, get, cursor lists and their filters,
//! patch, delete. Subscriptions are in `topic_subscriptions_v2`.

use serde_json::{json, Value};

use crate::cursor_walk::{cursor_page, field_of, walk};
use crate::helpers::{assert_iso_millis, TestApp, TestResponse};

backend_tests!(
    create_answers_201_then_200_when_the_key_exists,
    create_with_fail_if_exists_answers_409_with_the_bare_topic,
    create_validates_key_name_data_and_fail_if_exists,
    get_returns_the_topic_and_404_for_an_unknown_key,
    list_walks_every_page_both_ways_newest_first,
    list_in_ascending_order_is_creation_order,
    list_filters_by_exact_key_and_name_substring,
    list_validates_limit_cursor_and_order,
    patch_updates_name_and_data_and_404s_an_unknown_key,
    delete_acknowledges_then_the_topic_is_gone_with_its_subscriptions,
);

pub async fn upsert(app: &TestApp, body: Value) -> TestResponse {
    app.post("/v2/topics", body).await
}

pub async fn subscribe(app: &TestApp, key: &str, body: Value) -> TestResponse {
    app.post(&format!("/v2/topics/{key}/subscriptions"), body)
        .await
}

pub async fn subscribers(app: &TestApp, ids: &[&str]) {
    for id in ids {
        app.create_subscriber(json!({"subscriberId": id, "firstName": format!("F-{id}"),
                                     "email": format!("{id}@example.com")}))
            .await;
    }
}

/// A `TopicResponseDto`: `_id`, `key`, timestamps; `name` and `data` only when set (never null).
pub fn assert_topic_dto(t: &Value) {
    let obj = t
        .as_object()
        .unwrap_or_else(|| panic!("a topic object: {t}"));
    assert_eq!(t["_id"].as_str().map(str::len), Some(24), "{t}");
    assert!(t["key"].is_string(), "{t}");
    assert_iso_millis(t["createdAt"].as_str().unwrap());
    assert_iso_millis(t["updatedAt"].as_str().unwrap());
    for (k, v) in obj {
        assert!(
            ["_id", "key", "name", "data", "createdAt", "updatedAt"].contains(&k.as_str()),
            "unexpected {k}: {t}"
        );
        assert!(!v.is_null(), "{k} must be omitted, not null: {t}");
    }
}

/// A subscription item of the create/delete/list responses.
pub fn assert_subscription_item(item: &Value, key: &str, subscriber_id: &str) {
    assert_eq!(item["_id"].as_str().map(str::len), Some(24), "{item}");
    assert_eq!(
        item["identifier"],
        format!("{key}:{subscriber_id}"),
        "{item}"
    );
    assert_eq!(item["topic"]["key"], key, "{item}");
    assert_eq!(item["topic"]["_id"].as_str().map(str::len), Some(24));
    let s = &item["subscriber"];
    assert_eq!(s["subscriberId"], subscriber_id, "{item}");
    assert_eq!(s["_id"].as_str().map(str::len), Some(24), "{item}");
    for nullable in ["avatar", "firstName", "lastName", "email"] {
        assert!(
            s.get(nullable)
                .is_some_and(|v| v.is_null() || v.is_string()),
            "{nullable}: {item}"
        );
    }
    assert_iso_millis(item["createdAt"].as_str().unwrap());
    assert_iso_millis(item["updatedAt"].as_str().unwrap());
}

pub fn ids_of(items: &Value) -> Vec<String> {
    let mut out: Vec<String> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            i["subscriber"]["subscriberId"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    out.sort();
    out
}

async fn create_answers_201_then_200_when_the_key_exists(app: TestApp) {
    let res = upsert(
        &app,
        json!({"key": "news", "name": "News", "data": {"a": 1}}),
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let created = res.data().clone();
    assert_topic_dto(&created);
    assert_eq!(created["key"], "news");
    assert_eq!(created["name"], "News");
    assert_eq!(created["data"], json!({"a": 1}));

    let res = upsert(
        &app,
        json!({"key": "news", "name": "Daily", "data": {"b": 2}}),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let updated = res.data();
    assert_topic_dto(updated);
    assert_eq!(updated["_id"], created["_id"]);
    assert_eq!(updated["name"], "Daily");
    assert_eq!(updated["data"], json!({"b": 2}));
    assert_eq!(updated["createdAt"], created["createdAt"]);

    let got = app.get("/v2/topics/news").await;
    assert_eq!(got.data()["name"], "Daily");

    // Without a name: created without one, and `name` is omitted rather than null.
    let res = upsert(&app, json!({"key": "bare"})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_topic_dto(res.data());
    assert!(res.data().get("name").is_none(), "{}", res.text);
    assert!(res.data().get("data").is_none(), "{}", res.text);
}

async fn create_with_fail_if_exists_answers_409_with_the_bare_topic(app: TestApp) {
    let res = app
        .post(
            "/v2/topics?failIfExists=true",
            json!({"key": "news", "name": "News"}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let created = res.data().clone();

    let res = app
        .post(
            "/v2/topics?failIfExists=true",
            json!({"key": "news", "name": "Other"}),
        )
        .await;
    assert_eq!(res.status, 409, "{}", res.text);
    assert_eq!(res.content_type(), Some("application/json"));
    // Not an ErrorDto: the SDKs parse this 409 as `TopicResponseDto`.
    assert!(res.body.get("statusCode").is_none(), "{}", res.text);
    assert!(res.body.get("data").is_none(), "{}", res.text);
    assert_topic_dto(&res.body);
    assert_eq!(res.body["_id"], created["_id"]);
    assert_eq!(res.body["name"], "News");
    assert_eq!(app.get("/v2/topics/news").await.data()["name"], "News");

    let res = app
        .post(
            "/v2/topics?failIfExists=false",
            json!({"key": "news", "name": "Other"}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data()["name"], "Other");
}

async fn create_validates_key_name_data_and_fail_if_exists(app: TestApp) {
    upsert(&app, json!({})).await.assert_validation(&[
        "key should not be null or undefined",
        "key must be a string",
    ]);
    upsert(&app, json!({"key": "k", "name": 1, "data": [1]}))
        .await
        .assert_validation(&["name must be a string", "data must be an object"]);
    app.post("/v2/topics?failIfExists=yes", json!({"key": "k"}))
        .await
        .assert_validation(&["failIfExists must be a boolean value"]);
    let list = app.get("/v2/topics").await;
    assert_eq!(cursor_page(&list)["totalCount"], 0);
}

async fn get_returns_the_topic_and_404_for_an_unknown_key(app: TestApp) {
    let created = upsert(&app, json!({"key": "news", "name": "News"})).await;
    let res = app.get("/v2/topics/news").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data(), created.data());
    app.get("/v2/topics/ghost")
        .await
        .assert_not_found("Topic with key ghost not found");
    // Keys are exact: no case folding.
    app.get("/v2/topics/NEWS")
        .await
        .assert_not_found("Topic with key NEWS not found");
}

async fn make_topics(app: &TestApp, n: usize) -> Vec<String> {
    let mut keys = Vec::new();
    for i in 0..n {
        let key = format!("t-{i:02}");
        let res = upsert(app, json!({"key": key, "name": format!("Topic {i}")})).await;
        assert_eq!(res.status, 201, "{}", res.text);
        keys.push(key);
    }
    keys
}

async fn list_walks_every_page_both_ways_newest_first(app: TestApp) {
    let mut keys = make_topics(&app, 23).await;
    keys.reverse();
    assert_eq!(walk(&app, "/v2/topics", 10, "key").await, keys);
    assert_eq!(walk(&app, "/v2/topics", 23, "key").await, keys);
    assert_eq!(walk(&app, "/v2/topics", 100, "key").await, keys);
    assert_eq!(walk(&app, "/v2/topics", 1, "key").await, keys);

    let first = app.get("/v2/topics").await;
    let page = cursor_page(&first);
    assert_eq!(page["data"].as_array().unwrap().len(), 10, "default limit");
    for t in page["data"].as_array().unwrap() {
        assert_topic_dto(t);
    }
    // The cursors are the `_id`s of the page's ends.
    assert_eq!(page["next"], page["data"][9]["_id"]);
    assert!(page["previous"].is_null());

    let empty = app.with_key(&app.production_key).get("/v2/topics").await;
    let page = cursor_page(&empty);
    assert_eq!(page["data"], json!([]));
    assert!(page["next"].is_null() && page["previous"].is_null());
    assert_eq!(page["totalCount"], 0);
}

async fn list_in_ascending_order_is_creation_order(app: TestApp) {
    let keys = make_topics(&app, 12).await;
    for q in [
        "orderDirection=ASC",
        "orderDirection=asc",
        "orderDirection=1",
    ] {
        assert_eq!(
            walk(&app, &format!("/v2/topics?{q}"), 5, "key").await,
            keys,
            "{q}"
        );
    }
    let mut desc = keys.clone();
    desc.reverse();
    assert_eq!(
        walk(&app, "/v2/topics?orderDirection=DESC", 5, "key").await,
        desc
    );
}

async fn list_filters_by_exact_key_and_name_substring(app: TestApp) {
    for (key, name) in [
        ("news", "Daily News"),
        ("news-eu", "European news"),
        ("sports", "Sports"),
        ("weather", "NEWSFLASH weather"),
    ] {
        upsert(&app, json!({"key": key, "name": name})).await;
    }
    upsert(&app, json!({"key": "unnamed"})).await;

    let res = app.get("/v2/topics?key=news").await;
    assert_eq!(field_of(cursor_page(&res), "key"), ["news"]);
    assert_eq!(res.body["totalCount"], 1);
    let res = app.get("/v2/topics?key=new").await;
    assert_eq!(cursor_page(&res)["data"], json!([]));

    let res = app.get("/v2/topics?name=news&orderDirection=ASC").await;
    assert_eq!(
        field_of(cursor_page(&res), "key"),
        ["news", "news-eu", "weather"]
    );
    assert_eq!(res.body["totalCount"], 3);
    // Paging within a filter.
    let filtered = walk(&app, "/v2/topics?name=NeWs&orderDirection=ASC", 2, "key").await;
    assert_eq!(filtered, ["news", "news-eu", "weather"]);
    // Both filters must match.
    let res = app.get("/v2/topics?key=sports&name=news").await;
    assert_eq!(cursor_page(&res)["totalCount"], 0);
    // Pattern characters are literal.
    let res = app.get("/v2/topics?name=%25").await;
    assert_eq!(cursor_page(&res)["totalCount"], 0);
}

async fn list_validates_limit_cursor_and_order(app: TestApp) {
    app.get("/v2/topics?limit=0")
        .await
        .assert_validation(&["limit must not be less than 1"]);
    app.get("/v2/topics?limit=101")
        .await
        .assert_validation(&["limit must not be greater than 100"]);
    app.get("/v2/topics?limit=2.5")
        .await
        .assert_validation(&["limit must be an integer number"]);
    app.get("/v2/topics?after=nope")
        .await
        .assert_validation(&["after must be a cursor returned by a previous page"]);
    app.get("/v2/topics?orderDirection=UP")
        .await
        .assert_validation(&["orderDirection must be one of the following values: ASC, DESC"]);
    // novu-py's float limit.
    let res = app.get("/v2/topics?limit=10.0").await;
    cursor_page(&res);
    // A well-formed cursor of no item is an empty page, not an error.
    make_topics(&app, 2).await;
    let res = app.get("/v2/topics?after=000000000000000000000000").await;
    let page = cursor_page(&res);
    assert_eq!(page["data"], json!([]));
    assert_eq!(page["totalCount"], 2);
}

async fn patch_updates_name_and_data_and_404s_an_unknown_key(app: TestApp) {
    let created = upsert(
        &app,
        json!({"key": "news", "name": "News", "data": {"a": 1}}),
    )
    .await;
    let created = created.data().clone();
    let res = app.patch("/v2/topics/news", json!({"name": "Daily"})).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let t = res.data();
    assert_topic_dto(t);
    assert_eq!(t["_id"], created["_id"]);
    assert_eq!(t["name"], "Daily");
    assert_eq!(t["data"], json!({"a": 1}), "data kept when absent");

    let res = app
        .patch("/v2/topics/news", json!({"data": {"b": 2}}))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data()["name"], "Daily", "name kept when absent");
    assert_eq!(res.data()["data"], json!({"b": 2}));
    assert_eq!(app.get("/v2/topics/news").await.data(), res.data());

    app.patch("/v2/topics/news", json!({"name": false}))
        .await
        .assert_validation(&["name must be a string"]);
    app.patch("/v2/topics/ghost", json!({"name": "x"}))
        .await
        .assert_not_found("Topic with key ghost not found");
    app.get("/v2/topics/ghost")
        .await
        .assert_not_found("Topic with key ghost not found");
}

async fn delete_acknowledges_then_the_topic_is_gone_with_its_subscriptions(app: TestApp) {
    upsert(&app, json!({"key": "news"})).await;
    subscribers(&app, &["s1"]).await;
    let res = subscribe(&app, "news", json!({"subscriberIds": ["s1"]})).await;
    assert_eq!(res.status, 201, "{}", res.text);

    let res = app.delete("/v2/topics/news").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data(), &json!({"acknowledged": true}));
    app.get("/v2/topics/news")
        .await
        .assert_not_found("Topic with key news not found");
    app.delete("/v2/topics/news")
        .await
        .assert_not_found("Topic with key news not found");
    let subs = app.get("/v2/subscribers/s1/subscriptions").await;
    assert_eq!(cursor_page(&subs)["totalCount"], 0, "{}", subs.text);

    // Recreated, it starts without members.
    upsert(&app, json!({"key": "news"})).await;
    let list = app.get("/v2/topics/news/subscriptions").await;
    assert_eq!(cursor_page(&list)["data"], json!([]));
}
