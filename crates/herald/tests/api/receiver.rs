//! A local stand-in for Slack, Discord, a push webhook…: an HTTP server on a loopback port that
//! records every request and answers from a script (per path: a queue of answers, then a default).
//! Tests point subscriber webhook URLs and integration URLs at it and allow its address through
//! the outbound policy. A silent listener ([`Silent`]) counts connections on an address that must
//! never be reached.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::net::TcpListener;

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An answer: status, extra headers, body.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn new(status: u16, body: &str) -> Self {
        Answer {
            status,
            headers: Vec::new(),
            body: body.to_string(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    script: HashMap<String, VecDeque<Answer>>,
    /// `(path, body substring, answer)`: answers every matching request (after the script).
    rules: Vec<(String, Option<String>, Answer)>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
}

async fn handle(State(inner): State<Arc<Mutex<Inner>>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 10 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let answer = {
        let mut inner = inner.lock().unwrap();
        inner.received.push(Received {
            method: parts.method.clone(),
            path: path.clone(),
            query: parts.uri.query().map(str::to_string),
            headers: parts.headers.clone(),
            body,
        });
        let body = &inner.received.last().expect("just pushed").body;
        let text = String::from_utf8_lossy(body).into_owned();
        let scripted = inner.script.get_mut(&path).and_then(VecDeque::pop_front);
        scripted.or_else(|| {
            inner
                .rules
                .iter()
                .find(|(p, needle, _)| *p == path && matches_needle(needle.as_deref(), &text))
                .map(|(_, _, a)| a.clone())
        })
    };
    // Unscripted: what Slack answers (`ok`), which every chat provider takes as success.
    let answer = answer.unwrap_or_else(|| Answer::new(200, "ok"));
    let mut res = (
        StatusCode::from_u16(answer.status).expect("a valid status"),
        answer.body,
    )
        .into_response();
    for (k, v) in answer.headers {
        res.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    res
}

/// Whether a rule's body condition holds.
fn matches_needle(needle: Option<&str>, text: &str) -> bool {
    match needle {
        None => true,
        Some(n) => text.contains(n),
    }
}

impl Receiver {
    /// Starts on `127.0.0.1:0`; stops when the test's runtime does.
    pub async fn start() -> Receiver {
        Self::start_on("127.0.0.1:0").await
    }

    pub async fn start_on(addr: &str) -> Receiver {
        let listener = TcpListener::bind(addr).await.expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, inner }
    }

    /// `http://127.0.0.1:<port><path>`
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers the next requests to `path` with these, in order (then the default).
    pub fn script(&self, path: &str, answers: impl IntoIterator<Item = Answer>) {
        self.inner
            .lock()
            .unwrap()
            .script
            .entry(path.to_string())
            .or_default()
            .extend(answers);
    }

    /// Answers every request to `path` whose body contains `needle` (any body when `None`) with
    /// `answer`, after scripted answers; the first matching rule wins.
    pub fn rule(&self, path: &str, needle: Option<&str>, answer: Answer) {
        self.inner.lock().unwrap().rules.push((
            path.to_string(),
            needle.map(str::to_string),
            answer,
        ));
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.lock().unwrap().received.clone()
    }

    /// The requests to `path`.
    pub fn at(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

/// A listener that accepts connections and counts them, answering nothing: any connection means
/// a request went where it must not.
pub struct Silent {
    pub addr: SocketAddr,
    count: Arc<std::sync::atomic::AtomicUsize>,
}

impl Silent {
    pub async fn start_on(ip: &str) -> Silent {
        let listener = TcpListener::bind(format!("{ip}:0")).await.expect("bind");
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let c = count.clone();
        tokio::spawn(async move {
            while let Ok((_socket, _)) = listener.accept().await {
                c.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        Silent { addr, count }
    }

    pub fn connections(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }
}
