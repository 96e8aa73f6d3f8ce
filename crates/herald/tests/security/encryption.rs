//! Encryption at rest through the real binary: the key file a SQLite start creates (private, with
//! a warning to back it up, the key itself never printed), a wrong key stopping Herald with one
//! line, PostgreSQL refused without a key, and `herald secrets rotate|status|retire` run while a
//! server keeps answering with the same data.

use std::path::PathBuf;

use herald_core::secrets::{Keyring, SecretKey, TEST_SECRET_KEYS};
use serde_json::{json, Value};

use crate::support::{snapshot, Api, Backend, Database, HeraldProcess};

both_backends!(
    a_wrong_key_stops_herald_with_one_clear_line,
    rotating_keys_given_in_the_environment_while_a_server_runs_changes_no_answer,
);

/// What a `herald` command printed.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `herald --database-url URL ARGS…` with `HERALD_SECRET_KEY` set to `key` (or unset).
async fn herald(db: &Database, key: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.args(["--database-url", db.url()])
        .args(args)
        .env_remove("HERALD_SECRET_KEY_FILE")
        .env_remove("HERALD_NEW_SECRET_KEY")
        .env_remove("HERALD_LOG")
        .env("NO_COLOR", "1");
    match key {
        Some(key) => cmd.env("HERALD_SECRET_KEY", key),
        None => cmd.env_remove("HERALD_SECRET_KEY"),
    };
    let out = cmd.output().await.expect("running herald");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn test_keys() -> (String, String) {
    let (first, second) = TEST_SECRET_KEYS.split_once(',').expect("two test keys");
    (first.trim().to_string(), second.trim().to_string())
}

fn id_of(key: &str) -> String {
    SecretKey::parse(key).unwrap().id().to_string()
}

/// An FCM integration with a provider secret and a subscriber holding a device token.
async fn write_credentials(api: &Api, token: &str) {
    let res = api
        .post(
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "active": true,
                   "credentials": {"apiKey": "provider-secret-71c3"}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let res = api
        .post("/v1/subscribers", json!({"subscriberId": "ada"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let body = json!({"providerId": "fcm", "credentials": {"deviceTokens": [token]}});
    let res = api.put("/v1/subscribers/ada/credentials", body).await;
    assert_eq!(res.status, 200, "{}", res.text);
}

fn tokens_of(snapshot: &Value) -> Value {
    snapshot["subscribers"][0]["channels"][0]["credentials"]["deviceTokens"].clone()
}

fn key_file(db: &Database) -> PathBuf {
    let mut name = db
        .sqlite_file()
        .expect("a SQLite file")
        .as_os_str()
        .to_owned();
    name.push(".key");
    PathBuf::from(name)
}

/// The keys in a key file, primary first.
fn keys_in(path: &PathBuf) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("the key file");
    Keyring::parse(&text)
        .expect("a valid key file")
        .ids()
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[cfg(unix)]
fn mode(path: &PathBuf) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_sqlite_start_creates_a_private_key_file_and_says_to_back_it_up() {
    let db = Database::fresh(Backend::Sqlite).await.expect("SQLite");
    let server = HeraldProcess::start_with_key(&db, &[], None).await;
    let path = key_file(&db);
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600, "the key file is private");
    write_credentials(&server.api, "device-token-first-start").await;
    let output = server.kill().await;
    let warning = output
        .stderr
        .lines()
        .find(|l| l.contains("WARN") && l.contains("back this file up"))
        .unwrap_or_else(|| panic!("no backup warning in:\n{}", output.stderr));
    assert!(warning.contains(&path.display().to_string()), "{warning}");
    let text = std::fs::read_to_string(&path).unwrap();
    let key = text.lines().find(|l| !l.starts_with('#')).unwrap();
    assert!(!output.stderr.contains(key) && !output.stdout.contains(key));

    // The next start reuses the file: the data reads back, and nothing is generated again.
    let server = HeraldProcess::start_with_key(&db, &[], None).await;
    let data = snapshot(&server.api).await;
    assert_eq!(tokens_of(&data), json!(["device-token-first-start"]));
    let output = server.kill().await;
    assert!(
        !output.stderr.contains("back this file up"),
        "{}",
        output.stderr
    );
}

async fn a_wrong_key_stops_herald_with_one_clear_line(backend: Backend) {
    let Some(db) = Database::fresh(backend).await else {
        return;
    };
    let server = HeraldProcess::start(&db, &[]).await;
    write_credentials(&server.api, "device-token-wrong-key").await;
    server.kill().await;
    let wrong = SecretKey::generate();
    let run = herald(&db, Some(&wrong.to_base64()), &["migrate"]).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "");
    let last = run.stderr.lines().last().unwrap_or_default();
    let (first, _) = test_keys();
    let expected = format!(
        "error: the secret key does not match this database (it was encrypted with key id {}; \
         this process holds key id {}); set HERALD_SECRET_KEY to the key this database was created with",
        id_of(&first),
        wrong.id()
    );
    assert_eq!(last, expected);
    assert!(!run.stderr.contains(wrong.to_base64().as_str()));
    if backend == Backend::Postgres {
        let run = herald(&db, None, &["migrate"]).await;
        assert_eq!(run.code, 1);
        assert!(
            run.stderr.starts_with(
                "error: PostgreSQL needs an encryption key shared by every Herald process"
            ),
            "{}",
            run.stderr
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_secrets_rotate_rewrites_the_key_file_while_the_server_keeps_serving() {
    let db = Database::fresh(Backend::Sqlite).await.expect("SQLite");
    let server = HeraldProcess::start_with_key(&db, &[], None).await;
    write_credentials(&server.api, "device-token-rotated").await;
    let before = snapshot(&server.api).await;
    let path = key_file(&db);
    let old = keys_in(&path);

    let args = [
        "secrets",
        "rotate",
        "--batch-size",
        "1",
        "--settle-seconds",
        "0",
    ];
    let run = herald(&db, None, &args).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let keys = keys_in(&path);
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[1..], old[..], "the old key is kept after the new one");
    #[cfg(unix)]
    assert_eq!(mode(&path), 0o600);
    assert!(
        run.stdout
            .contains(&format!("every stored secret is under key id {}", keys[0])),
        "{}",
        run.stdout
    );
    // The running server re-reads the key file for values under the new key.
    assert_eq!(snapshot(&server.api).await, before);
    let status = herald(&db, None, &["secrets", "status"]).await;
    let current = status.stdout.lines().nth(1).unwrap_or_default().to_string();
    assert!(
        current.starts_with(&keys[0]) && current.contains(" yes "),
        "{}",
        status.stdout
    );

    let retire = herald(&db, None, &["secrets", "retire"]).await;
    assert_eq!(retire.code, 0, "{}{}", retire.stdout, retire.stderr);
    assert_eq!(keys_in(&path), keys[..1]);
    assert_eq!(snapshot(&server.api).await, before);
    server.kill().await;
    let server = HeraldProcess::start_with_key(&db, &[], None).await;
    assert_eq!(snapshot(&server.api).await, before);
    server.kill().await;
}

async fn rotating_keys_given_in_the_environment_while_a_server_runs_changes_no_answer(
    backend: Backend,
) {
    let Some(db) = Database::fresh(backend).await else {
        return;
    };
    let (first, second) = test_keys();
    // Step 1 is done: the server holds the new key (second) as a secondary key.
    let server = HeraldProcess::start(&db, &[]).await;
    write_credentials(&server.api, "device-token-env-rotation").await;
    let before = snapshot(&server.api).await;

    let refused = herald(&db, Some(TEST_SECRET_KEYS), &["secrets", "rotate"]).await;
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("pass --new-key KEY"),
        "{}",
        refused.stderr
    );

    let args = [
        "secrets",
        "rotate",
        "--new-key",
        &second,
        "--settle-seconds",
        "0",
    ];
    let run = herald(&db, Some(TEST_SECRET_KEYS), &args).await;
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(snapshot(&server.api).await, before);
    // The server encrypts new values with the new key (it re-reads the current key every 5 s;
    // either way the value stays readable to every process holding both keys).
    let body = json!({"providerId": "fcm", "credentials": {"deviceTokens": ["after-rotation"]}});
    assert_eq!(
        server
            .api
            .patch("/v1/subscribers/ada/credentials", body)
            .await
            .status,
        200
    );
    let after = snapshot(&server.api).await;
    assert_eq!(
        tokens_of(&after),
        json!(["device-token-env-rotation", "after-rotation"])
    );
    server.kill().await;

    // Step 3: with every value under the new key, the old one is retired and dropped.
    let rerun = herald(&db, Some(TEST_SECRET_KEYS), &args).await;
    assert_eq!(rerun.code, 0, "{}{}", rerun.stdout, rerun.stderr);
    let retire = herald(&db, Some(TEST_SECRET_KEYS), &["secrets", "retire"]).await;
    assert_eq!(retire.code, 0, "{}{}", retire.stdout, retire.stderr);
    assert!(
        retire.stdout.contains(&format!(
            "Remove key id {} from HERALD_SECRET_KEY",
            id_of(&first)
        )),
        "{}",
        retire.stdout
    );
    let old_only = herald(&db, Some(&first), &["migrate"]).await;
    assert_eq!(old_only.code, 1, "{}", old_only.stderr);
    let server = HeraldProcess::start_with_key(&db, &[], Some(&second)).await;
    assert_eq!(snapshot(&server.api).await, after);
    server.kill().await;
}
