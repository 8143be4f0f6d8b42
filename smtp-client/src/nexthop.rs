//! Where a group of recipients goes: a domain whose MX records are looked up, or a
//! host connected to directly.
//!
//! The syntax is Postfix's `relayhost`: `example.org` (MX lookup),
//! `example.org:587` (MX lookup, that port), `[smtp.example.org]` and
//! `[smtp.example.org]:587` (no MX lookup: the host's own addresses), and
//! `[192.0.2.1]` or `[IPv6:2001:db8::1]` (that address).

use std::fmt;
use std::net::IpAddr;

/// A next hop.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NextHop {
    /// The domain or host name (lower case, no trailing dot), or an address.
    pub host: String,
    /// The port, when one was given (else `smtp_tcp_port`).
    pub port: Option<u16>,
    /// Look up MX records for `host` (false for `[host]`).
    pub mx: bool,
    /// The address when `host` is an address literal.
    pub literal: Option<IpAddr>,
}

/// Why a next hop does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad next hop {text:?}: {why}")]
pub struct NextHopError {
    text: String,
    why: &'static str,
}

impl NextHop {
    /// Parses relayhost syntax.
    ///
    /// # Errors
    /// Empty text, an unclosed `[`, a bad port or a bad address literal.
    pub fn parse(text: &str) -> Result<Self, NextHopError> {
        let fail = |why| NextHopError {
            text: text.to_owned(),
            why,
        };
        let text = text.trim();
        let (host, port, mx) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']').ok_or_else(|| fail("missing ']'"))?;
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| fail("junk after ']'"))?,
                ),
            };
            (host, port, false)
        } else {
            match text.rsplit_once(':') {
                Some((host, port)) => (host, Some(port), true),
                None => (text, None, true),
            }
        };
        let port = match port {
            None => None,
            Some(port) => Some(
                port.parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| fail("bad port"))?,
            ),
        };
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() {
            return Err(fail("no host"));
        }
        let literal = if mx {
            None
        } else {
            let bare = host.strip_prefix("ipv6:").unwrap_or(&host);
            match bare.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) if host.starts_with("ipv6:") => return Err(fail("bad IPv6 address")),
                Err(_) => None,
            }
        };
        if literal.is_none() && !is_host_name(&host) {
            return Err(fail("not a host name"));
        }
        Ok(NextHop {
            host,
            port,
            mx,
            literal,
        })
    }

    /// The next hop of a recipient domain: the domain by MX, or the address of a
    /// domain literal (`user@[192.0.2.1]`).
    ///
    /// # Errors
    /// A domain that is not a host name or address literal.
    pub fn for_domain(domain: &str) -> Result<Self, NextHopError> {
        if domain.starts_with('[') {
            let hop = Self::parse(domain)?;
            if hop.literal.is_none() || hop.port.is_some() {
                return Err(NextHopError {
                    text: domain.to_owned(),
                    why: "not an address literal",
                });
            }
            return Ok(hop);
        }
        if domain.contains(':') {
            return Err(NextHopError {
                text: domain.to_owned(),
                why: "not a domain",
            });
        }
        Self::parse(domain)
    }
}

impl fmt::Display for NextHop {
    /// The canonical form, used as the key of the connection cache and the
    /// password map: `example.org`, `[smtp.example.org]:587`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.mx {
            f.write_str(&self.host)?;
        } else {
            write!(f, "[{}]", self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// Letters, digits, hyphens and dots, no empty label.
fn is_host_name(host: &str) -> bool {
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayhost_forms() {
        let hop = NextHop::parse("Example.ORG.").unwrap();
        assert_eq!(
            (hop.host.as_str(), hop.port, hop.mx),
            ("example.org", None, true)
        );
        assert_eq!(hop.to_string(), "example.org");
        let hop = NextHop::parse("example.org:2525").unwrap();
        assert_eq!((hop.port, hop.mx), (Some(2525), true));
        let hop = NextHop::parse("[smtp.example.org]:587").unwrap();
        assert_eq!(
            (hop.host.as_str(), hop.port, hop.mx, hop.literal),
            ("smtp.example.org", Some(587), false, None)
        );
        assert_eq!(hop.to_string(), "[smtp.example.org]:587");
        let hop = NextHop::parse("[192.0.2.1]").unwrap();
        assert_eq!(hop.literal, Some("192.0.2.1".parse().unwrap()));
        let hop = NextHop::parse("[IPv6:2001:db8::1]:25").unwrap();
        assert_eq!(hop.literal, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(hop.port, Some(25));
    }

    #[test]
    fn bad_next_hops() {
        for text in [
            "",
            "[",
            "[host",
            "[host]x",
            "host:0",
            "host:99999",
            "host:x",
            "[IPv6:zz]",
            "a..b",
            "a b",
        ] {
            assert!(NextHop::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn recipient_domains() {
        assert!(NextHop::for_domain("example.org").unwrap().mx);
        let hop = NextHop::for_domain("[127.0.0.1]").unwrap();
        assert_eq!(hop.literal, Some("127.0.0.1".parse().unwrap()));
        assert!(NextHop::for_domain("[mx.example.org]").is_err());
        assert!(NextHop::for_domain("example.org:25").is_err());
        assert!(NextHop::for_domain("[127.0.0.1]:25").is_err());
    }
}
