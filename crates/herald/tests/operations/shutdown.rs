//! A clean shutdown, through the real binary: SIGTERM while a request's body is still arriving
//! lets that request finish (its answer arrives whole, the connection closes in order, nothing
//! is reset), the delivery worker stops, the store is closed (SQLite checkpointed), and the
//! process exits 0 with the write kept. SIGINT (Ctrl-C) does the same.

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::raw::{read_response, BOUND};
use crate::support::{encode, Backend, Database, HeraldProcess, DEV_KEY};

both_backends!(a_request_in_flight_at_sigterm_is_answered_and_herald_exits_0);

/// Requests are logged as they start (tower-http at DEBUG), so a test knows one is in flight.
const FLAGS: &[&str] = &["--log", "info,tower_http=debug"];

async fn a_request_in_flight_at_sigterm_is_answered_and_herald_exits_0(backend: Backend) {
    let Some(db) = Database::fresh(backend).await else {
        return;
    };
    let server = HeraldProcess::start(&db, FLAGS).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let body = json!({"subscriberId": "in-flight", "firstName": "Slow"}).to_string();
    let head = format!(
        "POST /v1/subscribers HTTP/1.1\r\nHost: herald\r\nAuthorization: ApiKey {DEV_KEY}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();
    // The handler is running, waiting for the rest of the body.
    server.wait_for_log("started processing request").await;

    server.signal("TERM").await;
    server.wait_for_log("shutting down").await;
    stream.write_all(rest).await.unwrap();
    let res = read_response(&mut stream)
        .await
        .expect("the answer, not a reset");
    assert_eq!(res.status, 201, "{}", String::from_utf8_lossy(&res.body));
    assert_eq!(res.json()["data"]["subscriberId"], "in-flight");
    // Then the connection closes in order: EOF, not a reset.
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(BOUND, stream.read_to_end(&mut rest))
        .await
        .expect("closed within the bound");
    assert!(closed.is_ok(), "{closed:?}");

    let (output, clean) = server.wait_exit().await;
    assert!(clean, "exit status 0; stderr:\n{}", output.stderr);
    for line in ["delivery worker stopped", "Herald stopped"] {
        assert!(output.stderr.contains(line), "{line}: {}", output.stderr);
    }
    if backend == Backend::Sqlite {
        assert!(
            output.stderr.contains("sqlite store closed"),
            "{}",
            output.stderr
        );
    }

    let again = HeraldProcess::start(&db, &[]).await;
    let res = again
        .api
        .get(&format!("/v1/subscribers/{}", encode("in-flight")))
        .await;
    assert_eq!(res.data(200)["firstName"], "Slow");
    again.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_stops_herald_cleanly_too() {
    let db = Database::fresh(Backend::Sqlite).await.unwrap();
    let server = HeraldProcess::start(&db, &[]).await;
    assert_eq!(server.api.get("/v1/health-check").await.status, 200);
    // A kept-alive idle connection does not hold the shutdown up to its deadline.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /v1/health-check HTTP/1.1\r\nHost: herald\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_response(&mut idle).await.unwrap().status, 200);
    let started = std::time::Instant::now();
    server.signal("INT").await;
    let (output, clean) = server.wait_exit().await;
    assert!(clean, "{}", output.stderr);
    assert!(
        output.stderr.contains("sqlite store closed"),
        "{}",
        output.stderr
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the shutdown waited for the idle connection: {:?}",
        started.elapsed()
    );
}
