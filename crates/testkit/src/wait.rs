//! Waiting by polling with a deadline, never by sleeping a fixed time.

use std::time::{Duration, Instant};

/// How often conditions are polled.
const POLL: Duration = Duration::from_millis(20);

/// Polls `check` until it returns `Some`, or fails after `timeout` naming `what` was
/// awaited.
pub fn wait_until<T>(
    timeout: Duration,
    what: &str,
    mut check: impl FnMut() -> Option<T>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            anyhow::bail!("timed out after {:?} waiting for {what}", timeout);
        }
        std::thread::sleep(POLL);
    }
}
