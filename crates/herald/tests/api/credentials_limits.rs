//! What Herald refuses or guarantees beyond Novu for credentials: known provider ids only
//! (deliberate difference 3), at most 100 device tokens per channel (difference 4), and appends
//! that never lose a token under concurrency.

use serde_json::{json, Value};
use tokio::task::JoinSet;

use crate::helpers::{channel, TestApp};

backend_tests!(
    an_unknown_provider_id_is_400_listing_the_known_ones,
    more_than_100_device_tokens_are_refused_and_nothing_is_stored,
    an_append_past_100_device_tokens_is_refused_and_nothing_is_stored,
    fifty_concurrent_patches_keep_all_fifty_tokens,
    credential_fields_must_be_strings_and_tokens_a_string_array,
);

const PATH: &str = "/v1/subscribers/s1/credentials";

const PROVIDERS: &str = "slack, discord, msteams, webex-messaging, mattermost, ryver, zulip, \
    grafana-on-call, getstream, rocket-chat, whatsapp-business, line, chat-webhook, novu-slack, \
    telegram, sendblue, novu-web-chat, fcm, apns, expo, one-signal, pushpad, push-webhook, \
    pusher-beams, appio";

async fn an_unknown_provider_id_is_400_listing_the_known_ones(app: TestApp) {
    app.spec_fixture().await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let message = format!("providerId must be one of the following values: {PROVIDERS}");
    for body in [
        json!({"providerId": "sendgrid", "credentials": {"webhookUrl": "u"}}),
        json!({"providerId": "Slack", "credentials": {}}),
    ] {
        app.put(PATH, body.clone())
            .await
            .assert_validation(&[&message]);
        app.patch(PATH, body).await.assert_validation(&[&message]);
    }
    assert_eq!(app.subscriber("s1").await["channels"], json!([]));
}

fn tokens(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("token-{i:03}")).collect()
}

fn fcm(tokens: &[String]) -> Value {
    json!({"providerId": "fcm", "credentials": {"deviceTokens": tokens}})
}

async fn more_than_100_device_tokens_are_refused_and_nothing_is_stored(app: TestApp) {
    app.spec_fixture().await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let message = "credentials.deviceTokens must contain no more than 100 elements";
    app.put(PATH, fcm(&tokens(0..101)))
        .await
        .assert_validation(&[message]);
    app.patch(PATH, fcm(&tokens(0..101)))
        .await
        .assert_validation(&[message]);
    assert_eq!(app.subscriber("s1").await["channels"], json!([]));

    // Exactly 100 is fine; duplicates count once.
    let mut hundred = tokens(0..100);
    hundred.push("token-000".into());
    let res = app.put(PATH, fcm(&hundred)).await;
    assert_eq!(res.status, 200, "{}", res.text);
    let stored = &channel(res.data(), "fcm")["credentials"]["deviceTokens"];
    assert_eq!(stored.as_array().map(Vec::len), Some(100));
}

async fn an_append_past_100_device_tokens_is_refused_and_nothing_is_stored(app: TestApp) {
    app.spec_fixture().await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let res = app.put(PATH, fcm(&tokens(0..60))).await;
    assert_eq!(res.status, 200, "{}", res.text);

    let res = app.patch(PATH, fcm(&tokens(50..110))).await;
    res.assert_validation(&[
        "credentials.deviceTokens: a channel can hold at most 100 device tokens; this request would leave 110",
    ]);
    let stored = app.subscriber("s1").await;
    assert_eq!(
        channel(&stored, "fcm")["credentials"]["deviceTokens"],
        json!(tokens(0..60))
    );
    // Reaching exactly 100 by appending works.
    let res = app.patch(PATH, fcm(&tokens(40..100))).await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        channel(res.data(), "fcm")["credentials"]["deviceTokens"],
        json!(tokens(0..100))
    );
}

async fn fifty_concurrent_patches_keep_all_fifty_tokens(app: TestApp) {
    app.spec_fixture().await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    let mut tasks = JoinSet::new();
    for i in 0..50 {
        let api = app.api.clone();
        tasks.spawn(async move {
            let body =
                json!({"providerId": "fcm", "credentials": {"deviceTokens": [format!("t{i}")]}});
            api.patch(PATH, body).await
        });
    }
    while let Some(res) = tasks.join_next().await {
        let res = res.expect("task");
        assert_eq!(res.status, 200, "{}", res.text);
    }
    let s = app.subscriber("s1").await;
    let found = crate::helpers::channels(&s, "fcm");
    assert_eq!(found.len(), 1, "one fcm channel: {s}");
    let mut stored: Vec<String> = found[0]["credentials"]["deviceTokens"]
        .as_array()
        .expect("tokens")
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    stored.sort();
    let mut expected: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
    expected.sort();
    assert_eq!(stored, expected);
}

async fn credential_fields_must_be_strings_and_tokens_a_string_array(app: TestApp) {
    app.spec_fixture().await;
    app.create_subscriber(json!({"subscriberId": "s1"})).await;
    // The SDKs parse every credentials field as a string (tokens as strings): anything else
    // stored would break every later read of the subscriber.
    app.put(
        PATH,
        json!({"providerId": "slack", "credentials": {"webhookUrl": 5, "title": true}}),
    )
    .await
    .assert_validation(&[
        "credentials.webhookUrl must be a string",
        "credentials.title must be a string",
    ]);
    app.put(
        PATH,
        json!({"providerId": "fcm", "credentials": {"deviceTokens": "abc"}}),
    )
    .await
    .assert_validation(&["credentials.deviceTokens must be an array"]);
    app.patch(
        PATH,
        json!({"providerId": "fcm", "credentials": {"deviceTokens": ["a", 1]}}),
    )
    .await
    .assert_validation(&["each value in credentials.deviceTokens must be a string"]);
    assert_eq!(app.subscriber("s1").await["channels"], json!([]));
    // `null` fields are as if absent (a new channel gets only the given fields).
    let res = app
        .put(
            PATH,
            json!({"providerId": "slack", "credentials": {"webhookUrl": "u", "title": null, "deviceTokens": null}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(
        channel(res.data(), "slack")["credentials"],
        json!({"webhookUrl": "u"})
    );
}
