//! From SMTP to Maildir through qmgr and local: delivery, aliases, retries,
//! bounces, expiry and crash safety.

use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use testkit::{Instance, SmtpClient, free_port, wait_until};

use crate::support::{
    mail_instance, maildir_messages, start_mail_instance, submit, wait_maildir_messages,
};

const WAIT: Duration = Duration::from_secs(60);

struct Site {
    instance: Instance,
    smtp: u16,
    mail: PathBuf,
}

const USERS: &str =
    "alice@example.org:{PLAIN}a\nbob@example.org:{PLAIN}b\ncarol@example.org:{PLAIN}c\n";

fn site(name: &str, extra: &[(&str, &str)], aliases: &str) -> Site {
    site_with_users(name, extra, aliases, USERS)
}

fn site_with_users(name: &str, extra: &[(&str, &str)], aliases: &str, users: &str) -> Site {
    let smtp = free_port().unwrap();
    let builder = mail_instance(name, smtp)
        .main("virtual_mailbox_base", "$queue_directory/../mail")
        .service("qmgr unix - - n - 1 qmgr")
        // As etc/examples/master.cf: local as root (when the tests are), writing
        // each mailbox from a child switched to its owner, commands as default_privs.
        .service("local unix - n n - - local");
    let instance = start_mail_instance(builder, extra, users, aliases);
    let mail = instance.queue_dir().parent().unwrap().join("mail");
    Site {
        instance,
        smtp,
        mail,
    }
}

impl Site {
    fn maildir(&self, user: &str) -> PathBuf {
        self.mail.join("example.org").join(user)
    }

    /// The messages in a user's `new/`, as text.
    fn messages(&self, user: &str) -> Vec<String> {
        maildir_messages(&self.maildir(user).join("new"))
    }

    fn wait_messages(&self, user: &str, count: usize) -> Vec<String> {
        wait_maildir_messages(&self.instance, &self.maildir(user).join("new"), count)
    }

    fn wait_queue_empty(&self) {
        wait_until(WAIT, "the queue to be empty", || {
            self.instance.queue_is_empty().then_some(())
        })
        .unwrap_or_else(|e| panic!("{e:#}\n{}", self.instance.dump()));
    }

    fn send(&self, from: &str, to: &[&str], body: &str) -> String {
        submit(self.smtp, from, to, "", body)
    }

    fn pid_of(&self, command: &str) -> Option<u32> {
        let status = self.instance.status().ok()?;
        status
            .services
            .iter()
            .find(|s| s.command == command)?
            .processes
            .first()
            .map(|p| p.pid)
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn mail_reaches_each_mailbox_once_byte_exact() {
    let site = site("deliver", &[], "");
    let body = "Subject: hello\r\nMessage-ID: <e2e-1@remote.test>\r\n\r\nfirst line\r\n..dot line\r\nlast line\r\n";
    let id = site.send(
        "sender@remote.test",
        &["alice@example.org", "Bob@Example.org"],
        body,
    );
    for user in ["alice", "bob"] {
        let messages = site.wait_messages(user, 1);
        assert_eq!(messages.len(), 1);
        let message = &messages[0];
        let want_start = format!(
            "Return-Path: <sender@remote.test>\nDelivered-To: {user}@example.org\nReceived: from client.example (localhost [127.0.0.1])\n"
        );
        assert!(message.starts_with(&want_start), "{message}");
        assert!(
            message.contains("Subject: hello\nMessage-ID: <e2e-1@remote.test>\n")
                && message.ends_with("\n\nfirst line\n..dot line\nlast line\n"),
            "{message}"
        );
        assert!(!message.contains('\r'));
    }
    site.wait_queue_empty();
    let log = site.instance.log();
    assert!(
        log.contains(&format!("{id}: from=<sender@remote.test>, size=")),
        "{log}"
    );
    assert!(log.contains("(queue active)"));
    assert!(
        log.contains(&format!(
            "{id}: to=<alice@example.org>, relay=local, delay="
        )),
        "{log}"
    );
    assert!(
        log.contains("dsn=2.0.0, status=sent (delivered to maildir)"),
        "{log}"
    );
    site.instance
        .wait_log(WAIT, &format!("{id}: removed"))
        .unwrap();
    // The file name carries the size, as Dovecot expects.
    let name = std::fs::read_dir(site.maildir("alice").join("new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    assert!(name.to_string_lossy().contains(",S="), "{name:?}");
}

#[test]
fn aliases_expand_to_users_and_commands() {
    let out = std::env::temp_dir().join(format!("postern-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    set_mode(&out, 0o777);
    let file = out.join("piped");
    let aliases = format!(
        "team@example.org: alice@example.org, bob@example.org, alice@example.org\npipe@example.org: \"|cat > {}; echo $SENDER $RECIPIENT >> {}\"\n",
        file.display(),
        file.display()
    );
    let site = site("aliases", &[], &aliases);
    site.send(
        "boss@remote.test",
        &["team@example.org", "pipe@example.org"],
        "Subject: all hands\r\n\r\nmeeting\r\n",
    );
    assert_eq!(site.wait_messages("alice", 1).len(), 1);
    assert_eq!(site.wait_messages("bob", 1).len(), 1);
    site.wait_queue_empty();
    assert_eq!(
        site.messages("alice").len(),
        1,
        "duplicate target delivered once"
    );
    let piped = wait_until(WAIT, "the command's output", || {
        std::fs::read_to_string(&file)
            .ok()
            .filter(|t| t.contains("pipe@example.org"))
    })
    .unwrap();
    assert!(piped.contains("Subject: all hands\n"), "{piped}");
    assert!(piped.contains("\n\nmeeting\n"), "{piped}");
    assert!(
        piped.contains("Delivered-To: pipe@example.org\n"),
        "{piped}"
    );
    assert!(
        piped.ends_with("boss@remote.test pipe@example.org\n"),
        "{piped}"
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn undeliverable_alias_bounces_to_the_sender_as_a_dsn() {
    let site = site(
        "bounce",
        &[],
        "broken@example.org: :include:/nonexistent/list\n",
    );
    let id = site.send(
        "carol@example.org",
        &["broken@example.org"],
        "Subject: to nowhere\r\nMessage-ID: <lost@example.org>\r\n\r\nhello\r\n",
    );
    let messages = site.wait_messages("carol", 1);
    let dsn = &messages[0];
    assert!(dsn.starts_with("Return-Path: <>\n"), "{dsn}");
    assert!(
        dsn.contains("Content-Type: multipart/report; report-type=delivery-status;"),
        "{dsn}"
    );
    assert!(
        dsn.contains("Content-Type: message/delivery-status"),
        "{dsn}"
    );
    assert!(
        dsn.contains("Final-Recipient: rfc822; broken@example.org"),
        "{dsn}"
    );
    assert!(dsn.contains("Action: failed"), "{dsn}");
    assert!(dsn.contains("Status: 5.1.1"), "{dsn}");
    assert!(
        dsn.contains("Subject: to nowhere"),
        "the original comes back: {dsn}"
    );
    site.wait_queue_empty();
    site.instance
        .wait_log(WAIT, &format!("{id}: sender non-delivery notification:"))
        .unwrap();
    site.instance
        .wait_log(WAIT, "to=<broken@example.org>, relay=local")
        .unwrap();
}

#[test]
fn temporary_failure_is_deferred_then_delivered_after_a_flush() {
    let site = site("retry", &[], "");
    // Make alice's mailbox exist, then unwritable.
    site.send(
        "a@remote.test",
        &["alice@example.org"],
        "Subject: one\r\n\r\n1\r\n",
    );
    site.wait_messages("alice", 1);
    site.wait_queue_empty();
    set_mode(&site.maildir("alice"), 0o000);
    let id = site.send(
        "a@remote.test",
        &["alice@example.org"],
        "Subject: two\r\n\r\n2\r\n",
    );
    site.instance
        .wait_log(WAIT, &format!("{id}: to=<alice@example.org>, relay=local"))
        .unwrap();
    let line = site.instance.wait_log(WAIT, "status=deferred").unwrap();
    assert!(line.contains("dsn=4."), "{line}");
    wait_until(WAIT, "the message in deferred/", || {
        (site.instance.queue_files("deferred") == vec![id.clone()]).then_some(())
    })
    .unwrap();

    set_mode(&site.maildir("alice"), 0o700);
    site.instance.flush().unwrap();
    let messages = site.wait_messages("alice", 2);
    assert!(messages.iter().any(|m| m.contains("Subject: two")));
    site.wait_queue_empty();
}

#[test]
fn expired_message_bounces() {
    let site = site("expire", &[("maximal_queue_lifetime", "1s")], "");
    site.send(
        "x@remote.test",
        &["alice@example.org"],
        "Subject: first\r\n\r\n1\r\n",
    );
    site.wait_messages("alice", 1);
    site.wait_queue_empty();
    set_mode(&site.maildir("alice"), 0o000);
    let id = site.send(
        "bob@example.org",
        &["alice@example.org"],
        "Subject: doomed\r\n\r\nx\r\n",
    );
    wait_until(WAIT, "the message in deferred/", || {
        (!site.instance.queue_files("deferred").is_empty()).then_some(())
    })
    .unwrap();
    // Older than maximal_queue_lifetime at the next attempt.
    wait_until(WAIT, "the message to expire", || {
        site.instance.flush().ok()?;
        site.instance
            .log()
            .contains(&format!(
                "{id}: from=<bob@example.org>, status=expired, returned to sender"
            ))
            .then_some(())
    })
    .unwrap();
    let messages = site.wait_messages("bob", 1);
    assert!(messages[0].contains("Status: 5.4.7"), "{}", messages[0]);
    assert!(messages[0].contains("Subject: doomed"), "{}", messages[0]);
    set_mode(&site.maildir("alice"), 0o700);
    site.wait_queue_empty();
}

#[test]
fn killing_qmgr_and_local_loses_nothing() {
    let site = site("crash", &[], "");
    let total = 60;
    let port = site.smtp;
    let sender = std::thread::spawn(move || {
        for n in 0..total {
            let mut c = SmtpClient::connect(port).unwrap();
            c.send("EHLO client.example").unwrap();
            c.send("MAIL FROM:<load@remote.test>")
                .unwrap()
                .expect_code(250)
                .unwrap();
            c.send("RCPT TO:<alice@example.org>")
                .unwrap()
                .expect_code(250)
                .unwrap();
            c.data(&format!(
                "Subject: load {n}\r\nX-Seq: {n}\r\n\r\nbody {n}\r\n"
            ))
            .unwrap()
            .expect_code(250)
            .unwrap();
            c.send("QUIT").unwrap();
        }
    });
    for round in 0..6 {
        let command = if round % 2 == 0 { "qmgr" } else { "local" };
        if let Ok(pid) = wait_until(WAIT, "a process to kill", || site.pid_of(command)) {
            let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
        wait_until(WAIT, "its restart", || site.pid_of(command)).unwrap();
        std::thread::sleep(Duration::from_millis(50 + 37 * round));
    }
    sender.join().unwrap();
    // Deferred ones are retried now rather than after minimal_backoff_time.
    wait_until(WAIT, "every message delivered", || {
        let _ = site.instance.flush();
        site.instance.queue_is_empty().then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", site.instance.dump()));
    let messages = site.messages("alice");
    let mut seen = vec![0u32; total];
    for message in &messages {
        let n: usize = message
            .lines()
            .find_map(|l| l.strip_prefix("X-Seq: "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("a delivered message without X-Seq:\n{message}"));
        seen[n] += 1;
    }
    let missing: Vec<usize> = (0..total).filter(|n| seen[*n] == 0).collect();
    assert!(missing.is_empty(), "lost messages {missing:?}");
    let duplicates: u32 = seen.iter().map(|n| n.saturating_sub(1)).sum();
    println!(
        "crash test: {total} messages, {} delivered copies, {duplicates} duplicates (deliveries in flight at a kill)",
        messages.len()
    );
}

/// Stops the test's own Dovecot, even when the test fails.
struct Dovecot(PathBuf);

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = std::process::Command::new("doveadm")
            .arg("-c")
            .arg(&self.0)
            .arg("stop")
            .stdin(std::process::Stdio::null())
            .output();
    }
}

#[test]
fn dovecot_reads_a_maildir_postern_wrote() {
    if std::process::Command::new("doveadm")
        .arg("-V")
        .output()
        .is_err()
    {
        eprintln!("skipped: doveadm is not installed (tests/run.sh installs dovecot-core as root)");
        return;
    }
    let site = site("dovecot", &[], "");
    site.send(
        "sender@remote.test",
        &["alice@example.org"],
        "Subject: read me, Dovecot\r\n\r\nline one\r\nline two\r\n",
    );
    site.wait_messages("alice", 1);
    site.wait_queue_empty();
    let maildir = site.maildir("alice");
    let meta = std::fs::metadata(&maildir).unwrap();
    let (uid, gid) = (
        std::os::unix::fs::MetadataExt::uid(&meta),
        std::os::unix::fs::MetadataExt::gid(&meta),
    );
    // Dovecot refuses to run a mailbox as root; the Maildir belongs to mail_owner.
    assert_ne!(uid, 0);
    let dir = site.instance.queue_dir().parent().unwrap().join("dovecot");
    std::fs::create_dir_all(dir.join("run")).unwrap();
    std::fs::create_dir_all(dir.join("state")).unwrap();
    let conf = dir.join("dovecot.conf");
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::current())
        .unwrap()
        .unwrap()
        .name;
    std::fs::write(
        &conf,
        format!(
            "base_dir = {run}\nstate_dir = {state}\nprotocols =\nssl = no\nlog_path = {log}\n\
             default_internal_user = {user}\ndefault_login_user = {user}\n\
             mail_location = maildir:~\n\
             passdb {{\n  driver = static\n  args = password=x\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={home}\n}}\n",
            run = dir.join("run").display(),
            state = dir.join("state").display(),
            log = dir.join("dovecot.log").display(),
            home = maildir.display(),
        ),
    )
    .unwrap();
    // The daemon keeps its standard streams: give it none, or waiting for them hangs.
    let started = std::process::Command::new("dovecot")
        .arg("-c")
        .arg(&conf)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(started.success(), "dovecot did not start: {started}");
    let _dovecot = Dovecot(conf.clone());
    let fetch = std::process::Command::new("doveadm")
        .arg("-c")
        .arg(&conf)
        .args([
            "fetch",
            "-u",
            "alice",
            "size.physical size.virtual hdr.subject body",
            "mailbox",
            "INBOX",
            "all",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&fetch.stdout);
    assert!(
        fetch.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&fetch.stderr)
    );
    assert!(out.contains("hdr.subject: read me, Dovecot"), "{out}");
    assert!(out.contains("line one\nline two"), "{out}");
    // Dovecot's sizes agree with the ,S= and ,W= Postern wrote into the name.
    let name = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .file_name();
    let name = name.to_string_lossy().into_owned();
    let field = |key: &str| {
        name.split(',')
            .find_map(|p| p.strip_prefix(key))
            .unwrap()
            .to_owned()
    };
    assert!(
        out.contains(&format!("size.physical: {}", field("S="))),
        "{out} vs {name}"
    );
    assert!(
        out.contains(&format!("size.virtual: {}", field("W="))),
        "{out} vs {name}"
    );
}

#[test]
fn over_quota_waits_or_bounces_as_configured() {
    for temporary in ["yes", "no"] {
        let site = site_with_users(
            &format!("quota-{temporary}"),
            &[("mailbox_quota_temporary", temporary)],
            "",
            "bob@example.org:{PLAIN}b\ncarol@example.org:{PLAIN}c::::::userdb_quota_rule=*:storage=1k\n",
        );
        let big = format!("Subject: big\r\n\r\n{}", "0123456789\r\n".repeat(200));
        let id = site.send("bob@example.org", &["carol@example.org"], &big);
        let line = site
            .instance
            .wait_log(WAIT, &format!("{id}: to=<carol@example.org>, relay=local"))
            .unwrap();
        if temporary == "yes" {
            assert!(
                line.contains("dsn=4.2.2, status=deferred (mailbox full"),
                "{line}"
            );
        } else {
            assert!(
                line.contains("dsn=5.2.2, status=bounced (mailbox full"),
                "{line}"
            );
            let bounce = site.wait_messages("bob", 1);
            assert!(bounce[0].contains("Status: 5.2.2"), "{}", bounce[0]);
        }
        assert!(site.messages("carol").is_empty());
    }
}

#[test]
fn system_users_get_mail_in_their_home_written_as_themselves() {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root (CI runs as root)");
        return;
    }
    let home = std::env::temp_dir().join(format!("postern-sys-home-{}", std::process::id()));
    let user = match nix::unistd::User::from_name("postern-sys").unwrap() {
        Some(user) => user,
        None => {
            let status = std::process::Command::new("useradd")
                .args(["--system", "--shell", "/usr/sbin/nologin", "--home-dir"])
                .arg(&home)
                .arg("postern-sys")
                .status()
                .unwrap();
            assert!(status.success());
            nix::unistd::User::from_name("postern-sys")
                .unwrap()
                .unwrap()
        }
    };
    let home = user.dir.clone();
    std::fs::create_dir_all(&home).unwrap();
    nix::unistd::chown(&home, Some(user.uid), Some(user.gid)).unwrap();
    let _ = std::fs::remove_dir_all(home.join("Maildir"));

    let smtp = free_port().unwrap();
    let mut instance = Instance::builder("sysuser")
        .main("mydestination", "mx.test.example, localhost")
        .main("alias_maps", "hash:$config_directory/aliases")
        .main("virtual_user_maps", "")
        .service(&format!("127.0.0.1:{smtp} inet n - n - - smtpd"))
        .service("qmgr unix - - n - 1 qmgr")
        // unpriv n: local runs as root and switches to each user to write.
        .service("local unix - n n - - local")
        .create()
        .unwrap();
    instance.write_file("aliases", "").unwrap();
    instance.start_master().unwrap();
    instance.wait_ready().unwrap();

    let mut c = SmtpClient::connect(smtp).unwrap();
    c.send("EHLO client.example")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("MAIL FROM:<a@remote.test>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<postern-sys@mx.test.example>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.data("Subject: for a system user\r\n\r\nhi\r\n")
        .unwrap()
        .expect_code(250)
        .unwrap();
    let new = home.join("Maildir").join("new");
    let file = wait_until(WAIT, "the message in ~/Maildir/new", || {
        std::fs::read_dir(&new).ok()?.next()?.ok().map(|e| e.path())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(meta.uid(), user.uid.as_raw(), "written as the user");
    assert_eq!(meta.gid(), user.gid.as_raw());
    let maildir_meta = std::fs::metadata(home.join("Maildir")).unwrap();
    assert_eq!(maildir_meta.uid(), user.uid.as_raw());
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with(
            "Return-Path: <a@remote.test>\nDelivered-To: postern-sys@mx.test.example\n"
        ),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(home.join("Maildir"));
}
