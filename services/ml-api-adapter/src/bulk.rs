//! The `/bulkTransfers` routes. Checked like `/transfers` (headers of resource
//! `bulkTransfers`, path id, body schema: at most [`fspiop::types::BULK_ITEMS_MAX`] transfers,
//! more is 3100), then the body is staged in the central ledger's database
//! (`store::bulk`, one row) and a message naming it put on its topic; the answer (202 / 200)
//! follows the broker's acknowledgement. A bulk of 1000 transfers is over a megabyte: staged,
//! it never meets the broker's message size limit (Mojaloop stages it in MongoDB).
//!
//! | route | topic | action | key |
//! | --- | --- | --- | --- |
//! | `POST /bulkTransfers` | `topic-bulk-prepare` | `bulk-prepare` | `payerFsp` |
//! | `PUT /bulkTransfers/{ID}` | `topic-bulk-fulfil` | `bulk-commit` | `ID` |
//! | `PUT /bulkTransfers/{ID}/error` | `topic-bulk-fulfil` | `bulk-abort` | `ID` |
//! | `GET /bulkTransfers/{ID}` | `topic-bulk-get` | `bulk-get` | `ID` |
//!
//! A database that cannot take the body is 2003 / 503, like a broker that cannot take the
//! message.

use std::collections::BTreeMap;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use fspiop::envelope::{action, Message};
use fspiop::headers;
use fspiop::types::{self, BulkTransfersIdPutResponse, BulkTransfersPostRequest};
use fspiop::validate;
use fspiop::{ErrorInformationObject, FspiopError};
use serde_json::json;

use crate::error::{Error, Result};
use crate::messages::{header, Outbound, Topic};
use crate::{now_ms, AppState};

/// The FSPIOP resource of the bulk routes.
pub const RESOURCE: &str = "bulkTransfers";

fn check_headers(
    state: &AppState,
    method: &str,
    headers: &HeaderMap,
) -> std::result::Result<BTreeMap<String, String>, FspiopError> {
    crate::api::check_headers_of(RESOURCE, state.versions(), method, headers)
}

/// The message for a bulk request whose body (if any) is staged as `message_id`.
fn message(
    id: &str,
    from: &str,
    to: &str,
    headers: BTreeMap<String, String>,
    action: &str,
    message_id: Option<&str>,
    now_ms: i64,
) -> Message {
    let mut message = Message::from_request(
        id,
        from,
        to,
        headers,
        None,
        Some(id),
        action,
        action,
        now_ms,
    );
    message.content.payload = json!({});
    if let Some(message_id) = message_id {
        message.content.context = Some(json!({ store::bulk::CONTEXT_MESSAGE_ID: message_id }));
    }
    message
}

/// Stages `body` for bulk `id`; returns its message id.
async fn stage(state: &AppState, id: &str, kind: &str, body: &[u8]) -> Result<String> {
    let message_id = uuid::Uuid::new_v4().to_string();
    store::bulk::stage(state.bulk_pool(), &message_id, id, kind, body)
        .await
        .map_err(|e| Error::Store(store::Error::Database(e)))?;
    Ok(message_id)
}

/// Answers `status` once `checked` produced its message (`crate::api::accept`).
async fn accept(
    state: &AppState,
    started: Instant,
    checked: Result<Outbound>,
    status: u16,
) -> Response {
    crate::api::accept(
        state,
        &state.metrics().bulk_transfer,
        started,
        checked,
        status,
    )
    .await
}

pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let started = Instant::now();
    let checked = async {
        let map = check_headers(&state, "POST", &headers)?;
        let bytes = fspiop_edge::inbound::read_body(body, crate::api::BODY_LEN_MAX_BYTES).await?;
        let bulk: BulkTransfersPostRequest =
            types::parse_body(&bytes, state.config().validation.unknown_fields())?;
        let id = bulk.bulk_transfer_id.as_str();
        let staged = stage(&state, id, store::bulk::KIND_PREPARE, &bytes).await?;
        Ok(Outbound {
            topic: Topic::BulkPrepare,
            key: bulk.payer_fsp.clone(),
            message: message(
                id,
                &bulk.payer_fsp,
                &bulk.payee_fsp,
                map,
                action::BULK_PREPARE,
                Some(&staged),
                now_ms(),
            ),
        })
    }
    .await;
    accept(&state, started, checked, 202).await
}

pub async fn put(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    fulfil(state, id, headers, body, action::BULK_COMMIT).await
}

pub async fn put_error(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    fulfil(state, id, headers, body, action::BULK_ABORT).await
}

/// `PUT /bulkTransfers/{ID}` (`bulk-commit`) and `PUT …/error` (`bulk-abort`).
async fn fulfil(
    state: AppState,
    id: String,
    headers: HeaderMap,
    body: Body,
    action: &'static str,
) -> Response {
    let started = Instant::now();
    let checked = async {
        let map = check_headers(&state, "PUT", &headers)?;
        validate::correlation_id_param("ID", &id)?;
        let bytes = fspiop_edge::inbound::read_body(body, crate::api::BODY_LEN_MAX_BYTES).await?;
        let unknown = state.config().validation.unknown_fields();
        let kind = if action == action::BULK_ABORT {
            let _: ErrorInformationObject = types::parse_body(&bytes, unknown)?;
            store::bulk::KIND_ERROR
        } else {
            let _: BulkTransfersIdPutResponse = types::parse_body(&bytes, unknown)?;
            store::bulk::KIND_FULFIL
        };
        let staged = stage(&state, &id, kind, &bytes).await?;
        let from = header(&map, headers::FSPIOP_SOURCE);
        let to = header(&map, headers::FSPIOP_DESTINATION);
        Ok(Outbound {
            topic: Topic::BulkFulfil,
            key: id.clone(),
            message: message(&id, &from, &to, map, action, Some(&staged), now_ms()),
        })
    }
    .await;
    accept(&state, started, checked, 200).await
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let started = Instant::now();
    let checked = (|| {
        let map = check_headers(&state, "GET", &headers)?;
        validate::correlation_id_param("ID", &id)?;
        let from = header(&map, headers::FSPIOP_SOURCE);
        let to = header(&map, headers::FSPIOP_DESTINATION);
        Ok(Outbound {
            topic: Topic::BulkGet,
            key: id.clone(),
            message: message(&id, &from, &to, map, action::BULK_GET, None, now_ms()),
        })
    })();
    accept(&state, started, checked, 202).await
}
