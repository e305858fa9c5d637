//! The Kafka messages the API produces (services spec §5.2), built from an accepted request:
//!
//! | route | topic | `id` | `from` / `to` | event type / action |
//! | --- | --- | --- | --- | --- |
//! | `POST /transfers` | `topic-transfer-prepare` | body `transferId` | body `payerFsp` / `payeeFsp` | `prepare` / `prepare` |
//! | `PUT /transfers/{ID}` | `topic-transfer-fulfil` | path `ID` | `FSPIOP-Source` / `FSPIOP-Destination` | `fulfil` / `commit` (COMMITTED, RECEIVED), `reserve` (RESERVED), `reject` (ABORTED) |
//! | `PUT /transfers/{ID}/error` | `topic-transfer-fulfil` | path `ID` | headers | `fulfil` / `abort` |
//! | `GET /transfers/{ID}` | `topic-transfer-get` | path `ID` | headers | `get` / `get` |
//! | `POST /fxTransfers` | `topic-transfer-prepare` | body `commitRequestId` | body `initiatingFsp` / `counterPartyFsp` | `prepare` / `fx-prepare` |
//! | `PUT /fxTransfers/{ID}` | `topic-transfer-fulfil` | path `ID` | `FSPIOP-Source` / `FSPIOP-Destination` | `fulfil` / `fx-commit` (COMMITTED, RECEIVED), `fx-reserve` (RESERVED), `fx-reject` (ABORTED) |
//! | `PUT /fxTransfers/{ID}/error` | `topic-transfer-fulfil` | path `ID` | headers | `fulfil` / `fx-abort` |
//! | `GET /fxTransfers/{ID}` | `topic-transfer-get` | path `ID` | headers | `get` / `fx-get` |
//!
//! `content.headers` are the request's headers with lower-case names, `content.uriParams.id`
//! the transfer id (the `commitRequestId` for fxTransfers), `content.payload` the data URI
//! `data:<Content-Type>;base64,<exact body bytes>` (`{}` for GET) and `content.context`
//! `{originalRequestPayload: <the same data URI>, originalRequestId}` (none for GET), as
//! Mojaloop's adapter sends them with its default payload storage. A missing
//! `FSPIOP-Destination` gives an empty `to`.
//!
//! Prepares are keyed by the payer (Mojaloop's adapter produces without a key): all of one
//! payer's prepares land in one partition, so one prepare handler owns that payer's position
//! at a time and sees a resent prepare after the original. An fxTransfer prepare is keyed by
//! its `initiatingFsp`, the same key as that DFSP's transfer prepares: the conversion's
//! reservation and the DFSP's transfers are handled in arrival order by one consumer. Fulfils
//! and gets are keyed by the transfer id (the `commitRequestId`), so a payee's (an FXP's) `PUT`
//! and `PUT …/error` for one transfer stay in arrival order.

use std::collections::BTreeMap;

use fspiop::envelope::{action, event_type, Message};
use fspiop::headers;
use fspiop::types::{FxTransfersPostRequest, TransferState, TransfersPostRequest};
use serde_json::{json, Value};

/// Which topic a message goes to (before the configured prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Prepare,
    Fulfil,
    Get,
    BulkPrepare,
    BulkFulfil,
    BulkGet,
}

impl Topic {
    /// The Mojaloop topic name.
    pub fn name(self) -> &'static str {
        match self {
            Topic::Prepare => bus::TOPIC_TRANSFER_PREPARE,
            Topic::Fulfil => bus::TOPIC_TRANSFER_FULFIL,
            Topic::Get => bus::TOPIC_TRANSFER_GET,
            Topic::BulkPrepare => bus::TOPIC_BULK_PREPARE,
            Topic::BulkFulfil => bus::TOPIC_BULK_FULFIL,
            Topic::BulkGet => bus::TOPIC_BULK_GET,
        }
    }
}

/// A message ready to produce: its topic, key and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    pub topic: Topic,
    /// The transfer id.
    pub key: String,
    pub message: Message,
}

/// The fulfil action a `PUT /transfers/{ID}` stands for.
pub fn fulfil_action(state: TransferState) -> &'static str {
    match state {
        TransferState::Aborted => action::REJECT,
        TransferState::Reserved => action::RESERVE,
        TransferState::Committed | TransferState::Received => action::COMMIT,
    }
}

pub(crate) fn header(headers: &BTreeMap<String, String>, name: &str) -> String {
    headers.get(name).cloned().unwrap_or_default()
}

/// The fulfil action a `PUT /fxTransfers/{ID}` stands for (by its `conversionState`).
pub fn fx_fulfil_action(state: TransferState) -> &'static str {
    match state {
        TransferState::Aborted => action::FX_REJECT,
        TransferState::Reserved => action::FX_RESERVE,
        TransferState::Committed | TransferState::Received => action::FX_COMMIT,
    }
}

/// `{originalRequestPayload, originalRequestId}`.
fn context(payload: &Value, original_request_id: &str) -> Value {
    json!({ "originalRequestPayload": payload, "originalRequestId": original_request_id })
}

/// `POST /transfers` → `topic-transfer-prepare`.
pub fn prepare(
    headers: BTreeMap<String, String>,
    body: &[u8],
    transfer: &TransfersPostRequest,
    original_request_id: &str,
    now_ms: i64,
) -> Outbound {
    let id = transfer.transfer_id.as_str();
    let mut message = Message::from_request(
        id,
        &transfer.payer_fsp,
        &transfer.payee_fsp,
        headers,
        Some(body),
        Some(id),
        event_type::PREPARE,
        action::PREPARE,
        now_ms,
    );
    message.content.context = Some(context(&message.content.payload, original_request_id));
    Outbound {
        topic: Topic::Prepare,
        key: transfer.payer_fsp.clone(),
        message,
    }
}

/// `POST /fxTransfers` → `topic-transfer-prepare`, action `fx-prepare`, keyed by the
/// initiating DFSP.
pub fn fx_prepare(
    headers: BTreeMap<String, String>,
    body: &[u8],
    fx_transfer: &FxTransfersPostRequest,
    original_request_id: &str,
    now_ms: i64,
) -> Outbound {
    let id = fx_transfer.commit_request_id.as_str();
    let mut message = Message::from_request(
        id,
        &fx_transfer.initiating_fsp,
        &fx_transfer.counter_party_fsp,
        headers,
        Some(body),
        Some(id),
        event_type::PREPARE,
        action::FX_PREPARE,
        now_ms,
    );
    message.content.context = Some(context(&message.content.payload, original_request_id));
    Outbound {
        topic: Topic::Prepare,
        key: fx_transfer.initiating_fsp.clone(),
        message,
    }
}

/// `PUT /transfers/{ID}` → `topic-transfer-fulfil`, action by `transferState`.
pub fn fulfil(
    id: &str,
    headers: BTreeMap<String, String>,
    body: &[u8],
    state: TransferState,
    original_request_id: &str,
    now_ms: i64,
) -> Outbound {
    fulfil_with_action(
        id,
        headers,
        body,
        fulfil_action(state),
        original_request_id,
        now_ms,
    )
}

/// `PUT /transfers/{ID}/error` → `topic-transfer-fulfil`, action `abort`.
pub fn abort(
    id: &str,
    headers: BTreeMap<String, String>,
    body: &[u8],
    original_request_id: &str,
    now_ms: i64,
) -> Outbound {
    fulfil_with_action(
        id,
        headers,
        body,
        action::ABORT,
        original_request_id,
        now_ms,
    )
}

/// `PUT /fxTransfers/{ID}` → `topic-transfer-fulfil`, action by `conversionState`.
pub fn fx_fulfil(
    id: &str,
    headers: BTreeMap<String, String>,
    body: &[u8],
    state: TransferState,
    original_request_id: &str,
    now_ms: i64,
) -> Outbound {
    fulfil_with_action(
        id,
        headers,
        body,
        fx_fulfil_action(state),
        original_request_id,
        now_ms,
    )
}

/// `PUT /fxTransfers/{ID}/error` → `topic-transfer-fulfil`, action `fx-abort`.
pub fn fx_abort(
    id: &str,
    headers: BTreeMap<String, String>,
    body: &[u8],
    original_request_id: &str,
    now_ms: i64,
) -> Outbound {
    fulfil_with_action(
        id,
        headers,
        body,
        action::FX_ABORT,
        original_request_id,
        now_ms,
    )
}

fn fulfil_with_action(
    id: &str,
    headers: BTreeMap<String, String>,
    body: &[u8],
    event_action: &str,
    original_request_id: &str,
    now_ms: i64,
) -> Outbound {
    let from = header(&headers, headers::FSPIOP_SOURCE);
    let to = header(&headers, headers::FSPIOP_DESTINATION);
    let mut message = Message::from_request(
        id,
        &from,
        &to,
        headers,
        Some(body),
        Some(id),
        event_type::FULFIL,
        event_action,
        now_ms,
    );
    message.content.context = Some(context(&message.content.payload, original_request_id));
    Outbound {
        topic: Topic::Fulfil,
        key: id.to_string(),
        message,
    }
}

/// `GET /transfers/{ID}` → `topic-transfer-get` (payload `{}`, no context).
pub fn get(id: &str, headers: BTreeMap<String, String>, now_ms: i64) -> Outbound {
    get_with_action(id, headers, action::GET, now_ms)
}

/// `GET /fxTransfers/{ID}` → `topic-transfer-get`, action `fx-get` (payload `{}`, no context).
pub fn fx_get(id: &str, headers: BTreeMap<String, String>, now_ms: i64) -> Outbound {
    get_with_action(id, headers, action::FX_GET, now_ms)
}

fn get_with_action(
    id: &str,
    headers: BTreeMap<String, String>,
    event_action: &str,
    now_ms: i64,
) -> Outbound {
    let from = header(&headers, headers::FSPIOP_SOURCE);
    let to = header(&headers, headers::FSPIOP_DESTINATION);
    let message = Message::from_request(
        id,
        &from,
        &to,
        headers,
        None,
        Some(id),
        event_type::GET,
        event_action,
        now_ms,
    );
    Outbound {
        topic: Topic::Get,
        key: id.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test code")]
    use super::*;
    use fspiop::envelope::data_uri;

    const TRANSFER_ID: &str = "b51ec534-ee48-4575-b6a9-ead2955b8069";
    const CONTENT_TYPE: &str = "application/vnd.interoperability.transfers+json;version=1.1";

    fn headers(source: &str, destination: Option<&str>) -> BTreeMap<String, String> {
        let mut map = BTreeMap::new();
        map.insert("content-type".to_string(), CONTENT_TYPE.to_string());
        map.insert(
            "date".to_string(),
            "Tue, 15 Nov 1994 08:12:31 GMT".to_string(),
        );
        map.insert("fspiop-source".to_string(), source.to_string());
        if let Some(destination) = destination {
            map.insert("fspiop-destination".to_string(), destination.to_string());
        }
        map
    }

    fn transfer() -> TransfersPostRequest {
        serde_json::from_value(json!({
            "transferId": TRANSFER_ID, "payerFsp": "payerfsp", "payeeFsp": "payeefsp",
            "amount": {"amount": "100", "currency": "USD"}, "ilpPacket": "AYIBgQAAAAAAAASw",
            "condition": "f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA", "expiration": "2030-01-01T00:00:00.000Z"
        }))
        .unwrap()
    }

    #[test]
    fn prepare_has_mojaloops_shape() {
        let body = br#"{"transferId":  "b51ec534-ee48-4575-b6a9-ead2955b8069"}"#;
        let out = prepare(
            headers("payerfsp", Some("payeefsp")),
            body,
            &transfer(),
            "r1",
            1_704_067_200_000,
        );
        assert_eq!(out.topic.name(), "topic-transfer-prepare");
        assert_eq!(out.key, "payerfsp", "prepares are keyed by the payer");
        let json = serde_json::to_value(&out.message).unwrap();
        assert_eq!(json["id"], TRANSFER_ID);
        assert_eq!(json["from"], "payerfsp");
        assert_eq!(json["to"], "payeefsp");
        assert_eq!(json["type"], "application/json");
        assert_eq!(json["content"]["uriParams"]["id"], TRANSFER_ID);
        assert_eq!(json["content"]["headers"]["fspiop-source"], "payerfsp");
        let uri = format!("data:{CONTENT_TYPE};base64,eyJ0cmFuc2ZlcklkIjogICJiNTFlYzUzNC1lZTQ4LTQ1NzUtYjZhOS1lYWQyOTU1YjgwNjkifQ==");
        assert_eq!(json["content"]["payload"], uri);
        assert_eq!(json["content"]["context"]["originalRequestPayload"], uri);
        assert_eq!(json["content"]["context"]["originalRequestId"], "r1");
        assert_eq!(json["metadata"]["correlationId"], TRANSFER_ID);
        assert_eq!(json["metadata"]["event"]["type"], "prepare");
        assert_eq!(json["metadata"]["event"]["action"], "prepare");
        assert_eq!(
            json["metadata"]["event"]["createdAt"],
            "2024-01-01T00:00:00.000Z"
        );
        assert_eq!(
            json["metadata"]["event"]["state"],
            json!({"status": "success", "code": 0, "description": "action successful"})
        );
        assert_eq!(data_uri(CONTENT_TYPE, body), uri);
    }

    #[test]
    fn fulfil_actions_follow_the_transfer_state() {
        for (state, expected) in [
            (TransferState::Committed, "commit"),
            (TransferState::Received, "commit"),
            (TransferState::Reserved, "reserve"),
            (TransferState::Aborted, "reject"),
        ] {
            let out = fulfil(
                TRANSFER_ID,
                headers("payeefsp", Some("payerfsp")),
                b"{}",
                state,
                "r2",
                0,
            );
            assert_eq!(out.topic, Topic::Fulfil);
            assert_eq!(out.message.metadata.event.kind, "fulfil");
            assert_eq!(out.message.metadata.event.action, expected);
            assert_eq!(out.message.from, "payeefsp");
            assert_eq!(out.message.to, "payerfsp");
        }
        let out = abort(
            TRANSFER_ID,
            headers("payeefsp", Some("payerfsp")),
            b"{}",
            "r3",
            0,
        );
        assert_eq!(
            (out.topic, out.message.metadata.event.action.as_str()),
            (Topic::Fulfil, "abort")
        );
        assert!(out.message.content.context.is_some());
    }

    #[test]
    fn get_has_an_empty_payload_and_no_context() {
        let out = get(TRANSFER_ID, headers("payerfsp", None), 0);
        assert_eq!(out.topic.name(), "topic-transfer-get");
        assert_eq!(out.message.content.payload, json!({}));
        assert_eq!(out.message.content.context, None);
        assert_eq!(out.message.to, "");
        assert_eq!(out.message.metadata.event.action, "get");
        assert_eq!(
            out.message
                .content
                .uri_params
                .as_ref()
                .map(|p| p.id.as_str()),
            Some(TRANSFER_ID)
        );
    }
    const FX_CONTENT_TYPE: &str = "application/vnd.interoperability.fxTransfers+json;version=2.0";
    const COMMIT_REQUEST_ID: &str = "0f2a7c3e-3b1d-4c55-9d0e-8a1b2c3d4e5f";

    fn fx_headers(source: &str, destination: Option<&str>) -> BTreeMap<String, String> {
        let mut map = headers(source, destination);
        map.insert("content-type".to_string(), FX_CONTENT_TYPE.to_string());
        map
    }

    fn fx_transfer() -> FxTransfersPostRequest {
        serde_json::from_value(json!({
            "commitRequestId": COMMIT_REQUEST_ID, "determiningTransferId": TRANSFER_ID,
            "initiatingFsp": "payerfsp", "counterPartyFsp": "fxp",
            "sourceAmount": {"amount": "300", "currency": "BWP"},
            "targetAmount": {"amount": "48000", "currency": "TZS"},
            "condition": "f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA", "expiration": "2030-01-01T00:00:00.000Z"
        }))
        .unwrap()
    }

    #[test]
    fn fx_prepare_is_keyed_by_the_initiating_fsp_and_goes_to_the_fxp() {
        let body = br#"{"commitRequestId" : "0f2a7c3e-3b1d-4c55-9d0e-8a1b2c3d4e5f"}"#;
        let out = fx_prepare(
            fx_headers("payerfsp", Some("fxp")),
            body,
            &fx_transfer(),
            "r9",
            1_704_067_200_000,
        );
        assert_eq!(out.topic.name(), "topic-transfer-prepare");
        assert_eq!(
            out.key, "payerfsp",
            "the same partition as the DFSP's transfer prepares"
        );
        let json = serde_json::to_value(&out.message).unwrap();
        assert_eq!(json["id"], COMMIT_REQUEST_ID);
        assert_eq!(json["from"], "payerfsp");
        assert_eq!(json["to"], "fxp");
        assert_eq!(json["content"]["uriParams"]["id"], COMMIT_REQUEST_ID);
        let uri = data_uri(FX_CONTENT_TYPE, body);
        assert!(uri.starts_with(
            "data:application/vnd.interoperability.fxTransfers+json;version=2.0;base64,"
        ));
        assert_eq!(json["content"]["payload"], uri);
        assert_eq!(json["content"]["context"]["originalRequestPayload"], uri);
        assert_eq!(json["content"]["context"]["originalRequestId"], "r9");
        assert_eq!(json["metadata"]["correlationId"], COMMIT_REQUEST_ID);
        assert_eq!(json["metadata"]["event"]["type"], "prepare");
        assert_eq!(json["metadata"]["event"]["action"], "fx-prepare");
    }

    #[test]
    fn fx_fulfil_actions_follow_the_conversion_state() {
        for (state, expected) in [
            (TransferState::Committed, "fx-commit"),
            (TransferState::Received, "fx-commit"),
            (TransferState::Reserved, "fx-reserve"),
            (TransferState::Aborted, "fx-reject"),
        ] {
            let out = fx_fulfil(
                COMMIT_REQUEST_ID,
                fx_headers("fxp", Some("payerfsp")),
                b"{}",
                state,
                "r2",
                0,
            );
            assert_eq!(out.topic.name(), "topic-transfer-fulfil");
            assert_eq!(out.key, COMMIT_REQUEST_ID);
            assert_eq!(out.message.metadata.event.kind, "fulfil");
            assert_eq!(out.message.metadata.event.action, expected, "{state:?}");
            assert_eq!(
                (out.message.from.as_str(), out.message.to.as_str()),
                ("fxp", "payerfsp")
            );
            assert!(out.message.content.context.is_some());
        }
        let out = fx_abort(
            COMMIT_REQUEST_ID,
            fx_headers("fxp", Some("payerfsp")),
            b"{}",
            "r3",
            0,
        );
        assert_eq!(
            (
                out.topic,
                out.key.as_str(),
                out.message.metadata.event.kind.as_str(),
                out.message.metadata.event.action.as_str()
            ),
            (Topic::Fulfil, COMMIT_REQUEST_ID, "fulfil", "fx-abort")
        );
        assert_eq!(
            (out.message.from.as_str(), out.message.to.as_str()),
            ("fxp", "payerfsp")
        );
    }

    #[test]
    fn fx_get_has_an_empty_payload() {
        let out = fx_get(COMMIT_REQUEST_ID, fx_headers("payerfsp", Some("Hub")), 0);
        assert_eq!(out.topic.name(), "topic-transfer-get");
        assert_eq!(out.key, COMMIT_REQUEST_ID);
        assert_eq!(out.message.content.payload, json!({}));
        assert_eq!(out.message.content.context, None);
        assert_eq!(
            (
                out.message.metadata.event.kind.as_str(),
                out.message.metadata.event.action.as_str()
            ),
            ("get", "fx-get")
        );
        assert_eq!(
            (out.message.from.as_str(), out.message.to.as_str()),
            ("payerfsp", "Hub")
        );
    }
}
