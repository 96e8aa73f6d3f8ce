//! The event routes' answers: statuses, validation, bulk, broadcast, cancel, transaction ids and
//! `Idempotency-Key` replays (spec: Novu's events controller and idempotency interceptor).

use reqwest::Method;
use serde_json::{json, Value};

use crate::delivery::{chat_step, integration, messages, subscriber_with, trigger, workflow};
use crate::helpers::TestApp;
use crate::receiver::Receiver;

async fn an_unknown_workflow_is_422_workflow_not_found(app: TestApp) {
    let res = app
        .post("/v1/events/trigger", json!({"name": "nope", "to": "ada"}))
        .await;
    res.assert_error(
        422,
        json!("workflow_not_found"),
        Some("Unprocessable Entity"),
    );
}

async fn a_trigger_needs_a_name_and_recipients(app: TestApp) {
    let res = app.post("/v1/events/trigger", json!({})).await;
    res.assert_validation(&[
        "name should not be null or undefined",
        "name must be a string",
        "to should not be null or undefined",
    ]);
    let res = app
        .post(
            "/v1/events/trigger",
            json!({"name": "x", "to": "a", "payload": [1]}),
        )
        .await;
    res.assert_validation(&["payload must be an object"]);
}

async fn inactive_and_stepless_workflows_answer_their_status(app: TestApp) {
    let res = app
        .post(
            "/v2/workflows",
            json!({"name": "off", "workflowId": "off",
            "steps": [chat_step("x")]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let data = trigger(
        &app,
        json!({"name": "off", "to": "ada", "transactionId": "tx-off"}),
    )
    .await;
    assert_eq!(
        data,
        json!({"acknowledged": true, "status": "trigger_not_active", "transactionId": "tx-off"})
    );
    workflow(&app, "empty", json!([])).await;
    let data = trigger(&app, json!({"name": "empty", "to": "ada"})).await;
    assert_eq!(data["status"], "no_workflow_steps_defined");
    assert_eq!(
        data["transactionId"].as_str().map(str::len),
        Some(36),
        "a generated transactionId: {data}"
    );
    // Nothing was accepted: no subscriber was created for `ada`.
    assert_eq!(app.get("/v1/subscribers/ada").await.status, 404);
}

async fn a_given_transaction_id_is_kept_and_a_repeated_one_is_409(app: TestApp) {
    workflow(&app, "wf", json!([chat_step("x")])).await;
    let data = trigger(
        &app,
        json!({"name": "wf", "to": "ada", "transactionId": "tx-1"}),
    )
    .await;
    assert_eq!(data["transactionId"], "tx-1");
    let res = app
        .post(
            "/v1/events/trigger",
            json!({"name": "wf", "to": "bob", "transactionId": "tx-1"}),
        )
        .await;
    res.assert_error(
        409,
        json!("transactionId property is not unique, please make sure all triggers have a unique transactionId"),
        Some("Conflict"),
    );
    // Without one, a UUID is generated.
    let data = trigger(&app, json!({"name": "wf", "to": "ada"})).await;
    let tx = data["transactionId"].as_str().unwrap();
    assert_eq!((tx.len(), &tx[14..15]), (36, "4"));
}

async fn post_with_key(
    app: &TestApp,
    path: &str,
    key: &str,
    body: Value,
) -> crate::helpers::TestResponse {
    app.send(
        app.request(Method::POST, path)
            .header("idempotency-key", key)
            .json(&body),
    )
    .await
}

async fn an_idempotency_key_replays_the_first_answer_without_a_second_notification(app: TestApp) {
    let rx = Receiver::start().await;
    integration(&app, "slack", "chat", json!({})).await;
    subscriber_with(&app, "ada", "slack", json!({"webhookUrl": rx.url("/a")})).await;
    workflow(&app, "wf", json!([chat_step("x")])).await;
    let body = json!({"name": "wf", "to": "ada"});
    let first = post_with_key(&app, "/v1/events/trigger", "key-1", body.clone()).await;
    assert_eq!(first.status, 201, "{}", first.text);
    assert!(first.headers.get("idempotency-replay").is_none());
    let again = post_with_key(&app, "/v1/events/trigger", "key-1", body.clone()).await;
    assert_eq!(again.status, 201);
    assert_eq!(
        again.body, first.body,
        "the same answer, the same transactionId"
    );
    assert_eq!(again.headers.get("idempotency-replay").unwrap(), "true");
    app.deliver().await;
    assert_eq!(rx.at("/a").len(), 1, "one notification");
    assert_eq!(messages(&app, "").await["totalCount"], 1);
    // The same key with another body is refused.
    let other = post_with_key(
        &app,
        "/v1/events/trigger",
        "key-1",
        json!({"name": "wf", "to": "bob"}),
    )
    .await;
    other.assert_error(
        422,
        json!("Request with key \"key-1\" is being reused for a different body"),
        Some("Unprocessable Entity"),
    );
    // Keys are per environment.
    let prod = app.with_key(&app.production_key);
    let res = prod
        .send(
            prod.request(Method::POST, "/v1/events/trigger")
                .header("idempotency-key", "key-1")
                .json(&body),
        )
        .await;
    res.assert_error(
        422,
        json!("workflow_not_found"),
        Some("Unprocessable Entity"),
    );
    // Non-processed answers are replayed too, and GETs ignore the key.
    let res = app
        .send(
            app.request(Method::GET, "/v1/messages")
                .header("idempotency-key", "key-1"),
        )
        .await;
    assert_eq!(res.status, 200);
}

async fn a_key_in_flight_in_this_process_is_409(app: TestApp) {
    workflow(&app, "wf", json!([chat_step("x")])).await;
    let env = app.store.list_environments().await.unwrap()[0].id.clone();
    let _held = app.state_in_flight().enter(&env, "busy-key");
    let res = post_with_key(
        &app,
        "/v1/events/trigger",
        "busy-key",
        json!({"name": "wf", "to": "a"}),
    )
    .await;
    res.assert_error(
        409,
        json!("Request with key \"busy-key\" is currently being processed. Please retry after 1 second"),
        Some("Conflict"),
    );
}

async fn bulk_reports_each_events_outcome_in_order(app: TestApp) {
    workflow(&app, "wf", json!([chat_step("x")])).await;
    let res = app
        .post(
            "/v1/events/trigger/bulk",
            json!({"events": [
                {"name": "wf", "to": "a", "transactionId": "b-1"},
                {"name": "missing", "to": "a"},
                {"name": "wf"},
                {"name": "wf", "to": "b", "transactionId": "b-1"},
            ]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let data = res.data().as_array().unwrap().clone();
    assert_eq!(
        data[0],
        json!({"acknowledged": true, "status": "processed", "transactionId": "b-1"})
    );
    assert_eq!(data[1]["status"], "error");
    assert_eq!(data[1]["error"], json!(["workflow_not_found"]));
    assert_eq!(data[1]["transactionId"].as_str().map(str::len), Some(36));
    assert_eq!(
        data[2]["error"],
        json!(["to should not be null or undefined"])
    );
    assert_eq!(data[3]["status"], "error");
    for (body, msg) in [
        (
            json!({}),
            vec![
                "events should not be null or undefined",
                "events must be an array",
            ],
        ),
        (json!({"events": []}), vec!["events should not be empty"]),
        (
            json!({"events": (0..101).map(|_| json!({"name": "wf", "to": "a"})).collect::<Vec<_>>()}),
            vec!["events must contain no more than 100 elements"],
        ),
    ] {
        app.post("/v1/events/trigger/bulk", body)
            .await
            .assert_validation(&msg);
    }
}

async fn broadcast_reaches_every_subscriber(app: TestApp) {
    let rx = Receiver::start().await;
    integration(&app, "slack", "chat", json!({})).await;
    for s in ["a", "b", "c"] {
        subscriber_with(
            &app,
            s,
            "slack",
            json!({"webhookUrl": rx.url(&format!("/{s}"))}),
        )
        .await;
    }
    workflow(&app, "wf", json!([chat_step("all of you")])).await;
    let res = app
        .post(
            "/v1/events/trigger/broadcast",
            json!({"name": "wf", "payload": {}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(res.data()["status"], "processed");
    app.deliver().await;
    assert_eq!(rx.received().len(), 3);
    let res = app
        .post("/v1/events/trigger/broadcast", json!({"name": "wf"}))
        .await;
    res.assert_validation(&[
        "payload should not be null or undefined",
        "payload must be an object",
    ]);
}

async fn cancel_stops_what_has_not_been_sent(app: TestApp) {
    let rx = Receiver::start().await;
    integration(&app, "slack", "chat", json!({})).await;
    subscriber_with(&app, "ada", "slack", json!({"webhookUrl": rx.url("/a")})).await;
    workflow(&app, "wf", json!([chat_step("x")])).await;
    trigger(
        &app,
        json!({"name": "wf", "to": "ada", "transactionId": "c-1"}),
    )
    .await;
    let res = app.delete("/v1/events/trigger/c-1").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(res.data(), &json!(true));
    assert_eq!(
        app.delete("/v1/events/trigger/c-1").await.data(),
        &json!(false)
    );
    assert_eq!(
        app.delete("/v1/events/trigger/unknown").await.data(),
        &json!(false)
    );
    app.deliver().await;
    assert!(rx.received().is_empty());
    let n = app.get("/v1/notifications?transactionId=c-1").await;
    assert_eq!(n.body["data"][0]["jobs"][0]["status"], "canceled");
}

async fn cancel_during_a_scheduled_retry_closes_the_waiting_message(app: TestApp) {
    let rx = Receiver::start().await;
    integration(&app, "slack", "chat", json!({})).await;
    subscriber_with(&app, "ada", "slack", json!({"webhookUrl": rx.url("/a")})).await;
    workflow(&app, "wf", json!([chat_step("x")])).await;
    rx.script(
        "/a",
        [crate::receiver::Answer::new(503, "busy").header("retry-after", "3600")],
    );
    trigger(
        &app,
        json!({"name": "wf", "to": "ada", "transactionId": "c-2"}),
    )
    .await;
    app.deliver().await;
    let m = &messages(&app, "").await["data"][0];
    assert_eq!(m["status"], "warning");
    assert_eq!(
        app.delete("/v1/events/trigger/c-2").await.data(),
        &json!(true)
    );
    let m = &messages(&app, "").await["data"][0];
    assert_eq!(m["status"], "warning");
    assert_eq!(m["errorText"], "Canceled before it was sent");
    assert!(m.get("errorId").is_none());
    let n = app.get("/v1/notifications?transactionId=c-2").await;
    let job = &n.body["data"][0]["jobs"][0];
    assert_eq!(job["status"], "canceled");
    let last = job["executionDetails"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        last["detail"],
        "Step canceled: the event was canceled before it was sent"
    );
    assert_eq!(last["status"], "Warning");
    // The retry never comes.
    let in_two_hours =
        herald_core::Timestamp::from_millis(herald_core::Timestamp::now().millis() + 2 * 3_600_000);
    app.worker().run_until_idle_at(Some(in_two_hours)).await;
    assert_eq!(rx.at("/a").len(), 1);
}

async fn another_environments_events_are_out_of_reach(app: TestApp) {
    workflow(&app, "wf", json!([chat_step("x")])).await;
    trigger(
        &app,
        json!({"name": "wf", "to": "ada", "transactionId": "iso"}),
    )
    .await;
    let prod = app.with_key(&app.production_key);
    assert_eq!(
        prod.delete("/v1/events/trigger/iso").await.data(),
        &json!(false)
    );
    let res = prod.get("/v1/notifications").await;
    assert_eq!(res.body["data"], json!([]));
    assert_eq!(
        app.delete("/v1/events/trigger/iso").await.data(),
        &json!(true)
    );
}

async fn the_activity_reads_validate_their_queries(app: TestApp) {
    app.get("/v1/messages?limit=1001")
        .await
        .assert_bad_request("Limit can not be larger then 1000");
    app.get("/v1/messages?channel=fax")
        .await
        .assert_validation(&[
            "channel must be one of the following values: in_app, email, sms, chat, push",
        ]);
    app.get("/v1/messages?subscriberId=nobody")
        .await
        .assert_not_found("Subscriber not found for id nobody");
    app.delete("/v1/messages/not-an-id")
        .await
        .assert_validation(&["messageId must be a mongodb id"]);
    app.delete("/v1/messages/0123456789abcdef01234567")
        .await
        .assert_not_found("Message with id 0123456789abcdef01234567 not found");
    app.delete("/v1/messages/transaction/none")
        .await
        .assert_not_found("Invalid transactionId or channel");
    app.get("/v1/notifications/0123456789abcdef01234567")
        .await
        .assert_not_found("Notification with id 0123456789abcdef01234567 not found");
    app.get("/v1/execution-details").await.assert_validation(&[
        "notificationId must be a mongodb id",
        "subscriberId should not be empty",
    ]);
    app.get("/v1/execution-details?notificationId=0123456789abcdef01234567&subscriberId=x")
        .await
        .assert_not_found("Subscriber not found for id x");
    let empty = app.get("/v1/notifications").await;
    assert_eq!(
        empty.body,
        json!({"page": 0, "hasMore": false, "pageSize": 10, "data": []})
    );
    let page = app.get("/v1/messages").await;
    assert_eq!(
        page.body,
        json!({"page": 0, "totalCount": 0, "hasMore": false, "pageSize": 10, "data": []})
    );
}

backend_tests!(
    an_unknown_workflow_is_422_workflow_not_found,
    a_trigger_needs_a_name_and_recipients,
    inactive_and_stepless_workflows_answer_their_status,
    a_given_transaction_id_is_kept_and_a_repeated_one_is_409,
    an_idempotency_key_replays_the_first_answer_without_a_second_notification,
    a_key_in_flight_in_this_process_is_409,
    bulk_reports_each_events_outcome_in_order,
    broadcast_reaches_every_subscriber,
    cancel_stops_what_has_not_been_sent,
    cancel_during_a_scheduled_retry_closes_the_waiting_message,
    another_environments_events_are_out_of_reach,
    the_activity_reads_validate_their_queries,
);
