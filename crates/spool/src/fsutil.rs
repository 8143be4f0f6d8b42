//! fsutil - the few file-system operations the spool needs, done durably.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;

use crate::error::Error;

/// io_err - wrap an io::Error with what we did and to which path.
pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
    let path = path.to_path_buf();
    move |source| Error::Io { op, path, source }
}

/// open_dir - open a directory without following a symlink in its last component.
///
/// A symlink is reported as [`Error::Symlink`], a non-directory as
/// [`Error::NotADirectory`]: the spool never works through either.
pub(crate) fn open_dir(path: &Path) -> Result<File, Error> {
    OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW).bits())
        .open(path)
        .map_err(|e| match e.raw_os_error().map(Errno::from_raw) {
            // With O_DIRECTORY, Linux reports a symlink as ENOTDIR; ask which it is.
            Some(Errno::ELOOP | Errno::ENOTDIR) => {
                let path = path.to_path_buf();
                match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.file_type().is_symlink() => Error::Symlink { path },
                    _ => Error::NotADirectory { path },
                }
            }
            _ => Error::Io {
                op: "open directory",
                path: path.to_path_buf(),
                source: e,
            },
        })
}

/// fsync_dir - make the directory's entries (creations, renames, unlinks) durable.
pub(crate) fn fsync_dir(path: &Path) -> Result<(), Error> {
    open_dir(path)?
        .sync_all()
        .map_err(io_err("fsync directory", path))
}

/// fsync_dir_grouped - [`fsync_dir`], sharing the fsync with other threads
/// of this process committing into the same directory at the same time
/// ([`crate::groupsync`]).
pub(crate) fn fsync_dir_grouped(path: &Path) -> Result<(), Error> {
    let dir = open_dir(path)?;
    crate::groupsync::sync_dir(std::os::fd::AsFd::as_fd(&dir))
        .map_err(io_err("fsync directory", path))
}

/// rename_noreplace - rename `from` to `to`, failing if `to` exists.
///
/// On Linux with glibc this is one atomic renameat2(RENAME_NOREPLACE). Where
/// that is missing (other libcs) or the file system refuses it (EINVAL), it
/// falls back to checking for `to` and then rename(2). The check-then-rename
/// window only matters if another process uses the same queue ID, which
/// queue IDs make practically impossible; the check exists to turn a
/// collision into an error instead of a silent overwrite.
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> Result<(), Error> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
        match renameat2(AT_FDCWD, from, AT_FDCWD, to, RenameFlags::RENAME_NOREPLACE) {
            Ok(()) => return Ok(()),
            Err(Errno::EEXIST) => {
                return Err(Error::AlreadyExists {
                    path: to.to_path_buf(),
                });
            }
            Err(Errno::EINVAL | Errno::ENOSYS) => {}
            Err(e) => {
                return Err(Error::Io {
                    op: "rename",
                    path: from.to_path_buf(),
                    source: io::Error::from(e),
                });
            }
        }
    }
    match std::fs::symlink_metadata(to) {
        Ok(_) => {
            return Err(Error::AlreadyExists {
                path: to.to_path_buf(),
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err("stat", to)(e)),
    }
    std::fs::rename(from, to).map_err(io_err("rename", from))
}

/// parent - the directory holding `path` (the spool builds every path as dir/name).
pub(crate) fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}
