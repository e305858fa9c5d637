//! `mojaloop serve <service>` and `mojaloop migrate`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use crate::tools::Verdict;

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// The central ledger's admin API (port 3001) and its handlers.
    CentralLedger(CentralLedgerArgs),
    /// Central settlement (port 3007, base path /v2): settlement windows, settlements, and the
    /// window-close and gross settlement handlers. Uses the central ledger's database.
    CentralSettlement(CentralSettlementArgs),
    /// The ML API Adapter (port 3000): the transfers API and its notification handler.
    MlApiAdapter(MlApiAdapterArgs),
    /// The Quoting Service (port 3002).
    QuotingService(QuotingServiceArgs),
    /// The Account Lookup Service: FSPIOP API (port 4002) and admin API (port 4001).
    AccountLookupService(AccountLookupArgs),
    /// The MSISDN oracle (Mojaloop's oracle API).
    Oracle(OracleArgs),
    /// The Transaction Requests Service (port 4003): request to pay (`/transactionRequests`)
    /// and its authorizations (`/authorizations`).
    TransactionRequestsService(TransactionRequestsArgs),
}

#[derive(Debug, Args)]
pub struct TransactionRequestsArgs {
    /// A TOML file over the built-in defaults; environment variables
    /// TRANSACTION_REQUESTS_SERVICE__<SECTION>__<KEY> override both.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Create the transaction requests database if missing and apply its migrations.
    #[arg(long)]
    migrate: bool,
}

#[derive(Debug, Args)]
pub struct AccountLookupArgs {
    /// A TOML file over the built-in defaults; environment variables ALS__<SECTION>__<KEY>
    /// override both.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Create the ALS database if missing and apply its migrations before starting.
    #[arg(long)]
    migrate: bool,
}

#[derive(Debug, Args)]
pub struct OracleArgs {
    /// A TOML file over the built-in defaults; environment variables ORACLE__<SECTION>__<KEY>
    /// override both.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Create the oracle database if missing and apply its migrations before starting.
    #[arg(long)]
    migrate: bool,
}

#[derive(Debug, Args)]
pub struct MlApiAdapterArgs {
    /// A TOML file over the built-in defaults; environment variables
    /// ML_API_ADAPTER__<SECTION>__<KEY> override both.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Serve the API only, without the notification handler.
    #[arg(long)]
    no_notification: bool,
}

#[derive(Debug, Args)]
pub struct QuotingServiceArgs {
    /// A TOML file over the built-in defaults; environment variables
    /// QUOTING_SERVICE__<SECTION>__<KEY> override both.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Persistent mode: create the quotes database if missing and apply its migrations.
    #[arg(long)]
    migrate: bool,
}

#[derive(Debug, Args)]
pub struct CentralLedgerArgs {
    /// A TOML file over the built-in defaults; environment variables
    /// CENTRAL_LEDGER__<SECTION>__<KEY> override both.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Handlers to run in this process, comma separated: admin, prepare, position, fulfil, get,
    /// timeout (position is part of prepare and fulfil here), or `none` for the API alone.
    #[arg(long, default_value = "admin,prepare,position,fulfil,get,timeout")]
    handlers: String,
    /// Create the database if missing and apply migrations before starting.
    #[arg(long)]
    migrate: bool,
}

#[derive(Debug, Args)]
pub struct CentralSettlementArgs {
    /// A TOML file over the built-in defaults; environment variables
    /// CENTRAL_SETTLEMENT__<SECTION>__<KEY> override both.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Create the central ledger's database if missing and apply its migrations first.
    #[arg(long)]
    migrate: bool,
    /// Do not run the immediate gross settlement handler in this process.
    #[arg(long)]
    no_gross: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// A central-ledger TOML config file to take the database settings from.
    #[arg(long)]
    config: Option<PathBuf>,
    /// MySQL server URL, without the database (overrides the config). The quoting service's
    /// `quotes` and the transaction requests service's `transaction_requests` databases are
    /// created and migrated on the same server.
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct KafkaTopicsArgs {
    /// Kafka bootstrap servers (`host:port`, comma-separated).
    #[arg(long, env = "KAFKA_BROKERS", default_value = "127.0.0.1:9092")]
    brokers: String,
    /// Partitions for each topic created (a handler scales to as many consumers).
    #[arg(long, env = "KAFKA_TOPIC_PARTITIONS", default_value_t = 3)]
    partitions: i32,
    /// Replication factor of the topics created (`-1`: the broker's default).
    #[arg(long, env = "KAFKA_TOPIC_REPLICATION_FACTOR", default_value_t = 1)]
    replication_factor: i32,
    /// Prefix of every topic name (the services' `kafka.topic_prefix`).
    #[arg(long, env = "KAFKA_TOPIC_PREFIX", default_value = "")]
    topic_prefix: String,
    /// Longest wait for the broker, in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    timeout_ms: u64,
}

/// `mojaloop kafka-topics`: every topic of [`bus::TOPICS_ALL`], created if missing; a topic
/// that exists keeps its partitions (Kafka never takes partitions away), and one with fewer
/// than asked is named, and the command fails, so a scaled handler is never left idle unseen.
pub fn kafka_topics(args: KafkaTopicsArgs) -> Result<Verdict> {
    anyhow::ensure!(
        args.partitions >= 1,
        "--partitions must be at least 1, not {}",
        args.partitions
    );
    let mut config = bus::BusConfig::new(args.brokers.clone(), "mojaloop-kafka-topics");
    config.topic_replication_factor = args.replication_factor;
    let names: Vec<String> = bus::TOPICS_ALL
        .iter()
        .map(|topic| format!("{}{topic}", args.topic_prefix))
        .collect();
    runtime()?.block_on(async move {
        let topics: Vec<(&str, i32)> = names.iter().map(|n| (n.as_str(), args.partitions)).collect();
        bus::ensure_topics(&config, &topics, args.timeout_ms)
            .await
            .with_context(|| format!("creating the topics on {}", args.brokers))?;
        let wanted: Vec<&str> = names.iter().map(String::as_str).collect();
        let counts = bus::partition_counts(&config, &wanted, args.timeout_ms)
            .await
            .with_context(|| format!("reading the topics back from {}", args.brokers))?;
        let mut short = 0;
        for (name, count) in counts {
            let mark = if count >= usize::try_from(args.partitions).unwrap_or(usize::MAX) {
                "✅"
            } else {
                short += 1;
                "❌"
            };
            println!("{mark} {name}: {count} partitions");
        }
        if short == 0 {
            println!("{} topics with at least {} partitions on {}", names.len(), args.partitions, args.brokers);
            Ok(Verdict::Positive)
        } else {
            println!("{short} topic(s) have fewer than {} partitions (created earlier with fewer; add partitions with the broker's tools)", args.partitions);
            Ok(Verdict::Negative)
        }
    })
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Logging and, when the service's `[telemetry] otlp_endpoint` is set, span export.
fn start_telemetry(
    config: &service_kit::telemetry::TelemetryConfig,
) -> Result<service_kit::telemetry::Telemetry> {
    service_kit::telemetry::init_with("info,sqlx=warn", config).map_err(anyhow::Error::msg)
}

pub fn serve(service: ServiceCommand) -> Result<Verdict> {
    match service {
        ServiceCommand::CentralLedger(args) => {
            let config = central_ledger::Config::load(args.config.as_deref())?;
            let handlers =
                central_ledger::Handlers::parse(&args.handlers).map_err(anyhow::Error::msg)?;
            let telemetry = start_telemetry(&config.telemetry)?;
            runtime()?.block_on(async move {
                let store =
                    central_ledger::connect_store(&config, args.migrate, args.migrate).await?;
                let address = format!("{}:{}", config.server.host, config.server.port);
                let listener = tokio::net::TcpListener::bind(&address)
                    .await
                    .with_context(|| format!("binding {address}"))?;
                tracing::info!(%address, ?handlers, "central-ledger listening");
                central_ledger::run(
                    config,
                    store,
                    handlers,
                    listener,
                    service_kit::shutdown::shutdown_signal(),
                )
                .await?;
                Ok::<_, anyhow::Error>(())
            })?;
            telemetry.shutdown();
            Ok(Verdict::Positive)
        }
        ServiceCommand::CentralSettlement(args) => {
            let mut config = central_settlement::Config::load(args.config.as_deref())?;
            if args.no_gross {
                config.gross.enabled = false;
            }
            let telemetry = start_telemetry(&config.telemetry)?;
            runtime()?.block_on(async move {
                let store = central_settlement::connect_store(&config, args.migrate).await?;
                let address = format!("{}:{}", config.server.host, config.server.port);
                let listener = tokio::net::TcpListener::bind(&address)
                    .await
                    .with_context(|| format!("binding {address}"))?;
                tracing::info!(%address, gross = config.gross.enabled, "central-settlement listening");
                central_settlement::run(
                    config,
                    store,
                    listener,
                    service_kit::shutdown::shutdown_signal(),
                )
                .await?;
                Ok::<_, anyhow::Error>(())
            })?;
            telemetry.shutdown();
            Ok(Verdict::Positive)
        }
        ServiceCommand::MlApiAdapter(args) => {
            let mut config = ml_api_adapter::Config::load(args.config.as_deref())?;
            if args.no_notification {
                config.notification.enabled = false;
            }
            let telemetry = start_telemetry(&config.telemetry)?;
            runtime()?.block_on(async move {
                let address = format!("{}:{}", config.server.host, config.server.port);
                let listener = tokio::net::TcpListener::bind(&address).await.with_context(|| format!("binding {address}"))?;
                tracing::info!(%address, notification = config.notification.enabled, "ml-api-adapter listening");
                ml_api_adapter::run(config, listener, service_kit::shutdown::shutdown_signal()).await?;
                Ok::<_, anyhow::Error>(())
            })?;
            telemetry.shutdown();
            Ok(Verdict::Positive)
        }
        ServiceCommand::QuotingService(args) => {
            let config = quoting_service::Config::load(args.config.as_deref())?;
            let telemetry = start_telemetry(&config.telemetry)?;
            runtime()?.block_on(async move {
                let stores = quoting_service::connect(&config, args.migrate, args.migrate).await?;
                let address = format!("{}:{}", config.server.host, config.server.port);
                let listener = tokio::net::TcpListener::bind(&address)
                    .await
                    .with_context(|| format!("binding {address}"))?;
                tracing::info!(%address, mode = ?config.quotes.mode, "quoting-service listening");
                quoting_service::run(
                    config,
                    stores,
                    listener,
                    service_kit::shutdown::shutdown_signal(),
                )
                .await?;
                Ok::<_, anyhow::Error>(())
            })?;
            telemetry.shutdown();
            Ok(Verdict::Positive)
        }
        ServiceCommand::TransactionRequestsService(args) => {
            let config = transaction_requests_service::Config::load(args.config.as_deref())?;
            let telemetry = start_telemetry(&config.telemetry)?;
            runtime()?.block_on(async move {
                let stores =
                    transaction_requests_service::connect(&config, args.migrate, args.migrate)
                        .await?;
                let address = format!("{}:{}", config.server.host, config.server.port);
                let listener = tokio::net::TcpListener::bind(&address)
                    .await
                    .with_context(|| format!("binding {address}"))?;
                tracing::info!(%address, "transaction-requests-service listening");
                transaction_requests_service::run(
                    config,
                    stores,
                    listener,
                    service_kit::shutdown::shutdown_signal(),
                )
                .await?;
                Ok::<_, anyhow::Error>(())
            })?;
            telemetry.shutdown();
            Ok(Verdict::Positive)
        }
        ServiceCommand::AccountLookupService(args) => {
            let config = account_lookup_service::Config::load(args.config.as_deref())?;
            let telemetry = start_telemetry(&config.telemetry)?;
            runtime()?.block_on(async move {
                let stores =
                    account_lookup_service::connect(&config, args.migrate, args.migrate).await?;
                let api_address = format!("{}:{}", config.server.host, config.server.port);
                let admin_address = format!("{}:{}", config.server.host, config.server.admin_port);
                let api = tokio::net::TcpListener::bind(&api_address)
                    .await
                    .with_context(|| format!("binding {api_address}"))?;
                let admin = tokio::net::TcpListener::bind(&admin_address)
                    .await
                    .with_context(|| format!("binding {admin_address}"))?;
                tracing::info!(%api_address, %admin_address, "account-lookup-service listening");
                account_lookup_service::run(
                    config,
                    stores,
                    api,
                    admin,
                    service_kit::shutdown::shutdown_signal(),
                )
                .await?;
                Ok::<_, anyhow::Error>(())
            })?;
            telemetry.shutdown();
            Ok(Verdict::Positive)
        }
        ServiceCommand::Oracle(args) => {
            let config = msisdn_oracle::Config::load(args.config.as_deref())?;
            let telemetry = start_telemetry(&config.telemetry)?;
            runtime()?.block_on(async move {
                let store =
                    msisdn_oracle::connect_store(&config, args.migrate, args.migrate).await?;
                let address = format!("{}:{}", config.server.host, config.server.port);
                let listener = tokio::net::TcpListener::bind(&address)
                    .await
                    .with_context(|| format!("binding {address}"))?;
                tracing::info!(%address, "msisdn oracle listening");
                msisdn_oracle::run(
                    config,
                    store,
                    listener,
                    service_kit::shutdown::shutdown_signal(),
                )
                .await?;
                Ok::<_, anyhow::Error>(())
            })?;
            telemetry.shutdown();
            Ok(Verdict::Positive)
        }
    }
}

/// Longest wait for a database pool to close at the end of `mojaloop migrate`.
const CLOSE_TIMEOUT_MS: u64 = 5_000;

pub fn migrate(args: MigrateArgs) -> Result<Verdict> {
    let mut config = central_ledger::Config::load(args.config.as_deref())?;
    if let Some(url) = args.database_url {
        config.database.url = url;
    }
    // The quoting service's own settings (QUOTING_SERVICE__* variables), on the same server.
    let mut quoting = quoting_service::Config::load(None)?;
    quoting.central_ledger_database.url = config.database.url.clone();
    quoting.central_ledger_database.name = config.database.name.clone();
    quoting.quotes_database.url = config.database.url.clone();
    let mut requests = transaction_requests_service::Config::load(None)?;
    requests.central_ledger_database.url = config.database.url.clone();
    requests.central_ledger_database.name = config.database.name.clone();
    requests.transaction_requests_database.url = config.database.url.clone();
    // Every pool is closed before the process ends: a connection dropped without a goodbye
    // is an "Aborted connection" warning in the server's log.
    runtime()?.block_on(async move {
        let store = central_ledger::connect_store(&config, true, true).await?;
        ::store::close(&store.pool, CLOSE_TIMEOUT_MS).await;
        println!(
            "central_ledger: migrated {} on {}",
            config.database.name, config.database.url
        );
        let stores = quoting_service::connect(&quoting, true, true).await?;
        ::store::close(&stores.central_ledger, CLOSE_TIMEOUT_MS).await;
        if let Some(quotes) = &stores.quotes {
            ::store::close(quotes, CLOSE_TIMEOUT_MS).await;
        }
        println!(
            "quotes: migrated {} on {}",
            quoting.quotes_database.name, quoting.quotes_database.url
        );
        let stores = transaction_requests_service::connect(&requests, true, true).await?;
        ::store::close(&stores.central_ledger, CLOSE_TIMEOUT_MS).await;
        ::store::close(&stores.transaction_requests, CLOSE_TIMEOUT_MS).await;
        let db = &requests.transaction_requests_database;
        println!("transaction_requests: migrated {} on {}", db.name, db.url);
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Verdict::Positive)
}
