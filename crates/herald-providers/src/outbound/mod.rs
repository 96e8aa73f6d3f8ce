//! The one outbound HTTP client every provider sends through, and the only place that decides
//! where Herald may connect. Webhook URLs come from API callers, so without this any API key
//! could make Herald POST to its own loopback services or the cloud metadata endpoint and read
//! the answer back through the message's error text.
//!
//! The rules: `http`/`https` only, no credentials in the URL, no proxy from the environment, no
//! redirect ever followed (a 3xx is a permanent failure), connect and total timeouts, and at most
//! `max_response_bytes` of an answer read. Destination addresses are judged by
//! [`policy::Policy`]: IP-literal hosts here before sending (the connector does not resolve
//! them), hostnames by [`resolver::GuardedResolver`] at connect time.

pub mod policy;
mod resolver;

use std::error::Error as StdError;
use std::sync::Arc;

use herald_core::delivery::{Attempt, Outcome};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, USER_AGENT};
use url::{Host, Url};

use crate::config::{OutboundConfig, ALLOW_VAR};
use crate::response::Response;
use policy::{Policy, Refusal};
use resolver::{GuardedResolver, RefusedDestination};

/// One provider call: always a `POST`, of a JSON body unless `content_type` says otherwise (the
/// FCM token endpoint takes a form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ProviderRequest {
    pub url: Url,
    /// Headers besides `Content-Type` and the user agent.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// Response bytes read at most, when this call's answers run larger than the configured
    /// cap (Expo's tickets and receipts for hundreds of tokens).
    pub response_cap: Option<usize>,
}

pub(crate) const JSON: &str = "application/json";

impl ProviderRequest {
    pub fn json(url: Url, body: &serde_json::Value) -> Self {
        ProviderRequest::bytes(url, serde_json::to_vec(body).unwrap_or_default())
    }

    /// A JSON body already serialized (signed bodies: the signature covers these exact bytes).
    pub fn bytes(url: Url, body: Vec<u8>) -> Self {
        ProviderRequest {
            url,
            headers: Vec::new(),
            body,
            content_type: JSON,
            response_cap: None,
        }
    }

    /// Adds a header; a value that is not a valid header value (a credential with a line
    /// break) is left out rather than sent mangled, and the provider's answer says what is
    /// missing.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.push((HeaderName::from_static(name), v));
        }
        self
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }
}

/// Which HTTP versions a client speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Http {
    /// HTTP/1.1, or HTTP/2 where TLS negotiates it.
    Any,
    /// HTTP/2 only: negotiated over TLS, with prior knowledge (h2c) over plain `http://`
    /// (APNs, and its fakes on loopback).
    Http2Only,
}

#[derive(Debug, thiserror::Error)]
#[error("the outbound HTTP client could not be built: {0}")]
pub struct BuildError(#[from] reqwest::Error);

pub(crate) struct Outbound {
    client: reqwest::Client,
    policy: Arc<Policy>,
    max_response_bytes: usize,
}

const USER_AGENT_VALUE: &str = concat!("Herald/", env!("CARGO_PKG_VERSION"));

impl Outbound {
    pub fn new(cfg: &OutboundConfig, http: Http) -> Result<Self, BuildError> {
        let policy = Arc::new(Policy::new(cfg.allow.clone()));
        let resolver = GuardedResolver {
            policy: Arc::clone(&policy),
            static_hosts: Arc::new(cfg.static_hosts.clone()),
        };
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.timeout)
            .dns_resolver(Arc::new(resolver));
        if http == Http::Http2Only {
            builder = builder.http2_prior_knowledge();
        }
        let client = builder.build()?;
        Ok(Outbound {
            client,
            policy,
            max_response_bytes: cfg.max_response_bytes,
        })
    }

    /// Sends `req` and returns the provider's answer, or the attempt that ends the call without
    /// one: `Rejected` for a destination Herald refuses or a redirect, `Retry` for a transport
    /// failure. No detail contains the URL beyond its host.
    pub async fn post(&self, req: ProviderRequest) -> Result<Response, Attempt> {
        self.check_url(&req.url)?;
        let cap = req
            .response_cap
            .unwrap_or(self.max_response_bytes)
            .max(self.max_response_bytes);
        let mut builder = self
            .client
            .post(req.url.clone())
            .header(CONTENT_TYPE, req.content_type)
            .header(USER_AGENT, USER_AGENT_VALUE);
        for (name, value) in req.headers {
            builder = builder.header(name, value);
        }
        let mut resp = builder
            .body(req.body)
            .send()
            .await
            .map_err(|e| transport_failure(&e))?;
        let status = resp.status().as_u16();
        if resp.status().is_redirection() {
            // Never followed: the Location could point anywhere, including where the policy
            // refuses, and the webhook owner can give the final URL instead.
            let mut a = Attempt::new(
                Outcome::Rejected,
                format!("redirect not followed (HTTP {status}); give the final webhook URL"),
            );
            a.http_status = Some(status);
            return Err(a);
        }
        let headers: HeaderMap = std::mem::take(resp.headers_mut());
        let mut body = Vec::new();
        // An error while reading the body still leaves an answer (the status line arrived):
        // classify what was read rather than resend a message the provider may have taken.
        while body.len() < cap {
            match resp.chunk().await {
                Ok(Some(chunk)) => {
                    let room = cap - body.len();
                    body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(None) | Err(_) => break,
            }
        }
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    fn check_url(&self, url: &Url) -> Result<(), Attempt> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Attempt::new(
                Outcome::Rejected,
                format!(
                    "only http and https destinations are allowed, not {}",
                    url.scheme()
                ),
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Attempt::new(
                Outcome::Rejected,
                "credentials in the destination URL are not allowed",
            ));
        }
        // The url crate has already normalised every IPv4 spelling (2130706434, 0x7f000002,
        // 0177.0.0.2, 127.2) to dotted decimal, so what is judged is what would be connected to.
        let ip = match url.host() {
            Some(Host::Ipv4(v4)) => v4.into(),
            Some(Host::Ipv6(v6)) => v6.into(),
            Some(Host::Domain(_)) => return Ok(()),
            None => {
                return Err(Attempt::new(
                    Outcome::Rejected,
                    "the destination URL has no host",
                ))
            }
        };
        self.policy.check(ip).map_err(|r| refused(None, &r))
    }
}

/// The attempt for a destination the policy refuses: names the address and its class, and how
/// to allow it, never the URL.
fn refused(host: Option<&str>, r: &Refusal) -> Attempt {
    let what = match host {
        Some(host) => format!("{host} resolves to {r}"),
        None => r.to_string(),
    };
    Attempt::new(
        Outcome::Rejected,
        format!(
            "destination refused by the outbound policy: {what}; list it in {ALLOW_VAR} to allow it"
        ),
    )
}

/// The attempt for a request that got no answer. reqwest's own message includes the URL, so
/// the detail is built from the error kinds and the causes below it.
fn transport_failure(err: &reqwest::Error) -> Attempt {
    let mut source: Option<&(dyn StdError + 'static)> = err.source();
    let mut causes: Vec<String> = Vec::new();
    while let Some(e) = source {
        if let Some(r) = e.downcast_ref::<RefusedDestination>() {
            return refused(Some(&r.host), &r.refusal);
        }
        let text = e.to_string();
        // hyper's wrapper ("client error (Connect)") says nothing the kind does not.
        let wrapper = text.starts_with("client error (");
        if !wrapper && !causes.iter().any(|c| c.contains(&text)) {
            causes.push(text);
        }
        source = e.source();
    }
    let what = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let detail = if causes.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {}", causes.join(": "))
    };
    Attempt::new(Outcome::Retry { after: None }, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound(allow: &[&str]) -> Outbound {
        let cfg = OutboundConfig {
            allow: allow.iter().map(|a| a.parse().unwrap()).collect(),
            ..OutboundConfig::default()
        };
        Outbound::new(&cfg, Http::Any).unwrap()
    }

    fn check(o: &Outbound, url: &str) -> Result<(), Attempt> {
        o.check_url(&Url::parse(url).unwrap())
    }

    #[test]
    fn every_ipv4_spelling_is_judged_as_the_address_it_normalises_to() {
        for spelling in [
            "http://127.0.0.2/",
            "http://2130706434/",
            "http://0x7f000002/",
            "http://0x7F.0.0.2/",
            "http://0177.0.0.2/",
            "http://127.2/",
            "http://127.0.2/",
        ] {
            let url = Url::parse(spelling).unwrap();
            assert_eq!(url.host_str(), Some("127.0.0.2"), "{spelling}");
            let o = outbound(&["127.0.0.1/32"]);
            let refused = check(&o, spelling).unwrap_err();
            assert_eq!(refused.outcome, Outcome::Rejected);
            assert_eq!(
                refused.detail,
                "destination refused by the outbound policy: 127.0.0.2 (loopback address); \
                 list it in HERALD_OUTBOUND_ALLOW to allow it",
                "{spelling}"
            );
            assert!(check(&outbound(&["127.0.0.2/32"]), spelling).is_ok());
        }
    }

    #[test]
    fn ip_literal_hosts_of_every_refused_kind_are_refused_before_sending() {
        let o = outbound(&[]);
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]:8080/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://[fd00:ec2::254]/",
            "http://[fe80::1]/",
            "https://10.0.0.1/hook",
            "http://0.0.0.0:3000/",
            "http://100.100.100.200/",
        ] {
            let a = check(&o, url).unwrap_err();
            assert_eq!(a.outcome, Outcome::Rejected, "{url}");
            assert!(a.detail.contains("HERALD_OUTBOUND_ALLOW"), "{url}");
            assert!(!a.detail.contains("meta-data") && !a.detail.contains("/hook"));
        }
        assert!(check(&o, "https://93.184.216.34/hook").is_ok());
        assert!(check(&o, "https://hooks.slack.com/services/x").is_ok());
    }

    #[test]
    fn only_http_and_https_without_credentials_are_sent() {
        let o = outbound(&["127.0.0.1/32"]);
        let a = check(&o, "ftp://127.0.0.1/").unwrap_err();
        assert_eq!(
            a.detail,
            "only http and https destinations are allowed, not ftp"
        );
        let a = check(&o, "http://user:secret@127.0.0.1/").unwrap_err();
        assert_eq!(
            a.detail,
            "credentials in the destination URL are not allowed"
        );
        assert!(!a.detail.contains("secret"));
        assert_eq!(
            check(&o, "file:///etc/passwd").unwrap_err().outcome,
            Outcome::Rejected
        );
    }
}
