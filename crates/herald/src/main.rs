//! The `herald` binary: parse the command line, set up logging, dispatch.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use herald::config::{Cli, Command, ConfigCommand, SecretsCommand};
use herald::metrics::Metrics;
use herald::{startup, telemetry};
use std::sync::Arc;
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
    match &cli.command {
        Some(Command::Secrets(cmd)) => return secrets(&cli, cmd).await,
        // Neither opens the store: a backup reads the file on its own, and the reference
        // needs no database at all.
        Some(Command::Backup { to }) => return herald::backup::run(&cli.global, to).await,
        Some(Command::Config(ConfigCommand::Example)) => {
            print!("{}", herald::config_reference::example());
            return Ok(());
        }
        _ => {}
    }
    // Created before the store, so that the SQLite writer can report its group commits.
    let metrics = Arc::new(Metrics::new());
    let store = startup::open_store_observed(&cli.global, Some(&metrics)).await?;
    let result = match &cli.command {
        None | Some(Command::Serve) => serve(&cli, store.clone(), metrics).await,
        Some(Command::Migrate) => {
            println!("Database is migrated ({}).", store.backend_name());
            Ok(())
        }
        Some(Command::Keys(cmd)) => herald::keys::run(&*store, cmd).await,
        Some(Command::Secrets(_) | Command::Backup { .. } | Command::Config(_)) => Ok(()),
    };
    store.close().await;
    result
}

/// `herald secrets …`: rotation opens the store with the new key added first.
async fn secrets(cli: &Cli, cmd: &SecretsCommand) -> anyhow::Result<()> {
    use herald::secrets;
    let (source, new_key) = match cmd {
        SecretsCommand::Generate => {
            secrets::generate();
            return Ok(());
        }
        SecretsCommand::Rotate { new_key, .. } => {
            let (source, key) = secrets::rotation_source(&cli.global, new_key.as_deref())?;
            (source, Some(key))
        }
        _ => (secrets::key_source(&cli.global)?, None),
    };
    let store = startup::open_store_with(&cli.global, &source).await?;
    let result = match (cmd, new_key) {
        (
            SecretsCommand::Rotate {
                batch_size,
                settle_seconds,
                ..
            },
            Some(key),
        ) => {
            secrets::rotate(
                &*store,
                &key,
                *batch_size,
                Duration::from_secs(*settle_seconds),
            )
            .await
        }
        _ => secrets::run(&*store, &source, cmd).await,
    };
    store.close().await;
    result
}

async fn serve(
    cli: &Cli,
    store: Arc<dyn herald_core::Store>,
    metrics: Arc<Metrics>,
) -> anyhow::Result<()> {
    // Settings first: a mistake in them must stop startup before a first start creates the
    // organization and prints its keys.
    let mut settings = cli.serve.server_settings();
    settings.delivery = cli.delivery.settings(std::env::vars())?;
    settings.rate_limits = cli.ops.rate_limits()?;
    settings.tls = cli
        .serve
        .tls_settings()
        .context("cannot load the TLS certificate")?;
    let keys = startup::bootstrap(&*store, cli.serve.api_key.as_deref()).await?;
    if !keys.is_empty() {
        println!("\nHerald created your organization. API keys (shown only once, store them now):");
        for k in &keys {
            println!("  {:<12} {}", k.environment, k.key);
        }
        println!("Use one as `Authorization: ApiKey <key>`.\n");
    }
    let tls_files = settings.tls.as_ref().map(|tls| tls.files.clone());
    let mut server = herald::Server::with_metrics(store.clone(), settings, metrics);
    // Bound before the API, so that "Herald is serving" means both listen.
    if let Some(bind) = cli.ops.metrics_bind {
        let metrics_listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind} for metrics"))?;
        tracing::info!(address = %metrics_listener.local_addr()?, "serving metrics at /metrics");
        server = server.serve_metrics_on(metrics_listener);
    }
    let listener = tokio::net::TcpListener::bind(cli.serve.bind)
        .await
        .with_context(|| format!("cannot listen on {}", cli.serve.bind))?;
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    if let Some(files) = tls_files.clone() {
        tokio::spawn(reload_on_hangup(files, shutdown.clone()));
    }
    tracing::info!(
        address = %listener.local_addr()?,
        backend = store.backend_name(),
        tls = tls_files.is_some(),
        "Herald is serving"
    );
    server.run(listener, shutdown).await?;
    tracing::info!("Herald stopped");
    Ok(())
}

/// Reloads the TLS certificate on each SIGHUP until `shutdown`.
async fn reload_on_hangup(
    files: std::sync::Arc<herald::serve::tls::CertificateFiles>,
    shutdown: CancellationToken,
) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hangups) = signal(SignalKind::hangup()) else {
        tracing::warn!(
            "cannot listen for SIGHUP; the TLS certificate reloads only when its files change"
        );
        return;
    };
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            received = hangups.recv() => if received.is_none() { return },
        }
        let files = files.clone();
        match tokio::task::spawn_blocking(move || files.reload()).await {
            Ok(Ok(())) => tracing::info!("TLS certificate reloaded (SIGHUP)"),
            Ok(Err(e)) => tracing::error!(
                error = %e,
                "TLS certificate not reloaded; still serving the previous one"
            ),
            Err(_) => {}
        }
    }
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
