//! Operator subcommands for a running switch, after the deployment guide's scripts:
//! `sim`, `provision`, `verify-participants`, `test-transaction`, `validate` and
//! `debug-participant`. They talk to the switch through its admin and FSPIOP APIs (and, for
//! the settlement window and the last transfers, the central ledger's database), and to the
//! simulated DFSPs through the simulator's payer API. Output is for people; the exit status
//! is non-zero when something is wrong.

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use dfsp_sim::layout;
use dfsp_sim::{PaymentError, PaymentReport, Phase, RemoteSimulator};
use serde_json::Value;

use crate::tools::Verdict;

/// Where the switch's services are (defaults: `mojaloop up` on this machine).
#[derive(Debug, Clone, Args)]
pub struct Switch {
    /// Central ledger admin API.
    #[arg(
        long,
        env = "MOJALOOP_CENTRAL_LEDGER_URL",
        default_value = "http://127.0.0.1:3001"
    )]
    central_ledger_url: String,
    /// Central settlement API.
    #[arg(
        long,
        env = "MOJALOOP_CENTRAL_SETTLEMENT_URL",
        default_value = "http://127.0.0.1:3007"
    )]
    central_settlement_url: String,
    /// MSISDN oracle.
    #[arg(
        long,
        env = "MOJALOOP_ORACLE_URL",
        default_value = "http://127.0.0.1:4003"
    )]
    oracle_url: String,
    /// ML API Adapter (FSPIOP /transfers).
    #[arg(
        long,
        env = "MOJALOOP_ML_API_ADAPTER_URL",
        default_value = "http://127.0.0.1:3000"
    )]
    ml_api_adapter_url: String,
    /// Quoting Service (FSPIOP /quotes).
    #[arg(
        long,
        env = "MOJALOOP_QUOTING_SERVICE_URL",
        default_value = "http://127.0.0.1:3002"
    )]
    quoting_service_url: String,
    /// Account Lookup Service (FSPIOP /parties).
    #[arg(
        long,
        env = "MOJALOOP_ALS_URL",
        default_value = "http://127.0.0.1:4002"
    )]
    als_url: String,
    /// Account Lookup Service admin API.
    #[arg(
        long,
        env = "MOJALOOP_ALS_ADMIN_URL",
        default_value = "http://127.0.0.1:4001"
    )]
    als_admin_url: String,
    /// Longest wait for any one request, in milliseconds.
    #[arg(long, env = "MOJALOOP_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    request_timeout_ms: u64,
    /// Mutual TLS: the scheme's certificates as `mojaloop certs --out DIR` writes them. Every
    /// call then trusts only the scheme CA and presents the hub's client certificate, and
    /// `http://` URLs are called as `https://` (the listeners speak HTTPS only).
    #[arg(long, env = "MOJALOOP_TLS_DIR")]
    tls_dir: Option<std::path::PathBuf>,
}

impl Switch {
    /// The scheme's files, under `--tls-dir`.
    fn tls(&self) -> Option<service_kit::pki::Layout> {
        self.tls_dir.as_ref().map(service_kit::pki::Layout::new)
    }

    /// Under `--tls-dir`, `url` as `https://`.
    fn url(&self, url: &str) -> String {
        match (&self.tls_dir, url.strip_prefix("http://")) {
            (Some(_), Some(rest)) => format!("https://{rest}"),
            _ => url.to_string(),
        }
    }

    /// These settings with every URL as [`Switch::url`] gives it.
    fn secured(&self) -> Switch {
        let mut switch = self.clone();
        for url in [
            &mut switch.central_ledger_url,
            &mut switch.central_settlement_url,
            &mut switch.oracle_url,
            &mut switch.ml_api_adapter_url,
            &mut switch.quoting_service_url,
            &mut switch.als_url,
            &mut switch.als_admin_url,
        ] {
            *url = self.url(url);
        }
        switch
    }

    /// A client with `timeout_ms` on every call: under `--tls-dir` it presents the hub's
    /// client certificate.
    fn client(&self, timeout_ms: u64) -> Result<reqwest::Client> {
        let tls = match self.tls() {
            Some(layout) => layout.hub_tls(crate::certs::HUB),
            None => service_kit::tls::TlsConfig::default(),
        };
        crate::certs::https_client(&tls, timeout_ms)
    }

    fn http(&self) -> Result<Http> {
        Ok(Http {
            client: self.client(self.request_timeout_ms)?,
        })
    }

    /// The simulators' payer API at `sim` (as [`Switch::url`] gives it).
    fn simulator(&self, sim: &Sim) -> Result<RemoteSimulator> {
        let client = self.client(self.request_timeout_ms * 4)?;
        Ok(RemoteSimulator::with_client(
            &self.url(&sim.sim_url),
            client,
        ))
    }
}

/// The DFSP simulators' payer API (`mojaloop sim`, or `mojaloop up --dfsps`).
#[derive(Debug, Clone, Args)]
pub struct Sim {
    /// Base URL of the simulated DFSPs.
    #[arg(
        long,
        env = "MOJALOOP_SIM_URL",
        default_value = "http://127.0.0.1:4100"
    )]
    sim_url: String,
}

/// How many DFSPs the layout has.
#[derive(Debug, Clone, Copy, Args)]
pub struct Layout {
    /// DFSPs in the layout: perffsp-1 … perffsp-N, the first half payers.
    #[arg(long, env = "MOJALOOP_DFSPS", default_value_t = layout::DFSPS_DEFAULT)]
    dfsps: usize,
}

/// The central ledger's database, for what its APIs do not show.
#[derive(Debug, Clone, Args)]
pub struct Database {
    /// MySQL server URL, without a database.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "mysql://root@127.0.0.1:3306/"
    )]
    database_url: String,
    /// The central ledger's database.
    #[arg(
        long,
        env = "MOJALOOP_CENTRAL_LEDGER_DATABASE",
        default_value = "central_ledger"
    )]
    central_ledger_database: String,
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn heading(title: &str) {
    println!("{title}");
    println!("{}", "=".repeat(title.chars().count()));
}

fn dfsp_index(name: &str, count: usize) -> Result<usize> {
    layout::index_of(name)
        .filter(|index| *index <= count)
        .with_context(|| format!("{name} is not one of perffsp-1 … perffsp-{count}"))
}

/// A JSON client with a timeout on every call.
struct Http {
    client: reqwest::Client,
}

impl Http {
    fn new(timeout_ms: u64) -> Result<Http> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(timeout_ms))
            .build()?;
        Ok(Http { client })
    }

    /// GET `url`: the status and the body as JSON (`Null` when it is not).
    async fn get(&self, url: &str) -> Result<(u16, Value)> {
        let response = self
            .client
            .get(url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// GET `url` and insist on 200.
    async fn get_ok(&self, url: &str) -> Result<Value> {
        let (status, body) = self.get(url).await?;
        anyhow::ensure!(status == 200, "GET {url}: {status} {body}");
        Ok(body)
    }
}

// ---- sim -----------------------------------------------------------------------------------

#[derive(Debug, Args)]
pub struct SimArgs {
    #[command(flatten)]
    layout: Layout,
    /// Address to listen on.
    #[arg(long, env = "MOJALOOP_SIM_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on; DFSP perffsp-N is served under `/perffsp-N`.
    #[arg(long, env = "MOJALOOP_SIM_PORT", default_value_t = 4100)]
    port: u16,
    /// Also provision the DFSPs on the switch, with callbacks to `--callback-url`.
    #[arg(long)]
    provision: bool,
    /// The simulator's URL as the switch reaches it (default: from --host and --port).
    #[arg(long, env = "MOJALOOP_SIM_CALLBACK_URL")]
    callback_url: Option<String>,
    /// JWS: sign every request with the DFSP's key and refuse (3105) received requests whose
    /// signature does not verify. Keys as `mojaloop jws keygen --out DIR` writes them.
    #[arg(long, env = "MOJALOOP_JWS_DIR")]
    jws_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    switch: Switch,
}

/// `mojaloop sim`: the simulated DFSPs on their own, until Ctrl-C.
pub fn sim(args: SimArgs) -> Result<Verdict> {
    layout::check_count(args.layout.dfsps).map_err(anyhow::Error::msg)?;
    service_kit::telemetry::init("info");
    let args = SimArgs {
        switch: args.switch.secured(),
        ..args
    };
    runtime()?.block_on(async move {
        let address = format!("{}:{}", args.host, args.port);
        let listener = tokio::net::TcpListener::bind(&address)
            .await
            .with_context(|| format!("binding {address}"))?;
        let config = dfsp_sim::SimConfig {
            dfsps: layout::specs(args.layout.dfsps),
            switch: dfsp_sim::SwitchUrls {
                als: args.switch.als_url.clone(),
                quotes: args.switch.quoting_service_url.clone(),
                transfers: args.switch.ml_api_adapter_url.clone(),
            },
            request_timeout_ms: args.switch.request_timeout_ms,
            callback_timeout_ms: args.switch.request_timeout_ms,
            jws: args
                .jws_dir
                .clone()
                .map(|keys_directory| dfsp_sim::SimJws { keys_directory }),
            tls: args.switch.tls().map(|files| {
                let names: Vec<String> = (1..=args.layout.dfsps).map(layout::name).collect();
                dfsp_sim::SimTls::from_layout(&files, &names, crate::certs::HUB)
            }),
        };
        let simulator = dfsp_sim::Simulator::start(config, listener)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let local = if args.host == "0.0.0.0" {
            "127.0.0.1"
        } else {
            &args.host
        };
        let callbacks = args
            .callback_url
            .clone()
            .unwrap_or_else(|| format!("http://{local}:{}", args.port));
        let callbacks = args.switch.url(&callbacks);
        tracing::info!(
            dfsps = args.layout.dfsps,
            url = simulator.base_url(),
            "simulated DFSPs perffsp-1 … perffsp-{} are answering",
            args.layout.dfsps
        );
        if args.provision {
            let oracle = &args.switch.oracle_url;
            let client = args.switch.client(args.switch.request_timeout_ms)?;
            match register_oracle(&client, &args.switch.als_admin_url, oracle, 300).await? {
                OracleRegistration::Registered => {
                    tracing::info!(%oracle, "MSISDN oracle registered with the ALS")
                }
                OracleRegistration::Present(endpoint) => {
                    tracing::info!(%endpoint, "the ALS has an MSISDN oracle")
                }
            }
            let urls = dfsp_sim::provision::AdminUrls {
                ledger: args.switch.central_ledger_url.clone(),
                oracle: args.switch.oracle_url.clone(),
            };
            let plans = layout::plans(args.layout.dfsps);
            dfsp_sim::provision::provision_with(client, &urls, &callbacks, &plans)
                .await
                .context("provisioning")?;
            tracing::info!(callbacks = %callbacks, "DFSPs provisioned");
        }
        service_kit::shutdown::shutdown_signal().await;
        drop(simulator);
        Ok::<(), anyhow::Error>(())
    })?;
    Ok(Verdict::Positive)
}

// ---- provision -----------------------------------------------------------------------------

#[derive(Debug, Args)]
pub struct ProvisionArgs {
    /// Provision only this DFSP (perffsp-N); by default every DFSP of the layout.
    #[arg(long)]
    dfsp: Option<String>,
    #[command(flatten)]
    layout: Layout,
    /// The simulator's URL as the switch reaches it, for the DFSPs' callback endpoints.
    #[arg(
        long,
        env = "MOJALOOP_SIM_CALLBACK_URL",
        default_value = "http://127.0.0.1:4100"
    )]
    callback_url: String,
    /// The oracle's URL as the ALS reaches it (default: --oracle-url).
    #[arg(long, env = "MOJALOOP_ORACLE_CALLBACK_URL")]
    oracle_callback_url: Option<String>,
    #[command(flatten)]
    switch: Switch,
}

/// What [`register_oracle`] found or did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OracleRegistration {
    /// The oracle is now the ALS's default MSISDN oracle.
    Registered,
    /// The ALS already had an MSISDN oracle, at this endpoint.
    Present(String),
}

/// Registers `oracle_url` with the ALS admin API as the default MSISDN oracle, unless the ALS
/// has one, through `client` (the hub's certificate when the ALS requires mutual TLS). Tries
/// `attempts` times, 100 ms apart, while the ALS does not answer.
pub async fn register_oracle(
    client: &reqwest::Client,
    als_admin: &str,
    oracle_url: &str,
    attempts: u32,
) -> Result<OracleRegistration> {
    let als_admin = als_admin.trim_end_matches('/');
    let mut last_error = String::new();
    for _attempt in 0..attempts.max(1) {
        match client
            .get(format!("{als_admin}/oracles?type=MSISDN"))
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => {
                let existing: Value = response.json().await.unwrap_or_default();
                if let Some(first) = existing.as_array().and_then(|list| list.first()) {
                    let endpoint = first
                        .pointer("/endpoint/value")
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    return Ok(OracleRegistration::Present(endpoint.to_string()));
                }
                let body = serde_json::json!({"oracleIdType": "MSISDN", "endpoint": {"value": oracle_url, "endpointType": "URL"}, "isDefault": true});
                let response = client
                    .post(format!("{als_admin}/oracles"))
                    .json(&body)
                    .send()
                    .await
                    .with_context(|| format!("POST {als_admin}/oracles"))?;
                let status = response.status();
                anyhow::ensure!(
                    status.is_success(),
                    "the ALS refused the MSISDN oracle: {status} {}",
                    response.text().await.unwrap_or_default()
                );
                return Ok(OracleRegistration::Registered);
            }
            Ok(response) => last_error = format!("GET {als_admin}/oracles: {}", response.status()),
            Err(error) => last_error = format!("GET {als_admin}/oracles: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("the ALS admin API did not answer: {last_error}")
}

/// `mojaloop provision`.
pub fn provision(args: ProvisionArgs) -> Result<Verdict> {
    let count = args.layout.dfsps;
    layout::check_count(count).map_err(anyhow::Error::msg)?;
    let indexes: Vec<usize> = match &args.dfsp {
        Some(name) => vec![dfsp_index(name, count)?],
        None => (1..=count).collect(),
    };
    let args = ProvisionArgs {
        callback_url: args.switch.url(&args.callback_url),
        oracle_callback_url: args
            .oracle_callback_url
            .as_deref()
            .map(|u| args.switch.url(u)),
        switch: args.switch.secured(),
        ..args
    };
    runtime()?.block_on(async move {
        heading("Provisioning");
        let client = args.switch.client(args.switch.request_timeout_ms)?;
        let oracle_for_als = args
            .oracle_callback_url
            .clone()
            .unwrap_or_else(|| args.switch.oracle_url.clone());
        let mut failed = 0;
        match register_oracle(&client, &args.switch.als_admin_url, &oracle_for_als, 1).await {
            Ok(OracleRegistration::Registered) => {
                println!("✅ MSISDN oracle registered with the ALS: {oracle_for_als}")
            }
            Ok(OracleRegistration::Present(endpoint)) => {
                println!("✅ MSISDN oracle already registered with the ALS: {endpoint}")
            }
            Err(error) => {
                failed += 1;
                println!("❌ MSISDN oracle: {error:#}");
            }
        }
        let urls = dfsp_sim::provision::AdminUrls {
            ledger: args.switch.central_ledger_url.clone(),
            oracle: args.switch.oracle_url.clone(),
        };
        for index in indexes {
            let plan = layout::plan(index, count);
            let role = if plan.funds.is_some() { "payer" } else { "payee" };
            match dfsp_sim::provision::provision_with(client.clone(), &urls, &args.callback_url, &[plan]).await {
                Ok(done) => {
                    for dfsp in done {
                        let funds = match &dfsp.deposited {
                            Some(amount) => format!("deposited {amount} {}", layout::CURRENCY),
                            None if role == "payer" => "funded earlier".to_string(),
                            None => "no deposit".to_string(),
                        };
                        println!(
                            "✅ {}: {role}, net debit cap {} {}, {funds}, {} callback endpoints, {} MSISDNs in the oracle",
                            dfsp.name,
                            layout::NET_DEBIT_CAP,
                            layout::CURRENCY,
                            dfsp.endpoints,
                            dfsp.msisdns
                        );
                    }
                }
                Err(error) => {
                    failed += 1;
                    println!("❌ {}: {error}", layout::name(index));
                }
            }
        }
        println!();
        if failed == 0 {
            println!("Provisioning complete; callbacks go to {}", args.callback_url);
            Ok(Verdict::Positive)
        } else {
            println!("{failed} step(s) failed");
            Ok(Verdict::Negative)
        }
    })
}

// ---- health --------------------------------------------------------------------------------

#[derive(Debug, Args)]
pub struct HealthArgs {
    /// The health URL to ask, e.g. http://127.0.0.1:3001/health.
    url: String,
    /// Longest wait for the answer, in milliseconds.
    #[arg(long, default_value_t = 3_000)]
    timeout_ms: u64,
}

/// `mojaloop health URL`: exit 0 when the URL answers 2xx (for container health checks, so
/// images need no curl).
pub fn health(args: HealthArgs) -> Result<Verdict> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let http = Http::new(args.timeout_ms)?;
        match http.get(&args.url).await {
            Ok((status, body)) if (200..300).contains(&status) => {
                println!("{status} {body}");
                Ok(Verdict::Positive)
            }
            Ok((status, body)) => {
                println!("{status} {body}");
                Ok(Verdict::Negative)
            }
            Err(error) => {
                println!("{error:#}");
                Ok(Verdict::Negative)
            }
        }
    })
}

// ---- verify-participants -------------------------------------------------------------------

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    layout: Layout,
    #[command(flatten)]
    switch: Switch,
}

/// The callback endpoints a DFSP cannot do without.
const REQUIRED_ENDPOINTS: &[&str] = &[
    "FSPIOP_CALLBACK_URL_PARTIES_GET",
    "FSPIOP_CALLBACK_URL_PARTIES_PUT",
    "FSPIOP_CALLBACK_URL_QUOTES",
    "FSPIOP_CALLBACK_URL_TRANSFER_POST",
    "FSPIOP_CALLBACK_URL_TRANSFER_PUT",
    "FSPIOP_CALLBACK_URL_TRANSFER_ERROR",
];

/// What the switch holds for one DFSP.
struct Check {
    problems: Vec<String>,
    msisdns_registered: usize,
}

async fn check_participant(http: &Http, switch: &Switch, index: usize) -> Check {
    let name = layout::name(index);
    let ledger = switch.central_ledger_url.trim_end_matches('/');
    let mut problems = Vec::new();
    match http.get(&format!("{ledger}/participants/{name}")).await {
        Ok((200, participant)) => {
            if participant.get("isActive").and_then(Value::as_u64) != Some(1) {
                problems.push("participant inactive".to_string());
            }
            let accounts = participant.get("accounts").and_then(Value::as_array);
            for kind in ["POSITION", "SETTLEMENT"] {
                let present = accounts.into_iter().flatten().any(|account| {
                    account.get("ledgerAccountType").and_then(Value::as_str) == Some(kind)
                        && account.get("currency").and_then(Value::as_str) == Some(layout::CURRENCY)
                        && account.get("isActive").and_then(Value::as_u64) == Some(1)
                });
                if !present {
                    problems.push(format!("no active {kind} account in {}", layout::CURRENCY));
                }
            }
        }
        Ok((status, _)) => problems.push(format!("not registered in the ledger ({status})")),
        Err(error) => problems.push(format!("{error:#}")),
    }
    if problems.is_empty() {
        match http
            .get_ok(&format!("{ledger}/participants/{name}/limits"))
            .await
        {
            Ok(limits) => {
                let cap = limits.as_array().into_iter().flatten().any(|limit| {
                    limit.pointer("/limit/type").and_then(Value::as_str) == Some("NET_DEBIT_CAP")
                });
                if !cap {
                    problems.push("no net debit cap".to_string());
                }
            }
            Err(error) => problems.push(format!("{error:#}")),
        }
        match http
            .get_ok(&format!("{ledger}/participants/{name}/endpoints"))
            .await
        {
            Ok(endpoints) => {
                let kinds: Vec<&str> = endpoints
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.get("type").and_then(Value::as_str))
                    .collect();
                let missing: Vec<&str> = REQUIRED_ENDPOINTS
                    .iter()
                    .filter(|kind| !kinds.contains(kind))
                    .copied()
                    .collect();
                if !missing.is_empty() {
                    problems.push(format!("missing endpoints {}", missing.join(", ")));
                }
            }
            Err(error) => problems.push(format!("{error:#}")),
        }
    }
    let registered = oracle_registrations(http, &switch.oracle_url, index).await;
    let msisdns_registered = match registered {
        Ok(count) => {
            if count < layout::MSISDNS_PER_DFSP {
                problems.push(format!(
                    "{} of {} MSISDNs registered with the oracle",
                    count,
                    layout::MSISDNS_PER_DFSP
                ));
            }
            count
        }
        Err(error) => {
            problems.push(format!("oracle: {error:#}"));
            0
        }
    };
    Check {
        problems,
        msisdns_registered,
    }
}

/// How many of DFSP `index`'s MSISDNs the oracle maps to it.
async fn oracle_registrations(http: &Http, oracle: &str, index: usize) -> Result<usize> {
    let name = layout::name(index);
    let oracle = oracle.trim_end_matches('/');
    let mut lookups = tokio::task::JoinSet::new();
    for n in 0..layout::MSISDNS_PER_DFSP {
        let url = format!("{oracle}/participants/MSISDN/{}", layout::msisdn(index, n));
        let client = http.client.clone();
        lookups.spawn(async move {
            let response = client.get(&url).send().await?;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            Ok::<_, reqwest::Error>((status, body))
        });
    }
    let mut count = 0;
    while let Some(joined) = lookups.join_next().await {
        let (status, body) = joined.context("oracle lookup task")??;
        let owned = status == 200
            && body
                .get("partyList")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|party| party.get("fspId").and_then(Value::as_str) == Some(&name));
        count += usize::from(owned);
    }
    Ok(count)
}

/// `mojaloop verify-participants`.
pub fn verify_participants(args: VerifyArgs) -> Result<Verdict> {
    let count = args.layout.dfsps;
    layout::check_count(count).map_err(anyhow::Error::msg)?;
    let args = VerifyArgs {
        switch: args.switch.secured(),
        ..args
    };
    runtime()?.block_on(async move {
        let http = args.switch.http()?;
        heading("Participant Verification");
        let mut ready = 0;
        let mut failed = 0;
        for index in 1..=count {
            let check = check_participant(&http, &args.switch, index).await;
            if check.problems.is_empty() {
                ready += check.msisdns_registered;
                println!(
                    "✅ {}: {} accounts provisioned",
                    layout::name(index),
                    check.msisdns_registered
                );
            } else {
                failed += 1;
                println!("❌ {}: {}", layout::name(index), check.problems.join("; "));
            }
        }
        println!();
        if failed == 0 {
            println!("Total: {ready} test accounts ready");
            Ok(Verdict::Positive)
        } else {
            println!(
                "Total: {ready} of {} test accounts ready; {failed} DFSP(s) need `mojaloop provision`",
                count * layout::MSISDNS_PER_DFSP
            );
            Ok(Verdict::Negative)
        }
    })
}

// ---- test-transaction ----------------------------------------------------------------------

#[derive(Debug, Args)]
pub struct TestTransactionArgs {
    /// Payer DFSP (perffsp-N).
    #[arg(long, default_value = "perffsp-1")]
    from: String,
    /// Payee: a DFSP (perffsp-N, paying its test customer) or an MSISDN.
    #[arg(long, default_value = "perffsp-5")]
    to: String,
    /// Amount in the payer's currency (USD).
    #[arg(long, default_value = "100")]
    amount: String,
    /// The ILP packet version the simulated payee makes (v4, FSPIOP 2.0; v1, what Mojaloop's
    /// SDK makes for FSPIOP 1.x). The switch accepts both by default.
    #[arg(long, default_value = "v4", value_parser = ["v4", "v1"])]
    ilp_version: String,
    #[command(flatten)]
    layout: Layout,
    #[command(flatten)]
    sim: Sim,
    #[command(flatten)]
    database: Database,
    #[command(flatten)]
    switch: Switch,
}

/// Where a committed transfer landed for settlement: its window and the window's state.
async fn settlement_window(database: &Database, transfer_id: &str) -> Result<(u64, String)> {
    let url = store::database_url(&database.database_url, &database.central_ledger_database)?;
    let pool = store::connect(&url, 1, 5_000).await?;
    let row: Option<(Option<u64>, Option<String>)> = sqlx::query_as(
        "SELECT tf.settlementWindowId,
                (SELECT swsc.settlementWindowStateId FROM settlementWindowStateChange swsc
                  WHERE swsc.settlementWindowId = tf.settlementWindowId
                  ORDER BY swsc.settlementWindowStateChangeId DESC LIMIT 1)
           FROM transferFulfilment tf WHERE tf.transferId = ?",
    )
    .bind(transfer_id)
    .fetch_optional(&pool)
    .await?;
    pool.close().await;
    match row {
        Some((Some(window), state)) => Ok((window, state.unwrap_or_else(|| "?".into()))),
        Some((None, _)) => anyhow::bail!("the transfer has no settlement window"),
        None => anyhow::bail!("the transfer has no fulfilment record"),
    }
}

fn ms(duration: Duration) -> String {
    format!("{}ms", duration.as_millis())
}

fn phase_label(phase: Phase) -> &'static str {
    match phase {
        Phase::Lookup => "Party Lookup",
        Phase::Quote => "Quote",
        Phase::Transfer => "Transfer",
        Phase::AnswerParty => "Payee party answer",
        Phase::AnswerQuote => "Payee quote answer",
        Phase::AnswerTransfer => "Payee transfer answer",
    }
}

fn failed_phase(error: &PaymentError) -> Option<Phase> {
    match error {
        PaymentError::Fspiop { phase, .. }
        | PaymentError::Request { phase, .. }
        | PaymentError::Timeout { phase, .. }
        | PaymentError::InvalidCallback { phase, .. } => Some(*phase),
        PaymentError::UnknownPayer(_) | PaymentError::Simulator(_) => None,
    }
}

/// How a failed payment is told: the FSPIOP error first.
fn describe(error: &PaymentError) -> String {
    match error {
        PaymentError::Fspiop {
            code, description, ..
        } => format!("FSPIOP error {code}: {description}"),
        PaymentError::Timeout { timeout_ms, .. } => format!("no callback within {timeout_ms} ms"),
        PaymentError::Request { detail, .. } | PaymentError::InvalidCallback { detail, .. } => {
            detail.clone()
        }
        PaymentError::UnknownPayer(name) => format!("the simulator does not run {name}"),
        PaymentError::Simulator(detail) => detail.clone(),
    }
}

/// `mojaloop test-transaction`.
pub fn test_transaction(args: TestTransactionArgs) -> Result<Verdict> {
    let count = args.layout.dfsps;
    layout::check_count(count).map_err(anyhow::Error::msg)?;
    let payer = dfsp_index(&args.from, count)?;
    let (payee_msisdn, payee_label) = match layout::index_of(&args.to) {
        Some(index) => (layout::test_msisdn(index), args.to.clone()),
        None if !args.to.is_empty() && args.to.bytes().all(|b| b.is_ascii_digit()) => {
            (args.to.clone(), "owner to be looked up".to_string())
        }
        None => anyhow::bail!("--to {} is neither perffsp-N nor an MSISDN", args.to),
    };
    let payer_msisdn = layout::test_msisdn(payer);
    runtime()?.block_on(async move {
        let sim = args.switch.simulator(&args.sim)?;
        heading("Transaction Test");
        println!("From: MSISDN {payer_msisdn} ({})", args.from);
        println!("To: MSISDN {payee_msisdn} ({payee_label})");
        println!("Amount: {} {}", args.amount, layout::CURRENCY);
        println!();
        let options = dfsp_sim::PayOptions {
            payer_msisdn: Some(payer_msisdn.clone()),
            ilp_version: fspiop::ilp::IlpVersion::from_name(&args.ilp_version),
            ..Default::default()
        };
        let outcome = sim
            .pay(&args.from, &payee_msisdn, &args.amount, &options)
            .await;
        Ok(print_outcome(&outcome, &args.database).await)
    })
}

/// Prints each phase and the status line; the verdict follows the payment.
async fn print_outcome(
    outcome: &Result<PaymentReport, PaymentError>,
    database: &Database,
) -> Verdict {
    match outcome {
        Ok(report) => {
            println!("[✓] {}: {}", phase_label(Phase::Lookup), ms(report.lookup));
            println!("[✓] {}: {}", phase_label(Phase::Quote), ms(report.quote));
            println!(
                "[✓] {}: {} ({}, id {})",
                phase_label(Phase::Transfer),
                ms(report.transfer),
                report.transfer_state,
                report.transfer_id
            );
            match settlement_window(database, &report.transfer_id).await {
                Ok((window, state)) => {
                    println!("[✓] Settlement: recorded in settlement window {window} ({state})")
                }
                Err(error) => println!("[?] Settlement: window not readable ({error:#})"),
            }
            println!();
            println!("Total time: {}", ms(report.total()));
            println!("Status: SUCCESS");
            Verdict::Positive
        }
        Err(error) => {
            let failed = failed_phase(error);
            for phase in [Phase::Lookup, Phase::Quote, Phase::Transfer] {
                match failed {
                    Some(at) if phase < at => println!("[✓] {}", phase_label(phase)),
                    Some(at) if phase == at => {
                        println!("[✗] {}: {}", phase_label(phase), describe(error))
                    }
                    _ => {}
                }
            }
            if failed.is_none() {
                println!("[✗] {}", describe(error));
            }
            println!();
            println!("Status: FAILED ({})", describe(error));
            Verdict::Negative
        }
    }
}

// ---- validate ------------------------------------------------------------------------------

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// End-to-end test payments whose latency is averaged.
    #[arg(long, default_value_t = 5)]
    transactions: usize,
    #[command(flatten)]
    layout: Layout,
    #[command(flatten)]
    sim: Sim,
    #[command(flatten)]
    switch: Switch,
}

/// What `validate` found out about JWS.
enum JwsEvidence {
    Active(String),
    Off(String),
}

enum MtlsEvidence {
    Active(String),
    Off(String),
}

/// Without `--tls-dir`: off when the ML API Adapter answers plain HTTP. With it: every
/// listener refuses a handshake without a client certificate, the payer DFSP's certificate is
/// accepted, and a request whose `FSPIOP-Source` is another DFSP is refused with 3100 over it.
async fn mtls_evidence(switch: &Switch, http: &Http) -> Result<MtlsEvidence, String> {
    let health = |base: &str| format!("{}/health", base.trim_end_matches('/'));
    let Some(files) = switch.tls() else {
        return match http.get(&health(&switch.ml_api_adapter_url)).await {
            Ok(_) => Ok(MtlsEvidence::Off(
                "the switch's listeners are plain HTTP".to_string(),
            )),
            Err(error) => Err(format!(
                "not checked: {error:#} (give --tls-dir DIR when the switch requires client certificates)"
            )),
        };
    };
    let timeout = Duration::from_millis(switch.request_timeout_ms);
    let anonymous =
        service_kit::tls::anonymous_client_config(&files.ca()).map_err(|e| e.to_string())?;
    let listeners = [
        &switch.als_url,
        &switch.als_admin_url,
        &switch.oracle_url,
        &switch.quoting_service_url,
        &switch.ml_api_adapter_url,
        &switch.central_ledger_url,
        &switch.central_settlement_url,
    ];
    let mut alerts = std::collections::BTreeSet::new();
    for base in listeners {
        // host:port of the URL
        let address = base
            .split_once("://")
            .map_or(base.as_str(), |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default();
        match service_kit::tls::probe(address, anonymous.clone(), timeout).await {
            service_kit::tls::Probe::Refused(why) => {
                alerts.insert(why);
            }
            service_kit::tls::Probe::Answered(status) => {
                return Err(format!(
                    "{base} answered {status:?} without a client certificate"
                ))
            }
            service_kit::tls::Probe::Unreachable(why) => return Err(why),
        }
    }
    let (payer, other) = (layout::name(1), layout::name(2));
    let tls = files.hub_tls(crate::certs::HUB);
    let (cert, key) = files.pair(&payer, service_kit::pki::Usage::Client);
    let dfsp_tls = service_kit::tls::TlsConfig {
        client_cert_path: cert.display().to_string(),
        client_key_path: key.display().to_string(),
        ..tls
    };
    let dfsp = crate::certs::https_client(&dfsp_tls, switch.request_timeout_ms)
        .map_err(|e| format!("{payer}'s certificate: {e:#}"))?;
    let url = health(&switch.ml_api_adapter_url);
    match dfsp.get(&url).send().await {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => {
            return Err(format!(
                "GET {url} with {payer}'s certificate: {}",
                response.status()
            ))
        }
        Err(error) => return Err(format!("GET {url} with {payer}'s certificate: {error}")),
    }
    let url = format!(
        "{}/quotes",
        switch.quoting_service_url.trim_end_matches('/')
    );
    let response = dfsp
        .post(&url)
        .header(
            "content-type",
            "application/vnd.interoperability.quotes+json;version=1.1",
        )
        .header(
            "accept",
            "application/vnd.interoperability.quotes+json;version=1",
        )
        .header(
            "date",
            fspiop::datetime::format_http_date(service_kit::edge::now_ms()),
        )
        .header("fspiop-source", other.as_str())
        .body("{}")
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body
        .pointer("/errorInformation/errorCode")
        .and_then(Value::as_str)
        .unwrap_or("none");
    if (status, code) != (400, "3100") {
        return Err(format!(
            "POST /quotes as {other} with {payer}'s certificate got {status} {code}, not 400 3100"
        ));
    }
    let alerts: Vec<String> = alerts.into_iter().collect();
    Ok(MtlsEvidence::Active(format!(
        "a handshake without a client certificate was refused by all {} listeners ({}); {payer}'s certificate was accepted, and FSPIOP-Source {other} over it refused with 3100",
        listeners.len(),
        alerts.join("; ")
    )))
}

/// Asks the Quoting Service to take an unsigned `POST /quotes` (refused with 3105 when it
/// validates signatures; a validation error of the empty body otherwise), and reads what the
/// simulators verified since `before` (the test payments' forwarded requests and callbacks).
async fn jws_evidence(
    http: &Http,
    switch: &Switch,
    sim: &RemoteSimulator,
    before: Option<dfsp_sim::SignatureCounts>,
) -> Result<JwsEvidence, String> {
    let url = format!(
        "{}/quotes",
        switch.quoting_service_url.trim_end_matches('/')
    );
    let response = http
        .client
        .post(&url)
        .header(
            "content-type",
            "application/vnd.interoperability.quotes+json;version=1.1",
        )
        .header(
            "accept",
            "application/vnd.interoperability.quotes+json;version=1",
        )
        .header(
            "date",
            fspiop::datetime::format_http_date(service_kit::edge::now_ms()),
        )
        .header("fspiop-source", layout::name(1))
        .body("{}")
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    let code = body
        .pointer("/errorInformation/errorCode")
        .and_then(Value::as_str)
        .unwrap_or("none")
        .to_string();
    let after = sim.signature_counts().await.ok();
    if code != "3105" {
        return Ok(JwsEvidence::Off(format!(
            "an unsigned POST /quotes got {status} {code}, not 3105"
        )));
    }
    let mut line = "an unsigned POST /quotes was refused with 3105".to_string();
    match (before, after) {
        (Some(before), Some(after)) if after.enabled => {
            let verified = after.verified.saturating_sub(before.verified);
            let refused = after.refused.saturating_sub(before.refused);
            if refused > 0 {
                return Err(format!(
                    "{line}, but the simulated DFSPs refused {refused} signature(s) from the switch"
                ));
            }
            line.push_str(&format!(
                "; the simulated DFSPs verified {verified} signed requests and callbacks from the switch, refused none"
            ));
        }
        _ => {
            line.push_str("; the simulated DFSPs do not check signatures (mojaloop sim --jws-dir)")
        }
    }
    Ok(JwsEvidence::Active(line))
}

/// `mojaloop validate`.
pub fn validate(args: ValidateArgs) -> Result<Verdict> {
    let count = args.layout.dfsps;
    layout::check_count(count).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(count >= 2, "validation needs a payer and a payee DFSP");
    let args = ValidateArgs {
        switch: args.switch.secured(),
        ..args
    };
    runtime()?.block_on(async move {
        let http = args.switch.http()?;
        let mut failures: Vec<String> = Vec::new();
        heading("Mojaloop Deployment Validation");

        println!("CORE SERVICES:");
        let services = [
            ("Account Lookup", &args.switch.als_url),
            ("Account Lookup admin", &args.switch.als_admin_url),
            ("MSISDN Oracle", &args.switch.oracle_url),
            ("Quoting Service", &args.switch.quoting_service_url),
            ("ML API Adapter", &args.switch.ml_api_adapter_url),
            ("Central Ledger", &args.switch.central_ledger_url),
            ("Central Settlement", &args.switch.central_settlement_url),
        ];
        for (label, url) in services {
            let url = format!("{}/health", url.trim_end_matches('/'));
            match http.get(&url).await {
                Ok((200, body)) => println!(
                    "✅ {label}: {} ({url})",
                    body.get("status").and_then(Value::as_str).unwrap_or("OK")
                ),
                Ok((status, body)) => {
                    println!("❌ {label}: {status} {body} ({url})");
                    failures.push(format!("{label} unhealthy"));
                }
                Err(error) => {
                    println!("❌ {label}: {error:#}");
                    failures.push(format!("{label} unreachable"));
                }
            }
        }

        println!();
        println!("DFSPS:");
        let sim = args.switch.simulator(&args.sim)?;
        let mut silent = Vec::new();
        let mut unprovisioned = Vec::new();
        for index in 1..=count {
            let name = layout::name(index);
            if !sim.dfsp_healthy(&name).await {
                silent.push(name.clone());
            }
            if !check_participant(&http, &args.switch, index)
                .await
                .problems
                .is_empty()
            {
                unprovisioned.push(name);
            }
        }
        if silent.is_empty() {
            println!("✅ All {count} DFSPs responding ({})", sim.base_url());
        } else {
            println!("❌ Not responding: {}", silent.join(", "));
            failures.push("DFSPs not responding".into());
        }
        if unprovisioned.is_empty() {
            println!("✅ All {count} DFSPs provisioned (accounts, limits, endpoints, MSISDNs)");
        } else {
            println!("❌ Not fully provisioned: {}", unprovisioned.join(", "));
            failures.push("DFSPs not provisioned".into());
        }

        let signatures_before = sim.signature_counts().await.ok();
        // Test payments: payer i pays payee i + half, round-robin over the payers.
        let payers = count.div_ceil(2);
        let payees = count - payers;
        let mut totals = Vec::new();
        let mut first_error = None;
        for n in 0..args.transactions.max(1) {
            let payer = n % payers + 1;
            let payee = payers + n % payees.max(1) + 1;
            let options = dfsp_sim::PayOptions {
                payer_msisdn: Some(layout::test_msisdn(payer)),
                ..Default::default()
            };
            let outcome = sim
                .pay(
                    &layout::name(payer),
                    &layout::test_msisdn(payee.min(count)),
                    "1",
                    &options,
                )
                .await;
            match outcome {
                Ok(report) => totals.push(report.total()),
                Err(error) => {
                    first_error.get_or_insert(format!(
                        "{} → {}: {}",
                        layout::name(payer),
                        layout::name(payee),
                        describe(&error)
                    ));
                }
            }
        }
        // One payment whose payee answers with a fulfilment that is not the condition's
        // preimage: the switch must refuse it (and give the payer its money back).
        let wrong_fulfilment = sim
            .pay(
                &layout::name(1),
                &layout::test_msisdn((payers + 1).min(count)),
                "1",
                &dfsp_sim::PayOptions {
                    payer_msisdn: Some(layout::test_msisdn(1)),
                    wrong_fulfilment: true,
                    ..Default::default()
                },
            )
            .await;

        println!();
        println!("SECURITY:");
        match mtls_evidence(&args.switch, &http).await {
            Ok(MtlsEvidence::Active(line)) => println!("✅ mTLS: {line}"),
            Ok(MtlsEvidence::Off(line)) => println!("⚪ mTLS: off ({line})"),
            Err(line) => {
                println!("❌ mTLS: {line}");
                failures.push("mTLS checks failed".into());
            }
        }
        match jws_evidence(&http, &args.switch, &sim, signatures_before).await {
            Ok(JwsEvidence::Active(line)) => println!("✅ JWS: {line}"),
            Ok(JwsEvidence::Off(line)) => println!("⚪ JWS: off ({line})"),
            Err(line) => {
                println!("❌ JWS: {line}");
                failures.push("JWS checks failed".into());
            }
        }
        match (&wrong_fulfilment, totals.len()) {
            (_, 0) => println!("❌ ILP: no test transfer completed"),
            (Err(PaymentError::Fspiop { phase: Phase::Transfer, code, .. }), committed) => println!(
                "✅ ILP: the fulfilments of {committed} test transfers matched their conditions; a wrong fulfilment was refused by the switch (FSPIOP error {code})"
            ),
            (Ok(report), _) => {
                println!(
                    "❌ ILP: a wrong fulfilment was accepted (transfer {} {})",
                    report.transfer_id, report.transfer_state
                );
                failures.push("a wrong fulfilment was accepted".into());
            }
            (Err(error), _) => {
                println!("❌ ILP: the wrong-fulfilment check did not complete: {}", describe(error));
                failures.push("ILP checks failed".into());
            }
        }

        println!();
        println!("HEALTH CHECKS:");
        let attempted = args.transactions.max(1);
        match &first_error {
            None => println!("✅ End-to-end transaction test: PASSED ({attempted} transactions)"),
            Some(error) => {
                println!(
                    "❌ End-to-end transaction test: {} of {attempted} failed; first: {error}",
                    attempted - totals.len()
                );
                failures.push("end-to-end transactions failed".into());
            }
        }
        if let Some(average) = average(&totals) {
            println!("✅ Average latency: {} (lookup + quote + transfer)", ms(average));
        }
        println!();
        if failures.is_empty() {
            println!("🎉 Mojaloop ready for performance testing!");
            Ok(Verdict::Positive)
        } else {
            println!("❌ Validation failed: {}", failures.join("; "));
            Ok(Verdict::Negative)
        }
    })
}

fn average(durations: &[Duration]) -> Option<Duration> {
    let count = u32::try_from(durations.len()).ok().filter(|n| *n > 0)?;
    Some(durations.iter().sum::<Duration>() / count)
}

// ---- debug-participant ---------------------------------------------------------------------

#[derive(Debug, Args)]
pub struct DebugArgs {
    /// The DFSP to show.
    #[arg(long)]
    dfsp: String,
    /// How many of its latest transfers to list.
    #[arg(long, default_value_t = 10)]
    transfers: u32,
    #[command(flatten)]
    database: Database,
    #[command(flatten)]
    switch: Switch,
}

/// The latest transfers `name` took part in: time, id, payer, payee, amount, currency, state.
type TransferLine = (String, String, String, String, String, String, String);

async fn last_transfers(database: &Database, name: &str, limit: u32) -> Result<Vec<TransferLine>> {
    let url = store::database_url(&database.database_url, &database.central_ledger_database)?;
    let pool = store::connect(&url, 1, 5_000).await?;
    let rows: Vec<TransferLine> = sqlx::query_as(
        "SELECT DATE_FORMAT(t.createdDate, '%Y-%m-%d %H:%i:%s'), t.transferId,
                COALESCE((SELECT p.name FROM transferParticipant tp JOIN participant p ON p.participantId = tp.participantId
                   JOIN transferParticipantRoleType r ON r.transferParticipantRoleTypeId = tp.transferParticipantRoleTypeId
                  WHERE tp.transferId = t.transferId AND r.name = 'PAYER_DFSP' LIMIT 1), '?'),
                COALESCE((SELECT p.name FROM transferParticipant tp JOIN participant p ON p.participantId = tp.participantId
                   JOIN transferParticipantRoleType r ON r.transferParticipantRoleTypeId = tp.transferParticipantRoleTypeId
                  WHERE tp.transferId = t.transferId AND r.name = 'PAYEE_DFSP' LIMIT 1), '?'),
                CAST(t.amount AS CHAR), t.currencyId,
                COALESCE((SELECT tsc.transferStateId FROM transferStateChange tsc
                  WHERE tsc.transferId = t.transferId ORDER BY tsc.transferStateChangeId DESC LIMIT 1), '?')
           FROM transfer t
          WHERE t.transferId IN (SELECT tp.transferId FROM transferParticipant tp
                                   JOIN participant p ON p.participantId = tp.participantId
                                  WHERE p.name = ?)
          ORDER BY t.createdDate DESC LIMIT ?",
    )
    .bind(name)
    .bind(limit)
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    Ok(rows)
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("?")
}

fn number(value: &Value, pointer: &str) -> String {
    match value.pointer(pointer) {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "?".to_string(),
    }
}

/// `mojaloop debug-participant`.
pub fn debug_participant(args: DebugArgs) -> Result<Verdict> {
    let args = DebugArgs {
        switch: args.switch.secured(),
        ..args
    };
    runtime()?.block_on(async move {
        let http = args.switch.http()?;
        let ledger = args.switch.central_ledger_url.trim_end_matches('/');
        let name = args.dfsp.as_str();
        heading(&format!("Participant {name}"));
        let (status, participant) = http.get(&format!("{ledger}/participants/{name}")).await?;
        if status != 200 {
            println!("❌ not registered in the central ledger ({status}: {participant})");
            println!("   Provision it: mojaloop provision --dfsp {name}");
            return Ok(Verdict::Negative);
        }
        let active = participant.get("isActive").and_then(Value::as_u64) == Some(1);
        println!(
            "Status: {} (created {})",
            if active { "active" } else { "INACTIVE" },
            text(&participant, "/created")
        );

        println!();
        println!("Accounts and positions:");
        let accounts = http
            .get_ok(&format!("{ledger}/participants/{name}/accounts"))
            .await?;
        for account in accounts.as_array().into_iter().flatten() {
            let id = number(account, "/id");
            let kind = text(account, "/ledgerAccountType");
            let currency = text(account, "/currency");
            let reserved = number(account, "/reservedValue");
            println!(
                "  {kind:<12} {currency}  account {id:<4} value {:>16}  reserved {reserved:>10}  {}",
                number(account, "/value"),
                if account.get("isActive").and_then(Value::as_u64) == Some(1) {
                    "active"
                } else {
                    "INACTIVE"
                }
            );
        }

        println!();
        println!("Limits:");
        let limits = http
            .get_ok(&format!("{ledger}/participants/{name}/limits"))
            .await?;
        let mut any_limit = false;
        for limit in limits.as_array().into_iter().flatten() {
            any_limit = true;
            println!(
                "  {} {} {} (alarm at {}%)",
                text(limit, "/limit/type"),
                text(limit, "/currency"),
                number(limit, "/limit/value"),
                number(limit, "/limit/alarmPercentage")
            );
        }
        if !any_limit {
            println!("  ❌ none: the DFSP cannot send transfers");
        }

        println!();
        let endpoints = http
            .get_ok(&format!("{ledger}/participants/{name}/endpoints"))
            .await?;
        let endpoints = endpoints.as_array().cloned().unwrap_or_default();
        println!("Endpoints ({}):", endpoints.len());
        for endpoint in &endpoints {
            println!("  {:<45} {}", text(endpoint, "/type"), text(endpoint, "/value"));
        }

        println!();
        match layout::index_of(name) {
            Some(index) => {
                let registered = oracle_registrations(&http, &args.switch.oracle_url, index).await;
                match registered {
                    Ok(count) => println!(
                        "Oracle registrations: {count} of {} MSISDNs ({} … {})",
                        layout::MSISDNS_PER_DFSP,
                        layout::msisdn(index, 0),
                        layout::msisdn(index, layout::MSISDNS_PER_DFSP - 1)
                    ),
                    Err(error) => println!("Oracle registrations: not readable ({error:#})"),
                }
            }
            None => println!("Oracle registrations: {name} is outside the perffsp layout; not checked"),
        }

        println!();
        println!("Last transfers:");
        match last_transfers(&args.database, name, args.transfers).await {
            Ok(rows) if rows.is_empty() => println!("  none"),
            Ok(rows) => {
                for (at, id, payer, payee, amount, currency, state) in rows {
                    println!("  {at}  {id}  {payer} → {payee}  {amount} {currency}  {state}");
                }
            }
            Err(error) => println!("  not readable ({error:#})"),
        }
        Ok(Verdict::Positive)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_payment_names_its_fspiop_error() {
        let error = PaymentError::Fspiop {
            phase: Phase::Transfer,
            code: "4001".into(),
            description: "Payer FSP insufficient liquidity".into(),
        };
        assert_eq!(
            describe(&error),
            "FSPIOP error 4001: Payer FSP insufficient liquidity"
        );
        assert_eq!(failed_phase(&error), Some(Phase::Transfer));
        assert_eq!(
            average(&[Duration::from_millis(10), Duration::from_millis(20)]),
            Some(Duration::from_millis(15))
        );
        assert_eq!(average(&[]), None);
        assert!(dfsp_index("perffsp-9", 8).is_err());
        assert_eq!(dfsp_index("perffsp-8", 8).ok(), Some(8));
    }
}
