//! The routes the API serves, as one table the security tests walk, and a test that keeps the
//! table in step with the routers: a new route without an entry here (and so without isolation
//! and revocation checks) fails `a_route_table_lists_every_served_route`.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};

/// Every route the API serves with an API key, as `(method, path template)`, in the routers' own
/// spelling (`crates/herald/src/http/*.rs`).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/subscribers"),
    ("POST", "/v1/subscribers"),
    ("POST", "/v1/subscribers/bulk"),
    ("GET", "/v1/subscribers/{subscriber_id}"),
    ("PUT", "/v1/subscribers/{subscriber_id}"),
    ("DELETE", "/v1/subscribers/{subscriber_id}"),
    ("PATCH", "/v1/subscribers/{subscriber_id}/online-status"),
    ("PUT", "/v1/subscribers/{subscriber_id}/credentials"),
    ("PATCH", "/v1/subscribers/{subscriber_id}/credentials"),
    (
        "DELETE",
        "/v1/subscribers/{subscriber_id}/credentials/{provider_id}",
    ),
    ("GET", "/v1/integrations"),
    ("POST", "/v1/integrations"),
    ("GET", "/v1/integrations/active"),
    ("PUT", "/v1/integrations/{integration_id}"),
    ("DELETE", "/v1/integrations/{integration_id}"),
    ("POST", "/v1/integrations/{integration_id}/set-primary"),
    ("POST", "/v2/subscribers"),
    ("GET", "/v2/subscribers/{subscriber_id}"),
    ("PATCH", "/v2/subscribers/{subscriber_id}"),
    ("DELETE", "/v2/subscribers/{subscriber_id}"),
];

/// Routes served without a key.
pub const PUBLIC_ROUTES: &[(&str, &str)] = &[("GET", "/v1/health-check")];

/// `template` with its placeholders filled in.
pub fn fill(template: &str, subscriber: &str, provider: &str, integration: &str) -> String {
    template
        .replace("{subscriber_id}", subscriber)
        .replace("{provider_id}", provider)
        .replace("{integration_id}", integration)
}

/// A plausible, valid body for each route that reads one (`Null` for the others).
pub fn sample_body(method: &str, template: &str, subscriber: &str) -> Value {
    match (method, template) {
        ("POST", "/v1/subscribers") | ("POST", "/v2/subscribers") => {
            json!({"subscriberId": subscriber, "firstName": "Sample"})
        }
        ("POST", "/v1/subscribers/bulk") => {
            json!({"subscribers": [{"subscriberId": subscriber, "firstName": "Sample"}]})
        }
        ("PUT", "/v1/subscribers/{subscriber_id}")
        | ("PATCH", "/v2/subscribers/{subscriber_id}") => {
            json!({"firstName": "Sample"})
        }
        ("PATCH", "/v1/subscribers/{subscriber_id}/online-status") => json!({"isOnline": false}),
        (_, "/v1/subscribers/{subscriber_id}/credentials") => {
            json!({"providerId": "fcm", "credentials": {"deviceTokens": ["sample-token"]}})
        }
        ("POST", "/v1/integrations") => {
            json!({"providerId": "slack", "channel": "chat", "active": true})
        }
        ("PUT", "/v1/integrations/{integration_id}") => json!({"name": "Sample"}),
        _ => Value::Null,
    }
}

/// `(method, template)` of every `.route("template", method(handler).method(handler))` call in
/// `src/http/*.rs`.
fn served_routes() -> BTreeSet<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    let mut routes = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("src/http") {
        let path = entry.expect("directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("router source");
        for call in source.split(".route(").skip(1) {
            let call = up_to_closing_paren(call);
            let template = call
                .split('"')
                .nth(1)
                .unwrap_or_else(|| panic!("no path in .route({call}) of {}", path.display()));
            for method in ["get", "post", "put", "patch", "delete"] {
                if calls(call, method) {
                    routes.insert((method.to_uppercase(), template.to_string()));
                }
            }
        }
    }
    routes
}

/// The text of a call's arguments: `s` up to the parenthesis that closes the call.
fn up_to_closing_paren(s: &str) -> &str {
    let mut depth = 1;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &s[..i];
                }
            }
            _ => {}
        }
    }
    s
}

/// Whether `code` calls `name(…)` (as a word: `get(` but not `budget(`).
fn calls(code: &str, name: &str) -> bool {
    let pattern = format!("{name}(");
    code.match_indices(&pattern).any(|(i, _)| {
        !code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn a_route_table_lists_every_served_route() {
    let served = served_routes();
    let listed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .chain(PUBLIC_ROUTES)
        .map(|(m, t)| (m.to_string(), t.to_string()))
        .collect();
    assert!(served.len() >= 20, "the router parse found {served:?}");
    let missing: Vec<_> = served.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "served but not in ROUTES (add them, and their isolation expectation): {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&served).collect();
    assert!(
        stale.is_empty(),
        "ROUTES lists routes no longer served: {stale:?}"
    );
}
