//! progress - a one-line progress display on stderr.
//!
//! Shown only when stderr is a terminal, so logs and `--json` pipelines stay clean. A
//! task redraws the line (`\r`, then the text, then "erase to end of line") five times
//! a second from a counter the sessions increment; [`Progress::finish`] erases it.

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

/// How often the line is redrawn.
const REDRAW: Duration = Duration::from_millis(200);

/// A running progress display; dropping it without [`Progress::finish`] leaves the
/// last line on the terminal.
pub struct Progress {
    task: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts drawing `label: done/total unit, rate/s` from `done`.
    pub fn start(
        label: &'static str,
        unit: &'static str,
        total: Option<u64>,
        done: Arc<AtomicU64>,
    ) -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress { task: None };
        }
        let started = Instant::now();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(REDRAW);
            loop {
                tick.tick().await;
                let line = render(
                    label,
                    unit,
                    done.load(Ordering::Relaxed),
                    total,
                    started.elapsed(),
                );
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r{line}\x1b[K");
                let _ = err.flush();
            }
        });
        Progress { task: Some(task) }
    }

    /// Stops drawing and erases the line.
    pub fn finish(self) {
        if let Some(task) = self.task {
            task.abort();
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
        }
    }
}

/// The text of the progress line.
fn render(label: &str, unit: &str, done: u64, total: Option<u64>, elapsed: Duration) -> String {
    let seconds = elapsed.as_secs_f64();
    let rate = if seconds > 0.0 {
        done as f64 / seconds
    } else {
        0.0
    };
    match total {
        Some(total) => format!("{label}: {done}/{total} {unit}, {rate:.0}/s, {seconds:.1} s"),
        None => format!("{label}: {done} {unit}, {rate:.0}/s, {seconds:.1} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            render("smtp", "messages", 500, Some(1000), Duration::from_secs(2)),
            "smtp: 500/1000 messages, 250/s, 2.0 s"
        );
        assert_eq!(
            render("sink", "messages", 0, None, Duration::ZERO),
            "sink: 0 messages, 0/s, 0.0 s"
        );
    }
}
