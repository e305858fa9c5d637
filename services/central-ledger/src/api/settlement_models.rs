//! Settlement models and ledger account types.

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct CreateSettlementModel {
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

pub(super) async fn create_settlement_model(
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

pub(super) async fn settlement_models(State(state): State<AppState>) -> Result<Response> {
    let models = state.store.settlement_models(None).await?;
    Ok(json_response(
        200,
        &models.iter().map(model_json).collect::<Vec<_>>(),
    ))
}

pub(super) async fn settlement_model(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response> {
    let models = state.store.settlement_models(Some(&name)).await?;
    let model = models
        .first()
        .ok_or_else(|| Error::not_found(format!("settlement model {name} not found")))?;
    Ok(json_response(200, &model_json(model)))
}

pub(super) async fn update_settlement_model(
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

pub(super) async fn ledger_account_types(State(state): State<AppState>) -> Result<Response> {
    let types = state.store.ledger_account_types().await?;
    let body: Vec<Value> = types
        .iter()
        .map(|t| json!({ "ledgerAccountTypeId": t.id, "name": t.name, "description": t.description, "isActive": flag(t.is_active), "isSettleable": t.is_settleable, "createdDate": t.created_date }))
        .collect();
    Ok(json_response(200, &body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct CreateLedgerAccountType {
    name: String,
    description: String,
    is_active: bool,
    is_settleable: bool,
}

pub(super) async fn create_ledger_account_type(
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
