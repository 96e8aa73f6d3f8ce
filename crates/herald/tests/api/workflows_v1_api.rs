//! v1 workflows (`/v1/workflows` and `/v1/notification-templates`, one set of handlers) and
//! `/v1/notification-groups`, as `@novu/node` 2.6.6 and `novu` 1.14.0 call them (as
//! Novu documents them): the slug of the name as trigger identifier (npm
//! `slugify` rules, `-<suffix>` on collision), the classic Python SDK's null-filled snake_case
//! steps, Novu's statuses and messages, and Herald's deliberate 404 on delete.

use serde_json::{json, Value};

use crate::helpers::TestApp;

backend_tests!(
    every_environment_lists_a_general_group_and_creating_a_name_twice_returns_it,
    create_slugs_the_name_into_the_trigger_identifier_and_suffixes_a_taken_one,
    create_reads_the_classic_python_sdks_null_filled_snake_case_body,
    create_answers_novus_messages_for_bad_bodies,
    both_prefixes_serve_the_same_workflows,
    list_is_unwrapped_newest_first_with_query_and_paging,
    get_takes_the_id_or_the_identifier,
    put_changes_the_given_fields_and_replaces_the_steps,
    status_flips_active_and_refuses_the_current_status,
    delete_answers_data_true_then_404,
    v1_and_v2_show_the_same_workflow,
);

async fn general(app: &TestApp) -> String {
    let res = app.get("/v1/notification-groups").await;
    res.data()[0]["_id"].as_str().unwrap().to_string()
}

/// What `@novu/node`'s `notificationTemplates.create` sends (recorded shape).
fn node_body(group: &str, name: &str) -> Value {
    json!({
        "name": name,
        "notificationGroupId": group,
        "steps": [
            {"active": true, "template": {"type": "chat", "content": "Order {{orderId}} shipped"}},
            {"active": true, "template": {"type": "push", "content": "{{#each items}}{{name}}{{/each}}", "title": "{{#if vip}}VIP{{/if}}"}}
        ]
    })
}

async fn create(app: &TestApp, path: &str, body: Value) -> Value {
    let res = app.post(path, body.clone()).await;
    assert_eq!(res.status, 201, "creating {body}: {}", res.text);
    res.data().clone()
}

async fn every_environment_lists_a_general_group_and_creating_a_name_twice_returns_it(
    app: TestApp,
) {
    let res = app.get("/v1/notification-groups").await;
    let groups = res.data().as_array().unwrap().clone();
    assert_eq!(groups.len(), 1);
    let g = &groups[0];
    assert_eq!(g["name"], "General");
    assert_eq!(g["_id"].as_str().unwrap().len(), 24);
    let env = g["_environmentId"].as_str().unwrap().to_string();
    let prod = app.with_key(&app.production_key);
    let prod_groups = prod.get("/v1/notification-groups").await;
    let pg = &prod_groups.data()[0];
    assert_eq!(pg["name"], "General");
    assert_ne!(pg["_id"], g["_id"]);
    assert_ne!(pg["_environmentId"], json!(env));

    let res = app
        .post("/v1/notification-groups", json!({"name": "Marketing"}))
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let marketing = res.data().clone();
    assert_eq!(marketing["name"], "Marketing");
    assert_eq!(marketing["_environmentId"], json!(env));
    let again = app
        .post("/v1/notification-groups", json!({"name": "Marketing"}))
        .await;
    assert_eq!((again.status, again.data()), (201, &marketing));
    let listed = app.get("/v1/notification-groups").await;
    let names: Vec<&str> = listed
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["General", "Marketing"]);
    let id = marketing["_id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/notification-groups/{id}"))
            .await
            .data(),
        &marketing
    );
    prod.get(&format!("/v1/notification-groups/{id}"))
        .await
        .assert_not_found(&format!("Notification group with id {id} not found"));
    app.get("/v1/notification-groups/General")
        .await
        .assert_not_found("Notification group with id General not found");
    app.post("/v1/notification-groups", json!({"name": "  "}))
        .await
        .assert_validation(&["name should not be empty"]);
    app.post("/v1/notification-groups", json!({}))
        .await
        .assert_validation(&[
            "name should not be null or undefined",
            "name must be a string",
        ]);
}

async fn create_slugs_the_name_into_the_trigger_identifier_and_suffixes_a_taken_one(app: TestApp) {
    let group = general(&app).await;
    for (name, identifier) in [
        ("Order shipped!", "order-shipped"),
        ("New comment - post", "new-comment-post"),
        ("A & B", "a-and-b"),
        ("Café Déjà", "cafe-deja"),
        ("Über Größe", "uber-grosse"),
        ("v1.2 release", "v12-release"),
        ("order_shipped", "ordershipped"),
    ] {
        let w = create(&app, "/v1/notification-templates", node_body(&group, name)).await;
        assert_eq!(w["triggers"][0]["identifier"], identifier, "{name}");
        assert_eq!(w["name"], name);
    }
    // A taken slug gets `-<shortid>`.
    let second = create(&app, "/v1/workflows", node_body(&group, "Order Shipped")).await;
    let identifier = second["triggers"][0]["identifier"].as_str().unwrap();
    let suffix = identifier
        .strip_prefix("order-shipped-")
        .unwrap_or_else(|| panic!("{identifier}"));
    assert_eq!(suffix.len(), 9, "{identifier}");
    assert!(suffix
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    // A name whose slug is empty makes no identifier.
    app.post("/v1/workflows", node_body(&group, "通知"))
        .await
        .assert_bad_request(
            "The workflow name \"通知\" has no letters or digits that make a trigger identifier (its slug is empty); use a name with some",
        );
}

async fn create_reads_the_classic_python_sdks_null_filled_snake_case_body(app: TestApp) {
    let group = general(&app).await;
    // `NotificationTemplateApi.create` of `novu` 1.14.0, as recorded.
    let body = json!({
        "name": "Password reset", "notificationGroupId": group, "description": null, "tags": null,
        "steps": [{"_id": null, "_template_id": null, "_parent_id": null, "active": true,
                   "should_stop_on_fail": null,
                   "template": {"type": "push", "content": "Reset: {{link}}", "title": "Reset", "name": null},
                   "filters": null, "metadata": null, "replay_callback": null}],
        "active": true, "critical": null, "draft": null, "preferenceSettings": null
    });
    let w = create(&app, "/v1/notification-templates", body).await;
    assert_eq!(w["active"], true);
    assert_eq!(w["draft"], false);
    assert_eq!(w["critical"], false);
    assert_eq!(w["description"], "");
    assert_eq!(w["tags"], json!([]));
    assert_eq!(
        w["preferenceSettings"],
        json!({"email": true, "sms": true, "in_app": true, "chat": true, "push": true})
    );
    let step = &w["steps"][0];
    assert_eq!(step["_parentId"], Value::Null);
    assert_eq!(step["shouldStopOnFail"], false);
    assert_eq!(step["filters"], json!([]));
    assert_eq!(step["_templateId"], step["_id"]);
    assert_eq!(step["template"]["type"], "push");
    assert_eq!(step["template"]["content"], "Reset: {{link}}");
    assert_eq!(step["template"]["title"], "Reset");
    assert_eq!(
        w["triggers"],
        json!([{"type": "event", "identifier": "password-reset",
                "variables": [{"name": "link", "type": "String"}],
                "reservedVariables": [], "subscriberVariables": []}])
    );
}

async fn create_answers_novus_messages_for_bad_bodies(app: TestApp) {
    let group = general(&app).await;
    for path in ["/v1/workflows", "/v1/notification-templates"] {
        app.post(path, json!({})).await.assert_validation(&[
            "name should not be null or undefined",
            "name must be a string",
            "Notification group must be provided ",
            "steps should not be null or undefined",
            "steps must be an array",
        ]);
        app.post(
            path,
            json!({"name": "x", "notificationGroupId": group, "steps": [{"active": true}]}),
        )
        .await
        .assert_bad_request("Unexpected error: message template is missing");
        let res = app
            .post(
                path,
                json!({"name": "x", "notificationGroupId": group,
                       "steps": [{"template": {"type": "email", "content": "x"}}]}),
            )
            .await;
        assert_eq!(res.status, 400, "{}", res.text);
        assert!(res.body["message"][0]
            .as_str()
            .unwrap()
            .starts_with("steps.0.template.type must be one of the step types Herald delivers: chat, push (got \"email\""));
        app.post(
            path,
            json!({"name": "x", "notificationGroupId": "nope", "steps": []}),
        )
        .await
        .assert_validation(&["notificationGroupId must be a mongodb id"]);
        app.post(
            path,
            json!({"name": "x", "notificationGroupId": "63cc6e0b561e0a609f223e27", "steps": []}),
        )
        .await
        .assert_bad_request("Notification group with id 63cc6e0b561e0a609f223e27 not found");
    }
    // Nothing was stored.
    assert_eq!(app.get("/v1/workflows").await.body["totalCount"], 0);
}

async fn both_prefixes_serve_the_same_workflows(app: TestApp) {
    let group = general(&app).await;
    let w = create(&app, "/v1/workflows", node_body(&group, "Welcome")).await;
    let id = w["_id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/v1/notification-templates/{id}"))
            .await
            .data(),
        &w
    );
    let res = app
        .put(
            &format!("/v1/notification-templates/{id}/status"),
            json!({"active": true}),
        )
        .await;
    assert_eq!(res.data()["active"], true);
    assert_eq!(
        app.get(&format!("/v1/workflows/{id}")).await.data()["active"],
        true
    );
    assert_eq!(
        app.get("/v1/notification-templates").await.body["totalCount"],
        1
    );
    assert_eq!(
        app.delete(&format!("/v1/notification-templates/{id}"))
            .await
            .data(),
        &json!(true)
    );
    assert_eq!(app.get(&format!("/v1/workflows/{id}")).await.status, 404);
}

async fn list_is_unwrapped_newest_first_with_query_and_paging(app: TestApp) {
    let group = general(&app).await;
    for name in ["Order shipped", "Password reset", "Weekly orders"] {
        create(&app, "/v1/notification-templates", node_body(&group, name)).await;
    }
    let res = app.get("/v1/notification-templates").await;
    assert_eq!(res.status, 200);
    let body = &res.body;
    assert_eq!(
        (&body["page"], &body["totalCount"], &body["pageSize"]),
        (&json!(0), &json!(3), &json!(10))
    );
    let names = |b: &Value| -> Vec<String> {
        b["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(body),
        ["Weekly orders", "Password reset", "Order shipped"]
    );
    let page = app.get("/v1/notification-templates?page=1&limit=2").await;
    assert_eq!(names(&page.body), ["Order shipped"]);
    assert_eq!(
        (&page.body["page"], &page.body["pageSize"]),
        (&json!(1), &json!(2))
    );
    let q = app.get("/v1/workflows?query=ORDER").await;
    assert_eq!(names(&q.body), ["Weekly orders", "Order shipped"]);
    assert_eq!(q.body["totalCount"], 2);
    let by_identifier = app.get("/v1/workflows?query=d-res").await;
    assert_eq!(names(&by_identifier.body), ["Password reset"]);
    app.get("/v1/workflows?limit=101")
        .await
        .assert_validation(&["limit must not be greater than 100"]);
    app.get("/v1/workflows?page=x&limit=0")
        .await
        .assert_validation(&[
            "page must be an integer number",
            "limit must not be less than 1",
        ]);
}

async fn get_takes_the_id_or_the_identifier(app: TestApp) {
    let group = general(&app).await;
    let w = create(&app, "/v1/workflows", node_body(&group, "Order shipped")).await;
    let id = w["_id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/v1/workflows/{id}")).await.data(), &w);
    assert_eq!(
        app.get("/v1/notification-templates/order-shipped")
            .await
            .data(),
        &w
    );
    app.get("/v1/workflows/nope")
        .await
        .assert_not_found("Template with id nope not found");
    app.get("/v1/notification-templates/63cc6e0b561e0a609f223e27")
        .await
        .assert_not_found("Template with id 63cc6e0b561e0a609f223e27 not found");
}

async fn put_changes_the_given_fields_and_replaces_the_steps(app: TestApp) {
    let group = general(&app).await;
    let w = create(&app, "/v1/workflows", node_body(&group, "Order shipped")).await;
    let id = w["_id"].as_str().unwrap();
    let chat_id = w["steps"][0]["_id"].as_str().unwrap();
    let marketing = app
        .post("/v1/notification-groups", json!({"name": "Marketing"}))
        .await;
    let marketing = marketing.data()["_id"].as_str().unwrap().to_string();
    let res = app
        .put(
            &format!("/v1/notification-templates/{id}"),
            json!({
                "name": "Order dispatched", "description": "d", "tags": ["orders"], "critical": true,
                "notificationGroupId": marketing, "identifier": "order.dispatched",
                "preferenceSettings": {"chat": false}, "data": {"owner": "ops"},
                // `active` is not part of Novu's update DTO: ignored.
                "active": true,
                "steps": [{"_templateId": chat_id, "template": {"type": "chat", "content": "Dispatched {{orderId}} {{actor.firstName}}"}}]
            }),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let u = res.data();
    assert_eq!(u["_id"], w["_id"]);
    assert_eq!(u["name"], "Order dispatched");
    assert_eq!(u["description"], "d");
    assert_eq!(u["tags"], json!(["orders"]));
    assert_eq!(u["critical"], true);
    assert_eq!(u["active"], false);
    assert_eq!(u["_notificationGroupId"], json!(marketing));
    assert_eq!(u["preferenceSettings"]["chat"], false);
    assert_eq!(u["preferenceSettings"]["push"], true);
    assert_eq!(u["data"], json!({"owner": "ops"}));
    assert_eq!(u["triggers"][0]["identifier"], "order.dispatched");
    assert_eq!(
        u["triggers"][0]["reservedVariables"],
        json!([{"type": "actor", "variables": [{"name": "subscriberId", "type": "String"}]}])
    );
    assert_eq!(u["steps"].as_array().unwrap().len(), 1);
    assert_eq!(u["steps"][0]["_id"], chat_id);
    assert_eq!(app.get("/v1/workflows/order.dispatched").await.data(), u);
    assert_eq!(app.get("/v1/workflows/order-shipped").await.status, 404);

    // Renaming alone keeps the identifier.
    let res = app
        .put(&format!("/v1/workflows/{id}"), json!({"name": "Again"}))
        .await;
    assert_eq!(res.data()["triggers"][0]["identifier"], "order.dispatched");

    create(&app, "/v1/workflows", node_body(&group, "Taken")).await;
    app.put(
        &format!("/v1/workflows/{id}"),
        json!({"identifier": "taken"}),
    )
    .await
    .assert_bad_request("Workflow with identifier taken already exists");
    app.put(
        &format!("/v1/workflows/{id}"),
        json!({"active": true, "draft": null}),
    )
    .await
    .assert_bad_request("No properties found for update");
    app.put("/v1/workflows/order.dispatched", json!({"name": "x"}))
        .await
        .assert_not_found("Notification template with id order.dispatched not found");
    app.put(
        &format!("/v1/workflows/{id}"),
        json!({"steps": [{"template": {"type": "sms"}}]}),
    )
    .await
    .assert_error(
        400,
        json!([unsupported("steps.0.template.type", "sms")]),
        Some("Bad Request"),
    );
}

/// The message for a step type Herald does not deliver.
pub fn unsupported(field: &str, got: &str) -> String {
    format!(
        "{field} must be one of the step types Herald delivers: chat, push (got {got:?}; \
         in_app, email, sms, digest, delay and the other Novu step types are not supported)"
    )
}

async fn status_flips_active_and_refuses_the_current_status(app: TestApp) {
    let group = general(&app).await;
    let w = create(&app, "/v1/workflows", node_body(&group, "Welcome")).await;
    assert_eq!(
        (w["active"].as_bool(), w["draft"].as_bool()),
        (Some(false), Some(true))
    );
    let id = w["_id"].as_str().unwrap();
    let path = format!("/v1/workflows/{id}/status");
    let res = app.put(&path, json!({"active": true})).await;
    assert_eq!(
        (
            res.data()["active"].as_bool(),
            res.data()["draft"].as_bool()
        ),
        (Some(true), Some(false))
    );
    app.put(&path, json!({"active": true}))
        .await
        .assert_bad_request("You must provide a different status from the current status");
    app.put(&path, json!({})).await.assert_validation(&[
        "active should not be null or undefined",
        "active must be a boolean value",
    ]);
    app.put(
        "/v1/workflows/63cc6e0b561e0a609f223e27/status",
        json!({"active": true}),
    )
    .await
    .assert_not_found("Template with id 63cc6e0b561e0a609f223e27 not found");
}

async fn delete_answers_data_true_then_404(app: TestApp) {
    let group = general(&app).await;
    let w = create(&app, "/v1/workflows", node_body(&group, "Welcome")).await;
    let id = w["_id"].as_str().unwrap();
    let res = app.delete(&format!("/v1/workflows/{id}")).await;
    assert_eq!((res.status, res.data()), (200, &json!(true)));
    app.delete(&format!("/v1/workflows/{id}"))
        .await
        .assert_not_found(&format!("Could not find workflow with id {id}"));
    app.delete("/v1/notification-templates/welcome")
        .await
        .assert_not_found("Could not find workflow with id welcome");
    // The identifier is free again: the next "Welcome" gets it without a suffix.
    let again = create(&app, "/v1/workflows", node_body(&group, "Welcome")).await;
    assert_eq!(again["triggers"][0]["identifier"], "welcome");
}

async fn v1_and_v2_show_the_same_workflow(app: TestApp) {
    let group = general(&app).await;
    let v1 = create(&app, "/v1/workflows", node_body(&group, "Order shipped")).await;
    let v2 = app.get("/v2/workflows/order-shipped").await;
    let v2 = v2.data();
    assert_eq!(v2["_id"], v1["_id"]);
    assert_eq!(v2["origin"], "novu-cloud-v1");
    assert_eq!(
        v2["steps"][0]["controlValues"],
        json!({"body": "Order {{orderId}} shipped"})
    );
    assert_eq!(
        v2["steps"][1]["controls"]["values"],
        json!({"subject": "{{#if vip}}VIP{{/if}}", "body": "{{#each items}}{{name}}{{/each}}"})
    );
    assert_eq!(v1["origin"], "novu-cloud-v1");
    assert_eq!(
        v1["triggers"][0]["variables"],
        json!([{"name": "orderId", "type": "String"}, {"name": "items", "type": "Array"},
               {"name": "items.name", "type": "String"}, {"name": "vip", "type": "Boolean"}])
    );

    let res = app
        .post(
            "/v2/workflows",
            json!({"name": "From v2", "workflowId": "from-v2", "steps": [
                {"name": "Chat", "type": "chat", "controlValues": {"body": "{{payload.x}}"}}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let seen = app.get("/v1/notification-templates/from-v2").await;
    let seen = seen.data();
    assert_eq!(seen["origin"], "novu-cloud");
    assert_eq!(
        seen["_notificationGroupId"],
        json!(group),
        "v2 workflows are in General"
    );
    assert_eq!(seen["steps"][0]["template"]["content"], "{{payload.x}}");
    assert_eq!(
        seen["triggers"][0]["variables"],
        json!([{"name": "payload.x", "type": "String"}])
    );
}
