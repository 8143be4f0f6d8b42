//! # qmgr: the Postern queue manager
//!
//! Moves mail from `incoming/` to delivery and keeps it safe until every recipient is
//! done. It scans `incoming/` when nudged (smtpd nudges after each message), at start
//! and every `queue_run_delay`; takes each message into `active/`; routes each
//! pending recipient (our domains and aliases to `local`, others to `smtp`, one
//! request per destination domain or relayhost); asks the
//! delivery agent over `private/local` (or `private/smtp`); and records each
//! recipient's result in the queue file as it arrives. Then:
//!
//! - all done: the file is removed (`removed`);
//! - some temporarily failed: the file goes to `deferred/` with its next attempt time
//!   as its mtime, backing off between `minimal_backoff_time` and
//!   `maximal_backoff_time` (doubling with the message's age, as Postfix does);
//! - some permanently failed, or the message outlived `maximal_queue_lifetime`
//!   (`bounce_queue_lifetime` for bounces): the sender gets a delivery status
//!   notification (RFC 3464) as a new message, unless the sender is empty; an
//!   undeliverable bounce goes to `bounce_notice_recipient` from
//!   `double_bounce_sender`, and an undeliverable double bounce is dropped.
//!
//! `hold/` is never touched by the scheduler. A flush makes every deferred message
//! due now, or those named, or those with a recipient in a domain.
//!
//! # Queue operations
//! `postern queue delete|hold|release|requeue` ask qmgr over `private/qmgr` while it
//! runs ([`manage`]): a message nobody works on is changed at once; for one being
//! delivered the operation is recorded and applied when the delivery ends (a
//! deleted message's failed recipients get no notice). Each is logged as Postfix's
//! postsuper does: `ID: removed`, `ID: placed on hold`, `ID: released from hold`,
//! `ID: requeued`.
//!
//! # Crash safety
//! A message is in exactly one queue directory at a time. A result is recorded (an
//! fdatasync'ed record in the queue file) before the next one is asked for, and the
//! file is removed only when no recipient is pending. After a crash, qmgr moves
//! whatever is in `active/` back to `incoming/` at start, so at most the deliveries
//! in flight are repeated, and removes unfinished `incoming/.ID.tmp` files over an
//! hour old (an smtpd that died mid-message never answered 250 for them), at start
//! and at every timed queue run, so they do not pile up while qmgr runs. On
//! SIGTERM it starts nothing new and lets running
//! deliveries finish within `daemon_shutdown_timeout`.
//!
//! # Security
//! Not very sensitive: it reads queue files written by mail_owner's daemons and talks
//! only to them over `private/`. Queue IDs from file names are validated before use.
//!
//! # Configuration
//! `queue_run_delay`, `minimal_backoff_time`, `maximal_backoff_time`,
//! `maximal_queue_lifetime`, `bounce_queue_lifetime`, `hopcount_limit`,
//! `default_process_limit` (deliveries at once), `default_destination_concurrency_limit`
//! (local deliveries at once), `smtp_destination_concurrency_limit` (deliveries at
//! once per next hop), `transport_maps` and `relayhost` (through accounts: the next
//! hop of remote mail), `bounce_size_limit`,
//! `double_bounce_sender`, `bounce_notice_recipient`, `myhostname`, and what
//! `accounts` reads for routing.

mod agents;
mod bounce;
mod manage;
mod message;
mod route;
mod scheduler;

use std::sync::Arc;
use std::time::Duration;

use ipc::qmgr::{Qmgr as Channel, Reply, Request};
use service::{CancellationToken, Conn, Context, Service};
use tracing::warn;

use crate::scheduler::Scheduler;

/// How long a nudging client may take.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

struct Qmgr {
    scheduler: Arc<Scheduler>,
}

impl Service for Qmgr {
    const NAME: &'static str = "qmgr";
    type Prepared = ();

    fn prepare(_ctx: &Context) -> anyhow::Result<()> {
        Ok(())
    }

    async fn start(ctx: &Context, (): ()) -> anyhow::Result<Self> {
        let scheduler = Scheduler::new(&ctx.params)?;
        Ok(Qmgr {
            scheduler: Arc::new(scheduler),
        })
    }

    async fn serve(
        self: Arc<Self>,
        conn: Conn,
        _shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let service::Stream::Unix(stream) = conn.stream else {
            anyhow::bail!("qmgr serves only its Unix socket");
        };
        let mut conn = ipc::Connection::<Channel, _>::accept(stream, CLIENT_TIMEOUT).await?;
        while let Some(request) = conn.recv_request().await? {
            let reply = match request {
                Request::Nudge => {
                    self.scheduler.nudge();
                    Reply::Ok
                }
                Request::Flush => {
                    self.scheduler.flush();
                    Reply::Ok
                }
                Request::FlushSome(selection) => {
                    manage::flush_some(&self.scheduler, selection).await
                }
                Request::Manage { operation, target } => {
                    manage::manage(&self.scheduler, operation, target).await
                }
            };
            conn.send_reply(&reply).await?;
        }
        Ok(())
    }

    async fn background(self: Arc<Self>, shutdown: CancellationToken) {
        if let Err(e) = self.scheduler.clone().run(shutdown).await {
            warn!("scheduler stopped: {e:#}");
        }
    }
}

fn main() -> std::process::ExitCode {
    service::run::<Qmgr>()
}
