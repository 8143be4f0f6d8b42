//! Telling qmgr about new mail.
//!
//! Every queued message asks for a nudge; one task sends them over one
//! connection kept open while mail keeps coming (closed after [`IDLE`]
//! without any, before qmgr's own idle timeout). Nudges asked for while
//! one is on its way are sent as one afterwards: qmgr scans `incoming/`
//! once for all of them. A lost nudge only delays delivery until qmgr's
//! next timed scan.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ipc::qmgr::{Qmgr, Request};
use service::CancellationToken;
use tokio::net::UnixStream;
use tokio::sync::Notify;
use tracing::debug;

/// How long a connection to qmgr is kept without a nudge to send.
const IDLE: Duration = Duration::from_secs(5);
/// How long qmgr may take to take a nudge.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Nudger - the nudges asked for, and where to send them.
pub struct Nudger {
    wanted: Notify,
    socket: PathBuf,
}

impl Nudger {
    /// new - a nudger for the qmgr of the queue at `queue_directory`.
    pub fn new(queue_directory: &Path) -> Nudger {
        Nudger {
            wanted: Notify::new(),
            socket: queue_directory.join(ipc::names::QMGR_SOCKET),
        }
    }

    /// nudge - ask for a nudge; returns at once.
    pub fn nudge(&self) {
        self.wanted.notify_one();
    }

    /// run - send the nudges asked for until `shutdown`.
    pub async fn run(&self, shutdown: CancellationToken) {
        let mut conn = None;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = self.wanted.notified() => {}
                () = tokio::time::sleep(IDLE), if conn.is_some() => {
                    conn = None;
                    continue;
                }
            }
            if let Err(e) = self.send(&mut conn).await {
                debug!("nudge qmgr: {e}");
            }
        }
    }

    /// send - one nudge, on the kept connection or, should that fail (qmgr
    /// restarted), on a new one that is kept instead.
    async fn send(&self, conn: &mut Option<ipc::Connection<Qmgr, UnixStream>>) -> ipc::Result<()> {
        if let Some(kept) = conn.as_mut()
            && kept.call(&Request::Nudge).await.is_ok()
        {
            return Ok(());
        }
        *conn = None;
        let mut fresh = ipc::connect_unix::<Qmgr>(&self.socket, TIMEOUT).await?;
        fresh.call(&Request::Nudge).await?;
        *conn = Some(fresh);
        Ok(())
    }
}
