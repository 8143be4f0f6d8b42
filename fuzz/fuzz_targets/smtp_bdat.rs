//! smtp_bdat - BDAT chunks (RFC 3030 CHUNKING) from an untrusted client, read with
//! `BdatReader`: the counted path of message content, which smtp_data's dot-stuffed
//! DATA path does not cover.
//!
//! The first three bytes are controls: byte 0 bit 0 picks `BODY=BINARYMIME`, bit 1
//! `BareNewline::Normalize`, bit 2 a size limit of `byte 1 * 16` octets; byte 2 the
//! size (plus one) of the pieces each chunk is fed in. The rest is the chunks, each a
//! length byte and that many bytes; the one the input cuts short ends with what there
//! is and is the `LAST` chunk. The last piece of each chunk is fed with a pipelined
//! command after it.
//!
//! Invariants:
//! - The reader never panics, consumes nothing before a chunk is begun, and consumes
//!   exactly each chunk's bytes: never the pipelined command after it.
//! - Every chunk ends with its own `LAST` flag; once a result is an error, every later
//!   one is the same error.
//! - The message is accepted exactly when a simple model accepts it: binary, when it
//!   is within the size limit; text, when besides that it has no line over 998 octets
//!   and, under `Reject`, no bare CR or LF (a CR ending one chunk and a LF starting
//!   the next are a CRLF). Then the content kept is the chunks' bytes (binary) or
//!   those with every bare CR or LF made CRLF (text), and its size is reported.
//! - Feeding each chunk whole gives the same results and content.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::data::{ChunkEnd, MAX_MESSAGE_LINE};
use smtp_proto::{BareNewline, BdatReader, DataError, DataOptions};

/// What the session would read after a chunk: the next command.
const PIPELINED: &[u8] = b"BDAT 0 LAST\r\n";

fuzz_target!(|data: &[u8]| {
    let (controls, rest) = data.split_at(data.len().min(3));
    let control = |i: usize| controls.get(i).copied().unwrap_or(0);
    let binary = control(0) & 1 != 0;
    let options = DataOptions {
        bare_newline: if control(0) & 2 != 0 {
            BareNewline::Normalize
        } else {
            BareNewline::Reject
        },
        max_size: (control(0) & 4 != 0).then(|| u64::from(control(1)) * 16),
    };
    let piece = usize::from(control(2)) + 1;
    let chunks = split_chunks(rest);

    let (ends, content) = read(options, binary, &chunks, piece);
    let (whole_ends, whole_content) = read(options, binary, &chunks, usize::MAX);
    assert_eq!(
        ends, whole_ends,
        "feeding in pieces of {piece} changed the results"
    );

    let mut first_error = None;
    for (end, is_last) in ends
        .iter()
        .zip((0..chunks.len()).map(|i| i + 1 == chunks.len()))
    {
        assert_eq!(end.last, is_last, "LAST flag");
        if let Some(error) = first_error {
            assert_eq!(end.result, Err(error), "an error went away");
        }
        if let Err(error) = end.result {
            first_error = Some(error);
        }
    }

    let Some(last) = ends.last() else {
        return;
    };
    let message: Vec<u8> = chunks.concat();
    let expected = if binary {
        message.clone()
    } else {
        normalize(&message)
    };
    // Each bare CR or LF grows by one octet.
    let bare = !binary && expected.len() != message.len();
    let long_line = !binary
        && expected
            .split(|&b| b == b'\n')
            .any(|line| line.strip_suffix(b"\r").unwrap_or(line).len() > MAX_MESSAGE_LINE);
    let too_big = options
        .max_size
        .is_some_and(|limit| expected.len() as u64 > limit);
    let refused_bare = bare && options.bare_newline == BareNewline::Reject;
    let accept = !too_big && !long_line && !refused_bare;
    match last.result {
        Ok(size) => {
            assert!(
                accept,
                "accepted: too big {too_big}, long line {long_line}, bare {bare}"
            );
            assert_eq!(size, expected.len() as u64, "reported size");
            assert!(content == expected, "content differs from the model");
            assert!(whole_content == content, "content depends on the pieces");
        }
        Err(error) => {
            assert!(!accept, "refused with {error:?}");
            match error {
                DataError::TooBig { .. } => assert!(too_big),
                DataError::LineTooLong => assert!(long_line),
                DataError::BareCr | DataError::BareLf => assert!(refused_bare),
            }
        }
    }
});

/// The chunks: a length byte and that many bytes each; the last as long as the input
/// allows. An empty input is one empty chunk.
fn split_chunks(mut rest: &[u8]) -> Vec<&[u8]> {
    let mut chunks = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let (chunk, after) = tail.split_at(usize::from(len).min(tail.len()));
        chunks.push(chunk);
        rest = after;
    }
    if chunks.is_empty() {
        chunks.push(&[][..]);
    }
    chunks
}

/// Reads the chunks (the last one `LAST`), each fed in pieces of `piece` bytes with
/// the pipelined command after each piece; returns each chunk's end and the content.
fn read(
    options: DataOptions,
    binary: bool,
    chunks: &[&[u8]],
    piece: usize,
) -> (Vec<ChunkEnd>, Vec<u8>) {
    let mut reader = BdatReader::new(options, binary);
    let mut out = Vec::new();
    let idle = reader.feed(PIPELINED, &mut out);
    assert_eq!((idle.consumed, idle.output), (0, None), "read before BDAT");

    let mut ends = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        reader.begin_chunk(chunk.len() as u64, i + 1 == chunks.len());
        let mut rest: &[u8] = chunk;
        let end = loop {
            let take = piece.min(rest.len());
            let mut input = rest[..take].to_vec();
            // Within a chunk, whatever follows is still chunk data.
            if take == rest.len() {
                input.extend_from_slice(PIPELINED);
            }
            let progress = reader.feed(&input, &mut out);
            assert!(progress.consumed <= take, "consumed the pipelined command");
            assert_eq!(progress.consumed, take, "left chunk bytes unread");
            rest = &rest[take..];
            if let Some(end) = progress.output {
                assert!(rest.is_empty(), "chunk ended {} bytes early", rest.len());
                break end;
            }
            assert!(!rest.is_empty(), "chunk bytes all read without an end");
        };
        ends.push(end);
    }
    (ends, out)
}

/// `bytes` with every bare CR and bare LF made CRLF.
fn normalize(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 16);
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\r' if bytes.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 2;
            }
            b'\r' | b'\n' => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}
