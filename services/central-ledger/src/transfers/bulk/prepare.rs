//! `POST /bulkTransfers` from `topic-bulk-prepare`: the bulk checked, each of its transfers
//! prepared as a transfer of a prepare batch (`super::super::prepare::apply`: the same checks,
//! duplicate detection and reservation through the ledger book, the payer's liquidity and net
//! debit cap used up transfer by transfer), the bulk and its transfers' places recorded, all in
//! one transaction; then the payee is sent the reserved transfers, or the payer told REJECTED
//! when none was reserved.
//!
//! A resent bulk (same id, same body) is answered from its state (and, while the payee's
//! answer is awaited, sent to the payee again: a redelivery after a crash between commit and
//! notification would otherwise never reach it); the same id with another body is 3106.

use std::collections::BTreeMap;

use fspiop::envelope::{self, Message};
use fspiop::types::{BulkTransfersPostRequest, TransfersPostRequest};
use fspiop::validate::UnknownFields;
use fspiop::{ErrorCode, FspiopError};
use ledger::bulk::{BulkState, ItemState};
use serde_json::Value;

use super::super::notify::Notifier;
use super::super::prepare::{self as transfer_prepare, Incoming, PrepareConfig};
use super::super::{body_hash, DbTime};
use super::{BulkRow, Item};
use crate::error::{Error, Result};
use crate::store::Store;

/// What one bulk prepare did, for metrics.
#[derive(Debug, Default)]
pub struct Outcome {
    pub messages: Vec<Message>,
    pub reserved: usize,
    pub refused: usize,
}

/// Handles one `bulk-prepare` message in one transaction.
pub async fn handle(
    store: &Store,
    notifier: &Notifier,
    config: &PrepareConfig,
    message: &Message,
    now_ms: i64,
) -> Result<Outcome> {
    let id = super::bulk_id_of(message);
    let source = super::source_of(message);
    let content_type = super::content_type_of(message);
    let refuse = |error: FspiopError| Outcome {
        messages: vec![super::error_message(
            notifier,
            &id,
            &source,
            &error,
            content_type.as_deref(),
            now_ms,
        )],
        ..Outcome::default()
    };
    let staged = match super::staged_body(&store.pool, message).await? {
        Ok(staged) => staged,
        Err(error) => return Ok(refuse(error)),
    };
    let body: Value = match fspiop::validate::parse_json(&staged.body) {
        Ok(body) => body,
        Err(error) => return Ok(refuse(error)),
    };
    let hash = body_hash(&body);
    let bulk: BulkTransfersPostRequest = match fspiop::types::from_value(body, UnknownFields::Allow)
    {
        Ok(bulk) => bulk,
        Err(error) => return Ok(refuse(error)),
    };
    let mut tx = store.pool.begin().await?;
    // A plain read: a locking read of a missing row would take a gap lock that two new bulks'
    // inserts deadlock on. Two copies of one new bulk at once: the second insert fails on the
    // key and its retry finds the first.
    if let Some(existing) = super::read_bulk(&mut *tx, &bulk.bulk_transfer_id).await? {
        let outcome = if existing.hash != hash {
            refuse(FspiopError::with_detail(
                ErrorCode::ModifiedRequest,
                format!(
                    "bulk transfer {} was sent before with different content",
                    bulk.bulk_transfer_id
                ),
            ))
        } else {
            resend(
                &mut tx,
                notifier,
                &existing,
                message,
                &staged.body,
                &bulk,
                content_type.as_deref(),
                now_ms,
            )
            .await?
        };
        tx.commit().await?;
        return Ok(outcome);
    }
    if let Err(error) = check(&bulk, &source, now_ms) {
        tx.commit().await?;
        return Ok(refuse(error));
    }
    sqlx::query(
        "INSERT INTO bulkTransfer (bulkTransferId, bulkQuoteId, payerFsp, payeeFsp, expirationDate, hash, bulkTransferStateId, createdDate)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&bulk.bulk_transfer_id)
    .bind(&bulk.bulk_quote_id)
    .bind(&bulk.payer_fsp)
    .bind(&bulk.payee_fsp)
    .bind(DbTime(fspiop::datetime::parse_date_time(&bulk.expiration).unwrap_or(now_ms)).to_string())
    .bind(&hash)
    .bind(BulkState::Received.id())
    .bind(DbTime(now_ms).to_string())
    .execute(&mut *tx)
    .await?;
    // Each transfer of the bulk as a prepare of one batch, in the bulk's order.
    let batch: Vec<Incoming> = bulk
        .individual_transfers
        .iter()
        .map(|t| {
            let transfer = TransfersPostRequest {
                transfer_id: t.transfer_id.clone(),
                payee_fsp: bulk.payee_fsp.clone(),
                payer_fsp: bulk.payer_fsp.clone(),
                amount: t.transfer_amount.clone(),
                ilp_packet: t.ilp_packet.clone(),
                condition: t.condition.clone(),
                expiration: bulk.expiration.clone(),
                extension_list: t.extension_list.clone(),
            };
            let hash = serde_json::to_value(&transfer)
                .map(|v| body_hash(&v))
                .unwrap_or_default();
            Incoming {
                message: message.clone(),
                transfer,
                hash,
                source: source.clone(),
            }
        })
        .collect();
    // Bulks carry no currency conversions: no candidates.
    let applied = transfer_prepare::apply(&mut tx, &batch, &[], config, now_ms).await?;
    let mut outcome = Outcome::default();
    let items: Vec<Item> = batch
        .iter()
        .enumerate()
        .map(|(index, b)| {
            let id = &b.transfer.transfer_id;
            let (state, error) = match applied.result(index, id) {
                Ok(()) => {
                    outcome.reserved += 1;
                    (ItemState::Accepted, None)
                }
                Err(error) => {
                    outcome.refused += 1;
                    let state = if error.code == ErrorCode::ModifiedRequest {
                        ItemState::ReceivedDuplicate
                    } else {
                        ItemState::ReceivedInvalid
                    };
                    (state, Some(super::item_error(&error)))
                }
            };
            Ok(Item {
                transfer_id: id.clone(),
                position: u32::try_from(index)
                    .map_err(|_| Error::Internal("bulk too long".into()))?,
                state,
                error,
            })
        })
        .collect::<Result<_>>()?;
    super::write_items(&mut tx, &bulk.bulk_transfer_id, &items).await?;
    let states: Vec<ItemState> = items.iter().map(|i| i.state).collect();
    let state = ledger::bulk::after_prepare(&states);
    super::set_state(
        &mut tx,
        &bulk.bulk_transfer_id,
        &[BulkState::Received, state],
        None,
        now_ms,
    )
    .await?;
    let row = BulkRow {
        id: bulk.bulk_transfer_id.clone(),
        payer: bulk.payer_fsp.clone(),
        payee: bulk.payee_fsp.clone(),
        hash,
        fulfil_hash: None,
        state,
    };
    outcome.messages = next_messages(
        &mut tx,
        notifier,
        &row,
        &items,
        message,
        &staged.body,
        &bulk,
        content_type.as_deref(),
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The bulk-level checks, in Mojaloop's order: the sender is the payer, the expiration is
/// in the future. (Participants and each transfer are checked per transfer.)
fn check(
    bulk: &BulkTransfersPostRequest,
    source: &str,
    now_ms: i64,
) -> std::result::Result<(), FspiopError> {
    if !source.eq_ignore_ascii_case(&bulk.payer_fsp) {
        return Err(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            "FSPIOP-Source header should match Payer",
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = bulk
        .individual_transfers
        .iter()
        .find(|t| !seen.insert(t.transfer_id.as_str()))
    {
        return Err(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            format!("transferId {} appears twice in the bulk", twice.transfer_id),
        ));
    }
    match fspiop::datetime::parse_date_time(&bulk.expiration) {
        Some(expiration) if expiration > now_ms => Ok(()),
        Some(expiration) => Err(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            format!(
                "Expiration date {} is already in the past",
                fspiop::datetime::format_date_time(expiration)
            ),
        )),
        None => Err(FspiopError::with_detail(
            ErrorCode::GenericValidationError,
            "expiration is not a valid DateTime",
        )),
    }
}

/// What follows a bulk's prepare: while the payee's answer is awaited, the reserved transfers
/// to the payee; when none was reserved, REJECTED with every error to the payer.
#[allow(clippy::too_many_arguments, reason = "the bulk's parts")]
async fn next_messages(
    tx: &mut crate::store::Tx<'_>,
    notifier: &Notifier,
    bulk: &BulkRow,
    items: &[Item],
    message: &Message,
    original: &[u8],
    request: &BulkTransfersPostRequest,
    content_type: Option<&str>,
    now_ms: i64,
) -> Result<Vec<Message>> {
    match bulk.state {
        BulkState::Accepted => {
            let accepted: std::collections::HashSet<&str> = items
                .iter()
                .filter(|i| i.state == ItemState::Accepted)
                .map(|i| i.transfer_id.as_str())
                .collect();
            let mut headers: BTreeMap<String, String> = message.content.headers.clone();
            let body = if accepted.len() == request.individual_transfers.len() {
                // Every transfer reserved: the payer's own bytes, its signature still valid.
                original.to_vec()
            } else {
                let mut only = request.clone();
                only.individual_transfers
                    .retain(|t| accepted.contains(t.transfer_id.as_str()));
                headers.remove("fspiop-signature");
                serde_json::to_vec(&only).map_err(Error::Json)?
            };
            let message_id = uuid::Uuid::new_v4().to_string();
            store::bulk::stage(
                &mut **tx,
                &message_id,
                &bulk.id,
                store::bulk::KIND_OUT,
                &body,
            )
            .await?;
            Ok(vec![super::staged_message(
                notifier,
                &bulk.id,
                &bulk.payee,
                envelope::action::BULK_PREPARE,
                &message_id,
                headers,
                now_ms,
            )])
        }
        state if state.is_final() => {
            let all: Vec<&Item> = items.iter().collect();
            Ok(vec![
                super::results_to(
                    tx,
                    notifier,
                    bulk,
                    state,
                    &all,
                    &bulk.payer,
                    content_type,
                    now_ms,
                )
                .await?,
            ])
        }
        _ => Ok(Vec::new()),
    }
}

/// A resent bulk: answered from its state (see the module documentation).
#[allow(clippy::too_many_arguments, reason = "the bulk's parts")]
async fn resend(
    tx: &mut crate::store::Tx<'_>,
    notifier: &Notifier,
    existing: &BulkRow,
    message: &Message,
    original: &[u8],
    request: &BulkTransfersPostRequest,
    content_type: Option<&str>,
    now_ms: i64,
) -> Result<Outcome> {
    let items = super::items(&mut **tx, &existing.id).await?;
    let mut messages = next_messages(
        tx,
        notifier,
        existing,
        &items,
        message,
        original,
        request,
        content_type,
        now_ms,
    )
    .await?;
    if existing.state == BulkState::Accepted {
        let all: Vec<&Item> = items.iter().collect();
        messages.push(
            super::results_to(
                tx,
                notifier,
                existing,
                existing.state,
                &all,
                &existing.payer,
                content_type,
                now_ms,
            )
            .await?,
        );
    } else if existing.state.is_final() && existing.state != BulkState::Rejected {
        messages = super::finish_messages(
            tx,
            notifier,
            existing,
            existing.state,
            &items,
            content_type,
            now_ms,
        )
        .await?;
        // Only the payer resent: only the payer is answered.
        messages.retain(|m| m.to == existing.payer);
    }
    Ok(Outcome {
        messages,
        ..Outcome::default()
    })
}
