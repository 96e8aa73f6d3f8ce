//! What the providers need from the operator: the outbound policy (`HERALD_OUTBOUND_ALLOW`,
//! timeouts, the response cap) and the endpoint overrides of providers with fixed hosts
//! (`HERALD_PROVIDER_ENDPOINT_<ID>`). The parsers take `(name, value)` pairs rather than reading
//! the process environment, so they are tested without touching it and the binary can feed them
//! from whatever configuration layer it uses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use herald_core::ProviderId;
use ipnet::IpNet;
use url::Url;

/// The variable holding the outbound allow-list.
pub const ALLOW_VAR: &str = "HERALD_OUTBOUND_ALLOW";
/// The prefix of the provider endpoint overrides.
pub const ENDPOINT_VAR_PREFIX: &str = "HERALD_PROVIDER_ENDPOINT_";

/// Everything [`crate::Providers`] is built from.
#[derive(Clone, Debug, Default)]
pub struct ProvidersConfig {
    pub outbound: OutboundConfig,
    /// Base URLs replacing the fixed hosts of providers (FCM, APNs, Expo, …); the provider's own
    /// path is appended (see [`ProvidersConfig::provider_url`]).
    pub endpoints: HashMap<ProviderId, Url>,
}

/// The one outbound HTTP client's limits and address policy.
#[derive(Clone, Debug)]
pub struct OutboundConfig {
    /// Networks that may be reached although their class is refused (loopback, private, …).
    pub allow: Vec<IpNet>,
    /// Time to establish a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time for the whole exchange, connection and response body included.
    pub timeout: Duration,
    /// Response bytes read at most; the rest of a longer answer is never read.
    pub max_response_bytes: usize,
    /// Hostnames answered from this map instead of DNS, so tests can use a name (a Teams
    /// Workflows host, a name that resolves to a refused address) without any real lookup. The
    /// addresses go through the same policy check as DNS answers. Empty in production.
    pub static_hosts: HashMap<String, Vec<IpAddr>>,
}

impl Default for OutboundConfig {
    fn default() -> Self {
        OutboundConfig {
            allow: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            max_response_bytes: 64 * 1024,
            static_hosts: HashMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "{ALLOW_VAR}: entry {position} ({entry:?}) is not an IP address or a CIDR network \
         (examples: 127.0.0.1, 10.0.0.0/8, ::1, fd00::/8)"
    )]
    AllowEntry { position: usize, entry: String },
    #[error(
        "{ALLOW_VAR}: entry {position} ({entry:?}) has bits set after its prefix length; \
         did you mean {suggestion}?"
    )]
    AllowHostBits {
        position: usize,
        entry: String,
        suggestion: String,
    },
    #[error("{var}: no provider has the id {id:?}; the ids are {known}")]
    EndpointProvider {
        var: String,
        id: String,
        known: String,
    },
    #[error("{var}: {reason}")]
    EndpointUrl { var: String, reason: String },
}

/// Parses `HERALD_OUTBOUND_ALLOW`: comma-separated IP addresses (one host each) and CIDR
/// networks; blanks around entries and empty entries are ignored, so an empty value allows
/// nothing.
pub fn parse_allow_list(value: &str) -> Result<Vec<IpNet>, ConfigError> {
    let mut nets = Vec::new();
    for (i, raw) in value.split(',').enumerate() {
        let entry = raw.trim();
        if entry.is_empty() {
            continue;
        }
        let position = i + 1;
        let net = if entry.contains('/') {
            let net: IpNet = entry.parse().map_err(|_| ConfigError::AllowEntry {
                position,
                entry: entry.to_owned(),
            })?;
            // `10.0.0.1/8` is almost certainly a typo for one of two things; say so rather
            // than guess.
            if net.trunc() != net {
                return Err(ConfigError::AllowHostBits {
                    position,
                    entry: entry.to_owned(),
                    suggestion: format!("{} (the network) or {} (one host)", net.trunc(), {
                        IpNet::from(net.addr())
                    }),
                });
            }
            net
        } else {
            let ip: IpAddr = entry.parse().map_err(|_| ConfigError::AllowEntry {
                position,
                entry: entry.to_owned(),
            })?;
            IpNet::from(ip)
        };
        nets.push(net);
    }
    Ok(nets)
}

/// The provider an endpoint variable's suffix names: the id upper-cased, `-` as `_`
/// (`ONE_SIGNAL` → `one-signal`).
fn provider_of_suffix(suffix: &str) -> Option<ProviderId> {
    ProviderId::ALL
        .iter()
        .copied()
        .find(|p| p.as_str().to_ascii_uppercase().replace('-', "_") == suffix)
}

/// Collects the `HERALD_PROVIDER_ENDPOINT_<ID>` overrides among `vars` (other names are
/// ignored). Each value is an `http`/`https` base URL without credentials, query or fragment.
pub fn parse_provider_endpoints<I, K, V>(vars: I) -> Result<HashMap<ProviderId, Url>, ConfigError>
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut endpoints = HashMap::new();
    for (name, value) in vars {
        let name = name.as_ref();
        let Some(suffix) = name.strip_prefix(ENDPOINT_VAR_PREFIX) else {
            continue;
        };
        let provider = provider_of_suffix(suffix).ok_or_else(|| ConfigError::EndpointProvider {
            var: name.to_owned(),
            id: suffix.to_owned(),
            known: ProviderId::ALL
                .iter()
                .map(|p| p.as_str().to_ascii_uppercase().replace('-', "_"))
                .collect::<Vec<_>>()
                .join(", "),
        })?;
        let bad = |reason: &str| ConfigError::EndpointUrl {
            var: name.to_owned(),
            reason: reason.to_owned(),
        };
        let url = Url::parse(value.as_ref().trim()).map_err(|e| {
            bad(&format!(
                "not a URL ({e}); expected e.g. http://127.0.0.1:9000"
            ))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("only http and https endpoints are supported"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("credentials in the URL are not supported"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(bad(
                "a base URL has no query or fragment (the provider's path is appended)",
            ));
        }
        endpoints.insert(provider, url);
    }
    Ok(endpoints)
}

impl ProvidersConfig {
    /// Reads `HERALD_OUTBOUND_ALLOW` and every `HERALD_PROVIDER_ENDPOINT_<ID>` from `vars`
    /// (e.g. `std::env::vars()`); limits keep their defaults.
    pub fn from_vars<I, K, V>(vars: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let vars: Vec<(K, V)> = vars.into_iter().collect();
        let mut outbound = OutboundConfig::default();
        if let Some((_, v)) = vars.iter().find(|(k, _)| k.as_ref() == ALLOW_VAR) {
            outbound.allow = parse_allow_list(v.as_ref())?;
        }
        let endpoints =
            parse_provider_endpoints(vars.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))?;
        Ok(ProvidersConfig {
            outbound,
            endpoints,
        })
    }

    /// The URL of `path` (starting with `/`) at `provider`'s endpoint: the override's base when
    /// one is set, else `default_base`; the base's own path is kept as a prefix.
    pub fn provider_url(
        &self,
        provider: ProviderId,
        default_base: &str,
        path: &str,
    ) -> Result<Url, url::ParseError> {
        let base = self
            .endpoints
            .get(&provider)
            .map(Url::as_str)
            .unwrap_or(default_base);
        Url::parse(&format!("{}{}", base.trim_end_matches('/'), path))
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
