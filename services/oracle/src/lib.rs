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
use std::time::SystemTime;

use axum::extract::DefaultBodyLimit;
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
        let mappings = registry.counter(
            "mapping_operations_total",
            "Mapping operations by outcome",
            &["operation", "outcome"],
        );
        Metrics {
            registry,
            http,
            mappings,
        }
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

/// The HTTP application.
pub fn app(state: AppState) -> axum::Router {
    let metrics = state.metrics.http.clone();
    let service = state.config.telemetry.service_name.clone();
    let timeout_ms = state.config.server.request_timeout_ms;
    service_kit::edge::with_edges(
        api::router(state).layer(DefaultBodyLimit::max(BODY_LEN_MAX_BYTES)),
        metrics,
        timeout_ms,
        &service,
    )
}

/// Connects to MySQL, creating the database when `create_database` is set and applying the
/// migrations when `migrate` is set.
pub async fn connect_store(config: &Config, create_database: bool, migrate: bool) -> Result<Store> {
    if create_database {
        ::store::create_database_if_missing(&config.database.url, &config.database.name)
            .await
            .map_err(|e| {
                Error::Internal(format!("creating database {}: {e}", config.database.name))
            })?;
    }
    let url = config.database_url()?;
    let pool = ::store::connect(
        &url,
        config.database.pool_size_max,
        config.database.acquire_timeout_ms,
    )
    .await
    .map_err(|e| Error::Internal(format!("connecting to {}: {e}", config.database.name)))?;
    if migrate {
        store::MIGRATIONS
            .run(&pool)
            .await
            .map_err(|e| Error::Internal(format!("migrating: {e}")))?;
    }
    Ok(Store::new(pool))
}

/// The oracle's application and TLS settings, built once; [`Prepared::app`] is the same
/// router that [`Prepared::serve`] puts on the listener (same state, same metrics), for a caller
/// in the same process that dispatches to it without a socket (`mojaloop up`'s ALS).
pub struct Prepared {
    app: axum::Router,
    tls: Option<service_kit::tls::TlsServer>,
}

impl Prepared {
    pub fn new(config: Config, store: Store) -> Result<Prepared> {
        let tls = config
            .tls
            .server()
            .map_err(|e| Error::Config(format!("TLS: {e}")))?;
        let state = AppState {
            store,
            config: Arc::new(config),
            metrics: Metrics::new(),
            started: SystemTime::now(),
        };
        Ok(Prepared {
            app: app(state),
            tls,
        })
    }

    /// The router, to call in-process.
    pub fn app(&self) -> axum::Router {
        self.app.clone()
    }

    /// Serves the oracle API on `listener` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        service_kit::tls::serve(listener, self.app, self.tls, shutdown)
            .await
            .map_err(|e| Error::Internal(e.to_string()))
    }
}

/// Serves the oracle API on `listener` until `shutdown` resolves.
pub async fn run(
    config: Config,
    store: Store,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    Prepared::new(config, store)?
        .serve(listener, shutdown)
        .await
}
