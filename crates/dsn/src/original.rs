//! original - reading the returned message line by line, within a byte limit.
//!
//! The original is never held in memory whole. Its header section is
//! read first, into a buffer of at most `min(limit, MAX_HEADER_SECTION)`
//! bytes, because the report must say (in its `Content-Type` and its
//! text) whether the headers fit before any of them is written. The body
//! is then copied in pieces of at most [`CHUNK`] bytes.
//!
//! Line endings become CRLF whatever the spool stored. A line is copied
//! whole or not at all, so the cut falls between lines; the exception is
//! a line longer than [`CHUNK`] (more than eight times what RFC 5322
//! allows), which is copied in pieces and may be cut inside.

use std::io::{self, BufRead, BufReader, Read, Write};

/// Largest header section buffered, whatever the limit.
const MAX_HEADER_SECTION: u64 = 1 << 20;
/// Largest piece of a body line held at once.
const CHUNK: usize = 8192;

/// How a call to [`Lines::read`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Line {
    /// A line (or the rest of a long one) up to and including its LF, or
    /// the last bytes of a message that does not end in LF.
    Whole,
    /// The cap was reached before the end of the line.
    Long,
    /// The message has no more bytes.
    End,
}

/// The original message as a source of lines.
pub(crate) struct Lines<'r> {
    inner: BufReader<&'r mut dyn Read>,
}

impl<'r> Lines<'r> {
    /// new - read lines from `original`.
    pub(crate) fn new(original: &'r mut dyn Read) -> Self {
        Self {
            inner: BufReader::new(original),
        }
    }

    /// read - the next line into `buf` as raw bytes, at most `cap` of them.
    ///
    /// When the cap cuts a line just after a CR, the CR is left unread: it
    /// may be the first half of the line's CRLF, and a piece must not end
    /// in half a line ending.
    pub(crate) fn read(&mut self, buf: &mut Vec<u8>, cap: usize) -> io::Result<Line> {
        buf.clear();
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(avail) => avail,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            };
            if avail.is_empty() {
                return Ok(if buf.is_empty() {
                    Line::End
                } else {
                    Line::Whole
                });
            }
            let room = cap.saturating_sub(buf.len());
            let window = avail.get(..room).unwrap_or(avail);
            if let Some(lf) = window.iter().position(|&b| b == b'\n') {
                let used = lf.saturating_add(1);
                buf.extend_from_slice(window.get(..used).unwrap_or(window));
                self.inner.consume(used);
                return Ok(Line::Whole);
            }
            let full = window.len() == room;
            let mut take = window.len();
            if full && take > 1 && window.last() == Some(&b'\r') {
                take -= 1;
            }
            buf.extend_from_slice(window.get(..take).unwrap_or(window));
            self.inner.consume(take);
            if full {
                return Ok(Line::Long);
            }
        }
    }
}

/// content - a line without its line ending (LF or CRLF).
fn content(raw: &[u8]) -> &[u8] {
    match raw.strip_suffix(b"\n") {
        Some(line) => line.strip_suffix(b"\r").unwrap_or(line),
        None => raw,
    }
}

/// is_delimiter - whether a line would be taken for the report's own
/// MIME boundary: `--` and the boundary at the start of the line.
fn is_delimiter(line: &[u8], boundary: &str) -> bool {
    line.strip_prefix(b"--")
        .is_some_and(|rest| rest.starts_with(boundary.as_bytes()))
}

/// The original's header section, read before the report is written.
#[derive(Debug, Default)]
pub(crate) struct Header {
    /// Header lines, each ending in CRLF, without the empty line after them.
    pub(crate) bytes: Vec<u8>,
    /// Whether the whole section fit in the limit.
    pub(crate) complete: bool,
    /// Whether an empty line ended the section, so a body may follow.
    pub(crate) separated: bool,
}

impl Header {
    /// message_id - the original's `Message-ID`, when present and well formed.
    pub(crate) fn message_id(&self) -> Option<String> {
        let mut value: Option<Vec<u8>> = None;
        for line in self.bytes.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let folded = line.first().is_some_and(|b| *b == b' ' || *b == b'\t');
            match value.as_mut() {
                Some(v) if folded => v.extend_from_slice(line),
                Some(_) => break,
                None => {
                    let name = line.get(..11);
                    if name.is_some_and(|n| n.eq_ignore_ascii_case(b"message-id:")) {
                        value = Some(line.get(11..).unwrap_or_default().to_vec());
                    }
                }
            }
        }
        let value = String::from_utf8(value?).ok()?;
        let id = value.trim_matches([' ', '\t']);
        let inner = id.strip_prefix('<')?.strip_suffix('>')?;
        let ok = !inner.is_empty()
            && id.len() <= 250
            && inner
                .chars()
                .all(|c| matches!(c, '!'..='~') && c != '<' && c != '>');
        ok.then(|| id.to_owned())
    }

    /// len - bytes of the header lines as they will be written.
    pub(crate) fn len(&self) -> u64 {
        u64::try_from(self.bytes.len()).unwrap_or(u64::MAX)
    }
}

/// read_header - the header section of the original, as much as fits in `limit`.
///
/// Reading stops at the empty line after the headers, at the end of the
/// message, before the first line that would go over the limit, or before
/// a line that looks like the report's own MIME delimiter.
pub(crate) fn read_header(lines: &mut Lines<'_>, limit: u64, boundary: &str) -> io::Result<Header> {
    let budget = limit.min(MAX_HEADER_SECTION);
    let mut header = Header::default();
    let mut buf = Vec::new();
    loop {
        let room = budget.saturating_sub(header.len());
        // Two more than the room, so that the empty line ending the
        // section is seen even when the headers fill the budget exactly.
        let cap = usize::try_from(room.saturating_add(2)).unwrap_or(usize::MAX);
        match lines.read(&mut buf, cap)? {
            Line::End => {
                header.complete = true;
                break;
            }
            Line::Long => break,
            Line::Whole => {
                let line = content(&buf);
                if line.is_empty() {
                    header.complete = true;
                    header.separated = true;
                    break;
                }
                let cost = u64::try_from(line.len())
                    .unwrap_or(u64::MAX)
                    .saturating_add(2);
                if is_delimiter(line, boundary) || cost > room {
                    break;
                }
                header.bytes.extend_from_slice(line);
                header.bytes.extend_from_slice(b"\r\n");
            }
        }
    }
    Ok(header)
}

/// copy_body - the rest of the original, whole lines only, at most `remaining` bytes.
///
/// Stops early, as if the limit were reached, before a line that looks
/// like the report's own MIME delimiter: such a line would end the
/// returned part and let the original forge report parts. Whatever is
/// written ends in CRLF.
pub(crate) fn copy_body(
    lines: &mut Lines<'_>,
    mut remaining: u64,
    boundary: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    let chunk = u64::try_from(CHUNK).unwrap_or(u64::MAX);
    let mut buf = Vec::new();
    // Whether the next byte read starts a line; false inside a long line.
    let mut at_start = true;
    loop {
        // Below this, a line must fit whole, with its CRLF; above it there
        // is room for a full chunk and the CRLF that ends its line.
        let bounded = remaining < chunk.saturating_add(2);
        let cap = if bounded {
            usize::try_from(remaining).unwrap_or(CHUNK)
        } else {
            CHUNK
        };
        match lines.read(&mut buf, cap)? {
            Line::End => break,
            Line::Whole => {
                let line = content(&buf);
                let cost = u64::try_from(line.len())
                    .unwrap_or(u64::MAX)
                    .saturating_add(2);
                if (at_start && is_delimiter(line, boundary)) || cost > remaining {
                    break;
                }
                out.write_all(line)?;
                out.write_all(b"\r\n")?;
                remaining -= cost;
                at_start = true;
            }
            Line::Long => {
                if bounded || (at_start && is_delimiter(&buf, boundary)) {
                    break;
                }
                // XXX: a line this long cannot be cut whole without holding
                // all of it; it is copied in pieces and may be cut inside.
                out.write_all(&buf)?;
                remaining = remaining.saturating_sub(u64::try_from(buf.len()).unwrap_or(u64::MAX));
                at_start = false;
            }
        }
    }
    if !at_start {
        out.write_all(b"\r\n")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &str = "=_BOUNDARY";

    fn header_of(message: &[u8], limit: u64) -> Header {
        let mut src = message;
        let mut lines = Lines::new(&mut src);
        read_header(&mut lines, limit, B).unwrap()
    }

    fn body_of(message: &[u8], remaining: u64) -> Vec<u8> {
        let mut src = message;
        let mut lines = Lines::new(&mut src);
        let mut out = Vec::new();
        copy_body(&mut lines, remaining, B, &mut out).unwrap();
        out
    }

    #[test]
    fn lines_split_on_lf_and_respect_the_cap() {
        let mut src: &[u8] = b"ab\r\ncdef\nxyz";
        let mut lines = Lines::new(&mut src);
        let mut buf = Vec::new();
        assert_eq!(lines.read(&mut buf, 100).unwrap(), Line::Whole);
        assert_eq!(buf, b"ab\r\n");
        assert_eq!(lines.read(&mut buf, 2).unwrap(), Line::Long);
        assert_eq!(buf, b"cd");
        assert_eq!(lines.read(&mut buf, 100).unwrap(), Line::Whole);
        assert_eq!(buf, b"ef\n");
        assert_eq!(lines.read(&mut buf, 100).unwrap(), Line::Whole);
        assert_eq!(buf, b"xyz");
        assert_eq!(lines.read(&mut buf, 100).unwrap(), Line::End);
    }

    #[test]
    fn a_cap_never_splits_crlf() {
        let mut src: &[u8] = b"abc\r\n";
        let mut lines = Lines::new(&mut src);
        let mut buf = Vec::new();
        assert_eq!(lines.read(&mut buf, 4).unwrap(), Line::Long);
        assert_eq!(buf, b"abc");
        assert_eq!(lines.read(&mut buf, 4).unwrap(), Line::Whole);
        assert_eq!(buf, b"\r\n");
    }

    #[test]
    fn header_section_cases() {
        let msg = b"A: 1\nB: 2\n\nbody\n";
        // (name, message, limit, header bytes, complete, separated)
        type Case = (&'static str, &'static [u8], u64, &'static [u8], bool, bool);
        let cases: [Case; 6] = [
            ("whole", msg, 1000, b"A: 1\r\nB: 2\r\n", true, true),
            ("exactly fits", msg, 12, b"A: 1\r\nB: 2\r\n", true, true),
            ("one short", msg, 11, b"A: 1\r\n", false, false),
            (
                "no body",
                b"A: 1\r\nB: 2",
                1000,
                b"A: 1\r\nB: 2\r\n",
                true,
                false,
            ),
            ("empty", b"", 1000, b"", true, false),
            (
                "delimiter",
                b"A: 1\n--=_BOUNDARY\nB: 2\n",
                1000,
                b"A: 1\r\n",
                false,
                false,
            ),
        ];
        for (name, message, limit, bytes, complete, separated) in cases {
            let h = header_of(message, limit);
            assert_eq!(h.bytes, bytes, "{name}");
            assert_eq!((h.complete, h.separated), (complete, separated), "{name}");
        }
    }

    #[test]
    fn body_cut_between_lines() {
        let body = b"one\ntwo\nthree\n";
        assert_eq!(body_of(body, 1000), b"one\r\ntwo\r\nthree\r\n");
        assert_eq!(body_of(body, 17), b"one\r\ntwo\r\nthree\r\n");
        assert_eq!(body_of(body, 16), b"one\r\ntwo\r\n");
        assert_eq!(body_of(body, 10), b"one\r\ntwo\r\n");
        assert_eq!(body_of(body, 9), b"one\r\n");
        assert_eq!(body_of(body, 0), b"");
    }

    #[test]
    fn body_stops_at_a_forged_delimiter() {
        let body = b"one\n--=_BOUNDARY--\nthree\n";
        assert_eq!(body_of(body, 1000), b"one\r\n");
        // Only at the start of a line.
        let body = b"one --=_BOUNDARY\n";
        assert_eq!(body_of(body, 1000), b"one --=_BOUNDARY\r\n");
    }

    #[test]
    fn long_lines_are_copied_in_pieces() {
        let mut body = vec![b'x'; CHUNK * 2 + 5];
        body.extend_from_slice(b"\r\nend\r\n");
        let out = body_of(&body, u64::MAX);
        assert_eq!(out, body);
        // Cut inside the long line, still ending in CRLF, never over the limit.
        let out = body_of(&body, 10_000);
        assert_eq!(out.len(), CHUNK + 2);
        assert!(out.ends_with(b"x\r\n"));
    }

    #[test]
    fn message_id_is_found_and_checked() {
        let cases: [(&str, &[u8], Option<&str>); 5] = [
            ("simple", b"Message-ID: <a@b>\r\n", Some("<a@b>")),
            (
                "folded",
                b"X: y\r\nMessage-Id:\r\n <a.b@c>\r\nZ: 1\r\n",
                Some("<a.b@c>"),
            ),
            ("absent", b"Subject: hi\r\n", None),
            ("comment", b"Message-ID: <a@b> (x)\r\n", None),
            ("injection", b"Message-ID: <a@b>\r\n\tBcc: x\r\n", None),
        ];
        for (name, bytes, want) in cases {
            let h = Header {
                bytes: bytes.to_vec(),
                ..Header::default()
            };
            assert_eq!(h.message_id().as_deref(), want, "{name}");
        }
    }
}
