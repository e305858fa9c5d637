//! `mojaloop up`: the whole switch in one process — central ledger (admin API and every
//! handler), ML API Adapter with its notification handler, Quoting Service, Account Lookup
//! Service, the MSISDN oracle and the Transaction Requests Service (4006: the oracle has
//! Mojaloop's 4003) — each on its usual port, against one MySQL server (databases
//! created and migrated when missing). Messages go through the embedded bus (`bus::memory`:
//! Kafka's topics, keyed partitions and consumer groups inside this process) unless `--kafka`
//! names a broker. Ctrl-C stops every service cleanly.

use anyhow::{Context, Result};
use clap::Args;

use crate::tools::Verdict;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// MySQL server URL, without a database. When nothing answers there and it is this
    /// machine's root without a password (the default), a private MariaDB is started if one is
    /// installed: data under MOJALOOP_DATA_DIR (default ~/.local/share/mojaloop), kept between
    /// runs, stopped with the switch; MariaDB's programs looked for on PATH and in /usr/sbin, or
    /// in MOJALOOP_MARIADB_BIN_DIR.
    #[arg(long, default_value = "mysql://root@127.0.0.1:3306")]
    database_url: String,
    /// Run over these Kafka broker(s), `HOST:PORT[,HOST:PORT]`, instead of the embedded bus.
    #[arg(long, env = "MOJALOOP_KAFKA_BROKERS")]
    kafka: Option<String>,
    /// Address every service listens on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Added to every port below, to run a second switch beside the first (tests do).
    #[arg(long, default_value_t = 0)]
    port_offset: u16,
    /// Port of the MSISDN oracle (Mojaloop's oracle also defaults to 3000, the ML API Adapter's);
    /// default 4003 + offset.
    #[arg(long)]
    oracle_port: Option<u16>,
    /// Simulated DFSPs to run and onboard: perffsp-1 … perffsp-N, the first half payers funded
    /// with 1,000,000 USD, the second half payees; DFSP i owns MSISDNs 19012345{i-1}00 … 99.
    #[arg(long, default_value_t = 0)]
    dfsps: usize,
    /// Port of the simulated DFSPs' server; default 4100 + offset.
    #[arg(long)]
    sim_port: Option<u16>,
    /// Once the simulated DFSPs are onboarded, send one payment of 100 USD from perffsp-1 to
    /// MSISDN 19012345401 of perffsp-5 (with fewer than 5 DFSPs, to the last one): lookup, quote,
    /// transfer; its outcome and timings are logged.
    #[arg(long, requires = "dfsps")]
    test_transaction: bool,
    /// JWS on everywhere: the ML API Adapter, the Quoting Service and the ALS validate
    /// FSPIOP-Signature (3105 when wrong) and sign what the hub originates, and the simulated
    /// DFSPs sign their requests and validate what they receive. Keys from DIR as `mojaloop jws
    /// keygen --out DIR` writes them (made there when missing: the hub's RSA, RS256, which
    /// Mojaloop's SDK verifies; a key already there is never replaced).
    #[arg(long, env = "MOJALOOP_JWS_DIR")]
    jws_dir: Option<std::path::PathBuf>,
    /// Mutual TLS on everywhere: every listener speaks HTTPS and requires a client certificate
    /// of the scheme, FSPIOP-Source must match it, callbacks present the hub's certificate, and
    /// the simulated DFSPs serve HTTPS and present their own. Certificates from DIR as `mojaloop
    /// certs --out DIR` writes them (made there when DIR has no ca.pem).
    #[arg(long, env = "MOJALOOP_TLS_DIR")]
    tls_dir: Option<std::path::PathBuf>,
    /// Export the switch's spans over OTLP/HTTP to this collector (its base URL, e.g.
    /// `http://127.0.0.1:4318` for Jaeger). The other `[telemetry]` settings come from
    /// `MOJALOOP__TELEMETRY__<KEY>` variables (`MOJALOOP__TELEMETRY__OTLP_ENDPOINT` also sets
    /// this); the whole switch exports as one service, `mojaloop`.
    #[arg(long)]
    otlp_endpoint: Option<String>,
}

/// `mojaloop up`'s one `[telemetry]` section.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UpTelemetry {
    telemetry: service_kit::telemetry::TelemetryConfig,
}

/// The `[telemetry]` settings of `up`: defaults, `MOJALOOP__TELEMETRY__<KEY>`, then
/// `--otlp-endpoint`; every problem named.
fn up_telemetry(otlp_endpoint: Option<&str>) -> Result<service_kit::telemetry::TelemetryConfig> {
    let mut config: UpTelemetry =
        service_kit::config::load(service_kit::telemetry::UP_DEFAULTS_TOML, None, "MOJALOOP")?;
    if let Some(endpoint) = otlp_endpoint {
        config.telemetry.otlp_endpoint = endpoint.to_string();
    }
    let problems = config.telemetry.problems();
    anyhow::ensure!(problems.is_empty(), "{}", problems.join("; "));
    Ok(config.telemetry)
}

/// The security layers `up` turns on.
#[derive(Debug, Clone, Default)]
pub struct Security {
    /// JWS keys (`mojaloop jws keygen` layout): validate and sign everywhere.
    pub jws_dir: Option<std::path::PathBuf>,
    /// Certificates (`mojaloop certs` layout): mutual TLS everywhere.
    pub tls_dir: Option<std::path::PathBuf>,
}

/// Ports of the services, as Mojaloop's deployments use them.
pub struct Ports {
    pub simulator: u16,
    pub ml_api_adapter: u16,
    pub central_ledger: u16,
    pub central_settlement: u16,
    pub quoting_service: u16,
    pub als_api: u16,
    pub als_admin: u16,
    pub oracle: u16,
    /// The transaction requests service: 4006 (Mojaloop's 4003 is the oracle's here).
    pub transaction_requests: u16,
}

pub fn up(args: UpArgs) -> Result<Verdict> {
    if args.dfsps > 0 {
        dfsp_sim::layout::check_count(args.dfsps).map_err(anyhow::Error::msg)?;
    }
    let telemetry = up_telemetry(args.otlp_endpoint.as_deref())?;
    let telemetry = service_kit::telemetry::init_with("info,sqlx=warn,rdkafka=warn", &telemetry)
        .map_err(anyhow::Error::msg)?;
    // Nothing answering at the database URL: a private MariaDB when one is installed (stopped
    // after the services below), or an error that says what to install or pass.
    let mut local_db = crate::localdb::ensure(&args.database_url)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let outcome = runtime.block_on(async move {
        let port = |base: u16| base.saturating_add(args.port_offset);
        let ports = Ports {
            simulator: args.sim_port.unwrap_or(port(4100)),
            ml_api_adapter: port(3000),
            central_ledger: port(3001),
            central_settlement: port(3007),
            quoting_service: port(3002),
            als_api: port(4002),
            als_admin: port(4001),
            oracle: args.oracle_port.unwrap_or(port(4003)),
            transaction_requests: port(4006),
        };
        let security = Security {
            jws_dir: args.jws_dir.clone(),
            tls_dir: args.tls_dir.clone(),
        };
        run_switch(
            &args.database_url,
            args.kafka.as_deref(),
            &args.host,
            &ports,
            (args.dfsps, args.test_transaction),
            &security,
            service_kit::shutdown::shutdown_signal(),
        )
        .await
    });
    // The runtime first (its tasks may still end spans), then what is queued is exported.
    drop(runtime);
    telemetry.shutdown();
    if let Some(db) = local_db.as_mut() {
        db.stop();
    }
    outcome?;
    Ok(Verdict::Positive)
}

async fn bind(host: &str, port: u16) -> Result<tokio::net::TcpListener> {
    let address = format!("{host}:{port}");
    tokio::net::TcpListener::bind(&address)
        .await
        .with_context(|| format!("binding {address}"))
}

/// Runs every service until `shutdown` resolves.
pub async fn run_switch(
    database_url: &str,
    kafka: Option<&str>,
    host: &str,
    ports: &Ports,
    (dfsps, test_transaction): (usize, bool),
    security: &Security,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let mut ledger = central_ledger::Config::load(None)?;
    ledger.database.url = database_url.to_string();
    let ledger_url = ledger.database_url()?;
    let mut api = ml_api_adapter::Config::load(None)?;
    let mut settlement = central_settlement::Config::load(None)?;
    settlement.database.url = database_url.to_string();
    settlement.database.name = ledger.database.name.clone();
    let (ledger_bus, api_bus, settlement_bus) = match kafka {
        Some(brokers) => {
            ledger.kafka.brokers = brokers.to_string();
            api.kafka.brokers = brokers.to_string();
            settlement.kafka.brokers = brokers.to_string();
            (
                bus::Bus::Kafka(ledger.bus()),
                bus::Bus::Kafka(api.bus()),
                bus::Bus::Kafka(settlement.bus()),
            )
        }
        None => {
            let embedded = bus::MemoryBus::new(bus::MemoryBusConfig::default())?;
            (
                bus::Bus::Memory(embedded.clone()),
                bus::Bus::Memory(embedded.clone()),
                bus::Bus::Memory(embedded),
            )
        }
    };
    api.central_ledger_database.url = database_url.to_string();
    api.central_ledger_database.name = ledger.database.name.clone();
    let mut quoting = quoting_service::Config::load(None)?;
    quoting.central_ledger_database.url = database_url.to_string();
    quoting.central_ledger_database.name = ledger.database.name.clone();
    quoting.quotes_database.url = database_url.to_string();
    let mut als = account_lookup_service::Config::load(None)?;
    als.database.url = database_url.to_string();
    als.directory.central_ledger_database_url = ledger_url;
    let mut oracle = msisdn_oracle::Config::load(None)?;
    oracle.database.url = database_url.to_string();
    let mut requests = transaction_requests_service::Config::load(None)?;
    requests.central_ledger_database.url = database_url.to_string();
    requests.central_ledger_database.name = ledger.database.name.clone();
    requests.transaction_requests_database.url = database_url.to_string();
    let sim_jws = match &security.jws_dir {
        Some(dir) => {
            // The hub's pair is RSA: Mojaloop's SDK verifies RS256 only, and the hub signs only
            // what it originates (errors, notifications), so RS256's cost to sign is small.
            crate::tools::keygen(dir, 0, "Hub", &[], fspiop::jws::Algorithm::RS256, false)?;
            // The simulated DFSPs' pairs (kept when there; a DFSP's own public key is never
            // replaced).
            crate::tools::keygen(
                dir,
                dfsps.max(dfsp_sim::layout::DFSPS_DEFAULT),
                "Hub",
                &dfsp_sim::layout::fx_names(),
                fspiop::jws::Algorithm::ES256,
                false,
            )?;
            let jws = service_kit::jws::JwsConfig {
                validate: true,
                validate_put_parties: false,
                keys_directory: dir.display().to_string(),
                keys_reload_interval_ms: 5_000,
                sign: true,
                signing_key_path: dir.join("private").join("Hub.pem").display().to_string(),
            };
            api.jws = jws.clone();
            quoting.jws = jws.clone();
            requests.jws = jws.clone();
            als.jws = jws;
            tracing::info!(keys = %dir.display(), "JWS: requests validated and hub messages signed");
            Some(dfsp_sim::SimJws {
                keys_directory: dir.clone(),
            })
        }
        None => None,
    };
    let tls = match &security.tls_dir {
        Some(dir) => {
            let tls = crate::certs::switch_tls(dir, dfsps, &ledger.hub.name)?;
            for config in [
                &mut ledger.tls,
                &mut api.tls,
                &mut settlement.tls,
                &mut quoting.tls,
                &mut requests.tls,
                &mut als.tls,
                &mut oracle.tls,
            ] {
                *config = tls.services.clone();
            }
            tracing::info!(certificates = %dir.display(), "mutual TLS on every listener");
            Some(tls)
        }
        None => None,
    };
    let (scheme, admin_client) = match &tls {
        Some(tls) => ("https", tls.client.clone()),
        None => ("http", reqwest::Client::new()),
    };
    // The FX layout (an FXP and an EUR payee) runs beside the DFSPs unless the certificates
    // given were written without it.
    let fx = tls.as_ref().is_none_or(|tls| tls.fx);
    let sim_tls = tls.map(|tls| tls.sim);

    let ledger_store = central_ledger::connect_store(&ledger, true, true)
        .await
        .context("central ledger database")?;
    let quoting_stores = quoting_service::connect(&quoting, true, true)
        .await
        .context("quotes database")?;
    let als_stores = account_lookup_service::connect(&als, true, true)
        .await
        .context("account lookup database")?;
    let oracle_store = msisdn_oracle::connect_store(&oracle, true, true)
        .await
        .context("oracle database")?;
    let requests_stores = transaction_requests_service::connect(&requests, true, true)
        .await
        .context("transaction requests database")?;
    let settlement_store = central_settlement::Store::new(ledger_store.pool.clone());

    let listeners = (
        bind(host, ports.central_ledger).await?,
        bind(host, ports.ml_api_adapter).await?,
        bind(host, ports.quoting_service).await?,
        bind(host, ports.als_api).await?,
        bind(host, ports.als_admin).await?,
        bind(host, ports.oracle).await?,
        bind(host, ports.central_settlement).await?,
        bind(host, ports.transaction_requests).await?,
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("stopping every service");
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    tracing::info!(
        central_ledger = ports.central_ledger,
        central_settlement = ports.central_settlement,
        ml_api_adapter = ports.ml_api_adapter,
        quoting_service = ports.quoting_service,
        als = ports.als_api,
        als_admin = ports.als_admin,
        oracle = ports.oracle,
        transaction_requests = ports.transaction_requests,
        bus = ledger_bus.kind(),
        "the switch is starting"
    );
    let local = if host == "0.0.0.0" { "127.0.0.1" } else { host };
    let oracle_url = format!("{scheme}://{local}:{}", ports.oracle);
    let als_admin = format!("{scheme}://{local}:{}", ports.als_admin);
    // The ALS calls this process's oracle through its router, not over loopback HTTP (one
    // socket round trip less per lookup); an oracle registered under any other URL is called
    // over HTTP.
    let oracle = msisdn_oracle::Prepared::new(oracle, oracle_store).context("oracle")?;
    let local_oracle = account_lookup_service::oracle::LocalOracle::new(&oracle_url, oracle.app());
    let urls = (
        format!("{scheme}://{local}:{}", ports.central_ledger),
        format!("{scheme}://{local}:{}", ports.als_api),
        format!("{scheme}://{local}:{}", ports.quoting_service),
        format!("{scheme}://{local}:{}", ports.ml_api_adapter),
        format!("{scheme}://{local}:{}", ports.transaction_requests),
    );
    let sim_listener = if dfsps > 0 {
        Some(bind(host, ports.simulator).await?)
    } else {
        None
    };
    let sim_stop = stopped(stop_rx.clone());
    let sim_jws = sim_jws.clone();
    let register = async move {
        register_oracle(&admin_client, &als_admin, &oracle_url).await;
        if let Some(listener) = sim_listener {
            let security = (sim_jws, sim_tls, admin_client);
            match simulate((dfsps, fx), listener, &urls, &oracle_url, security).await {
                Ok(simulator) => {
                    tracing::info!(
                        "the switch is ready: in another terminal, `mojaloop verify-participants`, \
                         `mojaloop test-transaction --from perffsp-1 --to perffsp-5 --amount 100` \
                         (`--to perffsp-eur` for a payment in EUR through the FXP), \
                         `mojaloop validate`"
                    );
                    if test_transaction {
                        // The first payee of the guide's layout (perffsp-5 of 8), or the last DFSP.
                        let payee_index = if dfsps >= 5 { 5 } else { dfsps };
                        let payee = dfsp_sim::layout::test_msisdn(payee_index);
                        let payer = dfsp_sim::layout::test_msisdn(1);
                        match simulator.pay_from("perffsp-1", &payer, &payee, "100").await {
                            Ok(report) => tracing::info!(
                                transfer_id = %report.transfer_id,
                                payee_fsp = %report.payee_fsp,
                                lookup_ms = report.lookup.as_millis() as u64,
                                quote_ms = report.quote.as_millis() as u64,
                                transfer_ms = report.transfer.as_millis() as u64,
                                "test transaction committed"
                            ),
                            Err(error) => tracing::error!(%error, "test transaction failed"),
                        }
                    }
                    sim_stop.await;
                    drop(simulator);
                }
                Err(error) => {
                    tracing::error!(error = %format!("{error:#}"), "the simulated DFSPs could not be onboarded")
                }
            }
        }
        Ok::<(), anyhow::Error>(())
    };
    let (
        ledger_result,
        api_result,
        quoting_result,
        als_result,
        oracle_result,
        settlement_result,
        requests_result,
        _,
    ) = tokio::join!(
        central_ledger::run_with_bus(
            ledger,
            ledger_bus,
            ledger_store,
            central_ledger::Handlers::all(),
            listeners.0,
            stopped(stop_rx.clone())
        ),
        ml_api_adapter::run_with_bus(api, api_bus, listeners.1, stopped(stop_rx.clone())),
        quoting_service::run(
            quoting,
            quoting_stores,
            listeners.2,
            stopped(stop_rx.clone())
        ),
        account_lookup_service::run_with_local_oracle(
            als,
            als_stores,
            listeners.3,
            listeners.4,
            Some(local_oracle),
            stopped(stop_rx.clone())
        ),
        oracle.serve(listeners.5, stopped(stop_rx.clone())),
        central_settlement::run_with_bus(
            settlement,
            settlement_bus,
            settlement_store,
            listeners.6,
            stopped(stop_rx.clone())
        ),
        transaction_requests_service::run(
            requests,
            requests_stores,
            listeners.7,
            stopped(stop_rx.clone())
        ),
        register,
    );
    ledger_result.context("central ledger")?;
    api_result.context("ML API Adapter")?;
    quoting_result.context("quoting service")?;
    als_result.context("account lookup service")?;
    oracle_result.context("oracle")?;
    settlement_result.context("central settlement")?;
    requests_result.context("transaction requests service")?;
    Ok(())
}

/// Starts `count` simulated DFSPs (and, with `fx`, the FX layout's FXP and EUR payee) and
/// onboards them, once every service answers.
async fn simulate(
    (count, fx): (usize, bool),
    listener: tokio::net::TcpListener,
    (ledger, als, quotes, transfers, transaction_requests): &(
        String,
        String,
        String,
        String,
        String,
    ),
    oracle: &str,
    (jws, tls, client): (
        Option<dfsp_sim::SimJws>,
        Option<dfsp_sim::SimTls>,
        reqwest::Client,
    ),
) -> Result<dfsp_sim::Simulator> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for base in [ledger, als, quotes, transfers] {
        while !client
            .get(format!("{base}/health"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "{base} did not become healthy"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    let mut specs = dfsp_sim::layout::specs(count);
    let mut plans = dfsp_sim::layout::plans(count);
    if fx {
        specs.extend(dfsp_sim::layout::fx_specs());
        plans.extend(dfsp_sim::layout::fx_plans());
    }
    let config = dfsp_sim::SimConfig {
        dfsps: specs,
        switch: dfsp_sim::SwitchUrls {
            als: als.clone(),
            quotes: quotes.clone(),
            transfers: transfers.clone(),
            transaction_requests: transaction_requests.clone(),
        },
        request_timeout_ms: 20_000,
        callback_timeout_ms: 30_000,
        jws,
        tls,
    };
    let simulator = dfsp_sim::Simulator::start(config, listener)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let urls = dfsp_sim::provision::AdminUrls {
        ledger: ledger.clone(),
        oracle: oracle.to_string(),
    };
    dfsp_sim::provision::provision_with(client, &urls, simulator.base_url(), &plans).await?;
    tracing::info!(
        dfsps = count,
        fx,
        simulator = simulator.base_url(),
        "simulated DFSPs onboarded{}",
        if fx {
            " (and the FXP perffsp-fxp, USD → EUR, with the EUR payee perffsp-eur)"
        } else {
            ""
        }
    );
    Ok(simulator)
}

/// Registers the MSISDN oracle with the ALS (logging the outcome), waiting up to 5 s for the
/// ALS admin API to answer.
async fn register_oracle(client: &reqwest::Client, als_admin: &str, oracle_url: &str) {
    match crate::ops::register_oracle(client, als_admin, oracle_url, 50).await {
        Ok(crate::ops::OracleRegistration::Registered) => {
            tracing::info!(%oracle_url, "MSISDN oracle registered with the ALS")
        }
        Ok(crate::ops::OracleRegistration::Present(endpoint)) => {
            tracing::info!(%endpoint, "MSISDN oracle registered with the ALS already")
        }
        Ok(crate::ops::OracleRegistration::Moved { from }) => {
            tracing::info!(%from, to = %oracle_url, "MSISDN oracle moved to the deployment's scheme")
        }
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "the MSISDN oracle is not registered")
        }
    }
}
