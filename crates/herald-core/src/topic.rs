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
    pub topic: Topic,
    pub subscriber: SubscriberRef,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The result of adding subscribers to a topic: the memberships of the subscribers that exist
/// (new or already there), in request order, and the ids that match no subscriber.
#[derive(Clone, Debug, PartialEq)]
pub struct AddSubscribersOutcome {
    pub subscriptions: Vec<TopicSubscription>,
    pub not_found: Vec<String>,
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
