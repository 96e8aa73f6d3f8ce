//! Integrations (configured providers). Deleted integrations stay as rows (soft delete) so that old
//! channel bindings keep their id, but every query here filters them out. Identifier uniqueness is
//! checked before writing, for a readable `Conflict`, and also enforced by a partial unique index
//! over non-deleted rows. "Newest" means highest `created_at`, ties broken by insertion order.

use async_trait::async_trait;
use herald_core::secrets::Vault;
use herald_core::{
    Integration, IntegrationPatch, IntegrationStore, NewIntegration, ObjectId, ProviderId,
    StoreError, StoreResult, Timestamp,
};
use rusqlite::{Connection, OptionalExtension};
use serde_json::Value;

use crate::error::{DbError, DbResult};
use crate::rows::{integration, INTEGRATION_COLUMNS};
use crate::secrets::follow_current_key;
use crate::SqliteStore;

fn find(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    id: &ObjectId,
) -> DbResult<Option<Integration>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {INTEGRATION_COLUMNS} FROM integrations
         WHERE environment_id = ?1 AND id = ?2 AND deleted = 0"
    ))?;
    Ok(stmt
        .query_row((env.as_str(), id.as_str()), |r| integration(r, vault))
        .optional()?)
}

/// `Conflict` if a non-deleted integration of `env` other than `except` uses `identifier`.
fn check_identifier_free(
    conn: &Connection,
    env: &ObjectId,
    identifier: &str,
    except: Option<&ObjectId>,
) -> DbResult<()> {
    let taken = conn
        .prepare_cached(
            "SELECT 1 FROM integrations
             WHERE environment_id = ?1 AND identifier = ?2 AND deleted = 0
               AND (?3 IS NULL OR id != ?3)",
        )?
        .exists((env.as_str(), identifier, except.map(ObjectId::as_str)))?;
    if taken {
        return Err(DbError::Store(StoreError::Conflict(format!(
            "an integration with identifier {identifier:?} already exists in this environment"
        ))));
    }
    Ok(())
}

fn create(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    org: &ObjectId,
    new: &NewIntegration,
) -> DbResult<Integration> {
    check_identifier_free(conn, env, &new.identifier, None)?;
    follow_current_key(conn, vault)?;
    let id = ObjectId::new();
    let credentials = vault.seal_credentials(env.as_str(), id.as_str(), &new.credentials)?;
    let now = Timestamp::now().millis();
    conn.prepare_cached(
        "INSERT INTO integrations (id, environment_id, organization_id, provider_id, channel,
             name, identifier, credentials, active, \"primary\", priority, conditions, deleted,
             created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0, 0, ?10, 0, ?11, ?11)",
    )?
    .execute(rusqlite::params![
        id.as_str(),
        env.as_str(),
        org.as_str(),
        new.provider_id.as_str(),
        new.channel.as_str(),
        new.name,
        new.identifier,
        credentials,
        new.active,
        Value::Array(new.conditions.clone()).to_string(),
        now,
    ])?;
    find(conn, vault, env, &id)?.ok_or(DbError::Sql(rusqlite::Error::QueryReturnedNoRows))
}

fn update(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    id: &ObjectId,
    patch: &IntegrationPatch,
) -> DbResult<Option<Integration>> {
    let Some(mut current) = find(conn, vault, env, id)? else {
        return Ok(None);
    };
    if patch.is_empty() {
        return Ok(Some(current));
    }
    if let Some(identifier) = &patch.identifier {
        check_identifier_free(conn, env, identifier, Some(id))?;
        current.identifier = identifier.clone();
    }
    if let Some(name) = &patch.name {
        current.name = name.clone();
    }
    if let Some(credentials) = &patch.credentials {
        current.credentials = credentials.clone();
    }
    if let Some(active) = patch.active {
        current.active = active;
    }
    if let Some(conditions) = &patch.conditions {
        current.conditions = conditions.clone();
    }
    follow_current_key(conn, vault)?;
    let credentials = vault.seal_credentials(env.as_str(), id.as_str(), &current.credentials)?;
    conn.prepare_cached(
        "UPDATE integrations SET name = ?2, identifier = ?3, credentials = ?4, active = ?5,
             conditions = ?6, updated_at = ?7
         WHERE id = ?1",
    )?
    .execute(rusqlite::params![
        id.as_str(),
        current.name,
        current.identifier,
        credentials,
        current.active,
        Value::Array(current.conditions).to_string(),
        Timestamp::now().millis(),
    ])?;
    find(conn, vault, env, id)
}

fn delete(conn: &Connection, env: &ObjectId, id: &ObjectId) -> DbResult<bool> {
    let now = Timestamp::now().millis();
    let changed = conn
        .prepare_cached(
            "UPDATE integrations SET deleted = 1, deleted_at = ?3, updated_at = ?3
             WHERE environment_id = ?1 AND id = ?2 AND deleted = 0",
        )?
        .execute((env.as_str(), id.as_str(), now))?;
    Ok(changed > 0)
}

fn set_primary(
    conn: &Connection,
    vault: &Vault,
    env: &ObjectId,
    id: &ObjectId,
) -> DbResult<Option<Integration>> {
    let Some(target) = find(conn, vault, env, id)? else {
        return Ok(None);
    };
    let now = Timestamp::now().millis();
    conn.prepare_cached(
        "UPDATE integrations SET \"primary\" = 0, updated_at = ?4
         WHERE environment_id = ?1 AND channel = ?2 AND id != ?3 AND deleted = 0
           AND \"primary\" = 1",
    )?
    .execute((env.as_str(), target.channel.as_str(), id.as_str(), now))?;
    if !(target.primary && target.active) {
        conn.prepare_cached(
            "UPDATE integrations SET \"primary\" = 1, active = 1, updated_at = ?2 WHERE id = ?1",
        )?
        .execute((id.as_str(), now))?;
    }
    find(conn, vault, env, id)
}

#[async_trait]
impl IntegrationStore for SqliteStore {
    async fn list_integrations(&self, env: &ObjectId) -> StoreResult<Vec<Integration>> {
        let (env, vault) = (env.clone(), self.vault.clone());
        self.readers
            .read(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {INTEGRATION_COLUMNS} FROM integrations
                     WHERE environment_id = ?1 AND deleted = 0
                     ORDER BY created_at, pk"
                ))?;
                let list = stmt
                    .query_map([env.as_str()], |r| integration(r, &vault))?
                    .collect::<Result<_, _>>()?;
                Ok(list)
            })
            .await
    }

    async fn get_integration(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<Integration>> {
        let (env, id, vault) = (env.clone(), id.clone(), self.vault.clone());
        self.readers
            .lookup(move |conn| find(conn, &vault, &env, &id))
            .await
    }

    async fn create_integration(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewIntegration,
    ) -> StoreResult<Integration> {
        let (env, org, new) = (env.clone(), org.clone(), new.clone());
        let vault = self.vault.clone();
        self.writer
            .write(move |conn| create(conn, &vault, &env, &org, &new))
            .await
    }

    async fn update_integration(
        &self,
        env: &ObjectId,
        id: &ObjectId,
        patch: &IntegrationPatch,
    ) -> StoreResult<Option<Integration>> {
        let (env, id, patch) = (env.clone(), id.clone(), patch.clone());
        let vault = self.vault.clone();
        self.writer
            .write(move |conn| update(conn, &vault, &env, &id, &patch))
            .await
    }

    async fn delete_integration(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool> {
        let (env, id) = (env.clone(), id.clone());
        self.writer.write(move |conn| delete(conn, &env, &id)).await
    }

    async fn set_primary_integration(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<Integration>> {
        let (env, id, vault) = (env.clone(), id.clone(), self.vault.clone());
        self.writer
            .write(move |conn| set_primary(conn, &vault, &env, &id))
            .await
    }

    async fn find_active_integration(
        &self,
        env: &ObjectId,
        provider: ProviderId,
        identifier: Option<&str>,
    ) -> StoreResult<Option<Integration>> {
        let (env, identifier) = (env.clone(), identifier.map(str::to_string));
        let vault = self.vault.clone();
        self.readers
            .lookup(move |conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {INTEGRATION_COLUMNS} FROM integrations
                     WHERE environment_id = ?1 AND provider_id = ?2 AND active = 1 AND deleted = 0
                       AND (?3 IS NULL OR identifier = ?3)
                     ORDER BY created_at DESC, pk DESC LIMIT 1"
                ))?;
                let found = stmt
                    .query_row((env.as_str(), provider.as_str(), identifier), |r| {
                        integration(r, &vault)
                    })
                    .optional()?;
                Ok(found)
            })
            .await
    }
}
