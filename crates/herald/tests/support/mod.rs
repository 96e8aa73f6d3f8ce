//! What the `durability` and `security` test binaries share: a fresh database on either backend,
//! Herald served in-process (`herald::run` on `127.0.0.1:0`) or as the real binary (a process the
//! tests can SIGKILL, `process.rs`), and HTTP clients that keep status, headers and body of every
//! answer and check Novu's error body (`http.rs`).
//!
//! Patterns follow `tests/api/helpers.rs`; this module is separate because these binaries need what
//! that harness does not offer: a server process outliving its database handle, a chosen auth
//! cache time, and requests that a URL parser would rewrite.
// Each test binary uses a part of this module.
#![allow(dead_code)]

mod http;
mod process;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use herald::ServerSettings;
use herald_core::secrets::test_keyring;
use herald_core::{ObjectId, Store};
use herald_store_sqlite::SqliteStore;
use serde_json::Value;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

// Re-exported for the binaries that use them.
#[allow(unused_imports)]
pub use http::{Api, Res};
#[allow(unused_imports)]
pub use process::{HeraldProcess, Output};

/// The Development key every server here is seeded with.
pub const DEV_KEY: &str = "herald-support-dev-key-7c41e09b2d5a";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// For each named `async fn case(backend: Backend)`, a module of the same name with one test per
/// backend. A case returns early (skips) when [`Database::fresh`] gives `None`.
///
/// `both_backends!(@case name, sqlite(ATTR), postgres(ATTR))` gives one backend's test an
/// attribute, e.g. `ignore = "why"` for a known server bug on that backend only.
macro_rules! both_backends {
    ($($case:ident),* $(,)?) => {
        $( both_backends!(@case $case, sqlite(), postgres()); )*
    };
    (@case $case:ident, sqlite($($sqlite:meta)?), postgres($($postgres:meta)?)) => {
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$sqlite])?
            async fn sqlite() {
                super::$case($crate::support::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            $(#[$postgres])?
            async fn postgres() {
                super::$case($crate::support::Backend::Postgres).await;
            }
        }
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

    /// An existing SQLite file (a restored backup), left in place when dropped.
    pub fn at_sqlite_file(file: &Path) -> Database {
        Database {
            backend: Backend::Sqlite,
            url: format!("sqlite://{}", file.display()),
            sqlite_file: Some(file.to_owned()),
            _dir: None,
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

    /// A migrated store on this database, with the keys the server processes get
    /// ([`herald_core::secrets::TEST_SECRET_KEYS`]).
    pub async fn open(&self) -> Arc<dyn Store> {
        self.open_with(StoreOptions::default()).await
    }

    /// [`Database::open`] with `options`.
    pub async fn open_with(&self, options: StoreOptions) -> Arc<dyn Store> {
        match self.backend {
            Backend::Sqlite => Arc::new(
                SqliteStore::open_with(
                    &self.url,
                    test_keyring(),
                    herald_store_sqlite::SqliteOptions {
                        statement_timeout: options.statement_timeout,
                        ..Default::default()
                    },
                )
                .await
                .expect("opening SQLite"),
            ),
            Backend::Postgres => Arc::new(
                herald_store_postgres::PgStore::connect(
                    &herald_store_postgres::PgConfig {
                        max_connections: 8,
                        statement_timeout: options.statement_timeout,
                        ..herald_store_postgres::PgConfig::new(self.url.clone())
                    },
                    test_keyring(),
                )
                .await
                .unwrap_or_else(|e| panic!("{e}")),
            ),
        }
    }
}

/// How a test server's store is opened.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// `--statement-timeout` (`None`: no limit).
    pub statement_timeout: Option<std::time::Duration>,
}

impl Default for StoreOptions {
    /// Herald's defaults.
    fn default() -> Self {
        StoreOptions {
            statement_timeout: Some(std::time::Duration::from_secs(10)),
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
    /// The server runs no delivery worker (nothing is delivered behind a test's back); a test that
    /// delivers runs one itself ([`App::deliver`]).
    pub async fn spawn(backend: Backend, settings: ServerSettings) -> Option<App> {
        Self::spawn_with(backend, settings, StoreOptions::default()).await
    }

    /// [`App::spawn`] on a store opened with `options`.
    pub async fn spawn_with(
        backend: Backend,
        mut settings: ServerSettings,
        options: StoreOptions,
    ) -> Option<App> {
        settings.delivery.worker_enabled = false;
        let db = Database::fresh(backend).await?;
        let store = db.open_with(options).await;
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

    /// Runs a delivery worker over this app's store until nothing is due. Its outbound policy is
    /// the default one (nothing internal reachable), so only providers that need no network, or
    /// refuse before sending, may be involved.
    pub async fn deliver(&self) -> herald::delivery::Drained {
        herald::delivery::worker(
            self.store.clone(),
            &herald::delivery::DeliverySettings::default(),
            Arc::new(tokio::sync::Notify::new()),
        )
        .expect("a worker")
        .run_until_idle()
        .await
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

/// Every item of a v2 cursor list (`{data, next}`), oldest first, 100 a page.
pub async fn all_pages(api: &Api, path: &str) -> Vec<Value> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut all = Vec::new();
    let mut after = String::new();
    // A bound well above what any test here creates.
    for _ in 0..50 {
        let res = api
            .get(&format!(
                "{path}{sep}limit=100&orderDirection=ASC&after={after}"
            ))
            .await;
        assert_eq!(res.status, 200, "{path}: {}", res.brief());
        all.extend(res.body["data"].as_array().expect("data array").clone());
        match res.body["next"].as_str() {
            Some(next) => after = next.to_string(),
            None => return all,
        }
    }
    panic!("more than 50 pages of {path}")
}

/// Everything a key's environment holds, as the API shows it: the subscribers (each read on its
/// own, so channels and credentials are included), the integrations, the topics (v2 and v1
/// views, with every subscription), the workflows (v2 and v1 views) and the notification groups.
/// Equal snapshots mean nothing was changed.
pub async fn snapshot(api: &Api) -> Value {
    let mut subscribers = Vec::new();
    for listed in all_subscribers(api).await {
        let id = listed["subscriberId"].as_str().expect("subscriberId");
        let res = api.get(&format!("/v1/subscribers/{}", encode(id))).await;
        subscribers.push(res.data(200).clone());
    }
    let integrations = api.get("/v1/integrations").await;
    let mut topics = Vec::new();
    for topic in all_pages(api, "/v2/topics").await {
        let key = encode(topic["key"].as_str().expect("key"));
        let v1 = api.get(&format!("/v1/topics/{key}")).await;
        let subscriptions = all_pages(api, &format!("/v2/topics/{key}/subscriptions")).await;
        topics.push(serde_json::json!({
            "topic": topic,
            "v1": v1.data(200),
            "subscriptions": subscriptions,
        }));
    }
    let listed = api.get("/v2/workflows?limit=100&orderDirection=ASC").await;
    let mut workflows = Vec::new();
    for w in listed.data(200)["workflows"].as_array().expect("workflows") {
        let id = w["_id"].as_str().expect("_id");
        let v2 = api.get(&format!("/v2/workflows/{id}")).await;
        let v1 = api.get(&format!("/v1/workflows/{id}")).await;
        workflows.push(serde_json::json!({"v2": v2.data(200), "v1": v1.data(200)}));
    }
    let groups = api.get("/v1/notification-groups").await;
    let messages = api.get("/v1/messages?limit=1000").await;
    assert_eq!(messages.status, 200, "{}", messages.brief());
    let notifications = api.get("/v1/notifications?limit=100").await;
    assert_eq!(notifications.status, 200, "{}", notifications.brief());
    serde_json::json!({
        "subscribers": subscribers,
        "integrations": integrations.data(200),
        "topics": topics,
        "workflows": workflows,
        "notification_groups": groups.data(200),
        "messages": messages.body["data"],
        "notifications": notifications.body["data"],
    })
}

/// `s` as one path segment (every byte but unreserved ones percent-encoded).
pub fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
