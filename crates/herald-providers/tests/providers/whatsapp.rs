//! WhatsApp Business against a Graph API fake: text and template mode to the subscriber's
//! phone, and the Graph error codes by class.

use herald_core::delivery::Outcome;
use herald_core::ProviderId;
use herald_providers::MISSING_PHONE;
use serde_json::json;

use crate::fake::{Fake, Reply};
use crate::{assert_no_secret, channel, chat_to, obj, providers_at, Msg};

fn graph_error(status: u16, code: i64) -> Reply {
    Reply::new(
        status,
        json!({"error": {"message": format!("error {code}"), "type": "OAuthException", "code": code, "fbtrace_id": "A1"}})
            .to_string(),
    )
}

#[tokio::test]
async fn whatsapp_sends_text_or_a_template_to_the_subscribers_phone() {
    let fake = Fake::start().await;
    fake.reply(Reply::new(200, r#"{"messaging_product":"whatsapp","contacts":[{"input":"+15550100","wa_id":"15550100"}],"messages":[{"id":"wamid.HBgL"}]}"#));
    let p = providers_at(&[(ProviderId::WhatsAppBusiness, &fake.url(""))]);
    let integration = obj(
        json!({"apiToken": "EAAG-graph-token", "phoneNumberIdentification": "106540352242922"}),
    );
    let ch = channel(None, None);
    let a = chat_to(
        &p,
        ProviderId::WhatsAppBusiness,
        &integration,
        &ch,
        Some("+15550100"),
        &Msg::text("Your code is 1234"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Delivered);
    assert_eq!(a.provider_message_id.as_deref(), Some("wamid.HBgL"));
    let req = fake.take_one();
    assert_eq!(req.path, "/v18.0/106540352242922/messages");
    assert_eq!(req.header("authorization"), Some("Bearer EAAG-graph-token"));
    assert_eq!(
        req.json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+15550100",
               "type": "text", "text": {"body": "Your code is 1234", "preview_url": false}})
    );
    let template = json!({"name": "order_update", "language": {"code": "en_US"}, "components": []});
    let msg = Msg::text("ignored").with_overrides(json!({ "template": template }));
    chat_to(
        &p,
        ProviderId::WhatsAppBusiness,
        &integration,
        &ch,
        Some("+15550100"),
        &msg,
    )
    .await;
    assert_eq!(
        fake.take_one().json(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "+15550100",
               "type": "template", "template": template})
    );
    assert_no_secret(&a, &["EAAG-graph-token"]);
}

#[tokio::test]
async fn graph_error_codes_fall_into_their_classes() {
    let fake = Fake::start().await;
    let p = providers_at(&[(ProviderId::WhatsAppBusiness, &fake.url(""))]);
    let integration =
        obj(json!({"apiToken": "EAAG-graph-token", "phoneNumberIdentification": "1065"}));
    let ch = channel(None, None);
    let cases = [
        (graph_error(401, 190), Outcome::CredentialInvalid),
        (graph_error(403, 200), Outcome::CredentialInvalid),
        (graph_error(400, 133010), Outcome::CredentialInvalid),
        (
            graph_error(429, 130429).header("retry-after", "60"),
            Outcome::Retry {
                after: Some(std::time::Duration::from_secs(60)),
            },
        ),
        (graph_error(400, 131056), Outcome::Retry { after: None }),
        (graph_error(500, 131000), Outcome::Retry { after: None }),
        (graph_error(400, 131026), Outcome::Rejected),
        (graph_error(400, 131047), Outcome::Rejected),
        (graph_error(400, 100), Outcome::Rejected),
        (
            Reply::new(503, "unavailable"),
            Outcome::Retry { after: None },
        ),
    ];
    for (reply, outcome) in cases {
        fake.reply(reply);
        let a = chat_to(
            &p,
            ProviderId::WhatsAppBusiness,
            &integration,
            &ch,
            Some("+15550100"),
            &Msg::text("x"),
        )
        .await;
        assert_eq!(a.outcome, outcome, "{}", a.detail);
    }
    fake.reply(graph_error(400, 131026));
    let a = chat_to(
        &p,
        ProviderId::WhatsAppBusiness,
        &integration,
        &ch,
        Some("+15550100"),
        &Msg::text("x"),
    )
    .await;
    assert_eq!(
        a.detail,
        "WhatsApp answered HTTP 400: error 131026 (code 131026)"
    );
    assert_eq!(a.provider_code.as_deref(), Some("131026"));
    let a = chat_to(
        &p,
        ProviderId::WhatsAppBusiness,
        &integration,
        &ch,
        None,
        &Msg::text("x"),
    )
    .await;
    assert_eq!(a.outcome, Outcome::Rejected);
    assert_eq!(a.detail, MISSING_PHONE);
    assert_eq!(fake.take_all().len(), 11, "no request without a phone");
}
