//! HTTP request metrics: a middleware on the API router counts every answered request by its
//! route template (axum's [`MatchedPath`], `/v1/subscribers/{subscriberId}`; a request that
//! matched no route is `unmatched`), method and status, and times it to its response head.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::{latency_histogram, Metrics};

/// The route label of a request no route matched (unknown paths, never spelled out).
pub const UNMATCHED: &str = "unmatched";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    method: &'static str,
    route: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: HistogramFamily<LatencyLabels>,
}

impl HttpMetrics {
    pub(super) fn register(registry: &mut Registry) -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "herald_http_requests",
            "API requests answered, by route template, method and status code",
            requests.clone(),
        );
        let latency = HistogramFamily::<LatencyLabels>::new_with_constructor(latency_histogram);
        registry.register(
            "herald_http_request_duration_seconds",
            "Time from a request's arrival at the router to its response head, by route template and method",
            latency.clone(),
        );
        HttpMetrics { requests, latency }
    }

    /// Counts one answered request.
    pub fn observe(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&LatencyLabels {
                method,
                route: route.to_owned(),
            })
            .observe(seconds);
    }
}

/// The standard methods by name; anything else (a client can send any token) is `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Middleware (on every route of the API router, so that [`MatchedPath`] is known).
pub async fn track(State(metrics): State<Arc<Metrics>>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED.to_owned(), |m| m.as_str().to_owned());
    let response = next.run(request).await;
    metrics.http.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_methods_collapse_into_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let custom = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method_label(&custom), "other");
    }

    #[test]
    fn a_request_is_counted_by_route_method_and_status_and_timed() {
        let metrics = Metrics::new();
        let route = "/v1/subscribers/{subscriberId}";
        metrics.http.observe(&Method::GET, route, 200, 0.003);
        metrics.http.observe(&Method::GET, route, 200, 0.004);
        metrics.http.observe(&Method::GET, route, 404, 0.002);
        let text = metrics.render();
        assert!(text.contains(
            "herald_http_requests_total{method=\"GET\",route=\"/v1/subscribers/{subscriberId}\",status=\"200\"} 2\n"
        ), "{text}");
        assert!(text.contains(
            "herald_http_requests_total{method=\"GET\",route=\"/v1/subscribers/{subscriberId}\",status=\"404\"} 1\n"
        ), "{text}");
        assert!(text.contains(
            "herald_http_request_duration_seconds_count{method=\"GET\",route=\"/v1/subscribers/{subscriberId}\"} 3\n"
        ), "{text}");
        assert!(text.contains(
            "herald_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/subscribers/{subscriberId}\",le=\"0.0025\"} 1\n"
        ), "{text}");
        assert!(text.contains(
            "herald_http_request_duration_seconds_bucket{method=\"GET\",route=\"/v1/subscribers/{subscriberId}\",le=\"0.005\"} 3\n"
        ), "{text}");
    }
}
