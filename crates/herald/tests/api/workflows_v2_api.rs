//! `/v2/workflows` as `@novu/api` / `novu-py` call it: the recorded SDK bodies, every field the
//! SDK's parser requires, exact statuses (201 on create, 204 on delete), the 409 on a taken
//! `workflowId`, chat and push steps only, lookups by identifier, `_id` and slug, list filters,
//! full update, patch and sync to another environment.

use serde_json::{json, Value};

use crate::helpers::TestApp;

backend_tests!(
    create_answers_201_with_every_field_the_sdk_parser_requires,
    a_taken_workflow_id_is_409_and_a_malformed_one_400,
    steps_other_than_chat_and_push_are_refused_naming_the_supported_types,
    get_finds_a_workflow_by_identifier_id_or_slug,
    list_filters_orders_and_pages_with_the_total,
    put_replaces_the_definition_and_keeps_the_ids_of_named_steps,
    patch_changes_only_the_given_fields,
    delete_answers_204_without_a_body_and_frees_the_identifier,
    sync_copies_into_another_environment_then_updates_the_copy,
    sync_refuses_the_own_environment_and_unknown_ones,
);

/// `workflows.create` of `@novu/api` 3.19.1 as recorded: the SDK adds `active: false`,
/// `isTranslationEnabled: false` and `__source`.
fn sdk_create_body(workflow_id: &str) -> Value {
    json!({
        "name": "Order shipped",
        "active": false,
        "isTranslationEnabled": false,
        "workflowId": workflow_id,
        "__source": "editor",
        "steps": [
            {"name": "Chat step", "type": "chat",
             "controlValues": {"body": "Order {{payload.orderId}} for {{subscriber.firstName}}"}},
            {"name": "Push step", "type": "push",
             "controlValues": {"subject": "Shipped", "body": "{{#each payload.items}}{{name}}{{/each}}"}}
        ]
    })
}

async fn create(app: &TestApp, body: Value) -> Value {
    let res = app.post("/v2/workflows", body.clone()).await;
    assert_eq!(res.status, 201, "creating {body}: {}", res.text);
    res.data().clone()
}

fn keys(v: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect();
    k.sort();
    k
}

async fn create_answers_201_with_every_field_the_sdk_parser_requires(app: TestApp) {
    let res = app
        .post("/v2/workflows", sdk_create_body("order-shipped"))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let w = res.data();
    assert_eq!(
        keys(w),
        [
            "_id",
            "active",
            "createdAt",
            "isTranslationEnabled",
            "name",
            "origin",
            "preferences",
            "severity",
            "slug",
            "status",
            "steps",
            "tags",
            "updatedAt",
            "workflowId",
        ],
        "optional fields are omitted, never null: {w}"
    );
    assert_eq!(w["workflowId"], "order-shipped");
    assert_eq!(w["name"], "Order shipped");
    assert_eq!(w["status"], "INACTIVE", "the SDK's default active: false");
    assert_eq!(w["active"], false);
    assert_eq!(w["origin"], "novu-cloud");
    assert_eq!(w["severity"], "none");
    assert_eq!(w["tags"], json!([]));
    let slug = w["slug"].as_str().unwrap();
    assert!(slug.starts_with("wf_"), "{slug}");
    assert_eq!(
        w["preferences"],
        json!({"default": {"all": {"enabled": true, "readOnly": false},
               "channels": {"in_app": {"enabled": true}, "email": {"enabled": true},
                            "sms": {"enabled": true}, "chat": {"enabled": true}, "push": {"enabled": true}}}})
    );
    let id = w["_id"].as_str().unwrap();
    let chat = &w["steps"][0];
    assert_eq!(
        keys(chat),
        [
            "_id",
            "controlValues",
            "controls",
            "name",
            "origin",
            "slug",
            "stepId",
            "type",
            "variables",
            "workflowDatabaseId",
            "workflowId",
        ]
    );
    assert_eq!(chat["stepId"], "chat-step");
    assert_eq!(chat["type"], "chat");
    assert_eq!(chat["origin"], "novu-cloud");
    assert_eq!(chat["workflowId"], "order-shipped");
    assert_eq!(chat["workflowDatabaseId"], id);
    assert!(chat["slug"].as_str().unwrap().starts_with("stp_"));
    let body = "Order {{payload.orderId}} for {{subscriber.firstName}}";
    assert_eq!(chat["controls"], json!({"values": {"body": body}}));
    assert_eq!(chat["controlValues"], json!({"body": body}));
    assert_eq!(
        chat["variables"]["properties"]["payload"]["properties"]["orderId"],
        json!({"type": "string"})
    );
    let push = &w["steps"][1];
    assert_eq!(
        (push["stepId"].as_str(), push["type"].as_str()),
        (Some("push-step"), Some("push"))
    );
    assert_eq!(
        push["controls"]["values"],
        json!({"subject": "Shipped", "body": "{{#each payload.items}}{{name}}{{/each}}"})
    );
    assert_eq!(
        push["variables"]["properties"]["payload"]["properties"]["items"],
        json!({"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}})
    );
    crate::helpers::assert_iso_millis(w["createdAt"].as_str().unwrap());

    // Everything else the DTO takes is kept and shown.
    let full = create(
        &app,
        json!({
            "name": "Full", "workflowId": "full.v2_x", "active": true, "description": "All fields",
            "tags": ["a", "b"], "validatePayload": true, "payloadSchema": {"type": "object"},
            "isTranslationEnabled": true, "severity": "high",
            "preferences": {"user": {"all": {"enabled": true}, "channels": {}},
                            "workflow": {"all": {"enabled": false, "readOnly": true}, "channels": {"chat": {"enabled": true}}}},
            "steps": [{"name": "Say", "type": "chat", "stepId": "say",
                       "controlValues": {"body": "x", "editorType": "text", "skip": {"==": [1, 1]}, "extra": 1},
                       "providerOverrides": {"slack": {"text": "override"}}}]
        }),
    )
    .await;
    assert_eq!(full["status"], "ACTIVE");
    assert_eq!(full["description"], "All fields");
    assert_eq!(full["tags"], json!(["a", "b"]));
    assert_eq!(full["validatePayload"], true);
    assert_eq!(full["payloadSchema"], json!({"type": "object"}));
    assert_eq!(full["isTranslationEnabled"], true);
    assert_eq!(full["severity"], "high");
    assert_eq!(
        full["preferences"],
        json!({"user": {"all": {"enabled": true}, "channels": {}},
               "default": {"all": {"enabled": false, "readOnly": true}, "channels": {"chat": {"enabled": true}}}})
    );
    let say = &full["steps"][0];
    assert_eq!(say["stepId"], "say");
    assert_eq!(
        say["controls"]["values"],
        json!({"body": "x", "skip": {"==": [1, 1]}, "editorType": "text"})
    );
    assert_eq!(
        say["controlValues"],
        json!({"editorType": "text", "skip": {"==": [1, 1]}, "extra": 1, "body": "x"})
    );
    assert_eq!(
        say["providerOverrides"],
        json!({"slack": {"text": "override"}})
    );
}

async fn a_taken_workflow_id_is_409_and_a_malformed_one_400(app: TestApp) {
    create(&app, sdk_create_body("welcome")).await;
    let res = app.post("/v2/workflows", sdk_create_body("welcome")).await;
    res.assert_error(
        409,
        json!("Workflow with workflowId welcome already exists in this environment"),
        Some("Conflict"),
    );
    // Identifiers are compared exactly.
    create(&app, sdk_create_body("Welcome")).await;
    app.post("/v2/workflows", sdk_create_body("wel come"))
        .await
        .assert_validation(&[
            "workflowId may only contain letters, numbers, hyphens, dots and underscores",
        ]);
    app.post("/v2/workflows", json!({}))
        .await
        .assert_validation(&[
            "name should not be null or undefined",
            "name must be a string",
            "workflowId should not be null or undefined",
            "workflowId must be a string",
            "steps should not be null or undefined",
            "steps must be an array",
        ]);
    app.post(
        "/v2/workflows",
        json!({"name": "x", "workflowId": "x", "steps": [{"type": "chat"}], "severity": "urgent"}),
    )
    .await
    .assert_validation(&[
        "severity must be one of the following values: high, medium, low, none",
        "steps.0.name should not be null or undefined",
        "steps.0.name must be a string",
    ]);
}

async fn steps_other_than_chat_and_push_are_refused_naming_the_supported_types(app: TestApp) {
    for ty in ["in_app", "email", "sms", "digest", "delay", "custom"] {
        let res = app
            .post(
                "/v2/workflows",
                json!({"name": "x", "workflowId": format!("w-{ty}"),
                       "steps": [{"name": "ok", "type": "chat"}, {"name": "s", "type": ty}]}),
            )
            .await;
        assert_eq!(res.status, 400, "{}", res.text);
        let message = res.body["message"][0].as_str().unwrap();
        assert!(
            message.starts_with(&format!(
                "steps.1.type must be one of the step types Herald delivers: chat, push (got \"{ty}\""
            )),
            "{message}"
        );
        assert_eq!(app.get(&format!("/v2/workflows/w-{ty}")).await.status, 404);
    }
}

async fn get_finds_a_workflow_by_identifier_id_or_slug(app: TestApp) {
    let w = create(&app, sdk_create_body("order.shipped")).await;
    for key in [
        "order.shipped",
        w["_id"].as_str().unwrap(),
        w["slug"].as_str().unwrap(),
    ] {
        let res = app.get(&format!("/v2/workflows/{key}")).await;
        assert_eq!(res.data(), &w, "{key}");
    }
    let env = app.store.list_environments().await.unwrap();
    let dev = &env[0].id;
    let res = app
        .get(&format!("/v2/workflows/order.shipped?environmentId={dev}"))
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let prod = &env[1].id;
    app.get(&format!("/v2/workflows/order.shipped?environmentId={prod}"))
        .await
        .assert_validation(&["environmentId must be the environment of the API key"]);
    app.get("/v2/workflows/nope")
        .await
        .assert_not_found("Workflow nope not found");
    app.get("/v2/workflows/63cc6e0b561e0a609f223e27")
        .await
        .assert_not_found("Workflow 63cc6e0b561e0a609f223e27 not found");
}

fn ids(res: &Value) -> Vec<&str> {
    res["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["workflowId"].as_str().unwrap())
        .collect()
}

async fn list_filters_orders_and_pages_with_the_total(app: TestApp) {
    for (id, name, tags, active) in [
        ("b-orders", "Orders shipped", vec!["orders"], true),
        ("a-reset", "Password reset", vec!["auth", "ops"], false),
        ("c-digest", "Weekly ORDERS", vec!["ops"], true),
    ] {
        let mut body = sdk_create_body(id);
        body["name"] = json!(name);
        body["tags"] = json!(tags);
        body["active"] = json!(active);
        create(&app, body).await;
    }
    let list = |q: &'static str| {
        let app = &app;
        async move {
            let res = app.get(&format!("/v2/workflows{q}")).await;
            assert_eq!(res.status, 200, "{q}: {}", res.text);
            res.data().clone()
        }
    };
    let all = list("").await;
    assert_eq!(
        ids(&all),
        ["c-digest", "a-reset", "b-orders"],
        "newest first"
    );
    assert_eq!(all["totalCount"], 3);
    let item = &all["workflows"][0];
    assert_eq!(
        keys(item),
        [
            "_id",
            "createdAt",
            "isTranslationEnabled",
            "name",
            "origin",
            "slug",
            "status",
            "stepTypeOverviews",
            "steps",
            "tags",
            "updatedAt",
            "workflowId",
        ]
    );
    assert_eq!(item["stepTypeOverviews"], json!(["chat", "push"]));
    assert_eq!(item["steps"][1]["type"], "push");
    assert!(item["steps"][0]["slug"]
        .as_str()
        .unwrap()
        .starts_with("stp_"));

    assert_eq!(
        ids(&list("?orderDirection=ASC").await),
        ["b-orders", "a-reset", "c-digest"]
    );
    assert_eq!(
        ids(&list("?orderBy=name&orderDirection=ASC").await),
        ["b-orders", "a-reset", "c-digest"]
    );
    let page = list("?limit=1&offset=1").await;
    assert_eq!(
        (ids(&page), &page["totalCount"]),
        (vec!["a-reset"], &json!(3))
    );
    // The Python SDK sends numbers as floats.
    assert_eq!(ids(&list("?limit=2.0").await).len(), 2);
    assert_eq!(ids(&list("?query=orders").await), ["c-digest", "b-orders"]);
    assert_eq!(ids(&list("?query=A-RES").await), ["a-reset"]);
    assert_eq!(
        ids(&list("?tags=ops&tags=nope").await),
        ["c-digest", "a-reset"]
    );
    let inactive = list("?status=INACTIVE").await;
    assert_eq!(
        (ids(&inactive), &inactive["totalCount"]),
        (vec!["a-reset"], &json!(1))
    );
    assert_eq!(inactive["workflows"][0]["status"], "INACTIVE");
    assert_eq!(ids(&list("?status=ACTIVE&tags=ops").await), ["c-digest"]);
    assert_eq!(ids(&list("?status=ACTIVE&status=INACTIVE").await).len(), 3);
    let errored = list("?status=ERROR").await;
    assert_eq!(errored, json!({"workflows": [], "totalCount": 0}));

    app.get("/v2/workflows?limit=101&orderDirection=up")
        .await
        .assert_validation(&[
            "limit must not be greater than 100",
            "orderDirection must be one of the following values: ASC, DESC",
        ]);
}

async fn put_replaces_the_definition_and_keeps_the_ids_of_named_steps(app: TestApp) {
    let w = create(&app, sdk_create_body("order-shipped")).await;
    let chat_id = w["steps"][0]["_id"].as_str().unwrap();
    // `workflows.update` as the SDK sends it: `active: false` unless told, `preferences` required.
    let res = app
        .put(
            "/v2/workflows/order-shipped",
            json!({
                "name": "Order shipped (v2)", "active": true, "isTranslationEnabled": false,
                "preferences": {}, "severity": "low", "workflowId": "order-shipped-2",
                "steps": [
                    {"_id": chat_id, "name": "Chat step", "type": "chat",
                     "controlValues": {"body": "Updated {{payload.orderId}}"}},
                    {"name": "New push", "type": "push", "controlValues": {"subject": "S", "body": "B"}}
                ]
            }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let u = res.data();
    assert_eq!(u["_id"], w["_id"]);
    assert_eq!(u["workflowId"], "order-shipped-2");
    assert_eq!(u["name"], "Order shipped (v2)");
    assert_eq!(u["status"], "ACTIVE");
    assert_eq!(u["severity"], "low");
    assert_eq!(u["createdAt"], w["createdAt"]);
    assert_eq!(u["steps"].as_array().unwrap().len(), 2);
    assert_eq!(u["steps"][0]["_id"], chat_id);
    assert_eq!(u["steps"][0]["stepId"], "chat-step");
    assert_eq!(
        u["steps"][0]["controlValues"]["body"],
        "Updated {{payload.orderId}}"
    );
    assert_ne!(u["steps"][1]["_id"], w["steps"][1]["_id"]);
    assert_eq!(u["steps"][1]["stepId"], "new-push");
    assert_eq!(app.get("/v2/workflows/order-shipped").await.status, 404);
    assert_eq!(app.get("/v2/workflows/order-shipped-2").await.data(), u);

    // A full update without `active` leaves the workflow inactive, like the SDK's default.
    let res = app
        .put(
            "/v2/workflows/order-shipped-2",
            json!({"name": "n", "steps": [], "preferences": {}}),
        )
        .await;
    assert_eq!(res.data()["status"], "INACTIVE");
    assert_eq!(res.data()["steps"], json!([]));
    app.put(
        "/v2/workflows/order-shipped-2",
        json!({"name": "n", "steps": []}),
    )
    .await
    .assert_validation(&[
        "preferences should not be null or undefined",
        "preferences must be an object",
    ]);
    create(&app, sdk_create_body("taken")).await;
    app.put(
        "/v2/workflows/order-shipped-2",
        json!({"name": "n", "steps": [], "preferences": {}, "workflowId": "taken"}),
    )
    .await
    .assert_error(
        409,
        json!("Workflow with workflowId taken already exists in this environment"),
        Some("Conflict"),
    );
    app.put(
        "/v2/workflows/nope",
        json!({"name": "n", "steps": [], "preferences": {}}),
    )
    .await
    .assert_not_found("Workflow nope not found");
}

async fn patch_changes_only_the_given_fields(app: TestApp) {
    let mut body = sdk_create_body("order-shipped");
    body["tags"] = json!(["t"]);
    body["payloadSchema"] = json!({"type": "object"});
    let w = create(&app, body).await;
    let res = app
        .patch("/v2/workflows/order-shipped", json!({"active": true}))
        .await;
    let p = res.data();
    assert_eq!(
        (p["status"].as_str(), p["active"].as_bool()),
        (Some("ACTIVE"), Some(true))
    );
    assert_eq!(
        (&p["name"], &p["tags"], &p["steps"]),
        (&w["name"], &w["tags"], &w["steps"])
    );
    let res = app
        .patch(
            "/v2/workflows/order-shipped",
            json!({"name": "Renamed", "description": "d", "tags": [], "payloadSchema": null,
                   "validatePayload": false, "isTranslationEnabled": true}),
        )
        .await;
    let p = res.data();
    assert_eq!(p["name"], "Renamed");
    assert_eq!(p["description"], "d");
    assert_eq!(p["tags"], json!([]));
    assert_eq!(p.get("payloadSchema"), None, "cleared by null: {p}");
    assert_eq!(p["validatePayload"], false);
    assert_eq!(p["isTranslationEnabled"], true);
    assert_eq!(p["status"], "ACTIVE");
    app.patch("/v2/workflows/order-shipped", json!({"active": "yes"}))
        .await
        .assert_validation(&["active must be a boolean value"]);
    app.patch("/v2/workflows/nope", json!({"active": true}))
        .await
        .assert_not_found("Workflow nope not found");
}

async fn delete_answers_204_without_a_body_and_frees_the_identifier(app: TestApp) {
    let w = create(&app, sdk_create_body("order-shipped")).await;
    let res = app.delete("/v2/workflows/order-shipped").await;
    assert_eq!(res.status, 204);
    assert_eq!(res.text, "");
    app.delete("/v2/workflows/order-shipped")
        .await
        .assert_not_found("Workflow order-shipped not found");
    let id = w["_id"].as_str().unwrap();
    app.get(&format!("/v2/workflows/{id}"))
        .await
        .assert_not_found(&format!("Workflow {id} not found"));
    let again = create(&app, sdk_create_body("order-shipped")).await;
    assert_ne!(again["_id"], w["_id"]);
    // By slug and by id too.
    let slug = again["slug"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/v2/workflows/{slug}")).await.status,
        204
    );
}

async fn sync_copies_into_another_environment_then_updates_the_copy(app: TestApp) {
    let envs = app.store.list_environments().await.unwrap();
    let prod_id = envs[1].id.to_string();
    let prod = app.with_key(&app.production_key);
    let mut body = sdk_create_body("order-shipped");
    body["active"] = json!(true);
    body["tags"] = json!(["t"]);
    let w = create(&app, body).await;
    let res = app
        .put(
            "/v2/workflows/order-shipped/sync",
            json!({"targetEnvironmentId": prod_id}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let copy = res.data().clone();
    assert_ne!(copy["_id"], w["_id"]);
    assert_eq!(copy["workflowId"], "order-shipped");
    assert_eq!((&copy["status"], &copy["tags"]), (&w["status"], &w["tags"]));
    assert_eq!(
        copy["steps"][0]["controlValues"],
        w["steps"][0]["controlValues"]
    );
    assert_ne!(copy["steps"][0]["_id"], w["steps"][0]["_id"]);
    assert_eq!(prod.get("/v2/workflows/order-shipped").await.data(), &copy);
    // In the v1 view the copy belongs to the target's General group.
    let groups = prod.get("/v1/notification-groups").await;
    let general = &groups.data()[0];
    let v1 = prod.get("/v1/workflows/order-shipped").await;
    assert_eq!(v1.data()["_notificationGroupId"], general["_id"]);

    // A second sync replaces the copy, keeping its ids.
    app.patch("/v2/workflows/order-shipped", json!({"name": "Renamed"}))
        .await;
    let res = app
        .put(
            "/v2/workflows/order-shipped/sync",
            json!({"targetEnvironmentId": prod_id}),
        )
        .await;
    let again = res.data();
    assert_eq!(again["_id"], copy["_id"]);
    assert_eq!(again["name"], "Renamed");
    assert_eq!(again["steps"][0]["_id"], copy["steps"][0]["_id"]);
    let listed = prod.get("/v2/workflows").await;
    assert_eq!(listed.data()["totalCount"], 1);
}

async fn sync_refuses_the_own_environment_and_unknown_ones(app: TestApp) {
    let envs = app.store.list_environments().await.unwrap();
    let dev_id = envs[0].id.to_string();
    create(&app, sdk_create_body("order-shipped")).await;
    let sync = |body: Value| app.put("/v2/workflows/order-shipped/sync", body);
    sync(json!({"targetEnvironmentId": dev_id}))
        .await
        .assert_bad_request(
            "targetEnvironmentId must be another environment than the workflow's own",
        );
    sync(json!({"targetEnvironmentId": "63cc6e0b561e0a609f223e27"}))
        .await
        .assert_not_found("Environment 63cc6e0b561e0a609f223e27 not found in the organization");
    sync(json!({"targetEnvironmentId": "production"}))
        .await
        .assert_validation(&["targetEnvironmentId must be a mongodb id"]);
    sync(json!({})).await.assert_validation(&[
        "targetEnvironmentId should not be null or undefined",
        "targetEnvironmentId must be a string",
    ]);
    app.put(
        "/v2/workflows/nope/sync",
        json!({"targetEnvironmentId": envs[1].id.to_string()}),
    )
    .await
    .assert_not_found("Workflow nope not found");
}
