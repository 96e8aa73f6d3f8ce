//! One owner per device token ([`TokenOwnership::Move`](herald_core::TokenOwnership::Move)), made
//! atomic across every process sharing the database, and the removal of tokens one by one.
//!
//! A registration that claims a token T (for one integration) removes T from every other
//! subscriber holding it. Two first registrations of T by different subscribers find no holder
//! to remove, so something must order them, and no row exists yet to lock: they take a
//! transaction-scoped **advisory lock** keyed by (integration, keyed hash of T). Every write
//! that inserts a claimed token row does so holding that lock (the credentials write checks this
//! before taking its unlocked fast path), so once a transaction holds it, a statement started
//! afterwards sees every holder of T and no new one can appear before it commits: removing the
//! others there leaves exactly one holder, the registration that committed last.
//!
//! Lock order, so that writers cannot deadlock on each other: advisory locks first, all in one
//! simple query right after `BEGIN` (one round trip, in ascending key order), then subscriber
//! rows in ascending `pk` order (`SELECT … ORDER BY pk FOR UPDATE`). A credentials write locks
//! those rows, writes and releases in one statement after its `BEGIN` (the claiming form of
//! `credentials::write_sql`); if its subscriber changed since its read, it runs again the locked
//! way ([`PgStore::claim_locked`]). A subscriber create or
//! `/bulk` request takes the advisory locks of every token it claims at its `BEGIN` too; it locks
//! the other holders' rows as it goes, and the rare deadlock that allows is retried like any
//! other (`error::retrying`).
//!
//! A write claiming many tokens would need as many locks, and PostgreSQL's lock table is shared
//! and bounded (`max_locks_per_transaction` × connections). So every claiming transaction first
//! takes a per-environment lock in shared mode; one that would need more than
//! [`MAX_TOKEN_LOCKS`] token locks (a large `/bulk`) takes that environment lock exclusively
//! instead and no token lock at all, which orders it against every other registration of the
//! environment.

use std::collections::BTreeSet;

use herald_core::secrets::Vault;
use herald_core::{ChannelCredentials, CredentialsUpdate, ObjectId, ProviderId, Subscriber};
use sqlx::postgres::PgConnection;
use sqlx::{Connection, Postgres, Transaction};

use crate::credentials::{token_delta, TokenDelta};
use crate::error::Result;
use crate::rows::now;
use crate::subscribers::{lock_live, read_by_pk};
use crate::PgStore;

/// Most token locks one transaction takes; past this it locks the whole environment instead.
pub(crate) const MAX_TOKEN_LOCKS: usize = 128;

/// FNV-1a (64 bits) of the parts, each followed by a NUL: a lock key that every Herald version
/// computes alike (`std`'s hasher may change between Rust releases, and processes of two
/// versions can share a database during an upgrade). A collision only makes two unrelated
/// registrations wait for each other.
fn lock_key(parts: &[&str]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    i64::from_ne_bytes(h.to_ne_bytes())
}

fn environment_key(env: &ObjectId) -> i64 {
    lock_key(&["herald-token-owners", env.as_str()])
}

fn token_key(integration: &ObjectId, token_hash: &str) -> i64 {
    lock_key(&["herald-token", integration.as_str(), token_hash])
}

/// The tokens one write claims: its integration and their keyed hashes (none under `share`).
pub(crate) struct Claim<'a> {
    pub(crate) integration: &'a ObjectId,
    pub(crate) hashes: Vec<String>,
}

impl<'a> Claim<'a> {
    pub(crate) fn of(vault: &Vault, env: &ObjectId, update: &'a CredentialsUpdate) -> Self {
        Claim {
            integration: &update.integration_id,
            hashes: update
                .claimed_tokens()
                .iter()
                .map(|t| vault.token_hash(env.as_str(), t))
                .collect(),
        }
    }
}

/// The advisory locks that order `claims`, as one simple query (`None`: they claim no token).
/// Keys are integers formatted here, never client text.
fn lock_sql(env: &ObjectId, claims: &[Claim<'_>]) -> Option<String> {
    let keys: BTreeSet<i64> = claims
        .iter()
        .flat_map(|c| c.hashes.iter().map(|h| token_key(c.integration, h)))
        .collect();
    if keys.is_empty() {
        return None;
    }
    let env_key = environment_key(env);
    if keys.len() > MAX_TOKEN_LOCKS {
        return Some(format!("SELECT pg_advisory_xact_lock({env_key})"));
    }
    let mut sql = format!("SELECT pg_advisory_xact_lock_shared({env_key})");
    for key in keys {
        sql.push_str(&format!("; SELECT pg_advisory_xact_lock({key})"));
    }
    Some(sql)
}

/// Begins a transaction that holds the locks ordering every token of `claims`: `BEGIN`, then the
/// locks (none when they claim no token) in one more round trip.
///
/// Not `BEGIN; SELECT pg_advisory_xact_lock(…)` as one statement through `begin_with`: sqlx (0.8)
/// counts a transaction only once its `BEGIN` statement has completed, so when that statement
/// failed in its lock wait (a statement timeout) or was abandoned there (the request dropped),
/// nothing rolled it back and the connection went back to the pool inside the transaction, where
/// every later statement on it ran uncommitted. Inside the `Transaction`, an abandoned or failed
/// lock wait is rolled back with it.
pub(crate) async fn begin_claiming<'c>(
    conn: &'c mut PgConnection,
    env: &ObjectId,
    claims: &[Claim<'_>],
) -> Result<Transaction<'c, Postgres>> {
    let mut tx = conn.begin().await?;
    if let Some(locks) = lock_sql(env, claims) {
        // A `&str` without arguments goes out as one simple query (several statements).
        sqlx::Executor::execute(&mut *tx, locks.as_str()).await?;
    }
    Ok(tx)
}

/// Locks, in `pk` order, the live subscriber `subscriber_id` and every subscriber holding one of
/// these token hashes for `integration`. Returns the subscriber's `pk` (`None`: no such live
/// subscriber) and how many other holders were locked.
pub(crate) async fn lock_claimant_and_holders(
    tx: &mut PgConnection,
    env: &ObjectId,
    subscriber_id: &str,
    integration: &ObjectId,
    hashes: &[String],
) -> Result<Option<(i64, usize)>> {
    let locked: Vec<(i64, bool)> = sqlx::query_as(
        "SELECT s.pk, (s.environment_id = $1 AND s.subscriber_id = $2 AND NOT s.deleted)
         FROM subscribers s
         WHERE s.pk IN (
             SELECT pk FROM subscribers
             WHERE environment_id = $1 AND subscriber_id = $2 AND NOT deleted
             UNION
             SELECT t.subscriber_pk FROM device_tokens t
             WHERE t.environment_id = $1 AND t.integration_id = $3 AND t.token_hash = ANY($4))
         ORDER BY s.pk
         FOR UPDATE",
    )
    .bind(env.as_str())
    .bind(subscriber_id)
    .bind(integration.as_str())
    .bind(hashes)
    .fetch_all(tx)
    .await?;
    let Some(own) = locked.iter().find(|(_, own)| *own).map(|(pk, _)| *pk) else {
        return Ok(None);
    };
    Ok(Some((own, locked.len() - 1)))
}

/// Removes the tokens with these hashes from every subscriber of the environment other than
/// the live `subscriber_id` that holds them for `integration`, and moves those subscribers'
/// `updated_at` (which also keeps the credentials fast path's version guard honest). Their
/// channels stay, possibly with no token left. Run holding the tokens' advisory locks.
pub(crate) async fn release_claimed(
    tx: &mut PgConnection,
    env: &ObjectId,
    subscriber_id: &str,
    integration: &ObjectId,
    hashes: &[String],
) -> Result<()> {
    if hashes.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "WITH gone AS (
             DELETE FROM device_tokens t
             WHERE t.environment_id = $1 AND t.integration_id = $2 AND t.token_hash = ANY($3)
               AND t.subscriber_pk <> (SELECT pk FROM subscribers
                                       WHERE environment_id = $1 AND subscriber_id = $4
                                         AND NOT deleted)
             RETURNING t.subscriber_pk
         )
         UPDATE subscribers SET updated_at = $5 WHERE pk IN (SELECT subscriber_pk FROM gone)",
    )
    .bind(env.as_str())
    .bind(integration.as_str())
    .bind(hashes)
    .bind(subscriber_id)
    .bind(now())
    .execute(tx)
    .await?;
    Ok(())
}

/// Removes the tokens with these hashes from every channel of `provider` of the subscriber
/// whose row `tx` holds locked (`pk`); moves its `updated_at` when one was removed.
pub(crate) async fn remove_tokens(
    tx: &mut PgConnection,
    pk: i64,
    provider: ProviderId,
    hashes: &[String],
) -> Result<()> {
    sqlx::query(
        "WITH gone AS (
             DELETE FROM device_tokens
             WHERE channel_pk IN (SELECT pk FROM subscriber_channels
                                  WHERE subscriber_pk = $1 AND provider_id = $2)
               AND token_hash = ANY($3)
             RETURNING 1
         )
         UPDATE subscribers SET updated_at = $4
         WHERE pk = $1 AND EXISTS (SELECT 1 FROM gone)",
    )
    .bind(pk)
    .bind(provider.as_str())
    .bind(hashes)
    .bind(now())
    .execute(tx)
    .await?;
    Ok(())
}

/// Whether writing `merged` over a channel holding `old` inserts a token row for a token the
/// write claims: an append of one, or a reordering, which rewrites every row.
pub(crate) fn inserts_claimed(
    update: &CredentialsUpdate,
    old: &[String],
    merged: &ChannelCredentials,
) -> bool {
    let new = merged.device_tokens.as_deref().unwrap_or_default();
    let inserted = match token_delta(old, new) {
        TokenDelta::Edit { append, .. } => append,
        TokenDelta::Rewrite(all) => all,
    };
    let claimed = update.claimed_tokens();
    inserted.iter().any(|t| claimed.contains(t))
}

impl PgStore {
    /// A claiming write the locked way, when the unlocked attempt found the subscriber changed
    /// (or had only a release to do): the tokens' advisory locks, then the rows of the subscriber
    /// and of the tokens' other holders in `pk` order, then the write and the release.
    pub(crate) async fn claim_locked(
        &self,
        conn: &mut PgConnection,
        env: &ObjectId,
        subscriber_id: &str,
        update: &CredentialsUpdate,
        claim: &Claim<'_>,
    ) -> Result<Option<Subscriber>> {
        let mut tx = begin_claiming(conn, env, std::slice::from_ref(claim)).await?;
        let locked = lock_claimant_and_holders(
            &mut tx,
            env,
            subscriber_id,
            claim.integration,
            &claim.hashes,
        )
        .await?;
        let Some((_, holders)) = locked else {
            return Ok(None);
        };
        let subscriber = self
            .pass_locked(&mut tx, env, subscriber_id, update, &claim.hashes)
            .await?;
        if holders > 0 && subscriber.is_some() {
            release_claimed(
                &mut tx,
                env,
                subscriber_id,
                claim.integration,
                &claim.hashes,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(subscriber)
    }

    pub(crate) async fn remove_device_tokens_once(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        provider: ProviderId,
        tokens: &[String],
    ) -> Result<Option<Subscriber>> {
        let hashes: Vec<String> = tokens
            .iter()
            .map(|t| self.vault.token_hash(env.as_str(), t))
            .collect();
        let mut tx = self.pool.begin().await?;
        let Some(pk) = lock_live(&mut tx, env, subscriber_id).await? else {
            return Ok(None);
        };
        remove_tokens(&mut tx, pk, provider, &hashes).await?;
        let subscriber = read_by_pk(&mut tx, &self.vault, pk).await?;
        tx.commit().await?;
        Ok(Some(subscriber))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim<'a>(integration: &'a ObjectId, hashes: &[&str]) -> Claim<'a> {
        Claim {
            integration,
            hashes: hashes.iter().map(|h| h.to_string()).collect(),
        }
    }

    #[test]
    fn lock_keys_are_stable_and_separate_integrations() {
        // Pinned: processes of different builds sharing a database must compute the same keys.
        assert_eq!(
            lock_key(&["a", "b"]),
            i64::from_ne_bytes(0xab40_d782_0d40_8076_u64.to_ne_bytes())
        );
        assert_ne!(lock_key(&["ab", "c"]), lock_key(&["a", "bc"]));
        let (i1, i2) = (ObjectId::new(), ObjectId::new());
        assert_ne!(token_key(&i1, "h"), token_key(&i2, "h"));
    }

    #[test]
    fn a_claim_locks_the_environment_shared_then_each_token_in_key_order() {
        let (env, i) = (ObjectId::new(), ObjectId::new());
        let sql = lock_sql(&env, &[claim(&i, &["b", "a"]), claim(&i, &["c", "a"])]).unwrap();
        let statements: Vec<&str> = sql.split("; ").collect();
        assert_eq!(
            statements[0],
            format!(
                "SELECT pg_advisory_xact_lock_shared({})",
                environment_key(&env)
            )
        );
        let keys: Vec<i64> = statements[1..]
            .iter()
            .map(|s| {
                s.trim_start_matches("SELECT pg_advisory_xact_lock(")
                    .trim_end_matches(')')
                    .parse()
                    .unwrap()
            })
            .collect();
        assert_eq!(keys.len(), 3, "one lock per distinct token: {sql}");
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{keys:?}");
    }

    #[test]
    fn no_claim_takes_no_lock_and_many_claims_lock_the_environment() {
        let (env, i) = (ObjectId::new(), ObjectId::new());
        assert_eq!(lock_sql(&env, &[claim(&i, &[])]), None);
        let many: Vec<String> = (0..=MAX_TOKEN_LOCKS).map(|n| format!("t{n}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(
            lock_sql(&env, &[claim(&i, &many)]),
            Some(format!(
                "SELECT pg_advisory_xact_lock({})",
                environment_key(&env)
            ))
        );
    }

    /// A claiming transaction abandoned while it waits for a token's lock (its request dropped)
    /// is rolled back: the pooled connection comes back outside any transaction, holding no lock.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_lock_wait_leaves_no_transaction_on_the_pooled_connection() {
        let Some(db) = crate::test_support::test_database().await else {
            return;
        };
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect(db.url())
            .await
            .unwrap();
        let (env, i) = (ObjectId::new(), ObjectId::new());
        let mut holder = PgConnection::connect(db.url()).await.unwrap();
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(token_key(&i, "h"))
            .execute(&mut holder)
            .await
            .unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let claims = [claim(&i, &["h"])];
        let mut wait = Box::pin(begin_claiming(&mut conn, &env, &claims));
        // Drive the claim until PostgreSQL shows it waiting for the held lock, then drop it.
        loop {
            tokio::select! {
                biased;
                _ = &mut wait => panic!("the token's lock is held by another session"),
                waiting = sqlx::query_scalar::<_, i64>(
                    "SELECT count(*) FROM pg_locks
                     WHERE locktype = 'advisory' AND NOT granted
                       AND database = (SELECT oid FROM pg_database
                                       WHERE datname = current_database())",
                )
                .fetch_one(&mut holder) => {
                    if waiting.unwrap() > 0 {
                        break;
                    }
                }
            }
        }
        drop(wait);
        drop(conn);
        sqlx::query("SELECT pg_advisory_unlock_all()")
            .execute(&mut holder)
            .await
            .unwrap();
        // Once the connection is back in the pool (the pool has one), the abandoned transaction,
        // which got the lock when it was released above, must have let go of it.
        let conn = pool.acquire().await.unwrap();
        let held: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        )
        .fetch_one(&mut holder)
        .await
        .unwrap();
        assert_eq!(
            held, 0,
            "a lock is still held by a pooled connection's transaction"
        );
        drop(conn);
    }
}
