//! What a run produces: the JSON summary (`report.json`) and the data of the HTML page.
//! Latencies are in milliseconds (`f64`), rates in payments per second (in `bulk`, bulks per
//! second, and individual transfers per second beside).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Phases reported, in order: the FSPIOP phases (the FX ones in the `fx` scenario, the
/// transaction request and the authorization in `request-to-pay`, the bulk quote and the bulk
/// transfer in `bulk`) and the payment (or bulk) end to end.
pub const PHASES: &[&str] = &[
    "lookup",
    "transactionRequest",
    "fxQuote",
    "quote",
    "authorization",
    "fxTransfer",
    "transfer",
    "bulkQuote",
    "bulkTransfer",
    "end_to_end",
];

/// Latency summary of one phase over the measured part of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseSummary {
    /// Successful samples.
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// Outcome counts of the measured part of a run. In `bulk` the payments are bulks; the
/// transfers are counted beside.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Payments started (arrivals that found room under the concurrency cap).
    pub sent: u64,
    /// Payments that completed every phase of the scenario (a bulk: every transfer committed).
    pub succeeded: u64,
    /// Payments that ended in an FSPIOP error or another failure (not a timeout); bulks with at
    /// least one transfer that did not commit.
    pub failed: u64,
    /// Payments that got no callback in time.
    pub timed_out: u64,
    /// Arrivals not started because `in_flight_max` payments were in flight (an open model
    /// never waits, so these are counted instead of delayed).
    pub dropped: u64,
    /// `bulk`: individual transfers the payers saw committed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub transfers_committed: u64,
    /// `bulk`: individual transfers that did not commit (refused quotes, refused or expired
    /// transfers, and each transfer of a bulk that failed as a whole).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub transfers_failed: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// One second of the run (warm-up included, marked).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Second {
    /// Seconds since the start of the run.
    pub t_s: u64,
    /// Whether this second is warm-up (excluded from the summary).
    pub warmup: bool,
    /// The arrival rate asked for during this second.
    pub rate_asked_per_s: f64,
    /// Payments started in this second.
    pub started: u64,
    /// Payments that completed successfully in this second.
    pub completed: u64,
    /// Payments that failed or timed out in this second.
    pub failed: u64,
    /// Payments in flight at the end of this second.
    pub in_flight: u64,
    /// p50 of each phase over the payments that completed in this second.
    pub p50_ms: BTreeMap<String, f64>,
    /// p99 of each phase over the payments that completed in this second.
    pub p99_ms: BTreeMap<String, f64>,
    /// The switch process's resident memory, read from its `/metrics` during this second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_rss_mb: Option<f64>,
    /// The switch process's CPU use since the previous reading (100 = one core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_cpu_percent: Option<f64>,
}

/// A part of the measured run (the first or last ten minutes of a long one), by the seconds
/// its payments started in, to show side by side whether anything changed as the run went on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowReport {
    /// `first` or `last`.
    pub name: String,
    /// Seconds since the start of the run: `from_s..to_s`.
    pub from_s: u64,
    pub to_s: u64,
    pub rate_achieved_per_s: f64,
    pub counts: Counts,
    pub phases: BTreeMap<String, PhaseSummary>,
    pub errors_by_code: BTreeMap<String, u64>,
    /// The switch process's memory at the window's first and last reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_rss_mb_start: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_rss_mb_end: Option<f64>,
    /// Its mean CPU use over the window (100 = one core).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_cpu_percent_mean: Option<f64>,
}

/// The switch process as its `/metrics` showed it during the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SwitchProcess {
    pub metrics_url: String,
    /// Readings taken (one a second when the switch answered).
    pub readings: u64,
    pub rss_mb_start: f64,
    pub rss_mb_end: f64,
    pub rss_mb_max: f64,
    /// Mean CPU use over the measured part (100 = one core).
    pub cpu_percent_mean: f64,
}

/// One check of the validity gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GateCheck {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// The validity gate: a run whose gate fails does not count, whatever its latencies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gate {
    pub passed: bool,
    pub checks: Vec<GateCheck>,
}

/// One step of a capacity search.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityStep {
    pub rate_asked_per_s: f64,
    pub rate_achieved_per_s: f64,
    /// p99 of each phase during the step.
    pub p99_ms: BTreeMap<String, f64>,
    /// Failed, timed-out and dropped payments over arrivals.
    pub error_ratio: f64,
    /// Whether the step held: every phase's p99 under the bound and errors under the bound.
    pub held: bool,
}

/// A capacity search: rates tried, and the highest that held.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Capacity {
    pub p99_bound_ms: f64,
    pub error_ratio_max: f64,
    pub steps: Vec<CapacityStep>,
    /// The highest rate asked that held (`None` when even the first step failed).
    pub highest_rate_held_per_s: Option<f64>,
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// `end-to-end`, `discovery`, `quotes` or `transfers`.
    pub scenario: String,
    /// `run` or `capacity`.
    pub mode: String,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// The simulator driven (its payer API).
    pub sim_url: String,
    /// The bus the switch used, when known (`embedded`, `kafka`).
    pub bus: Option<String>,
    /// The kind of ids the payers made (`random`, `time-ordered`); absent in reports from
    /// before it was recorded (random).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<String>,
    /// Mean arrival rate asked over the measured part.
    pub rate_asked_per_s: f64,
    /// Payments completed successfully per second over the measured part.
    pub rate_achieved_per_s: f64,
    /// `bulk`: transfers per bulk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bulk_size: Option<u64>,
    /// `bulk`: individual transfers committed per second over the measured part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfers_per_s: Option<f64>,
    pub warmup_s: u64,
    /// Length of the measured part.
    pub measured_s: u64,
    pub counts: Counts,
    /// Per phase (see [`PHASES`]), over the measured part.
    pub phases: BTreeMap<String, PhaseSummary>,
    /// Failures by FSPIOP error code (`timeout` and `other` for the rest). In `bulk`, individual
    /// transfers by code (a bulk that failed or was dropped as a whole counts each of its
    /// transfers).
    pub errors_by_code: BTreeMap<String, u64>,
    pub timeline: Vec<Second>,
    /// The first and last windows of the measured part (runs at least twice `--window-s`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub windows: Vec<WindowReport>,
    /// The switch process's memory and CPU, when its `/metrics` was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch: Option<SwitchProcess>,
    pub gate: Option<Gate>,
    pub capacity: Option<Capacity>,
}
