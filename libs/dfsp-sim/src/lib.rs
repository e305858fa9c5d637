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
//! **Currency conversion** (FSPIOP 2.0, payer conversion). A DFSP whose spec has an
//! [`FxpSpec`] is also a **foreign exchange provider** (FXP): it answers `POST /fxQuotes`,
//! `POST /fxTransfers` and `PATCH /fxTransfers/{ID}` (see the `fx` module; the PATCHes are
//! counted, [`Simulator::fx_patches`]). When some simulated DFSP is an FXP, payers look up in
//! FSPIOP 2.0 (`Accept` versions 2 and 1, so a payee answers 2.0 with its
//! `party.supportedCurrencies`) and a payment to a payee that does not hold the payer's
//! currency (by its lookup answer, else by the payee DFSP's spec when it is simulated here)
//! runs: lookup → `POST /fxQuotes` to the FXP (the simulated FXP converting that pair, else
//! the first FXP, which refuses) for the amount in the payer's currency (SEND) → `POST
//! /quotes` to the payee for the FXP's target amount in the payee's currency (`converter:
//! PAYER`, `currencyConversion`, `payer.supportedCurrencies` = the payer's currency) → `POST
//! /fxTransfers` (`commitRequestId` = the quote's `conversionId`, `determiningTransferId` =
//! the transfer's id, expiring after twice the callback timeout) until the FXP's `PUT
//! /fxTransfers` RESERVED → `POST /transfers` of the target amount, until `PUT /transfers`
//! COMMITTED. [`Scenario::Fx`] is that payment, refused when the payee holds the payer's
//! currency. The FX phases are timed ([`Phase::FxQuote`], [`Phase::FxTransfer`], and the FXP's
//! [`Phase::AnswerFxQuote`], [`Phase::AnswerFxTransfer`]) and reported in [`PaymentReport`].
//!
//! **Request to pay** (FSPIOP payee-initiated transaction). A DFSP asks to be paid
//! ([`Simulator::request_to_pay`]): lookup of the payer's customer → `POST
//! /transactionRequests` to the payer DFSP through the switch's transaction requests service,
//! until its `PUT` (RECEIVED, or REJECTED: declined). As payer, a DFSP answers that request and
//! then quotes (`transactionRequestId` carried, initiator PAYEE, amountType RECEIVE), asks the
//! payee for the customer's OTP (`GET /authorizations/{ID}`, answered by the payee with
//! [`otp`] of the request's id) and transfers; the payee waits for the payer's outcome when
//! the payer is simulated here. [`Scenario::RequestToPay`] is that payment seen from the payer
//! and payee of a pair. Phases: [`Phase::TransactionRequest`], [`Phase::Authorization`] and the
//! answers [`Phase::AnswerTransactionRequest`], [`Phase::AnswerAuthorization`]; the payer's
//! quote and transfer are [`Phase::Quote`] and [`Phase::Transfer`].
//!
//! **Bulk payments** (FSPIOP `/bulkQuotes`, `/bulkTransfers`). [`Simulator::bulk`] pays many
//! payees from one payer DFSP: one bulk quote and one bulk transfer per payee DFSP, side by
//! side ([`Phase::BulkQuote`], [`Phase::BulkTransfer`]); as payee a DFSP quotes each of its
//! customers with the same ILP terms a single quote gets (3204 for anyone else) and fulfils
//! each transfer from its packet ([`Phase::AnswerBulkQuote`], [`Phase::AnswerBulkTransfer`]).
//! The report ([`BulkReport`]) counts committed and failed transfers with their codes; see the
//! `bulk` module.
//!
//! Everything sent carries FSPIOP headers (`Content-Type`, `Date`, `FSPIOP-Source`,
//! `FSPIOP-Destination` when known, `FSPIOP-URI`); `Accept` only on requests, never on `PUT`
//! callbacks. Versions: 1.1 (`Accept` version 1) by default; 2.0 (`Accept` version 2) for
//! fxQuotes, fxTransfers, and the quote and transfer of a payment with a conversion; a payee
//! answers a lookup in 2.0 when its `Accept` lists a 2.x version, a quote or a transfer in the
//! version of its `Content-Type`. The outbound client is hyper directly, because higher-level
//! clients add an `Accept` of their own. It speaks plain HTTP, or with [`SimTls`] mutual TLS
//! both ways (the server requires a scheme certificate; each DFSP presents its own client
//! certificate).
//!
//! Per-phase timings (payer phases and the payee's and FXP's answers) are kept and readable
//! through [`Simulator::timings`].

mod bulk;
mod client;
mod fx;
pub mod layout;
mod payee;
mod payer;
pub mod provision;
mod remote;
mod request_to_pay;
mod security;
mod tls;
mod trace;

pub use bulk::{BulkOptions, BulkOutcome, BulkPayee, BulkReport, IndividualOutcome};
pub use remote::{RemoteSimulator, SignatureCounts};
pub use request_to_pay::{otp, RequestOptions};
pub use security::SimJws;
pub use tls::SimTls;

use bulk::{bulk_quotes_callback, bulk_quotes_post, bulk_transfers_callback, bulk_transfers_post};
use client::{Sent, Wire};
use fx::{fx_quotes_post, fx_transfers_callback, fx_transfers_post, Rate};
use payee::{parties, quotes_post, transfers_post};
use payer::{callback_from, fx_quotes_callback, quotes_callback, transfers_callback, Terms};
use request_to_pay::{authorizations, transaction_requests, transaction_requests_post};

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
    /// Transaction requests service base (`/transactionRequests`, `/authorizations`).
    pub transaction_requests: String,
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
    /// The currency it quotes and pays in (an FXP's: its source currency).
    pub currency: String,
    /// Set when the DFSP is a foreign exchange provider: the conversion it offers.
    pub fxp: Option<FxpSpec>,
}

/// The conversion a simulated foreign exchange provider (FXP) offers: `source_currency` →
/// `target_currency` at `rate` target units per source unit, an exact decimal (`"0.9"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxpSpec {
    pub source_currency: String,
    pub target_currency: String,
    /// A positive decimal (`digits[.digits]`), never a float.
    pub rate: String,
}

impl FxpSpec {
    pub fn new(source_currency: &str, target_currency: &str, rate: &str) -> FxpSpec {
        FxpSpec {
            source_currency: source_currency.to_string(),
            target_currency: target_currency.to_string(),
            rate: rate.to_string(),
        }
    }

    /// Whether it converts `source` → `target`.
    pub fn converts(&self, source: &str, target: &str) -> bool {
        self.source_currency == source && self.target_currency == target
    }
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
            fxp: None,
        }
    }

    /// A foreign exchange provider owning no MSISDNs, its currency `fxp`'s source currency.
    pub fn fxp(name: &str, ilp_secret: &str, fxp: FxpSpec) -> DfspSpec {
        DfspSpec {
            name: name.to_string(),
            msisdns: Vec::new(),
            ilp_secret: ilp_secret.to_string(),
            currency: fxp.source_currency.clone(),
            fxp: Some(fxp),
        }
    }

    /// The same DFSP offering the conversion `fxp` too.
    pub fn with_fxp(mut self, fxp: FxpSpec) -> DfspSpec {
        self.fxp = Some(fxp);
        self
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
    /// Payer of a currency conversion: `POST /fxQuotes` until its `PUT` callback.
    FxQuote,
    /// Payer of a currency conversion: `POST /fxTransfers` until its `PUT` callback.
    FxTransfer,
    /// FXP: a `POST /fxQuotes` received until its callback was accepted.
    AnswerFxQuote,
    /// FXP: a `POST /fxTransfers` received until its callback was accepted.
    AnswerFxTransfer,
    /// Payee asking to be paid: `POST /transactionRequests` until its `PUT` callback.
    TransactionRequest,
    /// Payer of a request to pay: `GET /authorizations` until its `PUT` callback (the OTP).
    Authorization,
    /// Payer: a `POST /transactionRequests` received until its callback was accepted.
    AnswerTransactionRequest,
    /// Payee: a `GET /authorizations` received until its callback was accepted.
    AnswerAuthorization,
    /// Payer of a bulk: `POST /bulkQuotes` until its `PUT` callback.
    BulkQuote,
    /// Payer of a bulk: `POST /bulkTransfers` until the hub's `PUT` callback.
    BulkTransfer,
    /// Payee: a `POST /bulkQuotes` received until its callback was accepted.
    AnswerBulkQuote,
    /// Payee: a `POST /bulkTransfers` received until its callback was accepted.
    AnswerBulkTransfer,
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
    /// Lookup, then a currency conversion (payer conversion, FSPIOP 2.0): FX quote, quote,
    /// FX transfer, transfer. The payee must not hold the payer's currency.
    Fx,
    /// A request to pay (payee-initiated): the payee looks the payer up and asks it to pay
    /// (`POST /transactionRequests`); the payer quotes, has the payee's customer authorize
    /// with an OTP and transfers. See [`Simulator::request_to_pay`].
    RequestToPay,
    /// A bulk payment: one payer DFSP pays many payees of a payee DFSP in one bulk quote
    /// (`POST /bulkQuotes`) and one bulk transfer (`POST /bulkTransfers`). Not a single
    /// payment: see [`Simulator::bulk`] (`pay` refuses it).
    Bulk,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::EndToEnd => "end-to-end",
            Scenario::Discovery => "discovery",
            Scenario::Quotes => "quotes",
            Scenario::Transfers => "transfers",
            Scenario::Fx => "fx",
            Scenario::RequestToPay => "request-to-pay",
            Scenario::Bulk => "bulk",
        }
    }

    pub fn from_name(name: &str) -> Option<Scenario> {
        [
            Scenario::EndToEnd,
            Scenario::Discovery,
            Scenario::Quotes,
            Scenario::Transfers,
            Scenario::Fx,
            Scenario::RequestToPay,
            Scenario::Bulk,
        ]
        .into_iter()
        .find(|s| s.name() == name)
    }

    /// Whether the scenario starts with a lookup.
    pub fn looks_up(self) -> bool {
        matches!(
            self,
            Scenario::EndToEnd | Scenario::Discovery | Scenario::Fx | Scenario::RequestToPay
        )
    }
}

/// The ids a payer gives its quotes, transactions, conversions and transfers. The switch keys
/// its tables by them: time-ordered ids land at the right edge of each B-tree, random ones on
/// random pages (perf/README.md, "Time-ordered ids").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PaymentIds {
    /// UUID v4, what most DFSPs send.
    #[default]
    Random,
    /// UUID v7: the millisecond time first, so later ids sort after earlier ones (FSPIOP's
    /// CorrelationId accepts versions 1 to 7, and ULIDs, also time-ordered).
    TimeOrdered,
}

impl PaymentIds {
    pub fn name(self) -> &'static str {
        match self {
            PaymentIds::Random => "random",
            PaymentIds::TimeOrdered => "time-ordered",
        }
    }

    pub fn from_name(name: &str) -> Option<PaymentIds> {
        match name {
            "random" => Some(PaymentIds::Random),
            "time-ordered" => Some(PaymentIds::TimeOrdered),
            _ => None,
        }
    }

    /// A new id of this kind, in FSPIOP's lower-case UUID form.
    pub fn new_id(self) -> String {
        match self {
            PaymentIds::Random => uuid::Uuid::new_v4().to_string(),
            PaymentIds::TimeOrdered => uuid::Uuid::now_v7().to_string(),
        }
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
    /// The kind of ids the payer makes.
    pub ids: PaymentIds,
}

/// The quote extension that asks a simulated payee for an ILP packet of a version.
const ILP_VERSION_KEY: &str = "simIlpVersion";

/// The transfer extension that asks a simulated payee for a wrong fulfilment.
const WRONG_FULFILMENT_KEY: &str = "simAnswer";
const WRONG_FULFILMENT_VALUE: &str = "wrongFulfilment";

/// A payment that went through. Phases a scenario skips have a zero duration (and, without a
/// transfer, an empty `transfer_id` and `transfer_state`); a payment without a currency
/// conversion has empty conversion fields and zero FX durations, one that was not requested
/// by the payee empty request fields and zero request durations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PaymentReport {
    pub transfer_id: String,
    pub quote_id: String,
    /// The payee DFSP the lookup found.
    pub payee_fsp: String,
    /// The amount transferred, as quoted (with a conversion: the target amount).
    pub transfer_amount: String,
    pub currency: String,
    /// Final state reported to the payer (`COMMITTED`).
    pub transfer_state: String,
    pub lookup: Duration,
    pub quote: Duration,
    pub transfer: Duration,
    /// The FXP that converted (empty without a conversion).
    pub fxp: String,
    /// The FX quote's `conversionRequestId`.
    pub conversion_request_id: String,
    /// The fxTransfer's `commitRequestId` (the FX quote's `conversionId`).
    pub commit_request_id: String,
    /// What the payer pays, in its own currency.
    pub source_amount: String,
    pub source_currency: String,
    /// What the FXP delivers, in the payee's currency (the transfer's amount).
    pub target_amount: String,
    pub target_currency: String,
    /// `POST /fxQuotes` until its callback.
    pub fx_quote: Duration,
    /// `POST /fxTransfers` until its callback.
    pub fx_transfer: Duration,
    /// A request to pay: its `transactionRequestId` (empty otherwise).
    pub transaction_request_id: String,
    /// A request to pay: the `transactionId` the payer gave it.
    pub transaction_id: String,
    /// A request to pay: the payer DFSP asked.
    pub payer_fsp: String,
    /// A request to pay: `POST /transactionRequests` until the payer's `PUT` callback.
    pub transaction_request: Duration,
    /// A request to pay with an OTP: the payer's `GET /authorizations` until its callback.
    pub authorization: Duration,
}

impl PaymentReport {
    /// The sum of every phase's duration.
    pub fn total(&self) -> Duration {
        self.lookup
            + self.transaction_request
            + self.fx_quote
            + self.quote
            + self.authorization
            + self.fx_transfer
            + self.transfer
    }

    /// Whether the payment was requested by the payee.
    pub fn requested(&self) -> bool {
        !self.transaction_request_id.is_empty()
    }

    /// Whether the payment went through a currency conversion.
    pub fn converted(&self) -> bool {
        !self.commit_request_id.is_empty() || !self.conversion_request_id.is_empty()
    }
}

/// Why a payment stopped.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PaymentError {
    /// No simulated DFSP of that name.
    #[error("DFSP {0} is not simulated here")]
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
    /// A request to pay that the payer declined (`transactionRequestState` REJECTED), or
    /// whose authorization failed (a wrong OTP, the customer said no).
    #[error("{phase:?}: rejected: {detail}")]
    Rejected { phase: Phase, detail: String },
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

    /// What the perf report counts the error under: the FSPIOP error code, else `timeout`,
    /// `invalid-callback`, `rejected`, `request` or `simulator`.
    pub fn code(&self) -> String {
        match self {
            PaymentError::Fspiop { code, .. } => code.clone(),
            PaymentError::Timeout { .. } => "timeout".into(),
            PaymentError::InvalidCallback { .. } => "invalid-callback".into(),
            PaymentError::Rejected { .. } => "rejected".into(),
            PaymentError::Request { .. } => "request".into(),
            PaymentError::UnknownPayer(_) | PaymentError::Simulator(_) => "simulator".into(),
        }
    }

    /// Whether the error is a callback that did not come in time.
    pub fn timed_out(&self) -> bool {
        matches!(self, PaymentError::Timeout { .. })
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
    /// As an FXP: its rate, parsed.
    rate: Option<Rate>,
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
    /// The keys (`resource:dfsp:id`) of the answers the payees sent lately, so an error
    /// callback about one of them (the switch refusing it after its 200) is known for what it
    /// is rather than counted as a callback nobody waited for.
    answered: Mutex<AnsweredKeys>,
    /// The keys whose callback was handed to a waiting payer lately, so a repeat of it
    /// (at-least-once delivery) is known for what it is.
    delivered: Mutex<AnsweredKeys>,
    fx_patches: FxPatchCounters,
    /// Requests to pay in flight (as payee) and answered (as payer).
    requests: request_to_pay::Requests,
    /// Bulk transfers answered as payee, until the hub's notification of their outcome.
    bulks: bulk::PayeeBulks,
    jws: Option<security::Keys>,
}

/// The `PATCH /fxTransfers/{ID}` the simulated FXPs received, since the start.
#[derive(Debug, Default)]
struct FxPatchCounters {
    committed: AtomicU64,
    aborted: AtomicU64,
    /// Any other `conversionState`, or a body without one.
    other: AtomicU64,
}

/// How many `PATCH /fxTransfers/{ID}` (the switch telling an FXP how the conversion ended) the
/// simulated FXPs received ([`Simulator::fx_patches`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FxPatchCounts {
    /// `conversionState: COMMITTED`.
    pub committed: u64,
    /// `conversionState: ABORTED`.
    pub aborted: u64,
    /// Any other state, or none.
    pub other: u64,
}

impl FxPatchCounters {
    fn snapshot(&self) -> FxPatchCounts {
        FxPatchCounts {
            committed: self.committed.load(Ordering::Relaxed),
            aborted: self.aborted.load(Ordering::Relaxed),
            other: self.other.load(Ordering::Relaxed),
        }
    }
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
    /// Transfers sent again because the switch could not confirm the first send (2003, or the
    /// exchange broke).
    resent: AtomicU64,
    /// Error callbacks about a payee's own answer (the switch could not take it).
    answers_refused: AtomicU64,
    /// Callbacks repeating one a payer already had (at-least-once delivery).
    repeated: AtomicU64,
    /// Transfer callbacks with the interim state RESERVED (the payer waits on for the end).
    interim: AtomicU64,
}

/// A bounded set of recent keys: the oldest is forgotten past [`ANSWERED_KEYS_MAX`].
#[derive(Debug, Default)]
struct AnsweredKeys {
    keys: std::collections::HashSet<String>,
    order: std::collections::VecDeque<String>,
}

/// Answers remembered for [`AnsweredKeys`].
const ANSWERED_KEYS_MAX: usize = 65_536;

impl AnsweredKeys {
    fn insert(&mut self, key: String) {
        if self.keys.insert(key.clone()) {
            self.order.push_back(key);
            if self.order.len() > ANSWERED_KEYS_MAX {
                if let Some(oldest) = self.order.pop_front() {
                    self.keys.remove(&oldest);
                }
            }
        }
    }
}

/// A snapshot of the simulator's callback matching ([`Simulator::callback_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallbackCounts {
    pub awaited: u64,
    pub matched: u64,
    pub unmatched: u64,
    pub timeouts: u64,
    /// Transfers sent again after an uncertain answer (2003, or no answer).
    pub resent: u64,
    /// Error callbacks about a payee's own answer.
    pub answers_refused: u64,
    /// Callbacks repeating one a payer already had.
    pub repeated: u64,
    /// Transfer callbacks with the interim state RESERVED.
    pub interim: u64,
}

impl Counters {
    fn snapshot(&self) -> CallbackCounts {
        CallbackCounts {
            awaited: self.awaited.load(Ordering::Relaxed),
            matched: self.matched.load(Ordering::Relaxed),
            unmatched: self.unmatched.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
            resent: self.resent.load(Ordering::Relaxed),
            answers_refused: self.answers_refused.load(Ordering::Relaxed),
            repeated: self.repeated.load(Ordering::Relaxed),
            interim: self.interim.load(Ordering::Relaxed),
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

/// Longest body read from a peer (a bulk of 1000 transfers with their ILP packets is over
/// 1 MiB).
const BODY_LEN_MAX_BYTES: usize = 4 << 20;
/// Placeholder payer MSISDN when the payer DFSP owns none.
const PAYER_MSISDN_FALLBACK: &str = "19000000000";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn error_body(code: &str, description: &str) -> Value {
    json!({"errorInformation": {"errorCode": code, "errorDescription": description}})
}

/// The callback endpoints of `dfsp` served by a simulator at `base`, as
/// `(endpoint type, URL template)`, for registration with the central ledger: parties, quotes
/// and transfers, and the FSPIOP 2.0 fx ones (`FSPIOP_CALLBACK_URL_FX_QUOTES`, a base URL the
/// quoting service appends `/fxQuotes…` to, and `FSPIOP_CALLBACK_URL_FX_TRANSFER_POST`,
/// `_PUT`, `_ERROR`) for every DFSP: an FXP receives fx requests, a payer their callbacks; and
/// for requests to pay `FSPIOP_CALLBACK_URL_TRX_REQ_SERVICE` and
/// `FSPIOP_CALLBACK_URL_AUTHORIZATIONS`, base URLs the transaction requests service appends
/// `/transactionRequests…` and `/authorizations…` to; and for bulk payments
/// `FSPIOP_CALLBACK_URL_BULK_QUOTES` (a base URL the quoting service appends `/bulkQuotes…`
/// to) and `FSPIOP_CALLBACK_URL_BULK_TRANSFER_POST` (`…/bulkTransfers`), `_PUT`
/// (`…/bulkTransfers/{{id}}`) and `_ERROR` (`…/bulkTransfers/{{id}}/error`).
pub fn endpoints(base: &str, dfsp: &str) -> Vec<(String, String)> {
    let base = format!("{}/{dfsp}", base.trim_end_matches('/'));
    let parties = format!("{base}/parties/{{{{partyIdType}}}}/{{{{partyIdentifier}}}}");
    let sub = format!("{parties}/{{{{partySubIdOrType}}}}");
    let transfer = format!("{base}/transfers/{{{{transferId}}}}");
    let fx_transfer = format!("{base}/fxTransfers/{{{{commitRequestId}}}}");
    let bulk_transfer = format!("{base}/bulkTransfers/{{{{id}}}}");
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
        ("FSPIOP_CALLBACK_URL_FX_QUOTES", base.clone()),
        (
            "FSPIOP_CALLBACK_URL_FX_TRANSFER_POST",
            format!("{base}/fxTransfers"),
        ),
        ("FSPIOP_CALLBACK_URL_FX_TRANSFER_PUT", fx_transfer.clone()),
        (
            "FSPIOP_CALLBACK_URL_FX_TRANSFER_ERROR",
            format!("{fx_transfer}/error"),
        ),
        ("FSPIOP_CALLBACK_URL_TRX_REQ_SERVICE", base.clone()),
        ("FSPIOP_CALLBACK_URL_AUTHORIZATIONS", base.clone()),
        ("FSPIOP_CALLBACK_URL_BULK_QUOTES", base.clone()),
        (
            "FSPIOP_CALLBACK_URL_BULK_TRANSFER_POST",
            format!("{base}/bulkTransfers"),
        ),
        (
            "FSPIOP_CALLBACK_URL_BULK_TRANSFER_PUT",
            bulk_transfer.clone(),
        ),
        (
            "FSPIOP_CALLBACK_URL_BULK_TRANSFER_ERROR",
            format!("{bulk_transfer}/error"),
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
            let rate = match &spec.fxp {
                Some(fxp) => Some(
                    fx::check_fxp(fxp)
                        .map_err(|why| SimError::Config(format!("FXP {}: {why}", spec.name)))?,
                ),
                None => None,
            };
            let dfsp = Dfsp {
                ilp: Ilp::new(IlpVersion::V4, &spec.ilp_secret),
                ilp_v1: Ilp::new(IlpVersion::V1, &spec.ilp_secret),
                msisdns: spec.msisdns.iter().cloned().collect(),
                spec: spec.clone(),
                rate,
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
            answered: Mutex::default(),
            delivered: Mutex::default(),
            fx_patches: FxPatchCounters::default(),
            requests: request_to_pay::Requests::default(),
            bulks: bulk::PayeeBulks::default(),
            jws,
        });
        let router = Router::new()
            .route("/{dfsp}/parties/{*rest}", any(parties))
            .route("/{dfsp}/quotes", post(quotes_post))
            .route("/{dfsp}/quotes/{*rest}", any(quotes_callback))
            .route("/{dfsp}/transfers", post(transfers_post))
            .route("/{dfsp}/transfers/{*rest}", any(transfers_callback))
            .route("/{dfsp}/fxQuotes", post(fx_quotes_post))
            .route("/{dfsp}/fxQuotes/{*rest}", any(fx_quotes_callback))
            .route("/{dfsp}/fxTransfers", post(fx_transfers_post))
            .route("/{dfsp}/fxTransfers/{*rest}", any(fx_transfers_callback))
            .route(
                "/{dfsp}/transactionRequests",
                post(transaction_requests_post),
            )
            .route(
                "/{dfsp}/transactionRequests/{*rest}",
                any(transaction_requests),
            )
            .route("/{dfsp}/authorizations/{*rest}", any(authorizations))
            .route("/{dfsp}/bulkQuotes", post(bulk_quotes_post))
            .route("/{dfsp}/bulkQuotes/{*rest}", any(bulk_quotes_callback))
            .route("/{dfsp}/bulkTransfers", post(bulk_transfers_post))
            .route(
                "/{dfsp}/bulkTransfers/{*rest}",
                any(bulk_transfers_callback),
            )
            .route("/{dfsp}/bulk", post(remote::bulk))
            .route("/{dfsp}/pay", post(remote::pay))
            .route("/{dfsp}/requestToPay", post(remote::request_to_pay))
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

    /// The `PATCH /fxTransfers/{ID}` the simulated FXPs received so far.
    pub fn fx_patches(&self) -> FxPatchCounts {
        self.inner.fx_patches.snapshot()
    }

    /// How many bulk transfer outcomes the hub told simulated payees so far (`PUT
    /// /bulkTransfers/{ID}` to a bulk's payee: acknowledged, not a payer's callback).
    pub fn bulk_payee_notifications(&self) -> u64 {
        self.inner.bulks.notified.load(Ordering::Relaxed)
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
    /// `payee_msisdn`: lookup, quote and transfer, each waiting for its callback; with a
    /// currency conversion when the payee does not hold the payer's currency (see the crate
    /// documentation).
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

    /// A request to pay: payee DFSP `payee` asks the owner of MSISDN `payer_msisdn` for
    /// `amount` (in the payee's currency), and waits until the payer (simulated here) has
    /// quoted, had the payee's customer authorize and transferred; see the `request_to_pay`
    /// module.
    pub async fn request_to_pay(
        &self,
        payee: &str,
        payer_msisdn: &str,
        amount: &str,
        options: &RequestOptions,
    ) -> Result<PaymentReport, PaymentError> {
        self.inner
            .request_to_pay(payee, payer_msisdn, amount, options)
            .await
    }

    /// A bulk payment from DFSP `payer` to `count` payees (or `options.payees`), `amount`
    /// each in the payer's currency: per payee DFSP one bulk quote and one bulk transfer, the
    /// payee DFSPs' bulks side by side; see the `bulk` module. An error only when the bulk
    /// cannot start (an unknown payer, no payee DFSP, more than 1000 payees at one DFSP); what
    /// each transfer became is in the report.
    pub async fn bulk(
        &self,
        payer: &str,
        count: usize,
        amount: &str,
        options: &BulkOptions,
    ) -> Result<BulkReport, PaymentError> {
        self.inner.bulk(payer, count, amount, options).await
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

/// 404 3200: no DFSP of that name is simulated here.
fn unknown_dfsp() -> Response {
    fspiop_error(
        StatusCode::NOT_FOUND,
        "3200",
        "Generic ID not found - unknown DFSP",
    )
}

/// A request's `FSPIOP-Source`, or the 400 3102 that answers its absence.
#[allow(clippy::result_large_err, reason = "the response is returned at once")]
fn requester_of(headers: &HeaderMap) -> Result<String, Response> {
    header(headers, "fspiop-source").ok_or_else(|| {
        fspiop_error(
            StatusCode::BAD_REQUEST,
            "3102",
            "Missing mandatory element - fspiop-source",
        )
    })
}

/// A request's JSON body, or the 400 3101 that answers another.
#[allow(clippy::result_large_err, reason = "the response is returned at once")]
fn json_of(body: &[u8]) -> Result<Value, Response> {
    serde_json::from_slice(body).map_err(|_| {
        fspiop_error(
            StatusCode::BAD_REQUEST,
            "3101",
            "Malformed syntax - body is not JSON",
        )
    })
}

type Shared = State<Arc<Inner>>;

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
