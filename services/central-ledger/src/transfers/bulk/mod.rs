//! Bulk transfers (`/bulkTransfers`): one payer DFSP paying up to 1000 payees of one payee DFSP
//! in one request. Each transfer of a bulk is an ordinary transfer, reserved, committed, aborted
//! and expired through the same code as a single one (`super::prepare::apply`,
//! `super::fulfil::Writes`, the timeout sweep) and so through the ledger book; a bulk adds its
//! own row (`bulkTransfer`, its state), one association row per transfer (where that transfer
//! stands in the bulk and why it failed) and its message bodies (`store::bulk`).
//!
//! - `prepare`: `POST /bulkTransfers` → every transfer reserved or refused in ONE transaction
//!   (the payer's liquidity and net debit cap used up transfer by transfer, as in a prepare
//!   batch); the payee is sent the reserved ones, or the payer told REJECTED when none was.
//! - `fulfil`: the payee's `PUT /bulkTransfers/{ID}` (or `/error`) → each reserved transfer
//!   committed with a matching fulfilment or aborted, in one transaction; payer and payee get
//!   the results.
//! - `get`: `GET /bulkTransfers/{ID}` → the state and results so far, to payer or payee.
//! - `expiry`: the timeout sweep expires a bulk's transfers like any other and, instead of one
//!   notice per transfer, finishes the bulk and tells payer and payee once.
//!
//! Lock order, as every writer of the ledger: transfers, then the bulk row, then positions.

pub mod expiry;
pub mod fulfil;
pub mod get;
pub mod prepare;

use std::collections::{BTreeMap, HashMap};

use fspiop::envelope::{self, EventState, Message};
use fspiop::headers::media_type;
use fspiop::types::{BulkTransferState, BulkTransfersIdPutResponse, IndividualTransferResult};
use fspiop::{ErrorCode, ErrorInformation, FspiopError};
use ledger::bulk::{BulkState, ItemState};
use serde_json::json;
use sqlx::{MySql, MySqlExecutor, QueryBuilder};

use super::notify::Notifier;
use super::DbTime;
use crate::error::{Error, Result};
use crate::store::Tx;

/// The FSPIOP resource of the bulk routes.
pub const RESOURCE: &str = "bulkTransfers";

/// A bulk as stored.
#[derive(Debug, Clone)]
pub(crate) struct BulkRow {
    pub id: String,
    pub payer: String,
    pub payee: String,
    pub hash: String,
    pub fulfil_hash: Option<String>,
    pub state: BulkState,
}

type BulkColumns = (String, String, String, String, Option<String>, String);

const BULK_SELECT: &str =
    "SELECT bulkTransferId, payerFsp, payeeFsp, hash, fulfilHash, bulkTransferStateId
    FROM bulkTransfer WHERE bulkTransferId = ?";

fn bulk_row(columns: BulkColumns) -> Result<BulkRow> {
    let (id, payer, payee, hash, fulfil_hash, state) = columns;
    let state = BulkState::parse(&state)
        .ok_or_else(|| Error::Internal(format!("bulk {id} has unknown state {state}")))?;
    Ok(BulkRow {
        id,
        payer,
        payee,
        hash,
        fulfil_hash,
        state,
    })
}

/// Bulk `id`, unlocked.
pub(super) async fn read_bulk<'e, E: MySqlExecutor<'e>>(
    executor: E,
    id: &str,
) -> Result<Option<BulkRow>> {
    let row: Option<BulkColumns> = sqlx::query_as(BULK_SELECT)
        .bind(id)
        .fetch_optional(executor)
        .await?;
    row.map(bulk_row).transpose()
}

/// Bulk `id`, its row locked until the transaction ends.
pub(super) async fn lock_bulk(tx: &mut Tx<'_>, id: &str) -> Result<Option<BulkRow>> {
    let row: Option<BulkColumns> = sqlx::query_as(&format!("{BULK_SELECT} FOR UPDATE"))
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(bulk_row).transpose()
}

/// One transfer of a bulk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Item {
    pub transfer_id: String,
    pub position: u32,
    pub state: ItemState,
    /// (code, description) once it failed.
    pub error: Option<(u32, String)>,
}

impl Item {
    /// Whether the payee was sent this transfer (it was reserved).
    pub fn sent_to_payee(&self) -> bool {
        !matches!(
            self.state,
            ItemState::ReceivedInvalid | ItemState::ReceivedDuplicate
        )
    }
}

/// The transfers of bulk `id`, in the bulk's order.
pub(super) async fn items<'e, E: MySqlExecutor<'e>>(executor: E, id: &str) -> Result<Vec<Item>> {
    type Row = (String, u32, String, Option<u32>, Option<String>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT transferId, position, bulkProcessingStateId, errorCode, errorDescription
         FROM bulkTransferAssociation WHERE bulkTransferId = ? ORDER BY position",
    )
    .bind(id)
    .fetch_all(executor)
    .await?;
    rows.into_iter()
        .map(|(transfer_id, position, state, code, description)| {
            let state = ItemState::parse(&state).ok_or_else(|| {
                Error::Internal(format!(
                    "transfer {transfer_id} has unknown bulk state {state}"
                ))
            })?;
            Ok(Item {
                transfer_id,
                position,
                state,
                error: code.map(|c| (c, description.unwrap_or_default())),
            })
        })
        .collect()
}

/// Writes `items` of bulk `id` (new rows, or new states of existing ones) in one statement.
pub(super) async fn write_items(tx: &mut Tx<'_>, id: &str, items: &[Item]) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let mut query = QueryBuilder::<MySql>::new(
        "INSERT INTO bulkTransferAssociation (bulkTransferId, transferId, position, bulkProcessingStateId, errorCode, errorDescription) ",
    );
    query.push_values(items, |mut row, item| {
        row.push_bind(id.to_string())
            .push_bind(item.transfer_id.clone())
            .push_bind(item.position)
            .push_bind(item.state.id())
            .push_bind(item.error.as_ref().map(|(code, _)| *code))
            .push_bind(item.error.as_ref().map(|(_, d)| d.clone()));
    });
    query.push(
        " ON DUPLICATE KEY UPDATE bulkProcessingStateId = VALUES(bulkProcessingStateId),
          errorCode = VALUES(errorCode), errorDescription = VALUES(errorDescription)",
    );
    query.build().execute(&mut **tx).await?;
    Ok(())
}

/// Moves bulk `id` to `states` (in order; the last is its state), recording each change.
pub(super) async fn set_state(
    tx: &mut Tx<'_>,
    id: &str,
    states: &[BulkState],
    reason: Option<&str>,
    now_ms: i64,
) -> Result<()> {
    let Some(last) = states.last() else {
        return Ok(());
    };
    let completed = last.is_final().then(|| DbTime(now_ms).to_string());
    sqlx::query(
        "UPDATE bulkTransfer SET bulkTransferStateId = ?, completedDate = COALESCE(?, completedDate) WHERE bulkTransferId = ?",
    )
    .bind(last.id())
    .bind(completed)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let mut query = QueryBuilder::<MySql>::new(
        "INSERT INTO bulkTransferStateChange (bulkTransferId, bulkTransferStateId, reason, createdDate) ",
    );
    query.push_values(states, |mut row, state| {
        row.push_bind(id.to_string())
            .push_bind(state.id())
            .push_bind(reason.map(|r| fspiop::error::truncate_chars(r, 512)))
            .push_bind(DbTime(now_ms).to_string());
    });
    query.build().execute(&mut **tx).await?;
    Ok(())
}

/// The error an item failed with, as FSPIOP `errorInformation`.
fn error_information(code: u32, description: &str) -> ErrorInformation {
    ErrorInformation {
        error_code: code.to_string(),
        error_description: description.to_string(),
        extension_list: None,
    }
}

/// `(code, description)` of `error` as an item records it (a DFSP's own code kept).
pub(super) fn item_error(error: &FspiopError) -> (u32, String) {
    let information = error.to_error_information();
    let code = information
        .error_code
        .parse::<u32>()
        .unwrap_or(u32::from(error.code.code()));
    (
        code,
        fspiop::error::truncate_chars(&information.error_description, 128),
    )
}

/// The `PUT /bulkTransfers/{ID}` body for `items`: committed ones with their fulfilment,
/// failed ones with their error, the others with their id only.
pub(super) async fn results_body<'e, E: MySqlExecutor<'e>>(
    executor: E,
    state: BulkState,
    items: &[&Item],
    completed_ms: Option<i64>,
) -> Result<Vec<u8>> {
    let committed: Vec<String> = items
        .iter()
        .filter(|i| i.state == ItemState::Completed)
        .map(|i| i.transfer_id.clone())
        .collect();
    let mut fulfilments: HashMap<String, String> = HashMap::new();
    if !committed.is_empty() {
        let mut query = QueryBuilder::<MySql>::new(
            "SELECT transferId, ilpFulfilment FROM transferFulfilment WHERE transferId IN (",
        );
        let mut list = query.separated(", ");
        for id in &committed {
            list.push_bind(id.clone());
        }
        list.push_unseparated(")");
        let rows: Vec<(String, Option<String>)> =
            query.build_query_as().fetch_all(executor).await?;
        fulfilments.extend(rows.into_iter().filter_map(|(id, f)| Some((id, f?))));
    }
    let results: Vec<IndividualTransferResult> = items
        .iter()
        .map(|item| IndividualTransferResult {
            transfer_id: item.transfer_id.clone(),
            fulfilment: fulfilments.get(&item.transfer_id).cloned(),
            error_information: item
                .error
                .as_ref()
                .map(|(code, description)| error_information(*code, description)),
            extension_list: None,
        })
        .collect();
    let body = BulkTransfersIdPutResponse {
        completed_timestamp: completed_ms.map(fspiop::datetime::format_date_time),
        individual_transfer_results: Some(results),
        bulk_transfer_state: BulkTransferState::parse(state.enumeration())
            .unwrap_or(BulkTransferState::Processing),
        extension_list: None,
    };
    serde_json::to_vec(&body).map_err(Error::Json)
}

/// A notification from the hub to `to` about bulk `id`, whose body is staged as
/// `message_id`: `bulk-put` (results or state) or `bulk-prepare` (with the payer's headers).
pub(super) fn staged_message(
    notifier: &Notifier,
    id: &str,
    to: &str,
    action: &str,
    message_id: &str,
    headers: BTreeMap<String, String>,
    now_ms: i64,
) -> Message {
    let from = headers
        .get("fspiop-source")
        .cloned()
        .unwrap_or_else(|| notifier.hub_name.clone());
    let mut message = Message::from_request(
        id,
        &from,
        to,
        headers,
        None,
        Some(id),
        envelope::event_type::NOTIFICATION,
        action,
        now_ms,
    );
    message.id = uuid::Uuid::new_v4().to_string();
    message.metadata.event.id = Some(message.id.clone());
    message.content.payload = json!({});
    message.content.context = Some(json!({ store::bulk::CONTEXT_MESSAGE_ID: message_id }));
    message
}

/// The headers of a message the hub originates to `to`, in `version` (the bulk's own).
pub(super) fn hub_headers(
    notifier: &Notifier,
    to: &str,
    content_type: Option<&str>,
    now_ms: i64,
) -> BTreeMap<String, String> {
    let mut headers = BTreeMap::new();
    headers.insert(
        "content-type".to_string(),
        content_type
            .map(str::to_string)
            .unwrap_or_else(|| media_type(RESOURCE, notifier.versions.content_default)),
    );
    headers.insert(
        "date".to_string(),
        fspiop::datetime::format_http_date(now_ms),
    );
    headers.insert("fspiop-source".to_string(), notifier.hub_name.clone());
    headers.insert("fspiop-destination".to_string(), to.to_string());
    headers
}

/// Stages the results of `items` in state `state` for `to` and returns the `bulk-put`
/// notification.
#[allow(clippy::too_many_arguments, reason = "one message's parts")]
pub(super) async fn results_to(
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    bulk: &BulkRow,
    state: BulkState,
    items: &[&Item],
    to: &str,
    content_type: Option<&str>,
    now_ms: i64,
) -> Result<Message> {
    let completed = state.is_final().then_some(now_ms);
    let body = results_body(&mut **tx, state, items, completed).await?;
    let message_id = uuid::Uuid::new_v4().to_string();
    store::bulk::stage(
        &mut **tx,
        &message_id,
        &bulk.id,
        store::bulk::KIND_OUT,
        &body,
    )
    .await?;
    Ok(staged_message(
        notifier,
        &bulk.id,
        to,
        envelope::action::BULK_PUT,
        &message_id,
        hub_headers(notifier, to, content_type, now_ms),
        now_ms,
    ))
}

/// The final results of `bulk` to its payer (every transfer) and payee (those it was sent).
pub(super) async fn finish_messages(
    tx: &mut Tx<'_>,
    notifier: &Notifier,
    bulk: &BulkRow,
    state: BulkState,
    items: &[Item],
    content_type: Option<&str>,
    now_ms: i64,
) -> Result<Vec<Message>> {
    let all: Vec<&Item> = items.iter().collect();
    let sent: Vec<&Item> = items.iter().filter(|i| i.sent_to_payee()).collect();
    let mut messages = vec![
        results_to(
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
    ];
    if !sent.is_empty() {
        messages.push(
            results_to(
                tx,
                notifier,
                bulk,
                state,
                &sent,
                &bulk.payee,
                content_type,
                now_ms,
            )
            .await?,
        );
    }
    Ok(messages)
}

/// `PUT /bulkTransfers/{ID}/error` from the hub to `to`.
pub(super) fn error_message(
    notifier: &Notifier,
    id: &str,
    to: &str,
    error: &FspiopError,
    content_type: Option<&str>,
    now_ms: i64,
) -> Message {
    let mut message = Message::from_request(
        id,
        &notifier.hub_name,
        to,
        hub_headers(notifier, to, content_type, now_ms),
        None,
        Some(id),
        envelope::event_type::NOTIFICATION,
        envelope::action::BULK_ERROR,
        now_ms,
    );
    message.id = uuid::Uuid::new_v4().to_string();
    message.metadata.event.id = Some(message.id.clone());
    message.content.payload = serde_json::to_value(error.to_body()).unwrap_or_default();
    message.metadata.event.state =
        EventState::error(u32::from(error.code.code()), error.description());
    message
}

/// The bulk's content type as its sender wrote it (its FSPIOP version), when it is a
/// `bulkTransfers` one.
pub(super) fn content_type_of(message: &Message) -> Option<String> {
    message
        .content
        .headers
        .get("content-type")
        .filter(|ct| fspiop::headers::parse_content_type(ct, RESOURCE).is_some())
        .cloned()
}

/// The id of the bulk a message is about (`uriParams.id`, else the message id).
pub(super) fn bulk_id_of(message: &Message) -> String {
    message
        .content
        .uri_params
        .as_ref()
        .map(|u| u.id.clone())
        .unwrap_or_else(|| message.id.clone())
}

/// `FSPIOP-Source` of a message (else its `from`).
pub(super) fn source_of(message: &Message) -> String {
    message
        .content
        .headers
        .get("fspiop-source")
        .cloned()
        .unwrap_or_else(|| message.from.clone())
}

/// The staged body a message names, or the error its sender is told.
pub(super) async fn staged_body<'e, E: MySqlExecutor<'e>>(
    executor: E,
    message: &Message,
) -> Result<std::result::Result<store::bulk::Staged, FspiopError>> {
    let Some(message_id) = message
        .content
        .context
        .as_ref()
        .and_then(|c| c.get(store::bulk::CONTEXT_MESSAGE_ID))
        .and_then(|v| v.as_str())
    else {
        return Ok(Err(FspiopError::with_detail(
            ErrorCode::InternalServerError,
            "bulk message without its staged body",
        )));
    };
    Ok(store::bulk::load(executor, message_id)
        .await?
        .ok_or_else(|| {
            FspiopError::with_detail(
                ErrorCode::InternalServerError,
                format!("staged bulk body {message_id} not found"),
            )
        }))
}

/// Attempts at a bulk before its sender is told 2001.
const BULK_ATTEMPTS_MAX: u32 = 3;
const BULK_RETRY_DELAY_MS: u64 = 200;

/// One bulk message handled, retried like a transfer batch (not an invariant break); on
/// failure its sender is told 2001.
async fn handle_one(
    store: &crate::store::Store,
    notifier: &Notifier,
    config: &super::prepare::PrepareConfig,
    message: &Message,
    metrics: &crate::Metrics,
) -> Vec<Message> {
    let now_ms = crate::now_ms();
    let action = message.metadata.event.action.as_str();
    let mut attempt = 1;
    loop {
        let result = match action {
            envelope::action::BULK_PREPARE => {
                prepare::handle(store, notifier, config, message, now_ms)
                    .await
                    .map(|o| {
                        metrics
                            .transfers
                            .inc_by(&["bulk-prepare", "reserved"], o.reserved as u64);
                        metrics
                            .transfers
                            .inc_by(&["bulk-prepare", "rejected"], o.refused as u64);
                        o.messages
                    })
            }
            envelope::action::BULK_COMMIT | envelope::action::BULK_ABORT => {
                fulfil::handle(store, notifier, message, now_ms)
                    .await
                    .map(|o| {
                        metrics
                            .transfers
                            .inc_by(&["bulk-fulfil", "committed"], o.committed as u64);
                        metrics
                            .transfers
                            .inc_by(&["bulk-fulfil", "aborted"], o.aborted as u64);
                        o.messages
                    })
            }
            envelope::action::BULK_GET => get::handle(store, notifier, message, now_ms).await,
            other => {
                tracing::warn!(action = %other, "unknown bulk action; skipped");
                return Vec::new();
            }
        };
        match result {
            Ok(messages) => return messages,
            Err(error) if attempt < BULK_ATTEMPTS_MAX && !error.is_invariant() => {
                tracing::warn!(%error, attempt, "bulk message failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(
                    BULK_RETRY_DELAY_MS * u64::from(attempt),
                ))
                .await;
                attempt += 1;
            }
            Err(error) => {
                if error.is_invariant() {
                    metrics.invariant_breaks.inc(&["bulk"]);
                }
                tracing::error!(%error, bulk = %bulk_id_of(message), "bulk message failed; its sender is told 2001");
                return vec![error_message(
                    notifier,
                    &bulk_id_of(message),
                    &source_of(message),
                    &FspiopError::new(ErrorCode::InternalServerError),
                    content_type_of(message).as_deref(),
                    now_ms,
                )];
            }
        }
    }
}

/// A bulk handler: consumes `topic-bulk-prepare`, `-fulfil` or `-get` until `stop` fires. Each
/// bulk is one transaction (a bulk is already a batch of up to 1000 transfers); a batch's
/// notifications are on the bus before its offsets are committed.
pub async fn run_handler(
    store: crate::store::Store,
    consumer: bus::Consumer,
    notifier: Notifier,
    config: super::prepare::PrepareConfig,
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
        let mut messages = Vec::new();
        for raw in &batch {
            let Some(Ok(message)) = raw
                .payload
                .as_deref()
                .map(serde_json::from_slice::<Message>)
            else {
                tracing::warn!(
                    offset = raw.offset,
                    "bulk message is not an envelope; skipped"
                );
                continue;
            };
            messages.extend(handle_one(&store, &notifier, &config, &message, &metrics).await);
        }
        if let Err(error) = notifier.deliver(&messages).await {
            tracing::error!(%error, "bulk notifications not delivered; the handler stops without committing the batch");
            break;
        }
        super::batch::commit(&consumer, &batch);
    }
    tracing::info!("bulk handler stopped");
}
