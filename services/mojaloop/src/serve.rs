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
    runtime()?.block_on(async move {
        central_ledger::connect_store(&config, true, true).await?;
        println!(
            "central_ledger: migrated {} on {}",
            config.database.name, config.database.url
        );
        quoting_service::connect(&quoting, true, true).await?;
        println!(
            "quotes: migrated {} on {}",
            quoting.quotes_database.name, quoting.quotes_database.url
        );
        transaction_requests_service::connect(&requests, true, true).await?;
        let db = &requests.transaction_requests_database;
        println!("transaction_requests: migrated {} on {}", db.name, db.url);
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Verdict::Positive)
}
