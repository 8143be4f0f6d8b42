//! Postern and Debian's Dovecot take turns on one Maildir: each reads the
//! other's `dovecot-uidlist`, and UIDs, UIDVALIDITY, UIDNEXT and flags
//! agree. Skipped, with a note, where Dovecot is not installed.
//!
//! Dovecot refuses to serve mail as root, so when the test runs as root
//! the Maildir belongs to `nobody` and Dovecot's mail processes run as
//! that user (this crate gives the files it creates the Maildir's owner).

// Test code: panicking on a broken expectation is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::os::unix::fs::{PermissionsExt, lchown};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use mailstore::{DEFAULT_MODE, DeliverOptions, Flag, Flags, Keywords, Location, Mailbox, Maildir};

/// A private Dovecot instance; stopped on drop, even when the test fails.
struct Dovecot {
    conf: PathBuf,
    log: PathBuf,
}

impl Dovecot {
    /// start - a Dovecot with no listeners whose only user `alice` has
    /// the home `home` (Maildir in `home/Maildir`), run as `uid:gid`.
    fn start(dir: &Path, home: &Path, uid: u32, gid: u32) -> Dovecot {
        for sub in ["run", "state"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let conf = dir.join("dovecot.conf");
        let log = dir.join("dovecot.log");
        let me = nix::unistd::User::from_uid(nix::unistd::Uid::effective())
            .unwrap()
            .unwrap()
            .name;
        fs::write(
            &conf,
            format!(
                "base_dir = {run}\nstate_dir = {state}\nprotocols =\nssl = no\nlog_path = {log}\n\
                 default_internal_user = {me}\ndefault_login_user = {me}\n\
                 mail_location = maildir:~/Maildir\n\
                 passdb {{\n  driver = static\n  args = password=x\n}}\n\
                 userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={home}\n}}\n",
                run = dir.join("run").display(),
                state = dir.join("state").display(),
                log = log.display(),
                home = home.display(),
            ),
        )
        .unwrap();
        // The daemon keeps its standard streams: give it none, or waiting
        // for them hangs.
        let status = Command::new("dovecot")
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        let dovecot = Dovecot { conf, log };
        assert!(status.success(), "dovecot did not start: {}", dovecot.log());
        dovecot
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// doveadm - run a doveadm command for alice; its output.
    fn doveadm(&self, args: &[&str]) -> String {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "doveadm {args:?}: {stdout}{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        stdout
    }

    /// messages - (uid, base name, flag letters) of every message, as
    /// Dovecot sees them (this syncs its index with the Maildir).
    fn messages(&self) -> Vec<(u32, String, String)> {
        let out = self.doveadm(&[
            "fetch",
            "-u",
            "alice",
            "uid guid flags",
            "mailbox",
            "INBOX",
            "all",
        ]);
        let mut messages = Vec::new();
        let mut current: Option<(u32, String, String)> = None;
        for line in out.lines() {
            if let Some(uid) = line.strip_prefix("uid: ") {
                messages.extend(current.take());
                current = Some((uid.parse().unwrap(), String::new(), String::new()));
            } else if let Some(guid) = line.strip_prefix("guid: ") {
                current.as_mut().unwrap().1 = guid.to_owned();
            } else if let Some(flags) = line.strip_prefix("flags: ") {
                current.as_mut().unwrap().2 = letters(flags);
            }
        }
        messages.extend(current);
        messages
    }

    /// flags - the IMAP flags (system flags and keywords) of one message,
    /// as Dovecot sees them, sorted.
    fn flags(&self, uid: u32) -> Vec<String> {
        let out = self.doveadm(&[
            "fetch",
            "-u",
            "alice",
            "flags",
            "mailbox",
            "INBOX",
            "uid",
            &uid.to_string(),
        ]);
        let line = out
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .unwrap_or_else(|| panic!("no flags in {out:?}"));
        let mut flags: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        flags.sort();
        flags
    }

    /// status - (UIDVALIDITY, UIDNEXT) of INBOX.
    fn status(&self) -> (u32, u32) {
        let out = self.doveadm(&[
            "mailbox",
            "status",
            "-u",
            "alice",
            "uidvalidity uidnext",
            "INBOX",
        ]);
        let field = |key: &str| -> u32 {
            out.split_whitespace()
                .find_map(|f| f.strip_prefix(key))
                .unwrap_or_else(|| panic!("no {key} in {out}"))
                .parse()
                .unwrap()
        };
        (field("uidvalidity="), field("uidnext="))
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .stdin(Stdio::null())
            .output();
    }
}

/// letters - IMAP system flags as Maildir letters, in ASCII order.
fn letters(imap_flags: &str) -> String {
    let mut flags = Flags::empty();
    for flag in imap_flags.split_whitespace() {
        match flag {
            "\\Draft" => flags.insert(Flag::Draft),
            "\\Flagged" => flags.insert(Flag::Flagged),
            "\\Answered" => flags.insert(Flag::Replied),
            "\\Seen" => flags.insert(Flag::Seen),
            "\\Deleted" => flags.insert(Flag::Trashed),
            "\\Recent" => {}
            other => panic!("unexpected flag {other}"),
        }
    }
    flags.to_string()
}

/// ours - (uid, base name, flag letters) of every message, as Postern
/// sees them.
fn ours(mailbox: &Mailbox) -> Vec<(u32, String, String)> {
    mailbox
        .messages()
        .iter()
        .map(|m| (m.uid, m.base.clone(), m.flags.to_string()))
        .collect()
}

/// chown_tree - give everything below `path` to `uid:gid`.
fn chown_tree(path: &Path, uid: u32, gid: u32) {
    lchown(path, Some(uid), Some(gid)).unwrap();
    if fs::symlink_metadata(path).unwrap().is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid, gid);
        }
    }
}

fn deliver(md: &Maildir, subject: &str) -> String {
    let message = format!("Subject: {subject}\r\n\r\nbody of {subject}\r\n");
    let d = md
        .deliver(&mut message.as_bytes(), b"", &DeliverOptions::default())
        .unwrap();
    d.path.file_name().unwrap().to_str().unwrap().to_owned()
}

#[test]
fn dovecot_and_postern_agree_on_uids_uidvalidity_and_flags() {
    if Command::new("doveadm").arg("-V").output().is_err() {
        eprintln!("skipped: doveadm is not installed (Debian: apt-get install dovecot-core)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // Dovecot's mail processes must reach the Maildir.
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let (uid, gid) = if nix::unistd::Uid::effective().is_root() {
        (65534, 65534)
    } else {
        (
            nix::unistd::Uid::effective().as_raw(),
            nix::unistd::Gid::effective().as_raw(),
        )
    };
    let home = dir.path().join("home");
    let md = Maildir::new(home.join("Maildir"));
    md.ensure(None, DEFAULT_MODE).unwrap();

    // 1. Postern delivers (and another tool left a flagged message in
    //    cur/ without sizes in its name); Dovecot indexes the Maildir first.
    let a = deliver(&md, "a");
    deliver(&md, "b");
    deliver(&md, "c");
    let foreign = "1600000000.M1P1.other";
    fs::write(
        md.path().join("cur").join(format!("{foreign}:2,S")),
        "Subject: foreign\n\nno sizes in my name\n",
    )
    .unwrap();
    let tree_owner = |uid, gid| {
        if nix::unistd::Uid::effective().is_root() {
            chown_tree(&home, uid, gid);
        }
    };
    tree_owner(uid, gid);
    let dovecot = Dovecot::start(dir.path(), &home, uid, gid);
    let theirs = dovecot.messages();
    let (uidvalidity, uidnext) = dovecot.status();
    assert_eq!(theirs.len(), 4, "{theirs:?}");
    assert_eq!(theirs[0].1, foreign, "oldest first: {theirs:?}");
    assert_eq!(theirs[0].2, "S");

    let mut mailbox = Mailbox::open(&md).unwrap();
    assert_eq!(ours(&mailbox), theirs);
    assert_eq!(mailbox.uidvalidity(), uidvalidity);
    assert_eq!(mailbox.next_uid(), uidnext);

    // 2. Postern's turn: new mail gets UIDs from Postern; flags, a move
    //    to cur/ and an expunge. Dovecot must see the same.
    let d = deliver(&md, "d");
    deliver(&md, "e");
    mailbox.refresh().unwrap();
    assert_eq!(mailbox.messages().len(), 6);
    assert_eq!(mailbox.message(5).unwrap().base, d);
    mailbox.move_new_to_cur().unwrap();
    let seen_flagged = Flags::empty().with(Flag::Seen).with(Flag::Flagged);
    assert!(mailbox.set_flags(1, seen_flagged).unwrap());
    assert!(
        mailbox
            .set_flags(5, Flags::empty().with(Flag::Replied))
            .unwrap()
    );
    assert_eq!(mailbox.expunge(&[3]).unwrap(), 1);
    mailbox.refresh().unwrap();
    tree_owner(uid, gid);
    let theirs = dovecot.messages();
    assert_eq!(ours(&mailbox), theirs);
    assert_eq!(dovecot.status(), (uidvalidity, mailbox.next_uid()));
    assert!(theirs.iter().all(|m| m.0 != 3));

    // 3. Dovecot's turn: another MDA delivers, Dovecot gives it a UID,
    //    changes flags and expunges. Postern must see the same.
    let late = "1900000000.M1P1.other-mda";
    fs::write(
        md.path().join("new").join(late),
        "Subject: late\n\nfrom another MDA\n",
    )
    .unwrap();
    tree_owner(uid, gid);
    let theirs = dovecot.messages();
    assert_eq!(theirs.last().unwrap().0, 7, "{theirs:?}");
    dovecot.doveadm(&[
        "flags", "add", "-u", "alice", "\\Seen", "mailbox", "INBOX", "uid", "5",
    ]);
    dovecot.doveadm(&[
        "flags",
        "add",
        "-u",
        "alice",
        "\\Flagged",
        "mailbox",
        "INBOX",
        "uid",
        "7",
    ]);
    dovecot.doveadm(&["expunge", "-u", "alice", "mailbox", "INBOX", "uid", "2"]);
    let theirs = dovecot.messages();
    let (_, uidnext) = dovecot.status();
    let mut mailbox = Mailbox::open(&md).unwrap();
    assert_eq!(ours(&mailbox), theirs);
    assert_eq!(mailbox.uidvalidity(), uidvalidity);
    assert_eq!(mailbox.next_uid(), uidnext);
    let late_entry = mailbox.message(7).unwrap();
    assert_eq!(late_entry.base, late);
    assert_eq!(late_entry.flags.to_string(), "F");
    assert_eq!(mailbox.message(5).unwrap().flags.to_string(), "RS");
    let first = mailbox.message(1).unwrap();
    assert_eq!(
        (first.base.as_str(), first.flags.to_string().as_str()),
        (foreign, "FS")
    );
    // `a` had UID 2, which Dovecot expunged.
    assert!(mailbox.messages().iter().all(|m| m.base != a));

    // 4. And back: Postern moves Dovecot's flagged message out of new/
    //    and assigns the next UID; Dovecot agrees once more.
    mailbox.move_new_to_cur().unwrap();
    assert_eq!(mailbox.message(7).unwrap().location, Location::Cur);
    deliver(&md, "f");
    mailbox.refresh().unwrap();
    assert_eq!(mailbox.messages().last().unwrap().uid, 8);
    tree_owner(uid, gid);
    assert_eq!(dovecot.messages(), ours(&mailbox));
    assert_eq!(dovecot.status(), (uidvalidity, 9));
}

/// keyword_names - the keyword names set on a message, as Postern sees
/// them, sorted.
fn keyword_names(mailbox: &Mailbox, keywords: &Keywords, uid: u32) -> Vec<String> {
    let mut names: Vec<String> = mailbox
        .message(uid)
        .unwrap()
        .flags
        .keyword_letters()
        .map(|l| keywords.name(l).unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn dovecot_and_postern_share_keywords() {
    if Command::new("doveadm").arg("-V").output().is_err() {
        eprintln!("skipped: doveadm is not installed (Debian: apt-get install dovecot-core)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let (uid, gid) = if nix::unistd::Uid::effective().is_root() {
        (65534, 65534)
    } else {
        (
            nix::unistd::Uid::effective().as_raw(),
            nix::unistd::Gid::effective().as_raw(),
        )
    };
    let home = dir.path().join("home");
    let md = Maildir::new(home.join("Maildir"));
    md.ensure(None, DEFAULT_MODE).unwrap();
    deliver(&md, "a");
    deliver(&md, "b");
    let mut mailbox = Mailbox::open(&md).unwrap();
    mailbox.move_new_to_cur().unwrap();
    let tree_owner = || {
        if nix::unistd::Uid::effective().is_root() {
            chown_tree(&home, uid, gid);
        }
    };
    tree_owner();
    let dovecot = Dovecot::start(dir.path(), &home, uid, gid);

    // 1. Dovecot sets keywords; Postern reads their names.
    dovecot.doveadm(&[
        "flags",
        "add",
        "-u",
        "alice",
        "$Label1 Junk",
        "mailbox",
        "INBOX",
        "all",
    ]);
    dovecot.doveadm(&[
        "flags",
        "add",
        "-u",
        "alice",
        "Important",
        "mailbox",
        "INBOX",
        "uid",
        "1",
    ]);
    mailbox.refresh().unwrap();
    let mut keywords = Keywords::load(&md).unwrap();
    assert_eq!(
        keyword_names(&mailbox, &keywords, 1),
        ["$Label1", "Important", "Junk"]
    );
    assert_eq!(keyword_names(&mailbox, &keywords, 2), ["$Label1", "Junk"]);

    // Postern's metadata cache in the Maildir does not disturb Dovecot.
    let metadata = mailbox.metadata(1).unwrap().unwrap();
    assert_eq!(metadata.envelope.subject.as_deref(), Some(&b"a"[..]));
    assert_eq!(mailbox.flush_metadata().unwrap(), 1);

    // 2. Postern sets a new keyword and an existing one (in other case)
    //    and removes one; Dovecot sees the same.
    let nonjunk = keywords.letter_for("NonJunk", true).unwrap().unwrap();
    let important = keywords.letter_for("IMPORTANT", true).unwrap().unwrap();
    let junk = keywords.letter_for("junk", false).unwrap().unwrap();
    let mut flags = mailbox.message(2).unwrap().flags;
    flags.insert_keyword_letter(nonjunk);
    flags.insert_keyword_letter(important);
    flags.remove_keyword_letter(junk);
    flags.insert(Flag::Seen);
    assert!(mailbox.set_flags(2, flags).unwrap());
    tree_owner();
    assert_eq!(
        dovecot.flags(2),
        ["$Label1", "Important", "NonJunk", "\\Seen"]
    );
    assert_eq!(dovecot.flags(1), ["$Label1", "Important", "Junk"]);

    // 3. And Dovecot, adding after Postern, does not reuse its letter.
    dovecot.doveadm(&[
        "flags", "add", "-u", "alice", "Later", "mailbox", "INBOX", "uid", "1",
    ]);
    mailbox.refresh().unwrap();
    keywords.refresh().unwrap();
    assert_eq!(
        keyword_names(&mailbox, &keywords, 1),
        ["$Label1", "Important", "Junk", "Later"]
    );
    assert_eq!(
        keyword_names(&mailbox, &keywords, 2),
        ["$Label1", "Important", "NonJunk"]
    );
}
