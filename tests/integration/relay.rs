//! Open-relay tricks from a client outside `mynetworks` without AUTH: every form
//! that names another domain as the final destination is refused at RCPT, forms that
//! only dress up one of our own mailboxes are delivered here, and nothing is ever
//! queued for the other domain. See: issue 11.
//!
//! The client is 127.0.0.1, kept outside `mynetworks` by setting it to
//! 192.0.2.0/24; smtpd decides relaying by `mynetworks` and AUTH alone (loopback
//! only matters for offering AUTH, which port 25 does not do here).
//!
//! Also here: passwords only after TLS for a client that is not on loopback, on
//! SMTP, POP3 and IMAP (as root, with an address of 198.51.100.0/24 added for the
//! test; skipped with a notice otherwise).

use std::time::Duration;

use testkit::{Instance, SmtpClient, free_port, wait_until};

use crate::support::{mail_dir, mail_instance, maildir_count, start_mail_instance};

const WAIT: Duration = Duration::from_secs(60);

/// What a careful MTA does with a recipient form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Refused with a permanent error (relay denied, unknown user, bad syntax).
    Refused,
    /// One of our own mailboxes in another spelling: accepted, delivered here.
    Local,
}

use Expect::{Local, Refused};

/// The recipient forms tried, as written after `RCPT TO:`, with what must happen.
/// `other.example` is the domain a relay abuser wants to reach; `example.org`
/// (virtual, alice and postmaster) and `mx.test.example`/`localhost`
/// (`mydestination`) are ours.
const TRICKS: &[(&str, Expect)] = &[
    // The plain cases the tricks are measured against.
    ("<alice@example.org>", Local),
    ("<user@other.example>", Refused),
    // Case variants of our domain and of the user.
    ("<ALICE@EXAMPLE.ORG>", Local),
    ("<Alice@Example.Org>", Local),
    ("<alice@eXaMpLe.oRg>", Local),
    ("<\"alice\"@example.org>", Local),
    ("<USER@OTHER.EXAMPLE>", Refused),
    ("<user@Other.Example>", Refused),
    // The percent hack: never routed on, the local part is just an unknown user.
    ("<user%other.example@example.org>", Refused),
    ("<alice%other.example@example.org>", Refused),
    ("<USER%OTHER.EXAMPLE@EXAMPLE.ORG>", Refused),
    ("<user%other.example@mx.test.example>", Refused),
    ("<user%other.example@localhost>", Refused),
    ("<user%other.example%example.org@example.org>", Refused),
    ("<user%other.example>", Refused),
    ("<user@other.example%example.org>", Refused),
    // Source routes: dropped (RFC 5321 C), the mailbox alone decides.
    ("<@example.org:user@other.example>", Refused),
    ("<@EXAMPLE.ORG:user@other.example>", Refused),
    (
        "<@mx.test.example,@example.org:user@other.example>",
        Refused,
    ),
    ("<@example.org:user%other.example@example.org>", Refused),
    ("<@other.example:alice@example.org>", Local),
    ("<@other.example:postmaster>", Local),
    ("<@example.org:>", Refused),
    ("<@example.org>", Refused),
    ("<@:user@other.example>", Refused),
    // Bang paths (UUCP).
    ("<other.example!user@example.org>", Refused),
    ("<OTHER.EXAMPLE!USER@EXAMPLE.ORG>", Refused),
    ("<other.example!user@mx.test.example>", Refused),
    ("<other.example!user@localhost>", Refused),
    ("<other.example!user>", Refused),
    ("<example.org!other.example!user>", Refused),
    ("<other.example!alice@example.org>", Refused),
    // Quoted local parts holding an address.
    ("<\"user@other.example\"@example.org>", Refused),
    ("<\"USER@OTHER.EXAMPLE\"@EXAMPLE.ORG>", Refused),
    ("<\"user%other.example\"@example.org>", Refused),
    ("<\"other.example!user\"@example.org>", Refused),
    ("<\"user@other.example\">", Refused),
    ("<\"alice@example.org\"@other.example>", Refused),
    ("<\"user\"@other.example>", Refused),
    // Several @.
    ("<user@other.example@example.org>", Refused),
    ("<user@example.org@other.example>", Refused),
    ("<alice@@example.org>", Refused),
    // Trailing dots.
    ("<user@other.example.>", Refused),
    ("<user@OTHER.EXAMPLE.>", Refused),
    ("<user%other.example.@example.org>", Refused),
    // Address literals, and addresses that look like them.
    ("<user@[192.0.2.1]>", Refused),
    ("<user@[IPv6:2001:db8::1]>", Refused),
    ("<user@[ipv6:2001:DB8::1]>", Refused),
    ("<user@[127.0.0.1]>", Refused),
    ("<alice@[127.0.0.1]>", Refused),
    ("<user@192.0.2.1>", Refused),
    ("<user@[192.0.2.1]@example.org>", Refused),
    ("<user%[192.0.2.1]@example.org>", Refused),
    // Names that merely contain ours.
    ("<user@sub.example.org>", Refused),
    ("<user@example.org.other.example>", Refused),
    ("<user@otherexample.org>", Refused),
    // postmaster is special only without a domain, or in our domains.
    ("<postmaster@other.example>", Refused),
    ("<POSTMASTER@OTHER.EXAMPLE>", Refused),
    ("<postmaster%other.example@example.org>", Refused),
    ("<postmaster>", Local),
    ("<POSTMASTER>", Local),
    ("<postmaster@example.org>", Local),
    ("<Postmaster@MX.TEST.EXAMPLE>", Local),
    // Empty and odd forms.
    ("<>", Refused),
    ("<@>", Refused),
    ("<user@>", Refused),
    ("<@other.example>", Refused),
    ("", Refused),
    ("user@other.example", Refused),
    ("< user@other.example>", Refused),
    ("<user@other.example", Refused),
    ("<<user@other.example>>", Refused),
    ("<user@other.example>,<alice@example.org>", Refused),
    ("<user@other.example,alice@example.org>", Refused),
    ("<user@other.example> <alice@example.org>", Refused),
    ("<alice@example.org> <user@other.example>", Refused),
    ("<user @other.example>", Refused),
    ("<user@other .example>", Refused),
    ("<user@other.example:25>", Refused),
    ("<user@-other.example>", Refused),
    ("<user@other..example>", Refused),
    ("<user\\@other.example@example.org>", Refused),
    ("<\"user\\\"@other.example\"@example.org>", Refused),
];

/// Recipient forms with non-ASCII text, tried in an SMTPUTF8 transaction.
const UTF8_TRICKS: &[(&str, Expect)] = &[
    ("<user@other.exämple>", Refused),
    ("<user%other.exämple@example.org>", Refused),
    ("<üser@other.example>", Refused),
    ("<alice@example.org>", Local),
];

/// The outcome of one recipient form.
struct Tried {
    rcpt: &'static str,
    expect: Expect,
    code: u16,
    text: String,
}

impl Tried {
    fn is_as_expected(&self) -> bool {
        match self.expect {
            Refused => (500..600).contains(&self.code),
            Local => self.code == 250,
        }
    }
}

/// Tries every form of `tricks` in one transaction (MAIL FROM with `mail_params`);
/// the session must stay usable throughout. Returns how each went, and sends the
/// accepted ones a message if there are any.
fn try_tricks(
    port: u16,
    mail_params: &str,
    tricks: &'static [(&'static str, Expect)],
) -> Vec<Tried> {
    let mut c = SmtpClient::connect(port).unwrap();
    c.send("EHLO relay-tester.example")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send(&format!("MAIL FROM:<spammer@remote.test>{mail_params}"))
        .unwrap()
        .expect_code(250)
        .unwrap();
    let mut tried = Vec::new();
    for &(rcpt, expect) in tricks {
        let reply = c.send(&format!("RCPT TO:{rcpt}")).unwrap();
        tried.push(Tried {
            rcpt,
            expect,
            code: reply.code,
            text: reply.text(),
        });
    }
    if tried.iter().any(|t| t.code == 250) {
        c.data("Subject: relay probe\r\n\r\nIf this leaves the host, it is an open relay.\r\n")
            .unwrap()
            .expect_code(250)
            .unwrap();
    }
    c.send("QUIT").unwrap().expect_code(221).unwrap();
    tried
}

/// Every recipient address of every message `postern queue list --json` shows.
fn queued_recipients(instance: &Instance) -> Vec<String> {
    let out = instance.postern(&["queue", "list", "--json"]).unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|line| {
            let message: serde_json::Value = serde_json::from_str(line).unwrap();
            message["recipients"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|r| r["address"].as_str().map(str::to_owned))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn is_our_domain(address: &str) -> bool {
    let domain = address
        .rsplit_once('@')
        .map_or("", |(_, d)| d)
        .to_ascii_lowercase();
    domain.is_empty() || ["example.org", "mx.test.example", "localhost"].contains(&&*domain)
}

#[test]
fn issue_11_open_relay_tricks_are_refused_from_outside_mynetworks() {
    // See: issue 11.
    let smtp = free_port().unwrap();
    let builder = mail_instance("relay-tricks", smtp)
        .main("mynetworks", "192.0.2.0/24")
        .main("virtual_mailbox_base", "$queue_directory/../mail")
        // Every refusal counts as an error: let the session take them all.
        .main("smtpd_soft_error_limit", "1000")
        .main("smtpd_hard_error_limit", "1000")
        // Mail for other domains would wait in deferred/ (no smtp service), where
        // the queue listing shows it.
        .service("qmgr unix - - n - 1 qmgr")
        .service("local unix - - n - - local");
    let instance = start_mail_instance(
        builder,
        &[],
        "alice@example.org:{PLAIN}alice-pw\n",
        "postmaster: alice@example.org\nroot: alice@example.org\n",
    );

    let mut tried = try_tricks(smtp, "", TRICKS);
    tried.extend(try_tricks(smtp, " SMTPUTF8", UTF8_TRICKS));

    let mut report = String::new();
    for t in &tried {
        report.push_str(&format!(
            "{:>3} {:<48} {:?}: {}\n",
            t.code,
            t.rcpt,
            t.expect,
            t.text.lines().next().unwrap_or("")
        ));
    }
    eprintln!("{report}");
    let wrong: Vec<&Tried> = tried.iter().filter(|t| !t.is_as_expected()).collect();
    assert!(
        wrong.is_empty(),
        "not as expected:\n{}\n{}",
        wrong
            .iter()
            .map(|t| format!("{:?} {}: {} {}", t.expect, t.rcpt, t.code, t.text))
            .collect::<Vec<_>>()
            .join("\n"),
        instance.dump()
    );
    // A relay attempt is refused as one (not by accident, say with a temporary
    // error a client would retry).
    for t in tried
        .iter()
        .filter(|t| t.rcpt.eq_ignore_ascii_case("<user@other.example>"))
    {
        assert_eq!(t.code, 554, "{}: {}", t.rcpt, t.text);
        assert!(t.text.starts_with("5.7.1 "), "{}: {}", t.rcpt, t.text);
    }
    let refused = tried.iter().filter(|t| t.expect == Refused).count();
    let local = tried.iter().filter(|t| t.expect == Local).count();
    let relay_denied = tried.iter().filter(|t| t.code == 554).count();
    let unknown_user = tried.iter().filter(|t| t.code == 550).count();
    let bad_syntax = tried.iter().filter(|t| t.code == 501).count();
    eprintln!(
        "relay tricks: {} recipient forms tried: {refused} refused ({relay_denied} relay denied, {unknown_user} unknown user, {bad_syntax} bad syntax, {} other 5xx), none accepted for another domain; {local} spellings of our own mailboxes accepted and delivered here",
        tried.len(),
        refused - relay_denied - unknown_user - bad_syntax
    );

    // The accepted forms reached alice (two messages), and nothing is left in the
    // queue, certainly nothing for another domain.
    let alice = mail_dir(&instance).join("example.org").join("alice");
    wait_until(WAIT, "both probes in alice's Maildir", || {
        (maildir_count(&alice) >= 2).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    wait_until(WAIT, "an empty queue", || {
        let left = queued_recipients(&instance);
        assert!(
            left.iter().all(|a| is_our_domain(a)),
            "queued for another domain: {left:?}\n{}",
            instance.dump()
        );
        left.is_empty().then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    assert!(instance.queue_is_empty(), "{}", instance.dump());
    let log = instance.log();
    assert!(
        !log.lines().any(|l| l.contains("to=<")
            && l.to_ascii_lowercase().contains("other.ex")
            && !l.contains("reject:")),
        "a delivery line names the other domain:\n{log}"
    );
    instance
        .wait_log(WAIT, "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 554 5.7.1 <user@other.example>: Relay access denied")
        .unwrap();
}

/// A non-loopback IPv4 address on this host for as long as the value lives, so a test
/// can be a client that is neither loopback nor in `mynetworks` (the kernel routes
/// the address locally: server and client both use it). On a dummy interface when
/// the kernel has the module, else on `lo`, where the address is still not loopback
/// to the daemons (they look at the address, not the device). Root only.
struct ExtraAddress {
    /// The address.
    addr: std::net::Ipv4Addr,
    device: String,
    created_link: bool,
}

impl ExtraAddress {
    /// Adds `addr`, on a dummy interface named `link` if possible; None (with a
    /// printed notice naming `test`) when not root or when `ip` fails.
    fn add(addr: std::net::Ipv4Addr, link: &str, test: &str) -> Option<ExtraAddress> {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("{test}: skipped: needs root to add {addr} to an interface");
            return None;
        }
        let ip = |args: &[&str]| {
            std::process::Command::new("ip")
                .args(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        let cidr = format!("{addr}/32");
        // A leftover of an interrupted run is removed first.
        ip(&["link", "del", link]);
        ip(&["addr", "del", &cidr, "dev", "lo"]);
        let created_link = ip(&["link", "add", link, "type", "dummy"]);
        let device = if created_link { link } else { "lo" };
        let added = ip(&["addr", "add", &cidr, "dev", device])
            && (!created_link || ip(&["link", "set", link, "up"]));
        let extra = ExtraAddress {
            addr,
            device: device.to_owned(),
            created_link,
        };
        if !added {
            eprintln!("{test}: skipped: cannot add {addr} to {device} with ip(8)");
            return None;
        }
        eprintln!("{test}: using {addr} on {device}");
        Some(extra)
    }
}

impl Drop for ExtraAddress {
    fn drop(&mut self) {
        let args: Vec<String> = if self.created_link {
            vec!["link".into(), "del".into(), self.device.clone()]
        } else {
            vec![
                "addr".into(),
                "del".into(),
                format!("{}/32", self.addr),
                "dev".into(),
                self.device.clone(),
            ]
        };
        let _ = std::process::Command::new("ip")
            .args(&args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
}

#[test]
fn issue_11_passwords_need_tls_from_a_non_loopback_client() {
    // See: issue 11.
    let test = "issue_11_passwords_need_tls_from_a_non_loopback_client";
    let Some(extra) = ExtraAddress::add(std::net::Ipv4Addr::new(198, 51, 100, 11), "ptest11", test)
    else {
        return;
    };
    let host = extra.addr.to_string();
    let (smtp, pop3, imap) = (
        free_port().unwrap(),
        free_port().unwrap(),
        free_port().unwrap(),
    );
    let builder = Instance::builder("relay-plaintext")
        .main("mydestination", "mx.test.example, localhost")
        .main("virtual_mailbox_domains", "example.org")
        .main("virtual_user_maps", "passwd-file:$config_directory/users")
        .main("alias_maps", "hash:$config_directory/aliases")
        .main("virtual_mailbox_base", "$queue_directory/../mail")
        .main("mynetworks", "127.0.0.0/8")
        .service(&format!(
            "{host}:{smtp} inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes"
        ))
        .service(&format!("{host}:{pop3} inet n - n - - pop3d"))
        .service(&format!("{host}:{imap} inet n - n - - imapd"));
    let instance = start_mail_instance(builder, &[], "alice@example.org:{PLAIN}alice-pw\n", "");
    let out = crate::support::python(&format!(
        r#"
import base64, imaplib, poplib, smtplib, socket, ssl
HOST = "{host}"
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
plain = base64.b64encode(b"\0alice@example.org\0alice-pw").decode()

# SMTP: no AUTH offered and AUTH refused before STARTTLS; TLS alone does not
# make a relay; after AUTH it works.
s = smtplib.SMTP(HOST, {smtp}, timeout=30, source_address=(HOST, 0))
s.ehlo("laptop.example")
assert "auth" not in s.esmtp_features, s.esmtp_features
assert "starttls" in s.esmtp_features, s.esmtp_features
for args in (("AUTH", "PLAIN " + plain), ("AUTH", "PLAIN"), ("AUTH", "LOGIN")):
    code, msg = s.docmd(*args)
    assert code in (530, 538), (args, code, msg)
s.mail("a@remote.test"); code, msg = s.rcpt("user@other.example")
assert code == 554, (code, msg)
s.rset()
s.starttls(context=ctx); s.ehlo("laptop.example")
assert "PLAIN" in s.esmtp_features["auth"] and "LOGIN" in s.esmtp_features["auth"], s.esmtp_features
s.mail("a@remote.test"); code, msg = s.rcpt("user@other.example")
assert code == 554, ("TLS alone relayed", code, msg)
s.rset()
s.login("alice@example.org", "alice-pw")
s.mail("alice@example.org"); code, msg = s.rcpt("user@other.example")
assert code == 250, ("authenticated relay refused", code, msg)
s.rset(); s.quit()
print("smtp ok")

# POP3: CAPA without USER and SASL, USER/PASS and AUTH refused; after STLS all work.
class POP3From(poplib.POP3):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(HOST, 0))
p = POP3From(HOST, {pop3}, timeout=30)
caps = p.capa()
assert "USER" not in caps and "SASL" not in caps and "STLS" in caps, caps
for line in ("USER alice@example.org", "PASS alice-pw", "AUTH PLAIN " + plain, "AUTH PLAIN"):
    try:
        p._shortcmd(line)
        raise SystemExit("accepted in the clear: " + line)
    except poplib.error_proto as e:
        assert str(e).startswith("b'-ERR"), (line, e)
        if line.startswith(("USER", "AUTH")):
            assert "[AUTH]" in str(e), (line, e)
p.stls(context=ctx)
caps = p.capa()
assert "USER" in caps and "PLAIN" in caps["SASL"] and "STLS" not in caps, caps
p.user("alice@example.org"); p.pass_("alice-pw")
assert p.stat() == (0, 0), p.stat()
p.quit()
p = POP3From(HOST, {pop3}, timeout=30)
p.stls(context=ctx)
resp = p._shortcmd("AUTH PLAIN " + plain)
assert resp.startswith(b"+OK"), resp
p.quit()
print("pop3 ok")

# IMAP: LOGINDISABLED, LOGIN and AUTHENTICATE PLAIN refused with PRIVACYREQUIRED;
# after STARTTLS both work.
class IMAPFrom(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(HOST, 0))
m = IMAPFrom(HOST, {imap}, timeout=30)
assert "LOGINDISABLED" in m.capabilities and "AUTH=PLAIN" not in m.capabilities, m.capabilities
assert "STARTTLS" in m.capabilities, m.capabilities
try:
    m.login("alice@example.org", "alice-pw")
    raise SystemExit("LOGIN accepted in the clear")
except imaplib.IMAP4.error as e:
    assert "PRIVACYREQUIRED" in str(e), e
try:
    m.authenticate("PLAIN", lambda _: b"\0alice@example.org\0alice-pw")
    raise SystemExit("AUTHENTICATE accepted in the clear")
except imaplib.IMAP4.error as e:
    assert "PRIVACYREQUIRED" in str(e), e
tag = m._new_tag()
m.send(tag + b" AUTHENTICATE PLAIN " + plain.encode() + b"\r\n")
resp = m.readline()
assert resp.startswith(tag + b" NO [PRIVACYREQUIRED]"), resp
m.starttls(ssl_context=ctx)
assert "AUTH=PLAIN" in m.capabilities and "LOGINDISABLED" not in m.capabilities, m.capabilities
m.login("alice@example.org", "alice-pw")
typ, data = m.select("INBOX")
assert typ == "OK", (typ, data)
m.logout()
m = IMAPFrom(HOST, {imap}, timeout=30)
m.starttls(ssl_context=ctx)
m.authenticate("PLAIN", lambda _: b"\0alice@example.org\0alice-pw")
m.logout()
print("imap ok")
"#
    ));
    assert!(out.contains("imap ok"), "{out}");
    let log = instance.log();
    for needle in [
        format!("connect from unknown[{host}]"),
        format!("Login: user=<alice@example.org>, method=PLAIN, rip={host}, TLS"),
        format!("imap-login: Login: user=<alice@example.org>, method=PLAIN, rip={host}, TLS"),
    ] {
        assert!(log.contains(&needle), "no {needle:?} in\n{log}");
    }
    assert!(
        !log.lines().any(|l| l.contains("Login: user=")
            && l.contains(&format!("rip={host}"))
            && !l.ends_with("TLS")),
        "a login without TLS from {host}:\n{log}"
    );
    drop(instance);
    drop(extra);
}
