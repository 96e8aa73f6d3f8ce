//! Grafana OnCall formatted webhooks
//! (https://grafana.com/docs/oncall/latest/configure/integrations/references/webhook/).
//! Request: `POST <webhookUrl>` with `{alert_uid, title, image_url, state,
//! link_to_upstream_details, message: content}`, as Novu sends it. Novu takes the first five
//! from the integration's credentials (`alertUid`, `title`, `imageUrl`, `state`,
//! `externalLink`); Herald also stores them per subscriber channel (`alertUid`, `title`,
//! `imageUrl`, `state`, `externalUrl`), and a channel's own value wins over the integration's, so
//! one integration can serve alerts of different kinds. Absent values are left out. The shared
//! classes apply to the answer.

use herald_core::delivery::Attempt;
use serde_json::{Map, Value};

use super::{delivered, Classifier, Ctx};
use crate::outbound::ProviderRequest;
use crate::response::Response;
use crate::settings::put;

pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>) -> Result<(ProviderRequest, Classifier), Attempt> {
    let url = ctx.webhook_url()?;
    let (channel, _) = ctx.chat()?;
    let settings = ctx.settings();
    let pick = |own: &Option<String>, key: &str| {
        own.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .or_else(|| settings.str(key))
            .map(|v| Value::String(v.to_owned()))
    };
    let mut body = Map::new();
    put(&mut body, "alert_uid", pick(&channel.alert_uid, "alertUid"));
    put(&mut body, "title", pick(&channel.title, "title"));
    put(&mut body, "image_url", pick(&channel.image_url, "imageUrl"));
    put(&mut body, "state", pick(&channel.state, "state"));
    put(
        &mut body,
        "link_to_upstream_details",
        pick(&channel.external_url, "externalLink"),
    );
    body.insert(
        "message".into(),
        Value::String(ctx.req.message.content.to_owned()),
    );
    Ok((
        ProviderRequest::json(url, &Value::Object(body)),
        Classifier::GrafanaOnCall,
    ))
}

pub(crate) fn classify(resp: &Response) -> Attempt {
    if resp.is_success() {
        return delivered(resp, "Grafana OnCall", None);
    }
    resp.attempt(
        resp.status_outcome(),
        resp.answered("Grafana OnCall", &resp.excerpt()),
    )
}
