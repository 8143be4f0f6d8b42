//! Tests of the reading side against real Maildirs: UID assignment and
//! stability, renames, expunges, locks, flags, wire form, POP3 helpers.

use crate::tests::maildir;
use std::collections::HashMap;
use std::fs::{self, FileTimes};
use std::io::Read;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::*;
use crate::uidlist::UIDLIST;
use crate::uidlock::DOTLOCK;
use crate::{DEFAULT_MODE, DeliverOptions, Delivered, Flag, MaildropLock, pop3_uidl};

fn deliver(md: &Maildir, message: &[u8]) -> Delivered {
    md.deliver(&mut &message[..], b"", &DeliverOptions::default())
        .unwrap()
}

/// Write a message file by hand, as another tool would.
fn put(md: &Maildir, location: Location, name: &str, content: &[u8]) {
    fs::write(md.path().join(location.dir_name()).join(name), content).unwrap();
}

/// (uid, base) of every message in the view.
fn uids(mb: &Mailbox) -> Vec<(u32, String)> {
    mb.messages()
        .iter()
        .map(|m| (m.uid, m.base().to_owned()))
        .collect()
}

fn uid_of(mb: &Mailbox, base: &str) -> u32 {
    mb.messages()
        .iter()
        .find(|m| m.base() == base)
        .unwrap_or_else(|| panic!("{base} not in view: {:?}", uids(mb)))
        .uid
}

fn base_of(d: &Delivered) -> String {
    d.path.file_name().unwrap().to_str().unwrap().to_owned()
}

fn list_text(md: &Maildir) -> String {
    fs::read_to_string(md.path().join(UIDLIST)).unwrap()
}

/// Make `new/` and `cur/` look untouched for a while, so the next scan
/// counts as stable.
fn settle(md: &Maildir) {
    let past = SystemTime::now() - Duration::from_secs(10);
    for sub in ["new", "cur"] {
        let dir = fs::File::open(md.path().join(sub)).unwrap();
        dir.set_times(FileTimes::new().set_modified(past)).unwrap();
    }
}

/// Names in the Maildir's directory other than the Maildir's own.
fn leftovers(md: &Maildir) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(md.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !["cur", "new", "tmp", UIDLIST, crate::MAILDROP_LOCK].contains(&n.as_str()))
        .collect();
    names.sort();
    names
}

const QUICK: LockTiming = LockTiming {
    timeout: Duration::from_millis(300),
    stale_after: Duration::from_secs(120),
};

fn our_hostname() -> String {
    nix::unistd::gethostname().unwrap().into_string().unwrap()
}

// ---- UID assignment ----

#[test]
fn uids_follow_delivery_time_then_name() {
    let (_dir, md) = maildir();
    let names = [
        (Location::New, "1700000010.M40P1.host,S=2,W=3"),
        (Location::Cur, "1700000010.M5P1.host:2,S"),
        (Location::New, "1700000009.M999999P1.host"),
        (Location::New, "1700000010.M40P1.aaa"),
        (Location::Cur, "1600000000.P7.other:2,"),
    ];
    for (location, name) in names {
        put(&md, location, name, b"x\n");
    }
    // A name without a time sorts by its modification time.
    put(&md, Location::New, "no-time-here", b"x\n");
    let file = fs::File::options()
        .write(true)
        .open(md.path().join("new/no-time-here"))
        .unwrap();
    file.set_modified(UNIX_EPOCH + Duration::from_secs(1_650_000_000))
        .unwrap();
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(
        uids(&mb),
        vec![
            (1, "1600000000.P7.other".to_owned()),
            (2, "no-time-here".to_owned()),
            (3, "1700000009.M999999P1.host".to_owned()),
            (4, "1700000010.M5P1.host".to_owned()),
            (5, "1700000010.M40P1.aaa".to_owned()),
            (6, "1700000010.M40P1.host,S=2,W=3".to_owned()),
        ]
    );
    assert_eq!(mb.next_uid(), 7);
    let no_time = mb.message(2).unwrap();
    assert_eq!(
        no_time.internal_date,
        UNIX_EPOCH + Duration::from_secs(1_650_000_000)
    );
    // The internal date is the file's modification time (Dovecot's
    // INTERNALDATE), not the time in the name.
    let first = mb.message(1).unwrap();
    let first_mtime = fs::metadata(mb.message_path(first))
        .unwrap()
        .modified()
        .unwrap();
    assert_eq!(first.internal_date, first_mtime);
    assert_ne!(
        first.internal_date,
        UNIX_EPOCH + Duration::from_secs(1_600_000_000)
    );
    assert_eq!(first.location, Location::Cur);
    assert_eq!(first.file_name(), "1600000000.P7.other:2,");
    assert_eq!(
        mb.message_path(first),
        md.path().join("cur/1600000000.P7.other:2,")
    );
    // The list on disk says the same, in Dovecot's format.
    let text = list_text(&md);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with(&format!("3 V{} N7 G", mb.uidvalidity())),
        "{header}"
    );
    assert_eq!(lines.next(), Some("1 W3 :1600000000.P7.other"));
    assert_eq!(lines.last(), Some("6 :1700000010.M40P1.host,S=2,W=3"));
    // Only the list is left behind: no lock, no temporary file.
    assert!(leftovers(&md).is_empty(), "{:?}", leftovers(&md));
}

#[test]
fn a_new_list_takes_the_time_as_uidvalidity() {
    let (_dir, md) = maildir();
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mb = Mailbox::open(&md).unwrap();
    let after = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!((before..=after).contains(&u64::from(mb.uidvalidity())));
    assert!(mb.messages().is_empty());
    assert_eq!(mb.next_uid(), 1);
    assert!(list_text(&md).starts_with("3 V"));
}

#[test]
fn uids_are_stable_across_reopen_and_new_mail_gets_higher_ones() {
    let (_dir, md) = maildir();
    let a = deliver(&md, b"Subject: a\n\none\n");
    let b = deliver(&md, b"Subject: b\n\ntwo\n");
    let first = Mailbox::open(&md).unwrap();
    let list_before = list_text(&md);
    let again = Mailbox::open(&md).unwrap();
    assert_eq!(uids(&first), uids(&again));
    assert_eq!(first.uidvalidity(), again.uidvalidity());
    // Nothing changed: the list was not rewritten.
    assert_eq!(list_text(&md), list_before);

    let c = deliver(&md, b"Subject: c\n\nthree\n");
    let mut third = Mailbox::open(&md).unwrap();
    assert_eq!(uid_of(&third, &base_of(&a)), uid_of(&first, &base_of(&a)));
    assert_eq!(uid_of(&third, &base_of(&b)), uid_of(&first, &base_of(&b)));
    assert_eq!(uid_of(&third, &base_of(&c)), 3);
    assert_eq!(third.uidvalidity(), first.uidvalidity());

    // The earlier view picks up the new message on refresh.
    let mut first = first;
    first.refresh().unwrap();
    assert_eq!(uids(&first), uids(&third));
    third.refresh().unwrap();
    assert_eq!(third.next_uid(), 4);
}

#[test]
fn moved_and_renamed_files_keep_their_uids() {
    let (_dir, md) = maildir();
    let a = deliver(&md, b"a\n");
    let b = deliver(&md, b"b\n");
    let c = deliver(&md, b"c\n");
    let before = uids(&Mailbox::open(&md).unwrap());
    // Another tool moves and flags them.
    let (a, b, c) = (base_of(&a), base_of(&b), base_of(&c));
    fs::rename(
        md.path().join("new").join(&a),
        md.path().join("cur").join(format!("{a}:2,S")),
    )
    .unwrap();
    fs::rename(
        md.path().join("new").join(&b),
        md.path().join("cur").join(format!("{b}:2,")),
    )
    .unwrap();
    fs::rename(
        md.path().join("cur").join(format!("{b}:2,")),
        md.path().join("cur").join(format!("{b}:2,RS")),
    )
    .unwrap();
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(uids(&mb), before);
    let by_base = |base: &str| mb.messages().iter().find(|m| m.base() == base).unwrap();
    assert_eq!(by_base(&a).flags.to_string(), "S");
    assert_eq!(by_base(&a).location, Location::Cur);
    assert_eq!(by_base(&b).flags.to_string(), "RS");
    assert_eq!(by_base(&c).location, Location::New);
    assert!(by_base(&c).flags.is_empty());
}

#[test]
fn a_file_seen_in_new_and_cur_is_one_message() {
    // A copy left behind in new/ by a crashed move counts once, as in cur/.
    let (_dir, md) = maildir();
    put(&md, Location::New, "1700000000.M1P1.h", b"x\n");
    put(&md, Location::Cur, "1700000000.M1P1.h:2,S", b"x\n");
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.messages().len(), 1);
    assert_eq!(mb.messages()[0].location, Location::Cur);
    assert!(mb.messages()[0].flags.contains(Flag::Seen));
}

#[test]
fn vanished_files_are_dropped_and_their_uids_never_reused() {
    let (_dir, md) = maildir();
    let a = deliver(&md, b"a\n");
    let b = deliver(&md, b"b\n");
    let c = deliver(&md, b"c\n");
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.next_uid(), 4);
    // Someone else expunges b and c (the last UID).
    fs::remove_file(&b.path).unwrap();
    fs::remove_file(&c.path).unwrap();
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(uids(&mb), vec![(1, base_of(&a))]);
    // The directories changed just now, so the scan cannot be sure yet:
    // the lines stay until a quiet scan.
    assert!(list_text(&md).contains(&base_of(&b)));
    settle(&md);
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(uids(&mb), vec![(1, base_of(&a))]);
    let text = list_text(&md);
    assert!(!text.contains(&base_of(&b)), "{text}");
    assert!(!text.contains(&base_of(&c)), "{text}");
    assert!(text.contains(" N4 "), "{text}");
    let d = deliver(&md, b"d\n");
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(uids(&mb), vec![(1, base_of(&a)), (4, base_of(&d))]);
}

#[test]
fn lines_added_after_a_scan_began_are_not_dropped_by_it() {
    // A list line newer than the list this scan read may be for a file
    // delivered after the listing: a stable scan must not drop it.
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    let mb = Mailbox::open(&md).unwrap();
    let list = UidList::read(mb.dir.as_fd(), mb.path(), true)
        .unwrap()
        .unwrap();
    let mut newer = list.clone();
    newer.assign("1800000000.M1P1.later".into()).unwrap();
    let scan = Scan {
        files: crate::fasthash::FastMap::default(),
        stable: true,
        complete: [true; 2],
        dir_times: [UNIX_EPOCH; 2],
    };
    newer.write(mb.dir.as_fd(), mb.path()).unwrap();
    let (written, _) = mb.update_list(Some(&list), &scan).unwrap();
    assert_eq!(
        written
            .records
            .iter()
            .map(|r| r.base.as_str())
            .collect::<Vec<_>>(),
        vec!["1800000000.M1P1.later"]
    );
}

#[test]
fn dot_files_tmp_symlinks_and_directories_are_not_messages() {
    let (dir, md) = maildir();
    deliver(&md, b"real\n");
    put(&md, Location::New, ".hidden", b"x\n");
    put(&md, Location::Cur, ".1700000000.M1P1.h:2,S", b"x\n");
    fs::write(md.path().join("tmp/1700000000.M2P1.h"), b"x\n").unwrap();
    fs::create_dir(md.path().join("cur/1700000000.M3P1.dir")).unwrap();
    let outside = dir.path().join("outside");
    fs::write(&outside, b"secret\n").unwrap();
    symlink(&outside, md.path().join("cur/1700000000.M4P1.link:2,")).unwrap();
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.messages().len(), 1, "{:?}", uids(&mb));
}

#[test]
fn a_broken_list_is_salvaged_line_by_line() {
    let (_dir, md) = maildir();
    put(&md, Location::Cur, "1700000001.M1P1.h:2,S", b"a\n");
    put(&md, Location::Cur, "1700000002.M1P1.h:2,", b"b\n");
    put(&md, Location::New, "1700000003.M1P1.h", b"c\n");
    fs::write(
        md.path().join(UIDLIST),
        "3 V12345 N50 Gab Xkeep\n\
         7 :1700000002.M1P1.h\n\
         garbage line\n\
         9 W2 Pold :1700000001.M1P1.h\n",
    )
    .unwrap();
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.uidvalidity(), 12345);
    assert_eq!(
        uids(&mb),
        vec![
            (7, "1700000002.M1P1.h".to_owned()),
            (9, "1700000001.M1P1.h".to_owned()),
            (50, "1700000003.M1P1.h".to_owned()),
        ]
    );
    // Unknown fields survive the rewrite.
    let text = list_text(&md);
    assert!(text.starts_with("3 V12345 N51 Gab Xkeep\n"), "{text}");
    assert!(text.contains("9 W2 Pold :1700000001.M1P1.h\n"), "{text}");
    assert_eq!(mb.pop3_uidl(9).as_deref(), Some("old"));
    assert_eq!(
        mb.pop3_uidl(7),
        Some(pop3_uidl(7, 12345)),
        "no saved UIDL: Dovecot's default format"
    );
    assert_eq!(mb.pop3_uidl(8), None);
}

#[test]
fn a_list_with_a_broken_header_is_replaced() {
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    fs::write(md.path().join(UIDLIST), "nonsense\n1 :x\n").unwrap();
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.messages().len(), 1);
    assert_eq!(mb.messages()[0].uid, 1);
    assert!(list_text(&md).starts_with(&format!("3 V{} N2 G", mb.uidvalidity())));
}

#[test]
fn a_symlinked_list_is_refused() {
    let (dir, md) = maildir();
    let elsewhere = dir.path().join("elsewhere");
    fs::write(&elsewhere, "3 V1 N1\n").unwrap();
    symlink(&elsewhere, md.path().join(UIDLIST)).unwrap();
    let err = Mailbox::open(&md).unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err:?}");
}

#[test]
fn a_missing_maildir_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let err = Mailbox::open(&Maildir::new(dir.path().join("nope"))).unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

// ---- concurrency ----

#[test]
fn concurrent_sessions_never_give_two_uids_to_one_message_nor_reuse_one() {
    let (_dir, md) = maildir();
    // base -> uid and uid -> base, over everything any view ever showed.
    let seen: Mutex<(HashMap<String, u32>, HashMap<u32, String>)> = Mutex::default();
    let check = |mb: &Mailbox| {
        let mut seen = seen.lock().unwrap();
        let mut last = 0;
        for m in mb.messages() {
            assert!(m.uid > last, "UIDs out of order: {:?}", uids(mb));
            last = m.uid;
            assert!(m.uid < mb.next_uid());
            let uid = *seen.0.entry(m.base().to_owned()).or_insert(m.uid);
            assert_eq!(uid, m.uid, "{} got two UIDs", m.base());
            let base = seen.1.entry(m.uid).or_insert_with(|| m.base().to_owned());
            assert_eq!(*base, m.base(), "UID {} given to two messages", m.uid);
        }
    };
    const ROUNDS: usize = 40;
    const THREADS: usize = 4;
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let md = &md;
            let check = &check;
            s.spawn(move || {
                for i in 0..ROUNDS {
                    deliver(md, format!("Subject: {t}/{i}\n\nbody\n").as_bytes());
                    let mut mb = Mailbox::open(md).unwrap();
                    check(&mb);
                    if i % 3 == t {
                        mb.move_new_to_cur().unwrap();
                    }
                    if let Some(first) = mb.messages().first().map(|m| m.uid) {
                        if i % 4 == 0 {
                            mb.set_flags(first, Flags::empty().with(Flag::Seen))
                                .unwrap();
                        }
                        if t == 1 && i % 5 == 4 {
                            mb.expunge(&[first]).unwrap();
                        }
                    }
                    mb.refresh().unwrap();
                    check(&mb);
                }
            });
        }
    });
    let mb = Mailbox::open(&md).unwrap();
    check(&mb);
    let seen = seen.lock().unwrap();
    let total = THREADS * ROUNDS;
    assert_eq!(seen.0.len(), total, "every delivery was seen");
    assert_eq!(seen.1.len(), total);
    // One UID per message and none skipped: nothing was assigned twice.
    let max = seen.1.keys().max().copied().unwrap();
    assert_eq!(max as usize, total);
    assert_eq!(mb.next_uid() as usize, total + 1);
    let expunged = (0..ROUNDS).filter(|i| i % 5 == 4).count();
    assert_eq!(mb.messages().len(), total - expunged);
    assert!(leftovers(&md).is_empty(), "{:?}", leftovers(&md));
}

// ---- locks ----

/// Put a dot-lock in place by hand with this content and modification time.
fn plant_dotlock(md: &Maildir, content: &str, mtime: SystemTime) {
    let path = md.path().join(DOTLOCK);
    fs::write(&path, content).unwrap();
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
}

#[test]
fn a_live_dotlock_makes_writers_wait_then_fail_temporarily() {
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    plant_dotlock(
        &md,
        &format!("{}:{}", std::process::id(), our_hostname()),
        SystemTime::now(),
    );
    let start = Instant::now();
    let err = Mailbox::open_with(&md, QUICK).unwrap_err();
    assert!(matches!(err, Error::LockTimeout { .. }), "{err:?}");
    assert!(err.is_temporary());
    assert!(start.elapsed() >= QUICK.timeout);
    // Someone else's lock is left alone.
    assert!(md.path().join(DOTLOCK).exists());
    // Readers that need no change do not wait for it.
    fs::remove_file(md.path().join(DOTLOCK)).unwrap();
    let mb = Mailbox::open(&md).unwrap();
    plant_dotlock(
        &md,
        &format!("{}:{}", std::process::id(), our_hostname()),
        SystemTime::now(),
    );
    let again = Mailbox::open_with(&md, QUICK).unwrap();
    assert_eq!(uids(&again), uids(&mb));
}

#[test]
fn a_dotlock_released_while_waiting_is_taken() {
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    plant_dotlock(&md, "1:elsewhere", SystemTime::now());
    let lock = md.path().join(DOTLOCK);
    std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_millis(200));
            fs::remove_file(&lock).unwrap();
        });
        let timing = LockTiming {
            timeout: Duration::from_secs(10),
            stale_after: Duration::from_secs(120),
        };
        let mb = Mailbox::open_with(&md, timing).unwrap();
        assert_eq!(mb.messages().len(), 1);
    });
    assert!(!lock.exists());
}

#[test]
fn stale_dotlocks_are_replaced() {
    let dead_pid = {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    };
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let in_an_hour = SystemTime::now() + Duration::from_secs(3600);
    let cases: &[(&str, String, SystemTime, LockTiming)] = &[
        (
            "older than two minutes",
            "1:elsewhere".into(),
            hour_ago,
            QUICK,
        ),
        (
            "its process is gone",
            format!("{dead_pid}:{}", our_hostname()),
            SystemTime::now(),
            QUICK,
        ),
        (
            // A clock ahead of ours (another host): only watching helps.
            "unchanged while watched",
            "1:elsewhere".into(),
            in_an_hour,
            LockTiming {
                timeout: Duration::from_secs(5),
                stale_after: Duration::from_millis(300),
            },
        ),
    ];
    for (what, content, mtime, timing) in cases {
        let (_dir, md) = maildir();
        deliver(&md, b"a\n");
        plant_dotlock(&md, content, *mtime);
        let mb = Mailbox::open_with(&md, *timing).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(mb.messages().len(), 1, "{what}");
        assert!(!md.path().join(DOTLOCK).exists(), "{what}");
    }
}

#[test]
fn an_flocked_list_makes_writers_wait() {
    use nix::fcntl::{Flock, FlockArg};
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    Mailbox::open(&md).unwrap();
    deliver(&md, b"b\n");
    let held = Flock::lock(
        fs::File::open(md.path().join(UIDLIST)).unwrap(),
        FlockArg::LockExclusiveNonblock,
    )
    .unwrap();
    let err = Mailbox::open_with(&md, QUICK).unwrap_err();
    assert!(matches!(err, Error::LockTimeout { .. }), "{err:?}");
    drop(held);
    assert_eq!(Mailbox::open_with(&md, QUICK).unwrap().messages().len(), 2);
}

#[test]
fn the_maildrop_lock_is_exclusive_and_released_on_drop() {
    let (_dir, md) = maildir();
    let first = MaildropLock::try_acquire(&md).unwrap().unwrap();
    assert!(MaildropLock::try_acquire(&md).unwrap().is_none());
    let meta = fs::metadata(first.path()).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
        0o600
    );
    drop(first);
    let second = MaildropLock::try_acquire(&md).unwrap();
    assert!(second.is_some());
}

#[test]
fn the_maildrop_lock_dies_with_a_killed_holder() {
    let (_dir, md) = maildir();
    let lock = md.path().join(crate::MAILDROP_LOCK);
    // A separate process holds the lock: the shell opens the file, flock(1)
    // locks that open file, and the shell becomes `sleep`, the only holder.
    let mut holder = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"exec 9>>"$1"; flock -x 9; exec sleep 60"#)
        .arg("sh")
        .arg(&lock)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match MaildropLock::try_acquire(&md).unwrap() {
            None => break,
            Some(_) => {
                assert!(Instant::now() < deadline, "holder never took the lock");
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(holder.id()).unwrap()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    holder.wait().unwrap();
    // Poll: killed between forking flock(1) and its exit, the shell may
    // leave that child holding the lock for a moment. `sleep 60` would
    // hold it far past the deadline.
    let deadline = Instant::now() + Duration::from_secs(10);
    while MaildropLock::try_acquire(&md).unwrap().is_none() {
        assert!(Instant::now() < deadline, "lock outlived its killed holder");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- flags, moves, expunges ----

#[test]
fn move_new_to_cur_keeps_uids_and_adds_the_info_suffix() {
    let (_dir, md) = maildir();
    let a = deliver(&md, b"a\n");
    let b = deliver(&md, b"b\n");
    let mut mb = Mailbox::open(&md).unwrap();
    let before = uids(&mb);
    // Someone else moved b first.
    let b_cur = md.path().join("cur").join(format!("{}:2,", base_of(&b)));
    fs::rename(&b.path, &b_cur).unwrap();
    assert_eq!(mb.move_new_to_cur().unwrap(), 1);
    assert_eq!(uids(&mb), before);
    for m in mb.messages() {
        assert_eq!(m.location, Location::Cur);
        assert_eq!(m.file_name(), format!("{}:2,", m.base()));
        assert!(
            mb.message_path(m).exists(),
            "{}",
            mb.message_path(m).display()
        );
    }
    assert!(!a.path.exists());
    assert_eq!(mb.move_new_to_cur().unwrap(), 0);
    assert_eq!(uids(&Mailbox::open(&md).unwrap()), before);
    assert!(
        fs::read_dir(md.path().join("new"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn set_flags_renames_and_follows_other_renames() {
    let (_dir, md) = maildir();
    let a = deliver(&md, b"a\n");
    let base = base_of(&a);
    let mut mb = Mailbox::open(&md).unwrap();
    let flags = Flags::empty().with(Flag::Seen).with(Flag::Flagged);
    // From new/: moves to cur/.
    assert!(mb.set_flags(1, flags).unwrap());
    let m = mb.message(1).unwrap();
    assert_eq!(m.file_name(), format!("{base}:2,FS"));
    assert_eq!(m.location, Location::Cur);
    assert!(mb.message_path(m).exists());
    // Setting the same flags is a no-op.
    assert!(mb.set_flags(1, flags).unwrap());
    // Another session renamed it meanwhile; ours still applies.
    fs::rename(
        md.path().join("cur").join(format!("{base}:2,FS")),
        md.path().join("cur").join(format!("{base}:2,RS")),
    )
    .unwrap();
    let mut keyword = Flags::empty().with(Flag::Replied);
    keyword.insert_keyword(2);
    assert!(mb.set_flags(1, keyword).unwrap());
    assert_eq!(mb.message(1).unwrap().file_name(), format!("{base}:2,Rc"));
    let reopened = Mailbox::open(&md).unwrap();
    assert_eq!(reopened.message(1).unwrap().flags, keyword);
    // Gone: false, and still in this view until refresh.
    fs::remove_file(md.path().join("cur").join(format!("{base}:2,Rc"))).unwrap();
    assert!(!mb.set_flags(1, flags).unwrap());
    assert!(mb.message(1).is_some());
    let err = mb.set_flags(99, flags).unwrap_err();
    assert!(matches!(err, Error::UnknownUid { uid: 99, .. }), "{err:?}");
    assert!(!err.is_temporary());
    mb.refresh().unwrap();
    assert!(mb.messages().is_empty());
}

#[test]
fn expunge_removes_files_tolerating_others() {
    let (_dir, md) = maildir();
    let a = deliver(&md, b"a\n");
    let b = deliver(&md, b"b\n");
    let c = deliver(&md, b"c\n");
    let d = deliver(&md, b"d\n");
    let mut mb = Mailbox::open(&md).unwrap();
    // b already expunged elsewhere; c renamed elsewhere.
    fs::remove_file(&b.path).unwrap();
    let c_cur = md.path().join("cur").join(format!("{}:2,S", base_of(&c)));
    fs::rename(&c.path, &c_cur).unwrap();
    assert_eq!(mb.expunge(&[1, 2, 3, 77]).unwrap(), 2);
    assert!(!a.path.exists());
    assert!(!c_cur.exists());
    assert_eq!(uids(&mb), vec![(4, base_of(&d))]);
    assert_eq!(uids(&Mailbox::open(&md).unwrap()), vec![(4, base_of(&d))]);
}

// ---- sizes and wire form ----

#[test]
fn wire_form_matches_wire_size_for_any_line_endings() {
    let (_dir, md) = maildir();
    let contents: &[(&str, &[u8])] = &[
        ("1700000001.M1P1.lf", b"Subject: lf\n\nline\n.dot\n"),
        ("1700000002.M1P1.crlf", b"Subject: crlf\r\n\r\nline\r\n"),
        (
            "1700000003.M1P1.mixed",
            b"Subject: mixed\r\n\nline\r\nend\n\r",
        ),
        ("1700000004.M1P1.empty", b""),
    ];
    for (name, content) in contents {
        put(&md, Location::New, name, content);
    }
    // And one delivered by us, sizes in its name.
    deliver(&md, b"Subject: ours\r\n\r\nbody\r\n");
    let mut mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.messages().len(), 5);
    let uids: Vec<u32> = mb.messages().iter().map(|m| m.uid).collect();
    for uid in uids {
        let entry = mb.message(uid).unwrap().clone();
        let stored = fs::read(mb.message_path(&entry)).unwrap();
        assert_eq!(entry.size, stored.len() as u64, "{}", entry.base());
        let mut wire = Vec::new();
        mb.open_message(uid)
            .unwrap()
            .unwrap()
            .read_to_end(&mut wire)
            .unwrap();
        assert_eq!(wire.len() as u64, entry.wire_size, "{}", entry.base());
        assert_eq!(entry.wire_size, crate::lineend::tests::wire_size(&stored));
        assert!(
            !wire.windows(2).any(|w| w[1] == b'\n' && w[0] != b'\r'),
            "bare LF in wire form of {}",
            entry.base()
        );
        let mut raw = Vec::new();
        mb.open_stored(uid)
            .unwrap()
            .unwrap()
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw, stored);
    }
    // Counted sizes are kept in the list's W field, as Dovecot does.
    let text = list_text(&md);
    assert!(text.contains("1 W27 :1700000001.M1P1.lf\n"), "{text}");
    assert!(text.contains("2 W23 :1700000002.M1P1.crlf\n"), "{text}");
    // ... and used instead of reading the file again.
    let listed = text.replace("1 W27 :", "1 W999 :");
    fs::write(md.path().join(UIDLIST), listed).unwrap();
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.message(1).unwrap().wire_size, 999);
}

#[test]
fn a_message_gone_before_reading_is_none() {
    let (_dir, md) = maildir();
    let a = deliver(&md, b"a\n");
    let mut mb = Mailbox::open(&md).unwrap();
    // Renamed elsewhere: still readable.
    let cur = md.path().join("cur").join(format!("{}:2,S", base_of(&a)));
    fs::rename(&a.path, &cur).unwrap();
    let mut text = String::new();
    mb.open_message(1)
        .unwrap()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "a\r\n");
    assert_eq!(mb.message_path(mb.message(1).unwrap()), cur);
    fs::remove_file(&cur).unwrap();
    assert!(mb.open_message(1).unwrap().is_none());
    assert!(matches!(
        mb.open_message(5),
        Err(Error::UnknownUid { uid: 5, .. })
    ));
}

#[test]
fn uidl_uses_uid_then_uidvalidity() {
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    fs::write(md.path().join(UIDLIST), "3 V1795461584 N42\n").unwrap();
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.pop3_uidl(42).as_deref(), Some("0000002A6B0491D0"));
}

#[test]
fn delivery_times_parse() {
    let cases: &[(&str, Option<(u64, u32)>)] = &[
        ("1276528487.M364837P9451.kurkku", Some((1276528487, 364837))),
        (
            "1276528487.M364837P9451.kurkku,S=12",
            Some((1276528487, 364837)),
        ),
        ("1276528487.P9451.kurkku", Some((1276528487, 0))),
        ("1276528487.Mx.kurkku", Some((1276528487, 0))),
        ("12.M5", Some((12, 5))),
        ("no-time.host", None),
        (".1.M2", None),
        ("1x.M2", None),
        ("1276528487", None),
    ];
    for &(name, want) in cases {
        assert_eq!(delivery_time(name), want, "{name}");
    }
}

#[test]
fn a_folder_opens_like_the_root() {
    let (_dir, md) = maildir();
    let sent = md.folder("Sent").unwrap();
    sent.ensure(None, DEFAULT_MODE).unwrap();
    deliver(&sent, b"x\n");
    let mb = Mailbox::open(&sent).unwrap();
    assert_eq!(mb.messages().len(), 1);
    assert!(sent.path().join(UIDLIST).exists());
    assert!(!md.path().join(UIDLIST).exists());
    assert_eq!(mb.path(), Path::new(sent.path()));
}

#[test]
fn internal_dates_are_modification_times_kept_through_renames() {
    let (_dir, md) = maildir();
    let d = deliver(&md, b"x\n");
    let date = UNIX_EPOCH + Duration::from_secs(1_234_567_890);
    fs::File::options()
        .write(true)
        .open(&d.path)
        .unwrap()
        .set_modified(date)
        .unwrap();
    let mut mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.message(1).unwrap().internal_date, date);
    mb.move_new_to_cur().unwrap();
    mb.set_flags(1, Flags::empty().with(Flag::Seen)).unwrap();
    mb.refresh().unwrap();
    assert_eq!(mb.message(1).unwrap().internal_date, date);
    // A fresh view reads it from the file again.
    let again = Mailbox::open(&md).unwrap();
    assert_eq!(again.message(1).unwrap().internal_date, date);
}

// ---- modification sequences (CONDSTORE) ----

/// A file's status change time in microseconds, as a modseq.
fn ctime_micros(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::symlink_metadata(path).unwrap();
    u64::try_from(meta.ctime()).unwrap() * 1_000_000
        + u64::try_from(meta.ctime_nsec()).unwrap() / 1000
}

/// Wait until the file system stamps changes later than `modseq`.
///
/// Modseqs are file times, and file systems stamp them from a clock that
/// may be coarse (one scheduler tick, 1 to 10 ms, on older Linux kernels),
/// so a change right after another can get the same time. Tests that want
/// "strictly greater" first poll a probe file in `tmp/` (never scanned)
/// until a change to it is stamped past `modseq`, rather than sleeping
/// for a fixed time.
fn wait_past(md: &Maildir, modseq: u64) {
    use std::os::unix::fs::PermissionsExt;
    let probe = md.path().join("tmp").join("clock-probe");
    fs::write(&probe, b"").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        // chmod sets ctime, even to the same mode.
        fs::set_permissions(&probe, fs::Permissions::from_mode(0o600)).unwrap();
        if ctime_micros(&probe) > modseq {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "file system clock stuck at {modseq}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    fs::remove_file(&probe).unwrap();
}

fn modseq_of_uid(mb: &Mailbox, uid: u32) -> u64 {
    mb.message(uid).unwrap().modseq
}

#[test]
fn modseqs_are_ctimes_and_set_flags_raises_them_at_once() {
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    let mut mb = Mailbox::open(&md).unwrap();
    let m0 = modseq_of_uid(&mb, 1);
    assert_eq!(m0, ctime_micros(&mb.message_path(mb.message(1).unwrap())));
    assert!(mb.highest_modseq() >= m0);

    wait_past(&md, mb.highest_modseq());
    let seen = Flags::empty().with(Flag::Seen);
    assert!(mb.set_flags(1, seen).unwrap());
    let m1 = modseq_of_uid(&mb, 1);
    assert!(m1 > m0, "{m1} <= {m0}");
    assert_eq!(m1, ctime_micros(&mb.message_path(mb.message(1).unwrap())));
    assert!(mb.highest_modseq() >= m1);

    // Again from cur/ to cur/.
    wait_past(&md, mb.highest_modseq());
    let answered = seen.with(Flag::Replied);
    assert!(mb.set_flags(1, answered).unwrap());
    let m2 = modseq_of_uid(&mb, 1);
    assert!(m2 > m1, "{m2} <= {m1}");
    assert!(mb.highest_modseq() >= m2);

    // The same flags again change nothing; nor does a refresh, and a
    // fresh view finds the same value.
    assert!(mb.set_flags(1, answered).unwrap());
    assert_eq!(modseq_of_uid(&mb, 1), m2);
    mb.refresh().unwrap();
    assert_eq!(modseq_of_uid(&mb, 1), m2);
    assert_eq!(modseq_of_uid(&Mailbox::open(&md).unwrap(), 1), m2);
}

#[test]
fn a_rename_by_another_process_raises_the_modseq() {
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    let mut mb = Mailbox::open(&md).unwrap();
    wait_past(&md, mb.highest_modseq());
    assert_eq!(mb.move_new_to_cur().unwrap(), 1);
    let m0 = modseq_of_uid(&mb, 1);
    assert_eq!(m0, ctime_micros(&mb.message_path(mb.message(1).unwrap())));
    let h0 = mb.highest_modseq();
    assert!(h0 >= m0);

    wait_past(&md, h0);
    let base = mb.message(1).unwrap().base().to_owned();
    let renamed = md.path().join("cur").join(format!("{base}:2,RS"));
    fs::rename(mb.message_path(mb.message(1).unwrap()), &renamed).unwrap();
    mb.refresh().unwrap();
    let m = mb.message(1).unwrap();
    assert_eq!(m.flags, Flags::empty().with(Flag::Replied).with(Flag::Seen));
    assert!(m.modseq > h0, "{} <= {h0}", m.modseq);
    assert_eq!(m.modseq, ctime_micros(&renamed));
    assert!(mb.highest_modseq() >= m.modseq);
}

#[test]
fn highest_modseq_survives_expunging_the_newest_change() {
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    deliver(&md, b"b\n");
    deliver(&md, b"c\n");
    let mut mb = Mailbox::open(&md).unwrap();
    mb.move_new_to_cur().unwrap();
    wait_past(&md, mb.highest_modseq());
    mb.set_flags(2, Flags::empty().with(Flag::Flagged)).unwrap();
    let h = mb.highest_modseq();
    assert!(modseq_of_uid(&mb, 1) < modseq_of_uid(&mb, 2));
    assert!(h >= modseq_of_uid(&mb, 2));

    // This view expunges it: the view keeps its value, later views get
    // it from cur/'s modification time.
    wait_past(&md, h);
    assert_eq!(mb.expunge(&[2]).unwrap(), 1);
    assert!(mb.highest_modseq() > h);
    mb.refresh().unwrap();
    assert!(mb.highest_modseq() > h);
    let fresh = Mailbox::open(&md).unwrap();
    assert!(fresh.messages().iter().all(|m| m.modseq < h));
    assert!(
        fresh.highest_modseq() > h,
        "{} <= {h}",
        fresh.highest_modseq()
    );

    // Another process changes one message, then expunges it.
    wait_past(&md, fresh.highest_modseq());
    let path = mb.message_path(mb.message(3).unwrap()).clone();
    let renamed = md
        .path()
        .join("cur")
        .join(format!("{}:2,T", mb.message(3).unwrap().base()));
    fs::rename(&path, &renamed).unwrap();
    mb.refresh().unwrap();
    let h = mb.highest_modseq();
    assert_eq!(modseq_of_uid(&mb, 3), ctime_micros(&renamed));
    assert!(h >= modseq_of_uid(&mb, 3));
    fs::remove_file(&renamed).unwrap();
    mb.refresh().unwrap();
    assert!(mb.highest_modseq() >= h);
    assert!(Mailbox::open(&md).unwrap().highest_modseq() >= h);
}

#[test]
fn a_new_delivery_gets_a_modseq_above_the_previous_highest() {
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    let mut mb = Mailbox::open(&md).unwrap();
    mb.set_flags(1, Flags::empty().with(Flag::Seen)).unwrap();
    let h = mb.highest_modseq();
    wait_past(&md, h);
    deliver(&md, b"b\n");
    mb.refresh().unwrap();
    let m = modseq_of_uid(&mb, 2);
    assert!(m > h, "{m} <= {h}");
    assert!(mb.highest_modseq() >= m);
}

#[test]
fn own_changes_do_not_cover_changes_not_yet_seen() {
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    deliver(&md, b"b\n");
    let mut mb = Mailbox::open(&md).unwrap();
    mb.move_new_to_cur().unwrap();
    let h0 = mb.highest_modseq();
    // Another process changes b; this view has not refreshed since.
    wait_past(&md, h0);
    let b = mb.message(2).unwrap().clone();
    let renamed = md.path().join("cur").join(format!("{}:2,S", b.base()));
    fs::rename(mb.message_path(&b), &renamed).unwrap();
    let tb = ctime_micros(&renamed);
    // Our own expunge later must not lift HIGHESTMODSEQ over b's change.
    wait_past(&md, tb);
    assert_eq!(mb.expunge(&[1]).unwrap(), 1);
    assert!(mb.highest_modseq() < tb, "{} >= {tb}", mb.highest_modseq());
    // The refresh brings both.
    mb.refresh().unwrap();
    assert_eq!(modseq_of_uid(&mb, 2), tb);
    assert!(mb.highest_modseq() > tb);
}

#[test]
fn a_refresh_stats_only_new_or_renamed_files() {
    let (_dir, md) = maildir();
    let a = deliver(&md, b"a\n");
    let mut mb = Mailbox::open(&md).unwrap();
    let m0 = modseq_of_uid(&mb, 1);
    // A hard link (as COPY makes) sets the file's ctime, but not its name:
    // this view does not stat it again (its name has `,S=` and the listing
    // gives file types, as on ext4, XFS, Btrfs and tmpfs) ...
    wait_past(&md, m0);
    let link = md.path().join("tmp").join("copy");
    fs::hard_link(&a.path, &link).unwrap();
    mb.refresh().unwrap();
    assert_eq!(modseq_of_uid(&mb, 1), m0);
    // ... while a fresh view sees a (spurious) change.
    assert!(modseq_of_uid(&Mailbox::open(&md).unwrap(), 1) > m0);
    fs::remove_file(&link).unwrap();
}

/// The modification times of `new/` and `cur/`.
fn dir_mtimes(md: &Maildir) -> [SystemTime; 2] {
    ["new", "cur"].map(|sub| {
        fs::metadata(md.path().join(sub))
            .unwrap()
            .modified()
            .unwrap()
    })
}

/// Put a message file into `cur/` behind the view's back: the directory
/// keeps the modification time it had, so only a listing can find it.
fn sneak_into_cur(md: &Maildir, name: &str) {
    let [_, cur_time] = dir_mtimes(md);
    put(md, Location::Cur, name, b"Subject: sneaked\n\nx\n");
    let dir = fs::File::open(md.path().join("cur")).unwrap();
    dir.set_times(FileTimes::new().set_modified(cur_time))
        .unwrap();
}

#[test]
fn an_unchanged_folder_opens_from_its_index_without_listing() {
    let (_dir, md) = maildir();
    for body in [&b"a\n"[..], b"b\n", b"c\n"] {
        deliver(&md, body);
    }
    Mailbox::open(&md).unwrap().move_new_to_cur().unwrap();
    settle(&md);
    let first = Mailbox::open(&md).unwrap();
    assert!(md.path().join(index::INDEX_FILE).exists());
    sneak_into_cur(&md, "1600000000.P1.sneaked:2,");
    let second = Mailbox::open(&md).unwrap();
    assert_eq!(second.messages(), first.messages());
    assert_eq!(second.uidvalidity(), first.uidvalidity());
    assert_eq!(second.next_uid(), first.next_uid());
    assert_eq!(second.highest_modseq(), first.highest_modseq());

    // New mail changes new/ only: cur/ is taken from the index, new/ listed.
    deliver(&md, b"d\n");
    let third = Mailbox::open(&md).unwrap();
    assert_eq!(third.messages().len(), 4);
    assert!(
        third
            .messages()
            .iter()
            .all(|m| !m.base().contains("sneaked"))
    );
    assert_eq!(third.messages()[..3], first.messages()[..]);

    // Once cur/'s time moves, it is listed again and the file found.
    let dir = fs::File::open(md.path().join("cur")).unwrap();
    dir.set_times(FileTimes::new().set_modified(SystemTime::now()))
        .unwrap();
    let fourth = Mailbox::open(&md).unwrap();
    assert_eq!(fourth.messages().len(), 5);
}

#[test]
fn an_unchanged_view_refreshes_without_listing_but_sees_uid_list_changes() {
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    deliver(&md, b"b\n");
    settle(&md);
    let mut mb = Mailbox::open(&md).unwrap();
    sneak_into_cur(&md, "1600000000.P2.sneaked:2,");
    mb.refresh().unwrap();
    assert_eq!(mb.messages().len(), 2);

    // Another program (Dovecot) replaces the UID list: new UIDVALIDITY.
    let times = dir_mtimes(&md);
    let text = list_text(&md);
    let (header, rest) = text.split_once('\n').unwrap();
    let header = header.replace(&format!("V{}", mb.uidvalidity()), "V12345");
    fs::write(md.path().join("list.tmp"), format!("{header}\n{rest}")).unwrap();
    fs::rename(md.path().join("list.tmp"), md.path().join(UIDLIST)).unwrap();
    assert_eq!(dir_mtimes(&md), times);
    mb.refresh().unwrap();
    assert_eq!(mb.uidvalidity(), 12345);
    assert_eq!(Mailbox::open(&md).unwrap().uidvalidity(), 12345);
}

#[test]
fn a_damaged_or_stale_index_costs_only_a_scan() {
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    settle(&md);
    let uid = Mailbox::open(&md).unwrap().messages()[0].uid;
    let index_path = md.path().join(index::INDEX_FILE);
    let mut bytes = fs::read(&index_path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&index_path, &bytes).unwrap();
    sneak_into_cur(&md, "1600000000.P3.sneaked:2,S");
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.messages().len(), 2, "a damaged index is not used");
    assert_eq!(mb.messages()[0].uid, uid);

    // A flag change by another program renames the file: cur/'s time
    // moves and the new flags show, though the index has the old name.
    settle(&md);
    let mb = Mailbox::open(&md).unwrap();
    let sneaked = mb
        .messages()
        .iter()
        .find(|m| m.base().contains("sneaked"))
        .unwrap();
    let renamed = md
        .path()
        .join("cur")
        .join(format!("{}:2,FS", sneaked.base()));
    fs::rename(mb.message_path(sneaked), &renamed).unwrap();
    let mb = Mailbox::open(&md).unwrap();
    let sneaked = mb
        .messages()
        .iter()
        .find(|m| m.base().contains("sneaked"))
        .unwrap();
    assert!(sneaked.flags.contains(Flag::Flagged));
}

#[test]
fn released_descriptors_are_opened_again_when_needed() {
    let (_dir, md) = maildir();
    deliver(&md, b"a\n");
    let mut mb = Mailbox::open(&md).unwrap();
    let open_fds = || fs::read_dir("/proc/self/fd").unwrap().count();
    let before = open_fds();
    mb.release_descriptors();
    // Other tests open and close descriptors at the same time: allow for them.
    assert!(open_fds() <= before, "descriptors were not closed");
    deliver(&md, b"b\n");
    mb.refresh().unwrap();
    assert_eq!(mb.messages().len(), 2);
    assert_eq!(mb.move_new_to_cur().unwrap(), 2);
    mb.release_descriptors();
    let uid = mb.messages()[1].uid;
    assert!(mb.set_flags(uid, Flags::empty().with(Flag::Seen)).unwrap());
    assert!(mb.open_message(uid).unwrap().is_some());
}
