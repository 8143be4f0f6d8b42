//! The delivery channel: requests from qmgr, one answer per recipient.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ipc::deliver::{Deliver, Outcome, Reply};
use maillog::{Delays, Status};
use nix::unistd::{Gid, Uid, User};
use service::CancellationToken;
use spool::{Queue, QueueFile, QueueId, Spool};
use tokio::net::UnixStream;
use tracing::warn;

use crate::deliver;

/// The most header bytes read to find `Delivered-To:` lines.
const HEADER_SCAN_LIMIT: u64 = 1024 * 1024;

/// A uid and gid to deliver as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ids {
    pub uid: u32,
    pub gid: u32,
}

/// What deliveries need from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub quota_bytes: Option<u64>,
    pub quota_temporary: bool,
    /// Who owns virtual mailboxes (mail_owner).
    pub mail_owner: Ids,
    /// Who runs `|command` and `/file` deliveries.
    pub default_privs: Ids,
    pub command_time_limit: Duration,
    /// False when local runs unprivileged as mail_owner: `|command` and `/file`
    /// targets would then run as the user that owns the queue and every virtual
    /// mailbox, so they wait instead (give local `unpriv = n`).
    pub commands_allowed: bool,
    /// This process's effective uid: deliveries as anyone else need a child.
    pub euid: u32,
}

/// The local delivery agent.
pub struct Agent {
    spool: Arc<Spool>,
    accounts: accounts::Directory,
    pub settings: Settings,
    ipc_timeout: Duration,
}

/// One message being delivered: the queue file and what its header says.
pub struct Message {
    pub id: QueueId,
    pub file: QueueFile,
    /// Addresses already in `Delivered-To:` headers, lower-cased.
    pub delivered_to: HashSet<String>,
}

fn ids_of(name: &str) -> anyhow::Result<Ids> {
    let user = User::from_name(name)?.ok_or_else(|| anyhow::anyhow!("no such user {name}"))?;
    Ok(Ids {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
    })
}

impl Agent {
    /// Reads the parameters and opens the accounts.
    pub fn new(params: &config::Params) -> anyhow::Result<Self> {
        let euid = Uid::effective().as_raw();
        let me = Ids {
            uid: euid,
            gid: Gid::effective().as_raw(),
        };
        let root = euid == 0;
        let mail_owner = if root {
            ids_of(&params.mail_owner)?
        } else {
            me
        };
        let default_privs = if root {
            ids_of(&params.default_privs)?
        } else {
            me
        };
        // Unprivileged is fine in development (everything runs as the invoking user),
        // not when this process is mail_owner itself.
        let is_mail_owner = !root
            && User::from_name(&params.mail_owner)
                .ok()
                .flatten()
                .is_some_and(|u| u.uid.as_raw() == euid);
        Ok(Agent {
            spool: Arc::new(Spool::new(&params.queue_directory)),
            accounts: accounts::Directory::open(params)?,
            settings: Settings {
                quota_bytes: (params.mailbox_size_limit > 0).then_some(params.mailbox_size_limit),
                quota_temporary: params.mailbox_quota_temporary,
                mail_owner,
                default_privs,
                command_time_limit: params.command_time_limit,
                commands_allowed: !is_mail_owner,
                euid,
            },
            ipc_timeout: params.ipc_timeout,
        })
    }

    /// Serves one qmgr connection.
    pub async fn serve(
        &self,
        stream: UnixStream,
        _shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let mut conn = ipc::Connection::<Deliver, _>::accept(stream, self.ipc_timeout).await?;
        while let Some(ipc::deliver::Job { id, recipients, .. }) =
            ipc::deliver::next_job(&mut conn).await?
        {
            let message = match self.open(id).await {
                Ok(message) => Arc::new(message),
                Err(e) => {
                    warn!("{id}: {e:#}");
                    let text = format!("cannot read queue file: {e}");
                    ipc::deliver::defer_all(&mut conn, &recipients, &text).await?;
                    continue;
                }
            };
            let started = SystemTime::now();
            for r in recipients {
                let accounts = self.accounts.current();
                let outcome = deliver::recipient(self, &accounts, &message, &r.address).await;
                log(&message, &r.address, started, &outcome);
                conn.send_reply(&Reply::Recipient {
                    index: r.index,
                    outcome,
                })
                .await?;
            }
            conn.send_reply(&Reply::Done).await?;
        }
        Ok(())
    }

    async fn open(&self, id: QueueId) -> anyhow::Result<Message> {
        let spool = self.spool.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<Message> {
            let file = spool.open(Queue::Active, &id)?;
            let delivered_to = delivered_to(&file)?;
            Ok(Message {
                id,
                file,
                delivered_to,
            })
        })
        .await?
    }
}

/// The addresses of the message's `Delivered-To:` headers.
fn delivered_to(file: &QueueFile) -> std::io::Result<HashSet<String>> {
    let reader = BufReader::new(file.message().take(HEADER_SCAN_LIMIT));
    let mut seen = HashSet::new();
    for line in reader.split(b'\n') {
        let line = line?;
        if line == b"\r" || line.is_empty() {
            break;
        }
        let text = String::from_utf8_lossy(&line);
        if let Some((name, value)) = text.split_once(':')
            && name.eq_ignore_ascii_case("delivered-to")
        {
            seen.insert(value.trim().to_ascii_lowercase());
        }
    }
    Ok(seen)
}

fn log(message: &Message, to: &str, started: SystemTime, outcome: &Outcome) {
    let arrival = message.file.envelope().arrival;
    let now = SystemTime::now();
    let delays = Delays {
        total: now
            .duration_since(arrival)
            .unwrap_or_default()
            .as_secs_f64(),
        parts: [
            started
                .duration_since(arrival)
                .unwrap_or_default()
                .as_secs_f64(),
            0.0,
            0.0,
            now.duration_since(started)
                .unwrap_or_default()
                .as_secs_f64(),
        ],
    };
    let (dsn, status, text) = match outcome {
        Outcome::Sent { text, .. } => ("2.0.0", Status::Sent, text.clone()),
        Outcome::Forward { text, addresses } => (
            "2.0.0",
            Status::Sent,
            format!("{text}; forwarded to {}", addresses.join(", ")),
        ),
        Outcome::Deferred { status, text } => (status.as_str(), Status::Deferred, text.clone()),
        Outcome::Failed { status, text } | Outcome::Rejected { status, text, .. } => {
            (status.as_str(), Status::Bounced, text.clone())
        }
    };
    maillog::delivery(&message.id, to, "local", &delays, dsn, status, &text);
}
