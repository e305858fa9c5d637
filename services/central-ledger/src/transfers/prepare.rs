//! The prepare handler, with the position step folded in: for a batch of `POST /transfers`
//! messages from `topic-transfer-prepare` it detects duplicates, validates each transfer,
//! records it and reserves the payer's position, all in ONE database transaction, then
//! notifies (the payee gets the prepare; the payer any error) and commits the offsets.
//!
//! Mojaloop does this in two handlers with a Kafka hop and several commits between them; one
//! transaction per batch keeps the ledger consistent with fewer durable writes. Payer
//! positions are locked (`SELECT … FOR UPDATE`, in account-id order) for the whole batch, so
//! concurrent handlers serialise on the accounts they share, never on the others.

use std::collections::{HashMap, HashSet};

use fspiop::envelope::{decode_payload, Message};
use fspiop::types::TransfersPostRequest;
use fspiop::validate::UnknownFields;
use fspiop::{ErrorCode, FspiopError};
use ledger::transfer::{decide_prepares, BatchPrepare, PayerAccount, PrepareRejection, State};
use ledger::Money;
use ledger_book::Journal;
use serde_json::Value;
use sqlx::{MySql, QueryBuilder};

use super::body_hash;
use super::notify::{Body, Notifier};
use crate::error::{Error, Result};
use crate::store::{Store, Tx};

const ROLE_PAYER_DFSP: u32 = 1;
const ROLE_PAYEE_DFSP: u32 = 2;
const ENTRY_PRINCIPLE_VALUE: u32 = 1;

/// Settings of the prepare handler.
#[derive(Debug, Clone)]
pub struct PrepareConfig {
    /// Whether a DFSP may pay itself.
    pub on_us_allowed: bool,
    /// The ILP versions a packet may be in (each decoded by its type byte) to be checked
    /// against the transfer; `None` leaves packets unchecked.
    pub ilp_check: Option<fspiop::ilp::IlpVersions>,
}

/// One prepare as received.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub message: Message,
    pub transfer: TransfersPostRequest,
    pub hash: String,
    pub source: String,
}

/// An account of a participant as the prepare needs it.
#[derive(Debug, Clone)]
pub(super) struct AccountRow {
    pub(super) id: u32,
    pub(super) currency: String,
    pub(super) kind: String,
    pub(super) is_active: bool,
}

#[derive(Debug, Clone)]
pub(super) struct ParticipantRow {
    pub(super) id: u32,
    pub(super) name: String,
    pub(super) is_active: bool,
    pub(super) accounts: Vec<AccountRow>,
}

impl ParticipantRow {
    pub(super) fn account(&self, currency: &str, kind: &str) -> Option<&AccountRow> {
        self.accounts
            .iter()
            .find(|a| a.currency == currency && a.kind == kind)
    }
}

/// A prepare that passed validation.
#[derive(Debug, Clone)]
struct Valid {
    index: usize,
    amount: Money,
    expiration_ms: i64,
    payer_id: u32,
    payee_id: u32,
    payer_account: u32,
    payer_settlement: Option<u32>,
    payee_account: u32,
    /// The conversion this transfer depends on (its reservation is on the FXP).
    conversion: Option<String>,
}

/// What becomes of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    Valid,
    Invalid(String),
    /// The same transfer again: answered from its current state (or ignored while in flight).
    Resend,
    /// The same id with other content.
    Modified,
    /// Second copy of an id earlier in the same batch.
    InBatchDuplicate {
        modified: bool,
    },
}

/// Parses a message from `topic-transfer-prepare`; the message and why, when it is not a
/// usable prepare.
pub fn parse(message: Message) -> std::result::Result<Incoming, Box<(Message, FspiopError)>> {
    let body = match decode_payload(&message.content.payload)
        .map_err(|e| e.to_string())
        .and_then(|p| p.to_json().map_err(|e| e.to_string()))
    {
        Ok(body) => body,
        Err(e) => {
            return Err(Box::new((
                message,
                FspiopError::with_detail(ErrorCode::MalformedSyntax, e),
            )))
        }
    };
    let hash = body_hash(&body);
    match fspiop::types::from_value::<TransfersPostRequest>(body, UnknownFields::Allow) {
        Ok(transfer) => {
            let source = message
                .content
                .headers
                .get("fspiop-source")
                .cloned()
                .unwrap_or_else(|| message.from.clone());
            Ok(Incoming {
                message,
                transfer,
                hash,
                source,
            })
        }
        Err(error) => Err(Box::new((message, error))),
    }
}

/// An `IN (` list of `values` and its closing parenthesis, padded to one of a few lengths
/// (`store::push_in_list`).
pub(super) fn in_list(builder: &mut QueryBuilder<'_, MySql>, values: &[String]) {
    ::store::push_in_list(builder, values);
}

pub(super) fn db_datetime(ms: i64) -> String {
    super::DbTime(ms).to_string()
}

pub(super) async fn load_participants(
    tx: &mut Tx<'_>,
    names: &[String],
) -> Result<HashMap<String, ParticipantRow>> {
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    // The participants and their accounts in one read (a participant without accounts comes
    // back once, its account columns NULL).
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT p.participantId, p.name, p.isActive, pc.participantCurrencyId, pc.currencyId, lat.name, pc.isActive
         FROM participant p
         LEFT JOIN participantCurrency pc ON pc.participantId = p.participantId
         LEFT JOIN ledgerAccountType lat ON lat.ledgerAccountTypeId = pc.ledgerAccountTypeId
         WHERE p.name IN (",
    );
    in_list(&mut query, names);
    type Row = (
        u32,
        String,
        bool,
        Option<u32>,
        Option<String>,
        Option<String>,
        Option<bool>,
    );
    let rows: Vec<Row> = query.build_query_as().fetch_all(&mut **tx).await?;
    let mut participants: HashMap<String, ParticipantRow> = HashMap::new();
    for (participant_id, name, is_active, account, currency, kind, account_active) in rows {
        let participant = participants
            .entry(name.clone())
            .or_insert_with(|| ParticipantRow {
                id: participant_id,
                name,
                is_active,
                accounts: Vec::new(),
            });
        if let (Some(id), Some(currency), Some(kind), Some(is_active)) =
            (account, currency, kind, account_active)
        {
            participant.accounts.push(AccountRow {
                id,
                currency,
                kind,
                is_active,
            });
        }
    }
    Ok(participants)
}

/// Mojaloop's prepare validations, in its order, first failure wins. A transfer that a
/// conversion names as its determining transfer (`conversion`) is the conversion's dependent:
/// its reservation is on the FXP's target-currency position, so the payer needs no account in
/// that currency; it must come from the conversion's initiator, in its target currency and
/// for its target amount, once the FXP has fulfilled it (Mojaloop checks only the last).
fn validate(
    incoming: &Incoming,
    participants: &HashMap<String, ParticipantRow>,
    conversion: Option<&super::fx::FxRow>,
    config: &PrepareConfig,
    now_ms: i64,
    index: usize,
) -> std::result::Result<Valid, String> {
    let t = &incoming.transfer;
    if incoming.source != t.payer_fsp {
        return Err("FSPIOP-Source header should match Payer".into());
    }
    let amount = Money::parse(&t.amount.amount).map_err(|e| match e {
        ledger::MoneyError::TooManyDecimals(_) => {
            format!("Amount {} exceeds allowed scale of 4", t.amount.amount)
        }
        _ => format!("Amount {} exceeds allowed precision of 18", t.amount.amount),
    })?;
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
    let payer = party(&t.payer_fsp)?;
    let payee = party(&t.payee_fsp)?;
    if !fspiop::ilp::is_canonical_32(&t.condition) {
        return Err("Condition validation failed".into());
    }
    let expiration_ms = fspiop::datetime::parse_date_time(&t.expiration)
        .ok_or_else(|| "Expiration is required for conditional transfer".to_string())?;
    if expiration_ms < now_ms {
        return Err(format!(
            "Expiration date {} is already in the past",
            fspiop::datetime::format_date_time(expiration_ms)
        ));
    }
    // Our own check (Mojaloop's ledger does not read the packet), after Mojaloop's reasons.
    if let Some(versions) = config.ilp_check {
        check_packet(t, amount, versions, now_ms)?;
    }
    if !config.on_us_allowed && t.payer_fsp.eq_ignore_ascii_case(&t.payee_fsp) {
        return Err("Payer FSP and Payee FSP should be different, unless on-us tranfers are allowed by the Scheme".into());
    }
    let currency = &t.amount.currency;
    let position = |p: &ParticipantRow| -> std::result::Result<u32, String> {
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
    let (payer_account, payer_settlement) = match conversion {
        None => (
            position(payer)?,
            payer.account(currency, "SETTLEMENT").map(|a| a.id),
        ),
        Some(fx) => {
            if fx.state != State::ReceivedFulfilDependent {
                return Err(format!(
                    "Related FX Transfer {} is not fulfilled (it is {})",
                    fx.id,
                    fx.state.id()
                ));
            }
            if !t.payer_fsp.eq_ignore_ascii_case(&fx.initiator) {
                return Err(format!(
                    "payerFsp {} is not the initiating FSP of FX transfer {}",
                    t.payer_fsp, fx.id
                ));
            }
            if *currency != fx.target_currency || amount != fx.target_amount {
                return Err(format!(
                    "amount {} {currency} is not the target amount {} {} of FX transfer {}",
                    t.amount.amount, fx.target_amount, fx.target_currency, fx.id
                ));
            }
            if fx.expiration_ms <= now_ms {
                return Err(format!("FX transfer {} has expired", fx.id));
            }
            let fxp = party(&fx.fxp)?;
            (
                fx.fxp_target,
                fxp.account(currency, "SETTLEMENT").map(|a| a.id),
            )
        }
    };
    let payee_account = position(payee)?;
    Ok(Valid {
        index,
        amount,
        expiration_ms,
        payer_id: payer.id,
        payee_id: payee.id,
        payer_account,
        payer_settlement,
        payee_account,
        conversion: conversion.map(|fx| fx.id.clone()),
    })
}

/// The ILP packet agrees with the transfer: it decodes, carries the transfer's amount in the
/// currency's minor units and (v4) its condition, and its Transaction object names the same
/// payer, payee, currency and amount. Amounts are compared as numbers (the SDK compares
/// strings, so "100.00" would not match "100").
fn check_packet(
    t: &TransfersPostRequest,
    amount: Money,
    versions: fspiop::ilp::IlpVersions,
    now_ms: i64,
) -> std::result::Result<(), String> {
    use base64::Engine as _;
    let packet = fspiop::ilp::decode_packet_of(&t.ilp_packet, versions)
        .map_err(|e| format!("ILP packet could not be decoded: {e}"))?;
    let scale = fspiop::currency::ilp_scale(&t.amount.currency)
        .ok_or_else(|| format!("no ILP scale for currency {}", t.amount.currency))?;
    let minor = fspiop::amount::to_minor_units(&amount.to_string(), scale).map_err(|_| {
        format!(
            "Amount {} does not fit the ILP scale of {}",
            t.amount.amount, t.amount.currency
        )
    })?;
    // The amount field of a v1 packet is not compared: Mojaloop's SDK computes it in floating
    // point and garbles it for about one amount in nine; the Transaction object's amount is
    // (below).
    if !matches!(packet, fspiop::ilp::Packet::V1(_)) && packet.amount() != minor {
        return Err(format!(
            "ILP packet amount {} does not match the transfer amount {}",
            packet.amount(),
            t.amount.amount
        ));
    }
    if let fspiop::ilp::Packet::V4(prepare) = &packet {
        if base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(prepare.execution_condition)
            != t.condition
        {
            return Err("ILP packet condition does not match the transfer condition".into());
        }
        // The payee's terms lapse when its packet expires: reserving money for them after that
        // only holds liquidity for a payment the payee may refuse.
        if prepare.expires_at_ms < now_ms {
            return Err(format!(
                "ILP packet expired at {}",
                fspiop::datetime::format_date_time(prepare.expires_at_ms)
            ));
        }
    }
    let tx = packet
        .transaction_object()
        .map_err(|e| format!("ILP packet data: {e}"))?;
    let field = |path: &[&str]| {
        path.iter()
            .try_fold(&tx, |v, k| v.get(*k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    if field(&["payer", "partyIdInfo", "fspId"]).is_some_and(|f| f != t.payer_fsp) {
        return Err("ILP transaction payer does not match payerFsp".into());
    }
    if field(&["payee", "partyIdInfo", "fspId"]).is_some_and(|f| f != t.payee_fsp) {
        return Err("ILP transaction payee does not match payeeFsp".into());
    }
    if field(&["amount", "currency"]).as_deref() != Some(t.amount.currency.as_str())
        || field(&["amount", "amount"]).and_then(|a| Money::parse(&a).ok()) != Some(amount)
    {
        return Err("ILP transaction amount does not match the transfer amount".into());
    }
    Ok(())
}

/// What the batch decided, for notifications.
#[derive(Debug, Default)]
pub struct Outcome {
    pub messages: Vec<Message>,
    pub reserved: usize,
    pub rejected: usize,
    pub invalid: usize,
    pub duplicates: usize,
}

/// Handles one batch: one transaction, then the notifications to send. The phases:
/// prefetch (duplicate hashes and participants, in two reads) → classify (pure: each message's
/// fate, Mojaloop's validations in its order) → record (the new transfers' rows) → reserve (the
/// payers' positions locked by the ledger book, the pure decision, the book's journal) →
/// commit → notify.
pub async fn handle(
    store: &Store,
    notifier: &Notifier,
    config: &PrepareConfig,
    batch: Vec<Incoming>,
    now_ms: i64,
    new_event_id: &mut (dyn FnMut() -> String + Send),
) -> Result<Outcome> {
    // Conversions naming a transfer of the batch as their determining transfer: read before
    // the transaction (they are written before a dependent transfer can be sent), then locked
    // first in it (the ledger's lock order), so the reads below see their current state.
    let ids: Vec<String> = batch
        .iter()
        .map(|i| i.transfer.transfer_id.clone())
        .collect();
    let candidates = super::fx::candidates(store, &ids).await?;
    let mut tx = store.pool.begin().await?;
    let applied = apply(&mut tx, &batch, &candidates, config, now_ms).await?;
    tx.commit().await?;
    let Applied {
        fates,
        valid,
        decided,
        conversions,
    } = applied;
    let mut outcome = notify(
        store,
        notifier,
        &batch,
        &fates,
        &decided,
        now_ms,
        new_event_id,
    )
    .await?;
    // A refused dependent transfer ends its conversion (`reserve`): the FXP is told.
    for v in &valid {
        let refused = decided
            .iter()
            .any(|(index, result)| *index == v.index && result.is_err());
        let conversion = batch
            .get(v.index)
            .and_then(|b| conversions.get(&b.transfer.transfer_id));
        if let (true, Some(fx), Some(_)) = (refused, conversion, &v.conversion) {
            outcome
                .messages
                .push(super::fx::patch(notifier, fx, false, now_ms));
        }
    }
    Ok(outcome)
}

/// What the transaction part of a batch decided.
pub(super) struct Applied {
    fates: Vec<Fate>,
    valid: Vec<Valid>,
    decided: Vec<(usize, std::result::Result<Money, PrepareRejection>)>,
    conversions: HashMap<String, super::fx::FxRow>,
}

impl Applied {
    /// What became of prepare `index` of the batch: reserved, or the error its sender is told
    /// (the prepare handler's codes: 3100 invalid, 4001/4200 refused, 3106 an id used before).
    pub(super) fn result(&self, index: usize, id: &str) -> std::result::Result<(), FspiopError> {
        match self.fates.get(index) {
            Some(Fate::Valid) => match self.decided.iter().find(|(i, _)| *i == index) {
                Some((_, Ok(_))) => Ok(()),
                Some((_, Err(rejection))) => Err(rejection_error(*rejection)),
                None => Err(FspiopError::with_detail(
                    ErrorCode::InternalServerError,
                    format!("transfer {id} was not decided"),
                )),
            },
            Some(Fate::Invalid(reason)) => Err(FspiopError::with_detail(
                ErrorCode::GenericValidationError,
                reason.clone(),
            )),
            _ => Err(FspiopError::with_detail(
                ErrorCode::ModifiedRequest,
                format!("transfer id {id} was used before"),
            )),
        }
    }
}

/// The transaction part of a batch in the caller's transaction (`candidates`: conversions
/// that may name a transfer of the batch, read before it): conversions locked, then prefetch,
/// classify, record, reserve. Bulk prepares use it for their transfers.
pub(super) async fn apply(
    tx: &mut Tx<'_>,
    batch: &[Incoming],
    candidates: &[String],
    config: &PrepareConfig,
    now_ms: i64,
) -> Result<Applied> {
    ledger_book::lock_fx_transfers(tx, candidates).await?;
    let prefetched = prefetch(tx, batch, candidates).await?;
    let (fates, valid) = classify(batch, &prefetched, config, now_ms);
    let recordable = record(tx, batch, &fates, &valid, now_ms).await?;
    let decided = reserve(
        tx,
        batch,
        &fates,
        &valid,
        &recordable,
        &prefetched.conversions,
    )
    .await?;
    Ok(Applied {
        fates,
        valid,
        decided,
        conversions: prefetched.conversions,
    })
}

/// What a batch reads before deciding: the stored duplicate-check hashes of its ids and its
/// participants with their accounts.
struct Prefetched {
    existing: HashMap<String, String>,
    participants: HashMap<String, ParticipantRow>,
    /// By determining transfer id: the conversion a transfer of the batch would depend on
    /// (the one the FXP fulfilled, else the latest still open, else any).
    conversions: HashMap<String, super::fx::FxRow>,
}

async fn prefetch(
    tx: &mut Tx<'_>,
    batch: &[Incoming],
    candidates: &[String],
) -> Result<Prefetched> {
    let mut conversions: HashMap<String, super::fx::FxRow> = HashMap::new();
    for fx in super::fx::load(&mut **tx, super::fx::By::CommitRequestId, candidates).await? {
        let rank = |f: &super::fx::FxRow| {
            (
                f.state == State::ReceivedFulfilDependent,
                !f.state.is_final(),
            )
        };
        let better = conversions
            .get(&fx.determining_transfer_id)
            .is_none_or(|held| rank(&fx) > rank(held));
        if better {
            conversions.insert(fx.determining_transfer_id.clone(), fx);
        }
    }
    let ids: Vec<String> = batch
        .iter()
        .map(|i| i.transfer.transfer_id.clone())
        .collect();
    let mut existing: HashMap<String, String> = HashMap::new();
    if !ids.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "SELECT transferId, hash FROM transferDuplicateCheck WHERE transferId IN (",
        );
        in_list(&mut query, &ids);
        let rows: Vec<(String, String)> = query.build_query_as().fetch_all(&mut **tx).await?;
        existing.extend(rows);
    }
    let names: Vec<String> = batch
        .iter()
        .flat_map(|i| [i.transfer.payer_fsp.clone(), i.transfer.payee_fsp.clone()])
        .chain(conversions.values().map(|fx| fx.fxp.clone()))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let participants = load_participants(tx, &names).await?;
    Ok(Prefetched {
        existing,
        participants,
        conversions,
    })
}

/// Each message's fate (pure): a resend or a changed resend of a stored transfer, a second copy
/// in the batch, or new and valid or invalid (first failure wins).
fn classify(
    batch: &[Incoming],
    prefetched: &Prefetched,
    config: &PrepareConfig,
    now_ms: i64,
) -> (Vec<Fate>, Vec<Valid>) {
    let mut first_in_batch: HashMap<&str, &str> = HashMap::new();
    let mut fates: Vec<Fate> = Vec::with_capacity(batch.len());
    let mut valid: Vec<Valid> = Vec::new();
    for (index, incoming) in batch.iter().enumerate() {
        let id = incoming.transfer.transfer_id.as_str();
        let fate = if let Some(hash) = prefetched.existing.get(id) {
            if *hash == incoming.hash {
                Fate::Resend
            } else {
                Fate::Modified
            }
        } else if let Some(first_hash) = first_in_batch.get(id) {
            Fate::InBatchDuplicate {
                modified: *first_hash != incoming.hash,
            }
        } else {
            first_in_batch.insert(id, incoming.hash.as_str());
            let conversion = prefetched.conversions.get(id);
            match validate(
                incoming,
                &prefetched.participants,
                conversion,
                config,
                now_ms,
                index,
            ) {
                Ok(v) => {
                    valid.push(v);
                    Fate::Valid
                }
                Err(reason) => Fate::Invalid(reason),
            }
        };
        fates.push(fate);
    }
    (fates, valid)
}

/// Records every new transfer (valid or invalid, in an API currency); returns the indexes
/// recorded.
async fn record(
    tx: &mut Tx<'_>,
    batch: &[Incoming],
    fates: &[Fate],
    valid: &[Valid],
    now_ms: i64,
) -> Result<Vec<usize>> {
    let new: Vec<usize> = fates
        .iter()
        .enumerate()
        .filter(|(_, f)| matches!(f, Fate::Valid | Fate::Invalid(_)))
        .map(|(i, _)| i)
        .collect();
    let recordable: Vec<usize> = new
        .iter()
        .copied()
        .filter(|i| {
            batch
                .get(*i)
                .is_some_and(|b| fspiop::currency::is_api_currency(&b.transfer.amount.currency))
        })
        .collect();
    if !new.is_empty() {
        let mut query =
            QueryBuilder::<MySql>::new("INSERT INTO transferDuplicateCheck (transferId, hash) ");
        query.push_values(new.iter().filter_map(|i| batch.get(*i)), |mut row, b| {
            row.push_bind(b.transfer.transfer_id.clone())
                .push_bind(b.hash.clone());
        });
        query.build().execute(&mut **tx).await?;
    }
    if !recordable.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO transfer (transferId, amount, currencyId, ilpCondition, expirationDate) ",
        );
        query.push_values(
            recordable.iter().filter_map(|i| batch.get(*i)),
            |mut row, b| {
                let t = &b.transfer;
                let amount = Money::parse(&t.amount.amount).unwrap_or(Money::ZERO);
                let expiration = fspiop::datetime::parse_date_time(&t.expiration).unwrap_or(now_ms);
                row.push_bind(t.transfer_id.clone())
                    .push_bind(amount.to_decimal_string())
                    .push_bind(t.amount.currency.clone())
                    .push_bind(t.condition.chars().take(256).collect::<String>())
                    .push_bind(db_datetime(expiration));
            },
        );
        query.build().execute(&mut **tx).await?;
    }
    if !valid.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "INSERT INTO transferParticipant (transferId, participantId, participantCurrencyId, transferParticipantRoleTypeId, ledgerEntryTypeId, amount) ",
        );
        query.push_values(
            valid.iter().flat_map(|v| [(v, true), (v, false)]),
            |mut row, (v, payer)| {
                let id = batch
                    .get(v.index)
                    .map(|b| b.transfer.transfer_id.clone())
                    .unwrap_or_default();
                row.push_bind(id)
                    .push_bind(if payer { v.payer_id } else { v.payee_id })
                    .push_bind(if payer {
                        v.payer_account
                    } else {
                        v.payee_account
                    })
                    .push_bind(if payer {
                        ROLE_PAYER_DFSP
                    } else {
                        ROLE_PAYEE_DFSP
                    })
                    .push_bind(ENTRY_PRINCIPLE_VALUE)
                    .push_bind(
                        if payer { v.amount } else { v.amount.negate() }.to_decimal_string(),
                    );
            },
        );
        query.build().execute(&mut **tx).await?;
        let mut query = QueryBuilder::<MySql>::new("INSERT INTO ilpPacket (transferId, value) ");
        query.push_values(
            valid.iter().filter_map(|v| batch.get(v.index)),
            |mut row, b| {
                row.push_bind(b.transfer.transfer_id.clone())
                    .push_bind(b.transfer.ilp_packet.clone());
            },
        );
        query.build().execute(&mut **tx).await?;
        let extensions: Vec<(String, String, String)> = valid
            .iter()
            .filter_map(|v| batch.get(v.index))
            .flat_map(|b| {
                b.transfer
                    .extension_list
                    .iter()
                    .flat_map(|l| l.extension.iter())
                    .map(|e| {
                        (
                            b.transfer.transfer_id.clone(),
                            e.key.clone(),
                            e.value.clone(),
                        )
                    })
            })
            .collect();
        if !extensions.is_empty() {
            let mut query = QueryBuilder::<MySql>::new(
                "INSERT INTO transferExtension (transferId, `key`, value) ",
            );
            query.push_values(extensions, |mut row, (id, key, value)| {
                row.push_bind(id).push_bind(key).push_bind(value);
            });
            query.build().execute(&mut **tx).await?;
        }
    }
    Ok(recordable)
}

/// The payers' positions locked by the book, the pure decision, its journal, the expiry
/// watch and the errors; returns each valid prepare's outcome by batch index. A dependent
/// transfer refused (liquidity or net debit cap of the FXP) ends its conversion in the same
/// journal: the initiator's reservation is given back at once rather than at the
/// conversion's expiry (its transfer id is spent, so the conversion could never complete).
async fn reserve(
    tx: &mut Tx<'_>,
    batch: &[Incoming],
    fates: &[Fate],
    valid: &[Valid],
    recordable: &[usize],
    conversions: &HashMap<String, super::fx::FxRow>,
) -> Result<Vec<(usize, std::result::Result<Money, PrepareRejection>)>> {
    let prepares: Vec<(BatchPrepare, Option<u32>)> = valid
        .iter()
        .map(|v| {
            let prepare = BatchPrepare {
                payer_account: v.payer_account,
                amount: v.amount,
            };
            (prepare, v.payer_settlement)
        })
        .collect();
    let transfer_id = |index: usize| {
        batch
            .get(index)
            .map(|b| b.transfer.transfer_id.as_str())
            .unwrap_or_default()
    };
    let conversion_of = |v: &Valid| {
        v.conversion
            .as_ref()
            .and_then(|_| conversions.get(transfer_id(v.index)))
    };
    let initiators: Vec<u32> = valid
        .iter()
        .filter_map(conversion_of)
        .map(|fx| fx.initiator_source)
        .collect();
    let (mut positions, decisions) = lock_and_decide(tx, &prepares, &initiators).await?;
    let mut journal = Journal::new();
    // First states: RECEIVED_PREPARE for the valid, INVALID with the reason for the others.
    for i in recordable {
        match fates.get(*i) {
            Some(Fate::Valid) => {
                journal.transition(transfer_id(*i), None, State::ReceivedPrepare, None)
            }
            Some(Fate::Invalid(reason)) => {
                journal.transition(transfer_id(*i), None, State::Invalid, Some(reason))
            }
            _ => {}
        }
    }
    let mut decided: Vec<(usize, std::result::Result<Money, PrepareRejection>)> =
        Vec::with_capacity(valid.len());
    let mut fx_errors: Vec<(String, State, u32, String)> = Vec::new();
    for (v, outcome) in valid.iter().zip(&decisions.outcomes) {
        let id = transfer_id(v.index);
        match outcome {
            Ok(_) => journal.transition(id, Some(State::ReceivedPrepare), State::Reserved, None),
            Err(rejection) => {
                let error = rejection_error(*rejection);
                journal.transition(
                    id,
                    Some(State::ReceivedPrepare),
                    State::AbortedRejected,
                    Some(&error.description()),
                );
                if let Some(fx) = conversion_of(v) {
                    let finish =
                        ledger::fx::abort(&fx.conversion(v.payee_account), fx.state, false)
                            .ok_or_else(|| {
                                ledger_book::broken(format!(
                                    "FX transfer {} of refused transfer {id} is {}",
                                    fx.id,
                                    fx.state.id()
                                ))
                            })?;
                    let reason =
                        format!("dependent transfer {id} refused: {}", error.description());
                    journal.fx_post(&fx.id, fx.state, &finish.fx, Some(&reason));
                    fx_errors.push((
                        fx.id.clone(),
                        State::ReceivedError,
                        u32::from(error.code.code()),
                        reason,
                    ));
                }
            }
        }
        decided.push((v.index, *outcome));
    }
    for (k, account, amount) in &decisions.moves {
        let v = valid.get(*k).ok_or_else(|| {
            ledger_book::broken(format!("move for prepare {k} of {}", valid.len()))
        })?;
        journal.move_position(*account, *amount, transfer_id(v.index), State::Reserved);
    }
    let state_ids = journal.write(tx, &mut positions).await?;
    super::fx::record_errors(tx, &state_ids, &fx_errors).await?;

    // Expiry watch for the reserved.
    let reserved: Vec<&Valid> = valid
        .iter()
        .zip(&decisions.outcomes)
        .filter(|(_, outcome)| outcome.is_ok())
        .map(|(v, _)| v)
        .collect();
    if !reserved.is_empty() {
        let mut query =
            QueryBuilder::<MySql>::new("INSERT INTO transferTimeout (transferId, expirationDate) ");
        query.push_values(&reserved, |mut row, v| {
            row.push_bind(transfer_id(v.index).to_string())
                .push_bind(db_datetime(v.expiration_ms));
        });
        query.build().execute(&mut **tx).await?;
        // A dependent transfer holds its conversion's FXP reservation from now on.
        let dependents: Vec<(String, String)> = reserved
            .iter()
            .filter_map(|v| Some((transfer_id(v.index).to_string(), v.conversion.clone()?)))
            .collect();
        if !dependents.is_empty() {
            let mut query = QueryBuilder::<MySql>::new(
                "INSERT INTO fxDependentTransfer (determiningTransferId, commitRequestId) ",
            );
            query.push_values(&dependents, |mut row, (transfer, fx)| {
                row.push_bind(transfer.clone()).push_bind(fx.clone());
            });
            query.build().execute(&mut **tx).await?;
        }
    }
    // Errors, each linked to the state change that recorded it.
    let mut errors: Vec<(String, u64, u16, String)> = Vec::new();
    for i in recordable {
        if let (Some(b), Some(Fate::Invalid(reason))) = (batch.get(*i), fates.get(*i)) {
            let id = b.transfer.transfer_id.clone();
            let change = state_ids.require(&id, State::Invalid)?;
            errors.push((id, change, 3100, fspiop::error::truncate_chars(reason, 128)));
        }
    }
    for (index, result) in &decided {
        if let (Some(b), Err(rejection)) = (batch.get(*index), result) {
            let error = rejection_error(*rejection);
            let id = b.transfer.transfer_id.clone();
            let change = state_ids.require(&id, State::AbortedRejected)?;
            errors.push((id, change, error.code.code(), error.description()));
        }
    }
    if !errors.is_empty() {
        let mut query = QueryBuilder::<MySql>::new("INSERT INTO transferError (transferId, transferStateChangeId, errorCode, errorDescription) ");
        query.push_values(&errors, |mut row, (id, change, code, description)| {
            row.push_bind(id.clone())
                .push_bind(*change)
                .push_bind(*code)
                .push_bind(description.clone());
        });
        query.build().execute(&mut **tx).await?;
    }
    Ok(decided)
}

/// The notifications of a decided batch.
async fn notify(
    store: &Store,
    notifier: &Notifier,
    batch: &[Incoming],
    fates: &[Fate],
    decided: &[(usize, std::result::Result<Money, PrepareRejection>)],
    now_ms: i64,
    new_event_id: &mut (dyn FnMut() -> String + Send),
) -> Result<Outcome> {
    let mut outcome = Outcome::default();
    for (index, incoming) in batch.iter().enumerate() {
        let id = incoming.transfer.transfer_id.as_str();
        let payer = incoming.transfer.payer_fsp.as_str();
        match fates.get(index) {
            Some(Fate::Valid) => match decided.iter().find(|(i, _)| *i == index).map(|(_, r)| r) {
                Some(Ok(_)) => {
                    outcome.reserved += 1;
                    outcome.messages.push(notifier.forward(
                        &incoming.message,
                        "prepare",
                        &new_event_id(),
                        now_ms,
                    ));
                }
                Some(Err(rejection)) => {
                    outcome.rejected += 1;
                    let error = rejection_error(*rejection);
                    outcome.messages.push(notifier.answer(
                        &incoming.message,
                        id,
                        payer,
                        "prepare",
                        Body::Error(&error),
                        &new_event_id(),
                        now_ms,
                    ));
                }
                None => {}
            },
            Some(Fate::Invalid(reason)) => {
                outcome.invalid += 1;
                let error =
                    FspiopError::with_detail(ErrorCode::GenericValidationError, reason.clone());
                outcome.messages.push(notifier.answer(
                    &incoming.message,
                    id,
                    &incoming.source,
                    "prepare",
                    Body::Error(&error),
                    &new_event_id(),
                    now_ms,
                ));
            }
            Some(Fate::Modified) | Some(Fate::InBatchDuplicate { modified: true }) => {
                outcome.duplicates += 1;
                let error = FspiopError::with_detail(
                    ErrorCode::ModifiedRequest,
                    format!("transfer {id} was sent before with different content"),
                );
                outcome.messages.push(notifier.answer(
                    &incoming.message,
                    id,
                    &incoming.source,
                    "prepare",
                    Body::Error(&error),
                    &new_event_id(),
                    now_ms,
                ));
            }
            Some(Fate::Resend) => {
                outcome.duplicates += 1;
                // Finished (or reserved) transfers are answered with their state; ones still in
                // flight are ignored, their outcome is on its way. A transfer still RESERVED is
                // also forwarded to the payee again: if this is a redelivery after a crash
                // between the commit and the notification, the payee never had it (a payee
                // receiving a prepare twice answers it the same way twice).
                if let Some(latest) = ledger_book::latest(&store.pool, id).await? {
                    let (state, payload) = (latest.state, latest.payload());
                    if state.is_final()
                        || state.enumeration() == ledger::transfer::Enumeration::Reserved
                    {
                        outcome.messages.push(notifier.answer(
                            &incoming.message,
                            id,
                            &incoming.source,
                            "prepare-duplicate",
                            Body::Payload(&payload),
                            &new_event_id(),
                            now_ms,
                        ));
                    }
                    if state == State::Reserved {
                        outcome.messages.push(notifier.forward(
                            &incoming.message,
                            "prepare",
                            &new_event_id(),
                            now_ms,
                        ));
                    }
                }
            }
            Some(Fate::InBatchDuplicate { modified: false }) | None => outcome.duplicates += 1,
        }
    }
    Ok(outcome)
}

/// Reservations decided the one way: the payers' positions and, for liquidity, their
/// settlement accounts (each prepare's second element) locked in one statement by the book,
/// their active net debit caps read, then the pure decision (`decide_prepares`). A payer
/// without an active net debit cap, or without a SETTLEMENT account, has no headroom: its
/// prepares are refused (4200, 4001), never let through. Prepares and currency conversions
/// (`super::fx`) both reserve through here; the caller journals the decisions with the locked
/// positions returned. `also_lock`: accounts the caller moves besides (in the same one
/// statement, so the lock order holds).
pub(super) async fn lock_and_decide(
    tx: &mut Tx<'_>,
    prepares: &[(BatchPrepare, Option<u32>)],
    also_lock: &[u32],
) -> Result<(ledger_book::Positions, ledger::transfer::PrepareDecisions)> {
    let lock_ids: Vec<u32> = prepares
        .iter()
        .flat_map(|(p, settlement)| std::iter::once(p.payer_account).chain(*settlement))
        .chain(also_lock.iter().copied())
        .collect();
    let positions = ledger_book::lock_positions(tx, &lock_ids).await?;
    let mut payer_accounts: Vec<u32> = prepares.iter().map(|(p, _)| p.payer_account).collect();
    payer_accounts.sort_unstable();
    payer_accounts.dedup();
    let limits = net_debit_caps(tx, &payer_accounts).await?;
    let settlement_of: HashMap<u32, u32> = prepares
        .iter()
        .filter_map(|(p, settlement)| Some((p.payer_account, (*settlement)?)))
        .collect();
    let snapshot = |account: u32| {
        let position = positions.get(account)?;
        Some(PayerAccount {
            position: position.value,
            reserved: position.reserved,
            net_debit_cap: limits.get(&account).copied().unwrap_or(Money::ZERO),
            settlement_value: settlement_of
                .get(&account)
                .and_then(|s| positions.value(*s))
                .unwrap_or(Money::ZERO),
        })
    };
    let batch: Vec<BatchPrepare> = prepares.iter().map(|(p, _)| *p).collect();
    let decisions = decide_prepares(&batch, &snapshot);
    Ok((positions, decisions))
}

/// The error a refused prepare is answered with: the pure core's code for the refusal.
pub(super) fn rejection_error(rejection: PrepareRejection) -> FspiopError {
    let code = ErrorCode::resolve(rejection.error_code()).unwrap_or(ErrorCode::InternalServerError);
    match rejection {
        PrepareRejection::WrongState => {
            FspiopError::with_detail(code, "Transfer in incorrect state")
        }
        PrepareRejection::InsufficientLiquidity | PrepareRejection::NetDebitCapExceeded => {
            FspiopError::new(code)
        }
    }
}

/// The active NET_DEBIT_CAP of each account.
async fn net_debit_caps(tx: &mut Tx<'_>, accounts: &[u32]) -> Result<HashMap<u32, Money>> {
    if accounts.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<String> = accounts.iter().map(u32::to_string).collect();
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT pl.participantCurrencyId, CAST(pl.value AS CHAR) FROM participantLimit pl
         JOIN participantLimitType lt ON lt.participantLimitTypeId = pl.participantLimitTypeId
         WHERE lt.name = 'NET_DEBIT_CAP' AND pl.isActive = 1 AND pl.participantCurrencyId IN (",
    );
    in_list(&mut query, &ids);
    let rows: Vec<(u32, String)> = query.build_query_as().fetch_all(&mut **tx).await?;
    rows.into_iter()
        .map(|(account, value)| Ok((account, Money::parse(&value).map_err(Error::Money)?)))
        .collect()
}

/// The prepare handler: consumes `topic-transfer-prepare` in batches until `stop` fires.
pub async fn run_handler(
    store: Store,
    consumer: bus::Consumer,
    notifier: Notifier,
    config: PrepareConfig,
    limits: super::batch::BatchLimits,
    mut stop: tokio::sync::watch::Receiver<bool>,
    metrics: crate::Metrics,
) {
    while let Some(batch) = super::batch::next_batch(
        &consumer,
        limits.batch_size_max,
        limits.batch_wait_ms,
        &mut stop,
    )
    .await
    {
        let now_ms = crate::now_ms();
        let mut incoming = Vec::with_capacity(batch.len());
        let mut conversions = Vec::new();
        let mut early = Vec::new();
        let mut hops = super::batch::BatchHops::new("prepare");
        for raw in &batch {
            let Some(Ok(message)) = raw
                .payload
                .as_deref()
                .map(serde_json::from_slice::<Message>)
            else {
                tracing::warn!(
                    offset = raw.offset,
                    "prepare message is not an envelope; skipped"
                );
                continue;
            };
            hops.add(&message);
            let is_fx = message.metadata.event.action == fspiop::envelope::action::FX_PREPARE;
            let parsed = if is_fx {
                super::fx::parse_prepare(message).map(|p| conversions.push(p))
            } else {
                parse(message).map(|p| incoming.push(p))
            };
            match parsed {
                Ok(()) => {}
                Err(failed) => {
                    let (message, error) = *failed;
                    let to = message
                        .content
                        .headers
                        .get("fspiop-source")
                        .cloned()
                        .unwrap_or(message.from.clone());
                    early.push(notifier.answer(
                        &message,
                        &message.id,
                        &to,
                        if is_fx {
                            fspiop::envelope::action::FX_PREPARE
                        } else {
                            "prepare"
                        },
                        Body::Error(&error),
                        &uuid::Uuid::new_v4().to_string(),
                        now_ms,
                    ));
                }
            }
        }
        let new_id = || uuid::Uuid::new_v4().to_string();
        let (store_ref, notifier_ref, config_ref) = (&store, &notifier, &config);
        let result = super::batch::retrying("prepare", &metrics, || {
            let batch = incoming.clone();
            async move {
                let mut new_id = || uuid::Uuid::new_v4().to_string();
                handle(
                    store_ref,
                    notifier_ref,
                    config_ref,
                    batch,
                    now_ms,
                    &mut new_id,
                )
                .await
            }
        })
        .await;
        let mut messages = early;
        match result {
            Ok(outcome) => {
                metrics
                    .transfers
                    .inc_by(&["prepare", "reserved"], outcome.reserved as u64);
                metrics
                    .transfers
                    .inc_by(&["prepare", "rejected"], outcome.rejected as u64);
                metrics
                    .transfers
                    .inc_by(&["prepare", "invalid"], outcome.invalid as u64);
                metrics
                    .transfers
                    .inc_by(&["prepare", "duplicate"], outcome.duplicates as u64);
                messages.extend(outcome.messages);
            }
            Err(error) => {
                tracing::error!(%error, transfers = incoming.len(), "prepare batch failed; payers are told 2001");
                let failure = FspiopError::new(ErrorCode::InternalServerError);
                for i in &incoming {
                    messages.push(notifier.answer(
                        &i.message,
                        &i.transfer.transfer_id,
                        &i.source,
                        "prepare",
                        Body::Error(&failure),
                        &new_id(),
                        now_ms,
                    ));
                }
            }
        }
        if !conversions.is_empty() {
            messages.extend(
                prepare_conversions(&store, &notifier, &config, &conversions, now_ms, &metrics)
                    .await,
            );
        }
        hops.stamp(&mut messages);
        if let Err(error) = notifier.deliver(&messages).await {
            // Never past an effect not delivered: the batch stays uncommitted (handled again
            // after a restart, answered from the ledger's state) and the handler stops, which
            // makes /health DOWN.
            tracing::error!(%error, "prepare notifications not delivered; the handler stops without committing the batch");
            break;
        }
        super::batch::commit(&consumer, &batch);
    }
    tracing::info!("prepare handler stopped");
}

/// The `fx-prepare` messages of a batch (`super::fx::prepare`), retried as transfer batches
/// are; when they still fail their initiators are told 2001.
async fn prepare_conversions(
    store: &Store,
    notifier: &Notifier,
    config: &PrepareConfig,
    batch: &[super::fx::FxPrepare],
    now_ms: i64,
    metrics: &crate::Metrics,
) -> Vec<Message> {
    let result = super::batch::retrying("fx-prepare", metrics, || {
        super::fx::prepare(store, notifier, batch, config.on_us_allowed, now_ms)
    })
    .await;
    {
        match result {
            Ok(outcome) => {
                for (name, count) in [
                    ("reserved", outcome.reserved),
                    ("rejected", outcome.rejected),
                    ("invalid", outcome.invalid),
                    ("duplicate", outcome.duplicates),
                ] {
                    metrics
                        .transfers
                        .inc_by(&["fx-prepare", name], count as u64);
                }
                outcome.messages
            }
            Err(error) => {
                tracing::error!(%error, conversions = batch.len(), "fx prepare batch failed; initiators are told 2001");
                let failure = FspiopError::new(ErrorCode::InternalServerError);
                batch
                    .iter()
                    .map(|p| {
                        notifier.answer(
                            &p.message,
                            &p.body.commit_request_id,
                            &p.source,
                            fspiop::envelope::action::FX_PREPARE,
                            Body::Error(&failure),
                            &uuid::Uuid::new_v4().to_string(),
                            now_ms,
                        )
                    })
                    .collect()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    use fspiop::ilp::{IlpVersions, PaymentV1};

    /// A v1 packet as Mojaloop's SDK makes it: the Transaction object without `expiration`, and
    /// the amount field as `amount_field` (the SDK computes it in floating point).
    fn sdk_v1(amount_field: u64, tx_amount: &str) -> String {
        let tx = serde_json::json!({
            "quoteId": "q", "transactionId": "t",
            "payer": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "1", "fspId": "payerfsp"}},
            "payee": {"partyIdInfo": {"partyIdType": "MSISDN", "partyIdentifier": "2", "fspId": "payeefsp"}},
            "amount": {"amount": tx_amount, "currency": "USD"},
        });
        let packet = PaymentV1 {
            amount: amount_field,
            account: "g.payeefsp.msisdn.2".into(),
            data: URL_SAFE_NO_PAD.encode(tx.to_string()).into_bytes(),
        };
        URL_SAFE_NO_PAD.encode(packet.encode())
    }

    fn transfer(amount: &str, ilp_packet: String) -> TransfersPostRequest {
        TransfersPostRequest {
            transfer_id: "b51ec534-ee48-4575-b6a9-ead2955b8069".into(),
            payee_fsp: "payeefsp".into(),
            payer_fsp: "payerfsp".into(),
            amount: fspiop::types::Money {
                amount: amount.into(),
                currency: "USD".into(),
            },
            ilp_packet,
            condition: "f5sqb7tBTWPd5Y8BDFdMm9BJR_MNI4isf8p8n4D5pHA".into(),
            expiration: "2030-01-01T00:00:00.000Z".into(),
            extension_list: None,
        }
    }

    #[test]
    fn a_v1_packet_is_checked_by_its_transaction_object() {
        let check = |t: &TransfersPostRequest| {
            check_packet(
                t,
                Money::parse(&t.amount.amount).unwrap(),
                IlpVersions::BOTH,
                0,
            )
        };
        // 4.11 USD as the SDK writes its amount field (411.00000000000006, garbled): accepted.
        assert_eq!(
            check(&transfer("4.11", sdk_v1(4_110_000_000_006, "4.11"))),
            Ok(())
        );
        assert_eq!(check(&transfer("4.11", sdk_v1(411, "4.11"))), Ok(()));
        // The Transaction object's amount is another: refused.
        assert_eq!(
            check(&transfer("4.12", sdk_v1(412, "4.11"))),
            Err("ILP transaction amount does not match the transfer amount".to_string())
        );
        // Only v4 allowed: refused for its version.
        let only_v4 = check_packet(
            &transfer("4.11", sdk_v1(411, "4.11")),
            Money::parse("4.11").unwrap(),
            IlpVersions::only(fspiop::ilp::IlpVersion::V4),
            0,
        );
        assert!(only_v4.unwrap_err().contains("does not accept"));
    }
}
