//! Postern and Debian's Dovecot take turns on one Maildir: each reads the
//! other's `dovecot-uidlist`, and UIDs, UIDVALIDITY, UIDNEXT and flags
//! agree; each sees the other's folders (LIST with `\Noselect` and
//! children), subscriptions, APPENDs (UID, flags, keywords, INTERNALDATE,
//! size) and copies. Skipped, with a note, where Dovecot is not installed
//! (the folder test talks IMAP to `doveadm exec imap`, from
//! dovecot-imapd).
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

    /// add_flags - add `flags` to the `messages` (`all`, `uid N`) of alice's INBOX.
    fn add_flags(&self, flags: &str, messages: &[&str]) {
        let mut args = vec!["flags", "add", "-u", "alice", flags, "mailbox", "INBOX"];
        args.extend_from_slice(messages);
        self.doveadm(&args);
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
        .map(|m| (m.uid, m.base().to_owned(), m.flags.to_string()))
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

/// have_doveadm - whether Dovecot's doveadm runs here.
fn have_doveadm() -> bool {
    Command::new("doveadm").arg("-V").output().is_ok()
}

/// A Maildir (`home/Maildir`) in a temporary directory, and the user
/// Dovecot's mail processes run as.
struct Site {
    dir: tempfile::TempDir,
    home: PathBuf,
    uid: u32,
    gid: u32,
}

impl Site {
    /// with_doveadm - [`Site::new`], or None (the test skipped, with a note)
    /// where doveadm is not installed.
    fn with_doveadm() -> Option<Site> {
        if !have_doveadm() {
            eprintln!("skipped: doveadm is not installed (Debian: apt-get install dovecot-core)");
            return None;
        }
        Some(Site::new())
    }

    /// new - the directories, with the Maildir created.
    fn new() -> Site {
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
        let site = Site {
            dir,
            home,
            uid,
            gid,
        };
        site.maildir().ensure(None, DEFAULT_MODE).unwrap();
        site
    }

    fn maildir(&self) -> Maildir {
        Maildir::new(self.home.join("Maildir"))
    }

    /// hand_over - give the home to Dovecot's user, when running as root
    /// (otherwise it is already the user's).
    fn hand_over(&self) {
        if nix::unistd::Uid::effective().is_root() {
            chown_tree(&self.home, self.uid, self.gid);
        }
    }

    /// start_dovecot - hand the home over and start Dovecot on it.
    fn start_dovecot(&self) -> Dovecot {
        self.hand_over();
        Dovecot::start(self.dir.path(), &self.home, self.uid, self.gid)
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
    let Some(site) = Site::with_doveadm() else {
        return;
    };
    let md = site.maildir();

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
    let dovecot = site.start_dovecot();
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
    assert_eq!(mailbox.message(5).unwrap().base(), d);
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
    site.hand_over();
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
    site.hand_over();
    let theirs = dovecot.messages();
    assert_eq!(theirs.last().unwrap().0, 7, "{theirs:?}");
    dovecot.add_flags("\\Seen", &["uid", "5"]);
    dovecot.add_flags("\\Flagged", &["uid", "7"]);
    dovecot.doveadm(&["expunge", "-u", "alice", "mailbox", "INBOX", "uid", "2"]);
    let theirs = dovecot.messages();
    let (_, uidnext) = dovecot.status();
    let mut mailbox = Mailbox::open(&md).unwrap();
    assert_eq!(ours(&mailbox), theirs);
    assert_eq!(mailbox.uidvalidity(), uidvalidity);
    assert_eq!(mailbox.next_uid(), uidnext);
    let late_entry = mailbox.message(7).unwrap();
    assert_eq!(late_entry.base(), late);
    assert_eq!(late_entry.flags.to_string(), "F");
    assert_eq!(mailbox.message(5).unwrap().flags.to_string(), "RS");
    let first = mailbox.message(1).unwrap();
    assert_eq!(
        (first.base(), first.flags.to_string().as_str()),
        (foreign, "FS")
    );
    // `a` had UID 2, which Dovecot expunged.
    assert!(mailbox.messages().iter().all(|m| m.base() != a));

    // 4. And back: Postern moves Dovecot's flagged message out of new/
    //    and assigns the next UID; Dovecot agrees once more.
    mailbox.move_new_to_cur().unwrap();
    assert_eq!(mailbox.message(7).unwrap().location, Location::Cur);
    deliver(&md, "f");
    mailbox.refresh().unwrap();
    assert_eq!(mailbox.messages().last().unwrap().uid, 8);
    site.hand_over();
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
    let Some(site) = Site::with_doveadm() else {
        return;
    };
    let md = site.maildir();
    deliver(&md, "a");
    deliver(&md, "b");
    let mut mailbox = Mailbox::open(&md).unwrap();
    mailbox.move_new_to_cur().unwrap();
    let dovecot = site.start_dovecot();

    // 1. Dovecot sets keywords; Postern reads their names.
    dovecot.add_flags("$Label1 Junk", &["all"]);
    dovecot.add_flags("Important", &["uid", "1"]);
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
    site.hand_over();
    assert_eq!(
        dovecot.flags(2),
        ["$Label1", "Important", "NonJunk", "\\Seen"]
    );
    assert_eq!(dovecot.flags(1), ["$Label1", "Important", "Junk"]);

    // 3. And Dovecot, adding after Postern, does not reuse its letter.
    dovecot.add_flags("Later", &["uid", "1"]);
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

// ---- Folders, subscriptions, APPEND and COPY ----

impl Dovecot {
    /// imap - run one preauthenticated IMAP session as alice
    /// (`doveadm exec imap`): send `commands` (CRLF-terminated, ending
    /// with LOGOUT), return everything the server said.
    fn imap(&self, commands: &str) -> String {
        use std::io::Write;
        let mut child = Command::new("doveadm")
            .arg("-c")
            .arg(&self.conf)
            .args(["exec", "imap", "-u", "alice"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(commands.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            text.contains("OK Logout"),
            "imap session failed: {text}{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
        text
    }

    /// list - Dovecot's LIST "" "*": (name, selectable, has_children),
    /// sorted by name.
    fn list(&self) -> Vec<(String, bool, bool)> {
        let out = self.imap("a LIST \"\" \"*\"\r\nz LOGOUT\r\n");
        let mut entries: Vec<(String, bool, bool)> = out
            .lines()
            .filter_map(|l| l.strip_prefix("* LIST ("))
            .map(|rest| {
                let (flags, rest) = rest.split_once(") ").unwrap();
                let name = rest.strip_prefix("\".\" ").unwrap().trim_end();
                let name = name.trim_matches('"').to_owned();
                let flags: Vec<&str> = flags.split_whitespace().collect();
                (
                    name,
                    !flags.contains(&"\\Noselect") && !flags.contains(&"\\NonExistent"),
                    flags.contains(&"\\HasChildren"),
                )
            })
            .collect();
        entries.sort();
        entries
    }

    /// lsub - Dovecot's subscriptions (LSUB "" "*"), sorted.
    fn lsub(&self) -> Vec<String> {
        let out = self.imap("a LSUB \"\" \"*\"\r\nz LOGOUT\r\n");
        let mut names: Vec<String> = out
            .lines()
            .filter_map(|l| l.strip_prefix("* LSUB ("))
            .map(|rest| {
                let (_, rest) = rest.split_once(") \".\" ").unwrap();
                rest.trim_end().trim_matches('"').to_owned()
            })
            .collect();
        names.sort();
        names
    }

    /// folder_status - (UIDVALIDITY, UIDNEXT, MESSAGES) of a folder.
    fn folder_status(&self, name: &str) -> (u32, u32, u32) {
        let out = self.imap(&format!(
            "a STATUS \"{name}\" (UIDVALIDITY UIDNEXT MESSAGES)\r\nz LOGOUT\r\n"
        ));
        let line = out
            .lines()
            .find(|l| l.starts_with("* STATUS"))
            .unwrap_or_else(|| panic!("no STATUS for {name}: {out}"));
        let field = |key: &str| -> u32 {
            let at = line.find(key).unwrap_or_else(|| panic!("{key} in {line}"));
            line[at + key.len()..]
                .trim_start()
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        (field("UIDVALIDITY"), field("UIDNEXT"), field("MESSAGES"))
    }

    /// fetch - (UID, sorted flags, INTERNALDATE as Unix time, RFC822.SIZE)
    /// of every message of a folder, as Dovecot's IMAP shows them.
    fn fetch(&self, name: &str) -> Vec<(u32, Vec<String>, i64, u64)> {
        let out = self.imap(&format!(
            "a EXAMINE \"{name}\"\r\nb UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)\r\nz LOGOUT\r\n"
        ));
        out.lines()
            .filter(|l| l.starts_with("* ") && l.contains(" FETCH ("))
            .map(|l| {
                let after = |key: &str| &l[l.find(key).unwrap() + key.len()..];
                // The number after `key`.
                let number = |key: &str| after(key).split([' ', ')']).next().unwrap();
                let uid = number("UID ").parse().unwrap();
                let flags = after("FLAGS (").split(')').next().unwrap();
                let mut flags: Vec<String> = flags
                    .split_whitespace()
                    .filter(|f| *f != "\\Recent")
                    .map(str::to_owned)
                    .collect();
                flags.sort();
                let date = after("INTERNALDATE \"").split('"').next().unwrap();
                let size = number("RFC822.SIZE ").parse().unwrap();
                (uid, flags, imap_date(date), size)
            })
            .collect()
    }
}

/// imap_date - an IMAP date-time (`14-Jul-2017 02:40:00 +0000`) as Unix time.
fn imap_date(text: &str) -> i64 {
    let (date, rest) = text.trim().split_once(' ').unwrap();
    let (time, zone) = rest.split_once(' ').unwrap();
    let mut d = date.split('-');
    let day: i64 = d.next().unwrap().trim().parse().unwrap();
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month_name = d.next().unwrap();
    let month = i64::try_from(months.iter().position(|m| *m == month_name).unwrap()).unwrap() + 1;
    let year: i64 = d.next().unwrap().parse().unwrap();
    let mut t = time.split(':').map(|p| p.parse::<i64>().unwrap());
    let (h, m, s) = (t.next().unwrap(), t.next().unwrap(), t.next().unwrap());
    // Days from the civil date (proleptic Gregorian), then the zone.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let zh: i64 = zone[1..3].parse().unwrap();
    let zm: i64 = zone[3..5].parse().unwrap();
    days * 86_400 + h * 3600 + m * 60 + s - sign * (zh * 3600 + zm * 60)
}

/// postern_list - Postern's list_folders in the same shape as
/// [`Dovecot::list`].
fn postern_list(md: &Maildir) -> Vec<(String, bool, bool)> {
    let mut entries: Vec<(String, bool, bool)> = md
        .list_folders()
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.selectable, f.has_children))
        .collect();
    entries.sort();
    entries
}

/// postern_fetch - what [`Dovecot::fetch`] shows, from Postern's view of
/// the folder.
fn postern_fetch(folder: &Maildir) -> Vec<(u32, Vec<String>, i64, u64)> {
    let mailbox = Mailbox::open(folder).unwrap();
    let keywords = Keywords::load(folder).unwrap();
    mailbox
        .messages()
        .iter()
        .map(|m| {
            let mut flags: Vec<String> = Vec::new();
            for (flag, name) in [
                (Flag::Draft, "\\Draft"),
                (Flag::Flagged, "\\Flagged"),
                (Flag::Replied, "\\Answered"),
                (Flag::Seen, "\\Seen"),
                (Flag::Trashed, "\\Deleted"),
            ] {
                if m.flags.contains(flag) {
                    flags.push(name.to_owned());
                }
            }
            for letter in m.flags.keyword_letters() {
                flags.push(keywords.name(letter).unwrap().to_owned());
            }
            flags.sort();
            let date = i64::try_from(
                m.internal_date
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs(),
            )
            .unwrap();
            (m.uid, flags, date, m.wire_size)
        })
        .collect()
}

#[test]
fn dovecot_and_postern_share_folders_subscriptions_appends_and_copies() {
    let imap_binary = ["/usr/lib/dovecot/imap", "/usr/libexec/dovecot/imap"]
        .iter()
        .any(|p| Path::new(p).exists());
    if !have_doveadm() || !imap_binary {
        eprintln!(
            "skipped: Dovecot's imap is not installed (Debian: apt-get install dovecot-imapd)"
        );
        return;
    }
    let site = Site::new();
    let md = site.maildir();

    // 1. Postern makes folders, subscriptions, appends and a copy.
    for name in ["A.B.C", "Top", "&AOQ-rger", "inbox.sub", "D", "D.E"] {
        md.create_folder(name).unwrap();
    }
    for name in ["Top", "A.B.C", "INBOX", "&AOQ-rger"] {
        md.subscribe(name).unwrap();
    }
    let top = md.resolve("Top").unwrap();
    let mut keywords = Keywords::load(&top).unwrap();
    let junk = keywords.letter_for("Junk", true).unwrap().unwrap();
    let mut flags = Flags::empty().with(Flag::Seen).with(Flag::Flagged);
    flags.insert_keyword_letter(junk);
    let date = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_500_000_000);
    let message = b"Subject: appended\r\nFrom: a@example.org\r\n\r\nbody\r\nline two\r\n";
    let first = top
        .append(
            &mut &message[..],
            flags,
            Some(date),
            &DeliverOptions::default(),
        )
        .unwrap();
    let second = top
        .append(
            &mut &b"Subject: plain\n\nno flags\n"[..],
            Flags::empty(),
            None,
            &DeliverOptions::default(),
        )
        .unwrap();
    assert_eq!((first.uid, second.uid), (1, 2));
    let inbox_append = md
        .append(
            &mut &b"Subject: to inbox\r\n\r\nx\r\n"[..],
            Flags::empty().with(Flag::Replied),
            Some(date),
            &DeliverOptions::default(),
        )
        .unwrap();
    let d = md.resolve("D").unwrap();
    let copied = Mailbox::open(&top).unwrap().copy_to(&[1], &d).unwrap();
    assert_eq!(copied.uids, [(1, 1)]);

    let dovecot = site.start_dovecot();
    // Dovecot lists what Postern created, with the same attributes.
    let theirs = dovecot.list();
    assert_eq!(theirs, postern_list(&md));
    assert!(
        theirs.contains(&("A".to_owned(), false, true)),
        "{theirs:?}"
    );
    assert!(
        theirs.contains(&("INBOX.sub".to_owned(), true, false)),
        "{theirs:?}"
    );
    assert_eq!(dovecot.lsub(), ["&AOQ-rger", "A.B.C", "INBOX", "Top"]);
    // Appended messages: same UIDs, UIDVALIDITY, flags, dates, sizes.
    assert_eq!(
        dovecot.folder_status("Top"),
        (first.uidvalidity, 3, 2),
        "{}",
        dovecot.log()
    );
    let top_theirs = dovecot.fetch("Top");
    assert_eq!(top_theirs, postern_fetch(&top));
    assert_eq!(
        top_theirs[0],
        (
            1,
            vec![
                "Junk".to_owned(),
                "\\Flagged".to_owned(),
                "\\Seen".to_owned()
            ],
            1_500_000_000,
            first.wire_size
        )
    );
    assert_eq!(dovecot.fetch("INBOX"), postern_fetch(&md));
    assert_eq!(dovecot.fetch("INBOX")[0].0, inbox_append.uid);
    // The copy keeps flags, keyword and date in its new folder.
    assert_eq!(dovecot.folder_status("D").0, copied.uidvalidity);
    let d_theirs = dovecot.fetch("D");
    assert_eq!(d_theirs, postern_fetch(&d));
    assert_eq!(d_theirs[0].1, top_theirs[0].1);
    assert_eq!(d_theirs[0].2, 1_500_000_000);
    // Each new folder has its own UIDVALIDITY.
    let mut validities: Vec<u32> = ["Top", "D", "D.E", "A.B.C", "&AOQ-rger", "INBOX.sub"]
        .iter()
        .map(|n| dovecot.folder_status(n).0)
        .collect();
    validities.sort_unstable();
    validities.dedup();
    assert_eq!(validities.len(), 6);

    // 2. Dovecot's turn: create, subscribe, append, rename with a child,
    //    delete. Postern sees the same.
    let body = "Subject: from dovecot\r\n\r\nhello\r\n";
    let out = dovecot.imap(&format!(
        "a CREATE New.Sub\r\n\
         b SUBSCRIBE New.Sub\r\n\
         c APPEND New.Sub (\\Seen $Label1) \"01-Jan-2020 12:00:00 +0100\" {{{}+}}\r\n{body}\r\n\
         d RENAME D Moved\r\n\
         e DELETE A.B.C\r\n\
         f UNSUBSCRIBE &AOQ-rger\r\n\
         z LOGOUT\r\n",
        body.len()
    ));
    for tag in ["a", "b", "c", "d", "e", "f"] {
        assert!(out.contains(&format!("\n{tag} OK")), "{tag}: {out}");
    }
    let appenduid = out
        .lines()
        .find_map(|l| l.strip_prefix("c OK [APPENDUID "))
        .unwrap();
    let mut parts = appenduid.split([' ', ']']);
    let (their_validity, their_uid): (u32, u32) = (
        parts.next().unwrap().parse().unwrap(),
        parts.next().unwrap().parse().unwrap(),
    );
    assert_eq!(postern_list(&md), dovecot.list());
    assert!(
        !postern_list(&md).iter().any(|(n, ..)| n.starts_with("D")),
        "{:?}",
        postern_list(&md)
    );
    let mut subscriptions = md.subscriptions().unwrap();
    subscriptions.sort();
    assert_eq!(subscriptions, ["A.B.C", "INBOX", "New.Sub", "Top"]);
    assert_eq!(subscriptions, dovecot.lsub());
    let new_sub = md.resolve("New.Sub").unwrap();
    let new_box = Mailbox::open(&new_sub).unwrap();
    assert_eq!(new_box.uidvalidity(), their_validity);
    assert_eq!(new_box.messages()[0].uid, their_uid);
    assert_eq!(postern_fetch(&new_sub), dovecot.fetch("New.Sub"));
    assert_eq!(postern_fetch(&new_sub)[0].2, 1_577_876_400);
    let moved = md.resolve("Moved").unwrap();
    assert_eq!(postern_fetch(&moved), d_theirs);
    assert!(md.resolve("Moved.E").unwrap().path().join("cur").is_dir());

    // 3. Postern's turn again: a folder created after Dovecot's continues
    //    its UIDVALIDITY counter; Postern's subscription changes, a rename
    //    of a parent with children, a delete of a parent and an append to
    //    Dovecot's folder all show in Dovecot.
    let later = md.create_folder("Later").unwrap();
    let later_validity = Mailbox::open(&later).unwrap().uidvalidity();
    assert!(
        later_validity > their_validity,
        "{later_validity} {their_validity}"
    );
    md.subscribe("Moved").unwrap();
    md.unsubscribe("Top").unwrap();
    md.rename_folder("Moved", "Renamed").unwrap();
    md.create_folder("P").unwrap();
    md.create_folder("P.Q").unwrap();
    let appended = new_sub
        .append(
            &mut &b"Subject: back\n\n"[..],
            Flags::empty().with(Flag::Draft),
            None,
            &DeliverOptions::default(),
        )
        .unwrap();
    site.hand_over();
    assert_eq!(dovecot.folder_status("Later").0, later_validity);
    assert_eq!(dovecot.lsub(), ["A.B.C", "INBOX", "Moved", "New.Sub"]);
    assert_eq!(dovecot.list(), postern_list(&md));
    assert_eq!(dovecot.fetch("Renamed"), d_theirs);
    assert_eq!(dovecot.fetch("New.Sub"), postern_fetch(&new_sub));
    assert_eq!(dovecot.fetch("New.Sub")[1].0, appended.uid);
    md.delete_folder("P").unwrap();
    site.hand_over();
    let after_delete = dovecot.imap("a SELECT P\r\nb SELECT P.Q\r\nz LOGOUT\r\n");
    assert!(after_delete.contains("\na NO"), "{after_delete}");
    assert!(after_delete.contains("\nb OK"), "{after_delete}");
    assert!(
        postern_list(&md).contains(&("P".to_owned(), false, true)),
        "{:?}",
        postern_list(&md)
    );
    // Dovecot's list index still shows a parent it knew as a mailbox
    // without \Noselect after the parent's deletion (after its own DELETE
    // too), though SELECT fails as checked above; rebuilt from the
    // directories it says \Noselect, as Postern does.
    let mut theirs = dovecot.list();
    for entry in &mut theirs {
        if entry.0 == "P" {
            entry.1 = false;
        }
    }
    assert_eq!(theirs, postern_list(&md));
}
