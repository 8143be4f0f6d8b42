//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Shorthand for results whose error is [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while framing, encoding or exchanging IPC messages.
///
/// Each variant names one cause and carries what we were doing, so a daemon can log
/// it as a warning (naming the peer from [`crate::peer_credentials`]) and close the
/// connection.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation on the stream failed.
    #[error("{what}: {source}")]
    Io {
        /// What we were doing, e.g. "read frame".
        what: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// Connecting to a socket failed (it does not exist, nobody listens, permission).
    #[error("connect to {}: {source}", path.display())]
    Connect {
        /// The socket we tried to reach, so the message says which daemon is missing.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A read or write did not finish within the connection's timeout.
    #[error("{channel}: timed out: {what}")]
    Timeout {
        /// The channel, so the log line says which peer was slow.
        channel: &'static str,
        /// What we were waiting for, e.g. "read reply".
        what: &'static str,
    },

    /// A frame's length is above the maximum; refused before allocating anything.
    #[error("frame of {len} bytes exceeds the maximum of {max}")]
    FrameTooLarge {
        /// The length announced by the peer (or of the message we tried to send).
        len: usize,
        /// The limit in force.
        max: usize,
    },

    /// The peer closed the stream in the middle of a frame.
    #[error("connection closed inside a frame ({what})")]
    Truncated {
        /// Which part of the frame was cut short: "length prefix" or "body".
        what: &'static str,
    },

    /// The peer closed the stream cleanly while we were waiting for a message we need.
    #[error("{channel}: peer closed the connection before the {what}")]
    Closed {
        /// The channel.
        channel: &'static str,
        /// The message we were waiting for, e.g. "hello" or "reply".
        what: &'static str,
    },

    /// A frame's body is not a valid message for this channel.
    #[error("{channel}: undecodable message: {source}")]
    Decode {
        /// The channel whose message type we expected.
        channel: &'static str,
        /// Why decoding failed.
        #[source]
        source: DecodeError,
    },

    /// A message could not be encoded (a serializer limitation, not a peer problem).
    #[error("cannot encode message: {source}")]
    Encode {
        /// The serializer's error.
        #[source]
        source: postcard::Error,
    },

    /// The server greeted us with another channel's name: we connected to the wrong
    /// socket.
    #[error("wrong peer: expected channel {expected:?}, server speaks {got:?}")]
    WrongPeer {
        /// The channel we wanted.
        expected: &'static str,
        /// The channel the server announced (peer-controlled; printed escaped).
        got: String,
    },

    /// The server speaks our channel in another version: the daemons are from
    /// different builds.
    #[error("{channel}: version mismatch: ours {ours}, theirs {theirs}")]
    VersionMismatch {
        /// The channel.
        channel: &'static str,
        /// Our [`crate::Channel::VERSION`].
        ours: u32,
        /// The version the server announced.
        theirs: u32,
    },

    /// A well-formed message arrived where the protocol does not allow it.
    #[error("{channel}: unexpected message {got}, expected {expected}")]
    UnexpectedMessage {
        /// The channel.
        channel: &'static str,
        /// What the protocol allows at this point.
        expected: &'static str,
        /// The name of the message that arrived.
        got: &'static str,
    },

    /// A queue ID in a request is not one (never used as a path then).
    #[error("{channel}: bad queue ID {id:?}")]
    BadQueueId {
        /// The channel.
        channel: &'static str,
        /// What arrived.
        id: String,
    },
}

/// Why a frame body did not decode; the source of [`Error::Decode`].
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The bytes are not a valid encoding of the expected type.
    #[error("malformed body: {0}")]
    Malformed(#[source] postcard::Error),

    /// A valid message was followed by extra bytes, which we refuse rather than ignore.
    #[error("{count} trailing bytes after the message")]
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
}
