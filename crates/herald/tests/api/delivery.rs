//! Delivery end to end: a workflow defined through the API, a trigger, the worker run to idle
//! (`TestApp::deliver`), and what a local receiver standing in for the provider got — then the
//! same story read back through `/v1/messages`, `/v1/notifications` and `/v1/execution-details`.
//! Every outbound request goes to `127.0.0.1` (allowed) or, for refusals, `127.0.0.2` (refused).

use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::receiver::{Answer, Receiver, Silent};

/// An active integration of `provider` with these credentials.
pub async fn integration(
    app: &TestApp,
    provider: &str,
    channel: &str,
    credentials: Value,
) -> Value {
    app.create_integration(
        json!({"providerId": provider, "channel": channel, "active": true,
                                  "credentials": credentials}),
    )
    .await
}

/// A subscriber with a `provider` channel holding these credentials.
pub async fn subscriber_with(app: &TestApp, id: &str, provider: &str, credentials: Value) {
    app.create_subscriber(json!({"subscriberId": id, "firstName": format!("First {id}")}))
        .await;
    let res = app
        .put(
            &format!("/v1/subscribers/{id}/credentials"),
            json!({"providerId": provider, "credentials": credentials}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
}

/// An active v2 workflow `id` with these steps.
pub async fn workflow(app: &TestApp, id: &str, steps: Value) -> Value {
    let res = app
        .post(
            "/v2/workflows",
            json!({"name": id, "workflowId": id, "active": true, "steps": steps}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    res.body.get("data").cloned().unwrap_or(res.body)
}

pub fn chat_step(body: &str) -> Value {
    json!({"name": "chat-step", "type": "chat", "controlValues": {"body": body}})
}

pub fn push_step(title: &str, body: &str) -> Value {
    json!({"name": "push-step", "type": "push", "controlValues": {"subject": title, "body": body}})
}

/// Triggers; asserts 201 and returns `data`.
pub async fn trigger(app: &TestApp, body: Value) -> Value {
    let res = app.post("/v1/events/trigger", body.clone()).await;
    assert_eq!(res.status, 201, "trigger {body}: {}", res.text);
    res.data().clone()
}

/// `GET /v1/messages` with this query; asserts 200 and returns the page.
pub async fn messages(app: &TestApp, query: &str) -> Value {
    let res = app.get(&format!("/v1/messages{query}")).await;
    assert_eq!(res.status, 200, "{}", res.text);
    res.body
}

/// A slack subscriber `ada` whose webhook is the receiver's `/slack/ada`, and a chat workflow.
async fn slack_setup(app: &TestApp, rx: &Receiver, body: &str) {
    integration(app, "slack", "chat", json!({})).await;
    subscriber_with(
        app,
        "ada",
        "slack",
        json!({"webhookUrl": rx.url("/slack/ada")}),
    )
    .await;
    workflow(app, "order-shipped", json!([chat_step(body)])).await;
}

async fn a_trigger_sends_the_rendered_chat_message_to_the_subscribers_webhook(app: TestApp) {
    let rx = Receiver::start().await;
    slack_setup(
        &app,
        &rx,
        "Order {{payload.orderId}} for {{subscriber.firstName}} & co",
    )
    .await;
    let data = trigger(
        &app,
        json!({"name": "order-shipped", "to": "ada", "payload": {"orderId": "17 <b>"}}),
    )
    .await;
    assert_eq!(data["acknowledged"], true);
    assert_eq!(data["status"], "processed");
    let tx = data["transactionId"]
        .as_str()
        .expect("a transactionId")
        .to_string();
    assert!(
        rx.received().is_empty(),
        "nothing is sent before the worker runs"
    );
    let drained = app.deliver().await;
    assert_eq!(drained.jobs, 1);
    let got = rx.at("/slack/ada");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].method, "POST");
    assert_eq!(got[0].query, None);
    assert_eq!(
        got[0].json(),
        json!({"text": "Order 17 &lt;b&gt; for First ada & co"})
    );
    // Read back.
    let page = messages(&app, "?subscriberId=ada").await;
    assert_eq!(page["totalCount"], 1);
    let m = &page["data"][0];
    assert_eq!(m["status"], "sent");
    assert_eq!(m["channel"], "chat");
    assert_eq!(m["providerId"], "slack");
    assert_eq!(m["transactionId"], tx);
    assert_eq!(m["content"], "Order 17 &lt;b&gt; for First ada & co");
    assert_eq!(m["templateIdentifier"], "order-shipped");
    assert!(m.get("errorText").is_none());
    let hint = m["webhookUrlHint"].as_str().expect("a hint");
    assert!(
        !hint.contains("/slack/ada"),
        "the webhook URL is never shown: {hint}"
    );
    // The notification with its job and execution details.
    let n = app
        .get(&format!("/v1/notifications?transactionId={tx}"))
        .await;
    assert_eq!(n.status, 200, "{}", n.text);
    let item = &n.body["data"][0];
    assert_eq!(item["transactionId"], tx);
    assert_eq!(item["subscriber"]["subscriberId"], "ada");
    assert_eq!(
        item["template"]["triggers"][0]["identifier"],
        "order-shipped"
    );
    let job = &item["jobs"][0];
    assert_eq!(
        (job["type"].as_str(), job["status"].as_str()),
        (Some("chat"), Some("completed"))
    );
    assert_eq!(job["providerId"], "slack");
    let details: Vec<&str> = job["executionDetails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details,
        [
            "Integration instance selected",
            "Message created",
            "Message sent"
        ]
    );
    let nid = item["_id"].as_str().unwrap();
    let one = app.get(&format!("/v1/notifications/{nid}")).await;
    assert_eq!(one.data()["_id"], nid);
    let ed = app
        .get(&format!(
            "/v1/execution-details?notificationId={nid}&subscriberId=ada"
        ))
        .await;
    assert_eq!(ed.data().as_array().unwrap().len(), 3);
    // A second run has nothing to do.
    assert_eq!(app.deliver().await.jobs, 0);
    assert_eq!(rx.at("/slack/ada").len(), 1);
}

async fn a_transient_failure_is_retried_until_it_succeeds(app: TestApp) {
    let rx = Receiver::start().await;
    slack_setup(&app, &rx, "hello").await;
    rx.script(
        "/slack/ada",
        [Answer::new(503, "busy"), Answer::new(500, "rollup_error")],
    );
    trigger(&app, json!({"name": "order-shipped", "to": "ada"})).await;
    app.deliver().await;
    assert_eq!(rx.at("/slack/ada").len(), 3, "two failures, then success");
    let m = &messages(&app, "").await["data"][0];
    assert_eq!(m["status"], "sent");
    let nid = m["_notificationId"].as_str().unwrap();
    let ed = app
        .get(&format!(
            "/v1/execution-details?notificationId={nid}&subscriberId=ada"
        ))
        .await;
    let lines: Vec<(String, bool)> = ed
        .data()
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["detail"].as_str().unwrap().to_string(),
                d["isRetry"].as_bool().unwrap(),
            )
        })
        .collect();
    let sent = lines
        .iter()
        .find(|(d, _)| d == "Message sent")
        .expect("sent");
    assert!(sent.1, "the successful attempt was a retry");
    assert_eq!(
        lines
            .iter()
            .filter(|(d, _)| d == "Unexpected provider error")
            .count(),
        2
    );
    assert_eq!(
        lines.iter().filter(|(d, _)| d == "Retry scheduled").count(),
        2
    );
}

async fn attempts_are_bounded_and_the_message_ends_in_error(app: TestApp) {
    let rx = Receiver::start().await;
    slack_setup(&app, &rx, "hello").await;
    rx.script("/slack/ada", (0..5).map(|_| Answer::new(503, "busy")));
    trigger(&app, json!({"name": "order-shipped", "to": "ada"})).await;
    app.deliver().await;
    assert_eq!(
        rx.at("/slack/ada").len(),
        3,
        "max_attempts is 3 in the tests"
    );
    let m = &messages(&app, "").await["data"][0];
    assert_eq!(m["status"], "error");
    assert_eq!(m["errorId"], "unexpected_chat_error");
    assert!(m["errorText"].as_str().unwrap().contains("503"), "{m}");
}

async fn a_permanent_failure_is_not_retried(app: TestApp) {
    let rx = Receiver::start().await;
    slack_setup(&app, &rx, "hello").await;
    rx.script("/slack/ada", [Answer::new(400, "invalid_payload")]);
    trigger(&app, json!({"name": "order-shipped", "to": "ada"})).await;
    app.deliver().await;
    assert_eq!(rx.at("/slack/ada").len(), 1);
    let m = &messages(&app, "").await["data"][0];
    assert_eq!(m["status"], "error");
    assert!(
        m["errorText"].as_str().unwrap().contains("invalid_payload"),
        "{m}"
    );
}

async fn a_retry_after_longer_than_now_leaves_the_message_waiting(app: TestApp) {
    let rx = Receiver::start().await;
    slack_setup(&app, &rx, "hello").await;
    rx.script(
        "/slack/ada",
        [Answer::new(429, "rate_limited").header("retry-after", "3600")],
    );
    trigger(&app, json!({"name": "order-shipped", "to": "ada"})).await;
    app.deliver().await;
    assert_eq!(
        rx.at("/slack/ada").len(),
        1,
        "the retry waits for Retry-After"
    );
    let m = &messages(&app, "").await["data"][0];
    assert_eq!(m["status"], "warning");
    assert!(
        m["errorText"]
            .as_str()
            .unwrap()
            .starts_with("Not delivered yet"),
        "{m}"
    );
}

async fn a_destination_outside_the_outbound_policy_is_refused_and_never_reached(app: TestApp) {
    let silent = Silent::start_on("127.0.0.2").await;
    let port = silent.addr.port();
    integration(&app, "slack", "chat", json!({})).await;
    // 127.0.0.2 written plainly, in decimal and in hex: all loopback, none allowed.
    let urls = [
        format!("http://127.0.0.2:{port}/hook"),
        format!("http://2130706434:{port}/hook"),
        format!("http://0x7f000002:{port}/hook"),
    ];
    for (i, url) in urls.iter().enumerate() {
        subscriber_with(&app, &format!("s{i}"), "slack", json!({"webhookUrl": url})).await;
    }
    // And a redirect from an allowed receiver to it.
    let rx = Receiver::start().await;
    rx.script(
        "/redirect",
        [Answer::new(302, "").header("location", &format!("http://127.0.0.2:{port}/hook"))],
    );
    subscriber_with(
        &app,
        "s3",
        "slack",
        json!({"webhookUrl": rx.url("/redirect")}),
    )
    .await;
    workflow(&app, "wf", json!([chat_step("hi")])).await;
    trigger(&app, json!({"name": "wf", "to": ["s0", "s1", "s2", "s3"]})).await;
    app.deliver().await;
    assert_eq!(silent.connections(), 0, "nothing reached 127.0.0.2");
    assert_eq!(
        rx.at("/redirect").len(),
        1,
        "the redirect was not followed, nor retried"
    );
    let page = messages(&app, "?limit=10").await;
    let data = page["data"].as_array().unwrap();
    assert_eq!(data.len(), 4);
    for m in data {
        assert_eq!(m["status"], "error", "{m}");
        let text = m["errorText"].as_str().unwrap();
        if m["subscriberId"] == "s3" {
            assert!(text.contains("redirect"), "{text}");
        } else {
            assert!(
                text.contains("HERALD_OUTBOUND_ALLOW") && text.contains("127.0.0.2"),
                "{text}"
            );
        }
    }
}

async fn push_webhook_gets_one_signed_request_per_token(app: TestApp) {
    let rx = Receiver::start().await;
    integration(
        &app,
        "push-webhook",
        "push",
        json!({"webhookUrl": rx.url("/push"), "secretKey": "s3cret"}),
    )
    .await;
    subscriber_with(
        &app,
        "ada",
        "push-webhook",
        json!({"deviceTokens": ["tok-1", "tok-2"]}),
    )
    .await;
    workflow(
        &app,
        "p",
        json!([push_step(
            "Hi {{subscriber.firstName}}",
            "Body {{payload.n}}"
        )]),
    )
    .await;
    trigger(&app, json!({"name": "p", "to": "ada", "payload": {"n": 1}})).await;
    app.deliver().await;
    let got = rx.at("/push");
    assert_eq!(got.len(), 2);
    let mut targets = Vec::new();
    for r in &got {
        let body = r.json();
        targets.push(body["target"][0].as_str().unwrap().to_string());
        assert_eq!(body["title"], "Hi First ada");
        assert_eq!(body["content"], "Body 1");
        assert_eq!(body["payload"]["n"], 1);
        assert_eq!(body["payload"]["subscriber"]["subscriberId"], "ada");
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
        mac.update(&r.body);
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(r.header("x-novu-signature"), Some(expected.as_str()));
    }
    targets.sort();
    assert_eq!(targets, ["tok-1", "tok-2"]);
    let m = &messages(&app, "").await["data"][0];
    assert_eq!(m["status"], "sent");
    let hints: Vec<&str> = m["deviceTokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    assert_eq!(hints.len(), 2);
    assert!(
        hints.iter().all(|h| !h.contains("tok-1") || h.len() < 6),
        "{hints:?}"
    );
}

async fn a_token_removed_before_its_retry_is_not_sent_to(app: TestApp) {
    let rx = Receiver::start().await;
    integration(
        &app,
        "push-webhook",
        "push",
        json!({"webhookUrl": rx.url("/push"), "secretKey": "k"}),
    )
    .await;
    subscriber_with(
        &app,
        "ada",
        "push-webhook",
        json!({"deviceTokens": ["keep", "gone"]}),
    )
    .await;
    workflow(&app, "p", json!([push_step("t", "b")])).await;
    let later = || Answer::new(503, "busy").header("retry-after", "3600");
    rx.script("/push", [later(), later()]);
    trigger(&app, json!({"name": "p", "to": "ada"})).await;
    app.deliver().await;
    assert_eq!(
        rx.at("/push").len(),
        2,
        "both tokens tried once, retries an hour away"
    );
    let res = app
        .put(
            "/v1/subscribers/ada/credentials",
            json!({"providerId": "push-webhook", "credentials": {"deviceTokens": ["keep"]}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let in_two_hours =
        herald_core::Timestamp::from_millis(herald_core::Timestamp::now().millis() + 2 * 3_600_000);
    app.worker().run_until_idle_at(Some(in_two_hours)).await;
    let got = rx.at("/push");
    assert_eq!(got.len(), 3, "only the token still registered is retried");
    assert_eq!(got[2].json()["target"], json!(["keep"]));
    let m = &messages(&app, "").await["data"][0];
    assert_eq!(m["status"], "sent", "{m}");
    let nid = m["_notificationId"].as_str().unwrap();
    let ed = app
        .get(&format!(
            "/v1/execution-details?notificationId={nid}&subscriberId=ada"
        ))
        .await;
    assert!(ed
        .text
        .contains("The device token was removed before the message could be sent"));
}

async fn chat_channel_without_webhook_url_gets_novus_warning(app: TestApp) {
    integration(&app, "slack", "chat", json!({})).await;
    subscriber_with(&app, "ada", "slack", json!({"channel": "general"})).await;
    workflow(&app, "wf", json!([chat_step("hi")])).await;
    trigger(&app, json!({"name": "wf", "to": "ada"})).await;
    app.deliver().await;
    let m = &messages(&app, "").await["data"][0];
    assert_eq!(m["status"], "warning");
    assert_eq!(m["errorId"], "no_subscriber_chat_channel_id");
    assert_eq!(
        m["errorText"],
        "Subscriber does not have active chat channel id"
    );
}

async fn a_subscriber_without_channels_gets_an_execution_detail_and_no_message(app: TestApp) {
    integration(&app, "slack", "chat", json!({})).await;
    app.create_subscriber(json!({"subscriberId": "lonely"}))
        .await;
    workflow(&app, "wf", json!([chat_step("hi")])).await;
    let tx = trigger(&app, json!({"name": "wf", "to": "lonely"})).await["transactionId"].clone();
    app.deliver().await;
    assert_eq!(messages(&app, "").await["totalCount"], 0);
    let n = app
        .get(&format!(
            "/v1/notifications?transactionId={}",
            tx.as_str().unwrap()
        ))
        .await;
    let job = &n.body["data"][0]["jobs"][0];
    assert_eq!(job["status"], "failed");
    assert_eq!(
        job["providerId"], "slack",
        "labelled with the environment's chat integration"
    );
    assert_eq!(
        job["executionDetails"][0]["detail"],
        "Subscriber does not have a configured channel"
    );
}

async fn a_template_error_is_recorded_not_sent(app: TestApp) {
    let rx = Receiver::start().await;
    slack_setup(&app, &rx, "{{nohelper payload.x}}").await;
    let tx =
        trigger(&app, json!({"name": "order-shipped", "to": "ada"})).await["transactionId"].clone();
    app.deliver().await;
    assert!(rx.received().is_empty());
    let n = app
        .get(&format!(
            "/v1/notifications?transactionId={}",
            tx.as_str().unwrap()
        ))
        .await;
    let d = &n.body["data"][0]["jobs"][0]["executionDetails"][0];
    assert_eq!(d["detail"], "Message content could not be generated");
    assert!(d["raw"].as_str().unwrap().contains("nohelper"), "{d}");
}

async fn overrides_of_both_sdk_shapes_reach_the_provider(app: TestApp) {
    let rx = Receiver::start().await;
    slack_setup(&app, &rx, "hello").await;
    trigger(
        &app,
        json!({"name": "order-shipped", "to": "ada", "overrides": {
            "chat": {"icon_emoji": ":a:", "username": "chat"},
            "slack": {"username": "v1"},
            "providers": {"slack": {"unfurl_links": false}},
            "steps": {"chat-step": {"providers": {"slack": {"text": "from step"}}}},
        }}),
    )
    .await;
    app.deliver().await;
    assert_eq!(
        rx.at("/slack/ada")[0].json(),
        json!({"text": "from step", "icon_emoji": ":a:", "username": "v1", "unfurl_links": false})
    );
}

async fn topic_fan_out_reaches_each_member_once_minus_the_excluded_and_the_actor(app: TestApp) {
    let rx = Receiver::start().await;
    integration(&app, "slack", "chat", json!({})).await;
    let members: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    for m in &members {
        subscriber_with(
            &app,
            m,
            "slack",
            json!({"webhookUrl": rx.url(&format!("/slack/{m}"))}),
        )
        .await;
    }
    let res = app
        .post(
            "/v1/topics/team/subscribers",
            json!({"subscribers": members}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    workflow(&app, "wf", json!([chat_step("hi {{actor.subscriberId}}")])).await;
    trigger(
        &app,
        json!({"name": "wf", "actor": "m0",
               "to": ["m1", {"type": "Topic", "topicKey": "team", "exclude": ["m2"]}]}),
    )
    .await;
    app.deliver().await;
    let mut reached: Vec<String> = rx
        .received()
        .iter()
        .map(|r| r.path.trim_start_matches("/slack/").to_string())
        .collect();
    reached.sort();
    let mut expected: Vec<String> = members
        .iter()
        .filter(|m| *m != "m0" && *m != "m2")
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(reached, expected);
    assert!(rx.received().iter().all(|r| r.json()["text"] == "hi m0"));
}

async fn an_unknown_topic_is_a_404_and_nothing_is_accepted(app: TestApp) {
    workflow(&app, "wf", json!([chat_step("hi")])).await;
    let res = app
        .post(
            "/v1/events/trigger",
            json!({"name": "wf", "to": {"type": "Topic", "topicKey": "nope"}}),
        )
        .await;
    res.assert_not_found("Topic with key nope not found in current environment");
}

async fn inline_subscribers_are_created_with_their_channels_and_reached(app: TestApp) {
    let rx = Receiver::start().await;
    integration(&app, "slack", "chat", json!({})).await;
    workflow(&app, "wf", json!([chat_step("hi {{subscriber.email}}")])).await;
    trigger(
        &app,
        json!({"name": "wf", "to": [{"subscriberId": "new", "email": "new@example.com",
            "channels": [{"providerId": "slack", "credentials": {"webhookUrl": rx.url("/n")}}]}]}),
    )
    .await;
    let s = app.subscriber("new").await;
    assert_eq!(s["email"], "new@example.com");
    app.deliver().await;
    assert_eq!(rx.at("/n")[0].json()["text"], "hi new@example.com");
}

async fn a_plain_id_of_an_unknown_subscriber_creates_it(app: TestApp) {
    integration(&app, "slack", "chat", json!({})).await;
    workflow(&app, "wf", json!([chat_step("hi")])).await;
    trigger(&app, json!({"name": "wf", "to": "ghost"})).await;
    let s = app.get("/v1/subscribers/ghost").await;
    assert_eq!(s.status, 200, "{}", s.text);
}

backend_tests!(
    a_trigger_sends_the_rendered_chat_message_to_the_subscribers_webhook,
    a_transient_failure_is_retried_until_it_succeeds,
    attempts_are_bounded_and_the_message_ends_in_error,
    a_permanent_failure_is_not_retried,
    a_retry_after_longer_than_now_leaves_the_message_waiting,
    a_destination_outside_the_outbound_policy_is_refused_and_never_reached,
    push_webhook_gets_one_signed_request_per_token,
    a_token_removed_before_its_retry_is_not_sent_to,
    chat_channel_without_webhook_url_gets_novus_warning,
    a_subscriber_without_channels_gets_an_execution_detail_and_no_message,
    a_template_error_is_recorded_not_sent,
    overrides_of_both_sdk_shapes_reach_the_provider,
    topic_fan_out_reaches_each_member_once_minus_the_excluded_and_the_actor,
    an_unknown_topic_is_a_404_and_nothing_is_accepted,
    inline_subscribers_are_created_with_their_channels_and_reached,
    a_plain_id_of_an_unknown_subscriber_creates_it,
);
