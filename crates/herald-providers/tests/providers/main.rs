//! Every provider against a local fake of it (exact request, every response class of the spec),
//! and the outbound policy against loopback listeners it must not reach. All traffic stays on
//! 127.0.0.0/8.

mod fake;

mod discord;
mod dispatch;
mod mattermost;
mod msteams;
mod outbound;
mod push_webhook;
mod slack;

use std::collections::HashMap;
use std::net::IpAddr;

use herald_core::delivery::Attempt;
use herald_core::{ChannelCredentials, ProviderId};
use herald_providers::{
    parse_allow_list, Message, OutboundConfig, Providers, ProvidersConfig, SendRequest, Target,
};
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
        },
        message: &message,
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
