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
//!
//! The FSPIOP 2.0 `/fxTransfers` routes are checked the same way, in the same order and with
//! the same codes, except:
//! - step 1: the headers are those of resource `fxTransfers` (a `transfers` media type is
//!   malformed, 3101), and only the configured versions of FSPIOP 2.x are supported
//!   ([`fx_versions`]: the API has no fxTransfers before 2.0; another version is 406 / 3001
//!   listing the 2.x ones);
//! - step 3: the bodies are `FxTransfersPostRequest`, `FxTransfersIDPutResponse` and
//!   `ErrorInformationObject`, followed by what the API leaves optional but a conversion cannot
//!   do without ([`check_fx_prepare`], [`check_fx_fulfil`]): `POST` without `expiration` or
//!   `determiningTransferId` is 3102, with one currency on both sides 3100; `PUT` with a
//!   `conversionState` other than ABORTED and no `fulfilment` is 3102;
//! - step 4 does not apply (fxTransfers exist only in 2.x); step 5, the `completedTimestamp`
//!   window, applies to `PUT /fxTransfers/{ID}` (skipped with `FSPIOP-Proxy`).
//!
//! `PATCH /fxTransfers/{ID}` is sent by the hub only: it passes the header and id checks, then
//! answers 501 / 2002.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use fspiop::headers::{self, HeaderRules, ProtocolVersions, Version};
use fspiop::types::{
    self, FxTransfersIdPutResponse, FxTransfersPostRequest, TransfersIdPutResponse,
    TransfersPostRequest,
};
use fspiop::validate;
use fspiop::{ErrorCode, ErrorInformationObject, FspiopError};
use serde_json::json;
use service_kit::health::{health_response, HealthReport, Status, SubServiceHealth};
use service_kit::http::{empty_response, json_response, FspiopResponse};

use crate::error::Result;
use crate::messages::{self, Outbound};
use crate::{now_ms, AppState};

pub use fspiop_edge::inbound::BODY_LEN_MAX_BYTES;
/// The FSPIOP resource of the `/transfers` routes.
pub const RESOURCE: &str = "transfers";
/// The FSPIOP resource of the `/fxTransfers` routes.
pub const FX_RESOURCE: &str = crate::callbacks::FX_RESOURCE;
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
        .route("/fxTransfers", post(post_fx_transfer))
        .route(
            "/fxTransfers/{id}",
            put(put_fx_transfer)
                .get(get_fx_transfer)
                .patch(patch_fx_transfer),
        )
        .route("/fxTransfers/{id}/error", put(put_fx_transfer_error))
        .route("/bulkTransfers", post(crate::bulk::post))
        .route(
            "/bulkTransfers/{id}",
            put(crate::bulk::put).get(crate::bulk::get),
        )
        .route("/bulkTransfers/{id}/error", put(crate::bulk::put_error))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/endpointcache", delete(delete_endpoint_cache))
        .route("/", get(metadata))
        .with_state(state)
}

/// Validates the FSPIOP headers of a `/transfers` request; returns them with lower-case
/// names.
fn check_headers(
    state: &AppState,
    method: &str,
    headers: &HeaderMap,
) -> Result<BTreeMap<String, String>, FspiopError> {
    check_headers_of(RESOURCE, state.versions(), method, headers)
}

/// Validates the FSPIOP headers of an `/fxTransfers` request (FSPIOP 2.x only).
fn check_fx_headers(
    state: &AppState,
    method: &str,
    headers: &HeaderMap,
) -> Result<BTreeMap<String, String>, FspiopError> {
    check_headers_of(FX_RESOURCE, state.fx_versions(), method, headers)
}

pub(crate) fn check_headers_of(
    resource: &str,
    versions: &ProtocolVersions,
    method: &str,
    headers: &HeaderMap,
) -> Result<BTreeMap<String, String>, FspiopError> {
    let map = fspiop_edge::headers_of(headers);
    headers::validate_request_headers(method, resource, &map, versions, HeaderRules::default())?;
    Ok(map)
}

/// The versions of the `/fxTransfers` routes and of the hub's fx callbacks: the configured
/// ones of FSPIOP 2.x (fxTransfers do not exist before 2.0); the hub writes 2.0.
pub fn fx_versions(versions: &ProtocolVersions) -> ProtocolVersions {
    let fx = crate::callbacks::FX_VERSION;
    let major = |list: &[Version]| {
        list.iter()
            .copied()
            .filter(|v| v.major == fx.major)
            .collect::<Vec<_>>()
    };
    ProtocolVersions {
        content_supported: major(&versions.content_supported),
        accept_supported: major(&versions.accept_supported),
        content_default: fx,
        accept_default: Version::major_only(fx.major),
    }
}

/// What `POST /fxTransfers` leaves optional but a conversion cannot do without: an
/// `expiration` (the reservation must time out), a `determiningTransferId` (the transfer the
/// conversion is for: there is no bulk currency purchase here), and two different currencies.
pub fn check_fx_prepare(fx_transfer: &FxTransfersPostRequest) -> Result<(), FspiopError> {
    if fx_transfer.expiration.is_none() {
        return Err(FspiopError::with_detail(
            ErrorCode::MissingElement,
            "body must have required property 'expiration' (a conversion without one would never time out)",
        ));
    }
    if fx_transfer.determining_transfer_id.is_none() {
        return Err(FspiopError::with_detail(
            ErrorCode::MissingElement,
            "body must have required property 'determiningTransferId' (a conversion is for one transfer; bulk currency purchase is not supported)",
        ));
    }
    if fx_transfer.source_amount.currency == fx_transfer.target_amount.currency {
        return Err(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            "sourceAmount and targetAmount must be in different currencies",
        ));
    }
    Ok(())
}

/// An FXP's `PUT /fxTransfers/{ID}` that accepts the conversion (any `conversionState` but
/// ABORTED) must carry the `fulfilment` that proves it.
pub fn check_fx_fulfil(fulfil: &FxTransfersIdPutResponse) -> Result<(), FspiopError> {
    if fulfil.conversion_state != types::TransferState::Aborted && fulfil.fulfilment.is_none() {
        return Err(FspiopError::with_detail(
            ErrorCode::MissingElement,
            "body must have required property 'fulfilment' unless conversionState is ABORTED",
        ));
    }
    Ok(())
}

async fn read_body(body: Body) -> Result<Bytes, FspiopError> {
    fspiop_edge::inbound::read_body(body, BODY_LEN_MAX_BYTES).await
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
pub(crate) async fn accept(
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
        check_completed_window(&state, &map, fulfil.completed_timestamp.as_deref())?;
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

/// Which resource a route serves: its header rules and its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Transfers,
    FxTransfers,
}

impl Route {
    fn check_headers(
        self,
        state: &AppState,
        method: &str,
        headers: &HeaderMap,
    ) -> Result<BTreeMap<String, String>, FspiopError> {
        match self {
            Route::Transfers => check_headers(state, method, headers),
            Route::FxTransfers => check_fx_headers(state, method, headers),
        }
    }
}

async fn put_transfer_error(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    put_error(state, Route::Transfers, id, headers, body).await
}

async fn get_transfer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    get_state(state, Route::Transfers, id, headers).await
}

async fn patch_transfer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    patch(&state, Route::Transfers, &id, &headers)
}

/// `PUT /transfers/{ID}/error` and `PUT /fxTransfers/{ID}/error`.
async fn put_error(
    state: AppState,
    route: Route,
    id: String,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let checked = async {
        let map = route.check_headers(&state, "PUT", &headers)?;
        validate::correlation_id_param("ID", &id)?;
        let bytes = read_body(body).await?;
        let _: ErrorInformationObject =
            types::parse_body(&bytes, state.config().validation.unknown_fields())?;
        let request_id = state.next_request_id();
        Ok(match route {
            Route::Transfers => messages::abort(&id, map, &bytes, &request_id, now_ms()),
            Route::FxTransfers => messages::fx_abort(&id, map, &bytes, &request_id, now_ms()),
        })
    }
    .await;
    let metric = match route {
        Route::Transfers => &state.metrics().transfer_fulfil_error,
        Route::FxTransfers => &state.metrics().fx_transfer_fulfil_error,
    };
    accept(&state, metric, started, checked, 200).await
}

/// `GET /transfers/{ID}` and `GET /fxTransfers/{ID}`.
async fn get_state(state: AppState, route: Route, id: String, headers: HeaderMap) -> Response {
    let started = Instant::now();
    let checked = (|| {
        let map = route.check_headers(&state, "GET", &headers)?;
        validate::correlation_id_param("ID", &id)?;
        Ok(match route {
            Route::Transfers => messages::get(&id, map, now_ms()),
            Route::FxTransfers => messages::fx_get(&id, map, now_ms()),
        })
    })();
    let metric = match route {
        Route::Transfers => &state.metrics().transfer_get,
        Route::FxTransfers => &state.metrics().fx_transfer_get,
    };
    accept(&state, metric, started, checked, 202).await
}

/// `PATCH` goes from the hub to a DFSP only: after the header and id checks, 501 / 2002.
fn patch(state: &AppState, route: Route, id: &str, headers: &HeaderMap) -> Response {
    let checked = route
        .check_headers(state, "PATCH", headers)
        .and_then(|_| validate::correlation_id_param("ID", id));
    let error = match checked {
        Ok(()) => FspiopError::new(ErrorCode::NotImplemented),
        Err(error) => error,
    };
    FspiopResponse(error).into_response()
}

/// The completedTimestamp window, unless the request came through a proxy.
fn check_completed_window(
    state: &AppState,
    headers: &BTreeMap<String, String>,
    completed_timestamp: Option<&str>,
) -> Result<(), FspiopError> {
    if headers.contains_key("fspiop-proxy") {
        return Ok(());
    }
    let rules = &state.config().transfers;
    check_completed_timestamp(
        completed_timestamp,
        now_ms(),
        rules.max_fulfil_timeout_duration_s,
        rules.max_callback_time_lag_dilation_ms,
    )
}

async fn post_fx_transfer(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let checked = async {
        let map = check_fx_headers(&state, "POST", &headers)?;
        let bytes = read_body(body).await?;
        let fx_transfer: FxTransfersPostRequest =
            types::parse_body(&bytes, state.config().validation.unknown_fields())?;
        check_fx_prepare(&fx_transfer)?;
        Ok(messages::fx_prepare(
            map,
            &bytes,
            &fx_transfer,
            &state.next_request_id(),
            now_ms(),
        ))
    }
    .await;
    accept(
        &state,
        &state.metrics().fx_transfer_prepare,
        started,
        checked,
        202,
    )
    .await
}

async fn put_fx_transfer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let checked = async {
        let map = check_fx_headers(&state, "PUT", &headers)?;
        validate::correlation_id_param("ID", &id)?;
        let bytes = read_body(body).await?;
        let fulfil: FxTransfersIdPutResponse =
            types::parse_body(&bytes, state.config().validation.unknown_fields())?;
        check_fx_fulfil(&fulfil)?;
        check_completed_window(&state, &map, fulfil.completed_timestamp.as_deref())?;
        Ok(messages::fx_fulfil(
            &id,
            map,
            &bytes,
            fulfil.conversion_state,
            &state.next_request_id(),
            now_ms(),
        ))
    }
    .await;
    accept(
        &state,
        &state.metrics().fx_transfer_fulfil,
        started,
        checked,
        200,
    )
    .await
}

async fn put_fx_transfer_error(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    put_error(state, Route::FxTransfers, id, headers, body).await
}

async fn get_fx_transfer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    get_state(state, Route::FxTransfers, id, headers).await
}

/// `PATCH /fxTransfers/{ID}` goes from the hub to the FXP only.
async fn patch_fx_transfer(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    patch(&state, Route::FxTransfers, &id, &headers)
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
            "FxTransfersPost": url("/fxTransfers"),
            "FxTransfersByIDGet": url("/fxTransfers/:ID"),
            "FxTransfersByIDPut": url("/fxTransfers/:ID"),
            "FxTransfersByIDPatch": url("/fxTransfers/:ID"),
            "FxTransfersByIDAndErrorPut": url("/fxTransfers/:ID/error"),
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
    #[test]
    fn fx_versions_are_the_configured_2_x() {
        let fx = fx_versions(&ProtocolVersions::default());
        assert_eq!(fx.content_supported, vec![Version::new(2, 0)]);
        assert_eq!(
            fx.accept_supported,
            vec![Version::major_only(2), Version::new(2, 0)]
        );
        assert_eq!(fx.content_default, Version::new(2, 0));
        assert_eq!(fx.accept_default, Version::major_only(2));
        let only_1 = ProtocolVersions {
            content_supported: vec![Version::new(1, 1)],
            accept_supported: vec![Version::major_only(1)],
            ..ProtocolVersions::default()
        };
        let fx = fx_versions(&only_1);
        assert!(fx.content_supported.is_empty() && fx.accept_supported.is_empty());
        assert_eq!(
            fx.content_default,
            Version::new(2, 0),
            "the hub still writes 2.0"
        );
    }

    #[test]
    fn fx_prepare_and_fulfil_rules() {
        let prepare = |change: &dyn Fn(&mut serde_json::Value)| {
            let mut body = json!({
                "commitRequestId": "0f2a7c3e-3b1d-4c55-9d0e-8a1b2c3d4e5f",
                "determiningTransferId": "b51ec534-ee48-4575-b6a9-ead2955b8069",
                "initiatingFsp": "payerfsp", "counterPartyFsp": "fxp",
                "sourceAmount": {"amount": "300", "currency": "BWP"},
                "targetAmount": {"amount": "48000", "currency": "TZS"},
                "condition": "f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA",
                "expiration": "2030-01-01T00:00:00.000Z"
            });
            change(&mut body);
            let request: FxTransfersPostRequest = serde_json::from_value(body).unwrap();
            check_fx_prepare(&request).map_err(|e| (e.code.code(), e.description()))
        };
        assert_eq!(prepare(&|_| {}), Ok(()));
        let (code, description) = prepare(&|b| {
            b.as_object_mut().map(|o| o.remove("expiration"));
        })
        .unwrap_err();
        assert_eq!(code, 3102);
        assert!(
            description.starts_with(
                "Missing mandatory element - body must have required property 'expiration'"
            ),
            "{description}"
        );
        let (code, description) = prepare(&|b| {
            b.as_object_mut().map(|o| o.remove("determiningTransferId"));
        })
        .unwrap_err();
        assert_eq!(code, 3102);
        assert!(
            description.contains("'determiningTransferId'"),
            "{description}"
        );
        assert_eq!(
            prepare(&|b| b["targetAmount"]["currency"] = json!("BWP")),
            Err((
                3100,
                "Generic validation error - sourceAmount and targetAmount must be in different currencies"
                    .to_string()
            ))
        );

        let fulfil = |body: serde_json::Value| {
            let response: FxTransfersIdPutResponse = serde_json::from_value(body).unwrap();
            check_fx_fulfil(&response).map_err(|e| e.code.code())
        };
        let fulfilment = "UNlJ98hZTY_dsw0cAqw4i_UN3v4utt7CZFB4yfLbVFA";
        for state in ["RESERVED", "COMMITTED", "RECEIVED"] {
            assert_eq!(
                fulfil(json!({"conversionState": state})),
                Err(3102),
                "{state}"
            );
            assert_eq!(
                fulfil(json!({"conversionState": state, "fulfilment": fulfilment})),
                Ok(())
            );
        }
        assert_eq!(fulfil(json!({"conversionState": "ABORTED"})), Ok(()));
    }
}
