//! lock - exclusive locks on an mbox file, with a deadline.
//!
//! Two kinds, because mbox readers disagree on which they honour: a POSIX
//! record lock (fcntl, what mutt, Dovecot and Postfix use on Linux) and a
//! BSD lock (flock, which also excludes other threads of this process,
//! where record locks do not). Both are taken without blocking and
//! retried with a growing pause until the deadline; if the second cannot
//! be had, the first is released before waiting, so that a process taking
//! them in the other order cannot deadlock with us.
//!
//! XXX: no `.lock` dot-lock file; it needs write access to the directory
//! (`/var/mail` is group-writable for that), and `/file` alias targets
//! rarely live in one. Add it if a reader that only dot-locks shows up.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, Flock, FlockArg, fcntl};
use nix::libc;

use crate::error::{Error, errno_err};

/// The first pause between attempts; it doubles up to [`MAX_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(1);
/// The longest pause between attempts.
const MAX_PAUSE: Duration = Duration::from_millis(100);

/// lock - lock `file` exclusively (flock and fcntl), waiting up to `timeout`.
///
/// The locks go away when the returned file is closed.
pub(crate) fn lock(file: File, path: &Path, timeout: Duration) -> Result<Flock<File>, Error> {
    let start = Instant::now();
    let mut pause = FIRST_PAUSE;
    let mut file = file;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => match record_lock(locked.as_fd()) {
                Ok(()) => return Ok(locked),
                Err(Errno::EAGAIN | Errno::EACCES | Errno::EINTR) => {
                    file = locked
                        .unlock()
                        .map_err(|(_, errno)| errno_err("unlock (flock)", path)(errno))?;
                }
                Err(errno) => return Err(errno_err("lock (fcntl)", path)(errno)),
            },
            Err((f, Errno::EWOULDBLOCK | Errno::EINTR)) => file = f,
            Err((_, errno)) => return Err(errno_err("lock (flock)", path)(errno)),
        }
        let waited = start.elapsed();
        if waited >= timeout {
            return Err(Error::LockTimeout {
                path: path.to_path_buf(),
                waited,
            });
        }
        std::thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// record_lock - a non-blocking fcntl write lock on the whole file.
fn record_lock(fd: std::os::fd::BorrowedFd<'_>) -> Result<(), Errno> {
    let whole_file = libc::flock {
        l_type: libc::c_short::try_from(libc::F_WRLCK).map_err(|_| Errno::EINVAL)?,
        l_whence: libc::c_short::try_from(libc::SEEK_SET).map_err(|_| Errno::EINVAL)?,
        l_start: 0,
        // Zero length: to the end of the file, however far it grows.
        l_len: 0,
        l_pid: 0,
    };
    fcntl(fd, FcntlArg::F_SETLK(&whole_file)).map(drop)
}
