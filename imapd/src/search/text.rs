//! text - the decoded, case-folded text SEARCH compares strings with.
//!
//! Header values have their RFC 2047 encoded words decoded and their
//! folding undone by mail-parser's unstructured-field parser; address
//! lists are written out from the envelope the way Dovecot normalises
//! them (`"Carol, C." <carol@example.com>, erin@example.net`), display
//! names decoded; bodies come decoded (transfer encoding and charset)
//! from a full mail-parser parse of the message. Everything is then
//! [`fold`]ed, and so is the client's string.

use std::panic::{AssertUnwindSafe, catch_unwind};

use mail_parser::parsers::MessageStream;
use mail_parser::{Encoding, HeaderValue, Message, MessageParser, PartType};
use mailstore::Address;

use crate::fetch::split_header;

/// How deep embedded messages are followed for TEXT and BODY.
const MAX_DEPTH: usize = 32;

/// fold - `text` lower-cased (Unicode) with every run of white space made
/// one space: the form both sides of a comparison take.
pub(super) fn fold(text: &str) -> String {
    if text.is_ascii() {
        // The common case, without Unicode case tables.
        let mut out = String::with_capacity(text.len());
        let mut in_space = false;
        for b in text.bytes() {
            if matches!(b, b'\t'..=b'\r' | b' ') {
                if !in_space {
                    out.push(' ');
                }
                in_space = true;
            } else {
                in_space = false;
                out.push(char::from(b.to_ascii_lowercase()));
            }
        }
        return out;
    }
    let mut out = String::with_capacity(text.len());
    let mut in_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !in_space {
                out.push(' ');
            }
            in_space = true;
        } else {
            in_space = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// decode_value - a header field's value (the bytes after the colon,
/// continuation lines included) with encoded words decoded and folding
/// undone.
pub(super) fn decode_value(raw: &[u8]) -> String {
    let mut value = raw.to_vec();
    // The parser stops at the end of the field, which it recognises by
    // its line end.
    if !value.ends_with(b"\n") {
        value.push(b'\n');
    }
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        match MessageStream::new(&value).parse_unstructured() {
            HeaderValue::Text(text) => text.into_owned(),
            _ => String::new(),
        }
    }));
    parsed.unwrap_or_else(|_| String::from_utf8_lossy(raw).trim().to_owned())
}

/// field_value - the value part of a field's raw lines (after the first
/// colon; empty if there is none).
pub(super) fn field_value(raw: &[u8]) -> &[u8] {
    match raw.iter().position(|&b| b == b':') {
        Some(colon) => raw.get(colon + 1..).unwrap_or_default(),
        None => &[],
    }
}

/// header_text - the fields of a header block as `name: value` lines,
/// values decoded, folded.
fn header_text(header: &[u8]) -> String {
    let mut out = String::new();
    for field in split_header(header).fields {
        out.push_str(&String::from_utf8_lossy(field.name));
        out.push_str(": ");
        out.push_str(&decode_value(field_value(field.raw)));
        out.push('\n');
    }
    fold(&out)
}

/// addresses_text - an address list written out for matching, folded:
/// as Dovecot writes it, `"Carol, C." <carol@example.com>,
/// <erin@example.net>, Group: <a@b>;`, with encoded words decoded
/// afterwards (so a display name is quoted or not as it was raw).
pub(super) fn addresses_text(list: &[Address]) -> String {
    let mut out = Vec::new();
    // Whether the next address needs ", " before it.
    let mut separate = false;
    // Whether the last thing written was a group's `Name:`.
    let mut group_opened = false;
    for address in list {
        if address.is_group_end() {
            out.push(b';');
            separate = true;
            group_opened = false;
            continue;
        }
        if group_opened {
            out.push(b' ');
        } else if separate {
            out.extend_from_slice(b", ");
        }
        group_opened = false;
        separate = true;
        if address.is_group_start() {
            out.extend_from_slice(address.mailbox.as_deref().unwrap_or_default());
            out.push(b':');
            separate = false;
            group_opened = true;
            continue;
        }
        if let Some(name) = &address.name {
            out.extend_from_slice(&phrase(name));
            out.push(b' ');
        }
        out.push(b'<');
        if let Some(adl) = &address.adl {
            out.extend_from_slice(adl);
            out.push(b':');
        }
        out.extend_from_slice(&local_part(address.mailbox.as_deref().unwrap_or_default()));
        if let Some(host) = &address.host {
            out.push(b'@');
            out.extend_from_slice(host);
        }
        out.push(b'>');
    }
    fold(&decode_value(&out))
}

/// is_atext - RFC 5322 atext, plus 8-bit bytes (raw UTF-8 names).
fn is_atext(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || b"!#$%&'*+-/=?^_`{|}~".contains(&b)
}

/// phrase - a display name as written: quoted unless it is one atom.
fn phrase(name: &[u8]) -> Vec<u8> {
    if !name.is_empty() && name.iter().all(|&b| is_atext(b)) {
        name.to_vec()
    } else {
        quote(name)
    }
}

/// local_part - a local part, quoted unless it is a dot-atom.
fn local_part(local: &[u8]) -> Vec<u8> {
    let dot_atom = !local.is_empty()
        && local
            .split(|&b| b == b'.')
            .all(|atom| !atom.is_empty() && atom.iter().all(|&b| is_atext(b)));
    if dot_atom {
        local.to_vec()
    } else {
        quote(local)
    }
}

/// quote - `"text"` with `"` and `\` escaped.
fn quote(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 2);
    out.push(b'"');
    for &b in text {
        if b == b'"' || b == b'\\' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'"');
    out
}

/// MessageText - what TEXT and BODY search in one message: every header
/// block (the message's, each part's MIME header, each embedded
/// message's) and every text part, decoded and folded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct MessageText {
    /// The header blocks, as `name: value` lines.
    pub headers: Vec<String>,
    /// The text/* parts (HTML as it is), each on its own.
    pub bodies: Vec<String>,
}

/// message_text - the [`MessageText`] of a stored message.
///
/// Only text/* parts count as body, as in Dovecot: attachments of other
/// types, preambles, epilogues and boundaries are not searched, nor are
/// the headers of embedded messages by BODY (TEXT searches them). Should
/// mail-parser panic, the message's own header and everything after it
/// stand in.
pub(super) fn message_text(bytes: &[u8]) -> MessageText {
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        let mut text = MessageText::default();
        if let Some(message) = MessageParser::default().parse(bytes) {
            collect(&message, bytes, &mut text, 0);
        }
        text
    }));
    match parsed {
        Ok(text) => text,
        Err(_) => {
            tracing::warn!(
                size = bytes.len(),
                "MIME parser failed; searching the message as one text"
            );
            let split = split_header(bytes);
            let header_len: usize = split
                .fields
                .iter()
                .map(|f| f.raw.len())
                .chain(split.blank.map(<[u8]>::len))
                .sum();
            MessageText {
                headers: vec![header_text(bytes)],
                bodies: vec![fold(&String::from_utf8_lossy(
                    bytes.get(header_len..).unwrap_or_default(),
                ))],
            }
        }
    }
}

/// collect - add the headers and text parts of `message` (and of the
/// messages embedded in it) to `text`. `raw` holds the bytes its offsets
/// count: the outer message's for a message mail-parser parsed in place,
/// its own decoded bytes for one that had a transfer encoding.
fn collect(message: &Message<'_>, raw: &[u8], text: &mut MessageText, depth: usize) {
    for part in &message.parts {
        let start = usize::try_from(part.offset_header).unwrap_or(usize::MAX);
        let end = usize::try_from(part.offset_body).unwrap_or(usize::MAX);
        if let Some(header) = raw.get(start..end.min(raw.len())) {
            text.headers.push(header_text(header));
        }
        match &part.body {
            PartType::Text(body) | PartType::Html(body) => text.bodies.push(fold(body)),
            PartType::Message(inner) if depth < MAX_DEPTH => {
                let inner_raw = if part.encoding == Encoding::None {
                    raw
                } else {
                    inner.raw_message()
                };
                collect(inner, inner_raw, text, depth + 1);
            }
            _ => {}
        }
    }
}

/// root_fields - the fields of a message's own header as (name, decoded
/// and folded value).
pub(super) fn root_fields(bytes: &[u8]) -> Vec<(Vec<u8>, String)> {
    split_header(bytes)
        .fields
        .iter()
        .map(|f| (f.name.to_vec(), fold(&decode_value(field_value(f.raw)))))
        .collect()
}
