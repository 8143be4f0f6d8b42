//! recycle - queue files reused instead of deleted and created again.
//!
//! Every message used to cost the file system a fresh inode for its queue
//! file and, once delivered, freeing it again. On ext4 under steady load
//! that churn is the largest single cost of a message (the inode allocator
//! scans past recently freed inodes it will not hand out yet). So a queue
//! file whose message is done ([`Spool::retire`](crate::Spool::retire)) is
//! renamed into `recycle/` instead of deleted, and the next
//! [`Spool::create`](crate::Spool::create) renames one from there to its
//! `incoming/.ID.tmp` name and overwrites it, cutting it to the new
//! length at commit. Durability is unchanged: the retire still takes the
//! name out of its queue directory (then fsynced as before), and a new
//! message is made durable exactly as in a new file.
//!
//! Bounds: at most [`POOL_LIMIT`] files wait in `recycle/`, and only files
//! of at most [`MAX_RECYCLED_LEN`] bytes are kept (larger ones are deleted
//! as before), so the pool holds at most a few tens of megabytes. The
//! directory is 0700 like the queues and never read as mail: a file in it
//! is only ever opened by a writer that overwrites it.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use nix::fcntl::OFlag;

/// The directory under the spool root.
pub(crate) const RECYCLE: &str = "recycle";

/// The most files kept in `recycle/`.
pub(crate) const POOL_LIMIT: usize = 256;

/// Files larger than this are deleted rather than kept.
pub(crate) const MAX_RECYCLED_LEN: u64 = 128 * 1024;

/// How many names a writer takes from one listing of `recycle/`.
const BATCH: usize = 32;

/// After finding `recycle/` empty, create fresh files for this long
/// before listing it again.
const EMPTY_BACKOFF: Duration = Duration::from_secs(1);

/// After this many retires (kept or refused), count `recycle/` again
/// (writers take files from it, so the retiring side's count only ever
/// overestimates).
const RECOUNT_EVERY: usize = 64;

/// Pool - what this process knows of one spool's `recycle/`.
#[derive(Debug)]
struct Pool {
    /// The spool root.
    root: PathBuf,
    /// Names listed and not yet tried.
    names: Vec<OsString>,
    /// When the directory was last found empty.
    empty_at: Option<Instant>,
    /// Files in the directory as of the last count plus retires since.
    count: Option<usize>,
    /// Retires since the last count.
    since_count: usize,
}

/// The pools of the spools this process uses (one, except in tests).
static POOLS: Mutex<Vec<Pool>> = Mutex::new(Vec::new());

/// with_pool - run `f` on the pool of the spool at `root`.
fn with_pool<T>(root: &Path, f: impl FnOnce(&mut Pool) -> T) -> T {
    let mut pools = POOLS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(pool) = pools.iter_mut().find(|p| p.root == root) {
        return f(pool);
    }
    let mut pool = Pool {
        root: root.to_path_buf(),
        names: Vec::new(),
        empty_at: None,
        count: None,
        since_count: 0,
    };
    let out = f(&mut pool);
    pools.push(pool);
    out
}

/// retire - put the finished queue file at `path` into the pool if it
/// has room and the file is small; Ok(false) if it should be deleted
/// instead. The caller fsyncs the directory it came from either way.
pub(crate) fn retire(root: &Path, path: &Path) -> io::Result<bool> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.file_type().is_file() || meta.len() > MAX_RECYCLED_LEN || meta.nlink() != 1 {
        return Ok(false);
    }
    let dir = root.join(RECYCLE);
    let room = with_pool(root, |pool| {
        if pool.count.is_none() || pool.since_count >= RECOUNT_EVERY {
            pool.count = Some(count_entries(&dir));
            pool.since_count = 0;
        }
        // Refusals count too: writers empty the pool behind our back, and
        // a full count must be looked at again.
        pool.since_count += 1;
        let count = pool.count.unwrap_or(POOL_LIMIT);
        if count >= POOL_LIMIT {
            return false;
        }
        pool.count = Some(count + 1);
        // This process knows the pool is not empty any more.
        pool.empty_at = None;
        true
    });
    if !room {
        return Ok(false);
    }
    let Some(name) = path.file_name() else {
        return Ok(false);
    };
    // Queue IDs are unique, so the name is free; if not, the older file
    // it replaces was only waiting to be overwritten anyway.
    match fs::rename(path, dir.join(name)) {
        Ok(()) => Ok(true),
        // No recycle/ (a spool made before it existed): delete instead.
        Err(e) if e.kind() == io::ErrorKind::NotFound && path.exists() => Ok(false),
        Err(e) => Err(e),
    }
}

/// take - a file from the pool, renamed to `to` and opened for writing
/// (its old contents still there); None if the pool is empty or every
/// candidate was taken by another process first.
pub(crate) fn take(root: &Path, to: &Path) -> Option<File> {
    let dir = root.join(RECYCLE);
    loop {
        let name = with_pool(root, |pool| {
            if let Some(name) = pool.names.pop() {
                return Some(Some(name));
            }
            if pool.empty_at.is_some_and(|t| t.elapsed() < EMPTY_BACKOFF) {
                return Some(None);
            }
            None
        });
        let name = match name {
            Some(Some(name)) => name,
            Some(None) => return None,
            None => {
                let listed = list(&dir);
                let empty = listed.is_empty();
                with_pool(root, |pool| {
                    pool.names = listed;
                    pool.empty_at = empty.then(Instant::now);
                });
                if empty {
                    return None;
                }
                continue;
            }
        };
        // The rename is the claim: of two processes trying one name, one
        // gets ENOENT and tries the next.
        if fs::rename(dir.join(&name), to).is_err() {
            continue;
        }
        match open_taken(to) {
            Ok(file) => return Some(file),
            Err(e) => {
                tracing::warn!(path = %to.display(), error = %e, "recycled queue file unusable; creating a new one");
                let _ = fs::remove_file(to);
                return None;
            }
        }
    }
}

/// open_taken - open a file just taken from the pool, refusing anything
/// but a plain regular file, and give it the current time (so nobody
/// takes it for an abandoned temporary file before its first write).
fn open_taken(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() || meta.nlink() != 1 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a plain regular file",
        ));
    }
    file.set_modified(SystemTime::now())?;
    Ok(file)
}

/// list - up to [`BATCH`] names in `recycle/` (none if it is missing).
fn list(dir: &Path) -> Vec<OsString> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n.as_bytes().first() != Some(&b'.'))
        .take(BATCH)
        .collect()
}

/// count_entries - how many names `recycle/` holds (the limit if it
/// cannot be read, so nothing is added to a directory we cannot see).
fn count_entries(dir: &Path) -> usize {
    match fs::read_dir(dir) {
        Ok(entries) => entries.count(),
        Err(_) => POOL_LIMIT,
    }
}
