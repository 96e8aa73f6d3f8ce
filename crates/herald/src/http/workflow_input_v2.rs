//! Parsing `/v2/workflows` bodies (`CreateWorkflowDto`, `UpdateWorkflowDto`, `PatchWorkflowDto`
//! of `@novu/api` / `novu-py`) into the domain model. Chat steps read `controlValues.body`, push
//! steps `controlValues.subject` (title) and `controlValues.body`; other control values are kept
//! as given. `preferences` is checked against the shape the SDKs parse back, so an answer never
//! echoes something the client's own parser would reject.

use std::collections::HashMap;

use herald_core::workflow::{parse_identifier, Severity, Step, StepExtras, StepKind};
use herald_core::ObjectId;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::validate::Fields;
use super::workflow_input::{
    assign_step_ids, optional_description, optional_strings, required_array, required_name,
    unsupported_type,
};

/// Which request a body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V2Request {
    /// `POST`: `name`, `workflowId` and `steps` required.
    Create,
    /// `PUT`: `name`, `steps` and `preferences` required; `workflowId` renames.
    Update,
    /// `PATCH`: only `active`, `name`, `description`, `tags`, `payloadSchema`,
    /// `validatePayload`, `isTranslationEnabled`, each optional.
    Patch,
}

/// A parsed v2 body; `None` is absent (or `null` where that means absent).
#[derive(Debug, Default)]
pub struct V2Body {
    pub name: Option<String>,
    pub identifier: Option<String>,
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub active: Option<bool>,
    pub validate_payload: Option<bool>,
    /// `Some(None)`: given as `null` (cleared).
    pub payload_schema: Option<Option<Map<String, Value>>>,
    pub is_translation_enabled: Option<bool>,
    pub steps: Option<Vec<Step>>,
    pub preferences: Option<Map<String, Value>>,
    pub severity: Option<Severity>,
}

pub fn parse_v2(
    body: &Map<String, Value>,
    request: V2Request,
    existing: &[Step],
) -> Result<V2Body, ApiError> {
    let mut f = Fields::new(body);
    let mut out = V2Body {
        name: match request {
            V2Request::Patch => optional_name(&mut f),
            _ => required_name(&mut f, "name"),
        },
        ..Default::default()
    };
    out.description = optional_description(&mut f, "description");
    out.tags = optional_strings(&mut f, "tags");
    out.active = f.optional_bool("active");
    out.validate_payload = f.optional_bool("validatePayload");
    out.payload_schema = match f.raw("payloadSchema") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::Object(o)) => Some(Some(o.clone())),
        Some(_) => {
            f.error("payloadSchema must be an object".into());
            None
        }
    };
    out.is_translation_enabled = f.optional_bool("isTranslationEnabled");
    if request == V2Request::Patch {
        f.finish(|| ())?;
        return Ok(out);
    }
    out.identifier = workflow_id(&mut f, request == V2Request::Create);
    let raw_steps = required_array(&mut f, "steps");
    out.preferences = preferences(&mut f, request == V2Request::Update);
    out.severity = match f.optional_string("severity").value() {
        None => None,
        Some(s) => match Severity::parse(s) {
            Some(sev) => Some(sev),
            None => {
                f.error(
                    "severity must be one of the following values: high, medium, low, none".into(),
                );
                None
            }
        },
    };
    let mut steps = Vec::new();
    let mut explicit = Vec::new();
    let mut named: HashMap<String, usize> = HashMap::new();
    for (i, raw) in raw_steps.into_iter().flatten().enumerate() {
        if let Some((step, own_id)) = v2_step(&mut f, i, raw, existing) {
            if own_id {
                if let Some(first) = named.insert(step.step_id.clone(), i) {
                    f.error(format!(
                        "steps.{i}.stepId must be unique within the workflow ({:?} is the stepId of steps.{first})",
                        step.step_id
                    ));
                }
            }
            steps.push(step);
            explicit.push(own_id);
        }
    }
    let given = raw_steps.is_some();
    f.finish(|| ())?;
    if given {
        assign_step_ids(&mut steps, &explicit);
        out.steps = Some(steps);
    }
    Ok(out)
}

fn optional_name(f: &mut Fields<'_>) -> Option<String> {
    let name = f.optional_string("name").value().cloned()?;
    if name.trim().is_empty() {
        f.error("name should not be empty".into());
        return None;
    }
    Some(name)
}

/// `workflowId`: the trigger identifier, `^[A-Za-z0-9._-]+$`.
fn workflow_id(f: &mut Fields<'_>, required: bool) -> Option<String> {
    let raw = if required {
        f.required_string("workflowId")?
    } else {
        f.optional_string("workflowId").value().cloned()?
    };
    match parse_identifier(&raw) {
        Ok(id) => Some(id),
        Err(e) => {
            f.error(format!("workflowId {e}"));
            None
        }
    }
}

/// `{enabled?, readOnly?}`.
fn preference(f: &mut Fields<'_>, obj: &Map<String, Value>, prefix: &str, keys: &[&str]) -> Value {
    let mut nested = Fields::nested(obj, prefix.to_string());
    let mut out = Map::new();
    for key in keys {
        if let Some(b) = nested.optional_bool(key) {
            out.insert((*key).to_string(), Value::Bool(b));
        }
    }
    f.absorb(nested);
    Value::Object(out)
}

/// `{all: {enabled?, readOnly?}, channels: {<channel>: {enabled?}}}`, normalised to those keys.
fn preference_set(f: &mut Fields<'_>, obj: &Map<String, Value>, prefix: &str) -> Value {
    let mut nested = Fields::nested(obj, prefix.to_string());
    let all = nested.required_object("all");
    let channels = nested.required_object("channels");
    f.absorb(nested);
    let mut out = Map::new();
    if let Some(all) = all {
        let all = preference(f, all, &format!("{prefix}all."), &["enabled", "readOnly"]);
        out.insert("all".into(), all);
    }
    if let Some(channels) = channels {
        let mut chans = Map::new();
        for (name, v) in channels {
            match v {
                Value::Object(c) => {
                    let c = preference(f, c, &format!("{prefix}channels.{name}."), &["enabled"]);
                    chans.insert(name.clone(), c);
                }
                _ => f.error(format!("{prefix}channels.{name} must be an object")),
            }
        }
        out.insert("channels".into(), Value::Object(chans));
    }
    Value::Object(out)
}

/// `preferences`: `{user?: set | null, workflow?: set | null}`.
fn preferences(f: &mut Fields<'_>, required: bool) -> Option<Map<String, Value>> {
    let obj = if required {
        f.required_object("preferences")?
    } else {
        f.optional_object("preferences")?
    };
    let mut out = Map::new();
    for key in ["user", "workflow"] {
        match obj.get(key) {
            None => {}
            Some(Value::Null) => {
                out.insert(key.into(), Value::Null);
            }
            Some(Value::Object(set)) => {
                let set = preference_set(f, set, &format!("preferences.{key}."));
                out.insert(key.into(), set);
            }
            Some(_) => f.error(format!("preferences.{key} must be an object")),
        }
    }
    Some(out)
}

/// One step (`ChatStepUpsertDto` / `PushStepUpsertDto`); `None` with messages in `f` when it
/// does not parse. The flag says whether the step named its own `stepId`, or is an existing
/// step (named by `_id`) keeping its own.
fn v2_step(f: &mut Fields<'_>, i: usize, raw: &Value, existing: &[Step]) -> Option<(Step, bool)> {
    let prefix = format!("steps.{i}.");
    let Some(obj) = raw.as_object() else {
        f.error(format!("steps.{i} must be an object"));
        return None;
    };
    let mut s = Fields::nested(obj, prefix.clone());
    let kind = match s.raw("type") {
        Some(Value::String(ty)) => match StepKind::parse(ty) {
            Some(kind) => Some(kind),
            None => {
                s.error(unsupported_type(&format!("{prefix}type"), ty));
                None
            }
        },
        None | Some(Value::Null) => {
            s.error(format!("{prefix}type should not be null or undefined"));
            None
        }
        Some(_) => {
            s.error(format!("{prefix}type must be a string"));
            None
        }
    };
    let name = required_name(&mut s, "name");
    let previous = s
        .optional_string("_id")
        .value()
        .and_then(|id| ObjectId::parse(id))
        .and_then(|id| existing.iter().find(|e| e.id == id));
    let step_id = match s.optional_string("stepId").value() {
        None => None,
        Some(raw) => match parse_identifier(raw) {
            Ok(id) => Some(id),
            Err(e) => {
                s.error(format!("{prefix}stepId {e}"));
                None
            }
        },
    };
    let controls = match s.raw("controlValues") {
        None => previous.map(|p| {
            (
                p.content.clone(),
                p.title.clone(),
                p.extras.controls.clone(),
            )
        }),
        Some(Value::Null) => Some((String::new(), None, Map::new())),
        Some(Value::Object(values)) => Some(control_values(&mut s, values, &prefix)),
        Some(_) => {
            s.error(format!("{prefix}controlValues must be an object"));
            None
        }
    };
    let overrides = match s.raw("providerOverrides") {
        None => previous
            .map(|p| p.provider_overrides.clone())
            .unwrap_or_default(),
        Some(Value::Null) => Map::new(),
        Some(Value::Object(o)) => {
            for (provider, v) in o {
                if !v.is_object() {
                    s.error(format!(
                        "{prefix}providerOverrides.{provider} must be an object"
                    ));
                }
            }
            o.clone()
        }
        Some(_) => {
            s.error(format!("{prefix}providerOverrides must be an object"));
            Map::new()
        }
    };
    let ok = !s.has_errors();
    f.absorb(s);
    let (kind, name) = (kind?, name?);
    if !ok {
        return None;
    }
    let (content, title, controls) = controls.unwrap_or_default();
    let own_id = step_id.is_some() || previous.is_some();
    let step = Step {
        id: previous.map(|p| p.id.clone()).unwrap_or_default(),
        step_id: step_id
            .or_else(|| previous.map(|p| p.step_id.clone()))
            .unwrap_or_default(),
        name,
        kind,
        active: previous.map(|p| p.active).unwrap_or(true),
        content,
        title: title.filter(|_| kind == StepKind::Push),
        provider_overrides: overrides,
        extras: StepExtras {
            controls,
            ..previous.map(|p| p.extras.clone()).unwrap_or_default()
        },
    };
    Some((step, own_id))
}

/// `controlValues`: `body` (text), `subject` (push title), the rest kept as given.
fn control_values(
    f: &mut Fields<'_>,
    values: &Map<String, Value>,
    prefix: &str,
) -> (String, Option<String>, Map<String, Value>) {
    let mut nested = Fields::nested(values, format!("{prefix}controlValues."));
    let body = nested
        .optional_string("body")
        .value()
        .cloned()
        .unwrap_or_default();
    let subject = nested.optional_string("subject").value().cloned();
    f.absorb(nested);
    let rest = values
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "body" | "subject"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (body, subject, rest)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn messages(r: Result<V2Body, ApiError>) -> Vec<String> {
        match r {
            Err(ApiError::Validation(m)) => m,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    /// What `workflows.create` of `@novu/api` 3.19.1 puts on the wire (recorded).
    #[test]
    fn the_api_sdks_create_body_is_read() {
        let body = obj(json!({
            "name": "Order shipped", "active": false, "isTranslationEnabled": false,
            "workflowId": "order-shipped", "__source": "editor", "tags": ["orders"],
            "steps": [
                {"name": "Chat step", "type": "chat", "controlValues": {"body": "Order {{payload.id}}", "editorType": "text"}},
                {"name": "Push", "type": "push", "stepId": "push-1",
                 "controlValues": {"subject": "Shipped", "body": "{{payload.id}}"},
                 "providerOverrides": {"fcm": {"android": {}}}}
            ],
            "severity": "high",
            "preferences": {"user": null, "workflow": {"all": {"enabled": true}, "channels": {"chat": {"enabled": false}, "x": {"junk": 1}}}}
        }));
        let b = parse_v2(&body, V2Request::Create, &[]).unwrap();
        assert_eq!(b.identifier.as_deref(), Some("order-shipped"));
        assert_eq!(b.active, Some(false));
        assert_eq!(b.severity, Some(Severity::High));
        let steps = b.steps.unwrap();
        assert_eq!(
            (steps[0].step_id.as_str(), steps[0].kind),
            ("chat-step", StepKind::Chat)
        );
        assert_eq!(steps[0].content, "Order {{payload.id}}");
        assert_eq!(steps[0].title, None);
        assert_eq!(steps[0].extras.controls, obj(json!({"editorType": "text"})));
        assert_eq!(steps[1].step_id, "push-1");
        assert_eq!(steps[1].title.as_deref(), Some("Shipped"));
        assert_eq!(
            steps[1].provider_overrides,
            obj(json!({"fcm": {"android": {}}}))
        );
        assert_eq!(
            Value::Object(b.preferences.unwrap()),
            json!({"user": null, "workflow": {"all": {"enabled": true}, "channels": {"chat": {"enabled": false}, "x": {}}}})
        );
    }

    #[test]
    fn other_step_types_name_the_supported_ones() {
        let body = obj(
            json!({"name": "x", "workflowId": "x", "steps": [{"name": "Inbox", "type": "in_app"}]}),
        );
        let m = messages(parse_v2(&body, V2Request::Create, &[]));
        assert_eq!(m.len(), 1, "{m:?}");
        assert!(m[0].starts_with("steps.0.type must be one of the step types Herald delivers: chat, push (got \"in_app\""));
    }

    #[test]
    fn required_fields_and_bad_identifiers_are_reported() {
        assert_eq!(
            messages(parse_v2(&obj(json!({})), V2Request::Create, &[])),
            [
                "name should not be null or undefined",
                "name must be a string",
                "workflowId should not be null or undefined",
                "workflowId must be a string",
                "steps should not be null or undefined",
                "steps must be an array",
            ]
        );
        assert_eq!(
            messages(parse_v2(
                &obj(json!({"name": "x", "workflowId": "a b", "steps": [], "severity": "urgent"})),
                V2Request::Create,
                &[]
            )),
            [
                "workflowId may only contain letters, numbers, hyphens, dots and underscores",
                "severity must be one of the following values: high, medium, low, none",
            ]
        );
        assert_eq!(
            messages(parse_v2(
                &obj(json!({"name": "x", "steps": []})),
                V2Request::Update,
                &[]
            )),
            [
                "preferences should not be null or undefined",
                "preferences must be an object"
            ]
        );
    }

    #[test]
    fn duplicate_step_ids_given_by_the_client_are_refused() {
        let body = obj(json!({"name": "x", "workflowId": "x", "steps": [
            {"name": "a", "type": "chat", "stepId": "s"},
            {"name": "b", "type": "push", "stepId": "s"}
        ]}));
        assert_eq!(
            messages(parse_v2(&body, V2Request::Create, &[])),
            ["steps.1.stepId must be unique within the workflow (\"s\" is the stepId of steps.0)"]
        );
    }

    #[test]
    fn an_existing_step_named_by_id_keeps_what_the_update_does_not_give() {
        let first = parse_v2(
            &obj(json!({"name": "x", "workflowId": "x", "steps": [
                {"name": "Chat", "type": "chat", "controlValues": {"body": "old"},
                 "providerOverrides": {"slack": {"text": "o"}}}
            ]})),
            V2Request::Create,
            &[],
        )
        .unwrap()
        .steps
        .unwrap();
        let id = first[0].id.to_string();
        let kept = parse_v2(
            &obj(json!({"name": "x", "preferences": {}, "steps": [{"_id": id, "name": "Renamed", "type": "chat"}]})),
            V2Request::Update,
            &first,
        )
        .unwrap()
        .steps
        .unwrap();
        assert_eq!(
            (kept[0].id.clone(), kept[0].step_id.as_str()),
            (first[0].id.clone(), "chat")
        );
        assert_eq!(kept[0].content, "old");
        assert_eq!(kept[0].provider_overrides, first[0].provider_overrides);
        let cleared = parse_v2(
            &obj(json!({"name": "x", "preferences": {}, "steps": [{"_id": id, "name": "c", "type": "chat", "controlValues": null}]})),
            V2Request::Update,
            &first,
        )
        .unwrap()
        .steps
        .unwrap();
        assert_eq!(cleared[0].content, "");
    }

    #[test]
    fn patch_reads_only_its_fields() {
        let b = parse_v2(
            &obj(json!({"active": true, "payloadSchema": null, "steps": "ignored", "workflowId": "a b"})),
            V2Request::Patch,
            &[],
        )
        .unwrap();
        assert_eq!(b.active, Some(true));
        assert_eq!(b.payload_schema, Some(None));
        assert!(b.steps.is_none() && b.identifier.is_none());
    }
}
