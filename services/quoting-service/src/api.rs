//! The HTTP routes and their synchronous half: FSPIOP headers, the path id and the body are
//! checked in Mojaloop's order and a problem is answered at once (400/406 with
//! `errorInformation`); an accepted request is answered 202 (`POST`, `GET`) or 200 (`PUT`)
//! and handed to a task (see `process`).
//!
//! Synchronous checks, first failure wins:
//! 1. headers (`fspiop::headers::validate_request_headers`, resource `quotes`, `fxQuotes` or
//!    `bulkQuotes` by path, `FSPIOP-Destination` required): 3102 missing, 3101 malformed,
//!    3001/406 version;
//! 2. the path id is a UUID or ULID: 3100 (a pattern rule, as Mojaloop's OpenAPI check);
//! 3. the body: not JSON 3101, then the schema (3102 missing, 3101 wrong type, 3100 rule);
//!    members the API definition does not name are accepted and forwarded with the body as
//!    received, unless `[validation] reject_additional_properties` is on (then 3103); a bulk
//!    of more than 1000 quotes is 3100 (the API's `maxItems`);
//! 4. every amount can be expressed in minor units of its currency (3100): a quote whose
//!    amount cannot become an ILP packet or a ledger amount is refused before it travels.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use fspiop::headers::{self, HeaderRules};
use fspiop::types::{
    self, BulkQuotesIdPutResponse, BulkQuotesPostRequest, FxMoney, FxQuotesIdPutResponse,
    FxQuotesPostRequest, Money, QuotesIdPutResponse, QuotesPostRequest,
};
use fspiop::validate;
use fspiop::{ErrorCode, ErrorInformationObject, FspiopError};
use service_kit::health::{health_response, HealthReport, Status, SubServiceHealth};
use service_kit::http::{empty_response, FspiopResponse};

use crate::process::{Inbound, Job, Resource};
use crate::AppState;

use fspiop_edge::inbound::check_path_id as check_id;
pub use fspiop_edge::inbound::{body_hash_hex as body_hash, BODY_LEN_MAX_BYTES};
/// The FSPIOP resource of the `/quotes` routes (`process::Resource` names all of them).
pub const RESOURCE: &str = "quotes";
/// How long a health probe waits for a database.
const HEALTH_PROBE_TIMEOUT_MS: u64 = 2000;

/// The routes (without the fallbacks and middleware `crate::app` adds).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/quotes", post(post_quotes))
        .route("/quotes/{id}", put(put_quote).get(get_quote))
        .route("/quotes/{id}/error", put(put_quote_error))
        .route("/fxQuotes", post(post_fx_quotes))
        .route("/fxQuotes/{id}", put(put_fx_quote).get(get_fx_quote))
        .route("/fxQuotes/{id}/error", put(put_fx_quote_error))
        .route("/bulkQuotes", post(post_bulk_quotes))
        .route("/bulkQuotes/{id}", put(put_bulk_quote).get(get_bulk_quote))
        .route("/bulkQuotes/{id}/error", put(put_bulk_quote_error))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Validates the FSPIOP headers; returns them (lower-case names), the source and the
/// destination.
fn check_headers(
    state: &AppState,
    method: &str,
    headers: &HeaderMap,
) -> Result<(std::collections::BTreeMap<String, String>, String, String), FspiopError> {
    check_headers_of(state, Resource::Quotes, method, headers)
}

/// [`check_headers`] for `resource`'s media type.
fn check_headers_of(
    state: &AppState,
    resource: Resource,
    method: &str,
    headers: &HeaderMap,
) -> Result<(std::collections::BTreeMap<String, String>, String, String), FspiopError> {
    let map = fspiop_edge::headers_of(headers);
    let validated = headers::validate_request_headers(
        method,
        resource.name(),
        &map,
        &state.inner.versions,
        HeaderRules {
            destination_required: true,
        },
    )?;
    let destination = validated.destination.unwrap_or_default();
    Ok((map, validated.source, destination))
}

async fn read_body(body: Body) -> Result<Bytes, FspiopError> {
    fspiop_edge::inbound::read_body(body, BODY_LEN_MAX_BYTES).await
}

/// `money` must be expressible in minor units of its currency.
fn check_scale(pointer: &str, money: Option<&Money>) -> Result<(), FspiopError> {
    match money {
        Some(money) => crate::ilp_check::minor_units(money)
            .map(|_| ())
            .map_err(|why| {
                FspiopError::with_detail(
                    ErrorCode::GenericValidationError,
                    format!("{pointer} {} {}: {why}", money.amount, money.currency),
                )
            }),
        None => Ok(()),
    }
}

/// Parses the body as JSON, hashes it when quotes are stored, and types it.
fn parse<T: types::Body>(
    state: &AppState,
    bytes: &[u8],
) -> Result<(T, Option<String>), FspiopError> {
    let value = validate::parse_json(bytes)?;
    let hash = state.inner.writer.is_some().then(|| body_hash(&value));
    Ok((
        types::from_value(value, state.inner.config.validation.unknown_fields())?,
        hash,
    ))
}

async fn post_quotes(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let accepted = async {
        let (map, source, destination) = check_headers(&state, "POST", &headers)?;
        let bytes = read_body(body).await?;
        let (request, hash) = parse::<QuotesPostRequest>(&state, &bytes)?;
        check_scale("/amount", Some(&request.amount))?;
        check_scale("/fees", request.fees.as_ref())?;
        let inbound = Inbound {
            resource: Resource::Quotes,
            id: request.quote_id.clone(),
            headers: map,
            source,
            destination,
            body: bytes.to_vec(),
        };
        Ok::<_, FspiopError>(Job::Post {
            inbound,
            request: Box::new(request),
            hash,
        })
    }
    .await;
    match accepted {
        Ok(job) => state.dispatch(job, 202).await,
        Err(error) => FspiopResponse(error).into_response(),
    }
}

async fn put_quote(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let accepted = async {
        let (map, source, destination) = check_headers(&state, "PUT", &headers)?;
        check_id(&id)?;
        let bytes = read_body(body).await?;
        let (response, hash) = parse::<QuotesIdPutResponse>(&state, &bytes)?;
        check_scale("/transferAmount", Some(&response.transfer_amount))?;
        check_scale(
            "/payeeReceiveAmount",
            response.payee_receive_amount.as_ref(),
        )?;
        check_scale("/payeeFspFee", response.payee_fsp_fee.as_ref())?;
        check_scale(
            "/payeeFspCommission",
            response.payee_fsp_commission.as_ref(),
        )?;
        let had_accept = map.contains_key(headers::ACCEPT);
        let inbound = Inbound {
            resource: Resource::Quotes,
            id,
            headers: map,
            source,
            destination,
            body: bytes.to_vec(),
        };
        Ok::<_, FspiopError>(Job::Put {
            inbound,
            response: Box::new(response),
            hash,
            had_accept,
        })
    }
    .await;
    match accepted {
        Ok(job) => state.dispatch(job, 200).await,
        Err(error) => FspiopResponse(error).into_response(),
    }
}

async fn put_quote_error(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    put_error_of(state, Resource::Quotes, id, headers, body).await
}

async fn put_fx_quote_error(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    put_error_of(state, Resource::FxQuotes, id, headers, body).await
}

async fn put_bulk_quote_error(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    put_error_of(state, Resource::BulkQuotes, id, headers, body).await
}

/// `PUT /{resource}/{ID}/error`: relayed to FSPIOP-Destination.
async fn put_error_of(
    state: AppState,
    resource: Resource,
    id: String,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let accepted = async {
        let (map, source, destination) = check_headers_of(&state, resource, "PUT", &headers)?;
        check_id(&id)?;
        let bytes = read_body(body).await?;
        let value = validate::parse_json(&bytes)?;
        let object: ErrorInformationObject =
            types::from_value(value, state.inner.config.validation.unknown_fields())?;
        let inbound = Inbound {
            resource,
            id,
            headers: map,
            source,
            destination,
            body: bytes.to_vec(),
        };
        Ok::<_, FspiopError>(Job::PutError {
            inbound,
            error: object.error_information,
        })
    }
    .await;
    match accepted {
        Ok(job) => state.dispatch(job, 200).await,
        Err(error) => FspiopResponse(error).into_response(),
    }
}

async fn get_quote(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    get_of(state, Resource::Quotes, id, headers).await
}

async fn get_fx_quote(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    get_of(state, Resource::FxQuotes, id, headers).await
}

async fn get_bulk_quote(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    get_of(state, Resource::BulkQuotes, id, headers).await
}

/// `GET /{resource}/{ID}`: relayed to FSPIOP-Destination.
async fn get_of(state: AppState, resource: Resource, id: String, headers: HeaderMap) -> Response {
    let accepted = (|| {
        let (map, source, destination) = check_headers_of(&state, resource, "GET", &headers)?;
        check_id(&id)?;
        Ok::<_, FspiopError>(Job::Get {
            inbound: Inbound {
                resource,
                id,
                headers: map,
                source,
                destination,
                body: Vec::new(),
            },
        })
    })();
    match accepted {
        Ok(job) => state.dispatch(job, 202).await,
        Err(error) => FspiopResponse(error).into_response(),
    }
}

/// An FX amount, when given, fits its currency's minor units.
fn check_fx_scale(pointer: &str, money: &FxMoney) -> Result<(), FspiopError> {
    match &money.amount {
        Some(amount) => check_scale(
            pointer,
            Some(&Money {
                amount: amount.clone(),
                currency: money.currency.clone(),
            }),
        ),
        None => Ok(()),
    }
}

/// `POST /fxQuotes` (FSPIOP 2.0): a DFSP asks a foreign exchange provider (FSPIOP-Destination)
/// for conversion terms; relayed to the FXP (see `process::fx_post`).
async fn post_fx_quotes(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let accepted = async {
        let (map, source, destination) =
            check_headers_of(&state, Resource::FxQuotes, "POST", &headers)?;
        let bytes = read_body(body).await?;
        let value = validate::parse_json(&bytes)?;
        let hash = state.inner.writer.is_some().then(|| body_hash(&value));
        let request: FxQuotesPostRequest =
            types::from_value(value, state.inner.config.validation.unknown_fields())?;
        let terms = &request.conversion_terms;
        check_fx_scale("/conversionTerms/sourceAmount", &terms.source_amount)?;
        check_fx_scale("/conversionTerms/targetAmount", &terms.target_amount)?;
        let inbound = Inbound {
            resource: Resource::FxQuotes,
            id: request.conversion_request_id.clone(),
            headers: map,
            source,
            destination,
            body: bytes.to_vec(),
        };
        Ok::<_, FspiopError>(Job::FxPost {
            inbound,
            request: Box::new(request),
            hash,
        })
    }
    .await;
    match accepted {
        Ok(job) => state.dispatch(job, 202).await,
        Err(error) => FspiopResponse(error).into_response(),
    }
}

/// `PUT /fxQuotes/{ID}`: the FXP's terms, relayed to the initiating DFSP.
async fn put_fx_quote(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let accepted = async {
        let (map, source, destination) =
            check_headers_of(&state, Resource::FxQuotes, "PUT", &headers)?;
        check_id(&id)?;
        let bytes = read_body(body).await?;
        let value = validate::parse_json(&bytes)?;
        let hash = state.inner.writer.is_some().then(|| body_hash(&value));
        let response: FxQuotesIdPutResponse =
            types::from_value(value, state.inner.config.validation.unknown_fields())?;
        let terms = &response.conversion_terms;
        check_fx_scale("/conversionTerms/sourceAmount", &terms.source_amount)?;
        check_fx_scale("/conversionTerms/targetAmount", &terms.target_amount)?;
        let had_accept = map.contains_key(headers::ACCEPT);
        let inbound = Inbound {
            resource: Resource::FxQuotes,
            id,
            headers: map,
            source,
            destination,
            body: bytes.to_vec(),
        };
        Ok::<_, FspiopError>(Job::FxPut {
            inbound,
            response: Box::new(response),
            hash,
            had_accept,
        })
    }
    .await;
    match accepted {
        Ok(job) => state.dispatch(job, 200).await,
        Err(error) => FspiopResponse(error).into_response(),
    }
}

/// Every currency of `money` (sorted, once each): the accounts a bulk's DFSPs must hold.
fn currencies_of<'a>(money: impl Iterator<Item = &'a Money>) -> Vec<String> {
    let set: std::collections::BTreeSet<&str> = money.map(|m| m.currency.as_str()).collect();
    set.into_iter().map(str::to_string).collect()
}

/// `POST /bulkQuotes`: a payer DFSP asks one payee DFSP (FSPIOP-Destination) for up to 1000
/// quotes at once; relayed as received (see `process::bulk_post`).
async fn post_bulk_quotes(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let accepted = async {
        let (map, source, destination) =
            check_headers_of(&state, Resource::BulkQuotes, "POST", &headers)?;
        let bytes = read_body(body).await?;
        let unknown = state.inner.config.validation.unknown_fields();
        let request: BulkQuotesPostRequest = types::parse_body(&bytes, unknown)?;
        for (index, quote) in request.individual_quotes.iter().enumerate() {
            let at = format!("/individualQuotes/{index}");
            check_scale(&format!("{at}/amount"), Some(&quote.amount))?;
            check_scale(&format!("{at}/fees"), quote.fees.as_ref())?;
        }
        let currencies = currencies_of(request.individual_quotes.iter().map(|q| &q.amount));
        let inbound = Inbound {
            resource: Resource::BulkQuotes,
            id: request.bulk_quote_id,
            headers: map,
            source,
            destination,
            body: bytes.to_vec(),
        };
        Ok::<_, FspiopError>(Job::BulkPost {
            inbound,
            currencies,
        })
    }
    .await;
    match accepted {
        Ok(job) => state.dispatch(job, 202).await,
        Err(error) => FspiopResponse(error).into_response(),
    }
}

/// `PUT /bulkQuotes/{ID}`: the payee DFSP's results, relayed to the payer.
async fn put_bulk_quote(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let accepted = async {
        let (map, source, destination) =
            check_headers_of(&state, Resource::BulkQuotes, "PUT", &headers)?;
        check_id(&id)?;
        let bytes = read_body(body).await?;
        let unknown = state.inner.config.validation.unknown_fields();
        let response: BulkQuotesIdPutResponse = types::parse_body(&bytes, unknown)?;
        let results = response.individual_quote_results.unwrap_or_default();
        for (index, result) in results.iter().enumerate() {
            let at = format!("/individualQuoteResults/{index}");
            check_scale(
                &format!("{at}/transferAmount"),
                result.transfer_amount.as_ref(),
            )?;
            check_scale(
                &format!("{at}/payeeReceiveAmount"),
                result.payee_receive_amount.as_ref(),
            )?;
            check_scale(&format!("{at}/payeeFspFee"), result.payee_fsp_fee.as_ref())?;
            check_scale(
                &format!("{at}/payeeFspCommission"),
                result.payee_fsp_commission.as_ref(),
            )?;
        }
        // What the payee pays out in, as for a single quote's answer.
        let currencies = currencies_of(results.iter().filter_map(|r| {
            r.payee_receive_amount
                .as_ref()
                .or(r.transfer_amount.as_ref())
        }));
        let had_accept = map.contains_key(headers::ACCEPT);
        let inbound = Inbound {
            resource: Resource::BulkQuotes,
            id,
            headers: map,
            source,
            destination,
            body: bytes.to_vec(),
        };
        Ok::<_, FspiopError>(Job::BulkPut {
            inbound,
            currencies,
            had_accept,
        })
    }
    .await;
    match accepted {
        Ok(job) => state.dispatch(job, 200).await,
        Err(error) => FspiopResponse(error).into_response(),
    }
}

async fn reachable(pool: &sqlx::MySqlPool) -> bool {
    let probe = sqlx::query("SELECT 1").execute(pool);
    matches!(
        tokio::time::timeout(Duration::from_millis(HEALTH_PROBE_TIMEOUT_MS), probe).await,
        Ok(Ok(_))
    )
}

/// `datastore` is OK when the central ledger database (and, in persistent mode, the quotes
/// database) answers; DOWN is HTTP 502, as Mojaloop's Quoting Service answers.
async fn health(State(state): State<AppState>) -> Response {
    let stores = &state.inner.stores;
    let mut healthy = reachable(&stores.central_ledger).await;
    if let Some(quotes) = &stores.quotes {
        healthy = healthy && reachable(quotes).await;
    }
    let services = vec![SubServiceHealth::new(
        "datastore",
        Status::from_healthy(healthy),
    )];
    let report = HealthReport::new(state.inner.started, env!("CARGO_PKG_VERSION"), services);
    health_response(report, 502)
}

async fn metrics(State(state): State<AppState>) -> Response {
    service_kit::metrics::metrics_response(&state.inner.metrics.registry)
}

impl AppState {
    /// Starts the job's task once a forwarding slot is free (waiting at most
    /// `server.request_timeout_ms`, else 2005) and answers `status`.
    async fn dispatch(&self, job: Job, status: u16) -> Response {
        let wait = Duration::from_millis(self.inner.config.server.request_timeout_ms);
        let permit =
            match tokio::time::timeout(wait, self.inner.permits.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                _ => {
                    return FspiopResponse(FspiopError::with_detail(
                        ErrorCode::ServerBusy,
                        "too many quotes in progress",
                    ))
                    .into_response()
                }
            };
        let state = self.clone();
        tokio::spawn(async move {
            crate::process::process(&state, job).await;
            drop(permit);
        });
        empty_response(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hashes_ignore_member_order_and_spacing() {
        let a = validate::parse_json(br#"{"a":1,"b":{"c":"x","d":[1,2]}}"#).unwrap();
        let b =
            validate::parse_json(b"{ \"b\": {\"d\": [1, 2], \"c\": \"x\"}, \"a\": 1 }").unwrap();
        assert_eq!(body_hash(&a), body_hash(&b));
        assert_eq!(body_hash(&a).len(), 64);
        assert_ne!(
            body_hash(&a),
            body_hash(&json!({"a": 2, "b": {"c": "x", "d": [1, 2]}}))
        );
    }

    #[test]
    fn ids_are_uuids_or_ulids() {
        assert!(check_id("b51ec534-ee48-4575-b6a9-ead2955b8069").is_ok());
        assert!(check_id("01ARZ3NDEKTSV4RRFFQ69G5FAV").is_ok());
        let error = check_id("not-an-id").unwrap_err();
        assert_eq!(error.code, ErrorCode::GenericValidationError);
    }

    #[test]
    fn amounts_must_fit_the_currency() {
        let money = |amount: &str, currency: &str| Money {
            amount: amount.into(),
            currency: currency.into(),
        };
        assert!(check_scale("/amount", Some(&money("10.25", "USD"))).is_ok());
        assert!(check_scale("/amount", Some(&money("10", "JPY"))).is_ok());
        assert!(check_scale("/amount", None).is_ok());
        let error = check_scale("/amount", Some(&money("10.5", "JPY"))).unwrap_err();
        assert_eq!(error.code, ErrorCode::GenericValidationError);
        assert!(
            error
                .description()
                .starts_with("Generic validation error - /amount 10.5 JPY"),
            "{error}"
        );
    }
}
