//! Parsing an integration's `credentials` and `conditions` into exactly the shapes the official SDKs
//! read back. `@novu/api` (zod) and `novu-py` (pydantic) type every known credentials key and every
//! condition field; one integration holding a value of another type would make every later listing
//! of the environment's integrations fail in those SDKs. So mistyped values are refused here, with
//! class-validator style messages, instead of being stored.

use serde_json::{Map, Value};

use super::validate::Fields;

/// Credentials keys that are booleans in Novu's `CredentialsDto` (`"true"`/`"false"` are accepted and
/// stored as booleans, as Novu's class-transformer does).
const BOOLEAN_KEYS: &[&str] = &[
    "secure",
    "requireTls",
    "ignoreTls",
    "hmac",
    "authenticateByToken",
    "useFromAddressOverride",
];

/// Credentials keys that are strings in Novu's `CredentialsDto`.
const STRING_KEYS: &[&str] = &[
    "apiKey",
    "user",
    "secretKey",
    "domain",
    "password",
    "host",
    "port",
    "region",
    "accountSid",
    "messageProfileId",
    "token",
    "from",
    "senderName",
    "projectName",
    "applicationId",
    "clientId",
    "baseUrl",
    "webhookUrl",
    "redirectUrl",
    "serviceAccount",
    "ipPoolName",
    "configurationSetName",
    "apiKeyRequestHeader",
    "secretKeyRequestHeader",
    "idPath",
    "datePath",
    "apiToken",
    "authenticationTokenKey",
    "instanceId",
    "alertUid",
    "title",
    "imageUrl",
    "state",
    "externalLink",
    "channelId",
    "phoneNumberIdentification",
    "accessKey",
    "appSid",
    "senderId",
    "tenantId",
    "AppIOBaseUrl",
    "signingSecret",
    "outboundIntegrationId",
    "outboundConnectedAt",
    "whatsNextCompletedAt",
    "fromAddressOverride",
    "emailSlugPrefix",
    "externalEnvironmentId",
    "externalVaultId",
    "externalWorkspaceId",
];

const HMAC_ENCODINGS: &[&str] = &["text", "base64", "hex"];
const FILTER_TYPES: &[&str] = &[
    "BOOLEAN",
    "TEXT",
    "DATE",
    "NUMBER",
    "STATEMENT",
    "LIST",
    "MULTI_LIST",
    "GROUP",
];
const FILTER_VALUES: &[&str] = &["AND", "OR"];
const OPERATORS: &[&str] = &[
    "LARGER",
    "SMALLER",
    "LARGER_EQUAL",
    "SMALLER_EQUAL",
    "EQUAL",
    "NOT_EQUAL",
    "ALL_IN",
    "ANY_IN",
    "NOT_IN",
    "BETWEEN",
    "NOT_BETWEEN",
    "LIKE",
    "NOT_LIKE",
    "IN",
];
const ON: &[&str] = &["subscriber", "payload"];

/// The credentials object to store: known keys with the right types; `null` values and unknown
/// keys are dropped (Novu's schema drops unknown keys too). Messages go to `f`.
pub fn parse_credentials(f: &mut Fields<'_>, creds: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in creds {
        let name = format!("credentials.{key}");
        match value {
            Value::Null => {}
            _ if BOOLEAN_KEYS.contains(&key.as_str()) => match value {
                Value::Bool(b) => {
                    out.insert(key.clone(), Value::Bool(*b));
                }
                Value::String(s) if s == "true" || s == "false" => {
                    out.insert(key.clone(), Value::Bool(s == "true"));
                }
                _ => f.error(format!("{name} must be a boolean value")),
            },
            _ if key == "tlsOptions" => match value {
                Value::Object(_) => {
                    out.insert(key.clone(), value.clone());
                }
                _ => f.error(format!("{name} must be an object")),
            },
            _ if key == "hmacSecretKeyEncoding" => match value.as_str() {
                Some(s) if HMAC_ENCODINGS.contains(&s) => {
                    out.insert(key.clone(), value.clone());
                }
                _ => f.error(enum_message(&name, HMAC_ENCODINGS)),
            },
            _ if STRING_KEYS.contains(&key.as_str()) => match value {
                Value::String(s) if s.contains('\0') => {
                    f.error(format!("{name} must not contain null characters"))
                }
                Value::String(_) => {
                    out.insert(key.clone(), value.clone());
                }
                _ => f.error(format!("{name} must be a string")),
            },
            _ => {}
        }
    }
    out
}

fn enum_message(name: &str, values: &[&str]) -> String {
    format!(
        "{name} must be one of the following values: {}",
        values.join(", ")
    )
}

/// `conditions`: an array of Novu's `StepFilterDto`
/// `{isNegated, type, value: AND|OR, children: [{field, value, operator, on}]}`.
pub fn parse_conditions(f: &mut Fields<'_>, items: &[Value]) -> Vec<Value> {
    let before = f.error_count();
    for (i, item) in items.iter().enumerate() {
        let prefix = format!("conditions.{i}");
        let Some(obj) = item.as_object() else {
            f.error(format!("{prefix} must be an object"));
            continue;
        };
        match obj.get("isNegated") {
            Some(Value::Bool(_)) => {}
            _ => f.error(format!("{prefix}.isNegated must be a boolean value")),
        }
        check_enum(f, obj.get("type"), &format!("{prefix}.type"), FILTER_TYPES);
        check_enum(
            f,
            obj.get("value"),
            &format!("{prefix}.value"),
            FILTER_VALUES,
        );
        match obj.get("children") {
            Some(Value::Array(children)) => {
                for (j, child) in children.iter().enumerate() {
                    let cp = format!("{prefix}.children.{j}");
                    let Some(c) = child.as_object() else {
                        f.error(format!("{cp} must be an object"));
                        continue;
                    };
                    for key in ["field", "value"] {
                        if !matches!(c.get(key), Some(Value::String(_))) {
                            f.error(format!("{cp}.{key} must be a string"));
                        }
                    }
                    check_enum(f, c.get("operator"), &format!("{cp}.operator"), OPERATORS);
                    check_enum(f, c.get("on"), &format!("{cp}.on"), ON);
                }
            }
            _ => f.error(format!("{prefix}.children must be an array")),
        }
    }
    if f.error_count() == before {
        items.to_vec()
    } else {
        Vec::new()
    }
}

fn check_enum(f: &mut Fields<'_>, v: Option<&Value>, name: &str, values: &[&str]) {
    if !matches!(v.and_then(Value::as_str), Some(s) if values.contains(&s)) {
        f.error(enum_message(name, values));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(body: Value) -> (Value, Value, Vec<String>) {
        let obj = body.as_object().unwrap().clone();
        let mut f = Fields::new(&obj);
        let creds = parse_credentials(&mut f, obj["credentials"].as_object().unwrap());
        let conds = parse_conditions(&mut f, obj["conditions"].as_array().unwrap());
        let errors = match f.finish(|| ()) {
            Ok(()) => vec![],
            Err(super::super::error::ApiError::Validation(m)) => m,
            Err(e) => panic!("{e:?}"),
        };
        (Value::Object(creds), Value::Array(conds), errors)
    }

    #[test]
    fn credentials_keep_known_keys_with_their_types() {
        let (creds, _, errors) = run(json!({
            "credentials": {"apiKey": "k", "secure": "true", "hmac": false, "apiToken": null, "unknown": 5},
            "conditions": []
        }));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(creds, json!({"apiKey": "k", "secure": true, "hmac": false}));
    }

    #[test]
    fn mistyped_credentials_and_conditions_are_refused() {
        let (_, _, errors) = run(json!({
            "credentials": {"apiKey": true, "secure": "yes"},
            "conditions": [{}]
        }));
        assert_eq!(
            errors,
            [
                "credentials.apiKey must be a string",
                "credentials.secure must be a boolean value",
                "conditions.0.isNegated must be a boolean value",
                "conditions.0.type must be one of the following values: BOOLEAN, TEXT, DATE, NUMBER, STATEMENT, LIST, MULTI_LIST, GROUP",
                "conditions.0.value must be one of the following values: AND, OR",
                "conditions.0.children must be an array",
            ]
        );
    }

    #[test]
    fn a_well_formed_condition_is_kept() {
        let cond = json!({"isNegated": false, "type": "GROUP", "value": "AND",
            "children": [{"field": "identifier", "value": "t1", "operator": "EQUAL", "on": "subscriber"}]});
        let (_, conds, errors) = run(json!({"credentials": {}, "conditions": [cond.clone()]}));
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(conds, json!([cond]));
    }
}
