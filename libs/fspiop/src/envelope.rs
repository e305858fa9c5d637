//! The message envelope Mojaloop's services exchange over Kafka (central-ledger spec §2.2):
//! `{id, from, to, type, content: {headers, payload, uriParams, context}, metadata: {
//! correlationId, event: {id, responseTo, type, action, createdAt, state}, trace,
//! "protocol.createdAt"}, pp}`.
//!
//! `content.payload` is either a data URI (`data:<content-type>;base64,<body bytes>`, what the
//! ML API Adapter produces, keeping the sender's exact bytes) or a JSON object (what the
//! ledger produces).

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::trace_context::TraceContext;

/// Event types on the wire.
pub mod event_type {
    pub const PREPARE: &str = "prepare";
    pub const FULFIL: &str = "fulfil";
    pub const GET: &str = "get";
    pub const POSITION: &str = "position";
    pub const NOTIFICATION: &str = "notification";
    pub const TRANSFER: &str = "transfer";
    pub const ADMIN: &str = "admin";
}

/// Event actions on the wire.
pub mod action {
    pub const PREPARE: &str = "prepare";
    pub const COMMIT: &str = "commit";
    pub const RESERVE: &str = "reserve";
    pub const REJECT: &str = "reject";
    pub const ABORT: &str = "abort";
    pub const ABORT_VALIDATION: &str = "abort-validation";
    pub const GET: &str = "get";
    pub const PREPARE_DUPLICATE: &str = "prepare-duplicate";
    pub const FULFIL_DUPLICATE: &str = "fulfil-duplicate";
    pub const ABORT_DUPLICATE: &str = "abort-duplicate";
    pub const TIMEOUT_RECEIVED: &str = "timeout-received";
    pub const TIMEOUT_RESERVED: &str = "timeout-reserved";
    pub const RESERVED_ABORTED: &str = "reserved-aborted";
    pub const RECORD_FUNDS_IN: &str = "recordFundsIn";
    pub const RECORD_FUNDS_OUT_PREPARE_RESERVE: &str = "recordFundsOutPrepareReserve";
    pub const RECORD_FUNDS_OUT_COMMIT: &str = "recordFundsOutCommit";
    pub const RECORD_FUNDS_OUT_ABORT: &str = "recordFundsOutAbort";

    // Currency conversion (`/fxTransfers`, FSPIOP 2.0), Mojaloop's names.
    /// `POST /fxTransfers` (prepare topic); success notification: POST to the FXP.
    pub const FX_PREPARE: &str = "fx-prepare";
    /// `PUT /fxTransfers/{ID}` with `conversionState: RESERVED` (fulfil topic); success
    /// notification: the FXP's PUT relayed to the initiating DFSP.
    pub const FX_RESERVE: &str = "fx-reserve";
    /// `PUT /fxTransfers/{ID}` with `conversionState: COMMITTED` or `RECEIVED`.
    pub const FX_COMMIT: &str = "fx-commit";
    /// `PUT /fxTransfers/{ID}` with `conversionState: ABORTED`.
    pub const FX_REJECT: &str = "fx-reject";
    /// `PUT /fxTransfers/{ID}/error`.
    pub const FX_ABORT: &str = "fx-abort";
    /// The hub refused an FXP's fulfilment (wrong sender, invalid fulfilment).
    pub const FX_ABORT_VALIDATION: &str = "fx-abort-validation";
    /// `GET /fxTransfers/{ID}` (get topic) and its answer.
    pub const FX_GET: &str = "fx-get";
    pub const FX_PREPARE_DUPLICATE: &str = "fx-prepare-duplicate";
    pub const FX_FULFIL_DUPLICATE: &str = "fx-fulfil-duplicate";
    pub const FX_ABORT_DUPLICATE: &str = "fx-abort-duplicate";
    /// The hub's `PATCH /fxTransfers/{ID}` to the FXP (the conversion committed or aborted).
    pub const FX_NOTIFY: &str = "fx-notify";
    pub const FX_TIMEOUT_RECEIVED: &str = "fx-timeout-received";
    pub const FX_TIMEOUT_RESERVED: &str = "fx-timeout-reserved";

    // Bulk transfers. On `topic-bulk-prepare`, `-fulfil`, `-get` (from the API): the request;
    // on `topic-notification-event` (from the ledger): one callback to `to`, whose body is
    // staged in the ledger's `bulkTransferMessage` (`content.context.bulkMessageId`).
    /// `POST /bulkTransfers`; notification: POST to the payee.
    pub const BULK_PREPARE: &str = "bulk-prepare";
    /// `PUT /bulkTransfers/{ID}` from the payee.
    pub const BULK_COMMIT: &str = "bulk-commit";
    /// `PUT /bulkTransfers/{ID}/error` from the payee.
    pub const BULK_ABORT: &str = "bulk-abort";
    /// `GET /bulkTransfers/{ID}`.
    pub const BULK_GET: &str = "bulk-get";
    /// Notification: `PUT /bulkTransfers/{ID}` (results or state) to `to`.
    pub const BULK_PUT: &str = "bulk-put";
    /// Notification: `PUT /bulkTransfers/{ID}/error` to `to`.
    pub const BULK_ERROR: &str = "bulk-error";
}

/// The participant name the switch uses as `from` on messages it originates.
pub const HUB_NAME: &str = "Hub";

/// One Kafka message value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub from: String,
    pub to: String,
    #[serde(rename = "type", default = "default_type")]
    pub kind: String,
    pub content: Content,
    pub metadata: Metadata,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pp: String,
}

/// The `service` Mojaloop's event SDK names in `metadata.trace` (`ml_prepare_prepare`).
fn trace_service(event_type: &str, action: &str) -> String {
    format!("ml_{event_type}_{action}")
}

fn default_type() -> String {
    "application/json".to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Content {
    /// The FSPIOP HTTP headers, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// A data URI string or a JSON value.
    pub payload: Value,
    #[serde(rename = "uriParams", default, skip_serializing_if = "Option::is_none")]
    pub uri_params: Option<UriParams>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UriParams {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(rename = "correlationId")]
    pub correlation_id: String,
    pub event: Event,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<Value>,
    #[serde(
        rename = "protocol.createdAt",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub protocol_created_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        rename = "responseTo",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub response_to: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub action: String,
    /// ISO-8601 UTC with milliseconds.
    #[serde(rename = "createdAt")]
    pub created_at: String,
    pub state: EventState,
}

/// `{status, code, description}`: `success`/0 or `error`/an FSPIOP code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventState {
    pub status: String,
    #[serde(deserialize_with = "code_from_number_or_string")]
    pub code: u32,
    pub description: String,
}

fn code_from_number_or_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::Number(n) => n
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .ok_or_else(|| serde::de::Error::custom("bad code")),
        Value::String(s) => s.parse().map_err(serde::de::Error::custom),
        _ => Err(serde::de::Error::custom("code must be a number")),
    }
}

impl EventState {
    pub fn success() -> EventState {
        EventState {
            status: "success".to_string(),
            code: 0,
            description: "action successful".to_string(),
        }
    }

    pub fn error(code: u32, description: impl Into<String>) -> EventState {
        EventState {
            status: "error".to_string(),
            code,
            description: description.into(),
        }
    }

    pub fn is_success(&self) -> bool {
        self.status == "success"
    }
}

/// A decoded payload.
#[derive(Debug, Clone, PartialEq)]
pub enum PayloadBody {
    /// Exact bytes from a data URI, with its media type.
    Raw { media_type: String, bytes: Vec<u8> },
    /// A JSON value.
    Json(Value),
}

/// Why a payload cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("payload data URI is not base64")]
    Base64,
    #[error("payload is not JSON: {0}")]
    Json(String),
}

/// `data:<media_type>;base64,<bytes>`.
pub fn data_uri(media_type: &str, bytes: &[u8]) -> String {
    format!("data:{media_type};base64,{}", STANDARD.encode(bytes))
}

/// Splits a data URI into its media type and bytes.
pub fn parse_data_uri(text: &str) -> Option<Result<(String, Vec<u8>), PayloadError>> {
    let rest = text.strip_prefix("data:")?;
    let (media_type, encoded) = rest.rsplit_once(";base64,")?;
    Some(
        STANDARD
            .decode(encoded)
            .map(|bytes| (media_type.to_string(), bytes))
            .map_err(|_| PayloadError::Base64),
    )
}

/// Decodes `content.payload` as Mojaloop's consumers do: a data URI is base64-decoded, any
/// other string is parsed as JSON, a JSON value is used as is.
pub fn decode_payload(payload: &Value) -> Result<PayloadBody, PayloadError> {
    match payload {
        Value::String(text) => match parse_data_uri(text) {
            Some(decoded) => {
                let (media_type, bytes) = decoded?;
                Ok(PayloadBody::Raw { media_type, bytes })
            }
            None => serde_json::from_str(text)
                .map(PayloadBody::Json)
                .map_err(|e| PayloadError::Json(e.to_string())),
        },
        other => Ok(PayloadBody::Json(other.clone())),
    }
}

impl PayloadBody {
    /// The payload as JSON (a raw body is parsed; `text/plain` becomes a JSON string).
    pub fn to_json(&self) -> Result<Value, PayloadError> {
        match self {
            PayloadBody::Json(value) => Ok(value.clone()),
            PayloadBody::Raw { media_type, bytes } if media_type.starts_with("text/plain") => {
                Ok(Value::String(String::from_utf8_lossy(bytes).into_owned()))
            }
            PayloadBody::Raw { bytes, .. } => {
                serde_json::from_slice(bytes).map_err(|e| PayloadError::Json(e.to_string()))
            }
        }
    }

    /// The payload as body bytes (raw bytes kept exactly; JSON serialised).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            PayloadBody::Raw { bytes, .. } => bytes.clone(),
            PayloadBody::Json(value) => serde_json::to_vec(value).unwrap_or_default(),
        }
    }
}

impl Message {
    /// A message for an FSPIOP request as the ML API Adapter produces it: the body kept as a
    /// data URI of its exact bytes, `uriParams.id` set when the route has an id.
    #[allow(clippy::too_many_arguments)]
    pub fn from_request(
        id: &str,
        from: &str,
        to: &str,
        headers: BTreeMap<String, String>,
        body: Option<&[u8]>,
        uri_id: Option<&str>,
        event_type: &str,
        event_action: &str,
        now_ms: i64,
    ) -> Message {
        let media_type = headers
            .get("content-type")
            .cloned()
            .unwrap_or_else(|| "application/json".to_string());
        let payload = match body {
            Some(bytes) => Value::String(data_uri(&media_type, bytes)),
            None => Value::Object(serde_json::Map::new()),
        };
        // The request's trace context, also where Mojaloop's event SDK keeps it.
        let trace = TraceContext::from_headers(
            headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str())),
        )
        .map(|context| context.to_metadata(&trace_service(event_type, event_action)));
        Message {
            id: id.to_string(),
            from: from.to_string(),
            to: to.to_string(),
            kind: default_type(),
            content: Content {
                headers,
                payload,
                uri_params: uri_id.map(|id| UriParams { id: id.to_string() }),
                context: None,
            },
            metadata: Metadata {
                correlation_id: id.to_string(),
                event: Event {
                    id: None,
                    response_to: None,
                    kind: event_type.to_string(),
                    action: event_action.to_string(),
                    created_at: crate::datetime::format_date_time(now_ms),
                    state: EventState::success(),
                },
                trace,
                protocol_created_at: Some(now_ms),
            },
            pp: String::new(),
        }
    }

    /// The trace context the message carries: `metadata.trace` (Mojaloop's event SDK shape),
    /// else the `traceparent` of `content.headers`; `None` when neither is readable.
    pub fn trace_context(&self) -> Option<TraceContext> {
        self.metadata
            .trace
            .as_ref()
            .and_then(TraceContext::from_metadata)
            .or_else(|| {
                TraceContext::from_headers(
                    self.content
                        .headers
                        .iter()
                        .map(|(name, value)| (name.as_str(), value.as_str())),
                )
            })
    }

    /// Makes `context` the message's trace context: `metadata.trace` and the `traceparent`
    /// and `tracestate` of `content.headers` (the headers its callbacks start from).
    pub fn set_trace_context(&mut self, context: &TraceContext) {
        let service = trace_service(&self.metadata.event.kind, &self.metadata.event.action);
        self.metadata.trace = Some(context.to_metadata(&service));
        context.write_header_map(&mut self.content.headers);
    }

    /// The same message re-emitted by a handler: new event id, `responseTo` the previous one,
    /// new type, action and state.
    pub fn forward(
        &self,
        new_event_id: &str,
        event_type: &str,
        event_action: &str,
        state: EventState,
        now_ms: i64,
    ) -> Message {
        let mut next = self.clone();
        next.metadata.event = Event {
            id: Some(new_event_id.to_string()),
            response_to: self.metadata.event.id.clone(),
            kind: event_type.to_string(),
            action: event_action.to_string(),
            created_at: crate::datetime::format_date_time(now_ms),
            state,
        };
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_uri_round_trip_keeps_exact_bytes() {
        let body = br#"{"b":1,  "a":"\u00e9"}"#;
        let uri = data_uri(
            "application/vnd.interoperability.transfers+json;version=1.1",
            body,
        );
        assert!(uri.starts_with(
            "data:application/vnd.interoperability.transfers+json;version=1.1;base64,"
        ));
        match decode_payload(&Value::String(uri)) {
            Ok(PayloadBody::Raw { media_type, bytes }) => {
                assert_eq!(
                    media_type,
                    "application/vnd.interoperability.transfers+json;version=1.1"
                );
                assert_eq!(bytes, body.to_vec());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn payload_forms() {
        assert_eq!(
            decode_payload(&Value::String("{\"a\":1}".into())).and_then(|p| p.to_json()),
            Ok(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            decode_payload(&serde_json::json!({"a": 1})),
            Ok(PayloadBody::Json(serde_json::json!({"a": 1})))
        );
        assert!(decode_payload(&Value::String("data:application/json;base64,@@".into())).is_err());
    }

    #[test]
    fn mojaloop_message_parses_and_round_trips() {
        let text = r#"{"id":"b51ec534-ee48-4575-b6a9-ead2955b8069","to":"payeefsp","from":"payerfsp","type":"application/json",
          "content":{"uriParams":{"id":"b51ec534-ee48-4575-b6a9-ead2955b8069"},"headers":{"content-type":"application/vnd.interoperability.transfers+json;version=1.1","fspiop-source":"payerfsp"},
          "payload":"data:application/vnd.interoperability.transfers+json;version=1.1;base64,eyJhIjoxfQ==",
          "context":{"originalRequestPayload":"x","originalRequestId":"r1"}},
          "metadata":{"correlationId":"b51ec534-ee48-4575-b6a9-ead2955b8069","event":{"type":"prepare","action":"prepare","createdAt":"2024-01-01T00:00:00.000Z","state":{"status":"error","code":"3100","description":"x"}},"trace":{"traceId":"t"},"protocol.createdAt":1704067200000},"pp":""}"#;
        let message: Message = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(message.metadata.event.state.code, 3100);
        assert_eq!(
            message.metadata.protocol_created_at,
            Some(1_704_067_200_000)
        );
        let again: Message =
            serde_json::from_str(&serde_json::to_string(&message).unwrap_or_default())
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, message);
        let forwarded = message.forward("e2", "position", "prepare", EventState::success(), 0);
        assert_eq!(forwarded.metadata.event.id.as_deref(), Some("e2"));
        assert_eq!(forwarded.metadata.event.kind, "position");
    }

    #[test]
    fn from_request_builds_the_ml_api_shape() {
        let mut headers = BTreeMap::new();
        headers.insert(
            "content-type".to_string(),
            "application/vnd.interoperability.transfers+json;version=1.1".to_string(),
        );
        let message = Message::from_request(
            "t1",
            "a",
            "b",
            headers,
            Some(b"{}"),
            None,
            event_type::PREPARE,
            action::PREPARE,
            0,
        );
        let json = serde_json::to_value(&message).unwrap_or_default();
        assert_eq!(json["metadata"]["event"]["state"]["status"], "success");
        assert_eq!(
            json["metadata"]["event"]["createdAt"],
            "1970-01-01T00:00:00.000Z"
        );
        assert_eq!(
            json["content"]["payload"],
            "data:application/vnd.interoperability.transfers+json;version=1.1;base64,e30="
        );
        assert!(json["content"].get("uriParams").is_none());
        assert!(json["metadata"].get("trace").is_none());
    }

    #[test]
    fn trace_context_travels_in_metadata_and_headers() {
        let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let mut headers = BTreeMap::new();
        headers.insert("traceparent".to_string(), parent.to_string());
        let mut message = Message::from_request(
            "t1",
            "a",
            "b",
            headers,
            None,
            None,
            event_type::PREPARE,
            action::PREPARE,
            0,
        );
        let trace = message.metadata.trace.clone().unwrap_or_default();
        assert_eq!(trace["traceId"], "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(trace["service"], "ml_prepare_prepare");
        let context = message.trace_context().unwrap_or_else(|| panic!("carried"));
        assert_eq!(context.parent.format(), parent);
        let next = crate::trace_context::TraceContext {
            parent: crate::trace_context::TraceParent {
                parent_id: [7; 8],
                ..context.parent
            },
            state: Some("k=v".to_string()),
        };
        message.set_trace_context(&next);
        assert_eq!(message.trace_context(), Some(next.clone()));
        assert_eq!(
            message.content.headers.get("traceparent"),
            Some(&next.parent.format())
        );
        // Without metadata.trace, the headers are read.
        message.metadata.trace = None;
        assert_eq!(message.trace_context(), Some(next));
    }
}
