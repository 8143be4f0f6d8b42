use super::*;
use proptest::prelude::*;

/// drain - every event available now.
fn drain(framer: &mut Framer) -> Vec<Event> {
    let mut events = Vec::new();
    while let Some(event) = framer.next() {
        events.push(event);
    }
    events
}

fn command(bytes: &[u8]) -> Event {
    Event::Command(bytes.to_vec())
}

fn too_big(tag: &str) -> Event {
    Event::TooBig {
        tag: Some(tag.to_owned()),
    }
}

#[test]
fn pipelined_lines_are_separate_commands() {
    let mut framer = Framer::new(1024);
    framer.push(b"1 capability\r\n2 authenticate PLAIN\r\n");
    assert_eq!(
        drain(&mut framer),
        [
            command(b"1 capability\r\n"),
            command(b"2 authenticate PLAIN\r\n")
        ]
    );
}

#[test]
fn a_line_split_across_pushes_waits_for_its_end() {
    let mut framer = Framer::new(1024);
    framer.push(b"a001 LOG");
    assert_eq!(framer.next(), None);
    framer.push(b"IN user \"pass");
    assert_eq!(framer.next(), None);
    framer.push(b" word\"\r\na002 NO");
    assert_eq!(
        drain(&mut framer),
        [command(b"a001 LOGIN user \"pass word\"\r\n")]
    );
    framer.push(b"OP\r\n");
    assert_eq!(drain(&mut framer), [command(b"a002 NOOP\r\n")]);
}

#[test]
fn bare_lf_ends_a_line() {
    let mut framer = Framer::new(1024);
    framer.push(b"a NOOP\nb LOGIN {1}\nx y\n");
    assert_eq!(
        drain(&mut framer),
        [
            command(b"a NOOP\n"),
            Event::Continue,
            command(b"b LOGIN {1}\nx y\n")
        ]
    );
}

#[test]
fn synchronizing_literal_asks_for_continuation() {
    let mut framer = Framer::new(1024);
    framer.push(b"a APPEND INBOX {5}\r\n");
    assert_eq!(drain(&mut framer), [Event::Continue]);
    framer.push(b"hel");
    assert_eq!(framer.next(), None);
    framer.push(b"lo\r\n");
    assert_eq!(
        drain(&mut framer),
        [command(b"a APPEND INBOX {5}\r\nhello\r\n")]
    );
}

#[test]
fn literals_split_across_pushes() {
    let mut framer = Framer::new(1024);
    framer.push(b"a LOGIN {4}\r\nus");
    assert_eq!(drain(&mut framer), [Event::Continue]);
    framer.push(b"er {4}");
    assert_eq!(framer.next(), None);
    framer.push(b"\r\n");
    assert_eq!(drain(&mut framer), [Event::Continue]);
    framer.push(b"pa");
    assert_eq!(framer.next(), None);
    framer.push(b"ss\r\nb NOOP\r\n");
    assert_eq!(
        drain(&mut framer),
        [
            command(b"a LOGIN {4}\r\nuser {4}\r\npass\r\n"),
            command(b"b NOOP\r\n")
        ]
    );
}

#[test]
fn literal_data_is_never_taken_for_commands() {
    let mut framer = Framer::new(1024);
    framer.push(b"a APPEND INBOX {13}\r\nb LOGOUT\r\n{3}\r\n");
    assert_eq!(
        drain(&mut framer),
        [
            Event::Continue,
            command(b"a APPEND INBOX {13}\r\nb LOGOUT\r\n{3}\r\n")
        ]
    );
}

#[test]
fn non_synchronizing_literals_need_no_continuation() {
    let mut framer = Framer::new(1024);
    framer.push(b"a LOGIN {4+}\r\nuser {4+}\r\npass\r\n");
    assert_eq!(
        drain(&mut framer),
        [command(b"a LOGIN {4+}\r\nuser {4+}\r\npass\r\n")]
    );
}

#[test]
fn zero_length_literals() {
    let mut framer = Framer::new(1024);
    framer.push(b"a LOGIN {0}\r\n {0+}\r\n\r\n");
    assert_eq!(
        drain(&mut framer),
        [Event::Continue, command(b"a LOGIN {0}\r\n {0+}\r\n\r\n")]
    );
}

#[test]
fn limit_is_inclusive() {
    // "a APPEND X {N}\r\n" is 16 bytes with a one-digit N; the final "\r\n" is 2.
    let mut framer = Framer::new(25);
    framer.push(b"a APPEND X {7}\r\n");
    assert_eq!(drain(&mut framer), [Event::Continue]);
    framer.push(b"1234567\r\n");
    assert_eq!(
        drain(&mut framer),
        [command(b"a APPEND X {7}\r\n1234567\r\n")]
    );

    // 17 bytes of line and a 10-byte literal overshoot.
    framer.push(b"b APPEND X {10}\r\n");
    assert_eq!(drain(&mut framer), [too_big("b")]);

    let mut framer = Framer::new(8);
    framer.push(b"a NOOP\r\na NOOPX\r\n");
    assert_eq!(drain(&mut framer), [command(b"a NOOP\r\n"), too_big("a")]);
}

#[test]
fn synchronizing_literal_over_limit_is_refused_without_continuation() {
    let mut framer = Framer::new(100);
    framer.push(b"A003 APPEND saved-messages (\\Seen) {310}\r\n");
    assert_eq!(drain(&mut framer), [too_big("A003")]);
    // The client got a tagged reply instead of "+", so what follows is a new command.
    framer.push(b"A004 NOOP\r\n");
    assert_eq!(drain(&mut framer), [command(b"A004 NOOP\r\n")]);
}

#[test]
fn second_synchronizing_literal_over_limit_is_refused() {
    let mut framer = Framer::new(40);
    framer.push(b"a LOGIN {4}\r\n");
    assert_eq!(drain(&mut framer), [Event::Continue]);
    framer.push(b"user {40}\r\n");
    assert_eq!(drain(&mut framer), [too_big("a")]);
    framer.push(b"b NOOP\r\n");
    assert_eq!(drain(&mut framer), [command(b"b NOOP\r\n")]);
}

#[test]
fn non_synchronizing_literal_over_limit_is_read_and_dropped() {
    let mut framer = Framer::new(40);
    framer.set_discard_limit(1000);
    let mut input = b"a APPEND INBOX {60+}\r\n".to_vec();
    // Literal data that looks like commands must not come out as commands.
    input.extend_from_slice(b"x LOGOUT\r\ny LOGOUT\r\nz LOGOUT\r\n");
    input.resize(input.len() + 60 - 30, b'.');
    input.extend_from_slice(b"\r\nb NOOP\r\n");
    for chunk in input.chunks(7) {
        framer.push(chunk);
    }
    assert_eq!(drain(&mut framer), [too_big("a"), command(b"b NOOP\r\n")]);
}

#[test]
fn non_synchronizing_literal_beyond_discard_limit_is_fatal() {
    let mut framer = Framer::new(40);
    framer.set_discard_limit(100);
    framer.push(b"a APPEND INBOX {200+}\r\n");
    assert_eq!(drain(&mut framer), [Event::Fatal]);
    framer.push(b"b NOOP\r\n");
    assert_eq!(framer.next(), None);
    assert_eq!(framer.next_line(), None);
}

#[test]
fn over_long_line_is_dropped_and_reported_with_its_tag() {
    let mut framer = Framer::new(16);
    framer.push(b"t1 SEARCH ");
    framer.push(&[b'X'; 20]);
    assert_eq!(framer.next(), None);
    framer.push(b"\r\nt2 NOOP\r\n");
    assert_eq!(drain(&mut framer), [too_big("t1"), command(b"t2 NOOP\r\n")]);
}

#[test]
fn over_long_line_without_visible_tag() {
    let mut framer = Framer::new(4);
    // Room to drop the whole line (past it, the line would be fatal).
    framer.set_discard_limit(100);
    framer.push(b"longtag NOOP\r\n");
    assert_eq!(drain(&mut framer), [Event::TooBig { tag: None }]);
}

#[test]
fn endless_line_is_fatal_past_the_discard_limit() {
    let mut framer = Framer::new(16);
    framer.set_discard_limit(16);
    framer.push(&[b'a'; 32]);
    assert_eq!(framer.next(), None);
    framer.push(b"a");
    assert_eq!(drain(&mut framer), [Event::Fatal]);
}

/// See: issue 11. Found by fuzzing: a line past the discard limit was `Fatal` when it
/// arrived in pieces but `TooBig` when it arrived in one read; now it is `Fatal`
/// however it arrives, and a line at the discard limit is `TooBig` however it arrives.
#[test]
fn issue_11_discard_limit_does_not_depend_on_how_a_line_arrives() {
    // Command limit 16 and discard limit 16: a command may run to 32 bytes.
    // `text`, padded with `x` to `len` bytes in all with `end`.
    let line = |text: &[u8], len: usize, end: &[u8]| {
        let mut line = text.to_vec();
        line.resize(len - end.len(), b'x');
        line.extend_from_slice(end);
        line
    };
    let cases: &[(&str, Vec<u8>, Vec<Event>)] = &[
        (
            "at the limit",
            line(b"t1 SELECT ", 32, b"\r\n"),
            vec![too_big("t1")],
        ),
        (
            "one past",
            line(b"t1 SELECT ", 33, b"\r\n"),
            vec![Event::Fatal],
        ),
        (
            "far past",
            line(b"t1 SELECT ", 400, b"\r\n"),
            vec![Event::Fatal],
        ),
        (
            "sync literal at the limit",
            line(b"t1 LOGIN ", 32, b" {1}\r\n"),
            vec![too_big("t1")],
        ),
        (
            "sync literal one past",
            line(b"t1 LOGIN ", 33, b" {1}\r\n"),
            vec![Event::Fatal],
        ),
    ];
    for (name, bytes, want) in cases {
        for piece in [bytes.len(), 7, 1] {
            let mut framer = Framer::new(16);
            framer.set_discard_limit(16);
            let mut events = Vec::new();
            for chunk in bytes.chunks(piece) {
                framer.push(chunk);
                events.extend(drain(&mut framer));
            }
            assert_eq!(&events, want, "{name}, in pieces of {piece}");
        }
    }
}

#[test]
fn malformed_lines_do_not_disturb_framing() {
    let mut framer = Framer::new(1024);
    framer.push(b"\x00\xff junk {x}\r\n{12345678901234567890}\r\na NOOP\r\n");
    assert_eq!(
        drain(&mut framer),
        [
            command(b"\x00\xff junk {x}\r\n"),
            command(b"{12345678901234567890}\r\n"),
            command(b"a NOOP\r\n"),
        ]
    );
}

#[test]
fn raw_lines_for_authenticate_share_the_buffer() {
    let mut framer = Framer::new(1024);
    framer.push(b"a AUTHENTICATE PLAIN\r\nAHVzZXIAcGFzcw==\r\nb NOOP\r\n");
    assert_eq!(framer.next(), Some(command(b"a AUTHENTICATE PLAIN\r\n")));
    assert_eq!(framer.next_line(), Some(Ok(b"AHVzZXIAcGFzcw==".to_vec())));
    assert_eq!(framer.next(), Some(command(b"b NOOP\r\n")));
    assert_eq!(framer.next(), None);
}

#[test]
fn idle_done_then_commands() {
    let mut framer = Framer::new(1024);
    framer.push(b"a IDLE\r\nDO");
    assert_eq!(framer.next(), Some(command(b"a IDLE\r\n")));
    assert_eq!(framer.next_line(), None);
    framer.push(b"NE\nb {3}\r\n");
    assert_eq!(framer.next_line(), Some(Ok(b"DONE".to_vec())));
    // Back in command mode the literal announcement counts again.
    assert_eq!(framer.next(), Some(Event::Continue));
}

#[test]
fn raw_lines_do_not_interpret_literals() {
    let mut framer = Framer::new(1024);
    framer.push(b"{5}\r\nabc\r\n");
    assert_eq!(framer.next_line(), Some(Ok(b"{5}".to_vec())));
    assert_eq!(framer.next_line(), Some(Ok(b"abc".to_vec())));
    assert_eq!(framer.next_line(), None);
}

#[test]
fn over_long_raw_line_is_too_long_then_framing_goes_on() {
    let mut framer = Framer::new(8);
    framer.push(b"123456789\r\n12345678\r\n");
    assert_eq!(framer.next_line(), Some(Err(TooLong { limit: 8 })));
    assert_eq!(framer.next_line(), Some(Ok(b"12345678".to_vec())));

    framer.push(&[b'x'; 30]);
    assert_eq!(framer.next_line(), None);
    assert_eq!(framer.buffered(), 0, "an endless line is not kept");
    framer.push(b"xx\r\nok\r\n");
    assert_eq!(framer.next_line(), Some(Err(TooLong { limit: 8 })));
    assert_eq!(framer.next_line(), Some(Ok(b"ok".to_vec())));
}

#[test]
fn next_line_abandons_a_partial_command() {
    let mut framer = Framer::new(1024);
    framer.push(b"a LOGIN {4}\r\n");
    assert_eq!(framer.next(), Some(Event::Continue));
    framer.push(b"*\r\n");
    assert_eq!(framer.next_line(), Some(Ok(b"*".to_vec())));
}

#[test]
fn reset_drops_pipelined_plaintext_after_starttls() {
    let mut framer = Framer::new(1024);
    framer.push(b"a STARTTLS\r\nb LOGIN evil injected\r\nc PARTIAL");
    assert_eq!(framer.next(), Some(command(b"a STARTTLS\r\n")));
    assert_eq!(framer.reset(), b"b LOGIN evil injected\r\nc PARTIAL".len());
    assert_eq!(framer.next(), None);
    framer.push(b"d CAPABILITY\r\n");
    assert_eq!(framer.next(), Some(command(b"d CAPABILITY\r\n")));
}

#[test]
fn reset_drops_a_partial_command() {
    let mut framer = Framer::new(1024);
    framer.push(b"a LOGIN {4}\r\nus");
    assert_eq!(drain(&mut framer), [Event::Continue]);
    assert_eq!(framer.buffered(), 15);
    assert_eq!(framer.reset(), 15);
    framer.push(b"b NOOP\r\n");
    assert_eq!(framer.next(), Some(command(b"b NOOP\r\n")));
}

#[test]
fn new_limit_applies_from_the_next_command() {
    let mut framer = Framer::new(20);
    framer.push(b"a LOGIN {4}\r\n");
    assert_eq!(framer.next(), Some(Event::Continue));
    framer.set_max_command(1000);
    // The LOGIN in progress keeps its limit of 20; the APPEND gets 1000.
    framer.push(b"user pass\r\nb APPEND X {100}\r\n");
    assert_eq!(drain(&mut framer), [too_big("a"), Event::Continue]);
    framer.set_max_command(10);
    let head = b"b APPEND X {100}\r\n";
    let mut append = head.to_vec();
    append.extend_from_slice(&[b'm'; 100]);
    append.extend_from_slice(b"\r\n");
    framer.push(&append[head.len()..]);
    framer.push(b"c NOOP\r\nd NOOP NOOP\r\n");
    assert_eq!(
        drain(&mut framer),
        [command(&append), command(b"c NOOP\r\n"), too_big("d")]
    );
}

/// Bytes that make interesting IMAP input: literal syntax, line ends, a tag, words.
fn imap_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"{".to_vec()),
        Just(b"}".to_vec()),
        Just(b"+".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"a ".to_vec()),
        Just(b"NOOP".to_vec()),
        "[0-9]{1,3}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn never_panics_and_never_exceeds_the_limit(
        max in 0u32..64,
        chunks in proptest::collection::vec(imap_bytes(), 0..6),
        raw_every in 0usize..4,
    ) {
        let mut framer = Framer::new(max);
        framer.set_discard_limit(max.saturating_mul(2));
        let mut pushed = 0usize;
        let mut taken = 0usize;
        for (i, chunk) in chunks.iter().enumerate() {
            framer.push(chunk);
            pushed += chunk.len();
            if raw_every > 0 && i % raw_every == 0 {
                while let Some(line) = framer.next_line() {
                    if let Ok(line) = line {
                        prop_assert!(line.len() <= max as usize);
                        taken += line.len();
                    }
                }
            }
            while let Some(event) = framer.next() {
                if let Event::Command(bytes) = event {
                    prop_assert!(bytes.len() <= max as usize);
                    taken += bytes.len();
                }
            }
            prop_assert!(framer.buffered() <= pushed);
        }
        prop_assert!(taken <= pushed);
    }
}
