//! Herald's providers: one module per chat and push provider, each turning a rendered message,
//! a target and the integration's credentials into one HTTP request and the provider's answer
//! into one [`Attempt`], all over one outbound HTTP client that refuses to reach loopback,
//! private, link-local and metadata addresses unless the operator allows them. The worker
//! (crate `herald`) owns retries and recording; nothing here keeps state between calls.
//!
//! # Configuration ([`ProvidersConfig::from_vars`])
//!
//! - `HERALD_OUTBOUND_ALLOW`: comma-separated IP addresses and CIDR networks that may be reached
//!   although their class is refused (e.g. `127.0.0.1,10.20.0.0/16` for a provider fake or an
//!   internal Mattermost). Empty by default: every webhook must be on a public address.
//! - `HERALD_PROVIDER_ENDPOINT_<ID>`: a base URL replacing a provider's fixed host (provider id
//!   upper-cased, `-` as `_`), the provider's own path appended.
//!
//! # How answers are classified
//!
//! Shared by every provider: 2xx delivered; 408, 429 and 5xx retried, no sooner than
//! `Retry-After` (seconds or an HTTP date, at most [`MAX_RETRY_AFTER`]); network errors and
//! timeouts retried; other 4xx rejected; a 3xx rejected ("redirect not followed"); a refused
//! destination rejected. Each provider refines this with its own error codes (Slack's body
//! string, Discord's `code`, Mattermost's AppError `id`, the Teams legacy failure text): see the
//! module of each provider for its table.
#![forbid(unsafe_code)]

pub mod config;
mod hints;
pub mod outbound;
mod providers;
mod response;

use herald_core::delivery::Attempt;
use herald_core::{ChannelCredentials, ProviderId};
use serde_json::{Map, Value};

pub use config::{
    parse_allow_list, parse_provider_endpoints, ConfigError, OutboundConfig, ProvidersConfig,
};
pub use hints::{token_hint, webhook_hint};
pub use outbound::BuildError;
pub use providers::MISSING_WEBHOOK_URL;
pub use response::MAX_RETRY_AFTER;

/// The providers, sharing one HTTP client (and its connection pool). Cheap to share behind an
/// `Arc`; `send` takes `&self` and may run concurrently.
pub struct Providers {
    outbound: outbound::Outbound,
    config: ProvidersConfig,
}

/// One provider call to make.
#[derive(Clone, Copy, Debug)]
pub struct SendRequest<'a> {
    pub provider: ProviderId,
    /// The integration's decrypted credentials (`webhookUrl` and `secretKey` for push-webhook).
    pub integration: &'a Map<String, Value>,
    pub target: Target<'a>,
    pub message: &'a Message<'a>,
}

/// Where the message goes.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// A subscriber's chat channel (`webhookUrl`, Mattermost's `channel`, …).
    Chat { credentials: &'a ChannelCredentials },
    /// One device token (push sends one request per token).
    Push { token: &'a str },
}

/// The rendered message and what the providers send along with it.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    /// The rendered push title (`None`: no title key is sent).
    pub title: Option<&'a str>,
    pub content: &'a str,
    /// The trigger payload.
    pub payload: &'a Value,
    /// The overrides for this step and provider, already merged: Slack's and Discord's
    /// `customData`, push-webhook's `overrides`.
    pub overrides: &'a Map<String, Value>,
    /// The subscriber as JSON (push-webhook sends it in `payload.subscriber`).
    pub subscriber: &'a Value,
    /// Push-webhook's `payload.step` (`{digest, events, total_count}` in Novu).
    pub step: &'a Value,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvidersError {
    #[error(transparent)]
    Client(#[from] BuildError),
}

impl Providers {
    pub fn new(config: ProvidersConfig) -> Result<Providers, ProvidersError> {
        let outbound = outbound::Outbound::new(&config.outbound)?;
        Ok(Providers { outbound, config })
    }

    /// The configuration this was built from (the endpoint overrides, the outbound limits).
    pub fn config(&self) -> &ProvidersConfig {
        &self.config
    }

    /// Whether Herald delivers through `provider` (the others answer "not supported for
    /// delivery yet").
    pub fn delivers(provider: ProviderId) -> bool {
        providers::DELIVERED.contains(&provider)
    }

    /// Makes the call and classifies the answer. Never panics on input, and the attempt holds
    /// no webhook URL, token, key or request header.
    pub async fn send(&self, req: &SendRequest<'_>) -> Attempt {
        let prepared = match providers::prepare(req) {
            Ok(p) => p,
            Err(attempt) => return attempt,
        };
        let attempt = match self.outbound.post(prepared.request).await {
            Ok(resp) => prepared.classifier.classify(&resp),
            Err(attempt) => attempt,
        };
        prepared.secrets.scrub(attempt)
    }
}
