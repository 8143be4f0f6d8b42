use super::*;
use crate::ehlo::Capability;
use crate::sasl::Mechanism;
use proptest::prelude::*;

#[test]
fn named_replies_render_exactly() {
    let cases: Vec<(&str, Reply, &str)> = vec![
        (
            "greeting",
            Reply::greeting("mx.example.org"),
            "220 mx.example.org ESMTP Postern\r\n",
        ),
        (
            "helo",
            Reply::helo("mx.example.org"),
            "250 mx.example.org\r\n",
        ),
        ("ok", Reply::ok(), "250 2.0.0 Ok\r\n"),
        ("sender_ok", Reply::sender_ok(), "250 2.1.0 Ok\r\n"),
        ("recipient_ok", Reply::recipient_ok(), "250 2.1.5 Ok\r\n"),
        (
            "start_data",
            Reply::start_data(),
            "354 End data with <CR><LF>.<CR><LF>\r\n",
        ),
        (
            "queued",
            Reply::queued("4XkQ2bZ9cLz3"),
            "250 2.0.0 Ok: queued as 4XkQ2bZ9cLz3\r\n",
        ),
        (
            "chunk_ok",
            Reply::chunk_ok(1024),
            "250 2.0.0 Ok: 1024 octets\r\n",
        ),
        ("closing", Reply::closing(), "221 2.0.0 Bye\r\n"),
        (
            "vrfy_cannot",
            Reply::vrfy_cannot(),
            "252 2.0.0 Cannot verify the user; send mail and delivery will be attempted\r\n",
        ),
        (
            "help",
            Reply::help(),
            "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH\r\n",
        ),
        (
            "ready_for_tls",
            Reply::ready_for_tls(),
            "220 2.0.0 Ready to start TLS\r\n",
        ),
        (
            "auth_ok",
            Reply::auth_ok(),
            "235 2.7.0 Authentication successful\r\n",
        ),
        (
            "auth_challenge",
            Reply::auth_challenge("VXNlcm5hbWU6"),
            "334 VXNlcm5hbWU6\r\n",
        ),
        (
            "auth_challenge empty",
            Reply::auth_challenge(""),
            "334 \r\n",
        ),
        (
            "bad_sequence",
            Reply::bad_sequence("send HELO/EHLO first"),
            "503 5.5.1 Error: send HELO/EHLO first\r\n",
        ),
        (
            "syntax",
            Reply::syntax("MAIL FROM:<address>"),
            "501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
        ),
        (
            "bad_syntax",
            Reply::bad_syntax("invalid UTF-8"),
            "501 5.5.2 Syntax error: invalid UTF-8\r\n",
        ),
        (
            "bad_sender_syntax",
            Reply::bad_sender_syntax(),
            "501 5.1.7 Bad sender address syntax\r\n",
        ),
        (
            "bad_recipient_syntax",
            Reply::bad_recipient_syntax(),
            "501 5.1.3 Bad recipient address syntax\r\n",
        ),
        (
            "unsupported_parameter",
            Reply::unsupported_parameter("FOO"),
            "555 5.5.4 Unsupported option: FOO\r\n",
        ),
        (
            "invalid_parameter",
            Reply::invalid_parameter("SIZE", "not a number"),
            "501 5.5.4 Bad parameter: SIZE (not a number)\r\n",
        ),
        (
            "unknown_command",
            Reply::unknown_command(),
            "500 5.5.2 Error: command not recognized\r\n",
        ),
        (
            "not_implemented",
            Reply::not_implemented(),
            "502 5.5.1 Error: command not implemented\r\n",
        ),
        (
            "expn_disabled",
            Reply::expn_disabled(),
            "502 5.5.1 Error: EXPN is not available\r\n",
        ),
        (
            "line_too_long",
            Reply::line_too_long(),
            "500 5.5.2 Error: line too long\r\n",
        ),
        (
            "smtputf8_required",
            Reply::smtputf8_required(),
            "553 5.6.7 Error: address requires SMTPUTF8\r\n",
        ),
        (
            "too_many_recipients",
            Reply::too_many_recipients(),
            "452 4.5.3 Error: too many recipients\r\n",
        ),
        (
            "no_valid_recipients",
            Reply::no_valid_recipients(),
            "554 5.5.1 Error: no valid recipients\r\n",
        ),
        (
            "relay_denied",
            Reply::relay_denied("b@example.net"),
            "554 5.7.1 <b@example.net>: Relay access denied\r\n",
        ),
        (
            "unknown_user",
            Reply::unknown_user("nobody@example.org"),
            "550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown\r\n",
        ),
        (
            "sender_not_owned",
            Reply::sender_not_owned("boss@example.org"),
            "553 5.7.1 <boss@example.org>: Sender address rejected: not owned by the authenticated user\r\n",
        ),
        (
            "too_big",
            Reply::too_big(),
            "552 5.3.4 Message size exceeds fixed limit\r\n",
        ),
        (
            "message_line_too_long",
            Reply::message_line_too_long(),
            "500 5.5.2 Error: message line too long\r\n",
        ),
        (
            "bare_newline",
            Reply::bare_newline(),
            "550 5.5.2 Error: bare <LF> received\r\n",
        ),
        (
            "bare_carriage_return",
            Reply::bare_carriage_return(),
            "550 5.5.2 Error: bare <CR> received\r\n",
        ),
        (
            "auth_failed",
            Reply::auth_failed(),
            "535 5.7.8 Authentication failed\r\n",
        ),
        (
            "auth_required",
            Reply::auth_required(),
            "530 5.7.0 Authentication required\r\n",
        ),
        (
            "encryption_required",
            Reply::encryption_required(),
            "530 5.7.0 Must issue a STARTTLS command first\r\n",
        ),
        (
            "auth_throttled",
            Reply::auth_throttled(),
            "454 4.7.0 Temporary authentication failure\r\n",
        ),
        (
            "auth_cancelled",
            Reply::auth_cancelled(),
            "501 5.7.0 Authentication aborted\r\n",
        ),
        (
            "auth_bad_response",
            Reply::auth_bad_response(),
            "501 5.5.2 Error: cannot decode the response\r\n",
        ),
        (
            "auth_mechanism_unsupported",
            Reply::auth_mechanism_unsupported(),
            "504 5.5.4 Unsupported authentication mechanism\r\n",
        ),
        (
            "auth_line_too_long",
            Reply::auth_line_too_long(),
            "500 5.5.6 Authentication exchange line is too long\r\n",
        ),
        (
            "tls_not_available",
            Reply::tls_not_available(),
            "454 4.7.0 TLS not available\r\n",
        ),
        (
            "too_many_errors",
            Reply::too_many_errors("mx.example.org"),
            "421 4.7.0 mx.example.org Error: too many errors\r\n",
        ),
        (
            "timeout",
            Reply::timeout("mx.example.org"),
            "421 4.4.2 mx.example.org Error: timeout exceeded\r\n",
        ),
        (
            "shutting_down",
            Reply::shutting_down("mx.example.org"),
            "421 4.3.2 mx.example.org Service shutting down\r\n",
        ),
        (
            "too_many_connections",
            Reply::too_many_connections("mx.example.org"),
            "421 4.7.0 mx.example.org Error: too many connections\r\n",
        ),
        (
            "storage_full",
            Reply::storage_full(),
            "452 4.3.1 Insufficient system storage\r\n",
        ),
        (
            "local_error",
            Reply::local_error(),
            "451 4.3.0 Error: queue file write error\r\n",
        ),
    ];
    for (name, reply, wire) in cases {
        assert_eq!(reply.to_string(), wire, "{name}");
        let mut bytes = Vec::new();
        reply.write_to(&mut bytes);
        assert_eq!(bytes, wire.as_bytes(), "{name} write_to");
        // Every status we send matches its reply class.
        if let Some(status) = reply.status {
            assert_eq!(status.class().digit(), reply.code.class(), "{name} class");
        }
    }
}

#[test]
fn ehlo_multi_line() {
    let reply = Reply::ehlo(
        "mx.example.org",
        &[
            Capability::Pipelining,
            Capability::Size(10_240_000),
            Capability::Auth(vec![Mechanism::Plain, Mechanism::Login]),
            Capability::Chunking,
        ],
    );
    assert_eq!(
        reply.to_string(),
        "250-mx.example.org\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-AUTH PLAIN LOGIN\r\n250 CHUNKING\r\n"
    );
    assert_eq!(Reply::ehlo("h", &[]).to_string(), "250 h\r\n");
}

#[test]
fn multi_line_with_status_repeats_it() {
    let reply = Reply::new(ReplyCode::HELP, Some(EnhancedStatus::OK), "first").with_line("second");
    assert_eq!(reply.to_string(), "214-2.0.0 first\r\n214 2.0.0 second\r\n");
    assert_eq!(reply.lines().collect::<Vec<_>>(), ["first", "second"]);
}

#[test]
fn text_is_sanitised() {
    for (name, text, wire) in [
        ("crlf injection", "a\r\n250 fake", "550 a  250 fake\r\n"),
        ("bare lf", "a\nb", "550 a b\r\n"),
        ("nul and tab", "a\0b\tc", "550 a b c\r\n"),
        ("del", "a\u{7f}b", "550 a b\r\n"),
        ("c1 control", "a\u{85}b", "550 a b\r\n"),
        ("utf-8 kept", "caf\u{e9}", "550 caf\u{e9}\r\n"),
    ] {
        let reply = Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, None, text.to_owned());
        assert_eq!(reply.to_string(), wire, "{name}");
    }
    let injected = Reply::relay_denied("a>\r\n250 2.0.0 Ok: queued as X\r\n<b");
    assert_eq!(injected.render().matches("\r\n").count(), 1);
}

#[test]
fn lines_are_cut_at_512_octets() {
    // "550 5.7.1 " is 10 octets; 500 fit before CRLF.
    let fits = "x".repeat(500);
    let reply = Reply::new(
        ReplyCode::MAILBOX_UNAVAILABLE,
        Some(EnhancedStatus::known(status::StatusClass::Permanent, 7, 1)),
        fits.clone(),
    );
    assert_eq!(reply.render().len(), MAX_REPLY_LINE);
    assert!(reply.render().contains(&fits));
    let longer = Reply::new(reply.code, reply.status, "x".repeat(501));
    assert_eq!(longer.render().len(), MAX_REPLY_LINE);
    // A multi-byte character is never split.
    let utf8 = Reply::new(ReplyCode::MAILBOX_UNAVAILABLE, None, "\u{e9}".repeat(300));
    let rendered = utf8.render();
    assert!(rendered.len() <= MAX_REPLY_LINE);
    assert!(rendered.ends_with("\u{e9}\r\n"));
}

#[test]
fn summary_is_one_line() {
    let reply = Reply::new(ReplyCode::OK, Some(EnhancedStatus::OK), "a\r\nb").with_line("c");
    assert_eq!(reply.summary(), "250 2.0.0 a  b c");
    assert_eq!(Reply::greeting("h").summary(), "220 h ESMTP Postern");
}

fn parse_all(parser: &mut ReplyParser, mut input: &[u8]) -> Result<Vec<Reply>, ReplyError> {
    let mut replies = Vec::new();
    while !input.is_empty() {
        let progress = parser.parse(input)?;
        input = &input[progress.consumed..];
        replies.extend(progress.output);
    }
    Ok(replies)
}

fn reply(code: u16, status: Option<&str>, lines: &[&str]) -> Reply {
    let mut reply = Reply::new(
        ReplyCode::new(code).unwrap(),
        status.map(|s| s.parse().unwrap()),
        lines[0].to_owned(),
    );
    for line in &lines[1..] {
        reply = reply.with_line((*line).to_owned());
    }
    reply
}

#[test]
fn parser_good_inputs() {
    let cases: Vec<(&str, &[u8], Vec<Reply>)> = vec![
        ("single", b"250 Ok\r\n", vec![reply(250, None, &["Ok"])]),
        (
            "with status",
            b"250 2.1.0 Ok\r\n",
            vec![reply(250, Some("2.1.0"), &["Ok"])],
        ),
        (
            "status only",
            b"250 2.0.0\r\n",
            vec![reply(250, Some("2.0.0"), &[""])],
        ),
        ("code only", b"250\r\n", vec![reply(250, None, &[""])]),
        ("bare lf", b"220 hi\n", vec![reply(220, None, &["hi"])]),
        (
            "multi-line",
            b"250-mx.example.org\r\n250-PIPELINING\r\n250 SIZE 100\r\n",
            vec![reply(
                250,
                None,
                &["mx.example.org", "PIPELINING", "SIZE 100"],
            )],
        ),
        (
            "multi-line status stripped from each line",
            b"550-5.7.1 first\r\n550 5.7.1 second\r\n",
            vec![reply(550, Some("5.7.1"), &["first", "second"])],
        ),
        (
            "status class must match code",
            b"550 2.0.0 odd\r\n",
            vec![reply(550, None, &["2.0.0 odd"])],
        ),
        (
            "pipelined replies",
            b"250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n354 go\r\n",
            vec![
                reply(250, Some("2.1.0"), &["Ok"]),
                reply(250, Some("2.1.5"), &["Ok"]),
                reply(354, None, &["go"]),
            ],
        ),
        (
            "non-utf8 text",
            b"250 caf\xe9\r\n",
            vec![reply(250, None, &["caf\u{fffd}"])],
        ),
    ];
    for (name, input, want) in cases {
        let mut parser = ReplyParser::new();
        assert_eq!(parse_all(&mut parser, input).unwrap(), want, "{name}");
        assert!(!parser.is_partial(), "{name}");
    }
}

#[test]
fn parser_bad_inputs() {
    let cases: Vec<(&str, &[u8], ReplyError)> = vec![
        ("letters", b"abc hi\r\n", ReplyError::Malformed),
        ("short", b"25\r\n", ReplyError::Malformed),
        ("code 199", b"199 hi\r\n", ReplyError::Malformed),
        ("code 600", b"600 hi\r\n", ReplyError::Malformed),
        ("bad separator", b"250xhi\r\n", ReplyError::Malformed),
        ("empty line", b"\r\n", ReplyError::Malformed),
        (
            "code changes",
            b"250-a\r\n251 b\r\n",
            ReplyError::InconsistentCode {
                first: ReplyCode::OK,
                got: ReplyCode::new(251).unwrap(),
            },
        ),
    ];
    for (name, input, want) in cases {
        let mut parser = ReplyParser::new();
        assert_eq!(parse_all(&mut parser, input), Err(want), "{name}");
    }
}

#[test]
fn parser_line_count_limit() {
    let mut parser = ReplyParser::with_limits(100, 3);
    assert_eq!(
        parse_all(&mut parser, b"250-a\r\n250-b\r\n250 c\r\n")
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        parse_all(&mut parser, b"250-a\r\n250-b\r\n250-c\r\n250 d\r\n"),
        Err(ReplyError::TooManyLines { limit: 3 })
    );
}

#[test]
fn parser_cuts_long_lines() {
    let mut parser = ReplyParser::with_limits(10, 10);
    // Kept: "550 abcdef" (10 octets); the rest of the line is skipped.
    let replies = parse_all(&mut parser, b"550 abcdefghijklmnop\r\n250 Ok\r\n").unwrap();
    assert_eq!(
        replies,
        vec![reply(550, None, &["abcdef"]), reply(250, None, &["Ok"])]
    );
}

#[test]
fn parser_split_at_every_boundary() {
    let input: &[u8] =
        b"250-mx.example.org\r\n250-8BITMIME\r\n250 2.0.0 SIZE 1\r\n221 2.0.0 Bye\r\n";
    let mut whole = ReplyParser::new();
    let want = parse_all(&mut whole, input).unwrap();
    assert_eq!(want.len(), 2);
    for cut in 0..=input.len() {
        let mut parser = ReplyParser::new();
        let mut got = parse_all(&mut parser, &input[..cut]).unwrap();
        got.extend(parse_all(&mut parser, &input[cut..]).unwrap());
        assert_eq!(got, want, "cut at {cut}");
    }
}

#[test]
fn parser_reads_what_we_render() {
    for sent in [
        Reply::queued("ABC"),
        Reply::help().with_line("more"),
        Reply::greeting("mx"),
        Reply::auth_challenge(""),
    ] {
        let mut parser = ReplyParser::new();
        let got = parse_all(&mut parser, sent.render().as_bytes()).unwrap();
        assert_eq!(got, vec![sent]);
    }
}

proptest! {
    #[test]
    fn parser_never_panics(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 0..8)) {
        let mut parser = ReplyParser::with_limits(64, 4);
        for chunk in &chunks {
            let mut input = chunk.as_slice();
            while !input.is_empty() {
                match parser.parse(input) {
                    Ok(progress) => {
                        prop_assert!(progress.consumed <= input.len());
                        prop_assert!(progress.consumed > 0);
                        input = &input[progress.consumed..];
                    }
                    Err(_) => break,
                }
            }
        }
    }

    #[test]
    fn rendering_never_breaks_lines(text in ".*", code in 200u16..600) {
        let reply = Reply::new(ReplyCode::new(code).unwrap(), None, text);
        let rendered = reply.render();
        prop_assert!(rendered.len() <= MAX_REPLY_LINE);
        prop_assert_eq!(rendered.matches('\n').count(), 1);
        prop_assert_eq!(rendered.matches('\r').count(), 1);
        prop_assert!(rendered.ends_with("\r\n"));
    }
}

#[test]
fn restriction_refusals() {
    let cases = [
        (
            Reply::access_denied(Checked::Client, "unknown[192.0.2.1]"),
            "554 5.7.1 <unknown[192.0.2.1]>: Client host rejected: Access denied\r\n",
        ),
        (
            Reply::access_denied(Checked::Helo, "x"),
            "554 5.7.1 <x>: Helo command rejected: Access denied\r\n",
        ),
        (
            Reply::access_deferred(Checked::Sender, "a@b"),
            "450 4.7.1 <a@b>: Sender address rejected: Try again later\r\n",
        ),
        (
            Reply::access_denied(Checked::Recipient, "a@b"),
            "554 5.7.1 <a@b>: Recipient address rejected: Access denied\r\n",
        ),
        (
            Reply::relay_deferred("x@y"),
            "450 4.7.1 <x@y>: Relay access denied\r\n",
        ),
    ];
    for (reply, want) in cases {
        assert_eq!(reply.to_string(), want);
    }
}
