//! spool - the queue directory tree and the operations on whole queue files.

use std::fs::{self, DirBuilder, FileTimes, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use nix::fcntl::OFlag;
use nix::unistd::{Gid, Uid};

use crate::error::Error;
use crate::fsutil::{fsync_dir, fsync_dir_grouped, io_err, open_dir, rename_noreplace};
use crate::recycle::{self, RECYCLE};
use crate::{Envelope, Queue, QueueFile, QueueId, QueueWriter};

/// Name of the directory for daemon-to-daemon sockets.
const PRIVATE: &str = "private";
/// Name of the directory for sockets local users may use.
const PUBLIC: &str = "public";
/// Name of the directory for master's pid file and lock.
const PID: &str = "pid";

/// A spool (Postfix's `queue_directory`): the root of the queue tree.
///
/// Cheap to clone; it holds only the root path. All methods block on disk
/// I/O (and several fsync), so async callers use `spawn_blocking`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spool {
    /// The spool root; every path this crate touches is below it.
    root: PathBuf,
}

impl Spool {
    /// new - a handle on the spool at `root`; touches nothing on disk.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// root - the spool root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// dir - the directory of one queue.
    pub fn dir(&self, queue: Queue) -> PathBuf {
        self.root.join(queue.name())
    }

    /// private_dir - the directory for daemon-to-daemon sockets (mail_owner only).
    pub fn private_dir(&self) -> PathBuf {
        self.root.join(PRIVATE)
    }

    /// public_dir - the directory for sockets local users may connect to.
    pub fn public_dir(&self) -> PathBuf {
        self.root.join(PUBLIC)
    }

    /// pid_dir - the directory for master's pid file and lock.
    pub fn pid_dir(&self) -> PathBuf {
        self.root.join(PID)
    }

    /// path - where the queue file `id` lives when it is in `queue`.
    pub fn path(&self, queue: Queue, id: &QueueId) -> PathBuf {
        self.dir(queue).join(id.as_str())
    }

    /// create_dirs - create the root and every spool directory, fixing modes
    /// and owners of existing ones. Idempotent.
    ///
    /// Modes: each queue 0700 (maildrop 1733), `private/` 0700, `public/`
    /// 0711 (local users reach the sockets in it, which check who they are
    /// with `SO_PEERCRED`), `pid/` 0755. With `owner` (mail_owner's uid and gid, when run
    /// as root) every directory but `pid/` and the root is chowned to it;
    /// those two stay with the caller. A missing root is created 0755; an
    /// existing root keeps its mode. Any of these paths being a symbolic
    /// link is an error ([`Error::Symlink`]): nothing is created through it.
    pub fn create_dirs(&self, owner: Option<(Uid, Gid)>) -> Result<(), Error> {
        match fs::symlink_metadata(&self.root) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(&self.root)
                .map_err(io_err("create spool directory", &self.root))?,
            Err(e) => return Err(io_err("stat", &self.root)(e)),
        }
        // Refuses a symlinked or non-directory root.
        open_dir(&self.root)?;
        for queue in Queue::ALL {
            ensure_dir(&self.dir(queue), queue.mode(), owner)?;
        }
        ensure_dir(&self.root.join(RECYCLE), 0o700, owner)?;
        ensure_dir(&self.private_dir(), 0o700, owner)?;
        ensure_dir(&self.public_dir(), 0o711, owner)?;
        ensure_dir(&self.pid_dir(), 0o755, None)?;
        fsync_dir(&self.root)
    }

    /// create - start a new queue file in `incoming/`.
    ///
    /// Writes `incoming/.ID.tmp` (created with `O_EXCL`, mode 0600) with the
    /// envelope; the caller then writes the message through
    /// [`std::io::Write`] and calls [`QueueWriter::commit`]. Nothing is
    /// visible as a queue file until the commit's rename.
    pub fn create(&self, envelope: &Envelope) -> Result<QueueWriter, Error> {
        QueueWriter::create(self, envelope)
    }

    /// create_with_id - [`Spool::create`] under an ID the caller chose
    /// ([`QueueId::new`]) and may have used already, e.g. in a header
    /// written before the file exists. An ID in use is
    /// [`Error::NoFreeId`], never replaced.
    pub fn create_with_id(&self, envelope: &Envelope, id: QueueId) -> Result<QueueWriter, Error> {
        QueueWriter::create_with_id(self, envelope, id)
    }

    /// open - open and verify a committed queue file.
    ///
    /// Checks the header, the end record and the checksum (reading the
    /// message once, without keeping it), decodes the envelope and applies
    /// the update records. [`Error::Incomplete`] and [`Error::Corrupt`]
    /// ([`Error::is_damaged`]) mean the file should be quarantined. A torn
    /// final update record is not an error: see [`QueueFile::torn_tail`].
    pub fn open(&self, queue: Queue, id: &QueueId) -> Result<QueueFile, Error> {
        QueueFile::open(self.path(queue, id), *id)
    }

    /// move_to - rename a queue file to another queue, then fsync both directories.
    ///
    /// Never replaces a file already in `to` ([`Error::AlreadyExists`]).
    /// The rename is atomic: after a crash the file is in exactly one queue.
    /// If an fsync fails the rename has still happened (the file is in
    /// `to`), but it may not survive a crash.
    pub fn move_to(&self, id: &QueueId, from: Queue, to: Queue) -> Result<(), Error> {
        let (old, new) = (self.path(from, id), self.path(to, id));
        rename_noreplace(&old, &new)?;
        // The destination first: once it is durable the file cannot be lost.
        fsync_dir_grouped(&self.dir(to))?;
        fsync_dir_grouped(&self.dir(from))
    }

    /// move_recoverable - [`Spool::move_to`] without the directory fsyncs,
    /// for the queue manager's own moves between `incoming/`, `active/` and
    /// `deferred/`.
    ///
    /// A rename is atomic: after a crash the file is in one of the two
    /// directories, never in none, and the queue manager's recovery treats
    /// those three alike (`active/` goes back to `incoming/`; a deferred
    /// file is delivered at its time, or earlier). So making the move
    /// durable buys nothing there; an administrator's moves (hold, release)
    /// use [`Spool::move_to`].
    pub fn move_recoverable(&self, id: &QueueId, from: Queue, to: Queue) -> Result<(), Error> {
        rename_noreplace(&self.path(from, id), &self.path(to, id))
    }

    /// list - the queue IDs in a queue, oldest first.
    ///
    /// In-progress `.ID.tmp` files are skipped silently; any other name that
    /// is not a queue ID is skipped with a warning naming it.
    pub fn list(&self, queue: Queue) -> Result<Vec<QueueId>, Error> {
        let dir = self.dir(queue);
        let mut ids = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err("list queue", &dir))? {
            let entry = entry.map_err(io_err("list queue", &dir))?;
            let name = entry.file_name();
            match name.to_str() {
                Some(s) if tmp_id(s).is_some() => {}
                Some(s) => match QueueId::parse(s) {
                    Ok(id) => ids.push(id),
                    Err(e) => tracing::warn!(
                        queue = %queue,
                        "unexpected file {:?} in {}: {e}; ignored",
                        s,
                        dir.display()
                    ),
                },
                None => tracing::warn!(
                    queue = %queue,
                    "unexpected non-UTF-8 file name {:?} in {}; ignored",
                    name,
                    dir.display()
                ),
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }

    /// quarantine - move a damaged queue file to `corrupt/`, with a warning
    /// naming the ID and the reason. Never deletes anything.
    pub fn quarantine(
        &self,
        queue: Queue,
        id: &QueueId,
        reason: &dyn std::fmt::Display,
    ) -> Result<(), Error> {
        if queue != Queue::Corrupt {
            self.move_to(id, queue, Queue::Corrupt)?;
        }
        tracing::warn!(
            queue_id = %id,
            "{id}: queue file moved from {queue} to corrupt: {reason}"
        );
        Ok(())
    }

    /// retire - take a queue file whose message is done (all recipients
    /// delivered, bounced or expired) out of `queue`, then fsync the
    /// directory: like [`Spool::remove`], but a small file is kept in
    /// `recycle/` for [`Spool::create`] to reuse (the `recycle` module),
    /// which spares the file system an inode freed and allocated again.
    pub fn retire(&self, queue: Queue, id: &QueueId) -> Result<(), Error> {
        let path = self.path(queue, id);
        match recycle::retire(&self.root, &path) {
            Ok(true) => fsync_dir_grouped(&self.dir(queue)),
            Ok(false) => self.remove(queue, id),
            Err(e) => Err(io_err("retire queue file", &path)(e)),
        }
    }

    /// remove - delete a queue file (all recipients are done), then fsync its directory.
    pub fn remove(&self, queue: Queue, id: &QueueId) -> Result<(), Error> {
        let path = self.path(queue, id);
        fs::remove_file(&path).map_err(io_err("remove queue file", &path))?;
        fsync_dir_grouped(&self.dir(queue))
    }

    /// set_next_attempt - record when a deferred file is due, as its mtime (DESIGN §3).
    ///
    /// Not fsynced: if a crash loses it, the file is retried early, which is harmless.
    pub fn set_next_attempt(
        &self,
        queue: Queue,
        id: &QueueId,
        when: SystemTime,
    ) -> Result<(), Error> {
        let path = self.path(queue, id);
        let file = OpenOptions::new()
            .read(true)
            .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
            .open(&path)
            .map_err(io_err("open queue file", &path))?;
        file.set_times(FileTimes::new().set_modified(when))
            .map_err(io_err("set mtime of queue file", &path))
    }

    /// next_attempt - when a deferred file is due (its mtime).
    pub fn next_attempt(&self, queue: Queue, id: &QueueId) -> Result<SystemTime, Error> {
        let path = self.path(queue, id);
        fs::symlink_metadata(&path)
            .and_then(|m| m.modified())
            .map_err(io_err("stat queue file", &path))
    }

    /// remove_stale_tmp - delete `.ID.tmp` files in `queue` not modified for
    /// `older_than`: leftovers of writers that crashed before commit.
    ///
    /// A live writer modifies its file at least every buffer flush, so pick
    /// `older_than` well above the longest DATA transfer (e.g. an hour).
    /// Returns the IDs removed, for logging.
    pub fn remove_stale_tmp(
        &self,
        queue: Queue,
        older_than: Duration,
    ) -> Result<Vec<QueueId>, Error> {
        let dir = self.dir(queue);
        let now = SystemTime::now();
        let mut removed = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err("list queue", &dir))? {
            let entry = entry.map_err(io_err("list queue", &dir))?;
            let Some(id) = entry.file_name().to_str().and_then(tmp_id) else {
                continue;
            };
            let path = entry.path();
            let modified = fs::symlink_metadata(&path)
                .and_then(|m| m.modified())
                .map_err(io_err("stat temporary file", &path))?;
            let age = now.duration_since(modified).unwrap_or(Duration::ZERO);
            if age >= older_than {
                match fs::remove_file(&path) {
                    Ok(()) => removed.push(id),
                    // Committed or removed meanwhile: fine.
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(io_err("remove temporary file", &path)(e)),
                }
            }
        }
        if !removed.is_empty() {
            fsync_dir(&dir)?;
        }
        removed.sort_unstable();
        Ok(removed)
    }
}

/// tmp_name - the file name of an uncommitted queue file.
pub(crate) fn tmp_name(id: &QueueId) -> String {
    format!(".{id}.tmp")
}

/// tmp_id - the queue ID in an uncommitted file's name, None if it is not one.
fn tmp_id(name: &str) -> Option<QueueId> {
    name.strip_prefix('.')
        .and_then(|s| s.strip_suffix(".tmp"))
        .and_then(|s| QueueId::parse(s).ok())
}

/// ensure_dir - make `path` a directory (not a symlink) with `mode` and `owner`.
fn ensure_dir(path: &Path, mode: u32, owner: Option<(Uid, Gid)>) -> Result<(), Error> {
    match fs::create_dir(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io_err("create spool directory", path)(e)),
    }
    // Work on the opened directory, not the name, so a symlink swapped in
    // after the check cannot redirect the chown or chmod.
    let dir = open_dir(path)?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(&dir, Some(uid.as_raw()), Some(gid.as_raw()))
            .map_err(io_err("chown spool directory", path))?;
    }
    // After chown, which may clear set-ID bits; also defeats the umask.
    dir.set_permissions(Permissions::from_mode(mode))
        .map_err(io_err("chmod spool directory", path))
}
