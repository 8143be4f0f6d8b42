//! Tests of APPEND, COPY and MOVE against real Maildirs.

use crate::tests::{maildir, names};
use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Barrier};
use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::lineend::tests::wire_size;
use crate::name::size_field;
use crate::uidlist::UIDLIST;
use crate::uidlock::DOTLOCK;
use crate::{DEFAULT_MODE, Flag, Keywords, Mailbox};

/// Lock timing that gives up quickly.
const QUICK: LockTiming = LockTiming {
    timeout: Duration::from_millis(300),
    stale_after: Duration::from_secs(120),
};

fn append(md: &Maildir, message: &[u8], flags: Flags, date: Option<SystemTime>) -> Appended {
    md.append(&mut &message[..], flags, date, &DeliverOptions::default())
        .unwrap()
}

fn seen() -> Flags {
    Flags::empty().with(Flag::Seen)
}

#[test]
fn append_stores_in_new_with_flags_date_and_a_uid() {
    let (_dir, md) = maildir();
    let date = UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    let flags = seen().with(Flag::Flagged);
    let a = append(&md, b"Subject: a\r\n\r\nbody\r\n", flags, Some(date));
    assert_eq!(a.uid, 1);
    assert_eq!(a.path.parent().unwrap(), md.path().join("new"));
    let name = a.path.file_name().unwrap().to_str().unwrap();
    assert!(name.ends_with(":2,FS"), "{name}");
    let stored = fs::read(&a.path).unwrap();
    assert_eq!(stored, b"Subject: a\n\nbody\n");
    assert_eq!((a.size, a.wire_size), (17, wire_size(&stored)));
    assert_eq!(size_field(name, 'S'), Some(a.size));
    assert_eq!(size_field(name, 'W'), Some(a.wire_size));
    let meta = fs::metadata(&a.path).unwrap();
    assert_eq!(meta.modified().unwrap(), date);
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert!(names(&md.path().join("tmp")).is_empty());
    assert!(names(&md.path().join("cur")).is_empty());

    // The reading side agrees on everything.
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.uidvalidity(), a.uidvalidity);
    assert_eq!(mb.next_uid(), 2);
    let entry = mb.message(1).unwrap();
    assert_eq!(mb.message_path(entry), a.path);
    assert_eq!(entry.flags, flags);
    assert_eq!(entry.internal_date, date);
    assert_eq!((entry.size, entry.wire_size), (a.size, a.wire_size));

    // LF input, no flags, no date: now, in new/ (\Recent for the next session).
    let before = SystemTime::now() - Duration::from_secs(2);
    let b = append(&md, b"Subject: b\n\nx\n", Flags::empty(), None);
    assert_eq!((b.uid, b.uidvalidity), (2, a.uidvalidity));
    assert_eq!(b.path.parent().unwrap(), md.path().join("new"));
    assert!(!b.path.to_str().unwrap().contains(":2,"));
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.message(2).unwrap().location, Location::New);
    assert!(fs::metadata(&b.path).unwrap().modified().unwrap() >= before);
    // Keyword letters go into the name as given.
    let mut keywords = Keywords::load(&md).unwrap();
    let junk = keywords.letter_for("Junk", true).unwrap().unwrap();
    let mut flags = Flags::empty();
    flags.insert_keyword_letter(junk);
    let c = append(&md, b"x\n", flags, None);
    assert!(c.path.to_str().unwrap().ends_with(":2,a"));
}

#[test]
fn append_into_a_maildir_without_a_list_starts_one() {
    let (_dir, md) = maildir();
    md.deliver(&mut &b"old\n"[..], b"", &DeliverOptions::default())
        .unwrap();
    let a = append(&md, b"new\n", seen(), None);
    assert_eq!(a.uid, 1);
    // The delivered message, unknown to the list, gets the next UID.
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.uidvalidity(), a.uidvalidity);
    let uids: Vec<u32> = mb.messages().iter().map(|m| m.uid).collect();
    assert_eq!(uids, [1, 2]);
    assert_eq!(mb.message_path(mb.message(1).unwrap()), a.path);
}

#[test]
fn append_respects_quota_and_leaves_nothing_when_refused() {
    let (_dir, md) = maildir();
    append(&md, b"12345\n", seen(), None);
    let options = DeliverOptions {
        quota_bytes: Some(10),
        ..Default::default()
    };
    let e = md
        .append(&mut &b"123456\n"[..], seen(), None, &options)
        .unwrap_err();
    assert!(e.is_over_quota(), "{e}");
    let options = DeliverOptions {
        quota_messages: Some(1),
        ..Default::default()
    };
    let e = md
        .append(&mut &b"1\n"[..], seen(), None, &options)
        .unwrap_err();
    assert!(e.is_over_quota(), "{e}");
    assert_eq!(names(&md.path().join("new")).len(), 1);
    assert!(names(&md.path().join("tmp")).is_empty());
}

/// A reader that fails after some bytes.
struct Failing(usize);

impl io::Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.0 == 0 {
            return Err(io::Error::other("client went away"));
        }
        let n = self.0.min(buf.len());
        buf[..n].fill(b'x');
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn a_failing_reader_leaves_nothing() {
    let (_dir, md) = maildir();
    let e = md
        .append(
            &mut Failing(100_000),
            seen(),
            None,
            &DeliverOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(e, Error::ReadMessage { .. }), "{e}");
    for sub in ["tmp", "cur", "new"] {
        assert!(names(&md.path().join(sub)).is_empty(), "{sub}");
    }
}

#[test]
fn a_held_lock_times_out_and_leaves_nothing() {
    let (_dir, md) = maildir();
    append(&md, b"first\n", seen(), None);
    // A live Dovecot holding the UID list lock: our own pid and host.
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    fs::write(
        md.path().join(DOTLOCK),
        format!("{}:{host}", std::process::id()),
    )
    .unwrap();
    let e = md
        .append_with(
            &mut &b"second\n"[..],
            seen(),
            None,
            &DeliverOptions::default(),
            QUICK,
        )
        .unwrap_err();
    assert!(matches!(e, Error::LockTimeout { .. }), "{e}");
    assert!(e.is_temporary());
    assert_eq!(names(&md.path().join("new")).len(), 1);
    assert!(names(&md.path().join("tmp")).is_empty());
}

#[test]
fn a_failure_after_the_link_takes_the_message_back() {
    let (_dir, md) = maildir();
    // A list that has used up every UID: the failure comes after the file
    // was linked into cur/, under the lock.
    fs::write(md.path().join(UIDLIST), "3 V7 N4294967295\n").unwrap();
    let e = md
        .append(&mut &b"x\n"[..], seen(), None, &DeliverOptions::default())
        .unwrap_err();
    assert!(matches!(e, Error::UidsExhausted { .. }), "{e}");
    assert!(names(&md.path().join("cur")).is_empty());
    assert!(names(&md.path().join("tmp")).is_empty());
    assert_eq!(
        fs::read_to_string(md.path().join(UIDLIST)).unwrap(),
        "3 V7 N4294967295\n"
    );
}

#[test]
fn parallel_appends_get_distinct_consecutive_uids() {
    let (_dir, md) = maildir();
    append(&md, b"zero\n", seen(), None);
    let threads = 6;
    let per_thread = 8;
    let barrier = Arc::new(Barrier::new(threads + 1));
    let mut handles = Vec::new();
    for t in 0..threads {
        let md = md.clone();
        let barrier = Arc::clone(&barrier);
        handles.push(std::thread::spawn(move || {
            barrier.wait();
            (0..per_thread)
                .map(|i| {
                    let text = format!("Subject: {t}-{i}\n\n");
                    let a = append(&md, text.as_bytes(), seen(), None);
                    (a.uid, a.path)
                })
                .collect::<Vec<_>>()
        }));
    }
    // A reader refreshing meanwhile must not give the files other UIDs.
    let reader = {
        let md = md.clone();
        let barrier = Arc::clone(&barrier);
        std::thread::spawn(move || {
            barrier.wait();
            let mut mb = Mailbox::open(&md).unwrap();
            for _ in 0..20 {
                mb.refresh().unwrap();
            }
        })
    };
    let results: Vec<(u32, PathBuf)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    reader.join().unwrap();
    let uids: HashSet<u32> = results.iter().map(|(uid, _)| *uid).collect();
    assert_eq!(uids.len(), threads * per_thread);
    let max = u32::try_from(threads * per_thread).unwrap() + 1;
    assert_eq!(uids, (2..=max).collect());
    let mb = Mailbox::open(&md).unwrap();
    assert_eq!(mb.messages().len(), threads * per_thread + 1);
    for (uid, path) in &results {
        assert_eq!(&mb.message_path(mb.message(*uid).unwrap()), path);
    }
}

// ---- COPY and MOVE ----

/// A source folder with three messages: flags, keywords, dates.
fn source(md: &Maildir) -> (Maildir, Mailbox) {
    let src = md.create_folder("Src").unwrap();
    let mut keywords = Keywords::load(&src).unwrap();
    let junk = keywords.letter_for("Junk", true).unwrap().unwrap();
    let work = keywords.letter_for("Work", true).unwrap().unwrap();
    let mut both = seen().with(Flag::Replied);
    both.insert_keyword_letter(junk);
    both.insert_keyword_letter(work);
    let mut only_work = Flags::empty().with(Flag::Trashed);
    only_work.insert_keyword_letter(work);
    // A letter without a name in the list is dropped by a copy.
    let mut orphan = Flags::empty();
    orphan.insert_keyword_letter(b'z');
    for (i, flags) in [both, only_work, orphan].into_iter().enumerate() {
        let date = UNIX_EPOCH + Duration::from_secs(1_400_000_000 + u64::try_from(i).unwrap());
        append(
            &src,
            format!("Subject: m{i}\r\n\r\n").as_bytes(),
            flags,
            Some(date),
        );
    }
    let mb = Mailbox::open(&src).unwrap();
    (src, mb)
}

/// (flags with keywords as names, internal date, content) of a message.
fn describe(
    mb: &mut Mailbox,
    md: &Maildir,
    uid: u32,
) -> (String, Vec<String>, SystemTime, Vec<u8>) {
    let keywords = Keywords::load(md).unwrap();
    let entry = mb.message(uid).unwrap().clone();
    let mut system = entry.flags;
    let mut names = Vec::new();
    for letter in entry.flags.keyword_letters() {
        system.remove_keyword_letter(letter);
        if let Some(name) = keywords.name(letter) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    let content = fs::read(mb.message_path(&entry)).unwrap();
    (system.to_string(), names, entry.internal_date, content)
}

#[test]
fn copy_keeps_flags_keywords_by_name_and_dates() {
    let (_dir, md) = maildir();
    let (src, mut src_box) = source(&md);
    let dest = md.create_folder("Dest").unwrap();
    // The destination already knows Work, under another letter.
    let mut dest_keywords = Keywords::load(&dest).unwrap();
    dest_keywords.letter_for("Other", true).unwrap();
    dest_keywords.letter_for("Work", true).unwrap();
    append(&dest, b"already here\n", seen(), None);

    let copied = src_box.copy_to(&[3, 1, 2, 1], &dest).unwrap();
    let mut dest_box = Mailbox::open(&dest).unwrap();
    assert_eq!(copied.uidvalidity, dest_box.uidvalidity());
    assert_eq!(copied.uids, [(1, 2), (2, 3), (3, 4)]);
    for &(from, to) in &copied.uids {
        let mut want = describe(&mut src_box, &src, from);
        if from == 3 {
            want.1.clear();
        }
        assert_eq!(describe(&mut dest_box, &dest, to), want, "{from}");
        // Same file system: a hard link, no copy.
        let a = fs::metadata(src_box.message_path(src_box.message(from).unwrap())).unwrap();
        let b = fs::metadata(dest_box.message_path(dest_box.message(to).unwrap())).unwrap();
        assert_eq!(a.ino(), b.ino());
    }
    let (flags, names, ..) = describe(&mut dest_box, &dest, 2);
    assert_eq!(
        (flags.as_str(), names),
        ("RS", vec!["Junk".to_owned(), "Work".to_owned()])
    );
    assert!(names_of_dir(&dest, "tmp").is_empty());
    // The source is untouched.
    src_box.refresh().unwrap();
    assert_eq!(src_box.messages().len(), 3);
}

fn names_of_dir(md: &Maildir, sub: &str) -> Vec<String> {
    names(&md.path().join(sub))
}

#[test]
fn copy_into_the_same_folder_duplicates() {
    let (_dir, md) = maildir();
    let (_src, mut src_box) = source(&md);
    let copied = src_box.copy_to(&[2], &md.folder("Src").unwrap()).unwrap();
    assert_eq!(copied.uids, [(2, 4)]);
    src_box.refresh().unwrap();
    assert_eq!(src_box.messages().len(), 4);
    assert_eq!(
        src_box.message(4).unwrap().flags,
        src_box.message(2).unwrap().flags
    );
}

#[test]
fn copy_of_an_unknown_uid_changes_nothing() {
    let (_dir, md) = maildir();
    let (_src, mut src_box) = source(&md);
    let dest = md.create_folder("Dest").unwrap();
    let e = src_box.copy_to(&[1, 99], &dest).unwrap_err();
    assert!(matches!(e, Error::UnknownUid { uid: 99, .. }), "{e}");
    assert!(names_of_dir(&dest, "cur").is_empty());
    assert!(names_of_dir(&dest, "tmp").is_empty());
    // An empty copy is fine and gives the destination's UIDVALIDITY.
    let copied = src_box.copy_to(&[], &dest).unwrap();
    assert!(copied.uids.is_empty());
    assert_eq!(
        copied.uidvalidity,
        Mailbox::open(&dest).unwrap().uidvalidity()
    );
}

#[test]
fn copy_follows_renames_and_skips_expunged_messages() {
    let (_dir, md) = maildir();
    let (src, mut src_box) = source(&md);
    let dest = md.create_folder("Dest").unwrap();
    // Another session changes flags of 1 and expunges 2.
    let mut other = Mailbox::open(&src).unwrap();
    other
        .set_flags(1, Flags::empty().with(Flag::Draft))
        .unwrap();
    other.expunge(&[2]).unwrap();
    let copied = src_box.copy_to(&[1, 2, 3], &dest).unwrap();
    assert_eq!(copied.uids, [(1, 1), (3, 2)]);
    let dest_box = Mailbox::open(&dest).unwrap();
    assert_eq!(dest_box.message(1).unwrap().flags.to_string(), "D");
}

#[test]
fn move_copies_then_expunges_the_source() {
    let (_dir, md) = maildir();
    let (src, mut src_box) = source(&md);
    let dest = md.create_folder("Dest").unwrap();
    let moved = src_box.move_to(&[1, 3], &dest).unwrap();
    assert_eq!(moved.uids, [(1, 1), (3, 2)]);
    let left: Vec<u32> = src_box.messages().iter().map(|m| m.uid).collect();
    assert_eq!(left, [2]);
    let mut again = Mailbox::open(&src).unwrap();
    again.refresh().unwrap();
    assert_eq!(again.messages().len(), 1);
    assert_eq!(Mailbox::open(&dest).unwrap().messages().len(), 2);
}

#[test]
fn copy_across_file_systems_copies_the_bytes() {
    let shm = Path::new("/dev/shm");
    let Ok(other) = tempfile::tempdir_in(shm) else {
        eprintln!("skipped: no writable /dev/shm for a second file system");
        return;
    };
    let (dir, md) = maildir();
    let same_fs =
        fs::metadata(dir.path()).unwrap().dev() == fs::metadata(other.path()).unwrap().dev();
    if same_fs {
        eprintln!("skipped: /dev/shm is on the same file system as the temp dir");
        return;
    }
    let (src, mut src_box) = source(&md);
    let dest = Maildir::new(other.path().join("Maildir"));
    dest.ensure(None, DEFAULT_MODE).unwrap();
    let copied = src_box.copy_to(&[1, 2], &dest).unwrap();
    assert_eq!(copied.uids, [(1, 1), (2, 2)]);
    let mut dest_box = Mailbox::open(&dest).unwrap();
    for &(from, to) in &copied.uids {
        assert_eq!(
            describe(&mut dest_box, &dest, to),
            describe(&mut src_box, &src, from)
        );
        let a = fs::metadata(src_box.message_path(src_box.message(from).unwrap())).unwrap();
        let b = fs::metadata(dest_box.message_path(dest_box.message(to).unwrap())).unwrap();
        assert_ne!(a.dev(), b.dev());
    }
    assert!(names_of_dir(&dest, "tmp").is_empty());
}

#[test]
fn a_failed_copy_leaves_the_destination_as_it_was() {
    let (_dir, md) = maildir();
    let (src, mut src_box) = source(&md);
    let dest = md.create_folder("Dest").unwrap();
    append(&dest, b"already here\n", seen(), None);
    let list_before = fs::read_to_string(dest.path().join(UIDLIST)).unwrap();
    // Room for one more UID only: the second message fails after both
    // were linked into cur/, and both are taken back.
    let exhausted = list_before.replacen(" N2 ", " N4294967294 ", 1);
    assert_ne!(exhausted, list_before);
    fs::write(dest.path().join(UIDLIST), &exhausted).unwrap();
    let e = src_box.copy_to(&[1, 2], &dest).unwrap_err();
    assert!(matches!(e, Error::UidsExhausted { .. }), "{e}");
    assert!(names_of_dir(&dest, "cur").is_empty());
    assert_eq!(names_of_dir(&dest, "new").len(), 1);
    assert!(names_of_dir(&dest, "tmp").is_empty());
    assert_eq!(
        fs::read_to_string(dest.path().join(UIDLIST)).unwrap(),
        exhausted
    );
    // A held lock: LockTimeout, nothing copied.
    fs::write(dest.path().join(UIDLIST), &list_before).unwrap();
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    fs::write(
        dest.path().join(DOTLOCK),
        format!("{}:{host}", std::process::id()),
    )
    .unwrap();
    let mut quick = Mailbox::open_with(&src, QUICK).unwrap();
    let e = quick.copy_to(&[1], &dest).unwrap_err();
    assert!(matches!(e, Error::LockTimeout { .. }), "{e}");
    assert!(names_of_dir(&dest, "cur").is_empty());
    assert!(names_of_dir(&dest, "tmp").is_empty());
    // The source still has everything.
    src_box.refresh().unwrap();
    assert_eq!(src_box.messages().len(), 3);
}
