//! One module per provider, each a request builder and a response classifier (STYLE 5b), and
//! the dispatch that picks the module, checks the target and the integration's credentials, and
//! notes which strings of the call are secrets. FCM, APNs and Expo run their own flows (auth
//! tokens, retry-once on a stale token, batches); every other provider is one request built by
//! its module's `prepare` and read by its `classify`.

pub(crate) mod apns;
pub(crate) mod chat_webhook;
pub(crate) mod discord;
pub(crate) mod expo;
pub(crate) mod fcm;
pub(crate) mod getstream;
pub(crate) mod grafana_on_call;
pub(crate) mod line;
pub(crate) mod mattermost;
pub(crate) mod msteams;
pub(crate) mod onesignal;
pub(crate) mod push_webhook;
pub(crate) mod pusher_beams;
pub(crate) mod pushpad;
pub(crate) mod rocket_chat;
pub(crate) mod ryver;
pub(crate) mod sendblue;
pub(crate) mod slack;
pub(crate) mod telegram;
pub(crate) mod webex;
pub(crate) mod whatsapp;
pub(crate) mod zulip;

use herald_core::delivery::{Attempt, Outcome};
use herald_core::{ChannelCredentials, ProviderId};
use url::Url;

use crate::config::ProvidersConfig;
use crate::hints::Secrets;
use crate::outbound::ProviderRequest;
use crate::response::Response;
use crate::settings::Settings;
use crate::{SendRequest, Target};

/// Novu's execution-detail wording for a chat channel without a webhook URL.
pub const MISSING_WEBHOOK_URL: &str = "Webhook URL for the chat channel is missing";
/// Novu's execution-detail wording for a WhatsApp send to a subscriber without a phone number
/// (Herald uses it for Sendblue too).
pub const MISSING_PHONE: &str = "Subscriber is missing a phone number";

/// The providers this crate delivers through: all but Novu's own hosted services (`novu-slack`,
/// `novu-web-chat`) and `appio`, whose API key Novu passes only through its framework bridge.
pub(crate) const DELIVERED: &[ProviderId] = &[
    ProviderId::Slack,
    ProviderId::Discord,
    ProviderId::MsTeams,
    ProviderId::WebexMessaging,
    ProviderId::Mattermost,
    ProviderId::Ryver,
    ProviderId::Zulip,
    ProviderId::GrafanaOnCall,
    ProviderId::GetStream,
    ProviderId::RocketChat,
    ProviderId::WhatsAppBusiness,
    ProviderId::Line,
    ProviderId::ChatWebhook,
    ProviderId::Telegram,
    ProviderId::Sendblue,
    ProviderId::Fcm,
    ProviderId::Apns,
    ProviderId::Expo,
    ProviderId::OneSignal,
    ProviderId::Pushpad,
    ProviderId::PushWebhook,
    ProviderId::PusherBeams,
];

/// Which classifier reads the answer (and what it needs to know about the request).
#[derive(Clone, Debug)]
pub(crate) enum Classifier {
    Slack,
    Discord,
    MsTeams { workflows: bool },
    Mattermost,
    PushWebhook,
    Ryver,
    Zulip,
    GrafanaOnCall,
    GetStream,
    RocketChat,
    WhatsApp,
    ChatWebhook,
    Telegram,
    Line,
    Webex,
    Sendblue,
    OneSignal,
    Pushpad,
    PusherBeams,
}

impl Classifier {
    pub fn classify(&self, resp: &Response) -> Attempt {
        match self {
            Classifier::Slack => slack::classify(resp),
            Classifier::Discord => discord::classify(resp),
            Classifier::MsTeams { workflows } => msteams::classify(resp, *workflows),
            Classifier::Mattermost => mattermost::classify(resp),
            Classifier::PushWebhook => push_webhook::classify(resp),
            Classifier::Ryver => ryver::classify(resp),
            Classifier::Zulip => zulip::classify(resp),
            Classifier::GrafanaOnCall => grafana_on_call::classify(resp),
            Classifier::GetStream => getstream::classify(resp),
            Classifier::RocketChat => rocket_chat::classify(resp),
            Classifier::WhatsApp => whatsapp::classify(resp),
            Classifier::ChatWebhook => chat_webhook::classify(resp),
            Classifier::Telegram => telegram::classify(resp),
            Classifier::Line => line::classify(resp),
            Classifier::Webex => webex::classify(resp),
            Classifier::Sendblue => sendblue::classify(resp),
            Classifier::OneSignal => onesignal::classify(resp),
            Classifier::Pushpad => pushpad::classify(resp),
            Classifier::PusherBeams => pusher_beams::classify(resp),
        }
    }
}

/// A call ready to send.
pub(crate) struct Prepared {
    pub request: ProviderRequest,
    pub classifier: Classifier,
    pub secrets: Secrets,
}

/// What a provider module's `prepare` works from, and the secrets it notes on the way.
pub(crate) struct Ctx<'r, 'a> {
    pub req: &'r SendRequest<'a>,
    pub cfg: &'r ProvidersConfig,
    pub secrets: Secrets,
}

impl<'r, 'a> Ctx<'r, 'a> {
    pub fn settings(&self) -> Settings<'a> {
        Settings(self.req.integration)
    }

    /// A setting that is a secret (an API key, a token): noted for scrubbing.
    pub fn secret(&mut self, key: &str) -> Option<&'a str> {
        let value = self.settings().str(key)?;
        self.secrets.add(value);
        Some(value)
    }

    /// The chat channel and phone number, or the attempt for a push target.
    pub fn chat(&self) -> Result<(&'a ChannelCredentials, Option<&'a str>), Attempt> {
        match self.req.target {
            Target::Chat { credentials, phone } => {
                Ok((credentials, phone.map(str::trim).filter(|p| !p.is_empty())))
            }
            Target::Push { .. } => Err(wrong_target(self.req.provider)),
        }
    }

    /// The subscriber's phone number, or Novu's "missing a phone number" rejection.
    pub fn phone(&self) -> Result<&'a str, Attempt> {
        self.chat()?
            .1
            .ok_or_else(|| Attempt::new(Outcome::Rejected, MISSING_PHONE))
    }

    /// A chat channel's text field (`channel`: a room, chat or user id), trimmed, or the
    /// rejection naming what is missing.
    pub fn channel(&self, what: &str) -> Result<&'a str, Attempt> {
        let (credentials, _) = self.chat()?;
        credentials
            .channel
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| {
                Attempt::new(
                    Outcome::Rejected,
                    format!(
                        "the subscriber's {} channel has no `channel` credential ({what})",
                        self.req.provider
                    ),
                )
            })
    }

    /// The subscriber's webhook URL (a secret), or Novu's "Webhook URL … is missing".
    pub fn webhook_url(&mut self) -> Result<Url, Attempt> {
        let (credentials, _) = self.chat()?;
        let raw = credentials
            .webhook_url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| Attempt::new(Outcome::Rejected, MISSING_WEBHOOK_URL))?;
        self.secrets.add_url(raw);
        Url::parse(raw).map_err(|e| {
            Attempt::new(
                Outcome::Rejected,
                format!("the chat channel's webhook URL is not a valid URL ({e})"),
            )
        })
    }

    /// The device token (a secret), or the attempt for a chat target or an empty token.
    pub fn token(&mut self) -> Result<&'a str, Attempt> {
        let Target::Push { token } = self.req.target else {
            return Err(wrong_target(self.req.provider));
        };
        self.secrets.add(token);
        let token = token.trim();
        if token.is_empty() {
            return Err(Attempt::new(Outcome::Rejected, "the device token is empty"));
        }
        Ok(token)
    }

    /// `path` at the provider's fixed host, or at its `HERALD_PROVIDER_ENDPOINT_<ID>` override.
    pub fn endpoint(&self, default_base: &str, path: &str) -> Result<Url, Attempt> {
        endpoint(self.cfg, self.req.provider, default_base, path)
    }
}

/// `path` at `provider`'s fixed host or its override; a URL that cannot be formed (a setting
/// that does not fit in a host name or path) is the integration's fault.
pub(crate) fn endpoint(
    cfg: &ProvidersConfig,
    provider: ProviderId,
    default_base: &str,
    path: &str,
) -> Result<Url, Attempt> {
    cfg.provider_url(provider, default_base, path).map_err(|e| {
        Attempt::new(
            Outcome::CredentialInvalid,
            format!("the {provider} endpoint URL cannot be formed from the integration's settings ({e})"),
        )
    })
}

/// A path segment with everything but unreserved characters percent-encoded (a project id, an
/// APNs device token: whatever the setting holds, it stays one segment).
pub(crate) fn segment(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// Builds the call for `req`, or the attempt that ends it before any traffic (unsupported
/// provider, wrong target, missing webhook URL or credentials).
pub(crate) fn prepare(req: &SendRequest<'_>, cfg: &ProvidersConfig) -> Result<Prepared, Attempt> {
    let mut ctx = Ctx {
        req,
        cfg,
        secrets: Secrets::default(),
    };
    let built = match req.provider {
        ProviderId::Slack => ctx
            .webhook_url()
            .map(|u| (slack::request(u, req.message), Classifier::Slack)),
        ProviderId::Discord => ctx
            .webhook_url()
            .map(|u| (discord::request(u, req.message), Classifier::Discord)),
        ProviderId::MsTeams => ctx.webhook_url().map(|u| {
            let workflows = msteams::is_workflows_url(&u);
            (
                msteams::request(u, req.message),
                Classifier::MsTeams { workflows },
            )
        }),
        ProviderId::Mattermost => ctx.webhook_url().and_then(|u| {
            let (credentials, _) = ctx.chat()?;
            Ok((
                mattermost::request(u, req.message, credentials.channel.as_deref()),
                Classifier::Mattermost,
            ))
        }),
        ProviderId::PushWebhook => push_webhook::prepare(&mut ctx),
        ProviderId::Ryver => ryver::prepare(&mut ctx),
        ProviderId::Zulip => zulip::prepare(&mut ctx),
        ProviderId::GrafanaOnCall => grafana_on_call::prepare(&mut ctx),
        ProviderId::GetStream => getstream::prepare(&mut ctx),
        ProviderId::RocketChat => rocket_chat::prepare(&mut ctx),
        ProviderId::WhatsAppBusiness => whatsapp::prepare(&mut ctx),
        ProviderId::ChatWebhook => chat_webhook::prepare(&mut ctx),
        ProviderId::Telegram => telegram::prepare(&mut ctx),
        ProviderId::Line => line::prepare(&mut ctx),
        ProviderId::WebexMessaging => webex::prepare(&mut ctx),
        ProviderId::Sendblue => sendblue::prepare(&mut ctx),
        ProviderId::OneSignal => onesignal::prepare(&mut ctx),
        ProviderId::Pushpad => pushpad::prepare(&mut ctx),
        ProviderId::PusherBeams => pusher_beams::prepare(&mut ctx),
        other => Err(not_supported(other)),
    };
    let (request, classifier) = built.map_err(|a| ctx.secrets.scrub(a))?;
    Ok(Prepared {
        request,
        classifier,
        secrets: ctx.secrets,
    })
}

pub(crate) fn not_supported(provider: ProviderId) -> Attempt {
    Attempt::new(
        Outcome::Rejected,
        format!("{provider} is not supported for delivery yet"),
    )
}

pub(crate) fn wrong_target(provider: ProviderId) -> Attempt {
    let wanted = match provider.channel() {
        herald_core::ChannelType::Push => "a device token",
        _ => "a chat channel",
    };
    Attempt::new(
        Outcome::Rejected,
        format!("{provider} delivers to {wanted}, not to the target given"),
    )
}

/// The common shape of a success: `"<Provider> accepted the message (HTTP <status>)"` and the
/// provider's message id when it gave one.
pub(crate) fn delivered(resp: &Response, provider: &str, id: Option<String>) -> Attempt {
    let mut a = resp.attempt(
        Outcome::Delivered,
        format!("{provider} accepted the message (HTTP {})", resp.status),
    );
    a.provider_message_id = id.filter(|i| !i.is_empty());
    a
}
