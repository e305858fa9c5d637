//! The bodies of bulk transfer messages, kept in the central ledger's `bulkTransferMessage`
//! (where Mojaloop uses MongoDB). The API stages a request's body and puts only its id on the
//! bus; the ledger stages each body it sends the same way. One bulk of 1000 transfers is over a
//! megabyte, past Kafka's default message size; a row holds it whole.

use sqlx::MySqlExecutor;

/// What the API staged: a `POST /bulkTransfers` body.
pub const KIND_PREPARE: &str = "prepare";
/// A payee's `PUT /bulkTransfers/{ID}` body.
pub const KIND_FULFIL: &str = "fulfil";
/// A payee's `PUT /bulkTransfers/{ID}/error` body.
pub const KIND_ERROR: &str = "error";
/// A body the ledger sends (to the payee, or results to payer and payee).
pub const KIND_OUT: &str = "out";

/// The envelope member (`content.context`) naming a staged body.
pub const CONTEXT_MESSAGE_ID: &str = "bulkMessageId";

/// Stages `body` as message `message_id` of bulk `bulk_id`.
pub async fn stage<'e, E: MySqlExecutor<'e>>(
    executor: E,
    message_id: &str,
    bulk_id: &str,
    kind: &str,
    body: &[u8],
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO bulkTransferMessage (bulkTransferMessageId, bulkTransferId, kind, body) VALUES (?, ?, ?, ?)",
    )
    .bind(message_id)
    .bind(bulk_id)
    .bind(kind)
    .bind(body)
    .execute(executor)
    .await
    .map(|_| ())
}

/// A staged body: its bulk, kind and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    pub bulk_id: String,
    pub kind: String,
    pub body: Vec<u8>,
}

/// The staged message `message_id`, if any.
pub async fn load<'e, E: MySqlExecutor<'e>>(
    executor: E,
    message_id: &str,
) -> Result<Option<Staged>, sqlx::Error> {
    let row: Option<(String, String, Vec<u8>)> = sqlx::query_as(
        "SELECT bulkTransferId, kind, body FROM bulkTransferMessage WHERE bulkTransferMessageId = ?",
    )
    .bind(message_id)
    .fetch_optional(executor)
    .await?;
    Ok(row.map(|(bulk_id, kind, body)| Staged {
        bulk_id,
        kind,
        body,
    }))
}

/// Whether a `POST` of bulk `bulk_id` was staged (taken by the API, perhaps not yet handled).
pub async fn was_received<'e, E: MySqlExecutor<'e>>(
    executor: E,
    bulk_id: &str,
) -> Result<bool, sqlx::Error> {
    let row: Option<(i32,)> = sqlx::query_as(
        "SELECT 1 FROM bulkTransferMessage WHERE bulkTransferId = ? AND kind = ? LIMIT 1",
    )
    .bind(bulk_id)
    .bind(KIND_PREPARE)
    .fetch_optional(executor)
    .await?;
    Ok(row.is_some())
}
