//! Tests of FETCH rendering: against Dovecot's answers for the fixtures
//! (`imapd/tests/fixtures/dovecot/`), then case by case.
//!
//! # Known differences from Dovecot 2.3.19
//!
//! All of them come from the metadata (the mailstore crate), not from
//! this module, and are listed in [`KNOWN_STRUCTURE`] and
//! [`KNOWN_SECTIONS`] with Postern's output:
//!
//! * case: Dovecot keeps media types, parameter names, disposition and
//!   encoding as written (`"TEXT" "PLAIN"`, `"BASE64"`); the metadata has
//!   them in lower case;
//! * RFC 2231 parameters: Dovecot sends `("name*" "UTF-8''K%C3%A4se.txt")`
//!   as written; the metadata decodes them (`("name" "Käse.txt")`);
//! * a Content-Type that does not parse is `"" ""` in Dovecot and
//!   text/plain here; a multipart without a boundary is, in Dovecot, a
//!   multipart holding one empty text/plain part, and here one
//!   text/plain part holding the whole body.
//!
//! And from Dovecot's own quirks, not copied:
//!
//! * BINARY.SIZE fails in Dovecot for every part of a message that has a
//!   part it cannot decode, and can differ from the size of BINARY's
//!   data; here it is always the size of that data;
//! * BODY[HEADER.FIELDS.NOT] of a header without an empty line after it,
//!   all of whose fields are excluded, is empty in Dovecot; here it is an
//!   empty line like every other such section.

use std::time::{Duration, UNIX_EPOCH};

use imap_proto::Date;
use mailstore::{Flags, parse_metadata};

use super::*;

/// The fixtures, in the order the Dovecot comparison mailbox holds them
/// (sequence number = index + 1).
const FIXTURES: &[&str] = &[
    "plain",
    "mixed",
    "encoded-words",
    "eightbit",
    "forward",
    "group",
    "noend",
    "badtype",
    "noboundary",
    "empty-body",
    "header-only",
    "binary",
    "digest",
    "folded",
    "fwd-encoded",
    "odd",
];

/// fixture - a file of `imapd/tests/fixtures/`.
fn fixture(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// message - fixture `name`.eml and its metadata.
fn message(name: &str) -> (Vec<u8>, Metadata) {
    let bytes = fixture(&format!("{name}.eml"));
    let meta = parse_metadata(&bytes);
    (bytes, meta)
}

/// NO_KEYWORDS - a folder without keywords.
const NO_KEYWORDS: [(u8, &str); 0] = [];

/// entry - a [`Message`] with this metadata and these bytes, and entry
/// facts of no interest.
fn entry<'a>(metadata: Option<&'a Metadata>, bytes: Option<&'a [u8]>) -> Message<'a> {
    Message {
        uid: 1,
        flags: Flags::empty(),
        keywords: &NO_KEYWORDS,
        recent: false,
        internal_date: UNIX_EPOCH,
        size: metadata.map_or(0, |m| m.size),
        modseq: 1,
        metadata,
        bytes,
    }
}

/// escape - bytes as one line, as `capture.py` writes them: UTF-8 as it
/// is, `\\`, `\r`, `\n`, and `\xHH` for control characters and bytes
/// that are not UTF-8.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\r' => out.push_str("\\r"),
                '\n' => out.push_str("\\n"),
                c if u32::from(c) < 0x20 || c == '\x7f' => {
                    out.push_str(&format!("\\x{:02x}", u32::from(c)));
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// unescape - the bytes of an [`escape`]d line.
fn unescape(line: &str) -> Vec<u8> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            match bytes[i + 1] {
                b'\\' => out.push(b'\\'),
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b'x' => {
                    let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                other => panic!("bad escape {other}"),
            }
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// canonical - IMAP data with every literal written as a quoted string,
/// so that the choice between the two does not count.
fn canonical(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    let mut quoted = false;
    while i < data.len() {
        let b = data[i];
        if quoted {
            out.push(b);
            if b == b'\\' {
                out.push(data[i + 1]);
                i += 1;
            } else if b == b'"' {
                quoted = false;
            }
            i += 1;
            continue;
        }
        if b == b'"' {
            quoted = true;
        } else if b == b'{' {
            let close = i + data[i..].iter().position(|&c| c == b'}').unwrap();
            let n: usize = std::str::from_utf8(&data[i + 1..close])
                .unwrap()
                .parse()
                .unwrap();
            let start = close + 3;
            out.push(b'"');
            for &c in &data[start..start + n] {
                if c == b'"' || c == b'\\' {
                    out.push(b'\\');
                }
                out.push(c);
            }
            out.push(b'"');
            i = start + n;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
}

/// dovecot - the lines of a capture file: (key, value), split at the
/// first `=> ` (sections, search) or the first space (structure).
fn dovecot(file: &str, separator: &str) -> Vec<(String, String)> {
    let text = String::from_utf8(fixture(&format!("dovecot/{file}"))).unwrap();
    text.lines()
        .map(|line| {
            let (key, value) = line.split_once(separator).unwrap();
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

/// Where Postern's ENVELOPE, BODY or BODYSTRUCTURE differs from Dovecot's:
/// (sequence number and item, Postern's value). See the module docs.
const KNOWN_STRUCTURE: &[(&str, &str)] = &[
    // RFC 2231 parameters decoded.
    (
        "3 BODYSTRUCTURE",
        "((\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted-printable\" 25 0 NIL NIL NIL NIL)(\"application\" \"octet-stream\" (\"name\" {9}\r\nKäse.txt) NIL NIL \"base64\" 8 NIL (\"attachment\" (\"filename\" {15}\r\nKäse Liste.txt)) NIL NIL) \"mixed\" (\"boundary\" \"b1\") NIL NIL NIL)",
    ),
    (
        "3 BODY",
        "((\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted-printable\" 25 0)(\"application\" \"octet-stream\" (\"name\" {9}\r\nKäse.txt) NIL NIL \"base64\" 8) \"mixed\")",
    ),
    // A Content-Type that does not parse (Dovecot: "" "").
    (
        "8 BODYSTRUCTURE",
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "quoted-printable" 44 1 NIL NIL NIL NIL)"#,
    ),
    (
        "8 BODY",
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "quoted-printable" 44 1)"#,
    ),
    // A multipart without a boundary.
    (
        "9 BODYSTRUCTURE",
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 61 5 NIL NIL NIL NIL)"#,
    ),
    (
        "9 BODY",
        r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 61 5)"#,
    ),
    // "BASE64" in lower case.
    (
        "15 BODYSTRUCTURE",
        "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 340 (NIL \"Inner\" ((NIL NIL \"wanda\" \"example.org\")) ((NIL NIL \"wanda\" \"example.org\")) ((NIL NIL \"wanda\" \"example.org\")) NIL NIL NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"base64\" 24 0 NIL NIL NIL NIL)(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted-printable\" 34 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"i\") NIL NIL NIL) 16 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"base64\" 52 0 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"o\") NIL NIL NIL)",
    ),
    (
        "15 BODY",
        "((\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 340 (NIL \"Inner\" ((NIL NIL \"wanda\" \"example.org\")) ((NIL NIL \"wanda\" \"example.org\")) ((NIL NIL \"wanda\" \"example.org\")) NIL NIL NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"base64\" 24 0)(\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted-printable\" 34 0) \"mixed\") 16)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"base64\" 52 0) \"mixed\")",
    ),
    // Case folded.
    (
        "16 BODYSTRUCTURE",
        "(\"text\" \"plain\" (\"format\" \"Flowed\" \"delsp\" \"Yes\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 65 1 NIL (\"inline\" (\"filename\" \"a b.txt\")) (\"fr\") \"relative/path.txt\")",
    ),
    (
        "16 BODY",
        "(\"text\" \"plain\" (\"format\" \"Flowed\" \"delsp\" \"Yes\" \"charset\" \"us-ascii\") NIL NIL \"7bit\" 65 1)",
    ),
];

#[test]
fn structures_match_dovecot() {
    let lines = dovecot("dovecot-structure.txt", " ");
    assert_eq!(lines.len(), 3 * FIXTURES.len());
    let mut failures = Vec::new();
    for (seq, theirs) in &lines {
        let index: usize = seq.parse().unwrap();
        let (bytes, meta) = message(FIXTURES[index - 1]);
        let (name, _) = theirs.split_once(' ').unwrap();
        let attr = match name {
            "ENVELOPE" => FetchAttr::Envelope,
            "BODYSTRUCTURE" => FetchAttr::BodyStructure,
            "BODY" => FetchAttr::Body,
            other => panic!("{other}"),
        };
        assert!(needs_metadata(&attr) && !needs_bytes(&attr));
        let mut ours = Vec::new();
        write_item(&mut ours, &attr, &entry(Some(&meta), None)).unwrap();
        let theirs = unescape(theirs);
        let key = format!("{seq} {name}");
        match KNOWN_STRUCTURE.iter().find(|(k, _)| *k == key) {
            Some((_, known)) => {
                let want = format!("{name} {known}");
                if ours != want.as_bytes() {
                    failures.push(format!("{key}: ours changed:\n{}", escape(&ours)));
                }
                if canonical(&ours) == canonical(&theirs) {
                    failures.push(format!("{key}: now the same as Dovecot's"));
                }
            }
            None if canonical(&ours) != canonical(&theirs) => failures.push(format!(
                "{key}:\n  ours:    {}\n  Dovecot: {}",
                escape(&ours),
                escape(&theirs)
            )),
            None => {}
        }
        let _ = bytes;
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Where Postern's BODY[...], BINARY[...] or BINARY.SIZE[...] differs
/// from Dovecot's: (sequence number and section line, Postern's value).
const KNOWN_SECTIONS: &[(&str, &str)] = &[
    // A multipart without a boundary: one text part here, a multipart
    // with one empty part in Dovecot.
    (
        "9 B|1",
        "BODY[1] {61}\\r\\n--x\\r\\nContent-Type: text/plain\\r\\n\\r\\nnothing splits this\\r\\n--x--\\r\\n",
    ),
    (
        "9 B|1.MIME",
        "BODY[1.MIME] {95}\\r\\nFrom: quinn@example.org\\r\\nSubject: Multipart without boundary\\r\\nContent-Type: multipart/mixed\\r\\n\\r\\n",
    ),
    ("9 B|1<3.4>", "BODY[1]<3> {4}\\r\\n\\r\\nCo"),
    (
        "9 N|1",
        "BINARY[1] {61}\\r\\n--x\\r\\nContent-Type: text/plain\\r\\n\\r\\nnothing splits this\\r\\n--x--\\r\\n",
    ),
    ("9 N|1<2.5>", "BINARY[1]<2> {5}\\r\\nx\\r\\nCo"),
    ("9 S|1", "BINARY.SIZE[1] 61"),
    // Dovecot's empty HEADER.FIELDS.NOT without the empty line.
    (
        "11 B|HEADER.FIELDS.NOT (FROM SUBJECT)",
        "BODY[HEADER.FIELDS.NOT (FROM SUBJECT)] {2}\\r\\n\\r\\n",
    ),
    // Dovecot cannot size any part of a message with an unknown encoding.
    ("12 S|1", "BINARY.SIZE[1] 20"),
    ("12 S|2", "BINARY.SIZE[2] 18"),
    ("12 S|3", "BINARY.SIZE[3] 6"),
    ("12 S|1.1", "BINARY.SIZE[1.1] 20"),
    ("12 S|2.1", "BINARY.SIZE[2.1] 18"),
    // Dovecot says 301 but sends 316 bytes for BINARY[1].
    ("15 S|1", "BINARY.SIZE[1] 316"),
];

/// parse_section - a section of `sections.txt`: `2.HEADER.FIELDS (A B)`,
/// `1<2.5>`.
fn parse_section(text: &str) -> (Section, Option<(u32, u32)>) {
    let (body, partial) = match text.find('<') {
        Some(i) => {
            let (offset, count) = text[i + 1..text.len() - 1].split_once('.').unwrap();
            (
                &text[..i],
                Some((offset.parse().unwrap(), count.parse().unwrap())),
            )
        }
        None => (text, None),
    };
    let mut part = Vec::new();
    let mut rest = body;
    while let Some(n) = rest.split('.').next().and_then(|n| n.parse::<u32>().ok()) {
        part.push(n);
        rest = rest.split_once('.').map_or("", |(_, r)| r);
    }
    let names = |s: &str| -> Vec<String> {
        let inner = &s[s.find('(').unwrap() + 1..s.len() - 1];
        inner.split(' ').map(str::to_owned).collect()
    };
    let text = match rest {
        "" => None,
        "HEADER" => Some(SectionText::Header),
        "TEXT" => Some(SectionText::Text),
        "MIME" => Some(SectionText::Mime),
        r if r.starts_with("HEADER.FIELDS.NOT") => Some(SectionText::HeaderFieldsNot(names(r))),
        r if r.starts_with("HEADER.FIELDS") => Some(SectionText::HeaderFields(names(r))),
        r => panic!("{r}"),
    };
    (Section { part, text }, partial)
}

#[test]
fn sections_match_dovecot() {
    let lines = dovecot("dovecot-sections.txt", " => ");
    let specs = String::from_utf8(fixture("dovecot/sections.txt")).unwrap();
    assert_eq!(lines.len(), specs.lines().count() * FIXTURES.len());
    let mut failures = Vec::new();
    for (key, theirs) in &lines {
        let (seq, spec) = key.split_once(' ').unwrap();
        let (bytes, meta) = message(FIXTURES[seq.parse::<usize>().unwrap() - 1]);
        let (kind, text) = spec.split_once('|').unwrap();
        let (section, partial) = parse_section(text);
        let attr = match kind {
            "B" => FetchAttr::BodySection {
                peek: true,
                section,
                partial,
            },
            "N" => FetchAttr::Binary {
                peek: true,
                part: section.part,
                partial,
            },
            "S" => FetchAttr::BinarySize { part: section.part },
            other => panic!("{other}"),
        };
        assert!(needs_metadata(&attr) && needs_bytes(&attr));
        assert!(!sets_seen(&attr));
        let mut data = Vec::new();
        let ours = match write_item(&mut data, &attr, &entry(Some(&meta), Some(&bytes))) {
            Ok(()) => escape(&data),
            Err(ItemError::Binary(BinaryError::UnknownCte(_))) => "NO UNKNOWN-CTE".to_owned(),
            Err(ItemError::Binary(BinaryError::Invalid)) => "NO PARSE".to_owned(),
            Err(e) => panic!("{key}: {e}"),
        };
        match KNOWN_SECTIONS.iter().find(|(k, _)| k == key) {
            Some((_, known)) => {
                if ours != *known {
                    failures.push(format!("{key}: ours changed:\n{ours}"));
                }
                if ours == *theirs {
                    failures.push(format!("{key}: now the same as Dovecot's"));
                }
            }
            None if ours != *theirs => {
                failures.push(format!("{key}:\n  ours:    {ours}\n  Dovecot: {theirs}"));
            }
            None => {}
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// flags_of - FLAGS for these letters.
fn flags_of(letters: &str, recent: bool) -> String {
    let keywords = [(b'a', "Junk"), (b'b', "$Label1"), (b'd', "$Forwarded")];
    let mut out = Vec::new();
    write_flags(&mut out, Flags::parse(letters), &keywords, recent);
    String::from_utf8(out).unwrap()
}

#[test]
fn flags_are_listed_in_dovecots_order() {
    // As Dovecot listed the comparison mailbox's messages.
    assert_eq!(flags_of("S", true), r"(\Seen \Recent)");
    assert_eq!(flags_of("FRS", true), r"(\Answered \Flagged \Seen \Recent)");
    assert_eq!(flags_of("DT", true), r"(\Deleted \Draft \Recent)");
    // P is not shown; a keyword letter without a name neither.
    assert_eq!(flags_of("Pac", true), r"(\Recent Junk)");
    assert_eq!(flags_of("Sab", true), r"(\Seen \Recent Junk $Label1)");
    assert_eq!(flags_of("", false), "()");
    assert_eq!(
        flags_of("DFPRSTabd", false),
        r"(\Answered \Flagged \Deleted \Seen \Draft Junk $Label1 $Forwarded)"
    );
    let names: Vec<&str> =
        keyword_names(Flags::parse("Sbz"), &[(b'b', "x"), (b'z', "y")]).collect();
    assert_eq!(names, ["x", "y"]);
    let owned = vec![(b'c', "Owned".to_owned())];
    assert_eq!(owned.keyword_name(b'c'), Some("Owned"));
    assert_eq!(owned.as_slice().keyword_name(b'a'), None);
}

/// date_of - INTERNALDATE for `seconds` after (or before) the epoch.
fn date_of(seconds: i64) -> String {
    let time = if seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs())
    };
    let mut out = Vec::new();
    write_internal_date(&mut out, time);
    String::from_utf8(out).unwrap()
}

#[test]
fn internal_dates_are_utc_with_zero_padded_days() {
    // The comparison mailbox's first and seventh messages, as Dovecot
    // (running in UTC) showed them.
    assert_eq!(date_of(1_795_514_461), r#""24-Nov-2026 10:01:01 +0000""#);
    assert_eq!(date_of(1_796_033_227), r#""30-Nov-2026 10:07:07 +0000""#);
    assert_eq!(date_of(1_796_119_688), r#""01-Dec-2026 10:08:08 +0000""#);
    assert_eq!(date_of(0), r#""01-Jan-1970 00:00:00 +0000""#);
    assert_eq!(date_of(-1), r#""31-Dec-1969 23:59:59 +0000""#);
    assert_eq!(date_of(951_782_400), r#""29-Feb-2000 00:00:00 +0000""#);
    assert_eq!(date_of(4_133_980_799), r#""31-Dec-2100 23:59:59 +0000""#);
    assert_eq!(date_of(4_107_542_399), r#""28-Feb-2100 23:59:59 +0000""#);
    assert_eq!(date_of(-2_208_988_800), r#""01-Jan-1900 00:00:00 +0000""#);
    // Half a second before the epoch is still 1969.
    let mut out = Vec::new();
    write_internal_date(&mut out, UNIX_EPOCH - Duration::from_millis(500));
    assert_eq!(out, br#""31-Dec-1969 23:59:59 +0000""#);
    // Every day of a few centuries: the civil calendar round trip.
    let mut expected = Date {
        year: 1900,
        month: 1,
        day: 1,
    };
    let days_in = |y: u16, m: u8| match m {
        2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    for days in -25_567..80_000 {
        assert_eq!(civil_date(days), expected, "{days}");
        expected.day += 1;
        if expected.day > days_in(expected.year, expected.month) {
            expected.day = 1;
            expected.month += 1;
            if expected.month > 12 {
                expected.month = 1;
                expected.year += 1;
            }
        }
    }
    assert_eq!(month_name(0), "???");
    assert_eq!(month_name(12), "Dec");
    assert_eq!(month_name(13), "???");
}

#[test]
fn item_names() {
    let section = |part: Vec<u32>, text| Section { part, text };
    let body = |section, partial| FetchAttr::BodySection {
        peek: true,
        section,
        partial,
    };
    let cases = [
        (FetchAttr::Flags, "FLAGS"),
        (FetchAttr::InternalDate, "INTERNALDATE"),
        (FetchAttr::Rfc822Size, "RFC822.SIZE"),
        (FetchAttr::Envelope, "ENVELOPE"),
        (FetchAttr::Body, "BODY"),
        (FetchAttr::BodyStructure, "BODYSTRUCTURE"),
        (FetchAttr::Uid, "UID"),
        (FetchAttr::ModSeq, "MODSEQ"),
        (FetchAttr::Rfc822, "RFC822"),
        (FetchAttr::Rfc822Header, "RFC822.HEADER"),
        (FetchAttr::Rfc822Text, "RFC822.TEXT"),
        (body(section(vec![], None), None), "BODY[]"),
        (body(section(vec![], None), Some((0, 10))), "BODY[]<0>"),
        (
            body(section(vec![1, 2], Some(SectionText::Mime)), Some((7, 1))),
            "BODY[1.2.MIME]<7>",
        ),
        (
            body(
                section(
                    vec![2],
                    Some(SectionText::HeaderFields(vec![
                        "from".to_owned(),
                        "X-Odd]".to_owned(),
                    ])),
                ),
                None,
            ),
            r#"BODY[2.HEADER.FIELDS (FROM "X-ODD]")]"#,
        ),
        (
            body(
                section(
                    vec![],
                    Some(SectionText::HeaderFieldsNot(vec!["TO".to_owned()])),
                ),
                None,
            ),
            "BODY[HEADER.FIELDS.NOT (TO)]",
        ),
        (
            body(section(vec![3], Some(SectionText::Text)), None),
            "BODY[3.TEXT]",
        ),
        (
            body(section(vec![], Some(SectionText::Header)), None),
            "BODY[HEADER]",
        ),
        (
            FetchAttr::Binary {
                peek: false,
                part: vec![1, 2],
                partial: Some((5, 5)),
            },
            "BINARY[1.2]<5>",
        ),
        (
            FetchAttr::Binary {
                peek: true,
                part: vec![],
                partial: None,
            },
            "BINARY[]",
        ),
        (FetchAttr::BinarySize { part: vec![4] }, "BINARY.SIZE[4]"),
    ];
    for (attr, name) in cases {
        assert_eq!(item_name(&attr), name);
    }
}

#[test]
fn what_items_need_and_which_set_seen() {
    let section = FetchAttr::BodySection {
        peek: false,
        section: Section::default(),
        partial: None,
    };
    let binary = FetchAttr::Binary {
        peek: false,
        part: vec![1],
        partial: None,
    };
    for (attr, need, seen) in [
        (FetchAttr::Flags, Need::Entry, false),
        (FetchAttr::Uid, Need::Entry, false),
        (FetchAttr::InternalDate, Need::Entry, false),
        (FetchAttr::ModSeq, Need::Entry, false),
        (FetchAttr::Rfc822Size, Need::Entry, false),
        (FetchAttr::Body, Need::Metadata, false),
        (FetchAttr::BodyStructure, Need::Metadata, false),
        (FetchAttr::Envelope, Need::Metadata, false),
        (FetchAttr::Rfc822, Need::Message, true),
        (FetchAttr::Rfc822Header, Need::Message, false),
        (FetchAttr::Rfc822Text, Need::Message, true),
        (section, Need::Message, true),
        (binary, Need::Message, true),
        (FetchAttr::BinarySize { part: vec![] }, Need::Message, false),
    ] {
        assert_eq!(item_needs(&attr), need, "{attr:?}");
        assert_eq!(sets_seen(&attr), seen, "{attr:?}");
    }
}

#[test]
fn write_item_covers_every_item() {
    let (bytes, meta) = message("plain");
    let keywords = [(b'a', "Junk")];
    let fetched = Message {
        uid: 42,
        flags: Flags::parse("Sa"),
        keywords: &keywords,
        recent: true,
        internal_date: UNIX_EPOCH + Duration::from_secs(1_795_514_461),
        size: 299,
        modseq: 12,
        metadata: Some(&meta),
        bytes: Some(&bytes),
    };
    let item = |attr: FetchAttr| {
        let mut out = b"x".to_vec();
        write_item(&mut out, &attr, &fetched).unwrap();
        String::from_utf8(out).unwrap()
    };
    assert_eq!(item(FetchAttr::Flags), r"xFLAGS (\Seen \Recent Junk)");
    assert_eq!(item(FetchAttr::Uid), "xUID 42");
    assert_eq!(item(FetchAttr::ModSeq), "xMODSEQ (12)");
    assert_eq!(item(FetchAttr::Rfc822Size), "xRFC822.SIZE 299");
    assert_eq!(
        item(FetchAttr::InternalDate),
        r#"xINTERNALDATE "24-Nov-2026 10:01:01 +0000""#
    );
    assert!(item(FetchAttr::Envelope).starts_with(r#"xENVELOPE ("Mon, 23 Nov 2026"#));
    let header = item(FetchAttr::Rfc822Header);
    assert!(header.starts_with("xRFC822.HEADER {218}\r\nDate: "));
    assert!(header.ends_with("<plain-1@example.org>\r\n\r\n"));
    assert!(item(FetchAttr::Rfc822Text).starts_with("xRFC822.TEXT {81}\r\nHello Bob,\r\n"));
    let whole = item(FetchAttr::Rfc822);
    assert!(whole.starts_with("xRFC822 {299}\r\nDate: "));
    assert!(whole.ends_with("Regards, Alice\r\n"));
    // What is missing is an error, and nothing is written.
    let bare = entry(None, None);
    let mut out = Vec::new();
    for (attr, error) in [
        (FetchAttr::Envelope, ItemError::MetadataMissing),
        (FetchAttr::Rfc822, ItemError::BytesMissing),
        (
            FetchAttr::BinarySize { part: vec![] },
            ItemError::BytesMissing,
        ),
    ] {
        assert_eq!(write_item(&mut out, &attr, &bare), Err(error));
    }
    let no_metadata = entry(None, Some(&bytes));
    assert_eq!(
        write_item(&mut out, &FetchAttr::Rfc822Text, &no_metadata),
        Err(ItemError::MetadataMissing)
    );
    assert!(out.is_empty());
    write_item(&mut out, &FetchAttr::Uid, &bare).unwrap();
    assert_eq!(out, b"UID 1");
    // A BINARY error leaves what was written alone.
    let (bytes, meta) = message("binary");
    let mut out = b"kept".to_vec();
    let attr = FetchAttr::Binary {
        peek: true,
        part: vec![4],
        partial: None,
    };
    assert_eq!(
        write_item(&mut out, &attr, &entry(Some(&meta), Some(&bytes))),
        Err(ItemError::Binary(BinaryError::UnknownCte(
            "x-uuencode".to_owned()
        )))
    );
    assert_eq!(out, b"kept");
    assert_eq!(
        ItemError::Binary(BinaryError::Invalid).to_string(),
        "invalid data in MIME part"
    );
    assert!(ItemError::MetadataMissing.to_string().contains("metadata"));
    assert!(ItemError::BytesMissing.to_string().contains("bytes"));
}

/// body_structure - BODYSTRUCTURE (or BODY) of a message given inline.
fn body_structure(bytes: &[u8], extensible: bool) -> String {
    let mut out = Vec::new();
    write_body_structure(&mut out, &parse_metadata(bytes).body, extensible);
    String::from_utf8(out).unwrap()
}

#[test]
fn body_structures_of_odd_messages() {
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "empty",
            b"",
            r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)"#,
        ),
        (
            "non-text leaf without parameters",
            b"Content-Type: image/png\nContent-Transfer-Encoding: base64\n\nAAAA\n",
            r#"("image" "png" NIL NIL NIL "base64" 6 NIL NIL NIL NIL)"#,
        ),
        (
            "charset in upper case is kept as it is",
            b"Content-Type: text/plain; CHARSET=UTF-8\n\nx\n",
            r#"("text" "plain" ("charset" "UTF-8") NIL NIL "7bit" 3 1 NIL NIL NIL NIL)"#,
        ),
        (
            "embedded message with a transfer encoding is a plain leaf",
            b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQo=\n",
            r#"("message" "rfc822" NIL NIL NIL "base64" 22 NIL NIL NIL NIL)"#,
        ),
        (
            "a quote in a parameter",
            b"Content-Type: text/plain; name=\"a \\\"b\\\"\"\n\nx",
            r#"("text" "plain" ("name" "a \"b\"" "charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL)"#,
        ),
    ];
    for &(what, bytes, want) in cases {
        assert_eq!(body_structure(bytes, true), want, "{what}");
    }
    // The top-level message being message/rfc822: its structure holds
    // the embedded message's envelope and body.
    let top = b"Content-Type: message/rfc822\n\nSubject: inner\n\nbody\n";
    assert_eq!(
        body_structure(top, false),
        r#"("message" "rfc822" NIL NIL NIL "7bit" 24 (NIL "inner" NIL NIL NIL NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 1) 3)"#
    );
}

#[test]
fn envelopes_with_empty_and_odd_values() {
    let mut out = Vec::new();
    write_envelope(&mut out, &mailstore::Envelope::default());
    assert_eq!(out, b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    let meta = parse_metadata(
        b"From: <@relay.example:odd@example.org>\nTo: a\\\"b <ab@example.org>\nSubject: \"quoted\" \\ back\n\n",
    );
    let mut out = Vec::new();
    write_envelope(&mut out, &meta.envelope);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with(
            r#"(NIL "\"quoted\" \\ back" ((NIL "@relay.example" "odd" "example.org"))"#
        ),
        "{text}"
    );
    // As Dovecot sends them: subject and names with single spaces, other
    // strings as they are.
    let meta = parse_metadata(
        b"Subject: x\n  y\tz  w \nFrom: \"A\n   B  C\" <x@y>\nIn-Reply-To: <a@b>\n  <c@d>\nMessage-ID: <m  1@x>\nDate: Mon,  1 Dec 2026\n  10:00:00 +0000\n\nbody\n",
    );
    let mut out = Vec::new();
    write_envelope(&mut out, &meta.envelope);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"("Mon,  1 Dec 2026  10:00:00 +0000" "x y z w" (("A B C" NIL "x" "y")) (("A B C" NIL "x" "y")) (("A B C" NIL "x" "y")) NIL NIL NIL "<a@b>  <c@d>" "<m  1@x>")"#
    );
}

/// section - BODY[`spec`] of `bytes` as text (`spec` as in
/// `sections.txt`).
fn section(bytes: &[u8], spec: &str) -> String {
    let meta = parse_metadata(bytes);
    let (section, range) = parse_section(spec);
    let data = section_bytes(bytes, &meta, &section);
    String::from_utf8(partial(&data, range).to_vec()).unwrap()
}

#[test]
fn header_fields_keep_lines_as_stored() {
    let bytes = b"Received: one\n\ttwo\nsubject : spaced name\nX-A: 1\r\nno colon here\n  continued\nX-A:2\n\nbody\n";
    assert_eq!(
        section(bytes, "HEADER.FIELDS (SUBJECT X-A)"),
        "subject : spaced name\r\nX-A: 1\r\nX-A:2\r\n\r\n"
    );
    assert_eq!(
        section(bytes, "HEADER.FIELDS.NOT (X-A RECEIVED)"),
        "subject : spaced name\r\nno colon here\r\n  continued\r\n\r\n"
    );
    assert_eq!(
        section(bytes, "HEADER.FIELDS (RECEIVED)"),
        "Received: one\r\n\ttwo\r\n\r\n"
    );
    // A header that ends without a line end or an empty line.
    assert_eq!(
        section(b"From: a@b\nSubject: last", "HEADER.FIELDS (SUBJECT)"),
        "Subject: last\r\n\r\n"
    );
    // White space before the first field stays with it when excluded.
    assert_eq!(
        section(b" lead\nFrom: a@b\n\nx", "HEADER.FIELDS.NOT (TO)"),
        " lead\r\nFrom: a@b\r\n\r\n"
    );
}

#[test]
fn split_header_finds_fields_and_the_empty_line() {
    let split = split_header(b"A: 1\r\n b\r\nC:\r\n\r\nbody");
    let names: Vec<&[u8]> = split.fields.iter().map(|f| f.name).collect();
    assert_eq!(names, [&b"A"[..], b"C"]);
    assert_eq!(split.fields[0].raw, b"A: 1\r\n b\r\n");
    assert_eq!(split.blank, Some(&b"\r\n"[..]));
    let split = split_header(b"");
    assert!(split.fields.is_empty() && split.blank.is_none());
    let split = split_header(b"\nbody");
    assert!(split.fields.is_empty());
    assert_eq!(split.blank, Some(&b"\n"[..]));
}

#[test]
fn part_numbers_resolve_as_in_dovecot() {
    let (_, meta) = message("forward");
    let subtype = |path: &[u32]| find_part(&meta.body, path).map(|p| p.info.media_subtype.clone());
    assert_eq!(subtype(&[]).as_deref(), Some("mixed"));
    assert_eq!(subtype(&[1]).as_deref(), Some("plain"));
    // A leaf's part 1 is the leaf, but only as the last number.
    assert_eq!(subtype(&[1, 1]).as_deref(), Some("plain"));
    assert_eq!(subtype(&[1, 1, 1]), None);
    assert_eq!(subtype(&[2]).as_deref(), Some("rfc822"));
    assert_eq!(subtype(&[2, 1]).as_deref(), Some("plain"));
    assert_eq!(subtype(&[2, 2]).as_deref(), Some("html"));
    assert_eq!(subtype(&[2, 2, 1]).as_deref(), Some("html"));
    assert_eq!(subtype(&[2, 3]), None);
    // An embedded single-part message: 3.1 is its body.
    assert_eq!(subtype(&[3, 1]).as_deref(), Some("plain"));
    assert_eq!(subtype(&[3, 2]), None);
    assert_eq!(subtype(&[0]), None);
    assert_eq!(subtype(&[4]), None);
    assert_eq!(subtype(&[u32::MAX]), None);
    let (_, plain) = message("plain");
    assert!(find_part(&plain.body, &[1]).is_some());
    assert!(find_part(&plain.body, &[1, 1]).is_none());
    assert!(find_part(&plain.body, &[2]).is_none());
}

#[test]
fn sections_of_embedded_messages_and_partials() {
    let bytes = fixture("forward.eml");
    assert_eq!(section(&bytes, "3.TEXT"), "Just a note about the kumquats.");
    assert_eq!(
        section(&bytes, "3.HEADER.FIELDS (SUBJECT)"),
        "Subject: Note\r\n\r\n"
    );
    assert_eq!(
        section(&bytes, "3.1.MIME"),
        "From: Jim <jim@example.net>\r\nSubject: Note\r\nX-Secret: embedded header only\r\n\r\n"
    );
    assert_eq!(section(&bytes, "1.TEXT"), "");
    assert_eq!(section(&bytes, "MIME"), "");
    assert_eq!(section(&bytes, "1<0.3>"), "See");
    assert_eq!(section(&bytes, "1<8.100>"), "w.");
    assert_eq!(section(&bytes, "1<10.1>"), "");
    assert_eq!(section(&bytes, "1<4000000000.1>"), "");
    assert_eq!(partial(b"abc", Some((1, u32::MAX))), b"bc");
    assert_eq!(partial(b"abc", None), b"abc");
    // Stored CRLF stays CRLF; a lone CR stays alone.
    let crlf = b"Subject: x\r\n\r\nline\r\nbare\nlone\rcr\n";
    assert_eq!(section(crlf, "TEXT"), "line\r\nbare\r\nlone\rcr\r\n");
}

#[test]
fn sections_survive_spans_past_the_end() {
    // A cache entry from a longer file than the one read: nothing panics
    // and nothing past the end is invented.
    let (bytes, meta) = message("forward");
    let short = &bytes[..40];
    for spec in [
        "",
        "TEXT",
        "HEADER",
        "2",
        "2.HEADER",
        "2.1",
        "3.1.MIME",
        "HEADER.FIELDS (TO)",
    ] {
        let (section, _) = parse_section(spec);
        let data = section_bytes(short, &meta, &section);
        assert!(data.len() <= 2 * short.len() + 2, "{spec}");
    }
    for part in [vec![], vec![1], vec![2], vec![2, 1]] {
        let _ = binary_section(short, &meta, &part);
    }
}

/// binary - BINARY[`part`] of `bytes`.
fn binary(bytes: &[u8], part: &[u32]) -> Result<BinaryData, BinaryError> {
    binary_section(bytes, &parse_metadata(bytes), part)
}

#[test]
fn binary_decodes_leaves_and_marks_headers() {
    let qp = b"Content-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\na=3Db  \nsoft=\nbreak=20\n=ZZ bad hex kept\ntail \t";
    let data = binary(qp, &[1]).unwrap();
    assert_eq!(data.data, b"a=b\r\nsoftbreak \r\n=ZZ bad hex kept\r\ntail");
    assert!(data.decoded);
    // The whole message: header rewritten, body decoded.
    let whole = binary(qp, &[]).unwrap();
    assert!(whole.data.starts_with(
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: binary\r\n\r\na=b\r\n"
    ));
    let b64 = b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: Base64\n\nAAEC\nAw==\n";
    let data = binary(b64, &[1]).unwrap();
    assert_eq!(data.data, [0, 1, 2, 3]);
    let mut out = Vec::new();
    write_binary(&mut out, &data);
    assert_eq!(out, b"~{4}\r\n\x00\x01\x02\x03");
    // Not decoded, no NUL: a plain literal; with a NUL: literal8.
    let mut out = Vec::new();
    write_binary(
        &mut out,
        &BinaryData {
            data: b"ab".to_vec(),
            decoded: false,
        },
    );
    assert_eq!(out, b"{2}\r\nab");
    let mut out = Vec::new();
    write_binary(
        &mut out,
        &BinaryData {
            data: b"a\0".to_vec(),
            decoded: false,
        },
    );
    assert_eq!(out, b"~{2}\r\na\0");
    // An empty encoding counts as 7bit.
    let plain = binary(b"Content-Transfer-Encoding: \n\nx\n", &[1]).unwrap();
    assert_eq!(
        (plain.data.as_slice(), plain.decoded),
        (&b"x\r\n"[..], false)
    );
    assert_eq!(
        binary(b"Content-Transfer-Encoding: base64\n\n--\n", &[1]),
        Err(BinaryError::Invalid)
    );
    assert_eq!(
        BinaryError::UnknownCte("x-uue".to_owned()).to_string(),
        "unknown content transfer encoding \"x-uue\""
    );
}

#[test]
fn binary_of_an_encoded_embedded_message_decodes_it_as_a_leaf() {
    let bytes = b"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQo=\n--b--\n";
    let data = binary(bytes, &[1]).unwrap();
    assert_eq!(data.data, b"Subject: x\n\ny\n");
    let whole = binary(bytes, &[]).unwrap();
    assert!(String::from_utf8(whole.data).unwrap().contains(
        "Content-Type: message/rfc822\r\nContent-Transfer-Encoding: binary\r\n\r\nSubject: x\n\ny\n\r\n--b--\r\n"
    ));
}

/// mime_like - a message of `count` lines drawn from MIME-looking ones
/// by a xorshift generator seeded with `seed`.
fn mime_like(seed: u64, count: usize) -> Vec<u8> {
    const LINES: &[&str] = &[
        "Content-Type: multipart/mixed; boundary=a",
        "Content-Type: multipart/alternative; boundary=b",
        "Content-Type: multipart/digest; boundary=a",
        "Content-Type: message/rfc822",
        "Content-Type: text/plain",
        "Content-Transfer-Encoding: base64",
        "Content-Transfer-Encoding: quoted-printable",
        "From: x@y",
        "Subject: =?UTF-8?Q?s=C3=BC?=",
        " folded",
        "--a",
        "--a--",
        "--b",
        "--b--",
        "",
        "",
        "text =3D",
        "QUJD",
        "\r",
    ];
    let mut state = seed.max(1);
    let mut out = Vec::new();
    for _ in 0..count {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(
            LINES[usize::try_from(state % LINES.len() as u64).unwrap()].as_bytes(),
        );
        out.push(b'\n');
    }
    out
}

#[test]
fn any_structure_serves_every_section() {
    let specs = String::from_utf8(fixture("dovecot/sections.txt")).unwrap();
    let specs: Vec<(Section, Option<(u32, u32)>)> = specs
        .lines()
        .map(|l| parse_section(l.split_once('|').unwrap().1))
        .collect();
    for seed in 1..200u64 {
        let bytes = mime_like(seed, usize::try_from(seed % 40).unwrap());
        let meta = parse_metadata(&bytes);
        let mut out = Vec::new();
        write_body_structure(&mut out, &meta.body, true);
        write_envelope(&mut out, &meta.envelope);
        for (section, range) in &specs {
            let data = section_bytes(&bytes, &meta, section);
            assert!(data.len() <= 2 * bytes.len() + 2, "{seed}: {section:?}");
            let _ = partial(&data, *range);
            if let Ok(binary) = binary_section(&bytes, &meta, &section.part) {
                assert!(binary.data.len() <= 2 * bytes.len() + 64, "{seed}");
            }
        }
        // BODY[] is the whole message in wire form, RFC822.SIZE long.
        let whole = section_bytes(&bytes, &meta, &Section::default());
        assert_eq!(u64::try_from(whole.len()).unwrap(), meta.size, "{seed}");
    }
}
