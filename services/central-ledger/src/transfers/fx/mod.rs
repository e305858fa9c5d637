//! Currency conversion (FSPIOP 2.0 `/fxTransfers`), payer conversion, on the ledger book.
//!
//! | message | topic / action | what the ledger does |
//! | --- | --- | --- |
//! | `POST /fxTransfers` | prepare / `fx-prepare` | validates, records, reserves the initiator's source-currency position (liquidity 4001, net debit cap 4200), RESERVED; the request goes to the FXP |
//! | `PUT /fxTransfers/{ID}` RESERVED or COMMITTED | fulfil / `fx-reserve`, `fx-commit` | the FXP's fulfilment checked against the condition: RECEIVED_FULFIL_DEPENDENT, nothing moves; the FXP's PUT goes to the initiator |
//! | `PUT /fxTransfers/{ID}/error`, or PUT ABORTED | fulfil / `fx-abort`, `fx-reject` | both sides aborted, every reservation given back |
//! | `POST /transfers` with `transferId` = `determiningTransferId` | prepare / `prepare` | (in `prepare`) the dependent transfer reserves the FXP's target-currency position |
//! | the dependent transfer's `PUT /transfers/{ID}` | fulfil / `commit` | (in `fulfil`) both commit in one journal; `PATCH /fxTransfers/{ID}` COMMITTED to the FXP |
//! | `GET /fxTransfers/{ID}` | get / `fx-get` | answered from the conversion's state |
//!
//! The postings are `ledger::fx`'s (pure); every write goes through the ledger book's
//! [`Journal`]. Lock order: conversions, then transfers, then positions (every writer of a
//! dependent transfer holds its conversion's row lock).
//!
//! Differences from Mojaloop (`docs/design/fx-mojaloop-notes.md` §5): a callback from anyone
//! but the conversion's FXP is refused to its sender and changes nothing; a fulfilment is
//! required and checked; PUT ABORTED aborts like PUT …/error; the dependent transfer must come
//! from the initiator, in the target currency, for the target amount; commit, abort and expiry
//! of the two sides happen in one transaction; `determiningTransferId` and `expiration` are
//! required (3100) as payee-side conversion and bulk purchase are not supported.

use std::collections::{HashMap, HashSet};

use fspiop::envelope::{action, decode_payload, Message};
use fspiop::headers::{media_type, Version};
use fspiop::types::{FxTransfersIdPutResponse, FxTransfersPostRequest};
use fspiop::validate::UnknownFields;
use fspiop::{ErrorCode, ErrorInformationObject, FspiopError};
use ledger::fx::Conversion;
use ledger::transfer::{BatchPrepare, PrepareRejection, State};
use ledger::Money;
use ledger_book::{Journal, StateIds};
use serde_json::{json, Value};
use sqlx::{Executor, MySql, QueryBuilder};

use super::notify::{Body, Notifier};
use super::prepare::{
    db_datetime, in_list, load_participants, lock_and_decide, rejection_error, ParticipantRow,
};
use super::{body_hash, DbTime};

mod expiry;
mod fulfil;
mod prepare;

use crate::error::{Error, Result};
use crate::store::{Store, Tx};
pub use expiry::{expire_all, next_expiration_ms, sweep};
pub use fulfil::{fulfil, is_fx_action, parse_fulfil, FulfilOutcome, FxFulfil};
pub use prepare::{parse_prepare, prepare, FxPrepare, Outcome};

const ROLE_INITIATING_FSP: u32 = 6;
const ROLE_COUNTER_PARTY_FSP: u32 = 7;
const ENTRY_PRINCIPLE_VALUE: u32 = 1;
const FX_SOURCE: u32 = 1;
const FX_TARGET: u32 = 2;

/// The media type of the hub's own `/fxTransfers` messages.
pub fn content_type() -> String {
    media_type("fxTransfers", Version::new(2, 0))
}

/// A hub message about conversion `id` to `to` (the fxTransfers media type).
pub fn from_hub(
    notifier: &Notifier,
    id: &str,
    to: &str,
    action: &str,
    body: Body<'_>,
    now_ms: i64,
) -> Message {
    let mut message = notifier.from_hub(
        id,
        to,
        action,
        body,
        &uuid::Uuid::new_v4().to_string(),
        now_ms,
    );
    message
        .content
        .headers
        .insert("content-type".to_string(), content_type());
    message
}

/// The hub's `PATCH /fxTransfers/{ID}` to the FXP: the conversion committed or aborted with
/// its dependent transfer.
pub fn patch(notifier: &Notifier, fx: &FxRow, committed: bool, now_ms: i64) -> Message {
    let payload = json!({
        "conversionState": if committed { "COMMITTED" } else { "ABORTED" },
        "completedTimestamp": fspiop::datetime::format_date_time(now_ms),
    });
    from_hub(
        notifier,
        &fx.id,
        &fx.fxp,
        action::FX_NOTIFY,
        Body::Payload(&payload),
        now_ms,
    )
}

/// A conversion as the ledger holds it.
#[derive(Debug, Clone)]
pub struct FxRow {
    pub id: String,
    pub determining_transfer_id: String,
    pub source_amount: Money,
    pub source_currency: String,
    pub target_amount: Money,
    pub target_currency: String,
    pub condition: String,
    pub expiration_ms: i64,
    pub state: State,
    pub initiator: String,
    pub fxp: String,
    pub initiator_source: u32,
    pub fxp_source: u32,
    pub fxp_target: u32,
}

impl FxRow {
    /// The pure core's view, with the dependent transfer's payee account.
    pub fn conversion(&self, payee_target: u32) -> Conversion {
        Conversion {
            source_amount: self.source_amount,
            target_amount: self.target_amount,
            initiator_source: self.initiator_source,
            fxp_source: self.fxp_source,
            fxp_target: self.fxp_target,
            payee_target,
        }
    }
}

/// Which column [`load`] selects by.
#[derive(Debug, Clone, Copy)]
pub enum By {
    CommitRequestId,
    DeterminingTransferId,
}

/// The conversions whose `commitRequestId` (or `determiningTransferId`) is in `ids`, with
/// their latest states, in one read.
pub async fn load<'e, E>(executor: E, by: By, ids: &[String]) -> Result<Vec<FxRow>>
where
    E: Executor<'e, Database = MySql>,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        i64,
        Option<String>,
        String,
        u32,
        String,
        u32,
        u32,
    );
    let column = match by {
        By::CommitRequestId => "f.commitRequestId",
        By::DeterminingTransferId => "f.determiningTransferId",
    };
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT f.commitRequestId, f.determiningTransferId, CAST(f.sourceAmount AS CHAR), f.sourceCurrency,
                CAST(f.targetAmount AS CHAR), f.targetCurrency, f.ilpCondition,
                CAST(ROUND(UNIX_TIMESTAMP(f.expirationDate) * 1000) AS SIGNED),
                (SELECT s.transferStateId FROM fxTransferStateChange s WHERE s.commitRequestId = f.commitRequestId
                  ORDER BY s.fxTransferStateChangeId DESC LIMIT 1),
                ini.name, ip.participantCurrencyId, fxp.name, sp.participantCurrencyId, tp.participantCurrencyId
         FROM fxTransfer f
         STRAIGHT_JOIN fxTransferParticipant ip ON ip.commitRequestId = f.commitRequestId AND ip.transferParticipantRoleTypeId = 6
         STRAIGHT_JOIN participant ini ON ini.participantId = ip.participantId
         STRAIGHT_JOIN fxTransferParticipant sp ON sp.commitRequestId = f.commitRequestId AND sp.transferParticipantRoleTypeId = 7 AND sp.fxParticipantCurrencyTypeId = 1
         STRAIGHT_JOIN participant fxp ON fxp.participantId = sp.participantId
         STRAIGHT_JOIN fxTransferParticipant tp ON tp.commitRequestId = f.commitRequestId AND tp.transferParticipantRoleTypeId = 7 AND tp.fxParticipantCurrencyTypeId = 2
         WHERE ",
    );
    query.push(column).push(" IN (");
    in_list(&mut query, ids);
    query.push(" ORDER BY f.commitRequestId");
    let rows: Vec<Row> = query.build_query_as().fetch_all(executor).await?;
    rows.into_iter()
        .map(|row| {
            let state = row.8.unwrap_or_default();
            Ok(FxRow {
                id: row.0,
                determining_transfer_id: row.1,
                source_amount: Money::parse(&row.2).map_err(Error::Money)?,
                source_currency: row.3,
                target_amount: Money::parse(&row.4).map_err(Error::Money)?,
                target_currency: row.5,
                condition: row.6,
                expiration_ms: row.7,
                state: State::parse(&state).ok_or_else(|| {
                    ledger_book::broken(format!("conversion has unknown state {state:?}"))
                })?,
                initiator: row.9,
                initiator_source: row.10,
                fxp: row.11,
                fxp_source: row.12,
                fxp_target: row.13,
            })
        })
        .collect()
}

/// The dependent transfers holding a reservation on a conversion: `(transferId,
/// commitRequestId)` for the given transfer ids or commit request ids.
pub async fn dependents<'e, E>(executor: E, by: By, ids: &[String]) -> Result<Vec<(String, String)>>
where
    E: Executor<'e, Database = MySql>,
{
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let column = match by {
        By::CommitRequestId => "commitRequestId",
        By::DeterminingTransferId => "determiningTransferId",
    };
    let mut query = QueryBuilder::<MySql>::new(format!(
        "SELECT determiningTransferId, commitRequestId FROM fxDependentTransfer WHERE {column} IN ("
    ));
    in_list(&mut query, ids);
    Ok(query.build_query_as().fetch_all(executor).await?)
}

/// The conversions that name one of `transfer_ids` as their determining transfer (a plain
/// read, before the caller's transaction: the rows are written before the dependent transfer
/// can be sent).
pub async fn candidates(store: &Store, transfer_ids: &[String]) -> Result<Vec<String>> {
    if transfer_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT commitRequestId FROM fxTransfer WHERE determiningTransferId IN (",
    );
    in_list(&mut query, transfer_ids);
    let rows: Vec<(String,)> = query.build_query_as().fetch_all(&store.pool).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Records the conversions' errors, each linked to its RECEIVED_ERROR (or RESERVED_TIMEOUT /
/// ABORTED_REJECTED) state change.
pub async fn record_errors(
    tx: &mut Tx<'_>,
    state_ids: &StateIds,
    errors: &[(String, State, u32, String)],
) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(errors.len());
    for (id, state, code, description) in errors {
        rows.push((id, state_ids.require_fx(id, *state)?, code, description));
    }
    let mut query = QueryBuilder::<MySql>::new(
        "INSERT INTO fxTransferError (commitRequestId, fxTransferStateChangeId, errorCode, errorDescription) ",
    );
    query.push_values(&rows, |mut row, (id, change, code, description)| {
        row.push_bind((*id).clone())
            .push_bind(*change)
            .push_bind(**code)
            .push_bind(fspiop::error::truncate_chars(description, 128));
    });
    query.build().execute(&mut **tx).await?;
    Ok(())
}

/// Puts committed conversions in the settlement window their dependent transfer went to.
pub async fn settle_in_window(tx: &mut Tx<'_>, ids: &[String], window: Option<u64>) -> Result<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut query =
        QueryBuilder::<MySql>::new("UPDATE fxTransferFulfilment SET settlementWindowId = ");
    query.push_bind(window);
    query.push(" WHERE commitRequestId IN (");
    in_list(&mut query, ids);
    query.build().execute(&mut **tx).await?;
    Ok(())
}

fn header(message: &Message, name: &str, fallback: &str) -> String {
    message
        .content
        .headers
        .get(name)
        .cloned()
        .unwrap_or_else(|| fallback.to_string())
}

fn body_of(message: &Message) -> std::result::Result<Value, FspiopError> {
    decode_payload(&message.content.payload)
        .map_err(|e| FspiopError::with_detail(ErrorCode::MalformedSyntax, e.to_string()))
        .and_then(|p| {
            p.to_json()
                .map_err(|e| FspiopError::with_detail(ErrorCode::MalformedSyntax, e.to_string()))
        })
}

fn error_code_of(error: &FspiopError) -> u32 {
    error
        .to_error_information()
        .error_code
        .parse::<u32>()
        .unwrap_or(u32::from(error.code.code()))
}

/// The dependent transfer of a conversion, as an abort or expiry needs it.
#[derive(Debug, Clone)]
pub struct Dependent {
    pub id: String,
    pub state: State,
    pub payer: String,
    pub payee: String,
    pub payee_account: u32,
}

/// The dependent transfers of `links` with their states and parties.
pub async fn load_dependents(
    tx: &mut Tx<'_>,
    links: &[(String, String)],
) -> Result<HashMap<String, Dependent>> {
    if links.is_empty() {
        return Ok(HashMap::new());
    }
    let transfer_ids: Vec<String> = links.iter().map(|(t, _)| t.clone()).collect();
    type Row = (String, Option<String>, String, String, u32);
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT t.transferId,
                (SELECT tsc.transferStateId FROM transferStateChange tsc WHERE tsc.transferId = t.transferId
                  ORDER BY tsc.transferStateChangeId DESC LIMIT 1),
                payer.name, payee.name, tpe.participantCurrencyId
         FROM transfer t
         STRAIGHT_JOIN transferParticipant tpa ON tpa.transferId = t.transferId AND tpa.transferParticipantRoleTypeId = 1
         STRAIGHT_JOIN participant payer ON payer.participantId = tpa.participantId
         STRAIGHT_JOIN transferParticipant tpe ON tpe.transferId = t.transferId AND tpe.transferParticipantRoleTypeId = 2
         STRAIGHT_JOIN participant payee ON payee.participantId = tpe.participantId
         WHERE t.transferId IN (",
    );
    in_list(&mut query, &transfer_ids);
    let rows: Vec<Row> = query.build_query_as().fetch_all(&mut **tx).await?;
    let by_transfer: HashMap<String, &String> = links.iter().map(|(t, f)| (t.clone(), f)).collect();
    let mut out = HashMap::new();
    for (id, state, payer, payee, payee_account) in rows {
        let state = state.unwrap_or_default();
        let state = State::parse(&state).ok_or_else(|| {
            ledger_book::broken(format!("transfer {id} has unknown state {state:?}"))
        })?;
        if let Some(fx) = by_transfer.get(&id) {
            out.insert(
                (*fx).clone(),
                Dependent {
                    id,
                    state,
                    payer,
                    payee,
                    payee_account,
                },
            );
        }
    }
    Ok(out)
}

/// Records transfers' errors, each linked to its change to `at`.
pub async fn record_transfer_errors(
    tx: &mut Tx<'_>,
    state_ids: &StateIds,
    errors: &[(String, u32, String)],
    at: State,
) -> Result<()> {
    if errors.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(errors.len());
    for (id, code, description) in errors {
        rows.push((id, state_ids.require(id, at)?, code, description));
    }
    let mut query = QueryBuilder::<MySql>::new(
        "INSERT INTO transferError (transferId, transferStateChangeId, errorCode, errorDescription) ",
    );
    query.push_values(&rows, |mut row, (id, change, code, description)| {
        row.push_bind((*id).clone())
            .push_bind(*change)
            .push_bind(**code)
            .push_bind(fspiop::error::truncate_chars(description, 128));
    });
    query.build().execute(&mut **tx).await?;
    Ok(())
}

// ---- get: answered from the conversion's state --------------------------------------------

/// The state object of a conversion (`PUT /fxTransfers/{ID}` shape), or the error for
/// `requester` (3208 unknown, 3000 not one of its two parties).
pub async fn answer_get(
    store: &Store,
    id: &str,
    requester: &str,
) -> Result<std::result::Result<Value, FspiopError>> {
    let parties: Vec<(String,)> = sqlx::query_as(
        "SELECT p.name FROM fxTransferParticipant fp STRAIGHT_JOIN participant p ON p.participantId = fp.participantId WHERE fp.commitRequestId = ?",
    )
    .bind(id)
    .fetch_all(&store.pool)
    .await?;
    let not_found = || {
        FspiopError::with_detail(
            ErrorCode::TransferIdNotFound,
            format!("fxTransfer {id} not found"),
        )
    };
    if parties.is_empty() {
        return Ok(Err(not_found()));
    }
    if !parties
        .iter()
        .any(|(name,)| name.eq_ignore_ascii_case(requester))
    {
        return Ok(Err(FspiopError::with_detail(
            ErrorCode::GenericClientError,
            format!("{requester} is not a party of fxTransfer {id}"),
        )));
    }
    let latest = ledger_book::latest_fx_many(&store.pool, &[id.to_string()]).await?;
    Ok(latest.get(id).map(|l| l.fx_payload()).ok_or_else(not_found))
}
