//! Reading the users, aliases and include files, and noticing changes.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::SystemTime;

use crate::error::Error;

/// Reads a whole file; `None` when it does not exist.
///
/// A dangling symbolic link is an error, not a missing file: the admin
/// pointed the name somewhere, and reading nothing would silently drop
/// every user.
pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, Error> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match fs::symlink_metadata(path) {
            Ok(_) => Err(Error::Read {
                path: path.to_owned(),
                source: io::Error::new(io::ErrorKind::NotFound, "dangling symbolic link"),
            }),
            Err(_) => Ok(None),
        },
        Err(source) => Err(Error::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Reads a file that decides where mail goes but that the reader does not own by
/// name (an `:include:` list), refusing anything a user could have planted: a
/// symlink (not followed), a file that is not regular, one owned by anyone but root
/// or this process's user, or one writable by group or others. Checks are made on
/// the opened file, so a swap between check and read is not possible.
pub(crate) fn read_trusted(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(path)?;
    let meta = file.metadata()?;
    let refuse = |why: String| Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
    if !meta.is_file() {
        return refuse("not a regular file".to_owned());
    }
    let euid = nix::unistd::Uid::effective().as_raw();
    if meta.uid() != 0 && meta.uid() != euid {
        return refuse(format!(
            "owned by uid {}, not root or uid {euid}",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return refuse("writable by group or others".to_owned());
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut bytes)?;
    if u64::try_from(bytes.len()).unwrap_or(u64::MAX) > limit {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {limit} bytes"),
        ));
    }
    Ok(bytes)
}

/// What a file looked like when it was last read: a change in any field
/// means it must be read again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Stamp {
    /// The file does not exist.
    Missing,
    /// The file exists.
    Present {
        /// Last modification time.
        modified: Option<SystemTime>,
        /// Size in bytes.
        size: u64,
        /// Inode number (an atomic replace changes it).
        inode: u64,
        /// Device number.
        device: u64,
    },
    /// It cannot be examined (permission, a dangling link).
    Broken(io::ErrorKind),
}

/// The current [`Stamp`] of `path` (following symbolic links).
pub(crate) fn stamp(path: &Path) -> Stamp {
    match fs::metadata(path) {
        Ok(meta) => Stamp::Present {
            modified: meta.modified().ok(),
            size: meta.len(),
            inode: meta.ino(),
            device: meta.dev(),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if fs::symlink_metadata(path).is_ok() {
                Stamp::Broken(e.kind())
            } else {
                Stamp::Missing
            }
        }
        Err(e) => Stamp::Broken(e.kind()),
    }
}

/// Splits file contents into numbered lines (1-based) without their line
/// ends; a line that is not UTF-8 is `Err(())`.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = (usize, Result<&str, ()>)> {
    let bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let empty = bytes.is_empty();
    bytes
        .split(|b| *b == b'\n')
        .filter(move |_| !empty)
        .enumerate()
        .map(|(i, line)| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            (i + 1, std::str::from_utf8(line).map_err(|_| ()))
        })
}
