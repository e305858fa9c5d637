//! What the notification handler sends for a message on `topic-notification-event`: the
//! action matrix of the services spec §5.3 (transfers) and of the FSPIOP 2.0 fxTransfers, as
//! pure functions.
//!
//! [`Notification::from_message`] reads the message the way Mojaloop's adapter does:
//!
//! - the transfer id is `content.uriParams.id`, else the payload's `transferId` (or
//!   `commitRequestId`), else `id`;
//! - the success flag is `metadata.event.state.status == "success"`, the action is lower-cased;
//! - the callback body is the original request's exact bytes when `content.context.
//!   originalRequestPayload` carries them, else `content.payload` (a data URI's bytes, or the
//!   JSON); when the message comes from the hub and the payload is an `errorInformation`, the
//!   body is that error re-rendered with its description kept and any `cause` extension
//!   removed;
//! - the ledger's object (`content.payload` as JSON) is what hub-built bodies are made of
//!   (`reserve`, `prepare-duplicate`, `reserved-aborted`).
//!
//! [`plan`] turns it into callbacks (`to` and `from` are the message's fields; "hub" means the
//! hub's name as `FSPIOP-Source`, the inbound signature dropped and the default versions in
//! `Content-Type`/`Accept`):
//!
//! | action (status) | callbacks |
//! | --- | --- |
//! | `prepare` (success) | `POST` TRANSFER_POST of `to`, original headers and bytes |
//! | `prepare` (error) | `PUT` TRANSFER_ERROR of `to`, source `from`, hub headers |
//! | `prepare-duplicate` | success: `PUT` TRANSFER_PUT of `to`, hub headers, the ledger's object; error: `PUT` TRANSFER_ERROR of `to` |
//! | `commit` (success) | `PUT` TRANSFER_PUT of `to`, original headers and bytes; with confirmation and `from` ≠ `to`: `PUT` TRANSFER_PUT of `from` from the hub |
//! | `reserve` (success) | `PUT` TRANSFER_PUT of `to` from the hub with the ledger's object; `PATCH` TRANSFER_PUT of `from` from the hub with the object without `fulfilment` |
//! | `commit` / `reserve` (error) | `PUT` TRANSFER_ERROR of `to`, source `from`, hub headers |
//! | `reject` | `PUT` TRANSFER_PUT of `to`, original headers; with confirmation: `PUT` TRANSFER_PUT of `from` from the hub |
//! | `abort` | `PUT` TRANSFER_ERROR of `to`, original headers; with confirmation: `PUT` TRANSFER_ERROR of `from` from the hub |
//! | `abort-validation` | `PUT` TRANSFER_ERROR of `to` from the hub; with confirmation and `from` ≠ hub: `PUT` TRANSFER_ERROR of `from` from the hub |
//! | `reserved-aborted` | `PATCH` TRANSFER_PUT of `to` from the hub with the ledger's object (only when the hub writes version 1.1 or later) |
//! | `fulfil-duplicate` | success: `PUT` TRANSFER_PUT of `to`; error: `PUT` TRANSFER_ERROR of `to`; source `from`, hub headers |
//! | `abort-duplicate` | success: `PUT` TRANSFER_PUT of `to`, original headers; error: `PUT` TRANSFER_ERROR of `to`, hub headers |
//! | `timeout-received` | `PUT` TRANSFER_ERROR of `to` from the hub |
//! | `timeout-reserved`, `forwarded` | `PUT` TRANSFER_ERROR of `context.payer` (else `to`) and of `context.payee` (else `from`), from the hub |
//! | `get` with a payload | success: `PUT` TRANSFER_PUT of `to`; error: `PUT` TRANSFER_ERROR of `to`; source `from`, hub headers |
//! | `get` with an empty payload | `GET` TRANSFER_PUT of `to`, original headers (proxy forwarding) |
//! | `limit-adjustment`, `position`, `settlement-transfer-position-change` | nothing ([`Plan::Skip`]: Mojaloop's email notifier handles them) |
//! | anything else | nothing ([`Plan::Unknown`]) |
//!
//! The fx actions (`fx-…`): the ledger sends one message per recipient of everything it
//! originates, so each makes exactly one callback, to `to`. "Hub" is as above with source the
//! hub's name; the ledger's object is `content.payload` as JSON (`{conversionState,
//! completedTimestamp, fulfilment?}`); the error body is the payload's `errorInformation`
//! re-rendered as for the hub's transfer errors (whoever the message is from), else the relayed
//! body:
//!
//! | action (status) | callback |
//! | --- | --- |
//! | `fx-prepare` (success) | `POST` FX_TRANSFER_POST of `to`, source `from`, original headers and bytes (the initiating DFSP's request to the FXP) |
//! | `fx-reserve`, `fx-commit`, `fx-reject` (success) | `PUT` FX_TRANSFER_PUT of `to`, source `from`, original headers and bytes (the FXP's `PUT` to the initiating DFSP) |
//! | `fx-abort` (success) | `PUT` FX_TRANSFER_ERROR of `to`, source `from`, original headers and bytes |
//! | `fx-prepare-duplicate`, `fx-fulfil-duplicate`, `fx-abort-duplicate`, `fx-get` (success) | `PUT` FX_TRANSFER_PUT of `to` from the hub with the ledger's object |
//! | `fx-notify` (any status) | `PATCH` FX_TRANSFER_PUT of `to` from the hub with the ledger's object without `fulfilment` |
//! | any other `fx-…` action with an error status; `fx-abort-validation`, `fx-timeout-received`, `fx-timeout-reserved` (any status) | `PUT` FX_TRANSFER_ERROR of `to` from the hub with the error body |
//! | `fx-get` with an empty payload | nothing ([`Plan::Skip`]: no proxy forwarding of fx gets) |
//! | an unknown `fx-…` action | nothing ([`Plan::Unknown`]) |
//!
//! A hub fxTransfers callback has `Content-Type` `application/vnd.interoperability.fxTransfers
//! +json;version=2.0` (the message's own fxTransfers 2.x type when it has one; never
//! `transfers`) and no `Accept` ([`callback_headers`]); the notification handler sends fx
//! callbacks through a `Forwarder` whose versions are FSPIOP 2.x only, so they never fall back
//! to the hub's 1.x default. Hub callbacks with a body are signed when `[jws] sign` is on,
//! transfers and fx alike.
//!
//! Every callback carries `FSPIOP-HTTP-Method` (its method) and `FSPIOP-URI` (`/transfers`,
//! `/transfers/{ID}`, `/transfers/{ID}/error`, `/fxTransfers`, `/fxTransfers/{ID}` or
//! `/fxTransfers/{ID}/error`); the rest of Mojaloop's outbound rules are
//! `fspiop_edge::Forwarder`'s. Endpoint templates are rendered with `{{transferId}}` and
//! `{{commitRequestId}}` (Mojaloop's fx placeholder) both set to the id.

use std::collections::BTreeMap;

use fspiop::envelope::{action, decode_payload, Message, PayloadBody};
use fspiop::error::{ExtensionList, EXTENSION_VALUE_LEN_MAX};
use fspiop::{headers, ErrorInformation, ErrorInformationObject};
use serde_json::Value;

/// A participant's callback endpoint type used for transfers and fxTransfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `FSPIOP_CALLBACK_URL_TRANSFER_POST`: `POST /transfers`.
    TransferPost,
    /// `FSPIOP_CALLBACK_URL_TRANSFER_PUT`: `PUT`/`PATCH`/`GET /transfers/{ID}`.
    TransferPut,
    /// `FSPIOP_CALLBACK_URL_TRANSFER_ERROR`: `PUT /transfers/{ID}/error`.
    TransferError,
    /// `FSPIOP_CALLBACK_URL_FX_TRANSFER_POST`: `POST /fxTransfers`.
    FxTransferPost,
    /// `FSPIOP_CALLBACK_URL_FX_TRANSFER_PUT`: `PUT`/`PATCH /fxTransfers/{ID}`.
    FxTransferPut,
    /// `FSPIOP_CALLBACK_URL_FX_TRANSFER_ERROR`: `PUT /fxTransfers/{ID}/error`.
    FxTransferError,
    /// `FSPIOP_CALLBACK_URL_BULK_TRANSFER_POST`: `POST /bulkTransfers`.
    BulkTransferPost,
    /// `FSPIOP_CALLBACK_URL_BULK_TRANSFER_PUT`: `PUT /bulkTransfers/{ID}`.
    BulkTransferPut,
    /// `FSPIOP_CALLBACK_URL_BULK_TRANSFER_ERROR`: `PUT /bulkTransfers/{ID}/error`.
    BulkTransferError,
}

/// The FSPIOP resource of the fxTransfers callbacks.
pub const FX_RESOURCE: &str = "fxTransfers";

impl Endpoint {
    /// The `endpointType` name in the central ledger.
    pub fn type_name(self) -> &'static str {
        match self {
            Endpoint::TransferPost => "FSPIOP_CALLBACK_URL_TRANSFER_POST",
            Endpoint::TransferPut => "FSPIOP_CALLBACK_URL_TRANSFER_PUT",
            Endpoint::TransferError => "FSPIOP_CALLBACK_URL_TRANSFER_ERROR",
            Endpoint::FxTransferPost => "FSPIOP_CALLBACK_URL_FX_TRANSFER_POST",
            Endpoint::FxTransferPut => "FSPIOP_CALLBACK_URL_FX_TRANSFER_PUT",
            Endpoint::FxTransferError => "FSPIOP_CALLBACK_URL_FX_TRANSFER_ERROR",
            Endpoint::BulkTransferPost => "FSPIOP_CALLBACK_URL_BULK_TRANSFER_POST",
            Endpoint::BulkTransferPut => "FSPIOP_CALLBACK_URL_BULK_TRANSFER_PUT",
            Endpoint::BulkTransferError => "FSPIOP_CALLBACK_URL_BULK_TRANSFER_ERROR",
        }
    }

    /// The FSPIOP path called, for `FSPIOP-URI`.
    pub fn uri_path(self, transfer_id: &str) -> String {
        match self {
            Endpoint::TransferPost => "/transfers".to_string(),
            Endpoint::TransferPut => format!("/transfers/{transfer_id}"),
            Endpoint::TransferError => format!("/transfers/{transfer_id}/error"),
            Endpoint::FxTransferPost => "/fxTransfers".to_string(),
            Endpoint::FxTransferPut => format!("/fxTransfers/{transfer_id}"),
            Endpoint::FxTransferError => format!("/fxTransfers/{transfer_id}/error"),
            Endpoint::BulkTransferPost => "/bulkTransfers".to_string(),
            Endpoint::BulkTransferPut => format!("/bulkTransfers/{transfer_id}"),
            Endpoint::BulkTransferError => format!("/bulkTransfers/{transfer_id}/error"),
        }
    }

    /// An fxTransfers endpoint (FSPIOP 2.0 only).
    pub fn is_fx(self) -> bool {
        matches!(
            self,
            Endpoint::FxTransferPost | Endpoint::FxTransferPut | Endpoint::FxTransferError
        )
    }
}

/// One callback to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// `POST`, `PUT`, `PATCH` or `GET`.
    pub method: &'static str,
    pub endpoint: Endpoint,
    /// The participant called (`FSPIOP-Destination`).
    pub destination: String,
    /// `FSPIOP-Source`.
    pub source: String,
    /// Mojaloop's "from switch" headers: the inbound `FSPIOP-Signature` is dropped.
    pub hub_headers: bool,
    pub body: Option<Vec<u8>>,
}

/// A notification message read for the handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The transfer id.
    pub id: String,
    pub from: String,
    pub to: String,
    /// Lower-cased.
    pub action: String,
    pub success: bool,
    /// `content.headers`, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// The body forwarded by callbacks that relay what a participant sent.
    pub callback_body: Vec<u8>,
    /// `content.payload` as an `errorInformation` re-rendered as the hub sends it (whoever
    /// the message is from), when it is one: the body of the hub's fx error callbacks.
    pub hub_error_body: Option<Vec<u8>>,
    /// `content.payload` as JSON, when it is JSON.
    pub ledger_object: Option<Value>,
    /// `content.payload` is an empty object (a `get` to forward).
    pub payload_empty: bool,
    /// `content.context.payer` and `.payee` (timeouts).
    pub context_payer: Option<String>,
    pub context_payee: Option<String>,
}

/// Why a message cannot be handled at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidNotification {
    #[error("content.payload is missing")]
    NoPayload,
    #[error("no transfer id in uriParams, payload or id")]
    NoId,
}

fn context_text(context: Option<&Value>, name: &str) -> Option<String> {
    context?
        .get(name)?
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The bytes of a payload-like value: a data URI's exact bytes, another string as is, JSON
/// serialised.
fn payload_bytes(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => match decode_payload(value) {
            Ok(PayloadBody::Raw { bytes, .. }) => bytes,
            _ => text.as_bytes().to_vec(),
        },
        other => serde_json::to_vec(other).unwrap_or_default(),
    }
}

/// An `errorInformation` from the hub as Mojaloop's error library re-renders it: code and
/// description kept, `cause` extensions removed, extension values cut to 128 characters.
fn normalised_error(object: &Value) -> Option<Vec<u8>> {
    let information: ErrorInformation =
        serde_json::from_value(object.get("errorInformation")?.clone()).ok()?;
    let extension: Vec<_> = information
        .extension_list
        .map(|list| list.extension)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| e.key != "cause")
        .map(|mut e| {
            e.value = fspiop::error::truncate_chars(&e.value, EXTENSION_VALUE_LEN_MAX);
            e
        })
        .collect();
    let body = ErrorInformationObject {
        error_information: ErrorInformation {
            error_code: information.error_code,
            error_description: information.error_description,
            extension_list: (!extension.is_empty()).then_some(ExtensionList { extension }),
        },
    };
    serde_json::to_vec(&body).ok()
}

impl Notification {
    /// Reads `message`; `hub_name` decides whether it comes from the hub.
    pub fn from_message(
        message: &Message,
        hub_name: &str,
    ) -> Result<Notification, InvalidNotification> {
        let content = &message.content;
        if content.payload.is_null() {
            return Err(InvalidNotification::NoPayload);
        }
        let ledger_object = decode_payload(&content.payload)
            .ok()
            .and_then(|body| body.to_json().ok());
        let context = content.context.as_ref();
        let original = context
            .and_then(|c| c.get("originalRequestPayload"))
            .filter(|v| !v.is_null());
        let from_hub = message.from == hub_name;
        let hub_error_body = ledger_object.as_ref().and_then(normalised_error);
        let hub_error = if from_hub {
            hub_error_body.clone()
        } else {
            None
        };
        let callback_body = match (hub_error, original) {
            (Some(error), _) => error,
            (None, Some(original)) => payload_bytes(original),
            (None, None) => payload_bytes(&content.payload),
        };
        let id = content
            .uri_params
            .as_ref()
            .map(|p| p.id.clone())
            .filter(|id| !id.is_empty())
            .or_else(|| {
                let object = ledger_object.as_ref()?;
                object
                    .get("transferId")
                    .or_else(|| object.get("commitRequestId"))?
                    .as_str()
                    .map(str::to_string)
            })
            .or_else(|| Some(message.id.clone()).filter(|id| !id.is_empty()))
            .ok_or(InvalidNotification::NoId)?;
        Ok(Notification {
            id,
            from: message.from.clone(),
            to: message.to.clone(),
            action: message.metadata.event.action.to_ascii_lowercase(),
            success: message
                .metadata
                .event
                .state
                .status
                .eq_ignore_ascii_case("success"),
            headers: content
                .headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
                .collect(),
            callback_body,
            hub_error_body,
            payload_empty: content
                .payload
                .as_object()
                .is_some_and(serde_json::Map::is_empty),
            ledger_object,
            context_payer: context_text(context, "payer"),
            context_payee: context_text(context, "payee"),
        })
    }
}

/// The settings the matrix depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    pub hub_name: String,
    /// Mojaloop's `SEND_TRANSFER_CONFIRMATION_TO_PAYEE`.
    pub send_transfer_confirmation_to_payee: bool,
    /// The hub writes version 1.1 or later, which has `PATCH /transfers/{ID}`.
    pub patch_supported: bool,
}

/// What to do with a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Make these callbacks, in order.
    Send(Vec<Callback>),
    /// Nothing to send, on purpose (the reason is logged).
    Skip(&'static str),
    /// An action this handler does not know.
    Unknown,
}

struct Builder<'a> {
    n: &'a Notification,
    rules: &'a Rules,
    out: Vec<Callback>,
}

impl Builder<'_> {
    fn push(
        &mut self,
        method: &'static str,
        endpoint: Endpoint,
        destination: &str,
        source: &str,
        hub_headers: bool,
        body: Option<Vec<u8>>,
    ) {
        self.out.push(Callback {
            method,
            endpoint,
            destination: destination.to_string(),
            source: source.to_string(),
            hub_headers,
            body,
        });
    }

    fn relayed(&self) -> Option<Vec<u8>> {
        Some(self.n.callback_body.clone())
    }

    fn hub(&self) -> &str {
        &self.rules.hub_name
    }
}

/// The ledger's object as a body, optionally without `fulfilment`.
fn object_body(object: &Value, without_fulfilment: bool) -> Vec<u8> {
    let mut object = object.clone();
    if without_fulfilment {
        if let Some(map) = object.as_object_mut() {
            map.remove("fulfilment");
        }
    }
    serde_json::to_vec(&object).unwrap_or_default()
}

/// The callbacks for `n` (see the module documentation for the matrix).
pub fn plan(n: &Notification, rules: &Rules) -> Plan {
    use Endpoint::{TransferError, TransferPost, TransferPut};
    let mut b = Builder {
        n,
        rules,
        out: Vec::new(),
    };
    let (from, to) = (n.from.as_str(), n.to.as_str());
    let confirm = rules.send_transfer_confirmation_to_payee && from != to;
    let hub = b.hub().to_string();
    match n.action.as_str() {
        action::PREPARE if n.success => b.push("POST", TransferPost, to, from, false, b.relayed()),
        action::PREPARE => b.push("PUT", TransferError, to, from, true, b.relayed()),
        action::PREPARE_DUPLICATE if n.success => match &n.ledger_object {
            Some(object) => b.push(
                "PUT",
                TransferPut,
                to,
                from,
                true,
                Some(object_body(object, false)),
            ),
            None => return Plan::Skip("prepare-duplicate without a JSON payload"),
        },
        action::PREPARE_DUPLICATE => b.push("PUT", TransferError, to, from, true, b.relayed()),
        action::COMMIT if n.success => {
            b.push("PUT", TransferPut, to, from, false, b.relayed());
            if confirm {
                b.push("PUT", TransferPut, from, &hub, true, b.relayed());
            }
        }
        action::RESERVE if n.success => {
            let Some(object) = &n.ledger_object else {
                return Plan::Skip("reserve without a JSON payload");
            };
            b.push(
                "PUT",
                TransferPut,
                to,
                &hub,
                true,
                Some(object_body(object, false)),
            );
            b.push(
                "PATCH",
                TransferPut,
                from,
                &hub,
                true,
                Some(object_body(object, true)),
            );
        }
        action::COMMIT | action::RESERVE => {
            b.push("PUT", TransferError, to, from, true, b.relayed())
        }
        action::REJECT => {
            b.push("PUT", TransferPut, to, from, false, b.relayed());
            if confirm {
                b.push("PUT", TransferPut, from, &hub, true, b.relayed());
            }
        }
        action::ABORT => {
            b.push("PUT", TransferError, to, from, false, b.relayed());
            if confirm {
                b.push("PUT", TransferError, from, &hub, true, b.relayed());
            }
        }
        action::ABORT_VALIDATION => {
            b.push("PUT", TransferError, to, &hub, true, b.relayed());
            if confirm && from != hub {
                b.push("PUT", TransferError, from, &hub, true, b.relayed());
            }
        }
        action::RESERVED_ABORTED => {
            if !rules.patch_supported {
                return Plan::Skip("reserved-aborted: the hub writes a version without PATCH");
            }
            let Some(object) = &n.ledger_object else {
                return Plan::Skip("reserved-aborted without a JSON payload");
            };
            b.push(
                "PATCH",
                TransferPut,
                to,
                &hub,
                true,
                Some(object_body(object, false)),
            );
        }
        action::FULFIL_DUPLICATE => {
            let endpoint = if n.success {
                TransferPut
            } else {
                TransferError
            };
            b.push("PUT", endpoint, to, from, true, b.relayed());
        }
        action::ABORT_DUPLICATE if n.success => {
            b.push("PUT", TransferPut, to, from, false, b.relayed())
        }
        action::ABORT_DUPLICATE => b.push("PUT", TransferError, to, from, true, b.relayed()),
        action::TIMEOUT_RECEIVED => b.push("PUT", TransferError, to, &hub, true, b.relayed()),
        action::TIMEOUT_RESERVED | ACTION_FORWARDED => {
            let payer = n.context_payer.clone().unwrap_or_else(|| to.to_string());
            let payee = n.context_payee.clone().unwrap_or_else(|| from.to_string());
            b.push("PUT", TransferError, &payer, &hub, true, b.relayed());
            b.push("PUT", TransferError, &payee, &hub, true, b.relayed());
        }
        action::GET if n.payload_empty => b.push("GET", TransferPut, to, from, false, None),
        action::GET => {
            let endpoint = if n.success {
                TransferPut
            } else {
                TransferError
            };
            b.push("PUT", endpoint, to, from, true, b.relayed());
        }
        fx if fx.starts_with("fx-") => return plan_fx(&mut b, &hub),
        // Mojaloop's email notifier mails these to the DFSP's *_EMAIL endpoints; there is no
        // FSPIOP callback for them.
        "limit-adjustment" | "position" | "settlement-transfer-position-change" => {
            return Plan::Skip("an email-notifier event; no FSPIOP callback")
        }
        _ => return Plan::Unknown,
    }
    Plan::Send(b.out)
}

/// The callbacks of an `fx-…` action: exactly one, to the message's `to` (the ledger sends
/// one message per recipient of everything it originates).
fn plan_fx(b: &mut Builder<'_>, hub: &str) -> Plan {
    use Endpoint::{FxTransferError, FxTransferPost, FxTransferPut};
    let n = b.n;
    let (from, to) = (n.from.as_str(), n.to.as_str());
    let hub_error = || {
        Some(
            n.hub_error_body
                .clone()
                .unwrap_or_else(|| n.callback_body.clone()),
        )
    };
    match n.action.as_str() {
        action::FX_NOTIFY => {
            let Some(object) = &n.ledger_object else {
                return Plan::Skip("fx-notify without a JSON payload");
            };
            b.push(
                "PATCH",
                FxTransferPut,
                to,
                hub,
                true,
                Some(object_body(object, true)),
            );
        }
        action::FX_GET if n.payload_empty => {
            return Plan::Skip("fx-get without a payload: not proxied")
        }
        action::FX_ABORT_VALIDATION | action::FX_TIMEOUT_RECEIVED | action::FX_TIMEOUT_RESERVED => {
            b.push("PUT", FxTransferError, to, hub, true, hub_error())
        }
        _ if !n.success => b.push("PUT", FxTransferError, to, hub, true, hub_error()),
        action::FX_PREPARE => b.push("POST", FxTransferPost, to, from, false, b.relayed()),
        action::FX_RESERVE | action::FX_COMMIT | action::FX_REJECT => {
            b.push("PUT", FxTransferPut, to, from, false, b.relayed())
        }
        action::FX_ABORT => b.push("PUT", FxTransferError, to, from, false, b.relayed()),
        action::FX_PREPARE_DUPLICATE
        | action::FX_FULFIL_DUPLICATE
        | action::FX_ABORT_DUPLICATE
        | action::FX_GET => {
            let Some(object) = &n.ledger_object else {
                return Plan::Skip("an fx state answer without a JSON payload");
            };
            b.push(
                "PUT",
                FxTransferPut,
                to,
                hub,
                true,
                Some(object_body(object, false)),
            );
        }
        _ => return Plan::Unknown,
    }
    Plan::Send(std::mem::take(&mut b.out))
}

/// The `Content-Type` of a hub-originated fxTransfers callback: the message's own when it is
/// an fxTransfers 2.x media type, else `…fxTransfers+json;version=2.0` (never `transfers`,
/// whatever the message carried).
pub fn fx_content_type(message_content_type: Option<&str>) -> String {
    let version = message_content_type
        .and_then(|ct| headers::parse_content_type(ct, FX_RESOURCE))
        .filter(|v| v.major == FX_VERSION.major)
        .unwrap_or(FX_VERSION);
    headers::media_type(FX_RESOURCE, version)
}

/// The FSPIOP version of the fxTransfers resource.
pub const FX_VERSION: headers::Version = headers::Version::new(2, 0);

/// `forwarded`: a transfer handed to an inter-scheme proxy; notified like `timeout-reserved`.
pub const ACTION_FORWARDED: &str = "forwarded";

/// The headers of `callback` for transfer `id`: the message's headers with
/// `FSPIOP-HTTP-Method` and `FSPIOP-URI` set, and without the inbound signature for hub
/// headers. A hub fxTransfers callback also has its `Content-Type` set by
/// [`fx_content_type`] and no `Accept` (the hub's FX callbacks are `PUT` and `PATCH`).
/// `fspiop_edge::Forwarder` applies the remaining outbound rules.
pub fn callback_headers(
    message_headers: &BTreeMap<String, String>,
    callback: &Callback,
    id: &str,
) -> Vec<(String, String)> {
    let fx_hub = callback.hub_headers && callback.endpoint.is_fx();
    let mut out: Vec<(String, String)> = message_headers
        .iter()
        .filter(|(name, _)| {
            let replaced = matches!(
                name.as_str(),
                headers::FSPIOP_HTTP_METHOD | headers::FSPIOP_URI
            ) || (fx_hub
                && matches!(name.as_str(), headers::CONTENT_TYPE | headers::ACCEPT));
            let dropped = callback.hub_headers && name.as_str() == headers::FSPIOP_SIGNATURE;
            !replaced && !dropped
        })
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    if fx_hub {
        let content_type = message_headers
            .get(headers::CONTENT_TYPE)
            .map(String::as_str);
        out.push((
            headers::CONTENT_TYPE.to_string(),
            fx_content_type(content_type),
        ));
    }
    out.push((
        headers::FSPIOP_HTTP_METHOD.to_string(),
        callback.method.to_string(),
    ));
    out.push((
        headers::FSPIOP_URI.to_string(),
        callback.endpoint.uri_path(id),
    ));
    out
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::panic,
        clippy::indexing_slicing,
        reason = "test code"
    )]
    use super::*;
    use fspiop::envelope::{data_uri, EventState};
    use serde_json::json;

    const ID: &str = "b51ec534-ee48-4575-b6a9-ead2955b8069";
    const CT: &str = "application/vnd.interoperability.transfers+json;version=1.1";

    fn rules(confirm: bool) -> Rules {
        Rules {
            hub_name: "Hub".into(),
            send_transfer_confirmation_to_payee: confirm,
            patch_supported: true,
        }
    }

    fn message(
        from: &str,
        to: &str,
        action: &str,
        state: EventState,
        payload: Value,
        context: Option<Value>,
    ) -> Message {
        let mut headers = BTreeMap::new();
        headers.insert("content-type".to_string(), CT.to_string());
        headers.insert("FSPIOP-Signature".to_string(), "sig".to_string());
        let mut message = Message::from_request(
            ID,
            from,
            to,
            headers,
            None,
            Some(ID),
            "notification",
            action,
            0,
        );
        message.content.payload = payload;
        message.content.context = context;
        message.metadata.event.state = state;
        message
    }

    fn read(m: &Message) -> Notification {
        Notification::from_message(m, "Hub").unwrap()
    }

    fn sent(plan: Plan) -> Vec<(&'static str, Endpoint, String, String, bool, String)> {
        match plan {
            Plan::Send(callbacks) => callbacks
                .into_iter()
                .map(|c| {
                    let body = String::from_utf8(c.body.unwrap_or_default()).unwrap();
                    (
                        c.method,
                        c.endpoint,
                        c.destination,
                        c.source,
                        c.hub_headers,
                        body,
                    )
                })
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn original_bytes_are_relayed_exactly() {
        let bytes = br#"{"transferId" : "x",  "z":1}"#;
        let uri = Value::String(data_uri(CT, bytes));
        let m = message(
            "payer",
            "payee",
            "prepare",
            EventState::success(),
            uri.clone(),
            Some(json!({"originalRequestPayload": uri})),
        );
        let n = read(&m);
        assert_eq!(n.callback_body, bytes.to_vec());
        assert_eq!(
            n.headers.get("fspiop-signature").map(String::as_str),
            Some("sig")
        );
        let got = sent(plan(&n, &rules(false)));
        assert_eq!(
            got,
            vec![(
                "POST",
                Endpoint::TransferPost,
                "payee".into(),
                "payer".into(),
                false,
                String::from_utf8_lossy(bytes).into_owned()
            )]
        );

        // Without a context the payload's own bytes are used.
        let m = message(
            "payer",
            "payee",
            "prepare",
            EventState::success(),
            uri,
            None,
        );
        assert_eq!(read(&m).callback_body, bytes.to_vec());
    }

    #[test]
    fn hub_errors_are_normalised() {
        let payload = json!({"errorInformation": {"errorCode": "3100", "errorDescription": "Generic validation error - x",
            "extensionList": {"extension": [{"key": "cause", "value": "stack"}, {"key": "k", "value": "v"}]}}});
        let m = message(
            "Hub",
            "payer",
            "prepare",
            EventState::error(3100, "x"),
            payload.clone(),
            None,
        );
        let got = sent(plan(&read(&m), &rules(false)));
        assert_eq!(got.len(), 1);
        let (method, endpoint, destination, source, hub_headers, body) = &got[0];
        assert_eq!(
            (
                *method,
                *endpoint,
                destination.as_str(),
                source.as_str(),
                *hub_headers
            ),
            ("PUT", Endpoint::TransferError, "payer", "Hub", true)
        );
        assert_eq!(
            body,
            r#"{"errorInformation":{"errorCode":"3100","errorDescription":"Generic validation error - x","extensionList":{"extension":[{"key":"k","value":"v"}]}}}"#
        );

        // Only a cause: the list goes.
        let payload = json!({"errorInformation": {"errorCode": "3303", "errorDescription": "Transfer expired",
            "extensionList": {"extension": [{"key": "cause", "value": "stack"}]}}});
        let m = message(
            "Hub",
            "payer",
            "timeout-received",
            EventState::error(3303, "x"),
            payload,
            None,
        );
        assert_eq!(
            read(&m).callback_body,
            br#"{"errorInformation":{"errorCode":"3303","errorDescription":"Transfer expired"}}"#
                .to_vec()
        );

        // From a participant: relayed as sent.
        let bytes = br#"{"errorInformation":{"errorCode":"5100","errorDescription":"no","extensionList":{"extension":[{"key":"cause","value":"c"}]}}}"#;
        let uri = Value::String(data_uri(CT, bytes));
        let m = message(
            "payee",
            "payer",
            "abort",
            EventState::error(5100, "no"),
            uri.clone(),
            Some(json!({"originalRequestPayload": uri})),
        );
        assert_eq!(read(&m).callback_body, bytes.to_vec());
    }

    #[test]
    fn commit_and_confirmation() {
        let m = message(
            "payee",
            "payer",
            "commit",
            EventState::success(),
            json!({"transferState": "COMMITTED"}),
            None,
        );
        let n = read(&m);
        assert_eq!(sent(plan(&n, &rules(false))).len(), 1);
        let got = sent(plan(&n, &rules(true)));
        assert_eq!(got[0].0, "PUT");
        assert_eq!(
            (got[0].2.as_str(), got[0].3.as_str(), got[0].4),
            ("payer", "payee", false)
        );
        assert_eq!(
            (got[1].1, got[1].2.as_str(), got[1].3.as_str(), got[1].4),
            (Endpoint::TransferPut, "payee", "Hub", true)
        );
        // On-us: no confirmation.
        let m = message(
            "payee",
            "payee",
            "commit",
            EventState::success(),
            json!({}),
            None,
        );
        assert_eq!(sent(plan(&read(&m), &rules(true))).len(), 1);
        // Error: to the error endpoint of `to`.
        let m = message(
            "Hub",
            "payee",
            "commit",
            EventState::error(3100, "x"),
            json!({"errorInformation": {"errorCode": "3100", "errorDescription": "d"}}),
            None,
        );
        let got = sent(plan(&read(&m), &rules(true)));
        assert_eq!(
            (got.len(), got[0].1, got[0].2.as_str(), got[0].3.as_str()),
            (1, Endpoint::TransferError, "payee", "Hub")
        );
    }

    #[test]
    fn reserve_puts_to_the_payer_and_patches_the_payee() {
        let object = json!({"completedTimestamp": "2024-01-01T00:00:00.000Z", "transferState": "COMMITTED", "fulfilment": "f"});
        let m = message(
            "payee",
            "payer",
            "reserve",
            EventState::success(),
            object,
            None,
        );
        let got = sent(plan(&read(&m), &rules(false)));
        assert_eq!(got.len(), 2);
        assert_eq!(
            (
                got[0].0,
                got[0].1,
                got[0].2.as_str(),
                got[0].3.as_str(),
                got[0].4
            ),
            ("PUT", Endpoint::TransferPut, "payer", "Hub", true)
        );
        // Key order is the ledger's (serde_json keeps it: josekit enables `preserve_order`).
        assert_eq!(
            got[0].5,
            r#"{"completedTimestamp":"2024-01-01T00:00:00.000Z","transferState":"COMMITTED","fulfilment":"f"}"#
        );
        assert_eq!(
            (got[1].0, got[1].1, got[1].2.as_str(), got[1].3.as_str()),
            ("PATCH", Endpoint::TransferPut, "payee", "Hub")
        );
        assert_eq!(
            got[1].5,
            r#"{"completedTimestamp":"2024-01-01T00:00:00.000Z","transferState":"COMMITTED"}"#
        );
    }

    #[test]
    fn aborts_timeouts_and_duplicates() {
        let error = json!({"errorInformation": {"errorCode": "3303", "errorDescription": "Transfer expired"}});
        let m = message(
            "payee",
            "payer",
            "abort",
            EventState::error(5100, "x"),
            error.clone(),
            None,
        );
        let got = sent(plan(&read(&m), &rules(true)));
        assert_eq!(
            (got[0].1, got[0].2.as_str(), got[0].3.as_str(), got[0].4),
            (Endpoint::TransferError, "payer", "payee", false)
        );
        assert_eq!(
            (got[1].1, got[1].2.as_str(), got[1].3.as_str(), got[1].4),
            (Endpoint::TransferError, "payee", "Hub", true)
        );

        let m = message(
            "Hub",
            "payer",
            "abort-validation",
            EventState::error(3100, "x"),
            error.clone(),
            None,
        );
        let got = sent(plan(&read(&m), &rules(true)));
        assert_eq!(
            (got.len(), got[0].2.as_str(), got[0].3.as_str()),
            (1, "payer", "Hub")
        );

        let m = message(
            "Hub",
            "payer",
            "timeout-reserved",
            EventState::error(3303, "x"),
            error.clone(),
            Some(json!({"payer": "p1", "payee": "p2"})),
        );
        let got = sent(plan(&read(&m), &rules(false)));
        assert_eq!(
            got.iter()
                .map(|c| (c.1, c.2.as_str(), c.3.as_str()))
                .collect::<Vec<_>>(),
            vec![
                (Endpoint::TransferError, "p1", "Hub"),
                (Endpoint::TransferError, "p2", "Hub")
            ]
        );
        let m = message(
            "payee",
            "payer",
            "timeout-reserved",
            EventState::error(3303, "x"),
            error.clone(),
            None,
        );
        let got = sent(plan(&read(&m), &rules(false)));
        assert_eq!(
            got.iter().map(|c| c.2.as_str()).collect::<Vec<_>>(),
            vec!["payer", "payee"]
        );

        let state =
            json!({"transferState": "COMMITTED", "completedTimestamp": "2024-01-01T00:00:00.000Z"});
        let m = message(
            "Hub",
            "payer",
            "prepare-duplicate",
            EventState::success(),
            state.clone(),
            None,
        );
        let got = sent(plan(&read(&m), &rules(false)));
        assert_eq!(
            (got[0].0, got[0].1, got[0].2.as_str(), got[0].4),
            ("PUT", Endpoint::TransferPut, "payer", true)
        );
        assert_eq!(serde_json::from_str::<Value>(&got[0].5).unwrap(), state);

        let m = message(
            "Hub",
            "payee",
            "fulfil-duplicate",
            EventState::error(3106, "x"),
            error.clone(),
            None,
        );
        assert_eq!(
            sent(plan(&read(&m), &rules(false)))[0].1,
            Endpoint::TransferError
        );
        let m = message(
            "Hub",
            "payee",
            "abort-duplicate",
            EventState::success(),
            state,
            None,
        );
        assert_eq!(
            sent(plan(&read(&m), &rules(false)))[0].1,
            Endpoint::TransferPut
        );
    }

    #[test]
    fn reserved_aborted_get_and_unknown() {
        let object =
            json!({"completedTimestamp": "2024-01-01T00:00:00.000Z", "transferState": "ABORTED"});
        let m = message(
            "Hub",
            "payee",
            "reserved-aborted",
            EventState::success(),
            object,
            None,
        );
        let got = sent(plan(&read(&m), &rules(false)));
        assert_eq!(
            (got[0].0, got[0].1, got[0].2.as_str()),
            ("PATCH", Endpoint::TransferPut, "payee")
        );
        let mut old = rules(false);
        old.patch_supported = false;
        assert!(matches!(plan(&read(&m), &old), Plan::Skip(_)));

        let m = message(
            "Hub",
            "payer",
            "GET",
            EventState::success(),
            json!({"transferState": "RESERVED"}),
            None,
        );
        let got = sent(plan(&read(&m), &rules(false)));
        assert_eq!(
            (got[0].0, got[0].1, got[0].2.as_str(), got[0].3.as_str()),
            ("PUT", Endpoint::TransferPut, "payer", "Hub")
        );
        let m = message(
            "payer",
            "payee",
            "get",
            EventState::success(),
            json!({}),
            None,
        );
        let got = sent(plan(&read(&m), &rules(false)));
        assert_eq!(
            (got[0].0, got[0].1, got[0].2.as_str(), got[0].5.as_str()),
            ("GET", Endpoint::TransferPut, "payee", "")
        );

        let m = message(
            "Hub",
            "payer",
            "limit-adjustment",
            EventState::success(),
            json!({"a": 1}),
            None,
        );
        assert!(matches!(plan(&read(&m), &rules(false)), Plan::Skip(_)));
        let m = message(
            "Hub",
            "payer",
            "no-such-action",
            EventState::success(),
            json!({"a": 1}),
            None,
        );
        assert_eq!(plan(&read(&m), &rules(false)), Plan::Unknown);
    }

    #[test]
    fn ids_and_invalid_messages() {
        let mut m = message(
            "Hub",
            "payer",
            "get",
            EventState::success(),
            json!({"transferId": "t-payload"}),
            None,
        );
        m.content.uri_params = None;
        assert_eq!(read(&m).id, "t-payload");
        m.content.payload = json!({});
        assert_eq!(read(&m).id, ID);
        m.id = String::new();
        assert_eq!(
            Notification::from_message(&m, "Hub"),
            Err(InvalidNotification::NoId)
        );
        m.content.payload = Value::Null;
        assert_eq!(
            Notification::from_message(&m, "Hub"),
            Err(InvalidNotification::NoPayload)
        );
    }

    #[test]
    fn headers_carry_method_and_uri() {
        let mut inbound = BTreeMap::new();
        inbound.insert("fspiop-uri".to_string(), "/transfers".to_string());
        inbound.insert("fspiop-signature".to_string(), "s".to_string());
        inbound.insert("fspiop-http-method".to_string(), "POST".to_string());
        let callback = Callback {
            method: "PUT",
            endpoint: Endpoint::TransferError,
            destination: "payer".into(),
            source: "Hub".into(),
            hub_headers: true,
            body: None,
        };
        let out = callback_headers(&inbound, &callback, ID);
        assert_eq!(
            out,
            vec![
                ("fspiop-http-method".to_string(), "PUT".to_string()),
                ("fspiop-uri".to_string(), format!("/transfers/{ID}/error"))
            ]
        );
        let relayed = Callback {
            hub_headers: false,
            ..callback
        };
        assert!(callback_headers(&inbound, &relayed, ID)
            .iter()
            .any(|(n, v)| n == "fspiop-signature" && v == "s"));
    }
    const FX_CT: &str = "application/vnd.interoperability.fxTransfers+json;version=2.0";

    /// A ledger fx message: fxTransfers 2.0 content type, as the ledger writes it.
    fn fx_message(
        from: &str,
        to: &str,
        action: &str,
        state: EventState,
        payload: Value,
        context: Option<Value>,
    ) -> Message {
        let mut m = message(from, to, action, state, payload, context);
        m.content
            .headers
            .insert("content-type".to_string(), FX_CT.to_string());
        m
    }

    #[test]
    fn fx_relays_go_to_to_with_the_original_bytes() {
        let bytes = br#"{"commitRequestId" : "x",  "z":1}"#;
        let uri = Value::String(data_uri(FX_CT, bytes));
        let body = String::from_utf8_lossy(bytes).into_owned();
        for (action, method, endpoint) in [
            ("fx-prepare", "POST", Endpoint::FxTransferPost),
            ("fx-reserve", "PUT", Endpoint::FxTransferPut),
            ("fx-commit", "PUT", Endpoint::FxTransferPut),
            ("fx-reject", "PUT", Endpoint::FxTransferPut),
            ("fx-abort", "PUT", Endpoint::FxTransferError),
        ] {
            let m = fx_message(
                "payerfsp",
                "fxp",
                action,
                EventState::success(),
                uri.clone(),
                Some(json!({"originalRequestPayload": uri})),
            );
            // Confirmation to the sender is never sent for fx: one callback.
            assert_eq!(
                sent(plan(&read(&m), &rules(true))),
                vec![(
                    method,
                    endpoint,
                    "fxp".to_string(),
                    "payerfsp".to_string(),
                    false,
                    body.clone()
                )],
                "{action}"
            );
        }
    }

    #[test]
    fn fx_hub_answers_carry_the_ledger_object() {
        let object = json!({"conversionState": "RESERVED", "completedTimestamp": "2024-01-01T00:00:00.000Z", "fulfilment": "f"});
        for action in [
            "fx-prepare-duplicate",
            "fx-fulfil-duplicate",
            "fx-abort-duplicate",
            "fx-get",
        ] {
            let m = fx_message(
                "Hub",
                "payerfsp",
                action,
                EventState::success(),
                object.clone(),
                None,
            );
            assert_eq!(
                sent(plan(&read(&m), &rules(false))),
                vec![(
                    "PUT",
                    Endpoint::FxTransferPut,
                    "payerfsp".to_string(),
                    "Hub".to_string(),
                    true,
                    r#"{"conversionState":"RESERVED","completedTimestamp":"2024-01-01T00:00:00.000Z","fulfilment":"f"}"#.to_string()
                )],
                "{action}"
            );
        }
        // fx-get without a payload: not proxied.
        let m = fx_message(
            "payerfsp",
            "Hub",
            "fx-get",
            EventState::success(),
            json!({}),
            None,
        );
        assert!(matches!(plan(&read(&m), &rules(false)), Plan::Skip(_)));
    }

    #[test]
    fn fx_notify_patches_to_without_the_fulfilment() {
        let object = json!({"conversionState": "COMMITTED", "fulfilment": "f", "completedTimestamp": "2024-01-01T00:00:00.000Z"});
        let mut old = rules(false);
        old.patch_supported = false;
        for state in [EventState::success(), EventState::error(2001, "x")] {
            let m = fx_message("Hub", "fxp", "fx-notify", state, object.clone(), None);
            // Even when the hub's transfers default has no PATCH: fxTransfers are 2.0.
            assert_eq!(
                sent(plan(&read(&m), &old)),
                vec![(
                    "PATCH",
                    Endpoint::FxTransferPut,
                    "fxp".to_string(),
                    "Hub".to_string(),
                    true,
                    r#"{"conversionState":"COMMITTED","completedTimestamp":"2024-01-01T00:00:00.000Z"}"#
                        .to_string()
                )]
            );
        }
    }

    #[test]
    fn fx_errors_go_to_the_error_endpoint_of_to_from_the_hub() {
        let error = json!({"errorInformation": {"errorCode": "3100", "errorDescription": "Generic validation error - x",
            "extensionList": {"extension": [{"key": "cause", "value": "stack"}]}}});
        let expected = r#"{"errorInformation":{"errorCode":"3100","errorDescription":"Generic validation error - x"}}"#;
        for (from, action, state) in [
            ("Hub", "fx-prepare", EventState::error(3100, "x")),
            ("Hub", "fx-reserve", EventState::error(3100, "x")),
            ("Hub", "fx-commit", EventState::error(3100, "x")),
            ("Hub", "fx-reject", EventState::error(3100, "x")),
            ("Hub", "fx-abort", EventState::error(3100, "x")),
            ("Hub", "fx-get", EventState::error(3100, "x")),
            ("Hub", "fx-prepare-duplicate", EventState::error(3106, "x")),
            ("Hub", "fx-fulfil-duplicate", EventState::error(3106, "x")),
            ("Hub", "fx-abort-duplicate", EventState::error(3106, "x")),
            ("Hub", "fx-abort-validation", EventState::error(3100, "x")),
            ("Hub", "fx-abort-validation", EventState::success()),
            ("Hub", "fx-timeout-received", EventState::error(3303, "x")),
            ("Hub", "fx-timeout-reserved", EventState::error(3303, "x")),
            // Not from the hub by name: still the hub's error, re-rendered.
            ("fxp", "fx-timeout-reserved", EventState::error(3303, "x")),
        ] {
            let m = fx_message(from, "payerfsp", action, state, error.clone(), None);
            assert_eq!(
                sent(plan(&read(&m), &rules(true))),
                vec![(
                    "PUT",
                    Endpoint::FxTransferError,
                    "payerfsp".to_string(),
                    "Hub".to_string(),
                    true,
                    expected.to_string()
                )],
                "{from} {action}"
            );
        }
        let m = fx_message(
            "Hub",
            "payerfsp",
            "fx-no-such-action",
            EventState::success(),
            json!({"a": 1}),
            None,
        );
        assert_eq!(plan(&read(&m), &rules(false)), Plan::Unknown);
    }

    #[test]
    fn fx_ids_endpoints_and_hub_headers() {
        let mut m = fx_message(
            "Hub",
            "payerfsp",
            "fx-get",
            EventState::success(),
            json!({"commitRequestId": "c-payload", "conversionState": "COMMITTED"}),
            None,
        );
        m.content.uri_params = None;
        assert_eq!(read(&m).id, "c-payload");

        assert_eq!(
            [
                Endpoint::FxTransferPost,
                Endpoint::FxTransferPut,
                Endpoint::FxTransferError
            ]
            .map(|e| (e.type_name(), e.uri_path(ID), e.is_fx())),
            [
                (
                    "FSPIOP_CALLBACK_URL_FX_TRANSFER_POST",
                    "/fxTransfers".to_string(),
                    true
                ),
                (
                    "FSPIOP_CALLBACK_URL_FX_TRANSFER_PUT",
                    format!("/fxTransfers/{ID}"),
                    true
                ),
                (
                    "FSPIOP_CALLBACK_URL_FX_TRANSFER_ERROR",
                    format!("/fxTransfers/{ID}/error"),
                    true
                ),
            ]
        );
        assert!(!Endpoint::TransferPut.is_fx());

        // A hub fx callback: fxTransfers content type (even when the message says transfers),
        // no Accept, no inbound signature.
        let mut inbound = BTreeMap::new();
        inbound.insert("content-type".to_string(), CT.to_string());
        inbound.insert(
            "accept".to_string(),
            "application/vnd.interoperability.transfers+json;version=1".to_string(),
        );
        inbound.insert("fspiop-signature".to_string(), "s".to_string());
        inbound.insert("date".to_string(), "d".to_string());
        let callback = Callback {
            method: "PATCH",
            endpoint: Endpoint::FxTransferPut,
            destination: "fxp".into(),
            source: "Hub".into(),
            hub_headers: true,
            body: None,
        };
        assert_eq!(
            callback_headers(&inbound, &callback, ID),
            vec![
                ("date".to_string(), "d".to_string()),
                ("content-type".to_string(), FX_CT.to_string()),
                ("fspiop-http-method".to_string(), "PATCH".to_string()),
                ("fspiop-uri".to_string(), format!("/fxTransfers/{ID}")),
            ]
        );
        // A relayed fx callback keeps the sender's headers.
        let relayed = Callback {
            hub_headers: false,
            ..callback
        };
        let out = callback_headers(&inbound, &relayed, ID);
        assert!(out.contains(&("content-type".to_string(), CT.to_string())));
        assert!(out.contains(&("fspiop-signature".to_string(), "s".to_string())));

        assert_eq!(fx_content_type(None), FX_CT);
        assert_eq!(fx_content_type(Some(CT)), FX_CT);
        assert_eq!(
            fx_content_type(Some(
                "application/vnd.interoperability.fxTransfers+json;version=2.1"
            )),
            "application/vnd.interoperability.fxTransfers+json;version=2.1"
        );
        assert_eq!(
            fx_content_type(Some(
                "application/vnd.interoperability.fxTransfers+json;version=1.1"
            )),
            FX_CT
        );
    }
}
