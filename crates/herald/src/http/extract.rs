//! Extractors that answer in Novu's error format instead of axum's plain-text rejections: the JSON
//! body, the query string, and path parameters.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::validate::MAX_ID_LEN;
use crate::serve::BodyTimedOut;

/// A request body as a JSON object. Like Novu (body-parser), JSON and form bodies are parsed; an
/// empty body, another content type or a JSON value that is not an object reads as `{}`, so the
/// validation messages of the missing fields follow. Malformed JSON is a 400 with the parser's
/// message; a body over the limit is a 413; a body that does not arrive within the body-read
/// timeout is a 408.
pub struct JsonBody(pub Map<String, Value>);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_ascii_lowercase();
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else if BodyTimedOut::is_cause_of(&e) {
                ApiError::RequestTimeout
            } else {
                ApiError::BadRequest(e.body_text())
            }
        })?;
        parse_body(&content_type, &bytes).map(JsonBody)
    }
}

/// A body as Novu reads it (see [`JsonBody`]), given its lower-cased content type.
pub fn parse_body(content_type: &str, bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    if content_type.starts_with("application/x-www-form-urlencoded") {
        return parse_form(bytes);
    }
    let is_json = content_type.starts_with("application/json") || content_type.contains("+json");
    if !is_json {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Ok(Map::new()),
        Err(e) => Err(ApiError::BadRequest(json_error_message(&e))),
    }
}

/// A form body, decoded strictly: a byte sequence that is not UTF-8 (raw or percent-encoded) is a
/// 400, not a silent U+FFFD.
fn parse_form(bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let invalid = || ApiError::BadRequest("Invalid form body: not UTF-8".into());
    let text = std::str::from_utf8(bytes).map_err(|_| invalid())?;
    let decode = |s: &str| -> Result<String, ApiError> {
        let plus = s.replace('+', " ");
        percent_encoding::percent_decode_str(&plus)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| invalid())
    };
    let mut map = Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        map.insert(decode(k)?, Value::String(decode(v)?));
    }
    Ok(map)
}

fn json_error_message(e: &serde_json::Error) -> String {
    format!("Invalid JSON body: {e}")
}

/// The query string as ordered key/value pairs (the last value of a repeated key wins on lookup).
pub struct QueryMap(pub Vec<(String, String)>);

impl QueryMap {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for QueryMap {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        parse_query(query)
    }
}

/// Query values are looked up in the store; PostgreSQL text cannot hold NUL (a 500 there) and no
/// stored value contains one, so a NUL anywhere in the query is a 400.
fn parse_query(query: &str) -> Result<QueryMap, ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let errors: Vec<String> = pairs
        .iter()
        .filter(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| format!("{} must not contain null characters", k.replace('\0', "")))
        .collect();
    if errors.is_empty() {
        Ok(QueryMap(pairs))
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Path parameters, percent-decoded once (`+` stays a literal plus). A parameter that does not
/// decode to UTF-8 or holds control characters is a 400.
pub struct PathParams(pub Vec<String>);

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // axum has already percent-decoded the values (and refused ones that are not UTF-8);
        // decoding again would turn the id `50%41` (sent as `50%2541`) into `50A`.
        let raw = axum::extract::RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::BadRequest("Invalid path parameter".into()))?;
        let mut out = Vec::new();
        for (name, value) in raw.iter() {
            if value.chars().any(char::is_control) {
                return Err(ApiError::BadRequest(format!(
                    "{name} must not contain control characters"
                )));
            }
            // No id is longer (see `validate::MAX_ID_LEN`), so such a value names nothing; the
            // routes that create what their path names (topic memberships) must not store it.
            if value.chars().count() > MAX_ID_LEN {
                return Err(ApiError::BadRequest(format!(
                    "{name} must be shorter than or equal to {MAX_ID_LEN} characters"
                )));
            }
            out.push(value.to_owned());
        }
        Ok(PathParams(out))
    }
}

/// JavaScript `Number(s)` for query values (class-transformer's `@Type(() => Number)`): blank is 0,
/// otherwise a decimal float; anything else is NaN.
pub fn js_number(s: &str) -> f64 {
    let t = s.trim();
    if t.is_empty() {
        return 0.0;
    }
    if t.eq_ignore_ascii_case("infinity") || t.eq_ignore_ascii_case("+infinity") {
        return f64::INFINITY;
    }
    if t.eq_ignore_ascii_case("-infinity") {
        return f64::NEG_INFINITY;
    }
    if t.chars()
        .any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
    {
        return f64::NAN;
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

/// Parses Novu's `page` (integer ≥ 0, default 0) and `limit` (integer 1..=max, default
/// `default_limit`) with class-validator's messages. Negative pages are refused (Novu answers 500).
pub fn parse_paging(q: &QueryMap, default_limit: u64, max: u64) -> Result<(u64, u64), ApiError> {
    let mut errors = Vec::new();
    let page = match q.get("page") {
        None => 0.0,
        Some(s) => js_number(s),
    };
    if page.fract() != 0.0 || !page.is_finite() {
        errors.push("page must be an integer number".to_string());
    } else if page < 0.0 {
        errors.push("page must not be less than 0".to_string());
    }
    let limit = match q.get("limit") {
        None => default_limit as f64,
        Some(s) => js_number(s),
    };
    // class-validator reports the decorators bottom-up: Max, Min, IsInt.
    if limit.is_nan() || limit > max as f64 {
        errors.push(format!("limit must not be greater than {max}"));
    }
    if limit.is_nan() || limit < 1.0 {
        errors.push("limit must not be less than 1".to_string());
    }
    if limit.fract() != 0.0 || !limit.is_finite() {
        errors.push("limit must be an integer number".to_string());
    }
    if errors.is_empty() {
        Ok((page as u64, limit as u64))
    } else {
        Err(ApiError::Validation(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> QueryMap {
        QueryMap(form_urlencoded::parse(s.as_bytes()).into_owned().collect())
    }

    fn msgs(r: Result<(u64, u64), ApiError>) -> Vec<String> {
        match r {
            Err(ApiError::Validation(m)) => m,
            other => panic!("expected validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_nul_anywhere_in_the_query_is_refused() {
        let refused = |query: &str| match parse_query(query) {
            Err(ApiError::Validation(m)) => m,
            Err(other) => panic!("expected validation error, got {other:?}"),
            Ok(_) => panic!("{query} accepted"),
        };
        assert_eq!(
            refused("key=a%00b"),
            ["key must not contain null characters"]
        );
        assert_eq!(
            refused("k%00=1&x=2"),
            ["k must not contain null characters"]
        );
        let other_controls = parse_query("key=a%01b&limit=2").unwrap();
        assert_eq!(other_controls.get("key"), Some("a\u{1}b"));
    }

    #[test]
    fn paging_defaults_and_floats_from_python() {
        assert_eq!(parse_paging(&q(""), 10, 100).unwrap(), (0, 10));
        assert_eq!(
            parse_paging(&q("page=1&limit=10.0"), 10, 100).unwrap(),
            (1, 10)
        );
    }

    #[test]
    fn paging_messages_match_class_validator() {
        assert_eq!(
            msgs(parse_paging(&q("limit=101"), 10, 100)),
            ["limit must not be greater than 100"]
        );
        assert_eq!(
            msgs(parse_paging(&q("page=abc&limit=0"), 10, 100)),
            [
                "page must be an integer number",
                "limit must not be less than 1"
            ]
        );
        assert_eq!(
            msgs(parse_paging(&q("limit=abc"), 10, 100)),
            [
                "limit must not be greater than 100",
                "limit must not be less than 1",
                "limit must be an integer number"
            ]
        );
        assert_eq!(
            msgs(parse_paging(&q("page=-1"), 10, 100)),
            ["page must not be less than 0"]
        );
        assert_eq!(
            msgs(parse_paging(&q("limit="), 10, 100)),
            ["limit must not be less than 1"]
        );
    }
}
