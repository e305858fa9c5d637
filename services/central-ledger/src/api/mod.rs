//! The admin HTTP API, compatible with Mojaloop's central-ledger admin routes and bodies.
//! Handlers check input, call one store or funds function and shape the answer.

use axum::extract::{FromRequestParts, Path, Query, State};
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

mod endpoints;
mod funds_routes;
mod limits;
mod participants;
mod settlement_models;

use endpoints::*;
use funds_routes::*;
use limits::*;
use participants::*;
use settlement_models::*;

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

/// Query parameters; a query that does not deserialize (a parameter given twice, …) is
/// 400 / 3101 with an FSPIOP error body, not axum's plain-text rejection (found by the API
/// fuzz, interop/apifuzz).
pub(super) struct FspiopQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for FspiopQuery<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(query)| FspiopQuery(query))
            .map_err(|rejection| bad(ErrorCode::MalformedSyntax, rejection.body_text()))
    }
}

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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct IsActive {
    is_active: Value,
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
