//! Integrations (the configured chat and push providers of an environment).
//!
//! Identifier uniqueness among an environment's non-deleted integrations is a partial unique index,
//! so two processes racing to take one identifier cannot both win; its violation becomes
//! `StoreError::Conflict`. `set_primary_integration` locks every integration of the channel type
//! first, so two racing calls cannot leave two primaries.

use async_trait::async_trait;
use herald_core::secrets::Vault;
use herald_core::{
    Integration, IntegrationPatch, IntegrationStore, NewIntegration, ObjectId, ProviderId,
    StoreError, StoreResult,
};
use sqlx::postgres::PgConnection;

use crate::error::{db, is_unique_violation, retrying, Error, Result};
use crate::rows::{json_text, now, IntegrationRow, INTEGRATION_COLUMNS};
use crate::secrets::follow_current_key;
use crate::PgStore;

/// The partial unique index on `(environment_id, identifier) WHERE NOT deleted`.
const IDENTIFIER_INDEX: &str = "integrations_identifier_unique";

/// Novu's message for a taken identifier.
pub(crate) const IDENTIFIER_TAKEN: &str = "Integration with identifier already exists";

fn identifier_conflict(e: sqlx::Error) -> Error {
    if is_unique_violation(&e, IDENTIFIER_INDEX) {
        Error::Store(StoreError::Conflict(IDENTIFIER_TAKEN.to_string()))
    } else {
        Error::Sql(e)
    }
}

fn convert(rows: Vec<IntegrationRow>, vault: &Vault) -> Result<Vec<Integration>> {
    rows.into_iter()
        .map(|r| r.into_integration(vault))
        .collect()
}

/// Locks a non-deleted integration of the environment for the rest of the transaction.
async fn lock_one(
    conn: &mut PgConnection,
    vault: &Vault,
    env: &ObjectId,
    id: &ObjectId,
) -> Result<Option<Integration>> {
    let row: Option<IntegrationRow> = sqlx::query_as(&format!(
        "SELECT {INTEGRATION_COLUMNS} FROM integrations
         WHERE environment_id = $1 AND id = $2 AND NOT deleted
         FOR UPDATE"
    ))
    .bind(env.as_str())
    .bind(id.as_str())
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.into_integration(vault)).transpose()
}

impl PgStore {
    async fn update_integration_once(
        &self,
        env: &ObjectId,
        id: &ObjectId,
        patch: &IntegrationPatch,
    ) -> Result<Option<Integration>> {
        let mut tx = self.pool.begin().await?;
        let Some(current) = lock_one(&mut tx, &self.vault, env, id).await? else {
            return Ok(None);
        };
        let mut next = current.clone();
        if let Some(name) = &patch.name {
            next.name.clone_from(name);
        }
        if let Some(identifier) = &patch.identifier {
            next.identifier.clone_from(identifier);
        }
        if let Some(credentials) = &patch.credentials {
            next.credentials.clone_from(credentials);
        }
        if let Some(active) = patch.active {
            next.active = active;
        }
        if let Some(conditions) = &patch.conditions {
            next.conditions.clone_from(conditions);
        }
        if next == current {
            tx.commit().await?;
            return Ok(Some(current));
        }
        follow_current_key(&mut tx, &self.vault).await?;
        let credentials =
            self.vault
                .seal_credentials(env.as_str(), id.as_str(), &next.credentials)?;
        let row: IntegrationRow = sqlx::query_as(&format!(
            "UPDATE integrations SET name = $2, identifier = $3, credentials = $4, active = $5,
                 conditions = $6, updated_at = $7
             WHERE id = $1
             RETURNING {INTEGRATION_COLUMNS}"
        ))
        .bind(id.as_str())
        .bind(&next.name)
        .bind(&next.identifier)
        .bind(credentials)
        .bind(next.active)
        .bind(json_text(&next.conditions))
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .map_err(identifier_conflict)?;
        tx.commit().await?;
        Ok(Some(row.into_integration(&self.vault)?))
    }

    async fn set_primary_once(&self, env: &ObjectId, id: &ObjectId) -> Result<Option<Integration>> {
        let mut tx = self.pool.begin().await?;
        // Lock the whole channel type of the environment, in key order, so concurrent calls
        // serialise instead of each clearing the others' not-yet-committed primary.
        let rows: Vec<IntegrationRow> = sqlx::query_as(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations
             WHERE environment_id = $1 AND NOT deleted AND channel =
                   (SELECT channel FROM integrations WHERE environment_id = $1 AND id = $2)
             ORDER BY pk
             FOR UPDATE"
        ))
        .bind(env.as_str())
        .bind(id.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let siblings = convert(rows, &self.vault)?;
        let Some(target) = siblings.iter().find(|i| &i.id == id).cloned() else {
            return Ok(None);
        };
        let others_primary = siblings.iter().any(|i| &i.id != id && i.primary);
        if target.primary && target.active && !others_primary {
            tx.commit().await?;
            return Ok(Some(target));
        }
        let now = now();
        sqlx::query(
            r#"UPDATE integrations SET "primary" = FALSE, updated_at = $4
               WHERE environment_id = $1 AND channel = $2 AND id <> $3 AND "primary"
                 AND NOT deleted"#,
        )
        .bind(env.as_str())
        .bind(target.channel.as_str())
        .bind(id.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let row: IntegrationRow = sqlx::query_as(&format!(
            r#"UPDATE integrations SET "primary" = TRUE, active = TRUE, updated_at = $2
               WHERE id = $1
               RETURNING {INTEGRATION_COLUMNS}"#
        ))
        .bind(id.as_str())
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Some(row.into_integration(&self.vault)?))
    }
}

#[async_trait]
impl IntegrationStore for PgStore {
    async fn list_integrations(&self, env: &ObjectId) -> StoreResult<Vec<Integration>> {
        let rows: Vec<IntegrationRow> = sqlx::query_as(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations
             WHERE environment_id = $1 AND NOT deleted
             ORDER BY created_at, pk"
        ))
        .bind(env.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(convert(rows, &self.vault)?)
    }

    async fn get_integration(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<Integration>> {
        let row: Option<IntegrationRow> = sqlx::query_as(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations
             WHERE environment_id = $1 AND id = $2 AND NOT deleted"
        ))
        .bind(env.as_str())
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(|r| r.into_integration(&self.vault)).transpose()?)
    }

    async fn create_integration(
        &self,
        env: &ObjectId,
        org: &ObjectId,
        new: &NewIntegration,
    ) -> StoreResult<Integration> {
        let mut conn = self.pool.acquire().await.map_err(db)?;
        follow_current_key(&mut conn, &self.vault).await?;
        let id = ObjectId::new();
        let credentials = self
            .vault
            .seal_credentials(env.as_str(), id.as_str(), &new.credentials)
            .map_err(StoreError::backend)?;
        // Chat and push integrations are never primary and keep priority 0 (Novu).
        let row: IntegrationRow = sqlx::query_as(&format!(
            r#"INSERT INTO integrations (id, environment_id, organization_id, provider_id, channel,
                   name, identifier, credentials, active, "primary", priority, conditions, deleted,
                   created_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, FALSE, 0, $10, FALSE, $11, $11)
               RETURNING {INTEGRATION_COLUMNS}"#
        ))
        .bind(id.as_str())
        .bind(env.as_str())
        .bind(org.as_str())
        .bind(new.provider_id.as_str())
        .bind(new.channel.as_str())
        .bind(&new.name)
        .bind(&new.identifier)
        .bind(credentials)
        .bind(new.active)
        .bind(json_text(&new.conditions))
        .bind(now())
        .fetch_one(&mut *conn)
        .await
        .map_err(identifier_conflict)?;
        Ok(row.into_integration(&self.vault)?)
    }

    async fn update_integration(
        &self,
        env: &ObjectId,
        id: &ObjectId,
        patch: &IntegrationPatch,
    ) -> StoreResult<Option<Integration>> {
        retrying(|| self.update_integration_once(env, id, patch)).await
    }

    async fn delete_integration(&self, env: &ObjectId, id: &ObjectId) -> StoreResult<bool> {
        let now = now();
        let done = sqlx::query(
            "UPDATE integrations SET deleted = TRUE, deleted_at = $3, updated_at = $3
             WHERE environment_id = $1 AND id = $2 AND NOT deleted",
        )
        .bind(env.as_str())
        .bind(id.as_str())
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_primary_integration(
        &self,
        env: &ObjectId,
        id: &ObjectId,
    ) -> StoreResult<Option<Integration>> {
        retrying(|| self.set_primary_once(env, id)).await
    }

    async fn find_active_integration(
        &self,
        env: &ObjectId,
        provider: ProviderId,
        identifier: Option<&str>,
    ) -> StoreResult<Option<Integration>> {
        let row: Option<IntegrationRow> = sqlx::query_as(&format!(
            "SELECT {INTEGRATION_COLUMNS} FROM integrations
             WHERE environment_id = $1 AND provider_id = $2 AND active AND NOT deleted
               AND ($3::text IS NULL OR identifier = $3)
             ORDER BY created_at DESC, pk DESC
             LIMIT 1"
        ))
        .bind(env.as_str())
        .bind(provider.as_str())
        .bind(identifier)
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(|r| r.into_integration(&self.vault)).transpose()?)
    }
}
