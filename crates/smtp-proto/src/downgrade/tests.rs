use super::*;
use proptest::prelude::*;

/// `text` with every LF turned into CRLF.
fn crlf(text: &str) -> Vec<u8> {
    text.replace('\n', "\r\n").into_bytes()
}

/// Bytes for assertion messages.
fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A strict quoted-printable decoder: `=XX` with upper-case hex, soft line breaks, and
/// nothing else special. Panics on anything our encoder must not produce.
fn qp_decode(encoded: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < encoded.len() {
        if encoded[i] == b'=' {
            let rest = &encoded[i + 1..];
            if rest.starts_with(b"\r\n") {
                i += 3;
                continue;
            }
            let hex = std::str::from_utf8(&rest[..2]).unwrap();
            assert_eq!(hex, hex.to_ascii_uppercase(), "lower-case hex");
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(encoded[i]);
            i += 1;
        }
    }
    out
}

/// Checks the RFC 2045 rules on an encoded body: lines of at most 76 characters,
/// CRLF only, no trailing white space, only printable US-ASCII, space and tab.
fn assert_valid_qp(encoded: &[u8]) {
    for line in encoded.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(line.len() <= 76, "line too long: {:?}", show(line));
        assert!(!line.contains(&b'\r'), "bare CR in {:?}", show(line));
        assert!(
            !line.ends_with(b" ") && !line.ends_with(b"\t"),
            "trailing white space in {:?}",
            show(line)
        );
        assert!(
            line.iter()
                .all(|&b| b == b' ' || b == b'\t' || (b'!'..=b'~').contains(&b)),
            "bad octet in {:?}",
            show(line)
        );
    }
}

/// The input with every LF that has no CR before it turned into CRLF.
fn normalize_newlines(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut previous = None;
    for &b in body {
        if b == b'\n' && previous != Some(b'\r') {
            out.push(b'\r');
        }
        out.push(b);
        previous = Some(b);
    }
    out
}

const QP_HEAD: &str =
    "Subject: t\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n";

/// Converts `Subject: t` + empty line + `body` and returns the encoded body.
fn encode_body(body: &[u8]) -> Vec<u8> {
    let mut message = b"Subject: t\r\n\r\n".to_vec();
    message.extend_from_slice(body);
    let out = to_7bit(&message).unwrap();
    out.strip_prefix(QP_HEAD.as_bytes())
        .unwrap_or_else(|| panic!("unexpected head: {:?}", show(&out)))
        .to_vec()
}

#[test]
fn has_8bit_cases() {
    assert!(!has_8bit(b""));
    assert!(!has_8bit(b"Subject: x\r\n\r\nplain\x7f\x00\r\n"));
    assert!(has_8bit(b"caf\xc3\xa9"));
    assert!(has_8bit(b"\x80"));
}

#[test]
fn plain_text_without_mime_headers() {
    let input = crlf("From: a@example.org\nSubject: hi\n\nCaf\u{e9} ol\u{e9}\nsecond line\n");
    let want = crlf(
        "From: a@example.org\nSubject: hi\nMIME-Version: 1.0\n\
         Content-Transfer-Encoding: quoted-printable\n\nCaf=C3=A9 ol=C3=A9\nsecond line\n",
    );
    assert_eq!(show(&to_7bit(&input).unwrap()), show(&want));
}

#[test]
fn cte_8bit_is_replaced_in_place() {
    let input = crlf(
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\
         content-transfer-encoding: 8BIT (raw)\nSubject: x\n\nn\u{e9}\n",
    );
    let want = crlf(
        "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\
         Content-Transfer-Encoding: quoted-printable\nSubject: x\n\nn=C3=A9\n",
    );
    assert_eq!(show(&to_7bit(&input).unwrap()), show(&want));
}

#[test]
fn cte_7bit_and_duplicate_labels() {
    // A wrong 7bit label is corrected; a second label is dropped.
    let input =
        crlf("Content-Transfer-Encoding: 7bit\nX: y\nContent-Transfer-Encoding: 8bit\n\n\u{e9}\n");
    let want =
        crlf("Content-Transfer-Encoding: quoted-printable\nX: y\nMIME-Version: 1.0\n\n=C3=A9\n");
    assert_eq!(show(&to_7bit(&input).unwrap()), show(&want));
}

#[test]
fn multipart_alternative_keeps_7bit_part() {
    let plain_part = "Content-Type: text/plain; charset=us-ascii\n\nplain ascii\n=not encoded=";
    let input = crlf(&format!(
        "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b1\"\n\n\
         preamble\n--b1\n{plain_part}\n--b1\n\
         Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\
         <p>\u{e9}t\u{e9}</p>\n--b1--\nepilogue\n"
    ));
    let want = crlf(&format!(
        "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=\"b1\"\n\n\
         preamble\n--b1\n{plain_part}\n--b1\n\
         Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n\
         <p>=C3=A9t=C3=A9</p>\n--b1--\nepilogue\n"
    ));
    let out = to_7bit(&input).unwrap();
    assert_eq!(show(&out), show(&want));
    // The 7-bit part is byte for byte the same, and the html part decodes back.
    let plain = crlf(&format!("\n--b1\n{plain_part}\n--b1\n"));
    assert!(out.windows(plain.len()).any(|w| w == plain));
    assert_eq!(
        qp_decode(b"<p>=C3=A9t=C3=A9</p>"),
        "<p>\u{e9}t\u{e9}</p>".as_bytes()
    );
}

#[test]
fn nested_multipart_mixed_in_alternative() {
    let input = crlf(
        "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=outer\n\n\
         --outer\nContent-Type: text/plain\n\nascii only\n\
         --outer\nContent-Type: multipart/mixed;\n\tBOUNDARY=\"inner\" (folded)\n\n\
         inner preamble\n--inner\nContent-Type: text/plain; charset=utf-8\n\n\u{fc}ber\n\
         --inner\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAEC\n\
         --inner--\n\n--outer--\n",
    );
    let want = crlf(
        "MIME-Version: 1.0\nContent-Type: multipart/alternative; boundary=outer\n\n\
         --outer\nContent-Type: text/plain\n\nascii only\n\
         --outer\nContent-Type: multipart/mixed;\n\tBOUNDARY=\"inner\" (folded)\n\n\
         inner preamble\n--inner\nContent-Type: text/plain; charset=utf-8\n\
         Content-Transfer-Encoding: quoted-printable\n\n=C3=BCber\n\
         --inner\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAEC\n\
         --inner--\n\n--outer--\n",
    );
    assert_eq!(show(&to_7bit(&input).unwrap()), show(&want));
}

#[test]
fn message_rfc822_body_is_converted() {
    let input = crlf(
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=m\n\n\
         --m\nContent-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\n\
         Subject: inner\n\nbod\u{e9}\n--m--\n",
    );
    let want = crlf(
        "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=m\n\n\
         --m\nContent-Type: message/rfc822\nContent-Transfer-Encoding: 7bit\n\n\
         Subject: inner\nMIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n\n\
         bod=C3=A9\n--m--\n",
    );
    assert_eq!(show(&to_7bit(&input).unwrap()), show(&want));
}

#[test]
fn top_level_message_rfc822() {
    let input = crlf(
        "MIME-Version: 1.0\nContent-Type: message/rfc822\n\n\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n\u{e9}\n",
    );
    let want = crlf(
        "MIME-Version: 1.0\nContent-Type: message/rfc822\n\n\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\
         Content-Transfer-Encoding: quoted-printable\n\n=C3=A9\n",
    );
    assert_eq!(show(&to_7bit(&input).unwrap()), show(&want));
}

#[test]
fn digest_parts_default_to_message_rfc822() {
    let input = crlf(
        "Content-Type: multipart/digest; boundary=d\n\n\
         --d\n\nSubject: one\n\n\u{e9}\n--d--\n",
    );
    let want = crlf(
        "Content-Type: multipart/digest; boundary=d\n\n\
         --d\n\nSubject: one\nMIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n\n\
         =C3=A9\n--d--\n",
    );
    assert_eq!(show(&to_7bit(&input).unwrap()), show(&want));
}

#[test]
fn part_without_header_section() {
    // No empty line after the delimiter: the part is all body.
    let input = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\u{e9}\n--b--\n");
    let want = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
         Content-Transfer-Encoding: quoted-printable\n\n=C3=A9\n--b--\n",
    );
    assert_eq!(show(&to_7bit(&input).unwrap()), show(&want));
}

#[test]
fn delimiters_with_padding_and_lookalikes() {
    let input = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b \t\n\n\u{e9}\n--bx\n--b-\n\
         --b-- \nepilogue",
    );
    let want = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b \t\n\
         Content-Transfer-Encoding: quoted-printable\n\n=C3=A9\n--bx\n--b-\n\
         --b-- \nepilogue",
    );
    assert_eq!(show(&to_7bit(&input).unwrap()), show(&want));
}

#[test]
fn missing_close_delimiter_runs_to_end() {
    let input = crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\n\u{e9}\n");
    let want = crlf(
        "Content-Type: multipart/mixed; boundary=b\n\n--b\n\
         Content-Transfer-Encoding: quoted-printable\n\n=C3=A9\n",
    );
    assert_eq!(show(&to_7bit(&input).unwrap()), show(&want));
}

#[test]
fn other_types_are_leaves() {
    for content_type in [
        "text/html; charset=\"utf-8\"",
        "message/delivery-status",
        "application/x-thing",
        "garbage without slash",
        "multipart/",
    ] {
        let input = crlf(&format!("Content-Type: {content_type}\n\n\u{e9}\n"));
        let want = crlf(&format!(
            "Content-Type: {content_type}\nMIME-Version: 1.0\n\
             Content-Transfer-Encoding: quoted-printable\n\n=C3=A9\n"
        ));
        assert_eq!(
            show(&to_7bit(&input).unwrap()),
            show(&want),
            "{content_type}"
        );
    }
}

#[test]
fn soft_line_breaks_at_76() {
    let cases: &[(&str, Vec<u8>, Vec<u8>)] = &[
        ("76 literals fit", [b'a'; 76].to_vec(), [b'a'; 76].to_vec()),
        (
            "77 literals",
            [b'a'; 77].to_vec(),
            [&[b'a'; 75][..], b"=\r\naa"].concat(),
        ),
        (
            "escape at the end fits",
            [&[b'a'; 73][..], b"\xe9"].concat(),
            [&[b'a'; 73][..], b"=E9"].concat(),
        ),
        (
            "escape past the end",
            [&[b'a'; 74][..], b"\xe9"].concat(),
            [&[b'a'; 74][..], b"=\r\n=E9"].concat(),
        ),
        (
            "escape before more text",
            [&[b'a'; 73][..], b"\xe9b"].concat(),
            [&[b'a'; 73][..], b"=\r\n=E9b"].concat(),
        ),
    ];
    for (name, body, want) in cases {
        let mut input = body.clone();
        input.extend_from_slice(b"\r\n\xff");
        let mut full_want = want.clone();
        full_want.extend_from_slice(b"\r\n=FF");
        let got = encode_body(&input);
        assert_eq!(show(&got), show(&full_want), "{name}");
        assert_valid_qp(&got);
        assert_eq!(qp_decode(&got), input, "{name}");
    }

    let long = "\u{e9}t\u{e9} ".repeat(100);
    let got = encode_body(long.as_bytes());
    assert!(got.split(|&b| b == b'\n').count() > 5);
    assert_valid_qp(&got);
    assert_eq!(qp_decode(&got), long.as_bytes());
}

#[test]
fn trailing_white_space_is_encoded() {
    let body = "abc \nx\t\n\u{e9} mid space \nlast \t";
    let got = encode_body(&crlf(body));
    assert_eq!(
        show(&got),
        show(&crlf("abc=20\nx=09\n=C3=A9 mid space=20\nlast =09"))
    );
    assert_valid_qp(&got);
    assert_eq!(qp_decode(&got), crlf(body));
}

#[test]
fn equals_and_controls_are_encoded() {
    let body = b"a=b \xe9\r\nNUL\x00 CR\r DEL\x7f\r\n=\r\n";
    let got = encode_body(body);
    assert_eq!(show(&got), "a=3Db =E9\r\nNUL=00 CR=0D DEL=7F\r\n=3D\r\n");
    assert_eq!(qp_decode(&got), body);
}

#[test]
fn bare_lf_becomes_crlf_and_final_line_end_is_kept() {
    let input = b"Subject: x\n\n\xc3\xa9\nline2\n";
    let want = "Subject: x\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                =C3=A9\r\nline2\r\n";
    assert_eq!(show(&to_7bit(input).unwrap()), want);

    let input = b"Subject: x\r\n\r\n\xc3\xa9\r\nno final break";
    let want = "Subject: x\r\nMIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
                =C3=A9\r\nno final break";
    assert_eq!(show(&to_7bit(input).unwrap()), want);
}

#[test]
fn missing_empty_line_is_added() {
    // The body starts at the first line that is not a header field.
    let input = crlf("Subject: x\nnot a header \u{e9}\n");
    let want = crlf(
        "Subject: x\nMIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n\n\
         not a header =C3=A9\n",
    );
    assert_eq!(show(&to_7bit(&input).unwrap()), show(&want));
}

#[test]
fn seven_bit_input_is_unchanged() {
    for input in [
        &b""[..],
        b"Subject: x\r\n\r\nbody\r\n",
        b"Subject: x\n\nbare LF body\n",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n",
        b"Content-Transfer-Encoding: binary\r\n\r\n\x00\x01\r",
        b"no header, no break",
    ] {
        assert_eq!(to_7bit(input).unwrap(), input);
    }
}

#[test]
fn unconvertible_messages() {
    let mut deep = crlf("Subject: bottom\n\n\u{e9}\n");
    for _ in 0..=MAX_DEPTH {
        let mut outer = crlf("Content-Type: message/rfc822\n\n");
        outer.extend_from_slice(&deep);
        deep = outer;
    }
    let cases: Vec<(&str, Vec<u8>, DowngradeError)> = vec![
        (
            "8-bit top header",
            crlf("Subject: h\u{e9}llo\n\nbody\n"),
            DowngradeError::EightBitHeader,
        ),
        (
            "8-bit folded header",
            crlf("Subject: x\n \u{e9}\n\nbody\n"),
            DowngradeError::EightBitHeader,
        ),
        (
            "8-bit part header",
            crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\nX: \u{e9}\n\nx\n--b--\n"),
            DowngradeError::EightBitHeader,
        ),
        (
            "8-bit embedded header",
            crlf("Content-Type: message/rfc822\n\nSubject: \u{e9}\n\nx\n"),
            DowngradeError::EightBitHeader,
        ),
        (
            "8-bit preamble",
            crlf("Content-Type: multipart/mixed; boundary=b\n\n\u{e9}\n--b\n\nx\n--b--\n"),
            DowngradeError::EightBitPreamble,
        ),
        (
            "multipart without delimiters",
            crlf("Content-Type: multipart/mixed; boundary=b\n\n\u{e9}\n"),
            DowngradeError::EightBitPreamble,
        ),
        (
            "8-bit epilogue",
            crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n\u{e9}\n"),
            DowngradeError::EightBitEpilogue,
        ),
        (
            "binary",
            crlf("Content-Transfer-Encoding: binary\n\n\u{e9}\n"),
            DowngradeError::Binary,
        ),
        (
            "binary multipart",
            crlf(
                "Content-Type: multipart/mixed; boundary=b\nContent-Transfer-Encoding: binary\n\n\
                 --b\n\n\u{e9}\n--b--\n",
            ),
            DowngradeError::Binary,
        ),
        (
            "base64 with 8-bit",
            crlf("Content-Transfer-Encoding: Base64\n\nAA\u{e9}\n"),
            DowngradeError::EncodedWith8bit("base64"),
        ),
        (
            "quoted-printable with 8-bit",
            crlf("Content-Transfer-Encoding: quoted-printable\n\n\u{e9}\n"),
            DowngradeError::EncodedWith8bit("quoted-printable"),
        ),
        (
            "unknown encoding",
            crlf("Content-Transfer-Encoding: x-uuencode\n\n\u{e9}\n"),
            DowngradeError::UnknownEncoding("x-uuencode".to_owned()),
        ),
        (
            "message/global",
            crlf("Content-Type: message/global\n\nSubject: x\n\n\u{e9}\n"),
            DowngradeError::MessageGlobal,
        ),
        (
            "message/global in a part",
            crlf(
                "Content-Type: multipart/mixed; boundary=b\n\n\
                 --b\nContent-Type: Message/Global\n\nSubject: x\n\n\u{e9}\n--b--\n",
            ),
            DowngradeError::MessageGlobal,
        ),
        (
            "message/partial",
            crlf("Content-Type: message/partial; id=x; number=1\n\n\u{e9}\n"),
            DowngradeError::SevenBitOnly("partial".to_owned()),
        ),
        (
            "multipart without boundary",
            crlf("Content-Type: multipart/mixed\n\n\u{e9}\n"),
            DowngradeError::MissingBoundary,
        ),
        (
            "multipart with empty boundary",
            crlf("Content-Type: multipart/mixed; boundary=\"\"\n\n\u{e9}\n"),
            DowngradeError::MissingBoundary,
        ),
        ("too deep", deep, DowngradeError::TooDeep),
    ];
    for (name, input, want) in cases {
        let got = to_7bit(&input);
        assert_eq!(got, Err(want), "{name}");
        assert_eq!(got.unwrap_err().status().to_string(), "5.6.3", "{name}");
    }
}

#[test]
fn deepest_allowed_nesting_converts() {
    let mut message = crlf("Subject: bottom\n\n\u{e9}\n");
    for _ in 0..MAX_DEPTH {
        let mut outer = crlf("Content-Type: message/rfc822\n\n");
        outer.extend_from_slice(&message);
        message = outer;
    }
    let out = to_7bit(&message).unwrap();
    assert!(out.ends_with(b"\r\n\r\n=C3=A9\r\n"));
    assert!(!has_8bit(&out));
}

/// Expected type, subtype and boundary of a `Content-Type` value.
type Parsed = Option<(&'static str, &'static str, Option<&'static str>)>;

#[test]
fn content_type_parsing() {
    let cases: &[(&str, Parsed)] = &[
        ("text/plain", Some(("text", "plain", None))),
        (
            " Multipart/Mixed ; Boundary=abc",
            Some(("multipart", "mixed", Some("abc"))),
        ),
        (
            "multipart/mixed; charset=x; boundary=\"a b\\\"c\"",
            Some(("multipart", "mixed", Some("a b\"c"))),
        ),
        (
            "multipart/mixed;\r\n boundary=----=_Part_1 (comment)",
            Some(("multipart", "mixed", Some("----=_Part_1"))),
        ),
        (
            "(c) multipart (x) / (y) related; (z) boundary = \"q\"",
            Some(("multipart", "related", Some("q"))),
        ),
        (
            "multipart/mixed; boundary",
            Some(("multipart", "mixed", None)),
        ),
        (
            "multipart/mixed; boundary=\"unclosed",
            Some(("multipart", "mixed", Some("unclosed"))),
        ),
        ("text", None),
        ("/plain", None),
        ("", None),
    ];
    for (value, want) in cases {
        let got = parse_content_type(value.as_bytes());
        let want = want.map(|(kind, subtype, boundary)| ContentType {
            kind: kind.to_owned(),
            subtype: subtype.to_owned(),
            boundary: boundary.map(|b| b.as_bytes().to_vec()),
        });
        assert_eq!(got, want, "{value:?}");
    }
}

/// Pieces that make up random MIME-looking messages.
const FRAGMENTS: &[&[u8]] = &[
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"Content-Type: multipart/digest; boundary=\"c\"\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: text/plain\r\n",
    b"Content-Transfer-Encoding: 8bit\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"MIME-Version: 1.0\r\n",
    b"--b\r\n",
    b"--b--\r\n",
    b"--c\r\n",
    b"--c--",
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\t",
    b"=",
    b"caf\xc3\xa9",
    b"\xff",
    b"text",
    b" folded\r\n",
];

/// Every line of `bytes` is at most 998 octets (LF ends a line, CR before it is not
/// counted).
fn lines_fit(bytes: &[u8]) -> bool {
    bytes
        .split(|&b| b == b'\n')
        .all(|line| line.strip_suffix(b"\r").unwrap_or(line).len() <= 998)
}

/// The invariants of any result.
fn check_output(
    input: &[u8],
    result: Result<Vec<u8>, DowngradeError>,
) -> Result<(), TestCaseError> {
    if let Ok(out) = result {
        prop_assert!(!has_8bit(&out));
        if lines_fit(input) {
            prop_assert!(lines_fit(&out));
        }
        if !has_8bit(input) {
            prop_assert_eq!(out, input);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn never_panics_on_bytes(input in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let result = to_7bit(&input);
        check_output(&input, result)?;
    }

    #[test]
    fn never_panics_on_mime_pieces(
        pieces in proptest::collection::vec(0..FRAGMENTS.len(), 0..80),
        long in 0..3000usize,
    ) {
        let mut input = Vec::new();
        for (i, piece) in pieces.into_iter().enumerate() {
            input.extend_from_slice(FRAGMENTS[piece]);
            if i == 7 {
                input.extend(std::iter::repeat_n(b'\xe9', long));
            }
        }
        let result = to_7bit(&input);
        check_output(&input, result)?;
    }

    #[test]
    fn single_part_round_trips(mut body in proptest::collection::vec(any::<u8>(), 0..3000)) {
        body.push(0x80);
        let encoded = encode_body(&body);
        assert_valid_qp(&encoded);
        prop_assert_eq!(qp_decode(&encoded), normalize_newlines(&body));
    }

    #[test]
    fn multipart_parts_round_trip(
        first in proptest::collection::vec(any::<u8>(), 0..500),
        second in "[a-z \r\n]{0,200}",
    ) {
        let first: Vec<u8> = first.into_iter().filter(|&b| b != b'\n').chain([0xc3, 0xa9]).collect();
        let mut input = crlf("Content-Type: multipart/mixed; boundary=\"=_b\"\n\n--=_b\n\n");
        input.extend_from_slice(&first);
        input.extend_from_slice(b"\r\n--=_b\r\n\r\n");
        input.extend_from_slice(second.as_bytes());
        input.extend_from_slice(b"\r\n--=_b--\r\n");
        let out = to_7bit(&input).unwrap();
        let head = crlf(
            "Content-Type: multipart/mixed; boundary=\"=_b\"\n\n--=_b\n\
             Content-Transfer-Encoding: quoted-printable\n\n",
        );
        let tail = [b"\r\n--=_b\r\n\r\n", second.as_bytes(), b"\r\n--=_b--\r\n"].concat();
        prop_assert!(out.starts_with(&head));
        prop_assert!(out.ends_with(&tail));
        let encoded = &out[head.len()..out.len() - tail.len()];
        assert_valid_qp(encoded);
        prop_assert_eq!(qp_decode(encoded), first);
    }
}
