//! Command line and configuration. Each setting has a default in code, can be set through a
//! `HERALD_*` environment variable, and a command-line flag overrides both. Secrets are redacted in
//! `Debug` output.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

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

    /// Longest a database statement may run, in seconds (`0`: no limit). PostgreSQL: the
    /// `statement_timeout` of every pooled connection; SQLite: searches and lists (point reads
    /// and writes follow an index and are not timed). A request whose statement is stopped
    /// answers 503.
    #[arg(
        long,
        global = true,
        env = "HERALD_STATEMENT_TIMEOUT",
        default_value_t = 10
    )]
    pub statement_timeout: u64,

    /// Log filter (tracing `EnvFilter` syntax), e.g. `info`, `herald=debug`.
    #[arg(long, global = true, env = "HERALD_LOG", default_value = "info")]
    pub log: String,

    /// The key(s) encrypting stored credentials: 32 bytes as base64 or 64 hex digits; several
    /// comma-separated, the primary first, during a key rotation. Prefer the environment
    /// variable: a flag is visible in the process list. Without it SQLite uses a key file beside
    /// the database (created on first start); PostgreSQL requires a key.
    #[arg(long, global = true, env = "HERALD_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,

    /// A file holding the key(s) instead (one per line, primary first). Default for SQLite:
    /// the database path with `.key` appended, created with mode 0600 on first start.
    #[arg(long, global = true, env = "HERALD_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
}

impl GlobalArgs {
    /// `--statement-timeout` as a duration (`None` for `0`: no limit).
    pub fn statement_timeout(&self) -> Option<std::time::Duration> {
        (self.statement_timeout > 0).then(|| std::time::Duration::from_secs(self.statement_timeout))
    }
}

impl fmt::Debug for GlobalArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GlobalArgs")
            .field("database_url", &redact_url(&self.database_url))
            .field("pg_max_connections", &self.pg_max_connections)
            .field("statement_timeout", &self.statement_timeout)
            .field("log", &self.log)
            .field(
                "secret_key",
                &self.secret_key.as_ref().map(|_| "<redacted>"),
            )
            .field("secret_key_file", &self.secret_key_file)
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

    /// Seconds an API-key lookup, and the integration a provider's credentials bind to, are
    /// cached. A key revoked, or an integration created, deactivated or deleted, by another
    /// process takes effect here within this time; changes made through this process at once.
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
    /// Manage the keys that encrypt stored credentials (see README, "Encryption at rest").
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

#[derive(Subcommand)]
pub enum SecretsCommand {
    /// Print a new random key (base64). Touches no database.
    Generate,
    /// List the database's keys: which one is current and how many stored values each encrypts.
    Status,
    /// Make a new key current and re-encrypt every stored value under it, in batches, while
    /// servers keep running. Older keys stay usable until `herald secrets retire`.
    Rotate {
        /// The new key (base64 or hex). Required when the keys come from HERALD_SECRET_KEY: every
        /// running Herald process must already hold it as a secondary key. With a key file, a
        /// new key is generated and written to the file when this is not given.
        #[arg(long, env = "HERALD_NEW_SECRET_KEY", hide_env_values = true)]
        new_key: Option<String>,
        /// Rows of each table re-encrypted per transaction.
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
        /// Seconds to wait before the final pass, for values written meanwhile by processes that
        /// had not yet switched to the new key (they check every 5 seconds).
        #[arg(long, default_value_t = 11, hide = true)]
        settle_seconds: u64,
    },
    /// Unregister the keys that no longer encrypt anything (after a rotation), and drop them
    /// from the key file.
    Retire,
}

impl fmt::Debug for SecretsCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretsCommand::Generate => f.write_str("Generate"),
            SecretsCommand::Status => f.write_str("Status"),
            SecretsCommand::Rotate { batch_size, .. } => f
                .debug_struct("Rotate")
                .field("new_key", &"<redacted>")
                .field("batch_size", batch_size)
                .finish_non_exhaustive(),
            SecretsCommand::Retire => f.write_str("Retire"),
        }
    }
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
            "--secret-key",
            "c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=",
        ]);
        let out = format!("{:?} {:?}", cli.global, cli.serve);
        assert!(
            !out.contains("hunter2")
                && !out.contains("supersecretkey")
                && !out.contains("c2VjcmV0"),
            "{out}"
        );
        assert!(out.contains("postgres://u:***@db:5432/h"));
    }
}
