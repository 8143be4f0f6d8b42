//! address - an address header's raw value split into IMAP ENVELOPE
//! addresses (RFC 3501 §7.4.2), without decoding anything.
//!
//! mail-parser decodes RFC 2047 encoded words in display names, but IMAP
//! wants them as they are in the header (the client decodes), so address
//! headers are split here, from the raw bytes, following RFC 5322's
//! `address-list` leniently:
//!
//! * `Name <local@domain>`: name is the phrase with quoting removed and
//!   its words joined by single spaces (encoded words untouched);
//! * `<@route1,@route2:local@domain>`: the route is the `adl`;
//! * `local@domain (Comment)`: with no phrase, the last comment is the
//!   name, as Dovecot and older clients treat it; other comments are
//!   dropped;
//! * `Group: a@b, c@d;`: a start marker (mailbox = the group's name, host
//!   NIL), the members, and an end marker (all NIL); an unclosed group is
//!   closed at the end of the header;
//! * a local part without a domain gets the host `MISSING_DOMAIN`, an
//!   empty local part the mailbox `MISSING_MAILBOX` (Dovecot's markers),
//!   since a NIL host would read as a group marker.
//!
//! Nothing here fails: any bytes give some list, possibly empty.

use super::Address;

/// The host given to an address without a domain.
pub(crate) const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";
/// The mailbox given to an address without a local part.
pub(crate) const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";

/// Token - one lexical element of an address header.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An atom (any run of non-special bytes, 8-bit included).
    Atom(Vec<u8>),
    /// A quoted string, quoting removed.
    Quoted(Vec<u8>),
    /// A comment, without its outer parentheses, quoting removed.
    Comment(Vec<u8>),
    /// A domain literal, brackets included.
    Literal(Vec<u8>),
    /// One of `< > @ , : ; .`.
    Special(u8),
}

/// parse_address_list - the IMAP addresses in an address header's raw
/// value (folding line breaks may still be in it).
pub(crate) fn parse_address_list(raw: &[u8]) -> Vec<Address> {
    let tokens = tokenize(raw);
    let mut out = Vec::new();
    let mut pending: Vec<Token> = Vec::new();
    let mut in_group = false;
    let mut iter = tokens.into_iter().peekable();
    while let Some(token) = iter.next() {
        match token {
            Token::Special(b':') if !in_group && !has_at(&pending) => {
                out.push(Address {
                    name: None,
                    adl: None,
                    mailbox: Some(phrase(&pending)),
                    host: None,
                });
                pending.clear();
                in_group = true;
            }
            Token::Special(b'<') => {
                // The angle address, up to `>` or the end.
                let mut inner = Vec::new();
                for t in iter.by_ref() {
                    if t == Token::Special(b'>') {
                        break;
                    }
                    inner.push(t);
                }
                // Whatever follows up to the next separator is comments
                // or junk; skip to it.
                while let Some(t) = iter.peek() {
                    if matches!(t, Token::Special(b',' | b';')) {
                        break;
                    }
                    iter.next();
                }
                out.push(angle_address(&pending, &inner));
                pending.clear();
            }
            Token::Special(b',') => {
                out.extend(bare_address(&pending));
                pending.clear();
            }
            Token::Special(b';') => {
                out.extend(bare_address(&pending));
                pending.clear();
                if in_group {
                    out.push(Address::default());
                    in_group = false;
                }
            }
            other => pending.push(other),
        }
    }
    out.extend(bare_address(&pending));
    if in_group {
        out.push(Address::default());
    }
    out
}

/// has_at - whether the tokens hold an `@` (then a `:` is not a group).
fn has_at(tokens: &[Token]) -> bool {
    tokens.contains(&Token::Special(b'@'))
}

/// angle_address - `phrase <[route:]local@domain>`.
fn angle_address(phrase_tokens: &[Token], inner: &[Token]) -> Address {
    let (adl, spec) = match inner.iter().position(|t| *t == Token::Special(b':')) {
        Some(colon) if inner.first() == Some(&Token::Special(b'@')) => {
            let route = inner.get(..colon).unwrap_or_default();
            (
                Some(route_text(route)),
                inner.get(colon + 1..).unwrap_or_default(),
            )
        }
        _ => (None, inner),
    };
    let (mailbox, host) = addr_spec(spec);
    let words: Vec<&Token> = phrase_tokens
        .iter()
        .filter(|t| !matches!(t, Token::Comment(_)))
        .collect();
    let name = if words.is_empty() {
        last_comment(phrase_tokens)
    } else {
        Some(phrase(phrase_tokens))
    };
    Address {
        name,
        adl,
        mailbox: Some(mailbox),
        host: Some(host),
    }
}

/// bare_address - an `addr-spec` without angle brackets; None if the
/// tokens hold nothing but comments (an empty list element).
fn bare_address(tokens: &[Token]) -> Option<Address> {
    if tokens.iter().all(|t| matches!(t, Token::Comment(_))) {
        return None;
    }
    let words: Vec<Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Comment(_)))
        .cloned()
        .collect();
    let (mailbox, host) = addr_spec(&words);
    Some(Address {
        name: last_comment(tokens),
        adl: None,
        mailbox: Some(mailbox),
        host: Some(host),
    })
}

/// addr_spec - (local part, domain) of `local@domain`, split at the last
/// `@`; markers stand in for missing halves.
fn addr_spec(tokens: &[Token]) -> (Vec<u8>, Vec<u8>) {
    let words: Vec<&Token> = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Comment(_)))
        .collect();
    let at = words.iter().rposition(|t| **t == Token::Special(b'@'));
    let (local, domain) = match at {
        Some(at) => (
            words.get(..at).unwrap_or_default(),
            words.get(at + 1..).unwrap_or_default(),
        ),
        None => (&words[..], &[][..]),
    };
    let local = dotted(local);
    let domain = dotted(domain);
    (
        if local.is_empty() {
            MISSING_MAILBOX.to_vec()
        } else {
            local
        },
        if domain.is_empty() {
            MISSING_DOMAIN.to_vec()
        } else {
            domain
        },
    )
}

/// dotted - words and dots as written, quoting removed (a local part or a
/// domain); words not separated by a dot are joined by a space.
fn dotted(tokens: &[&Token]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut after_word = false;
    for token in tokens {
        match token {
            Token::Atom(w) | Token::Quoted(w) | Token::Literal(w) => {
                if after_word {
                    out.push(b' ');
                }
                out.extend_from_slice(w);
                after_word = true;
            }
            Token::Special(c) => {
                out.push(*c);
                after_word = false;
            }
            Token::Comment(_) => {}
        }
    }
    out
}

/// phrase - a display name or group name: its words with quoting
/// removed, joined by single spaces; a `.` (obsolete phrase syntax, as in
/// `John Q. Public`) sticks to the word before it.
fn phrase(tokens: &[Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for token in tokens {
        match token {
            Token::Atom(w) | Token::Quoted(w) | Token::Literal(w) => {
                if !out.is_empty() {
                    out.push(b' ');
                }
                out.extend_from_slice(w);
            }
            Token::Special(c) => out.push(*c),
            Token::Comment(_) => {}
        }
    }
    out
}

/// last_comment - the last non-empty comment, if any.
fn last_comment(tokens: &[Token]) -> Option<Vec<u8>> {
    tokens.iter().rev().find_map(|t| match t {
        Token::Comment(c) if !c.is_empty() => Some(c.clone()),
        _ => None,
    })
}

/// route_text - an obsolete source route as IMAP's `adl`: `@a,@b`.
fn route_text(tokens: &[Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for token in tokens {
        match token {
            Token::Atom(w) | Token::Literal(w) | Token::Quoted(w) => out.extend_from_slice(w),
            Token::Special(c) => out.push(*c),
            Token::Comment(_) => {}
        }
    }
    out
}

/// is_special - bytes that end an atom.
fn is_special(b: u8) -> bool {
    matches!(
        b,
        b'<' | b'>' | b'@' | b',' | b':' | b';' | b'.' | b'"' | b'(' | b')' | b'[' | b']'
    ) || is_space(b)
}

/// is_space - white space, folding line breaks included.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// tokenize - split a raw header value into tokens.
fn tokenize(raw: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut bytes = raw.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        match b {
            _ if is_space(b) => {}
            b'"' => {
                let mut text = Vec::new();
                while let Some(c) = bytes.next() {
                    match c {
                        b'"' => break,
                        b'\\' => text.extend(bytes.next()),
                        b'\r' | b'\n' => {}
                        _ => text.push(c),
                    }
                }
                tokens.push(Token::Quoted(text));
            }
            b'(' => {
                let mut text = Vec::new();
                let mut depth = 1u32;
                while let Some(c) = bytes.next() {
                    match c {
                        b'(' => {
                            depth = depth.saturating_add(1);
                            text.push(c);
                        }
                        b')' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                break;
                            }
                            text.push(c);
                        }
                        b'\\' => text.extend(bytes.next()),
                        b'\r' | b'\n' => {}
                        _ => text.push(c),
                    }
                }
                tokens.push(Token::Comment(text));
            }
            b'[' => {
                let mut text = vec![b'['];
                for c in bytes.by_ref() {
                    if !matches!(c, b'\r' | b'\n') {
                        text.push(c);
                    }
                    if c == b']' {
                        break;
                    }
                }
                tokens.push(Token::Literal(text));
            }
            // A stray closing parenthesis or bracket: ignored.
            b')' | b']' => {}
            b'<' | b'>' | b'@' | b',' | b':' | b';' | b'.' => tokens.push(Token::Special(b)),
            _ => {
                let mut text = vec![b];
                while let Some(&c) = bytes.peek() {
                    if is_special(c) {
                        break;
                    }
                    text.push(c);
                    bytes.next();
                }
                tokens.push(Token::Atom(text));
            }
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An address as (name, adl, mailbox, host), NIL as None.
    type Parts<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
        Option<&'a str>,
    );

    fn parts(a: &Address) -> Parts<'_> {
        fn s(v: &Option<Vec<u8>>) -> Option<&str> {
            v.as_deref().map(|b| std::str::from_utf8(b).unwrap())
        }
        (s(&a.name), s(&a.adl), s(&a.mailbox), s(&a.host))
    }

    #[test]
    fn address_lists_split_as_imap_wants() {
        let cases: &[(&str, &[Parts<'_>])] = &[
            ("", &[]),
            ("  ", &[]),
            ("a@b.example", &[(None, None, Some("a"), Some("b.example"))]),
            (
                "Alice Example <alice@example.org>",
                &[(
                    Some("Alice Example"),
                    None,
                    Some("alice"),
                    Some("example.org"),
                )],
            ),
            (
                "\"Doe, John\" <john@x>, mary@y",
                &[
                    (Some("Doe, John"), None, Some("john"), Some("x")),
                    (None, None, Some("mary"), Some("y")),
                ],
            ),
            (
                "=?utf-8?q?J=C3=B6rg?= <j@x>",
                &[(Some("=?utf-8?q?J=C3=B6rg?="), None, Some("j"), Some("x"))],
            ),
            (
                "\"quoted \\\"inner\\\" \\\\ text\" <q@x>",
                &[(Some("quoted \"inner\" \\ text"), None, Some("q"), Some("x"))],
            ),
            (
                "John Q. Public <jqp@x>",
                &[(Some("John Q. Public"), None, Some("jqp"), Some("x"))],
            ),
            (
                "bob@x (Bob (the) Builder)",
                &[(Some("Bob (the) Builder"), None, Some("bob"), Some("x"))],
            ),
            (
                "(comment) Real Name (c2) <r@x> (after)",
                &[(Some("Real Name"), None, Some("r"), Some("x"))],
            ),
            (
                "<@relay1.example,@relay2.example:user@host.example>",
                &[(
                    None,
                    Some("@relay1.example,@relay2.example"),
                    Some("user"),
                    Some("host.example"),
                )],
            ),
            (
                "Team: a@x, B <b@y>;, c@z",
                &[
                    (None, None, Some("Team"), None),
                    (None, None, Some("a"), Some("x")),
                    (Some("B"), None, Some("b"), Some("y")),
                    (None, None, None, None),
                    (None, None, Some("c"), Some("z")),
                ],
            ),
            (
                "undisclosed-recipients:;",
                &[
                    (None, None, Some("undisclosed-recipients"), None),
                    (None, None, None, None),
                ],
            ),
            (
                "Open Group: a@x",
                &[
                    (None, None, Some("Open Group"), None),
                    (None, None, Some("a"), Some("x")),
                    (None, None, None, None),
                ],
            ),
            (
                "\"first last\"@x.example",
                &[(None, None, Some("first last"), Some("x.example"))],
            ),
            (
                "first.last@[192.0.2.1]",
                &[(None, None, Some("first.last"), Some("[192.0.2.1]"))],
            ),
            (
                "root",
                &[(None, None, Some("root"), Some("MISSING_DOMAIN"))],
            ),
            (
                "Name <>",
                &[(
                    Some("Name"),
                    None,
                    Some("MISSING_MAILBOX"),
                    Some("MISSING_DOMAIN"),
                )],
            ),
            (
                "a@x,, ,b@y",
                &[
                    (None, None, Some("a"), Some("x")),
                    (None, None, Some("b"), Some("y")),
                ],
            ),
            (
                "Folded\r\n Name <f@x>,\r\n\tg@y",
                &[
                    (Some("Folded Name"), None, Some("f"), Some("x")),
                    (None, None, Some("g"), Some("y")),
                ],
            ),
            (
                "Unclosed <u@x",
                &[(Some("Unclosed"), None, Some("u"), Some("x"))],
            ),
            (
                "caf\u{e9} <c@x\u{e9}.example>",
                &[(Some("caf\u{e9}"), None, Some("c"), Some("x\u{e9}.example"))],
            ),
        ];
        for &(raw, want) in cases {
            let got = parse_address_list(raw.as_bytes());
            let got: Vec<Parts<'_>> = got.iter().map(parts).collect();
            assert_eq!(got, want, "{raw:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_split_without_panicking(raw in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let list = parse_address_list(&raw);
            // Group markers come in pairs.
            let starts = list.iter().filter(|a| a.is_group_start()).count();
            let ends = list.iter().filter(|a| a.is_group_end()).count();
            proptest::prop_assert_eq!(starts, ends);
        }
    }
}
