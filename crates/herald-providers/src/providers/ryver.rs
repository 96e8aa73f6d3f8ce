//! Ryver incoming webhooks (https://api.ryver.com/ryvhooks.html).
//! Request: `POST <webhookUrl>` with `{content}`, as Novu sends it. Ryver documents no error
//! codes for webhooks, so the shared classes apply: 2xx delivered, 408/429/5xx retried, other
//! 4xx rejected.

use herald_core::delivery::Attempt;
use serde_json::json;

use super::{delivered, Classifier, Ctx};
use crate::outbound::ProviderRequest;
use crate::response::Response;

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    let url = ctx.webhook_url()?;
    let body = json!({ "content": ctx.req.message.content });
    Ok((ProviderRequest::json(url, &body), Classifier::Ryver))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    if resp.is_success() {
        return delivered(resp, "Ryver", None);
    }
    resp.attempt(
        resp.status_outcome(),
        resp.answered("Ryver", &resp.excerpt()),
    )
}
