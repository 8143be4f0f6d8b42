//! smtp_reply - replies from a remote server, read by the outbound client.
//!
//! The input is fed to a `ReplyParser` whole and, after a parse error, from where the
//! error left it (a fresh start, as after reconnecting); then again in chunks split at
//! `data[0] % len`.
//!
//! Invariants:
//! - The parser never panics, never consumes more than it was given, and makes
//!   progress: it consumes every byte unless it returns a reply.
//! - A reply has a code in 200..=599, at most the line limit of lines, and renders to
//!   text that parses back to a reply with the same code and number of lines.
//! - Feeding the input in two chunks yields the same replies as feeding it whole.
//! - Read as an answer to EHLO (`EhloReply::from_reply`, as the outbound client does),
//!   a 250 reply gives a host name without white space and one capability per line
//!   after the first, and the capability queries do not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::reply::MAX_PARSED_LINES;
use smtp_proto::{Capability, EhloReply, Reply, ReplyParser};

fuzz_target!(|data: &[u8]| {
    let whole = read_all(&mut ReplyParser::new(), &[data]);
    let split = match data.first() {
        Some(&first) => usize::from(first) % data.len(),
        None => 0,
    };
    let (head, tail) = data.split_at(split);
    let chunked = read_all(&mut ReplyParser::new(), &[head, tail]);
    assert_eq!(whole, chunked, "split at {split}");

    for reply in whole.into_iter().flatten() {
        let code = reply.code.get();
        assert!((200..=599).contains(&code), "code {code}");
        let lines = reply.lines().count();
        assert!(lines <= MAX_PARSED_LINES, "{lines} lines");
        let rendered = reply.render();
        let again = ReplyParser::new()
            .parse(rendered.as_bytes())
            .unwrap_or_else(|error| panic!("{reply:?} rendered as {rendered:?}: {error:?}"));
        let Some(again) = again.output else {
            panic!("{reply:?} rendered as {rendered:?} is incomplete");
        };
        assert_eq!(again.code, reply.code, "rendered as {rendered:?}");
        assert_eq!(again.lines().count(), lines, "rendered as {rendered:?}");
        check_ehlo(&reply);
    }
});

/// The reply read as the answer to EHLO.
fn check_ehlo(reply: &Reply) {
    let Some(ehlo) = EhloReply::from_reply(reply) else {
        assert_ne!(reply.code.get(), 250, "a 250 reply refused as EHLO answer");
        return;
    };
    assert!(
        !ehlo.host.bytes().any(|b| b.is_ascii_whitespace()),
        "host {:?}",
        ehlo.host
    );
    assert_eq!(ehlo.capabilities.len(), reply.lines().count() - 1);
    let _ = ehlo.size_limit();
    let mechanisms = ehlo.auth_mechanisms();
    for (i, mechanism) in mechanisms.iter().enumerate() {
        assert!(!mechanisms[..i].contains(mechanism), "{mechanism:?} twice");
    }
    for capability in &ehlo.capabilities {
        assert!(ehlo.has(capability));
        let _ = capability.to_string();
    }
    let _ = ehlo.has(&Capability::Chunking);
}

/// Feeds the chunks in order; on an error the parser has reset itself and reading
/// goes on after the bytes it consumed. Returns each reply or error in order.
fn read_all(parser: &mut ReplyParser, chunks: &[&[u8]]) -> Vec<Result<Reply, ()>> {
    let mut out = Vec::new();
    for chunk in chunks {
        let mut rest: &[u8] = chunk;
        while !rest.is_empty() {
            match parser.parse(rest) {
                Ok(progress) => {
                    assert!(progress.consumed <= rest.len(), "consumed more than given");
                    let done = progress.output.is_some();
                    if !done {
                        assert_eq!(progress.consumed, rest.len(), "stopped without a reply");
                    }
                    rest = &rest[progress.consumed..];
                    out.extend(progress.output.map(Ok));
                    if !done {
                        break;
                    }
                }
                Err(_) => {
                    // The error does not say how much it consumed; the parser has
                    // reset, so the connection would be closed. Stop here.
                    out.push(Err(()));
                    return out;
                }
            }
        }
    }
    out
}
