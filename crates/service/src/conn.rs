//! One accepted client connection, whichever kind of listener it came from.

use std::fmt;
use std::net::SocketAddr;

use tokio::net::{TcpStream, UnixStream};

/// The byte stream of a connection.
#[derive(Debug)]
pub enum Stream {
    /// A TCP connection on an `inet` service.
    Tcp(TcpStream),
    /// A Unix-domain connection on a `unix` service.
    Unix(UnixStream),
}

/// Who is on the other end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A network client.
    Tcp(SocketAddr),
    /// A local process, identified by the kernel (`SO_PEERCRED`), never by its word.
    Unix {
        /// The peer's user ID.
        uid: u32,
        /// The peer's group ID.
        gid: u32,
        /// The peer's process ID, when the kernel knows it.
        pid: Option<i32>,
    },
}

impl Peer {
    /// The client's address for logs and policy; a local process counts as
    /// loopback.
    pub fn ip(&self) -> std::net::IpAddr {
        match self {
            Peer::Tcp(addr) => addr.ip(),
            Peer::Unix { .. } => std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(addr) => write!(f, "[{}]:{}", addr.ip(), addr.port()),
            Peer::Unix { uid, pid, .. } => match pid {
                Some(pid) => write!(f, "local uid={uid} pid={pid}"),
                None => write!(f, "local uid={uid}"),
            },
        }
    }
}

/// An accepted connection handed to [`crate::Service::serve`].
#[derive(Debug)]
pub struct Conn {
    /// The stream to talk over.
    pub stream: Stream,
    /// The client.
    pub peer: Peer,
    /// The local address for TCP connections (which port the client reached).
    pub local: Option<SocketAddr>,
}

crate::delegate_stream!(Stream { Tcp, Unix });
