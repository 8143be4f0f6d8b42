//! imap_command - bytes from an untrusted IMAP client, framed and parsed as imapd does.
//!
//! The first three bytes are controls: byte 0 picks the command size limit (bit 7 set:
//! 64 KiB, else `32 + 8 * (byte & 0x7f)` bytes), byte 1 the size (plus one) of the
//! chunks the rest is pushed in, byte 2 the discard limit as a multiple (0 to 3) of
//! the command limit. The rest goes through `imap_proto::Framer` as a session reads
//! it: commands with `next`, and one raw line with `next_line` after IDLE (its
//! `DONE`) and after AUTHENTICATE PLAIN without an initial response. Every command is
//! parsed with `parse_command` (imap-codec plus the extended LIST / ESEARCH option
//! tokenizer), and every mailbox name in it is decoded as modified UTF-7.
//!
//! Invariants:
//! - Nothing panics, and memory stays bounded (libFuzzer's limits).
//! - A framed command is at most the command limit; after `Fatal` nothing follows;
//!   a raw line holds no LF and is within the limit.
//! - Pushing the rest whole or in chunks gives the same events.
//! - A parsed command's tag is the text before the first space of its bytes; an
//!   error's tag, when given, is too, and its text is one line.
//! - APPEND's message is no longer than the command that carried it.
//! - A mailbox name that decodes as modified UTF-7 encodes back to the same bytes,
//!   and the decoded name encodes to a name that decodes to it.
#![no_main]

use imap_proto::command::{Command, CommandBody};
use imap_proto::{Event, Framer, TooLong, mutf7, parse_command};
use libfuzzer_sys::fuzz_target;

/// What the session saw, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Event(Event),
    Raw(Result<Vec<u8>, TooLong>),
}

/// Which method the session calls next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Commands,
    /// One raw line (IDLE's `DONE`, an AUTHENTICATE response).
    OneLine,
}

fuzz_target!(|data: &[u8]| {
    let (controls, rest) = data.split_at(data.len().min(3));
    let control = |i: usize| controls.get(i).copied().unwrap_or(0);
    let max = if control(0) & 0x80 != 0 {
        64 * 1024
    } else {
        32 + 8 * u32::from(control(0) & 0x7f)
    };
    let chunk = usize::from(control(1)) + 1;
    let discard = max * u32::from(control(2) % 4);

    let whole = run(max, discard, &[rest]);
    let chunks: Vec<&[u8]> = rest.chunks(chunk).collect();
    let chunked = run(max, discard, &chunks);
    assert_eq!(
        whole, chunked,
        "pushing in chunks of {chunk} changed the events"
    );
});

/// Pushes `chunks` in order into a framer, taking events as a session would, and
/// checks each; returns what was seen.
fn run(max: u32, discard: u32, chunks: &[&[u8]]) -> Vec<Seen> {
    let mut framer = Framer::new(max);
    framer.set_discard_limit(discard);
    let mut mode = Mode::Commands;
    let mut seen = Vec::new();
    for chunk in chunks {
        framer.push(chunk);
        loop {
            if mode == Mode::Commands {
                let Some(event) = framer.next() else { break };
                if let Event::Command(bytes) = &event {
                    assert!(bytes.len() <= max as usize, "command over the limit");
                    if let Some(command) = check_command(bytes) {
                        mode = match &command.body {
                            CommandBody::Idle => Mode::OneLine,
                            CommandBody::Authenticate {
                                mechanism,
                                initial: None,
                            } if mechanism.eq_ignore_ascii_case("PLAIN") => Mode::OneLine,
                            _ => Mode::Commands,
                        };
                    }
                }
                if seen.last() == Some(&Seen::Event(Event::Fatal)) {
                    panic!("an event after Fatal");
                }
                seen.push(Seen::Event(event));
            } else {
                let Some(line) = framer.next_line() else {
                    break;
                };
                if let Ok(line) = &line {
                    assert!(line.len() <= max as usize, "raw line over the limit");
                    assert!(!line.contains(&b'\n'), "raw line holds a LF");
                }
                mode = Mode::Commands;
                seen.push(Seen::Raw(line));
            }
        }
    }
    seen
}

/// Parses one framed command and checks the result; the command if it parsed.
fn check_command(bytes: &[u8]) -> Option<Command> {
    let front = bytes.split(|&b| b == b' ').next().unwrap_or_default();
    match parse_command(bytes) {
        Ok(command) => {
            assert_eq!(command.tag.as_bytes(), front, "tag of {bytes:?}");
            assert!(bytes.get(front.len()) == Some(&b' '), "tag without a space");
            check_names(&command.body, bytes.len());
            Some(command)
        }
        Err(error) => {
            if let Some(tag) = &error.tag {
                assert_eq!(tag.as_bytes(), front, "error tag of {bytes:?}");
            }
            assert!(
                !error.text.contains(['\r', '\n']),
                "error text {:?} is not one line",
                error.text
            );
            None
        }
    }
}

/// Checks every mailbox name in a command body.
fn check_names(body: &CommandBody, len: usize) {
    match body {
        CommandBody::Select { mailbox, .. }
        | CommandBody::Create(mailbox)
        | CommandBody::Delete(mailbox)
        | CommandBody::Subscribe(mailbox)
        | CommandBody::Unsubscribe(mailbox)
        | CommandBody::Status { mailbox, .. }
        | CommandBody::Copy { mailbox, .. }
        | CommandBody::Move { mailbox, .. } => check_name(mailbox),
        CommandBody::Append {
            mailbox, message, ..
        } => {
            check_name(mailbox);
            assert!(
                message.len() <= len,
                "APPEND message longer than its command"
            );
        }
        CommandBody::Rename { from, to } => {
            check_name(from);
            check_name(to);
        }
        CommandBody::List {
            reference,
            patterns,
            ..
        } => {
            assert!(!patterns.is_empty(), "LIST without a pattern");
            check_name(reference);
            patterns.iter().for_each(|p| check_name(p));
        }
        CommandBody::Lsub { reference, pattern } => {
            check_name(reference);
            check_name(pattern);
        }
        _ => {}
    }
}

/// The modified UTF-7 round trips for one name.
fn check_name(wire: &str) {
    if let Ok(name) = mutf7::decode(wire) {
        assert_eq!(
            mutf7::encode(&name),
            wire,
            "decoded from {wire:?} as {name:?}"
        );
    }
    let encoded = mutf7::encode(wire);
    assert_eq!(
        mutf7::decode(&encoded).as_deref(),
        Ok(wire),
        "encoded as {encoded:?}"
    );
}
