//! What the ledger shows Prometheus besides HTTP requests and transfer counts:
//!
//! - participants' positions and net debit caps, read from the database on an interval
//!   ([`run_positions`], in the process that runs the admin handler): as floats, for display
//!   only; money stays exact everywhere else;
//! - the consumer lag of this process's handlers ([`run_consumer_lag`]);
//! - the size and timings of the transfer handlers' batches ([`LedgerMetrics::batch_observer`],
//!   reported by the bus consumer when a batch's offsets are committed).

use std::time::Duration;

use service_kit::metrics::{ConsumerLagMetrics, Gauge, Histogram, Registry};

use crate::store::{Store, LIMIT_TYPE_NET_DEBIT_CAP, LIST_LEN_MAX};

/// Upper bounds of the batch size histogram, in messages.
pub const BATCH_MESSAGES_BUCKETS: [f64; 9] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0];
/// Upper bounds of the batch duration histograms, in seconds (a batch takes milliseconds).
pub const BATCH_SECONDS_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The ledger's gauges and handler-stage histograms.
#[derive(Clone)]
pub struct LedgerMetrics {
    /// `participant_position{participant,currency,account_type}`: the account's position value.
    pub position: Gauge,
    /// `participant_position_reserved{participant,currency,account_type}`.
    pub position_reserved: Gauge,
    /// `participant_net_debit_cap{participant,currency}`: the active NET_DEBIT_CAP limit.
    pub net_debit_cap: Gauge,
    /// `consumer_lag_messages{topic,partition,group}`.
    pub consumer_lag: ConsumerLagMetrics,
    /// `handler_batch_messages{handler}`: messages per committed batch.
    pub batch_messages: Histogram,
    /// `handler_batch_processing_seconds{handler}`: from a batch's last message received to
    /// its offsets committed (the database transaction, retries, notifications produced).
    pub batch_processing: Histogram,
    /// `handler_batch_latency_seconds{handler}`: from a batch's first message received to its
    /// offsets committed (filling the batch included).
    pub batch_latency: Histogram,
    /// `bus_message_wait_seconds{consumer}`: each message's time in the bus before a handler
    /// received it.
    pub bus_wait: Histogram,
}

impl LedgerMetrics {
    /// Registers the metrics in `registry` (again returns the same metrics).
    pub fn new(registry: &Registry) -> LedgerMetrics {
        const ACCOUNT: [&str; 3] = ["participant", "currency", "account_type"];
        LedgerMetrics {
            position: registry.gauge(
                "participant_position",
                "Position value of a participant's account (display only; refreshed on an interval)",
                &ACCOUNT,
            ),
            position_reserved: registry.gauge(
                "participant_position_reserved",
                "Reserved position value of a participant's account (display only; refreshed on an interval)",
                &ACCOUNT,
            ),
            net_debit_cap: registry.gauge(
                "participant_net_debit_cap",
                "Active net debit cap of a participant in a currency (display only; refreshed on an interval)",
                &["participant", "currency"],
            ),
            consumer_lag: service_kit::metrics::consumer_lag_metrics(registry),
            batch_messages: registry.histogram(
                "handler_batch_messages",
                "Messages in a batch a transfer handler committed",
                &["handler"],
                &BATCH_MESSAGES_BUCKETS,
            ),
            batch_processing: registry.histogram(
                "handler_batch_processing_seconds",
                "Time from a batch's last message received to its offsets committed, in seconds",
                &["handler"],
                &BATCH_SECONDS_BUCKETS,
            ),
            batch_latency: registry.histogram(
                "handler_batch_latency_seconds",
                "Time from a batch's first message received to its offsets committed, in seconds",
                &["handler"],
                &BATCH_SECONDS_BUCKETS,
            ),
            bus_wait: service_kit::metrics::bus_wait_histogram(registry),
        }
    }

    /// What a transfer handler's consumer reports each committed batch to
    /// ([`bus::Consumer::with_batch_observer`]).
    pub fn batch_observer(
        &self,
        handler: &'static str,
    ) -> impl Fn(&bus::BatchTiming) + Send + Sync + 'static {
        let metrics = self.clone();
        move |timing| {
            let labels = [handler];
            metrics
                .batch_messages
                .observe(&labels, timing.messages as f64);
            metrics
                .batch_processing
                .observe(&labels, timing.since_last_received.as_secs_f64());
            metrics
                .batch_latency
                .observe(&labels, timing.since_first_received.as_secs_f64());
        }
    }

    /// What a handler's consumer reports each message's time in the bus to
    /// ([`bus::Consumer::with_wait_observer`]).
    pub fn wait_observer(
        &self,
        handler: &'static str,
    ) -> impl Fn(std::time::Duration) + Send + Sync + 'static {
        service_kit::metrics::bus_wait_observer(&self.bus_wait, handler)
    }

    /// Reads every account's position and net debit cap (one query) and replaces the gauges'
    /// series with them; returns how many accounts were read.
    pub async fn refresh_positions(&self, store: &Store) -> crate::Result<usize> {
        type Row = (String, String, String, String, String, Option<String>);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT p.name, pc.currencyId, lat.name, CAST(pp.value AS CHAR), CAST(pp.reservedValue AS CHAR),
                    (SELECT CAST(pl.value AS CHAR) FROM participantLimit pl
                       JOIN participantLimitType lt ON lt.participantLimitTypeId = pl.participantLimitTypeId
                      WHERE pl.participantCurrencyId = pc.participantCurrencyId AND pl.isActive = 1
                        AND lt.name = ?
                      ORDER BY pl.participantLimitId DESC LIMIT 1)
             FROM participantCurrency pc
             JOIN participant p ON p.participantId = pc.participantId
             JOIN ledgerAccountType lat ON lat.ledgerAccountTypeId = pc.ledgerAccountTypeId
             JOIN participantPosition pp ON pp.participantCurrencyId = pc.participantCurrencyId
             ORDER BY pc.participantCurrencyId LIMIT ?",
        )
        .bind(LIMIT_TYPE_NET_DEBIT_CAP)
        .bind(LIST_LEN_MAX)
        .fetch_all(&store.pool)
        .await?;
        let display = |text: &str| text.parse::<f64>().unwrap_or(f64::NAN);
        let mut values = Vec::with_capacity(rows.len());
        let mut reserved = Vec::with_capacity(rows.len());
        let mut caps = Vec::new();
        for (participant, currency, account_type, value, reserved_value, cap) in &rows {
            let labels = [
                participant.as_str(),
                currency.as_str(),
                account_type.as_str(),
            ];
            values.push((labels, display(value)));
            reserved.push((labels, display(reserved_value)));
            if let Some(cap) = cap {
                caps.push(([participant.as_str(), currency.as_str()], display(cap)));
            }
        }
        self.position.replace_all(values);
        self.position_reserved.replace_all(reserved);
        self.net_debit_cap.replace_all(caps);
        Ok(rows.len())
    }
}

/// Refreshes the position and net debit cap gauges every `interval_ms` until `stop` changes
/// (`interval_ms` 0: never). A failed read is logged once until a read succeeds again; the
/// gauges keep their last values meanwhile.
pub async fn run_positions(
    store: Store,
    metrics: LedgerMetrics,
    interval_ms: u64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    if interval_ms == 0 {
        return;
    }
    let mut ticks = tokio::time::interval(Duration::from_millis(interval_ms));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = ticks.tick() => {}
        }
        let refreshed = tokio::select! {
            _ = stop.changed() => return,
            refreshed = metrics.refresh_positions(&store) => refreshed,
        };
        match refreshed {
            Ok(_) => failing = false,
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "positions not read for the metrics");
            }
            Err(_) => {}
        }
    }
}

pub use service_kit::metrics::run_consumer_lag;
