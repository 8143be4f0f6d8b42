//! binary - BINARY[part] and BINARY.SIZE[part] (RFC 3516): a part with
//! its content transfer encoding undone.
//!
//! A leaf in base64 or quoted-printable is decoded with mail-parser's
//! MIME decoders; one in 7bit, 8bit or binary is sent as BODY[part]
//! would be. A multipart or embedded message is sent whole with every
//! leaf inside it decoded and its header saying so: its
//! Content-Transfer-Encoding fields are dropped and
//! `Content-Transfer-Encoding: binary` is added at the end of its header,
//! as Dovecot does. Any other encoding is [`BinaryError::UnknownCte`]
//! (`NO [UNKNOWN-CTE]`); base64 that is not base64 is
//! [`BinaryError::Invalid`] (Dovecot: `NO [PARSE]`).
//!
//! Quoted-printable is decoded from the wire form, so its line breaks
//! come out as CRLF (as Dovecot's do); trailing white space on an
//! encoded line is dropped, at the part's end too (RFC 2045 §6.7).

use mail_parser::parsers::MessageStream;
use mailstore::{BodyStructure, Content, Metadata};

use super::section::{find_part, slice, split_header, to_wire};

/// BinaryData - the data of `BINARY[part]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BinaryData {
    /// The decoded bytes.
    pub data: Vec<u8>,
    /// Whether anything was decoded; such data is sent as a literal8
    /// (`~{n}`), as Dovecot sends it.
    pub decoded: bool,
}

/// BinaryError - why a part cannot be sent decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryError {
    /// A content transfer encoding this server does not know (the value
    /// as the metadata has it): `NO [UNKNOWN-CTE]`.
    UnknownCte(String),
    /// Data that is not valid in its encoding: `NO [PARSE]`.
    Invalid,
}

impl std::fmt::Display for BinaryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BinaryError::UnknownCte(cte) => {
                write!(f, "unknown content transfer encoding {cte:?}")
            }
            BinaryError::Invalid => f.write_str("invalid data in MIME part"),
        }
    }
}

impl std::error::Error for BinaryError {}

/// binary_section - `BINARY[part]` of `message` (the stored bytes
/// `metadata` describes). An empty `part` is the whole message; a part
/// that does not exist is empty (as Dovecot sends it).
pub fn binary_section(
    message: &[u8],
    metadata: &Metadata,
    part: &[u32],
) -> Result<BinaryData, BinaryError> {
    let mut out = BinaryData::default();
    if part.is_empty() {
        entity(&mut out, message, &metadata.body)?;
    } else if let Some(found) = find_part(&metadata.body, part) {
        content(&mut out, message, found)?;
    }
    Ok(out)
}

/// write_binary - BINARY data as a literal8 (`~{n}\r\n...`) when it was
/// decoded or holds a NUL, else as a literal.
pub fn write_binary(out: &mut Vec<u8>, binary: &BinaryData) {
    if binary.decoded || binary.data.contains(&0) {
        out.push(b'~');
    }
    out.extend_from_slice(format!("{{{}}}\r\n", binary.data.len()).as_bytes());
    out.extend_from_slice(&binary.data);
}

/// How a leaf's body is turned into BINARY data.
enum Decoding {
    /// Sent as it is (in wire form).
    Identity,
    /// base64.
    Base64,
    /// quoted-printable.
    QuotedPrintable,
}

/// decoding - the decoding for a leaf's encoding.
fn decoding(encoding: &str) -> Result<Decoding, BinaryError> {
    let known = [
        ("7bit", Decoding::Identity),
        ("8bit", Decoding::Identity),
        ("binary", Decoding::Identity),
        ("", Decoding::Identity),
        ("base64", Decoding::Base64),
        ("quoted-printable", Decoding::QuotedPrintable),
    ];
    known
        .into_iter()
        .find(|(name, _)| encoding.trim().eq_ignore_ascii_case(name))
        .map(|(_, d)| d)
        .ok_or_else(|| BinaryError::UnknownCte(encoding.to_owned()))
}

/// entity - a part with its header (rewritten if its body is decoded),
/// then its content.
fn entity(out: &mut BinaryData, message: &[u8], part: &BodyStructure) -> Result<(), BinaryError> {
    let header = slice(message, part.info.span.header());
    let decodes = matches!(part.content, Content::Single)
        && !matches!(decoding(&part.info.encoding)?, Decoding::Identity);
    if decodes {
        rewrite_header(&mut out.data, header);
    } else {
        to_wire(&mut out.data, header);
    }
    content(out, message, part)
}

/// content - a part's body, decoded: a leaf's, or a container's with
/// each part inside it as an [`entity`].
fn content(out: &mut BinaryData, message: &[u8], part: &BodyStructure) -> Result<(), BinaryError> {
    let span = part.info.span;
    let inner: Vec<&BodyStructure> = match &part.content {
        Content::Single => return leaf(out, slice(message, span.body()), &part.info.encoding),
        Content::Multipart(parts) => parts.iter().collect(),
        Content::Message(embedded) => vec![&embedded.body],
    };
    // Boundaries, preamble and epilogue go as they are.
    let mut at = span.body_start;
    for child in inner {
        let child_span = child.info.span;
        to_wire(&mut out.data, slice(message, at..child_span.header_start));
        entity(out, message, child)?;
        at = at.max(child_span.end);
    }
    to_wire(&mut out.data, slice(message, at..span.end));
    Ok(())
}

/// leaf - a leaf's body, decoded according to `encoding`.
fn leaf(out: &mut BinaryData, body: &[u8], encoding: &str) -> Result<(), BinaryError> {
    match decoding(encoding)? {
        Decoding::Identity => to_wire(&mut out.data, body),
        Decoding::Base64 => {
            let (end, decoded) = MessageStream::new(body).decode_base64_mime(b"");
            if end == usize::MAX {
                return Err(BinaryError::Invalid);
            }
            out.data.extend_from_slice(&decoded);
            out.decoded = true;
        }
        Decoding::QuotedPrintable => {
            let mut wire = Vec::new();
            to_wire(&mut wire, body);
            // Trailing white space of the last line is dropped, like that
            // of every other line (the decoder does those).
            let last_line = wire.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            let keep = wire
                .iter()
                .rposition(|&b| b != b' ' && b != b'\t')
                .map_or(0, |p| p + 1)
                .max(last_line);
            wire.truncate(keep);
            let (_, decoded) = MessageStream::new(&wire).decode_quoted_printable_mime(b"");
            out.data.extend_from_slice(&decoded);
            out.decoded = true;
        }
    }
    Ok(())
}

/// rewrite_header - a header block in wire form without its
/// Content-Transfer-Encoding fields and with
/// `Content-Transfer-Encoding: binary` added last.
fn rewrite_header(out: &mut Vec<u8>, header: &[u8]) {
    let split = split_header(header);
    for field in &split.fields {
        if field
            .name
            .eq_ignore_ascii_case(b"Content-Transfer-Encoding")
        {
            continue;
        }
        to_wire(out, field.raw);
        if !field.raw.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"Content-Transfer-Encoding: binary\r\n");
    if split.blank.is_some() {
        out.extend_from_slice(b"\r\n");
    }
}
