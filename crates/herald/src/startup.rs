//! Opening the store a database URL names (with the keys that encrypt its credentials, see
//! `secrets`), and the first-start bootstrap of tenancy and keys.

use std::sync::Arc;

use anyhow::{bail, Context};
use herald_core::tenancy::{generate_api_key, key_hint};
use herald_core::{KeyHash, Store};
use herald_store_postgres::{PgConfig, PgStore};
use herald_store_sqlite::{SqliteOptions, SqliteStore};

use crate::config::GlobalArgs;
use crate::metrics::Metrics;
use crate::secrets::{key_source, KeySource};

/// Opens (and migrates) the store named by the URL scheme, `sqlite:` or `postgres(ql)://`, with
/// the keys `HERALD_SECRET_KEY` or the key file give.
pub async fn open_store(global: &GlobalArgs) -> anyhow::Result<Arc<dyn Store>> {
    open_store_observed(global, None).await
}

/// [`open_store`], with a SQLite store reporting its group commits into `metrics`.
pub async fn open_store_observed(
    global: &GlobalArgs,
    metrics: Option<&Arc<Metrics>>,
) -> anyhow::Result<Arc<dyn Store>> {
    // What is wrong with the URL is said before anything about keys.
    check_url(&global.database_url)?;
    open(global, &key_source(global)?, metrics).await
}

fn check_url(url: &str) -> anyhow::Result<()> {
    let url = url.trim();
    if url.starts_with("sqlite:")
        || url.starts_with("postgres://")
        || url.starts_with("postgresql://")
    {
        return Ok(());
    }
    bail!(
        "unsupported database URL {:?}: use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
        crate::config::redact_url(url)
    )
}

/// Opens the store with the keys of `source`. A wrong key is one line naming the key ids; a key
/// file this start just created for a database encrypted with another key is removed again.
pub async fn open_store_with(
    global: &GlobalArgs,
    source: &KeySource,
) -> anyhow::Result<Arc<dyn Store>> {
    open(global, source, None).await
}

async fn open(
    global: &GlobalArgs,
    source: &KeySource,
    metrics: Option<&Arc<Metrics>>,
) -> anyhow::Result<Arc<dyn Store>> {
    let url = global.database_url.trim();
    let keys = source.provider();
    if url.starts_with("sqlite:") {
        let options = SqliteOptions {
            statement_timeout: global.statement_timeout(),
            write_observer: metrics.map(Metrics::sqlite_write_observer),
        };
        match SqliteStore::open_with(url, keys, options).await {
            Ok(store) => Ok(Arc::new(store)),
            Err(herald_store_sqlite::SqliteOpenError::Secrets(e)) => Err(wrong_key(source, e)),
            Err(e) => Err(e.into()),
        }
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let cfg = PgConfig {
            max_connections: global.pg_max_connections,
            statement_timeout: global.statement_timeout(),
            ..PgConfig::new(url)
        };
        match PgStore::connect(&cfg, keys).await {
            Ok(store) => Ok(Arc::new(store)),
            Err(herald_store_postgres::PgOpenError::Secrets(e)) => Err(wrong_key(source, e)),
            Err(e) => Err(e.into()),
        }
    } else {
        check_url(url)?;
        bail!("unsupported database URL")
    }
}

fn wrong_key(source: &KeySource, e: herald_core::secrets::UnlockError) -> anyhow::Error {
    match source {
        KeySource::Given(_) => anyhow::Error::new(e),
        KeySource::File {
            path,
            created: true,
            ..
        } => {
            // Nothing was encrypted with the key just generated: the open failed before.
            let _ = std::fs::remove_file(path);
            anyhow::anyhow!(
                "{e}, or restore the key file {} from your backup (none was found there)",
                path.display()
            )
        }
        KeySource::File { path, .. } => {
            anyhow::anyhow!("{e} (the keys were read from {})", path.display())
        }
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
