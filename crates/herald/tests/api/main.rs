//! Black-box API tests: each case starts a real Herald server on `127.0.0.1:0` over a fresh store
//! and talks to it over HTTP, asserting what Novu's SDKs see (Novu's
//! documented behaviour, with the README's deliberate differences taking precedence).
//!
//! Every case is written once as `async fn case(app: TestApp)` and runs on both backends:
//! [`backend_tests!`] turns it into `case::sqlite` and `case::postgres`. The PostgreSQL variant is
//! skipped (with a notice) when no PostgreSQL is available, unless `HERALD_TEST_REQUIRE_POSTGRES=1`.

/// For each named case, a module of the same name holding one `#[tokio::test]` per backend.
/// `@with configure;` first changes the server settings (`configure: fn(&mut ServerSettings)`).
macro_rules! backend_tests {
    (@with $configure:path; $($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::spawn_configured(
                        $crate::helpers::Backend::Sqlite,
                        $configure,
                    )
                    .await
                    .expect("SQLite is always available");
                    super::$case(app).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(app) = $crate::helpers::TestApp::spawn_configured(
                        $crate::helpers::Backend::Postgres,
                        $configure,
                    )
                    .await
                    else {
                        return;
                    };
                    super::$case(app).await;
                }
            }
        )*
    };
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite)
                        .await
                        .expect("SQLite is always available");
                    super::$case(app).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(app) =
                        $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await
                    else {
                        return;
                    };
                    super::$case(app).await;
                }
            }
        )*
    };
}

mod auth;
mod bulk;
mod credentials;
mod credentials_limits;
mod cursor_walk;
mod delivery;
mod device_tokens;
mod errors;
mod event_sdk_shapes;
mod events;
mod hardening;
mod hardening_nul;
mod helpers;
mod integration_typing;
mod integrations;
mod lifecycle;
mod openapi;
mod openapi_schemas;
mod operations;
mod pruning;
mod receiver;
mod sdk_wire;
mod subscribers;
mod subscribers_v2_api;
mod topic_subscriptions_v2;
mod topics_v1;
mod topics_v2_api;
mod workflow_model;
mod workflow_schemas;
mod workflows_v1_api;
mod workflows_v2_api;
