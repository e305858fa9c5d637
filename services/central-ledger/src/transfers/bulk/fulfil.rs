//! The payee's answer to a bulk from `topic-bulk-fulfil`: `PUT /bulkTransfers/{ID}`
//! (`bulk-commit`) or `PUT /bulkTransfers/{ID}/error` (`bulk-abort`). In one transaction each
//! reserved transfer of the bulk is committed (a fulfilment matching its condition, before its
//! expiration) or aborted (refused, left out, a wrong fulfilment, the whole bulk refused)
//! through the fulfil handler's writes and so the ledger book; then payer and payee get the
//! results. A transfer already past its expiration is left to the timeout sweep, which
//! finishes the bulk.
//!
//! Only the bulk's payee may answer (3100 to anyone else, the bulk untouched); an unknown bulk
//! is 3210; a resent answer gets the results again, another answer once the bulk is finished
//! 3106. The hub itself sends a `bulk-abort` when the payee did not take the bulk (refused the
//! `POST`, e.g. a JWS payee and a bulk the hub had to cut and so unsign, or could not be
//! reached): every reserved transfer is aborted with the payee's error at once, not held until
//! the bulk's expiration.

use std::collections::HashMap;

use fspiop::envelope::{action, Message};
use fspiop::types::{BulkTransferState, BulkTransfersIdPutResponse};
use fspiop::validate::UnknownFields;
use fspiop::{ErrorCode, ErrorInformationObject, FspiopError};
use ledger::bulk::{Answer, ItemState};
use serde_json::Value;

use super::super::body_hash;
use super::super::fulfil::{load_transfers, open_window, Writes};
use super::super::notify::Notifier;
use super::Item;
use crate::error::Result;
use crate::store::Store;

/// What one answer did, for metrics.
#[derive(Debug, Default)]
pub struct Outcome {
    pub messages: Vec<Message>,
    pub committed: usize,
    pub aborted: usize,
}

/// What the payee said of the whole bulk.
enum Said {
    /// Results per transfer.
    Results(HashMap<String, std::result::Result<String, FspiopError>>),
    /// Every transfer refused with this error.
    Refused(FspiopError),
}

/// Handles one `bulk-commit` or `bulk-abort` message in one transaction.
pub async fn handle(
    store: &Store,
    notifier: &Notifier,
    message: &Message,
    now_ms: i64,
) -> Result<Outcome> {
    let sender = super::Sender::of(message);
    let super::Sender {
        id,
        source,
        content_type,
    } = &sender;
    // The hub itself aborts a bulk its payee did not take (the adapter could not deliver it);
    // the hub is told of nothing.
    let from_hub = message.metadata.event.action == action::BULK_ABORT
        && source.eq_ignore_ascii_case(&notifier.hub_name);
    let refuse = |error: FspiopError| Outcome {
        messages: if from_hub {
            tracing::info!(bulk = %id, %error, "the hub's abort of a bulk changed nothing");
            Vec::new()
        } else {
            vec![sender.refusal(notifier, &error, now_ms)]
        },
        ..Outcome::default()
    };
    let (_, body, hash) = match super::staged_json(&store.pool, message).await? {
        Ok(staged) => staged,
        Err(error) => return Ok(refuse(error)),
    };
    let said = match read(message, body) {
        Ok(said) => said,
        Err(error) => return Ok(refuse(error)),
    };
    let Some(bulk) = super::read_bulk(&store.pool, id).await? else {
        return Ok(refuse(FspiopError::with_detail(
            ErrorCode::BulkTransferIdNotFound,
            format!("bulk transfer {id} not found"),
        )));
    };
    if !from_hub && !source.eq_ignore_ascii_case(&bulk.payee) {
        return Ok(refuse(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            format!(
                "only the payee {} may answer bulk transfer {id}",
                bulk.payee
            ),
        )));
    }
    // The transfers waiting for this answer, read before the transaction: in it, nothing may be
    // read before they are locked (`load_transfers`). Lock order: the transfers, then the bulk
    // row; the items are read again under both locks.
    let waiting: Vec<String> = super::items(&store.pool, id)
        .await?
        .into_iter()
        .filter(|i| i.state == ItemState::Accepted)
        .map(|i| i.transfer_id)
        .collect();
    let mut tx = store.pool.begin().await?;
    let transfers = load_transfers(&mut tx, &waiting).await?;
    let Some(bulk) = super::lock_bulk(&mut tx, id).await? else {
        tx.commit().await?;
        return Ok(Outcome::default());
    };
    if let Some(earlier) = &bulk.fulfil_hash {
        // Answered before: the same answer gets the results again, another is refused.
        let outcome = if *earlier == hash && bulk.state.is_final() {
            let items = super::items(&mut *tx, id).await?;
            let sent: Vec<&Item> = items.iter().filter(|i| i.sent_to_payee()).collect();
            Outcome {
                messages: vec![
                    super::results_to(
                        &mut tx,
                        notifier,
                        &bulk,
                        bulk.state,
                        &sent,
                        &bulk.payee,
                        content_type.as_deref(),
                        now_ms,
                    )
                    .await?,
                ],
                ..Outcome::default()
            }
        } else if *earlier == hash || from_hub {
            Outcome::default()
        } else {
            refuse(FspiopError::with_detail(
                ErrorCode::ModifiedRequest,
                format!("bulk transfer {id} was answered before with different content"),
            ))
        };
        tx.commit().await?;
        return Ok(outcome);
    }
    if bulk.state.is_final() {
        tx.commit().await?;
        return Ok(refuse(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            format!("bulk transfer {id} is already {}", bulk.state.enumeration()),
        )));
    }
    let mut items = super::items(&mut *tx, id).await?;
    let mut writes = Writes::default();
    let mut outcome = Outcome::default();
    let mut changed: Vec<Item> = Vec::new();
    for item in items.iter_mut().filter(|i| i.state == ItemState::Accepted) {
        let Some(transfer) = transfers.get(&item.transfer_id) else {
            continue;
        };
        if transfer.state != ledger::transfer::State::Reserved {
            // Finished outside this answer (the payee's single `PUT /transfers/{ID}` for it):
            // the bulk reports what it became instead of waiting for it.
            if let Some(finished) = finished_apart(transfer.state) {
                item.state = finished.0;
                item.error = finished.1.as_ref().map(super::item_error);
                changed.push(item.clone());
            }
            continue;
        }
        let (answer, error, fulfilment) = match &said {
            Said::Refused(error) => (Answer::Refused, Some(error.clone()), None),
            Said::Results(results) => match results.get(&item.transfer_id) {
                Some(Ok(fulfilment)) => (
                    Answer::Fulfilment {
                        matches: fspiop::ilp::fulfilment_matches(fulfilment, &transfer.condition),
                    },
                    None,
                    Some(fulfilment.clone()),
                ),
                Some(Err(error)) => (Answer::Refused, Some(error.clone()), None),
                None => (
                    Answer::Missing,
                    Some(FspiopError::with_detail(
                        ErrorCode::GenericPayeeRejection,
                        "not in the payee's results",
                    )),
                    None,
                ),
            },
        };
        let expired = transfer.expiration_ms <= now_ms;
        match ledger::bulk::decide(answer, expired) {
            // Left for the timeout sweep, which expires it and finishes the bulk.
            ItemState::Expired => continue,
            ItemState::Completed => {
                writes.fulfil_hashes.push((
                    item.transfer_id.clone(),
                    item_hash(&hash, &item.transfer_id),
                ));
                writes.commit(&item.transfer_id, transfer, fulfilment, now_ms);
                outcome.committed += 1;
                item.state = ItemState::Completed;
            }
            state => {
                let error = if state == ItemState::FulfilInvalid {
                    FspiopError::with_detail(
                        ErrorCode::GenericValidationError,
                        "invalid fulfilment",
                    )
                } else {
                    error.unwrap_or_else(|| FspiopError::new(ErrorCode::GenericPayeeRejection))
                };
                writes.error_hashes.push((
                    item.transfer_id.clone(),
                    item_hash(&hash, &item.transfer_id),
                ));
                writes.abort(&item.transfer_id, transfer, &error);
                outcome.aborted += 1;
                item.state = state;
                item.error = Some(super::item_error(&error));
            }
        }
        changed.push(item.clone());
    }
    let window = open_window(&mut tx).await?;
    writes.flush(&mut tx, window).await?;
    super::write_items(&mut tx, id, &changed).await?;
    sqlx::query("UPDATE bulkTransfer SET fulfilHash = ? WHERE bulkTransferId = ?")
        .bind(&hash)
        .bind(id)
        .execute(&mut *tx)
        .await?;
    let states: Vec<ItemState> = items.iter().map(|i| i.state).collect();
    let whole_refused = matches!(said, Said::Refused(_));
    if let Some(state) = ledger::bulk::after_answer(&states, whole_refused) {
        super::set_state(&mut tx, id, &[state], None, now_ms).await?;
        outcome.messages = super::finish_messages(
            &mut tx,
            notifier,
            &bulk,
            state,
            &items,
            content_type.as_deref(),
            now_ms,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(outcome)
}

/// What a transfer of the bulk that is already final became, as the bulk reports it.
fn finished_apart(state: ledger::transfer::State) -> Option<(ItemState, Option<FspiopError>)> {
    use ledger::transfer::{Enumeration, State};
    if !state.is_final() {
        return None;
    }
    Some(match (state, state.enumeration()) {
        (_, Enumeration::Committed | Enumeration::Settled) => (ItemState::Completed, None),
        (State::ExpiredReserved, _) => (
            ItemState::Expired,
            Some(FspiopError::new(ErrorCode::TransferExpired)),
        ),
        _ => (
            ItemState::Rejected,
            Some(FspiopError::with_detail(
                ErrorCode::GenericPayeeRejection,
                "aborted by a callback outside the bulk",
            )),
        ),
    })
}

/// The duplicate-check hash of one transfer's part of a bulk answer: the answer's hash and
/// the transfer (a single `PUT /transfers/{ID}` for it later is never taken for a resend).
fn item_hash(answer_hash: &str, transfer_id: &str) -> String {
    body_hash(&serde_json::json!({ "bulkAnswer": answer_hash, "transferId": transfer_id }))
}

/// What the payee's body says: per transfer a fulfilment or an error, or the whole bulk
/// refused (`bulkTransferState: REJECTED`, or an error callback).
fn read(message: &Message, body: Value) -> std::result::Result<Said, FspiopError> {
    if message.metadata.event.action == action::BULK_ABORT {
        let object: ErrorInformationObject = fspiop::types::from_value(body, UnknownFields::Allow)?;
        let error = FspiopError::received(object.error_information)
            .unwrap_or_else(|| FspiopError::new(ErrorCode::GenericPayeeRejection));
        return Ok(Said::Refused(error));
    }
    let answer: BulkTransfersIdPutResponse = fspiop::types::from_value(body, UnknownFields::Allow)?;
    match answer.bulk_transfer_state {
        BulkTransferState::Rejected => Ok(Said::Refused(FspiopError::with_detail(
            ErrorCode::GenericPayeeRejection,
            "the payee rejected the bulk transfer",
        ))),
        BulkTransferState::Completed => {
            let mut results = HashMap::new();
            for result in answer.individual_transfer_results.unwrap_or_default() {
                let outcome = match (result.fulfilment, result.error_information) {
                    (_, Some(information)) => Err(FspiopError::received(information)
                        .unwrap_or_else(|| FspiopError::new(ErrorCode::GenericPayeeRejection))),
                    (Some(fulfilment), None) => Ok(fulfilment),
                    (None, None) => Err(FspiopError::with_detail(
                        ErrorCode::GenericPayeeRejection,
                        "neither fulfilment nor errorInformation",
                    )),
                };
                results.insert(result.transfer_id, outcome);
            }
            Ok(Said::Results(results))
        }
        other => Err(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            format!("bulkTransferState {other} is not an answer (COMPLETED or REJECTED)"),
        )),
    }
}
