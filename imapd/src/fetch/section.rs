//! section - the bytes of BODY[section] (RFC 3501 §6.4.5), cut from the
//! stored message with the spans the metadata keeps, and sent in wire
//! form (every bare LF as CRLF).
//!
//! The only parsing done here is splitting a header block into fields
//! (a field is a line and the continuation lines that start with white
//! space after it), for HEADER.FIELDS and for BINARY's header rewrite.

use std::ops::Range;

use imap_proto::{Section, SectionText};
use mailstore::{BodyStructure, Content, Metadata};

/// find_part - the part that IMAP part number `path` names, `root` being
/// a message's body ([`Metadata::body`]); None if there is none. An
/// empty path is `root`.
///
/// Resolved as Dovecot does: in a multipart, `n` is its n-th part; in
/// anything else only `1` is valid and names the part itself, and only
/// as the last number unless the part is an embedded message; after an
/// embedded message, the following numbers go into that message's body.
/// So `1` of a single-part message is its body, `2.1` the first part of
/// an embedded multipart message (or the body of an embedded single-part
/// one), and `1.1` of a leaf inside a multipart is that leaf again.
pub fn find_part<'a>(root: &'a BodyStructure, path: &[u32]) -> Option<&'a BodyStructure> {
    let mut part = root;
    let mut numbers = path.iter().peekable();
    while let Some(&n) = numbers.next() {
        let more = numbers.peek().is_some();
        part = match &part.content {
            Content::Multipart(children) => {
                children.get(usize::try_from(n).ok()?.checked_sub(1)?)?
            }
            Content::Message(_) if n == 1 => part,
            Content::Single if n == 1 && !more => part,
            _ => return None,
        };
        if more && let Content::Message(embedded) = &part.content {
            part = &embedded.body;
        }
    }
    Some(part)
}

/// section_bytes - the data of `BODY[section]` of `message` (the stored
/// bytes that `metadata` describes), in wire form, before any partial.
///
/// A section that names no part, or HEADER/TEXT of a part that is not an
/// embedded message, is empty, as Dovecot sends it (`{0}`).
pub fn section_bytes(message: &[u8], metadata: &Metadata, section: &Section) -> Vec<u8> {
    let Some(part) = find_part(&metadata.body, &section.part) else {
        return Vec::new();
    };
    let at_root = section.part.is_empty();
    // HEADER, HEADER.FIELDS and TEXT address a message: the root, or an
    // embedded one named by the part number.
    let message_root = if at_root {
        Some(part)
    } else {
        match &part.content {
            Content::Message(embedded) => Some(&embedded.body),
            _ => None,
        }
    };
    let span = |range: Range<u64>| slice(message, range);
    let mut out = Vec::new();
    match &section.text {
        None if at_root => to_wire(&mut out, message),
        None => to_wire(&mut out, span(part.info.span.body())),
        Some(SectionText::Mime) if at_root => {}
        Some(SectionText::Mime) => to_wire(&mut out, span(part.info.span.header())),
        Some(text) => {
            let Some(root) = message_root else {
                return out;
            };
            let header = span(root.info.span.header());
            match text {
                SectionText::Header => to_wire(&mut out, header),
                SectionText::HeaderFields(names) => {
                    to_wire(&mut out, &header_fields(header, names, false));
                }
                SectionText::HeaderFieldsNot(names) => {
                    to_wire(&mut out, &header_fields(header, names, true));
                }
                SectionText::Text => to_wire(&mut out, span(root.info.span.body())),
                SectionText::Mime => {}
            }
        }
    }
    out
}

/// partial - the `<offset.count>` window of `data` (all of it without a
/// partial; empty when the offset is past the end).
pub fn partial(data: &[u8], partial: Option<(u32, u32)>) -> &[u8] {
    let Some((offset, count)) = partial else {
        return data;
    };
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(data.len());
    let end = start
        .saturating_add(usize::try_from(count).unwrap_or(usize::MAX))
        .min(data.len());
    data.get(start..end).unwrap_or_default()
}

/// slice - `bytes[range]`, clamped to the bytes (a span from a stale
/// cache entry must not panic).
pub(super) fn slice(bytes: &[u8], range: Range<u64>) -> &[u8] {
    let end = usize::try_from(range.end)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    let start = usize::try_from(range.start).unwrap_or(usize::MAX).min(end);
    bytes.get(start..end).unwrap_or_default()
}

/// to_wire - append `bytes` with every LF not preceded by CR made CRLF,
/// as [`MessageReader`](mailstore::MessageReader) sends them.
pub(crate) fn to_wire(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() + bytes.len() / 32);
    let mut prev = None;
    for &b in bytes {
        if b == b'\n' && prev != Some(b'\r') {
            out.push(b'\r');
        }
        out.push(b);
        prev = Some(b);
    }
}

/// Field - one header field as stored: its name and all its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    /// The name, before the colon, trailing white space removed (the
    /// whole first line if it has no colon).
    pub(crate) name: &'a [u8],
    /// The field's lines, continuation lines and line ends included.
    pub(crate) raw: &'a [u8],
}

/// HeaderSplit - a header block split into fields, and where the block
/// ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HeaderSplit<'a> {
    /// The fields, in order.
    pub(crate) fields: Vec<Field<'a>>,
    /// The terminating empty line, if the block has one (`\n` or
    /// `\r\n`).
    pub(crate) blank: Option<&'a [u8]>,
}

/// split_header - the fields of a header block (a part's header span:
/// fields, then an empty line or the end). Lines of white space before
/// the first field belong to a nameless field.
pub(crate) fn split_header(header: &[u8]) -> HeaderSplit<'_> {
    let mut fields = Vec::new();
    let mut pos = 0usize;
    // Where the field being collected starts.
    let mut current: Option<usize> = None;
    let mut blank = None;
    while let Some(rest) = header.get(pos..).filter(|r| !r.is_empty()) {
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .map_or(rest.len(), |i| i + 1);
        let line = rest.get(..len).unwrap_or_default();
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() && line.ends_with(b"\n") {
            blank = Some(line);
            break;
        }
        let continuation = matches!(content.first(), Some(b' ' | b'\t'));
        if !continuation || current.is_none() {
            if let Some(start) = current {
                fields.push(field(header.get(start..pos).unwrap_or_default()));
            }
            current = Some(pos);
        }
        pos += len;
    }
    if let Some(start) = current {
        fields.push(field(header.get(start..pos).unwrap_or_default()));
    }
    HeaderSplit { fields, blank }
}

/// field - the [`Field`] of one field's lines.
fn field(raw: &[u8]) -> Field<'_> {
    let first_line = raw.split(|&b| b == b'\n').next().unwrap_or_default();
    let name = match first_line.iter().position(|&b| b == b':') {
        Some(colon) => first_line.get(..colon).unwrap_or_default(),
        None => first_line,
    };
    let trimmed_len = name
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    Field {
        name: name.get(..trimmed_len).unwrap_or_default(),
        raw,
    }
}

/// header_fields - the fields of `header` named in `names` (or, with
/// `exclude`, not named), as stored, then an empty line; a field without
/// a final line end gets one.
fn header_fields(header: &[u8], names: &[String], exclude: bool) -> Vec<u8> {
    let split = split_header(header);
    let mut out = Vec::new();
    for field in &split.fields {
        let named = names
            .iter()
            .any(|n| n.as_bytes().eq_ignore_ascii_case(field.name));
        if named != exclude {
            out.extend_from_slice(field.raw);
            if !field.raw.ends_with(b"\n") {
                out.push(b'\n');
            }
        }
    }
    out.push(b'\n');
    out
}
