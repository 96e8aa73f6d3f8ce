//! Tenant isolation: a key of one environment can neither read, list, change nor delete another
//! environment's subscribers, credentials or integrations. Every route of [`ROUTES`] is tried with
//! the intruder's key against the owner's data; each answers as if that data did not exist (the
//! message Novu gives for a missing resource), and the owner's snapshot is unchanged afterwards.
//! A revoked key is refused on every route.

use std::time::Duration;

use herald::ServerSettings;
use herald_core::tenancy::key_hint;
use herald_core::KeyHash;
use reqwest::Method;
use serde_json::{json, Value};

use crate::routes::{fill, sample_body, ROUTES};
use crate::support::{snapshot, Api, App, Backend};

both_backends!(
    a_production_key_cannot_reach_development_data,
    a_development_key_cannot_reach_production_data,
    a_revoked_key_is_401_on_every_route,
);

/// What the owner environment holds, as created through the API.
struct Owned {
    env: String,
    fcm_id: String,
    slack_id: String,
    /// `subscriberId` → `_id` of alice (with fcm and slack credentials), carol, dave and erin.
    subscribers: Vec<(String, String)>,
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
}

async fn created(api: &Api, path: &str, body: Value) -> Value {
    let res = api.post(path, body).await;
    res.data(201).clone()
}

/// Integrations `fcm-main` and `slack-main`, subscribers alice (a device token and a webhook URL),
/// carol, dave and erin.
async fn seed_owner(api: &Api) -> Owned {
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
    for id in ["alice", "carol", "dave", "erin"] {
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
    Owned {
        env: fcm["_environmentId"].as_str().expect("env").to_string(),
        fcm_id: fcm["_id"].as_str().expect("_id").to_string(),
        slack_id: slack["_id"].as_str().expect("_id").to_string(),
        subscribers,
    }
}

/// The intruder's own data (an active fcm integration, one subscriber), so that its writes reach
/// the store rather than stopping at "no integration", and its environment id.
async fn seed_intruder(api: &Api) -> String {
    let fcm = created(
        api,
        "/v1/integrations",
        json!({"providerId": "fcm", "channel": "push", "identifier": "fcm-intruder", "active": true}),
    )
    .await;
    created(api, "/v1/subscribers", json!({"subscriberId": "mallory"})).await;
    fcm["_environmentId"].as_str().expect("env").to_string()
}

/// Tries every route with `intruder` against `owner`'s data and checks the owner sees no change.
async fn assert_isolated(owner: &Api, intruder: &Api) {
    let owned = seed_owner(owner).await;
    let intruder_env = seed_intruder(intruder).await;
    let before = snapshot(owner).await;
    for (method, template) in ROUTES {
        attempt(intruder, method, template, &owned, &intruder_env).await;
    }
    assert_eq!(
        snapshot(owner).await,
        before,
        "the owner's data changed through another environment's key"
    );
}

/// Everything a list answer holds belongs to the intruder's environment.
fn assert_only_own(items: &Value, intruder_env: &str, foreign_ids: &[&str]) {
    for item in items.as_array().expect("a list") {
        assert_eq!(item["_environmentId"], json!(intruder_env), "{item}");
        assert!(
            !foreign_ids.contains(&item["_id"].as_str().unwrap_or_default()),
            "another environment's item listed: {item}"
        );
    }
}

/// A subscriber the intruder just created is its own, not the owner's of the same id.
fn assert_new_own_subscriber(data: &Value, owned: &Owned, intruder_env: &str) {
    let id = data["subscriberId"].as_str().expect("subscriberId");
    assert_ne!(data["_id"], json!(owned.id_of(id)), "{data}");
    assert_eq!(data["_environmentId"], json!(intruder_env), "{data}");
}

async fn attempt(intruder: &Api, method: &str, template: &str, owned: &Owned, intruder_env: &str) {
    let owner_subscribers: Vec<&str> = owned
        .subscribers
        .iter()
        .map(|(_, id)| id.as_str())
        .collect();
    let owner_integrations = [owned.fcm_id.as_str(), owned.slack_id.as_str()];
    let path = fill(template, "alice", "fcm", &owned.fcm_id);
    let absent_subscriber = json!("Subscriber not found for id alice");
    let unknown_subscriber = json!("SubscriberId: alice not found");
    let mallory = json!({"firstName": "Mallory"});
    match (method, template) {
        ("GET", "/v1/subscribers") => {
            let res = intruder.get("/v1/subscribers?limit=100").await;
            assert_eq!(res.status, 200, "{}", res.text);
            assert_only_own(&res.body["data"], intruder_env, &owner_subscribers);
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
        ("GET", "/v1/subscribers/{subscriber_id}")
        | ("DELETE", "/v1/subscribers/{subscriber_id}")
        | ("GET", "/v2/subscribers/{subscriber_id}")
        | ("DELETE", "/v2/subscribers/{subscriber_id}") => {
            intruder
                .call(http_method(method), &path, &Value::Null)
                .await
                .assert_error(404, absent_subscriber);
        }
        ("PATCH", "/v2/subscribers/{subscriber_id}") => {
            intruder
                .patch(&path, mallory)
                .await
                .assert_error(404, absent_subscriber);
        }
        ("PUT", "/v1/subscribers/{subscriber_id}") => {
            intruder
                .put(&path, mallory)
                .await
                .assert_error(400, unknown_subscriber);
        }
        ("PATCH", "/v1/subscribers/{subscriber_id}/online-status") => {
            intruder
                .patch(&path, json!({"isOnline": false}))
                .await
                .assert_error(404, json!("Subscriber not found"));
        }
        (_, "/v1/subscribers/{subscriber_id}/credentials") => {
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
        ("DELETE", "/v1/subscribers/{subscriber_id}/credentials/{provider_id}") => {
            for provider in ["fcm", "slack"] {
                intruder
                    .delete(&format!("/v1/subscribers/alice/credentials/{provider}"))
                    .await
                    .assert_error(404, absent_subscriber.clone());
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
        ("PUT", "/v1/integrations/{integration_id}")
        | ("DELETE", "/v1/integrations/{integration_id}") => {
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
        ("POST", "/v1/integrations/{integration_id}/set-primary") => {
            for id in owner_integrations {
                intruder
                    .post(&format!("/v1/integrations/{id}/set-primary"), Value::Null)
                    .await
                    .assert_error(404, json!(format!("Integration with id {id} not found")));
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
    assert_isolated(&app.dev, &app.prod).await;
}

async fn a_development_key_cannot_reach_production_data(backend: Backend) {
    let Some(app) = App::spawn(backend, ServerSettings::default()).await else {
        return;
    };
    assert_isolated(&app.prod, &app.dev).await;
}

async fn a_revoked_key_is_401_on_every_route(backend: Backend) {
    // No auth cache, so a revocation applies to the very next request.
    let settings = ServerSettings {
        auth_cache_ttl: Duration::ZERO,
    };
    let Some(app) = App::spawn(backend, settings).await else {
        return;
    };
    let owned = seed_owner(&app.dev).await;
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
    for (method, template) in ROUTES {
        let path = fill(template, "alice", "fcm", &owned.fcm_id);
        let body = sample_body(method, template, "alice");
        let res = second.call(http_method(method), &path, &body).await;
        res.assert_error(401, json!("API Key not found"));
        assert_eq!(res.body["error"], "Unauthorized", "{method} {path}");
    }
    assert_eq!(snapshot(&app.dev).await, before);
    // The environment's other key is unaffected.
    assert_eq!(app.dev.get("/v1/subscribers/alice").await.status, 200);
}
