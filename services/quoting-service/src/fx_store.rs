//! Persistent mode's FX quotes: the DFSP's request and the FXP's answer, each stored in one
//! transaction before it is relayed, with duplicate detection by hash (as quotes have). FX
//! quotes are few beside quotes, so they are written directly rather than through the batched
//! writer.

use sqlx::MySqlPool;

use crate::persistence::WriteError;

/// An FX quote request to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxQuoteRow {
    pub conversion_request_id: String,
    pub conversion_id: String,
    pub determining_transfer_id: Option<String>,
    /// FSPIOP-Source: the initiating DFSP.
    pub initiating_fsp: String,
    /// FSPIOP-Destination: the FXP.
    pub counter_party_fsp: String,
    pub amount_type: String,
    /// `(amount, currency)`; the amount may be open.
    pub source: (Option<String>, String),
    pub target: (Option<String>, String),
    /// `YYYY-MM-DD HH:MM:SS.mmm`, UTC.
    pub expiration: String,
    pub hash: String,
    pub body: String,
}

/// An FXP's answer to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FxResponseRow {
    pub conversion_request_id: String,
    /// FSPIOP-Source: must be the FX quote's FXP.
    pub fxp: String,
    /// FSPIOP-Destination: must be the FX quote's initiating DFSP.
    pub initiating_fsp: String,
    pub condition: Option<String>,
    pub source: (Option<String>, String),
    pub target: (Option<String>, String),
    pub expiration: String,
    pub hash: String,
    pub body: String,
}

/// What storing found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FxOutcome {
    /// Stored now, or an identical body was stored before: relay it.
    Accepted,
    /// The same id came before with another body (3106).
    Modified,
    /// An answer to an FX quote the switch never relayed.
    UnknownQuote,
    /// An answer between other DFSPs than the stored request's.
    WrongParties {
        initiating_fsp: String,
        counter_party_fsp: String,
    },
}

/// Stores an FX quote request (an identical resend is accepted again).
pub async fn store_request(pool: &MySqlPool, row: &FxQuoteRow) -> Result<FxOutcome, WriteError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO fxQuote (conversionRequestId, conversionId, determiningTransferId, initiatingFsp, counterPartyFsp,
            amountType, sourceAmount, sourceCurrencyId, targetAmount, targetCurrencyId, expirationDate, hash, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE conversionRequestId = conversionRequestId",
    )
    .bind(&row.conversion_request_id)
    .bind(&row.conversion_id)
    .bind(&row.determining_transfer_id)
    .bind(&row.initiating_fsp)
    .bind(&row.counter_party_fsp)
    .bind(&row.amount_type)
    .bind(&row.source.0)
    .bind(&row.source.1)
    .bind(&row.target.0)
    .bind(&row.target.1)
    .bind(&row.expiration)
    .bind(&row.hash)
    .bind(&row.body)
    .execute(&mut *tx)
    .await?;
    let outcome = compare_hash(&mut tx, "fxQuote", &row.conversion_request_id, &row.hash).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The stored row's hash (read with a lock) against `hash`: the same body, or a changed one.
async fn compare_hash(
    tx: &mut sqlx::Transaction<'_, sqlx::MySql>,
    table: &'static str,
    id: &str,
    hash: &str,
) -> Result<FxOutcome, WriteError> {
    let (stored,): (String,) = sqlx::query_as(&format!(
        "SELECT hash FROM {table} WHERE conversionRequestId = ? FOR UPDATE"
    ))
    .bind(id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(if stored == hash {
        FxOutcome::Accepted
    } else {
        FxOutcome::Modified
    })
}

/// Stores an FXP's answer: only to a stored request, between the same two DFSPs, once.
pub async fn store_response(
    pool: &MySqlPool,
    row: &FxResponseRow,
) -> Result<FxOutcome, WriteError> {
    let mut tx = pool.begin().await?;
    let request: Option<(String, String)> = sqlx::query_as(
        "SELECT initiatingFsp, counterPartyFsp FROM fxQuote WHERE conversionRequestId = ? FOR UPDATE",
    )
    .bind(&row.conversion_request_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((initiating_fsp, counter_party_fsp)) = request else {
        return Ok(FxOutcome::UnknownQuote);
    };
    if initiating_fsp != row.initiating_fsp || counter_party_fsp != row.fxp {
        return Ok(FxOutcome::WrongParties {
            initiating_fsp,
            counter_party_fsp,
        });
    }
    sqlx::query(
        "INSERT INTO fxQuoteResponse (conversionRequestId, ilpCondition, sourceAmount, sourceCurrencyId,
            targetAmount, targetCurrencyId, expirationDate, hash, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE conversionRequestId = conversionRequestId",
    )
    .bind(&row.conversion_request_id)
    .bind(&row.condition)
    .bind(&row.source.0)
    .bind(&row.source.1)
    .bind(&row.target.0)
    .bind(&row.target.1)
    .bind(&row.expiration)
    .bind(&row.hash)
    .bind(&row.body)
    .execute(&mut *tx)
    .await?;
    let outcome = compare_hash(
        &mut tx,
        "fxQuoteResponse",
        &row.conversion_request_id,
        &row.hash,
    )
    .await?;
    tx.commit().await?;
    Ok(outcome)
}
