use super::*;
use proptest::prelude::*;
use std::net::IpAddr;

fn mailbox(text: &str) -> Mailbox {
    Mailbox::parse(text).unwrap()
}

#[test]
fn reverse_paths() {
    let cases: &[(&str, &str, Result<&str, AddressError>)] = &[
        // name, input, Ok(display) or Err
        ("simple", "<a@example.org>", Ok("a@example.org")),
        ("null", "<>", Ok("")),
        (
            "dot-atom",
            "<first.last+tag@example.org>",
            Ok("first.last+tag@example.org"),
        ),
        (
            "all atext",
            "<!#$%&'*+-/=?^_`{|}~@example.org>",
            Ok("!#$%&'*+-/=?^_`{|}~@example.org"),
        ),
        (
            "quoted needless",
            "<\"joe\"@example.org>",
            Ok("joe@example.org"),
        ),
        (
            "quoted space",
            "<\"joe smith\"@example.org>",
            Ok("\"joe smith\"@example.org"),
        ),
        (
            "quoted escapes",
            "<\"a\\\"b\\\\c\"@example.org>",
            Ok("\"a\\\"b\\\\c\"@example.org"),
        ),
        (
            "quoted escaped letter",
            "<\"\\a\"@example.org>",
            Ok("a@example.org"),
        ),
        ("quoted empty", "<\"\"@example.org>", Ok("\"\"@example.org")),
        (
            "quoted with >",
            "<\"a>b\"@example.org>",
            Ok("\"a>b\"@example.org"),
        ),
        (
            "quoted with @",
            "<\"a@b\"@example.org>",
            Ok("\"a@b\"@example.org"),
        ),
        (
            "source route",
            "<@a.example,@b.example:user@c.example>",
            Ok("user@c.example"),
        ),
        (
            "one-hop route",
            "<@a.example:user@c.example>",
            Ok("user@c.example"),
        ),
        ("ipv4 literal", "<user@[192.0.2.1]>", Ok("user@[192.0.2.1]")),
        (
            "ipv6 literal",
            "<user@[IPv6:2001:db8::1]>",
            Ok("user@[IPv6:2001:db8::1]"),
        ),
        (
            "ipv6 tag any case",
            "<user@[ipv6:2001:DB8::1]>",
            Ok("user@[IPv6:2001:db8::1]"),
        ),
        ("case kept", "<John@Example.ORG>", Ok("John@Example.ORG")),
        ("digit label", "<a@123.example>", Ok("a@123.example")),
        ("single label", "<a@localhost>", Ok("a@localhost")),
        (
            "utf-8 local",
            "<j\u{f6}rg@example.org>",
            Ok("j\u{f6}rg@example.org"),
        ),
        (
            "utf-8 domain",
            "<a@b\u{fc}cher.example>",
            Ok("a@b\u{fc}cher.example"),
        ),
        (
            "no brackets",
            "a@example.org",
            Err(AddressError::MissingBrackets),
        ),
        (
            "no closing bracket",
            "<a@example.org",
            Err(AddressError::MissingBrackets),
        ),
        (
            "postmaster alone",
            "<postmaster>",
            Err(AddressError::MissingDomain),
        ),
        ("no domain", "<user>", Err(AddressError::MissingDomain)),
        ("empty domain", "<user@>", Err(AddressError::InvalidDomain)),
        ("empty local", "<@example.org>", Err(AddressError::BadRoute)),
        (
            "leading dot",
            "<.a@example.org>",
            Err(AddressError::InvalidLocalPart),
        ),
        (
            "trailing dot",
            "<a.@example.org>",
            Err(AddressError::InvalidLocalPart),
        ),
        (
            "double dot",
            "<a..b@example.org>",
            Err(AddressError::InvalidLocalPart),
        ),
        (
            "space in local",
            "<a b@example.org>",
            Err(AddressError::InvalidLocalPart),
        ),
        (
            "comma in local",
            "<a,b@example.org>",
            Err(AddressError::InvalidLocalPart),
        ),
        (
            "unterminated quote",
            "<\"ab@example.org>",
            Err(AddressError::InvalidLocalPart),
        ),
        (
            "quoted tab",
            "<\"a\tb\"@example.org>",
            Err(AddressError::InvalidLocalPart),
        ),
        (
            "escaped tab",
            "<\"a\\\tb\"@example.org>",
            Err(AddressError::InvalidLocalPart),
        ),
        (
            "two @",
            "<a@b@example.org>",
            Err(AddressError::InvalidDomain),
        ),
        (
            "domain trailing dot",
            "<a@example.org.>",
            Err(AddressError::InvalidDomain),
        ),
        (
            "domain leading dot",
            "<a@.example.org>",
            Err(AddressError::InvalidDomain),
        ),
        (
            "domain double dot",
            "<a@example..org>",
            Err(AddressError::InvalidDomain),
        ),
        (
            "label leading hyphen",
            "<a@-x.example>",
            Err(AddressError::InvalidDomain),
        ),
        (
            "label trailing hyphen",
            "<a@x-.example>",
            Err(AddressError::InvalidDomain),
        ),
        (
            "underscore domain",
            "<a@x_y.example>",
            Err(AddressError::InvalidDomain),
        ),
        (
            "space before >",
            "<a@example.org >",
            Err(AddressError::InvalidDomain),
        ),
        (
            "general literal",
            "<a@[tag:stuff]>",
            Err(AddressError::InvalidAddressLiteral),
        ),
        (
            "bad ipv4",
            "<a@[192.0.2.256]>",
            Err(AddressError::InvalidAddressLiteral),
        ),
        (
            "ipv4 leading zero",
            "<a@[192.0.2.01]>",
            Err(AddressError::InvalidAddressLiteral),
        ),
        (
            "ipv4 three parts",
            "<a@[192.0.2]>",
            Err(AddressError::InvalidAddressLiteral),
        ),
        (
            "ipv6 without tag",
            "<a@[2001:db8::1]>",
            Err(AddressError::InvalidAddressLiteral),
        ),
        (
            "unclosed literal",
            "<a@[192.0.2.1>",
            Err(AddressError::InvalidAddressLiteral),
        ),
        (
            "route without colon",
            "<@a.example,user@c.example>",
            Err(AddressError::BadRoute),
        ),
        (
            "route bad domain",
            "<@a_b:user@c.example>",
            Err(AddressError::BadRoute),
        ),
        (
            "route to null",
            "<@a.example:>",
            Err(AddressError::BadRoute),
        ),
        (
            "trailing text",
            "<a@example.org>x",
            Err(AddressError::TrailingText),
        ),
        (
            "nbsp in local",
            "<a\u{a0}b@example.org>",
            Err(AddressError::InvalidLocalPart),
        ),
        (
            "line separator in domain",
            "<a@b\u{2028}c.example>",
            Err(AddressError::InvalidDomain),
        ),
    ];
    for (name, input, want) in cases {
        let got = ReversePath::parse(input).map(|path| path.to_string());
        assert_eq!(got.as_deref(), want.as_deref(), "{name}: {input}");
    }
}

#[test]
fn forward_paths() {
    let cases: &[(&str, &str, Result<ForwardPath, AddressError>)] = &[
        ("postmaster", "<postmaster>", Ok(ForwardPath::Postmaster)),
        (
            "postmaster any case",
            "<PostMaster>",
            Ok(ForwardPath::Postmaster),
        ),
        (
            "postmaster with domain",
            "<Postmaster@example.org>",
            Ok(ForwardPath::Mailbox(mailbox("Postmaster@example.org"))),
        ),
        ("null refused", "<>", Err(AddressError::NullNotAllowed)),
        (
            "other user alone",
            "<root>",
            Err(AddressError::MissingDomain),
        ),
    ];
    for (name, input, want) in cases {
        assert_eq!(&ForwardPath::parse(input), want, "{name}");
    }
}

#[test]
fn length_limits() {
    let local64 = "a".repeat(64);
    let local65 = "a".repeat(65);
    assert!(ReversePath::parse(&format!("<{local64}@example.org>")).is_ok());
    assert_eq!(
        ReversePath::parse(&format!("<{local65}@example.org>")),
        Err(AddressError::LocalPartTooLong)
    );
    // A quoted local part counts as sent, quotes included: 62 + 2 fits, 63 + 2 not.
    let quoted64 = format!("\"{}\"", "a b".repeat(20) + "ab");
    assert_eq!(quoted64.len(), 64);
    assert!(ReversePath::parse(&format!("<{quoted64}@example.org>")).is_ok());
    let quoted65 = format!("\"{}\"", "a b".repeat(21));
    assert_eq!(
        ReversePath::parse(&format!("<{quoted65}@example.org>")),
        Err(AddressError::LocalPartTooLong)
    );

    let label63 = "b".repeat(63);
    let label64 = "b".repeat(64);
    assert!(DomainName::parse(&label63).is_ok());
    assert_eq!(DomainName::parse(&label64), Err(AddressError::LabelTooLong));

    // 255-octet domain: four labels of 63 plus three dots = 255.
    let domain255 = [label63.as_str(); 4].join(".");
    assert_eq!(domain255.len(), 255);
    assert!(DomainName::parse(&domain255).is_ok());
    let domain256 = format!("c{domain255}");
    assert_eq!(
        DomainName::parse(&domain256),
        Err(AddressError::DomainTooLong)
    );

    // Path: "<" + local + "@" + domain + ">" <= 256.
    let domain = |len: usize| {
        let mut labels = Vec::new();
        let mut left = len;
        while left > 0 {
            let take = left.min(63);
            labels.push("d".repeat(take));
            left = left.saturating_sub(take + 1);
        }
        let name = labels.join(".");
        assert_eq!(name.len(), len);
        name
    };
    let path256 = format!("<{}@{}>", "a".repeat(64), domain(189));
    assert_eq!(path256.len(), 256);
    assert!(ReversePath::parse(&path256).is_ok());
    let path257 = format!("<{}@{}>", "a".repeat(64), domain(190));
    assert_eq!(path257.len(), 257);
    assert_eq!(ReversePath::parse(&path257), Err(AddressError::PathTooLong));
}

#[test]
fn ascii_detection() {
    for (input, ascii) in [
        ("<a@example.org>", true),
        ("<>", true),
        ("<j\u{f6}rg@example.org>", false),
        ("<a@b\u{fc}cher.example>", false),
        ("<a@[192.0.2.1]>", true),
    ] {
        assert_eq!(
            ReversePath::parse(input).unwrap().is_ascii(),
            ascii,
            "{input}"
        );
    }
}

#[test]
fn mailbox_helpers() {
    let m = mailbox("Joe@Example.ORG");
    assert_eq!(m.domain_lowercase(), "example.org");
    assert_eq!(m.local.as_str(), "Joe");
    assert!(!m.is_postmaster());
    assert!(mailbox("POSTMASTER@x.example").is_postmaster());
    let literal = mailbox("a@[IPv6:2001:DB8::1]");
    assert_eq!(
        literal.domain,
        Domain::Literal("2001:db8::1".parse::<IpAddr>().unwrap())
    );
    assert_eq!(literal.domain_lowercase(), "[ipv6:2001:db8::1]");
    let name = DomainName::parse("Example.ORG").unwrap();
    assert!(name.eq_ignore_case("example.org"));
    assert!(!name.eq_ignore_case("example.net"));
    let utf8 = DomainName::parse("B\u{dc}CHER.example").unwrap();
    assert!(utf8.eq_ignore_case("b\u{fc}cher.EXAMPLE"));
    assert_eq!(Mailbox::parse("a@b>"), Err(AddressError::TrailingText));
    assert_eq!(LocalPart::parse("\"x y\"").unwrap().as_str(), "x y");
    assert!(LocalPart::parse("\"x y\"").unwrap().needs_quotes());
    assert_eq!(LocalPart::parse("a b"), Err(AddressError::TrailingText));
}

#[test]
fn canonical_form_round_trips() {
    for input in [
        "a@example.org",
        "\"a b\"@example.org",
        "\"a\\\"b\"@example.org",
        "\"\"@example.org",
        "\".a\"@example.org",
        "u@[192.0.2.1]",
    ] {
        let parsed = mailbox(input);
        assert_eq!(parsed.to_string(), input, "display of {input}");
        assert_eq!(mailbox(&parsed.to_string()), parsed, "reparse of {input}");
    }
}

#[test]
fn domain_parse() {
    assert_eq!(
        Domain::parse("[192.0.2.1]"),
        Ok(Domain::Literal("192.0.2.1".parse().unwrap()))
    );
    assert!(matches!(Domain::parse("example.org"), Ok(Domain::Name(_))));
    assert_eq!(
        Domain::parse("[192.0.2.1"),
        Err(AddressError::InvalidAddressLiteral)
    );
    assert_eq!(Domain::parse(""), Err(AddressError::InvalidDomain));
}

proptest! {
    #[test]
    fn never_panics(text in "\\PC{0,80}") {
        let _ = ReversePath::parse(&text);
        let _ = ForwardPath::parse(&text);
        let _ = Mailbox::parse(&text);
        let _ = Domain::parse(&text);
    }

    #[test]
    fn never_panics_bracketed(text in "<[ -~\u{80}-\u{10ffff}]{0,80}>?") {
        let _ = ReversePath::parse(&text);
    }

    #[test]
    fn display_reparses(local in "[a-z0-9 .\"\\\\!#]{0,20}", domain in "[a-z]{1,10}(\\.[a-z]{1,10}){0,3}") {
        // Any value that parsed as a quoted string displays as something that parses
        // back to the same mailbox.
        let quoted: String = local.chars().flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            _ => vec![c],
        }).collect();
        if let Ok(parsed) = Mailbox::parse(&format!("\"{quoted}\"@{domain}")) {
            prop_assert_eq!(Mailbox::parse(&parsed.to_string()), Ok(parsed));
        }
    }
}
