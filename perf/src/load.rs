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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dfsp_sim::{
    layout, BulkOptions, BulkReport, PayOptions, PaymentError, PaymentIds, RemoteSimulator,
    Scenario,
};
use tokio::sync::mpsc;

pub use crate::tally::LoadResult;
use crate::tally::Tally;

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
    /// The kind of ids the payers make.
    pub ids: PaymentIds,
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
    /// The first and last this many seconds of the measured part are reported side by side
    /// (when it is at least twice as long); 0 for none.
    pub window_s: u64,
    /// The switch's Prometheus `/metrics` (its process memory and CPU time are read every
    /// second into the timeline); `None` to leave them out.
    pub switch_metrics_url: Option<String>,
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
    let bulk_size = (config.scenario == Scenario::Bulk).then_some(config.bulk_size as u64);
    let mut tally = Tally::new(&config.steps, config.warmup_s, config.window_s, bulk_size);
    let (readings_tx, mut readings) = mpsc::unbounded_channel::<(usize, u64, f64)>();
    let sampler = config.switch_metrics_url.clone().map(|url| {
        let sim = sim.clone();
        tokio::spawn(read_switch(sim, url, start, readings_tx))
    });
    let mut next_s = 0.0_f64;
    let mut second_done = 0_u64;

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
                tally.add_dropped(next_s * 1000.0);
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
                    ids: config.ids,
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
            while let Ok(sample) = rx.try_recv() {
                tally.add(&sample);
            }
            while let Ok((t_s, resident, cpu)) = readings.try_recv() {
                tally.add_switch_reading(t_s, resident, cpu);
            }
            tally.close_through(second_done as usize + 1, now_in_flight);
            if config.progress {
                println!(
                    "{}",
                    tally.progress_line(second_done + 1, asked, now_in_flight, config.warmup_s)
                );
            }
            second_done += 1;
        }
    }
    drop(tx);
    // Let the payments in flight finish (each is bounded by its own timeout).
    while let Some(sample) = rx.recv().await {
        tally.add(&sample);
    }
    if let Some(sampler) = sampler {
        sampler.abort();
    }
    while let Ok((t_s, resident, cpu)) = readings.try_recv() {
        tally.add_switch_reading(t_s, resident, cpu);
    }
    Ok(tally.finish(started_epoch_ms))
}

/// Reads the switch's process figures from its `/metrics` every second until aborted, sending
/// (second of the run, resident bytes, CPU seconds). A failed read is skipped: the figures are
/// an observation, not part of the run.
async fn read_switch(
    sim: Arc<RemoteSimulator>,
    url: String,
    start: Instant,
    readings: mpsc::UnboundedSender<(usize, u64, f64)>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let t_s = start.elapsed().as_secs() as usize;
        if let Ok(text) = sim.fetch_text(&url, SWITCH_READ_TIMEOUT_MS).await {
            if let Some((resident, cpu)) = process_figures(&text) {
                if readings.send((t_s, resident, cpu)).is_err() {
                    return;
                }
            }
        }
    }
}

/// Longest wait for one read of the switch's `/metrics`.
const SWITCH_READ_TIMEOUT_MS: u64 = 900;

/// `process_resident_memory_bytes` and `process_cpu_seconds_total` of a Prometheus text page.
pub fn process_figures(text: &str) -> Option<(u64, f64)> {
    let value = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|value| value.trim().parse::<f64>().ok())
    };
    let resident = value("process_resident_memory_bytes")?;
    let cpu = value("process_cpu_seconds_total")?;
    Some((resident as u64, cpu))
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn process_figures_from_a_metrics_page() {
        let page = "# HELP x_total y\nx_total 3\nprocess_cpu_seconds_total 12.5\nprocess_resident_memory_bytes 41943040\nprocess_open_fds 30\n";
        assert_eq!(process_figures(page), Some((41_943_040, 12.5)));
        assert_eq!(process_figures("process_cpu_seconds_total 1\n"), None);
    }
}
