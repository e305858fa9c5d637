//! `mojaloop perf run` and `mojaloop perf capacity`: arguments and the printed summary.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use dfsp_sim::{layout, PaymentIds, Scenario};

use crate::gate::LedgerDatabase;
use crate::load::{LoadConfig, Step};
use crate::report::{Report, PHASES};
use crate::{Search, Target};

#[derive(Debug, Subcommand)]
pub enum PerfCommand {
    /// Send load at a constant rate (or in steps) and report per-phase latency.
    Run(RunArgs),
    /// Step the rate up until a phase's p99 or the error ratio crosses its bound; report the
    /// highest rate that held.
    Capacity(CapacityArgs),
}

/// What every perf command shares.
#[derive(Debug, Args)]
pub struct Common {
    /// end-to-end (lookup, quote, transfer), discovery, quotes, transfers, or fx (lookup, FX
    /// quote, quote, FX transfer, transfer: USD payers paying the EUR payee perffsp-eur through
    /// the FXP perffsp-fxp), or request-to-pay (the payees ask the payers' customers to pay:
    /// lookup, transaction request, quote, OTP authorization, transfer), or bulk (each arrival
    /// a bulk of --bulk-size transfers from a payer to customers of one payee DFSP: bulk quote,
    /// bulk transfer; rates are bulks per second).
    #[arg(long, default_value = "end-to-end", value_parser = parse_scenario)]
    scenario: Scenario,
    /// The ids the payers give quotes, transactions and transfers: random (UUID v4, what most
    /// DFSPs send) or time-ordered (UUID v7). The switch's tables are keyed by them; random
    /// ids make the database write many times more (perf/README.md, "Time-ordered ids").
    #[arg(long, default_value = "random", value_parser = parse_ids)]
    ids: PaymentIds,
    /// The simulated DFSPs' payer API (`mojaloop up --dfsps 8` or `mojaloop sim`).
    #[arg(
        long,
        env = "MOJALOOP_SIM_URL",
        default_value = "http://127.0.0.1:4100"
    )]
    sim_url: String,
    /// Mutual TLS: the scheme's certificates as `mojaloop certs --out DIR` writes them (the
    /// switch runs `mojaloop up --tls-dir DIR`); the payer API is called with the hub's
    /// client certificate.
    #[arg(long, env = "MOJALOOP_TLS_DIR")]
    tls_dir: Option<PathBuf>,
    /// DFSPs in the layout: the first half pay, the second half are paid.
    #[arg(long, env = "MOJALOOP_DFSPS", default_value_t = layout::DFSPS_DEFAULT)]
    dfsps: usize,
    /// Payer/payee pairs to draw from instead of every payer with every payee, e.g.
    /// `perffsp-1:perffsp-5,perffsp-2:perffsp-5` (repeat a pair to weight it).
    #[arg(long, value_delimiter = ',', value_parser = parse_pair)]
    pairs: Vec<(usize, usize)>,
    /// Payments in flight at most; arrivals beyond are dropped and counted.
    #[arg(long, default_value_t = 5_000)]
    in_flight_max: u64,
    /// Longest wait for one payment, in milliseconds.
    #[arg(long, default_value_t = 60_000)]
    payment_timeout_ms: u64,
    /// Amount of each payment (USD); in bulk, of each transfer.
    #[arg(long, default_value = "1")]
    amount: String,
    /// Scenario bulk: transfers per bulk (1 to 1000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
    bulk_size: u64,
    /// Scenario bulk: no bulk quote (the simulator makes each payee's terms with its secret,
    /// as the transfers scenario does for single payments): the switch's bulk transfers alone.
    #[arg(long)]
    skip_bulk_quote: bool,
    /// Seed of the payer, payee and MSISDN draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// MySQL server of the central ledger, for the validity gate.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "mysql://root@127.0.0.1:3306/"
    )]
    database_url: String,
    /// The central ledger's database.
    #[arg(
        long,
        env = "MOJALOOP_CENTRAL_LEDGER_DATABASE",
        default_value = "central_ledger"
    )]
    central_ledger_database: String,
    /// How long the gate waits for transfers still in flight, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    drain_timeout_ms: u64,
    /// Directory for report.json and report.html.
    #[arg(long, default_value = "perf/results/latest")]
    out: PathBuf,
    /// The bus the switch runs on, recorded in the report (embedded, kafka).
    #[arg(long)]
    bus: Option<String>,
    /// No progress line every second.
    #[arg(long)]
    quiet: bool,
    /// The switch's Prometheus metrics, read every second for its process's memory and CPU
    /// (`mojaloop up` runs every service in one process; in a split deployment, the process of
    /// the service named). Empty to leave them out; a switch that does not answer is left out.
    #[arg(
        long,
        env = "MOJALOOP_SWITCH_METRICS_URL",
        default_value = "http://127.0.0.1:3000/metrics"
    )]
    switch_metrics_url: String,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Arrival rate, payments per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// Seconds at that rate (after the warm-up).
    #[arg(long, default_value_t = 60)]
    duration_s: u64,
    /// Rates to step through instead of one rate, e.g. `100,200,400` (each for --step-s).
    #[arg(long, value_delimiter = ',')]
    steps: Vec<f64>,
    /// Seconds per step with --steps.
    #[arg(long, default_value_t = 30)]
    step_s: u64,
    /// Seconds at the first rate before measuring (excluded from the results).
    #[arg(long, default_value_t = 10)]
    warmup_s: u64,
    /// The first and the last this many seconds of the measured part are reported side by
    /// side, when it is at least twice as long (0: not).
    #[arg(long, default_value_t = 600)]
    window_s: u64,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
pub struct CapacityArgs {
    /// First rate tried.
    #[arg(long, default_value_t = 50.0)]
    start_rate: f64,
    /// Added at each step.
    #[arg(long, default_value_t = 50.0)]
    step_rate: f64,
    /// Highest rate tried.
    #[arg(long, default_value_t = 2_000.0)]
    max_rate: f64,
    /// Seconds per step.
    #[arg(long, default_value_t = 20)]
    step_s: u64,
    /// A step holds while every phase's p99 stays under this.
    #[arg(long, default_value_t = 1_000.0)]
    p99_bound_ms: f64,
    /// … and failed, timed-out and dropped payments stay under this share of arrivals.
    #[arg(long, default_value_t = 0.01)]
    error_ratio_max: f64,
    #[command(flatten)]
    common: Common,
}

fn parse_pair(text: &str) -> Result<(usize, usize), String> {
    let (payer, payee) = text
        .split_once(':')
        .ok_or_else(|| format!("{text} is not PAYER:PAYEE"))?;
    let index =
        |name: &str| layout::index_of(name).ok_or_else(|| format!("{name} is not perffsp-N"));
    Ok((index(payer)?, index(payee)?))
}

fn parse_ids(text: &str) -> Result<PaymentIds, String> {
    PaymentIds::from_name(text).ok_or_else(|| format!("{text} is not random or time-ordered"))
}

fn parse_scenario(text: &str) -> Result<Scenario, String> {
    Scenario::from_name(text).ok_or_else(|| {
        format!(
            "{text} is not end-to-end, discovery, quotes, transfers, fx, request-to-pay or bulk"
        )
    })
}

impl Common {
    fn load(&self, steps: Vec<Step>, warmup_s: u64, window_s: u64) -> LoadConfig {
        LoadConfig {
            scenario: self.scenario,
            ids: self.ids,
            steps,
            warmup_s,
            in_flight_max: self.in_flight_max,
            payment_timeout_ms: self.payment_timeout_ms,
            dfsps: self.dfsps,
            pairs: self.pairs.clone(),
            amount: self.amount.clone(),
            bulk_size: usize::try_from(self.bulk_size).unwrap_or(usize::MAX),
            skip_bulk_quote: self.skip_bulk_quote,
            seed: self.seed,
            progress: !self.quiet,
            window_s,
            switch_metrics_url: Some(self.switch_metrics_url.trim())
                .filter(|url| !url.is_empty())
                .map(str::to_string),
        }
    }

    fn target(&self) -> Target {
        Target {
            sim_url: self.sim_url.clone(),
            database: Some(LedgerDatabase {
                server_url: self.database_url.clone(),
                name: self.central_ledger_database.clone(),
            }),
            out_dir: self.out.clone(),
            bus: self.bus.clone(),
            drain_timeout_ms: self.drain_timeout_ms,
            tls_dir: self.tls_dir.clone(),
        }
    }
}

/// Runs a perf command; `Ok(true)` when the validity gate passed.
pub fn execute(command: PerfCommand) -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (report, out) = runtime.block_on(async move {
        match command {
            PerfCommand::Run(args) => {
                let mut steps: Vec<Step> = args
                    .steps
                    .iter()
                    .map(|rate| Step {
                        rate_per_s: *rate,
                        duration_s: args.step_s,
                    })
                    .collect();
                if steps.is_empty() {
                    steps.push(Step {
                        rate_per_s: args.rate,
                        duration_s: args.duration_s,
                    });
                }
                let first = steps.first().map_or(args.rate, |s| s.rate_per_s);
                if args.warmup_s > 0 {
                    steps.insert(
                        0,
                        Step {
                            rate_per_s: first,
                            duration_s: args.warmup_s,
                        },
                    );
                }
                let config = args.common.load(steps, args.warmup_s, args.window_s);
                let target = args.common.target();
                let report = crate::run(&config, &target).await?;
                Ok::<_, anyhow::Error>((report, target.out_dir))
            }
            PerfCommand::Capacity(args) => {
                let config = args.common.load(Vec::new(), 0, 0);
                let search = Search {
                    start_rate_per_s: args.start_rate,
                    step_rate_per_s: args.step_rate,
                    max_rate_per_s: args.max_rate,
                    step_s: args.step_s,
                    p99_bound_ms: args.p99_bound_ms,
                    error_ratio_max: args.error_ratio_max,
                };
                let target = args.common.target();
                let report = crate::capacity(&config, &search, &target).await?;
                Ok((report, target.out_dir))
            }
        }
    })?;
    print_summary(&report, &out);
    Ok(report.gate.as_ref().is_some_and(|g| g.passed))
}

fn print_summary(report: &Report, out: &std::path::Path) {
    println!();
    println!(
        "Scenario {} ({}), {} s measured after {} s warm-up, {} ids",
        report.scenario,
        report.mode,
        report.measured_s,
        report.warmup_s,
        report.ids.as_deref().unwrap_or("random")
    );
    let c = &report.counts;
    match (report.bulk_size, report.transfers_per_s) {
        (Some(size), Some(transfers_per_s)) => {
            println!(
                "Rate: asked {:.1} bulks/s, achieved {:.1} bulks/s ({size} transfers each): {transfers_per_s:.1} transfers/s",
                report.rate_asked_per_s, report.rate_achieved_per_s
            );
            println!(
                "Bulks: {} sent, {} with every transfer committed, {} with failures, {} timed out, {} dropped",
                c.sent, c.succeeded, c.failed, c.timed_out, c.dropped
            );
            println!(
                "Transfers: {} committed, {} failed",
                c.transfers_committed, c.transfers_failed
            );
        }
        _ => {
            println!(
                "Rate: asked {:.1}/s, achieved {:.1}/s",
                report.rate_asked_per_s, report.rate_achieved_per_s
            );
            println!(
                "Payments: {} sent, {} succeeded, {} failed, {} timed out, {} dropped",
                c.sent, c.succeeded, c.failed, c.timed_out, c.dropped
            );
        }
    }
    println!(
        "{:<18} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "phase", "count", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for phase in PHASES {
        if let Some(p) = report.phases.get(*phase) {
            println!(
                "{phase:<18} {:>8} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                p.count, p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms
            );
        }
    }
    for window in &report.windows {
        let phases: Vec<String> = PHASES
            .iter()
            .filter_map(|phase| {
                let p = window.phases.get(*phase)?;
                Some(format!("{phase} {:.1}", p.p99_ms))
            })
            .collect();
        let memory = match (window.switch_rss_mb_start, window.switch_rss_mb_end) {
            (Some(start), Some(end)) => format!(", switch {start:.0} → {end:.0} MB"),
            _ => String::new(),
        };
        println!(
            "{} {} s (from {} s): {:.1}/s, {} failed, {} timed out, {} dropped, p99 ms: {}{memory}",
            window.name,
            window.to_s - window.from_s,
            window.from_s,
            window.rate_achieved_per_s,
            window.counts.failed,
            window.counts.timed_out,
            window.counts.dropped,
            phases.join(", ")
        );
    }
    if let Some(switch) = &report.switch {
        println!(
            "Switch process: {:.0} MB at the start, {:.0} MB at the end, {:.0} MB at most; {:.0} % of a core on average ({} readings of {})",
            switch.rss_mb_start,
            switch.rss_mb_end,
            switch.rss_mb_max,
            switch.cpu_percent_mean,
            switch.readings,
            switch.metrics_url
        );
    }
    if !report.errors_by_code.is_empty() {
        let errors: Vec<String> = report
            .errors_by_code
            .iter()
            .map(|(code, n)| format!("{code}: {n}"))
            .collect();
        println!("Errors: {}", errors.join(", "));
    }
    if let Some(capacity) = &report.capacity {
        for step in &capacity.steps {
            println!(
                "  step {:>7.1}/s: achieved {:>7.1}/s, errors {:.2}%, {}",
                step.rate_asked_per_s,
                step.rate_achieved_per_s,
                step.error_ratio * 100.0,
                if step.held { "held" } else { "did not hold" }
            );
        }
        match capacity.highest_rate_held_per_s {
            Some(rate) => println!(
                "Capacity: {rate:.1}/s held (p99 < {:.0} ms per phase, errors ≤ {:.1}%)",
                capacity.p99_bound_ms,
                capacity.error_ratio_max * 100.0
            ),
            None => println!("Capacity: even the first step did not hold"),
        }
    }
    if let Some(gate) = &report.gate {
        println!(
            "Validity gate: {}",
            if gate.passed { "PASSED" } else { "FAILED" }
        );
        for check in &gate.checks {
            println!(
                "  {} {}: {}",
                if check.passed { "✅" } else { "❌" },
                check.name,
                check.detail
            );
        }
    }
    println!(
        "Report: {} and {}",
        out.join("report.json").display(),
        out.join("report.html").display()
    );
}
