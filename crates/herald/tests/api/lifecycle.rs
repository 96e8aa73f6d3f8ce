//! The server's life: it serves as soon as `run` is spawned on a bound listener, answers the
//! health check without a key, and stops when its cancellation token is cancelled.

use serde_json::json;

use crate::helpers::TestApp;

backend_tests!(
    the_health_check_answers_without_a_key,
    cancelling_the_token_stops_the_server,
);

async fn the_health_check_answers_without_a_key(app: TestApp) {
    let res = app.anonymous().get("/v1/health-check").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data(), &json!({"status": "ok"}));
}

async fn cancelling_the_token_stops_the_server(app: TestApp) {
    let api = app.api.clone();
    assert_eq!(api.get("/v1/subscribers").await.status, 200);
    app.stop().await.expect("run returns Ok after cancellation");
    let refused = reqwest::get(format!("{}/v1/health-check", api.base)).await;
    assert!(refused.is_err(), "the listener is closed: {refused:?}");
}
