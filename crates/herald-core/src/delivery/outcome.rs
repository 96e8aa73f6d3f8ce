//! The outcome of one provider call, classified the same way for every provider (the classes of
//! the provider tables: delivered, retry, token dead, credential invalid, rejected).

use std::time::Duration;

/// What one provider call came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The provider accepted the message.
    Delivered,
    /// A transient failure (network, timeout, 5xx, 408, 429): try again later, no sooner than
    /// `after` when the provider said so (`Retry-After`, Discord `retry_after`).
    Retry { after: Option<Duration> },
    /// This device token or webhook target will never work again (uninstalled app, deleted
    /// webhook). Never retried; with pruning on, a dead device token is removed.
    TokenDead,
    /// The integration's credentials are wrong or revoked. Never retried; tokens are kept.
    CredentialInvalid,
    /// The provider refused this message (bad payload, 4xx other than 408/429), or Herald refused
    /// to send it (a destination outside the outbound policy, a missing credential). Never retried.
    Rejected,
}

impl Outcome {
    /// Whether the worker schedules another attempt.
    pub fn is_retry(&self) -> bool {
        matches!(self, Outcome::Retry { .. })
    }

    /// The snake-case class name recorded with the attempt.
    pub fn class(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retry { .. } => "retry",
            Outcome::TokenDead => "token_dead",
            Outcome::CredentialInvalid => "credential_invalid",
            Outcome::Rejected => "rejected",
        }
    }
}

/// One provider call as the worker records it. No field ever holds a secret: no webhook URL, no
/// full device token, no request header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub outcome: Outcome,
    /// The provider's HTTP status, when there was an answer.
    pub http_status: Option<u16>,
    /// The provider's own error code (Slack body string, Discord `code`, Mattermost `id`, FCM
    /// `errorCode`, APNs `reason`, …).
    pub provider_code: Option<String>,
    /// The provider's id for the sent message (Discord message `id`, Slack `x-slack-req-id`, …).
    pub provider_message_id: Option<String>,
    /// A human-readable account, at most [`Attempt::MAX_DETAIL`] bytes (a truncated provider
    /// answer, or why Herald did not send).
    pub detail: String,
}

impl Attempt {
    /// The longest [`Attempt::detail`] kept.
    pub const MAX_DETAIL: usize = 512;

    /// An attempt with `outcome` and `detail` (truncated at a character boundary), nothing else.
    pub fn new(outcome: Outcome, detail: impl Into<String>) -> Self {
        Attempt {
            outcome,
            http_status: None,
            provider_code: None,
            provider_message_id: None,
            detail: truncate(detail.into(), Self::MAX_DETAIL),
        }
    }
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detail_is_truncated_at_a_character_boundary() {
        let long = "é".repeat(400); // 800 bytes
        let a = Attempt::new(Outcome::Rejected, long);
        assert!(a.detail.len() <= Attempt::MAX_DETAIL);
        assert_eq!(a.detail.len() % 2, 0);
    }

    #[test]
    fn only_retry_is_retried() {
        assert!(Outcome::Retry { after: None }.is_retry());
        for o in [
            Outcome::Delivered,
            Outcome::TokenDead,
            Outcome::CredentialInvalid,
            Outcome::Rejected,
        ] {
            assert!(!o.is_retry(), "{o:?}");
        }
    }
}
