//! Funds in and funds out: recording money deposited at or withdrawn from the settlement bank.
//!
//! The API checks what it can at once (participant, account, amount, duplicate id, available
//! funds) and puts a command on `topic-admin-transfer`, keyed by the settlement account so one
//! account's movements stay in order; the admin-transfer handler applies it in one database
//! transaction, with the account positions locked. The posting rules are `ledger::funds`.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use fspiop::envelope::{self, Message};
use fspiop::error::ExtensionList;
use fspiop::ErrorCode;
use ledger::funds::{self, Direction, Side};
use ledger::transfer::State;
use ledger::Money;
use ledger_book::Journal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::store::{
    Participant, Store, Tx, ACCOUNT_HUB_RECONCILIATION, ACCOUNT_SETTLEMENT, HUB_PARTICIPANT_ID,
};

pub const ACTION_FUNDS_IN: &str = "recordFundsIn";
pub const ACTION_FUNDS_OUT_PREPARE_RESERVE: &str = "recordFundsOutPrepareReserve";
pub const ACTION_FUNDS_OUT_COMMIT: &str = "recordFundsOutCommit";
pub const ACTION_FUNDS_OUT_ABORT: &str = "recordFundsOutAbort";

const ROLE_HUB: u32 = 3;
const ROLE_DFSP_SETTLEMENT: u32 = 4;
const ENTRY_RECORD_FUNDS_IN: u32 = 9;
const ENTRY_RECORD_FUNDS_OUT: u32 = 10;
/// Reason recorded when a funds out finds too little money.
pub const REASON_INSUFFICIENT_FUNDS: &str = "Aborted due to insufficient funds";

/// A funds command as it travels on `topic-admin-transfer` (the envelope's payload).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FundsCommand {
    pub action: String,
    pub transfer_id: String,
    pub participant_name: String,
    /// The DFSP's SETTLEMENT participantCurrencyId.
    pub account_id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_reference: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_list: Option<ExtensionList>,
    /// SHA-256 of the request, for duplicate detection.
    pub hash: String,
}

/// base64url(SHA-256(canonical JSON of `body`)).
pub fn request_hash(body: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(
        fspiop::canonical::to_string(body).as_bytes(),
    ))
}

/// The settlement account a funds request names, checked: the participant exists and is
/// active, the account is its own, active, and of type SETTLEMENT.
pub fn settlement_account(
    participant: &Participant,
    account_id: u32,
) -> Result<&crate::store::Account> {
    if !participant.is_active {
        return Err(Error::client(
            ErrorCode::GenericClientError,
            "Participant is currently set inactive",
        ));
    }
    let account = participant
        .accounts
        .iter()
        .find(|a| a.id == account_id)
        .ok_or_else(|| {
            Error::not_found(format!(
                "account {account_id} of participant {} not found",
                participant.name
            ))
        })?;
    if !account.is_active {
        return Err(Error::client(
            ErrorCode::GenericClientError,
            "Account is currently set inactive",
        ));
    }
    if account.ledger_account_type != ACCOUNT_SETTLEMENT {
        return Err(Error::client(
            ErrorCode::GenericValidationError,
            "Account is not SETTLEMENT type",
        ));
    }
    Ok(account)
}

/// Where a funds transfer stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FundsTransfer {
    pub hash: String,
    pub state: Option<String>,
    pub account_id: Option<u32>,
    pub amount: Option<Money>,
    /// Whether it moves money out of the settlement account.
    pub is_funds_out: bool,
}

impl Store {
    /// The duplicate-check hash, latest state, DFSP settlement account and amount of a funds
    /// transfer.
    pub async fn funds_transfer(&self, transfer_id: &str) -> Result<Option<FundsTransfer>> {
        type Row = (String, Option<String>, Option<u32>, Option<String>, i64);
        let row: Option<Row> = sqlx::query_as(
            "SELECT d.hash,
                    (SELECT tsc.transferStateId FROM transferStateChange tsc WHERE tsc.transferId = d.transferId
                      ORDER BY tsc.transferStateChangeId DESC LIMIT 1),
                    (SELECT tp.participantCurrencyId FROM transferParticipant tp WHERE tp.transferId = d.transferId
                      AND tp.transferParticipantRoleTypeId = ? LIMIT 1),
                    (SELECT CAST(t.amount AS CHAR) FROM transfer t WHERE t.transferId = d.transferId),
                    (SELECT COUNT(*) FROM transferParticipant tp WHERE tp.transferId = d.transferId
                      AND tp.transferParticipantRoleTypeId = ? AND tp.ledgerEntryTypeId = ?)
             FROM transferDuplicateCheck d WHERE d.transferId = ?",
        )
        .bind(ROLE_DFSP_SETTLEMENT)
        .bind(ROLE_DFSP_SETTLEMENT)
        .bind(ENTRY_RECORD_FUNDS_OUT)
        .bind(transfer_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|(hash, state, account_id, amount, out_legs)| {
            let amount = amount
                .map(|a| Money::parse(&a).map_err(Error::Money))
                .transpose()?;
            Ok(FundsTransfer {
                hash,
                state,
                account_id,
                amount,
                is_funds_out: out_legs > 0,
            })
        })
        .transpose()
    }

    /// The current value of a position (0 when the account has none yet).
    pub async fn position_value(&self, account_id: u32) -> Result<Money> {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT CAST(value AS CHAR) FROM participantPosition WHERE participantCurrencyId = ?",
        )
        .bind(account_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map_or(Ok(Money::ZERO), |(v,)| {
            Money::parse(&v).map_err(Error::Money)
        })
    }
}

/// Puts a funds command on the bus and waits for the broker to take it.
pub async fn produce(
    producer: &bus::Producer,
    topic: &str,
    command: &FundsCommand,
    body: serde_json::Value,
    timeout_ms: u64,
    now_ms: i64,
) -> Result<()> {
    let (from, to) = if command.action == ACTION_FUNDS_IN {
        (command.participant_name.as_str(), envelope::HUB_NAME)
    } else {
        (envelope::HUB_NAME, command.participant_name.as_str())
    };
    let mut message = Message::from_request(
        &command.transfer_id,
        from,
        to,
        Default::default(),
        None,
        Some(&command.transfer_id),
        envelope::event_type::ADMIN,
        "transfer",
        now_ms,
    );
    message.content.payload = serde_json::to_value(command).map_err(Error::Json)?;
    message.content.context = Some(serde_json::json!({ "originalRequest": body }));
    let value = serde_json::to_vec(&message).map_err(Error::Json)?;
    let key = command.account_id.to_string();
    producer
        .send(topic, Some(&key), &value, timeout_ms)
        .await
        .map_err(Error::Bus)?;
    Ok(())
}

/// What applying a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The transfer reached this state.
    Applied(&'static str),
    /// The same request had been applied already.
    Duplicate,
    /// The id was used before for a different request; nothing was done.
    ModifiedDuplicate,
    /// Nothing to do, and why.
    Skipped(String),
}

async fn hub_reconciliation_account(tx: &mut Tx<'_>, currency: &str) -> Result<u32> {
    let row: Option<(u32,)> = sqlx::query_as(
        "SELECT pc.participantCurrencyId FROM participantCurrency pc
         JOIN ledgerAccountType lat ON lat.ledgerAccountTypeId = pc.ledgerAccountTypeId
         WHERE pc.participantId = ? AND pc.currencyId = ? AND lat.name = ?",
    )
    .bind(HUB_PARTICIPANT_ID)
    .bind(currency)
    .bind(ACCOUNT_HUB_RECONCILIATION)
    .fetch_optional(&mut **tx)
    .await?;
    row.map(|(id,)| id).ok_or_else(|| {
        Error::Internal(format!(
            "the hub has no {ACCOUNT_HUB_RECONCILIATION} account in {currency}"
        ))
    })
}

/// Applies one funds command. Idempotent: a command applied before changes nothing.
pub async fn apply(store: &Store, command: &FundsCommand, validity_s: u64) -> Result<Outcome> {
    match command.action.as_str() {
        ACTION_FUNDS_IN => prepare(store, command, Direction::In, validity_s).await,
        ACTION_FUNDS_OUT_PREPARE_RESERVE => {
            prepare(store, command, Direction::Out, validity_s).await
        }
        ACTION_FUNDS_OUT_COMMIT => finish(store, command, true).await,
        ACTION_FUNDS_OUT_ABORT => finish(store, command, false).await,
        other => Ok(Outcome::Skipped(format!("unknown action {other}"))),
    }
}

async fn prepare(
    store: &Store,
    command: &FundsCommand,
    direction: Direction,
    validity_s: u64,
) -> Result<Outcome> {
    let (Some(amount), Some(currency)) = (&command.amount, &command.currency) else {
        return Ok(Outcome::Skipped("no amount".into()));
    };
    let amount = Money::parse(amount).map_err(Error::Money)?;
    let mut tx = store.pool.begin().await?;
    let inserted =
        sqlx::query("INSERT INTO transferDuplicateCheck (transferId, hash) VALUES (?, ?)")
            .bind(&command.transfer_id)
            .bind(&command.hash)
            .execute(&mut *tx)
            .await
            .map_err(Error::from);
    match inserted {
        Ok(_) => {}
        Err(e) if e.is_unique_violation() => {
            drop(tx);
            let existing = store.funds_transfer(&command.transfer_id).await?;
            return Ok(match existing {
                Some(t) if t.hash == command.hash => Outcome::Duplicate,
                _ => Outcome::ModifiedDuplicate,
            });
        }
        Err(e) => return Err(e),
    }
    let hub_account = hub_reconciliation_account(&mut tx, currency).await?;
    let mut positions =
        ledger_book::lock_positions(&mut tx, &[hub_account, command.account_id]).await?;
    let account_of = |side: Side| match side {
        Side::Hub => hub_account,
        Side::Dfsp => command.account_id,
    };
    sqlx::query(
        "INSERT INTO transfer (transferId, amount, currencyId, ilpCondition, expirationDate)
         VALUES (?, ?, ?, '0', DATE_ADD(NOW(3), INTERVAL ? SECOND))",
    )
    .bind(&command.transfer_id)
    .bind(amount.to_decimal_string())
    .bind(currency)
    .bind(validity_s)
    .execute(&mut *tx)
    .await?;
    let entry = match direction {
        Direction::In => ENTRY_RECORD_FUNDS_IN,
        Direction::Out => ENTRY_RECORD_FUNDS_OUT,
    };
    let (hub_leg, dfsp_leg) = funds::legs(direction, amount);
    let dfsp_participant: (u32,) = sqlx::query_as(
        "SELECT participantId FROM participantCurrency WHERE participantCurrencyId = ?",
    )
    .bind(command.account_id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO transferParticipant
           (transferId, participantId, participantCurrencyId, transferParticipantRoleTypeId, ledgerEntryTypeId, amount)
         VALUES (?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?)",
    )
    .bind(&command.transfer_id)
    .bind(HUB_PARTICIPANT_ID)
    .bind(hub_account)
    .bind(ROLE_HUB)
    .bind(entry)
    .bind(hub_leg.to_decimal_string())
    .bind(&command.transfer_id)
    .bind(dfsp_participant.0)
    .bind(command.account_id)
    .bind(ROLE_DFSP_SETTLEMENT)
    .bind(entry)
    .bind(dfsp_leg.to_decimal_string())
    .execute(&mut *tx)
    .await?;
    let mut extensions: Vec<(String, String)> = Vec::new();
    if let Some(reference) = &command.external_reference {
        extensions.push(("externalReference".into(), reference.clone()));
    }
    if let Some(list) = &command.extension_list {
        extensions.extend(
            list.extension
                .iter()
                .map(|e| (e.key.clone(), e.value.clone())),
        );
    }
    for (key, value) in extensions {
        sqlx::query("INSERT INTO transferExtension (transferId, `key`, value) VALUES (?, ?, ?)")
            .bind(&command.transfer_id)
            .bind(key)
            .bind(value)
            .execute(&mut *tx)
            .await?;
    }
    // The book: the states and the legs' moves, checked and journaled together.
    let id = command.transfer_id.as_str();
    let reason = Some(command.reason.as_str());
    let mut journal = Journal::new();
    journal.transition(id, None, State::ReceivedPrepare, reason);
    let outcome = match direction {
        Direction::In => {
            journal.transition(id, Some(State::ReceivedPrepare), State::Reserved, reason);
            let reserve = funds::reserve(direction, amount);
            journal.move_position(account_of(reserve.side), reserve.delta, id, State::Reserved);
            commit_rows(&mut tx, id, &command.hash).await?;
            journal.path(
                id,
                Some(State::Reserved),
                &[State::ReceivedFulfil, State::Committed],
                reason,
            );
            let commit = funds::commit(direction, amount);
            journal.move_position(account_of(commit.side), commit.delta, id, State::Committed);
            Outcome::Applied("COMMITTED")
        }
        Direction::Out => {
            let held = positions.value(command.account_id).ok_or_else(|| {
                ledger_book::broken(format!("account {} has no position", command.account_id))
            })?;
            match funds::reserve_out(held, amount) {
                Ok(_) => {
                    journal.transition(id, Some(State::ReceivedPrepare), State::Reserved, reason);
                    let reserve = funds::reserve(direction, amount);
                    journal.move_position(
                        account_of(reserve.side),
                        reserve.delta,
                        id,
                        State::Reserved,
                    );
                    Outcome::Applied("RESERVED")
                }
                Err(_) => {
                    journal.transition(
                        id,
                        Some(State::ReceivedPrepare),
                        State::AbortedRejected,
                        Some(REASON_INSUFFICIENT_FUNDS),
                    );
                    Outcome::Applied("ABORTED_REJECTED")
                }
            }
        }
    };
    journal.write(&mut tx, &mut positions).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The rows that close a funds transfer; the duplicate-check row makes commit and abort
/// mutually exclusive.
async fn commit_rows(tx: &mut Tx<'_>, transfer_id: &str, hash: &str) -> Result<()> {
    sqlx::query("INSERT INTO transferFulfilmentDuplicateCheck (transferId, hash) VALUES (?, ?)")
        .bind(transfer_id)
        .bind(hash)
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO transferFulfilment (transferId, ilpFulfilment, completedDate, isValid, settlementWindowId)
         VALUES (?, '0', NOW(3), 1, NULL)",
    )
    .bind(transfer_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn finish(store: &Store, command: &FundsCommand, commit: bool) -> Result<Outcome> {
    let mut tx = store.pool.begin().await?;
    let row: Option<(String, i64)> = sqlx::query_as(
        "SELECT CAST(amount AS CHAR), CAST(expirationDate > NOW(3) AS SIGNED) FROM transfer WHERE transferId = ? FOR UPDATE",
    )
    .bind(&command.transfer_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((amount, live)) = row else {
        return Ok(Outcome::Skipped(format!(
            "transfer {} does not exist",
            command.transfer_id
        )));
    };
    let amount = Money::parse(&amount).map_err(Error::Money)?;
    let (state,): (String,) = sqlx::query_as(
        "SELECT transferStateId FROM transferStateChange WHERE transferId = ? ORDER BY transferStateChangeId DESC LIMIT 1",
    )
    .bind(&command.transfer_id)
    .fetch_one(&mut *tx)
    .await?;
    if State::parse(&state) != Some(State::Reserved) {
        return Ok(Outcome::Skipped(format!(
            "transfer {} is {state}, not RESERVED",
            command.transfer_id
        )));
    }
    let legs: Vec<(u32, u32, u32)> = sqlx::query_as(
        "SELECT participantCurrencyId, transferParticipantRoleTypeId, ledgerEntryTypeId FROM transferParticipant WHERE transferId = ?",
    )
    .bind(&command.transfer_id)
    .fetch_all(&mut *tx)
    .await?;
    let dfsp_ok = legs.contains(&(
        command.account_id,
        ROLE_DFSP_SETTLEMENT,
        ENTRY_RECORD_FUNDS_OUT,
    ));
    let Some(hub_account) = legs.iter().find(|l| l.1 == ROLE_HUB).map(|l| l.0) else {
        return Ok(Outcome::Skipped("no hub leg".into()));
    };
    if !dfsp_ok {
        return Ok(Outcome::Skipped(format!(
            "transfer {} is not a funds out of account {}",
            command.transfer_id, command.account_id
        )));
    }
    let mut positions =
        ledger_book::lock_positions(&mut tx, &[hub_account, command.account_id]).await?;
    let account_of = |side: Side| match side {
        Side::Hub => hub_account,
        Side::Dfsp => command.account_id,
    };
    let id = command.transfer_id.as_str();
    let mut journal = Journal::new();
    let outcome = if commit && live != 0 {
        commit_rows(&mut tx, id, &command.hash).await?;
        let reason = Some(command.reason.as_str());
        journal.path(
            id,
            Some(State::Reserved),
            &[State::ReceivedFulfil, State::Committed],
            reason,
        );
        let change = funds::commit(Direction::Out, amount);
        journal.move_position(account_of(change.side), change.delta, id, State::Committed);
        Outcome::Applied("COMMITTED")
    } else {
        let reason = if commit {
            "Transfer expired before it was committed"
        } else {
            command.reason.as_str()
        };
        sqlx::query(
            "INSERT INTO transferFulfilmentDuplicateCheck (transferId, hash) VALUES (?, ?)",
        )
        .bind(id)
        .bind(&command.hash)
        .execute(&mut *tx)
        .await?;
        journal.path(
            id,
            Some(State::Reserved),
            &[State::ReceivedReject, State::AbortedRejected],
            Some(reason),
        );
        let change = funds::abort(Direction::Out, amount);
        journal.move_position(
            account_of(change.side),
            change.delta,
            id,
            State::AbortedRejected,
        );
        Outcome::Applied("ABORTED_REJECTED")
    };
    journal.write(&mut tx, &mut positions).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The admin-transfer handler: consumes `topic-admin-transfer`, applies each command, then
/// commits its offset (at-least-once; `apply` is idempotent). Stops when `stop` turns true,
/// after finishing the message in hand.
pub async fn run_handler(
    store: Store,
    consumer: bus::Consumer,
    validity_s: u64,
    mut stop: tokio::sync::watch::Receiver<bool>,
    metrics: crate::Metrics,
) {
    loop {
        let received = tokio::select! {
            _ = stop.changed() => break,
            received = consumer.recv() => received,
        };
        let message = match received {
            Ok(message) => message,
            Err(error) => {
                tracing::warn!(%error, "admin-transfer consumer error");
                continue;
            }
        };
        let outcome = match message
            .payload
            .as_deref()
            .map(serde_json::from_slice::<Message>)
        {
            Some(Ok(envelope)) => {
                match serde_json::from_value::<FundsCommand>(envelope.content.payload.clone()) {
                    Ok(command) => apply_with_retry(&store, &command, validity_s).await,
                    Err(error) => Ok(Outcome::Skipped(format!(
                        "payload is not a funds command: {error}"
                    ))),
                }
            }
            Some(Err(error)) => Ok(Outcome::Skipped(format!(
                "message is not an envelope: {error}"
            ))),
            None => Ok(Outcome::Skipped("empty message".into())),
        };
        match &outcome {
            Ok(Outcome::Applied(state)) => metrics.funds.inc(&["applied", state]),
            Ok(Outcome::Duplicate) => metrics.funds.inc(&["duplicate", ""]),
            Ok(Outcome::ModifiedDuplicate) => {
                tracing::warn!(
                    "funds command reused a transfer id with different content; ignored"
                );
                metrics.funds.inc(&["modified", ""]);
            }
            Ok(Outcome::Skipped(why)) => {
                tracing::warn!(why = %why, "funds command skipped");
                metrics.funds.inc(&["skipped", ""]);
            }
            Err(error) => {
                tracing::error!(%error, "funds command failed");
                metrics.funds.inc(&["failed", ""]);
                if error.is_invariant() {
                    metrics.invariant_breaks.inc(&["admin"]);
                }
            }
        }
        if let Err(Error::Db(error)) = &outcome {
            // The database still fails after the retries: the command is not dropped. The
            // handler stops without committing it (/health DOWN) and a restart applies it.
            tracing::error!(%error, "the admin-transfer handler stops; the command is kept on the bus");
            break;
        }
        if let Err(error) = consumer.commit_records(std::slice::from_ref(&message)) {
            tracing::warn!(%error, "offset commit failed");
        }
    }
    tracing::info!("admin-transfer handler stopped");
}

/// Attempts before a database error gives up on a command.
const APPLY_ATTEMPTS_MAX: u32 = 5;
const APPLY_RETRY_DELAY_MS: u64 = 200;

async fn apply_with_retry(
    store: &Store,
    command: &FundsCommand,
    validity_s: u64,
) -> Result<Outcome> {
    let mut attempt = 1;
    loop {
        match apply(store, command, validity_s).await {
            Err(Error::Db(error)) if attempt < APPLY_ATTEMPTS_MAX => {
                tracing::warn!(%error, attempt, "retrying funds command");
                tokio::time::sleep(Duration::from_millis(
                    APPLY_RETRY_DELAY_MS * u64::from(attempt),
                ))
                .await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
