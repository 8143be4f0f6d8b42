//! line - splits the input stream into command lines.

use super::MAX_LINE;
use crate::Progress;

/// A command line too long to keep. It was consumed (and dropped) up to and including
/// its LF, so the session is still in step; answer [`Reply::line_too_long`].
///
/// [`Reply::line_too_long`]: crate::Reply::line_too_long
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line longer than {limit} octets")]
pub struct LineTooLong {
    /// The limit in force, including CRLF.
    pub limit: usize,
}

/// One line received in command mode.
#[derive(Clone, PartialEq, Eq)]
pub struct Line {
    /// The line without its CRLF (or LF).
    pub bytes: Vec<u8>,
    /// The line ended in a bare LF instead of CRLF. RFC 5321 forbids it; with
    /// `smtpd_forbid_bare_newline` the server refuses such a command.
    pub bare_lf: bool,
}

/// `Debug` shows only the length: a line may be an AUTH response.
impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Line")
            .field("len", &self.bytes.len())
            .field("bare_lf", &self.bare_lf)
            .finish()
    }
}

/// A byte-fed splitter of command lines, bounded in length.
///
/// It keeps only the unfinished line between calls (at most its limit). A line ends at
/// LF; a CR just before it is dropped. A line over the limit is skipped up to its LF and
/// reported as [`LineTooLong`]. Bytes after the returned line stay with the caller.
#[derive(Debug, Clone)]
pub struct LineReader {
    buf: Vec<u8>,
    limit: usize,
    overflow: bool,
}

impl Default for LineReader {
    fn default() -> Self {
        Self::new()
    }
}

impl LineReader {
    /// A reader with the largest limit any command needs ([`MAX_LINE`]);
    /// [`parse_command`](super::parse_command) then applies each verb's own limit.
    #[must_use]
    pub fn new() -> Self {
        Self::with_limit(MAX_LINE)
    }

    /// A reader with an explicit limit in octets, including CRLF (at least 2).
    #[must_use]
    pub fn with_limit(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            limit: limit.max(2),
            overflow: false,
        }
    }

    /// Whether part of a line has been received. After STARTTLS this must be false
    /// (and the caller's own buffer empty): plaintext sent after STARTTLS must never be
    /// read as if it came over TLS.
    #[must_use]
    pub fn is_partial(&self) -> bool {
        !self.buf.is_empty() || self.overflow
    }

    /// Forgets any partial line (after STARTTLS, or when the session ends).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.overflow = false;
    }

    /// Consumes `input` up to the end of the next line.
    pub fn read(&mut self, input: &[u8]) -> Progress<Result<Line, LineTooLong>> {
        let newline = input.iter().position(|&b| b == b'\n');
        let chunk = match newline {
            Some(at) => input.get(..at).unwrap_or_default(),
            None => input,
        };
        // Keep at most limit - 1 octets: the content plus its CR, without the LF.
        let room = self.limit.saturating_sub(1).saturating_sub(self.buf.len());
        if self.overflow || chunk.len() > room {
            self.overflow = true;
            self.buf.clear();
        } else {
            self.buf.extend_from_slice(chunk);
        }
        let Some(at) = newline else {
            return Progress::pending(input.len());
        };
        let consumed = at + 1;
        if self.overflow {
            self.clear();
            return Progress::done(consumed, Err(LineTooLong { limit: self.limit }));
        }
        let mut bytes = std::mem::take(&mut self.buf);
        let bare_lf = bytes.last() != Some(&b'\r');
        if !bare_lf {
            bytes.pop();
        }
        Progress::done(consumed, Ok(Line { bytes, bare_lf }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Lines = Vec<Result<Line, LineTooLong>>;

    fn read_all(reader: &mut LineReader, mut input: &[u8]) -> Lines {
        let mut lines = Vec::new();
        while !input.is_empty() {
            let progress = reader.read(input);
            input = &input[progress.consumed..];
            lines.extend(progress.output);
        }
        lines
    }

    fn ok(bytes: &[u8], bare_lf: bool) -> Result<Line, LineTooLong> {
        Ok(Line {
            bytes: bytes.to_vec(),
            bare_lf,
        })
    }

    #[test]
    fn splits_lines() {
        let cases: &[(&str, &[u8], Lines)] = &[
            ("one line", b"NOOP\r\n", vec![ok(b"NOOP", false)]),
            (
                "pipelined",
                b"MAIL\r\nRCPT\r\n",
                vec![ok(b"MAIL", false), ok(b"RCPT", false)],
            ),
            ("bare lf", b"NOOP\n", vec![ok(b"NOOP", true)]),
            ("empty line", b"\r\n", vec![ok(b"", false)]),
            ("cr inside kept", b"NO\rOP\r\n", vec![ok(b"NO\rOP", false)]),
            ("partial", b"NOOP", vec![]),
        ];
        for (name, input, want) in cases {
            let mut reader = LineReader::new();
            assert_eq!(&read_all(&mut reader, input), want, "{name}");
        }
    }

    #[test]
    fn stops_after_each_line() {
        let mut reader = LineReader::new();
        let progress = reader.read(b"DATA\r\nbody");
        assert_eq!(progress.consumed, 6);
        assert_eq!(progress.output, Some(ok(b"DATA", false)));
    }

    #[test]
    fn split_at_every_boundary() {
        let input = b"EHLO x\r\nMAIL FROM:<a@b>\r\n";
        for cut in 0..=input.len() {
            let mut reader = LineReader::new();
            let mut lines = read_all(&mut reader, &input[..cut]);
            lines.extend(read_all(&mut reader, &input[cut..]));
            assert_eq!(
                lines,
                vec![ok(b"EHLO x", false), ok(b"MAIL FROM:<a@b>", false)],
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn length_limit() {
        // limit 10: 8 octets of content + CRLF fit.
        let mut reader = LineReader::with_limit(10);
        assert_eq!(
            read_all(&mut reader, b"12345678\r\n"),
            vec![ok(b"12345678", false)]
        );
        assert_eq!(
            read_all(&mut reader, b"123456789\r\nNOOP\r\n"),
            vec![Err(LineTooLong { limit: 10 }), ok(b"NOOP", false)]
        );
        // An over-long line arriving in pieces is still dropped as a whole.
        let mut reader = LineReader::with_limit(10);
        assert!(read_all(&mut reader, b"1234567").is_empty());
        assert!(read_all(&mut reader, b"89abcdef").is_empty());
        assert!(reader.is_partial());
        assert_eq!(
            read_all(&mut reader, b"gh\r\nQUIT\r\n"),
            vec![Err(LineTooLong { limit: 10 }), ok(b"QUIT", false)]
        );
        assert!(!reader.is_partial());
    }

    #[test]
    fn debug_hides_content() {
        let line = Line {
            bytes: b"c2VjcmV0".to_vec(),
            bare_lf: false,
        };
        assert!(!format!("{line:?}").contains("c2VjcmV0"));
    }
}
