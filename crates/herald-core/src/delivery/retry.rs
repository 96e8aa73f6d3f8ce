//! When a failed delivery is tried again: exponential backoff with full jitter (AWS's
//! "Exponential Backoff And Jitter"), capped, for a bounded number of attempts; a provider's
//! `Retry-After` wins when it asks for longer.

use std::time::Duration;

use rand::Rng;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The base delay before the second attempt (`HERALD_RETRY_INITIAL_DELAY_MS`).
    pub initial_delay: Duration,
    /// No computed delay exceeds this.
    pub max_delay: Duration,
    /// Attempts in all, the first included (`HERALD_RETRY_MAX_ATTEMPTS`).
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial_delay: Duration::from_millis(10_000),
            max_delay: Duration::from_secs(15 * 60),
            max_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// The delay before the next attempt after `attempts` attempts have failed with a transient
    /// error, or `None` when none is left. `retry_after` (the provider's wish) wins when longer.
    pub fn next_delay(
        &self,
        attempts: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let ceiling = self.ceiling(attempts);
        let jittered = if ceiling.is_zero() {
            ceiling
        } else {
            Duration::from_millis(rng.gen_range(0..=ceiling.as_millis() as u64))
        };
        Some(match retry_after {
            Some(wish) if wish > jittered => wish,
            _ => jittered,
        })
    }

    /// The upper bound of the jittered delay after `attempts` failures:
    /// `min(max_delay, initial_delay * 2^(attempts - 1))`.
    pub fn ceiling(&self, attempts: u32) -> Duration {
        let doublings = attempts.saturating_sub(1).min(32);
        let ms = (self.initial_delay.as_millis() as u64).saturating_mul(1u64 << doublings);
        Duration::from_millis(ms).min(self.max_delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            initial_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(900),
            max_attempts: 8,
        }
    }

    #[test]
    fn the_ceiling_doubles_from_the_initial_delay_and_is_capped() {
        let p = policy();
        assert_eq!(p.ceiling(1), Duration::from_secs(10));
        assert_eq!(p.ceiling(2), Duration::from_secs(20));
        assert_eq!(p.ceiling(4), Duration::from_secs(80));
        assert_eq!(p.ceiling(7), Duration::from_secs(640));
        assert_eq!(p.ceiling(8), Duration::from_secs(900));
        assert_eq!(p.ceiling(60), Duration::from_secs(900));
    }

    #[test]
    fn delays_are_jittered_within_the_ceiling() {
        let p = policy();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = p.next_delay(3, None, &mut rng).expect("attempts left");
            assert!(d <= p.ceiling(3));
            seen.insert(d);
        }
        assert!(
            seen.len() > 50,
            "full jitter spreads the delays: {}",
            seen.len()
        );
    }

    #[test]
    fn no_delay_once_the_attempts_are_used_up() {
        let p = policy();
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        assert!(p.next_delay(7, None, &mut rng).is_some());
        assert_eq!(p.next_delay(8, None, &mut rng), None);
        assert_eq!(
            p.next_delay(9, Some(Duration::from_secs(1)), &mut rng),
            None
        );
    }

    #[test]
    fn a_longer_retry_after_wins_a_shorter_one_does_not() {
        let p = policy();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let long = Duration::from_secs(3600);
        assert_eq!(p.next_delay(1, Some(long), &mut rng), Some(long));
        let d = p
            .next_delay(1, Some(Duration::ZERO), &mut rng)
            .expect("attempts left");
        assert!(d <= p.ceiling(1));
    }
}
