//! smtpd over real sockets: the protocol, the policy, and what lands in the queue.

use std::time::Duration;

use spool::{Queue, QueueId, Spool};
use testkit::{Instance, SmtpClient, free_port, wait_until};

use crate::support::{mail_instance, start_mail_instance};

const WAIT: Duration = Duration::from_secs(30);

/// An instance with an MX-style smtpd, a submission one (STARTTLS + AUTH required)
/// and a submissions one (implicit TLS), one virtual domain with two users, and
/// mynetworks limited to 127.0.0.1 so 127.0.0.2 is an outside client.
struct Mx {
    instance: Instance,
    smtp: u16,
    submission: u16,
    submissions: u16,
}

fn mx(name: &str, extra: &[(&str, &str)]) -> Mx {
    let (smtp, submission, submissions) = (
        free_port().unwrap(),
        free_port().unwrap(),
        free_port().unwrap(),
    );
    let builder = mail_instance(name, smtp)
        .main("mynetworks", "127.0.0.1/32")
        .service(&format!(
            "127.0.0.1:{submission} inet n - n - - smtpd -o smtpd_tls_security_level=encrypt -o smtpd_sasl_auth_enable=yes -o smtpd_client_restrictions=permit_sasl_authenticated,reject -o smtpd_sender_restrictions=reject_sender_login_mismatch"
        ))
        .service(&format!(
            "127.0.0.1:{submissions} inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_sasl_auth_enable=yes -o smtpd_client_restrictions=permit_sasl_authenticated,reject -o smtpd_sender_restrictions=reject_sender_login_mismatch"
        ));
    let instance = start_mail_instance(
        builder,
        extra,
        "# test users\nalice@example.org:{PLAIN}alice-secret\nbob@example.org:{PLAIN}bob-secret\n",
        "sales@example.org: alice@example.org\nroot: alice@example.org\n",
    );
    Mx {
        instance,
        smtp,
        submission,
        submissions,
    }
}

impl Mx {
    fn spool(&self) -> Spool {
        Spool::new(self.instance.queue_dir())
    }

    fn incoming(&self) -> Vec<QueueId> {
        self.spool().list(Queue::Incoming).unwrap()
    }

    /// Every file in incoming/, temporary ones included.
    fn incoming_files(&self) -> Vec<String> {
        std::fs::read_dir(self.instance.queue_dir().join("incoming"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    }

    fn message(&self, id: &QueueId) -> (spool::Envelope, String) {
        let file = self.spool().open(Queue::Incoming, id).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file.message(), &mut text).unwrap();
        (file.envelope().clone(), text)
    }
}

fn queued_id(reply: &testkit::SmtpReply) -> QueueId {
    let text = reply.text();
    let id = text.rsplit(' ').next().unwrap();
    id.parse()
        .unwrap_or_else(|_| panic!("no queue ID in {text:?}"))
}

fn ehlo(client: &mut SmtpClient) -> Vec<String> {
    client
        .send("EHLO client.example")
        .unwrap()
        .expect_code(250)
        .unwrap()
        .lines
}

#[test]
fn accepted_message_is_in_the_queue_before_250() {
    let mx = mx("smtpd-basic", &[]);
    let mut c = SmtpClient::connect(mx.smtp).unwrap();
    let caps = ehlo(&mut c);
    for cap in [
        "PIPELINING",
        "SIZE 10240000",
        "8BITMIME",
        "SMTPUTF8",
        "ENHANCEDSTATUSCODES",
        "CHUNKING",
        "DSN",
        "STARTTLS",
    ] {
        assert!(caps.iter().any(|l| l == cap), "{cap} missing from {caps:?}");
    }
    assert!(
        !caps.iter().any(|l| l.starts_with("AUTH")),
        "AUTH not enabled on port 25: {caps:?}"
    );
    c.send("MAIL FROM:<sender@remote.test> RET=HDRS ENVID=abc")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<Alice@Example.ORG> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;alice@example.org")
        .unwrap()
        .expect_code(250)
        .unwrap();
    let reply = c
        .data("Subject: hello\r\nMessage-ID: <m1@remote.test>\r\n\r\nbody line\r\n.leading dot\r\n")
        .unwrap()
        .expect_code(250)
        .unwrap();
    assert!(
        reply.text().starts_with("2.0.0 Ok: queued as "),
        "{}",
        reply.text()
    );
    let id = queued_id(&reply);
    // Already in incoming/ (and fsynced) when 250 was sent.
    assert_eq!(mx.incoming(), vec![id]);
    let (envelope, message) = mx.message(&id);
    assert_eq!(envelope.sender, "sender@remote.test");
    assert_eq!(envelope.recipients.len(), 1);
    assert_eq!(envelope.recipients[0].address, "Alice@Example.ORG");
    assert!(envelope.recipients[0].notify.success && envelope.recipients[0].notify.failure);
    assert_eq!(
        envelope.recipients[0].orcpt.as_deref(),
        Some("rfc822;alice@example.org")
    );
    assert_eq!(envelope.dsn_envid.as_deref(), Some("abc"));
    assert_eq!(envelope.dsn_ret, Some(spool::DsnRet::Headers));
    assert!(
        message.starts_with("Received: from client.example (localhost [127.0.0.1])\r\n\tby mx.test.example (Postern) with ESMTP id "),
        "{message}"
    );
    assert!(
        message.contains(&format!("id {id}\r\n\tfor <Alice@Example.ORG>; ")),
        "{message}"
    );
    assert!(
        message.contains("\r\nSubject: hello\r\nMessage-ID: <m1@remote.test>\r\n"),
        "{message}"
    );
    assert!(
        message.ends_with("\r\n\r\nbody line\r\n.leading dot\r\n"),
        "{message}"
    );
    // 127.0.0.1 is in mynetworks, so the missing Date: was added; the Message-ID kept.
    assert_eq!(message.matches("\r\nDate: ").count(), 1, "{message}");
    assert_eq!(message.matches("Message-ID:").count(), 1, "{message}");
    c.send("QUIT").unwrap().expect_code(221).unwrap();

    let log = mx
        .instance
        .wait_log(WAIT, &format!("{id}: from=<sender@remote.test>"))
        .unwrap();
    assert!(log.contains("nrcpt=1 (queued)"), "{log}");
    mx.instance
        .wait_log(WAIT, &format!("{id}: client=localhost[127.0.0.1]"))
        .unwrap();
    mx.instance
        .wait_log(WAIT, &format!("{id}: message-id=<m1@remote.test>"))
        .unwrap();
    mx.instance
        .wait_log(
            WAIT,
            "disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5",
        )
        .unwrap();
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let mx = mx("smtpd-pipelining", &[]);
    let mut c = SmtpClient::connect(mx.smtp).unwrap();
    ehlo(&mut c);
    c.write_raw(
        b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.org>\r\nRCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n",
    )
    .unwrap();
    let codes: Vec<u16> = (0..5).map(|_| c.read_reply().unwrap().code).collect();
    assert_eq!(codes, vec![250, 250, 550, 250, 354]);
    c.write_raw(b"Subject: x\r\n\r\nhi\r\n.\r\nNOOP\r\nQUIT\r\n")
        .unwrap();
    let id = queued_id(&c.read_reply().unwrap().expect_code(250).unwrap());
    c.read_reply().unwrap().expect_code(250).unwrap();
    c.read_reply().unwrap().expect_code(221).unwrap();
    let (envelope, _) = mx.message(&id);
    let rcpts: Vec<&str> = envelope
        .recipients
        .iter()
        .map(|r| r.address.as_str())
        .collect();
    assert_eq!(rcpts, vec!["alice@example.org", "bob@example.org"]);
}

#[test]
fn recipients_of_our_domains_must_exist_but_postmaster_always_does() {
    let mx = mx("smtpd-recipients", &[]);
    let mut c = SmtpClient::connect(mx.smtp).unwrap();
    ehlo(&mut c);
    c.send("MAIL FROM:<>").unwrap().expect_code(250).unwrap();
    let reply = c
        .send("RCPT TO:<nobody@example.org>")
        .unwrap()
        .expect_code(550)
        .unwrap();
    assert!(
        reply
            .text()
            .starts_with("5.1.1 <nobody@example.org>: Recipient address rejected: User unknown"),
        "{}",
        reply.text()
    );
    c.send("RCPT TO:<no-such-user@mx.test.example>")
        .unwrap()
        .expect_code(550)
        .unwrap();
    c.send("RCPT TO:<postmaster@example.org>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<postmaster>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<sales@example.org>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<root@mx.test.example>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    let id = queued_id(
        &c.data("Subject: bounce\r\n\r\nx\r\n")
            .unwrap()
            .expect_code(250)
            .unwrap(),
    );
    let (envelope, _) = mx.message(&id);
    assert_eq!(envelope.sender, "", "null sender kept");
    assert_eq!(envelope.recipients.len(), 4);
    mx.instance
        .wait_log(
            WAIT,
            "NOQUEUE: reject: RCPT from localhost[127.0.0.1]: 550 5.1.1 <nobody@example.org>",
        )
        .unwrap();
}

#[test]
fn relaying_needs_mynetworks_or_auth() {
    let mx = mx("smtpd-relay", &[]);
    // 127.0.0.2 is not in mynetworks (127.0.0.1/32).
    let mut outside = SmtpClient::connect_from("127.0.0.2", mx.smtp).unwrap();
    ehlo(&mut outside);
    outside
        .send("MAIL FROM:<a@remote.test>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    let reply = outside
        .send("RCPT TO:<victim@elsewhere.test>")
        .unwrap()
        .expect_code(554)
        .unwrap();
    assert_eq!(
        reply.text(),
        "5.7.1 <victim@elsewhere.test>: Relay access denied"
    );
    outside
        .send("RCPT TO:<alice@example.org>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    mx.instance
        .wait_log(WAIT, "NOQUEUE: reject: RCPT from unknown[127.0.0.2]: 554 5.7.1 <victim@elsewhere.test>: Relay access denied; from=<a@remote.test> to=<victim@elsewhere.test> proto=ESMTP helo=<client.example>")
        .unwrap();

    let mut inside = SmtpClient::connect(mx.smtp).unwrap();
    ehlo(&mut inside);
    inside
        .send("MAIL FROM:<a@mx.test.example>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    inside
        .send("RCPT TO:<someone@elsewhere.test>")
        .unwrap()
        .expect_code(250)
        .unwrap();
}

#[test]
fn smuggled_end_of_data_cannot_inject_a_second_message() {
    let mx = mx("smtpd-smuggling", &[]);
    for smuggled in [
        &b"\n.\n"[..],
        b"\n.\r\n",
        b"\r.\r\n",
        b"\r\n.\n",
        b"\r\n.\r",
    ] {
        let mut c = SmtpClient::connect(mx.smtp).unwrap();
        ehlo(&mut c);
        c.write_raw(b"MAIL FROM:<a@remote.test>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\n")
            .unwrap();
        for code in [250, 250, 354] {
            c.read_reply().unwrap().expect_code(code).unwrap();
        }
        let mut payload = b"Subject: first\r\n\r\nhello".to_vec();
        payload.extend_from_slice(smuggled);
        payload.extend_from_slice(b"MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nevil\r\n.\r\n");
        c.write_raw(&payload).unwrap();
        // One reply for the one message: refused for its bare newline.
        let reply = c.read_reply().unwrap();
        assert_eq!(reply.code, 550, "{smuggled:?}: {}", reply.text());
        assert!(reply.text().starts_with("5.5.2"), "{}", reply.text());
        // The session is in sync: the next command is a command.
        c.send("NOOP").unwrap().expect_code(250).unwrap();
        c.send("QUIT").unwrap().expect_code(221).unwrap();
    }
    assert!(mx.incoming_files().is_empty(), "{:?}", mx.incoming_files());
}

#[test]
fn bdat_chunks_make_one_message() {
    let mx = mx("smtpd-bdat", &[]);
    let mut c = SmtpClient::connect(mx.smtp).unwrap();
    ehlo(&mut c);
    c.send("MAIL FROM:<a@remote.test>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<alice@example.org>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    let first = b"Subject: chunks\r\n\r\n";
    let second = b"line one\r\n.not stuffed\r\n";
    c.write_raw(format!("BDAT {}\r\n", first.len()).as_bytes())
        .unwrap();
    c.write_raw(first).unwrap();
    // Pipelined: the last chunk and a NOOP in one write.
    let mut batch = format!("BDAT {} LAST\r\n", second.len()).into_bytes();
    batch.extend_from_slice(second);
    batch.extend_from_slice(b"NOOP\r\n");
    c.write_raw(&batch).unwrap();
    c.read_reply().unwrap().expect_code(250).unwrap();
    let id = queued_id(&c.read_reply().unwrap().expect_code(250).unwrap());
    c.read_reply().unwrap().expect_code(250).unwrap();
    let (_, message) = mx.message(&id);
    assert!(message.contains("\r\nSubject: chunks\r\n"), "{message}");
    assert!(
        message.ends_with("\r\n\r\nline one\r\n.not stuffed\r\n"),
        "{message}"
    );

    // BDAT without a transaction: its bytes are still consumed, then 503.
    c.write_raw(b"BDAT 6\r\nNOOP\r\nNOOP\r\n").unwrap();
    c.read_reply().unwrap().expect_code(503).unwrap();
    c.read_reply().unwrap().expect_code(250).unwrap();
}

#[test]
fn size_limits_are_enforced_and_the_session_stays_in_sync() {
    let mx = mx("smtpd-size", &[("message_size_limit", "2000")]);
    let mut c = SmtpClient::connect(mx.smtp).unwrap();
    let caps = ehlo(&mut c);
    assert!(caps.iter().any(|l| l == "SIZE 2000"), "{caps:?}");
    let reply = c
        .send("MAIL FROM:<a@remote.test> SIZE=2001")
        .unwrap()
        .expect_code(552)
        .unwrap();
    assert!(reply.text().starts_with("5.3.4"));
    c.send("MAIL FROM:<a@remote.test> SIZE=1000")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<alice@example.org>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    let big = format!(
        "Subject: big\r\n\r\n{}",
        "0123456789abcdef0123456789abcdef\r\n".repeat(100)
    );
    let reply = c.data(&big).unwrap().expect_code(552).unwrap();
    assert!(reply.text().starts_with("5.3.4"), "{}", reply.text());
    c.send("NOOP").unwrap().expect_code(250).unwrap();

    // A line over 998 octets.
    c.send("MAIL FROM:<a@remote.test>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<alice@example.org>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    let long = format!("Subject: long\r\n\r\n{}\r\n", "x".repeat(999));
    let reply = c.data(&long).unwrap();
    assert!(reply.code == 500 || reply.code == 552, "{reply:?}");
    c.send("NOOP").unwrap().expect_code(250).unwrap();
    // A command line over the limit.
    let reply = c.send(&format!("NOOP {}", "y".repeat(600))).unwrap();
    assert_eq!(reply.code, 500, "{reply:?}");
    c.send("NOOP").unwrap().expect_code(250).unwrap();
    assert!(mx.incoming_files().is_empty());
}

#[test]
fn disconnect_in_the_middle_of_data_leaves_nothing_queued() {
    let mx = mx("smtpd-disconnect", &[]);
    let mut c = SmtpClient::connect(mx.smtp).unwrap();
    ehlo(&mut c);
    c.send("MAIL FROM:<a@remote.test>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<alice@example.org>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("DATA").unwrap().expect_code(354).unwrap();
    c.write_raw(b"Subject: cut\r\n\r\n").unwrap();
    c.write_raw("lots of content\r\n".repeat(10_000).as_bytes())
        .unwrap();
    drop(c);
    mx.instance
        .wait_log(WAIT, "disconnect from localhost[127.0.0.1]")
        .unwrap();
    wait_until(WAIT, "incoming/ to be empty", || {
        mx.incoming_files().is_empty().then_some(())
    })
    .unwrap();
}

#[test]
fn sequence_errors_and_too_many_errors() {
    let mx = mx(
        "smtpd-errors",
        &[
            ("smtpd_hard_error_limit", "5"),
            ("smtpd_soft_error_limit", "100"),
        ],
    );
    let mut c = SmtpClient::connect(mx.smtp).unwrap();
    c.send("MAIL FROM:<a@b.test>")
        .unwrap()
        .expect_code(503)
        .unwrap();
    ehlo(&mut c);
    c.send("RCPT TO:<alice@example.org>")
        .unwrap()
        .expect_code(503)
        .unwrap();
    c.send("DATA").unwrap().expect_code(503).unwrap();
    c.send("EXPN root").unwrap().expect_code(502).unwrap();
    c.send("VRFY alice").unwrap().expect_code(252).unwrap();
    c.send("FOO").unwrap();
    let reply = c.read_reply().unwrap();
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(c.is_closed());
}

fn python(script: &str) -> (bool, String) {
    let output = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

#[test]
fn submission_needs_starttls_then_auth_and_own_sender_with_smtplib() {
    let mx = mx("smtpd-submission", &[]);
    // Before STARTTLS: no AUTH offered, MAIL refused.
    let mut c = SmtpClient::connect(mx.submission).unwrap();
    let caps = ehlo(&mut c);
    assert!(
        caps.iter().any(|l| l == "STARTTLS") && !caps.iter().any(|l| l.starts_with("AUTH")),
        "{caps:?}"
    );
    let reply = c
        .send("MAIL FROM:<alice@example.org>")
        .unwrap()
        .expect_code(530)
        .unwrap();
    assert!(reply.text().starts_with("5.7.0"));

    // A real client: Python's smtplib with STARTTLS and AUTH.
    let script = format!(
        r#"
import smtplib, ssl
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", {port}, timeout=30)
s.ehlo("laptop.example")
s.starttls(context=ctx)
s.ehlo("laptop.example")
assert "PLAIN" in s.esmtp_features["auth"], s.esmtp_features
# Not yet authenticated: the client restrictions refuse.
code, _ = s.mail("alice@example.org"); assert code == 554, code
s.rset()
try:
    s.login("alice@example.org", "wrong")
    raise SystemExit("wrong password accepted")
except smtplib.SMTPAuthenticationError as e:
    assert e.smtp_code == 535, e
s.login("Alice@Example.org", "alice-secret")
refused = s.sendmail("alice@example.org", ["bob@example.org", "someone@elsewhere.test"], "Subject: via smtplib\r\n\r\nhello\r\n")
assert refused == {{}}, refused
# Someone else's address as sender.
code, msg = s.mail("bob@example.org"); assert code == 553, (code, msg)
s.rset()
# An alias of alice's is hers.
code, msg = s.mail("sales@example.org"); assert code == 250, (code, msg)
s.quit()
print("ok")
"#,
        port = mx.submission
    );
    let (ok, out) = python(&script);
    assert!(ok, "{out}");
    let ids = mx.incoming();
    assert_eq!(ids.len(), 1);
    let (envelope, message) = mx.message(&ids[0]);
    assert_eq!(envelope.auth_user.as_deref(), Some("alice@example.org"));
    assert!(message.contains("with ESMTPSA id"), "{message}");
    assert!(message.contains("(using TLSv1."), "{message}");
    // A submission without Date: and Message-ID: gets them.
    assert!(message.contains("\r\nDate: "), "{message}");
    assert!(
        message.contains(&format!("\r\nMessage-ID: <{}@mx.test.example>", ids[0])),
        "{message}"
    );
    mx.instance
        .wait_log(WAIT, "sasl_method=PLAIN, sasl_username=alice@example.org")
        .unwrap();
    mx.instance
        .wait_log(WAIT, "SASL PLAIN authentication failed")
        .unwrap();
    mx.instance
        .wait_log(
            WAIT,
            "Anonymous TLS connection established from localhost[127.0.0.1]: TLSv1.3 with cipher",
        )
        .unwrap();
}

#[test]
fn submissions_port_speaks_tls_from_the_first_byte() {
    let mx = mx("smtpd-submissions", &[]);
    let script = format!(
        r#"
import smtplib, ssl
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", {port}, context=ctx, timeout=30)
s.ehlo("laptop.example")
assert "starttls" not in s.esmtp_features, s.esmtp_features
s.login("bob@example.org", "bob-secret")
s.sendmail("bob@example.org", ["alice@example.org"], "Subject: implicit\r\n\r\nhi\r\n")
s.quit()
print("ok")
"#,
        port = mx.submissions
    );
    let (ok, out) = python(&script);
    assert!(ok, "{out}");
    assert_eq!(mx.incoming().len(), 1);
}

#[test]
fn starttls_discards_plaintext_pipelined_after_it() {
    let mx = mx("smtpd-starttls-injection", &[]);
    let mut c = SmtpClient::connect(mx.smtp).unwrap();
    ehlo(&mut c);
    // The injected RSET would be answered after the handshake if it were kept.
    c.write_raw(b"STARTTLS\r\nRSET\r\n").unwrap();
    c.read_reply().unwrap().expect_code(220).unwrap();
    mx.instance
        .wait_log(WAIT, "discarding input pipelined after STARTTLS")
        .unwrap();
}

#[test]
fn recipient_limit_connection_limit_and_timeout() {
    let mx = mx(
        "smtpd-limits",
        &[
            ("smtpd_recipient_limit", "2"),
            ("smtpd_client_connection_count_limit", "2"),
            ("smtpd_timeout", "2s"),
        ],
    );
    let mut c = SmtpClient::connect_from("127.0.0.3", mx.smtp).unwrap();
    ehlo(&mut c);
    c.send("MAIL FROM:<a@remote.test>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<alice@example.org>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<bob@example.org>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    let reply = c
        .send("RCPT TO:<sales@example.org>")
        .unwrap()
        .expect_code(452)
        .unwrap();
    assert!(reply.text().starts_with("4.5.3"), "{}", reply.text());

    // A third simultaneous session from the same outside address is turned away.
    let _second = SmtpClient::connect_from("127.0.0.3", mx.smtp).unwrap();
    let socket = socket_from("127.0.0.3");
    socket
        .connect(&std::net::SocketAddr::from(([127, 0, 0, 1], mx.smtp)).into())
        .unwrap();
    let mut refused = String::new();
    std::io::Read::read_to_string(&mut std::net::TcpStream::from(socket), &mut refused).unwrap();
    assert!(refused.starts_with("421 4.7.0"), "{refused:?}");

    // An idle client is dropped after smtpd_timeout with 421 4.4.2.
    let reply = c.read_reply().unwrap();
    assert_eq!(reply.code, 421, "{reply:?}");
    assert!(reply.text().starts_with("4.4.2"), "{}", reply.text());
    mx.instance
        .wait_log(WAIT, "timeout after RCPT from unknown[127.0.0.3]")
        .unwrap();
}

fn socket_from(addr: &str) -> socket2::Socket {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let ip: std::net::IpAddr = addr.parse().unwrap();
    socket
        .bind(&std::net::SocketAddr::new(ip, 0).into())
        .unwrap();
    socket
}

#[test]
fn a_configuration_that_would_relay_for_anyone_does_not_start() {
    let port = free_port().unwrap();
    let mut instance = Instance::builder("smtpd-openrelay")
        .main("smtpd_relay_restrictions", "permit_mynetworks")
        .service(&format!("127.0.0.1:{port} inet n - n - - smtpd"))
        .create()
        .unwrap();
    instance.start_master().unwrap();
    let line = instance
        .wait_log(WAIT, "refusing to run as an open relay")
        .unwrap();
    assert!(line.contains("fatal:"), "{line}");
    // The service keeps failing, so master throttles it rather than serving.
    instance.wait_log(WAIT, "keeps dying").unwrap();
}
