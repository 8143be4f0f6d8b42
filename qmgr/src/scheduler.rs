//! When messages are taken from the queues, and how many at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use service::TaskTracker;
use spool::{Operation, Queue, QueueId, Spool};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::agents::Agents;
use crate::route::Destinations;
use crate::{manage, message};

/// How old an unfinished incoming file must be before it is a leftover (far
/// longer than any DATA transfer, during which the file keeps changing).
const STALE_TMP_AGE: Duration = Duration::from_secs(3600);

/// What the scheduler and the message pipeline need from the configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    pub queue_run_delay: Duration,
    pub minimal_backoff: Duration,
    pub maximal_backoff: Duration,
    pub maximal_queue_lifetime: Duration,
    pub bounce_queue_lifetime: Duration,
    pub hopcount_limit: u32,
    pub bounce_size_limit: u64,
    pub myhostname: String,
    pub double_bounce_sender: String,
    pub bounce_notice_recipient: String,
    pub ipc_timeout: Duration,
}

/// The queue manager's shared state.
pub struct Scheduler {
    pub spool: Arc<Spool>,
    pub accounts: accounts::Directory,
    pub settings: Settings,
    pub destinations: Destinations,
    /// Delivery agent connections kept between deliveries.
    pub agents: Agents,
    wake: Notify,
    flush: AtomicBool,
    /// deferred/ must be scanned at the next wake-up.
    rescan: AtomicBool,
    slots: Arc<Semaphore>,
    /// The messages someone is working on: a delivery, or a queue operation.
    in_flight: Mutex<HashMap<QueueId, Claim>>,
    /// Serializes queue operations, and the end of deliveries with one pending.
    pub admin: tokio::sync::Mutex<()>,
    /// True once this qmgr holds the queue lock and has recovered `active/`; queue
    /// operations wait for it, since an older qmgr may still be delivering.
    ready: watch::Sender<bool>,
}

/// Who is working on a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Claim {
    /// It is being delivered; the queue operation to apply when that ends.
    Delivery(Option<Operation>),
    /// A queue operation is moving or removing it.
    Admin,
}

/// What [`Scheduler::claim_for_admin`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminClaim {
    /// Nobody was working on it; the caller now holds it and must release it.
    Claimed,
    /// It is being delivered: the operation is recorded for when that ends.
    InDelivery,
}

impl Scheduler {
    /// Reads the parameters and opens the accounts.
    pub fn new(params: &config::Params) -> anyhow::Result<Self> {
        let concurrency = usize::try_from(params.default_process_limit.max(1)).unwrap_or(100);
        Ok(Scheduler {
            spool: Arc::new(Spool::new(&params.queue_directory)),
            accounts: accounts::Directory::open(params)?,
            settings: Settings {
                queue_run_delay: params.queue_run_delay.max(Duration::from_secs(1)),
                minimal_backoff: params.minimal_backoff_time,
                maximal_backoff: params.maximal_backoff_time.max(params.minimal_backoff_time),
                maximal_queue_lifetime: params.maximal_queue_lifetime,
                bounce_queue_lifetime: params.bounce_queue_lifetime,
                hopcount_limit: params.hopcount_limit,
                bounce_size_limit: params.bounce_size_limit,
                myhostname: params.myhostname.clone(),
                double_bounce_sender: params.double_bounce_sender.clone(),
                bounce_notice_recipient: params.bounce_notice_recipient.clone(),
                ipc_timeout: params.ipc_timeout,
            },
            destinations: Destinations::new(
                params.default_destination_concurrency_limit,
                params.smtp_destination_concurrency_limit,
            ),
            agents: Agents::default(),
            wake: Notify::new(),
            flush: AtomicBool::new(false),
            rescan: AtomicBool::new(false),
            slots: Arc::new(Semaphore::new(concurrency)),
            in_flight: Mutex::new(HashMap::new()),
            admin: tokio::sync::Mutex::new(()),
            ready: watch::Sender::new(false),
        })
    }

    /// New mail arrived: scan `incoming/` now.
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    /// Look at deferred/ now (messages were made due there).
    pub fn rescan(&self) {
        self.rescan.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Retry every deferred message now.
    pub fn flush(&self) {
        self.flush.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Runs until `shutdown`: recovers `active/`, then scans on nudges and timers.
    pub async fn run(self: Arc<Self>, shutdown: service::CancellationToken) -> anyhow::Result<()> {
        // One queue manager at a time: after a reload the old one may still be
        // finishing its deliveries, and requeueing its active/ now would deliver them
        // twice. The lock goes with the old process.
        let path = self.spool.root().join("private").join("qmgr.lock");
        let _lock = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)?;
            nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
                .map_err(|(_, e)| anyhow::anyhow!("lock {}: {e}", path.display()))
        })
        .await??;
        self.recover().await;
        self.ready.send_replace(true);
        let tasks = TaskTracker::new();
        // A nudge comes with every new message and only incoming/ is scanned
        // for it; the timed runs (at start, when a deferred message is due, at
        // least every queue_run_delay, kept to under sustained nudging), a flush
        // and a rescan also scan deferred/, whose every file is stat'ed.
        let mut full = true;
        let mut deadline = Instant::now();
        loop {
            if full {
                self.remove_stale_tmp().await;
            }
            let next = self.scan(&tasks, &shutdown, full).await;
            if full {
                // Never longer than queue_run_delay: a lost nudge must not leave
                // new mail waiting until some deferred message is due.
                let wait = next.map_or(self.settings.queue_run_delay, |n| {
                    n.min(self.settings.queue_run_delay)
                });
                deadline = Instant::now() + wait;
            }
            let nudged = tokio::select! {
                () = self.wake.notified() => true,
                () = tokio::time::sleep_until(deadline) => false,
                () = shutdown.cancelled() => break,
            };
            full = !nudged
                || Instant::now() >= deadline
                || self.rescan.swap(false, Ordering::SeqCst)
                || self.flush.load(Ordering::SeqCst);
        }
        tasks.close();
        tasks.wait().await;
        Ok(())
    }

    /// Removes unfinished `incoming/.ID.tmp` files older than [`STALE_TMP_AGE`]:
    /// leftovers of smtpd processes that died mid-message, never answered with
    /// 250, so nobody is owed them.
    async fn remove_stale_tmp(&self) {
        let spool = self.spool.clone();
        let result = tokio::task::spawn_blocking(move || {
            spool.remove_stale_tmp(Queue::Incoming, STALE_TMP_AGE)
        })
        .await;
        match result {
            Ok(Ok(removed)) => {
                for id in removed {
                    info!("{id}: removed an unfinished incoming file");
                }
            }
            Ok(Err(e)) => warn!("cannot clean incoming/: {e}"),
            Err(e) => warn!("cannot clean incoming/: {e}"),
        }
    }

    /// Messages left in `active/` by a previous qmgr were in flight when it stopped:
    /// they go back to `incoming/` to be delivered again (at least once).
    async fn recover(&self) {
        let spool = self.spool.clone();
        let result = tokio::task::spawn_blocking(move || -> Result<usize, spool::Error> {
            let ids = spool.list(Queue::Active)?;
            for id in &ids {
                spool.move_recoverable(id, Queue::Active, Queue::Incoming)?;
            }
            Ok(ids.len())
        })
        .await;
        match result {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => info!("{n} messages were in active/ after a restart: requeued"),
            Ok(Err(e)) => error!("recover active/: {e}"),
            Err(e) => error!("recover active/: {e}"),
        }
    }

    /// Starts deliveries for `incoming/` and the due part of `deferred/`; returns
    /// how long until the next deferred message is due.
    async fn scan(
        self: &Arc<Self>,
        tasks: &TaskTracker,
        shutdown: &service::CancellationToken,
        with_deferred: bool,
    ) -> Option<Duration> {
        let flush = with_deferred && self.flush.swap(false, Ordering::SeqCst);
        let spool = self.spool.clone();
        let listing = tokio::task::spawn_blocking(move || -> Result<_, spool::Error> {
            let incoming = spool.list(Queue::Incoming)?;
            let mut deferred = Vec::new();
            if !with_deferred {
                return Ok((incoming, deferred));
            }
            for id in spool.list(Queue::Deferred)? {
                match spool.next_attempt(Queue::Deferred, &id) {
                    Ok(when) => deferred.push((id, when)),
                    // Gone meanwhile (a queue tool removed it).
                    Err(e) if e.is_not_found() => {}
                    Err(e) => return Err(e),
                }
            }
            Ok((incoming, deferred))
        })
        .await;
        let (incoming, deferred) = match listing {
            Ok(Ok(listing)) => listing,
            Ok(Err(e)) => {
                error!("scan the queue: {e}");
                return Some(Duration::from_secs(5));
            }
            Err(e) => {
                error!("scan the queue: {e}");
                return Some(Duration::from_secs(5));
            }
        };
        let now = SystemTime::now();
        let mut next: Option<Duration> = None;
        let mut due = Vec::new();
        for id in incoming {
            due.push((id, Queue::Incoming));
        }
        for (id, when) in deferred {
            if flush || when <= now {
                due.push((id, Queue::Deferred));
            } else if let Ok(wait) = when.duration_since(now) {
                next = Some(next.map_or(wait, |n| n.min(wait)));
            }
        }
        for (id, from) in due {
            if shutdown.is_cancelled() {
                break;
            }
            if !self.claim(id) {
                continue;
            }
            let permit = tokio::select! {
                permit = self.slots.clone().acquire_owned() => permit,
                () = shutdown.cancelled() => {
                    self.release(&id);
                    break;
                }
            };
            let Ok(permit) = permit else {
                self.release(&id);
                break;
            };
            let scheduler = self.clone();
            tasks.spawn(async move {
                message::process(&scheduler, id, from).await;
                manage::finish(&scheduler, id).await;
                drop(permit);
            });
        }
        next
    }

    /// Waits until this qmgr runs the queue (see `ready`).
    pub async fn wait_ready(&self) {
        let mut ready = self.ready.subscribe();
        // Err only if the sender is gone, which it is not while self exists.
        let _ = ready.wait_for(|ready| *ready).await;
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<QueueId, Claim>> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes `id` for a delivery; false if someone is working on it.
    fn claim(&self, id: QueueId) -> bool {
        match self.in_flight().entry(id) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(Claim::Delivery(None));
                true
            }
        }
    }

    /// Takes `id` for a queue operation, or records `operation` for the delivery
    /// in progress (replacing one recorded before). Callers hold `admin`.
    pub fn claim_for_admin(&self, id: QueueId, operation: Operation) -> AdminClaim {
        let mut in_flight = self.in_flight();
        match in_flight.get_mut(&id) {
            Some(Claim::Delivery(pending)) => {
                *pending = Some(operation);
                AdminClaim::InDelivery
            }
            // Operations are serialized by `admin`, so this is our own claim.
            Some(Claim::Admin) => AdminClaim::Claimed,
            None => {
                in_flight.insert(id, Claim::Admin);
                AdminClaim::Claimed
            }
        }
    }

    /// The operation recorded for the delivery of `id`, if any.
    pub fn pending_operation(&self, id: &QueueId) -> Option<Operation> {
        match self.in_flight().get(id) {
            Some(Claim::Delivery(pending)) => *pending,
            _ => None,
        }
    }

    /// Takes the operation recorded for the delivery of `id`, keeping the claim.
    pub fn take_pending_operation(&self, id: &QueueId) -> Option<Operation> {
        match self.in_flight().get_mut(id) {
            Some(Claim::Delivery(pending)) => pending.take(),
            _ => None,
        }
    }

    /// Lets go of `id`.
    pub fn release(&self, id: &QueueId) {
        self.in_flight().remove(id);
    }
}
