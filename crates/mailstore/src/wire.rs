//! wire - a stored message in the form POP3 and IMAP send it.
//!
//! Maildir files hold LF line endings (the `lineend` module writes them
//! so); the protocols need CRLF. On the wire every LF not already
//! preceded by CR becomes CRLF, and every other byte, a CRLF already in
//! the file or a lone CR included, goes out as it is. The "wire size" is
//! the length of that output: the file's size plus one for each such LF.
//! It is what `,W=` in a file name records, what Dovecot calls the
//! virtual size, and what POP3 LIST and IMAP RFC822.SIZE report, so a
//! [`MessageReader`] yields exactly that many bytes.

use std::io::{self, Read};

/// Read from the file in pieces of this size.
const CHUNK: usize = 64 * 1024;

/// MessageReader - reads a stored message with bare LFs turned into CRLF.
///
/// Byte-stuffing (POP3's leading `.`) is the protocol's business, not
/// done here.
#[derive(Debug)]
pub struct MessageReader<R> {
    /// The stored message.
    inner: R,
    /// Bytes read from `inner` and not yet converted: `buf[start..end]`.
    buf: Box<[u8]>,
    /// The first unconverted byte in `buf`.
    start: usize,
    /// The end of the valid bytes in `buf`.
    end: usize,
    /// The last byte passed on was a CR (so an LF after it stays alone).
    prev_cr: bool,
    /// A CR was written for a bare LF, but the caller's buffer had no room
    /// for the LF.
    pending_lf: bool,
}

impl<R: Read> MessageReader<R> {
    /// new - read `inner` (a message as stored) in wire form.
    pub fn new(inner: R) -> MessageReader<R> {
        MessageReader {
            inner,
            buf: vec![0; CHUNK].into_boxed_slice(),
            start: 0,
            end: 0,
            prev_cr: false,
            pending_lf: false,
        }
    }

    /// into_inner - the underlying reader (its position is past what was
    /// buffered, not what was returned).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// convert - move buffered bytes into `out`, converting; returns how
    /// many bytes were written.
    fn convert(&mut self, out: &mut [u8]) -> usize {
        let mut written = 0;
        loop {
            let input = self.buf.get(self.start..self.end).unwrap_or_default();
            let space = out.get_mut(written..).unwrap_or_default();
            let Some(&first) = input.first() else {
                return written;
            };
            if space.is_empty() {
                return written;
            }
            if first == b'\n' && !self.prev_cr {
                // A bare LF: CR now, LF now or on the next call.
                self.start += 1;
                self.prev_cr = false;
                if let Some(slot) = space.first_mut() {
                    *slot = b'\r';
                }
                written += 1;
                match out.get_mut(written) {
                    Some(slot) => {
                        *slot = b'\n';
                        written += 1;
                    }
                    None => {
                        self.pending_lf = true;
                        return written;
                    }
                }
                continue;
            }
            // Copy up to (not including) the next LF after the first byte.
            let run = input
                .iter()
                .skip(1)
                .position(|&b| b == b'\n')
                .map_or(input.len(), |p| p + 1);
            let take = run.min(space.len());
            let (Some(src), Some(dst)) = (input.get(..take), space.get_mut(..take)) else {
                return written;
            };
            dst.copy_from_slice(src);
            self.prev_cr = src.last() == Some(&b'\r');
            self.start += take;
            written += take;
        }
    }
}

impl<R: Read> Read for MessageReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mut written = 0;
        if self.pending_lf {
            let Some(slot) = out.first_mut() else {
                return Ok(0);
            };
            *slot = b'\n';
            self.pending_lf = false;
            written = 1;
        }
        loop {
            written += self.convert(out.get_mut(written..).unwrap_or_default());
            if written >= out.len() || self.pending_lf {
                return Ok(written);
            }
            let got = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    // Report what we have; the error comes again next call.
                    Err(_) if written > 0 => return Ok(written),
                    Err(e) => return Err(e),
                }
            };
            if got == 0 {
                return Ok(written);
            }
            self.start = 0;
            self.end = got;
        }
    }
}

/// wire_size_of - the wire size of the stored message `reader` yields.
pub(crate) fn wire_size_of(reader: &mut dyn Read) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut size = 0u64;
    let mut prev_cr = false;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(size),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = buf.get(..n).unwrap_or_default();
        size = size.saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        for &b in chunk {
            if b == b'\n' && !prev_cr {
                size = size.saturating_add(1);
            }
            prev_cr = b == b'\r';
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lineend::tests::wire_size;

    /// A reader that hands out at most `piece` bytes per call.
    struct Pieces<'a> {
        data: &'a [u8],
        piece: usize,
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.piece.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// The reference: convert at once.
    fn to_wire(stored: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut prev = None;
        for &b in stored {
            if b == b'\n' && prev != Some(b'\r') {
                out.push(b'\r');
            }
            out.push(b);
            prev = Some(b);
        }
        out
    }

    /// Read all of `stored` through a MessageReader with the given piece
    /// sizes on both sides.
    fn read_wire(stored: &[u8], piece_in: usize, piece_out: usize) -> Vec<u8> {
        let mut reader = MessageReader::new(Pieces {
            data: stored,
            piece: piece_in,
        });
        let mut out = Vec::new();
        let mut buf = vec![0u8; piece_out];
        loop {
            let n = reader.read(&mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn line_endings_become_crlf() {
        let cases: &[(&str, &[u8], &[u8])] = &[
            ("empty", b"", b""),
            ("lf", b"a\nb\n", b"a\r\nb\r\n"),
            ("crlf kept", b"a\r\nb\r\n", b"a\r\nb\r\n"),
            ("mixed", b"a\r\nb\nc\r\n\n", b"a\r\nb\r\nc\r\n\r\n"),
            ("lone cr kept", b"a\rb\n", b"a\rb\r\n"),
            ("cr cr lf", b"a\r\r\n", b"a\r\r\n"),
            ("leading lf", b"\n\nx", b"\r\n\r\nx"),
            ("no final newline", b"a\nb", b"a\r\nb"),
            ("only lfs", b"\n\n\n", b"\r\n\r\n\r\n"),
        ];
        for &(what, stored, want) in cases {
            for piece_in in [1, 2, 3, 7, 1000] {
                for piece_out in [1, 2, 3, 5, 1000] {
                    let got = read_wire(stored, piece_in, piece_out);
                    assert_eq!(got, want, "{what} in {piece_in} out {piece_out}");
                }
            }
            let size = wire_size_of(&mut &stored[..]).unwrap();
            assert_eq!(size, want.len() as u64, "{what}");
            assert_eq!(size, wire_size(stored), "{what}");
        }
    }

    #[test]
    fn large_messages_convert_across_chunks() {
        let mut stored = Vec::new();
        for i in 0..40_000u32 {
            stored.extend_from_slice(format!("line {i}").as_bytes());
            stored.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
        }
        let got = read_wire(&stored, 70_000, 10_007);
        assert_eq!(got, to_wire(&stored));
        assert_eq!(wire_size_of(&mut &stored[..]).unwrap(), got.len() as u64);
        // A CR at the end of one 64 KiB chunk and its LF at the start of the next.
        let mut split = vec![b'x'; CHUNK - 1];
        split.extend_from_slice(b"\r\nend\n");
        assert_eq!(read_wire(&split, CHUNK, 4096), to_wire(&split));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_convert_like_the_reference(
            stored in proptest::collection::vec(proptest::sample::select(vec![b'a', b'\r', b'\n']), 0..200),
            piece_in in 1usize..10,
            piece_out in 1usize..10,
        ) {
            let want = to_wire(&stored);
            proptest::prop_assert_eq!(read_wire(&stored, piece_in, piece_out), want.clone());
            proptest::prop_assert_eq!(wire_size_of(&mut &stored[..]).unwrap(), want.len() as u64);
        }
    }
}
