//! Taking over the listening sockets master passed.
//!
//! master binds every socket of a service, clears close-on-exec on those descriptors
//! for the spawn, and names their numbers in `POSTERN_LISTEN_FDS` (comma-separated).
//! This module is the one place where a raw descriptor number becomes an owned socket.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;

use nix::sys::socket::{AddressFamily, SockaddrLike, SockaddrStorage, getsockname};
use nix::sys::stat::{SFlag, fstat};

/// A listening socket inherited from master.
#[derive(Debug)]
pub enum Listener {
    /// An `inet` service socket.
    Tcp(std::net::TcpListener),
    /// A `unix` service socket.
    Unix(UnixListener),
}

/// Why an inherited descriptor could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The environment variable is missing: the program was not started by master.
    #[error("{0} is not set: this program is started by master, not by hand")]
    NotFromMaster(&'static str),
    /// The variable does not hold a list of descriptor numbers.
    #[error("{var}: bad descriptor list {value:?}")]
    BadList {
        /// The variable's name.
        var: &'static str,
        /// What it held.
        value: String,
    },
    /// A listed descriptor is not an open socket of a supported family.
    #[error("inherited descriptor {fd}: {reason}")]
    NotASocket {
        /// The descriptor number.
        fd: RawFd,
        /// What was wrong.
        reason: String,
    },
}

/// Parses `POSTERN_LISTEN_FDS` into descriptor numbers (all above standard error).
pub fn parse_fd_list(value: &str) -> Result<Vec<RawFd>, Error> {
    let bad = || Error::BadList {
        var: crate::LISTEN_FDS_ENV,
        value: value.to_owned(),
    };
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut fds = Vec::new();
    for item in value.split(',') {
        let fd: RawFd = item.trim().parse().map_err(|_| bad())?;
        if fd <= 2 || fds.contains(&fd) {
            return Err(bad());
        }
        fds.push(fd);
    }
    Ok(fds)
}

/// Takes ownership of the listening sockets named in `POSTERN_LISTEN_FDS`.
///
/// Call once, early, before anything else could open descriptors that the numbers
/// might be confused with.
pub fn take_listeners() -> Result<Vec<Listener>, Error> {
    let value = std::env::var(crate::LISTEN_FDS_ENV)
        .map_err(|_| Error::NotFromMaster(crate::LISTEN_FDS_ENV))?;
    parse_fd_list(&value)?.into_iter().map(adopt).collect()
}

#[allow(unsafe_code)]
fn adopt(fd: RawFd) -> Result<Listener, Error> {
    let not_socket = |reason: String| Error::NotASocket { fd, reason };
    // Check before taking ownership: an fd that is not open must not be wrapped.
    // SAFETY: `fstat` only reads the descriptor's metadata; a closed or foreign
    // number makes it fail with EBADF, which is reported, and nothing else happens.
    let stat = fstat(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) })
        .map_err(|e| not_socket(e.to_string()))?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFSOCK {
        return Err(not_socket("not a socket".into()));
    }
    // SAFETY: master passed this descriptor to us for exactly this purpose; it is
    // open (checked above), listed once (parse_fd_list refuses duplicates), and
    // nothing else in this process has taken it, so we may own it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // master cleared close-on-exec so the socket survived our exec; set it again, or
    // every program this daemon runs (a |command delivery) would inherit the listener.
    nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(|e| not_socket(format!("set close-on-exec: {e}")))?;
    let addr: SockaddrStorage = getsockname(fd).map_err(|e| not_socket(e.to_string()))?;
    match addr.family() {
        Some(AddressFamily::Inet | AddressFamily::Inet6) => {
            Ok(Listener::Tcp(std::net::TcpListener::from(owned)))
        }
        Some(AddressFamily::Unix) => Ok(Listener::Unix(UnixListener::from(owned))),
        other => Err(not_socket(format!("unsupported address family {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_lists() {
        assert_eq!(parse_fd_list("").unwrap(), Vec::<RawFd>::new());
        assert_eq!(parse_fd_list("3").unwrap(), vec![3]);
        assert_eq!(parse_fd_list("3, 7").unwrap(), vec![3, 7]);
        for bad in ["x", "2", "3,3", "-1", "3,,4"] {
            assert!(parse_fd_list(bad).is_err(), "{bad}");
        }
    }
}
