//! The benchmark's ceiling server: the routes and methods the wrk scenarios hit, answered with a
//! fixed JSON body of a configured size. No auth, no database, no validation: it measures what
//! axum + tokio + the loopback + wrk can do on this machine, so Herald's numbers can be read as a
//! fraction of that.
//!
//! The body size of each scenario can be changed at run time (`PUT /__ceiling/body/{scenario}/{bytes}`)
//! so that `bench/run.sh` can match Herald's average response size scenario by scenario without
//! restarting this process.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::Router;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "herald-ceiling",
    about = "Ceiling server for Herald's benchmark: same routes, fixed JSON bodies, no auth, no database"
)]
struct Cli {
    /// Address to listen on (the benchmark uses loopback only).
    #[arg(long, default_value = "127.0.0.1:3900")]
    bind: SocketAddr,
    /// Initial body size in bytes of `PUT /v1/subscribers/{id}/credentials`.
    #[arg(long, default_value_t = 700)]
    put_bytes: usize,
    /// Initial body size in bytes of `PATCH /v1/subscribers/{id}/credentials`.
    #[arg(long, default_value_t = 700)]
    patch_bytes: usize,
    /// Initial body size in bytes of `GET /v1/subscribers/{id}`.
    #[arg(long, default_value_t = 700)]
    get_bytes: usize,
}

#[derive(Clone)]
struct Bodies {
    put: Arc<RwLock<Bytes>>,
    patch: Arc<RwLock<Bytes>>,
    get: Arc<RwLock<Bytes>>,
}

/// A JSON document of exactly `size` bytes (or the smallest valid one when `size` is tiny), shaped
/// like Herald's `{"data": {...}}` envelope.
fn body_of(size: usize) -> Bytes {
    let head = r#"{"data":{"_id":"000000000000000000000000","subscriberId":"sub-0","padding":""#;
    let tail = r#""}}"#;
    let pad = size.saturating_sub(head.len() + tail.len());
    let mut s = String::with_capacity(head.len() + pad + tail.len());
    s.push_str(head);
    s.extend(std::iter::repeat_n('x', pad));
    s.push_str(tail);
    Bytes::from(s)
}

fn json(body: Bytes) -> Response {
    let mut res = (StatusCode::OK, body).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

fn current(slot: &RwLock<Bytes>) -> Bytes {
    slot.read().unwrap_or_else(|e| e.into_inner()).clone()
}

// The handlers take the path parameter and read the whole request body, as Herald's must.
async fn put_credentials(
    State(b): State<Bodies>,
    Path(_id): Path<String>,
    _body: Bytes,
) -> Response {
    json(current(&b.put))
}

async fn patch_credentials(
    State(b): State<Bodies>,
    Path(_id): Path<String>,
    _body: Bytes,
) -> Response {
    json(current(&b.patch))
}

async fn get_subscriber(State(b): State<Bodies>, Path(_id): Path<String>) -> Response {
    json(current(&b.get))
}

/// `POST /v1/events/trigger`: the answer a trigger gets, fixed.
async fn trigger(_body: Bytes) -> Response {
    let mut res = json(Bytes::from_static(
        br#"{"data":{"acknowledged":true,"status":"processed","transactionId":"00000000-0000-4000-8000-000000000000"}}"#,
    ));
    *res.status_mut() = StatusCode::CREATED;
    res
}

async fn health() -> Response {
    json(Bytes::from_static(br#"{"data":{"status":"ok"}}"#))
}

/// `PUT /__ceiling/body/{put|patch|get}/{bytes}`: change a scenario's body size.
async fn set_body(
    State(b): State<Bodies>,
    Path((scenario, bytes)): Path<(String, usize)>,
) -> Response {
    let slot = match scenario.as_str() {
        "put" => &b.put,
        "patch" => &b.patch,
        "get" => &b.get,
        _ => return (StatusCode::NOT_FOUND, "unknown scenario").into_response(),
    };
    let body = body_of(bytes);
    let len = body.len();
    *slot.write().unwrap_or_else(|e| e.into_inner()) = body;
    (StatusCode::OK, format!("{scenario} {len}\n")).into_response()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let bodies = Bodies {
        put: Arc::new(RwLock::new(body_of(cli.put_bytes))),
        patch: Arc::new(RwLock::new(body_of(cli.patch_bytes))),
        get: Arc::new(RwLock::new(body_of(cli.get_bytes))),
    };
    let app = Router::new()
        .route(
            "/v1/subscribers/{subscriber_id}/credentials",
            put(put_credentials).patch(patch_credentials),
        )
        .route("/v1/subscribers/{subscriber_id}", get(get_subscriber))
        .route("/v1/health-check", get(health))
        .route("/v1/events/trigger", axum::routing::post(trigger))
        .route("/__ceiling/body/{scenario}/{bytes}", put(set_body))
        .with_state(bodies);
    let listener = tokio::net::TcpListener::bind(cli.bind).await?;
    eprintln!("herald-ceiling listening on {}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::body_of;

    #[test]
    fn bodies_have_the_requested_size_and_are_json() {
        for size in [0, 10, 100, 700, 5000] {
            let b = body_of(size);
            let v: serde_json::Value = serde_json::from_slice(&b).expect("valid JSON");
            assert!(v["data"].is_object());
            if size >= 100 {
                assert_eq!(b.len(), size);
            }
        }
    }
}
