//! [`AuthThrottle`]: failed-login counting shared by SMTP AUTH, POP3 and
//! IMAP.
//!
//! Failures are counted per client address and per user name over a
//! window (`auth_failure_window`) that starts at the first failure. Each
//! failure makes the caller wait before answering: `auth_failure_delay`
//! times the failures so far, at most 15 s. When a client or a user name
//! reaches `auth_failure_limit` failures within the window, further logins
//! for it are refused (with a temporary error) until the window ends, and
//! one warning is logged. A successful login clears the client's count;
//! the user's count stays, so that someone guessing a user's password from
//! many addresses is still stopped.
//!
//! Memory is bounded: each table holds at most [`MAX_TRACKED`] entries;
//! when full, expired entries are dropped, then the least recently failed
//! ones.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use config::Params;

/// The longest delay [`AuthThrottle::failed`] asks for.
pub const MAX_DELAY: Duration = Duration::from_secs(15);

/// The most client addresses, and the most user names, tracked at once.
pub const MAX_TRACKED: usize = 10_000;

/// What [`AuthThrottle::check`] says about a login attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on and check the password.
    Proceed,
    /// Do not check the password: answer with a temporary error.
    Refuse {
        /// When the refusal ends.
        retry_after: Duration,
    },
}

/// Failed-login counters for one daemon process. `Send + Sync`; share it
/// with an `Arc`.
#[derive(Debug)]
pub struct AuthThrottle {
    delay: Duration,
    limit: u32,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    clients: Table<IpAddr>,
    users: Table<String>,
}

#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Entry>,
}

impl<K> Default for Table<K> {
    fn default() -> Self {
        Table {
            entries: HashMap::new(),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    /// Failures since `first`.
    failures: u32,
    /// The first failure of the window.
    first: Instant,
    /// The latest failure (eviction order).
    last: Instant,
    /// Whether the refusal of this window was logged.
    warned: bool,
}

impl Entry {
    fn is_current(&self, now: Instant, window: Duration) -> bool {
        now.saturating_duration_since(self.first) < window
    }
}

impl<K: Eq + Hash + Clone> Table<K> {
    /// Counts a failure; returns the failures in the current window.
    fn record(&mut self, key: &K, now: Instant, window: Duration) -> u32 {
        if let Some(entry) = self.entries.get_mut(key) {
            if entry.is_current(now, window) {
                entry.failures = entry.failures.saturating_add(1);
                entry.last = now;
                return entry.failures;
            }
        } else if self.entries.len() >= MAX_TRACKED {
            self.evict(now, window);
        }
        self.entries.insert(
            key.clone(),
            Entry {
                failures: 1,
                first: now,
                last: now,
                warned: false,
            },
        );
        1
    }

    /// When `key` is refused: how long still, and whether this is the first
    /// time in the window (log it).
    fn refusal(
        &mut self,
        key: &K,
        now: Instant,
        limit: u32,
        window: Duration,
    ) -> Option<(Duration, bool)> {
        let entry = self.entries.get_mut(key)?;
        if limit == 0 || entry.failures < limit || !entry.is_current(now, window) {
            return None;
        }
        let first_time = !entry.warned;
        entry.warned = true;
        let wait = entry
            .first
            .checked_add(window)
            .map_or(window, |ends| ends.saturating_duration_since(now));
        Some((wait, first_time))
    }

    /// Makes room: drops expired entries, then the least recently failed
    /// eighth.
    fn evict(&mut self, now: Instant, window: Duration) {
        self.entries.retain(|_, e| e.is_current(now, window));
        if self.entries.len() < MAX_TRACKED {
            return;
        }
        let mut by_age: Vec<(Instant, K)> = self
            .entries
            .iter()
            .map(|(k, e)| (e.last, k.clone()))
            .collect();
        by_age.sort_by_key(|(last, _)| *last);
        for (_, key) in by_age.into_iter().take(MAX_TRACKED / 8 + 1) {
            self.entries.remove(&key);
        }
    }
}

impl AuthThrottle {
    /// A throttle with `delay` per earlier failure, refusing after `limit`
    /// failures (0: never refuse) within `window`.
    pub fn new(delay: Duration, limit: u32, window: Duration) -> AuthThrottle {
        AuthThrottle {
            delay,
            limit,
            window,
            state: Mutex::new(State::default()),
        }
    }

    /// A throttle from `auth_failure_delay`, `auth_failure_limit` and
    /// `auth_failure_window`.
    pub fn from_params(params: &Params) -> AuthThrottle {
        AuthThrottle::new(
            params.auth_failure_delay,
            params.auth_failure_limit,
            params.auth_failure_window,
        )
    }

    /// Whether a login from `client` (for `user`, when known yet) may be
    /// tried. Call it before checking the password.
    pub fn check(&self, client: IpAddr, user: Option<&str>) -> Verdict {
        self.check_at(Instant::now(), client, user)
    }

    /// [`check`](AuthThrottle::check) with the clock given (tests).
    pub fn check_at(&self, now: Instant, client: IpAddr, user: Option<&str>) -> Verdict {
        let mut state = self.lock();
        let mut retry_after: Option<Duration> = None;
        if let Some((wait, first)) = state.clients.refusal(&client, now, self.limit, self.window) {
            if first {
                tracing::warn!("too many failed logins from {client}");
            }
            retry_after = Some(wait);
        }
        if let Some(user) = user {
            let key = user.to_lowercase();
            if let Some((wait, first)) = state.users.refusal(&key, now, self.limit, self.window) {
                if first {
                    tracing::warn!("too many failed logins for user {user}");
                }
                retry_after = Some(retry_after.map_or(wait, |w| w.max(wait)));
            }
        }
        match retry_after {
            Some(retry_after) => Verdict::Refuse { retry_after },
            None => Verdict::Proceed,
        }
    }

    /// Records a failed login; returns how long to wait before answering
    /// (`auth_failure_delay` times the recent failures, at most 15 s).
    pub fn failed(&self, client: IpAddr, user: Option<&str>) -> Duration {
        self.failed_at(Instant::now(), client, user)
    }

    /// [`failed`](AuthThrottle::failed) with the clock given (tests).
    pub fn failed_at(&self, now: Instant, client: IpAddr, user: Option<&str>) -> Duration {
        let mut state = self.lock();
        let mut failures = state.clients.record(&client, now, self.window);
        if let Some(user) = user {
            failures = failures.max(state.users.record(&user.to_lowercase(), now, self.window));
        }
        self.delay.saturating_mul(failures).min(MAX_DELAY)
    }

    /// Records a successful login: clears the client's failures (the user
    /// name's are kept; see the module documentation).
    pub fn succeeded(&self, client: IpAddr, _user: Option<&str>) {
        self.lock().clients.entries.remove(&client);
    }

    /// How many client addresses and user names are tracked (tests,
    /// status output).
    pub fn tracked(&self) -> (usize, usize) {
        let state = self.lock();
        (state.clients.entries.len(), state.users.entries.len())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests;
