//! The settlement HTTP API: Mojaloop central-settlement's routes and bodies under `/v2`.
//! Handlers check input, call one windows or settlements function and shape the answer.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use fspiop::ErrorCode;
use serde::Deserialize;
use serde_json::Value;
use service_kit::http::{json_response, FspiopJson};

use crate::error_helpers::{bad, id_of};
use crate::settlements::{self, AccountUpdate, SettlementFilter};
use crate::windows::{self, WindowFilter};
use crate::{AppState, Result};

pub fn router(state: AppState) -> Router {
    let v2 = Router::new()
        .route("/health", get(health))
        .route("/settlementWindows", get(list_windows))
        .route(
            "/settlementWindows/{id}",
            get(get_window).post(close_window),
        )
        .route(
            "/settlements",
            get(list_settlements).post(create_settlement),
        )
        .route(
            "/settlements/{id}",
            get(get_settlement).put(update_settlement),
        )
        .route(
            "/settlements/{id}/participants/{pid}",
            get(get_participant).put(update_participant),
        )
        .route(
            "/settlements/{id}/participants/{pid}/accounts/{aid}",
            get(get_account).put(update_account),
        );
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .nest("/v2", v2)
        .with_state(state)
}

async fn health(State(state): State<AppState>) -> Response {
    service_kit::health::datastore_broker_and_tasks(
        state.started,
        env!("CARGO_PKG_VERSION"),
        state.store.ping().await.is_ok(),
        state.broker_healthy().await,
        &state.tasks,
    )
}

async fn metrics(State(state): State<AppState>) -> Response {
    service_kit::metrics::metrics_response(&state.metrics.registry)
}

fn query<T>(query: std::result::Result<Query<T>, QueryRejection>) -> Result<T> {
    query
        .map(|Query(q)| q)
        .map_err(|e| bad(ErrorCode::MalformedSyntax, e.body_text()))
}

// ---- windows -------------------------------------------------------------------------------

async fn get_window(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let id = id_of(&id, "settlement window id")?;
    Ok(json_response(
        200,
        &windows::window(&state.store, id).await?.to_json(),
    ))
}

async fn list_windows(
    State(state): State<AppState>,
    filter: std::result::Result<Query<WindowFilter>, QueryRejection>,
) -> Result<Response> {
    let filter = query(filter)?;
    let views = windows::list(&state.store, &filter, state.config.settlements.list_len_max).await?;
    let body: Vec<Value> = views.iter().map(windows::WindowView::to_json).collect();
    Ok(json_response(200, &body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CloseWindow {
    state: String,
    reason: String,
}

/// `POST /settlementWindows/{id}` `{state: CLOSED, reason}`: phase one of the close, then the
/// message for phase two; answers the new OPEN window.
async fn close_window(
    State(state): State<AppState>,
    Path(id): Path<String>,
    FspiopJson(body): FspiopJson<CloseWindow>,
) -> Result<Response> {
    let id = id_of(&id, "settlement window id")?;
    if body.state != "CLOSED" {
        return Err(bad(
            ErrorCode::GenericValidationError,
            format!("state {:?} is not allowed; only CLOSED", body.state),
        ));
    }
    if body.reason.trim().is_empty() {
        return Err(bad(ErrorCode::MissingElement, "reason is required"));
    }
    let next = windows::close(&state.store, id, &body.reason).await?;
    state.announce_close(id, &body.reason).await;
    let view = windows::window(&state.store, next).await?;
    let mut body = view.to_json();
    if let Some(object) = body.as_object_mut() {
        object.remove("content");
    }
    Ok(json_response(200, &body))
}

// ---- settlements ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowRef {
    id: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateSettlement {
    settlement_model: String,
    reason: String,
    settlement_windows: Vec<WindowRef>,
}

async fn create_settlement(
    State(state): State<AppState>,
    FspiopJson(body): FspiopJson<CreateSettlement>,
) -> Result<Response> {
    let ids = body
        .settlement_windows
        .iter()
        .map(|w| match &w.id {
            Value::Number(n) => n.as_u64().ok_or_else(|| {
                bad(
                    ErrorCode::MalformedSyntax,
                    format!("window id {n} is not a positive integer"),
                )
            }),
            Value::String(s) => id_of(s, "settlement window id"),
            other => Err(bad(
                ErrorCode::MalformedSyntax,
                format!("window id {other} is not a number"),
            )),
        })
        .collect::<Result<Vec<u64>>>()?;
    let view =
        settlements::create(&state.store, &body.settlement_model, &body.reason, &ids).await?;
    Ok(json_response(200, &view.to_json()))
}

async fn get_settlement(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    let id = id_of(&id, "settlement id")?;
    Ok(json_response(
        200,
        &settlements::get(&state.store, id).await?.to_json(),
    ))
}

async fn list_settlements(
    State(state): State<AppState>,
    filter: std::result::Result<Query<SettlementFilter>, QueryRejection>,
) -> Result<Response> {
    let filter = query(filter)?;
    let views =
        settlements::list(&state.store, &filter, state.config.settlements.list_len_max).await?;
    let body: Vec<Value> = views
        .iter()
        .map(settlements::SettlementView::to_json)
        .collect();
    Ok(json_response(200, &body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AccountBody {
    id: Option<u32>,
    state: String,
    reason: Option<String>,
    external_reference: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParticipantBody {
    id: Option<u32>,
    accounts: Vec<AccountBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct UpdateSettlement {
    participants: Option<Vec<ParticipantBody>>,
    state: Option<String>,
    reason: Option<String>,
    external_reference: Option<String>,
}

fn updates_of(participants: &[ParticipantBody]) -> Result<Vec<AccountUpdate>> {
    let mut updates = Vec::new();
    for participant in participants {
        let participant_id = participant
            .id
            .ok_or_else(|| bad(ErrorCode::MissingElement, "participants[].id is required"))?;
        for account in &participant.accounts {
            let account_id = account.id.ok_or_else(|| {
                bad(
                    ErrorCode::MissingElement,
                    "participants[].accounts[].id is required",
                )
            })?;
            updates.push(AccountUpdate {
                participant_id,
                account_id,
                state: account.state.clone(),
                reason: account.reason.clone(),
                external_reference: account.external_reference.clone(),
            });
        }
    }
    Ok(updates)
}

async fn apply_update(state: &AppState, id: u64, body: UpdateSettlement) -> Result<Response> {
    match (body.participants, body.state) {
        (Some(_), Some(_)) => Err(bad(
            ErrorCode::GenericValidationError,
            "participants and state can not be given together",
        )),
        (None, None) => Err(bad(
            ErrorCode::MissingElement,
            "participants or state is required",
        )),
        (None, Some(requested)) => {
            if requested != "ABORTED" {
                return Err(bad(
                    ErrorCode::GenericValidationError,
                    format!("state {requested:?} is not allowed here; only ABORTED"),
                ));
            }
            let Some(reason) = body.reason.filter(|r| !r.trim().is_empty()) else {
                return Err(bad(ErrorCode::MissingElement, "reason is required"));
            };
            let view = settlements::abort(
                &state.store,
                id,
                &reason,
                body.external_reference.as_deref(),
            )
            .await?;
            Ok(json_response(200, &view.to_json()))
        }
        (Some(participants), None) => {
            let updates = updates_of(&participants)?;
            let outcome = settlements::update_accounts(
                &state.store,
                id,
                &updates,
                state.config.settlements.transfer_validity_s,
                crate::now_ms(),
            )
            .await?;
            Ok(json_response(200, &outcome.to_json()))
        }
    }
}

async fn update_settlement(
    State(state): State<AppState>,
    Path(id): Path<String>,
    FspiopJson(body): FspiopJson<UpdateSettlement>,
) -> Result<Response> {
    let id = id_of(&id, "settlement id")?;
    apply_update(&state, id, body).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParticipantUpdate {
    accounts: Vec<AccountBody>,
}

async fn update_participant(
    State(state): State<AppState>,
    Path((id, pid)): Path<(String, String)>,
    FspiopJson(body): FspiopJson<ParticipantUpdate>,
) -> Result<Response> {
    let id = id_of(&id, "settlement id")?;
    let pid = u32::try_from(id_of(&pid, "participant id")?)
        .map_err(|_| bad(ErrorCode::MalformedSyntax, "participant id is too large"))?;
    let body = UpdateSettlement {
        participants: Some(vec![ParticipantBody {
            id: Some(pid),
            accounts: body.accounts,
        }]),
        state: None,
        reason: None,
        external_reference: None,
    };
    apply_update(&state, id, body).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct AccountUpdateBody {
    state: String,
    reason: Option<String>,
    external_reference: Option<String>,
}

async fn update_account(
    State(state): State<AppState>,
    Path((id, pid, aid)): Path<(String, String, String)>,
    FspiopJson(body): FspiopJson<AccountUpdateBody>,
) -> Result<Response> {
    let id = id_of(&id, "settlement id")?;
    let pid = u32::try_from(id_of(&pid, "participant id")?)
        .map_err(|_| bad(ErrorCode::MalformedSyntax, "participant id is too large"))?;
    let aid = u32::try_from(id_of(&aid, "account id")?)
        .map_err(|_| bad(ErrorCode::MalformedSyntax, "account id is too large"))?;
    let body = UpdateSettlement {
        participants: Some(vec![ParticipantBody {
            id: Some(pid),
            accounts: vec![AccountBody {
                id: Some(aid),
                state: body.state,
                reason: body.reason,
                external_reference: body.external_reference,
            }],
        }]),
        state: None,
        reason: None,
        external_reference: None,
    };
    apply_update(&state, id, body).await
}

async fn get_participant(
    State(state): State<AppState>,
    Path((id, pid)): Path<(String, String)>,
) -> Result<Response> {
    let id = id_of(&id, "settlement id")?;
    let pid = u32::try_from(id_of(&pid, "participant id")?)
        .map_err(|_| bad(ErrorCode::MalformedSyntax, "participant id is too large"))?;
    let view = settlements::get(&state.store, id).await?;
    Ok(json_response(200, &view.restricted(pid, None)?))
}

async fn get_account(
    State(state): State<AppState>,
    Path((id, pid, aid)): Path<(String, String, String)>,
) -> Result<Response> {
    let id = id_of(&id, "settlement id")?;
    let pid = u32::try_from(id_of(&pid, "participant id")?)
        .map_err(|_| bad(ErrorCode::MalformedSyntax, "participant id is too large"))?;
    let aid = u32::try_from(id_of(&aid, "account id")?)
        .map_err(|_| bad(ErrorCode::MalformedSyntax, "account id is too large"))?;
    let view = settlements::get(&state.store, id).await?;
    Ok(json_response(200, &view.restricted(pid, Some(aid))?))
}
