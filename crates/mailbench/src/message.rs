//! message - generated test messages.
//!
//! A message is the headers From, To, Subject, Date and Message-ID, a blank line, then
//! body lines of 76 characters (78 with CRLF) up to the requested size; a last shorter
//! line makes the size exact when the headers fit (a size below the headers gives the
//! headers alone). Every 16th body line starts with a dot, so the DATA wire form
//! really exercises dot-stuffing on both ends.

/// Characters of a body line; the line number rotates the start, so lines differ.
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Body line length without CRLF.
pub const LINE: usize = 76;

/// What is the same for every message of a run.
#[derive(Debug, Clone)]
pub struct Template {
    /// The envelope sender, also the From: header.
    pub from: String,
    /// Total message size to aim for, in bytes.
    pub size: usize,
    /// The Date: header value (one per run: formatting it per message would only
    /// measure this tool).
    pub date: String,
    /// Makes Message-IDs unique across runs: pid and start time.
    pub run_id: String,
}

impl Template {
    /// A template dated now.
    pub fn new(from: &str, size: usize) -> Template {
        let now = chrono::Utc::now();
        Template {
            from: from.to_owned(),
            size,
            date: now.to_rfc2822(),
            run_id: format!("{}.{}", now.timestamp(), std::process::id()),
        }
    }

    /// Writes message number `number` for `to` into `out` (cleared first), with bare
    /// CRLF line ends and no dot-stuffing.
    pub fn generate(&self, number: u64, to: &[String], out: &mut Vec<u8>) {
        use std::io::Write as _;
        out.clear();
        // Writing to a Vec cannot fail.
        let _ = write!(out, "From: <{}>\r\nTo: ", self.from);
        for (i, rcpt) in to.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b",\r\n ");
            }
            let _ = write!(out, "<{rcpt}>");
        }
        let _ = write!(
            out,
            "\r\nSubject: postern-bench message {number}\r\nDate: {}\r\n\
             Message-ID: <{number}.{}@postern-bench.invalid>\r\n\r\n",
            self.date, self.run_id
        );
        let mut line = 0usize;
        while out.len() < self.size {
            let remaining = self.size - out.len();
            if remaining < 3 {
                break;
            }
            let length = LINE.min(remaining - 2);
            push_line(out, line, length);
            line += 1;
        }
    }
}

/// Appends body line number `line`, `length` characters then CRLF.
fn push_line(out: &mut Vec<u8>, line: usize, length: usize) {
    let offset = line % ALPHABET.len();
    let mut written = 0;
    if line % 16 == 15 && length > 0 {
        out.push(b'.');
        written += 1;
    }
    while written < length {
        let from = (offset + written) % ALPHABET.len();
        let run = ALPHABET.get(from..).unwrap_or_default();
        let take = run.len().min(length - written);
        out.extend_from_slice(run.get(..take).unwrap_or_default());
        written += take;
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(size: usize, to: &[&str]) -> Vec<u8> {
        let template = Template::new("bench@example.net", size);
        let to: Vec<String> = to.iter().map(|s| (*s).to_owned()).collect();
        let mut out = Vec::new();
        template.generate(7, &to, &mut out);
        out
    }

    #[test]
    fn size_is_close_and_ends_with_crlf() {
        for size in [400, 1000, 2048, 2049, 2050, 10_000, 100_000, 1_048_576] {
            let out = message(size, &["user@example.test"]);
            assert!(out.len().abs_diff(size) <= 80, "{size}: got {}", out.len());
            assert!(out.ends_with(b"\r\n"), "{size}");
        }
    }

    #[test]
    fn tiny_size_gives_headers() {
        let out = message(10, &["user@example.test"]);
        assert!(out.ends_with(b"\r\n\r\n"));
        assert!(out.starts_with(b"From: <bench@example.net>\r\n"));
    }

    #[test]
    fn headers_and_lines() {
        let out = message(4096, &["a@example.test", "b@example.test"]);
        let text = String::from_utf8(out).unwrap();
        let (headers, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(headers.contains("To: <a@example.test>,\r\n <b@example.test>"));
        assert!(headers.contains("Subject: postern-bench message 7"));
        assert!(headers.contains("\r\nDate: "));
        assert!(headers.contains("\r\nMessage-ID: <7."));
        let lines: Vec<&str> = body.split_terminator("\r\n").collect();
        assert!(lines.len() > 40);
        for line in &lines[..lines.len() - 1] {
            assert_eq!(line.len(), LINE, "{line:?}");
        }
        assert!(lines[15].starts_with('.'));
        assert!(!lines[14].starts_with('.'));
        assert!(!body.contains('\n') || body.matches('\n').count() == body.matches("\r\n").count());
    }

    #[test]
    fn dot_stuffed_wire_form_unstuffs_back() {
        let out = message(4096, &["user@example.test"]);
        let mut wire = Vec::new();
        let mut stuffer = smtp_proto::Stuffer::new();
        stuffer.push(&out, &mut wire);
        stuffer.finish(&mut wire);
        assert!(wire.len() > out.len());
        assert!(wire.ends_with(b"\r\n.\r\n"));
        let mut reader = smtp_proto::DataReader::new(smtp_proto::DataOptions::default());
        let mut back = Vec::new();
        let progress = reader.feed(&wire, &mut back);
        assert_eq!(progress.consumed, wire.len());
        assert_eq!(back, out);
    }
}
