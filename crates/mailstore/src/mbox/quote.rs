//! quote - mboxrd `From ` quoting while streaming.
//!
//! In an mbox, a line starting with `From ` begins a new message, so such
//! lines in a message body are quoted with `>`. mboxrd makes this
//! reversible: every line matching `>*From ` gets one more `>`, and a
//! reader removes one `>` from every line matching `>+From `.
//!
//! Adding the `>` at the start of the run of `>`s is the same as adding it
//! at its end, so the `>`s pass through at once and only up to four bytes
//! (`From`) are ever held back.

const FROM: &[u8] = b"From ";

/// FromQuoter - a streaming mboxrd quoter over LF-terminated lines.
#[derive(Debug)]
pub(crate) struct FromQuoter {
    /// At the start of a line or inside its leading `>*`, where `From `
    /// may still begin.
    at_line_start: bool,
    /// How many bytes of `From ` have been seen (and held back).
    matched: usize,
}

impl Default for FromQuoter {
    fn default() -> Self {
        FromQuoter {
            at_line_start: true,
            matched: 0,
        }
    }
}

impl FromQuoter {
    /// push - quote `input`, appending the result to `out`.
    pub(crate) fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len());
        for &b in input {
            if self.at_line_start {
                if self.matched == 0 && b == b'>' {
                    out.push(b);
                    continue;
                }
                if FROM.get(self.matched) == Some(&b) {
                    self.matched += 1;
                    if self.matched == FROM.len() {
                        out.push(b'>');
                        out.extend_from_slice(FROM);
                        self.matched = 0;
                        self.at_line_start = false;
                    }
                    continue;
                }
                self.flush(out);
                self.at_line_start = false;
            }
            out.push(b);
            if b == b'\n' {
                self.at_line_start = true;
            }
        }
    }

    /// finish - write out what is held back at the end of the input.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        self.flush(out);
    }

    fn flush(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(FROM.get(..self.matched).unwrap_or_default());
        self.matched = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_from_lines() {
        let cases: &[(&str, &[u8], &[u8])] = &[
            ("plain", b"hello\n", b"hello\n"),
            ("from at start", b"From me\n", b">From me\n"),
            ("from later", b"a\nFrom me\nb", b"a\n>From me\nb"),
            ("quoted from", b">From me\n", b">>From me\n"),
            ("twice quoted", b">>From x\n", b">>>From x\n"),
            ("no space", b"From\n", b"From\n"),
            ("lowercase", b"from me\n", b"from me\n"),
            ("mid-line", b"a From b\n", b"a From b\n"),
            ("quote only", b">\n>>\n", b">\n>>\n"),
            ("partial at end", b"Fro", b"Fro"),
            ("partial then newline", b"Fro\nFrom ", b"Fro\n>From "),
            (">F at end", b">F", b">F"),
            ("not quoted in middle of >", b"> From x\n", b"> From x\n"),
        ];
        for &(what, input, want) in cases {
            for split in 0..=input.len() {
                let mut q = FromQuoter::default();
                let mut out = Vec::new();
                q.push(&input[..split], &mut out);
                q.push(&input[split..], &mut out);
                q.finish(&mut out);
                assert_eq!(out, want, "{what} split at {split}");
            }
        }
    }
}
