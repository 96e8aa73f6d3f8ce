//! What the trigger reads: workflows written through either API land in the one model
//! (`herald_core::workflow`) that `WorkflowStore::workflow_by_identifier` returns, with the texts
//! mapped as the spec says (v1 `template.content` / `template.title`, v2 `controlValues.body` /
//! `controlValues.subject`), the origin that decides the render context, and the reserved
//! objects the texts require. Also: NUL characters, which PostgreSQL text cannot hold.

use herald_core::workflow::{ReservedVariables, StepKind, WorkflowOrigin};
use herald_core::ObjectId;
use serde_json::json;

use crate::helpers::TestApp;

backend_tests!(
    both_apis_write_the_model_the_trigger_reads,
    a_nul_in_a_name_or_text_is_400_and_inside_free_json_is_kept,
);

async fn both_apis_write_the_model_the_trigger_reads(app: TestApp) {
    let groups = app.get("/v1/notification-groups").await;
    let group = groups.data()[0]["_id"].as_str().unwrap().to_string();
    let env = ObjectId::parse(groups.data()[0]["_environmentId"].as_str().unwrap()).unwrap();
    let res = app
        .post(
            "/v1/notification-templates",
            json!({"name": "Order shipped", "notificationGroupId": group, "active": true,
                   "critical": true, "steps": [
                {"template": {"type": "chat", "content": "{{orderId}} by {{actor.firstName}}"}},
                {"active": false, "template": {"type": "push", "content": "Body", "title": "Title"}}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let v1 = app
        .store
        .workflow_by_identifier(&env, "order-shipped")
        .await
        .unwrap()
        .expect("the v1 workflow");
    assert_eq!(v1.origin, WorkflowOrigin::V1);
    assert!(v1.active && v1.critical);
    assert_eq!(v1.name, "Order shipped");
    let kinds: Vec<StepKind> = v1.steps.iter().map(|s| s.kind).collect();
    assert_eq!(kinds, [StepKind::Chat, StepKind::Push]);
    assert_eq!(v1.steps[0].content, "{{orderId}} by {{actor.firstName}}");
    assert_eq!(v1.steps[0].title, None);
    assert!(v1.steps[0].active && !v1.steps[1].active);
    assert_eq!(
        (v1.steps[1].content.as_str(), v1.steps[1].title.as_deref()),
        ("Body", Some("Title"))
    );
    assert_eq!(
        v1.reserved_variables(),
        ReservedVariables {
            tenant: false,
            actor: true
        }
    );

    let res = app
        .post(
            "/v2/workflows",
            json!({"name": "Alert", "workflowId": "alert.v2", "steps": [
                {"name": "Push", "type": "push", "stepId": "push-1",
                 "controlValues": {"subject": "{{tenant.name}}", "body": "{{payload.text}}"},
                 "providerOverrides": {"fcm": {"android": {"priority": "high"}}}}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let v2 = app
        .store
        .workflow_by_identifier(&env, "alert.v2")
        .await
        .unwrap()
        .expect("the v2 workflow");
    assert_eq!(v2.origin, WorkflowOrigin::V2);
    assert!(!v2.active, "the SDK default: inactive");
    let push = &v2.steps[0];
    assert_eq!(
        (push.kind, push.step_id.as_str()),
        (StepKind::Push, "push-1")
    );
    assert_eq!(push.content, "{{payload.text}}");
    assert_eq!(push.title.as_deref(), Some("{{tenant.name}}"));
    assert_eq!(
        serde_json::Value::Object(push.provider_overrides.clone()),
        json!({"fcm": {"android": {"priority": "high"}}})
    );
    assert!(v2.reserved_variables().tenant);
    let names: Vec<String> = v2.trigger_variables().into_iter().map(|v| v.name).collect();
    assert_eq!(names, ["payload.text"]);
}

async fn a_nul_in_a_name_or_text_is_400_and_inside_free_json_is_kept(app: TestApp) {
    app.post(
        "/v2/workflows",
        json!({"name": "a\u{0}b", "workflowId": "nul", "steps": []}),
    )
    .await
    .assert_validation(&["name must not contain null characters"]);
    app.post(
        "/v2/workflows",
        json!({"name": "Nul", "workflowId": "nul", "steps": [
            {"name": "Chat", "type": "chat", "controlValues": {"body": "x\u{0}y"}}]}),
    )
    .await
    .assert_validation(&["steps.0.controlValues.body must not contain null characters"]);
    app.post("/v1/notification-groups", json!({"name": "g\u{0}"}))
        .await
        .assert_validation(&["name must not contain null characters"]);
    // Free JSON (other control values) is stored as escaped JSON text, and kept.
    let res = app
        .post(
            "/v2/workflows",
            json!({"name": "Nul", "workflowId": "nul", "steps": [
                {"name": "Chat", "type": "chat", "controlValues": {"body": "b", "note": "x\u{0}y"}}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let got = app.get("/v2/workflows/nul").await;
    assert_eq!(got.data()["steps"][0]["controlValues"]["note"], "x\u{0}y");
}
