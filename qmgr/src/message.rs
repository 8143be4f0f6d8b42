//! One message's trip through the queue manager: from `active/` to delivered,
//! deferred or returned.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::time::SystemTime;

use ipc::deliver::{Outcome, Recipient as DeliverRecipient, Reply, Request};
use maillog::{Delays, Status};
use spool::{Queue, QueueFile, QueueId, RecipientState};
use tracing::{error, info, warn};

use crate::agents::Agents;
use crate::bounce;
use crate::route::{self, Decision, Transport};
use crate::scheduler::Scheduler;

/// The most header bytes read to count hops.
const HEADER_SCAN_LIMIT: u64 = 1024 * 1024;

/// A permanent failure of one recipient, for the bounce.
#[derive(Debug, Clone)]
pub struct Failure {
    pub index: u32,
    pub status: String,
    pub text: String,
    /// The remote server that refused, and its reply.
    pub remote: Option<(String, String)>,
}

/// Moves one message from `from` into `active/` and runs it to its next state.
/// Errors leave it for a retry.
pub async fn process(scheduler: &Scheduler, id: QueueId, from: Queue) {
    if let Err(e) = run(scheduler, id, from).await {
        error!("{id}: {e:#}; will try again");
        let spool = scheduler.spool.clone();
        let retry = SystemTime::now() + scheduler.settings.minimal_backoff;
        let moved = tokio::task::spawn_blocking(move || {
            let timed = spool.set_next_attempt(Queue::Active, &id, retry);
            spool.move_recoverable(&id, Queue::Active, Queue::Deferred)?;
            Ok::<_, spool::Error>(timed)
        })
        .await;
        match moved {
            Ok(Ok(Ok(()))) => {}
            // The file may be unreadable to us (that is often why we are here):
            // it is then due again at the next scan rather than after a backoff,
            // which beats leaving it in active/, where nothing looks until a restart.
            Ok(Ok(Err(e))) => warn!("{id}: cannot set the next attempt time: {e}"),
            Ok(Err(e)) => error!("{id}: cannot move to deferred/: {e}"),
            Err(e) => error!("{id}: cannot move to deferred/: {e}"),
        }
    }
}

/// Runs a blocking operation on the queue file and gives the file back.
async fn with_file<T: Send + 'static>(
    file: QueueFile,
    op: impl FnOnce(&mut QueueFile) -> T + Send + 'static,
) -> anyhow::Result<(QueueFile, T)> {
    let mut file = file;
    Ok(tokio::task::spawn_blocking(move || {
        let result = op(&mut file);
        (file, result)
    })
    .await?)
}

/// What [`take`] found.
enum Taken {
    /// The file is in `active/`, open, with its hop count.
    Open(Box<QueueFile>, std::io::Result<u64>),
    /// It could not be moved into `active/` (gone meanwhile: None).
    NotMoved(Option<spool::Error>),
    /// It is in `active/` but could not be opened.
    Unopened(spool::Error),
}

/// take - move the message into `active/`, open it and count its hops: the
/// first steps of a delivery, in one blocking call.
fn take(spool: &spool::Spool, id: QueueId, from: Queue) -> Taken {
    if from != Queue::Active
        && let Err(e) = spool.move_recoverable(&id, from, Queue::Active)
    {
        return Taken::NotMoved((!e.is_not_found()).then_some(e));
    }
    match spool.open(Queue::Active, &id) {
        Ok(mut file) => {
            let hops = count_hops(&mut file);
            Taken::Open(Box::new(file), hops)
        }
        Err(e) => Taken::Unopened(e),
    }
}

async fn run(scheduler: &Scheduler, id: QueueId, from: Queue) -> anyhow::Result<()> {
    let settings = &scheduler.settings;
    let spool = scheduler.spool.clone();
    let taken = tokio::task::spawn_blocking(move || take(&spool, id, from)).await?;
    let (file, hops) = match taken {
        Taken::Open(file, hops) => (*file, hops),
        Taken::NotMoved(None) => return Ok(()),
        Taken::NotMoved(Some(e)) => {
            // Still where it was: the next scan tries again.
            warn!("{id}: move to active/: {e}");
            return Ok(());
        }
        Taken::Unopened(e) if e.is_damaged() => {
            let spool = scheduler.spool.clone();
            let reason = e.to_string();
            tokio::task::spawn_blocking(move || spool.quarantine(Queue::Active, &id, &reason))
                .await??;
            return Ok(());
        }
        Taken::Unopened(e) => return Err(e.into()),
    };
    if let Some(torn) = file.torn_tail() {
        warn!(
            "{id}: ignoring a torn update record at offset {}",
            torn.offset
        );
    }
    let envelope = file.envelope().clone();
    let started = SystemTime::now();
    let pending: Vec<u32> = file.pending().collect();
    maillog::queue_active(&id, &envelope.sender, file.message_size(), pending.len());

    let mut failures = Vec::new();
    let mut file = file;
    let age = started.duration_since(envelope.arrival).unwrap_or_default();
    let lifetime = if envelope.sender.is_empty() {
        settings.bounce_queue_lifetime
    } else {
        settings.maximal_queue_lifetime
    };
    let verdict = if hops.unwrap_or(0) > u64::from(settings.hopcount_limit) {
        Some(("5.4.6", "too many hops: mail forwarding loop".to_owned()))
    } else if age > lifetime {
        maillog::expired(&id, &envelope.sender);
        Some(("5.4.7", "delivery time expired".to_owned()))
    } else {
        None
    };

    if let Some((status, why)) = verdict {
        for index in pending {
            let text = match file.state(index) {
                Some(RecipientState::Deferred(reason)) => format!("{why}; last error: {reason}"),
                _ => why.clone(),
            };
            let address = recipient_address(&file, index);
            file = settle(
                file,
                index,
                &address,
                started,
                Verdict::Bounce,
                status,
                &text,
            )
            .await?;
            failures.push(Failure {
                index,
                status: status.to_owned(),
                text,
                remote: None,
            });
        }
    } else {
        let accounts = scheduler.accounts.current();
        let mut groups: BTreeMap<(&'static str, String), (Transport, Vec<DeliverRecipient>)> =
            BTreeMap::new();
        for index in pending {
            let address = recipient_address(&file, index);
            match route::route(&accounts, &address) {
                Decision::Deliver { transport, nexthop } => groups
                    .entry((transport.name(), nexthop))
                    .or_insert_with(|| (transport, Vec::new()))
                    .1
                    .push(DeliverRecipient { index, address }),
                Decision::Bounce { status, text } => {
                    file = settle(
                        file,
                        index,
                        &address,
                        started,
                        Verdict::Bounce,
                        &status,
                        &text,
                    )
                    .await?;
                    failures.push(Failure {
                        index,
                        status,
                        text,
                        remote: None,
                    });
                }
            }
        }
        for ((_, nexthop), (transport, recipients)) in groups {
            let _slot = scheduler.destinations.acquire(transport, &nexthop).await;
            file = deliver_group(
                scheduler,
                id,
                file,
                (transport, nexthop),
                recipients,
                started,
                &mut failures,
            )
            .await?;
        }
    }

    if !failures.is_empty() {
        if scheduler.pending_operation(&id) == Some(spool::Operation::Delete) {
            info!("{id}: deleted by the administrator: no notice to the sender");
        } else {
            file = bounce::notify_sender(scheduler, &id, file, &failures).await?;
        }
    }

    let still_pending = file.pending().count();
    drop(file);
    let spool = scheduler.spool.clone();
    if still_pending == 0 {
        tokio::task::spawn_blocking(move || spool.retire(Queue::Active, &id)).await??;
        maillog::removed(&id);
    } else {
        let backoff = age.clamp(settings.minimal_backoff, settings.maximal_backoff);
        let next = SystemTime::now() + backoff;
        tokio::task::spawn_blocking(move || {
            spool.set_next_attempt(Queue::Active, &id, next)?;
            spool.move_recoverable(&id, Queue::Active, Queue::Deferred)
        })
        .await??;
    }
    Ok(())
}

fn recipient_address(file: &QueueFile, index: u32) -> String {
    usize::try_from(index)
        .ok()
        .and_then(|i| file.envelope().recipients.get(i))
        .map(|r| r.address.clone())
        .unwrap_or_default()
}

/// Counts `Received:` and `Delivered-To:` headers (the hop count).
fn count_hops(file: &mut QueueFile) -> std::io::Result<u64> {
    let reader = BufReader::new(std::io::Read::take(file.message(), HEADER_SCAN_LIMIT));
    let mut hops = 0;
    for line in reader.split(b'\n') {
        let line = line?;
        if line == b"\r" || line.is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with(b"received:") || lower.starts_with(b"delivered-to:") {
            hops += 1;
        }
    }
    Ok(hops)
}

/// What the queue manager itself decides for a recipient no delivery agent
/// answered for.
#[derive(Debug, Clone, Copy)]
enum Verdict {
    /// Return it to the sender now: marked failed, logged `status=bounced`.
    Bounce,
    /// Try again later: marked deferred, logged `status=deferred`.
    Defer,
}

/// Records qmgr's own verdict on recipient `index` durably, then logs it
/// (`relay=none`, delays counted from arrival and from `started`).
async fn settle(
    file: QueueFile,
    index: u32,
    address: &str,
    started: SystemTime,
    verdict: Verdict,
    dsn: &str,
    text: &str,
) -> anyhow::Result<QueueFile> {
    let (file, result) = {
        let (dsn, text) = (dsn.to_owned(), text.to_owned());
        with_file(file, move |f| match verdict {
            Verdict::Bounce => f.mark_failed(index, &dsn, &text),
            Verdict::Defer => f.mark_deferred(index, &text),
        })
        .await?
    };
    result?;
    let status = match verdict {
        Verdict::Bounce => Status::Bounced,
        Verdict::Defer => Status::Deferred,
    };
    let arrival = file.envelope().arrival;
    let now = SystemTime::now();
    let total = now
        .duration_since(arrival)
        .unwrap_or_default()
        .as_secs_f64();
    let before = started
        .duration_since(arrival)
        .unwrap_or_default()
        .as_secs_f64();
    let during = now
        .duration_since(started)
        .unwrap_or_default()
        .as_secs_f64();
    maillog::delivery(
        file.id(),
        address,
        "none",
        &Delays {
            total,
            parts: [before, during, 0.0, 0.0],
        },
        dsn,
        status,
        text,
    );
    Ok(file)
}

/// Asks one delivery agent for one group of recipients and records each answer.
async fn deliver_group(
    scheduler: &Scheduler,
    id: QueueId,
    mut file: QueueFile,
    (transport, nexthop): (Transport, String),
    recipients: Vec<DeliverRecipient>,
    started: SystemTime,
    failures: &mut Vec<Failure>,
) -> anyhow::Result<QueueFile> {
    let mut waiting: BTreeMap<u32, String> = recipients
        .iter()
        .map(|r| (r.index, r.address.clone()))
        .collect();
    let socket = scheduler.spool.root().join(transport.socket());
    // Each answer is recorded as it arrives, before the next is read: a crash loses
    // at most the deliveries still in flight.
    let mut problem = None;
    let request = Request::Deliver {
        queue_id: id.to_string(),
        recipients,
        nexthop,
    };
    let timeout = scheduler.settings.ipc_timeout;
    match scheduler.agents.connect(&socket, &request, timeout).await {
        Err(e) => problem = Some(e),
        Ok((mut conn, mut reused)) => loop {
            let reply = conn.recv_reply().await;
            if reused && reply.is_err() {
                // A kept connection that died while unused: nothing was
                // answered on it, so ask again on a fresh one.
                reused = false;
                match Agents::open(&socket, &request, timeout).await {
                    Ok(fresh) => {
                        conn = fresh;
                        continue;
                    }
                    Err(e) => {
                        problem = Some(e);
                        break;
                    }
                }
            }
            reused = false;
            match reply {
                Ok(Reply::Recipient { index, outcome }) => {
                    let Some(address) = waiting.remove(&index) else {
                        warn!(
                            "{id}: {} answered for recipient {index}, which it was not asked about",
                            transport.name()
                        );
                        continue;
                    };
                    file = record(scheduler, id, file, index, &address, outcome, failures).await?;
                }
                Ok(Reply::Done) => {
                    scheduler.agents.put(&socket, conn);
                    break;
                }
                Err(e) => {
                    problem = Some(e.to_string());
                    break;
                }
            }
        },
    }
    if let Some(problem) = problem {
        // Everyone not answered: try again later.
        let text = format!(
            "delivery temporarily suspended: {} agent: {problem}",
            transport.name()
        );
        for (index, address) in waiting {
            file = settle(
                file,
                index,
                &address,
                started,
                Verdict::Defer,
                "4.3.0",
                &text,
            )
            .await?;
        }
    }
    Ok(file)
}

/// Records one recipient's result durably.
async fn record(
    scheduler: &Scheduler,
    id: QueueId,
    mut file: QueueFile,
    index: u32,
    address: &str,
    outcome: Outcome,
    failures: &mut Vec<Failure>,
) -> anyhow::Result<QueueFile> {
    match outcome {
        Outcome::Sent { .. } => {
            // The last pending recipient of a message that needs no bounce:
            // the file is removed next, so the record would save nothing
            // but its fdatasync (see QueueFile::note_last_done), and
            // noting it in memory needs no blocking call.
            if failures.is_empty() && file.note_last_done(index) {
                return Ok(file);
            }
            let (file, result) = with_file(file, move |f| f.mark_done(index)).await?;
            result?;
            Ok(file)
        }
        Outcome::Deferred { status, text } => {
            let reason = format!("{status} {text}");
            let (file, result) = with_file(file, move |f| f.mark_deferred(index, &reason)).await?;
            result?;
            Ok(file)
        }
        Outcome::Failed { status, text } => fail(file, index, status, text, None, failures).await,
        Outcome::Rejected {
            status,
            text,
            remote_mta,
            reply,
        } => {
            fail(
                file,
                index,
                status,
                text,
                Some((remote_mta, reply)),
                failures,
            )
            .await
        }
        Outcome::Forward { addresses, .. } => {
            let envelope = file.envelope().clone();
            let (file, forwarded) = with_file(file, {
                let spool = scheduler.spool.clone();
                move |f| forward(&spool, f, &envelope, &addresses)
            })
            .await?;
            let new_id = forwarded?;
            info!("{id}: forwarded <{address}> as {new_id}");
            let (file, result) = with_file(file, move |f| f.mark_done(index)).await?;
            result?;
            scheduler.nudge();
            Ok(file)
        }
    }
}

/// Records a permanent failure durably and keeps it for the bounce.
async fn fail(
    file: QueueFile,
    index: u32,
    status: String,
    text: String,
    remote: Option<(String, String)>,
    failures: &mut Vec<Failure>,
) -> anyhow::Result<QueueFile> {
    let (file, result) = {
        let (status, text) = (status.clone(), text.clone());
        with_file(file, move |f| f.mark_failed(index, &status, &text)).await?
    };
    result?;
    failures.push(Failure {
        index,
        status,
        text,
        remote,
    });
    Ok(file)
}

/// Queues a copy of the message for `addresses`, with the original sender.
fn forward(
    spool: &spool::Spool,
    file: &mut QueueFile,
    original: &spool::Envelope,
    addresses: &[String],
) -> anyhow::Result<QueueId> {
    let envelope = spool::Envelope {
        recipients: addresses
            .iter()
            .map(|address| spool::Recipient {
                address: address.clone(),
                orcpt: None,
                notify: spool::DsnNotify::default(),
            })
            .collect(),
        arrival: SystemTime::now(),
        ..original.clone()
    };
    let mut writer = spool.create(&envelope)?;
    std::io::copy(&mut file.message(), &mut writer)?;
    Ok(writer.commit()?)
}
