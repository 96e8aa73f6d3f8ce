//! HTTP clients for the tests: [`Api`] (reqwest, one server, one key) and [`Api::verbatim`] for
//! request targets a URL parser would rewrite; [`Res`] keeps status, headers and body, and checks
//! Novu's error body.

use std::net::SocketAddr;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client for one server, with or without an API key. Cheap to clone (for concurrent requests).
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    pub addr: SocketAddr,
    key: Option<String>,
}

impl Api {
    pub fn new(addr: SocketAddr, key: Option<&str>) -> Api {
        Api {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("http client"),
            addr,
            key: key.map(str::to_string),
        }
    }

    /// The same server, authenticated with another key.
    pub fn with_key(&self, key: &str) -> Api {
        Api {
            key: Some(key.to_string()),
            ..self.clone()
        }
    }

    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let rb = self
            .client
            .request(method, format!("http://{}{path}", self.addr));
        match &self.key {
            Some(key) => rb.header(AUTHORIZATION, format!("ApiKey {key}")),
            None => rb,
        }
    }

    /// Sends and reads the whole answer; `Err` when the server is unreachable or the connection
    /// broke (what a killed server looks like).
    pub async fn try_send(&self, rb: RequestBuilder) -> Result<Res, reqwest::Error> {
        let res = rb.send().await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await?;
        Ok(Res::new(status, headers, &bytes))
    }

    pub async fn send(&self, rb: RequestBuilder) -> Res {
        self.try_send(rb)
            .await
            .expect("the request reaches the server")
    }

    /// `method path` with a JSON body (`Value::Null`: no body).
    pub async fn call(&self, method: Method, path: &str, body: &Value) -> Res {
        let rb = self.request(method, path);
        let rb = if body.is_null() { rb } else { rb.json(body) };
        self.send(rb).await
    }

    pub async fn get(&self, path: &str) -> Res {
        self.call(Method::GET, path, &Value::Null).await
    }

    pub async fn delete(&self, path: &str) -> Res {
        self.call(Method::DELETE, path, &Value::Null).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Res {
        self.call(Method::POST, path, &body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Res {
        self.call(Method::PUT, path, &body).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Res {
        self.call(Method::PATCH, path, &body).await
    }

    /// A body sent byte for byte under the given content type.
    pub async fn raw(&self, method: Method, path: &str, content_type: &str, body: Vec<u8>) -> Res {
        let rb = self
            .request(method, path)
            .header(CONTENT_TYPE, content_type)
            .body(body);
        self.send(rb).await
    }

    /// A request written to the socket as given: `target` is sent verbatim (no URL parsing, so
    /// `..` segments stay), with this client's key and `Connection: close`.
    pub async fn verbatim(&self, method: &str, target: &str, body: Option<&[u8]>) -> Res {
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(key) = &self.key {
            head.push_str(&format!("Authorization: ApiKey {key}\r\n"));
        }
        if let Some(body) = body {
            head.push_str("Content-Type: application/json\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("Connection: close\r\n\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body.unwrap_or_default());
        let mut stream = TcpStream::connect(self.addr).await.expect("connect");
        stream.write_all(&request).await.expect("write request");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read response");
        parse_response(&raw)
    }
}

/// Parses an HTTP/1.1 response read to the end of the connection.
fn parse_response(raw: &[u8]) -> Res {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = std::str::from_utf8(&raw[..split]).expect("ASCII response head");
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').expect("header line");
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).expect("header name"),
            HeaderValue::from_str(value.trim()).expect("header value"),
        );
    }
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .get("transfer-encoding")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Res::new(status, headers, &body)
}

/// Decodes a `Transfer-Encoding: chunked` body.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("chunk size line");
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next()?.trim(), 16).ok())
            .expect("chunk size");
        rest = &rest[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// A response, read in full.
#[derive(Debug)]
pub struct Res {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// The parsed body (`Null` when empty or not JSON; `text` has it as sent).
    pub body: Value,
}

impl Res {
    fn new(status: u16, headers: HeaderMap, bytes: &[u8]) -> Res {
        let text = String::from_utf8_lossy(bytes).into_owned();
        let body = serde_json::from_slice(bytes).unwrap_or(Value::Null);
        Res {
            status,
            headers,
            text,
            body,
        }
    }

    /// The body for a failure message, cut to a readable length (some tests send 10 KB ids).
    pub fn brief(&self) -> String {
        const MAX: usize = 400;
        match self.text.char_indices().nth(MAX) {
            Some((cut, _)) => format!("{}… ({} bytes)", &self.text[..cut], self.text.len()),
            None => self.text.clone(),
        }
    }

    pub fn content_type(&self) -> Option<&str> {
        self.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok())
    }

    /// `data` of a `{"data": …}` answer with the given status.
    pub fn data(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}", self.brief());
        self.body
            .get("data")
            .unwrap_or_else(|| panic!("no data in {}", self.brief()))
    }

    /// Novu's error body `{statusCode, timestamp, path, message, error?, errorId?}` served as
    /// `application/json`, with this status.
    pub fn assert_novu_error(&self, status: u16) {
        assert_eq!(self.status, status, "status of {}", self.brief());
        assert_eq!(
            self.content_type(),
            Some("application/json"),
            "content type of {}",
            self.brief()
        );
        let obj = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("error body is not a JSON object: {:?}", self.brief()));
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        assert!(
            keys.len() >= 4 && keys[..4] == ["statusCode", "timestamp", "path", "message"],
            "keys of {}",
            self.brief()
        );
        // `errors` (422: `{<field>: {messages}}`; a trigger route's 400: `[{field, message}]`,
        // with `type`) is what the SDKs' `ValidationErrorDto` / `PayloadValidationExceptionDto` need.
        assert!(
            keys[4..]
                .iter()
                .all(|k| ["error", "errorId", "errors", "type"].contains(k)),
            "unexpected keys in {}",
            self.brief()
        );
        match obj.get("errors") {
            Some(Value::Object(e)) => assert!(status == 422 && !e.is_empty(), "{}", self.brief()),
            Some(Value::Array(e)) => assert!(
                status == 400 && !e.is_empty() && obj["type"].is_string(),
                "{}",
                self.brief()
            ),
            Some(_) => panic!("`errors` of {}", self.brief()),
            None => assert!(
                status != 422 && obj.get("type").is_none(),
                "{}",
                self.brief()
            ),
        }
        assert_eq!(obj["statusCode"], json!(status), "{}", self.brief());
        assert!(obj["path"].is_string(), "{}", self.brief());
        let ts = obj["timestamp"].as_str().unwrap_or_default();
        assert!(
            ts.len() == 24 && ts.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
            "timestamp of {}",
            self.brief()
        );
        let message = &obj["message"];
        assert!(
            message.is_string()
                || message
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_string)),
            "message of {}",
            self.brief()
        );
    }

    /// A Novu error with this status and exactly this `message` (a string or an array).
    pub fn assert_error(&self, status: u16, message: Value) {
        self.assert_novu_error(status);
        assert_eq!(self.body["message"], message, "message of {}", self.brief());
    }

    /// Any Novu error in 400..=499: the answer to input the server refuses cleanly.
    pub fn assert_client_error(&self) {
        assert!(
            (400..500).contains(&self.status),
            "a 4xx expected, got {}: {}",
            self.status,
            self.brief()
        );
        self.assert_novu_error(self.status);
    }
}
