//! # ipc: typed messages between Postern processes
//!
//! Postern's daemons talk over Unix stream sockets under `private/` (reachable only by
//! the mail owner) and `public/` (reachable by local users). This crate defines how:
//! the framing, the handshake, peer credentials, and one module per channel holding
//! that channel's `Request` and `Reply` enums. Message bodies never travel over IPC;
//! they stay in the spool and IPC carries queue IDs and offsets.
//!
//! # Wire format
//!
//! Every message is one frame: a 4-byte big-endian length, then that many bytes of
//! [postcard](https://docs.rs/postcard) body. postcard encodes an enum variant by its
//! position, so variants and fields are never reordered or removed; new ones go at
//! the end with a bumped channel version, and golden-bytes tests pin each message.
//! All encoding and decoding happens in [`codec`].
//!
//! # Handshake
//!
//! The server speaks first: on accept it sends [`Hello`] with its channel name and
//! version ([`Connection::accept`]). The client ([`Connection::connect`],
//! [`connect_unix`]) refuses a server that speaks another channel
//! ([`Error::WrongPeer`]) or another version ([`Error::VersionMismatch`]). All daemons
//! ship together, so "same version or refuse" is enough. After that the client sends
//! requests and the server answers each with replies of the channel's types.
//!
//! # Channels
//!
//! Names and socket paths live in [`names`]. Channels so far:
//! - [`control`]: master's control socket, used by `postern status`.
//!
//! # Security
//!
//! - Frames are bounded before allocation: the length prefix is checked against the
//!   channel's [`Channel::MAX_FRAME`] before any buffer is allocated, and trailing bytes
//!   after a message are refused.
//! - Every read and write has a timeout, so a silent peer cannot hold a task forever.
//! - Peers on `public/` sockets are identified by `SO_PEERCRED` only
//!   ([`peer_credentials`]), never by anything they put in a message.
//! - Decoding untrusted bytes never panics; it returns [`Error::Decode`].
//!
//! # Errors
//!
//! Everything returns [`Error`], one variant per cause. On an unexpected message or a
//! decode error the daemon logs a warning naming the channel and the peer's uid/pid,
//! then closes the connection; a [`Connection`] is not reused after an error.
//!
//! # Example
//!
//! ```no_run
//! # async fn example(listener: tokio::net::UnixListener) -> ipc::Result<()> {
//! use std::path::Path;
//! use std::time::Duration;
//! use ipc::control::{Control, Reply, Request};
//!
//! // Client (`postern status`).
//! let mut conn = ipc::connect_unix::<Control>(Path::new("private/master"), Duration::from_secs(5)).await?;
//! let reply = conn.call(&Request::Status).await?;
//!
//! // Server (master).
//! let (stream, _) = listener.accept().await.map_err(|source| ipc::Error::Io { what: "accept", source })?;
//! let peer = ipc::peer_credentials(&stream)?;
//! let mut conn = ipc::Connection::<Control, _>::accept(stream, Duration::from_secs(5)).await?;
//! while let Some(request) = conn.recv_request().await? {
//!     match request {
//!         Request::Status if peer.uid != 0 => conn.send_reply(&Reply::Denied).await?,
//!         Request::Status => { /* build and send Reply::Status(..) */ }
//!     }
//! }
//! # Ok(())
//! # }
//! ```

pub mod codec;
mod connection;
pub mod control;
mod cred;
pub mod deliver;
mod error;
pub mod names;
pub mod pickup;
pub mod qmgr;

pub use connection::{Channel, Connection, HELLO_MAX_FRAME, Hello, connect_unix};
pub use cred::{PeerCred, peer_credentials};
pub use error::{DecodeError, Error, Result};
