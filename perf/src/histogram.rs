//! Latency histograms: what the harness keeps instead of every sample, so its memory does not
//! grow with the payments of a run (an hour at 1000/s is 3.6 million payments).
//!
//! Buckets are logarithmic, each 1 % wider than the one before, from 10 µs up (2 300 buckets
//! reach a day); only the buckets used are stored. A quantile is the geometric middle of the
//! bucket holding its rank, so it is within 0.5 % of the exact value, and it is clamped to the
//! smallest and largest values seen (which the first and last ranks are): one value, or values
//! all equal, come back exact. Count, mean, minimum and maximum are exact.

use std::collections::BTreeMap;

use crate::report::PhaseSummary;

/// The lower bound of the first bucket, in milliseconds.
const FLOOR_MS: f64 = 0.01;
/// Each bucket's upper bound over its lower bound.
const GROWTH: f64 = 1.01;
/// Buckets in all: `FLOOR_MS * GROWTH^BUCKETS` is beyond a day; longer values go in the last.
const BUCKETS: u16 = 2_300;

/// Counts of values (milliseconds) by bucket, and their exact count, sum, minimum and maximum.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Histogram {
    buckets: BTreeMap<u16, u64>,
    count: u64,
    sum_ms: f64,
    min_ms: f64,
    max_ms: f64,
}

fn bucket_of(ms: f64) -> u16 {
    if ms.is_nan() || ms <= FLOOR_MS {
        return 0;
    }
    let index = ((ms / FLOOR_MS).ln() / GROWTH.ln()).floor();
    if index >= f64::from(BUCKETS - 1) {
        BUCKETS - 1
    } else {
        index as u16
    }
}

/// The geometric middle of a bucket.
fn middle_of(bucket: u16) -> f64 {
    FLOOR_MS * GROWTH.powf(f64::from(bucket) + 0.5)
}

impl Histogram {
    pub fn record(&mut self, ms: f64) {
        let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
        *self.buckets.entry(bucket_of(ms)).or_default() += 1;
        if self.count == 0 {
            self.min_ms = ms;
            self.max_ms = ms;
        } else {
            self.min_ms = self.min_ms.min(ms);
            self.max_ms = self.max_ms.max(ms);
        }
        self.count += 1;
        self.sum_ms += ms;
    }

    /// Adds every value of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        for (bucket, count) in &other.buckets {
            *self.buckets.entry(*bucket).or_default() += count;
        }
        if self.count == 0 {
            self.min_ms = other.min_ms;
            self.max_ms = other.max_ms;
        } else {
            self.min_ms = self.min_ms.min(other.min_ms);
            self.max_ms = self.max_ms.max(other.max_ms);
        }
        self.count += other.count;
        self.sum_ms += other.sum_ms;
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The `q` quantile by nearest rank; 0 for no values.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        // The extremes are known exactly.
        if rank == 1 {
            return self.min_ms;
        }
        if rank == self.count {
            return self.max_ms;
        }
        let mut seen = 0;
        for (bucket, count) in &self.buckets {
            seen += count;
            if seen >= rank {
                return middle_of(*bucket).clamp(self.min_ms, self.max_ms);
            }
        }
        self.max_ms
    }

    pub fn summary(&self) -> PhaseSummary {
        if self.count == 0 {
            return PhaseSummary::default();
        }
        PhaseSummary {
            count: self.count,
            mean_ms: self.sum_ms / self.count as f64,
            p50_ms: self.quantile(0.50),
            p95_ms: self.quantile(0.95),
            p99_ms: self.quantile(0.99),
            max_ms: self.max_ms,
        }
    }

    /// Buckets in use (what the histogram holds in memory grows with these, not with values).
    pub fn buckets_used(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(values: &mut [f64], q: f64) -> f64 {
        values.sort_by(f64::total_cmp);
        let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
        values[rank - 1]
    }

    #[test]
    fn quantiles_within_half_a_percent_of_the_exact_ones() {
        let mut histogram = Histogram::default();
        let mut values = Vec::new();
        let mut x: u64 = 7;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // 0.05 ms to about 50 s, spread over orders of magnitude.
            let ms = 0.05 * 10f64.powf((x % 1_000_000) as f64 / 166_666.0);
            histogram.record(ms);
            values.push(ms);
        }
        for q in [0.5, 0.9, 0.95, 0.99, 0.999] {
            let want = exact(&mut values, q);
            let got = histogram.quantile(q);
            assert!(
                (got - want).abs() <= want * 0.005 + 1e-9,
                "q {q}: {got} against {want}"
            );
        }
        let summary = histogram.summary();
        assert_eq!(summary.count, 100_000);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!((summary.mean_ms - mean).abs() < 1e-6 * mean);
        assert_eq!(summary.max_ms, values.iter().copied().fold(0.0, f64::max));
        assert!(histogram.buckets_used() <= usize::from(BUCKETS));
    }

    #[test]
    fn equal_values_come_back_exact_and_extremes_are_kept() {
        let mut histogram = Histogram::default();
        assert_eq!(histogram.quantile(0.99), 0.0);
        assert_eq!(histogram.summary(), PhaseSummary::default());
        for _ in 0..3 {
            histogram.record(50.0);
        }
        assert_eq!(histogram.quantile(0.99), 50.0);
        histogram.record(0.0);
        histogram.record(-1.0);
        histogram.record(f64::NAN);
        histogram.record(1e12);
        assert_eq!(histogram.count(), 7);
        assert_eq!(histogram.quantile(0.0), 0.0);
        assert_eq!(histogram.summary().max_ms, 1e12);
        assert_eq!(histogram.quantile(1.0), 1e12);
    }

    #[test]
    fn merged_histograms_are_one_histogram_of_both() {
        let (mut a, mut b, mut both) = (
            Histogram::default(),
            Histogram::default(),
            Histogram::default(),
        );
        for i in 1..=1000 {
            let ms = f64::from(i) * 0.5;
            if i % 3 == 0 {
                a.record(ms);
            } else {
                b.record(ms);
            }
            both.record(ms);
        }
        a.merge(&b);
        a.merge(&Histogram::default());
        assert_eq!(a, both);
    }
}
