//! One owner per device token (`HERALD_TOKEN_OWNERSHIP`, a deliberate difference from Novu) through
//! every way of registering one, and the per-token endpoints `POST …/credentials/{providerId}/
//! device-tokens` and `…/device-tokens/removal` (Herald additions).

use herald::ServerSettings;
use serde_json::{json, Value};

use crate::helpers::{channel, Fixture, TestApp};

backend_tests!(
    put_of_a_token_another_subscriber_holds_moves_it,
    patch_create_bulk_and_trigger_move_held_tokens,
    a_token_moves_only_within_its_integration,
    the_add_endpoint_appends_tokens_and_moves_them_from_other_holders,
    the_add_endpoint_binds_the_named_integration,
    the_removal_endpoint_removes_tokens_from_every_channel_of_the_provider,
    the_device_token_endpoints_refuse_what_put_credentials_refuses,
);

backend_tests!(@with crate::device_tokens::sharing;
    with_share_ownership_both_subscribers_keep_the_token,
);

pub fn sharing(settings: &mut ServerSettings) {
    settings.token_ownership = herald_core::TokenOwnership::Share;
}

async fn setup(app: &TestApp, subscribers: &[&str]) -> Fixture {
    let fx = app.spec_fixture().await;
    for id in subscribers {
        app.create_subscriber(json!({"subscriberId": id})).await;
    }
    fx
}

fn fcm(tokens: &[&str]) -> Value {
    json!({"providerId": "fcm", "credentials": {"deviceTokens": tokens}})
}

fn credentials(id: &str) -> String {
    format!("/v1/subscribers/{id}/credentials")
}

fn add(id: &str, provider: &str) -> String {
    format!("/v1/subscribers/{id}/credentials/{provider}/device-tokens")
}

fn removal(id: &str, provider: &str) -> String {
    format!("{}/removal", add(id, provider))
}

/// The fcm channel's tokens of a subscriber as `GET` shows them.
async fn fcm_tokens(app: &TestApp, id: &str) -> Value {
    channel(&app.subscriber(id).await, "fcm")["credentials"]["deviceTokens"].clone()
}

/// Sends, asserts 200 and returns `data`.
async fn ok(res: crate::helpers::TestResponse) -> Value {
    assert_eq!(res.status, 200, "{}", res.text);
    res.data().clone()
}

async fn put_of_a_token_another_subscriber_holds_moves_it(app: TestApp) {
    setup(&app, &["s1", "s2"]).await;
    let s1 = ok(app.put(&credentials("s1"), fcm(&["a", "phone", "b"])).await).await;
    let s2 = ok(app.put(&credentials("s2"), fcm(&["phone"])).await).await;
    assert_eq!(
        channel(&s2, "fcm")["credentials"]["deviceTokens"],
        json!(["phone"])
    );
    let after = app.subscriber("s1").await;
    assert_eq!(
        channel(&after, "fcm")["credentials"]["deviceTokens"],
        json!(["a", "b"])
    );
    // ISO-8601 timestamps of one format order as strings.
    let (before, now) = (s1["updatedAt"].as_str(), after["updatedAt"].as_str());
    assert!(now >= before, "{before:?} → {now:?}");
    assert_eq!(app.subscriber("s2").await, s2);
}

async fn patch_create_bulk_and_trigger_move_held_tokens(app: TestApp) {
    setup(&app, &["s1"]).await;
    ok(app
        .put(&credentials("s1"), fcm(&["t1", "t2", "t3", "t4"]))
        .await)
    .await;
    let channels = json!([{"providerId": "fcm", "credentials": {"deviceTokens": ["t2"]}}]);

    ok(app.patch(&credentials("s1"), fcm(&["t1"])).await).await;
    app.create_subscriber(json!({"subscriberId": "s2"})).await;
    ok(app.patch(&credentials("s2"), fcm(&["t1"])).await).await;
    assert_eq!(fcm_tokens(&app, "s1").await, json!(["t2", "t3", "t4"]));

    let s3 = app
        .create_subscriber(json!({"subscriberId": "s3", "channels": channels}))
        .await;
    assert_eq!(
        channel(&s3, "fcm")["credentials"]["deviceTokens"],
        json!(["t2"])
    );
    assert_eq!(fcm_tokens(&app, "s1").await, json!(["t3", "t4"]));

    let res = app
        .post(
            "/v1/subscribers/bulk",
            json!({"subscribers": [{"subscriberId": "s4", "channels": [
                {"providerId": "fcm", "credentials": {"deviceTokens": ["t3"]}}]}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(fcm_tokens(&app, "s4").await, json!(["t3"]));
    assert_eq!(fcm_tokens(&app, "s1").await, json!(["t4"]));

    // A trigger's inline subscriber registers its channels like a create.
    let res = app
        .post(
            "/v2/workflows",
            json!({"name": "Push", "workflowId": "push", "active": true, "steps": [
                {"name": "Push", "type": "push", "controlValues": {"subject": "S", "body": "B"}}]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let res = app
        .post(
            "/v1/events/trigger",
            json!({"name": "push", "to": {"subscriberId": "s5", "channels": [
                {"providerId": "fcm", "credentials": {"deviceTokens": ["t4"]}}]}}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(fcm_tokens(&app, "s5").await, json!(["t4"]));
    assert_eq!(
        fcm_tokens(&app, "s1").await,
        json!([]),
        "the channel stays, with no token left"
    );
}

async fn a_token_moves_only_within_its_integration(app: TestApp) {
    setup(&app, &["s1", "s2"]).await;
    ok(app.put(&credentials("s1"), fcm(&["phone"])).await).await;
    // Another fcm integration, now the newest active one: s2's token binds there.
    let res = app
        .post(
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "identifier": "fcm-2", "active": true}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let s2 = ok(app.put(&credentials("s2"), fcm(&["phone"])).await).await;
    assert_eq!(channel(&s2, "fcm")["integrationIdentifier"], "fcm-2");
    assert_eq!(fcm_tokens(&app, "s1").await, json!(["phone"]));
    // The same token under another provider is another registration too.
    let body = json!({"providerId": "apns", "credentials": {"deviceTokens": ["phone"]}});
    let res = app
        .post(
            "/v1/integrations",
            json!({"providerId": "apns", "channel": "push", "active": true}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    ok(app.put(&credentials("s2"), body).await).await;
    assert_eq!(fcm_tokens(&app, "s1").await, json!(["phone"]));
}

async fn the_add_endpoint_appends_tokens_and_moves_them_from_other_holders(app: TestApp) {
    let fx = setup(&app, &["s1", "s2"]).await;
    let s1 = ok(app
        .post(&add("s1", "fcm"), json!({"deviceTokens": ["a", "b", "a"]}))
        .await)
    .await;
    assert_eq!(s1["subscriberId"], "s1");
    let c = channel(&s1, "fcm");
    assert_eq!(c["credentials"]["deviceTokens"], json!(["a", "b"]));
    assert_eq!(c["_integrationId"], json!(fx.fcm));
    let s1 = ok(app
        .post(&add("s1", "fcm"), json!({"deviceTokens": ["b", "c"]}))
        .await)
    .await;
    assert_eq!(
        channel(&s1, "fcm")["credentials"]["deviceTokens"],
        json!(["a", "b", "c"])
    );
    assert_eq!(app.subscriber("s1").await, s1);
    // Other credential fields stay as they were.
    ok(app
        .patch(
            &credentials("s2"),
            json!({"providerId": "fcm", "credentials": {"title": "S2's phone"}}),
        )
        .await)
    .await;
    let s2 = ok(app
        .post(&add("s2", "fcm"), json!({"deviceTokens": ["c"]}))
        .await)
    .await;
    let c = channel(&s2, "fcm");
    assert_eq!(
        c["credentials"],
        json!({"title": "S2's phone", "deviceTokens": ["c"]})
    );
    assert_eq!(fcm_tokens(&app, "s1").await, json!(["a", "b"]));
}

async fn the_add_endpoint_binds_the_named_integration(app: TestApp) {
    setup(&app, &["s1"]).await;
    let res = app
        .post(
            "/v1/integrations",
            json!({"providerId": "fcm", "channel": "push", "identifier": "fcm-2", "active": true}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let s1 = ok(app
        .post(
            &add("s1", "fcm"),
            json!({"deviceTokens": ["a"], "integrationIdentifier": "fcm"}),
        )
        .await)
    .await;
    assert_eq!(channel(&s1, "fcm")["integrationIdentifier"], "fcm");
    let s1 = ok(app
        .post(&add("s1", "fcm"), json!({"deviceTokens": ["b"]}))
        .await)
    .await;
    let bound: Vec<(&Value, &Value)> = s1["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                &c["integrationIdentifier"],
                &c["credentials"]["deviceTokens"],
            )
        })
        .collect();
    assert_eq!(
        bound,
        [
            (&json!("fcm"), &json!(["a"])),
            (&json!("fcm-2"), &json!(["b"]))
        ],
        "without an identifier: the newest active integration"
    );
}

async fn the_removal_endpoint_removes_tokens_from_every_channel_of_the_provider(app: TestApp) {
    setup(&app, &["s1"]).await;
    ok(app.put(&credentials("s1"), fcm(&["a", "b", "c"])).await).await;
    for provider in ["apns", "fcm"] {
        let res = app
            .post(
                "/v1/integrations",
                json!({"providerId": provider, "channel": "push", "identifier": format!("{provider}-2"), "active": true}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.text);
    }
    ok(app
        .post(&add("s1", "apns"), json!({"deviceTokens": ["b"]}))
        .await)
    .await;
    ok(app
        .post(&add("s1", "fcm"), json!({"deviceTokens": ["b"]}))
        .await)
    .await;

    let s1 = ok(app
        .post(
            &removal("s1", "fcm"),
            json!({"deviceTokens": ["b", "not-held"]}),
        )
        .await)
    .await;
    let lists: Vec<&Value> = s1["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["credentials"]["deviceTokens"])
        .collect();
    assert_eq!(
        lists,
        [&json!(["a", "c"]), &json!(["b"]), &json!([])],
        "both fcm channels lose b and stay; apns keeps it"
    );
    assert_eq!(app.subscriber("s1").await, s1);
    // Tokens not held are ignored, and nothing changes (`updatedAt` included).
    let again = ok(app
        .post(&removal("s1", "fcm"), json!({"deviceTokens": ["b", "zzz"]}))
        .await)
    .await;
    assert_eq!(again, s1);
    // A provider the subscriber has no channel for: nothing to remove.
    let s1 = ok(app
        .post(&removal("s1", "expo"), json!({"deviceTokens": ["a"]}))
        .await)
    .await;
    assert_eq!(s1, again);
}

async fn the_device_token_endpoints_refuse_what_put_credentials_refuses(app: TestApp) {
    let fx = setup(&app, &["s1"]).await;
    for path in [add("ghost", "fcm"), removal("ghost", "fcm")] {
        app.post(&path, json!({"deviceTokens": ["a"]}))
            .await
            .assert_bad_request("SubscriberId: ghost not found");
    }
    // No active integration: expo is inactive, the identifier names no fcm integration; an
    // unknown subscriber still wins, as for PUT.
    app.post(&add("s1", "expo"), json!({"deviceTokens": ["a"]}))
        .await
        .assert_bad_request(&format!(
            "Subscribers environment ({}) do not have active expo integration.",
            fx.env
        ));
    app.post(
        &add("s1", "fcm"),
        json!({"deviceTokens": ["a"], "integrationIdentifier": "slack"}),
    )
    .await
    .assert_bad_request(&format!(
        "Subscribers environment ({}) do not have active fcm integration.",
        fx.env
    ));
    app.post(&add("ghost", "expo"), json!({"deviceTokens": ["a"]}))
        .await
        .assert_bad_request("SubscriberId: ghost not found");

    let providers = "slack, discord, msteams, webex-messaging, mattermost, ryver, zulip, \
        grafana-on-call, getstream, rocket-chat, whatsapp-business, line, chat-webhook, \
        novu-slack, telegram, sendblue, novu-web-chat, fcm, apns, expo, one-signal, pushpad, \
        push-webhook, pusher-beams, appio";
    let unknown = format!("providerId must be one of the following values: {providers}");
    for path in [add("s1", "sendgrid"), removal("s1", "sendgrid")] {
        app.post(&path, json!({"deviceTokens": ["a"]}))
            .await
            .assert_validation(&[&unknown]);
        app.post(&path, json!({})).await.assert_validation(&[
            &unknown,
            "deviceTokens should not be null or undefined",
            "deviceTokens must be an array",
        ]);
    }
    let many: Vec<String> = (0..101).map(|i| format!("t{i:03}")).collect();
    for path in [add("s1", "fcm"), removal("s1", "fcm")] {
        app.post(&path, json!({"deviceTokens": []}))
            .await
            .assert_validation(&["deviceTokens should not be empty"]);
        app.post(&path, json!({"deviceTokens": ["a", 7, "x".repeat(2049)]}))
            .await
            .assert_validation(&[
                "each value in deviceTokens must be a string",
                "each value in deviceTokens must be shorter than or equal to 2048 characters",
            ]);
        app.post(&path, json!({"deviceTokens": many}))
            .await
            .assert_validation(&["deviceTokens must contain no more than 100 elements"]);
    }
    // The limit holds for what the channel would end with, as for PATCH.
    ok(app
        .post(&add("s1", "fcm"), json!({"deviceTokens": &many[..60]}))
        .await)
    .await;
    app.post(&add("s1", "fcm"), json!({"deviceTokens": &many[50..]}))
        .await
        .assert_validation(&[
            "credentials.deviceTokens: a channel can hold at most 100 device tokens; this request would leave 101",
        ]);
    assert_eq!(fcm_tokens(&app, "s1").await, json!(&many[..60]));
}

async fn with_share_ownership_both_subscribers_keep_the_token(app: TestApp) {
    setup(&app, &["s1", "s2"]).await;
    let s1 = ok(app.put(&credentials("s1"), fcm(&["phone"])).await).await;
    ok(app.patch(&credentials("s2"), fcm(&["phone"])).await).await;
    ok(app
        .post(
            &add("s2", "fcm"),
            json!({"deviceTokens": ["phone", "other"]}),
        )
        .await)
    .await;
    let s3 = app
        .create_subscriber(json!({"subscriberId": "s3", "channels": [
            {"providerId": "fcm", "credentials": {"deviceTokens": ["phone"]}}]}))
        .await;
    assert_eq!(
        channel(&s3, "fcm")["credentials"]["deviceTokens"],
        json!(["phone"])
    );
    assert_eq!(app.subscriber("s1").await, s1, "s1 is untouched");
    assert_eq!(fcm_tokens(&app, "s2").await, json!(["phone", "other"]));
}
