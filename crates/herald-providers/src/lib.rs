//! Herald's providers: one module per chat and push provider, each turning a rendered message,
//! a target and the integration's credentials into one HTTP request and the provider's answer
//! into one [`Attempt`], all over one outbound HTTP client that refuses to reach loopback,
//! private, link-local and metadata addresses unless the operator allows them. The worker
//! (crate `herald`) owns retries and recording. The only state kept between calls is the
//! providers' short-lived auth tokens (FCM OAuth access tokens, APNs provider JWTs), cached per
//! credential so that thousands of sends mint one.
//!
//! # Calls
//!
//! - [`Providers::send`]: one message to one target (a chat channel or one device token).
//! - [`Providers::send_push`]: one message to several device tokens of one integration, one
//!   [`Attempt`] per token in order: concurrent single requests for most providers, requests of
//!   up to 100 tokens for Expo.
//! - [`Providers::expo_receipts`]: the outcome of earlier Expo sends by receipt id (the
//!   `provider_message_id` of a delivered Expo attempt), for a poller; ids without a receipt yet
//!   are absent from the answer.
//! - [`Providers::is_credential_shaped`]: whether a dead-token code may really be a wrong
//!   integration setting (FCM `SENDER_ID_MISMATCH`, APNs `BadDeviceToken`, …), for the worker's
//!   pruning safety valve.
//!
//! # Configuration ([`ProvidersConfig::from_vars`])
//!
//! - `HERALD_OUTBOUND_ALLOW`: comma-separated IP addresses and CIDR networks that may be reached
//!   although their class is refused (e.g. `127.0.0.1,10.20.0.0/16` for a provider fake or an
//!   internal Mattermost). Empty by default: every webhook must be on a public address.
//! - `HERALD_PROVIDER_ENDPOINT_<ID>`: a base URL replacing a provider's fixed host (provider id
//!   upper-cased, `-` as `_`), the provider's own path appended. FCM's OAuth token URL is the
//!   service account's `token_uri`, not an override.
//!
//! # How answers are classified
//!
//! Shared by every provider: 2xx delivered; 408, 429 and 5xx retried, no sooner than
//! `Retry-After` (seconds or an HTTP date, at most [`MAX_RETRY_AFTER`]); network errors and
//! timeouts retried; other 4xx rejected; a 3xx rejected ("redirect not followed"); a refused
//! destination rejected. Each provider refines this with its own error codes (FCM `errorCode`,
//! APNs `reason`, Expo `details.error`, Slack's body string, Discord's `code`, …): see the module
//! of each provider for its table, and `docs/providers.md` for the whole list.
#![forbid(unsafe_code)]

pub mod config;
mod hints;
mod idempotency;
pub mod outbound;
mod providers;
mod response;
mod settings;

use std::collections::HashMap;

use futures::stream::{self, StreamExt};
use herald_core::delivery::Attempt;
use herald_core::{ChannelCredentials, ProviderId};
use serde_json::{Map, Value};

pub use config::{
    parse_allow_list, parse_provider_endpoints, ConfigError, OutboundConfig, ProvidersConfig,
};
pub use hints::{token_hint, webhook_hint};
pub use outbound::BuildError;
pub use providers::{MISSING_PHONE, MISSING_WEBHOOK_URL};
pub use response::MAX_RETRY_AFTER;

/// How many single-token requests of one [`Providers::send_push`] call are in flight at once.
pub const PUSH_CONCURRENCY: usize = 16;

/// The providers, sharing one HTTP client (and its connection pool) and the auth-token caches.
/// Cheap to share behind an `Arc`; every call takes `&self` and may run concurrently.
pub struct Providers {
    outbound: outbound::Outbound,
    /// HTTP/2 only, for APNs.
    outbound_h2: outbound::Outbound,
    config: ProvidersConfig,
    fcm_tokens: providers::fcm::TokenCache,
    apns_tokens: providers::apns::TokenCache,
}

/// One provider call to make.
#[derive(Clone, Copy, Debug)]
pub struct SendRequest<'a> {
    pub provider: ProviderId,
    /// The integration's decrypted credentials (`webhookUrl` and `secretKey` for push-webhook,
    /// `serviceAccount` for FCM, …; `docs/providers.md` lists them per provider).
    pub integration: &'a Map<String, Value>,
    pub target: Target<'a>,
    pub message: &'a Message<'a>,
    /// A key that stays the same across every attempt of one delivery (the worker passes the
    /// delivery's id). Providers that deduplicate send it along (OneSignal `idempotency_key`,
    /// LINE `X-Line-Retry-Key`, as a UUID derived from it), so a retry after a lost answer is
    /// not delivered twice; the others ignore it. Empty: no key is sent.
    pub idempotency_key: &'a str,
}

/// Where the message goes.
#[derive(Clone, Copy, Debug)]
pub enum Target<'a> {
    /// A subscriber's chat channel (`webhookUrl`, Mattermost's `channel`, the room or chat id of
    /// Rocket.Chat, Telegram, LINE and Webex, …) and the subscriber's phone number, which
    /// WhatsApp Business and Sendblue deliver to (`None` when the subscriber has none; the other
    /// providers ignore it).
    Chat {
        credentials: &'a ChannelCredentials,
        phone: Option<&'a str>,
    },
    /// One device token (push sends one request per token, or Expo's batch).
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
    /// `customData`, push-webhook's `overrides`, FCM's `type`/`android`/`apns`/`data`, …
    pub overrides: &'a Map<String, Value>,
    /// The subscriber as JSON (push-webhook sends it in `payload.subscriber`).
    pub subscriber: &'a Value,
    /// Push-webhook's `payload.step` (`{digest, events, total_count}` in Novu).
    pub step: &'a Value,
}

/// One message to several device tokens of one integration ([`Providers::send_push`]).
#[derive(Clone, Copy, Debug)]
pub struct PushBatch<'a> {
    pub provider: ProviderId,
    pub integration: &'a Map<String, Value>,
    pub tokens: &'a [PushToken<'a>],
    pub message: &'a Message<'a>,
}

/// One device token of a [`PushBatch`] and the idempotency key of its delivery (see
/// [`SendRequest::idempotency_key`]).
#[derive(Clone, Copy, Debug)]
pub struct PushToken<'a> {
    pub token: &'a str,
    pub idempotency_key: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum ProvidersError {
    #[error(transparent)]
    Client(#[from] BuildError),
}

impl Providers {
    pub fn new(config: ProvidersConfig) -> Result<Providers, ProvidersError> {
        let outbound = outbound::Outbound::new(&config.outbound, outbound::Http::Any)?;
        let outbound_h2 = outbound::Outbound::new(&config.outbound, outbound::Http::Http2Only)?;
        Ok(Providers {
            outbound,
            outbound_h2,
            config,
            fcm_tokens: providers::fcm::TokenCache::default(),
            apns_tokens: providers::apns::TokenCache::default(),
        })
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

    /// Whether `code` (an [`Attempt::provider_code`] of a `TokenDead` attempt from `provider`)
    /// can also mean that the integration is set up wrongly rather than that the token died:
    /// FCM `SENDER_ID_MISMATCH` (a wrong `project_id`), APNs `BadDeviceToken` (the production
    /// switch) and `DeviceTokenNotForTopic` (the bundle id). When most tokens of one integration
    /// fail with such a code at once, the integration is the likelier culprit.
    pub fn is_credential_shaped(provider: ProviderId, code: &str) -> bool {
        match provider {
            ProviderId::Fcm => code == "SENDER_ID_MISMATCH",
            ProviderId::Apns => matches!(code, "BadDeviceToken" | "DeviceTokenNotForTopic"),
            _ => false,
        }
    }

    /// Makes the call and classifies the answer. Never panics on input, and the attempt holds
    /// no webhook URL, token, key or request header.
    pub async fn send(&self, req: &SendRequest<'_>) -> Attempt {
        match req.provider {
            ProviderId::Fcm => providers::fcm::send(self, req).await,
            ProviderId::Apns => providers::apns::send(self, req).await,
            ProviderId::Expo => {
                let Target::Push { token } = req.target else {
                    return providers::wrong_target(req.provider);
                };
                let tokens = [PushToken {
                    token,
                    idempotency_key: req.idempotency_key,
                }];
                let mut attempts =
                    providers::expo::send_batch(self, req.integration, &tokens, req.message).await;
                attempts.pop().unwrap_or_else(|| {
                    Attempt::new(
                        herald_core::delivery::Outcome::Retry { after: None },
                        "Expo answered no ticket for the token",
                    )
                })
            }
            _ => self.send_prepared(req).await,
        }
    }

    /// The single-request providers: build, send once, classify.
    async fn send_prepared(&self, req: &SendRequest<'_>) -> Attempt {
        let prepared = match providers::prepare(req, &self.config) {
            Ok(p) => p,
            Err(attempt) => return attempt,
        };
        let attempt = match self.outbound.post(prepared.request).await {
            Ok(resp) => prepared.classifier.classify(&resp),
            Err(attempt) => attempt,
        };
        prepared.secrets.scrub(attempt)
    }

    /// Sends `batch.message` to every token of `batch`, each only through `batch.integration`,
    /// and returns one attempt per token in the order given. Expo takes up to 100 tokens per
    /// request; every other provider gets one request per token, at most [`PUSH_CONCURRENCY`]
    /// at a time. Chat providers are rejected per token like [`Providers::send`] would.
    pub async fn send_push(&self, batch: &PushBatch<'_>) -> Vec<Attempt> {
        if batch.provider == ProviderId::Expo {
            return providers::expo::send_batch(
                self,
                batch.integration,
                batch.tokens,
                batch.message,
            )
            .await;
        }
        // The futures are built in a loop rather than by a closure over the stream: a closure
        // taking references makes the whole future lose `Send` (a known inference limit), and
        // the worker spawns it.
        let mut sends = Vec::with_capacity(batch.tokens.len());
        for (i, t) in batch.tokens.iter().enumerate() {
            sends.push(self.send_one(i, batch, t));
        }
        let mut indexed: Vec<(usize, Attempt)> = stream::iter(sends)
            .buffer_unordered(PUSH_CONCURRENCY)
            .collect()
            .await;
        indexed.sort_by_key(|(i, _)| *i);
        indexed.into_iter().map(|(_, a)| a).collect()
    }

    async fn send_one(
        &self,
        i: usize,
        batch: &PushBatch<'_>,
        t: &PushToken<'_>,
    ) -> (usize, Attempt) {
        let req = SendRequest {
            provider: batch.provider,
            integration: batch.integration,
            target: Target::Push { token: t.token },
            message: batch.message,
            idempotency_key: t.idempotency_key,
        };
        (i, self.send(&req).await)
    }

    /// The receipts of earlier Expo sends, by receipt id (the `provider_message_id` of a
    /// delivered Expo attempt): each id Expo has a receipt for maps to its outcome, classified
    /// like a ticket (`DeviceNotRegistered` is `TokenDead`, `InvalidCredentials` is
    /// `CredentialInvalid`, …; `ok` is `Delivered`). Ids without a receipt yet are absent. Asks
    /// in requests of up to 1000 ids. `Err` when the call as a whole failed (the attempt says
    /// whether to try again later, or that the integration's access token is invalid).
    pub async fn expo_receipts(
        &self,
        integration: &Map<String, Value>,
        receipt_ids: &[&str],
    ) -> Result<HashMap<String, Attempt>, Attempt> {
        providers::expo::receipts(self, integration, receipt_ids).await
    }
}
