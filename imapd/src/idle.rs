//! IDLE's view of the folder: inotify on `cur/`, `new/` and the folder itself (UID
//! and keyword lists), so a delivery or another session's change wakes the session
//! at once.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;
use std::time::Duration;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::io::unix::AsyncFd;

/// How often an idling session rescans anyway, for changes inotify cannot see (a
/// Maildir shared over NFS, or a watch that could not be set up).
pub const RESCAN: Duration = Duration::from_secs(60);

/// Changes wait this long for more before the session rescans, so a burst of
/// deliveries or a client's bulk STORE costs one rescan.
const SETTLE: Duration = Duration::from_millis(50);

struct Fd(Inotify);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// A watch on one folder.
pub struct Watch {
    fd: AsyncFd<Fd>,
}

impl Watch {
    /// Watches the Maildir at `path`.
    pub fn new(path: &Path) -> std::io::Result<Watch> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        let flags = AddWatchFlags::IN_CREATE
            | AddWatchFlags::IN_DELETE
            | AddWatchFlags::IN_MOVED_FROM
            | AddWatchFlags::IN_MOVED_TO
            | AddWatchFlags::IN_ONLYDIR;
        for dir in ["cur", "new"] {
            inotify.add_watch(&path.join(dir), flags)?;
        }
        inotify.add_watch(path, flags)?;
        // AsyncFd::new is deprecated because it cannot know that the descriptor
        // outlives the registration; here it does: the AsyncFd owns the Inotify.
        #[allow(deprecated)]
        let fd = AsyncFd::new(Fd(inotify))?;
        Ok(Watch { fd })
    }

    /// Waits until something in the folder changed.
    pub async fn changed(&mut self) {
        loop {
            let Ok(mut guard) = self.fd.readable().await else {
                return std::future::pending().await;
            };
            match guard.get_inner().0.read_events() {
                Ok(events) if !events.is_empty() => {
                    guard.clear_ready();
                    break;
                }
                Ok(_) => guard.clear_ready(),
                Err(nix::errno::Errno::EAGAIN) => guard.clear_ready(),
                Err(_) => return std::future::pending().await,
            }
        }
        tokio::time::sleep(SETTLE).await;
        // Drain what arrived while settling.
        while let Ok(events) = self.fd.get_ref().0.read_events() {
            if events.is_empty() {
                break;
            }
        }
    }
}
