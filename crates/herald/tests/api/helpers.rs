//! The harness every API test runs on: a real Herald server on `127.0.0.1:0` over a fresh store
//! (SQLite in a temporary directory, or a fresh PostgreSQL database), seeded with a known API key,
//! and a client whose helpers return status, headers and parsed JSON.
//!
//! The server is ready as soon as the listener is bound (the kernel queues connections until axum
//! accepts them), so no test waits for anything. Dropping the [`TestApp`] cancels the server.

use std::ops::Deref;
use std::sync::Arc;

use herald::ServerSettings;
use herald_core::Store;
use herald_store_sqlite::SqliteStore;
use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Delivery as the API tests run it: loopback `127.0.0.1` allowed (the receivers listen there,
/// `127.0.0.2` stays refused), retries due at once (no waiting), three attempts.
pub fn delivery_settings(worker_enabled: bool) -> herald::delivery::DeliverySettings {
    let mut settings = herald::delivery::DeliverySettings {
        worker_enabled,
        ..Default::default()
    };
    settings.providers.outbound.allow = vec!["127.0.0.1/32".parse().expect("a CIDR")];
    settings.retry.initial_delay = std::time::Duration::ZERO;
    settings.retry.max_attempts = 3;
    settings.worker.concurrency = 8;
    settings
}

/// The Development key every test app is seeded with.
pub const API_KEY: &str = "herald-test-key-5f0c2b7e9d1a4c38";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server and what the tests need to talk to it.
pub struct TestApp {
    pub api: Api,
    pub store: Arc<dyn Store>,
    /// A key of the Production environment (bootstrap creates it next to Development).
    pub production_key: String,
    /// `http://127.0.0.1:PORT` of the metrics listener, when the app was spawned with one.
    pub metrics_base: Option<String>,
    /// The server's metrics (a worker given them counts into what the server serves).
    pub metrics: Arc<herald::metrics::Metrics>,
    shutdown: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
    /// The server's `Idempotency-Key`s in flight.
    in_flight: herald::http::idempotency::InFlight,
    _dir: Option<TempDir>,
}

impl TestApp {
    /// Starts a server on a fresh store. `None` only for PostgreSQL when no server is available
    /// and `HERALD_TEST_REQUIRE_POSTGRES` is unset (the support crate prints why, once).
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_configured(backend, |_| {}).await
    }

    /// [`TestApp::spawn`] with settings changed by `configure` (e.g. `share` token ownership).
    pub async fn spawn_configured(
        backend: Backend,
        configure: impl FnOnce(&mut ServerSettings),
    ) -> Option<TestApp> {
        // The worker does not run by itself: tests run it with [`TestApp::deliver`], so what it
        // sends is settled when they look.
        let mut settings = ServerSettings {
            delivery: delivery_settings(false),
            ..ServerSettings::default()
        };
        configure(&mut settings);
        Self::spawn_with(backend, settings, false).await
    }

    /// [`TestApp::spawn`] with these settings, and with the metrics served on a listener of
    /// their own when `metrics` is set (see [`TestApp::metrics_base`]).
    pub async fn spawn_with(
        backend: Backend,
        settings: ServerSettings,
        metrics: bool,
    ) -> Option<TestApp> {
        let (store, dir): (Arc<dyn Store>, Option<TempDir>) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("herald.db").display());
                let store = SqliteStore::open(&url, herald_core::secrets::test_keyring())
                    .await
                    .expect("opening SQLite");
                (Arc::new(store), Some(dir))
            }
            Backend::Postgres => {
                let db = herald_store_postgres::test_support::test_database().await?;
                (Arc::new(db.connect().await), None)
            }
        };
        let keys = herald::startup::bootstrap(&*store, Some(API_KEY))
            .await
            .expect("bootstrap");
        let production_key = keys
            .into_iter()
            .find(|k| k.environment == "Production")
            .expect("bootstrap of an empty database returns the Production key")
            .key;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let shutdown = CancellationToken::new();
        let mut server = herald::Server::new(store.clone(), settings);
        let mut metrics_base = None;
        if metrics {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
            metrics_base = Some(format!(
                "http://{}",
                listener.local_addr().expect("local address")
            ));
            server = server.serve_metrics_on(listener);
        }
        let in_flight = server.state().in_flight.clone();
        let metrics = server.state().metrics.clone();
        let server = tokio::spawn(server.run(listener, shutdown.clone()));
        let api = Api {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            base: format!("http://{addr}"),
            key: Some(API_KEY.to_string()),
        };
        Some(TestApp {
            api,
            store,
            production_key,
            metrics_base,
            metrics,
            shutdown,
            server: Some(server),
            in_flight,
            _dir: dir,
        })
    }

    /// Cancels the shutdown token and waits for `run` to return (what it returned).
    pub async fn stop(mut self) -> std::io::Result<()> {
        self.shutdown.cancel();
        let server = self.server.take().expect("the server task");
        server.await.expect("the server task does not panic")
    }

    /// The `Idempotency-Key`s the server holds in flight (a test can hold one).
    pub fn state_in_flight(&self) -> &herald::http::idempotency::InFlight {
        &self.in_flight
    }

    /// A delivery worker over this app's store (with [`delivery_settings`]).
    pub fn worker(&self) -> herald::delivery::Worker {
        herald::delivery::worker(
            self.store.clone(),
            &delivery_settings(true),
            std::sync::Arc::new(tokio::sync::Notify::new()),
        )
        .expect("a worker")
        .with_metrics(self.metrics.clone())
    }

    /// A delivery worker with test settings changed by `adjust` (endpoints of fake providers, …).
    pub fn worker_with(
        &self,
        adjust: impl FnOnce(&mut herald::delivery::DeliverySettings),
    ) -> herald::delivery::Worker {
        let mut settings = delivery_settings(true);
        adjust(&mut settings);
        herald::delivery::worker(
            self.store.clone(),
            &settings,
            std::sync::Arc::new(tokio::sync::Notify::new()),
        )
        .expect("a worker")
        .with_metrics(self.metrics.clone())
    }

    /// Runs the delivery worker until nothing is due now: every accepted trigger's fan-out,
    /// sends and immediate retries are done when this returns.
    pub async fn deliver(&self) -> herald::delivery::Drained {
        self.worker().run_until_idle().await
    }

    /// Creates an integration through the API; asserts 201 and returns `data`.
    pub async fn create_integration(&self, body: Value) -> Value {
        let res = self.post("/v1/integrations", body.clone()).await;
        assert_eq!(res.status, 201, "creating integration {body}: {}", res.text);
        res.data().clone()
    }

    /// The fixture of spec §6, created through `POST /v1/integrations` in this order: active
    /// `slack` (identifier `slack`), active `slack` (`slack-2`), active `fcm`, active `discord`,
    /// inactive `expo`.
    pub async fn spec_fixture(&self) -> Fixture {
        let make = |provider: &str, channel: &str, identifier: &str, active: bool| {
            json!({"providerId": provider, "channel": channel, "identifier": identifier,
                   "active": active, "credentials": {}})
        };
        let slack = self
            .create_integration(make("slack", "chat", "slack", true))
            .await;
        let slack_2 = self
            .create_integration(make("slack", "chat", "slack-2", true))
            .await;
        let fcm = self
            .create_integration(make("fcm", "push", "fcm", true))
            .await;
        let discord = self
            .create_integration(make("discord", "chat", "discord", true))
            .await;
        let expo = self
            .create_integration(make("expo", "push", "expo", false))
            .await;
        let id = |v: &Value| v["_id"].as_str().expect("integration _id").to_string();
        Fixture {
            env: slack["_environmentId"]
                .as_str()
                .expect("env id")
                .to_string(),
            slack: id(&slack),
            slack_2: id(&slack_2),
            fcm: id(&fcm),
            discord: id(&discord),
            expo: id(&expo),
        }
    }

    /// `POST /v1/subscribers` with the body; asserts 201 and returns `data`.
    pub async fn create_subscriber(&self, body: Value) -> Value {
        let res = self.post("/v1/subscribers", body.clone()).await;
        assert_eq!(res.status, 201, "creating subscriber {body}: {}", res.text);
        res.data().clone()
    }

    /// `GET /v1/subscribers/{path_id}`; asserts 200 and returns `data`.
    pub async fn subscriber(&self, path_id: &str) -> Value {
        let res = self.get(&format!("/v1/subscribers/{path_id}")).await;
        assert_eq!(res.status, 200, "getting {path_id}: {}", res.text);
        res.data().clone()
    }
}

impl Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Ids of the spec §6 fixture.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// The environment id `E` that messages quote.
    pub env: String,
    pub slack: String,
    pub slack_2: String,
    pub fcm: String,
    pub discord: String,
    pub expo: String,
}

/// A client for one server, with or without an API key. Cheap to clone (for concurrent requests).
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    pub base: String,
    key: Option<String>,
}

impl Api {
    /// The same server, authenticated with another key.
    pub fn with_key(&self, key: &str) -> Api {
        Api {
            key: Some(key.to_string()),
            ..self.clone()
        }
    }

    /// The same server, without an `Authorization` header.
    pub fn anonymous(&self) -> Api {
        Api {
            key: None,
            ..self.clone()
        }
    }

    /// A request with `Authorization: ApiKey <key>` (when this client has a key).
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let rb = self.client.request(method, format!("{}{path}", self.base));
        match &self.key {
            Some(key) => rb.header(AUTHORIZATION, format!("ApiKey {key}")),
            None => rb,
        }
    }

    pub async fn send(&self, rb: RequestBuilder) -> TestResponse {
        let res = rb.send().await.expect("request reaches the server");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.expect("response body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
        };
        TestResponse {
            status,
            headers,
            text,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.send(self.request(Method::GET, path)).await
    }

    pub async fn delete(&self, path: &str) -> TestResponse {
        self.send(self.request(Method::DELETE, path)).await
    }

    pub async fn post(&self, path: &str, body: Value) -> TestResponse {
        self.send(self.request(Method::POST, path).json(&body))
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> TestResponse {
        self.send(self.request(Method::PUT, path).json(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> TestResponse {
        self.send(self.request(Method::PATCH, path).json(&body))
            .await
    }

    /// A request with a body sent as it is, under the given content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> TestResponse {
        let rb = self
            .request(method, path)
            .header(CONTENT_TYPE, content_type)
            .body(body);
        self.send(rb).await
    }
}

/// A response, read in full.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The parsed body (`Null` when empty).
    pub body: Value,
}

impl TestResponse {
    pub fn content_type(&self) -> Option<&str> {
        self.headers
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().expect("ASCII content type"))
    }

    /// `data` of a success envelope, after checking that the body is `{"data": …}` with no other
    /// key (the `@novu/api` SDK unwraps only that shape) and is served as `application/json`.
    pub fn data(&self) -> &Value {
        assert_json(self);
        let obj = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {}", self.text));
        assert_eq!(
            obj.keys().collect::<Vec<_>>(),
            ["data"],
            "envelope must hold only `data`: {}",
            self.text
        );
        &obj["data"]
    }

    /// Asserts a Novu error body: exact status, `message` (a string or an array of strings) and
    /// `error` (`None`: the key must be absent), plus the shape every error shares.
    pub fn assert_error(&self, status: u16, message: Value, error: Option<&str>) {
        assert_eq!(self.status, status, "status of {}", self.text);
        assert_error_shape(self);
        assert_eq!(self.body["message"], message, "message of {}", self.text);
        match error {
            Some(e) => assert_eq!(self.body["error"], json!(e), "error of {}", self.text),
            None => assert!(
                self.body.get("error").is_none(),
                "no `error` key expected: {}",
                self.text
            ),
        }
    }

    /// 400 with class-validator messages (an array).
    pub fn assert_validation(&self, messages: &[&str]) {
        self.assert_error(400, json!(messages), Some("Bad Request"));
    }

    /// 400 with a single message string.
    pub fn assert_bad_request(&self, message: &str) {
        self.assert_error(400, json!(message), Some("Bad Request"));
    }

    pub fn assert_not_found(&self, message: &str) {
        self.assert_error(404, json!(message), Some("Not Found"));
    }
}

fn assert_json(res: &TestResponse) {
    assert_eq!(
        res.content_type(),
        Some("application/json"),
        "content type of {}",
        res.text
    );
}

/// `{statusCode, timestamp, path, message, error?, errorId?}` as JSON, with an ISO-8601 timestamp
/// that has milliseconds and `Z`. A 422 also carries `errors: {<field>: {messages, value?}}`
/// (`ValidationErrorDto`), and a 400 of a trigger route `type` and `errors: [{field, message}]`
/// (`PayloadValidationExceptionDto`): checked here whenever present.
pub fn assert_error_shape(res: &TestResponse) {
    assert_json(res);
    let obj = res
        .body
        .as_object()
        .unwrap_or_else(|| panic!("error body is not an object: {:?}", res.text));
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(
        &keys[..4],
        ["statusCode", "timestamp", "path", "message"],
        "{}",
        res.text
    );
    assert!(
        keys[4..]
            .iter()
            .all(|k| ["error", "errorId", "errors", "type"].contains(k)),
        "unexpected keys in {}",
        res.text
    );
    if res.status == 422 {
        let errors = obj["errors"]
            .as_object()
            .unwrap_or_else(|| panic!("a 422 names what was wrong in `errors`: {}", res.text));
        assert!(!errors.is_empty(), "{}", res.text);
        for constraint in errors.values() {
            let messages = constraint["messages"].as_array();
            assert!(
                messages.is_some_and(|m| !m.is_empty() && m.iter().all(Value::is_string)),
                "`errors.<field>.messages` are strings: {}",
                res.text
            );
        }
    } else if let Some(errors) = obj.get("errors") {
        assert_eq!(
            res.status, 400,
            "`errors` only on 400 and 422: {}",
            res.text
        );
        assert!(obj["type"].is_string(), "{}", res.text);
        let items = errors.as_array().expect("a 400's `errors` is an array");
        assert!(!items.is_empty(), "{}", res.text);
        for item in items {
            assert!(
                item["field"].is_string() && item["message"].is_string(),
                "{}",
                res.text
            );
        }
    } else {
        assert!(obj.get("type").is_none(), "{}", res.text);
    }
    assert_eq!(obj["statusCode"], json!(res.status), "{}", res.text);
    assert!(obj["path"].is_string(), "{}", res.text);
    let message = &obj["message"];
    assert!(
        message.is_string()
            || message
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_string)),
        "message must be a string or strings: {}",
        res.text
    );
    let ts = obj["timestamp"].as_str().expect("timestamp is a string");
    assert_iso_millis(ts);
}

/// `2024-10-24T09:15:02.123Z`, as JavaScript's `Date#toISOString` prints.
pub fn assert_iso_millis(ts: &str) {
    let ok = ts.len() == 24
        && ts.ends_with('Z')
        && ts.as_bytes()[19] == b'.'
        && chrono::DateTime::parse_from_rfc3339(ts).is_ok();
    assert!(ok, "not ISO-8601 with milliseconds and Z: {ts:?}");
}

/// The entries of `subscriber.channels` for one provider, in order.
pub fn channels<'a>(subscriber: &'a Value, provider: &str) -> Vec<&'a Value> {
    subscriber["channels"]
        .as_array()
        .unwrap_or_else(|| panic!("no channels array: {subscriber}"))
        .iter()
        .filter(|c| c["providerId"] == provider)
        .collect()
}

/// The only channel of that provider.
pub fn channel<'a>(subscriber: &'a Value, provider: &str) -> &'a Value {
    let found = channels(subscriber, provider);
    assert_eq!(
        found.len(),
        1,
        "one {provider} channel expected: {subscriber}"
    );
    found[0]
}

/// The device tokens of a subscriber's `provider` channels, in order.
pub fn device_tokens(subscriber: &Value, provider: &str) -> Vec<String> {
    channels(subscriber, provider)
        .iter()
        .flat_map(|c| {
            c["credentials"]["deviceTokens"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|t| t.as_str().expect("a string token").to_string())
        .collect()
}
