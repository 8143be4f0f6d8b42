//! Least privilege, seen from outside: with master started as root, no daemon keeps
//! a root ID, every daemon runs sandboxed (seccomp filter mode, no_new_privs, the
//! `sandbox:` start line), the spool has the owners and modes crates/spool documents,
//! and delivered mail belongs to the mailbox owner with no group or other write bit.
//!
//! These tests need root (to start master as root); as another user they print a
//! notice and pass.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use ipc::control::MasterStatus;
use nix::unistd::{Uid, User};
use testkit::{Instance, TEST_MAIL_OWNER, free_port, wait_until};

use crate::support::{
    ALICE_AND_BOB, mail_dir, maildir_instance, proc_ids, start_mail_instance, submit,
    wait_maildir_messages,
};

const WAIT: Duration = Duration::from_secs(30);

/// True (after a notice) when the test cannot run because it is not root.
fn skip_unless_root(test: &str) -> bool {
    if Uid::effective().is_root() {
        return false;
    }
    eprintln!("{test}: skipped: needs root to start master as root");
    true
}

/// Every daemon there is, with master started as root: smtpd, qmgr, local, smtp (via
/// a relayhost that refuses, so mail to other domains is deferred), pickup, pop3d and
/// imapd.
fn start_everything(name: &str) -> (Instance, u16) {
    let smtp = free_port().unwrap();
    let pop3 = free_port().unwrap();
    let imap = free_port().unwrap();
    let refused = free_port().unwrap();
    let builder = maildir_instance(name, smtp, pop3)
        .main("relayhost", &format!("[127.0.0.1]:{refused}"))
        .service("smtp unix - - n - - smtp")
        .service("pickup unix n - n - 1 pickup")
        .service(&format!("127.0.0.1:{imap} inet n - n - - imapd"));
    let instance = start_mail_instance(builder, &[], ALICE_AND_BOB, "");
    (instance, smtp)
}

/// (command, pid) of every daemon process master runs.
fn daemons(status: &MasterStatus) -> Vec<(String, u32)> {
    status
        .services
        .iter()
        .flat_map(|s| s.processes.iter().map(|p| (s.command.clone(), p.pid)))
        .collect()
}

/// Whether the kernel has Landlock, when /sys/kernel/security/lsm can tell (it is
/// not mounted everywhere); `None` accepts either start line.
fn landlock_in_kernel() -> Option<bool> {
    std::fs::read_to_string("/sys/kernel/security/lsm")
        .ok()
        .map(|lsm| lsm.contains("landlock"))
}

#[test]
fn no_daemon_but_master_is_root_and_every_daemon_is_sandboxed() {
    if skip_unless_root("no_daemon_but_master_is_root_and_every_daemon_is_sandboxed") {
        return;
    }
    let (instance, _smtp) = start_everything("privileges-ids");
    let owner = User::from_name(TEST_MAIL_OWNER).unwrap().unwrap();
    let status = instance.status().unwrap();
    let daemons = daemons(&status);
    let commands: Vec<&str> = daemons.iter().map(|(c, _)| c.as_str()).collect();
    for want in ["smtpd", "qmgr", "local", "smtp", "pickup", "pop3d", "imapd"] {
        assert!(
            commands.contains(&want),
            "{want} is not running: {daemons:?}"
        );
    }

    let master = instance.master_pid().unwrap();
    assert_eq!(
        proc_ids(master, "Uid:"),
        [0, 0, 0, 0],
        "master runs as root"
    );

    for (command, pid) in &daemons {
        // The start line comes after the privilege drop and the sandbox: wait for
        // it before looking at the process (master lists it as soon as it forks).
        let line = instance
            .wait_log(WAIT, &format!("{command}[{pid}]: sandbox: "))
            .unwrap();
        let on = line.contains("sandbox: landlock=ABI-");
        assert!(
            (on || line.contains("sandbox: landlock=none")) && line.ends_with(" seccomp=on"),
            "{command}[{pid}]: {line}"
        );
        if let Some(want) = landlock_in_kernel() {
            assert_eq!(on, want, "{command}[{pid}]: {line}");
        }

        let want_uid = owner.uid.as_raw();
        let want_gid = owner.gid.as_raw();
        let uids = proc_ids(*pid, "Uid:");
        let gids = proc_ids(*pid, "Gid:");
        assert_eq!(
            uids, [want_uid; 4],
            "{command}[{pid}] uids (real, effective, saved, fs)"
        );
        assert_eq!(
            gids, [want_gid; 4],
            "{command}[{pid}] gids (real, effective, saved, fs)"
        );
        let groups = proc_ids(*pid, "Groups:");
        assert!(
            groups.iter().all(|g| *g == want_gid),
            "{command}[{pid}] supplementary groups {groups:?}: only mail_owner's group {want_gid} expected"
        );
        assert_eq!(
            proc_ids(*pid, "NoNewPrivs:"),
            [1],
            "{command}[{pid}] no_new_privs"
        );
        assert_eq!(
            proc_ids(*pid, "Seccomp:"),
            [2],
            "{command}[{pid}] seccomp filter mode"
        );
    }
}

#[test]
fn daemon_sandbox_no_turns_the_sandbox_off() {
    if skip_unless_root("daemon_sandbox_no_turns_the_sandbox_off") {
        return;
    }
    let smtp = free_port().unwrap();
    let instance = Instance::builder("privileges-off")
        .main("daemon_sandbox", "no")
        .service(&format!("127.0.0.1:{smtp} inet n - n - - smtpd"))
        .start()
        .unwrap();
    let status = instance.status().unwrap();
    let (command, pid) = daemons(&status).into_iter().next().unwrap();
    instance
        .wait_log(
            WAIT,
            &format!("{command}[{pid}]: sandbox: off (daemon_sandbox = no)"),
        )
        .unwrap();
    assert_eq!(proc_ids(pid, "Seccomp:"), [0], "{command}[{pid}]");
    // Still not root.
    assert!(proc_ids(pid, "Uid:").iter().all(|u| *u != 0));
}

fn assert_dir(path: &Path, mode: u32, uid: u32) {
    let meta =
        std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(meta.is_dir(), "{} is a directory", path.display());
    assert_eq!(
        meta.permissions().mode() & 0o7777,
        mode,
        "{} mode {:o}",
        path.display(),
        meta.permissions().mode() & 0o7777
    );
    assert_eq!(meta.uid(), uid, "{} owner", path.display());
}

#[test]
fn spool_and_delivered_mail_have_the_right_owners_and_modes() {
    if skip_unless_root("spool_and_delivered_mail_have_the_right_owners_and_modes") {
        return;
    }
    let (instance, smtp) = start_everything("privileges-files");
    let owner = User::from_name(TEST_MAIL_OWNER).unwrap().unwrap();
    let owner_uid = owner.uid.as_raw();

    // The spool directories, as crates/spool's create_dirs documents them.
    let queue = instance.queue_dir();
    for dir in [
        "incoming", "active", "deferred", "hold", "corrupt", "recycle", "private",
    ] {
        assert_dir(&queue.join(dir), 0o700, owner_uid);
    }
    assert_dir(&queue.join("maildrop"), 0o1733, owner_uid);
    assert_dir(&queue.join("public"), 0o711, owner_uid);
    assert_dir(&queue.join("pid"), 0o755, 0);

    // A queue file: mail for another domain waits in deferred/ (the relayhost refuses).
    submit(
        smtp,
        "alice@example.org",
        &["someone@elsewhere.example"],
        "",
        "Subject: out\r\n\r\nout\r\n",
    );
    let deferred = queue.join("deferred");
    let file = wait_until(WAIT, "a queue file in deferred/", || {
        std::fs::read_dir(&deferred)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
    })
    .unwrap_or_else(|e| panic!("{e:#}\n{}", instance.dump()));
    let meta = std::fs::metadata(&file).unwrap();
    assert_eq!(
        meta.permissions().mode() & 0o7777,
        0o600,
        "{}",
        file.display()
    );
    assert_eq!(meta.uid(), owner_uid, "{} owner", file.display());

    // Delivered mail: a virtual user's Maildir belongs to mail_owner (no uid in the
    // users file), with no group or other write bit anywhere in it.
    submit(
        smtp,
        "bob@example.org",
        &["alice@example.org"],
        "",
        "Subject: in\r\n\r\nin\r\n",
    );
    let maildir = mail_dir(&instance).join("example.org/alice");
    wait_maildir_messages(&instance, &maildir.join("new"), 1);
    let mut pending = vec![maildir];
    let mut seen = 0;
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(
            !meta.file_type().is_symlink(),
            "{} is a symlink",
            path.display()
        );
        assert_eq!(meta.uid(), owner_uid, "{} owner", path.display());
        assert_eq!(
            meta.permissions().mode() & 0o022,
            0,
            "{} mode {:o} has a group or other write bit",
            path.display(),
            meta.permissions().mode() & 0o7777
        );
        seen += 1;
        if meta.is_dir() {
            pending.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        }
    }
    assert!(
        seen >= 5,
        "the Maildir, tmp/, new/, cur/ and the message: {seen} entries"
    );
}
