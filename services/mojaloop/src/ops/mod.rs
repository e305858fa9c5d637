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

mod debug;
mod health;
mod provision;
mod sim;
mod test_transaction;
mod validate;
mod verify;

pub use debug::*;
pub use health::*;
pub use provision::*;
pub use sim::*;
pub use test_transaction::*;
pub use validate::*;
pub use verify::*;

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
    /// Transaction requests service (FSPIOP /transactionRequests, /authorizations).
    #[arg(
        long,
        env = "MOJALOOP_TRANSACTION_REQUESTS_URL",
        default_value = "http://127.0.0.1:4006"
    )]
    transaction_requests_url: String,
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
            &mut switch.transaction_requests_url,
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
