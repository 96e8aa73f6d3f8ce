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

    #[command(flatten)]
    pub delivery: crate::delivery_config::DeliveryArgs,

    #[command(flatten)]
    pub ops: crate::ops_config::OpsArgs,
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

    /// Seconds a request's headers may take to arrive (on a new connection from accept, on a
    /// kept-alive one from the request's first byte); a slower client is disconnected.
    #[arg(long, env = "HERALD_HEADER_READ_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout: u64,

    /// Seconds a kept-alive connection may stay idle between requests (and a client may leave
    /// its response unread). Keep it above your load balancer's idle timeout.
    #[arg(long, env = "HERALD_IDLE_TIMEOUT", default_value_t = 75, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout: u64,

    /// Seconds a request's body may take to arrive after its headers; slower is a 408.
    #[arg(long, env = "HERALD_BODY_READ_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_read_timeout: u64,

    /// Connections served at once; more wait in the kernel's listen backlog. Keep it well
    /// below the open-file limit (`ulimit -n`): the database and logs need descriptors too.
    #[arg(long, env = "HERALD_MAX_CONNECTIONS", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,

    /// Largest request line plus headers, in bytes (8192 to 1048576); larger is a 431. Each
    /// connection holds at most this much of an unfinished request head.
    #[arg(long, env = "HERALD_MAX_HEADER_BYTES", default_value_t = 65536, value_parser = clap::value_parser!(u64).range(8192..=1_048_576))]
    pub max_header_bytes: u64,

    /// Seconds a shutdown (SIGTERM, Ctrl-C) waits for open connections to finish their
    /// requests; the rest are then dropped.
    #[arg(long, env = "HERALD_SHUTDOWN_TIMEOUT", default_value_t = 10)]
    pub shutdown_timeout: u64,

    /// Serve HTTPS with this certificate chain (PEM, leaf first); needs `--tls-key`. Reloaded
    /// on SIGHUP and when the file changes.
    #[arg(long, env = "HERALD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of `--tls-cert` (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "HERALD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Seconds between checks of the TLS files for a new certificate (`0`: only on SIGHUP).
    #[arg(long, env = "HERALD_TLS_RELOAD_INTERVAL", default_value_t = 60)]
    pub tls_reload_interval: u64,
    /// What registering a device token does when another subscriber of the environment holds
    /// it for the same integration: `move` takes it away from that subscriber (one owner per
    /// token, so a phone handed from one user to the next stops receiving the first user's
    /// notifications); `share` lets both keep it, as Novu does.
    #[arg(long, env = "HERALD_TOKEN_OWNERSHIP", value_enum, default_value_t = TokenOwnershipArg::Move)]
    pub token_ownership: TokenOwnershipArg,
}

/// The values of `--token-ownership` (see [`herald_core::TokenOwnership`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TokenOwnershipArg {
    Move,
    Share,
}

impl From<TokenOwnershipArg> for herald_core::TokenOwnership {
    fn from(arg: TokenOwnershipArg) -> Self {
        match arg {
            TokenOwnershipArg::Move => herald_core::TokenOwnership::Move,
            TokenOwnershipArg::Share => herald_core::TokenOwnership::Share,
        }
    }
}

impl ServeArgs {
    /// The settings of the server these arguments describe.
    pub fn server_settings(&self) -> crate::ServerSettings {
        use std::time::Duration;
        crate::ServerSettings {
            cache_ttl: Duration::from_secs(self.auth_cache_ttl),
            header_read_timeout: Duration::from_secs(self.header_read_timeout),
            idle_timeout: Duration::from_secs(self.idle_timeout),
            body_read_timeout: Duration::from_secs(self.body_read_timeout),
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            max_header_bytes: usize::try_from(self.max_header_bytes).unwrap_or(usize::MAX),
            shutdown_timeout: Duration::from_secs(self.shutdown_timeout),
            // Loaded by `tls_settings`, which can fail, and which `main` sets.
            tls: None,
            token_ownership: self.token_ownership.into(),
            // From `DeliveryArgs` (see `delivery_config`), which `main` sets.
            delivery: crate::delivery::DeliverySettings::default(),
            // From `OpsArgs` (see `ops_config`), which `main` sets.
            rate_limits: Default::default(),
        }
    }
}

impl ServeArgs {
    /// The certificate of `--tls-cert` / `--tls-key`, loaded (`None` without them).
    pub fn tls_settings(
        &self,
    ) -> Result<Option<crate::serve::tls::TlsSettings>, crate::serve::tls::TlsError> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let files = crate::serve::tls::CertificateFiles::load(cert.clone(), key.clone())?;
        Ok(Some(crate::serve::tls::TlsSettings {
            files: std::sync::Arc::new(files),
            reload_interval: (self.tls_reload_interval > 0)
                .then(|| std::time::Duration::from_secs(self.tls_reload_interval)),
        }))
    }
}

impl fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeArgs")
            .field("bind", &self.bind)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("auth_cache_ttl", &self.auth_cache_ttl)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_header_bytes", &self.max_header_bytes)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("tls_reload_interval", &self.tls_reload_interval)
            .field("token_ownership", &self.token_ownership)
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
    /// Copy a SQLite database while Herald runs (a consistent snapshot) and say which key to
    /// keep with it. On PostgreSQL, prints the pg_dump command to use instead.
    Backup {
        /// The new file to write; an existing file is never overwritten.
        #[arg(long)]
        to: PathBuf,
    },
    /// Configuration reference.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Print every setting: its flag, environment variable, default and meaning, from the same
    /// definitions as `--help`.
    Example,
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

    #[test]
    fn token_ownership_defaults_to_move_and_accepts_only_move_or_share() {
        use herald_core::TokenOwnership;
        let settings = Cli::parse_from(["herald"]).serve.server_settings();
        assert_eq!(settings.token_ownership, TokenOwnership::Move);
        let cli = Cli::parse_from(["herald", "--token-ownership", "share"]);
        assert_eq!(
            cli.serve.server_settings().token_ownership,
            TokenOwnership::Share
        );
        let err = Cli::try_parse_from(["herald", "--token-ownership", "steal"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("[possible values: move, share]"), "{err}");
    }

    #[test]
    fn the_connection_limits_default_to_the_server_defaults_and_refuse_nonsense() {
        let cli = Cli::parse_from(["herald"]);
        let settings = cli.serve.server_settings();
        let defaults = crate::ServerSettings::default();
        assert_eq!(format!("{settings:?}"), format!("{defaults:?}"));
        let cli = Cli::parse_from([
            "herald",
            "--header-read-timeout",
            "3",
            "--max-connections",
            "7",
        ]);
        let settings = cli.serve.server_settings();
        assert_eq!(
            settings.header_read_timeout,
            std::time::Duration::from_secs(3)
        );
        assert_eq!(settings.max_connections, 7);
        for bad in [
            ["--header-read-timeout", "0"],
            ["--idle-timeout", "0"],
            ["--body-read-timeout", "0"],
            ["--max-connections", "0"],
            ["--max-header-bytes", "4096"],
        ] {
            let err = Cli::try_parse_from(["herald", bad[0], bad[1]]).unwrap_err();
            assert!(err.to_string().contains(bad[0]), "{err}");
        }
    }
}
