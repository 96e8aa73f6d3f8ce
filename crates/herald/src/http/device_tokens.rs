//! Herald's per-token endpoints (not in Novu): `POST /v1/subscribers/{subscriberId}/credentials/
//! {providerId}/device-tokens` adds device tokens to a subscriber's channel, `…/device-tokens/
//! removal` removes them. An app can register the token of the device it runs on, and drop it
//! at logout, without reading and rewriting the whole token list (which `PUT …/credentials`
//! needs, and which races with the subscriber's other devices).
//!
//! Adding is a credentials `PATCH` of `deviceTokens` alone: the same binding to an integration,
//! the same validation, messages and 100-token limit, the same ownership rule
//! (`HERALD_TOKEN_OWNERSHIP`), the same answers. Removing needs no integration: it takes the
//! tokens from every channel of the provider the subscriber has, so that a token bound to an
//! integration deactivated since can still be removed. Both answer 200 with the subscriber.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_core::{ChannelCredentials, CredentialsMode, ObjectId, ProviderId};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::credentials::{
    parse_device_tokens, subscriber_not_found, write_channel, ChannelRequest,
};
use super::dto::{Data, Envelope, SubscriberResponse};
use super::error::ApiError;
use super::extract::{JsonBody, PathParams};
use super::openapi as oa;
use super::validate::Fields;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add_device_tokens))
        .routes(routes!(remove_device_tokens))
}

/// The body of `POST …/device-tokens`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddDeviceTokensRequestDto {
    /// Tokens to add after the stored ones (repeats and tokens already held are ignored); each
    /// at most 2048 bytes, without control characters.
    #[schema(min_items = 1, max_items = 100)]
    pub device_tokens: Vec<String>,
    /// The integration to bind to (default: the provider's newest active integration).
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub integration_identifier: Option<String>,
}

/// The body of `POST …/device-tokens/removal`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoveDeviceTokensRequestDto {
    /// Tokens to remove; tokens the subscriber does not hold are ignored.
    #[schema(min_items = 1, max_items = 100)]
    pub device_tokens: Vec<String>,
}

/// A required, non-empty `deviceTokens` array (see [`parse_device_tokens`]).
fn required_tokens(f: &mut Fields<'_>) -> Option<Vec<String>> {
    let n = f.name("deviceTokens");
    match f.raw("deviceTokens") {
        None | Some(Value::Null) => {
            f.error(format!("{n} should not be null or undefined"));
            f.error(format!("{n} must be an array"));
            None
        }
        Some(Value::Array(items)) if items.is_empty() => {
            f.error(format!("{n} should not be empty"));
            None
        }
        Some(Value::Array(items)) => Some(parse_device_tokens(f, "deviceTokens", items)),
        Some(_) => {
            f.error(format!("{n} must be an array"));
            None
        }
    }
}

/// The `{providerId}` path parameter, with the message `PUT …/credentials` gives for an unknown
/// `providerId`.
fn provider(f: &mut Fields<'_>, raw: &str) -> Option<ProviderId> {
    match raw.parse::<ProviderId>() {
        Ok(p) => Some(p),
        Err(_) => {
            f.error(format!(
                "providerId must be one of the following values: {}",
                ProviderId::list()
            ));
            None
        }
    }
}

impl AddDeviceTokensRequestDto {
    /// Parses the body, and the provider of the path; every message in one 400.
    fn parse(body: &JsonBody, provider_id: &str) -> Result<(Self, ProviderId), ApiError> {
        let mut f = Fields::new(&body.0);
        let provider = provider(&mut f, provider_id);
        let device_tokens = required_tokens(&mut f);
        let integration_identifier = f.optional_id("integrationIdentifier");
        let parsed = device_tokens
            .zip(provider)
            .map(|(device_tokens, provider)| {
                let dto = AddDeviceTokensRequestDto {
                    device_tokens,
                    integration_identifier,
                };
                (dto, provider)
            });
        Ok(f.finish(|| parsed)?
            .expect("a request without messages is complete"))
    }
}

impl RemoveDeviceTokensRequestDto {
    fn parse(body: &JsonBody, provider_id: &str) -> Result<(Self, ProviderId), ApiError> {
        let mut f = Fields::new(&body.0);
        let provider = provider(&mut f, provider_id);
        let parsed = required_tokens(&mut f)
            .zip(provider)
            .map(|(device_tokens, provider)| {
                (RemoveDeviceTokensRequestDto { device_tokens }, provider)
            });
        Ok(f.finish(|| parsed)?
            .expect("a request without messages is complete"))
    }
}

/// `POST …/device-tokens`: add these tokens to the subscriber's channel of that provider.
#[utoipa::path(
    post,
    path = "/v1/subscribers/{subscriberId}/credentials/{providerId}/device-tokens",
    tag = "Credentials",
    operation_id = "add_device_tokens_v1",
    params(
        oa::SubscriberIdPath,
        oa::ProviderIdPath,
    ),
    request_body = AddDeviceTokensRequestDto,
    responses(
        (status = 200, description = "The subscriber; the tokens were added (and, with `HERALD_TOKEN_OWNERSHIP=move`, taken from any other subscriber holding them for that integration)", body = Data<SubscriberResponse>),
        (status = 400, description = "Invalid request, unknown subscriber, or no active integration", body = oa::ErrorBody),
    )
)]
async fn add_device_tokens(
    auth: Auth,
    State(state): State<AppState>,
    params: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (dto, provider_id) = AddDeviceTokensRequestDto::parse(&body, &params.0[1])?;
    let req = ChannelRequest {
        provider_id,
        integration_identifier: dto.integration_identifier,
        credentials: ChannelCredentials {
            device_tokens: Some(dto.device_tokens),
            ..Default::default()
        },
    };
    let env: &ObjectId = &auth.0.environment_id;
    write_channel(&state, env, &params.0[0], &req, CredentialsMode::Append).await
}

/// `POST …/device-tokens/removal`: remove these tokens from the subscriber's channels of that
/// provider.
#[utoipa::path(
    post,
    path = "/v1/subscribers/{subscriberId}/credentials/{providerId}/device-tokens/removal",
    tag = "Credentials",
    operation_id = "remove_device_tokens_v1",
    params(
        oa::SubscriberIdPath,
        oa::ProviderIdPath,
    ),
    request_body = RemoveDeviceTokensRequestDto,
    responses(
        (status = 200, description = "The subscriber; the tokens were removed from every channel of that provider (channels stay, possibly with no token)", body = Data<SubscriberResponse>),
        (status = 400, description = "Invalid request, or unknown subscriber", body = oa::ErrorBody),
    )
)]
async fn remove_device_tokens(
    auth: Auth,
    State(state): State<AppState>,
    params: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let (dto, provider_id) = RemoveDeviceTokensRequestDto::parse(&body, &params.0[1])?;
    let (env, subscriber_id) = (&auth.0.environment_id, &params.0[0]);
    match state
        .store
        .remove_device_tokens(env, subscriber_id, provider_id, &dto.device_tokens)
        .await?
    {
        Some(s) => Ok(Envelope(StatusCode::OK, SubscriberResponse::one(&s)).into_response()),
        None => Err(subscriber_not_found(subscriber_id)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(v: Value) -> JsonBody {
        match v {
            Value::Object(m) => JsonBody(m),
            _ => unreachable!(),
        }
    }

    fn messages(e: ApiError) -> Vec<String> {
        match e {
            ApiError::Validation(m) => m,
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn adding_parses_tokens_deduplicated_and_an_optional_identifier() {
        let (dto, provider) = AddDeviceTokensRequestDto::parse(
            &body(json!({"deviceTokens": ["a", "b", "a"], "integrationIdentifier": " fcm-2 "})),
            "fcm",
        )
        .unwrap();
        assert_eq!(provider, ProviderId::Fcm);
        assert_eq!(dto.device_tokens, ["a", "b"]);
        assert_eq!(dto.integration_identifier.as_deref(), Some("fcm-2"));
    }

    #[test]
    fn a_missing_empty_or_invalid_token_list_is_refused_with_every_message() {
        let cases = [
            (
                json!({}),
                vec![
                    "deviceTokens should not be null or undefined",
                    "deviceTokens must be an array",
                ],
            ),
            (
                json!({"deviceTokens": []}),
                vec!["deviceTokens should not be empty"],
            ),
            (
                json!({"deviceTokens": "a"}),
                vec!["deviceTokens must be an array"],
            ),
            (
                json!({"deviceTokens": ["a", 1, "b\u{7}"]}),
                vec![
                    "each value in deviceTokens must be a string",
                    "each value in deviceTokens must not contain control characters",
                ],
            ),
        ];
        for (b, expected) in cases {
            let err = RemoveDeviceTokensRequestDto::parse(&body(b.clone()), "fcm").unwrap_err();
            assert_eq!(messages(err), expected, "{b}");
        }
        let many: Vec<String> = (0..=100).map(|i| format!("t{i}")).collect();
        let err = AddDeviceTokensRequestDto::parse(&body(json!({"deviceTokens": many})), "fcm")
            .unwrap_err();
        assert_eq!(
            messages(err),
            ["deviceTokens must contain no more than 100 elements"]
        );
    }

    #[test]
    fn an_unknown_provider_is_refused_with_the_credentials_message() {
        let err = AddDeviceTokensRequestDto::parse(&body(json!({"deviceTokens": []})), "sms77")
            .unwrap_err();
        let m = messages(err);
        assert!(
            m[0].starts_with("providerId must be one of the following values: "),
            "{m:?}"
        );
        assert_eq!(m[1], "deviceTokens should not be empty");
    }
}
