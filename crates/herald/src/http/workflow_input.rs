//! Parsing workflow request bodies (v1 and v2) into the one domain model, with class-validator
//! style messages in Novu's order. `null` reads as absent on every optional field (the classic
//! Python SDK fills every unset field with `null`), unknown keys are ignored, and the snake_case
//! step keys that SDK sends (`should_stop_on_fail`, `_template_id`) are read like their
//! camelCase forms. Step types other than chat and push are refused with a message naming the
//! supported ones: Herald never drops a step silently.
//!
//! v1 bodies are read here; v2 bodies in `workflow_input_v2`, on the helpers below.

use std::collections::HashSet;

use herald_core::workflow::{slug, PreferenceSettings, Step, StepExtras, StepKind};
use herald_core::ObjectId;
use serde_json::{Map, Value};

use super::error::ApiError;
use super::validate::Fields;

/// Novu's `@MaxLength(1000)` on `description`.
pub const MAX_DESCRIPTION_LEN: usize = 1000;

/// The message for a step type Herald does not deliver.
pub fn unsupported_type(field: &str, got: &str) -> String {
    format!(
        "{field} must be one of the step types Herald delivers: chat, push (got {got:?}; \
         in_app, email, sms, digest, delay and the other Novu step types are not supported)"
    )
}

/// `@IsDefined() @IsArray()`.
pub fn required_array<'a>(f: &mut Fields<'a>, key: &str) -> Option<&'a Vec<Value>> {
    match f.raw(key) {
        None | Some(Value::Null) => {
            let n = f.name(key);
            f.error(format!("{n} should not be null or undefined"));
            f.error(format!("{n} must be an array"));
            None
        }
        Some(Value::Array(a)) => Some(a),
        Some(_) => {
            let n = f.name(key);
            f.error(format!("{n} must be an array"));
            None
        }
    }
}

/// `@IsOptional() @IsArray() @IsString({each: true})`: `None` when absent or `null`.
pub fn optional_strings(f: &mut Fields<'_>, key: &str) -> Option<Vec<String>> {
    let items = f.optional_array(key)?;
    let strings: Vec<String> = items
        .iter()
        .filter_map(|v| v.as_str().filter(|s| !s.contains('\0')))
        .map(str::to_string)
        .collect();
    if strings.len() != items.len() {
        let n = f.name(key);
        f.error(format!("each value in {n} must be a string"));
        return None;
    }
    Some(strings)
}

/// An optional text of at most [`MAX_DESCRIPTION_LEN`] characters (`null`: absent).
pub fn optional_description(f: &mut Fields<'_>, key: &str) -> Option<String> {
    let s = f.optional_string(key).value().cloned()?;
    if s.chars().count() > MAX_DESCRIPTION_LEN {
        let n = f.name(key);
        f.error(format!(
            "{n} must be shorter than or equal to {MAX_DESCRIPTION_LEN} characters"
        ));
        return None;
    }
    Some(s)
}

/// A required, non-empty name.
pub fn required_name(f: &mut Fields<'_>, key: &str) -> Option<String> {
    let name = f.required_string(key)?;
    if name.trim().is_empty() {
        let n = f.name(key);
        f.error(format!("{n} should not be empty"));
        return None;
    }
    Some(name)
}

/// The first of `keys` that is present and not `null` (for a field the classic Python SDK
/// spells in snake_case).
fn either<'a>(obj: &'a Map<String, Value>, keys: &[&str]) -> Option<(&'a str, &'a Value)> {
    keys.iter()
        .find_map(|k| obj.get_key_value(*k).filter(|(_, v)| !v.is_null()))
        .map(|(k, v)| (k.as_str(), v))
}

/// Gives each step a `stepId` unique within the workflow: the step's own (kept), else the slug
/// of its name (`@novu/shared`'s slugify; `step` when that is empty) with `-<shortid>` when
/// taken. `explicit[i]` says whether step `i` named its own.
pub fn assign_step_ids(steps: &mut [Step], explicit: &[bool]) {
    let mut taken: HashSet<String> = steps
        .iter()
        .zip(explicit)
        .filter(|(_, e)| **e)
        .map(|(s, _)| s.step_id.clone())
        .collect();
    for (step, _) in steps.iter_mut().zip(explicit).filter(|(_, e)| !**e) {
        let mut base = step.step_id.clone();
        if base.is_empty() {
            base = slug::step_id(&step.name);
        }
        if base.is_empty() {
            base = "step".into();
        }
        let mut candidate = base.clone();
        while taken.contains(&candidate) {
            candidate = format!("{base}-{}", slug::short_id());
        }
        taken.insert(candidate.clone());
        step.step_id = candidate;
    }
}

/// v1 `preferenceSettings`: each channel `true` unless given as `false`.
fn preference_settings(f: &mut Fields<'_>, key: &str) -> Option<PreferenceSettings> {
    let obj = f.optional_object(key)?;
    let mut nested = Fields::nested(obj, format!("{}.", f.name(key)));
    let mut p = PreferenceSettings::default();
    for (channel, slot) in [
        ("email", &mut p.email),
        ("sms", &mut p.sms),
        ("in_app", &mut p.in_app),
        ("chat", &mut p.chat),
        ("push", &mut p.push),
    ] {
        if let Some(b) = nested.optional_bool(channel) {
            *slot = b;
        }
    }
    f.absorb(nested);
    Some(p)
}

/// A v1 create or update body, each field `None` when absent (or `null`).
#[derive(Debug, Default)]
pub struct V1Body {
    pub name: Option<String>,
    pub notification_group_id: Option<ObjectId>,
    pub identifier: Option<String>,
    pub steps: Option<Vec<Step>>,
    pub active: Option<bool>,
    pub critical: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub description: Option<String>,
    pub preference_settings: Option<PreferenceSettings>,
    pub data: Option<Value>,
}

impl V1Body {
    /// Whether the body names anything an update changes (Novu: `No properties found for update`).
    pub fn changes_something(&self) -> bool {
        self.name.is_some()
            || self.notification_group_id.is_some()
            || self.identifier.is_some()
            || self.steps.is_some()
            || self.critical.is_some()
            || self.tags.is_some()
            || self.description.is_some()
            || self.preference_settings.is_some()
            || self.data.is_some()
    }
}

/// `notificationGroupId`: a 24-hex id (`None` with a message otherwise).
fn group_id(f: &mut Fields<'_>, required: bool) -> Option<ObjectId> {
    match f.raw("notificationGroupId") {
        None | Some(Value::Null) => {
            if required {
                f.error("Notification group must be provided ".into());
            }
            None
        }
        Some(Value::String(s)) if ObjectId::parse(s).is_some() => ObjectId::parse(s),
        Some(_) => {
            f.error("notificationGroupId must be a mongodb id".into());
            None
        }
    }
}

/// Parses a v1 create (`create: true`: `name`, `notificationGroupId` and `steps` required) or
/// update body. Steps that name an id of `existing` keep it (and their `stepId`).
pub fn parse_v1(
    body: &Map<String, Value>,
    create: bool,
    existing: &[Step],
) -> Result<V1Body, ApiError> {
    let mut f = Fields::new(body);
    let mut out = V1Body {
        name: if create {
            required_name(&mut f, "name")
        } else {
            optional_name(&mut f, "name")
        },
        notification_group_id: group_id(&mut f, create),
        ..Default::default()
    };
    if !create {
        if let Some(raw) = f.optional_string("identifier").value().cloned() {
            match herald_core::workflow::parse_identifier(&raw) {
                Ok(id) => out.identifier = Some(id),
                Err(e) => f.error(format!("identifier {e}")),
            }
        }
    }
    let raw_steps = if create {
        required_array(&mut f, "steps")
    } else {
        f.optional_array("steps")
    };
    out.active = f.optional_bool("active");
    out.critical = f.optional_bool("critical");
    out.tags = optional_strings(&mut f, "tags");
    out.description = optional_description(&mut f, "description");
    out.preference_settings = preference_settings(&mut f, "preferenceSettings");
    out.data = f.optional_object("data").cloned().map(Value::Object);
    let mut steps = Vec::new();
    let mut explicit = Vec::new();
    if let Some(raw) = raw_steps {
        for (i, raw) in raw.iter().enumerate() {
            match v1_step(&mut f, i, raw, existing)? {
                Some((step, reused)) => {
                    steps.push(step);
                    explicit.push(reused);
                }
                None => continue,
            }
        }
    }
    let steps_given = raw_steps.is_some();
    f.finish(|| ())?;
    if steps_given {
        assign_step_ids(&mut steps, &explicit);
        out.steps = Some(steps);
    }
    Ok(out)
}

/// `@IsOptional() @IsString()` and not blank.
fn optional_name(f: &mut Fields<'_>, key: &str) -> Option<String> {
    let name = f.optional_string(key).value().cloned()?;
    if name.trim().is_empty() {
        let n = f.name(key);
        f.error(format!("{n} should not be empty"));
        return None;
    }
    Some(name)
}

/// One v1 step (`NotificationStep` with its `template`). A step without `template` is Novu's
/// 400 `Unexpected error: message template is missing`, returned at once; other problems are
/// collected into `f`. Returns the step and whether it reused an existing step's id.
fn v1_step(
    f: &mut Fields<'_>,
    i: usize,
    raw: &Value,
    existing: &[Step],
) -> Result<Option<(Step, bool)>, ApiError> {
    let prefix = format!("steps.{i}.");
    let Some(obj) = raw.as_object() else {
        return Err(ApiError::BadRequest(
            "Unexpected error: message template is missing".into(),
        ));
    };
    let template = match obj.get("template") {
        None | Some(Value::Null) => {
            return Err(ApiError::BadRequest(
                "Unexpected error: message template is missing".into(),
            ))
        }
        Some(Value::Object(t)) => t,
        Some(_) => {
            f.error(format!("{prefix}template must be an object"));
            return Ok(None);
        }
    };
    let mut s = Fields::nested(obj, prefix.clone());
    let mut t = Fields::nested(template, format!("{prefix}template."));
    let kind = match t.raw("type") {
        Some(Value::String(ty)) => match StepKind::parse(ty) {
            Some(kind) => Some(kind),
            None => {
                t.error(unsupported_type(&format!("{prefix}template.type"), ty));
                None
            }
        },
        None | Some(Value::Null) => {
            t.error(format!(
                "{prefix}template.type should not be null or undefined"
            ));
            None
        }
        Some(_) => {
            t.error(format!("{prefix}template.type must be a string"));
            None
        }
    };
    let content = t
        .optional_string("content")
        .value()
        .cloned()
        .unwrap_or_default();
    let title = t.optional_string("title").value().cloned();
    let template_name = t.optional_string("name").value().cloned();
    let name = s.optional_string("name").value().cloned();
    let active = s.optional_bool("active").unwrap_or(true);
    let stop = match either(obj, &["shouldStopOnFail", "should_stop_on_fail"]) {
        None => false,
        Some((_, Value::Bool(b))) => *b,
        Some((key, _)) => {
            s.error(format!("{prefix}{key} must be a boolean value"));
            false
        }
    };
    let filters = s.optional_array("filters").cloned().unwrap_or_default();
    let uuid = s.optional_string("uuid").value().cloned();
    // The step's own `_id`, or its template's (`_templateId`): the same id in Herald.
    let named = either(obj, &["_id", "_templateId", "_template_id"])
        .and_then(|(_, v)| v.as_str())
        .and_then(ObjectId::parse);
    let previous = named.and_then(|id| existing.iter().find(|e| e.id == id));
    f.absorb(s);
    f.absorb(t);
    let Some(kind) = kind else { return Ok(None) };
    let name = name
        .or(template_name)
        .unwrap_or_else(|| kind.as_str().to_string());
    let step = Step {
        id: previous.map(|p| p.id.clone()).unwrap_or_default(),
        step_id: previous.map(|p| p.step_id.clone()).unwrap_or_default(),
        name,
        kind,
        active,
        content,
        title: title.filter(|_| kind == StepKind::Push),
        provider_overrides: previous
            .map(|p| p.provider_overrides.clone())
            .unwrap_or_default(),
        extras: StepExtras {
            should_stop_on_fail: stop,
            filters,
            uuid,
            controls: previous
                .map(|p| p.extras.controls.clone())
                .unwrap_or_default(),
        },
    };
    Ok(Some((step, previous.is_some())))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn messages(r: Result<V1Body, ApiError>) -> Vec<String> {
        match r {
            Err(ApiError::Validation(m)) => m,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn the_classic_python_sdks_null_filled_snake_case_step_is_read() {
        let body = obj(json!({
            "name": "Order shipped", "notificationGroupId": "63cc6e0b561e0a609f223e27",
            "description": null, "tags": null, "active": true, "critical": null, "draft": null,
            "preferenceSettings": null,
            "steps": [{"_id": null, "_template_id": null, "_parent_id": null, "active": true,
                       "should_stop_on_fail": true,
                       "template": {"type": "push", "content": "{{body}}", "title": "Hi", "name": null},
                       "filters": null, "metadata": null, "replay_callback": null}]
        }));
        let parsed = parse_v1(&body, true, &[]).unwrap();
        assert_eq!(parsed.name.as_deref(), Some("Order shipped"));
        assert_eq!(parsed.active, Some(true));
        assert_eq!(
            (parsed.tags, parsed.description, parsed.critical),
            (None, None, None)
        );
        let steps = parsed.steps.unwrap();
        assert_eq!(steps.len(), 1);
        assert_eq!(steps[0].kind, StepKind::Push);
        assert_eq!(steps[0].content, "{{body}}");
        assert_eq!(steps[0].title.as_deref(), Some("Hi"));
        assert_eq!(steps[0].step_id, "push");
        assert!(steps[0].extras.should_stop_on_fail);
    }

    #[test]
    fn create_needs_name_group_and_steps_with_novus_messages() {
        assert_eq!(
            messages(parse_v1(&obj(json!({})), true, &[])),
            [
                "name should not be null or undefined",
                "name must be a string",
                "Notification group must be provided ",
                "steps should not be null or undefined",
                "steps must be an array",
            ]
        );
        assert_eq!(
            messages(parse_v1(
                &obj(
                    json!({"name": "x", "notificationGroupId": "nope", "steps": [],
                            "tags": [1], "description": "d".repeat(1001)})
                ),
                true,
                &[]
            )),
            [
                "notificationGroupId must be a mongodb id",
                "each value in tags must be a string",
                "description must be shorter than or equal to 1000 characters",
            ]
        );
    }

    #[test]
    fn a_step_without_template_and_an_unsupported_type_are_refused() {
        let group = "63cc6e0b561e0a609f223e27";
        let missing =
            obj(json!({"name": "x", "notificationGroupId": group, "steps": [{"active": true}]}));
        match parse_v1(&missing, true, &[]) {
            Err(ApiError::BadRequest(m)) => {
                assert_eq!(m, "Unexpected error: message template is missing")
            }
            other => panic!("{other:?}"),
        }
        let email = obj(json!({"name": "x", "notificationGroupId": group,
                               "steps": [{"template": {"type": "email", "content": "x"}}]}));
        let m = messages(parse_v1(&email, true, &[]));
        assert_eq!(m.len(), 1);
        assert!(
            m[0].starts_with("steps.0.template.type must be one of the step types Herald delivers: chat, push (got \"email\""),
            "{m:?}"
        );
    }

    #[test]
    fn step_ids_are_slugs_of_names_made_unique() {
        let group = "63cc6e0b561e0a609f223e27";
        let body = obj(json!({"name": "x", "notificationGroupId": group, "steps": [
            {"name": "Team chat", "template": {"type": "chat", "content": "a"}},
            {"name": "Team Chat", "template": {"type": "chat", "content": "b"}},
            {"name": "通知", "template": {"type": "chat", "content": "c"}},
        ]}));
        let steps = parse_v1(&body, true, &[]).unwrap().steps.unwrap();
        assert_eq!(steps[0].step_id, "team-chat");
        assert!(
            steps[1].step_id.starts_with("team-chat-"),
            "{}",
            steps[1].step_id
        );
        assert_eq!(steps[2].step_id, "step");
    }

    #[test]
    fn an_update_keeps_the_id_of_a_step_it_names_and_renames_with_a_valid_identifier() {
        let group = "63cc6e0b561e0a609f223e27";
        let first = parse_v1(
            &obj(json!({"name": "x", "notificationGroupId": group,
                        "steps": [{"template": {"type": "chat", "content": "a"}}]})),
            true,
            &[],
        )
        .unwrap()
        .steps
        .unwrap();
        let id = first[0].id.to_string();
        let update = obj(json!({"identifier": "new.id", "steps": [
            {"_templateId": id, "template": {"type": "chat", "content": "changed"}},
            {"template": {"type": "push", "content": "new"}},
        ]}));
        let parsed = parse_v1(&update, false, &first).unwrap();
        let steps = parsed.steps.unwrap();
        assert_eq!(steps[0].id, first[0].id);
        assert_eq!(steps[0].content, "changed");
        assert_ne!(steps[1].id, first[0].id);
        assert_eq!(parsed.identifier.as_deref(), Some("new.id"));
        assert_eq!(
            messages(parse_v1(
                &obj(json!({"identifier": "no spaces"})),
                false,
                &[]
            )),
            ["identifier may only contain letters, numbers, hyphens, dots and underscores"]
        );
        assert!(!parse_v1(&obj(json!({"active": true})), false, &[])
            .unwrap()
            .changes_something());
    }
}
