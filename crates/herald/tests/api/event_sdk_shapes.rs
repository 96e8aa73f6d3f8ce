//! What the official SDKs need from the event and activity routes beyond Novu's plain bodies
//! (found by the SDK suite, `sdk-tests/`): a 422 that `@novu/api` / `novu-py` can read as
//! `ValidationErrorDto` (`errors`), a trigger route's 400 they can read as
//! `PayloadValidationExceptionDto` (`type`, `errors`), a `transactionId` on every trigger answer
//! (the classic Python SDK's `EventDto` requires it), and no `digest` on feed jobs (their
//! `DigestMetadataDto` requires a `type` Herald has no value for).

use reqwest::Method;
use serde_json::{json, Value};

use crate::delivery::{chat_step, integration, subscriber_with, trigger, workflow};
use crate::helpers::{assert_error_shape, TestApp};
use crate::receiver::Receiver;

backend_tests!(
    a_422_names_what_was_wrong_in_errors,
    a_trigger_routes_400_carries_type_and_one_error_per_message,
    other_routes_400s_keep_novus_plain_body,
    every_trigger_answer_carries_its_transaction_id,
    feed_jobs_carry_no_digest,
);

async fn a_422_names_what_was_wrong_in_errors(app: TestApp) {
    let res = app
        .post("/v1/events/trigger", json!({"name": "nope", "to": "ada"}))
        .await;
    res.assert_error(
        422,
        json!("workflow_not_found"),
        Some("Unprocessable Entity"),
    );
    assert_eq!(
        res.body["errors"],
        json!({"name": {"messages": ["workflow_not_found"], "value": "nope"}})
    );
    workflow(&app, "wf", json!([chat_step("x")])).await;
    let post = |body: Value| {
        app.send(
            app.request(Method::POST, "/v1/events/trigger")
                .header("idempotency-key", "k-1")
                .json(&body),
        )
    };
    assert_eq!(post(json!({"name": "wf", "to": "a"})).await.status, 201);
    let reused = post(json!({"name": "wf", "to": "b"})).await;
    assert_eq!(reused.status, 422, "{}", reused.text);
    assert_error_shape(&reused);
    assert_eq!(
        reused.body["errors"]["Idempotency-Key"]["value"],
        json!("k-1")
    );
}

async fn a_trigger_routes_400_carries_type_and_one_error_per_message(app: TestApp) {
    let res = app.post("/v1/events/trigger", json!({"to": [5]})).await;
    res.assert_validation(&[
        "name should not be null or undefined",
        "name must be a string",
        "to.0 must be a subscriber id, a subscriber object or a topic",
    ]);
    assert_eq!(res.body["type"], "VALIDATION_ERROR");
    assert_eq!(
        res.body["errors"],
        json!([
            {"field": "name", "message": "name should not be null or undefined"},
            {"field": "name", "message": "name must be a string"},
            {"field": "to.0", "message": "to.0 must be a subscriber id, a subscriber object or a topic"},
        ])
    );
    let events: Vec<Value> = (0..101).map(|_| json!({"name": "wf", "to": "a"})).collect();
    let res = app
        .post("/v1/events/trigger/bulk", json!({"events": events}))
        .await;
    res.assert_validation(&["events must contain no more than 100 elements"]);
    assert_eq!(res.body["errors"][0]["field"], "events");
    let res = app
        .post("/v1/events/trigger/broadcast", json!({"name": "wf"}))
        .await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert_eq!(res.body["errors"][0]["field"], "payload");
    // A message about the request as a whole is the body's.
    workflow(
        &app,
        "needs-actor",
        json!([chat_step("{{actor.firstName}}")]),
    )
    .await;
    let res = app
        .post(
            "/v1/events/trigger",
            json!({"name": "needs-actor", "to": "a"}),
        )
        .await;
    res.assert_bad_request("Trigger is missing: actor object, subscriberId property of actor");
    assert_eq!(
        res.body["errors"],
        json!([{"field": "body", "message": "Trigger is missing: actor object, subscriberId property of actor"}])
    );
}

async fn other_routes_400s_keep_novus_plain_body(app: TestApp) {
    let res = app.post("/v1/subscribers", json!({})).await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert_error_shape(&res);
    assert!(res.body.get("type").is_none() && res.body.get("errors").is_none());
    let res = app.get("/v1/messages?limit=0").await;
    assert_eq!(res.status, 400, "{}", res.text);
    assert!(res.body.get("errors").is_none(), "{}", res.text);
}

async fn every_trigger_answer_carries_its_transaction_id(app: TestApp) {
    let res = app
        .post(
            "/v2/workflows",
            json!({"name": "off", "workflowId": "off", "steps": [chat_step("x")]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let data = trigger(&app, json!({"name": "off", "to": "a"})).await;
    assert_eq!(data["status"], "trigger_not_active");
    let generated = data["transactionId"].as_str().expect("a transactionId");
    assert_eq!(
        (generated.len(), &generated[14..15]),
        (36, "4"),
        "a UUID v4"
    );
    let res = app
        .post(
            "/v1/events/trigger/bulk",
            json!({"events": [
                {"name": "missing", "to": "a", "transactionId": "given"},
                {"name": "missing", "to": "a"},
                {"name": "off", "to": "a", "transactionId": "off-1"},
            ]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let items = res.data().as_array().unwrap().clone();
    assert_eq!(
        items[0],
        json!({"acknowledged": true, "status": "error", "error": ["workflow_not_found"], "transactionId": "given"})
    );
    assert_eq!(items[1]["transactionId"].as_str().map(str::len), Some(36));
    assert_eq!(
        items[2],
        json!({"acknowledged": true, "status": "trigger_not_active", "transactionId": "off-1"})
    );
    // Nothing was accepted under these ids: cancelling finds nothing.
    let res = app.delete("/v1/events/trigger/off-1").await;
    assert_eq!(res.data(), &json!(false));
}

async fn feed_jobs_carry_no_digest(app: TestApp) {
    let rx = Receiver::start().await;
    integration(&app, "slack", "chat", json!({})).await;
    subscriber_with(&app, "ada", "slack", json!({"webhookUrl": rx.url("/a")})).await;
    workflow(&app, "wf", json!([chat_step("x")])).await;
    trigger(
        &app,
        json!({"name": "wf", "to": "ada", "transactionId": "t-1"}),
    )
    .await;
    app.deliver().await;
    let list = app.get("/v1/notifications?transactionId=t-1").await;
    assert_eq!(list.status, 200, "{}", list.text);
    let item = &list.body["data"][0];
    let job = &item["jobs"][0];
    assert_eq!(job["status"], "completed", "{job}");
    assert!(job.get("digest").is_none(), "{job}");
    let one = app
        .get(&format!(
            "/v1/notifications/{}",
            item["_id"].as_str().unwrap()
        ))
        .await;
    assert!(
        one.data()["jobs"][0].get("digest").is_none(),
        "{}",
        one.text
    );
}
