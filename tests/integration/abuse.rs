//! Load and abuse: slow and silent clients, per-client connection count and rate
//! limits, login floods, oversized lines and literals, and thousands of idle
//! sessions, against smtpd, pop3d and imapd. See: issue 11.
//!
//! Clients outside `mynetworks` use other loopback addresses (127.0.0.x), which
//! Linux routes to the host without any setup. Timing figures are printed (run with
//! `--nocapture` to see them).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use testkit::{Instance, free_port, wait_until};

use crate::support::start_mail_instance;

const WAIT: Duration = Duration::from_secs(30);

/// The users file: alice.
const ALICE: &str = "alice@example.org:{PLAIN}alice-pw\n";

/// An instance with smtpd, pop3d and imapd on 127.0.0.1, alice in example.org, and
/// `extra` main.cf parameters.
struct Site {
    instance: Instance,
    smtp: u16,
    pop3: u16,
    imap: u16,
}

fn site(name: &str, extra: &[(&str, &str)]) -> Site {
    let (smtp, pop3, imap) = (
        free_port().unwrap(),
        free_port().unwrap(),
        free_port().unwrap(),
    );
    let builder = crate::support::mail_instance(name, smtp)
        .main("virtual_mailbox_base", "$queue_directory/../mail")
        .service(&format!("127.0.0.1:{pop3} inet n - n - - pop3d"))
        .service(&format!("127.0.0.1:{imap} inet n - n - - imapd"));
    let instance = start_mail_instance(builder, extra, ALICE, "");
    Site {
        instance,
        smtp,
        pop3,
        imap,
    }
}

impl Site {
    /// The pids of the processes running `command` (`smtpd`, `imapd`, ...).
    fn pids(&self, command: &str) -> Vec<u32> {
        self.instance
            .status()
            .unwrap()
            .services
            .iter()
            .filter(|s| s.command == command)
            .flat_map(|s| s.processes.iter().map(|p| p.pid))
            .collect()
    }

    /// The one process running `command`.
    fn pid(&self, command: &str) -> u32 {
        let pids = self.pids(command);
        assert_eq!(pids.len(), 1, "{command}: {pids:?}");
        pids[0]
    }
}

/// A `/proc/PID/status` figure in KiB (`VmRSS`, `VmHWM`).
fn proc_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {key} for {pid}"))
}

/// Memory of one daemon: current and peak RSS, in KiB.
#[derive(Debug, Clone, Copy)]
struct Memory {
    rss: u64,
    peak: u64,
}

fn memory(pid: u32) -> Memory {
    Memory {
        rss: proc_kib(pid, "VmRSS"),
        peak: proc_kib(pid, "VmHWM"),
    }
}

/// A TCP connection from the local address `from` to 127.0.0.1:`port`.
fn connect_from(from: &str, port: u16) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let ip: std::net::IpAddr = from.parse().unwrap();
    socket.bind(&SocketAddr::new(ip, 0).into()).unwrap();
    socket
        .connect(&SocketAddr::from(([127, 0, 0, 1], port)).into())
        .unwrap();
    let stream: TcpStream = socket.into();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
}

/// Reads one line (lossy text, without the line end); empty at EOF.
fn read_line(reader: &mut BufReader<TcpStream>) -> String {
    let mut line = Vec::new();
    match reader.read_until(b'\n', &mut line) {
        Ok(_) => String::from_utf8_lossy(&line).trim_end().to_owned(),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => String::new(),
        Err(e) => panic!("read: {e}"),
    }
}

/// Reads an SMTP reply (every line of it); the last line.
fn smtp_reply(reader: &mut BufReader<TcpStream>) -> String {
    loop {
        let line = read_line(reader);
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            return line;
        }
    }
}

/// A line-oriented client for raw exchanges.
struct Raw {
    reader: BufReader<TcpStream>,
}

impl Raw {
    fn connect(from: &str, port: u16) -> Raw {
        Raw {
            reader: BufReader::new(connect_from(from, port)),
        }
    }

    /// Writes `bytes`; a connection the server already closed is not an error here
    /// (the next read says so).
    fn write(&mut self, bytes: &[u8]) {
        match self.reader.get_mut().write_all(bytes) {
            Ok(()) => {}
            Err(e) if matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset) => {}
            Err(e) => panic!("write: {e}"),
        }
    }

    fn line(&mut self) -> String {
        read_line(&mut self.reader)
    }

    fn smtp(&mut self, command: &str) -> String {
        self.write(format!("{command}\r\n").as_bytes());
        smtp_reply(&mut self.reader)
    }

    /// Sends a line and reads one line back.
    fn ask(&mut self, command: &str) -> String {
        self.write(format!("{command}\r\n").as_bytes());
        self.line()
    }

    /// Reads lines until one starts with `prefix`; returns it (empty at EOF).
    fn until(&mut self, prefix: &str) -> String {
        loop {
            let line = self.line();
            if line.is_empty() || line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// True when the server closes the connection within `within` (what it
    /// still sends is skipped).
    fn is_closed_within(&mut self, within: Duration) -> bool {
        let stream = self.reader.get_ref();
        stream.set_read_timeout(Some(within)).unwrap();
        let mut sink = Vec::new();
        let closed = match self.reader.read_to_end(&mut sink) {
            Ok(_) => true,
            Err(e) => e.kind() == ErrorKind::ConnectionReset,
        };
        self.reader.get_ref().set_read_timeout(Some(WAIT)).unwrap();
        closed
    }
}

/// What became of a client sending one byte a second.
struct Trickled {
    /// Bytes sent before the server hung up.
    sent: usize,
    /// From the first byte to the hang-up; None if it never came.
    after: Option<Duration>,
    /// What the server said meanwhile.
    said: String,
}

/// Sends `bytes` one a second on `client` (greeting already read), reading what the
/// server says, until it closes the connection or `bytes` run out (plus 3 seconds).
fn trickle(client: Raw, bytes: &[u8]) -> Trickled {
    let mut stream = client.reader.into_inner();
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let start = Instant::now();
    let mut said = Vec::new();
    let mut sent = 0;
    let mut buf = [0u8; 512];
    let mut idle_reads = 0;
    loop {
        if let Some(byte) = bytes.get(sent) {
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            sent += 1;
        } else {
            idle_reads += 1;
            if idle_reads > 3 {
                return Trickled {
                    sent,
                    after: None,
                    said: String::from_utf8_lossy(&said).into_owned(),
                };
            }
        }
        // The read timeout paces the bytes: one a second.
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => said.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    Trickled {
        sent,
        after: Some(start.elapsed()),
        said: String::from_utf8_lossy(&said).into_owned(),
    }
}

#[test]
fn issue_11_slow_and_silent_clients_are_timed_out_while_others_are_served() {
    // See: issue 11.
    let site = site(
        "abuse-slow",
        &[
            ("smtpd_timeout", "2s"),
            ("pop3d_timeout", "2s"),
            ("imapd_timeout", "2s"),
        ],
    );
    let timeout = Duration::from_secs(2);
    // Slack for a debug build on a busy two-core machine.
    let slack = Duration::from_millis(2500);
    let (smtp, pop3, imap) = (site.smtp, site.pop3, site.imap);
    let slow_line = b"NOOP and a long line sent one byte a second\r\n";

    let mut slow = Vec::new();
    // SMTP: a command line, and message content, one byte a second.
    slow.push(std::thread::spawn(move || {
        let mut c = Raw::connect("127.0.0.1", smtp);
        assert!(c.line().starts_with("220 "));
        ("smtp command", trickle(c, slow_line))
    }));
    slow.push(std::thread::spawn(move || {
        let mut c = Raw::connect("127.0.0.1", smtp);
        assert!(c.line().starts_with("220 "));
        assert!(c.smtp("EHLO slow.example").starts_with("250 "));
        assert!(c.smtp("MAIL FROM:<slow@remote.test>").starts_with("250 "));
        assert!(c.smtp("RCPT TO:<alice@example.org>").starts_with("250 "));
        assert!(c.smtp("DATA").starts_with("354 "));
        (
            "smtp data",
            trickle(c, b"Subject: slow\r\n\r\nvery slow content\r\n"),
        )
    }));
    slow.push(std::thread::spawn(move || {
        let mut c = Raw::connect("127.0.0.1", smtp);
        assert!(c.line().starts_with("220 "));
        ("smtp silent", trickle(c, b""))
    }));
    // POP3 and IMAP: a command line one byte a second, and silence.
    slow.push(std::thread::spawn(move || {
        let mut c = Raw::connect("127.0.0.1", pop3);
        assert!(c.line().starts_with("+OK"));
        (
            "pop3 command",
            trickle(c, b"USER alice@example.org and more\r\n"),
        )
    }));
    slow.push(std::thread::spawn(move || {
        let mut c = Raw::connect("127.0.0.1", pop3);
        assert!(c.line().starts_with("+OK"));
        ("pop3 silent", trickle(c, b""))
    }));
    slow.push(std::thread::spawn(move || {
        let mut c = Raw::connect("127.0.0.1", imap);
        assert!(c.line().starts_with("* OK"));
        (
            "imap command",
            trickle(c, b"a1 CAPABILITY and a long line\r\n"),
        )
    }));
    slow.push(std::thread::spawn(move || {
        let mut c = Raw::connect("127.0.0.1", imap);
        assert!(c.line().starts_with("* OK"));
        ("imap silent", trickle(c, b""))
    }));

    // Meanwhile every server answers others at once.
    let started = Instant::now();
    while started.elapsed() < timeout {
        let t = Instant::now();
        let mut c = Raw::connect("127.0.0.1", smtp);
        assert!(c.line().starts_with("220 "));
        assert!(c.smtp("EHLO quick.example").starts_with("250 "));
        assert!(c.smtp("QUIT").starts_with("221 "));
        let mut p = Raw::connect("127.0.0.1", pop3);
        assert!(p.line().starts_with("+OK"));
        assert!(p.ask("NOOP").starts_with("-ERR"));
        let mut i = Raw::connect("127.0.0.1", imap);
        assert!(i.line().starts_with("* OK"));
        assert!(i.ask("a1 NOOP").starts_with("a1 OK"));
        let took = t.elapsed();
        assert!(
            took < Duration::from_secs(1),
            "a normal client waited {took:?}"
        );
    }

    for handle in slow {
        let (what, t) = handle.join().unwrap();
        eprintln!(
            "{what}: closed after {:?} ({} bytes sent): {:?}",
            t.after,
            t.sent,
            t.said.lines().last().unwrap_or("")
        );
        let after = t
            .after
            .unwrap_or_else(|| panic!("{what}: never timed out\n{}", site.instance.dump()));
        assert!(
            after >= timeout - Duration::from_millis(200) && after <= timeout + slack,
            "{what}: closed after {after:?}, timeout {timeout:?}"
        );
        let last = t.said.lines().last().unwrap_or("");
        match what.split(' ').next() {
            Some("smtp") => assert!(last.starts_with("421 4.4.2 "), "{what}: {last:?}"),
            Some("pop3") => assert!(last.starts_with("-ERR"), "{what}: {last:?}"),
            _ => assert!(last.starts_with("* BYE"), "{what}: {last:?}"),
        }
    }
    site.instance
        .wait_log(WAIT, "timeout after CONNECT from localhost[127.0.0.1]")
        .unwrap();
    site.instance
        .wait_log(WAIT, "timeout after DATA from localhost[127.0.0.1]")
        .unwrap();
}

#[test]
fn issue_11_connection_count_limit_is_enforced_with_421_and_a_log_line() {
    // See: issue 11.
    let site = site(
        "abuse-count",
        &[
            ("mynetworks", "127.0.0.1/32"),
            ("smtpd_client_connection_count_limit", "3"),
        ],
    );
    let mut held: Vec<Raw> = (0..3)
        .map(|_| {
            let mut c = Raw::connect("127.0.0.5", site.smtp);
            assert!(c.line().starts_with("220 "));
            c
        })
        .collect();
    let mut fourth = Raw::connect("127.0.0.5", site.smtp);
    let refused = fourth.line();
    assert!(refused.starts_with("421 4.7.0 "), "{refused:?}");
    assert!(fourth.is_closed_within(WAIT));
    let line = site
        .instance
        .wait_log(
            WAIT,
            "Connection concurrency limit exceeded: 4 from unknown[127.0.0.5]",
        )
        .unwrap();
    assert!(line.contains("warning:"), "{line}");
    // Other clients are not affected, mynetworks is exempt.
    let mut other = Raw::connect("127.0.0.6", site.smtp);
    assert!(other.line().starts_with("220 "));
    let trusted: Vec<Raw> = (0..5)
        .map(|_| {
            let mut c = Raw::connect("127.0.0.1", site.smtp);
            assert!(c.line().starts_with("220 "));
            c
        })
        .collect();
    // Once one session ends, the client may open another.
    assert!(held[0].smtp("QUIT").starts_with("221 "));
    held.remove(0);
    wait_until(WAIT, "a session slot for 127.0.0.5", || {
        let mut c = Raw::connect("127.0.0.5", site.smtp);
        c.line().starts_with("220 ").then_some(c)
    })
    .unwrap();
    drop(trusted);
}

#[test]
fn issue_11_connection_rate_limit_is_enforced_with_421_and_a_log_line() {
    // See: issue 11.
    let site = site(
        "abuse-rate",
        &[
            ("mynetworks", "127.0.0.1/32"),
            ("smtpd_client_connection_rate_limit", "4"),
            ("anvil_rate_time_unit", "3s"),
        ],
    );
    let window = Instant::now();
    for n in 1..=4 {
        let mut c = Raw::connect("127.0.0.7", site.smtp);
        let greeting = c.line();
        assert!(greeting.starts_with("220 "), "connection {n}: {greeting:?}");
        assert!(c.smtp("QUIT").starts_with("221 "));
    }
    let mut fifth = Raw::connect("127.0.0.7", site.smtp);
    let refused = fifth.line();
    assert!(
        refused.starts_with("421 4.7.0 ") && refused.contains("too many connections"),
        "{refused:?}"
    );
    assert!(fifth.is_closed_within(WAIT));
    let line = site
        .instance
        .wait_log(
            WAIT,
            "Connection rate limit exceeded: 5 from unknown[127.0.0.7]",
        )
        .unwrap();
    assert!(line.contains("warning:"), "{line}");
    // Other clients, and mynetworks, are not limited.
    for _ in 0..3 {
        let mut c = Raw::connect("127.0.0.8", site.smtp);
        assert!(c.line().starts_with("220 "));
    }
    for _ in 0..8 {
        let mut c = Raw::connect("127.0.0.1", site.smtp);
        assert!(c.line().starts_with("220 "));
    }
    // A new time unit lets the client in again.
    let again = wait_until(WAIT, "127.0.0.7 to be let in again", || {
        let mut c = Raw::connect("127.0.0.7", site.smtp);
        c.line().starts_with("220 ").then(|| window.elapsed())
    })
    .unwrap();
    eprintln!("rate limit: 4 connections per 3s; 127.0.0.7 let in again after {again:?}");
    assert!(again >= Duration::from_millis(2500), "{again:?}");
}

/// One failed attempt: how long the answer took, and the answer.
type Attempt = (Duration, String);

fn summarize(what: &str, attempts: &[Attempt]) -> String {
    let parts: Vec<String> = attempts
        .iter()
        .map(|(took, answer)| {
            let word: String = answer.chars().take(24).collect();
            format!("{}ms {word}", took.as_millis())
        })
        .collect();
    format!("{what}: {} attempts: {}", attempts.len(), parts.join(" | "))
}

/// Failed logins before the throttle refuses a client (`auth_failure_limit`).
const FAILURE_LIMIT: u32 = 3;

#[test]
fn issue_11_login_floods_are_throttled_and_logged() {
    // See: issue 11.
    let limit = FAILURE_LIMIT.to_string();
    let site = site(
        "abuse-logins",
        &[
            ("smtpd_sasl_auth_enable", "yes"),
            ("smtpd_hard_error_limit", "8"),
            ("smtpd_soft_error_limit", "100"),
            ("auth_failure_delay", "1s"),
            ("auth_failure_limit", &limit),
            ("auth_failure_window", "1m"),
        ],
    );
    // AUTH PLAIN responses for alice: a wrong password and the right one.
    let wrong = "AGFsaWNlQGV4YW1wbGUub3JnAGd1ZXNz";
    let right = "AGFsaWNlQGV4YW1wbGUub3JnAGFsaWNlLXB3";
    let (smtp, pop3, imap) = (site.smtp, site.pop3, site.imap);

    // Each protocol floods from its own address, all at once; each stops when the
    // server hangs up (or after 30 attempts).
    let smtp = std::thread::spawn(move || {
        let mut c = Raw::connect("127.0.0.21", smtp);
        assert!(c.line().starts_with("220 "));
        assert!(c.smtp("EHLO flood.example").starts_with("250 "));
        let mut attempts = Vec::new();
        for _ in 0..30 {
            let t = Instant::now();
            let answer = c.smtp(&format!("AUTH PLAIN {wrong}"));
            if answer.is_empty() {
                break;
            }
            let last = answer.starts_with("421");
            attempts.push((t.elapsed(), answer));
            if last {
                break;
            }
        }
        let closed = c.is_closed_within(WAIT);
        (attempts, closed)
    });
    let pop3 = std::thread::spawn(move || {
        let mut p = Raw::connect("127.0.0.22", pop3);
        assert!(p.line().starts_with("+OK"));
        let mut attempts = Vec::new();
        for _ in 0..30 {
            let answer = p.ask("USER alice@example.org");
            if !answer.starts_with("+OK") {
                if !answer.is_empty() {
                    attempts.push((Duration::ZERO, answer));
                }
                break;
            }
            let t = Instant::now();
            let answer = p.ask("PASS guess");
            if answer.is_empty() {
                break;
            }
            attempts.push((t.elapsed(), answer));
        }
        let closed = p.is_closed_within(WAIT);
        (attempts, closed)
    });
    let imap = std::thread::spawn(move || {
        let mut i = Raw::connect("127.0.0.23", imap);
        assert!(i.line().starts_with("* OK"));
        let mut attempts = Vec::new();
        for n in 0..30 {
            let t = Instant::now();
            i.write(format!("a{n} LOGIN alice@example.org guess\r\n").as_bytes());
            let answer = i.until(&format!("a{n} "));
            if answer.is_empty() {
                break;
            }
            attempts.push((t.elapsed(), answer));
        }
        let closed = i.is_closed_within(WAIT);
        (attempts, closed)
    });
    let smtp = smtp.join().unwrap();
    let pop3 = pop3.join().unwrap();
    let imap = imap.join().unwrap();

    for (what, (attempts, closed), failed, refused, bye) in [
        ("smtp AUTH", &smtp, "535 5.7.8", "454 4.7.0", "421 4.7.0"),
        (
            "pop3 PASS",
            &pop3,
            "-ERR [AUTH]",
            "-ERR [SYS/TEMP]",
            "-ERR Too many",
        ),
        (
            "imap LOGIN",
            &imap,
            "NO [AUTHENTICATIONFAILED]",
            "NO [UNAVAILABLE]",
            "* BYE",
        ),
    ] {
        eprintln!("{}", summarize(what, attempts));
        let limit = usize::try_from(FAILURE_LIMIT).unwrap();
        // Up to the limit the password is checked, and each answer takes a second
        // longer than the one before.
        for (n, (took, answer)) in attempts.iter().take(limit).enumerate() {
            assert!(answer.contains(failed), "{what} attempt {n}: {answer}");
            let delay = Duration::from_secs(u64::try_from(n + 1).unwrap());
            assert!(*took >= delay, "{what} attempt {n} answered after {took:?}");
        }
        // Then the client is refused without a password check, and hung up on.
        let rest = attempts.get(limit..).unwrap_or_default();
        assert!(!rest.is_empty(), "{what}: no refusals: {attempts:?}");
        assert!(
            rest.iter()
                .all(|(_, a)| a.contains(refused) || a.starts_with(bye)),
            "{what}: {rest:?}"
        );
        assert!(
            *closed && attempts.len() < 30,
            "{what}: never hung up: {attempts:?}"
        );
    }

    // The right password does not help the flooding client now.
    let mut c = Raw::connect("127.0.0.21", site.smtp);
    assert!(c.line().starts_with("220 "));
    assert!(c.smtp("EHLO flood.example").starts_with("250 "));
    let answer = c.smtp(&format!("AUTH PLAIN {right}"));
    assert!(answer.starts_with("454 4.7.0"), "{answer}");
    let mut p = Raw::connect("127.0.0.22", site.pop3);
    assert!(p.line().starts_with("+OK"));
    assert!(p.ask("USER alice@example.org").starts_with("+OK"));
    let answer = p.ask("PASS alice-pw");
    assert!(answer.starts_with("-ERR [SYS/TEMP]"), "{answer}");
    let mut i = Raw::connect("127.0.0.23", site.imap);
    assert!(i.line().starts_with("* OK"));
    let answer = i.ask("b1 LOGIN alice@example.org alice-pw");
    assert!(answer.starts_with("b1 NO [UNAVAILABLE]"), "{answer}");
    // Another client (for another user) still gets its password checked. (alice
    // herself is refused from anywhere until the window ends: the user's failures
    // count too, against guessing from many addresses.)
    let mut i = Raw::connect("127.0.0.24", site.imap);
    assert!(i.line().starts_with("* OK"));
    let answer = i.ask("c1 LOGIN bob@example.org bob-pw");
    assert!(
        answer.starts_with("c1 NO [AUTHENTICATIONFAILED]"),
        "{answer}"
    );

    let log = site.instance.log();
    for needle in [
        "SASL PLAIN authentication failed",
        "too many failed logins from 127.0.0.21",
        "too many errors from unknown[127.0.0.21]",
        "rip=127.0.0.22: PLAIN authentication failed",
        "too many failed logins from 127.0.0.22",
        "rip=127.0.0.22: 5 failed logins in one session: disconnecting",
        "rip=127.0.0.23: LOGIN authentication failed",
        "too many failed logins from 127.0.0.23",
        "rip=127.0.0.23: 5 failed logins in one session: disconnecting",
    ] {
        assert!(log.contains(needle), "no {needle:?} in the log:\n{log}");
    }
}

#[test]
fn issue_11_oversized_lines_and_literals_are_refused_without_buffering() {
    // See: issue 11.
    let site = site("abuse-oversized", &[]);
    let junk = vec![b'x'; 8 << 20];
    let mut report = Vec::new();
    let mut grew = |what: &str, pid: u32, before: Memory| {
        let after = memory(pid);
        report.push(format!(
            "{what}: RSS {} -> {} KiB, peak {} -> {} KiB",
            before.rss, after.rss, before.peak, after.peak
        ));
        after.peak.saturating_sub(before.peak.max(before.rss))
    };
    // Well below the 8 MiB sent each time.
    let limit_kib = 3 * 1024;

    // SMTP: an 8 MiB command line.
    let smtpd = site.pid("smtpd");
    let mut c = Raw::connect("127.0.0.1", site.smtp);
    assert!(c.line().starts_with("220 "));
    let before = memory(smtpd);
    c.write(b"NOOP ");
    c.write(&junk);
    let answer = c.smtp("");
    assert!(answer.starts_with("500 5.5.2"), "{answer}");
    assert!(c.smtp("NOOP").starts_with("250 "));
    let smtp_growth = grew("smtpd, 8 MiB line", smtpd, before);

    // POP3: an 8 MiB command line.
    let pop3d = site.pid("pop3d");
    let mut p = Raw::connect("127.0.0.1", site.pop3);
    assert!(p.line().starts_with("+OK"));
    let before = memory(pop3d);
    p.write(b"USER ");
    p.write(&junk);
    let answer = p.ask("");
    assert!(answer.starts_with("-ERR"), "{answer}");
    assert!(p.ask("NOOP").starts_with("-ERR"), "still in step");
    assert!(p.ask("CAPA").starts_with("+OK"));
    let pop3_growth = grew("pop3d, 8 MiB line", pop3d, before);

    // IMAP before login: huge literal announcements, a literal larger than any
    // login needs, an 8 MiB line.
    let imapd = site.pid("imapd");
    let before = memory(imapd);
    let mut i = Raw::connect("127.0.0.1", site.imap);
    assert!(i.line().starts_with("* OK"));
    let answer = i.ask("a1 LOGIN {999999999}");
    assert!(answer.starts_with("a1 NO [TOOBIG]"), "{answer}");
    let answer = i.ask("a2 LOGIN {5000000}");
    if answer.starts_with('+') {
        // The bug this guards against: the server would buffer it all.
        i.write(&junk[..5_000_000]);
        let held = memory(imapd);
        i.write(b" x\r\n");
        panic!(
            "imapd asked for a 5 MB literal before login ({answer}); RSS {} -> {} KiB while held",
            before.rss, held.rss
        );
    }
    assert!(answer.starts_with("a2 NO [TOOBIG]"), "{answer}");
    assert!(i.ask("a3 NOOP").starts_with("a3 OK"));
    i.write(b"a4 ");
    i.write(&junk);
    let answer = i.ask("");
    assert!(
        answer.starts_with("* BYE")
            || answer.starts_with("a4 NO [TOOBIG]")
            || answer.starts_with("* BAD"),
        "{answer}"
    );
    let mut i = Raw::connect("127.0.0.1", site.imap);
    assert!(i.line().starts_with("* OK"));
    // Refused at once, before the client sends any of it.
    i.write(b"a5 LOGIN {999999999+}\r\n");
    let answer = i.line();
    assert!(answer.starts_with("* BYE"), "{answer}");
    assert!(i.is_closed_within(WAIT));
    // After login, literals up to imapd_max_literal are fine, larger ones are not.
    let mut i = Raw::connect("127.0.0.1", site.imap);
    assert!(i.line().starts_with("* OK"));
    assert!(
        i.ask("b1 LOGIN alice@example.org alice-pw")
            .starts_with("b1 OK")
    );
    let answer = i.ask("b2 APPEND INBOX {999999999}");
    assert!(answer.starts_with("b2 NO [TOOBIG]"), "{answer}");
    assert!(i.ask("b3 NOOP").starts_with("b3 OK"));
    let imap_growth = grew("imapd, huge literals and an 8 MiB line", imapd, before);

    for line in &report {
        eprintln!("{line}");
    }
    for (what, growth) in [
        ("smtpd", smtp_growth),
        ("pop3d", pop3_growth),
        ("imapd", imap_growth),
    ] {
        assert!(
            growth < limit_kib,
            "{what} grew by {growth} KiB:\n{}",
            report.join("\n")
        );
    }
}

/// Raises this process's open-files soft limit to the hard limit.
fn raise_open_files() -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
    hard
}

#[test]
fn issue_11_two_thousand_idle_smtp_sessions_with_bounded_memory() {
    // See: issue 11.
    const SESSIONS: usize = 2000;
    let limit = raise_open_files();
    assert!(
        limit > SESSIONS as u64 + 200,
        "open-files hard limit {limit} is too low for {SESSIONS} sessions"
    );
    let site = site("abuse-sessions", &[]);
    let smtpd = site.pid("smtpd");
    let before = memory(smtpd);
    let started = Instant::now();
    let mut sessions = Vec::with_capacity(SESSIONS);
    for n in 0..SESSIONS {
        let mut c = Raw::connect("127.0.0.1", site.smtp);
        let greeting = c.line();
        assert!(greeting.starts_with("220 "), "session {n}: {greeting:?}");
        c.write(b"EHLO idle.example\r\n");
        sessions.push(c);
    }
    for (n, c) in sessions.iter_mut().enumerate() {
        let reply = smtp_reply(&mut c.reader);
        assert!(reply.starts_with("250 "), "session {n}: {reply:?}");
    }
    let opened = started.elapsed();
    let after = memory(smtpd);
    let tree: u64 = site
        .pids("smtpd")
        .iter()
        .map(|&pid| proc_kib(pid, "VmRSS"))
        .sum();
    let per_session = (after.rss.saturating_sub(before.rss)) * 1024 / SESSIONS as u64;
    eprintln!(
        "{SESSIONS} idle SMTP sessions opened in {opened:?}: smtpd RSS {} KiB before, {} KiB with them (peak {} KiB), about {per_session} bytes per session; smtpd processes' RSS {tree} KiB",
        before.rss, after.rss, after.peak
    );
    // A fresh client is still served at once.
    let t = Instant::now();
    let mut c = Raw::connect("127.0.0.1", site.smtp);
    assert!(c.line().starts_with("220 "));
    assert!(c.smtp("EHLO late.example").starts_with("250 "));
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // Bounded: well under 100 KiB per idle session.
    assert!(
        after.rss < before.rss + 100 * SESSIONS as u64,
        "smtpd RSS {} KiB with {SESSIONS} sessions (from {} KiB)",
        after.rss,
        before.rss
    );
    drop(sessions);
    site.instance
        .wait_log(
            WAIT,
            "disconnect from localhost[127.0.0.1] ehlo=1 commands=1",
        )
        .unwrap();
}
