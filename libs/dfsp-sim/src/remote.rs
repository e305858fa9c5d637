//! The simulator's payer API over HTTP, for the operator commands (`mojaloop test-transaction`,
//! `validate`) and the perf harness when the simulator runs in another process: the same role
//! as the outbound API of Mojaloop's SDK scheme adapter, in a smaller shape.
//!
//! - `POST /{dfsp}/pay` with `{"payeeMsisdn", "amount", "payerMsisdn"?, "payeeFsp"?,
//!   "scenario"?}` pays through lookup → quote → transfer (or the phases of `scenario`:
//!   `end-to-end`, `discovery`, `quotes`, `transfers`, `fx`; `quotes` and `transfers` need
//!   `payeeFsp`; `fx` requires a currency conversion) and answers 200 with the report (with a
//!   conversion also its FX phases, ids and amounts), 422 with `{"error": …}` when the payment
//!   stopped, 404 for a DFSP the simulator does not run.
//! - `POST /{dfsp}/requestToPay` with `{"payerMsisdn", "amount", "payeeMsisdn"?, "payerFsp"?,
//!   "otp"? (default true), "wrongOtp"?}`: DFSP `{dfsp}` asks the owner of `payerMsisdn` to pay
//!   (see the `request_to_pay` module); answers as `pay` does, the report with
//!   `transactionRequestId`, `transactionId`, `payerFsp`, `transactionRequestMs` and
//!   `authorizationMs`.
//! - `POST /{dfsp}/bulk` with `{"amount", "count"?, "payerMsisdn"?, "payeeFsps"?, "offset"?,
//!   "payees"? ([{"msisdn", "fsp"}]), "summaryOnly"?, "skipBulkQuote"?}`: a bulk payment
//!   (see the `bulk` module); answers 200 with the report (`bulks`: per payee DFSP its ids, state, phase times,
//!   counts, errors by code and, unless `summaryOnly`, each transfer), 422 with `{"error": …}`
//!   when it cannot start, 404 for a DFSP the simulator does not run.
//! - `GET /stats` answers how the payer's requests and the callbacks matched up, how many
//!   `PATCH /fxTransfers` the simulated FXPs received (`fxCommitted`, `fxAborted`, `fxOther`),
//!   and how many bulk transfer outcomes the hub told simulated payees
//!   (`bulkPayeeNotifications`).
//! - `GET /{dfsp}/health` answers 200 for a DFSP it runs, 404 otherwise.
//! - `GET /dfsps` lists the DFSPs with their currencies, MSISDN counts and, for an FXP, its
//!   conversion.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::{
    BulkOptions, BulkOutcome, BulkPayee, BulkReport, CallbackCounts, FxPatchCounts,
    IndividualOutcome, Inner, PayOptions, PaymentError, PaymentIds, PaymentReport, Phase,
    RequestOptions, Scenario,
};

/// Every phase, in the order of [`Phase`].
const PHASES: [Phase; 18] = [
    Phase::Lookup,
    Phase::Quote,
    Phase::Transfer,
    Phase::AnswerParty,
    Phase::AnswerQuote,
    Phase::AnswerTransfer,
    Phase::FxQuote,
    Phase::FxTransfer,
    Phase::AnswerFxQuote,
    Phase::AnswerFxTransfer,
    Phase::TransactionRequest,
    Phase::Authorization,
    Phase::AnswerTransactionRequest,
    Phase::AnswerAuthorization,
    Phase::BulkQuote,
    Phase::BulkTransfer,
    Phase::AnswerBulkQuote,
    Phase::AnswerBulkTransfer,
];

impl Phase {
    /// The phase's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Lookup => "lookup",
            Phase::Quote => "quote",
            Phase::Transfer => "transfer",
            Phase::AnswerParty => "answerParty",
            Phase::AnswerQuote => "answerQuote",
            Phase::AnswerTransfer => "answerTransfer",
            Phase::FxQuote => "fxQuote",
            Phase::FxTransfer => "fxTransfer",
            Phase::AnswerFxQuote => "answerFxQuote",
            Phase::AnswerFxTransfer => "answerFxTransfer",
            Phase::TransactionRequest => "transactionRequest",
            Phase::Authorization => "authorization",
            Phase::AnswerTransactionRequest => "answerTransactionRequest",
            Phase::AnswerAuthorization => "answerAuthorization",
            Phase::BulkQuote => "bulkQuote",
            Phase::BulkTransfer => "bulkTransfer",
            Phase::AnswerBulkQuote => "answerBulkQuote",
            Phase::AnswerBulkTransfer => "answerBulkTransfer",
        }
    }

    pub fn from_name(name: &str) -> Option<Phase> {
        PHASES.into_iter().find(|phase| phase.name() == name)
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn from_millis(value: &Value) -> Duration {
    Duration::from_secs_f64(value.as_f64().unwrap_or(0.0).max(0.0) / 1000.0)
}

fn report_json(report: &PaymentReport) -> Value {
    json!({
        "transferId": report.transfer_id,
        "quoteId": report.quote_id,
        "payeeFsp": report.payee_fsp,
        "amount": report.transfer_amount,
        "currency": report.currency,
        "transferState": report.transfer_state,
        "lookupMs": millis(report.lookup),
        "quoteMs": millis(report.quote),
        "transferMs": millis(report.transfer),
        "fxp": report.fxp,
        "conversionRequestId": report.conversion_request_id,
        "commitRequestId": report.commit_request_id,
        "sourceAmount": report.source_amount,
        "sourceCurrency": report.source_currency,
        "targetAmount": report.target_amount,
        "targetCurrency": report.target_currency,
        "fxQuoteMs": millis(report.fx_quote),
        "fxTransferMs": millis(report.fx_transfer),
        "transactionRequestId": report.transaction_request_id,
        "transactionId": report.transaction_id,
        "payerFsp": report.payer_fsp,
        "transactionRequestMs": millis(report.transaction_request),
        "authorizationMs": millis(report.authorization),
    })
}

/// The report of [`report_json`]; the conversion's and the request's members may be missing
/// (a simulator that predates them): empty and zero then.
fn report_from_json(body: &Value) -> Option<PaymentReport> {
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
    let optional = |name: &str| text(name).unwrap_or_default();
    let optional_ms = |name: &str| body.get(name).map_or(Duration::ZERO, from_millis);
    Some(PaymentReport {
        transfer_id: text("transferId")?,
        quote_id: text("quoteId")?,
        payee_fsp: text("payeeFsp")?,
        transfer_amount: text("amount")?,
        currency: text("currency")?,
        transfer_state: text("transferState")?,
        lookup: from_millis(body.get("lookupMs")?),
        quote: from_millis(body.get("quoteMs")?),
        transfer: from_millis(body.get("transferMs")?),
        fxp: optional("fxp"),
        conversion_request_id: optional("conversionRequestId"),
        commit_request_id: optional("commitRequestId"),
        source_amount: optional("sourceAmount"),
        source_currency: optional("sourceCurrency"),
        target_amount: optional("targetAmount"),
        target_currency: optional("targetCurrency"),
        fx_quote: optional_ms("fxQuoteMs"),
        fx_transfer: optional_ms("fxTransferMs"),
        transaction_request_id: optional("transactionRequestId"),
        transaction_id: optional("transactionId"),
        payer_fsp: optional("payerFsp"),
        transaction_request: optional_ms("transactionRequestMs"),
        authorization: optional_ms("authorizationMs"),
    })
}

fn error_json(error: &PaymentError) -> Value {
    match error {
        PaymentError::UnknownPayer(name) => json!({"kind": "unknownPayer", "detail": name}),
        PaymentError::Fspiop {
            phase,
            code,
            description,
        } => {
            json!({"kind": "fspiop", "phase": phase.name(), "errorCode": code, "errorDescription": description})
        }
        PaymentError::Request { phase, detail } => {
            json!({"kind": "request", "phase": phase.name(), "detail": detail})
        }
        PaymentError::Timeout { phase, timeout_ms } => {
            json!({"kind": "timeout", "phase": phase.name(), "timeoutMs": timeout_ms})
        }
        PaymentError::InvalidCallback { phase, detail } => {
            json!({"kind": "invalidCallback", "phase": phase.name(), "detail": detail})
        }
        PaymentError::Rejected { phase, detail } => {
            json!({"kind": "rejected", "phase": phase.name(), "detail": detail})
        }
        PaymentError::Simulator(detail) => json!({"kind": "simulator", "detail": detail}),
    }
}

fn error_from_json(body: &Value) -> PaymentError {
    let text = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let phase = Phase::from_name(&text("phase")).unwrap_or(Phase::Lookup);
    match text("kind").as_str() {
        "unknownPayer" => PaymentError::UnknownPayer(text("detail")),
        "fspiop" => PaymentError::Fspiop {
            phase,
            code: text("errorCode"),
            description: text("errorDescription"),
        },
        "request" => PaymentError::Request {
            phase,
            detail: text("detail"),
        },
        "timeout" => PaymentError::Timeout {
            phase,
            timeout_ms: body.get("timeoutMs").and_then(Value::as_u64).unwrap_or(0),
        },
        "invalidCallback" => PaymentError::InvalidCallback {
            phase,
            detail: text("detail"),
        },
        "rejected" => PaymentError::Rejected {
            phase,
            detail: text("detail"),
        },
        _ => PaymentError::Simulator(format!("unexpected error from the simulator: {body}")),
    }
}

/// `POST /{dfsp}/pay`.
pub(crate) async fn pay(
    State(inner): State<Arc<Inner>>,
    Path(dfsp): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(error) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"kind": "simulator", "detail": format!("body is not JSON: {error}")}})),
            )
                .into_response()
        }
    };
    let field = |name: &str| request.get(name).and_then(Value::as_str);
    let (Some(payee), Some(amount)) = (field("payeeMsisdn"), field("amount")) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"kind": "simulator", "detail": "payeeMsisdn and amount are required strings"}})),
        )
            .into_response();
    };
    let scenario = match field("scenario").map(Scenario::from_name) {
        None => Scenario::EndToEnd,
        Some(Some(scenario)) => scenario,
        Some(None) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"kind": "simulator", "detail": "scenario is not end-to-end, discovery, quotes, transfers, fx or request-to-pay"}})),
            )
                .into_response()
        }
    };
    let ids = match field("ids").map(PaymentIds::from_name) {
        None => PaymentIds::Random,
        Some(Some(ids)) => ids,
        Some(None) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": {"kind": "simulator", "detail": "ids is not random or time-ordered"}})),
            )
                .into_response()
        }
    };
    let options = PayOptions {
        ids,
        payer_msisdn: field("payerMsisdn").map(str::to_string),
        payee_fsp: field("payeeFsp").map(str::to_string),
        scenario,
        wrong_fulfilment: request.get("wrongFulfilment").and_then(Value::as_bool) == Some(true),
        ilp_version: match field("ilpVersion") {
            None => None,
            Some(name) => match fspiop::ilp::IlpVersion::from_name(name) {
                Some(version) => Some(version),
                None => {
                    return (
                        StatusCode::BAD_REQUEST,
                        Json(json!({"error": {"kind": "simulator", "detail": "ilpVersion is not v1 or v4"}})),
                    )
                        .into_response()
                }
            },
        },
    };
    answered(inner.pay(&dfsp, payee, amount, &options).await)
}

/// A payment's outcome as the payer API answers it.
fn answered(outcome: Result<PaymentReport, PaymentError>) -> Response {
    match outcome {
        Ok(report) => (StatusCode::OK, Json(report_json(&report))).into_response(),
        Err(error) => {
            let status = if matches!(error, PaymentError::UnknownPayer(_)) {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            (status, Json(json!({"error": error_json(&error)}))).into_response()
        }
    }
}

fn bad_request(detail: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"kind": "simulator", "detail": detail}})),
    )
        .into_response()
}

/// `POST /{dfsp}/requestToPay`.
pub(crate) async fn request_to_pay(
    State(inner): State<Arc<Inner>>,
    Path(dfsp): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("body is not JSON");
    };
    let field = |name: &str| request.get(name).and_then(Value::as_str);
    let flag = |name: &str| request.get(name).and_then(Value::as_bool);
    let (Some(payer), Some(amount)) = (field("payerMsisdn"), field("amount")) else {
        return bad_request("payerMsisdn and amount are required strings");
    };
    let options = RequestOptions {
        payee_msisdn: field("payeeMsisdn").map(str::to_string),
        payer_fsp: field("payerFsp").map(str::to_string),
        without_otp: flag("otp") == Some(false),
        wrong_otp: flag("wrongOtp") == Some(true),
    };
    answered(inner.request_to_pay(&dfsp, payer, amount, &options).await)
}

fn bulk_report_json(report: &BulkReport) -> Value {
    let bulks: Vec<Value> = report
        .bulks
        .iter()
        .map(|bulk| {
            let transfers: Vec<Value> = bulk
                .transfers
                .iter()
                .map(|t| {
                    json!({
                        "msisdn": t.msisdn,
                        "quoteId": t.quote_id,
                        "transferId": t.transfer_id,
                        "committed": t.committed,
                        "errorCode": t.error_code,
                        "errorDescription": t.error_description,
                    })
                })
                .collect();
            json!({
                "payeeFsp": bulk.payee_fsp,
                "bulkQuoteId": bulk.bulk_quote_id,
                "bulkTransferId": bulk.bulk_transfer_id,
                "bulkTransferState": bulk.bulk_transfer_state,
                "bulkQuoteMs": millis(bulk.bulk_quote),
                "bulkTransferMs": millis(bulk.bulk_transfer),
                "payees": bulk.payees,
                "quoted": bulk.quoted,
                "committed": bulk.committed,
                "errorsByCode": bulk.errors_by_code,
                "error": bulk.error.as_ref().map(error_json),
                "transfers": transfers,
            })
        })
        .collect();
    json!({
        "payerFsp": report.payer_fsp,
        "payerMsisdn": report.payer_msisdn,
        "amount": report.amount,
        "currency": report.currency,
        "bulks": bulks,
    })
}

fn bulk_report_from_json(body: &Value) -> Option<BulkReport> {
    let text =
        |value: &Value, name: &str| value.get(name).and_then(Value::as_str).map(str::to_string);
    let count = |value: &Value, name: &str| value.get(name).and_then(Value::as_u64);
    let mut bulks = Vec::new();
    for bulk in body.get("bulks")?.as_array()? {
        let mut transfers = Vec::new();
        for t in bulk
            .get("transfers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            transfers.push(IndividualOutcome {
                msisdn: text(t, "msisdn")?,
                quote_id: text(t, "quoteId")?,
                transfer_id: text(t, "transferId")?,
                committed: t.get("committed")?.as_bool()?,
                error_code: text(t, "errorCode")?,
                error_description: text(t, "errorDescription")?,
            });
        }
        let mut errors_by_code = std::collections::BTreeMap::new();
        for (code, n) in bulk.get("errorsByCode")?.as_object()? {
            errors_by_code.insert(code.clone(), n.as_u64()?);
        }
        bulks.push(BulkOutcome {
            payee_fsp: text(bulk, "payeeFsp")?,
            bulk_quote_id: text(bulk, "bulkQuoteId")?,
            bulk_transfer_id: text(bulk, "bulkTransferId")?,
            bulk_transfer_state: text(bulk, "bulkTransferState")?,
            bulk_quote: from_millis(bulk.get("bulkQuoteMs")?),
            bulk_transfer: from_millis(bulk.get("bulkTransferMs")?),
            payees: count(bulk, "payees")?,
            quoted: count(bulk, "quoted")?,
            committed: count(bulk, "committed")?,
            errors_by_code,
            error: bulk
                .get("error")
                .filter(|e| !e.is_null())
                .map(error_from_json),
            transfers,
        });
    }
    Some(BulkReport {
        payer_fsp: text(body, "payerFsp")?,
        payer_msisdn: text(body, "payerMsisdn")?,
        amount: text(body, "amount")?,
        currency: text(body, "currency")?,
        bulks,
    })
}

/// `POST /{dfsp}/bulk`.
pub(crate) async fn bulk(
    State(inner): State<Arc<Inner>>,
    Path(dfsp): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return bad_request("body is not JSON");
    };
    let field = |name: &str| request.get(name).and_then(Value::as_str);
    let Some(amount) = field("amount") else {
        return bad_request("amount is a required string");
    };
    let mut payees = Vec::new();
    for payee in request
        .get("payees")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let part = |name: &str| payee.get(name).and_then(Value::as_str);
        let (Some(msisdn), Some(fsp)) = (part("msisdn"), part("fsp")) else {
            return bad_request("each of payees is {\"msisdn\", \"fsp\"}");
        };
        payees.push(BulkPayee::new(msisdn, fsp));
    }
    let count = request.get("count").and_then(Value::as_u64).unwrap_or(0);
    if payees.is_empty() && count == 0 {
        return bad_request("count (a positive number) or payees is required");
    }
    let options = BulkOptions {
        payer_msisdn: field("payerMsisdn").map(str::to_string),
        payee_fsps: request
            .get("payeeFsps")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect(),
        offset: usize::try_from(request.get("offset").and_then(Value::as_u64).unwrap_or(0))
            .unwrap_or(0),
        payees,
        summary_only: request.get("summaryOnly").and_then(Value::as_bool) == Some(true),
        skip_bulk_quote: request.get("skipBulkQuote").and_then(Value::as_bool) == Some(true),
    };
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    match inner.bulk(&dfsp, count, amount, &options).await {
        Ok(report) => (StatusCode::OK, Json(bulk_report_json(&report))).into_response(),
        Err(error) => {
            let status = if matches!(error, PaymentError::UnknownPayer(_)) {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::UNPROCESSABLE_ENTITY
            };
            (status, Json(json!({"error": error_json(&error)}))).into_response()
        }
    }
}

/// `GET /{dfsp}/health`.
pub(crate) async fn dfsp_health(
    State(inner): State<Arc<Inner>>,
    Path(dfsp): Path<String>,
) -> Response {
    if inner.dfsps.contains_key(&dfsp) {
        Json(json!({"status": "OK", "dfsp": dfsp})).into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            Json(json!({"status": "DOWN", "detail": format!("{dfsp} is not simulated here")})),
        )
            .into_response()
    }
}

/// `GET /stats`.
pub(crate) async fn stats(State(inner): State<Arc<Inner>>) -> Json<Value> {
    let counts = inner.counters.snapshot();
    let (verified, refused) = inner
        .jws
        .as_ref()
        .map(|k| {
            (
                k.verified.load(std::sync::atomic::Ordering::Relaxed),
                k.refused.load(std::sync::atomic::Ordering::Relaxed),
            )
        })
        .unwrap_or_default();
    let fx = inner.fx_patches.snapshot();
    Json(json!({
        "awaited": counts.awaited,
        "matched": counts.matched,
        "unmatched": counts.unmatched,
        "timeouts": counts.timeouts,
        "resent": counts.resent,
        "answersRefused": counts.answers_refused,
        "repeated": counts.repeated,
        "interim": counts.interim,
        "jws": inner.jws.is_some(),
        "signaturesVerified": verified,
        "signaturesRefused": refused,
        "fxCommitted": fx.committed,
        "fxAborted": fx.aborted,
        "fxOther": fx.other,
        "bulkPayeeNotifications": inner.bulks.notified.load(std::sync::atomic::Ordering::Relaxed),
    }))
}

/// `GET /dfsps`.
pub(crate) async fn dfsps(State(inner): State<Arc<Inner>>) -> Json<Value> {
    let list: Vec<Value> = inner
        .config
        .dfsps
        .iter()
        .map(|d| {
            let mut entry = json!({"name": d.name, "currency": d.currency, "msisdns": d.msisdns.len()});
            if let (Some(fxp), Some(object)) = (&d.fxp, entry.as_object_mut()) {
                object.insert(
                    "fxp".into(),
                    json!({"sourceCurrency": fxp.source_currency, "targetCurrency": fxp.target_currency, "rate": fxp.rate}),
                );
            }
            entry
        })
        .collect();
    Json(Value::Array(list))
}

/// What a simulator's JWS checks saw ([`RemoteSimulator::signature_counts`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignatureCounts {
    pub enabled: bool,
    pub verified: u64,
    pub refused: u64,
}

/// A simulator in another process, reached through its payer API.
#[derive(Debug, Clone)]
pub struct RemoteSimulator {
    base: String,
    client: reqwest::Client,
}

impl RemoteSimulator {
    /// The simulator at `base` (`http://host:port`); each call waits at most `timeout_ms`.
    pub fn new(base: &str, timeout_ms: u64) -> Result<RemoteSimulator, String> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(timeout_ms))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(RemoteSimulator {
            base: base.trim_end_matches('/').to_string(),
            client,
        })
    }

    /// The simulator at `base`, called through `client` (one that presents a certificate
    /// when the simulator requires mutual TLS).
    /// A client of a simulator served over mutual TLS: `tls` gives the scheme CA and the client
    /// certificate to present (`http://` in `base` is called as `https://`).
    pub fn with_tls(
        base: &str,
        timeout_ms: u64,
        tls: &service_kit::tls::TlsConfig,
    ) -> Result<RemoteSimulator, String> {
        let mut builder = reqwest::Client::builder().timeout(Duration::from_millis(timeout_ms));
        if let Some(config) = tls.client().map_err(|e| e.to_string())? {
            builder = builder.use_preconfigured_tls((*config).clone());
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        let base = match base.strip_prefix("http://") {
            Some(rest) => format!("https://{rest}"),
            None => base.to_string(),
        };
        Ok(RemoteSimulator::with_client(&base, client))
    }

    pub fn with_client(base: &str, client: reqwest::Client) -> RemoteSimulator {
        RemoteSimulator {
            base: base.trim_end_matches('/').to_string(),
            client,
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Pays from `payer` to `payee_msisdn` as `options` say.
    pub async fn pay(
        &self,
        payer: &str,
        payee_msisdn: &str,
        amount: &str,
        options: &PayOptions,
    ) -> Result<PaymentReport, PaymentError> {
        let mut body = json!({"payeeMsisdn": payee_msisdn, "amount": amount, "scenario": options.scenario.name()});
        if let Some(object) = body.as_object_mut() {
            if let Some(msisdn) = &options.payer_msisdn {
                object.insert("payerMsisdn".into(), Value::String(msisdn.clone()));
            }
            if let Some(fsp) = &options.payee_fsp {
                object.insert("payeeFsp".into(), Value::String(fsp.clone()));
            }
            if options.wrong_fulfilment {
                object.insert("wrongFulfilment".into(), Value::Bool(true));
            }
            if let Some(version) = options.ilp_version {
                object.insert("ilpVersion".into(), Value::String(version.name().into()));
            }
            if options.ids != PaymentIds::Random {
                object.insert("ids".into(), Value::String(options.ids.name().into()));
            }
        }
        self.post_payment(&format!("{}/{payer}/pay", self.base), &body)
            .await
    }

    /// A request to pay: DFSP `payee` asks the owner of `payer_msisdn` for `amount`, as
    /// `options` say.
    pub async fn request_to_pay(
        &self,
        payee: &str,
        payer_msisdn: &str,
        amount: &str,
        options: &RequestOptions,
    ) -> Result<PaymentReport, PaymentError> {
        let mut body =
            json!({"payerMsisdn": payer_msisdn, "amount": amount, "otp": !options.without_otp});
        if let Some(object) = body.as_object_mut() {
            if let Some(msisdn) = &options.payee_msisdn {
                object.insert("payeeMsisdn".into(), Value::String(msisdn.clone()));
            }
            if let Some(fsp) = &options.payer_fsp {
                object.insert("payerFsp".into(), Value::String(fsp.clone()));
            }
            if options.wrong_otp {
                object.insert("wrongOtp".into(), Value::Bool(true));
            }
        }
        self.post_payment(&format!("{}/{payee}/requestToPay", self.base), &body)
            .await
    }

    /// A bulk payment from `payer` to `count` payees (or `options.payees`), `amount` each; see
    /// [`crate::Simulator::bulk`].
    pub async fn bulk(
        &self,
        payer: &str,
        count: usize,
        amount: &str,
        options: &BulkOptions,
    ) -> Result<BulkReport, PaymentError> {
        let payees: Vec<Value> = options
            .payees
            .iter()
            .map(|p| json!({"msisdn": p.msisdn, "fsp": p.fsp}))
            .collect();
        let mut body = json!({"amount": amount, "count": count, "offset": options.offset, "payeeFsps": options.payee_fsps, "payees": payees, "summaryOnly": options.summary_only, "skipBulkQuote": options.skip_bulk_quote});
        if let (Some(msisdn), Some(object)) = (&options.payer_msisdn, body.as_object_mut()) {
            object.insert("payerMsisdn".into(), Value::String(msisdn.clone()));
        }
        let url = format!("{}/{payer}/bulk", self.base);
        let answer = self.post(&url, &body).await?;
        bulk_report_from_json(&answer)
            .ok_or_else(|| PaymentError::Simulator(format!("{url}: unexpected report {answer}")))
    }

    /// POSTs `body` to the payer API at `url`: the answer of a 2xx, else the error it names.
    async fn post(&self, url: &str, body: &Value) -> Result<Value, PaymentError> {
        let response = self
            .client
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| PaymentError::Simulator(format!("{url}: {e}")))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .map_err(|e| PaymentError::Simulator(format!("{url}: {status}: {e}")))?;
        if status.is_success() {
            return Ok(answer);
        }
        Err(error_from_json(answer.get("error").unwrap_or(&Value::Null)))
    }

    /// POSTs `body` to the payer API at `url`: the report, or the error that stopped it.
    async fn post_payment(&self, url: &str, body: &Value) -> Result<PaymentReport, PaymentError> {
        let answer = self.post(url, body).await?;
        report_from_json(&answer)
            .ok_or_else(|| PaymentError::Simulator(format!("{url}: unexpected report {answer}")))
    }

    /// The text at `url` (another server than the simulator, e.g. the switch's `/metrics`),
    /// fetched with the simulator's client (its certificate when mutual TLS is on), waiting at
    /// most `timeout_ms`.
    pub async fn fetch_text(&self, url: &str, timeout_ms: u64) -> Result<String, String> {
        let response = self
            .client
            .get(url)
            .timeout(Duration::from_millis(timeout_ms))
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url}: HTTP {}", response.status()));
        }
        response.text().await.map_err(|e| format!("{url}: {e}"))
    }

    /// How the simulator's requests and callbacks matched up since it started.
    pub async fn callback_counts(&self) -> Result<CallbackCounts, String> {
        let url = format!("{}/stats", self.base);
        let body: Value = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let count = |name: &str| body.get(name).and_then(Value::as_u64).unwrap_or(0);
        Ok(CallbackCounts {
            awaited: count("awaited"),
            matched: count("matched"),
            unmatched: count("unmatched"),
            timeouts: count("timeouts"),
            resent: count("resent"),
            answers_refused: count("answersRefused"),
            repeated: count("repeated"),
            interim: count("interim"),
        })
    }

    /// JWS at the simulator: whether it signs and validates, and how many received requests'
    /// signatures it verified and refused since it started.
    pub async fn signature_counts(&self) -> Result<SignatureCounts, String> {
        let url = format!("{}/stats", self.base);
        let body: Value = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let count = |name: &str| body.get(name).and_then(Value::as_u64).unwrap_or(0);
        Ok(SignatureCounts {
            enabled: body.get("jws").and_then(Value::as_bool).unwrap_or(false),
            verified: count("signaturesVerified"),
            refused: count("signaturesRefused"),
        })
    }

    /// How many `PATCH /fxTransfers` the simulator's FXPs received since it started.
    pub async fn fx_patch_counts(&self) -> Result<FxPatchCounts, String> {
        let url = format!("{}/stats", self.base);
        let body: Value = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?
            .json()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let count = |name: &str| body.get(name).and_then(Value::as_u64).unwrap_or(0);
        Ok(FxPatchCounts {
            committed: count("fxCommitted"),
            aborted: count("fxAborted"),
            other: count("fxOther"),
        })
    }

    /// Whether the simulator runs `dfsp` and answers.
    pub async fn dfsp_healthy(&self, dfsp: &str) -> bool {
        self.client
            .get(format!("{}/{dfsp}/health", self.base))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn reports_and_errors_survive_the_wire() {
        let report = PaymentReport {
            transfer_id: "t".into(),
            quote_id: "q".into(),
            payee_fsp: "perffsp-5".into(),
            transfer_amount: "100".into(),
            currency: "USD".into(),
            transfer_state: "COMMITTED".into(),
            lookup: Duration::from_micros(12_500),
            quote: Duration::from_millis(30),
            transfer: Duration::from_millis(41),
            ..PaymentReport::default()
        };
        let back = report_from_json(&report_json(&report)).unwrap();
        assert_eq!(back, report);
        assert_eq!(back.lookup.as_micros(), 12_500);
        assert!(!back.converted());

        // A conversion's report survives too.
        let converted = PaymentReport {
            currency: "EUR".into(),
            transfer_amount: "90".into(),
            fxp: "perffsp-fxp".into(),
            conversion_request_id: "cr".into(),
            commit_request_id: "c".into(),
            source_amount: "100".into(),
            source_currency: "USD".into(),
            target_amount: "90".into(),
            target_currency: "EUR".into(),
            fx_quote: Duration::from_micros(7_250),
            fx_transfer: Duration::from_millis(55),
            ..report.clone()
        };
        let back = report_from_json(&report_json(&converted)).unwrap();
        assert_eq!(back, converted);
        assert!(back.converted());
        assert_eq!(
            back.total(),
            Duration::from_micros(12_500 + 7_250 + 30_000 + 55_000 + 41_000)
        );

        // A request to pay's report survives too.
        let requested = PaymentReport {
            transaction_request_id: "r".into(),
            transaction_id: "x".into(),
            payer_fsp: "perffsp-1".into(),
            transaction_request: Duration::from_micros(3_500),
            authorization: Duration::from_millis(9),
            ..report.clone()
        };
        let back = report_from_json(&report_json(&requested)).unwrap();
        assert_eq!(back, requested);
        assert!(back.requested() && !report.requested());
        assert_eq!(
            back.total(),
            Duration::from_micros(12_500 + 3_500 + 30_000 + 9_000 + 41_000)
        );

        // A report from a simulator without the conversion's and the request's members.
        let mut old = report_json(&report);
        for name in [
            "fxp",
            "conversionRequestId",
            "commitRequestId",
            "sourceAmount",
            "sourceCurrency",
            "targetAmount",
            "targetCurrency",
            "fxQuoteMs",
            "fxTransferMs",
            "transactionRequestId",
            "transactionId",
            "payerFsp",
            "transactionRequestMs",
            "authorizationMs",
        ] {
            old.as_object_mut().unwrap().remove(name);
        }
        assert_eq!(report_from_json(&old).unwrap(), report);
        for error in [
            PaymentError::Fspiop {
                phase: Phase::Transfer,
                code: "4001".into(),
                description: "Payer FSP insufficient liquidity".into(),
            },
            PaymentError::Timeout {
                phase: Phase::Quote,
                timeout_ms: 30_000,
            },
            PaymentError::UnknownPayer("x".into()),
            PaymentError::Fspiop {
                phase: Phase::FxQuote,
                code: "3100".into(),
                description: "no such pair".into(),
            },
            PaymentError::InvalidCallback {
                phase: Phase::FxTransfer,
                detail: "d".into(),
            },
            PaymentError::InvalidCallback {
                phase: Phase::Lookup,
                detail: "d".into(),
            },
            PaymentError::Rejected {
                phase: Phase::Authorization,
                detail: "the OTP entered is wrong".into(),
            },
        ] {
            assert_eq!(error_from_json(&error_json(&error)), error);
        }
        for phase in PHASES {
            assert_eq!(Phase::from_name(phase.name()), Some(phase));
        }
        for scenario in [
            Scenario::EndToEnd,
            Scenario::Discovery,
            Scenario::Quotes,
            Scenario::Transfers,
            Scenario::Fx,
            Scenario::RequestToPay,
            Scenario::Bulk,
        ] {
            assert_eq!(Scenario::from_name(scenario.name()), Some(scenario));
        }
        assert_eq!(Scenario::from_name("fx"), Some(Scenario::Fx));
        assert!(Scenario::Fx.looks_up());
        assert!(!Scenario::Bulk.looks_up());
    }

    #[test]
    fn bulk_reports_survive_the_wire() {
        let mut errors_by_code = std::collections::BTreeMap::new();
        errors_by_code.insert("3204".to_string(), 1);
        let committed = IndividualOutcome {
            msisdn: "19012345400".into(),
            quote_id: "q1".into(),
            transfer_id: "t1".into(),
            committed: true,
            ..IndividualOutcome::default()
        };
        let refused = IndividualOutcome {
            msisdn: "19099999999".into(),
            quote_id: "q2".into(),
            error_code: "3204".into(),
            error_description: "Party not found".into(),
            ..IndividualOutcome::default()
        };
        let report = BulkReport {
            payer_fsp: "perffsp-1".into(),
            payer_msisdn: "19012345000".into(),
            amount: "10".into(),
            currency: "USD".into(),
            bulks: vec![
                BulkOutcome {
                    payee_fsp: "perffsp-5".into(),
                    bulk_quote_id: "bq".into(),
                    bulk_transfer_id: "bt".into(),
                    bulk_transfer_state: "COMPLETED".into(),
                    bulk_quote: Duration::from_micros(8_250),
                    bulk_transfer: Duration::from_millis(42),
                    payees: 2,
                    quoted: 1,
                    committed: 1,
                    errors_by_code,
                    error: None,
                    transfers: vec![committed, refused],
                },
                BulkOutcome {
                    payee_fsp: "perffsp-6".into(),
                    bulk_quote_id: "bq2".into(),
                    payees: 3,
                    error: Some(PaymentError::Timeout {
                        phase: Phase::BulkQuote,
                        timeout_ms: 500,
                    }),
                    ..BulkOutcome::default()
                },
            ],
        };
        let back = bulk_report_from_json(&bulk_report_json(&report)).unwrap();
        assert_eq!(back, report);
        assert_eq!((back.committed(), back.failed()), (1, 1));
        assert!(back.bulks[0].completed() && !back.bulks[1].completed());
    }
}
