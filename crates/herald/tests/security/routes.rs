//! The routes the API serves, as one table the security tests walk, and tests that keep the table
//! in step with the server: a new route without an entry here (and so without isolation and
//! revocation checks) fails `a_route_table_lists_every_served_route`.

use std::collections::BTreeSet;
use std::path::Path;

use herald::ServerSettings;
use serde_json::{json, Value};

use crate::support::{Api, App, Backend};

/// Every route the API serves with an API key, as `(method, path template)`, spelled as in the
/// OpenAPI document (`#[utoipa::path]` in `crates/herald/src/http/*.rs`).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/subscribers"),
    ("POST", "/v1/subscribers"),
    ("POST", "/v1/subscribers/bulk"),
    // The subscriber whose id is `bulk` (undocumented aliases of the `{subscriberId}` routes).
    ("GET", "/v1/subscribers/bulk"),
    ("PUT", "/v1/subscribers/bulk"),
    ("DELETE", "/v1/subscribers/bulk"),
    ("GET", "/v1/subscribers/{subscriberId}"),
    ("PUT", "/v1/subscribers/{subscriberId}"),
    ("DELETE", "/v1/subscribers/{subscriberId}"),
    ("PATCH", "/v1/subscribers/{subscriberId}/online-status"),
    ("PUT", "/v1/subscribers/{subscriberId}/credentials"),
    ("PATCH", "/v1/subscribers/{subscriberId}/credentials"),
    (
        "DELETE",
        "/v1/subscribers/{subscriberId}/credentials/{providerId}",
    ),
    (
        "POST",
        "/v1/subscribers/{subscriberId}/credentials/{providerId}/device-tokens",
    ),
    (
        "POST",
        "/v1/subscribers/{subscriberId}/credentials/{providerId}/device-tokens/removal",
    ),
    ("GET", "/v1/integrations"),
    ("POST", "/v1/integrations"),
    ("GET", "/v1/integrations/active"),
    ("PUT", "/v1/integrations/{integrationId}"),
    ("DELETE", "/v1/integrations/{integrationId}"),
    ("POST", "/v1/integrations/{integrationId}/set-primary"),
    ("POST", "/v1/topics"),
    ("GET", "/v1/topics"),
    ("GET", "/v1/topics/{topicKey}"),
    ("PATCH", "/v1/topics/{topicKey}"),
    ("DELETE", "/v1/topics/{topicKey}"),
    ("POST", "/v1/topics/{topicKey}/subscribers"),
    ("POST", "/v1/topics/{topicKey}/subscribers/removal"),
    // The membership check of the subscriber whose id is `removal` (undocumented alias).
    ("GET", "/v1/topics/{topicKey}/subscribers/removal"),
    (
        "GET",
        "/v1/topics/{topicKey}/subscribers/{externalSubscriberId}",
    ),
    ("POST", "/v2/subscribers"),
    ("GET", "/v2/subscribers"),
    ("GET", "/v2/subscribers/{subscriberId}"),
    ("PATCH", "/v2/subscribers/{subscriberId}"),
    ("DELETE", "/v2/subscribers/{subscriberId}"),
    ("GET", "/v2/subscribers/{subscriberId}/subscriptions"),
    ("POST", "/v2/topics"),
    ("GET", "/v2/topics"),
    ("GET", "/v2/topics/{topicKey}"),
    ("PATCH", "/v2/topics/{topicKey}"),
    ("DELETE", "/v2/topics/{topicKey}"),
    ("GET", "/v2/topics/{topicKey}/subscriptions"),
    ("POST", "/v2/topics/{topicKey}/subscriptions"),
    ("DELETE", "/v2/topics/{topicKey}/subscriptions"),
    ("GET", "/v2/topics/{topicKey}/subscriptions/{identifier}"),
    ("GET", "/v1/notification-groups"),
    ("POST", "/v1/notification-groups"),
    ("GET", "/v1/notification-groups/{id}"),
    ("POST", "/v1/workflows"),
    ("GET", "/v1/workflows"),
    ("GET", "/v1/workflows/{workflowId}"),
    ("PUT", "/v1/workflows/{workflowId}"),
    ("DELETE", "/v1/workflows/{workflowId}"),
    ("PUT", "/v1/workflows/{workflowId}/status"),
    ("POST", "/v1/notification-templates"),
    ("GET", "/v1/notification-templates"),
    ("GET", "/v1/notification-templates/{templateId}"),
    ("PUT", "/v1/notification-templates/{templateId}"),
    ("DELETE", "/v1/notification-templates/{templateId}"),
    ("PUT", "/v1/notification-templates/{templateId}/status"),
    ("POST", "/v2/workflows"),
    ("GET", "/v2/workflows"),
    ("GET", "/v2/workflows/{workflowId}"),
    ("PUT", "/v2/workflows/{workflowId}"),
    ("PATCH", "/v2/workflows/{workflowId}"),
    ("DELETE", "/v2/workflows/{workflowId}"),
    ("PUT", "/v2/workflows/{workflowId}/sync"),
    ("POST", "/v1/events/trigger"),
    ("POST", "/v1/events/trigger/bulk"),
    ("POST", "/v1/events/trigger/broadcast"),
    ("DELETE", "/v1/events/trigger/{transactionId}"),
    ("GET", "/v1/messages"),
    ("DELETE", "/v1/messages/{messageId}"),
    ("DELETE", "/v1/messages/transaction/{transactionId}"),
    ("GET", "/v1/notifications"),
    ("GET", "/v1/notifications/{notificationId}"),
    ("GET", "/v1/execution-details"),
];

/// Routes served without a key: liveness, readiness, the OpenAPI document and its rendering.
pub const PUBLIC_ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/health-check"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
];

/// The values a route template's placeholders are filled with.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    pub subscriber: &'a str,
    pub provider: &'a str,
    pub integration: &'a str,
    pub topic: &'a str,
    /// A workflow's `_id` (v1 routes take nothing else; v2 routes take it too).
    pub workflow: &'a str,
    /// A notification group's `_id`.
    pub group: &'a str,
    /// A trigger's `transactionId`, one of its messages' `_id` and its notification's `_id`.
    pub transaction: &'a str,
    pub message: &'a str,
    pub notification: &'a str,
}

impl Target<'_> {
    /// `template` with its placeholders filled in; a subscription's `{identifier}` is
    /// `<topicKey>:<subscriberId>`.
    pub fn fill(&self, template: &str) -> String {
        template
            .replace(
                "{identifier}",
                &format!("{}:{}", self.topic, self.subscriber),
            )
            .replace("{subscriberId}", self.subscriber)
            .replace("{externalSubscriberId}", self.subscriber)
            .replace("{providerId}", self.provider)
            .replace("{integrationId}", self.integration)
            .replace("{topicKey}", self.topic)
            .replace("{workflowId}", self.workflow)
            .replace("{templateId}", self.workflow)
            .replace("{id}", self.group)
            .replace("{transactionId}", self.transaction)
            .replace("{messageId}", self.message)
            .replace("{notificationId}", self.notification)
    }
}

/// A plausible, valid body for each route that reads one (`Null` for the others); `id` names what
/// a create makes (a subscriber or a topic key) and whom a membership call adds or removes.
pub fn sample_body(method: &str, template: &str, id: &str) -> Value {
    match (method, template) {
        ("POST", "/v1/subscribers") | ("POST", "/v2/subscribers") => {
            json!({"subscriberId": id, "firstName": "Sample"})
        }
        ("POST", "/v1/subscribers/bulk") => {
            json!({"subscribers": [{"subscriberId": id, "firstName": "Sample"}]})
        }
        ("PUT", "/v1/subscribers/{subscriberId}")
        | ("PUT", "/v1/subscribers/bulk")
        | ("PATCH", "/v2/subscribers/{subscriberId}") => {
            json!({"firstName": "Sample"})
        }
        ("PATCH", "/v1/subscribers/{subscriberId}/online-status") => json!({"isOnline": false}),
        (_, "/v1/subscribers/{subscriberId}/credentials") => {
            json!({"providerId": "fcm", "credentials": {"deviceTokens": ["sample-token"]}})
        }
        ("POST", "/v1/subscribers/{subscriberId}/credentials/{providerId}/device-tokens")
        | (
            "POST",
            "/v1/subscribers/{subscriberId}/credentials/{providerId}/device-tokens/removal",
        ) => {
            json!({"deviceTokens": ["sample-token"]})
        }
        ("POST", "/v1/integrations") => {
            json!({"providerId": "slack", "channel": "chat", "active": true})
        }
        ("PUT", "/v1/integrations/{integrationId}") => json!({"name": "Sample"}),
        ("POST", "/v1/topics") | ("POST", "/v2/topics") => json!({"key": id, "name": "Sample"}),
        ("PATCH", "/v1/topics/{topicKey}") | ("PATCH", "/v2/topics/{topicKey}") => {
            json!({"name": "Sample"})
        }
        ("POST", "/v1/topics/{topicKey}/subscribers")
        | ("POST", "/v1/topics/{topicKey}/subscribers/removal") => json!({"subscribers": [id]}),
        (_, "/v2/topics/{topicKey}/subscriptions") if method != "GET" => {
            json!({"subscriberIds": [id]})
        }
        ("POST", "/v1/notification-groups") => json!({"name": id}),
        ("PUT", "/v1/workflows/{workflowId}/status")
        | ("PUT", "/v1/notification-templates/{templateId}/status") => json!({"active": true}),
        ("PUT", "/v1/workflows/{workflowId}")
        | ("PUT", "/v1/notification-templates/{templateId}") => {
            json!({"name": "Sample", "tags": ["sample"]})
        }
        ("POST", "/v2/workflows") => json!({"name": "Sample", "workflowId": id, "steps": [
            {"name": "Chat", "type": "chat", "controlValues": {"body": "Sample"}}]}),
        ("PUT", "/v2/workflows/{workflowId}") => json!({"name": "Sample", "preferences": {},
            "steps": [{"name": "Chat", "type": "chat", "controlValues": {"body": "Sample"}}]}),
        ("PATCH", "/v2/workflows/{workflowId}") => json!({"name": "Sample", "active": true}),
        ("POST", "/v1/events/trigger") => json!({"name": "owner.v2", "to": id}),
        ("POST", "/v1/events/trigger/bulk") => {
            json!({"events": [{"name": "owner.v2", "to": id}]})
        }
        ("POST", "/v1/events/trigger/broadcast") => json!({"name": "owner.v2", "payload": {}}),
        _ => Value::Null,
    }
}

/// `(method, template)` of every route the server serves: the operations of its OpenAPI document
/// (`utoipa_axum::routes!` registers a handler and its documentation together), every
/// `.route("template", …)` call in `src/http/*.rs` (undocumented routes) and every
/// `SwaggerUi::new("…")` mount.
fn served_routes() -> BTreeSet<(String, String)> {
    let doc = serde_json::to_value(herald::http::openapi_document()).expect("the document");
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("a path item").keys() {
            routes.insert((method.to_uppercase(), path.clone()));
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/http");
    for entry in std::fs::read_dir(&dir).expect("src/http") {
        let path = entry.expect("directory entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("router source");
        for call in source.split(".route(").skip(1) {
            let call = up_to_closing_paren(call);
            let template = first_string(call, &path);
            for method in ["get", "post", "put", "patch", "delete"] {
                if calls(call, method) {
                    routes.insert((method.to_uppercase(), template.to_string()));
                }
            }
        }
        for call in source.split("SwaggerUi::new(").skip(1) {
            let template = first_string(up_to_closing_paren(call), &path);
            routes.insert(("GET".to_string(), template.to_string()));
        }
    }
    routes
}

/// The first string literal of a call's arguments.
fn first_string<'a>(call: &'a str, file: &Path) -> &'a str {
    call.split('"')
        .nth(1)
        .unwrap_or_else(|| panic!("no path in ({call}) of {}", file.display()))
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
    assert!(served.len() >= 40, "the route discovery found {served:?}");
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

/// The document states the access rule the server applies: every documented operation requires
/// the API key except the public ones (`security: [{}]`).
#[test]
fn the_document_marks_exactly_the_public_routes_as_needing_no_key() {
    let doc = serde_json::to_value(herald::http::openapi_document()).expect("the document");
    assert_eq!(doc["security"], json!([{"ApiKey": []}]));
    let mut public = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            if op.get("security") == Some(&json!([{}])) {
                public.insert((method.to_uppercase(), path.clone()));
            } else {
                assert_eq!(op.get("security"), None, "{method} {path}");
            }
        }
    }
    // The document and its rendering are not operations of the document.
    let documented_public: BTreeSet<(String, String)> = PUBLIC_ROUTES
        .iter()
        .filter(|(_, t)| !["/openapi.json", "/docs"].contains(t))
        .map(|(m, t)| (m.to_string(), t.to_string()))
        .collect();
    assert_eq!(public, documented_public);
}

both_backends!(the_public_routes_answer_without_a_key);

async fn the_public_routes_answer_without_a_key(backend: Backend) {
    let Some(app) = App::spawn(backend, ServerSettings::default()).await else {
        return;
    };
    let anonymous = Api::new(app.dev.addr, None);
    let health = anonymous.get("/v1/health-check").await;
    assert_eq!(health.data(200), &json!({"status": "ok"}));
    let ready = anonymous.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.brief());
    assert_eq!(ready.body["status"], "ready");
    let doc = anonymous.get("/openapi.json").await;
    assert_eq!(doc.status, 200, "{}", doc.brief());
    assert!(doc.body["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1")));
    // The rendering is a page (served directly or after a redirect to `/docs/`), not an error.
    let docs = anonymous.get("/docs/").await;
    assert_eq!(docs.status, 200, "{}", docs.brief());
    assert!(
        docs.content_type()
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        docs.content_type()
    );
}
