//! Mojaloop's oracle API (services.md §3.8), as the Account Lookup Service calls it:
//!
//! | call | answer |
//! | --- | --- |
//! | `GET /participants/{Type}/{ID}[/{SubId}]` `[?currency=C][&partySubIdOrType=S]` | 200 `{"partyList":[{"fspId","partySubIdOrType"?}]}`, empty list when unknown |
//! | `POST /participants/{Type}/{ID}[/{SubId}]` `{fspId, currency?, partySubIdOrType?, extensionList?}` | 201, also when that DFSP holds it already (a resend; a currency given replaces the stored one); 409 / 3003 when another DFSP holds it |
//! | `PUT` same | 200 with the updated mapping as a `partyList`; 404 / 3200 when unknown |
//! | `DELETE /participants/{Type}/{ID}[/{SubId}]` `[?partySubIdOrType=S]` | 204; 404 / 3200 when unknown |
//! | `POST /participants` `{requestId, partyList:[PartyIdInfo + currency?]}` | 201 `{"partyList":[{"partyId", "errorInformation"?}]}` |
//!
//! Only the configured types are served (`MSISDN`); another type, or an identifier with
//! whitespace or braces, is 400 / 3101. A GET without a sub-id returns every mapping of the
//! identifier (the one without a sub-id first) and lets the caller filter, where the reference
//! oracle returns only the first row.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use fspiop::validate::{check_format, validate_object, Format, UnknownFields};
use fspiop::{ErrorCode, FspiopError};
use serde::Deserialize;
use serde_json::{json, Value};
use service_kit::http::{empty_response, json_response};

use crate::error::{Error, Result};
use crate::store::{BulkOutcome, Mapping};
use crate::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/participants", post(bulk_create))
        .route(
            "/participants/{type}/{id}",
            get(get_party)
                .post(create_party)
                .put(update_party)
                .delete(delete_party),
        )
        .route(
            "/participants/{type}/{id}/{sub_id}",
            get(get_party)
                .post(create_party)
                .put(update_party)
                .delete(delete_party),
        )
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> Response {
    use service_kit::health::{HealthReport, Status, SubServiceHealth};
    let datastore = Status::from_healthy(state.store.healthy().await);
    let report = HealthReport::new(
        state.started,
        env!("CARGO_PKG_VERSION"),
        vec![SubServiceHealth::new("datastore", datastore)],
    );
    service_kit::health::health_response(report, 503)
}

async fn metrics(State(state): State<AppState>) -> Response {
    service_kit::metrics::metrics_response(&state.metrics.registry)
}

// ---- input -------------------------------------------------------------------------------

/// The path of a party: type, identifier and optional sub-id, checked.
struct PartyPath {
    id: String,
    sub_id: Option<String>,
}

fn party_path(state: &AppState, params: &[(String, String)]) -> Result<PartyPath> {
    let param = |name: &str| {
        params
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let party_type = param("type").unwrap_or_default();
    if !state.config.limits.party_id_types.contains(&party_type) {
        return Err(Error::bad_request(
            ErrorCode::MalformedSyntax,
            format!(
                "This service supports only {} ID types",
                state.config.limits.party_id_types.join(", ")
            ),
        ));
    }
    let id = param("id").unwrap_or_default();
    check_identifier("ID", &id)?;
    let sub_id = param("sub_id");
    if let Some(sub_id) = &sub_id {
        check_identifier("SubId", sub_id)?;
    }
    Ok(PartyPath { id, sub_id })
}

fn check_identifier(name: &str, value: &str) -> Result<()> {
    if check_format(Format::PartyIdentifierPath, value) {
        Ok(())
    } else {
        Err(Error::bad_request(
            ErrorCode::MalformedSyntax,
            format!("Invalid {name} parameter {value:?}"),
        ))
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PartyQuery {
    currency: Option<String>,
    party_sub_id_or_type: Option<String>,
}

fn query(result: std::result::Result<Query<PartyQuery>, QueryRejection>) -> Result<PartyQuery> {
    result
        .map(|Query(query)| query)
        .map_err(|rejection| Error::bad_request(ErrorCode::MalformedSyntax, rejection.body_text()))
}

/// The body of a single POST or PUT.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MappingBody {
    fsp_id: String,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    party_sub_id_or_type: Option<String>,
}

fn parse_mapping_body(bytes: &[u8]) -> Result<MappingBody> {
    let body: MappingBody =
        service_kit::http::parse_json_body(bytes).map_err(|error| Error::Client(400, error))?;
    if !check_format(Format::FspId, &body.fsp_id) {
        return Err(Error::bad_request(
            ErrorCode::GenericValidationError,
            "/fspId must be an FspId of 1 to 32 characters",
        ));
    }
    if let Some(currency) = &body.currency {
        if !fspiop::currency::is_api_currency(currency) {
            return Err(Error::bad_request(
                ErrorCode::GenericValidationError,
                "/currency must be a supported ISO 4217 currency code",
            ));
        }
    }
    if let Some(sub_id) = &body.party_sub_id_or_type {
        check_identifier("partySubIdOrType", sub_id)?;
    }
    Ok(body)
}

fn party_entry(mapping: &Mapping) -> Value {
    if mapping.sub_id.is_empty() {
        json!({ "fspId": mapping.fsp_id })
    } else {
        json!({ "fspId": mapping.fsp_id, "partySubIdOrType": mapping.sub_id })
    }
}

// ---- single mappings ---------------------------------------------------------------------

async fn get_party(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    query_result: std::result::Result<Query<PartyQuery>, QueryRejection>,
) -> Result<Response> {
    let path = party_path(&state, &params)?;
    let query = query(query_result)?;
    let sub_id = path.sub_id.or(query.party_sub_id_or_type);
    if let Some(currency) = &query.currency {
        if !fspiop::currency::is_api_currency(currency) {
            return Err(Error::bad_request(
                ErrorCode::MalformedSyntax,
                format!("Invalid currency {currency:?}"),
            ));
        }
    }
    let mappings = state
        .store
        .find(
            &path.id,
            sub_id.as_deref(),
            query.currency.as_deref(),
            state.config.limits.party_list_len_max,
        )
        .await?;
    state.metrics.record(
        "get",
        if mappings.is_empty() {
            "not_found"
        } else {
            "found"
        },
    );
    Ok(json_response(
        200,
        &json!({ "partyList": mappings.iter().map(party_entry).collect::<Vec<_>>() }),
    ))
}

async fn create_party(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    body: axum::body::Bytes,
) -> Result<Response> {
    let path = party_path(&state, &params)?;
    let body = parse_mapping_body(&body)?;
    let mapping = Mapping {
        id: path.id,
        sub_id: path
            .sub_id
            .or(body.party_sub_id_or_type)
            .unwrap_or_default(),
        fsp_id: body.fsp_id,
        currency: body.currency,
    };
    let result = state.store.insert(&mapping).await;
    let recorded = match &result {
        Ok(false) => "resent",
        other => outcome(other),
    };
    state.metrics.record("create", recorded);
    result?;
    Ok(empty_response(201))
}

async fn update_party(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    body: axum::body::Bytes,
) -> Result<Response> {
    let path = party_path(&state, &params)?;
    let body = parse_mapping_body(&body)?;
    let mapping = Mapping {
        id: path.id,
        sub_id: path
            .sub_id
            .or(body.party_sub_id_or_type)
            .unwrap_or_default(),
        fsp_id: body.fsp_id,
        currency: body.currency,
    };
    let found = state.store.update(&mapping).await;
    state.metrics.record("update", outcome(&found));
    if !found? {
        return Err(Error::not_found(format!(
            "oracleMSISDN for MSISDN Id {} not found",
            mapping.id
        )));
    }
    Ok(json_response(
        200,
        &json!({ "partyList": [party_entry(&mapping)] }),
    ))
}

async fn delete_party(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    query_result: std::result::Result<Query<PartyQuery>, QueryRejection>,
) -> Result<Response> {
    let path = party_path(&state, &params)?;
    let query = query(query_result)?;
    let sub_id = path.sub_id.or(query.party_sub_id_or_type);
    let deleted = state.store.delete(&path.id, sub_id.as_deref()).await;
    state.metrics.record("delete", outcome(&deleted));
    if deleted? == 0 {
        return Err(Error::not_found(format!(
            "oracleMSISDN for MSISDN Id {} not found",
            path.id
        )));
    }
    Ok(empty_response(204))
}

fn outcome<T>(result: &Result<T>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(Error::Client(..)) => "rejected",
        Err(_) => "failed",
    }
}

// ---- bulk --------------------------------------------------------------------------------

/// One item of a bulk registration, typed after the schema check.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BulkItem {
    party_id_type: String,
    party_identifier: String,
    #[serde(default)]
    party_sub_id_or_type: Option<String>,
    #[serde(default)]
    fsp_id: Option<String>,
    #[serde(default)]
    currency: Option<String>,
}

fn item_error(detail: impl Into<String>) -> FspiopError {
    FspiopError::with_detail(ErrorCode::AddPartyInfoError, detail)
}

/// `POST /participants`: registers every valid item (in multi-row INSERTs) and reports each
/// item's outcome; `fspId` defaults to `FSPIOP-Source`.
async fn bulk_create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response> {
    let value = fspiop::validate::parse_json(&body).map_err(|error| Error::Client(400, error))?;
    validate_object(
        &value,
        &fspiop::types::PARTICIPANTS_POST,
        UnknownFields::Allow,
    )
    .map_err(|error| Error::Client(400, error))?;
    let raw_items: Vec<Value> = value
        .get("partyList")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let source = headers
        .get(fspiop::headers::FSPIOP_SOURCE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);

    let mut errors: Vec<Option<FspiopError>> = Vec::with_capacity(raw_items.len());
    let mut rows = Vec::with_capacity(raw_items.len());
    let mut row_items = Vec::with_capacity(raw_items.len());
    for (index, raw) in raw_items.iter().enumerate() {
        match bulk_row(&state, raw, source.as_deref()) {
            Ok(row) => {
                rows.push(row);
                row_items.push(index);
                errors.push(None);
            }
            Err(error) => errors.push(Some(error)),
        }
    }
    let outcomes = state
        .store
        .insert_bulk(&rows, state.config.limits.bulk_insert_rows_max)
        .await?;
    for ((index, outcome), row) in row_items.iter().zip(outcomes).zip(&rows) {
        if outcome == BulkOutcome::Duplicate {
            if let Some(slot) = errors.get_mut(*index) {
                *slot = Some(item_error(format!("Party already exists [id: {}]", row.id)));
            }
        }
    }
    let party_list: Vec<Value> = raw_items
        .into_iter()
        .zip(errors)
        .map(|(mut party_id, error)| {
            if let Some(object) = party_id.as_object_mut() {
                object.remove("currency");
            }
            state.metrics.record(
                "bulk_create",
                if error.is_some() { "rejected" } else { "ok" },
            );
            match error {
                Some(error) => {
                    json!({ "partyId": party_id, "errorInformation": error.to_error_information() })
                }
                None => json!({ "partyId": party_id }),
            }
        })
        .collect();
    Ok(json_response(201, &json!({ "partyList": party_list })))
}

fn bulk_row(
    state: &AppState,
    raw: &Value,
    source: Option<&str>,
) -> std::result::Result<Mapping, FspiopError> {
    let item: BulkItem =
        serde_json::from_value(raw.clone()).map_err(|e| item_error(e.to_string()))?;
    if !state
        .config
        .limits
        .party_id_types
        .contains(&item.party_id_type)
    {
        return Err(item_error(format!(
            "This service supports only {} ID types",
            state.config.limits.party_id_types.join(", ")
        )));
    }
    if !check_format(Format::PartyIdentifierPath, &item.party_identifier) {
        return Err(item_error("Invalid partyIdentifier"));
    }
    if let Some(sub_id) = &item.party_sub_id_or_type {
        if !check_format(Format::PartyIdentifierPath, sub_id) {
            return Err(item_error("Invalid partySubIdOrType"));
        }
    }
    if let Some(currency) = &item.currency {
        if !fspiop::currency::is_api_currency(currency) {
            return Err(item_error("Invalid currency"));
        }
    }
    let fsp_id = item
        .fsp_id
        .or_else(|| source.map(str::to_string))
        .filter(|fsp| check_format(Format::FspId, fsp))
        .ok_or_else(|| item_error("fspId is missing and FSPIOP-Source is not an FspId"))?;
    Ok(Mapping {
        id: item.party_identifier,
        sub_id: item.party_sub_id_or_type.unwrap_or_default(),
        fsp_id,
        currency: item.currency,
    })
}
