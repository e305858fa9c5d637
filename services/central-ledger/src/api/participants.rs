//! Participants and their accounts and positions.

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct CreateParticipant {
    name: String,
    currency: String,
    #[serde(default)]
    is_proxy: Option<Value>,
}

pub(super) async fn create_participant(
    State(state): State<AppState>,
    FspiopJson(body): FspiopJson<CreateParticipant>,
) -> Result<Response> {
    check_name(&body.name)?;
    check_currency(&body.currency)?;
    let is_proxy = body
        .is_proxy
        .as_ref()
        .map(|v| bool_like(v, "isProxy"))
        .transpose()?
        .unwrap_or(false);
    let participant = state
        .store
        .create_participant(&body.name, &body.currency, is_proxy)
        .await?;
    Ok(json_response(201, &participant_json(&state, &participant)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ParticipantsQuery {
    is_proxy: Option<String>,
}

pub(super) async fn list_participants(
    State(state): State<AppState>,
    FspiopQuery(query): FspiopQuery<ParticipantsQuery>,
) -> Result<Response> {
    let is_proxy = query
        .is_proxy
        .map(|v| bool_like(&Value::String(v), "isProxy"))
        .transpose()?;
    let participants = state.store.list_participants(is_proxy).await?;
    let body: Vec<Value> = participants
        .iter()
        .map(|p| participant_json(&state, p))
        .collect();
    Ok(json_response(200, &body))
}

pub(super) async fn get_participant(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response> {
    let participant = state.store.participant(&name).await?;
    Ok(json_response(200, &participant_json(&state, &participant)))
}

pub(super) async fn update_participant(
    State(state): State<AppState>,
    Path(name): Path<String>,
    FspiopJson(body): FspiopJson<IsActive>,
) -> Result<Response> {
    let active = bool_like(&body.is_active, "isActive")?;
    let participant = state.store.set_participant_active(&name, active).await?;
    Ok(json_response(200, &participant_json(&state, &participant)))
}

// ---- accounts ----------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateAccount {
    currency: String,
    #[serde(rename = "type")]
    account_type: String,
}

pub(super) async fn create_hub_account(
    State(state): State<AppState>,
    Path(name): Path<String>,
    FspiopJson(body): FspiopJson<CreateAccount>,
) -> Result<Response> {
    check_currency(&body.currency)?;
    let hub = state
        .store
        .create_hub_account(
            &name,
            &body.currency,
            &body.account_type,
            &state.config.hub.account_types,
        )
        .await?;
    Ok(json_response(201, &participant_json(&state, &hub)))
}

pub(super) async fn accounts(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response> {
    let participant = state.store.participant(&name).await?;
    let positions = state.store.accounts_with_positions(participant.id).await?;
    Ok(json_response(
        200,
        &positions.iter().map(position_json).collect::<Vec<_>>(),
    ))
}

pub(super) async fn update_account(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    FspiopJson(body): FspiopJson<IsActive>,
) -> Result<Response> {
    let account_id = parse_id(&id)?;
    let active = bool_like(&body.is_active, "isActive")?;
    let participant = state.store.participant(&name).await?;
    state
        .store
        .set_account_active(&participant, account_id, active)
        .await?;
    Ok(empty_response(200))
}

#[derive(Debug, Deserialize)]
pub(super) struct CurrencyQuery {
    currency: Option<String>,
}

pub(super) async fn positions(
    State(state): State<AppState>,
    Path(name): Path<String>,
    FspiopQuery(query): FspiopQuery<CurrencyQuery>,
) -> Result<Response> {
    query.currency.as_deref().map_or(Ok(()), check_currency)?;
    let participant = state.store.participant(&name).await?;
    let positions: Vec<Value> = if participant.is_active {
        state
            .store
            .accounts_with_positions(participant.id)
            .await?
            .into_iter()
            .filter(|p| p.ledger_account_type == ACCOUNT_POSITION && p.is_active)
            .filter(|p| query.currency.as_deref().is_none_or(|c| c == p.currency))
            .map(|p| json!({ "currency": p.currency, "value": json_money(p.value), "changedDate": p.changed_date }))
            .collect()
    } else {
        Vec::new()
    };
    Ok(match query.currency {
        Some(_) => json_response(
            200,
            &positions.into_iter().next().unwrap_or_else(|| json!({})),
        ),
        None => json_response(200, &positions),
    })
}
