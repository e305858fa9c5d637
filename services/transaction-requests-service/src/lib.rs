//! Transaction Requests Service: a payee's DFSP (a merchant's, an agent's, an ATM's) asks a
//! payer's DFSP to pay (`POST /transactionRequests`), the payer's DFSP answers
//! (`PUT /transactionRequests/{ID}`: RECEIVED, PENDING, ACCEPTED, REJECTED) and, when the payer
//! approves with an OTP or a QR code, the two exchange `GET` / `PUT /authorizations/{ID}`. The
//! quote and the transfer that follow go through the quoting service and the ML API Adapter as
//! any other; no money moves here.
//!
//! The switch validates, records and relays:
//! - [`api`]: routes and the synchronous checks (headers, path id, query, body schema, amount);
//!   202/200 once a message is accepted;
//! - [`relay`]: the asynchronous half: the destination, the record, forwarding, hub error
//!   callbacks;
//! - [`rules`]: who may send which message, resends, expiry (pure);
//! - [`record`]: the `transactionRequest` table;
//! - [`config`], [`metrics`], [`error`].
//!
//! Participants and endpoints come from the central ledger's database through
//! [`fspiop_edge::Directory`]; outbound messages go through [`fspiop_edge::Forwarder`].
//! Entry point: [`run`], which takes the configuration, the database pools, a bound listener
//! and a shutdown future, so tests drive it on port 0.

pub mod api;
pub mod config;
pub mod error;
pub mod metrics;
pub mod record;
pub mod relay;
pub mod rules;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fspiop::headers::ProtocolVersions;
use fspiop_edge::{Directory, Forwarder, ForwarderConfig};
use sqlx::MySqlPool;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use config::Config;
pub use error::{Error, Result};
pub use metrics::Metrics;

/// The transaction requests database schema: `migrations/transaction_requests`.
pub static MIGRATIONS: sqlx::migrate::Migrator =
    sqlx::migrate!("../../migrations/transaction_requests");

/// The database pools the service uses.
#[derive(Debug, Clone)]
pub struct Stores {
    /// The central ledger database (read only: participants and endpoints).
    pub central_ledger: MySqlPool,
    /// The transaction requests database.
    pub transaction_requests: MySqlPool,
}

/// Connects to both databases; the transaction requests database is created when
/// `create_database` is set and migrated when `migrate` is set.
pub async fn connect(config: &Config, create_database: bool, migrate: bool) -> Result<Stores> {
    let ledger = &config.central_ledger_database;
    let central_ledger = store::connect(
        &config.central_ledger_database_url()?,
        ledger.pool_size_max,
        ledger.acquire_timeout_ms,
    )
    .await?;
    let db = &config.transaction_requests_database;
    if create_database {
        store::create_database_if_missing(&db.url, &db.name).await?;
    }
    let transaction_requests = store::connect(
        &config.transaction_requests_database_url()?,
        db.pool_size_max,
        db.acquire_timeout_ms,
    )
    .await?;
    if migrate {
        MIGRATIONS
            .run(&transaction_requests)
            .await
            .map_err(|error| Error::Store(store::Error::Migrate(error)))?;
    }
    Ok(Stores {
        central_ledger,
        transaction_requests,
    })
}

/// What every request handler and task shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    versions: ProtocolVersions,
    directory: Directory,
    forwarder: Forwarder,
    /// The transaction requests database.
    pool: MySqlPool,
    permits: Arc<Semaphore>,
    metrics: Metrics,
    started: SystemTime,
    stores: Stores,
}

fn app(state: AppState, jws: Option<Arc<service_kit::jws::Validation>>) -> axum::Router {
    let metrics = state.inner.metrics.http.clone();
    let service = state.inner.config.telemetry.service_name.clone();
    let timeout_ms = state.inner.config.server.request_timeout_ms;
    let router = service_kit::jws::with_validation(api::router(state), jws);
    service_kit::edge::with_edges(router, metrics, timeout_ms, &service)
}

/// Serves the service on `listener` until `shutdown` resolves; then stops taking requests and
/// lets the messages in progress finish (bounded by three outbound timeouts).
pub async fn run(
    config: Config,
    stores: Stores,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    config.validate()?;
    let versions = config
        .protocol_versions()
        .map_err(|problem| config::InvalidConfig {
            problems: vec![problem],
        })?;
    let concurrency = config.server.forward_concurrency_max;
    let metrics = Metrics::new();
    let jws_validation = service_kit::jws::validation(&config.jws).await?;
    let jws_signer = service_kit::jws::signing_key(&config.jws).await?;
    let tls_problem = |e: service_kit::tls::TlsError| config::InvalidConfig {
        problems: vec![format!("TLS: {e}")],
    };
    let tls = config.tls.server().map_err(tls_problem)?;
    let forwarder = Forwarder::new(
        ForwarderConfig::new(
            config.http_client.request_timeout_ms,
            config.http_client.idle_connections_per_host_max,
            &config.hub.name,
            versions.clone(),
        )
        .with_tls(config.tls.client().map_err(tls_problem)?),
    )?
    .with_signer(jws_signer)
    .with_refusals(fspiop_edge::refusals_counter(&metrics.registry));
    let directory = Directory::new(
        stores.central_ledger.clone(),
        config.central_ledger_database.cache_ttl_ms,
    );
    let drain_timeout =
        Duration::from_millis(config.http_client.request_timeout_ms.saturating_mul(3));
    let permits = Arc::new(Semaphore::new(concurrency));
    tracing::info!("transaction requests service starting");
    let state = AppState {
        inner: Arc::new(Inner {
            versions,
            directory,
            forwarder,
            pool: stores.transaction_requests.clone(),
            permits: permits.clone(),
            metrics,
            started: SystemTime::now(),
            stores,
            config,
        }),
    };
    let served =
        service_kit::tls::serve(listener, app(state.clone(), jws_validation), tls, shutdown).await;
    // Every task holds a permit: having them all means every task has finished.
    let all = u32::try_from(concurrency).unwrap_or(u32::MAX);
    if tokio::time::timeout(drain_timeout, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("transaction request messages still in progress at shutdown");
    }
    served.map_err(Error::Serve)
}
