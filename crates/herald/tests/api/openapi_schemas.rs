//! Real responses, success and error, of every documented operation fit the schema the OpenAPI
//! document gives for their status.
//!
//! Schemas are checked by a small validator of the JSON Schema keywords the document uses (it
//! fails on any other keyword, so it cannot silently skip a rule); the `jsonschema` crate would do
//! the same for a few dozen more dependencies. Stricter than JSON Schema in one way: an object
//! schema with `properties` and no `additionalProperties` must declare every field of the answer,
//! so a field a response type serializes but its schema lacks fails here.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{TestApp, TestResponse};
use crate::openapi::document;

backend_tests!(
    real_responses_match_the_documented_schemas,
    a_field_missing_from_the_schema_fails_the_check
);

/// Validates `value` against `schema` (resolving `$ref`s in `doc`); returns what does not fit.
pub(crate) fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    at: &str,
    errors: &mut Vec<String>,
) {
    let Some(schema) = schema.as_object() else {
        panic!("schema at {at} is not an object: {schema}");
    };
    for (keyword, rule) in schema {
        match keyword.as_str() {
            "$ref" => {
                let name = rule
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/schemas/"))
                    .unwrap_or_else(|| panic!("unsupported $ref {rule}"));
                let target = &doc["components"]["schemas"][name];
                assert!(target.is_object(), "dangling $ref {name}");
                check(doc, target, value, at, errors);
            }
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
                    _ => panic!("type {rule}"),
                };
                let fits = types.iter().any(|t| match *t {
                    "null" => value.is_null(),
                    "boolean" => value.is_boolean(),
                    "string" => value.is_string(),
                    "object" => value.is_object(),
                    "array" => value.is_array(),
                    "number" => value.is_number(),
                    "integer" => value.is_i64() || value.is_u64(),
                    other => panic!("type {other}"),
                });
                if !fits {
                    errors.push(format!("{at}: {value} is not {rule}"));
                }
            }
            "properties" => {
                if let Some(obj) = value.as_object() {
                    let declared = rule.as_object().unwrap();
                    for (name, sub) in declared {
                        if let Some(v) = obj.get(name) {
                            check(doc, sub, v, &format!("{at}.{name}"), errors);
                        }
                    }
                    if !schema.contains_key("additionalProperties") {
                        for name in obj.keys().filter(|n| !declared.contains_key(*n)) {
                            errors.push(format!("{at}: {name} is not in the schema"));
                        }
                    }
                }
            }
            "required" => {
                if let Some(obj) = value.as_object() {
                    for name in rule.as_array().unwrap() {
                        let name = name.as_str().unwrap();
                        if !obj.contains_key(name) {
                            errors.push(format!("{at}: missing required {name}"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if let Some(obj) = value.as_object() {
                    let declared = schema.get("properties").and_then(Value::as_object);
                    for (name, v) in obj {
                        if !declared.is_some_and(|d| d.contains_key(name)) {
                            check(doc, rule, v, &format!("{at}.{name}"), errors);
                        }
                    }
                }
            }
            // JSON object keys are strings: only `{type: string}` is used, which every key fits.
            "propertyNames" => assert_eq!(rule, &json!({"type": "string"}), "at {at}"),
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, v) in items.iter().enumerate() {
                        check(doc, rule, v, &format!("{at}[{i}]"), errors);
                    }
                }
            }
            "enum" => {
                if !rule.as_array().unwrap().contains(value) {
                    errors.push(format!("{at}: {value} not in {rule}"));
                }
            }
            "minItems" | "maxItems" => {
                if let Some(items) = value.as_array() {
                    let bound = rule.as_u64().unwrap() as usize;
                    let ok = if keyword == "minItems" {
                        items.len() >= bound
                    } else {
                        items.len() <= bound
                    };
                    if !ok {
                        errors.push(format!(
                            "{at}: {} items breaks {keyword} {bound}",
                            items.len()
                        ));
                    }
                }
            }
            "minimum" => {
                if let (Some(v), Some(min)) = (value.as_f64(), rule.as_f64()) {
                    if v < min {
                        errors.push(format!("{at}: {v} < minimum {min}"));
                    }
                }
            }
            "format" => match rule.as_str() {
                Some("int32" | "int64") => {
                    if value.is_number() && !(value.is_i64() || value.is_u64()) {
                        errors.push(format!("{at}: {value} is not an integer"));
                    }
                }
                other => panic!("format {other:?}"),
            },
            "description" | "title" | "example" | "examples" | "default" => {}
            other => panic!("the validator does not know the keyword {other} (at {at})"),
        }
    }
}

/// Asserts the response fits the schema the document gives for its operation and status.
pub(crate) fn assert_documented(doc: &Value, method: &Method, template: &str, res: &TestResponse) {
    let op = &doc["paths"][template][method.as_str().to_ascii_lowercase()];
    assert!(op.is_object(), "{method} {template} is not documented");
    let mut response = &op["responses"][res.status.to_string()];
    assert!(
        response.is_object(),
        "{method} {template}: status {} is not documented: {}",
        res.status,
        res.text
    );
    if let Some(reference) = response.get("$ref") {
        let name = reference
            .as_str()
            .and_then(|r| r.strip_prefix("#/components/responses/"))
            .unwrap_or_else(|| panic!("unsupported response $ref {reference}"));
        response = &doc["components"]["responses"][name];
        assert!(response.is_object(), "dangling response $ref {name}");
    }
    match response["content"]["application/json"]["schema"].as_object() {
        None => assert!(
            res.text.is_empty(),
            "{method} {template}: body for a bodiless status"
        ),
        Some(schema) => {
            assert_eq!(
                res.content_type(),
                Some("application/json"),
                "{method} {template}"
            );
            let mut errors = Vec::new();
            check(
                doc,
                &Value::Object(schema.clone()),
                &res.body,
                "$",
                &mut errors,
            );
            assert!(
                errors.is_empty(),
                "{method} {template} {}: {errors:#?}\n{}",
                res.status,
                res.text
            );
        }
    }
}

async fn real_responses_match_the_documented_schemas(app: TestApp) {
    let doc = document(&app).await;
    let (get, post, put, patch, delete) = (
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::PATCH,
        Method::DELETE,
    );
    let send = |method: &Method, path: &str, body: Option<Value>| {
        let rb = app.request(method.clone(), path);
        let rb = match body {
            Some(b) => rb.json(&b),
            None => rb,
        };
        app.send(rb)
    };
    let mut checked = 0;
    macro_rules! expect {
        ($method:expr, $template:expr, $path:expr, $body:expr, $status:expr) => {{
            let path: &str = &$path;
            let res = send(&$method, path, $body).await;
            assert_eq!(res.status, $status, "{} {}: {}", $method, path, res.text);
            assert_documented(&doc, &$method, $template, &res);
            checked += 1;
            res
        }};
    }

    let fcm = expect!(
        post,
        "/v1/integrations",
        "/v1/integrations",
        Some(
            json!({"providerId": "fcm", "channel": "push", "identifier": "fcm", "active": true,
                    "credentials": {"serviceAccount": "{}"}})
        ),
        201
    );
    let fcm_id = fcm.data()["_id"].as_str().unwrap().to_string();
    expect!(
        post,
        "/v1/integrations",
        "/v1/integrations",
        Some(
            json!({"providerId": "slack", "channel": "chat", "active": true,
                    "conditions": [{"isNegated": false, "type": "GROUP", "value": "AND",
                                    "children": [{"field": "f", "value": "v", "operator": "EQUAL", "on": "subscriber"}]}]})
        ),
        201
    );
    expect!(get, "/v1/integrations", "/v1/integrations", None, 200);
    expect!(
        get,
        "/v1/integrations/active",
        "/v1/integrations/active",
        None,
        200
    );
    let integration = format!("/v1/integrations/{fcm_id}");
    expect!(
        put,
        "/v1/integrations/{integrationId}",
        integration,
        Some(json!({"name": "Push"})),
        200
    );
    expect!(
        post,
        "/v1/integrations/{integrationId}/set-primary",
        format!("{integration}/set-primary"),
        None,
        200
    );
    expect!(
        post,
        "/v1/integrations",
        "/v1/integrations",
        Some(json!({"providerId": "fcm", "channel": "push", "identifier": "fcm"})),
        409
    );

    expect!(
        post,
        "/v1/subscribers",
        "/v1/subscribers",
        Some(
            json!({"subscriberId": "s1", "firstName": "Ann", "email": "ann@example.com",
                    "data": {"x": [1]}, "channels": [{"providerId": "fcm", "credentials": {"deviceTokens": ["t1"]}}]})
        ),
        201
    );
    expect!(get, "/v1/subscribers", "/v1/subscribers", None, 200);
    expect!(
        get,
        "/v1/subscribers/{subscriberId}",
        "/v1/subscribers/s1",
        None,
        200
    );
    expect!(
        get,
        "/v1/subscribers/{subscriberId}",
        "/v1/subscribers/ghost",
        None,
        404
    );
    expect!(
        put,
        "/v1/subscribers/{subscriberId}",
        "/v1/subscribers/s1",
        Some(json!({"lastName": "Lee"})),
        200
    );
    expect!(
        patch,
        "/v1/subscribers/{subscriberId}/online-status",
        "/v1/subscribers/s1/online-status",
        Some(json!({"isOnline": false})),
        200
    );
    expect!(
        post,
        "/v1/subscribers/bulk",
        "/v1/subscribers/bulk",
        Some(json!({"subscribers": [{"subscriberId": "s2"}, {"subscriberId": "s1"}]})),
        201
    );
    expect!(
        patch,
        "/v1/subscribers/{subscriberId}/credentials",
        "/v1/subscribers/s1/credentials",
        Some(json!({"providerId": "fcm", "credentials": {"deviceTokens": ["t2"]}})),
        200
    );
    expect!(
        put,
        "/v1/subscribers/{subscriberId}/credentials",
        "/v1/subscribers/s2/credentials",
        Some(
            json!({"providerId": "slack", "credentials": {"webhookUrl": "https://hooks.slack.com/x"}})
        ),
        200
    );
    expect!(
        put,
        "/v1/subscribers/{subscriberId}/credentials",
        "/v1/subscribers/s2/credentials",
        Some(json!({"providerId": "expo", "credentials": {}})),
        400
    );
    expect!(
        post,
        "/v1/subscribers/{subscriberId}/credentials/{providerId}/device-tokens",
        "/v1/subscribers/s1/credentials/fcm/device-tokens",
        Some(json!({"deviceTokens": ["t3"], "integrationIdentifier": "fcm"})),
        200
    );
    expect!(
        post,
        "/v1/subscribers/{subscriberId}/credentials/{providerId}/device-tokens",
        "/v1/subscribers/s1/credentials/sms77/device-tokens",
        Some(json!({"deviceTokens": ["t3"]})),
        400
    );
    expect!(
        post,
        "/v1/subscribers/{subscriberId}/credentials/{providerId}/device-tokens/removal",
        "/v1/subscribers/s1/credentials/fcm/device-tokens/removal",
        Some(json!({"deviceTokens": ["t3"]})),
        200
    );
    expect!(
        delete,
        "/v1/subscribers/{subscriberId}/credentials/{providerId}",
        "/v1/subscribers/s2/credentials/slack",
        None,
        204
    );

    expect!(
        post,
        "/v2/subscribers",
        "/v2/subscribers",
        Some(json!({"subscriberId": "s3", "phone": "+1"})),
        201
    );
    expect!(
        post,
        "/v2/subscribers",
        "/v2/subscribers?failIfExists=true",
        Some(json!({"subscriberId": "s3"})),
        409
    );
    expect!(get, "/v2/subscribers", "/v2/subscribers?limit=2", None, 200);
    expect!(
        get,
        "/v2/subscribers/{subscriberId}",
        "/v2/subscribers/s1",
        None,
        200
    );
    expect!(
        patch,
        "/v2/subscribers/{subscriberId}",
        "/v2/subscribers/s3",
        Some(json!({"phone": null})),
        200
    );

    expect!(
        post,
        "/v1/topics",
        "/v1/topics",
        Some(json!({"key": "v1t", "name": "V1"})),
        201
    );
    expect!(
        post,
        "/v1/topics",
        "/v1/topics",
        Some(json!({"key": "v1t", "name": "V1"})),
        409
    );
    expect!(
        post,
        "/v1/topics/{topicKey}/subscribers",
        "/v1/topics/v1t/subscribers",
        Some(json!({"subscribers": ["s1", "ghost"]})),
        200
    );
    expect!(get, "/v1/topics", "/v1/topics", None, 200);
    expect!(get, "/v1/topics/{topicKey}", "/v1/topics/v1t", None, 200);
    expect!(
        patch,
        "/v1/topics/{topicKey}",
        "/v1/topics/v1t",
        Some(json!({"name": "Renamed"})),
        200
    );
    expect!(
        get,
        "/v1/topics/{topicKey}/subscribers/{externalSubscriberId}",
        "/v1/topics/v1t/subscribers/s1",
        None,
        200
    );
    expect!(delete, "/v1/topics/{topicKey}", "/v1/topics/v1t", None, 409);
    expect!(
        post,
        "/v1/topics/{topicKey}/subscribers/removal",
        "/v1/topics/v1t/subscribers/removal",
        Some(json!({"subscribers": ["s1"]})),
        204
    );
    expect!(delete, "/v1/topics/{topicKey}", "/v1/topics/v1t", None, 204);

    expect!(
        post,
        "/v2/topics",
        "/v2/topics",
        Some(json!({"key": "v2t", "name": "V2", "data": {"a": 1}})),
        201
    );
    expect!(
        post,
        "/v2/topics",
        "/v2/topics",
        Some(json!({"key": "v2t"})),
        200
    );
    expect!(
        post,
        "/v2/topics",
        "/v2/topics?failIfExists=true",
        Some(json!({"key": "v2t"})),
        409
    );
    expect!(get, "/v2/topics", "/v2/topics", None, 200);
    expect!(get, "/v2/topics/{topicKey}", "/v2/topics/v2t", None, 200);
    expect!(
        patch,
        "/v2/topics/{topicKey}",
        "/v2/topics/v2t",
        Some(json!({"name": "V2b"})),
        200
    );
    expect!(
        post,
        "/v2/topics/{topicKey}/subscriptions",
        "/v2/topics/v2t/subscriptions",
        Some(json!({"subscriberIds": ["s1", "s2", "ghost"]})),
        201
    );
    expect!(
        get,
        "/v2/topics/{topicKey}/subscriptions",
        "/v2/topics/v2t/subscriptions",
        None,
        200
    );
    expect!(
        get,
        "/v2/topics/{topicKey}/subscriptions/{identifier}",
        "/v2/topics/v2t/subscriptions/v2t:s1",
        None,
        200
    );
    expect!(
        get,
        "/v2/subscribers/{subscriberId}/subscriptions",
        "/v2/subscribers/s1/subscriptions",
        None,
        200
    );
    expect!(
        delete,
        "/v2/topics/{topicKey}/subscriptions",
        "/v2/topics/v2t/subscriptions",
        Some(json!({"subscriberIds": ["s2"]})),
        200
    );
    expect!(delete, "/v2/topics/{topicKey}", "/v2/topics/v2t", None, 200);
    expect!(get, "/v2/topics/{topicKey}", "/v2/topics/v2t", None, 404);

    expect!(
        delete,
        "/v2/subscribers/{subscriberId}",
        "/v2/subscribers/s3",
        None,
        200
    );
    expect!(
        delete,
        "/v1/subscribers/{subscriberId}",
        "/v1/subscribers/s2",
        None,
        200
    );
    expect!(
        delete,
        "/v1/integrations/{integrationId}",
        format!("/v1/integrations/{fcm_id}"),
        None,
        200
    );
    expect!(get, "/v1/health-check", "/v1/health-check", None, 200);
    expect!(get, "/readyz", "/readyz", None, 200);
    assert!(checked >= 45, "{checked} responses checked");

    // The validator does find a mismatch.
    let mut errors = Vec::new();
    let schema = json!({"$ref": "#/components/schemas/TopicResponseDto"});
    check(
        &doc,
        &schema,
        &json!({"_id": "x", "name": null}),
        "$",
        &mut errors,
    );
    assert_eq!(errors.len(), 4, "{errors:?}");
}

/// A field a real answer has and its schema lacks is a failure: the schemas are derived from the
/// serialized types, and this is what catches a hand-written one that falls behind.
async fn a_field_missing_from_the_schema_fails_the_check(app: TestApp) {
    let doc = document(&app).await;
    let res = app
        .send(
            app.request(Method::POST, "/v2/topics")
                .json(&json!({"key": "strict", "name": "Strict"})),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_documented(&doc, &Method::POST, "/v2/topics", &res);

    let mut undeclared = doc.clone();
    let topic = &mut undeclared["components"]["schemas"]["TopicResponseDto"]["properties"];
    assert!(topic["updatedAt"].is_object(), "{topic}");
    topic.as_object_mut().unwrap().remove("updatedAt");
    let schema = json!({"$ref": "#/components/schemas/TopicResponseDto"});
    let mut errors = Vec::new();
    check(&undeclared, &schema, res.data(), "$", &mut errors);
    assert_eq!(errors, ["$: updatedAt is not in the schema"]);

    // Where a schema allows other fields (`additionalProperties`), they are checked against it.
    let mut errors = Vec::new();
    let open = json!({"type": "object", "properties": {"a": {"type": "string"}},
                      "additionalProperties": {"type": "integer"}});
    check(&doc, &open, &json!({"a": "x", "b": 1}), "$", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    check(&doc, &open, &json!({"a": "x", "b": "y"}), "$", &mut errors);
    assert_eq!(errors.len(), 1, "{errors:?}");
}
