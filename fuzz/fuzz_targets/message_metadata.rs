//! message_metadata - a message as anyone on the Internet may have written it, parsed
//! for IMAP FETCH (ENVELOPE, BODYSTRUCTURE, part spans) by `mailstore::parse_metadata`
//! with mail-parser underneath, and stored in the metadata cache.
//!
//! `parse_metadata` catches a panic inside mail-parser (whose `debug_assert!`s can
//! fire on malformed input, and the fuzz build has debug assertions on) and falls
//! back to a plainer structure. libFuzzer's panic hook would abort the process before
//! that, so this target installs one that lets panics raised in mail-parser's own
//! files unwind to that handler (as in a release build), and aborts on any other.
//!
//! Invariants:
//! - `parse_metadata` never panics outside mail-parser, and never recurses without
//!   bound (parts nest at most `MAX_NESTING` deep).
//! - The message size is the input's size in CRLF form; every part's span lies in
//!   the input in order (header start, body start, end), with its header and body
//!   sizes those of its ranges in CRLF form and its lines the LFs of its body.
//! - Part 1 of the body always exists (the body itself or its first part).
//! - The metadata, stored as a cache record, reads back equal.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use mailstore::fuzz_api::{cache_entry, cache_file, read_cache};
use mailstore::{Content, MAX_NESTING, Span, parse_metadata};

fuzz_target!(|data: &[u8]| {
    allow_mail_parser_panics();
    let metadata = parse_metadata(data);
    assert_eq!(metadata.size, crlf_size(data), "message size");
    assert_eq!(metadata.header_size, metadata.body.info.span.header_size);
    assert!(metadata.part(&[1]).is_some(), "no part 1");

    let mut stack = vec![(&metadata.body, 0u32)];
    while let Some((part, depth)) = stack.pop() {
        assert!(depth <= MAX_NESTING, "parts nested {depth} deep");
        check_span(&part.info.span, data);
        match &part.content {
            Content::Single => {}
            Content::Multipart(parts) => {
                assert!(!parts.is_empty(), "a multipart without parts");
                stack.extend(parts.iter().map(|p| (p, depth + 1)));
            }
            Content::Message(embedded) => stack.push((&embedded.body, depth + 1)),
        }
    }

    let framed = cache_entry(7, "1.M1P1.host", 1, metadata.clone()).expect("metadata encodes");
    let mut file = cache_file(1, &[]);
    file.extend_from_slice(&framed);
    let dump = read_cache(&file).expect("our own header");
    let [record] = dump.records.as_slice() else {
        panic!("{} records from one", dump.records.len());
    };
    assert_eq!(
        record.metadata.as_ref(),
        Some(&metadata),
        "cache round trip"
    );
});

/// The span's offsets are in order within `data`, and its sizes and lines match
/// its ranges.
fn check_span(span: &Span, data: &[u8]) {
    let len = data.len() as u64;
    assert!(
        span.header_start <= span.body_start && span.body_start <= span.end && span.end <= len,
        "span {span:?} of {len} bytes"
    );
    let range = |from: u64, to: u64| &data[from as usize..to as usize];
    let header = range(span.header_start, span.body_start);
    let body = range(span.body_start, span.end);
    assert_eq!(
        span.header_size,
        crlf_size(header),
        "header size of {span:?}"
    );
    assert_eq!(span.body_size, crlf_size(body), "body size of {span:?}");
    let lines = body.iter().filter(|&&b| b == b'\n').count() as u64;
    assert_eq!(span.lines, lines, "lines of {span:?}");
}

/// The size of `bytes` with every LF not preceded by CR counted as CRLF.
fn crlf_size(bytes: &[u8]) -> u64 {
    let bare = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' && (i == 0 || bytes[i - 1] != b'\r'))
        .count();
    (bytes.len() + bare) as u64
}

/// Replaces libFuzzer's panic hook (which aborts) with one that lets panics raised
/// in mail-parser's sources unwind, silently, to `parse_metadata`'s handler.
fn allow_mail_parser_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let abort_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_mail_parser = info
                .location()
                .is_some_and(|l| l.file().contains("mail-parser"));
            if !in_mail_parser {
                abort_hook(info);
            }
        }));
    });
}
