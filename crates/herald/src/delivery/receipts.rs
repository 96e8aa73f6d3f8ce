//! Expo receipts: a ticket `ok` only means Expo queued the message; the receipt, ready some
//! minutes later, says whether FCM or APNs took it (`DeviceNotRegistered`: the app is gone). The
//! worker asks for due receipts now and then, prunes dead tokens they report (through the same
//! rules as send-time answers, `prune`), and records what it learnt on the delivery, its message
//! and the job's execution details. Expo keeps receipts for a day; a receipt still missing then
//! is given up on.

use std::collections::HashMap;

use herald_core::delivery::job::{
    DetailSource, DetailStatus, NewExecutionDetail, ReceiptCheck, ReceiptResult, TokenRemoval,
};
use herald_core::delivery::{Attempt, Outcome};
use herald_core::{ObjectId, ProviderId, Timestamp};
use herald_providers::Providers;
use serde_json::json;

use super::prune::{Decision, Sent};
use super::runner::Runner;

/// How long after a send a missing receipt is still waited for (Expo keeps them for 24 h).
const GIVE_UP_AFTER_MS: i64 = 24 * 60 * 60 * 1000;
/// When to ask again for a receipt that is not ready yet.
const NOT_READY_MS: i64 = 15 * 60 * 1000;
/// When to ask again after the receipts call as a whole failed.
const CALL_FAILED_MS: i64 = 5 * 60 * 1000;
/// Receipts asked for per round (Expo takes up to 1000 ids per request).
pub const BATCH: usize = 1000;

fn detail(
    text: String,
    status: DetailStatus,
    check: &ReceiptCheck,
    raw: serde_json::Value,
) -> NewExecutionDetail {
    NewExecutionDetail {
        id: ObjectId::new(),
        message_id: Some(check.message_id.clone()),
        provider_id: Some(check.provider_id),
        detail: text,
        source: DetailSource::Webhook,
        status,
        is_retry: false,
        raw: Some(raw.to_string()),
        created_at: Timestamp::now(),
    }
}

fn later(check: &ReceiptCheck, now: Timestamp, after_ms: i64) -> Option<Timestamp> {
    (now.millis() - check.sent_at.millis() < GIVE_UP_AFTER_MS)
        .then(|| Timestamp::from_millis(now.millis() + after_ms))
}

fn result(check: &ReceiptCheck, ask_again_at: Option<Timestamp>) -> ReceiptResult {
    ReceiptResult {
        delivery_id: check.delivery_id.clone(),
        job_id: check.job_id.clone(),
        message_id: check.message_id.clone(),
        ask_again_at,
        failure: None,
        remove: None,
        details: Vec::new(),
    }
}

/// What a receipt's outcome means for its delivery.
fn judge(runner: &Runner, check: &ReceiptCheck, attempt: &Attempt) -> ReceiptResult {
    let mut r = result(check, None);
    let code = attempt.provider_code.clone();
    let shaped = Providers::is_credential_shaped(check.provider_id, code.as_deref().unwrap_or(""));
    let guard = runner.prune_guard();
    guard.record(
        &check.integration_id,
        match attempt.outcome {
            Outcome::Delivered => Sent::Delivered,
            Outcome::TokenDead if shaped => Sent::CredentialShaped,
            _ => Sent::Other,
        },
    );
    if attempt.outcome == Outcome::Delivered {
        return r;
    }
    let raw = json!({
        "providerId": check.provider_id.as_str(),
        "code": code,
        "token": check.target_hint,
        "receipt": true,
        "detail": attempt.detail,
    });
    r.failure = Some((
        attempt.outcome.class().to_string(),
        code.clone(),
        attempt.detail.clone(),
    ));
    r.details.push(detail(
        "Unexpected provider error".into(),
        DetailStatus::Failed,
        check,
        raw.clone(),
    ));
    if attempt.outcome == Outcome::TokenDead {
        let code = code.unwrap_or_else(|| "dead token".into());
        match guard.decide(&check.integration_id, shaped) {
            Decision::Remove => {
                r.remove = Some(TokenRemoval {
                    integration_id: check.integration_id.clone(),
                    token_hash: check.target.clone(),
                });
                r.details.push(detail(
                    format!("Device token removed: {code}"),
                    DetailStatus::Warning,
                    check,
                    raw,
                ));
            }
            Decision::Keep(why) => r.details.push(detail(
                format!("Device token kept: {why}"),
                DetailStatus::Warning,
                check,
                raw,
            )),
        }
    }
    r
}

/// Asks for the receipts due at `now` and returns what to record.
pub async fn check(runner: &Runner, due: Vec<ReceiptCheck>, now: Timestamp) -> Vec<ReceiptResult> {
    let mut by_integration: HashMap<ObjectId, Vec<ReceiptCheck>> = HashMap::new();
    let mut out = Vec::new();
    for c in due {
        // Only Expo has receipts; an integration deleted since has no credentials to ask with.
        if c.provider_id != ProviderId::Expo || c.integration.is_none() || c.receipt_id.is_empty() {
            out.push(result(&c, None));
            continue;
        }
        by_integration
            .entry(c.integration_id.clone())
            .or_default()
            .push(c);
    }
    for (_, checks) in by_integration {
        let integration = checks[0].integration.as_ref().expect("checked above");
        let ids: Vec<&str> = checks.iter().map(|c| c.receipt_id.as_str()).collect();
        match runner
            .sender()
            .expo_receipts(&integration.credentials, &ids)
            .await
        {
            Err(failed) => {
                tracing::warn!(integration_id = %integration.id, detail = %failed.detail, "asking Expo for receipts failed; asking again later");
                out.extend(
                    checks
                        .iter()
                        .map(|c| result(c, later(c, now, CALL_FAILED_MS))),
                );
            }
            Ok(receipts) => {
                for c in &checks {
                    match receipts.get(&c.receipt_id) {
                        None => out.push(result(c, later(c, now, NOT_READY_MS))),
                        Some(attempt) => out.push(judge(runner, c, attempt)),
                    }
                }
            }
        }
    }
    out
}
