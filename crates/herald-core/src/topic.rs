//! Topics: named groups of subscribers that an event can be sent to at once, and the cursor
//! pagination the v2 list endpoints use.

use serde_json::Value;

use crate::subscriber::Field;
use crate::{ObjectId, Timestamp};

#[derive(Clone, Debug, PartialEq)]
pub struct Topic {
    pub id: ObjectId,
    pub environment_id: ObjectId,
    pub organization_id: ObjectId,
    /// Unique per environment.
    pub key: String,
    pub name: Option<String>,
    pub data: Option<Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewTopic {
    pub key: String,
    pub name: Option<String>,
    pub data: Option<Value>,
}

/// Changes to a topic; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopicPatch {
    pub name: Option<String>,
    pub data: Option<Value>,
}

/// The subscriber side of a subscription, as the v2 responses show it.
#[derive(Clone, Debug, PartialEq)]
pub struct SubscriberRef {
    pub id: ObjectId,
    pub subscriber_id: String,
    pub first_name: Field<String>,
    pub last_name: Field<String>,
    pub email: Field<String>,
    pub avatar: Field<String>,
}

/// One subscriber's membership of one topic.
#[derive(Clone, Debug, PartialEq)]
pub struct TopicSubscription {
    pub id: ObjectId,
    /// Names the subscription within its topic (unique per topic): the caller's, or
    /// [`default_subscription_identifier`].
    pub identifier: String,
    /// The caller's label for the subscription, if it gave one.
    pub name: Option<String>,
    pub topic: Topic,
    pub subscriber: SubscriberRef,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One subscriber to add to a topic, optionally naming the subscription. A subscriber has at most
/// one subscription per topic: if it already has one, that one is kept as it is (its identifier
/// and name too) and `identifier`/`name` here are not used.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSubscription {
    pub subscriber_id: String,
    /// `None`: [`default_subscription_identifier`].
    pub identifier: Option<String>,
    pub name: Option<String>,
}

impl NewSubscription {
    /// A subscription with the default identifier and no name (v1 calls, `subscriberIds`).
    pub fn of(subscriber_id: impl Into<String>) -> Self {
        NewSubscription {
            subscriber_id: subscriber_id.into(),
            identifier: None,
            name: None,
        }
    }

    /// The identifier this subscription gets in topic `key` if it is created.
    pub fn identifier_in(&self, key: &str) -> String {
        self.identifier
            .clone()
            .unwrap_or_else(|| default_subscription_identifier(key, &self.subscriber_id))
    }
}

/// The identifier of a subscription created without one: `<topicKey>:<subscriberId>` (what Herald
/// showed for every subscription before identifiers were stored).
pub fn default_subscription_identifier(key: &str, subscriber_id: &str) -> String {
    format!("{key}:{subscriber_id}")
}

/// A subscriber that could not be added because its subscription's identifier already names
/// another subscriber's subscription in the topic (or an earlier one of the same request).
#[derive(Clone, Debug, PartialEq)]
pub struct IdentifierConflict {
    pub subscriber_id: String,
    pub identifier: String,
}

/// The result of adding subscribers to a topic: the memberships of the subscribers that exist
/// (new or already there), in request order, the ids that match no subscriber, and the
/// subscribers refused because their identifier is taken.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AddSubscribersOutcome {
    pub subscriptions: Vec<TopicSubscription>,
    pub not_found: Vec<String>,
    pub conflicts: Vec<IdentifierConflict>,
}

/// A page request of a v2 list: items after (or before) the item with this `_id`, in creation
/// order, ascending or descending.
#[derive(Clone, Debug, PartialEq)]
pub struct CursorQuery {
    pub after: Option<ObjectId>,
    pub before: Option<ObjectId>,
    pub limit: u64,
    pub descending: bool,
}

/// One page of a v2 list, in the requested order, with whether items exist beyond each end and the
/// total count of matching items.
#[derive(Clone, Debug, PartialEq)]
pub struct CursorPage<T> {
    pub items: Vec<T>,
    pub has_next: bool,
    pub has_previous: bool,
    pub total: u64,
}

/// Filters of `GET /v2/subscribers`: each given one must match (case-insensitive substring; `name`
/// matches the first name, the last name or "first last").
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SubscriberFilter {
    pub subscriber_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub name: Option<String>,
}

/// Filters of `GET /v2/topics`: `key` exact, `name` case-insensitive substring.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TopicFilter {
    pub key: Option<String>,
    pub name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subscription_without_an_identifier_is_named_after_its_topic_and_subscriber() {
        assert_eq!(default_subscription_identifier("news", "ada"), "news:ada");
        assert_eq!(NewSubscription::of("ada").identifier_in("news"), "news:ada");
        let named = NewSubscription {
            identifier: Some("mine".into()),
            ..NewSubscription::of("ada")
        };
        assert_eq!(named.identifier_in("news"), "mine");
    }
}
