//! Channel credentials writes (`PUT`/`PATCH`/`DELETE …/credentials`), the heart of Herald.
//!
//! `PUT` and `PATCH` are the hot path, so they are built around round trips: one statement reads
//! the subscriber as `GET` shows it (every channel and token, plus the row's version) and one
//! statement writes the difference, with no `BEGIN`/`COMMIT` around them. The merge in between is
//! `herald-core`'s `CredentialsUpdate::merged` (the merge rules exist once, for both backends),
//! and the response is the subscriber as read with the merged channel in place, so nothing is
//! read back.
//!
//! The write is guarded by the subscriber row's version (`xmin`, the transaction that last
//! changed the row): it bumps `updated_at` only if the row is still the one read, and every other
//! part of the statement hangs off that bump. Every change to a subscriber's channels also
//! changes its row (`updated_at`, or `deleted`), so an unchanged version means the channel read
//! is still current. When another write got in between, the guard matches nothing, no row is
//! touched, and the write runs again in a transaction holding the row lock (`SELECT … FOR
//! UPDATE`), which serialises writers on one subscriber across every process sharing the
//! database: 50 concurrent appends of distinct tokens end with 50 tokens. A write that changes
//! nothing touches no row and leaves `updated_at` alone.
//!
//! One owner per token (`claims`): a write claiming tokens ([`herald_core::TokenOwnership::Move`])
//! keeps this fast path only when it inserts none of them and no other subscriber holds one (an
//! app re-registering the token its subscriber already holds, as apps do on every start).
//! Otherwise the write runs in a transaction that first takes the tokens' advisory locks, and
//! its statement also takes the tokens from their other holders (five round trips: read, begin,
//! locks, write, commit). If the subscriber changed since the read, the write runs again the locked way
//! (locks, then the rows of the subscriber and of the other holders in `pk` order, read, write,
//! release). Either way exactly one subscriber holds a token however registrations race.
//!
//! Secrets are encrypted on the way in and decrypted on the way out, so the merge compares plain
//! values. Token rows hold a ciphertext plus a keyed hash; uniqueness is on `(channel_pk,
//! token_hash)` and removals match hashes, so no token has to be decrypted to be found.

use herald_core::secrets::Owner;
use herald_core::{
    ChannelCredentials, ChannelSettings, CredentialsUpdate, ObjectId, ProviderId, StoreError,
    Subscriber, Timestamp,
};
use sqlx::postgres::PgConnection;
use sqlx::{Connection, FromRow};

use crate::claims::{begin_claiming, inserts_claimed, release_claimed, Claim};
use crate::error::{corrupt, Error, Result};
use crate::rows::{now, subscriber_columns, SubscriberRow};
use crate::secrets::follow_current_key;
use crate::subscribers::lock_live;
use crate::PgStore;

/// What to do with a channel's token rows to go from `old` to `new` (both in insertion order).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenDelta<'a> {
    /// Delete these tokens, then append these, keeping the survivors' rows (and order).
    Edit {
        remove: Vec<&'a str>,
        append: &'a [String],
    },
    /// The survivors would have to change order: delete every row and insert `new` in order.
    Rewrite(&'a [String]),
}

pub(crate) fn token_delta<'a>(old: &'a [String], new: &'a [String]) -> TokenDelta<'a> {
    let kept: Vec<&String> = old.iter().filter(|t| new.contains(t)).collect();
    if kept.iter().copied().eq(new.iter().take(kept.len())) {
        TokenDelta::Edit {
            remove: old
                .iter()
                .filter(|t| !new.contains(t))
                .map(String::as_str)
                .collect(),
            append: &new[kept.len()..],
        }
    } else {
        TokenDelta::Rewrite(new)
    }
}

/// The live subscriber as `GET` shows it, with what a write needs besides: its row key, its row
/// version, the identifier of the integration being written (for a channel not yet created), and
/// whether another subscriber holds one of the tokens the write claims (hashes in `$4`).
const READ: &str = concat!(
    "SELECT",
    subscriber_columns!(),
    ",
       s.pk, s.xmin::text AS row_version,
       (SELECT i.identifier FROM integrations i
        WHERE i.id = $3 AND i.environment_id = $1 AND NOT i.deleted) AS integration_identifier,
       EXISTS (SELECT 1 FROM device_tokens t
               WHERE t.environment_id = $1 AND t.integration_id = $3
                 AND t.token_hash = ANY($4) AND t.subscriber_pk <> s.pk) AS claimed_elsewhere
FROM subscribers s
WHERE s.environment_id = $1 AND s.subscriber_id = $2 AND NOT s.deleted"
);

#[derive(FromRow)]
struct Read {
    pk: i64,
    row_version: String,
    integration_identifier: Option<String>,
    claimed_elsewhere: bool,
    #[sqlx(flatten)]
    subscriber: SubscriberRow,
}

/// One credentials write as a single statement, around `$channel` (the channel's `UPDATE` or
/// `INSERT`, returning its `pk`). `gate` bumps `updated_at` if the subscriber row is still at the
/// version read (`$3`); the channel hangs off `gate`, the token edits off the channel, and the
/// insert waits for the delete (`gone`), so a token moved by a reordering is deleted before it is
/// inserted again; `ORDER BY u.n` makes the serial `pk` of the appended tokens (the order clients
/// see) follow the input order. Returns how many rows `gate` and the channel wrote (0 or 1 each).
///
/// Parameters: `$1` subscriber pk, `$2` now, `$3` row version, `$4` environment, `$5` integration,
/// `$6` provider, `$7`–`$13` the sealed channel columns, `$14` tokens_set, `$15` hashes of the
/// tokens to delete, `$16`/`$17` sealed tokens to append and their hashes, in order.
///
/// The `claiming` form (run holding the advisory locks of the tokens it claims, see `claims`)
/// also takes the tokens with the hashes `$18` from every other subscriber holding them for the
/// integration (`released`, hanging off `gate` too) and moves their `updated_at` (`touched`).
/// It first locks the rows of the subscriber and of those holders in `pk` order (`locked`, which
/// `gate` waits for), the order every claiming write locks rows in, so that two of them cannot
/// deadlock. (`pk IN (SELECT $1 UNION …)`, not `pk = $1 OR pk IN (…)`: PostgreSQL plans an `OR`
/// with a subquery as a scan of every subscriber.)
macro_rules! write_sql {
    (plain $channel:expr) => {
        write_sql!(@ "WITH ", "", $channel, "")
    };
    (claiming $channel:expr) => {
        write_sql!(@
            "WITH locked AS (
                 SELECT pk FROM subscribers
                 WHERE pk IN (
                     SELECT $1::bigint
                     UNION
                     SELECT t.subscriber_pk FROM device_tokens t
                     WHERE t.environment_id = $4 AND t.integration_id = $5
                       AND t.token_hash = ANY($18))
                 ORDER BY pk
                 FOR UPDATE
             ), ",
            " AND (SELECT count(*) FROM locked) > 0",
            $channel,
            ", released AS (
                 DELETE FROM device_tokens t
                 WHERE t.environment_id = $4 AND t.integration_id = $5
                   AND t.token_hash = ANY($18) AND t.subscriber_pk <> $1
                   AND EXISTS (SELECT 1 FROM gate)
                 RETURNING t.subscriber_pk
             ), touched AS (
                 UPDATE subscribers SET updated_at = $2
                 WHERE pk IN (SELECT subscriber_pk FROM released)
             )"
        )
    };
    (@ $head:literal, $gate:literal, $channel:expr, $tail:literal) => {
        concat!(
            $head,
            "gate AS (
                 UPDATE subscribers SET updated_at = $2 WHERE pk = $1 AND xmin::text = $3",
            $gate,
            "
                 RETURNING pk
             ), channel AS (",
            $channel,
            "
             ), gone AS (
                 DELETE FROM device_tokens
                 WHERE channel_pk = (SELECT pk FROM channel) AND token_hash = ANY($15)
                 RETURNING 1
             ), added AS (
                 INSERT INTO device_tokens
                     (channel_pk, environment_id, subscriber_pk, integration_id, token, token_hash)
                 SELECT c.pk, $4, $1, $5, u.token, u.token_hash
                 FROM channel c,
                      UNNEST($16::text[], $17::text[]) WITH ORDINALITY AS u(token, token_hash, n)
                 WHERE (SELECT count(*) FROM gone) >= 0
                 ORDER BY u.n
                 ON CONFLICT (channel_pk, token_hash) DO NOTHING
             )",
            $tail,
            "
             SELECT (SELECT count(*) FROM gate), (SELECT count(*) FROM channel)"
        )
    };
}

/// The channel's `UPDATE` of [`write_sql`].
macro_rules! update_channel {
    () => {
        "
                 UPDATE subscriber_channels SET
                     provider_id = $6, webhook_url = $7, channel = $8, alert_uid = $9,
                     title = $10, image_url = $11, state = $12, external_url = $13,
                     tokens_set = $14
                 WHERE subscriber_pk = (SELECT pk FROM gate) AND integration_id = $5
                   AND environment_id = $4
                 RETURNING pk"
    };
}

/// The channel's `INSERT` of [`write_sql`].
macro_rules! insert_channel {
    () => {
        "
                 INSERT INTO subscriber_channels (subscriber_pk, environment_id, integration_id,
                     provider_id, webhook_url, channel, alert_uid, title, image_url, state,
                     external_url, tokens_set)
                 SELECT pk, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 FROM gate
                 RETURNING pk"
    };
}

const WRITE_EXISTING: &str = write_sql!(plain update_channel!());
const WRITE_NEW: &str = write_sql!(plain insert_channel!());
const CLAIM_EXISTING: &str = write_sql!(claiming update_channel!());
const CLAIM_NEW: &str = write_sql!(claiming insert_channel!());

/// Which subscriber row and channel a write goes to.
struct Target<'a> {
    subscriber_pk: i64,
    /// The subscriber's `_id`, which the channel's secrets are bound to (with the integration's).
    subscriber_id: &'a ObjectId,
    /// The subscriber row's `xmin` as read: the write happens only if it is unchanged.
    row_version: &'a str,
    env: &'a ObjectId,
    update: &'a CredentialsUpdate,
    /// Whether the subscriber already has a channel for this integration.
    exists: bool,
}

/// Why a pass of a credentials write wrote nothing, to be run again another way.
enum Retry {
    /// The subscriber row changed between the read and the write.
    Raced,
    /// The write claims a token that another subscriber holds and has nothing else to write:
    /// the release runs the locked way (see `claims`).
    MustClaim,
}

/// How one pass ended: the subscriber after the write (`None`: no such live subscriber), or
/// why nothing was written.
type Pass = std::result::Result<Option<Subscriber>, Retry>;

/// Whether a pass runs inside a transaction holding what the write needs (the subscriber's row
/// lock, and the advisory locks of the tokens it claims), or on its own.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Locks {
    Held,
    None,
}

/// `tokens` without repeats, each at its first place: what the `ON CONFLICT DO NOTHING` inserts
/// store for a list that repeats a token.
fn first_seen(tokens: Vec<String>) -> Vec<String> {
    let mut seen: Vec<String> = Vec::with_capacity(tokens.len());
    for token in tokens {
        if !seen.contains(&token) {
            seen.push(token);
        }
    }
    seen
}

impl PgStore {
    pub(crate) async fn update_credentials_once(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        update: &CredentialsUpdate,
    ) -> Result<Option<Subscriber>> {
        let claim = Claim::of(&self.vault, env, update);
        let mut conn = self.pool.acquire().await?;
        let outcome = self
            .pass(
                &mut conn,
                env,
                subscriber_id,
                update,
                &claim.hashes,
                Locks::None,
            )
            .await?;
        match outcome {
            Ok(subscriber) => return Ok(subscriber),
            Err(Retry::MustClaim) => {}
            Err(Retry::Raced) if claim.hashes.is_empty() => {
                // Another write reached this subscriber between our read and our write: do it
                // again holding the row lock, which every writer of this subscriber waits for.
                let mut tx = conn.begin().await?;
                if lock_live(&mut tx, env, subscriber_id).await?.is_none() {
                    return Ok(None);
                }
                let subscriber = self
                    .update_credentials_locked(&mut tx, env, subscriber_id, update)
                    .await?;
                tx.commit().await?;
                return Ok(subscriber);
            }
            // A claiming write that raced: the retry may now insert a claimed token.
            Err(Retry::Raced) => {}
        }
        self.claim_locked(&mut conn, env, subscriber_id, update, &claim)
            .await
    }

    /// A credentials write inside a transaction that already holds the subscriber's row lock
    /// and the advisory locks of the tokens the write claims (a create or bulk item writing its
    /// channels, see `claims::begin_claiming`). `None`: no such live subscriber.
    pub(crate) async fn update_credentials_locked(
        &self,
        tx: &mut PgConnection,
        env: &ObjectId,
        subscriber_id: &str,
        update: &CredentialsUpdate,
    ) -> Result<Option<Subscriber>> {
        let claim = Claim::of(&self.vault, env, update);
        let subscriber = self
            .pass_locked(tx, env, subscriber_id, update, &claim.hashes)
            .await?;
        if subscriber.is_some() {
            release_claimed(
                tx,
                env,
                subscriber_id,
                &update.integration_id,
                &claim.hashes,
            )
            .await?;
        }
        Ok(subscriber)
    }

    /// [`PgStore::pass`] holding the locks it needs, where it always writes (or finds nothing to).
    pub(crate) async fn pass_locked(
        &self,
        tx: &mut PgConnection,
        env: &ObjectId,
        subscriber_id: &str,
        update: &CredentialsUpdate,
        claimed: &[String],
    ) -> Result<Option<Subscriber>> {
        match self
            .pass(tx, env, subscriber_id, update, claimed, Locks::Held)
            .await?
        {
            Ok(subscriber) => Ok(subscriber),
            // Cannot happen: the row is locked, so it stays at the version just read.
            Err(Retry::Raced | Retry::MustClaim) => Err(Error::Store(StoreError::Conflict(
                format!("subscriber {subscriber_id:?} changed under its row lock; try again"),
            ))),
        }
    }

    /// Reads the subscriber, merges `update` into its channel and writes the result if the
    /// subscriber row is still as read. Without [`Locks::Held`], a write that would insert a
    /// token it claims (hashes in `claimed`), or claims one that another subscriber holds, first
    /// takes the tokens' advisory locks and takes the tokens from their other holders in the
    /// same statement: only a writer holding a token's lock may add a holder of it, which is what
    /// makes one owner per token atomic. Such a claim with nothing else to write answers
    /// [`Retry::MustClaim`].
    async fn pass(
        &self,
        conn: &mut PgConnection,
        env: &ObjectId,
        subscriber_id: &str,
        update: &CredentialsUpdate,
        claimed: &[String],
        locks: Locks,
    ) -> Result<Pass> {
        let read: Option<Read> = sqlx::query_as(READ)
            .bind(env.as_str())
            .bind(subscriber_id)
            .bind(update.integration_id.as_str())
            .bind(claimed)
            .fetch_optional(&mut *conn)
            .await?;
        let Some(read) = read else {
            return Ok(Ok(None));
        };
        let mut subscriber = read.subscriber.into_subscriber(&self.vault)?;
        let at = subscriber
            .channels
            .iter()
            .position(|c| c.integration_id == update.integration_id);
        let old = at.map(|i| &subscriber.channels[i]);
        let merged = update.merged(old.map(|c| &c.credentials))?;
        let old_tokens = old
            .and_then(|c| c.credentials.device_tokens.as_deref())
            .unwrap_or_default();
        // Without the locks, a write that would add a holder of a token it claims, or that
        // claims one another subscriber holds, takes the tokens' advisory locks first.
        let claiming = locks == Locks::None
            && !claimed.is_empty()
            && (read.claimed_elsewhere || inserts_claimed(update, old_tokens, &merged));
        if old.is_some_and(|c| c.credentials == merged && c.provider_id == update.provider_id) {
            // Nothing to write here; what other holders still hold is released the full way.
            return Ok(if claiming {
                Err(Retry::MustClaim)
            } else {
                Ok(Some(subscriber))
            });
        }
        follow_current_key(conn, &self.vault).await?;
        let target = Target {
            subscriber_pk: read.pk,
            subscriber_id: &subscriber.id,
            row_version: &read.row_version,
            env,
            update,
            exists: at.is_some(),
        };
        let now = now();
        let written = if claiming {
            // The tokens' locks, then the write that also releases them from their other
            // holders, as long as the subscriber row is still as read: five round trips in all.
            let claim = [Claim {
                integration: &update.integration_id,
                hashes: claimed.to_vec(),
            }];
            let mut tx = begin_claiming(conn, env, &claim).await?;
            let written = self
                .write(&mut tx, &target, old_tokens, &merged, now, Some(claimed))
                .await?;
            if written {
                tx.commit().await?;
            }
            written
        } else {
            self.write(conn, &target, old_tokens, &merged, now, None)
                .await?
        };
        if !written {
            return Ok(Err(Retry::Raced));
        }
        let identifier = match at {
            Some(i) => subscriber.channels[i].integration_identifier.take(),
            None => read.integration_identifier,
        };
        let mut credentials = merged;
        credentials.device_tokens = credentials.device_tokens.map(first_seen);
        let channel = ChannelSettings {
            provider_id: update.provider_id,
            integration_id: update.integration_id.clone(),
            integration_identifier: identifier,
            credentials,
        };
        match at {
            Some(i) => subscriber.channels[i] = channel,
            // A new channel's serial `pk` is above every existing one: it is listed last.
            None => subscriber.channels.push(channel),
        }
        subscriber.updated_at = Timestamp::from_millis(now);
        Ok(Ok(Some(subscriber)))
    }

    /// Stores `merged` as the channel's new state (its tokens were `old_tokens`), in one
    /// statement; `false` if the subscriber row is no longer at the version read. With
    /// `claimed` (hashes, under their advisory locks), the same statement takes those tokens
    /// from every other subscriber holding them for the integration.
    async fn write(
        &self,
        conn: &mut PgConnection,
        target: &Target<'_>,
        old_tokens: &[String],
        merged: &ChannelCredentials,
        now: i64,
        claimed: Option<&[String]>,
    ) -> Result<bool> {
        let env = target.env.as_str();
        let owner = Owner::Channel {
            subscriber: target.subscriber_id.as_str(),
            integration: target.update.integration_id.as_str(),
        };
        let fields = self.vault.seal_channel(env, owner, merged)?;
        let new_tokens = merged.device_tokens.as_deref().unwrap_or_default();
        let (remove, append): (Vec<&str>, &[String]) = match token_delta(old_tokens, new_tokens) {
            TokenDelta::Edit { remove, append } => (remove, append),
            TokenDelta::Rewrite(all) => (old_tokens.iter().map(String::as_str).collect(), all),
        };
        let removed: Vec<String> = remove
            .iter()
            .map(|t| self.vault.token_hash(env, t))
            .collect();
        let (mut sealed, mut hashes) = (Vec::new(), Vec::new());
        for token in append {
            let (s, h) = self.vault.seal_token(env, owner, token)?;
            sealed.push(s);
            hashes.push(h);
        }
        let update = target.update;
        let sql = match (target.exists, claimed.is_some()) {
            (true, false) => WRITE_EXISTING,
            (false, false) => WRITE_NEW,
            (true, true) => CLAIM_EXISTING,
            (false, true) => CLAIM_NEW,
        };
        let mut q = sqlx::query_as(sql)
            .bind(target.subscriber_pk)
            .bind(now)
            .bind(target.row_version)
            .bind(env)
            .bind(update.integration_id.as_str())
            .bind(update.provider_id.as_str());
        for f in fields {
            q = q.bind(f);
        }
        let q = q
            .bind(merged.device_tokens.is_some())
            .bind(removed)
            .bind(sealed)
            .bind(hashes);
        let q = match claimed {
            Some(claimed) => q.bind(claimed),
            None => q,
        };
        let written: (i64, i64) = q.fetch_one(conn).await?;
        match written {
            (0, _) => Ok(false),
            (1, 1) => Ok(true),
            // Cannot happen: every removal of a channel also changes its subscriber's row, so
            // the channel read with the row's version is still there.
            (_, n) => Err(corrupt(format!(
                "credentials write found {n} channels of integration {} on subscriber pk {}",
                update.integration_id, target.subscriber_pk
            ))),
        }
    }

    pub(crate) async fn delete_credentials_once(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        provider: ProviderId,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let Some(subscriber_pk) = lock_live(&mut tx, env, subscriber_id).await? else {
            return Ok(false);
        };
        let removed = sqlx::query(
            "DELETE FROM subscriber_channels WHERE subscriber_pk = $1 AND provider_id = $2",
        )
        .bind(subscriber_pk)
        .bind(provider.as_str())
        .execute(&mut *tx)
        .await?;
        if removed.rows_affected() > 0 {
            sqlx::query("UPDATE subscribers SET updated_at = $2 WHERE pk = $1")
                .bind(subscriber_pk)
                .bind(now())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(tokens: &[&str]) -> Vec<String> {
        tokens.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn an_append_only_inserts_the_new_tokens() {
        let (old, new) = (v(&["a", "b"]), v(&["a", "b", "c"]));
        assert_eq!(
            token_delta(&old, &new),
            TokenDelta::Edit {
                remove: vec![],
                append: &new[2..]
            }
        );
    }

    #[test]
    fn a_removal_keeps_the_survivors_rows() {
        let (old, new) = (v(&["a", "b", "c"]), v(&["a", "c", "d"]));
        assert_eq!(
            token_delta(&old, &new),
            TokenDelta::Edit {
                remove: vec!["b"],
                append: &new[2..]
            }
        );
        let empty = v(&[]);
        assert_eq!(
            token_delta(&old, &empty),
            TokenDelta::Edit {
                remove: vec!["a", "b", "c"],
                append: &[]
            }
        );
    }

    #[test]
    fn a_reordering_rewrites_every_row() {
        let (old, new) = (v(&["a", "b"]), v(&["b", "a"]));
        assert_eq!(token_delta(&old, &new), TokenDelta::Rewrite(&new));
        let (old, new) = (v(&["a", "b"]), v(&["c", "a", "b"]));
        assert_eq!(token_delta(&old, &new), TokenDelta::Rewrite(&new));
    }
}
