//! The worker loop: expands fan-outs page by page, claims due jobs under a lease, runs each
//! (bounded concurrency) and records the run. Every Herald process runs one by default; on
//! PostgreSQL several share the queue (claims skip rows another worker holds).
//!
//! It sleeps when there is nothing to do, until the earliest due job, the poll interval (work
//! written by another process), or a wake-up from this process's trigger handler, whichever comes
//! first. On shutdown it stops claiming, gives in-flight jobs a bounded time to finish, and hands
//! the rest back (their leases released, so another worker takes them at once).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use herald_core::delivery::job::ClaimedJob;
use herald_core::{ObjectId, ProviderId, Store, Timestamp};
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::runner::Runner;
use crate::health::Heartbeat;
use crate::metrics::Metrics;

/// How often the loop asks for due receipts.
const RECEIPT_INTERVAL: Duration = Duration::from_secs(30);

/// How the worker runs.
#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// Jobs run at once by this process.
    pub concurrency: usize,
    /// How long a claimed job stays this worker's before another may take it.
    pub lease: Duration,
    /// The longest sleep when idle (how soon work written by another process is seen).
    pub poll_interval: Duration,
    /// Recipients expanded per fan-out transaction.
    pub fan_out_page: usize,
    /// How long shutdown waits for jobs in flight before releasing them.
    pub shutdown_grace: Duration,
    /// The loop counts as stalled (readiness fails) after this long without coming round.
    pub stall_timeout: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 32,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(1),
            fan_out_page: 500,
            shutdown_grace: Duration::from_secs(10),
            stall_timeout: Duration::from_secs(30),
        }
    }
}

/// What [`Worker::run_until_idle`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Drained {
    pub jobs: usize,
    pub fan_out_pages: usize,
}

#[derive(Clone)]
pub struct Worker {
    store: Arc<dyn Store>,
    runner: Arc<Runner>,
    settings: WorkerSettings,
    wake: Arc<Notify>,
    /// This worker's lease owner name (random per process).
    owner: String,
    /// Where it counts what it does (its own, unread, unless given the server's).
    metrics: Arc<Metrics>,
    /// Beaten on every round of [`Worker::run`] (readiness).
    heartbeat: Option<Heartbeat>,
}

impl Worker {
    pub fn new(
        store: Arc<dyn Store>,
        runner: Arc<Runner>,
        settings: WorkerSettings,
        wake: Arc<Notify>,
    ) -> Self {
        Worker {
            store,
            runner,
            settings,
            wake,
            owner: format!("herald-{}", ObjectId::new()),
            metrics: Arc::new(Metrics::new()),
            heartbeat: None,
        }
    }

    /// Counts into `metrics` (the server's) instead of its own.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Beats `heartbeat` on every round of the loop, and stops it when the loop ends.
    pub fn with_heartbeat(mut self, heartbeat: Heartbeat) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }

    /// Runs one claimed job to its record. Errors are logged: the job's lease expires and it runs
    /// again, so nothing is lost.
    async fn process(&self, job: ClaimedJob) {
        let ctx = match self.store.load_job(&job).await {
            Ok(Some(ctx)) => ctx,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(job_id = %job.id, error = %e, "cannot load a claimed job; it will run again when its lease expires");
                return;
            }
        };
        let run = self.runner.run(&ctx, &self.owner).await;
        match self.store.record_job_run(&run).await {
            Ok(true) => {
                self.metrics.delivery.job_recorded(&ctx, &run);
                tracing::debug!(job_id = %job.id, outcome = ?run.outcome, "job run recorded")
            }
            Ok(false) => {
                tracing::warn!(job_id = %job.id, "job lease lost before its run was recorded; another worker runs it")
            }
            Err(e) => {
                tracing::error!(job_id = %job.id, error = %e, "cannot record a job run; it will run again when its lease expires")
            }
        }
    }

    /// Expands fan-out pages and runs due jobs until nothing is due now (jobs scheduled for
    /// later are left). For tests and tools: no waiting, bounded.
    pub async fn run_until_idle(&self) -> Drained {
        self.run_until_idle_at(None).await
    }

    /// [`Worker::run_until_idle`] as if the clock read `at` when claiming (`None`: the real
    /// time), so that tests can run a retry scheduled for later without waiting for it.
    pub async fn run_until_idle_at(&self, at: Option<Timestamp>) -> Drained {
        let mut drained = Drained::default();
        // Far more rounds than any test needs; each round makes progress or ends the loop.
        for _ in 0..100_000 {
            let expanded = match self.store.expand_fan_out(self.settings.fan_out_page).await {
                Ok(p) => {
                    if p.expanded {
                        self.metrics.delivery.fan_out_page(p.notifications);
                    }
                    p.expanded
                }
                Err(e) => {
                    tracing::error!(error = %e, "fan-out failed");
                    false
                }
            };
            if expanded {
                drained.fan_out_pages += 1;
                continue;
            }
            let claimed = match self
                .store
                .claim_due_jobs(
                    &self.owner,
                    self.settings.concurrency.max(1),
                    self.settings.lease,
                    at.unwrap_or_else(Timestamp::now),
                )
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "claiming jobs failed");
                    return drained;
                }
            };
            if claimed.is_empty() {
                return drained;
            }
            drained.jobs += claimed.len();
            self.metrics.delivery.jobs_claimed(claimed.len());
            let mut set = JoinSet::new();
            for job in claimed {
                let me = self.clone();
                let in_flight = self.metrics.delivery.job_started();
                set.spawn(async move {
                    me.process(job).await;
                    drop(in_flight);
                });
            }
            while set.join_next().await.is_some() {}
        }
        drained
    }

    /// Asks for the receipts due at `now` (Expo) and records what they say; returns how many
    /// receipts were due. Errors are logged (the receipts stay due).
    pub async fn check_receipts(&self, now: Timestamp) -> usize {
        let due = match self.store.due_receipts(now, super::receipts::BATCH).await {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "reading due receipts failed");
                return 0;
            }
        };
        let count = due.len();
        if count == 0 {
            return 0;
        }
        let providers: std::collections::HashMap<ObjectId, ProviderId> = due
            .iter()
            .map(|c| (c.delivery_id.clone(), c.provider_id))
            .collect();
        let results = super::receipts::check(&self.runner, due, now).await;
        match self.store.record_receipts(&results).await {
            Ok(()) => {
                for r in results.iter().filter(|r| r.remove.is_some()) {
                    if let Some(provider) = providers.get(&r.delivery_id) {
                        self.metrics.delivery.dead_tokens_removed(*provider, 1);
                    }
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "recording receipts failed; they are asked for again")
            }
        }
        count
    }

    /// The loop, until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        tracing::info!(owner = %self.owner, concurrency = self.settings.concurrency, "delivery worker started");
        let slots = Arc::new(Semaphore::new(self.settings.concurrency.max(1)));
        let mut in_flight: JoinSet<()> = JoinSet::new();
        // The jobs being run, so that shutdown can hand back those it abandons.
        let running: Arc<std::sync::Mutex<HashSet<ObjectId>>> = Arc::default();
        let mut failures = 0u32;
        let mut receipts_checked = std::time::Instant::now();
        while !shutdown.is_cancelled() {
            if receipts_checked.elapsed() >= RECEIPT_INTERVAL {
                receipts_checked = std::time::Instant::now();
                self.check_receipts(Timestamp::now()).await;
            }
            if let Some(heartbeat) = &self.heartbeat {
                heartbeat.beat();
            }
            // Reap finished jobs so the set does not grow.
            while in_flight.try_join_next().is_some() {}
            let mut progressed = false;
            match self.store.expand_fan_out(self.settings.fan_out_page).await {
                Ok(p) => {
                    if p.expanded {
                        self.metrics.delivery.fan_out_page(p.notifications);
                    }
                    progressed |= p.expanded;
                }
                Err(e) => {
                    failures += 1;
                    tracing::error!(error = %e, "fan-out failed");
                }
            }
            let free = slots.available_permits();
            if free > 0 {
                match self
                    .store
                    .claim_due_jobs(&self.owner, free, self.settings.lease, Timestamp::now())
                    .await
                {
                    Ok(claimed) => {
                        failures = 0;
                        progressed |= !claimed.is_empty();
                        self.metrics.delivery.jobs_claimed(claimed.len());
                        for job in claimed {
                            let Ok(permit) = slots.clone().try_acquire_owned() else {
                                break;
                            };
                            let me = self.clone();
                            let running = running.clone();
                            lock(&running).insert(job.id.clone());
                            let counted = self.metrics.delivery.job_started();
                            in_flight.spawn(async move {
                                let id = job.id.clone();
                                me.process(job).await;
                                lock(&running).remove(&id);
                                drop((permit, counted));
                            });
                        }
                    }
                    Err(e) => {
                        failures += 1;
                        tracing::error!(error = %e, "claiming jobs failed");
                    }
                }
            }
            if progressed {
                continue;
            }
            // Idle, full, or the store is failing: wait for something to change.
            let pause = if failures > 0 {
                // Back off on a failing store instead of spinning on it.
                Duration::from_millis(100u64.saturating_mul(1 << failures.min(6)))
                    .min(self.settings.poll_interval.max(Duration::from_millis(100)))
            } else if slots.available_permits() == 0 {
                self.settings.poll_interval
            } else {
                self.idle_pause().await
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            }
        }
        if let Some(heartbeat) = &self.heartbeat {
            heartbeat.stop();
        }
        self.drain(in_flight, &running).await;
        tracing::info!(owner = %self.owner, "delivery worker stopped");
    }

    /// How long to sleep with nothing due: until the next due job, at most the poll interval.
    async fn idle_pause(&self) -> Duration {
        let poll = self.settings.poll_interval;
        match self.store.queue_state().await {
            Ok(state) if state.fan_outs_pending => Duration::ZERO,
            Ok(state) => match state.next_due {
                Some(at) => {
                    let wait = at.millis() - Timestamp::now().millis();
                    Duration::from_millis(wait.max(0) as u64).min(poll)
                }
                None => poll,
            },
            Err(_) => poll,
        }
    }

    /// Shutdown: waits up to the grace period for jobs in flight, then releases what is left.
    async fn drain(
        &self,
        mut in_flight: JoinSet<()>,
        running: &std::sync::Mutex<HashSet<ObjectId>>,
    ) {
        if in_flight.is_empty() {
            return;
        }
        tracing::info!(jobs = in_flight.len(), "waiting for jobs in flight");
        let deadline = tokio::time::sleep(self.settings.shutdown_grace);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                done = in_flight.join_next() => if done.is_none() { return },
                _ = &mut deadline => break,
            }
        }
        // What is still running is abandoned; its leases are handed back so another worker (or
        // this process after a restart) takes the jobs at once rather than after the lease.
        in_flight.abort_all();
        while in_flight.join_next().await.is_some() {}
        let abandoned: Vec<ObjectId> = lock(running).drain().collect();
        tracing::warn!(
            jobs = abandoned.len(),
            "releasing jobs still running at shutdown"
        );
        if let Err(e) = self.store.release_jobs(&self.owner, &abandoned).await {
            tracing::error!(error = %e, "cannot release jobs at shutdown; they run again when their leases expire");
        }
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
