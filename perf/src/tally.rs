//! What a run adds up to, kept as it goes: counts, errors by code and a latency [`Histogram`]
//! per phase for the measured part and for each window (the first and the last ten minutes of
//! a long run), and one row per second of the timeline. A second's latencies are held only
//! until the second is closed (its p50 and p99 are then written into its row), so the harness's
//! memory grows with the seconds of the schedule, not with the payments: a one-hour run at
//! 1000/s keeps 3 600 rows and a few histograms, not 3.6 million samples.

use std::collections::BTreeMap;

use crate::histogram::Histogram;
use crate::load::{Outcome, Sample, Step};
use crate::report::{Counts, PhaseSummary, Second};

/// The phase name of a whole payment (or bulk).
pub const END_TO_END: &str = "end_to_end";

/// Counts, errors and latencies of a set of payments.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregate {
    pub counts: Counts,
    /// By FSPIOP error code (`timeout`, `dropped` and the simulator's kinds for the rest); in
    /// `bulk`, individual transfers.
    pub errors_by_code: BTreeMap<String, u64>,
    /// Per phase, `end_to_end` included, over the payments whose phases were all answered.
    pub phases: BTreeMap<&'static str, Histogram>,
}

impl Aggregate {
    /// Adds a payment that started; `bulk_size` is `Some` in the bulk scenario, where a bulk
    /// that failed as a whole counts each of its transfers as failed.
    fn add(&mut self, sample: &Sample, bulk_size: Option<u64>) {
        let counts = &mut self.counts;
        counts.sent += 1;
        match &sample.outcome {
            Outcome::Ok { .. } => counts.succeeded += 1,
            Outcome::Failed { code, timed_out } => {
                if *timed_out {
                    counts.timed_out += 1;
                } else {
                    counts.failed += 1;
                }
                *self.errors_by_code.entry(code.clone()).or_default() += bulk_size.unwrap_or(1);
                if let Some(size) = bulk_size {
                    counts.transfers_failed += size;
                }
            }
            Outcome::Bulk {
                committed, failed, ..
            } => {
                if failed.is_empty() {
                    counts.succeeded += 1;
                } else {
                    counts.failed += 1;
                }
                counts.transfers_committed += committed;
                for (code, count) in failed {
                    *self.errors_by_code.entry(code.clone()).or_default() += count;
                    counts.transfers_failed += count;
                }
            }
        }
        record_phases(&mut self.phases, &sample.outcome);
    }

    /// Adds an arrival dropped for want of room (a bulk counts each of its transfers).
    fn add_dropped(&mut self, bulk_size: Option<u64>) {
        self.counts.dropped += 1;
        *self.errors_by_code.entry("dropped".into()).or_default() += bulk_size.unwrap_or(1);
    }

    /// The latency summary of each phase.
    pub fn summaries(&self) -> BTreeMap<String, PhaseSummary> {
        self.phases
            .iter()
            .map(|(phase, histogram)| ((*phase).to_string(), histogram.summary()))
            .collect()
    }
}

/// Records each phase of an outcome that has them, and their sum as `end_to_end`.
fn record_phases(into: &mut BTreeMap<&'static str, Histogram>, outcome: &Outcome) {
    if let Some(phases) = outcome.phases() {
        let mut total = 0.0;
        for (name, ms) in phases {
            into.entry(name).or_default().record(*ms);
            total += ms;
        }
        into.entry(END_TO_END).or_default().record(total);
    }
}

/// A part of the measured run, by the seconds its payments started in: `from_s..to_s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub name: &'static str,
    pub from_s: u64,
    pub to_s: u64,
}

impl Window {
    fn holds(&self, at_ms: f64) -> bool {
        at_ms >= self.from_s as f64 * 1000.0 && at_ms < self.to_s as f64 * 1000.0
    }
}

/// The first and the last `window_s` of the measured part, when it is at least two windows
/// long (they do not overlap); none otherwise or when `window_s` is 0.
pub fn windows(total_s: u64, warmup_s: u64, window_s: u64) -> Vec<Window> {
    let measured_s = total_s.saturating_sub(warmup_s);
    if window_s == 0 || measured_s < 2 * window_s {
        return Vec::new();
    }
    vec![
        Window {
            name: "first",
            from_s: warmup_s,
            to_s: warmup_s + window_s,
        },
        Window {
            name: "last",
            from_s: total_s - window_s,
            to_s: total_s,
        },
    ]
}

/// Everything one schedule produced.
#[derive(Debug, Clone, Default)]
pub struct LoadResult {
    /// One row per second of the schedule (warm-up included, marked).
    pub timeline: Vec<Second>,
    /// The payments that started after the warm-up, and the arrivals dropped then.
    pub measured: Aggregate,
    /// The windows of the measured part and what their payments add up to.
    pub windows: Vec<(Window, Aggregate)>,
    /// Transfers the payers saw committed over the whole schedule (a bulk's count for each).
    pub committed: u64,
    /// Wall-clock time of the start (ms since the epoch).
    pub started_epoch_ms: i64,
}

/// The running tally of a schedule.
#[derive(Debug)]
pub struct Tally {
    warmup_ms: f64,
    bulk_size: Option<u64>,
    rows: Vec<Second>,
    /// Latencies of the seconds not closed yet, by completion second.
    open: BTreeMap<usize, BTreeMap<&'static str, Histogram>>,
    /// Rows `0..closed` are final.
    closed: usize,
    measured: Aggregate,
    windows: Vec<(Window, Aggregate)>,
    committed: u64,
    /// For the progress line: every payment's end-to-end time, and counts.
    all_end_to_end: Histogram,
    completed_this_second: u64,
    failed_total: u64,
    /// The switch's CPU seconds at the previous sample, and when.
    last_cpu: Option<(usize, f64)>,
}

impl Tally {
    /// A tally of `steps` (the first `warmup_s` seconds are warm-up), with the first and last
    /// `window_s` of the measured part as windows when it is long enough.
    pub fn new(steps: &[Step], warmup_s: u64, window_s: u64, bulk_size: Option<u64>) -> Tally {
        let mut rows = Vec::new();
        for step in steps {
            for _ in 0..step.duration_s {
                let t_s = rows.len() as u64;
                rows.push(Second {
                    t_s,
                    warmup: t_s < warmup_s,
                    rate_asked_per_s: step.rate_per_s,
                    ..Second::default()
                });
            }
        }
        let total_s = rows.len() as u64;
        Tally {
            warmup_ms: warmup_s as f64 * 1000.0,
            bulk_size,
            rows,
            open: BTreeMap::new(),
            closed: 0,
            measured: Aggregate::default(),
            windows: windows(total_s, warmup_s, window_s)
                .into_iter()
                .map(|window| (window, Aggregate::default()))
                .collect(),
            committed: 0,
            all_end_to_end: Histogram::default(),
            completed_this_second: 0,
            failed_total: 0,
            last_cpu: None,
        }
    }

    /// Adds a payment that ended (it counts in the second it ended in; one that ended after
    /// the schedule, in its last second).
    pub fn add(&mut self, sample: &Sample) {
        self.committed += sample.outcome.committed();
        let started_s = (sample.started_ms.max(0.0) / 1000.0) as usize;
        if let Some(row) = self.rows.get_mut(started_s) {
            row.started += 1;
        }
        let last = self.rows.len().saturating_sub(1);
        let ended_s = ((sample.ended_ms.max(0.0) / 1000.0) as usize).min(last);
        if let Some(row) = self.rows.get_mut(ended_s) {
            if sample.outcome.succeeded() {
                row.completed += 1;
            } else {
                row.failed += 1;
            }
        }
        // A payment that reaches the tally after its second was closed counts there, but its
        // latency is only in the summaries.
        if ended_s >= self.closed {
            record_phases(self.open.entry(ended_s).or_default(), &sample.outcome);
        }
        if sample.outcome.succeeded() {
            self.completed_this_second += 1;
        } else {
            self.failed_total += 1;
        }
        if let Some(phases) = sample.outcome.phases() {
            self.all_end_to_end
                .record(phases.iter().map(|(_, ms)| ms).sum());
        }
        if sample.started_ms >= self.warmup_ms {
            self.measured.add(sample, self.bulk_size);
        }
        for (window, aggregate) in &mut self.windows {
            if window.holds(sample.started_ms) {
                aggregate.add(sample, self.bulk_size);
            }
        }
    }

    /// Counts an arrival at `at_ms` that was dropped for want of room.
    pub fn add_dropped(&mut self, at_ms: f64) {
        if at_ms >= self.warmup_ms {
            self.measured.add_dropped(self.bulk_size);
        }
        for (window, aggregate) in &mut self.windows {
            if window.holds(at_ms) {
                aggregate.add_dropped(self.bulk_size);
            }
        }
    }

    /// The switch process's memory and CPU time read during second `t_s`; the CPU share is
    /// over the time since the previous reading.
    pub fn add_switch_reading(&mut self, t_s: usize, resident_bytes: u64, cpu_seconds: f64) {
        let Some(row) = self.rows.get_mut(t_s) else {
            return;
        };
        row.switch_rss_mb = Some(resident_bytes as f64 / (1024.0 * 1024.0));
        if let Some((then_s, then_cpu)) = self.last_cpu {
            if t_s > then_s {
                row.switch_cpu_percent =
                    Some(((cpu_seconds - then_cpu) / (t_s - then_s) as f64 * 100.0).max(0.0));
            }
        }
        self.last_cpu = Some((t_s, cpu_seconds));
    }

    /// Closes the seconds before `second`: their in-flight count and latency percentiles are
    /// written and their histograms dropped.
    pub fn close_through(&mut self, second: usize, in_flight: u64) {
        while self.closed < second.min(self.rows.len()) {
            let index = self.closed;
            let latencies = self.open.remove(&index).unwrap_or_default();
            if let Some(row) = self.rows.get_mut(index) {
                row.in_flight = in_flight;
                for (phase, histogram) in latencies {
                    row.p50_ms
                        .insert(phase.to_string(), histogram.quantile(0.50));
                    row.p99_ms
                        .insert(phase.to_string(), histogram.quantile(0.99));
                }
            }
            self.closed += 1;
        }
    }

    /// The progress line of second `t_s` (1-based); starts the next second's count.
    pub fn progress_line(&mut self, t_s: u64, asked: f64, in_flight: u64, warmup_s: u64) -> String {
        let line = format!(
            "[{t_s:>4}s{}] asked {asked:>7.1}/s  completed {:>5}/s  in flight {in_flight:>5}  p99 so far {:>7.1} ms  errors {}",
            if t_s <= warmup_s { " warm-up" } else { "" },
            self.completed_this_second,
            self.all_end_to_end.quantile(0.99),
            self.failed_total
        );
        self.completed_this_second = 0;
        line
    }

    /// Closes every second left (nothing is in flight any more) and gives the result.
    pub fn finish(mut self, started_epoch_ms: i64) -> LoadResult {
        self.close_through(self.rows.len(), 0);
        LoadResult {
            timeline: self.rows,
            measured: self.measured,
            windows: self.windows,
            committed: self.committed,
            started_epoch_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(started_ms: f64, ended_ms: f64) -> Sample {
        Sample {
            started_ms,
            ended_ms,
            outcome: Outcome::Ok {
                phases: vec![("lookup", 10.0), ("transfer", 20.0)],
                transfer_id: "t".into(),
            },
        }
    }

    fn steps(rate_per_s: f64, duration_s: u64) -> Vec<Step> {
        vec![Step {
            rate_per_s,
            duration_s,
        }]
    }

    #[test]
    fn the_timeline_counts_by_second() {
        let mut tally = Tally::new(&steps(10.0, 2), 1, 0, None);
        tally.add(&ok(100.0, 130.0));
        tally.add(&ok(900.0, 1_100.0));
        tally.close_through(1, 1);
        tally.add(&Sample {
            started_ms: 1_500.0,
            ended_ms: 1_600.0,
            outcome: Outcome::Failed {
                code: "4001".into(),
                timed_out: false,
            },
        });
        let result = tally.finish(0);
        let seconds = result.timeline;
        assert_eq!(seconds.len(), 2);
        let first = &seconds[0];
        assert!(first.warmup && first.started == 2 && first.completed == 1 && first.in_flight == 1);
        assert_eq!(first.p99_ms.get(END_TO_END), Some(&30.0));
        let second = &seconds[1];
        assert!(!second.warmup && second.completed == 1 && second.failed == 1);
        assert_eq!(second.p50_ms.get("transfer"), Some(&20.0));
        // Only the failed payment started after the warm-up.
        assert_eq!(result.measured.counts.sent, 1);
        assert_eq!(result.measured.counts.failed, 1);
        assert_eq!(result.committed, 2);
    }

    #[test]
    fn windows_are_the_first_and_last_of_the_measured_part() {
        assert_eq!(windows(70, 10, 30).len(), 2);
        assert!(windows(69, 10, 30).is_empty());
        assert!(windows(700, 10, 0).is_empty());
        let both = windows(3_610, 10, 600);
        assert_eq!(
            both,
            vec![
                Window {
                    name: "first",
                    from_s: 10,
                    to_s: 610
                },
                Window {
                    name: "last",
                    from_s: 3_010,
                    to_s: 3_610
                }
            ]
        );
        let mut tally = Tally::new(&steps(5.0, 7), 1, 2, None);
        for started_s in 0..7 {
            let at = started_s as f64 * 1000.0;
            tally.add(&ok(at + 10.0, at + 500.0 + started_s as f64));
        }
        tally.add_dropped(6_500.0);
        let result = tally.finish(0);
        let [(first, early), (last, late)] = result.windows.as_slice() else {
            panic!("two windows: {:?}", result.windows);
        };
        assert_eq!(
            (first.from_s, first.to_s, last.from_s, last.to_s),
            (1, 3, 5, 7)
        );
        assert_eq!(early.counts.sent, 2);
        assert_eq!((late.counts.sent, late.counts.dropped), (2, 1));
        assert_eq!(late.errors_by_code.get("dropped"), Some(&1));
        assert_eq!(result.measured.counts.sent, 6);
    }

    #[test]
    fn switch_readings_give_memory_and_cpu_share() {
        let mut tally = Tally::new(&steps(1.0, 4), 0, 0, None);
        tally.add_switch_reading(0, 40 * 1024 * 1024, 10.0);
        tally.add_switch_reading(2, 48 * 1024 * 1024, 11.0);
        tally.add_switch_reading(9, 1, 99.0);
        let rows = tally.finish(0).timeline;
        assert_eq!(rows[0].switch_rss_mb, Some(40.0));
        assert_eq!(rows[0].switch_cpu_percent, None);
        assert_eq!(rows[2].switch_rss_mb, Some(48.0));
        assert_eq!(rows[2].switch_cpu_percent, Some(50.0));
        assert_eq!(rows[1].switch_rss_mb, None);
    }
}
