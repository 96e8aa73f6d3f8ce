//! What the `durability` and `security` test binaries share: a fresh database on either backend,
//! Herald served in-process (`herald::run` on `127.0.0.1:0`) or as the real binary (a process the
//! tests can SIGKILL), an HTTP client that keeps status, headers and body of every answer, a raw
//! HTTP/1.1 client for request targets `reqwest` would normalise (`../`), and the check of Novu's
//! error body.
//!
//! Patterns follow `tests/api/helpers.rs`; this module is separate because these binaries need what
//! that harness does not offer: a server process outliving its database handle, a chosen auth
//! cache time, and requests that a URL parser would rewrite.
// Each test binary uses a part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald::ServerSettings;
use herald_core::{ObjectId, Store};
use herald_store_sqlite::SqliteStore;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The Development key every server here is seeded with.
pub const DEV_KEY: &str = "herald-support-dev-key-7c41e09b2d5a";

/// Upper bound on a server process reaching "Herald is serving" (migrations included). A guard
/// against a hung start, not a wait: the start is awaited on the log line itself.
const START_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// For each named `async fn case(backend: Backend)`, a module of the same name with one test per
/// backend. A case returns early (skips) when [`Database::fresh`] gives `None`.
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$case($crate::support::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$case($crate::support::Backend::Postgres).await;
                }
            }
        )*
    };
}

/// A fresh, empty database that outlives any server using it (so a server can be killed and
/// started again on the same data).
pub struct Database {
    pub backend: Backend,
    url: String,
    sqlite_file: Option<PathBuf>,
    _dir: Option<TempDir>,
}

impl Database {
    /// `None` only for PostgreSQL when none is available and `HERALD_TEST_REQUIRE_POSTGRES` is
    /// unset (the support crate prints why, once).
    pub async fn fresh(backend: Backend) -> Option<Database> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temporary directory");
                let file = dir.path().join("herald.db");
                Some(Database {
                    backend,
                    url: format!("sqlite://{}", file.display()),
                    sqlite_file: Some(file),
                    _dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let db = herald_store_postgres::test_support::test_database().await?;
                Some(Database {
                    backend,
                    url: db.url().to_string(),
                    sqlite_file: None,
                    _dir: None,
                })
            }
        }
    }

    /// The URL for `--database-url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQLite file (`None` on PostgreSQL).
    pub fn sqlite_file(&self) -> Option<&Path> {
        self.sqlite_file.as_deref()
    }

    /// A migrated store on this database.
    pub async fn open(&self) -> Arc<dyn Store> {
        match self.backend {
            Backend::Sqlite => {
                Arc::new(SqliteStore::open(&self.url).await.expect("opening SQLite"))
            }
            Backend::Postgres => Arc::new(
                herald_store_postgres::PgStore::connect(&herald_store_postgres::PgConfig {
                    max_connections: 8,
                    ..herald_store_postgres::PgConfig::new(self.url.clone())
                })
                .await
                .unwrap_or_else(|e| panic!("{e}")),
            ),
        }
    }
}

/// Herald served in-process on `127.0.0.1:0`, bootstrapped with [`DEV_KEY`]. Dropping it cancels
/// the server.
pub struct App {
    /// Authenticated with the Development key.
    pub dev: Api,
    /// Authenticated with the Production key bootstrap created.
    pub prod: Api,
    pub production_key: String,
    pub store: Arc<dyn Store>,
    pub db: Database,
    shutdown: CancellationToken,
}

impl App {
    pub async fn spawn(backend: Backend, settings: ServerSettings) -> Option<App> {
        let db = Database::fresh(backend).await?;
        let store = db.open().await;
        let production_key = herald::startup::bootstrap(&*store, Some(DEV_KEY))
            .await
            .expect("bootstrap")
            .into_iter()
            .find(|k| k.environment == "Production")
            .expect("bootstrap of an empty database returns the Production key")
            .key;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let shutdown = CancellationToken::new();
        tokio::spawn(herald::run(
            listener,
            store.clone(),
            settings,
            shutdown.clone(),
        ));
        let dev = Api::new(addr, Some(DEV_KEY));
        let prod = dev.with_key(&production_key);
        Some(App {
            dev,
            prod,
            production_key,
            store,
            db,
            shutdown,
        })
    }

    /// The id of the environment named `name` (`Development` or `Production`).
    pub async fn environment(&self, name: &str) -> ObjectId {
        self.store
            .list_environments()
            .await
            .expect("environments")
            .into_iter()
            .find(|e| e.name == name)
            .unwrap_or_else(|| panic!("no environment {name}"))
            .id
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// What a server process wrote, each stream in full.
#[derive(Debug, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// The real `herald` binary serving on `127.0.0.1:0`, its address read from its "Herald is
/// serving" log line. Killed (SIGKILL) when dropped.
pub struct HeraldProcess {
    child: tokio::process::Child,
    pub addr: SocketAddr,
    /// Authenticated with [`DEV_KEY`].
    pub api: Api,
    stdout: (Arc<Mutex<String>>, JoinHandle<()>),
    stderr: (Arc<Mutex<String>>, JoinHandle<()>),
}

impl HeraldProcess {
    /// Starts `herald --bind 127.0.0.1:0 --database-url URL --api-key DEV_KEY` plus `extra`
    /// arguments, and returns once it logs its address (the listener is bound by then, so it
    /// accepts requests).
    pub async fn start(db: &Database, extra: &[&str]) -> HeraldProcess {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"));
        cmd.args(["--bind", "127.0.0.1:0", "--database-url", db.url()])
            .args(["--api-key", DEV_KEY, "--pg-max-connections", "4"])
            .args(extra)
            // The flags above win over these anyway; clearing them keeps a developer's shell out.
            .env_remove("HERALD_LOG")
            .env_remove("HERALD_AUTH_CACHE_TTL")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("starting the herald binary");
        let (lines_tx, mut lines) = mpsc::unbounded_channel();
        let stdout = collect(child.stdout.take().expect("stdout"), None);
        let mut stderr = collect(child.stderr.take().expect("stderr"), Some(lines_tx));
        let serving = tokio::time::timeout(START_TIMEOUT, async {
            while let Some(line) = lines.recv().await {
                if line.contains("Herald is serving") {
                    return Some(line);
                }
            }
            None
        })
        .await;
        let line = match serving {
            Ok(Some(line)) => line,
            // The process ended (stderr closed) or hung before serving.
            _ => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                let _ = (&mut stderr.1).await;
                panic!(
                    "herald did not start serving; its stderr:\n{}",
                    stderr.0.lock().expect("stderr buffer")
                );
            }
        };
        let addr = parse_address(&line);
        HeraldProcess {
            child,
            addr,
            api: Api::new(addr, Some(DEV_KEY)),
            stdout,
            stderr,
        }
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown code runs, as in a crash. Returns
    /// everything the process wrote.
    pub async fn kill(mut self) -> Output {
        self.child.kill().await.expect("killing herald");
        // The pipes close with the process, which ends both collectors.
        let _ = (&mut self.stdout.1).await;
        let _ = (&mut self.stderr.1).await;
        let take = |s: &Arc<Mutex<String>>| std::mem::take(&mut *s.lock().expect("output buffer"));
        Output {
            stdout: take(&self.stdout.0),
            stderr: take(&self.stderr.0),
        }
    }
}

/// Reads `stream` line by line into a buffer (so the process never blocks on a full pipe),
/// forwarding each line to `lines` while anyone listens.
fn collect(
    stream: impl AsyncRead + Unpin + Send + 'static,
    lines: Option<mpsc::UnboundedSender<String>>,
) -> (Arc<Mutex<String>>, JoinHandle<()>) {
    let buffer = Arc::new(Mutex::new(String::new()));
    let task = tokio::spawn({
        let buffer = buffer.clone();
        async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let line = strip_ansi(&line);
                if let Some(tx) = &lines {
                    let _ = tx.send(line.clone());
                }
                let mut b = buffer.lock().expect("output buffer");
                b.push_str(&line);
                b.push('\n');
            }
        }
    });
    (buffer, task)
}

/// `… Herald is serving address=127.0.0.1:40123 backend="sqlite"` → the address.
fn parse_address(line: &str) -> SocketAddr {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("address="))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
}

/// Removes ANSI escape sequences (`ESC [ … letter`), in case colours are on.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A client for one server, with or without an API key. Cheap to clone (for concurrent requests).
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    pub addr: SocketAddr,
    key: Option<String>,
}

impl Api {
    pub fn new(addr: SocketAddr, key: Option<&str>) -> Api {
        Api {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            addr,
            key: key.map(str::to_string),
        }
    }

    /// The same server, authenticated with another key.
    pub fn with_key(&self, key: &str) -> Api {
        Api {
            key: Some(key.to_string()),
            ..self.clone()
        }
    }

    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let rb = self
            .client
            .request(method, format!("http://{}{path}", self.addr));
        match &self.key {
            Some(key) => rb.header(AUTHORIZATION, format!("ApiKey {key}")),
            None => rb,
        }
    }

    /// Sends and reads the whole answer; `Err` when the server is unreachable or the connection
    /// broke (what a killed server looks like).
    pub async fn try_send(&self, rb: RequestBuilder) -> Result<Res, reqwest::Error> {
        let res = rb.send().await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await?;
        Ok(Res::new(status, headers, &bytes))
    }

    pub async fn send(&self, rb: RequestBuilder) -> Res {
        self.try_send(rb)
            .await
            .expect("the request reaches the server")
    }

    /// `method path` with a JSON body (`Value::Null`: no body).
    pub async fn call(&self, method: Method, path: &str, body: &Value) -> Res {
        let rb = self.request(method, path);
        let rb = if body.is_null() { rb } else { rb.json(body) };
        self.send(rb).await
    }

    pub async fn get(&self, path: &str) -> Res {
        self.call(Method::GET, path, &Value::Null).await
    }

    pub async fn delete(&self, path: &str) -> Res {
        self.call(Method::DELETE, path, &Value::Null).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Res {
        self.call(Method::POST, path, &body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Res {
        self.call(Method::PUT, path, &body).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Res {
        self.call(Method::PATCH, path, &body).await
    }

    /// A body sent byte for byte under the given content type.
    pub async fn raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Res {
        let rb = self
            .request(method, path)
            .header(CONTENT_TYPE, content_type)
            .body(body);
        self.send(rb).await
    }

    /// A request written to the socket as given: `target` is sent verbatim (no URL parsing, so
    /// `..` segments stay), with this client's key and `Connection: close`.
    pub async fn verbatim(&self, method: &str, target: &str, body: Option<&[u8]>) -> Res {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(key) = &self.key {
            head.push_str(&format!("Authorization: ApiKey {key}\r\n"));
        }
        if let Some(body) = body {
            head.push_str("Content-Type: application/json\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body.unwrap_or_default());
        let mut stream = TcpStream::connect(self.addr).await.expect("connect");
        stream.write_all(&request).await.expect("write request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read response");
        parse_response(&raw)
    }
}

/// Parses an HTTP/1.1 response read to the end of the connection.
fn parse_response(raw: &[u8]) -> Res {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..split]).expect("ASCII response head");
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').expect("header line");
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).expect("header name"),
            HeaderValue::from_str(value.trim()).expect("header value"),
        );
    }
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Res::new(status, headers, &body)
}

/// Decodes a `Transfer-Encoding: chunked` body.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .expect("chunk size");
        rest = &rest[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// A response, read in full.
#[derive(Debug)]
pub struct Res {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The parsed body (`Null` when empty or not JSON; `text` has it as sent).
    pub body: Value,
}

impl Res {
    fn new(status: u16, headers: HeaderMap, bytes: &[u8]) -> Res {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let body = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        Res {
            status,
            headers,
            text,
            body,
        }
    }

    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }

    /// `data` of a `{"data": …}` answer with the given status.
    pub fn data(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.text);
        self.body
            .get("data")
            .unwrap_or_else(|| panic!("no data in {}", self.text))
    }

    /// Novu's error body `{statusCode, timestamp, path, message, error?, errorId?}` served as
    /// `application/json`, with this status.
    pub fn assert_novu_error(&self, status: u16) {
        assert_eq!(self.status, status, "status of {}", self.text);
        assert_eq!(
            self.content_type(),
            Some("application/json"),
            "content type of {}",
            self.text
        );
        let obj = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("error body is not a JSON object: {:?}", self.text));
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        assert!(
            keys.len() >= 4 && keys[..4] == ["statusCode", "timestamp", "path", "message"],
            "keys of {}",
            self.text
        );
        assert!(
            keys[4..].iter().all(|k| ["error", "errorId"].contains(k)),
            "unexpected keys in {}",
            self.text
        );
        assert_eq!(obj["statusCode"], json!(status), "{}", self.text);
        assert!(obj["path"].is_string(), "{}", self.text);
        let ts = obj["timestamp"].as_str().unwrap_or_default();
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
            "timestamp of {}",
            self.text
        );
        let message = &obj["message"];
        assert!(
            message.is_string()
                || message
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string)),
            "message of {}",
            self.text
        );
    }

    /// A Novu error with this status and exactly this `message` (a string or an array).
    pub fn assert_error(&self, status: u16, message: Value) {
        self.assert_novu_error(status);
        assert_eq!(self.body["message"], message, "message of {}", self.text);
    }

    /// Any Novu error in 400..=499: the answer to input the server refuses cleanly.
    pub fn assert_client_error(&self) {
        assert!(
            (400..500).contains(&self.status),
            "a 4xx expected, got {}: {}",
            self.status,
            self.text
        );
        self.assert_novu_error(self.status);
    }
}

/// Every route the API serves with an API key, as `(method, path template)`, in the routers' own
/// spelling (`crates/herald/src/http/*.rs`). `a_route_table_lists_every_served_route` (in
/// `security.rs`) fails when a router gains a route missing here.
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/subscribers"),
    ("POST", "/v1/subscribers"),
    ("POST", "/v1/subscribers/bulk"),
    ("GET", "/v1/subscribers/{subscriber_id}"),
    ("PUT", "/v1/subscribers/{subscriber_id}"),
    ("DELETE", "/v1/subscribers/{subscriber_id}"),
    ("PATCH", "/v1/subscribers/{subscriber_id}/online-status"),
    ("PUT", "/v1/subscribers/{subscriber_id}/credentials"),
    ("PATCH", "/v1/subscribers/{subscriber_id}/credentials"),
    (
        "DELETE",
        "/v1/subscribers/{subscriber_id}/credentials/{provider_id}",
    ),
    ("GET", "/v1/integrations"),
    ("POST", "/v1/integrations"),
    ("GET", "/v1/integrations/active"),
    ("PUT", "/v1/integrations/{integration_id}"),
    ("DELETE", "/v1/integrations/{integration_id}"),
    ("POST", "/v1/integrations/{integration_id}/set-primary"),
    ("POST", "/v2/subscribers"),
    ("GET", "/v2/subscribers/{subscriber_id}"),
    ("PATCH", "/v2/subscribers/{subscriber_id}"),
    ("DELETE", "/v2/subscribers/{subscriber_id}"),
];

/// Routes served without a key.
pub const PUBLIC_ROUTES: &[(&str, &str)] = &[("GET", "/v1/health-check")];

/// `template` with its placeholders filled in.
pub fn fill(template: &str, subscriber: &str, provider: &str, integration: &str) -> String {
    template
        .replace("{subscriber_id}", subscriber)
        .replace("{provider_id}", provider)
        .replace("{integration_id}", integration)
}

/// A plausible, valid body for each route that reads one (`Null` for the others).
pub fn sample_body(method: &str, template: &str, subscriber: &str) -> Value {
    match (method, template) {
        ("POST", "/v1/subscribers") | ("POST", "/v2/subscribers") => {
            json!({"subscriberId": subscriber, "firstName": "Sample"})
        }
        ("POST", "/v1/subscribers/bulk") => {
            json!({"subscribers": [{"subscriberId": subscriber, "firstName": "Sample"}]})
        }
        ("PUT", "/v1/subscribers/{subscriber_id}")
        | ("PATCH", "/v2/subscribers/{subscriber_id}") => {
            json!({"firstName": "Sample"})
        }
        ("PATCH", "/v1/subscribers/{subscriber_id}/online-status") => json!({"isOnline": false}),
        (_, "/v1/subscribers/{subscriber_id}/credentials") => {
            json!({"providerId": "fcm", "credentials": {"deviceTokens": ["sample-token"]}})
        }
        ("POST", "/v1/integrations") => {
            json!({"providerId": "slack", "channel": "chat", "active": true})
        }
        ("PUT", "/v1/integrations/{integration_id}") => json!({"name": "Sample"}),
        _ => Value::Null,
    }
}

/// `GET /v1/subscribers` page by page (100 each): every subscriber of the key's environment.
pub async fn all_subscribers(api: &Api) -> Vec<Value> {
    let mut all = Vec::new();
    // A bound well above what any test here creates.
    for page in 0..50 {
        let res = api
            .get(&format!("/v1/subscribers?page={page}&limit=100"))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        let items = res.body["data"].as_array().expect("data array").clone();
        let done = items.len() < 100;
        all.extend(items);
        if done {
            return all;
        }
    }
    panic!("more than 50 pages of subscribers")
}

/// The device tokens of a subscriber's `providerId` channels, in order.
pub fn device_tokens(subscriber: &Value, provider: &str) -> Vec<String> {
    subscriber["channels"]
        .as_array()
        .unwrap_or_else(|| panic!("no channels in {subscriber}"))
        .iter()
        .filter(|c| c["providerId"] == provider)
        .flat_map(|c| {
            c["credentials"]["deviceTokens"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|t| t.as_str().expect("a string token").to_string())
        .collect()
}
