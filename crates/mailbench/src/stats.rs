//! stats - per-operation latencies and their percentiles.
//!
//! A run records one duration per operation (a message, a RETR, an IMAP command).
//! Durations are kept as microseconds in a `Vec<u32>` (4 bytes each: a million
//! operations cost 4 MB), merged across sessions at the end and sorted once. A `u32`
//! holds 71 minutes; longer durations saturate.

use std::time::Duration;

/// The latencies of completed operations, in microseconds, in recording order.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    /// One entry per operation; sorted only by [`Latencies::summary`].
    micros: Vec<u32>,
}

impl Latencies {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one operation that took `elapsed`.
    pub fn record(&mut self, elapsed: Duration) {
        self.micros
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
    }

    /// Moves every entry of `other` into this recorder, leaving `other` empty (its
    /// allocation is kept, so a session can reuse it).
    pub fn append(&mut self, other: &mut Latencies) {
        self.micros.append(&mut other.micros);
    }

    /// How many operations were recorded.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.micros.len()
    }

    /// Whether nothing was recorded.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.micros.is_empty()
    }

    /// Sorts the entries and computes the percentiles.
    pub fn summary(mut self) -> Summary {
        self.micros.sort_unstable();
        let sorted = &self.micros;
        Summary {
            p50: percentile(sorted, 50).map(micros_to_ms),
            p99: percentile(sorted, 99).map(micros_to_ms),
            max: sorted.last().copied().map(micros_to_ms),
        }
    }
}

/// Percentiles of a run, in milliseconds; `None` when no operation completed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The median.
    pub p50: Option<f64>,
    /// The 99th percentile.
    pub p99: Option<f64>,
    /// The slowest operation.
    pub max: Option<f64>,
}

/// The nearest-rank percentile of `sorted` (ascending): the smallest value with at
/// least `percent` % of the entries at or below it.
fn percentile(sorted: &[u32], percent: usize) -> Option<u32> {
    let rank = sorted.len().saturating_mul(percent).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

fn micros_to_ms(micros: u32) -> f64 {
    f64::from(micros) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(micros: &[u64]) -> Latencies {
        let mut latencies = Latencies::new();
        for &us in micros {
            latencies.record(Duration::from_micros(us));
        }
        latencies
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        type Case = (
            &'static str,
            Vec<u64>,
            Option<f64>,
            Option<f64>,
            Option<f64>,
        );
        let cases: [Case; 6] = [
            ("empty", vec![], None, None, None),
            ("one", vec![1500], Some(1.5), Some(1.5), Some(1.5)),
            (
                "one to hundred ms",
                (1..=100).map(|ms| ms * 1000).collect(),
                Some(50.0),
                Some(99.0),
                Some(100.0),
            ),
            (
                "unsorted input",
                vec![9000, 1000, 5000, 3000, 7000],
                Some(5.0),
                Some(9.0),
                Some(9.0),
            ),
            ("two", vec![1000, 2000], Some(1.0), Some(2.0), Some(2.0)),
            (
                "thousand with one outlier",
                std::iter::repeat_n(1000, 999).chain([1_000_000]).collect(),
                Some(1.0),
                Some(1.0),
                Some(1000.0),
            ),
        ];
        for (name, input, p50, p99, max) in cases {
            let summary = recorded(&input).summary();
            assert_eq!(summary.p50, p50, "{name}: p50");
            assert_eq!(summary.p99, p99, "{name}: p99");
            assert_eq!(summary.max, max, "{name}: max");
        }
    }

    #[test]
    fn long_durations_saturate() {
        let mut latencies = Latencies::new();
        latencies.record(Duration::from_secs(10 * 3600));
        assert_eq!(latencies.summary().max, Some(f64::from(u32::MAX) / 1000.0));
    }

    #[test]
    fn append_moves_entries() {
        let mut all = recorded(&[1000]);
        let mut session = recorded(&[2000, 3000]);
        all.append(&mut session);
        assert_eq!(all.len(), 3);
        assert!(session.is_empty());
        assert_eq!(all.summary().max, Some(3.0));
    }
}
