//! The `herald` binary: parse the command line, set up logging, dispatch.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use herald::config::{Cli, Command};
use herald::{startup, telemetry, ServerSettings};
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    telemetry::init(&cli.global.log);
    if let Err(e) = dispatch(cli).await {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    let store = startup::open_store(&cli.global).await?;
    let result = match &cli.command {
        None | Some(Command::Serve) => serve(&cli, store.clone()).await,
        Some(Command::Migrate) => {
            println!("Database is migrated ({}).", store.backend_name());
            Ok(())
        }
        Some(Command::Keys(cmd)) => herald::keys::run(&*store, cmd).await,
    };
    store.close().await;
    result
}

async fn serve(cli: &Cli, store: std::sync::Arc<dyn herald_core::Store>) -> anyhow::Result<()> {
    let keys = startup::bootstrap(&*store, cli.serve.api_key.as_deref()).await?;
    if !keys.is_empty() {
        println!("\nHerald created your organization. API keys (shown only once, store them now):");
        for k in &keys {
            println!("  {:<12} {}", k.environment, k.key);
        }
        println!("Use one as `Authorization: ApiKey <key>`.\n");
    }
    let listener = tokio::net::TcpListener::bind(cli.serve.bind)
        .await
        .with_context(|| format!("cannot listen on {}", cli.serve.bind))?;
    tracing::info!(address = %listener.local_addr()?, backend = store.backend_name(), "Herald is serving");
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let settings = ServerSettings {
        auth_cache_ttl: Duration::from_secs(cli.serve.auth_cache_ttl),
    };
    herald::run(listener, store, settings, shutdown).await?;
    tracing::info!("Herald stopped");
    Ok(())
}

/// Cancels `token` on SIGINT or SIGTERM.
async fn stop_on_signal(token: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
    token.cancel();
}
