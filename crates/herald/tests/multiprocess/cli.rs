//! `herald keys …` run as a command-line subprocess against a test database, as an operator would
//! run it next to the servers, with the key and key id parsed from what it prints.

use std::process::Stdio;
use std::time::Duration;

use crate::support::Database;

/// A guard against a hung command, not a wait: the command is awaited to its exit.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `herald --database-url URL <args>` to completion and returns its stdout; panics with
/// both streams when it fails. The child is killed if this future is dropped (a failed test).
pub async fn herald(db: &Database, args: &[&str]) -> String {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.args(["--database-url", db.url(), "--pg-max-connections", "2"])
        .args(args)
        .env_remove("HERALD_LOG")
        .env_remove("HERALD_SECRET_KEY_FILE")
        .env("HERALD_SECRET_KEY", herald_core::secrets::TEST_SECRET_KEYS)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let out = tokio::time::timeout(CLI_TIMEOUT, cmd.output())
        .await
        .unwrap_or_else(|_| panic!("`herald {}` did not finish", args.join(" ")))
        .expect("running the herald binary");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "`herald {}` failed ({}):\n{stdout}\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// A key made by `herald keys create`.
pub struct CreatedKey {
    pub id: String,
    pub key: String,
}

/// `herald keys create --environment NAME`, which prints
/// `Created API key <id> for <environment> (shown only once):` and the key on the next line.
pub async fn create_key(db: &Database, environment: &str) -> CreatedKey {
    let out = herald(db, &["keys", "create", "--environment", environment]).await;
    let mut lines = out.lines();
    let id = lines
        .next()
        .and_then(|l| l.strip_prefix("Created API key "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no key id in {out:?}"))
        .to_string();
    let key = lines
        .next()
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| panic!("no key in {out:?}"))
        .to_string();
    CreatedKey { id, key }
}

/// One row of `herald keys list`.
#[derive(Debug)]
pub struct KeyRow {
    pub id: String,
    pub environment: String,
    /// `None` for an active key (`-`).
    pub revoked: Option<String>,
}

/// `herald keys list`: a header, then `ID ENVIRONMENT ENDS CREATED REVOKED` per key.
pub async fn list_keys(db: &Database) -> Vec<KeyRow> {
    let out = herald(db, &["keys", "list"]).await;
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().unwrap_or_default();
    assert!(header.starts_with("ID"), "no header in {out:?}");
    lines
        .map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert_eq!(cols.len(), 5, "a key row of 5 columns: {line:?}");
            KeyRow {
                id: cols[0].to_string(),
                environment: cols[1].to_string(),
                revoked: (cols[4] != "-").then(|| cols[4].to_string()),
            }
        })
        .collect()
}

/// `herald keys revoke ID`.
pub async fn revoke_key(db: &Database, id: &str) {
    let out = herald(db, &["keys", "revoke", id]).await;
    assert!(
        out.starts_with(&format!("Revoked API key {id}.")),
        "revoke printed {out:?}"
    );
}
