//! The backend-neutral store conformance suite. Each store crate runs every case against a fresh
//! store with [`conformance_tests!`](crate::conformance_tests). Cases are added here, never in a
//! backend, so that both backends are held to the same behaviour.

use crate::Store;

/// Expands to one `#[tokio::test]` per conformance case. `$factory` is an async closure-like
/// expression returning `Option<Arc<dyn Store>>` for a fresh, empty store; `None` skips (e.g. no
/// PostgreSQL available and not required).
#[macro_export]
macro_rules! conformance_tests {
    ($factory:expr) => {
        $crate::conformance_tests!(@cases $factory;
            bootstrap_creates_two_environments_once
        );
    };
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let Some(store) = ($factory)().await else { return };
                $crate::conformance::$case(&*store).await;
            }
        )*
    };
}

pub async fn bootstrap_creates_two_environments_once(store: &dyn Store) {
    let dev = crate::KeyHash::of("dev-key");
    let prod = crate::KeyHash::of("prod-key");
    let envs = store
        .bootstrap(&dev, &prod)
        .await
        .unwrap()
        .expect("first bootstrap creates");
    assert_eq!(envs.len(), 2);
    assert_eq!(envs[0].name, "Development");
    assert_eq!(envs[1].name, "Production");
    assert!(store.bootstrap(&dev, &prod).await.unwrap().is_none());
    let ctx = store.authenticate(&dev).await.unwrap().unwrap();
    assert_eq!(ctx.environment_id, envs[0].id);
}
