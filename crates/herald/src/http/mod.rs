//! The HTTP API: one module per resource, each with its own `router()`, assembled here with the
//! layers every route shares (error rendering, body limit, rate-limit headers, metrics, tracing,
//! Novu's 404 for unknown routes).

pub mod activity;
pub mod auth;
pub mod cache;
pub mod credentials;
pub mod cursor;
pub mod device_tokens;
pub mod dto;
pub mod error;
pub mod events;
pub mod extract;
pub mod idempotency;
pub mod integration_input;
pub mod integrations;
pub mod notification_groups;
pub mod notification_templates;
pub mod openapi;
pub mod openapi_delivery;
pub mod rate_limit;
pub mod readiness;
pub mod subscribers;
pub mod subscribers_v2;
pub mod topics;
pub mod topics_v2;
pub mod trigger;
pub mod validate;
pub mod workflow_docs;
pub mod workflow_input;
pub mod workflow_input_v2;
pub mod workflow_response;
pub mod workflow_response_v1;
pub mod workflows_v1;
pub mod workflows_v2;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{StatusCode, Uri};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::state::AppState;
use dto::{Data, Envelope};
use error::ApiError;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

/// Novu's JSON limit for these routes (body-parser's default); larger bodies get a 413.
pub const BODY_LIMIT: usize = 100 * 1024;

pub fn router(state: AppState) -> Router {
    let (api, doc) = documented_api();
    api.route("/openapi.json", get(move || std::future::ready(axum::Json(doc.clone()))))
        .merge(SwaggerUi::new("/docs").config(swagger_config()))
        .fallback(not_found)
        .method_not_allowed_fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            state.rate_limits.clone(),
            rate_limit::headers,
        ))
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            crate::metrics::http::track,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let route = req
                        .extensions()
                        .get::<MatchedPath>()
                        .map(|m| m.as_str().to_owned())
                        .unwrap_or_else(|| "unmatched".into());
                    tracing::info_span!("request", method = %req.method(), route, environment_id = tracing::field::Empty)
                })
                .on_response(|res: &Response, latency: std::time::Duration, _: &tracing::Span| {
                    tracing::debug!(status = res.status().as_u16(), latency_us = latency.as_micros() as u64, "response");
                }),
        )
        .layer(middleware::from_fn(error::render_errors))
        .with_state(state)
}

/// Swagger UI loads the document served at `/openapi.json` (without a URL it shows "No API
/// definition provided") and does not send it to swagger.io's online validator, so `/docs` works
/// offline and leaks nothing.
fn swagger_config() -> utoipa_swagger_ui::Config<'static> {
    utoipa_swagger_ui::Config::from("/openapi.json").validator_url("none")
}

/// Every documented API route, with its OpenAPI description.
pub fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(subscribers::router())
        .merge(subscribers_v2::router())
        .merge(credentials::router())
        .merge(device_tokens::router())
        .merge(integrations::router())
        .merge(topics::router())
        .merge(topics_v2::router())
        .merge(workflows_v1::router())
        .merge(notification_templates::router())
        .merge(notification_groups::router())
        .merge(workflows_v2::router())
        .merge(events::router())
        .merge(activity::router())
        .routes(routes!(health_check))
        .routes(routes!(readiness::ready))
}

/// The API routes and their complete OpenAPI document.
fn documented_api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (api, mut doc) = api_routes().split_for_parts();
    openapi::complete_document(&mut doc);
    (api, doc)
}

/// The OpenAPI document as served at `/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    documented_api().1
}

/// Collapses repeated slashes (`//v1/subscribers`, which `@novu/node` and `novu` send when a base
/// URL ends in `/`). Runs before routing.
pub fn normalize_path(mut req: Request) -> Request {
    let path = req.uri().path();
    if path.contains("//") {
        let mut collapsed = String::with_capacity(path.len());
        for c in path.chars() {
            if !(c == '/' && collapsed.ends_with('/')) {
                collapsed.push(c);
            }
        }
        let pq = match req.uri().query() {
            Some(q) => format!("{collapsed}?{q}"),
            None => collapsed,
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

#[utoipa::path(
    get,
    path = "/v1/health-check",
    tag = "Health",
    operation_id = "health_check_v1",
    security(()),
    responses(
        (status = 200, description = "Serving", body = Data<Health>),
    )
)]
async fn health_check() -> Response {
    Envelope(StatusCode::OK, Health { status: "ok" }).into_response()
}

/// `GET /v1/health-check`: `{status: "ok"}`.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = HealthDto)]
pub struct Health {
    status: &'static str,
}

/// Nest's answer for an unknown route or method: `404 Cannot GET /path`.
async fn not_found(req: Request) -> ApiError {
    ApiError::NotFound(format!("Cannot {} {}", req.method(), req.uri().path()))
}
