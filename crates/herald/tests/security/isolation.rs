//! Tenant isolation: a key of one environment can neither read, list, change nor delete another
//! environment's subscribers, credentials, integrations, topics, topic memberships, workflows or
//! notification groups. Every route of [`ROUTES`] is tried with the intruder's key against the
//! owner's data; each answers as if that data did not exist (the message Herald gives for a
//! missing resource), lists hold only the intruder's items, creating an id or key the owner uses
//! makes the intruder's own, and the owner's snapshot is unchanged afterwards. A revoked key is
//! refused on every route.
//!
//! One route writes into another environment by design: `PUT /v2/workflows/{id}/sync` copies a
//! workflow of the key's own environment into another environment of the organization. It
//! cannot read or copy another environment's workflow, which is what is checked here.

use std::time::Duration;

use herald::ServerSettings;
use herald_core::tenancy::key_hint;
use herald_core::KeyHash;
use reqwest::Method;
use serde_json::{json, Value};

use crate::routes::{sample_body, Target, ROUTES};
use crate::support::{snapshot, Api, App, Backend};

both_backends!(
    a_production_key_cannot_reach_development_data,
    a_development_key_cannot_reach_production_data,
    the_same_ids_and_keys_in_two_environments_stay_apart,
    a_revoked_key_is_401_on_every_route,
);

/// What the owner environment holds, as created through the API.
struct Owned {
    env: String,
    fcm_id: String,
    slack_id: String,
    /// `subscriberId` → `_id` of alice (with fcm and slack credentials), bob, carol, dave and erin.
    subscribers: Vec<(String, String)>,
    /// `key` → `_id` of `news` (v1; alice and bob) and `alerts` (v2, with data; alice and dave).
    topics: Vec<(String, String)>,
    /// `_id` of every subscription of the owner's topics.
    subscriptions: Vec<String>,
    /// The v1 workflow "Owner flow" (identifier `owner-flow`) and the v2 workflow `owner.v2`:
    /// `(identifier, _id, slug)` each.
    workflows: Vec<(String, String, String)>,
    /// `_id` of the owner's notification group `Owners`.
    group: String,
    /// The owner's trigger of `owner.v2` to alice (`owner-tx`), delivered: its message's and its
    /// notification's `_id`.
    message: String,
    notification: String,
}

impl Owned {
    fn id_of(&self, subscriber: &str) -> &str {
        &self
            .subscribers
            .iter()
            .find(|(s, _)| s == subscriber)
            .expect("an owned subscriber")
            .1
    }

    fn topic_ids(&self) -> Vec<&str> {
        self.topics.iter().map(|(_, id)| id.as_str()).collect()
    }

    fn topic_id(&self, key: &str) -> &str {
        &self
            .topics
            .iter()
            .find(|(k, _)| k == key)
            .expect("an owned topic")
            .1
    }
}

async fn created(api: &Api, path: &str, body: Value) -> Value {
    let res = api.post(path, body).await;
    res.data(201).clone()
}

/// Integrations `fcm-main` and `slack-main`, subscribers alice (a device token and a webhook URL),
/// bob, carol, dave and erin, topic `news` (v1: alice, bob) and topic `alerts` (v2, with data:
/// alice, dave). The intruder's attempts create its own carol, dave and erin, never alice or bob.
async fn seed_owner(app: &App, api: &Api) -> Owned {
    let fcm = created(
        api,
        "/v1/integrations",
        json!({"providerId": "fcm", "channel": "push", "identifier": "fcm-main", "active": true}),
    )
    .await;
    let slack = created(
        api,
        "/v1/integrations",
        json!({"providerId": "slack", "channel": "chat", "identifier": "slack-main", "active": true}),
    )
    .await;
    let mut subscribers = Vec::new();
    // `bulk` and `removal` are also static path segments (see the aliases in `ROUTES`).
    for id in ["alice", "bob", "carol", "dave", "erin", "bulk", "removal"] {
        let s = created(
            api,
            "/v1/subscribers",
            json!({"subscriberId": id, "firstName": id, "email": format!("{id}@example.com")}),
        )
        .await;
        subscribers.push((id.to_string(), s["_id"].as_str().expect("_id").to_string()));
    }
    let path = "/v1/subscribers/alice/credentials";
    let res = api
        .put(
            path,
            json!({"providerId": "fcm", "credentials": {"deviceTokens": ["alice-phone"]}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = api
        .put(
            path,
            json!({"providerId": "slack", "credentials": {"webhookUrl": "https://hooks.example.com/alice"}}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);

    let news = created(api, "/v1/topics", json!({"key": "news", "name": "News"})).await;
    let res = api
        .post(
            "/v1/topics/news/subscribers",
            json!({"subscribers": ["alice", "bob"]}),
        )
        .await;
    assert_eq!(
        res.data(200),
        &json!({"succeeded": ["alice", "bob"]}),
        "{}",
        res.text
    );
    let res = api
        .post(
            "/v1/topics/news/subscribers",
            json!({"subscribers": ["removal"]}),
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.text);
    let alerts = created(
        api,
        "/v2/topics",
        json!({"key": "alerts", "name": "Alerts", "data": {"tier": "gold"}}),
    )
    .await;
    let res = api
        .post(
            "/v2/topics/alerts/subscriptions",
            json!({"subscriberIds": ["alice", "dave"]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    let mut subscriptions = Vec::new();
    for key in ["news", "alerts"] {
        let res = api
            .get(&format!("/v2/topics/{key}/subscriptions?limit=100"))
            .await;
        assert_eq!(res.status, 200, "{}", res.text);
        for s in res.body["data"].as_array().expect("data") {
            subscriptions.push(s["_id"].as_str().expect("_id").to_string());
        }
    }
    assert_eq!(subscriptions.len(), 5);
    let general = api.get("/v1/notification-groups").await;
    let general = general.data(200)[0]["_id"]
        .as_str()
        .expect("_id")
        .to_string();
    let group = created(api, "/v1/notification-groups", json!({"name": "Owners"})).await;
    let v1 = created(
        api,
        "/v1/workflows",
        json!({"name": "Owner flow", "notificationGroupId": general, "active": true,
               "steps": [{"template": {"type": "chat", "content": "secret {{orderId}}"}}]}),
    )
    .await;
    let v2 = created(
        api,
        "/v2/workflows",
        json!({"name": "Owner v2", "workflowId": "owner.v2", "active": true,
               "steps": [{"name": "Push", "type": "push", "controlValues": {"subject": "s", "body": "b"}}]}),
    )
    .await;
    let mut workflows = Vec::new();
    for (identifier, w) in [("owner-flow", &v1), ("owner.v2", &v2)] {
        let id = w["_id"].as_str().expect("_id").to_string();
        let res = api.get(&format!("/v2/workflows/{id}")).await;
        let slug = res.data(200)["slug"].as_str().expect("slug").to_string();
        workflows.push((identifier.to_string(), id, slug));
    }
    assert_eq!(v1["triggers"][0]["identifier"], "owner-flow");
    // A delivered trigger: its push to alice's fcm token fails without network (the integration
    // has no service account), which leaves a message, a notification and execution details.
    let res = api
        .post(
            "/v1/events/trigger",
            json!({"name": "owner.v2", "to": "alice", "transactionId": "owner-tx",
                   "payload": {"secret": "owner"}}),
        )
        .await;
    assert_eq!(res.data(201)["status"], "processed");
    app.deliver().await;
    let messages = api.get("/v1/messages?transactionId=owner-tx").await;
    assert_eq!(messages.status, 200, "{}", messages.text);
    let message = &messages.body["data"][0];
    assert_eq!(
        message["errorText"], "Config is not valid for fcm",
        "{message}"
    );
    Owned {
        message: message["_id"].as_str().expect("_id").to_string(),
        notification: message["_notificationId"]
            .as_str()
            .expect("_id")
            .to_string(),
        env: fcm["_environmentId"].as_str().expect("env").to_string(),
        fcm_id: fcm["_id"].as_str().expect("_id").to_string(),
        slack_id: slack["_id"].as_str().expect("_id").to_string(),
        subscribers,
        topics: vec![
            ("news".into(), news["_id"].as_str().expect("_id").into()),
            ("alerts".into(), alerts["_id"].as_str().expect("_id").into()),
        ],
        subscriptions,
        workflows,
        group: group["_id"].as_str().expect("_id").to_string(),
    }
}

/// The intruder's own data (an active fcm integration, subscriber mallory, topic `gossip` with
/// mallory), so that its writes reach the store rather than stopping at "no integration" and its
/// lists are not empty, and its environment id.
async fn seed_intruder(api: &Api) -> String {
    let fcm = created(
        api,
        "/v1/integrations",
        json!({"providerId": "fcm", "channel": "push", "identifier": "fcm-intruder", "active": true}),
    )
    .await;
    created(
        api,
        "/v1/subscribers",
        json!({"subscriberId": "mallory", "firstName": "Mallory", "email": "mallory@example.com"}),
    )
    .await;
    let res = api
        .post(
            "/v2/topics/gossip/subscriptions",
            json!({"subscriberIds": ["mallory"]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    fcm["_environmentId"].as_str().expect("env").to_string()
}

/// Tries every route with `intruder` against `owner`'s data and checks the owner sees no change.
async fn assert_isolated(app: &App, owner: &Api, intruder: &Api) {
    let owned = seed_owner(app, owner).await;
    let intruder_env = seed_intruder(intruder).await;
    let before = snapshot(owner).await;
    let intruder_before = snapshot(intruder).await;
    for (method, template) in ROUTES {
        attempt(intruder, method, template, &owned, &intruder_env).await;
    }
    assert_eq!(
        snapshot(owner).await,
        before,
        "the owner's data changed through another environment's key"
    );
    // The attempts that create topics in the intruder's environment remove them again, so its
    // topics are as seeded (the subscribers and integrations it created remain).
    assert_eq!(
        snapshot(intruder).await["topics"],
        intruder_before["topics"]
    );
}

/// Everything a list answer holds belongs to the intruder's environment.
fn assert_only_own(items: &Value, intruder_env: &str, foreign_ids: &[&str]) {
    for item in items.as_array().expect("a list") {
        assert_eq!(item["_environmentId"], json!(intruder_env), "{item}");
        assert_not_foreign(item, foreign_ids);
    }
}

/// An item that is none of the owner's.
fn assert_not_foreign(item: &Value, foreign_ids: &[&str]) {
    assert!(
        !foreign_ids.contains(&item["_id"].as_str().unwrap_or_default()),
        "another environment's item listed: {item}"
    );
}

/// A list answer (`data` of a v2 list) without any of the owner's items.
fn assert_none_foreign(items: &Value, foreign_ids: &[&str]) {
    for item in items.as_array().expect("a list") {
        assert_not_foreign(item, foreign_ids);
    }
}

/// A subscriber the intruder just created is its own, not the owner's of the same id.
fn assert_new_own_subscriber(data: &Value, owned: &Owned, intruder_env: &str) {
    let id = data["subscriberId"].as_str().expect("subscriberId");
    assert_ne!(data["_id"], json!(owned.id_of(id)), "{data}");
    assert_eq!(data["_environmentId"], json!(intruder_env), "{data}");
}

/// The answer to a list with no items.
fn empty_cursor_list() -> Value {
    json!({"data": [], "next": null, "previous": null, "totalCount": 0, "totalCountCapped": false})
}

/// A key that exists in no environment.
const ABSENT_KEY: &str = "absent-4f1c";

/// The intruder's answer about the owner's `key` is the answer it gets for a key that exists
/// nowhere (the same status, and the same body once the key is swapped and the timestamp
/// dropped): the route tells nothing about what another environment holds, whatever the route
/// answers for a missing topic.
async fn assert_answers_as_if_absent(
    intruder: &Api,
    method: &str,
    path: &dyn Fn(&str) -> String,
    key: &str,
    body: &Value,
) {
    let method = http_method(method);
    let answer = |res: crate::support::Res, swap: bool| {
        let text = if swap {
            res.text.replace(ABSENT_KEY, key)
        } else {
            res.text.clone()
        };
        let mut body: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if let Some(obj) = body.as_object_mut() {
            obj.remove("timestamp");
        }
        assert!(res.status < 500, "{method} {}: {}", path(key), res.brief());
        (res.status, body)
    };
    let owners = answer(intruder.call(method.clone(), &path(key), body).await, false);
    let absent = answer(
        intruder.call(method.clone(), &path(ABSENT_KEY), body).await,
        true,
    );
    assert_eq!(owners, absent, "{method} {}", path(key));
}

/// Removes a topic the intruder made in its own environment during an attempt.
async fn remove_own_topic(intruder: &Api, key: &str) {
    let res = intruder.delete(&format!("/v2/topics/{key}")).await;
    assert_eq!(res.data(200), &json!({"acknowledged": true}));
}

async fn attempt(intruder: &Api, method: &str, template: &str, owned: &Owned, intruder_env: &str) {
    let owner_subscribers: Vec<&str> = owned
        .subscribers
        .iter()
        .map(|(_, id)| id.as_str())
        .collect();
    let owner_integrations = [owned.fcm_id.as_str(), owned.slack_id.as_str()];
    let owner_topics = owned.topic_ids();
    let owner_subscriptions: Vec<&str> = owned.subscriptions.iter().map(String::as_str).collect();
    let target = Target {
        subscriber: "alice",
        provider: "fcm",
        integration: &owned.fcm_id,
        topic: "news",
        workflow: &owned.workflows[0].1,
        group: &owned.group,
        transaction: "owner-tx",
        message: &owned.message,
        notification: &owned.notification,
    };
    let path = target.fill(template);
    let absent_subscriber = json!("Subscriber not found for id alice");
    let unknown_subscriber = json!("SubscriberId: alice not found");
    let mallory = json!({"firstName": "Mallory"});
    match (method, template) {
        ("GET", "/v1/subscribers") => {
            let res = intruder.get("/v1/subscribers?limit=100").await;
            assert_eq!(res.status, 200, "{}", res.text);
            assert_only_own(&res.body["data"], intruder_env, &owner_subscribers);
        }
        ("GET", "/v2/subscribers") => {
            let res = intruder.get("/v2/subscribers?limit=100").await;
            assert_eq!(res.status, 200, "{}", res.text);
            assert_only_own(&res.body["data"], intruder_env, &owner_subscribers);
            // Each filter matches only the owner's alice.
            for filter in [
                "subscriberId=alice",
                "email=alice%40example.com",
                "name=alice",
            ] {
                let res = intruder.get(&format!("/v2/subscribers?{filter}")).await;
                assert_eq!(res.body, empty_cursor_list(), "{filter}");
            }
        }
        // Creating an id the owner uses makes the intruder's own subscriber.
        ("POST", "/v1/subscribers") => {
            let res = intruder
                .post(
                    template,
                    json!({"subscriberId": "dave", "firstName": "Mallory"}),
                )
                .await;
            assert_new_own_subscriber(res.data(201), owned, intruder_env);
        }
        ("POST", "/v1/subscribers/bulk") => {
            let body = json!({"subscribers": [{"subscriberId": "carol", "firstName": "Mallory"}]});
            let res = intruder.post(template, body).await;
            assert_eq!(
                res.data(201),
                &json!({"updated": [], "created": [{"subscriberId": "carol"}], "failed": []})
            );
        }
        ("POST", "/v2/subscribers") => {
            let res = intruder
                .post(
                    "/v2/subscribers?failIfExists=true",
                    json!({"subscriberId": "erin", "firstName": "Mallory"}),
                )
                .await;
            // A 409 here would hand over the owner's subscriber.
            assert_new_own_subscriber(res.data(201), owned, intruder_env);
        }
        ("GET", "/v1/subscribers/{subscriberId}")
        | ("DELETE", "/v1/subscribers/{subscriberId}")
        | ("GET", "/v2/subscribers/{subscriberId}")
        | ("DELETE", "/v2/subscribers/{subscriberId}")
        | ("GET", "/v2/subscribers/{subscriberId}/subscriptions") => {
            intruder
                .call(http_method(method), &path, &Value::Null)
                .await
                .assert_error(404, absent_subscriber);
        }
        ("PATCH", "/v2/subscribers/{subscriberId}") => {
            intruder
                .patch(&path, mallory)
                .await
                .assert_error(404, absent_subscriber);
        }
        ("PUT", "/v1/subscribers/{subscriberId}") => {
            intruder
                .put(&path, mallory)
                .await
                .assert_error(400, unknown_subscriber);
        }
        // The owner's subscriber named `bulk`.
        ("GET", "/v1/subscribers/bulk") | ("DELETE", "/v1/subscribers/bulk") => {
            intruder
                .call(http_method(method), template, &Value::Null)
                .await
                .assert_error(404, json!("Subscriber not found for id bulk"));
        }
        ("PUT", "/v1/subscribers/bulk") => {
            intruder
                .put(template, mallory)
                .await
                .assert_error(400, json!("SubscriberId: bulk not found"));
        }
        ("PATCH", "/v1/subscribers/{subscriberId}/online-status") => {
            intruder
                .patch(&path, json!({"isOnline": false}))
                .await
                .assert_error(404, json!("Subscriber not found"));
        }
        (_, "/v1/subscribers/{subscriberId}/credentials") => {
            let method = http_method(method);
            for body in [
                // Through the intruder's own fcm integration.
                json!({"providerId": "fcm", "credentials": {"deviceTokens": ["intruder-token"]}}),
                // Naming the owner's integration.
                json!({"providerId": "fcm", "integrationIdentifier": "fcm-main",
                       "credentials": {"deviceTokens": ["intruder-token"]}}),
                // A provider only the owner has.
                json!({"providerId": "slack", "credentials": {"webhookUrl": "https://evil.example.com"}}),
            ] {
                intruder
                    .call(method.clone(), &path, &body)
                    .await
                    .assert_error(400, unknown_subscriber.clone());
            }
        }
        ("DELETE", "/v1/subscribers/{subscriberId}/credentials/{providerId}") => {
            for provider in ["fcm", "slack"] {
                intruder
                    .delete(&format!("/v1/subscribers/alice/credentials/{provider}"))
                    .await
                    .assert_error(404, absent_subscriber.clone());
            }
        }
        ("POST", "/v1/subscribers/{subscriberId}/credentials/{providerId}/device-tokens") => {
            for (provider, body) in [
                // Through the intruder's own fcm integration, naming the owner's, and a
                // provider only the owner has.
                ("fcm", json!({"deviceTokens": ["intruder-token"]})),
                (
                    "fcm",
                    json!({"deviceTokens": ["intruder-token"], "integrationIdentifier": "fcm-main"}),
                ),
                ("slack", json!({"deviceTokens": ["intruder-token"]})),
            ] {
                intruder
                    .post(
                        &format!("/v1/subscribers/alice/credentials/{provider}/device-tokens"),
                        body,
                    )
                    .await
                    .assert_error(400, unknown_subscriber.clone());
            }
            // The owner's token registered in the intruder's environment: the intruder's
            // subscriber holds it there, and alice keeps hers (one owner per token is per
            // environment), which the owner's snapshot checks.
            let own = "/v1/subscribers/mallory/credentials/fcm/device-tokens";
            let res = intruder
                .post(own, json!({"deviceTokens": ["alice-phone"]}))
                .await;
            let tokens = &res.data(200)["channels"][0]["credentials"]["deviceTokens"];
            assert_eq!(tokens, &json!(["alice-phone"]), "{}", res.text);
            let res = intruder
                .post(
                    &format!("{own}/removal"),
                    json!({"deviceTokens": ["alice-phone"]}),
                )
                .await;
            assert_eq!(res.status, 200, "{}", res.text);
        }
        (
            "POST",
            "/v1/subscribers/{subscriberId}/credentials/{providerId}/device-tokens/removal",
        ) => {
            for provider in ["fcm", "slack"] {
                intruder
                    .post(
                        &format!(
                            "/v1/subscribers/alice/credentials/{provider}/device-tokens/removal"
                        ),
                        json!({"deviceTokens": ["alice-phone"]}),
                    )
                    .await
                    .assert_error(400, unknown_subscriber.clone());
            }
        }
        ("GET", "/v1/integrations") | ("GET", "/v1/integrations/active") => {
            let res = intruder.get(template).await;
            assert_only_own(res.data(200), intruder_env, &owner_integrations);
        }
        ("POST", "/v1/integrations") => {
            intruder
                .post(
                    template,
                    json!({"providerId": "slack", "channel": "chat", "identifier": "slack-main-2",
                           "_environmentId": owned.env}),
                )
                .await
                .assert_error(
                    400,
                    json!(["_environmentId must be the environment of the API key"]),
                );
            // The owner's identifier is free in the intruder's environment: a 409 would tell the
            // intruder what another environment holds.
            let res = intruder
                .post(
                    template,
                    json!({"providerId": "slack", "channel": "chat", "identifier": "slack-main"}),
                )
                .await;
            assert_eq!(res.data(201)["_environmentId"], json!(intruder_env));
        }
        ("PUT", "/v1/integrations/{integrationId}")
        | ("DELETE", "/v1/integrations/{integrationId}") => {
            for id in owner_integrations {
                let path = format!("/v1/integrations/{id}");
                let body = json!({"name": "pwned", "active": false, "credentials": {}});
                let res = if method == "PUT" {
                    intruder.put(&path, body).await
                } else {
                    intruder.delete(&path).await
                };
                res.assert_error(404, json!(format!("Entity with id {id} not found")));
            }
        }
        ("POST", "/v1/integrations/{integrationId}/set-primary") => {
            for id in owner_integrations {
                intruder
                    .post(&format!("/v1/integrations/{id}/set-primary"), Value::Null)
                    .await
                    .assert_error(404, json!(format!("Integration with id {id} not found")));
            }
        }

        // Topics, v1.
        ("GET", "/v1/topics") => {
            let res = intruder.get("/v1/topics").await;
            assert_eq!(res.status, 200, "{}", res.text);
            assert_only_own(&res.body["data"], intruder_env, &owner_topics);
            assert_eq!(res.body["totalCount"], json!(1), "{}", res.text);
            let res = intruder.get("/v1/topics?key=news").await;
            assert_eq!(
                res.body,
                json!({"page": 0, "pageSize": 10, "totalCount": 0, "data": []})
            );
        }
        // Creating a key the owner uses makes the intruder's own topic.
        ("POST", "/v1/topics") => {
            let res = intruder
                .post(template, json!({"key": "news", "name": "Mallory"}))
                .await;
            assert_ne!(res.data(201)["_id"], json!(owned.topic_id("news")));
            let own = intruder.get("/v1/topics/news").await;
            let own = own.data(200);
            assert_eq!(own["_environmentId"], json!(intruder_env), "{own}");
            assert_eq!(own["subscribers"], json!([]), "{own}");
            remove_own_topic(intruder, "news").await;
        }
        ("GET", "/v1/topics/{topicKey}")
        | ("PATCH", "/v1/topics/{topicKey}")
        | ("DELETE", "/v1/topics/{topicKey}")
        | ("POST", "/v1/topics/{topicKey}/subscribers/removal")
        | ("GET", "/v1/topics/{topicKey}/subscribers/{externalSubscriberId}")
        | ("GET", "/v1/topics/{topicKey}/subscribers/removal")
        | ("GET", "/v2/topics/{topicKey}")
        | ("PATCH", "/v2/topics/{topicKey}")
        | ("DELETE", "/v2/topics/{topicKey}")
        | ("GET", "/v2/topics/{topicKey}/subscriptions")
        | ("DELETE", "/v2/topics/{topicKey}/subscriptions")
        | ("GET", "/v2/topics/{topicKey}/subscriptions/{identifier}") => {
            // The owner's members, by id; and the owner's subscription ids in the identifier.
            let body = match sample_body(method, template, "alice") {
                Value::Null => Value::Null,
                mut body => {
                    for list in ["subscribers", "subscriberIds"] {
                        if body.get(list).is_some() {
                            body[list] = json!(["alice", "bob", "dave"]);
                        }
                    }
                    body
                }
            };
            for key in ["news", "alerts"] {
                for member in ["alice", owned.subscriptions[0].as_str()] {
                    let fill = |key: &str| {
                        Target {
                            topic: key,
                            subscriber: member,
                            ..target
                        }
                        .fill(template)
                    };
                    assert_answers_as_if_absent(intruder, method, &fill, key, &body).await;
                }
            }
        }
        // Adding to a key the owner uses adds to (and makes) the intruder's own topic; the
        // owner's members are unknown subscribers there.
        ("POST", "/v1/topics/{topicKey}/subscribers") => {
            let res = intruder
                .post(&path, json!({"subscribers": ["alice", "bob", "mallory"]}))
                .await;
            assert_eq!(
                res.data(200),
                &json!({"succeeded": ["mallory"], "failed": {"notFound": ["alice", "bob"]}})
            );
            let own = intruder.get(&path.replace("/subscribers", "")).await;
            let own = own.data(200);
            assert_ne!(own["_id"], json!(owned.topic_id("news")), "{own}");
            assert_eq!(own["_environmentId"], json!(intruder_env), "{own}");
            assert_eq!(own["subscribers"], json!(["mallory"]), "{own}");
            remove_own_topic(intruder, "news").await;
        }

        // Topics, v2.
        ("GET", "/v2/topics") => {
            let all = intruder.get("/v2/topics?limit=100").await;
            assert_eq!(all.status, 200, "{}", all.text);
            assert_none_foreign(&all.body["data"], &owner_topics);
            assert_eq!(all.body["totalCount"], json!(1), "{}", all.text);
            for filter in ["key=news", "key=alerts", "name=Alerts", "name=ew"] {
                let res = intruder.get(&format!("/v2/topics?{filter}")).await;
                assert_eq!(res.body, empty_cursor_list(), "{filter}");
            }
        }
        ("POST", "/v2/topics") => {
            // A 409 here would hand over the owner's topic.
            let res = intruder
                .post(
                    "/v2/topics?failIfExists=true",
                    json!({"key": "alerts", "name": "Mallory"}),
                )
                .await;
            let own = res.data(201);
            assert_ne!(own["_id"], json!(owned.topic_id("alerts")), "{own}");
            assert_eq!(own["name"], json!("Mallory"), "{own}");
            assert_eq!(own.get("data"), None, "the owner's data leaked: {own}");
            remove_own_topic(intruder, "alerts").await;
        }
        ("POST", "/v2/topics/{topicKey}/subscriptions") => {
            let res = intruder
                .post(
                    "/v2/topics/alerts/subscriptions",
                    json!({"subscriberIds": ["alice", "mallory"]}),
                )
                .await;
            assert_eq!(res.status, 201, "{}", res.text);
            assert_eq!(
                res.body["meta"],
                json!({"totalCount": 2, "successful": 1, "failed": 1})
            );
            assert_eq!(res.body["errors"][0]["subscriberId"], json!("alice"));
            let made = &res.body["data"][0];
            assert_eq!(
                made["subscriber"]["subscriberId"],
                json!("mallory"),
                "{made}"
            );
            assert_ne!(
                made["topic"]["_id"],
                json!(owned.topic_id("alerts")),
                "{made}"
            );
            assert_eq!(
                made["topic"].get("data"),
                None,
                "the owner's data leaked: {made}"
            );
            assert_none_foreign(&res.body["data"], &owner_subscriptions);
            remove_own_topic(intruder, "alerts").await;
        }
        _ if template.contains("workflows") || template.contains("notification-") => {
            attempt_workflows(intruder, method, template, owned, intruder_env).await
        }
        _ => attempt_delivery(intruder, method, template, owned, intruder_env).await,
    }
}

/// Event and activity routes: the owner's workflows cannot be triggered, its transaction
/// cancelled, its messages, notifications and execution details neither read nor deleted.
async fn attempt_delivery(
    intruder: &Api,
    method: &str,
    template: &str,
    owned: &Owned,
    intruder_env: &str,
) {
    let not_found_workflow = json!("workflow_not_found");
    match (method, template) {
        ("POST", "/v1/events/trigger") | ("POST", "/v1/events/trigger/broadcast") => {
            for (identifier, _, _) in &owned.workflows {
                let body = json!({"name": identifier, "to": "mallory", "payload": {}});
                intruder
                    .post(template, body)
                    .await
                    .assert_error(422, not_found_workflow.clone());
            }
        }
        ("POST", "/v1/events/trigger/bulk") => {
            let events: Vec<Value> = owned
                .workflows
                .iter()
                .map(|(identifier, _, _)| json!({"name": identifier, "to": "mallory"}))
                .collect();
            let res = intruder.post(template, json!({ "events": events })).await;
            for item in res.data(201).as_array().expect("a list") {
                assert_eq!(item["error"], json!(["workflow_not_found"]), "{item}");
            }
        }
        ("DELETE", "/v1/events/trigger/{transactionId}") => {
            let res = intruder.delete("/v1/events/trigger/owner-tx").await;
            assert_eq!(res.data(200), &json!(false));
        }
        ("GET", "/v1/messages") => {
            let res = intruder.get("/v1/messages?limit=1000").await;
            assert_eq!(res.status, 200, "{}", res.text);
            assert_only_own(&res.body["data"], intruder_env, &[owned.message.as_str()]);
            let res = intruder.get("/v1/messages?transactionId=owner-tx").await;
            assert_eq!(res.body["totalCount"], json!(0), "{}", res.text);
            intruder
                .get("/v1/messages?subscriberId=alice")
                .await
                .assert_error(404, json!("Subscriber not found for id alice"));
        }
        ("DELETE", "/v1/messages/{messageId}") => {
            let id = &owned.message;
            intruder
                .delete(&format!("/v1/messages/{id}"))
                .await
                .assert_error(404, json!(format!("Message with id {id} not found")));
        }
        ("DELETE", "/v1/messages/transaction/{transactionId}") => {
            intruder
                .delete("/v1/messages/transaction/owner-tx")
                .await
                .assert_error(404, json!("Invalid transactionId or channel"));
        }
        ("GET", "/v1/notifications") => {
            let res = intruder.get("/v1/notifications?limit=100").await;
            assert_eq!(res.status, 200, "{}", res.text);
            assert_only_own(
                &res.body["data"],
                intruder_env,
                &[owned.notification.as_str()],
            );
            for filter in ["transactionId=owner-tx", "subscriberIds=alice"] {
                let res = intruder.get(&format!("/v1/notifications?{filter}")).await;
                assert_eq!(res.body["data"], json!([]), "{filter}");
            }
        }
        ("GET", "/v1/notifications/{notificationId}") => {
            let id = &owned.notification;
            intruder
                .get(&format!("/v1/notifications/{id}"))
                .await
                .assert_error(404, json!(format!("Notification with id {id} not found")));
        }
        ("GET", "/v1/execution-details") => {
            let id = &owned.notification;
            intruder
                .get(&format!(
                    "/v1/execution-details?notificationId={id}&subscriberId=alice"
                ))
                .await
                .assert_error(404, json!("Subscriber not found for id alice"));
            let res = intruder
                .get(&format!(
                    "/v1/execution-details?notificationId={id}&subscriberId=mallory"
                ))
                .await;
            assert_eq!(res.data(200), &json!([]));
        }
        _ => panic!("no isolation expectation for {method} {template}: add one to `attempt`"),
    }
}

/// Workflow and notification-group routes: the owner's workflows (by `_id`, identifier and slug)
/// and groups answer as absent, lists hold the intruder's own only, and creating the owner's
/// names makes the intruder's own (without the `-<suffix>` a taken slug would get, which would
/// tell that the name exists elsewhere).
async fn attempt_workflows(
    intruder: &Api,
    method: &str,
    template: &str,
    owned: &Owned,
    intruder_env: &str,
) {
    let owner_ids: Vec<&str> = owned
        .workflows
        .iter()
        .map(|(_, id, _)| id.as_str())
        .collect();
    let own_general = intruder.get("/v1/notification-groups").await;
    let own_general = own_general.data(200)[0]["_id"]
        .as_str()
        .expect("_id")
        .to_string();
    let v1_prefix = if template.starts_with("/v1/workflows") {
        "/v1/workflows"
    } else {
        "/v1/notification-templates"
    };
    match (method, template) {
        ("GET", "/v1/notification-groups") => {
            let res = intruder.get(template).await;
            let groups = res.data(200);
            assert_only_own(groups, intruder_env, &[owned.group.as_str()]);
            assert_eq!(groups.as_array().map(Vec::len), Some(1), "{groups}");
        }
        ("POST", "/v1/notification-groups") => {
            let res = intruder.post(template, json!({"name": "Owners"})).await;
            let made = res.data(201);
            assert_ne!(made["_id"], json!(owned.group), "{made}");
            assert_eq!(made["_environmentId"], json!(intruder_env), "{made}");
        }
        ("GET", "/v1/notification-groups/{id}") => {
            let id = &owned.group;
            intruder
                .get(&format!("/v1/notification-groups/{id}"))
                .await
                .assert_error(
                    404,
                    json!(format!("Notification group with id {id} not found")),
                );
        }
        ("GET", "/v1/workflows") | ("GET", "/v1/notification-templates") => {
            for q in ["", "?query=owner", "?limit=100"] {
                let res = intruder.get(&format!("{template}{q}")).await;
                assert_eq!(res.status, 200, "{}", res.text);
                assert_only_own(&res.body["data"], intruder_env, &owner_ids);
            }
            let res = intruder.get(&format!("{template}?query=owner")).await;
            assert_eq!(res.body["totalCount"], json!(0), "{}", res.text);
        }
        ("POST", "/v1/workflows") | ("POST", "/v1/notification-templates") => {
            let step = json!([{"template": {"type": "chat", "content": "x"}}]);
            intruder
                .post(
                    template,
                    json!({"name": "x", "notificationGroupId": owned.group, "steps": step}),
                )
                .await
                .assert_error(
                    400,
                    json!(format!(
                        "Notification group with id {} not found",
                        owned.group
                    )),
                );
            let res = intruder
                .post(template, json!({"name": "Owner flow", "notificationGroupId": own_general, "steps": step}))
                .await;
            let made = res.data(201).clone();
            assert_eq!(made["triggers"][0]["identifier"], "owner-flow", "{made}");
            assert_eq!(made["_environmentId"], json!(intruder_env), "{made}");
            let id = made["_id"].as_str().expect("_id");
            assert_eq!(
                intruder.delete(&format!("{template}/{id}")).await.status,
                200
            );
        }
        (_, t) if t.starts_with("/v1/") => {
            // The owner's workflows by `_id`, identifier and slug.
            for (identifier, id, slug) in &owned.workflows {
                for key in [id, identifier, slug] {
                    let path = format!("{v1_prefix}/{key}");
                    let res = match (method, t.ends_with("/status")) {
                        ("GET", _) => intruder.get(&path).await,
                        ("DELETE", _) => intruder.delete(&path).await,
                        ("PUT", true) => {
                            intruder
                                .put(&format!("{path}/status"), json!({"active": false}))
                                .await
                        }
                        _ => intruder.put(&path, json!({"name": "Hijacked"})).await,
                    };
                    let message = match (method, t.ends_with("/status")) {
                        ("GET", _) | ("PUT", true) => format!("Template with id {key} not found"),
                        ("DELETE", _) => format!("Could not find workflow with id {key}"),
                        _ => format!("Notification template with id {key} not found"),
                    };
                    res.assert_error(404, json!(message));
                }
            }
        }
        ("GET", "/v2/workflows") => {
            for q in ["", "?query=owner", "?tags=x&status=ACTIVE"] {
                let res = intruder.get(&format!("/v2/workflows{q}")).await;
                let data = res.data(200);
                for w in data["workflows"].as_array().expect("workflows") {
                    assert_not_foreign(w, &owner_ids);
                }
            }
            let res = intruder.get("/v2/workflows?query=owner").await;
            assert_eq!(res.data(200)["totalCount"], json!(0));
        }
        ("POST", "/v2/workflows") => {
            // A 409 here would tell the intruder what another environment holds.
            let body = sample_body(method, template, "owner.v2");
            let res = intruder.post(template, body).await;
            let made = res.data(201).clone();
            assert!(
                !owner_ids.contains(&made["_id"].as_str().unwrap_or_default()),
                "{made}"
            );
            assert_eq!(made["steps"][0]["type"], "chat", "{made}");
            assert_eq!(intruder.delete("/v2/workflows/owner.v2").await.status, 204);
        }
        (_, t) if t.starts_with("/v2/workflows/{workflowId}") => {
            // Syncing the owner's workflow anywhere (here: into the owner's environment) needs
            // reading it first.
            let env_of_owner = &owned.env;
            for (identifier, id, slug) in &owned.workflows {
                for key in [id, identifier, slug] {
                    let path = Target {
                        subscriber: "alice",
                        provider: "fcm",
                        integration: &owned.fcm_id,
                        topic: "news",
                        workflow: key,
                        group: &owned.group,
                        transaction: "owner-tx",
                        message: &owned.message,
                        notification: &owned.notification,
                    }
                    .fill(t);
                    let body = if t.ends_with("/sync") {
                        json!({"targetEnvironmentId": env_of_owner})
                    } else {
                        sample_body(method, t, "hijack")
                    };
                    intruder
                        .call(http_method(method), &path, &body)
                        .await
                        .assert_error(404, json!(format!("Workflow {key} not found")));
                }
            }
        }
        _ => panic!("no isolation expectation for {method} {template}: add one to `attempt`"),
    }
}

fn http_method(name: &str) -> Method {
    Method::from_bytes(name.as_bytes()).expect("an HTTP method")
}

async fn a_production_key_cannot_reach_development_data(backend: Backend) {
    let Some(app) = App::spawn(backend, ServerSettings::default()).await else {
        return;
    };
    assert_isolated(&app, &app.dev, &app.prod).await;
}

async fn a_development_key_cannot_reach_production_data(backend: Backend) {
    let Some(app) = App::spawn(backend, ServerSettings::default()).await else {
        return;
    };
    assert_isolated(&app, &app.prod, &app.dev).await;
}

/// The intruder uses the owner's subscriber ids and topic keys for data of its own, and goes
/// through the whole life of that data (memberships added and listed, topics renamed, a
/// subscriber with memberships deleted, topics deleted): the owner's data of the same names is
/// untouched throughout, and the intruder never sees it.
async fn the_same_ids_and_keys_in_two_environments_stay_apart(backend: Backend) {
    let Some(app) = App::spawn(backend, ServerSettings::default()).await else {
        return;
    };
    let (owner, intruder) = (&app.dev, &app.prod);
    let owned = seed_owner(&app, owner).await;
    let intruder_env = seed_intruder(intruder).await;
    let before = snapshot(owner).await;
    let foreign_subscriptions: Vec<&str> = owned.subscriptions.iter().map(String::as_str).collect();
    let owner_topics = owned.topic_ids();

    for id in ["alice", "carol", "dave"] {
        let res = intruder
            .post(
                "/v1/subscribers",
                json!({"subscriberId": id, "firstName": "Twin"}),
            )
            .await;
        assert_new_own_subscriber(res.data(201), &owned, &intruder_env);
    }
    let res = intruder
        .post("/v1/topics", json!({"key": "news", "name": "Twin news"}))
        .await;
    assert_ne!(res.data(201)["_id"], json!(owned.topic_id("news")));
    let res = intruder
        .post(
            "/v1/topics/news/subscribers",
            json!({"subscribers": ["alice", "dave"]}),
        )
        .await;
    assert_eq!(res.data(200), &json!({"succeeded": ["alice", "dave"]}));
    let res = intruder
        .post(
            "/v2/topics/alerts/subscriptions",
            json!({"subscriberIds": ["alice", "carol"]}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.text);
    assert_eq!(
        res.body["meta"],
        json!({"totalCount": 2, "successful": 2, "failed": 0})
    );
    assert_none_foreign(&res.body["data"], &foreign_subscriptions);

    // Reads see the intruder's twins only.
    let news = intruder.get("/v1/topics/news").await;
    let news = news.data(200);
    assert_eq!(news["subscribers"], json!(["alice", "dave"]), "{news}");
    assert_eq!(news["_environmentId"], json!(intruder_env), "{news}");
    let res = intruder.get("/v1/topics/news/subscribers/alice").await;
    assert_eq!(res.data(200)["_environmentId"], json!(intruder_env));
    assert_ne!(res.data(200)["_subscriberId"], json!(owned.id_of("alice")));
    for key in ["news", "alerts"] {
        let res = intruder
            .get(&format!("/v2/topics/{key}/subscriptions?limit=100"))
            .await;
        assert_eq!(res.body["totalCount"], json!(2), "{}", res.text);
        assert_none_foreign(&res.body["data"], &foreign_subscriptions);
        for s in res.body["data"].as_array().expect("data") {
            assert_not_foreign(&s["topic"], &owner_topics);
            assert_ne!(
                s["subscriber"]["_id"],
                json!(owned.id_of(s["subscriber"]["subscriberId"].as_str().expect("id")))
            );
        }
        let res = intruder
            .get(&format!("/v2/topics/{key}/subscriptions/{key}:alice"))
            .await;
        assert_not_foreign(res.data(200), &foreign_subscriptions);
    }
    let res = intruder
        .get("/v2/subscribers/alice/subscriptions?limit=100")
        .await;
    assert_eq!(res.body["totalCount"], json!(2), "{}", res.text);
    assert_none_foreign(&res.body["data"], &foreign_subscriptions);
    let res = intruder.get("/v2/subscribers?subscriberId=alice").await;
    assert_only_own(
        &res.body["data"],
        &intruder_env,
        &owned
            .subscribers
            .iter()
            .map(|(_, id)| id.as_str())
            .collect::<Vec<_>>(),
    );
    assert_eq!(res.body["totalCount"], json!(1), "{}", res.text);
    let res = intruder.get("/v2/topics?key=alerts").await;
    assert_none_foreign(&res.body["data"], &owner_topics);
    assert_eq!(res.body["totalCount"], json!(1), "{}", res.text);

    // Writes change the twins only.
    let res = intruder
        .patch("/v1/topics/news", json!({"name": "Renamed"}))
        .await;
    assert_eq!(res.data(200)["name"], json!("Renamed"));
    let res = intruder
        .patch("/v2/topics/alerts", json!({"data": {"tier": "none"}}))
        .await;
    assert_eq!(res.data(200)["data"], json!({"tier": "none"}));
    let res = intruder
        .post(
            "/v1/topics/news/subscribers/removal",
            json!({"subscribers": ["dave"]}),
        )
        .await;
    assert_eq!(res.status, 204, "{}", res.text);
    let res = intruder
        .call(
            Method::DELETE,
            "/v2/topics/alerts/subscriptions",
            &json!({"subscriberIds": ["carol"]}),
        )
        .await;
    assert_eq!(res.body["meta"]["successful"], json!(1), "{}", res.text);
    // Deleting a subscriber drops its memberships: the twin's, not the owner's alice's.
    let res = intruder.delete("/v1/subscribers/alice").await;
    assert_eq!(res.status, 200, "{}", res.text);
    let res = intruder.delete("/v2/subscribers/carol").await;
    assert_eq!(res.status, 200, "{}", res.text);
    assert_eq!(snapshot(owner).await, before);
    let res = intruder.get("/v1/topics/news").await;
    assert_eq!(res.data(200)["subscribers"], json!([]));
    assert_eq!(
        intruder.delete("/v1/topics/news").await.status,
        204,
        "an empty twin topic is deleted"
    );
    remove_own_topic(intruder, "alerts").await;

    assert_eq!(
        snapshot(owner).await,
        before,
        "the owner's data changed through data of the same names in another environment"
    );
}

async fn a_revoked_key_is_401_on_every_route(backend: Backend) {
    // No auth cache, so a revocation applies to the very next request.
    let settings = ServerSettings {
        cache_ttl: Duration::ZERO,
        ..ServerSettings::default()
    };
    let Some(app) = App::spawn(backend, settings).await else {
        return;
    };
    let owned = seed_owner(&app, &app.dev).await;
    let before = snapshot(&app.dev).await;
    let key = "herald-second-development-key-4be1";
    let development = app.environment("Development").await;
    let info = app
        .store
        .add_api_key(&development, &KeyHash::of(key), &key_hint(key))
        .await
        .expect("adding a key")
        .expect("the environment exists");
    let second = app.dev.with_key(key);
    assert_eq!(second.get("/v1/subscribers/alice").await.status, 200);

    assert!(app.store.revoke_api_key(&info.id).await.expect("revoking"));
    let target = Target {
        subscriber: "alice",
        provider: "fcm",
        integration: &owned.fcm_id,
        topic: "news",
        workflow: &owned.workflows[0].1,
        group: &owned.group,
        transaction: "owner-tx",
        message: &owned.message,
        notification: &owned.notification,
    };
    for (method, template) in ROUTES {
        let path = target.fill(template);
        let body = sample_body(method, template, "alice");
        let res = second.call(http_method(method), &path, &body).await;
        res.assert_error(401, json!("API Key not found"));
        assert_eq!(res.body["error"], "Unauthorized", "{method} {path}");
    }
    assert_eq!(snapshot(&app.dev).await, before);
    // The environment's other key is unaffected.
    assert_eq!(app.dev.get("/v1/subscribers/alice").await.status, 200);
}
