//! Delivery metrics, fed by the worker: jobs claimed and how each run ended, every provider call
//! by provider and outcome class, fan-out pages, dead device tokens removed, and the jobs this
//! process has in flight. The worker calls one method per event; what a run did is read from the
//! [`JobRun`] it records, so the runner needs no metrics of its own.

use herald_core::delivery::job::{JobContext, JobOutcome, JobRun};
use herald_core::ProviderId;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// How one run of a job ended.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum RunResult {
    completed,
    failed,
    /// Some deliveries are pending: the job runs again later.
    retried,
    canceled,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RunLabels {
    result: RunResult,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    provider: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: &'static str,
}

/// The outcome classes of `herald_core::delivery::Outcome::class`; anything else is `other`
/// (a label is never copied from stored text).
const OUTCOMES: [&str; 5] = [
    "delivered",
    "retry",
    "token_dead",
    "credential_invalid",
    "rejected",
];

pub struct DeliveryMetrics {
    claimed: Counter,
    runs: Family<RunLabels, Counter>,
    attempts: Family<AttemptLabels, Counter>,
    fan_out_pages: Counter,
    fan_out_notifications: Counter,
    dead_tokens: Family<ProviderLabels, Counter>,
    in_flight: Gauge,
}

impl DeliveryMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let m = DeliveryMetrics {
            claimed: Counter::default(),
            runs: Family::default(),
            attempts: Family::default(),
            fan_out_pages: Counter::default(),
            fan_out_notifications: Counter::default(),
            dead_tokens: Family::default(),
            in_flight: Gauge::default(),
        };
        registry.register(
            "herald_delivery_jobs_claimed",
            "Delivery jobs this process's worker claimed (a job claimed again after a retry or an expired lease counts again)",
            m.claimed.clone(),
        );
        registry.register(
            "herald_delivery_job_runs",
            "Job runs recorded, by result: completed, failed, retried (a retry was scheduled) or canceled",
            m.runs.clone(),
        );
        registry.register(
            "herald_delivery_attempts",
            "Provider calls, by provider id and outcome class (delivered, retry, token_dead, credential_invalid, rejected)",
            m.attempts.clone(),
        );
        registry.register(
            "herald_delivery_fan_out_pages",
            "Pages of topic or broadcast recipients expanded into jobs",
            m.fan_out_pages.clone(),
        );
        registry.register(
            "herald_delivery_fan_out_notifications",
            "Notifications created by fan-out pages",
            m.fan_out_notifications.clone(),
        );
        registry.register(
            "herald_delivery_dead_tokens_removed",
            "Device tokens removed because their provider said they will never work again, by provider id",
            m.dead_tokens.clone(),
        );
        registry.register(
            "herald_delivery_jobs_in_flight",
            "Jobs this process's worker is running now",
            m.in_flight.clone(),
        );
        m
    }

    /// The worker claimed `n` jobs.
    pub fn jobs_claimed(&self, n: usize) {
        self.claimed.inc_by(n as u64);
    }

    /// A fan-out page was expanded, creating `notifications` notifications.
    pub fn fan_out_page(&self, notifications: u64) {
        self.fan_out_pages.inc();
        self.fan_out_notifications.inc_by(notifications);
    }

    /// `count` device tokens of `provider` were removed as dead (by a job run or an Expo receipt).
    pub fn dead_tokens_removed(&self, provider: ProviderId, count: u64) {
        self.dead_tokens
            .get_or_create(&ProviderLabels {
                provider: provider.as_str(),
            })
            .inc_by(count);
    }

    /// A job starts running; it counts as in flight until the guard is dropped (also when its
    /// task is aborted at shutdown).
    pub fn job_started(&self) -> InFlight {
        self.in_flight.inc();
        InFlight(self.in_flight.clone())
    }

    /// A run was recorded: how it ended, and every provider call it made (`ctx` is what the run
    /// started from: it names the provider of deliveries made by earlier runs).
    pub fn job_recorded(&self, ctx: &JobContext, run: &JobRun) {
        let result = match run.outcome {
            JobOutcome::Completed => RunResult::completed,
            JobOutcome::Failed => RunResult::failed,
            JobOutcome::RetryAt(_) => RunResult::retried,
            JobOutcome::Canceled => RunResult::canceled,
        };
        self.runs.get_or_create(&RunLabels { result }).inc();
        for removal in &run.removed_tokens {
            if let Some(i) = ctx
                .integrations
                .iter()
                .find(|i| i.id == removal.integration_id)
            {
                self.dead_tokens_removed(i.provider_id, 1);
            }
        }
        for (provider, outcome) in attempts(ctx, run) {
            self.attempts
                .get_or_create(&AttemptLabels {
                    provider: provider.as_str(),
                    outcome,
                })
                .inc();
        }
    }
}

/// Keeps a job counted in `herald_delivery_jobs_in_flight` while alive.
pub struct InFlight(Gauge);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The provider calls a run made: a delivery carries an outcome only when it was attempted in
/// this run (see `herald_core::delivery::job::DeliveryUpdate::outcome`).
fn attempts(ctx: &JobContext, run: &JobRun) -> Vec<(ProviderId, &'static str)> {
    let mut out = Vec::new();
    for message in &run.new_messages {
        for d in &message.deliveries {
            if let Some(outcome) = &d.state.outcome {
                out.push((message.provider_id, outcome_label(outcome)));
            }
        }
    }
    for update in &run.delivery_updates {
        let Some(outcome) = &update.outcome else {
            continue;
        };
        let provider = ctx
            .messages
            .iter()
            .find(|m| m.deliveries.iter().any(|d| d.id == update.id))
            .map(|m| m.provider_id);
        if let Some(provider) = provider {
            out.push((provider, outcome_label(outcome)));
        }
    }
    out
}

fn outcome_label(class: &str) -> &'static str {
    OUTCOMES
        .into_iter()
        .find(|o| *o == class)
        .unwrap_or("other")
}

#[cfg(test)]
mod tests {
    use super::super::Metrics;
    use super::*;

    #[test]
    fn outcome_labels_come_from_the_known_classes_only() {
        assert_eq!(outcome_label("token_dead"), "token_dead");
        assert_eq!(outcome_label("https://hooks.example/secret"), "other");
    }

    #[test]
    fn in_flight_jobs_are_counted_until_their_guard_drops() {
        let metrics = Metrics::new();
        let a = metrics.delivery.job_started();
        let b = metrics.delivery.job_started();
        assert!(metrics
            .render()
            .contains("herald_delivery_jobs_in_flight 2\n"));
        drop(a);
        drop(b);
        assert!(metrics
            .render()
            .contains("herald_delivery_jobs_in_flight 0\n"));
    }

    #[test]
    fn dead_tokens_fan_out_and_claims_are_counted() {
        let metrics = Metrics::new();
        metrics.delivery.dead_tokens_removed(ProviderId::Fcm, 2);
        metrics.delivery.fan_out_page(500);
        metrics.delivery.fan_out_page(3);
        metrics.delivery.jobs_claimed(7);
        let text = metrics.render();
        for line in [
            "herald_delivery_dead_tokens_removed_total{provider=\"fcm\"} 2\n",
            "herald_delivery_fan_out_pages_total 2\n",
            "herald_delivery_fan_out_notifications_total 503\n",
            "herald_delivery_jobs_claimed_total 7\n",
        ] {
            assert!(text.contains(line), "{line} missing from:\n{text}");
        }
    }
}
