//! # pickup: the Postern local submission daemon
//!
//! `sendmail` (any local user, any program) hands it messages over
//! `public/pickup`; while the daemons are down, `sendmail` leaves them in
//! `maildrop/` instead and pickup takes them when it starts (and every few
//! seconds after). For each message it:
//!
//! - finds out who submitted it from the kernel: `SO_PEERCRED` on the socket,
//!   the file's owner in `maildrop/`; nothing the message or the request says;
//! - checks `authorized_submit_users` and, for `sendmail -f`,
//!   `local_login_sender_maps` (a refusal goes back to `sendmail`, which
//!   exits with `EX_NOPERM`);
//! - completes the header as a submission server would: `Received: by HOST
//!   (Postern, from userid N)` always, `From:` (the sender, with `-F` or the
//!   user's full name), `Date:` and `Message-ID:` when missing, and removes
//!   `Bcc:`; unqualified addresses get `@$myorigin`; `-t` takes recipients
//!   from `To:`, `Cc:` and `Bcc:`;
//! - writes the queue file into `incoming/` (fsynced before `sendmail` hears
//!   "queued") and nudges qmgr.
//!
//! It also passes `sendmail -q` on to qmgr for users in
//! `authorized_flush_users`, and lists the queue for users in
//! `authorized_mailq_users` (the queue directories are mail_owner's alone).
//!
//! # Security
//! The socket is open to every local user, so every request is hostile:
//! frames are bounded, a message larger than `message_size_limit` is
//! refused, and identity comes only from the kernel. A maildrop file must be
//! a regular file with one link, is opened without following symbolic links,
//! and is read as the format it claims or discarded. Runs as mail_owner.
//!
//! # Configuration
//! `authorized_submit_users`, `authorized_flush_users`, `authorized_mailq_users`,
//! `local_login_sender_maps`, `myorigin`, `myhostname`, `message_size_limit`.

mod maildrop;
mod submit;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use accounts::SubmitPolicy;
use ipc::pickup::{Pickup as Channel, Reply, Request};
use service::{CancellationToken, Conn, Context, Service, exit};
use spool::Spool;
use tracing::warn;

use crate::submit::{Refusal, Submitter};

/// How long a client may take between requests.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(300);

/// The queues `mailq` shows.
const LISTED_QUEUES: [spool::Queue; 4] = [
    spool::Queue::Incoming,
    spool::Queue::Active,
    spool::Queue::Deferred,
    spool::Queue::Hold,
];

/// How often `maildrop/` is looked at.
const MAILDROP_SCAN: Duration = Duration::from_secs(5);

struct PickupDaemon {
    spool: Spool,
    params: config::Params,
    /// The last policy read (kept when the sender map becomes unreadable).
    policy: Mutex<Arc<SubmitPolicy>>,
    myhostname: String,
    size_limit: u64,
}

impl PickupDaemon {
    /// The policy as the files say now: the sender map is read for each
    /// request, so an edit applies at once.
    fn policy(&self) -> Arc<SubmitPolicy> {
        let mut last = self.policy.lock().unwrap_or_else(PoisonError::into_inner);
        match SubmitPolicy::load(&self.params) {
            Ok(policy) => *last = Arc::new(policy),
            Err(e) => warn!("{e}; using the sender map as it was"),
        }
        last.clone()
    }

    fn context<'a>(&'a self, policy: &'a SubmitPolicy) -> submit::Context<'a> {
        submit::Context {
            spool: &self.spool,
            policy,
            myhostname: &self.myhostname,
            size_limit: self.size_limit,
        }
    }

    /// Tells qmgr there is new mail (a lost nudge only delays it).
    async fn nudge(&self, request: ipc::qmgr::Request) {
        let path = self.spool.root().join(ipc::names::QMGR_SOCKET);
        match ipc::connect_unix::<ipc::qmgr::Qmgr>(&path, Duration::from_secs(5)).await {
            Ok(mut conn) => {
                if let Err(e) = conn.call(&request).await {
                    warn!("cannot reach qmgr: {e}");
                }
            }
            Err(e) => warn!("cannot reach qmgr: {e}"),
        }
    }
}

impl Service for PickupDaemon {
    const NAME: &'static str = "pickup";
    type Prepared = ();

    fn prepare(_ctx: &Context) -> anyhow::Result<()> {
        Ok(())
    }

    async fn start(ctx: &Context, (): ()) -> anyhow::Result<Self> {
        let params = &ctx.params;
        Ok(PickupDaemon {
            spool: Spool::new(&params.queue_directory),
            policy: Mutex::new(Arc::new(SubmitPolicy::load(params)?)),
            params: params.clone(),
            myhostname: params.myhostname.clone(),
            size_limit: params.message_size_limit,
        })
    }

    async fn serve(
        self: Arc<Self>,
        conn: Conn,
        _shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let (service::Stream::Unix(stream), service::Peer::Unix { uid, .. }) =
            (conn.stream, conn.peer)
        else {
            anyhow::bail!("pickup serves only its Unix socket");
        };
        let who = Submitter::from_uid(uid);
        let mut conn = ipc::Connection::<Channel, _>::accept(stream, CLIENT_TIMEOUT).await?;
        while let Some(request) = conn.recv_request().await? {
            match request {
                Request::Submit(submission) => {
                    let policy = self.policy();
                    if let Err(refusal) = submit::check(&self.context(&policy), &who, &submission) {
                        conn.send_reply(&refused(refusal)).await?;
                        continue;
                    }
                    conn.send_reply(&Reply::Continue).await?;
                    // Read the whole message, keeping at most one byte over the
                    // limit (enough to refuse it).
                    let mut message = Vec::new();
                    loop {
                        match conn.recv_request().await? {
                            Some(Request::Data(chunk)) => {
                                let room = usize::try_from(self.size_limit)
                                    .unwrap_or(usize::MAX)
                                    .saturating_add(1)
                                    .saturating_sub(message.len());
                                message.extend_from_slice(
                                    chunk.get(..room.min(chunk.len())).unwrap_or_default(),
                                );
                            }
                            Some(Request::End) => break,
                            Some(other) => {
                                anyhow::bail!(
                                    "uid {uid}: {} in the middle of a message",
                                    other.name()
                                )
                            }
                            None => return Ok(()),
                        }
                    }
                    let daemon = self.clone();
                    let who = who.clone();
                    let queued = tokio::task::spawn_blocking(move || {
                        submit::queue(&daemon.context(&policy), &who, &submission, &message)
                    })
                    .await?;
                    match queued {
                        Ok(id) => {
                            self.nudge(ipc::qmgr::Request::Nudge).await;
                            conn.send_reply(&Reply::Queued(id.to_string())).await?;
                        }
                        Err(refusal) => {
                            warn!("uid {uid}: refused: {}", refusal.text);
                            conn.send_reply(&refused(refusal)).await?;
                        }
                    }
                }
                Request::Flush | Request::FlushSome(_) => {
                    if self.policy().may_flush(&who.login) {
                        let forward = match request {
                            Request::FlushSome(selection) => {
                                ipc::qmgr::Request::FlushSome(selection)
                            }
                            _ => ipc::qmgr::Request::Flush,
                        };
                        self.nudge(forward).await;
                        conn.send_reply(&Reply::Ok).await?;
                    } else {
                        conn.send_reply(&Reply::Refused {
                            exit: exit::NOPERM,
                            text: format!(
                                "user {} is not allowed to flush the queue (authorized_flush_users)",
                                who.login
                            ),
                        })
                        .await?;
                    }
                }
                Request::List => {
                    if !self.policy().may_list(&who.login) {
                        conn.send_reply(&Reply::Refused {
                            exit: exit::NOPERM,
                            text: format!(
                                "user {} is not allowed to list the queue (authorized_mailq_users)",
                                who.login
                            ),
                        })
                        .await?;
                        continue;
                    }
                    let daemon = self.clone();
                    let listing =
                        tokio::task::spawn_blocking(move || daemon.spool.listing(&LISTED_QUEUES))
                            .await?;
                    match listing {
                        Ok(entries) => {
                            for piece in entries.chunks(ipc::pickup::LIST_CHUNK) {
                                conn.send_reply(&Reply::Entries(piece.to_vec())).await?;
                            }
                            conn.send_reply(&Reply::Ok).await?;
                        }
                        Err(e) => {
                            conn.send_reply(&Reply::Refused {
                                exit: exit::IOERR,
                                text: format!("cannot read the queue: {e}"),
                            })
                            .await?;
                        }
                    }
                }
                Request::Data(_) | Request::End => {
                    anyhow::bail!("uid {uid}: message data without a submission");
                }
            }
        }
        Ok(())
    }

    /// Takes what `sendmail` left in `maildrop/` at start, then every few
    /// seconds.
    async fn background(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            let daemon = self.clone();
            let taken = tokio::task::spawn_blocking(move || {
                let policy = daemon.policy();
                maildrop::scan(&daemon.context(&policy))
            })
            .await;
            match taken {
                Ok(0) => {}
                Ok(_) => self.nudge(ipc::qmgr::Request::Nudge).await,
                Err(e) => warn!("maildrop scan: {e}"),
            }
            tokio::select! {
                () = tokio::time::sleep(MAILDROP_SCAN) => {}
                () = shutdown.cancelled() => break,
            }
        }
    }
}

fn refused(refusal: Refusal) -> Reply {
    Reply::Refused {
        exit: refusal.exit,
        text: refusal.text,
    }
}

fn main() -> std::process::ExitCode {
    service::run::<PickupDaemon>()
}
