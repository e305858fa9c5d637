//! The admin HTTP API, compatible with Mojaloop's central-ledger admin routes and bodies.
//! Handlers check input, call one store or funds function and shape the answer.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use fspiop::ErrorCode;
use ledger::Money;
use serde::Deserialize;
use serde_json::{json, Value};
use service_kit::http::{empty_response, json_response, FspiopJson};

use crate::error::{Error, Result};
use crate::funds::{self, FundsCommand};
use crate::store::{
    Account, AccountPosition, NewSettlementModel, Participant, ACCOUNT_POSITION,
    ACCOUNT_SETTLEMENT, LIMIT_TYPE_NET_DEBIT_CAP,
};
use crate::AppState;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route(
            "/participants",
            get(list_participants).post(create_participant),
        )
        .route("/participants/limits", get(all_limits))
        .route(
            "/participants/{name}",
            get(get_participant).put(update_participant),
        )
        .route(
            "/participants/{name}/accounts",
            get(accounts).post(create_hub_account),
        )
        .route(
            "/participants/{name}/accounts/{id}",
            put(update_account).post(record_funds),
        )
        .route(
            "/participants/{name}/accounts/{id}/transfers/{transfer_id}",
            put(finish_funds_out),
        )
        .route("/participants/{name}/positions", get(positions))
        .route(
            "/participants/{name}/initialPositionAndLimits",
            post(initial_position_and_limits),
        )
        .route(
            "/participants/{name}/limits",
            get(participant_limits).put(adjust_limit),
        )
        .route(
            "/participants/{name}/endpoints",
            get(endpoints).post(add_endpoint),
        )
        .route(
            "/settlementModels",
            get(settlement_models).post(create_settlement_model),
        )
        .route(
            "/settlementModels/{name}",
            get(settlement_model).put(update_settlement_model),
        )
        .route(
            "/ledgerAccountTypes",
            get(ledger_account_types).post(create_ledger_account_type),
        )
        .with_state(state)
}

// ---- input helpers -----------------------------------------------------------------------

fn bad(code: ErrorCode, detail: impl Into<String>) -> Error {
    Error::client(code, detail)
}

fn check_name(name: &str) -> Result<()> {
    if ledger::names::is_valid_participant_name(name) {
        Ok(())
    } else {
        Err(bad(
            ErrorCode::MalformedSyntax,
            format!("name {name:?} must be 2 to 30 letters, digits, '-', '_' or '.'"),
        ))
    }
}

fn check_currency(currency: &str) -> Result<()> {
    if fspiop::currency::is_api_currency(currency) {
        Ok(())
    } else {
        Err(bad(
            ErrorCode::MalformedSyntax,
            format!("currency {currency:?} is not a supported ISO 4217 code"),
        ))
    }
}

fn parse_id(id: &str) -> Result<u32> {
    id.parse().map_err(|_| {
        bad(
            ErrorCode::MalformedSyntax,
            format!("account id {id:?} is not a number"),
        )
    })
}

/// An amount given as a JSON number or a decimal string.
fn money_field(value: &Value, field: &str) -> Result<Money> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => {
            return Err(bad(
                ErrorCode::MalformedSyntax,
                format!("{field} must be a number"),
            ))
        }
    };
    Money::parse(&text).map_err(|e| bad(ErrorCode::MalformedSyntax, format!("{field}: {e}")))
}

fn non_negative(money: Money, field: &str) -> Result<Money> {
    if money.is_negative() {
        Err(bad(
            ErrorCode::GenericValidationError,
            format!("{field} must not be negative"),
        ))
    } else {
        Ok(money)
    }
}

fn json_money(money: Money) -> Value {
    let units = money.units();
    if units % ledger::money::UNITS_PER_ONE == 0 {
        json!(units / ledger::money::UNITS_PER_ONE)
    } else {
        money
            .to_string()
            .parse::<f64>()
            .map(|f| json!(f))
            .unwrap_or(Value::Null)
    }
}

fn flag(value: bool) -> u8 {
    u8::from(value)
}

// ---- shapes ------------------------------------------------------------------------------

fn account_json(account: &Account) -> Value {
    json!({
        "id": account.id,
        "ledgerAccountType": account.ledger_account_type,
        "currency": account.currency,
        "isActive": flag(account.is_active),
        "createdDate": account.created_date,
        "createdBy": account.created_by,
    })
}

fn participant_json(state: &AppState, participant: &Participant) -> Value {
    let url = format!(
        "{}/participants/{}",
        state.config.server.hostname_url.trim_end_matches('/'),
        participant.name
    );
    json!({
        "name": participant.name,
        "id": url,
        "created": participant.created,
        "isActive": flag(participant.is_active),
        "links": { "self": url },
        "accounts": participant.accounts.iter().map(account_json).collect::<Vec<_>>(),
        "isProxy": flag(participant.is_proxy),
    })
}

fn position_json(position: &AccountPosition) -> Value {
    json!({
        "id": position.id,
        "ledgerAccountType": position.ledger_account_type,
        "currency": position.currency,
        "isActive": flag(position.is_active),
        "value": json_money(position.value),
        "reservedValue": json_money(position.reserved_value),
        "changedDate": position.changed_date,
    })
}

// ---- health and metrics ------------------------------------------------------------------

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

// ---- participants ------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateParticipant {
    name: String,
    currency: String,
    #[serde(default)]
    is_proxy: Option<Value>,
}

fn bool_like(value: &Value, field: &str) -> Result<bool> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::Number(n) if n.as_u64() == Some(0) => Ok(false),
        Value::Number(n) if n.as_u64() == Some(1) => Ok(true),
        Value::String(s) if s == "0" || s == "false" => Ok(false),
        Value::String(s) if s == "1" || s == "true" => Ok(true),
        _ => Err(bad(
            ErrorCode::MalformedSyntax,
            format!("{field} must be a boolean"),
        )),
    }
}

async fn create_participant(
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
struct ParticipantsQuery {
    is_proxy: Option<String>,
}

async fn list_participants(
    State(state): State<AppState>,
    Query(query): Query<ParticipantsQuery>,
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

async fn get_participant(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response> {
    let participant = state.store.participant(&name).await?;
    Ok(json_response(200, &participant_json(&state, &participant)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IsActive {
    is_active: Value,
}

async fn update_participant(
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
struct CreateAccount {
    currency: String,
    #[serde(rename = "type")]
    account_type: String,
}

async fn create_hub_account(
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

async fn accounts(State(state): State<AppState>, Path(name): Path<String>) -> Result<Response> {
    let participant = state.store.participant(&name).await?;
    let positions = state.store.accounts_with_positions(participant.id).await?;
    Ok(json_response(
        200,
        &positions.iter().map(position_json).collect::<Vec<_>>(),
    ))
}

async fn update_account(
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
struct CurrencyQuery {
    currency: Option<String>,
}

async fn positions(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<CurrencyQuery>,
) -> Result<Response> {
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

// ---- limits ------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LimitBody {
    #[serde(rename = "type")]
    limit_type: String,
    value: Value,
    #[serde(default)]
    alarm_percentage: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct InitialPositionAndLimits {
    currency: String,
    limit: LimitBody,
    #[serde(default)]
    initial_position: Option<Value>,
}

fn check_limit_type(limit_type: &str) -> Result<()> {
    if limit_type == LIMIT_TYPE_NET_DEBIT_CAP {
        Ok(())
    } else {
        Err(bad(
            ErrorCode::GenericValidationError,
            format!("limit type {limit_type:?} is not NET_DEBIT_CAP"),
        ))
    }
}

async fn initial_position_and_limits(
    State(state): State<AppState>,
    Path(name): Path<String>,
    FspiopJson(body): FspiopJson<InitialPositionAndLimits>,
) -> Result<Response> {
    check_currency(&body.currency)?;
    check_limit_type(&body.limit.limit_type)?;
    let limit = non_negative(
        money_field(&body.limit.value, "limit.value")?,
        "limit.value",
    )?;
    let initial = match &body.initial_position {
        Some(Value::Null) | None => Money::ZERO,
        Some(value) => money_field(value, "initialPosition")?,
    };
    let participant = state.store.participant(&name).await?;
    state
        .store
        .initial_position_and_limits(&participant, &body.currency, limit, initial)
        .await?;
    state
        .notify_limit_adjustment(&participant.name, &body.currency, limit)
        .await;
    Ok(empty_response(201))
}

#[derive(Debug, Deserialize)]
struct LimitsQuery {
    currency: Option<String>,
    #[serde(rename = "type")]
    limit_type: Option<String>,
}

async fn participant_limits(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<LimitsQuery>,
) -> Result<Response> {
    let participant = state.store.participant(&name).await?;
    let limits = state
        .store
        .limits(
            Some(&participant.name),
            query.currency.as_deref(),
            query.limit_type.as_deref(),
        )
        .await?;
    let body: Vec<Value> = limits
        .iter()
        .map(|l| json!({ "currency": l.currency, "limit": { "type": l.limit_type, "value": json_money(l.value), "alarmPercentage": json_money(l.alarm_percentage) } }))
        .collect();
    Ok(json_response(200, &body))
}

async fn all_limits(
    State(state): State<AppState>,
    Query(query): Query<LimitsQuery>,
) -> Result<Response> {
    let limits = state
        .store
        .limits(None, query.currency.as_deref(), query.limit_type.as_deref())
        .await?;
    let body: Vec<Value> = limits
        .iter()
        .map(|l| json!({ "name": l.participant, "currency": l.currency, "limit": { "type": l.limit_type, "value": json_money(l.value), "alarmPercentage": json_money(l.alarm_percentage) } }))
        .collect();
    Ok(json_response(200, &body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustLimit {
    currency: String,
    limit: LimitBody,
}

async fn adjust_limit(
    State(state): State<AppState>,
    Path(name): Path<String>,
    FspiopJson(body): FspiopJson<AdjustLimit>,
) -> Result<Response> {
    check_currency(&body.currency)?;
    check_limit_type(&body.limit.limit_type)?;
    let value = non_negative(
        money_field(&body.limit.value, "limit.value")?,
        "limit.value",
    )?;
    let alarm = match &body.limit.alarm_percentage {
        Some(value) => money_field(value, "limit.alarmPercentage")?,
        None => {
            return Err(bad(
                ErrorCode::MissingElement,
                "limit must have required property 'alarmPercentage'",
            ))
        }
    };
    if alarm.is_negative() || alarm > Money::parse("100").unwrap_or(Money::ZERO) {
        return Err(bad(
            ErrorCode::GenericValidationError,
            "limit.alarmPercentage must be between 0 and 100",
        ));
    }
    let participant = state.store.participant(&name).await?;
    state
        .store
        .adjust_limit(
            &participant,
            &body.currency,
            &body.limit.limit_type,
            value,
            alarm,
        )
        .await?;
    state
        .notify_limit_adjustment(&participant.name, &body.currency, value)
        .await;
    Ok(json_response(
        200,
        &json!({ "currency": body.currency, "limit": { "type": body.limit.limit_type, "value": json_money(value), "alarmPercentage": json_money(alarm) } }),
    ))
}

// ---- endpoints ---------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointBody {
    #[serde(rename = "type")]
    endpoint_type: String,
    value: String,
}

/// Longest endpoint value (`participantEndpoint.value` is VARCHAR(512)).
const ENDPOINT_VALUE_LEN_MAX: usize = 512;

async fn add_endpoint(
    State(state): State<AppState>,
    Path(name): Path<String>,
    FspiopJson(body): FspiopJson<EndpointBody>,
) -> Result<Response> {
    let participant = state.store.participant(&name).await?;
    if body.value.is_empty() || body.value.chars().count() > ENDPOINT_VALUE_LEN_MAX {
        return Err(bad(
            ErrorCode::GenericValidationError,
            "value must be 1 to 512 characters",
        ));
    }
    if !state
        .store
        .endpoint_type_exists(&body.endpoint_type)
        .await?
    {
        return Err(bad(
            ErrorCode::GenericValidationError,
            format!("endpoint type {:?} does not exist", body.endpoint_type),
        ));
    }
    state
        .store
        .upsert_endpoint(participant.id, &body.endpoint_type, &body.value)
        .await?;
    Ok(empty_response(201))
}

#[derive(Debug, Deserialize)]
struct TypeQuery {
    #[serde(rename = "type")]
    endpoint_type: Option<String>,
}

async fn endpoints(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<TypeQuery>,
) -> Result<Response> {
    let participant = state.store.participant(&name).await?;
    let found = state
        .store
        .endpoints(participant.id, query.endpoint_type.as_deref())
        .await?;
    let items: Vec<Value> = found
        .iter()
        .map(|(t, v)| json!({ "type": t, "value": v }))
        .collect();
    Ok(match query.endpoint_type {
        Some(_) => json_response(200, &items.into_iter().next().unwrap_or_else(|| json!({}))),
        None => json_response(200, &items),
    })
}

// ---- funds in and out --------------------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AmountBody {
    amount: Value,
    currency: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FundsBody {
    transfer_id: String,
    external_reference: String,
    action: String,
    reason: String,
    amount: AmountBody,
    #[serde(default)]
    extension_list: Option<fspiop::error::ExtensionList>,
}

async fn record_funds(
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    FspiopJson(raw): FspiopJson<Value>,
) -> Result<Response> {
    let body: FundsBody =
        service_kit::http::parse_json_body(&serde_json::to_vec(&raw).unwrap_or_default())?;
    let account_id = parse_id(&id)?;
    if body.action != funds::ACTION_FUNDS_IN
        && body.action != funds::ACTION_FUNDS_OUT_PREPARE_RESERVE
    {
        return Err(bad(
            ErrorCode::GenericValidationError,
            format!(
                "action must be {} or {}",
                funds::ACTION_FUNDS_IN,
                funds::ACTION_FUNDS_OUT_PREPARE_RESERVE
            ),
        ));
    }
    if !fspiop::validate::is_correlation_id(&body.transfer_id) {
        return Err(bad(
            ErrorCode::MalformedSyntax,
            "transferId must be a UUID or ULID",
        ));
    }
    check_currency(&body.amount.currency)?;
    let amount = money_field(&body.amount.amount, "amount.amount")?;
    if !amount.is_positive() {
        return Err(bad(
            ErrorCode::GenericValidationError,
            "amount.amount must be greater than zero",
        ));
    }
    let participant = state.store.participant(&name).await?;
    let account = funds::settlement_account(&participant, account_id)?;
    if account.currency != body.amount.currency {
        return Err(bad(
            ErrorCode::GenericValidationError,
            format!(
                "currency {} does not match the account's {}",
                body.amount.currency, account.currency
            ),
        ));
    }
    let hash = funds::request_hash(&raw);
    if let Some(existing) = state.store.funds_transfer(&body.transfer_id).await? {
        return if existing.hash == hash {
            Ok(empty_response(202))
        } else {
            Err(bad(
                ErrorCode::ModifiedRequest,
                format!(
                    "transfer {} was recorded with different content",
                    body.transfer_id
                ),
            ))
        };
    }
    if body.action == funds::ACTION_FUNDS_OUT_PREPARE_RESERVE {
        let available = ledger::funds::available(state.store.position_value(account_id).await?);
        if amount > available {
            return Err(bad(
                ErrorCode::PayerFspInsufficientLiquidity,
                format!("funds out of {amount} exceeds the {available} available in the settlement account"),
            ));
        }
    }
    let command = FundsCommand {
        action: body.action,
        transfer_id: body.transfer_id,
        participant_name: participant.name,
        account_id,
        amount: Some(amount.to_string()),
        currency: Some(body.amount.currency),
        reason: body.reason,
        external_reference: Some(body.external_reference),
        extension_list: body.extension_list,
        hash,
    };
    state.produce_funds(&command, raw).await?;
    Ok(empty_response(202))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FinishBody {
    action: String,
    reason: String,
}

async fn finish_funds_out(
    State(state): State<AppState>,
    Path((name, id, transfer_id)): Path<(String, String, String)>,
    FspiopJson(raw): FspiopJson<Value>,
) -> Result<Response> {
    let body: FinishBody =
        service_kit::http::parse_json_body(&serde_json::to_vec(&raw).unwrap_or_default())?;
    let account_id = parse_id(&id)?;
    let final_state = match body.action.as_str() {
        funds::ACTION_FUNDS_OUT_COMMIT => "COMMITTED",
        funds::ACTION_FUNDS_OUT_ABORT => "ABORTED_REJECTED",
        _ => {
            return Err(bad(
                ErrorCode::GenericValidationError,
                format!(
                    "action must be {} or {}",
                    funds::ACTION_FUNDS_OUT_COMMIT,
                    funds::ACTION_FUNDS_OUT_ABORT
                ),
            ))
        }
    };
    let participant = state.store.participant(&name).await?;
    funds::settlement_account(&participant, account_id)?;
    let transfer = state
        .store
        .funds_transfer(&transfer_id)
        .await?
        .ok_or_else(|| {
            bad(
                ErrorCode::TransferIdNotFound,
                format!("transfer {transfer_id} not found"),
            )
        })?;
    if transfer.account_id != Some(account_id) {
        return Err(Error::not_found(format!(
            "transfer {transfer_id} does not belong to account {account_id}"
        )));
    }
    if !transfer.is_funds_out {
        return Err(bad(
            ErrorCode::GenericClientError,
            format!("transfer {transfer_id} is not a funds out"),
        ));
    }
    match transfer.state.as_deref() {
        Some("RESERVED") => {}
        Some(current) if current == final_state => return Ok(empty_response(202)),
        Some(current) => {
            return Err(bad(
                ErrorCode::GenericClientError,
                format!("transfer {transfer_id} is {current}, not RESERVED"),
            ))
        }
        None => {
            return Err(bad(
                ErrorCode::GenericClientError,
                format!("transfer {transfer_id} is still being recorded"),
            ))
        }
    }
    let command = FundsCommand {
        action: body.action,
        transfer_id,
        participant_name: participant.name,
        account_id,
        amount: None,
        currency: None,
        reason: body.reason,
        external_reference: None,
        extension_list: None,
        hash: funds::request_hash(&raw),
    };
    state.produce_funds(&command, raw).await?;
    Ok(empty_response(202))
}

// ---- settlement models and ledger account types ------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateSettlementModel {
    name: String,
    settlement_granularity: String,
    settlement_interchange: String,
    settlement_delay: String,
    #[serde(default)]
    currency: Option<String>,
    require_liquidity_check: bool,
    ledger_account_type: String,
    auto_position_reset: bool,
    settlement_account_type: String,
}

const MODEL_COMBINATIONS: &[(&str, &str, &str)] = &[
    ("IMMEDIATE", "GROSS", "BILATERAL"),
    ("DEFERRED", "GROSS", "BILATERAL"),
    ("DEFERRED", "NET", "BILATERAL"),
    ("DEFERRED", "NET", "MULTILATERAL"),
];

async fn create_settlement_model(
    State(state): State<AppState>,
    FspiopJson(body): FspiopJson<CreateSettlementModel>,
) -> Result<Response> {
    if !ledger::names::is_valid_settlement_model_name(&body.name) {
        return Err(bad(
            ErrorCode::MalformedSyntax,
            "name must be 2 to 30 letters and digits",
        ));
    }
    for (field, value, allowed) in [
        (
            "settlementGranularity",
            &body.settlement_granularity,
            ["GROSS", "NET"].as_slice(),
        ),
        (
            "settlementInterchange",
            &body.settlement_interchange,
            ["BILATERAL", "MULTILATERAL"].as_slice(),
        ),
        (
            "settlementDelay",
            &body.settlement_delay,
            ["IMMEDIATE", "DEFERRED"].as_slice(),
        ),
    ] {
        if !allowed.contains(&value.as_str()) {
            return Err(bad(
                ErrorCode::GenericClientError,
                format!("Invalid {field} value {value:?}"),
            ));
        }
    }
    let triple = (
        body.settlement_delay.as_str(),
        body.settlement_granularity.as_str(),
        body.settlement_interchange.as_str(),
    );
    if !MODEL_COMBINATIONS.contains(&triple) {
        return Err(bad(ErrorCode::GenericClientError, "Invalid settlement model definition: this delay, granularity and interchange combination is not supported"));
    }
    if let Some(currency) = &body.currency {
        check_currency(currency)?;
    }
    if body.settlement_account_type != ACCOUNT_SETTLEMENT
        && body.settlement_account_type != "INTERCHANGE_FEE_SETTLEMENT"
    {
        return Err(bad(
            ErrorCode::GenericValidationError,
            "settlementAccountType must be SETTLEMENT or INTERCHANGE_FEE_SETTLEMENT",
        ));
    }
    let model = NewSettlementModel {
        name: body.name,
        granularity: body.settlement_granularity,
        interchange: body.settlement_interchange,
        delay: body.settlement_delay,
        currency: body.currency,
        require_liquidity_check: body.require_liquidity_check,
        ledger_account_type: body.ledger_account_type,
        settlement_account_type: body.settlement_account_type,
        auto_position_reset: body.auto_position_reset,
    };
    state.store.create_settlement_model(&model).await?;
    Ok(empty_response(201))
}

fn model_json(model: &crate::store::SettlementModel) -> Value {
    json!({
        "settlementModelId": model.id,
        "name": model.name,
        "isActive": model.is_active,
        "settlementGranularity": model.granularity,
        "settlementInterchange": model.interchange,
        "settlementDelay": model.delay,
        "currency": model.currency,
        "requireLiquidityCheck": model.require_liquidity_check,
        "ledgerAccountTypeId": model.ledger_account_type,
        "settlementAccountTypeId": model.settlement_account_type,
        "autoPositionReset": model.auto_position_reset,
    })
}

async fn settlement_models(State(state): State<AppState>) -> Result<Response> {
    let models = state.store.settlement_models(None).await?;
    Ok(json_response(
        200,
        &models.iter().map(model_json).collect::<Vec<_>>(),
    ))
}

async fn settlement_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response> {
    let models = state.store.settlement_models(Some(&name)).await?;
    let model = models
        .first()
        .ok_or_else(|| Error::not_found(format!("settlement model {name} not found")))?;
    Ok(json_response(200, &model_json(model)))
}

async fn update_settlement_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
    FspiopJson(body): FspiopJson<IsActive>,
) -> Result<Response> {
    let active = bool_like(&body.is_active, "isActive")?;
    state
        .store
        .set_settlement_model_active(&name, active)
        .await?;
    settlement_model(State(state), Path(name)).await
}

async fn ledger_account_types(State(state): State<AppState>) -> Result<Response> {
    let types = state.store.ledger_account_types().await?;
    let body: Vec<Value> = types
        .iter()
        .map(|t| json!({ "ledgerAccountTypeId": t.id, "name": t.name, "description": t.description, "isActive": flag(t.is_active), "isSettleable": t.is_settleable, "createdDate": t.created_date }))
        .collect();
    Ok(json_response(200, &body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateLedgerAccountType {
    name: String,
    description: String,
    is_active: bool,
    is_settleable: bool,
}

async fn create_ledger_account_type(
    State(state): State<AppState>,
    FspiopJson(body): FspiopJson<CreateLedgerAccountType>,
) -> Result<Response> {
    let name_ok = (2..=30).contains(&body.name.len())
        && body
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if !name_ok {
        return Err(bad(
            ErrorCode::MalformedSyntax,
            "name must be 2 to 30 letters, digits or '_'",
        ));
    }
    state
        .store
        .create_ledger_account_type(
            &body.name,
            &body.description,
            body.is_active,
            body.is_settleable,
        )
        .await?;
    Ok(empty_response(201))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_renders_as_json_numbers() {
        let m = |t: &str| Money::parse(t).unwrap_or_default();
        assert_eq!(json_money(m("1000")).to_string(), "1000");
        assert_eq!(json_money(m("-1000")).to_string(), "-1000");
        assert_eq!(json_money(m("0.5")).to_string(), "0.5");
        assert_eq!(json_money(m("1234.5678")).to_string(), "1234.5678");
    }

    #[test]
    fn amounts_come_as_numbers_or_strings() {
        assert_eq!(
            money_field(&json!(10.25), "a")
                .map(|m| m.to_string())
                .ok()
                .as_deref(),
            Some("10.25")
        );
        assert_eq!(
            money_field(&json!("10.25"), "a")
                .map(|m| m.to_string())
                .ok()
                .as_deref(),
            Some("10.25")
        );
        assert!(money_field(&json!(1.23456), "a").is_err());
        assert!(money_field(&json!(true), "a").is_err());
    }
}
