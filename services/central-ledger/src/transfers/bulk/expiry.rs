//! Bulks in the timeout sweep. The sweep expires a bulk's reserved transfers as any others
//! (through the book, error 3303); for those it sends no per-transfer notice: their bulks'
//! items are marked EXPIRED and each bulk whose transfers are now all final is finished and
//! its payer and payee told once, with every result. Its notices are kept with the expiry
//! (`bulkTransferNotice`) until they are on the bus, like the transfers' expiry notices.

use std::collections::{BTreeMap, HashSet};

use fspiop::envelope::Message;
use fspiop::{ErrorCode, FspiopError};
use ledger::bulk::ItemState;
use sqlx::{MySql, QueryBuilder};

use super::super::notify::Notifier;
use super::BulkRow;
use crate::error::Result;
use crate::store::Tx;

/// The bulks (locked, in id order) of the due transfers `ids` still waiting in one, by bulk id;
/// called after the sweep locked the transfers (lock order: transfers, bulk, positions).
pub(crate) async fn lock_members(
    tx: &mut Tx<'_>,
    ids: &[String],
) -> Result<BTreeMap<String, (BulkRow, Vec<String>)>> {
    let mut members: BTreeMap<String, (BulkRow, Vec<String>)> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(members);
    }
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT bulkTransferId, transferId FROM bulkTransferAssociation WHERE bulkProcessingStateId = 'ACCEPTED' AND transferId IN (",
    );
    let mut list = query.separated(", ");
    for id in ids {
        list.push_bind(id.clone());
    }
    list.push_unseparated(")");
    let rows: Vec<(String, String)> = query.build_query_as().fetch_all(&mut **tx).await?;
    let mut by_bulk: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (bulk, transfer) in rows {
        by_bulk.entry(bulk).or_default().push(transfer);
    }
    for (bulk_id, transfers) in by_bulk {
        if let Some(bulk) = super::lock_bulk(tx, &bulk_id).await? {
            members.insert(bulk_id, (bulk, transfers));
        }
    }
    Ok(members)
}

/// The transfers of `members` that belong to a bulk (their notices are the bulk's).
pub(crate) fn member_ids(members: &BTreeMap<String, (BulkRow, Vec<String>)>) -> HashSet<String> {
    members
        .values()
        .flat_map(|(_, transfers)| transfers.iter().cloned())
        .collect()
}

/// After the sweep expired `expired` (ids): their items EXPIRED, finished bulks' notices
/// (recorded until delivered) returned.
pub(crate) async fn finish(
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    members: &BTreeMap<String, (BulkRow, Vec<String>)>,
    expired: &HashSet<String>,
    now_ms: i64,
) -> Result<Vec<Message>> {
    let error = super::item_error(&FspiopError::new(ErrorCode::TransferExpired));
    let mut messages = Vec::new();
    for (bulk_id, (bulk, transfers)) in members {
        let mut items = super::items(&mut **tx, bulk_id).await?;
        let mut changed = Vec::new();
        for item in items.iter_mut() {
            if item.state == ItemState::Accepted
                && transfers.contains(&item.transfer_id)
                && expired.contains(&item.transfer_id)
            {
                item.state = ItemState::Expired;
                item.error = Some(error.clone());
                changed.push(item.clone());
            }
        }
        super::write_items(tx, bulk_id, &changed).await?;
        let states: Vec<ItemState> = items.iter().map(|i| i.state).collect();
        if let Some(state) = ledger::bulk::after_answer(&states, false) {
            super::set_state(tx, bulk_id, &[state], Some("transfers expired"), now_ms).await?;
            messages.extend(
                super::finish_messages(tx, notifier, bulk, state, &items, None, now_ms).await?,
            );
        }
    }
    record(tx, &messages).await?;
    Ok(messages)
}

/// Whether `message` is a bulk's notice (kept in `bulkTransferNotice`).
pub fn is_notice(message: &Message) -> bool {
    message.metadata.event.action == fspiop::envelope::action::BULK_PUT
}

fn bulk_of(message: &Message) -> String {
    super::bulk_id_of(message)
}

async fn record(tx: &mut Tx<'_>, messages: &[Message]) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut rows = Vec::with_capacity(messages.len());
    for message in messages {
        rows.push((
            bulk_of(message),
            message.to.clone(),
            serde_json::to_string(message).map_err(crate::error::Error::Json)?,
        ));
    }
    let mut query = QueryBuilder::<MySql>::new(
        "INSERT INTO bulkTransferNotice (bulkTransferId, recipient, message) ",
    );
    query.push_values(&rows, |mut row, (bulk, to, text)| {
        row.push_bind(bulk.clone())
            .push_bind(to.clone())
            .push_bind(text.clone());
    });
    query.build().execute(&mut **tx).await?;
    Ok(())
}

/// Forgets the delivered bulk notices among `messages`.
pub async fn delivered(pool: &sqlx::MySqlPool, messages: &[&Message]) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut query = QueryBuilder::<MySql>::new(
        "DELETE FROM bulkTransferNotice WHERE (bulkTransferId, recipient) IN (",
    );
    let mut list = query.separated(", ");
    for message in messages {
        list.push("(")
            .push_bind_unseparated(bulk_of(message))
            .push_unseparated(", ")
            .push_bind_unseparated(message.to.clone())
            .push_unseparated(")");
    }
    list.push_unseparated(")");
    query.build().execute(pool).await?;
    Ok(())
}
