//! Quoting Service: the payer DFSP asks the payee DFSP for a quote through the switch
//! (`POST /quotes`), the payee answers with the terms, the ILP packet and the condition
//! (`PUT /quotes/{ID}`) or an error (`PUT /quotes/{ID}/error`), and either side may ask again
//! (`GET /quotes/{ID}`). The switch validates, optionally stores, and relays. FX quotes
//! (`/fxQuotes`) take the same path; bulk quotes (`/bulkQuotes`, up to 1000 quotes from one
//! payer DFSP to one payee DFSP) too, relayed without being stored.
//!
//! - [`api`]: routes and the synchronous checks (headers, path id, body schema, amounts);
//!   202/200 once a request is accepted.
//! - [`process`]: the asynchronous half: participants and currencies, the ILP check,
//!   duplicates, forwarding, hub error callbacks.
//! - [`ilp_check`]: whether a response's ILP packet agrees with it (pure).
//! - [`persistence`]: persistent mode's batched writer and duplicate detection.
//! - [`config`], [`metrics`], [`error`].
//!
//! Participants, accounts and endpoints come from the central ledger's database through
//! [`fspiop_edge::Directory`]; outbound messages go through [`fspiop_edge::Forwarder`].
//!
//! Entry point: [`run`], which takes the configuration, the database pools, a bound listener
//! and a shutdown future, so tests drive it on port 0.

pub mod api;
pub mod config;
pub mod error;
pub mod fx_store;
pub mod ilp_check;
pub mod metrics;
pub mod persistence;
pub mod process;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fspiop::headers::ProtocolVersions;
use fspiop::ilp::IlpVersions;
use fspiop_edge::{Directory, Forwarder, ForwarderConfig};
use sqlx::MySqlPool;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub use config::{Config, Mode};
pub use error::{Error, Result};
pub use metrics::Metrics;
use persistence::Writer;

/// The quotes database schema: `migrations/quotes`.
pub static QUOTES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/quotes");

/// Most requests processed at once that the configuration may ask for.
pub const FORWARD_CONCURRENCY_MAX_LIMIT: usize = 1_000_000;

/// The database pools the service uses.
#[derive(Debug, Clone)]
pub struct Stores {
    /// The central ledger database (read only: participants, accounts, endpoints).
    pub central_ledger: MySqlPool,
    /// The quotes database; `None` in pass-through mode.
    pub quotes: Option<MySqlPool>,
}

/// Connects to the databases the configured mode needs. In persistent mode the quotes
/// database is created when `create_database` is set and migrated when `migrate` is set.
pub async fn connect(config: &Config, create_database: bool, migrate: bool) -> Result<Stores> {
    let ledger = &config.central_ledger_database;
    let central_ledger = store::connect(
        &config.central_ledger_database_url()?,
        ledger.pool_size_max,
        ledger.acquire_timeout_ms,
    )
    .await?;
    let quotes = match config.quotes.mode {
        Mode::PassThrough => None,
        Mode::Persistent => {
            let db = &config.quotes_database;
            if create_database {
                store::create_database_if_missing(&db.url, &db.name).await?;
            }
            let pool = store::connect(
                &config.quotes_database_url()?,
                db.pool_size_max,
                db.acquire_timeout_ms,
            )
            .await?;
            if migrate {
                migrate_quotes(&pool).await?;
            }
            Some(pool)
        }
    };
    Ok(Stores {
        central_ledger,
        quotes,
    })
}

/// Applies every quotes migration not applied yet.
pub async fn migrate_quotes(pool: &MySqlPool) -> Result<()> {
    QUOTES_MIGRATIONS
        .run(pool)
        .await
        .map_err(|error| Error::Store(store::Error::Migrate(error)))
}

/// What every request handler and task shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    versions: ProtocolVersions,
    /// `Some` when ILP packets are checked: the versions accepted.
    ilp_versions: Option<IlpVersions>,
    directory: Directory,
    forwarder: Forwarder,
    /// `Some` in persistent mode.
    writer: Option<Writer>,
    permits: Arc<Semaphore>,
    metrics: Metrics,
    started: SystemTime,
    stores: Stores,
}

/// The HTTP application.
fn app(state: AppState, jws: Option<Arc<service_kit::jws::Validation>>) -> axum::Router {
    let metrics = state.inner.metrics.http.clone();
    let service = state.inner.config.telemetry.service_name.clone();
    let timeout_ms = state.inner.config.server.request_timeout_ms;
    let router = service_kit::jws::with_validation(api::router(state), jws);
    service_kit::edge::with_edges(router, metrics, timeout_ms, &service)
}

/// Serves the Quoting Service on `listener` until `shutdown` resolves; then stops taking
/// requests, lets the requests in progress finish (bounded by three outbound timeouts),
/// writes what is queued and returns.
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
    let concurrency = config.quotes.forward_concurrency_max;
    if concurrency > FORWARD_CONCURRENCY_MAX_LIMIT {
        return Err(config::InvalidConfig {
            problems: vec![format!(
                "quotes.forward_concurrency_max must be at most {FORWARD_CONCURRENCY_MAX_LIMIT}"
            )],
        }
        .into());
    }
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
    let (writer, writer_task) = match (config.quotes.mode, &stores.quotes) {
        (Mode::PassThrough, _) => (None, None),
        (Mode::Persistent, Some(pool)) => {
            let db = &config.quotes_database;
            let (writer, task) = Writer::spawn(
                pool.clone(),
                db.write_queue_max,
                db.write_batch_max,
                metrics.clone(),
            );
            (Some(writer), Some(task))
        }
        (Mode::Persistent, None) => {
            return Err(config::InvalidConfig {
                problems: vec!["persistent mode needs the quotes database".to_string()],
            }
            .into())
        }
    };
    let ilp_versions = config.quotes.ilp_check.then(|| config.ilp_versions());
    let drain_timeout =
        Duration::from_millis(config.http_client.request_timeout_ms.saturating_mul(3));
    let permits = Arc::new(Semaphore::new(concurrency));
    tracing::info!(
        mode = ?config.quotes.mode,
        ilp_check = config.quotes.ilp_check,
        ilp_versions = %config.ilp_versions().names(),
        "quoting service starting"
    );
    let state = AppState {
        inner: Arc::new(Inner {
            config,
            versions,
            ilp_versions,
            directory,
            forwarder,
            writer,
            permits: permits.clone(),
            metrics,
            started: SystemTime::now(),
            stores,
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
        tracing::warn!("quotes still in progress at shutdown");
    }
    drop(state);
    if let Some(task) = writer_task {
        task.stop().await;
    }
    served.map_err(Error::Serve)
}
