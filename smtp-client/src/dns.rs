//! From a next hop to the addresses to try, in order (RFC 5321 section 5.1).
//!
//! MX hosts by preference, equal preferences in random order; no MX record means
//! the domain's own addresses (the implicit MX); a null MX (RFC 7505) or a domain
//! that does not exist fails for good; a timeout or SERVFAIL is temporary.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ProtocolConfig, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};

use crate::nexthop::NextHop;

/// Which of a host's addresses come first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preference {
    /// Random order.
    Any,
    /// IPv4 first.
    Ipv4,
    /// IPv6 first.
    Ipv6,
}

impl Preference {
    /// Parses `smtp_address_preference`.
    ///
    /// # Errors
    /// Anything but `any`, `ipv4`, `ipv6`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "any" => Ok(Preference::Any),
            "ipv4" => Ok(Preference::Ipv4),
            "ipv6" => Ok(Preference::Ipv6),
            other => anyhow::bail!("smtp_address_preference: {other:?} is not any, ipv4 or ipv6"),
        }
    }
}

/// One address to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The MX (or relay) host name, or the address as text for a literal.
    pub name: String,
    /// Where to connect.
    pub addr: SocketAddr,
}

impl Target {
    /// Postfix's `relay=` form: `mx.example.org[192.0.2.1]:25`.
    pub fn relay(&self) -> String {
        format!("{}:{}", self.host(), self.addr.port())
    }

    /// The host as Postfix names it in reply texts: `mx.example.org[192.0.2.1]`.
    pub fn host(&self) -> String {
        format!("{}[{}]", self.name, self.addr.ip())
    }
}

/// Why no address could be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// True when retrying cannot help (the sender gets a bounce).
    pub permanent: bool,
    /// The enhanced status code.
    pub status: &'static str,
    /// What happened, for the log and the bounce.
    pub text: String,
}

/// The outbound resolver.
pub struct Dns {
    resolver: TokioResolver,
    ipv4: bool,
    ipv6: bool,
    preference: Preference,
}

/// How a single lookup went.
enum Answer<T> {
    Found(Vec<T>),
    /// The name exists without records of the type (NOERROR, no answer).
    NoData,
    /// The name does not exist.
    NxDomain,
    /// A timeout, SERVFAIL, a network error.
    Temporary(String),
}

impl Dns {
    /// A resolver with `servers` (`ip` or `ip:port`), or the system's
    /// (/etc/resolv.conf) when empty; `protocols` are `inet_protocols`.
    ///
    /// # Errors
    /// A bad server address, or an unreadable system configuration.
    pub fn new(
        servers: &[String],
        protocols: &[String],
        preference: Preference,
    ) -> anyhow::Result<Self> {
        let mut builder = if servers.is_empty() {
            match TokioResolver::builder_tokio() {
                Ok(builder) => builder,
                Err(e) => {
                    // As the C library does without /etc/resolv.conf: ask a
                    // server on this host.
                    tracing::warn!(
                        "cannot read the system's DNS configuration ({e}); using 127.0.0.1"
                    );
                    let mut config = ResolverConfig::from_parts(None, Vec::new(), Vec::new());
                    config.add_name_server(NameServerConfig::udp_and_tcp(IpAddr::from([
                        127, 0, 0, 1,
                    ])));
                    TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
                }
            }
        } else {
            let mut config = ResolverConfig::from_parts(None, Vec::new(), Vec::new());
            for server in servers {
                let (ip, port) = parse_server(server)?;
                let mut udp = ConnectionConfig::new(ProtocolConfig::Udp);
                udp.port = port;
                let mut tcp = ConnectionConfig::new(ProtocolConfig::Tcp);
                tcp.port = port;
                config.add_name_server(NameServerConfig::new(ip, true, vec![udp, tcp]));
            }
            let mut builder =
                TokioResolver::builder_with_config(config, TokioRuntimeProvider::default());
            // Our own servers (tests): every answer fresh.
            builder.options_mut().cache_size = 0;
            builder
        };
        let options: &mut ResolverOpts = builder.options_mut();
        options.timeout = Duration::from_secs(5);
        options.attempts = 2;
        let all = protocols.iter().any(|p| p == "all");
        Ok(Dns {
            resolver: builder.build()?,
            ipv4: all || protocols.iter().any(|p| p == "ipv4"),
            ipv6: all || protocols.iter().any(|p| p == "ipv6"),
            preference,
        })
    }

    /// The addresses to try for `hop`, at most `limit`, connecting to `port`
    /// unless the next hop names one.
    ///
    /// # Errors
    /// [`Failure`] when there is nothing to try.
    pub async fn targets(
        &self,
        hop: &NextHop,
        port: u16,
        limit: usize,
    ) -> Result<Vec<Target>, Failure> {
        let port = hop.port.unwrap_or(port);
        if let Some(ip) = hop.literal {
            return Ok(vec![Target {
                name: ip.to_string(),
                addr: SocketAddr::new(ip, port),
            }]);
        }
        let hosts = if hop.mx {
            self.mx_hosts(&hop.host).await?
        } else {
            vec![hop.host.clone()]
        };
        let mut targets = Vec::new();
        let mut temporary = None;
        let mut missing = Vec::new();
        for host in hosts {
            if targets.len() >= limit {
                break;
            }
            match self.addresses(&host).await {
                Ok(addrs) => targets.extend(addrs.into_iter().map(|ip| Target {
                    name: host.clone(),
                    addr: SocketAddr::new(ip, port),
                })),
                Err(Some(why)) => temporary = Some(why),
                Err(None) => missing.push(host),
            }
        }
        targets.truncate(limit);
        if !targets.is_empty() {
            return Ok(targets);
        }
        if let Some(text) = temporary {
            return Err(Failure {
                permanent: false,
                status: "4.4.3",
                text,
            });
        }
        let text = match missing.as_slice() {
            [one] if *one == hop.host => {
                format!(
                    "Host or domain name not found. Name service error for name={one} type=A: Host not found"
                )
            }
            _ => format!(
                "No usable address for the mail exchangers of {} ({})",
                hop.host,
                missing.join(", ")
            ),
        };
        Err(Failure {
            permanent: true,
            status: "5.4.4",
            text,
        })
    }

    /// The MX hosts of `domain` in the order to try them.
    async fn mx_hosts(&self, domain: &str) -> Result<Vec<String>, Failure> {
        let answer = match self.resolver.mx_lookup(fqdn(domain)).await {
            Ok(lookup) => Answer::Found(
                lookup
                    .answers()
                    .iter()
                    .filter_map(|record| match &record.data {
                        RData::MX(mx) => Some((mx.preference, mx.exchange.to_ascii())),
                        _ => None,
                    })
                    .collect(),
            ),
            Err(e) => classify(&e),
        };
        let mut records = match answer {
            Answer::Found(records) if !records.is_empty() => records,
            // No MX: the domain itself is the mail exchanger (RFC 5321 5.1).
            Answer::Found(_) | Answer::NoData => return Ok(vec![domain.to_owned()]),
            Answer::NxDomain => {
                return Err(Failure {
                    permanent: true,
                    status: "5.1.2",
                    text: format!(
                        "Host or domain name not found. Name service error for name={domain} type=MX: Host not found"
                    ),
                });
            }
            Answer::Temporary(why) => {
                return Err(Failure {
                    permanent: false,
                    status: "4.4.3",
                    text: format!(
                        "Host or domain name not found. Name service error for name={domain} type=MX: {why}"
                    ),
                });
            }
        };
        for record in &mut records {
            record.1 = record.1.trim_end_matches('.').to_ascii_lowercase();
        }
        // RFC 7505: a single "MX 0 ." says the domain takes no mail.
        if records.iter().any(|(_, host)| host.is_empty()) {
            return Err(Failure {
                permanent: true,
                status: "5.1.10",
                text: format!("Domain {domain} does not accept mail (nullMX)"),
            });
        }
        shuffle(&mut records);
        records.sort_by_key(|(preference, _)| *preference);
        let mut hosts: Vec<String> = Vec::new();
        for (_, host) in records {
            if !hosts.contains(&host) {
                hosts.push(host);
            }
        }
        Ok(hosts)
    }

    /// The addresses of `host`: `Err(Some(why))` on a temporary failure,
    /// `Err(None)` when it has none.
    async fn addresses(&self, host: &str) -> Result<Vec<IpAddr>, Option<String>> {
        let name = fqdn(host);
        let (v4, v6) = tokio::join!(
            self.family(self.ipv4, &name, RecordType::A),
            self.family(self.ipv6, &name, RecordType::AAAA)
        );
        let mut temporary = None;
        let mut take = |answer: Answer<IpAddr>| match answer {
            Answer::Found(found) => found,
            Answer::Temporary(why) => {
                temporary = Some(format!(
                    "Host or domain name not found. Name service error for name={host}: {why}"
                ));
                Vec::new()
            }
            Answer::NoData | Answer::NxDomain => Vec::new(),
        };
        let (mut v4, mut v6) = (take(v4), take(v6));
        let addrs = match self.preference {
            Preference::Ipv4 => {
                v4.append(&mut v6);
                v4
            }
            Preference::Ipv6 => {
                v6.append(&mut v4);
                v6
            }
            Preference::Any => {
                v4.append(&mut v6);
                shuffle(&mut v4);
                v4
            }
        };
        if addrs.is_empty() {
            return Err(temporary);
        }
        Ok(addrs)
    }
}

impl Dns {
    /// The addresses of one family (`A` or `AAAA`), when it is enabled.
    async fn family(&self, enabled: bool, name: &str, record: RecordType) -> Answer<IpAddr> {
        if !enabled {
            return Answer::NoData;
        }
        match self.resolver.lookup(name, record).await {
            Ok(lookup) => Answer::Found(
                lookup
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        RData::A(a) => Some(IpAddr::V4(a.0)),
                        RData::AAAA(a) => Some(IpAddr::V6(a.0)),
                        _ => None,
                    })
                    .collect(),
            ),
            Err(e) => classify(&e),
        }
    }
}

/// The name with a final dot, so no search domain is appended.
fn fqdn(name: &str) -> String {
    format!("{}.", name.trim_end_matches('.'))
}

fn classify<T>(error: &NetError) -> Answer<T> {
    if error.is_nx_domain() {
        Answer::NxDomain
    } else if error.is_no_records_found() {
        Answer::NoData
    } else {
        Answer::Temporary(error.to_string())
    }
}

/// `ip` or `ip:port` (`[v6]:port` for IPv6 with a port).
fn parse_server(text: &str) -> anyhow::Result<(IpAddr, u16)> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok((ip, 53));
    }
    let addr: SocketAddr = text
        .parse()
        .map_err(|_| anyhow::anyhow!("smtp_dns_servers: {text:?} is not ip or ip:port"))?;
    Ok((addr.ip(), addr.port()))
}

/// A random order (not for cryptography: spreading load over equal MX hosts).
fn shuffle<T>(items: &mut [T]) {
    let state = RandomState::new();
    for i in (1..items.len()).rev() {
        let mut hasher = state.build_hasher();
        hasher.write_usize(i);
        let j = usize::try_from(hasher.finish() % u64::try_from(i).unwrap_or(0).saturating_add(1))
            .unwrap_or(0);
        items.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_parse() {
        assert_eq!(
            parse_server("127.0.0.1").unwrap(),
            ("127.0.0.1".parse().unwrap(), 53)
        );
        assert_eq!(
            parse_server("127.0.0.1:5353").unwrap(),
            ("127.0.0.1".parse().unwrap(), 5353)
        );
        assert_eq!(
            parse_server("[::1]:5353").unwrap(),
            ("::1".parse().unwrap(), 5353)
        );
        assert!(parse_server("localhost").is_err());
    }

    fn resolve(server: &testkit::DnsServer, hop: &str) -> Result<Vec<Target>, Failure> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let dns = Dns::new(
                &[server.addr().to_string()],
                &["all".to_owned()],
                Preference::Ipv6,
            )
            .unwrap();
            dns.targets(&NextHop::parse(hop).unwrap(), 25, 10).await
        })
    }

    #[test]
    fn mx_hosts_in_preference_order_with_both_families() {
        let server = testkit::DnsServer::start().unwrap();
        server.mx("example.test", 20, "mx2.example.test");
        server.mx("example.test", 10, "mx1.example.test");
        server.a("mx1.example.test", "192.0.2.1".parse().unwrap());
        server.aaaa("mx1.example.test", "::1".parse().unwrap());
        server.a("mx2.example.test", "192.0.2.2".parse().unwrap());
        let targets = resolve(&server, "example.test").unwrap();
        let relays: Vec<String> = targets.iter().map(Target::relay).collect();
        assert_eq!(
            relays,
            [
                "mx1.example.test[::1]:25",
                "mx1.example.test[192.0.2.1]:25",
                "mx2.example.test[192.0.2.2]:25"
            ]
        );
    }

    #[test]
    fn failures_say_whether_to_retry() {
        let server = testkit::DnsServer::start().unwrap();
        server.null_mx("null.test");
        server.servfail("broken.test");
        server.mx("nohost.test", 10, "gone.nohost.test");
        let null = resolve(&server, "null.test").unwrap_err();
        assert!(null.permanent && null.status == "5.1.10", "{null:?}");
        let nx = resolve(&server, "nx.test").unwrap_err();
        assert!(nx.permanent && nx.status == "5.1.2", "{nx:?}");
        let broken = resolve(&server, "broken.test").unwrap_err();
        assert!(!broken.permanent && broken.status == "4.4.3", "{broken:?}");
        let nohost = resolve(&server, "nohost.test").unwrap_err();
        assert!(nohost.permanent && nohost.status == "5.4.4", "{nohost:?}");
        // A literal needs no lookup.
        let literal = resolve(&server, "[192.0.2.9]:2525").unwrap();
        assert_eq!(literal[0].relay(), "192.0.2.9[192.0.2.9]:2525");
    }

    #[test]
    fn shuffle_keeps_every_item() {
        let mut items: Vec<u32> = (0..50).collect();
        shuffle(&mut items);
        items.sort_unstable();
        assert_eq!(items, (0..50).collect::<Vec<_>>());
    }
}
