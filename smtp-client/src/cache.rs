//! Idle connections kept for the next message to the same next hop.
//!
//! After a transaction the session goes here instead of being closed; a
//! delivery to the same next hop takes it back, checks it with RSET and skips
//! the DNS lookup, TCP and TLS handshakes and EHLO. A session idle longer than
//! `smtp_connection_cache_time_limit` is closed with QUIT.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::session::Session;

/// The most idle sessions kept per next hop.
const PER_DESTINATION: usize = 8;

/// The cache.
pub struct Cache {
    idle: Mutex<HashMap<String, Vec<(Session, Instant)>>>,
    time: Duration,
}

impl Cache {
    /// A cache keeping sessions for `time` (zero: no caching).
    pub fn new(time: Duration) -> Self {
        Cache {
            idle: Mutex::new(HashMap::new()),
            time,
        }
    }

    /// The most recently cached session for `key` that is still fresh.
    pub fn take(&self, key: &str) -> Option<Session> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let sessions = idle.get_mut(key)?;
        let session = sessions
            .pop()
            .filter(|(_, since)| since.elapsed() < self.time)
            .map(|(session, _)| session);
        if sessions.is_empty() {
            idle.remove(key);
        }
        session
    }

    /// Keeps `session` for the next delivery to `key`; gives it back when
    /// caching is off or the next hop has enough idle sessions.
    pub fn put(&self, key: String, session: Session) -> Option<Session> {
        if self.time.is_zero() {
            return Some(session);
        }
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let sessions = idle.entry(key).or_default();
        if sessions.len() >= PER_DESTINATION {
            return Some(session);
        }
        sessions.push((session, Instant::now()));
        None
    }

    /// Removes the sessions idle longer than the limit (all of them when
    /// `everything`), for the caller to close.
    pub fn expired(&self, everything: bool) -> Vec<Session> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let mut old = Vec::new();
        for sessions in idle.values_mut() {
            let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(sessions)
                .into_iter()
                .partition(|(_, since)| !everything && since.elapsed() < self.time);
            *sessions = keep;
            old.extend(gone.into_iter().map(|(session, _)| session));
        }
        idle.retain(|_, sessions| !sessions.is_empty());
        old
    }

    /// How often [`Cache::expired`] should run.
    pub fn sweep_interval(&self) -> Duration {
        (self.time / 2).clamp(Duration::from_millis(200), Duration::from_secs(5))
    }
}
