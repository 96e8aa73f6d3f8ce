//! PostgreSQL-specific behaviour the conformance suite cannot express: migrations, connection
//! errors, and several Herald processes (simulated by several `PgStore`s, each with its own pool)
//! sharing one database.

use std::sync::Arc;

use herald_core::secrets::test_keyring;
use herald_core::topic::{IdentifierConflict, NewSubscription, NewTopic};
use herald_core::{
    ChannelCredentials, ChannelType, CredentialsMode, CredentialsUpdate, EnvironmentStore,
    IntegrationStore, KeyHash, NewIntegration, NewSubscriber, ObjectId, Profile, ProviderId,
    SubscriberPatch, SubscriberStore, TopicStore,
};
use herald_store_postgres::test_support::test_database;
use herald_store_postgres::{migrate, PgConfig, PgStore, MIGRATIONS};
use sqlx::{Connection, PgConnection};

async fn applied_versions(url: &str) -> Vec<i64> {
    let mut conn = PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_are_recorded_once_and_rerunning_them_does_nothing() {
    let Some(db) = test_database().await else {
        return;
    };
    let store = db.connect().await;
    let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(applied_versions(db.url()).await, all);

    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    assert!(migrate(&mut conn).await.unwrap().is_empty());
    drop(store);
    let _again = db.connect().await;
    assert_eq!(applied_versions(db.url()).await, all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_connects_to_a_fresh_database_migrate_it_once() {
    let Some(db) = test_database().await else {
        return;
    };
    let cfg = db.config();
    let connects: Vec<_> = (0..4)
        .map(|_| {
            let cfg = cfg.clone();
            tokio::spawn(async move { PgStore::connect(&cfg, test_keyring()).await })
        })
        .collect();
    for c in connects {
        c.await.unwrap().unwrap_or_else(|e| panic!("{e}"));
    }
    let all: Vec<i64> = MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(applied_versions(db.url()).await, all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_migrated_by_a_newer_herald_is_refused_with_a_readable_message() {
    let Some(db) = test_database().await else {
        return;
    };
    drop(db.connect().await);
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)")
        .execute(&mut conn)
        .await
        .unwrap();
    let err = PgStore::connect(&db.config(), test_keyring())
        .await
        .unwrap_err()
        .to_string();
    let known = MIGRATIONS.last().unwrap().version;
    assert!(
        err.starts_with("cannot migrate the PostgreSQL database at ")
            && err.ends_with(&format!(
                "schema version 999, newer than the {known} this Herald knows; upgrade Herald"
            )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_2_database_keeps_its_subscriptions_under_their_derived_identifiers() {
    let Some(db) = test_database().await else {
        return;
    };
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let mut setup = String::from(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL);
         INSERT INTO schema_migrations VALUES (1, 0), (2, 0);",
    );
    for m in MIGRATIONS.iter().filter(|m| m.version <= 2) {
        setup.push_str(m.sql);
    }
    setup.push_str(
        "INSERT INTO subscribers (id, environment_id, organization_id, subscriber_id, created_at,
             updated_at)
         VALUES ('s1', 'e', 'o', 'ada', 0, 0), ('s2', 'e', 'o', 'bob', 0, 0);
         INSERT INTO topics (id, environment_id, organization_id, key, created_at, updated_at)
         VALUES ('t1', 'e', 'o', 'news', 0, 0), ('t2', 'e', 'o', 'sports', 0, 0);
         INSERT INTO topic_subscriptions
             (id, environment_id, topic_pk, subscriber_pk, created_at, updated_at)
         SELECT t.id || s.id, 'e', t.pk, s.pk, 0, 0
         FROM topics t, subscribers s ORDER BY t.pk, s.pk;",
    );
    sqlx::raw_sql(&setup).execute(&mut conn).await.unwrap();

    let later: Vec<i64> = MIGRATIONS
        .iter()
        .map(|m| m.version)
        .filter(|&v| v > 2)
        .collect();
    assert_eq!(migrate(&mut conn).await.unwrap(), later);
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, identifier, name FROM topic_subscriptions ORDER BY pk")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let expected = [
        ("t1s1", "news:ada"),
        ("t1s2", "news:bob"),
        ("t2s1", "sports:ada"),
        ("t2s2", "sports:bob"),
    ]
    .map(|(id, identifier)| (id.to_string(), identifier.to_string(), None));
    assert_eq!(rows, expected);
    let dup =
        sqlx::query("UPDATE topic_subscriptions SET identifier = 'news:bob' WHERE id = 't1s1'")
            .execute(&mut conn)
            .await;
    assert!(
        dup.is_err(),
        "an identifier names one subscription of its topic"
    );
    let unnamed = sqlx::query(
        "INSERT INTO topic_subscriptions
             (id, environment_id, topic_pk, subscriber_pk, created_at, updated_at)
         SELECT 'x', 'e', pk, (SELECT pk FROM subscribers WHERE id = 's1'), 0, 0
         FROM topics WHERE id = 't1'",
    )
    .execute(&mut conn)
    .await;
    assert!(unnamed.is_err(), "the identifier is required");
}

#[tokio::test]
async fn a_refused_connection_is_one_line_naming_host_and_port_but_not_the_password() {
    // Bind then drop: nothing listens on this port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = PgConfig::new(format!("postgres://herald:hunter2@127.0.0.1:{port}/herald"));
    let err = PgStore::connect(&cfg, test_keyring())
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        format!("cannot connect to PostgreSQL at 127.0.0.1:{port}: connection refused")
    );
    assert!(!err.contains("hunter2") && !err.contains('\n'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_database_name_is_reported_by_the_server_message() {
    let Some(db) = test_database().await else {
        return;
    };
    let url = format!("{}_missing", db.url());
    let err = PgStore::connect(&PgConfig::new(url), test_keyring())
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("cannot connect to PostgreSQL at ") && msg.contains("does not exist"),
        "{msg}"
    );
}

/// Two stores on one database, as two Herald processes would have.
async fn two_processes() -> Option<(PgStore, PgStore)> {
    let db = test_database().await?;
    Some((db.connect().await, db.connect().await))
}

async fn push_integration(store: &PgStore, env: &ObjectId) -> ObjectId {
    push_integration_result(store, env).await.unwrap().id
}

/// Subscriptions of these subscribers with default identifiers.
fn by_id(ids: &[String]) -> Vec<NewSubscription> {
    ids.iter()
        .map(|id| NewSubscription::of(id.as_str()))
        .collect()
}

fn subscriber(id: &str) -> NewSubscriber {
    NewSubscriber {
        subscriber_id: id.into(),
        profile: Profile::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_process_is_read_through_the_other() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let env = ObjectId::new();
    let (created, was_new) = a
        .upsert_subscriber(&env, &env, &subscriber("s1"), &SubscriberPatch::default())
        .await
        .unwrap();
    assert!(was_new);
    let read = b.get_subscriber(&env, "s1").await.unwrap().unwrap();
    assert_eq!(read, created);
    let integration = push_integration(&b, &env).await;
    let found = a
        .find_active_integration(&env, ProviderId::Fcm, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, integration);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_appends_across_two_processes_keep_every_token() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let env = ObjectId::new();
    a.upsert_subscriber(&env, &env, &subscriber("s1"), &SubscriberPatch::default())
        .await
        .unwrap();
    let integration = push_integration(&a, &env).await;
    let (a, b, env) = (Arc::new(a), Arc::new(b), Arc::new(env));
    let appends: Vec<_> = (0..50)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let env = env.clone();
            let update = CredentialsUpdate {
                provider_id: ProviderId::Fcm,
                integration_id: integration.clone(),
                credentials: ChannelCredentials {
                    device_tokens: Some(vec![format!("token-{i}")]),
                    ..Default::default()
                },
                mode: CredentialsMode::Append,
                ownership: herald_core::TokenOwnership::Move,
            };
            tokio::spawn(async move { store.update_credentials(&env, "s1", &update).await })
        })
        .collect();
    for append in appends {
        append.await.unwrap().unwrap().unwrap();
    }
    let stored = a.get_subscriber(&env, "s1").await.unwrap().unwrap();
    assert_eq!(stored.channels.len(), 1);
    let mut tokens = stored.channels[0]
        .credentials
        .device_tokens
        .clone()
        .unwrap();
    assert_eq!(tokens.len(), 50);
    tokens.sort();
    tokens.dedup();
    assert_eq!(tokens.len(), 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_through_one_process_fails_authentication_in_the_other() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let dev = KeyHash::of("dev");
    let envs = a
        .bootstrap(&dev, &KeyHash::of("prod"))
        .await
        .unwrap()
        .unwrap();
    let ctx = b.authenticate(&dev).await.unwrap().expect("valid key");
    assert_eq!(ctx.environment_id, envs[0].id);
    assert!(a.revoke_api_key(&ctx.api_key_id).await.unwrap());
    assert_eq!(b.authenticate(&dev).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_bootstraps_in_two_processes_create_one_organization() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let (dev, prod) = (KeyHash::of("d"), KeyHash::of("p"));
    let (ra, rb) = tokio::join!(a.bootstrap(&dev, &prod), b.bootstrap(&dev, &prod));
    let created = [ra.unwrap(), rb.unwrap()];
    assert_eq!(created.iter().filter(|c| c.is_some()).count(), 1);
    assert_eq!(a.list_environments().await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_upserts_of_one_id_in_two_processes_create_it_once() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let env = ObjectId::new();
    let (a, b) = (Arc::new(a), Arc::new(b));
    let upserts: Vec<_> = (0..10)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let env = env.clone();
            tokio::spawn(async move {
                store
                    .upsert_subscriber(&env, &env, &subscriber("same"), &SubscriberPatch::default())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut created = 0;
    let mut ids = Vec::new();
    for u in upserts {
        let (s, was_new) = u.await.unwrap();
        created += usize::from(was_new);
        ids.push(s.id);
    }
    assert_eq!(created, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_creates_of_one_identifier_in_two_processes_let_exactly_one_win() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let env = ObjectId::new();
    let (ra, rb) = tokio::join!(
        push_integration_result(&a, &env),
        push_integration_result(&b, &env)
    );
    let results = [ra, rb];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(results
        .iter()
        .any(|r| matches!(r, Err(herald_core::StoreError::Conflict(_)))));
    assert_eq!(a.list_integrations(&env).await.unwrap().len(), 1);
}

async fn push_integration_result(
    store: &PgStore,
    env: &ObjectId,
) -> herald_core::StoreResult<herald_core::Integration> {
    let new = NewIntegration {
        provider_id: ProviderId::Fcm,
        channel: ChannelType::Push,
        name: "FCM".into(),
        identifier: "fcm-1".into(),
        credentials: Default::default(),
        active: true,
        conditions: vec![],
    };
    store.create_integration(env, env, &new).await
}

/// What one racer of the topic race did.
enum Raced {
    Upserted {
        topic: ObjectId,
        created: bool,
    },
    Added {
        topic: ObjectId,
        memberships: Vec<ObjectId>,
    },
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_topic_creates_and_adds_in_two_processes_make_one_topic_and_one_membership_each() {
    let Some(db) = test_database().await else {
        return;
    };
    let (a, b) = (db.connect().await, db.connect().await);
    let env = ObjectId::new();
    let ids: Vec<String> = ["s1", "s2", "s3"].map(String::from).into();
    for id in &ids {
        a.upsert_subscriber(&env, &env, &subscriber(id), &SubscriberPatch::default())
            .await
            .unwrap();
    }
    let (a, b) = (Arc::new(a), Arc::new(b));
    let racers: Vec<_> = (0..16)
        .map(|i| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let (env, ids) = (env.clone(), ids.clone());
            tokio::spawn(async move {
                if i % 4 < 2 {
                    let new = NewTopic {
                        key: "news".into(),
                        name: Some(format!("News {i}")),
                        data: None,
                    };
                    let (topic, created) = store.upsert_topic(&env, &env, &new).await.unwrap();
                    Raced::Upserted {
                        topic: topic.id,
                        created,
                    }
                } else {
                    // Each adder names the subscribers in its own order, twice over.
                    let mut ids = ids;
                    ids.rotate_left(i % 3);
                    ids.extend(ids.clone());
                    let outcome = store
                        .add_topic_subscribers(
                            &env,
                            &env,
                            "news",
                            &by_id(&ids),
                            Some("Autogenerated"),
                        )
                        .await
                        .unwrap();
                    assert!(outcome.not_found.is_empty());
                    assert_eq!(
                        outcome.subscriptions.len(),
                        3,
                        "duplicates are reported once"
                    );
                    let topic = outcome.subscriptions[0].topic.id.clone();
                    let mut memberships = outcome.subscriptions;
                    memberships.sort_by(|x, y| {
                        x.subscriber.subscriber_id.cmp(&y.subscriber.subscriber_id)
                    });
                    Raced::Added {
                        topic,
                        memberships: memberships.into_iter().map(|m| m.id).collect(),
                    }
                }
            })
        })
        .collect();
    let mut topics = Vec::new();
    let mut created = 0;
    let mut membership_sets = Vec::new();
    for racer in racers {
        match racer.await.unwrap() {
            Raced::Upserted { topic, created: c } => {
                topics.push(topic);
                created += usize::from(c);
            }
            Raced::Added { topic, memberships } => {
                topics.push(topic);
                membership_sets.push(memberships);
            }
        }
    }
    topics.dedup();
    assert_eq!(topics.len(), 1, "every racer saw the same topic");
    assert!(created <= 1, "at most one upsert created the topic");
    membership_sets.dedup();
    assert_eq!(
        membership_sets.len(),
        1,
        "every adder saw the same memberships"
    );

    assert_eq!(a.list_topics(&env, None, 0, 10).await.unwrap().1, 1);
    let mut members = b.topic_subscriber_ids(&env, "news").await.unwrap();
    members.sort();
    assert_eq!(members, ids);
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM topic_subscriptions")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adding_subscribers_while_another_process_deletes_the_topic_never_fails() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let env = ObjectId::new();
    a.upsert_subscriber(&env, &env, &subscriber("s1"), &SubscriberPatch::default())
        .await
        .unwrap();
    let ids = vec![NewSubscription::of("s1")];
    for _ in 0..10 {
        let (added, deleted) = tokio::join!(
            a.add_topic_subscribers(&env, &env, "churn", &ids, None),
            b.delete_topic(&env, "churn"),
        );
        let added = added.unwrap();
        deleted.unwrap();
        assert_eq!(added.subscriptions.len(), 1);
        // Whichever won, the membership exists exactly when the topic does.
        let topic = a.get_topic(&env, "churn").await.unwrap();
        let members = b.topic_subscriber_ids(&env, "churn").await.unwrap();
        assert_eq!(members.len(), usize::from(topic.is_some()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_adds_of_one_identifier_for_different_subscribers_store_it_once() {
    let Some((a, b)) = two_processes().await else {
        return;
    };
    let env = ObjectId::new();
    let ids: Vec<String> = (0..8).map(|i| format!("s{i}")).collect();
    for id in &ids {
        a.upsert_subscriber(&env, &env, &subscriber(id), &SubscriberPatch::default())
            .await
            .unwrap();
    }
    let (a, b) = (Arc::new(a), Arc::new(b));
    let racers: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let env = env.clone();
            let requested = vec![NewSubscription {
                identifier: Some("shared".into()),
                ..NewSubscription::of(id.as_str())
            }];
            tokio::spawn(async move {
                store
                    .add_topic_subscribers(&env, &env, "news", &requested, None)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    for (racer, id) in racers.into_iter().zip(&ids) {
        let outcome = racer.await.unwrap();
        assert!(outcome.not_found.is_empty());
        match outcome.subscriptions.as_slice() {
            [s] => winners.push(s.subscriber.subscriber_id.clone()),
            [] => {
                assert_eq!(
                    outcome.conflicts,
                    [IdentifierConflict {
                        subscriber_id: id.clone(),
                        identifier: "shared".into(),
                    }]
                );
                losers.push(id.clone());
            }
            other => panic!("one subscription per request, got {other:?}"),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one subscriber got the identifier"
    );
    assert_eq!(losers.len(), ids.len() - 1);
    let members = b.topic_subscriber_ids(&env, "news").await.unwrap();
    assert_eq!(members, winners);
    let holder = a
        .get_topic_subscription_by_identifier(&env, "news", "shared")
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(holder.subscriber.subscriber_id, winners[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn searches_ignore_the_case_of_non_ascii_letters_whatever_the_database_locale() {
    // The throwaway test cluster is initialised with `--locale=C`, whose own case folding is
    // ASCII-only: this checks that the searches fold all of Unicode anyway, as SQLite's do.
    let Some(store) = herald_store_postgres::test_support::test_store().await else {
        return;
    };
    let env = ObjectId::new();
    let profile = Profile {
        first_name: herald_core::Field::Value("Émile".into()),
        last_name: herald_core::Field::Value("Øster".into()),
        ..Profile::default()
    };
    let new = NewSubscriber {
        subscriber_id: "ÄBC-1".into(),
        profile,
    };
    store
        .upsert_subscriber(&env, &env, &new, &SubscriberPatch::default())
        .await
        .unwrap();
    let page = herald_core::topic::CursorQuery {
        after: None,
        before: None,
        limit: 10,
        descending: false,
    };
    for filter in [
        herald_core::topic::SubscriberFilter {
            name: Some("émile øs".into()),
            ..Default::default()
        },
        herald_core::topic::SubscriberFilter {
            subscriber_id: Some("äbc".into()),
            ..Default::default()
        },
    ] {
        let found = store
            .search_subscribers(&env, &filter, &page)
            .await
            .unwrap();
        assert_eq!(found.total, 1, "{filter:?}");
    }
    let topic = NewTopic {
        key: "k".into(),
        name: Some("ÉTÉ".into()),
        data: None,
    };
    store.create_topic(&env, &env, &topic).await.unwrap();
    let filter = herald_core::topic::TopicFilter {
        key: None,
        name: Some("été".into()),
    };
    let found = store.search_topics(&env, &filter, &page).await.unwrap();
    assert_eq!(found.total, 1);
}
