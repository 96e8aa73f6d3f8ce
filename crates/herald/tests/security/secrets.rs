//! Secrets never reach the logs: API keys (valid, wrong, revoked, and their hashes), device
//! tokens, webhook URLs and integration credentials, whether a request succeeds or fails.
//!
//! In-process, everything this test binary logs goes to one buffer at TRACE level (a global
//! subscriber: the server's spans, its store threads and its dependencies log from many threads,
//! which a thread-scoped default would miss). The real binary is checked too, at `--log trace`,
//! on everything it writes to stdout and stderr.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use herald::ServerSettings;
use herald_core::tenancy::key_hint;
use herald_core::{KeyHash, ObjectId};
use reqwest::header::AUTHORIZATION;
use reqwest::Method;
use serde_json::json;

use crate::support::{Api, App, Backend, Database, HeraldProcess, DEV_KEY};

both_backends!(
    an_in_process_server_never_logs_secrets,
    the_binary_never_logs_secrets_at_trace_level,
    the_database_holds_api_key_hashes_never_the_keys,
);

/// Values that must never be logged, unique to one test run.
struct Secrets {
    wrong_key: String,
    device_token: String,
    webhook_url: String,
    provider_credential: String,
}

impl Secrets {
    fn new() -> Secrets {
        let unique = ObjectId::new();
        Secrets {
            wrong_key: format!("wrong-key-{unique}"),
            device_token: format!("device-token-{unique}"),
            webhook_url: format!("https://hooks.example.com/services/{unique}/webhook-secret"),
            provider_credential: format!("provider-credential-{unique}"),
        }
    }

    /// Each secret with its name, plus the SHA-256 hashes of the given keys (a leaked hash lets
    /// anyone test guesses offline).
    fn all<'a>(&'a self, keys: &[&'a str]) -> Vec<(String, String)> {
        let mut all = vec![
            ("wrong key".into(), self.wrong_key.clone()),
            ("device token".into(), self.device_token.clone()),
            ("webhook URL".into(), self.webhook_url.clone()),
            (
                "provider credential".into(),
                self.provider_credential.clone(),
            ),
            (
                "wrong key hash".into(),
                KeyHash::of(&self.wrong_key).as_str().to_string(),
            ),
        ];
        for key in keys {
            all.push((format!("key …{}", key_hint(key)), key.to_string()));
            all.push((
                format!("hash of key …{}", key_hint(key)),
                KeyHash::of(key).as_str().to_string(),
            ));
        }
        all
    }
}

/// Fails naming the secret and the first line that holds it.
fn assert_absent(output: &str, secrets: &[(String, String)]) {
    for (name, secret) in secrets {
        if let Some(line) = output.lines().find(|l| l.contains(secret.as_str())) {
            panic!("the {name} was logged: {line}");
        }
    }
}

/// Requests that carry every secret, with a valid key (`api`), with wrong keys and in failing
/// requests. Only statuses are checked here; the logs are what the tests inspect.
async fn exercise(api: &Api, s: &Secrets) {
    let ok =
        |res: crate::support::Res, status: u16| assert_eq!(res.status, status, "{}", res.brief());
    ok(
        api.post(
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "active": true,
                   "credentials": {"serviceAccount": s.provider_credential}}),
        )
        .await,
        201,
    );
    ok(
        api.post(
            "/v1/integrations",
            json!({"providerId": "slack", "channel": "chat", "active": true}),
        )
        .await,
        201,
    );
    ok(
        api.post(
            "/v1/integrations",
            json!({"providerId": "expo", "channel": "push", "active": false}),
        )
        .await,
        201,
    );
    let slack = json!({"providerId": "slack", "credentials": {"webhookUrl": s.webhook_url}});
    let fcm = json!({"providerId": "fcm", "credentials": {"deviceTokens": [s.device_token]}});
    ok(
        api.post(
            "/v1/subscribers",
            json!({"subscriberId": "holder", "channels": [slack]}),
        )
        .await,
        201,
    );
    let path = "/v1/subscribers/holder/credentials";
    ok(api.put(path, fcm.clone()).await, 200);
    ok(api.patch(path, fcm.clone()).await, 200);
    ok(api.put(path, slack.clone()).await, 200);
    ok(api.get("/v1/subscribers/holder").await, 200);
    ok(api.get("/v1/subscribers").await, 200);
    ok(api.get("/v1/integrations").await, 200);

    // Failures whose request bodies hold the secrets.
    ok(
        api.put("/v1/subscribers/nobody/credentials", fcm).await,
        400,
    );
    let inactive = json!({"providerId": "expo", "credentials": {"deviceTokens": [s.device_token]}});
    ok(api.put(path, inactive).await, 400);
    let mut many: Vec<String> = (0..100).map(|i| format!("filler-{i}")).collect();
    many.push(s.device_token.clone());
    ok(
        api.patch(
            path,
            json!({"providerId": "fcm", "credentials": {"deviceTokens": many}}),
        )
        .await,
        400,
    );
    let unknown = json!({"providerId": "sendgrid", "credentials": {"webhookUrl": s.webhook_url}});
    ok(api.put(path, unknown).await, 400);
    let malformed = format!(
        r#"{{"providerId":"fcm","credentials":{{"deviceTokens":["{}"]"#,
        s.device_token
    );
    ok(
        api.raw(
            Method::PATCH,
            path,
            "application/json",
            malformed.into_bytes(),
        )
        .await,
        400,
    );
    let oversized = json!({"providerId": "slack", "credentials": {"webhookUrl": s.webhook_url},
                           "padding": "x".repeat(101 * 1024)});
    ok(api.put(path, oversized).await, 413);

    // Wrong keys, in each scheme the guard parses; and a right key in a wrong scheme.
    let anonymous = Api::new(api.addr, None);
    let valid = api.key().expect("a keyed client").to_string();
    for header in [
        format!("ApiKey {}", s.wrong_key),
        format!("Bearer {}", s.wrong_key),
        format!("Basic {}", s.wrong_key),
        s.wrong_key.clone(),
        format!("apikey {valid}"),
        format!("ApiKey  {valid}"),
    ] {
        let rb = anonymous
            .request(Method::GET, "/v1/subscribers")
            .header(AUTHORIZATION, header);
        ok(anonymous.send(rb).await, 401);
    }
}

/// Everything this test binary logs from the first call on, at TRACE, `log` records included.
pub(crate) fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static CAPTURE: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    CAPTURE
        .get_or_init(|| {
            let buffer = Arc::new(Mutex::new(Vec::new()));
            let sink = buffer.clone();
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || Sink(sink.clone()))
                .try_init()
                .expect("the only global subscriber of this test binary");
            buffer
        })
        .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn an_in_process_server_never_logs_secrets(backend: Backend) {
    let logs = captured_logs();
    let settings = ServerSettings {
        cache_ttl: Duration::ZERO,
        ..ServerSettings::default()
    };
    let Some(app) = App::spawn(backend, settings).await else {
        return;
    };
    let secrets = Secrets::new();
    exercise(&app.dev, &secrets).await;

    // A key that worked, then revoked.
    let revoked = format!("revoked-key-{}", ObjectId::new());
    let development = app.environment("Development").await;
    let info = app
        .store
        .add_api_key(&development, &KeyHash::of(&revoked), &key_hint(&revoked))
        .await
        .expect("adding a key")
        .expect("the environment exists");
    let revoked_api = app.dev.with_key(&revoked);
    assert_eq!(revoked_api.get("/v1/subscribers").await.status, 200);
    assert!(app.store.revoke_api_key(&info.id).await.expect("revoking"));
    assert_eq!(revoked_api.get("/v1/subscribers").await.status, 401);
    assert_eq!(app.prod.get("/v1/subscribers/holder").await.status, 404);

    let output = String::from_utf8_lossy(&logs.lock().expect("log buffer")).into_owned();
    // The capture works: the requests above were traced.
    assert!(
        output.contains(r#"route="/v1/subscribers/{subscriberId}/credentials""#)
            && output.contains("status=401"),
        "request traces missing from the capture ({} bytes)",
        output.len()
    );
    let keys = [DEV_KEY, app.production_key.as_str(), revoked.as_str()];
    assert_absent(&output, &secrets.all(&keys));
}

async fn the_binary_never_logs_secrets_at_trace_level(backend: Backend) {
    let Some(db) = Database::fresh(backend).await else {
        return;
    };
    let server = HeraldProcess::start(&db, &["--log", "trace"]).await;
    let secrets = Secrets::new();
    exercise(&server.api, &secrets).await;
    let output = server.kill().await;

    assert!(
        output.stderr.contains("Herald is serving")
            && output
                .stderr
                .contains(r#"route="/v1/subscribers/{subscriberId}/credentials""#),
        "request traces missing from stderr ({} bytes)",
        output.stderr.len()
    );
    // The seeded key came from the command line and is printed nowhere.
    assert_absent(&output.stdout, &secrets.all(&[DEV_KEY]));
    assert_absent(&output.stderr, &secrets.all(&[DEV_KEY]));
    // The Production key bootstrap made is shown once, on stdout, for the operator; never logged.
    let production = output
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Production"))
        .map(|k| k.trim().to_string())
        .expect("the first start prints the Production key");
    assert_eq!(output.stdout.matches(production.as_str()).count(), 1);
    assert_absent(&output.stderr, &secrets.all(&[&production]));
}

/// Everything the database holds, as text: the SQLite file and its WAL byte for byte, or a
/// PostgreSQL data dump (`pg_dump`).
fn database_contents(db: &Database) -> String {
    match db.sqlite_file() {
        Some(file) => {
            let mut bytes = std::fs::read(file).expect("the database file");
            let wal = file.with_extension("db-wal");
            bytes.extend(std::fs::read(wal).unwrap_or_default());
            String::from_utf8_lossy(&bytes).into_owned()
        }
        None => {
            let pg_dump = std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .map(|v| v.path().join("bin/pg_dump"))
                .find(|p| p.exists())
                .unwrap_or_else(|| "pg_dump".into());
            let out = std::process::Command::new(&pg_dump)
                .args(["--data-only", "--dbname", db.url()])
                .output()
                .unwrap_or_else(|e| panic!("running {}: {e}", pg_dump.display()));
            assert!(
                out.status.success(),
                "pg_dump: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    }
}

/// The keys the binary seeds, prints at bootstrap and creates (`herald keys create`) are stored
/// as their SHA-256 only: the database holds each hash and none of the keys.
async fn the_database_holds_api_key_hashes_never_the_keys(backend: Backend) {
    let Some(db) = Database::fresh(backend).await else {
        return;
    };
    let server = HeraldProcess::start(&db, &[]).await;
    assert_eq!(server.api.get("/v1/subscribers").await.status, 200);
    let output = server.kill().await;
    let production = output
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Production"))
        .map(|k| k.trim().to_string())
        .expect("the first start prints the Production key");
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args([
            "--database-url",
            db.url(),
            "keys",
            "create",
            "--environment",
            "Development",
        ])
        .env_remove("HERALD_API_KEY")
        .env_remove("HERALD_SECRET_KEY_FILE")
        .env("HERALD_SECRET_KEY", herald_core::secrets::TEST_SECRET_KEYS)
        .output()
        .expect("herald keys create");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let created = String::from_utf8_lossy(&created.stdout)
        .lines()
        .last()
        .expect("the new key")
        .trim()
        .to_string();

    let contents = database_contents(&db);
    for key in [DEV_KEY, production.as_str(), created.as_str()] {
        assert!(
            contents.contains(KeyHash::of(key).as_str()),
            "the hash of key …{} is not in the database (is the scan reading it?)",
            key_hint(key)
        );
        assert!(
            !contents.contains(key),
            "key …{} is stored in plaintext",
            key_hint(key)
        );
    }
}
