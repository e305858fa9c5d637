//! The asynchronous half of every message: after the synchronous 202/200, a task checks what
//! needs the directory or the record, records, forwards to the other DFSP, and on any failure
//! sends a hub error callback to the sender.
//!
//! | message | checks | forwarded to |
//! | --- | --- | --- |
//! | `POST /transactionRequests` | not expired (3301); the payer's DFSP (FSPIOP-Destination) an active participant (3201); a resent id with another body (3106) | payer `{FSPIOP_CALLBACK_URL_TRX_REQ_SERVICE}/transactionRequests` |
//! | `PUT /transactionRequests/{ID}` | a recorded request's payer to its payee (3100) | payee `{…}/transactionRequests/{ID}` |
//! | `GET /transactionRequests/{ID}`, `PUT …/error` | a recorded request's two DFSPs, either way (3100) | FSPIOP-Destination `{…}/transactionRequests/{ID}[/error]` |
//! | `GET /authorizations/{ID}?…` | a recorded request's payer to its payee (3100) | payee `{FSPIOP_CALLBACK_URL_AUTHORIZATIONS}/authorizations/{ID}?…` |
//! | `PUT /authorizations/{ID}` | a recorded request's payee to its payer (3100) | payer `{…}/authorizations/{ID}` |
//! | `PUT /authorizations/{ID}/error` | either way (3100) | FSPIOP-Destination `{…}/authorizations/{ID}/error` |
//!
//! Every destination must be an active participant with the endpoint (3201). A message about
//! an id the service has not recorded is relayed as Mojaloop relays it. A failed delivery is
//! the error the forwarder reports (1001 unreachable or 5xx, the peer's own `errorInformation`,
//! 3000 for other 4xx). Error callbacks go from the hub to the sender's
//! `…/{resource}/{ID}/error`; a sender without the endpoint cannot be told, and the failure is
//! logged and counted.

use std::collections::BTreeMap;
use std::time::Instant;

use fspiop::{ErrorCode, FspiopError};
use fspiop_edge::OutboundRequest;

use crate::record::{self, RequestRow, Update};
use crate::rules::{self, Message, Resend, Resource};
use crate::AppState;

/// The inbound headers forwarded (the set the quoting service forwards; `FSPIOP-Encryption`
/// kept so end-to-end encryption works; the W3C trace context, which the forwarder replaces
/// with its own hop's).
pub const FORWARDED_HEADERS: [&str; 11] = [
    "accept",
    "content-type",
    "date",
    "fspiop-source",
    "fspiop-destination",
    "fspiop-http-method",
    "fspiop-signature",
    "fspiop-uri",
    "fspiop-encryption",
    "traceparent",
    "tracestate",
];

/// An accepted message, waiting for its task.
#[derive(Debug, Clone)]
pub struct Job {
    pub message: Message,
    /// The transaction request id (from the path, or the body of a POST).
    pub id: String,
    /// Inbound headers, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// FSPIOP-Source.
    pub source: String,
    /// FSPIOP-Destination.
    pub destination: String,
    /// The body exactly as received (empty for GET).
    pub body: Vec<u8>,
    /// The query string as received (`GET /authorizations/{ID}`).
    pub query: Option<String>,
    /// What the message means for the record.
    pub effect: Effect,
}

/// What a message records.
#[derive(Debug, Clone)]
pub enum Effect {
    /// A new request (`POST`), and its expiration in milliseconds since the epoch.
    Request {
        row: Box<RequestRow>,
        expiration_ms: Option<i64>,
    },
    /// An answer that updates the record.
    Update(Update),
    /// Nothing recorded (`GET`).
    Nothing,
}

/// Milliseconds since the epoch.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Processes one accepted message to the end: forwarded, or the sender told why not.
pub async fn process(state: &AppState, job: Job) {
    let action = job.message.action();
    let result = handle(state, &job).await;
    let metrics = &state.inner.metrics;
    match result {
        Ok(()) => metrics.record_message(action, "forwarded"),
        Err(error) => {
            tracing::info!(
                transaction_request_id = %job.id, action, source = %job.source,
                destination = %job.destination, code = %error.code.as_string(),
                description = %error.description(), "message refused"
            );
            let delivered = send_error_callback(state, &job, &error).await;
            metrics.record_message(action, if delivered { "rejected" } else { "failed" });
        }
    }
}

fn database_error(error: sqlx::Error) -> FspiopError {
    tracing::error!(%error, "transaction requests database");
    store::to_fspiop(&error)
}

async fn handle(state: &AppState, job: &Job) -> Result<(), FspiopError> {
    let pool = &state.inner.pool;
    check_destination(state, job).await?;
    match &job.effect {
        Effect::Request { row, expiration_ms } => {
            rules::check_expiration(&job.id, *expiration_ms, now_ms())?;
            let recorded = record::insert(pool, row).await.map_err(database_error)?;
            if rules::judge_resend(recorded.as_deref(), &row.hash) == Resend::Changed {
                return Err(rules::modified_request(&job.id));
            }
        }
        Effect::Update(_) | Effect::Nothing => {
            if let Some(parties) = record::parties(pool, &job.id)
                .await
                .map_err(database_error)?
            {
                rules::check_sender(
                    job.message,
                    &job.id,
                    &parties,
                    &job.source,
                    &job.destination,
                )?;
                if let Effect::Update(update) = &job.effect {
                    record::update(pool, &job.id, update)
                        .await
                        .map_err(database_error)?;
                }
            }
        }
    }
    forward(state, job).await
}

/// The destination must be an active participant.
async fn check_destination(state: &AppState, job: &Job) -> Result<(), FspiopError> {
    let participant = state
        .inner
        .directory
        .participant(&job.destination)
        .await
        .map_err(lookup_failed)?;
    match participant {
        Some(p) if p.is_active => Ok(()),
        Some(_) => Err(FspiopError::with_detail(
            ErrorCode::DestinationFspError,
            format!("destination DFSP {} is not active", job.destination),
        )),
        None => Err(FspiopError::with_detail(
            ErrorCode::DestinationFspError,
            format!("destination DFSP {} is not a participant", job.destination),
        )),
    }
}

fn lookup_failed(error: fspiop_edge::EdgeError) -> FspiopError {
    tracing::error!(%error, "participant lookup failed");
    FspiopError::with_detail(
        ErrorCode::ServiceCurrentlyUnavailable,
        "participant lookup failed",
    )
}

/// `fsp`'s base URL for `resource`, if registered.
async fn callback_base(
    state: &AppState,
    resource: Resource,
    fsp: &str,
) -> Result<Option<String>, FspiopError> {
    let template = state
        .inner
        .directory
        .endpoint(fsp, resource.endpoint_type())
        .await
        .map_err(lookup_failed)?;
    Ok(template.map(|t| {
        fspiop_edge::render_endpoint(&t, &[])
            .trim_end_matches('/')
            .to_string()
    }))
}

async fn forward(state: &AppState, job: &Job) -> Result<(), FspiopError> {
    let resource = job.message.resource();
    let Some(base) = callback_base(state, resource, &job.destination).await? else {
        return Err(FspiopError::with_detail(
            ErrorCode::DestinationFspError,
            format!(
                "No {} endpoint found for transactionRequest {} for {}",
                resource.endpoint_type(),
                job.id,
                job.destination
            ),
        ));
    };
    let path = job.message.path(&job.id);
    let url = match &job.query {
        Some(query) => format!("{base}{path}?{query}"),
        None => format!("{base}{path}"),
    };
    let headers = job
        .headers
        .iter()
        .filter(|(name, _)| FORWARDED_HEADERS.contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let request = OutboundRequest {
        method: job.message.method(),
        url,
        uri_path: path,
        headers,
        source: job.source.clone(),
        destination: job.destination.clone(),
        body: (job.message.method() != "GET").then(|| job.body.clone()),
    };
    let started = Instant::now();
    let result = state.inner.forwarder.send(request).await;
    state
        .inner
        .metrics
        .record_forward(job.message.action(), started.elapsed().as_secs_f64());
    result
}

/// Sends `error` from the hub to the sender's `/{resource}/{id}/error`, in the version of the
/// message it answers. Whether it was delivered.
async fn send_error_callback(state: &AppState, job: &Job, error: &FspiopError) -> bool {
    let resource = job.message.resource();
    state
        .inner
        .metrics
        .record_error_callback(&error.code.as_string());
    let to = job.source.as_str();
    if to.eq_ignore_ascii_case(&state.inner.config.hub.name) {
        return false;
    }
    let base = match callback_base(state, resource, to).await {
        Ok(Some(base)) => base,
        Ok(None) => {
            tracing::warn!(
                transaction_request_id = %job.id, fsp = to, endpoint = resource.endpoint_type(),
                "no callback endpoint for the sender; unable to make error callback"
            );
            return false;
        }
        Err(_) => return false,
    };
    let path = format!("/{}/{}/error", resource.name(), job.id);
    let url = format!("{base}{path}");
    let answering: Vec<(String, String)> = job
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    match state
        .inner
        .forwarder
        .send_error_answering(to, &url, &path, resource.name(), error, &answering)
        .await
    {
        Ok(()) => true,
        Err(failure) => {
            tracing::warn!(
                transaction_request_id = %job.id, fsp = to, error = %failure,
                "error callback not delivered"
            );
            false
        }
    }
}
