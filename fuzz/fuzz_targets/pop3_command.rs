//! pop3_command - command lines from an untrusted POP3 client, and the dot-stuffing
//! of the multi-line answers pop3d sends back.
//!
//! The whole input is one line for `pop3_proto::parse`; then it is split into lines
//! the way pop3d reads them (smtp-proto's `LineReader` with `MAX_AUTH_LINE`, and
//! `MAX_LINE` for lines other than AUTH) and each is parsed. Finally the input is
//! sent as a message through `MultiLine` in chunks split at `data[0] % len`.
//!
//! Invariants:
//! - `parse` never panics.
//! - A command that parses is well formed: message numbers are at least 1, a user
//!   name and an AUTH mechanism or initial response are one non-empty word (the
//!   mechanism upper case), and a password is the non-empty rest of the line.
//! - The verb is case-insensitive: upper-casing it gives the same result.
//! - `MultiLine` output is the same whatever the chunks, ends with `.` on a line of
//!   its own, and un-stuffing it (dropping the terminator, and one leading dot of
//!   each line) gives back the input, plus a CRLF if the input did not end with LF.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pop3_proto::{Command, MAX_AUTH_LINE, MAX_LINE, MultiLine, parse};
use smtp_proto::command::LineReader;

fuzz_target!(|data: &[u8]| {
    check_line(data);

    let mut reader = LineReader::with_limit(MAX_AUTH_LINE);
    let mut rest = data;
    while !rest.is_empty() {
        let progress = reader.read(rest);
        assert!(progress.consumed > 0 && progress.consumed <= rest.len());
        rest = &rest[progress.consumed..];
        if let Some(Ok(line)) = progress.output {
            // pop3d's rule: only AUTH lines may be longer than MAX_LINE.
            if line.bytes.len() + 2 <= MAX_LINE
                || line.bytes.to_ascii_uppercase().starts_with(b"AUTH ")
            {
                check_line(&line.bytes);
            }
        }
    }

    check_multi_line(data);
});

/// Parses `line` and checks what it gives.
fn check_line(line: &[u8]) {
    let result = parse(line);
    if let Ok(command) = &result {
        check_command(command, line);
    }
    // Upper-casing the verb (everything before the first space) changes nothing.
    let verb_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let mut upper = line.to_vec();
    upper[..verb_end].make_ascii_uppercase();
    assert_eq!(parse(&upper), result, "verb case matters in {line:?}");
}

/// The shape every parsed command must have.
fn check_command(command: &Command, line: &[u8]) {
    let one_word = |word: &str| !word.is_empty() && !word.contains(' ');
    match command {
        Command::User(name) => assert!(one_word(name), "user {name:?} from {line:?}"),
        Command::Pass(secret) => assert!(!secret.0.is_empty(), "empty password from {line:?}"),
        Command::Auth { mechanism, initial } => {
            if let Some(mechanism) = mechanism {
                assert!(one_word(mechanism), "mechanism {mechanism:?}");
                assert_eq!(*mechanism, mechanism.to_ascii_uppercase());
            } else {
                assert!(initial.is_none(), "initial response without a mechanism");
            }
            if let Some(initial) = initial {
                assert!(one_word(&initial.0), "initial response from {line:?}");
            }
        }
        Command::List(Some(n)) | Command::Uidl(Some(n)) | Command::Retr(n) | Command::Dele(n) => {
            assert!(*n >= 1, "message number 0 from {line:?}");
        }
        Command::Top(n, _) => assert!(*n >= 1, "message number 0 from {line:?}"),
        Command::List(None)
        | Command::Uidl(None)
        | Command::Apop
        | Command::Stls
        | Command::Capa
        | Command::Stat
        | Command::Noop
        | Command::Rset
        | Command::Quit => {}
    }
    assert!(!command.name().is_empty());
}

/// Sends `data` through `MultiLine` whole and in two chunks, and reads it back.
fn check_multi_line(data: &[u8]) {
    let whole = stuff(&[data]);
    let split = match data.first() {
        Some(&first) => usize::from(first) % data.len(),
        None => 0,
    };
    let (head, tail) = data.split_at(split);
    assert_eq!(stuff(&[head, tail]), whole, "chunking changed the output");

    let body = whole
        .strip_suffix(b".\r\n")
        .expect("a multi-line answer ends with a dot line");
    assert!(
        body.is_empty() || body.ends_with(b"\n"),
        "the terminator is not on a line of its own"
    );
    let mut back = Vec::with_capacity(body.len());
    for line in body.split_inclusive(|&b| b == b'\n') {
        back.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
    }
    let mut expected = data.to_vec();
    if !data.is_empty() && !data.ends_with(b"\n") {
        expected.extend_from_slice(b"\r\n");
    }
    assert!(
        back == expected,
        "un-stuffing does not give the content back"
    );
}

/// `chunks` through one `MultiLine`, finished.
fn stuff(chunks: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut body = MultiLine::new();
    for chunk in chunks {
        body.push(chunk, &mut out);
    }
    body.finish(&mut out);
    out
}
