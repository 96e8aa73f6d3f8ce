//! v1 integrations of chat and push providers: list, list active, create, update, delete (soft),
//! set-primary.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_core::{ChannelType, IntegrationPatch, NewIntegration, ObjectId, ProviderId};
use rand::Rng;
use serde_json::{Map, Value};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Auth;
use super::dto::{Data, Envelope, IntegrationResponse};
use super::error::ApiError;
use super::extract::{JsonBody, PathParams};
use super::integration_input;
use super::openapi as oa;
use super::validate::{Fields, MAX_ID_LEN};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_integrations, create_integration))
        .routes(routes!(list_active_integrations))
        .routes(routes!(update_integration, delete_integration))
        .routes(routes!(set_primary_integration))
}

fn list_response(list: &[herald_core::Integration]) -> Response {
    let items: Vec<IntegrationResponse<'_>> = list.iter().map(Into::into).collect();
    Envelope(StatusCode::OK, items).into_response()
}

#[utoipa::path(
    get,
    path = "/v1/integrations",
    tag = "Integrations",
    operation_id = "list_integrations_v1",
    responses(
        (status = 200, description = "The environment's integrations", body = Data<Vec<IntegrationResponse>>),
    )
)]
async fn list_integrations(
    auth: Auth,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let list = state
        .store
        .list_integrations(&auth.0.environment_id)
        .await?;
    Ok(list_response(&list))
}

#[utoipa::path(
    get,
    path = "/v1/integrations/active",
    tag = "Integrations",
    operation_id = "list_active_integrations_v1",
    responses(
        (status = 200, description = "The environment's active integrations", body = Data<Vec<IntegrationResponse>>),
    )
)]
async fn list_active_integrations(
    auth: Auth,
    State(state): State<AppState>,
) -> Result<Response, ApiError> {
    let mut list = state
        .store
        .list_integrations(&auth.0.environment_id)
        .await?;
    list.retain(|i| i.active);
    Ok(list_response(&list))
}

/// `strict` slugify: lower case, runs of anything not alphanumeric become one `-`.
fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if (c.is_whitespace() || c == '-' || c == '_')
            && !out.is_empty()
            && !out.ends_with('-')
        {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// Novu's default identifier: `slugify(name)-<shortid>`.
fn generate_identifier(name: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_-";
    let mut rng = rand::thread_rng();
    let short: String = (0..9)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    // The slug is ASCII; cut so that the identifier stays within the id limit.
    let mut slug = slugify(name);
    slug.truncate(MAX_ID_LEN - short.len() - 1);
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        short
    } else {
        format!("{slug}-{short}")
    }
}

/// The checks both create and update apply to `_environmentId`, `credentials` and `conditions`.
fn parse_common(
    f: &mut Fields<'_>,
    env: &ObjectId,
) -> (Option<Map<String, Value>>, Option<Vec<Value>>) {
    if let Some(v) = f.raw("_environmentId").filter(|v| !v.is_null()) {
        match v.as_str().and_then(ObjectId::parse) {
            None => f.error("_environmentId must be a mongodb id".into()),
            // Nothing crosses environments: an integration lives in its API key's environment.
            Some(id) if &id != env => {
                f.error("_environmentId must be the environment of the API key".into())
            }
            Some(_) => {}
        }
    }
    let credentials = f
        .optional_object("credentials")
        .map(|creds| integration_input::parse_credentials(f, creds));
    let conditions = f
        .optional_array("conditions")
        .map(|items| integration_input::parse_conditions(f, items));
    (credentials, conditions)
}

#[utoipa::path(
    post,
    path = "/v1/integrations",
    tag = "Integrations",
    operation_id = "create_integration_v1",
    request_body = oa::CreateIntegrationRequestDto,
    responses(
        (status = 201, description = "Created", body = Data<IntegrationResponse>),
        (status = 409, description = "Identifier already in use", body = oa::ErrorBody),
    )
)]
async fn create_integration(
    auth: Auth,
    State(state): State<AppState>,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let ctx = &auth.0;
    let mut f = Fields::new(&body.0);
    let provider = f
        .required_string("providerId")
        .and_then(|p| match p.parse::<ProviderId>() {
            Ok(p) => Some(p),
            Err(_) => {
                f.error(format!(
                    "providerId must be one of the following values: {}",
                    ProviderId::list()
                ));
                None
            }
        });
    let channel = f
        .required_string("channel")
        .and_then(|c| match ChannelType::parse(&c) {
            Some(c) => Some(c),
            None => {
                f.error(
                    "channel must be one of the following values: in_app, email, sms, chat, push"
                        .into(),
                );
                None
            }
        });
    if let (Some(p), Some(c)) = (provider, channel) {
        if p.channel() != c {
            f.error(format!(
                "channel must be {} for provider {}",
                p.channel(),
                p
            ));
        }
    }
    let name = f.optional_string("name").value().cloned();
    let identifier = f.optional_id("identifier");
    let (credentials, conditions) = parse_common(&mut f, &ctx.environment_id);
    let active = f.optional_bool("active");
    f.optional_bool("check");
    let (provider, channel) = f.finish(|| (provider, channel))?;
    let (Some(provider), Some(channel)) = (provider, channel) else {
        return Err(ApiError::BadRequest(
            "providerId and channel are required".into(),
        ));
    };
    let name = name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| provider.display_name().to_string());
    let identifier = identifier.unwrap_or_else(|| generate_identifier(&name));
    let new = NewIntegration {
        provider_id: provider,
        channel,
        name,
        identifier,
        credentials: credentials.unwrap_or_default(),
        active: active.unwrap_or(false),
        conditions: conditions.unwrap_or_default(),
    };
    let created = state
        .store
        .create_integration(&ctx.environment_id, &ctx.organization_id, &new)
        .await
        .map_err(identifier_conflict)?;
    state.integrations_changed();
    Ok(Envelope(StatusCode::CREATED, IntegrationResponse::from(&created)).into_response())
}

fn identifier_conflict(e: herald_core::StoreError) -> ApiError {
    match e {
        herald_core::StoreError::Conflict(_) => {
            ApiError::Conflict("Integration with identifier already exists".into())
        }
        other => other.into(),
    }
}

fn entity_not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("Entity with id {id} not found"))
}

/// `PUT /v1/integrations/{id}`: unknown body fields (pyc sends `providerId`, `channel`) are ignored;
/// `credentials` replaces the stored object.
#[utoipa::path(
    put,
    path = "/v1/integrations/{integrationId}",
    tag = "Integrations",
    operation_id = "update_integration_v1",
    params(
        oa::IntegrationIdPath,
    ),
    request_body = oa::UpdateIntegrationRequestDto,
    responses(
        (status = 200, description = "Updated", body = Data<IntegrationResponse>),
        (status = 404, response = oa::NotFound),
        (status = 409, description = "Identifier already in use", body = oa::ErrorBody),
    )
)]
async fn update_integration(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
    body: JsonBody,
) -> Result<Response, ApiError> {
    let env = &auth.0.environment_id;
    let raw_id = &p.0[0];
    let Some(id) = ObjectId::parse(raw_id) else {
        return Err(entity_not_found(raw_id));
    };
    let mut f = Fields::new(&body.0);
    let name = f
        .optional_string("name")
        .value()
        .cloned()
        .filter(|n| !n.is_empty());
    let identifier = f.optional_id("identifier");
    let (credentials, conditions) = parse_common(&mut f, env);
    let active = f.optional_bool("active");
    f.optional_bool("check");
    let patch = f.finish(|| IntegrationPatch {
        name,
        identifier,
        credentials,
        active,
        conditions,
    })?;
    if patch.is_empty() {
        return Err(ApiError::BadRequest(
            "No properties found for update".into(),
        ));
    }
    let updated = state
        .store
        .update_integration(env, &id, &patch)
        .await
        .map_err(identifier_conflict)?;
    state.integrations_changed();
    match updated {
        Some(i) => Ok(Envelope(StatusCode::OK, IntegrationResponse::from(&i)).into_response()),
        None => Err(entity_not_found(raw_id)),
    }
}

/// `DELETE /v1/integrations/{id}`: soft delete; answers with the environment's remaining ones.
#[utoipa::path(
    delete,
    path = "/v1/integrations/{integrationId}",
    tag = "Integrations",
    operation_id = "delete_integration_v1",
    params(
        oa::IntegrationIdPath,
    ),
    responses(
        (status = 200, description = "Deleted; the remaining integrations", body = Data<Vec<IntegrationResponse>>),
        (status = 404, response = oa::NotFound),
    )
)]
async fn delete_integration(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let env = &auth.0.environment_id;
    let raw_id = &p.0[0];
    let Some(id) = ObjectId::parse(raw_id) else {
        return Err(entity_not_found(raw_id));
    };
    let deleted = state.store.delete_integration(env, &id).await?;
    state.integrations_changed();
    if !deleted {
        return Err(entity_not_found(raw_id));
    }
    let list = state.store.list_integrations(env).await?;
    Ok(list_response(&list))
}

/// `POST /v1/integrations/{id}/set-primary`: makes it the active primary of its channel type.
/// (Chat and push deliveries go to the integration a subscriber channel is bound to, so for them
/// `primary` is informational.)
#[utoipa::path(
    post,
    path = "/v1/integrations/{integrationId}/set-primary",
    tag = "Integrations",
    operation_id = "set_primary_integration_v1",
    params(
        oa::IntegrationIdPath,
    ),
    responses(
        (status = 200, description = "Now the active primary of its channel", body = Data<IntegrationResponse>),
        (status = 404, response = oa::NotFound),
    )
)]
async fn set_primary_integration(
    auth: Auth,
    State(state): State<AppState>,
    p: PathParams,
) -> Result<Response, ApiError> {
    let raw_id = &p.0[0];
    let Some(id) = ObjectId::parse(raw_id) else {
        return Err(ApiError::Validation(vec![
            "integrationId must be a mongodb id".into(),
        ]));
    };
    let updated = state
        .store
        .set_primary_integration(&auth.0.environment_id, &id)
        .await?;
    state.integrations_changed();
    match updated {
        Some(i) => Ok(Envelope(StatusCode::OK, IntegrationResponse::from(&i)).into_response()),
        None => Err(ApiError::NotFound(format!(
            "Integration with id {raw_id} not found"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_slug_and_short_id() {
        assert_eq!(
            slugify("Firebase Cloud Messaging"),
            "firebase-cloud-messaging"
        );
        assert_eq!(slugify("Rocket.Chat"), "rocketchat");
        let id = generate_identifier("Slack");
        assert!(
            id.starts_with("slack-") && id.len() == "slack-".len() + 9,
            "{id}"
        );
    }

    #[test]
    fn identifiers_from_long_names_stay_within_the_id_limit() {
        let id = generate_identifier(&format!("{} x", "a".repeat(250)));
        assert_eq!(id.len(), MAX_ID_LEN);
        let id = generate_identifier(&format!("{}-b", "a".repeat(245)));
        assert!(id.starts_with(&"a".repeat(245)), "{id}");
        assert_eq!(id.len(), 245 + 1 + 9, "a cut at a dash drops it: {id}");
    }
}
