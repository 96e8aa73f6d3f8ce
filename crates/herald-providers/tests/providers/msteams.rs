//! Microsoft Teams against a fake: JSON content as is, `{text}` for connector URLs, the
//! adaptive-card envelope for Workflows hosts (a Workflows name mapped to the fake, no DNS),
//! any 2xx accepted, and the legacy "200 with a failure text".

use std::time::Duration;

use herald_core::delivery::Outcome;
use herald_core::ProviderId;

use crate::fake::{Fake, Reply};
use crate::{providers, providers_with, send_chat, Msg};

const WORKFLOWS_HOST: &str = "prod-01.westeurope.logic.azure.com";

#[tokio::test]
async fn teams_sends_json_object_content_byte_for_byte() {
    let fake = Fake::start().await;
    let card = "{ \"type\":\"message\",\n  \"attachments\": [ {\"contentType\":\"application/vnd.microsoft.card.adaptive\"} ] }";
    fake.reply(Reply::new(200, "1").header("request-id", "rq-1"));
    let a = send_chat(
        &providers(),
        ProviderId::MsTeams,
        &fake.url("/webhookb2/abc"),
        None,
        &Msg::text(card),
    )
    .await;
    let req = fake.take_one();
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, "/webhookb2/abc");
    assert_eq!(req.header("content-type"), Some("application/json"));
    assert_eq!(req.body_text(), card);
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("rq-1"));
}

#[tokio::test]
async fn teams_sends_plain_text_as_text_to_connector_urls() {
    let fake = Fake::start().await;
    // JSON that is not an object is text too.
    for content in ["Build **green**", "42", "[1,2]", "\"quoted\""] {
        send_chat(
            &providers(),
            ProviderId::MsTeams,
            &fake.url("/webhookb2/x"),
            None,
            &Msg::text(content),
        )
        .await;
        let body: serde_json::Value = serde_json::from_slice(&fake.take_one().body).unwrap();
        assert_eq!(body, serde_json::json!({"text": content}));
    }
}

#[tokio::test]
async fn teams_wraps_plain_text_in_an_adaptive_card_for_workflows_hosts() {
    let fake = Fake::start().await;
    let p = providers_with(&["127.0.0.1"], &[(WORKFLOWS_HOST, &["127.0.0.1"])]);
    fake.reply(Reply::new(202, "").header("x-ms-workflow-run-id", "08584700000000000000"));
    let url = format!(
        "http://{WORKFLOWS_HOST}:{}/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=SECRET",
        fake.addr.port()
    );
    let a = send_chat(
        &p,
        ProviderId::MsTeams,
        &url,
        None,
        &Msg::text("Disk \"full\""),
    )
    .await;
    let req = fake.take_one();
    assert_eq!(req.path, "/workflows/abc/triggers/manual/paths/invoke");
    assert_eq!(
        req.query.as_deref(),
        Some("api-version=2016-06-01&sig=SECRET")
    );
    assert_eq!(
        req.body_text(),
        concat!(
            r#"{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null,"#,
            r#""content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","#,
            r#""body":[{"type":"TextBlock","text":"Disk \"full\"","wrap":true}]}}]}"#
        )
    );
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.http_status, Some(202));
    assert_eq!(
        a.provider_message_id.as_deref(),
        Some("08584700000000000000")
    );
}

#[tokio::test]
async fn a_legacy_200_reporting_a_failed_delivery_is_not_delivered() {
    let fake = Fake::start().await;
    let p = providers();
    let report = |status: u16| {
        format!("Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error {status} with ContextId tcid=0,server=msgapi-production-weu-azsc2-1-41,cv=abc.0.")
    };
    for (inner, outcome) in [
        (400, Outcome::Rejected),
        (413, Outcome::Rejected),
        (404, Outcome::TokenDead),
        (410, Outcome::TokenDead),
        (429, Outcome::Retry { after: None }),
        (502, Outcome::Retry { after: None }),
    ] {
        fake.reply(Reply::new(200, report(inner)));
        let a = send_chat(
            &p,
            ProviderId::MsTeams,
            &fake.url("/webhookb2/x"),
            None,
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, outcome, "{inner}");
        assert_eq!(a.http_status, Some(200));
        assert_eq!(a.provider_code, Some(inner.to_string()));
        assert!(
            a.detail.starts_with(
                "Teams answered HTTP 200 reporting a failure: Webhook message delivery failed"
            ),
            "{}",
            a.detail
        );
    }
}

#[tokio::test]
async fn teams_workflows_errors_fall_into_their_classes() {
    let fake = Fake::start().await;
    let p = providers_with(&["127.0.0.1"], &[(WORKFLOWS_HOST, &["127.0.0.1"])]);
    let url = format!("http://{WORKFLOWS_HOST}:{}/workflows/abc", fake.addr.port());
    let logic_error =
        |code: &str| format!(r#"{{"error":{{"code":"{code}","message":"The request failed."}}}}"#);
    let cases = [
        (
            404,
            logic_error("WorkflowNotFound"),
            Outcome::TokenDead,
            Some("WorkflowNotFound"),
        ),
        (410, String::new(), Outcome::TokenDead, None),
        (
            401,
            logic_error("DirectApiAuthorizationRequired"),
            Outcome::Rejected,
            Some("DirectApiAuthorizationRequired"),
        ),
        (403, String::new(), Outcome::Rejected, None),
        (
            400,
            logic_error("InvalidRequestContent"),
            Outcome::Rejected,
            Some("InvalidRequestContent"),
        ),
        (413, String::new(), Outcome::Rejected, None),
        (500, String::new(), Outcome::Retry { after: None }, None),
        (503, String::new(), Outcome::Retry { after: None }, None),
    ];
    for (status, body, outcome, code) in cases {
        fake.reply(Reply::new(status, body));
        let a = send_chat(&p, ProviderId::MsTeams, &url, None, &Msg::text("x")).await;
        assert_eq!(a.outcome, outcome, "{status}");
        assert_eq!(a.provider_code.as_deref(), code, "{status}");
    }
    fake.reply(
        Reply::new(429, logic_error("WorkflowRequestsThrottled")).header("retry-after", "10"),
    );
    let a = send_chat(&p, ProviderId::MsTeams, &url, None, &Msg::text("x")).await;
    assert_eq!(
        a.outcome,
        Outcome::Retry {
            after: Some(Duration::from_secs(10))
        }
    );
    assert_eq!(a.detail, "Teams answered HTTP 429: The request failed.");
    // A Workflows 200 is taken as delivered whatever its body says.
    fake.reply(Reply::new(200, "delivery failed: HTTP error 400"));
    let a = send_chat(&p, ProviderId::MsTeams, &url, None, &Msg::text("x")).await;
    assert_eq!(a.outcome, Outcome::Delivered);
}
