//! Hostile input: every refusal is a clean 4xx in Novu's error format (`application/json`,
//! `{statusCode, timestamp, path, message, …}`), never a 5xx, and leaves the environment exactly
//! as it was. The cases the server does not handle yet are at the end, ignored with the reason.

use herald::ServerSettings;
use reqwest::Method;
use serde_json::{json, Value};

use crate::routes::{fill, sample_body, ROUTES};
use crate::support::{device_tokens, encode, snapshot, App, Backend, Res};

both_backends!(
    a_body_over_100_kb_is_413_on_every_route_that_reads_one,
    json_nested_10000_levels_deep_is_400,
    ten_thousand_device_tokens_are_400_and_nothing_is_stored,
    a_json_body_that_is_not_utf8_is_400,
    a_10_kb_id_in_the_path_is_a_clean_4xx,
    control_characters_in_path_ids_are_400,
    dot_segments_and_encoded_slashes_never_leave_the_addressed_resource,
    an_id_with_slashes_and_dots_is_stored_and_addressed_exactly,
);

/// An environment with integrations `fcm-main` and `slack-main` and subscriber `s1` holding the
/// device token `s1-phone`, and its snapshot.
struct Fixture {
    app: App,
    fcm_id: String,
    slack_id: String,
    before: Value,
}

impl Fixture {
    async fn new(backend: Backend) -> Option<Fixture> {
        let app = App::spawn(backend, ServerSettings::default()).await?;
        let api = &app.dev;
        let fcm = api
            .post(
                "/v1/integrations",
                json!({"providerId": "fcm", "channel": "push", "identifier": "fcm-main", "active": true}),
            )
            .await;
        let slack = api
            .post(
                "/v1/integrations",
                json!({"providerId": "slack", "channel": "chat", "identifier": "slack-main", "active": true}),
            )
            .await;
        let res = api
            .post(
                "/v1/subscribers",
                json!({"subscriberId": "s1", "channels": [
                    {"providerId": "fcm", "credentials": {"deviceTokens": ["s1-phone"]}}]}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
        let id = |r: &Res| r.data(201)["_id"].as_str().expect("_id").to_string();
        let (fcm_id, slack_id) = (id(&fcm), id(&slack));
        let before = snapshot(api).await;
        Some(Fixture {
            app,
            fcm_id,
            slack_id,
            before,
        })
    }

    /// Routes that read a body, with a path on the fixture's data.
    fn body_routes(&self) -> Vec<(Method, String, Value)> {
        ROUTES
            .iter()
            .filter_map(|(method, template)| {
                let body = sample_body(method, template, "hostile");
                (!body.is_null()).then(|| {
                    let path = fill(template, "s1", "fcm", &self.fcm_id);
                    (http_method(method), path, body)
                })
            })
            .collect()
    }

    async fn assert_unchanged(&self) {
        assert_eq!(
            snapshot(&self.app.dev).await,
            self.before,
            "refused input changed what is stored"
        );
    }
}

fn http_method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).expect("an HTTP method")
}

async fn a_body_over_100_kb_is_413_on_every_route_that_reads_one(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let padding = "x".repeat(101 * 1024);
    for (method, path, mut body) in fx.body_routes() {
        body["padding"] = json!(padding);
        let res = fx.app.dev.call(method.clone(), &path, &body).await;
        res.assert_error(413, json!("request entity too large"));
        assert_eq!(res.body["error"], "Payload Too Large", "{method} {path}");
        assert_eq!(res.body["path"], json!(path));
    }
    fx.assert_unchanged().await;
}

async fn json_nested_10000_levels_deep_is_400(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    const DEPTH: usize = 10_000;
    let arrays = "[".repeat(DEPTH);
    let objects = format!("{}1{}", r#"{"a":"#.repeat(DEPTH), "}".repeat(DEPTH));
    let in_a_field = format!(
        r#"{{"subscriberId":"deep","data":{}{}}}"#,
        "[".repeat(DEPTH),
        "]".repeat(DEPTH)
    );
    for (method, path, _) in fx.body_routes() {
        for body in [&arrays, &objects, &in_a_field] {
            let res = fx
                .app
                .dev
                .raw(
                    method.clone(),
                    &path,
                    "application/json",
                    body.as_bytes().to_vec(),
                )
                .await;
            res.assert_novu_error(400);
            assert_eq!(res.body["error"], "Bad Request", "{method} {path}");
        }
    }
    fx.assert_unchanged().await;
}

async fn ten_thousand_device_tokens_are_400_and_nothing_is_stored(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let tokens: Vec<String> = (0..10_000).map(|i| format!("t{i}")).collect();
    let channel = json!({"providerId": "fcm", "credentials": {"deviceTokens": tokens}});
    let api = &fx.app.dev;
    let cases = [
        (
            Method::PUT,
            "/v1/subscribers/s1/credentials",
            channel.clone(),
            "",
        ),
        (
            Method::PATCH,
            "/v1/subscribers/s1/credentials",
            channel.clone(),
            "",
        ),
        (
            Method::POST,
            "/v1/subscribers",
            json!({"subscriberId": "many", "channels": [channel]}),
            "channels.0.",
        ),
        (
            Method::POST,
            "/v1/subscribers/bulk",
            json!({"subscribers": [{"subscriberId": "many", "channels": [channel]}]}),
            "subscribers.0.channels.0.",
        ),
    ];
    for (method, path, body, prefix) in cases {
        let res = api.call(method, path, &body).await;
        res.assert_error(
            400,
            json!([format!(
                "{prefix}credentials.deviceTokens must contain no more than 100 elements"
            )]),
        );
    }
    fx.assert_unchanged().await;
}

async fn a_json_body_that_is_not_utf8_is_400(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let cases: [(Method, &str, &[u8]); 7] = [
        (
            Method::POST,
            "/v1/subscribers",
            b"{\"subscriberId\":\"\xff\xfe\"}",
        ),
        (
            Method::POST,
            "/v2/subscribers",
            b"{\"subscriberId\":\"s\xc3\x28\"}",
        ),
        (
            Method::POST,
            "/v1/subscribers/bulk",
            b"{\"subscribers\":[{\"subscriberId\":\"\xc0\xaf\"}]}",
        ),
        // A UTF-16 surrogate encoded as if it were a character (CESU-8).
        (
            Method::PATCH,
            "/v1/subscribers/s1/credentials",
            b"{\"providerId\":\"fcm\",\"credentials\":{\"deviceTokens\":[\"\xed\xa0\x80\"]}}",
        ),
        (
            Method::PUT,
            "/v1/subscribers/s1",
            b"\xff{\"firstName\":\"x\"}",
        ),
        // Escaped, but still not a character: a lone surrogate.
        (
            Method::POST,
            "/v1/subscribers",
            br#"{"subscriberId":"\ud800"}"#,
        ),
        (
            Method::POST,
            "/v1/integrations",
            b"{\"providerId\":\"slack\",\"channel\":\"chat\",\"name\":\"\x80\"}",
        ),
    ];
    for (method, path, body) in cases {
        let res = fx
            .app
            .dev
            .raw(method.clone(), path, "application/json", body.to_vec())
            .await;
        res.assert_novu_error(400);
        assert_eq!(res.body["error"], "Bad Request", "{method} {path}");
    }
    fx.assert_unchanged().await;
}

async fn a_10_kb_id_in_the_path_is_a_clean_4xx(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let huge = "a".repeat(10 * 1024);
    for (method, template) in ROUTES.iter().filter(|(_, t)| t.contains('{')) {
        let path = fill(template, &huge, &huge, &huge);
        let body = sample_body(method, template, "hostile");
        let res = fx.app.dev.call(http_method(method), &path, &body).await;
        res.assert_client_error();
    }
    fx.assert_unchanged().await;
}

async fn control_characters_in_path_ids_are_400(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    // NUL, line feed, carriage return, escape, delete, and U+0085 (a C1 control).
    for control in ["%00", "%0A", "%0D", "%1B", "%7F", "%C2%85"] {
        for (method, template) in ROUTES.iter().filter(|(_, t)| t.contains('{')) {
            let path = fill(
                template,
                &format!("s1{control}"),
                &format!("fcm{control}"),
                &format!("{}{control}", fx.fcm_id),
            );
            let body = sample_body(method, template, "hostile");
            let res = fx.app.dev.call(http_method(method), &path, &body).await;
            res.assert_novu_error(400);
            let message = res.body["message"].as_str().unwrap_or_default();
            assert!(
                message.ends_with("must not contain control characters"),
                "{method} {path}: {}",
                res.brief()
            );
        }
    }
    fx.assert_unchanged().await;
}

async fn dot_segments_and_encoded_slashes_never_leave_the_addressed_resource(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let (fcm, slack) = (&fx.fcm_id, &fx.slack_id);
    let subscriber = |id: &str| format!("Subscriber not found for id {id}");
    let entity = |id: &str| format!("Entity with id {id} not found");
    // `(method, target, message)`, sent byte for byte (a URL parser would resolve the `..`). An
    // empty message: any 4xx, as for a route that does not exist.
    let cases = [
        (
            "GET",
            "/v1/subscribers/../integrations".into(),
            String::new(),
        ),
        (
            "GET",
            "/v1/subscribers/s1/../../integrations".into(),
            String::new(),
        ),
        ("GET", "/v1/subscribers/..".into(), String::new()),
        (
            "DELETE",
            format!("/v1/subscribers/../integrations/{fcm}"),
            String::new(),
        ),
        (
            "DELETE",
            "/v1/integrations/../subscribers/s1".into(),
            String::new(),
        ),
        (
            "DELETE",
            "/v1/subscribers/s1/credentials/../../s1".into(),
            String::new(),
        ),
        (
            "DELETE",
            "/v1/subscribers/..%2Fs1".into(),
            subscriber("../s1"),
        ),
        (
            "DELETE",
            "/v1/subscribers/%2E%2E%2Fs1".into(),
            subscriber("../s1"),
        ),
        (
            "DELETE",
            "/v1/subscribers/x%2F..%2Fs1".into(),
            subscriber("x/../s1"),
        ),
        (
            "DELETE",
            "/v2/subscribers/..%2Fs1".into(),
            subscriber("../s1"),
        ),
        (
            "GET",
            "/v1/subscribers/s1%2Fcredentials".into(),
            subscriber("s1/credentials"),
        ),
        (
            "DELETE",
            "/v1/subscribers/..%2F..%2Fv1%2Fsubscribers%2Fs1/credentials/fcm".into(),
            subscriber("../../v1/subscribers/s1"),
        ),
        (
            "PUT",
            format!("/v1/integrations/..%2F{fcm}"),
            entity(&format!("../{fcm}")),
        ),
        (
            "DELETE",
            format!("/v1/integrations/{slack}%2F..%2F{fcm}"),
            entity(&format!("{slack}/../{fcm}")),
        ),
    ];
    for (method, target, message) in &cases {
        let res = fx.app.dev.verbatim(method, target, None).await;
        res.assert_client_error();
        if !message.is_empty() {
            assert_eq!(res.body["message"], json!(message), "{method} {target}");
        }
    }
    let res = fx
        .app
        .dev
        .verbatim(
            "POST",
            &format!("/v1/integrations/{slack}%2F..%2F{fcm}/set-primary"),
            None,
        )
        .await;
    res.assert_error(400, json!(["integrationId must be a mongodb id"]));
    // An unknown provider next to a real subscriber: nothing to remove, and nothing removed.
    let res = fx
        .app
        .dev
        .verbatim("DELETE", "/v1/subscribers/s1/credentials/..%2Ffcm", None)
        .await;
    assert!(
        res.status == 204 || (400..500).contains(&res.status),
        "{}",
        res.brief()
    );
    fx.assert_unchanged().await;
}

async fn an_id_with_slashes_and_dots_is_stored_and_addressed_exactly(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let api = &fx.app.dev;
    for id in ["../s1", "s1/..", "./s1", "s1/credentials", "%2Fs1"] {
        let res = api
            .post("/v1/subscribers", json!({"subscriberId": id}))
            .await;
        assert_eq!(res.data(201)["subscriberId"], json!(id));
        let path = format!("/v1/subscribers/{}", encode(id));
        let res = api.verbatim("GET", &path, None).await;
        assert_eq!(res.data(200)["subscriberId"], json!(id), "{path}");
        assert_eq!(device_tokens(res.data(200), "fcm"), Vec::<String>::new());
        let res = api.verbatim("DELETE", &path, None).await;
        assert_eq!(res.status, 200, "{path}: {}", res.text);
    }
    fx.assert_unchanged().await;
}

/// `len` characters that do not compress (a database may compress long values before indexing
/// them, which would hide an index size limit from a run of one repeated letter).
fn incompressible(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            // xorshift64: deterministic, so a failure is reproducible.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ALPHABET[(state % 64) as usize] as char
        })
        .collect()
}

/// Creating a subscriber with this id, through each route that creates one.
fn subscriber_id_cases(id: &str) -> Vec<(Method, &'static str, Value)> {
    vec![
        (Method::POST, "/v1/subscribers", json!({"subscriberId": id})),
        (Method::POST, "/v2/subscribers", json!({"subscriberId": id})),
        (
            Method::POST,
            "/v1/subscribers/bulk",
            json!({"subscribers": [{"subscriberId": id}]}),
        ),
    ]
}

/// Storing this value as a device token and as an integration identifier.
fn token_and_identifier_cases(value: &str) -> Vec<(Method, &'static str, Value)> {
    vec![
        (
            Method::PATCH,
            "/v1/subscribers/s1/credentials",
            json!({"providerId": "fcm", "credentials": {"deviceTokens": [value]}}),
        ),
        (
            Method::POST,
            "/v1/integrations",
            json!({"providerId": "slack", "channel": "chat", "identifier": value}),
        ),
    ]
}

/// Each case answers below 500: a clean Novu 4xx, or a 2xx after which the value reads back.
async fn assert_never_5xx(fx: &Fixture, cases: &[(Method, &str, Value)]) {
    for (method, path, body) in cases {
        let res = fx.app.dev.call(method.clone(), path, body).await;
        assert!(res.status < 500, "{method} {path}: {}", res.brief());
        if res.status >= 400 {
            res.assert_client_error();
        }
    }
}

/// Each case is a clean 4xx and nothing is stored.
async fn assert_refused(fx: &Fixture, cases: &[(Method, &str, Value)]) {
    for (method, path, body) in cases {
        let res = fx.app.dev.call(method.clone(), path, body).await;
        assert!(res.status < 500, "{method} {path}: a 5xx: {}", res.brief());
        res.assert_client_error();
    }
    fx.assert_unchanged().await;
}

async fn long_body_ids_are_never_a_5xx(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let long = incompressible(10 * 1024);
    let mut cases = subscriber_id_cases(&long);
    cases.extend(token_and_identifier_cases(&long));
    assert_never_5xx(&fx, &cases).await;
}

async fn a_10_kb_subscriber_id_in_a_body_is_400(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    assert_refused(&fx, &subscriber_id_cases(&incompressible(10 * 1024))).await;
}

async fn a_nul_in_a_body_id_is_never_a_5xx(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let mut cases = subscriber_id_cases("s\u{0}1");
    cases.extend(token_and_identifier_cases("t\u{0}1"));
    assert_never_5xx(&fx, &cases).await;
}

/// A subscriber whose id holds a control character could never be read, changed or deleted
/// through a path, which refuses control characters.
async fn control_characters_in_body_subscriber_ids_are_400_as_in_paths(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let mut cases = subscriber_id_cases("s\n1");
    cases.extend(subscriber_id_cases("s\u{0}1"));
    cases.extend(subscriber_id_cases("s\u{1b}1"));
    assert_refused(&fx, &cases).await;
}

async fn a_form_body_that_is_not_utf8_is_400(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    for body in [&b"subscriberId=%FF"[..], b"subscriberId=\xff"] {
        let res = fx
            .app
            .dev
            .raw(
                Method::POST,
                "/v1/subscribers",
                "application/x-www-form-urlencoded",
                body.to_vec(),
            )
            .await;
        res.assert_client_error();
    }
    fx.assert_unchanged().await;
}

// Findings: each test states the intended behaviour and is ignored where the server does not meet
// it yet (the reason says how), so `cargo test -- --ignored` lists what is left to fix.
both_backends!(@case long_body_ids_are_never_a_5xx,
    sqlite(),
    postgres(ignore = "server bug: an id or token over ~2.7 KB is a 500 (btree index row size)"));
both_backends!(@case a_10_kb_subscriber_id_in_a_body_is_400,
    sqlite(ignore = "server bug: no subscriberId length limit, 10 KB is stored (201)"),
    postgres(ignore = "server bug: a 10 KB subscriberId is a 500 (index row size)"));
both_backends!(@case a_nul_in_a_body_id_is_never_a_5xx,
    sqlite(),
    postgres(ignore = "server bug: NUL in an id or token is a 500 (PostgreSQL text)"));
both_backends!(@case control_characters_in_body_subscriber_ids_are_400_as_in_paths,
    sqlite(ignore = "server bug: stored (201), then unreachable by path"),
    postgres(ignore = "server bug: stored (201), then unreachable by path; NUL is a 500"));
both_backends!(@case a_form_body_that_is_not_utf8_is_400,
    sqlite(ignore = "server bug: lossy form decoding stores U+FFFD (201)"),
    postgres(ignore = "server bug: lossy form decoding stores U+FFFD (201)"));
