//! Delivery: the worker that turns accepted triggers into provider calls. `runner` runs one job
//! (plan, render, send, classify), `worker` claims jobs and records runs, `overrides` merges the
//! trigger's provider overrides. The store keeps the queue (see `herald_core::delivery`); the
//! providers crate builds and classifies each provider's requests over the one outbound client.

mod overrides;
mod prune;
mod receipts;
mod runner;
mod worker;

use std::sync::Arc;

use anyhow::Context;
use herald_core::delivery::RetryPolicy;
use herald_core::render::Renderer;
use herald_core::Store;
use herald_providers::{Providers, ProvidersConfig};
use tokio::sync::Notify;

pub use runner::{Runner, Sender};
pub use worker::{Drained, Worker, WorkerSettings};

/// Everything about delivery a server is configured with.
#[derive(Clone, Debug)]
pub struct DeliverySettings {
    /// Run a worker in this process (`HERALD_WORKER`; off for API-only nodes).
    pub worker_enabled: bool,
    pub worker: WorkerSettings,
    pub retry: RetryPolicy,
    pub providers: ProvidersConfig,
    /// Remove device tokens a provider calls dead (`HERALD_PRUNE_DEAD_TOKENS`).
    pub prune_dead_tokens: bool,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            worker_enabled: true,
            worker: WorkerSettings::default(),
            retry: RetryPolicy::default(),
            providers: ProvidersConfig::default(),
            prune_dead_tokens: true,
        }
    }
}

/// A worker over `store` with these settings (it runs only when asked: [`Worker::run`] or
/// [`Worker::run_until_idle`]). `wake` is notified by the trigger handlers.
pub fn worker(
    store: Arc<dyn Store>,
    settings: &DeliverySettings,
    wake: Arc<Notify>,
) -> anyhow::Result<Worker> {
    let providers =
        Providers::new(settings.providers.clone()).context("building the outbound HTTP client")?;
    let runner = Runner::new(
        Arc::new(providers),
        Arc::new(Renderer::new()),
        settings.retry.clone(),
        Arc::new(prune::PruneGuard::new(settings.prune_dead_tokens)),
    );
    Ok(Worker::new(
        store,
        Arc::new(runner),
        settings.worker.clone(),
        wake,
    ))
}
