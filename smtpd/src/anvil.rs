//! Per-client connection limits, in process (what Postfix's anvil server counts).
//!
//! Two limits per client address: how many sessions it has open at once
//! (`smtpd_client_connection_count_limit`) and how many it opened within the current
//! time unit (`smtpd_client_connection_rate_limit` per `anvil_rate_time_unit`). The
//! time unit is a fixed window that starts at the client's first connection and
//! restarts with the first connection after it ends; a refused connection counts too,
//! so a client that keeps hammering stays refused until it pauses. Clients in
//! `mynetworks` are exempt from both (they are still counted, not refused).
//!
//! The counts are per smtpd process, as `maxproc` processes share a listener; with
//! several processes a client gets up to that many times the limit.
//!
//! Memory is bounded: open-session entries exist only while sessions do, and at
//! most [`MAX_TRACKED`] rate windows are kept; when full, ended windows are dropped,
//! then the oldest eighth.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The most client addresses whose connection rate is tracked at once.
pub const MAX_TRACKED: usize = 10_000;

/// The limits in force (0: none).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Sessions open at once per client.
    pub count: u32,
    /// Sessions opened per `time_unit` per client.
    pub rate: u32,
    /// The rate's time unit.
    pub time_unit: Duration,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This would be the client's `n`th open session, over the count limit.
    Concurrency(u32),
    /// This is the client's `n`th connection in the time unit, over the rate limit.
    Rate(u32),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    start: Instant,
    connections: u32,
}

#[derive(Debug, Default)]
struct State {
    open: HashMap<IpAddr, u32>,
    windows: HashMap<IpAddr, Window>,
}

/// The counters of one smtpd process.
#[derive(Debug, Default)]
pub struct Anvil {
    state: Mutex<State>,
}

/// One open session, counted until it is dropped.
#[derive(Debug)]
pub struct Slot<'a> {
    anvil: &'a Anvil,
    ip: IpAddr,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut state = self.anvil.lock();
        if let Some(n) = state.open.get_mut(&self.ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                state.open.remove(&self.ip);
            }
        }
    }
}

impl Anvil {
    /// Counts a new connection from `ip` and admits it, or says which limit it
    /// exceeds. `exempt` clients (`mynetworks`) are always admitted.
    pub fn connect(&self, ip: IpAddr, limits: &Limits, exempt: bool) -> Result<Slot<'_>, Refusal> {
        self.connect_at(Instant::now(), ip, limits, exempt)
    }

    /// [`Anvil::connect`] with the clock given (tests).
    pub fn connect_at(
        &self,
        now: Instant,
        ip: IpAddr,
        limits: &Limits,
        exempt: bool,
    ) -> Result<Slot<'_>, Refusal> {
        let mut state = self.lock();
        if limits.rate > 0 && !exempt {
            let connections = state.count_rate(ip, now, limits.time_unit);
            if connections > limits.rate {
                return Err(Refusal::Rate(connections));
            }
        }
        let open = state.open.get(&ip).copied().unwrap_or(0);
        if limits.count > 0 && open >= limits.count && !exempt {
            return Err(Refusal::Concurrency(open.saturating_add(1)));
        }
        state.open.insert(ip, open.saturating_add(1));
        Ok(Slot { anvil: self, ip })
    }

    /// (client addresses with open sessions, rate windows tracked), for tests.
    #[cfg(test)]
    fn tracked(&self) -> (usize, usize) {
        let state = self.lock();
        (state.open.len(), state.windows.len())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    /// Counts a connection in `ip`'s current window; returns the connections in it.
    fn count_rate(&mut self, ip: IpAddr, now: Instant, unit: Duration) -> u32 {
        let current = |w: &Window| now.saturating_duration_since(w.start) < unit;
        if let Some(window) = self.windows.get_mut(&ip)
            && current(window)
        {
            window.connections = window.connections.saturating_add(1);
            return window.connections;
        }
        if !self.windows.contains_key(&ip) && self.windows.len() >= MAX_TRACKED {
            self.windows.retain(|_, w| current(w));
            if self.windows.len() >= MAX_TRACKED {
                let mut by_age: Vec<(Instant, IpAddr)> =
                    self.windows.iter().map(|(ip, w)| (w.start, *ip)).collect();
                by_age.sort_unstable();
                for (_, old) in by_age.into_iter().take(MAX_TRACKED / 8 + 1) {
                    self.windows.remove(&old);
                }
            }
        }
        self.windows.insert(
            ip,
            Window {
                start: now,
                connections: 1,
            },
        );
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n))
    }

    const LIMITS: Limits = Limits {
        count: 2,
        rate: 3,
        time_unit: Duration::from_secs(60),
    };

    #[test]
    fn concurrency_limit_counts_open_sessions() {
        let anvil = Anvil::default();
        let now = Instant::now();
        let no_rate = Limits { rate: 0, ..LIMITS };
        let a = anvil.connect_at(now, ip(1), &no_rate, false).unwrap();
        let b = anvil.connect_at(now, ip(1), &no_rate, false).unwrap();
        assert_eq!(
            anvil.connect_at(now, ip(1), &no_rate, false).unwrap_err(),
            Refusal::Concurrency(3)
        );
        // Another client, and an exempt one, are not affected.
        let c = anvil.connect_at(now, ip(2), &no_rate, false).unwrap();
        let exempt: Vec<Slot<'_>> = (0..5)
            .map(|_| anvil.connect_at(now, ip(1), &no_rate, true).unwrap())
            .collect();
        drop(exempt);
        drop(a);
        let d = anvil.connect_at(now, ip(1), &no_rate, false).unwrap();
        drop(b);
        drop(d);
        drop(c);
        assert_eq!(anvil.tracked(), (0, 0));
    }

    #[test]
    fn rate_limit_counts_connections_per_time_unit() {
        let anvil = Anvil::default();
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let no_count = Limits { count: 0, ..LIMITS };
        for s in 0..3 {
            drop(anvil.connect_at(at(s), ip(1), &no_count, false).unwrap());
        }
        assert_eq!(
            anvil
                .connect_at(at(10), ip(1), &no_count, false)
                .unwrap_err(),
            Refusal::Rate(4)
        );
        // Refused connections count as well.
        assert_eq!(
            anvil
                .connect_at(at(20), ip(1), &no_count, false)
                .unwrap_err(),
            Refusal::Rate(5)
        );
        // Exempt and other clients are let in.
        assert!(anvil.connect_at(at(20), ip(1), &no_count, true).is_ok());
        assert!(anvil.connect_at(at(20), ip(2), &no_count, false).is_ok());
        // The next time unit starts over.
        assert!(anvil.connect_at(at(60), ip(1), &no_count, false).is_ok());
        assert!(anvil.connect_at(at(61), ip(1), &no_count, false).is_ok());
        // No limit set: nothing is tracked.
        let none = Limits {
            count: 0,
            rate: 0,
            time_unit: Duration::from_secs(60),
        };
        assert!(anvil.connect_at(at(61), ip(9), &none, false).is_ok());
        assert_eq!(anvil.tracked().1, 2);
    }

    #[test]
    fn rate_windows_are_bounded() {
        let anvil = Anvil::default();
        let t0 = Instant::now();
        let total = u32::try_from(MAX_TRACKED).unwrap() + 100;
        for n in 0..total {
            let at = t0 + Duration::from_millis(u64::from(n));
            drop(anvil.connect_at(at, ip(n), &LIMITS, false).unwrap());
        }
        assert!(anvil.tracked().1 <= MAX_TRACKED, "{:?}", anvil.tracked());
        // The newest clients are still counted.
        let last = t0 + Duration::from_millis(u64::from(total));
        for _ in 0..2 {
            drop(
                anvil
                    .connect_at(last, ip(total - 1), &LIMITS, false)
                    .unwrap(),
            );
        }
        assert_eq!(
            anvil
                .connect_at(last, ip(total - 1), &LIMITS, false)
                .unwrap_err(),
            Refusal::Rate(4)
        );
    }
}
