//! Operating Herald: the Prometheus metrics on their own listener, readiness (`GET /readyz`) and
//! per-API-key rate limits, on both backends.

use std::num::NonZeroU32;
use std::time::Duration;

use herald::http::rate_limit::{RateLimit, RateLimitSettings};
use herald::ServerSettings;
use serde_json::json;

use crate::delivery::{chat_step, integration, subscriber_with, trigger, workflow};
use crate::helpers::{delivery_settings, Backend, TestApp, API_KEY};
use crate::receiver::{Answer, Receiver};

/// Like `backend_tests!`, for cases that start their own apps (with settings of their own): each
/// gets the backend, and returns early when [`spawn`] finds PostgreSQL unavailable.
macro_rules! backend_cases {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$case($crate::helpers::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$case($crate::helpers::Backend::Postgres).await;
                }
            }
        )*
    };
}

backend_cases!(
    metrics_count_requests_by_route_template_and_never_by_raw_path,
    metrics_count_claims_runs_and_provider_calls_by_provider_and_outcome,
    readiness_is_ready_while_the_database_answers_and_not_once_it_is_closed,
    readiness_reports_whether_the_worker_loop_is_alive,
    a_key_over_its_rate_limit_gets_novus_429_with_retry_after_and_other_keys_do_not,
    event_routes_count_against_their_own_limit,
);

/// An app with these settings (the worker off unless `delivery` says otherwise), its metrics on
/// a listener of their own when `metrics`. `None` when the backend is unavailable.
async fn spawn(backend: Backend, settings: ServerSettings, metrics: bool) -> Option<TestApp> {
    TestApp::spawn_with(backend, settings, metrics).await
}

fn settings() -> ServerSettings {
    ServerSettings {
        delivery: delivery_settings(false),
        ..ServerSettings::default()
    }
}

/// The text of `GET /metrics` on the app's metrics listener.
async fn scrape(app: &TestApp) -> String {
    let base = app.metrics_base.as_ref().expect("spawned with metrics");
    let res = reqwest::get(format!("{base}/metrics"))
        .await
        .expect("the metrics listener answers");
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    res.text().await.expect("a body")
}

/// The value of the sample `series` (name and labels exactly as exposed), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.parse().expect("a number"))
}

async fn metrics_count_requests_by_route_template_and_never_by_raw_path(backend: Backend) {
    let Some(app) = spawn(backend, settings(), true).await else {
        return;
    };
    assert_eq!(
        app.get("/v1/subscribers/secret-subscriber-id").await.status,
        404
    );
    assert_eq!(app.get("/v1/subscribers/another-id").await.status, 404);
    app.create_subscriber(json!({"subscriberId": "subscriber-91c2"}))
        .await;
    assert_eq!(app.get("/v1/no-such-route/xyz").await.status, 404);
    assert_eq!(app.anonymous().get("/v1/health-check").await.status, 200);
    // The API listener does not serve the metrics.
    app.get("/metrics")
        .await
        .assert_not_found("Cannot GET /metrics");

    let text = scrape(&app).await;
    let route = "route=\"/v1/subscribers/{subscriberId}\"";
    assert_eq!(
        sample(
            &text,
            &format!("herald_http_requests_total{{method=\"GET\",{route},status=\"404\"}}")
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "herald_http_requests_total{method=\"POST\",route=\"/v1/subscribers\",status=\"201\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "herald_http_requests_total{method=\"GET\",route=\"unmatched\",status=\"404\"}"
        ),
        Some(2.0),
        "the unknown route and /metrics: {text}"
    );
    assert_eq!(
        sample(
            &text,
            &format!("herald_http_request_duration_seconds_count{{method=\"GET\",{route}}}")
        ),
        Some(2.0),
        "{text}"
    );
    // Store calls made by those requests, by operation and kind.
    assert!(
        sample(&text, "herald_store_operation_duration_seconds_count{operation=\"authenticate\",kind=\"read\"}")
            .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "herald_store_operation_duration_seconds_count{operation=\"get_subscriber\",kind=\"read\"}"),
        Some(2.0),
        "{text}"
    );
    assert!(
        text.contains("operation=\"upsert_subscriber_with_channels\",kind=\"write\""),
        "{text}"
    );
    // Nothing a client sent ends up in a label.
    for secret in [
        "secret-subscriber-id",
        "another-id",
        "no-such-route",
        "subscriber-91c2",
        API_KEY,
    ] {
        assert!(!text.contains(secret), "{secret} leaked into:\n{text}");
    }
    // The queue gauges are read at scrape time: nothing is due.
    assert_eq!(
        sample(&text, "herald_delivery_queue_lag_seconds"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "herald_delivery_fan_out_pending"),
        Some(0.0),
        "{text}"
    );
    // The metrics listener serves nothing else.
    let base = app.metrics_base.as_ref().unwrap();
    let other = reqwest::get(format!("{base}/v1/health-check"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

async fn metrics_count_claims_runs_and_provider_calls_by_provider_and_outcome(backend: Backend) {
    let Some(app) = spawn(backend, settings(), true).await else {
        return;
    };
    let rx = Receiver::start().await;
    integration(&app, "slack", "chat", json!({})).await;
    subscriber_with(
        &app,
        "ada",
        "slack",
        json!({"webhookUrl": rx.url("/slack/ada")}),
    )
    .await;
    subscriber_with(
        &app,
        "bob",
        "slack",
        json!({"webhookUrl": rx.url("/slack/bob")}),
    )
    .await;
    rx.script("/slack/bob", (0..3).map(|_| Answer::new(500, "boom")));
    workflow(&app, "ping", json!([chat_step("hello")])).await;
    trigger(&app, json!({"name": "ping", "to": ["ada", "bob"]})).await;
    // The app's own worker is off; this one is wired as the server wires its own: over the
    // store timed into the server's metrics, counting into them.
    let store = herald::metrics::MeteredStore::wrap(app.store.clone(), app.metrics.clone());
    let worker = herald::delivery::worker(store, &delivery_settings(true), Default::default())
        .expect("a worker")
        .with_metrics(app.metrics.clone());
    let drained = worker.run_until_idle().await;
    // ada once; bob three times (two retries, then the attempts are used up).
    assert_eq!(drained.jobs, 4);

    let text = scrape(&app).await;
    for (series, value) in [
        ("herald_delivery_jobs_claimed_total", 4.0),
        ("herald_delivery_job_runs_total{result=\"completed\"}", 1.0),
        ("herald_delivery_job_runs_total{result=\"retried\"}", 2.0),
        ("herald_delivery_job_runs_total{result=\"failed\"}", 1.0),
        (
            "herald_delivery_attempts_total{provider=\"slack\",outcome=\"delivered\"}",
            1.0,
        ),
        (
            "herald_delivery_attempts_total{provider=\"slack\",outcome=\"retry\"}",
            3.0,
        ),
        ("herald_delivery_jobs_in_flight", 0.0),
        ("herald_delivery_queue_lag_seconds", 0.0),
    ] {
        assert_eq!(sample(&text, series), Some(value), "{series} in:\n{text}");
    }
    assert!(
        text.contains("operation=\"claim_due_jobs\",kind=\"write\"")
            && text.contains("operation=\"record_job_run\",kind=\"write\""),
        "the worker's store calls are timed too: {text}"
    );
}

async fn readiness_is_ready_while_the_database_answers_and_not_once_it_is_closed(backend: Backend) {
    let Some(app) = spawn(backend, settings(), false).await else {
        return;
    };
    let anonymous = app.anonymous();
    let ready = anonymous.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(
        ready.body,
        json!({"status": "ready", "checks": {"database": "ok", "worker": "disabled"}})
    );
    app.store.close().await;
    let down = anonymous.get("/readyz").await;
    assert_eq!(down.status, 503, "{}", down.text);
    assert_eq!(
        down.body,
        json!({"status": "not_ready", "checks": {"database": "unavailable", "worker": "disabled"}})
    );
    // Liveness checks nothing and stays Novu's.
    assert_eq!(
        anonymous.get("/v1/health-check").await.data(),
        &json!({"status": "ok"})
    );
}

async fn readiness_reports_whether_the_worker_loop_is_alive(backend: Backend) {
    let running = ServerSettings {
        delivery: delivery_settings(true),
        ..ServerSettings::default()
    };
    let Some(running) = spawn(backend, running, true).await else {
        return;
    };
    let ok = running.anonymous().get("/readyz").await;
    assert_eq!(
        (ok.status, &ok.body),
        (
            200,
            &json!({"status": "ready", "checks": {"database": "ok", "worker": "ok"}})
        ),
        "{}",
        ok.text
    );
    // The server's own worker claims through the timed store: its first round shows.
    let claims = "herald_store_operation_duration_seconds_count{operation=\"claim_due_jobs\",kind=\"write\"}";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while sample(&scrape(&running).await, claims).is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never claimed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // …unless it has not come round within its stall timeout (zero here: never in time).
    let mut settings = delivery_settings(true);
    settings.worker.stall_timeout = Duration::ZERO;
    let stalled = ServerSettings {
        delivery: settings,
        ..ServerSettings::default()
    };
    let stalled = spawn(backend, stalled, false).await.expect("available");
    let res = stalled.anonymous().get("/readyz").await;
    assert_eq!(
        (res.status, &res.body),
        (
            503,
            &json!({"status": "not_ready", "checks": {"database": "ok", "worker": "stalled"}})
        ),
        "{}",
        res.text
    );
}

fn hourly(burst: u32) -> RateLimit {
    // One request an hour: nothing refills while a test runs, so counts are exact.
    RateLimit {
        period: Duration::from_secs(3600),
        burst: NonZeroU32::new(burst).unwrap(),
    }
}

async fn limited(backend: Backend, limits: RateLimitSettings) -> Option<TestApp> {
    let settings = ServerSettings {
        rate_limits: limits,
        ..settings()
    };
    spawn(backend, settings, false).await
}

fn header<'a>(res: &'a crate::helpers::TestResponse, name: &str) -> Option<&'a str> {
    res.headers.get(name).map(|v| v.to_str().expect("ASCII"))
}

async fn a_key_over_its_rate_limit_gets_novus_429_with_retry_after_and_other_keys_do_not(
    backend: Backend,
) {
    let Some(unlimited) = spawn(backend, settings(), false).await else {
        return;
    };
    // Off by default: no headers.
    let res = unlimited.get("/v1/subscribers").await;
    assert_eq!(res.status, 200);
    assert_eq!(header(&res, "ratelimit-limit"), None);

    let general = RateLimitSettings {
        general: Some(hourly(2)),
        trigger: None,
    };
    let app = limited(backend, general).await.expect("available");
    for (remaining, reset) in [("1", "3600"), ("0", "7200")] {
        let res = app.get("/v1/subscribers").await;
        assert_eq!(res.status, 200, "{}", res.text);
        assert_eq!(header(&res, "ratelimit-limit"), Some("2"));
        assert_eq!(header(&res, "ratelimit-remaining"), Some(remaining));
        assert_eq!(header(&res, "ratelimit-reset"), Some(reset));
        assert_eq!(header(&res, "retry-after"), None);
    }
    // Any route of the key counts; the third request is refused before its handler runs.
    let refused = app
        .post("/v1/subscribers", json!({"subscriberId": "never-created"}))
        .await;
    refused.assert_error(
        429,
        json!("API rate limit exceeded"),
        Some("Too Many Requests"),
    );
    assert_eq!(refused.body["path"], "/v1/subscribers");
    let retry_after: u64 = header(&refused, "retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    // An hour from the first request, in whole seconds rounded up.
    assert!((3590..=3600).contains(&retry_after), "{retry_after}");
    assert_eq!(header(&refused, "ratelimit-limit"), Some("2"));
    assert_eq!(header(&refused, "ratelimit-remaining"), Some("0"));
    let reset: u64 = header(&refused, "ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        reset,
        retry_after + 3600,
        "the whole bucket refills an hour later"
    );
    assert!(app
        .store
        .get_subscriber(&env_of(&app).await, "never-created")
        .await
        .unwrap()
        .is_none());

    // Another key has its own bucket.
    let production = app.with_key(&app.production_key);
    let res = production.get("/v1/subscribers").await;
    assert_eq!(res.status, 200);
    assert_eq!(header(&res, "ratelimit-remaining"), Some("1"));
    // Requests without a valid key are not counted, and keyless routes not limited.
    let anonymous = app.anonymous();
    for _ in 0..3 {
        let res = anonymous.get("/v1/subscribers").await;
        assert_eq!(res.status, 401);
        assert_eq!(header(&res, "ratelimit-limit"), None);
        let res = app.with_key("not-a-key").get("/v1/subscribers").await;
        assert_eq!(res.status, 401);
        assert_eq!(anonymous.get("/v1/health-check").await.status, 200);
        assert_eq!(anonymous.get("/readyz").await.status, 200);
    }
}

async fn event_routes_count_against_their_own_limit(backend: Backend) {
    let limits = RateLimitSettings {
        general: Some(hourly(1)),
        trigger: Some(hourly(2)),
    };
    let Some(app) = limited(backend, limits).await else {
        return;
    };
    let trigger_once = || {
        app.post(
            "/v1/events/trigger",
            json!({"name": "nothing", "to": "ada"}),
        )
    };
    for remaining in ["1", "0"] {
        let res = trigger_once().await;
        assert_ne!(res.status, 429, "{}", res.text);
        assert_eq!(header(&res, "ratelimit-limit"), Some("2"));
        assert_eq!(header(&res, "ratelimit-remaining"), Some(remaining));
    }
    trigger_once().await.assert_error(
        429,
        json!("API rate limit exceeded"),
        Some("Too Many Requests"),
    );
    let cancel = app.delete("/v1/events/trigger/some-transaction").await;
    assert_eq!(
        cancel.status, 429,
        "cancel is an event route too: {}",
        cancel.text
    );
    // The other routes have their own bucket, untouched by the triggers.
    let res = app.get("/v1/subscribers").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(header(&res, "ratelimit-limit"), Some("1"));
    assert_eq!(app.get("/v1/subscribers").await.status, 429);
}

async fn env_of(app: &TestApp) -> herald_core::ObjectId {
    app.store
        .list_environments()
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.name == "Development")
        .expect("Development")
        .id
}
