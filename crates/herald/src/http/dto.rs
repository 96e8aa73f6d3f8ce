//! Response bodies, field for field as Novu's DTOs and the official SDKs' models want them:
//! Mongo-style `_id` names, optional fields omitted rather than `null` (except the nullable
//! subscriber profile fields), ISO timestamps, and the `{"data": …}` envelope for single objects.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_core::subscriber::{ChannelCredentials, ChannelSettings, Field, Subscriber};
use herald_core::{Integration, ObjectId, ProviderId, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::openapi::{ChannelTypeEnum, ProviderIdEnum};

/// `{"data": T}` with the given status and `Content-Type: application/json`.
pub struct Envelope<T>(pub StatusCode, pub T);

/// `{"data": …}`: the envelope of single objects (what `Envelope` writes).
#[derive(Serialize, ToSchema)]
pub struct Data<T> {
    pub data: T,
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        json_response(self.0, &Data { data: &self.1 })
    }
}

/// A JSON body as it is (paginated lists are not wrapped).
pub struct Plain<T>(pub StatusCode, pub T);

impl<T: Serialize> IntoResponse for Plain<T> {
    fn into_response(self) -> Response {
        json_response(self.0, &self.1)
    }
}

fn json_response<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut res = (status, bytes).into_response();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            res
        }
        Err(e) => super::error::ApiError::Internal(e.into()).into_response(),
    }
}

/// `ChannelCredentials` (also the `credentials` of a channel request).
#[derive(Serialize, ToSchema)]
#[schema(as = ChannelCredentialsDto)]
pub struct CredentialsResponse<'a> {
    #[serde(rename = "webhookUrl", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    webhook_url: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    channel: &'a Option<String>,
    #[serde(rename = "deviceTokens", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<String>>, nullable = false, max_items = 100)]
    device_tokens: &'a Option<Vec<String>>,
    #[serde(rename = "alertUid", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    alert_uid: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    title: &'a Option<String>,
    #[serde(rename = "imageUrl", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    image_url: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    state: &'a Option<String>,
    #[serde(rename = "externalUrl", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    external_url: &'a Option<String>,
}

impl<'a> From<&'a ChannelCredentials> for CredentialsResponse<'a> {
    fn from(c: &'a ChannelCredentials) -> Self {
        CredentialsResponse {
            webhook_url: &c.webhook_url,
            channel: &c.channel,
            device_tokens: &c.device_tokens,
            alert_uid: &c.alert_uid,
            title: &c.title,
            image_url: &c.image_url,
            state: &c.state,
            external_url: &c.external_url,
        }
    }
}

/// `ChannelSettings` (README, deliberate difference 8: with `integrationIdentifier`).
#[derive(Serialize, ToSchema)]
#[schema(as = ChannelSettingsDto)]
pub struct ChannelSettingsResponse<'a> {
    #[serde(rename = "providerId")]
    #[schema(value_type = ProviderIdEnum)]
    provider_id: ProviderId,
    #[serde(
        rename = "integrationIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, nullable = false)]
    integration_identifier: &'a Option<String>,
    credentials: CredentialsResponse<'a>,
    #[serde(rename = "_integrationId")]
    #[schema(value_type = String)]
    integration_id: &'a ObjectId,
}

impl<'a> From<&'a ChannelSettings> for ChannelSettingsResponse<'a> {
    fn from(c: &'a ChannelSettings) -> Self {
        ChannelSettingsResponse {
            provider_id: c.provider_id,
            integration_identifier: &c.integration_identifier,
            credentials: (&c.credentials).into(),
            integration_id: &c.integration_id,
        }
    }
}

/// `SubscriberResponseDto`. `id` (Mongoose's virtual) appears on single-entity responses only.
#[derive(Serialize, ToSchema)]
#[schema(as = SubscriberResponseDto)]
pub struct SubscriberResponse<'a> {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    id: &'a ObjectId,
    #[serde(rename = "firstName", skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = Option<String>)]
    first_name: &'a Field<String>,
    #[serde(rename = "lastName", skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = Option<String>)]
    last_name: &'a Field<String>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = Option<String>)]
    email: &'a Field<String>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = Option<String>)]
    phone: &'a Field<String>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = Option<String>)]
    avatar: &'a Field<String>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = Option<String>)]
    locale: &'a Field<String>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = Option<String>)]
    timezone: &'a Field<String>,
    #[serde(rename = "subscriberId")]
    subscriber_id: &'a str,
    channels: Vec<ChannelSettingsResponse<'a>>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    #[schema(value_type = Option<Value>)]
    data: &'a Field<Value>,
    #[serde(rename = "isOnline", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    is_online: Option<bool>,
    #[serde(rename = "lastOnlineAt", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    last_online_at: Option<Timestamp>,
    #[serde(rename = "_organizationId")]
    #[schema(value_type = String)]
    organization_id: &'a ObjectId,
    #[serde(rename = "_environmentId")]
    #[schema(value_type = String)]
    environment_id: &'a ObjectId,
    deleted: bool,
    #[serde(rename = "createdAt")]
    #[schema(value_type = String)]
    created_at: Timestamp,
    #[serde(rename = "updatedAt")]
    #[schema(value_type = String)]
    updated_at: Timestamp,
    #[serde(rename = "__v", skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    version: Option<i64>,
    /// The same as `_id`; single-entity responses only.
    #[serde(rename = "id", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    virtual_id: Option<&'a ObjectId>,
}

impl<'a> SubscriberResponse<'a> {
    /// A single-entity response (with `id`).
    pub fn one(s: &'a Subscriber) -> Self {
        let mut r = Self::list_item(s);
        r.virtual_id = Some(&s.id);
        r
    }

    /// A list item (without `id`, as Novu's lean queries return them).
    pub fn list_item(s: &'a Subscriber) -> Self {
        SubscriberResponse {
            id: &s.id,
            first_name: &s.profile.first_name,
            last_name: &s.profile.last_name,
            email: &s.profile.email,
            phone: &s.profile.phone,
            avatar: &s.profile.avatar,
            locale: &s.profile.locale,
            timezone: &s.profile.timezone,
            subscriber_id: &s.subscriber_id,
            channels: s.channels.iter().map(Into::into).collect(),
            data: &s.profile.data,
            is_online: s.is_online,
            last_online_at: s.last_online_at,
            organization_id: &s.organization_id,
            environment_id: &s.environment_id,
            deleted: false,
            created_at: s.created_at,
            updated_at: s.updated_at,
            version: s.version,
            virtual_id: None,
        }
    }

    /// Overrides `updatedAt` (v1 PUT answers with the value from before the write, as Novu does).
    pub fn with_updated_at(mut self, at: Timestamp) -> Self {
        self.updated_at = at;
        self
    }
}

/// `IntegrationResponseDto`.
#[derive(Serialize, ToSchema)]
#[schema(as = IntegrationResponseDto)]
pub struct IntegrationResponse<'a> {
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    id: &'a ObjectId,
    #[serde(rename = "_environmentId")]
    #[schema(value_type = String)]
    environment_id: &'a ObjectId,
    #[serde(rename = "_organizationId")]
    #[schema(value_type = String)]
    organization_id: &'a ObjectId,
    name: &'a str,
    identifier: &'a str,
    #[serde(rename = "providerId")]
    #[schema(value_type = ProviderIdEnum)]
    provider_id: ProviderId,
    #[schema(value_type = ChannelTypeEnum)]
    channel: herald_core::ChannelType,
    #[schema(value_type = Object)]
    credentials: &'a Map<String, Value>,
    active: bool,
    deleted: bool,
    #[serde(rename = "deletedAt", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, nullable = false)]
    deleted_at: Option<Timestamp>,
    primary: bool,
    priority: i64,
    #[schema(value_type = Vec<Value>)]
    conditions: &'a Vec<Value>,
    #[serde(rename = "createdAt")]
    #[schema(value_type = String)]
    created_at: Timestamp,
    #[serde(rename = "updatedAt")]
    #[schema(value_type = String)]
    updated_at: Timestamp,
    #[serde(rename = "__v")]
    version: i64,
}

impl<'a> From<&'a Integration> for IntegrationResponse<'a> {
    fn from(i: &'a Integration) -> Self {
        IntegrationResponse {
            id: &i.id,
            environment_id: &i.environment_id,
            organization_id: &i.organization_id,
            name: &i.name,
            identifier: &i.identifier,
            provider_id: i.provider_id,
            channel: i.channel,
            credentials: &i.credentials,
            active: i.active,
            deleted: i.deleted,
            deleted_at: i.deleted_at,
            primary: i.primary,
            priority: i.priority,
            conditions: &i.conditions,
            created_at: i.created_at,
            updated_at: i.updated_at,
            version: 0,
        }
    }
}
