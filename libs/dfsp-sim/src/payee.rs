//! The payee side: the DFSP's server answering lookups, quote requests and transfers as a
//! payee does (party, quote terms, fulfilment), and the payer's party callbacks.
//!
//! A payee answers in the version its request allows: a lookup whose `Accept` lists a 2.x
//! version is answered in 2.0 with `party.supportedCurrencies` (the DFSP's currency), any other in 1.1; a
//! quote or a transfer is answered in the version of its `Content-Type` (2.0 or 1.1).

use super::*;

/// `/{dfsp}/parties/{Type}/{ID}[/{SubId}][/error]`: GET as the payee, PUT as the payer.
pub(crate) async fn parties(
    State(inner): Shared,
    Path((dfsp, rest)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let started = Instant::now();
    let Some(sim) = inner.dfsps.get(&dfsp) else {
        return unknown_dfsp();
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let (is_error, party) = match segments.split_last() {
        Some((&"error", party)) => (true, party.to_vec()),
        _ => (false, segments.clone()),
    };
    if !(2..=3).contains(&party.len()) || party.iter().any(|s| s.is_empty()) {
        return fspiop_error(StatusCode::NOT_FOUND, "3002", "Unknown URI");
    }
    if method == Method::PUT {
        inner.wake(
            &format!("parties:{dfsp}:{}", party.join("/")),
            callback_from(is_error, &body),
        );
        return StatusCode::OK.into_response();
    }
    if method != Method::GET || is_error {
        return fspiop_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "3000",
            "Generic client error - method not allowed",
        );
    }
    let requester = match requester_of(&headers) {
        Ok(source) => source,
        Err(refused) => return refused,
    };
    let (id_type, id) = match party.as_slice() {
        [t, i, ..] => ((*t).to_string(), (*i).to_string()),
        _ => return fspiop_error(StatusCode::NOT_FOUND, "3002", "Unknown URI"),
    };
    let sub_id = party.get(2).map(|s| (*s).to_string());
    let path = format!("/parties/{}", party.join("/"));
    let found = id_type == "MSISDN" && sim.msisdns.contains(&id);
    let name = sim.spec.name.clone();
    let currency = sim.spec.currency.clone();
    let wire = Wire::of_accept(&headers, "parties");
    let inner = inner.clone();
    tokio::spawn(super::trace::within(
        super::trace::of_headers(&headers),
        async move {
            let als = inner.config.switch.als.clone();
            if found {
                let mut id_info =
                    json!({"partyIdType": id_type, "partyIdentifier": id, "fspId": name});
                if let Some(sub_id) = sub_id {
                    set(&mut id_info, "partySubIdOrType", json!(sub_id));
                }
                let mut body = json!({"party": {
                    "partyIdInfo": id_info,
                    "name": "Simulated Customer",
                    "personalInfo": {"complexName": {"firstName": "Simulated", "lastName": "Customer"}},
                }});
                if wire == Wire::V2 {
                    if let Some(party) = body.get_mut("party") {
                        set(party, "supportedCurrencies", json!([currency]));
                    }
                }
                inner
                    .answer(
                        Phase::AnswerParty,
                        started,
                        &als,
                        path,
                        &name,
                        &requester,
                        body,
                        wire,
                    )
                    .await;
            } else {
                let body = error_body("3204", "Party not found");
                inner
                    .answer(
                        Phase::AnswerParty,
                        started,
                        &als,
                        format!("{path}/error"),
                        &name,
                        &requester,
                        body,
                        wire,
                    )
                    .await;
            }
        },
    ));
    StatusCode::ACCEPTED.into_response()
}

/// `POST /{dfsp}/quotes`: the payee's quote, with ILP terms made with its secret.
pub(crate) async fn quotes_post(
    State(inner): Shared,
    Path(dfsp): Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let started = Instant::now();
    let Some(sim) = inner.dfsps.get(&dfsp) else {
        return unknown_dfsp();
    };
    let requester = match requester_of(&headers) {
        Ok(source) => source,
        Err(refused) => return refused,
    };
    let request = match json_of(&body) {
        Ok(value) => value,
        Err(refused) => return refused,
    };
    let Some(quote_id) = at(&request, "/quoteId").as_str().map(str::to_string) else {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3102",
            "Missing mandatory element - quoteId",
        );
    };
    let name = sim.spec.name.clone();
    let ilp = sim.ilp_of(asked_ilp_version(&request)).clone();
    let wire = Wire::of_content_type(&headers, "quotes");
    let inner = inner.clone();
    tokio::spawn(super::trace::within(
        super::trace::of_headers(&headers),
        async move {
            let base = inner.config.switch.quotes.clone();
            let expiration = inner.quote_expiration();
            let (path, body) = match quote_terms(&ilp, &request, &expiration) {
                Ok(response) => (format!("/quotes/{quote_id}"), response),
                Err(error) => (
                    format!("/quotes/{quote_id}/error"),
                    error_body("5101", &format!("Payee rejected quote - {error}")),
                ),
            };
            inner
                .answer(
                    Phase::AnswerQuote,
                    started,
                    &base,
                    path,
                    &name,
                    &requester,
                    body,
                    wire,
                )
                .await;
        },
    ));
    StatusCode::ACCEPTED.into_response()
}

/// `POST /{dfsp}/transfers`: the payee fulfils with the fulfilment its secret gives the packet.
pub(crate) async fn transfers_post(
    State(inner): Shared,
    Path(dfsp): Path<String>,
    headers: HeaderMap,
    body: bytes::Bytes,
) -> Response {
    let started = Instant::now();
    let Some(sim) = inner.dfsps.get(&dfsp) else {
        return unknown_dfsp();
    };
    let requester = match requester_of(&headers) {
        Ok(source) => source,
        Err(refused) => return refused,
    };
    let prepare = match json_of(&body) {
        Ok(value) => value,
        Err(refused) => return refused,
    };
    let Some(transfer_id) = at(&prepare, "/transferId").as_str().map(str::to_string) else {
        return fspiop_error(
            StatusCode::BAD_REQUEST,
            "3102",
            "Missing mandatory element - transferId",
        );
    };
    let name = sim.spec.name.clone();
    let engines = (sim.ilp.clone(), sim.ilp_v1.clone());
    let wire = Wire::of_content_type(&headers, "transfers");
    let inner = inner.clone();
    tokio::spawn(super::trace::within(
        super::trace::of_headers(&headers),
        async move {
            let base = inner.config.switch.transfers.clone();
            let (path, body) = match fulfil(&engines, &prepare) {
                Ok(fulfilment) => (
                    format!("/transfers/{transfer_id}"),
                    json!({"fulfilment": fulfilment, "completedTimestamp": fspiop::datetime::format_date_time(now_ms()), "transferState": "COMMITTED"}),
                ),
                Err(description) => (
                    format!("/transfers/{transfer_id}/error"),
                    error_body("5105", &description),
                ),
            };
            inner
                .answer(
                    Phase::AnswerTransfer,
                    started,
                    &base,
                    path,
                    &name,
                    &requester,
                    body,
                    wire,
                )
                .await;
        },
    ));
    StatusCode::ACCEPTED.into_response()
}

/// The ILP packet version a quote request asks the payee for (its `simIlpVersion`
/// extension), v4 by default.
pub(crate) fn asked_ilp_version(request: &Value) -> IlpVersion {
    at(request, "/extensionList/extension")
        .as_array()
        .and_then(|list| {
            list.iter()
                .find(|e| e["key"] == ILP_VERSION_KEY)
                .and_then(|e| e["value"].as_str())
                .and_then(IlpVersion::from_name)
        })
        .unwrap_or(IlpVersion::V4)
}

/// A payee's answer to `quote_request` (a `POST /quotes` body, or one quote of a bulk with the
/// bulk's payer): `transferAmount` (the amount asked: no fees), `expiration`, and the ILP
/// packet and condition `ilp` makes of the Transaction object, so that the fulfilment can be
/// re-derived from the packet alone ([`fulfil`]).
pub(crate) fn quote_terms(
    ilp: &Ilp,
    quote_request: &Value,
    expiration: &str,
) -> Result<Value, fspiop::ilp::IlpError> {
    let mut response =
        json!({"transferAmount": at(quote_request, "/amount").clone(), "expiration": expiration});
    let terms = ilp.quote_response_terms(quote_request, &response)?;
    set(&mut response, "ilpPacket", json!(terms.ilp_packet));
    set(&mut response, "condition", json!(terms.condition));
    Ok(response)
}

/// The fulfilment a payee gives `prepare` (a `POST /transfers` body or one transfer of a bulk:
/// `ilpPacket`, `condition`, optional `extensionList`): re-derived from the packet by the
/// engine of the packet's own version (`engines`: v4, v1), or the description of a 5105 when
/// the packet is not this payee's. The `simAnswer: wrongFulfilment` extension asks for a
/// well-formed fulfilment that does not match.
pub(crate) fn fulfil(engines: &(Ilp, Ilp), prepare: &Value) -> Result<String, String> {
    let packet = at(prepare, "/ilpPacket").as_str().unwrap_or_default();
    let condition = at(prepare, "/condition").as_str().unwrap_or_default();
    let version = fspiop::ilp::decode_packet_of(packet, fspiop::ilp::IlpVersions::BOTH)
        .map_or(IlpVersion::V4, |p| p.version());
    let ilp = match version {
        IlpVersion::V4 => &engines.0,
        IlpVersion::V1 => &engines.1,
    };
    let wrong = at(prepare, "/extensionList/extension")
        .as_array()
        .is_some_and(|list| {
            list.iter()
                .any(|e| e["key"] == WRONG_FULFILMENT_KEY && e["value"] == WRONG_FULFILMENT_VALUE)
        });
    match ilp.fulfilment_for_packet(packet) {
        // A well-formed 32-byte preimage that is not this condition's.
        Ok(_) if wrong => Ok("A".repeat(43)),
        Ok(fulfilment) if fspiop::ilp::fulfilment_matches(&fulfilment, condition) => Ok(fulfilment),
        Ok(_) => Err("Payee FSP rejected transaction - the condition is not this payee's".into()),
        Err(error) => Err(format!("Payee FSP rejected transaction - {error}")),
    }
}

impl Inner {
    /// When a payee's quote expires: after the callback timeout, and at least a minute.
    pub(crate) fn quote_expiration(&self) -> String {
        fspiop::datetime::format_date_time(
            now_ms()
                + i64::try_from(self.config.callback_timeout_ms)
                    .unwrap_or(60_000)
                    .max(60_000),
        )
    }
}
