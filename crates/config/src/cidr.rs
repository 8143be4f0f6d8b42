//! Networks in CIDR notation, as `mynetworks` lists them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 or IPv6 network: an address and a prefix length.
///
/// Text forms (Postfix's): `127.0.0.0/8`, `192.0.2.1` (a host, `/32`),
/// `[::1]/128`, `[2001:db8::]/32`, and IPv6 without brackets (`::1/128`).
/// An address with bits set beyond the prefix is an error, as in Postfix,
/// because it usually means a typo. Displayed in Postfix form, IPv6 in
/// brackets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The network address (host bits zero when parsed).
    pub addr: IpAddr,
    /// The prefix length: at most 32 for IPv4, 128 for IPv6.
    pub prefix: u8,
}

/// Why a network could not be parsed; the text names the input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseCidrError(String);

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX
        .checked_shl(32u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX
        .checked_shl(128u32.saturating_sub(u32::from(prefix)))
        .unwrap_or(0)
}

impl Cidr {
    /// The network address: `addr` with the host bits cleared.
    pub fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask_v4(self.prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask_v6(self.prefix))),
        }
    }

    /// Whether `ip` is inside this network.
    ///
    /// An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, how a dual-stack
    /// socket reports an IPv4 client) matches IPv4 networks, and an IPv4
    /// address matches an IPv6 network that contains its mapped form.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let v4 = |net: Ipv4Addr, a: Ipv4Addr| {
            let mask = mask_v4(self.prefix);
            u32::from(net) & mask == u32::from(a) & mask
        };
        let v6 = |net: Ipv6Addr, a: Ipv6Addr| {
            let mask = mask_v6(self.prefix);
            u128::from(net) & mask == u128::from(a) & mask
        };
        match (self.addr, *ip) {
            (IpAddr::V4(net), IpAddr::V4(a)) => v4(net, a),
            (IpAddr::V4(net), IpAddr::V6(a)) => a.to_ipv4_mapped().is_some_and(|a| v4(net, a)),
            (IpAddr::V6(net), IpAddr::V6(a)) => v6(net, a),
            (IpAddr::V6(net), IpAddr::V4(a)) => v6(net, a.to_ipv6_mapped()),
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}/{}", self.prefix),
            IpAddr::V6(a) => write!(f, "[{a}]/{}", self.prefix),
        }
    }
}

impl FromStr for Cidr {
    type Err = ParseCidrError;

    fn from_str(text: &str) -> Result<Cidr, ParseCidrError> {
        let fail = |why: &str| ParseCidrError(format!("invalid network {text:?}: {why}"));
        let (addr_text, prefix_text) = match text.rsplit_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr_text = match addr_text.strip_prefix('[') {
            Some(inner) => inner
                .strip_suffix(']')
                .ok_or_else(|| fail("missing \"]\""))?,
            None => addr_text,
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| fail("not an IPv4 or IPv6 address"))?;
        let max: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(fail("invalid prefix length"));
                }
                p.parse::<u32>()
                    .ok()
                    .and_then(|n| u8::try_from(n).ok())
                    .filter(|&n| n <= max)
                    .ok_or_else(|| fail(&format!("prefix length is longer than {max}")))?
            }
        };
        let cidr = Cidr { addr, prefix };
        let network = cidr.network();
        if network != addr {
            let suggestion = Cidr {
                addr: network,
                prefix,
            };
            return Err(fail(&format!(
                "non-null host address bits; did you mean {suggestion}?"
            )));
        }
        Ok(cidr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn parse_good() {
        let cases: &[(&str, &str, &str, u8)] = &[
            ("v4_net", "127.0.0.0/8", "127.0.0.0", 8),
            ("v4_host", "192.0.2.1", "192.0.2.1", 32),
            ("v4_prefix_32", "192.0.2.1/32", "192.0.2.1", 32),
            ("v4_prefix_0", "0.0.0.0/0", "0.0.0.0", 0),
            ("v4_in_brackets", "[192.0.2.0]/24", "192.0.2.0", 24),
            ("v6_bracketed", "[::1]/128", "::1", 128),
            ("v6_bracketed_net", "[2001:db8::]/32", "2001:db8::", 32),
            ("v6_bracketed_host", "[::1]", "::1", 128),
            ("v6_bare", "::1/128", "::1", 128),
            ("v6_bare_host", "2001:db8::5", "2001:db8::5", 128),
            ("v6_prefix_0", "[::]/0", "::", 0),
        ];
        for (name, input, addr, prefix) in cases {
            let c: Cidr = input.parse().unwrap_or_else(|e| panic!("case {name}: {e}"));
            assert_eq!(c.addr, ip(addr), "case {name}");
            assert_eq!(c.prefix, *prefix, "case {name}");
        }
    }

    #[test]
    fn parse_bad() {
        let cases: &[(&str, &str)] = &[
            ("v4_prefix_33", "192.0.2.0/33"),
            ("v6_prefix_129", "[::]/129"),
            ("prefix_u8_overflow", "10.0.0.0/256"),
            ("prefix_huge", "10.0.0.0/99999999999"),
            ("v4_host_bits", "192.0.2.1/24"),
            ("v6_host_bits", "[2001:db8::1]/32"),
            ("empty_prefix", "10.0.0.0/"),
            ("signed_prefix", "10.0.0.0/+8"),
            ("not_an_address", "example.com"),
            ("unclosed_bracket", "[::1/128"),
            ("zone_id", "fe80::1%eth0"),
            ("table", "hash:/etc/postern/network_table"),
            ("empty", ""),
        ];
        for (name, input) in cases {
            assert!(input.parse::<Cidr>().is_err(), "case {name}");
        }
        assert_eq!(
            "192.0.2.1/24".parse::<Cidr>().unwrap_err().to_string(),
            "invalid network \"192.0.2.1/24\": non-null host address bits; did you mean 192.0.2.0/24?"
        );
        assert_eq!(
            "192.0.2.0/33".parse::<Cidr>().unwrap_err().to_string(),
            "invalid network \"192.0.2.0/33\": prefix length is longer than 32"
        );
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "127.0.0.0/8",
            "192.0.2.1/32",
            "[::1]/128",
            "[2001:db8::]/32",
        ] {
            let c: Cidr = text.parse().unwrap();
            assert_eq!(c.to_string(), text);
            assert_eq!(c.to_string().parse::<Cidr>().unwrap(), c);
        }
        assert_eq!("::1".parse::<Cidr>().unwrap().to_string(), "[::1]/128");
    }

    #[test]
    fn contains() {
        let cases: &[(&str, &str, &str, bool)] = &[
            ("v4_inside", "127.0.0.0/8", "127.1.2.3", true),
            ("v4_outside", "127.0.0.0/8", "128.0.0.1", false),
            ("v4_host_exact", "192.0.2.1", "192.0.2.1", true),
            ("v4_host_neighbour", "192.0.2.1", "192.0.2.2", false),
            ("v4_all", "0.0.0.0/0", "203.0.113.9", true),
            ("v4_net_last", "192.0.2.0/24", "192.0.2.255", true),
            ("v4_net_next", "192.0.2.0/24", "192.0.3.0", false),
            ("v6_inside", "[2001:db8::]/32", "2001:db8:1::5", true),
            ("v6_outside", "[2001:db8::]/32", "2001:db9::1", false),
            ("v6_loopback", "[::1]/128", "::1", true),
            ("v6_net_does_not_match_v4", "[::1]/128", "127.0.0.1", false),
            (
                "mapped_client_v4_net",
                "127.0.0.0/8",
                "::ffff:127.0.0.1",
                true,
            ),
            (
                "mapped_client_outside",
                "127.0.0.0/8",
                "::ffff:10.0.0.1",
                false,
            ),
            ("v6_client_v4_net", "127.0.0.0/8", "::1", false),
            (
                "v4_client_mapped_net",
                "[::ffff:10.0.0.0]/104",
                "10.1.2.3",
                true,
            ),
            ("v6_all_contains_v4", "[::]/0", "10.1.2.3", true),
        ];
        for (name, net, addr, want) in cases {
            let c: Cidr = net.parse().unwrap();
            assert_eq!(c.contains(&ip(addr)), *want, "case {name}");
        }
    }

    #[test]
    fn contains_ignores_host_bits_of_a_hand_built_value() {
        let c = Cidr {
            addr: ip("192.0.2.77"),
            prefix: 24,
        };
        assert!(c.contains(&ip("192.0.2.1")));
        assert_eq!(c.network(), ip("192.0.2.0"));
        let silly = Cidr {
            addr: ip("192.0.2.77"),
            prefix: 200,
        };
        assert!(silly.contains(&ip("192.0.2.77")));
    }
}
