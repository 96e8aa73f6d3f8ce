//! Organization, environments and API keys.
//!
//! `bootstrap` (the organization, its two environments with a key and a `General` notification
//! group each) must create the organization exactly once even when several Herald processes start
//! on an empty database together: it takes a transaction-scoped advisory lock, then checks for an
//! organization, so the losers wait and then see the winner's rows.

use async_trait::async_trait;
use herald_core::workflow::GENERAL_GROUP;
use herald_core::{
    ApiKeyInfo, AuthContext, Environment, EnvironmentStore, KeyHash, ObjectId, StoreResult,
    Timestamp,
};
use sqlx::FromRow;

use crate::error::{db, retrying, Result};
use crate::rows::now;
use crate::PgStore;

/// Advisory lock key serialising `bootstrap` across processes ("herald" + 2 in ASCII).
const BOOTSTRAP_LOCK: i64 = 0x6865_7261_6c64_0002;

const ORGANIZATION_NAME: &str = "Herald";

#[derive(FromRow)]
struct EnvironmentRow {
    id: String,
    organization_id: String,
    name: String,
}

impl From<EnvironmentRow> for Environment {
    fn from(r: EnvironmentRow) -> Self {
        Environment {
            id: ObjectId::from_stored(r.id),
            organization_id: ObjectId::from_stored(r.organization_id),
            name: r.name,
        }
    }
}

#[derive(FromRow)]
struct ApiKeyRow {
    id: String,
    environment_id: String,
    environment_name: String,
    hint: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

impl From<ApiKeyRow> for ApiKeyInfo {
    fn from(r: ApiKeyRow) -> Self {
        ApiKeyInfo {
            id: ObjectId::from_stored(r.id),
            environment_id: ObjectId::from_stored(r.environment_id),
            environment_name: r.environment_name,
            hint: r.hint,
            created_at: Timestamp::from_millis(r.created_at),
            revoked_at: r.revoked_at.map(Timestamp::from_millis),
        }
    }
}

const SELECT_API_KEY: &str = "
SELECT k.id, k.environment_id, e.name AS environment_name, k.hint, k.created_at, k.revoked_at
FROM api_keys k JOIN environments e ON e.id = k.environment_id";

impl PgStore {
    async fn bootstrap_once(
        &self,
        development: &KeyHash,
        production: &KeyHash,
    ) -> Result<Option<Vec<Environment>>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(BOOTSTRAP_LOCK)
            .execute(&mut *tx)
            .await?;
        let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM organizations)")
            .fetch_one(&mut *tx)
            .await?;
        if exists {
            return Ok(None);
        }
        let now = now();
        let org = ObjectId::new();
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(org.as_str())
            .bind(ORGANIZATION_NAME)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        let mut envs = Vec::with_capacity(2);
        for (name, hash) in [("Development", development), ("Production", production)] {
            let env = ObjectId::new();
            sqlx::query(
                "INSERT INTO environments (id, organization_id, name, created_at)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(env.as_str())
            .bind(org.as_str())
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            // The trait hands over hashes only, so bootstrap keys carry no hint.
            sqlx::query(
                "INSERT INTO api_keys (id, environment_id, key_hash, hint, created_at)
                 VALUES ($1, $2, $3, '', $4)",
            )
            .bind(ObjectId::new().as_str())
            .bind(env.as_str())
            .bind(hash.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            crate::workflows::ensure_group(&mut tx, &env, &org, GENERAL_GROUP).await?;
            envs.push(Environment {
                id: env,
                organization_id: org.clone(),
                name: name.to_string(),
            });
        }
        tx.commit().await?;
        Ok(Some(envs))
    }
}

#[async_trait]
impl EnvironmentStore for PgStore {
    async fn bootstrap(
        &self,
        development: &KeyHash,
        production: &KeyHash,
    ) -> StoreResult<Option<Vec<Environment>>> {
        retrying(|| self.bootstrap_once(development, production)).await
    }

    async fn list_environments(&self) -> StoreResult<Vec<Environment>> {
        // Development and Production are created in the same millisecond; the name breaks the tie
        // in the order bootstrap returns them.
        let rows: Vec<EnvironmentRow> = sqlx::query_as(
            "SELECT id, organization_id, name FROM environments ORDER BY created_at, name, id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(Environment::from).collect())
    }

    async fn authenticate(&self, hash: &KeyHash) -> StoreResult<Option<AuthContext>> {
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT k.id, e.id, e.organization_id
             FROM api_keys k JOIN environments e ON e.id = k.environment_id
             WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind(hash.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db)?;
        Ok(row.map(|(key, env, org)| AuthContext {
            environment_id: ObjectId::from_stored(env),
            organization_id: ObjectId::from_stored(org),
            api_key_id: ObjectId::from_stored(key),
        }))
    }

    async fn add_api_key(
        &self,
        environment_id: &ObjectId,
        hash: &KeyHash,
        hint: &str,
    ) -> StoreResult<Option<ApiKeyInfo>> {
        let run = async {
            let mut conn = self.pool.acquire().await?;
            // Inserting through a SELECT on environments makes "no such environment" and the
            // insert one statement; ON CONFLICT keeps an existing key (revoked or not) unchanged.
            sqlx::query(
                "INSERT INTO api_keys (id, environment_id, key_hash, hint, created_at)
                 SELECT $1, e.id, $3, $4, $5 FROM environments e WHERE e.id = $2
                 ON CONFLICT (key_hash) DO NOTHING",
            )
            .bind(ObjectId::new().as_str())
            .bind(environment_id.as_str())
            .bind(hash.as_str())
            .bind(hint)
            .bind(now())
            .execute(&mut *conn)
            .await?;
            let env_exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM environments WHERE id = $1)")
                    .bind(environment_id.as_str())
                    .fetch_one(&mut *conn)
                    .await?;
            if !env_exists {
                return Ok(None);
            }
            let row: Option<ApiKeyRow> =
                sqlx::query_as(&format!("{SELECT_API_KEY} WHERE k.key_hash = $1"))
                    .bind(hash.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
            Ok::<_, crate::error::Error>(row.map(ApiKeyInfo::from))
        };
        Ok(run.await?)
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyInfo>> {
        let rows: Vec<ApiKeyRow> = sqlx::query_as(&format!(
            "{SELECT_API_KEY} ORDER BY k.created_at, e.created_at, e.name, k.id"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(db)?;
        Ok(rows.into_iter().map(ApiKeyInfo::from).collect())
    }

    async fn revoke_api_key(&self, id: &ObjectId) -> StoreResult<bool> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(id.as_str())
                .bind(now())
                .execute(&self.pool)
                .await
                .map_err(db)?;
        Ok(done.rows_affected() == 1)
    }
}
