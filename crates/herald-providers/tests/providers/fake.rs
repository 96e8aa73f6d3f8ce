//! A local stand-in for a provider: an axum server on loopback port 0 that records every request
//! it gets (method, path, query, headers, body bytes, HTTP version) and answers with scripted
//! replies, per path or in arrival order. It speaks HTTP/1.1 and, with prior knowledge, HTTP/2
//! (h2c), which the APNs client uses. A provider call has returned only after the fake answered,
//! so a test reads the record right after `send` without waiting.
//!
//! And a silent listener: a bare TCP socket that only counts connections, for addresses the
//! outbound policy must never reach.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, Version};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub version: Version,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("a UTF-8 body")
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

#[derive(Default)]
struct Script {
    requests: Mutex<Vec<Recorded>>,
    replies: Mutex<VecDeque<Reply>>,
    by_path: Mutex<HashMap<String, VecDeque<Reply>>>,
    /// What a path answers once its queue is empty.
    defaults: Mutex<HashMap<String, Reply>>,
}

pub struct Fake {
    pub addr: SocketAddr,
    script: Arc<Script>,
}

impl Fake {
    /// A fake on 127.0.0.1.
    pub async fn start() -> Fake {
        Fake::start_on("127.0.0.1".parse().unwrap()).await
    }

    pub async fn start_on(ip: IpAddr) -> Fake {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind the fake");
        let addr = listener.local_addr().unwrap();
        let script = Arc::new(Script::default());
        let app = Router::new()
            .fallback(record)
            .with_state(Arc::clone(&script));
        tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Fake { addr, script }
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Queues the answer to the next request (unscripted requests get 200 `ok`).
    pub fn reply(&self, reply: Reply) {
        self.script.replies.lock().unwrap().push_back(reply);
    }

    /// Queues the answer to the next request for `path` (before the arrival-order queue).
    pub fn reply_on(&self, path: &str, reply: Reply) {
        self.script
            .by_path
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default()
            .push_back(reply);
    }

    /// What `path` answers whenever nothing is queued for it.
    pub fn always_on(&self, path: &str, reply: Reply) {
        self.script
            .defaults
            .lock()
            .unwrap()
            .insert(path.to_owned(), reply);
    }

    /// The requests received for `path`, in order.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.script.requests.lock().unwrap().clone()
    }

    /// Every request received since the last call, in order.
    pub fn take_all(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.script.requests.lock().unwrap())
    }

    /// The one request received since the last call.
    pub fn take_one(&self) -> Recorded {
        let mut all = self.script.requests.lock().unwrap();
        assert_eq!(
            all.len(),
            1,
            "expected exactly one request, got {}",
            all.len()
        );
        all.remove(0)
    }
}

async fn record(
    State(script): State<Arc<Script>>,
    method: Method,
    version: Version,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    script.requests.lock().unwrap().push(Recorded {
        method,
        path: path.clone(),
        query: uri.query().map(str::to_owned),
        headers,
        body,
        version,
    });
    let queued = script
        .by_path
        .lock()
        .unwrap()
        .get_mut(&path)
        .and_then(VecDeque::pop_front);
    let reply = queued
        .or_else(|| script.defaults.lock().unwrap().get(&path).cloned())
        .or_else(|| script.replies.lock().unwrap().pop_front())
        .unwrap_or_else(|| Reply::new(200, "ok"));
    let mut resp = (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
    for (name, value) in reply.headers {
        resp.headers_mut().insert(name, value.parse().unwrap());
    }
    resp
}

/// A listener that accepts connections and reports who connected, nothing else.
pub struct Silent {
    pub addr: SocketAddr,
    accepted: mpsc::UnboundedReceiver<SocketAddr>,
}

impl Silent {
    pub async fn start_on(ip: IpAddr) -> Silent {
        let listener = TcpListener::bind((ip, 0)).await.expect("bind the listener");
        let addr = listener.local_addr().unwrap();
        let (tx, accepted) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((_stream, peer)) = listener.accept().await {
                if tx.send(peer).is_err() {
                    break;
                }
            }
        });
        Silent { addr, accepted }
    }

    /// How many connections arrived before this call: connects once itself and counts the
    /// connections accepted ahead of that probe (the accept queue is first in, first out), so no
    /// waiting on time is needed to know that nothing came.
    pub async fn connections_so_far(&mut self) -> usize {
        let probe = TcpStream::connect(self.addr).await.expect("probe connects");
        let me = probe.local_addr().unwrap();
        let mut before = 0;
        // Bounded: the probe is accepted within the timeout or the test fails.
        loop {
            let peer = tokio::time::timeout(Duration::from_secs(10), self.accepted.recv())
                .await
                .expect("the probe is accepted")
                .expect("the listener runs");
            if peer == me {
                return before;
            }
            before += 1;
        }
    }
}
