//! The notification handler: consumes `topic-notification-event` (group
//! `ml-group-notification-event`) and makes the callbacks of [`crate::callbacks::plan`] to the
//! participants' registered endpoints through `fspiop_edge::Forwarder`.
//!
//! - Up to `notification.in_flight_max` messages are read and not yet delivered; the consumer
//!   stops reading beyond. At most `callback_concurrency_max` callbacks go out at once, and at
//!   most `callback_per_dfsp_max` to one DFSP, so a DFSP that answers slowly or never holds
//!   up only its own callbacks. Callbacks of one message go out one after the other; messages
//!   of one transfer are not ordered with each other (Mojaloop's handler does not order them
//!   across consumers either).
//! - A message's offset is committed once its callbacks have been attempted, whatever their
//!   outcome (`crate::offsets` keeps commits from passing a message still in flight).
//! - Each callback is attempted once, as Mojaloop does (the forwarder sends it once more only
//!   when the connection fails before any answer): a missing endpoint, an unreachable
//!   participant or an error answer is logged and counted in
//!   `moja_ml_notification_event_delivery{success="false",…}`; nothing is sent to anyone else.
//! - A message that cannot be read (not JSON, not an envelope, no payload, unknown action) is
//!   logged, counted in `moja_ml_notification_event_process_msg` and committed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bus::Consumer;
use fspiop::envelope::{action, Message};
use fspiop::{ErrorCode, FspiopError};
use fspiop_edge::{render_endpoint, Directory, Forwarder, OutboundRequest};
use tokio::sync::{mpsc, watch, Semaphore};

use service_kit::telemetry::{Hop, HopKind};
use tracing::Instrument as _;

use crate::callbacks::{self, Callback, Endpoint, Notification, Plan, Rules};
use crate::offsets::{OffsetTracker, Partition};
use crate::Metrics;

/// Mojaloop's consumer group of the adapter's notification handler.
pub const GROUP_NOTIFICATION_EVENT: &str = "ml-group-notification-event";

/// The service named on the handler's hop spans.
const SERVICE: &str = "ml-api-adapter";

/// Why one callback could not be delivered.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error("no {endpoint_type} endpoint for DFSP {fsp}")]
    NoEndpoint {
        fsp: String,
        endpoint_type: &'static str,
    },
    #[error("endpoint lookup failed: {0}")]
    Directory(#[from] fspiop_edge::EdgeError),
    #[error("{0}")]
    Peer(FspiopError),
}

impl DeliveryError {
    /// The FSPIOP code Mojaloop would record for this failure (`status` label).
    pub fn code(&self) -> u16 {
        match self {
            DeliveryError::NoEndpoint { .. } => ErrorCode::DestinationCommunicationError.code(),
            DeliveryError::Directory(_) => ErrorCode::InternalServerError.code(),
            DeliveryError::Peer(error) => error.code.code(),
        }
    }
}

/// What handling one message came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handled {
    /// The (lower-cased) action, or `invalid`.
    pub action: String,
    /// Callbacks attempted.
    pub attempted: usize,
    /// Callbacks that failed.
    pub failed: usize,
}

/// Reads notifications and makes their callbacks; shared by the handler's tasks.
pub struct Deliverer {
    directory: Directory,
    forwarder: Forwarder,
    /// The fxTransfers callbacks' forwarder: its versions are FSPIOP 2.x only
    /// (`crate::api::fx_versions`), so a hub fx callback speaks 2.x.
    fx_forwarder: Forwarder,
    rules: Rules,
    metrics: Metrics,
    limits: CallbackLimits,
    /// The central ledger's database: bulk callbacks' bodies are staged there.
    bulk_pool: sqlx::MySqlPool,
    /// Where a bulk the payee refused to take is aborted (`topic-bulk-fulfil`).
    bulk_abort: Option<BulkAbort>,
}

/// How the handler aborts a bulk whose payee refused it (or could not be reached): a
/// `bulk-abort` from the hub on `topic-bulk-fulfil`, so its reservations are given back at once
/// instead of at its expiration, and payer and payee hear why.
#[derive(Clone)]
pub struct BulkAbort {
    pub producer: bus::Producer,
    pub topic: String,
    pub timeout_ms: u64,
}

impl Deliverer {
    #[allow(
        clippy::too_many_arguments,
        reason = "each is a separate dependency, built once at start-up"
    )]
    pub fn new(
        directory: Directory,
        forwarder: Forwarder,
        fx_forwarder: Forwarder,
        rules: Rules,
        metrics: Metrics,
        limits: CallbackLimits,
        bulk_pool: sqlx::MySqlPool,
        bulk_abort: Option<BulkAbort>,
    ) -> Deliverer {
        Deliverer {
            directory,
            forwarder,
            fx_forwarder,
            rules,
            metrics,
            limits,
            bulk_pool,
            bulk_abort,
        }
    }

    /// The payee did not take bulk `message` (`bulk-prepare`): the hub aborts it with `error`.
    async fn abort_bulk(&self, message: &Message, error: &FspiopError) {
        let Some(abort) = &self.bulk_abort else {
            return;
        };
        let id = message
            .content
            .uri_params
            .as_ref()
            .map(|u| u.id.clone())
            .unwrap_or_default();
        let body = serde_json::to_vec(&error.to_body()).unwrap_or_default();
        let message_id = uuid::Uuid::new_v4().to_string();
        if let Err(e) = store::bulk::stage(
            &self.bulk_pool,
            &message_id,
            &id,
            store::bulk::KIND_ERROR,
            &body,
        )
        .await
        {
            tracing::error!(bulk = %id, error.message = %e, "bulk abort not staged; the bulk waits for its expiration");
            return;
        }
        let mut headers = std::collections::BTreeMap::new();
        if let Some(ct) = message.content.headers.get(fspiop::headers::CONTENT_TYPE) {
            headers.insert(fspiop::headers::CONTENT_TYPE.to_string(), ct.clone());
        }
        headers.insert(
            fspiop::headers::FSPIOP_SOURCE.to_string(),
            self.rules.hub_name.clone(),
        );
        headers.insert(
            fspiop::headers::FSPIOP_DESTINATION.to_string(),
            message.from.clone(),
        );
        let now = crate::now_ms();
        let mut abort_message = Message::from_request(
            &id,
            &self.rules.hub_name,
            &message.from,
            headers,
            None,
            Some(&id),
            action::BULK_ABORT,
            action::BULK_ABORT,
            now,
        );
        abort_message.content.payload = serde_json::json!({});
        abort_message.content.context =
            Some(serde_json::json!({ store::bulk::CONTEXT_MESSAGE_ID: message_id }));
        let value = serde_json::to_vec(&abort_message).unwrap_or_default();
        match abort
            .producer
            .send(&abort.topic, Some(&id), &value, abort.timeout_ms)
            .await
        {
            Ok(()) => {
                tracing::warn!(bulk = %id, code = %error.code.code(), "the payee did not take the bulk; the hub aborts it")
            }
            Err(e) => {
                tracing::error!(bulk = %id, error.message = %e, "bulk abort not produced; the bulk waits for its expiration")
            }
        }
    }

    /// A bulk notification's one callback: `bulk-prepare` POSTs the staged body to the payee
    /// with the payer's headers (its signature kept only when the body is the payer's own),
    /// `bulk-put` PUTs staged results, `bulk-error` PUTs the payload's `errorInformation`;
    /// the last two from the hub. `None` when the message cannot be delivered at all.
    async fn bulk_callback(&self, message: &Message) -> Result<Callback, String> {
        let action = message.metadata.event.action.to_ascii_lowercase();
        let (method, endpoint) = match action.as_str() {
            action::BULK_PREPARE => ("POST", Endpoint::BulkTransferPost),
            action::BULK_PUT => ("PUT", Endpoint::BulkTransferPut),
            action::BULK_ERROR => ("PUT", Endpoint::BulkTransferError),
            other => return Err(format!("unknown bulk action {other}")),
        };
        let body = if action == action::BULK_ERROR {
            serde_json::to_vec(&message.content.payload).map_err(|e| e.to_string())?
        } else {
            let message_id = message
                .content
                .context
                .as_ref()
                .and_then(|c| c.get(store::bulk::CONTEXT_MESSAGE_ID))
                .and_then(|v| v.as_str())
                .ok_or("no staged body named")?;
            store::bulk::load(&self.bulk_pool, message_id)
                .await
                .map_err(|e| format!("reading staged body {message_id}: {e}"))?
                .ok_or_else(|| format!("staged body {message_id} not found"))?
                .body
        };
        let source = message
            .content
            .headers
            .get(fspiop::headers::FSPIOP_SOURCE)
            .cloned()
            .unwrap_or_else(|| message.from.clone());
        Ok(Callback {
            method,
            endpoint,
            destination: message.to.clone(),
            source,
            hub_headers: action != action::BULK_PREPARE,
            body: Some(body),
        })
    }

    /// Handles one message value: reads it, plans its callbacks and attempts each once.
    pub async fn handle(&self, payload: Option<&[u8]>) -> Handled {
        let started = Instant::now();
        let handled = self.handle_inner(payload).await;
        let success =
            if handled.failed == 0 && handled.action != "invalid" && handled.action != "unknown" {
                "true"
            } else {
                "false"
            };
        self.metrics
            .notification_process
            .observe(&[success, &handled.action], started.elapsed().as_secs_f64());
        handled
    }

    async fn handle_inner(&self, payload: Option<&[u8]>) -> Handled {
        let invalid = |why: &str| {
            tracing::warn!(why, "notification message skipped");
            Handled {
                action: "invalid".to_string(),
                attempted: 0,
                failed: 0,
            }
        };
        let Some(payload) = payload else {
            return invalid("empty message");
        };
        let message: Message = match serde_json::from_slice(payload) {
            Ok(message) => message,
            Err(error) => return invalid(&format!("not an envelope: {error}")),
        };
        let mut notification = match Notification::from_message(&message, &self.rules.hub_name) {
            Ok(notification) => notification,
            Err(error) => return invalid(&error.to_string()),
        };
        // The message's hop off the bus, in the trace the message carries; its callbacks are
        // this hop's children (their `traceparent` is set from the headers by the forwarder).
        let hop = Hop::start(
            HopKind::Bus,
            &format!("notification {}", notification.action),
            SERVICE,
            message.trace_context().as_ref(),
        );
        if let Some(context) = hop.context() {
            context.write_header_map(&mut notification.headers);
        }
        self.handle_notification(message, notification)
            .instrument(hop.span().clone())
            .await
    }

    async fn handle_notification(&self, message: Message, notification: Notification) -> Handled {
        let invalid = |why: &str| {
            tracing::warn!(why, "notification message skipped");
            Handled {
                action: "invalid".to_string(),
                attempted: 0,
                failed: 0,
            }
        };
        let action = notification.action.clone();
        if action.starts_with("bulk-") {
            let callback = match self.bulk_callback(&message).await {
                Ok(callback) => callback,
                Err(why) => return invalid(&why),
            };
            let outcome = self.deliver(&notification, callback).await;
            if let (Err(error), action::BULK_PREPARE) = (&outcome, action.as_str()) {
                let error = match error {
                    DeliveryError::Peer(error) => error.clone(),
                    other => FspiopError::with_detail(
                        ErrorCode::DestinationCommunicationError,
                        other.to_string(),
                    ),
                };
                self.abort_bulk(&message, &error).await;
            }
            return Handled {
                action,
                attempted: 1,
                failed: usize::from(outcome.is_err()),
            };
        }
        let callbacks = match callbacks::plan(&notification, &self.rules) {
            Plan::Send(callbacks) => callbacks,
            Plan::Skip(why) => {
                tracing::info!(%action, transfer_id = %notification.id, why, "no callback");
                return Handled {
                    action,
                    attempted: 0,
                    failed: 0,
                };
            }
            Plan::Unknown => {
                tracing::warn!(%action, transfer_id = %notification.id, "unknown notification action; no callback");
                return Handled {
                    action: "unknown".to_string(),
                    attempted: 0,
                    failed: 0,
                };
            }
        };
        let mut failed = 0;
        let attempted = callbacks.len();
        for callback in callbacks {
            if self.deliver(&notification, callback).await.is_err() {
                failed += 1;
            }
        }
        Handled {
            action,
            attempted,
            failed,
        }
    }

    /// Attempts one callback; logs and counts the outcome.
    async fn deliver(
        &self,
        notification: &Notification,
        callback: Callback,
    ) -> Result<(), DeliveryError> {
        let started = Instant::now();
        let source = callback.source.clone();
        let destination = callback.destination.clone();
        let method = callback.method;
        let outcome = self.send(notification, callback).await;
        let status = match &outcome {
            Ok(()) => "ok".to_string(),
            Err(error) => error.code().to_string(),
        };
        let success = if outcome.is_ok() { "true" } else { "false" };
        self.metrics.notification_delivery.observe(
            &[
                success,
                &source,
                &destination,
                &notification.action,
                &status,
            ],
            started.elapsed().as_secs_f64(),
        );
        if let Err(error) = &outcome {
            tracing::warn!(
                transfer_id = %notification.id,
                action = %notification.action,
                %method,
                %destination,
                error.message = %error,
                elapsed_ms = started.elapsed().as_millis(),
                "callback not delivered"
            );
        }
        outcome
    }

    async fn send(
        &self,
        notification: &Notification,
        callback: Callback,
    ) -> Result<(), DeliveryError> {
        let endpoint_type = callback.endpoint.type_name();
        let template = self
            .directory
            .endpoint(&callback.destination, endpoint_type)
            .await?
            .ok_or_else(|| DeliveryError::NoEndpoint {
                fsp: callback.destination.clone(),
                endpoint_type,
            })?;
        let id = notification.id.as_str();
        let url = render_endpoint(
            &template,
            &[
                ("transferId", id),
                ("commitRequestId", id),
                ("bulkTransferId", id),
                ("id", id),
            ],
        );
        let headers =
            callbacks::callback_headers(&notification.headers, &callback, &notification.id);
        let request = OutboundRequest {
            method: callback.method,
            url,
            uri_path: callback.endpoint.uri_path(&notification.id),
            headers,
            source: callback.source,
            destination: callback.destination,
            body: callback.body,
        };
        let forwarder = if callback.endpoint.is_fx() {
            &self.fx_forwarder
        } else {
            &self.forwarder
        };
        // The DFSP's own slot first, then a shared one: a DFSP that holds its slots (slow,
        // never answering) waits on its own and takes at most its share of the shared ones.
        let _own = self.limits.dfsp(&request.destination).acquire_owned().await;
        let _shared = self.limits.shared.clone().acquire_owned().await;
        forwarder.send(request).await.map_err(DeliveryError::Peer)
    }
}

/// How many callbacks go out at once: in all, and to one DFSP.
pub struct CallbackLimits {
    shared: Arc<Semaphore>,
    per_dfsp_max: usize,
    per_dfsp: std::sync::Mutex<std::collections::HashMap<String, Arc<Semaphore>>>,
}

impl CallbackLimits {
    pub fn new(concurrency_max: usize, per_dfsp_max: usize) -> CallbackLimits {
        CallbackLimits {
            shared: Arc::new(Semaphore::new(concurrency_max.max(1))),
            per_dfsp_max: per_dfsp_max.max(1),
            per_dfsp: std::sync::Mutex::default(),
        }
    }

    /// `dfsp`'s own slots (one entry per participant called, so bounded by the scheme's).
    fn dfsp(&self, dfsp: &str) -> Arc<Semaphore> {
        let mut map = self
            .per_dfsp
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.entry(dfsp.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.per_dfsp_max)))
            .clone()
    }
}

/// Pause after a consumer error (a broker that is down reports one per attempt).
const CONSUMER_ERROR_PAUSE_MS: u64 = 100;

/// A message whose callbacks were attempted, by its place in the topic.
struct Done {
    partition: Partition,
    offset: i64,
}

/// Consumes notifications until `stop` turns true (or its sender goes), with up to
/// `concurrency_max` messages read and not yet delivered (how many callbacks go out at once is
/// [`CallbackLimits`]'s); then waits up to `drain_timeout_ms` for deliveries in flight,
/// commits and returns. `running` is true while the loop runs (for `/health`).
pub async fn run_handler(
    consumer: Consumer,
    deliverer: Arc<Deliverer>,
    concurrency_max: usize,
    drain_timeout_ms: u64,
    mut stop: watch::Receiver<bool>,
    running: Arc<AtomicBool>,
) {
    running.store(true, Ordering::SeqCst);
    let concurrency_max = concurrency_max.max(1);
    let permits = Arc::new(Semaphore::new(concurrency_max));
    let (done_tx, mut done_rx) = mpsc::channel::<Done>(concurrency_max);
    let mut tracker = OffsetTracker::default();
    loop {
        tokio::select! {
            biased;
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            Some(done) = done_rx.recv() => {
                tracker.finish(done.partition, done.offset);
                while let Ok(done) = done_rx.try_recv() {
                    tracker.finish(done.partition, done.offset);
                }
                commit(&consumer, &mut tracker, false);
            }
            received = consumer.recv(), if permits.available_permits() > 0 => {
                let message = match received {
                    Ok(message) => message,
                    Err(error) => {
                        tracing::warn!(error.message = %error, "notification consumer error");
                        tokio::time::sleep(Duration::from_millis(CONSUMER_ERROR_PAUSE_MS)).await;
                        continue;
                    }
                };
                let Ok(permit) = permits.clone().try_acquire_owned() else { continue };
                let partition = (message.topic, message.partition);
                let offset = message.offset;
                let payload = message.payload;
                tracker.start(partition.clone(), offset);
                let deliverer = deliverer.clone();
                let done_tx = done_tx.clone();
                tokio::spawn(async move {
                    deliverer.handle(payload.as_deref()).await;
                    drop(permit);
                    let _ = done_tx.send(Done { partition, offset }).await;
                });
            }
        }
    }
    drop(done_tx);
    let deadline = Instant::now() + Duration::from_millis(drain_timeout_ms);
    while tracker.in_flight() > 0 {
        match tokio::time::timeout_at(deadline.into(), done_rx.recv()).await {
            Ok(Some(done)) => tracker.finish(done.partition, done.offset),
            Ok(None) | Err(_) => break,
        }
    }
    if tracker.in_flight() > 0 {
        tracing::warn!(
            in_flight = tracker.in_flight(),
            "notification handler stopped with callbacks in flight"
        );
    }
    commit(&consumer, &mut tracker, true);
    running.store(false, Ordering::SeqCst);
    tracing::info!("notification handler stopped");
}

fn commit(consumer: &Consumer, tracker: &mut OffsetTracker, wait: bool) {
    let commits: Vec<(String, i32, i64)> = tracker
        .take_commits()
        .into_iter()
        .map(|((topic, partition), next)| (topic, partition, next))
        .collect();
    if commits.is_empty() {
        return;
    }
    if let Err(error) = consumer.commit(&commits, wait) {
        tracing::warn!(error.message = %error, "offset commit failed");
    }
}
