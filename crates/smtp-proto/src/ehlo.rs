//! ehlo - EHLO capabilities: rendered by the server, parsed by the client.
//!
//! The server builds its EHLO reply with [`Reply::ehlo`](crate::Reply::ehlo) from a
//! list of [`Capability`] values; each renders as one line (`SIZE 10240000`,
//! `AUTH PLAIN LOGIN`). The client turns a server's EHLO reply into an [`EhloReply`].
//! Parsing is lenient (any case, the old `AUTH=` form, unknown keywords kept as
//! [`Capability::Other`]) because it reads what other servers send.

use std::fmt;
use std::mem::discriminant;

use crate::reply::{Reply, ReplyCode};
use crate::sasl::Mechanism;

/// One SMTP service extension, as advertised in an EHLO reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Capability {
    /// `PIPELINING` (RFC 2920).
    Pipelining,
    /// `SIZE n` (RFC 1870): the largest message accepted; 0 means no fixed limit.
    Size(u64),
    /// `8BITMIME` (RFC 6152).
    EightBitMime,
    /// `SMTPUTF8` (RFC 6531).
    SmtpUtf8,
    /// `ENHANCEDSTATUSCODES` (RFC 2034).
    EnhancedStatusCodes,
    /// `CHUNKING`: BDAT (RFC 3030).
    Chunking,
    /// `BINARYMIME` (RFC 3030).
    BinaryMime,
    /// `DSN` (RFC 3461).
    Dsn,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `AUTH mech...` (RFC 4954).
    Auth(Vec<Mechanism>),
    /// Anything else, the whole line as received (`ETRN`, `VRFY`, `XCLIENT ...`).
    Other(String),
}

impl Capability {
    /// Parses one line of an EHLO reply (after the code); never fails.
    #[must_use]
    pub fn parse(line: &str) -> Self {
        let mut words = line.split_ascii_whitespace();
        let keyword = words.next().unwrap_or_default().to_ascii_uppercase();
        match keyword.as_str() {
            "PIPELINING" => Self::Pipelining,
            "8BITMIME" => Self::EightBitMime,
            "SMTPUTF8" => Self::SmtpUtf8,
            "ENHANCEDSTATUSCODES" => Self::EnhancedStatusCodes,
            "CHUNKING" => Self::Chunking,
            "BINARYMIME" => Self::BinaryMime,
            "DSN" => Self::Dsn,
            "STARTTLS" => Self::StartTls,
            "SIZE" => match words.next() {
                None => Self::Size(0),
                Some(number) if number.bytes().all(|b| b.is_ascii_digit()) => number
                    .parse()
                    .map_or_else(|_| Self::Other(line.trim().to_owned()), Self::Size),
                Some(_) => Self::Other(line.trim().to_owned()),
            },
            "AUTH" => Self::Auth(words.filter_map(Mechanism::parse).collect()),
            _ => match keyword.strip_prefix("AUTH=") {
                // The pre-standard form some servers still send next to the real one.
                Some(first) => Self::Auth(
                    std::iter::once(first)
                        .chain(words)
                        .filter_map(Mechanism::parse)
                        .collect(),
                ),
                None => Self::Other(line.trim().to_owned()),
            },
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pipelining => f.write_str("PIPELINING"),
            Self::Size(0) => f.write_str("SIZE"),
            Self::Size(limit) => write!(f, "SIZE {limit}"),
            Self::EightBitMime => f.write_str("8BITMIME"),
            Self::SmtpUtf8 => f.write_str("SMTPUTF8"),
            Self::EnhancedStatusCodes => f.write_str("ENHANCEDSTATUSCODES"),
            Self::Chunking => f.write_str("CHUNKING"),
            Self::BinaryMime => f.write_str("BINARYMIME"),
            Self::Dsn => f.write_str("DSN"),
            Self::StartTls => f.write_str("STARTTLS"),
            Self::Auth(mechanisms) => {
                f.write_str("AUTH")?;
                for mechanism in mechanisms {
                    write!(f, " {mechanism}")?;
                }
                Ok(())
            }
            Self::Other(line) => f.write_str(line),
        }
    }
}

/// A server's answer to EHLO, as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EhloReply {
    /// The first word of the first line: the name the server gives itself.
    pub host: String,
    /// One entry per following line.
    pub capabilities: Vec<Capability>,
}

impl EhloReply {
    /// Reads a 250 reply to EHLO; `None` for any other code (the client then tries
    /// HELO or gives up).
    #[must_use]
    pub fn from_reply(reply: &Reply) -> Option<Self> {
        if reply.code != ReplyCode::OK {
            return None;
        }
        let host = reply
            .text
            .split_ascii_whitespace()
            .next()
            .unwrap_or_default();
        Some(Self {
            host: host.to_owned(),
            capabilities: reply
                .more
                .iter()
                .map(|line| Capability::parse(line))
                .collect(),
        })
    }

    /// Whether the server offers `wanted`, comparing the kind only (for
    /// [`Capability::Other`], the whole line, ignoring case).
    #[must_use]
    pub fn has(&self, wanted: &Capability) -> bool {
        self.capabilities
            .iter()
            .any(|offered| match (offered, wanted) {
                (Capability::Other(a), Capability::Other(b)) => a.eq_ignore_ascii_case(b),
                _ => discriminant(offered) == discriminant(wanted),
            })
    }

    /// The SIZE limit, if the server declared one (0 means none).
    #[must_use]
    pub fn size_limit(&self) -> Option<u64> {
        self.capabilities.iter().find_map(|c| match c {
            Capability::Size(limit) => Some(*limit),
            _ => None,
        })
    }

    /// The AUTH mechanisms offered, from every AUTH line.
    #[must_use]
    pub fn auth_mechanisms(&self) -> Vec<Mechanism> {
        let mut all: Vec<Mechanism> = Vec::new();
        for capability in &self.capabilities {
            if let Capability::Auth(mechanisms) = capability {
                for mechanism in mechanisms {
                    if !all.contains(mechanism) {
                        all.push(mechanism.clone());
                    }
                }
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::ReplyParser;

    #[test]
    fn render() {
        for (capability, line) in [
            (Capability::Pipelining, "PIPELINING"),
            (Capability::Size(10_240_000), "SIZE 10240000"),
            (Capability::Size(0), "SIZE"),
            (Capability::EightBitMime, "8BITMIME"),
            (Capability::SmtpUtf8, "SMTPUTF8"),
            (Capability::EnhancedStatusCodes, "ENHANCEDSTATUSCODES"),
            (Capability::Chunking, "CHUNKING"),
            (Capability::BinaryMime, "BINARYMIME"),
            (Capability::Dsn, "DSN"),
            (Capability::StartTls, "STARTTLS"),
            (
                Capability::Auth(vec![Mechanism::Plain, Mechanism::Login]),
                "AUTH PLAIN LOGIN",
            ),
            (Capability::Other("ETRN".into()), "ETRN"),
        ] {
            assert_eq!(capability.to_string(), line);
            assert_eq!(Capability::parse(line), capability, "parse back {line}");
        }
    }

    #[test]
    fn parse_lenient() {
        for (name, line, want) in [
            ("lower case", "pipelining", Capability::Pipelining),
            ("size lower", "size 1000", Capability::Size(1000)),
            (
                "size garbage",
                "SIZE lots",
                Capability::Other("SIZE lots".into()),
            ),
            ("size sign", "SIZE +5", Capability::Other("SIZE +5".into())),
            (
                "size overflow",
                "SIZE 99999999999999999999999",
                Capability::Other("SIZE 99999999999999999999999".into()),
            ),
            (
                "old auth form",
                "AUTH=PLAIN LOGIN",
                Capability::Auth(vec![Mechanism::Plain, Mechanism::Login]),
            ),
            (
                "unknown mechanism kept",
                "AUTH CRAM-MD5 XOAUTH2",
                Capability::Auth(vec![
                    Mechanism::Other("CRAM-MD5".into()),
                    Mechanism::Other("XOAUTH2".into()),
                ]),
            ),
            ("empty", "", Capability::Other(String::new())),
        ] {
            assert_eq!(Capability::parse(line), want, "{name}");
        }
    }

    #[test]
    fn server_reply_round_trip() {
        let capabilities = vec![
            Capability::Pipelining,
            Capability::Size(1000),
            Capability::StartTls,
            Capability::Auth(vec![Mechanism::Plain, Mechanism::Login]),
            Capability::Other("X-CUSTOM foo".into()),
        ];
        let rendered = Reply::ehlo("mx.example.org", &capabilities).render();
        let mut parser = ReplyParser::new();
        let reply = parser.parse(rendered.as_bytes()).unwrap().output.unwrap();
        let ehlo = EhloReply::from_reply(&reply).unwrap();
        assert_eq!(ehlo.host, "mx.example.org");
        assert_eq!(ehlo.capabilities, capabilities);
        assert!(ehlo.has(&Capability::StartTls));
        assert!(ehlo.has(&Capability::Size(0)));
        assert!(!ehlo.has(&Capability::Chunking));
        assert!(ehlo.has(&Capability::Other("x-custom FOO".into())));
        assert_eq!(ehlo.size_limit(), Some(1000));
        assert_eq!(
            ehlo.auth_mechanisms(),
            vec![Mechanism::Plain, Mechanism::Login]
        );
    }

    #[test]
    fn refused_ehlo() {
        let reply = Reply::unknown_command();
        assert_eq!(EhloReply::from_reply(&reply), None);
    }
}
