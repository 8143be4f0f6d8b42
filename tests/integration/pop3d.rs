//! pop3d over real sockets, with Python's poplib as the client.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use testkit::{Instance, free_port, wait_until};

use crate::support::{
    ALICE_AND_BOB, mail_dir, maildir_count, maildir_instance, python, smtp_send,
    start_mail_instance,
};

const WAIT: Duration = Duration::from_secs(60);

struct Pop {
    instance: Instance,
    smtp: u16,
    pop3: u16,
    pop3s: u16,
    mail: PathBuf,
}

fn pop(name: &str) -> Pop {
    let (smtp, pop3, pop3s) = (
        free_port().unwrap(),
        free_port().unwrap(),
        free_port().unwrap(),
    );
    let builder = maildir_instance(name, smtp, pop3).service(&format!(
        "127.0.0.1:{pop3s} inet n - n - - pop3d -o pop3d_tls_wrappermode=yes"
    ));
    let instance = start_mail_instance(builder, &[], ALICE_AND_BOB, "");
    let mail = mail_dir(&instance);
    Pop {
        instance,
        smtp,
        pop3,
        pop3s,
        mail,
    }
}

impl Pop {
    fn deliver(&self, to: &str, subject: &str, body: &str) {
        smtp_send(
            self.smtp,
            to,
            &format!("Subject: {subject}\r\nMessage-ID: <{subject}@remote.test>\r\n\r\n{body}"),
        );
    }

    fn maildir_count(&self, user: &str) -> usize {
        maildir_count(&self.mail.join("example.org").join(user))
    }

    fn wait_delivered(&self, user: &str, count: usize) {
        wait_until(WAIT, "delivery", || {
            (self.maildir_count(user) >= count).then_some(())
        })
        .unwrap_or_else(|e| panic!("{e:#}\n{}", self.instance.dump()));
    }
}

#[test]
fn poplib_reads_and_deletes_mail_with_stable_uidls() {
    let pop = pop("pop3-basic");
    // One at a time, so the delivery order (and so the message numbers) is known.
    pop.deliver("alice@example.org", "first", "line one\r\n.dotted line\r\n");
    pop.wait_delivered("alice", 1);
    pop.deliver(
        "alice@example.org",
        "second",
        "body two\r\n\r\nmore\r\nand more\r\n",
    );
    pop.wait_delivered("alice", 2);
    let out = python(&format!(
        r#"
import poplib
p = poplib.POP3("127.0.0.1", {port}, timeout=30)
caps = p.capa()
assert "UIDL" in caps and "TOP" in caps and "STLS" in caps and "USER" in caps, caps
assert "PLAIN" in caps["SASL"], caps
p.user("alice@example.org")
p.pass_("alice-pw")
count, size = p.stat()
assert count == 2, count
resp, listing, _ = p.list()
sizes = [int(l.split()[1]) for l in listing]
assert sum(sizes) == size, (sizes, size)
resp, lines, octets = p.retr(1)
assert resp.startswith(b"+OK"), resp
# The listed size is the message in CRLF form, exactly.
assert sum(len(l) + 2 for l in lines) == sizes[0], (lines, sizes)
assert b"Subject: first" in lines and b".dotted line" in lines, lines
resp, top, _ = p.top(2, 1)
assert b"Subject: second" in top and top[-1] == b"body two" and b"more" not in top, top
uidls = [l.split()[1].decode() for l in p.uidl()[1]]
assert all(len(u) == 16 and int(u, 16) >= 0 for u in uidls), uidls
p.dele(1)
try:
    p.retr(1)
    raise SystemExit("deleted message retrieved")
except poplib.error_proto as e:
    assert "-ERR" in str(e), e
p.rset()
assert p.stat()[0] == 2
p.dele(1)
p.quit()
p = poplib.POP3("127.0.0.1", {port}, timeout=30)
p.user("alice@example.org")
p.pass_("alice-pw")
assert p.stat()[0] == 1
left = p.uidl()[1][0].split()[1].decode()
assert left == uidls[1], (left, uidls)
p.quit()
print("uidls", uidls)
"#,
        port = pop.pop3
    ));
    assert!(out.contains("uidls"), "{out}");
    assert_eq!(pop.maildir_count("alice"), 1);
    // New mail was moved to cur/ once seen.
    let new = pop.mail.join("example.org/alice/new");
    assert_eq!(std::fs::read_dir(new).unwrap().count(), 0);
    pop.instance
        .wait_log(WAIT, "Login: user=<alice@example.org>, method=PLAIN")
        .unwrap();
    let logout = pop
        .instance
        .wait_log(WAIT, "Disconnected: Logged out user=<alice@example.org>")
        .unwrap();
    assert!(logout.contains("del=1/2"), "{logout}");
}

#[test]
fn a_second_session_gets_in_use_and_bad_logins_fail() {
    let pop = pop("pop3-inuse");
    pop.deliver("bob@example.org", "x", "x\r\n");
    pop.wait_delivered("bob", 1);
    python(&format!(
        r#"
import poplib
a = poplib.POP3("127.0.0.1", {port}, timeout=30)
a.user("bob@example.org"); a.pass_("bob-pw")
b = poplib.POP3("127.0.0.1", {port}, timeout=30)
b.user("bob@example.org")
try:
    b.pass_("bob-pw")
    raise SystemExit("second session got the maildrop")
except poplib.error_proto as e:
    assert "[IN-USE]" in str(e), e
c = poplib.POP3("127.0.0.1", {port}, timeout=30)
c.user("bob@example.org")
try:
    c.pass_("wrong")
    raise SystemExit("wrong password accepted")
except poplib.error_proto as e:
    assert "[AUTH]" in str(e), e
a.quit()
# The lock went with the first session.
b = poplib.POP3("127.0.0.1", {port}, timeout=30)
b.user("bob@example.org"); b.pass_("bob-pw")
assert b.stat()[0] == 1
b.quit()
"#,
        port = pop.pop3
    ));
}

#[test]
fn stls_and_implicit_tls_with_sasl_plain() {
    let pop = pop("pop3-tls");
    pop.deliver("alice@example.org", "secure", "over tls\r\n");
    pop.wait_delivered("alice", 1);
    python(&format!(
        r#"
import poplib, ssl, base64
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3("127.0.0.1", {pop3}, timeout=30)
p.stls(context=ctx)
assert "STLS" not in p.capa()
p.user("alice@example.org"); p.pass_("alice-pw")
assert p.stat()[0] == 1
p.quit()
s = poplib.POP3_SSL("127.0.0.1", {pop3s}, context=ctx, timeout=30)
token = base64.b64encode(b"\0alice@example.org\0alice-pw").decode()
resp = s._shortcmd("AUTH PLAIN " + token)
assert resp.startswith(b"+OK"), resp
resp, lines, _ = s.retr(1)
assert b"over tls" in lines, lines
s.quit()
"#,
        pop3 = pop.pop3,
        pop3s = pop.pop3s
    ));
    pop.instance
        .wait_log(WAIT, "method=PLAIN, rip=127.0.0.1, TLS")
        .unwrap();
}

#[test]
fn bad_commands_get_err_and_the_session_goes_on() {
    let pop = pop("pop3-errors");
    let stream = TcpStream::connect(("127.0.0.1", pop.pop3)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("+OK"), "{line}");
    for (command, want) in [
        ("STAT", "-ERR"),
        ("BOGUS", "-ERR"),
        ("PASS x", "-ERR"),
        ("RETR 1", "-ERR"),
        ("LIST abc", "-ERR"),
        ("NOOP", "-ERR"),
        ("APOP a b", "-ERR"),
        ("USER alice@example.org", "+OK"),
    ] {
        reader
            .get_mut()
            .write_all(format!("{command}\r\n").as_bytes())
            .unwrap();
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with(want), "{command}: {line}");
    }
    let long = format!("USER {}\r\n", "x".repeat(400));
    reader.get_mut().write_all(long.as_bytes()).unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("-ERR"), "{line}");
    reader.get_mut().write_all(b"QUIT\r\n").unwrap();
    line.clear();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("+OK"), "{line}");
}

#[test]
fn curl_retrieves_over_pop3s_and_a_killed_session_frees_the_lock() {
    let pop = pop("pop3-curl");
    pop.deliver(
        "alice@example.org",
        "curl",
        ".starts with a dot\r\nplain\r\n",
    );
    pop.wait_delivered("alice", 1);
    // curl, a second real client: list, then retrieve message 1 over TLS.
    let output = std::process::Command::new("curl")
        .args(["--silent", "--show-error", "--insecure", "--max-time", "30"])
        .arg(format!("pop3s://127.0.0.1:{}/1", pop.pop3s))
        .args(["--user", "alice@example.org:alice-pw"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(text.contains("Subject: curl"), "{text}");
    assert!(text.contains("\r\n.starts with a dot\r\n"), "{text:?}");

    // A session holding the maildrop dies with kill -9: the lock dies with it.
    let mut holder = TcpStream::connect(("127.0.0.1", pop.pop3)).unwrap();
    holder.set_read_timeout(Some(WAIT)).unwrap();
    let mut reader = BufReader::new(holder.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    holder
        .write_all(b"USER alice@example.org\r\nPASS alice-pw\r\n")
        .unwrap();
    for _ in 0..2 {
        line.clear();
        reader.read_line(&mut line).unwrap();
        assert!(line.starts_with("+OK"), "{line}");
    }
    let status = pop.instance.status().unwrap();
    let pid = status
        .services
        .iter()
        .find(|s| s.name == format!("127.0.0.1:{}", pop.pop3))
        .and_then(|s| s.processes.first())
        .unwrap()
        .pid;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    wait_until(WAIT, "a new pop3d", || {
        let status = pop.instance.status().ok()?;
        let service = status
            .services
            .iter()
            .find(|s| s.name == format!("127.0.0.1:{}", pop.pop3))?;
        service
            .processes
            .first()
            .filter(|p| p.pid != pid)
            .map(|_| ())
    })
    .unwrap();
    python(&format!(
        r#"
import poplib
p = poplib.POP3("127.0.0.1", {port}, timeout=30)
p.user("alice@example.org"); p.pass_("alice-pw")
assert p.stat()[0] == 1
p.quit()
"#,
        port = pop.pop3
    ));
}
