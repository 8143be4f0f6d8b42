//! data - message content: DATA (dot-stuffed) and BDAT (counted) readers, and the
//! dot-stuffer for sending.
//!
//! Both readers are fed the session's input bytes and append the message content to a
//! caller-supplied buffer, which the caller writes to the queue file and clears, so no
//! message is ever held in memory. Each call returns a [`Progress`](crate::Progress)
//! saying how many input bytes were consumed; bytes after the end of the message are
//! never consumed and belong to the next (pipelined) command.
//!
//! # Refusing a message without losing sync
//!
//! A message can fail for being too big ([`DataError::TooBig`]), for a line over
//! [`MAX_MESSAGE_LINE`] octets ([`DataError::LineTooLong`]), or for a bare CR or LF
//! under [`BareNewline::Reject`]. The reader notes the first failure, stops producing
//! output, and goes on consuming up to the real end of the message; only then does it
//! report the failure. The server answers with [`DataError::reply`] and discards what
//! it wrote, and the next command is read from the right place. [`DataReader::error`]
//! tells early that the output is doomed, so the caller can stop writing.
//!
//! # SMTP smuggling
//!
//! DATA ends only at `<CR><LF>.<CR><LF>` (or a `.<CR><LF>` first line). A dot line after
//! a bare LF or bare CR (`\n.\n`, `\n.\r\n`, `\r.\r\n`, `\r\n.\n`, ...) never ends it,
//! in either [`BareNewline`] mode; so a peer cannot make Postern see two messages where
//! a downstream server sees one, or the other way round. In
//! [`BareNewline::Normalize`] mode every bare CR and bare LF becomes CRLF in the
//! output, so what Postern stores and later relays has only CRLF line ends.

mod bdat;
mod reader;
mod stuff;

pub use bdat::{BdatReader, ChunkEnd};
pub use reader::DataReader;
pub use stuff::{Stuffer, stuff};

use crate::reply::Reply;

/// Longest message line, in octets without CRLF (RFC 5322 2.1.1, RFC 5321 4.5.3.1.6).
pub const MAX_MESSAGE_LINE: usize = 998;

/// What to do with a bare LF or bare CR in message content (Postfix
/// `smtpd_forbid_bare_newline`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum BareNewline {
    /// Refuse the message (`550 5.5.2`), like `smtpd_forbid_bare_newline = yes`.
    #[default]
    Reject,
    /// Accept it and store each bare CR or LF as CRLF, like `= normalize`. The end of
    /// DATA still needs a real `<CR><LF>.<CR><LF>`.
    Normalize,
}

/// Limits and policy for reading one message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DataOptions {
    /// The largest message accepted, in octets after dot-unstuffing (and after
    /// normalisation). `None` for no limit (Postfix `message_size_limit = 0`).
    pub max_size: Option<u64>,
    /// What to do with bare CR and LF.
    pub bare_newline: BareNewline,
}

/// Why a message was refused. Reported only once the whole message was consumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DataError {
    /// Larger than [`DataOptions::max_size`].
    #[error("message larger than {limit} octets")]
    TooBig {
        /// The limit in force.
        limit: u64,
    },
    /// A line longer than [`MAX_MESSAGE_LINE`] octets.
    #[error("message line longer than {MAX_MESSAGE_LINE} octets")]
    LineTooLong,
    /// A LF not preceded by CR, under [`BareNewline::Reject`].
    #[error("bare LF in message")]
    BareLf,
    /// A CR not followed by LF, under [`BareNewline::Reject`].
    #[error("bare CR in message")]
    BareCr,
}

impl DataError {
    /// The reply the server sends after the end of the refused message.
    #[must_use]
    pub fn reply(&self) -> Reply {
        match self {
            Self::TooBig { .. } => Reply::too_big(),
            Self::LineTooLong => Reply::message_line_too_long(),
            Self::BareLf => Reply::bare_newline(),
            Self::BareCr => Reply::bare_carriage_return(),
        }
    }
}

/// Splits `bytes` at the first CR or LF: the line content before it, and the rest.
fn split_line_text(bytes: &[u8]) -> (&[u8], &[u8]) {
    let run = memchr::memchr2(b'\r', b'\n', bytes).unwrap_or(bytes.len());
    bytes.split_at_checked(run).unwrap_or((bytes, &[]))
}

/// Where content goes: counts size and line length, records the first error, and
/// appends to the caller's buffer while there is none.
#[derive(Debug, Clone)]
struct Sink {
    max_size: Option<u64>,
    policy: BareNewline,
    check_lines: bool,
    size: u64,
    line_len: usize,
    error: Option<DataError>,
}

impl Sink {
    fn new(options: DataOptions, check_lines: bool) -> Self {
        Self {
            max_size: options.max_size,
            policy: options.bare_newline,
            check_lines,
            size: 0,
            line_len: 0,
            error: None,
        }
    }

    fn fail(&mut self, error: DataError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }

    /// Line content (no CR or LF in `bytes`).
    fn text(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        if self.check_lines {
            let room = MAX_MESSAGE_LINE.saturating_sub(self.line_len);
            self.line_len = self.line_len.saturating_add(bytes.len());
            if self.line_len > MAX_MESSAGE_LINE {
                // The octets within the line limit count first: if the size limit
                // falls among them, it is the first error. The error reported must
                // not depend on how the client's bytes were split into reads.
                let (within, past) = bytes.split_at(room.min(bytes.len()));
                self.emit(out, within);
                self.fail(DataError::LineTooLong);
                self.emit(out, past);
                return;
            }
        }
        self.emit(out, bytes);
    }

    /// The end of a line; `bare` names a bare CR or LF standing in for CRLF.
    fn line_end(&mut self, out: &mut Vec<u8>, bare: Option<DataError>) {
        if let Some(bare) = bare
            && self.policy == BareNewline::Reject
        {
            self.fail(bare);
        }
        self.line_len = 0;
        self.emit(out, b"\r\n");
    }

    /// Octets counted and kept as they are.
    fn emit(&mut self, out: &mut Vec<u8>, bytes: &[u8]) {
        let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
        self.size = self.size.saturating_add(len);
        if let Some(limit) = self.max_size
            && self.size > limit
        {
            self.fail(DataError::TooBig { limit });
        }
        if self.error.is_none() {
            out.extend_from_slice(bytes);
        }
    }

    fn result(&self) -> Result<u64, DataError> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(self.size),
        }
    }
}

#[cfg(test)]
mod tests;
