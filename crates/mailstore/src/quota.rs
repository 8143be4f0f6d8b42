//! quota - how much a mailbox holds, for quota checks at delivery.
//!
//! A mailbox's usage is the sum over the messages in `new/` and `cur/` of
//! its root Maildir and of every Maildir++ folder (`.Name`). A message's
//! size comes from the `,S=` field of its file name (this crate and
//! Dovecot always write one), so counting costs a directory listing and no
//! stat; only files without the field are stat'ed.
//!
//! XXX: every quota-checked delivery lists the whole mailbox, which costs
//! about a millisecond per ten thousand messages. Maildir++'s
//! `maildirsize` file caches the sum, but keeping it correct needs every
//! reader that expunges to update it, so it waits for the read side
//! (imapd, pop3d) to exist; until then very large mailboxes pay the scan.
//!
//! The listing is not atomic: a message moved from `new/` to `cur/` by a
//! reader while we scan may be missed, and two concurrent deliveries may
//! both pass a check that only one of them should. Quota is a soft limit.

use std::ffi::OsStr;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::dir::{Dir, Type};

use crate::error::{Error, errno_err};
use crate::fsutil::{Kind, kind, open_dir, open_dir_at, stat_at};
use crate::name::size_field;

/// Usage - what a mailbox holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Total size of the stored message files in bytes (LF line endings,
    /// as counted against `quota_bytes`).
    pub bytes: u64,
    /// Number of messages.
    pub messages: u64,
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes in {} messages", self.bytes, self.messages)
    }
}

/// QuotaLimit - which quota a delivery would exceed, and its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaLimit {
    /// The limit on total bytes ([`DeliverOptions::quota_bytes`](crate::DeliverOptions::quota_bytes)).
    Bytes(u64),
    /// The limit on the number of messages ([`DeliverOptions::quota_messages`](crate::DeliverOptions::quota_messages)).
    Messages(u64),
}

impl fmt::Display for QuotaLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuotaLimit::Bytes(n) => write!(f, "{n} bytes"),
            QuotaLimit::Messages(n) => write!(f, "{n} messages"),
        }
    }
}

/// mailbox_usage - the usage of the mailbox whose root Maildir is `root`.
pub(crate) fn mailbox_usage(root: &Path) -> Result<Usage, Error> {
    let root_fd = open_dir(root)?;
    let mut usage = Usage::default();
    add_maildir(root_fd.as_fd(), root, &mut usage)?;
    for folder in folder_names(root_fd.as_fd(), root)? {
        let path = root.join(&folder);
        let folder_fd = match open_dir_at(root_fd.as_fd(), &folder, &path) {
            Ok(fd) => fd,
            // Gone since the listing, or not a folder after all.
            Err(Error::Symlink { .. } | Error::NotADirectory { .. }) => continue,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        };
        add_maildir(folder_fd.as_fd(), &path, &mut usage)?;
    }
    Ok(usage)
}

/// folder_names - the `.Name` directories in a mailbox's root.
fn folder_names(root_fd: BorrowedFd<'_>, root: &Path) -> Result<Vec<std::ffi::OsString>, Error> {
    let fd = root_fd
        .try_clone_to_owned()
        .map_err(crate::error::io_err("dup directory", root))?;
    let mut dir = Dir::from_fd(fd).map_err(errno_err("read directory", root))?;
    let mut names = Vec::new();
    for entry in dir.iter() {
        let entry = entry.map_err(errno_err("read directory", root))?;
        let name = entry.file_name().to_bytes();
        // `.Name` only: not `.` and `..`, nor the hidden work directories
        // of folder creates and deletes (`..postern-trash.X`).
        if name.first() != Some(&b'.') || name.len() < 2 || name.get(1) == Some(&b'.') {
            continue;
        }
        let name = OsStr::from_bytes(name).to_os_string();
        let is_dir = match entry.file_type() {
            Some(Type::Directory) => true,
            Some(_) => false,
            // The file system does not say; ask.
            None => {
                stat_at(root_fd, name.as_os_str(), root)?.is_some_and(|st| kind(&st) == Kind::Dir)
            }
        };
        if is_dir {
            names.push(name);
        }
    }
    Ok(names)
}

/// add_maildir - add the messages in `cur/` and `new/` of one Maildir.
fn add_maildir(maildir: BorrowedFd<'_>, path: &Path, usage: &mut Usage) -> Result<(), Error> {
    // cur/ first: a message moved from new/ to cur/ during the scan is
    // then missed rather than counted twice (under-counting never refuses
    // mail wrongly).
    for sub in ["cur", "new"] {
        let sub_path = path.join(sub);
        let fd = match open_dir_at(maildir, OsStr::new(sub), &sub_path) {
            Ok(fd) => fd,
            Err(e) if e.is_not_found() => continue,
            Err(e) => return Err(e),
        };
        let listing = fd
            .try_clone()
            .map_err(crate::error::io_err("dup directory", &sub_path))?;
        let mut dir = Dir::from_fd(listing).map_err(errno_err("read directory", &sub_path))?;
        for entry in dir.iter() {
            let entry = entry.map_err(errno_err("read directory", &sub_path))?;
            let name = entry.file_name();
            if name.to_bytes().first() == Some(&b'.') {
                continue;
            }
            let size = match std::str::from_utf8(name.to_bytes())
                .ok()
                .and_then(|n| size_field(n, 'S'))
            {
                Some(size) => size,
                None => match stat_at(fd.as_fd(), name, &sub_path)? {
                    Some(st) if kind(&st) == Kind::File => u64::try_from(st.st_size).unwrap_or(0),
                    // Vanished since the listing, or not a message file.
                    _ => continue,
                },
            };
            usage.bytes = usage.bytes.saturating_add(size);
            usage.messages += 1;
        }
    }
    Ok(())
}
