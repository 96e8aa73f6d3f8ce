//! What `send` decides before any traffic: the providers it delivers through, the targets each
//! needs, Novu's wording for a chat channel without a webhook URL, and Novu's "Config is not
//! valid" for an integration missing what its provider needs.

use herald_core::delivery::Outcome;
use herald_core::{ChannelCredentials, ProviderId};
use herald_providers::{Providers, SendRequest, Target, MISSING_WEBHOOK_URL};
use serde_json::{json, Map};

use crate::fake::Fake;
use crate::{chat_to, obj, providers, providers_at, push_to, send_chat, Msg};

#[test]
fn every_provider_but_novus_own_services_and_appio_delivers() {
    let not_delivered: Vec<&str> = ProviderId::ALL
        .iter()
        .filter(|p| !Providers::delivers(**p))
        .map(|p| p.as_str())
        .collect();
    assert_eq!(not_delivered, ["novu-slack", "novu-web-chat", "appio"]);
}

#[tokio::test]
async fn the_providers_that_cannot_be_built_are_rejected_as_not_supported_yet() {
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
                phone: Some("+15550100"),
            },
        };
        let a = p
            .send(&SendRequest {
                provider,
                integration: &integration,
                target,
                message: &message,
                idempotency_key: "k",
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
    let integration = obj(json!({"apiKey": "k-123456789", "token": "t-123456789", "user": "u"}));
    for webhook_url in [None, Some(String::new()), Some("   ".to_owned())] {
        let credentials = ChannelCredentials {
            webhook_url,
            channel: Some("room".into()),
            ..ChannelCredentials::default()
        };
        for provider in [
            ProviderId::Slack,
            ProviderId::Discord,
            ProviderId::MsTeams,
            ProviderId::Mattermost,
            ProviderId::Ryver,
            ProviderId::Zulip,
            ProviderId::GrafanaOnCall,
            ProviderId::GetStream,
            ProviderId::RocketChat,
            ProviderId::ChatWebhook,
        ] {
            let a = chat_to(
                &p,
                provider,
                &integration,
                &credentials,
                None,
                &Msg::text("x"),
            )
            .await;
            assert_eq!(a.outcome, Outcome::Rejected, "{provider}");
            assert_eq!(a.detail, MISSING_WEBHOOK_URL, "{provider}");
            assert_eq!(a.detail, "Webhook URL for the chat channel is missing");
        }
    }
}

#[tokio::test]
async fn an_integration_missing_what_its_provider_needs_is_an_invalid_config_and_sends_nothing() {
    let fake = Fake::start().await;
    let base = fake.url("");
    let everywhere: Vec<(ProviderId, &str)> = ProviderId::ALL
        .iter()
        .map(|p| (*p, base.as_str()))
        .collect();
    let p = providers_at(&everywhere);
    let webhook = fake.url("/hook");
    let credentials = ChannelCredentials {
        webhook_url: Some(webhook.clone()),
        channel: Some("room-1".into()),
        ..ChannelCredentials::default()
    };
    let cases = [
        (ProviderId::Fcm, "Config is not valid for fcm"),
        (ProviderId::Apns, "Config is not valid for apns"),
        (ProviderId::Expo, "Config is not valid for expo"),
        (ProviderId::OneSignal, "Config is not valid for OneSignal"),
        (ProviderId::Pushpad, "Config is not valid for Pushpad"),
        (
            ProviderId::PusherBeams,
            "Config is not valid for Pusher Beams",
        ),
        (
            ProviderId::PushWebhook,
            "Config is not valid for push-webhook provider",
        ),
        (
            ProviderId::RocketChat,
            "Config is not valid for rocket-chat",
        ),
        (
            ProviderId::WhatsAppBusiness,
            "Config is not valid for whatsapp-business",
        ),
        (ProviderId::Telegram, "Config is not valid for telegram"),
        (ProviderId::Line, "Config is not valid for line"),
        (
            ProviderId::WebexMessaging,
            "Config is not valid for webex-messaging",
        ),
        (ProviderId::Sendblue, "Config is not valid for sendblue"),
        (ProviderId::GetStream, "Config is not valid for getstream"),
    ];
    for integration in [json!({}), json!({"apiKey": "  ", "secretKey": ""})] {
        let integration = obj(integration);
        for (provider, message) in cases {
            let a = match provider.channel() {
                herald_core::ChannelType::Push => {
                    push_to(&p, provider, &integration, "tok-1", &Msg::text("x"), "k").await
                }
                _ => {
                    chat_to(
                        &p,
                        provider,
                        &integration,
                        &credentials,
                        Some("+15550100"),
                        &Msg::text("x"),
                    )
                    .await
                }
            };
            assert_eq!(a.outcome, Outcome::CredentialInvalid, "{provider}");
            assert_eq!(a.detail, message, "{provider}");
            assert_eq!(a.http_status, None);
        }
    }
    // Half a pair is as missing as none.
    for (provider, integration) in [
        (
            ProviderId::Apns,
            json!({"secretKey": "k", "apiKey": "KEYID12345"}),
        ),
        (ProviderId::OneSignal, json!({"apiKey": "k"})),
        (ProviderId::Pushpad, json!({"applicationId": "1"})),
        (ProviderId::PusherBeams, json!({"instanceId": "i"})),
    ] {
        let a = push_to(&p, provider, &obj(integration), "tok", &Msg::text("x"), "k").await;
        assert_eq!(a.outcome, Outcome::CredentialInvalid, "{provider}");
    }
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
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
    let integration = Map::new();
    for provider in [
        ProviderId::Slack,
        ProviderId::Telegram,
        ProviderId::WhatsAppBusiness,
    ] {
        let a = push_to(&p, provider, &integration, "tok", &Msg::text("x"), "k").await;
        assert_eq!(
            a.detail,
            format!("{provider} delivers to a chat channel, not to the target given")
        );
    }
    let credentials = ChannelCredentials::default();
    for provider in [
        ProviderId::PushWebhook,
        ProviderId::Fcm,
        ProviderId::Apns,
        ProviderId::Expo,
        ProviderId::OneSignal,
    ] {
        let a = chat_to(
            &p,
            provider,
            &integration,
            &credentials,
            None,
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, Outcome::Rejected);
        assert_eq!(
            a.detail,
            format!("{provider} delivers to a device token, not to the target given")
        );
    }
}

#[test]
fn only_fcm_and_apns_codes_are_credential_shaped() {
    assert!(Providers::is_credential_shaped(
        ProviderId::Fcm,
        "SENDER_ID_MISMATCH"
    ));
    assert!(!Providers::is_credential_shaped(
        ProviderId::Fcm,
        "UNREGISTERED"
    ));
    for code in ["BadDeviceToken", "DeviceTokenNotForTopic"] {
        assert!(Providers::is_credential_shaped(ProviderId::Apns, code));
    }
    assert!(!Providers::is_credential_shaped(
        ProviderId::Apns,
        "Unregistered"
    ));
    assert!(!Providers::is_credential_shaped(
        ProviderId::Expo,
        "DeviceNotRegistered"
    ));
}

#[test]
fn providers_can_be_shared_across_tasks_and_sends_are_spawnable() {
    fn shared<T: Send + Sync + 'static>() {}
    shared::<Providers>();
    fn spawnable<F: std::future::Future + Send>(_: &F) {}
    let p = providers();
    let msg = Msg::text("x");
    let message = msg.message();
    let integration = Map::new();
    for provider in [
        ProviderId::Zulip,
        ProviderId::Fcm,
        ProviderId::Apns,
        ProviderId::Expo,
    ] {
        let req = SendRequest {
            provider,
            integration: &integration,
            target: Target::Push { token: "t" },
            message: &message,
            idempotency_key: "k",
        };
        spawnable(&p.send(&req));
    }
    let tokens = [herald_providers::PushToken {
        token: "t",
        idempotency_key: "k",
    }];
    let batch = herald_providers::PushBatch {
        provider: ProviderId::Fcm,
        integration: &integration,
        tokens: &tokens,
        message: &message,
    };
    spawnable(&p.send_push(&batch));
    spawnable(&p.expo_receipts(&integration, &["id"]));
}
