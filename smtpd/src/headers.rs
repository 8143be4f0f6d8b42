//! The message as it goes into the queue: our `Received:` header first, the
//! client's header section (completed with `Date:` and `Message-ID:` for submissions
//! that lack them), then the body, streamed.
//!
//! The header section is held until its end (the first empty line) or until
//! `header_size_limit`, because missing headers go at its end; the body is never held.

/// What was found in the header section.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Seen {
    /// A `Date:` header was present.
    pub date: bool,
    /// The `Message-ID:` header's value, if one was present.
    pub message_id: Option<String>,
}

/// Headers to add at the end of the header section when missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The `Date:` value to add when there is none (RFC 5322 date-time).
    pub date: String,
    /// The `Message-ID:` value to add when there is none (`<...>`).
    pub message_id: String,
}

/// Builds the queued message from the client's bytes.
#[derive(Debug)]
pub struct MessageBuilder {
    head: Vec<u8>,
    limit: usize,
    in_body: bool,
    complete: Option<Completion>,
    seen: Seen,
}

impl MessageBuilder {
    /// Starts a message: `received` is our complete `Received:` header (CRLF-ended),
    /// written to `out` now; `complete` says what to add when missing.
    pub fn new(
        received: &str,
        limit: usize,
        complete: Option<Completion>,
        out: &mut Vec<u8>,
    ) -> Self {
        out.extend_from_slice(received.as_bytes());
        MessageBuilder {
            head: Vec::new(),
            limit,
            in_body: false,
            complete,
            seen: Seen::default(),
        }
    }

    /// Takes more (un-stuffed, CRLF) message bytes; appends what can be written to `out`.
    pub fn push(&mut self, data: &[u8], out: &mut Vec<u8>) {
        if self.in_body {
            out.extend_from_slice(data);
            return;
        }
        self.head.extend_from_slice(data);
        if let Some(end) = header_end(&self.head) {
            self.finish_head(end, out);
        } else if self.head.len() > self.limit {
            // Too long to be all header: what we have is the header section.
            let end = self.head.len();
            self.finish_head(end, out);
        }
    }

    /// The message ended: writes whatever is still held and returns what was seen.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Seen {
        if !self.in_body {
            let end = self.head.len();
            self.finish_head(end, out);
        }
        self.seen
    }

    /// Writes the header section `head[..end]` (which ends with a line end, unless the
    /// message ended without one), the missing headers, then the rest as body.
    fn finish_head(&mut self, end: usize, out: &mut Vec<u8>) {
        let head = std::mem::take(&mut self.head);
        let (section, rest) = head.split_at(end.min(head.len()));
        self.seen = scan(section);
        out.extend_from_slice(section);
        if let Some(complete) = &self.complete {
            if !section.is_empty() && !section.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
            if !self.seen.date {
                out.extend_from_slice(format!("Date: {}\r\n", complete.date).as_bytes());
            }
            if self.seen.message_id.is_none() {
                out.extend_from_slice(
                    format!("Message-ID: {}\r\n", complete.message_id).as_bytes(),
                );
            }
        }
        out.extend_from_slice(rest);
        self.in_body = true;
    }
}

/// Where the header section ends: just after the line end before the first empty
/// line (so the empty line starts the rest), or 0 when the message starts with one.
fn header_end(head: &[u8]) -> Option<usize> {
    if head.starts_with(b"\r\n") || head.starts_with(b"\n") {
        return Some(0);
    }
    let crlf = head
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 2);
    let lf = head.windows(2).position(|w| w == b"\n\n").map(|i| i + 1);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Finds `Date:` and `Message-ID:` among the header lines of `section`.
fn scan(section: &[u8]) -> Seen {
    let mut seen = Seen::default();
    let text = String::from_utf8_lossy(section);
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.starts_with([' ', '\t']) {
            continue;
        }
        let mut value = value.trim().to_owned();
        while let Some(next) = lines.peek()
            && next.starts_with([' ', '\t'])
        {
            value.push(' ');
            value.push_str(next.trim());
            lines.next();
        }
        if name.eq_ignore_ascii_case("date") {
            seen.date = true;
        } else if name.eq_ignore_ascii_case("message-id") && seen.message_id.is_none() {
            seen.message_id = Some(value.trim().to_owned());
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECEIVED: &str = "Received: from x\r\n";

    fn completion() -> Completion {
        Completion {
            date: "Mon, 23 Nov 2026 18:00:00 +0000".into(),
            message_id: "<ID@mx.example>".into(),
        }
    }

    fn build(chunks: &[&[u8]], complete: Option<Completion>, limit: usize) -> (String, Seen) {
        let mut out = Vec::new();
        let mut builder = MessageBuilder::new(RECEIVED, limit, complete, &mut out);
        for chunk in chunks {
            builder.push(chunk, &mut out);
        }
        let seen = builder.finish(&mut out);
        (String::from_utf8(out).unwrap(), seen)
    }

    #[test]
    fn complete_message_passes_through() {
        let msg = b"Date: x\r\nMessage-ID: <a@b>\r\nSubject: hi\r\n\r\nbody\r\n";
        let (out, seen) = build(&[msg], Some(completion()), 1000);
        assert_eq!(out, format!("{RECEIVED}{}", String::from_utf8_lossy(msg)));
        assert!(seen.date);
        assert_eq!(seen.message_id.as_deref(), Some("<a@b>"));
    }

    #[test]
    fn missing_headers_are_added_at_the_end_of_the_header_section() {
        let (out, seen) = build(
            &[b"Subject: hi\r\n", b"\r\nbody\r\n"],
            Some(completion()),
            1000,
        );
        assert_eq!(
            out,
            "Received: from x\r\nSubject: hi\r\nDate: Mon, 23 Nov 2026 18:00:00 +0000\r\nMessage-ID: <ID@mx.example>\r\n\r\nbody\r\n"
        );
        assert_eq!(seen, Seen::default());
    }

    #[test]
    fn nothing_added_without_completion() {
        let (out, _) = build(&[b"Subject: hi\r\n\r\nbody\r\n"], None, 1000);
        assert_eq!(out, "Received: from x\r\nSubject: hi\r\n\r\nbody\r\n");
    }

    #[test]
    fn headers_only_message() {
        let (out, _) = build(&[b"Subject: hi\r\n"], Some(completion()), 1000);
        assert_eq!(
            out,
            "Received: from x\r\nSubject: hi\r\nDate: Mon, 23 Nov 2026 18:00:00 +0000\r\nMessage-ID: <ID@mx.example>\r\n"
        );
    }

    #[test]
    fn body_only_message() {
        let (out, _) = build(&[b"\r\nbody\r\n"], Some(completion()), 1000);
        assert_eq!(
            out,
            "Received: from x\r\nDate: Mon, 23 Nov 2026 18:00:00 +0000\r\nMessage-ID: <ID@mx.example>\r\n\r\nbody\r\n"
        );
    }

    #[test]
    fn folded_message_id_and_case() {
        let (_, seen) = build(&[b"message-ID:\r\n <a@b>\r\nDATE: x\r\n\r\n"], None, 1000);
        assert!(seen.date);
        assert_eq!(seen.message_id.as_deref(), Some("<a@b>"));
    }

    #[test]
    fn header_section_past_the_limit_is_cut() {
        let long = format!("X-Long: {}\r\n", "a".repeat(100));
        let (out, _) = build(
            &[long.as_bytes(), b"Date: later\r\n\r\nbody\r\n"],
            Some(completion()),
            50,
        );
        // The first chunk alone passes the limit: it is the header section.
        assert!(
            out.starts_with(&format!("{RECEIVED}{long}Date: Mon")),
            "{out}"
        );
        assert!(out.ends_with("Date: later\r\n\r\nbody\r\n"));
    }

    #[test]
    fn end_of_headers_split_across_chunks() {
        let msg: &[u8] = b"Subject: hi\r\n\r\nbody\r\n\r\nmore\r\n";
        for split in 0..msg.len() {
            let (a, b) = msg.split_at(split);
            let (out, _) = build(&[a, b], Some(completion()), 1000);
            assert_eq!(
                out,
                "Received: from x\r\nSubject: hi\r\nDate: Mon, 23 Nov 2026 18:00:00 +0000\r\nMessage-ID: <ID@mx.example>\r\n\r\nbody\r\n\r\nmore\r\n",
                "split at {split}"
            );
        }
    }
}
