//! Peer credentials from the kernel (`SO_PEERCRED`).

use tokio::net::UnixStream;

use crate::error::{Error, Result};

/// Who is at the other end of a Unix stream socket, as reported by the kernel.
///
/// This is the only identity a `public/` socket trusts; a uid or user name inside a
/// message is never used for authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerCred {
    /// The peer's process id at connect time, for log lines; `None` where the kernel
    /// does not report it. Not for authorization: pids are reused.
    pub pid: Option<i32>,
    /// The peer's effective user id, the basis for authorization.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
}

/// Reads the peer credentials of a connected Unix stream socket.
///
/// # Errors
/// [`Error::Io`] if the kernel refuses the query.
pub fn peer_credentials(stream: &UnixStream) -> Result<PeerCred> {
    let cred = stream.peer_cred().map_err(|source| Error::Io {
        what: "read peer credentials (SO_PEERCRED)",
        source,
    })?;
    Ok(PeerCred {
        pid: cred.pid(),
        uid: cred.uid(),
        gid: cred.gid(),
    })
}
