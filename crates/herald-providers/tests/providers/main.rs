//! Every provider against a local fake of it (exact request, every response class of the spec),
//! and the outbound policy against loopback listeners it must not reach. All traffic stays on
//! 127.0.0.0/8.

mod fake;

mod apns;
mod batch;
mod chat_apis;
mod chat_bots;
mod chat_webhooks;
mod discord;
mod dispatch;
mod expo;
mod fcm;
mod fcm_auth;
mod hosts;
mod mattermost;
mod msteams;
mod onesignal;
mod outbound;
mod push_apis;
mod push_webhook;
mod slack;
mod whatsapp;

use std::collections::HashMap;
use std::net::IpAddr;

use herald_core::delivery::Attempt;
use herald_core::{ChannelCredentials, ProviderId};
use herald_providers::{
    parse_allow_list, Message, OutboundConfig, Providers, ProvidersConfig, SendRequest, Target,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Map, Value};

/// Providers allowed to reach `allow` only, with `hosts` answered instead of DNS.
pub fn providers_with(allow: &[&str], hosts: &[(&str, &[&str])]) -> Providers {
    let static_hosts: HashMap<String, Vec<IpAddr>> = hosts
        .iter()
        .map(|(name, addrs)| {
            (
                name.to_string(),
                addrs.iter().map(|a| a.parse().unwrap()).collect(),
            )
        })
        .collect();
    Providers::new(ProvidersConfig {
        outbound: OutboundConfig {
            allow: parse_allow_list(&allow.join(",")).expect("an allow-list"),
            static_hosts,
            ..OutboundConfig::default()
        },
        endpoints: HashMap::new(),
    })
    .expect("providers build")
}

/// Providers allowed to reach the fakes on 127.0.0.1.
pub fn providers() -> Providers {
    providers_with(&["127.0.0.1"], &[])
}

/// Providers allowed to reach 127.0.0.1, with `HERALD_PROVIDER_ENDPOINT_<ID>` overrides.
pub fn providers_at(endpoints: &[(ProviderId, &str)]) -> Providers {
    Providers::new(ProvidersConfig {
        outbound: OutboundConfig {
            allow: parse_allow_list("127.0.0.1").unwrap(),
            ..OutboundConfig::default()
        },
        endpoints: endpoints
            .iter()
            .map(|(p, u)| (*p, url::Url::parse(u).unwrap()))
            .collect(),
    })
    .expect("providers build")
}

/// A JSON object literal as a map.
pub fn obj(v: Value) -> Map<String, Value> {
    v.as_object().expect("an object").clone()
}

/// Sends `msg` through a push `provider` to `token` with the delivery key `key`.
pub async fn push_to(
    p: &Providers,
    provider: ProviderId,
    integration: &Map<String, Value>,
    token: &str,
    msg: &Msg,
    key: &str,
) -> Attempt {
    let message = msg.message();
    p.send(&SendRequest {
        provider,
        integration,
        target: Target::Push { token },
        message: &message,
        idempotency_key: key,
    })
    .await
}

/// Sends `msg` through a chat `provider` to a channel and the subscriber's phone.
pub async fn chat_to(
    p: &Providers,
    provider: ProviderId,
    integration: &Map<String, Value>,
    credentials: &ChannelCredentials,
    phone: Option<&str>,
    msg: &Msg,
) -> Attempt {
    let message = msg.message();
    p.send(&SendRequest {
        provider,
        integration,
        target: Target::Chat { credentials, phone },
        message: &message,
        idempotency_key: "65f1c0ffee0123456789abcd",
    })
    .await
}

/// A chat channel with only `channel` set, or only `webhookUrl`.
pub fn channel(channel: Option<&str>, webhook: Option<&str>) -> ChannelCredentials {
    ChannelCredentials {
        channel: channel.map(str::to_owned),
        webhook_url: webhook.map(str::to_owned),
        ..ChannelCredentials::default()
    }
}

/// The throwaway keys of `keys/` (see its README).
pub const RSA_KEY: &str = include_str!("keys/test-only-rsa.pem");
pub const RSA_PUBLIC: &str = include_str!("keys/test-only-rsa.pub.pem");
pub const EC_KEY: &str = include_str!("keys/test-only-ec.p8");
pub const EC_PUBLIC: &str = include_str!("keys/test-only-ec.pub.pem");

/// The header and claims of an RS256 JWT whose signature verifies with [`RSA_PUBLIC`] and whose
/// `aud` is `aud`.
pub fn verify_rs256(jwt: &str, aud: &str) -> (jsonwebtoken::Header, Value) {
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[aud]);
    v.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let key = DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()).unwrap();
    let data = jsonwebtoken::decode::<Value>(jwt, &key, &v).expect("a valid RS256 JWT");
    (data.header, data.claims)
}

/// The header and claims of an ES256 JWT whose signature verifies with [`EC_PUBLIC`].
pub fn verify_es256(jwt: &str) -> (jsonwebtoken::Header, Value) {
    let mut v = Validation::new(Algorithm::ES256);
    v.validate_exp = false;
    v.set_required_spec_claims::<&str>(&[]);
    let key = DecodingKey::from_ec_pem(EC_PUBLIC.as_bytes()).unwrap();
    let data = jsonwebtoken::decode::<Value>(jwt, &key, &v).expect("a valid ES256 JWT");
    (data.header, data.claims)
}

/// A message's parts, owned, so tests build one in a line.
pub struct Msg {
    pub title: Option<String>,
    pub content: String,
    pub payload: Value,
    pub overrides: Map<String, Value>,
    pub subscriber: Value,
    pub step: Value,
}

impl Msg {
    pub fn text(content: &str) -> Msg {
        Msg {
            title: None,
            content: content.to_owned(),
            payload: json!({}),
            overrides: Map::new(),
            subscriber: json!({"subscriberId": "sub-1"}),
            step: json!({"digest": false, "events": [], "total_count": 0}),
        }
    }

    pub fn with_overrides(mut self, overrides: Value) -> Msg {
        self.overrides = overrides.as_object().expect("an object").clone();
        self
    }

    pub fn message(&self) -> Message<'_> {
        Message {
            title: self.title.as_deref(),
            content: &self.content,
            payload: &self.payload,
            overrides: &self.overrides,
            subscriber: &self.subscriber,
            step: &self.step,
        }
    }
}

/// Sends `msg` through a chat `provider` to `webhook` (and Mattermost's `channel`).
pub async fn send_chat(
    p: &Providers,
    provider: ProviderId,
    webhook: &str,
    channel: Option<&str>,
    msg: &Msg,
) -> Attempt {
    let credentials = ChannelCredentials {
        webhook_url: Some(webhook.to_owned()),
        channel: channel.map(str::to_owned),
        ..ChannelCredentials::default()
    };
    let integration = Map::new();
    let message = msg.message();
    p.send(&SendRequest {
        provider,
        integration: &integration,
        target: Target::Chat {
            credentials: &credentials,
            phone: None,
        },
        message: &message,
        idempotency_key: "",
    })
    .await
}

/// Asserts an attempt holds none of `secrets` in any field.
pub fn assert_no_secret(a: &Attempt, secrets: &[&str]) {
    for s in secrets {
        assert!(!a.detail.contains(s), "detail leaks {s}: {}", a.detail);
        for field in [&a.provider_code, &a.provider_message_id]
            .into_iter()
            .flatten()
        {
            assert!(!field.contains(s), "a field leaks {s}: {field}");
        }
    }
}
