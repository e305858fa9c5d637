//! The HTTP routes and their synchronous half. A problem is answered at once (400/406/501 with
//! `errorInformation`); an accepted request is put on its topic (`crate::messages`) and
//! answered 202 (`POST`, `GET`) or 200 (`PUT`) only once the broker has acknowledged it; a
//! broker that refuses or does not answer within `kafka.produce_timeout_ms` gives 503 / 2003.
//!
//! Checks, in Mojaloop's order, first failure wins:
//! 1. the headers (`fspiop::headers::validate_request_headers`, resource `transfers`):
//!    3102 missing, 3101 malformed, 3001 / 406 unsupported version;
//! 2. the path `ID` is a UUID or ULID (`fspiop::validate::correlation_id_param`): 3101;
//! 3. the body (at most [`BODY_LEN_MAX_BYTES`], else 3104): not JSON 3101, then its schema
//!    (unknown members allowed and forwarded, as Mojaloop's adapter; 3103 when
//!    `[validation] reject_additional_properties` is on): 3102 missing, 3101 wrong type,
//!    3100 any other rule;
//! 4. `PUT /transfers/{ID}` with `transferState: RESERVED` under a `version=1.0` content type:
//!    3100 (1.0 has no RESERVED fulfil; nothing is committed);
//! 5. `PUT /transfers/{ID}` without `FSPIOP-Proxy`: a `completedTimestamp` more than
//!    `max_callback_time_lag_dilation_ms` in the future or more than
//!    `max_fulfil_timeout_duration_s` in the past is 3100.
//!
//! `PATCH /transfers/{ID}` passes the header and id checks, then answers 501 / 2002.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use fspiop::headers::{self, HeaderRules};
use fspiop::types::{self, TransfersIdPutResponse, TransfersPostRequest};
use fspiop::validate;
use fspiop::{ErrorCode, ErrorInformationObject, FspiopError};
use serde_json::json;
use service_kit::health::{health_response, HealthReport, Status, SubServiceHealth};
use service_kit::http::{empty_response, json_response, FspiopResponse};

use crate::error::Result;
use crate::messages::{self, Outbound};
use crate::{now_ms, AppState};

/// Largest body read (the FSPIOP API's 5 MiB payload limit): larger is 3104.
pub const BODY_LEN_MAX_BYTES: usize = 5_242_880;
/// The FSPIOP resource of every route.
pub const RESOURCE: &str = "transfers";
/// `/health` status when a sub-service is down (Mojaloop's adapter answers 502).
pub const HEALTH_DOWN_STATUS: u16 = 502;

/// The routes (without the fallbacks and middleware `crate::app` adds).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/transfers", post(post_transfer))
        .route(
            "/transfers/{id}",
            put(put_transfer).get(get_transfer).patch(patch_transfer),
        )
        .route("/transfers/{id}/error", put(put_transfer_error))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/endpointcache", delete(delete_endpoint_cache))
        .route("/", get(metadata))
        .with_state(state)
}

/// Validates the FSPIOP headers; returns them with lower-case names.
fn check_headers(
    state: &AppState,
    method: &str,
    headers: &HeaderMap,
) -> Result<BTreeMap<String, String>, FspiopError> {
    let map = fspiop_edge::headers_of(headers);
    headers::validate_request_headers(
        method,
        RESOURCE,
        &map,
        state.versions(),
        HeaderRules::default(),
    )?;
    Ok(map)
}

async fn read_body(body: Body) -> Result<Bytes, FspiopError> {
    axum::body::to_bytes(body, BODY_LEN_MAX_BYTES)
        .await
        .map_err(|error| {
            let too_large = std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>());
            if too_large {
                FspiopError::with_detail(
                    ErrorCode::TooLargePayload,
                    format!("body is larger than {BODY_LEN_MAX_BYTES} bytes"),
                )
            } else {
                FspiopError::with_detail(ErrorCode::MalformedSyntax, "body could not be read")
            }
        })
}

/// Mojaloop's completedTimestamp window on `PUT /transfers/{ID}`.
pub fn check_completed_timestamp(
    completed_timestamp: Option<&str>,
    now_ms: i64,
    max_fulfil_timeout_duration_s: u64,
    max_callback_time_lag_dilation_ms: u64,
) -> Result<(), FspiopError> {
    let Some(completed_ms) = completed_timestamp.and_then(fspiop::datetime::parse_date_time) else {
        return Ok(());
    };
    let latest_ms =
        now_ms.saturating_add(i64::try_from(max_callback_time_lag_dilation_ms).unwrap_or(i64::MAX));
    let oldest_ms = now_ms.saturating_sub(
        i64::try_from(max_fulfil_timeout_duration_s.saturating_mul(1000)).unwrap_or(i64::MAX),
    );
    if completed_ms > latest_ms {
        return Err(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            "completedTimestamp fails because future timestamp was provided",
        ));
    }
    if completed_ms < oldest_ms {
        return Err(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            "completedTimestamp fails because provided timestamp exceeded the maximum timeout duration",
        ));
    }
    Ok(())
}

/// FSPIOP 1.0 has no RESERVED fulfil: a payee that reserves is told of the commit with
/// `PATCH /transfers/{ID}`, which 1.0 does not have. A 1.0 `PUT /transfers/{ID}` with
/// `transferState: RESERVED` is refused (3100) and commits nothing: the transfer stays RESERVED
/// until the payee commits it in a version that can, or it expires.
pub fn check_reserved_needs_1_1(
    id: &str,
    headers: &BTreeMap<String, String>,
    state: types::TransferState,
) -> Result<(), FspiopError> {
    if state != types::TransferState::Reserved {
        return Ok(());
    }
    let version = headers
        .get(headers::CONTENT_TYPE)
        .and_then(|ct| headers::parse_content_type(ct, RESOURCE));
    if version != Some(headers::Version::new(1, 0)) {
        return Ok(());
    }
    Err(FspiopError::with_detail(
        ErrorCode::GenericValidationError,
        format!(
            "transferState RESERVED is not part of FSPIOP 1.0 (no PATCH /transfers to notify the payee); transfer {id} was not committed and stays RESERVED until it is committed or expires"
        ),
    ))
}

/// Answers `status` once `checked` produced its message; records the route's metric.
async fn accept(
    state: &AppState,
    metric: &service_kit::metrics::Histogram,
    started: Instant,
    checked: Result<Outbound>,
    status: u16,
) -> Response {
    let result = match checked {
        Ok(outbound) => state.produce(&outbound).await,
        Err(error) => Err(error),
    };
    let success = if result.is_ok() { "true" } else { "false" };
    metric.observe(&[success], started.elapsed().as_secs_f64());
    match result {
        Ok(()) => empty_response(status),
        Err(error) => error.into_response(),
    }
}

async fn post_transfer(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let checked = async {
        let map = check_headers(&state, "POST", &headers)?;
        let bytes = read_body(body).await?;
        let transfer: TransfersPostRequest =
            types::parse_body(&bytes, state.config().validation.unknown_fields())?;
        Ok(messages::prepare(
            map,
            &bytes,
            &transfer,
            &state.next_request_id(),
            now_ms(),
        ))
    }
    .await;
    accept(
        &state,
        &state.metrics().transfer_prepare,
        started,
        checked,
        202,
    )
    .await
}

async fn put_transfer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let checked = async {
        let map = check_headers(&state, "PUT", &headers)?;
        validate::correlation_id_param("ID", &id)?;
        let bytes = read_body(body).await?;
        let fulfil: TransfersIdPutResponse =
            types::parse_body(&bytes, state.config().validation.unknown_fields())?;
        check_reserved_needs_1_1(&id, &map, fulfil.transfer_state)?;
        if !map.contains_key("fspiop-proxy") {
            let rules = &state.config().transfers;
            check_completed_timestamp(
                fulfil.completed_timestamp.as_deref(),
                now_ms(),
                rules.max_fulfil_timeout_duration_s,
                rules.max_callback_time_lag_dilation_ms,
            )?;
        }
        Ok(messages::fulfil(
            &id,
            map,
            &bytes,
            fulfil.transfer_state,
            &state.next_request_id(),
            now_ms(),
        ))
    }
    .await;
    accept(
        &state,
        &state.metrics().transfer_fulfil,
        started,
        checked,
        200,
    )
    .await
}

async fn put_transfer_error(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let checked = async {
        let map = check_headers(&state, "PUT", &headers)?;
        validate::correlation_id_param("ID", &id)?;
        let bytes = read_body(body).await?;
        let _: ErrorInformationObject =
            types::parse_body(&bytes, state.config().validation.unknown_fields())?;
        Ok(messages::abort(
            &id,
            map,
            &bytes,
            &state.next_request_id(),
            now_ms(),
        ))
    }
    .await;
    accept(
        &state,
        &state.metrics().transfer_fulfil_error,
        started,
        checked,
        200,
    )
    .await
}

async fn get_transfer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let checked = (|| {
        let map = check_headers(&state, "GET", &headers)?;
        validate::correlation_id_param("ID", &id)?;
        Ok(messages::get(&id, map, now_ms()))
    })();
    accept(&state, &state.metrics().transfer_get, started, checked, 202).await
}

async fn patch_transfer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let checked = check_headers(&state, "PATCH", &headers)
        .and_then(|_| validate::correlation_id_param("ID", &id));
    let error = match checked {
        Ok(()) => FspiopError::new(ErrorCode::NotImplemented),
        Err(error) => error,
    };
    FspiopResponse(error).into_response()
}

async fn health(State(state): State<AppState>) -> Response {
    let mut services = vec![SubServiceHealth::new(
        "broker",
        Status::from_healthy(state.broker_healthy().await),
    )];
    if let Some(healthy) = state.directory_healthy().await {
        services.push(SubServiceHealth::new(
            "participantEndpointService",
            Status::from_healthy(healthy),
        ));
    }
    let report = HealthReport::new(state.started(), env!("CARGO_PKG_VERSION"), services);
    health_response(report, HEALTH_DOWN_STATUS)
}

async fn metrics(State(state): State<AppState>) -> Response {
    service_kit::metrics::metrics_response(&state.metrics().registry)
}

async fn delete_endpoint_cache(State(state): State<AppState>) -> Response {
    state.invalidate_endpoints();
    empty_response(202)
}

/// `GET /`: the service's routes, as Mojaloop's adapter lists them.
async fn metadata(State(state): State<AppState>) -> Response {
    let base = state
        .config()
        .server
        .hostname_url
        .trim_end_matches('/')
        .to_string();
    let url = |path: &str| format!("{base}{path}");
    let body = json!({
        "directory": base,
        "urls": {
            "HealthGet": url("/health"),
            "MetricsGet": url("/metrics"),
            "EndpointCacheDelete": url("/endpointcache"),
            "transfers": url("/transfers"),
            "TransfersByIDGet": url("/transfers/:ID"),
            "TransfersByIDPut": url("/transfers/:ID"),
            "TransfersByIDPatch": url("/transfers/:ID"),
            "TransfersByIDAndError": url("/transfers/:ID/error"),
        }
    });
    json_response(200, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00.000Z

    fn check(ts: &str) -> Result<(), String> {
        check_completed_timestamp(Some(ts), NOW, 300, 200).map_err(|e| e.description())
    }

    #[test]
    fn completed_timestamp_window() {
        assert_eq!(check("2024-01-01T00:00:00.000Z"), Ok(()));
        assert_eq!(check("2024-01-01T00:00:00.200Z"), Ok(()));
        assert_eq!(check("2023-12-31T23:55:00.000Z"), Ok(()));
        assert_eq!(check("2024-01-01T01:00:00.100+01:00"), Ok(()));
        assert_eq!(
            check("2024-01-01T00:00:00.201Z"),
            Err("Generic validation error - completedTimestamp fails because future timestamp was provided".to_string())
        );
        assert_eq!(
            check("2023-12-31T23:54:59.999Z"),
            Err("Generic validation error - completedTimestamp fails because provided timestamp exceeded the maximum timeout duration".to_string())
        );
        assert_eq!(check_completed_timestamp(None, NOW, 300, 200), Ok(()));
    }
}
