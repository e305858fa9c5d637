//! `/parties`: party discovery (services.md §3.4–3.6).
//!
//! - `GET /parties/{Type}/{ID}[/{SubId}]` → 202. FSPIOP-Source must be a participant (400 /
//!   3101 "invalid fspiop-source header" otherwise). Then, in a task: the identifier's format
//!   (3101); with a non-empty `FSPIOP-Destination` the GET goes straight to that DFSP (3204 if
//!   it is not a participant); otherwise the oracle is asked, its `partyList` filtered by
//!   sub-id (no entries or an oracle's 404: 3204; none left 3200), and the GET forwarded to every listed DFSP's
//!   `FSPIOP_CALLBACK_URL_PARTIES[_SUB_ID]_GET` with the requester's headers.
//! - `PUT /parties/{Type}/{ID}[/{SubId}]` (payee → payer) and its `/error` form → 200; the raw
//!   body is relayed to the `FSPIOP-Destination`'s `…PARTIES[_SUB_ID]_PUT[_ERROR]` endpoint
//!   (3201 if the destination is not a participant), under a `Content-Type` version the payer's
//!   lookup accepted ([`crate::accept_memory`]).
//!
//! Failures after acceptance go back to the requester (for a PUT, the sender) as a hub error
//! callback to its `FSPIOP_CALLBACK_URL_PARTIES[_SUB_ID]_PUT_ERROR` endpoint.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, put};
use axum::Router;
use fspiop::types::{parse_body, ErrorInformationObject, PartiesTypeIdPutResponse};
use fspiop::{ErrorCode, FspiopError};
use fspiop_edge::OutboundRequest;
use service_kit::http::{empty_response, FspiopResponse};

use crate::callbacks::{self, pick};
use crate::inbound::{
    currency_param, query_params, FspiopHeaders, Inbound, PartyRef, PathParams, RawBody,
};
use crate::oracle::Caller;
use crate::{is_participant, require_participant, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/parties/{type}/{id}", get(get_parties).put(put_parties))
        .route("/parties/{type}/{id}/error", put(put_parties_error))
        .route(
            "/parties/{type}/{id}/{sub_id}",
            get(get_parties).put(put_parties),
        )
        .route(
            "/parties/{type}/{id}/{sub_id}/error",
            put(put_parties_error),
        )
}

/// An accepted `GET /parties`.
struct Lookup {
    inbound: Inbound,
    party: PartyRef,
    currency: Option<String>,
}

/// An accepted `PUT /parties` or `PUT /parties/…/error`.
struct Relay {
    inbound: Inbound,
    party: PartyRef,
    body: axum::body::Bytes,
    error: bool,
}

async fn get_parties(
    State(state): State<AppState>,
    FspiopHeaders(inbound): FspiopHeaders,
    params: PathParams,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, FspiopResponse> {
    let party = PartyRef::from_params(&params)?;
    let currency = currency_param(&query_params(query)?)?;
    require_participant(
        &state,
        &inbound.source,
        ErrorCode::MalformedSyntax,
        "invalid fspiop-source header",
    )
    .await?;
    let lookup = Arc::new(Lookup {
        inbound,
        party,
        currency,
    });
    state
        .tasks
        .spawn("parties_get", run_lookup(state.clone(), lookup))
        .await?;
    Ok(empty_response(202))
}

async fn put_parties(
    State(state): State<AppState>,
    FspiopHeaders(inbound): FspiopHeaders,
    params: PathParams,
    RawBody(body): RawBody,
) -> Result<Response, FspiopResponse> {
    let party = PartyRef::from_params(&params)?;
    if let Err(error) = parse_body::<PartiesTypeIdPutResponse>(&body, inbound.unknown_fields()) {
        tell_payer_of_refused_answer(&state, &inbound, &party, &error).await;
        return Err(error.into());
    }
    accept_relay(
        state,
        Relay {
            inbound,
            party,
            body,
            error: false,
        },
    )
    .await
}

async fn put_parties_error(
    State(state): State<AppState>,
    FspiopHeaders(inbound): FspiopHeaders,
    params: PathParams,
    RawBody(body): RawBody,
) -> Result<Response, FspiopResponse> {
    let party = PartyRef::from_params(&params)?;
    parse_body::<ErrorInformationObject>(&body, inbound.unknown_fields())?;
    accept_relay(
        state,
        Relay {
            inbound,
            party,
            body,
            error: true,
        },
    )
    .await
}

async fn accept_relay(state: AppState, relay: Relay) -> Result<Response, FspiopResponse> {
    require_participant(
        &state,
        &relay.inbound.source,
        ErrorCode::IdNotFound,
        "Requester FSP not found",
    )
    .await?;
    let flow = if relay.error {
        "parties_put_error"
    } else {
        "parties_put"
    };
    state
        .tasks
        .spawn(flow, run_relay(state.clone(), relay))
        .await?;
    Ok(empty_response(200))
}

// ---- the asynchronous part -----------------------------------------------------------------

/// The error callback of a parties flow, to `to`'s `…PARTIES[_SUB_ID]_PUT_ERROR` endpoint, in
/// the version of the request it answers (`answering`: that request's headers).
async fn send_parties_error(
    state: &AppState,
    to: &str,
    party: &PartyRef,
    error: &FspiopError,
    answering: &[(String, String)],
) {
    let endpoint = pick(
        party.sub_id.is_some(),
        callbacks::PARTIES_SUB_ID_PUT_ERROR,
        callbacks::PARTIES_PUT_ERROR,
    );
    let uri = format!("{}/error", party.path("parties"));
    callbacks::send_error(state, to, endpoint, &party.vars(), &uri, error, answering).await;
}

/// A payee's party answer the switch refused (400 to the payee) is no answer for the payer
/// named in its `FSPIOP-Destination`: the payer is told at once rather than waiting out its
/// lookup. Only for a sender that is a participant, so nobody can make the hub send errors for
/// them.
async fn tell_payer_of_refused_answer(
    state: &AppState,
    inbound: &Inbound,
    party: &PartyRef,
    error: &FspiopError,
) {
    let Some(payer) = inbound.destination.clone().filter(|d| !d.is_empty()) else {
        return;
    };
    let (state, party) = (state.clone(), party.clone());
    let (payee, headers) = (inbound.source.clone(), inbound.headers.clone());
    let reason = error.detail.clone().unwrap_or_else(|| error.description());
    let told = FspiopError::with_detail(
        error.code,
        format!("party answer of {payee} refused by the switch: {reason}"),
    );
    // In the service's bounded task pool, as every other callback; shutting down, nobody is
    // told (the payee still gets its 400).
    let runner = state.clone();
    let _ = runner
        .tasks
        .spawn("parties_put_refused", async move {
            if !matches!(is_participant(&state, &payee).await, Ok(true)) {
                return;
            }
            tracing::info!(%payer, %payee, "payer told of the refused party answer");
            send_parties_error(&state, &payer, &party, &told, &headers).await;
        })
        .await;
}

fn party_not_found() -> FspiopError {
    FspiopError::with_detail(
        ErrorCode::PartyNotFound,
        "No proxy found to start inter-scheme discovery flow",
    )
}

async fn run_lookup(state: AppState, lookup: Arc<Lookup>) {
    let result = discover(&state, &lookup).await;
    state.metrics.task("parties_get", &result);
    if let Err(error) = result {
        send_parties_error(
            &state,
            &lookup.inbound.source,
            &lookup.party,
            &error,
            &lookup.inbound.headers,
        )
        .await;
    }
}

async fn discover(state: &AppState, lookup: &Arc<Lookup>) -> Result<(), FspiopError> {
    lookup.party.check_format()?;
    if let Some(accept) = header(&lookup.inbound.headers, fspiop::headers::ACCEPT) {
        state.accept_memory.remember(
            &lookup.inbound.source,
            &lookup.party.path("parties"),
            accept,
        );
    }
    if let Some(destination) = &lookup.inbound.destination {
        // The requester named the payee's DFSP: no oracle (Mojaloop design authority #79).
        if !is_participant(state, destination).await? {
            return Err(party_not_found());
        }
        return forward_lookup(state.clone(), lookup.clone(), destination.clone()).await;
    }
    let caller = Caller {
        headers: &lookup.inbound.headers,
        source: &lookup.inbound.source,
        destination: None,
    };
    let parties = match state
        .oracles
        .lookup(&caller, &lookup.party, lookup.currency.as_deref())
        .await
    {
        Ok(parties) => parties,
        // The oracle answered 404: it does not know the party, as with an empty list.
        Err(error) if error.code == ErrorCode::PartyNotFound && error.received.is_none() => {
            return Err(party_not_found())
        }
        Err(error) => return Err(error),
    };
    if parties.is_empty() {
        return Err(party_not_found());
    }
    // Without a sub-id only mappings without one count; with one, only that sub-id's.
    let mut payees: Vec<String> = Vec::new();
    let wanted = lookup.party.sub_id.as_deref();
    for party in parties.iter().filter(|party| {
        party
            .party_sub_id_or_type
            .as_deref()
            .filter(|s| !s.is_empty())
            == wanted
    }) {
        if !payees.contains(&party.fsp_id) {
            payees.push(party.fsp_id.clone());
        }
    }
    if payees.is_empty() {
        return Err(FspiopError::with_detail(
            ErrorCode::IdNotFound,
            "Empty oracle partyList, filtered based on callbackEndpointType",
        ));
    }
    let mut known = Vec::with_capacity(payees.len());
    for payee in payees {
        if is_participant(state, &payee).await? {
            known.push(payee);
        } else {
            tracing::warn!(fsp = %payee, "oracle names a DFSP that is not a participant; skipped");
        }
    }
    // Several payees each get the GET; the requester may get several answers.
    let mut sent = 0_usize;
    let mut first_error = None;
    if let [only] = known.as_slice() {
        match forward_lookup(state.clone(), lookup.clone(), only.clone()).await {
            Ok(()) => sent += 1,
            Err(error) => first_error = Some(error),
        }
    } else {
        let mut forwards = tokio::task::JoinSet::new();
        for payee in known {
            forwards.spawn(forward_lookup(state.clone(), lookup.clone(), payee));
        }
        while let Some(joined) = forwards.join_next().await {
            match joined {
                Ok(Ok(())) => sent += 1,
                Ok(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                Err(error) => tracing::error!(%error, "forwarding task failed"),
            }
        }
    }
    match (sent, first_error) {
        (0, Some(error)) => Err(error),
        (0, None) => Err(party_not_found()),
        _ => Ok(()),
    }
}

/// Forwards the requester's GET to `payee`'s `…PARTIES[_SUB_ID]_GET` endpoint.
async fn forward_lookup(
    state: AppState,
    lookup: Arc<Lookup>,
    payee: String,
) -> Result<(), FspiopError> {
    let party = &lookup.party;
    let endpoint = pick(
        party.sub_id.is_some(),
        callbacks::PARTIES_SUB_ID_GET,
        callbacks::PARTIES_GET,
    );
    let url = callbacks::endpoint_url(&state, &payee, endpoint, &party.vars()).await?;
    let result = state
        .forwarder
        .send(OutboundRequest {
            method: "GET",
            url,
            uri_path: party.path("parties"),
            headers: lookup.inbound.headers.clone(),
            source: lookup.inbound.source.clone(),
            destination: payee,
            body: None,
        })
        .await;
    state.metrics.callback(endpoint, &result);
    result
}

async fn run_relay(state: AppState, relay: Relay) {
    let flow = if relay.error {
        "parties_put_error"
    } else {
        "parties_put"
    };
    let result = relay_to_destination(&state, &relay).await;
    state.metrics.task(flow, &result);
    if let Err(error) = result {
        send_parties_error(
            &state,
            &relay.inbound.source,
            &relay.party,
            &error,
            &relay.inbound.headers,
        )
        .await;
    }
}

async fn relay_to_destination(state: &AppState, relay: &Relay) -> Result<(), FspiopError> {
    let destination = match &relay.inbound.destination {
        Some(destination) if is_participant(state, destination).await? => destination.clone(),
        _ => {
            return Err(FspiopError::with_detail(
                ErrorCode::DestinationFspError,
                "Destination FSP not found",
            ))
        }
    };
    let party = &relay.party;
    let sub = party.sub_id.is_some();
    let (endpoint, uri_path) = if relay.error {
        (
            pick(
                sub,
                callbacks::PARTIES_SUB_ID_PUT_ERROR,
                callbacks::PARTIES_PUT_ERROR,
            ),
            format!("{}/error", party.path("parties")),
        )
    } else {
        (
            pick(sub, callbacks::PARTIES_SUB_ID_PUT, callbacks::PARTIES_PUT),
            party.path("parties"),
        )
    };
    let url = callbacks::endpoint_url(state, &destination, endpoint, &party.vars()).await?;
    let mut headers = relay.inbound.headers.clone();
    let mut body = relay.body.to_vec();
    let signed = header(&headers, fspiop::headers::FSPIOP_SIGNATURE)
        .is_some_and(crate::accept_memory::is_signature);
    // In a version the payer's lookup accepted (see `accept_memory`).
    if let Some((_, content_type)) = headers
        .iter_mut()
        .find(|(name, _)| name == fspiop::headers::CONTENT_TYPE)
    {
        if let Some(relabelled) = state.accept_memory.content_type_for(
            &destination,
            &party.path("parties"),
            content_type,
            &state.versions.content_supported,
        ) {
            let to_1x = fspiop::headers::parse_content_type(&relabelled, "parties")
                .is_some_and(|v| v.major == 1);
            if to_1x && !relay.error && !signed {
                if let Some(adapted) = crate::accept_memory::party_body_for_1x(&body) {
                    tracing::info!(%destination, "2.0 party answer made a 1.x body (members and a name 1.x cannot carry left out)");
                    body = adapted;
                }
            }
            tracing::debug!(%destination, from = %content_type, to = %relabelled, "answer relayed in the version the lookup accepted");
            *content_type = relabelled;
        }
    }
    let result = state
        .forwarder
        .send(OutboundRequest {
            method: "PUT",
            url,
            uri_path,
            headers,
            source: relay.inbound.source.clone(),
            destination,
            body: Some(body),
        })
        .await;
    state.metrics.callback(endpoint, &result);
    result
}

/// The value of header `name` (lower case) among `headers`.
fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}
