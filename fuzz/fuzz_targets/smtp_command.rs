//! smtp_command - command lines from an untrusted client.
//!
//! The whole input is one line for `parse_command`; then it is fed to a `LineReader`
//! in two chunks (split at `data[0] % len`) and every line it yields is parsed too.
//!
//! Invariants:
//! - `parse_command` never panics.
//! - A command that parses, rendered with `Command::write_to` as a client would send
//!   it, is one CRLF-terminated line that parses back to a command with the same verb
//!   (and to the same command when the line held no tab, which rendering turns into a
//!   space).
//! - `LineReader` consumes at least one byte of non-empty input and never more than it
//!   was given; a line never holds a LF and never exceeds the reader's limit; a line
//!   too long is reported, not returned; and the two-chunk split yields exactly the
//!   lines of feeding the input whole.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtp_proto::command::{Line, LineReader, LineTooLong, MAX_LINE};
use smtp_proto::parse_command;

fuzz_target!(|data: &[u8]| {
    check_command(data);

    let split = match data.first() {
        Some(&first) => usize::from(first) % data.len(),
        None => 0,
    };
    let (head, tail) = data.split_at(split);
    let mut reader = LineReader::new();
    let mut lines = read_all(&mut reader, head);
    lines.extend(read_all(&mut reader, tail));
    let mut whole = LineReader::new();
    assert_eq!(lines, read_all(&mut whole, data), "split at {split}");
    for line in lines.into_iter().flatten() {
        check_command(&line.bytes);
    }
});

/// Parses `line`; if it is a command, checks that its rendering parses back.
fn check_command(line: &[u8]) {
    let Ok(command) = parse_command(line) else {
        return;
    };
    let mut rendered = Vec::new();
    command.write_to(&mut rendered);
    let body = rendered
        .strip_suffix(b"\r\n")
        .expect("a rendered command ends in CRLF");
    assert!(
        !body.contains(&b'\n') && !body.contains(&b'\r'),
        "rendered command {rendered:?} is more than one line"
    );
    let reparsed = parse_command(body).unwrap_or_else(|error| {
        panic!("{command:?} rendered as {body:?} does not parse: {error:?}")
    });
    assert_eq!(reparsed.verb(), command.verb(), "rendered as {body:?}");
    if !line.contains(&b'\t') {
        assert_eq!(reparsed, command, "rendered as {body:?}");
    }
}

/// Feeds all of `input` to `reader`, checking each step, and returns the lines.
fn read_all(reader: &mut LineReader, mut input: &[u8]) -> Vec<Result<Line, LineTooLong>> {
    let mut lines = Vec::new();
    while !input.is_empty() {
        let progress = reader.read(input);
        assert!(
            progress.consumed > 0 && progress.consumed <= input.len(),
            "consumed {} of {}",
            progress.consumed,
            input.len()
        );
        if let Some(Ok(line)) = &progress.output {
            assert!(!line.bytes.contains(&b'\n'), "a line holds a LF");
            // The limit counts the CRLF (or the LF of a bare-LF line).
            let terminator = if line.bare_lf { 1 } else { 2 };
            assert!(
                line.bytes.len() + terminator <= MAX_LINE,
                "line over the limit"
            );
        }
        input = &input[progress.consumed..];
        lines.extend(progress.output);
    }
    lines
}
