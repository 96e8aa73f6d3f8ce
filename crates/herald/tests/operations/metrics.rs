//! The operations settings of the real binary: `--metrics-bind` serves the metrics (with the
//! SQLite writer's group commits reported into them), `--rate-limit` limits each key, and
//! `/readyz` sees the worker the binary runs by default. The in-process behaviour is tested in
//! `tests/api/operations.rs`; this checks that `main` wires the flags.

use serde_json::json;
use tokio::task::JoinSet;

use crate::support::{Backend, Database, HeraldProcess};

both_backends!(the_binary_serves_metrics_readiness_and_rate_limits_as_configured);

/// The metrics listener's address, from its log line (logged before "Herald is serving").
fn metrics_address(log: &str) -> String {
    log.lines()
        .find(|l| l.contains("serving metrics at /metrics"))
        .and_then(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("address="))
        })
        .unwrap_or_else(|| panic!("no metrics address in the log:\n{log}"))
        .to_string()
}

async fn the_binary_serves_metrics_readiness_and_rate_limits_as_configured(backend: Backend) {
    let Some(db) = Database::fresh(backend).await else {
        return;
    };
    let herald = HeraldProcess::start(
        &db,
        &["--metrics-bind", "127.0.0.1:0", "--rate-limit", "1000"],
    )
    .await;
    let ready = herald.api.get("/readyz").await;
    assert_eq!(
        (ready.status, &ready.body),
        (
            200,
            &json!({"status": "ready", "checks": {"database": "ok", "worker": "ok"}})
        ),
        "{}",
        ready.brief()
    );
    let mut writes = JoinSet::new();
    for i in 0..8 {
        let api = herald.api.clone();
        writes.spawn(async move {
            api.post("/v1/subscribers", json!({"subscriberId": format!("s{i}")}))
                .await
        });
    }
    while let Some(res) = writes.join_next().await {
        let res = res.expect("a write task");
        assert_eq!(res.status, 201, "{}", res.brief());
        assert_eq!(
            res.headers["ratelimit-limit"], "1000",
            "one second's worth of burst"
        );
    }

    let address = metrics_address(&herald.log());
    let text = reqwest::get(format!("http://{address}/metrics"))
        .await
        .expect("the metrics listener answers")
        .text()
        .await
        .expect("a body");
    assert!(
        text.contains(
            "herald_http_requests_total{method=\"POST\",route=\"/v1/subscribers\",status=\"201\"} 8\n"
        ),
        "{text}"
    );
    let batched_jobs = text
        .lines()
        .find_map(|l| l.strip_prefix("herald_sqlite_write_batch_jobs_sum "))
        .map(|n| n.parse::<f64>().expect("a number"));
    match backend {
        // The eight writes at least (the worker and the bootstrap write too), in however many
        // batches the writer made of them.
        Backend::Sqlite => assert!(batched_jobs.is_some_and(|n| n >= 8.0), "{text}"),
        Backend::Postgres => assert_eq!(batched_jobs, Some(0.0), "{text}"),
    }
    let (_, clean) = herald.terminate().await;
    assert!(clean, "herald exits 0 on SIGTERM");
}
