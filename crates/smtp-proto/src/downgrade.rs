//! downgrade - 8-bit MIME to 7-bit, for servers without 8BITMIME (RFC 6152).
//!
//! A message received with `BODY=8BITMIME` may hold octets >= 0x80. When the next hop
//! does not offer 8BITMIME, the outbound client converts it first, as Postfix's `smtp`
//! does: every MIME leaf whose body holds 8-bit octets is re-encoded as
//! quoted-printable (RFC 2045 section 6.7), and everything else is left alone.
//!
//! # How it works
//!
//! [`to_7bit`] walks the MIME tree of the whole message held in memory:
//!
//! - An entity (the message, a body part, an embedded message) is a header section, an
//!   empty line, and a body. The header section ends at the first empty line, or at the
//!   first line that is neither a header field (`name:` with a printable US-ASCII name)
//!   nor a folded continuation; in that second case the body starts at that line and a
//!   separating empty line is written before it. An entity without 8-bit octets
//!   anywhere is copied byte for byte, whatever it is.
//! - The type comes from the first `Content-Type` field (read whether or not
//!   `MIME-Version` is present); an absent or unparsable one means `text/plain`, or
//!   `message/rfc822` inside `multipart/digest` (RFC 2046 section 5.1.5).
//! - `multipart/*` bodies are split at `--boundary` lines (trailing spaces and tabs
//!   allowed) up to the `--boundary--` line; the line break before a delimiter line
//!   belongs to the delimiter (RFC 2046 section 5.1.1), so a part ends before it.
//!   Delimiter lines, preamble and epilogue are copied as they are; each part is
//!   converted in turn. A part of a nested multipart is found inside its parent's part,
//!   so nested boundaries nest. Without a close delimiter the last part runs to the
//!   end of the body.
//! - `message/rfc822` bodies are converted as messages of their own.
//! - A leaf whose body has 8-bit octets and whose `Content-Transfer-Encoding` is
//!   absent, `7bit` or `8bit` gets a quoted-printable body and a
//!   `Content-Transfer-Encoding: quoted-printable` field, which replaces the first
//!   existing one (later duplicates are dropped) or is added at the end of the header
//!   section. A composite entity labelled `8bit` is relabelled `7bit`, since it no
//!   longer holds 8-bit data. When a message's (top level or embedded) header section
//!   is rewritten this way and has no `MIME-Version` field, `MIME-Version: 1.0` is
//!   added.
//!
//! The quoted-printable encoder keeps the body's line structure: each line break of
//! the body (CRLF, or a bare LF) becomes a CRLF hard line break, and the body's last
//! line gets a line break only if it had one. Octets other than printable US-ASCII,
//! space and tab are written `=XX` (upper-case hex), as are `=` and a space or tab
//! that ends a line (or the body). Soft line breaks (`=` CRLF) keep each encoded line
//! at most 76 characters.
//!
//! The header sections and empty lines of converted entities and the encoded bodies are
//! written with CRLF line ends. Everything else (entities without 8-bit octets,
//! preambles, epilogues, delimiter lines and the line breaks before them) is copied
//! byte for byte, so a bare LF there stays a bare LF. Copied lines keep their length
//! too: the output has no line longer than 998 octets if the input has none.
//!
//! # What cannot be converted
//!
//! 8-bit octets outside a leaf body (in a header section, a preamble or an epilogue),
//! `message/global` content, 8-bit `message/partial` or `message/external-body`
//! content, 8-bit data labelled `binary`, `base64`, `quoted-printable` or an unknown
//! encoding, a multipart without a boundary, and nesting deeper than [`MAX_DEPTH`] are
//! [`DowngradeError`]s. The caller then returns the message to its sender (RFC 6152
//! section 3) with [`DowngradeError::status`], `5.6.3` "conversion required but not
//! supported" (RFC 3463).
//!
//! # Security
//!
//! The message is untrusted. Parsing never panics, recursion is bounded by
//! [`MAX_DEPTH`], and the work is linear in the message size per nesting level. The
//! output is at most a little over three times the input size plus a few header lines
//! per part.

use crate::reply::{EnhancedStatus, StatusClass};

/// Deepest nesting of multiparts and embedded messages that is converted; the message
/// itself is level 0.
pub const MAX_DEPTH: usize = 50;

/// Longest quoted-printable line, soft line break included (RFC 2045 section 6.7).
const QP_LINE: usize = 76;

/// Why a message cannot be converted to 7-bit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DowngradeError {
    /// A header section (of the message, a part, or an embedded message) holds 8-bit
    /// octets; only SMTPUTF8 could carry them.
    #[error("8-bit octets in a header section")]
    EightBitHeader,
    /// A multipart preamble (the text before the first delimiter) holds 8-bit octets;
    /// it has no header to declare an encoding.
    #[error("8-bit octets in a multipart preamble")]
    EightBitPreamble,
    /// A multipart epilogue (the text after the close delimiter) holds 8-bit octets.
    #[error("8-bit octets in a multipart epilogue")]
    EightBitEpilogue,
    /// 8-bit content labelled `Content-Transfer-Encoding: binary`, which may hold
    /// anything (bare CR, NUL, long lines) and is not converted.
    #[error("8-bit content with Content-Transfer-Encoding binary")]
    Binary,
    /// 8-bit octets in content already labelled `base64` or `quoted-printable`: the
    /// message is malformed.
    #[error("8-bit octets in content labelled Content-Transfer-Encoding {0}")]
    EncodedWith8bit(&'static str),
    /// 8-bit content with an encoding this module does not know.
    #[error("8-bit content with unknown Content-Transfer-Encoding {0:?}")]
    UnknownEncoding(String),
    /// `message/global` (RFC 6532) with 8-bit content: it is meant for SMTPUTF8 and is
    /// not converted.
    #[error("8-bit message/global content")]
    MessageGlobal,
    /// 8-bit octets in a `message/partial` or `message/external-body` entity, which
    /// must be 7-bit and may not be encoded (RFC 2046 section 5.2).
    #[error("8-bit octets in message/{0}, which must be 7-bit")]
    SevenBitOnly(String),
    /// A `multipart` entity with 8-bit content but no usable `boundary` parameter.
    #[error("multipart entity without a boundary parameter")]
    MissingBoundary,
    /// Multiparts and embedded messages nested deeper than [`MAX_DEPTH`].
    #[error("MIME nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

impl DowngradeError {
    /// The status of the bounce: `5.6.3` (conversion required but not supported).
    #[must_use]
    pub const fn status(&self) -> EnhancedStatus {
        EnhancedStatus::known(StatusClass::Permanent, 6, 3)
    }
}

/// Whether the message contains any byte >= 0x80 (the only case a downgrade is needed).
#[must_use]
pub fn has_8bit(message: &[u8]) -> bool {
    !message.is_ascii()
}

/// Rewrites every MIME leaf part whose body has 8-bit bytes as quoted-printable.
///
/// `message` is the whole message as stored (header section, empty line, body), with
/// CRLF line ends; bare LFs are accepted as line ends. A message without 8-bit octets
/// is returned unchanged. See the [module documentation](self) for what is rewritten.
///
/// # Errors
///
/// [`DowngradeError`] when part of the message can only travel as 8-bit data.
pub fn to_7bit(message: &[u8]) -> Result<Vec<u8>, DowngradeError> {
    if !has_8bit(message) {
        return Ok(message.to_vec());
    }
    let mut out = Vec::with_capacity(message.len().saturating_add(message.len() / 2));
    convert(message, Role::Message, 0, &mut out)?;
    Ok(out)
}

/// What an entity is to its parent: it decides the default type and whether it is a
/// message (which should carry `MIME-Version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The message itself or an embedded `message/rfc822`.
    Message,
    /// A body part of a multipart other than `multipart/digest`.
    Part,
    /// A body part of a `multipart/digest`: `message/rfc822` by default.
    DigestPart,
}

/// convert - appends the 7-bit form of one entity to `out`.
fn convert(
    bytes: &[u8],
    role: Role,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), DowngradeError> {
    if !has_8bit(bytes) {
        out.extend_from_slice(bytes);
        return Ok(());
    }
    if depth > MAX_DEPTH {
        return Err(DowngradeError::TooDeep);
    }
    let entity = Entity::parse(bytes);
    if has_8bit(entity.header) {
        return Err(DowngradeError::EightBitHeader);
    }
    let is_message = role == Role::Message;
    match entity.media(role) {
        Media::Multipart { boundary: None, .. } => Err(DowngradeError::MissingBoundary),
        Media::Multipart {
            boundary: Some(boundary),
            digest,
        } => {
            let label = entity.encoding()?.composite_label();
            entity.write_head(label, is_message, out);
            let role = if digest { Role::DigestPart } else { Role::Part };
            convert_multipart(entity.body, &boundary, role, depth, out)
        }
        Media::Rfc822 => {
            let label = entity.encoding()?.composite_label();
            entity.write_head(label, is_message, out);
            convert(entity.body, Role::Message, depth.saturating_add(1), out)
        }
        Media::Global => Err(DowngradeError::MessageGlobal),
        Media::SevenBitOnly(subtype) => Err(DowngradeError::SevenBitOnly(subtype)),
        Media::Leaf => {
            // The header section and the empty line are 7-bit, so the body is not.
            entity.encoding()?;
            entity.write_head(Some(b"quoted-printable"), is_message, out);
            encode_quoted_printable(entity.body, out);
            Ok(())
        }
    }
}

/// convert_multipart - appends the 7-bit form of a multipart body to `out`.
fn convert_multipart(
    body: &[u8],
    boundary: &[u8],
    role: Role,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), DowngradeError> {
    let part_depth = depth.saturating_add(1);
    // End of the previous delimiter line (terminator included), once one was seen.
    let mut previous: Option<usize> = None;
    for line in Lines::new(body) {
        let Some(close) = delimiter_kind(line.content, boundary) else {
            continue;
        };
        // The line break before the delimiter line belongs to the delimiter, unless it
        // is the previous delimiter line's own terminator.
        let break_len = if line.start >= 2 && body.get(line.start - 2) == Some(&b'\r') {
            2
        } else {
            usize::from(line.start >= 1)
        };
        let floor = previous.unwrap_or(0);
        let break_start = line.start.saturating_sub(break_len).max(floor);
        let before = body.get(floor..break_start).unwrap_or_default();
        match previous {
            None if has_8bit(before) => return Err(DowngradeError::EightBitPreamble),
            None => out.extend_from_slice(before),
            Some(_) => convert(before, role, part_depth, out)?,
        }
        out.extend_from_slice(body.get(break_start..line.end).unwrap_or_default());
        previous = Some(line.end);
        if close {
            let epilogue = body.get(line.end..).unwrap_or_default();
            if has_8bit(epilogue) {
                return Err(DowngradeError::EightBitEpilogue);
            }
            out.extend_from_slice(epilogue);
            return Ok(());
        }
    }
    match previous {
        // No delimiter at all: the whole body is preamble.
        None if has_8bit(body) => Err(DowngradeError::EightBitPreamble),
        None => {
            out.extend_from_slice(body);
            Ok(())
        }
        // XXX: no close delimiter; the last part runs to the end, as most readers do.
        Some(start) => convert(body.get(start..).unwrap_or_default(), role, part_depth, out),
    }
}

/// delimiter_kind - whether a line is a delimiter line for `boundary`: `Some(true)` for
/// the close delimiter, `Some(false)` for a part delimiter.
fn delimiter_kind(content: &[u8], boundary: &[u8]) -> Option<bool> {
    let rest = content.strip_prefix(b"--")?.strip_prefix(boundary)?;
    let (close, padding) = match rest.strip_prefix(b"--") {
        Some(padding) => (true, padding),
        None => (false, rest),
    };
    padding
        .iter()
        .all(|&b| b == b' ' || b == b'\t')
        .then_some(close)
}

/// encode_quoted_printable - appends `body` encoded as quoted-printable to `out`.
fn encode_quoted_printable(body: &[u8], out: &mut Vec<u8>) {
    for line in Lines::new(body) {
        encode_quoted_printable_line(line.content, out);
        if line.terminated {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// encode_quoted_printable_line - appends one body line (without its line break)
/// encoded as quoted-printable, with soft line breaks as needed.
fn encode_quoted_printable_line(text: &[u8], out: &mut Vec<u8>) {
    let mut column = 0;
    let mut octets = text.iter().peekable();
    while let Some(&b) = octets.next() {
        let is_last = octets.peek().is_none();
        let literal = match b {
            // Trailing white space may be stripped in transit, so it is encoded.
            b' ' | b'\t' => !is_last,
            b'=' => false,
            b'!'..=b'~' => true,
            _ => false,
        };
        let width = if literal { 1 } else { 3 };
        // Every line but the last of a soft-broken run needs room for the final `=`.
        let limit = if is_last { QP_LINE } else { QP_LINE - 1 };
        if column + width > limit {
            out.extend_from_slice(b"=\r\n");
            column = 0;
        }
        if literal {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'=', hex_digit(b >> 4), hex_digit(b)]);
        }
        column += width;
    }
}

/// hex_digit - the upper-case hex digit of the low four bits of `nibble`.
fn hex_digit(nibble: u8) -> u8 {
    let n = nibble & 0x0f;
    if n < 10 { b'0' + n } else { b'A' + (n - 10) }
}

/// One line of a byte string.
#[derive(Debug, Clone, Copy)]
struct Line<'a> {
    /// Offset of the first octet.
    start: usize,
    /// Offset just after the line break (or the end of the input for a last line
    /// without one).
    end: usize,
    /// The text, without the LF and without one CR just before it.
    content: &'a [u8],
    /// Whether the line ends with a line break (LF, or CRLF).
    terminated: bool,
}

/// Iterator over the lines of a byte string; LF ends a line, whether or not CR precedes
/// it.
struct Lines<'a> {
    /// The whole input.
    bytes: &'a [u8],
    /// Where the next line starts.
    position: usize,
}

impl<'a> Lines<'a> {
    /// Lines of `bytes`, from the start.
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    fn next(&mut self) -> Option<Line<'a>> {
        let rest = self
            .bytes
            .get(self.position..)
            .filter(|rest| !rest.is_empty())?;
        let start = self.position;
        let (content, length, terminated) = match rest.iter().position(|&b| b == b'\n') {
            Some(lf) => {
                let text = rest.get(..lf).unwrap_or_default();
                (text.strip_suffix(b"\r").unwrap_or(text), lf + 1, true)
            }
            None => (rest, rest.len(), false),
        };
        self.position = start.saturating_add(length);
        Some(Line {
            start,
            end: self.position,
            content,
            terminated,
        })
    }
}

/// One header field, folded lines included.
#[derive(Debug, Clone, Copy)]
struct Field<'a> {
    /// The field name, without trailing white space.
    name: &'a [u8],
    /// Everything from the start of the name to the end of the last line break.
    raw: &'a [u8],
    /// Offset in `raw` just after the colon.
    value_start: usize,
}

impl<'a> Field<'a> {
    /// Whether the field has this (lower-case) name.
    fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }

    /// The value, folding line breaks included.
    fn value(&self) -> &'a [u8] {
        self.raw.get(self.value_start..).unwrap_or_default()
    }
}

/// An entity split into header section, separator and body.
#[derive(Debug)]
struct Entity<'a> {
    /// The header section: the fields, without the empty line.
    header: &'a [u8],
    /// The fields of `header`, in order.
    fields: Vec<Field<'a>>,
    /// The empty line (CRLF or LF), or nothing when the header section ran up to a
    /// non-header line or to the end.
    separator: &'a [u8],
    /// Everything after the separator.
    body: &'a [u8],
}

impl<'a> Entity<'a> {
    /// parse - splits an entity; see the module docs for where the header section ends.
    fn parse(bytes: &'a [u8]) -> Self {
        // (start, end, name length, value start) of each field, offsets into `bytes`.
        let mut spans: Vec<(usize, usize, &'a [u8], usize)> = Vec::new();
        let mut header_end = bytes.len();
        let mut separator_end = bytes.len();
        for line in Lines::new(bytes) {
            if line.content.is_empty() && line.terminated {
                header_end = line.start;
                separator_end = line.end;
                break;
            }
            let folded = matches!(line.content.first(), Some(b' ' | b'\t'));
            if folded && let Some(last) = spans.last_mut() {
                last.1 = line.end;
                continue;
            }
            if let Some((name, colon)) = field_name(line.content) {
                spans.push((line.start, line.end, name, colon + 1));
                continue;
            }
            header_end = line.start;
            separator_end = line.start;
            break;
        }
        let fields = spans
            .into_iter()
            .map(|(start, end, name, value_start)| Field {
                name,
                raw: bytes.get(start..end).unwrap_or_default(),
                value_start,
            })
            .collect();
        Self {
            header: bytes.get(..header_end).unwrap_or_default(),
            fields,
            separator: bytes.get(header_end..separator_end).unwrap_or_default(),
            body: bytes.get(separator_end..).unwrap_or_default(),
        }
    }

    /// The first field with this (lower-case) name.
    fn field(&self, name: &str) -> Option<&Field<'a>> {
        self.fields.iter().find(|field| field.is(name))
    }

    /// media - what kind of entity this is, from `Content-Type` or the default.
    fn media(&self, role: Role) -> Media {
        let parsed = self
            .field("content-type")
            .and_then(|field| parse_content_type(field.value()));
        let Some(content_type) = parsed else {
            return if role == Role::DigestPart {
                Media::Rfc822
            } else {
                Media::Leaf
            };
        };
        let ContentType {
            kind,
            subtype,
            boundary,
        } = content_type;
        match (kind.as_str(), subtype.as_str()) {
            ("multipart", subtype) => Media::Multipart {
                boundary: boundary.filter(|boundary| !boundary.is_empty()),
                digest: subtype == "digest",
            },
            ("message", "rfc822") => Media::Rfc822,
            ("message", "global") => Media::Global,
            ("message", "partial" | "external-body") => Media::SevenBitOnly(subtype),
            // Other message subtypes (delivery-status, ...) are opaque (RFC 2046
            // section 5.2.4), so they are leaves.
            _ => Media::Leaf,
        }
    }

    /// encoding - the `Content-Transfer-Encoding` of this entity, whose content is
    /// 8-bit; absent or empty means `7bit`.
    ///
    /// # Errors
    ///
    /// A label that 8-bit content cannot carry, or that cannot be changed.
    fn encoding(&self) -> Result<Encoding, DowngradeError> {
        let Some(field) = self.field("content-transfer-encoding") else {
            return Ok(Encoding::SevenBit);
        };
        let mut cursor = Cursor::new(field.value());
        cursor.skip_cfws();
        let Some(token) = cursor.token() else {
            return Ok(Encoding::SevenBit);
        };
        let token = token.to_ascii_lowercase();
        match token.as_slice() {
            b"7bit" => Ok(Encoding::SevenBit),
            b"8bit" => Ok(Encoding::EightBit),
            b"binary" => Err(DowngradeError::Binary),
            b"quoted-printable" => Err(DowngradeError::EncodedWith8bit("quoted-printable")),
            b"base64" => Err(DowngradeError::EncodedWith8bit("base64")),
            _ => {
                let shown = token.get(..64).unwrap_or(&token);
                Err(DowngradeError::UnknownEncoding(
                    String::from_utf8_lossy(shown).into_owned(),
                ))
            }
        }
    }

    /// write_head - appends the header section and the empty line, with CRLF line
    /// ends, the encoding label replaced by `label` (when given) and, in a message,
    /// `MIME-Version` added if a label is written and the field is missing.
    fn write_head(&self, label: Option<&[u8]>, is_message: bool, out: &mut Vec<u8>) {
        let mut labelled = false;
        let mut has_version = false;
        for field in &self.fields {
            if field.is("content-transfer-encoding")
                && let Some(label) = label
            {
                if !labelled {
                    write_field(b"Content-Transfer-Encoding", label, out);
                    labelled = true;
                }
                continue;
            }
            has_version |= field.is("mime-version");
            for line in Lines::new(field.raw) {
                out.extend_from_slice(line.content);
                // Only a header section that runs to the end of the entity lacks a
                // final line break; a field may follow it now.
                if line.terminated || label.is_some() {
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        if let Some(label) = label {
            if is_message && !has_version {
                write_field(b"MIME-Version", b"1.0", out);
            }
            if !labelled {
                write_field(b"Content-Transfer-Encoding", label, out);
            }
        }
        if !self.separator.is_empty() || label.is_some() || !self.body.is_empty() {
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// write_field - appends `name: value` CRLF.
fn write_field(name: &[u8], value: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// field_name - the name of a header field line and the offset of its colon, or `None`
/// if the line is not a header field (RFC 5322 section 2.2, plus the obsolete white
/// space before the colon).
fn field_name(line: &[u8]) -> Option<(&[u8], usize)> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = line.get(..colon)?.trim_ascii_end();
    let printable = name.iter().all(|b| (b'!'..=b'~').contains(b));
    (!name.is_empty() && printable).then_some((name, colon))
}

/// The kind of entity, as far as conversion cares.
#[derive(Debug, PartialEq, Eq)]
enum Media {
    /// `multipart/*`, with its boundary if it has a usable one.
    Multipart {
        /// The `boundary` parameter.
        boundary: Option<Vec<u8>>,
        /// Whether it is `multipart/digest`, whose parts default to `message/rfc822`.
        digest: bool,
    },
    /// `message/rfc822`: the body is a message.
    Rfc822,
    /// `message/global`: never converted.
    Global,
    /// `message/partial` or `message/external-body` (the subtype): 7-bit only.
    SevenBitOnly(String),
    /// Anything else: the body is encoded as a whole.
    Leaf,
}

/// A `Content-Transfer-Encoding` label that 8-bit content may carry before conversion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    /// `7bit`, or no label (wrong for 8-bit content, but the intent is clear).
    SevenBit,
    /// `8bit`.
    EightBit,
}

impl Encoding {
    /// composite_label - the new label of a multipart or message once its content is
    /// converted, if it changes.
    ///
    /// Such entities may only be labelled `7bit`, `8bit` or `binary` (RFC 2045 section
    /// 6.4); once their parts are converted, `8bit` is no longer true.
    fn composite_label(self) -> Option<&'static [u8]> {
        match self {
            Self::SevenBit => None,
            Self::EightBit => Some(b"7bit"),
        }
    }
}

/// The parts of a `Content-Type` value that conversion needs.
#[derive(Debug, PartialEq, Eq)]
struct ContentType {
    /// The top-level type, lower case.
    kind: String,
    /// The subtype, lower case.
    subtype: String,
    /// The `boundary` parameter, unquoted.
    boundary: Option<Vec<u8>>,
}

/// parse_content_type - `type "/" subtype *(";" parameter)` (RFC 2045 section 5.1),
/// with comments and folding allowed between tokens. `None` when type or subtype is
/// missing. Parameters are read up to the first malformed one; an unquoted value is
/// taken up to `;` or white space, since some senders leave special characters such
/// as `=` unquoted in boundaries.
fn parse_content_type(value: &[u8]) -> Option<ContentType> {
    let mut cursor = Cursor::new(value);
    cursor.skip_cfws();
    let kind = cursor.token()?;
    cursor.skip_cfws();
    if !cursor.eat(b'/') {
        return None;
    }
    cursor.skip_cfws();
    let subtype = cursor.token()?;
    let mut boundary = None;
    loop {
        cursor.skip_cfws();
        if !cursor.eat(b';') {
            break;
        }
        cursor.skip_cfws();
        let Some(attribute) = cursor.token() else {
            // `;` at the end, or garbage: no more parameters.
            break;
        };
        cursor.skip_cfws();
        if !cursor.eat(b'=') {
            break;
        }
        cursor.skip_cfws();
        let value = match cursor.quoted_string() {
            Some(value) => value,
            None => cursor.bare_value().to_vec(),
        };
        if boundary.is_none() && attribute.eq_ignore_ascii_case(b"boundary") {
            boundary = Some(value);
        }
    }
    Some(ContentType {
        kind: String::from_utf8_lossy(kind).to_ascii_lowercase(),
        subtype: String::from_utf8_lossy(subtype).to_ascii_lowercase(),
        boundary,
    })
}

/// A position in a structured header field value.
struct Cursor<'a> {
    /// What is left to read.
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `value`.
    fn new(value: &'a [u8]) -> Self {
        Self { rest: value }
    }

    /// Skips one octet.
    fn advance(&mut self) {
        self.rest = self.rest.get(1..).unwrap_or_default();
    }

    /// Consumes `b` if it is next.
    fn eat(&mut self, b: u8) -> bool {
        match self.rest.split_first() {
            Some((&first, rest)) if first == b => {
                self.rest = rest;
                true
            }
            _ => false,
        }
    }

    /// Skips white space, folding line breaks and (nested) comments. An unclosed
    /// comment runs to the end.
    fn skip_cfws(&mut self) {
        let mut depth = 0usize;
        while let Some(&b) = self.rest.first() {
            match b {
                b'(' => depth = depth.saturating_add(1),
                b')' if depth > 0 => depth -= 1,
                b'\\' if depth > 0 => self.advance(),
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ if depth > 0 => {}
                _ => return,
            }
            self.advance();
        }
    }

    /// A MIME token (RFC 2045 section 5.1): printable US-ASCII except tspecials.
    fn token(&mut self) -> Option<&'a [u8]> {
        let length = self
            .rest
            .iter()
            .position(|&b| !is_token_octet(b))
            .unwrap_or(self.rest.len());
        let (token, rest) = self.rest.split_at_checked(length)?;
        self.rest = rest;
        (!token.is_empty()).then_some(token)
    }

    /// A quoted string, unquoted, if one is next. An unclosed one runs to the end.
    fn quoted_string(&mut self) -> Option<Vec<u8>> {
        if !self.eat(b'"') {
            return None;
        }
        let mut value = Vec::new();
        while let Some((&b, rest)) = self.rest.split_first() {
            self.rest = rest;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some((&quoted, rest)) = self.rest.split_first() {
                        value.push(quoted);
                        self.rest = rest;
                    }
                }
                // Folding inside the string is removed.
                b'\r' | b'\n' => {}
                _ => value.push(b),
            }
        }
        Some(value)
    }

    /// An unquoted parameter value: everything up to `;`, white space or a line break.
    fn bare_value(&mut self) -> &'a [u8] {
        let length = self
            .rest
            .iter()
            .position(|&b| matches!(b, b';' | b' ' | b'\t' | b'\r' | b'\n'))
            .unwrap_or(self.rest.len());
        let (value, rest) = self
            .rest
            .split_at_checked(length)
            .unwrap_or((self.rest, b""));
        self.rest = rest;
        value
    }
}

/// is_token_octet - whether `b` may appear in a MIME token.
fn is_token_octet(b: u8) -> bool {
    (b'!'..=b'~').contains(&b) && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

#[cfg(test)]
mod tests;
