//! Real responses of every workflow and notification-group operation, success and error, fit the
//! schema the OpenAPI document gives for their status (with the validator of `openapi_schemas`).

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::openapi::document;
use crate::openapi_schemas::assert_documented;

backend_tests!(workflow_responses_match_the_documented_schemas);

async fn workflow_responses_match_the_documented_schemas(app: TestApp) {
    let doc = document(&app).await;
    let mut checked = 0;
    macro_rules! expect {
        ($method:ident, $template:expr, $path:expr, $body:expr, $status:expr) => {{
            let method = Method::$method;
            let path: &str = &$path;
            let body: Option<Value> = $body;
            let rb = app.request(method.clone(), path);
            let rb = match body {
                Some(b) => rb.json(&b),
                None => rb,
            };
            let res = app.send(rb).await;
            assert_eq!(res.status, $status, "{} {}: {}", method, path, res.text);
            assert_documented(&doc, &method, $template, &res);
            checked += 1;
            res
        }};
    }

    let groups = expect!(
        GET,
        "/v1/notification-groups",
        "/v1/notification-groups",
        None,
        200
    );
    let group = groups.data()[0]["_id"].as_str().unwrap().to_string();
    expect!(
        POST,
        "/v1/notification-groups",
        "/v1/notification-groups",
        Some(json!({"name": "Marketing"})),
        201
    );
    expect!(
        POST,
        "/v1/notification-groups",
        "/v1/notification-groups",
        Some(json!({})),
        400
    );
    expect!(
        GET,
        "/v1/notification-groups/{id}",
        format!("/v1/notification-groups/{group}"),
        None,
        200
    );
    expect!(
        GET,
        "/v1/notification-groups/{id}",
        "/v1/notification-groups/x",
        None,
        404
    );

    let v1_body = json!({"name": "Order shipped", "notificationGroupId": group, "data": {"a": 1},
        "steps": [{"template": {"type": "chat", "content": "{{orderId}}"}},
                  {"template": {"type": "push", "content": "b", "title": "{{tenant.name}}"}, "uuid": "u"}]});
    for (prefix, param) in [
        ("/v1/workflows", "workflowId"),
        ("/v1/notification-templates", "templateId"),
    ] {
        let one = format!("{prefix}/{{{param}}}");
        let status = format!("{prefix}/{{{param}}}/status");
        let created = expect!(POST, prefix, prefix, Some(v1_body.clone()), 201);
        let id = created.data()["_id"].as_str().unwrap().to_string();
        expect!(POST, prefix, prefix, Some(json!({"steps": 1})), 400);
        expect!(GET, prefix, format!("{prefix}?limit=5"), None, 200);
        expect!(GET, prefix, format!("{prefix}?limit=500"), None, 400);
        expect!(GET, &one, format!("{prefix}/{id}"), None, 200);
        expect!(GET, &one, format!("{prefix}/nope"), None, 404);
        expect!(
            PUT,
            &one,
            format!("{prefix}/{id}"),
            Some(json!({"tags": ["t"]})),
            200
        );
        expect!(PUT, &one, format!("{prefix}/{id}"), Some(json!({})), 400);
        expect!(
            PUT,
            &one,
            format!("{prefix}/nope"),
            Some(json!({"tags": []})),
            404
        );
        expect!(
            PUT,
            &status,
            format!("{prefix}/{id}/status"),
            Some(json!({"active": true})),
            200
        );
        expect!(
            PUT,
            &status,
            format!("{prefix}/{id}/status"),
            Some(json!({"active": true})),
            400
        );
        expect!(
            PUT,
            &status,
            format!("{prefix}/nope/status"),
            Some(json!({"active": true})),
            404
        );
        expect!(DELETE, &one, format!("{prefix}/{id}"), None, 200);
        expect!(DELETE, &one, format!("{prefix}/{id}"), None, 404);
    }

    let v2_body = json!({"name": "Order shipped", "workflowId": "order-shipped", "active": true,
        "description": "d", "payloadSchema": {"type": "object"}, "validatePayload": true,
        "preferences": {"user": null},
        "steps": [{"name": "Chat", "type": "chat", "controlValues": {"body": "{{payload.id}}", "skip": {}},
                   "providerOverrides": {"slack": {"text": "x"}}},
                  {"name": "Push", "type": "push", "controlValues": {"subject": "s", "body": "b"}}]});
    let one = "/v2/workflows/{workflowId}";
    expect!(
        POST,
        "/v2/workflows",
        "/v2/workflows",
        Some(v2_body.clone()),
        201
    );
    expect!(POST, "/v2/workflows", "/v2/workflows", Some(v2_body), 409);
    expect!(
        POST,
        "/v2/workflows",
        "/v2/workflows",
        Some(json!({"name": 1})),
        400
    );
    expect!(
        GET,
        "/v2/workflows",
        "/v2/workflows?tags=x&status=ACTIVE",
        None,
        200
    );
    expect!(GET, "/v2/workflows", "/v2/workflows", None, 200);
    expect!(GET, "/v2/workflows", "/v2/workflows?limit=0", None, 400);
    expect!(GET, one, "/v2/workflows/order-shipped", None, 200);
    expect!(GET, one, "/v2/workflows/nope", None, 404);
    expect!(
        PUT,
        one,
        "/v2/workflows/order-shipped",
        Some(json!({"name": "n", "preferences": {}, "steps": [{"name": "c", "type": "chat"}]})),
        200
    );
    expect!(
        PUT,
        one,
        "/v2/workflows/order-shipped",
        Some(json!({"name": "n"})),
        400
    );
    expect!(
        PUT,
        one,
        "/v2/workflows/nope",
        Some(json!({"name": "n", "preferences": {}, "steps": []})),
        404
    );
    expect!(
        PATCH,
        one,
        "/v2/workflows/order-shipped",
        Some(json!({"active": false})),
        200
    );
    expect!(
        PATCH,
        one,
        "/v2/workflows/order-shipped",
        Some(json!({"tags": "x"})),
        400
    );
    expect!(PATCH, one, "/v2/workflows/nope", Some(json!({})), 404);
    let sync = "/v2/workflows/{workflowId}/sync";
    let prod = app.production_key.clone();
    let prod_env = app
        .with_key(&prod)
        .get("/v1/notification-groups")
        .await
        .data()[0]["_environmentId"]
        .as_str()
        .unwrap()
        .to_string();
    expect!(
        PUT,
        sync,
        "/v2/workflows/order-shipped/sync",
        Some(json!({"targetEnvironmentId": prod_env})),
        200
    );
    expect!(
        PUT,
        sync,
        "/v2/workflows/order-shipped/sync",
        Some(json!({})),
        400
    );
    expect!(
        PUT,
        sync,
        "/v2/workflows/order-shipped/sync",
        Some(json!({"targetEnvironmentId": "63cc6e0b561e0a609f223e27"})),
        404
    );
    expect!(DELETE, one, "/v2/workflows/order-shipped", None, 204);
    expect!(DELETE, one, "/v2/workflows/order-shipped", None, 404);
    assert!(checked >= 50, "{checked} responses checked");
}
