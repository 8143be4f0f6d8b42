//! fsutil - directory handling through descriptors, never following a
//! symbolic link inside the mail store.
//!
//! Everything below a Maildir's root is reached with `openat` and friends
//! relative to an already opened directory, each step with `O_NOFOLLOW`,
//! so a link planted or swapped in by the mailbox owner cannot redirect a
//! create, chown or link made by a more privileged process.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path};

use nix::NixPath;
use nix::errno::Errno;
use nix::fcntl::{AT_FDCWD, AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag, fchmod, fstat, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, fsync, unlinkat};

use crate::error::{Error, errno_err, io_err};
use crate::name::unique_name;

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

/// FileStamp - what tells one state of a file from another without
/// reading it: device, inode, size, and modification and status change
/// times to the nanosecond. A file replaced by rename gets a new inode
/// (or, if the number is reused, a later status change time); one
/// appended to gets a new size and modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    /// st_dev, st_ino, st_size, then modification and status change times
    /// (seconds, nanoseconds).
    fields: [i64; 7],
}

impl FileStamp {
    /// of - the stamp of a stat result.
    pub(crate) fn of(st: &FileStat) -> FileStamp {
        #[allow(clippy::cast_possible_wrap, clippy::useless_conversion)]
        let fields = [
            st.st_dev as i64,
            st.st_ino as i64,
            i64::from(st.st_size),
            i64::from(st.st_mtime),
            i64::from(st.st_mtime_nsec),
            i64::from(st.st_ctime),
            i64::from(st.st_ctime_nsec),
        ];
        FileStamp { fields }
    }

    /// to_bytes - the stamp as 56 bytes, for a file that saves it.
    pub(crate) fn to_bytes(self) -> [u8; 56] {
        let mut out = [0u8; 56];
        for (chunk, field) in out.chunks_exact_mut(8).zip(self.fields) {
            chunk.copy_from_slice(&field.to_le_bytes());
        }
        out
    }

    /// from_bytes - a stamp saved by [`FileStamp::to_bytes`].
    pub(crate) fn from_bytes(bytes: &[u8; 56]) -> FileStamp {
        let mut fields = [0i64; 7];
        for (field, chunk) in fields.iter_mut().zip(bytes.chunks_exact(8)) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            *field = i64::from_le_bytes(word);
        }
        FileStamp { fields }
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

/// FileMode - which permissions [`replace_file`] gives a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileMode {
    /// The mode of the file replaced, or for a new file the directory's
    /// read/write bits, and always owner read/write: for files other
    /// Maildir tools read (the UID list, the keyword list).
    LikeDirectory,
    /// 0600: for files holding what messages say (the metadata cache).
    Private,
}

/// for_each_entry - call `f` with the name and (if the listing knows it)
/// the type of every entry of the directory open as `dir` (at `path`),
/// but `.` and `..`. The listing has a file description of its own, so
/// listings never share a position.
pub(crate) fn for_each_entry(
    dir: BorrowedFd<'_>,
    path: &Path,
    mut f: impl FnMut(&[u8], Option<nix::dir::Type>),
) -> Result<(), Error> {
    let mut listing = nix::dir::Dir::openat(
        dir,
        ".",
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno_err("read directory", path))?;
    for entry in listing.iter() {
        let entry = entry.map_err(errno_err("read directory", path))?;
        let bytes = entry.file_name().to_bytes();
        if bytes != b"." && bytes != b".." {
            f(bytes, entry.file_type());
        }
    }
    Ok(())
}

/// open_regular_at - open the regular file `name` (at `path`) in the
/// directory open as `dir` with `access` (O_RDONLY or O_RDWR), never
/// through a symbolic link and never blocking on a FIFO; None if it does
/// not exist. Anything but a regular file is an error.
pub(crate) fn open_regular_at(
    dir: BorrowedFd<'_>,
    name: &str,
    path: &Path,
    access: OFlag,
) -> Result<Option<(OwnedFd, FileStat)>, Error> {
    let flags = access | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC;
    let fd = match nix::fcntl::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => return Ok(None),
        Err(Errno::ELOOP) => {
            return Err(Error::Symlink {
                path: path.to_path_buf(),
            });
        }
        Err(errno) => return Err(errno_err("open", path)(errno)),
    };
    let st = fstat(&fd).map_err(errno_err("stat", path))?;
    if kind(&st) != Kind::File {
        return Err(Error::NotARegularFile {
            path: path.to_path_buf(),
        });
    }
    Ok(Some((fd, st)))
}

/// read_file_at - the contents of the regular file `name` in the
/// directory open as `dir`, read without following a symbolic link; None
/// if it does not exist. A file larger than `max` bytes is an error
/// (InvalidData) rather than read into memory; `what` names the file in
/// that error.
pub(crate) fn read_file_at(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &str,
    max: u64,
    what: &str,
) -> Result<Option<Vec<u8>>, Error> {
    Ok(read_file_stat_at(dir, dir_path, name, max, what)?.map(|(data, _)| data))
}

/// read_file_stat_at - [`read_file_at`], with the file's status as of
/// when it was opened (before reading), so a caller can tell later
/// whether the file changed since.
pub(crate) fn read_file_stat_at(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &str,
    max: u64,
    what: &str,
) -> Result<Option<(Vec<u8>, FileStat)>, Error> {
    let path = dir_path.join(name);
    let Some((fd, st)) = open_regular_at(dir, name, &path, OFlag::O_RDONLY)? else {
        return Ok(None);
    };
    let expected = usize::try_from(st.st_size).unwrap_or(0);
    let mut data = Vec::with_capacity(expected.min(usize::try_from(max).unwrap_or(usize::MAX)));
    File::from(fd)
        .take(max.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(io_err("read", &path))?;
    if u64::try_from(data.len()).unwrap_or(u64::MAX) > max {
        return Err(Error::Io {
            op: "read",
            path,
            source: io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{what} larger than {max} bytes"),
            ),
        });
    }
    Ok(Some((data, st)))
}

/// replace_file - replace the file `name` in the directory open as `dir`
/// with `contents`, atomically: a temporary file `NAME.UNIQUE.tmp`,
/// fsync, rename over the old name, fsync of the directory. Readers see
/// the old file or the new one, never a mix. The caller holds whatever
/// lock serialises writers.
///
/// A caller running as root gives the file the directory's owner, so
/// that the user's own tools and sessions can read and replace it.
pub(crate) fn replace_file(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &str,
    contents: &[u8],
    file_mode: FileMode,
) -> Result<(), Error> {
    write_replacing(dir, dir_path, name, contents, file_mode, true)
}

/// replace_cache_file - [`replace_file`] without the fsyncs, for files
/// that only save work (a reader checks them and ignores a damaged one):
/// after a crash the file may be empty or cut short.
pub(crate) fn replace_cache_file(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &str,
    contents: &[u8],
    file_mode: FileMode,
) -> Result<(), Error> {
    write_replacing(dir, dir_path, name, contents, file_mode, false)
}

/// write_replacing - [`replace_file`], with the fsyncs if `durable`.
fn write_replacing(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    name: &str,
    contents: &[u8],
    file_mode: FileMode,
    durable: bool,
) -> Result<(), Error> {
    let dir_st = fstat(dir).map_err(errno_err("stat", dir_path))?;
    let mode = match file_mode {
        FileMode::Private => 0o600,
        FileMode::LikeDirectory => {
            let old = stat_at(dir, name, &dir_path.join(name))?;
            (match old {
                Some(st) if kind(&st) == Kind::File => st.st_mode & 0o666,
                _ => dir_st.st_mode & 0o666,
            }) | 0o600
        }
    };
    let tmp_name = format!("{name}.{}.tmp", unique_name());
    let tmp_path = dir_path.join(&tmp_name);
    let fd = nix::fcntl::openat(
        dir,
        tmp_name.as_str(),
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(mode),
    )
    .map_err(errno_err("create file", &tmp_path))?;
    let tmp = TmpName {
        dir,
        name: &tmp_name,
        present: true,
    };
    match_dir_owner(&fd, &dir_st, &tmp_path)?;
    fchmod(&fd, Mode::from_bits_truncate(mode)).map_err(errno_err("chmod", &tmp_path))?;
    let mut file = File::from(fd);
    file.write_all(contents)
        .map_err(io_err("write", &tmp_path))?;
    if durable {
        file.sync_all().map_err(io_err("fsync", &tmp_path))?;
    }
    drop(file);
    let path = dir_path.join(name);
    nix::fcntl::renameat(dir, tmp_name.as_str(), dir, name).map_err(errno_err("rename", &path))?;
    tmp.renamed();
    if durable {
        fsync(dir).map_err(errno_err("fsync directory", dir_path))?;
    }
    Ok(())
}

/// TmpName - the temporary file of [`replace_file`]; removed if the
/// write fails before the rename.
struct TmpName<'a> {
    /// The directory holding it.
    dir: BorrowedFd<'a>,
    /// The temporary file's name in it.
    name: &'a str,
    /// Whether the name still needs removing.
    present: bool,
}

impl TmpName<'_> {
    /// renamed - the file now has its final name; nothing to remove.
    fn renamed(mut self) {
        self.present = false;
    }
}

impl Drop for TmpName<'_> {
    fn drop(&mut self) {
        if self.present {
            match unlinkat(self.dir, self.name, UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => {
                    tracing::warn!(name = self.name, error = %e, "cannot remove temporary file");
                }
            }
        }
    }
}

/// rename_noreplace - rename `from` in `from_dir` to `to` in `to_dir`
/// unless `to` exists; false if it does. `path` is the target's full
/// path, for errors.
///
/// renameat2(RENAME_NOREPLACE) where the file system supports it; else a
/// check then rename(2). In that window a file of the same name made by
/// someone else could be replaced (or, for a directory, an empty
/// directory); callers use names nobody else picks (unique names), or
/// accept that for folder names, as Dovecot does with plain rename(2).
pub(crate) fn rename_noreplace(
    from_dir: BorrowedFd<'_>,
    from: &str,
    to_dir: BorrowedFd<'_>,
    to: &str,
    path: &Path,
) -> Result<bool, Error> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::fcntl::{RenameFlags, renameat2};
        match renameat2(from_dir, from, to_dir, to, RenameFlags::RENAME_NOREPLACE) {
            Ok(()) => return Ok(true),
            Err(Errno::EEXIST) => return Ok(false),
            Err(Errno::EINVAL | Errno::ENOSYS) => {}
            Err(errno) => return Err(errno_err("rename", path)(errno)),
        }
    }
    if stat_at(to_dir, to, path)?.is_some() {
        return Ok(false);
    }
    match nix::fcntl::renameat(from_dir, from, to_dir, to) {
        Ok(()) => Ok(true),
        // A directory onto a non-empty one.
        Err(Errno::ENOTEMPTY | Errno::EEXIST) => Ok(false),
        Err(errno) => Err(errno_err("rename", path)(errno)),
    }
}
