//! The Account Lookup Service (ALS): who holds this party?
//!
//! Two listeners in one process, as in Mojaloop:
//!
//! - the FSPIOP API (port 4002): `GET/PUT /parties/{Type}/{ID}[/{SubId}]` and their `/error`
//!   forms ([`parties`]), `GET/POST/PUT/DELETE /participants/{Type}/{ID}[/{SubId}]`, their
//!   `/error` form and the batch `POST /participants` ([`participants`]),
//!   `DELETE /endpointcache`, `/health`, `/metrics`;
//! - the admin API (port 4001): the oracle registry `/oracles` ([`admin`]), `/health`,
//!   `/metrics`.
//!
//! Every FSPIOP request is checked synchronously (route, headers with version negotiation,
//! path, body, a known `FSPIOP-Source`: [`inbound`]) and answered 202/200; the work then runs
//! in a bounded set of tasks ([`tasks`]): oracle calls over HTTP ([`oracle`], registry in the
//! ALS database: [`registry`]), forwarding to DFSPs and hub callbacks ([`callbacks`]) through
//! `fspiop_edge::Forwarder`, with participants and endpoints from the central ledger's
//! database through the cached `fspiop_edge::Directory`.
//!
//! Entry point: [`run`], which takes the configuration, the stores, the two bound listeners
//! and a shutdown future, so tests drive it on port 0.

pub mod accept_memory;
pub mod admin;
pub mod callbacks;
pub mod config;
pub mod error;
pub mod inbound;
pub mod oracle;
pub mod participants;
pub mod parties;
pub mod registry;
pub mod tasks;

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::routing::{delete, get};
use fspiop::headers::ProtocolVersions;
use fspiop::{ErrorCode, FspiopError};
use fspiop_edge::{Directory, Forwarder, ForwarderConfig};
use service_kit::http::empty_response;
use service_kit::metrics::{
    Counter, Histogram, HttpMetrics, Registry as MetricsRegistry, DEFAULT_BUCKETS_SECONDS,
};
use sqlx::MySqlPool;
use tokio::net::TcpListener;

pub use config::Config;
pub use error::{Error, Result};

/// The service's metrics (prefix `moja_als_`).
#[derive(Clone)]
pub struct Metrics {
    pub registry: MetricsRegistry,
    pub http: HttpMetrics,
    /// Asynchronous flows finished, by flow and outcome (`ok` or the FSPIOP error code).
    pub tasks: Counter,
    /// Time an asynchronous flow took, by flow.
    pub task_duration: Histogram,
    /// Requests to oracles, by operation and outcome.
    pub oracle_requests: Histogram,
    /// Oracle lookups answered from the cache.
    pub oracle_cache_hits: Counter,
    /// Requests and callbacks sent to DFSPs, by endpoint type and outcome.
    pub callbacks: Counter,
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = MetricsRegistry::new("moja_als_");
        let http = service_kit::metrics::http_request_metrics(&registry);
        Metrics {
            tasks: registry.counter(
                "flows_total",
                "Asynchronous flows finished",
                &["flow", "outcome"],
            ),
            task_duration: registry.histogram(
                "flow_duration_seconds",
                "Time an asynchronous flow took",
                &["flow"],
                &DEFAULT_BUCKETS_SECONDS,
            ),
            oracle_requests: registry.histogram(
                "egress_oracle_request_duration_seconds",
                "Requests to oracles",
                &["operation", "outcome"],
                &DEFAULT_BUCKETS_SECONDS,
            ),
            oracle_cache_hits: registry.counter(
                "oracle_lookup_cache_hits_total",
                "Oracle lookups answered from the cache",
                &[],
            ),
            callbacks: registry.counter(
                "egress_requests_total",
                "Requests and callbacks sent to DFSPs",
                &["endpoint_type", "outcome"],
            ),
            registry,
            http,
        }
    }

    fn outcome<T>(result: &std::result::Result<T, FspiopError>) -> String {
        match result {
            Ok(_) => "ok".to_string(),
            Err(error) => error.code.code().to_string(),
        }
    }

    /// Records a finished flow.
    pub fn task<T>(&self, flow: &str, result: &std::result::Result<T, FspiopError>) {
        self.tasks.inc(&[flow, &Self::outcome(result)]);
    }

    /// Records a request or callback sent to a DFSP.
    pub fn callback<T>(&self, endpoint_type: &str, result: &std::result::Result<T, FspiopError>) {
        self.callbacks.inc(&[endpoint_type, &Self::outcome(result)]);
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// The databases the service uses.
#[derive(Clone)]
pub struct Stores {
    /// The ALS database (oracle registry).
    pub als: MySqlPool,
    /// The central ledger's database (participants and endpoints), read only.
    pub central_ledger: MySqlPool,
}

/// What every handler and task shares.
#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub versions: Arc<ProtocolVersions>,
    pub directory: Directory,
    pub forwarder: Forwarder,
    pub oracles: oracle::Oracles,
    pub tasks: tasks::Tasks,
    pub metrics: Metrics,
    pub stores: Stores,
    pub started: SystemTime,
    /// The `Accept` of each lookup forwarded, for the version of its answers.
    pub accept_memory: Arc<accept_memory::AcceptMemory>,
}

impl AppState {
    /// Builds the state from the configuration and the stores.
    pub fn new(config: Config, stores: Stores) -> Result<AppState> {
        let versions = config.protocol_versions().map_err(Error::Config)?;
        let metrics = Metrics::new();
        let directory =
            Directory::new(stores.central_ledger.clone(), config.directory.cache_ttl_ms);
        let client_tls = config
            .tls
            .client()
            .map_err(|e| Error::Config(format!("TLS: {e}")))?;
        let forwarder = Forwarder::new(
            ForwarderConfig::new(
                config.callbacks.request_timeout_ms,
                config.callbacks.idle_connections_per_host_max,
                &config.hub.name,
                versions.clone(),
            )
            .with_tls(client_tls.clone()),
        )?
        .with_refusals(fspiop_edge::refusals_counter(&metrics.registry));
        let registry =
            registry::Registry::new(stores.als.clone(), config.oracle.registry_cache_ttl_ms);
        let oracles = oracle::Oracles::new(
            registry,
            &config.oracle,
            &config.hub.name,
            metrics.clone(),
            client_tls,
        )?;
        let tasks = tasks::Tasks::new(config.limits.async_tasks_max, metrics.clone());
        Ok(AppState {
            config: Arc::new(config),
            versions: Arc::new(versions),
            directory,
            forwarder,
            oracles,
            tasks,
            metrics,
            stores,
            started: SystemTime::now(),
            accept_memory: Arc::default(),
        })
    }
}

/// Whether `name` is a participant of the switch (2003 when the directory cannot be read).
pub async fn is_participant(
    state: &AppState,
    name: &str,
) -> std::result::Result<bool, FspiopError> {
    state
        .directory
        .participant(name)
        .await
        .map(|participant| participant.is_some())
        .map_err(|error| FspiopError::from(Error::from(error)))
}

/// Refuses a request whose `FSPIOP-Source` is not a participant with `code` and `detail`.
pub async fn require_participant(
    state: &AppState,
    source: &str,
    code: ErrorCode,
    detail: &str,
) -> std::result::Result<(), FspiopError> {
    if is_participant(state, source).await? {
        Ok(())
    } else {
        Err(FspiopError::with_detail(code, detail))
    }
}

/// `/health`: the ALS database (`datastore`) and the central ledger's database
/// (`participantEndpointService`); 503 when either is down.
pub async fn health(State(state): State<AppState>) -> Response {
    use service_kit::health::{HealthReport, Status, SubServiceHealth};
    let datastore = Status::from_healthy(state.oracles.registry().healthy().await);
    let ledger = Status::from_healthy(
        sqlx::query("SELECT 1")
            .execute(&state.stores.central_ledger)
            .await
            .is_ok(),
    );
    let report = HealthReport::new(
        state.started,
        env!("CARGO_PKG_VERSION"),
        vec![
            SubServiceHealth::new("datastore", datastore),
            SubServiceHealth::new("participantEndpointService", ledger),
        ],
    );
    service_kit::health::health_response(report, 503)
}

/// `/metrics` in the Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    service_kit::metrics::metrics_response(&state.metrics.registry)
}

/// `DELETE /endpointcache`: forgets cached participants, endpoints, oracles and lookups.
async fn reset_caches(State(state): State<AppState>) -> Response {
    state.directory.invalidate();
    state.oracles.invalidate();
    empty_response(202)
}

fn finish(router: axum::Router<AppState>, state: AppState) -> axum::Router {
    let metrics = state.metrics.http.clone();
    let service = state.config.telemetry.service_name.clone();
    let timeout_ms = state.config.server.request_timeout_ms;
    let router = router
        .layer(DefaultBodyLimit::max(inbound::BODY_LEN_MAX_BYTES))
        .with_state(state);
    service_kit::edge::with_edges(router, metrics, timeout_ms, &service)
}

/// The FSPIOP API application.
pub fn api_app(state: AppState) -> axum::Router {
    api_app_with(state, None)
}

/// [`api_app`] with inbound `FSPIOP-Signature` validation when `jws` is set.
pub fn api_app_with(
    state: AppState,
    jws: Option<Arc<service_kit::jws::Validation>>,
) -> axum::Router {
    let router = axum::Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/endpointcache", delete(reset_caches))
        .merge(parties::router())
        .merge(participants::router());
    finish(service_kit::jws::with_validation(router, jws), state)
}

/// The admin API application.
pub fn admin_app(state: AppState) -> axum::Router {
    finish(admin::router(), state)
}

/// Connects to both databases: the ALS's own (created when `create_database` is set,
/// migrated when `migrate` is set) and the central ledger's (read only, never migrated here).
pub async fn connect(config: &Config, create_database: bool, migrate: bool) -> Result<Stores> {
    if create_database {
        store::create_database_if_missing(&config.database.url, &config.database.name)
            .await
            .map_err(|e| {
                Error::Internal(format!("creating database {}: {e}", config.database.name))
            })?;
    }
    let url = config.database_url()?;
    let als = store::connect(
        &url,
        config.database.pool_size_max,
        config.database.acquire_timeout_ms,
    )
    .await
    .map_err(|e| Error::Internal(format!("connecting to {}: {e}", config.database.name)))?;
    if migrate {
        registry::MIGRATIONS
            .run(&als)
            .await
            .map_err(|e| Error::Internal(format!("migrating: {e}")))?;
    }
    let central_ledger = store::connect(
        &config.directory.central_ledger_database_url,
        config.directory.pool_size_max,
        config.directory.acquire_timeout_ms,
    )
    .await
    .map_err(|e| Error::Internal(format!("connecting to the central ledger database: {e}")))?;
    Ok(Stores {
        als,
        central_ledger,
    })
}

/// Serves the FSPIOP API on `api_listener` and the admin API on `admin_listener` until
/// `shutdown` resolves; then stops accepting requests and waits (bounded by
/// `limits.shutdown_drain_timeout_ms`) for the asynchronous work in flight.
pub async fn run(
    config: Config,
    stores: Stores,
    api_listener: TcpListener,
    admin_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    run_with_local_oracle(config, stores, api_listener, admin_listener, None, shutdown).await
}

/// [`run`], with calls to an oracle served by this same process going to its router directly
/// ([`oracle::LocalOracle`]).
pub async fn run_with_local_oracle(
    config: Config,
    stores: Stores,
    api_listener: TcpListener,
    admin_listener: TcpListener,
    local_oracle: Option<oracle::LocalOracle>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let drain_timeout_ms = config.limits.shutdown_drain_timeout_ms;
    let tls = config
        .tls
        .server()
        .map_err(|e| Error::Config(format!("TLS: {e}")))?;
    let jws_validation = service_kit::jws::validation(&config.jws)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    let jws_signer = service_kit::jws::signing_key(&config.jws)
        .await
        .map_err(|e| Error::Internal(e.to_string()))?;
    let mut state = AppState::new(config, stores)?;
    state.forwarder = state.forwarder.clone().with_signer(jws_signer);
    if let Some(local) = local_oracle {
        state.oracles = state.oracles.clone().with_local(local);
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let api = service_kit::tls::serve(
        api_listener,
        api_app_with(state.clone(), jws_validation),
        tls.clone(),
        stopped(stop_rx.clone()),
    );
    let admin = service_kit::tls::serve(
        admin_listener,
        admin_app(state.clone()),
        tls,
        stopped(stop_rx),
    );
    let (api, admin) = tokio::join!(api, admin);
    state.tasks.drain(drain_timeout_ms).await;
    api.map_err(|e| Error::Internal(format!("API server: {e}")))?;
    admin.map_err(|e| Error::Internal(format!("admin server: {e}")))?;
    Ok(())
}
