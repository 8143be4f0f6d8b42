//! report - the result of a run, as aligned text or one line of JSON, and the error
//! budget shared by a run's sessions.

use std::fmt::{Display, Write as _};
use std::io::IsTerminal as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::procstat::TreeUsage;
use crate::stats::Latencies;

/// After this many errors the sessions stop.
pub const MAX_ERRORS: u64 = 100;

/// How many error messages are printed; the rest are only counted.
const PRINTED_ERRORS: u64 = 10;

/// The result of one run. Its serde form is the `--json` line; the field names are an
/// interface (comparison scripts read them), so only add fields.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `smtp`, `sink`, `pop3`, or `imap-` plus the IMAP workload.
    pub workload: String,
    /// Completed operations: messages (smtp, sink), RETRs (pop3), commands (imap).
    pub operations: u64,
    /// Wall-clock time of the run.
    pub seconds: f64,
    /// Operations per second.
    pub rate: f64,
    /// Median latency per operation, in milliseconds.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, in milliseconds.
    pub p99_ms: Option<f64>,
    /// Slowest operation, in milliseconds.
    pub max_ms: Option<f64>,
    /// Message bytes moved: sent (smtp), received (sink, pop3), or all bytes the
    /// server sent (imap).
    pub bytes: u64,
    /// CPU seconds of the `--tree` processes during the run.
    pub cpu_seconds: Option<f64>,
    /// Peak of the summed VmRSS of the `--tree` processes, in MiB.
    pub peak_rss_mib: Option<f64>,
    /// IMAP idle only: (peak RSS - RSS before connecting) / connections, in KiB.
    pub per_connection_kib: Option<f64>,
    /// Protocol and connection errors.
    pub errors: u64,
    /// Extra lines for the human output only (e.g. the delivery wait).
    #[serde(skip)]
    pub notes: Vec<(String, String)>,
}

impl Report {
    /// A report for `operations` done in `elapsed`, with the tree usage if measured.
    pub fn new(
        workload: impl Into<String>,
        operations: u64,
        elapsed: Duration,
        latencies: Latencies,
        bytes: u64,
        usage: Option<TreeUsage>,
        errors: u64,
    ) -> Self {
        let seconds = elapsed.as_secs_f64();
        let summary = latencies.summary();
        let rate = if seconds > 0.0 {
            operations as f64 / seconds
        } else {
            0.0
        };
        Self {
            workload: workload.into(),
            operations,
            seconds: round(seconds, 6),
            rate: round(rate, 2),
            p50_ms: summary.p50.map(|v| round(v, 3)),
            p99_ms: summary.p99.map(|v| round(v, 3)),
            max_ms: summary.max.map(|v| round(v, 3)),
            bytes,
            cpu_seconds: usage.map(|u| round(u.cpu_seconds, 2)),
            peak_rss_mib: usage.map(|u| round(u.peak_rss as f64 / 1_048_576.0, 1)),
            per_connection_kib: None,
            errors,
            notes: Vec::new(),
        }
    }

    /// The `--json` form: one line, no trailing newline.
    pub fn to_json(&self) -> String {
        // Serializing plain numbers and strings cannot fail; keep a valid line anyway.
        serde_json::to_string(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }

    /// The human form: one aligned `name  value` line per measure.
    pub fn to_text(&self) -> String {
        let mut lines: Vec<(String, String)> = vec![
            ("workload".into(), self.workload.clone()),
            ("operations".into(), self.operations.to_string()),
            ("seconds".into(), format!("{:.3}", self.seconds)),
            ("rate".into(), format!("{:.1} /s", self.rate)),
        ];
        if let (Some(p50), Some(p99), Some(max)) = (self.p50_ms, self.p99_ms, self.max_ms) {
            lines.push((
                "latency".into(),
                format!("p50 {p50:.3} ms   p99 {p99:.3} ms   max {max:.3} ms"),
            ));
        }
        lines.push((
            "bytes".into(),
            format!(
                "{} ({:.1} MiB)",
                self.bytes,
                self.bytes as f64 / 1_048_576.0
            ),
        ));
        if let Some(cpu) = self.cpu_seconds {
            lines.push(("server cpu".into(), format!("{cpu:.2} s")));
        }
        if let Some(rss) = self.peak_rss_mib {
            lines.push(("peak rss".into(), format!("{rss:.1} MiB")));
        }
        if let Some(kib) = self.per_connection_kib {
            lines.push(("per connection".into(), format!("{kib:.1} KiB")));
        }
        lines.extend(self.notes.iter().cloned());
        lines.push(("errors".into(), self.errors.to_string()));
        let width = lines.iter().map(|(name, _)| name.len()).max().unwrap_or(0) + 2;
        let mut out = String::new();
        for (name, value) in lines {
            let _ = writeln!(out, "{name:<width$}{value}");
        }
        out
    }
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// The error count of a run, shared by its sessions.
#[derive(Debug, Default)]
pub struct Errors {
    count: AtomicU64,
}

impl Errors {
    /// Counts one error and prints it (the first few only), prefixed with `context`.
    pub fn record(&self, what: impl Display) {
        let n = self.count.fetch_add(1, Ordering::Relaxed) + 1;
        // Clear a progress line first, so the message is readable.
        let clear = if std::io::stderr().is_terminal() {
            "\r\x1b[K"
        } else {
            ""
        };
        if n <= PRINTED_ERRORS {
            eprintln!("{clear}postern-bench: error: {what}");
        } else if n == PRINTED_ERRORS + 1 {
            eprintln!("{clear}postern-bench: more errors; counting them without printing");
        }
    }

    /// How many errors so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether the budget of [`MAX_ERRORS`] is used up and sessions should stop.
    pub fn exhausted(&self) -> bool {
        self.count() >= MAX_ERRORS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_every_field() {
        let mut latencies = Latencies::new();
        latencies.record(Duration::from_millis(2));
        let report = Report::new("smtp", 10, Duration::from_secs(2), latencies, 2048, None, 0);
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let object = json.as_object().unwrap();
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "bytes",
                "cpu_seconds",
                "errors",
                "max_ms",
                "operations",
                "p50_ms",
                "p99_ms",
                "peak_rss_mib",
                "per_connection_kib",
                "rate",
                "seconds",
                "workload"
            ]
        );
        assert_eq!(json["rate"], 5.0);
        assert_eq!(json["p50_ms"], 2.0);
        assert!(json["cpu_seconds"].is_null());
        assert!(!report.to_json().contains('\n'));
    }

    #[test]
    fn text_is_aligned() {
        let report = Report::new(
            "pop3",
            3,
            Duration::from_secs(1),
            Latencies::new(),
            0,
            None,
            1,
        );
        let text = report.to_text();
        assert!(text.contains("workload    pop3\n"), "{text}");
        assert!(text.contains("errors      1\n"), "{text}");
        assert!(!text.contains("latency"), "{text}");
    }

    #[test]
    fn error_budget() {
        let errors = Errors::default();
        for _ in 0..MAX_ERRORS - 1 {
            errors.record("x");
        }
        assert!(!errors.exhausted());
        errors.record("x");
        assert!(errors.exhausted());
        assert_eq!(errors.count(), MAX_ERRORS);
    }
}
