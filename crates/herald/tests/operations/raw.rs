//! HTTP/1.1 on a raw socket, for the tests that must see exactly what a client sees: whether a
//! write fails, whether the answer arrives before a reset, whether the connection stays usable.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Upper bound on any wait here: what never happens fails the test instead of hanging it.
pub const BOUND: Duration = Duration::from_secs(60);

/// One response read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    /// A header's value (the first, case-insensitive name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Reads one response (head, then `Content-Length` bytes of body), skipping `1xx` interim
/// answers. `Err` with what was read when the connection closes or resets first.
pub async fn read_response<S: AsyncRead + Unpin>(stream: &mut S) -> Result<RawResponse, String> {
    let read = async {
        let mut buf = Vec::new();
        loop {
            let head_end = loop {
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
                let mut chunk = [0u8; 8192];
                match stream.read(&mut chunk).await {
                    Ok(0) => return Err(format!("closed after {} bytes", buf.len())),
                    Err(e) => return Err(format!("{e} after {} bytes", buf.len())),
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            };
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let status: u16 = head
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("not a response: {head:?}"))?;
            if (100..200).contains(&status) {
                buf.drain(..head_end);
                continue;
            }
            let mut response = RawResponse {
                status,
                head,
                body: buf[head_end..].to_vec(),
            };
            let length: usize = response
                .header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            while response.body.len() < length {
                let mut chunk = [0u8; 8192];
                match stream.read(&mut chunk).await {
                    Ok(0) => return Err("closed in the body".into()),
                    Err(e) => return Err(format!("{e} in the body")),
                    Ok(n) => response.body.extend_from_slice(&chunk[..n]),
                }
            }
            return Ok(response);
        }
    };
    tokio::time::timeout(BOUND, read)
        .await
        .expect("an answer or a close within the bound")
}
