//! reply - SMTP replies as a type: code, enhanced status, text.
//!
//! Every reply Postern sends is built by a named constructor on [`Reply`] (see the list
//! in its `impl` blocks), so reply wording lives in one place. Rendering
//! ([`Reply::write_to`], `Display`) produces the wire form, `code SP [status SP] text
//! CRLF` for the last line and `code "-" ...` before it, with the text sanitised:
//! control characters (CR and LF included) become spaces, and each line is cut to
//! [`MAX_REPLY_LINE`] octets. Reply text may therefore safely contain anything the peer
//! sent.
//!
//! [`ReplyParser`] is the client side: it reads (possibly multi-line) replies from a
//! server, bounded in line length and line count.

mod code;
mod named;
mod parser;
mod status;

use std::borrow::Cow;
use std::fmt::{self, Write as _};

pub use code::ReplyCode;
pub use named::Checked;
pub use parser::{MAX_PARSED_LINE, MAX_PARSED_LINES, ReplyError, ReplyParser};
pub use status::{EnhancedStatus, StatusClass, StatusParseError};

/// The longest reply line we send, including the code and CRLF (RFC 5321 4.5.3.1.5).
pub const MAX_REPLY_LINE: usize = 512;

/// One SMTP reply, single-line or multi-line.
///
/// `text` is the first line; `more` holds the following lines of a multi-line reply
/// (EHLO, HELP). When `status` is present it is written on every line, as RFC 2034
/// asks. Build replies with the named constructors (`Reply::queued(id)`,
/// `Reply::bad_sequence("need RCPT command")`, ...), or [`Reply::new`] for codes this
/// crate has no name for (a remote server's reply, a policy text from configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code; decides what the peer does next.
    pub code: ReplyCode,
    /// The RFC 3463 status, absent on replies that never carry one (greeting, EHLO,
    /// 354, 334) and on remote replies without one.
    pub status: Option<EnhancedStatus>,
    /// The first (or only) line of text.
    pub text: Cow<'static, str>,
    /// The lines after the first, for multi-line replies.
    pub more: Vec<Cow<'static, str>>,
}

impl Reply {
    /// A single-line reply.
    #[must_use]
    pub fn new(
        code: ReplyCode,
        status: Option<EnhancedStatus>,
        text: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            code,
            status,
            text: text.into(),
            more: Vec::new(),
        }
    }

    /// This reply with one more line of text at the end.
    #[must_use]
    pub fn with_line(mut self, line: impl Into<Cow<'static, str>>) -> Self {
        self.more.push(line.into());
        self
    }

    /// Every line of text, first to last, as held (not yet sanitised).
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.text.as_ref()).chain(self.more.iter().map(AsRef::as_ref))
    }

    /// Appends the wire form (every line, each ending in CRLF) to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.render().as_bytes());
    }

    /// The wire form as a string (what `Display` prints).
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let last = self.more.len();
        for (index, line) in self.lines().enumerate() {
            let separator = if index == last { ' ' } else { '-' };
            render_line(&mut out, self.code, separator, self.status, line);
        }
        out
    }

    /// One line for logs: code, status and all text lines joined by spaces, sanitised,
    /// without CRLF (e.g. `554 5.7.1 <a@example.org>: Relay access denied`).
    #[must_use]
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = write!(out, "{}", self.code);
        if let Some(status) = self.status {
            let _ = write!(out, " {status}");
        }
        for line in self.lines() {
            out.push(' ');
            push_sanitised(&mut out, line, usize::MAX);
        }
        out
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

fn render_line(
    out: &mut String,
    code: ReplyCode,
    separator: char,
    status: Option<EnhancedStatus>,
    text: &str,
) {
    let start = out.len();
    let _ = write!(out, "{code}{separator}");
    if let Some(status) = status {
        let _ = write!(out, "{status}");
        if !text.is_empty() {
            out.push(' ');
        }
    }
    let used = out.len().saturating_sub(start);
    let budget = MAX_REPLY_LINE.saturating_sub(used).saturating_sub(2);
    push_sanitised(out, text, budget);
    out.push_str("\r\n");
}

/// Appends `text` with control characters replaced by spaces, at most `budget` octets,
/// never splitting a character.
fn push_sanitised(out: &mut String, text: &str, budget: usize) {
    let mut used = 0usize;
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        used = used.saturating_add(c.len_utf8());
        if used > budget {
            break;
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests;
