//! groupsync - one directory fsync for many callers (group commit).
//!
//! Making a new directory entry durable costs an fsync of the directory. When
//! many sessions of one process commit into the same directory at once (smtpd
//! sessions into `incoming/`, deliveries into one Maildir's `new/`), each
//! would wait for its own fsync, one after the other. Here a caller whose
//! entry already exists asks for a sync; if one is running it waits for the
//! *next* one (which starts after its entry was made, so it covers it), and
//! whoever starts that next one syncs for everybody waiting. The guarantee
//! is the same as a private fsync: when [`sync_dir`] returns `Ok`, an fsync
//! of the directory that began after the call completed successfully.
//!
//! Per process: directories are told apart by device and inode, so any
//! descriptor of the directory will do.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};

use nix::sys::stat::fstat;
use nix::unistd::fsync;

/// The most directories remembered; idle ones are forgotten beyond it.
const MAX_TRACKED: usize = 4096;

/// The failures remembered per directory, for the callers of a failed sync.
const MAX_FAILURES: usize = 16;

#[derive(Default)]
struct State {
    /// Tickets handed out: each caller takes the next number.
    requested: u64,
    /// Every ticket up to this one is covered by a finished sync.
    done: u64,
    /// A sync is running.
    syncing: bool,
    /// Ticket ranges whose sync failed, with the error.
    failures: Vec<(u64, u64, io::ErrorKind)>,
}

#[derive(Default)]
struct Group {
    state: Mutex<State>,
    finished: Condvar,
}

/// The directories being synced, by (device, inode).
type Groups = Mutex<HashMap<(u64, u64), Arc<Group>>>;

fn groups() -> &'static Groups {
    static GROUPS: OnceLock<Groups> = OnceLock::new();
    GROUPS.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Makes the directory `dir`'s entries, as they are now, durable: fsyncs it,
/// or waits for an fsync that started after this call, sharing it with the
/// other callers.
///
/// # Errors
/// The fstat or fsync error (the same for every caller the failed sync was
/// for).
pub fn sync_dir(dir: BorrowedFd<'_>) -> io::Result<()> {
    let stat = fstat(dir).map_err(io::Error::from)?;
    #[allow(
        clippy::useless_conversion,
        reason = "dev_t and ino_t differ between platforms"
    )]
    let key = (u64::from(stat.st_dev), u64::from(stat.st_ino));
    let group = {
        let mut all = groups().lock().unwrap_or_else(PoisonError::into_inner);
        if all.len() >= MAX_TRACKED {
            all.retain(|_, g| Arc::strong_count(g) > 1);
        }
        Arc::clone(all.entry(key).or_default())
    };
    let mut state = group.state.lock().unwrap_or_else(PoisonError::into_inner);
    state.requested += 1;
    let ticket = state.requested;
    loop {
        if state.done >= ticket {
            return match state
                .failures
                .iter()
                .find(|(from, to, _)| (*from..=*to).contains(&ticket))
            {
                Some((_, _, kind)) => Err(io::Error::new(*kind, "fsync directory failed")),
                None => Ok(()),
            };
        }
        if state.syncing {
            state = group
                .finished
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        // Sync for every ticket handed out so far, this one included.
        state.syncing = true;
        let (from, target) = (state.done + 1, state.requested);
        drop(state);
        let result = fsync(dir.as_fd());
        state = group.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.syncing = false;
        state.done = target;
        if let Err(errno) = result {
            if state.failures.len() >= MAX_FAILURES {
                state.failures.remove(0);
            }
            state
                .failures
                .push((from, target, io::Error::from(errno).kind()));
        }
        group.finished.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    #[test]
    fn many_threads_each_get_a_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_owned();
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for j in 0..20 {
                        std::fs::write(path.join(format!("{i}-{j}")), b"x").unwrap();
                        let handle = File::open(&path).unwrap();
                        sync_dir(handle.as_fd()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(std::fs::read_dir(&path).unwrap().count(), 320);
        let handle = File::open(&path).unwrap();
        let key = {
            let st = fstat(handle.as_fd()).unwrap();
            #[allow(clippy::useless_conversion)]
            (u64::from(st.st_dev), u64::from(st.st_ino))
        };
        let group = Arc::clone(groups().lock().unwrap().get(&key).unwrap());
        let state = group.state.lock().unwrap();
        assert_eq!(state.requested, 320);
        assert_eq!(state.done, 320);
        assert!(!state.syncing);
        assert!(state.failures.is_empty());
    }
}
