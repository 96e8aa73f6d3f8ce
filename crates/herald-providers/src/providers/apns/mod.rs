//! Apple Push Notification service over HTTP/2
//! (https://developer.apple.com/documentation/usernotifications/sending-notification-requests-to-apns).
//! Request: `POST https://api.push.apple.com/3/device/<token>` when the integration's `secure`
//! (Novu's "Production" switch) is on, `https://api.sandbox.push.apple.com/…` otherwise, with
//! `authorization: bearer <provider token>` ([`token`]) and the headers and body of
//! [`payload`], over the HTTP/2-only client (APNs speaks nothing else; an `http://` endpoint
//! override is spoken to as h2c, for fakes). Credentials: `secretKey` (the `.p8` key), `apiKey`
//! (its key id), `projectName` (the team id) — Novu's required three — and `applicationId`
//! (the bundle id, the `apns-topic`; required here unless `overrides.topic` gives one, since
//! token-based requests without a topic always fail). [`classify`] has the error table.

pub(crate) mod classify;
pub(crate) mod payload;
pub(crate) mod token;

use herald_core::delivery::{Attempt, Outcome};
use herald_core::ProviderId;

pub(crate) use token::TokenCache;

use super::{endpoint, segment, wrong_target};
use crate::hints::Secrets;
use crate::outbound::ProviderRequest;
use crate::settings::{invalid_config, invalid_config_because, Settings};
use crate::{Providers, SendRequest, Target};
use classify::Verdict;
use token::Signer;

pub(crate) const PRODUCTION: &str = "https://api.push.apple.com";
pub(crate) const SANDBOX: &str = "https://api.sandbox.push.apple.com";

pub(crate) async fn send(p: &Providers, req: &SendRequest<'_>) -> Attempt {
    let mut secrets = Secrets::default();
    let attempt = attempt(p, req, &mut secrets).await;
    secrets.scrub(attempt)
}

async fn attempt(p: &Providers, req: &SendRequest<'_>, secrets: &mut Secrets) -> Attempt {
    let Target::Push { token } = req.target else {
        return wrong_target(req.provider);
    };
    secrets.add(token);
    let s = Settings(req.integration);
    let (Some(pem), Some(key_id), Some(team_id)) =
        (s.str("secretKey"), s.str("apiKey"), s.str("projectName"))
    else {
        return invalid_config("apns");
    };
    secrets.add(pem);
    let topic_override = req
        .message
        .overrides
        .get("topic")
        .and_then(|t| t.as_str())
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(topic) = topic_override.or_else(|| s.str("applicationId")) else {
        return invalid_config_because(
            "apns",
            "the applicationId (the app's bundle id) is missing",
        );
    };
    let token = token.trim();
    if token.is_empty() {
        return Attempt::new(Outcome::Rejected, "the device token is empty");
    }
    let base = if s.flag("secure") {
        PRODUCTION
    } else {
        SANDBOX
    };
    let url = match endpoint(
        &p.config,
        ProviderId::Apns,
        base,
        &format!("/3/device/{}", segment(token)),
    ) {
        Ok(u) => u,
        Err(a) => return a,
    };
    let built = payload::build(req.message, topic);
    let body = serde_json::to_vec(&built.body).unwrap_or_default();
    let signer = Signer {
        team_id,
        key_id,
        pem,
    };
    let mut stale: Option<String> = None;
    let mut last = Attempt::new(Outcome::Retry { after: None }, "APNs sent no answer");
    // Bounded: an expired provider token gets one new token and one resend.
    for _ in 0..2 {
        let jwt = match p.apns_tokens.token(&signer, stale.as_deref()) {
            Ok(t) => t,
            Err(a) => return a,
        };
        secrets.add(&jwt);
        let mut request = ProviderRequest::bytes(url.clone(), body.clone())
            .header("authorization", &format!("bearer {jwt}"));
        for (name, value) in &built.headers {
            request = request.header(name, value);
        }
        let resp = match p.outbound_h2.post(request).await {
            Ok(r) => r,
            Err(a) => return a,
        };
        match classify::classify(&resp) {
            Verdict::Done(a) => return a,
            Verdict::ExpiredProviderToken(a) if stale.is_some() => return a,
            Verdict::ExpiredProviderToken(a) => {
                stale = Some(jwt);
                last = a;
            }
        }
    }
    last
}
