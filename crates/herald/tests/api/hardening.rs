//! The input rules that keep stored values addressable: ids (subscriber ids, topic keys,
//! integration identifiers) trimmed, at most 256 characters and free of control characters; device
//! tokens at most 2048 bytes; strict UTF-8 bodies. NUL is in `hardening_nul`, integration
//! credentials and conditions in `integration_typing`.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{channel, TestApp, TestResponse};

backend_tests!(
    ids_are_trimmed_everywhere_they_are_created,
    ids_of_257_characters_are_refused_and_256_are_served,
    ids_with_control_characters_are_refused,
    device_tokens_are_at_most_2048_bytes_without_control_characters,
    form_bodies_must_be_utf8,
    a_json_body_that_is_not_utf8_is_400,
);

const LONG_MESSAGE: &str = "must be shorter than or equal to 256 characters";
const CONTROL_MESSAGE: &str = "must not contain control characters";
pub const NUL_MESSAGE: &str = "must not contain null characters";

pub async fn slack(app: &TestApp) {
    app.create_integration(
        json!({"providerId": "slack", "channel": "chat", "identifier": "slack",
                                  "active": true}),
    )
    .await;
}

/// Sends `body` to `method path` and expects a 400 whose messages are exactly `messages`.
pub async fn refused(app: &TestApp, method: Method, path: &str, body: Value, messages: &[String]) {
    let res = app
        .send(app.request(method.clone(), path).json(&body))
        .await;
    let expected: Vec<&str> = messages.iter().map(String::as_str).collect();
    assert_eq!(res.status, 400, "{method} {path} {body}: {}", res.text);
    res.assert_validation(&expected);
}

pub fn msg(field: &str, rule: &str) -> Vec<String> {
    vec![format!("{field} {rule}")]
}

async fn ids_are_trimmed_everywhere_they_are_created(app: TestApp) {
    let res = app
        .post("/v1/subscribers", json!({"subscriberId": "  v1 \n"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.data()["subscriberId"], "v1");
    let res = app
        .post("/v2/subscribers", json!({"subscriberId": "\tv2 "}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.data()["subscriberId"], "v2");
    let res = app
        .post(
            "/v1/subscribers/bulk",
            json!({"subscribers": [{"subscriberId": " bulk-1 "}]}),
        )
        .await;
    assert_eq!(res.data()["created"], json!([{"subscriberId": "bulk-1"}]));
    for id in ["v1", "v2", "bulk-1"] {
        assert_eq!(app.subscriber(id).await["subscriberId"], id);
    }

    let res = app
        .post("/v1/topics", json!({"key": " news ", "name": "N"}))
        .await;
    assert_eq!(res.data()["key"], "news");
    let res = app.post("/v2/topics", json!({"key": " daily\n"})).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.data()["key"], "daily");
    assert_eq!(app.get("/v2/topics/news").await.status, 200);

    let i = app
        .create_integration(
            json!({"providerId": "fcm", "channel": "push", "identifier": " fcm-main ",
                                   "active": true}),
        )
        .await;
    assert_eq!(i["identifier"], "fcm-main");
    let res = app
        .put(
            &format!("/v1/integrations/{}", i["_id"].as_str().unwrap()),
            json!({"identifier": "  fcm-renamed  "}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data()["identifier"], "fcm-renamed");
    // `integrationIdentifier` of a credentials request is an id too.
    let res = app
        .put(
            "/v1/subscribers/v1/credentials",
            json!({"providerId": "fcm", "integrationIdentifier": " fcm-renamed ",
                   "credentials": {"deviceTokens": ["t"]}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        channel(res.data(), "fcm")["integrationIdentifier"],
        "fcm-renamed"
    );
}

async fn ids_of_257_characters_are_refused_and_256_are_served(app: TestApp) {
    slack(&app).await;
    let long = "x".repeat(257);
    let long_msg = |f: &str| msg(f, LONG_MESSAGE);
    let cases: Vec<(Method, &str, Value, Vec<String>)> = vec![
        (
            Method::POST,
            "/v1/subscribers",
            json!({"subscriberId": long}),
            long_msg("subscriberId"),
        ),
        (
            Method::POST,
            "/v2/subscribers",
            json!({"subscriberId": long}),
            long_msg("subscriberId"),
        ),
        (
            Method::POST,
            "/v1/subscribers/bulk",
            json!({"subscribers": [{"subscriberId": long}]}),
            long_msg("subscribers.0.subscriberId"),
        ),
        (
            Method::POST,
            "/v1/topics",
            json!({"key": long, "name": "n"}),
            long_msg("key"),
        ),
        (
            Method::POST,
            "/v2/topics",
            json!({"key": long}),
            long_msg("key"),
        ),
        (
            Method::POST,
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "identifier": long}),
            long_msg("identifier"),
        ),
    ];
    for (method, path, body, messages) in cases {
        refused(&app, method, path, body, &messages).await;
    }
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    refused(
        &app,
        Method::PUT,
        "/v1/subscribers/s1/credentials",
        json!({"providerId": "slack", "integrationIdentifier": long,
               "credentials": {"webhookUrl": "https://hooks.slack.com/x"}}),
        &long_msg("integrationIdentifier"),
    )
    .await;
    // Characters, not bytes: 257 two-byte characters are refused too.
    refused(
        &app,
        Method::POST,
        "/v2/subscribers",
        json!({"subscriberId": "é".repeat(257)}),
        &long_msg("subscriberId"),
    )
    .await;

    // 256 characters (also multi-byte ones) are stored and addressable by path.
    for id in ["y".repeat(256), "é".repeat(256)] {
        let res = app
            .post("/v2/subscribers", json!({ "subscriberId": id }))
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        let encoded: String = id
            .chars()
            .map(|c| {
                if c == 'é' {
                    "%C3%A9".to_string()
                } else {
                    c.to_string()
                }
            })
            .collect();
        let res = app.get(&format!("/v2/subscribers/{encoded}")).await;
        assert_eq!(res.data()["subscriberId"], id.as_str());
    }
    let key = "k".repeat(256);
    let res = app.post("/v2/topics", json!({ "key": key })).await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(app.get(&format!("/v2/topics/{key}")).await.status, 200);
    let res = app
        .post("/v1/topics", json!({"key": "t".repeat(256), "name": "n"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let i = app
        .create_integration(json!({"providerId": "fcm", "channel": "push",
                                   "identifier": "i".repeat(256)}))
        .await;
    assert_eq!(i["identifier"], "i".repeat(256));
    // Nothing of the refused requests was stored.
    let list = app.get("/v2/subscribers?limit=100").await;
    assert_eq!(list.body["totalCount"], 3, "{}", list.text);
}

async fn ids_with_control_characters_are_refused(app: TestApp) {
    slack(&app).await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    for bad in ["a\nb", "a\tb", "\u{1b}[31mred", "del\u{7f}", "c1\u{85}x"] {
        let control = |f: &str| msg(f, CONTROL_MESSAGE);
        let cases: Vec<(Method, &str, Value, Vec<String>)> = vec![
            (
                Method::POST,
                "/v1/subscribers",
                json!({"subscriberId": bad}),
                control("subscriberId"),
            ),
            (
                Method::POST,
                "/v2/subscribers",
                json!({"subscriberId": bad}),
                control("subscriberId"),
            ),
            (
                Method::POST,
                "/v1/subscribers/bulk",
                json!({"subscribers": [{"subscriberId": "ok"}, {"subscriberId": bad}]}),
                control("subscribers.1.subscriberId"),
            ),
            (
                Method::POST,
                "/v1/topics",
                json!({"key": bad, "name": "n"}),
                control("key"),
            ),
            (
                Method::POST,
                "/v2/topics",
                json!({"key": bad}),
                control("key"),
            ),
            (
                Method::POST,
                "/v1/integrations",
                json!({"providerId": "fcm", "channel": "push", "identifier": bad}),
                control("identifier"),
            ),
            (
                Method::PUT,
                "/v1/subscribers/s1/credentials",
                json!({"providerId": "slack", "integrationIdentifier": bad,
                       "credentials": {"webhookUrl": "https://hooks.slack.com/x"}}),
                control("integrationIdentifier"),
            ),
        ];
        for (method, path, body, messages) in cases {
            refused(&app, method, path, body, &messages).await;
        }
    }
    // A control character in a path parameter cannot address anything: 400 as well.
    let res = app.get("/v1/subscribers/a%0Ab").await;
    assert_eq!(res.status, 400, "{}", res.text);
    let res = app.get("/v2/topics/a%09b").await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert_eq!(app.get("/v2/subscribers").await.body["totalCount"], 1);
}

async fn device_tokens_are_at_most_2048_bytes_without_control_characters(app: TestApp) {
    app.spec_fixture().await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let put = |tokens: Value| {
        let app = &app;
        async move {
            app.put(
                "/v1/subscribers/s1/credentials",
                json!({"providerId": "fcm", "credentials": {"deviceTokens": tokens}}),
            )
            .await
        }
    };
    let too_long =
        "each value in credentials.deviceTokens must be shorter than or equal to 2048 characters";
    put(json!(["a".repeat(2049)]))
        .await
        .assert_validation(&[too_long]);
    // Bytes, not characters: 1025 two-byte characters are 2050 bytes.
    put(json!(["ok", "é".repeat(1025)]))
        .await
        .assert_validation(&[too_long]);
    put(json!(["a\u{0}b"])).await.assert_validation(&[
        "each value in credentials.deviceTokens must not contain control characters",
    ]);
    put(json!(["line\nbreak", "b".repeat(3000)]))
        .await
        .assert_validation(&[
            too_long,
            "each value in credentials.deviceTokens must not contain control characters",
        ]);
    let res = app
        .patch(
            "/v1/subscribers/s1/credentials",
            json!({"providerId": "fcm", "credentials": {"deviceTokens": ["c".repeat(2049)]}}),
        )
        .await;
    res.assert_validation(&[too_long]);
    let res = app
        .post(
            "/v1/subscribers",
            json!({"subscriberId": "s2", "channels": [
                {"providerId": "fcm", "credentials": {"deviceTokens": ["d".repeat(2049)]}}]}),
        )
        .await;
    res.assert_validation(&[
        "each value in channels.0.credentials.deviceTokens must be shorter than or equal to 2048 characters",
    ]);
    assert_eq!(app.subscriber("s1").await["channels"], json!([]));

    let max = "t".repeat(2048);
    let multibyte = "é".repeat(1024);
    let res = put(json!([max, multibyte])).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        channel(res.data(), "fcm")["credentials"]["deviceTokens"],
        json!([max, multibyte])
    );
}

async fn form_bodies_must_be_utf8(app: TestApp) {
    let form = "application/x-www-form-urlencoded";
    let raw: Vec<u8> = b"subscriberId=caf\xe9".to_vec();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (raw, "raw Latin-1 byte"),
        (
            b"subscriberId=caf%E9".to_vec(),
            "percent-encoded Latin-1 byte",
        ),
        (b"subscriberId=ok&first%FFName=x".to_vec(), "in a key"),
    ];
    for (body, what) in cases {
        let res = app.raw(Method::POST, "/v1/subscribers", form, body).await;
        res.assert_bad_request("Invalid form body: not UTF-8");
        assert_eq!(res.status, 400, "{what}");
    }
    let res = app
        .raw(
            Method::POST,
            "/v1/topics",
            form,
            b"key=k%FF&name=n".to_vec(),
        )
        .await;
    res.assert_bad_request("Invalid form body: not UTF-8");
    // UTF-8, raw or percent-encoded, is fine.
    let res = app
        .raw(
            Method::POST,
            "/v1/subscribers",
            form,
            "subscriberId=caf%C3%A9&firstName=J+D".as_bytes().to_vec(),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.data()["subscriberId"], "café");
    assert_eq!(res.data()["firstName"], "J D");
    let res = app
        .raw(
            Method::POST,
            "/v1/subscribers",
            form,
            "subscriberId=thé".as_bytes().to_vec(),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.data()["subscriberId"], "thé");
    let list = app.get("/v1/subscribers").await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 2);
}

async fn a_json_body_that_is_not_utf8_is_400(app: TestApp) {
    let res: TestResponse = app
        .raw(
            Method::POST,
            "/v1/subscribers",
            "application/json",
            b"{\"subscriberId\":\"caf\xe9\"}".to_vec(),
        )
        .await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert_eq!(res.body["error"], "Bad Request");
    assert!(res.body["message"].is_string(), "{}", res.text);
    assert_eq!(app.get("/v1/subscribers").await.body["data"], json!([]));
}
