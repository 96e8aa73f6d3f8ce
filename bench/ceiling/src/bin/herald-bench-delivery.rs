//! The delivery benchmark (issues 11 and 13): triggers and fan-out near the machine's limit.
//!
//! Starts a **sink** in this process (an axum server on loopback that answers every POST as fast
//! as it can, counting each with its arrival time; in `/token` + `messages:send` it is also a fake
//! FCM), measures the sink's own ceiling with wrk, then starts Herald (release binary, fresh
//! database) with the outbound policy allowing loopback and the FCM endpoint pointing at the sink,
//! and runs:
//!
//! - `trigger`: wrk drives `POST /v1/events/trigger` to one random subscriber of a seeded set
//!   (every 201 is a durable event whose chat message the worker delivers to the sink meanwhile),
//!   beside the same load against the ceiling server's fixed-answer trigger route;
//! - `fanout`: one trigger to a topic of N subscribers, one chat step to the sink: the 201's latency,
//!   the first delivery after it, deliveries per second until the last, Herald's peak RSS;
//! - `push`: one trigger to a topic of M subscribers with two device tokens each, through the fake
//!   FCM (OAuth token + one request per token).
//!
//! Prints one Markdown table per scenario (and writes them to `--out`). Loopback only; every
//! process it starts is killed on exit.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use clap::Parser;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

#[derive(Parser, Debug)]
#[command(
    name = "herald-bench-delivery",
    about = "Herald's delivery benchmark (see bench/README.md)"
)]
struct Cli {
    /// The Herald binary (release build).
    #[arg(long, default_value = "target/release/herald")]
    herald: PathBuf,
    /// The ceiling server binary.
    #[arg(long, default_value = "target/release/herald-ceiling")]
    ceiling: PathBuf,
    /// Scenarios to run: trigger, fanout, push (comma-separated).
    #[arg(long, default_value = "trigger,fanout,push")]
    scenarios: String,
    /// Subscribers the trigger scenario picks from.
    #[arg(long, default_value_t = 1000)]
    trigger_subscribers: usize,
    /// Subscribers in the fan-out scenario's topic.
    #[arg(long, default_value_t = 100_000)]
    fanout_subscribers: usize,
    /// Subscribers (two device tokens each) in the push scenario's topic.
    #[arg(long, default_value_t = 10_000)]
    push_subscribers: usize,
    /// Seconds per wrk run.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// wrk connections.
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// A PostgreSQL database URL to run on instead of a fresh SQLite file (it must be empty).
    #[arg(long)]
    database_url: Option<String>,
    /// Where to write the Markdown results.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The wrk scripts' directory.
    #[arg(long, default_value = "bench/wrk")]
    wrk_dir: PathBuf,
}

const KEY: &str = "bench-delivery-key-0f3a9c2e";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// What the sink has received.
#[derive(Default)]
struct Sink {
    count: AtomicU64,
    first_ms: AtomicU64,
    last_ms: AtomicU64,
}

impl Sink {
    fn hit(&self) {
        let t = now_ms();
        let _ = self
            .first_ms
            .compare_exchange(0, t, Ordering::SeqCst, Ordering::SeqCst);
        self.last_ms.fetch_max(t, Ordering::SeqCst);
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    fn reset(&self) {
        self.count.store(0, Ordering::SeqCst);
        self.first_ms.store(0, Ordering::SeqCst);
        self.last_ms.store(0, Ordering::SeqCst);
    }
}

async fn start_sink() -> anyhow::Result<(String, Arc<Sink>)> {
    let sink = Arc::new(Sink::default());
    let app = Router::new()
        .route(
            "/token",
            post(|| async {
                axum::Json(
                    json!({"access_token": "bench", "expires_in": 3600, "token_type": "Bearer"}),
                )
            }),
        )
        .route(
            "/v1/projects/bench/messages:send",
            post(
                |State(s): State<Arc<Sink>>, _body: axum::body::Bytes| async move {
                    s.hit();
                    axum::Json(json!({"name": "projects/bench/messages/1"}))
                },
            ),
        )
        .fallback(
            |State(s): State<Arc<Sink>>, _body: axum::body::Bytes| async move {
                s.hit();
                "ok"
            },
        )
        .with_state(sink.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((base, sink))
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

struct Herald {
    child: Child,
    base: String,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A temporary directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

async fn start_herald(cli: &Cli, sink: &str) -> anyhow::Result<Herald> {
    let dir = std::env::temp_dir().join(format!("herald-bench-delivery-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let url = match &cli.database_url {
        Some(u) => u.clone(),
        None => format!("sqlite://{}", dir.join("herald.db").display()),
    };
    let port = free_port()?;
    let mut cmd = Command::new(&cli.herald);
    cmd.args([
        "--bind",
        &format!("127.0.0.1:{port}"),
        "--database-url",
        &url,
    ])
    .args([
        "--api-key",
        KEY,
        "--outbound-allow",
        "127.0.0.1",
        "--log",
        "warn",
    ])
    .env("HERALD_PROVIDER_ENDPOINT_FCM", sink)
    .env(
        "HERALD_SECRET_KEY",
        "c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=",
    )
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::inherit())
    .kill_on_drop(true);
    let child = cmd.spawn().context("starting herald")?;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(r) = client.get(format!("{base}/v1/health-check")).send().await {
            if r.status().is_success() {
                return Ok(Herald {
                    child,
                    base,
                    _dir: tempdir::Dir(dir),
                });
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("herald did not start")
}

impl Herald {
    fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }

    /// Peak resident set since start (or since the last reset), in MB.
    fn peak_rss_mb(&self) -> f64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    }

    fn reset_peak(&self) {
        let _ = std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5");
    }
}

struct Api {
    client: reqwest::Client,
    base: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header("authorization", format!("ApiKey {KEY}"))
            .json(&body)
            .send()
            .await?;
        let status = res.status().as_u16();
        let body = res.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    async fn ok(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let (status, v) = self.post(path, body).await?;
        if !(200..300).contains(&status) {
            bail!("{path}: {status} {v}");
        }
        Ok(v)
    }
}

/// Subscribers `{prefix}{i}` for `i` in `range`, each with `channel` (JSON of one channel), added to
/// topic `topic` when given, 500 per request.
async fn seed(
    api: &Api,
    prefix: &str,
    n: usize,
    channel: impl Fn(usize) -> Value,
    topic: Option<&str>,
) -> anyhow::Result<()> {
    let ids: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
    for (c, chunk) in ids.chunks(500).enumerate() {
        let subscribers: Vec<Value> = chunk
            .iter()
            .enumerate()
            .map(|(k, id)| json!({"subscriberId": id, "channels": [channel(c * 500 + k)]}))
            .collect();
        api.ok("/v1/subscribers/bulk", json!({"subscribers": subscribers}))
            .await?;
        if let Some(t) = topic {
            api.ok(
                &format!("/v1/topics/{t}/subscribers"),
                json!({"subscribers": chunk}),
            )
            .await?;
        }
    }
    Ok(())
}

/// Runs wrk and returns (requests/s, p99 ms) from its `--latency` output.
async fn wrk(cli: &Cli, script: &str, url: &str, args: &[String]) -> anyhow::Result<(f64, f64)> {
    let out = Command::new("wrk")
        .args([
            "-t2",
            &format!("-c{}", cli.connections),
            &format!("-d{}s", cli.duration),
        ])
        .arg("--latency")
        .args(["-s", &cli.wrk_dir.join(script).display().to_string()])
        .arg(url)
        .arg("--")
        .args(args)
        .output()
        .await
        .context("running wrk (apt-get install wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rps = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    let p99 = text
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(parse_latency)
        .unwrap_or(f64::NAN);
    if text.contains("Non-2xx") {
        eprintln!("bench: wrk saw non-2xx answers:\n{text}");
    }
    Ok((rps, p99))
}

/// wrk's `1.23ms` / `456.00us` / `1.20s` as milliseconds.
fn parse_latency(s: &str) -> f64 {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_alphabetic()).unwrap_or(s.len()));
    let v: f64 = num.parse().unwrap_or(f64::NAN);
    match unit {
        "us" => v / 1000.0,
        "ms" => v,
        "s" => v * 1000.0,
        _ => f64::NAN,
    }
}

/// Waits (bounded) until the sink has `n` requests; returns (first, last) arrival in ms.
async fn until_sink(sink: &Sink, n: u64, limit: Duration) -> anyhow::Result<(u64, u64)> {
    let start = Instant::now();
    while sink.count.load(Ordering::SeqCst) < n {
        if start.elapsed() > limit {
            bail!(
                "the sink got {} of {n} deliveries in {limit:?}",
                sink.count.load(Ordering::SeqCst)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok((
        sink.first_ms.load(Ordering::SeqCst),
        sink.last_ms.load(Ordering::SeqCst),
    ))
}

async fn chat_workflow(api: &Api, id: &str) -> anyhow::Result<()> {
    api.ok(
        "/v2/workflows",
        json!({"name": id, "workflowId": id, "active": true,
               "steps": [{"name": "chat", "type": "chat", "controlValues": {"body": "Hello {{subscriber.subscriberId}}"}}]}),
    )
    .await
    .map(|_| ())
}

/// One trigger to a topic of `n` recipients, `deliveries` expected at the sink.
async fn topic_run(
    api: &Api,
    herald: &Herald,
    sink: &Sink,
    workflow: &str,
    topic: &str,
    deliveries: u64,
) -> anyhow::Result<String> {
    sink.reset();
    herald.reset_peak();
    let started = Instant::now();
    let v = api
        .ok(
            "/v1/events/trigger",
            json!({"name": workflow, "to": [{"type": "Topic", "topicKey": topic}]}),
        )
        .await?;
    let answered = started.elapsed();
    let t201 = now_ms();
    if v["data"]["status"] != "processed" {
        bail!("trigger answered {v}");
    }
    let (first, last) = until_sink(sink, deliveries, Duration::from_secs(1800)).await?;
    let span = (last.saturating_sub(t201)).max(1) as f64 / 1000.0;
    Ok(format!(
        "| the 201 | {:.1} ms |\n| first delivery after the 201 | {} ms |\n| all {deliveries} delivered after | {:.1} s |\n| deliveries/s | {:.0} |\n| Herald's peak RSS | {:.1} MB |\n",
        answered.as_secs_f64() * 1000.0,
        first.saturating_sub(t201),
        span,
        deliveries as f64 / span,
        herald.peak_rss_mb(),
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let scenarios: Vec<&str> = cli.scenarios.split(',').map(str::trim).collect();
    let (sink_base, sink) = start_sink().await?;
    let mut report = String::from("# Delivery benchmark\n\n");
    // The sink's own ceiling: what this machine's loopback, HTTP stack and wrk do for one POST.
    let (sink_rps, _) = wrk(&cli, "sink.lua", &format!("{sink_base}/hook"), &[]).await?;
    report.push_str(&format!(
        "Sink ceiling (wrk POST to the sink, {} connections): **{sink_rps:.0} req/s**\n\n",
        cli.connections
    ));
    sink.reset();

    let herald = start_herald(&cli, &sink_base).await?;
    let api = Api {
        client: reqwest::Client::new(),
        base: herald.base.clone(),
    };
    api.ok(
        "/v1/integrations",
        json!({"providerId": "slack", "channel": "chat", "active": true}),
    )
    .await?;

    if scenarios.contains(&"trigger") {
        let n = cli.trigger_subscribers;
        let hook = format!("{sink_base}/hook");
        seed(
            &api,
            "t-",
            n,
            |_| json!({"providerId": "slack", "credentials": {"webhookUrl": hook}}),
            None,
        )
        .await?;
        chat_workflow(&api, "bench-trigger").await?;
        let args = vec![n.to_string(), KEY.to_string()];
        let (rps, p99) = wrk(
            &cli,
            "trigger.lua",
            &format!("{}/v1/events/trigger", herald.base),
            &args,
        )
        .await?;
        // The ceiling server's fixed-answer trigger route.
        let port = free_port()?;
        let mut ceiling = Command::new(&cli.ceiling)
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting the ceiling server")?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let (c_rps, c_p99) = wrk(
            &cli,
            "trigger.lua",
            &format!("http://127.0.0.1:{port}/v1/events/trigger"),
            &args,
        )
        .await?;
        let _ = ceiling.kill().await;
        report.push_str(&format!(
            "## Trigger to one subscriber (durable 201)\n\n| | req/s | p99 |\n|---|---|---|\n| Herald | {rps:.0} | {p99:.2} ms |\n| ceiling | {c_rps:.0} | {c_p99:.2} ms |\n| ratio | {:.2}× | |\n\n",
            rps / c_rps
        ));
    }
    if scenarios.contains(&"fanout") {
        let n = cli.fanout_subscribers;
        let hook = format!("{sink_base}/hook");
        let t = Instant::now();
        seed(
            &api,
            "f-",
            n,
            |_| json!({"providerId": "slack", "credentials": {"webhookUrl": hook}}),
            Some("fanout"),
        )
        .await?;
        eprintln!("bench: seeded {n} subscribers in {:?}", t.elapsed());
        chat_workflow(&api, "bench-fanout").await?;
        let rows = topic_run(&api, &herald, &sink, "bench-fanout", "fanout", n as u64).await?;
        report.push_str(&format!(
            "## Trigger to a topic of {n} subscribers, one chat step to the sink\n\n| | |\n|---|---|\n{rows}| sink ceiling | {sink_rps:.0} req/s |\n\n"
        ));
    }
    if scenarios.contains(&"push") {
        let n = cli.push_subscribers;
        let account = json!({"type": "service_account", "project_id": "bench", "private_key_id": "k",
            "private_key": include_str!("../../../../crates/herald-providers/tests/providers/keys/test-only-rsa.pem"),
            "client_email": "bench@bench.iam.gserviceaccount.com", "token_uri": format!("{sink_base}/token")});
        api.ok(
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "active": true,
                   "credentials": {"serviceAccount": account.to_string()}}),
        )
        .await?;
        seed(&api, "p-", n, |i| json!({"providerId": "fcm", "credentials": {"deviceTokens": [format!("a-{i}"), format!("b-{i}")]}}), Some("push")).await?;
        api.ok(
            "/v2/workflows",
            json!({"name": "bench-push", "workflowId": "bench-push", "active": true,
                   "steps": [{"name": "push", "type": "push", "controlValues": {"subject": "t", "body": "b"}}]}),
        )
        .await?;
        let rows = topic_run(&api, &herald, &sink, "bench-push", "push", 2 * n as u64).await?;
        report.push_str(&format!(
            "## Push to a topic of {n} subscribers with 2 device tokens each, through a fake FCM\n\n| | |\n|---|---|\n{rows}| sink ceiling | {sink_rps:.0} req/s |\n\n"
        ));
    }
    print!("{report}");
    if let Some(out) = &cli.out {
        std::fs::write(out, &report)?;
    }
    Ok(())
}
