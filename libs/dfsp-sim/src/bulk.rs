//! Bulk payments (FSPIOP `/bulkQuotes` and `/bulkTransfers`): one payer DFSP paying many
//! payees, one bulk per payee DFSP (a bulk is one payer DFSP to one payee DFSP).
//!
//! **Payer** ([`Simulator::bulk`]): the payees (`count` picked round robin over the payee
//! DFSPs, or given) are grouped by payee DFSP, and each group runs on its own, side by side
//! with the others: `POST /bulkQuotes` (`FSPIOP-Destination` the payee DFSP, one
//! `individualQuote` per payee, amount type SEND) until the payee's `PUT /bulkQuotes/{ID}`
//! ([`Phase::BulkQuote`]), then `POST /bulkTransfers` of every quoted payee (its
//! `transferAmount`, `ilpPacket` and `condition`; the bulk's `expiration` the bulk quote's)
//! until the hub's `PUT /bulkTransfers/{ID}` ([`Phase::BulkTransfer`]). A transfer counts as
//! committed when the hub's result carries a fulfilment that matches its condition; anything
//! else fails it with a code: the result's `errorInformation` (the payee's refusal of the
//! quote, the hub's or the payee's of the transfer), or `missing` (not in the results),
//! `invalid-fulfilment`, or the code of what stopped the whole bulk (an error callback,
//! `timeout`). Every wait is bounded by the callback timeout.
//!
//! **Payee**: `POST /bulkQuotes` is answered with `PUT /bulkQuotes/{ID}` holding one
//! `IndividualQuoteResult` per quote: for one of its customers the `transferAmount`,
//! `ilpPacket` and `condition` a single quote gets (the same Transaction object, the bulk's
//! payer in it, and the same secret, so the fulfilment is re-derived from the packet later
//! without state), for another MSISDN `errorInformation` 3204. `POST /bulkTransfers` is
//! answered with `PUT /bulkTransfers/{ID}` `COMPLETED`, each transfer's fulfilment re-derived
//! from its packet (5105 for one whose packet is not this payee's). The hub's notification of
//! the outcome (`PUT /bulkTransfers/{ID}` to the payee) is acknowledged and counted, not taken
//! for a payer's callback.

use super::*;

use fspiop::types::BULK_ITEMS_MAX;

/// One payee of a bulk payment: a customer's MSISDN at a payee DFSP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BulkPayee {
    pub msisdn: String,
    pub fsp: String,
}

impl BulkPayee {
    pub fn new(msisdn: &str, fsp: &str) -> BulkPayee {
        BulkPayee {
            msisdn: msisdn.to_string(),
            fsp: fsp.to_string(),
        }
    }
}

/// How a bulk payment is made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkOptions {
    /// The payer's customer (default: the payer DFSP's first MSISDN).
    pub payer_msisdn: Option<String>,
    /// The payee DFSPs the payees are picked from, round robin (each must be simulated here).
    /// Default: the other simulated DFSPs holding the payer's currency and customers; when
    /// they are the deployment guide's `perffsp-N`, only the payee half of the layout.
    pub payee_fsps: Vec<String>,
    /// Where the pick starts in each payee DFSP's MSISDNs (the perf harness varies it).
    pub offset: usize,
    /// These payees instead of `count` picked ones (any MSISDN, simulated or not).
    pub payees: Vec<BulkPayee>,
    /// Leave each bulk's per-transfer list out of the report (its counts stay): what the perf
    /// harness asks for.
    pub summary_only: bool,
    /// No bulk quote on the wire: each payee DFSP's answer is made here with its secret, as
    /// it would make it (the payee DFSPs must be simulated here); the bulk transfer follows
    /// as usual. Like the `transfers` scenario of single payments: the switch's bulk transfers
    /// alone.
    pub skip_bulk_quote: bool,
}

/// What became of one transfer of a bulk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndividualOutcome {
    pub msisdn: String,
    pub quote_id: String,
    /// Empty when the payee was not quoted (no transfer was asked for).
    pub transfer_id: String,
    /// Committed: the hub's result had a fulfilment matching the condition.
    pub committed: bool,
    /// Why it failed (an FSPIOP error code, `missing`, `invalid-fulfilment`, `timeout`, …);
    /// empty when committed.
    pub error_code: String,
    pub error_description: String,
}

/// One payee DFSP's bulk: its bulk quote and bulk transfer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BulkOutcome {
    pub payee_fsp: String,
    pub bulk_quote_id: String,
    /// Empty when no transfer was asked for (nothing quoted, or the bulk quote failed).
    pub bulk_transfer_id: String,
    /// The hub's final `bulkTransferState` (COMPLETED, REJECTED); empty when none came.
    pub bulk_transfer_state: String,
    /// `POST /bulkQuotes` until its callback.
    pub bulk_quote: Duration,
    /// `POST /bulkTransfers` until the hub's callback.
    pub bulk_transfer: Duration,
    /// Payees in the bulk.
    pub payees: u64,
    /// Payees the payee DFSP quoted.
    pub quoted: u64,
    /// Transfers committed.
    pub committed: u64,
    /// Transfers that failed (or were never asked for), by code.
    pub errors_by_code: BTreeMap<String, u64>,
    /// What stopped the bulk as a whole (an error callback, a timeout, an invalid callback),
    /// when something did: its transfers failed with its code.
    pub error: Option<PaymentError>,
    /// Each payee's transfer, in the order of the payees (empty with `summary_only`).
    pub transfers: Vec<IndividualOutcome>,
}

impl BulkOutcome {
    /// Transfers that did not commit.
    pub fn failed(&self) -> u64 {
        self.errors_by_code.values().sum()
    }

    /// Whether both phases got their callback (whatever became of each transfer).
    pub fn completed(&self) -> bool {
        self.error.is_none()
    }
}

/// A bulk payment: the payer and one bulk per payee DFSP.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BulkReport {
    pub payer_fsp: String,
    pub payer_msisdn: String,
    /// Each transfer's amount.
    pub amount: String,
    pub currency: String,
    /// One per payee DFSP, in the order the payee DFSPs first appear among the payees.
    pub bulks: Vec<BulkOutcome>,
}

impl BulkReport {
    /// Transfers committed, over every bulk.
    pub fn committed(&self) -> u64 {
        self.bulks.iter().map(|b| b.committed).sum()
    }

    /// Transfers that did not commit, over every bulk.
    pub fn failed(&self) -> u64 {
        self.bulks.iter().map(BulkOutcome::failed).sum()
    }

    /// Failed transfers by code, over every bulk.
    pub fn errors_by_code(&self) -> BTreeMap<String, u64> {
        let mut all = BTreeMap::new();
        for bulk in &self.bulks {
            for (code, count) in &bulk.errors_by_code {
                *all.entry(code.clone()).or_default() += count;
            }
        }
        all
    }
}

/// Bulk transfers a DFSP answered as payee, until the hub tells it their outcome (`key`:
/// `{dfsp}:{bulkTransferId}`), and how many such notifications came.
#[derive(Debug, Default)]
pub(crate) struct PayeeBulks {
    answered: Mutex<HashMap<String, Instant>>,
    pub(crate) notified: AtomicU64,
}

/// Answered bulks kept beyond this many are dropped once older than [`PAYEE_BULK_KEEP`].
const PAYEE_BULKS_MAX: usize = 10_000;
const PAYEE_BULK_KEEP: Duration = Duration::from_secs(600);

impl PayeeBulks {
    fn answered(&self, dfsp: &str, id: &str) {
        if let Ok(mut answered) = self.answered.lock() {
            if answered.len() >= PAYEE_BULKS_MAX {
                answered.retain(|_, at| at.elapsed() < PAYEE_BULK_KEEP);
            }
            answered.insert(format!("{dfsp}:{id}"), Instant::now());
        }
    }

    /// Whether `dfsp` answered bulk transfer `id` as payee (and forgets it).
    fn notified(&self, dfsp: &str, id: &str) -> bool {
        let known = self
            .answered
            .lock()
            .is_ok_and(|mut answered| answered.remove(&format!("{dfsp}:{id}")).is_some());
        if known {
            self.notified.fetch_add(1, Ordering::Relaxed);
        }
        known
    }
}

/// An FSPIOP `errorDescription` (at most 128 characters).
fn description(text: &str) -> String {
    text.chars().take(128).collect()
}

fn error_information(code: &str, text: &str) -> Value {
    json!({"errorCode": code, "errorDescription": description(text)})
}

/// A payee's customers: `MSISDN` ids it holds (and, when the party names its DFSP, this one).
fn is_customer(sim: &Dfsp, party: &Value) -> bool {
    let info = at(party, "/partyIdInfo");
    let fsp = at(info, "/fspId").as_str();
    at(info, "/partyIdType").as_str() == Some("MSISDN")
        && at(info, "/partyIdentifier")
            .as_str()
            .is_some_and(|id| sim.msisdns.contains(id))
        && fsp.is_none_or(|fsp| fsp == sim.spec.name)
}

/// The results of a bulk quote `request` at payee `sim`, all expiring at `expiration`.
fn quote_results(sim: &Dfsp, request: &Value, expiration: &str) -> Vec<Value> {
    let payer = at(request, "/payer");
    at(request, "/individualQuotes")
        .as_array()
        .map(|quotes| {
            quotes
                .iter()
                .map(|quote| {
                    let quote_id = at(quote, "/quoteId").clone();
                    let payee = at(quote, "/payee");
                    if !is_customer(sim, payee) {
                        return json!({"quoteId": quote_id, "errorInformation": error_information("3204", "Party not found")});
                    }
                    // The single quote this one would be: the bulk's payer with its payee.
                    let mut single = quote.clone();
                    set(&mut single, "payer", payer.clone());
                    let ilp = sim.ilp_of(payee::asked_ilp_version(quote));
                    match payee::quote_terms(ilp, &single, expiration) {
                        Ok(terms) => json!({
                            "quoteId": quote_id,
                            "payee": payee,
                            "transferAmount": at(&terms, "/transferAmount"),
                            "ilpPacket": at(&terms, "/ilpPacket"),
                            "condition": at(&terms, "/condition"),
                        }),
                        Err(error) => json!({"quoteId": quote_id, "errorInformation": error_information("5101", &format!("Payee rejected quote - {error}"))}),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `POST /{dfsp}/bulkQuotes`: the payee's terms for each of its customers.
pub(crate) async fn bulk_quotes_post(
    State(inner): Shared,
    Path(dfsp): Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let started = Instant::now();
    let Some(sim) = inner.dfsps.get(&dfsp) else {
        return unknown_dfsp();
    };
    let requester = match requester_of(&headers) {
        Ok(source) => source,
        Err(refused) => return refused,
    };
    let request = match json_of(&body) {
        Ok(value) => value,
        Err(refused) => return refused,
    };
    let Some(id) = at(&request, "/bulkQuoteId").as_str().map(str::to_string) else {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3102",
            "Missing mandatory element - bulkQuoteId",
        );
    };
    if !at(&request, "/individualQuotes").is_array() {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3102",
            "Missing mandatory element - individualQuotes",
        );
    }
    let name = sim.spec.name.clone();
    let wire = Wire::of_content_type(&headers, "bulkQuotes");
    let inner = inner.clone();
    tokio::spawn(async move {
        let Some(sim) = inner.dfsps.get(&name) else {
            return;
        };
        let expiration = inner.quote_expiration();
        let results = quote_results(sim, &request, &expiration);
        let body = json!({"individualQuoteResults": results, "expiration": expiration});
        let base = inner.config.switch.quotes.clone();
        inner
            .answer(
                Phase::AnswerBulkQuote,
                started,
                &base,
                format!("/bulkQuotes/{id}"),
                &name,
                &requester,
                body,
                wire,
            )
            .await;
    });
    StatusCode::ACCEPTED.into_response()
}

/// `POST /{dfsp}/bulkTransfers`: the payee fulfils each transfer whose packet it made.
pub(crate) async fn bulk_transfers_post(
    State(inner): Shared,
    Path(dfsp): Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let started = Instant::now();
    let Some(sim) = inner.dfsps.get(&dfsp) else {
        return unknown_dfsp();
    };
    let requester = match requester_of(&headers) {
        Ok(source) => source,
        Err(refused) => return refused,
    };
    let request = match json_of(&body) {
        Ok(value) => value,
        Err(refused) => return refused,
    };
    let Some(id) = at(&request, "/bulkTransferId").as_str().map(str::to_string) else {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3102",
            "Missing mandatory element - bulkTransferId",
        );
    };
    if !at(&request, "/individualTransfers").is_array() {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3102",
            "Missing mandatory element - individualTransfers",
        );
    }
    let name = sim.spec.name.clone();
    let engines = (sim.ilp.clone(), sim.ilp_v1.clone());
    // The answer goes back to the bulk's payer (the hub may forward it as the sender).
    let destination = at(&request, "/payerFsp")
        .as_str()
        .map_or(requester, str::to_string);
    let wire = Wire::of_content_type(&headers, "bulkTransfers");
    let inner = inner.clone();
    tokio::spawn(async move {
        let results: Vec<Value> = at(&request, "/individualTransfers")
            .as_array()
            .map(|transfers| {
                transfers
                    .iter()
                    .map(|transfer| {
                        let transfer_id = at(transfer, "/transferId").clone();
                        match payee::fulfil(&engines, transfer) {
                            Ok(fulfilment) => {
                                json!({"transferId": transfer_id, "fulfilment": fulfilment})
                            }
                            Err(why) => json!({"transferId": transfer_id, "errorInformation": error_information("5105", &why)}),
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = json!({
            "bulkTransferState": "COMPLETED",
            "completedTimestamp": fspiop::datetime::format_date_time(now_ms()),
            "individualTransferResults": results,
        });
        // Known before the answer leaves, so the hub's notification is recognised.
        inner.bulks.answered(&name, &id);
        let base = inner.config.switch.transfers.clone();
        inner
            .answer(
                Phase::AnswerBulkTransfer,
                started,
                &base,
                format!("/bulkTransfers/{id}"),
                &name,
                &destination,
                body,
                wire,
            )
            .await;
    });
    StatusCode::ACCEPTED.into_response()
}

/// `PUT /{dfsp}/bulkQuotes/{id}[/error]`: the payer's callback.
pub(crate) async fn bulk_quotes_callback(
    State(inner): Shared,
    Path((dfsp, rest)): Path<(String, String)>,
    method: Method,
    body: bytes::Bytes,
) -> Response {
    payer::callback(&inner, "bulkQuotes", &dfsp, &rest, &method, &body)
}

/// `PUT /{dfsp}/bulkTransfers/{id}[/error]`: the hub's outcome, for the waiting payer or, at
/// the bulk's payee, its notification (acknowledged and counted).
pub(crate) async fn bulk_transfers_callback(
    State(inner): Shared,
    Path((dfsp, rest)): Path<(String, String)>,
    method: Method,
    body: bytes::Bytes,
) -> Response {
    let (id, is_error) = match rest.strip_suffix("/error") {
        Some(id) => (id, true),
        None => (rest.as_str(), false),
    };
    if method == Method::PUT && inner.dfsps.contains_key(&dfsp) && inner.bulks.notified(&dfsp, id) {
        if is_error {
            let value: Value = serde_json::from_slice(&body).unwrap_or_default();
            tracing::warn!(%dfsp, bulk_transfer_id = %id, error = %at(&value, "/errorInformation"), "the hub refused a simulated payee's bulk transfer answer");
        }
        return StatusCode::OK.into_response();
    }
    payer::callback(&inner, "bulkTransfers", &dfsp, &rest, &method, &body)
}

/// A bulk's transfers, as they stand.
struct Items {
    transfers: Vec<IndividualOutcome>,
    /// Per transfer (same order): the condition asked for, when it was asked for.
    conditions: Vec<Option<String>>,
}

impl Items {
    fn fail_all_pending(&mut self, code: &str, text: &str) {
        for transfer in &mut self.transfers {
            if !transfer.committed && transfer.error_code.is_empty() {
                transfer.error_code = code.to_string();
                transfer.error_description = text.to_string();
            }
        }
    }
}

impl Inner {
    /// [`Simulator::bulk`].
    pub(crate) async fn bulk(
        self: &Arc<Self>,
        payer: &str,
        count: usize,
        amount: &str,
        options: &BulkOptions,
    ) -> Result<BulkReport, PaymentError> {
        let (dfsp, payer_msisdn) = self.customer(payer, options.payer_msisdn.as_deref())?;
        let currency = dfsp.spec.currency.clone();
        let payees = if options.payees.is_empty() {
            self.pick_payees(payer, &currency, count, options)?
        } else {
            options.payees.clone()
        };
        // Grouped by payee DFSP, in the order they first appear.
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for payee in payees {
            match groups.iter_mut().find(|(fsp, _)| *fsp == payee.fsp) {
                Some((_, msisdns)) => msisdns.push(payee.msisdn),
                None => groups.push((payee.fsp, vec![payee.msisdn])),
            }
        }
        if let Some((fsp, msisdns)) = groups.iter().find(|(_, m)| m.len() > BULK_ITEMS_MAX) {
            return Err(PaymentError::Request {
                phase: Phase::BulkQuote,
                detail: format!(
                    "{} payees at {fsp}: a bulk holds at most {BULK_ITEMS_MAX}",
                    msisdns.len()
                ),
            });
        }
        let mut running = Vec::with_capacity(groups.len());
        for (payee_fsp, msisdns) in groups {
            let inner = self.clone();
            let (payer, payer_msisdn) = (payer.to_string(), payer_msisdn.clone());
            let (amount, currency) = (amount.to_string(), currency.clone());
            let options = options.clone();
            let fsp = payee_fsp.clone();
            let handle = tokio::spawn(async move {
                inner
                    .bulk_to(
                        &payer,
                        &payer_msisdn,
                        &fsp,
                        msisdns,
                        &amount,
                        &currency,
                        &options,
                    )
                    .await
            });
            running.push((payee_fsp, handle));
        }
        let mut bulks = Vec::with_capacity(running.len());
        for (payee_fsp, handle) in running {
            bulks.push(handle.await.unwrap_or_else(|error| BulkOutcome {
                payee_fsp,
                error: Some(PaymentError::Simulator(format!(
                    "the bulk's task failed: {error}"
                ))),
                ..BulkOutcome::default()
            }));
        }
        Ok(BulkReport {
            payer_fsp: payer.to_string(),
            payer_msisdn,
            amount: amount.to_string(),
            currency,
            bulks,
        })
    }

    /// `count` payees, round robin over the payee DFSPs, each DFSP's MSISDNs in order from
    /// `options.offset`.
    fn pick_payees(
        &self,
        payer: &str,
        currency: &str,
        count: usize,
        options: &BulkOptions,
    ) -> Result<Vec<BulkPayee>, PaymentError> {
        let refused = |detail: String| PaymentError::Request {
            phase: Phase::BulkQuote,
            detail,
        };
        let names: Vec<String> = if options.payee_fsps.is_empty() {
            self.default_payee_fsps(payer, currency)
        } else {
            options.payee_fsps.clone()
        };
        let mut fsps = Vec::with_capacity(names.len());
        for name in &names {
            let dfsp = self.dfsps.get(name).ok_or_else(|| {
                refused(format!(
                    "payee DFSP {name} is not simulated here: its customers are unknown"
                ))
            })?;
            if dfsp.spec.msisdns.is_empty() {
                return Err(refused(format!("payee DFSP {name} has no customers")));
            }
            fsps.push(dfsp);
        }
        if fsps.is_empty() {
            return Err(refused(format!(
                "no simulated payee DFSP holds {currency} for {payer} to pay"
            )));
        }
        if count == 0 {
            return Err(refused("a bulk pays at least one payee".into()));
        }
        // Checked before picking: a count from the payer API may be anything.
        let most = BULK_ITEMS_MAX.saturating_mul(fsps.len());
        if count > most {
            return Err(refused(format!(
                "{count} payees over {} payee DFSPs: a bulk holds at most {BULK_ITEMS_MAX}",
                fsps.len()
            )));
        }
        Ok((0..count)
            .filter_map(|n| {
                let dfsp = fsps.get(n % fsps.len())?;
                let msisdns = &dfsp.spec.msisdns;
                let start = options.offset % msisdns.len();
                let msisdn = msisdns.get((start + n / fsps.len()) % msisdns.len())?;
                Some(BulkPayee::new(msisdn, &dfsp.spec.name))
            })
            .collect())
    }

    /// The other simulated DFSPs holding `currency` and customers (not FXPs); of the
    /// guide's layout (`perffsp-N`), the payee half only.
    fn default_payee_fsps(&self, payer: &str, currency: &str) -> Vec<String> {
        let candidates: Vec<&DfspSpec> = self
            .config
            .dfsps
            .iter()
            .filter(|d| {
                d.name != payer
                    && d.currency == currency
                    && !d.msisdns.is_empty()
                    && d.fxp.is_none()
            })
            .collect();
        let layout_size = self
            .config
            .dfsps
            .iter()
            .filter_map(|d| layout::index_of(&d.name))
            .max()
            .unwrap_or(0);
        let in_layout = layout::index_of(payer).is_some()
            && candidates
                .iter()
                .all(|d| layout::index_of(&d.name).is_some());
        candidates
            .into_iter()
            .filter(|d| {
                !in_layout
                    || layout::index_of(&d.name)
                        .is_some_and(|index| !layout::is_payer(index, layout_size))
            })
            .map(|d| d.name.clone())
            .collect()
    }

    /// One payee DFSP's bulk: bulk quote, then bulk transfer of what was quoted.
    #[allow(clippy::too_many_arguments)]
    async fn bulk_to(
        &self,
        payer: &str,
        payer_msisdn: &str,
        payee_fsp: &str,
        msisdns: Vec<String>,
        amount: &str,
        currency: &str,
        options: &BulkOptions,
    ) -> BulkOutcome {
        let mut outcome = BulkOutcome {
            payee_fsp: payee_fsp.to_string(),
            bulk_quote_id: uuid::Uuid::new_v4().to_string(),
            payees: msisdns.len() as u64,
            ..BulkOutcome::default()
        };
        let mut items = Items {
            transfers: msisdns
                .into_iter()
                .map(|msisdn| IndividualOutcome {
                    msisdn,
                    quote_id: uuid::Uuid::new_v4().to_string(),
                    ..IndividualOutcome::default()
                })
                .collect(),
            conditions: Vec::new(),
        };
        items.conditions = vec![None; items.transfers.len()];
        self.bulk_phases(
            payer,
            payer_msisdn,
            amount,
            currency,
            options.skip_bulk_quote,
            &mut outcome,
            &mut items,
        )
        .await;
        if let Some(error) = &outcome.error {
            items.fail_all_pending(&error.code(), &error.to_string());
        }
        for transfer in &items.transfers {
            if transfer.committed {
                outcome.committed += 1;
            } else {
                let code = if transfer.error_code.is_empty() {
                    "missing"
                } else {
                    transfer.error_code.as_str()
                };
                *outcome.errors_by_code.entry(code.to_string()).or_default() += 1;
            }
        }
        if !options.summary_only {
            outcome.transfers = items.transfers;
        }
        outcome
    }

    /// The bulk quote (or, `skip_bulk_quote`, the payee's answer made here) and the bulk
    /// transfer; a failure of either as a whole in `outcome.error`.
    #[allow(clippy::too_many_arguments)]
    async fn bulk_phases(
        &self,
        payer: &str,
        payer_msisdn: &str,
        amount: &str,
        currency: &str,
        skip_bulk_quote: bool,
        outcome: &mut BulkOutcome,
        items: &mut Items,
    ) {
        let payee_fsp = outcome.payee_fsp.clone();
        let individual_quotes: Vec<Value> = items
            .transfers
            .iter()
            .map(|t| {
                json!({
                    "quoteId": t.quote_id,
                    "transactionId": uuid::Uuid::new_v4().to_string(),
                    "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": t.msisdn, "fspId": payee_fsp}},
                    "amountType": "SEND",
                    "amount": {"amount": amount, "currency": currency},
                    "transactionType": {"scenario": "TRANSFER", "initiator": "PAYER", "initiatorType": "CONSUMER"},
                })
            })
            .collect();
        let request = json!({
            "bulkQuoteId": outcome.bulk_quote_id,
            "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": payer_msisdn, "fspId": payer}},
            "expiration": self.quote_expiration(),
            "individualQuotes": individual_quotes,
        });
        let started = Instant::now();
        let answer = if skip_bulk_quote {
            // What the payee would answer, made here with its secret; nothing on the wire.
            match self.dfsps.get(&payee_fsp) {
                Some(payee) => {
                    let expiration = self.quote_expiration();
                    let results = quote_results(payee, &request, &expiration);
                    Ok(json!({"individualQuoteResults": results, "expiration": expiration}))
                }
                None => Err(PaymentError::InvalidCallback {
                    phase: Phase::BulkQuote,
                    detail: format!(
                        "{payee_fsp} is not simulated here; a bulk without its quote needs its secret"
                    ),
                }),
            }
        } else {
            self.request(
                Phase::BulkQuote,
                format!("bulkQuotes:{payer}:{}", outcome.bulk_quote_id),
                "POST",
                &self.config.switch.quotes,
                "/bulkQuotes",
                payer,
                Some(&payee_fsp),
                Some(&request),
                Wire::V1,
            )
            .await
        };
        let checked = answer.and_then(|answer| {
            at(&answer, "/expiration")
                .as_str()
                .map(str::to_string)
                .map(|expiration| (answer.clone(), expiration))
                .ok_or_else(|| PaymentError::InvalidCallback {
                    phase: Phase::BulkQuote,
                    detail: "no expiration".into(),
                })
        });
        let checked = if skip_bulk_quote {
            checked
        } else {
            self.record(Phase::BulkQuote, started, checked)
        };
        let (answer, expiration) = match checked {
            Ok(checked) => checked,
            Err(error) => {
                outcome.bulk_quote = started.elapsed();
                outcome.error = Some(error);
                return;
            }
        };
        if !skip_bulk_quote {
            outcome.bulk_quote = started.elapsed();
        }

        let results: HashMap<&str, &Value> = at(&answer, "/individualQuoteResults")
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|r| at(r, "/quoteId").as_str().map(|id| (id, r)))
                    .collect()
            })
            .unwrap_or_default();
        let mut individual_transfers = Vec::new();
        for (transfer, condition) in items.transfers.iter_mut().zip(items.conditions.iter_mut()) {
            let Some(result) = results.get(transfer.quote_id.as_str()) else {
                transfer.error_code = "missing".into();
                transfer.error_description = "not in the bulk quote's results".into();
                continue;
            };
            let information = at(result, "/errorInformation");
            if !information.is_null() {
                transfer.error_code = at(information, "/errorCode")
                    .as_str()
                    .unwrap_or("?")
                    .to_string();
                transfer.error_description = at(information, "/errorDescription")
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                continue;
            }
            let (packet, quoted_condition, transfer_amount) = (
                at(result, "/ilpPacket").as_str(),
                at(result, "/condition").as_str(),
                at(result, "/transferAmount"),
            );
            let (Some(packet), Some(quoted_condition), true) =
                (packet, quoted_condition, transfer_amount.is_object())
            else {
                transfer.error_code = "invalid-callback".into();
                transfer.error_description =
                    "a quote result without transferAmount, ilpPacket or condition".into();
                continue;
            };
            outcome.quoted += 1;
            transfer.transfer_id = uuid::Uuid::new_v4().to_string();
            *condition = Some(quoted_condition.to_string());
            individual_transfers.push(json!({
                "transferId": transfer.transfer_id,
                "transferAmount": transfer_amount,
                "ilpPacket": packet,
                "condition": quoted_condition,
            }));
        }
        if individual_transfers.is_empty() {
            return;
        }

        outcome.bulk_transfer_id = uuid::Uuid::new_v4().to_string();
        let request = json!({
            "bulkTransferId": outcome.bulk_transfer_id,
            "bulkQuoteId": outcome.bulk_quote_id,
            "payerFsp": payer,
            "payeeFsp": payee_fsp,
            "individualTransfers": individual_transfers,
            "expiration": expiration,
        });
        drop(individual_transfers);
        let started = Instant::now();
        let answer = self
            .request(
                Phase::BulkTransfer,
                format!("bulkTransfers:{payer}:{}", outcome.bulk_transfer_id),
                "POST",
                &self.config.switch.transfers,
                "/bulkTransfers",
                payer,
                Some(&payee_fsp),
                Some(&request),
                Wire::V1,
            )
            .await;
        let checked = answer.and_then(|answer| {
            let state = at(&answer, "/bulkTransferState")
                .as_str()
                .unwrap_or_default()
                .to_string();
            if state == "COMPLETED" || state == "REJECTED" {
                Ok((answer, state))
            } else {
                Err(PaymentError::InvalidCallback {
                    phase: Phase::BulkTransfer,
                    detail: format!("bulkTransferState {state:?}"),
                })
            }
        });
        let (answer, state) = match self.record(Phase::BulkTransfer, started, checked) {
            Ok(checked) => checked,
            Err(error) => {
                outcome.bulk_transfer = started.elapsed();
                outcome.error = Some(error);
                return;
            }
        };
        outcome.bulk_transfer = started.elapsed();
        outcome.bulk_transfer_state = state.clone();
        let results: HashMap<&str, &Value> = at(&answer, "/individualTransferResults")
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|r| at(r, "/transferId").as_str().map(|id| (id, r)))
                    .collect()
            })
            .unwrap_or_default();
        for (transfer, condition) in items.transfers.iter_mut().zip(&items.conditions) {
            let Some(condition) = condition else {
                continue;
            };
            let Some(result) = results.get(transfer.transfer_id.as_str()) else {
                transfer.error_code = "missing".into();
                transfer.error_description =
                    format!("not in the results of the hub's bulkTransferState {state}");
                continue;
            };
            let information = at(result, "/errorInformation");
            let fulfilment = at(result, "/fulfilment").as_str();
            if !information.is_null() {
                transfer.error_code = at(information, "/errorCode")
                    .as_str()
                    .unwrap_or("?")
                    .to_string();
                transfer.error_description = at(information, "/errorDescription")
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
            } else if state != "COMPLETED" {
                transfer.error_code = "rejected".into();
                transfer.error_description =
                    format!("bulkTransferState {state} without errorInformation");
            } else if fulfilment.is_some_and(|f| fspiop::ilp::fulfilment_matches(f, condition)) {
                transfer.committed = true;
            } else {
                transfer.error_code = "invalid-fulfilment".into();
                transfer.error_description = match fulfilment {
                    Some(_) => "the fulfilment does not match the condition".into(),
                    None => "neither a fulfilment nor errorInformation".into(),
                };
            }
        }
    }
}
