//! The asynchronous half of every request: after the synchronous 202/200, a spawned task
//! validates what needs the directory or the database, stores (persistent mode), forwards to
//! the other DFSP, and on any failure sends a hub error callback to the requester.
//!
//! | request | checks | forwarded to |
//! | --- | --- | --- |
//! | `POST /quotes` | payer (FSPIOP-Source) and payee (FSPIOP-Destination) exist, are active and hold an active POSITION account in the currency (3202 / 3203); so do `payer/payee.partyIdInfo.fspId` when they name another DFSP; persistent: duplicate (3106) | payee `{FSPIOP_CALLBACK_URL_QUOTES}/quotes` |
//! | `PUT /quotes/{ID}` | no `Accept` header (3100); payee (FSPIOP-Source) as above (3203); ILP packet agrees (3100); persistent: quote exists (3205) between these DFSPs (3100), same transaction (3100), duplicate (3106) | payer `{…}/quotes/{ID}` |
//! | `PUT /quotes/{ID}/error` | persistent: stored | `{…}/quotes/{ID}/error` of FSPIOP-Destination |
//! | `GET /quotes/{ID}` | – | `{…}/quotes/{ID}` of FSPIOP-Destination |
//! | `POST /bulkQuotes` | payer (FSPIOP-Source, 3202) and payee DFSP (FSPIOP-Destination, 3201) exist, are active and hold an active POSITION account in each currency of the bulk | payee `{FSPIOP_CALLBACK_URL_BULK_QUOTES}/bulkQuotes` |
//! | `PUT /bulkQuotes/{ID}` | no `Accept` header (3100); payee (FSPIOP-Source) as above in the results' currencies (3203); payer exists and is active (3201) | payer `{…}/bulkQuotes/{ID}` |
//! | `PUT /bulkQuotes/{ID}/error`, `GET /bulkQuotes/{ID}` | sender (3100) and FSPIOP-Destination (3201) exist and are active | `{…}/bulkQuotes/{ID}[/error]` of FSPIOP-Destination |
//!
//! Bulk quotes are relayed, never stored, in either mode (as Mojaloop's Quoting Service does).
//!
//! A destination without an endpoint for the resource is 3201; a failed delivery is the error
//! the forwarder reports (1001 unreachable or 5xx, the peer's own `errorInformation`, 3000 for
//! other 4xx). Error callbacks go to the requester's `{…}/{resource}/{ID}/error` from the hub;
//! a requester without that endpoint cannot be told and the failure is only logged.

use std::collections::BTreeMap;
use std::time::Instant;

use fspiop::types::{
    FxConversion, FxQuotesIdPutResponse, FxQuotesPostRequest, Money, QuotesIdPutResponse,
    QuotesPostRequest,
};
use fspiop::{ErrorCode, ErrorInformation, FspiopError};
use fspiop_edge::OutboundRequest;

use crate::fx_store::{FxOutcome, FxQuoteRow, FxResponseRow};
use crate::ilp_check;
use crate::persistence::{
    datetime_literal, ErrorRow, QuoteOutcome, QuoteRow, ResponseOutcome, ResponseRow,
};
use crate::AppState;

/// Endpoint type of the quotes callbacks (a base URL).
pub const QUOTES_ENDPOINT_TYPE: &str = "FSPIOP_CALLBACK_URL_QUOTES";
/// Endpoint type of the FX quotes callbacks (a base URL).
pub const FX_QUOTES_ENDPOINT_TYPE: &str = "FSPIOP_CALLBACK_URL_FX_QUOTES";
/// Endpoint type of the bulk quotes callbacks (a base URL).
pub const BULK_QUOTES_ENDPOINT_TYPE: &str = "FSPIOP_CALLBACK_URL_BULK_QUOTES";

/// Which FSPIOP resource a request belongs to: its paths, callback endpoint and media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `/quotes`.
    Quotes,
    /// `/fxQuotes` (FSPIOP 2.0): relayed between a DFSP and a foreign exchange provider.
    FxQuotes,
    /// `/bulkQuotes`: up to 1000 quotes from one payer DFSP to one payee DFSP, relayed only.
    BulkQuotes,
}

impl Resource {
    /// The resource's name in paths and media types.
    pub fn name(self) -> &'static str {
        match self {
            Resource::Quotes => "quotes",
            Resource::FxQuotes => "fxQuotes",
            Resource::BulkQuotes => "bulkQuotes",
        }
    }

    /// The endpoint type its callbacks go to.
    pub fn endpoint_type(self) -> &'static str {
        match self {
            Resource::Quotes => QUOTES_ENDPOINT_TYPE,
            Resource::FxQuotes => FX_QUOTES_ENDPOINT_TYPE,
            Resource::BulkQuotes => BULK_QUOTES_ENDPOINT_TYPE,
        }
    }
}

/// The inbound headers forwarded (Mojaloop's Quoting Service forwards this subset only,
/// services spec §4.4; `FSPIOP-Encryption` is kept as well so end-to-end encryption works).
/// The W3C trace context goes on too (as the `traceparent` of the hub's own forward hop,
/// see `fspiop_edge::Forwarder::send`): a DFSP's quote belongs to the trace of its payment, as
/// the W3C Trace Context asks of every participant that passes a request on.
pub const FORWARDED_HEADERS: [&str; 11] = [
    "accept",
    "content-type",
    "date",
    "fspiop-source",
    "fspiop-destination",
    "fspiop-http-method",
    "fspiop-signature",
    "fspiop-uri",
    "fspiop-encryption",
    "traceparent",
    "tracestate",
];

/// What every accepted request carries into its task.
#[derive(Debug, Clone)]
pub struct Inbound {
    /// `/quotes`, `/fxQuotes` or `/bulkQuotes`.
    pub resource: Resource,
    /// The quote id (from the path, or the body of a POST).
    pub id: String,
    /// Inbound headers, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// FSPIOP-Source.
    pub source: String,
    /// FSPIOP-Destination.
    pub destination: String,
    /// The body exactly as received (empty for GET).
    pub body: Vec<u8>,
}

/// An accepted request, waiting for its task.
#[derive(Debug, Clone)]
pub enum Job {
    Post {
        inbound: Inbound,
        request: Box<QuotesPostRequest>,
        /// Hex SHA-256 of the canonical body (persistent mode).
        hash: Option<String>,
    },
    Put {
        inbound: Inbound,
        response: Box<QuotesIdPutResponse>,
        hash: Option<String>,
        /// The callback carried an `Accept` header.
        had_accept: bool,
    },
    PutError {
        inbound: Inbound,
        error: ErrorInformation,
    },
    Get {
        inbound: Inbound,
    },
    /// `POST /fxQuotes`.
    FxPost {
        inbound: Inbound,
        request: Box<FxQuotesPostRequest>,
        /// Hex SHA-256 of the canonical body (persistent mode).
        hash: Option<String>,
    },
    /// `PUT /fxQuotes/{ID}`.
    FxPut {
        inbound: Inbound,
        response: Box<FxQuotesIdPutResponse>,
        hash: Option<String>,
        had_accept: bool,
    },
    /// `POST /bulkQuotes`: relayed as received, nothing stored.
    BulkPost {
        inbound: Inbound,
        /// Every currency the bulk's quotes are in (sorted, once each).
        currencies: Vec<String>,
    },
    /// `PUT /bulkQuotes/{ID}`: relayed as received, nothing stored.
    BulkPut {
        inbound: Inbound,
        /// The currencies the payee answered in (sorted, once each).
        currencies: Vec<String>,
        had_accept: bool,
    },
}

impl Job {
    fn parts(&self) -> (&'static str, &Inbound) {
        match self {
            Job::Post { inbound, .. } => ("post", inbound),
            Job::Put { inbound, .. } => ("put", inbound),
            Job::PutError { inbound, .. } => ("error", inbound),
            Job::Get { inbound } => ("get", inbound),
            Job::FxPost { inbound, .. } => ("fx-post", inbound),
            Job::FxPut { inbound, .. } => ("fx-put", inbound),
            Job::BulkPost { inbound, .. } => ("bulk-post", inbound),
            Job::BulkPut { inbound, .. } => ("bulk-put", inbound),
        }
    }
}

/// Runs a job to the end: forwarded, or an error callback sent (or logged).
pub async fn process(state: &AppState, job: Job) {
    let (action, inbound) = job.parts();
    let (action, requester, id) = (action, inbound.source.clone(), inbound.id.clone());
    let resource = inbound.resource;
    // What a hub error answering this request needs to speak its version.
    let inbound_headers: Vec<(String, String)> = ["content-type", "accept"]
        .into_iter()
        .filter_map(|name| {
            let value = inbound.headers.get(name)?;
            Some((name.to_string(), value.clone()))
        })
        .collect();
    let result: Result<(), Refusal> = match job {
        Job::Post {
            inbound,
            request,
            hash,
        } => post(state, inbound, &request, hash)
            .await
            .map_err(Refusal::from),
        Job::Put {
            inbound,
            response,
            hash,
            had_accept,
        } => {
            let payer = Refusal::telling(&inbound);
            put(state, inbound, &response, hash, had_accept)
                .await
                .map_err(payer)
        }
        Job::PutError { inbound, error } => put_error(state, inbound, error)
            .await
            .map_err(Refusal::from),
        Job::Get { inbound } => get(state, inbound).await.map_err(Refusal::from),
        Job::FxPost {
            inbound,
            request,
            hash,
        } => fx_post(state, inbound, &request, hash)
            .await
            .map_err(Refusal::from),
        Job::FxPut {
            inbound,
            response,
            hash,
            had_accept,
        } => {
            let initiator = Refusal::telling(&inbound);
            fx_put(state, inbound, &response, hash, had_accept)
                .await
                .map_err(initiator)
        }
        Job::BulkPost {
            inbound,
            currencies,
        } => bulk_post(state, inbound, &currencies)
            .await
            .map_err(Refusal::from),
        Job::BulkPut {
            inbound,
            currencies,
            had_accept,
        } => {
            let payer = Refusal::telling(&inbound);
            bulk_put(state, inbound, &currencies, had_accept)
                .await
                .map_err(payer)
        }
    };
    let metrics = &state.inner.metrics;
    match result {
        Ok(()) => metrics.record_quote(action, "forwarded"),
        Err(refusal) => {
            let error = &refusal.error;
            tracing::info!(quote_id = %id, %requester, action, error = %error, "quote request rejected");
            let sent =
                send_error_callback(state, resource, &requester, &id, error, &inbound_headers)
                    .await;
            metrics.record_quote(action, if sent { "rejected" } else { "failed" });
            // The payer asked for this quote and waits for it: a refused answer is no answer,
            // so it is told now rather than at its own timeout.
            if let Some(payer) = refusal.tell {
                let reason = error.detail.clone().unwrap_or_else(|| error.description());
                let told = FspiopError::with_detail(
                    error.code,
                    format!("quote response of {requester} refused by the switch: {reason}"),
                );
                tracing::info!(quote_id = %id, %payer, payee = %requester, "payer told of the refused quote response");
                // In the version the payer would have had the payee's answer in.
                send_error_callback(state, resource, &payer, &id, &told, &inbound_headers).await;
            }
        }
    }
}

/// Why a request went no further, and who else must hear of it.
#[derive(Debug)]
struct Refusal {
    error: FspiopError,
    /// The payer waiting for a quote response the switch refused.
    tell: Option<String>,
}

impl Refusal {
    /// For an answer's task, whose error says whether the answer was refused by a check
    /// (`true`): then the DFSP it was meant for (FSPIOP-Destination), which waits for it, is
    /// told too.
    fn telling(inbound: &Inbound) -> impl FnOnce((FspiopError, bool)) -> Refusal {
        let waiting = inbound.destination.clone();
        move |(error, refused)| Refusal {
            error,
            tell: refused.then_some(waiting),
        }
    }
}

impl From<FspiopError> for Refusal {
    fn from(error: FspiopError) -> Refusal {
        Refusal { error, tell: None }
    }
}

async fn post(
    state: &AppState,
    inbound: Inbound,
    request: &QuotesPostRequest,
    hash: Option<String>,
) -> Result<(), FspiopError> {
    let currency = request.amount.currency.as_str();
    let supported: Vec<&str> = request
        .payer
        .supported_currencies
        .iter()
        .flatten()
        .map(String::as_str)
        .collect();
    // A v2.0 payer listing the currencies it holds (currency conversion) must hold each of
    // them; the payee then need not hold the amount's currency, which may be the payer's.
    let conversion = !supported.is_empty()
        || request.converter.is_some()
        || request.currency_conversion.is_some();
    let payer_currencies = if supported.is_empty() {
        vec![currency]
    } else {
        supported
    };
    let payee_currencies = if conversion { vec![] } else { vec![currency] };
    let payer_code = ErrorCode::PayerFspIdNotFound;
    let payee_code = ErrorCode::PayeeFspIdNotFound;
    require_participant(state, &inbound.source, &payer_currencies, payer_code).await?;
    require_participant(state, &inbound.destination, &payee_currencies, payee_code).await?;
    if let Some(fsp) = request.payer.party_id_info.fsp_id.as_deref() {
        if fsp != inbound.source {
            require_participant(state, fsp, &payer_currencies, payer_code).await?;
        }
    }
    if let Some(fsp) = request.payee.party_id_info.fsp_id.as_deref() {
        if fsp != inbound.destination {
            require_participant(state, fsp, &payee_currencies, payee_code).await?;
        }
    }

    if let (Some(writer), Some(hash)) = (&state.inner.writer, hash) {
        let row = quote_row(&inbound, request, hash);
        match writer.quote(row).await {
            Ok(QuoteOutcome::Accepted) => {}
            Ok(QuoteOutcome::Modified) => {
                return Err(FspiopError::with_detail(
                    ErrorCode::ModifiedRequest,
                    format!("Quote {} is a duplicate but hashes dont match", inbound.id),
                ))
            }
            Err(error) => return Err(storage_failed(&inbound.id, &error)),
        }
    }
    forward(state, "post", "POST", "/quotes".to_string(), inbound, true).await
}

async fn put(
    state: &AppState,
    inbound: Inbound,
    response: &QuotesIdPutResponse,
    hash: Option<String>,
    had_accept: bool,
) -> Result<(), (FspiopError, bool)> {
    // `true`: the payer is told too (the answer failed a check); `false`: it is not (the
    // answer was delivered before, the payer never asked, or delivery itself failed).
    let refused = |error: FspiopError| (error, true);
    let id = &inbound.id;
    if had_accept {
        return Err(refused(accept_in_callback("quote", id)));
    }
    let currency = response
        .payee_receive_amount
        .as_ref()
        .unwrap_or(&response.transfer_amount)
        .currency
        .as_str();
    require_participant(
        state,
        &inbound.source,
        &[currency],
        ErrorCode::PayeeFspIdNotFound,
    )
    .await
    .map_err(refused)?;
    let checked = match state.inner.ilp_versions {
        Some(versions) => Some(ilp_check::check_response(id, response, versions).map_err(refused)?),
        None => None,
    };

    if let (Some(writer), Some(hash)) = (&state.inner.writer, hash) {
        let row = response_row(
            &inbound,
            response,
            checked.and_then(|c| c.transaction_id),
            hash,
        )
        .map_err(refused)?;
        // Whether the payer hears of it: not of a changed resend (it has the first answer) nor
        // of an answer to a quote it never asked for.
        let refuse = |code: ErrorCode, detail: String, tell: bool| {
            Err((FspiopError::with_detail(code, detail), tell))
        };
        match writer.response(row).await {
            Ok(ResponseOutcome::Accepted) => {}
            Ok(ResponseOutcome::Modified) => {
                return refuse(
                    ErrorCode::ModifiedRequest,
                    format!("Update for quote {id} is a duplicate but hashes dont match"),
                    false,
                )
            }
            Ok(ResponseOutcome::UnknownQuote) => {
                return refuse(
                    ErrorCode::QuoteIdNotFound,
                    format!("quote {id} was not requested through this switch"),
                    false,
                )
            }
            Ok(ResponseOutcome::WrongParties {
                payer_fsp,
                payee_fsp,
            }) => {
                return refuse(
                    ErrorCode::GenericValidationError,
                    format!("quote {id} was requested by {payer_fsp} from {payee_fsp}"),
                    false,
                )
            }
            Ok(ResponseOutcome::TransactionMismatch { stored }) => {
                return refuse(
                    ErrorCode::GenericValidationError,
                    format!("ilpPacket transactionId is not the quote's {stored}"),
                    true,
                )
            }
            Err(error) => return Err(refused(storage_failed(id, &error))),
        }
    }
    let path = format!("/quotes/{id}");
    forward(state, "put", "PUT", path, inbound, true)
        .await
        .map_err(|error| (error, false))
}

/// A callback carried `Accept` (3100, Mojaloop's words).
fn accept_in_callback(what: &str, id: &str) -> FspiopError {
    FspiopError::with_detail(
        ErrorCode::GenericValidationError,
        format!(
            "Update for {what} {id} failed: \"accept\" header should not be sent in callbacks."
        ),
    )
}

async fn put_error(
    state: &AppState,
    inbound: Inbound,
    error: ErrorInformation,
) -> Result<(), FspiopError> {
    require_bulk_parties(state, &inbound).await?;
    // Only quote errors are stored; FX and bulk quote errors are relayed.
    if let (Some(writer), Resource::Quotes) = (&state.inner.writer, inbound.resource) {
        let row = ErrorRow {
            quote_id: inbound.id.clone(),
            source_fsp: inbound.source.clone(),
            destination_fsp: inbound.destination.clone(),
            error_code: error.error_code,
            error_description: error.error_description,
        };
        // The error is relayed even if it cannot be recorded: the payer must hear of it.
        if let Err(failure) = writer.error(row).await {
            tracing::error!(quote_id = %inbound.id, error = %failure, "error callback not recorded");
        }
    }
    let path = format!("/{}/{}/error", inbound.resource.name(), inbound.id);
    forward(state, "error", "PUT", path, inbound, true).await
}

async fn get(state: &AppState, inbound: Inbound) -> Result<(), FspiopError> {
    require_bulk_parties(state, &inbound).await?;
    let path = format!("/{}/{}", inbound.resource.name(), inbound.id);
    forward(state, "get", "GET", path, inbound, false).await
}

/// `POST /bulkQuotes`: the payer (FSPIOP-Source, 3202) and the payee DFSP (FSPIOP-Destination,
/// 3201 as Mojaloop answers) exist, are active and hold an active POSITION account in each
/// currency of the bulk (Mojaloop checks the first quote's); then relayed as received.
async fn bulk_post(
    state: &AppState,
    inbound: Inbound,
    currencies: &[String],
) -> Result<(), FspiopError> {
    let currencies: Vec<&str> = currencies.iter().map(String::as_str).collect();
    let (payer, payee) = (&inbound.source, &inbound.destination);
    require_participant(state, payer, &currencies, ErrorCode::PayerFspIdNotFound).await?;
    require_participant(state, payee, &currencies, ErrorCode::DestinationFspError).await?;
    let path = format!("/{}", inbound.resource.name());
    forward(state, "bulk-post", "POST", path, inbound, true).await
}

/// `PUT /bulkQuotes/{ID}`: no `Accept` (3100); the payee DFSP (FSPIOP-Source) holds the
/// currencies it answered in (3203), and the payer is told of a refused answer; the payer
/// exists and is active (3201); then relayed as received. Mojaloop checks only `Accept`.
async fn bulk_put(
    state: &AppState,
    inbound: Inbound,
    currencies: &[String],
    had_accept: bool,
) -> Result<(), (FspiopError, bool)> {
    let refused = |error: FspiopError| (error, true);
    if had_accept {
        return Err(refused(accept_in_callback("bulk quote", &inbound.id)));
    }
    let currencies: Vec<&str> = currencies.iter().map(String::as_str).collect();
    let payee_code = ErrorCode::PayeeFspIdNotFound;
    require_participant(state, &inbound.source, &currencies, payee_code)
        .await
        .map_err(refused)?;
    let not_told = |error: FspiopError| (error, false);
    let payer = &inbound.destination;
    require_participant(state, payer, &[], ErrorCode::DestinationFspError)
        .await
        .map_err(not_told)?;
    let path = format!("/{}/{}", inbound.resource.name(), inbound.id);
    forward(state, "bulk-put", "PUT", path, inbound, true)
        .await
        .map_err(not_told)
}

/// For a bulk quote's `GET` or error: the sender (3100) and FSPIOP-Destination (3201) exist
/// and are active. Nothing for the other resources, whose `GET` and errors are relayed to any
/// DFSP with an endpoint.
async fn require_bulk_parties(state: &AppState, inbound: &Inbound) -> Result<(), FspiopError> {
    if inbound.resource != Resource::BulkQuotes {
        return Ok(());
    }
    let sender_code = ErrorCode::GenericValidationError;
    require_participant(state, &inbound.source, &[], sender_code).await?;
    require_participant(
        state,
        &inbound.destination,
        &[],
        ErrorCode::DestinationFspError,
    )
    .await
}

/// The conversion terms name the two parties of the request: the initiating DFSP (the payer)
/// and the FXP (`counterPartyFsp`), and convert between two different currencies. Mojaloop
/// checks none of this; a quote whose terms name other parties would reach a DFSP that did not
/// ask for it, or bind an FXP that did not quote.
fn check_terms(terms: &FxConversion, initiator: &str, fxp: &str) -> Result<(), FspiopError> {
    let refuse = |why: String| {
        Err(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            why,
        ))
    };
    if terms.initiating_fsp != initiator {
        return refuse(format!(
            "conversionTerms.initiatingFsp {} is not the initiating DFSP {initiator}",
            terms.initiating_fsp
        ));
    }
    if terms.counter_party_fsp != fxp {
        return refuse(format!(
            "conversionTerms.counterPartyFsp {} is not the FXP {fxp}",
            terms.counter_party_fsp
        ));
    }
    if terms.source_amount.currency == terms.target_amount.currency {
        return refuse(format!(
            "conversionTerms converts {} to itself",
            terms.source_amount.currency
        ));
    }
    Ok(())
}

/// `POST /fxQuotes`: the initiating DFSP holds the source currency (3202), the FXP is active
/// and holds both currencies (3100, as Mojaloop answers an unsupported FXP), the terms name
/// them; then relayed to the FXP's FX quotes endpoint.
async fn fx_post(
    state: &AppState,
    inbound: Inbound,
    request: &FxQuotesPostRequest,
    hash: Option<String>,
) -> Result<(), FspiopError> {
    let terms = &request.conversion_terms;
    let source = terms.source_amount.currency.as_str();
    let target = terms.target_amount.currency.as_str();
    require_participant(
        state,
        &inbound.source,
        &[source],
        ErrorCode::PayerFspIdNotFound,
    )
    .await?;
    require_participant(
        state,
        &inbound.destination,
        &[source, target],
        ErrorCode::GenericValidationError,
    )
    .await?;
    check_terms(terms, &inbound.source, &inbound.destination)?;
    if let (Some(pool), Some(hash)) = (&state.inner.stores.quotes, hash) {
        let row = FxQuoteRow {
            conversion_request_id: inbound.id.clone(),
            conversion_id: terms.conversion_id.clone(),
            determining_transfer_id: terms.determining_transfer_id.clone(),
            initiating_fsp: inbound.source.clone(),
            counter_party_fsp: inbound.destination.clone(),
            amount_type: terms.amount_type.as_str().to_string(),
            source: fx_money(&terms.source_amount),
            target: fx_money(&terms.target_amount),
            expiration: fx_expiration(terms)?,
            hash,
            body: String::from_utf8_lossy(&inbound.body).into_owned(),
        };
        match crate::fx_store::store_request(pool, &row).await {
            Ok(FxOutcome::Accepted) => {}
            Ok(_) => {
                return Err(FspiopError::with_detail(
                    ErrorCode::ModifiedRequest,
                    format!(
                        "FX quote {} is a duplicate but hashes dont match",
                        inbound.id
                    ),
                ))
            }
            Err(error) => return Err(storage_failed(&inbound.id, &error)),
        }
    }
    forward(
        state,
        "fx-post",
        "POST",
        "/fxQuotes".to_string(),
        inbound,
        true,
    )
    .await
}

/// `PUT /fxQuotes/{ID}`: no `Accept` (3100), the FXP (FSPIOP-Source) holds both currencies
/// and the terms name it and the initiating DFSP (3100); then relayed to the initiating DFSP.
/// A refused answer is told to the initiating DFSP as well: it waits for it.
async fn fx_put(
    state: &AppState,
    inbound: Inbound,
    response: &FxQuotesIdPutResponse,
    hash: Option<String>,
    had_accept: bool,
) -> Result<(), (FspiopError, bool)> {
    let refused = |error: FspiopError| (error, true);
    let id = &inbound.id;
    if had_accept {
        return Err(refused(accept_in_callback("fx quote", id)));
    }
    let terms = &response.conversion_terms;
    let currencies = [
        terms.source_amount.currency.as_str(),
        terms.target_amount.currency.as_str(),
    ];
    require_participant(
        state,
        &inbound.source,
        &currencies,
        ErrorCode::GenericValidationError,
    )
    .await
    .map_err(refused)?;
    check_terms(terms, &inbound.destination, &inbound.source).map_err(refused)?;
    if let (Some(pool), Some(hash)) = (&state.inner.stores.quotes, hash) {
        let row = FxResponseRow {
            conversion_request_id: id.clone(),
            fxp: inbound.source.clone(),
            initiating_fsp: inbound.destination.clone(),
            condition: response.condition.clone(),
            source: fx_money(&terms.source_amount),
            target: fx_money(&terms.target_amount),
            expiration: fx_expiration(terms).map_err(refused)?,
            hash,
            body: String::from_utf8_lossy(&inbound.body).into_owned(),
        };
        // Whether the initiating DFSP hears of a refusal: not of a changed resend (it has the
        // first answer) nor of an answer to a request it never made.
        let refuse =
            |code: ErrorCode, detail: String| Err((FspiopError::with_detail(code, detail), false));
        match crate::fx_store::store_response(pool, &row).await {
            Ok(FxOutcome::Accepted) => {}
            Ok(FxOutcome::Modified) => {
                return refuse(
                    ErrorCode::ModifiedRequest,
                    format!("Update for FX quote {id} is a duplicate but hashes dont match"),
                )
            }
            Ok(FxOutcome::UnknownQuote) => {
                return refuse(
                    ErrorCode::QuoteIdNotFound,
                    format!("FX quote {id} was not requested through this switch"),
                )
            }
            Ok(FxOutcome::WrongParties {
                initiating_fsp,
                counter_party_fsp,
            }) => {
                return refuse(
                    ErrorCode::GenericValidationError,
                    format!(
                        "FX quote {id} was requested by {initiating_fsp} from {counter_party_fsp}"
                    ),
                )
            }
            Err(error) => return Err(refused(storage_failed(id, &error))),
        }
    }
    let path = format!("/fxQuotes/{id}");
    forward(state, "fx-put", "PUT", path, inbound, true)
        .await
        .map_err(|error| (error, false))
}

fn fx_money(money: &fspiop::types::FxMoney) -> (Option<String>, String) {
    (money.amount.clone(), money.currency.clone())
}

/// The terms' expiration as a database time (the schema guarantees a DateTime).
fn fx_expiration(terms: &FxConversion) -> Result<String, FspiopError> {
    fspiop::datetime::parse_date_time(&terms.expiration)
        .map(datetime_literal)
        .ok_or_else(|| {
            FspiopError::with_detail(
                ErrorCode::GenericValidationError,
                "/conversionTerms/expiration is not a DateTime",
            )
        })
}

/// A storage failure as the requester sees it (the cause goes to the log only).
fn storage_failed(id: &str, error: &crate::persistence::WriteError) -> FspiopError {
    let cause = std::error::Error::source(error).map(ToString::to_string);
    tracing::error!(quote_id = %id, %error, cause, "quote not stored");
    error.to_fspiop()
}

/// The participant exists, is active, and holds an active POSITION account in each
/// currency; else `code` naming what is missing.
async fn require_participant(
    state: &AppState,
    name: &str,
    currencies: &[&str],
    code: ErrorCode,
) -> Result<(), FspiopError> {
    let participant = state
        .inner
        .directory
        .participant(name)
        .await
        .map_err(|error| {
            tracing::error!(%error, participant = name, "participant lookup failed");
            FspiopError::with_detail(
                ErrorCode::ServiceCurrentlyUnavailable,
                "participant lookup failed",
            )
        })?;
    let refuse = |why: String| Err(FspiopError::with_detail(code, why));
    match participant {
        None => refuse(format!("participant '{name}' does not exist")),
        Some(p) if !p.is_active => refuse(format!("participant '{name}' is not active")),
        Some(p) => match currencies
            .iter()
            .find(|c| !p.has_active_position_account(c))
        {
            Some(currency) => refuse(format!(
                "participant '{name}' has no active POSITION account in {currency}"
            )),
            None => Ok(()),
        },
    }
}

/// The participant's quotes base URL, without a trailing `/`.
async fn callback_base(
    state: &AppState,
    resource: Resource,
    fsp: &str,
) -> Result<Option<String>, FspiopError> {
    let template = state
        .inner
        .directory
        .endpoint(fsp, resource.endpoint_type())
        .await
        .map_err(|error| {
            tracing::error!(%error, fsp, "endpoint lookup failed");
            FspiopError::with_detail(
                ErrorCode::ServiceCurrentlyUnavailable,
                "endpoint lookup failed",
            )
        })?;
    Ok(template.map(|t| {
        fspiop_edge::render_endpoint(&t, &[])
            .trim_end_matches('/')
            .to_string()
    }))
}

/// Delivers the inbound message to FSPIOP-Destination at `{base}{path}`.
async fn forward(
    state: &AppState,
    action: &'static str,
    method: &'static str,
    path: String,
    inbound: Inbound,
    with_body: bool,
) -> Result<(), FspiopError> {
    let Some(base) = callback_base(state, inbound.resource, &inbound.destination).await? else {
        return Err(FspiopError::with_detail(
            ErrorCode::DestinationFspError,
            format!(
                "No {} found for quote {} party {}",
                inbound.resource.endpoint_type(),
                inbound.id,
                inbound.destination
            ),
        ));
    };
    let headers = inbound
        .headers
        .into_iter()
        .filter(|(name, _)| FORWARDED_HEADERS.contains(&name.as_str()))
        .collect();
    let request = OutboundRequest {
        method,
        url: format!("{base}{path}"),
        uri_path: path,
        headers,
        source: inbound.source,
        destination: inbound.destination,
        body: with_body.then_some(inbound.body),
    };
    let started = Instant::now();
    let result = state.inner.forwarder.send(request).await;
    state
        .inner
        .metrics
        .record_forward(action, started.elapsed().as_secs_f64());
    result
}

/// Sends `error` from the hub to `to`'s `/quotes/{id}/error`, in the version of the request it
/// answers (`answering`: that request's headers; empty for the defaults). Whether it was
/// delivered.
async fn send_error_callback(
    state: &AppState,
    resource: Resource,
    to: &str,
    id: &str,
    error: &FspiopError,
    answering: &[(String, String)],
) -> bool {
    state
        .inner
        .metrics
        .record_error_callback(&error.to_error_information().error_code);
    if to.eq_ignore_ascii_case(&state.inner.config.hub.name) {
        return false;
    }
    let base = match callback_base(state, resource, to).await {
        Ok(Some(base)) => base,
        Ok(None) => {
            tracing::warn!(
                quote_id = %id, fsp = to, code = 3204, endpoint = resource.endpoint_type(),
                "no callback endpoint for the requester; unable to make error callback"
            );
            return false;
        }
        Err(_) => return false,
    };
    let path = format!("/{}/{id}/error", resource.name());
    let url = format!("{base}{path}");
    match state
        .inner
        .forwarder
        .send_error_answering(to, &url, &path, resource.name(), error, answering)
        .await
    {
        Ok(()) => true,
        Err(failure) => {
            tracing::warn!(quote_id = %id, fsp = to, error = %failure, "error callback not delivered");
            false
        }
    }
}

fn money(value: &Option<Money>) -> Option<(String, String)> {
    value
        .as_ref()
        .map(|m| (m.amount.clone(), m.currency.clone()))
}

fn quote_row(inbound: &Inbound, request: &QuotesPostRequest, hash: String) -> QuoteRow {
    let transaction_type = &request.transaction_type;
    QuoteRow {
        quote_id: request.quote_id.clone(),
        transaction_id: request.transaction_id.clone(),
        transaction_request_id: request.transaction_request_id.clone(),
        payer_fsp: inbound.source.clone(),
        payee_fsp: inbound.destination.clone(),
        amount_type: request.amount_type.as_str().to_string(),
        amount: request.amount.amount.clone(),
        currency: request.amount.currency.clone(),
        fees: money(&request.fees),
        scenario: transaction_type.scenario.as_str().to_string(),
        initiator: transaction_type.initiator.as_str().to_string(),
        initiator_type: transaction_type.initiator_type.as_str().to_string(),
        expiration: request
            .expiration
            .as_deref()
            .and_then(fspiop::datetime::parse_date_time)
            .map(datetime_literal),
        hash,
        body: String::from_utf8_lossy(&inbound.body).into_owned(),
    }
}

fn response_row(
    inbound: &Inbound,
    response: &QuotesIdPutResponse,
    transaction_id: Option<String>,
    hash: String,
) -> Result<ResponseRow, FspiopError> {
    let expiration = fspiop::datetime::parse_date_time(&response.expiration)
        .map(datetime_literal)
        .ok_or_else(|| {
            FspiopError::with_detail(
                ErrorCode::GenericValidationError,
                "/expiration is not a DateTime",
            )
        })?;
    Ok(ResponseRow {
        quote_id: inbound.id.clone(),
        payee_fsp: inbound.source.clone(),
        payer_fsp: inbound.destination.clone(),
        transfer_amount: (
            response.transfer_amount.amount.clone(),
            response.transfer_amount.currency.clone(),
        ),
        payee_receive_amount: money(&response.payee_receive_amount),
        payee_fsp_fee: money(&response.payee_fsp_fee),
        payee_fsp_commission: money(&response.payee_fsp_commission),
        expiration,
        condition: response.condition.clone(),
        transaction_id,
        hash,
        body: String::from_utf8_lossy(&inbound.body).into_owned(),
    })
}
