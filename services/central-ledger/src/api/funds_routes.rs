//! Funds in and out: checked here, applied by the admin-transfer handler.

use super::*;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AmountBody {
    amount: Value,
    currency: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct FundsBody {
    transfer_id: String,
    external_reference: String,
    action: String,
    reason: String,
    amount: AmountBody,
    #[serde(default)]
    extension_list: Option<fspiop::error::ExtensionList>,
}

pub(super) async fn record_funds(
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
pub(super) struct FinishBody {
    action: String,
    reason: String,
}

pub(super) async fn finish_funds_out(
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
