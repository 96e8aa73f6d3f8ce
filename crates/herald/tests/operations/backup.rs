//! `herald backup`, through the real binary. SQLite: a copy taken while a server runs and writes
//! is a database a new Herald serves with the same key file, holding every credential written
//! before the copy began; an existing file is never overwritten. PostgreSQL: the command refuses
//! and names the `pg_dump` command to run instead.

use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::process::Command;
use tokio::task::JoinSet;

use crate::support::{device_tokens, encode, Api, Backend, Database, HeraldProcess};

both_backends!(backup_of_a_running_server);

/// Writers creating subscribers with an FCM device token each, all through one integration.
const WRITERS: usize = 4;
/// Each writer's writes before it stops; the backup is taken after the first few dozen.
const PER_WRITER: usize = 60;
/// Acknowledged writes before the backup starts.
const BACKUP_AFTER: usize = 40;

async fn herald_backup(db_url: &str, to: &Path, key: Option<&str>) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_herald"));
    cmd.args(["backup", "--to"])
        .arg(to)
        .args(["--database-url", db_url])
        .env_remove("HERALD_SECRET_KEY_FILE")
        .env("NO_COLOR", "1");
    match key {
        Some(key) => cmd.env("HERALD_SECRET_KEY", key),
        None => cmd.env_remove("HERALD_SECRET_KEY"),
    };
    cmd.output().await.expect("running herald backup")
}

async fn backup_of_a_running_server(backend: Backend) {
    let Some(db) = Database::fresh(backend).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    if backend == Backend::Postgres {
        let out = herald_backup(
            db.url(),
            &copy,
            Some(herald_core::secrets::TEST_SECRET_KEYS),
        )
        .await;
        assert_eq!(out.status.code(), Some(1));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("for PostgreSQL use pg_dump")
                && stderr.contains(&format!(
                    "pg_dump --format=custom --file={}",
                    copy.display()
                )),
            "{stderr}"
        );
        assert!(!copy.exists());
        return;
    }

    // The default key file beside the database, as a SQLite install has it.
    let server = HeraldProcess::start_with_key(&db, &[], None).await;
    let api = server.api.clone();
    let integration = api
        .post(
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "active": true,
                   "credentials": {"serviceAccount": "{\"project_id\":\"backup-test\"}"}}),
        )
        .await;
    assert_eq!(integration.status, 201, "{}", integration.text);

    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let (progress_tx, mut progress) = tokio::sync::mpsc::unbounded_channel();
    let mut writers = JoinSet::new();
    for w in 0..WRITERS {
        let (api, acked, progress_tx) = (api.clone(), acked.clone(), progress_tx.clone());
        writers.spawn(async move {
            for i in 0..PER_WRITER {
                let (id, token) = (format!("w{w}-s{i:03}"), format!("token-w{w}-{i:03}"));
                let res = api
                    .post(
                        "/v1/subscribers",
                        json!({"subscriberId": id, "email": format!("{id}@example.com"),
                               "channels": [{"providerId": "fcm",
                                             "credentials": {"deviceTokens": [token]}}]}),
                    )
                    .await;
                assert_eq!(res.status, 201, "{id}: {}", res.text);
                acked.lock().unwrap().push((id, token));
                let _ = progress_tx.send(());
            }
        });
    }
    drop(progress_tx);
    for n in 0..BACKUP_AFTER {
        progress
            .recv()
            .await
            .unwrap_or_else(|| panic!("the writers stopped after {n} writes"));
    }
    // Everything acknowledged before the backup starts must be in it.
    let before: Vec<(String, String)> = acked.lock().unwrap().clone();
    let out = herald_backup(db.url(), &copy, None).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key_file = format!("{}.key", db.sqlite_file().unwrap().display());
    assert!(
        stdout.contains("Keep that key with this backup")
            && stdout.contains(&format!("the key file {key_file}")),
        "{stdout}"
    );
    let during = acked.lock().unwrap().len();
    while let Some(done) = writers.join_next().await {
        done.expect("a writer panicked");
    }
    assert!(
        during < WRITERS * PER_WRITER,
        "the writes were all done before the backup ended"
    );

    // A second backup to the same file is refused, and the copy is left as it was.
    let size = std::fs::metadata(&copy).unwrap().len();
    let again = herald_backup(db.url(), &copy, None).await;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists; refusing to overwrite it")
    );
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), size);
    let (_, clean) = server.terminate().await;
    assert!(clean);

    // Restore: the copy and the key file, under the names Herald looks for.
    let restored = tempfile::tempdir().unwrap();
    let restored_db = restored.path().join("herald.db");
    std::fs::copy(&copy, &restored_db).unwrap();
    std::fs::copy(&key_file, restored.path().join("herald.db.key")).unwrap();
    let restored_db = Database::at_sqlite_file(&restored_db);
    let server = HeraldProcess::start_with_key(&restored_db, &[], None).await;
    read_back(&server.api, &before).await;
    let integrations = server.api.get("/v1/integrations").await;
    let fcm = integrations.data(200).as_array().unwrap()[0].clone();
    assert_eq!(
        fcm["credentials"]["serviceAccount"], "{\"project_id\":\"backup-test\"}",
        "{fcm}"
    );
    server.terminate().await;
}

/// Every `(subscriber, token)` in `expected` reads back with its token, and every subscriber the
/// copy holds reads back whole (no credential that fails to decrypt).
async fn read_back(api: &Api, expected: &[(String, String)]) {
    for (id, token) in expected {
        let res = api.get(&format!("/v1/subscribers/{}", encode(id))).await;
        assert_eq!(
            device_tokens(res.data(200), "fcm"),
            std::slice::from_ref(token),
            "{id}"
        );
    }
    let all = crate::support::all_subscribers(api).await;
    assert!(all.len() >= expected.len());
    for s in all {
        let id = s["subscriberId"].as_str().unwrap();
        let res = api.get(&format!("/v1/subscribers/{}", encode(id))).await;
        assert_eq!(device_tokens(res.data(200), "fcm").len(), 1, "{id}");
    }
}
