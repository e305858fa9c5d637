//! `/participants`: which DFSP holds a party, as DFSPs register it (services.md §3.7).
//!
//! | request | sync | result callback (from the hub) |
//! | --- | --- | --- |
//! | `GET /participants/{Type}/{ID}[/{SubId}][?currency=]` | 202 | `PUT …PARTICIPANT[_SUB_ID]_PUT` `{"fspId"}` of the oracle's first entry to the requester; empty → 3204 |
//! | `POST /participants/{Type}/{ID}[/{SubId}]` | 202 | oracle create, then `PUT …PARTICIPANT[_SUB_ID]_PUT` `{"partyList":[{partyIdType, partyIdentifier, fspId, partySubIdOrType?}], "currency"?}` to `FSPIOP-Destination` or the body's `fspId` |
//! | `PUT /participants/{Type}/{ID}[/{SubId}]` | 200 | oracle update, then the same callback |
//! | `DELETE /participants/{Type}/{ID}[/{SubId}]` | 202 | oracle delete, then `PUT …PARTICIPANT[_SUB_ID]_PUT` `{"fspId": <source>}` to the requester |
//! | `PUT /participants/{Type}/{ID}[/{SubId}]/error` | 200 | raw body relayed to `FSPIOP-Destination`'s `…PARTICIPANT[_SUB_ID]_PUT_ERROR` (3201 if unknown) |
//! | `POST /participants` (batch) | 200 | `PUT …PARTICIPANT_BATCH_PUT` `{"partyList":[{partyId, errorInformation?}], "currency"?}` to the requester |
//! | `PUT /participants/{ID}[/error]` | 501 / 2002 | – |
//!
//! Failures go to the requester's `…PARTICIPANT[_SUB_ID]_PUT_ERROR` (batch:
//! `…PARTICIPANT_BATCH_PUT_ERROR`): an oracle's own `errorInformation` verbatim, an
//! unreachable oracle 2003, other oracle refusals 3003 (create, update) or 3040 (delete).
//! Registering a party again for the DFSP that holds it is a resend and confirmed again: the
//! MSISDN oracle answers it 201; an oracle that answers 3003 to any existing party is asked who
//! holds it, and only another DFSP's claim stays 3003.
//! In a batch, items whose `fspId` is not the requester get 3204, items the oracle could not
//! register get its error or 3003, each with the item's type and identifier as extension.

use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{post, put};
use axum::Router;
use fspiop::types::{
    parse_body, Body, ErrorInformationObject, ParticipantsIdPutResponse, ParticipantsPostRequest,
    ParticipantsTypeIdPutResponse, ParticipantsTypeIdSubIdPostRequest,
};
use fspiop::{ErrorCode, FspiopError};
use fspiop_edge::OutboundRequest;
use serde_json::{json, Map, Value};
use service_kit::http::{empty_response, FspiopResponse};

use crate::callbacks::{self, pick};
use crate::inbound::{
    currency_param, query_params, FspiopHeaders, Inbound, PartyRef, PathParams, RawBody,
};
use crate::oracle::Caller;
use crate::{is_participant, require_participant, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/participants", post(post_batch))
        .route("/participants/{type}", put(put_batch_callback))
        .route("/participants/{type}/error", put(put_batch_callback_error))
        .route(
            "/participants/{type}/{id}",
            axum::routing::get(get_participant)
                .post(post_participant)
                .put(put_participant)
                .delete(delete_participant),
        )
        .route(
            "/participants/{type}/{id}/error",
            put(put_participant_error),
        )
        .route(
            "/participants/{type}/{id}/{sub_id}",
            axum::routing::get(get_participant)
                .post(post_participant)
                .put(put_participant)
                .delete(delete_participant),
        )
        .route(
            "/participants/{type}/{id}/{sub_id}/error",
            put(put_participant_error),
        )
}

/// `PUT /participants/{ID}`: 501 / 2002, as in Mojaloop, for a request that passes the checks
/// every request passes first (headers, then the body); one that does not is refused as such
/// (400), as Mojaloop's request validation refuses it before its handler answers 501.
async fn put_batch_callback(
    FspiopHeaders(inbound): FspiopHeaders,
    RawBody(raw): RawBody,
) -> FspiopResponse {
    not_implemented::<ParticipantsIdPutResponse>(&inbound, &raw)
}

/// `PUT /participants/{ID}/error`: as [`put_batch_callback`], with an error body.
async fn put_batch_callback_error(
    FspiopHeaders(inbound): FspiopHeaders,
    RawBody(raw): RawBody,
) -> FspiopResponse {
    not_implemented::<ErrorInformationObject>(&inbound, &raw)
}

fn not_implemented<T: Body>(inbound: &Inbound, raw: &[u8]) -> FspiopResponse {
    FspiopResponse(match parse_body::<T>(raw, inbound.unknown_fields()) {
        Ok(_) => FspiopError::new(ErrorCode::NotImplemented),
        Err(error) => error,
    })
}

const REQUESTER_NOT_FOUND: &str = "Requester FSP not found";

/// The single-party flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Get,
    Post,
    Put,
    Delete,
    PutError,
}

impl Flow {
    /// The flow's name in logs and metrics.
    fn name(self) -> &'static str {
        match self {
            Flow::Get => "participants_get",
            Flow::Post => "participants_post",
            Flow::Put => "participants_put",
            Flow::Delete => "participants_delete",
            Flow::PutError => "participants_put_error",
        }
    }
}

/// What an accepted single-party request carries into its task.
struct Request {
    inbound: Inbound,
    party: PartyRef,
    currency: Option<String>,
    /// The body for the oracle (create, update) or the raw body to relay (error).
    body: Value,
    raw: axum::body::Bytes,
}

fn caller(request: &Request) -> Caller<'_> {
    Caller {
        headers: &request.inbound.headers,
        source: &request.inbound.source,
        destination: request.inbound.destination.as_deref(),
    }
}

async fn accept(
    state: &AppState,
    flow: Flow,
    request: Request,
    status: u16,
) -> Result<Response, FspiopResponse> {
    require_participant(
        state,
        &request.inbound.source,
        ErrorCode::IdNotFound,
        REQUESTER_NOT_FOUND,
    )
    .await?;
    let task_state = state.clone();
    state
        .tasks
        .spawn(flow.name(), run(task_state, flow, request))
        .await?;
    Ok(empty_response(status))
}

async fn get_participant(
    State(state): State<AppState>,
    FspiopHeaders(inbound): FspiopHeaders,
    params: PathParams,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, FspiopResponse> {
    let party = PartyRef::from_params(&params)?;
    let currency = currency_param(&query_params(query)?)?;
    let request = Request {
        inbound,
        party,
        currency,
        body: Value::Null,
        raw: Default::default(),
    };
    accept(&state, Flow::Get, request, 202).await
}

async fn post_participant(
    State(state): State<AppState>,
    FspiopHeaders(inbound): FspiopHeaders,
    params: PathParams,
    RawBody(raw): RawBody,
) -> Result<Response, FspiopResponse> {
    let party = PartyRef::from_params(&params)?;
    let body: ParticipantsTypeIdSubIdPostRequest = parse_body(&raw, inbound.unknown_fields())?;
    let mut oracle_body = Map::new();
    oracle_body.insert("fspId".into(), Value::String(body.fsp_id));
    if let Some(currency) = &body.currency {
        oracle_body.insert("currency".into(), Value::String(currency.clone()));
    }
    if let Some(extensions) = &body.extension_list {
        oracle_body.insert(
            "extensionList".into(),
            serde_json::to_value(extensions).unwrap_or(Value::Null),
        );
    }
    if let Some(sub_id) = &party.sub_id {
        oracle_body.insert("partySubIdOrType".into(), Value::String(sub_id.clone()));
    }
    let request = Request {
        inbound,
        party,
        currency: body.currency,
        body: Value::Object(oracle_body),
        raw,
    };
    accept(&state, Flow::Post, request, 202).await
}

async fn put_participant(
    State(state): State<AppState>,
    FspiopHeaders(inbound): FspiopHeaders,
    params: PathParams,
    RawBody(raw): RawBody,
) -> Result<Response, FspiopResponse> {
    let party = PartyRef::from_params(&params)?;
    let body: ParticipantsTypeIdPutResponse = parse_body(&raw, inbound.unknown_fields())?;
    let mut oracle_body = Map::new();
    oracle_body.insert(
        "fspId".into(),
        Value::String(body.fsp_id.unwrap_or_else(|| inbound.source.clone())),
    );
    if let Some(sub_id) = &party.sub_id {
        oracle_body.insert("partySubIdOrType".into(), Value::String(sub_id.clone()));
    }
    let request = Request {
        inbound,
        party,
        currency: None,
        body: Value::Object(oracle_body),
        raw,
    };
    accept(&state, Flow::Put, request, 200).await
}

async fn delete_participant(
    State(state): State<AppState>,
    FspiopHeaders(inbound): FspiopHeaders,
    params: PathParams,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, FspiopResponse> {
    let party = PartyRef::from_params(&params)?;
    // Checked, but (as in Mojaloop) not passed on: the oracle deletes the party's mapping.
    let currency = currency_param(&query_params(query)?)?;
    let request = Request {
        inbound,
        party,
        currency,
        body: Value::Null,
        raw: Default::default(),
    };
    accept(&state, Flow::Delete, request, 202).await
}

async fn put_participant_error(
    State(state): State<AppState>,
    FspiopHeaders(inbound): FspiopHeaders,
    params: PathParams,
    RawBody(raw): RawBody,
) -> Result<Response, FspiopResponse> {
    let party = PartyRef::from_params(&params)?;
    parse_body::<ErrorInformationObject>(&raw, inbound.unknown_fields())?;
    let request = Request {
        inbound,
        party,
        currency: None,
        body: Value::Null,
        raw,
    };
    accept(&state, Flow::PutError, request, 200).await
}

// ---- the asynchronous part -----------------------------------------------------------------

async fn run(state: AppState, flow: Flow, request: Request) {
    let result = match flow {
        Flow::Get => lookup(&state, &request).await,
        Flow::Post => register(&state, &request, false).await,
        Flow::Put => register(&state, &request, true).await,
        Flow::Delete => delete(&state, &request).await,
        Flow::PutError => relay_error(&state, &request).await,
    };
    state.metrics.task(flow.name(), &result);
    if let Err(error) = result {
        let party = &request.party;
        let endpoint = pick(
            party.sub_id.is_some(),
            callbacks::PARTICIPANT_SUB_ID_PUT_ERROR,
            callbacks::PARTICIPANT_PUT_ERROR,
        );
        let uri = format!("{}/error", party.path("participants"));
        callbacks::send_error(
            &state,
            &request.inbound.source,
            endpoint,
            &party.vars(),
            &uri,
            &error,
            &request.inbound.headers,
        )
        .await;
    }
}

/// An oracle refusal that is not the oracle's own FSPIOP error nor its unavailability becomes
/// `code` (3003 for create and update, 3040 for delete), keeping the detail.
fn oracle_refusal(error: FspiopError, code: ErrorCode) -> FspiopError {
    if error.received.is_some()
        || error.code == ErrorCode::ServiceCurrentlyUnavailable
        || error.code == ErrorCode::AddPartyInfoError
    {
        return error;
    }
    FspiopError::with_detail(
        code,
        error
            .detail
            .unwrap_or_else(|| error.code.name().to_string()),
    )
}

/// The hub's `PUT …PARTICIPANT[_SUB_ID]_PUT` to `to` with `body`.
async fn send_result(
    state: &AppState,
    request: &Request,
    to: &str,
    body: &Value,
) -> Result<(), FspiopError> {
    let party = &request.party;
    let endpoint = pick(
        party.sub_id.is_some(),
        callbacks::PARTICIPANT_SUB_ID_PUT,
        callbacks::PARTICIPANT_PUT,
    );
    callbacks::send_hub_put(
        state,
        to,
        endpoint,
        &party.vars(),
        party.path("participants"),
        &request.inbound.headers,
        body,
    )
    .await
}

async fn lookup(state: &AppState, request: &Request) -> Result<(), FspiopError> {
    request.party.check_format()?;
    let parties = state
        .oracles
        .lookup(
            &caller(request),
            &request.party,
            request.currency.as_deref(),
        )
        .await?;
    let first = parties
        .first()
        .ok_or_else(|| FspiopError::new(ErrorCode::PartyNotFound))?;
    send_result(
        state,
        request,
        &request.inbound.source,
        &json!({ "fspId": first.fsp_id }),
    )
    .await
}

async fn register(state: &AppState, request: &Request, update: bool) -> Result<(), FspiopError> {
    request.party.check_format()?;
    let fsp_id = request
        .body
        .get("fspId")
        .and_then(Value::as_str)
        .unwrap_or(&request.inbound.source)
        .to_string();
    let written = state
        .oracles
        .write(&caller(request), &request.party, update, &request.body)
        .await;
    if let Err(error) = written {
        // An oracle that refuses every existing party (3003) gets asked who holds it: the
        // holder registering it again is a resend, confirmed as the first registration was.
        let duplicate =
            !update && error.received.is_some() && error.code == ErrorCode::AddPartyInfoError;
        if !(duplicate && holds(state, request, &fsp_id).await) {
            return Err(oracle_refusal(error, ErrorCode::AddPartyInfoError));
        }
    }
    let mut party = Map::new();
    party.insert(
        "partyIdType".into(),
        Value::String(request.party.party_type.clone()),
    );
    party.insert(
        "partyIdentifier".into(),
        Value::String(request.party.id.clone()),
    );
    party.insert("fspId".into(), Value::String(fsp_id.clone()));
    if let Some(sub_id) = &request.party.sub_id {
        party.insert("partySubIdOrType".into(), Value::String(sub_id.clone()));
    }
    let mut body = Map::new();
    body.insert("partyList".into(), Value::Array(vec![Value::Object(party)]));
    if let Some(currency) = &request.currency {
        body.insert("currency".into(), Value::String(currency.clone()));
    }
    let to = request.inbound.destination.clone().unwrap_or(fsp_id);
    send_result(state, request, &to, &Value::Object(body)).await
}

/// Whether the oracle lists `fsp_id` as the holder of the request's party (its sub-id's, when
/// it has one). A lookup that fails counts as no.
async fn holds(state: &AppState, request: &Request, fsp_id: &str) -> bool {
    let wanted = request.party.sub_id.as_deref();
    match state
        .oracles
        .lookup(&caller(request), &request.party, None)
        .await
    {
        Ok(parties) => parties.iter().any(|party| {
            party.fsp_id == fsp_id
                && party
                    .party_sub_id_or_type
                    .as_deref()
                    .filter(|sub_id| !sub_id.is_empty())
                    == wanted
        }),
        Err(error) => {
            tracing::warn!(error = %error.description(), "oracle lookup after a refused registration failed");
            false
        }
    }
}

async fn delete(state: &AppState, request: &Request) -> Result<(), FspiopError> {
    request.party.check_format()?;
    let caller = caller(request);
    if state.config.oracle.delete_validation_enabled {
        let parties = state.oracles.lookup(&caller, &request.party, None).await?;
        let owner = parties.first().ok_or_else(|| {
            FspiopError::with_detail(
                ErrorCode::DeletePartyInfoError,
                "No participant found for the party",
            )
        })?;
        if owner.fsp_id != request.inbound.source {
            return Err(FspiopError::with_detail(
                ErrorCode::DeletePartyInfoError,
                format!(
                    "The party {}:{} does not belong to the requesting FSP",
                    request.party.party_type, request.party.id
                ),
            ));
        }
    }
    state
        .oracles
        .delete(&caller, &request.party)
        .await
        .map_err(|error| oracle_refusal(error, ErrorCode::DeletePartyInfoError))?;
    send_result(
        state,
        request,
        &request.inbound.source,
        &json!({ "fspId": request.inbound.source }),
    )
    .await
}

async fn relay_error(state: &AppState, request: &Request) -> Result<(), FspiopError> {
    let destination = match &request.inbound.destination {
        Some(destination) if is_participant(state, destination).await? => destination.clone(),
        _ => {
            return Err(FspiopError::with_detail(
                ErrorCode::DestinationFspError,
                "Destination FSP not found",
            ))
        }
    };
    let party = &request.party;
    let endpoint = pick(
        party.sub_id.is_some(),
        callbacks::PARTICIPANT_SUB_ID_PUT_ERROR,
        callbacks::PARTICIPANT_PUT_ERROR,
    );
    let url = callbacks::endpoint_url(state, &destination, endpoint, &party.vars()).await?;
    let result = state
        .forwarder
        .send(OutboundRequest {
            method: "PUT",
            url,
            uri_path: format!("{}/error", party.path("participants")),
            headers: request.inbound.headers.clone(),
            source: request.inbound.source.clone(),
            destination,
            body: Some(request.raw.to_vec()),
        })
        .await;
    state.metrics.callback(endpoint, &result);
    result
}

// ---- batch ---------------------------------------------------------------------------------

/// An accepted batch registration.
struct Batch {
    inbound: Inbound,
    request_id: String,
    currency: Option<String>,
    /// The items as received, each with its type, identifier and fspId.
    items: Vec<(Value, String, String, Option<String>)>,
}

async fn post_batch(
    State(state): State<AppState>,
    FspiopHeaders(inbound): FspiopHeaders,
    RawBody(raw): RawBody,
) -> Result<Response, FspiopResponse> {
    let value = fspiop::validate::parse_json(&raw)?;
    let body: ParticipantsPostRequest =
        fspiop::types::from_value(value.clone(), inbound.unknown_fields())?;
    require_participant(
        &state,
        &inbound.source,
        ErrorCode::IdNotFound,
        REQUESTER_NOT_FOUND,
    )
    .await?;
    let raw_items = value
        .get("partyList")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let items = raw_items
        .into_iter()
        .zip(body.party_list)
        .map(|(raw, typed)| {
            (
                raw,
                typed.party_id_type.as_str().to_string(),
                typed.party_identifier,
                typed.fsp_id,
            )
        })
        .collect();
    let batch = Batch {
        inbound,
        request_id: body.request_id,
        currency: body.currency,
        items,
    };
    let task_state = state.clone();
    state
        .tasks
        .spawn("participants_batch", run_batch(task_state, batch))
        .await?;
    Ok(empty_response(200))
}

/// A batch item's failure: the item (without `currency`) and the error, with the item's type
/// and identifier as extension.
fn item_failure(mut item: Value, party_type: &str, id: &str, error: FspiopError) -> Value {
    if let Some(object) = item.as_object_mut() {
        object.remove("currency");
    }
    let error = error.extension(party_type, id);
    json!({ "partyId": item, "errorInformation": error.to_error_information() })
}

async fn run_batch(state: AppState, batch: Batch) {
    let vars = vec![(
        "requestId",
        callbacks::encode_path_segment(&batch.request_id),
    )];
    let result = register_batch(&state, &batch, &vars).await;
    state.metrics.task("participants_batch", &result);
    if let Err(error) = result {
        let uri = format!("/participants/{}/error", batch.request_id);
        callbacks::send_error(
            &state,
            &batch.inbound.source,
            callbacks::PARTICIPANT_BATCH_PUT_ERROR,
            &vars,
            &uri,
            &error,
            &batch.inbound.headers,
        )
        .await;
    }
}

async fn register_batch(
    state: &AppState,
    batch: &Batch,
    vars: &[(&str, String)],
) -> Result<(), FspiopError> {
    let source = &batch.inbound.source;
    let mut results = Vec::with_capacity(batch.items.len());
    // Items by type, in the order the types first appear.
    let mut groups: Vec<(String, Vec<(Value, String)>)> = Vec::new();
    for (raw, party_type, id, fsp_id) in &batch.items {
        if fsp_id.as_deref() != Some(source.as_str()) {
            results.push(item_failure(
                raw.clone(),
                party_type,
                id,
                FspiopError::new(ErrorCode::PartyNotFound),
            ));
            continue;
        }
        let mut item = raw.clone();
        if let (Some(object), Some(currency)) = (item.as_object_mut(), &batch.currency) {
            object.insert("currency".into(), Value::String(currency.clone()));
        }
        match groups
            .iter_mut()
            .find(|(group_type, _)| group_type == party_type)
        {
            Some((_, items)) => items.push((item, id.clone())),
            None => groups.push((party_type.clone(), vec![(item, id.clone())])),
        }
    }
    let caller = Caller {
        headers: &batch.inbound.headers,
        source,
        destination: batch.inbound.destination.as_deref(),
    };
    for (party_type, items) in groups {
        let body = json!({
            "requestId": batch.request_id,
            "partyList": items.iter().map(|(item, _)| item.clone()).collect::<Vec<_>>(),
        });
        match state.oracles.batch(&caller, &party_type, &body).await {
            Ok(answers) if !answers.is_empty() => {
                for mut answer in answers {
                    if let Some(party_id) = answer.get_mut("partyId").and_then(Value::as_object_mut)
                    {
                        party_id.remove("currency");
                    }
                    results.push(answer);
                }
            }
            Ok(_) => {
                for (item, id) in items {
                    results.push(item_failure(
                        item,
                        &party_type,
                        &id,
                        FspiopError::new(ErrorCode::AddPartyInfoError),
                    ));
                }
            }
            Err(error) => {
                tracing::warn!(%party_type, %error, "batch registration refused by the oracle");
                for (item, id) in items {
                    results.push(item_failure(item, &party_type, &id, error.clone()));
                }
            }
        }
    }
    let mut body = Map::new();
    body.insert("partyList".into(), Value::Array(results));
    if let Some(currency) = &batch.currency {
        body.insert("currency".into(), Value::String(currency.clone()));
    }
    let uri = format!("/participants/{}", batch.request_id);
    callbacks::send_hub_put(
        state,
        source,
        callbacks::PARTICIPANT_BATCH_PUT,
        vars,
        uri,
        &batch.inbound.headers,
        &Value::Object(body),
    )
    .await
}
