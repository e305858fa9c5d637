//! The load generator: an open model. Payments arrive on a schedule (a rate per step) whether
//! or not earlier ones have finished, as k6's arrival-rate executors do; an arrival that finds
//! `in_flight_max` payments in flight is dropped and counted, never delayed, so a slow switch
//! shows up as latency and drops instead of quietly lowering the rate.
//!
//! Each payment is one call to the simulator's payer API, which runs the scenario's phases
//! against the switch and reports each phase's time (from the request leaving the payer to its
//! callback arriving). In `request-to-pay` the payee of the drawn pair asks the payer's
//! customer to pay; the phases are the payee's (lookup, transaction request) and the payer's
//! (quote, authorization, transfer). In `bulk` an arrival is one bulk: the drawn payer pays
//! `bulk_size` customers of the drawn payee DFSP with one bulk quote and one bulk transfer
//! (`POST /{dfsp}/bulk`, the per-transfer list left out so only counts come back); its sample
//! keeps the two phases' times, the transfers committed and the failed ones by code, so memory
//! grows with the bulks, not with their transfers.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dfsp_sim::{
    layout, BulkOptions, BulkReport, PayOptions, PaymentError, RemoteSimulator, Scenario,
};
use tokio::sync::mpsc;

use crate::report::{PhaseSummary, Second};

/// One rate held for a while.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub rate_per_s: f64,
    pub duration_s: u64,
}

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub scenario: Scenario,
    /// Steps in order; the first `warmup_s` seconds of the whole schedule are warm-up.
    pub steps: Vec<Step>,
    pub warmup_s: u64,
    /// Payments in flight at most; arrivals beyond are dropped.
    pub in_flight_max: u64,
    /// Longest wait for one payment (the simulator's own callback timeouts apply inside).
    pub payment_timeout_ms: u64,
    /// DFSPs in the layout (payers are the first half, payees the second).
    pub dfsps: usize,
    /// The payer/payee pairs (DFSP indexes) to draw from, uniformly; empty for every payer
    /// with every payee of the layout.
    pub pairs: Vec<(usize, usize)>,
    pub amount: String,
    /// Scenario `bulk`: transfers per bulk (one payer DFSP to one payee DFSP).
    pub bulk_size: usize,
    /// Scenario `bulk`: no bulk quote on the wire (the simulator makes the payee's terms), the
    /// bulk transfers alone.
    pub skip_bulk_quote: bool,
    /// Seed of the payer/payee/MSISDN draws.
    pub seed: u64,
    /// Print a progress line every second.
    pub progress: bool,
}

/// How one payment ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Milliseconds of each phase that ran (lookup, quote, transfer), and the transfer id.
    Ok {
        phases: Vec<(&'static str, f64)>,
        transfer_id: String,
    },
    /// An FSPIOP error code, `timeout`, or another failure's kind. In `bulk`: the bulk failed
    /// as a whole (its quote or transfer answered with an error, or not in time).
    Failed { code: String, timed_out: bool },
    /// A bulk whose bulk quote and bulk transfer were both answered: their times, the
    /// transfers committed, and the others by code (quotes the payee refused included).
    Bulk {
        phases: Vec<(&'static str, f64)>,
        committed: u64,
        failed: Vec<(String, u64)>,
    },
}

impl Outcome {
    /// The phases' times of an outcome that has them.
    pub fn phases(&self) -> Option<&[(&'static str, f64)]> {
        match self {
            Outcome::Ok { phases, .. } | Outcome::Bulk { phases, .. } => Some(phases),
            Outcome::Failed { .. } => None,
        }
    }

    /// Whether every transfer of it went through (a bulk with a failed transfer did not).
    pub fn succeeded(&self) -> bool {
        match self {
            Outcome::Ok { .. } => true,
            Outcome::Bulk { failed, .. } => failed.is_empty(),
            Outcome::Failed { .. } => false,
        }
    }

    /// Transfers it committed (a payment's one, a bulk's count).
    pub fn committed(&self) -> u64 {
        match self {
            Outcome::Ok { transfer_id, .. } => u64::from(!transfer_id.is_empty()),
            Outcome::Bulk { committed, .. } => *committed,
            Outcome::Failed { .. } => 0,
        }
    }
}

/// One payment.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// When it started and ended, from the start of the run.
    pub started_ms: f64,
    pub ended_ms: f64,
    pub outcome: Outcome,
}

/// Everything one schedule produced.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    pub samples: Vec<Sample>,
    /// Arrival offsets (ms) dropped for want of room.
    pub dropped_ms: Vec<f64>,
    /// Per second: the rate asked and in-flight at its end.
    pub seconds: Vec<(f64, u64)>,
    /// Wall-clock time of the start (ms since the epoch).
    pub started_epoch_ms: i64,
}

/// A small deterministic generator (xorshift64*), enough to spread payments over pairs.
struct Draw(u64);

impl Draw {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `low..=high`.
    fn between(&mut self, low: usize, high: usize) -> usize {
        let span = (high.saturating_sub(low) + 1) as u64;
        low + (self.next() % span) as usize
    }
}

fn rate_at(steps: &[Step], t_s: f64) -> Option<f64> {
    let mut end = 0.0;
    for step in steps {
        end += step.duration_s as f64;
        if t_s < end {
            return Some(step.rate_per_s);
        }
    }
    None
}

fn milliseconds(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Sends the schedule through `sim` and collects every payment's outcome.
pub async fn drive(sim: RemoteSimulator, config: &LoadConfig) -> anyhow::Result<LoadResult> {
    layout::check_count(config.dfsps).map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        config.dfsps >= 2,
        "a payment needs a payer and a payee DFSP"
    );
    anyhow::ensure!(
        config
            .steps
            .iter()
            .all(|s| s.rate_per_s > 0.0 && s.duration_s > 0),
        "every step needs a positive rate and duration"
    );
    anyhow::ensure!(
        config.scenario != Scenario::Bulk
            || (1..=fspiop::types::BULK_ITEMS_MAX).contains(&config.bulk_size),
        "a bulk holds 1 to {} transfers, not {}",
        fspiop::types::BULK_ITEMS_MAX,
        config.bulk_size
    );
    anyhow::ensure!(
        config.pairs.iter().all(|(payer, payee)| payer != payee
            && (1..=config.dfsps).contains(payer)
            && (1..=config.dfsps).contains(payee)),
        "every pair needs two different DFSPs of the layout"
    );
    let total_s: u64 = config.steps.iter().map(|s| s.duration_s).sum();
    let payers = config.dfsps.div_ceil(2);
    let sim = Arc::new(sim);
    let in_flight = Arc::new(AtomicU64::new(0));
    let (tx, mut rx) = mpsc::unbounded_channel::<Sample>();
    let start = Instant::now();
    let started_epoch_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let mut draw = Draw(config.seed | 1);
    let mut result = LoadResult {
        started_epoch_ms,
        ..LoadResult::default()
    };
    let mut next_s = 0.0_f64;
    let mut second_done = 0_u64;
    let mut progress = Progress::default();

    while let Some(rate) = rate_at(&config.steps, next_s) {
        let due = start + Duration::from_secs_f64(next_s);
        tokio::time::sleep_until(due.into()).await;
        // Arrivals due by now (catching up when the timer was late).
        let now_s = start.elapsed().as_secs_f64();
        while next_s <= now_s {
            let Some(rate) = rate_at(&config.steps, next_s) else {
                break;
            };
            if in_flight.load(Ordering::Relaxed) >= config.in_flight_max {
                result.dropped_ms.push(next_s * 1000.0);
            } else {
                in_flight.fetch_add(1, Ordering::Relaxed);
                let (payer, payee) = match config.pairs.len() {
                    0 => (
                        draw.between(1, payers),
                        draw.between(payers + 1, config.dfsps),
                    ),
                    count => config
                        .pairs
                        .get(draw.between(0, count - 1))
                        .copied()
                        .unwrap_or((1, config.dfsps)),
                };
                let payer_msisdn = layout::msisdn(payer, draw.between(0, 99));
                // The FX scenario pays the EUR payee through the FXP.
                let payee_msisdn = if config.scenario == Scenario::Fx {
                    layout::fx_msisdn(draw.between(0, 99))
                } else {
                    layout::msisdn(payee, draw.between(0, 99))
                };
                let options = PayOptions {
                    payer_msisdn: Some(payer_msisdn),
                    payee_fsp: (!config.scenario.looks_up()).then(|| layout::name(payee)),
                    scenario: config.scenario,
                    wrong_fulfilment: false,
                    ilp_version: None,
                };
                let (sim, tx, in_flight) = (sim.clone(), tx.clone(), in_flight.clone());
                let amount = config.amount.clone();
                let timeout = Duration::from_millis(config.payment_timeout_ms);
                if config.scenario == Scenario::Bulk {
                    let bulk = BulkOptions {
                        payer_msisdn: options.payer_msisdn.clone(),
                        payee_fsps: vec![layout::name(payee)],
                        offset: draw.between(0, 99),
                        payees: Vec::new(),
                        summary_only: true,
                        skip_bulk_quote: config.skip_bulk_quote,
                    };
                    let size = config.bulk_size;
                    tokio::spawn(async move {
                        let started_ms = milliseconds(start.elapsed());
                        let paid = tokio::time::timeout(
                            timeout,
                            sim.bulk(&layout::name(payer), size, &amount, &bulk),
                        )
                        .await;
                        let outcome = match paid {
                            Ok(Ok(report)) => bulk_outcome(&report),
                            Ok(Err(error)) => failure(&error),
                            Err(_) => Outcome::Failed {
                                code: "timeout".into(),
                                timed_out: true,
                            },
                        };
                        in_flight.fetch_sub(1, Ordering::Relaxed);
                        let _ = tx.send(Sample {
                            started_ms,
                            ended_ms: milliseconds(start.elapsed()),
                            outcome,
                        });
                    });
                    next_s += 1.0 / rate;
                    continue;
                }
                tokio::spawn(async move {
                    let started_ms = milliseconds(start.elapsed());
                    let paid = tokio::time::timeout(
                        timeout,
                        sim.pay(&layout::name(payer), &payee_msisdn, &amount, &options),
                    )
                    .await;
                    let outcome = match paid {
                        Ok(Ok(report)) => {
                            let mut phases = Vec::with_capacity(7);
                            for (name, took) in [
                                ("lookup", report.lookup),
                                ("transactionRequest", report.transaction_request),
                                ("fxQuote", report.fx_quote),
                                ("quote", report.quote),
                                ("authorization", report.authorization),
                                ("fxTransfer", report.fx_transfer),
                                ("transfer", report.transfer),
                            ] {
                                if !took.is_zero() {
                                    phases.push((name, milliseconds(took)));
                                }
                            }
                            Outcome::Ok {
                                phases,
                                transfer_id: report.transfer_id,
                            }
                        }
                        Ok(Err(error)) => failure(&error),
                        Err(_) => Outcome::Failed {
                            code: "timeout".into(),
                            timed_out: true,
                        },
                    };
                    in_flight.fetch_sub(1, Ordering::Relaxed);
                    let _ = tx.send(Sample {
                        started_ms,
                        ended_ms: milliseconds(start.elapsed()),
                        outcome,
                    });
                });
            }
            next_s += 1.0 / rate;
        }
        // Close the seconds that ended.
        while (second_done + 1) as f64 <= start.elapsed().as_secs_f64() && second_done < total_s {
            let asked = rate_at(&config.steps, second_done as f64).unwrap_or(rate);
            let now_in_flight = in_flight.load(Ordering::Relaxed);
            result.seconds.push((asked, now_in_flight));
            while let Ok(sample) = rx.try_recv() {
                progress.add(&sample);
                result.samples.push(sample);
            }
            if config.progress {
                progress.print(second_done + 1, asked, now_in_flight, config.warmup_s);
            }
            second_done += 1;
        }
    }
    drop(tx);
    // Let the payments in flight finish (each is bounded by its own timeout).
    while let Some(sample) = rx.recv().await {
        result.samples.push(sample);
    }
    while result.seconds.len() < total_s as usize {
        let t = result.seconds.len() as f64;
        result
            .seconds
            .push((rate_at(&config.steps, t).unwrap_or(0.0), 0));
    }
    Ok(result)
}

/// The sample of a bulk (one payee DFSP): its phases and counts, or what stopped it.
fn bulk_outcome(report: &BulkReport) -> Outcome {
    let Some(bulk) = report.bulks.first() else {
        return Outcome::Failed {
            code: "simulator".into(),
            timed_out: false,
        };
    };
    if let Some(error) = &bulk.error {
        return failure(error);
    }
    let mut phases = Vec::with_capacity(2);
    for (name, took) in [
        ("bulkQuote", bulk.bulk_quote),
        ("bulkTransfer", bulk.bulk_transfer),
    ] {
        if !took.is_zero() {
            phases.push((name, milliseconds(took)));
        }
    }
    Outcome::Bulk {
        phases,
        committed: bulk.committed,
        failed: bulk
            .errors_by_code
            .iter()
            .map(|(code, count)| (code.clone(), *count))
            .collect(),
    }
}

fn failure(error: &PaymentError) -> Outcome {
    Outcome::Failed {
        code: error.code(),
        timed_out: error.timed_out(),
    }
}

/// The running figures behind the progress line.
#[derive(Default)]
struct Progress {
    completed_this_second: u64,
    failed_total: u64,
    end_to_end_ms: Vec<f64>,
}

impl Progress {
    fn add(&mut self, sample: &Sample) {
        if sample.outcome.succeeded() {
            self.completed_this_second += 1;
        } else {
            self.failed_total += 1;
        }
        if let Some(phases) = sample.outcome.phases() {
            self.end_to_end_ms
                .push(phases.iter().map(|(_, ms)| ms).sum());
        }
    }

    fn print(&mut self, t_s: u64, asked: f64, in_flight: u64, warmup_s: u64) {
        let p99 = percentile(&mut self.end_to_end_ms.clone(), 0.99);
        println!(
            "[{t_s:>4}s{}] asked {asked:>7.1}/s  completed {:>5}/s  in flight {in_flight:>5}  p99 so far {p99:>7.1} ms  errors {}",
            if t_s <= warmup_s { " warm-up" } else { "" },
            self.completed_this_second,
            self.failed_total
        );
        self.completed_this_second = 0;
    }
}

/// The `q` quantile (nearest rank) of `values`; 0 for none. Sorts `values`.
pub fn percentile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    values.get(rank - 1).copied().unwrap_or(0.0)
}

/// Latency summary of `values` (ms).
pub fn summarize(values: &mut [f64]) -> PhaseSummary {
    if values.is_empty() {
        return PhaseSummary::default();
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    PhaseSummary {
        count: values.len() as u64,
        mean_ms: mean,
        p50_ms: percentile(values, 0.50),
        p95_ms: percentile(values, 0.95),
        p99_ms: percentile(values, 0.99),
        max_ms: values.last().copied().unwrap_or(0.0),
    }
}

/// Per-phase latencies (ms) of the successful samples (and of the bulks whose phases were all
/// answered, some of their transfers failed or not), `end_to_end` included.
pub fn phase_latencies<'a>(
    samples: impl Iterator<Item = &'a Sample>,
) -> BTreeMap<String, Vec<f64>> {
    let mut by_phase: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for sample in samples {
        if let Some(phases) = sample.outcome.phases() {
            let mut total = 0.0;
            for (name, ms) in phases {
                by_phase.entry((*name).to_string()).or_default().push(*ms);
                total += ms;
            }
            by_phase
                .entry("end_to_end".to_string())
                .or_default()
                .push(total);
        }
    }
    by_phase
}

/// The per-second timeline (by completion second).
pub fn timeline(result: &LoadResult, warmup_s: u64) -> Vec<Second> {
    let mut seconds: Vec<Second> = result
        .seconds
        .iter()
        .enumerate()
        .map(|(i, (asked, in_flight))| Second {
            t_s: i as u64,
            warmup: (i as u64) < warmup_s,
            rate_asked_per_s: *asked,
            in_flight: *in_flight,
            ..Second::default()
        })
        .collect();
    let mut buckets: Vec<Vec<&Sample>> = vec![Vec::new(); seconds.len()];
    for sample in &result.samples {
        let started = (sample.started_ms / 1000.0) as usize;
        if let Some(second) = seconds.get_mut(started) {
            second.started += 1;
        }
        let ended = ((sample.ended_ms / 1000.0) as usize).min(seconds.len().saturating_sub(1));
        if let Some(bucket) = buckets.get_mut(ended) {
            bucket.push(sample);
        }
    }
    for (second, bucket) in seconds.iter_mut().zip(buckets) {
        for sample in &bucket {
            if sample.outcome.succeeded() {
                second.completed += 1;
            } else {
                second.failed += 1;
            }
        }
        for (phase, mut values) in phase_latencies(bucket.into_iter()) {
            second
                .p50_ms
                .insert(phase.clone(), percentile(&mut values, 0.50));
            second.p99_ms.insert(phase, percentile(&mut values, 0.99));
        }
    }
    seconds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut values, 0.99), 99.0);
        assert_eq!(percentile(&mut values, 0.50), 50.0);
        assert_eq!(percentile(&mut [], 0.99), 0.0);
        let summary = summarize(&mut values);
        assert_eq!(summary.count, 100);
        assert_eq!(summary.max_ms, 100.0);
        assert_eq!(summary.mean_ms, 50.5);
    }

    #[test]
    fn the_schedule_follows_its_steps() {
        let steps = [
            Step {
                rate_per_s: 10.0,
                duration_s: 2,
            },
            Step {
                rate_per_s: 50.0,
                duration_s: 1,
            },
        ];
        assert_eq!(rate_at(&steps, 0.0), Some(10.0));
        assert_eq!(rate_at(&steps, 1.99), Some(10.0));
        assert_eq!(rate_at(&steps, 2.0), Some(50.0));
        assert_eq!(rate_at(&steps, 3.0), None);
    }

    #[test]
    fn draws_stay_in_range_and_cover_it() {
        let mut draw = Draw(42);
        let mut seen = [false; 4];
        for _ in 0..1000 {
            let n = draw.between(5, 8);
            assert!((5..=8).contains(&n));
            if let Some(slot) = seen.get_mut(n - 5) {
                *slot = true;
            }
        }
        assert!(seen.iter().all(|s| *s));
    }

    #[test]
    fn timeline_buckets_by_second() {
        let ok = |started_ms: f64, ended_ms: f64| Sample {
            started_ms,
            ended_ms,
            outcome: Outcome::Ok {
                phases: vec![("lookup", 10.0), ("transfer", 20.0)],
                transfer_id: "t".into(),
            },
        };
        let result = LoadResult {
            samples: vec![
                ok(100.0, 130.0),
                ok(900.0, 1_100.0),
                Sample {
                    started_ms: 1_500.0,
                    ended_ms: 1_600.0,
                    outcome: Outcome::Failed {
                        code: "4001".into(),
                        timed_out: false,
                    },
                },
            ],
            dropped_ms: Vec::new(),
            seconds: vec![(10.0, 1), (10.0, 0)],
            started_epoch_ms: 0,
        };
        let seconds = timeline(&result, 1);
        assert_eq!(seconds.len(), 2);
        assert!(seconds
            .first()
            .is_some_and(|s| s.warmup && s.started == 2 && s.completed == 1));
        assert!(seconds
            .get(1)
            .is_some_and(|s| !s.warmup && s.completed == 1 && s.failed == 1));
        assert_eq!(
            seconds.first().and_then(|s| s.p99_ms.get("end_to_end")),
            Some(&30.0)
        );
    }
}
