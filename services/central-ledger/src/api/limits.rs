//! Net debit caps and initial positions.

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct LimitBody {
    #[serde(rename = "type")]
    limit_type: String,
    value: Value,
    #[serde(default)]
    alarm_percentage: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct InitialPositionAndLimits {
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

pub(super) async fn initial_position_and_limits(
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
pub(super) struct LimitsQuery {
    currency: Option<String>,
    #[serde(rename = "type")]
    limit_type: Option<String>,
}

pub(super) async fn participant_limits(
    State(state): State<AppState>,
    Path(name): Path<String>,
    FspiopQuery(query): FspiopQuery<LimitsQuery>,
) -> Result<Response> {
    query.currency.as_deref().map_or(Ok(()), check_currency)?;
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

pub(super) async fn all_limits(
    State(state): State<AppState>,
    FspiopQuery(query): FspiopQuery<LimitsQuery>,
) -> Result<Response> {
    query.currency.as_deref().map_or(Ok(()), check_currency)?;
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
pub(super) struct AdjustLimit {
    currency: String,
    limit: LimitBody,
}

pub(super) async fn adjust_limit(
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
