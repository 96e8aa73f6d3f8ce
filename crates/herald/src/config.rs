//! Command line and configuration. Each setting has a default in code, can be set through a
//! `HERALD_*` environment variable, and a command-line flag overrides both. Secrets are redacted in
//! `Debug` output.

use std::fmt;
use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "herald",
    version,
    about = "Herald: a self-hostable notification server that speaks Novu's REST API",
    long_about = "Herald: a self-hostable notification server that speaks Novu's REST API.\n\n\
        Without a subcommand, `herald` serves the API (same as `herald serve`). On first start with \
        an empty database it creates an organization with a Development and a Production \
        environment and prints one API key for each."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Args, Clone)]
pub struct GlobalArgs {
    /// Database to use: `sqlite://PATH` (embedded, the default) or `postgres://USER:PASS@HOST:PORT/DB`.
    #[arg(
        long,
        global = true,
        env = "HERALD_DATABASE_URL",
        default_value = "sqlite://herald.db"
    )]
    pub database_url: String,

    /// PostgreSQL only: connections in this process's pool.
    #[arg(
        long,
        global = true,
        env = "HERALD_PG_MAX_CONNECTIONS",
        default_value_t = 16
    )]
    pub pg_max_connections: u32,

    /// Log filter (tracing `EnvFilter` syntax), e.g. `info`, `herald=debug`.
    #[arg(long, global = true, env = "HERALD_LOG", default_value = "info")]
    pub log: String,
}

impl fmt::Debug for GlobalArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlobalArgs")
            .field("database_url", &redact_url(&self.database_url))
            .field("pg_max_connections", &self.pg_max_connections)
            .field("log", &self.log)
            .finish()
    }
}

#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HERALD_BIND", default_value = "0.0.0.0:3000")]
    pub bind: SocketAddr,

    /// Seed this API key for the Development environment (for scripts and tests) instead of a
    /// random one. Added to an existing database too if it is not there yet.
    #[arg(long, env = "HERALD_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,

    /// Seconds an API-key lookup is cached; a key revoked by another process stops working
    /// within this time.
    #[arg(long, env = "HERALD_AUTH_CACHE_TTL", default_value_t = 5)]
    pub auth_cache_ttl: u64,
}

impl fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeArgs")
            .field("bind", &self.bind)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("auth_cache_ttl", &self.auth_cache_ttl)
            .finish()
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (the default when no subcommand is given).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Create a new API key for an environment and print it (it is shown only once).
    Create {
        /// Environment name: Development or Production.
        #[arg(long, default_value = "Development")]
        environment: String,
    },
    /// List API keys (id, environment, last four characters, created, revoked).
    List,
    /// Revoke an API key by its id (from `herald keys list`).
    Revoke {
        /// The key's id.
        id: String,
    },
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((creds, host)) = rest.rsplit_once('@') {
            let user = creds.split(':').next().unwrap_or_default();
            return format!("{scheme}://{user}:***@{host}");
        }
    }
    url.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let cli = Cli::parse_from([
            "herald",
            "--database-url",
            "postgres://u:hunter2@db:5432/h",
            "--api-key",
            "supersecretkey",
        ]);
        let out = format!("{:?} {:?}", cli.global, cli.serve);
        assert!(
            !out.contains("hunter2") && !out.contains("supersecretkey"),
            "{out}"
        );
        assert!(out.contains("postgres://u:***@db:5432/h"));
    }
}
