//! Subscribers: listing, reading, creating (one by one and in bulk), profile updates, soft delete
//! and online status. Credentials writes live in `credentials.rs`; a create or `/bulk` that
//! writes channels takes the locks of the device tokens they claim at its `BEGIN` (`claims`).
//!
//! Creation is race-free across processes: an insert is `INSERT … ON CONFLICT DO NOTHING` on the
//! `(environment_id, subscriber_id)` key, and a read-modify-write of an existing subscriber first
//! locks its row with `SELECT … FOR UPDATE`. Under READ COMMITTED every statement sees the rows
//! committed before it started, so a loser of an insert race finds the winner's row on its next
//! `SELECT … FOR UPDATE`.

use async_trait::async_trait;
use herald_core::secrets::Vault;
use herald_core::topic::{CursorPage, CursorQuery, SubscriberFilter};
use herald_core::{
    BulkOutcome, CredentialsUpdate, NewSubscriber, ObjectId, Profile, ProviderId, StoreError,
    StoreResult, Subscriber, SubscriberPatch, SubscriberStore, SubscriberWrite, Timestamp,
};
use sqlx::postgres::PgConnection;
use sqlx::{Connection, FromRow};

use crate::claims::{begin_claiming, Claim};
use crate::error::{db, retrying, Error, Result};
use crate::pagination::{fold_collation, page_keys, push_contains};
use crate::rows::{now, ProfileRow, SubscriberRow, PROFILE_COLUMNS, SELECT_SUBSCRIBER};
use crate::PgStore;

/// Rounds of "lock or insert" before giving up; each lost round means another transaction created
/// or deleted the same subscriber in between, so more than a couple never happen in practice.
pub(crate) const UPSERT_ROUNDS: usize = 8;

/// The subscriber with this row key, with its channels, whether deleted or not.
pub(crate) async fn read_by_pk(
    conn: &mut PgConnection,
    vault: &Vault,
    pk: i64,
) -> Result<Subscriber> {
    let row: SubscriberRow = sqlx::query_as(&format!("{SELECT_SUBSCRIBER} WHERE s.pk = $1"))
        .bind(pk)
        .fetch_one(conn)
        .await?;
    row.into_subscriber(vault)
}

/// Locks a non-deleted subscriber's row for the rest of the transaction and returns its key.
pub(crate) async fn lock_live(
    conn: &mut PgConnection,
    env: &ObjectId,
    subscriber_id: &str,
) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(
        "SELECT pk FROM subscribers
         WHERE environment_id = $1 AND subscriber_id = $2 AND NOT deleted
         FOR UPDATE",
    )
    .bind(env.as_str())
    .bind(subscriber_id)
    .fetch_optional(conn)
    .await?)
}

#[derive(FromRow)]
pub(crate) struct Locked {
    pub(crate) pk: i64,
    pub(crate) deleted: bool,
    #[sqlx(flatten)]
    profile: ProfileRow,
}

/// Locks the subscriber's row (deleted or not) and returns what a profile update needs.
pub(crate) async fn lock_any(
    conn: &mut PgConnection,
    env: &ObjectId,
    subscriber_id: &str,
) -> Result<Option<Locked>> {
    Ok(sqlx::query_as(&format!(
        "SELECT pk, deleted, {PROFILE_COLUMNS} FROM subscribers
         WHERE environment_id = $1 AND subscriber_id = $2
         FOR UPDATE"
    ))
    .bind(env.as_str())
    .bind(subscriber_id)
    .fetch_optional(conn)
    .await?)
}

/// Inserts a subscriber unless one with that id exists (deleted or not); its key if inserted.
pub(crate) async fn insert(
    conn: &mut PgConnection,
    env: &ObjectId,
    org: &ObjectId,
    new: &NewSubscriber,
    version: Option<i64>,
    now: i64,
) -> Result<Option<i64>> {
    let [c0, c1, c2, c3, c4, c5, c6] = new.profile.text_columns();
    Ok(sqlx::query_scalar(&format!(
        "INSERT INTO subscribers (id, environment_id, organization_id, subscriber_id,
             {PROFILE_COLUMNS}, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
         ON CONFLICT (environment_id, subscriber_id) DO NOTHING
         RETURNING pk"
    ))
    .bind(ObjectId::new().as_str())
    .bind(env.as_str())
    .bind(org.as_str())
    .bind(&new.subscriber_id)
    .bind(c0)
    .bind(c1)
    .bind(c2)
    .bind(c3)
    .bind(c4)
    .bind(c5)
    .bind(c6)
    .bind(new.profile.data_column())
    .bind(new.profile.null_mask())
    .bind(version)
    .bind(now)
    .fetch_optional(conn)
    .await?)
}

/// Writes the whole profile, un-deletes the row (a no-op for live rows) and bumps `updated_at`.
async fn write_profile(
    conn: &mut PgConnection,
    pk: i64,
    profile: &Profile,
    now: i64,
) -> Result<()> {
    let [c0, c1, c2, c3, c4, c5, c6] = profile.text_columns();
    sqlx::query(
        "UPDATE subscribers SET
             first_name = $2, last_name = $3, email = $4, phone = $5, avatar = $6, locale = $7,
             timezone = $8, data = $9, null_mask = $10, deleted = FALSE, deleted_at = NULL,
             updated_at = $11
         WHERE pk = $1",
    )
    .bind(pk)
    .bind(c0)
    .bind(c1)
    .bind(c2)
    .bind(c3)
    .bind(c4)
    .bind(c5)
    .bind(c6)
    .bind(profile.data_column())
    .bind(profile.null_mask())
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub(crate) fn unsettled(subscriber_id: &str) -> Error {
    Error::Store(StoreError::Conflict(format!(
        "subscriber {subscriber_id:?} kept changing under concurrent writes; try again"
    )))
}

impl PgStore {
    /// Locks or inserts the subscriber as an upsert does, inside `tx`; its key and whether it
    /// was created.
    async fn upsert_in(
        tx: &mut PgConnection,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewSubscriber,
        patch: &SubscriberPatch,
        now: i64,
    ) -> Result<(i64, bool)> {
        for _ in 0..UPSERT_ROUNDS {
            match lock_any(tx, env, &new.subscriber_id).await? {
                Some(row) if !row.deleted => {
                    let mut profile = row.profile.into_profile();
                    if profile.apply(&patch.profile) {
                        write_profile(tx, row.pk, &profile, now).await?;
                    }
                    return Ok((row.pk, false));
                }
                // A soft-deleted subscriber is replaced by a fresh one: a new row (new `_id`,
                // new position in lists, no channels), not a revival of the old one.
                Some(row) => {
                    sqlx::query("DELETE FROM subscribers WHERE pk = $1")
                        .bind(row.pk)
                        .execute(&mut *tx)
                        .await?;
                }
                None => {}
            }
            if let Some(pk) = insert(tx, env, org, new, Some(0), now).await? {
                return Ok((pk, true));
            }
            // Another transaction inserted it after our SELECT: lock theirs on the next round.
        }
        Err(unsettled(&new.subscriber_id))
    }

    /// Writes `channels` in order to the subscriber whose row `tx` holds locked.
    async fn write_channels_in(
        &self,
        tx: &mut PgConnection,
        env: &ObjectId,
        subscriber_id: &str,
        channels: &[CredentialsUpdate],
    ) -> Result<()> {
        for update in channels {
            self.update_credentials_locked(tx, env, subscriber_id, update)
                .await?;
        }
        Ok(())
    }

    async fn upsert_once(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewSubscriber,
        patch: &SubscriberPatch,
        channels: &[CredentialsUpdate],
    ) -> Result<(Subscriber, bool)> {
        // The tokens the channels claim are locked first, before any row (see `claims`).
        let claims: Vec<Claim<'_>> = channels
            .iter()
            .map(|u| Claim::of(&self.vault, env, u))
            .collect();
        let mut conn = self.pool.acquire().await?;
        let mut tx = begin_claiming(&mut conn, env, &claims).await?;
        let (pk, created) = Self::upsert_in(&mut tx, env, org, new, patch, now()).await?;
        self.write_channels_in(&mut tx, env, &new.subscriber_id, channels)
            .await?;
        let subscriber = read_by_pk(&mut tx, &self.vault, pk).await?;
        tx.commit().await?;
        Ok((subscriber, created))
    }

    /// Upserts one `/bulk` item inside `tx` (Novu's bulkWrite) and reports whether it was created.
    async fn bulk_upsert_in(
        tx: &mut PgConnection,
        env: &ObjectId,
        org: &ObjectId,
        item: &NewSubscriber,
        now: i64,
    ) -> Result<BulkOutcome> {
        for _ in 0..UPSERT_ROUNDS {
            // Subscribers created by a bulk upsert have no `__v`, as in Novu.
            if insert(tx, env, org, item, None, now).await?.is_some() {
                return Ok(BulkOutcome::Created);
            }
            if let Some(row) = lock_any(tx, env, &item.subscriber_id).await? {
                let mut profile = row.profile.into_profile();
                // A soft-deleted subscriber is revived in place, keeping its fields.
                if profile.apply(&item.profile) || row.deleted {
                    write_profile(tx, row.pk, &profile, now).await?;
                }
                return Ok(BulkOutcome::Updated);
            }
        }
        Err(unsettled(&item.subscriber_id))
    }

    /// The whole `/bulk` request in one transaction, each item inside its own savepoint: an item
    /// rejected for what it asks ([`StoreError::rejects_input`]) is rolled back alone and
    /// reported; any other error fails the transaction, and with it every item.
    async fn bulk_once(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        items: &[SubscriberWrite],
    ) -> Result<Vec<StoreResult<BulkOutcome>>> {
        // Every token any item claims is locked first, before any row (see `claims`).
        let claims: Vec<Claim<'_>> = items
            .iter()
            .flat_map(|item| &item.channels)
            .map(|u| Claim::of(&self.vault, env, u))
            .collect();
        let mut conn = self.pool.acquire().await?;
        let mut tx = begin_claiming(&mut conn, env, &claims).await?;
        let now = now();
        let mut outcomes = Vec::with_capacity(items.len());
        for item in items {
            let mut savepoint = Connection::begin(&mut *tx).await?;
            let written =
                match Self::bulk_upsert_in(&mut savepoint, env, org, &item.subscriber, now).await {
                    Ok(outcome) => self
                        .write_channels_in(
                            &mut savepoint,
                            env,
                            &item.subscriber.subscriber_id,
                            &item.channels,
                        )
                        .await
                        .map(|()| outcome),
                    Err(e) => Err(e),
                };
            match written {
                Ok(outcome) => {
                    savepoint.commit().await?;
                    outcomes.push(Ok(outcome));
                }
                Err(Error::Store(e)) if e.rejects_input() => {
                    savepoint.rollback().await?;
                    outcomes.push(Err(e));
                }
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        Ok(outcomes)
    }

    async fn update_once(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        patch: &SubscriberPatch,
    ) -> Result<Option<Subscriber>> {
        let mut tx = self.pool.begin().await?;
        let Some(row) = lock_any(&mut tx, env, subscriber_id)
            .await?
            .filter(|r| !r.deleted)
        else {
            return Ok(None);
        };
        let mut profile = row.profile.into_profile();
        if profile.apply(&patch.profile) {
            write_profile(&mut tx, row.pk, &profile, now()).await?;
        }
        let subscriber = read_by_pk(&mut tx, &self.vault, row.pk).await?;
        tx.commit().await?;
        Ok(Some(subscriber))
    }

    async fn delete_once(&self, env: &ObjectId, subscriber_id: &str) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        let now = now();
        let pk: Option<i64> = sqlx::query_scalar(
            "UPDATE subscribers SET deleted = TRUE, deleted_at = $3
             WHERE environment_id = $1 AND subscriber_id = $2 AND NOT deleted
             RETURNING pk",
        )
        .bind(env.as_str())
        .bind(subscriber_id)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(pk) = pk else { return Ok(false) };
        // Device tokens go with their channels (ON DELETE CASCADE). The row stays (soft delete),
        // so its memberships are removed here rather than by the foreign key's cascade.
        sqlx::query("DELETE FROM subscriber_channels WHERE subscriber_pk = $1")
            .bind(pk)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM topic_subscriptions WHERE subscriber_pk = $1")
            .bind(pk)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn search_once(
        &self,
        env: &ObjectId,
        filter: &SubscriberFilter,
        page: &CursorQuery,
    ) -> Result<CursorPage<Subscriber>> {
        let collation = fold_collation(self).await?;
        let mut scan = self.scan().await?;
        let keys = page_keys(&mut scan, env, "subscribers", page, |q| {
            q.push("SELECT s.pk FROM subscribers s WHERE s.environment_id = ")
                .push_bind(env.as_str().to_owned())
                .push(" AND NOT s.deleted");
            let columns = [
                ("s.subscriber_id", &filter.subscriber_id),
                ("s.email", &filter.email),
                ("s.phone", &filter.phone),
            ];
            for (column, needle) in columns {
                if let Some(needle) = needle {
                    q.push(" AND ");
                    push_contains(q, collation, column, needle);
                }
            }
            if let Some(name) = &filter.name {
                // "first last" is NULL when either part is, so it only matches full names.
                let names = [
                    "s.first_name",
                    "s.last_name",
                    "(s.first_name || ' ' || s.last_name)",
                ];
                q.push(" AND (FALSE");
                for column in names {
                    q.push(" OR ");
                    push_contains(q, collation, column, name);
                }
                q.push(")");
            }
        })
        .await?;
        let rows: Vec<SubscriberRow> = sqlx::query_as(&format!(
            "{SELECT_SUBSCRIBER}
             JOIN UNNEST($1::bigint[]) WITH ORDINALITY AS o(pk, n) ON o.pk = s.pk
             ORDER BY o.n"
        ))
        .bind(&keys.pks)
        .fetch_all(&mut *scan)
        .await?;
        scan.finish().await?;
        let subscribers = rows
            .into_iter()
            .map(|row| row.into_subscriber(&self.vault))
            .collect::<Result<_>>()?;
        Ok(keys.with_items(subscribers))
    }

    async fn set_online_once(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        online: bool,
        now: Timestamp,
    ) -> Result<Option<Subscriber>> {
        let mut tx = self.pool.begin().await?;
        let Some(pk) = lock_live(&mut tx, env, subscriber_id).await? else {
            return Ok(None);
        };
        // Written (and `updated_at` moved) only when the status or `lastOnlineAt` changes.
        sqlx::query(
            "UPDATE subscribers SET
                 is_online = $2,
                 last_online_at = CASE WHEN $2 THEN last_online_at ELSE $3 END,
                 updated_at = $4
             WHERE pk = $1
               AND (is_online IS DISTINCT FROM $2 OR (NOT $2 AND last_online_at IS DISTINCT FROM $3))",
        )
        .bind(pk)
        .bind(online)
        .bind(now.millis())
        .bind(crate::rows::now())
        .execute(&mut *tx)
        .await?;
        let subscriber = read_by_pk(&mut tx, &self.vault, pk).await?;
        tx.commit().await?;
        Ok(Some(subscriber))
    }
}

#[async_trait]
impl SubscriberStore for PgStore {
    async fn list_subscribers(
        &self,
        env: &ObjectId,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<Subscriber>> {
        let clamp = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        // An offset walks every row before the page: a scan.
        let list = async {
            let mut scan = self.scan().await?;
            let rows: Vec<SubscriberRow> = sqlx::query_as(&format!(
                "{SELECT_SUBSCRIBER}
                 WHERE s.environment_id = $1 AND NOT s.deleted
                 ORDER BY s.pk OFFSET $2 LIMIT $3"
            ))
            .bind(env.as_str())
            .bind(clamp(offset))
            .bind(clamp(limit))
            .fetch_all(&mut *scan)
            .await?;
            scan.finish().await?;
            rows.into_iter()
                .map(|row| row.into_subscriber(&self.vault))
                .collect::<Result<Vec<_>>>()
        };
        Ok(list.await?)
    }

    async fn get_subscriber(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
    ) -> StoreResult<Option<Subscriber>> {
        let row: Option<SubscriberRow> = sqlx::query_as(&format!(
            "{SELECT_SUBSCRIBER}
             WHERE s.environment_id = $1 AND s.subscriber_id = $2 AND NOT s.deleted"
        ))
        .bind(env.as_str())
        .bind(subscriber_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row
            .map(|row| row.into_subscriber(&self.vault))
            .transpose()?)
    }

    async fn upsert_subscriber_with_channels(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewSubscriber,
        patch: &SubscriberPatch,
        channels: &[CredentialsUpdate],
    ) -> StoreResult<(Subscriber, bool)> {
        retrying(|| self.upsert_once(env, org, new, patch, channels)).await
    }

    async fn bulk_write_subscribers(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        items: &[SubscriberWrite],
    ) -> StoreResult<Vec<StoreResult<BulkOutcome>>> {
        retrying(|| self.bulk_once(env, org, items)).await
    }

    async fn update_subscriber(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        patch: &SubscriberPatch,
    ) -> StoreResult<Option<Subscriber>> {
        retrying(|| self.update_once(env, subscriber_id, patch)).await
    }

    async fn delete_subscriber(&self, env: &ObjectId, subscriber_id: &str) -> StoreResult<bool> {
        retrying(|| self.delete_once(env, subscriber_id)).await
    }

    async fn set_online(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        online: bool,
        now: Timestamp,
    ) -> StoreResult<Option<Subscriber>> {
        retrying(|| self.set_online_once(env, subscriber_id, online, now)).await
    }

    async fn update_credentials(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        update: &CredentialsUpdate,
    ) -> StoreResult<Option<Subscriber>> {
        retrying(|| self.update_credentials_once(env, subscriber_id, update)).await
    }

    async fn remove_device_tokens(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        provider: ProviderId,
        tokens: &[String],
    ) -> StoreResult<Option<Subscriber>> {
        retrying(|| self.remove_device_tokens_once(env, subscriber_id, provider, tokens)).await
    }

    async fn search_subscribers(
        &self,
        env: &ObjectId,
        filter: &SubscriberFilter,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<Subscriber>> {
        Ok(self.search_once(env, filter, page).await?)
    }

    async fn delete_credentials(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        provider: ProviderId,
    ) -> StoreResult<bool> {
        retrying(|| self.delete_credentials_once(env, subscriber_id, provider)).await
    }
}
