//! `sendmail`: local submission through pickup, as an unprivileged user, with
//! the daemons running and stopped, the sender policy and the exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use nix::unistd::{Uid, User};
use testkit::{Instance, ensure_user, wait_until};

use crate::support::{maildir_messages, start_mail_instance, wait_maildir_messages};

const WAIT: Duration = Duration::from_secs(60);

/// The unprivileged user the submissions run as (when the tests run as root;
/// otherwise the tests' own user).
const SUBMITTER: &str = "postern-sender";

struct Site {
    instance: Instance,
    /// `sendmail`: a link to the `postern` binary by that name.
    sendmail: PathBuf,
    /// Who submits.
    user: User,
}

fn site(name: &str, extra: &[(&str, &str)]) -> Site {
    let builder = Instance::builder(name)
        .main("myhostname", "mx.example.org")
        .main("myorigin", "example.org")
        .main("mydestination", "localhost")
        .main("virtual_mailbox_domains", "example.org")
        .main("virtual_user_maps", "passwd-file:$config_directory/users")
        .main("alias_maps", "hash:$config_directory/aliases")
        .main("virtual_mailbox_base", "$queue_directory/../mail")
        .service("qmgr unix - - n - 1 qmgr")
        .service("local unix - - n - - local")
        .service("pickup unix n - n - 1 pickup");
    let user = if Uid::effective().is_root() {
        ensure_user(SUBMITTER).unwrap()
    } else {
        User::from_uid(Uid::effective()).unwrap().unwrap()
    };
    // The submitter's own address is a mailbox too, for bounces.
    let users = format!(
        "alice@example.org:{{PLAIN}}a\nbob@example.org:{{PLAIN}}b\ncarol@example.org:{{PLAIN}}c\n{}@example.org:{{PLAIN}}s\n",
        user.name
    );
    let instance = start_mail_instance(builder, extra, &users, "");
    let sendmail = instance.queue_dir().parent().unwrap().join("sendmail");
    std::os::unix::fs::symlink(instance.bin("postern"), &sendmail).unwrap();
    Site {
        instance,
        sendmail,
        user,
    }
}

impl Site {
    /// Runs `sendmail -c DIR ARGS` as the submitter with `input`.
    fn sendmail(&self, args: &[&str], input: &str) -> Output {
        // As root, drop to the submitter with no supplementary groups
        // (setpriv, from util-linux), as a login of that user would be.
        let mut command = if Uid::effective().is_root() {
            let mut c = Command::new("setpriv");
            c.arg(format!("--reuid={}", self.user.uid))
                .arg(format!("--regid={}", self.user.gid))
                .arg("--clear-groups")
                .arg("--")
                .arg(&self.sendmail);
            c
        } else {
            Command::new(&self.sendmail)
        };
        command
            .arg("-c")
            .arg(self.instance.config_dir())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    fn maildir(&self, user: &str) -> PathBuf {
        self.instance
            .queue_dir()
            .parent()
            .unwrap()
            .join("mail/example.org")
            .join(user)
            .join("new")
    }

    fn messages(&self, user: &str) -> Vec<String> {
        maildir_messages(&self.maildir(user))
    }

    fn wait_messages(&self, user: &str, count: usize) -> Vec<String> {
        wait_maildir_messages(&self.instance, &self.maildir(user), count)
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn sendmail_t_from_an_unprivileged_user_is_delivered_as_that_user() {
    let site = site("sendmail-t", &[]);
    let login = site.user.name.clone();
    let output = site.sendmail(
        &["-t", "-oi", "-F", "Cron Daemon"],
        "To: Alice <alice@example.org>\nCc: bob\nBcc: carol@example.org\nSubject: nightly report\n\nAll fine.\n.\nstill the body\n",
    );
    assert!(output.status.success(), "{}", stderr(&output));

    let alice = site.wait_messages("alice", 1);
    let bob = site.wait_messages("bob", 1);
    let carol = site.wait_messages("carol", 1);
    let message = &alice[0];
    assert!(
        message.contains(&format!("Return-Path: <{login}@example.org>")),
        "{message}"
    );
    assert!(
        message.contains(&format!(
            "Received: by mx.example.org (Postern, from userid {})",
            site.user.uid
        )),
        "{message}"
    );
    assert!(
        message.contains(&format!("From: Cron Daemon <{login}@example.org>")),
        "{message}"
    );
    assert!(message.contains("Date: "), "{message}");
    assert!(message.contains("Message-ID: <"), "{message}");
    // -oi: the lone dot is part of the message; Bcc: is gone for everyone.
    assert!(message.contains("\n.\nstill the body\n"), "{message}");
    for copy in [&alice[0], &bob[0], &carol[0]] {
        assert!(!copy.contains("Bcc:"), "{copy}");
        assert!(copy.contains("Subject: nightly report"), "{copy}");
    }
    site.instance
        .wait_log(
            WAIT,
            &format!("uid={} from=<{login}@example.org>", site.user.uid),
        )
        .unwrap();
}

#[test]
fn the_sender_map_refuses_a_foreign_f_with_a_clear_message() {
    let senders = format!("{SUBMITTER} news@example.org\n");
    let site = {
        let s = site(
            "sendmail-f",
            &[
                (
                    "local_login_sender_maps",
                    "texthash:$config_directory/senders",
                ),
                (
                    "authorized_submit_users",
                    &format!("{SUBMITTER}, root, postern-test"),
                ),
            ],
        );
        s.instance.write_file("senders", &senders).unwrap();
        s
    };
    if site.user.name != SUBMITTER {
        // Not root: the map names another user; the own address still works.
        return;
    }
    // pickup reads the map for each submission: no reload needed.
    let output = site.sendmail(
        &["-f", "ceo@example.org", "alice@example.org"],
        "Subject: x\n\nhi\n",
    );
    assert_eq!(output.status.code(), Some(77), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("not allowed to send mail as <ceo@example.org>"),
        "{}",
        stderr(&output)
    );
    let output = site.sendmail(
        &["-f", "news@example.org", "alice@example.org"],
        "Subject: y\n\nhi\n",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let got = site.wait_messages("alice", 1);
    assert!(
        got[0].contains("Return-Path: <news@example.org>"),
        "{}",
        got[0]
    );
}

#[test]
fn with_the_daemons_stopped_the_message_waits_in_maildrop() {
    let mut site = site("sendmail-down", &[]);
    site.instance.stop().unwrap();
    let output = site.sendmail(
        &["-v", "bob@example.org"],
        "Subject: while down\n\nqueued later\n",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("waits in maildrop/"),
        "{}",
        stderr(&output)
    );
    assert_eq!(site.instance.queue_files("maildrop").len(), 1);
    site.instance.start_master().unwrap();
    site.instance.wait_ready().unwrap();
    let got = site.wait_messages("bob", 1);
    assert!(got[0].contains("Subject: while down"), "{}", got[0]);
    assert!(
        got[0].contains(&format!("(Postern, from userid {})", site.user.uid)),
        "{}",
        got[0]
    );
    wait_until(WAIT, "maildrop/ to be empty", || {
        site.instance
            .queue_files("maildrop")
            .is_empty()
            .then_some(())
    })
    .unwrap();
}

#[test]
fn each_failure_has_its_exit_code() {
    let site = site("sendmail-exit", &[("message_size_limit", "2000")]);
    let big = format!("Subject: big\n\n{}\n", "x".repeat(3000));
    let cases: &[(&[&str], &str, i32, &str)] = &[
        (&[], "Subject: x\n\n", 64, "no recipients"),
        (&["-t"], "Subject: no one\n\n", 64, "no recipient"),
        (&["-bd"], "", 64, "not supported"),
        (&["-f"], "", 64, "needs a sender"),
        (
            &["bad address@example.org"],
            "Subject: x\n\nhi\n",
            67,
            "bad recipient address",
        ),
        (
            &["-f", "a b@example.org", "bob"],
            "Subject: x\n\nhi\n",
            65,
            "bad sender address",
        ),
        (&["bob@example.org"], &big, 65, "message_size_limit"),
    ];
    for (args, input, code, text) in cases {
        let output = site.sendmail(args, input);
        assert_eq!(
            output.status.code(),
            Some(*code),
            "{args:?}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains(text),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    // Nothing of these reached a mailbox.
    assert!(site.messages("bob").is_empty());

    // Not in authorized_submit_users.
    let closed = self::site(
        "sendmail-closed",
        &[("authorized_submit_users", "nobody-else")],
    );
    let output = closed.sendmail(&["bob@example.org"], "Subject: x\n\nhi\n");
    assert_eq!(output.status.code(), Some(77), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("not allowed to submit"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn sendmail_bs_speaks_smtp_on_standard_input() {
    let site = site("sendmail-bs", &[]);
    let output = site.sendmail(
        &["-bs"],
        "EHLO me\r\nMAIL FROM:<>\r\nRCPT TO:<alice@example.org>\r\nDATA\r\nSubject: over -bs\r\n\r\n..dotted\r\n.\r\nQUIT\r\n",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let replies = String::from_utf8_lossy(&output.stdout).into_owned();
    let codes: Vec<&str> = replies.lines().map(|l| l.get(..3).unwrap_or("")).collect();
    assert_eq!(
        codes,
        ["220", "250", "250", "250", "354", "250", "221"],
        "{replies}"
    );
    assert!(replies.contains("queued as"), "{replies}");
    let got = site.wait_messages("alice", 1);
    assert!(got[0].contains("Return-Path: <>"), "{}", got[0]);
    assert!(got[0].contains("\n.dotted\n"), "{}", got[0]);

    let output = site.sendmail(&["-q"], "");
    assert!(output.status.success(), "{}", stderr(&output));
}
