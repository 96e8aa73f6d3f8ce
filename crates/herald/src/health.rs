//! Readiness: whether this process can do its work, for load balancers and orchestrators. Two
//! checks: the database answers a [`Store::ping`] in time, and, when this process runs a
//! delivery worker, the worker's loop is alive: it beats a [`Heartbeat`] on every round, and a
//! heartbeat older than its stall timeout (several poll intervals) means the loop is stuck.
//! Liveness stays `GET /v1/health-check` (Novu's), which checks nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use herald_core::Store;
use tokio::time::Instant;

/// How long the readiness check waits for the database.
pub const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The worker loop's last sign of life. Cheap to clone: clones share one heartbeat.
#[derive(Clone, Debug)]
pub struct Heartbeat(Arc<Beats>);

#[derive(Debug)]
struct Beats {
    origin: Instant,
    /// Milliseconds from `origin` to the last beat.
    last: AtomicU64,
    stopped: AtomicBool,
    stall_timeout: Duration,
}

/// What a [`Heartbeat`] says about its loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerStatus {
    /// It beat within the stall timeout (a heartbeat counts as a beat when it is created).
    Alive,
    /// No beat for longer than the stall timeout.
    Stalled,
    /// The loop has ended (shutdown).
    Stopped,
}

impl WorkerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkerStatus::Alive => "ok",
            WorkerStatus::Stalled => "stalled",
            WorkerStatus::Stopped => "stopped",
        }
    }
}

impl Heartbeat {
    /// A heartbeat whose loop counts as stalled after `stall_timeout` without a beat.
    pub fn new(stall_timeout: Duration) -> Self {
        Heartbeat(Arc::new(Beats {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            stall_timeout,
        }))
    }

    /// The loop came round.
    pub fn beat(&self) {
        let since = self.0.origin.elapsed().as_millis();
        self.0
            .last
            .store(u64::try_from(since).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The loop has ended.
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::Relaxed);
    }

    pub fn status(&self) -> WorkerStatus {
        if self.0.stopped.load(Ordering::Relaxed) {
            return WorkerStatus::Stopped;
        }
        let last = Duration::from_millis(self.0.last.load(Ordering::Relaxed));
        let quiet = self.0.origin.elapsed().saturating_sub(last);
        // `>=`: a zero timeout means "stalled" whatever the clock's resolution.
        if quiet >= self.0.stall_timeout {
            WorkerStatus::Stalled
        } else {
            WorkerStatus::Alive
        }
    }
}

/// The result of the readiness checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Readiness {
    pub database: bool,
    /// `None` when this process runs no worker.
    pub worker: Option<WorkerStatus>,
}

impl Readiness {
    /// Runs the checks: the database within [`PING_TIMEOUT`], and the worker's heartbeat.
    pub async fn check(store: &dyn Store, worker: Option<&Heartbeat>) -> Readiness {
        let database = match tokio::time::timeout(PING_TIMEOUT, store.ping()).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the database does not answer");
                false
            }
            Err(_) => {
                tracing::warn!(timeout = ?PING_TIMEOUT, "readiness: the database did not answer in time");
                false
            }
        };
        let worker = worker.map(Heartbeat::status);
        if let Some(status) = worker.filter(|s| *s != WorkerStatus::Alive) {
            tracing::warn!(
                worker = status.as_str(),
                "readiness: the delivery worker is not running"
            );
        }
        Readiness { database, worker }
    }

    pub fn is_ready(&self) -> bool {
        self.database && matches!(self.worker, None | Some(WorkerStatus::Alive))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_heartbeat_is_alive_until_its_loop_misses_the_stall_timeout() {
        let heartbeat = Heartbeat::new(Duration::from_secs(5));
        assert_eq!(heartbeat.status(), WorkerStatus::Alive, "fresh");
        tokio::time::advance(Duration::from_millis(4_900)).await;
        assert_eq!(heartbeat.status(), WorkerStatus::Alive);
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(
            heartbeat.status(),
            WorkerStatus::Stalled,
            "5 s without a beat"
        );
        heartbeat.beat();
        assert_eq!(heartbeat.status(), WorkerStatus::Alive, "beat again");
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(
            heartbeat.clone().status(),
            WorkerStatus::Alive,
            "clones share it"
        );
        heartbeat.stop();
        assert_eq!(heartbeat.status(), WorkerStatus::Stopped);
    }

    #[test]
    fn ready_needs_the_database_and_a_live_worker_when_there_is_one() {
        let ready = |database, worker| Readiness { database, worker }.is_ready();
        assert!(ready(true, None));
        assert!(ready(true, Some(WorkerStatus::Alive)));
        assert!(!ready(false, None));
        assert!(!ready(false, Some(WorkerStatus::Alive)));
        assert!(!ready(true, Some(WorkerStatus::Stalled)));
        assert!(!ready(true, Some(WorkerStatus::Stopped)));
    }
}
