//! error - what can go wrong in the mail store, with the path it concerns.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::unistd::Uid;

use crate::quota::{QuotaLimit, Usage};

/// Errors of this crate. Every variant names the path involved.
///
/// [`Error::is_temporary`] sorts them for a delivery agent: temporary means
/// "keep the mail and try again later" (4.x.x), the rest is permanent
/// (5.x.x). [`Error::OverQuota`] is neither by itself: whether a full
/// mailbox defers or bounces is configuration, so the caller matches it
/// before asking `is_temporary`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed; `op` says what we were doing.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What we were doing, e.g. "create file", "fsync directory".
        op: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Reading the message from the caller's reader failed; nothing was stored.
    #[error("read message for {}: {source}", path.display())]
    ReadMessage {
        /// The Maildir or mbox file the message was going to.
        path: PathBuf,
        /// The reader's error.
        #[source]
        source: io::Error,
    },
    /// A path where a directory or file was expected is a symbolic link;
    /// refused, so that nothing is written through a link a user planted.
    #[error("{}: is a symbolic link, refusing to follow it", path.display())]
    Symlink {
        /// The offending path.
        path: PathBuf,
    },
    /// A path that must be a directory exists and is something else.
    #[error("{}: exists and is not a directory", path.display())]
    NotADirectory {
        /// The offending path.
        path: PathBuf,
    },
    /// An mbox file exists and is not a regular file (a directory, FIFO, device…).
    #[error("{}: exists and is not a regular file", path.display())]
    NotARegularFile {
        /// The offending path.
        path: PathBuf,
    },
    /// An mbox file has more than one hard link: appending to it could
    /// write into a file the owner of the other name controls.
    #[error("{}: has {links} hard links, refusing to append to it", path.display())]
    HardLinked {
        /// The offending path.
        path: PathBuf,
        /// Its link count.
        links: u64,
    },
    /// A Maildir directory is not owned by the expected user.
    #[error("{}: owned by uid {found}, expected uid {expected}", path.display())]
    WrongOwner {
        /// The offending directory.
        path: PathBuf,
        /// The uid given to [`Maildir::ensure`](crate::Maildir::ensure).
        expected: Uid,
        /// The uid that owns it.
        found: Uid,
    },
    /// A path that cannot name a mail store (empty, or with a `..` component).
    #[error("{}: invalid mail store path: {reason}", path.display())]
    InvalidPath {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A Maildir++ folder name that is not allowed (see [`Maildir::folder`](crate::Maildir::folder)).
    #[error("invalid folder name {name:?}: {reason}")]
    InvalidFolderName {
        /// The name given (possibly not printable; shown with escapes).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The delivery would take the mailbox over its quota; nothing was stored.
    #[error("{}: mailbox over quota: {usage} in use, limit {limit}", path.display())]
    OverQuota {
        /// The Maildir delivered to.
        path: PathBuf,
        /// The whole mailbox's usage before this delivery.
        usage: Usage,
        /// The limit that would be exceeded.
        limit: QuotaLimit,
    },
    /// A file stayed locked by someone else for too long: an mbox file,
    /// or a Maildir's UID list (its flock or its dot-lock).
    #[error("{}: still locked by another process after {waited:?}", path.display())]
    LockTimeout {
        /// The mbox file, UID list or dot-lock file.
        path: PathBuf,
        /// How long we tried.
        waited: Duration,
    },
    /// Every fresh unique name tried was taken (should never happen: the
    /// names hold the time, pid, a counter and random bits).
    #[error("{}: no free unique name after {attempts} attempts", dir.display())]
    NoUniqueName {
        /// The directory (`tmp/` or `new/`).
        dir: PathBuf,
        /// How many names were tried.
        attempts: u32,
    },
    /// A UID that the [`Mailbox`](crate::Mailbox) view does not have (a
    /// caller's bug: UIDs come from [`Mailbox::messages`](crate::Mailbox::messages)).
    #[error("{}: no message with UID {uid} in this view", path.display())]
    UnknownUid {
        /// The Maildir.
        path: PathBuf,
        /// The UID asked for.
        uid: u32,
    },
    /// The folder has given out every 32-bit UID; it needs a new
    /// UIDVALIDITY (remove its `dovecot-uidlist`), which makes clients
    /// download it again.
    #[error("{}: no UIDs left to give to new messages", path.display())]
    UidsExhausted {
        /// The Maildir.
        path: PathBuf,
    },
    /// A folder that already exists: the name given to
    /// [`Maildir::create_folder`](crate::Maildir::create_folder), or the
    /// target of a rename (IMAP `NO [ALREADYEXISTS]`). Nothing was changed.
    #[error("{}: folder {name:?} already exists", path.display())]
    FolderExists {
        /// The folder name (IMAP form, `.` separated).
        name: String,
        /// Its directory.
        path: PathBuf,
    },
    /// A folder that does not exist, or exists only as the parent of
    /// others (IMAP `\Noselect`): what was to be deleted or renamed
    /// (IMAP `NO [NONEXISTENT]`). Nothing was changed.
    #[error("{}: folder {name:?} does not exist", path.display())]
    NoSuchFolder {
        /// The folder name (IMAP form, `.` separated).
        name: String,
        /// Its directory.
        path: PathBuf,
    },
    /// A keyword name that is not an IMAP atom (see
    /// [`is_valid_keyword`](crate::is_valid_keyword)); a caller's bug or
    /// a client's bad input, nothing was changed.
    #[error("invalid keyword {name:?}: {reason}")]
    InvalidKeyword {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl Error {
    /// is_temporary - whether a delivery failing with this error should be
    /// retried later (true) or bounced (false).
    ///
    /// Temporary: resource and environment problems an administrator or
    /// time can fix: disk full (ENOSPC, EDQUOT), I/O errors, permissions
    /// (EACCES, EPERM), a read-only file system, a lock held too long, a
    /// failing message reader, a directory with the wrong owner, and any
    /// errno not listed as permanent (deferring is the safe default).
    /// Permanent: the target can never work as given: not a directory,
    /// a symbolic link, not a regular file, several hard links, an invalid
    /// path or folder name, a folder that exists or does not (for folder
    /// management), ENOTDIR/ELOOP/ENAMETOOLONG/EISDIR from the kernel. [`Error::OverQuota`] returns true here; callers that bounce
    /// over-quota mail must match it first.
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Io { source, .. } => is_temporary_io(source),
            Error::ReadMessage { .. }
            | Error::WrongOwner { .. }
            | Error::OverQuota { .. }
            | Error::LockTimeout { .. }
            | Error::NoUniqueName { .. } => true,
            Error::Symlink { .. }
            | Error::NotADirectory { .. }
            | Error::NotARegularFile { .. }
            | Error::HardLinked { .. }
            | Error::InvalidPath { .. }
            | Error::InvalidFolderName { .. }
            | Error::FolderExists { .. }
            | Error::NoSuchFolder { .. }
            | Error::UnknownUid { .. }
            | Error::UidsExhausted { .. }
            | Error::InvalidKeyword { .. } => false,
        }
    }

    /// is_over_quota - the delivery was refused by the quota check.
    pub fn is_over_quota(&self) -> bool {
        matches!(self, Error::OverQuota { .. })
    }

    /// is_no_space - the file system is full (ENOSPC). Temporary; for a
    /// delivery agent the whole mail store is full (RFC 3463 X.3.1, "mail
    /// system full"), not this mailbox.
    pub fn is_no_space(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.raw_os_error() == Some(Errno::ENOSPC as i32))
    }
}

impl Error {
    /// is_not_found - a system call said ENOENT: for a reader, the
    /// Maildir does not exist yet (no mail was ever delivered to it).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// is_temporary_io - sort a kernel error: only errors that no retry can
/// fix are permanent.
fn is_temporary_io(e: &io::Error) -> bool {
    match e.raw_os_error().map(Errno::from_raw) {
        Some(Errno::ENOTDIR | Errno::ELOOP | Errno::ENAMETOOLONG | Errno::EISDIR) => false,
        Some(_) => true,
        // Not from the kernel: std reports a NUL byte in a path as InvalidInput.
        None => e.kind() != io::ErrorKind::InvalidInput,
    }
}

/// io_err - wrap an io::Error with what we did and to which path.
pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { op, path, source }
}

/// errno_err - wrap an Errno from nix with what we did and to which path.
pub(crate) fn errno_err(op: &'static str, path: &Path) -> impl FnOnce(Errno) -> Error {
    let path = path.to_path_buf();
    move |errno| Error::Io {
        op,
        path,
        source: io::Error::from(errno),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_enospc_is_no_space() {
        let cases = [
            ("ENOSPC", Errno::ENOSPC, true),
            ("EDQUOT", Errno::EDQUOT, false),
            ("EIO", Errno::EIO, false),
            ("EACCES", Errno::EACCES, false),
        ];
        for (name, errno, want) in cases {
            let e = errno_err("write", Path::new("/m/tmp/x"))(errno);
            assert_eq!(e.is_no_space(), want, "{name}");
            assert!(e.is_temporary(), "{name}");
        }
        let other = Error::NoUniqueName {
            dir: PathBuf::from("/m/tmp"),
            attempts: 8,
        };
        assert!(!other.is_no_space());
    }
}
