//! The outer layer of every service's router: each request is timed into the HTTP metrics
//! and bounded by a timeout (2004 when it runs out), unknown routes answer 3002 / 404 and
//! wrong methods 3000 / 405.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use fspiop::{ErrorCode, FspiopError};

use crate::http::FspiopResponse;
use crate::metrics::HttpMetrics;

#[derive(Clone)]
struct EdgeState {
    metrics: HttpMetrics,
    timeout: Duration,
}

async fn edge(State(state): State<EdgeState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = match tokio::time::timeout(state.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => FspiopResponse(FspiopError::with_detail(
            ErrorCode::ServerTimedOut,
            "request took too long",
        ))
        .into_response(),
    };
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

/// Wraps a service's routes with the FSPIOP fallbacks, metrics and the request timeout.
pub fn with_edges(router: Router, metrics: HttpMetrics, request_timeout_ms: u64) -> Router {
    let state = EdgeState {
        metrics,
        timeout: Duration::from_millis(request_timeout_ms),
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
}
