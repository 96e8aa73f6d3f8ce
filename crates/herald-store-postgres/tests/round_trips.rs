//! How many statements (each one round trip to PostgreSQL) a credentials write costs, counted
//! on the wire.
//!
//! The store talks to the database through a small TCP proxy that reads the frontend messages of
//! the PostgreSQL protocol. Each `Sync` (the end of an extended-protocol query) and each simple
//! `Query` (`BEGIN`, `COMMIT`) makes the client wait for the server: one round trip. The
//! credentials endpoints are the hot path and their throughput is bounded by these waits, so the
//! counts are pinned here. Not counted: sqlx's connection check (a bare `Sync`) when a connection
//! returns to the pool (one per request whatever the store does, sent after the answer) and when
//! one that sat idle for a second leaves it, and the read of the current secret key, which a
//! writer makes once per key check period.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use herald_core::secrets::test_keyring;
use herald_core::{
    ChannelCredentials, ChannelType, CredentialsMode, CredentialsUpdate, IntegrationStore,
    NewIntegration, NewSubscriber, ObjectId, Profile, ProviderId, SubscriberPatch, SubscriberStore,
    TokenOwnership,
};
use herald_store_postgres::test_support::test_database;
use herald_store_postgres::{PgConfig, PgStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The round trips seen since the last [`Wire::take`], each as the statements it carried.
#[derive(Default)]
struct Wire {
    /// Statements sent since the last round trip ended.
    pending: Vec<String>,
    trips: Vec<Vec<String>>,
    /// Prepared statement name → SQL, from `Parse` messages.
    prepared: HashMap<String, String>,
}

/// What one operation cost.
struct Trips(Vec<Vec<String>>);

impl Trips {
    /// Round trips that carried a statement.
    fn statements(&self) -> Vec<&Vec<String>> {
        let counted =
            |t: &&Vec<String>| !t.is_empty() && !t.iter().any(|s| s.contains("FROM secret_keys"));
        self.0.iter().filter(counted).collect()
    }

    /// Statements that were simple queries starting with `word` (`BEGIN`, `COMMIT`).
    fn simple(&self, word: &str) -> usize {
        self.0
            .iter()
            .filter(|t| t.len() == 1 && t[0].starts_with(word))
            .count()
    }
}

impl fmt::Display for Trips {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, trip) in self.0.iter().enumerate() {
            let text = if trip.is_empty() {
                "(sync only: connection check)".to_string()
            } else {
                trip.iter()
                    .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
                    .map(|s| s.chars().take(110).collect::<String>())
                    .collect::<Vec<_>>()
                    .join(" | ")
            };
            writeln!(f, "  {:>2}. {text}", i + 1)?;
        }
        Ok(())
    }
}

impl Wire {
    fn take(wire: &Mutex<Wire>) -> Trips {
        let mut w = wire.lock().unwrap();
        w.pending.clear();
        Trips(std::mem::take(&mut w.trips))
    }

    fn message(&mut self, kind: u8, body: &[u8]) {
        let cstr = |b: &[u8]| {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            (String::from_utf8_lossy(&b[..end]).into_owned(), end + 1)
        };
        match kind {
            b'Q' => {
                let (sql, _) = cstr(body);
                self.trips.push(vec![sql]);
            }
            b'P' => {
                let (name, n) = cstr(body);
                let (sql, _) = cstr(&body[n..]);
                self.prepared.insert(name, sql);
            }
            b'B' => {
                let (_portal, n) = cstr(body);
                let (name, _) = cstr(&body[n..]);
                let sql = self.prepared.get(&name).cloned().unwrap_or(name);
                self.pending.push(sql);
            }
            b'S' => {
                let trip = std::mem::take(&mut self.pending);
                self.trips.push(trip);
            }
            _ => {}
        }
    }
}

/// Forwards one client connection to `upstream`, recording the client's messages in `wire`.
async fn relay(mut client: TcpStream, upstream: String, wire: Arc<Mutex<Wire>>) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let (mut from_client, mut to_client) = client.split();
    let (mut from_server, mut to_server) = tokio::io::split(server);
    let down = async {
        let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
    };
    let up = async {
        // The startup message has no type byte; every later message does.
        let mut started = false;
        loop {
            let mut head = [0u8; 5];
            let head_len = if started { 5 } else { 4 };
            if from_client.read_exact(&mut head[..head_len]).await.is_err() {
                break;
            }
            let len_at = if started { 1 } else { 0 };
            let len = u32::from_be_bytes(head[len_at..len_at + 4].try_into().unwrap()) as usize;
            let mut body = vec![0u8; len - 4];
            if from_client.read_exact(&mut body).await.is_err() {
                break;
            }
            if started {
                wire.lock().unwrap().message(head[0], &body);
            }
            started = true;
            if to_server.write_all(&head[..head_len]).await.is_err()
                || to_server.write_all(&body).await.is_err()
            {
                break;
            }
        }
        let _ = to_server.shutdown().await;
    };
    tokio::join!(down, up);
}

/// A store of its own (one pooled connection) on a fresh database, behind a counting proxy.
async fn counted_store() -> Option<(PgStore, Arc<Mutex<Wire>>)> {
    let db = test_database().await?;
    drop(db.connect().await); // migrated and keyed before counting starts
    let mut url = url::Url::parse(db.url()).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(listener.local_addr().unwrap().port()))
        .unwrap();
    url.query_pairs_mut().append_pair("sslmode", "disable");
    let wire = Arc::new(Mutex::new(Wire::default()));
    let w = wire.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(relay(client, upstream.clone(), w.clone()));
        }
    });
    let cfg = PgConfig {
        max_connections: 1,
        ..PgConfig::new(url.to_string())
    };
    let store = PgStore::connect(&cfg, test_keyring()).await.unwrap();
    Some((store, wire))
}

fn update(
    integration: &ObjectId,
    provider: ProviderId,
    mode: CredentialsMode,
    tokens: &[&str],
) -> CredentialsUpdate {
    CredentialsUpdate {
        provider_id: provider,
        integration_id: integration.clone(),
        credentials: ChannelCredentials {
            device_tokens: Some(tokens.iter().map(|t| t.to_string()).collect()),
            ..Default::default()
        },
        mode,
        ownership: TokenOwnership::Share,
    }
}

/// [`update`] under one owner per token.
fn claiming(
    integration: &ObjectId,
    provider: ProviderId,
    mode: CredentialsMode,
    tokens: &[&str],
) -> CredentialsUpdate {
    CredentialsUpdate {
        ownership: TokenOwnership::Move,
        ..update(integration, provider, mode, tokens)
    }
}

/// Runs each case on `store` and returns the statements each cost, and their report.
async fn costs(
    store: &PgStore,
    wire: &Mutex<Wire>,
    env: &ObjectId,
    cases: &[(&str, &str, CredentialsUpdate)],
) -> (Vec<usize>, String) {
    let mut report = String::new();
    let mut costs = Vec::new();
    for (name, subscriber, update) in cases {
        store
            .update_credentials(env, subscriber, update)
            .await
            .unwrap();
        // Once the connection is back in the pool, whatever it flushed on the way is counted.
        drop(store.pool().acquire().await.unwrap());
        let trips = Wire::take(wire);
        let statements = trips.statements().len();
        report += &format!(
            "{name}: {statements} statements ({} BEGIN, {} COMMIT)\n{trips}",
            trips.simple("BEGIN"),
            trips.simple("COMMIT")
        );
        costs.push(statements);
    }
    (costs, report)
}

/// A store with integrations fcm and apns and subscribers `warm` and `s1`, every statement of
/// the cases below prepared once (so that they are counted as cached statements).
async fn warmed() -> Option<(PgStore, Arc<Mutex<Wire>>, ObjectId, ObjectId, ObjectId)> {
    let (store, wire) = counted_store().await?;
    let env = ObjectId::new();
    let fcm = integration(&store, &env, ProviderId::Fcm).await;
    let apns = integration(&store, &env, ProviderId::Apns).await;
    for id in ["warm", "warm-2", "s1", "s2"] {
        let new = NewSubscriber {
            subscriber_id: id.into(),
            profile: Profile::default(),
        };
        store
            .upsert_subscriber(&env, &env, &new, &SubscriberPatch::default())
            .await
            .unwrap();
    }
    let (put, patch) = (CredentialsMode::Replace, CredentialsMode::Append);
    for (provider, integration) in [(ProviderId::Fcm, &fcm), (ProviderId::Apns, &apns)] {
        for make in [update, claiming] {
            for u in [
                make(integration, provider, put, &["w1"]),
                make(integration, provider, put, &["w2"]),
                make(integration, provider, patch, &["w3"]),
                make(integration, provider, put, &["w3", "w2"]),
                make(integration, provider, put, &["w3", "w2"]),
            ] {
                store.update_credentials(&env, "warm", &u).await.unwrap();
                store.update_credentials(&env, "warm-2", &u).await.unwrap();
            }
        }
    }
    store
        .update_credentials(&env, "nobody", &update(&fcm, ProviderId::Fcm, put, &[]))
        .await
        .unwrap();
    drop(store.pool().acquire().await.unwrap());
    Wire::take(&wire);
    Some((store, wire, env, fcm, apns))
}

async fn integration(store: &PgStore, env: &ObjectId, provider: ProviderId) -> ObjectId {
    let new = NewIntegration {
        provider_id: provider,
        channel: ChannelType::Push,
        name: provider.to_string(),
        identifier: format!("{provider}-1"),
        credentials: Default::default(),
        active: true,
        conditions: vec![],
    };
    store.create_integration(env, env, &new).await.unwrap().id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credentials_write_is_one_statement_to_read_and_one_to_write() {
    let Some((store, wire, env, fcm, apns)) = warmed().await else {
        return;
    };
    let (put, patch) = (CredentialsMode::Replace, CredentialsMode::Append);
    let fcm_put = |t: &[&str]| update(&fcm, ProviderId::Fcm, put, t);
    let fcm_patch = |t: &[&str]| update(&fcm, ProviderId::Fcm, patch, t);
    let apns_put = |t: &[&str]| update(&apns, ProviderId::Apns, put, t);
    let cases = [
        ("PUT, first channel", "s1", fcm_put(&["a"])),
        ("PUT, second channel", "s1", apns_put(&["x"])),
        ("PUT, replace one token", "s1", fcm_put(&["b"])),
        ("PATCH, append one token", "s1", fcm_patch(&["c"])),
        ("PUT, reorder tokens", "s1", fcm_put(&["c", "b"])),
        ("PUT, nothing changes", "s1", fcm_put(&["c", "b"])),
        ("PATCH, unknown subscriber", "nobody", fcm_patch(&["c"])),
    ];
    let (costs, report) = costs(&store, &wire, &env, &cases).await;
    println!("{report}");
    assert_eq!(
        costs,
        [2, 2, 2, 2, 2, 1, 1],
        "statements per write:\n{report}"
    );
}

/// With one owner per token, a write that adds a token (or takes one from another subscriber)
/// also takes the token's lock: `BEGIN`, the locks, and `COMMIT`, around the same write statement
/// (the locks are not sent with the `BEGIN`: see `claims::begin_claiming`). Re-registering a
/// token the subscriber alone holds, what apps do on every start, stays one read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claiming_write_adds_the_token_locks_in_three_round_trips() {
    let Some((store, wire, env, fcm, apns)) = warmed().await else {
        return;
    };
    let (put, patch) = (CredentialsMode::Replace, CredentialsMode::Append);
    let fcm_put = |t: &[&str]| claiming(&fcm, ProviderId::Fcm, put, t);
    let fcm_patch = |t: &[&str]| claiming(&fcm, ProviderId::Fcm, patch, t);
    let apns_put = |t: &[&str]| claiming(&apns, ProviderId::Apns, put, t);
    let cases = [
        ("PUT, first channel", "s1", fcm_put(&["a"])),
        ("PUT, second channel", "s1", apns_put(&["x"])),
        ("PUT, replace one token", "s1", fcm_put(&["b"])),
        ("PATCH, append one token", "s1", fcm_patch(&["c"])),
        ("PUT, nothing changes", "s1", fcm_put(&["b", "c"])),
        ("PATCH, re-register a held token", "s1", fcm_patch(&["c"])),
        ("PUT, a token s1 holds, for s2", "s2", fcm_put(&["c"])),
        ("PUT, drop a token, keep one", "s2", fcm_put(&[])),
    ];
    let (costs, report) = costs(&store, &wire, &env, &cases).await;
    println!("{report}");
    assert_eq!(
        costs,
        [5, 5, 5, 5, 1, 1, 5, 2],
        "statements per write:\n{report}"
    );
    assert_eq!(
        store
            .get_subscriber(&env, "s1")
            .await
            .unwrap()
            .unwrap()
            .channels[0]
            .credentials
            .device_tokens,
        Some(vec!["b".to_string()]),
        "s2 took c"
    );
}
