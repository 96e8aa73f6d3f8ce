//! The backend-neutral store conformance suite (herald-core), run against SQLite.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use herald_core::Store;
use herald_store_sqlite::SqliteStore;

/// Where the cases' database files go: the target directory's scratch space. The factory cannot
/// hand back a guard with the store, so a case's directory outlives it; instead, directories
/// left by earlier runs are removed when a run starts.
fn scratch_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sqlite-conformance");
        std::fs::create_dir_all(&root).expect("create the scratch directory");
        prune(&root, Duration::from_secs(3600));
        root
    })
}

/// Removes subdirectories older than `age` (a run this old has finished).
fn prune(root: &Path, age: Duration) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|elapsed| elapsed > age);
        if old {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A fresh database file per case.
async fn fresh_store() -> Option<Arc<dyn Store>> {
    let dir = tempfile::Builder::new()
        .prefix("case-")
        .tempdir_in(scratch_root())
        .expect("create a case directory")
        .keep();
    let url = format!("sqlite://{}", dir.join("herald.db").display());
    let store = SqliteStore::open(&url, herald_core::secrets::test_keyring())
        .await
        .expect("open a fresh SQLite store");
    Some(Arc::new(store) as Arc<dyn Store>)
}

herald_core::conformance_tests!(fresh_store);
