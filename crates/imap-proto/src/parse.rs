//! Parsing one framed command into a [`Command`].
//!
//! [`parse_command`] takes the bytes of an [`crate::frame::Event::Command`] (lines and
//! literals, line endings included), decodes them with imap-codec's `CommandCodec` and
//! converts imap-types' borrowed command into our owned one. A command that does not
//! parse, or parses into something imapd does not implement, is a [`ParseError`]
//! carrying the tag when one can be read from the front of the bytes: the session
//! answers `tag BAD text`, or `* BAD text` without a tag.
//!
//! # What imap-codec does not cover, and what is done about it
//!
//! - Extended LIST (RFC 5258 selection options, several patterns, `RETURN (...)` with
//!   SUBSCRIBED, CHILDREN, SPECIAL-USE and RFC 5819 STATUS) and SEARCH's ESEARCH
//!   `RETURN (MIN MAX ALL COUNT)` (RFC 4731) are not parsed by imap-codec 2.0.0-alpha.10.
//!   A small tokenizer (`extended`) reads the option words and hands the rest to
//!   imap-codec as plain commands, so names and search keys are still decoded by
//!   imap-codec alone. Unknown options are a BAD, as RFC 5258 asks.
//! - SEARCH RETURN (SAVE) (RFC 5182) is refused: the AST has no place for it.
//! - QRESYNC (SELECT's QRESYNC parameter, FETCH's VANISHED modifier) and STATUS
//!   DELETED-STORAGE parse in imap-codec but are refused: not in the AST.
//! - SORT, THREAD, COMPRESS and the QUOTA commands parse but are refused as not
//!   supported. Commands imap-codec does not know at all (XLIST, GETMETADATA, ...)
//!   fail as unknown commands.
//! - SEARCH's entry name and type for MODSEQ are dropped (the AST keeps the number).
//! - Strings are `String`: a mailbox name, login, search string or header field name
//!   that is not UTF-8 is a BAD. (A SEARCH in an 8-bit charset other than UTF-8 thus
//!   gets BAD rather than `NO [BADCHARSET]`.) ID's values are taken lossily instead, as
//!   they are informational.
//! - APPEND takes a `literal8` (`~{N}`, RFC 3516) as well as a literal; the message
//!   bytes are kept as sent either way. A plain literal containing NUL is refused by
//!   imap-codec.
//! - AUTHENTICATE's initial response is given as the base64 text the client sent
//!   (imap-codec decodes it; the text is taken back from the command line).
//! - Bare `\n` line endings are accepted (imap-codec's `quirk_crlf_relaxed`), matching
//!   the framer.

mod convert;
mod extended;
#[cfg(test)]
mod tests;

use imap_codec::{CommandCodec, decode::Decoder};

use crate::command::Command;

/// A command that could not be parsed or is not supported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text}")]
pub struct ParseError {
    /// The command's tag if it could be read; `None` means answer with `* BAD`.
    pub tag: Option<String>,
    /// Human-readable text for the BAD response (no CR or LF).
    pub text: String,
}

/// parse_command - parses one complete command (as framed by [`crate::frame::Framer`]).
pub fn parse_command(message: &[u8]) -> Result<Command, ParseError> {
    let error = |text: String| ParseError {
        tag: leading_tag(message),
        text,
    };
    match extended::try_parse(message) {
        extended::Outcome::Parsed(result) => return result.map_err(error),
        extended::Outcome::Plain => {}
    }
    match CommandCodec::new().decode(message) {
        Ok(([], wire)) => convert::command(wire, message).map_err(error),
        Ok(_) => Err(error("unexpected data after the command".to_owned())),
        Err(_) => Err(error(syntax_error_text(message))),
    }
}

/// Command names imapd knows, to tell a malformed known command from an unknown one.
const KNOWN: &[&str] = &[
    "APPEND",
    "AUTHENTICATE",
    "CAPABILITY",
    "CHECK",
    "CLOSE",
    "COPY",
    "CREATE",
    "DELETE",
    "ENABLE",
    "EXAMINE",
    "EXPUNGE",
    "FETCH",
    "ID",
    "IDLE",
    "LIST",
    "LOGIN",
    "LOGOUT",
    "LSUB",
    "MOVE",
    "NAMESPACE",
    "NOOP",
    "RENAME",
    "SEARCH",
    "SELECT",
    "STARTTLS",
    "STATUS",
    "STORE",
    "SUBSCRIBE",
    "UID",
    "UNSELECT",
    "UNSUBSCRIBE",
];

/// syntax_error_text - the BAD text for a command imap-codec rejected.
fn syntax_error_text(message: &[u8]) -> String {
    if message.iter().all(|b| matches!(b, b' ' | b'\r' | b'\n')) {
        return "empty command line".to_owned();
    }
    if leading_tag(message).is_none() {
        return "missing or invalid tag".to_owned();
    }
    let mut words = message
        .split(|&b| matches!(b, b' ' | b'\r' | b'\n'))
        .skip(1)
        .filter(|w| !w.is_empty());
    let mut name = words.next().map(<[u8]>::to_ascii_uppercase);
    if name.as_deref() == Some(b"UID") {
        name = words
            .next()
            .map(|w| [b"UID ".as_slice(), &w.to_ascii_uppercase()].concat());
    }
    match name {
        None => "missing command".to_owned(),
        Some(name) => {
            let text = String::from_utf8_lossy(&name).into_owned();
            let base = text.strip_prefix("UID ").unwrap_or(&text);
            if KNOWN.contains(&base) {
                format!("syntax error in {text}")
            } else {
                "unknown command".to_owned()
            }
        }
    }
}

/// leading_tag - the tag at the front of a command, if it is a valid tag followed by
/// a space (used for error replies, so it must never echo junk to the client).
pub(crate) fn leading_tag(message: &[u8]) -> Option<String> {
    let end = message.iter().position(|&b| b == b' ')?;
    let tag = message.get(..end)?;
    let valid = !tag.is_empty()
        && tag.iter().all(|&b| {
            (0x21..=0x7e).contains(&b)
                && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b'+')
        });
    valid.then(|| String::from_utf8_lossy(tag).into_owned())
}
