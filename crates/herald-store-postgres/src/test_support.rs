//! Test support (feature `test-support`): a fresh, empty PostgreSQL database per call, so every
//! test (this crate's conformance run, the `herald` crate's API tests) starts from nothing and
//! tests run in parallel without seeing each other's rows.
//!
//! Where the databases come from, in order:
//! 1. `HERALD_TEST_DATABASE_URL` (e.g. `postgres://postgres@127.0.0.1:5432/postgres`): a uniquely
//!    named database `herald_test_<pid>_…` is created on that server per call. They outlive the
//!    test process (nothing runs at exit); the next test process drops those whose process is
//!    gone, on a local server. If this server cannot be used, the tests fail rather than skip:
//!    it was configured explicitly.
//! 2. Otherwise one throwaway cluster per test process, made with the installed `initdb`/`pg_ctl`
//!    (see `cluster.rs`), removed when the process exits.
//! 3. Otherwise the tests are skipped with a notice, unless `HERALD_TEST_REQUIRE_POSTGRES=1`, in
//!    which case they fail with the reason (for CI, where a silent skip would hide a broken setup).

mod cluster;
pub mod tls;

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Once, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, Executor, PgConnection};

use crate::{PgConfig, PgStore};

pub use cluster::{Cluster, ClusterTls};

/// The variable naming an existing server to create test databases on.
pub const DATABASE_URL_VAR: &str = "HERALD_TEST_DATABASE_URL";
/// Set to `1` to make an unavailable PostgreSQL a test failure instead of a skip.
pub const REQUIRE_VAR: &str = "HERALD_TEST_REQUIRE_POSTGRES";

/// A fresh, empty database that exists for the rest of the test process.
#[derive(Clone)]
pub struct TestDatabase {
    url: String,
    name: String,
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry the password of `HERALD_TEST_DATABASE_URL`.
        f.debug_struct("TestDatabase")
            .field("url", &crate::config::redact_url(&self.url))
            .field("name", &self.name)
            .finish()
    }
}

impl TestDatabase {
    /// `postgres://…/herald_test_…`
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A config for this database with a small pool, as tests need.
    pub fn config(&self) -> PgConfig {
        PgConfig {
            max_connections: 8,
            ..PgConfig::new(self.url.clone())
        }
    }

    /// A migrated store on this database, opened with the test keys
    /// ([`herald_core::secrets::test_keyring`]); panics if that fails (the server was reachable
    /// a moment ago, so a failure here is a bug worth a loud test failure).
    pub async fn connect(&self) -> PgStore {
        PgStore::connect(&self.config(), herald_core::secrets::test_keyring())
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A fresh empty database, or `None` (after printing why) when PostgreSQL is unavailable and not
/// required. See the module docs for where it comes from.
pub async fn test_database() -> Option<TestDatabase> {
    let admin_url = match server_url().await {
        Ok(url) => url,
        Err(reason) => return skip(&reason),
    };
    if std::env::var(DATABASE_URL_VAR).is_ok() && !SWEPT.swap(true, Ordering::SeqCst) {
        sweep_stale_databases(&admin_url).await;
    }
    let name = unique_name();
    if let Err(e) = create_database(&admin_url, &name).await {
        // The server was found, so this is a broken setup rather than a missing one: fail loudly.
        panic!(
            "cannot create test database {name} at {}: {e}",
            crate::config::redact_url(&admin_url)
        );
    }
    let url = with_database(&admin_url, &name).unwrap_or_else(|e| panic!("{e}"));
    Some(TestDatabase { url, name })
}

/// A migrated store on a fresh database, or `None` as for [`test_database`].
pub async fn test_store() -> Option<PgStore> {
    Some(test_database().await?.connect().await)
}

/// A throwaway cluster of its own (never `HERALD_TEST_DATABASE_URL`'s server, which cannot be
/// reconfigured) with `ssl = on` and `tls` as its certificate, or `None` when PostgreSQL is
/// unavailable and not required (as for [`test_database`]). Blocks while the cluster starts.
pub fn tls_cluster(tls: &ClusterTls) -> Option<Cluster> {
    match Cluster::start_with(Some(tls)) {
        Ok(cluster) => Some(cluster),
        Err(reason) => skip(&reason),
    }
}

/// The URL of a database to run `CREATE DATABASE` from.
async fn server_url() -> Result<String, String> {
    if let Some(url) = std::env::var(DATABASE_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
    {
        return Ok(url);
    }
    static CLUSTER: OnceLock<Result<Cluster, String>> = OnceLock::new();
    // Starting a cluster blocks for a few seconds; every test waits on the same start.
    let cluster = tokio::task::spawn_blocking(|| CLUSTER.get_or_init(Cluster::start).as_ref())
        .await
        .map_err(|e| format!("starting a throwaway cluster panicked: {e}"))?;
    cluster.map(Cluster::admin_url).map_err(Clone::clone)
}

fn skip<T>(reason: &str) -> Option<T> {
    if std::env::var(REQUIRE_VAR).is_ok_and(|v| v.trim() == "1") {
        panic!("PostgreSQL is required ({REQUIRE_VAR}=1) but unavailable: {reason}");
    }
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        // Written to the stderr handle rather than with `eprintln!`, which the test harness
        // captures and shows only for failing tests: a skip must be visible in a green run.
        let _ = writeln!(
            std::io::stderr(),
            "PostgreSQL tests skipped: {reason}. Set {DATABASE_URL_VAR} or install PostgreSQL \
             (initdb, pg_ctl); set {REQUIRE_VAR}=1 to make this a failure."
        );
    });
    None
}

/// `herald_test_<pid>_<time>_<n>`: unique across the processes sharing one server.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() % 1_000_000_000_000);
    format!(
        "herald_test_{}_{nanos}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

async fn create_database(admin_url: &str, name: &str) -> Result<(), String> {
    let mut conn = PgConnection::connect(admin_url)
        .await
        .map_err(|e| crate::config::describe(&e))?;
    // `name` is generated above from digits and underscores only, so quoting it is enough.
    conn.execute(sqlx::raw_sql(&format!("CREATE DATABASE \"{name}\"")))
        .await
        .map_err(|e| crate::config::describe(&e))?;
    let _ = conn.close().await;
    Ok(())
}

/// Set once this process has dropped the databases of earlier, finished test processes.
static SWEPT: AtomicBool = AtomicBool::new(false);

/// Drops `herald_test_<pid>_…` databases left on a local server by test processes that have
/// exited (their pid no longer exists here). Best effort: a plain `DROP DATABASE` fails while
/// anyone is connected, so a database still in use is never taken away, and remote servers,
/// whose pids mean nothing here, are left alone.
async fn sweep_stale_databases(admin_url: &str) {
    let Ok(options) = admin_url.parse::<sqlx::postgres::PgConnectOptions>() else {
        return;
    };
    let local = options.get_socket().is_some()
        || matches!(options.get_host(), "127.0.0.1" | "localhost" | "::1");
    let Ok(mut conn) = PgConnection::connect_with(&options).await else {
        return;
    };
    let names: Vec<String> = if local {
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'herald\\_test\\_%'")
            .fetch_all(&mut conn)
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    for name in names {
        let owner_gone = name
            .split('_')
            .nth(2)
            .and_then(|pid| pid.parse::<u32>().ok())
            .is_some_and(|pid| {
                pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists()
            });
        let plain = name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
        if owner_gone && plain {
            let _ = conn
                .execute(sqlx::raw_sql(&format!(
                    "DROP DATABASE IF EXISTS \"{name}\""
                )))
                .await;
        }
    }
    let _ = conn.close().await;
}

/// `url` with its database replaced by `name`, keeping credentials and parameters.
fn with_database(url: &str, name: &str) -> Result<String, String> {
    let mut parsed =
        url::Url::parse(url).map_err(|e| format!("invalid {DATABASE_URL_VAR}: {e}"))?;
    parsed.set_path(&format!("/{name}"));
    Ok(parsed.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_is_replaced_and_the_rest_kept() {
        assert_eq!(
            with_database(
                "postgres://u:p@h:5433/postgres?sslmode=disable",
                "herald_test_1"
            )
            .unwrap(),
            "postgres://u:p@h:5433/herald_test_1?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://u@h", "x").unwrap(),
            "postgres://u@h/x"
        );
    }

    #[test]
    fn names_are_unique_and_plain() {
        let (a, b) = (unique_name(), unique_name());
        assert_ne!(a, b);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_'));
    }
}
