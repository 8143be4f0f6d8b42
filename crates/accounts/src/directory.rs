//! [`Directory`]: the live, shared accounts, re-read when the files change.

use std::sync::{Arc, Mutex, PoisonError, RwLock, TryLockError};
use std::time::{Duration, Instant};

use config::Params;

use crate::accounts::Accounts;
use crate::error::{Error, describe};
use crate::fileio::{Stamp, stamp};
use crate::settings::Settings;

/// How often [`Directory::current`] looks at the files.
const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// The users and aliases of a running daemon, shared by all its sessions.
///
/// [`current`](Directory::current) returns the loaded version and, at most
/// once per second, stats the users and aliases files; if one changed
/// (modification time, size or inode), they are all read again. If that
/// fails with an I/O error (a file became unreadable), the last good
/// version stays in use and an error naming the file is logged.
/// [`reload`](Directory::reload) forces a re-read (on SIGHUP).
#[derive(Debug)]
pub struct Directory {
    /// The parameters the files and domains come from.
    settings: Arc<Settings>,
    /// The version sessions get.
    current: RwLock<Arc<Accounts>>,
    /// When to look at the files next, and what they looked like. A
    /// session that finds it locked does not wait: someone else is
    /// checking.
    watch: Mutex<Watch>,
}

#[derive(Debug)]
struct Watch {
    next_check: Instant,
    stamps: Vec<Stamp>,
}

impl Directory {
    /// Loads the files named by `virtual_user_maps` and `alias_maps`.
    ///
    /// A missing file is an empty one (logged at debug level); one that
    /// exists but cannot be read, or an unsupported table type, is an
    /// error.
    pub fn open(params: &Params) -> Result<Directory, Error> {
        let settings = Arc::new(Settings::from_params(params)?);
        let stamps = stamps(&settings);
        let accounts = Accounts::read(Arc::clone(&settings))?;
        Ok(Directory {
            settings,
            current: RwLock::new(Arc::new(accounts)),
            watch: Mutex::new(Watch {
                next_check: Instant::now() + CHECK_INTERVAL,
                stamps,
            }),
        })
    }

    /// The current version, re-read first if a file changed (checked at
    /// most once per second).
    pub fn current(&self) -> Arc<Accounts> {
        self.current_at(Instant::now())
    }

    /// [`current`](Directory::current) with the clock given (tests).
    pub fn current_at(&self, now: Instant) -> Arc<Accounts> {
        let watch = match self.watch.try_lock() {
            Ok(watch) => Some(watch),
            Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        };
        if let Some(mut watch) = watch
            && now >= watch.next_check
        {
            watch.next_check = now + CHECK_INTERVAL;
            let stamps = stamps(&self.settings);
            if stamps != watch.stamps {
                // Errors are logged inside; the last good version stays.
                let _ = self.reload_locked(&mut watch, stamps);
            }
        }
        self.snapshot()
    }

    /// Reads every file again now (SIGHUP). On error the last good version
    /// stays in use, the error is logged, and returned.
    pub fn reload(&self) -> Result<Arc<Accounts>, Error> {
        let mut watch = self.watch.lock().unwrap_or_else(PoisonError::into_inner);
        let stamps = stamps(&self.settings);
        self.reload_locked(&mut watch, stamps)
    }

    fn reload_locked(&self, watch: &mut Watch, stamps: Vec<Stamp>) -> Result<Arc<Accounts>, Error> {
        // Remember the new state even on failure, so that a broken file is
        // reported once, and read again when it changes.
        watch.stamps = stamps;
        match Accounts::read(Arc::clone(&self.settings)) {
            Ok(accounts) => {
                let (users, aliases) = accounts.counts();
                tracing::info!("reloaded accounts: {users} users, {aliases} aliases");
                let accounts = Arc::new(accounts);
                *self.current.write().unwrap_or_else(PoisonError::into_inner) =
                    Arc::clone(&accounts);
                Ok(accounts)
            }
            Err(e) => {
                tracing::error!(
                    "{}; keeping the previously loaded users and aliases",
                    describe(&e)
                );
                Err(e)
            }
        }
    }

    fn snapshot(&self) -> Arc<Accounts> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }
}

fn stamps(settings: &Settings) -> Vec<Stamp> {
    settings.watched_files().map(stamp).collect()
}
