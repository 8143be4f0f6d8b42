//! fsutil - directory handling through descriptors, never following a
//! symbolic link inside the mail store.
//!
//! Everything below a Maildir's root is reached with `openat` and friends
//! relative to an already opened directory, each step with `O_NOFOLLOW`,
//! so a link planted or swapped in by the mailbox owner cannot redirect a
//! create, chown or link made by a more privileged process.

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use nix::NixPath;
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag, fchmod, fstat, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, fchown, fsync};

use crate::error::{Error, errno_err};

/// The flags every directory is opened with.
const DIR_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_DIRECTORY)
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_CLOEXEC);

/// What kind of file a stat result describes (only the kinds we act on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// Anything else (FIFO, socket, device).
    Other,
}

/// kind - the file type in a stat result.
pub(crate) fn kind(st: &FileStat) -> Kind {
    let ty = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    if ty == SFlag::S_IFREG {
        Kind::File
    } else if ty == SFlag::S_IFDIR {
        Kind::Dir
    } else if ty == SFlag::S_IFLNK {
        Kind::Symlink
    } else {
        Kind::Other
    }
}

/// open_dir - open the directory `path`, refusing a symlink as its last
/// component (components above it are followed: they are the caller's).
pub(crate) fn open_dir(path: &Path) -> Result<OwnedFd, Error> {
    open_dir_at(AT_FDCWD, path.as_os_str(), path)
}

/// open_dir_at - open the directory `name` inside `dir` without following
/// a symlink; `path` is its full path, for errors.
///
/// A symlink is [`Error::Symlink`], anything else that is not a directory
/// [`Error::NotADirectory`].
pub(crate) fn open_dir_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
) -> Result<OwnedFd, Error> {
    nix::fcntl::openat(dir, name, DIR_FLAGS, Mode::empty()).map_err(|errno| match errno {
        // O_NOFOLLOW on a symlink is ELOOP; O_DIRECTORY on a symlink or a
        // file is ENOTDIR. Ask which it is.
        Errno::ELOOP | Errno::ENOTDIR => not_a_dir(dir, name, path),
        _ => errno_err("open directory", path)(errno),
    })
}

/// not_a_dir - the error for a name that exists but is not a directory.
fn not_a_dir(dir: BorrowedFd<'_>, name: &OsStr, path: &Path) -> Error {
    let path = path.to_path_buf();
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if kind(&st) == Kind::Symlink => Error::Symlink { path },
        _ => Error::NotADirectory { path },
    }
}

/// make_dir_at - make `name` inside `dir` a directory and open it.
///
/// A directory created here gets exactly `mode` and, with `owner`, that
/// owner; its creation is made durable by fsyncing `dir`. An existing
/// directory keeps its mode (a user may have chosen another) but, with
/// `owner`, must belong to that uid ([`Error::WrongOwner`]).
pub(crate) fn make_dir_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    mode: u32,
    owner: Option<(Uid, Gid)>,
) -> Result<OwnedFd, Error> {
    let created = match mkdirat(dir, name, Mode::from_bits_truncate(mode)) {
        Ok(()) => true,
        Err(Errno::EEXIST) => false,
        Err(errno) => return Err(errno_err("create directory", path)(errno)),
    };
    // Open by descriptor, not by name, so a symlink swapped in after the
    // mkdir cannot redirect the chown or chmod.
    let fd = open_dir_at(dir, name, path)?;
    if created {
        if let Some((uid, gid)) = owner {
            fchown(&fd, Some(uid), Some(gid)).map_err(errno_err("chown directory", path))?;
        }
        // After chown, which may clear set-ID bits; also undoes the umask.
        fchmod(&fd, Mode::from_bits_truncate(mode)).map_err(errno_err("chmod directory", path))?;
        fsync(dir).map_err(errno_err("fsync directory", parent(path)))?;
    } else if let Some((uid, _)) = owner {
        check_owner(fd.as_fd(), uid, path)?;
    }
    Ok(fd)
}

/// make_dirs - open the directory `path`, creating it and missing parents.
///
/// Existing ancestors are opened the ordinary way (they are the caller's
/// configured base or the user's home, trusted); every component created
/// here and the last one are opened without following symlinks, and get
/// the treatment of [`make_dir_at`].
pub(crate) fn make_dirs(
    path: &Path,
    mode: u32,
    owner: Option<(Uid, Gid)>,
) -> Result<OwnedFd, Error> {
    check_path(path)?;
    match open_dir(path) {
        Ok(fd) => {
            if let Some((uid, _)) = owner {
                check_owner(fd.as_fd(), uid, path)?;
            }
            return Ok(fd);
        }
        Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // Walk up to the deepest existing ancestor, remembering what is missing.
    let mut missing = Vec::new();
    let mut base = path;
    loop {
        let Some(name) = base.file_name() else {
            return Err(Error::InvalidPath {
                path: path.to_path_buf(),
                reason: "no existing ancestor directory",
            });
        };
        missing.push(name);
        base = base.parent().unwrap_or(Path::new(""));
        let probe = if base.as_os_str().is_empty() {
            Path::new(".")
        } else {
            base
        };
        match std::fs::symlink_metadata(probe) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(crate::error::io_err("stat", probe)(e)),
        }
    }
    let probe = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    let mut fd = nix::fcntl::open(
        probe,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|errno| match errno {
        Errno::ENOTDIR => Error::NotADirectory {
            path: probe.to_path_buf(),
        },
        _ => errno_err("open directory", probe)(errno),
    })?;
    let mut current = probe.to_path_buf();
    for name in missing.into_iter().rev() {
        current.push(name);
        fd = make_dir_at(fd.as_fd(), name, &current, mode, owner)?;
    }
    Ok(fd)
}

/// check_path - refuse paths that cannot name a mail store.
pub(crate) fn check_path(path: &Path) -> Result<(), Error> {
    let invalid = |reason| Error::InvalidPath {
        path: path.to_path_buf(),
        reason,
    };
    if path.as_os_str().is_empty() {
        return Err(invalid("empty"));
    }
    if path.as_os_str().as_bytes().contains(&0) {
        return Err(invalid("contains a NUL byte"));
    }
    if path.components().any(|c| c == Component::ParentDir) {
        return Err(invalid("contains a `..` component"));
    }
    Ok(())
}

/// check_owner - the directory must belong to `uid`.
pub(crate) fn check_owner(fd: BorrowedFd<'_>, uid: Uid, path: &Path) -> Result<(), Error> {
    let st = fstat(fd).map_err(errno_err("stat", path))?;
    let found = Uid::from_raw(st.st_uid);
    if found == uid {
        Ok(())
    } else {
        Err(Error::WrongOwner {
            path: path.to_path_buf(),
            expected: uid,
            found,
        })
    }
}

/// stat_at - stat `name` inside `dir` without following a symlink; None if
/// it does not exist (any more).
pub(crate) fn stat_at<P: ?Sized + NixPath>(
    dir: BorrowedFd<'_>,
    name: &P,
    path: &Path,
) -> Result<Option<FileStat>, Error> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(errno) => Err(errno_err("stat", path)(errno)),
    }
}

/// parent - the directory holding `path`.
pub(crate) fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

/// match_dir_owner - give a file this process just created the owner of
/// the directory it is in, when running as root and the directory belongs
/// to someone else (a user's Maildir), so that the user's own tools and
/// sessions can still read and replace it. Does nothing otherwise.
pub(crate) fn match_dir_owner<Fd: AsFd>(
    fd: Fd,
    dir_st: &FileStat,
    path: &Path,
) -> Result<(), Error> {
    if !Uid::effective().is_root() || dir_st.st_uid == 0 {
        return Ok(());
    }
    fchown(
        fd,
        Some(Uid::from_raw(dir_st.st_uid)),
        Some(Gid::from_raw(dir_st.st_gid)),
    )
    .map_err(errno_err("chown", path))
}
