//! Operations settings on the command line and in `HERALD_*` variables (see `config` for the
//! layering rules): where the Prometheus metrics are served, and the per-API-key rate limits.
//! Both are off by default.

use std::net::SocketAddr;
use std::num::NonZeroU32;

use clap::Args;

use crate::http::rate_limit::{RateLimit, RateLimitSettings};

#[derive(Args, Clone, Debug, Default)]
pub struct OpsArgs {
    /// Serve Prometheus metrics at `GET /metrics` on this address (e.g. `127.0.0.1:9464`).
    /// Off when unset. Keep it off the public network: the metrics need no key.
    #[arg(long, env = "HERALD_METRICS_BIND")]
    pub metrics_bind: Option<SocketAddr>,

    /// Requests per second each API key may send (fractions allowed, e.g. `0.5`); over it,
    /// requests answer 429. Off when unset.
    #[arg(long, env = "HERALD_RATE_LIMIT", value_parser = parse_rate)]
    pub rate_limit: Option<f64>,

    /// Requests an API key may send at once before `HERALD_RATE_LIMIT` applies (default: one
    /// second's worth, at least 1).
    #[arg(long, env = "HERALD_RATE_LIMIT_BURST", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_burst: Option<u32>,

    /// Requests per second each API key may send to the event routes (`/v1/events/…`: trigger,
    /// bulk, broadcast, cancel), which then count only against this limit. Off when unset (the
    /// event routes then share `HERALD_RATE_LIMIT`).
    #[arg(long, env = "HERALD_TRIGGER_RATE_LIMIT", value_parser = parse_rate)]
    pub trigger_rate_limit: Option<f64>,

    /// Burst of `HERALD_TRIGGER_RATE_LIMIT` (default: one second's worth, at least 1).
    #[arg(long, env = "HERALD_TRIGGER_RATE_LIMIT_BURST", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub trigger_rate_limit_burst: Option<u32>,
}

impl OpsArgs {
    /// The rate limits these arguments describe.
    pub fn rate_limits(&self) -> anyhow::Result<RateLimitSettings> {
        let limit = |rate: Option<f64>, burst: Option<u32>, name: &str| match rate {
            None => {
                if burst.is_some() {
                    anyhow::bail!("{name}_BURST is set but {name} is not");
                }
                Ok(None)
            }
            Some(rate) => {
                // One second's worth; parse_rate bounds the rate, so this fits.
                let burst = burst.unwrap_or_else(|| rate.ceil() as u32).max(1);
                let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
                RateLimit::per_second(rate, burst).map(Some).ok_or_else(|| {
                    anyhow::anyhow!("{name} must be a rate between 0.001 and 1000000")
                })
            }
        };
        Ok(RateLimitSettings {
            general: limit(self.rate_limit, self.rate_limit_burst, "HERALD_RATE_LIMIT")?,
            trigger: limit(
                self.trigger_rate_limit,
                self.trigger_rate_limit_burst,
                "HERALD_TRIGGER_RATE_LIMIT",
            )?,
        })
    }
}

/// A rate in requests per second: a number from 0.001 to 1000000.
fn parse_rate(s: &str) -> Result<f64, String> {
    let rate: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of requests per second"))?;
    if (0.001..=1_000_000.0).contains(&rate) {
        Ok(rate)
    } else {
        Err(format!(
            "{s} is out of range: a rate is between 0.001 and 1000000 requests per second"
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use crate::config::Cli;

    #[test]
    fn metrics_and_rate_limits_are_off_by_default() {
        let cli = Cli::parse_from(["herald"]);
        assert_eq!(cli.ops.metrics_bind, None);
        assert_eq!(cli.ops.rate_limits().unwrap(), Default::default());
    }

    #[test]
    fn a_rate_limit_has_a_default_burst_of_one_seconds_worth() {
        let cli = Cli::parse_from([
            "herald",
            "--metrics-bind",
            "127.0.0.1:9464",
            "--rate-limit",
            "20",
            "--trigger-rate-limit",
            "0.5",
            "--trigger-rate-limit-burst",
            "3",
        ]);
        assert_eq!(
            cli.ops.metrics_bind,
            Some("127.0.0.1:9464".parse().unwrap())
        );
        let limits = cli.ops.rate_limits().unwrap();
        let general = limits.general.unwrap();
        assert_eq!(
            (general.period, general.burst.get()),
            (Duration::from_millis(50), 20)
        );
        let trigger = limits.trigger.unwrap();
        assert_eq!(
            (trigger.period, trigger.burst.get()),
            (Duration::from_secs(2), 3)
        );
        let slow = Cli::parse_from(["herald", "--rate-limit", "0.2"]);
        assert_eq!(
            slow.ops.rate_limits().unwrap().general.unwrap().burst.get(),
            1
        );
    }

    #[test]
    fn nonsense_rates_are_refused_with_the_setting_named() {
        for bad in ["0", "-1", "abc", "NaN", "inf", "2000000"] {
            let err = Cli::try_parse_from(["herald", &format!("--rate-limit={bad}")]).unwrap_err();
            assert!(err.to_string().contains("--rate-limit"), "{bad}: {err}");
        }
        let err = Cli::try_parse_from(["herald", "--rate-limit", "5", "--rate-limit-burst", "0"])
            .unwrap_err();
        assert!(err.to_string().contains("--rate-limit-burst"), "{err}");
        let burst_alone = Cli::parse_from(["herald", "--rate-limit-burst", "5"]);
        let err = burst_alone.ops.rate_limits().unwrap_err();
        assert!(err.to_string().contains("HERALD_RATE_LIMIT_BURST"), "{err}");
    }
}
