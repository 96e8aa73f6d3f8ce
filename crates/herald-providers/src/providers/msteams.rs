//! Microsoft Teams webhooks: Workflows (Power Automate) URLs and the retiring Office 365
//! connector URLs.
//! Content that is a JSON object (a card) is sent byte for byte as written. Plain text goes as
//! `{text}` to legacy connector URLs, as Novu sends it, and inside the adaptive-card envelope to
//! Workflows (Power Automate) URLs, whose "post to a channel" flow expects that shape. Any 2xx is
//! accepted (Workflows answer 202); legacy connectors sometimes answer 200 with a failure text.

use herald_core::delivery::{Attempt, Outcome};
use serde_json::{json, Value};
use url::Url;

use crate::outbound::ProviderRequest;
use crate::response::Response;
use crate::Message;

/// Hosts of Teams Workflows webhooks (Power Automate / Logic Apps / Power Platform).
const WORKFLOWS_DOMAINS: &[&str] = &["logic.azure.com", "powerautomate.com", "powerplatform.com"];

pub(crate) fn is_workflows_url(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    WORKFLOWS_DOMAINS
        .iter()
        .any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

pub(crate) fn request(url: Url, message: &Message<'_>) -> ProviderRequest {
    let content = message.content;
    if matches!(serde_json::from_str::<Value>(content), Ok(Value::Object(_))) {
        return ProviderRequest::bytes(url, content.as_bytes().to_vec());
    }
    let body = if is_workflows_url(&url) {
        json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": [{"type": "TextBlock", "text": content, "wrap": true}]
                }
            }]
        })
    } else {
        json!({ "text": content })
    };
    ProviderRequest::json(url, &body)
}

/// The status a legacy connector reports inside a 200 ("Webhook message delivery failed with
/// error: Microsoft Teams endpoint returned HTTP error 400 …"), when the body is such a report.
fn legacy_failure(text: &str) -> Option<u16> {
    let lower = text.to_ascii_lowercase();
    if !lower.contains("delivery failed") {
        return None;
    }
    let at = lower.find("http error")? + "http error".len();
    let digits: String = lower[at..]
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn outcome_of(status: u16, retry: Outcome) -> Outcome {
    match status {
        // The flow or the connector was deleted.
        404 | 410 => Outcome::TokenDead,
        408 | 429 | 500..=599 => retry,
        // 401/403: the flow only accepts its tenant's users, or its owner lost access — a
        // configuration problem of the webhook that retrying cannot fix; the URL is kept.
        _ => Outcome::Rejected,
    }
}

pub(crate) fn classify(resp: &Response, workflows: bool) -> Attempt {
    let run_id = resp
        .header("request-id")
        .or_else(|| resp.header("x-ms-workflow-run-id"))
        .map(str::to_owned);
    if resp.is_success() {
        if !workflows {
            if let Some(inner) = legacy_failure(&resp.text()) {
                let outcome = outcome_of(inner, Outcome::Retry { after: None });
                let mut a = resp.attempt(
                    outcome,
                    format!(
                        "Teams answered HTTP {} reporting a failure: {}",
                        resp.status,
                        resp.excerpt()
                    ),
                );
                a.provider_code = Some(inner.to_string());
                return a;
            }
        }
        let mut a = resp.attempt(
            Outcome::Delivered,
            format!("Teams accepted the message (HTTP {})", resp.status),
        );
        a.provider_message_id = run_id;
        return a;
    }
    // Workflows errors follow the Logic Apps shape `{"error": {"code", "message"}}`.
    let json = resp.json().unwrap_or(Value::Null);
    let error = json.get("error");
    let code = error
        .and_then(|e| e.get("code"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let said = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(crate::response::excerpt)
        .unwrap_or_else(|| resp.excerpt());
    let outcome = outcome_of(resp.status, resp.status_outcome());
    let mut a = resp.attempt(outcome, resp.answered("Teams", &said));
    a.provider_code = code;
    a
}
