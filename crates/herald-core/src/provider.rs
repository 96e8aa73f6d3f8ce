//! The chat and push providers Herald knows. The official SDKs validate `channels[].providerId`
//! against exactly this closed set, so a subscriber channel or an integration with any other
//! provider id would make every later read of it fail in the client: Herald rejects it on input.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

/// Channel types as Novu names them (`ChannelTypeEnum`), in Novu's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelType {
    InApp,
    Email,
    Sms,
    Chat,
    Push,
}

impl ChannelType {
    pub const ALL: [ChannelType; 5] = [
        ChannelType::InApp,
        ChannelType::Email,
        ChannelType::Sms,
        ChannelType::Chat,
        ChannelType::Push,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelType::InApp => "in_app",
            ChannelType::Email => "email",
            ChannelType::Sms => "sms",
            ChannelType::Chat => "chat",
            ChannelType::Push => "push",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for ChannelType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ChannelType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

macro_rules! providers {
    ($( $variant:ident => $id:literal, $channel:ident, $name:literal; )*) => {
        /// A chat or push provider id, as accepted by `@novu/api`'s `ChannelSettings.providerId`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ProviderId { $( $variant, )* }

        impl ProviderId {
            pub const ALL: &'static [ProviderId] = &[ $( ProviderId::$variant, )* ];

            pub fn as_str(self) -> &'static str {
                match self { $( ProviderId::$variant => $id, )* }
            }

            pub fn channel(self) -> ChannelType {
                match self { $( ProviderId::$variant => ChannelType::$channel, )* }
            }

            /// Novu's display name, used as an integration's default `name`.
            pub fn display_name(self) -> &'static str {
                match self { $( ProviderId::$variant => $name, )* }
            }
        }
    };
}

providers! {
    Slack => "slack", Chat, "Slack";
    Discord => "discord", Chat, "Discord";
    MsTeams => "msteams", Chat, "MSTeams";
    WebexMessaging => "webex-messaging", Chat, "Webex Messaging";
    Mattermost => "mattermost", Chat, "Mattermost";
    Ryver => "ryver", Chat, "Ryver";
    Zulip => "zulip", Chat, "Zulip";
    GrafanaOnCall => "grafana-on-call", Chat, "Grafana On Call Webhook";
    GetStream => "getstream", Chat, "GetStream";
    RocketChat => "rocket-chat", Chat, "Rocket.Chat";
    WhatsAppBusiness => "whatsapp-business", Chat, "WhatsApp Business";
    Line => "line", Chat, "Line";
    ChatWebhook => "chat-webhook", Chat, "Chat Webhook";
    NovuSlack => "novu-slack", Chat, "Novu Slack";
    Telegram => "telegram", Chat, "Telegram";
    Sendblue => "sendblue", Chat, "Sendblue";
    NovuWebChat => "novu-web-chat", Chat, "Novu Web Chat";
    Fcm => "fcm", Push, "Firebase Cloud Messaging";
    Apns => "apns", Push, "APNs";
    Expo => "expo", Push, "Expo Push";
    OneSignal => "one-signal", Push, "OneSignal";
    Pushpad => "pushpad", Push, "Pushpad";
    PushWebhook => "push-webhook", Push, "Push Webhook";
    PusherBeams => "pusher-beams", Push, "Pusher Beams";
    Appio => "appio", Push, "Appio";
}

impl FromStr for ProviderId {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|p| p.as_str() == s)
            .ok_or(UnknownProvider)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownProvider;

impl ProviderId {
    /// The accepted ids, comma separated, for error messages.
    pub fn list() -> String {
        Self::ALL
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for ProviderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ProviderId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_25_chat_and_push_providers_that_round_trip() {
        assert_eq!(ProviderId::ALL.len(), 25);
        for p in ProviderId::ALL {
            assert_eq!(p.as_str().parse::<ProviderId>(), Ok(*p));
        }
    }

    #[test]
    fn channel_of_provider() {
        assert_eq!(ProviderId::Fcm.channel(), ChannelType::Push);
        assert_eq!(ProviderId::Slack.channel(), ChannelType::Chat);
        assert!("sendgrid".parse::<ProviderId>().is_err());
        assert!("Slack".parse::<ProviderId>().is_err());
    }
}
