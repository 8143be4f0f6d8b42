//! mbox - append a message to an mbox file (`/file` alias targets).
//!
//! The format is mboxrd: each message starts with a `From SENDER DATE`
//! line (asctime date, UTC), has LF line endings, has every line matching
//! `>*From ` quoted with one more `>`, and ends with an empty line. This
//! is what mutt, Dovecot and Postfix's local agent read and write.
//!
//! An append is all or nothing: the file is locked ([`LOCK_TIMEOUT`]),
//! its length noted, the message written and fsynced; on any error the
//! file is truncated back to the noted length, so a failed delivery
//! leaves no partial message behind for the retry to duplicate.

mod date;
mod lock;
mod quote;

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, OFlag};
use nix::sys::stat::{FileStat, Mode, fstat};
use nix::unistd::ftruncate;

use crate::error::{Error, errno_err, io_err};
use crate::fsutil::{Kind, check_path, kind, stat_at};
use crate::lineend::CrlfToLf;
use crate::source::{CHUNK, read_chunk};
use date::asctime_utc;
use quote::FromQuoter;

/// How long [`append`] waits for another process to release the file
/// before failing with [`Error::LockTimeout`] (temporary).
pub const LOCK_TIMEOUT: Duration = Duration::from_secs(20);

/// How many times to reopen a file that was renamed or removed while we
/// waited for its lock.
const REOPEN_ATTEMPTS: u32 = 5;

/// append - append `message` to the mbox file at `path`, creating it
/// (mode 0600) if missing.
///
/// `sender` is the envelope sender for the `From ` line (empty, the null
/// sender, becomes `MAILER-DAEMON`; whitespace and control characters
/// become `_` so the line stays parseable); `arrival` is its date.
/// `message` is read to the end (CRLF or LF line endings); add
/// `Return-Path:` and `Delivered-To:` lines by chaining a reader in front.
///
/// Refuses a symbolic link ([`Error::Symlink`]), anything but a regular
/// file ([`Error::NotARegularFile`]; callers handle `/dev/null`
/// themselves) and a file with several hard links ([`Error::HardLinked`]).
/// Blocking: call from `spawn_blocking`.
pub fn append(
    path: &Path,
    sender: &str,
    arrival: SystemTime,
    message: &mut dyn Read,
) -> Result<(), Error> {
    append_with_timeout(path, sender, arrival, message, LOCK_TIMEOUT)
}

/// append_with_timeout - [`append`] with a given lock timeout.
pub(crate) fn append_with_timeout(
    path: &Path,
    sender: &str,
    arrival: SystemTime,
    message: &mut dyn Read,
    timeout: Duration,
) -> Result<(), Error> {
    check_path(path)?;
    let mut attempts = 0;
    let mut file = loop {
        let file = open(path)?;
        let locked = lock::lock(file, path, timeout)?;
        // A mail reader may have replaced the file (rename over it) while
        // we waited: then we hold the lock on a file nobody will read.
        let ours = fstat(locked.as_fd()).map_err(errno_err("stat", path))?;
        let now = stat_at(AT_FDCWD, path, path)?;
        if now.is_some_and(|st| same_file(&st, &ours)) {
            break locked;
        }
        attempts += 1;
        if attempts >= REOPEN_ATTEMPTS {
            return Err(Error::Io {
                op: "lock",
                path: path.to_path_buf(),
                source: io::Error::other("the file keeps being replaced"),
            });
        }
    };
    let original_len = file.metadata().map_err(io_err("stat", path))?.len();
    match write_message(&mut file, original_len, sender, arrival, message, path) {
        Ok(()) => Ok(()),
        Err(e) => {
            truncate(&file, original_len, path);
            Err(e)
        }
    }
}

/// open - open the mbox for appending, creating it; check it is a plain file.
fn open(path: &Path) -> Result<File, Error> {
    // O_NONBLOCK: opening a FIFO for writing would otherwise wait for a
    // reader; it is refused below anyway. Regular files ignore it.
    let flags = OFlag::O_RDWR
        | OFlag::O_APPEND
        | OFlag::O_CREAT
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_CLOEXEC;
    let fd =
        nix::fcntl::open(path, flags, Mode::from_bits_truncate(0o600)).map_err(
            |errno| match errno {
                Errno::ELOOP => Error::Symlink {
                    path: path.to_path_buf(),
                },
                Errno::EISDIR | Errno::ENXIO => Error::NotARegularFile {
                    path: path.to_path_buf(),
                },
                _ => errno_err("open mbox", path)(errno),
            },
        )?;
    let st = fstat(&fd).map_err(errno_err("stat", path))?;
    if kind(&st) != Kind::File {
        return Err(Error::NotARegularFile {
            path: path.to_path_buf(),
        });
    }
    if st.st_nlink > 1 {
        return Err(Error::HardLinked {
            path: path.to_path_buf(),
            links: st.st_nlink,
        });
    }
    Ok(File::from(fd))
}

/// same_file - two stat results describe the same file.
fn same_file(a: &FileStat, b: &FileStat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

/// write_message - append the `From ` line, the quoted message and the
/// closing empty line, then fsync.
fn write_message(
    file: &mut File,
    original_len: u64,
    sender: &str,
    arrival: SystemTime,
    message: &mut dyn Read,
    path: &Path,
) -> Result<(), Error> {
    let mut out = Vec::with_capacity(CHUNK * 2);
    // The previous message should end with an empty line; if the file does
    // not even end with a newline, our `From ` line must still start a line.
    if original_len > 0 {
        let mut last = [0u8; 1];
        file.read_exact_at(&mut last, original_len - 1)
            .map_err(io_err("read", path))?;
        if last != *b"\n" {
            out.push(b'\n');
        }
    }
    out.extend_from_slice(
        format!(
            "From {} {}\n",
            envelope_sender(sender),
            asctime_utc(arrival)
        )
        .as_bytes(),
    );

    let mut lf = CrlfToLf::default();
    let mut quoter = FromQuoter::default();
    let mut converted = Vec::with_capacity(CHUNK);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let chunk = read_chunk(message, &mut buf, path)?;
        if chunk.is_empty() {
            break;
        }
        converted.clear();
        lf.push(chunk, &mut converted);
        quoter.push(&converted, &mut out);
        if out.len() >= CHUNK {
            file.write_all(&out).map_err(io_err("write", path))?;
            out.clear();
        }
    }
    converted.clear();
    lf.finish(&mut converted);
    quoter.push(&converted, &mut out);
    quoter.finish(&mut out);
    // End the last line, then the empty line that separates messages.
    if lf.last().is_some_and(|b| b != b'\n') {
        out.push(b'\n');
    }
    out.push(b'\n');
    file.write_all(&out).map_err(io_err("write", path))?;
    file.sync_all().map_err(io_err("fsync", path))
}

/// envelope_sender - the sender as written in the `From ` line.
fn envelope_sender(sender: &str) -> String {
    if sender.is_empty() {
        return "MAILER-DAEMON".to_owned();
    }
    sender
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// truncate - cut the file back to `len` after a failed append.
fn truncate(file: &File, len: u64, path: &Path) {
    let result = i64::try_from(len)
        .map_err(|_| Errno::EOVERFLOW)
        .and_then(|len| ftruncate(file, len))
        .and_then(|()| nix::unistd::fsync(file));
    if let Err(e) = result {
        // XXX: a partial message stays in the file; nothing better to do
        // than say so (the retry appends a whole copy after it).
        tracing::error!(path = %path.display(), error = %e, "cannot truncate mbox after failed append");
    }
}
