//! address - reverse paths, forward paths, mailboxes and domains (RFC 5321 4.1.2).
//!
//! # Syntax accepted
//!
//! - A path is `<mailbox>`; MAIL also takes the null path `<>`, RCPT also takes
//!   `<postmaster>` without a domain (any case).
//! - A source route (`<@a.example,@b.example:user@c.example>`) is accepted and dropped,
//!   as RFC 5321 section 4.1.2 and appendix C tell receivers to do.
//! - The local part is a dot-atom or a quoted string (with `\` escapes). It is kept in
//!   canonical form: the value without quotes, re-quoted on display only when it is not
//!   a dot-atom, so `"joe"@example.org` and `joe@example.org` are the same mailbox.
//! - The domain is a name ([`DomainName`]) or an IPv4/IPv6 address literal.
//!
//! # SMTPUTF8
//!
//! Parsing accepts non-ASCII UTF-8 in the local part and in domain labels (RFC 6531)
//! and never needs to know whether the transaction declared SMTPUTF8. Each type has an
//! `is_ascii()` method; the caller refuses a non-ASCII address when SMTPUTF8 was not
//! declared ([`Reply::smtputf8_required`](crate::Reply::smtputf8_required)).
//! [`parse_command`](crate::parse_command) already does this for MAIL, whose own
//! `SMTPUTF8` parameter is on the same line.
//!
//! # Limits
//!
//! Local part at most [`MAX_LOCAL_PART`] octets as sent, domain at most [`MAX_DOMAIN`],
//! each label at most [`MAX_LABEL`], and the whole path including `<>` at most
//! [`MAX_PATH`] (RFC 5321 4.5.3.1). Limits are in octets, also for UTF-8.

mod domain;

use std::fmt;

pub(crate) use domain::parse_literal;
pub use domain::{Domain, DomainName};
use domain::{is_domain_byte, is_utf8_text};

/// Longest local part, in octets as sent (RFC 5321 4.5.3.1.1).
pub const MAX_LOCAL_PART: usize = 64;
/// Longest domain, in octets (RFC 5321 4.5.3.1.2).
pub const MAX_DOMAIN: usize = 255;
/// Longest domain label, in octets (RFC 1035).
pub const MAX_LABEL: usize = 63;
/// Longest reverse or forward path, in octets including `<` and `>` (RFC 5321 4.5.3.1.3).
pub const MAX_PATH: usize = 256;

/// Why an address is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The path does not start with `<` or does not end with `>`.
    #[error("address must be enclosed in <>")]
    MissingBrackets,
    /// `<>` where a mailbox is required (RCPT).
    #[error("null address not allowed here")]
    NullNotAllowed,
    /// The path is longer than [`MAX_PATH`].
    #[error("path longer than {MAX_PATH} octets")]
    PathTooLong,
    /// A malformed source route (`@a,@b:`).
    #[error("malformed source route")]
    BadRoute,
    /// The local part is empty or not a dot-atom or quoted string.
    #[error("malformed local part")]
    InvalidLocalPart,
    /// The local part is longer than [`MAX_LOCAL_PART`].
    #[error("local part longer than {MAX_LOCAL_PART} octets")]
    LocalPartTooLong,
    /// No `@domain` after the local part.
    #[error("missing @domain")]
    MissingDomain,
    /// The domain is not a valid name.
    #[error("malformed domain")]
    InvalidDomain,
    /// The domain is longer than [`MAX_DOMAIN`].
    #[error("domain longer than {MAX_DOMAIN} octets")]
    DomainTooLong,
    /// A domain label is longer than [`MAX_LABEL`].
    #[error("domain label longer than {MAX_LABEL} octets")]
    LabelTooLong,
    /// An address literal that is neither IPv4 nor `IPv6:`.
    #[error("malformed address literal")]
    InvalidAddressLiteral,
    /// Text after the address where none may be.
    #[error("unexpected text after the address")]
    TrailingText,
}

/// The local part of a mailbox, in canonical (unquoted) form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalPart(String);

impl LocalPart {
    /// Parses a local part as written in an address (dot-atom or quoted string).
    ///
    /// # Errors
    ///
    /// [`AddressError::InvalidLocalPart`], [`AddressError::LocalPartTooLong`], or
    /// [`AddressError::TrailingText`] when `text` holds more than a local part.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let (local, end) = parse_local(text, 0)?;
        if end == text.len() {
            Ok(local)
        } else {
            Err(AddressError::TrailingText)
        }
    }

    /// The value without quotes or escapes (what a mailbox lookup compares).
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the local part must be quoted to be written in an address.
    #[must_use]
    pub fn needs_quotes(&self) -> bool {
        !is_dot_atom(&self.0)
    }

    /// Whether the local part is all ASCII.
    #[must_use]
    pub fn is_ascii(&self) -> bool {
        self.0.is_ascii()
    }
}

impl fmt::Display for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.needs_quotes() {
            return f.write_str(&self.0);
        }
        f.write_str("\"")?;
        for c in self.0.chars() {
            if c == '"' || c == '\\' {
                f.write_str("\\")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str("\"")
    }
}

/// A mailbox: `local@domain`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    /// The local part, canonical (unquoted); case is kept, as it may matter to the
    /// destination.
    pub local: LocalPart,
    /// The domain, as given.
    pub domain: Domain,
}

impl Mailbox {
    /// Parses a bare mailbox (`user@example.org`, no angle brackets), e.g. from
    /// configuration or an alias file.
    ///
    /// # Errors
    ///
    /// The [`AddressError`] describing the first problem.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        if text.len() > MAX_PATH {
            return Err(AddressError::PathTooLong);
        }
        let (mailbox, end) = parse_mailbox(text, 0)?;
        if end == text.len() {
            Ok(mailbox)
        } else {
            Err(AddressError::TrailingText)
        }
    }

    /// Whether local part and domain are all ASCII (if not, SMTPUTF8 is needed).
    #[must_use]
    pub fn is_ascii(&self) -> bool {
        self.local.is_ascii() && self.domain.is_ascii()
    }

    /// Whether the local part is `postmaster` in any case (RFC 5321 4.5.1).
    #[must_use]
    pub fn is_postmaster(&self) -> bool {
        self.local.as_str().eq_ignore_ascii_case("postmaster")
    }

    /// The domain in lower case, for lookups.
    #[must_use]
    pub fn domain_lowercase(&self) -> String {
        self.domain.to_lowercase()
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// The argument of MAIL FROM: a mailbox, or the null path `<>` (bounces, DSNs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReversePath {
    /// `<>`.
    Null,
    /// `<mailbox>`.
    Mailbox(Mailbox),
}

impl ReversePath {
    /// Parses `<...>` (the whole text).
    ///
    /// # Errors
    ///
    /// The [`AddressError`] describing the first problem.
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let (path, end) = parse_path(text)?;
        if end != text.len() {
            return Err(AddressError::TrailingText);
        }
        match path {
            ParsedPath::Null => Ok(Self::Null),
            ParsedPath::Postmaster => Err(AddressError::MissingDomain),
            ParsedPath::Mailbox(mailbox) => Ok(Self::Mailbox(mailbox)),
        }
    }

    /// The mailbox, unless this is the null path.
    #[must_use]
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            Self::Null => None,
            Self::Mailbox(mailbox) => Some(mailbox),
        }
    }

    /// Whether the path is all ASCII.
    #[must_use]
    pub fn is_ascii(&self) -> bool {
        self.mailbox().is_none_or(Mailbox::is_ascii)
    }
}

/// Displays the path without angle brackets: empty for `<>`. Log as `from=<{path}>`.
impl fmt::Display for ReversePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => Ok(()),
            Self::Mailbox(mailbox) => mailbox.fmt(f),
        }
    }
}

/// The argument of RCPT TO: a mailbox, or `<postmaster>` without a domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ForwardPath {
    /// `<postmaster>` (any case), which every server must accept (RFC 5321 4.5.1).
    Postmaster,
    /// `<mailbox>`.
    Mailbox(Mailbox),
}

impl ForwardPath {
    /// Parses `<...>` (the whole text).
    ///
    /// # Errors
    ///
    /// The [`AddressError`] describing the first problem; `<>` is
    /// [`AddressError::NullNotAllowed`].
    pub fn parse(text: &str) -> Result<Self, AddressError> {
        let (path, end) = parse_path(text)?;
        if end != text.len() {
            return Err(AddressError::TrailingText);
        }
        Self::from_parsed(path)
    }

    pub(crate) fn from_parsed(path: ParsedPath) -> Result<Self, AddressError> {
        match path {
            ParsedPath::Null => Err(AddressError::NullNotAllowed),
            ParsedPath::Postmaster => Ok(Self::Postmaster),
            ParsedPath::Mailbox(mailbox) => Ok(Self::Mailbox(mailbox)),
        }
    }

    /// The mailbox, unless this is the bare `<postmaster>`.
    #[must_use]
    pub fn mailbox(&self) -> Option<&Mailbox> {
        match self {
            Self::Postmaster => None,
            Self::Mailbox(mailbox) => Some(mailbox),
        }
    }

    /// Whether the path is all ASCII.
    #[must_use]
    pub fn is_ascii(&self) -> bool {
        self.mailbox().is_none_or(Mailbox::is_ascii)
    }
}

/// Displays the path without angle brackets (`postmaster` for the bare form).
impl fmt::Display for ForwardPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Postmaster => f.write_str("postmaster"),
            Self::Mailbox(mailbox) => mailbox.fmt(f),
        }
    }
}

/// A path as parsed, before the command decides which forms it allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ParsedPath {
    Null,
    Postmaster,
    Mailbox(Mailbox),
}

/// Parses a path at the start of `text` (`<` first); returns it and the offset just
/// after its `>`.
pub(crate) fn parse_path(text: &str) -> Result<(ParsedPath, usize), AddressError> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'<') {
        return Err(AddressError::MissingBrackets);
    }
    let mut pos = 1;
    let routed = bytes.get(pos) == Some(&b'@');
    if routed {
        pos = skip_route(text, pos)?;
    }
    let path = if bytes.get(pos) == Some(&b'>') {
        if routed {
            return Err(AddressError::BadRoute);
        }
        ParsedPath::Null
    } else {
        let (local, end) = parse_local(text, pos)?;
        if bytes.get(end) == Some(&b'>') && local.as_str().eq_ignore_ascii_case("postmaster") {
            pos = end;
            ParsedPath::Postmaster
        } else {
            let (mailbox, end) = parse_mailbox_after_local(text, local, end)?;
            pos = end;
            ParsedPath::Mailbox(mailbox)
        }
    };
    match bytes.get(pos) {
        Some(b'>') => {}
        None => return Err(AddressError::MissingBrackets),
        Some(_) => return Err(AddressError::InvalidDomain),
    }
    let end = pos + 1;
    if end > MAX_PATH {
        return Err(AddressError::PathTooLong);
    }
    Ok((path, end))
}

/// Skips `@a,@b:` starting at the first `@`; returns the offset after the colon.
fn skip_route(text: &str, mut pos: usize) -> Result<usize, AddressError> {
    let bytes = text.as_bytes();
    loop {
        if bytes.get(pos) != Some(&b'@') {
            return Err(AddressError::BadRoute);
        }
        let start = pos + 1;
        let end = scan(bytes, start, is_domain_byte);
        let name = text.get(start..end).ok_or(AddressError::BadRoute)?;
        DomainName::parse(name).map_err(|_| AddressError::BadRoute)?;
        match bytes.get(end) {
            Some(b',') => pos = end + 1,
            Some(b':') => return Ok(end + 1),
            _ => return Err(AddressError::BadRoute),
        }
    }
}

/// Parses `local@domain` starting at `pos`; returns it and the offset after it.
fn parse_mailbox(text: &str, pos: usize) -> Result<(Mailbox, usize), AddressError> {
    let (local, end) = parse_local(text, pos)?;
    parse_mailbox_after_local(text, local, end)
}

fn parse_mailbox_after_local(
    text: &str,
    local: LocalPart,
    pos: usize,
) -> Result<(Mailbox, usize), AddressError> {
    let bytes = text.as_bytes();
    if bytes.get(pos) != Some(&b'@') {
        return Err(match bytes.get(pos) {
            None | Some(b'>') => AddressError::MissingDomain,
            Some(_) => AddressError::InvalidLocalPart,
        });
    }
    let start = pos + 1;
    if bytes.get(start) == Some(&b'[') {
        let close = bytes
            .get(start..)
            .and_then(|rest| rest.iter().position(|&b| b == b']'))
            .map(|at| start + at)
            .ok_or(AddressError::InvalidAddressLiteral)?;
        let inner = text
            .get(start + 1..close)
            .ok_or(AddressError::InvalidAddressLiteral)?;
        let ip = parse_literal(inner)?;
        return Ok((
            Mailbox {
                local,
                domain: Domain::Literal(ip),
            },
            close + 1,
        ));
    }
    let end = scan(bytes, start, is_domain_byte);
    let name = text.get(start..end).ok_or(AddressError::InvalidDomain)?;
    let name = DomainName::parse(name)?;
    Ok((
        Mailbox {
            local,
            domain: Domain::Name(name),
        },
        end,
    ))
}

/// Parses a local part (dot-atom or quoted string) at `pos`; returns its canonical
/// value and the offset after it.
fn parse_local(text: &str, pos: usize) -> Result<(LocalPart, usize), AddressError> {
    let rest = text.get(pos..).ok_or(AddressError::InvalidLocalPart)?;
    let (value, used) = if rest.starts_with('"') {
        parse_quoted(rest)?
    } else {
        let used = scan(rest.as_bytes(), 0, |b| {
            b == b'.' || is_atext(b) || b >= 0x80
        });
        let atom = rest.get(..used).ok_or(AddressError::InvalidLocalPart)?;
        if !is_dot_atom(atom) {
            return Err(AddressError::InvalidLocalPart);
        }
        (atom.to_owned(), used)
    };
    if used > MAX_LOCAL_PART {
        return Err(AddressError::LocalPartTooLong);
    }
    Ok((LocalPart(value), pos + used))
}

/// Parses a quoted string at the start of `text`; returns the unescaped value and the
/// number of octets used including both quotes.
fn parse_quoted(text: &str) -> Result<(String, usize), AddressError> {
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((value, at + 1)),
            '\\' => match chars.next() {
                Some((_, escaped)) if (' '..='~').contains(&escaped) => value.push(escaped),
                _ => return Err(AddressError::InvalidLocalPart),
            },
            ' ' | '!' | '#'..='[' | ']'..='~' => value.push(c),
            c if is_utf8_text(c) => value.push(c),
            _ => return Err(AddressError::InvalidLocalPart),
        }
        if value.len() > MAX_LOCAL_PART {
            return Err(AddressError::LocalPartTooLong);
        }
    }
    Err(AddressError::InvalidLocalPart)
}

/// RFC 5322 atext, ASCII part.
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// Whether `s` is a dot-atom: atoms of atext (or non-ASCII text) joined by single dots.
fn is_dot_atom(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .chars()
                    .all(|c| (c.is_ascii() && is_atext(c as u8)) || is_utf8_text(c))
        })
}

/// The offset of the first byte at or after `from` that does not satisfy `keep`.
fn scan(bytes: &[u8], from: usize, keep: impl Fn(u8) -> bool) -> usize {
    let tail = bytes.get(from..).unwrap_or_default();
    from + tail.iter().position(|&b| !keep(b)).unwrap_or(tail.len())
}

#[cfg(test)]
mod tests;
