//! smtp_data - the DATA reader (dot-stuffed content up to `<CR><LF>.<CR><LF>`).
//!
//! The first four bytes choose the options and the chunk sizes: byte 0 bit 0 picks
//! `BareNewline::Normalize`, bit 1 sets a size limit of `byte 1 * 16` octets; bytes 1 to
//! 3 are the sizes (plus one) of the chunks the rest is fed in, cycling.
//!
//! Invariants, for the rest as it comes from a client:
//! - The reader never panics and never consumes more than it was given; while not
//!   done it consumes every byte it is given.
//! - When it reports the end, the consumed prefix ends with `\r\n.\r\n` or is exactly
//!   `.\r\n` (no smuggled end after a bare CR or LF).
//! - The content it keeps has only CRLF line ends; if accepted, it is as large as
//!   reported, within the size limit, and has no line over 998 octets.
//! - Chunking does not matter: fed whole, the result is the same, and so is the
//!   content unless the message failed.
//!
//! And for sending: content made from the rest with only CRLF line ends (lone CR or LF
//! become CRLF, long lines are broken, a final CRLF is added), dot-stuffed with
//! `data::stuff` and read back (followed by the raw rest, as a pipelined command),
//! ends exactly at the end of the stuffed form and gives back the content.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::data::{MAX_MESSAGE_LINE, stuff};
use smtp_proto::{BareNewline, DataError, DataOptions, DataReader};

fuzz_target!(|data: &[u8]| {
    let (header, rest) = data.split_at(data.len().min(4));
    let flags = header.first().copied().unwrap_or(0);
    let sizes: Vec<usize> = match header.get(1..) {
        Some(sizes) if !sizes.is_empty() => sizes.iter().map(|&b| usize::from(b) + 1).collect(),
        _ => vec![1],
    };
    let options = DataOptions {
        max_size: (flags & 2 != 0).then(|| u64::from(header.get(1).copied().unwrap_or(0)) * 16),
        bare_newline: if flags & 1 != 0 {
            BareNewline::Normalize
        } else {
            BareNewline::Reject
        },
    };

    let chunked = read(options, rest, &sizes);
    check(options, rest, &chunked);
    let whole = read(options, rest, &[rest.len().max(1)]);
    assert_eq!(
        (chunked.consumed, chunked.result, chunked.error),
        (whole.consumed, whole.result, whole.error),
        "chunking changed the result"
    );
    // After an error the output is discarded, and how much of it was kept may depend
    // on the chunks; until then it may not.
    if chunked.error.is_none() {
        assert!(
            chunked.output == whole.output,
            "chunking changed the content"
        );
    }

    let content = crlf_content(rest);
    let wire = stuff(&content);
    let mut input = wire.clone();
    input.extend_from_slice(rest);
    let back = read(DataOptions::default(), &input, &sizes);
    assert_eq!(
        back.consumed,
        wire.len(),
        "stuffed message did not end at its end"
    );
    assert_eq!(back.result, Some(Ok(content.len() as u64)));
    assert!(
        back.output == content,
        "content changed through stuff and DataReader"
    );
});

/// What one reader made of some input.
struct Outcome {
    consumed: usize,
    /// The end-of-message result, if the end was seen.
    result: Option<Result<u64, DataError>>,
    /// The first error, even before the end.
    error: Option<DataError>,
    output: Vec<u8>,
}

/// Feeds `input` in chunks of `sizes` (cycling) until the reader reports the end.
fn read(options: DataOptions, input: &[u8], sizes: &[usize]) -> Outcome {
    let mut reader = DataReader::new(options);
    let mut output = Vec::new();
    let mut consumed = 0;
    let mut result = None;
    for &size in sizes.iter().cycle() {
        let Some(rest) = input.get(consumed..).filter(|rest| !rest.is_empty()) else {
            break;
        };
        let chunk = &rest[..size.min(rest.len())];
        let progress = reader.feed(chunk, &mut output);
        assert!(progress.consumed <= chunk.len(), "consumed more than given");
        consumed += progress.consumed;
        if progress.output.is_some() {
            assert!(reader.is_done());
            result = progress.output;
            break;
        }
        assert_eq!(
            progress.consumed,
            chunk.len(),
            "stopped early without the end"
        );
    }
    Outcome {
        consumed,
        result,
        error: reader.error().copied(),
        output,
    }
}

/// The invariants of one read of `input`.
fn check(options: DataOptions, input: &[u8], outcome: &Outcome) {
    assert!(outcome.consumed <= input.len());
    if outcome.result.is_some() {
        let prefix = &input[..outcome.consumed];
        assert!(
            prefix.ends_with(b"\r\n.\r\n") || prefix == b".\r\n",
            "ended after {prefix:?}"
        );
    } else {
        assert_eq!(outcome.consumed, input.len());
    }
    let out = &outcome.output;
    for (at, &byte) in out.iter().enumerate() {
        match byte {
            b'\r' => assert_eq!(out.get(at + 1), Some(&b'\n'), "bare CR kept at {at}"),
            b'\n' => assert_eq!(
                at.checked_sub(1).map(|i| out[i]),
                Some(b'\r'),
                "bare LF kept at {at}"
            ),
            _ => {}
        }
    }
    if let Some(Ok(size)) = outcome.result {
        assert_eq!(size, out.len() as u64, "reported size");
        if let Some(limit) = options.max_size {
            assert!(
                size <= limit,
                "accepted {size} octets over the limit {limit}"
            );
        }
        for line in out.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            assert!(
                line.len() <= MAX_MESSAGE_LINE,
                "accepted a line of {}",
                line.len()
            );
        }
    }
}

/// `bytes` with every line ending CRLF (a lone CR, a lone LF or CRLF ends a line),
/// lines broken before they pass the limit, and a final CRLF unless empty.
fn crlf_content(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 2);
    let mut line = 0;
    let mut rest = bytes;
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        if byte == b'\r' || byte == b'\n' {
            if byte == b'\r' && rest.first() == Some(&b'\n') {
                rest = &rest[1..];
            }
            out.extend_from_slice(b"\r\n");
            line = 0;
            continue;
        }
        // A leading dot is sent doubled but counts once: the limit is on content.
        if line == MAX_MESSAGE_LINE {
            out.extend_from_slice(b"\r\n");
            line = 0;
        }
        out.push(byte);
        line += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}
