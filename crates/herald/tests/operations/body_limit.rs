//! Bodies over the limit: the 413 (Novu's format) reaches a client that sends its whole body
//! before reading, as Python's `requests` does, instead of a reset; the connection stays usable;
//! and draining is bounded. The same with Node's `fetch` and `requests` themselves is
//! `sdk-tests/node/body-limit.test.mjs` and `sdk-tests/python/test_body_limit.py`.
//!
//! Connection handling does not depend on the store, so these run on SQLite only.

use herald::ServerSettings;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::raw::{read_response, BOUND};
use crate::support::{App, Backend, DEV_KEY};

const MB: usize = 1_000_000;

async fn app() -> App {
    App::spawn(Backend::Sqlite, ServerSettings::default())
        .await
        .expect("SQLite is always available")
}

/// A JSON object of about `size` bytes: `{"subscriberId":"big","data":"xxxx…"}`.
fn big_json(size: usize) -> Vec<u8> {
    let mut body = br#"{"subscriberId":"big","data":""#.to_vec();
    body.resize(size - 2, b'x');
    body.extend_from_slice(br#""}"#);
    body
}

fn head(path: &str, key: &str, length: usize, extra: &str) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nHost: herald\r\nAuthorization: ApiKey {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n{extra}\r\n"
    )
}

/// Sends `body` in 64 KiB writes, as clients do.
async fn send_body(stream: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    for chunk in body.chunks(64 * 1024) {
        stream.write_all(chunk).await?;
    }
    stream.flush().await
}

async fn health_on(stream: &mut TcpStream) -> u16 {
    stream
        .write_all(b"GET /v1/health-check HTTP/1.1\r\nHost: herald\r\n\r\n")
        .await
        .expect("the connection is still open");
    read_response(stream).await.expect("an answer").status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_sent_whole_before_reading_gets_the_413_on_a_usable_connection() {
    let app = app().await;
    // `/v1/subscribers` takes 100 KB, `/v1/events/trigger` 2 MB.
    for path in ["/v1/subscribers", "/v1/events/trigger"] {
        for size in [3 * MB, 10 * MB] {
            for attempt in 0..3 {
                let body = big_json(size);
                let mut stream = TcpStream::connect(app.dev.addr).await.unwrap();
                stream
                    .write_all(head(path, DEV_KEY, body.len(), "").as_bytes())
                    .await
                    .unwrap();
                // What `requests` does: the whole body, then read. Without draining, the server
                // closed with bytes unread and this write (or the read below) was reset.
                send_body(&mut stream, &body)
                    .await
                    .unwrap_or_else(|e| panic!("{path} {size} #{attempt}: writing failed: {e}"));
                let res = read_response(&mut stream)
                    .await
                    .unwrap_or_else(|e| panic!("{path} {size} #{attempt}: {e}"));
                assert_eq!(res.status, 413, "{path} {size}: {}", res.head);
                let body = res.json();
                assert_eq!(body["statusCode"], 413, "{body}");
                assert_eq!(body["message"], "request entity too large", "{body}");
                assert_eq!(body["error"], "Payload Too Large", "{body}");
                assert_eq!(body["path"], path, "{body}");
                assert_eq!(health_on(&mut stream).await, 200, "{path} {size}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_over_the_limit_gets_the_413_too() {
    let app = app().await;
    let mut stream = TcpStream::connect(app.dev.addr).await.unwrap();
    let head = format!(
        "POST /v1/subscribers HTTP/1.1\r\nHost: herald\r\nAuthorization: ApiKey {DEV_KEY}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let body = big_json(3 * MB);
    for chunk in body.chunks(64 * 1024) {
        stream
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .await
            .unwrap();
        stream.write_all(chunk).await.unwrap();
        stream.write_all(b"\r\n").await.unwrap();
    }
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    let res = read_response(&mut stream).await.expect("an answer");
    assert_eq!(res.status, 413, "{}", res.head);
    assert_eq!(res.json()["message"], "request entity too large");
    assert_eq!(health_on(&mut stream).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_request_awaiting_100_continue_gets_its_answer_without_sending_its_body() {
    let app = app().await;
    let mut stream = TcpStream::connect(app.dev.addr).await.unwrap();
    let head = head(
        "/v1/subscribers",
        "not-a-key",
        10 * MB,
        "Expect: 100-continue\r\n",
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // Nothing of the body is sent: the client waits for `100 Continue`, which never comes.
    let mut raw = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            match tokio::io::AsyncReadExt::read(&mut stream, &mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => raw.extend_from_slice(&chunk[..n]),
            }
        }
    };
    tokio::time::timeout(BOUND, read)
        .await
        .expect("the server answers and closes");
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 401 "), "{text}");
    assert!(!text.contains("100 Continue"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_far_beyond_the_drain_limit_is_not_read_to_its_end() {
    let app = app().await;
    let size = 4 * herald::serve::DRAIN_LIMIT as usize;
    let mut stream = TcpStream::connect(app.dev.addr).await.unwrap();
    stream
        .write_all(head("/v1/subscribers", DEV_KEY, size, "").as_bytes())
        .await
        .unwrap();
    // Herald stops reading after the limit (plus what the kernels buffer) and closes, so the
    // writes fail long before the announced length.
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    let written = tokio::time::timeout(BOUND, async {
        while sent < size {
            stream.write_all(&chunk).await?;
            sent += chunk.len();
        }
        Ok::<_, std::io::Error>(())
    })
    .await
    .expect("the writes end within the bound");
    assert!(written.is_err(), "all {sent} bytes were accepted");
    assert!(sent < size, "{sent} of {size}");
}
