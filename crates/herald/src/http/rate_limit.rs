//! Per-API-key rate limits (off by default): `HERALD_RATE_LIMIT` requests per second per key with
//! a burst, and optionally a separate limit for the event routes (`/v1/events/…`, Novu's
//! `TRIGGER` category: trigger, bulk, broadcast, cancel), which then count only against it.
//!
//! Requests are limited *after* authentication, by the key's id, in the [`Auth`] extractor: an
//! unauthenticated request is never keyed by whatever it sent, so the limiter holds at most one
//! entry per API key in the database, and entries whose bucket has refilled are dropped every
//! few thousand checks (`retain_recent`), so memory stays bounded however many keys exist.
//!
//! The algorithm is governor's GCRA (a token bucket without a refill task): a key may send
//! `burst` requests at once, then one every `1 / rate` seconds. Over the limit is a 429 in Novu's
//! format (`API rate limit exceeded`) with `Retry-After` (seconds until a request would pass);
//! every limited route's answer carries `RateLimit-Limit` (the burst), `RateLimit-Remaining` and
//! `RateLimit-Reset` (seconds until the bucket is full again), as Novu's limiter sends them. The
//! extractor leaves its decision in a [`Slot`] that the [`headers`] middleware put in the
//! request, because an extractor cannot add headers to the response of a handler that succeeds.
//!
//! [`Auth`]: super::auth::Auth

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use herald_core::ObjectId;

/// Checks of one limiter between two sweeps of the keys whose bucket has refilled.
const RETAIN_EVERY: u64 = 4096;

/// One limit: a bucket of `burst` requests, one request added back every `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub period: Duration,
    pub burst: NonZeroU32,
}

impl RateLimit {
    /// `per_second` requests per second (fractions allowed: `0.5` is one every two seconds) with
    /// a burst of `burst`. `None` unless the rate is finite, positive and at most one per
    /// microsecond.
    pub fn per_second(per_second: f64, burst: NonZeroU32) -> Option<RateLimit> {
        if !(per_second.is_finite() && per_second > 0.0 && per_second <= 1_000_000.0) {
            return None;
        }
        let period = Duration::try_from_secs_f64(1.0 / per_second).ok()?;
        Some(RateLimit { period, burst })
    }

    fn quota(&self) -> Quota {
        Quota::with_period(self.period.max(Duration::from_nanos(1)))
            .expect("a period of at least 1 ns")
            .allow_burst(self.burst)
    }
}

/// Which limits are on (`None`: off).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimitSettings {
    /// Every authenticated route (`HERALD_RATE_LIMIT`, `HERALD_RATE_LIMIT_BURST`).
    pub general: Option<RateLimit>,
    /// The event routes instead of `general` (`HERALD_TRIGGER_RATE_LIMIT`, `…_BURST`).
    pub trigger: Option<RateLimit>,
}

/// What the limiter decided for one request, and the numbers the headers carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The burst: requests a key may send at once.
    pub limit: u32,
    /// Requests the key may still send right now.
    pub remaining: u32,
    /// Until the bucket is full again.
    pub reset: Duration,
    /// `Some` when the request is refused: until a request would pass.
    pub retry_after: Option<Duration>,
}

impl Decision {
    /// Writes the `RateLimit-*` headers (and `Retry-After` for a refusal), in whole seconds,
    /// rounded up so that a client waiting that long is not refused again.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        let mut set = |name: &'static str, value: u64| {
            headers.insert(HeaderName::from_static(name), HeaderValue::from(value));
        };
        set("ratelimit-limit", u64::from(self.limit));
        set("ratelimit-remaining", u64::from(self.remaining));
        set("ratelimit-reset", ceil_secs(self.reset));
        if let Some(wait) = self.retry_after {
            set("retry-after", retry_after_secs(wait));
        }
    }
}

fn ceil_secs(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `Retry-After` for a wait: whole seconds rounded up, at least 1, so that a client waiting
/// that long gets through.
pub fn retry_after_secs(wait: Duration) -> u64 {
    ceil_secs(wait).max(1)
}

type KeyedLimiter<C> =
    RateLimiter<ObjectId, DashMapStateStore<ObjectId>, C, StateInformationMiddleware>;

/// One limit over every key, on clock `C` (tests use governor's fake clock).
struct Keyed<C: Clock> {
    limiter: KeyedLimiter<C>,
    limit: RateLimit,
    checks: AtomicU64,
}

impl<C: Clock> Keyed<C> {
    fn new(limit: RateLimit, clock: C) -> Self {
        Keyed {
            limiter: RateLimiter::dashmap_with_clock(limit.quota(), clock)
                .with_middleware::<StateInformationMiddleware>(),
            limit,
            checks: AtomicU64::new(0),
        }
    }

    fn check(&self, key: &ObjectId) -> Decision {
        if self.checks.fetch_add(1, Ordering::Relaxed) % RETAIN_EVERY == RETAIN_EVERY - 1 {
            // Keys whose bucket is full again are indistinguishable from new ones: drop them.
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        let burst = self.limit.burst.get();
        match self.limiter.check_key(key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity();
                // Within one period of the exact time (the snapshot rounds to whole requests),
                // and never earlier.
                Decision {
                    limit: burst,
                    remaining,
                    reset: self.limit.period * burst.saturating_sub(remaining),
                    retry_after: None,
                }
            }
            Err(refused) => {
                let wait = refused.wait_time_from(self.limiter.clock().now());
                Decision {
                    limit: burst,
                    remaining: 0,
                    reset: wait + self.limit.period * (burst - 1),
                    retry_after: Some(wait),
                }
            }
        }
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.limiter.len()
    }
}

/// The server's limiters (see the module docs).
pub struct RateLimits<C: Clock = DefaultClock> {
    general: Option<Keyed<C>>,
    trigger: Option<Keyed<C>>,
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> Self {
        Self::with_clock(settings, DefaultClock::default())
    }
}

impl<C: Clock + Clone> RateLimits<C> {
    fn with_clock(settings: &RateLimitSettings, clock: C) -> Self {
        RateLimits {
            general: settings.general.map(|l| Keyed::new(l, clock.clone())),
            trigger: settings.trigger.map(|l| Keyed::new(l, clock)),
        }
    }
}

impl<C: Clock> RateLimits<C> {
    pub fn is_enabled(&self) -> bool {
        self.general.is_some() || self.trigger.is_some()
    }

    /// Counts one request of `key` to `route` (a route template) against the limit that applies
    /// to it; `None` when none does.
    pub fn check(&self, key: &ObjectId, route: Option<&str>) -> Option<Decision> {
        let limiter = match &self.trigger {
            Some(trigger) if route.is_some_and(is_event_route) => trigger,
            _ => self.general.as_ref()?,
        };
        Some(limiter.check(key))
    }
}

/// Novu's `TRIGGER` category: the routes of its events controller.
fn is_event_route(route: &str) -> bool {
    route.starts_with("/v1/events/")
}

/// Where the [`Auth`](super::auth::Auth) extractor leaves its decision for [`headers`].
#[derive(Clone, Default)]
pub struct Slot(Arc<Mutex<Option<Decision>>>);

impl Slot {
    pub fn set(&self, decision: Decision) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(decision);
    }

    fn take(&self) -> Option<Decision> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// Middleware: gives the request a [`Slot`] and puts the decision left in it on the response
/// (nothing at all while rate limiting is off).
pub async fn headers(
    State(limits): State<Arc<RateLimits>>,
    mut request: Request,
    next: Next,
) -> Response {
    if !limits.is_enabled() {
        return next.run(request).await;
    }
    let slot = Slot::default();
    request.extensions_mut().insert(slot.clone());
    let mut response = next.run(request).await;
    if let Some(decision) = slot.take() {
        decision.write_headers(response.headers_mut());
    }
    response
}

#[cfg(test)]
mod tests {
    use governor::clock::FakeRelativeClock;

    use super::*;

    fn limit(period_ms: u64, burst: u32) -> RateLimit {
        RateLimit {
            period: Duration::from_millis(period_ms),
            burst: NonZeroU32::new(burst).unwrap(),
        }
    }

    fn limiters(settings: RateLimitSettings) -> (RateLimits<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (RateLimits::with_clock(&settings, clock.clone()), clock)
    }

    #[test]
    fn a_key_gets_its_burst_then_one_request_per_period() {
        let (limits, clock) = limiters(RateLimitSettings {
            general: Some(limit(500, 3)),
            trigger: None,
        });
        let key = ObjectId::new();
        let route = Some("/v1/subscribers");
        let remaining: Vec<_> = (0..3)
            .map(|_| limits.check(&key, route).unwrap())
            .map(|d| (d.remaining, d.reset, d.retry_after))
            .collect();
        assert_eq!(
            remaining,
            [
                (2, Duration::from_millis(500), None),
                (1, Duration::from_millis(1000), None),
                (0, Duration::from_millis(1500), None),
            ]
        );
        let refused = limits.check(&key, route).unwrap();
        assert_eq!(
            refused,
            Decision {
                limit: 3,
                remaining: 0,
                reset: Duration::from_millis(1500),
                retry_after: Some(Duration::from_millis(500)),
            }
        );
        clock.advance(Duration::from_millis(499));
        assert!(limits.check(&key, route).unwrap().retry_after.is_some());
        clock.advance(Duration::from_millis(1));
        assert_eq!(limits.check(&key, route).unwrap().retry_after, None);
        // A full refill restores the whole burst.
        clock.advance(Duration::from_millis(1500));
        assert_eq!(limits.check(&key, route).unwrap().remaining, 2);
    }

    #[test]
    fn keys_are_limited_independently() {
        let (limits, _) = limiters(RateLimitSettings {
            general: Some(limit(1000, 1)),
            trigger: None,
        });
        let (a, b) = (ObjectId::new(), ObjectId::new());
        assert_eq!(limits.check(&a, None).unwrap().retry_after, None);
        assert!(limits.check(&a, None).unwrap().retry_after.is_some());
        assert_eq!(limits.check(&b, None).unwrap().retry_after, None);
    }

    #[test]
    fn event_routes_have_their_own_limit_when_one_is_set() {
        let (limits, _) = limiters(RateLimitSettings {
            general: Some(limit(1000, 1)),
            trigger: Some(limit(1000, 2)),
        });
        let key = ObjectId::new();
        let trigger = Some("/v1/events/trigger");
        assert_eq!(limits.check(&key, trigger).unwrap().limit, 2);
        assert_eq!(limits.check(&key, trigger).unwrap().retry_after, None);
        assert!(limits.check(&key, trigger).unwrap().retry_after.is_some());
        // The other routes' bucket was not touched by the triggers.
        let other = limits.check(&key, Some("/v2/subscribers")).unwrap();
        assert_eq!((other.limit, other.retry_after), (1, None));

        let (only_triggers, _) = limiters(RateLimitSettings {
            general: None,
            trigger: Some(limit(1000, 1)),
        });
        assert!(only_triggers.is_enabled());
        assert_eq!(only_triggers.check(&key, Some("/v2/subscribers")), None);
        assert!(only_triggers.check(&key, trigger).is_some());

        let (without_trigger_limit, _) = limiters(RateLimitSettings {
            general: Some(limit(1000, 1)),
            trigger: None,
        });
        assert_eq!(without_trigger_limit.check(&key, trigger).unwrap().limit, 1);
        assert!(!RateLimits::new(&RateLimitSettings::default()).is_enabled());
    }

    #[test]
    fn keys_whose_bucket_refilled_are_forgotten() {
        let (limits, clock) = limiters(RateLimitSettings {
            general: Some(limit(10, 5)),
            trigger: None,
        });
        for _ in 0..1000 {
            limits.check(&ObjectId::new(), None);
        }
        let general = limits.general.as_ref().unwrap();
        assert_eq!(general.keys(), 1000);
        clock.advance(Duration::from_secs(1));
        let busy = ObjectId::new();
        for _ in 0..RETAIN_EVERY {
            limits.check(&busy, None);
        }
        assert_eq!(general.keys(), 1, "only the key still limited is kept");
    }

    #[test]
    fn headers_are_whole_seconds_rounded_up() {
        let mut headers = HeaderMap::new();
        Decision {
            limit: 10,
            remaining: 0,
            reset: Duration::from_millis(9_100),
            retry_after: Some(Duration::from_millis(100)),
        }
        .write_headers(&mut headers);
        let get = |name: &str| headers[name].to_str().unwrap().to_string();
        assert_eq!(get("ratelimit-limit"), "10");
        assert_eq!(get("ratelimit-remaining"), "0");
        assert_eq!(get("ratelimit-reset"), "10");
        assert_eq!(get("retry-after"), "1");
        let mut allowed = HeaderMap::new();
        Decision {
            limit: 10,
            remaining: 9,
            reset: Duration::from_secs(1),
            retry_after: None,
        }
        .write_headers(&mut allowed);
        assert!(!allowed.contains_key("retry-after"));
        assert_eq!(allowed["ratelimit-reset"], "1");
    }

    #[test]
    fn rates_are_checked() {
        let one = NonZeroU32::new(1).unwrap();
        assert_eq!(
            RateLimit::per_second(0.5, one).unwrap().period,
            Duration::from_secs(2)
        );
        assert_eq!(
            RateLimit::per_second(100.0, one).unwrap().period,
            Duration::from_millis(10)
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 2e6] {
            assert_eq!(RateLimit::per_second(bad, one), None, "{bad}");
        }
    }
}
