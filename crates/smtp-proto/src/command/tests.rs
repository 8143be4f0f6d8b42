use super::*;
use crate::address::{AddressError, Mailbox};
use crate::reply::Reply;
use proptest::prelude::*;

fn mailbox(text: &str) -> Mailbox {
    Mailbox::parse(text).unwrap()
}

fn mail(path: ReversePath, params: MailParams) -> Command {
    Command::Mail(MailFrom { path, params })
}

fn rcpt(path: ForwardPath, params: RcptParams) -> Command {
    Command::Rcpt(RcptTo { path, params })
}

fn from(text: &str) -> ReversePath {
    ReversePath::Mailbox(mailbox(text))
}

fn to(text: &str) -> ForwardPath {
    ForwardPath::Mailbox(mailbox(text))
}

fn domain(text: &str) -> HeloName {
    HeloName::Domain(DomainName::parse(text).unwrap())
}

#[test]
fn good_commands() {
    let cases: Vec<(&str, &str, Command)> = vec![
        (
            "ehlo",
            "EHLO client.example",
            Command::Ehlo(domain("client.example")),
        ),
        (
            "ehlo lower case",
            "ehlo client.example",
            Command::Ehlo(domain("client.example")),
        ),
        (
            "helo",
            "HELO client.example",
            Command::Helo(domain("client.example")),
        ),
        (
            "ehlo ipv4 literal",
            "EHLO [192.0.2.1]",
            Command::Ehlo(HeloName::Literal("192.0.2.1".parse().unwrap())),
        ),
        (
            "ehlo ipv6 literal",
            "EHLO [IPv6:2001:db8::1]",
            Command::Ehlo(HeloName::Literal("2001:db8::1".parse().unwrap())),
        ),
        (
            "ehlo underscore kept as other",
            "EHLO my_pc",
            Command::Ehlo(HeloName::Other("my_pc".into())),
        ),
        (
            "ehlo bad literal kept as other",
            "EHLO [300.1.1.1]",
            Command::Ehlo(HeloName::Other("[300.1.1.1]".into())),
        ),
        (
            "ehlo trailing space",
            "EHLO x.example  ",
            Command::Ehlo(domain("x.example")),
        ),
        (
            "ehlo extra spaces",
            "EHLO   x.example",
            Command::Ehlo(domain("x.example")),
        ),
        (
            "mail",
            "MAIL FROM:<a@example.org>",
            mail(from("a@example.org"), MailParams::default()),
        ),
        (
            "mail any case",
            "mail from:<a@example.org>",
            mail(from("a@example.org"), MailParams::default()),
        ),
        (
            "mail space after colon",
            "MAIL FROM: <a@example.org>",
            mail(from("a@example.org"), MailParams::default()),
        ),
        (
            "mail null",
            "MAIL FROM:<>",
            mail(ReversePath::Null, MailParams::default()),
        ),
        (
            "mail route",
            "MAIL FROM:<@relay.example:a@example.org>",
            mail(from("a@example.org"), MailParams::default()),
        ),
        (
            "mail size",
            "MAIL FROM:<a@example.org> SIZE=1000",
            mail(
                from("a@example.org"),
                MailParams {
                    size: Some(1000),
                    ..MailParams::default()
                },
            ),
        ),
        (
            "mail size max u64",
            "MAIL FROM:<> SIZE=18446744073709551615",
            mail(
                ReversePath::Null,
                MailParams {
                    size: Some(u64::MAX),
                    ..MailParams::default()
                },
            ),
        ),
        (
            "mail all params",
            "MAIL FROM:<a@example.org> SIZE=5 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B1 AUTH=<>",
            mail(
                from("a@example.org"),
                MailParams {
                    size: Some(5),
                    body: Some(Body::EightBitMime),
                    smtputf8: true,
                    ret: Some(Ret::Headers),
                    envid: Some("QQ+1".into()),
                    auth: Some("<>".into()),
                },
            ),
        ),
        (
            "mail params any case",
            "MAIL FROM:<> body=7bit ret=full smtputf8",
            mail(
                ReversePath::Null,
                MailParams {
                    body: Some(Body::SevenBit),
                    ret: Some(Ret::Full),
                    smtputf8: true,
                    ..MailParams::default()
                },
            ),
        ),
        (
            "mail binarymime",
            "MAIL FROM:<> BODY=BINARYMIME",
            mail(
                ReversePath::Null,
                MailParams {
                    body: Some(Body::BinaryMime),
                    ..MailParams::default()
                },
            ),
        ),
        (
            "mail auth mailbox",
            "MAIL FROM:<> AUTH=a+2Bb@example.org",
            mail(
                ReversePath::Null,
                MailParams {
                    auth: Some("a+b@example.org".into()),
                    ..MailParams::default()
                },
            ),
        ),
        (
            "mail utf-8 with smtputf8",
            "MAIL FROM:<j\u{f6}rg@example.org> SMTPUTF8",
            mail(
                from("j\u{f6}rg@example.org"),
                MailParams {
                    smtputf8: true,
                    ..MailParams::default()
                },
            ),
        ),
        (
            "rcpt",
            "RCPT TO:<b@example.net>",
            rcpt(to("b@example.net"), RcptParams::default()),
        ),
        (
            "rcpt space after colon",
            "rcpt to: <b@example.net>",
            rcpt(to("b@example.net"), RcptParams::default()),
        ),
        (
            "rcpt postmaster",
            "RCPT TO:<Postmaster>",
            rcpt(ForwardPath::Postmaster, RcptParams::default()),
        ),
        (
            "rcpt notify never",
            "RCPT TO:<b@example.net> NOTIFY=NEVER",
            rcpt(
                to("b@example.net"),
                RcptParams {
                    notify: Some(Notify::Never),
                    ..RcptParams::default()
                },
            ),
        ),
        (
            "rcpt notify list",
            "RCPT TO:<b@example.net> NOTIFY=success,DELAY",
            rcpt(
                to("b@example.net"),
                RcptParams {
                    notify: Some(Notify::On(NotifyOn {
                        success: true,
                        failure: false,
                        delay: true,
                    })),
                    ..RcptParams::default()
                },
            ),
        ),
        (
            "rcpt orcpt",
            "RCPT TO:<b@example.net> ORCPT=rfc822;b+2Bx@example.net NOTIFY=FAILURE",
            rcpt(
                to("b@example.net"),
                RcptParams {
                    notify: Some(Notify::On(NotifyOn {
                        failure: true,
                        ..NotifyOn::default()
                    })),
                    orcpt: Some(Orcpt {
                        addr_type: "rfc822".into(),
                        address: "b+x@example.net".into(),
                    }),
                },
            ),
        ),
        (
            "rcpt utf-8 parses (caller checks SMTPUTF8)",
            "RCPT TO:<b@b\u{fc}cher.example>",
            rcpt(to("b@b\u{fc}cher.example"), RcptParams::default()),
        ),
        ("data", "DATA", Command::Data),
        ("data lower", "data", Command::Data),
        (
            "bdat",
            "BDAT 100",
            Command::Bdat {
                size: 100,
                last: false,
            },
        ),
        (
            "bdat last",
            "BDAT 0 LAST",
            Command::Bdat {
                size: 0,
                last: true,
            },
        ),
        (
            "bdat last lower",
            "bdat 7 last",
            Command::Bdat {
                size: 7,
                last: true,
            },
        ),
        ("rset", "RSET", Command::Rset),
        ("noop", "NOOP", Command::Noop),
        ("noop with text", "NOOP anything at all", Command::Noop),
        ("quit", "QUIT", Command::Quit),
        ("quit trailing space", "QUIT ", Command::Quit),
        ("vrfy", "VRFY someone", Command::Vrfy("someone".into())),
        (
            "vrfy spaces kept",
            "VRFY John  Smith",
            Command::Vrfy("John  Smith".into()),
        ),
        ("expn", "EXPN staff", Command::Expn("staff".into())),
        ("help", "HELP", Command::Help(None)),
        (
            "help topic",
            "HELP MAIL",
            Command::Help(Some("MAIL".into())),
        ),
        ("starttls", "STARTTLS", Command::StartTls),
        ("starttls lower", "starttls", Command::StartTls),
        (
            "auth plain",
            "AUTH PLAIN",
            Command::Auth {
                mechanism: Mechanism::Plain,
                initial_response: None,
            },
        ),
        (
            "auth plain initial",
            "AUTH plain AGFsaWNlAHNlY3JldA==",
            Command::Auth {
                mechanism: Mechanism::Plain,
                initial_response: Some(Secret::new("AGFsaWNlAHNlY3JldA==")),
            },
        ),
        (
            "auth empty initial",
            "AUTH PLAIN =",
            Command::Auth {
                mechanism: Mechanism::Plain,
                initial_response: Some(Secret::new("=")),
            },
        ),
        (
            "auth login",
            "AUTH LOGIN",
            Command::Auth {
                mechanism: Mechanism::Login,
                initial_response: None,
            },
        ),
        (
            "auth unknown mechanism parses",
            "AUTH CRAM-MD5",
            Command::Auth {
                mechanism: Mechanism::Other("CRAM-MD5".into()),
                initial_response: None,
            },
        ),
        (
            "tab separator",
            "EHLO\tx.example",
            Command::Ehlo(domain("x.example")),
        ),
    ];
    for (name, line, want) in cases {
        assert_eq!(parse_command(line.as_bytes()), Ok(want), "{name}: {line:?}");
    }
}

#[test]
fn bad_commands() {
    use CommandError as E;
    let syntax = |verb| E::Syntax { verb };
    let invalid = |verb, name: &str, reason| E::InvalidParameter {
        verb,
        name: name.into(),
        reason,
    };
    let cases: Vec<(&str, &[u8], CommandError)> = vec![
        ("empty line", b"", E::Unrecognized),
        ("unknown verb", b"FOO bar", E::Unrecognized),
        ("verb prefix", b"MAILX FROM:<a@b.example>", E::Unrecognized),
        ("leading space", b" QUIT", E::Unrecognized),
        ("http", b"GET / HTTP/1.1", E::Unrecognized),
        ("ehlo without name", b"EHLO", syntax(Verb::Ehlo)),
        (
            "ehlo two words",
            b"EHLO a.example b.example",
            syntax(Verb::Ehlo),
        ),
        ("helo without name", b"HELO ", syntax(Verb::Helo)),
        (
            "mail without from",
            b"MAIL <a@b.example>",
            syntax(Verb::Mail),
        ),
        ("mail without path", b"MAIL FROM:", syntax(Verb::Mail)),
        (
            "mail without brackets",
            b"MAIL FROM:a@b.example",
            syntax(Verb::Mail),
        ),
        (
            "mail space before colon",
            b"MAIL FROM :<a@b.example>",
            syntax(Verb::Mail),
        ),
        (
            "mail glued param",
            b"MAIL FROM:<a@b.example>SIZE=1",
            syntax(Verb::Mail),
        ),
        (
            "mail bad address",
            b"MAIL FROM:<a..b@b.example>",
            E::BadSender(AddressError::InvalidLocalPart),
        ),
        (
            "mail postmaster alone",
            b"MAIL FROM:<postmaster>",
            E::BadSender(AddressError::MissingDomain),
        ),
        (
            "mail unclosed",
            b"MAIL FROM:<a@b.example",
            E::BadSender(AddressError::MissingBrackets),
        ),
        (
            "mail utf-8 without smtputf8",
            "MAIL FROM:<j\u{f6}rg@example.org>".as_bytes(),
            E::Smtputf8Required,
        ),
        (
            "mail unknown param",
            b"MAIL FROM:<> XFOO=1",
            E::UnsupportedParameter {
                verb: Verb::Mail,
                name: "XFOO".into(),
            },
        ),
        (
            "mail rcpt-only param",
            b"MAIL FROM:<> NOTIFY=NEVER",
            E::UnsupportedParameter {
                verb: Verb::Mail,
                name: "NOTIFY".into(),
            },
        ),
        (
            "mail size letters",
            b"MAIL FROM:<> SIZE=12k",
            invalid(Verb::Mail, "SIZE", "not a number"),
        ),
        (
            "mail size sign",
            b"MAIL FROM:<> SIZE=+12",
            invalid(Verb::Mail, "SIZE", "not a number"),
        ),
        (
            "mail size overflow",
            b"MAIL FROM:<> SIZE=18446744073709551616",
            invalid(Verb::Mail, "SIZE", "not a number"),
        ),
        (
            "mail size without value",
            b"MAIL FROM:<> SIZE",
            invalid(Verb::Mail, "SIZE", "value required"),
        ),
        (
            "mail size empty value",
            b"MAIL FROM:<> SIZE=",
            invalid(Verb::Mail, "SIZE", "malformed value"),
        ),
        (
            "mail value with =",
            b"MAIL FROM:<> SIZE=1=2",
            invalid(Verb::Mail, "SIZE", "malformed value"),
        ),
        (
            "mail bad body",
            b"MAIL FROM:<> BODY=9BIT",
            invalid(Verb::Mail, "BODY", "unknown body type"),
        ),
        (
            "mail smtputf8 value",
            b"MAIL FROM:<> SMTPUTF8=yes",
            invalid(Verb::Mail, "SMTPUTF8", "takes no value"),
        ),
        (
            "mail bad ret",
            b"MAIL FROM:<> RET=ALL",
            invalid(Verb::Mail, "RET", "expected FULL or HDRS"),
        ),
        (
            "mail envid lower hex",
            b"MAIL FROM:<> ENVID=a+2b",
            invalid(Verb::Mail, "ENVID", "bad xtext"),
        ),
        (
            "mail envid escaped LF",
            b"MAIL FROM:<> ENVID=a+0A",
            invalid(Verb::Mail, "ENVID", "bad xtext"),
        ),
        (
            "mail duplicate",
            b"MAIL FROM:<> SIZE=1 size=2",
            E::DuplicateParameter {
                verb: Verb::Mail,
                name: "SIZE".into(),
            },
        ),
        ("mail bad keyword", b"MAIL FROM:<> -X=1", syntax(Verb::Mail)),
        (
            "rcpt without to",
            b"RCPT <b@example.net>",
            syntax(Verb::Rcpt),
        ),
        (
            "rcpt from instead of to",
            b"RCPT FROM:<b@example.net>",
            syntax(Verb::Rcpt),
        ),
        (
            "rcpt null",
            b"RCPT TO:<>",
            E::BadRecipient(AddressError::NullNotAllowed),
        ),
        (
            "rcpt no domain",
            b"RCPT TO:<root>",
            E::BadRecipient(AddressError::MissingDomain),
        ),
        (
            "rcpt mail-only param",
            b"RCPT TO:<b@example.net> SIZE=1",
            E::UnsupportedParameter {
                verb: Verb::Rcpt,
                name: "SIZE".into(),
            },
        ),
        (
            "rcpt never with others",
            b"RCPT TO:<b@example.net> NOTIFY=NEVER,SUCCESS",
            invalid(
                Verb::Rcpt,
                "NOTIFY",
                "expected NEVER or SUCCESS,FAILURE,DELAY",
            ),
        ),
        (
            "rcpt notify repeated item",
            b"RCPT TO:<b@example.net> NOTIFY=DELAY,DELAY",
            invalid(
                Verb::Rcpt,
                "NOTIFY",
                "expected NEVER or SUCCESS,FAILURE,DELAY",
            ),
        ),
        (
            "rcpt notify empty item",
            b"RCPT TO:<b@example.net> NOTIFY=SUCCESS,",
            invalid(
                Verb::Rcpt,
                "NOTIFY",
                "expected NEVER or SUCCESS,FAILURE,DELAY",
            ),
        ),
        (
            "rcpt notify unknown",
            b"RCPT TO:<b@example.net> NOTIFY=ALWAYS",
            invalid(
                Verb::Rcpt,
                "NOTIFY",
                "expected NEVER or SUCCESS,FAILURE,DELAY",
            ),
        ),
        (
            "rcpt orcpt without type",
            b"RCPT TO:<b@example.net> ORCPT=b@example.net",
            invalid(Verb::Rcpt, "ORCPT", "expected addr-type;address"),
        ),
        (
            "rcpt orcpt empty type",
            b"RCPT TO:<b@example.net> ORCPT=;b@example.net",
            invalid(Verb::Rcpt, "ORCPT", "bad address type"),
        ),
        (
            "rcpt orcpt empty address",
            b"RCPT TO:<b@example.net> ORCPT=rfc822;",
            invalid(Verb::Rcpt, "ORCPT", "empty address"),
        ),
        (
            "rcpt orcpt bad xtext",
            b"RCPT TO:<b@example.net> ORCPT=rfc822;a+zz",
            invalid(Verb::Rcpt, "ORCPT", "bad xtext"),
        ),
        ("data with argument", b"DATA now", syntax(Verb::Data)),
        ("rset with argument", b"RSET x", syntax(Verb::Rset)),
        ("quit with argument", b"QUIT now", syntax(Verb::Quit)),
        (
            "starttls with argument",
            b"STARTTLS x",
            syntax(Verb::StartTls),
        ),
        ("vrfy without argument", b"VRFY", syntax(Verb::Vrfy)),
        ("expn without argument", b"EXPN  ", syntax(Verb::Expn)),
        ("bdat without size", b"BDAT", syntax(Verb::Bdat)),
        ("bdat negative", b"BDAT -1", syntax(Verb::Bdat)),
        ("bdat plus sign", b"BDAT +1", syntax(Verb::Bdat)),
        ("bdat letters", b"BDAT 1k", syntax(Verb::Bdat)),
        (
            "bdat overflow",
            b"BDAT 18446744073709551616",
            syntax(Verb::Bdat),
        ),
        ("bdat bad flag", b"BDAT 1 FIRST", syntax(Verb::Bdat)),
        ("bdat three words", b"BDAT 1 LAST x", syntax(Verb::Bdat)),
        ("auth without mechanism", b"AUTH", syntax(Verb::Auth)),
        ("auth bad mechanism", b"AUTH PL@IN", syntax(Verb::Auth)),
        (
            "auth mechanism too long",
            b"AUTH ABCDEFGHIJKLMNOPQRSTU",
            syntax(Verb::Auth),
        ),
        (
            "auth three words",
            b"AUTH PLAIN abc def",
            syntax(Verb::Auth),
        ),
        (
            "nul in line",
            b"NOOP a\0b",
            E::ControlCharacter { verb: Verb::Noop },
        ),
        (
            "bare cr in line",
            b"MAIL FROM:<a@b.example>\r",
            E::ControlCharacter { verb: Verb::Mail },
        ),
        (
            "escape in line",
            b"HELP \x1b[2J",
            E::ControlCharacter { verb: Verb::Help },
        ),
        (
            "invalid utf-8",
            b"VRFY caf\xe9",
            E::InvalidUtf8 { verb: Verb::Vrfy },
        ),
    ];
    for (name, line, want) in cases {
        assert_eq!(
            parse_command(line),
            Err(want),
            "{name}: {:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn line_limits() {
    // 512 octets including CRLF: 510 without.
    let noop = |len: usize| format!("NOOP {}", "x".repeat(len - 5));
    assert_eq!(parse_command(noop(510).as_bytes()), Ok(Command::Noop));
    assert_eq!(
        parse_command(noop(511).as_bytes()),
        Err(CommandError::LineTooLong {
            verb: Some(Verb::Noop),
            limit: 512
        })
    );
    let unknown = "X".repeat(511);
    assert_eq!(
        parse_command(unknown.as_bytes()),
        Err(CommandError::LineTooLong {
            verb: None,
            limit: 512
        })
    );
    // MAIL and RCPT: 2048 including CRLF.
    let mail = |len: usize| {
        let head = "MAIL FROM:<> ENVID=";
        format!("{head}{}", "x".repeat(len - head.len()))
    };
    assert!(matches!(
        parse_command(mail(2046).as_bytes()),
        Err(CommandError::InvalidParameter { .. })
    ));
    assert_eq!(
        parse_command(mail(2047).as_bytes()),
        Err(CommandError::LineTooLong {
            verb: Some(Verb::Mail),
            limit: 2048
        })
    );
    // AUTH: 12288 including CRLF.
    let auth = |len: usize| format!("AUTH PLAIN {}", "A".repeat(len - 11));
    assert!(parse_command(auth(12_286).as_bytes()).is_ok());
    let too_long = parse_command(auth(12_287).as_bytes()).unwrap_err();
    assert_eq!(
        too_long,
        CommandError::LineTooLong {
            verb: Some(Verb::Auth),
            limit: 12_288
        }
    );
    assert_eq!(too_long.reply(), Reply::auth_line_too_long());
}

#[test]
fn dsn_value_limits() {
    let envid = |len: usize| format!("MAIL FROM:<> ENVID={}", "e".repeat(len));
    assert!(parse_command(envid(MAX_ENVID).as_bytes()).is_ok());
    assert!(matches!(
        parse_command(envid(MAX_ENVID + 1).as_bytes()),
        Err(CommandError::InvalidParameter {
            reason: "too long",
            ..
        })
    ));
    let orcpt = |len: usize| {
        format!(
            "RCPT TO:<b@example.net> ORCPT=rfc822;{}",
            "o".repeat(len - 7)
        )
    };
    assert!(parse_command(orcpt(MAX_ORCPT).as_bytes()).is_ok());
    assert!(matches!(
        parse_command(orcpt(MAX_ORCPT + 1).as_bytes()),
        Err(CommandError::InvalidParameter {
            reason: "too long",
            ..
        })
    ));
}

#[test]
fn errors_map_to_replies() {
    let cases: Vec<(&[u8], &str)> = vec![
        (b"FOO", "500 5.5.2 Error: command not recognized\r\n"),
        (
            b"MAIL FROM:a@b.example",
            "501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
        ),
        (b"RCPT TO:", "501 5.5.4 Syntax: RCPT TO:<address>\r\n"),
        (
            b"MAIL FROM:<a..b@x.example>",
            "501 5.1.7 Bad sender address syntax\r\n",
        ),
        (b"RCPT TO:<>", "501 5.1.3 Bad recipient address syntax\r\n"),
        (
            b"MAIL FROM:<> FOO=1",
            "555 5.5.4 Unsupported option: FOO\r\n",
        ),
        (
            b"MAIL FROM:<> SIZE=x",
            "501 5.5.4 Bad parameter: SIZE (not a number)\r\n",
        ),
        (
            b"MAIL FROM:<> SIZE=1 SIZE=2",
            "501 5.5.4 Bad parameter: SIZE (given twice)\r\n",
        ),
        (
            "MAIL FROM:<\u{e9}@x.example>".as_bytes(),
            "553 5.6.7 Error: address requires SMTPUTF8\r\n",
        ),
        (b"NOOP \0", "501 5.5.2 Syntax error: control character\r\n"),
        (b"VRFY \xff", "501 5.5.2 Syntax error: invalid UTF-8\r\n"),
        (b"EHLO", "501 5.5.4 Syntax: EHLO hostname\r\n"),
        (b"BDAT x", "501 5.5.4 Syntax: BDAT size [LAST]\r\n"),
    ];
    for (line, wire) in cases {
        let error = parse_command(line).unwrap_err();
        assert_eq!(
            error.reply().to_string(),
            wire,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
    let long = "N".repeat(600);
    assert_eq!(
        parse_command(long.as_bytes())
            .unwrap_err()
            .reply()
            .to_string(),
        "500 5.5.2 Error: line too long\r\n"
    );
}

#[test]
fn error_verbs() {
    assert_eq!(parse_command(b"FOO").unwrap_err().verb(), None);
    assert_eq!(
        parse_command(b"RCPT TO:<>").unwrap_err().verb(),
        Some(Verb::Rcpt)
    );
    assert_eq!(
        parse_command(b"MAIL FROM:<x>").unwrap_err().verb(),
        Some(Verb::Mail)
    );
    assert_eq!(
        parse_command(b"DATA x").unwrap_err().verb(),
        Some(Verb::Data)
    );
}

#[test]
fn rendered_commands_parse_back() {
    for line in [
        "EHLO client.example",
        "HELO [192.0.2.1]",
        "EHLO [IPv6:2001:db8::1]",
        "MAIL FROM:<>",
        "MAIL FROM:<a@example.org> SIZE=5 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2B1 AUTH=<>",
        "MAIL FROM:<\"a b\"@example.org>",
        "RCPT TO:<postmaster>",
        "RCPT TO:<b@example.net> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT=rfc822;b+2Bx@example.net",
        "RCPT TO:<b@example.net> NOTIFY=NEVER",
        "DATA",
        "BDAT 10",
        "BDAT 0 LAST",
        "RSET",
        "NOOP",
        "QUIT",
        "VRFY someone",
        "EXPN staff",
        "HELP",
        "HELP DATA",
        "STARTTLS",
        "AUTH PLAIN",
        "AUTH PLAIN AGEAYg==",
        "AUTH LOGIN =",
    ] {
        let command = parse_command(line.as_bytes()).unwrap();
        let mut wire = Vec::new();
        command.write_to(&mut wire);
        assert_eq!(wire, format!("{line}\r\n").as_bytes(), "{line}");
        assert_eq!(
            parse_command(&wire[..wire.len() - 2]),
            Ok(command),
            "{line}"
        );
    }
}

#[test]
fn rendering_cannot_inject_a_command() {
    let mut wire = Vec::new();
    Command::Vrfy("x\r\nRCPT TO:<victim@example.org>".into()).write_to(&mut wire);
    assert_eq!(wire, b"VRFY x  RCPT TO:<victim@example.org>\r\n");
}

#[test]
fn auth_debug_is_redacted() {
    let command = parse_command(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==").unwrap();
    let debug = format!("{command:?}");
    assert!(!debug.contains("AGFsaWNl"), "{debug}");
    assert!(debug.contains("[redacted]"));
}

#[test]
fn verbs() {
    for verb in Verb::ALL {
        assert_eq!(verb.counter_name(), verb.as_str().to_ascii_lowercase());
        assert_eq!(
            Verb::from_word(verb.as_str().to_ascii_lowercase().as_bytes()),
            Some(verb)
        );
    }
    assert_eq!(parse_command(b"QUIT").unwrap().verb(), Verb::Quit);
    assert!(HeloName::parse("x.example").is_valid());
    assert!(!HeloName::parse("x_y").is_valid());
    assert_eq!(HeloName::parse("[192.0.2.1]").to_string(), "[192.0.2.1]");
}

proptest! {
    #[test]
    fn never_panics_on_bytes(line in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_command(&line);
    }

    #[test]
    fn never_panics_on_commandish(
        verb in "(MAIL FROM:|RCPT TO:|EHLO |BDAT |AUTH |VRFY |mail from: )",
        rest in "[ -~\u{80}-\u{3000}]{0,120}",
    ) {
        let line = format!("{verb}{rest}");
        if let Err(error) = parse_command(line.as_bytes()) {
            // Every error has a reply that renders as one line.
            let reply = error.reply().render();
            prop_assert_eq!(reply.matches("\r\n").count(), 1);
        }
    }

    #[test]
    fn never_panics_on_paths(rest in "<[@a-z.,:\"\\\\\\[\\] >=+0-9]{0,60}") {
        let _ = parse_command(format!("MAIL FROM:{rest}").as_bytes());
        let _ = parse_command(format!("RCPT TO:{rest}").as_bytes());
    }
}
