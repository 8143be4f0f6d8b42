//! A small authoritative DNS server on loopback, for tests of outbound delivery.
//!
//! [`DnsServer::start`] binds UDP and TCP on the same port of 127.0.0.1 and answers from
//! records the test sets with [`DnsServer::mx`], [`DnsServer::a`] and the like. Those
//! can change while the server runs. A name can also be made to fail
//! ([`DnsServer::servfail`]) or to go unanswered ([`DnsServer::drop_queries`]).
//!
//! Every answer is authoritative and every record has TTL 0, so a resolver caches
//! nothing between test steps. A name without records of the asked type gets NODATA
//! (NOERROR, empty answer); a name without any records gets NXDOMAIN. Both carry a
//! made-up SOA (minimum 0) in the authority section.
//!
//! Names are compared without regard to case or a trailing dot. Non-ASCII names are
//! stored in their IDNA (`xn--`) form, which is what a resolver asks for.
//!
//! The server is synchronous: two std threads (UDP, TCP accept) plus one per TCP
//! connection. Dropping the [`DnsServer`] stops them all within about 100 ms.

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, anyhow};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, MX, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// How often the serving threads look at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// UDP payload we advertise in our OPT record (the 2020 DNS flag day value).
const EDNS_PAYLOAD: u16 = 1232;

/// UDP payload limit for a query without EDNS (RFC 1035).
const PLAIN_UDP_PAYLOAD: usize = 512;

/// A running DNS server. It serves until dropped.
pub struct DnsServer {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// Everything the server knows, shared by the test and the serving threads.
#[derive(Default)]
struct Zone {
    /// Keyed by [`key`]: lower case, no trailing dot, IDNA form.
    names: HashMap<String, Entry>,
    /// (name, type) of every well-formed query, in arrival order.
    queries: Vec<(String, String)>,
}

/// What one name has.
#[derive(Default)]
struct Entry {
    records: Vec<RData>,
    servfail: bool,
    dropped: bool,
}

impl Zone {
    fn entry(&mut self, name: &str) -> &mut Entry {
        self.names.entry(key(name)).or_default()
    }

    /// True if the name, or a name below it, has at least one record.
    fn exists(&self, name: &str) -> bool {
        let suffix = format!(".{name}");
        self.names.iter().any(|(other, entry)| {
            !entry.records.is_empty() && (other == name || other.ends_with(&suffix))
        })
    }
}

impl DnsServer {
    /// Binds UDP and TCP on the same free port of 127.0.0.1 and starts serving in
    /// background threads. The server has no records yet.
    pub fn start() -> anyhow::Result<DnsServer> {
        let (udp, tcp) = bind_pair()?;
        let addr = udp.local_addr().context("UDP local address")?;
        udp.set_read_timeout(Some(POLL))
            .context("set UDP read timeout")?;
        tcp.set_nonblocking(true)
            .context("make TCP listener non-blocking")?;

        let zone = Arc::new(Mutex::new(Zone::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let mut server = DnsServer {
            addr,
            zone,
            stop,
            threads: Vec::new(),
        };
        // From here on, dropping `server` on an error stops what was started.
        let (zone, stop) = (Arc::clone(&server.zone), Arc::clone(&server.stop));
        server.threads.push(
            std::thread::Builder::new()
                .name("dns-udp".into())
                .spawn(move || serve_udp(&udp, &zone, &stop))
                .context("spawn DNS UDP thread")?,
        );
        let (zone, stop) = (Arc::clone(&server.zone), Arc::clone(&server.stop));
        server.threads.push(
            std::thread::Builder::new()
                .name("dns-tcp".into())
                .spawn(move || serve_tcp(&tcp, &zone, &stop))
                .context("spawn DNS TCP thread")?,
        );
        Ok(server)
    }

    /// The address (127.0.0.1 and the port) to configure as the resolver's name
    /// server, for both UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Adds the record `domain MX preference exchange`.
    ///
    /// # Panics
    /// If `exchange` is not a valid domain name (a bug in the test).
    pub fn mx(&self, domain: &str, preference: u16, exchange: &str) {
        let exchange = name_or_panic(exchange);
        self.add(domain, RData::MX(MX::new(preference, exchange)));
    }

    /// Gives `domain` a null MX (RFC 7505: `MX 0 .`), replacing any MX records it had.
    pub fn null_mx(&self, domain: &str) {
        let mut zone = self.lock();
        let entry = zone.entry(domain);
        entry
            .records
            .retain(|data| data.record_type() != RecordType::MX);
        entry.records.push(RData::MX(MX::new(0, Name::root())));
    }

    /// Adds the record `name A addr`.
    pub fn a(&self, name: &str, addr: Ipv4Addr) {
        self.add(name, RData::A(A(addr)));
    }

    /// Adds the record `name AAAA addr`.
    pub fn aaaa(&self, name: &str, addr: Ipv6Addr) {
        self.add(name, RData::AAAA(AAAA(addr)));
    }

    /// Makes every query for `name` (any type) answer SERVFAIL, whatever records the
    /// name has, until [`DnsServer::clear`].
    pub fn servfail(&self, name: &str) {
        self.lock().entry(name).servfail = true;
    }

    /// Makes every query for `name` (any type, UDP or TCP) go unanswered, so the
    /// client times out, until [`DnsServer::clear`]. Takes precedence over
    /// [`DnsServer::servfail`]. The queries still show in [`DnsServer::queries`].
    pub fn drop_queries(&self, name: &str) {
        self.lock().entry(name).dropped = true;
    }

    /// Forgets every record and failure mode of `name`.
    pub fn clear(&self, name: &str) {
        self.lock().names.remove(&key(name));
    }

    /// The (name, type) of each query received so far, in order, for example
    /// `("example.com", "MX")`. Names are lower case without the trailing dot.
    /// Malformed packets are not listed.
    pub fn queries(&self) -> Vec<(String, String)> {
        self.lock().queries.clone()
    }

    /// Adds a record to `name`, unless the name already has the same one.
    fn add(&self, name: &str, data: RData) {
        let mut zone = self.lock();
        let entry = zone.entry(name);
        if !entry.records.contains(&data) {
            entry.records.push(data);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Zone> {
        lock(&self.zone)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.threads.drain(..) {
            // A panicked serving thread has nothing left to clean up.
            let _ = thread.join();
        }
    }
}

fn lock(zone: &Mutex<Zone>) -> MutexGuard<'_, Zone> {
    zone.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Binds a UDP socket on a free port of 127.0.0.1 and a TCP listener on the same
/// port, trying other ports when that TCP port is taken.
fn bind_pair() -> anyhow::Result<(UdpSocket, TcpListener)> {
    let mut last_error = None;
    for _ in 0..20 {
        let udp = UdpSocket::bind("127.0.0.1:0").context("bind UDP 127.0.0.1:0")?;
        let addr = udp.local_addr().context("UDP local address")?;
        match TcpListener::bind(addr) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(error) => last_error = Some(error),
        }
    }
    Err(anyhow!(
        "no port of 127.0.0.1 free for both UDP and TCP (last error: {last_error:?})"
    ))
}

/// The form names are stored and compared in: IDNA, lower case, no trailing dot.
fn key(name: &str) -> String {
    match parse_name(name) {
        Ok(parsed) => key_of(&parsed),
        Err(_) => name.trim_end_matches('.').to_ascii_lowercase(),
    }
}

fn key_of(name: &Name) -> String {
    let text = name.to_ascii().to_ascii_lowercase();
    match text.strip_suffix('.') {
        Some(stripped) => stripped.to_owned(),
        None => text,
    }
}

/// Parses a name given by a test: ASCII as is, anything else through IDNA.
fn parse_name(name: &str) -> anyhow::Result<Name> {
    let mut parsed = if name.is_ascii() {
        Name::from_ascii(name)
    } else {
        Name::from_utf8(name)
    }
    .with_context(|| format!("invalid domain name {name:?}"))?;
    parsed.set_fqdn(true);
    Ok(parsed)
}

/// For the record setters, whose callers (tests) want a loud failure, not a `Result`.
#[allow(
    clippy::panic,
    reason = "test helper API without Result; a bad name is a bug in the test"
)]
#[track_caller]
fn name_or_panic(name: &str) -> Name {
    match parse_name(name) {
        Ok(parsed) => parsed,
        Err(error) => panic!("DnsServer: {error:#}"),
    }
}

/// The made-up SOA returned with negative answers: owned by the parent of `name`,
/// minimum TTL 0.
fn soa_for(name: &Name) -> Record {
    let zone = name.base_name();
    let ns = Name::from_ascii("ns.postern.test.").unwrap_or_else(|_| Name::root());
    let mailbox = Name::from_ascii("hostmaster.postern.test.").unwrap_or_else(|_| Name::root());
    Record::from_rdata(
        zone,
        0,
        RData::SOA(SOA::new(ns, mailbox, 1, 3600, 600, 86400, 0)),
    )
}

/// Builds the answer to one decoded message, or `None` when there is to be none
/// (the message is itself a response, or its name is set to be dropped).
fn respond(zone: &Mutex<Zone>, request: &Message) -> Option<Message> {
    if request.metadata.message_type != MessageType::Query {
        return None;
    }
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.queries.clone_from(&request.queries);
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(EDNS_PAYLOAD);
        response.edns = Some(edns);
    }
    if request.metadata.op_code != OpCode::Query {
        response.metadata.response_code = ResponseCode::NotImp;
        return Some(response);
    }
    let [query] = request.queries.as_slice() else {
        response.metadata.response_code = ResponseCode::FormErr;
        return Some(response);
    };

    let name = key_of(query.name());
    let asked = query.query_type();
    let mut zone = lock(zone);
    zone.queries.push((name.clone(), asked.to_string()));
    let entry = zone.names.get(&name);
    if entry.is_some_and(|entry| entry.dropped) {
        return None;
    }
    if entry.is_some_and(|entry| entry.servfail) {
        response.metadata.response_code = ResponseCode::ServFail;
        return Some(response);
    }
    response.answers = entry
        .map(|entry| entry.records.as_slice())
        .unwrap_or_default()
        .iter()
        .filter(|data| asked == RecordType::ANY || data.record_type() == asked)
        .map(|data| Record::from_rdata(query.name().clone(), 0, data.clone()))
        .collect();
    if response.answers.is_empty() {
        if !zone.exists(&name) {
            response.metadata.response_code = ResponseCode::NXDomain;
        }
        response.authorities.push(soa_for(query.name()));
    }
    Some(response)
}

/// Decodes one packet and encodes the answer; `None` for malformed packets and
/// dropped queries.
fn answer(zone: &Mutex<Zone>, packet: &[u8]) -> Option<(Message, Message)> {
    let request = Message::from_vec(packet).ok()?;
    let response = respond(zone, &request)?;
    Some((request, response))
}

fn serve_udp(socket: &UdpSocket, zone: &Mutex<Zone>, stop: &AtomicBool) {
    let mut buf = vec![0u8; 65535];
    while !stop.load(Ordering::Relaxed) {
        let (len, peer) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                continue;
            }
            Err(_) => {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let Some((request, response)) = buf.get(..len).and_then(|packet| answer(zone, packet))
        else {
            continue;
        };
        let limit = request.edns.as_ref().map_or(PLAIN_UDP_PAYLOAD, |edns| {
            usize::from(edns.max_payload()).max(PLAIN_UDP_PAYLOAD)
        });
        let bytes = match response.to_vec() {
            Ok(bytes) if bytes.len() <= limit => bytes,
            // Too big for UDP: header and question only, with TC set, so the client
            // retries over TCP.
            Ok(_) => match response.truncate().to_vec() {
                Ok(bytes) => bytes,
                Err(_) => continue,
            },
            Err(_) => continue,
        };
        // A client that went away is not our problem.
        let _ = socket.send_to(&bytes, peer);
    }
}

fn serve_tcp(listener: &TcpListener, zone: &Arc<Mutex<Zone>>, stop: &Arc<AtomicBool>) {
    let mut connections: Vec<JoinHandle<()>> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (zone, stop) = (Arc::clone(zone), Arc::clone(stop));
                let spawned = std::thread::Builder::new()
                    .name("dns-tcp-conn".into())
                    .spawn(move || serve_tcp_connection(stream, &zone, &stop));
                // Without a thread the stream is dropped, which closes it.
                if let Ok(handle) = spawned {
                    connections.push(handle);
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
        connections.retain(|handle| !handle.is_finished());
    }
    for handle in connections {
        let _ = handle.join();
    }
}

/// Answers length-prefixed queries (RFC 1035 4.2.2) until the client closes, an I/O
/// error, or the server stops.
fn serve_tcp_connection(mut stream: TcpStream, zone: &Mutex<Zone>, stop: &AtomicBool) {
    if stream.set_nonblocking(false).is_err()
        || stream.set_read_timeout(Some(POLL)).is_err()
        || stream
            .set_write_timeout(Some(Duration::from_secs(5)))
            .is_err()
    {
        return;
    }
    let mut pending = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        while let Some(frame) = take_frame(&mut pending) {
            let Some((_, response)) = answer(zone, &frame) else {
                continue;
            };
            let Ok(bytes) = response.to_vec() else {
                continue;
            };
            let Ok(len) = u16::try_from(bytes.len()) else {
                continue;
            };
            let mut framed = Vec::with_capacity(bytes.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&bytes);
            if stream.write_all(&framed).is_err() {
                return;
            }
        }
        if stop.load(Ordering::Relaxed) {
            return;
        }
        match stream.read(&mut chunk) {
            Ok(0) => return,
            Ok(n) => pending.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(error)
                if matches!(
                    error.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
}

/// Removes one complete length-prefixed message from the front of `pending`.
fn take_frame(pending: &mut Vec<u8>) -> Option<Vec<u8>> {
    let [high, low, rest @ ..] = pending.as_slice() else {
        return None;
    };
    let len = usize::from(u16::from_be_bytes([*high, *low]));
    let frame = rest.get(..len)?.to_vec();
    pending.drain(..len + 2);
    Some(frame)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use hickory_proto::op::Query;

    fn request(name: &str, rtype: RecordType, edns: bool) -> Message {
        let mut message = Message::query();
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
        if edns {
            let mut opt = Edns::new();
            opt.set_max_payload(1232);
            message.set_edns(opt);
        }
        message
    }

    fn socket(server: &DnsServer) -> UdpSocket {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.connect(server.addr()).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        socket
    }

    fn ask_udp(server: &DnsServer, name: &str, rtype: RecordType) -> Message {
        let socket = socket(server);
        let query = request(name, rtype, true);
        socket.send(&query.to_vec().unwrap()).unwrap();
        let mut buf = [0u8; 4096];
        let len = socket.recv(&mut buf).unwrap();
        let response = Message::from_vec(&buf[..len]).unwrap();
        assert_eq!(response.metadata.id, query.metadata.id);
        assert_eq!(response.metadata.message_type, MessageType::Response);
        assert_eq!(response.queries, query.queries);
        assert!(response.metadata.recursion_available);
        response
    }

    fn mx_of(response: &Message) -> Vec<(u16, String)> {
        response
            .answers
            .iter()
            .map(|record| match &record.data {
                RData::MX(mx) => (mx.preference, mx.exchange.to_ascii()),
                other => panic!("not MX: {other:?}"),
            })
            .collect()
    }

    fn assert_soa_authority(response: &Message, owner: &str) {
        assert_eq!(response.authorities.len(), 1);
        let soa = &response.authorities[0];
        assert_eq!(soa.name.to_ascii(), owner);
        let RData::SOA(data) = &soa.data else {
            panic!("not SOA: {soa:?}")
        };
        assert_eq!(data.minimum, 0);
        assert_eq!(soa.ttl, 0);
    }

    #[test]
    fn dns_mx_with_two_preferences() {
        let server = DnsServer::start().unwrap();
        server.mx("example.com", 20, "mx2.example.com");
        server.mx("Example.COM.", 10, "mx1.example.com.");
        let response = ask_udp(&server, "EXAMPLE.com.", RecordType::MX);
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
        assert!(response.metadata.authoritative);
        assert!(response.edns.is_some());
        assert_eq!(
            mx_of(&response),
            vec![
                (20, "mx2.example.com.".to_owned()),
                (10, "mx1.example.com.".to_owned())
            ]
        );
        assert!(response.answers.iter().all(|record| record.ttl == 0));
        assert_eq!(
            server.queries(),
            vec![("example.com".to_owned(), "MX".to_owned())]
        );
    }

    #[test]
    fn dns_a_and_aaaa() {
        let server = DnsServer::start().unwrap();
        server.a("mx.example.com", Ipv4Addr::new(127, 0, 0, 5));
        server.aaaa("mx.example.com", Ipv6Addr::LOCALHOST);
        let response = ask_udp(&server, "mx.example.com.", RecordType::A);
        assert_eq!(response.answers.len(), 1);
        assert_eq!(
            response.answers[0].data,
            RData::A(A(Ipv4Addr::new(127, 0, 0, 5)))
        );
        let response = ask_udp(&server, "mx.example.com.", RecordType::AAAA);
        assert_eq!(response.answers.len(), 1);
        assert_eq!(
            response.answers[0].data,
            RData::AAAA(AAAA(Ipv6Addr::LOCALHOST))
        );
    }

    #[test]
    fn dns_null_mx_replaces_mx() {
        let server = DnsServer::start().unwrap();
        server.mx("nomail.example", 10, "mx.nomail.example");
        server.null_mx("nomail.example");
        let response = ask_udp(&server, "nomail.example.", RecordType::MX);
        assert_eq!(mx_of(&response), vec![(0, ".".to_owned())]);
    }

    #[test]
    fn dns_nxdomain_and_nodata_carry_soa() {
        let server = DnsServer::start().unwrap();
        server.a("host.example.org", Ipv4Addr::LOCALHOST);

        let response = ask_udp(&server, "missing.example.org.", RecordType::MX);
        assert_eq!(response.metadata.response_code, ResponseCode::NXDomain);
        assert!(response.answers.is_empty());
        assert_soa_authority(&response, "example.org.");

        let response = ask_udp(&server, "host.example.org.", RecordType::MX);
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
        assert!(response.answers.is_empty());
        assert_soa_authority(&response, "example.org.");

        // An empty non-terminal exists: NODATA, not NXDOMAIN.
        let response = ask_udp(&server, "example.org.", RecordType::A);
        assert_eq!(response.metadata.response_code, ResponseCode::NoError);
    }

    #[test]
    fn dns_servfail() {
        let server = DnsServer::start().unwrap();
        server.mx("broken.example", 10, "mx.broken.example");
        server.servfail("broken.example");
        let response = ask_udp(&server, "broken.example.", RecordType::MX);
        assert_eq!(response.metadata.response_code, ResponseCode::ServFail);
        assert!(response.answers.is_empty());
    }

    #[test]
    fn dns_dropped_query_times_out() {
        let server = DnsServer::start().unwrap();
        server.drop_queries("slow.example");
        let socket = socket(&server);
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        socket
            .send(
                &request("slow.example.", RecordType::MX, false)
                    .to_vec()
                    .unwrap(),
            )
            .unwrap();
        let mut buf = [0u8; 512];
        let error = socket.recv(&mut buf).unwrap_err();
        assert!(matches!(
            error.kind(),
            ErrorKind::WouldBlock | ErrorKind::TimedOut
        ));
        assert_eq!(
            server.queries(),
            vec![("slow.example".to_owned(), "MX".to_owned())]
        );
    }

    #[test]
    fn dns_clear_forgets_records_and_failures() {
        let server = DnsServer::start().unwrap();
        server.mx("example.net", 10, "mx.example.net");
        server.servfail("example.net");
        server.clear("EXAMPLE.NET.");
        let response = ask_udp(&server, "example.net.", RecordType::MX);
        assert_eq!(response.metadata.response_code, ResponseCode::NXDomain);
        server.a("example.net", Ipv4Addr::LOCALHOST);
        let response = ask_udp(&server, "example.net.", RecordType::A);
        assert_eq!(response.answers.len(), 1);
    }

    #[test]
    fn dns_malformed_packet_is_ignored() {
        let server = DnsServer::start().unwrap();
        server.a("ok.example", Ipv4Addr::LOCALHOST);
        let socket = socket(&server);
        socket.send(b"\x12\x34garbage").unwrap();
        let response = ask_udp(&server, "ok.example.", RecordType::A);
        assert_eq!(response.answers.len(), 1);
        assert_eq!(server.queries().len(), 1);
    }

    #[test]
    fn dns_tcp_several_queries_per_connection() {
        let server = DnsServer::start().unwrap();
        server.mx("example.com", 10, "mx.example.com");
        server.a("mx.example.com", Ipv4Addr::LOCALHOST);
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        // Both queries in one write, to exercise the framing.
        let queries = [
            request("example.com.", RecordType::MX, true),
            request("mx.example.com.", RecordType::A, false),
        ];
        let mut out = Vec::new();
        for query in &queries {
            let bytes = query.to_vec().unwrap();
            out.extend_from_slice(&u16::try_from(bytes.len()).unwrap().to_be_bytes());
            out.extend_from_slice(&bytes);
        }
        stream.write_all(&out).unwrap();
        for query in &queries {
            let mut len = [0u8; 2];
            stream.read_exact(&mut len).unwrap();
            let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut body).unwrap();
            let response = Message::from_vec(&body).unwrap();
            assert_eq!(response.metadata.id, query.metadata.id);
            assert_eq!(response.answers.len(), 1);
        }
    }

    #[test]
    fn dns_large_udp_answer_is_truncated() {
        let server = DnsServer::start().unwrap();
        for i in 0..40 {
            server.mx(
                "big.example",
                i,
                &format!("a-rather-long-exchange-{i}.big.example"),
            );
        }
        let socket = socket(&server);
        socket
            .send(
                &request("big.example.", RecordType::MX, false)
                    .to_vec()
                    .unwrap(),
            )
            .unwrap();
        let mut buf = [0u8; 4096];
        let len = socket.recv(&mut buf).unwrap();
        assert!(len <= 512);
        let response = Message::from_vec(&buf[..len]).unwrap();
        assert!(response.metadata.truncation);
    }

    #[test]
    fn dns_drop_stops_threads_promptly() {
        let server = DnsServer::start().unwrap();
        let addr = server.addr();
        let _idle = TcpStream::connect(addr).unwrap();
        let started = std::time::Instant::now();
        drop(server);
        assert!(started.elapsed() < Duration::from_secs(1));
        assert!(TcpStream::connect(addr).is_err());
    }
}
