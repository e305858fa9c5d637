//! The perf harness behind `mojaloop perf run` and `mojaloop perf capacity`.
//!
//! It drives payments through the simulated DFSPs' payer API (`mojaloop up --dfsps 8`, or
//! `mojaloop sim` next to a deployment) with an open-model load ([`load`]), reports per-phase
//! latency and rates ([`report`], written as `report.json` and the page of [`html`]), checks the
//! switch's books afterwards ([`gate`]) and, in capacity mode, steps the rate up until a phase's
//! p99 or the error ratio crosses its bound.

pub mod cli;
pub mod gate;
pub mod histogram;
pub mod html;
pub mod load;
pub mod report;
pub mod tally;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use dfsp_sim::{RemoteSimulator, Scenario};

use crate::gate::LedgerDatabase;
use crate::load::{LoadConfig, LoadResult, Step};
use crate::report::{Capacity, CapacityStep, Report};

/// Where a run sends its payments, checks its results and writes its report.
#[derive(Debug, Clone)]
pub struct Target {
    pub sim_url: String,
    /// The ledger's database for the gate; `None` skips the ledger checks (and fails the gate).
    pub database: Option<LedgerDatabase>,
    /// Directory for `report.json` and `report.html`.
    pub out_dir: PathBuf,
    /// The bus the switch runs on, for the report (`embedded`, `kafka`).
    pub bus: Option<String>,
    /// How long the gate waits for transfers still in flight after the last payment.
    pub drain_timeout_ms: u64,
    /// Mutual TLS: the scheme's certificates (`mojaloop certs --out DIR`); the simulators'
    /// payer API is then called over HTTPS with the hub's client certificate.
    pub tls_dir: Option<PathBuf>,
}

/// The simulators' payer API of `target`.
fn simulator(target: &Target, timeout_ms: u64) -> anyhow::Result<RemoteSimulator> {
    match &target.tls_dir {
        Some(dir) => {
            let tls = service_kit::pki::Layout::new(dir).hub_tls("Hub");
            RemoteSimulator::with_tls(&target.sim_url, timeout_ms, &tls)
        }
        None => RemoteSimulator::new(&target.sim_url, timeout_ms),
    }
    .map_err(anyhow::Error::msg)
}

/// Bounds of a capacity search.
#[derive(Debug, Clone, Copy)]
pub struct Search {
    pub start_rate_per_s: f64,
    pub step_rate_per_s: f64,
    pub max_rate_per_s: f64,
    pub step_s: u64,
    pub p99_bound_ms: f64,
    pub error_ratio_max: f64,
}

/// The measured part of `result` as a report (no gate yet).
pub fn summarize(result: &LoadResult, config: &LoadConfig, sim_url: &str) -> Report {
    let total_s: u64 = config.steps.iter().map(|s| s.duration_s).sum();
    let measured_s = total_s.saturating_sub(config.warmup_s).max(1);
    let bulk = config.scenario == Scenario::Bulk;
    let measured = &result.measured;
    let counts = measured.counts.clone();
    let asked: Vec<f64> = result
        .timeline
        .iter()
        .filter(|s| !s.warmup)
        .map(|s| s.rate_asked_per_s)
        .collect();
    Report {
        scenario: config.scenario.name().to_string(),
        ids: Some(config.ids.name().to_string()),
        mode: "run".into(),
        started_at: fspiop::datetime::format_date_time(result.started_epoch_ms),
        sim_url: sim_url.to_string(),
        bus: None,
        rate_asked_per_s: if asked.is_empty() {
            0.0
        } else {
            asked.iter().sum::<f64>() / asked.len() as f64
        },
        rate_achieved_per_s: counts.succeeded as f64 / measured_s as f64,
        bulk_size: bulk.then_some(config.bulk_size as u64),
        transfers_per_s: bulk.then(|| counts.transfers_committed as f64 / measured_s as f64),
        warmup_s: config.warmup_s,
        measured_s,
        phases: measured.summaries(),
        errors_by_code: measured.errors_by_code.clone(),
        counts,
        windows: result
            .windows
            .iter()
            .map(|(window, aggregate)| window_report(window, aggregate, &result.timeline))
            .collect(),
        switch: config
            .switch_metrics_url
            .as_deref()
            .and_then(|url| switch_process(url, &result.timeline)),
        timeline: result.timeline.clone(),
        gate: None,
        capacity: None,
    }
}

fn window_report(
    window: &tally::Window,
    aggregate: &tally::Aggregate,
    timeline: &[report::Second],
) -> report::WindowReport {
    let rows: Vec<&report::Second> = timeline
        .iter()
        .filter(|s| (window.from_s..window.to_s).contains(&s.t_s))
        .collect();
    let cpu: Vec<f64> = rows.iter().filter_map(|s| s.switch_cpu_percent).collect();
    report::WindowReport {
        name: window.name.to_string(),
        from_s: window.from_s,
        to_s: window.to_s,
        rate_achieved_per_s: aggregate.counts.succeeded as f64
            / window.to_s.saturating_sub(window.from_s).max(1) as f64,
        counts: aggregate.counts.clone(),
        phases: aggregate.summaries(),
        errors_by_code: aggregate.errors_by_code.clone(),
        switch_rss_mb_start: rows.iter().find_map(|s| s.switch_rss_mb),
        switch_rss_mb_end: rows.iter().rev().find_map(|s| s.switch_rss_mb),
        switch_cpu_percent_mean: (!cpu.is_empty())
            .then(|| cpu.iter().sum::<f64>() / cpu.len() as f64),
    }
}

/// The switch's memory at the first and last reading and at most, and its mean CPU use over
/// the measured part; `None` when it was never read.
fn switch_process(metrics_url: &str, timeline: &[report::Second]) -> Option<report::SwitchProcess> {
    let readings: Vec<f64> = timeline.iter().filter_map(|s| s.switch_rss_mb).collect();
    let cpu: Vec<f64> = timeline
        .iter()
        .filter(|s| !s.warmup)
        .filter_map(|s| s.switch_cpu_percent)
        .collect();
    Some(report::SwitchProcess {
        metrics_url: metrics_url.to_string(),
        readings: readings.len() as u64,
        rss_mb_start: *readings.first()?,
        rss_mb_end: *readings.last()?,
        rss_mb_max: readings.iter().copied().fold(0.0, f64::max),
        cpu_percent_mean: if cpu.is_empty() {
            0.0
        } else {
            cpu.iter().sum::<f64>() / cpu.len() as f64
        },
    })
}

async fn gate_checks(
    target: &Target,
    sim: &RemoteSimulator,
    before: Option<dfsp_sim::CallbackCounts>,
    since: Option<&str>,
    scenario: Scenario,
    committed: u64,
) -> report::Gate {
    let mut checks = Vec::new();
    match (before, sim.callback_counts().await) {
        (Some(before), Ok(after)) => checks.push(gate::callbacks(before, after)),
        (_, Err(error)) => checks.push(report::GateCheck {
            name: "callbacks match requests one for one".into(),
            passed: false,
            detail: error,
        }),
        (None, Ok(_)) => checks.push(report::GateCheck {
            name: "callbacks match requests one for one".into(),
            passed: false,
            detail: "the simulator's counters were not readable before the run".into(),
        }),
    }
    match (&target.database, since) {
        (Some(database), Some(since)) => checks.extend(
            gate::ledger_checks(
                database,
                since,
                gate::PayerView {
                    committed,
                    transfers: matches!(
                        scenario,
                        Scenario::EndToEnd
                            | Scenario::Transfers
                            | Scenario::Fx
                            | Scenario::RequestToPay
                            | Scenario::Bulk
                    ),
                },
                target.drain_timeout_ms,
            )
            .await,
        ),
        _ => checks.push(report::GateCheck {
            name: "ledger readable".into(),
            passed: false,
            detail: "no ledger database to check".into(),
        }),
    }
    gate::gate(checks)
}

/// Transfers the payers saw committed (a bulk's count for each bulk).
fn committed(result: &LoadResult) -> u64 {
    result.committed
}

async fn start_marks(
    target: &Target,
    sim: &RemoteSimulator,
) -> anyhow::Result<(Option<dfsp_sim::CallbackCounts>, Option<String>)> {
    let before = sim
        .callback_counts()
        .await
        .map_err(|e| anyhow::anyhow!("the simulator at {} does not answer: {e}", target.sim_url))?;
    let since = match &target.database {
        Some(database) => Some(
            gate::ledger_now(database)
                .await
                .context("reading the ledger database's clock")?,
        ),
        None => None,
    };
    Ok((Some(before), since))
}

/// One run of `config`, gated and written to `target.out_dir`.
pub async fn run(config: &LoadConfig, target: &Target) -> anyhow::Result<Report> {
    let sim = simulator(target, config.payment_timeout_ms)?;
    let (before, since) = start_marks(target, &sim).await?;
    let result = load::drive(sim.clone(), config).await?;
    let mut report = summarize(&result, config, &target.sim_url);
    report.bus = target.bus.clone();
    report.gate = Some(
        gate_checks(
            target,
            &sim,
            before,
            since.as_deref(),
            config.scenario,
            committed(&result),
        )
        .await,
    );
    write(&report, &target.out_dir)?;
    Ok(report)
}

/// A capacity search: one step per rate from `search.start_rate_per_s`, until a step does not
/// hold or the maximum is reached. The report's summary is that of the highest step that held.
pub async fn capacity(
    base: &LoadConfig,
    search: &Search,
    target: &Target,
) -> anyhow::Result<Report> {
    anyhow::ensure!(
        search.start_rate_per_s > 0.0 && search.step_rate_per_s > 0.0,
        "rates must be positive"
    );
    let sim = simulator(target, base.payment_timeout_ms)?;
    let (before, since) = start_marks(target, &sim).await?;
    let mut capacity = Capacity {
        p99_bound_ms: search.p99_bound_ms,
        error_ratio_max: search.error_ratio_max,
        ..Capacity::default()
    };
    let mut best: Option<Report> = None;
    let mut timeline = Vec::new();
    let mut committed_total = 0;
    let mut rate = search.start_rate_per_s;
    while rate <= search.max_rate_per_s + f64::EPSILON {
        let config = LoadConfig {
            steps: vec![Step {
                rate_per_s: rate,
                duration_s: search.step_s,
            }],
            warmup_s: 0,
            ..base.clone()
        };
        if base.progress {
            println!("-- step: {rate:.1}/s for {} s", search.step_s);
        }
        let result = load::drive(sim.clone(), &config).await?;
        committed_total += committed(&result);
        let step_report = summarize(&result, &config, &target.sim_url);
        let offset = timeline.len() as u64;
        timeline.extend(step_report.timeline.iter().cloned().map(|mut s| {
            s.t_s += offset;
            s
        }));
        let arrivals = step_report.counts.sent + step_report.counts.dropped;
        let errors =
            step_report.counts.failed + step_report.counts.timed_out + step_report.counts.dropped;
        let error_ratio = if arrivals == 0 {
            1.0
        } else {
            errors as f64 / arrivals as f64
        };
        let p99_ms: BTreeMap<String, f64> = step_report
            .phases
            .iter()
            .map(|(phase, summary)| (phase.clone(), summary.p99_ms))
            .collect();
        let held = error_ratio <= search.error_ratio_max
            && !p99_ms.is_empty()
            && p99_ms
                .iter()
                .filter(|(phase, _)| phase.as_str() != "end_to_end")
                .all(|(_, p99)| *p99 < search.p99_bound_ms);
        capacity.steps.push(CapacityStep {
            rate_asked_per_s: rate,
            rate_achieved_per_s: step_report.rate_achieved_per_s,
            p99_ms,
            error_ratio,
            held,
        });
        if !held {
            break;
        }
        capacity.highest_rate_held_per_s = Some(rate);
        best = Some(step_report);
        rate += search.step_rate_per_s;
    }
    let mut report = best.unwrap_or_default();
    report.scenario = base.scenario.name().to_string();
    report.ids = Some(base.ids.name().to_string());
    report.mode = "capacity".into();
    report.sim_url = target.sim_url.clone();
    report.bus = target.bus.clone();
    report.timeline = timeline;
    report.switch = base
        .switch_metrics_url
        .as_deref()
        .and_then(|url| switch_process(url, &report.timeline));
    report.capacity = Some(capacity);
    report.gate = Some(
        gate_checks(
            target,
            &sim,
            before,
            since.as_deref(),
            base.scenario,
            committed_total,
        )
        .await,
    );
    write(&report, &target.out_dir)?;
    Ok(report)
}

/// Writes `report.json` and `report.html` into `dir` (created when missing).
pub fn write(report: &Report, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(dir.join("report.json"), json)
        .with_context(|| format!("writing {}", dir.join("report.json").display()))?;
    std::fs::write(dir.join("report.html"), html::render(report))
        .with_context(|| format!("writing {}", dir.join("report.html").display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Outcome, Sample};

    /// What `drive` would produce from these payments and drops.
    fn tallied(config: &LoadConfig, samples: &[Sample], dropped_ms: &[f64]) -> LoadResult {
        let bulk_size = (config.scenario == Scenario::Bulk).then_some(config.bulk_size as u64);
        let mut tally =
            tally::Tally::new(&config.steps, config.warmup_s, config.window_s, bulk_size);
        for sample in samples {
            tally.add(sample);
        }
        for at in dropped_ms {
            tally.add_dropped(*at);
        }
        tally.finish(0)
    }

    #[test]
    fn the_summary_leaves_out_the_warm_up() {
        let ok = |started_ms: f64| Sample {
            started_ms,
            ended_ms: started_ms + 50.0,
            outcome: Outcome::Ok {
                phases: vec![("lookup", 10.0), ("quote", 15.0), ("transfer", 25.0)],
                transfer_id: "t".into(),
            },
        };
        let samples = vec![
            ok(500.0),
            ok(1_500.0),
            ok(2_500.0),
            Sample {
                started_ms: 2_600.0,
                ended_ms: 2_700.0,
                outcome: Outcome::Failed {
                    code: "4001".into(),
                    timed_out: false,
                },
            },
        ];
        let dropped_ms = vec![100.0, 2_800.0];
        let config = LoadConfig {
            scenario: Scenario::EndToEnd,
            ids: dfsp_sim::PaymentIds::Random,
            steps: vec![Step {
                rate_per_s: 10.0,
                duration_s: 3,
            }],
            warmup_s: 1,
            in_flight_max: 10,
            payment_timeout_ms: 1_000,
            dfsps: 8,
            pairs: Vec::new(),
            amount: "1".into(),
            bulk_size: 100,
            skip_bulk_quote: false,
            seed: 1,
            progress: false,
            window_s: 0,
            switch_metrics_url: None,
        };
        let result = tallied(&config, &samples, &dropped_ms);
        let report = summarize(&result, &config, "http://sim");
        assert_eq!(report.measured_s, 2);
        assert_eq!(report.counts.sent, 3);
        assert_eq!(report.counts.succeeded, 2);
        assert_eq!(report.counts.failed, 1);
        assert_eq!(report.counts.dropped, 1);
        assert_eq!(report.rate_achieved_per_s, 1.0);
        assert_eq!(report.errors_by_code.get("4001"), Some(&1));
        assert_eq!(
            report.phases.get("end_to_end").map(|p| p.p99_ms),
            Some(50.0)
        );
        assert_eq!(committed(&result), 3);
    }

    #[test]
    fn a_bulk_run_counts_bulks_and_their_transfers() {
        let bulk = |started_ms: f64, committed: u64, failed: Vec<(String, u64)>| Sample {
            started_ms,
            ended_ms: started_ms + 300.0,
            outcome: Outcome::Bulk {
                phases: vec![("bulkQuote", 40.0), ("bulkTransfer", 260.0)],
                committed,
                failed,
            },
        };
        let samples = vec![
            bulk(100.0, 10, Vec::new()),
            bulk(1_100.0, 8, vec![("3204".into(), 2)]),
            Sample {
                started_ms: 1_500.0,
                ended_ms: 1_600.0,
                outcome: Outcome::Failed {
                    code: "timeout".into(),
                    timed_out: true,
                },
            },
        ];
        let dropped_ms = vec![1_700.0];
        let config = LoadConfig {
            scenario: Scenario::Bulk,
            ids: dfsp_sim::PaymentIds::Random,
            steps: vec![Step {
                rate_per_s: 1.0,
                duration_s: 2,
            }],
            warmup_s: 0,
            in_flight_max: 10,
            payment_timeout_ms: 1_000,
            dfsps: 8,
            pairs: Vec::new(),
            amount: "1".into(),
            bulk_size: 10,
            skip_bulk_quote: false,
            seed: 1,
            progress: false,
            window_s: 0,
            switch_metrics_url: None,
        };
        let result = tallied(&config, &samples, &dropped_ms);
        let report = summarize(&result, &config, "http://sim");
        assert_eq!(report.bulk_size, Some(10));
        let c = &report.counts;
        assert_eq!(
            (c.sent, c.succeeded, c.failed, c.timed_out, c.dropped),
            (3, 1, 1, 1, 1)
        );
        assert_eq!((c.transfers_committed, c.transfers_failed), (18, 12));
        assert_eq!(
            report.rate_achieved_per_s, 0.5,
            "bulks with every transfer committed"
        );
        assert_eq!(report.transfers_per_s, Some(9.0));
        // Transfers by code: the refused quotes, each transfer of the bulk that timed out, and
        // of the one dropped.
        assert_eq!(report.errors_by_code.get("3204"), Some(&2));
        assert_eq!(report.errors_by_code.get("timeout"), Some(&10));
        assert_eq!(report.errors_by_code.get("dropped"), Some(&10));
        assert_eq!(report.phases.get("bulkTransfer").map(|p| p.count), Some(2));
        assert_eq!(
            report.phases.get("end_to_end").map(|p| p.max_ms),
            Some(300.0)
        );
        assert_eq!(committed(&result), 18);
    }
}
