//! Tests of SEARCH evaluation and responses.

use std::time::{Duration, UNIX_EPOCH};

use imap_proto::{SeqNum, SeqRange};
use mailstore::parse_metadata;

use super::*;
use crate::fetch::month_name;

/// The fixtures, in the order the Dovecot comparison mailbox holds them
/// (sequence number = UID = index + 1), with their flags.
const FIXTURES: &[(&str, &str)] = &[
    ("plain", "S"),
    ("mixed", "FRS"),
    ("encoded-words", ""),
    ("eightbit", "DT"),
    ("forward", "Pa"),
    ("group", "Sab"),
    ("noend", ""),
    ("badtype", ""),
    ("noboundary", ""),
    ("empty-body", ""),
    ("header-only", ""),
    ("binary", ""),
    ("digest", ""),
    ("folded", ""),
    ("fwd-encoded", ""),
    ("odd", ""),
];

/// The folder's keywords.
const KEYWORDS: [(u8, &str); 2] = [(b'a', "Junk"), (b'b', "$Label1")];

/// fixture - a file of `tests/fixtures/`.
fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(if name.contains('/') {
            format!("{name}.txt")
        } else {
            format!("{name}.eml")
        });
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Source - a message in memory, counting what was loaded.
struct Source {
    metadata: Metadata,
    bytes: Vec<u8>,
    metadata_loads: usize,
    message_loads: usize,
}

impl Source {
    fn new(bytes: Vec<u8>) -> Source {
        Source {
            metadata: parse_metadata(&bytes),
            bytes,
            metadata_loads: 0,
            message_loads: 0,
        }
    }
}

impl MessageSource for Source {
    type Error = std::convert::Infallible;

    fn metadata(&mut self) -> Result<&Metadata, Self::Error> {
        self.metadata_loads += 1;
        Ok(&self.metadata)
    }

    fn message(&mut self) -> Result<&[u8], Self::Error> {
        self.message_loads += 1;
        Ok(&self.bytes)
    }
}

/// A source that must not be asked.
struct Nothing;

impl MessageSource for Nothing {
    type Error = &'static str;

    fn metadata(&mut self) -> Result<&Metadata, Self::Error> {
        Err("metadata loaded")
    }

    fn message(&mut self) -> Result<&[u8], Self::Error> {
        Err("message loaded")
    }
}

/// internal_date - the internal date the comparison mailbox gave the
/// fixture with this sequence number (mtime set by its loader).
fn internal_date(seq: u32) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_428_000 + u64::from(seq) * 86_461)
}

/// facts - the facts of fixture number `seq` (1-based).
fn facts(seq: u32, source: &Source) -> Facts<'static> {
    let count = u32::try_from(FIXTURES.len()).unwrap();
    Facts {
        seq,
        uid: seq,
        largest_seq: count,
        largest_uid: count,
        flags: Flags::parse(FIXTURES[usize::try_from(seq).unwrap() - 1].1),
        keywords: &KEYWORDS,
        recent: true,
        internal_date: internal_date(seq),
        size: source.metadata.size,
        modseq: u64::from(seq) * 10,
    }
}

/// Token - a lexical element of SEARCH criteria.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Atom(String),
    Quoted(String),
}

fn tokenize(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' => {}
            '(' => out.push(Token::Open),
            ')' => out.push(Token::Close),
            '"' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => s.push(chars.next().unwrap()),
                        '"' => break,
                        c => s.push(c),
                    }
                }
                out.push(Token::Quoted(s));
            }
            c => {
                let mut s = String::from(c);
                while let Some(&c) = chars.peek() {
                    if c == ' ' || c == '(' || c == ')' {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                out.push(Token::Atom(s));
            }
        }
    }
    out
}

fn parse_set(text: &str) -> SequenceSet {
    let num = |s: &str| {
        if s == "*" {
            SeqNum::Largest
        } else {
            SeqNum::Value(s.parse().unwrap())
        }
    };
    SequenceSet(
        text.split(',')
            .map(|r| match r.split_once(':') {
                Some((a, b)) => SeqRange {
                    start: num(a),
                    end: num(b),
                },
                None => SeqRange {
                    start: num(r),
                    end: num(r),
                },
            })
            .collect(),
    )
}

fn parse_date(text: &str) -> Date {
    let mut it = text.split('-');
    let day = it.next().unwrap().parse().unwrap();
    let month = it.next().unwrap();
    let month = (1..=12u8)
        .find(|&m| month_name(m).eq_ignore_ascii_case(month))
        .unwrap();
    Date {
        year: it.next().unwrap().parse().unwrap(),
        month,
        day,
    }
}

/// parse - SEARCH criteria as a client writes them.
fn parse(text: &str) -> SearchKey {
    let tokens = tokenize(text);
    let mut pos = 0;
    let mut keys = Vec::new();
    while pos < tokens.len() {
        keys.push(parse_key(&tokens, &mut pos));
    }
    if keys.len() == 1 {
        keys.pop().unwrap()
    } else {
        SearchKey::And(keys)
    }
}

fn parse_key(tokens: &[Token], pos: &mut usize) -> SearchKey {
    let next = |pos: &mut usize| {
        *pos += 1;
        tokens[*pos - 1].clone()
    };
    let string = |pos: &mut usize| match next(pos) {
        Token::Atom(s) | Token::Quoted(s) => s,
        t => panic!("{t:?}"),
    };
    let word = match next(pos) {
        Token::Open => {
            let mut keys = Vec::new();
            while tokens[*pos] != Token::Close {
                keys.push(parse_key(tokens, pos));
            }
            *pos += 1;
            return SearchKey::And(keys);
        }
        Token::Atom(a) => a,
        t => panic!("{t:?}"),
    };
    match word.to_ascii_uppercase().as_str() {
        "ALL" => SearchKey::All,
        "ANSWERED" => SearchKey::Answered,
        "UNANSWERED" => SearchKey::Unanswered,
        "DELETED" => SearchKey::Deleted,
        "UNDELETED" => SearchKey::Undeleted,
        "DRAFT" => SearchKey::Draft,
        "UNDRAFT" => SearchKey::Undraft,
        "FLAGGED" => SearchKey::Flagged,
        "UNFLAGGED" => SearchKey::Unflagged,
        "SEEN" => SearchKey::Seen,
        "UNSEEN" => SearchKey::Unseen,
        "NEW" => SearchKey::New,
        "OLD" => SearchKey::Old,
        "RECENT" => SearchKey::Recent,
        "KEYWORD" => SearchKey::Keyword(string(pos)),
        "UNKEYWORD" => SearchKey::Unkeyword(string(pos)),
        "LARGER" => SearchKey::Larger(string(pos).parse().unwrap()),
        "SMALLER" => SearchKey::Smaller(string(pos).parse().unwrap()),
        "MODSEQ" => SearchKey::ModSeq(string(pos).parse().unwrap()),
        "BEFORE" => SearchKey::Before(parse_date(&string(pos))),
        "ON" => SearchKey::On(parse_date(&string(pos))),
        "SINCE" => SearchKey::Since(parse_date(&string(pos))),
        "SENTBEFORE" => SearchKey::SentBefore(parse_date(&string(pos))),
        "SENTON" => SearchKey::SentOn(parse_date(&string(pos))),
        "SENTSINCE" => SearchKey::SentSince(parse_date(&string(pos))),
        "SUBJECT" => SearchKey::Subject(string(pos)),
        "FROM" => SearchKey::From(string(pos)),
        "TO" => SearchKey::To(string(pos)),
        "CC" => SearchKey::Cc(string(pos)),
        "BCC" => SearchKey::Bcc(string(pos)),
        "BODY" => SearchKey::Body(string(pos)),
        "TEXT" => SearchKey::Text(string(pos)),
        "HEADER" => {
            let name = string(pos);
            SearchKey::Header(name, string(pos))
        }
        "UID" => SearchKey::Uid(parse_set(&string(pos))),
        "NOT" => SearchKey::Not(Box::new(parse_key(tokens, pos))),
        "OR" => {
            let a = parse_key(tokens, pos);
            SearchKey::Or(Box::new(a), Box::new(parse_key(tokens, pos)))
        }
        _ => SearchKey::Sequence(parse_set(&word)),
    }
}

/// search - the sequence numbers of the fixtures matching `criteria`.
fn search(criteria: &str) -> Vec<u32> {
    let matcher = Matcher::new(&parse(criteria));
    let mut found = Vec::new();
    for (i, (name, _)) in FIXTURES.iter().enumerate() {
        let seq = u32::try_from(i + 1).unwrap();
        let mut source = Source::new(fixture(name));
        let facts = facts(seq, &source);
        if matcher.matches(&facts, &mut source).unwrap() {
            found.push(seq);
        }
    }
    found
}

#[test]
fn searches_match_dovecot() {
    let text = String::from_utf8(fixture("dovecot/dovecot-search")).unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for line in text.lines() {
        let (criteria, theirs) = line.split_once(" => ").unwrap();
        let ours: Vec<String> = search(criteria).iter().map(u32::to_string).collect();
        if ours.join(" ") != theirs {
            failures.push(format!(
                "{criteria}: ours {:?}, Dovecot {theirs:?}",
                ours.join(" ")
            ));
        }
        count += 1;
    }
    assert!(count > 100);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// bare - facts of a message with nothing set, in a mailbox of 10.
fn bare() -> Facts<'static> {
    Facts {
        seq: 4,
        uid: 40,
        largest_seq: 10,
        largest_uid: 100,
        flags: Flags::empty(),
        keywords: &KEYWORDS,
        recent: false,
        // 2026-11-23 23:59:59 UTC.
        internal_date: UNIX_EPOCH + Duration::from_secs(1_795_478_399),
        size: 1000,
        modseq: 7,
    }
}

/// cheap - whether `key` matches `facts` without loading anything.
fn cheap(key: &str, facts: &Facts<'_>) -> bool {
    let matcher = Matcher::new(&parse(key));
    assert_eq!(matcher.needs(), Need::Entry, "{key}");
    matcher.matches(facts, &mut Nothing).unwrap()
}

#[test]
fn flag_keys() {
    let none = bare();
    let all = Facts {
        flags: Flags::parse("DFRST"),
        recent: true,
        ..bare()
    };
    for (key, on_all) in [
        ("ANSWERED", true),
        ("DELETED", true),
        ("DRAFT", true),
        ("FLAGGED", true),
        ("SEEN", true),
        ("RECENT", true),
        ("UNANSWERED", false),
        ("UNDELETED", false),
        ("UNDRAFT", false),
        ("UNFLAGGED", false),
        ("UNSEEN", false),
        ("OLD", false),
    ] {
        assert_eq!(cheap(key, &all), on_all, "{key}");
        assert_eq!(cheap(key, &none), !on_all, "{key}");
    }
    // NEW is recent and unseen.
    assert!(!cheap("NEW", &all));
    assert!(!cheap("NEW", &none));
    let fresh = Facts {
        recent: true,
        ..bare()
    };
    assert!(cheap("NEW", &fresh));
    assert!(cheap("ALL", &none));
    // P (passed) is not a keyword.
    let passed = Facts {
        flags: Flags::parse("Pb"),
        ..bare()
    };
    assert!(!cheap("KEYWORD $Forwarded", &passed));
    assert!(cheap("KEYWORD $LABEL1", &passed));
    assert!(!cheap("KEYWORD Junk", &passed));
    assert!(cheap("UNKEYWORD junk", &passed));
    assert!(!cheap("UNKEYWORD $label1", &passed));
    // A letter the folder has no name for is no keyword.
    let unnamed = Facts {
        flags: Flags::parse("z"),
        ..bare()
    };
    assert!(cheap("UNKEYWORD z", &unnamed));
}

#[test]
fn number_size_date_and_modseq_keys() {
    let m = bare();
    for (key, want) in [
        ("LARGER 999", true),
        ("LARGER 1000", false),
        ("SMALLER 1001", true),
        ("SMALLER 1000", false),
        ("4", true),
        ("1:3,5:*", false),
        ("*", false),
        ("10:2", true),
        ("UID 40", true),
        ("UID 41:*", false),
        ("UID *:40", true),
        ("UID 1,2,3", false),
        ("MODSEQ 7", true),
        ("MODSEQ 8", false),
        // The internal date is 2026-11-23 23:59:59 UTC.
        ("ON 23-Nov-2026", true),
        ("ON 24-Nov-2026", false),
        ("BEFORE 23-Nov-2026", false),
        ("BEFORE 24-Nov-2026", true),
        ("SINCE 23-Nov-2026", true),
        ("SINCE 24-Nov-2026", false),
        ("NOT ON 23-Nov-2026", false),
        ("OR ON 1-Jan-2000 LARGER 10", true),
        ("(LARGER 10 SMALLER 20)", false),
    ] {
        assert_eq!(cheap(key, &m), want, "{key}");
    }
    let last = Facts {
        seq: 10,
        uid: 100,
        ..bare()
    };
    assert!(cheap("*", &last));
    assert!(cheap("UID 99:*", &last));
    assert!(Matcher::new(&parse("NOT MODSEQ 5")).uses_modseq());
    assert!(Matcher::new(&parse("OR SEEN (DRAFT MODSEQ 5)")).uses_modseq());
    assert!(!Matcher::new(&parse("OR SEEN (DRAFT LARGER 5)")).uses_modseq());
}

/// one - whether `key` matches the message `bytes` (facts: bare()).
fn one(key: &str, bytes: &[u8]) -> bool {
    let mut source = Source::new(bytes.to_vec());
    matches(&parse(key), &bare(), &mut source).unwrap()
}

#[test]
fn sent_dates_use_the_headers_own_zone() {
    let at = |date: &str| format!("Date: {date}\nSubject: s\n\nbody\n").into_bytes();
    let late = at("Wed, 25 Nov 2026 23:30:00 -0500");
    assert!(one("SENTON 25-Nov-2026", &late));
    assert!(one("SENTBEFORE 26-Nov-2026", &late));
    assert!(!one("SENTSINCE 26-Nov-2026", &late));
    let early = at("Thu, 26 Nov 2026 00:30:00 +1400");
    assert!(one("SENTON 26-Nov-2026", &early));
    assert!(one("SENTSINCE 26-Nov-2026", &early));
    // No Date:, or one that does not parse: 1970-01-01.
    for bytes in [b"Subject: s\n\nbody\n".to_vec(), at("yesterday")] {
        assert!(one("SENTON 1-Jan-1970", &bytes));
        assert!(one("SENTBEFORE 2-Jan-1970", &bytes));
        assert!(!one("SENTSINCE 2-Jan-1970", &bytes));
    }
}

#[test]
fn header_keys() {
    let bytes = b"From: =?UTF-8?Q?J=C3=B6rg?= <joerg@example.de>\nTo:\nSubject: =?ISO-8859-1?Q?Gr=FC=DFe?= aus\n  K\xc3\xb6ln\nX-Empty:\nX-Dup: first\nx-dup: second\n\nbody mentions X-Dup\n";
    for (key, want) in [
        ("FROM jörg", true),
        ("FROM \"JÖRG <joerg@\"", true),
        ("FROM \"\"", true),
        ("TO \"\"", true),
        ("TO joerg", false),
        ("CC \"\"", false),
        ("BCC \"\"", false),
        ("SUBJECT \"grüße aus köln\"", true),
        ("SUBJECT \"GRÜSSE\"", false),
        ("SUBJECT \"\"", true),
        ("HEADER X-Empty \"\"", true),
        ("HEADER X-Missing \"\"", false),
        ("HEADER x-dup SECOND", true),
        ("HEADER X-Dup third", false),
        ("HEADER subject \"aus köln\"", true),
        ("HEADER From \"Jörg <joerg\"", true),
    ] {
        assert_eq!(one(key, bytes), want, "{key}");
    }
    // No Subject: at all.
    assert!(!one("SUBJECT \"\"", b"From: a@b\n\nx\n"));
}

#[test]
fn body_and_text_keys() {
    let bytes = fixture("fwd-encoded");
    for (key, want) in [
        ("BODY \"grüße in base64\"", true),
        ("BODY \"zoë schreibt: schöne grüße\"", true),
        ("BODY kumquat", true),
        ("BODY \"hidden kumquat\"", false),
        ("BODY wanda", false),
        ("TEXT wanda", true),
        ("TEXT \"content-transfer-encoding: base64\"", true),
        ("BODY \"R3LDvMOf\"", false),
        ("TEXT \"R3LDvMOf\"", false),
        ("BODY \"\"", true),
        ("TEXT \"\"", true),
        ("NOT BODY kumquat", false),
    ] {
        assert_eq!(one(key, &bytes), want, "{key}");
    }
    // An embedded message in base64: its own headers and text count.
    let inner = "From: inner@example.org\nSubject: Verborgen\n\nGeheimer Text\n";
    let encoded = {
        let table = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in inner.as_bytes().chunks(3) {
            let n =
                chunk.iter().fold(0u32, |a, &b| (a << 8) | u32::from(b)) << (8 * (3 - chunk.len()));
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(char::from(
                        table[usize::try_from((n >> (18 - 6 * i)) & 63).unwrap()],
                    ));
                } else {
                    out.push('=');
                }
            }
        }
        out
    };
    let outer = format!(
        "Subject: outer\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\n{encoded}\n--b--\n"
    );
    assert!(one("BODY \"geheimer text\"", outer.as_bytes()));
    assert!(one("TEXT verborgen", outer.as_bytes()));
    assert!(!one("BODY verborgen", outer.as_bytes()));
}

#[test]
fn a_message_the_mime_parser_trips_over_is_still_searched() {
    // Trips a debug_assert! in mail-parser 0.11 (debug builds).
    let data = b"Subject: nested\nContent-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n\n--a--\nneedle\n";
    let text = text::message_text(data);
    assert!(text.headers.iter().any(|h| h.contains("subject: nested")));
    assert!(one("TEXT nested", data));
    let _ = one("BODY needle", data);
}

#[test]
fn only_what_a_key_needs_is_loaded() {
    let cases: &[(&str, Need, usize, usize)] = &[
        ("SEEN LARGER 5 UID 1:*", Need::Entry, 0, 0),
        ("SUBJECT x", Need::Metadata, 1, 0),
        (
            "FROM x TO y SENTON 1-Jan-2020 SUBJECT z",
            Need::Metadata,
            1,
            0,
        ),
        ("FROM \"\"", Need::Message, 1, 0),
        ("TO \"\"", Need::Message, 1, 1),
        ("HEADER X-A b", Need::Message, 0, 1),
        ("BODY x TEXT y HEADER z w", Need::Message, 0, 1),
        ("OR BODY x OR TEXT q HEADER z w", Need::Message, 0, 2),
        ("NOT BODY x", Need::Message, 0, 1),
        ("OR SEEN BODY x", Need::Message, 0, 1),
    ];
    for &(key, need, metadata_loads, message_loads) in cases {
        let matcher = Matcher::new(&parse(key));
        assert_eq!(matcher.needs(), need, "{key}");
        let mut source = Source::new(b"From: a@b\n\nbody\n".to_vec());
        matcher.matches(&bare(), &mut source).unwrap();
        assert_eq!(source.metadata_loads, metadata_loads, "{key}");
        assert_eq!(source.message_loads, message_loads, "{key}");
    }
    // Cheap keys decide first, whatever the client's order: the source
    // that fails when asked is never asked.
    let m = bare();
    for key in [
        "BODY x SEEN",
        "SUBJECT x HEADER a b DELETED",
        "OR BODY x ALL",
        "OR (BODY x) NOT SEEN",
        "NOT (BODY x SEEN)",
    ] {
        let result = Matcher::new(&parse(key)).matches(&m, &mut Nothing);
        assert!(result.is_ok(), "{key}");
    }
    // And when the source is needed, its error ends the search.
    assert_eq!(
        Matcher::new(&parse("UNSEEN BODY x")).matches(&m, &mut Nothing),
        Err("message loaded")
    );
    assert_eq!(
        Matcher::new(&parse("SUBJECT x")).matches(&m, &mut Nothing),
        Err("metadata loaded")
    );
}

#[test]
fn folding_and_address_forms() {
    assert_eq!(text::fold("  Grüße\t\r\n  AUS  Köln "), " grüße aus köln ");
    assert_eq!(
        text::decode_value(b" =?UTF-8?B?w5xiZXI=?=\n =?UTF-8?Q?_weg?= now\n"),
        "Über weg now"
    );
    assert_eq!(text::decode_value(b"plain"), "plain");
    let meta = parse_metadata(
        b"To: Team: \"A, B\" <ab@x>, c@y;, <@r1,@r2:d@z>, \"e f\"@w, =?UTF-8?Q?G=C3=BC?= <g@v>, Empty:;, h\n\n",
    );
    assert_eq!(
        text::addresses_text(&meta.envelope.to),
        "team: \"a, b\" <ab@x>, <c@y>;, <@r1,@r2:d@z>, <\"e f\"@w>, gü <g@v>, empty:;, <h@missing_domain>"
    );
    assert_eq!(text::addresses_text(&[]), "");
}

#[test]
fn sequence_sets_are_compact() {
    assert_eq!(compact_set(&[]), "");
    assert_eq!(compact_set(&[1]), "1");
    assert_eq!(compact_set(&[3, 2, 1, 1, 5, 9, 10, 11, 7]), "1:3,5,7,9:11");
    assert_eq!(
        compact_set(&[u32::MAX, u32::MAX - 1, 1]),
        "1,4294967294:4294967295"
    );
}

/// esearch - an ESEARCH line as text.
fn esearch(
    tag: &str,
    uid: bool,
    returns: &[SearchReturn],
    numbers: &[u32],
    modseq: Option<u64>,
) -> String {
    let mut out = Vec::new();
    write_esearch(&mut out, tag, uid, numbers, returns, modseq);
    String::from_utf8(out).unwrap()
}

#[test]
fn search_responses_as_dovecot_sends_them() {
    use SearchReturn::{All, Count, Max, Min};
    let mut out = Vec::new();
    write_search(&mut out, &[1, 2, 6], None);
    assert_eq!(out, b"* SEARCH 1 2 6\r\n");
    let mut out = Vec::new();
    write_search(&mut out, &[], None);
    assert_eq!(out, b"* SEARCH\r\n");
    let mut out = Vec::new();
    write_search(&mut out, &[1, 2, 3], Some(4));
    assert_eq!(out, b"* SEARCH 1 2 3 (MODSEQ 4)\r\n");
    // Lines Dovecot sent (UID SEARCH RETURN (MIN MAX COUNT ALL) ...).
    let found = [1, 2, 3, 4, 6, 9, 10, 11, 12];
    assert_eq!(
        esearch("a27", true, &[Min, Max, Count, All], &found, None),
        "* ESEARCH (TAG \"a27\") UID MIN 1 MAX 12 ALL 1:4,6,9:12 COUNT 9\r\n"
    );
    assert_eq!(
        esearch("a28", false, &[], &[1, 2, 3, 4, 6], None),
        "* ESEARCH (TAG \"a28\") ALL 1:4,6\r\n"
    );
    assert_eq!(
        esearch("a29", false, &[Count], &[], None),
        "* ESEARCH (TAG \"a29\") COUNT 0\r\n"
    );
    assert_eq!(
        esearch("a30", false, &[Min, Max, All], &[], None),
        "* ESEARCH (TAG \"a30\")\r\n"
    );
    assert_eq!(
        esearch("a32", false, &[All], &[1, 1, 1], None),
        "* ESEARCH (TAG \"a32\") ALL 1\r\n"
    );
    assert_eq!(
        esearch("a35", false, &[All], &(1..=15).collect::<Vec<_>>(), Some(4)),
        "* ESEARCH (TAG \"a35\") ALL 1:15 MODSEQ 4\r\n"
    );
    assert_eq!(
        esearch("t", true, &[Max], &[5, 3], None),
        "* ESEARCH (TAG \"t\") UID MAX 5\r\n"
    );
    assert_eq!(
        esearch("odd\"tag", false, &[Count], &[2, 2], None),
        "* ESEARCH (TAG \"odd\\\"tag\") COUNT 1\r\n"
    );
}

#[test]
fn odd_messages_are_searched_without_trouble() {
    const LINES: &[&str] = &[
        "Content-Type: multipart/mixed; boundary=a",
        "Content-Type: message/rfc822",
        "Content-Type: text/html; charset=iso-8859-1",
        "Content-Transfer-Encoding: base64",
        "Content-Transfer-Encoding: quoted-printable",
        "To: g: a@b, =?UTF-8?B?w5w=?= <c@d>;",
        "Date: 31 Feb 2026 25:61:00 +9999",
        " folded",
        "--a",
        "--a--",
        "",
        "caf=E9 QUJD",
    ];
    let matcher = Matcher::new(&parse(
        "OR OR BODY zz9 TEXT zz9 OR SUBJECT zz9 OR TO zz9 OR HEADER x zz9 SENTON 1-Jan-2000",
    ));
    let mut state = 7u64;
    for round in 0..150 {
        let mut bytes = Vec::new();
        for _ in 0..round % 30 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.extend_from_slice(
                LINES[usize::try_from(state % LINES.len() as u64).unwrap()].as_bytes(),
            );
            bytes.push(b'\n');
        }
        let mut source = Source::new(bytes);
        let facts = bare();
        assert!(!matcher.matches(&facts, &mut source).unwrap(), "{round}");
    }
}

#[test]
fn ascii_folding_matches_the_unicode_rules() {
    // The reference: lower-case each character, one space per run of
    // white space (char::is_whitespace), as fold does for other text.
    let reference = |text: &str| {
        let mut out = String::new();
        let mut in_space = false;
        for c in text.chars() {
            if c.is_whitespace() {
                if !in_space {
                    out.push(' ');
                }
                in_space = true;
            } else {
                in_space = false;
                out.extend(c.to_lowercase());
            }
        }
        out
    };
    for text in [
        "",
        " ",
        "Hello World",
        "  A\t\x0b\x0cB\r\n C  ",
        "MiXeD-CaSe_123 [tag] @#$",
        "\x00\x1f\x7f",
    ] {
        assert_eq!(text::fold(text), reference(text), "{text:?}");
    }
}
