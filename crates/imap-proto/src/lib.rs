//! # imap-proto: IMAP commands and responses, without I/O
//!
//! imapd's view of the protocol (RFC 3501, RFC 9051 and the extensions imapd
//! announces). Commands are framed and parsed with imap-codec and handed over as the
//! owned types of [`command`]; replies are built with the typed status responses of
//! [`response`] and the string writers of [`encode`].
//!
//! The session's input path: bytes read from the socket go to [`Framer::push`];
//! [`Framer::next`] yields whole commands (asking for `+` continuations on the way and
//! bounding every command's size), [`parse_command`] turns each into a [`Command`],
//! and [`Framer::next_line`] takes the raw lines of AUTHENTICATE and IDLE from the
//! same buffer. Mailbox names are converted with [`mutf7`].
//!
//! # Security
//!
//! Everything parsed here comes from unauthenticated peers. Nothing panics on any
//! input, and memory is bounded by the framer's command limit; see [`frame`].

pub mod command;
pub mod encode;
pub mod frame;
pub mod mutf7;
pub mod parse;
pub mod response;

pub use command::*;
pub use frame::{Event, Framer, TooLong};
pub use parse::{ParseError, parse_command};
pub use response::{Code, Response, Status};
