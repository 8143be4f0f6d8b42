use super::*;
use crate::command::*;
use proptest::prelude::*;

/// parse - parses `line` (CRLF added when missing) and expects success.
fn parse(line: &str) -> Command {
    let mut bytes = line.as_bytes().to_vec();
    if !line.ends_with('\n') {
        bytes.extend_from_slice(b"\r\n");
    }
    match parse_command(&bytes) {
        Ok(command) => command,
        Err(e) => panic!("{line:?}: {e:?}"),
    }
}

fn body(line: &str) -> CommandBody {
    parse(line).body
}

/// fail - parses `line` and expects an error.
fn fail(line: &str) -> ParseError {
    let mut bytes = line.as_bytes().to_vec();
    if !line.ends_with('\n') {
        bytes.extend_from_slice(b"\r\n");
    }
    match parse_command(&bytes) {
        Ok(command) => panic!("{line:?} parsed as {command:?}"),
        Err(e) => e,
    }
}

fn set(ranges: &[(u32, Option<u32>)]) -> SequenceSet {
    let n = |v: Option<u32>| v.map_or(SeqNum::Largest, SeqNum::Value);
    SequenceSet(
        ranges
            .iter()
            .map(|&(a, b)| SeqRange {
                start: SeqNum::Value(a),
                end: b.map_or(SeqNum::Largest, |b| n(Some(b))),
            })
            .collect(),
    )
}

fn one(n: u32) -> SequenceSet {
    set(&[(n, Some(n))])
}

fn date(year: u16, month: u8, day: u8) -> Date {
    Date { year, month, day }
}

fn s(text: &str) -> String {
    text.to_owned()
}

fn section(part: &[u32], text: Option<SectionText>) -> Section {
    Section {
        part: part.to_vec(),
        text,
    }
}

fn body_section(peek: bool, section: Section, partial: Option<(u32, u32)>) -> FetchAttr {
    FetchAttr::BodySection {
        peek,
        section,
        partial,
    }
}

#[test]
fn commands_without_arguments() {
    let cases = [
        ("1 capability", CommandBody::Capability),
        ("a NOOP", CommandBody::Noop),
        ("a LoGoUt", CommandBody::Logout),
        ("a STARTTLS", CommandBody::StartTls),
        ("a NAMESPACE", CommandBody::Namespace),
        ("a CHECK", CommandBody::Check),
        ("a close", CommandBody::Close),
        ("a UNSELECT", CommandBody::Unselect),
        ("a EXPUNGE", CommandBody::Expunge { uids: None }),
        ("a idle", CommandBody::Idle),
    ];
    for (line, expected) in cases {
        assert_eq!(body(line), expected, "{line}");
    }
    assert_eq!(parse("1 capability").tag, "1");
    assert_eq!(parse("ABCD7 LOGOUT").tag, "ABCD7");
}

#[test]
fn bare_lf_is_accepted() {
    assert_eq!(body("a NOOP\n"), CommandBody::Noop);
    assert_eq!(
        body("a LOGIN {1}\nu p\n"),
        CommandBody::Login {
            user: s("u"),
            password: s("p")
        }
    );
}

#[test]
fn authenticate() {
    let cases = [
        ("2 authenticate PLAIN", "PLAIN", None),
        (
            "a AUTHENTICATE plain AHVzZXIAcGFzcw==",
            "PLAIN",
            Some("AHVzZXIAcGFzcw=="),
        ),
        ("a AUTHENTICATE PLAIN =", "PLAIN", Some("=")),
        (
            "a authenticate xoauth2 dXNlcj0=",
            "XOAUTH2",
            Some("dXNlcj0="),
        ),
        ("a AUTHENTICATE scram-sha-256", "SCRAM-SHA-256", None),
        ("a AUTHENTICATE x-custom", "X-CUSTOM", None),
    ];
    for (line, mechanism, initial) in cases {
        assert_eq!(
            body(line),
            CommandBody::Authenticate {
                mechanism: s(mechanism),
                initial: initial.map(s)
            },
            "{line}"
        );
    }
    assert_eq!(
        fail("a AUTHENTICATE PLAIN not*base64").tag.as_deref(),
        Some("a")
    );
}

#[test]
fn login_forms() {
    let login = |user: &str, password: &str| CommandBody::Login {
        user: s(user),
        password: s(password),
    };
    // Python imaplib quotes what needs quoting.
    assert_eq!(
        body("a001 LOGIN user \"pass word\""),
        login("user", "pass word")
    );
    assert_eq!(body("a login joe secret"), login("joe", "secret"));
    assert_eq!(
        body("a LOGIN \"jo\\\"e\" \"a\\\\b\""),
        login("jo\"e", "a\\b")
    );
    assert_eq!(
        body("a LOGIN {4}\r\nuser {4+}\r\np ss\r\n"),
        login("user", "p ss")
    );
    assert_eq!(body("a LOGIN \"\" \"\""), login("", ""));
    assert_eq!(
        body("a LOGIN \"j\u{f6}rg\" pw"),
        login("j\u{f6}rg", "pw"),
        "UTF-8 in quoted strings (UTF8=ACCEPT)"
    );
    let err = parse_command(b"a LOGIN {2}\r\n\xff\xfe pw\r\n").unwrap_err();
    assert_eq!(err.tag.as_deref(), Some("a"));
    assert!(err.text.contains("UTF-8"), "{err:?}");
    assert_eq!(fail("a LOGIN onlyuser").text, "syntax error in LOGIN");
}

#[test]
fn enable() {
    assert_eq!(
        body("a ENABLE CONDSTORE utf8=accept x-other"),
        CommandBody::Enable(vec![s("CONDSTORE"), s("UTF8=ACCEPT"), s("X-OTHER")])
    );
}

#[test]
fn select_and_examine() {
    let select = |mailbox: &str, read_only, condstore| CommandBody::Select {
        mailbox: s(mailbox),
        read_only,
        condstore,
    };
    assert_eq!(
        body("5 select \"INBOX\" (CONDSTORE)"),
        select("INBOX", false, true)
    );
    assert_eq!(body("a SELECT inbox"), select("INBOX", false, false));
    assert_eq!(body("ABCD2 SELECT INBOX"), select("INBOX", false, false));
    assert_eq!(
        body("a examine \"Sent Items\""),
        select("Sent Items", true, false)
    );
    assert_eq!(
        body("a EXAMINE Drafts (condstore)"),
        select("Drafts", true, true)
    );
    assert_eq!(
        body("a SELECT \"Entw&APw-rfe\""),
        select("Entw&APw-rfe", false, false),
        "names stay modified UTF-7"
    );
    let err = fail("a SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))");
    assert_eq!(
        err,
        ParseError {
            tag: Some(s("a")),
            text: s("QRESYNC is not supported")
        }
    );
}

#[test]
fn mailbox_commands() {
    assert_eq!(
        body("a CREATE Archive/2024"),
        CommandBody::Create(s("Archive/2024"))
    );
    assert_eq!(body("a CREATE \"New/\""), CommandBody::Create(s("New/")));
    assert_eq!(
        body("a DELETE {3}\r\nOld\r\n"),
        CommandBody::Delete(s("Old"))
    );
    assert_eq!(
        body("a RENAME \"Old Name\" NewName"),
        CommandBody::Rename {
            from: s("Old Name"),
            to: s("NewName")
        }
    );
    assert_eq!(
        body("a SUBSCRIBE Lists"),
        CommandBody::Subscribe(s("Lists"))
    );
    assert_eq!(
        body("a unsubscribe \"Lists\""),
        CommandBody::Unsubscribe(s("Lists"))
    );
    assert_eq!(
        body("a LSUB \"\" \"*\""),
        CommandBody::Lsub {
            reference: s(""),
            pattern: s("*")
        }
    );
}

fn list(
    reference: &str,
    patterns: &[&str],
    select: &[ListSelect],
    returns: &[ListReturn],
) -> CommandBody {
    CommandBody::List {
        reference: s(reference),
        patterns: patterns.iter().map(|p| s(p)).collect(),
        select: select.to_vec(),
        returns: returns.to_vec(),
    }
}

#[test]
fn plain_list() {
    assert_eq!(body("a LIST \"\" \"*\""), list("", &["*"], &[], &[]));
    assert_eq!(body("a list \"\" %"), list("", &["%"], &[], &[]));
    assert_eq!(
        body("a LIST ~/Mail/ %/foo*"),
        list("~/Mail/", &["%/foo*"], &[], &[])
    );
    assert_eq!(body("a LIST \"\" {1}\r\n*\r\n"), list("", &["*"], &[], &[]));
    assert_eq!(body("a LIST \"\" \"\""), list("", &[""], &[], &[]));
}

#[test]
fn extended_list() {
    use ListReturn as R;
    use ListSelect as S;
    assert_eq!(
        body(
            "a LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" \"Sent/%\" Lists/*) RETURN (CHILDREN STATUS (MESSAGES unseen))"
        ),
        list(
            "",
            &["INBOX", "Sent/%", "Lists/*"],
            &[S::Subscribed, S::RecursiveMatch],
            &[
                R::Children,
                R::Status(vec![StatusItem::Messages, StatusItem::Unseen])
            ]
        )
    );
    assert_eq!(
        body("a LIST \"\" \"*\" RETURN (SPECIAL-USE)"),
        list("", &["*"], &[], &[R::SpecialUse])
    );
    assert_eq!(
        body("a list (special-use) \"\" \"*\""),
        list("", &["*"], &[S::SpecialUse], &[])
    );
    assert_eq!(body("a LIST () \"\" %"), list("", &["%"], &[], &[]));
    assert_eq!(
        body("a LIST (REMOTE) \"\" * return ()"),
        list("", &["*"], &[S::Remote], &[])
    );
    assert_eq!(
        body(
            "a LIST \"\" (%) RETURN (SUBSCRIBED CHILDREN SPECIAL-USE STATUS (UIDNEXT UIDVALIDITY RECENT DELETED SIZE HIGHESTMODSEQ))"
        ),
        list(
            "",
            &["%"],
            &[],
            &[
                R::Subscribed,
                R::Children,
                R::SpecialUse,
                R::Status(vec![
                    StatusItem::UidNext,
                    StatusItem::UidValidity,
                    StatusItem::Recent,
                    StatusItem::Deleted,
                    StatusItem::Size,
                    StatusItem::HighestModSeq
                ])
            ]
        )
    );
    assert_eq!(
        body("a LIST (SUBSCRIBED) {0}\r\n (\"*\" {4}\r\nA (%)\r\n"),
        list("", &["*", "A (%"], &[S::Subscribed], &[]),
        "literals inside the extended form"
    );
    assert_eq!(
        body("a LIST (SUBSCRIBED) inbox \"x\""),
        list("INBOX", &["x"], &[S::Subscribed], &[])
    );
}

#[test]
fn bad_extended_list() {
    let cases = [
        (
            "a LIST (BOGUS) \"\" *",
            "unknown LIST selection option BOGUS",
        ),
        (
            "a LIST (RECURSIVEMATCH) \"\" *",
            "RECURSIVEMATCH needs another selection option",
        ),
        (
            "a LIST (REMOTE RECURSIVEMATCH) \"\" *",
            "RECURSIVEMATCH needs another selection option",
        ),
        (
            "a LIST \"\" * RETURN (BOGUS)",
            "unknown LIST return option BOGUS",
        ),
        (
            "a LIST \"\" * RETURN (STATUS (BOGUS))",
            "unknown STATUS item BOGUS",
        ),
        (
            "a LIST \"\" * RETURN (STATUS ())",
            "syntax error in LIST RETURN",
        ),
        ("a LIST \"\" () RETURN ()", "syntax error in LIST"),
        ("a LIST (SUBSCRIBED) \"\"", "syntax error in LIST"),
        ("a LIST \"\" (* %", "syntax error in LIST"),
        ("a LIST (SUBSCRIBED) \"\" * extra", "syntax error in LIST"),
        (
            "a LIST \"\" (\"a\" \"b\") RETURN (CHILDREN) x",
            "syntax error in LIST",
        ),
    ];
    for (line, text) in cases {
        assert_eq!(
            fail(line),
            ParseError {
                tag: Some(s("a")),
                text: s(text)
            },
            "{line}"
        );
    }
}

#[test]
fn status() {
    assert_eq!(
        body(
            "a STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)"
        ),
        CommandBody::Status {
            mailbox: s("INBOX"),
            items: vec![
                StatusItem::Messages,
                StatusItem::Recent,
                StatusItem::UidNext,
                StatusItem::UidValidity,
                StatusItem::Unseen,
                StatusItem::Deleted,
                StatusItem::Size,
                StatusItem::HighestModSeq
            ]
        }
    );
    assert_eq!(
        fail("a STATUS INBOX (DELETED-STORAGE)").text,
        "STATUS DELETED-STORAGE is not supported"
    );
}

#[test]
fn append() {
    assert_eq!(
        body(
            "A003 APPEND saved-messages (\\Seen $Forwarded \\Draft) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nhello\r\n"
        ),
        CommandBody::Append {
            mailbox: s("saved-messages"),
            flags: vec![Flag::Seen, Flag::Keyword(s("$Forwarded")), Flag::Draft],
            date: Some(DateTime {
                date: date(1994, 2, 7),
                hour: 21,
                minute: 52,
                second: 25,
                zone_minutes: -480
            }),
            message: b"hello".to_vec()
        }
    );
    assert_eq!(
        body("a APPEND INBOX {7+}\r\nx\r\n\r\nyz\r\n"),
        CommandBody::Append {
            mailbox: s("INBOX"),
            flags: vec![],
            date: None,
            message: b"x\r\n\r\nyz".to_vec()
        }
    );
    assert_eq!(
        body("a APPEND Drafts () \"01-Jan-2026 00:00:00 +0130\" {0}\r\n\r\n"),
        CommandBody::Append {
            mailbox: s("Drafts"),
            flags: vec![],
            date: Some(DateTime {
                date: date(2026, 1, 1),
                hour: 0,
                minute: 0,
                second: 0,
                zone_minutes: 90
            }),
            message: Vec::new()
        }
    );
    assert_eq!(fail("a APPEND INBOX").text, "syntax error in APPEND");
    assert_eq!(
        fail("a APPEND INBOX \"31-Feb-2026 00:00:00 +0000\" {1}\r\nx\r\n").text,
        "syntax error in APPEND"
    );
}

#[test]
fn uid_expunge() {
    assert_eq!(
        body("a UID EXPUNGE 3:5,9"),
        CommandBody::Expunge {
            uids: Some(set(&[(3, Some(5)), (9, Some(9))]))
        }
    );
}

fn search(
    uid: bool,
    charset: Option<&str>,
    criteria: SearchKey,
    returns: Option<Vec<SearchReturn>>,
) -> CommandBody {
    CommandBody::Search {
        uid,
        charset: charset.map(s),
        criteria,
        returns,
    }
}

#[test]
fn search_every_key() {
    use SearchKey as K;
    let line = "a SEARCH ALL ANSWERED BCC x BEFORE 1-Jan-2020 BODY \"y z\" CC z DELETED DRAFT \
        FLAGGED FROM f HEADER X-Foo bar KEYWORD $k LARGER 100 NEW NOT SEEN OLD ON 2-Feb-2020 \
        OR SEEN FLAGGED RECENT SEEN SENTBEFORE 1-Mar-2020 SENTON \"2-Mar-2020\" SENTSINCE 3-Mar-2020 \
        SINCE 4-Mar-2020 SMALLER 5000 SUBJECT s TEXT t TO u UID 1:5 UNANSWERED UNDELETED \
        UNDRAFT UNFLAGGED UNKEYWORD $j UNSEEN 1,3:* (SEEN (FLAGGED)) MODSEQ 12345";
    let expected = K::And(vec![
        K::All,
        K::Answered,
        K::Bcc(s("x")),
        K::Before(date(2020, 1, 1)),
        K::Body(s("y z")),
        K::Cc(s("z")),
        K::Deleted,
        K::Draft,
        K::Flagged,
        K::From(s("f")),
        K::Header(s("X-Foo"), s("bar")),
        K::Keyword(s("$k")),
        K::Larger(100),
        K::New,
        K::Not(Box::new(K::Seen)),
        K::Old,
        K::On(date(2020, 2, 2)),
        K::Or(Box::new(K::Seen), Box::new(K::Flagged)),
        K::Recent,
        K::Seen,
        K::SentBefore(date(2020, 3, 1)),
        K::SentOn(date(2020, 3, 2)),
        K::SentSince(date(2020, 3, 3)),
        K::Since(date(2020, 3, 4)),
        K::Smaller(5000),
        K::Subject(s("s")),
        K::Text(s("t")),
        K::To(s("u")),
        K::Uid(set(&[(1, Some(5))])),
        K::Unanswered,
        K::Undeleted,
        K::Undraft,
        K::Unflagged,
        K::Unkeyword(s("$j")),
        K::Unseen,
        K::Sequence(set(&[(1, Some(1)), (3, None)])),
        K::And(vec![K::Seen, K::And(vec![K::Flagged])]),
        K::ModSeq(12345),
    ]);
    assert_eq!(body(line), search(false, None, expected, None));
}

#[test]
fn search_forms() {
    use SearchKey as K;
    use SearchReturn as R;
    assert_eq!(
        body("a SEARCH UNSEEN"),
        search(false, None, K::Unseen, None)
    );
    assert_eq!(body("ABCD3 SEARCH ALL"), search(false, None, K::All, None));
    assert_eq!(
        body("a uid search charset utf-8 FROM \"Smith\" since 1-Feb-1994 not to x"),
        search(
            true,
            Some("UTF-8"),
            K::And(vec![
                K::From(s("Smith")),
                K::Since(date(1994, 2, 1)),
                K::Not(Box::new(K::To(s("x"))))
            ]),
            None
        )
    );
    assert_eq!(
        body("a SEARCH SUBJECT {4}\r\nf\u{fc}r\r\n"),
        search(false, None, K::Subject(s("f\u{fc}r")), None),
        "a literal with UTF-8"
    );
    assert_eq!(
        body("a UID SEARCH RETURN (MIN MAX) UNSEEN"),
        search(true, None, K::Unseen, Some(vec![R::Min, R::Max]))
    );
    assert_eq!(
        body("a SEARCH RETURN () ALL"),
        search(false, None, K::All, Some(vec![]))
    );
    assert_eq!(
        body("a search return (count all) charset US-ASCII text foo"),
        search(
            false,
            Some("US-ASCII"),
            K::Text(s("foo")),
            Some(vec![R::Count, R::All])
        )
    );
    assert_eq!(
        body("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338"),
        search(false, None, K::ModSeq(620162338), None)
    );
    let err = |text: &str| ParseError {
        tag: Some(s("a")),
        text: s(text),
    };
    assert_eq!(
        fail("a SEARCH RETURN (SAVE) ALL"),
        err("SEARCH RETURN (SAVE) is not supported")
    );
    assert_eq!(
        fail("a SEARCH RETURN (PARTIAL 1:10) ALL"),
        err("unknown SEARCH return option PARTIAL")
    );
    assert_eq!(
        fail("a SEARCH RETURN (MIN)"),
        err("syntax error in SEARCH RETURN")
    );
    assert_eq!(
        fail("a SEARCH RETURN (MIN) BOGUS"),
        err("syntax error in SEARCH")
    );
    assert_eq!(fail("a SEARCH"), err("syntax error in SEARCH"));
    assert_eq!(
        fail("a SEARCH BEFORE 32-Jan-2020"),
        err("syntax error in SEARCH")
    );
}

#[test]
fn fetch_macros_are_expanded() {
    use FetchAttr as F;
    let fetch = |items: Vec<FetchAttr>| CommandBody::Fetch {
        uid: false,
        set: set(&[(1, None)]),
        items,
        changed_since: None,
    };
    assert_eq!(
        body("a FETCH 1:* FAST"),
        fetch(vec![F::Flags, F::InternalDate, F::Rfc822Size])
    );
    assert_eq!(
        body("a fetch 1:* all"),
        fetch(vec![F::Flags, F::InternalDate, F::Rfc822Size, F::Envelope])
    );
    assert_eq!(
        body("a FETCH 1:* FULL"),
        fetch(vec![
            F::Flags,
            F::InternalDate,
            F::Rfc822Size,
            F::Envelope,
            F::Body
        ])
    );
}

#[test]
fn fetch_client_forms() {
    use FetchAttr as F;
    // Thunderbird.
    assert_eq!(
        body("4 UID fetch 1:* (FLAGS)"),
        CommandBody::Fetch {
            uid: true,
            set: set(&[(1, None)]),
            items: vec![F::Flags],
            changed_since: None
        }
    );
    let fields = "From To Cc Bcc Subject Date Message-ID Priority X-Priority References Newsgroups In-Reply-To Content-Type Reply-To";
    assert_eq!(
        body(&format!(
            "6 uid fetch 1:5 (UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS ({fields})])"
        )),
        CommandBody::Fetch {
            uid: true,
            set: set(&[(1, Some(5))]),
            items: vec![
                F::Uid,
                F::Rfc822Size,
                F::Flags,
                body_section(
                    true,
                    section(
                        &[],
                        Some(SectionText::HeaderFields(
                            fields.split(' ').map(|f| f.to_ascii_uppercase()).collect()
                        ))
                    ),
                    None
                )
            ],
            changed_since: None
        }
    );
    // mutt.
    assert_eq!(
        body("a0005 UID FETCH 1:4,7 (UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST X-LABEL)])"),
        CommandBody::Fetch {
            uid: true,
            set: set(&[(1, Some(4)), (7, Some(7))]),
            items: vec![
                F::Uid,
                F::Flags,
                F::InternalDate,
                F::Rfc822Size,
                body_section(
                    true,
                    section(
                        &[],
                        Some(SectionText::HeaderFields(
                            "DATE FROM SENDER SUBJECT TO CC MESSAGE-ID REFERENCES CONTENT-TYPE CONTENT-DESCRIPTION IN-REPLY-TO REPLY-TO LINES LIST-POST X-LABEL"
                                .split(' ')
                                .map(s)
                                .collect()
                        ))
                    ),
                    None
                )
            ],
            changed_since: None
        }
    );
    // Python imaplib.
    assert_eq!(
        body("ABCD4 FETCH 1 (RFC822)"),
        CommandBody::Fetch {
            uid: false,
            set: one(1),
            items: vec![F::Rfc822],
            changed_since: None
        }
    );
}

#[test]
fn fetch_every_item() {
    use FetchAttr as F;
    let line = "a FETCH 2 (BODY[1.2.MIME] BODY.PEEK[TEXT]<0.1024> BODY[] BODY[HEADER] \
        BODY[1.HEADER.FIELDS.NOT (x-a List-ID)] BODY[3] body[2.text]<10.20> \
        BINARY.PEEK[1.2]<0.100> BINARY[] BINARY.SIZE[1] MODSEQ RFC822 RFC822.HEADER \
        RFC822.TEXT ENVELOPE BODYSTRUCTURE BODY INTERNALDATE UID)";
    assert_eq!(
        body(line),
        CommandBody::Fetch {
            uid: false,
            set: one(2),
            items: vec![
                body_section(false, section(&[1, 2], Some(SectionText::Mime)), None),
                body_section(true, section(&[], Some(SectionText::Text)), Some((0, 1024))),
                body_section(false, section(&[], None), None),
                body_section(false, section(&[], Some(SectionText::Header)), None),
                body_section(
                    false,
                    section(
                        &[1],
                        Some(SectionText::HeaderFieldsNot(vec![s("X-A"), s("LIST-ID")]))
                    ),
                    None
                ),
                body_section(false, section(&[3], None), None),
                body_section(
                    false,
                    section(&[2], Some(SectionText::Text)),
                    Some((10, 20))
                ),
                F::Binary {
                    peek: true,
                    part: vec![1, 2],
                    partial: Some((0, 100))
                },
                F::Binary {
                    peek: false,
                    part: vec![],
                    partial: None
                },
                F::BinarySize { part: vec![1] },
                F::ModSeq,
                F::Rfc822,
                F::Rfc822Header,
                F::Rfc822Text,
                F::Envelope,
                F::BodyStructure,
                F::Body,
                F::InternalDate,
                F::Uid,
            ],
            changed_since: None
        }
    );
}

#[test]
fn fetch_modifiers() {
    assert_eq!(
        body("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)"),
        CommandBody::Fetch {
            uid: true,
            set: set(&[(1, None)]),
            items: vec![FetchAttr::Flags],
            changed_since: Some(12345)
        }
    );
    assert_eq!(
        fail("a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)").text,
        "VANISHED is not supported"
    );
    assert_eq!(fail("a FETCH 1 (BODY[0])").text, "syntax error in FETCH");
    assert_eq!(fail("a FETCH 0 FLAGS").text, "syntax error in FETCH");
}

#[test]
fn store() {
    let store = |uid, set, kind, silent, flags, unchanged_since| CommandBody::Store {
        uid,
        set,
        kind,
        silent,
        flags,
        unchanged_since,
    };
    assert_eq!(
        body("a STORE 1:3 +FLAGS.SILENT (\\Deleted)"),
        store(
            false,
            set(&[(1, Some(3))]),
            StoreKind::Add,
            true,
            vec![Flag::Deleted],
            None
        )
    );
    assert_eq!(
        body("a uid store 5 -flags (\\Seen \\Flagged)"),
        store(
            true,
            one(5),
            StoreKind::Remove,
            false,
            vec![Flag::Seen, Flag::Flagged],
            None
        )
    );
    assert_eq!(
        body("a STORE 1 FLAGS \\Answered $Label1"),
        store(
            false,
            one(1),
            StoreKind::Replace,
            false,
            vec![Flag::Answered, Flag::Keyword(s("$Label1"))],
            None
        )
    );
    assert_eq!(
        body("a STORE 1 (UNCHANGEDSINCE 100) +FLAGS (\\Recent \\Custom)"),
        store(
            false,
            one(1),
            StoreKind::Add,
            false,
            vec![Flag::Recent, Flag::Extension(s("Custom"))],
            Some(100)
        )
    );
    // Python imaplib.
    assert_eq!(
        body("ABCD5 STORE 1 +FLAGS (\\Deleted)"),
        store(
            false,
            one(1),
            StoreKind::Add,
            false,
            vec![Flag::Deleted],
            None
        )
    );
    assert_eq!(
        body("a STORE 1 FLAGS ()"),
        store(false, one(1), StoreKind::Replace, false, vec![], None)
    );
}

#[test]
fn copy_and_move() {
    assert_eq!(
        body("a COPY 2:4 MEETING"),
        CommandBody::Copy {
            uid: false,
            set: set(&[(2, Some(4))]),
            mailbox: s("MEETING")
        }
    );
    assert_eq!(
        body("a UID COPY 7 \"Saved Items\""),
        CommandBody::Copy {
            uid: true,
            set: one(7),
            mailbox: s("Saved Items")
        }
    );
    assert_eq!(
        body("a MOVE 1 Trash"),
        CommandBody::Move {
            uid: false,
            set: one(1),
            mailbox: s("Trash")
        }
    );
    assert_eq!(
        body("a uid move 4:* inbox"),
        CommandBody::Move {
            uid: true,
            set: set(&[(4, None)]),
            mailbox: s("INBOX")
        }
    );
}

#[test]
fn id() {
    assert_eq!(body("a ID NIL"), CommandBody::Id(None));
    assert_eq!(
        body("a ID (\"name\" \"Thunderbird\" \"version\" \"115.0\" \"vendor\" NIL)"),
        CommandBody::Id(Some(vec![
            (s("name"), Some(s("Thunderbird"))),
            (s("version"), Some(s("115.0"))),
            (s("vendor"), None),
        ]))
    );
}

#[test]
fn case_insensitive_keywords() {
    assert_eq!(
        body("a Uid FeTcH 1 (fLaGs Body.Peek[heaDER]<1.2>)"),
        CommandBody::Fetch {
            uid: true,
            set: one(1),
            items: vec![
                FetchAttr::Flags,
                body_section(true, section(&[], Some(SectionText::Header)), Some((1, 2)))
            ],
            changed_since: None
        }
    );
    assert_eq!(
        body("a sTaTuS Inbox (messages)"),
        CommandBody::Status {
            mailbox: s("INBOX"),
            items: vec![StatusItem::Messages]
        }
    );
}

#[test]
fn errors_carry_the_tag_when_there_is_one() {
    let cases: &[(&[u8], Option<&str>, &str)] = &[
        (
            b"a SORT (DATE) UTF-8 ALL\r\n",
            Some("a"),
            "SORT is not supported",
        ),
        (
            b"a THREAD REFERENCES UTF-8 ALL\r\n",
            Some("a"),
            "THREAD is not supported",
        ),
        (
            b"a GETQUOTAROOT INBOX\r\n",
            Some("a"),
            "GETQUOTAROOT is not supported",
        ),
        (
            b"a COMPRESS DEFLATE\r\n",
            Some("a"),
            "COMPRESS is not supported",
        ),
        (b"a XLIST \"\" *\r\n", Some("a"), "unknown command"),
        (b"a UID FOO 1\r\n", Some("a"), "unknown command"),
        (b"a UID SEARCH\r\n", Some("a"), "syntax error in UID SEARCH"),
        (b"a\r\n", None, "missing or invalid tag"),
        (b"a \r\n", Some("a"), "missing command"),
        (b"\r\n", None, "empty command line"),
        (b"* NOOP\r\n", None, "missing or invalid tag"),
        (b"+tag NOOP\r\n", None, "missing or invalid tag"),
        (b"\xff NOOP\r\n", None, "missing or invalid tag"),
        (b"a NOOP extra\r\n", Some("a"), "syntax error in NOOP"),
        (b"a NOOP", Some("a"), "syntax error in NOOP"),
        (
            b"a NOOP\r\nb NOOP\r\n",
            Some("a"),
            "unexpected data after the command",
        ),
        (b"a SELECT {3}\r\nab", Some("a"), "syntax error in SELECT"),
        (b"a LOGIN {0}\r\n", Some("a"), "syntax error in LOGIN"),
    ];
    for &(bytes, tag, text) in cases {
        assert_eq!(
            parse_command(bytes),
            Err(ParseError {
                tag: tag.map(s),
                text: s(text)
            }),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn leading_tags() {
    assert_eq!(leading_tag(b"a1 NOOP"), Some(s("a1")));
    assert_eq!(leading_tag(b"A]b NOOP"), Some(s("A]b")));
    assert_eq!(leading_tag(b"a+ NOOP"), None);
    assert_eq!(leading_tag(b"a{ NOOP"), None);
    assert_eq!(leading_tag(b" NOOP"), None);
    assert_eq!(leading_tag(b"NOOP"), None);
    assert_eq!(leading_tag(b"a\x01 NOOP"), None);
}

#[test]
fn framed_commands_parse() {
    use crate::frame::{Event, Framer};
    let mut framer = Framer::new(4096);
    framer.push(b"a APPEND INBOX (\\Seen) {11}\r\n");
    assert_eq!(framer.next(), Some(Event::Continue));
    framer.push(b"Subject: x\n\r\nb NOOP\r\n");
    let Some(Event::Command(bytes)) = framer.next() else {
        panic!("no command");
    };
    assert_eq!(
        parse_command(&bytes).map(|c| c.body),
        Ok(CommandBody::Append {
            mailbox: s("INBOX"),
            flags: vec![Flag::Seen],
            date: None,
            message: b"Subject: x\n".to_vec()
        })
    );
    let Some(Event::Command(bytes)) = framer.next() else {
        panic!("no command");
    };
    assert_eq!(parse_command(&bytes).map(|c| c.body), Ok(CommandBody::Noop));
}

/// Bytes that look like IMAP commands, to reach deep into the parsers.
fn imap_like() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b" ".to_vec()),
        Just(b"(".to_vec()),
        Just(b")".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"{3}\r\n".to_vec()),
        Just(b"{0+}\r\n".to_vec()),
        Just(b"~{2}\r\n".to_vec()),
        Just(b"[".to_vec()),
        Just(b"]".to_vec()),
        Just(b"<".to_vec()),
        Just(b">".to_vec()),
        Just(b"*".to_vec()),
        Just(b":".to_vec()),
        Just(b".".to_vec()),
        Just(b"-".to_vec()),
        Just(b"\r\n".to_vec()),
        prop::sample::select(vec![
            "LIST",
            "SEARCH",
            "RETURN",
            "UID",
            "FETCH",
            "STORE",
            "APPEND",
            "SELECT",
            "LOGIN",
            "AUTHENTICATE",
            "STATUS",
            "BODY",
            "BINARY",
            "HEADER.FIELDS",
            "NOT",
            "OR",
            "MODSEQ",
            "CHANGEDSINCE",
            "UNCHANGEDSINCE",
            "CONDSTORE",
            "QRESYNC",
            "FLAGS",
            "STATUS",
            "ID",
            "NIL",
            "INBOX",
            "SUBSCRIBED",
            "RECURSIVEMATCH",
            "1",
            "0",
            "4294967296",
            "1-Jan-2020",
            "\"01-Jan-2020 00:00:00 +0000\"",
            "\\Seen",
            "ENABLE",
            "IDLE",
            "SORT",
            "COPY",
            "MOVE",
        ])
        .prop_map(|w| w.as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 1..4),
    ];
    proptest::collection::vec(token, 0..30).prop_map(|tokens| {
        let mut bytes = b"t ".to_vec();
        bytes.extend(tokens.concat());
        bytes.extend_from_slice(b"\r\n");
        bytes
    })
}

proptest! {
    #[test]
    fn never_panics_on_imap_like_input(bytes in imap_like()) {
        let result = parse_command(&bytes);
        if let Err(e) = result {
            prop_assert_eq!(e.tag.as_deref(), Some("t"));
            prop_assert!(!e.text.contains('\r') && !e.text.contains('\n'));
        }
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_command(&bytes);
    }
}
