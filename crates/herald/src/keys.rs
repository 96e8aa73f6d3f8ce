//! `herald keys create|list|revoke`: API-key management from the command line, against the same
//! database the server uses.

use anyhow::{bail, Context};
use herald_core::tenancy::{generate_api_key, key_hint};
use herald_core::{KeyHash, ObjectId, Store};

use crate::config::KeysCommand;

pub async fn run(store: &dyn Store, cmd: &KeysCommand) -> anyhow::Result<()> {
    match cmd {
        KeysCommand::Create { environment } => {
            let envs = store.list_environments().await?;
            let Some(env) = envs
                .iter()
                .find(|e| e.name.eq_ignore_ascii_case(environment))
            else {
                let names: Vec<_> = envs.iter().map(|e| e.name.as_str()).collect();
                bail!(
                    "no environment named {environment:?}; environments: {}",
                    names.join(", ")
                );
            };
            let key = generate_api_key();
            let info = store
                .add_api_key(&env.id, &KeyHash::of(&key), &key_hint(&key))
                .await?
                .context("the environment disappeared while creating the key")?;
            println!(
                "Created API key {} for {} (shown only once):",
                info.id, env.name
            );
            println!("{key}");
        }
        KeysCommand::List => {
            println!(
                "{:<24}  {:<12}  {:<6}  {:<24}  REVOKED",
                "ID", "ENVIRONMENT", "ENDS", "CREATED"
            );
            for k in store.list_api_keys().await? {
                println!(
                    "{:<24}  {:<12}  {:<6}  {:<24}  {}",
                    k.id.as_str(),
                    k.environment_name,
                    format!("…{}", k.hint),
                    k.created_at.to_iso(),
                    k.revoked_at
                        .map(|t| t.to_iso())
                        .unwrap_or_else(|| "-".into())
                );
            }
        }
        KeysCommand::Revoke { id } => {
            let Some(oid) = ObjectId::parse(id) else {
                bail!("{id:?} is not a key id (24 hex characters)")
            };
            if store.revoke_api_key(&oid).await? {
                println!("Revoked API key {id}. Running servers stop accepting it within their auth cache time (5 s by default).");
            } else {
                bail!("no active API key with id {id}");
            }
        }
    }
    Ok(())
}
