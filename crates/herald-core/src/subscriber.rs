//! Subscribers and their channel credentials, and the rules for changing them. The merge rules
//! live here, not in the stores, so both backends apply exactly the same semantics.

use serde::Serialize;
use serde_json::Value;

use crate::{ObjectId, ProviderId, Timestamp};

/// At most this many device tokens per subscriber channel (README, deliberate difference 4).
pub const MAX_DEVICE_TOKENS: usize = 100;

/// A profile field as Novu stores it: never set (the key is absent from responses), explicitly
/// `null`, or a value. In a [`Profile`] used as a patch, `Absent` means "leave unchanged".
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Field<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<T> Field<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Field::Absent)
    }

    pub fn value(&self) -> Option<&T> {
        match self {
            Field::Value(v) => Some(v),
            _ => None,
        }
    }

    pub fn from_option(v: Option<T>) -> Self {
        match v {
            Some(v) => Field::Value(v),
            None => Field::Absent,
        }
    }
}

impl<T: Serialize> Serialize for Field<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            // Callers skip absent fields with `skip_serializing_if = "Field::is_absent"`.
            Field::Absent | Field::Null => s.serialize_none(),
            Field::Value(v) => v.serialize(s),
        }
    }
}

/// The profile part of a subscriber. As a stored profile, `Absent` fields were never set; as a
/// patch, `Absent` fields are left as they are.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Profile {
    pub first_name: Field<String>,
    pub last_name: Field<String>,
    pub email: Field<String>,
    pub phone: Field<String>,
    pub avatar: Field<String>,
    pub locale: Field<String>,
    pub timezone: Field<String>,
    pub data: Field<Value>,
}

impl Profile {
    /// Bits of [`Profile::null_mask`], one per field, in this order: firstName, lastName, email,
    /// phone, avatar, locale, timezone, data. Stores keep the text columns (SQL `NULL` for both
    /// absent and null) plus this mask, so "never set" and "set to null" survive a round trip.
    pub const FIELD_ORDER: [&'static str; 8] = [
        "firstName",
        "lastName",
        "email",
        "phone",
        "avatar",
        "locale",
        "timezone",
        "data",
    ];

    /// A bit set for every field that is explicitly `null`.
    pub fn null_mask(&self) -> i64 {
        let nulls = [
            matches!(self.first_name, Field::Null),
            matches!(self.last_name, Field::Null),
            matches!(self.email, Field::Null),
            matches!(self.phone, Field::Null),
            matches!(self.avatar, Field::Null),
            matches!(self.locale, Field::Null),
            matches!(self.timezone, Field::Null),
            matches!(self.data, Field::Null),
        ];
        nulls
            .iter()
            .enumerate()
            .fold(0, |m, (i, n)| if *n { m | (1 << i) } else { m })
    }

    /// Rebuilds a profile from stored columns (in [`Profile::FIELD_ORDER`]; `data` as JSON text)
    /// and the null mask. Invalid stored JSON in `data` reads as absent.
    pub fn from_columns(text: [Option<String>; 7], data: Option<String>, null_mask: i64) -> Self {
        fn field<T>(v: Option<T>, mask: i64, bit: usize) -> Field<T> {
            match v {
                Some(v) => Field::Value(v),
                None if mask & (1 << bit) != 0 => Field::Null,
                None => Field::Absent,
            }
        }
        let [first_name, last_name, email, phone, avatar, locale, timezone] = text;
        Profile {
            first_name: field(first_name, null_mask, 0),
            last_name: field(last_name, null_mask, 1),
            email: field(email, null_mask, 2),
            phone: field(phone, null_mask, 3),
            avatar: field(avatar, null_mask, 4),
            locale: field(locale, null_mask, 5),
            timezone: field(timezone, null_mask, 6),
            data: field(
                data.and_then(|d| serde_json::from_str(&d).ok()),
                null_mask,
                7,
            ),
        }
    }

    /// The text columns in [`Profile::FIELD_ORDER`] (without `data`), SQL `NULL` for absent or null.
    pub fn text_columns(&self) -> [Option<&str>; 7] {
        [
            self.first_name.value().map(String::as_str),
            self.last_name.value().map(String::as_str),
            self.email.value().map(String::as_str),
            self.phone.value().map(String::as_str),
            self.avatar.value().map(String::as_str),
            self.locale.value().map(String::as_str),
            self.timezone.value().map(String::as_str),
        ]
    }

    /// `data` as JSON text for its column.
    pub fn data_column(&self) -> Option<String> {
        self.data.value().map(|v| v.to_string())
    }

    /// Applies `patch` field by field (absent fields are kept) and says whether anything changed.
    pub fn apply(&mut self, patch: &Profile) -> bool {
        fn set<T: Clone + PartialEq>(dst: &mut Field<T>, src: &Field<T>) -> bool {
            if src.is_absent() || dst == src {
                return false;
            }
            *dst = src.clone();
            true
        }
        let mut changed = false;
        changed |= set(&mut self.first_name, &patch.first_name);
        changed |= set(&mut self.last_name, &patch.last_name);
        changed |= set(&mut self.email, &patch.email);
        changed |= set(&mut self.phone, &patch.phone);
        changed |= set(&mut self.avatar, &patch.avatar);
        changed |= set(&mut self.locale, &patch.locale);
        changed |= set(&mut self.timezone, &patch.timezone);
        changed |= set(&mut self.data, &patch.data);
        changed
    }
}

/// The credential fields of one subscriber channel. All eight request fields are kept (README,
/// deliberate difference 2). `device_tokens: None` means the key was never written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChannelCredentials {
    pub webhook_url: Option<String>,
    pub channel: Option<String>,
    pub device_tokens: Option<Vec<String>>,
    pub alert_uid: Option<String>,
    pub title: Option<String>,
    pub image_url: Option<String>,
    pub state: Option<String>,
    pub external_url: Option<String>,
}

impl ChannelCredentials {
    /// The non-token fields, in wire order, with their Novu names.
    pub fn text_fields(&self) -> [(&'static str, &Option<String>); 7] {
        [
            ("webhookUrl", &self.webhook_url),
            ("channel", &self.channel),
            ("alertUid", &self.alert_uid),
            ("title", &self.title),
            ("imageUrl", &self.image_url),
            ("state", &self.state),
            ("externalUrl", &self.external_url),
        ]
    }
}

/// How a credentials write treats the channel's device tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialsMode {
    /// `PUT`: the given tokens replace the stored ones; no `deviceTokens` clears them (Novu).
    Replace,
    /// `PATCH`: the given tokens are added to the stored ones (a set union keeping first-seen
    /// order); no `deviceTokens` keeps them (deliberate difference 1).
    Append,
}

/// Whether one device token may belong to several subscribers (`HERALD_TOKEN_OWNERSHIP`).
///
/// A device token identifies an app install on one phone; when user A logs out and user B logs
/// in on that phone, the app registers the same token for B. Novu then keeps it on A as well, and
/// B's phone keeps receiving A's notifications. Herald moves it by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TokenOwnership {
    /// A token registered for a subscriber is taken away, in the same transaction, from every
    /// other subscriber of the environment holding it for the same integration (their channel
    /// stays, with the token gone from its list, and their `updated_at` moves).
    #[default]
    Move,
    /// Several subscribers may hold one token (Novu's behaviour).
    Share,
}

impl TokenOwnership {
    /// The configuration value: `move` or `share`.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenOwnership::Move => "move",
            TokenOwnership::Share => "share",
        }
    }
}

impl std::str::FromStr for TokenOwnership {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "move" => Ok(TokenOwnership::Move),
            "share" => Ok(TokenOwnership::Share),
            other => Err(format!(
                "unknown token ownership {other:?}; expected `move` or `share`"
            )),
        }
    }
}

/// One credentials write, already resolved against an active integration.
#[derive(Clone, Debug, PartialEq)]
pub struct CredentialsUpdate {
    pub provider_id: ProviderId,
    pub integration_id: ObjectId,
    /// The given credentials; `device_tokens` deduplicated, first-seen order.
    pub credentials: ChannelCredentials,
    pub mode: CredentialsMode,
    /// What registering the given device tokens does to other subscribers holding them.
    pub ownership: TokenOwnership,
}

impl CredentialsUpdate {
    /// The device tokens this write takes away from every other subscriber of the environment
    /// holding them for the same integration: the given ones under [`TokenOwnership::Move`],
    /// none under [`TokenOwnership::Share`]. Stores remove them in the transaction of the write
    /// itself, so that two subscribers racing to register one token end with one holder.
    pub fn claimed_tokens(&self) -> &[String] {
        match self.ownership {
            TokenOwnership::Move => self
                .credentials
                .device_tokens
                .as_deref()
                .unwrap_or_default(),
            TokenOwnership::Share => &[],
        }
    }

    /// The credentials of the channel after this update, given what it holds now (`None`: the
    /// subscriber has no channel for this integration yet). Both stores call this so that the merge
    /// rules exist once. Fails when the result would exceed [`MAX_DEVICE_TOKENS`].
    pub fn merged(
        &self,
        existing: Option<&ChannelCredentials>,
    ) -> Result<ChannelCredentials, TooManyDeviceTokens> {
        let given = &self.credentials;
        let merged = match existing {
            None => given.clone(),
            Some(old) => {
                let pick = |new: &Option<String>, old: &Option<String>| {
                    new.clone().or_else(|| old.clone())
                };
                let device_tokens = match (self.mode, &given.device_tokens) {
                    (CredentialsMode::Replace, Some(tokens)) => Some(tokens.clone()),
                    (CredentialsMode::Replace, None) => Some(Vec::new()),
                    (CredentialsMode::Append, Some(tokens)) if tokens.is_empty() => {
                        Some(Vec::new())
                    }
                    (CredentialsMode::Append, Some(tokens)) => {
                        let mut all = old.device_tokens.clone().unwrap_or_default();
                        for t in tokens {
                            if !all.contains(t) {
                                all.push(t.clone());
                            }
                        }
                        Some(all)
                    }
                    (CredentialsMode::Append, None) => old.device_tokens.clone(),
                };
                ChannelCredentials {
                    webhook_url: pick(&given.webhook_url, &old.webhook_url),
                    channel: pick(&given.channel, &old.channel),
                    device_tokens,
                    alert_uid: pick(&given.alert_uid, &old.alert_uid),
                    title: pick(&given.title, &old.title),
                    image_url: pick(&given.image_url, &old.image_url),
                    state: pick(&given.state, &old.state),
                    external_url: pick(&given.external_url, &old.external_url),
                }
            }
        };
        let count = merged.device_tokens.as_ref().map_or(0, Vec::len);
        if count > MAX_DEVICE_TOKENS {
            return Err(TooManyDeviceTokens { count });
        }
        Ok(merged)
    }
}

/// A credentials write that would leave more than [`MAX_DEVICE_TOKENS`] on one channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooManyDeviceTokens {
    pub count: usize,
}

/// One entry of `subscriber.channels`.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelSettings {
    pub provider_id: ProviderId,
    pub integration_id: ObjectId,
    /// The bound integration's `identifier` (absent if that integration was deleted since).
    pub integration_identifier: Option<String>,
    pub credentials: ChannelCredentials,
}

/// A stored subscriber.
#[derive(Clone, Debug, PartialEq)]
pub struct Subscriber {
    pub id: ObjectId,
    pub organization_id: ObjectId,
    pub environment_id: ObjectId,
    pub subscriber_id: String,
    pub profile: Profile,
    /// In insertion order.
    pub channels: Vec<ChannelSettings>,
    pub is_online: Option<bool>,
    pub last_online_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Mongoose's `__v`: `0` for subscribers created one by one, absent for those first created by
    /// a bulk upsert, as in Novu.
    pub version: Option<i64>,
}

/// A subscriber to create.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSubscriber {
    /// Already trimmed and non-empty.
    pub subscriber_id: String,
    pub profile: Profile,
}

/// A profile update of an existing subscriber.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubscriberPatch {
    pub profile: Profile,
}

/// The outcome of one item of a bulk upsert, in input order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkOutcome {
    Created,
    Updated,
}

/// One item of a bulk upsert that also binds channels (`POST /v1/subscribers/bulk`): the
/// subscriber to create or update, and the channels to write for it, already resolved against
/// their integrations. The item is written whole or not at all.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscriberWrite {
    /// Created as given, or (when the id exists) its given fields are set on the stored profile.
    pub subscriber: NewSubscriber,
    /// Written in order, each as a credentials write with its own mode.
    pub channels: Vec<CredentialsUpdate>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(
        mode: CredentialsMode,
        tokens: Option<&[&str]>,
        webhook: Option<&str>,
    ) -> CredentialsUpdate {
        CredentialsUpdate {
            provider_id: ProviderId::Fcm,
            integration_id: ObjectId::new(),
            credentials: ChannelCredentials {
                device_tokens: tokens.map(|t| t.iter().map(|s| s.to_string()).collect()),
                webhook_url: webhook.map(str::to_string),
                ..Default::default()
            },
            mode,
            ownership: TokenOwnership::Move,
        }
    }

    fn with_tokens(tokens: &[&str]) -> ChannelCredentials {
        ChannelCredentials {
            device_tokens: Some(tokens.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    fn tokens(c: &ChannelCredentials) -> Vec<&str> {
        c.device_tokens
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(String::as_str)
            .collect()
    }

    #[test]
    fn put_replaces_tokens_and_patch_appends_unique_ones() {
        let old = with_tokens(&["a"]);
        let put = update(CredentialsMode::Replace, Some(&["b"]), None)
            .merged(Some(&old))
            .unwrap();
        assert_eq!(tokens(&put), ["b"]);
        let patch = update(CredentialsMode::Append, Some(&["a", "b"]), None)
            .merged(Some(&old))
            .unwrap();
        assert_eq!(tokens(&patch), ["a", "b"]);
    }

    #[test]
    fn put_without_tokens_clears_them_but_patch_keeps_them() {
        let old = with_tokens(&["x"]);
        let put = update(CredentialsMode::Replace, None, Some("https://h"))
            .merged(Some(&old))
            .unwrap();
        assert_eq!(put.device_tokens, Some(vec![]));
        assert_eq!(put.webhook_url.as_deref(), Some("https://h"));
        let patch = update(CredentialsMode::Append, None, Some("https://h"))
            .merged(Some(&old))
            .unwrap();
        assert_eq!(tokens(&patch), ["x"]);
    }

    #[test]
    fn an_empty_token_list_clears_tokens_in_both_modes() {
        let old = with_tokens(&["a", "b"]);
        for mode in [CredentialsMode::Replace, CredentialsMode::Append] {
            let merged = update(mode, Some(&[]), None).merged(Some(&old)).unwrap();
            assert_eq!(merged.device_tokens, Some(vec![]));
        }
    }

    #[test]
    fn a_new_channel_stores_exactly_what_was_given() {
        let merged = update(CredentialsMode::Append, None, Some("u"))
            .merged(None)
            .unwrap();
        assert_eq!(merged.device_tokens, None);
        assert_eq!(merged.webhook_url.as_deref(), Some("u"));
    }

    #[test]
    fn appending_past_the_token_limit_is_refused() {
        let many: Vec<String> = (0..MAX_DEVICE_TOKENS).map(|i| format!("t{i}")).collect();
        let old = ChannelCredentials {
            device_tokens: Some(many),
            ..Default::default()
        };
        let err = update(CredentialsMode::Append, Some(&["new"]), None)
            .merged(Some(&old))
            .unwrap_err();
        assert_eq!(err.count, MAX_DEVICE_TOKENS + 1);
        // Re-sending a token already held does not count twice.
        assert!(update(CredentialsMode::Append, Some(&["t0"]), None)
            .merged(Some(&old))
            .is_ok());
    }

    #[test]
    fn only_a_moving_write_claims_its_tokens_from_other_holders() {
        let mut u = update(CredentialsMode::Append, Some(&["a", "b"]), None);
        assert_eq!(u.claimed_tokens(), ["a", "b"]);
        u.ownership = TokenOwnership::Share;
        assert!(u.claimed_tokens().is_empty());
        let none = update(CredentialsMode::Replace, None, Some("u"));
        assert!(none.claimed_tokens().is_empty());
    }

    #[test]
    fn token_ownership_parses_its_two_values_only() {
        assert_eq!("move".parse(), Ok(TokenOwnership::Move));
        assert_eq!("share".parse(), Ok(TokenOwnership::Share));
        assert_eq!(TokenOwnership::default(), TokenOwnership::Move);
        let err = "Move".parse::<TokenOwnership>().unwrap_err();
        assert!(err.contains("`move` or `share`"), "{err}");
    }

    #[test]
    fn profile_survives_a_column_round_trip_with_nulls_and_absent_fields() {
        let p = Profile {
            first_name: Field::Value("A".into()),
            email: Field::Null,
            data: Field::Value(serde_json::json!({"k": [1, 2]})),
            timezone: Field::Null,
            ..Default::default()
        };
        let text = p.text_columns().map(|c| c.map(str::to_string));
        let back = Profile::from_columns(text, p.data_column(), p.null_mask());
        assert_eq!(back, p);
    }

    #[test]
    fn profile_apply_keeps_absent_fields_and_reports_changes() {
        let mut p = Profile {
            first_name: Field::Value("John".into()),
            email: Field::Value("j@d.com".into()),
            ..Default::default()
        };
        let patch = Profile {
            last_name: Field::Value("Doe".into()),
            email: Field::Null,
            ..Default::default()
        };
        assert!(p.apply(&patch));
        assert_eq!(p.first_name, Field::Value("John".into()));
        assert_eq!(p.email, Field::Null);
        assert!(
            !p.apply(&patch),
            "applying the same patch twice changes nothing"
        );
    }
}
