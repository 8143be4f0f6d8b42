//! Is master running? The pid file's lock answers, not the file's existence.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

/// The path of master's pid file under `queue_directory`.
pub fn pid_path(queue_directory: &Path) -> PathBuf {
    queue_directory.join("pid").join("master.pid")
}

/// The pid of the running master, or None when no master holds the pid file's lock.
pub fn master_pid(queue_directory: &Path) -> std::io::Result<Option<i32>> {
    let path = pid_path(queue_directory);
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        // We got the lock: nobody holds it, the file is stale. Dropping releases it.
        Ok(_) => Ok(None),
        Err((mut file, Errno::EWOULDBLOCK)) => {
            // master writes its pid right after taking the lock; give it a moment.
            for _ in 0..20 {
                let mut text = String::new();
                file.read_to_string(&mut text)?;
                if let Ok(pid) = text.trim().parse::<i32>()
                    && pid > 0
                {
                    return Ok(Some(pid));
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
                file.rewind()?;
            }
            Err(std::io::Error::other(format!(
                "{} is locked but holds no pid",
                path.display()
            )))
        }
        Err((_, errno)) => Err(std::io::Error::from(errno)),
    }
}
