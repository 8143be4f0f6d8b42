//! queue - the names of the queue directories.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One of the spool's queues: a directory of queue files named by queue ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Queue {
    /// Accepted, fully written and fsynced; qmgr has not taken it yet.
    Incoming,
    /// qmgr is working on it.
    Active,
    /// Waiting for the next attempt; the file's mtime is when.
    Deferred,
    /// Kept until an administrator releases it.
    Hold,
    /// Unreadable queue files, kept for inspection; never deleted silently.
    Corrupt,
    /// Local submissions written by `sendmail` while the daemons are down.
    Maildrop,
}

impl Queue {
    /// Every queue, in lifecycle order.
    pub const ALL: [Queue; 6] = [
        Queue::Incoming,
        Queue::Active,
        Queue::Deferred,
        Queue::Hold,
        Queue::Corrupt,
        Queue::Maildrop,
    ];

    /// name - the directory name under the spool root, e.g. `"incoming"`.
    pub fn name(self) -> &'static str {
        match self {
            Queue::Incoming => "incoming",
            Queue::Active => "active",
            Queue::Deferred => "deferred",
            Queue::Hold => "hold",
            Queue::Corrupt => "corrupt",
            Queue::Maildrop => "maildrop",
        }
    }

    /// from_name - the queue with this directory name; None for anything
    /// else, so a name from outside never becomes an arbitrary path.
    pub fn from_name(name: &str) -> Option<Queue> {
        Queue::ALL.into_iter().find(|q| q.name() == name)
    }

    /// mode - permission bits of the directory.
    ///
    /// maildrop is writable by everyone but listable by no one, with the
    /// sticky bit (like /tmp): `sendmail` run by any local user drops a file
    /// there when the daemons are down, and the kernel-recorded owner of the
    /// file is who submitted it. Nobody can see, remove or rename another
    /// user's file. No set-ID program is needed.
    pub(crate) fn mode(self) -> u32 {
        match self {
            Queue::Maildrop => 0o1733,
            _ => 0o700,
        }
    }
}

impl fmt::Display for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for q in Queue::ALL {
            assert_eq!(Queue::from_name(q.name()), Some(q));
            assert_eq!(q.to_string(), q.name());
        }
        for bad in ["", "Incoming", "../incoming", "private", "pid", "incoming/"] {
            assert_eq!(Queue::from_name(bad), None, "{bad:?}");
        }
    }
}
