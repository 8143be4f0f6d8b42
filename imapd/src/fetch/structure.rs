//! structure - ENVELOPE, BODY and BODYSTRUCTURE in IMAP syntax
//! (RFC 3501 §7.4.2, RFC 9051 §7.5.2), from the mail store's metadata.
//!
//! The metadata already holds what IMAP wants (raw header values, split
//! addresses with group markers, Sender and Reply-To defaulted to From,
//! lower-case media types, spans with CRLF sizes); this module only
//! writes it, doing what Dovecot does: the default `charset` of text
//! parts, Content-MD5 as written, and white space in subjects and display names
//! made single spaces.

use imap_proto::encode;
use mailstore::{Address, BodyStructure, Content, Envelope, PartInfo};

/// write_envelope - IMAP's ENVELOPE: `(date subject from sender reply-to
/// to cc bcc in-reply-to message-id)`, NIL for absent headers and empty
/// address lists.
pub fn write_envelope(out: &mut Vec<u8>, envelope: &Envelope) {
    out.push(b'(');
    encode::nstring(out, envelope.date.as_deref());
    out.push(b' ');
    encode::nstring(out, envelope.subject.as_deref().map(for_humans).as_deref());
    for list in [
        &envelope.from,
        &envelope.sender,
        &envelope.reply_to,
        &envelope.to,
        &envelope.cc,
        &envelope.bcc,
    ] {
        out.push(b' ');
        write_addresses(out, list);
    }
    out.push(b' ');
    encode::nstring(out, envelope.in_reply_to.as_deref());
    out.push(b' ');
    encode::nstring(out, envelope.message_id.as_deref());
    out.push(b')');
}

/// for_humans - a subject or display name as Dovecot sends it: every
/// run of white space (what folding left included) made one space, and
/// none at either end. Other envelope strings keep their white space.
fn for_humans(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for word in text
        .split(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(b' ');
        }
        out.extend_from_slice(word);
    }
    out
}

/// write_addresses - an address list, `((name adl mailbox host)...)`, or
/// NIL when empty. Group markers are addresses like any other.
fn write_addresses(out: &mut Vec<u8>, list: &[Address]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for address in list {
        out.push(b'(');
        encode::nstring(out, address.name.as_deref().map(for_humans).as_deref());
        out.push(b' ');
        encode::nstring(out, address.adl.as_deref());
        out.push(b' ');
        encode::nstring(out, address.mailbox.as_deref());
        out.push(b' ');
        encode::nstring(out, address.host.as_deref());
        out.push(b')');
    }
    out.push(b')');
}

/// write_body_structure - BODYSTRUCTURE (`extensible`) or BODY (not) of
/// a part, usually [`Metadata::body`](mailstore::Metadata::body).
///
/// A multipart is its parts, its subtype and, extensible, its
/// parameters, disposition, language and location. A leaf is type,
/// subtype, parameters, id, description, encoding and size; then lines
/// for text, or envelope, structure and lines for an embedded message;
/// then, extensible, MD5, disposition, language and
/// location.
pub fn write_body_structure(out: &mut Vec<u8>, body: &BodyStructure, extensible: bool) {
    let info = &body.info;
    out.push(b'(');
    match &body.content {
        Content::Multipart(parts) => {
            for part in parts {
                write_body_structure(out, part, extensible);
            }
            out.push(b' ');
            encode::string(out, info.media_subtype.as_bytes());
            if extensible {
                out.push(b' ');
                write_params(out, &info.params, false);
                write_extension(out, info);
            }
        }
        content => {
            encode::string(out, info.media_type.as_bytes());
            out.push(b' ');
            encode::string(out, info.media_subtype.as_bytes());
            out.push(b' ');
            write_params(out, &info.params, info.is_text());
            out.push(b' ');
            encode::nstring(out, info.id.as_deref());
            out.push(b' ');
            encode::nstring(out, info.description.as_deref());
            out.push(b' ');
            encode::string(out, info.encoding.as_bytes());
            out.extend_from_slice(format!(" {}", info.span.body_size).as_bytes());
            if let Content::Message(embedded) = content {
                out.push(b' ');
                write_envelope(out, &embedded.envelope);
                out.push(b' ');
                write_body_structure(out, &embedded.body, extensible);
                out.extend_from_slice(format!(" {}", info.span.lines).as_bytes());
            } else if info.is_text() {
                out.extend_from_slice(format!(" {}", info.span.lines).as_bytes());
            }
            if extensible {
                out.push(b' ');
                encode::nstring(out, info.md5.as_deref());
                write_extension(out, info);
            }
        }
    }
    out.push(b')');
}

/// write_params - `("name" "value" ...)` or NIL; with `text`, a missing
/// charset is added last as `"charset" "us-ascii"` (RFC 2045's default,
/// which Dovecot states).
fn write_params(out: &mut Vec<u8>, params: &[(String, String)], text: bool) {
    let add_charset = text
        && !params
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("charset"));
    if params.is_empty() && !add_charset {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    let mut first = true;
    let defaults: &[(&str, &str)] = if add_charset {
        &[("charset", "us-ascii")]
    } else {
        &[]
    };
    let all = params
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .chain(defaults.iter().copied());
    for (name, value) in all {
        if !first {
            out.push(b' ');
        }
        first = false;
        encode::string(out, name.as_bytes());
        out.push(b' ');
        encode::string(out, value.as_bytes());
    }
    out.push(b')');
}

/// write_extension - ` disposition language location`, the extension
/// data both body types end with.
fn write_extension(out: &mut Vec<u8>, info: &PartInfo) {
    out.push(b' ');
    match &info.disposition {
        None => out.extend_from_slice(b"NIL"),
        Some(disposition) => {
            out.push(b'(');
            encode::string(out, disposition.kind.as_bytes());
            out.push(b' ');
            write_params(out, &disposition.params, false);
            out.push(b')');
        }
    }
    out.push(b' ');
    if info.language.is_empty() {
        out.extend_from_slice(b"NIL");
    } else {
        out.push(b'(');
        for (i, tag) in info.language.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            encode::string(out, tag.as_bytes());
        }
        out.push(b')');
    }
    out.push(b' ');
    encode::nstring(out, info.location.as_deref());
}
