//! Slow and stalled connections (issue 14), with raw sockets on loopback and the limits set
//! short: unfinished headers, idle kept-alive connections and unfinished bodies are cut off at
//! their timeouts, connections beyond the cap wait in the backlog until one closes, oversized
//! headers are refused, and a shutdown drops what is still open at its deadline.
//!
//! Connection limits do not depend on the store, so these run on SQLite only. Where a test must
//! show that something has *not* happened yet, it waits for a bounded time far below the limit
//! involved; a loaded machine can only make such a check pass, never fail.

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald::ServerSettings;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::support::{App, Backend, Database, DEV_KEY};

/// Upper bound on any wait here: a limit that never fires fails the test instead of hanging it.
const BOUND: Duration = Duration::from_secs(30);

/// Settings with every limit long except those a test sets.
fn settings() -> ServerSettings {
    ServerSettings {
        header_read_timeout: Duration::from_secs(60),
        idle_timeout: Duration::from_secs(60),
        body_read_timeout: Duration::from_secs(60),
        ..ServerSettings::default()
    }
}

async fn app(settings: ServerSettings) -> App {
    App::spawn(Backend::Sqlite, settings)
        .await
        .expect("SQLite is always available")
}

async fn connect(app: &App) -> TcpStream {
    TcpStream::connect(app.dev.addr).await.unwrap()
}

const HEALTH: &[u8] = b"GET /v1/health-check HTTP/1.1\r\nHost: herald\r\n\r\n";

/// One HTTP/1.1 response read off a raw socket.
struct RawResponse {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl RawResponse {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// Reads one response (head, then `Content-Length` bytes of body); `None` if the connection
/// closes first. Bounded by [`BOUND`].
async fn read_response(stream: &mut TcpStream) -> Option<RawResponse> {
    let read = async {
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let length = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut body = buf[head_end..].to_vec();
        while body.len() < length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => body.extend_from_slice(&chunk[..n]),
            }
        }
        Some(RawResponse { status, head, body })
    };
    tokio::time::timeout(BOUND, read)
        .await
        .expect("an answer or a close within the bound")
}

/// Waits until the server closes `stream` (EOF or reset), bounded by [`BOUND`]; what it sent
/// before, if anything.
async fn closed_by_server(stream: &mut TcpStream) -> Vec<u8> {
    let wait = async {
        let mut seen = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return seen,
                Ok(n) => seen.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(BOUND, wait)
        .await
        .expect("the server closes the connection within the bound")
}

/// Whether the server has already closed `stream` (EOF or reset), without waiting.
fn already_closed(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.try_read(&mut byte) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_headers_are_cut_off_at_the_header_read_timeout_even_when_trickled() {
    let limit = Duration::from_millis(400);
    let app = app(ServerSettings {
        header_read_timeout: limit,
        ..settings()
    })
    .await;

    // Half a request line, then nothing. (Timed from before the connect: the server's deadline
    // starts at its accept, which cannot precede it.)
    let started = Instant::now();
    let mut stalled = connect(&app).await;
    stalled.write_all(b"GET /v1/health-ch").await.unwrap();
    assert_eq!(closed_by_server(&mut stalled).await, b"");
    let took = started.elapsed();
    assert!(took >= limit, "closed after {took:?}");

    // One header byte every 50 ms: the deadline is for the whole head, not per byte.
    let started = Instant::now();
    let mut trickling = connect(&app).await;
    let request = b"GET /v1/health-check HTTP/1.1\r\nHost: herald\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let mut ticks = tokio::time::interval(Duration::from_millis(50));
    let mut cut_off = false;
    for byte in request {
        ticks.tick().await;
        if trickling.write_all(&[*byte]).await.is_err() || already_closed(&trickling) {
            cut_off = true;
            break;
        }
    }
    if !cut_off {
        assert_eq!(closed_by_server(&mut trickling).await, b"");
    }
    let took = started.elapsed();
    assert!(
        took >= limit && took < limit * 4,
        "a trickling client was cut off after {took:?}"
    );
    eprintln!("header-read timeout {limit:?}: a stalled client closed after the limit, a trickling one after {took:?}");

    // The server is still serving.
    let mut fresh = connect(&app).await;
    fresh.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut fresh).await.unwrap().status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_at_the_idle_timeout() {
    let limit = Duration::from_millis(400);
    let app = app(ServerSettings {
        idle_timeout: limit,
        ..settings()
    })
    .await;
    let mut conn = connect(&app).await;
    // Timed from before the request: the server's idle period starts once it has answered.
    let sent = Instant::now();
    conn.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut conn).await.unwrap().status, 200);
    let answered = sent.elapsed();
    assert_eq!(closed_by_server(&mut conn).await, b"");
    let took = sent.elapsed();
    assert!(took >= limit, "closed {took:?} after the request");
    eprintln!(
        "idle timeout {limit:?}: answered after {answered:?}, closed {took:?} after the request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_header_read_timeout_does_not_cut_a_kept_alive_connection_between_requests() {
    let header = Duration::from_millis(200);
    let app = app(ServerSettings {
        header_read_timeout: header,
        ..settings()
    })
    .await;
    let mut conn = connect(&app).await;
    conn.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut conn).await.unwrap().status, 200);
    // Idle for three header timeouts (well within the idle timeout): nothing happens…
    let mut byte = [0u8; 1];
    let quiet = tokio::time::timeout(header * 3, conn.read(&mut byte)).await;
    assert!(
        quiet.is_err(),
        "the server closed an idle connection: {quiet:?}"
    );
    // …and the next request is served on the same connection.
    conn.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut conn).await.unwrap().status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_does_not_arrive_in_time_is_408_in_novus_format() {
    let limit = Duration::from_millis(400);
    let app = app(ServerSettings {
        body_read_timeout: limit,
        ..settings()
    })
    .await;
    let mut conn = connect(&app).await;
    let started = Instant::now();
    conn.write_all(
        format!(
            "POST /v1/subscribers HTTP/1.1\r\nHost: herald\r\nAuthorization: ApiKey {DEV_KEY}\r\n\
             Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"subscriberId\""
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let res = read_response(&mut conn).await.expect("an answer");
    let took = started.elapsed();
    assert_eq!(res.status, 408, "{}", res.head);
    assert!(took >= limit, "answered after {took:?}");
    let body = res.json();
    assert_eq!(body["statusCode"], 408, "{body}");
    assert_eq!(body["error"], "Request Timeout", "{body}");
    assert_eq!(body["message"], "the request body did not arrive in time");
    assert_eq!(body["path"], "/v1/subscribers");
    // The rest of the body will never be read: the connection is closed, nothing was stored.
    closed_by_server(&mut conn).await;
    assert_eq!(
        app.dev.get("/v1/subscribers").await.body["data"],
        serde_json::json!([])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_wait_in_the_backlog_until_one_closes() {
    let header = Duration::from_millis(1500);
    let app = app(ServerSettings {
        max_connections: 2,
        header_read_timeout: header,
        ..settings()
    })
    .await;
    // Two stalled connections take both slots (accepted in connection order)…
    let mut first = connect(&app).await;
    first.write_all(b"GET /v1/hea").await.unwrap();
    let mut second = connect(&app).await;
    second.write_all(b"GET /v1/hea").await.unwrap();
    // …so a third, complete request is not answered while they last.
    let started = Instant::now();
    let mut third = connect(&app).await;
    third.write_all(HEALTH).await.unwrap();
    let mut byte = [0u8; 1];
    let early = tokio::time::timeout(header / 3, third.peek(&mut byte)).await;
    assert!(early.is_err(), "answered beyond the cap: {early:?}");
    // When the header timeout closes a stalled one, the third is accepted and answered.
    assert_eq!(read_response(&mut third).await.unwrap().status, 200);
    let waited = started.elapsed();
    assert!(
        already_closed(&first) || already_closed(&second),
        "answered while both stalled connections were open"
    );
    assert!(waited >= header / 2, "answered after {waited:?}");
    eprintln!("max_connections 2: a third connection was answered after {waited:?}, once a stalled one was closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_over_the_limit_are_431_and_never_held_whole() {
    let app = app(ServerSettings {
        max_header_bytes: 8192,
        ..settings()
    })
    .await;
    // 8 KB of headers is fine.
    let mut fits = connect(&app).await;
    let header = "a".repeat(7000);
    fits.write_all(
        format!("GET /v1/health-check HTTP/1.1\r\nHost: herald\r\nX-Pad: {header}\r\n\r\n")
            .as_bytes(),
    )
    .await
    .unwrap();
    assert_eq!(read_response(&mut fits).await.unwrap().status, 200);

    // A head that fills the 8 KiB buffer without ending is refused with 431.
    let mut full = connect(&app).await;
    let mut head = b"GET /v1/health-check HTTP/1.1\r\nHost: herald\r\nX-Pad: ".to_vec();
    head.resize(8192, b'c');
    full.write_all(&head).await.unwrap();
    let res = read_response(&mut full).await.expect("an answer");
    assert_eq!(res.status, 431, "{}", res.head);

    // 600 KB of headers: only the first 8 KiB are ever held; the connection is closed (with a
    // 431 if the client is still reading) and the server keeps serving.
    let mut over = connect(&app).await;
    let mut request = b"GET /v1/health-check HTTP/1.1\r\nHost: herald\r\n".to_vec();
    for i in 0..600 {
        request.extend_from_slice(format!("X-Pad-{i}: {}\r\n", "b".repeat(1000)).as_bytes());
    }
    // The server may close before everything is written; that is the point.
    let _ = over.write_all(&request).await;
    let answer = closed_by_server(&mut over).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431"),
        "{answer}"
    );
    let mut fresh = connect(&app).await;
    fresh.write_all(HEALTH).await.unwrap();
    assert_eq!(read_response(&mut fresh).await.unwrap().status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_drops_connections_still_open_at_its_deadline() {
    let db = Database::fresh(Backend::Sqlite).await.expect("SQLite");
    let store = db.open().await;
    herald::startup::bootstrap(&*store, Some(DEV_KEY))
        .await
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let deadline = Duration::from_millis(400);
    let server = tokio::spawn(herald::run(
        listener,
        Arc::clone(&store),
        ServerSettings {
            shutdown_timeout: deadline,
            ..settings()
        },
        shutdown.clone(),
    ));
    // A request whose handler is waiting for a body that never comes: `100 Continue` says the
    // handler has started reading it.
    let mut stuck = TcpStream::connect(addr).await.unwrap();
    stuck
        .write_all(
            format!(
                "POST /v1/subscribers HTTP/1.1\r\nHost: herald\r\nAuthorization: ApiKey {DEV_KEY}\r\n\
                 Content-Type: application/json\r\nContent-Length: 50\r\nExpect: 100-continue\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut continued = [0u8; 25];
    stuck.read_exact(&mut continued).await.unwrap();
    assert_eq!(&continued, b"HTTP/1.1 100 Continue\r\n\r\n");

    let cancelled_at = Instant::now();
    shutdown.cancel();
    let stopped = tokio::time::timeout(BOUND, server).await;
    let took = cancelled_at.elapsed();
    stopped
        .expect("run returns once the deadline passes")
        .unwrap()
        .unwrap();
    assert!(took >= deadline, "returned after {took:?}");
    assert_eq!(closed_by_server(&mut stuck).await, b"");
    // No new connection is accepted after a shutdown.
    assert!(TcpStream::connect(addr).await.is_err());
    store.close().await;
    eprintln!(
        "shutdown deadline {deadline:?}: run returned after {took:?} with a stuck request dropped"
    );
}
