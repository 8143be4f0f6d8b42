//! Tests of the metadata model against the MIME fixtures in
//! `tests/data/mime/`, rendered in IMAP's syntax so that expectations
//! read like what a server sends.

use std::path::PathBuf;

use super::*;

/// fixture - a file of `tests/data/mime/`.
fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/mime")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// crlf - the bytes with every bare LF made CRLF.
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut prev = 0;
    for &b in bytes {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// nstring - an IMAP quoted string or NIL (8-bit shown as UTF-8).
fn nstring(value: Option<&[u8]>) -> String {
    match value {
        None => "NIL".to_owned(),
        Some(v) => string(&String::from_utf8_lossy(v)),
    }
}

/// string - an IMAP quoted string.
fn string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// params - `("name" "value" ...)` or NIL.
fn params(params: &[(String, String)]) -> String {
    if params.is_empty() {
        return "NIL".to_owned();
    }
    let items: Vec<String> = params
        .iter()
        .map(|(n, v)| format!("{} {}", string(n), string(v)))
        .collect();
    format!("({})", items.join(" "))
}

/// addresses - an address list or NIL.
fn addresses(list: &[Address]) -> String {
    if list.is_empty() {
        return "NIL".to_owned();
    }
    let items: Vec<String> = list
        .iter()
        .map(|a| {
            format!(
                "({} {} {} {})",
                nstring(a.name.as_deref()),
                nstring(a.adl.as_deref()),
                nstring(a.mailbox.as_deref()),
                nstring(a.host.as_deref())
            )
        })
        .collect();
    format!("({})", items.join(""))
}

/// envelope - IMAP's ENVELOPE syntax.
fn envelope(e: &Envelope) -> String {
    format!(
        "({} {} {} {} {} {} {} {} {} {})",
        nstring(e.date.as_deref()),
        nstring(e.subject.as_deref()),
        addresses(&e.from),
        addresses(&e.sender),
        addresses(&e.reply_to),
        addresses(&e.to),
        addresses(&e.cc),
        addresses(&e.bcc),
        nstring(e.in_reply_to.as_deref()),
        nstring(e.message_id.as_deref()),
    )
}

/// extension - disposition, language and location, as both body types
/// end.
fn extension(info: &PartInfo) -> String {
    let disposition = match &info.disposition {
        None => "NIL".to_owned(),
        Some(d) => format!("({} {})", string(&d.kind), params(&d.params)),
    };
    let language = match info.language.as_slice() {
        [] => "NIL".to_owned(),
        tags => {
            let items: Vec<String> = tags.iter().map(|t| string(t)).collect();
            format!("({})", items.join(" "))
        }
    };
    format!(
        "{disposition} {language} {}",
        nstring(info.location.as_deref())
    )
}

/// body - IMAP's BODYSTRUCTURE syntax, with extension data.
fn body(b: &BodyStructure) -> String {
    let info = &b.info;
    match &b.content {
        Content::Multipart(parts) => {
            let parts: String = parts.iter().map(body).collect();
            format!(
                "({parts} {} {} {})",
                string(&info.media_subtype),
                params(&info.params),
                extension(info)
            )
        }
        other => {
            let mut out = format!(
                "({} {} {} {} {} {} {}",
                string(&info.media_type),
                string(&info.media_subtype),
                params(&info.params),
                nstring(info.id.as_deref()),
                nstring(info.description.as_deref()),
                string(&info.encoding),
                info.span.body_size
            );
            if let Content::Message(embedded) = other {
                out.push_str(&format!(
                    " {} {} {}",
                    envelope(&embedded.envelope),
                    body(&embedded.body),
                    info.span.lines
                ));
            } else if info.is_text() {
                out.push_str(&format!(" {}", info.span.lines));
            }
            out.push_str(&format!(" NIL {})", extension(info)));
            out
        }
    }
}

/// text_of - the bytes a range of a span covers.
fn text_of(bytes: &[u8], range: Range<u64>) -> &str {
    let start = usize::try_from(range.start).unwrap();
    let end = usize::try_from(range.end).unwrap();
    std::str::from_utf8(&bytes[start..end]).unwrap()
}

/// One fixture with its expected ENVELOPE and BODYSTRUCTURE.
struct Case {
    file: &'static str,
    envelope: &'static str,
    body: &'static str,
}

const CASES: &[Case] = &[
    Case {
        file: "plain.eml",
        envelope: r#"("Mon, 23 Nov 2026 10:00:00 +0000" "Plain text" (("Alice Example" NIL "alice" "example.org")) (("Alice Example" NIL "alice" "example.org")) (("Alice Example" NIL "alice" "example.org")) ((NIL NIL "bob" "example.net")) NIL NIL NIL "<plain-1@example.org>")"#,
        body: r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 44 5 NIL NIL NIL NIL)"#,
    },
    Case {
        file: "nested.eml",
        envelope: r#"("Tue, 24 Nov 2026 08:30:00 +0100" "Report with attachment" (("Carol, C." NIL "carol" "example.com")) ((NIL NIL "secretary" "example.com")) ((NIL NIL "replies" "example.com")) (("Dave" NIL "dave" "example.net")(NIL NIL "erin" "example.net")) ((NIL NIL "frank" "example.org")) NIL "<earlier@example.net>" "<nested-1@example.com>")"#,
        body: r#"((("text" "plain" ("charset" "utf-8") NIL NIL "quoted-printable" 19 0 NIL NIL NIL NIL)("text" "html" ("charset" "utf-8") NIL NIL "quoted-printable" 33 0 NIL NIL NIL NIL) "alternative" ("boundary" "inner") NIL NIL NIL)("application" "pdf" ("name" "report.pdf") "<report@example.com>" "Quarterly report" "base64" 64 NIL ("attachment" ("filename" "report.pdf" "size" "48")) ("en" "de") "http://example.com/report.pdf") "mixed" ("boundary" "outer-boundary") NIL NIL NIL)"#,
    },
    Case {
        file: "encoded-words.eml",
        envelope: r#"("Wed, 25 Nov 2026 12:00:00 +0100" "=?UTF-8?B?w5xiZXJ3ZWlzdW5n?= for =?UTF-8?Q?Caf=C3=A9?=" (("=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" NIL "joerg" "example.de")) (("=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" NIL "joerg" "example.de")) (("=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?=" NIL "joerg" "example.de")) (("=?ISO-8859-1?Q?Andr=E9?=" NIL "andre" "example.fr")) NIL NIL NIL "<encoded-1@example.de>")"#,
        body: r#"(("text" "plain" ("charset" "iso-8859-1") NIL NIL "quoted-printable" 9 0 NIL NIL NIL NIL)("application" "octet-stream" ("name" "Käse.txt") NIL NIL "base64" 8 NIL ("attachment" ("filename" "Käse Liste.txt")) NIL NIL) "mixed" ("boundary" "b1") NIL NIL NIL)"#,
    },
    Case {
        file: "eightbit.eml",
        envelope: r#"("Thu, 26 Nov 2026 09:15:00 +0100" "Grüße aus Köln" (("Zoë Ångström" NIL "zoe" "example.org")) (("Zoë Ångström" NIL "zoe" "example.org")) (("Zoë Ångström" NIL "zoe" "example.org")) ((NIL NIL "yann" "example.org")) NIL NIL NIL "<eightbit-1@example.org>")"#,
        body: r#"("text" "plain" ("charset" "utf-8") NIL NIL "8bit" 35 2 NIL NIL NIL NIL)"#,
    },
    Case {
        file: "rfc822.eml",
        envelope: r#"("Fri, 27 Nov 2026 14:00:00 +0000" "Fwd: Lunch" ((NIL NIL "gina" "example.org")) ((NIL NIL "gina" "example.org")) ((NIL NIL "gina" "example.org")) ((NIL NIL "hank" "example.org")) NIL NIL NIL "<fwd-1@example.org>")"#,
        body: r#"(("text" "plain" NIL NIL NIL "7bit" 10 0 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 364 ("Thu, 26 Nov 2026 11:00:00 +0000" "Lunch" (("Ivy" NIL "ivy" "example.com")) (("Ivy" NIL "ivy" "example.com")) (("Ivy" NIL "ivy" "example.com")) ((NIL NIL "gina" "example.org")) NIL NIL NIL "<lunch@example.com>") (("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 14 0 NIL NIL NIL NIL)("text" "html" ("charset" "us-ascii") NIL NIL "7bit" 21 0 NIL NIL NIL NIL) "alternative" ("boundary" "alt") NIL NIL NIL) 16 NIL ("inline" NIL) NIL NIL) "mixed" ("boundary" "fwd") NIL NIL NIL)"#,
    },
    Case {
        file: "group.eml",
        envelope: r#"("Sat, 28 Nov 2026 10:00:00 +0000" "Group test" (("Jack" NIL "jack" "example.org")) (("Jack" NIL "jack" "example.org")) (("Jack" NIL "jack" "example.org")) ((NIL NIL "Friends" NIL)(NIL NIL "kim" "example.org")("Lee, L." NIL "lee" "example.org")(NIL NIL NIL NIL)(NIL NIL "mia" "example.org")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) (("hidden" NIL "nick" "example.org")) NIL "<group-1@example.org>")"#,
        body: r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 1 NIL NIL NIL NIL)"#,
    },
    Case {
        file: "malformed-boundary.eml",
        envelope: r#"(NIL "Broken boundary" ((NIL NIL "oscar" "example.org")) ((NIL NIL "oscar" "example.org")) ((NIL NIL "oscar" "example.org")) NIL NIL NIL NIL NIL)"#,
        body: r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 72 5 NIL NIL NIL NIL)"#,
    },
    Case {
        file: "malformed-unterminated.eml",
        envelope: r#"(NIL "Unterminated" ((NIL NIL "pat" "example.org")) ((NIL NIL "pat" "example.org")) ((NIL NIL "pat" "example.org")) NIL NIL NIL NIL NIL)"#,
        body: r#"(("text" "plain" NIL NIL NIL "7bit" 10 0 NIL NIL NIL NIL)("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 21 0 NIL NIL NIL NIL)(("text" "plain" NIL NIL NIL "7bit" 24 1 NIL NIL NIL NIL) "alternative" ("boundary" "inner") NIL NIL NIL) "mixed" ("boundary" "outer") NIL NIL NIL)"#,
    },
    Case {
        file: "digest.eml",
        envelope: r#"(NIL "Digest" ((NIL NIL "list" "example.org")) ((NIL NIL "list" "example.org")) ((NIL NIL "list" "example.org")) NIL NIL NIL NIL NIL)"#,
        body: r#"(("message" "rfc822" NIL NIL NIL "7bit" 42 (NIL "one" ((NIL NIL "a" "example.org")) ((NIL NIL "a" "example.org")) ((NIL NIL "a" "example.org")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL)("message" "rfc822" NIL NIL NIL "7bit" 43 (NIL "two" ((NIL NIL "b" "example.org")) ((NIL NIL "b" "example.org")) ((NIL NIL "b" "example.org")) NIL NIL NIL NIL NIL) ("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 6 0 NIL NIL NIL NIL) 3 NIL NIL NIL NIL) "digest" ("boundary" "d") NIL NIL NIL)"#,
    },
];

#[test]
fn fixtures_give_exact_envelopes_and_structures() {
    let mut failures = Vec::new();
    for case in CASES {
        let bytes = fixture(case.file);
        let meta = parse_metadata(&bytes);
        let got_envelope = envelope(&meta.envelope);
        let got_body = body(&meta.body);
        if got_envelope != case.envelope || got_body != case.body {
            failures.push(format!(
                "{}:\n  envelope: {got_envelope}\n  body:     {got_body}",
                case.file
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn line_endings_change_offsets_but_not_what_imap_sees() {
    for case in CASES {
        let lf = fixture(case.file);
        let wire = crlf(&lf);
        let a = parse_metadata(&lf);
        let b = parse_metadata(&wire);
        assert_eq!(
            envelope(&a.envelope),
            envelope(&b.envelope),
            "{}",
            case.file
        );
        assert_eq!(body(&a.body), body(&b.body), "{}", case.file);
        assert_eq!(a.size, b.size, "{}", case.file);
        assert_eq!(a.header_size, b.header_size, "{}", case.file);
        assert_eq!(a.size, u64::try_from(wire.len()).unwrap(), "{}", case.file);
        assert_eq!(b.body.info.span.end, u64::try_from(wire.len()).unwrap());
    }
}

#[test]
fn spans_locate_headers_and_bodies() {
    let bytes = fixture("nested.eml");
    let meta = parse_metadata(&bytes);
    let root = &meta.body.info.span;
    assert_eq!(root.header_start, 0);
    assert!(text_of(&bytes, root.header()).starts_with("Date: Tue"));
    assert!(text_of(&bytes, root.header()).ends_with("boundary=\"outer-boundary\"\n\n"));
    assert_eq!(
        meta.header_size,
        crlf(text_of(&bytes, root.header()).as_bytes()).len() as u64
    );
    assert!(text_of(&bytes, root.body()).starts_with("This is a multi-part"));
    assert!(text_of(&bytes, root.body()).ends_with("--outer-boundary--\nEpilogue.\n"));

    let html = meta.part(&[1, 2]).unwrap();
    assert_eq!(html.info.media_subtype, "html");
    assert_eq!(
        text_of(&bytes, html.info.span.body()),
        "<p>Here is the <b>report</b>.</p>"
    );
    assert_eq!(
        text_of(&bytes, html.info.span.header()),
        "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
    );
    let alternative = meta.part(&[1]).unwrap();
    assert_eq!(alternative.info.media_subtype, "alternative");
    assert!(text_of(&bytes, alternative.info.span.body()).ends_with("--inner--\n"));
    let pdf = meta.part(&[2]).unwrap();
    assert_eq!(
        text_of(&bytes, pdf.info.span.body()),
        "JVBERi0xLjQKJcfsj6IKNSAwIG9iago8PC9MZW5ndGggNiAwIFI+PgpzdHJlYW0K"
    );
    assert!(meta.part(&[3]).is_none());
    assert!(meta.part(&[0]).is_none());
    assert!(meta.part(&[2, 1]).is_none());
    assert!(meta.part(&[1, 1, 1]).is_none());
    assert_eq!(meta.part(&[]), Some(&meta.body));
}

#[test]
fn part_numbers_go_through_embedded_messages() {
    let bytes = fixture("rfc822.eml");
    let meta = parse_metadata(&bytes);
    let forwarded = meta.part(&[2]).unwrap();
    let Content::Message(embedded) = &forwarded.content else {
        panic!("not a message: {forwarded:?}");
    };
    // BODY[2.MIME], BODY[2], BODY[2.HEADER], BODY[2.TEXT].
    assert_eq!(
        text_of(&bytes, forwarded.info.span.header()),
        "Content-Type: message/rfc822\nContent-Disposition: inline\n\n"
    );
    assert!(text_of(&bytes, forwarded.info.span.body()).starts_with("From: Ivy"));
    assert!(text_of(&bytes, forwarded.info.span.body()).ends_with("--alt--"));
    let inner = &embedded.body.info.span;
    assert_eq!(inner.header_start, forwarded.info.span.body_start);
    assert!(text_of(&bytes, inner.header()).ends_with("boundary=\"alt\"\n\n"));
    assert_eq!(inner.end, forwarded.info.span.end);
    assert_eq!(
        meta.part(&[2, 1]).unwrap().info.span.body_size,
        "Lunch at noon?".len() as u64
    );
    assert_eq!(meta.part(&[2, 2]).unwrap().info.media_subtype, "html");
    assert!(meta.part(&[2, 3]).is_none());

    // A message that is not multipart has one part, its body; so does an
    // embedded one.
    let digest = parse_metadata(&fixture("digest.eml"));
    let first = digest.part(&[1, 1]).unwrap();
    assert_eq!(first.info.span.body_size, 5);
    assert!(digest.part(&[1, 2]).is_none());
    assert!(digest.part(&[1, 1, 1]).is_none());
    let plain = parse_metadata(&fixture("plain.eml"));
    assert_eq!(plain.part(&[1]), Some(&plain.body));
    assert!(plain.part(&[2]).is_none());
    assert!(plain.part(&[1, 1]).is_none());
}

#[test]
fn odd_inputs_still_give_a_structure() {
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "empty",
            b"",
            r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)"#,
        ),
        (
            "header only, no blank line",
            b"Subject: x",
            r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)"#,
        ),
        (
            "body only",
            b"\nno header at all\n",
            r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 18 1 NIL NIL NIL NIL)"#,
        ),
        (
            "content type without subtype",
            b"Content-Type: text\n\nx",
            r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 1 0 NIL NIL NIL NIL)"#,
        ),
        (
            "only a closing delimiter",
            b"Content-Type: multipart/mixed; boundary=b\n\n--b--\n",
            r#"("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 7 1 NIL NIL NIL NIL)"#,
        ),
        (
            "empty embedded message",
            b"Content-Type: message/rfc822\n\n",
            r#"("message" "rfc822" NIL NIL NIL "7bit" 0 NIL NIL NIL NIL)"#,
        ),
        (
            "encoded embedded message",
            b"Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKeQo=\n",
            r#"("message" "rfc822" NIL NIL NIL "base64" 22 NIL NIL NIL NIL)"#,
        ),
        (
            "broken base64",
            b"Content-Type: image/png\nContent-Transfer-Encoding: base64\n\n!!!not base64!!!\n",
            r#"("image" "png" NIL NIL NIL "base64" 18 NIL NIL NIL NIL)"#,
        ),
    ];
    for &(what, bytes, want) in cases {
        let meta = parse_metadata(bytes);
        assert_eq!(body(&meta.body), want, "{what}");
        assert_eq!(meta.size, crlf(bytes).len() as u64, "{what}");
    }
    let empty = parse_metadata(b"");
    assert_eq!(empty.envelope, Envelope::default());
    assert_eq!(empty.header_size, 0);
}

/// nested - `depth` multiparts, one inside the other, around a text part.
fn nested(depth: usize) -> Vec<u8> {
    let mut out = String::new();
    for level in 0..depth {
        out.push_str(&format!(
            "Content-Type: multipart/mixed; boundary=b{level}\n\n--b{level}\n"
        ));
    }
    out.push_str("Content-Type: text/plain\n\ndeep\n");
    for level in (0..depth).rev() {
        out.push_str(&format!("--b{level}--\n"));
    }
    out.into_bytes()
}

/// depth_of - how many levels a structure has below its root.
fn depth_of(b: &BodyStructure) -> usize {
    match &b.content {
        Content::Single => 0,
        Content::Multipart(parts) => 1 + parts.iter().map(depth_of).max().unwrap_or(0),
        Content::Message(e) => 1 + depth_of(&e.body),
    }
}

#[test]
fn nesting_is_bounded() {
    let limit = usize::try_from(MAX_NESTING).unwrap();
    let shallow = parse_metadata(&nested(3));
    assert_eq!(depth_of(&shallow.body), 3);
    assert_eq!(
        shallow.part(&[1, 1, 1]).unwrap().info.span.body_size,
        "deep".len() as u64
    );
    let deep = parse_metadata(&nested(limit + 10));
    assert_eq!(depth_of(&deep.body), limit);
    // What was cut off is shown as text, not as a childless multipart.
    let mut part = &deep.body;
    while let Content::Multipart(parts) = &part.content {
        part = &parts[0];
    }
    assert_eq!(part.info.media_type, "text");
    // And it survives the cache encoding.
    let bytes = postcard::to_allocvec(&deep).unwrap();
    assert_eq!(postcard::from_bytes::<Metadata>(&bytes).unwrap(), deep);
}

#[test]
fn the_encoding_round_trips_and_refuses_inconsistent_structures() {
    for case in CASES {
        let meta = parse_metadata(&fixture(case.file));
        let bytes = postcard::to_allocvec(&meta).unwrap();
        assert_eq!(
            postcard::from_bytes::<Metadata>(&bytes).unwrap(),
            meta,
            "{}",
            case.file
        );
    }
    let leaf = |span| BodyStructure {
        info: text_plain_info(span),
        content: Content::Single,
    };
    let encode = |b: &BodyStructure| postcard::to_allocvec(b).unwrap();
    let decode = |bytes: &[u8]| postcard::from_bytes::<BodyStructure>(bytes);
    // Too deep: built by hand, deeper than parse_metadata ever makes.
    let mut deep = leaf(Span::default());
    for _ in 0..=MAX_NESTING {
        deep = BodyStructure {
            info: text_plain_info(Span::default()),
            content: Content::Multipart(vec![deep]),
        };
    }
    assert!(decode(&encode(&deep)).is_err());
    // A multipart with no parts.
    let empty = BodyStructure {
        info: text_plain_info(Span::default()),
        content: Content::Multipart(Vec::new()),
    };
    assert!(decode(&encode(&empty)).is_err());
    // Counts that do not add up: a two-part multipart with its second
    // part cut off, and a leaf followed by a stray part.
    let two = BodyStructure {
        info: text_plain_info(Span::default()),
        content: Content::Multipart(vec![leaf(Span::default()), leaf(Span::default())]),
    };
    let good = encode(&two);
    assert_eq!(decode(&good).unwrap(), two);
    let one = encode(&leaf(Span::default()));
    // The list length is the first byte (3 parts); claim fewer or more.
    assert_eq!(good[0], 3);
    let mut short = good.clone();
    short[0] = 2;
    assert!(decode(&short).is_err());
    let mut stray = one.clone();
    stray[0] = 2;
    stray.extend_from_slice(&one[1..]);
    assert!(decode(&stray).is_err());
}

proptest::proptest! {
    #[test]
    fn any_bytes_parse_into_sane_spans(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
        check_sane(&data);
    }

    #[test]
    fn mime_like_lines_parse_into_sane_spans(lines in proptest::collection::vec(proptest::sample::select(vec![
        "Content-Type: multipart/mixed; boundary=a",
        "Content-Type: multipart/alternative; boundary=b",
        "Content-Type: multipart/digest; boundary=a",
        "Content-Type: message/rfc822",
        "Content-Type: text/plain",
        "Content-Transfer-Encoding: base64",
        "From: x@y",
        "Subject: s",
        "--a",
        "--a--",
        "--b",
        "--b--",
        "",
        "",
        "text",
        "QUJD",
    ]), 0..40)) {
        let mut data = lines.join("\n").into_bytes();
        data.push(b'\n');
        check_sane(&data);
        check_sane(&crlf(&data));
    }
}

/// check_sane - parsing does not panic, every span lies within the bytes
/// in order, sizes match their ranges, and the encoding round-trips.
fn check_sane(data: &[u8]) {
    let meta = parse_metadata(data);
    assert_eq!(meta.size, crlf_size(data, 0, data.len()));
    let len = u64::try_from(data.len()).unwrap();
    let mut stack = vec![&meta.body];
    while let Some(part) = stack.pop() {
        let s = &part.info.span;
        assert!(
            s.header_start <= s.body_start && s.body_start <= s.end && s.end <= len,
            "{s:?}"
        );
        let (h, b, e) = (
            usize::try_from(s.header_start).unwrap(),
            usize::try_from(s.body_start).unwrap(),
            usize::try_from(s.end).unwrap(),
        );
        assert_eq!(s.header_size, crlf_size(data, h, b));
        assert_eq!(s.body_size, crlf_size(data, b, e));
        match &part.content {
            Content::Single => {}
            Content::Multipart(parts) => {
                assert!(!parts.is_empty());
                assert_eq!(part.info.media_type, "multipart");
                stack.extend(parts);
            }
            Content::Message(embedded) => stack.push(&embedded.body),
        }
    }
    let bytes = postcard::to_allocvec(&meta).unwrap();
    assert_eq!(postcard::from_bytes::<Metadata>(&bytes).unwrap(), meta);
}

#[test]
fn a_message_mail_parser_trips_over_is_still_described() {
    // Trips a debug_assert! in mail-parser 0.11 (debug builds only):
    // nested message parts whose closing delimiter ends them all at once.
    let data = b"Subject: nested\nContent-Type: multipart/mixed; boundary=a\n\n--a\nContent-Type: message/rfc822\n\nContent-Type: message/rfc822\n\n\n--a--\n";
    check_sane(data);
    let meta = parse_metadata(data);
    assert_eq!(meta.envelope.subject.as_deref(), Some(&b"nested"[..]));
    assert!(meta.header_size > 0);
}
