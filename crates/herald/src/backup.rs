//! `herald backup --to FILE`: an online copy of a SQLite database (see
//! `herald_store_sqlite::backup`), and what must be kept with it.
//!
//! The copy holds the credentials encrypted, so it is useless without the key that encrypts
//! them; the command says which key ids that is and where this process would read them from,
//! and warns when that place does not hold them all. It reads the key file without creating
//! one (a backup must not make a fresh key beside a database it cannot open). On PostgreSQL
//! it does nothing and says how to use `pg_dump`, which is the right tool there.

use std::path::Path;

use anyhow::{bail, Context};
use herald_core::secrets::Keyring;

use crate::config::{redact_url, GlobalArgs};

/// Runs `herald backup --to FILE`.
pub async fn run(global: &GlobalArgs, to: &Path) -> anyhow::Result<()> {
    let url = global.database_url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        bail!("{}", postgres_advice(url, to));
    }
    let database = herald_store_sqlite::database_path(url)?;
    let (from, dest) = (database.clone(), to.to_owned());
    let report = tokio::task::spawn_blocking(move || herald_store_sqlite::backup(&from, &dest))
        .await
        .context("the backup task failed")??;
    println!(
        "Backed up {} to {} ({} bytes, schema version {}): a consistent copy as of one commit.",
        database.display(),
        to.display(),
        report.bytes,
        report.schema_version
    );
    let ids = report.key_ids.join(", ");
    println!(
        "Its stored credentials are encrypted with key id {ids}. Keep that key with this backup: \
         without it they cannot be read (subscriber profiles, topics and workflows can)."
    );
    println!("{}", key_location(global, &database, &report.key_ids));
    Ok(())
}

/// Where this process's keys are, and whether they are all there.
fn key_location(global: &GlobalArgs, database: &Path, needed: &[String]) -> String {
    let (place, text) = if let Some(keys) = global.secret_key.as_deref().filter(|k| !k.is_empty()) {
        (
            "HERALD_SECRET_KEY (or --secret-key)".to_string(),
            Ok(keys.to_string()),
        )
    } else {
        let path = global.secret_key_file.clone().unwrap_or_else(|| {
            let mut name = database.as_os_str().to_owned();
            name.push(".key");
            name.into()
        });
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string());
        (format!("the key file {}", path.display()), text)
    };
    let held = text
        .map_err(|e| format!("cannot read it: {e}"))
        .and_then(|t| Keyring::parse(&t).map_err(|e| format!("it holds no valid key: {e}")));
    match held {
        Ok(keyring) => {
            let missing: Vec<&str> = needed
                .iter()
                .filter(|id| !keyring.ids().iter().any(|k| k.as_str() == id.as_str()))
                .map(String::as_str)
                .collect();
            if missing.is_empty() {
                format!("This process holds that key in {place}: back it up too, kept apart from the copy.")
            } else {
                format!(
                    "WARNING: {place} lacks key id {}; find that key before relying on this backup.",
                    missing.join(", ")
                )
            }
        }
        Err(e) => format!("WARNING: the key should be in {place}, but {e}."),
    }
}

/// What to run instead on PostgreSQL.
fn postgres_advice(url: &str, to: &Path) -> String {
    format!(
        "herald backup copies SQLite databases; for PostgreSQL use pg_dump (it makes a consistent \
         copy while Herald runs):\n  \
         pg_dump --format=custom --file={} '{}'\n\
         Restore into an empty database with:\n  \
         pg_restore --no-owner --dbname='<new database URL>' {}\n\
         Keep HERALD_SECRET_KEY with the dump: the credentials in it are encrypted with that key.",
        to.display(),
        redact_url(url),
        to.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_postgres_advice_names_pg_dump_and_hides_the_password() {
        let advice = postgres_advice(
            "postgres://herald:s3cret@db:5432/herald",
            Path::new("herald.dump"),
        );
        assert!(
            advice.contains(
                "pg_dump --format=custom --file=herald.dump 'postgres://herald:***@db:5432/herald'"
            ),
            "{advice}"
        );
        assert!(!advice.contains("s3cret"), "{advice}");
    }
}
