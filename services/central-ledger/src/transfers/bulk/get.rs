//! `GET /bulkTransfers/{ID}` from `topic-bulk-get`: the bulk's state and its transfers'
//! results so far, to its payer (every transfer) or its payee (those it was sent), as
//! `PUT /bulkTransfers/{ID}`. A bulk the API took but the ledger has not yet handled is
//! RECEIVED. Anyone else, or an unknown id, gets 3210 (a bulk's existence is not shown to
//! third parties).

use fspiop::envelope::Message;
use fspiop::{ErrorCode, FspiopError};
use ledger::bulk::BulkState;

use super::super::notify::Notifier;
use super::{BulkRow, Item};
use crate::error::Result;
use crate::store::Store;

/// Answers one `bulk-get` message.
pub async fn handle(
    store: &Store,
    notifier: &Notifier,
    message: &Message,
    now_ms: i64,
) -> Result<Vec<Message>> {
    let id = super::bulk_id_of(message);
    let requester = super::source_of(message);
    let content_type = super::content_type_of(message);
    let not_found = || {
        vec![super::error_message(
            notifier,
            &id,
            &requester,
            &FspiopError::with_detail(
                ErrorCode::BulkTransferIdNotFound,
                format!("bulk transfer {id} not found"),
            ),
            content_type.as_deref(),
            now_ms,
        )]
    };
    let mut tx = store.pool.begin().await?;
    let Some(bulk) = super::read_bulk(&mut *tx, &id).await? else {
        // Taken by the API, not yet handled: RECEIVED, to its sender only.
        let staged: Option<(Vec<u8>,)> = sqlx::query_as(
            "SELECT body FROM bulkTransferMessage WHERE bulkTransferId = ? AND kind = ? LIMIT 1",
        )
        .bind(&id)
        .bind(store::bulk::KIND_PREPARE)
        .fetch_optional(&mut *tx)
        .await?;
        let payer = staged
            .and_then(|(body,)| serde_json::from_slice::<serde_json::Value>(&body).ok())
            .and_then(|b| b.get("payerFsp")?.as_str().map(str::to_string));
        if !payer.is_some_and(|p| p.eq_ignore_ascii_case(&requester)) {
            tx.commit().await?;
            return Ok(not_found());
        }
        let received = BulkRow {
            id: id.clone(),
            payer: requester.clone(),
            payee: String::new(),
            hash: String::new(),
            fulfil_hash: None,
            state: BulkState::Received,
        };
        let message = super::results_to(
            &mut tx,
            notifier,
            &received,
            BulkState::Received,
            &[],
            &requester,
            content_type.as_deref(),
            now_ms,
        )
        .await?;
        tx.commit().await?;
        return Ok(vec![message]);
    };
    let is_payer = requester.eq_ignore_ascii_case(&bulk.payer);
    if !is_payer && !requester.eq_ignore_ascii_case(&bulk.payee) {
        tx.commit().await?;
        return Ok(not_found());
    }
    let items = super::items(&mut *tx, &id).await?;
    let shown: Vec<&Item> = items
        .iter()
        .filter(|i| is_payer || i.sent_to_payee())
        .collect();
    let message = super::results_to(
        &mut tx,
        notifier,
        &bulk,
        bulk.state,
        &shown,
        &requester,
        content_type.as_deref(),
        now_ms,
    )
    .await?;
    tx.commit().await?;
    Ok(vec![message])
}
