//! The record of transaction requests (`migrations/transaction_requests`): one row per request,
//! written when the request is accepted and updated as the payer and the payee answer. One
//! statement per message, each its own implicit transaction: requests to pay are far fewer than
//! transfers, and none of these rows moves money.

use sqlx::MySqlPool;

use crate::rules::Parties;

/// A request as recorded when it arrives.
#[derive(Debug, Clone)]
pub struct RequestRow {
    pub transaction_request_id: String,
    pub parties: Parties,
    /// Exact decimal text, as received.
    pub amount: String,
    pub currency: String,
    pub scenario: String,
    pub authentication_type: Option<String>,
    /// `YYYY-MM-DD HH:MM:SS.mmm`, UTC.
    pub expiration: Option<String>,
    pub hash: String,
}

/// Records `row`; when its id is already recorded, nothing is written and the earlier
/// request's hash is returned.
pub async fn insert(pool: &MySqlPool, row: &RequestRow) -> Result<Option<String>, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO transactionRequest
           (transactionRequestId, payeeFsp, payerFsp, amount, currencyId, scenario,
            authenticationType, expirationDate, requestHash)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&row.transaction_request_id)
    .bind(&row.parties.payee_fsp)
    .bind(&row.parties.payer_fsp)
    .bind(&row.amount)
    .bind(&row.currency)
    .bind(&row.scenario)
    .bind(&row.authentication_type)
    .bind(&row.expiration)
    .bind(&row.hash)
    .execute(pool)
    .await;
    match inserted {
        Ok(_) => Ok(None),
        Err(error) if store::classify(&error) == store::Class::Duplicate => {
            let hash: Option<String> = sqlx::query_scalar(
                "SELECT requestHash FROM transactionRequest WHERE transactionRequestId = ?",
            )
            .bind(&row.transaction_request_id)
            .fetch_optional(pool)
            .await?;
            // Gone between the two statements (an operator deleted it): treat as new.
            Ok(hash)
        }
        Err(error) => Err(error),
    }
}

/// The two DFSPs of recorded request `id`, if it is recorded.
pub async fn parties(pool: &MySqlPool, id: &str) -> Result<Option<Parties>, sqlx::Error> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT payeeFsp, payerFsp FROM transactionRequest WHERE transactionRequestId = ?",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(payee_fsp, payer_fsp)| Parties {
        payee_fsp,
        payer_fsp,
    }))
}

/// What a relayed answer changes in the record.
#[derive(Debug, Clone)]
pub enum Update {
    /// The payer's `PUT /transactionRequests/{ID}`.
    State {
        state: String,
        transaction_id: Option<String>,
    },
    /// The payee's `PUT /authorizations/{ID}`.
    Authorization { response: String },
    /// An error relayed or sent for the request.
    Error { code: String },
}

/// Applies `update` to request `id` (no row: nothing happens).
pub async fn update(pool: &MySqlPool, id: &str, update: &Update) -> Result<(), sqlx::Error> {
    let query = match update {
        Update::State {
            state,
            transaction_id,
        } => sqlx::query(
            "UPDATE transactionRequest
             SET state = ?, transactionId = COALESCE(?, transactionId)
             WHERE transactionRequestId = ?",
        )
        .bind(state)
        .bind(transaction_id),
        Update::Authorization { response } => sqlx::query(
            "UPDATE transactionRequest SET authorizationResponse = ? WHERE transactionRequestId = ?",
        )
        .bind(response),
        Update::Error { code } => {
            sqlx::query("UPDATE transactionRequest SET errorCode = ? WHERE transactionRequestId = ?")
                .bind(code)
        }
    };
    query.bind(id).execute(pool).await.map(|_| ())
}
