//! The HTTP routes and their synchronous half: FSPIOP headers, the path id, the query and the
//! body are checked in Mojaloop's order and a problem is answered at once (400/406 with
//! `errorInformation`); an accepted message is answered 202 (`POST`, `GET`) or 200 (`PUT`)
//! and handed to a task (see `relay`).
//!
//! Synchronous checks, first failure wins:
//! 1. headers (`fspiop::headers::validate_request_headers`, resource `transactionRequests` or
//!    `authorizations`, `FSPIOP-Destination` required): 3102 missing, 3101 malformed, 3001/406
//!    version;
//! 2. the path id is a UUID or ULID: 3100;
//! 3. `GET /authorizations/{ID}`: `authenticationType`, `retriesLeft`, `amount` and `currency`
//!    are required in the query (3102), `retriesLeft` an integer (3101), the others of their
//!    types (3100);
//! 4. the body: not JSON 3101, then the schema (3102 missing, 3101 wrong type, 3100 rule);
//!    members the API definition does not name are accepted and forwarded with the body as
//!    received, unless `[validation] reject_additional_properties` is on (3103);
//! 5. a requested amount can be expressed in minor units of its currency (3100).

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use fspiop::headers::{self, HeaderRules};
use fspiop::types::{
    self, AuthenticationType, AuthorizationsIdPutResponse, ErrorInformationObject,
    TransactionRequestsIdPutResponse, TransactionRequestsPostRequest,
};
use fspiop::validate::{self, Format};
use fspiop::{ErrorCode, FspiopError};
use service_kit::health::{health_response, HealthReport, Status, SubServiceHealth};
use service_kit::http::{empty_response, FspiopResponse};

use crate::record::{RequestRow, Update};
use crate::relay::{Effect, Job};
use crate::rules::{Message, Parties};
use crate::AppState;

use fspiop_edge::inbound::{
    body_hash_hex as body_hash, check_path_id as check_id, BODY_LEN_MAX_BYTES,
};
/// How long a health probe waits for a database.
const HEALTH_PROBE_TIMEOUT_MS: u64 = 2000;

/// The routes (without the fallbacks and middleware `crate::app` adds).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/transactionRequests", post(post_request))
        .route(
            "/transactionRequests/{id}",
            put(put_request).get(get_request),
        )
        .route("/transactionRequests/{id}/error", put(put_request_error))
        .route(
            "/authorizations/{id}",
            get(get_authorization).put(put_authorization),
        )
        .route("/authorizations/{id}/error", put(put_authorization_error))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// The checked headers of a message: all of them (lower-case names), the source and the
/// destination.
struct Checked {
    headers: BTreeMap<String, String>,
    source: String,
    destination: String,
}

fn check_headers(
    state: &AppState,
    message: Message,
    headers: &HeaderMap,
) -> Result<Checked, FspiopError> {
    let map = fspiop_edge::headers_of(headers);
    let validated = headers::validate_request_headers(
        message.method(),
        message.resource().name(),
        &map,
        &state.inner.versions,
        HeaderRules {
            destination_required: true,
        },
    )?;
    Ok(Checked {
        headers: map,
        source: validated.source,
        destination: validated.destination.unwrap_or_default(),
    })
}

async fn read_body(body: Body) -> Result<Bytes, FspiopError> {
    fspiop_edge::inbound::read_body(body, BODY_LEN_MAX_BYTES).await
}

/// `amount` of `currency` must be expressible in the currency's minor units.
fn check_scale(amount: &str, currency: &str) -> Result<(), FspiopError> {
    let scale = fspiop::currency::ilp_scale(currency).ok_or_else(|| {
        FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            format!("/amount/currency {currency} has no minor unit scale"),
        )
    })?;
    fspiop::amount::to_minor_units(amount, scale)
        .map(|_| ())
        .map_err(|why| {
            FspiopError::with_detail(
                ErrorCode::GenericValidationError,
                format!("/amount {amount} {currency}: {why}"),
            )
        })
}

async fn post_request(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let message = Message::Request;
    let accepted = async {
        let checked = check_headers(&state, message, &headers)?;
        let bytes = read_body(body).await?;
        let value = validate::parse_json(&bytes)?;
        let hash = body_hash(&value);
        let request: TransactionRequestsPostRequest =
            types::from_value(value, state.inner.config.validation.unknown_fields())?;
        check_scale(&request.amount.amount, &request.amount.currency)?;
        let expiration_ms = request
            .expiration
            .as_deref()
            .and_then(fspiop::datetime::parse_date_time);
        let row = RequestRow {
            transaction_request_id: request.transaction_request_id.clone(),
            parties: Parties {
                payee_fsp: checked.source.clone(),
                payer_fsp: checked.destination.clone(),
            },
            amount: request.amount.amount.clone(),
            currency: request.amount.currency.clone(),
            scenario: request.transaction_type.scenario.as_str().to_string(),
            authentication_type: request.authentication_type.map(|t| t.as_str().to_string()),
            expiration: expiration_ms.map(store::datetime_literal),
            hash,
        };
        Ok::<_, FspiopError>(Job {
            message,
            id: request.transaction_request_id,
            headers: checked.headers,
            source: checked.source,
            destination: checked.destination,
            body: bytes.to_vec(),
            query: None,
            effect: Effect::Request {
                row: Box::new(row),
                expiration_ms,
            },
        })
    }
    .await;
    dispatch_or_refuse(state, accepted, 202).await
}

/// A `PUT` with a typed body: checks headers, id and body, and builds its job.
async fn put_job<T: types::Body>(
    state: &AppState,
    message: Message,
    id: String,
    headers: &HeaderMap,
    body: Body,
    effect: impl FnOnce(T) -> Update,
) -> Result<Job, FspiopError> {
    let checked = check_headers(state, message, headers)?;
    check_id(&id)?;
    let bytes = read_body(body).await?;
    let value = validate::parse_json(&bytes)?;
    let typed: T = types::from_value(value, state.inner.config.validation.unknown_fields())?;
    Ok(Job {
        message,
        id,
        headers: checked.headers,
        source: checked.source,
        destination: checked.destination,
        body: bytes.to_vec(),
        query: None,
        effect: Effect::Update(effect(typed)),
    })
}

async fn put_request(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let accepted = put_job(
        &state,
        Message::RequestPut,
        id,
        &headers,
        body,
        |answer: TransactionRequestsIdPutResponse| Update::State {
            state: answer.transaction_request_state.as_str().to_string(),
            transaction_id: answer.transaction_id,
        },
    )
    .await;
    dispatch_or_refuse(state, accepted, 200).await
}

async fn put_authorization(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let accepted = put_job(
        &state,
        Message::AuthorizationPut,
        id,
        &headers,
        body,
        |answer: AuthorizationsIdPutResponse| Update::Authorization {
            response: answer.response_type.as_str().to_string(),
        },
    )
    .await;
    dispatch_or_refuse(state, accepted, 200).await
}

fn error_update(object: ErrorInformationObject) -> Update {
    Update::Error {
        code: object.error_information.error_code,
    }
}

async fn put_request_error(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let accepted = put_job(
        &state,
        Message::RequestError,
        id,
        &headers,
        body,
        error_update,
    )
    .await;
    dispatch_or_refuse(state, accepted, 200).await
}

async fn put_authorization_error(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let accepted = put_job(
        &state,
        Message::AuthorizationError,
        id,
        &headers,
        body,
        error_update,
    )
    .await;
    dispatch_or_refuse(state, accepted, 200).await
}

/// A `GET`: checks headers and id (and, for authorizations, the query), and builds its job.
fn get_job(
    state: &AppState,
    message: Message,
    id: String,
    headers: &HeaderMap,
    query: Option<String>,
) -> Result<Job, FspiopError> {
    let checked = check_headers(state, message, headers)?;
    check_id(&id)?;
    let query = match message {
        Message::AuthorizationGet => {
            let query = query.unwrap_or_default();
            check_authorization_query(&query)?;
            Some(query)
        }
        _ => None,
    };
    Ok(Job {
        message,
        id,
        headers: checked.headers,
        source: checked.source,
        destination: checked.destination,
        body: Vec::new(),
        query,
        effect: Effect::Nothing,
    })
}

async fn get_request(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let accepted = get_job(&state, Message::RequestGet, id, &headers, None);
    dispatch_or_refuse(state, accepted, 202).await
}

async fn get_authorization(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let accepted = get_job(&state, Message::AuthorizationGet, id, &headers, query);
    dispatch_or_refuse(state, accepted, 202).await
}

/// The query of `GET /authorizations/{ID}`: the four parameters the API requires.
pub fn check_authorization_query(query: &str) -> Result<(), FspiopError> {
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect();
    let param = |name: &str| -> Result<&str, FspiopError> {
        pairs
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| *value)
            .ok_or_else(|| {
                FspiopError::with_detail(
                    ErrorCode::MissingElement,
                    format!("/query/{name} is required"),
                )
            })
    };
    let invalid = |name: &str, value: &str, what: &str| {
        FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            format!("/query/{name} {value:?} must be {what}"),
        )
    };
    let authentication_type = param("authenticationType")?;
    let retries_left = param("retriesLeft")?;
    let amount = param("amount")?;
    let currency = param("currency")?;
    if AuthenticationType::parse(authentication_type).is_none() {
        return Err(invalid(
            "authenticationType",
            authentication_type,
            "one of OTP, QRCODE, U2F",
        ));
    }
    if retries_left.parse::<u32>().is_err() {
        return Err(FspiopError::with_detail(
            ErrorCode::MalformedSyntax,
            format!("/query/retriesLeft {retries_left:?} must be an integer"),
        ));
    }
    if !validate::check_format(Format::Amount, amount) {
        return Err(invalid("amount", amount, "an Amount"));
    }
    if !validate::check_format(Format::Currency, currency) {
        return Err(invalid("currency", currency, "a currency code"));
    }
    Ok(())
}

async fn dispatch_or_refuse(
    state: AppState,
    accepted: Result<Job, FspiopError>,
    status: u16,
) -> Response {
    match accepted {
        Ok(job) => state.dispatch(job, status).await,
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

/// `datastore` is OK when both databases answer; DOWN is HTTP 502.
async fn health(State(state): State<AppState>) -> Response {
    let healthy =
        reachable(&state.inner.stores.central_ledger).await && reachable(&state.inner.pool).await;
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
    /// Starts the job's task once a slot is free (waiting at most `server.request_timeout_ms`,
    /// else 2005) and answers `status`.
    async fn dispatch(&self, job: Job, status: u16) -> Response {
        let wait = Duration::from_millis(self.inner.config.server.request_timeout_ms);
        let permit =
            match tokio::time::timeout(wait, self.inner.permits.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                _ => {
                    return FspiopResponse(FspiopError::with_detail(
                        ErrorCode::ServerBusy,
                        "too many transaction request messages in progress",
                    ))
                    .into_response()
                }
            };
        let state = self.clone();
        tokio::spawn(async move {
            crate::relay::process(&state, job).await;
            drop(permit);
        });
        empty_response(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_queries() {
        let ok = "authenticationType=OTP&retriesLeft=2&amount=102&currency=USD";
        assert!(check_authorization_query(ok).is_ok());
        let code = |q: &str| check_authorization_query(q).unwrap_err().code;
        assert_eq!(
            code("authenticationType=OTP&retriesLeft=2&amount=102"),
            ErrorCode::MissingElement
        );
        assert_eq!(code(""), ErrorCode::MissingElement);
        assert_eq!(
            code("authenticationType=PIN&retriesLeft=2&amount=102&currency=USD"),
            ErrorCode::GenericValidationError
        );
        assert_eq!(
            code("authenticationType=OTP&retriesLeft=two&amount=102&currency=USD"),
            ErrorCode::MalformedSyntax
        );
        assert_eq!(
            code("authenticationType=OTP&retriesLeft=2&amount=-1&currency=USD"),
            ErrorCode::GenericValidationError
        );
        assert_eq!(
            code("authenticationType=OTP&retriesLeft=2&amount=1&currency=XXQ"),
            ErrorCode::GenericValidationError
        );
    }

    #[test]
    fn amounts_fit_minor_units() {
        assert!(check_scale("100.25", "USD").is_ok());
        assert!(check_scale("100.255", "USD").is_err());
    }
}
