//! NUL in input: PostgreSQL `text` cannot hold it (the statement fails, which used to be a 500), so
//! a NUL in any string Herald stores or looks up is a 400 on both backends; inside `data` objects,
//! stored as JSON text, it is escaped and kept.

use reqwest::Method;
use serde_json::{json, Value};

use crate::hardening::{msg, refused, slack, NUL_MESSAGE};
use crate::helpers::TestApp;

backend_tests!(
    nul_in_any_stored_string_is_400_not_500,
    nul_in_subscriber_id_lists_and_query_filters_is_400_not_500,
    nul_in_data_objects_round_trips,
);

async fn nul_in_any_stored_string_is_400_not_500(app: TestApp) {
    slack(&app).await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    app.post("/v2/topics", json!({"key": "news"})).await;
    let fcm = app
        .create_integration(
            json!({"providerId": "fcm", "channel": "push", "identifier": "fcm",
                                   "active": true}),
        )
        .await;
    let fcm_path = format!("/v1/integrations/{}", fcm["_id"].as_str().unwrap());
    let nul = "a\u{0}b";
    let n = |f: &str| msg(f, NUL_MESSAGE);
    let cases: Vec<(Method, &str, Value, Vec<String>)> = vec![
        (
            Method::POST,
            "/v1/subscribers",
            json!({"subscriberId": nul}),
            n("subscriberId"),
        ),
        (
            Method::POST,
            "/v2/subscribers",
            json!({"subscriberId": nul}),
            n("subscriberId"),
        ),
        (
            Method::POST,
            "/v1/subscribers",
            json!({"subscriberId": "s2", "firstName": nul}),
            n("firstName"),
        ),
        (
            Method::POST,
            "/v2/subscribers",
            json!({"subscriberId": "s2", "lastName": nul}),
            n("lastName"),
        ),
        (
            Method::POST,
            "/v1/subscribers/bulk",
            json!({"subscribers": [{"subscriberId": "s2", "avatar": nul}]}),
            n("subscribers.0.avatar"),
        ),
        (
            Method::PUT,
            "/v1/subscribers/s1",
            json!({"phone": nul}),
            n("phone"),
        ),
        (
            Method::PATCH,
            "/v2/subscribers/s1",
            json!({"timezone": nul}),
            n("timezone"),
        ),
        (
            Method::PUT,
            "/v1/subscribers/s1/credentials",
            json!({"providerId": "slack", "credentials": {"webhookUrl": format!("https://x/{nul}")}}),
            n("credentials.webhookUrl"),
        ),
        (
            Method::PATCH,
            "/v1/subscribers/s1/credentials",
            json!({"providerId": "slack", "credentials": {"webhookUrl": "https://x", "title": nul}}),
            n("credentials.title"),
        ),
        (
            Method::POST,
            "/v1/topics",
            json!({"key": "t", "name": nul}),
            n("name"),
        ),
        (
            Method::POST,
            "/v1/topics",
            json!({"key": nul, "name": "n"}),
            n("key"),
        ),
        (
            Method::PATCH,
            "/v1/topics/news",
            json!({"name": nul}),
            n("name"),
        ),
        (
            Method::POST,
            "/v2/topics",
            json!({"key": "t", "name": nul}),
            n("name"),
        ),
        (Method::POST, "/v2/topics", json!({"key": nul}), n("key")),
        (
            Method::PATCH,
            "/v2/topics/news",
            json!({"name": nul}),
            n("name"),
        ),
        (
            Method::POST,
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "name": nul}),
            n("name"),
        ),
        (
            Method::POST,
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "identifier": nul}),
            n("identifier"),
        ),
        (Method::PUT, &fcm_path, json!({"name": nul}), n("name")),
        (
            Method::PUT,
            &fcm_path,
            json!({"credentials": {"serviceAccount": nul}}),
            n("credentials.serviceAccount"),
        ),
    ];
    for (method, path, body, messages) in cases {
        refused(&app, method, path, body, &messages).await;
    }
    // Nothing changed.
    let s = app.subscriber("s1").await;
    assert!(!matches!(s.get("phone"), Some(Value::String(_))), "{s}");
    assert_eq!(s["channels"], json!([]));
    assert_eq!(app.get("/v2/subscribers").await.body["totalCount"], 1);
    assert_eq!(app.get("/v2/topics").await.body["totalCount"], 1);
    let res = app.get("/v1/integrations").await;
    assert_eq!(res.data().as_array().unwrap().len(), 2, "{}", res.text);
}

async fn nul_in_subscriber_id_lists_and_query_filters_is_400_not_500(app: TestApp) {
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    app.post(
        "/v2/topics/news/subscriptions",
        json!({"subscriberIds": ["s1"]}),
    )
    .await;
    let nul = "a\u{0}b";
    let bodies: Vec<(Method, &str, Value)> = vec![
        (
            Method::POST,
            "/v1/topics/news/subscribers",
            json!({"subscribers": [nul]}),
        ),
        (
            Method::POST,
            "/v1/topics/news/subscribers/removal",
            json!({"subscribers": ["s1", nul]}),
        ),
        (
            Method::POST,
            "/v2/topics/news/subscriptions",
            json!({"subscriberIds": [nul]}),
        ),
        (
            Method::POST,
            "/v2/topics/news/subscriptions",
            json!({"subscriptions": [{"subscriberId": nul}]}),
        ),
        (
            Method::DELETE,
            "/v2/topics/news/subscriptions",
            json!({"subscriberIds": [nul]}),
        ),
    ];
    for (method, path, body) in bodies {
        let res = app
            .send(app.request(method.clone(), path).json(&body))
            .await;
        assert_eq!(res.status, 400, "{method} {path}: {}", res.text);
        assert_eq!(res.body["error"], "Bad Request", "{}", res.text);
        let text = res.body["message"].to_string();
        assert!(text.contains(NUL_MESSAGE), "{method} {path}: {}", res.text);
    }
    for path in [
        "/v2/subscribers?subscriberId=%00",
        "/v2/subscribers?email=a%00",
        "/v2/subscribers?phone=%00",
        "/v2/subscribers?name=%00x",
        "/v1/topics?key=%00",
        "/v2/topics?key=%00",
        "/v2/topics?name=%00",
        "/v2/topics/news/subscriptions?subscriberId=%00",
        "/v2/subscribers/s1/subscriptions?key=%00",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status, 400, "{path}: {}", res.text);
        let text = res.body["message"].to_string();
        assert!(text.contains(NUL_MESSAGE), "{path}: {}", res.text);
    }
    // The membership is intact.
    let res = app.get("/v2/topics/news/subscriptions").await;
    assert_eq!(res.body["totalCount"], 1, "{}", res.text);
}

async fn nul_in_data_objects_round_trips(app: TestApp) {
    // `data` is stored as JSON text, where NUL is the escape `\u0000`: it is kept, on both backends.
    let data = json!({"k": "a\u{0}b", "nested": ["\u{0}"]});
    let res = app
        .post(
            "/v2/subscribers",
            json!({"subscriberId": "s1", "data": data}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(app.subscriber("s1").await["data"], data);
    let res = app
        .post("/v2/topics", json!({"key": "t", "data": data}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(app.get("/v2/topics/t").await.data()["data"], data);
}
