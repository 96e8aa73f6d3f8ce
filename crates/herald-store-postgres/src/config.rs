//! Connection settings, and the single error [`PgStore::connect`](crate::PgStore::connect) returns.
//!
//! A startup failure is read by a person in a terminal or a log line, so [`PgOpenError`] is one
//! line naming where Herald tried to connect and why it failed, and it never contains the password
//! (neither does `PgConfig`'s `Debug`).
//!
//! **TLS** follows libpq's URL parameters, through rustls (sqlx's `tls-rustls-ring-webpki`):
//! `sslmode` is `disable` (plain TCP), `prefer` (the default: TLS when the server offers it,
//! certificate not checked), `require` (TLS or fail; certificate not checked), `verify-ca` (the
//! certificate must chain to a trusted root) or `verify-full` (and must name the host connected
//! to). Trusted roots are Mozilla's (built in, not the host's store) plus `sslrootcert=FILE`
//! (PEM), or `PGSSLROOTCERT`. As in libpq, `require` with a root certificate verifies the chain
//! (`verify-ca`), and a root certificate file that cannot be read stops startup naming it (sqlx
//! would report it as a connection failure).
//!
//! One deviation, from sqlx 0.8.6 with rustls 0.23.24 and later (sqlx issue 3793, fixed in sqlx
//! 0.9): `verify-ca` checks the host name too, so it behaves as `verify-full`: stricter, never
//! weaker. Connect by a name the certificate lists.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use std::path::PathBuf;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use crate::MigrateError;

/// How to reach PostgreSQL and how large the pool may grow.
#[derive(Clone)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/database?sslmode=…` (libpq URL syntax).
    pub url: String,
    /// Pool size. Each Herald process opens up to this many connections.
    pub max_connections: u32,
    /// Connections kept open when idle.
    pub min_connections: u32,
    /// How long a request waits for a free pooled connection before failing.
    pub acquire_timeout: Duration,
    /// How long the first connection at startup may take.
    pub connect_timeout: Duration,
    /// Idle pooled connections are closed after this long (`None`: never).
    pub idle_timeout: Option<Duration>,
    /// Shown in `pg_stat_activity`, so operators can tell Herald's connections apart.
    pub application_name: String,
    /// `statement_timeout` of every pooled connection: a statement still running after this long
    /// is cancelled by PostgreSQL and the request answers 503 (`None`: no limit). The first
    /// connection at startup, which migrates, is not limited.
    pub statement_timeout: Option<Duration>,
}

impl PgConfig {
    /// Defaults: 10 connections, none kept idle, 10 s to acquire, 10 s to connect, idle
    /// connections closed after 10 minutes, statements cancelled after 10 s.
    pub fn new(url: impl Into<String>) -> Self {
        PgConfig {
            url: url.into(),
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Some(Duration::from_secs(600)),
            application_name: "herald".to_string(),
            statement_timeout: Some(Duration::from_secs(10)),
        }
    }

    /// How many scans (searches and lists) may hold a pooled connection at once: half the pool,
    /// at least one. The other half is always left to point reads, authentication and writes, so
    /// no number of slow searches can starve them.
    pub fn max_scans(&self) -> u32 {
        (self.max_connections.max(1) / 2).max(1)
    }

    /// The options of pooled connections: [`PgConfig::connect_options`] plus the statement
    /// timeout.
    pub(crate) fn pool_options(&self) -> Result<PgConnectOptions, PgOpenError> {
        let options = self.connect_options()?;
        Ok(match self.statement_timeout {
            Some(t) => {
                options.options([("statement_timeout", format!("{}ms", t.as_millis().max(1)))])
            }
            None => options,
        })
    }

    /// The parsed URL, with libpq's TLS rules (see the module docs). The error names no part of
    /// the URL, which may hold a password.
    pub fn connect_options(&self) -> Result<PgConnectOptions, PgOpenError> {
        let mut options = PgConnectOptions::from_str(&self.url)
            .map_err(|e| PgOpenError::InvalidUrl(self.scrub(&e.to_string())))?;
        if let Some(path) = self.root_cert() {
            if let Err(e) = std::fs::File::open(&path) {
                return Err(PgOpenError::RootCert {
                    path: path.display().to_string(),
                    cause: strip_os_error(&e.to_string()),
                });
            }
            if matches!(options.get_ssl_mode(), PgSslMode::Require) {
                options = options.ssl_mode(PgSslMode::VerifyCa);
            }
        }
        Ok(options.application_name(&self.application_name))
    }

    /// `sslrootcert` of the URL (or its sqlx spellings), else `PGSSLROOTCERT`.
    fn root_cert(&self) -> Option<PathBuf> {
        let from_url = url::Url::parse(&self.url).ok().and_then(|url| {
            url.query_pairs()
                .filter(|(k, _)| matches!(&**k, "sslrootcert" | "ssl-root-cert" | "ssl-ca"))
                .last()
                .map(|(_, v)| v.into_owned())
        });
        from_url
            .or_else(|| std::env::var("PGSSLROOTCERT").ok())
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    }

    /// `text` with the URL's password (if any) blanked out, on one line.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(['\n', '\r'], " ");
        if let Some(password) = password_of(&self.url).filter(|p| !p.is_empty()) {
            out = out.replace(password, "***");
        }
        out
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("application_name", &self.application_name)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

/// The userinfo password of a URL, as written (percent-encoded or not).
fn password_of(url: &str) -> Option<&str> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(&userinfo[userinfo.find(':')? + 1..])
}

/// The URL with its password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    match password_of(url) {
        Some(p) if !p.is_empty() => {
            // The password sits between the first ':' after "://" and the last '@' of the authority.
            let start = url.find("://").map_or(0, |i| i + 3);
            let colon = start + url[start..].find(':').unwrap_or(0) + 1;
            format!("{}***{}", &url[..colon], &url[colon + p.len()..])
        }
        _ => url.to_string(),
    }
}

/// Where a connection goes, as people write it: `host:port` or the Unix socket path.
pub(crate) fn target(options: &PgConnectOptions) -> String {
    let port = options.get_port();
    match options.get_socket() {
        Some(dir) => format!("{}/.s.PGSQL.{port}", dir.display()),
        None if options.get_host().contains(':') => format!("[{}]:{port}", options.get_host()),
        None => format!("{}:{port}", options.get_host()),
    }
}

/// Why [`PgStore::connect`](crate::PgStore::connect) failed. Each variant displays as one line.
#[derive(Debug, thiserror::Error)]
pub enum PgOpenError {
    #[error("invalid PostgreSQL URL: {0}")]
    InvalidUrl(String),
    #[error("cannot read the PostgreSQL root certificate (sslrootcert) {path}: {cause}")]
    RootCert { path: String, cause: String },
    #[error("cannot connect to PostgreSQL at {target}: {cause}")]
    Connect { target: String, cause: String },
    #[error("cannot migrate the PostgreSQL database at {target}: {cause}")]
    Migrate { target: String, cause: String },
    /// The keys do not open this database (one line, from `herald_core::secrets`).
    #[error(transparent)]
    Secrets(#[from] herald_core::secrets::UnlockError),
}

impl PgOpenError {
    pub(crate) fn connect(target: String, cfg: &PgConfig, e: &sqlx::Error) -> Self {
        PgOpenError::Connect {
            target,
            cause: cfg.scrub(&describe(e)),
        }
    }

    /// A failure while registering the first key or encrypting the rows stored before version 4.
    pub(crate) fn encrypt(target: String, cfg: &PgConfig, e: crate::error::Error) -> Self {
        let cause = match e {
            crate::error::Error::Sql(e) => describe(&e),
            crate::error::Error::Store(e) => e.to_string(),
        };
        PgOpenError::Migrate {
            target,
            cause: format!("encrypting the stored secrets: {}", cfg.scrub(&cause)),
        }
    }

    pub(crate) fn migrate(target: String, cfg: &PgConfig, e: &MigrateError) -> Self {
        let cause = match e {
            MigrateError::Failed { version, source } => {
                format!("migration {version} failed: {}", describe(source))
            }
            MigrateError::Sql(source) => describe(source),
            MigrateError::TooNew { .. } => e.to_string(),
        };
        PgOpenError::Migrate {
            target,
            cause: cfg.scrub(&cause),
        }
    }
}

/// A short, lower-case cause for a connection error, without sqlx's wrapping text.
pub(crate) fn describe(e: &sqlx::Error) -> String {
    use std::io::ErrorKind;
    match e {
        sqlx::Error::Io(io) => match io.kind() {
            ErrorKind::ConnectionRefused => "connection refused".to_string(),
            ErrorKind::TimedOut => "timed out".to_string(),
            ErrorKind::NotFound => "no server is listening on that socket".to_string(),
            ErrorKind::PermissionDenied => "permission denied".to_string(),
            // rustls reports a failed handshake as an I/O error of this kind.
            ErrorKind::InvalidData if is_tls_text(&io.to_string()) => describe_tls(&io.to_string()),
            _ => strip_os_error(&io.to_string()),
        },
        sqlx::Error::Database(db) => db.message().to_string(),
        sqlx::Error::PoolTimedOut => "timed out waiting for a connection".to_string(),
        sqlx::Error::Tls(tls) => describe_tls(&tls.to_string()),
        other => other.to_string(),
    }
}

/// Whether an I/O error's text is a TLS handshake failure (rustls' wording).
fn is_tls_text(text: &str) -> bool {
    ["certificate", "handshake", "alert", "TLS"]
        .iter()
        .any(|w| text.contains(w))
}

/// A TLS failure, with what to change for the usual ones.
fn describe_tls(cause: &str) -> String {
    let hint = if cause.contains("UnknownIssuer") {
        " (the server's certificate is not signed by a root in sslrootcert, nor by a public \
         CA; give its CA with sslrootcert=FILE)"
    } else if cause.contains("not valid for name") || cause.contains("NotValidForName") {
        " (the server's certificate does not name the host in the URL; connect by a name it \
         lists)"
    } else if cause.contains("does not support TLS") {
        " (sslmode requires TLS; enable ssl on the server or use sslmode=prefer)"
    } else {
        ""
    };
    format!("TLS: {cause}{hint}")
}

/// `Connection reset by peer (os error 104)` → `connection reset by peer`.
fn strip_os_error(s: &str) -> String {
    let s = match s.rfind(" (os error") {
        Some(i) => &s[..i],
        None => s,
    };
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_redaction_hide_the_password() {
        let cfg = PgConfig::new("postgres://herald:s3cret@db.example:5433/herald?sslmode=require");
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("postgres://herald:***@db.example:5433/herald?sslmode=require"));
        assert_eq!(
            redact_url("postgres://u@h/db"),
            "postgres://u@h/db",
            "no password, nothing to hide"
        );
        assert_eq!(
            redact_url("postgres://u:p%40ss@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(cfg.scrub("bad s3cret\nhere"), "bad *** here");
    }

    #[test]
    fn target_names_host_and_port_or_socket() {
        let opts = PgConfig::new("postgres://u:p@127.0.0.1:5433/db")
            .connect_options()
            .unwrap();
        assert_eq!(target(&opts), "127.0.0.1:5433");
        let opts = PgConfig::new("postgres:///db?host=/run/pg&port=6000")
            .connect_options()
            .unwrap();
        assert_eq!(target(&opts), "/run/pg/.s.PGSQL.6000");
    }

    #[test]
    fn an_invalid_url_is_reported_without_echoing_it() {
        let err = PgConfig::new("postgres://u:s3cret@host:notaport/db")
            .connect_options()
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("invalid PostgreSQL URL: "), "{msg}");
        assert!(!msg.contains("s3cret"), "{msg}");
    }

    #[test]
    fn require_with_a_root_certificate_verifies_the_chain_as_in_libpq() {
        let dir = std::env::temp_dir().join(format!("herald-rootcert-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, "not read here").unwrap();
        let url = |query: &str| format!("postgres://u@h/db?{query}");
        let mode = |query: &str| {
            PgConfig::new(url(query))
                .connect_options()
                .unwrap()
                .get_ssl_mode()
        };
        let with_ca = format!("sslrootcert={}", ca.display());
        assert!(matches!(
            mode(&format!("sslmode=require&{with_ca}")),
            PgSslMode::VerifyCa
        ));
        assert!(matches!(mode("sslmode=require"), PgSslMode::Require));
        assert!(matches!(
            mode(&format!("sslmode=verify-full&{with_ca}")),
            PgSslMode::VerifyFull
        ));
        assert!(matches!(mode("sslmode=disable"), PgSslMode::Disable));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unreadable_root_certificate_is_named_at_once() {
        let err = PgConfig::new(
            "postgres://u:s3cret@h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        )
        .connect_options()
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot read the PostgreSQL root certificate (sslrootcert) /nonexistent/ca.pem: \
             no such file or directory"
        );
    }

    #[test]
    fn tls_failures_say_what_to_change() {
        let unknown = sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "invalid peer certificate: UnknownIssuer",
        ));
        assert_eq!(
            describe(&unknown),
            "TLS: invalid peer certificate: UnknownIssuer (the server's certificate is not signed \
             by a root in sslrootcert, nor by a public CA; give its CA with sslrootcert=FILE)"
        );
    }

    #[test]
    fn io_causes_read_as_short_phrases() {
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(describe(&refused), "connection refused");
        assert_eq!(
            strip_os_error("Connection reset by peer (os error 104)"),
            "connection reset by peer"
        );
    }
}
