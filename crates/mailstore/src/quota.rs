//! quota - how much a mailbox holds, for quota checks at delivery.
//!
//! A mailbox's usage is the sum over the messages in `new/` and `cur/` of
//! its root Maildir and of every Maildir++ folder (`.Name`). A message's
//! size comes from the `,S=` field of its file name (this crate and
//! Dovecot always write one), so counting costs a directory listing and no
//! stat; only files without the field are stat'ed.
//!
//! ## The `maildirsize` file
//!
//! Listing the whole mailbox for every delivery costs about a millisecond
//! per ten thousand messages, so quota-checked deliveries keep the sum in
//! the root's `maildirsize` file, as Maildir++ (Courier, Dovecot's
//! `maildir` quota) does: a first line with the limits (`51200000S`,
//! `1000C`, or both joined by a comma), then lines of `BYTES COUNT`, the
//! first the sum at the last count and each later one a change appended
//! by whoever stored (`+`) or removed (`-`) messages. A check reads the
//! file and adds the lines up.
//!
//! The mailbox is counted again (and the file rewritten with one line)
//! when the file is missing, unreadable, bigger than 5,120 bytes, ends in
//! a partial line or gives a negative sum, when its limits are not the
//! ones being checked, and whenever the sum says a message does not fit:
//! a refusal is always based on a fresh count. Deliveries, APPEND, COPY
//! and expunges by this crate append their lines; a tool that changes the
//! Maildir without doing so (mutt deleting mail) leaves the sum off until
//! the next count, which errs towards refusing (and then recounting) when
//! mail was removed, and towards accepting when mail was added.
//!
//! Neither the listing nor the file is atomic: a message moved from
//! `new/` to `cur/` by a reader while we count may be missed, a change
//! appended to a file being replaced is lost, and two concurrent
//! deliveries may both pass a check that only one of them should. Quota
//! is a soft limit.

use std::ffi::OsStr;
use std::fmt::{self, Write as _};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use nix::dir::{Dir, Type};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::deliver::DeliverOptions;
use crate::error::{Error, errno_err};
use crate::fsutil::{FileMode, Kind, kind, open_dir, open_dir_at, replace_cache_file, stat_at};
use crate::maildir::Maildir;
use crate::name::size_field;

/// The Maildir++ quota file in a mailbox's root.
pub(crate) const QUOTA_FILE: &str = "maildirsize";

/// A `maildirsize` bigger than this is counted afresh and rewritten
/// (Maildir++'s rule: the lines of changes stay few).
const QUOTA_FILE_MAX: usize = 5120;

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

/// Tally - a mailbox's usage for a quota check, from `maildirsize` or a
/// fresh count.
#[derive(Debug)]
pub(crate) struct Tally {
    /// The usage.
    pub(crate) usage: Usage,
    /// Whether `usage` comes from counting the mailbox just now.
    fresh: bool,
}

impl Tally {
    /// read - the usage of `maildir`'s mailbox as its `maildirsize` says,
    /// counted afresh (and the file rewritten) when the file cannot be
    /// trusted; see the module notes.
    pub(crate) fn read(maildir: &Maildir, options: &DeliverOptions) -> Result<Tally, Error> {
        let root = maildir.root();
        let definition = definition(options);
        if let Some(usage) = read_quota_file(root, &definition)? {
            return Ok(Tally {
                usage,
                fresh: false,
            });
        }
        Tally::count(root, &definition)
    }

    /// check - refuse if the mailbox is over `options`' quota with `size`
    /// more bytes (None: refuse only if already over). A refusal based on
    /// the file's sum is checked against a fresh count first.
    pub(crate) fn check(
        &mut self,
        maildir: &Maildir,
        options: &DeliverOptions,
        size: Option<u64>,
    ) -> Result<(), Error> {
        match check_quota(maildir, self.usage, options, size) {
            Err(Error::OverQuota { .. }) if !self.fresh => {
                *self = Tally::count(maildir.root(), &definition(options))?;
                check_quota(maildir, self.usage, options, size)
            }
            result => result,
        }
    }

    /// count - count the mailbox at `root` and write `maildirsize` anew.
    fn count(root: &Path, definition: &str) -> Result<Tally, Error> {
        let usage = mailbox_usage(root)?;
        let contents = format!("{definition}\n{} {}\n", usage.bytes, usage.messages);
        let root_fd = open_dir(root)?;
        // Only a cache: without it the next check counts again.
        if let Err(e) = replace_cache_file(
            root_fd.as_fd(),
            root,
            QUOTA_FILE,
            contents.as_bytes(),
            FileMode::LikeDirectory,
        ) {
            tracing::warn!(error = %e, "cannot write the quota file");
        }
        Ok(Tally { usage, fresh: true })
    }
}

/// check_quota - refuse if `usage` plus one message of `size` bytes (None:
/// before the message's size is known, refuse only if the mailbox is
/// already over) is over `options`' quota.
fn check_quota(
    maildir: &Maildir,
    usage: Usage,
    options: &DeliverOptions,
    size: Option<u64>,
) -> Result<(), Error> {
    let over = |limit| Error::OverQuota {
        path: maildir.path().to_path_buf(),
        usage,
        limit,
    };
    if let Some(limit) = options.quota_messages
        && usage.messages.saturating_add(1) > limit
    {
        return Err(over(QuotaLimit::Messages(limit)));
    }
    if let Some(limit) = options.quota_bytes
        && usage.bytes.saturating_add(size.unwrap_or(0)) > limit
    {
        return Err(over(QuotaLimit::Bytes(limit)));
    }
    Ok(())
}

/// definition - the first line of `maildirsize` for `options`' limits.
fn definition(options: &DeliverOptions) -> String {
    let mut line = String::new();
    if let Some(bytes) = options.quota_bytes {
        let _ = write!(line, "{bytes}S");
    }
    if let Some(count) = options.quota_messages {
        if !line.is_empty() {
            line.push(',');
        }
        let _ = write!(line, "{count}C");
    }
    line
}

/// read_quota_file - the usage `root/maildirsize` gives if its limits line
/// is `definition` and it can be trusted (see the module notes).
fn read_quota_file(root: &Path, definition: &str) -> Result<Option<Usage>, Error> {
    let path = root.join(QUOTA_FILE);
    let fd = match nix::fcntl::open(
        &path,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ELOOP) => return Ok(None),
        Err(errno) => return Err(errno_err("open", &path)(errno)),
    };
    let mut data = Vec::with_capacity(512);
    File::from(fd)
        .take(QUOTA_FILE_MAX as u64 + 1)
        .read_to_end(&mut data)
        .map_err(crate::error::io_err("read", &path))?;
    if data.len() > QUOTA_FILE_MAX {
        return Ok(None);
    }
    Ok(parse_quota_file(&data, definition))
}

/// parse_quota_file - the usage a `maildirsize` holds, if its first line
/// is `definition` and every other line is a complete `BYTES COUNT` pair
/// summing to no less than nothing.
pub(crate) fn parse_quota_file(data: &[u8], definition: &str) -> Option<Usage> {
    let text = std::str::from_utf8(data).ok()?;
    let body = text.strip_suffix('\n')?;
    let mut lines = body.split('\n');
    if lines.next()?.trim() != definition {
        return None;
    }
    let (mut bytes, mut messages) = (0i64, 0i64);
    let mut any = false;
    for line in lines {
        let mut fields = line.split_ascii_whitespace();
        let b: i64 = fields.next()?.parse().ok()?;
        let m: i64 = fields.next()?.parse().ok()?;
        if fields.next().is_some() {
            return None;
        }
        bytes = bytes.checked_add(b)?;
        messages = messages.checked_add(m)?;
        any = true;
    }
    if !any {
        return None;
    }
    Some(Usage {
        bytes: u64::try_from(bytes).ok()?,
        messages: u64::try_from(messages).ok()?,
    })
}

/// record - append a change of `bytes` and `messages` to the mailbox's
/// `maildirsize` (whose root is `root`) if it has one; failures are only
/// logged (the file is a cache: a lost line is corrected at a recount).
pub(crate) fn record(root: &Path, bytes: i64, messages: i64) {
    if bytes == 0 && messages == 0 {
        return;
    }
    let path = root.join(QUOTA_FILE);
    let fd = match nix::fcntl::open(
        &path,
        OFlag::O_WRONLY
            | OFlag::O_APPEND
            | OFlag::O_NOFOLLOW
            | OFlag::O_CLOEXEC
            | OFlag::O_NONBLOCK,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENOENT | Errno::ELOOP) => return,
        Err(errno) => {
            tracing::warn!(path = %path.display(), error = %errno, "cannot open the quota file");
            return;
        }
    };
    // One write, so that concurrent appenders do not interleave.
    let line = format!("{bytes} {messages}\n");
    if let Err(e) = File::from(fd).write_all(line.as_bytes()) {
        tracing::warn!(path = %path.display(), error = %e, "cannot update the quota file");
    }
}

/// signed - a size as a `maildirsize` change.
pub(crate) fn signed(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
