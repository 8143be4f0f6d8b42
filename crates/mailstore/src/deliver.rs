//! deliver - put one message into a Maildir, crash-safely (tmp → fsync → new).
//!
//! The pieces here (a guarded file in `tmp/`, writing with CRLF turned
//! into LF and fsync, giving the file its final name by link) are shared
//! with IMAP APPEND and COPY (the `append` module), which publish into
//! `cur/` instead of `new/`.
//!
//! Where the kernel allows it, the "file in `tmp/`" has no name at all:
//! it is created with O_TMPFILE in the directory it will be published to
//! and linked there by its descriptor (`linkat` with AT_EMPTY_PATH,
//! allowed to the file's creator since Linux 6.10). That spares two
//! directory changes per message (the name in `tmp/` and its removal),
//! `tmp/`'s lock, which concurrent deliveries to one mailbox contend for,
//! and leaves nothing behind after a crash. Readers see the same: a
//! complete, fsynced file appearing in `new/` under its final name. Where
//! O_TMPFILE or the link is refused (older kernels, some file systems),
//! the file is copied to a named one in `tmp/` and the classic steps
//! follow; a refused link turns unnamed files off for the process.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{UnlinkatFlags, linkat, unlinkat};

use crate::error::{Error, errno_err, io_err};
use crate::fsutil::{self, open_dir_at};
use crate::lineend::CrlfToLf;
use crate::maildir::{DEFAULT_MODE, Maildir};
use crate::name::{unique_name, with_sizes};
use crate::quota::{self, Tally, signed};
use crate::source::{CHUNK, read_chunk};

/// How many fresh names to try before giving up (a collision needs the
/// same second, microsecond, pid, counter, 64 random bits and host).
const NAME_ATTEMPTS: u32 = 8;

/// Whether to try unnamed (O_TMPFILE) files: cleared by the first link
/// the kernel refuses.
static UNNAMED: AtomicBool = AtomicBool::new(true);

/// DeliverOptions - per-delivery settings of [`Maildir::deliver`].
///
/// Build with `DeliverOptions { quota_bytes: Some(n), ..Default::default() }`;
/// the default is no quota.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliverOptions {
    /// Refuse the message if the mailbox's bytes (LF form, as stored)
    /// would exceed this (`mailbox_size_limit` or the user's quota).
    pub quota_bytes: Option<u64>,
    /// Refuse the message if the mailbox's message count would exceed this.
    pub quota_messages: Option<u64>,
    /// Create the Maildir if it is missing ([`Maildir::ensure`] with this
    /// mode and no owner change), [`Maildir::deliver`] only.
    pub create_mode: Option<u32>,
}

/// Delivered - where a message went and its sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivered {
    /// The file in `new/`: `DIR/new/UNIQUE,S=SIZE,W=WIRESIZE`.
    pub path: PathBuf,
    /// Bytes stored (prefix + message, LF line endings): the `,S=` field.
    pub size: u64,
    /// Size as IMAP RFC822.SIZE and POP3 report it (CRLF line endings):
    /// the `,W=` field.
    pub wire_size: u64,
}

impl Maildir {
    /// deliver - store `prefix` followed by `message` as a new message in
    /// `new/`, with CRLF line endings turned into LF.
    ///
    /// `prefix` is the header lines the delivery agent adds
    /// (`Return-Path:`, `Delivered-To:`), in either line-ending form. The
    /// Maildir must exist ([`Maildir::ensure`]). Returns only once the
    /// message and its directory entry are on disk; on any error nothing
    /// is left in `tmp/` or `new/`. Never replaces an existing file.
    /// Blocking: call from `spawn_blocking`.
    pub fn deliver(
        &self,
        message: &mut dyn Read,
        prefix: &[u8],
        options: &DeliverOptions,
    ) -> Result<Delivered, Error> {
        let tmp_path = self.path().join("tmp");
        let new_path = self.path().join("new");
        let (tmp_fd, new_fd) = match self.open_tmp_and_new(&tmp_path, &new_path) {
            Err(e) if e.is_not_found() && options.create_mode.is_some() => {
                self.ensure(None, options.create_mode.unwrap_or(DEFAULT_MODE))?;
                self.open_tmp_and_new(&tmp_path, &new_path)?
            }
            opened => opened?,
        };

        let (mut tmp, counts) = self.write_tmp(
            tmp_fd.as_fd(),
            new_fd.as_fd(),
            message,
            prefix,
            options,
            None,
        )?;
        let (size, wire_size) = (counts.size(), counts.wire_size());
        let new_name = publish(&mut tmp, new_fd.as_fd(), &new_path, |unique| {
            with_sizes(unique, size, wire_size)
        })?;
        let delivered_path = new_path.join(&new_name);
        // Shared with concurrent deliveries into the same Maildir.
        if let Err(error) = spool::groupsync::sync_dir(new_fd.as_fd()) {
            // The entry may not be durable: take it back, so that the retry
            // this error causes does not leave two copies.
            if let Err(e) = unlinkat(
                new_fd.as_fd(),
                new_name.as_str(),
                UnlinkatFlags::NoRemoveDir,
            ) {
                tracing::warn!(path = %delivered_path.display(), error = %e, "cannot remove message after failed directory fsync");
            }
            return Err(Error::Io {
                op: "fsync directory",
                path: new_path,
                source: error,
            });
        }
        // The message is delivered; the tmp name is only a leftover now.
        tmp.remove();
        quota::record(self.root(), signed(counts.size()), 1);
        Ok(Delivered {
            path: delivered_path,
            size: counts.size(),
            wire_size: counts.wire_size(),
        })
    }
}

impl Maildir {
    /// open_tmp_and_new - this Maildir's `tmp/` and `new/`, open.
    fn open_tmp_and_new(
        &self,
        tmp_path: &Path,
        new_path: &Path,
    ) -> Result<(OwnedFd, OwnedFd), Error> {
        let dir_fd = self.open()?;
        let tmp_fd = open_dir_at(dir_fd.as_fd(), OsStr::new("tmp"), tmp_path)?;
        let new_fd = open_dir_at(dir_fd.as_fd(), OsStr::new("new"), new_path)?;
        Ok((tmp_fd, new_fd))
    }

    /// write_tmp - within `options`' quota, write `prefix` and `message` to a
    /// new file, fsynced, with `mtime` if given: the first half of a
    /// delivery or APPEND. The file is unnamed in `publish_dir` (where
    /// [`publish`] will link it) where the kernel allows, else in `tmp/`
    /// (open as `tmp_fd`). The mailbox being full is refused before
    /// anything is written.
    pub(crate) fn write_tmp<'a>(
        &self,
        tmp_fd: BorrowedFd<'a>,
        publish_dir: BorrowedFd<'_>,
        message: &mut dyn Read,
        prefix: &[u8],
        options: &DeliverOptions,
        mtime: Option<SystemTime>,
    ) -> Result<(TmpFile<'a>, CrlfToLf), Error> {
        let tmp_path = self.path().join("tmp");
        let mut tally = match (options.quota_bytes, options.quota_messages) {
            (None, None) => None,
            _ => Some(Tally::read(self, options)?),
        };
        if let Some(tally) = &mut tally {
            tally.check(self, options, None)?;
        }
        let (file, tmp) = match create_unnamed(tmp_fd, &tmp_path, publish_dir) {
            Some(created) => created,
            None => create_tmp(tmp_fd, &tmp_path)?,
        };
        let counts = write_message(&file, prefix, message, self.path(), &tmp.path, mtime)?;
        if let Some(tally) = &mut tally {
            tally.check(self, options, Some(counts.size()))?;
        }
        Ok((tmp, counts))
    }
}

/// TmpFile - a file this delivery created in `tmp/`; removed when dropped
/// unless already gone, so every error path (and a panicking reader)
/// cleans up.
pub(crate) struct TmpFile<'a> {
    /// `tmp/`.
    pub(crate) dir: BorrowedFd<'a>,
    /// The file's name in `tmp/` (the message's unique name).
    pub(crate) name: String,
    /// Its full path, for messages.
    pub(crate) path: PathBuf,
    /// Whether the name still needs removing.
    present: bool,
    /// An unnamed (O_TMPFILE) file, open read-write in the directory it is
    /// published to: it has no name in `tmp/` (`name` and `path` are the
    /// ones it would have) until [`TmpFile::give_name`].
    unnamed: Option<File>,
}

impl<'a> TmpFile<'a> {
    /// adopt - guard a name the caller just created in `tmp/` (a hard
    /// link to a message being copied).
    pub(crate) fn adopt(dir: BorrowedFd<'a>, name: String, path: PathBuf) -> TmpFile<'a> {
        TmpFile {
            dir,
            name,
            path,
            present: true,
            unnamed: None,
        }
    }

    /// give_name - copy an unnamed file, with its modification time, to a
    /// fresh fsynced file in `tmp/` that takes its place.
    fn give_name(&mut self) -> Result<(), Error> {
        let Some(mut unnamed) = self.unnamed.take() else {
            return Ok(());
        };
        let tmp_path = self.path.parent().unwrap_or(&self.path).to_path_buf();
        unnamed
            .seek(SeekFrom::Start(0))
            .map_err(io_err("seek", &self.path))?;
        let mtime = unnamed
            .metadata()
            .and_then(|m| m.modified())
            .map_err(io_err("stat", &self.path))?;
        *self = copy_to_tmp(&mut unnamed, mtime, self.dir, &tmp_path)?;
        Ok(())
    }

    /// remove - unlink the tmp name now (after a successful delivery a
    /// failure only leaves a stale file, so it is logged, not returned).
    pub(crate) fn remove(mut self) {
        self.unlink();
    }

    /// unlink - remove the name if still present; a failure is logged.
    fn unlink(&mut self) {
        if !self.present {
            return;
        }
        self.present = false;
        match unlinkat(self.dir, self.name.as_str(), UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove temporary message file");
            }
        }
    }
}

impl Drop for TmpFile<'_> {
    fn drop(&mut self) {
        self.unlink();
    }
}

/// create_tmp - create a fresh file in `tmp/`: O_EXCL (never an existing
/// file), O_NOFOLLOW (never through a symlink), mode 0600.
pub(crate) fn create_tmp<'a>(
    tmp_fd: BorrowedFd<'a>,
    tmp_path: &Path,
) -> Result<(File, TmpFile<'a>), Error> {
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    for _ in 0..NAME_ATTEMPTS {
        let name = unique_name();
        match nix::fcntl::openat(
            tmp_fd,
            name.as_str(),
            flags,
            Mode::from_bits_truncate(0o600),
        ) {
            Ok(fd) => {
                let path = tmp_path.join(&name);
                return Ok((File::from(fd), TmpFile::adopt(tmp_fd, name, path)));
            }
            Err(Errno::EEXIST) => continue,
            Err(errno) => return Err(errno_err("create file", &tmp_path.join(&name))(errno)),
        }
    }
    Err(Error::NoUniqueName {
        dir: tmp_path.to_path_buf(),
        attempts: NAME_ATTEMPTS,
    })
}

/// create_unnamed - an unnamed file (O_TMPFILE, mode 0600) in `dir`, with
/// a [`TmpFile`] that knows it; None where unnamed files are off or the
/// file system or kernel refuses one (the caller then names one in `tmp/`).
fn create_unnamed<'a>(
    tmp_fd: BorrowedFd<'a>,
    tmp_path: &Path,
    dir: BorrowedFd<'_>,
) -> Option<(File, TmpFile<'a>)> {
    if !UNNAMED.load(Ordering::Relaxed) {
        return None;
    }
    let fd = nix::fcntl::openat(
        dir,
        ".",
        OFlag::O_TMPFILE | OFlag::O_RDWR | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .ok()?;
    let file = File::from(fd);
    let writer = file.try_clone().ok()?;
    let name = unique_name();
    let path = tmp_path.join(&name);
    let tmp = TmpFile {
        dir: tmp_fd,
        name,
        path,
        present: false,
        unnamed: Some(file),
    };
    Some((writer, tmp))
}

/// copy_to_tmp - a fresh file in `tmp/` with `source`'s bytes from its
/// current offset, modification time `mtime`, fsynced.
pub(crate) fn copy_to_tmp<'a>(
    source: &mut File,
    mtime: SystemTime,
    tmp_fd: BorrowedFd<'a>,
    tmp_path: &Path,
) -> Result<TmpFile<'a>, Error> {
    let (mut file, tmp) = create_tmp(tmp_fd, tmp_path)?;
    io::copy(source, &mut file).map_err(io_err("copy to", &tmp.path))?;
    file.set_modified(mtime)
        .map_err(io_err("set modification time of", &tmp.path))?;
    file.sync_all().map_err(io_err("fsync", &tmp.path))?;
    Ok(tmp)
}

/// write_message - write prefix + message (converted), give the file
/// `mtime` as its modification time if given (IMAP's internal date), and
/// fsync it.
pub(crate) fn write_message(
    mut file: &File,
    prefix: &[u8],
    message: &mut dyn Read,
    maildir_path: &Path,
    file_path: &Path,
    mtime: Option<SystemTime>,
) -> Result<CrlfToLf, Error> {
    let mut counts = CrlfToLf::default();
    let mut out = Vec::with_capacity(CHUNK + prefix.len());
    counts.push(prefix, &mut out);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let chunk = read_chunk(message, &mut buf, maildir_path)?;
        if chunk.is_empty() {
            break;
        }
        counts.push(chunk, &mut out);
        if out.len() >= CHUNK {
            file.write_all(&out).map_err(io_err("write", file_path))?;
            out.clear();
        }
    }
    counts.finish(&mut out);
    file.write_all(&out).map_err(io_err("write", file_path))?;
    if let Some(mtime) = mtime {
        // Before the fsync, so that the date is as durable as the content.
        file.set_modified(mtime)
            .map_err(io_err("set modification time of", file_path))?;
    }
    file.sync_all().map_err(io_err("fsync", file_path))?;
    // Cheap insurance that the name will tell the truth about the file.
    let stored = file.metadata().map_err(io_err("stat", file_path))?.len();
    if stored != counts.size() {
        return Err(Error::Io {
            op: "verify size of",
            path: file_path.to_path_buf(),
            source: io::Error::other(format!("wrote {} bytes, file has {stored}", counts.size())),
        });
    }
    Ok(counts)
}

/// publish - give the tmp file its name in `new/` (or `cur/`), never
/// replacing a file; returns the name.
///
/// As the Maildir specification says, by link(2), which fails rather than
/// replace and works on NFS; on a file system without hard links, by
/// rename without replacing. The name is `name_for` of the tmp name (the
/// size fields, and in `cur/` the flags, added); should it exist (it
/// cannot, short of a broken clock and random source), `name_for` of a
/// fresh unique name is tried.
pub(crate) fn publish(
    tmp: &mut TmpFile<'_>,
    new_fd: BorrowedFd<'_>,
    new_path: &Path,
    name_for: impl Fn(&str) -> String,
) -> Result<String, Error> {
    for attempt in 0..NAME_ATTEMPTS {
        let unique = if attempt == 0 {
            tmp.name.clone()
        } else {
            unique_name()
        };
        let new_name = name_for(&unique);
        if let Some(unnamed) = &tmp.unnamed {
            match linkat(
                unnamed.as_fd(),
                "",
                new_fd,
                new_name.as_str(),
                AtFlags::AT_EMPTY_PATH,
            ) {
                Ok(()) => return Ok(new_name),
                Err(Errno::EEXIST) => continue,
                // Before Linux 6.10 only CAP_DAC_READ_SEARCH may link a
                // descriptor (ENOENT); some file systems or security
                // policies refuse it.
                Err(
                    errno @ (Errno::ENOENT
                    | Errno::EPERM
                    | Errno::EACCES
                    | Errno::EINVAL
                    | Errno::EXDEV
                    | Errno::EOPNOTSUPP
                    | Errno::ENOSYS),
                ) => {
                    tracing::debug!(error = %errno, "cannot link an unnamed file; naming files in tmp/ instead");
                    UNNAMED.store(false, Ordering::Relaxed);
                    tmp.give_name()?;
                }
                Err(errno) => return Err(errno_err("link", &new_path.join(&new_name))(errno)),
            }
        }
        match linkat(
            tmp.dir,
            tmp.name.as_str(),
            new_fd,
            new_name.as_str(),
            AtFlags::empty(),
        ) {
            Ok(()) => return Ok(new_name),
            Err(Errno::EEXIST) => continue,
            // No hard links here (EPERM is Linux's answer for that).
            Err(Errno::EPERM | Errno::EOPNOTSUPP | Errno::EMLINK | Errno::ENOSYS) => {
                match rename_noreplace(tmp, new_fd, &new_name, new_path)? {
                    true => return Ok(new_name),
                    false => continue,
                }
            }
            Err(errno) => return Err(errno_err("link", &new_path.join(&new_name))(errno)),
        }
    }
    Err(Error::NoUniqueName {
        dir: new_path.to_path_buf(),
        attempts: NAME_ATTEMPTS,
    })
}

/// rename_noreplace - move the tmp file to `new/new_name` unless that
/// exists; false if it does (see [`fsutil::rename_noreplace`]).
fn rename_noreplace(
    tmp: &TmpFile<'_>,
    new_fd: BorrowedFd<'_>,
    new_name: &str,
    new_path: &Path,
) -> Result<bool, Error> {
    fsutil::rename_noreplace(
        tmp.dir,
        &tmp.name,
        new_fd,
        new_name,
        &new_path.join(new_name),
    )
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::tests::{maildir, names};

    /// A Maildir's `tmp/` and `new/`: paths and open directories.
    fn tmp_and_new(md: &Maildir) -> (PathBuf, PathBuf, OwnedFd, OwnedFd) {
        let tmp_path = md.path().join("tmp");
        let new_path = md.path().join("new");
        let (tmp_fd, new_fd) = md.open_tmp_and_new(&tmp_path, &new_path).unwrap();
        (tmp_path, new_path, tmp_fd, new_fd)
    }

    #[test]
    fn an_unnamed_file_is_published_without_a_name_in_tmp() {
        let (_dir, md) = maildir();
        let (tmp_path, new_path, tmp_fd, new_fd) = tmp_and_new(&md);
        let (mut tmp, counts) = md
            .write_tmp(
                tmp_fd.as_fd(),
                new_fd.as_fd(),
                &mut &b"a\r\nb\r\n"[..],
                b"",
                &DeliverOptions::default(),
                None,
            )
            .unwrap();
        assert!(tmp.unnamed.is_some(), "this kernel refused O_TMPFILE");
        assert!(names(&tmp_path).is_empty());
        assert!(names(&new_path).is_empty());
        let name = publish(&mut tmp, new_fd.as_fd(), &new_path, |unique| {
            with_sizes(unique, counts.size(), counts.wire_size())
        })
        .unwrap();
        tmp.remove();
        assert_eq!(fs::read(new_path.join(&name)).unwrap(), b"a\nb\n");
        assert!(names(&tmp_path).is_empty());
    }

    #[test]
    fn an_unnamed_file_can_be_given_a_name_in_tmp() {
        let (_dir, md) = maildir();
        let (tmp_path, new_path, tmp_fd, new_fd) = tmp_and_new(&md);
        let date = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let (file, mut tmp) = create_unnamed(tmp_fd.as_fd(), &tmp_path, new_fd.as_fd())
            .expect("this kernel refused O_TMPFILE");
        write_message(
            &file,
            b"P: 1\n",
            &mut &b"body"[..],
            md.path(),
            &tmp.path,
            Some(date),
        )
        .unwrap();
        tmp.give_name().unwrap();
        assert!(tmp.unnamed.is_none());
        let named = tmp_path.join(&tmp.name);
        assert_eq!(fs::read(&named).unwrap(), b"P: 1\nbody");
        assert_eq!(fs::metadata(&named).unwrap().modified().unwrap(), date);
        let name = publish(&mut tmp, new_fd.as_fd(), &new_path, |unique| {
            format!("{unique},S=10")
        })
        .unwrap();
        assert_eq!(names(&new_path), [name]);
        tmp.remove();
        assert!(names(&tmp_path).is_empty());
    }
}
