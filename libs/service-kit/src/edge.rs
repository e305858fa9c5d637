//! The outer layer of every service's router: each request is timed into the HTTP metrics
//! and bounded by a timeout (2004 when it runs out), unknown routes answer 3002 / 404 and
//! wrong methods 3000 / 405.
//!
//! Each request (but `/health` and `/metrics`) is an `edge` hop span ([`crate::telemetry`]),
//! the child of the request's `traceparent` when it has a valid one (a malformed one is
//! ignored and a new trace started: never an error to the sender). The request's
//! `traceparent`/`tracestate` headers are replaced by the hop's own context before the
//! handler sees them, so whatever the handler passes on (a Kafka message's headers, a
//! forwarded request) continues the trace from this hop.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use fspiop::trace_context::{TraceContext, TRACEPARENT, TRACESTATE};
use fspiop::{ErrorCode, FspiopError};
use tracing::Instrument as _;

use crate::http::FspiopResponse;
use crate::metrics::HttpMetrics;

#[derive(Clone)]
struct EdgeState {
    metrics: HttpMetrics,
    timeout: Duration,
    /// The service, for its hop spans.
    service: std::sync::Arc<str>,
}

/// Routes that are not part of any payment: no hop span.
const UNTRACED_ROUTES: &[&str] = &["/health", "/metrics"];

async fn edge(State(state): State<EdgeState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let hop = (!UNTRACED_ROUTES.contains(&route.as_str())).then(|| {
        let inbound = TraceContext::from_headers(
            request
                .headers()
                .iter()
                .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?))),
        );
        let hop = crate::telemetry::Hop::start(
            crate::telemetry::HopKind::Edge,
            &format!("{method} {route}"),
            &state.service,
            inbound.as_ref(),
        );
        let headers = request.headers_mut();
        headers.remove(TRACEPARENT);
        headers.remove(TRACESTATE);
        if let Some(own) = hop.context() {
            if let Ok(value) = own.parent.format().parse() {
                headers.insert(TRACEPARENT, value);
            }
            if let Some(Ok(value)) = own.state.as_deref().map(str::parse) {
                headers.insert(TRACESTATE, value);
            }
        }
        hop
    });
    let span = hop
        .as_ref()
        .map_or_else(tracing::Span::none, |hop| hop.span().clone());
    let response = match tokio::time::timeout(state.timeout, next.run(request))
        .instrument(span)
        .await
    {
        Ok(response) => response,
        Err(_) => FspiopResponse(FspiopError::with_detail(
            ErrorCode::ServerTimedOut,
            "request took too long",
        ))
        .into_response(),
    };
    if let Some(hop) = &hop {
        hop.record_status(response.status().as_u16());
    }
    state.metrics.record(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// 3002 Unknown URI, HTTP 404.
pub async fn unknown_route() -> Response {
    FspiopResponse(FspiopError::new(ErrorCode::UnknownUri)).into_response()
}

/// 3000 "Generic client error - Method Not Allowed", HTTP 405.
pub async fn method_not_allowed() -> Response {
    let mut response = FspiopResponse(FspiopError::with_detail(
        ErrorCode::GenericClientError,
        "Method Not Allowed",
    ))
    .into_response();
    *response.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// Wraps a service's routes with the FSPIOP fallbacks, metrics, the request timeout and the
/// `edge` hop span of `service`.
pub fn with_edges(
    router: Router,
    metrics: HttpMetrics,
    request_timeout_ms: u64,
    service: &str,
) -> Router {
    let state = EdgeState {
        metrics,
        timeout: Duration::from_millis(request_timeout_ms),
        service: std::sync::Arc::from(service),
    };
    router
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state, edge))
}

/// Milliseconds since the Unix epoch, for the places that need the wall clock.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;

    async fn call(router: Router, method: &str, path: &str) -> (u16, String) {
        use tower::ServiceExt as _;
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap_or_default();
        let response = router.oneshot(request).await.unwrap_or_else(|e| match e {});
        let status = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap_or_default();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn fallbacks_and_metrics() {
        let registry = crate::metrics::Registry::new("t_");
        let metrics = crate::metrics::http_request_metrics(&registry);
        let router = with_edges(
            Router::new().route("/ok", get(|| async { "fine" })),
            metrics,
            1000,
            "test",
        );
        assert_eq!(
            call(router.clone(), "GET", "/ok").await,
            (200, "fine".to_string())
        );
        let (status, body) = call(router.clone(), "GET", "/nope").await;
        assert_eq!(status, 404);
        assert!(body.contains("\"3002\""), "{body}");
        let (status, body) = call(router, "POST", "/ok").await;
        assert_eq!(status, 405);
        assert!(body.contains("Method Not Allowed"), "{body}");
        assert!(
            registry.render().contains(
                "t_http_requests_total{method=\"GET\",path=\"/ok\",status_code=\"200\"} 1"
            ),
            "{}",
            registry.render()
        );
    }

    #[tokio::test]
    async fn the_handler_sees_the_edge_hop_context() {
        crate::telemetry::init_for_tests("info");
        let registry = crate::metrics::Registry::new("t_");
        let metrics = crate::metrics::http_request_metrics(&registry);
        let router = with_edges(
            Router::new().route(
                "/echo",
                get(|headers: axum::http::HeaderMap| async move {
                    let value = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("-")
                            .to_string()
                    };
                    format!("{} {}", value("traceparent"), value("tracestate"))
                }),
            ),
            metrics,
            1000,
            "test",
        );
        let echo = |traceparent: &'static str| {
            let router = router.clone();
            async move {
                use tower::ServiceExt as _;
                let request = Request::builder()
                    .uri("/echo")
                    .header("traceparent", traceparent)
                    .header("tracestate", "a=b")
                    .body(Body::empty())
                    .unwrap_or_default();
                let response = router.oneshot(request).await.unwrap_or_else(|e| match e {});
                assert_eq!(response.status(), 200);
                let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
                    .await
                    .unwrap_or_default();
                String::from_utf8_lossy(&bytes).into_owned()
            }
        };
        let sent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let seen = echo(sent).await;
        let (parent, state) = seen.split_once(' ').unwrap_or_default();
        let parent =
            fspiop::trace_context::TraceParent::parse(parent).unwrap_or_else(|| panic!("{seen}"));
        assert_eq!(parent.trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
        assert_ne!(parent.parent_id_hex(), "b7ad6b7169203331");
        assert_eq!(state, "a=b");
        // Malformed: ignored, a new trace, its tracestate dropped; still 200.
        let seen = echo("00-not-a-trace").await;
        let (parent, state) = seen.split_once(' ').unwrap_or_default();
        let parent =
            fspiop::trace_context::TraceParent::parse(parent).unwrap_or_else(|| panic!("{seen}"));
        assert_ne!(parent.trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(state, "-");
    }
}
