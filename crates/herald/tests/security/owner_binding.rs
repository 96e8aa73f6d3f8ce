//! Secrets bound to their owners, through the API (issue 14): when someone who can write the
//! database (but does not hold the key) copies one subscriber's webhook URL or device token to
//! another subscriber, reading that subscriber answers an opaque 500 in Novu's format, with no
//! secret in the body, and the log says which subscriber and channel could not be read and why;
//! every other subscriber is served as before. The stores' own tests (`owner_binding.rs` of each)
//! cover every kind of secret and the upgrade of older databases.

use herald::ServerSettings;
use serde_json::json;
use sqlx::{Connection, Executor, PgConnection};

use crate::secrets::captured_logs;
use crate::support::{App, Backend, Database};

both_backends!(a_webhook_url_moved_to_another_subscriber_is_an_opaque_500_and_a_clear_log_line);

const WEBHOOK: &str = "https://hooks.slack.com/services/T0/B0/moved-webhook-5e0c";

/// Runs `sql` on the database beside the server.
async fn tamper(db: &Database, sql: &str) {
    match db.sqlite_file() {
        Some(file) => {
            let conn = rusqlite::Connection::open(file).unwrap();
            conn.busy_timeout(std::time::Duration::from_secs(5))
                .unwrap();
            conn.execute_batch(sql).unwrap();
        }
        None => {
            let mut conn = PgConnection::connect(db.url()).await.unwrap();
            conn.execute(sqlx::raw_sql(sql)).await.unwrap();
        }
    }
}

async fn a_webhook_url_moved_to_another_subscriber_is_an_opaque_500_and_a_clear_log_line(
    backend: Backend,
) {
    let logs = captured_logs();
    let Some(app) = App::spawn(backend, ServerSettings::default()).await else {
        return;
    };
    let api = &app.dev;
    let res = api
        .post(
            "/v1/integrations",
            json!({"providerId": "slack", "channel": "chat", "identifier": "slack", "active": true}),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.brief());
    for who in ["ada", "bob"] {
        let res = api
            .post(
                "/v1/subscribers",
                json!({"subscriberId": who, "channels": [{"providerId": "slack",
                       "credentials": {"webhookUrl": format!("{WEBHOOK}/{who}")}}]}),
            )
            .await;
        assert_eq!(res.status, 201, "{}", res.brief());
    }
    let ada = api.get("/v1/subscribers/ada").await.data(200).clone();
    let bob_id = api.get("/v1/subscribers/bob").await.data(200)["_id"]
        .as_str()
        .unwrap()
        .to_string();

    let channel_of = |who: &str| {
        format!(
            "(SELECT c.pk FROM subscriber_channels c JOIN subscribers s ON s.pk = c.subscriber_pk
              WHERE s.subscriber_id = '{who}')"
        )
    };
    tamper(
        &app.db,
        &format!(
            "UPDATE subscriber_channels SET webhook_url =
                 (SELECT webhook_url FROM subscriber_channels WHERE pk = {})
             WHERE pk = {}",
            channel_of("ada"),
            channel_of("bob")
        ),
    )
    .await;

    let res = api.get("/v1/subscribers/bob").await;
    res.assert_novu_error(500);
    assert!(!res.text.contains(WEBHOOK), "{}", res.text);
    let error_id = res.body["errorId"]
        .as_str()
        .expect("an errorId")
        .to_string();
    // Ada, whose value it was, is served as before.
    assert_eq!(api.get("/v1/subscribers/ada").await.data(200), &ada);

    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    let line = logs
        .lines()
        .find(|l| l.contains(&error_id))
        .unwrap_or_else(|| panic!("no log line with {error_id}"));
    assert!(
        line.contains(&format!(
            "a secret of the channel of subscriber _id {bob_id}"
        )),
        "{line}"
    );
    assert!(line.contains("moved from another field, owner"), "{line}");
    assert!(!line.contains(WEBHOOK), "{line}");
}
