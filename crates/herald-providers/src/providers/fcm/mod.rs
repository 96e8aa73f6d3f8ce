//! Firebase Cloud Messaging, HTTP v1
//! (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send).
//! Request: `POST https://fcm.googleapis.com/v1/projects/<project_id>/messages:send` with
//! `Authorization: Bearer <OAuth access token>` and the message of [`message`], one request per
//! token. The access token comes from the service account in the integration's `serviceAccount`
//! ([`auth`]); an `UNAUTHENTICATED` answer gets a fresh token and one resend. The answer's
//! `name` (`projects/<p>/messages/<id>`) is the message id; [`classify`] has the error table.

pub(crate) mod auth;
pub(crate) mod classify;
pub(crate) mod message;

use herald_core::delivery::{Attempt, Outcome};
use herald_core::ProviderId;

pub(crate) use auth::TokenCache;

use super::{endpoint, segment, wrong_target};
use crate::hints::Secrets;
use crate::outbound::ProviderRequest;
use crate::{Providers, SendRequest, Target};
use auth::ServiceAccount;
use classify::Verdict;

pub(crate) const BASE: &str = "https://fcm.googleapis.com";

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
    let sa = match ServiceAccount::from_integration(req.integration) {
        Ok(sa) => sa,
        Err(a) => return a,
    };
    secrets.add(&sa.private_key);
    let token = token.trim();
    if token.is_empty() {
        return Attempt::new(Outcome::Rejected, "the device token is empty");
    }
    let body = match message::build(token, req.message) {
        Ok(b) => serde_json::to_vec(&b).unwrap_or_default(),
        Err(a) => return a,
    };
    let path = format!("/v1/projects/{}/messages:send", segment(&sa.project_id));
    let url = match endpoint(&p.config, ProviderId::Fcm, BASE, &path) {
        Ok(u) => u,
        Err(a) => return a,
    };
    let mut stale: Option<String> = None;
    let mut last = Attempt::new(Outcome::Retry { after: None }, "FCM sent no answer");
    // Bounded: the first answer may ask for a new access token, the second is final.
    for _ in 0..2 {
        let access = match p
            .fcm_tokens
            .access_token(&sa, &p.outbound, stale.as_deref())
            .await
        {
            Ok(t) => t,
            Err(a) => return a,
        };
        secrets.add(&access);
        let request = ProviderRequest::bytes(url.clone(), body.clone()).bearer(&access);
        let resp = match p.outbound.post(request).await {
            Ok(r) => r,
            Err(a) => return a,
        };
        match classify::classify(&resp) {
            Verdict::Done(a) => return a,
            Verdict::Unauthenticated(a) if stale.is_some() => return a,
            Verdict::Unauthenticated(a) => {
                stale = Some(access);
                last = a;
            }
        }
    }
    last
}
