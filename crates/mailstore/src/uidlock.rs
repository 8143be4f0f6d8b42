//! uidlock - the lock that serialises changes to a Maildir's UID list.
//!
//! Two locks, taken in this order and released together:
//!
//! 1. An flock on `dovecot-uidlist` itself, among Postern's processes
//!    and threads. It dies with its holder, even on kill -9, so Postern
//!    sessions never wait on each other's leftovers. The list is replaced
//!    by rename, so after getting the lock we check that the file we
//!    locked is still the one under that name, and start over if not.
//!    (Before the list exists there is nothing to flock; the dot-lock
//!    alone serialises the creation.)
//! 2. Dovecot's dot-lock `dovecot-uidlist.lock`, created with `O_EXCL`,
//!    which is what Dovecot itself honours. It holds `PID:HOSTNAME`, as
//!    Dovecot's dot-locks do. A dot-lock is stale, and is removed, when
//!    its modification time is older than [`LockTiming::stale_after`]
//!    (two minutes, Dovecot's value for this file), when it has not
//!    changed at all while we watched it for that long, or when it names
//!    a process of this host that no longer exists.
//!
//! Both are tried without blocking and retried after short, growing
//! pauses until [`LockTiming::timeout`] (ten seconds), then the caller
//! gets [`Error::LockTimeout`], a temporary error. Holding the flock while
//! taking the dot-lock means only one Postern process at a time ever
//! judges and removes a stale dot-lock, so two of them cannot each remove
//! the other's fresh lock.
//!
//! The same pair of locks, named by a [`LockedFile`], also guards the
//! mailbox's `subscriptions` file (its dot-lock `subscriptions.lock`, stale
//! after 30 seconds as Dovecot has it; the `subscriptions` module).

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::{FileStat, Mode, fstat};
use nix::unistd::{Pid, UnlinkatFlags, unlinkat};

use crate::error::{Error, errno_err, io_err};
use crate::fsutil::{match_dir_owner, stat_at};
use crate::uidlist::UIDLIST;

/// The dot-lock's file name, in the Maildir's directory.
pub(crate) const DOTLOCK: &str = "dovecot-uidlist.lock";

/// LockedFile - which file a lock protects: its name, its dot-lock's
/// name, and what to call it in log messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LockedFile {
    /// The file replaced under the lock (flocked among Postern's processes).
    pub(crate) file: &'static str,
    /// Dovecot's dot-lock for it.
    pub(crate) dotlock: &'static str,
    /// What the lock is called in log messages.
    pub(crate) what: &'static str,
}

/// The UID list (and the keyword list, which Dovecot changes under the
/// same lock).
pub(crate) const UIDLIST_LOCK: LockedFile = LockedFile {
    file: UIDLIST,
    dotlock: DOTLOCK,
    what: "UID list lock",
};

/// The first pause between attempts; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(2);
/// The longest pause between attempts.
const MAX_PAUSE: Duration = Duration::from_millis(50);

/// LockTiming - how long to wait for the UID list lock and when a
/// dot-lock counts as stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LockTiming {
    /// Give up with [`Error::LockTimeout`] after this long.
    pub(crate) timeout: Duration,
    /// A dot-lock this old, or unchanged while watched this long, is stale.
    pub(crate) stale_after: Duration,
}

impl LockTiming {
    /// Ten seconds of waiting; stale after two minutes, as Dovecot.
    pub(crate) const DEFAULT: LockTiming = LockTiming {
        timeout: Duration::from_secs(10),
        stale_after: Duration::from_secs(120),
    };
}

/// UidListLock - both locks on a Maildir's UID list; released on drop.
#[derive(Debug)]
pub(crate) struct UidListLock {
    /// The dot-lock; declared first so that it goes first on drop.
    _dotlock: DotLock,
    /// The flock on the list file, if it existed.
    _flock: Option<Flock<File>>,
}

/// lock - take both locks on the UID list of the Maildir open as `dir`.
pub(crate) fn lock(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    timing: LockTiming,
) -> Result<UidListLock, Error> {
    lock_file(dir, dir_path, UIDLIST_LOCK, timing)
}

/// lock_file - take both locks on `target.file` in the directory open as
/// `dir`: the flock among Postern's processes, then Dovecot's dot-lock.
pub(crate) fn lock_file(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    target: LockedFile,
    timing: LockTiming,
) -> Result<UidListLock, Error> {
    let start = Instant::now();
    let flock = flock_list(dir, dir_path, target, start, timing)?;
    let dotlock = dotlock(dir, dir_path, target, start, timing)?;
    Ok(UidListLock {
        _dotlock: dotlock,
        _flock: flock,
    })
}

/// Waiting - the pause schedule and the deadline of one lock attempt.
struct Waiting {
    /// When the attempt started.
    start: Instant,
    /// The next pause.
    pause: Duration,
    /// How long to try.
    timeout: Duration,
    /// The file being waited for, for the error.
    path: PathBuf,
}

impl Waiting {
    /// check_deadline - fail if the time is up.
    fn check_deadline(&self) -> Result<(), Error> {
        let waited = self.start.elapsed();
        if waited >= self.timeout {
            return Err(Error::LockTimeout {
                path: self.path.clone(),
                waited,
            });
        }
        Ok(())
    }

    /// pause - sleep before the next try, or fail if the time is up.
    fn pause(&mut self) -> Result<(), Error> {
        self.check_deadline()?;
        let left = self.timeout.saturating_sub(self.start.elapsed());
        std::thread::sleep(self.pause.min(left));
        self.pause = (self.pause * 2).min(MAX_PAUSE);
        Ok(())
    }
}

/// flock_list - an exclusive flock on the current `target.file`
/// (`dovecot-uidlist`); None if there is no such file yet.
fn flock_list(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    target: LockedFile,
    start: Instant,
    timing: LockTiming,
) -> Result<Option<Flock<File>>, Error> {
    let path = dir_path.join(target.file);
    let mut waiting = Waiting {
        start,
        pause: FIRST_PAUSE,
        timeout: timing.timeout,
        path: path.clone(),
    };
    let flags = OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    loop {
        // Read-write where we may: Linux emulates flock with POSIX locks on
        // NFS, and an exclusive one there needs a descriptor open for writing.
        let fd = match nix::fcntl::openat(dir, target.file, flags | OFlag::O_RDWR, Mode::empty()) {
            Err(Errno::EACCES | Errno::EROFS) => {
                nix::fcntl::openat(dir, target.file, flags | OFlag::O_RDONLY, Mode::empty())
            }
            other => other,
        };
        let fd = match fd {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::ELOOP) => return Err(Error::Symlink { path }),
            Err(errno) => return Err(errno_err("open", &path)(errno)),
        };
        match Flock::lock(File::from(fd), FlockArg::LockExclusiveNonblock) {
            Ok(locked) => {
                let ours = fstat(locked.as_fd()).map_err(errno_err("stat", &path))?;
                match stat_at(dir, target.file, &path)? {
                    Some(now) if same_file(&ours, &now) => return Ok(Some(locked)),
                    // Replaced while we waited: lock the new one at once,
                    // unless the time is up.
                    _ => waiting.check_deadline()?,
                }
            }
            Err((_, Errno::EWOULDBLOCK | Errno::EINTR)) => waiting.pause()?,
            Err((_, errno)) => return Err(errno_err("lock (flock)", &path)(errno)),
        }
    }
}

/// DotLock - a dot-lock this process created; removed on drop if it is
/// still ours.
#[derive(Debug)]
struct DotLock {
    /// The Maildir's directory (a duplicate descriptor, owned).
    dir: OwnedFd,
    /// The lock's path, for messages.
    path: PathBuf,
    /// Device and inode of the lock we created.
    id: (u64, u64),
    /// Which lock this is.
    target: LockedFile,
}

impl Drop for DotLock {
    fn drop(&mut self) {
        // Only remove it if nobody judged it stale and replaced it.
        let what = self.target.what;
        match stat_at(self.dir.as_fd(), self.target.dotlock, &self.path) {
            Ok(Some(st)) if (st.st_dev, st.st_ino) == self.id => {
                match unlinkat(
                    self.dir.as_fd(),
                    self.target.dotlock,
                    UnlinkatFlags::NoRemoveDir,
                ) {
                    Ok(()) | Err(Errno::ENOENT) => {}
                    Err(e) => {
                        tracing::error!(path = %self.path.display(), error = %e, lock = what, "cannot remove lock");
                    }
                }
            }
            Ok(_) => {
                tracing::warn!(path = %self.path.display(), lock = what, "lock was taken over while held");
            }
            Err(e) => {
                tracing::error!(path = %self.path.display(), error = %e, lock = what, "cannot check lock");
            }
        }
    }
}

/// dotlock - create `target.dotlock` (`dovecot-uidlist.lock`), removing
/// a stale one.
fn dotlock(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    target: LockedFile,
    start: Instant,
    timing: LockTiming,
) -> Result<DotLock, Error> {
    let name = target.dotlock;
    let path = dir_path.join(name);
    let mut waiting = Waiting {
        start,
        pause: FIRST_PAUSE,
        timeout: timing.timeout,
        path: path.clone(),
    };
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    // The lock we are waiting for, and since when it has not changed.
    let mut watched: Option<(LockState, Instant)> = None;
    loop {
        match nix::fcntl::openat(dir, name, flags, Mode::from_bits_truncate(0o600)) {
            Ok(fd) => return finish_dotlock(dir, dir_path, target, fd, path),
            Err(Errno::EEXIST) => {}
            Err(errno) => return Err(errno_err("create lock", &path)(errno)),
        }
        match judge(dir, name, &path, timing, &mut watched)? {
            Verdict::Gone => waiting.check_deadline()?,
            Verdict::Stale(judged) => {
                waiting.check_deadline()?;
                // Only the lock we judged: if it was replaced meanwhile, the
                // new one belongs to a live holder.
                if stat_at(dir, name, &path)?.map(|st| lock_state(&st)) == Some(judged.state) {
                    tracing::warn!(path = %path.display(), reason = judged.reason, lock = target.what, "removing stale lock");
                    match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
                        Ok(()) | Err(Errno::ENOENT) => {}
                        Err(errno) => return Err(errno_err("remove stale lock", &path)(errno)),
                    }
                }
                watched = None;
            }
            Verdict::Held => waiting.pause()?,
        }
    }
}

/// finish_dotlock - fill in a dot-lock just created as `fd`.
fn finish_dotlock(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    target: LockedFile,
    fd: OwnedFd,
    path: PathBuf,
) -> Result<DotLock, Error> {
    let st = fstat(&fd).map_err(errno_err("stat", &path))?;
    let guard = DotLock {
        dir: dir
            .try_clone_to_owned()
            .map_err(io_err("dup directory", dir_path))?,
        path,
        id: (st.st_dev, st.st_ino),
        target,
    };
    let dir_st = fstat(dir).map_err(errno_err("stat", dir_path))?;
    match_dir_owner(&fd, &dir_st, &guard.path)?;
    let mut content = std::process::id().to_string().into_bytes();
    content.push(b':');
    content.extend_from_slice(hostname().as_bytes());
    File::from(fd)
        .write_all(&content)
        .map_err(io_err("write", &guard.path))?;
    Ok(guard)
}

/// LockState - what identifies one version of a lock file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LockState {
    /// Device of the file.
    dev: u64,
    /// Inode of the file.
    ino: u64,
    /// Modification time, seconds and nanoseconds.
    mtime: (i64, i64),
    /// Size in bytes.
    size: i64,
}

/// lock_state - the identity of a lock file's current version.
fn lock_state(st: &FileStat) -> LockState {
    LockState {
        dev: st.st_dev,
        ino: st.st_ino,
        mtime: (st.st_mtime, st.st_mtime_nsec),
        size: st.st_size,
    }
}

/// Verdict - what to do about an existing dot-lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    /// It disappeared; try again at once.
    Gone,
    /// Someone holds it; wait.
    Held,
    /// Its holder is gone; remove it.
    Stale(Stale),
}

/// Stale - a dot-lock judged stale: which version, and why (for the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stale {
    /// The version of the lock file judged.
    state: LockState,
    /// Why it is stale.
    reason: &'static str,
}

/// judge - whether the existing dot-lock is stale.
fn judge(
    dir: BorrowedFd<'_>,
    name: &str,
    path: &Path,
    timing: LockTiming,
    watched: &mut Option<(LockState, Instant)>,
) -> Result<Verdict, Error> {
    let Some(st) = stat_at(dir, name, path)? else {
        return Ok(Verdict::Gone);
    };
    let state = lock_state(&st);
    let stale = |reason| Ok(Verdict::Stale(Stale { state, reason }));
    let mtime = u64::try_from(st.st_mtime)
        .ok()
        .and_then(|s| UNIX_EPOCH.checked_add(Duration::from_secs(s)))
        .unwrap_or(UNIX_EPOCH);
    let age = SystemTime::now()
        .duration_since(mtime)
        .unwrap_or(Duration::ZERO);
    if age > timing.stale_after {
        return stale("older than the stale timeout");
    }
    match watched {
        Some((seen, since)) if *seen == state => {
            if since.elapsed() > timing.stale_after {
                return stale("unchanged for the stale timeout");
            }
        }
        _ => *watched = Some((state, Instant::now())),
    }
    if holder_is_dead(dir, name, path)? {
        return stale("its process no longer exists");
    }
    Ok(Verdict::Held)
}

/// holder_is_dead - whether the dot-lock names a process of this host
/// that no longer exists.
fn holder_is_dead(dir: BorrowedFd<'_>, name: &str, path: &Path) -> Result<bool, Error> {
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let fd = match nix::fcntl::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ELOOP) => return Ok(false),
        Err(errno) => return Err(errno_err("open", path)(errno)),
    };
    let mut content = Vec::new();
    File::from(fd)
        .take(256)
        .read_to_end(&mut content)
        .map_err(io_err("read", path))?;
    let Some((pid, host)) = parse_holder(&content) else {
        return Ok(false);
    };
    if host != hostname().as_bytes() {
        return Ok(false);
    }
    Ok(matches!(
        nix::sys::signal::kill(Pid::from_raw(pid), None),
        Err(Errno::ESRCH)
    ))
}

/// parse_holder - `PID:HOST` from a dot-lock's content.
fn parse_holder(content: &[u8]) -> Option<(i32, &[u8])> {
    let colon = content.iter().position(|&b| b == b':')?;
    let (pid, host) = content.split_at(colon);
    let pid: i32 = std::str::from_utf8(pid).ok()?.trim().parse().ok()?;
    let host = host.get(1..)?;
    let host = host.strip_suffix(b"\n").unwrap_or(host);
    (pid > 0).then_some((pid, host))
}

/// hostname - this host's name, as dot-locks record it.
fn hostname() -> OsString {
    nix::unistd::gethostname().unwrap_or_default()
}

/// same_file - whether two stat results describe the same file.
fn same_file(a: &FileStat, b: &FileStat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holders_parse() {
        assert_eq!(parse_holder(b"123:host"), Some((123, &b"host"[..])));
        assert_eq!(parse_holder(b"123:host\n"), Some((123, &b"host"[..])));
        assert_eq!(parse_holder(b"123:"), Some((123, &b""[..])));
        assert_eq!(parse_holder(b"0:host"), None);
        assert_eq!(parse_holder(b"-5:host"), None);
        assert_eq!(parse_holder(b"x:host"), None);
        assert_eq!(parse_holder(b"123"), None);
        assert_eq!(parse_holder(b"3 V1 N2\n"), None);
    }
}
