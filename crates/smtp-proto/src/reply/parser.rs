//! parser - reads replies from a server, for the outbound client.

use std::borrow::Cow;

use super::{EnhancedStatus, Reply, ReplyCode};
use crate::Progress;

/// Default bound on one reply line, in octets including CRLF. RFC 5321 allows 512;
/// real servers send longer texts, so the parser keeps this much and cuts the rest.
pub const MAX_PARSED_LINE: usize = 2048;
/// Default bound on the number of lines in one reply.
pub const MAX_PARSED_LINES: usize = 128;

/// Why the bytes from a server are not a valid reply. After an error the connection
/// is out of step and should be closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A line does not start with a three-digit code in `200..=599` followed by a
    /// space, a hyphen or the end of the line.
    #[error("malformed reply line (expected a code 200-599 then SP or '-')")]
    Malformed,
    /// A continuation line has another code than the first line.
    #[error("reply code changed from {first} to {got} inside a multi-line reply")]
    InconsistentCode {
        /// The code of the first line.
        first: ReplyCode,
        /// The code of the offending line.
        got: ReplyCode,
    },
    /// More lines than the parser's limit.
    #[error("reply has more than {limit} lines")]
    TooManyLines {
        /// The limit in force.
        limit: usize,
    },
}

/// A byte-fed parser for server replies, single-line or multi-line.
///
/// Feed it whatever the socket returned; it consumes bytes up to the end of one
/// complete reply and returns it, keeping only the unfinished line between calls. Lines
/// may end in CRLF or a bare LF (lenient, as a client should be). A line longer than the
/// line limit is cut (the rest up to its LF is skipped); more lines than the line limit
/// is an error. Text that is not UTF-8 is converted lossily. When the first line's text
/// starts with an enhanced status code whose class matches the reply code, it becomes
/// [`Reply::status`] and is removed from every line that repeats it.
#[derive(Debug, Clone)]
pub struct ReplyParser {
    line: Vec<u8>,
    cut: bool,
    code: Option<ReplyCode>,
    lines: Vec<String>,
    max_line: usize,
    max_lines: usize,
}

impl Default for ReplyParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ReplyParser {
    /// A parser with the default limits ([`MAX_PARSED_LINE`], [`MAX_PARSED_LINES`]).
    #[must_use]
    pub fn new() -> Self {
        Self::with_limits(MAX_PARSED_LINE, MAX_PARSED_LINES)
    }

    /// A parser with explicit limits: octets kept per line (at least 4 are kept) and
    /// lines per reply (at least 1).
    #[must_use]
    pub fn with_limits(max_line: usize, max_lines: usize) -> Self {
        Self {
            line: Vec::new(),
            cut: false,
            code: None,
            lines: Vec::new(),
            max_line: max_line.max(4),
            max_lines: max_lines.max(1),
        }
    }

    /// Whether part of a reply has been read and not yet returned.
    #[must_use]
    pub fn is_partial(&self) -> bool {
        !self.line.is_empty() || self.cut || self.code.is_some()
    }

    /// Consumes `input` up to the end of the next complete reply.
    ///
    /// # Errors
    ///
    /// [`ReplyError`] when the server's bytes are not a reply; the parser is reset and
    /// the connection should be closed.
    pub fn parse(&mut self, input: &[u8]) -> Result<Progress<Reply>, ReplyError> {
        let mut consumed = 0;
        let mut rest = input;
        while !rest.is_empty() {
            let (chunk, ended) = match rest.iter().position(|&b| b == b'\n') {
                Some(at) => (rest.get(..at).unwrap_or_default(), true),
                None => (rest, false),
            };
            let room = self.max_line.saturating_sub(self.line.len());
            if chunk.len() > room {
                self.cut = true;
            }
            self.line
                .extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
            let step = chunk.len() + usize::from(ended);
            consumed += step;
            rest = rest.get(step..).unwrap_or_default();
            if ended {
                match self.finish_line() {
                    Ok(Some(reply)) => return Ok(Progress::done(consumed, reply)),
                    Ok(None) => {}
                    Err(error) => {
                        self.reset();
                        return Err(error);
                    }
                }
            }
        }
        Ok(Progress::pending(consumed))
    }

    fn reset(&mut self) {
        self.line.clear();
        self.cut = false;
        self.code = None;
        self.lines.clear();
    }

    /// Handles one complete line; returns the reply when it was the last line.
    fn finish_line(&mut self) -> Result<Option<Reply>, ReplyError> {
        let mut line = std::mem::take(&mut self.line);
        // A CR kept before the LF belongs to the terminator, unless the line was cut.
        if !self.cut && line.last() == Some(&b'\r') {
            line.pop();
        }
        self.cut = false;
        let (code, last, text) = split_line(&line)?;
        match self.code {
            Some(first) if first != code => {
                return Err(ReplyError::InconsistentCode { first, got: code });
            }
            _ => self.code = Some(code),
        }
        if self.lines.len() >= self.max_lines {
            return Err(ReplyError::TooManyLines {
                limit: self.max_lines,
            });
        }
        self.lines.push(String::from_utf8_lossy(text).into_owned());
        if !last {
            return Ok(None);
        }
        self.code = None;
        let lines = std::mem::take(&mut self.lines);
        Ok(Some(assemble(code, lines)))
    }
}

/// Splits `250-text` into (code, is last line, text).
fn split_line(line: &[u8]) -> Result<(ReplyCode, bool, &[u8]), ReplyError> {
    let (digits, rest) = line.split_at_checked(3).ok_or(ReplyError::Malformed)?;
    let mut value = 0u16;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(ReplyError::Malformed);
        }
        value = value * 10 + u16::from(d - b'0');
    }
    let code = ReplyCode::new(value).ok_or(ReplyError::Malformed)?;
    match rest.split_first() {
        None => Ok((code, true, rest)),
        Some((b' ', text)) => Ok((code, true, text)),
        Some((b'-', text)) => Ok((code, false, text)),
        Some(_) => Err(ReplyError::Malformed),
    }
}

fn assemble(code: ReplyCode, lines: Vec<String>) -> Reply {
    let status = lines.first().and_then(|first| leading_status(first, code));
    let mut texts = lines.into_iter().map(|line| {
        let stripped = status
            .and_then(|status| strip_status(&line, status))
            .map(str::to_owned);
        Cow::Owned(stripped.unwrap_or(line))
    });
    let text = texts.next().unwrap_or(Cow::Borrowed(""));
    Reply {
        code,
        status,
        text,
        more: texts.collect(),
    }
}

fn leading_status(text: &str, code: ReplyCode) -> Option<EnhancedStatus> {
    let word = text.split(' ').next()?;
    let status: EnhancedStatus = word.parse().ok()?;
    (status.class().digit() == code.class()).then_some(status)
}

/// The text after a leading `status` (and one space), if the line starts with it.
fn strip_status(line: &str, status: EnhancedStatus) -> Option<&str> {
    let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
    let parsed: EnhancedStatus = word.parse().ok()?;
    (parsed == status).then_some(rest)
}
