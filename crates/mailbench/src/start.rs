//! start - a starting line: connections get ready (log in, select), then the clock
//! starts for all of them at once.
//!
//! Logging in can cost far more than the workload (a memory-hard password hash takes
//! tens of milliseconds and tens of MiB), so the POP3 and IMAP workloads keep it out of
//! the measured time: each connection takes a [`Ticket`], calls [`Ticket::ready`] when
//! set up, and waits there. The run waits for [`StartLine::settled`] (every ticket is
//! ready or was dropped, which a failed connection does), starts the clock, and calls
//! [`StartLine::release`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Notify, watch};

/// Where the connections of a run wait for each other.
pub struct StartLine {
    total: u64,
    /// Tickets ready or dropped.
    settled: AtomicU64,
    /// Tickets ready (shared with a progress line).
    ready: Arc<AtomicU64>,
    /// Signalled when the last ticket settles.
    all: Notify,
    go: watch::Sender<bool>,
}

impl StartLine {
    /// A line for `total` tickets.
    pub fn new(total: u64) -> Arc<StartLine> {
        Arc::new(StartLine {
            total,
            settled: AtomicU64::new(0),
            ready: Arc::new(AtomicU64::new(0)),
            all: Notify::new(),
            go: watch::Sender::new(false),
        })
    }

    /// A ticket for one connection; take them all before awaiting [`Self::settled`].
    pub fn ticket(self: &Arc<Self>) -> Ticket {
        Ticket {
            line: Arc::clone(self),
            go: self.go.subscribe(),
            settled: false,
        }
    }

    /// Waits until every ticket is ready or dropped.
    pub async fn settled(&self) {
        while self.settled.load(Ordering::Acquire) < self.total {
            self.all.notified().await;
        }
    }

    /// Lets every waiting connection go.
    pub fn release(&self) {
        self.go.send_replace(true);
    }

    /// How many connections got ready.
    pub fn ready(&self) -> u64 {
        self.ready.load(Ordering::Acquire)
    }

    /// Connections ready so far, as a counter for a progress line.
    pub fn ready_counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.ready)
    }
}

/// One connection's place on the line.
pub struct Ticket {
    line: Arc<StartLine>,
    go: watch::Receiver<bool>,
    settled: bool,
}

impl Ticket {
    /// Reports this connection ready and waits for the release.
    ///
    /// # Errors
    ///
    /// Only if the line itself is gone, which means the run is over.
    pub async fn ready(&mut self) -> anyhow::Result<()> {
        self.settle(true);
        self.go.wait_for(|go| *go).await?;
        Ok(())
    }

    fn settle(&mut self, ready: bool) {
        if self.settled {
            return;
        }
        self.settled = true;
        if ready {
            self.line.ready.fetch_add(1, Ordering::AcqRel);
        }
        if self.line.settled.fetch_add(1, Ordering::AcqRel) + 1 >= self.line.total {
            self.line.all.notify_one();
        }
    }
}

/// A connection that fails before it is ready must not hold the others back.
impl Drop for Ticket {
    fn drop(&mut self) {
        self.settle(false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn releases_after_everyone_settles() {
        let line = StartLine::new(3);
        let mut tickets: Vec<Ticket> = (0..3).map(|_| line.ticket()).collect();
        let failed = tickets.pop().unwrap();
        let waiting: Vec<_> = tickets
            .into_iter()
            .map(|mut ticket| tokio::spawn(async move { ticket.ready().await }))
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            tokio::time::timeout(Duration::from_millis(20), line.settled())
                .await
                .is_err(),
            "one ticket is still out"
        );
        drop(failed);
        tokio::time::timeout(Duration::from_secs(5), line.settled())
            .await
            .unwrap();
        assert_eq!(line.ready(), 2);
        line.release();
        for task in waiting {
            task.await.unwrap().unwrap();
        }
    }
}
