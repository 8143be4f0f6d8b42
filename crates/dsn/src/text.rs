//! text - turning untrusted strings into safe header and report text.
//!
//! Everything that reaches a report from outside (envelope addresses,
//! `ORCPT`, `ENVID`, remote servers' replies) passes through here. The
//! rules: nothing that could end a line (CR, LF and other control
//! characters) survives; report text is ASCII; every line stays well
//! under the 998-octet limit of RFC 5322.

use std::fmt::Write as _;

/// Longest free-text value (diagnostics, `ENVID`) kept, in bytes.
pub(crate) const MAX_TEXT: usize = 900;
/// Longest address kept, in bytes; RFC 5321 allows 256 for a whole path.
pub(crate) const MAX_ADDRESS: usize = 512;
/// Longest host name kept, in bytes.
const MAX_HOST: usize = 255;
/// Where header fields and report lines are folded when possible.
pub(crate) const WIDTH: usize = 78;

/// clean_text - one line of printable ASCII: controls become spaces,
/// other characters `?`, and the result is cut at `max` bytes.
pub(crate) fn clean_text(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for c in s.trim().chars() {
        if out.len() >= max {
            out.push_str("...");
            break;
        }
        out.push(match c {
            ' '..='~' => c,
            c if c.is_control() => ' ',
            _ => '?',
        });
    }
    out.trim_end().to_owned()
}

/// clean_address - an address with every control character removed, cut at
/// [`MAX_ADDRESS`] bytes. Non-ASCII (SMTPUTF8) characters stay.
pub(crate) fn clean_address(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_ADDRESS));
    for c in s.chars().filter(|c| !c.is_control()) {
        if out.len().saturating_add(c.len_utf8()) > MAX_ADDRESS {
            break;
        }
        out.push(c);
    }
    out
}

/// clean_host - a host name or address literal: letters, digits and
/// `.-_:[]` only; `unknown` when nothing is left.
pub(crate) fn clean_host(s: &str) -> String {
    host_chars(s, |c| c.is_ascii_alphanumeric() || ".-_:[]".contains(c))
}

/// clean_id_part - a host name reduced to what a Message-ID's right side
/// and a MIME boundary both accept: letters, digits, `.` and `-`.
pub(crate) fn clean_id_part(s: &str) -> String {
    host_chars(s, |c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
}

/// host_chars - the first [`MAX_HOST`] characters of `s` that `keep`
/// accepts; `unknown` when there are none.
fn host_chars(s: &str, keep: impl Fn(char) -> bool) -> String {
    let out: String = s.chars().filter(|&c| keep(c)).take(MAX_HOST).collect();
    if out.is_empty() {
        "unknown".to_owned()
    } else {
        out
    }
}

/// is_status - whether `s` is an enhanced status code (RFC 3463):
/// class 2, 4 or 5, then two numbers of one to three digits.
pub(crate) fn is_status(s: &str) -> bool {
    let mut parts = s.split('.');
    let number = |p: Option<&str>| {
        p.is_some_and(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    };
    matches!(parts.next(), Some("2" | "4" | "5"))
        && number(parts.next())
        && number(parts.next())
        && parts.next().is_none()
}

/// is_type_atom - whether `s` can be an address or diagnostic type
/// (`rfc822`, `utf-8`, `smtp`, `x-postern`).
fn is_type_atom(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// diagnostic - a `Diagnostic-Code` value: cleaned, with `x-postern;` in
/// front when the caller's text does not start with a type.
pub(crate) fn diagnostic(s: &str) -> String {
    let text = clean_text(s, MAX_TEXT);
    match text.split_once(';') {
        Some((kind, _)) if is_type_atom(kind.trim()) => text,
        _ => format!("x-postern; {text}"),
    }
}

/// utf8_addr_xtext - the 7-bit form of an address of RFC 6533 §3
/// (`utf-8-addr-xtext`): printable ASCII except `+`, `=` and `\` stays,
/// everything else becomes `\x{HEX}`.
pub(crate) fn utf8_addr_xtext(addr: &str) -> String {
    let mut out = String::with_capacity(addr.len());
    for c in addr.chars() {
        if matches!(c, '!'..='~') && !matches!(c, '+' | '=' | '\\') {
            out.push(c);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\x{{{:02X}}}", u32::from(c));
        }
    }
    out
}

/// ascii_address - an address as it can appear in ASCII report text:
/// unchanged when it is printable ASCII, else in `utf-8-addr-xtext` form.
pub(crate) fn ascii_address(addr: &str) -> String {
    let addr = clean_address(addr);
    if addr.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        addr
    } else {
        utf8_addr_xtext(&addr)
    }
}

/// typed_address - `rfc822; ADDR`, or `utf-8; XTEXT` when the address is
/// not ASCII (RFC 6533: `message/delivery-status` stays 7-bit).
pub(crate) fn typed_address(addr: &str) -> String {
    let addr = clean_address(addr);
    if addr.is_ascii() {
        format!("rfc822; {addr}")
    } else {
        format!("utf-8; {}", utf8_addr_xtext(&addr))
    }
}

/// typed_orcpt - an `ORCPT` as stored (`TYPE;ADDRESS`, address already
/// xtext-decoded) as an `Original-Recipient` value.
///
/// The sender's type and spelling are kept when they are printable
/// ASCII, so the sender can match the report to what it sent; otherwise
/// the address is re-encoded with the `utf-8` type.
pub(crate) fn typed_orcpt(orcpt: &str) -> String {
    let (kind, addr) = match orcpt.split_once(';') {
        Some((kind, addr)) if is_type_atom(kind.trim()) => (kind.trim(), addr.trim()),
        _ => ("rfc822", orcpt.trim()),
    };
    let addr = clean_address(addr);
    if addr.is_ascii() {
        format!("{kind}; {addr}")
    } else {
        format!("utf-8; {}", utf8_addr_xtext(&addr))
    }
}

/// field - one header field `Name: value` with its CRLF, folded before
/// spaces so that lines stay within [`WIDTH`] where the words allow.
///
/// `value` must already be free of control characters.
pub(crate) fn field(name: &str, value: &str) -> String {
    let mut out = format!("{name}:");
    let mut line = out.len();
    for (i, word) in value.split(' ').enumerate() {
        if i > 0 && !word.is_empty() && line.saturating_add(1 + word.len()) > WIDTH {
            out.push_str("\r\n");
            line = 0;
        }
        out.push(' ');
        out.push_str(word);
        line = line.saturating_add(1 + word.len());
    }
    out.push_str("\r\n");
    out
}

/// wrap - a paragraph of report text as lines of at most [`WIDTH`]
/// columns where the words allow, every line starting with `indent`.
pub(crate) fn wrap(text: &str, indent: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::from(indent);
    for word in text.split_whitespace() {
        if line.len() > indent.len() && line.len().saturating_add(1 + word.len()) > WIDTH {
            lines.push(std::mem::replace(&mut line, String::from(indent)));
        }
        if line.len() > indent.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if line.len() > indent.len() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_text_removes_line_breaks_and_non_ascii() {
        let cases = [
            ("plain", "550 no such user", "550 no such user"),
            ("crlf", "550 a\r\nBcc: x", "550 a  Bcc: x"),
            ("tab", "a\tb", "a b"),
            ("non-ascii", "caf\u{e9}", "caf?"),
            ("trimmed", "  x \r\n", "x"),
        ];
        for (name, input, want) in cases {
            assert_eq!(clean_text(input, MAX_TEXT), want, "{name}");
        }
        let long = "x".repeat(MAX_TEXT + 10);
        assert_eq!(clean_text(&long, MAX_TEXT).len(), MAX_TEXT + 3);
    }

    #[test]
    fn addresses_lose_controls_and_keep_utf8() {
        assert_eq!(clean_address("a@b\r\nBcc: c@d"), "a@bBcc: c@d");
        assert_eq!(
            clean_address("j\u{f6}rg@example.de"),
            "j\u{f6}rg@example.de"
        );
        assert_eq!(clean_address(&"a".repeat(600)).len(), MAX_ADDRESS);
    }

    #[test]
    fn address_types_follow_rfc_6533() {
        let cases = [
            ("ascii", "bob@example.net", "rfc822; bob@example.net"),
            (
                "utf-8",
                "j\u{f6}rg+x@example.de",
                "utf-8; j\\x{F6}rg\\x{2B}x@example.de",
            ),
            (
                "crlf",
                "bob@example.net\r\nX: y",
                "rfc822; bob@example.netX: y",
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(typed_address(input), want, "{name}");
        }
        let orcpts = [
            (
                "rfc822",
                "rfc822;Bob@Example.NET",
                "rfc822; Bob@Example.NET",
            ),
            ("no type", "bob@example.net", "rfc822; bob@example.net"),
            ("utf-8 raw", "rfc822;\u{e9}@x", "utf-8; \\x{E9}@x"),
            ("utf-8 kept", "utf-8;a\\x{E9}@x", "utf-8; a\\x{E9}@x"),
        ];
        for (name, input, want) in orcpts {
            assert_eq!(typed_orcpt(input), want, "{name}");
        }
    }

    #[test]
    fn status_codes() {
        let cases = [
            ("5.1.1", true),
            ("4.4.7", true),
            ("2.0.0", true),
            ("5.123.456", true),
            ("3.0.0", false),
            ("5.1", false),
            ("5.1.1.1", false),
            ("5.1234.1", false),
            ("5..1", false),
            ("", false),
        ];
        for (input, want) in cases {
            assert_eq!(is_status(input), want, "{input:?}");
        }
    }

    #[test]
    fn diagnostics_get_a_type() {
        assert_eq!(diagnostic("smtp; 550 nope"), "smtp; 550 nope");
        assert_eq!(diagnostic("mailbox full"), "x-postern; mailbox full");
        assert_eq!(diagnostic("550 a; b c"), "x-postern; 550 a; b c");
    }

    #[test]
    fn fields_fold_before_spaces() {
        let value = "word ".repeat(30);
        let folded = field("Diagnostic-Code", value.trim_end());
        for line in folded.trim_end_matches("\r\n").split("\r\n") {
            assert!(line.len() <= WIDTH, "{line:?}");
        }
        let unfolded = folded.replace("\r\n", "");
        assert_eq!(unfolded, format!("Diagnostic-Code: {}", value.trim_end()));
        assert_eq!(field("A", "b"), "A: b\r\n");
    }

    #[test]
    fn hosts_and_ids() {
        assert_eq!(clean_host("mx.example.net\r\n"), "mx.example.net");
        assert_eq!(clean_host("[2001:db8::1]"), "[2001:db8::1]");
        assert_eq!(clean_host("\r\n"), "unknown");
        assert_eq!(clean_id_part("mail.example>\r\nX"), "mail.exampleX");
    }
}
