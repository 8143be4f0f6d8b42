//! append - IMAP APPEND: store a message with flags and an internal
//! date, and give it its UID at once (for APPENDUID).
//!
//! ## How it goes
//!
//! 1. As in delivery (the `deliver` module): a fresh file in `tmp/`,
//!    the message written with CRLF turned into LF, the internal date
//!    set as the file's modification time, fsync. Quota is checked before
//!    and after, as for delivery. No lock is held while the client's
//!    data is written.
//! 2. Under the folder's UID list lock (the `uidlock` module), the file
//!    is linked into `cur/` as `UNIQUE,S=SIZE,W=WIRESIZE:2,FLAGS`, `cur/`
//!    is fsynced, and the next UID is given to it in `dovecot-uidlist`,
//!    which is replaced whole. Since the file appears in `cur/` only
//!    while the lock is held, no other session (Postern's or Dovecot's)
//!    can give it a UID first, and UIDs follow the order of appends.
//! 3. The lock is released and the tmp name removed.
//!
//! Any error before the UID list is written takes the new name out of
//! `cur/` again (and fsyncs), so the folder is as it was and the client
//! may retry without a duplicate. A crash after the link but before the
//! list is written leaves the message stored without a UID; the next scan
//! gives it one (the client got no APPENDUID, which RFC 4315 allows).
//!
//! The message lands in `new/`, where the next session to open the folder
//! sees it as `\Recent`, as IMAP asks of every appended message; its flags,
//! if any, are in its name already (`:2,FLAGS`), which Postern's and
//! Dovecot's readers both take from `new/` as from `cur/`.
//!
//! ## The internal date
//!
//! IMAP's INTERNALDATE of a Maildir message is its file's modification
//! time, in Dovecot and in [`Mailbox`](crate::Mailbox) alike, so APPEND's
//! date argument is stored as that (to the second on the wire; the file
//! keeps what it is given). COPY keeps it: a hard link is the same file,
//! and a copied file gets the original's time.

use std::ffi::OsStr;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use nix::unistd::{UnlinkatFlags, fsync, unlinkat};

use crate::deliver::{DeliverOptions, TmpFile, publish};
use crate::error::{Error, errno_err};
use crate::flags::{Flags, INFO_PREFIX};
use crate::fsutil::open_dir_at;
use crate::mailbox::Location;
use crate::maildir::Maildir;
use crate::name::with_sizes;
use crate::quota::{self, signed};
use crate::uidlist::{UidList, base_name};
use crate::uidlock::{self, LockTiming};

/// Appended - what [`Maildir::append`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Appended {
    /// The folder's UIDVALIDITY when the UID was given (APPENDUID's first
    /// number).
    pub uidvalidity: u32,
    /// The message's UID (APPENDUID's second number).
    pub uid: u32,
    /// The file: `DIR/new/UNIQUE,S=SIZE,W=WIRESIZE:2,FLAGS`, without the
    /// `:2,` suffix when there are no flags.
    pub path: PathBuf,
    /// Bytes stored (LF line endings): the `,S=` field.
    pub size: u64,
    /// Bytes on the wire (CRLF line endings), IMAP's RFC822.SIZE: the
    /// `,W=` field.
    pub wire_size: u64,
}

impl Maildir {
    /// append - store `message` in this Maildir's `cur/` with `flags` and,
    /// if given, `internal_date` (else now), and give it the next UID;
    /// see the module notes for the steps and their crash safety.
    ///
    /// `message` is read to its end, in CRLF or LF form (a byte slice is
    /// `&mut &bytes[..]`); it is stored with LF line endings. `flags` may
    /// hold keyword letters: they must be this folder's, from
    /// [`Keywords::letter_for`](crate::Keywords::letter_for) on the same
    /// Maildir. `options` sets the quota, as for [`Maildir::deliver`]
    /// ([`Error::OverQuota`], nothing stored). The Maildir must exist
    /// ([`Maildir::ensure`]). A UID list lock held too long is
    /// [`Error::LockTimeout`], and nothing is stored. Blocking.
    pub fn append(
        &self,
        message: &mut dyn Read,
        flags: Flags,
        internal_date: Option<SystemTime>,
        options: &DeliverOptions,
    ) -> Result<Appended, Error> {
        self.append_with(message, flags, internal_date, options, LockTiming::DEFAULT)
    }

    /// append_with - [`Maildir::append`] with other lock timing.
    pub(crate) fn append_with(
        &self,
        message: &mut dyn Read,
        flags: Flags,
        internal_date: Option<SystemTime>,
        options: &DeliverOptions,
        timing: LockTiming,
    ) -> Result<Appended, Error> {
        let dir_fd = self.open()?;
        let tmp_path = self.path().join("tmp");
        let location = Location::New;
        let cur_path = self.path().join(location.dir_name());
        let tmp_fd = open_dir_at(dir_fd.as_fd(), OsStr::new("tmp"), &tmp_path)?;
        let cur_fd = open_dir_at(dir_fd.as_fd(), OsStr::new(location.dir_name()), &cur_path)?;
        let (tmp, counts) = self.write_tmp(
            tmp_fd.as_fd(),
            cur_fd.as_fd(),
            message,
            b"",
            options,
            internal_date,
        )?;
        let mut staged = Staged {
            tmp,
            size: counts.size(),
            wire_size: counts.wire_size(),
            flags,
        };
        let target = Target {
            dir: dir_fd.as_fd(),
            path: self.path(),
            root: self.root(),
            cur: cur_fd.as_fd(),
            location,
        };
        let (uidvalidity, mut published) =
            commit(&target, std::slice::from_mut(&mut staged), timing)?;
        let (name, uid) = published.pop().unwrap_or_default();
        let Staged {
            tmp,
            size,
            wire_size,
            ..
        } = staged;
        tmp.remove();
        Ok(Appended {
            uidvalidity,
            uid,
            path: cur_path.join(name),
            size,
            wire_size,
        })
    }
}

/// Staged - a message file ready in the target's `tmp/`, waiting for
/// [`commit`] to publish it into `cur/`.
pub(crate) struct Staged<'a> {
    /// The file in `tmp/` (removed when dropped).
    pub(crate) tmp: TmpFile<'a>,
    /// Its size as stored.
    pub(crate) size: u64,
    /// Its size with CRLF line endings.
    pub(crate) wire_size: u64,
    /// The flags for its name in `cur/`.
    pub(crate) flags: Flags,
}

/// Target - the Maildir messages are committed to, open.
pub(crate) struct Target<'a> {
    /// Its directory.
    pub(crate) dir: BorrowedFd<'a>,
    /// Its path.
    pub(crate) path: &'a Path,
    /// Its mailbox's root, where the quota file is.
    pub(crate) root: &'a Path,
    /// The directory the files go to: `new/` for APPEND, `cur/` for COPY.
    pub(crate) cur: BorrowedFd<'a>,
    /// Which one that is.
    pub(crate) location: Location,
}

/// commit - under the target's UID list lock, publish every staged file
/// into `cur/` (in order), fsync `cur/`, give them the next UIDs, and
/// write the list; returns the UIDVALIDITY and each file's (name in
/// `cur/`, UID). All or nothing: on any error the published names are
/// removed again. The tmp names are the caller's to remove afterwards.
pub(crate) fn commit(
    target: &Target<'_>,
    staged: &mut [Staged<'_>],
    timing: LockTiming,
) -> Result<(u32, Vec<(String, u32)>), Error> {
    let cur_path = target.path.join(target.location.dir_name());
    let _lock = uidlock::lock(target.dir, target.path, timing)?;
    let mut published = Published {
        dir: target.cur,
        path: &cur_path,
        names: Vec::with_capacity(staged.len()),
        keep: false,
    };
    for message in staged.iter_mut() {
        let name = publish(&mut message.tmp, target.cur, &cur_path, |unique| {
            let name = with_sizes(unique, message.size, message.wire_size);
            match target.location {
                Location::New if message.flags.is_empty() => name,
                _ => format!("{name}{INFO_PREFIX}{}", message.flags),
            }
        })?;
        published.names.push(name);
    }
    fsync(target.cur).map_err(errno_err("fsync directory", &cur_path))?;
    let mut list = UidList::read(target.dir, target.path, true)?.unwrap_or_else(UidList::new);
    let mut uids = Vec::with_capacity(published.names.len());
    for name in &published.names {
        let Some(uid) = list.assign(base_name(name).to_owned()) else {
            return Err(Error::UidsExhausted {
                path: target.path.to_path_buf(),
            });
        };
        uids.push(uid);
    }
    list.write(target.dir, target.path)?;
    published.keep = true;
    let bytes = staged.iter().map(|message| signed(message.size)).sum();
    quota::record(target.root, bytes, signed(staged.len() as u64));
    let names = std::mem::take(&mut published.names);
    Ok((list.uidvalidity, names.into_iter().zip(uids).collect()))
}

/// Published - names [`commit`] put into `cur/`; removed (and `cur/`
/// fsynced) on drop unless kept.
struct Published<'a> {
    /// `cur/`.
    dir: BorrowedFd<'a>,
    /// Its path, for messages.
    path: &'a Path,
    /// The names.
    names: Vec<String>,
    /// Whether the commit succeeded.
    keep: bool,
}

impl Drop for Published<'_> {
    fn drop(&mut self) {
        if self.keep || self.names.is_empty() {
            return;
        }
        for name in &self.names {
            if let Err(e) = unlinkat(self.dir, name.as_str(), UnlinkatFlags::NoRemoveDir) {
                tracing::error!(path = %self.path.join(name).display(), error = %e, "cannot take back a message after a failed append or copy");
            }
        }
        if let Err(e) = fsync(self.dir) {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot fsync directory");
        }
    }
}

#[cfg(test)]
mod tests;
