//! # imap-proto: IMAP commands and responses, without I/O
//!
//! imapd's view of the protocol (RFC 3501, RFC 9051 and the extensions imapd
//! announces). Commands are framed and parsed with imap-codec and handed over as the
//! owned types of [`command`]; replies are built with the typed status responses of
//! [`response`] and the string writers of [`encode`].

pub mod command;
pub mod encode;
pub mod response;

pub use command::*;
pub use response::{Code, Response, Status};
