//! bdat - counted message chunks (RFC 3030 CHUNKING).

use super::{DataError, DataOptions, Sink, split_line_text};
use crate::Progress;

/// The end of one BDAT chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkEnd {
    /// Whether it was the `LAST` chunk (the message is complete).
    pub last: bool,
    /// The message size so far, or the first error of the message. On an error the
    /// server answers [`DataError::reply`] (the transaction has failed) but keeps
    /// reading any further pipelined BDAT chunks with this reader, which discards them.
    pub result: Result<u64, DataError>,
}

/// Reads the chunks of one message sent with BDAT.
///
/// Call [`begin_chunk`](Self::begin_chunk) for each BDAT command, then
/// [`feed`](Self::feed) until it reports the [`ChunkEnd`]. Exactly `size` octets are
/// consumed per chunk, with no dot processing. For `BODY=BINARYMIME` the octets are
/// kept as they are; otherwise (7BIT, 8BITMIME) the message is still text, so the
/// bare CR/LF policy and the line limit apply across chunk boundaries, as for DATA.
/// The size limit applies in both cases.
#[derive(Debug, Clone)]
pub struct BdatReader {
    binary: bool,
    sink: Sink,
    remaining: u64,
    last: bool,
    active: bool,
    pending_cr: bool,
}

impl BdatReader {
    /// A reader for one message; `binary` for `BODY=BINARYMIME`.
    #[must_use]
    pub fn new(options: DataOptions, binary: bool) -> Self {
        Self {
            binary,
            sink: Sink::new(options, !binary),
            remaining: 0,
            last: false,
            active: false,
            pending_cr: false,
        }
    }

    /// Starts the chunk of a `BDAT size [LAST]` command.
    pub fn begin_chunk(&mut self, size: u64, last: bool) {
        self.remaining = size;
        self.last = last;
        self.active = true;
    }

    /// Consumes up to the rest of the current chunk, appending content to `out`.
    /// Without a chunk begun, consumes nothing.
    pub fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> Progress<ChunkEnd> {
        if !self.active {
            return Progress::pending(0);
        }
        let available = u64::try_from(input.len()).unwrap_or(u64::MAX);
        let take = usize::try_from(self.remaining.min(available)).unwrap_or(input.len());
        let chunk = input.get(..take).unwrap_or_default();
        if self.binary {
            self.sink.emit(out, chunk);
        } else {
            self.text(chunk, out);
        }
        self.remaining = self
            .remaining
            .saturating_sub(u64::try_from(take).unwrap_or(u64::MAX));
        if self.remaining > 0 {
            return Progress::pending(take);
        }
        self.active = false;
        if self.last && self.pending_cr {
            self.pending_cr = false;
            self.sink.line_end(out, Some(DataError::BareCr));
        }
        Progress::done(
            take,
            ChunkEnd {
                last: self.last,
                result: self.sink.result(),
            },
        )
    }

    /// The first error of the message so far.
    #[must_use]
    pub fn error(&self) -> Option<&DataError> {
        self.sink.error.as_ref()
    }

    /// Octets of content so far.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.sink.size
    }

    fn text(&mut self, mut chunk: &[u8], out: &mut Vec<u8>) {
        while let Some((&byte, rest)) = chunk.split_first() {
            if self.pending_cr {
                self.pending_cr = false;
                if byte == b'\n' {
                    self.sink.line_end(out, None);
                    chunk = rest;
                    continue;
                }
                self.sink.line_end(out, Some(DataError::BareCr));
            }
            match byte {
                b'\r' => {
                    self.pending_cr = true;
                    chunk = rest;
                }
                b'\n' => {
                    self.sink.line_end(out, Some(DataError::BareLf));
                    chunk = rest;
                }
                _ => {
                    let (text, rest) = split_line_text(chunk);
                    self.sink.text(out, text);
                    chunk = rest;
                }
            }
        }
    }
}
