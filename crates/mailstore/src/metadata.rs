//! metadata - what IMAP FETCH needs to know about a message without
//! reading it again: its ENVELOPE, its BODYSTRUCTURE, its sizes, and
//! where each MIME part lies in the file.
//!
//! [`parse_metadata`] is pure: bytes in, [`Metadata`] out. The MIME
//! structure comes from mail-parser (0.11, DESIGN §1a); this module only
//! maps its result to IMAP's model (RFC 3501 §7.4.2, RFC 9051 §7.5.2):
//!
//! * ENVELOPE strings (date, subject, message-id, in-reply-to) are the
//!   header's raw value, as IMAP requires: encoded words are not decoded,
//!   line breaks of folding are removed (the white space after them
//!   stays), and leading and trailing white space is trimmed. A header
//!   that is absent is NIL (None); present but empty is `""`. When a
//!   header occurs twice, the first one counts.
//! * Addresses are split from the raw value too (the `address` module),
//!   with group markers; Sender and Reply-To default to From when absent
//!   or empty, as RFC 3501 says.
//! * Media type, subtype, parameter names and disposition are lower case
//!   (mail-parser folds them). Parameter values are mail-parser's: RFC
//!   2231 continuations joined and charset-decoded to UTF-8 (a `name*`
//!   parameter becomes `name`, plus `name-language` when it had a
//!   language), and may therefore be non-ASCII. Content-ID,
//!   Content-Description and Content-Location are raw values like the
//!   envelope's. Content-Transfer-Encoding is lower case, `7bit` when
//!   absent. Content-MD5 is kept raw. For MIME headers the last
//!   occurrence counts, as in mail-parser's own decisions.
//! * A part without a usable Content-Type is `text/plain;
//!   charset=us-ascii` (RFC 2045's default), or `message/rfc822` directly
//!   inside a `multipart/digest` (RFC 2046).
//! * Sizes are in CRLF form (what IMAP reports and sends: each LF not
//!   preceded by CR counts two), whatever the stored line endings; lines
//!   are the LFs in the body (as Dovecot counts them: a last line without
//!   one is not counted). As
//!   MIME says, the line break before a boundary belongs to the boundary,
//!   not to the part before it.
//!
//! Malformed MIME never fails and never panics; it gives the structure
//! mail-parser recovers, with these rules where IMAP could not express
//! it: a `multipart/*` part that mail-parser could not split into at
//! least one part (no boundary parameter, boundary never found, or only
//! a closing delimiter) becomes `text/plain; charset=us-ascii` with its
//! whole body, as Dovecot shows it; a part whose closing boundary is
//! missing runs to the end of its parent. A `message/rfc822` part is
//! [`Content::Message`] only when mail-parser parsed its content as a
//! message and it has no transfer encoding (RFC 2046 forbids one; an
//! encoded one cannot be addressed by IMAP part numbers in the file);
//! otherwise it is [`Content::Single`] with its declared type. Parts
//! nested deeper than [`MAX_NESTING`] are not descended into (a deeper
//! multipart becomes text/plain). Empty input, or input over 4 GiB
//! (mail-parser's offsets are 32-bit), is one text/plain part holding
//! everything. Should mail-parser panic (its `debug_assert!`s can fire on
//! malformed input in debug builds), the message is its header and one
//! text/plain body.
//!
//! # Part numbers and spans
//!
//! Every part has a [`Span`]: where its MIME header and body lie in the
//! bytes given to [`parse_metadata`] (for the cache, the stored file with
//! LF line endings), so BODY[section] can be served by reading just that
//! range and converting it to wire form. [`BodyStructure::part`] resolves
//! IMAP part numbers; see it for the rules.

mod address;
mod flat;

use std::ops::Range;

use mail_parser::{
    Encoding, Header, HeaderName, HeaderValue, MessageParser, MessagePart, PartType,
};
use serde::{Deserialize, Serialize};

use address::parse_address_list;

/// How deep parts may nest (multiparts in multiparts, messages in
/// messages) before the structure stops descending; also the limit a
/// decoded cache entry must respect.
pub const MAX_NESTING: u32 = 32;

/// Metadata - what FETCH needs to know about one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// IMAP's ENVELOPE of the message.
    pub envelope: Envelope,
    /// IMAP's BODYSTRUCTURE of the message: its root part is the
    /// message's body, typed by its top-level headers.
    pub body: BodyStructure,
    /// The size of the header, blank line included, in CRLF form
    /// (RFC822.HEADER, BODY[HEADER]).
    pub header_size: u64,
    /// The size of the whole message in CRLF form (RFC822.SIZE); equals
    /// the [`MessageEntry::wire_size`](crate::MessageEntry::wire_size)
    /// of the file it was parsed from.
    pub size: u64,
}

impl Metadata {
    /// part - the part with this IMAP part number (`[2, 1]` for `2.1`);
    /// see [`BodyStructure::part`].
    pub fn part(&self, section: &[u32]) -> Option<&BodyStructure> {
        self.body.part(section)
    }
}

/// Envelope - IMAP's ENVELOPE: raw header values and split addresses.
///
/// Strings are bytes: headers may hold 8-bit text, which IMAP sends as
/// literals. An empty address list is NIL in IMAP.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// `Date:`, raw.
    pub date: Option<Vec<u8>>,
    /// `Subject:`, raw (encoded words not decoded).
    pub subject: Option<Vec<u8>>,
    /// `From:`.
    pub from: Vec<Address>,
    /// `Sender:`, or From when absent or empty.
    pub sender: Vec<Address>,
    /// `Reply-To:`, or From when absent or empty.
    pub reply_to: Vec<Address>,
    /// `To:`.
    pub to: Vec<Address>,
    /// `Cc:`.
    pub cc: Vec<Address>,
    /// `Bcc:`.
    pub bcc: Vec<Address>,
    /// `In-Reply-To:`, raw.
    pub in_reply_to: Option<Vec<u8>>,
    /// `Message-ID:`, raw.
    pub message_id: Option<Vec<u8>>,
}

/// Address - one IMAP address: four nstrings (None is NIL).
///
/// A group is a start marker (only `mailbox` set, to the group's name),
/// its members, and an end marker (all None), as RFC 3501 encodes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// The display name (phrase), quoting removed, encoded words kept.
    pub name: Option<Vec<u8>>,
    /// An obsolete source route (`@a,@b`), rarely present.
    pub adl: Option<Vec<u8>>,
    /// The local part, quoting removed; for a group start, its name.
    pub mailbox: Option<Vec<u8>>,
    /// The domain; None only in group markers.
    pub host: Option<Vec<u8>>,
}

impl Address {
    /// is_group_start - whether this is the marker opening a group.
    pub fn is_group_start(&self) -> bool {
        self.host.is_none() && self.mailbox.is_some()
    }

    /// is_group_end - whether this is the marker closing a group.
    pub fn is_group_end(&self) -> bool {
        self.host.is_none() && self.mailbox.is_none()
    }
}

/// BodyStructure - one MIME part and, for multiparts and messages, what
/// is inside it.
///
/// Serialised through a flat list of parts, so that decoding a hostile
/// or corrupt encoding cannot recurse deeper than [`MAX_NESTING`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyStructure {
    /// The part's own fields.
    pub info: PartInfo,
    /// What the part contains.
    pub content: Content,
}

/// Content - what a part contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A leaf: IMAP's body-type-basic, or body-type-text when
    /// [`PartInfo::is_text`] (then with [`Span::lines`]).
    Single,
    /// A multipart's parts, at least one (IMAP's body-type-mpart; the
    /// subtype and parameters are the part's [`PartInfo`]).
    Multipart(Vec<BodyStructure>),
    /// An encapsulated message (IMAP's body-type-msg).
    Message(Box<Embedded>),
}

/// Embedded - the message inside a `message/rfc822` part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Embedded {
    /// Its ENVELOPE.
    pub envelope: Envelope,
    /// Its BODYSTRUCTURE; its span's header is the embedded message's
    /// header (BODY[n.HEADER]) and its body the embedded body (BODY[n.TEXT]).
    pub body: BodyStructure,
}

/// PartInfo - the fields of one MIME part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartInfo {
    /// Media type, lower case (`text`, `multipart`, ...).
    pub media_type: String,
    /// Media subtype, lower case (`plain`, `mixed`, ...).
    pub media_subtype: String,
    /// Content-Type parameters in header order, names lower case
    /// (including `boundary` for multiparts).
    pub params: Vec<(String, String)>,
    /// `Content-ID:`, raw.
    pub id: Option<Vec<u8>>,
    /// `Content-Description:`, raw.
    pub description: Option<Vec<u8>>,
    /// `Content-Transfer-Encoding:`, lower case; `7bit` when absent.
    pub encoding: String,
    /// `Content-Disposition:`, if present.
    pub disposition: Option<Disposition>,
    /// `Content-Language:` tags.
    pub language: Vec<String>,
    /// `Content-Location:`, raw.
    pub location: Option<Vec<u8>>,
    /// `Content-MD5:`, raw (BODYSTRUCTURE's body-fld-md5).
    pub md5: Option<Vec<u8>>,
    /// Where the part lies, and its sizes.
    pub span: Span,
}

impl PartInfo {
    /// is_text - whether the part is `text/*`, whose IMAP structure
    /// carries a line count.
    pub fn is_text(&self) -> bool {
        self.media_type == "text"
    }
}

/// Disposition - a part's Content-Disposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disposition {
    /// `inline`, `attachment`, ..., lower case.
    pub kind: String,
    /// Its parameters (`filename`, ...), names lower case.
    pub params: Vec<(String, String)>,
}

/// Span - where a part lies in the parsed bytes, and its sizes in CRLF
/// form.
///
/// The MIME header (`BODY[n.MIME]`; for the root, the message header) is
/// `header_start..body_start`, blank line included; the body (`BODY[n]`,
/// for the root `BODY[TEXT]`) is `body_start..end`. Offsets count the
/// bytes given to [`parse_metadata`]; sizes count them in CRLF form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    /// Offset of the part's first header byte.
    pub header_start: u64,
    /// Offset of the body's first byte (just past the blank line).
    pub body_start: u64,
    /// Offset just past the body's last byte.
    pub end: u64,
    /// The header's size in CRLF form.
    pub header_size: u64,
    /// The body's size in CRLF form (IMAP's body-fld-octets).
    pub body_size: u64,
    /// The body's lines (IMAP's body-fld-lines for text and messages).
    pub lines: u64,
}

impl Span {
    /// header - the MIME header's range in the parsed bytes.
    pub fn header(&self) -> Range<u64> {
        self.header_start..self.body_start
    }

    /// body - the body's range in the parsed bytes.
    pub fn body(&self) -> Range<u64> {
        self.body_start..self.end
    }
}

impl BodyStructure {
    /// part - the part with this IMAP part number, `self` being a
    /// message's body (as [`Metadata::body`] and [`Embedded::body`] are).
    ///
    /// As RFC 3501 §6.4.5 numbers them: in a multipart, `n` is its n-th
    /// part (from 1); a body that is not a multipart has only part 1, the
    /// body itself; after a `message/rfc822` part, the next number goes
    /// into the embedded message's body by the same rules. An empty
    /// section is `self`. None if there is no such part.
    pub fn part(&self, section: &[u32]) -> Option<&BodyStructure> {
        let mut current = self;
        for (i, &n) in section.iter().enumerate() {
            let container = if i == 0 {
                current
            } else {
                match &current.content {
                    Content::Message(embedded) => &embedded.body,
                    Content::Multipart(_) => current,
                    Content::Single => return None,
                }
            };
            current = match &container.content {
                Content::Multipart(parts) => parts.get(usize::try_from(n).ok()?.checked_sub(1)?)?,
                _ if n == 1 => container,
                _ => return None,
            };
        }
        Some(current)
    }
}

/// parse_metadata - the [`Metadata`] of a message (as stored, LF line
/// endings, or in wire form; spans count the bytes given).
pub fn parse_metadata(bytes: &[u8]) -> Metadata {
    if u32::try_from(bytes.len()).is_err() {
        return whole_as_text(bytes, Envelope::default(), 0);
    }
    // mail-parser asserts its own invariants with debug_assert!, which a
    // malformed message can trip in debug builds; a parser bug must not
    // make a message unreadable, so fall back to the header alone.
    match std::panic::catch_unwind(|| parse_structure(bytes)) {
        Ok(Some(metadata)) => metadata,
        Ok(None) => whole_as_text(bytes, Envelope::default(), 0),
        Err(_) => {
            tracing::warn!(
                size = bytes.len(),
                "MIME parser failed; message shown as one text part"
            );
            let header_only = std::panic::catch_unwind(|| {
                let message = MessageParser::default().parse_headers(bytes)?;
                let root = message.parts.first()?;
                Some((envelope(&root.headers, bytes), to_usize(root.offset_body)))
            });
            match header_only {
                Ok(Some((envelope, body_start))) => whole_as_text(bytes, envelope, body_start),
                _ => whole_as_text(bytes, Envelope::default(), 0),
            }
        }
    }
}

/// parse_structure - [`parse_metadata`] through mail-parser; None if it
/// finds no message at all (empty input).
fn parse_structure(bytes: &[u8]) -> Option<Metadata> {
    let message = MessageParser::default().parse(bytes)?;
    let envelope = message
        .parts
        .first()
        .map(|root| envelope(&root.headers, bytes))
        .unwrap_or_default();
    let body = convert(&message.parts, 0, bytes, 0, false);
    Some(Metadata {
        envelope,
        header_size: body.info.span.header_size,
        body,
        size: crlf_size(bytes, 0, bytes.len()),
    })
}

/// whole_as_text - the metadata of a message taken as a header up to
/// `body_start` and one text/plain body after it.
fn whole_as_text(bytes: &[u8], envelope: Envelope, body_start: usize) -> Metadata {
    let span = span_of(bytes, 0, body_start, bytes.len());
    Metadata {
        envelope,
        header_size: span.header_size,
        body: BodyStructure {
            info: text_plain_info(span),
            content: Content::Single,
        },
        size: crlf_size(bytes, 0, bytes.len()),
    }
}

/// convert - our structure for part `id` of mail-parser's `parts`.
/// `in_digest` says its parent is a multipart/digest.
fn convert(
    parts: &[MessagePart<'_>],
    id: usize,
    raw: &[u8],
    depth: u32,
    in_digest: bool,
) -> BodyStructure {
    let Some(part) = parts.get(id) else {
        // mail-parser named a part it does not have; never seen.
        return BodyStructure {
            info: text_plain_info(Span::default()),
            content: Content::Single,
        };
    };
    let headers = &part.headers;
    let span = span_of(
        raw,
        to_usize(part.offset_header),
        to_usize(part.offset_body),
        to_usize(part.offset_end),
    );
    let mut info = part_info(headers, raw, span, in_digest);
    let deeper = depth < MAX_NESTING;
    let content = match &part.body {
        PartType::Multipart(ids) if deeper => {
            let is_digest = info.media_subtype == "digest";
            let children: Vec<BodyStructure> = ids
                .iter()
                .map(|&c| to_usize(c))
                // Children follow their parent; anything else would loop.
                .filter(|&c| c > id)
                .map(|c| convert(parts, c, raw, depth + 1, is_digest))
                .collect();
            if children.is_empty() {
                Content::Single
            } else {
                Content::Multipart(children)
            }
        }
        PartType::Message(nested) if deeper && part.encoding == Encoding::None => {
            // Unencoded, mail-parser parsed it in place: offsets are ours.
            let envelope = nested
                .parts
                .first()
                .map(|root| envelope(&root.headers, raw))
                .unwrap_or_default();
            let body = convert(&nested.parts, 0, raw, depth + 1, false);
            Content::Message(Box::new(Embedded { envelope, body }))
        }
        _ => Content::Single,
    };
    if matches!(content, Content::Single) && info.media_type == "multipart" {
        let params = std::mem::take(&mut info.params);
        tracing::debug!(?params, "multipart without parts shown as text/plain");
        info.media_type = "text".to_owned();
        info.media_subtype = "plain".to_owned();
        info.params = us_ascii();
    }
    BodyStructure { info, content }
}

/// part_info - the fields of a part from its headers.
fn part_info(headers: &[Header<'_>], raw: &[u8], span: Span, in_digest: bool) -> PartInfo {
    let content_type = last(headers, &HeaderName::ContentType).map(|h| &h.value);
    let (media_type, media_subtype, params) = match content_type {
        Some(HeaderValue::ContentType(ct)) if ct.c_subtype.is_some() => (
            ct.c_type.to_string(),
            ct.c_subtype.as_deref().unwrap_or_default().to_owned(),
            attributes(ct.attributes.as_deref()),
        ),
        None if in_digest => ("message".to_owned(), "rfc822".to_owned(), Vec::new()),
        _ => ("text".to_owned(), "plain".to_owned(), us_ascii()),
    };
    let encoding = last(headers, &HeaderName::ContentTransferEncoding)
        .and_then(|h| h.value.as_text())
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "7bit".to_owned());
    let disposition = match last(headers, &HeaderName::ContentDisposition).map(|h| &h.value) {
        Some(HeaderValue::ContentType(d)) => Some(Disposition {
            kind: d.c_type.to_string(),
            params: attributes(d.attributes.as_deref()),
        }),
        _ => None,
    };
    let language = last(headers, &HeaderName::ContentLanguage)
        .and_then(|h| h.value.as_text_list())
        .map(|tags| {
            tags.iter()
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    PartInfo {
        media_type,
        media_subtype,
        params,
        id: last(headers, &HeaderName::ContentId).map(|h| raw_value(h, raw)),
        description: last(headers, &HeaderName::ContentDescription).map(|h| raw_value(h, raw)),
        encoding,
        disposition,
        language,
        location: last(headers, &HeaderName::ContentLocation).map(|h| raw_value(h, raw)),
        md5: headers
            .iter()
            .rev()
            .find(|h| h.name.as_str().eq_ignore_ascii_case("Content-MD5"))
            .map(|h| raw_value(h, raw)),
        span,
    }
}

/// envelope - the ENVELOPE of a message from its top-level headers.
fn envelope(headers: &[Header<'_>], raw: &[u8]) -> Envelope {
    let text = |name: HeaderName<'static>| first(headers, &name).map(|h| raw_value(h, raw));
    let addresses = |name: HeaderName<'static>| {
        text(name)
            .map(|v| parse_address_list(&v))
            .unwrap_or_default()
    };
    let from = addresses(HeaderName::From);
    let or_from = |list: Vec<Address>| if list.is_empty() { from.clone() } else { list };
    Envelope {
        date: text(HeaderName::Date),
        subject: text(HeaderName::Subject),
        sender: or_from(addresses(HeaderName::Sender)),
        reply_to: or_from(addresses(HeaderName::ReplyTo)),
        to: addresses(HeaderName::To),
        cc: addresses(HeaderName::Cc),
        bcc: addresses(HeaderName::Bcc),
        in_reply_to: text(HeaderName::InReplyTo),
        message_id: text(HeaderName::MessageId),
        from,
    }
}

/// first - the first header with this name.
fn first<'a, 'x>(headers: &'a [Header<'x>], name: &HeaderName<'_>) -> Option<&'a Header<'x>> {
    headers.iter().find(|h| h.name == *name)
}

/// last - the last header with this name (mail-parser's choice for MIME
/// headers).
fn last<'a, 'x>(headers: &'a [Header<'x>], name: &HeaderName<'_>) -> Option<&'a Header<'x>> {
    headers.iter().rev().find(|h| h.name == *name)
}

/// raw_value - a header's value as written: folding line breaks removed,
/// surrounding white space trimmed.
fn raw_value(header: &Header<'_>, raw: &[u8]) -> Vec<u8> {
    let value = raw
        .get(to_usize(header.offset_start)..to_usize(header.offset_end))
        .unwrap_or_default();
    let unfolded: Vec<u8> = value
        .iter()
        .copied()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    let blank = |b: &u8| *b == b' ' || *b == b'\t';
    let start = unfolded
        .iter()
        .position(|b| !blank(b))
        .unwrap_or(unfolded.len());
    let end = unfolded
        .iter()
        .rposition(|b| !blank(b))
        .map_or(start, |p| p + 1);
    unfolded.get(start..end).unwrap_or_default().to_vec()
}

/// attributes - mail-parser's parameters as (name, value) pairs.
fn attributes(attrs: Option<&[mail_parser::Attribute<'_>]>) -> Vec<(String, String)> {
    attrs
        .unwrap_or_default()
        .iter()
        .map(|a| (a.name.to_string(), a.value.to_string()))
        .collect()
}

/// us_ascii - the default parameters of text/plain.
fn us_ascii() -> Vec<(String, String)> {
    vec![("charset".to_owned(), "us-ascii".to_owned())]
}

/// text_plain_info - the fields of a part with no usable headers.
fn text_plain_info(span: Span) -> PartInfo {
    PartInfo {
        media_type: "text".to_owned(),
        media_subtype: "plain".to_owned(),
        params: us_ascii(),
        id: None,
        description: None,
        encoding: "7bit".to_owned(),
        disposition: None,
        language: Vec::new(),
        location: None,
        md5: None,
        span,
    }
}

/// span_of - the span of a part with these offsets (clamped to the
/// bytes, and to each other).
fn span_of(raw: &[u8], header_start: usize, body_start: usize, end: usize) -> Span {
    let end = end.min(raw.len());
    let body_start = body_start.min(end);
    let header_start = header_start.min(body_start);
    let body = raw.get(body_start..end).unwrap_or_default();
    // Line breaks, as Dovecot counts them: a last line without one (the usual
    // case before a boundary, whose CRLF belongs to the boundary) is not counted.
    let newlines = body.iter().filter(|&&b| b == b'\n').count();
    Span {
        header_start: to_u64(header_start),
        body_start: to_u64(body_start),
        end: to_u64(end),
        header_size: crlf_size(raw, header_start, body_start),
        body_size: crlf_size(raw, body_start, end),
        lines: to_u64(newlines),
    }
}

/// crlf_size - the size of `raw[start..end]` with every LF not preceded
/// by CR (within the range) counted as CRLF: what a
/// [`MessageReader`](crate::MessageReader) yields for that range alone.
fn crlf_size(raw: &[u8], start: usize, end: usize) -> u64 {
    let Some(range) = raw.get(start..end) else {
        return 0;
    };
    let mut prev = None;
    let mut bare = 0usize;
    for &b in range {
        if b == b'\n' && prev != Some(b'\r') {
            bare += 1;
        }
        prev = Some(b);
    }
    to_u64(range.len()).saturating_add(to_u64(bare))
}

/// to_usize - a mail-parser offset as an index.
fn to_usize(offset: u32) -> usize {
    usize::try_from(offset).unwrap_or(usize::MAX)
}

/// to_u64 - a length as u64.
fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests;
