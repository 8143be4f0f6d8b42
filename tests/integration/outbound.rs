//! Outbound delivery through `smtp`: MX lookup against a DNS server inside the
//! test, a second Postern instance or an SMTP sink as the destination, failover,
//! deferral and flush, bounces, relayhost, STARTTLS and AUTH.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use testkit::{
    DnsServer, Instance, SinkOptions, SmtpClient, SmtpSink, Stage, free_port, wait_until,
};

use crate::support::{maildir_messages, start_mail_instance, submit, wait_maildir_messages};

const WAIT: Duration = Duration::from_secs(60);

/// A Postern instance with smtpd, qmgr, local and smtp, serving `domain` with
/// the users alice and bob.
struct Site {
    instance: Instance,
    smtp: u16,
    domain: &'static str,
}

fn site(name: &str, domain: &'static str, smtp: u16, extra: &[(&str, &str)]) -> Site {
    let hostname = format!("mx.{domain}");
    let builder = Instance::builder(name)
        .main("myhostname", &hostname)
        .main("mydestination", "localhost")
        .main("virtual_mailbox_domains", domain)
        .main("virtual_user_maps", "passwd-file:$config_directory/users")
        .main("alias_maps", "hash:$config_directory/aliases")
        .main("virtual_mailbox_base", "$queue_directory/../mail")
        .service(&format!("127.0.0.1:{smtp} inet n - n - - smtpd"))
        .service("qmgr unix - - n - 1 qmgr")
        .service("local unix - - n - - local")
        .service("smtp unix - - n - - smtp");
    let users = format!("alice@{domain}:{{PLAIN}}a\nbob@{domain}:{{PLAIN}}b\n");
    let instance = start_mail_instance(builder, extra, &users, "");
    Site {
        instance,
        smtp,
        domain,
    }
}

impl Site {
    fn maildir(&self, user: &str) -> PathBuf {
        self.instance
            .queue_dir()
            .parent()
            .unwrap()
            .join("mail")
            .join(self.domain)
            .join(user)
            .join("new")
    }

    fn messages(&self, user: &str) -> Vec<String> {
        maildir_messages(&self.maildir(user))
    }

    fn wait_messages(&self, user: &str, count: usize) -> Vec<String> {
        wait_maildir_messages(&self.instance, &self.maildir(user), count)
    }

    fn wait_log(&self, needle: &str) -> String {
        self.instance
            .wait_log(WAIT, needle)
            .unwrap_or_else(|e| panic!("{e:#}"))
    }

    /// Submits a message over SMTP; `params` go after `RCPT TO:<..>`.
    fn send_with(&self, from: &str, to: &str, rcpt_params: &str, body: &str) {
        submit(self.smtp, from, &[to], rcpt_params, body);
    }

    fn send(&self, from: &str, to: &str, subject: &str) {
        self.send_with(
            from,
            to,
            "",
            &format!(
                "From: <{from}>\r\nTo: <{to}>\r\nSubject: {subject}\r\n\r\nHello from {}.\r\n",
                self.domain
            ),
        );
    }

    fn wait_queue_empty(&self) {
        wait_until(WAIT, "the queue to be empty", || {
            self.instance.queue_is_empty().then_some(())
        })
        .unwrap_or_else(|e| panic!("{e:#}\n{}", self.instance.dump()));
    }
}

/// The sending site a.test, resolving through `dns`, connecting to `port`.
fn sender(dns: &DnsServer, port: u16, extra: &[(&str, &str)]) -> Site {
    let dns_addr = dns.addr().to_string();
    let port = port.to_string();
    let mut all: Vec<(&str, &str)> = vec![
        ("smtp_dns_servers", &dns_addr),
        ("smtp_tcp_port", &port),
        ("smtp_connect_timeout", "5s"),
    ];
    all.extend_from_slice(extra);
    site("out-a", "a.test", free_port().unwrap(), &all)
}

fn loopback(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

/// A sink on 127.0.0.1:port with the default options.
fn sink_on(last: u8, port: u16, options: SinkOptions) -> SmtpSink {
    SmtpSink::start(loopback(last), port, options).unwrap()
}

#[test]
fn mail_goes_to_the_mx_of_another_instance_over_starttls() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    dns.mx("b.test", 10, "mx.b.test");
    dns.a("mx.b.test", Ipv4Addr::LOCALHOST);
    let b = site("out-b", "b.test", port, &[]);
    let a = sender(&dns, port, &[]);

    a.send("alice@a.test", "bob@b.test", "over the wire");
    let got = b.wait_messages("bob", 1);
    assert!(got[0].contains("Subject: over the wire"), "{}", got[0]);
    // B's Received header says the client used TLS (opportunistic, against
    // B's self-signed certificate).
    assert!(got[0].contains("with ESMTPS"), "{}", got[0]);
    let line = a.wait_log("to=<bob@b.test>, relay=mx.b.test[127.0.0.1]");
    assert!(
        line.contains("status=sent (250 2.0.0 Ok: queued as"),
        "{line}"
    );
    assert!(line.contains("dsn=2.0.0"), "{line}");
    let lookups = dns.queries();
    assert!(
        lookups.contains(&("b.test".to_owned(), "MX".to_owned())),
        "{lookups:?}"
    );
    a.wait_queue_empty();
}

#[test]
fn the_second_mx_takes_the_mail_when_the_first_is_down() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    // Nothing listens on 127.0.0.3: the preferred MX refuses connections.
    dns.mx("b.test", 10, "mx1.b.test");
    dns.a("mx1.b.test", Ipv4Addr::new(127, 0, 0, 3));
    dns.mx("b.test", 20, "mx2.b.test");
    dns.a("mx2.b.test", Ipv4Addr::LOCALHOST);
    let b = site("out-b", "b.test", port, &[]);
    let a = sender(&dns, port, &[]);

    a.send("alice@a.test", "bob@b.test", "via the backup");
    b.wait_messages("bob", 1);
    let line = a.wait_log("to=<bob@b.test>, relay=mx2.b.test[127.0.0.1]");
    assert!(line.contains("status=sent"), "{line}");
}

#[test]
fn a_4xx_greeting_moves_on_to_the_next_mx() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    let busy = sink_on(1, port, SinkOptions::default());
    busy.script(Stage::Connect, "421 4.3.2 busy, try later");
    let backup = sink_on(2, port, SinkOptions::default());
    dns.mx("c.test", 10, "mx1.c.test");
    dns.a("mx1.c.test", Ipv4Addr::LOCALHOST);
    dns.mx("c.test", 20, "mx2.c.test");
    dns.a("mx2.c.test", Ipv4Addr::new(127, 0, 0, 2));
    let a = sender(&dns, port, &[]);

    a.send("alice@a.test", "someone@c.test", "greeting");
    let got = backup.wait_for(1, WAIT).unwrap();
    assert_eq!(
        got[0].rcpt_to[0].split(' ').next(),
        Some("<someone@c.test>")
    );
    assert!(busy.transactions().is_empty());
    a.wait_log("relay=mx2.c.test[127.0.0.2]");
}

/// A sender (with `extra` settings) and the MX of c.test, a sink that answers
/// the first RCPT with 451; a message to someone@c.test is sent, and its
/// deferral's log line returned. The DNS server must live as long as the site.
fn deferred_once(extra: &[(&str, &str)]) -> (DnsServer, SmtpSink, Site, String) {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    let sink = sink_on(1, port, SinkOptions::default());
    sink.script(Stage::Rcpt, "451 4.3.0 <someone@c.test>: try again later");
    dns.mx("c.test", 10, "mx.c.test");
    dns.a("mx.c.test", Ipv4Addr::LOCALHOST);
    let a = sender(&dns, port, extra);
    a.send("alice@a.test", "someone@c.test", "deferred first");
    let line = a.wait_log("status=deferred");
    (dns, sink, a, line)
}

#[test]
fn a_4xx_defers_and_a_flush_delivers() {
    let (_dns, sink, a, line) = deferred_once(&[]);
    assert!(line.contains("dsn=4.3.0"), "{line}");
    assert!(
        line.contains(
            "host mx.c.test[127.0.0.1] said: 451 4.3.0 <someone@c.test>: try again later (in reply to RCPT TO command)"
        ),
        "{line}"
    );
    wait_until(WAIT, "the message in deferred/", || {
        (a.instance.queue_files("deferred").len() == 1).then_some(())
    })
    .unwrap();
    assert!(sink.transactions().is_empty());

    a.instance.flush().unwrap();
    let got = sink.wait_for(1, WAIT).unwrap();
    assert!(String::from_utf8_lossy(&got[0].data).contains("Subject: deferred first"));
    a.wait_log("status=sent");
    a.wait_queue_empty();
}

/// qmgr scans deferred/ on its timer, not on every nudge: new mail arriving
/// faster than the timer must not keep a due deferred message waiting.
#[test]
fn a_deferred_message_is_retried_on_time_while_new_mail_keeps_coming() {
    let (_dns, sink, a, _) = deferred_once(&[
        ("minimal_backoff_time", "1s"),
        ("maximal_backoff_time", "1s"),
        ("queue_run_delay", "2s"),
    ]);
    // A message every 100 ms, each with its nudge, until the retry got through
    // (no flush: only the timer may bring it back).
    let started = std::time::Instant::now();
    let mut sent = 0;
    while sink.transactions().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the deferred message was not retried in 15 s of steady new mail\n{}",
            a.instance.dump()
        );
        a.send("bob@a.test", "alice@a.test", &format!("nudge {sent}"));
        sent += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(sent >= 5, "retried after only {sent} new messages");
    a.wait_log("status=sent");
    a.wait_messages("alice", sent);
    a.wait_queue_empty();
}

#[test]
fn a_5xx_bounces_to_the_sender() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    let sink = sink_on(1, port, SinkOptions::default());
    sink.script(
        Stage::RcptTo("nobody@c.test".into()),
        "550 5.1.1 <nobody@c.test>: Recipient address rejected: User unknown",
    );
    dns.mx("c.test", 10, "mx.c.test");
    dns.a("mx.c.test", Ipv4Addr::LOCALHOST);
    let a = sender(&dns, port, &[]);

    a.send("alice@a.test", "nobody@c.test", "to nobody");
    let line = a.wait_log("to=<nobody@c.test>");
    assert!(line.contains("dsn=5.1.1, status=bounced"), "{line}");
    let bounce = a.wait_messages("alice", 1);
    assert!(bounce[0].contains("Status: 5.1.1"), "{}", bounce[0]);
    assert!(bounce[0].contains("User unknown"), "{}", bounce[0]);
    assert!(
        bounce[0].contains("Diagnostic-Code: smtp; 550 5.1.1 <nobody@c.test>"),
        "{}",
        bounce[0]
    );
    assert!(
        bounce[0].contains("Remote-MTA: dns; mx.c.test"),
        "{}",
        bounce[0]
    );
    a.wait_queue_empty();
}

#[test]
fn each_recipient_gets_its_own_verdict_in_one_transaction() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    let sink = sink_on(1, port, SinkOptions::default());
    sink.script(
        Stage::RcptTo("gone@c.test".into()),
        "550 5.1.1 <gone@c.test>: unknown",
    );
    sink.script(
        Stage::RcptTo("later@c.test".into()),
        "452 4.2.2 <later@c.test>: mailbox full",
    );
    dns.mx("c.test", 10, "mx.c.test");
    dns.a("mx.c.test", Ipv4Addr::LOCALHOST);
    let a = sender(&dns, port, &[]);

    let mut c = SmtpClient::connect(a.smtp).unwrap();
    c.send("EHLO client.test")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("MAIL FROM:<alice@a.test>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    for rcpt in [
        "one@c.test",
        "gone@c.test",
        "later@c.test",
        "two@c.test",
        "bob@a.test",
    ] {
        c.send(&format!("RCPT TO:<{rcpt}>"))
            .unwrap()
            .expect_code(250)
            .unwrap();
    }
    c.data("Subject: many\r\n\r\nto many\r\n")
        .unwrap()
        .expect_code(250)
        .unwrap();

    let got = sink.wait_for(1, WAIT).unwrap();
    let rcpts: Vec<&str> = got[0]
        .rcpt_to
        .iter()
        .map(|r| r.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        rcpts,
        ["<one@c.test>", "<two@c.test>"],
        "one transaction for the accepted ones"
    );
    a.wait_messages("bob", 1);
    assert!(
        a.wait_log("to=<gone@c.test>")
            .contains("dsn=5.1.1, status=bounced")
    );
    assert!(
        a.wait_log("to=<later@c.test>")
            .contains("dsn=4.2.2, status=deferred")
    );
    assert!(a.wait_log("to=<one@c.test>").contains("status=sent"));
    assert!(a.wait_log("to=<two@c.test>").contains("status=sent"));
    // The bounce names only the rejected recipient; the deferred one waits.
    let alice = a.wait_messages("alice", 1);
    assert!(
        alice[0].contains("gone@c.test")
            && !alice[0].contains("Final-Recipient: rfc822; later@c.test")
    );
    wait_until(WAIT, "the message in deferred/", || {
        (a.instance.queue_files("deferred").len() == 1).then_some(())
    })
    .unwrap();
}

#[test]
fn null_mx_and_unknown_domains_bounce_at_once() {
    let dns = DnsServer::start().unwrap();
    dns.null_mx("nomail.test");
    let a = sender(&dns, free_port().unwrap(), &[]);

    a.send("alice@a.test", "x@nomail.test", "null mx");
    let line = a.wait_log("to=<x@nomail.test>");
    assert!(line.contains("dsn=5.1.10, status=bounced"), "{line}");
    assert!(line.contains("nullMX"), "{line}");
    a.send("alice@a.test", "x@nxdomain.test", "no such domain");
    let line = a.wait_log("to=<x@nxdomain.test>");
    assert!(line.contains("dsn=5.1.2, status=bounced"), "{line}");
    let bounces = a.wait_messages("alice", 2);
    assert!(bounces.iter().all(|b| b.contains("Action: failed")));
    a.wait_queue_empty();
}

#[test]
fn no_mx_means_the_domains_own_address() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    let sink = sink_on(1, port, SinkOptions::default());
    dns.a("plain.test", Ipv4Addr::LOCALHOST);
    let a = sender(&dns, port, &[]);

    a.send("alice@a.test", "x@plain.test", "implicit mx");
    sink.wait_for(1, WAIT).unwrap();
    a.wait_log("relay=plain.test[127.0.0.1]");
}

#[test]
fn dns_servfail_defers() {
    let dns = DnsServer::start().unwrap();
    dns.servfail("broken.test");
    let a = sender(&dns, free_port().unwrap(), &[]);

    a.send("alice@a.test", "x@broken.test", "servfail");
    let line = a.wait_log("to=<x@broken.test>");
    assert!(line.contains("dsn=4.4.3, status=deferred"), "{line}");
    wait_until(WAIT, "the message in deferred/", || {
        (a.instance.queue_files("deferred").len() == 1).then_some(())
    })
    .unwrap();
}

#[test]
fn relayhost_carries_everything_with_auth_and_the_extensions() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    let sink = sink_on(
        1,
        port,
        SinkOptions {
            auth: Some(("relayuser".into(), "relay-pw".into())),
            capabilities: vec![
                "PIPELINING".into(),
                "8BITMIME".into(),
                "DSN".into(),
                "SIZE 10240000".into(),
                "AUTH PLAIN LOGIN".into(),
                "ENHANCEDSTATUSCODES".into(),
            ],
            ..SinkOptions::default()
        },
    );
    let relay = format!("[127.0.0.1]:{port}");
    let a_dir = tempfile_dir("relayhost");
    let passwords = a_dir.join("sasl_passwd");
    std::fs::write(&passwords, format!("{relay} relayuser:relay-pw\n")).unwrap();
    let passwords = passwords.to_string_lossy().into_owned();
    let a = sender(
        &dns,
        free_port().unwrap(),
        &[
            ("relayhost", &relay),
            ("smtp_sasl_auth_enable", "yes"),
            ("smtp_sasl_password_maps", &passwords),
        ],
    );

    a.send_with(
        "alice@a.test",
        "someone@far.test",
        " NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;someone+2Borig@far.test",
        "Subject: relayed\r\n\r\nthrough the relay\r\n",
    );
    let got = sink.wait_for(1, WAIT).unwrap();
    let t = &got[0];
    assert_eq!(t.auth_user.as_deref(), Some("relayuser"));
    assert!(
        t.mail_from.starts_with("<alice@a.test> SIZE="),
        "{}",
        t.mail_from
    );
    assert_eq!(
        t.rcpt_to,
        ["<someone@far.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;someone+2Borig@far.test"]
    );
    assert!(!t.bdat, "no CHUNKING offered: DATA");
    assert!(String::from_utf8_lossy(&t.data).contains("through the relay"));
    // No DNS lookup for a bracketed relayhost.
    assert!(dns.queries().is_empty(), "{:?}", dns.queries());
    a.wait_log(&format!("relay=127.0.0.1[127.0.0.1]:{port}"));
}

#[test]
fn transport_maps_route_single_domains() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    let routed = sink_on(1, port, SinkOptions::default());
    let direct = sink_on(2, port, SinkOptions::default());
    dns.mx("direct.test", 10, "mx.direct.test");
    dns.a("mx.direct.test", Ipv4Addr::new(127, 0, 0, 2));
    let transport = tempfile_dir("transport").join("transport");
    std::fs::write(
        &transport,
        format!(
            "routed.test smtp:[127.0.0.1]:{port}\n.routed.test smtp:[127.0.0.1]:{port}\n\
             direct.test smtp:\nblocked.test error:5.7.1 no mail to blocked.test\n"
        ),
    )
    .unwrap();
    let map = format!("texthash:{}", transport.display());
    // Everything else would go to a relayhost nobody listens on.
    let a = sender(
        &dns,
        port,
        &[("relayhost", "[127.0.0.9]:9"), ("transport_maps", &map)],
    );

    a.send("alice@a.test", "x@routed.test", "routed");
    a.send("alice@a.test", "y@sub.routed.test", "routed sub");
    a.send("alice@a.test", "z@direct.test", "direct");
    a.send("alice@a.test", "w@blocked.test", "blocked");
    routed.wait_for(2, WAIT).unwrap();
    direct.wait_for(1, WAIT).unwrap();
    let line = a.wait_log("to=<w@blocked.test>");
    assert!(line.contains("relay=none"), "{line}");
    assert!(
        line.contains("dsn=5.7.1, status=bounced (no mail to blocked.test)"),
        "{line}"
    );
    a.wait_messages("alice", 1);
    // Only the direct route looked anything up.
    let names: Vec<String> = dns.queries().into_iter().map(|(name, _)| name).collect();
    assert!(
        names.iter().all(|n| n.ends_with("direct.test")),
        "{names:?}"
    );
}

#[test]
fn eight_bit_mail_is_converted_for_a_server_without_8bitmime() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    let sink = sink_on(
        1,
        port,
        SinkOptions {
            capabilities: vec!["PIPELINING".into(), "SIZE 10240000".into()],
            ..SinkOptions::default()
        },
    );
    let relay = format!("[127.0.0.1]:{port}");
    let a = sender(&dns, port, &[("relayhost", &relay)]);

    a.send_with(
        "alice@a.test",
        "someone@far.test",
        "",
        "Subject: caf\u{e9}s\r\n\r\nno: headers with 8 bits cannot be converted\r\n",
    );
    let line = a.wait_log("to=<someone@far.test>");
    assert!(line.contains("dsn=5.6.3, status=bounced"), "{line}");

    a.send_with(
        "alice@a.test",
        "other@far.test",
        "",
        "Subject: cafes\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ncaf\u{e9} cr\u{e8}me\r\n",
    );
    let got = sink.wait_for(1, WAIT).unwrap();
    let data = String::from_utf8(got[0].data.clone()).expect("7-bit");
    assert!(
        data.contains("Content-Transfer-Encoding: quoted-printable"),
        "{data}"
    );
    assert!(data.contains("caf=C3=A9 cr=C3=A8me"), "{data}");
    assert!(
        !got[0].mail_from.contains("BODY=8BITMIME"),
        "{}",
        got[0].mail_from
    );
}

#[test]
fn too_big_for_the_server_bounces_and_bdat_is_used_when_offered() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    let sink = sink_on(
        1,
        port,
        SinkOptions {
            capabilities: vec![
                "PIPELINING".into(),
                "CHUNKING".into(),
                "8BITMIME".into(),
                "SIZE 300".into(),
            ],
            ..SinkOptions::default()
        },
    );
    let relay = format!("[127.0.0.1]:{port}");
    let a = sender(&dns, port, &[("relayhost", &relay)]);

    let big = format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(400));
    a.send_with("alice@a.test", "big@far.test", "", &big);
    let line = a.wait_log("to=<big@far.test>");
    assert!(line.contains("dsn=5.3.4, status=bounced"), "{line}");
    assert!(line.contains("exceeds size limit 300"), "{line}");

    a.send_with(
        "alice@a.test",
        "small@far.test",
        "",
        "Subject: small\r\n\r\n.dot\r\n",
    );
    let got = sink.wait_for(1, WAIT).unwrap();
    assert!(got[0].bdat);
    // BDAT sends the bytes as they are: no dot-stuffing.
    assert!(
        got[0].data.ends_with(b"\r\n.dot\r\n"),
        "{:?}",
        String::from_utf8_lossy(&got[0].data)
    );
}

#[test]
fn a_second_message_reuses_the_connection_and_helo_works() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    let sink = sink_on(
        1,
        port,
        SinkOptions {
            ehlo: false,
            ..SinkOptions::default()
        },
    );
    dns.mx("c.test", 10, "mx.c.test");
    dns.a("mx.c.test", Ipv4Addr::LOCALHOST);
    let a = sender(&dns, port, &[("smtp_connection_cache_time_limit", "30s")]);

    a.send("alice@a.test", "one@c.test", "first");
    sink.wait_for(1, WAIT).unwrap();
    a.send("alice@a.test", "two@c.test", "second");
    let got = sink.wait_for(2, WAIT).unwrap();
    assert_eq!(got[0].helo, "mx.a.test");
    assert_eq!(
        got[0].connection, got[1].connection,
        "one connection for both"
    );
    assert_eq!(sink.connections(), 1);
}

#[test]
fn verify_refuses_an_unknown_issuer_and_accepts_one_from_the_ca_file() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    dns.mx("b.test", 10, "mx.b.test");
    dns.a("mx.b.test", Ipv4Addr::LOCALHOST);
    let dir = tempfile_dir("verify");
    let (ca, cert, key) = ca_and_leaf(&dir, "mx.b.test");
    let b = site(
        "out-b",
        "b.test",
        port,
        &[("smtpd_tls_cert_file", &cert), ("smtpd_tls_key_file", &key)],
    );
    let a = sender(&dns, port, &[("smtp_tls_security_level", "verify")]);

    a.send("alice@a.test", "bob@b.test", "verified");
    let line = a.wait_log("to=<bob@b.test>");
    assert!(line.contains("status=deferred"), "{line}");
    assert!(
        line.contains("TLS handshake with mx.b.test[127.0.0.1]"),
        "{line}"
    );
    assert!(line.contains("UnknownIssuer"), "{line}");
    assert!(b.messages("bob").is_empty());

    // Trusting the CA that signed B's certificate (which names mx.b.test) lets
    // the mail through.
    let a2 = sender(
        &dns,
        port,
        &[
            ("smtp_tls_security_level", "verify"),
            ("smtp_tls_CAfile", &ca),
        ],
    );
    a2.send("alice@a.test", "bob@b.test", "verified now");
    let got = b.wait_messages("bob", 1);
    assert!(got[0].contains("Subject: verified now"));
    assert!(got[0].contains("with ESMTPS"), "{}", got[0]);
}

#[test]
fn ipv6_mx_hosts_are_reached() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    let sink = SmtpSink::start(
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        port,
        SinkOptions::default(),
    )
    .unwrap();
    dns.mx("six.test", 10, "mx.six.test");
    dns.aaaa("mx.six.test", Ipv6Addr::LOCALHOST);
    let a = sender(&dns, port, &[("inet_protocols", "all")]);

    a.send("alice@a.test", "x@six.test", "over ipv6");
    sink.wait_for(1, WAIT).unwrap();
    a.wait_log("relay=mx.six.test[::1]");
}

#[test]
fn a_stalled_mx_is_timed_out_and_the_next_one_used() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    let stalled = sink_on(1, port, SinkOptions::default());
    stalled.stall(Stage::Connect);
    let backup = sink_on(2, port, SinkOptions::default());
    dns.mx("c.test", 10, "mx1.c.test");
    dns.a("mx1.c.test", Ipv4Addr::LOCALHOST);
    dns.mx("c.test", 20, "mx2.c.test");
    dns.a("mx2.c.test", Ipv4Addr::new(127, 0, 0, 2));
    let a = sender(&dns, port, &[("smtp_helo_timeout", "2s")]);

    a.send("alice@a.test", "x@c.test", "stall");
    backup.wait_for(1, WAIT).unwrap();
    let line = a.wait_log("conversation with mx1.c.test[127.0.0.1]");
    assert!(
        line.contains("timed out while receiving the initial server greeting"),
        "{line}"
    );
    let line = a.wait_log("to=<x@c.test>");
    assert!(line.contains("relay=mx2.c.test[127.0.0.2]"), "{line}");
}

#[test]
fn smtputf8_mail_bounces_for_a_server_without_it_and_loops_are_refused() {
    let port = free_port().unwrap();
    let dns = DnsServer::start().unwrap();
    let sink = sink_on(
        1,
        port,
        SinkOptions {
            capabilities: vec!["8BITMIME".into()],
            ..SinkOptions::default()
        },
    );
    dns.mx("c.test", 10, "mx.c.test");
    dns.a("mx.c.test", Ipv4Addr::LOCALHOST);
    let a = sender(&dns, port, &[]);

    let mut c = SmtpClient::connect(a.smtp).unwrap();
    c.send("EHLO client.test")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("MAIL FROM:<alice@a.test> SMTPUTF8")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<j\u{f6}rg@c.test>").unwrap();
    c.send("RSET").unwrap().expect_code(250).unwrap();
    c.send("MAIL FROM:<alice@a.test> SMTPUTF8")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<x@c.test>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.data("Subject: utf8\r\n\r\nhi\r\n")
        .unwrap()
        .expect_code(250)
        .unwrap();
    let line = a.wait_log("to=<x@c.test>");
    assert!(line.contains("dsn=5.6.7, status=bounced"), "{line}");
    assert!(line.contains("SMTPUTF8 is required"), "{line}");
    assert!(sink.transactions().is_empty());

    // An MX that greets with our own name is ourselves.
    let me = SmtpSink::start(
        loopback(4),
        port,
        SinkOptions {
            greeting: "220 mx.a.test ESMTP".into(),
            ..SinkOptions::default()
        },
    )
    .unwrap();
    dns.mx("loop.test", 10, "mx.loop.test");
    dns.a("mx.loop.test", Ipv4Addr::new(127, 0, 0, 4));
    a.send("alice@a.test", "x@loop.test", "loop");
    let line = a.wait_log("to=<x@loop.test>");
    assert!(line.contains("loops back to myself"), "{line}");
    assert!(me.transactions().is_empty());
}

/// A CA and a server certificate for `name` signed by it, as PEM files in
/// `dir`: (CA, certificate, key).
fn ca_and_leaf(dir: &std::path::Path, name: &str) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Postern test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec![name.to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let write = |file: &str, text: String| {
        let path = dir.join(file);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    };
    (
        write("ca.pem", ca_cert.pem()),
        write("cert.pem", leaf.pem()),
        write("key.pem", leaf_key.serialize_pem()),
    )
}

/// A fresh directory for the test's own files.
fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "postern-test-outbound-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
