//! GetStream, as Novu's provider sends it: `POST <webhookUrl>` with
//! `{text: content, headers: {"X-API-KEY": apiKey}}`. Novu meant the key as a request header but
//! put it in the body; receivers written against Novu read it there, so the body keeps that shape
//! and the key also goes in an `X-API-KEY` header, where a receiver would expect it. The
//! integration's `apiKey` is required (Novu's form marks it so). The answer's `X-WEBHOOK-ID`
//! header is the message id; the shared classes apply.

use herald_core::delivery::Attempt;
use serde_json::json;

use super::{delivered, Classifier, Ctx};
use crate::outbound::ProviderRequest;
use crate::response::Response;
use crate::settings::invalid_config;

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    ctx.chat()?;
    let api_key = ctx
        .secret("apiKey")
        .ok_or_else(|| invalid_config("getstream"))?;
    let url = ctx.webhook_url()?;
    let body = json!({
        "text": ctx.req.message.content,
        "headers": {"X-API-KEY": api_key},
    });
    Ok((
        ProviderRequest::json(url, &body).header("x-api-key", api_key),
        Classifier::GetStream,
    ))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    if resp.is_success() {
        return delivered(
            resp,
            "GetStream",
            resp.header("x-webhook-id").map(str::to_owned),
        );
    }
    resp.attempt(
        resp.status_outcome(),
        resp.answered("GetStream", &resp.excerpt()),
    )
}
