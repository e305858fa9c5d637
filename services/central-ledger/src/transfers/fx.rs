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
use crate::error::{Error, Result};
use crate::store::{Store, Tx};

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
         JOIN fxTransferParticipant ip ON ip.commitRequestId = f.commitRequestId AND ip.transferParticipantRoleTypeId = 6
         JOIN participant ini ON ini.participantId = ip.participantId
         JOIN fxTransferParticipant sp ON sp.commitRequestId = f.commitRequestId AND sp.transferParticipantRoleTypeId = 7 AND sp.fxParticipantCurrencyTypeId = 1
         JOIN participant fxp ON fxp.participantId = sp.participantId
         JOIN fxTransferParticipant tp ON tp.commitRequestId = f.commitRequestId AND tp.transferParticipantRoleTypeId = 7 AND tp.fxParticipantCurrencyTypeId = 2
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

// ---- prepare ------------------------------------------------------------------------------

/// One `fx-prepare` message.
#[derive(Debug, Clone)]
pub struct FxPrepare {
    pub message: Message,
    pub body: FxTransfersPostRequest,
    pub hash: String,
    pub source: String,
}

/// Parses an `fx-prepare` message; the message and why, when it is not usable.
pub fn parse_prepare(
    message: Message,
) -> std::result::Result<FxPrepare, Box<(Message, FspiopError)>> {
    let body = match body_of(&message) {
        Ok(body) => body,
        Err(error) => return Err(Box::new((message, error))),
    };
    let hash = body_hash(&body);
    match fspiop::types::from_value::<FxTransfersPostRequest>(body, UnknownFields::Allow) {
        Ok(body) => {
            let source = header(&message, "fspiop-source", &message.from);
            Ok(FxPrepare {
                message,
                body,
                hash,
                source,
            })
        }
        Err(error) => Err(Box::new((message, error))),
    }
}

/// An fx prepare that passed validation.
#[derive(Debug, Clone)]
struct ValidFx {
    index: usize,
    determining_transfer_id: String,
    source_amount: Money,
    target_amount: Money,
    expiration_ms: i64,
    initiator_id: u32,
    fxp_id: u32,
    initiator_source: u32,
    initiator_settlement: Option<u32>,
    fxp_source: u32,
    fxp_target: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    Valid,
    Invalid(String),
    Resend,
    Modified,
    InBatchDuplicate { modified: bool },
}

/// What an fx prepare batch came to.
#[derive(Debug, Default)]
pub struct Outcome {
    pub messages: Vec<Message>,
    pub reserved: usize,
    pub rejected: usize,
    pub invalid: usize,
    pub duplicates: usize,
}

fn amount(text: &str) -> std::result::Result<Money, String> {
    Money::parse(text).map_err(|e| match e {
        ledger::MoneyError::TooManyDecimals(_) => {
            format!("Amount {text} exceeds allowed scale of 4")
        }
        _ => format!("Amount {text} exceeds allowed precision of 18"),
    })
}

/// Mojaloop's fx prepare validations in its order, then ours; first failure wins.
#[allow(clippy::too_many_arguments, reason = "the prefetched reads of a batch")]
fn validate(
    incoming: &FxPrepare,
    participants: &HashMap<String, ParticipantRow>,
    existing_transfers: &HashSet<String>,
    live: &HashMap<String, String>,
    on_us_allowed: bool,
    now_ms: i64,
    index: usize,
) -> std::result::Result<ValidFx, String> {
    let b = &incoming.body;
    if incoming.source != b.initiating_fsp {
        return Err("FSPIOP-Source header should match initiatingFsp".into());
    }
    let source_amount = amount(&b.source_amount.amount)?;
    let target_amount = amount(&b.target_amount.amount)?;
    let party = |name: &str| -> std::result::Result<&ParticipantRow, String> {
        let p = participants
            .get(name)
            .ok_or_else(|| format!("Participant {name} not found"))?;
        if p.is_active {
            Ok(p)
        } else {
            Err(format!("Participant {name} is inactive"))
        }
    };
    let initiator = party(&b.initiating_fsp)?;
    let fxp = party(&b.counter_party_fsp)?;
    if !fspiop::ilp::is_canonical_32(&b.condition) {
        return Err("Condition validation failed".into());
    }
    let expiration_ms = b
        .expiration
        .as_deref()
        .and_then(fspiop::datetime::parse_date_time)
        .ok_or_else(|| "Expiration is required for conditional transfer".to_string())?;
    if expiration_ms < now_ms {
        return Err(format!(
            "Expiration date {} is already in the past",
            fspiop::datetime::format_date_time(expiration_ms)
        ));
    }
    if !on_us_allowed && b.initiating_fsp.eq_ignore_ascii_case(&b.counter_party_fsp) {
        return Err("initiatingFsp and counterPartyFsp should be different".into());
    }
    let position = |p: &ParticipantRow, currency: &str| -> std::result::Result<u32, String> {
        let account = p
            .account(currency, "POSITION")
            .ok_or_else(|| format!("Participant {} {currency} account not found", p.name))?;
        if account.is_active {
            Ok(account.id)
        } else {
            Err(format!(
                "Participant {} {currency} account is inactive",
                p.name
            ))
        }
    };
    let (source, target) = (&b.source_amount.currency, &b.target_amount.currency);
    let initiator_source = position(initiator, source)?;
    let fxp_source = position(fxp, source)?;
    let fxp_target = position(fxp, target)?;
    // Ours, after Mojaloop's reasons.
    if source == target {
        return Err(format!(
            "sourceAmount and targetAmount are both in {source}: nothing to convert"
        ));
    }
    let determining = b.determining_transfer_id.clone().ok_or_else(|| {
        "determiningTransferId is required: this switch supports payer conversion only".to_string()
    })?;
    if existing_transfers.contains(&determining) {
        return Err(format!(
            "transfer {determining} already exists: payee-side conversion is not supported"
        ));
    }
    if let Some(other) = live.get(&determining) {
        return Err(format!(
            "transfer {determining} already has conversion {other} in progress"
        ));
    }
    Ok(ValidFx {
        index,
        determining_transfer_id: determining,
        source_amount,
        target_amount,
        expiration_ms,
        initiator_id: initiator.id,
        fxp_id: fxp.id,
        initiator_source,
        initiator_settlement: initiator.account(source, "SETTLEMENT").map(|a| a.id),
        fxp_source,
        fxp_target,
    })
}

/// Handles a batch of `fx-prepare` messages in one transaction; returns the notifications.
pub async fn prepare(
    store: &Store,
    notifier: &Notifier,
    batch: &[FxPrepare],
    on_us_allowed: bool,
    now_ms: i64,
) -> Result<Outcome> {
    let mut tx = store.pool.begin().await?;
    let ids: Vec<String> = batch
        .iter()
        .map(|i| i.body.commit_request_id.clone())
        .collect();
    let mut existing: HashMap<String, String> = HashMap::new();
    {
        let mut query = QueryBuilder::<MySql>::new(
            "SELECT commitRequestId, hash FROM fxTransferDuplicateCheck WHERE commitRequestId IN (",
        );
        in_list(&mut query, &ids);
        let rows: Vec<(String, String)> = query.build_query_as().fetch_all(&mut *tx).await?;
        existing.extend(rows);
    }
    let names: Vec<String> = batch
        .iter()
        .flat_map(|i| {
            [
                i.body.initiating_fsp.clone(),
                i.body.counter_party_fsp.clone(),
            ]
        })
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let participants = load_participants(&mut tx, &names).await?;
    let determining: Vec<String> = batch
        .iter()
        .filter_map(|i| i.body.determining_transfer_id.clone())
        .collect();
    let mut existing_transfers = HashSet::new();
    if !determining.is_empty() {
        let mut query =
            QueryBuilder::<MySql>::new("SELECT transferId FROM transfer WHERE transferId IN (");
        in_list(&mut query, &determining);
        let rows: Vec<(String,)> = query.build_query_as().fetch_all(&mut *tx).await?;
        existing_transfers.extend(rows.into_iter().map(|(id,)| id));
    }
    let mut live: HashMap<String, String> = load(&mut *tx, By::DeterminingTransferId, &determining)
        .await?
        .into_iter()
        .filter(|fx| !fx.state.is_final())
        .map(|fx| (fx.determining_transfer_id, fx.id))
        .collect();

    // Classify (pure).
    let mut first_in_batch: HashMap<&str, &str> = HashMap::new();
    let mut fates = Vec::with_capacity(batch.len());
    let mut valid: Vec<ValidFx> = Vec::new();
    for (index, incoming) in batch.iter().enumerate() {
        let id = incoming.body.commit_request_id.as_str();
        let fate = if let Some(hash) = existing.get(id) {
            if *hash == incoming.hash {
                Fate::Resend
            } else {
                Fate::Modified
            }
        } else if let Some(first) = first_in_batch.get(id) {
            Fate::InBatchDuplicate {
                modified: *first != incoming.hash,
            }
        } else {
            first_in_batch.insert(id, incoming.hash.as_str());
            match validate(
                incoming,
                &participants,
                &existing_transfers,
                &live,
                on_us_allowed,
                now_ms,
                index,
            ) {
                Ok(v) => {
                    live.insert(v.determining_transfer_id.clone(), id.to_string());
                    valid.push(v);
                    Fate::Valid
                }
                Err(reason) => Fate::Invalid(reason),
            }
        };
        fates.push(fate);
    }
    let id_of = |index: usize| {
        batch
            .get(index)
            .map(|b| b.body.commit_request_id.clone())
            .unwrap_or_default()
    };

    // Record the valid ones.
    if !valid.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO fxTransferDuplicateCheck (commitRequestId, hash) ",
        );
        query.push_values(&valid, |mut row, v| {
            let hash = batch
                .get(v.index)
                .map(|b| b.hash.clone())
                .unwrap_or_default();
            row.push_bind(id_of(v.index)).push_bind(hash);
        });
        query.build().execute(&mut *tx).await?;
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO fxTransfer (commitRequestId, determiningTransferId, sourceAmount, sourceCurrency, targetAmount, targetCurrency, ilpCondition, expirationDate) ",
        );
        query.push_values(&valid, |mut row, v| {
            let b = batch.get(v.index).map(|b| &b.body);
            row.push_bind(id_of(v.index))
                .push_bind(v.determining_transfer_id.clone())
                .push_bind(v.source_amount.to_decimal_string())
                .push_bind(
                    b.map(|b| b.source_amount.currency.clone())
                        .unwrap_or_default(),
                )
                .push_bind(v.target_amount.to_decimal_string())
                .push_bind(
                    b.map(|b| b.target_amount.currency.clone())
                        .unwrap_or_default(),
                )
                .push_bind(b.map(|b| b.condition.clone()).unwrap_or_default())
                .push_bind(db_datetime(v.expiration_ms));
        });
        query.build().execute(&mut *tx).await?;
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO fxTransferParticipant (commitRequestId, participantId, participantCurrencyId, transferParticipantRoleTypeId, ledgerEntryTypeId, fxParticipantCurrencyTypeId, amount) ",
        );
        let rows: Vec<(String, u32, u32, u32, Option<u32>, Money)> = valid
            .iter()
            .flat_map(|v| {
                let id = id_of(v.index);
                [
                    (
                        id.clone(),
                        v.initiator_id,
                        v.initiator_source,
                        ROLE_INITIATING_FSP,
                        None,
                        v.source_amount,
                    ),
                    (
                        id.clone(),
                        v.fxp_id,
                        v.fxp_source,
                        ROLE_COUNTER_PARTY_FSP,
                        Some(FX_SOURCE),
                        v.source_amount.negate(),
                    ),
                    (
                        id,
                        v.fxp_id,
                        v.fxp_target,
                        ROLE_COUNTER_PARTY_FSP,
                        Some(FX_TARGET),
                        v.target_amount.negate(),
                    ),
                ]
            })
            .collect();
        query.push_values(
            &rows,
            |mut row, (id, participant, account, role, kind, amount)| {
                row.push_bind(id.clone())
                    .push_bind(*participant)
                    .push_bind(*account)
                    .push_bind(*role)
                    .push_bind(ENTRY_PRINCIPLE_VALUE)
                    .push_bind(*kind)
                    .push_bind(amount.to_decimal_string());
            },
        );
        query.build().execute(&mut *tx).await?;
    }

    // Reserve: the initiators' source positions, checked exactly as prepares are.
    let reservations: Vec<(BatchPrepare, Option<u32>)> = valid
        .iter()
        .map(|v| {
            let conversion = Conversion {
                source_amount: v.source_amount,
                target_amount: v.target_amount,
                initiator_source: v.initiator_source,
                fxp_source: v.fxp_source,
                fxp_target: v.fxp_target,
                payee_target: 0,
            };
            (conversion.fx_reservation(), v.initiator_settlement)
        })
        .collect();
    let (mut positions, decisions) = lock_and_decide(&mut tx, &reservations).await?;
    let mut journal = Journal::new();
    let mut errors = Vec::new();
    for (v, outcome) in valid.iter().zip(&decisions.outcomes) {
        let id = id_of(v.index);
        journal.fx_transition(&id, None, State::ReceivedPrepare, None);
        match outcome {
            Ok(_) => {
                journal.fx_transition(&id, Some(State::ReceivedPrepare), State::Reserved, None)
            }
            Err(rejection) => {
                let error = rejection_error(*rejection);
                journal.fx_transition(
                    &id,
                    Some(State::ReceivedPrepare),
                    State::AbortedRejected,
                    Some(&error.description()),
                );
                errors.push((
                    id,
                    State::AbortedRejected,
                    error_code_of(&error),
                    error.description(),
                ));
            }
        }
    }
    for (k, account, change) in &decisions.moves {
        let v = valid.get(*k).ok_or_else(|| {
            ledger_book::broken(format!("move for fx prepare {k} of {}", valid.len()))
        })?;
        journal.fx_move_position(*account, *change, &id_of(v.index), State::Reserved);
    }
    let state_ids = journal.write(&mut tx, &mut positions).await?;
    record_errors(&mut tx, &state_ids, &errors).await?;
    let reserved: Vec<&ValidFx> = valid
        .iter()
        .zip(&decisions.outcomes)
        .filter(|(_, o)| o.is_ok())
        .map(|(v, _)| v)
        .collect();
    if !reserved.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO fxTransferTimeout (commitRequestId, expirationDate) ",
        );
        query.push_values(&reserved, |mut row, v| {
            row.push_bind(id_of(v.index))
                .push_bind(db_datetime(v.expiration_ms));
        });
        query.build().execute(&mut *tx).await?;
    }
    tx.commit().await?;

    // Notify.
    let decided: HashMap<usize, std::result::Result<Money, PrepareRejection>> = valid
        .iter()
        .zip(&decisions.outcomes)
        .map(|(v, o)| (v.index, *o))
        .collect();
    let resent: Vec<String> = batch
        .iter()
        .zip(&fates)
        .filter(|(_, f)| **f == Fate::Resend)
        .map(|(b, _)| b.body.commit_request_id.clone())
        .collect();
    let latest = ledger_book::latest_fx_many(&store.pool, &resent).await?;
    let mut outcome = Outcome::default();
    for (index, (incoming, fate)) in batch.iter().zip(&fates).enumerate() {
        let id = incoming.body.commit_request_id.as_str();
        let answer = |action: &str, body: Body<'_>| {
            notifier.answer(
                &incoming.message,
                id,
                &incoming.source,
                action,
                body,
                &uuid::Uuid::new_v4().to_string(),
                now_ms,
            )
        };
        match fate {
            Fate::Valid => match decided.get(&index) {
                Some(Ok(_)) => {
                    outcome.reserved += 1;
                    outcome.messages.push(notifier.forward(
                        &incoming.message,
                        action::FX_PREPARE,
                        &uuid::Uuid::new_v4().to_string(),
                        now_ms,
                    ));
                }
                Some(Err(rejection)) => {
                    outcome.rejected += 1;
                    let error = rejection_error(*rejection);
                    outcome
                        .messages
                        .push(answer(action::FX_PREPARE, Body::Error(&error)));
                }
                None => {}
            },
            Fate::Invalid(reason) => {
                outcome.invalid += 1;
                let error =
                    FspiopError::with_detail(ErrorCode::GenericValidationError, reason.clone());
                outcome
                    .messages
                    .push(answer(action::FX_PREPARE, Body::Error(&error)));
            }
            Fate::Modified | Fate::InBatchDuplicate { modified: true } => {
                outcome.duplicates += 1;
                let error = FspiopError::with_detail(
                    ErrorCode::ModifiedRequest,
                    format!("fxTransfer {id} was sent before with different content"),
                );
                outcome
                    .messages
                    .push(answer(action::FX_PREPARE_DUPLICATE, Body::Error(&error)));
            }
            Fate::Resend => {
                outcome.duplicates += 1;
                // Answered with the conversion's state once it is past RECEIVED; one still
                // RESERVED is also sent to the FXP again (after a crash between the commit
                // and the notification the FXP never had it).
                if let Some(latest) = latest.get(id) {
                    if latest.state != State::ReceivedPrepare {
                        let payload = latest.fx_payload();
                        outcome.messages.push(answer(
                            action::FX_PREPARE_DUPLICATE,
                            Body::Payload(&payload),
                        ));
                    }
                    if latest.state == State::Reserved {
                        outcome.messages.push(notifier.forward(
                            &incoming.message,
                            action::FX_PREPARE,
                            &uuid::Uuid::new_v4().to_string(),
                            now_ms,
                        ));
                    }
                }
            }
            Fate::InBatchDuplicate { modified: false } => outcome.duplicates += 1,
        }
    }
    Ok(outcome)
}

// ---- fulfil -------------------------------------------------------------------------------

/// What an FXP's callback asks for.
#[derive(Debug, Clone, PartialEq)]
enum Request {
    /// `PUT` with RESERVED, COMMITTED or RECEIVED: the FXP's fulfilment.
    Fulfil(FxTransfersIdPutResponse),
    /// `PUT` with ABORTED: the FXP refuses (treated as an error, 5100).
    Reject,
    /// `PUT …/error`.
    Abort(ErrorInformationObject),
}

/// One fx fulfil-topic message, parsed.
#[derive(Debug, Clone)]
pub struct FxFulfil {
    message: Message,
    pub id: String,
    pub source: String,
    destination: String,
    request: std::result::Result<Request, FspiopError>,
    hash: String,
}

/// Whether a fulfil-topic action is a conversion's.
pub fn is_fx_action(action: &str) -> bool {
    action.starts_with("fx-")
}

/// Parses an `fx-reserve` / `fx-commit` / `fx-reject` / `fx-abort` message.
pub fn parse_fulfil(message: Message) -> FxFulfil {
    let id = message
        .content
        .uri_params
        .as_ref()
        .map(|u| u.id.clone())
        .unwrap_or_else(|| message.id.clone());
    let source = header(&message, "fspiop-source", &message.from);
    let destination = header(&message, "fspiop-destination", &message.to);
    let body = body_of(&message);
    let hash = body.as_ref().map(body_hash).unwrap_or_default();
    let request = body.and_then(|body| match message.metadata.event.action.as_str() {
        action::FX_ABORT => {
            fspiop::types::from_value::<ErrorInformationObject>(body, UnknownFields::Allow)
                .map(Request::Abort)
        }
        action::FX_REJECT => Ok(Request::Reject),
        action::FX_RESERVE | action::FX_COMMIT => {
            fspiop::types::from_value::<FxTransfersIdPutResponse>(body, UnknownFields::Allow)
                .map(Request::Fulfil)
        }
        other => Err(FspiopError::with_detail(
            ErrorCode::InternalServerError,
            format!("unknown fx fulfil action {other}"),
        )),
    });
    FxFulfil {
        message,
        id,
        source,
        destination,
        request,
        hash,
    }
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

/// What an fx fulfil batch came to.
#[derive(Debug, Default)]
pub struct FulfilOutcome {
    pub messages: Vec<Message>,
    pub fulfilled: usize,
    pub aborted: usize,
    pub refused: usize,
}

#[derive(Default)]
struct Writes {
    journal: Journal,
    fulfil_hashes: Vec<(String, String)>,
    error_hashes: Vec<(String, String)>,
    fulfilments: Vec<(String, String, i64)>,
    fx_errors: Vec<(String, State, u32, String)>,
    transfer_errors: Vec<(String, u32, String)>,
}

/// Handles a batch of FXP callbacks in one transaction; returns the notifications.
pub async fn fulfil(
    store: &Store,
    notifier: &Notifier,
    batch: &[FxFulfil],
    now_ms: i64,
) -> Result<FulfilOutcome> {
    let mut ids: Vec<String> = batch.iter().map(|i| i.id.clone()).collect();
    ids.sort();
    ids.dedup();
    let mut tx = store.pool.begin().await?;
    // First: the conversions' locks (every writer of a dependent transfer holds them too, so
    // the reads below, whose snapshot starts after them, are current).
    ledger_book::lock_fx_transfers(&mut tx, &ids).await?;
    let mut conversions: HashMap<String, FxRow> = load(&mut *tx, By::CommitRequestId, &ids)
        .await?
        .into_iter()
        .map(|fx| (fx.id.clone(), fx))
        .collect();
    let links = dependents(&mut *tx, By::CommitRequestId, &ids).await?;
    let transfer_ids: Vec<String> = links.iter().map(|(t, _)| t.clone()).collect();
    ledger_book::lock_transfers(&mut tx, &transfer_ids).await?;
    let mut dependent_of = load_dependents(&mut tx, &links).await?;
    let mut fulfil_hashes =
        stored_hashes(&mut tx, "fxTransferFulfilmentDuplicateCheck", &ids).await?;
    let mut error_hashes = stored_hashes(&mut tx, "fxTransferErrorDuplicateCheck", &ids).await?;
    let finals: Vec<String> = conversions
        .values()
        .filter(|fx| fx.state.is_final() || fx.state == State::ReceivedFulfilDependent)
        .map(|fx| fx.id.clone())
        .collect();
    let answered: HashMap<String, Value> = ledger_book::latest_fx_many(&mut *tx, &finals)
        .await?
        .into_iter()
        .map(|(id, latest)| (id, latest.fx_payload()))
        .collect();

    let mut writes = Writes::default();
    let mut outcome = FulfilOutcome::default();
    for incoming in batch {
        decide_fulfil(
            incoming,
            &mut conversions,
            &mut dependent_of,
            &mut fulfil_hashes,
            &mut error_hashes,
            &answered,
            &mut writes,
            &mut outcome,
            notifier,
            now_ms,
        );
    }
    flush(&mut tx, writes).await?;
    tx.commit().await?;
    Ok(outcome)
}

async fn stored_hashes(
    tx: &mut Tx<'_>,
    table: &str,
    ids: &[String],
) -> Result<HashMap<String, String>> {
    let mut query = QueryBuilder::<MySql>::new(format!(
        "SELECT commitRequestId, hash FROM {table} WHERE commitRequestId IN ("
    ));
    in_list(&mut query, ids);
    let rows: Vec<(String, String)> = query.build_query_as().fetch_all(&mut **tx).await?;
    Ok(rows.into_iter().collect())
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
         JOIN transferParticipant tpa ON tpa.transferId = t.transferId AND tpa.transferParticipantRoleTypeId = 1
         JOIN participant payer ON payer.participantId = tpa.participantId
         JOIN transferParticipant tpe ON tpe.transferId = t.transferId AND tpe.transferParticipantRoleTypeId = 2
         JOIN participant payee ON payee.participantId = tpe.participantId
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

/// Records the abort of a conversion (and of its reserved dependent transfer) and the
/// messages that tell everyone: the error to the initiator (relayed when `relay` is the FXP's
/// own message, else from the hub), the error to the FXP when it did not send it, and for a
/// reserved dependent transfer its error to payer and payee.
#[allow(clippy::too_many_arguments, reason = "the parts of one abort")]
fn abort_conversion(
    fx: &FxRow,
    dependent: Option<&Dependent>,
    error: &FspiopError,
    relay: Option<&Message>,
    writes: &mut Writes,
    messages: &mut Vec<Message>,
    notifier: &Notifier,
    now_ms: i64,
) -> bool {
    let reserved = dependent.filter(|d| d.state == State::Reserved);
    let payee_target = reserved.map_or(0, |d| d.payee_account);
    let Some(finish) =
        ledger::fx::abort(&fx.conversion(payee_target), fx.state, reserved.is_some())
    else {
        return false;
    };
    let description = error.description();
    let code = error_code_of(error);
    writes
        .journal
        .fx_post(&fx.id, fx.state, &finish.fx, Some(&description));
    writes.fx_errors.push((
        fx.id.clone(),
        State::ReceivedError,
        code,
        description.clone(),
    ));
    match relay {
        Some(original) => {
            let mut message = notifier.forward(
                original,
                action::FX_ABORT,
                &uuid::Uuid::new_v4().to_string(),
                now_ms,
            );
            message.to = fx.initiator.clone();
            messages.push(message);
        }
        None => {
            for to in [&fx.initiator, &fx.fxp] {
                messages.push(from_hub(
                    notifier,
                    &fx.id,
                    to,
                    action::FX_ABORT_VALIDATION,
                    Body::Error(error),
                    now_ms,
                ));
            }
        }
    }
    if let (Some(d), Some(posting)) = (reserved, &finish.dependent) {
        writes
            .journal
            .post(&d.id, d.state, posting, Some(&description));
        writes
            .transfer_errors
            .push((d.id.clone(), code, description.clone()));
        for to in [&d.payer, &d.payee] {
            messages.push(notifier.from_hub(
                &d.id,
                to,
                action::ABORT_VALIDATION,
                Body::Error(error),
                &uuid::Uuid::new_v4().to_string(),
                now_ms,
            ));
        }
    }
    true
}

#[allow(
    clippy::too_many_arguments,
    reason = "the batch's state, decided in order"
)]
fn decide_fulfil(
    incoming: &FxFulfil,
    conversions: &mut HashMap<String, FxRow>,
    dependent_of: &mut HashMap<String, Dependent>,
    fulfil_hashes: &mut HashMap<String, String>,
    error_hashes: &mut HashMap<String, String>,
    answered: &HashMap<String, Value>,
    writes: &mut Writes,
    outcome: &mut FulfilOutcome,
    notifier: &Notifier,
    now_ms: i64,
) {
    let id = incoming.id.as_str();
    let tell = |action: &str, body: Body<'_>| {
        notifier.answer(
            &incoming.message,
            id,
            &incoming.source,
            action,
            body,
            &uuid::Uuid::new_v4().to_string(),
            now_ms,
        )
    };
    let request = match &incoming.request {
        Ok(request) => request,
        Err(error) => {
            outcome.refused += 1;
            outcome
                .messages
                .push(tell(action::FX_RESERVE, Body::Error(error)));
            return;
        }
    };
    let Some(fx) = conversions.get(id).cloned() else {
        outcome.refused += 1;
        let error = FspiopError::with_detail(
            ErrorCode::TransferIdNotFound,
            format!("fxTransfer {id} not found"),
        );
        outcome
            .messages
            .push(tell(action::FX_RESERVE, Body::Error(&error)));
        return;
    };
    let is_abort = !matches!(request, Request::Fulfil(_));
    // Only the conversion's FXP may answer it, and only to its initiator: anyone else is
    // refused and nothing changes (Mojaloop aborts the conversion first).
    let destination_ok =
        incoming.destination.is_empty() || incoming.destination.eq_ignore_ascii_case(&fx.initiator);
    if !incoming.source.eq_ignore_ascii_case(&fx.fxp) || !destination_ok {
        outcome.refused += 1;
        let which = if incoming.source.eq_ignore_ascii_case(&fx.fxp) {
            "fspiop-destination does not match initiatingFsp"
        } else {
            "fspiop-source does not match counterPartyFsp"
        };
        let error = FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            format!("{which} on the fxTransfer callback"),
        );
        let action = if is_abort {
            action::FX_ABORT
        } else {
            action::FX_RESERVE
        };
        outcome.messages.push(tell(action, Body::Error(&error)));
        return;
    }
    let (hashes, new_hashes, duplicate_action) = if is_abort {
        (
            error_hashes,
            &mut writes.error_hashes,
            action::FX_ABORT_DUPLICATE,
        )
    } else {
        (
            fulfil_hashes,
            &mut writes.fulfil_hashes,
            action::FX_FULFIL_DUPLICATE,
        )
    };
    if let Some(stored) = hashes.get(id) {
        if *stored != incoming.hash {
            let error = FspiopError::with_detail(
                ErrorCode::ModifiedRequest,
                format!("fxTransfer {id} callback was sent before with different content"),
            );
            outcome
                .messages
                .push(tell(duplicate_action, Body::Error(&error)));
        } else if let Some(payload) = answered.get(id) {
            outcome
                .messages
                .push(tell(duplicate_action, Body::Payload(payload)));
            // The initiator hears of the fulfilment again: after a crash between the commit
            // and the notification this is the only way it does.
            if fx.state == State::ReceivedFulfilDependent && !is_abort {
                let mut message = notifier.forward(
                    &incoming.message,
                    action::FX_RESERVE,
                    &uuid::Uuid::new_v4().to_string(),
                    now_ms,
                );
                message.to = fx.initiator.clone();
                outcome.messages.push(message);
            }
        }
        return;
    }
    hashes.insert(id.to_string(), incoming.hash.clone());
    new_hashes.push((id.to_string(), incoming.hash.clone()));
    let dependent = dependent_of.get(id).cloned();
    let mut aborted = |error: &FspiopError,
                       relay: Option<&Message>,
                       writes: &mut Writes,
                       outcome: &mut FulfilOutcome| {
        if abort_conversion(
            &fx,
            dependent.as_ref(),
            error,
            relay,
            writes,
            &mut outcome.messages,
            notifier,
            now_ms,
        ) {
            outcome.aborted += 1;
            if let Some(c) = conversions.get_mut(id) {
                c.state = State::AbortedError;
            }
            if let Some(d) = dependent_of.get_mut(id) {
                if d.state == State::Reserved {
                    d.state = State::AbortedError;
                }
            }
            true
        } else {
            false
        }
    };
    match request {
        Request::Fulfil(put) => {
            if fx.state != State::Reserved {
                outcome.refused += 1;
                let error = FspiopError::with_detail(
                    ErrorCode::GenericValidationError,
                    "non-RESERVED conversion state",
                );
                outcome
                    .messages
                    .push(tell(action::FX_RESERVE, Body::Error(&error)));
                return;
            }
            let fulfilment = put
                .fulfilment
                .as_deref()
                .filter(|f| fspiop::ilp::fulfilment_matches(f, &fx.condition));
            let Some(fulfilment) = fulfilment else {
                // A missing or wrong fulfilment aborts the conversion: the initiator gets its
                // reservation back and both sides are told.
                let error = FspiopError::with_detail(
                    ErrorCode::GenericValidationError,
                    "invalid fulfilment",
                );
                aborted(&error, None, writes, outcome);
                return;
            };
            if fx.expiration_ms <= now_ms {
                outcome.refused += 1;
                let error = FspiopError::new(ErrorCode::TransferExpired);
                outcome
                    .messages
                    .push(tell(action::FX_RESERVE, Body::Error(&error)));
                return;
            }
            let completed_ms = put
                .completed_timestamp
                .as_deref()
                .and_then(fspiop::datetime::parse_date_time)
                .unwrap_or(now_ms);
            writes
                .journal
                .fx_post(id, fx.state, &ledger::fx::fx_fulfil(), None);
            writes
                .fulfilments
                .push((id.to_string(), fulfilment.to_string(), completed_ms));
            if let Some(c) = conversions.get_mut(id) {
                c.state = State::ReceivedFulfilDependent;
            }
            outcome.fulfilled += 1;
            let mut message = notifier.forward(
                &incoming.message,
                action::FX_RESERVE,
                &uuid::Uuid::new_v4().to_string(),
                now_ms,
            );
            message.to = fx.initiator.clone();
            outcome.messages.push(message);
        }
        Request::Reject | Request::Abort(_) => {
            let error = match request {
                Request::Abort(object) => FspiopError::received(object.error_information.clone())
                    .unwrap_or_else(|| {
                        FspiopError::with_detail(
                            ErrorCode::GenericValidationError,
                            "API specification undefined errorCode",
                        )
                    }),
                _ => FspiopError::with_detail(
                    ErrorCode::GenericPayeeRejection,
                    "the FXP answered conversionState ABORTED",
                ),
            };
            let relay = matches!(request, Request::Abort(_)).then_some(&incoming.message);
            if !aborted(&error, relay, writes, outcome) {
                outcome.refused += 1;
                let error = FspiopError::with_detail(
                    ErrorCode::GenericValidationError,
                    "conversion is already final",
                );
                outcome
                    .messages
                    .push(tell(action::FX_ABORT, Body::Error(&error)));
            } else if relay.is_none() {
                // A PUT ABORTED: the FXP knows; only the initiator is told (from the hub).
                outcome.messages.retain(|m| {
                    !(m.metadata.event.action == action::FX_ABORT_VALIDATION
                        && m.to == fx.fxp
                        && m.id == fx.id)
                });
            }
        }
    }
}

async fn flush(tx: &mut Tx<'_>, writes: Writes) -> Result<()> {
    for (table, rows) in [
        ("fxTransferFulfilmentDuplicateCheck", &writes.fulfil_hashes),
        ("fxTransferErrorDuplicateCheck", &writes.error_hashes),
    ] {
        if !rows.is_empty() {
            let mut query =
                QueryBuilder::<MySql>::new(format!("INSERT INTO {table} (commitRequestId, hash) "));
            query.push_values(rows, |mut row, (id, hash)| {
                row.push_bind(id.clone()).push_bind(hash.clone());
            });
            query.build().execute(&mut **tx).await?;
        }
    }
    if !writes.fulfilments.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO fxTransferFulfilment (commitRequestId, ilpFulfilment, completedDate, isValid, settlementWindowId) ",
        );
        query.push_values(
            &writes.fulfilments,
            |mut row, (id, fulfilment, completed)| {
                row.push_bind(id.clone())
                    .push_bind(fulfilment.clone())
                    .push_bind(DbTime(*completed).to_string())
                    .push_bind(1)
                    .push_bind(Option::<u64>::None);
            },
        );
        query.build().execute(&mut **tx).await?;
    }
    if writes.journal.is_empty() {
        return Ok(());
    }
    let mut positions = ledger_book::lock_positions(tx, &writes.journal.accounts()).await?;
    let state_ids = writes.journal.write(tx, &mut positions).await?;
    record_errors(tx, &state_ids, &writes.fx_errors).await?;
    record_transfer_errors(
        tx,
        &state_ids,
        &writes.transfer_errors,
        State::ReceivedError,
    )
    .await
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

// ---- get ----------------------------------------------------------------------------------

/// The state object of a conversion (`PUT /fxTransfers/{ID}` shape), or the error for
/// `requester` (3208 unknown, 3000 not one of its two parties).
pub async fn answer_get(
    store: &Store,
    id: &str,
    requester: &str,
) -> Result<std::result::Result<Value, FspiopError>> {
    let parties: Vec<(String,)> = sqlx::query_as(
        "SELECT p.name FROM fxTransferParticipant fp JOIN participant p ON p.participantId = fp.participantId WHERE fp.commitRequestId = ?",
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

// ---- expiry -------------------------------------------------------------------------------

/// One sweep of expired conversions (`fxTransferTimeout`): each one still RESERVED or
/// RECEIVED_FULFIL_DEPENDENT expires with its reserved dependent transfer, every reservation
/// given back, 3303 to the initiator and the FXP (and the dependent's payer and payee). The
/// notices are kept with the expiry until delivered ([`delivered`]). Returns the notices and
/// the number of rows claimed.
pub async fn sweep(
    store: &Store,
    notifier: &Notifier,
    sweep_size_max: u32,
    now_ms: i64,
) -> Result<(Vec<Message>, usize)> {
    let mut connection = store.pool.acquire().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
        .execute(&mut *connection)
        .await?;
    let mut tx = sqlx::Acquire::begin(&mut *connection).await?;
    let due: Vec<(String,)> = sqlx::query_as(
        "SELECT commitRequestId FROM fxTransferTimeout WHERE expirationDate <= ? ORDER BY expirationDate LIMIT ? FOR UPDATE SKIP LOCKED",
    )
    .bind(DbTime(now_ms).to_string())
    .bind(sweep_size_max)
    .fetch_all(&mut *tx)
    .await?;
    if due.is_empty() {
        tx.commit().await?;
        return Ok((Vec::new(), 0));
    }
    let ids: Vec<String> = due.into_iter().map(|(id,)| id).collect();
    ledger_book::lock_fx_transfers(&mut tx, &ids).await?;
    let conversions = load(&mut *tx, By::CommitRequestId, &ids).await?;
    let links = dependents(&mut *tx, By::CommitRequestId, &ids).await?;
    let transfer_ids: Vec<String> = links.iter().map(|(t, _)| t.clone()).collect();
    ledger_book::lock_transfers(&mut tx, &transfer_ids).await?;
    let dependent_of = load_dependents(&mut tx, &links).await?;
    let mut delete =
        QueryBuilder::<MySql>::new("DELETE FROM fxTransferTimeout WHERE commitRequestId IN (");
    in_list(&mut delete, &ids);
    delete.build().execute(&mut *tx).await?;
    let (journal, fx_errors, transfer_errors, messages) =
        expire_all(&conversions, &dependent_of, notifier, now_ms);
    let mut positions = ledger_book::lock_positions(&mut tx, &journal.accounts()).await?;
    let state_ids = journal.write(&mut tx, &mut positions).await?;
    record_errors(&mut tx, &state_ids, &fx_errors).await?;
    record_transfer_errors(
        &mut tx,
        &state_ids,
        &transfer_errors,
        State::ReservedTimeout,
    )
    .await?;
    super::timeout::record_notices(&mut tx, &messages).await?;
    tx.commit().await?;
    Ok((messages, ids.len()))
}

/// The expiry of each conversion of `conversions` still open (with its reserved dependent):
/// the journal, the errors and the notices.
#[allow(clippy::type_complexity, reason = "the parts of one expiry")]
pub fn expire_all(
    conversions: &[FxRow],
    dependent_of: &HashMap<String, Dependent>,
    notifier: &Notifier,
    now_ms: i64,
) -> (
    Journal,
    Vec<(String, State, u32, String)>,
    Vec<(String, u32, String)>,
    Vec<Message>,
) {
    let error = FspiopError::new(ErrorCode::TransferExpired);
    let code = u32::from(error.code.code());
    let mut journal = Journal::new();
    let mut fx_errors = Vec::new();
    let mut transfer_errors = Vec::new();
    let mut messages = Vec::new();
    for fx in conversions {
        let reserved = dependent_of
            .get(&fx.id)
            .filter(|d| d.state == State::Reserved);
        let payee_target = reserved.map_or(0, |d| d.payee_account);
        let Some(finish) =
            ledger::fx::expire(&fx.conversion(payee_target), fx.state, reserved.is_some())
        else {
            continue;
        };
        journal.fx_post(&fx.id, fx.state, &finish.fx, Some("Conversion expired"));
        fx_errors.push((
            fx.id.clone(),
            State::ReservedTimeout,
            code,
            error.description(),
        ));
        for to in [&fx.initiator, &fx.fxp] {
            messages.push(from_hub(
                notifier,
                &fx.id,
                to,
                action::FX_TIMEOUT_RESERVED,
                Body::Error(&error),
                now_ms,
            ));
        }
        if let (Some(d), Some(posting)) = (reserved, &finish.dependent) {
            journal.post(
                &d.id,
                d.state,
                posting,
                Some("Transfer expired with its conversion"),
            );
            transfer_errors.push((d.id.clone(), code, error.description()));
            let mut message = notifier.from_hub(
                &d.id,
                &d.payer,
                action::TIMEOUT_RESERVED,
                Body::Error(&error),
                &uuid::Uuid::new_v4().to_string(),
                now_ms,
            );
            message.from = d.payee.clone();
            message.content.context = Some(json!({ "payer": d.payer, "payee": d.payee }));
            messages.push(message);
        }
    }
    (journal, fx_errors, transfer_errors, messages)
}

/// The earliest conversion expiration still watched.
pub async fn next_expiration_ms(store: &Store) -> Result<Option<i64>> {
    let (next,): (Option<i64>,) = sqlx::query_as(
        "SELECT CAST(ROUND(UNIX_TIMESTAMP(MIN(expirationDate)) * 1000) AS SIGNED) FROM fxTransferTimeout",
    )
    .fetch_one(&store.pool)
    .await?;
    Ok(next)
}
