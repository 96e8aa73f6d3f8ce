//! Opening the store a database URL names, and the first-start bootstrap of tenancy and keys.

use std::sync::Arc;

use anyhow::{bail, Context};
use herald_core::tenancy::{generate_api_key, key_hint};
use herald_core::{KeyHash, Store};
use herald_store_postgres::{PgConfig, PgStore};
use herald_store_sqlite::SqliteStore;

use crate::config::GlobalArgs;

/// Opens (and migrates) the store named by the URL scheme: `sqlite:` or `postgres(ql)://`.
pub async fn open_store(global: &GlobalArgs) -> anyhow::Result<Arc<dyn Store>> {
    let url = global.database_url.trim();
    if url.starts_with("sqlite:") {
        let store = SqliteStore::open(url).await?;
        Ok(Arc::new(store))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let cfg = PgConfig {
            max_connections: global.pg_max_connections,
            ..PgConfig::new(url)
        };
        let store = PgStore::connect(&cfg).await?;
        Ok(Arc::new(store))
    } else {
        bail!(
            "unsupported database URL {:?}: use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            crate::config::redact_url(url)
        )
    }
}

/// A key to show the user once.
pub struct NewKey {
    pub environment: String,
    pub key: String,
}

/// On an empty database, creates the organization and its two environments and returns their
/// fresh keys (Development's is `seed` when given). On an existing database, makes sure `seed`
/// (if any) is a Development key and returns nothing to print.
pub async fn bootstrap(store: &dyn Store, seed: Option<&str>) -> anyhow::Result<Vec<NewKey>> {
    let dev_key = seed.map(str::to_string).unwrap_or_else(generate_api_key);
    let prod_key = generate_api_key();
    let created = store
        .bootstrap(&KeyHash::of(&dev_key), &KeyHash::of(&prod_key))
        .await
        .context("creating the organization and environments")?;
    if let Some(envs) = created {
        let mut keys = Vec::new();
        for (env, key) in envs.iter().zip([dev_key, prod_key]) {
            // A key the user chose needs no printing, and printing it would put a secret in logs.
            if seed.is_some() && env.name == "Development" {
                continue;
            }
            keys.push(NewKey {
                environment: env.name.clone(),
                key,
            });
        }
        return Ok(keys);
    }
    if let Some(seed) = seed {
        let dev = store
            .list_environments()
            .await?
            .into_iter()
            .find(|e| e.name == "Development")
            .context("the database has no Development environment")?;
        store
            .add_api_key(&dev.id, &KeyHash::of(seed), &key_hint(seed))
            .await?;
    }
    Ok(Vec::new())
}
