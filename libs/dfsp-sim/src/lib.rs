//! Simulated DFSPs that answer the switch like real ones, for `mojaloop sim` and the perf
//! harness.
//!
//! One axum server hosts every simulated DFSP under its own path prefix (`{base}/{dfsp}/…`).
//! As a **payee** a DFSP answers `GET /parties/{Type}/{ID}`, `POST /quotes` and
//! `POST /transfers` with 202 and then makes the callback to the switch (`PUT /parties/…` for
//! its own MSISDNs, `PUT /quotes/{id}` with a real ILPv4 packet and condition made with its own
//! secret, `PUT /transfers/{id}` with the fulfilment re-derived from the packet). As a
//! **payer**, [`Simulator::pay`] drives lookup → quote → transfer and waits for each callback,
//! which the same server receives (and answers 200).
//!
//! Everything sent carries FSPIOP headers (`Content-Type` at version 1.1, `Date`,
//! `FSPIOP-Source`, `FSPIOP-Destination` when known, `FSPIOP-URI`); `Accept` only on requests,
//! never on `PUT` callbacks. The outbound client is hyper directly, because higher-level clients
//! add an `Accept` of their own. It speaks plain HTTP, or with [`SimTls`] mutual TLS both ways
//! (the server requires a scheme certificate; each DFSP presents its own client certificate).
//!
//! Per-phase timings (payer phases and the payee's answers) are kept and readable through
//! [`Simulator::timings`].

pub mod layout;
pub mod provision;
mod remote;
mod security;
mod tls;

pub use remote::{RemoteSimulator, SignatureCounts};
pub use security::SimJws;
pub use tls::SimTls;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::Router;
use fspiop::ilp::{Ilp, IlpVersion};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// Where the switch's FSPIOP APIs are.
#[derive(Debug, Clone)]
pub struct SwitchUrls {
    /// Account Lookup Service API base (`/parties`).
    pub als: String,
    /// Quoting Service base (`/quotes`).
    pub quotes: String,
    /// ML API Adapter base (`/transfers`).
    pub transfers: String,
}

/// One simulated DFSP.
#[derive(Debug, Clone)]
pub struct DfspSpec {
    /// Participant name, as registered with the central ledger.
    pub name: String,
    /// The MSISDNs it owns (it answers lookups for these, 3204 for any other).
    pub msisdns: Vec<String>,
    /// The local secret its ILP conditions and fulfilments are made with.
    pub ilp_secret: String,
    /// The currency it quotes and pays in.
    pub currency: String,
}

impl DfspSpec {
    /// A DFSP owning `count` MSISDNs `{prefix}{n}`, `n` zero-padded to the width of `count - 1`
    /// (prefix `190123454`, count 100 → `19012345400` … `19012345499`).
    pub fn with_range(
        name: &str,
        prefix: &str,
        count: usize,
        ilp_secret: &str,
        currency: &str,
    ) -> DfspSpec {
        let width = count.saturating_sub(1).to_string().len();
        let msisdns = (0..count).map(|n| format!("{prefix}{n:0width$}")).collect();
        DfspSpec {
            name: name.to_string(),
            msisdns,
            ilp_secret: ilp_secret.to_string(),
            currency: currency.to_string(),
        }
    }
}

/// What the simulator needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    pub dfsps: Vec<DfspSpec>,
    pub switch: SwitchUrls,
    /// Longest time one outbound HTTP request may take, connection included.
    pub request_timeout_ms: u64,
    /// Longest time the payer waits for each callback.
    pub callback_timeout_ms: u64,
    /// JWS: sign what the DFSPs send and validate what they receive (`None`: neither).
    pub jws: Option<SimJws>,
    /// Mutual TLS: the server's certificate and the DFSPs' client certificates (`None`: plain
    /// HTTP).
    pub tls: Option<SimTls>,
}

/// A phase whose timings are recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Payer: `GET /parties` until its `PUT` callback.
    Lookup,
    /// Payer: `POST /quotes` until its `PUT` callback.
    Quote,
    /// Payer: `POST /transfers` until its `PUT` callback.
    Transfer,
    /// Payee: a `GET /parties` received until its callback was accepted by the switch.
    AnswerParty,
    /// Payee: a `POST /quotes` received until its callback was accepted.
    AnswerQuote,
    /// Payee: a `POST /transfers` received until its callback was accepted.
    AnswerTransfer,
}

/// Counts and durations of one phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseStats {
    /// Completed successfully.
    pub count: u64,
    /// Ended in an error or timeout.
    pub failures: u64,
    /// Sum of the successful durations.
    pub total: Duration,
    /// Longest successful duration.
    pub max: Duration,
}

impl PhaseStats {
    /// Mean successful duration (zero when none).
    pub fn mean(&self) -> Duration {
        match u32::try_from(self.count) {
            Ok(n) if n > 0 => self.total / n,
            _ => Duration::ZERO,
        }
    }
}

/// Which phases a payment runs: the perf harness's scenarios.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Scenario {
    /// Lookup, quote, transfer.
    #[default]
    EndToEnd,
    /// Lookup only.
    Discovery,
    /// Quote only (the payee DFSP given, no lookup).
    Quotes,
    /// Transfer only (the payee DFSP given; the payee's terms made locally, no quote).
    Transfers,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::EndToEnd => "end-to-end",
            Scenario::Discovery => "discovery",
            Scenario::Quotes => "quotes",
            Scenario::Transfers => "transfers",
        }
    }

    pub fn from_name(name: &str) -> Option<Scenario> {
        [
            Scenario::EndToEnd,
            Scenario::Discovery,
            Scenario::Quotes,
            Scenario::Transfers,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// Whether the scenario starts with a lookup.
    pub fn looks_up(self) -> bool {
        matches!(self, Scenario::EndToEnd | Scenario::Discovery)
    }
}

/// How a payment is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayOptions {
    /// The payer's customer (default: the payer DFSP's first MSISDN).
    pub payer_msisdn: Option<String>,
    /// The payee DFSP, when known without a lookup (required by `Quotes` and `Transfers`).
    pub payee_fsp: Option<String>,
    pub scenario: Scenario,
    /// Ask the payee to answer the transfer with a fulfilment that does not match the
    /// condition (the switch must refuse it): a check that the hub verifies fulfilments.
    pub wrong_fulfilment: bool,
    /// Ask the payee to make its ILP packet in this version (default v4); Mojaloop's SDK
    /// for FSPIOP 1.x makes v1.
    pub ilp_version: Option<IlpVersion>,
}

/// The quote extension that asks a simulated payee for an ILP packet of a version.
const ILP_VERSION_KEY: &str = "simIlpVersion";

/// The transfer extension that asks a simulated payee for a wrong fulfilment.
const WRONG_FULFILMENT_KEY: &str = "simAnswer";
const WRONG_FULFILMENT_VALUE: &str = "wrongFulfilment";

/// A payment that went through. Phases a scenario skips have a zero duration (and, without a
/// transfer, an empty `transfer_id` and `transfer_state`).
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentReport {
    pub transfer_id: String,
    pub quote_id: String,
    /// The payee DFSP the lookup found.
    pub payee_fsp: String,
    /// The amount transferred, as quoted.
    pub transfer_amount: String,
    pub currency: String,
    /// Final state reported to the payer (`COMMITTED`).
    pub transfer_state: String,
    pub lookup: Duration,
    pub quote: Duration,
    pub transfer: Duration,
}

impl PaymentReport {
    pub fn total(&self) -> Duration {
        self.lookup + self.quote + self.transfer
    }
}

/// Why a payment stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PaymentError {
    /// No simulated DFSP of that name.
    #[error("unknown payer DFSP {0}")]
    UnknownPayer(String),
    /// The switch (or the payee through it) answered with an FSPIOP error, synchronously or
    /// as an error callback.
    #[error("{phase:?}: FSPIOP error {code}: {description}")]
    Fspiop {
        phase: Phase,
        code: String,
        description: String,
    },
    /// The request could not be sent or was answered with a non-FSPIOP failure.
    #[error("{phase:?}: request failed: {detail}")]
    Request { phase: Phase, detail: String },
    /// No callback within `callback_timeout_ms`.
    #[error("{phase:?}: no callback within {timeout_ms} ms")]
    Timeout { phase: Phase, timeout_ms: u64 },
    /// The callback arrived but is not what the protocol requires.
    #[error("{phase:?}: invalid callback: {detail}")]
    InvalidCallback { phase: Phase, detail: String },
    /// A simulator in another process could not be asked to pay ([`RemoteSimulator`]).
    #[error("simulator: {0}")]
    Simulator(String),
}

impl PaymentError {
    /// The FSPIOP error code received, when there was one.
    pub fn fspiop_code(&self) -> Option<&str> {
        match self {
            PaymentError::Fspiop { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Could not start the simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("listener: {0}")]
    Listener(String),
    #[error("configuration: {0}")]
    Config(String),
}

/// A callback as the payer receives it.
#[derive(Debug, Clone)]
enum Callback {
    Ok(Value),
    Error { code: String, description: String },
}

use tls::Client;

struct Dfsp {
    spec: DfspSpec,
    /// The DFSP's ILP engine for v4 packets (its default).
    ilp: Ilp,
    /// The same secret for v1 packets, when a payment asks for them.
    ilp_v1: Ilp,
    msisdns: HashSet<String>,
}

impl Dfsp {
    /// The engine of `version`.
    fn ilp_of(&self, version: IlpVersion) -> &Ilp {
        match version {
            IlpVersion::V4 => &self.ilp,
            IlpVersion::V1 => &self.ilp_v1,
        }
    }
}

struct Inner {
    config: SimConfig,
    base: String,
    dfsps: HashMap<String, Dfsp>,
    client: Client,
    /// With TLS, each DFSP's client (presenting its certificate); others use `client`.
    clients: HashMap<String, Client>,
    waiters: Mutex<HashMap<String, Vec<oneshot::Sender<Callback>>>>,
    stats: Mutex<BTreeMap<Phase, PhaseStats>>,
    counters: Counters,
    jws: Option<security::Keys>,
}

/// How the payer's requests and the callbacks it received matched up, since the start.
#[derive(Debug, Default)]
struct Counters {
    /// Requests accepted by the switch, each expecting one callback.
    awaited: AtomicU64,
    /// Callbacks handed to a waiting payer.
    matched: AtomicU64,
    /// Callbacks nobody waited for (late, duplicated or unknown).
    unmatched: AtomicU64,
    /// Requests whose callback did not come in time.
    timeouts: AtomicU64,
}

/// A snapshot of the simulator's callback matching ([`Simulator::callback_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallbackCounts {
    pub awaited: u64,
    pub matched: u64,
    pub unmatched: u64,
    pub timeouts: u64,
}

impl Counters {
    fn snapshot(&self) -> CallbackCounts {
        CallbackCounts {
            awaited: self.awaited.load(Ordering::Relaxed),
            matched: self.matched.load(Ordering::Relaxed),
            unmatched: self.unmatched.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }
}

/// The running simulator. Dropping it stops the server.
pub struct Simulator {
    inner: Arc<Inner>,
    stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("base", &self.inner.base)
            .finish_non_exhaustive()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Longest body read from a peer.
const BODY_LEN_MAX_BYTES: usize = 1 << 20;
/// Placeholder payer MSISDN when the payer DFSP owns none.
const PAYER_MSISDN_FALLBACK: &str = "19000000000";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn content_type(resource: &str) -> String {
    format!("application/vnd.interoperability.{resource}+json;version=1.1")
}

fn error_body(code: &str, description: &str) -> Value {
    json!({"errorInformation": {"errorCode": code, "errorDescription": description}})
}

/// An outbound FSPIOP message's outcome: success, an FSPIOP error, or another failure.
enum Sent {
    Ok,
    Fspiop { code: String, description: String },
    Failed(String),
}

/// The callback endpoints of `dfsp` served by a simulator at `base`, as
/// `(endpoint type, URL template)`, for registration with the central ledger.
pub fn endpoints(base: &str, dfsp: &str) -> Vec<(String, String)> {
    let base = format!("{}/{dfsp}", base.trim_end_matches('/'));
    let parties = format!("{base}/parties/{{{{partyIdType}}}}/{{{{partyIdentifier}}}}");
    let sub = format!("{parties}/{{{{partySubIdOrType}}}}");
    let transfer = format!("{base}/transfers/{{{{transferId}}}}");
    [
        ("FSPIOP_CALLBACK_URL_PARTIES_GET", parties.clone()),
        ("FSPIOP_CALLBACK_URL_PARTIES_PUT", parties.clone()),
        (
            "FSPIOP_CALLBACK_URL_PARTIES_PUT_ERROR",
            format!("{parties}/error"),
        ),
        ("FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_GET", sub.clone()),
        ("FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_PUT", sub.clone()),
        (
            "FSPIOP_CALLBACK_URL_PARTIES_SUB_ID_PUT_ERROR",
            format!("{sub}/error"),
        ),
        ("FSPIOP_CALLBACK_URL_QUOTES", base.clone()),
        (
            "FSPIOP_CALLBACK_URL_TRANSFER_POST",
            format!("{base}/transfers"),
        ),
        ("FSPIOP_CALLBACK_URL_TRANSFER_PUT", transfer.clone()),
        (
            "FSPIOP_CALLBACK_URL_TRANSFER_ERROR",
            format!("{transfer}/error"),
        ),
    ]
    .into_iter()
    .map(|(kind, url)| (kind.to_string(), url))
    .collect()
}

impl Simulator {
    /// Starts serving every DFSP of `config` on `listener`.
    pub async fn start(
        config: SimConfig,
        listener: tokio::net::TcpListener,
    ) -> Result<Simulator, SimError> {
        let address = listener
            .local_addr()
            .map_err(|e| SimError::Listener(e.to_string()))?;
        let scheme = if config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let base = format!("{scheme}://{address}");
        let mut dfsps = HashMap::new();
        for spec in &config.dfsps {
            if spec.name.is_empty() || spec.name.contains('/') {
                return Err(SimError::Config(format!(
                    "DFSP name {:?} cannot be a path segment",
                    spec.name
                )));
            }
            let dfsp = Dfsp {
                ilp: Ilp::new(IlpVersion::V4, &spec.ilp_secret),
                ilp_v1: Ilp::new(IlpVersion::V1, &spec.ilp_secret),
                msisdns: spec.msisdns.iter().cloned().collect(),
                spec: spec.clone(),
            };
            if dfsps.insert(spec.name.clone(), dfsp).is_some() {
                return Err(SimError::Config(format!("DFSP {} given twice", spec.name)));
            }
        }
        let client = tls::client(None, config.request_timeout_ms)?;
        let (clients, tls_server) = match &config.tls {
            Some(tls) => (tls.clients(config.request_timeout_ms)?, Some(tls.server()?)),
            None => (HashMap::new(), None),
        };
        let jws = match &config.jws {
            Some(jws) => {
                let names = config.dfsps.iter().map(|d| d.name.clone()).collect();
                Some(security::load(jws, names).await?)
            }
            None => None,
        };
        let inner = Arc::new(Inner {
            config,
            base,
            dfsps,
            client,
            clients,
            waiters: Mutex::default(),
            stats: Mutex::default(),
            counters: Counters::default(),
            jws,
        });
        let router = Router::new()
            .route("/{dfsp}/parties/{*rest}", any(parties))
            .route("/{dfsp}/quotes", post(quotes_post))
            .route("/{dfsp}/quotes/{*rest}", any(quotes_callback))
            .route("/{dfsp}/transfers", post(transfers_post))
            .route("/{dfsp}/transfers/{*rest}", any(transfers_callback))
            .route("/{dfsp}/pay", post(remote::pay))
            .route("/{dfsp}/health", axum::routing::get(remote::dfsp_health))
            .route("/dfsps", axum::routing::get(remote::dfsps))
            .route("/stats", axum::routing::get(remote::stats))
            .route(
                "/health",
                any(|| async { axum::Json(json!({"status": "OK"})) }),
            )
            .layer(axum::middleware::from_fn_with_state(
                inner.clone(),
                security::validate,
            ))
            .with_state(inner.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            if let Err(error) =
                service_kit::tls::serve(listener, router, tls_server, shutdown).await
            {
                tracing::warn!(%error, "the DFSP simulator's server stopped");
            }
        });
        Ok(Simulator {
            inner,
            stop: Some(stop),
        })
    }

    /// The server's base URL (`http://host:port`, `https://` with TLS).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// The DFSPs simulated.
    pub fn dfsps(&self) -> Vec<&DfspSpec> {
        self.inner.config.dfsps.iter().collect()
    }

    /// The callback endpoints to register for `dfsp` with the central ledger.
    pub fn endpoints(&self, dfsp: &str) -> Vec<(String, String)> {
        endpoints(&self.inner.base, dfsp)
    }

    /// How requests and callbacks matched up so far.
    pub fn callback_counts(&self) -> CallbackCounts {
        self.inner.counters.snapshot()
    }

    /// A snapshot of the timings recorded so far.
    pub fn timings(&self) -> BTreeMap<Phase, PhaseStats> {
        self.inner
            .stats
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Pays `amount` (in the payer's currency) from DFSP `payer` to the owner of MSISDN
    /// `payee_msisdn`: lookup, quote and transfer, each waiting for its callback.
    pub async fn pay(
        &self,
        payer: &str,
        payee_msisdn: &str,
        amount: &str,
    ) -> Result<PaymentReport, PaymentError> {
        self.inner
            .pay(payer, payee_msisdn, amount, &PayOptions::default())
            .await
    }

    /// [`Simulator::pay`] on behalf of the payer's customer `payer_msisdn`.
    pub async fn pay_from(
        &self,
        payer: &str,
        payer_msisdn: &str,
        payee_msisdn: &str,
        amount: &str,
    ) -> Result<PaymentReport, PaymentError> {
        let options = PayOptions {
            payer_msisdn: Some(payer_msisdn.to_string()),
            ..PayOptions::default()
        };
        self.inner.pay(payer, payee_msisdn, amount, &options).await
    }

    /// [`Simulator::pay`] with every option.
    pub async fn pay_with(
        &self,
        payer: &str,
        payee_msisdn: &str,
        amount: &str,
        options: &PayOptions,
    ) -> Result<PaymentReport, PaymentError> {
        self.inner.pay(payer, payee_msisdn, amount, options).await
    }
}

impl Inner {
    /// Pays `amount` (in the payer's currency) from DFSP `payer` to the owner of MSISDN
    /// `payee_msisdn`: the phases of `options.scenario`, each waiting for its callback.
    async fn pay(
        &self,
        payer: &str,
        payee_msisdn: &str,
        amount: &str,
        options: &PayOptions,
    ) -> Result<PaymentReport, PaymentError> {
        let dfsp = self
            .dfsps
            .get(payer)
            .ok_or_else(|| PaymentError::UnknownPayer(payer.to_string()))?;
        let payer_msisdn = options
            .payer_msisdn
            .as_deref()
            .or_else(|| dfsp.spec.msisdns.first().map(String::as_str))
            .unwrap_or(PAYER_MSISDN_FALLBACK);
        let mut report = PaymentReport {
            transfer_id: String::new(),
            quote_id: String::new(),
            payee_fsp: options.payee_fsp.clone().unwrap_or_default(),
            transfer_amount: amount.to_string(),
            currency: dfsp.spec.currency.clone(),
            transfer_state: String::new(),
            lookup: Duration::ZERO,
            quote: Duration::ZERO,
            transfer: Duration::ZERO,
        };
        let mut payee_info = json!({"partyIdType": "MSISDN", "partyIdentifier": payee_msisdn, "fspId": report.payee_fsp});
        if options.scenario.looks_up() || report.payee_fsp.is_empty() {
            let started = Instant::now();
            let party = self
                .request(
                    Phase::Lookup,
                    format!("parties:{payer}:MSISDN/{payee_msisdn}"),
                    "GET",
                    &self.config.switch.als,
                    &format!("/parties/MSISDN/{payee_msisdn}"),
                    payer,
                    None,
                    None,
                )
                .await;
            let party = self.record(Phase::Lookup, started, party)?;
            report.lookup = started.elapsed();
            payee_info = at(&party, "/party/partyIdInfo").clone();
            report.payee_fsp = at(&payee_info, "/fspId")
                .as_str()
                .unwrap_or_default()
                .to_string();
            if report.payee_fsp.is_empty() {
                return Err(PaymentError::InvalidCallback {
                    phase: Phase::Lookup,
                    detail: "no party.partyIdInfo.fspId".into(),
                });
            }
        }
        if options.scenario == Scenario::Discovery {
            return Ok(report);
        }
        let payee_fsp = report.payee_fsp.clone();

        let quote_id = uuid::Uuid::new_v4().to_string();
        let mut quote_request = json!({
            "quoteId": quote_id,
            "transactionId": uuid::Uuid::new_v4().to_string(),
            "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": payer_msisdn, "fspId": payer}},
            "payee": {"partyIdInfo": payee_info},
            "amountType": "SEND",
            "amount": {"amount": amount, "currency": dfsp.spec.currency},
            "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"},
        });
        if let Some(version) = options.ilp_version {
            set(
                &mut quote_request,
                "extensionList",
                json!({"extension": [{"key": ILP_VERSION_KEY, "value": version.name()}]}),
            );
        }
        let quote = if options.scenario == Scenario::Transfers {
            // No quote on the wire: the terms the payee would have quoted, made with the
            // payee's own secret (the payee must be simulated here).
            self.offline_terms(&payee_fsp, &quote_request)?
        } else {
            let started = Instant::now();
            let quote = self
                .request(
                    Phase::Quote,
                    format!("quotes:{payer}:{quote_id}"),
                    "POST",
                    &self.config.switch.quotes,
                    "/quotes",
                    payer,
                    Some(&payee_fsp),
                    Some(&quote_request),
                )
                .await;
            let quote = self.record(Phase::Quote, started, quote)?;
            report.quote = started.elapsed();
            report.quote_id = quote_id;
            quote
        };
        let field = |name: &str| {
            at(&quote, &format!("/{name}"))
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| PaymentError::InvalidCallback {
                    phase: Phase::Quote,
                    detail: format!("no {name}"),
                })
        };
        let (ilp_packet, condition, expiration) = (
            field("ilpPacket")?,
            field("condition")?,
            field("expiration")?,
        );
        let transfer_amount = at(&quote, "/transferAmount").clone();
        let (Some(quoted), Some(currency)) = (
            at(&transfer_amount, "/amount").as_str(),
            at(&transfer_amount, "/currency").as_str(),
        ) else {
            return Err(PaymentError::InvalidCallback {
                phase: Phase::Quote,
                detail: "no transferAmount".into(),
            });
        };
        report.transfer_amount = quoted.to_string();
        report.currency = currency.to_string();
        if options.scenario == Scenario::Quotes {
            return Ok(report);
        }

        let started = Instant::now();
        let transfer_id = uuid::Uuid::new_v4().to_string();
        let mut prepare = json!({
            "transferId": transfer_id,
            "payerFsp": payer,
            "payeeFsp": payee_fsp,
            "amount": transfer_amount,
            "ilpPacket": ilp_packet,
            "condition": condition,
            "expiration": expiration,
        });
        if let (true, Some(object)) = (options.wrong_fulfilment, prepare.as_object_mut()) {
            object.insert(
                "extensionList".into(),
                json!({"extension": [{"key": WRONG_FULFILMENT_KEY, "value": WRONG_FULFILMENT_VALUE}]}),
            );
        }
        report.transfer_id = transfer_id.clone();
        let transfer = self
            .request(
                Phase::Transfer,
                format!("transfers:{payer}:{transfer_id}"),
                "POST",
                &self.config.switch.transfers,
                "/transfers",
                payer,
                Some(&payee_fsp),
                Some(&prepare),
            )
            .await;
        let checked = transfer.and_then(|body| {
            let state = at(&body, "/transferState")
                .as_str()
                .unwrap_or_default()
                .to_string();
            if state != "COMMITTED" {
                return Err(PaymentError::InvalidCallback {
                    phase: Phase::Transfer,
                    detail: format!("transferState {state:?}"),
                });
            }
            let fulfilment = at(&body, "/fulfilment").as_str().unwrap_or_default();
            if !fspiop::ilp::fulfilment_matches(fulfilment, &condition) {
                return Err(PaymentError::InvalidCallback {
                    phase: Phase::Transfer,
                    detail: "the fulfilment does not match the condition".into(),
                });
            }
            Ok(state)
        });
        report.transfer_state = self.record(Phase::Transfer, started, checked)?;
        report.transfer = started.elapsed();
        Ok(report)
    }

    /// The quote `payee_fsp` would answer to `quote_request`, made locally.
    fn offline_terms(&self, payee_fsp: &str, quote_request: &Value) -> Result<Value, PaymentError> {
        let invalid = |detail: String| PaymentError::InvalidCallback {
            phase: Phase::Quote,
            detail,
        };
        let payee = self.dfsps.get(payee_fsp).ok_or_else(|| {
            invalid(format!(
                "{payee_fsp} is not simulated here; a transfers-only payment needs its secret"
            ))
        })?;
        let expiration = fspiop::datetime::format_date_time(
            now_ms()
                + i64::try_from(self.config.callback_timeout_ms)
                    .unwrap_or(60_000)
                    .max(60_000),
        );
        let mut response = json!({"transferAmount": at(quote_request, "/amount").clone(), "expiration": expiration});
        let terms = payee
            .ilp
            .quote_response_terms(quote_request, &response)
            .map_err(|e| invalid(e.to_string()))?;
        set(&mut response, "ilpPacket", json!(terms.ilp_packet));
        set(&mut response, "condition", json!(terms.condition));
        Ok(response)
    }

    fn record<T>(
        &self,
        phase: Phase,
        started: Instant,
        outcome: Result<T, PaymentError>,
    ) -> Result<T, PaymentError> {
        self.record_outcome(phase, started.elapsed(), outcome.is_ok());
        outcome
    }

    fn record_outcome(&self, phase: Phase, elapsed: Duration, ok: bool) {
        if let Ok(mut stats) = self.stats.lock() {
            let entry = stats.entry(phase).or_default();
            if ok {
                entry.count += 1;
                entry.total += elapsed;
                entry.max = entry.max.max(elapsed);
            } else {
                entry.failures += 1;
            }
        }
    }

    /// Registers a waiter for `key`, sends the request, waits for the callback.
    #[allow(clippy::too_many_arguments)]
    async fn request(
        &self,
        phase: Phase,
        key: String,
        method: &'static str,
        base: &str,
        path: &str,
        source: &str,
        destination: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Value, PaymentError> {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.entry(key.clone()).or_default().push(tx);
        }
        let sent = self
            .send(
                method,
                &format!("{base}{path}"),
                path,
                source,
                destination,
                body,
            )
            .await;
        if matches!(sent, Sent::Ok) {
            self.counters.awaited.fetch_add(1, Ordering::Relaxed);
        }
        let outcome = match sent {
            Sent::Ok => match tokio::time::timeout(
                Duration::from_millis(self.config.callback_timeout_ms),
                rx,
            )
            .await
            {
                Ok(Ok(Callback::Ok(body))) => Ok(body),
                Ok(Ok(Callback::Error { code, description })) => Err(PaymentError::Fspiop {
                    phase,
                    code,
                    description,
                }),
                Ok(Err(_)) | Err(_) => {
                    self.counters.timeouts.fetch_add(1, Ordering::Relaxed);
                    Err(PaymentError::Timeout {
                        phase,
                        timeout_ms: self.config.callback_timeout_ms,
                    })
                }
            },
            Sent::Fspiop { code, description } => Err(PaymentError::Fspiop {
                phase,
                code,
                description,
            }),
            Sent::Failed(detail) => Err(PaymentError::Request { phase, detail }),
        };
        if let Ok(mut waiters) = self.waiters.lock() {
            if let Some(list) = waiters.get_mut(&key) {
                list.retain(|sender| !sender.is_closed());
                if list.is_empty() {
                    waiters.remove(&key);
                }
            }
        }
        outcome
    }

    /// Wakes every payer waiting for `key`.
    /// Hands a callback to the oldest payer waiting for `key` (requests with the same key, such
    /// as two lookups of one MSISDN, are answered in order, one callback each).
    fn wake(&self, key: &str, callback: Callback) {
        let mut callback = Some(callback);
        if let Ok(mut waiters) = self.waiters.lock() {
            if let Some(list) = waiters.get_mut(key) {
                while !list.is_empty() {
                    let sender = list.remove(0);
                    match sender.send(callback.take().unwrap_or(Callback::Ok(Value::Null))) {
                        Ok(()) => break,
                        // That payer gave up waiting; try the next.
                        Err(returned) => callback = Some(returned),
                    }
                }
                if list.is_empty() {
                    waiters.remove(key);
                }
            }
        }
        if callback.is_some() {
            self.counters.unmatched.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(key, "callback nobody waits for");
        } else {
            self.counters.matched.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends one FSPIOP message with the DFSP's headers.
    async fn send(
        &self,
        method: &'static str,
        url: &str,
        uri_path: &str,
        source: &str,
        destination: Option<&str>,
        body: Option<&Value>,
    ) -> Sent {
        let resource = uri_path
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or_default();
        let mut headers: Vec<(String, String)> = vec![
            ("content-type".into(), content_type(resource)),
            ("date".into(), fspiop::datetime::format_http_date(now_ms())),
            ("fspiop-source".into(), source.to_string()),
            ("fspiop-uri".into(), uri_path.to_string()),
            ("fspiop-http-method".into(), method.to_string()),
        ];
        if method != "PUT" && method != "PATCH" {
            headers.push((
                "accept".into(),
                format!("application/vnd.interoperability.{resource}+json;version=1"),
            ));
        }
        if let Some(destination) = destination {
            headers.push(("fspiop-destination".into(), destination.to_string()));
        }
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        if let Some(keys) = &self.jws {
            keys.sign(source, method, url, uri_path, &mut headers, &bytes);
        }
        let mut builder = hyper::Request::builder().method(method).uri(url);
        for (name, value) in &headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = match builder.body(http_body_util::Full::new(bytes::Bytes::from(bytes))) {
            Ok(request) => request,
            Err(error) => return Sent::Failed(format!("{method} {url}: {error}")),
        };
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        let client = self.clients.get(source).unwrap_or(&self.client);
        let response = match tokio::time::timeout(timeout, client.request(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => return Sent::Failed(format!("{method} {url}: {error}")),
            Err(_) => {
                return Sent::Failed(format!(
                    "{method} {url}: no answer within {} ms",
                    self.config.request_timeout_ms
                ))
            }
        };
        let status = response.status();
        if status.is_success() {
            return Sent::Ok;
        }
        let body = match tokio::time::timeout(
            timeout,
            http_body_util::BodyExt::collect(http_body_util::Limited::new(
                response.into_body(),
                BODY_LEN_MAX_BYTES,
            )),
        )
        .await
        {
            Ok(Ok(collected)) => collected.to_bytes(),
            _ => bytes::Bytes::new(),
        };
        let parsed: Value = serde_json::from_slice(&body).unwrap_or_default();
        match at(&parsed, "/errorInformation/errorCode").as_str() {
            Some(code) => Sent::Fspiop {
                code: code.to_string(),
                description: at(&parsed, "/errorInformation/errorDescription")
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            },
            None => Sent::Failed(format!("{method} {url}: HTTP {}", status.as_u16())),
        }
    }

    /// A payee's callback, timed from when its request arrived.
    #[allow(clippy::too_many_arguments)]
    async fn answer(
        &self,
        phase: Phase,
        started: Instant,
        base: &str,
        path: String,
        source: &str,
        destination: &str,
        body: Value,
    ) {
        let ok = match self
            .send(
                "PUT",
                &format!("{base}{path}"),
                &path,
                source,
                Some(destination),
                Some(&body),
            )
            .await
        {
            Sent::Ok => true,
            Sent::Fspiop { code, description } => {
                tracing::warn!(%path, %code, %description, "the switch refused a simulated DFSP's callback");
                false
            }
            Sent::Failed(detail) => {
                tracing::warn!(%path, %detail, "a simulated DFSP's callback failed");
                false
            }
        };
        self.record_outcome(phase, started.elapsed(), ok);
    }
}

/// The value at JSON `pointer`, Null when absent.
fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value.pointer(pointer).unwrap_or(&Value::Null)
}

fn set(value: &mut Value, key: &str, field: Value) {
    if let Some(object) = value.as_object_mut() {
        object.insert(key.to_string(), field);
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn fspiop_error(status: StatusCode, code: &str, description: &str) -> Response {
    (status, axum::Json(error_body(code, description))).into_response()
}

fn callback_from(path_is_error: bool, body: &[u8]) -> Callback {
    let value: Value = serde_json::from_slice(body).unwrap_or_default();
    if path_is_error {
        let information = at(&value, "/errorInformation");
        Callback::Error {
            code: at(information, "/errorCode")
                .as_str()
                .unwrap_or_default()
                .to_string(),
            description: at(information, "/errorDescription")
                .as_str()
                .unwrap_or_default()
                .to_string(),
        }
    } else {
        Callback::Ok(value)
    }
}

type Shared = State<Arc<Inner>>;

/// `/{dfsp}/parties/{Type}/{ID}[/{SubId}][/error]`: GET as the payee, PUT as the payer.
async fn parties(
    State(inner): Shared,
    Path((dfsp, rest)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let started = Instant::now();
    let Some(sim) = inner.dfsps.get(&dfsp) else {
        return fspiop_error(
            StatusCode::NOT_FOUND,
            "3200",
            "Generic ID not found - unknown DFSP",
        );
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let (is_error, party) = match segments.split_last() {
        Some((&"error", party)) => (true, party.to_vec()),
        _ => (false, segments.clone()),
    };
    if !(2..=3).contains(&party.len()) || party.iter().any(|s| s.is_empty()) {
        return fspiop_error(StatusCode::NOT_FOUND, "3002", "Unknown URI");
    }
    if method == Method::PUT {
        inner.wake(
            &format!("parties:{dfsp}:{}", party.join("/")),
            callback_from(is_error, &body),
        );
        return StatusCode::OK.into_response();
    }
    if method != Method::GET || is_error {
        return fspiop_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "3000",
            "Generic client error - method not allowed",
        );
    }
    let Some(requester) = header(&headers, "fspiop-source") else {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3102",
            "Missing mandatory element - fspiop-source",
        );
    };
    let (id_type, id) = match party.as_slice() {
        [t, i, ..] => ((*t).to_string(), (*i).to_string()),
        _ => return fspiop_error(StatusCode::NOT_FOUND, "3002", "Unknown URI"),
    };
    let sub_id = party.get(2).map(|s| (*s).to_string());
    let path = format!("/parties/{}", party.join("/"));
    let found = id_type == "MSISDN" && sim.msisdns.contains(&id);
    let name = sim.spec.name.clone();
    let inner = inner.clone();
    tokio::spawn(async move {
        let als = inner.config.switch.als.clone();
        if found {
            let mut id_info = json!({"partyIdType": id_type, "partyIdentifier": id, "fspId": name});
            if let Some(sub_id) = sub_id {
                set(&mut id_info, "partySubIdOrType", json!(sub_id));
            }
            let body = json!({"party": {
                "partyIdInfo": id_info,
                "name": "Simulated Customer",
                "personalInfo": {"complexName": {"firstName": "Simulated", "lastName": "Customer"}},
            }});
            inner
                .answer(
                    Phase::AnswerParty,
                    started,
                    &als,
                    path,
                    &name,
                    &requester,
                    body,
                )
                .await;
        } else {
            let body = error_body("3204", "Party not found");
            inner
                .answer(
                    Phase::AnswerParty,
                    started,
                    &als,
                    format!("{path}/error"),
                    &name,
                    &requester,
                    body,
                )
                .await;
        }
    });
    StatusCode::ACCEPTED.into_response()
}

/// `POST /{dfsp}/quotes`: the payee's quote, with ILP terms made with its secret.
async fn quotes_post(
    State(inner): Shared,
    Path(dfsp): Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let started = Instant::now();
    let Some(sim) = inner.dfsps.get(&dfsp) else {
        return fspiop_error(
            StatusCode::NOT_FOUND,
            "3200",
            "Generic ID not found - unknown DFSP",
        );
    };
    let Some(requester) = header(&headers, "fspiop-source") else {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3102",
            "Missing mandatory element - fspiop-source",
        );
    };
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3101",
            "Malformed syntax - body is not JSON",
        );
    };
    let Some(quote_id) = at(&request, "/quoteId").as_str().map(str::to_string) else {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3102",
            "Missing mandatory element - quoteId",
        );
    };
    let name = sim.spec.name.clone();
    let asked_version = at(&request, "/extensionList/extension")
        .as_array()
        .and_then(|list| {
            list.iter()
                .find(|e| e["key"] == ILP_VERSION_KEY)
                .and_then(|e| e["value"].as_str())
                .and_then(IlpVersion::from_name)
        })
        .unwrap_or(IlpVersion::V4);
    let ilp = sim.ilp_of(asked_version).clone();
    let inner = inner.clone();
    tokio::spawn(async move {
        let base = inner.config.switch.quotes.clone();
        let expiration = fspiop::datetime::format_date_time(
            now_ms()
                + i64::try_from(inner.config.callback_timeout_ms)
                    .unwrap_or(60_000)
                    .max(60_000),
        );
        let mut response =
            json!({"transferAmount": at(&request, "/amount").clone(), "expiration": expiration});
        let (path, body) = match ilp.quote_response_terms(&request, &response) {
            Ok(terms) => {
                set(&mut response, "ilpPacket", json!(terms.ilp_packet));
                set(&mut response, "condition", json!(terms.condition));
                (format!("/quotes/{quote_id}"), response)
            }
            Err(error) => (
                format!("/quotes/{quote_id}/error"),
                error_body("5101", &format!("Payee rejected quote - {error}")),
            ),
        };
        inner
            .answer(
                Phase::AnswerQuote,
                started,
                &base,
                path,
                &name,
                &requester,
                body,
            )
            .await;
    });
    StatusCode::ACCEPTED.into_response()
}

/// `PUT /{dfsp}/quotes/{id}[/error]`: the payer's callback.
async fn quotes_callback(
    State(inner): Shared,
    Path((dfsp, rest)): Path<(String, String)>,
    method: Method,
    body: bytes::Bytes,
) -> Response {
    callback(&inner, "quotes", &dfsp, &rest, &method, &body)
}

/// `PUT|PATCH /{dfsp}/transfers/{id}[/error]`: the payer's callback (PATCH is only
/// acknowledged).
async fn transfers_callback(
    State(inner): Shared,
    Path((dfsp, rest)): Path<(String, String)>,
    method: Method,
    body: bytes::Bytes,
) -> Response {
    callback(&inner, "transfers", &dfsp, &rest, &method, &body)
}

fn callback(
    inner: &Inner,
    resource: &str,
    dfsp: &str,
    rest: &str,
    method: &Method,
    body: &[u8],
) -> Response {
    if !inner.dfsps.contains_key(dfsp) {
        return fspiop_error(
            StatusCode::NOT_FOUND,
            "3200",
            "Generic ID not found - unknown DFSP",
        );
    }
    let (id, is_error) = match rest.strip_suffix("/error") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    if id.is_empty() || id.contains('/') {
        return fspiop_error(StatusCode::NOT_FOUND, "3002", "Unknown URI");
    }
    if *method == Method::PATCH && !is_error {
        return StatusCode::OK.into_response();
    }
    if *method != Method::PUT {
        return fspiop_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "3000",
            "Generic client error - method not allowed",
        );
    }
    inner.wake(
        &format!("{resource}:{dfsp}:{id}"),
        callback_from(is_error, body),
    );
    StatusCode::OK.into_response()
}

/// `POST /{dfsp}/transfers`: the payee fulfils with the fulfilment its secret gives the packet.
async fn transfers_post(
    State(inner): Shared,
    Path(dfsp): Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let started = Instant::now();
    let Some(sim) = inner.dfsps.get(&dfsp) else {
        return fspiop_error(
            StatusCode::NOT_FOUND,
            "3200",
            "Generic ID not found - unknown DFSP",
        );
    };
    let Some(requester) = header(&headers, "fspiop-source") else {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3102",
            "Missing mandatory element - fspiop-source",
        );
    };
    let Ok(prepare) = serde_json::from_slice::<Value>(&body) else {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3101",
            "Malformed syntax - body is not JSON",
        );
    };
    let Some(transfer_id) = at(&prepare, "/transferId").as_str().map(str::to_string) else {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3102",
            "Missing mandatory element - transferId",
        );
    };
    let name = sim.spec.name.clone();
    // The fulfilment is re-derived by the engine of the packet's own version.
    let packet_version = at(&prepare, "/ilpPacket")
        .as_str()
        .and_then(|p| fspiop::ilp::decode_packet_of(p, fspiop::ilp::IlpVersions::BOTH).ok())
        .map_or(IlpVersion::V4, |p| p.version());
    let ilp = sim.ilp_of(packet_version).clone();
    let inner = inner.clone();
    tokio::spawn(async move {
        let base = inner.config.switch.transfers.clone();
        let condition = at(&prepare, "/condition").as_str().unwrap_or_default();
        let wrong = at(&prepare, "/extensionList/extension")
            .as_array()
            .is_some_and(|list| {
                list.iter().any(|e| {
                    e["key"] == WRONG_FULFILMENT_KEY && e["value"] == WRONG_FULFILMENT_VALUE
                })
            });
        let (path, body) = match ilp
            .fulfilment_for_packet(at(&prepare, "/ilpPacket").as_str().unwrap_or_default())
            // A well-formed 32-byte preimage that is not this condition's.
            .map(|f| if wrong { "A".repeat(43) } else { f })
        {
            Ok(fulfilment) if wrong => (
                format!("/transfers/{transfer_id}"),
                json!({"fulfilment": fulfilment, "completedTimestamp": fspiop::datetime::format_date_time(now_ms()), "transferState": "COMMITTED"}),
            ),
            Ok(fulfilment) if fspiop::ilp::fulfilment_matches(&fulfilment, condition) => (
                format!("/transfers/{transfer_id}"),
                json!({"fulfilment": fulfilment, "completedTimestamp": fspiop::datetime::format_date_time(now_ms()), "transferState": "COMMITTED"}),
            ),
            Ok(_) => (
                format!("/transfers/{transfer_id}/error"),
                error_body(
                    "5105",
                    "Payee FSP rejected transaction - the condition is not this payee's",
                ),
            ),
            Err(error) => (
                format!("/transfers/{transfer_id}/error"),
                error_body("5105", &format!("Payee FSP rejected transaction - {error}")),
            ),
        };
        inner
            .answer(
                Phase::AnswerTransfer,
                started,
                &base,
                path,
                &name,
                &requester,
                body,
            )
            .await;
    });
    StatusCode::ACCEPTED.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_zero_padded() {
        let spec = DfspSpec::with_range("perffsp-5", "190123454", 100, "s", "USD");
        assert_eq!(spec.msisdns.len(), 100);
        assert_eq!(
            spec.msisdns.first().map(String::as_str),
            Some("19012345400")
        );
        assert_eq!(spec.msisdns.last().map(String::as_str), Some("19012345499"));
        let ten = DfspSpec::with_range("perffsp-1", "1901234500", 10, "s", "USD");
        assert_eq!(ten.msisdns.first().map(String::as_str), Some("19012345000"));
        assert_eq!(ten.msisdns.last().map(String::as_str), Some("19012345009"));
    }

    #[test]
    fn mean_of_nothing_is_zero() {
        assert_eq!(PhaseStats::default().mean(), Duration::ZERO);
        let stats = PhaseStats {
            count: 2,
            failures: 0,
            total: Duration::from_millis(10),
            max: Duration::from_millis(6),
        };
        assert_eq!(stats.mean(), Duration::from_millis(5));
    }
}
