//! The OpenAPI 3.1 document (`/openapi.json`) and the offline API reference (`/docs`).
//!
//! Paths come from the `#[utoipa::path]` annotation on each handler, registered together with the
//! route itself (`utoipa_axum::routes!`), so a route cannot be served without being documented.
//! The schemas below describe the wire format of Novu's DTOs as Herald answers them; they exist only
//! for the document (the handlers serialize through `dto.rs`), and the API tests check real
//! responses against them.

use herald_core::ProviderId;
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

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

/// Completes the document with what one shared piece of the server does on every route it
/// applies to, so that each operation states it without each annotation repeating it:
/// - path parameters (`extract::PathParams`): at most 256 characters, no control characters
///   (`integrationId`: an ObjectId), else 400;
/// - the cursor parameters of the v2 lists (`cursor::parse_cursor`): `limit` 1 to 100, `after`
///   and `before` ObjectIds, `orderDirection` ASC or DESC, else 400;
/// - a body (`extract::JsonBody`, `DefaultBodyLimit`): 400 when it is not valid JSON, 413 over
///   100 KB, 408 when it does not arrive within the body-read timeout;
/// - the search filters of the v2 lists (`validate::search_needles`): at most 256 characters;
/// - every authenticated operation: 503 when the database does not answer within the statement
///   timeout.
///
/// Operations that document their own 400 keep it.
pub fn complete_document(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::{Operation, ParameterIn};
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};

    fn error(description: &str) -> RefOr<utoipa::openapi::Response> {
        ResponseBuilder::new()
            .description(description)
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorDto")))
                    .build(),
            )
            .build()
            .into()
    }
    fn string(pattern: &str, max_length: Option<usize>) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(pattern))
            .max_length(max_length)
            .into()
    }
    fn complete(op: &mut Operation) {
        let is_cursor_list = op.parameters.iter().flatten().any(|p| p.name == "after");
        let mut has_path_params = false;
        for p in op.parameters.iter_mut().flatten() {
            let schema = match (&p.parameter_in, p.name.as_str()) {
                (ParameterIn::Path, "integrationId") => string(OBJECT_ID_PATTERN, None),
                (ParameterIn::Path, _) => string(ID_PATTERN, Some(MAX_ID_LEN)),
                (ParameterIn::Query, "after" | "before") if is_cursor_list => {
                    string(OBJECT_ID_PATTERN, None)
                }
                (ParameterIn::Query, "limit") if is_cursor_list => ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(1))
                    .maximum(Some(100))
                    .into(),
                (ParameterIn::Query, "orderDirection") if is_cursor_list => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["ASC", "DESC"]))
                    .into(),
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
            has_path_params |= p.parameter_in == ParameterIn::Path;
            p.schema = Some(schema);
        }
        let has_body = op.request_body.is_some();
        let responses = &mut op.responses.responses;
        if (has_path_params || has_body || is_cursor_list) && !responses.contains_key("400") {
            responses.insert("400".into(), error("Invalid request"));
        }
        if has_body && !responses.contains_key("413") {
            responses.insert("413".into(), error("Body over 100 KB"));
        }
        if has_body && !responses.contains_key("408") {
            responses.insert(
                "408".into(),
                error("The body did not arrive within the body-read timeout"),
            );
        }
        if responses.contains_key("401") && !responses.contains_key("503") {
            responses.insert(
                "503".into(),
                error(
                    "The database did not answer within the statement timeout; nothing was changed",
                ),
            );
        }
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

/// `providerId`: the chat and push providers the SDKs accept (a closed set).
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

/// Novu's error body.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDto {
    pub status_code: u16,
    /// ISO-8601 with milliseconds.
    pub timestamp: String,
    /// The request path including the query string.
    pub path: String,
    /// A string, or an array of validation messages.
    pub message: Value,
    #[schema(nullable = false)]
    pub error: Option<String>,
    /// Only on 500 answers: quote it when reporting the problem.
    #[schema(nullable = false)]
    pub error_id: Option<String>,
    /// 422 answers: what was wrong, by field (`{<field>: {messages: [..], value?}}`, the SDKs'
    /// `ValidationErrorDto`). 400 answers of the trigger routes: one `{field, message}` per
    /// message (`PayloadValidationExceptionDto`).
    #[schema(nullable = false)]
    pub errors: Option<Value>,
    /// 400 answers of the trigger routes: `VALIDATION_ERROR`.
    #[serde(rename = "type")]
    #[schema(nullable = false)]
    pub kind: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChannelCredentialsDto {
    #[schema(nullable = false)]
    pub webhook_url: Option<String>,
    #[schema(nullable = false)]
    pub channel: Option<String>,
    #[schema(nullable = false, max_items = 100)]
    pub device_tokens: Option<Vec<String>>,
    #[schema(nullable = false)]
    pub alert_uid: Option<String>,
    #[schema(nullable = false)]
    pub title: Option<String>,
    #[schema(nullable = false)]
    pub image_url: Option<String>,
    #[schema(nullable = false)]
    pub state: Option<String>,
    #[schema(nullable = false)]
    pub external_url: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChannelSettingsDto {
    #[serde(rename = "providerId")]
    pub provider_id: ProviderIdEnum,
    #[serde(rename = "integrationIdentifier")]
    #[schema(nullable = false)]
    pub integration_identifier: Option<String>,
    pub credentials: ChannelCredentialsDto,
    #[serde(rename = "_integrationId")]
    pub integration_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriberResponseDto {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "subscriberId")]
    pub subscriber_id: String,
    #[serde(rename = "firstName")]
    pub first_name: Option<String>,
    #[serde(rename = "lastName")]
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub avatar: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub data: Option<Value>,
    pub channels: Vec<ChannelSettingsDto>,
    #[serde(rename = "isOnline")]
    pub is_online: Option<bool>,
    #[serde(rename = "lastOnlineAt")]
    pub last_online_at: Option<String>,
    #[serde(rename = "_organizationId")]
    pub organization_id: String,
    #[serde(rename = "_environmentId")]
    pub environment_id: String,
    pub deleted: bool,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
    #[serde(rename = "__v")]
    #[schema(nullable = false)]
    pub version: Option<i64>,
}

/// `{"data": subscriber}`
#[derive(Serialize, ToSchema)]
pub struct SubscriberEnvelope {
    pub data: SubscriberResponseDto,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscribersPageV1 {
    pub page: u64,
    /// True when the page is full.
    pub has_more: bool,
    pub page_size: u64,
    pub data: Vec<SubscriberResponseDto>,
}

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
    pub credentials: ChannelCredentialsDto,
}

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
/// endpoints).
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

#[derive(Serialize, ToSchema)]
pub struct BulkSubscriberCreateDto {
    #[schema(min_items = 1, max_items = 500)]
    pub subscribers: Vec<CreateSubscriberRequestDto>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriberIdDto {
    pub subscriber_id: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedSubscriberDto {
    #[schema(nullable = false)]
    pub subscriber_id: Option<String>,
    #[schema(nullable = false)]
    pub message: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkCreateSubscriberResponseDto {
    pub created: Vec<SubscriberIdDto>,
    pub updated: Vec<SubscriberIdDto>,
    pub failed: Vec<FailedSubscriberDto>,
}

#[derive(Serialize, ToSchema)]
pub struct BulkCreateEnvelope {
    pub data: BulkCreateSubscriberResponseDto,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateSubscriberOnlineFlagRequestDto {
    pub is_online: bool,
}

#[derive(Serialize, ToSchema)]
pub struct RemoveSubscriberResponseDto {
    pub acknowledged: bool,
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct RemoveSubscriberEnvelope {
    pub data: RemoveSubscriberResponseDto,
}

/// `GET /v2/subscribers`
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListSubscribersResponseDto {
    pub data: Vec<SubscriberResponseDto>,
    /// Cursor of the next page (pass as `after`), or null.
    pub next: Option<String>,
    /// Cursor of the previous page (pass as `before`), or null.
    pub previous: Option<String>,
    pub total_count: u64,
    pub total_count_capped: bool,
}

#[derive(Serialize, ToSchema)]
#[schema(as = ChannelTypeEnum)]
#[serde(rename_all = "snake_case")]
pub enum ChannelTypeDoc {
    InApp,
    Email,
    Sms,
    Chat,
    Push,
}

/// The channels an integration can be created for: Herald serves chat and push providers.
#[derive(Serialize, ToSchema)]
#[schema(as = IntegrationChannelEnum)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationChannelDoc {
    Chat,
    Push,
}

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

#[derive(Serialize, ToSchema)]
pub enum FilterValueEnum {
    #[serde(rename = "AND")]
    And,
    #[serde(rename = "OR")]
    Or,
}

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

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilterOnEnum {
    Subscriber,
    Payload,
}

/// One condition of a step filter (`integration_input::parse_conditions`).
#[derive(Serialize, ToSchema)]
pub struct FieldFilterPartDto {
    pub field: String,
    pub value: String,
    pub operator: FilterOperatorEnum,
    pub on: FilterOnEnum,
}

/// Novu's `StepFilterDto`: an integration's `conditions` item.
#[derive(Serialize, ToSchema)]
pub struct StepFilterDto {
    #[serde(rename = "isNegated")]
    pub is_negated: bool,
    #[serde(rename = "type")]
    pub filter_type: FilterTypeEnum,
    pub value: FilterValueEnum,
    pub children: Vec<FieldFilterPartDto>,
}

#[derive(Serialize, ToSchema)]
pub struct IntegrationResponseDto {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_environmentId")]
    pub environment_id: String,
    #[serde(rename = "_organizationId")]
    pub organization_id: String,
    pub name: String,
    pub identifier: String,
    #[serde(rename = "providerId")]
    pub provider_id: ProviderIdEnum,
    pub channel: ChannelTypeDoc,
    pub credentials: Value,
    pub active: bool,
    pub deleted: bool,
    #[serde(rename = "deletedAt")]
    #[schema(nullable = false)]
    pub deleted_at: Option<String>,
    pub primary: bool,
    pub priority: i64,
    pub conditions: Vec<Value>,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct IntegrationEnvelope {
    pub data: IntegrationResponseDto,
}

#[derive(Serialize, ToSchema)]
pub struct IntegrationListEnvelope {
    pub data: Vec<IntegrationResponseDto>,
}

#[derive(Serialize, ToSchema)]
pub struct CreateIntegrationRequestDto {
    #[serde(rename = "providerId")]
    pub provider_id: ProviderIdEnum,
    /// Must be the provider's channel.
    pub channel: IntegrationChannelDoc,
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

#[derive(Serialize, ToSchema)]
pub struct TopicResponseDto {
    #[serde(rename = "_id")]
    pub id: String,
    pub key: String,
    #[schema(nullable = false)]
    pub name: Option<String>,
    #[schema(nullable = false)]
    pub data: Option<Value>,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct TopicEnvelope {
    pub data: TopicResponseDto,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListTopicsResponseDto {
    pub data: Vec<TopicResponseDto>,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub total_count: u64,
    pub total_count_capped: bool,
}

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

#[derive(Serialize, ToSchema)]
pub struct UpdateTopicRequestDto {
    pub name: Option<String>,
    pub data: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct AcknowledgedDto {
    pub acknowledged: bool,
}

#[derive(Serialize, ToSchema)]
pub struct DeleteTopicEnvelope {
    pub data: AcknowledgedDto,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionTopicDto {
    #[serde(rename = "_id")]
    pub id: String,
    pub key: String,
    #[schema(nullable = false)]
    pub name: Option<String>,
    #[schema(nullable = false)]
    pub data: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionSubscriberDto {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "subscriberId")]
    pub subscriber_id: String,
    pub avatar: Option<String>,
    #[serde(rename = "firstName")]
    pub first_name: Option<String>,
    #[serde(rename = "lastName")]
    pub last_name: Option<String>,
    pub email: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TopicSubscriptionDto {
    #[serde(rename = "_id")]
    pub id: String,
    /// The caller's, or by default `<topicKey>:<subscriberId>`; unique within the topic.
    pub identifier: String,
    #[schema(nullable = false)]
    pub name: Option<String>,
    pub topic: SubscriptionTopicDto,
    pub subscriber: SubscriptionSubscriberDto,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListTopicSubscriptionsResponseDto {
    pub data: Vec<TopicSubscriptionDto>,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub total_count: u64,
    pub total_count_capped: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionsMetaDto {
    pub total_count: u64,
    pub successful: u64,
    pub failed: u64,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionErrorDto {
    pub subscriber_id: String,
    pub code: String,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreateSubscriptionsResponseDto {
    pub data: Vec<TopicSubscriptionDto>,
    pub meta: SubscriptionsMetaDto,
    #[schema(nullable = false)]
    pub errors: Option<Vec<SubscriptionErrorDto>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopicSubscriptionsRequestDto {
    pub subscriber_ids: Option<Vec<String>>,
    /// Subscriber ids, or `{subscriberId, identifier?, name?}` objects.
    pub subscriptions: Option<Vec<Value>>,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionRefDto {
    pub id: String,
    pub identifier: String,
    #[schema(nullable = false)]
    pub name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SubscriptionRefEnvelope {
    pub data: SubscriptionRefDto,
}

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

#[derive(Serialize, ToSchema)]
pub struct CreatedTopicDto {
    #[serde(rename = "_id")]
    pub id: String,
    pub key: String,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedTopicEnvelope {
    pub data: CreatedTopicDto,
}

#[derive(Serialize, ToSchema)]
pub struct TopicV1Dto {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_organizationId")]
    pub organization_id: String,
    #[serde(rename = "_environmentId")]
    pub environment_id: String,
    pub key: String,
    pub name: String,
    /// External ids of all members.
    pub subscribers: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TopicV1Envelope {
    pub data: TopicV1Dto,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopicsPageV1 {
    pub page: u64,
    pub page_size: u64,
    pub total_count: u64,
    pub data: Vec<TopicV1Dto>,
}

#[derive(Serialize, ToSchema)]
pub struct RenameTopicRequestDto {
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct TopicSubscribersRequestDto {
    pub subscribers: Vec<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotFoundIdsDto {
    pub not_found: Vec<String>,
    /// Subscribers whose default subscription identifier (`<topicKey>:<subscriberId>`) another
    /// subscription of the topic already has (a Herald addition).
    #[schema(nullable = false)]
    pub identifier_conflict: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct AddSubscribersResponseDto {
    pub succeeded: Vec<String>,
    #[schema(nullable = false)]
    pub failed: Option<NotFoundIdsDto>,
}

#[derive(Serialize, ToSchema)]
pub struct AddSubscribersEnvelope {
    pub data: AddSubscribersResponseDto,
}

#[derive(Serialize, ToSchema)]
pub struct TopicSubscriberDto {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_organizationId")]
    pub organization_id: String,
    #[serde(rename = "_environmentId")]
    pub environment_id: String,
    #[serde(rename = "_subscriberId")]
    pub subscriber_id: String,
    #[serde(rename = "_topicId")]
    pub topic_id: String,
    #[serde(rename = "topicKey")]
    pub topic_key: String,
    #[serde(rename = "externalSubscriberId")]
    pub external_subscriber_id: String,
    #[serde(rename = "createdAt")]
    pub created_at: String,
    #[serde(rename = "updatedAt")]
    pub updated_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct TopicSubscriberEnvelope {
    pub data: TopicSubscriberDto,
}

#[derive(Serialize, ToSchema)]
pub struct HealthDto {
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct HealthEnvelope {
    pub data: HealthDto,
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
    }
}
