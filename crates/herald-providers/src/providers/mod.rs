//! One module per provider, each a request builder and a response classifier (STYLE 5b), and
//! the dispatch that picks the module, checks the target and the integration's credentials, and
//! notes which strings of the call are secrets.

pub(crate) mod discord;
pub(crate) mod mattermost;
pub(crate) mod msteams;
pub(crate) mod push_webhook;
pub(crate) mod slack;

use herald_core::delivery::{Attempt, Outcome};
use herald_core::ProviderId;
use serde_json::Value;
use url::Url;

use crate::hints::Secrets;
use crate::outbound::ProviderRequest;
use crate::response::Response;
use crate::{SendRequest, Target};

/// Novu's execution-detail wording for a chat channel without a webhook URL.
pub const MISSING_WEBHOOK_URL: &str = "Webhook URL for the chat channel is missing";

/// The providers this crate delivers through.
pub(crate) const DELIVERED: &[ProviderId] = &[
    ProviderId::Slack,
    ProviderId::Discord,
    ProviderId::MsTeams,
    ProviderId::Mattermost,
    ProviderId::PushWebhook,
];

/// Which classifier reads the answer (and what it needs to know about the request).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Classifier {
    Slack,
    Discord,
    MsTeams { workflows: bool },
    Mattermost,
    PushWebhook,
}

impl Classifier {
    pub fn classify(self, resp: &Response) -> Attempt {
        match self {
            Classifier::Slack => slack::classify(resp),
            Classifier::Discord => discord::classify(resp),
            Classifier::MsTeams { workflows } => msteams::classify(resp, workflows),
            Classifier::Mattermost => mattermost::classify(resp),
            Classifier::PushWebhook => push_webhook::classify(resp),
        }
    }
}

/// A call ready to send.
pub(crate) struct Prepared {
    pub request: ProviderRequest,
    pub classifier: Classifier,
    pub secrets: Secrets,
}

/// Builds the call for `req`, or the attempt that ends it before any traffic (unsupported
/// provider, wrong target, missing webhook URL or credentials).
pub(crate) fn prepare(req: &SendRequest<'_>) -> Result<Prepared, Attempt> {
    let mut secrets = Secrets::default();
    let provider = req.provider;
    let (request, classifier) = match provider {
        ProviderId::Slack | ProviderId::Discord | ProviderId::MsTeams | ProviderId::Mattermost => {
            let Target::Chat { credentials } = req.target else {
                return Err(wrong_target(provider));
            };
            let raw = credentials
                .webhook_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .ok_or_else(|| Attempt::new(Outcome::Rejected, MISSING_WEBHOOK_URL))?;
            secrets.add_url(raw);
            let url = Url::parse(raw).map_err(|e| {
                Attempt::new(
                    Outcome::Rejected,
                    format!("the chat channel's webhook URL is not a valid URL ({e})"),
                )
            })?;
            let m = req.message;
            match provider {
                ProviderId::Slack => (slack::request(url, m), Classifier::Slack),
                ProviderId::Discord => (discord::request(url, m), Classifier::Discord),
                ProviderId::MsTeams => {
                    let workflows = msteams::is_workflows_url(&url);
                    (msteams::request(url, m), Classifier::MsTeams { workflows })
                }
                _ => (
                    mattermost::request(url, m, credentials.channel.as_deref()),
                    Classifier::Mattermost,
                ),
            }
        }
        ProviderId::PushWebhook => {
            let Target::Push { token } = req.target else {
                return Err(wrong_target(provider));
            };
            let setting = |key: &str| {
                req.integration
                    .get(key)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|v| !v.is_empty())
            };
            let invalid = || {
                Attempt::new(
                    Outcome::CredentialInvalid,
                    "Config is not valid for push-webhook provider",
                )
            };
            let (Some(raw), Some(secret)) = (setting("webhookUrl"), setting("secretKey")) else {
                return Err(invalid());
            };
            secrets.add_url(raw);
            secrets.add(secret);
            secrets.add(token);
            if token.trim().is_empty() {
                return Err(Attempt::new(Outcome::Rejected, "the device token is empty"));
            }
            let url = Url::parse(raw).map_err(|e| {
                Attempt::new(
                    Outcome::CredentialInvalid,
                    format!("the push-webhook integration's webhookUrl is not a valid URL ({e})"),
                )
            })?;
            (
                push_webhook::request(url, secret, token, req.message),
                Classifier::PushWebhook,
            )
        }
        other => {
            return Err(Attempt::new(
                Outcome::Rejected,
                format!("{other} is not supported for delivery yet"),
            ))
        }
    };
    Ok(Prepared {
        request,
        classifier,
        secrets,
    })
}

fn wrong_target(provider: ProviderId) -> Attempt {
    let wanted = match provider.channel() {
        herald_core::ChannelType::Push => "a device token",
        _ => "a chat channel",
    };
    Attempt::new(
        Outcome::Rejected,
        format!("{provider} delivers to {wanted}, not to the target given"),
    )
}
