//! `pid/master.pid`: master's process ID, held under an exclusive lock.
//!
//! The lock, not the file's existence, says whether master runs: a pid file left by a
//! master killed with SIGKILL is unlocked, and the next master takes it over. The lock
//! dies with the process, so it can never go stale.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The locked pid file of the running master.
pub struct PidFile {
    path: PathBuf,
    _lock: Flock<File>,
}

impl PidFile {
    /// Locks `path` and writes our pid into it, or fails naming the running master.
    pub fn acquire(path: &Path) -> anyhow::Result<Self> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .with_context(|| format!("open {}", path.display()))?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((mut file, Errno::EWOULDBLOCK)) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                bail!(
                    "the mail system is already running (master pid {}, {})",
                    text.trim(),
                    path.display()
                );
            }
            Err((_, errno)) => bail!("lock {}: {errno}", path.display()),
        };
        lock.set_len(0)
            .and_then(|()| lock.rewind())
            .and_then(|()| writeln!(lock, "{}", std::process::id()))
            .and_then(|()| lock.sync_all())
            .with_context(|| format!("write {}", path.display()))?;
        Ok(PidFile {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    /// Removes the file; the lock goes when `self` is dropped right after.
    pub fn remove(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
