//! Backups of a running, writing server, restored into a new Herald with the same key: every
//! credential written before the backup began reads back. SQLite: `herald backup` (the real
//! binary), an existing file never overwritten, the key file beside the restored copy.
//! PostgreSQL: `herald backup` refuses and names `pg_dump`; README's `pg_dump` / `pg_restore`
//! commands then make the copy (when those programs are installed, as in CI).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::process::Command;
use tokio::task::JoinSet;

use crate::support::{device_tokens, encode, Api, Backend, Database, HeraldProcess};

both_backends!(backup_of_a_running_server);

/// Writers creating subscribers with an FCM device token each, all through one integration,
/// until the backup is done.
const WRITERS: usize = 4;
/// A bound on each writer, far above what the backup takes.
const MAX_PER_WRITER: usize = 2000;
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
    // SQLite: the default key file beside the database, as a SQLite install has it.
    // PostgreSQL: the key in HERALD_SECRET_KEY, as it must be there.
    let server = match backend {
        Backend::Sqlite => HeraldProcess::start_with_key(&db, &[], None).await,
        Backend::Postgres => HeraldProcess::start(&db, &[]).await,
    };
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
    let stop = Arc::new(AtomicBool::new(false));
    let (progress_tx, mut progress) = tokio::sync::mpsc::unbounded_channel();
    let mut writers = JoinSet::new();
    for w in 0..WRITERS {
        let (api, acked, progress_tx) = (api.clone(), acked.clone(), progress_tx.clone());
        let stop = stop.clone();
        writers.spawn(async move {
            for i in 0..MAX_PER_WRITER {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
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
    let key_file = db.sqlite_file().map(|f| format!("{}.key", f.display()));
    let dump = dir.path().join("herald.dump");
    let dumped = match backend {
        Backend::Sqlite => {
            sqlite_backup(&db, &copy, key_file.as_deref().unwrap()).await;
            true
        }
        Backend::Postgres => {
            postgres_refusal(&db, &copy).await;
            postgres_dump(&db, &dump).await
        }
    };
    let during = acked.lock().unwrap().len();
    stop.store(true, Ordering::SeqCst);
    while let Some(done) = writers.join_next().await {
        done.expect("a writer panicked");
    }
    assert!(
        during > before.len(),
        "no write was acknowledged while the backup ran"
    );
    let (_, clean) = server.terminate().await;
    assert!(clean);
    if !dumped {
        return;
    }
    // `_dir` holds the restored SQLite files for as long as the new server runs.
    let (restored_db, _dir) = match backend {
        Backend::Sqlite => sqlite_restore(&copy, key_file.as_deref().unwrap()).await,
        Backend::Postgres => (postgres_restore(&dump).await, None),
    };

    // A new Herald on the restored database, with the same key.
    let server = match backend {
        Backend::Sqlite => HeraldProcess::start_with_key(&restored_db, &[], None).await,
        Backend::Postgres => HeraldProcess::start(&restored_db, &[]).await,
    };
    read_back(&server.api, &before).await;
    let integrations = server.api.get("/v1/integrations").await;
    let fcm = integrations.data(200).as_array().unwrap()[0].clone();
    assert_eq!(
        fcm["credentials"]["serviceAccount"], "{\"project_id\":\"backup-test\"}",
        "{fcm}"
    );
    server.terminate().await;
}

/// `herald backup --to copy` while the server writes; then a second one to the same file is
/// refused and leaves the copy alone.
async fn sqlite_backup(db: &Database, copy: &Path, key_file: &str) {
    let out = herald_backup(db.url(), copy, None).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Keep that key with this backup")
            && stdout.contains(&format!("the key file {key_file}")),
        "{stdout}"
    );
    let size = std::fs::metadata(copy).unwrap().len();
    let again = herald_backup(db.url(), copy, None).await;
    assert_eq!(again.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("already exists; refusing to overwrite it")
    );
    assert_eq!(std::fs::metadata(copy).unwrap().len(), size);
}

/// The copy and the key file, under the names Herald looks for, as README's restore says.
async fn sqlite_restore(copy: &Path, key_file: &str) -> (Database, Option<tempfile::TempDir>) {
    let restored = tempfile::tempdir().unwrap();
    let restored_db = restored.path().join("herald.db");
    std::fs::copy(copy, &restored_db).unwrap();
    std::fs::copy(key_file, restored.path().join("herald.db.key")).unwrap();
    (Database::at_sqlite_file(&restored_db), Some(restored))
}

/// `herald backup` on PostgreSQL exits 1 with the `pg_dump` command to run, and writes nothing.
async fn postgres_refusal(db: &Database, copy: &Path) {
    let out = herald_backup(db.url(), copy, Some(herald_core::secrets::TEST_SECRET_KEYS)).await;
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
}

/// README's `pg_dump` command; `false` (with a notice) when the client programs are not
/// installed here.
async fn postgres_dump(db: &Database, dump: &Path) -> bool {
    let Some(bin) = pg_client_dir() else {
        eprintln!("pg_dump/pg_restore not found: the PostgreSQL restore is not exercised");
        return false;
    };
    let out = Command::new(bin.join("pg_dump"))
        .arg("--format=custom")
        .arg(format!("--file={}", dump.display()))
        .arg(db.url())
        .output()
        .await
        .expect("running pg_dump");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    true
}

/// README's `pg_restore` command, into a fresh database.
async fn postgres_restore(dump: &Path) -> Database {
    let bin = pg_client_dir().expect("found for the dump");
    let target = Database::fresh(Backend::Postgres)
        .await
        .expect("PostgreSQL");
    let out = Command::new(bin.join("pg_restore"))
        .arg("--no-owner")
        .arg(format!("--dbname={}", target.url()))
        .arg(dump)
        .output()
        .await
        .expect("running pg_restore");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target
}

/// Where `pg_dump` and `pg_restore` are: the newest `/usr/lib/postgresql/*/bin`, else PATH.
fn pg_client_dir() -> Option<PathBuf> {
    let has = |d: &Path| d.join("pg_dump").is_file() && d.join("pg_restore").is_file();
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    versioned.sort_by_key(|(v, _)| std::cmp::Reverse(*v));
    let path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    versioned
        .into_iter()
        .map(|(_, d)| d)
        .chain(path)
        .find(|d| has(d))
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
