//! What only the SQLite store promises: group commit, durability settings, data surviving a
//! reopen, readable open errors, and a clean shutdown.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use herald_core::secrets::test_keyring;
use herald_core::{
    ChannelCredentials, CredentialsMode, CredentialsUpdate, EnvironmentStore, IntegrationStore,
    KeyHash, NewIntegration, NewSubscriber, Profile, ProviderId, Store, StoreError,
    SubscriberPatch, SubscriberStore,
};
use herald_store_sqlite::{SqliteOpenError, SqliteStore};
use tempfile::TempDir;

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("herald.db")
}

async fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(path.to_str().unwrap(), test_keyring())
        .await
        .unwrap()
}

fn subscriber(id: &str) -> (NewSubscriber, SubscriberPatch) {
    let new = NewSubscriber {
        subscriber_id: id.to_string(),
        profile: Profile::default(),
    };
    (new, SubscriberPatch::default())
}

fn integration(identifier: &str) -> NewIntegration {
    NewIntegration {
        provider_id: ProviderId::Fcm,
        channel: ProviderId::Fcm.channel(),
        name: "FCM".into(),
        identifier: identifier.into(),
        credentials: Default::default(),
        active: true,
        conditions: Vec::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_commits() {
    let dir = TempDir::new().unwrap();
    let store = Arc::new(open(&db_path(&dir)).await);
    let env = store
        .bootstrap(&KeyHash::of("d"), &KeyHash::of("p"))
        .await
        .unwrap()
        .unwrap()
        .remove(0);
    let before = store.write_stats();
    let writes = 200;
    let tasks: Vec<_> = (0..writes)
        .map(|i| {
            let (store, env) = (store.clone(), env.clone());
            tokio::spawn(async move {
                let (new, patch) = subscriber(&format!("s{i}"));
                store
                    .upsert_subscriber(&env.id, &env.organization_id, &new, &patch)
                    .await
                    .unwrap()
            })
        })
        .collect();
    for task in tasks {
        assert!(task.await.unwrap().1, "each write created its subscriber");
    }
    let after = store.write_stats();
    let (jobs, commits) = (after.jobs - before.jobs, after.commits - before.commits);
    eprintln!("{jobs} writes in {commits} commits");
    assert_eq!(jobs, writes);
    assert!(
        commits < jobs,
        "{jobs} concurrent writes should share commits, took {commits}"
    );
    let listed = store.list_subscribers(&env.id, 0, 1000).await.unwrap();
    assert_eq!(listed.len(), writes as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_write_rolls_back_only_itself_not_its_batch() {
    let dir = TempDir::new().unwrap();
    let store = Arc::new(open(&db_path(&dir)).await);
    let env = store
        .bootstrap(&KeyHash::of("d"), &KeyHash::of("p"))
        .await
        .unwrap()
        .unwrap()
        .remove(0);
    // Half the writes race for one identifier: exactly one wins, the others conflict, and the
    // writes batched with them (each with a unique identifier) all commit.
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let (store, env) = (store.clone(), env.clone());
            let identifier = if i % 2 == 0 {
                "shared".to_string()
            } else {
                format!("own-{i}")
            };
            tokio::spawn(async move {
                store
                    .create_integration(&env.id, &env.organization_id, &integration(&identifier))
                    .await
            })
        })
        .collect();
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => conflicts += 1,
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(conflicts, 19);
    assert_eq!(store.list_integrations(&env.id).await.unwrap().len(), 21);
}

#[tokio::test]
async fn durability_settings_are_applied() {
    let dir = TempDir::new().unwrap();
    let store = open(&db_path(&dir)).await;
    let pragmas = store.pragmas().await.unwrap();
    assert_eq!(pragmas.journal_mode, "wal");
    assert_eq!(pragmas.synchronous, 2, "synchronous=FULL");
    assert!(pragmas.foreign_keys);
    assert!(pragmas.busy_timeout_ms >= 1000);
    store.close().await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_database_and_its_wal_files_are_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let store = open(&path).await;
    store.pragmas().await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let file = format!("{}{suffix}", path.display());
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}: {mode:o}");
    }
    store.close().await;
}

#[tokio::test]
async fn reopening_a_database_keeps_its_data_and_schema_version() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let url = format!("sqlite://{}", path.display());
    let store = SqliteStore::open(&url, test_keyring()).await.unwrap();
    let env = store
        .bootstrap(&KeyHash::of("d"), &KeyHash::of("p"))
        .await
        .unwrap()
        .unwrap()
        .remove(0);
    let fcm = store
        .create_integration(&env.id, &env.organization_id, &integration("fcm"))
        .await
        .unwrap();
    let (new, patch) = subscriber("ada");
    store
        .upsert_subscriber(&env.id, &env.organization_id, &new, &patch)
        .await
        .unwrap();
    let update = CredentialsUpdate {
        provider_id: ProviderId::Fcm,
        integration_id: fcm.id.clone(),
        credentials: ChannelCredentials {
            device_tokens: Some(vec!["t1".into(), "t2".into()]),
            ..Default::default()
        },
        mode: CredentialsMode::Append,
        ownership: herald_core::TokenOwnership::Move,
    };
    let written = store
        .update_credentials(&env.id, "ada", &update)
        .await
        .unwrap()
        .unwrap();
    store.close().await;
    drop(store);

    let store = SqliteStore::open(&format!("sqlite:{}", path.display()), test_keyring())
        .await
        .unwrap();
    assert_eq!(
        store.get_subscriber(&env.id, "ada").await.unwrap(),
        Some(written)
    );
    assert!(store
        .bootstrap(&KeyHash::of("d"), &KeyHash::of("p"))
        .await
        .unwrap()
        .is_none());
    assert!(store
        .authenticate(&KeyHash::of("d"))
        .await
        .unwrap()
        .is_some());
    store.close().await;

    let conn = rusqlite::Connection::open(&path).unwrap();
    let versions: Vec<i64> = conn
        .prepare("SELECT version FROM schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7, 8], "migrations ran once");
}

#[tokio::test]
async fn close_checkpoints_the_wal_and_later_calls_fail_cleanly() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let store = open(&path).await;
    store
        .bootstrap(&KeyHash::of("d"), &KeyHash::of("p"))
        .await
        .unwrap();
    store.close().await;
    let wal = path.with_extension("db-wal");
    let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    assert_eq!(wal_len, 0, "the WAL was checkpointed into the database");
    let write = store.bootstrap(&KeyHash::of("x"), &KeyHash::of("y")).await;
    assert!(matches!(write, Err(StoreError::Backend(_))), "{write:?}");
    let read = store.list_environments().await;
    assert!(matches!(read, Err(StoreError::Backend(_))), "{read:?}");
}

#[tokio::test]
async fn opening_a_file_in_a_missing_directory_names_the_file() {
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("missing").join("herald.db");
    let err = SqliteStore::open(path.to_str().unwrap(), test_keyring())
        .await
        .err()
        .expect("opening fails");
    assert!(matches!(err, SqliteOpenError::Create { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("cannot create SQLite database file"),
        "{message}"
    );
    assert!(message.contains("No such file or directory"), "{message}");
    assert!(message.contains(&path.display().to_string()), "{message}");
}

#[tokio::test]
async fn other_url_schemes_are_refused_with_the_accepted_forms() {
    let err = SqliteStore::open("postgres://localhost/herald", test_keyring())
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("sqlite://PATH"), "{err}");
}

#[tokio::test]
async fn wal_checkpoints_run_on_their_own_thread() {
    let dir = TempDir::new().unwrap();
    let store = open(&db_path(&dir)).await;
    let env = store
        .bootstrap(&KeyHash::of("dev"), &KeyHash::of("prod"))
        .await
        .unwrap()
        .unwrap()
        .remove(0);
    // One write at a time: each is its own commit.
    for i in 0..100 {
        let (new, patch) = subscriber(&format!("s{i}"));
        store
            .upsert_subscriber(&env.id, &env.organization_id, &new, &patch)
            .await
            .unwrap();
    }
    store.close().await;
    let stats = store.write_stats();
    assert!(stats.commits >= 100, "{stats:?}");
    assert!(stats.checkpoints >= 1, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_is_a_private_consistent_copy_that_never_overwrites() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let store = open(&path).await;
    let env = store
        .bootstrap(&KeyHash::of("d"), &KeyHash::of("p"))
        .await
        .unwrap()
        .unwrap()
        .remove(0);
    let (new, patch) = subscriber("ada");
    store
        .upsert_subscriber(&env.id, &env.organization_id, &new, &patch)
        .await
        .unwrap();
    let copy = dir.path().join("copy.db");
    let report = herald_store_sqlite::backup(&path, &copy).unwrap();
    assert!(report.bytes > 0);
    assert_eq!(report.key_ids.len(), 1, "{report:?}");
    assert!(report.schema_version >= 7, "{report:?}");
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The copy opens as a store with the same keys and holds what was written.
    let reopened = open(&copy).await;
    assert!(reopened
        .get_subscriber(&env.id, "ada")
        .await
        .unwrap()
        .is_some());
    reopened.close().await;

    std::fs::write(dir.path().join("taken.db"), b"precious").unwrap();
    let err = herald_store_sqlite::backup(&path, &dir.path().join("taken.db")).unwrap_err();
    assert!(
        err.to_string()
            .ends_with("already exists; refusing to overwrite it (choose a new file name)"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("taken.db")).unwrap(),
        b"precious"
    );
    let err = herald_store_sqlite::backup(&dir.path().join("nothing.db"), &dir.path().join("x.db"))
        .unwrap_err();
    assert!(err.to_string().starts_with("no database at "), "{err}");
    assert!(!dir.path().join("x.db").exists());
    store.close().await;
}

/// A token's row id is its channel's `pk * 2^32` plus its position; positions only grow between
/// two replacements of the list, and an append that would run past the last one first moves the
/// channel's tokens back to positions 1, 2, … in their order.
#[tokio::test]
async fn an_append_past_the_last_token_position_renumbers_the_channel_in_order() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let store = open(&path).await;
    let env = store
        .bootstrap(&KeyHash::of("d"), &KeyHash::of("p"))
        .await
        .unwrap()
        .unwrap()
        .remove(0);
    let fcm = store
        .create_integration(&env.id, &env.organization_id, &integration("fcm"))
        .await
        .unwrap();
    let (new, patch) = subscriber("ada");
    store
        .upsert_subscriber(&env.id, &env.organization_id, &new, &patch)
        .await
        .unwrap();
    let append = |tokens: &[&str]| CredentialsUpdate {
        provider_id: ProviderId::Fcm,
        integration_id: fcm.id.clone(),
        credentials: ChannelCredentials {
            device_tokens: Some(tokens.iter().map(|t| t.to_string()).collect()),
            ..Default::default()
        },
        mode: CredentialsMode::Append,
        ownership: herald_core::TokenOwnership::Move,
    };
    store
        .update_credentials(&env.id, "ada", &append(&["t1", "t2"]))
        .await
        .unwrap()
        .unwrap();
    store.close().await;
    drop(store);

    // Move the two tokens to the last two positions of their channel.
    let positions = |path: &Path| -> Vec<i64> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn
            .prepare("SELECT pk & 4294967295 FROM device_tokens ORDER BY pk")
            .unwrap();
        let positions = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        positions
    };
    assert_eq!(positions(&path), [1, 2]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "UPDATE device_tokens SET pk = pk + 4294967293 WHERE pk & 4294967295 = 2;
         UPDATE device_tokens SET pk = pk + 4294967293 WHERE pk & 4294967295 = 1;",
    )
    .unwrap();
    drop(conn);
    assert_eq!(positions(&path), [4294967294, 4294967295]);

    let store = open(&path).await;
    let written = store
        .update_credentials(&env.id, "ada", &append(&["t3", "t1", "t4"]))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        written.channels[0].credentials.device_tokens,
        Some(["t1", "t2", "t3", "t4"].map(String::from).to_vec())
    );
    store.close().await;
    assert_eq!(positions(&path), [1, 2, 3, 4]);
}
