//! Organization, environments and API keys. Bootstrap runs as one write job, so "is the database
//! empty?" and "create everything" (with each environment's `General` notification group) happen
//! in one `IMMEDIATE` transaction: two processes racing on a fresh file cannot both create an
//! organization.

use async_trait::async_trait;
use herald_core::workflow::GENERAL_GROUP;
use herald_core::{
    ApiKeyInfo, AuthContext, Environment, EnvironmentStore, KeyHash, ObjectId, StoreResult,
    Timestamp,
};
use rusqlite::{Connection, OptionalExtension, Row};

use crate::error::DbResult;
use crate::SqliteStore;

const ORGANIZATION_NAME: &str = "Herald";

/// Bootstrap keys are created from their hashes only, so there is no key to take a hint from.
const NO_HINT: &str = "";

const API_KEY_COLUMNS: &str = "k.id, k.environment_id, e.name, k.hint, k.created_at, k.revoked_at";

fn api_key(row: &Row) -> rusqlite::Result<ApiKeyInfo> {
    Ok(ApiKeyInfo {
        id: ObjectId::from_stored(row.get(0)?),
        environment_id: ObjectId::from_stored(row.get(1)?),
        environment_name: row.get(2)?,
        hint: row.get(3)?,
        created_at: Timestamp::from_millis(row.get(4)?),
        revoked_at: row.get::<_, Option<i64>>(5)?.map(Timestamp::from_millis),
    })
}

fn environment(row: &Row) -> rusqlite::Result<Environment> {
    Ok(Environment {
        id: ObjectId::from_stored(row.get(0)?),
        organization_id: ObjectId::from_stored(row.get(1)?),
        name: row.get(2)?,
    })
}

fn insert_key(
    conn: &Connection,
    env: &ObjectId,
    hash: &KeyHash,
    hint: &str,
    now: i64,
) -> DbResult<()> {
    conn.prepare_cached(
        "INSERT INTO api_keys (id, environment_id, key_hash, hint, created_at, revoked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, NULL)",
    )?
    .execute((
        ObjectId::new().as_str(),
        env.as_str(),
        hash.as_str(),
        hint,
        now,
    ))?;
    Ok(())
}

fn find_key(conn: &Connection, hash: &KeyHash) -> DbResult<Option<ApiKeyInfo>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {API_KEY_COLUMNS} FROM api_keys k JOIN environments e ON e.id = k.environment_id
         WHERE k.key_hash = ?1"
    ))?;
    Ok(stmt.query_row([hash.as_str()], api_key).optional()?)
}

fn bootstrap(conn: &Connection, keys: [KeyHash; 2]) -> DbResult<Option<Vec<Environment>>> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM organizations LIMIT 1")?
        .exists([])?;
    if exists {
        return Ok(None);
    }
    let now = Timestamp::now().millis();
    let org = ObjectId::new();
    conn.prepare_cached("INSERT INTO organizations (id, name, created_at) VALUES (?1, ?2, ?3)")?
        .execute((org.as_str(), ORGANIZATION_NAME, now))?;
    let mut envs = Vec::with_capacity(2);
    for (name, hash) in ["Development", "Production"].into_iter().zip(&keys) {
        let env = Environment {
            id: ObjectId::new(),
            organization_id: org.clone(),
            name: name.to_string(),
        };
        conn.prepare_cached(
            "INSERT INTO environments (id, organization_id, name, created_at)
             VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute((env.id.as_str(), org.as_str(), name, now))?;
        insert_key(conn, &env.id, hash, NO_HINT, now)?;
        crate::workflows::ensure_group(conn, &env.id, &org, GENERAL_GROUP)?;
        envs.push(env);
    }
    Ok(Some(envs))
}

#[async_trait]
impl EnvironmentStore for SqliteStore {
    async fn bootstrap(
        &self,
        development: &KeyHash,
        production: &KeyHash,
    ) -> StoreResult<Option<Vec<Environment>>> {
        let keys = [development.clone(), production.clone()];
        self.writer.write(move |conn| bootstrap(conn, keys)).await
    }

    async fn list_environments(&self) -> StoreResult<Vec<Environment>> {
        self.readers
            .read(|conn| {
                // rowid breaks created_at ties: Development was inserted before Production.
                let mut stmt = conn.prepare_cached(
                    "SELECT id, organization_id, name FROM environments ORDER BY created_at, rowid",
                )?;
                let envs = stmt.query_map([], environment)?.collect::<Result<_, _>>()?;
                Ok(envs)
            })
            .await
    }

    async fn authenticate(&self, hash: &KeyHash) -> StoreResult<Option<AuthContext>> {
        let hash = hash.clone();
        self.readers
            .lookup(move |conn| {
                let mut stmt = conn.prepare_cached(
                    "SELECT k.environment_id, e.organization_id, k.id
                     FROM api_keys k JOIN environments e ON e.id = k.environment_id
                     WHERE k.key_hash = ?1 AND k.revoked_at IS NULL",
                )?;
                let ctx = stmt
                    .query_row([hash.as_str()], |row| {
                        Ok(AuthContext {
                            environment_id: ObjectId::from_stored(row.get(0)?),
                            organization_id: ObjectId::from_stored(row.get(1)?),
                            api_key_id: ObjectId::from_stored(row.get(2)?),
                        })
                    })
                    .optional()?;
                Ok(ctx)
            })
            .await
    }

    async fn add_api_key(
        &self,
        environment_id: &ObjectId,
        hash: &KeyHash,
        hint: &str,
    ) -> StoreResult<Option<ApiKeyInfo>> {
        let (env, hash, hint) = (environment_id.clone(), hash.clone(), hint.to_string());
        self.writer
            .write(move |conn| {
                let env_exists = conn
                    .prepare_cached("SELECT 1 FROM environments WHERE id = ?1")?
                    .exists([env.as_str()])?;
                if !env_exists {
                    return Ok(None);
                }
                if let Some(existing) = find_key(conn, &hash)? {
                    return Ok(Some(existing));
                }
                insert_key(conn, &env, &hash, &hint, Timestamp::now().millis())?;
                find_key(conn, &hash)
            })
            .await
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyInfo>> {
        self.readers
            .read(|conn| {
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {API_KEY_COLUMNS}
                     FROM api_keys k JOIN environments e ON e.id = k.environment_id
                     ORDER BY k.created_at, k.rowid"
                ))?;
                let keys = stmt.query_map([], api_key)?.collect::<Result<_, _>>()?;
                Ok(keys)
            })
            .await
    }

    async fn revoke_api_key(&self, id: &ObjectId) -> StoreResult<bool> {
        let id = id.clone();
        self.writer
            .write(move |conn| {
                let changed = conn
                    .prepare_cached(
                        "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    )?
                    .execute((id.as_str(), Timestamp::now().millis()))?;
                Ok(changed > 0)
            })
            .await
    }
}
