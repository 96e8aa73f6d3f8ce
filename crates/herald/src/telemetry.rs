//! Logging setup: human-readable lines on stderr, filtered by `--log` / `HERALD_LOG`. Request spans
//! carry the method, the matched route and the environment id, never bodies or keys.

use tracing_subscriber::EnvFilter;

pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
