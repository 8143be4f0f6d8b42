//! IDLE's view of the folder: inotify on `cur/`, `new/` and the folder itself (UID
//! and keyword lists), so a delivery or another session's change wakes the session
//! at once.
//!
//! # Design
//! The process has one inotify instance, shared by every idling session, and one
//! thread reading it (the [`Registry`]). inotify gives the same watch descriptor for
//! every watch on the same directory, so 5,000 sessions idling in one INBOX cost three
//! kernel watches, not 5,000 instances and 15,000 watches; a session costs no
//! descriptor of its own. The kernel's per-user instance limit
//! (`fs.inotify.max_user_instances`, often 128) no longer caps how many sessions get
//! pushed changes.
//!
//! The registry keeps, for each watch descriptor, the sessions subscribed to it. A
//! watch is added by the first subscriber of its directory and removed by the last
//! one to leave; removing it while others still listen would silence them. When the
//! kernel drops a watch by itself (the directory was deleted, `IN_IGNORED`), its
//! subscribers are woken and the entry goes. When the kernel's event queue overflowed
//! (`IN_Q_OVERFLOW`), nobody knows what changed, so everybody is woken and rescans.
//!
//! Each [`Watch`] has its own [`Signal`]: a "changed" flag that stays set until the
//! session has settled and is about to rescan, so a change that arrives while the
//! session is busy elsewhere (writing untagged responses, reading the client) is not
//! lost, exactly like events waiting in a private inotify queue were not.
//!
//! XXX: the registry is a process-wide singleton, against the house rule of passing
//! a context. inotify instances are a per-user kernel resource, so one per process is
//! the point, and it keeps `Watch::new(path)` free of plumbing. The reader is a plain
//! thread rather than a tokio task because a task (and its `AsyncFd`) would be tied
//! to the runtime that happened to create the registry, while the registry outlives
//! runtimes (unit tests run one runtime each).

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, InotifyEvent, WatchDescriptor};
use tokio::sync::Notify;
use tracing::{debug, error, warn};

/// How often an idling session rescans anyway, for changes inotify cannot see (a
/// Maildir shared over NFS, or a watch that could not be set up).
pub const RESCAN: Duration = Duration::from_secs(60);

/// Changes wait this long for more before the session rescans, so a burst of
/// deliveries or a client's bulk STORE costs one rescan.
const SETTLE: Duration = Duration::from_millis(50);

/// The events that mean a folder changed: a message file appeared, went, or was
/// renamed (flag changes are renames), or the UID or keyword list was replaced.
const FLAGS: AddWatchFlags = AddWatchFlags::IN_CREATE
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_ONLYDIR);

/// Stack of the reader thread: it only reads 4 KiB batches and wakes sessions.
const READER_STACK: usize = 256 * 1024;

/// The registry, created at the first IDLE. None until then, or while creating it
/// fails (out of descriptors or inotify instances); the next IDLE tries again.
static REGISTRY: Mutex<Option<Arc<Registry>>> = Mutex::new(None);

/// Signal - tells one session that its folder changed.
#[derive(Debug, Default)]
struct Signal {
    /// Set by the reader, cleared by the session once it has settled: the session
    /// rescans after that, so the rescan covers every change that set it.
    changed: AtomicBool,
    /// Wakes the session waiting in [`Watch::changed`]. Keeps one permit when
    /// nobody waits, so a wake between the check and the wait is not missed.
    notify: Notify,
}

impl Signal {
    /// wake - mark the folder changed and wake the session.
    fn wake(&self) {
        // Already set: the earlier wake's permit or wakeup is still pending, or the
        // session is settling and its rescan will see this change too.
        if !self.changed.swap(true, Ordering::AcqRel) {
            self.notify.notify_one();
        }
    }
}

/// State - the watches of the registry's inotify instance.
#[derive(Debug, Default)]
struct State {
    /// The subscribers of each watch, by subscriber id. A watch is in the kernel
    /// exactly as long as it has an entry here: the number of subscribers is its
    /// reference count, and the last one out removes it.
    watches: HashMap<WatchDescriptor, HashMap<u64, Arc<Signal>>>,
    /// The next subscriber id.
    next_id: u64,
}

/// Registry - the process's one inotify instance and who listens to each watch.
#[derive(Debug)]
struct Registry {
    /// The instance, blocking: only the reader thread reads it.
    inotify: Inotify,
    /// Watches and subscribers. Adding or removing a watch in the kernel happens
    /// under this lock together with the bookkeeping, so a session leaving cannot
    /// remove a watch another session has just been given.
    state: Mutex<State>,
    /// Set when the reader thread stopped: no new subscribers, they would never
    /// be woken; IDLE falls back to rescanning every [`RESCAN`].
    stopped: AtomicBool,
}

impl Registry {
    /// get - the registry, created (with its reader thread) at the first call.
    fn get() -> io::Result<Arc<Registry>> {
        let mut slot = REGISTRY.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(registry) = slot.as_ref() {
            if registry.stopped.load(Ordering::Acquire) {
                return Err(io::Error::other("the inotify reader has stopped"));
            }
            return Ok(Arc::clone(registry));
        }
        let registry = Arc::new(Registry {
            inotify: Inotify::init(InitFlags::IN_CLOEXEC)?,
            state: Mutex::new(State::default()),
            stopped: AtomicBool::new(false),
        });
        let reader = Arc::clone(&registry);
        std::thread::Builder::new()
            .name("imapd-inotify".to_owned())
            .stack_size(READER_STACK)
            .spawn(move || reader.read_loop())?;
        *slot = Some(Arc::clone(&registry));
        Ok(registry)
    }

    /// lock - the state; a panic elsewhere while holding it leaves it usable.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// read_loop - the reader thread: read events and wake their subscribers, for
    /// the life of the process.
    fn read_loop(&self) {
        loop {
            match self.inotify.read_events() {
                Ok(events) => self.dispatch(&events),
                Err(Errno::EINTR) => {}
                Err(e) => {
                    error!(
                        "inotify: cannot read events: {e}; IDLE rescans every {}s instead",
                        RESCAN.as_secs()
                    );
                    self.stopped.store(true, Ordering::Release);
                    self.wake_all(&self.lock());
                    return;
                }
            }
        }
    }

    /// dispatch - wake the subscribers of every watch in a batch of events, each
    /// watch once, and forget the watches the kernel dropped.
    fn dispatch(&self, events: &[InotifyEvent]) {
        let mut overflow = false;
        let mut touched: Vec<WatchDescriptor> = Vec::new();
        let mut ignored: Vec<WatchDescriptor> = Vec::new();
        for event in events {
            if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                overflow = true;
                continue;
            }
            if !touched.contains(&event.wd) {
                touched.push(event.wd);
            }
            if event.mask.contains(AddWatchFlags::IN_IGNORED) {
                ignored.push(event.wd);
            }
        }
        let mut state = self.lock();
        if overflow {
            warn!(
                "inotify: event queue overflowed, every IDLE session rescans; consider raising fs.inotify.max_queued_events"
            );
            self.wake_all(&state);
        } else {
            for wd in &touched {
                for signal in state.watches.get(wd).into_iter().flat_map(HashMap::values) {
                    signal.wake();
                }
            }
        }
        // The directory went away (or the watch was removed by its last
        // subscriber, which already dropped the entry). Descriptors are handed out
        // cyclically, so this one is not reused for a new watch in the meantime.
        for wd in &ignored {
            state.watches.remove(wd);
        }
    }

    /// wake_all - wake every subscriber of every watch.
    fn wake_all(&self, state: &State) {
        for signal in state.watches.values().flat_map(HashMap::values) {
            signal.wake();
        }
    }

    /// subscribe - watch `dirs` for one new subscriber; all of them or none.
    fn subscribe(self: &Arc<Self>, dirs: &[&Path]) -> io::Result<Watch> {
        let signal = Arc::new(Signal::default());
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        let mut wds = Vec::with_capacity(dirs.len());
        for dir in dirs {
            match self.inotify.add_watch(*dir, FLAGS) {
                Ok(wd) => {
                    state
                        .watches
                        .entry(wd)
                        .or_default()
                        .insert(id, Arc::clone(&signal));
                    wds.push(wd);
                }
                Err(e) => {
                    self.unsubscribe(&mut state, id, &wds);
                    debug!("inotify: cannot watch {}: {e}", dir.display());
                    return Err(e.into());
                }
            }
        }
        Ok(Watch {
            registry: Arc::clone(self),
            id,
            signal,
            wds,
        })
    }

    /// unsubscribe - remove subscriber `id` from the watches `wds`, and each watch
    /// from the kernel when it was the last subscriber.
    fn unsubscribe(&self, state: &mut State, id: u64, wds: &[WatchDescriptor]) {
        for wd in wds {
            // No entry: the kernel already dropped the watch (IN_IGNORED), or
            // this subscriber had the same directory twice.
            let Some(subscribers) = state.watches.get_mut(wd) else {
                continue;
            };
            if subscribers.remove(&id).is_none() || !subscribers.is_empty() {
                continue;
            }
            state.watches.remove(wd);
            // EINVAL when the directory was deleted and the kernel's IN_IGNORED is
            // still on its way to the reader: the watch is gone either way.
            if let Err(e) = self.inotify.rm_watch(*wd) {
                debug!("inotify: cannot remove watch {}: {e}", wd.as_raw());
            }
        }
    }
}

/// A watch on one folder.
#[derive(Debug)]
pub struct Watch {
    /// The registry the subscription is in, for Drop.
    registry: Arc<Registry>,
    /// This subscriber's id in the registry.
    id: u64,
    /// Set and woken by the registry's reader.
    signal: Arc<Signal>,
    /// The watches subscribed to: `cur/`, `new/` and the folder.
    wds: Vec<WatchDescriptor>,
}

impl Watch {
    /// Watches the Maildir at `path`.
    pub fn new(path: &Path) -> io::Result<Watch> {
        let registry = Registry::get()?;
        registry.subscribe(&[&path.join("cur"), &path.join("new"), path])
    }

    /// Waits until something in the folder changed.
    ///
    /// Cancel-safe: a change seen by a call that is dropped before it returns is
    /// reported by the next call.
    pub async fn changed(&mut self) {
        while !self.signal.changed.load(Ordering::Acquire) {
            self.signal.notify.notified().await;
        }
        tokio::time::sleep(SETTLE).await;
        // What arrived while settling is covered by the rescan that follows.
        self.signal.changed.store(false, Ordering::Release);
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut state = self.registry.lock();
        self.registry.unsubscribe(&mut state, self.id, &self.wds);
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsFd, AsRawFd};
    use std::path::PathBuf;

    use super::*;

    /// A Maildir folder with `cur/`, `new/` and `tmp/` under a temporary directory.
    fn folder(base: &Path, name: &str) -> PathBuf {
        let path = base.join(name);
        for dir in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(path.join(dir)).unwrap();
        }
        path
    }

    /// Whether `watch` wakes within `within`.
    async fn wakes(watch: &mut Watch, within: Duration) -> bool {
        tokio::time::timeout(within, watch.changed()).await.is_ok()
    }

    /// The number of subscribers of `wd`, None when the registry has no entry.
    fn subscribers(registry: &Registry, wd: WatchDescriptor) -> Option<usize> {
        registry.lock().watches.get(&wd).map(HashMap::len)
    }

    /// Whether the kernel still has watch `wd` on the registry's instance.
    fn in_kernel(registry: &Registry, wd: WatchDescriptor) -> bool {
        let fd = registry.inotify.as_fd().as_raw_fd();
        let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
        let needle = format!("inotify wd:{:x} ", wd.as_raw());
        info.lines().any(|line| line.starts_with(&needle))
    }

    const WAKE: Duration = Duration::from_secs(5);
    const QUIET: Duration = Duration::from_millis(300);

    #[tokio::test]
    async fn shared_watches_wake_every_subscriber_and_go_with_the_last() {
        let tmp = tempfile::tempdir().unwrap();
        let inbox = folder(tmp.path(), "inbox");
        let mut a = Watch::new(&inbox).unwrap();
        let mut b = Watch::new(&inbox).unwrap();
        // Same directories, same kernel watches.
        assert_eq!(a.wds, b.wds);
        assert_eq!(a.wds.len(), 3);
        let registry = Arc::clone(&a.registry);
        for wd in &a.wds {
            assert_eq!(subscribers(&registry, *wd), Some(2));
            assert!(in_kernel(&registry, *wd));
        }

        std::fs::write(inbox.join("new").join("1.host"), "x").unwrap();
        assert!(wakes(&mut a, WAKE).await);
        assert!(wakes(&mut b, WAKE).await);
        // Woken once per change: nothing new, no wake.
        assert!(!wakes(&mut a, QUIET).await);

        let wds = a.wds.clone();
        drop(a);
        for wd in &wds {
            assert_eq!(subscribers(&registry, *wd), Some(1));
            assert!(in_kernel(&registry, *wd));
        }
        std::fs::rename(
            inbox.join("new").join("1.host"),
            inbox.join("cur").join("1.host:2,S"),
        )
        .unwrap();
        assert!(wakes(&mut b, WAKE).await);

        drop(b);
        for wd in &wds {
            assert_eq!(subscribers(&registry, *wd), None);
            assert!(!in_kernel(&registry, *wd));
        }
        // Watching again after the last one left works.
        let mut c = Watch::new(&inbox).unwrap();
        std::fs::write(inbox.join("new").join("2.host"), "y").unwrap();
        assert!(wakes(&mut c, WAKE).await);
    }

    #[tokio::test]
    async fn a_change_while_busy_is_kept_for_the_next_wait() {
        let tmp = tempfile::tempdir().unwrap();
        let inbox = folder(tmp.path(), "inbox");
        let mut watch = Watch::new(&inbox).unwrap();
        std::fs::write(inbox.join("new").join("1.host"), "x").unwrap();
        // The session is not waiting yet (busy rescanning, say).
        tokio::time::sleep(QUIET).await;
        assert!(wakes(&mut watch, WAKE).await);
    }

    #[tokio::test]
    async fn other_folders_do_not_wake() {
        let tmp = tempfile::tempdir().unwrap();
        let inbox = folder(tmp.path(), "inbox");
        let sent = folder(tmp.path(), ".Sent");
        let mut idle_in_sent = Watch::new(&sent).unwrap();
        let mut idle_in_inbox = Watch::new(&inbox).unwrap();
        std::fs::write(inbox.join("new").join("1.host"), "x").unwrap();
        assert!(wakes(&mut idle_in_inbox, WAKE).await);
        assert!(!wakes(&mut idle_in_sent, QUIET).await);
    }

    #[tokio::test]
    async fn a_deleted_folder_wakes_and_drops_its_watches() {
        let tmp = tempfile::tempdir().unwrap();
        let trash = folder(tmp.path(), ".Trash");
        let mut a = Watch::new(&trash).unwrap();
        let b = Watch::new(&trash).unwrap();
        let registry = Arc::clone(&a.registry);
        std::fs::remove_dir_all(&trash).unwrap();
        assert!(wakes(&mut a, WAKE).await);
        // The reader handles the IN_IGNORED events shortly after the wake.
        let deadline = std::time::Instant::now() + WAKE;
        while a.wds.iter().any(|wd| subscribers(&registry, *wd).is_some()) {
            assert!(std::time::Instant::now() < deadline, "watches kept");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let wds = a.wds.clone();
        drop(a);
        drop(b);
        for wd in &wds {
            assert!(!in_kernel(&registry, *wd));
        }
    }

    #[test]
    fn a_missing_folder_is_an_error_and_leaves_nothing_behind() {
        use std::os::unix::fs::MetadataExt;
        let tmp = tempfile::tempdir().unwrap();
        let half = tmp.path().join("half");
        // cur/ exists, new/ does not: the watch on cur/ must be undone.
        std::fs::create_dir_all(half.join("cur")).unwrap();
        let ino = std::fs::metadata(half.join("cur")).unwrap().ino();
        let watched = |registry: &Registry| {
            let fd = registry.inotify.as_fd().as_raw_fd();
            let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
            let needle = format!(" ino:{ino:x} ");
            info.lines()
                .any(|line| line.starts_with("inotify ") && line.contains(&needle))
        };
        assert!(Watch::new(&half).is_err());
        let registry = Registry::get().unwrap();
        assert!(!watched(&registry));
        // The check does see a watch on cur/ when there is one.
        std::fs::create_dir_all(half.join("new")).unwrap();
        let watch = Watch::new(&half).unwrap();
        assert!(watched(&registry));
        drop(watch);
        assert!(!watched(&registry));
    }
}
