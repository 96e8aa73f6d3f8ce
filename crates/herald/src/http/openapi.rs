//! The OpenAPI 3.1 document (`/openapi.json`) and the offline API reference (`/docs`).
//!
//! Paths come from the `#[utoipa::path]` annotation on each handler, registered together with the
//! route itself (`utoipa_axum::routes!`), so a route cannot be served without being documented.
//! Response schemas are derived from the types the handlers serialize (`dto.rs`, the handlers'
//! own response types, `error::ErrorBody`), so a field added to an answer is in the document; the
//! API tests check real responses against them, and fail on a field the schema does not declare.
//! What is defined here: the answers and parameters many operations share (added by
//! [`complete_document`]), and the doc-only request bodies (see the note above them).

use herald_core::ProviderId;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder, Schema, Type,
};
use utoipa::{IntoParams, Modify, OpenApi, PartialSchema, ToResponse, ToSchema};

use super::dto::CredentialsResponse;
pub use super::error::ErrorBody;

use super::validate::{MAX_ID_LEN, MAX_SEARCH_LEN};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Herald",
        description = "A self-hostable notification server that speaks Novu's REST API. Authenticate with `Authorization: ApiKey <key>`.",
    ),
    modifiers(&ApiKeyAuth),
    security(("ApiKey" = [])),
    tags(
        (name = "Subscribers", description = "Subscribers (v1 and v2)"),
        (name = "Credentials", description = "A subscriber's channel credentials"),
        (name = "Integrations", description = "Configured chat and push providers"),
        (name = "Topics", description = "Groups of subscribers (v1 and v2)"),
        (name = "Workflows", description = "Workflows with chat and push steps (v1 and v2), and v1 notification groups"),
        (name = "Events", description = "Triggers: start a workflow for subscribers, topics or everyone"),
        (name = "Messages", description = "What was sent (one message per subscriber channel)"),
        (name = "Notifications", description = "The activity feed: each trigger per subscriber, with its jobs and execution details"),
        (name = "Health", description = "Liveness (Novu's) and readiness"),
    )
)]
pub struct ApiDoc;

struct ApiKeyAuth;

impl Modify for ApiKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "ApiKey",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "`ApiKey <key>`",
            ))),
        );
    }
}

/// What an id may hold, as the server checks it: no control characters (Unicode `Cc`) and at
/// least one character that is not whitespace (ids are trimmed). At most [`MAX_ID_LEN`]
/// characters after trimming.
pub const ID_PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";

/// A 24-hex-character ObjectId (`_id`s, cursors).
const OBJECT_ID_PATTERN: &str = "^[0-9a-fA-F]{24}$";

/// A shared answer in Novu's error body ([`ErrorBody`]), defined once under
/// `components.responses` and referenced by every operation it applies to.
macro_rules! shared_error_response {
    ($(#[$doc:meta])* $name:ident, $description:literal) => {
        $(#[$doc])*
        pub struct $name;

        impl<'r> ToResponse<'r> for $name {
            fn response() -> (&'r str, RefOr<Response>) {
                (stringify!($name), error_response($description, None))
            }
        }
    };
}

shared_error_response!(
    /// 400 for a path parameter, query parameter or body the server refuses.
    BadRequest,
    "Invalid request: `message` says what is wrong (an array of validation messages, or one string)"
);
shared_error_response!(
    /// 401 for every operation that needs the API key.
    Unauthorized,
    "Missing or invalid API key"
);
shared_error_response!(
    /// 404 for a resource the path names that does not exist.
    NotFound,
    "The resource the path names does not exist (`message` says which)"
);
shared_error_response!(
    /// 413 for a body over the limit (`DefaultBodyLimit`).
    PayloadTooLarge,
    "Body over 100 KB"
);
shared_error_response!(
    /// 408 for a body that does not arrive in time.
    RequestTimeout,
    "The body did not arrive within the body-read timeout"
);
shared_error_response!(
    /// 503 when the database does not answer in time.
    Unavailable,
    "The database did not answer within the statement timeout; nothing was changed"
);

/// 429 for an API key over its rate limit, with `Retry-After`.
pub struct TooManyRequests;

impl<'r> ToResponse<'r> for TooManyRequests {
    fn response() -> (&'r str, RefOr<Response>) {
        let retry_after = HeaderBuilder::new()
            .schema(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1)),
            )
            .description(Some("Seconds until a request would pass"))
            .build();
        (
            "TooManyRequests",
            error_response(
                "The API key is over its rate limit",
                Some(("Retry-After", retry_after)),
            ),
        )
    }
}

fn error_response(description: &str, header: Option<(&str, Header)>) -> RefOr<Response> {
    let mut response = ResponseBuilder::new().description(description).content(
        "application/json",
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name(ErrorBody::name())))
            .build(),
    );
    if let Some((name, header)) = header {
        response = response.header(name, header);
    }
    response.build().into()
}

/// The cursor parameters of the v2 lists. Doc-only: `cursor::parse_cursor` reads them from the
/// query map to answer with Novu's messages (`limit` 1 to 100, `after` and `before` ObjectIds,
/// `orderDirection` ASC or DESC, else 400).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
pub struct CursorParams {
    /// Page size, 1 to 100 (default 10)
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u64>,
    /// Cursor: items after this one
    #[param(pattern = "^[0-9a-fA-F]{24}$")]
    pub after: Option<String>,
    /// Cursor: items before this one
    #[param(pattern = "^[0-9a-fA-F]{24}$")]
    pub before: Option<String>,
    /// ASC or DESC (default DESC)
    #[param(inline)]
    pub order_direction: Option<OrderDirection>,
}

/// `orderDirection` (case-insensitive).
// Doc-only: see `CursorParams`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderDirection {
    Asc,
    Desc,
}

// The path parameters many operations share. Doc-only: `extract::PathParams` reads the segments
// of any route alike (trimmed, checked by `complete_document`'s rules), in order.

/// `{subscriberId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct SubscriberIdPath {
    /// The subscriber's external id
    pub subscriber_id: String,
}

/// `{topicKey}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct TopicKeyPath {
    /// The topic key
    pub topic_key: String,
}

/// `{providerId}` of the credentials routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct ProviderIdPath {
    /// A chat or push provider id
    pub provider_id: String,
}

/// `{integrationId}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path, rename_all = "camelCase")]
pub struct IntegrationIdPath {
    /// The integration's `_id`
    pub integration_id: String,
}

/// Completes the document with what one shared piece of the server does on every route it
/// applies to, so that each operation states it without each annotation repeating it:
/// - path parameters (`extract::PathParams`): at most 256 characters, no control characters
///   (`integrationId`: an ObjectId), else 400 ([`BadRequest`]);
/// - query parameters and a body (`extract::JsonBody`): 400 when refused, and a body 413 over
///   100 KB ([`PayloadTooLarge`]) and 408 when it does not arrive within the body-read timeout
///   ([`RequestTimeout`]);
/// - the search filters of the v2 lists (`validate::search_needles`): at most 256 characters;
/// - every operation that needs the API key (the document's default security): 401
///   ([`Unauthorized`]), 429 over the key's rate limit ([`TooManyRequests`]) and 503 when the
///   database does not answer within the statement timeout ([`Unavailable`]).
///
/// The shared answers are registered once under `components.responses`; an operation that
/// documents its own answer for one of these statuses keeps it.
pub fn complete_document(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{Operation, ParameterIn};

    fn string(pattern: &str, max_length: Option<usize>) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
            .max_length(max_length)
            .into()
    }
    fn reference<R: for<'r> ToResponse<'r>>() -> (String, RefOr<Response>) {
        let (name, _) = R::response();
        (name.to_string(), Ref::from_response_name(name).into())
    }
    fn complete(op: &mut Operation) {
        let is_cursor_list = op.parameters.iter().flatten().any(|p| p.name == "after");
        let mut has_params = false;
        for p in op.parameters.iter_mut().flatten() {
            has_params |= matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query);
            let schema = match (&p.parameter_in, p.name.as_str()) {
                (ParameterIn::Path, "integrationId") => string(OBJECT_ID_PATTERN, None),
                (ParameterIn::Path, _) => string(ID_PATTERN, Some(MAX_ID_LEN)),
                (ParameterIn::Query, "query") => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .max_length(Some(MAX_SEARCH_LEN))
                    .into(),
                (ParameterIn::Query, "name" | "email" | "phone" | "subscriberId")
                    if is_cursor_list =>
                {
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .max_length(Some(MAX_SEARCH_LEN))
                        .into()
                }
                _ => continue,
            };
            p.schema = Some(schema);
        }
        let has_body = op.request_body.is_some();
        let needs_key = op.security.is_none();
        let mut shared = Vec::new();
        if has_params || has_body {
            shared.push(("400", reference::<BadRequest>()));
        }
        if has_body {
            shared.push(("413", reference::<PayloadTooLarge>()));
            shared.push(("408", reference::<RequestTimeout>()));
        }
        if needs_key {
            shared.push(("401", reference::<Unauthorized>()));
            shared.push(("429", reference::<TooManyRequests>()));
            shared.push(("503", reference::<Unavailable>()));
        }
        for (status, (_, response)) in shared {
            op.responses
                .responses
                .entry(status.to_string())
                .or_insert(response);
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, response) in [
        BadRequest::response(),
        Unauthorized::response(),
        NotFound::response(),
        PayloadTooLarge::response(),
        RequestTimeout::response(),
        TooManyRequests::response(),
        Unavailable::response(),
    ] {
        components.responses.insert(name.to_string(), response);
    }
    for item in doc.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in ops.into_iter().flatten() {
            complete(op);
        }
    }
}

// Doc-only types. Request bodies are read field by field (`validate::Fields`) so that every
// problem gets Novu's class-validator message in Novu's order; no typed struct is deserialized
// that could carry the derive, so each type below names the parser it describes. Responses are
// derived from the types that are serialized (`dto.rs` and the handlers).

/// `providerId`: the chat and push providers the SDKs accept (a closed set).
/// Doc-only: `herald_core::ProviderId` lives in a crate without utoipa (and the orphan rule keeps
/// the impl out of this one).
#[derive(Serialize)]
pub struct ProviderIdEnum;

impl PartialSchema for ProviderIdEnum {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ProviderId::ALL.iter().map(|p| p.as_str())))
            .into()
    }
}

impl ToSchema for ProviderIdEnum {}

/// Doc-only: read by `credentials::parse_channel_request`.
#[derive(Serialize, ToSchema)]
pub struct UpdateSubscriberChannelRequestDto {
    #[serde(rename = "providerId")]
    pub provider_id: ProviderIdEnum,
    #[serde(rename = "integrationIdentifier")]
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub integration_identifier: Option<String>,
    pub credentials: CredentialsResponse<'static>,
}

/// Doc-only: read by `subscribers::parse_create`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateSubscriberRequestDto {
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub subscriber_id: String,
    #[schema(format = Email)]
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub avatar: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub data: Option<Value>,
    pub channels: Option<Vec<UpdateSubscriberChannelRequestDto>>,
}

/// `POST /v2/subscribers`: the v1 request without `channels` (set them with the credentials
/// endpoints). Doc-only: read by `subscribers::parse_create` (`channels` refused).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateSubscriberV2RequestDto {
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub subscriber_id: String,
    #[schema(format = Email)]
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub avatar: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub data: Option<Value>,
}

/// Doc-only: read field by field by `subscribers::update_subscriber` and
/// `subscribers_v2::patch_subscriber`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSubscriberRequestDto {
    #[schema(format = Email)]
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub avatar: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub data: Option<Value>,
}

/// Doc-only: read by `subscribers::bulk_create_subscribers`.
#[derive(Serialize, ToSchema)]
pub struct BulkSubscriberCreateDto {
    #[schema(min_items = 1, max_items = 500)]
    pub subscribers: Vec<CreateSubscriberRequestDto>,
}

/// Doc-only: read by `subscribers::update_online_status`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSubscriberOnlineFlagRequestDto {
    pub is_online: bool,
}

/// Doc-only: `herald_core::ChannelType` lives in a crate without utoipa.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelTypeEnum {
    InApp,
    Email,
    Sms,
    Chat,
    Push,
}

/// The channels an integration can be created for: Herald serves chat and push providers.
/// Doc-only: read by `integrations::create_integration`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationChannelEnum {
    Chat,
    Push,
}

/// Doc-only: read by `integration_input::parse_conditions`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterTypeEnum {
    Boolean,
    Text,
    Date,
    Number,
    Statement,
    List,
    MultiList,
    Group,
}

/// Doc-only: read by `integration_input::parse_conditions`.
#[derive(Serialize, ToSchema)]
pub enum FilterValueEnum {
    #[serde(rename = "AND")]
    And,
    #[serde(rename = "OR")]
    Or,
}

/// Doc-only: read by `integration_input::parse_conditions`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FilterOperatorEnum {
    Larger,
    Smaller,
    LargerEqual,
    SmallerEqual,
    Equal,
    NotEqual,
    AllIn,
    AnyIn,
    NotIn,
    Between,
    NotBetween,
    Like,
    NotLike,
    In,
}

/// Doc-only: read by `integration_input::parse_conditions`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilterOnEnum {
    Subscriber,
    Payload,
}

/// One condition of a step filter. Doc-only: read by `integration_input::parse_conditions`.
#[derive(Serialize, ToSchema)]
pub struct FieldFilterPartDto {
    pub field: String,
    pub value: String,
    pub operator: FilterOperatorEnum,
    pub on: FilterOnEnum,
}

/// Novu's `StepFilterDto`: an integration's `conditions` item. Doc-only: read by
/// `integration_input::parse_conditions`.
#[derive(Serialize, ToSchema)]
pub struct StepFilterDto {
    #[serde(rename = "isNegated")]
    pub is_negated: bool,
    #[serde(rename = "type")]
    pub filter_type: FilterTypeEnum,
    pub value: FilterValueEnum,
    pub children: Vec<FieldFilterPartDto>,
}

/// Doc-only: read by `integrations::create_integration`.
#[derive(Serialize, ToSchema)]
pub struct CreateIntegrationRequestDto {
    #[serde(rename = "providerId")]
    pub provider_id: ProviderIdEnum,
    /// Must be the provider's channel.
    pub channel: IntegrationChannelEnum,
    pub name: Option<String>,
    /// Unique in the environment; generated from the name when absent.
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub identifier: Option<String>,
    /// The API key's environment (the only one accepted).
    #[serde(rename = "_environmentId")]
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub environment_id: Option<String>,
    /// Novu's `CredentialsDto`: known keys must have their type; unknown keys are dropped.
    pub credentials: Option<Map<String, Value>>,
    pub active: Option<bool>,
    pub check: Option<bool>,
    pub conditions: Option<Vec<StepFilterDto>>,
}

/// Doc-only: read by `integrations::update_integration`.
#[derive(Serialize, ToSchema)]
pub struct UpdateIntegrationRequestDto {
    pub name: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub identifier: Option<String>,
    /// The API key's environment (the only one accepted).
    #[serde(rename = "_environmentId")]
    #[schema(pattern = "^[0-9a-fA-F]{24}$")]
    pub environment_id: Option<String>,
    /// Replaces the stored credentials object (Novu's `CredentialsDto`, see create).
    pub credentials: Option<Map<String, Value>>,
    pub active: Option<bool>,
    pub check: Option<bool>,
    pub conditions: Option<Vec<StepFilterDto>>,
}

/// Doc-only: read by `topics_v2::create_topic`.
#[derive(Serialize, ToSchema)]
pub struct CreateUpdateTopicRequestDto {
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub key: String,
    pub name: Option<String>,
    pub data: Option<Value>,
}

/// Doc-only: read by `topics_v2::update_topic`.
#[derive(Serialize, ToSchema)]
pub struct UpdateTopicRequestDto {
    pub name: Option<String>,
    pub data: Option<Value>,
}

/// Doc-only: read by `topics_v2::parse_new_subscriptions` and
/// `topics_v2::parse_subscription_targets`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopicSubscriptionsRequestDto {
    pub subscriber_ids: Option<Vec<String>>,
    /// Subscriber ids, or `{subscriberId, identifier?, name?}` objects.
    pub subscriptions: Option<Vec<Value>>,
}

/// Doc-only: read by `topics::create_topic`.
#[derive(Serialize, ToSchema)]
pub struct CreateTopicRequestDto {
    #[schema(
        min_length = 1,
        max_length = 256,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub key: String,
    pub name: String,
}

/// Doc-only: read by `topics::rename_topic`.
#[derive(Serialize, ToSchema)]
pub struct RenameTopicRequestDto {
    pub name: String,
}

/// Doc-only: read by `topics::parse_subscriber_list`.
#[derive(Serialize, ToSchema)]
pub struct TopicSubscribersRequestDto {
    pub subscribers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// The compatibility surface (README, "What it serves") that Herald serves today, as (method, path).
    const EXPECTED: &[(&str, &str)] = &[
        ("get", "/v1/subscribers"),
        ("post", "/v1/subscribers"),
        ("post", "/v1/subscribers/bulk"),
        ("get", "/v1/subscribers/{subscriberId}"),
        ("put", "/v1/subscribers/{subscriberId}"),
        ("delete", "/v1/subscribers/{subscriberId}"),
        ("patch", "/v1/subscribers/{subscriberId}/online-status"),
        ("put", "/v1/subscribers/{subscriberId}/credentials"),
        ("patch", "/v1/subscribers/{subscriberId}/credentials"),
        (
            "delete",
            "/v1/subscribers/{subscriberId}/credentials/{providerId}",
        ),
        (
            "post",
            "/v1/subscribers/{subscriberId}/credentials/{providerId}/device-tokens",
        ),
        (
            "post",
            "/v1/subscribers/{subscriberId}/credentials/{providerId}/device-tokens/removal",
        ),
        ("get", "/v1/integrations"),
        ("post", "/v1/integrations"),
        ("get", "/v1/integrations/active"),
        ("put", "/v1/integrations/{integrationId}"),
        ("delete", "/v1/integrations/{integrationId}"),
        ("post", "/v1/integrations/{integrationId}/set-primary"),
        ("post", "/v1/topics"),
        ("get", "/v1/topics"),
        ("get", "/v1/topics/{topicKey}"),
        ("patch", "/v1/topics/{topicKey}"),
        ("delete", "/v1/topics/{topicKey}"),
        ("post", "/v1/topics/{topicKey}/subscribers"),
        ("post", "/v1/topics/{topicKey}/subscribers/removal"),
        (
            "get",
            "/v1/topics/{topicKey}/subscribers/{externalSubscriberId}",
        ),
        ("post", "/v2/subscribers"),
        ("get", "/v2/subscribers"),
        ("get", "/v2/subscribers/{subscriberId}"),
        ("patch", "/v2/subscribers/{subscriberId}"),
        ("delete", "/v2/subscribers/{subscriberId}"),
        ("get", "/v2/subscribers/{subscriberId}/subscriptions"),
        ("post", "/v2/topics"),
        ("get", "/v2/topics"),
        ("get", "/v2/topics/{topicKey}"),
        ("patch", "/v2/topics/{topicKey}"),
        ("delete", "/v2/topics/{topicKey}"),
        ("get", "/v2/topics/{topicKey}/subscriptions"),
        ("post", "/v2/topics/{topicKey}/subscriptions"),
        ("delete", "/v2/topics/{topicKey}/subscriptions"),
        ("get", "/v2/topics/{topicKey}/subscriptions/{identifier}"),
        ("post", "/v1/workflows"),
        ("get", "/v1/workflows"),
        ("get", "/v1/workflows/{workflowId}"),
        ("put", "/v1/workflows/{workflowId}"),
        ("delete", "/v1/workflows/{workflowId}"),
        ("put", "/v1/workflows/{workflowId}/status"),
        ("post", "/v1/notification-templates"),
        ("get", "/v1/notification-templates"),
        ("get", "/v1/notification-templates/{templateId}"),
        ("put", "/v1/notification-templates/{templateId}"),
        ("delete", "/v1/notification-templates/{templateId}"),
        ("put", "/v1/notification-templates/{templateId}/status"),
        ("get", "/v1/notification-groups"),
        ("post", "/v1/notification-groups"),
        ("get", "/v1/notification-groups/{id}"),
        ("post", "/v2/workflows"),
        ("get", "/v2/workflows"),
        ("get", "/v2/workflows/{workflowId}"),
        ("put", "/v2/workflows/{workflowId}"),
        ("patch", "/v2/workflows/{workflowId}"),
        ("delete", "/v2/workflows/{workflowId}"),
        ("put", "/v2/workflows/{workflowId}/sync"),
        ("post", "/v1/events/trigger"),
        ("post", "/v1/events/trigger/bulk"),
        ("post", "/v1/events/trigger/broadcast"),
        ("delete", "/v1/events/trigger/{transactionId}"),
        ("get", "/v1/messages"),
        ("delete", "/v1/messages/{messageId}"),
        ("delete", "/v1/messages/transaction/{transactionId}"),
        ("get", "/v1/notifications"),
        ("get", "/v1/notifications/{notificationId}"),
        ("get", "/v1/execution-details"),
        ("get", "/v1/health-check"),
        ("get", "/readyz"),
    ];

    #[test]
    fn the_document_is_openapi_3_1_and_lists_exactly_the_served_operations() {
        let doc = serde_json::to_value(crate::http::openapi_document()).unwrap();
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1"),
            "{}",
            doc["openapi"]
        );
        let mut documented: Vec<(String, String)> = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.push((method.clone(), path.clone()));
            }
        }
        let mut expected: Vec<(String, String)> = EXPECTED
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        documented.sort();
        expected.sort();
        assert_eq!(documented, expected);
    }

    #[test]
    fn every_operation_with_a_path_parameter_or_a_body_documents_400_and_a_body_413() {
        let doc = serde_json::to_value(crate::http::openapi_document()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                let has_body = op.get("requestBody").is_some();
                if path.contains('{') || has_body {
                    assert!(responses.contains_key("400"), "{method} {path}");
                }
                if has_body {
                    assert!(responses.contains_key("413"), "{method} {path}");
                }
            }
        }
    }

    /// The id rules appear as literals in `#[schema(pattern = …)]` (utoipa takes no constant):
    /// every id the document describes, in a body or a path, carries exactly
    /// [`super::ID_PATTERN`] and the 256-character limit.
    #[test]
    fn every_id_in_the_document_has_the_id_pattern_and_length() {
        let doc = serde_json::to_value(crate::http::openapi_document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let mut ids: Vec<(String, Value)> = [
            ("UpdateSubscriberChannelRequestDto", "integrationIdentifier"),
            ("AddDeviceTokensRequestDto", "integrationIdentifier"),
            ("CreateSubscriberRequestDto", "subscriberId"),
            ("CreateSubscriberV2RequestDto", "subscriberId"),
            ("CreateIntegrationRequestDto", "identifier"),
            ("UpdateIntegrationRequestDto", "identifier"),
            ("CreateUpdateTopicRequestDto", "key"),
            ("CreateTopicRequestDto", "key"),
        ]
        .iter()
        .map(|(s, f)| (format!("{s}.{f}"), schemas[s]["properties"][f].clone()))
        .collect();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for op in item.as_object().unwrap().values() {
                for p in op["parameters"].as_array().into_iter().flatten() {
                    if p["in"] == "path" && p["name"] != "integrationId" {
                        ids.push((format!("{path} {}", p["name"]), p["schema"].clone()));
                    }
                }
            }
        }
        assert!(ids.len() > 30, "{ids:?}");
        for (name, schema) in ids {
            assert_eq!(schema["pattern"], super::ID_PATTERN, "{name}");
            assert_eq!(schema["maxLength"], 256, "{name}");
        }
    }

    #[test]
    fn every_operation_documents_its_error_body_and_schemas_resolve() {
        let doc = serde_json::to_value(crate::http::openapi_document()).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let text = doc.to_string();
        for (i, _) in text.match_indices("#/components/schemas/") {
            let name: String = text[i + 21..].chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "dangling reference to {name}");
        }
        assert!(matches!(schemas.get("ErrorDto"), Some(Value::Object(_))));
        let responses = doc["components"]["responses"].as_object().unwrap();
        let mut referenced = 0;
        for (i, _) in text.match_indices("#/components/responses/") {
            let name: String = text[i + 23..].chars().take_while(|c| *c != '"').collect();
            assert!(
                responses.contains_key(&name),
                "dangling reference to {name}"
            );
            referenced += 1;
        }
        assert!(referenced > 200, "{referenced} shared answers referenced");
        for (name, response) in responses {
            assert_eq!(
                response["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorDto",
                "{name}"
            );
        }
    }
}
