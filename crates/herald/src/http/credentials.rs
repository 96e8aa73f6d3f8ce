//! `PUT` (replace), `PATCH` (append) and `DELETE /v1/subscribers/{id}/credentials[/{providerId}]`:
//! a subscriber's channel credentials, bound to the environment's active integrations.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_core::{
    ChannelCredentials, CredentialsMode, CredentialsUpdate, ObjectId, ProviderId, MAX_DEVICE_TOKENS,
};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::cache::TtlCache;
use super::dto::{Data, Envelope, SubscriberResponse};
use super::error::ApiError;
use super::extract::{JsonBody, PathParams};
use super::openapi as oa;
use super::validate::Fields;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(update_credentials, append_credentials))
        .routes(routes!(delete_credentials))
}

/// Longest accepted device token, in bytes (real ones are under 200; tokens are indexed).
const MAX_TOKEN_LEN: usize = 2048;

/// One channel's credentials as requested (`UpdateSubscriberChannelRequestDto`), parsed.
#[derive(Debug, Clone)]
pub struct ChannelRequest {
    pub provider_id: ProviderId,
    pub integration_identifier: Option<String>,
    pub credentials: ChannelCredentials,
}

/// Parses `{providerId, integrationIdentifier?, credentials}`; messages go to `f`.
pub fn parse_channel_request(f: &mut Fields<'_>) -> Option<ChannelRequest> {
    let provider = f.required_string("providerId");
    let provider_id = provider.and_then(|p| match p.parse::<ProviderId>() {
        Ok(id) => Some(id),
        Err(_) => {
            let n = f.name("providerId");
            f.error(format!(
                "{n} must be one of the following values: {}",
                ProviderId::list()
            ));
            None
        }
    });
    let identifier = f.optional_id("integrationIdentifier");
    let credentials = f.required_object("credentials").map(|obj| {
        let mut c = Fields::nested(obj, format!("{}credentials.", f.name("")));
        let creds = parse_credentials(&mut c);
        f.absorb(c);
        creds
    });
    Some(ChannelRequest {
        provider_id: provider_id?,
        integration_identifier: identifier,
        credentials: credentials?,
    })
}

fn parse_credentials(f: &mut Fields<'_>) -> ChannelCredentials {
    let text = |f: &mut Fields<'_>, key: &str| f.optional_string(key).value().cloned();
    let webhook_url = text(f, "webhookUrl");
    let channel = text(f, "channel");
    let device_tokens = match f.raw("deviceTokens") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(parse_device_tokens(f, "deviceTokens", items)),
        Some(_) => {
            let n = f.name("deviceTokens");
            f.error(format!("{n} must be an array"));
            None
        }
    };
    ChannelCredentials {
        webhook_url,
        channel,
        device_tokens,
        alert_uid: text(f, "alertUid"),
        title: text(f, "title"),
        image_url: text(f, "imageUrl"),
        state: text(f, "state"),
        external_url: text(f, "externalUrl"),
    }
}

/// The device tokens of the array `items` (under `key`): strings of at most [`MAX_TOKEN_LEN`]
/// bytes without control characters, at most [`MAX_DEVICE_TOKENS`] distinct ones, repeats
/// dropped (first-seen order). Messages go to `f`.
pub fn parse_device_tokens(f: &mut Fields<'_>, key: &str, items: &[Value]) -> Vec<String> {
    let mut tokens: Vec<String> = Vec::with_capacity(items.len().min(MAX_DEVICE_TOKENS + 1));
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    let (mut all_strings, mut too_long, mut control) = (true, false, false);
    for item in items {
        match item {
            Value::String(s) => {
                too_long |= s.len() > MAX_TOKEN_LEN;
                control |= s.chars().any(char::is_control);
                if seen.insert(s.as_str()) {
                    tokens.push(s.clone());
                }
            }
            _ => all_strings = false,
        }
    }
    let n = f.name(key);
    if !all_strings {
        f.error(format!("each value in {n} must be a string"));
    }
    if too_long {
        f.error(format!(
            "each value in {n} must be shorter than or equal to {MAX_TOKEN_LEN} characters"
        ));
    }
    if control {
        f.error(format!(
            "each value in {n} must not contain control characters"
        ));
    }
    if tokens.len() > MAX_DEVICE_TOKENS {
        f.error(format!(
            "{n} must contain no more than {MAX_DEVICE_TOKENS} elements"
        ));
    }
    tokens
}

/// Which integration credentials for (environment, provider, `integrationIdentifier`) bind to.
/// Only found integrations are cached: one created through another process is used at once, one
/// deactivated or deleted there stops being used within the TTL.
pub type IntegrationCache = TtlCache<(ObjectId, ProviderId, Option<String>), ObjectId>;

/// Binds a channel request to the newest active integration of its provider (or the one named by
/// `integrationIdentifier`), Novu's resolution rule.
pub async fn resolve(
    state: &AppState,
    env: &ObjectId,
    req: &ChannelRequest,
    mode: CredentialsMode,
) -> Result<Result<CredentialsUpdate, ApiError>, ApiError> {
    let key = (
        env.clone(),
        req.provider_id,
        req.integration_identifier.clone(),
    );
    let integration_id = match state.integrations.lookup(&key) {
        Ok(id) => Some(id),
        Err(generation) => {
            let found = state
                .store
                .find_active_integration(
                    env,
                    req.provider_id,
                    req.integration_identifier.as_deref(),
                )
                .await?
                .map(|i| i.id);
            if let Some(id) = &found {
                state.integrations.insert(key, id.clone(), generation);
            }
            found
        }
    };
    Ok(match integration_id {
        Some(integration_id) => Ok(CredentialsUpdate {
            provider_id: req.provider_id,
            integration_id,
            credentials: req.credentials.clone(),
            mode,
            ownership: state.token_ownership,
        }),
        None => Err(no_active_integration(env, req.provider_id)),
    })
}

pub fn no_active_integration(env: &ObjectId, provider: ProviderId) -> ApiError {
    ApiError::BadRequest(format!(
        "Subscribers environment ({env}) do not have active {provider} integration."
    ))
}

/// Novu's answer to a credentials write for an unknown subscriber (deliberate difference 7).
pub fn subscriber_not_found(id: &str) -> ApiError {
    ApiError::BadRequest(format!("SubscriberId: {id} not found"))
}

async fn write_credentials(
    state: AppState,
    auth: Auth,
    params: PathParams,
    body: JsonBody,
    mode: CredentialsMode,
) -> Result<Response, ApiError> {
    let mut f = Fields::new(&body.0);
    let req = parse_channel_request(&mut f);
    let req = f
        .finish(|| req)?
        .expect("a request without messages is complete");
    write_channel(&state, &auth.0.environment_id, &params.0[0], &req, mode).await
}

/// Binds `req` to its integration and writes it to the subscriber's channel; answers 200 with
/// the subscriber, as `PUT`/`PATCH …/credentials` do (and the per-token endpoints).
pub async fn write_channel(
    state: &AppState,
    env: &ObjectId,
    subscriber_id: &str,
    req: &ChannelRequest,
    mode: CredentialsMode,
) -> Result<Response, ApiError> {
    let update = match resolve(state, env, req, mode).await? {
        Ok(update) => update,
        // Novu checks the subscriber first: an unknown subscriber wins over a missing integration.
        Err(e) => {
            return match state.store.get_subscriber(env, subscriber_id).await? {
                None => Err(subscriber_not_found(subscriber_id)),
                Some(_) => Err(e),
            }
        }
    };
    match state
        .store
        .update_credentials(env, subscriber_id, &update)
        .await?
    {
        Some(s) => Ok(Envelope(StatusCode::OK, SubscriberResponse::one(&s)).into_response()),
        None => Err(subscriber_not_found(subscriber_id)),
    }
}

/// `PUT …/credentials`: replace the channel's device tokens.
#[utoipa::path(
    put,
    path = "/v1/subscribers/{subscriberId}/credentials",
    tag = "Credentials",
    operation_id = "update_credentials_v1",
    params(
        oa::SubscriberIdPath,
    ),
    request_body = oa::UpdateSubscriberChannelRequestDto,
    responses(
        (status = 200, description = "The subscriber; the channel's device tokens were replaced", body = Data<SubscriberResponse>),
        (status = 400, description = "Invalid request, unknown subscriber, or no active integration", body = oa::ErrorBody),
    )
)]
async fn update_credentials(
    auth: Auth,
    State(state): State<AppState>,
    params: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    write_credentials(state, auth, params, body, CredentialsMode::Replace).await
}

/// `PATCH …/credentials`: add device tokens; without `deviceTokens` the stored ones are kept.
#[utoipa::path(
    patch,
    path = "/v1/subscribers/{subscriberId}/credentials",
    tag = "Credentials",
    operation_id = "append_credentials_v1",
    params(
        oa::SubscriberIdPath,
    ),
    request_body = oa::UpdateSubscriberChannelRequestDto,
    responses(
        (status = 200, description = "The subscriber; device tokens were added", body = Data<SubscriberResponse>),
        (status = 400, description = "Invalid request, unknown subscriber, or no active integration", body = oa::ErrorBody),
    )
)]
async fn append_credentials(
    auth: Auth,
    State(state): State<AppState>,
    params: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    write_credentials(state, auth, params, body, CredentialsMode::Append).await
}

/// `DELETE …/credentials/{providerId}`: 204 and an empty body, also when nothing was stored.
#[utoipa::path(
    delete,
    path = "/v1/subscribers/{subscriberId}/credentials/{providerId}",
    tag = "Credentials",
    operation_id = "delete_credentials_v1",
    params(
        oa::SubscriberIdPath,
        oa::ProviderIdPath,
    ),
    responses(
        (status = 204, description = "Every channel of that provider removed (also when there was none)"),
        (status = 404, response = oa::NotFound),
    )
)]
async fn delete_credentials(
    auth: Auth,
    State(state): State<AppState>,
    params: PathParams,
) -> Result<Response, ApiError> {
    let env = &auth.0.environment_id;
    let (subscriber_id, provider) = (&params.0[0], &params.0[1]);
    let found = match provider.parse::<ProviderId>() {
        Ok(p) => {
            state
                .store
                .delete_credentials(env, subscriber_id, p)
                .await?
        }
        // No channel can exist for an unknown provider: nothing to remove.
        Err(_) => state
            .store
            .get_subscriber(env, subscriber_id)
            .await?
            .is_some(),
    };
    if !found {
        return Err(ApiError::NotFound(format!(
            "Subscriber not found for id {subscriber_id}"
        )));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}
