//! The queue tools (`postern queue ...` and `mailq`) on deferred and held mail, with
//! qmgr running and without it, checked through `postern queue list --json`.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use nix::unistd::Uid;
use serde_json::Value;
use testkit::{Instance, TEST_MAIL_OWNER, ensure_user, free_port, wait_until};

use crate::support::{
    ALICE_AND_BOB, mail_dir, mail_instance, maildir_count, start_mail_instance, submit,
};

const WAIT: Duration = Duration::from_secs(60);

/// An instance with qmgr and local but no `smtp`: mail for other domains waits in
/// `deferred/` ("delivery temporarily suspended: smtp agent: connect ...").
fn deferring_instance(name: &str) -> (Instance, u16) {
    let smtp = free_port().unwrap();
    let builder = mail_instance(name, smtp)
        .main("virtual_mailbox_base", "$queue_directory/../mail")
        .service("qmgr unix - - n - 1 qmgr")
        .service("local unix - - n - - local")
        .service("pickup unix n - n - 1 pickup");
    (start_mail_instance(builder, &[], ALICE_AND_BOB, ""), smtp)
}

/// Sends a message over SMTP and returns its queue ID.
fn send(smtp: u16, to: &[&str], subject: &str) -> String {
    submit(
        smtp,
        "sender@remote.test",
        to,
        "",
        &format!("Subject: {subject}\r\n\r\nbody of {subject}\r\n"),
    )
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs `postern -c DIR ARGS` and insists on success; its standard output.
fn postern_ok(instance: &Instance, args: &[&str]) -> String {
    let output = instance.postern(args).unwrap();
    assert!(
        output.status.success(),
        "postern {args:?}: {}\n{}",
        text(&output),
        instance.dump()
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `postern queue list --json`, parsed.
fn list(instance: &Instance) -> Vec<Value> {
    postern_ok(instance, &["queue", "list", "--json"])
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// The listed message with this ID.
fn find<'a>(listed: &'a [Value], id: &str) -> Option<&'a Value> {
    listed.iter().find(|m| m["queue_id"] == id)
}

/// The queue a message is in, per `queue list --json`.
fn queue_of(instance: &Instance, id: &str) -> Option<String> {
    find(&list(instance), id).map(|m| m["queue_name"].as_str().unwrap().to_owned())
}

/// Waits until `queue list --json` puts the message `id` in `queue` (None: gone).
fn wait_queue(instance: &Instance, id: &str, queue: Option<&str>) {
    wait_until(WAIT, &format!("{id} in {queue:?}"), || {
        (queue_of(instance, id).as_deref() == queue).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
}

/// How many delivery attempts the log shows for `id`.
fn attempts(instance: &Instance, id: &str) -> usize {
    instance
        .log()
        .lines()
        .filter(|l| l.contains(&format!("{id}: to=<")))
        .count()
}

fn wait_attempts(instance: &Instance, id: &str, n: usize) {
    wait_until(WAIT, &format!("{n} delivery attempts of {id}"), || {
        (attempts(instance, id) >= n).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
}

#[test]
fn each_tool_on_deferred_and_held_mail() {
    let (instance, smtp) = deferring_instance("queue-tools");
    let a = send(smtp, &["one@remote.example"], "a");
    let b = send(smtp, &["two@remote.example"], "b");
    let c = send(smtp, &["three@other.example", "alice@example.org"], "c");
    for id in [&a, &b, &c] {
        wait_queue(&instance, id, Some("deferred"));
        wait_attempts(&instance, id, 1);
    }
    let listed = list(&instance);
    let message = find(&listed, &c).unwrap();
    assert_eq!(message["sender"], "sender@remote.test");
    // alice got hers: only the remote recipient is pending, with its reason.
    let recipients = message["recipients"].as_array().unwrap();
    assert_eq!(recipients.len(), 1, "{message}");
    assert_eq!(recipients[0]["address"], "three@other.example");
    let reason = recipients[0]["delay_reason"].as_str().unwrap();
    assert!(reason.contains("smtp"), "{reason}");
    assert!(message["message_size"].as_u64().unwrap() > 0);
    assert!(message["arrival_time"].as_u64().unwrap() > 1_600_000_000);

    // hold: out of delivery, even when flushed.
    postern_ok(&instance, &["queue", "hold", &a]);
    assert_eq!(queue_of(&instance, &a).as_deref(), Some("hold"));
    instance
        .wait_log(WAIT, &format!("{a}: placed on hold"))
        .unwrap();
    postern_ok(&instance, &["queue", "flush"]);
    wait_attempts(&instance, &b, 2);
    assert_eq!(attempts(&instance, &a), 1, "held mail is not delivered");
    assert_eq!(queue_of(&instance, &a).as_deref(), Some("hold"));

    // release: back in deferred/, tried at once.
    postern_ok(&instance, &["queue", "release", &a]);
    instance
        .wait_log(WAIT, &format!("{a}: released from hold"))
        .unwrap();
    wait_attempts(&instance, &a, 2);
    wait_queue(&instance, &a, Some("deferred"));

    // requeue: through incoming/ again, tried at once.
    let before = attempts(&instance, &b);
    postern_ok(&instance, &["queue", "requeue", &b]);
    instance.wait_log(WAIT, &format!("{b}: requeued")).unwrap();
    wait_attempts(&instance, &b, before + 1);
    wait_queue(&instance, &b, Some("deferred"));

    // flush by ID and by domain: tried at once.
    let before = attempts(&instance, &c);
    postern_ok(&instance, &["queue", "flush", &c]);
    wait_attempts(&instance, &c, before + 1);
    let before_a = attempts(&instance, &a);
    let before_c = attempts(&instance, &c);
    postern_ok(&instance, &["queue", "flush", "other.example"]);
    wait_attempts(&instance, &c, before_c + 1);
    wait_queue(&instance, &c, Some("deferred"));
    assert_eq!(
        attempts(&instance, &a),
        before_a,
        "a has no recipient in other.example"
    );

    // show: envelope, headers, body.
    let shown = postern_ok(&instance, &["queue", "show", &c]);
    assert!(
        shown.starts_with(&format!("*** ENVELOPE RECORDS deferred/{c} ***\n")),
        "{shown}"
    );
    assert!(shown.contains("sender: sender@remote.test\n"), "{shown}");
    assert!(
        shown.contains("recipient: alice@example.org (done)\n"),
        "{shown}"
    );
    assert!(
        shown.contains("recipient: three@other.example (deferred: "),
        "{shown}"
    );
    assert!(shown.contains("\nSubject: c\n"), "{shown}");
    assert!(
        shown.contains("\n\nbody of c\n*** MESSAGE FILE END"),
        "{shown}"
    );
    assert!(shown.ends_with(&format!("*** MESSAGE FILE END deferred/{c} ***\n")));
    let headers = postern_ok(&instance, &["queue", "show", "--headers", &c]);
    assert!(headers.contains("Subject: c\n"), "{headers}");
    assert!(!headers.contains("body of c"), "{headers}");
    let body = postern_ok(&instance, &["queue", "show", "--body", &c]);
    assert_eq!(body, "body of c\n");

    // summary: pending recipients per domain.
    let summary = postern_ok(&instance, &["queue", "summary"]);
    let row = |name: &str| {
        summary
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
    };
    assert_eq!(row("TOTAL").as_deref(), Some("3"), "{summary}");
    assert_eq!(row("remote.example").as_deref(), Some("2"), "{summary}");
    assert_eq!(row("other.example").as_deref(), Some("1"), "{summary}");
    assert_eq!(row("example.org"), None, "{summary}");

    // delete one, then hold and delete the rest with ALL.
    postern_ok(&instance, &["queue", "delete", &a]);
    wait_queue(&instance, &a, None);
    instance.wait_log(WAIT, &format!("{a}: removed")).unwrap();
    let output = instance.postern(&["queue", "hold", "ALL"]).unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("Placed on hold: 2 messages"),
        "{}",
        text(&output)
    );
    let listed = list(&instance);
    assert_eq!(listed.len(), 2);
    assert!(
        listed.iter().all(|m| m["queue_name"] == "hold"),
        "{listed:?}"
    );
    postern_ok(&instance, &["queue", "delete", "ALL", "hold"]);
    assert!(list(&instance).is_empty());
    assert_eq!(
        postern_ok(&instance, &["queue", "list"]),
        "Mail queue is empty\n"
    );
}

#[test]
fn ids_from_standard_input() {
    let (instance, smtp) = deferring_instance("queue-stdin");
    let ids: Vec<String> = (0..3)
        .map(|n| send(smtp, &["x@remote.example"], &format!("m{n}")))
        .collect();
    for id in &ids {
        wait_queue(&instance, id, Some("deferred"));
    }
    let input = format!("{}\n\n{}\n", ids[0], ids[1]);
    let output = instance
        .postern_with_input(&["queue", "hold", "-"], &input)
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let listed = list(&instance);
    let queue = |id: &str| find(&listed, id).unwrap()["queue_name"].clone();
    assert_eq!(queue(&ids[0]), "hold");
    assert_eq!(queue(&ids[1]), "hold");
    assert_eq!(queue(&ids[2]), "deferred");
    // ALL from standard input too.
    let output = instance
        .postern_with_input(&["queue", "delete", "-", "hold"], "ALL\n")
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let listed = list(&instance);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["queue_id"], ids[2].as_str());
}

/// One message in mailq's layout, read by its columns.
#[derive(Debug, Default)]
struct MailqEntry {
    id: String,
    mark: char,
    size: u64,
    arrival: String,
    sender: String,
    /// (reason, recipient) pairs.
    recipients: Vec<(Option<String>, String)>,
}

/// Parses `mailq` output by its columns: ID 0..20, mark at 20, size 21..29,
/// arrival 30..50, addresses from 51.
fn parse_mailq(out: &str) -> (Vec<MailqEntry>, String) {
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    assert_eq!(
        header,
        "-Queue ID-           --Size-- ----Arrival Time---- -Sender/Recipient-------"
    );
    assert_eq!(header.find("-Sender"), Some(51));
    let mut entries: Vec<MailqEntry> = Vec::new();
    let mut reason = None;
    let mut total = String::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        if line.starts_with("-- ") {
            total = line.to_owned();
        } else if line.trim_start().starts_with('(') {
            let trimmed = line.trim();
            reason = Some(trimmed[1..trimmed.len() - 1].to_owned());
        } else if line.starts_with(' ') {
            assert!(line[..51].trim().is_empty(), "{line:?}");
            let entry = entries.last_mut().unwrap();
            entry
                .recipients
                .push((reason.clone(), line[51..].to_owned()));
        } else {
            reason = None;
            entries.push(MailqEntry {
                id: line[..20].to_owned(),
                mark: line[20..21].chars().next().unwrap(),
                size: line[21..29].trim().parse().unwrap(),
                arrival: line[30..50].trim().to_owned(),
                sender: line[51..].to_owned(),
                recipients: Vec::new(),
            });
        }
    }
    (entries, total)
}

#[test]
fn mailq_output_by_its_columns() {
    let (instance, smtp) = deferring_instance("queue-mailq");
    let deferred = send(smtp, &["x@remote.example", "y@remote.example"], "d");
    let held = send(smtp, &["z@remote.example"], "h");
    for id in [&deferred, &held] {
        wait_queue(&instance, id, Some("deferred"));
    }
    postern_ok(&instance, &["queue", "hold", &held]);

    // mailq is postern under another name.
    let dir = tempdir_for(&instance);
    let mailq = dir.join("mailq");
    std::os::unix::fs::symlink(instance.bin("postern"), &mailq).unwrap();
    let output = Command::new(&mailq)
        .arg("-c")
        .arg(instance.config_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let out = String::from_utf8(output.stdout).unwrap();
    let (entries, total) = parse_mailq(&out);
    assert_eq!(entries.len(), 2, "{out}");
    let listed = list(&instance);
    let bytes: u64 = listed
        .iter()
        .map(|m| m["message_size"].as_u64().unwrap())
        .sum();
    assert_eq!(
        total,
        format!("-- {} Kbytes in 2 Requests.", bytes / 1024),
        "{out}"
    );
    for entry in &entries {
        let json = find(&listed, &entry.id).unwrap_or_else(|| panic!("{entry:?}\n{out}"));
        assert_eq!(entry.size, json["message_size"].as_u64().unwrap());
        assert_eq!(entry.sender, "sender@remote.test");
        // Like "Thu Dec  3 16:25:15".
        assert_eq!(entry.arrival.len(), 19, "{entry:?}");
        assert_eq!(entry.arrival.matches(':').count(), 2, "{entry:?}");
        for (reason, _) in &entry.recipients {
            assert!(reason.as_deref().unwrap().contains("smtp"), "{out}");
        }
    }
    let d = entries.iter().find(|e| e.id == deferred).unwrap();
    assert_eq!(d.mark, ' ');
    let rcpts: Vec<&str> = d.recipients.iter().map(|(_, r)| r.as_str()).collect();
    assert_eq!(rcpts, ["x@remote.example", "y@remote.example"], "{out}");
    let h = entries.iter().find(|e| e.id == held).unwrap();
    assert_eq!(h.mark, '!');
    assert_eq!(h.recipients.len(), 1);
}

/// A directory inside the instance's, removed with it.
fn tempdir_for(instance: &Instance) -> PathBuf {
    let dir = instance.config_dir().parent().unwrap().join("bin-links");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn without_qmgr_the_tools_work_on_the_files() {
    let smtp = free_port().unwrap();
    // smtpd only: mail stays in incoming/.
    let builder = mail_instance("queue-direct", smtp)
        .main("virtual_mailbox_base", "$queue_directory/../mail");
    let instance = start_mail_instance(builder, &[], ALICE_AND_BOB, "");
    let id = send(smtp, &["alice@example.org"], "direct");
    let other = send(smtp, &["bob@example.org"], "gone");
    assert_eq!(queue_of(&instance, &id).as_deref(), Some("incoming"));

    postern_ok(&instance, &["queue", "hold", &id]);
    assert_eq!(queue_of(&instance, &id).as_deref(), Some("hold"));
    postern_ok(&instance, &["queue", "release", &id]);
    assert_eq!(queue_of(&instance, &id).as_deref(), Some("deferred"));
    postern_ok(&instance, &["queue", "requeue", &id]);
    assert_eq!(queue_of(&instance, &id).as_deref(), Some("incoming"));
    postern_ok(&instance, &["queue", "delete", &other]);
    assert_eq!(queue_of(&instance, &other), None);
    let output = instance.postern(&["queue", "flush"]).unwrap();
    assert!(output.status.success(), "{}", text(&output));

    // The lock file the tools created does not keep qmgr (mail_owner) out.
    let lock = instance.queue_dir().join("private/qmgr.lock");
    assert!(lock.exists());
    let text_cf = std::fs::read_to_string(instance.config_dir().join("master.cf")).unwrap();
    instance
        .write_master_cf(&format!(
            "{text_cf}qmgr unix - - n - 1 qmgr\nlocal unix - - n - - local"
        ))
        .unwrap();
    instance
        .signal_master(nix::sys::signal::Signal::SIGHUP)
        .unwrap();
    let maildir = mail_dir(&instance).join("example.org/alice");
    wait_until(WAIT, "the requeued message in alice's Maildir", || {
        (maildir_count(&maildir) == 1).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    wait_until(WAIT, "an empty queue", || {
        list(&instance).is_empty().then_some(())
    })
    .unwrap();
    assert_eq!(
        maildir_count(&mail_dir(&instance).join("example.org/bob")),
        0
    );
}

/// Runs `postern -c DIR ARGS` as `uid`/`gid`.
fn postern_as(instance: &Instance, uid: u32, gid: u32, args: &[&str]) -> Output {
    Command::new(instance.bin("postern"))
        .arg("-c")
        .arg(instance.config_dir())
        .args(args)
        .stdin(Stdio::null())
        .uid(uid)
        .gid(gid)
        .output()
        .unwrap()
}

#[test]
fn exit_status_for_each_failure() {
    let (instance, smtp) = deferring_instance("queue-errors");
    let id = send(smtp, &["x@remote.example"], "e");
    wait_queue(&instance, &id, Some("deferred"));
    let unknown = "0000000000000000000A";

    let cases: &[(&[&str], i32, &str)] = &[
        // No such message.
        (&["queue", "delete", unknown], 1, "no such message"),
        (&["queue", "show", unknown], 1, "no such message"),
        (&["queue", "flush", unknown], 1, "no such message"),
        // Not in a queue the operation takes messages from.
        (&["queue", "release", &id], 1, "no such message in hold"),
        // Bad queue names, bad IDs, missing arguments.
        (
            &["queue", "delete", "ALL", "nonsense"],
            64,
            "neither a queue ID",
        ),
        (
            &["queue", "release", "ALL", "deferred"],
            64,
            "does not apply to deferred",
        ),
        (&["queue", "hold", "deferred"], 64, "goes with ALL"),
        (
            &["queue", "hold", "../../etc/passwd"],
            64,
            "neither a queue ID",
        ),
        (&["queue", "hold"], 64, "no queue ID given"),
        (&["queue", "show", "nonsense"], 64, "not a queue ID"),
        (
            &["queue", "summary", "corrupt"],
            64,
            "not a queue to summarise",
        ),
        (
            &["queue", "flush", "a b"],
            64,
            "neither a queue ID nor a domain",
        ),
    ];
    for (args, code, message) in cases {
        let output = instance.postern(args).unwrap();
        assert_eq!(
            output.status.code(),
            Some(*code),
            "{args:?}: {}",
            text(&output)
        );
        assert!(
            text(&output).contains(message),
            "{args:?}: {}",
            text(&output)
        );
    }
    // Nothing was changed by the failures.
    assert_eq!(queue_of(&instance, &id).as_deref(), Some("deferred"));

    // A spool that is not there.
    let missing = Instance::builder("queue-no-spool").create().unwrap();
    for args in [&["queue", "list"][..], &["queue", "hold", &id]] {
        let output = missing.postern(args).unwrap();
        assert_eq!(
            output.status.code(),
            Some(74),
            "{args:?}: {}",
            text(&output)
        );
    }

    if !Uid::effective().is_root() {
        return;
    }
    // mail_owner may do what root may.
    let owner = ensure_user(TEST_MAIL_OWNER).unwrap();
    let output = postern_as(
        &instance,
        owner.uid.as_raw(),
        owner.gid.as_raw(),
        &["queue", "list", "--json"],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains(&id));
    // Anyone else is refused, before anything is touched.
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    for args in [
        &["queue", "hold", &id][..],
        &["queue", "delete", "ALL"],
        &["queue", "release", &id],
        &["queue", "requeue", &id],
        &["queue", "show", &id],
    ] {
        let output = postern_as(&instance, nobody.uid.as_raw(), nobody.gid.as_raw(), args);
        assert_eq!(
            output.status.code(),
            Some(77),
            "{args:?}: {}",
            text(&output)
        );
        assert!(
            text(&output).contains("root and mail_owner"),
            "{args:?}: {}",
            text(&output)
        );
    }
    assert_eq!(queue_of(&instance, &id).as_deref(), Some("deferred"));
    // Listing and flushing are for everyone (authorized_mailq_users and
    // authorized_flush_users), through pickup.
    let output = postern_as(
        &instance,
        nobody.uid.as_raw(),
        nobody.gid.as_raw(),
        &["queue", "list", "--json"],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains(&id));
    for args in [
        &["queue", "flush"][..],
        &["queue", "flush", &id],
        &["queue", "flush", "remote.example"],
    ] {
        let output = postern_as(&instance, nobody.uid.as_raw(), nobody.gid.as_raw(), args);
        assert!(output.status.success(), "{args:?}: {}", text(&output));
    }
    instance
        .wait_log(WAIT, &format!("{id}: to=<x@remote.example>"))
        .unwrap();
    // Unless the configuration says otherwise.
    instance
        .write_file(
            "main.cf",
            &format!(
                "{}\nauthorized_mailq_users = root\nauthorized_flush_users = root\n",
                std::fs::read_to_string(instance.config_dir().join("main.cf")).unwrap()
            ),
        )
        .unwrap();
    instance.postern(&["reload"]).unwrap();
    wait_until(WAIT, "pickup to refuse listing", || {
        let output = postern_as(
            &instance,
            nobody.uid.as_raw(),
            nobody.gid.as_raw(),
            &["queue", "list"],
        );
        (output.status.code() == Some(77)).then_some(output)
    })
    .map(|output| {
        assert!(
            text(&output).contains("authorized_mailq_users"),
            "{}",
            text(&output)
        )
    })
    .unwrap();
    let output = postern_as(
        &instance,
        nobody.uid.as_raw(),
        nobody.gid.as_raw(),
        &["queue", "flush"],
    );
    assert_eq!(output.status.code(), Some(77), "{}", text(&output));
}

/// Removes a directory when dropped, even when the test fails.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn operations_on_mail_being_delivered_apply_when_the_delivery_ends() {
    // An alias whose command says "started", waits for "go", then fails
    // temporarily (exit 75): the message stays in active/ as long as the test likes.
    let gate = std::env::temp_dir().join(format!("postern-queue-gate-{}", std::process::id()));
    std::fs::create_dir_all(&gate).unwrap();
    let _cleanup = RemoveOnDrop(gate.clone());
    std::fs::set_permissions(&gate, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let (started, go) = (gate.join("started"), gate.join("go"));
    let aliases = format!(
        "slow@example.org: \"|touch {}; while [ ! -e {} ]; do sleep 0.05; done; exit 75\"\n",
        started.display(),
        go.display()
    );
    let smtp = free_port().unwrap();
    let builder = mail_instance("queue-in-flight", smtp)
        .main("virtual_mailbox_base", "$queue_directory/../mail")
        .service("qmgr unix - - n - 1 qmgr")
        // As etc/examples/master.cf: commands run as default_privs.
        .service("local unix - n n - - local");
    let instance = start_mail_instance(builder, &[], ALICE_AND_BOB, &aliases);
    let wait_started = || {
        wait_until(WAIT, "the command to start", || {
            started.exists().then_some(())
        })
        .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    };

    // hold while being delivered: to hold/ instead of deferred/.
    let held = send(smtp, &["slow@example.org"], "held");
    wait_started();
    assert_eq!(queue_of(&instance, &held).as_deref(), Some("active"));
    let mailq = postern_ok(&instance, &["queue", "list"]);
    assert!(mailq.contains(&format!("\n{held}*")), "{mailq}");
    let output = instance.postern(&["queue", "hold", &held]).unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert!(text(&output).contains("Placed on hold: 1 message"));
    instance
        .wait_log(
            WAIT,
            &format!("{held}: hold when the delivery in progress ends"),
        )
        .unwrap();
    assert_eq!(queue_of(&instance, &held).as_deref(), Some("active"));
    std::fs::write(&go, "").unwrap();
    wait_queue(&instance, &held, Some("hold"));
    instance
        .wait_log(WAIT, &format!("{held}: placed on hold"))
        .unwrap();

    // delete while being delivered: gone when the delivery ends.
    std::fs::remove_file(&started).unwrap();
    std::fs::remove_file(&go).unwrap();
    let doomed = send(smtp, &["slow@example.org"], "doomed");
    wait_started();
    postern_ok(&instance, &["queue", "delete", &doomed]);
    assert_eq!(queue_of(&instance, &doomed).as_deref(), Some("active"));
    std::fs::write(&go, "").unwrap();
    wait_queue(&instance, &doomed, None);
    instance
        .wait_log(WAIT, &format!("{doomed}: removed"))
        .unwrap();
    assert_eq!(queue_of(&instance, &held).as_deref(), Some("hold"));
}
