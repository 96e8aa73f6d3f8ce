//! What `send` decides before any traffic: the providers it delivers through, the targets each
//! needs, and Novu's wording for a chat channel without a webhook URL.

use herald_core::delivery::Outcome;
use herald_core::{ChannelCredentials, ProviderId};
use herald_providers::{Providers, SendRequest, Target, MISSING_WEBHOOK_URL};
use serde_json::Map;

use crate::{providers, send_chat, Msg};

#[test]
fn the_five_providers_of_this_release_deliver() {
    let delivered: Vec<&str> = ProviderId::ALL
        .iter()
        .filter(|p| Providers::delivers(**p))
        .map(|p| p.as_str())
        .collect();
    assert_eq!(
        delivered,
        ["slack", "discord", "msteams", "mattermost", "push-webhook"]
    );
}

#[tokio::test]
async fn every_other_provider_is_rejected_as_not_supported_yet() {
    let p = providers();
    let msg = Msg::text("x");
    let message = msg.message();
    let integration = Map::new();
    let credentials = ChannelCredentials {
        webhook_url: Some("http://127.0.0.1:9/never".into()),
        ..ChannelCredentials::default()
    };
    for provider in ProviderId::ALL
        .iter()
        .copied()
        .filter(|p| !Providers::delivers(*p))
    {
        let target = match provider.channel() {
            herald_core::ChannelType::Push => Target::Push { token: "tok" },
            _ => Target::Chat {
                credentials: &credentials,
            },
        };
        let a = p
            .send(&SendRequest {
                provider,
                integration: &integration,
                target,
                message: &message,
            })
            .await;
        assert_eq!(a.outcome, Outcome::Rejected, "{provider}");
        assert_eq!(
            a.detail,
            format!("{provider} is not supported for delivery yet")
        );
        assert_eq!(a.http_status, None);
    }
}

#[tokio::test]
async fn a_chat_channel_without_a_webhook_url_is_rejected_with_novus_wording() {
    let p = providers();
    let msg = Msg::text("x");
    let message = msg.message();
    let integration = Map::new();
    for webhook_url in [None, Some(String::new()), Some("   ".to_owned())] {
        let credentials = ChannelCredentials {
            webhook_url,
            ..ChannelCredentials::default()
        };
        for provider in [
            ProviderId::Slack,
            ProviderId::Discord,
            ProviderId::MsTeams,
            ProviderId::Mattermost,
        ] {
            let a = p
                .send(&SendRequest {
                    provider,
                    integration: &integration,
                    target: Target::Chat {
                        credentials: &credentials,
                    },
                    message: &message,
                })
                .await;
            assert_eq!(a.outcome, Outcome::Rejected);
            assert_eq!(a.detail, MISSING_WEBHOOK_URL);
            assert_eq!(a.detail, "Webhook URL for the chat channel is missing");
        }
    }
}

#[tokio::test]
async fn a_malformed_webhook_url_is_rejected_without_echoing_it() {
    let a = send_chat(
        &providers(),
        ProviderId::Slack,
        "hooks.slack.com/services/T/B/secret",
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Rejected);
    assert_eq!(
        a.detail,
        "the chat channel's webhook URL is not a valid URL (relative URL without a base)"
    );
    let a = send_chat(
        &providers(),
        ProviderId::Slack,
        "ftp://127.0.0.1/secret",
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(
        a.detail,
        "only http and https destinations are allowed, not ftp"
    );
}

#[tokio::test]
async fn a_provider_given_the_other_kind_of_target_is_rejected() {
    let p = providers();
    let msg = Msg::text("x");
    let message = msg.message();
    let integration = Map::new();
    let a = p
        .send(&SendRequest {
            provider: ProviderId::Slack,
            integration: &integration,
            target: Target::Push { token: "tok" },
            message: &message,
        })
        .await;
    assert_eq!(
        a.detail,
        "slack delivers to a chat channel, not to the target given"
    );
    let credentials = ChannelCredentials::default();
    let a = p
        .send(&SendRequest {
            provider: ProviderId::PushWebhook,
            integration: &integration,
            target: Target::Chat {
                credentials: &credentials,
            },
            message: &message,
        })
        .await;
    assert_eq!(a.outcome, Outcome::Rejected);
    assert_eq!(
        a.detail,
        "push-webhook delivers to a device token, not to the target given"
    );
}

#[test]
fn providers_can_be_shared_across_tasks_and_send_is_spawnable() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Providers>();
    fn spawnable<F: std::future::Future + Send>(_: &F) {}
    let p = providers();
    let msg = Msg::text("x");
    let message = msg.message();
    let integration = Map::new();
    let req = SendRequest {
        provider: ProviderId::Zulip,
        integration: &integration,
        target: Target::Push { token: "t" },
        message: &message,
    };
    let fut = p.send(&req);
    spawnable(&fut);
}
