//! Running Herald in production (issue 12): bodies over the limit answered so that clients read
//! the 413, HTTPS with certificate reloads, online SQLite backups restored with their key, a clean
//! shutdown under load, the configuration reference kept equal to the command line, and the
//! metrics, readiness and rate-limit flags wired by the binary.

#[macro_use]
mod support;

#[path = "operations/backup.rs"]
mod backup;
#[path = "operations/body_limit.rs"]
mod body_limit;
#[path = "operations/config_docs.rs"]
mod config_docs;
#[path = "operations/metrics.rs"]
mod metrics;
#[path = "operations/raw.rs"]
mod raw;
#[path = "operations/shutdown.rs"]
mod shutdown;
#[path = "operations/tls.rs"]
mod tls;
