//! Subscriber profiles: list, get, upsert, bulk upsert, update, soft delete, online status. The
//! profile merge itself is [`Profile::apply`] from core; this module only reads the stored profile,
//! applies the patch and writes the columns back when something changed, all inside one write job
//! so that no other write can interleave.

use async_trait::async_trait;
use herald_core::secrets::Vault;
use herald_core::topic::{CursorPage, CursorQuery, SubscriberFilter};
use herald_core::{
    BulkOutcome, CredentialsUpdate, NewSubscriber, ObjectId, Profile, ProviderId, StoreResult,
    Subscriber, SubscriberPatch, SubscriberStore, SubscriberWrite, Timestamp,
};
use rusqlite::{Connection, OptionalExtension};

use crate::connection::fold_needle;
use crate::error::{DbError, DbResult};
use crate::paging::{fetch_page, text, Listing};
use crate::rows::{
    attach_channels, find_live_subscriber, find_live_subscriber_key, load_subscriber,
    SUBSCRIBER_COLUMNS,
};
use crate::SqliteStore;
use crate::{credentials, subscriptions};

/// Any stored row for this id, deleted or not: `(pk, deleted)`.
pub(crate) fn find_any(
    conn: &Connection,
    env: &ObjectId,
    subscriber_id: &str,
) -> DbResult<Option<(i64, bool)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT pk, deleted FROM subscribers WHERE environment_id = ?1 AND subscriber_id = ?2",
    )?;
    Ok(stmt
        .query_row((env.as_str(), subscriber_id), |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?)
}

/// Inserts a new subscriber row and returns its `pk`.
pub(crate) fn insert(
    conn: &Connection,
    env: &ObjectId,
    org: &ObjectId,
    new: &NewSubscriber,
    version: Option<i64>,
    now: i64,
) -> DbResult<i64> {
    let p = &new.profile;
    let [first_name, last_name, email, phone, avatar, locale, timezone] = p.text_columns();
    let mut stmt = conn.prepare_cached(
        "INSERT INTO subscribers (id, environment_id, organization_id, subscriber_id,
             first_name, last_name, email, phone, avatar, locale, timezone, data, null_mask,
             deleted, version, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, 0, ?14, ?15, ?15)",
    )?;
    stmt.execute(rusqlite::params![
        ObjectId::new().as_str(),
        env.as_str(),
        org.as_str(),
        new.subscriber_id,
        first_name,
        last_name,
        email,
        phone,
        avatar,
        locale,
        timezone,
        p.data_column(),
        p.null_mask(),
        version,
        now,
    ])?;
    Ok(conn.last_insert_rowid())
}

/// Writes the profile columns (and `updated_at`) of row `pk`.
fn write_profile(conn: &Connection, pk: i64, p: &Profile, now: i64) -> DbResult<()> {
    let [first_name, last_name, email, phone, avatar, locale, timezone] = p.text_columns();
    conn.prepare_cached(
        "UPDATE subscribers SET first_name = ?2, last_name = ?3, email = ?4, phone = ?5,
             avatar = ?6, locale = ?7, timezone = ?8, data = ?9, null_mask = ?10, updated_at = ?11
         WHERE pk = ?1",
    )?
    .execute(rusqlite::params![
        pk,
        first_name,
        last_name,
        email,
        phone,
        avatar,
        locale,
        timezone,
        p.data_column(),
        p.null_mask(),
        now,
    ])?;
    Ok(())
}

/// Applies `patch` to the stored profile of `pk`; writes (moving `updated_at`) only on change.
fn apply_patch(
    conn: &Connection,
    pk: i64,
    current: &Profile,
    patch: &Profile,
    now: i64,
) -> DbResult<bool> {
    let mut profile = current.clone();
    if !profile.apply(patch) {
        return Ok(false);
    }
    write_profile(conn, pk, &profile, now)?;
    Ok(true)
}

/// The full subscriber stored under `pk`, unless it has been deleted.
fn load_live_subscriber(conn: &Connection, vault: &Vault, pk: i64) -> DbResult<Option<Subscriber>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE pk = ?1 AND deleted = 0"
    ))?;
    let Some(row) = stmt.query_row([pk], crate::rows::subscriber).optional()? else {
        return Ok(None);
    };
    Ok(attach_channels(conn, vault, vec![row])?.pop())
}

fn profile_of(conn: &Connection, pk: i64) -> DbResult<Profile> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE pk = ?1"
    ))?;
    Ok(stmt.query_row([pk], crate::rows::subscriber)?.1.profile)
}

/// The upsert of `POST /v1/subscribers` and `POST /v2/subscribers`, then its channels, in one
/// write job: an error anywhere rolls back the job's savepoint, profile included.
fn upsert(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    org: &ObjectId,
    new: &NewSubscriber,
    patch: &SubscriberPatch,
    channels: &[CredentialsUpdate],
) -> DbResult<(Subscriber, bool)> {
    let now = Timestamp::now().millis();
    let (pk, created) = match find_any(conn, env, &new.subscriber_id)? {
        Some((pk, false)) => {
            let current = profile_of(conn, pk)?;
            apply_patch(conn, pk, &current, &patch.profile, now)?;
            (pk, false)
        }
        Some((pk, true)) => {
            // A fresh subscriber, not a revival: new `_id`, new `createdAt`, only the new profile,
            // and a new `pk` so that it lists as the newest. Its channels went with the delete.
            conn.prepare_cached("DELETE FROM subscribers WHERE pk = ?1")?
                .execute([pk])?;
            (insert(conn, env, org, new, Some(0), now)?, true)
        }
        None => (insert(conn, env, org, new, Some(0), now)?, true),
    };
    write_channels(conn, vault, env, &new.subscriber_id, channels)?;
    Ok((load_subscriber(conn, vault, pk)?, created))
}

/// Upserts `item` the way `/bulk` does (Novu's bulkWrite) and reports whether it was created.
fn bulk_upsert_one(
    conn: &Connection,
    env: &ObjectId,
    org: &ObjectId,
    item: &NewSubscriber,
    now: i64,
) -> DbResult<BulkOutcome> {
    Ok(match find_any(conn, env, &item.subscriber_id)? {
        None => {
            // Novu's bulk upsert creates documents without `__v`.
            insert(conn, env, org, item, None, now)?;
            BulkOutcome::Created
        }
        Some((pk, deleted)) => {
            let current = profile_of(conn, pk)?;
            if deleted {
                // Novu's bulkWrite is not soft-delete filtered: it sets the given fields
                // and `deleted: false` on the old document, keeping its id and createdAt.
                conn.prepare_cached(
                    "UPDATE subscribers SET deleted = 0, deleted_at = NULL, updated_at = ?2
                     WHERE pk = ?1",
                )?
                .execute((pk, now))?;
            }
            apply_patch(conn, pk, &current, &item.profile, now)?;
            BulkOutcome::Updated
        }
    })
}

/// Writes each of `channels` to the live subscriber `subscriber_id`, in order.
fn write_channels(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    subscriber_id: &str,
    channels: &[CredentialsUpdate],
) -> DbResult<()> {
    for update in channels {
        credentials::update(conn, vault, env, subscriber_id, update)?;
    }
    Ok(())
}

/// The whole `/bulk` request inside the writer job's savepoint, each item inside its own nested
/// savepoint: an item rejected for what it asks ([`StoreError::rejects_input`]) is rolled back
/// alone and reported; any other error fails the job, and with it every item.
fn bulk_write(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    org: &ObjectId,
    items: &[SubscriberWrite],
) -> DbResult<Vec<StoreResult<BulkOutcome>>> {
    let now = Timestamp::now().millis();
    let statement = |sql: &str| -> DbResult<()> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        statement("SAVEPOINT item")?;
        let written = bulk_upsert_one(conn, env, org, &item.subscriber, now).and_then(|outcome| {
            write_channels(
                conn,
                vault,
                env,
                &item.subscriber.subscriber_id,
                &item.channels,
            )?;
            Ok(outcome)
        });
        match written {
            Ok(outcome) => outcomes.push(Ok(outcome)),
            Err(DbError::Store(e)) if e.rejects_input() => {
                statement("ROLLBACK TO item")?;
                outcomes.push(Err(e));
            }
            Err(e) => return Err(e),
        }
        statement("RELEASE item")?;
    }
    Ok(outcomes)
}

fn update(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    subscriber_id: &str,
    patch: &SubscriberPatch,
) -> DbResult<Option<Subscriber>> {
    let Some((pk, current)) = find_live_subscriber(conn, env, subscriber_id)? else {
        return Ok(None);
    };
    apply_patch(
        conn,
        pk,
        &current.profile,
        &patch.profile,
        Timestamp::now().millis(),
    )?;
    Ok(Some(load_subscriber(conn, vault, pk)?))
}

fn delete(conn: &Connection, env: &ObjectId, subscriber_id: &str) -> DbResult<bool> {
    let now = Timestamp::now().millis();
    let pk: Option<i64> = conn
        .prepare_cached(
            "UPDATE subscribers SET deleted = 1, deleted_at = ?3
             WHERE environment_id = ?1 AND subscriber_id = ?2 AND deleted = 0
             RETURNING pk",
        )?
        .query_row((env.as_str(), subscriber_id, now), |r| r.get(0))
        .optional()?;
    let Some(pk) = pk else { return Ok(false) };
    // Tokens go with their channels (ON DELETE CASCADE).
    conn.prepare_cached("DELETE FROM subscriber_channels WHERE subscriber_pk = ?1")?
        .execute([pk])?;
    subscriptions::drop_memberships(conn, pk)?;
    Ok(true)
}

fn set_online(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    subscriber_id: &str,
    online: bool,
    now: Timestamp,
) -> DbResult<Option<Subscriber>> {
    let Some((pk, current)) = find_live_subscriber(conn, env, subscriber_id)? else {
        return Ok(None);
    };
    let last_online_at = if online {
        current.last_online_at
    } else {
        Some(now)
    };
    if current.is_online != Some(online) || current.last_online_at != last_online_at {
        conn.prepare_cached(
            "UPDATE subscribers SET is_online = ?2, last_online_at = ?3, updated_at = ?4
             WHERE pk = ?1",
        )?
        .execute((
            pk,
            online,
            last_online_at.map(Timestamp::millis),
            Timestamp::now().millis(),
        ))?;
    }
    Ok(Some(load_subscriber(conn, vault, pk)?))
}

/// The v2 search: every given filter is a case-insensitive substring match (`herald_contains`);
/// `name` matches the first name, the last name, or both joined by a space.
fn search(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    filter: &SubscriberFilter,
    page: &CursorQuery,
) -> DbResult<CursorPage<Subscriber>> {
    let mut list = Listing {
        columns: SUBSCRIBER_COLUMNS,
        from_where: "FROM subscribers WHERE environment_id = ? AND deleted = 0".into(),
        params: vec![text(env.as_str())],
        pk: "pk",
        cursor_table: "subscribers",
    };
    for (column, value) in [
        ("subscriber_id", &filter.subscriber_id),
        ("email", &filter.email),
        ("phone", &filter.phone),
    ] {
        if let Some(value) = value {
            list.and(
                &format!("herald_contains({column}, ?)"),
                [text(&fold_needle(value))],
            );
        }
    }
    if let Some(name) = &filter.name {
        let name = fold_needle(name);
        list.and(
            "(herald_contains(first_name, ?) OR herald_contains(last_name, ?)
              OR herald_contains(first_name || ' ' || last_name, ?))",
            [text(&name), text(&name), text(&name)],
        );
    }
    let page = fetch_page(conn, &list, env, page, |row| {
        let (pk, s) = crate::rows::subscriber(row)?;
        Ok((pk, (pk, s)))
    })?;
    Ok(CursorPage {
        items: attach_channels(conn, vault, page.items)?,
        has_next: page.has_next,
        has_previous: page.has_previous,
        total: page.total,
    })
}

#[async_trait]
impl SubscriberStore for SqliteStore {
    async fn list_subscribers(
        &self,
        env: &ObjectId,
        offset: u64,
        limit: u64,
    ) -> StoreResult<Vec<Subscriber>> {
        let (env, vault) = (env.clone(), self.vault.clone());
        let (offset, limit) = (clamp(offset), clamp(limit));
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {SUBSCRIBER_COLUMNS} FROM subscribers
                     WHERE environment_id = ?1 AND deleted = 0
                     ORDER BY pk LIMIT ?2 OFFSET ?3"
                ))?;
                let rows = stmt
                    .query_map((env.as_str(), limit, offset), crate::rows::subscriber)?
                    .collect::<Result<Vec<_>, _>>()?;
                attach_channels(conn, &vault, rows)
            })
            .await
    }

    async fn get_subscriber(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
    ) -> StoreResult<Option<Subscriber>> {
        let (env, subscriber_id) = (env.clone(), subscriber_id.to_string());
        let vault = self.vault.clone();
        self.readers
            .lookup(move |conn| {
                let Some(row) = find_live_subscriber(conn, &env, &subscriber_id)? else {
                    return Ok(None);
                };
                Ok(attach_channels(conn, &vault, vec![row])?.pop())
            })
            .await
    }

    async fn upsert_subscriber_with_channels(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewSubscriber,
        patch: &SubscriberPatch,
        channels: &[CredentialsUpdate],
    ) -> StoreResult<(Subscriber, bool)> {
        let (env, org, new, patch) = (env.clone(), org.clone(), new.clone(), patch.clone());
        let (channels, vault) = (channels.to_vec(), self.vault.clone());
        self.writer
            .write(move |conn| upsert(conn, &vault, &env, &org, &new, &patch, &channels))
            .await
    }

    async fn bulk_write_subscribers(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        items: &[SubscriberWrite],
    ) -> StoreResult<Vec<StoreResult<BulkOutcome>>> {
        let (env, org, items) = (env.clone(), org.clone(), items.to_vec());
        let vault = self.vault.clone();
        self.writer
            .write(move |conn| bulk_write(conn, &vault, &env, &org, &items))
            .await
    }

    async fn update_subscriber(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        patch: &SubscriberPatch,
    ) -> StoreResult<Option<Subscriber>> {
        let (env, sid, patch) = (env.clone(), subscriber_id.to_string(), patch.clone());
        let vault = self.vault.clone();
        self.writer
            .write(move |conn| update(conn, &vault, &env, &sid, &patch))
            .await
    }

    async fn delete_subscriber(&self, env: &ObjectId, subscriber_id: &str) -> StoreResult<bool> {
        let (env, sid) = (env.clone(), subscriber_id.to_string());
        self.writer
            .write(move |conn| delete(conn, &env, &sid))
            .await
    }

    async fn set_online(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        online: bool,
        now: Timestamp,
    ) -> StoreResult<Option<Subscriber>> {
        let (env, sid, vault) = (env.clone(), subscriber_id.to_string(), self.vault.clone());
        self.writer
            .write(move |conn| set_online(conn, &vault, &env, &sid, online, now))
            .await
    }

    async fn update_credentials(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        update: &CredentialsUpdate,
    ) -> StoreResult<Option<Subscriber>> {
        let (env, sid) = (env.clone(), subscriber_id.to_string());
        let vault = self.vault.clone();
        // The tokens are hashed and encrypted here, off the single writer thread; encrypting
        // binds them to the subscriber's `_id`, read first (the writer re-checks it: a subscriber
        // re-created under the same id in between gets its tokens encrypted there instead).
        let subscriber = if update.credentials.device_tokens.is_some() {
            let (env, sid) = (env.clone(), sid.clone());
            self.readers
                .lookup(move |conn| find_live_subscriber_key(conn, &env, &sid))
                .await?
                .map(|(_, id)| id)
        } else {
            None
        };
        let prepared = credentials::Prepared::new(&vault, &env, update, subscriber)
            .map_err(herald_core::StoreError::from)?;
        let write_vault = vault.clone();
        let written = self
            .writer
            .write(move |conn| {
                credentials::update_prepared(conn, &write_vault, &env, &sid, &prepared)
            })
            .await?;
        let Some(pk) = written else {
            return Ok(None);
        };
        // The write is committed; the response is read from a snapshot at least that recent, by
        // the calling thread, so the writer thread does not spend its time decrypting every
        // channel of the subscriber. Like Novu (an update, then a find), a write committed
        // meanwhile may show; a subscriber deleted meanwhile is not found.
        self.readers
            .lookup(move |conn| load_live_subscriber(conn, &vault, pk))
            .await
    }

    async fn remove_device_tokens(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        provider: ProviderId,
        tokens: &[String],
    ) -> StoreResult<Option<Subscriber>> {
        let (env, sid, tokens) = (env.clone(), subscriber_id.to_string(), tokens.to_vec());
        let vault = self.vault.clone();
        let write_vault = vault.clone();
        let written = self
            .writer
            .write(move |conn| {
                credentials::remove_tokens(conn, &write_vault, &env, &sid, provider, &tokens)
            })
            .await?;
        let Some(pk) = written else {
            return Ok(None);
        };
        // Read after the commit, as `update_credentials` does.
        self.readers
            .lookup(move |conn| load_live_subscriber(conn, &vault, pk))
            .await
    }

    async fn search_subscribers(
        &self,
        env: &ObjectId,
        filter: &SubscriberFilter,
        page: &CursorQuery,
    ) -> StoreResult<CursorPage<Subscriber>> {
        let (env, filter, page) = (env.clone(), filter.clone(), page.clone());
        let vault = self.vault.clone();
        self.readers
            .read(move |conn| search(conn, &vault, &env, &filter, &page))
            .await
    }

    async fn delete_credentials(
        &self,
        env: &ObjectId,
        subscriber_id: &str,
        provider: ProviderId,
    ) -> StoreResult<bool> {
        let (env, sid) = (env.clone(), subscriber_id.to_string());
        self.writer
            .write(move |conn| credentials::delete(conn, &env, &sid, provider))
            .await
    }
}

/// SQLite integers are signed; paging values past `i64::MAX` mean "everything" anyway.
fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
