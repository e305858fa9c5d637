//! The MSISDN oracle: Mojaloop's oracle API (which DFSP holds a party identifier), backed by
//! its own MySQL database (`oracle_msisdn`, migrations in `migrations/oracle`).
//!
//! The Account Lookup Service calls it over HTTP like any third-party oracle; nothing in the
//! ALS depends on this crate. Run it with `mojaloop serve oracle`, or in-process through
//! [`run`], which takes its configuration, a bound listener and a shutdown future, so tests
//! drive it on port 0.

pub mod api;
pub mod config;
pub mod error;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use fspiop::{ErrorCode, FspiopError};
use service_kit::http::FspiopResponse;
use service_kit::metrics::{Counter, HttpMetrics, Registry};
use tokio::net::TcpListener;

pub use config::Config;
pub use error::{Error, Result};
pub use store::Store;

/// Largest request body read: the API's 5 MiB payload limit (a bulk registration of 10 000
/// parties fits).
pub const BODY_LEN_MAX_BYTES: usize = 5 * 1024 * 1024;

/// The oracle's metrics.
#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub http: HttpMetrics,
    /// Mapping operations by operation and outcome.
    pub mappings: Counter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new("moja_oracle_");
        let http = service_kit::metrics::http_request_metrics(&registry);
        let mappings = registry.counter("mapping_operations_total", "Mapping operations by outcome", &["operation", "outcome"]);
        Metrics { registry, http, mappings }
    }

    fn record(&self, operation: &str, outcome: &str) {
        self.mappings.inc(&[operation, outcome]);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// What every request handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub config: Arc<Config>,
    pub metrics: Metrics,
    pub started: SystemTime,
}

/// Times each request, bounds it by the configured timeout.
async fn edge(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let timeout = Duration::from_millis(state.config.server.request_timeout_ms);
    let response = match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => FspiopResponse(FspiopError::with_detail(ErrorCode::ServerTimedOut, "request took too long")).into_response(),
    };
    state.metrics.http.record(&method, &route, response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

async fn unknown_route() -> Response {
    FspiopResponse(FspiopError::new(ErrorCode::UnknownUri)).into_response()
}

async fn method_not_allowed() -> Response {
    let mut response =
        FspiopResponse(FspiopError::with_detail(ErrorCode::GenericClientError, "Method Not Allowed")).into_response();
    *response.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// The HTTP application.
pub fn app(state: AppState) -> axum::Router {
    api::router(state.clone())
        .fallback(unknown_route)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LEN_MAX_BYTES))
        .layer(axum::middleware::from_fn_with_state(state, edge))
}

/// Connects to MySQL, creating the database when `create_database` is set and applying the
/// migrations when `migrate` is set.
pub async fn connect_store(config: &Config, create_database: bool, migrate: bool) -> Result<Store> {
    if create_database {
        ::store::create_database_if_missing(&config.database.url, &config.database.name)
            .await
            .map_err(|e| Error::Internal(format!("creating database {}: {e}", config.database.name)))?;
    }
    let url = config.database_url()?;
    let pool = ::store::connect(&url, config.database.pool_size_max, config.database.acquire_timeout_ms)
        .await
        .map_err(|e| Error::Internal(format!("connecting to {}: {e}", config.database.name)))?;
    if migrate {
        store::MIGRATIONS.run(&pool).await.map_err(|e| Error::Internal(format!("migrating: {e}")))?;
    }
    Ok(Store::new(pool))
}

/// Serves the oracle API on `listener` until `shutdown` resolves.
pub async fn run(
    config: Config,
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let state = AppState { store, config: Arc::new(config), metrics: Metrics::new(), started: SystemTime::now() };
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::Internal(e.to_string()))
}
