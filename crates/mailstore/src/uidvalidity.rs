//! uidvalidity - UIDVALIDITY values for new folders, handed out the way
//! Dovecot hands them out, from files in the mailbox's root.
//!
//! IMAP requires that a folder deleted (or renamed away) and created
//! again under the same name gets a UIDVALIDITY it never had, or clients
//! would take the new folder's UIDs for the old one's. A value from the
//! clock alone fails that when both happen within one second, so Dovecot
//! keeps a per-mailbox counter, and [`Maildir::create_folder`] uses the
//! same one, so that the two never hand out the same value:
//!
//! * `dovecot-uidvalidity` holds the last value handed out, as 8
//!   lower-case hex digits (rewritten in place, never truncated);
//! * an empty file `dovecot-uidvalidity.XXXXXXXX` (mode 0444) names the
//!   same value. Taking the next value means renaming that file to the
//!   next number: rename(2) succeeds for exactly one of several racing
//!   processes, the others find the old name gone and move on to the
//!   following number (ten tries).
//!
//! When the main file is missing or unreadable, the largest marker file
//! found in the root is the current value (a second, smaller one is
//! removed); with no marker either, a first one is created from the
//! clock. When nothing works (a read-only root, say), the value comes
//! from the clock, raised by one for each value this process handed out
//! in the same second: creating the folder matters more than the
//! counter, and that is what Dovecot does too.
//!
//! [`Maildir::create_folder`]: crate::Maildir::create_folder

use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{Mode, fstat};
use nix::unistd::{UnlinkatFlags, unlinkat};

use crate::error::{Error, errno_err, io_err};
use crate::fsutil::{for_each_entry, match_dir_owner, read_file_at};

/// The counter file's name, in the mailbox's root.
pub(crate) const UIDVALIDITY_FILE: &str = "dovecot-uidvalidity";

/// How many following numbers to try when another process took one.
const ATTEMPTS: u32 = 10;

/// The last value [`fallback`] gave.
static LAST_FALLBACK: AtomicU32 = AtomicU32::new(0);

/// next - a fresh UIDVALIDITY for a new folder of the mailbox whose root
/// is open as `root`. Never fails: see the module notes.
pub(crate) fn next(root: BorrowedFd<'_>, root_path: &Path) -> u32 {
    match claim_next(root, root_path) {
        Ok(value) => value,
        Err(e) => {
            tracing::warn!(path = %root_path.join(UIDVALIDITY_FILE).display(), error = %e, "cannot use the UIDVALIDITY counter; using the clock");
            fallback()
        }
    }
}

/// How many times the whole claim is started again when so many processes
/// race that every number tried was taken (many sessions of one user
/// creating their special-use folders at their first login at once).
const ROUNDS: u32 = 8;

/// claim_next - the counter's next value, taken by renaming its marker;
/// the race lost [`ATTEMPTS`] times in a row starts again from the files.
fn claim_next(root: BorrowedFd<'_>, root_path: &Path) -> Result<u32, Error> {
    let mut last = None;
    for _ in 0..ROUNDS {
        match claim_once(root, root_path) {
            Err(Error::Io {
                op: "claim UIDVALIDITY",
                source,
                path,
            }) if source.kind() == std::io::ErrorKind::NotFound => {
                last = Some(Error::Io {
                    op: "claim UIDVALIDITY",
                    source,
                    path,
                });
            }
            other => return other,
        }
    }
    Err(last.unwrap_or(Error::NoUniqueName {
        dir: root_path.to_path_buf(),
        attempts: ATTEMPTS,
    }))
}

/// claim_once - one try of [`claim_next`].
fn claim_once(root: BorrowedFd<'_>, root_path: &Path) -> Result<u32, Error> {
    let current = read_file_at(root, root_path, UIDVALIDITY_FILE, 64, "UIDVALIDITY counter")
        .ok()
        .flatten()
        .and_then(|data| parse_hex(&data));
    if let Some(current) = current
        && let Some(value) = rename_marker(root, root_path, current)?
    {
        write_counter(root, root_path, value)?;
        return Ok(value);
    }
    rescan(root, root_path)
}

/// rescan - find the current value from the marker files (or start one),
/// then claim the next.
fn rescan(root: BorrowedFd<'_>, root_path: &Path) -> Result<u32, Error> {
    let mut values = Vec::new();
    for_each_entry(root, root_path, |name, _| {
        if let Some(value) = marker_value(name) {
            values.push(value);
        }
    })?;
    let (Some(&min), Some(&max)) = (values.iter().min(), values.iter().max()) else {
        return start(root, root_path);
    };
    if min != max {
        let name = marker_name(min);
        match unlinkat(root, name.as_str(), UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(errno) => return Err(errno_err("remove", &root_path.join(&name))(errno)),
        }
    }
    match rename_marker(root, root_path, max)? {
        Some(value) => {
            write_counter(root, root_path, value)?;
            Ok(value)
        }
        None => Err(Error::Io {
            op: "claim UIDVALIDITY",
            path: root_path.join(marker_name(max)),
            source: std::io::Error::from(Errno::ENOENT),
        }),
    }
}

/// start - create the first marker, from the clock.
fn start(root: BorrowedFd<'_>, root_path: &Path) -> Result<u32, Error> {
    for _ in 0..ATTEMPTS {
        let value = fallback();
        let name = marker_name(value);
        let path = root_path.join(&name);
        match nix::fcntl::openat(
            root,
            name.as_str(),
            OFlag::O_RDONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o444),
        ) {
            Ok(fd) => {
                let root_st = fstat(root).map_err(errno_err("stat", root_path))?;
                match_dir_owner(&fd, &root_st, &path)?;
                write_counter(root, root_path, value)?;
                return Ok(value);
            }
            Err(Errno::EEXIST) => continue,
            Err(errno) => return Err(errno_err("create", &path)(errno)),
        }
    }
    Err(Error::NoUniqueName {
        dir: root_path.to_path_buf(),
        attempts: ATTEMPTS,
    })
}

/// rename_marker - claim the value after `current` by renaming its
/// marker; when another process got there first, the one after that,
/// and so on. None if every try found the marker gone.
fn rename_marker(
    root: BorrowedFd<'_>,
    root_path: &Path,
    mut current: u32,
) -> Result<Option<u32>, Error> {
    for _ in 0..ATTEMPTS {
        let Some(next) = current.checked_add(1) else {
            return Ok(None);
        };
        let from = marker_name(current);
        let to = marker_name(next);
        match nix::fcntl::renameat(root, from.as_str(), root, to.as_str()) {
            Ok(()) => return Ok(Some(next)),
            Err(Errno::ENOENT) => current = next,
            Err(errno) => return Err(errno_err("rename", &root_path.join(&from))(errno)),
        }
    }
    Ok(None)
}

/// write_counter - store `value` in the main counter file.
fn write_counter(root: BorrowedFd<'_>, root_path: &Path, value: u32) -> Result<(), Error> {
    let path = root_path.join(UIDVALIDITY_FILE);
    let fd = nix::fcntl::openat(
        root,
        UIDVALIDITY_FILE,
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(errno_err("open", &path))?;
    let root_st = fstat(root).map_err(errno_err("stat", root_path))?;
    match_dir_owner(fd.as_fd(), &root_st, &path)?;
    std::fs::File::from(fd)
        .write_all_at(format!("{value:08x}").as_bytes(), 0)
        .map_err(io_err("write", &path))
}

/// fallback - the clock, or one more than the last value given here.
fn fallback() -> u32 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
        .unwrap_or(1)
        .max(1);
    let mut last = LAST_FALLBACK.load(Ordering::Relaxed);
    loop {
        let value = if last < now {
            now
        } else {
            last.saturating_add(1)
        };
        match LAST_FALLBACK.compare_exchange(last, value, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return value,
            Err(seen) => last = seen,
        }
    }
}

/// marker_name - `dovecot-uidvalidity.XXXXXXXX`.
fn marker_name(value: u32) -> String {
    format!("{UIDVALIDITY_FILE}.{value:08x}")
}

/// marker_value - the value a marker file name stands for.
fn marker_value(name: &[u8]) -> Option<u32> {
    let hex = name
        .strip_prefix(UIDVALIDITY_FILE.as_bytes())?
        .strip_prefix(b".")?;
    parse_hex(hex)
}

/// parse_hex - a nonzero u32 written in hex digits (surrounding white
/// space allowed).
fn parse_hex(data: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(data).ok()?.trim();
    if text.is_empty() || text.len() > 8 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(text, 16).ok().filter(|&v| v != 0)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;
    use crate::fsutil::open_dir;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with(UIDVALIDITY_FILE))
            .collect();
        names.sort();
        names
    }

    #[test]
    fn many_racing_claims_all_come_from_the_counter() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("dovecot-uidvalidity"), "00000064").unwrap();
        fs::write(dir.path().join("dovecot-uidvalidity.00000064"), "").unwrap();
        let path = dir.path().to_owned();
        let start = std::sync::Arc::new(std::sync::Barrier::new(64));
        let threads: Vec<_> = (0..64)
            .map(|_| {
                let (path, start) = (path.clone(), start.clone());
                std::thread::spawn(move || {
                    let fd = open_dir(&path).unwrap();
                    start.wait();
                    (0..4)
                        .map(|_| next(fd.as_fd(), &path))
                        .collect::<Vec<u32>>()
                })
            })
            .collect();
        let mut values: Vec<u32> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        values.sort_unstable();
        // Consecutive from the counter: nobody fell back to the clock.
        assert_eq!(values, (101..=356).collect::<Vec<u32>>());
    }

    #[test]
    fn values_count_up_from_the_clock_and_markers_follow() {
        let dir = tempfile::tempdir().unwrap();
        let fd = open_dir(dir.path()).unwrap();
        let first = next(fd.as_fd(), dir.path());
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(u64::from(first) + 5 >= now, "{first} vs {now}");
        let second = next(fd.as_fd(), dir.path());
        let third = next(fd.as_fd(), dir.path());
        assert_eq!((second, third), (first + 1, first + 2));
        assert_eq!(
            fs::read_to_string(dir.path().join(UIDVALIDITY_FILE)).unwrap(),
            format!("{third:08x}")
        );
        assert_eq!(
            names(dir.path()),
            vec![UIDVALIDITY_FILE.to_owned(), marker_name(third)]
        );
    }

    #[test]
    fn dovecot_state_is_continued() {
        // What Dovecot leaves: the counter and its marker.
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(UIDVALIDITY_FILE), "6b1177fd").unwrap();
        fs::write(dir.path().join("dovecot-uidvalidity.6b1177fd"), "").unwrap();
        let fd = open_dir(dir.path()).unwrap();
        assert_eq!(next(fd.as_fd(), dir.path()), 0x6b1177fe);
        assert_eq!(
            names(dir.path()),
            vec![
                UIDVALIDITY_FILE.to_owned(),
                "dovecot-uidvalidity.6b1177fe".to_owned()
            ]
        );
    }

    #[test]
    fn a_lost_counter_is_rebuilt_from_the_markers() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("dovecot-uidvalidity.00000010"), "").unwrap();
        fs::write(dir.path().join("dovecot-uidvalidity.00000020"), "").unwrap();
        fs::write(dir.path().join(UIDVALIDITY_FILE), "garbage!").unwrap();
        let fd = open_dir(dir.path()).unwrap();
        assert_eq!(next(fd.as_fd(), dir.path()), 0x21);
        assert_eq!(
            names(dir.path()),
            vec![
                UIDVALIDITY_FILE.to_owned(),
                "dovecot-uidvalidity.00000021".to_owned()
            ]
        );
        // A counter behind the marker (another process moved on): the
        // rename chain catches up.
        fs::write(dir.path().join(UIDVALIDITY_FILE), "0000001e").unwrap();
        assert_eq!(next(fd.as_fd(), dir.path()), 0x22);
    }

    #[test]
    fn racing_processes_never_share_a_value() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        {
            let fd = open_dir(&path).unwrap();
            next(fd.as_fd(), &path);
        }
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let fd = open_dir(&path).unwrap();
                    (0..5).map(|_| next(fd.as_fd(), &path)).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all: Vec<u32> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "{all:?}");
    }

    #[test]
    fn hex_parses_strictly() {
        assert_eq!(parse_hex(b"6b1177fd"), Some(0x6b1177fd));
        assert_eq!(parse_hex(b"6b1177fd\n"), Some(0x6b1177fd));
        assert_eq!(parse_hex(b""), None);
        assert_eq!(parse_hex(b"00000000"), None);
        assert_eq!(parse_hex(b"123456789"), None);
        assert_eq!(parse_hex(b"xyz"), None);
        assert_eq!(marker_value(b"dovecot-uidvalidity.0000abcd"), Some(0xabcd));
        assert_eq!(marker_value(b"dovecot-uidvalidity"), None);
        assert_eq!(marker_value(b"dovecot-uidlist"), None);
    }
}
