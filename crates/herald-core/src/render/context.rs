//! What a step's templates see. v1 workflows get Novu's `{...payload, subscriber, step, tenant?,
//! actor?}` (payload keys at the top level, `{{orderId}}`, the reserved names overriding payload
//! keys of the same name); v2 workflows get the namespaced `{payload, subscriber, actor?, tenant?,
//! step}` (`{{payload.orderId}}`).
//!
//! The subscriber is shown without its channel credentials. Novu passes the whole stored
//! document, `channels` included; Herald does not, because webhook URLs and device tokens are
//! secrets (encrypted at rest, never returned in clear by the API): a template that printed
//! `{{subscriber.channels}}` would copy them into a message, a provider's logs, and Herald's
//! activity records, readable by anyone who can edit a workflow.

use serde_json::{Map, Value};

use crate::subscriber::Field;
use crate::{Subscriber, WorkflowOrigin};

/// The render context of one step for one subscriber. `subscriber` and `actor` are
/// [`subscriber_context`] values; `step` is `{digest, events, total_count}`; `tenant` and `actor`
/// are left out when absent (or `null`), as Novu leaves them out.
pub fn context(
    origin: WorkflowOrigin,
    payload: &Map<String, Value>,
    subscriber: &Value,
    actor: Option<&Value>,
    tenant: Option<&Value>,
    step: &Value,
) -> Value {
    let actor = actor.filter(|v| !v.is_null());
    let tenant = tenant.filter(|v| !v.is_null());
    let mut ctx = match origin {
        // `{...payload, ...rest}`: a payload key named like a reserved one keeps its position
        // and takes the reserved value, as in a JavaScript object spread.
        WorkflowOrigin::V1 => payload.clone(),
        WorkflowOrigin::V2 => {
            let mut ctx = Map::new();
            ctx.insert("payload".into(), Value::Object(payload.clone()));
            ctx
        }
    };
    ctx.insert("subscriber".into(), subscriber.clone());
    let reserved = match origin {
        WorkflowOrigin::V1 => [("step", Some(step)), ("tenant", tenant), ("actor", actor)],
        WorkflowOrigin::V2 => [("actor", actor), ("tenant", tenant), ("step", Some(step))],
    };
    for (name, value) in reserved {
        if let Some(v) = value {
            ctx.insert(name.into(), v.clone());
        }
    }
    Value::Object(ctx)
}

/// The subscriber as templates see it: `_id`, `subscriberId`, then the profile fields that were
/// ever set (`firstName`, `lastName`, `email`, `phone`, `avatar`, `locale`, `timezone`, `data`;
/// an explicit `null` stays `null`). No `channels`: see the module docs.
pub fn subscriber_context(s: &Subscriber) -> Value {
    let mut out = Map::new();
    out.insert("_id".into(), Value::String(s.id.as_str().to_owned()));
    out.insert(
        "subscriberId".into(),
        Value::String(s.subscriber_id.clone()),
    );
    let p = &s.profile;
    let texts = [
        &p.first_name,
        &p.last_name,
        &p.email,
        &p.phone,
        &p.avatar,
        &p.locale,
        &p.timezone,
    ];
    let names = crate::Profile::FIELD_ORDER;
    for (name, field) in names.iter().zip(texts) {
        if let Some(v) = field_value(field, |s| Value::String(s.clone())) {
            out.insert((*name).into(), v);
        }
    }
    if let Some(v) = field_value(&p.data, Value::clone) {
        out.insert("data".into(), v);
    }
    Value::Object(out)
}

fn field_value<T>(field: &Field<T>, to_json: impl Fn(&T) -> Value) -> Option<Value> {
    match field {
        Field::Absent => None,
        Field::Null => Some(Value::Null),
        Field::Value(v) => Some(to_json(v)),
    }
}

#[cfg(test)]
#[path = "context_tests.rs"]
mod tests;
