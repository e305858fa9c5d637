//! `mojaloop settlement …`: the hub operator's settlement commands, as clients of the central
//! settlement API (and the ledger's admin API for DFSP names): close the open window, create a
//! settlement over closed windows, show one, walk its accounts to SETTLED, abort it.

#![allow(
    clippy::indexing_slicing,
    reason = "only serde_json::Value is indexed here, which answers Null for a missing member"
)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::tools::Verdict;

#[derive(Debug, Clone, Args)]
pub struct Endpoints {
    /// Central settlement API (its base, without /v2).
    #[arg(
        long,
        env = "MOJALOOP_CENTRAL_SETTLEMENT_URL",
        default_value = "http://127.0.0.1:3007"
    )]
    central_settlement_url: String,
    /// Central ledger admin API (for DFSP names).
    #[arg(
        long,
        env = "MOJALOOP_CENTRAL_LEDGER_URL",
        default_value = "http://127.0.0.1:3001"
    )]
    central_ledger_url: String,
    /// Longest wait for any one request, in milliseconds.
    #[arg(long, env = "MOJALOOP_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    request_timeout_ms: u64,
    /// Mutual TLS: the scheme's certificates as `mojaloop certs --out DIR` writes them (the
    /// hub's client certificate is presented, `http://` URLs are called as `https://`).
    #[arg(long, env = "MOJALOOP_TLS_DIR")]
    tls_dir: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum SettlementCommand {
    /// Close a settlement window (the open one by default) and wait until it is aggregated.
    CloseWindow(CloseWindowArgs),
    /// Create a settlement over closed windows and show each DFSP's net amount.
    Create(CreateArgs),
    /// Show a settlement: its state, windows and each DFSP's net amount and state.
    Show(ShowArgs),
    /// Walk every account of a settlement, step by step, to SETTLED (or to --to).
    Advance(AdvanceArgs),
    /// Abort a settlement (allowed until its transfers are committed).
    Abort(AbortArgs),
}

#[derive(Debug, Args)]
pub struct CloseWindowArgs {
    #[command(flatten)]
    endpoints: Endpoints,
    /// The window to close; the open window when absent.
    #[arg(long)]
    window: Option<u64>,
    #[arg(long, default_value = "closed by mojaloop settlement close-window")]
    reason: String,
    /// How long to wait for the window to be aggregated (CLOSED), in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    wait_ms: u64,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    endpoints: Endpoints,
    /// The settlement model's name.
    #[arg(long, default_value = "DEFERREDNET")]
    model: String,
    /// Closed windows to settle, comma separated (e.g. 1,2).
    #[arg(long, value_delimiter = ',', required = true)]
    windows: Vec<u64>,
    #[arg(long, default_value = "created by mojaloop settlement create")]
    reason: String,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    endpoints: Endpoints,
    /// The settlement id.
    id: u64,
}

#[derive(Debug, Args)]
pub struct AdvanceArgs {
    #[command(flatten)]
    endpoints: Endpoints,
    /// The settlement id.
    id: u64,
    /// Stop when every account is in this state.
    #[arg(long, default_value = "SETTLED", value_parser = ["PS_TRANSFERS_RECORDED", "PS_TRANSFERS_RESERVED", "PS_TRANSFERS_COMMITTED", "SETTLED"])]
    to: String,
    /// External reference recorded with each step (e.g. the settlement bank's reference).
    #[arg(long)]
    external_reference: Option<String>,
    #[arg(long, default_value = "advanced by mojaloop settlement advance")]
    reason: String,
}

#[derive(Debug, Args)]
pub struct AbortArgs {
    #[command(flatten)]
    endpoints: Endpoints,
    /// The settlement id.
    id: u64,
    #[arg(long)]
    reason: String,
}

/// The order accounts walk in.
const STEPS: [&str; 5] = [
    "PENDING_SETTLEMENT",
    "PS_TRANSFERS_RECORDED",
    "PS_TRANSFERS_RESERVED",
    "PS_TRANSFERS_COMMITTED",
    "SETTLED",
];

struct Client {
    http: reqwest::Client,
    settlement: String,
    ledger: String,
}

impl Client {
    fn new(endpoints: &Endpoints) -> Result<Client> {
        let tls = match &endpoints.tls_dir {
            Some(dir) => service_kit::pki::Layout::new(dir).hub_tls(crate::certs::HUB),
            None => service_kit::tls::TlsConfig::default(),
        };
        let url = |url: &str| match url.strip_prefix("http://") {
            Some(rest) if tls.enabled => format!("https://{rest}"),
            _ => url.to_string(),
        };
        Ok(Client {
            http: crate::certs::https_client(&tls, endpoints.request_timeout_ms)?,
            settlement: format!(
                "{}/v2",
                url(endpoints.central_settlement_url.trim_end_matches('/'))
            ),
            ledger: url(endpoints.central_ledger_url.trim_end_matches('/')),
        })
    }

    /// Calls the settlement API; an FSPIOP error becomes this command's error.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value> {
        let url = format!("{}{path}", self.settlement);
        let mut request = self.http.request(method.clone(), &url);
        if let Some(body) = &body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {url} (is central-settlement running?)"))?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            let info = &body["errorInformation"];
            anyhow::bail!(
                "{method} {path}: {status} {} {}",
                info["errorCode"].as_str().unwrap_or(""),
                info["errorDescription"]
                    .as_str()
                    .unwrap_or(&body.to_string())
            );
        }
        Ok(body)
    }

    /// Account id → DFSP name, from the ledger's participants.
    async fn account_names(&self) -> BTreeMap<u64, String> {
        let mut names = BTreeMap::new();
        let Ok(response) = self
            .http
            .get(format!("{}/participants", self.ledger))
            .send()
            .await
        else {
            return names;
        };
        let participants: Value = response.json().await.unwrap_or(Value::Null);
        for participant in participants.as_array().into_iter().flatten() {
            let name = participant["name"].as_str().unwrap_or("?");
            for account in participant["accounts"].as_array().into_iter().flatten() {
                if let Some(id) = account["id"].as_u64() {
                    names.insert(id, name.to_string());
                }
            }
        }
        names
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

pub fn run(command: SettlementCommand) -> Result<Verdict> {
    runtime()?.block_on(async move {
        match command {
            SettlementCommand::CloseWindow(args) => close_window(args).await,
            SettlementCommand::Create(args) => {
                let client = Client::new(&args.endpoints)?;
                let windows: Vec<Value> = args.windows.iter().map(|id| json!({ "id": id })).collect();
                let settlement = client
                    .call(
                        reqwest::Method::POST,
                        "/settlements",
                        Some(json!({ "settlementModel": args.model, "reason": args.reason, "settlementWindows": windows })),
                    )
                    .await?;
                print_settlement(&settlement, &client.account_names().await);
                Ok(Verdict::Positive)
            }
            SettlementCommand::Show(args) => {
                let client = Client::new(&args.endpoints)?;
                let settlement = client
                    .call(reqwest::Method::GET, &format!("/settlements/{}", args.id), None)
                    .await?;
                print_settlement(&settlement, &client.account_names().await);
                Ok(Verdict::Positive)
            }
            SettlementCommand::Advance(args) => advance(args).await,
            SettlementCommand::Abort(args) => {
                let client = Client::new(&args.endpoints)?;
                let settlement = client
                    .call(
                        reqwest::Method::PUT,
                        &format!("/settlements/{}", args.id),
                        Some(json!({ "state": "ABORTED", "reason": args.reason })),
                    )
                    .await?;
                print_settlement(&settlement, &client.account_names().await);
                Ok(Verdict::Positive)
            }
        }
    })
}

async fn close_window(args: CloseWindowArgs) -> Result<Verdict> {
    let client = Client::new(&args.endpoints)?;
    let window = match args.window {
        Some(window) => window,
        None => {
            let open = client
                .call(reqwest::Method::GET, "/settlementWindows?state=OPEN", None)
                .await?;
            open.as_array()
                .and_then(|w| w.first())
                .and_then(|w| w["settlementWindowId"].as_u64())
                .context("no OPEN settlement window")?
        }
    };
    let next = client
        .call(
            reqwest::Method::POST,
            &format!("/settlementWindows/{window}"),
            Some(json!({ "state": "CLOSED", "reason": args.reason })),
        )
        .await?;
    println!(
        "Window {window} closing; window {} is open",
        next["settlementWindowId"]
    );
    let deadline = Instant::now() + Duration::from_millis(args.wait_ms);
    loop {
        let view = client
            .call(
                reqwest::Method::GET,
                &format!("/settlementWindows/{window}"),
                None,
            )
            .await?;
        let state = view["state"].as_str().unwrap_or("?").to_string();
        if state != "PROCESSING" {
            println!("Window {window}: {state}");
            for content in view["content"].as_array().into_iter().flatten() {
                println!(
                    "  content {}: {} {} {}",
                    content["id"],
                    content["ledgerAccountType"].as_str().unwrap_or("?"),
                    content["currencyId"].as_str().unwrap_or("?"),
                    content["state"].as_str().unwrap_or("?")
                );
            }
            return Ok(if state == "CLOSED" {
                Verdict::Positive
            } else {
                Verdict::Negative
            });
        }
        if Instant::now() >= deadline {
            println!(
                "Window {window}: still PROCESSING after {} ms",
                args.wait_ms
            );
            return Ok(Verdict::Negative);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn accounts_of(settlement: &Value) -> Vec<(u64, &Value)> {
    settlement["participants"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|p| {
            let participant = p["id"].as_u64().unwrap_or(0);
            p["accounts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |a| (participant, a))
        })
        .collect()
}

fn print_settlement(settlement: &Value, names: &BTreeMap<u64, String>) {
    println!(
        "Settlement {} ({}): {}",
        settlement["id"],
        settlement["settlementModel"].as_str().unwrap_or("?"),
        settlement["state"].as_str().unwrap_or("?")
    );
    let windows: Vec<String> = settlement["settlementWindows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| {
            format!(
                "{} ({})",
                w["settlementWindowId"],
                w["state"].as_str().unwrap_or("?")
            )
        })
        .collect();
    println!("Windows: {}", windows.join(", "));
    println!(
        "{:<14} {:>8} {:<8} {:>16}  {:<24} role",
        "DFSP", "account", "currency", "net amount", "state"
    );
    let mut sums: BTreeMap<String, i128> = BTreeMap::new();
    for (_, account) in accounts_of(settlement) {
        let id = account["id"].as_u64().unwrap_or(0);
        let name = names.get(&id).cloned().unwrap_or_else(|| "?".into());
        if let Some(error) = account.get("errorInformation") {
            println!(
                "{name:<14} {id:>8} error {}",
                error["errorDescription"].as_str().unwrap_or("?")
            );
            continue;
        }
        let amount = &account["netSettlementAmount"]["amount"];
        let currency = account["netSettlementAmount"]["currency"]
            .as_str()
            .unwrap_or("?");
        let text = amount.to_string();
        let units = ledger::Money::parse(&text).map(|m| m.units()).unwrap_or(0);
        *sums.entry(currency.to_string()).or_default() += i128::from(units);
        let role = match units.signum() {
            1 => "net sender (pays)",
            -1 => "net recipient (receives)",
            _ => "net zero",
        };
        println!(
            "{name:<14} {id:>8} {currency:<8} {text:>16}  {:<24} {role}",
            account["state"].as_str().unwrap_or("?")
        );
    }
    for (currency, units) in sums {
        let total = ledger::Money::from_units(i64::try_from(units).unwrap_or(i64::MAX))
            .map(|m| m.to_string())
            .unwrap_or_else(|| units.to_string());
        println!("Sum of net amounts in {currency}: {total}");
    }
}

async fn advance(args: AdvanceArgs) -> Result<Verdict> {
    let client = Client::new(&args.endpoints)?;
    let path = format!("/settlements/{}", args.id);
    let target = STEPS
        .iter()
        .position(|s| *s == args.to)
        .unwrap_or(STEPS.len() - 1);
    let names = client.account_names().await;
    for _ in 0..STEPS.len() {
        let settlement = client.call(reqwest::Method::GET, &path, None).await?;
        let mut participants: BTreeMap<u64, Vec<Value>> = BTreeMap::new();
        for (participant, account) in accounts_of(&settlement) {
            let state = account["state"].as_str().unwrap_or("");
            let Some(position) = STEPS.iter().position(|s| *s == state) else {
                anyhow::bail!("account {} is {state}; it can not advance", account["id"]);
            };
            if position < target {
                let mut update = json!({ "id": account["id"], "state": STEPS[position + 1], "reason": args.reason });
                if let (Some(reference), Some(object)) =
                    (&args.external_reference, update.as_object_mut())
                {
                    object.insert("externalReference".into(), json!(reference));
                }
                participants.entry(participant).or_default().push(update);
            }
        }
        if participants.is_empty() {
            print_settlement(&settlement, &names);
            return Ok(Verdict::Positive);
        }
        let body: Vec<Value> = participants
            .into_iter()
            .map(|(id, accounts)| json!({ "id": id, "accounts": accounts }))
            .collect();
        let answer = client
            .call(
                reqwest::Method::PUT,
                &path,
                Some(json!({ "participants": body })),
            )
            .await?;
        let errors: Vec<String> = accounts_of(&answer)
            .into_iter()
            .filter_map(|(_, a)| {
                a.get("errorInformation").map(|e| {
                    format!(
                        "account {}: {}",
                        a["id"],
                        e["errorDescription"].as_str().unwrap_or("?")
                    )
                })
            })
            .collect();
        anyhow::ensure!(
            errors.is_empty(),
            "the settlement refused: {}",
            errors.join("; ")
        );
        println!(
            "Settlement {}: {}",
            args.id,
            answer["state"].as_str().unwrap_or("?")
        );
    }
    anyhow::bail!(
        "settlement {} did not reach {} in {} steps",
        args.id,
        args.to,
        STEPS.len()
    )
}
