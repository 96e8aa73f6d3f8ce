//! Pruning dead device tokens, with the safety valve of DESIGN.md.
//!
//! A provider's permanent "this token is dead" answer (FCM `UNREGISTERED`, APNs 410, Expo
//! `DeviceNotRegistered`, …) removes the token from the subscriber at once. Some dead-token codes
//! are *credential-shaped*: FCM `SENDER_ID_MISMATCH` and APNs `BadDeviceToken` /
//! `DeviceTokenNotForTopic` say "this token does not belong to these credentials", which for one
//! token means the token is foreign, but for most tokens of an integration means the integration is
//! set up wrongly (project id, production switch, bundle id). Removing on such a code on the
//! strength of one answer could wipe every subscriber's tokens after one configuration mistake.
//!
//! So this process keeps, per integration, a short window of recent send outcomes, and:
//! - removes a token on a plain dead-token code at once;
//! - removes a token on a credential-shaped code only when the window shows the integration's
//!   credentials work (at least [`MIN_SUCCESSES`] deliveries, and at least half of the recent
//!   sends delivered), and keeps it otherwise (the next send decides again);
//! - trips the valve when at least [`BURST`] credential-shaped failures make up at least half of
//!   the recent sends: removals on credential-shaped codes stop for that integration while the
//!   burst is in the window, and each failed send records that the integration's credentials look
//!   invalid. Transient errors never remove anything.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use herald_core::ObjectId;

/// How far back the window looks.
const WINDOW: Duration = Duration::from_secs(10 * 60);
/// Outcomes kept per integration (the oldest are dropped first).
const CAPACITY: usize = 2048;
/// Credential-shaped failures that, at half the recent sends or more, trip the valve.
pub const BURST: usize = 20;
/// Deliveries that show an integration's credentials work.
pub const MIN_SUCCESSES: usize = 5;

/// What one send of an integration came to, as the valve counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    Delivered,
    /// A dead-token answer whose code is credential-shaped.
    CredentialShaped,
    /// Anything else (other failures, plain dead tokens).
    Other,
}

/// What to do with a token the provider called dead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Remove,
    /// Keep it, for this reason (recorded in the execution details).
    Keep(String),
}

#[derive(Default)]
struct Window {
    sends: VecDeque<(Instant, Sent)>,
}

impl Window {
    fn push(&mut self, now: Instant, sent: Sent) {
        self.evict(now);
        if self.sends.len() == CAPACITY {
            self.sends.pop_front();
        }
        self.sends.push_back((now, sent));
    }

    fn evict(&mut self, now: Instant) {
        while self
            .sends
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > WINDOW)
        {
            self.sends.pop_front();
        }
    }

    fn counts(&self) -> (usize, usize, usize) {
        let delivered = self.sends.iter().filter(|s| s.1 == Sent::Delivered).count();
        let shaped = self
            .sends
            .iter()
            .filter(|s| s.1 == Sent::CredentialShaped)
            .count();
        (delivered, shaped, self.sends.len())
    }
}

/// The per-integration windows of one worker, and whether pruning is on.
pub struct PruneGuard {
    enabled: bool,
    windows: Mutex<HashMap<ObjectId, Window>>,
}

impl PruneGuard {
    pub fn new(enabled: bool) -> Self {
        PruneGuard {
            enabled,
            windows: Mutex::new(HashMap::new()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    fn with<T>(&self, integration: &ObjectId, f: impl FnOnce(&mut Window) -> T) -> T {
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Integrations nobody sent through for a whole window are forgotten.
        if windows.len() > 1024 {
            let now = Instant::now();
            windows.retain(|_, w| {
                w.evict(now);
                !w.sends.is_empty()
            });
        }
        f(windows.entry(integration.clone()).or_default())
    }

    /// Counts one send of `integration`.
    pub fn record(&self, integration: &ObjectId, sent: Sent) {
        self.with(integration, |w| w.push(Instant::now(), sent));
    }

    /// Whether the valve is tripped for `integration`: a burst of credential-shaped failures.
    pub fn tripped(&self, integration: &ObjectId) -> Option<String> {
        self.with(integration, |w| {
            w.evict(Instant::now());
            let (_, shaped, total) = w.counts();
            (shaped >= BURST && shaped * 2 >= total).then(|| {
                format!(
                    "{shaped} of the integration's last {total} sends failed with a code that \
                     usually means its credentials are wrong (project id, production switch or \
                     bundle id); its credentials look invalid and token removal is paused"
                )
            })
        })
    }

    /// What to do with a token `integration`'s provider called dead, with a credential-shaped
    /// code or not. Call after [`PruneGuard::record`] for that send.
    pub fn decide(&self, integration: &ObjectId, credential_shaped: bool) -> Decision {
        if !self.enabled {
            return Decision::Keep("pruning is off (HERALD_PRUNE_DEAD_TOKENS=false)".into());
        }
        if !credential_shaped {
            return Decision::Remove;
        }
        if let Some(why) = self.tripped(integration) {
            return Decision::Keep(why);
        }
        self.with(integration, |w| {
            let (delivered, _, total) = w.counts();
            if delivered >= MIN_SUCCESSES && delivered * 2 >= total {
                Decision::Remove
            } else {
                Decision::Keep(format!(
                    "kept until the integration's other sends show its credentials work \
                     ({delivered} of its last {total} sends delivered)"
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_dead_token_is_removed_at_once() {
        let g = PruneGuard::new(true);
        let i = ObjectId::new();
        g.record(&i, Sent::Other);
        assert_eq!(g.decide(&i, false), Decision::Remove);
    }

    #[test]
    fn pruning_off_keeps_every_token() {
        let g = PruneGuard::new(false);
        assert!(matches!(
            g.decide(&ObjectId::new(), false),
            Decision::Keep(_)
        ));
    }

    #[test]
    fn a_credential_shaped_code_removes_only_when_the_credentials_are_shown_to_work() {
        let g = PruneGuard::new(true);
        let i = ObjectId::new();
        g.record(&i, Sent::CredentialShaped);
        assert!(
            matches!(g.decide(&i, true), Decision::Keep(_)),
            "no evidence yet"
        );
        for _ in 0..MIN_SUCCESSES {
            g.record(&i, Sent::Delivered);
        }
        assert_eq!(g.decide(&i, true), Decision::Remove);
    }

    #[test]
    fn a_burst_of_credential_shaped_failures_trips_the_valve() {
        let g = PruneGuard::new(true);
        let i = ObjectId::new();
        for _ in 0..10 {
            g.record(&i, Sent::Delivered);
        }
        for n in 0..BURST {
            g.record(&i, Sent::CredentialShaped);
            if n + 1 < BURST {
                assert!(g.tripped(&i).is_none());
            }
        }
        let why = g.tripped(&i).expect("tripped");
        assert!(
            why.contains("20 of the integration's last 30 sends"),
            "{why}"
        );
        assert!(matches!(g.decide(&i, true), Decision::Keep(_)));
        // A plain dead-token code still prunes, and other integrations are unaffected.
        assert_eq!(g.decide(&i, false), Decision::Remove);
        assert!(g.tripped(&ObjectId::new()).is_none());
    }
}
