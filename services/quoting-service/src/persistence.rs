//! Persistent mode's storage: quotes, responses and relayed errors in the quotes database,
//! written by one writer task in multi-row batches.
//!
//! Processing tasks hand rows to the [`Writer`] through a bounded channel and wait for the
//! outcome. The writer takes whatever is queued (up to `write_batch_max` rows), writes it in
//! one transaction with one multi-row statement per table, and answers every waiting task.
//! Under load batches grow by themselves, so the cost per quote falls as the rate rises; with
//! one quote queued it is written at once, no timer delays it.
//!
//! Duplicate detection is part of the write, so it holds across replicas of the service: the
//! primary key decides. Each kind of row (quotes, responses, errors) is inserted by one plain
//! multi-row `INSERT`: when it succeeds, every row is new (the common case). A batch of one kind
//! is written by autocommit statements, a batch of several in one transaction: one commit
//! either way. When a key already exists the `INSERT` fails as a whole and changes nothing
//! (InnoDB undoes the statement, not the transaction), and that kind's rows are written the
//! careful way in a transaction: inserted with `ON DUPLICATE KEY UPDATE` doing nothing, then
//! the stored hashes read back with a locking read. A stored hash equal to the request's means
//! an identical resend ([`QuoteOutcome::Accepted`]); a different one means the same id came
//! with a different body ([`QuoteOutcome::Modified`], 3106). The first of several rows with one
//! id in a batch is the one stored. (Every batch used to take the careful way: BEGIN, INSERT, a
//! locking SELECT and COMMIT for quotes alone, five statements for responses alone, seven for
//! both; a tenth of the switch's CPU went to the quote writer's statements at 500 payments a
//! second. Now one, two and five.)
//!
//! A quote is committed before it is forwarded, so a payee never answers a quote the switch
//! has not recorded, and a response is only stored for a quote that exists between the same
//! two DFSPs.
//!
//! If a batch fails on a statement (not on the connection), its rows are retried one by one,
//! so one bad row cannot fail the quotes queued beside it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use sqlx::{MySql, MySqlPool, QueryBuilder};
use tokio::sync::{mpsc, oneshot};

use crate::metrics::Metrics;

/// A quote request to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRow {
    pub quote_id: String,
    pub transaction_id: String,
    pub transaction_request_id: Option<String>,
    /// FSPIOP-Source.
    pub payer_fsp: String,
    /// FSPIOP-Destination.
    pub payee_fsp: String,
    pub amount_type: String,
    pub amount: String,
    pub currency: String,
    pub fees: Option<(String, String)>,
    pub scenario: String,
    pub initiator: String,
    pub initiator_type: String,
    /// `YYYY-MM-DD HH:MM:SS.mmm`, UTC.
    pub expiration: Option<String>,
    pub hash: String,
    pub body: String,
}

/// A quote response to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseRow {
    pub quote_id: String,
    /// FSPIOP-Source: must be the quote's payee.
    pub payee_fsp: String,
    /// FSPIOP-Destination: must be the quote's payer.
    pub payer_fsp: String,
    /// `(amount, currency)` of `transferAmount`.
    pub transfer_amount: (String, String),
    pub payee_receive_amount: Option<(String, String)>,
    pub payee_fsp_fee: Option<(String, String)>,
    pub payee_fsp_commission: Option<(String, String)>,
    /// `YYYY-MM-DD HH:MM:SS.mmm`, UTC.
    pub expiration: String,
    pub condition: String,
    /// The transaction id the ILP packet carries, when the packet was checked: it must be the
    /// stored quote's.
    pub transaction_id: Option<String>,
    pub hash: String,
    pub body: String,
}

/// A relayed error callback to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRow {
    pub quote_id: String,
    pub source_fsp: String,
    pub destination_fsp: String,
    pub error_code: String,
    pub error_description: String,
}

/// What storing a quote request found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuoteOutcome {
    /// Stored now, or an identical request was stored before: forward it.
    Accepted,
    /// A request with this id and a different body is stored.
    Modified,
}

/// What storing a quote response found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseOutcome {
    /// Stored now, or an identical response was stored before: forward it.
    Accepted,
    /// A different response to this quote is stored.
    Modified,
    /// No quote with this id is stored.
    UnknownQuote,
    /// The quote was between other DFSPs: these are its stored payer and payee.
    WrongParties {
        payer_fsp: String,
        payee_fsp: String,
    },
    /// The ILP packet names another transaction than the stored quote's.
    TransactionMismatch { stored: String },
}

/// The quotes database could not take a write: the statement's error (kept as the source,
/// classified once by `store::classify`), or the writer itself failing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error("quotes database")]
    Db(#[source] Arc<sqlx::Error>),
    #[error("quotes writer: {0}")]
    Writer(&'static str),
}

impl From<sqlx::Error> for WriteError {
    fn from(error: sqlx::Error) -> Self {
        WriteError::Db(Arc::new(error))
    }
}

impl WriteError {
    /// The FSPIOP error a requester is answered with: 2003 when the database is unavailable,
    /// 2001 otherwise (the one mapping of `store::to_fspiop`).
    pub fn to_fspiop(&self) -> fspiop::FspiopError {
        match self {
            WriteError::Db(error) => store::to_fspiop(error),
            WriteError::Writer(_) => {
                fspiop::FspiopError::new(fspiop::ErrorCode::InternalServerError)
            }
        }
    }
}

enum Write {
    Quote(QuoteRow, oneshot::Sender<Result<QuoteOutcome, WriteError>>),
    Response(
        ResponseRow,
        oneshot::Sender<Result<ResponseOutcome, WriteError>>,
    ),
    Error(ErrorRow, oneshot::Sender<Result<(), WriteError>>),
}

/// The handle processing tasks write through (cheap to clone).
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Write>,
}

fn stopped() -> WriteError {
    WriteError::Writer("the writer has stopped")
}

impl Writer {
    /// Starts the writer task on `pool`.
    pub fn spawn(
        pool: MySqlPool,
        write_queue_max: usize,
        write_batch_max: usize,
        metrics: Metrics,
    ) -> (Writer, WriterTask) {
        let (queue, receiver) = mpsc::channel(write_queue_max.max(1));
        let (stop, stop_signal) = oneshot::channel();
        let handle = tokio::spawn(run(
            pool,
            receiver,
            stop_signal,
            write_batch_max.max(1),
            metrics,
        ));
        (Writer { queue }, WriterTask { stop, handle })
    }

    /// Stores a quote request (waiting while the queue is full).
    pub async fn quote(&self, row: QuoteRow) -> Result<QuoteOutcome, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Write::Quote(row, reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Stores a quote response.
    pub async fn response(&self, row: ResponseRow) -> Result<ResponseOutcome, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Write::Response(row, reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// Stores a relayed error.
    pub async fn error(&self, row: ErrorRow) -> Result<(), WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Write::Error(row, reply))
            .await
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// The running writer task.
pub struct WriterTask {
    stop: oneshot::Sender<()>,
    handle: tokio::task::JoinHandle<()>,
}

impl WriterTask {
    /// Stops taking writes, writes what is queued and waits for the task to end.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(error) = self.handle.await {
            tracing::error!(%error, "quotes writer task failed");
        }
    }
}

async fn run(
    pool: MySqlPool,
    mut receiver: mpsc::Receiver<Write>,
    mut stop: oneshot::Receiver<()>,
    batch_max: usize,
    metrics: Metrics,
) {
    let mut queued = Vec::with_capacity(batch_max);
    let mut stopping = false;
    loop {
        // `recv_many` is cancel-safe: a stop signal loses no write. Once stopping, the closed
        // queue is drained and `recv_many` returns 0 when it is empty.
        let received = if stopping {
            receiver.recv_many(&mut queued, batch_max).await
        } else {
            tokio::select! {
                received = receiver.recv_many(&mut queued, batch_max) => received,
                _ = &mut stop => {
                    stopping = true;
                    receiver.close();
                    receiver.recv_many(&mut queued, batch_max).await
                }
            }
        };
        if received == 0 {
            return;
        }
        let started = Instant::now();
        let rows = queued.len();
        write_batch(&pool, std::mem::take(&mut queued)).await;
        metrics.record_write(rows, started.elapsed().as_secs_f64());
    }
}

/// Writes a batch and answers every write in it.
async fn write_batch(pool: &MySqlPool, batch: Vec<Write>) {
    let mut quotes = Vec::new();
    let mut responses = Vec::new();
    let mut errors = Vec::new();
    for write in batch {
        match write {
            Write::Quote(row, reply) => quotes.push((row, reply)),
            Write::Response(row, reply) => responses.push((row, reply)),
            Write::Error(row, reply) => errors.push((row, reply)),
        }
    }
    let rows = Rows {
        quotes: quotes.iter().map(|(row, _)| row).collect(),
        responses: responses.iter().map(|(row, _)| row).collect(),
        errors: errors.iter().map(|(row, _)| row).collect(),
    };
    let count = rows.quotes.len() + rows.responses.len() + rows.errors.len();
    match write_rows(pool, &rows).await {
        Ok((quote_outcomes, response_outcomes)) => {
            for ((_, reply), outcome) in quotes.into_iter().zip(quote_outcomes) {
                let _ = reply.send(Ok(outcome));
            }
            for ((_, reply), outcome) in responses.into_iter().zip(response_outcomes) {
                let _ = reply.send(Ok(outcome));
            }
            for (_, reply) in errors {
                let _ = reply.send(Ok(()));
            }
        }
        Err(error) if count > 1 && matches!(error, sqlx::Error::Database(_)) => {
            tracing::warn!(%error, rows = count, "batch write failed; writing its rows one by one");
            for (row, reply) in quotes {
                let single = Rows {
                    quotes: vec![&row],
                    ..Rows::default()
                };
                let result = write_rows(pool, &single).await;
                let _ = reply.send(first(result.map(|(q, _)| q)));
            }
            for (row, reply) in responses {
                let single = Rows {
                    responses: vec![&row],
                    ..Rows::default()
                };
                let result = write_rows(pool, &single).await;
                let _ = reply.send(first(result.map(|(_, r)| r)));
            }
            for (row, reply) in errors {
                let single = Rows {
                    errors: vec![&row],
                    ..Rows::default()
                };
                let result = write_rows(pool, &single).await;
                let _ = reply.send(result.map(|_| ()).map_err(WriteError::from));
            }
        }
        Err(error) => {
            tracing::error!(%error, rows = count, "writing to the quotes database failed");
            let error = WriteError::from(error);
            for (_, reply) in quotes {
                let _ = reply.send(Err(error.clone()));
            }
            for (_, reply) in responses {
                let _ = reply.send(Err(error.clone()));
            }
            for (_, reply) in errors {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

fn first<T>(result: Result<Vec<T>, sqlx::Error>) -> Result<T, WriteError> {
    result?
        .into_iter()
        .next()
        .ok_or_else(|| WriteError::Writer("no outcome for a written row"))
}

#[derive(Default)]
struct Rows<'a> {
    quotes: Vec<&'a QuoteRow>,
    responses: Vec<&'a ResponseRow>,
    errors: Vec<&'a ErrorRow>,
}

type Outcomes = (Vec<QuoteOutcome>, Vec<ResponseOutcome>);

/// Quotes, then responses (so a response may follow its quote in one batch), then errors.
/// A batch of one kind is written by autocommit statements (one commit); a batch of several
/// kinds in one transaction (one commit too). See the module's notes for the careful way.
async fn write_rows(pool: &MySqlPool, rows: &Rows<'_>) -> Result<Outcomes, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let kinds = [
        !rows.quotes.is_empty(),
        !rows.responses.is_empty(),
        !rows.errors.is_empty(),
    ]
    .into_iter()
    .filter(|&some| some)
    .count();
    if kinds > 1 {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let outcomes = write_kinds(&mut tx, rows, true).await?;
        tx.commit().await?;
        Ok(outcomes)
    } else {
        write_kinds(&mut conn, rows, false).await
    }
}

/// [`write_rows`] on one connection; `in_tx`: a transaction is open on it (a failed statement
/// is undone alone, so the careful way goes on in it), else the careful way opens its own.
async fn write_kinds(
    conn: &mut sqlx::MySqlConnection,
    rows: &Rows<'_>,
    in_tx: bool,
) -> Result<Outcomes, sqlx::Error> {
    let quotes = if rows.quotes.is_empty() {
        Vec::new()
    } else {
        let firsts = first_per_id(&rows.quotes, |row| &row.quote_id);
        match insert_quotes(conn, &firsts, "").await {
            Ok(()) => new_rows(&rows.quotes, &firsts, |row| &row.quote_id, |row| &row.hash),
            Err(error) if is_duplicate(&error) && in_tx => write_quotes(conn, &rows.quotes).await?,
            Err(error) if is_duplicate(&error) => {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                let outcomes = write_quotes(&mut tx, &rows.quotes).await?;
                tx.commit().await?;
                outcomes
            }
            Err(error) => return Err(error),
        }
    };
    let responses = if rows.responses.is_empty() {
        Vec::new()
    } else {
        let (mut outcomes, eligible) = check_responses(conn, &rows.responses, "").await?;
        if !eligible.is_empty() {
            let firsts = first_per_id(&eligible, |row| &row.quote_id);
            let stored = match insert_responses(conn, &firsts, "").await {
                Ok(()) => firsts
                    .iter()
                    .map(|row| (row.quote_id.clone(), row.hash.clone()))
                    .collect(),
                Err(error) if is_duplicate(&error) && in_tx => {
                    write_responses(conn, &rows.responses, &mut outcomes).await?
                }
                Err(error) if is_duplicate(&error) => {
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    let stored = write_responses(&mut tx, &rows.responses, &mut outcomes).await?;
                    tx.commit().await?;
                    stored
                }
                Err(error) => return Err(error),
            };
            classify_responses(&rows.responses, &mut outcomes, &stored);
        }
        outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or(ResponseOutcome::Accepted))
            .collect()
    };
    if !rows.errors.is_empty() {
        insert_errors(conn, &rows.errors).await?;
    }
    Ok((quotes, responses))
}

/// The careful way for responses (a response to one of these quotes is stored already), in a
/// transaction: the quotes checked again with a locking read, what is new inserted, every
/// stored hash read back with a locking read.
async fn write_responses(
    conn: &mut sqlx::MySqlConnection,
    rows: &[&ResponseRow],
    outcomes: &mut Vec<Option<ResponseOutcome>>,
) -> Result<HashMap<String, String>, sqlx::Error> {
    let (checked, eligible) = check_responses(conn, rows, " LOCK IN SHARE MODE").await?;
    *outcomes = checked;
    let firsts = first_per_id(&eligible, |row| &row.quote_id);
    if firsts.is_empty() {
        return Ok(HashMap::new());
    }
    insert_responses(conn, &firsts, " ON DUPLICATE KEY UPDATE quoteId = quoteId").await?;
    let ids: Vec<&str> = firsts.iter().map(|row| row.quote_id.as_str()).collect();
    stored_hashes(conn, "quoteResponse", &ids).await
}

/// Whether a statement failed on a key that already exists (MySQL 1062).
fn is_duplicate(error: &sqlx::Error) -> bool {
    store::classify(error) == store::Class::Duplicate
}

/// Outcomes when the firsts were all inserted just now: a later row with the same id is the
/// same request when its hash is the first's.
fn new_rows<T>(
    rows: &[&T],
    firsts: &[&T],
    id: impl Fn(&T) -> &String,
    hash: impl Fn(&T) -> &String,
) -> Vec<QuoteOutcome> {
    let stored: HashMap<&String, &String> = firsts.iter().map(|row| (id(row), hash(row))).collect();
    rows.iter()
        .map(|row| classify(stored.get(id(row)).copied(), hash(row)))
        .collect()
}

/// The first row for each id, in id order (a fixed lock order avoids deadlocks between
/// replicas).
fn first_per_id<'a, T>(rows: &[&'a T], id: impl Fn(&T) -> &str) -> Vec<&'a T> {
    let mut seen = HashSet::new();
    let mut firsts: Vec<&'a T> = rows
        .iter()
        .copied()
        .filter(|row| seen.insert(id(row).to_string()))
        .collect();
    firsts.sort_by(|a, b| id(a).cmp(id(b)));
    firsts
}

/// `SELECT id, hash FROM table WHERE id IN (...) LOCK IN SHARE MODE`: the latest committed
/// hashes (a locking read, not the transaction's snapshot).
async fn stored_hashes(
    conn: &mut sqlx::MySqlConnection,
    table: &str,
    ids: &[&str],
) -> Result<HashMap<String, String>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut query = QueryBuilder::<MySql>::new(format!(
        "SELECT quoteId, hash FROM `{table}` WHERE quoteId IN ("
    ));
    let ids: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
    store::push_in_list(&mut query, &ids);
    query.push(" LOCK IN SHARE MODE");
    let found: Vec<(String, String)> = query.build_query_as().fetch_all(conn).await?;
    Ok(found.into_iter().collect())
}

fn classify(stored: Option<&String>, hash: &str) -> QuoteOutcome {
    match stored {
        Some(stored) if stored != hash => QuoteOutcome::Modified,
        _ => QuoteOutcome::Accepted,
    }
}

/// The careful way (a key already exists): insert what is new, then read every stored hash with
/// a locking read.
async fn write_quotes(
    conn: &mut sqlx::MySqlConnection,
    rows: &[&QuoteRow],
) -> Result<Vec<QuoteOutcome>, sqlx::Error> {
    let firsts = first_per_id(rows, |row| &row.quote_id);
    insert_quotes(conn, &firsts, " ON DUPLICATE KEY UPDATE quoteId = quoteId").await?;
    let ids: Vec<&str> = firsts.iter().map(|row| row.quote_id.as_str()).collect();
    let stored = stored_hashes(conn, "quote", &ids).await?;
    Ok(rows
        .iter()
        .map(|row| classify(stored.get(&row.quote_id), &row.hash))
        .collect())
}

/// One multi-row `INSERT` of quotes, `tail` after the values.
async fn insert_quotes(
    conn: &mut sqlx::MySqlConnection,
    firsts: &[&QuoteRow],
    tail: &str,
) -> Result<(), sqlx::Error> {
    let mut insert = QueryBuilder::<MySql>::new(
        "INSERT INTO `quote` (quoteId, transactionId, transactionRequestId, payerFsp, payeeFsp, \
         amountType, amount, currencyId, feesAmount, feesCurrencyId, transactionScenario, \
         transactionInitiator, transactionInitiatorType, expirationDate, hash, body) ",
    );
    insert.push_values(firsts, |mut values, row| {
        values
            .push_bind(&row.quote_id)
            .push_bind(&row.transaction_id)
            .push_bind(&row.transaction_request_id)
            .push_bind(&row.payer_fsp)
            .push_bind(&row.payee_fsp)
            .push_bind(&row.amount_type)
            .push_bind(&row.amount)
            .push_bind(&row.currency)
            .push_bind(row.fees.as_ref().map(|(amount, _)| amount))
            .push_bind(row.fees.as_ref().map(|(_, currency)| currency))
            .push_bind(&row.scenario)
            .push_bind(&row.initiator)
            .push_bind(&row.initiator_type)
            .push_bind(&row.expiration)
            .push_bind(&row.hash)
            .push_bind(&row.body);
    });
    insert.push(tail);
    insert.build().execute(conn).await?;
    Ok(())
}

/// The quotes the responses answer, read in one statement (`lock` after it: empty, or a
/// locking read inside the careful way's transaction); the outcome of every response that may
/// not be stored, and the responses that may.
async fn check_responses<'r>(
    conn: &mut sqlx::MySqlConnection,
    rows: &[&'r ResponseRow],
    lock: &str,
) -> Result<(Vec<Option<ResponseOutcome>>, Vec<&'r ResponseRow>), sqlx::Error> {
    let mut query = QueryBuilder::<MySql>::new(
        "SELECT quoteId, transactionId, payerFsp, payeeFsp FROM `quote` WHERE quoteId IN (",
    );
    let ids: Vec<String> = rows.iter().map(|row| row.quote_id.clone()).collect();
    store::push_in_list(&mut query, &ids);
    query.push(lock);
    let quotes: Vec<(String, String, String, String)> =
        query.build_query_as().fetch_all(conn).await?;
    let quotes: HashMap<String, (String, String, String)> = quotes
        .into_iter()
        .map(|(id, transaction_id, payer, payee)| (id, (transaction_id, payer, payee)))
        .collect();
    let outcomes: Vec<Option<ResponseOutcome>> = rows
        .iter()
        .map(|row| match quotes.get(&row.quote_id) {
            None => Some(ResponseOutcome::UnknownQuote),
            Some((_, payer, payee)) if *payer != row.payer_fsp || *payee != row.payee_fsp => {
                Some(ResponseOutcome::WrongParties {
                    payer_fsp: payer.clone(),
                    payee_fsp: payee.clone(),
                })
            }
            Some((stored, _, _))
                if row
                    .transaction_id
                    .as_ref()
                    .is_some_and(|tx_id| tx_id != stored) =>
            {
                Some(ResponseOutcome::TransactionMismatch {
                    stored: stored.clone(),
                })
            }
            Some(_) => None,
        })
        .collect();
    let eligible = rows
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| outcome.is_none())
        .map(|(row, _)| *row)
        .collect();
    Ok((outcomes, eligible))
}

/// The outcome of each response still without one, by the hash stored for its quote.
fn classify_responses(
    rows: &[&ResponseRow],
    outcomes: &mut [Option<ResponseOutcome>],
    stored: &HashMap<String, String>,
) {
    for (row, outcome) in rows.iter().zip(outcomes.iter_mut()) {
        if outcome.is_none() {
            *outcome = Some(match classify(stored.get(&row.quote_id), &row.hash) {
                QuoteOutcome::Accepted => ResponseOutcome::Accepted,
                QuoteOutcome::Modified => ResponseOutcome::Modified,
            });
        }
    }
}

/// One multi-row `INSERT` of responses, `tail` after the values.
async fn insert_responses(
    conn: &mut sqlx::MySqlConnection,
    firsts: &[&ResponseRow],
    tail: &str,
) -> Result<(), sqlx::Error> {
    let mut insert = QueryBuilder::<MySql>::new(
        "INSERT INTO `quoteResponse` (quoteId, payeeFsp, payerFsp, transferAmount, \
         transferAmountCurrencyId, payeeReceiveAmount, payeeReceiveAmountCurrencyId, \
         payeeFspFeeAmount, payeeFspFeeCurrencyId, payeeFspCommissionAmount, \
         payeeFspCommissionCurrencyId, expirationDate, ilpCondition, hash, body) ",
    );
    insert.push_values(firsts, |mut values, row| {
        let amount = |money: &Option<(String, String)>| money.as_ref().map(|(a, _)| a.clone());
        let currency = |money: &Option<(String, String)>| money.as_ref().map(|(_, c)| c.clone());
        values
            .push_bind(&row.quote_id)
            .push_bind(&row.payee_fsp)
            .push_bind(&row.payer_fsp)
            .push_bind(&row.transfer_amount.0)
            .push_bind(&row.transfer_amount.1)
            .push_bind(amount(&row.payee_receive_amount))
            .push_bind(currency(&row.payee_receive_amount))
            .push_bind(amount(&row.payee_fsp_fee))
            .push_bind(currency(&row.payee_fsp_fee))
            .push_bind(amount(&row.payee_fsp_commission))
            .push_bind(currency(&row.payee_fsp_commission))
            .push_bind(&row.expiration)
            .push_bind(&row.condition)
            .push_bind(&row.hash)
            .push_bind(&row.body);
    });
    insert.push(tail);
    insert.build().execute(conn).await?;
    Ok(())
}

async fn insert_errors(
    conn: &mut sqlx::MySqlConnection,
    rows: &[&ErrorRow],
) -> Result<(), sqlx::Error> {
    let mut insert = QueryBuilder::<MySql>::new(
        "INSERT INTO `quoteError` (quoteId, sourceFsp, destinationFsp, errorCode, errorDescription) ",
    );
    insert.push_values(rows, |mut values, row| {
        values
            .push_bind(&row.quote_id)
            .push_bind(&row.source_fsp)
            .push_bind(&row.destination_fsp)
            .push_bind(&row.error_code)
            .push_bind(&row.error_description);
    });
    insert.build().execute(conn).await?;
    Ok(())
}

pub use store::datetime_literal;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_literals_are_utc_with_milliseconds() {
        assert_eq!(
            datetime_literal(1_704_067_200_123),
            "2024-01-01 00:00:00.123"
        );
        let parsed = fspiop::datetime::parse_date_time("2030-01-24T10:00:00.000+02:00").unwrap();
        assert_eq!(datetime_literal(parsed), "2030-01-24 08:00:00.000");
    }

    #[test]
    fn the_first_row_per_id_is_kept_and_ordered() {
        let rows = ["b", "a", "b", "c", "a"];
        let refs: Vec<&&str> = rows.iter().collect();
        let firsts = first_per_id(&refs, |row| row);
        assert_eq!(firsts.len(), 3);
        assert_eq!(
            firsts.iter().map(|r| **r).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn classification_compares_hashes() {
        assert_eq!(classify(None, "h"), QuoteOutcome::Accepted);
        assert_eq!(
            classify(Some(&"h".to_string()), "h"),
            QuoteOutcome::Accepted
        );
        assert_eq!(
            classify(Some(&"g".to_string()), "h"),
            QuoteOutcome::Modified
        );
    }
}
