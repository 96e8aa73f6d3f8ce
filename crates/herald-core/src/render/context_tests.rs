use serde_json::json;

use super::*;
use crate::render::tests::render;
use crate::subscriber::{ChannelCredentials, ChannelSettings, Profile};
use crate::{ObjectId, ProviderId, Timestamp};

fn payload() -> Map<String, Value> {
    json!({"orderId": 7, "subscriber": "from payload", "step": "from payload", "tenant": "t", "z": 1})
        .as_object()
        .cloned()
        .unwrap_or_default()
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[test]
fn v1_spreads_the_payload_and_reserved_names_override_in_place() {
    let subscriber = json!({"subscriberId": "s1", "firstName": "Ann"});
    let step = json!({"digest": false, "total_count": null});
    let actor = json!({"subscriberId": "a1"});
    let tenant = json!({"identifier": "acme"});
    let ctx = context(
        WorkflowOrigin::V1,
        &payload(),
        &subscriber,
        Some(&actor),
        Some(&tenant),
        &step,
    );
    assert_eq!(
        keys(&ctx),
        ["orderId", "subscriber", "step", "tenant", "z", "actor"]
    );
    assert_eq!(ctx["subscriber"], subscriber);
    assert_eq!(ctx["step"], step);
    assert_eq!(ctx["tenant"], tenant);
    assert_eq!(ctx["actor"], actor);
    assert_eq!(
        render(
            "{{orderId}} {{subscriber.firstName}} {{tenant.identifier}}",
            ctx
        ),
        "7 Ann acme"
    );
}

#[test]
fn v1_keeps_payload_keys_named_tenant_or_actor_when_neither_was_given() {
    let ctx = context(
        WorkflowOrigin::V1,
        &payload(),
        &json!({}),
        None,
        Some(&Value::Null),
        &json!({}),
    );
    assert_eq!(keys(&ctx), ["orderId", "subscriber", "step", "tenant", "z"]);
    assert_eq!(ctx["tenant"], "t");
}

#[test]
fn v2_namespaces_the_payload() {
    let subscriber = json!({"subscriberId": "s1"});
    let actor = json!({"subscriberId": "a1"});
    let ctx = context(
        WorkflowOrigin::V2,
        &payload(),
        &subscriber,
        Some(&actor),
        None,
        &json!({"digest": false}),
    );
    assert_eq!(keys(&ctx), ["payload", "subscriber", "actor", "step"]);
    assert_eq!(ctx["payload"], Value::Object(payload()));
    assert_eq!(
        render(
            "{{payload.orderId}}|{{orderId}}|{{payload.subscriber}}",
            ctx
        ),
        "7||from payload"
    );
}

#[test]
fn the_subscriber_context_omits_absent_fields_and_every_channel_credential() {
    let subscriber = Subscriber {
        id: ObjectId::new(),
        organization_id: ObjectId::new(),
        environment_id: ObjectId::new(),
        subscriber_id: "s1".into(),
        profile: Profile {
            first_name: Field::Value("Ann".into()),
            email: Field::Null,
            timezone: Field::Value("Europe/Paris".into()),
            data: Field::Value(json!({"plan": "pro"})),
            ..Profile::default()
        },
        channels: vec![ChannelSettings {
            provider_id: ProviderId::ALL[0],
            integration_id: ObjectId::new(),
            integration_identifier: None,
            credentials: ChannelCredentials {
                webhook_url: Some("https://hooks.example/secret".into()),
                device_tokens: Some(vec!["token-secret".into()]),
                ..ChannelCredentials::default()
            },
        }],
        is_online: None,
        last_online_at: None,
        created_at: Timestamp::from_millis(0),
        updated_at: Timestamp::from_millis(0),
        version: Some(0),
    };
    let ctx = subscriber_context(&subscriber);
    assert_eq!(
        keys(&ctx),
        [
            "_id",
            "subscriberId",
            "firstName",
            "email",
            "timezone",
            "data"
        ]
    );
    assert_eq!(ctx["_id"], subscriber.id.as_str());
    assert_eq!(ctx["email"], Value::Null);
    assert_eq!(ctx["data"]["plan"], "pro");
    let text = ctx.to_string();
    assert!(!text.contains("secret"), "{text}");
}
