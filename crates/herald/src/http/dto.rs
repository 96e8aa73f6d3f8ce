//! Response bodies, field for field as Novu's DTOs and the official SDKs' models want them:
//! Mongo-style `_id` names, optional fields omitted rather than `null` (except the nullable
//! subscriber profile fields), ISO timestamps, and the `{"data": …}` envelope for single objects.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_core::subscriber::{ChannelCredentials, ChannelSettings, Field, Subscriber};
use herald_core::{Integration, ObjectId, ProviderId, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};

/// `{"data": T}` with the given status and `Content-Type: application/json`.
pub struct Envelope<T>(pub StatusCode, pub T);

#[derive(Serialize)]
struct Wrapped<'a, T> {
    data: &'a T,
}

impl<T: Serialize> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        json_response(self.0, &Wrapped { data: &self.1 })
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

#[derive(Serialize)]
pub struct CredentialsResponse<'a> {
    #[serde(rename = "webhookUrl", skip_serializing_if = "Option::is_none")]
    webhook_url: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: &'a Option<String>,
    #[serde(rename = "deviceTokens", skip_serializing_if = "Option::is_none")]
    device_tokens: &'a Option<Vec<String>>,
    #[serde(rename = "alertUid", skip_serializing_if = "Option::is_none")]
    alert_uid: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: &'a Option<String>,
    #[serde(rename = "imageUrl", skip_serializing_if = "Option::is_none")]
    image_url: &'a Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: &'a Option<String>,
    #[serde(rename = "externalUrl", skip_serializing_if = "Option::is_none")]
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
#[derive(Serialize)]
pub struct ChannelSettingsResponse<'a> {
    #[serde(rename = "providerId")]
    provider_id: ProviderId,
    #[serde(
        rename = "integrationIdentifier",
        skip_serializing_if = "Option::is_none"
    )]
    integration_identifier: &'a Option<String>,
    credentials: CredentialsResponse<'a>,
    #[serde(rename = "_integrationId")]
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
#[derive(Serialize)]
pub struct SubscriberResponse<'a> {
    #[serde(rename = "_id")]
    id: &'a ObjectId,
    #[serde(rename = "firstName", skip_serializing_if = "Field::is_absent")]
    first_name: &'a Field<String>,
    #[serde(rename = "lastName", skip_serializing_if = "Field::is_absent")]
    last_name: &'a Field<String>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    email: &'a Field<String>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    phone: &'a Field<String>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    avatar: &'a Field<String>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    locale: &'a Field<String>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    timezone: &'a Field<String>,
    #[serde(rename = "subscriberId")]
    subscriber_id: &'a str,
    channels: Vec<ChannelSettingsResponse<'a>>,
    #[serde(skip_serializing_if = "Field::is_absent")]
    data: &'a Field<Value>,
    #[serde(rename = "isOnline", skip_serializing_if = "Option::is_none")]
    is_online: Option<bool>,
    #[serde(rename = "lastOnlineAt", skip_serializing_if = "Option::is_none")]
    last_online_at: Option<Timestamp>,
    #[serde(rename = "_organizationId")]
    organization_id: &'a ObjectId,
    #[serde(rename = "_environmentId")]
    environment_id: &'a ObjectId,
    deleted: bool,
    #[serde(rename = "createdAt")]
    created_at: Timestamp,
    #[serde(rename = "updatedAt")]
    updated_at: Timestamp,
    #[serde(rename = "__v", skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    #[serde(rename = "id", skip_serializing_if = "Option::is_none")]
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
#[derive(Serialize)]
pub struct IntegrationResponse<'a> {
    #[serde(rename = "_id")]
    id: &'a ObjectId,
    #[serde(rename = "_environmentId")]
    environment_id: &'a ObjectId,
    #[serde(rename = "_organizationId")]
    organization_id: &'a ObjectId,
    name: &'a str,
    identifier: &'a str,
    #[serde(rename = "providerId")]
    provider_id: ProviderId,
    channel: herald_core::ChannelType,
    credentials: &'a Map<String, Value>,
    active: bool,
    deleted: bool,
    #[serde(rename = "deletedAt", skip_serializing_if = "Option::is_none")]
    deleted_at: Option<Timestamp>,
    primary: bool,
    priority: i64,
    conditions: &'a Vec<Value>,
    #[serde(rename = "createdAt")]
    created_at: Timestamp,
    #[serde(rename = "updatedAt")]
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
