//! lineend - CRLF to LF conversion while streaming, counting both sizes.
//!
//! The queue holds messages with CRLF line endings (as SMTP carries them);
//! Maildir and mbox files hold Unix LF line endings, which is what Dovecot,
//! mutt and other readers expect. Each CR immediately followed by LF
//! becomes LF; every other byte, including a lone CR, is kept.
//!
//! The "wire size" is the size a reader serves over IMAP or POP3, where
//! every LF that is not already preceded by CR is sent as CRLF. It is
//! computed from the stored bytes, exactly as a reader would recompute it,
//! so both always agree (a lone CR before CRLF in the input, `\r\r\n`, is
//! stored as `\r\n` and served as such).

/// CrlfToLf - a streaming converter; feed chunks, then call `finish`.
#[derive(Debug, Default)]
pub(crate) struct CrlfToLf {
    /// A CR ended the previous chunk; whether it is dropped depends on the
    /// next byte.
    pending_cr: bool,
    /// The last byte written out, to count wire size across chunks.
    last: Option<u8>,
    /// Bytes written out.
    size: u64,
    /// Bytes written out with lone LFs counted as CRLF.
    wire_size: u64,
}

impl CrlfToLf {
    /// push - convert `input`, appending the result to `out`.
    pub(crate) fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len());
        let mut rest = input;
        if self.pending_cr {
            let Some((&first, after)) = rest.split_first() else {
                return;
            };
            self.pending_cr = false;
            if first == b'\n' {
                self.emit(b'\n', out);
                rest = after;
            } else {
                self.emit(b'\r', out);
            }
        }
        // Runs without a CR are copied whole; each CR decides on its own.
        while let Some(at) = memchr::memchr(b'\r', rest) {
            let (run, from_cr) = rest.split_at(at);
            self.emit_run(run, out);
            match from_cr.get(1) {
                None => {
                    self.pending_cr = true;
                    return;
                }
                Some(b'\n') => {
                    self.emit(b'\n', out);
                    rest = from_cr.get(2..).unwrap_or_default();
                }
                Some(_) => {
                    self.emit(b'\r', out);
                    rest = from_cr.get(1..).unwrap_or_default();
                }
            }
        }
        self.emit_run(rest, out);
    }

    /// emit_run - write out bytes that hold no CR.
    fn emit_run(&mut self, run: &[u8], out: &mut Vec<u8>) {
        let Some((&first, _)) = run.split_first() else {
            return;
        };
        out.extend_from_slice(run);
        let len = u64::try_from(run.len()).unwrap_or(u64::MAX);
        // Every LF in the run is served as CRLF, except a first one that
        // follows a CR written out just before.
        let mut lone_lfs = u64::try_from(memchr::memchr_iter(b'\n', run).count()).unwrap_or(0);
        if first == b'\n' && self.last == Some(b'\r') {
            lone_lfs -= 1;
        }
        self.size += len;
        self.wire_size += len + lone_lfs;
        self.last = run.last().copied();
    }

    /// finish - flush a CR held back at the end of the input.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if self.pending_cr {
            self.pending_cr = false;
            self.emit(b'\r', out);
        }
    }

    /// size - bytes written out so far.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// wire_size - bytes written out so far, with lone LFs counted as CRLF.
    pub(crate) fn wire_size(&self) -> u64 {
        self.wire_size
    }

    /// last - the last byte written out, if any.
    pub(crate) fn last(&self) -> Option<u8> {
        self.last
    }

    fn emit(&mut self, b: u8, out: &mut Vec<u8>) {
        out.push(b);
        self.size += 1;
        self.wire_size += if b == b'\n' && self.last != Some(b'\r') {
            2
        } else {
            1
        };
        self.last = Some(b);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// convert - the reference: convert a whole buffer at once.
    pub(crate) fn convert(input: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < input.len() {
            if input[i] == b'\r' && input.get(i + 1) == Some(&b'\n') {
                out.push(b'\n');
                i += 2;
            } else {
                out.push(input[i]);
                i += 1;
            }
        }
        out
    }

    /// wire_size - the reference: stored size with lone LFs as CRLF.
    pub(crate) fn wire_size(stored: &[u8]) -> u64 {
        let mut n = 0u64;
        for (i, &b) in stored.iter().enumerate() {
            n += 1;
            if b == b'\n' && (i == 0 || stored[i - 1] != b'\r') {
                n += 1;
            }
        }
        n
    }

    proptest::proptest! {
        #[test]
        fn any_chunking_matches_the_reference(
            input in proptest::collection::vec(proptest::prop_oneof![
                proptest::prelude::Just(b'\r'),
                proptest::prelude::Just(b'\n'),
                proptest::prelude::Just(b'a'),
            ], 0..200),
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
            cuts.sort_unstable();
            let mut c = CrlfToLf::default();
            let mut out = Vec::new();
            let mut from = 0;
            for cut in cuts {
                c.push(&input[from..cut], &mut out);
                from = cut;
            }
            c.push(&input[from..], &mut out);
            c.finish(&mut out);
            let want = convert(&input);
            proptest::prop_assert_eq!(&out, &want);
            proptest::prop_assert_eq!(c.size(), want.len() as u64);
            proptest::prop_assert_eq!(c.wire_size(), wire_size(&want));
            proptest::prop_assert_eq!(c.last(), want.last().copied());
        }
    }

    #[test]
    fn converts_line_endings() {
        let cases: &[(&str, &[u8], &[u8])] = &[
            ("empty", b"", b""),
            ("crlf", b"a\r\nb\r\n", b"a\nb\n"),
            ("lf kept", b"a\nb\n", b"a\nb\n"),
            ("lone cr kept", b"a\rb", b"a\rb"),
            ("cr at end kept", b"a\r", b"a\r"),
            ("cr cr lf", b"a\r\r\n", b"a\r\n"),
            ("no trailing newline", b"a\r\nb", b"a\nb"),
        ];
        for &(what, input, want) in cases {
            // Every split point, to exercise a CR at a chunk boundary.
            for split in 0..=input.len() {
                let mut c = CrlfToLf::default();
                let mut out = Vec::new();
                c.push(&input[..split], &mut out);
                c.push(&input[split..], &mut out);
                c.finish(&mut out);
                assert_eq!(out, want, "{what} split at {split}");
                assert_eq!(c.size(), want.len() as u64, "{what}");
                assert_eq!(c.wire_size(), wire_size(want), "{what}");
            }
        }
    }
}
