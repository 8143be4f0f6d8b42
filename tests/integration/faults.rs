//! Fault injection (issue 11): a full spool, a full mailbox file system, `kill -9`
//! of daemons under load, a master restart with mail in every queue state, damaged
//! queue files and DNS that never answers. Each test counts the faults it injected
//! and survived and the accepted messages lost (always 0), and prints them in one
//! `fault summary:` line.
//!
//! They need root (tmpfs mounts, chown to mail_owner, sendmail as another user) and
//! skip with a notice otherwise. Timeouts and SERVFAIL from DNS and an MX that
//! stalls are in `outbound.rs` (`dns_servfail_defers`,
//! `a_stalled_mx_is_timed_out_and_the_next_one_used`); only the DNS timeout is here.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, Uid, User};
use spool::{DsnNotify, Envelope, Queue, QueueId, Recipient, Spool};
use testkit::{
    DnsServer, Instance, SmtpClient, SmtpReply, TEST_MAIL_OWNER, ensure_user, free_port, wait_until,
};

use crate::support::{ALICE_AND_BOB, mail_instance, maildir_count, maildir_messages};

const WAIT: Duration = Duration::from_secs(60);

/// True when the test may run; prints why not otherwise.
fn running_as_root(test: &str) -> bool {
    if Uid::effective().is_root() {
        return true;
    }
    eprintln!("skipped {test}: fault injection needs root (tmpfs mounts, chown)");
    false
}

/// What one test did to the system, printed as its last line.
#[derive(Debug, Default)]
struct Faults {
    injected: u32,
    survived: u32,
    accepted: usize,
    lost: usize,
    duplicates: usize,
}

impl Faults {
    fn inject(&mut self) {
        self.injected += 1;
    }

    fn survive(&mut self) {
        self.survived += 1;
    }

    fn print(&self, test: &str) {
        eprintln!(
            "fault summary: {test}: injected={} survived={} accepted={} lost={} duplicates={}",
            self.injected, self.survived, self.accepted, self.lost, self.duplicates
        );
    }
}

/// A tmpfs mounted by the test; unmounted (lazily if still busy) and its mount
/// point removed on drop, also when the test fails.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (mount's syntax: `2m`) on `dir`, owned by `owner`;
    /// None, with a notice, where even root may not mount (a container).
    fn mount(dir: &Path, size: &str, owner: Option<&User>) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let mut options = format!("size={size},mode=755");
        if let Some(user) = owner {
            options.push_str(&format!(",uid={},gid={}", user.uid, user.gid));
        }
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(dir)
            .output()
            .unwrap();
        if !output.status.success() {
            eprintln!("skipped: cannot mount a tmpfs: {}", text(&output));
            return None;
        }
        Some(Tmpfs {
            dir: dir.to_path_buf(),
        })
    }

    /// Writes a file until the file system is full; returns the bytes written.
    fn fill(&self) -> u64 {
        let path = self.filler();
        let mut file = std::fs::File::create(&path).unwrap();
        let mut written = 0u64;
        for block in [64 * 1024, 4096, 512, 1] {
            let chunk = vec![b'x'; block];
            loop {
                match file.write(&chunk) {
                    Ok(0) => break,
                    Ok(n) => written += n as u64,
                    Err(e) if e.raw_os_error() == Some(nix::libc::ENOSPC) => break,
                    Err(e) => panic!("fill {}: {e}", path.display()),
                }
            }
        }
        written
    }

    /// Removes what [`Tmpfs::fill`] wrote.
    fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }

    fn filler(&self) -> PathBuf {
        self.dir.join("fault-filler")
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.dir)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            // A daemon killed a moment ago may still have it as its working directory.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
        if std::env::var_os("POSTERN_KEEP_TEST_DIR").is_none() {
            // The instance's own cleanup could not remove the mount point.
            if let Some(parent) = self.dir.parent() {
                let _ = std::fs::remove_dir_all(parent);
            }
        }
    }
}

/// An instance with a tmpfs on one of its directories. Fields drop in order: the
/// instance (killing its processes) first, then the mount.
struct OnTmpfs {
    instance: Instance,
    tmpfs: Tmpfs,
}

impl OnTmpfs {
    /// Creates the instance and mounts a tmpfs of `size` on `dir` (`spool` or
    /// `mail`) in its directory, owned by mail_owner for `mail`.
    fn new(builder: testkit::Builder, dir: &str, size: &str) -> Option<OnTmpfs> {
        let instance = builder.create().unwrap();
        let root = instance.queue_dir().parent().unwrap().to_path_buf();
        let owner = (dir != "spool").then(mail_owner);
        let tmpfs = Tmpfs::mount(&root.join(dir), size, owner.as_ref())?;
        Some(OnTmpfs { instance, tmpfs })
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The user the daemons run as.
fn mail_owner() -> User {
    ensure_user(TEST_MAIL_OWNER).unwrap()
}

/// An instance (not started) with smtpd on SMTP, qmgr and local (as mail_owner),
/// Maildirs below `$queue_directory/../mail`.
fn delivering(name: &str, smtp: u16) -> testkit::Builder {
    mail_instance(name, smtp)
        .main("virtual_mailbox_base", "$queue_directory/../mail")
        .service("qmgr unix - - n - 1 qmgr")
        .service("local unix - - n - - local")
}

/// Writes the users and aliases files, starts master and waits for every service.
fn start(instance: &mut Instance) {
    instance.write_file("users", ALICE_AND_BOB).unwrap();
    instance.write_file("aliases", "").unwrap();
    instance.start_master().unwrap();
    instance.wait_ready().unwrap();
}

fn maildir(instance: &Instance, user: &str) -> PathBuf {
    instance
        .queue_dir()
        .parent()
        .unwrap()
        .join("mail/example.org")
        .join(user)
}

/// The Message-ID of each message in a Maildir (new/ and cur/), with its count.
fn message_ids(dir: &Path) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for sub in ["new", "cur"] {
        for message in maildir_messages(&dir.join(sub)) {
            let id = message
                .lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| l.strip_prefix("Message-ID: "))
                .unwrap_or("(none)")
                .trim()
                .to_owned();
            *ids.entry(id).or_insert(0) += 1;
        }
    }
    ids
}

/// How one SMTP transaction ended.
#[derive(Debug)]
enum Submitted {
    /// 250 after the data: the queue ID.
    Queued(String),
    /// A reply other than the expected one, at this command.
    Refused(&'static str, SmtpReply),
}

/// One transaction from sender@remote.test to `to`; the first refusal ends it
/// (the session stays open: the client is returned with it).
fn try_submit(c: &mut SmtpClient, to: &str, message: &str) -> anyhow::Result<Submitted> {
    let reply = c.send("MAIL FROM:<sender@remote.test>")?;
    if reply.code != 250 {
        return Ok(Submitted::Refused("MAIL", reply));
    }
    let reply = c.send(&format!("RCPT TO:<{to}>"))?;
    if reply.code != 250 {
        return Ok(Submitted::Refused("RCPT", reply));
    }
    let reply = c.send("DATA")?;
    if reply.code != 354 {
        return Ok(Submitted::Refused("DATA", reply));
    }
    let mut out = String::new();
    for line in message.split_inclusive("\r\n") {
        if line.starts_with('.') {
            out.push('.');
        }
        out.push_str(line);
    }
    out.push_str(".\r\n");
    c.write_raw(out.as_bytes())?;
    let reply = c.read_reply()?;
    if reply.code != 250 {
        return Ok(Submitted::Refused("end of data", reply));
    }
    Ok(Submitted::Queued(
        reply.text().rsplit(' ').next().unwrap_or("").to_owned(),
    ))
}

fn connect(smtp: u16) -> SmtpClient {
    let mut c = SmtpClient::connect(smtp).unwrap();
    c.send("EHLO client.example")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c
}

/// A message with this Message-ID, at least `size` bytes long.
fn message(id: &str, size: usize) -> String {
    let mut body = format!("Subject: {id}\r\nMessage-ID: <{id}@faults.test>\r\n\r\n");
    let line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\r\n";
    while body.len() < size {
        body.push_str(line);
    }
    body.push_str("end\r\n");
    body
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn dot_tmp_files(instance: &Instance) -> Vec<String> {
    instance
        .queue_files("incoming")
        .into_iter()
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

/// True when no message is queued: incoming/, active/ and deferred/ hold no
/// queue file (an unfinished `.ID.tmp` of a killed smtpd is no message).
fn nothing_queued(instance: &Instance) -> bool {
    ["incoming", "active", "deferred"]
        .iter()
        .all(|q| instance.queue_files(q).iter().all(|n| n.starts_with('.')))
}

fn wait_queue_empty(instance: &Instance) {
    wait_until(WAIT, "the queue to be empty", || {
        nothing_queued(instance).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
}

/// See: issue 11. A full spool file system: smtpd refuses DATA and BDAT with 452
/// 4.3.1, keeps the session and its process, and leaves nothing behind; mail queued
/// before is still delivered; once there is room, new mail is accepted again.
#[test]
fn full_spool_is_refused_with_452_and_mail_flows_once_there_is_room() {
    if !running_as_root("full_spool") {
        return;
    }
    let mut faults = Faults::default();
    let smtp = free_port().unwrap();
    let Some(mut site) = OnTmpfs::new(delivering("full-spool", smtp), "spool", "2m") else {
        return;
    };
    start(&mut site.instance);
    let (instance, spool) = (&site.instance, &site.tmpfs);
    let smtpd = pids(instance, "smtpd");
    assert_eq!(smtpd.len(), 1);
    let bob = maildir(instance, "bob");
    let mut c = connect(smtp);
    // A message already queued when the spool fills: deferred, as bob's Maildir
    // refuses for now. (The first one, over the recycling size, leaves nothing in
    // recycle/ that a new message could reuse without new room.)
    let Submitted::Queued(_) =
        try_submit(&mut c, "bob@example.org", &message("bob-first", 200 * 1024)).unwrap()
    else {
        panic!("refused")
    };
    wait_until(WAIT, "bob's first message", || {
        (maildir_count(&bob) == 1).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    wait_queue_empty(instance);
    set_mode(&bob, 0o000);
    let Submitted::Queued(queued) =
        try_submit(&mut c, "bob@example.org", &message("queued-before", 0)).unwrap()
    else {
        panic!("refused")
    };
    wait_until(WAIT, "the message in deferred/", || {
        (instance.queue_files("deferred") == vec![queued.clone()]).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));

    faults.inject();
    let filled = spool.fill();
    assert!(filled > 0);
    // A small message fails at the commit, a large one while streaming.
    for (n, size) in [(1, 0), (2, 300 * 1024)] {
        let id = format!("full-{n}");
        match try_submit(&mut c, "alice@example.org", &message(&id, size)).unwrap() {
            Submitted::Refused(stage, reply) => {
                assert!(
                    stage == "MAIL" || stage == "DATA" || stage == "end of data",
                    "{stage}: {reply:?}"
                );
                assert_eq!(reply.code, 452, "{stage}: {reply:?}");
                assert!(reply.text().starts_with("4.3.1"), "{reply:?}");
            }
            Submitted::Queued(qid) => panic!("{id} queued as {qid} on a full spool"),
        }
        // The session goes on.
        c.send("RSET").unwrap().expect_code(250).unwrap();
    }
    // The same through BDAT.
    c.send("MAIL FROM:<sender@remote.test>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    c.send("RCPT TO:<alice@example.org>")
        .unwrap()
        .expect_code(250)
        .unwrap();
    let chunk = "Subject: bdat\r\n\r\nhello\r\n";
    c.write_raw(format!("BDAT {} LAST\r\n{chunk}", chunk.len()).as_bytes())
        .unwrap();
    let reply = c.read_reply().unwrap();
    assert_eq!(reply.code, 452, "BDAT: {reply:?}");
    assert!(reply.text().starts_with("4.3.1"), "{reply:?}");
    c.send("NOOP").unwrap().expect_code(250).unwrap();
    assert_eq!(pids(instance, "smtpd"), smtpd, "smtpd did not restart");
    assert!(dot_tmp_files(instance).is_empty(), "{}", instance.dump());
    assert!(instance.queue_files("incoming").is_empty());
    assert!(instance.queue_files("corrupt").is_empty());
    assert_eq!(instance.queue_files("deferred"), vec![queued.clone()]);

    // The queued message is delivered while the spool is still full.
    set_mode(&bob, 0o700);
    instance.flush().unwrap();
    wait_until(WAIT, "the queued message delivered on a full spool", || {
        message_ids(&bob)
            .contains_key("<queued-before@faults.test>")
            .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    instance
        .wait_log(WAIT, &format!("{queued}: removed"))
        .unwrap();
    instance
        .wait_log(WAIT, "No space left on device")
        .unwrap_or_else(|e| panic!("{e:#}"));

    spool.free();
    let id = match try_submit(&mut c, "alice@example.org", &message("after-full", 0)).unwrap() {
        Submitted::Queued(id) => id,
        Submitted::Refused(stage, reply) => panic!("refused at {stage} with room: {reply:?}"),
    };
    c.send("QUIT").unwrap();
    let alice = maildir(instance, "alice");
    wait_until(WAIT, "the message after the fault", || {
        (maildir_count(&alice) == 1).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    let ids = message_ids(&alice);
    assert_eq!(ids.get("<after-full@faults.test>"), Some(&1), "{ids:?}");
    wait_queue_empty(instance);
    instance.wait_log(WAIT, &format!("{id}: removed")).unwrap();
    assert_eq!(message_ids(&bob).values().sum::<usize>(), 2);
    faults.survive();
    faults.accepted = 3;
    drop(site);
    faults.print("full_spool");
}

/// See: issue 11. A full mailbox file system: the delivery is deferred with 4.3.1
/// (mail system full), the queue keeps the message, and after room is made and the queue
/// flushed it is delivered exactly once, with nothing left in the Maildir's tmp/.
#[test]
fn full_mailbox_file_system_defers_and_a_flush_delivers_once() {
    if !running_as_root("full_mailbox") {
        return;
    }
    let mut faults = Faults::default();
    let smtp = free_port().unwrap();
    let Some(mut site) = OnTmpfs::new(delivering("full-mail", smtp), "mail", "1m") else {
        return;
    };
    start(&mut site.instance);
    let (instance, mail) = (&site.instance, &site.tmpfs);
    let alice = maildir(instance, "alice");
    let mut c = connect(smtp);
    let Submitted::Queued(_) =
        try_submit(&mut c, "alice@example.org", &message("before", 0)).unwrap()
    else {
        panic!("first message refused")
    };
    wait_until(WAIT, "the first message", || {
        (maildir_count(&alice) == 1).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));

    faults.inject();
    mail.fill();
    let id = match try_submit(&mut c, "alice@example.org", &message("while-full", 20_000)).unwrap()
    {
        Submitted::Queued(id) => id,
        Submitted::Refused(stage, reply) => panic!("refused at {stage}: {reply:?}"),
    };
    c.send("QUIT").unwrap();
    let line = instance
        .wait_log(WAIT, &format!("{id}: to=<alice@example.org>, relay=local"))
        .unwrap();
    assert!(line.contains("status=deferred"), "{line}");
    // RFC 3463 X.3.1: mail system full.
    assert!(line.contains(", dsn=4.3.1, "), "{line}");
    assert!(line.contains("No space left on device"), "{line}");
    wait_until(WAIT, "the message in deferred/", || {
        (instance.queue_files("deferred") == vec![id.clone()]).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    assert_eq!(maildir_count(&alice), 1);
    let tmp: Vec<_> = std::fs::read_dir(alice.join("tmp")).unwrap().collect();
    assert!(tmp.is_empty(), "left in tmp/: {tmp:?}");

    mail.free();
    let output = instance.postern(&["queue", "flush"]).unwrap();
    assert!(output.status.success(), "{}", text(&output));
    wait_until(WAIT, "the deferred message delivered", || {
        (maildir_count(&alice) == 2).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    wait_queue_empty(instance);
    instance.wait_log(WAIT, &format!("{id}: removed")).unwrap();
    let ids = message_ids(&alice);
    assert_eq!(ids.get("<while-full@faults.test>"), Some(&1), "{ids:?}");
    assert_eq!(ids.values().sum::<usize>(), 2, "{ids:?}");
    faults.survive();
    faults.accepted = 2;
    drop(site);
    faults.print("full_mailbox");
}

/// The pid of each process of the services running `command`.
fn pids(instance: &Instance, command: &str) -> Vec<u32> {
    instance
        .status()
        .map(|status| {
            status
                .services
                .iter()
                .filter(|s| s.command == command)
                .flat_map(|s| s.processes.iter().map(|p| p.pid))
                .collect()
        })
        .unwrap_or_default()
}

/// See: issue 11. `kill -9` of smtpd, qmgr and local one at a time, then of all
/// three at once, while a client sends a few hundred messages: master restarts
/// each, and every message answered 250 reaches the Maildir at least once.
#[test]
fn kill_9_of_each_daemon_under_load_loses_no_accepted_message() {
    if !running_as_root("kill_9_under_load") {
        return;
    }
    const TOTAL: usize = 300;
    let mut faults = Faults::default();
    let smtp = free_port().unwrap();
    let mut instance = delivering("kill-9", smtp)
        .main("minimal_backoff_time", "1s")
        .main("maximal_backoff_time", "2s")
        .main("queue_run_delay", "1s")
        .create()
        .unwrap();
    start(&mut instance);

    let accepted = Arc::new(Mutex::new(Vec::new()));
    let attempts = Arc::new(AtomicUsize::new(0));
    let client = {
        let (accepted, attempts) = (accepted.clone(), attempts.clone());
        std::thread::spawn(move || {
            let mut refused = 0usize;
            for n in 0..TOTAL {
                let id = format!("load-{n}");
                // A killed smtpd drops the session: no 250, so nobody is owed it.
                let result = SmtpClient::connect(smtp).and_then(|mut c| {
                    c.send("EHLO client.example")?.expect_code(250)?;
                    let result = try_submit(&mut c, "alice@example.org", &message(&id, 0))?;
                    let _ = c.send("QUIT");
                    Ok(result)
                });
                match result {
                    Ok(Submitted::Queued(_)) => accepted.lock().unwrap().push(id),
                    Ok(Submitted::Refused(..)) | Err(_) => refused += 1,
                }
                attempts.fetch_add(1, Ordering::SeqCst);
            }
            refused
        })
    };

    let rounds: [&[&str]; 4] = [
        &["smtpd"],
        &["qmgr"],
        &["local"],
        &["smtpd", "qmgr", "local"],
    ];
    for (round, commands) in rounds.iter().enumerate() {
        // Spread the kills over the load.
        let progress = (round + 1) * TOTAL / (rounds.len() + 1);
        wait_until(WAIT, &format!("{progress} messages sent"), || {
            (attempts.load(Ordering::SeqCst) >= progress).then_some(())
        })
        .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
        let mut killed = Vec::new();
        for command in *commands {
            let pids = wait_until(WAIT, &format!("{command} to run"), || {
                Some(pids(&instance, command)).filter(|p| !p.is_empty())
            })
            .unwrap();
            for pid in pids {
                faults.inject();
                kill(Pid::from_raw(i32::try_from(pid).unwrap()), Signal::SIGKILL).unwrap();
                killed.push((*command, pid));
            }
        }
        for (command, pid) in killed {
            wait_until(
                WAIT,
                &format!("master to restart {command} (was {pid})"),
                || Some(pids(&instance, command)).filter(|p| !p.is_empty() && !p.contains(&pid)),
            )
            .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
            faults.survive();
        }
    }
    let refused = client.join().unwrap();
    let accepted = accepted.lock().unwrap().clone();
    assert!(
        accepted.len() > TOTAL / 2,
        "only {} accepted",
        accepted.len()
    );
    instance.wait_ready().unwrap();

    // Mail deferred by a killed local is retried after minimal_backoff_time; a
    // flush now and then makes it sooner.
    let alice = maildir(&instance, "alice");
    let mut flushed = std::time::Instant::now();
    let delivered = wait_until(WAIT, "every accepted message in the Maildir", || {
        if flushed.elapsed() > Duration::from_millis(500) {
            let _ = instance.flush();
            flushed = std::time::Instant::now();
        }
        let ids = message_ids(&alice);
        let all = accepted
            .iter()
            .all(|id| ids.contains_key(&format!("<{id}@faults.test>")));
        (all && nothing_queued(&instance)).then_some(ids)
    });
    let delivered = match delivered {
        Ok(ids) => ids,
        Err(e) => {
            let ids = message_ids(&alice);
            let lost: Vec<&String> = accepted
                .iter()
                .filter(|id| !ids.contains_key(&format!("<{id}@faults.test>")))
                .collect();
            panic!("{e:#}: lost {lost:?}\n{}", instance.dump());
        }
    };
    // What a killed smtpd left in incoming/ (never answered 250) is removed by the
    // running qmgr once it is old: made old here, plus one planted.
    let leftovers: Vec<String> = dot_tmp_files(&instance)
        .into_iter()
        .chain([format!(".{}.tmp", QueueId::new())])
        .collect();
    let two_hours_ago = SystemTime::now() - Duration::from_secs(2 * 3600);
    for name in &leftovers {
        let path = instance.queue_dir().join("incoming").join(name);
        let file = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .unwrap();
        file.set_modified(two_hours_ago).unwrap();
    }
    wait_until(WAIT, "qmgr to remove the unfinished incoming files", || {
        dot_tmp_files(&instance).is_empty().then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    instance
        .wait_log(WAIT, "removed an unfinished incoming file")
        .unwrap();
    faults.accepted = accepted.len();
    faults.lost = 0;
    faults.duplicates = delivered.values().map(|n| n - 1).sum();
    let unaccepted_delivered = delivered.len() - accepted.len();
    eprintln!(
        "kill -9 under load: {TOTAL} sent, {} accepted, {refused} without 250 ({unaccepted_delivered} of them delivered anyway), {} copies in the Maildir",
        accepted.len(),
        delivered.values().sum::<usize>()
    );
    assert_eq!(faults.injected, faults.survived);
    faults.print("kill_9_under_load");
}

/// Writes a queue file for `to` into `incoming/` of the spool at `root` with the
/// spool crate, as smtpd would have, owned by `owner`; returns its ID.
fn write_queue_file(root: &Path, to: &str, message: &str, owner: &User) -> QueueId {
    let spool = Spool::new(root);
    let envelope = Envelope {
        sender: "sender@remote.test".to_owned(),
        recipients: vec![Recipient {
            address: to.to_owned(),
            orcpt: None,
            notify: DsnNotify::default(),
        }],
        arrival: SystemTime::now(),
        client: None,
        auth_user: None,
        dsn_envid: None,
        dsn_ret: None,
        body_8bit: false,
        smtputf8: false,
    };
    let mut writer = spool.create(&envelope).unwrap();
    writer.write_all(message.as_bytes()).unwrap();
    let id = writer.commit().unwrap();
    let path = spool.path(Queue::Incoming, &id);
    std::os::unix::fs::chown(&path, Some(owner.uid.as_raw()), Some(owner.gid.as_raw())).unwrap();
    id
}

/// Runs `sendmail -c DIR ARGS` as the unprivileged user `user` with `input`.
fn sendmail_as(instance: &Instance, user: &User, args: &[&str], input: &str) -> Output {
    let sendmail = instance.queue_dir().parent().unwrap().join("sendmail");
    if !sendmail.exists() {
        std::os::unix::fs::symlink(instance.bin("postern"), &sendmail).unwrap();
    }
    let mut child = Command::new("setpriv")
        .arg(format!("--reuid={}", user.uid))
        .arg(format!("--regid={}", user.gid))
        .arg("--clear-groups")
        .arg("--")
        .arg(&sendmail)
        .arg("-c")
        .arg(instance.config_dir())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// How many delivery attempts the log shows for `id`.
fn attempts(instance: &Instance, id: &str) -> usize {
    instance
        .log()
        .lines()
        .filter(|l| l.contains(&format!("{id}: to=<")))
        .count()
}

/// See: issue 11. master stopped (SIGTERM) and started again on the same
/// configuration with mail in every queue state: what was in incoming/ and active/
/// and waiting in maildrop/ is delivered once, the deferred message is retried and
/// stays deferred, the held one stays held until released.
#[test]
fn master_restart_with_mail_in_every_queue_state() {
    if !running_as_root("master_restart") {
        return;
    }
    let mut faults = Faults::default();
    let owner = mail_owner();
    let submitter = ensure_user("postern-sender").unwrap();
    let smtp = free_port().unwrap();
    let closed = free_port().unwrap();
    let mut instance = delivering("restart", smtp)
        .service("smtp unix - - n - - smtp")
        .service("pickup unix n - n - 1 pickup")
        .main("transport_maps", "texthash:$config_directory/transport")
        .main("smtp_connect_timeout", "2s")
        .create()
        .unwrap();
    instance
        .write_file(
            "transport",
            &format!("remote.example smtp:[127.0.0.1]:{closed}\n"),
        )
        .unwrap();
    start(&mut instance);

    // Deferred: the next hop refuses connections.
    let mut c = connect(smtp);
    let Submitted::Queued(deferred) =
        try_submit(&mut c, "x@remote.example", &message("deferred", 0)).unwrap()
    else {
        panic!("refused")
    };
    c.send("QUIT").unwrap();
    let line = instance
        .wait_log(WAIT, &format!("{deferred}: to=<x@remote.example>"))
        .unwrap();
    assert!(line.contains("status=deferred"), "{line}");
    wait_until(WAIT, "the message in deferred/", || {
        (instance.queue_files("deferred") == vec![deferred.clone()]).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));

    faults.inject();
    instance.stop().unwrap();
    // While master is down: a message in incoming/, one left in active/ (as by a
    // qmgr that died), one put on hold, one from sendmail in maildrop/.
    let root = instance.queue_dir().to_path_buf();
    let incoming = write_queue_file(&root, "alice@example.org", &message("incoming", 0), &owner);
    let active = write_queue_file(&root, "bob@example.org", &message("active", 0), &owner);
    Spool::new(&root)
        .move_recoverable(&active, Queue::Incoming, Queue::Active)
        .unwrap();
    let held = write_queue_file(&root, "alice@example.org", &message("held", 0), &owner);
    let output = instance.postern(&["queue", "hold", held.as_str()]).unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let output = sendmail_as(
        &instance,
        &submitter,
        &["-oi", "bob@example.org"],
        "Subject: maildrop\nMessage-ID: <maildrop@faults.test>\n\nwritten while down\n",
    );
    assert!(output.status.success(), "{}", text(&output));
    for (queue, want) in [
        ("incoming", vec![incoming.to_string()]),
        ("active", vec![active.to_string()]),
        ("hold", vec![held.to_string()]),
        ("deferred", vec![deferred.clone()]),
    ] {
        assert_eq!(instance.queue_files(queue), want, "{queue}");
    }
    assert_eq!(instance.queue_files("maildrop").len(), 1);
    let tried = attempts(&instance, &deferred);

    instance.start_master().unwrap();
    instance.wait_ready().unwrap();
    let (alice, bob) = (maildir(&instance, "alice"), maildir(&instance, "bob"));
    wait_until(WAIT, "incoming, active and maildrop mail delivered", || {
        let (a, b) = (message_ids(&alice), message_ids(&bob));
        (a.contains_key("<incoming@faults.test>")
            && b.contains_key("<active@faults.test>")
            && b.contains_key("<maildrop@faults.test>"))
        .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    // The deferred message is retried (now, on a flush) and waits again.
    instance.flush().unwrap();
    wait_until(WAIT, "another attempt of the deferred message", || {
        (attempts(&instance, &deferred) > tried
            && instance.queue_files("deferred") == vec![deferred.clone()])
        .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    let due = std::fs::metadata(instance.queue_dir().join("deferred").join(&deferred))
        .unwrap()
        .modified()
        .unwrap();
    assert!(due > SystemTime::now(), "a next attempt time in the future");
    assert_eq!(instance.queue_files("hold"), vec![held.to_string()]);
    assert!(instance.queue_files("maildrop").is_empty());
    assert!(instance.queue_files("incoming").is_empty());
    assert!(instance.queue_files("active").is_empty());
    assert!(!message_ids(&alice).contains_key("<held@faults.test>"));

    let output = instance
        .postern(&["queue", "release", held.as_str()])
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    wait_until(WAIT, "the released message delivered", || {
        message_ids(&alice)
            .contains_key("<held@faults.test>")
            .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    let (a, b) = (message_ids(&alice), message_ids(&bob));
    assert!(a.values().chain(b.values()).all(|n| *n == 1), "{a:?} {b:?}");
    assert_eq!(a.len() + b.len(), 4, "{a:?} {b:?}");
    faults.survive();
    faults.accepted = 5;
    faults.print("master_restart");
}

/// Bytes that look like nothing (a fixed xorshift sequence).
fn garbage(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_be_bytes()[0]
        })
        .collect()
}

/// See: issue 11. Damaged queue files dropped into incoming/ and deferred/ (garbage,
/// a truncated file, a flipped byte in the message, in the envelope, in the header)
/// go to corrupt/ unchanged, each with a warning, and the other mail is delivered.
#[test]
fn damaged_queue_files_go_to_corrupt_and_the_rest_flows() {
    if !running_as_root("damaged_queue_files") {
        return;
    }
    let mut faults = Faults::default();
    let owner = mail_owner();
    let smtp = free_port().unwrap();
    let mut instance = delivering("corrupt", smtp).create().unwrap();
    start(&mut instance);
    // Good queue files to damage come from a spool of our own.
    let scratch = instance.queue_dir().parent().unwrap().join("scratch");
    Spool::new(&scratch).create_dirs(None).unwrap();
    let good = |n: usize| -> Vec<u8> {
        let id = write_queue_file(
            &scratch,
            "bob@example.org",
            &message(&format!("damaged-{n}"), 0),
            &owner,
        );
        let path = Spool::new(&scratch).path(Queue::Incoming, &id);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::remove_file(path).unwrap();
        bytes
    };
    let mut damaged: Vec<(&str, &str, Vec<u8>)> = Vec::new();
    damaged.push(("garbage", "incoming", garbage(3000)));
    let mut truncated = good(1);
    truncated.truncate(truncated.len() / 2);
    damaged.push(("truncated", "incoming", truncated));
    let mut flipped = good(2);
    let body = flipped.windows(4).position(|w| w == b"end\r").unwrap();
    flipped[body] ^= 0x01;
    damaged.push(("flipped message byte", "deferred", flipped));
    let mut flipped = good(3);
    let envelope = flipped.windows(3).position(|w| w == b"bob").unwrap();
    flipped[envelope] ^= 0x20;
    damaged.push(("flipped envelope byte", "incoming", flipped));
    let mut flipped = good(4);
    flipped[2] ^= 0xff;
    damaged.push(("flipped header byte", "deferred", flipped));
    damaged.push(("empty", "deferred", Vec::new()));

    let mut c = connect(smtp);
    let mut sent = Vec::new();
    let mut send = |c: &mut SmtpClient, n: usize| {
        let id = format!("good-{n}");
        match try_submit(c, "alice@example.org", &message(&id, 0)).unwrap() {
            Submitted::Queued(_) => sent.push(format!("<{id}@faults.test>")),
            Submitted::Refused(stage, reply) => panic!("refused at {stage}: {reply:?}"),
        }
    };
    send(&mut c, 0);
    let mut ids = Vec::new();
    let root = instance.queue_dir().to_path_buf();
    for (n, (what, queue, bytes)) in damaged.iter().enumerate() {
        // Written beside the spool, then renamed in whole, as a queue file appears.
        let id = QueueId::new();
        let staged = root.parent().unwrap().join(format!("staged-{id}"));
        std::fs::write(&staged, bytes).unwrap();
        std::os::unix::fs::chown(&staged, Some(owner.uid.as_raw()), Some(owner.gid.as_raw()))
            .unwrap();
        faults.inject();
        std::fs::rename(&staged, root.join(queue).join(id.as_str())).unwrap();
        ids.push((id, *what, bytes.clone()));
        send(&mut c, n + 1);
    }
    // Not regular files at all: a symbolic link (to a good queue file elsewhere),
    // a directory and a FIFO under queue IDs, made beside the spool and renamed in.
    let target = root.parent().unwrap().join("link-target");
    std::fs::write(&target, good(9)).unwrap();
    let mut odd = Vec::new();
    for (what, queue) in [
        ("symlink", "incoming"),
        ("directory", "deferred"),
        ("fifo", "incoming"),
    ] {
        let id = QueueId::new();
        let staged = root.parent().unwrap().join(format!("staged-{id}"));
        match what {
            "symlink" => std::os::unix::fs::symlink(&target, &staged).unwrap(),
            "directory" => std::fs::create_dir(&staged).unwrap(),
            _ => nix::unistd::mkfifo(&staged, nix::sys::stat::Mode::from_bits_truncate(0o600))
                .unwrap(),
        }
        std::os::unix::fs::lchown(&staged, Some(owner.uid.as_raw()), Some(owner.gid.as_raw()))
            .unwrap();
        faults.inject();
        std::fs::rename(&staged, root.join(queue).join(id.as_str())).unwrap();
        odd.push((id, what));
        send(&mut c, 20 + odd.len());
    }
    // A good queue file qmgr may not read (root's, mode 0600): deferred, not
    // stranded in active/, and delivered once its owner is fixed.
    faults.inject();
    let unreadable = write_queue_file(
        &scratch,
        "alice@example.org",
        &message("unreadable", 0),
        &User::from_uid(Uid::from_raw(0)).unwrap().unwrap(),
    );
    std::fs::rename(
        Spool::new(&scratch).path(Queue::Incoming, &unreadable),
        root.join("incoming").join(unreadable.as_str()),
    )
    .unwrap();
    send(&mut c, 30);
    c.send("QUIT").unwrap();
    wait_until(WAIT, "the unreadable file in deferred/", || {
        instance
            .queue_files("deferred")
            .contains(&unreadable.to_string())
            .then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    let path = root.join("deferred").join(unreadable.as_str());
    std::os::unix::fs::chown(&path, Some(owner.uid.as_raw()), Some(owner.gid.as_raw())).unwrap();
    sent.push("<unreadable@faults.test>".to_owned());
    faults.survive();
    // deferred/ is looked at on the next scan (a nudge or a flush).
    instance.flush().unwrap();

    wait_until(WAIT, "every damaged file in corrupt/", || {
        (instance.queue_files("corrupt").len() == ids.len() + odd.len()).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    let log = instance.log();
    for (id, what, bytes) in &ids {
        let kept = std::fs::read(root.join("corrupt").join(id.as_str()))
            .unwrap_or_else(|e| panic!("{what} ({id}) not in corrupt/: {e}"));
        assert_eq!(&kept, bytes, "{what} ({id}) kept as it was");
        let warning = log
            .lines()
            .find(|l| l.contains(&format!("{id}: queue file moved from")))
            .unwrap_or_else(|| panic!("no warning about {what} ({id})\n{log}"));
        assert!(warning.contains("warning: "), "{warning}");
        assert!(warning.contains("to corrupt"), "{warning}");
        faults.survive();
    }
    for (id, what) in &odd {
        let kept = root.join("corrupt").join(id.as_str());
        assert!(
            std::fs::symlink_metadata(&kept).is_ok(),
            "{what} ({id}) not in corrupt/"
        );
        assert!(
            log.contains(&format!("{id}: queue file moved from active to corrupt")),
            "no warning about {what} ({id})\n{log}"
        );
        faults.survive();
    }
    let alice = maildir(&instance, "alice");
    wait_until(WAIT, "the good messages delivered", || {
        let got = message_ids(&alice);
        sent.iter().all(|id| got.get(id) == Some(&1)).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    wait_queue_empty(&instance);
    assert!(message_ids(&maildir(&instance, "bob")).is_empty());
    faults.accepted = sent.len();
    faults.print("damaged_queue_files");
}

/// See: issue 11. A DNS server that never answers: the outbound message is
/// deferred (4.4.3), not bounced, and stays queued. (SERVFAIL and an MX that
/// stalls after connecting are in outbound.rs.)
#[test]
fn dns_timeout_defers_outbound_mail() {
    if !running_as_root("dns_timeout") {
        return;
    }
    let mut faults = Faults::default();
    let dns = DnsServer::start().unwrap();
    dns.drop_queries("slow.test");
    let smtp = free_port().unwrap();
    let dns_addr = dns.addr().to_string();
    let mut instance = delivering("dns-timeout", smtp)
        .service("smtp unix - - n - - smtp")
        .main("smtp_dns_servers", &dns_addr)
        .main("smtp_tcp_port", &free_port().unwrap().to_string())
        .create()
        .unwrap();
    start(&mut instance);
    faults.inject();
    let mut c = connect(smtp);
    let Submitted::Queued(id) =
        try_submit(&mut c, "x@slow.test", &message("dns-timeout", 0)).unwrap()
    else {
        panic!("refused")
    };
    c.send("QUIT").unwrap();
    let line = instance
        .wait_log(WAIT, &format!("{id}: to=<x@slow.test>"))
        .unwrap();
    assert!(line.contains("dsn=4.4.3, status=deferred"), "{line}");
    wait_until(WAIT, "the message in deferred/", || {
        (instance.queue_files("deferred") == vec![id.clone()]).then_some(())
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    assert!(dns.queries().iter().any(|(name, _)| name == "slow.test"));
    eprintln!("dns timeout: {line}");
    faults.survive();
    faults.accepted = 1;
    faults.print("dns_timeout");
}
