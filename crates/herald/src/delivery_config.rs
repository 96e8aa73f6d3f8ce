//! Delivery settings on the command line and in `HERALD_*` variables (see `config` for the
//! layering rules): whether this process runs a worker, its concurrency and lease, the retry
//! policy, and the outbound policy (`HERALD_OUTBOUND_ALLOW`, `HERALD_PROVIDER_ENDPOINT_<ID>`).

use std::time::Duration;

use anyhow::Context;
use clap::{ArgAction, Args};
use herald_core::delivery::RetryPolicy;
use herald_providers::{parse_allow_list, ProvidersConfig};

use crate::delivery::{DeliverySettings, WorkerSettings};

#[derive(Args, Clone, Debug)]
pub struct DeliveryArgs {
    /// Run a delivery worker in this process (`false` for API-only nodes: triggers are then
    /// delivered by other processes sharing the database).
    #[arg(long, env = "HERALD_WORKER", default_value_t = true, action = ArgAction::Set)]
    pub worker: bool,

    /// Jobs this process's worker runs at once.
    #[arg(long, env = "HERALD_WORKER_CONCURRENCY", default_value_t = 32)]
    pub worker_concurrency: usize,

    /// Seconds a claimed job belongs to its worker; a worker that dies gives its jobs back after
    /// this long.
    #[arg(long, env = "HERALD_WORKER_LEASE_SECONDS", default_value_t = 60)]
    pub worker_lease_seconds: u64,

    /// Longest idle sleep of the worker, in milliseconds (how soon it sees jobs written by other
    /// processes).
    #[arg(long, env = "HERALD_WORKER_POLL_MS", default_value_t = 1000)]
    pub worker_poll_ms: u64,

    /// Delay before the first retry of a failed delivery, in milliseconds; doubled for each
    /// further attempt (with full jitter), capped at 15 minutes.
    #[arg(long, env = "HERALD_RETRY_INITIAL_DELAY_MS", default_value_t = 10_000)]
    pub retry_initial_delay_ms: u64,

    /// Attempts per delivery, the first included.
    #[arg(long, env = "HERALD_RETRY_MAX_ATTEMPTS", default_value_t = 8)]
    pub retry_max_attempts: u32,

    /// Remove a device token from its subscriber when the provider says it is dead for good
    /// (FCM `UNREGISTERED`, APNs 410, Expo `DeviceNotRegistered`, …).
    #[arg(long, env = "HERALD_PRUNE_DEAD_TOKENS", default_value_t = true, action = ArgAction::Set)]
    pub prune_dead_tokens: bool,

    /// Addresses the outbound client may reach although they are loopback, private, link-local
    /// or otherwise internal: comma-separated IPs or CIDRs (e.g. `10.0.0.0/8,127.0.0.1`).
    #[arg(long, env = "HERALD_OUTBOUND_ALLOW", default_value = "")]
    pub outbound_allow: String,
}

impl DeliveryArgs {
    /// The settings, with the provider endpoint overrides read from `vars` (the process
    /// environment in production).
    pub fn settings<I, K, V>(&self, vars: I) -> anyhow::Result<DeliverySettings>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut providers = ProvidersConfig::from_vars(vars)
            .context("reading HERALD_PROVIDER_ENDPOINT_* / HERALD_OUTBOUND_ALLOW")?;
        providers.outbound.allow =
            parse_allow_list(&self.outbound_allow).context("invalid HERALD_OUTBOUND_ALLOW")?;
        if self.retry_max_attempts == 0 {
            anyhow::bail!("HERALD_RETRY_MAX_ATTEMPTS must be at least 1");
        }
        if self.worker_concurrency == 0 {
            anyhow::bail!("HERALD_WORKER_CONCURRENCY must be at least 1");
        }
        let poll_interval = Duration::from_millis(self.worker_poll_ms.max(10));
        Ok(DeliverySettings {
            worker_enabled: self.worker,
            worker: WorkerSettings {
                concurrency: self.worker_concurrency,
                lease: Duration::from_secs(self.worker_lease_seconds.max(1)),
                poll_interval,
                // A healthy loop comes round at least once per poll interval; a round's database
                // calls can hold it up to their statement timeout, hence the floor.
                stall_timeout: (poll_interval * 5).max(WorkerSettings::default().stall_timeout),
                ..WorkerSettings::default()
            },
            retry: RetryPolicy {
                initial_delay: Duration::from_millis(self.retry_initial_delay_ms),
                max_attempts: self.retry_max_attempts,
                ..RetryPolicy::default()
            },
            providers,
            prune_dead_tokens: self.prune_dead_tokens,
        })
    }
}
