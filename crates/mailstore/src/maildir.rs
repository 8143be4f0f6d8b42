//! maildir - a Maildir on disk: its directories, folders and maintenance.

use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::dir::Dir;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, unlinkat};

use crate::error::{Error, errno_err};
use crate::fsutil::{Kind, kind, make_dir_at, make_dirs, open_dir, open_dir_at, stat_at};
use crate::quota::{Usage, mailbox_usage};

/// The mode of directories [`Maildir::ensure`] creates, unless told otherwise.
pub const DEFAULT_MODE: u32 = 0o700;

/// How old a file in `tmp/` must be before [`Maildir::clean_tmp`] may
/// remove it: 36 hours, as the Maildir specification says. No delivery
/// takes that long, so such a file belongs to a delivery that died.
pub const STALE_TMP_AGE: Duration = Duration::from_secs(36 * 60 * 60);

/// The longest file name most file systems allow (NAME_MAX).
pub(crate) const NAME_MAX: usize = 255;

/// The three directories of every Maildir.
const SUBDIRS: [&str; 3] = ["cur", "new", "tmp"];

/// The empty file that marks a Maildir++ folder (Courier and Dovecot
/// create it; some tools look for it).
pub(crate) const FOLDER_MARKER: &str = "maildirfolder";

/// Maildir - one Maildir: a mailbox's root (its INBOX) or one of its
/// Maildir++ folders.
///
/// A value is just a path; nothing is opened or checked until an
/// operation runs, and every operation opens the directories afresh (so
/// another process or host may change the store between calls, DESIGN §9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Maildir {
    /// The mailbox's root Maildir: quota counts everything below it, and
    /// folders live in it.
    root: PathBuf,
    /// The Maildir++ folder name (without the leading dot), None for the root.
    folder: Option<String>,
    /// This Maildir's directory: `root`, or `root/.folder`.
    path: PathBuf,
}

impl Maildir {
    /// new - the Maildir (mailbox root) at `path`, e.g.
    /// `virtual_mailbox_base/example.org/alice` or `~alice/Maildir`.
    pub fn new(path: impl Into<PathBuf>) -> Maildir {
        let root = path.into();
        Maildir {
            path: root.clone(),
            root,
            folder: None,
        }
    }

    /// path - this Maildir's directory (the one holding `cur/ new/ tmp/`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// root - the mailbox's root Maildir (the same as [`Maildir::path`]
    /// unless this is a folder).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// folder_name - the Maildir++ folder name (`Archive.2024` for the
    /// directory `.Archive.2024`), None for the mailbox root.
    pub fn folder_name(&self) -> Option<&str> {
        self.folder.as_deref()
    }

    /// folder - the Maildir++ folder `name` of this mailbox.
    ///
    /// Folders are `.Name` directories in the root; `.` separates levels
    /// of the hierarchy (`Archive.2024` is a child of `Archive`). Called on
    /// a folder, `name` names a child of it (`Archive` then `2024` gives
    /// `.Archive.2024`). A name must be non-empty, must not start or end
    /// with `.`, and must not contain `/`, `..`, control characters or NUL;
    /// the directory name must fit in 255 bytes. Otherwise the result is
    /// [`Error::InvalidFolderName`] (permanent).
    ///
    /// The name is used as given: turning an IMAP mailbox name into it
    /// (modified UTF-7, hierarchy separator) is the reader's job.
    pub fn folder(&self, name: &str) -> Result<Maildir, Error> {
        check_folder_name(name)?;
        let full = match &self.folder {
            Some(parent) => format!("{parent}.{name}"),
            None => name.to_owned(),
        };
        if full.len() + 1 > NAME_MAX {
            return Err(Error::InvalidFolderName {
                name: full,
                reason: "longer than 254 bytes",
            });
        }
        Ok(Maildir {
            path: self.root.join(format!(".{full}")),
            root: self.root.clone(),
            folder: Some(full),
        })
    }

    /// ensure - create whatever is missing of this Maildir: the directory
    /// itself (and missing parents), `cur/ new/ tmp/`, and for a folder
    /// the root Maildir too and the `maildirfolder` marker. Idempotent.
    ///
    /// Directories created here get `mode` ([`DEFAULT_MODE`] is 0700)
    /// and, with `owner`, that uid and gid (for a caller running as root;
    /// with None they belong to the caller). Existing ones keep their
    /// mode. With `owner`, the Maildir, its subdirectories and the folder
    /// directory must be owned by that uid, else [`Error::WrongOwner`].
    /// Nothing here follows a symbolic link at or below the Maildir's
    /// root ([`Error::Symlink`]); a non-directory in the way is
    /// [`Error::NotADirectory`].
    pub fn ensure(&self, owner: Option<(Uid, Gid)>, mode: u32) -> Result<(), Error> {
        let mode = mode & 0o7777;
        let root_fd = make_dirs(&self.root, mode, owner)?;
        ensure_subdirs(root_fd.as_fd(), &self.root, mode, owner)?;
        if let Some(folder) = &self.folder {
            let name = format!(".{folder}");
            let folder_fd =
                make_dir_at(root_fd.as_fd(), OsStr::new(&name), &self.path, mode, owner)?;
            ensure_subdirs(folder_fd.as_fd(), &self.path, mode, owner)?;
            ensure_marker(folder_fd.as_fd(), &self.path, mode, owner)?;
        }
        Ok(())
    }

    /// usage - what the whole mailbox holds: the root Maildir and all its
    /// folders, also when called on a folder (quota is per mailbox).
    ///
    /// Sizes come from the `,S=` field of the file names; only files
    /// without one are stat'ed. See the `quota` module notes for the cost.
    pub fn usage(&self) -> Result<Usage, Error> {
        mailbox_usage(&self.root)
    }

    /// clean_tmp - remove files in `tmp/` older than `older_than` (by
    /// modification time), left by deliveries that died; returns how many.
    ///
    /// The Maildir specification asks readers to do this with
    /// [`STALE_TMP_AGE`]. A shorter age could remove a file a slow
    /// delivery is still writing.
    pub fn clean_tmp(&self, older_than: Duration) -> Result<usize, Error> {
        let dir_fd = self.open()?;
        let tmp_path = self.path.join("tmp");
        let tmp_fd = open_dir_at(dir_fd.as_fd(), OsStr::new("tmp"), &tmp_path)?;
        let cutoff = SystemTime::now()
            .checked_sub(older_than)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let cutoff = cutoff
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let listing = tmp_fd
            .try_clone()
            .map_err(crate::error::io_err("dup directory", &tmp_path))?;
        let mut dir = Dir::from_fd(listing).map_err(errno_err("read directory", &tmp_path))?;
        let mut stale = Vec::new();
        for entry in dir.iter() {
            let entry = entry.map_err(errno_err("read directory", &tmp_path))?;
            let name = entry.file_name();
            if matches!(name.to_bytes(), b"." | b"..") {
                continue;
            }
            let Some(st) = stat_at(tmp_fd.as_fd(), name, &tmp_path)? else {
                continue;
            };
            let mtime = u64::try_from(st.st_mtime).unwrap_or(0);
            if kind(&st) == Kind::File && mtime < cutoff {
                stale.push(name.to_owned());
            }
        }
        let mut removed = 0;
        for name in stale {
            match unlinkat(tmp_fd.as_fd(), name.as_c_str(), UnlinkatFlags::NoRemoveDir) {
                Ok(()) => removed += 1,
                Err(nix::errno::Errno::ENOENT) => {}
                Err(errno) => return Err(errno_err("remove stale file", &tmp_path)(errno)),
            }
        }
        Ok(removed)
    }

    /// open - open this Maildir's directory, never through a symlink at
    /// or below the root.
    pub(crate) fn open(&self) -> Result<OwnedFd, Error> {
        let root_fd = open_dir(&self.root)?;
        match &self.folder {
            None => Ok(root_fd),
            Some(folder) => open_dir_at(
                root_fd.as_fd(),
                OsStr::new(&format!(".{folder}")),
                &self.path,
            ),
        }
    }
}

/// ensure_subdirs - `cur/ new/ tmp/` inside the Maildir open as `dir`.
pub(crate) fn ensure_subdirs(
    dir: BorrowedFd<'_>,
    path: &Path,
    mode: u32,
    owner: Option<(Uid, Gid)>,
) -> Result<(), Error> {
    for sub in SUBDIRS {
        make_dir_at(dir, OsStr::new(sub), &path.join(sub), mode, owner)?;
    }
    Ok(())
}

/// ensure_marker - the `maildirfolder` file inside the folder open as `dir`.
pub(crate) fn ensure_marker(
    dir: BorrowedFd<'_>,
    path: &Path,
    mode: u32,
    owner: Option<(Uid, Gid)>,
) -> Result<(), Error> {
    let marker_path = path.join(FOLDER_MARKER);
    if stat_at(dir, FOLDER_MARKER, &marker_path)?.is_some_and(|st| kind(&st) == Kind::File) {
        return Ok(());
    }
    // Read/write bits of the directory mode, so 0700 gives 0600.
    let file_mode = Mode::from_bits_truncate(mode & 0o666);
    let fd = nix::fcntl::openat(
        dir,
        FOLDER_MARKER,
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        file_mode,
    )
    .map_err(|errno| match errno {
        nix::errno::Errno::ELOOP => Error::Symlink {
            path: marker_path.clone(),
        },
        _ => errno_err("create folder marker", &marker_path)(errno),
    })?;
    if let Some((uid, gid)) = owner {
        fchown(&fd, Some(uid), Some(gid))
            .map_err(errno_err("chown folder marker", &marker_path))?;
    }
    nix::unistd::fsync(dir).map_err(errno_err("fsync directory", path))
}

/// check_folder_name - the rules of [`Maildir::folder`].
pub(crate) fn check_folder_name(name: &str) -> Result<(), Error> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name.contains('/') {
        Some("contains `/`")
    } else if name.starts_with('.') {
        Some("starts with `.`")
    } else if name.ends_with('.') {
        Some("ends with `.`")
    } else if name.contains("..") {
        Some("contains `..`")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::InvalidFolderName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}
