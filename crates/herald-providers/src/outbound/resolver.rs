//! The DNS resolver of the outbound client: it resolves a hostname, then judges every address
//! with the outbound policy, and hands the connector only addresses that passed. Because the
//! connector connects to exactly what this returns, the check happens at connect time on the
//! addresses actually used: a name that resolved to a public address when a webhook was saved
//! and to 127.0.0.1 now (DNS rebinding) is refused now.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::policy::{Policy, Refusal};

/// A hostname whose resolution includes a refused address. Travels through reqwest's error
/// chain as the source of the connect error, where [`super::Outbound`] finds it again.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {refusal}")]
pub struct RefusedDestination {
    pub host: String,
    pub refusal: Refusal,
}

#[derive(Debug, thiserror::Error)]
#[error("{host} has no address")]
struct NoAddress {
    host: String,
}

pub(crate) struct GuardedResolver {
    pub(crate) policy: Arc<Policy>,
    pub(crate) static_hosts: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl GuardedResolver {
    fn fixed(&self, host: &str) -> Option<Vec<IpAddr>> {
        let host = host.trim_end_matches('.');
        self.static_hosts
            .iter()
            .find(|(name, _)| name.trim_end_matches('.').eq_ignore_ascii_case(host))
            .map(|(_, addrs)| addrs.clone())
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let policy = Arc::clone(&self.policy);
        let fixed = self.fixed(&host);
        Box::pin(async move {
            let addrs: Vec<IpAddr> = match fixed {
                Some(addrs) => addrs,
                None => tokio::net::lookup_host((host.as_str(), 0))
                    .await?
                    .map(|sa| sa.ip())
                    .collect(),
            };
            if addrs.is_empty() {
                return Err(Box::new(NoAddress { host }) as _);
            }
            // One refused address refuses the name: a public name has no reason to resolve
            // to a private address as well, and connecting to "the other one" would let an
            // attacker race the connector's address order.
            for addr in &addrs {
                // Unboxed, so that `?` boxes it once and the caller can downcast to it.
                policy.check(*addr).map_err(|refusal| RefusedDestination {
                    host: host.clone(),
                    refusal,
                })?;
            }
            // Port 0: the connector puts the URL's port in.
            Ok(Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0))) as Addrs)
        })
    }
}
