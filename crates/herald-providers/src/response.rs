//! A provider's answer as the classifiers see it (status, headers, a capped body), and the rules
//! every provider shares: 2xx delivered, 408/429/5xx retried (honouring `Retry-After`), other
//! 4xx rejected. Provider modules refine these with their own error codes.

use std::time::{Duration, SystemTime};

use herald_core::delivery::{Attempt, Outcome};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

/// The longest wait a provider can impose: a `Retry-After` of a day would park a message past
/// any reasonable delivery window, so a longer wish is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60 * 60);

/// How much of a provider's answer goes into an attempt's detail.
const EXCERPT_BYTES: usize = 300;

#[derive(Clone, Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    /// At most the configured number of bytes.
    pub body: Vec<u8>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).trim().to_owned()
    }

    /// The start of the body on one line, for a detail.
    pub fn excerpt(&self) -> String {
        excerpt(&self.text())
    }

    /// `Retry-After` in seconds or as an HTTP date (a date in the past is zero), at most
    /// [`MAX_RETRY_AFTER`].
    pub fn retry_after(&self) -> Option<Duration> {
        parse_retry_after(self.header(RETRY_AFTER.as_str())?, SystemTime::now())
    }

    /// `"<provider> answered HTTP <status>: <said>"`, without the colon when nothing was said.
    pub fn answered(&self, provider: &str, said: &str) -> String {
        if said.is_empty() {
            format!("{provider} answered HTTP {}", self.status)
        } else {
            format!("{provider} answered HTTP {}: {said}", self.status)
        }
    }

    /// An attempt with this answer's status.
    pub fn attempt(&self, outcome: Outcome, detail: impl Into<String>) -> Attempt {
        let mut a = Attempt::new(outcome, detail);
        a.http_status = Some(self.status);
        a
    }

    /// The class of this answer by its status alone.
    pub fn status_outcome(&self) -> Outcome {
        match self.status {
            200..=299 => Outcome::Delivered,
            408 | 429 | 500..=599 => Outcome::Retry {
                after: self.retry_after(),
            },
            _ => Outcome::Rejected,
        }
    }
}

/// `text` on one line (control characters as spaces), cut at [`EXCERPT_BYTES`].
pub fn excerpt(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let flat = flat.trim();
    if flat.len() <= EXCERPT_BYTES {
        return flat.to_owned();
    }
    let mut end = EXCERPT_BYTES;
    while !flat.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &flat[..end])
}

pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else if let Ok(secs) = value.parse::<f64>() {
        // Not in RFC 9110, but some servers send fractions; never negative or NaN.
        Duration::try_from_secs_f64(secs).ok()?
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Seconds as JSON (Discord's `retry_after` float), at most [`MAX_RETRY_AFTER`].
pub fn seconds_value(v: &Value) -> Option<Duration> {
    let secs = v.as_f64()?;
    Duration::try_from_secs_f64(secs)
        .ok()
        .map(|d| d.min(MAX_RETRY_AFTER))
}

/// A JSON field as a string: strings as they are, numbers written out (Discord codes and ids).
pub fn field_string(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates_and_caps_both() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("86400", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("NaN", now), None);
    }

    #[test]
    fn an_excerpt_is_one_line_and_cut_at_a_character_boundary() {
        assert_eq!(excerpt("  bad\nthing\t "), "bad thing");
        let long = "é".repeat(400);
        let e = excerpt(&long);
        assert!(e.len() <= EXCERPT_BYTES + '…'.len_utf8());
        assert!(e.ends_with('…'));
    }

    fn answer(status: u16, retry_after: Option<&str>) -> Response {
        let mut headers = HeaderMap::new();
        if let Some(v) = retry_after {
            headers.insert(RETRY_AFTER, v.parse().unwrap());
        }
        Response {
            status,
            headers,
            body: Vec::new(),
        }
    }

    #[test]
    fn statuses_fall_into_the_shared_classes() {
        assert_eq!(answer(200, None).status_outcome(), Outcome::Delivered);
        assert_eq!(answer(202, None).status_outcome(), Outcome::Delivered);
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(
                answer(s, None).status_outcome(),
                Outcome::Retry { after: None },
                "{s}"
            );
        }
        assert_eq!(
            answer(429, Some("7")).status_outcome(),
            Outcome::Retry {
                after: Some(Duration::from_secs(7))
            }
        );
        for s in [400, 401, 403, 404, 410, 413, 422] {
            assert_eq!(answer(s, None).status_outcome(), Outcome::Rejected, "{s}");
        }
    }
}
