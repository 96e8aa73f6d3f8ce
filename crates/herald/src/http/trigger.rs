//! Accepting one trigger (`POST /v1/events/trigger`, each item of `/bulk`, `/broadcast`): parsing
//! `TriggerEventRequestDto` into domain values, the checks Novu makes before answering (workflow,
//! reserved variables, active steps), the subscribers named inline, and the one store write that
//! makes the trigger durable. The handlers (`events.rs`) add idempotency and the envelopes.

use std::collections::HashSet;

use herald_core::delivery::event::{
    EventCreated, IdempotencyRecord, NewEvent, Recipients, TopicRecipient, WorkflowSnapshot,
};
use herald_core::render::subscriber_context;
use herald_core::{AuthContext, ObjectId};
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use super::error::ApiError;
use super::subscribers::{parse_create, upsert_with_channels, CreateRequest};
use super::validate::{Fields, MAX_ID_LEN};
use crate::state::AppState;

/// One entry of `to` (or the actor).
pub(super) enum RecipientSpec {
    /// A subscriber id.
    Id(String),
    /// A subscriber object: created or updated before the event is accepted, as Novu does.
    Inline(Box<CreateRequest>),
    /// `{type: "Topic", topicKey, exclude?}`.
    Topic(TopicRecipient),
}

/// A parsed `TriggerEventRequestDto` (or broadcast request).
pub(super) struct TriggerRequest {
    pub name: String,
    pub to: Vec<RecipientSpec>,
    pub broadcast: bool,
    pub payload: Map<String, Value>,
    pub overrides: Map<String, Value>,
    pub transaction_id: Option<String>,
    pub actor: Option<RecipientSpec>,
    pub tenant: Option<Value>,
}

/// `TriggerEventResponseDto`. `status`: `processed` (accepted), `trigger_not_active`,
/// `no_workflow_steps_defined`, `no_workflow_active_steps_defined`, or (bulk items only) `error`
/// with `error` listing why.
#[derive(Serialize, ToSchema)]
#[schema(as = TriggerEventResponseDto)]
#[serde(rename_all = "camelCase")]
pub struct TriggerAnswer<'a> {
    pub acknowledged: bool,
    #[schema(
        pattern = "^(processed|trigger_not_active|no_workflow_steps_defined|no_workflow_active_steps_defined|error)$"
    )]
    pub status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error: Option<Vec<String>>,
    pub transaction_id: &'a str,
}

/// The trigger's answer: `{acknowledged: true, status, transactionId}`, as the JSON that is also
/// stored for an `Idempotency-Key` replay.
pub fn answer(status: &str, transaction_id: &str) -> Value {
    json!(TriggerAnswer {
        acknowledged: true,
        status,
        error: None,
        transaction_id,
    })
}

/// A random UUID v4, Novu's default `transactionId`.
pub fn uuid_v4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn parse_recipient(f: &mut Fields<'_>, prefix: String, v: &Value) -> Option<RecipientSpec> {
    match v {
        Value::String(s) => {
            let id = s.trim();
            if id.is_empty() {
                f.error(format!("{prefix} should not be empty"));
                None
            } else if id.chars().count() > MAX_ID_LEN || id.chars().any(char::is_control) {
                f.error(format!(
                    "{prefix} must be a subscriber id of at most {MAX_ID_LEN} characters without control characters"
                ));
                None
            } else {
                Some(RecipientSpec::Id(id.to_string()))
            }
        }
        Value::Object(obj) if obj.get("type").and_then(Value::as_str) == Some("Topic") => {
            let mut t = Fields::nested(obj, format!("{prefix}."));
            let key = t.required_id("topicKey");
            let mut exclude = Vec::new();
            if let Some(items) = t.optional_array("exclude") {
                for (i, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) => exclude.push(s.to_string()),
                        None => t.error(format!("{prefix}.exclude.{i} must be a string")),
                    }
                }
            }
            f.absorb(t);
            Some(RecipientSpec::Topic(TopicRecipient { key: key?, exclude }))
        }
        Value::Object(obj) => {
            if !matches!(obj.get("subscriberId"), Some(v) if !v.is_null()) {
                f.error(format!(
                    "subscriberId under property {prefix} is not configured, please make sure all subscribers contains subscriberId property"
                ));
                return None;
            }
            let mut s = Fields::nested(obj, format!("{prefix}."));
            let parsed = parse_create(&mut s);
            f.absorb(s);
            parsed.map(|c| RecipientSpec::Inline(Box::new(c)))
        }
        _ => {
            f.error(format!(
                "{prefix} must be a subscriber id, a subscriber object or a topic"
            ));
            None
        }
    }
}

/// Parses a trigger body; `broadcast` bodies have no `to` and a required `payload`.
pub(super) fn parse(
    body: &Map<String, Value>,
    broadcast: bool,
) -> Result<TriggerRequest, ApiError> {
    let mut f = Fields::new(body);
    let name = f.required_string("name");
    let mut to = Vec::new();
    if !broadcast {
        match body.get("to") {
            None | Some(Value::Null) => f.error("to should not be null or undefined".into()),
            Some(Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    to.extend(parse_recipient(&mut f, format!("to.{i}"), item));
                }
            }
            Some(one) => to.extend(parse_recipient(&mut f, "to".into(), one)),
        }
    }
    let payload = if broadcast {
        f.required_object("payload").cloned()
    } else {
        Some(f.optional_object("payload").cloned().unwrap_or_default())
    };
    let overrides = f.optional_object("overrides").cloned().unwrap_or_default();
    let transaction_id = f.optional_id("transactionId");
    let actor = match body.get("actor") {
        None | Some(Value::Null) => None,
        Some(v) => match parse_recipient(&mut f, "actor".into(), v) {
            Some(RecipientSpec::Topic(_)) => {
                f.error("actor must be a subscriber id or a subscriber object".into());
                None
            }
            other => other,
        },
    };
    let tenant = match body.get("tenant") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(json!({"identifier": s})),
        Some(Value::Object(o)) => {
            if !o.get("identifier").is_some_and(Value::is_string) {
                f.error("tenant.identifier must be a string".into());
            }
            Some(Value::Object(o.clone()))
        }
        Some(_) => {
            f.error("tenant must be a string or an object".into());
            None
        }
    };
    f.finish(|| ())?;
    Ok(TriggerRequest {
        name: name.expect("checked"),
        to,
        broadcast,
        payload: payload.expect("checked"),
        overrides,
        transaction_id,
        actor,
        tenant,
    })
}

/// What accepting a trigger came to.
pub(super) enum Accepted {
    /// The answer to give (and, for idempotent requests, to store when nothing else stored it).
    Answer { body: Value, stored: bool },
    /// The `Idempotency-Key` had been used: answer as stored.
    Replay(herald_core::delivery::event::IdempotentResponse),
}

/// Accepts a parsed trigger: checks, inline subscribers, one store write. `idempotency` is the
/// record to write with the event (its body is filled in here).
pub(super) async fn accept(
    state: &AppState,
    ctx: &AuthContext,
    req: TriggerRequest,
    idempotency: Option<(String, String)>,
) -> Result<Accepted, ApiError> {
    let env = &ctx.environment_id;
    let Some(workflow) = state.store.workflow_by_identifier(env, &req.name).await? else {
        return Err(ApiError::Unprocessable {
            field: "name",
            value: Some(Value::String(req.name.clone())),
            message: "workflow_not_found".into(),
        });
    };
    let reserved = workflow.reserved_variables();
    let mut missing = Vec::new();
    let has_tenant = req
        .tenant
        .as_ref()
        .is_some_and(|t| t.get("identifier").is_some());
    if reserved.tenant && !has_tenant {
        missing.push("tenant object, identifier property of tenant");
    }
    if reserved.actor && req.actor.is_none() {
        missing.push("actor object, subscriberId property of actor");
    }
    if !missing.is_empty() {
        return Err(ApiError::BadRequest(format!(
            "Trigger is missing: {}",
            missing.join(", ")
        )));
    }
    let status = if !workflow.active {
        Some("trigger_not_active")
    } else if workflow.steps.is_empty() {
        Some("no_workflow_steps_defined")
    } else if !workflow.steps.iter().any(|s| s.active) {
        Some("no_workflow_active_steps_defined")
    } else {
        None
    };
    // Every answer carries the transactionId, accepted or not (Novu's only on `processed`): the
    // classic Python SDK's `EventDto` requires it, and raises a `TypeError` on an answer without.
    let transaction_id = req.transaction_id.clone().unwrap_or_else(uuid_v4);
    if let Some(status) = status {
        return Ok(Accepted::Answer {
            body: answer(status, &transaction_id),
            stored: false,
        });
    }
    // Topics are checked now, so that a typo is a clear 404 instead of a silent no-op later.
    for r in &req.to {
        if let RecipientSpec::Topic(t) = r {
            if state.store.get_topic(env, &t.key).await?.is_none() {
                return Err(ApiError::NotFound(format!(
                    "Topic with key {} not found in current environment",
                    t.key
                )));
            }
        }
    }
    // Subscribers given as objects are written first (each with its channels, as a create
    // would), then the event; a repeated id keeps its last definition.
    let mut recipients = Recipients {
        broadcast: req.broadcast,
        ..Recipients::default()
    };
    let mut seen = HashSet::new();
    for r in &req.to {
        match r {
            RecipientSpec::Id(id) => {
                if seen.insert(id.clone()) {
                    recipients.subscribers.push(id.clone());
                }
            }
            RecipientSpec::Inline(c) => {
                upsert_with_channels(state, ctx, c).await?;
                if seen.insert(c.subscriber_id.clone()) {
                    recipients.subscribers.push(c.subscriber_id.clone());
                }
            }
            RecipientSpec::Topic(t) => recipients.topics.push(t.clone()),
        }
    }
    let actor = match &req.actor {
        None => None,
        Some(RecipientSpec::Inline(c)) => {
            let s = upsert_with_channels(state, ctx, c).await?;
            recipients.fan_out_exclude.push(s.subscriber_id.clone());
            Some(subscriber_context(&s))
        }
        Some(RecipientSpec::Id(id)) => {
            recipients.fan_out_exclude.push(id.clone());
            match state.store.get_subscriber(env, id).await? {
                Some(s) => Some(subscriber_context(&s)),
                None => Some(json!({"subscriberId": id})),
            }
        }
        Some(RecipientSpec::Topic(_)) => None,
    };
    let body = answer("processed", &transaction_id);
    let idempotency = idempotency.map(|(key, request_hash)| IdempotencyRecord {
        key,
        response: herald_core::delivery::event::IdempotentResponse {
            request_hash,
            status: 201,
            body: json!({"data": body}).to_string(),
            created_at: herald_core::Timestamp::now(),
        },
    });
    let event = NewEvent {
        id: ObjectId::new(),
        transaction_id: transaction_id.clone(),
        workflow: WorkflowSnapshot::of(&workflow),
        payload: req.payload,
        overrides: req.overrides,
        actor,
        tenant: req.tenant,
        recipients,
        idempotency,
    };
    match state
        .store
        .create_event(env, &ctx.organization_id, &event)
        .await?
    {
        EventCreated::Created { .. } => {
            state.wake_delivery();
            Ok(Accepted::Answer { body, stored: true })
        }
        EventCreated::Replay(stored) => Ok(Accepted::Replay(stored)),
        EventCreated::DuplicateTransaction => Err(ApiError::Conflict(
            "transactionId property is not unique, please make sure all triggers have a unique transactionId".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn messages(r: Result<TriggerRequest, ApiError>) -> Vec<String> {
        match r {
            Err(ApiError::Validation(m)) => m,
            Err(e) => panic!("unexpected error {e:?}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn a_uuid_v4_has_its_version_and_variant() {
        let u = uuid_v4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!("89ab".contains(&u[19..20]), "{u}");
    }

    #[test]
    fn name_and_to_are_required() {
        assert_eq!(
            messages(parse(&obj(json!({})), false)),
            [
                "name should not be null or undefined",
                "name must be a string",
                "to should not be null or undefined"
            ]
        );
    }

    #[test]
    fn every_recipient_form_parses() {
        let r = parse(
            &obj(json!({
                "name": "wf",
                "to": ["a", {"subscriberId": "b", "email": "b@example.com"},
                       {"type": "Topic", "topicKey": "t", "exclude": ["a"]}],
                "actor": "c",
                "tenant": "acme",
            })),
            false,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert!(matches!(&r.to[0], RecipientSpec::Id(id) if id == "a"));
        assert!(matches!(&r.to[1], RecipientSpec::Inline(c) if c.subscriber_id == "b"));
        assert!(matches!(&r.to[2], RecipientSpec::Topic(t) if t.key == "t" && t.exclude == ["a"]));
        assert!(matches!(&r.actor, Some(RecipientSpec::Id(id)) if id == "c"));
        assert_eq!(r.tenant, Some(json!({"identifier": "acme"})));
    }

    #[test]
    fn bad_recipients_are_named_by_position() {
        let m = messages(parse(
            &obj(json!({"name": "wf", "to": [5, {"email": "x@example.com"}, {"type": "Topic"}]})),
            false,
        ));
        assert_eq!(
            m,
            [
                "to.0 must be a subscriber id, a subscriber object or a topic",
                "subscriberId under property to.1 is not configured, please make sure all subscribers contains subscriberId property",
                "to.2.topicKey should not be null or undefined",
                "to.2.topicKey must be a string",
            ]
        );
    }

    #[test]
    fn broadcast_needs_a_payload_object() {
        assert_eq!(
            messages(parse(&obj(json!({"name": "wf"})), true)),
            [
                "payload should not be null or undefined",
                "payload must be an object"
            ]
        );
        assert!(parse(&obj(json!({"name": "wf", "payload": {}})), true).is_ok());
    }
}
