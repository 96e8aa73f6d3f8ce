//! Helpers for `bench/run.sh`:
//!
//! - `herald-bench seed`: creates N subscribers (`sub-0` … `sub-{N-1}`) through Herald's API,
//!   `POST /v1/subscribers/bulk` in batches of at most 500 (each body under 100 KB), several
//!   batches in flight at once;
//! - `herald-bench free-port`: prints a TCP port on 127.0.0.1 that is free right now.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::{Parser, Subcommand};
use serde_json::{json, Value};

/// Herald's JSON body limit; seeding bodies must stay under it.
const BODY_LIMIT: usize = 100 * 1024;
/// Herald's (and Novu's) limit on `/v1/subscribers/bulk`.
const MAX_BATCH: usize = 500;

#[derive(Parser, Debug)]
#[command(
    name = "herald-bench",
    about = "Helpers for Herald's benchmark (bench/run.sh)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create subscribers sub-0 … sub-{count-1} through POST /v1/subscribers/bulk.
    Seed {
        /// Herald's base URL, e.g. http://127.0.0.1:3000
        #[arg(long)]
        url: String,
        /// API key (sent as `Authorization: ApiKey <key>`).
        #[arg(long, env = "HERALD_BENCH_KEY", hide_env_values = true)]
        key: String,
        /// Number of subscribers.
        #[arg(long, default_value_t = 10_000)]
        count: usize,
        /// Subscribers per bulk request (at most 500).
        #[arg(long, default_value_t = 500)]
        batch: usize,
        /// Bulk requests in flight at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Subscriber id prefix.
        #[arg(long, default_value = "sub-")]
        prefix: String,
    },
    /// Print a TCP port on 127.0.0.1 that is free right now.
    FreePort,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::FreePort => {
            let l = std::net::TcpListener::bind("127.0.0.1:0")?;
            println!("{}", l.local_addr()?.port());
            Ok(())
        }
        Command::Seed {
            url,
            key,
            count,
            batch,
            concurrency,
            prefix,
        } => seed(url, key, count, batch, concurrency, prefix).await,
    }
}

fn batch_body(prefix: &str, from: usize, to: usize) -> Vec<u8> {
    let subscribers: Vec<Value> = (from..to)
        .map(|i| {
            json!({
                "subscriberId": format!("{prefix}{i}"),
                "firstName": "Bench",
                "lastName": format!("User {i}"),
                "email": format!("{prefix}{i}@example.com"),
                "locale": "en",
            })
        })
        .collect();
    serde_json::to_vec(&json!({ "subscribers": subscribers })).expect("JSON")
}

async fn seed(
    url: String,
    key: String,
    count: usize,
    batch: usize,
    concurrency: usize,
    prefix: String,
) -> anyhow::Result<()> {
    ensure!(
        (1..=MAX_BATCH).contains(&batch),
        "--batch must be 1..={MAX_BATCH}"
    );
    ensure!(concurrency >= 1, "--concurrency must be at least 1");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let endpoint = format!("{}/v1/subscribers/bulk", url.trim_end_matches('/'));
    let auth = format!("ApiKey {key}");
    let batches = count.div_ceil(batch);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.min(batches.max(1)) {
        let (client, endpoint, auth, prefix) = (
            client.clone(),
            endpoint.clone(),
            auth.clone(),
            prefix.clone(),
        );
        let (next, done) = (next.clone(), done.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let b = next.fetch_add(1, Ordering::Relaxed);
                if b >= batches {
                    return anyhow::Ok(());
                }
                let (from, to) = (b * batch, ((b + 1) * batch).min(count));
                let body = batch_body(&prefix, from, to);
                ensure!(
                    body.len() < BODY_LIMIT,
                    "a bulk body of {} bytes would exceed Herald's limit",
                    body.len()
                );
                let res = client
                    .post(&endpoint)
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .with_context(|| format!("POST {endpoint} (batch {b})"))?;
                let status = res.status();
                let text = res.text().await.unwrap_or_default();
                if status.as_u16() != 201 {
                    bail!("batch {b}: HTTP {status}: {text}");
                }
                let v: Value = serde_json::from_str(&text).context("bulk response is not JSON")?;
                let data = v.get("data").unwrap_or(&v);
                let n = |k: &str| data.get(k).and_then(Value::as_array).map_or(0, Vec::len);
                ensure!(
                    n("failed") == 0 && n("created") + n("updated") == to - from,
                    "batch {b}: unexpected bulk response: {text}"
                );
                let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                if d % 200 == 0 {
                    eprintln!(
                        "  seeded {}/{count} subscribers ({:.0}/s)",
                        (d * batch).min(count),
                        (d * batch) as f64 / started.elapsed().as_secs_f64()
                    );
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "seeded {count} subscribers in {secs:.1} s ({:.0} subscribers/s, {batches} bulk requests, {concurrency} in flight)",
        count as f64 / secs
    );
    Ok(())
}
