//! Request deadlines: how long a client may take over one request.
//!
//! A timeout on each read lets a client that sends one byte just before every timeout
//! hold a session (and its memory and descriptor) for as long as it likes. A
//! [`Deadline`] covers a whole request instead, as Postfix's
//! `smtpd_per_request_deadline` does: it is `timeout` from when the server starts
//! waiting for the request. Bulk data (message content, literals) may take longer than
//! `timeout` when it keeps coming at a minimum rate: each read of N bytes moves the
//! deadline N / `min_rate` seconds later (Postfix's `smtpd_min_data_rate`), but never
//! more than `timeout` after that read, so a quiet client is still cut off after
//! `timeout` as before.

use std::time::Duration;

use tokio::time::Instant;

/// The time a client has to finish its current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    /// When the request must be complete.
    at: Instant,
    /// The time allowed for a request, and the most a read can leave.
    timeout: Duration,
    /// Bytes per second that earn more time; 0: every read restarts `timeout`.
    min_rate: u64,
}

impl Deadline {
    /// A deadline `timeout` from now, extended by data arriving at `min_rate` bytes
    /// per second or faster (0: each read restarts `timeout`, a per-read timeout).
    #[must_use]
    pub fn new(timeout: Duration, min_rate: u64) -> Deadline {
        Deadline::new_at(Instant::now(), timeout, min_rate)
    }

    /// [`Deadline::new`] with the clock given (tests).
    #[must_use]
    pub fn new_at(now: Instant, timeout: Duration, min_rate: u64) -> Deadline {
        Deadline {
            at: now + timeout,
            timeout,
            min_rate,
        }
    }

    /// When the request must be complete; pass it to `tokio::time::timeout_at`.
    #[must_use]
    pub fn at(&self) -> Instant {
        self.at
    }

    /// Starts over for a new request: `timeout` from now.
    pub fn restart(&mut self) {
        self.at = Instant::now() + self.timeout;
    }

    /// Counts `bytes` of data just read (see the module documentation).
    pub fn credit(&mut self, bytes: usize) {
        self.credit_at(Instant::now(), bytes);
    }

    /// [`Deadline::credit`] with the clock given (tests).
    pub fn credit_at(&mut self, now: Instant, bytes: usize) {
        let latest = now + self.timeout;
        if self.min_rate == 0 {
            self.at = latest;
            return;
        }
        let micros = u64::try_from(bytes)
            .unwrap_or(u64::MAX)
            .saturating_mul(1_000_000)
            / self.min_rate;
        let earned = self
            .at
            .checked_add(Duration::from_micros(micros))
            .unwrap_or(latest);
        self.at = earned.min(latest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(10);

    fn secs(deadline: &Deadline, start: Instant) -> f64 {
        deadline.at().duration_since(start).as_secs_f64()
    }

    #[test]
    fn deadlines() {
        let start = Instant::now();
        let s = |n: u64| start + Duration::from_secs(n);
        type Case = (&'static str, u64, &'static [(u64, usize)], f64);
        let cases: &[Case] = &[
            ("nothing read", 500, &[], 10.0),
            // One byte a second earns 2 ms a byte: the request ends at about 10 s.
            (
                "one byte a second",
                500,
                &[(1, 1), (2, 1), (3, 1), (4, 1), (5, 1)],
                10.01,
            ),
            // 1000 bytes at 500 bytes/s earn 2 s each time.
            ("fast data", 500, &[(5, 1000), (9, 1000)], 14.0),
            // Earned time never reaches past timeout after the read.
            ("capped", 500, &[(1, 1_000_000)], 11.0),
            ("rate 0 restarts", 0, &[(3, 1), (7, 1)], 17.0),
            ("huge read", 1, &[(1, usize::MAX)], 11.0),
        ];
        for (name, rate, reads, want) in cases {
            let mut deadline = Deadline::new_at(start, TIMEOUT, *rate);
            for (at, bytes) in *reads {
                deadline.credit_at(s(*at), *bytes);
            }
            let got = secs(&deadline, start);
            assert!((got - want).abs() < 1e-6, "case {name}: {got} != {want}");
        }
    }
}
