//! How both backends store what is not a column of their `workflows` table: the steps and the
//! details, each as one JSON text. The format is defined once here so that SQLite and PostgreSQL
//! write the same bytes and read each other's dumps; unknown keys are ignored and missing ones
//! take their defaults, so later versions can add fields without a data migration.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{PreferenceSettings, Severity, Step, StepExtras, StepKind, WorkflowDetails};
use crate::ObjectId;

/// A stored JSON text that does not decode (written by hand, or by an unknown future version).
#[derive(Debug, thiserror::Error)]
#[error("unreadable stored workflow {what}: {reason}")]
pub struct DecodeError {
    what: &'static str,
    reason: String,
}

fn decode_error(what: &'static str) -> impl FnOnce(serde_json::Error) -> DecodeError {
    move |e| DecodeError {
        what,
        reason: e.to_string(),
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredStep {
    id: String,
    step_id: String,
    name: String,
    kind: String,
    active: bool,
    content: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    provider_overrides: Map<String, Value>,
    #[serde(default, skip_serializing_if = "is_false")]
    should_stop_on_fail: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    filters: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    uuid: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    controls: Map<String, Value>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The steps as stored.
pub fn encode_steps(steps: &[Step]) -> String {
    let stored: Vec<StoredStep> = steps
        .iter()
        .map(|s| StoredStep {
            id: s.id.to_string(),
            step_id: s.step_id.clone(),
            name: s.name.clone(),
            kind: s.kind.as_str().to_string(),
            active: s.active,
            content: s.content.clone(),
            title: s.title.clone(),
            provider_overrides: s.provider_overrides.clone(),
            should_stop_on_fail: s.extras.should_stop_on_fail,
            filters: s.extras.filters.clone(),
            uuid: s.extras.uuid.clone(),
            controls: s.extras.controls.clone(),
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".into())
}

pub fn decode_steps(text: &str) -> Result<Vec<Step>, DecodeError> {
    let stored: Vec<StoredStep> = serde_json::from_str(text).map_err(decode_error("steps"))?;
    stored
        .into_iter()
        .map(|s| {
            let kind = StepKind::parse(&s.kind).ok_or_else(|| DecodeError {
                what: "steps",
                reason: format!("unknown step type {:?}", s.kind),
            })?;
            let id = ObjectId::parse(&s.id).ok_or_else(|| DecodeError {
                what: "steps",
                reason: format!("bad step id {:?}", s.id),
            })?;
            Ok(Step {
                id,
                step_id: s.step_id,
                name: s.name,
                kind,
                active: s.active,
                content: s.content,
                title: s.title,
                provider_overrides: s.provider_overrides,
                extras: StepExtras {
                    should_stop_on_fail: s.should_stop_on_fail,
                    filters: s.filters,
                    uuid: s.uuid,
                    controls: s.controls,
                },
            })
        })
        .collect()
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredPreferenceSettings {
    email: bool,
    sms: bool,
    in_app: bool,
    chat: bool,
    push: bool,
}

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct StoredDetails {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    notification_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preference_settings: Option<StoredPreferenceSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    severity: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    preferences: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payload_schema: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    validate_payload: Option<bool>,
    #[serde(default, skip_serializing_if = "is_false")]
    is_translation_enabled: bool,
}

/// The details as stored.
pub fn encode_details(d: &WorkflowDetails) -> String {
    let p = d.preference_settings;
    let stored = StoredDetails {
        description: d.description.clone(),
        notification_group_id: d.notification_group_id.as_ref().map(ToString::to_string),
        preference_settings: Some(StoredPreferenceSettings {
            email: p.email,
            sms: p.sms,
            in_app: p.in_app,
            chat: p.chat,
            push: p.push,
        }),
        data: d.data.clone(),
        severity: Some(d.severity.as_str().to_string()),
        preferences: d.preferences.clone(),
        payload_schema: d.payload_schema.clone(),
        validate_payload: d.validate_payload,
        is_translation_enabled: d.is_translation_enabled,
    };
    serde_json::to_string(&stored).unwrap_or_else(|_| "{}".into())
}

pub fn decode_details(text: &str) -> Result<WorkflowDetails, DecodeError> {
    let s: StoredDetails = serde_json::from_str(text).map_err(decode_error("details"))?;
    Ok(WorkflowDetails {
        description: s.description,
        notification_group_id: s.notification_group_id.as_deref().and_then(ObjectId::parse),
        preference_settings: s
            .preference_settings
            .map(|p| PreferenceSettings {
                email: p.email,
                sms: p.sms,
                in_app: p.in_app,
                chat: p.chat,
                push: p.push,
            })
            .unwrap_or_default(),
        data: s.data,
        severity: s
            .severity
            .as_deref()
            .and_then(Severity::parse)
            .unwrap_or_default(),
        preferences: s.preferences,
        payload_schema: s.payload_schema,
        validate_payload: s.validate_payload,
        is_translation_enabled: s.is_translation_enabled,
    })
}

/// Tags as stored: a JSON array of strings (both backends filter on it).
pub fn encode_tags(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

pub fn decode_tags(text: &str) -> Result<Vec<String>, DecodeError> {
    serde_json::from_str(text).map_err(decode_error("tags"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn steps_and_details_survive_a_round_trip() {
        let mut overrides = Map::new();
        overrides.insert("slack".into(), json!({"text": "x"}));
        let mut controls = Map::new();
        controls.insert("skip".into(), json!({"==": [1, 1]}));
        let steps = vec![Step {
            id: ObjectId::new(),
            step_id: "push-step".into(),
            name: "Push step".into(),
            kind: StepKind::Push,
            active: false,
            content: "{{payload.body}}".into(),
            title: Some("Hi".into()),
            provider_overrides: overrides,
            extras: StepExtras {
                should_stop_on_fail: true,
                filters: vec![json!({"isNegated": false})],
                uuid: Some("u-1".into()),
                controls,
            },
        }];
        assert_eq!(decode_steps(&encode_steps(&steps)).unwrap(), steps);

        let mut prefs = Map::new();
        prefs.insert("user".into(), Value::Null);
        let details = WorkflowDetails {
            description: Some("d".into()),
            notification_group_id: Some(ObjectId::new()),
            preference_settings: PreferenceSettings {
                sms: false,
                ..Default::default()
            },
            data: Some(json!({"team": 1})),
            severity: Severity::High,
            preferences: Some(prefs),
            payload_schema: Some(Map::new()),
            validate_payload: Some(true),
            is_translation_enabled: true,
        };
        assert_eq!(decode_details(&encode_details(&details)).unwrap(), details);
        assert_eq!(decode_details("{}").unwrap(), WorkflowDetails::default());
        let tags = vec!["a".to_string(), "b".to_string()];
        assert_eq!(decode_tags(&encode_tags(&tags)).unwrap(), tags);
    }

    #[test]
    fn an_unknown_step_type_is_a_decode_error_not_a_panic() {
        let text = r#"[{"id":"63cc6e0b561e0a609f223e27","stepId":"x","name":"x","kind":"email","active":true,"content":""}]"#;
        assert!(decode_steps(text).is_err());
        assert!(decode_steps("not json").is_err());
    }
}
