//! Tests of folder management: listing, create, delete, rename, names.

use crate::tests::maildir;
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};

use super::*;
use crate::uidlist::UIDLIST;
use crate::uidvalidity::UIDVALIDITY_FILE;
use crate::{DeliverOptions, Flag, Flags};

/// (name, selectable, has_children) of every LIST entry.
fn listed(md: &Maildir) -> Vec<(String, bool, bool)> {
    md.list_folders()
        .unwrap()
        .into_iter()
        .map(|f| (f.name, f.selectable, f.has_children))
        .collect()
}

fn entry(name: &str, selectable: bool, has_children: bool) -> (String, bool, bool) {
    (name.to_owned(), selectable, has_children)
}

/// The root's dot entries (folders, hidden work directories), sorted.
fn root_entries(md: &Maildir) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(md.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with('.'))
        .collect();
    names.sort();
    names
}

fn deliver(md: &Maildir, text: &str) {
    md.deliver(&mut text.as_bytes(), b"", &DeliverOptions::default())
        .unwrap();
}

#[test]
fn an_empty_mailbox_lists_only_inbox() {
    let (_dir, md) = maildir();
    assert_eq!(listed(&md), [entry("INBOX", true, false)]);
}

#[test]
fn listing_shows_folders_parents_and_children_like_dovecot() {
    let (_dir, md) = maildir();
    for name in ["A.B.C", "Top", "&AOQ-rger", "INBOX.sub", "D", "D.E"] {
        md.create_folder(name).unwrap();
    }
    // What other tools leave: an empty directory (Dovecot lists it and
    // fills it when selected), one with only the marker, a file, a
    // symlink, hidden work directories, names that break the rules.
    let root = md.root();
    fs::create_dir(root.join(".Empty")).unwrap();
    fs::create_dir(root.join(".MarkerOnly")).unwrap();
    fs::write(root.join(".MarkerOnly/maildirfolder"), "").unwrap();
    fs::write(root.join(".AFile"), "").unwrap();
    symlink(root.join(".Top"), root.join(".Link")).unwrap();
    fs::create_dir(root.join("..DOVECOT-TRASHED")).unwrap();
    fs::create_dir(root.join("..postern-trash.x")).unwrap();
    for bad in [
        ".a..b",
        ".trailing.",
        ".inbox.lower",
        ".INBOX",
        ".ctl\u{1}x",
    ] {
        fs::create_dir(root.join(bad)).unwrap();
    }
    fs::create_dir(root.join("NoDot")).unwrap();
    assert_eq!(
        listed(&md),
        [
            entry("INBOX", true, true),
            entry("&AOQ-rger", true, false),
            entry("A", false, true),
            entry("A.B", false, true),
            entry("A.B.C", true, false),
            entry("D", true, true),
            entry("D.E", true, false),
            entry("Empty", true, false),
            entry("INBOX.sub", true, false),
            entry("MarkerOnly", true, false),
            entry("Top", true, false),
        ]
    );
    // Called on a folder, it lists the whole mailbox.
    assert_eq!(md.folder("Top").unwrap().list_folders().unwrap().len(), 11);
}

#[test]
fn create_makes_a_complete_folder_without_parents() {
    let (_dir, md) = maildir();
    fs::set_permissions(md.root(), fs::Permissions::from_mode(0o750)).unwrap();
    let folder = md.create_folder("A.B.C").unwrap();
    assert_eq!(folder.folder_name(), Some("A.B.C"));
    assert_eq!(folder.path(), md.root().join(".A.B.C"));
    assert_eq!(root_entries(&md), [".A.B.C"]);
    for sub in ["cur", "new", "tmp"] {
        let meta = fs::metadata(folder.path().join(sub)).unwrap();
        assert!(meta.is_dir());
        assert_eq!(meta.permissions().mode() & 0o777, 0o750, "{sub}");
    }
    let dir_mode = fs::metadata(folder.path()).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o750);
    assert!(folder.path().join("maildirfolder").is_file());
    // Its UID list exists already, with a UIDVALIDITY from the counter.
    let list = fs::read_to_string(folder.path().join(UIDLIST)).unwrap();
    assert!(list.starts_with("3 V"), "{list}");
    let counter = fs::read_to_string(md.root().join(UIDVALIDITY_FILE)).unwrap();
    let uidvalidity = u32::from_str_radix(&counter, 16).unwrap();
    let mailbox = Mailbox::open(&folder).unwrap();
    assert_eq!(mailbox.uidvalidity(), uidvalidity);
    assert_eq!(mailbox.next_uid(), 1);
    assert!(mailbox.messages().is_empty());
}

#[test]
fn create_refuses_what_exists_and_bad_names() {
    let (_dir, md) = maildir();
    md.create_folder("Sent").unwrap();
    for name in ["Sent", "INBOX", "inbox", "InBoX"] {
        assert!(
            matches!(md.create_folder(name), Err(Error::FolderExists { .. })),
            "{name}"
        );
    }
    // A file or an empty directory in the way counts as existing.
    fs::write(md.root().join(".Blocked"), "").unwrap();
    assert!(matches!(
        md.create_folder("Blocked"),
        Err(Error::FolderExists { .. })
    ));
    let long = "x".repeat(255);
    for name in [
        "", ".", "..", ".lead", "trail.", "a..b", "a/b", "/abs", "../up", "~tilde", "ctl\tx",
        "nul\0x", &long,
    ] {
        match md.create_folder(name) {
            Err(Error::InvalidFolderName { .. }) => {}
            other => panic!("{name:?}: {other:?}"),
        }
    }
    assert_eq!(root_entries(&md), [".Blocked", ".Sent"]);
}

#[test]
fn names_are_stored_as_given_and_inbox_is_case_insensitive() {
    let (_dir, md) = maildir();
    // Modified UTF-7 and other IMAP-legal bytes are kept as they are.
    for name in [
        "&AOQ-rger",
        "Caf&AOk-.sub",
        "with space",
        "a&b",
        "in~middle~",
    ] {
        let folder = md.create_folder(name).unwrap();
        assert_eq!(folder.path(), md.root().join(format!(".{name}")));
    }
    let folder = md.create_folder("inbox.Lower").unwrap();
    assert_eq!(folder.folder_name(), Some("INBOX.Lower"));
    assert_eq!(md.resolve("Inbox").unwrap(), Maildir::new(md.root()));
    assert_eq!(
        md.resolve("iNbOx.Lower").unwrap().path(),
        md.root().join(".INBOX.Lower")
    );
    assert_eq!(
        md.resolve("inboxes").unwrap().folder_name(),
        Some("inboxes")
    );
    let sub = md.folder("A").unwrap();
    assert_eq!(sub.resolve("B").unwrap().folder_name(), Some("B"));
    assert!(matches!(
        md.resolve("a..b"),
        Err(Error::InvalidFolderName { .. })
    ));
}

#[test]
fn create_over_a_foreign_directory_changes_nothing() {
    let (_dir, md) = maildir();
    fs::create_dir_all(md.root().join(".Race/cur")).unwrap();
    assert!(matches!(
        md.create_folder("Race"),
        Err(Error::FolderExists { .. })
    ));
    assert_eq!(root_entries(&md), [".Race"]);
    assert!(!md.root().join(".Race/maildirfolder").exists());
}

#[test]
fn concurrent_creates_of_one_name_make_one_folder() {
    let (_dir, md) = maildir();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let md = md.clone();
            std::thread::spawn(move || md.create_folder("Same").is_ok())
        })
        .collect();
    let made = threads
        .into_iter()
        .map(|t| t.join().unwrap())
        .filter(|&ok| ok)
        .count();
    assert_eq!(made, 1);
    assert_eq!(root_entries(&md), [".Same"]);
}

#[test]
fn delete_removes_the_folder_and_keeps_children() {
    let (_dir, md) = maildir();
    let d = md.create_folder("D").unwrap();
    md.create_folder("D.E").unwrap();
    deliver(&d, "Subject: in D\n\nx\n");
    md.subscribe("D").unwrap();
    md.delete_folder("D").unwrap();
    assert_eq!(root_entries(&md), [".D.E"]);
    assert_eq!(
        listed(&md),
        [
            entry("INBOX", true, false),
            entry("D", false, true),
            entry("D.E", true, false),
        ]
    );
    // Subscriptions are names: untouched, as in Dovecot.
    assert_eq!(md.subscriptions().unwrap(), ["D"]);
    // D has no directory now: deleting it again is NONEXISTENT.
    assert!(matches!(
        md.delete_folder("D"),
        Err(Error::NoSuchFolder { .. })
    ));
    md.delete_folder("D.E").unwrap();
    assert!(root_entries(&md).is_empty());
    assert_eq!(listed(&md), [entry("INBOX", true, false)]);
    // And it can be created again, with a new UIDVALIDITY.
    let again = md.create_folder("D").unwrap();
    let mb = Mailbox::open(&again).unwrap();
    assert!(mb.messages().is_empty());
}

#[test]
fn a_recreated_folder_never_repeats_a_uidvalidity() {
    let (_dir, md) = maildir();
    let mut seen = Vec::new();
    for _ in 0..5 {
        let folder = md.create_folder("Again").unwrap();
        seen.push(Mailbox::open(&folder).unwrap().uidvalidity());
        md.delete_folder("Again").unwrap();
    }
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique, seen);
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
}

#[test]
fn delete_refuses_inbox_missing_and_odd_things() {
    let (_dir, md) = maildir();
    for name in ["INBOX", "inbox"] {
        assert!(matches!(
            md.delete_folder(name),
            Err(Error::InvalidFolderName { .. })
        ));
    }
    assert!(matches!(
        md.delete_folder("Nope"),
        Err(Error::NoSuchFolder { .. })
    ));
    md.create_folder("Target").unwrap();
    symlink(md.root().join(".Target"), md.root().join(".Link")).unwrap();
    assert!(matches!(
        md.delete_folder("Link"),
        Err(Error::Symlink { .. })
    ));
    assert!(md.root().join(".Target/cur").is_dir());
    fs::write(md.root().join(".File"), "").unwrap();
    assert!(matches!(
        md.delete_folder("File"),
        Err(Error::NotADirectory { .. })
    ));
    assert!(matches!(
        md.delete_folder("a/b"),
        Err(Error::InvalidFolderName { .. })
    ));
}

#[test]
fn delete_never_follows_links_inside_the_folder() {
    let (dir, md) = maildir();
    let outside = dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("precious"), "keep me").unwrap();
    let folder = md.create_folder("Trap").unwrap();
    symlink(&outside, folder.path().join("cur/link-to-dir")).unwrap();
    symlink(
        outside.join("precious"),
        folder.path().join("new/link-to-file"),
    )
    .unwrap();
    fs::create_dir_all(folder.path().join("deep/er/still")).unwrap();
    md.delete_folder("Trap").unwrap();
    assert_eq!(
        fs::read_to_string(outside.join("precious")).unwrap(),
        "keep me"
    );
    assert!(root_entries(&md).is_empty());
}

#[test]
fn stale_leftovers_are_cleaned_by_a_later_delete() {
    let (_dir, md) = maildir();
    let old = md.root().join("..postern-trash.old");
    fs::create_dir_all(old.join("cur")).unwrap();
    fs::write(old.join("cur/msg"), "x").unwrap();
    let fresh = md.root().join("..postern-create.fresh");
    fs::create_dir(&fresh).unwrap();
    let long_ago = SystemTime::now() - Duration::from_secs(2 * 60 * 60);
    fs::File::open(&old)
        .unwrap()
        .set_modified(long_ago)
        .unwrap();
    md.create_folder("X").unwrap();
    md.delete_folder("X").unwrap();
    assert!(!old.exists());
    assert!(fresh.exists(), "a young one may be in use");
}

#[test]
fn quota_does_not_count_hidden_work_directories() {
    let (_dir, md) = maildir();
    let trash = md.root().join("..postern-trash.x");
    fs::create_dir_all(trash.join("cur")).unwrap();
    fs::write(trash.join("cur/1.M1P1.h,S=5"), "12345").unwrap();
    deliver(&md, "abc\n");
    assert_eq!(md.usage().unwrap().messages, 1);
}

#[test]
fn rename_moves_the_folder_and_all_its_children() {
    let (_dir, md) = maildir();
    let a = md.create_folder("A").unwrap();
    md.create_folder("A.x").unwrap();
    md.create_folder("A.x.y").unwrap();
    md.create_folder("AB").unwrap();
    deliver(&a, "Subject: one\n\nx\n");
    let before = Mailbox::open(&a).unwrap();
    md.rename_folder("A", "B").unwrap();
    assert_eq!(root_entries(&md), [".AB", ".B", ".B.x", ".B.x.y"]);
    // UIDs and UIDVALIDITY travel with the folder.
    let after = Mailbox::open(&md.folder("B").unwrap()).unwrap();
    assert_eq!(after.uidvalidity(), before.uidvalidity());
    assert_eq!(after.messages().len(), 1);
    assert_eq!(after.messages()[0].uid, before.messages()[0].uid);
    // A level without its own directory renames its children.
    md.rename_folder("B.x", "C.z").unwrap();
    md.delete_folder("C.z").unwrap();
    assert_eq!(root_entries(&md), [".AB", ".B", ".C.z.y"]);
    md.rename_folder("C", "D").unwrap();
    assert_eq!(root_entries(&md), [".AB", ".B", ".D.z.y"]);
    // Into a deeper level, and to INBOX's children.
    md.rename_folder("B", "inbox.B").unwrap();
    assert_eq!(root_entries(&md), [".AB", ".D.z.y", ".INBOX.B"]);
}

#[test]
fn rename_refuses_existing_targets_before_moving_anything() {
    let (_dir, md) = maildir();
    md.create_folder("A").unwrap();
    md.create_folder("A.x").unwrap();
    md.create_folder("A.y").unwrap();
    md.create_folder("B").unwrap();
    md.create_folder("C.y").unwrap();
    assert!(matches!(
        md.rename_folder("A", "B"),
        Err(Error::FolderExists { .. })
    ));
    // C has no directory, but C.y (A.y's new name) exists.
    assert!(matches!(
        md.rename_folder("A", "C"),
        Err(Error::FolderExists { .. })
    ));
    assert!(matches!(
        md.rename_folder("A", "A"),
        Err(Error::FolderExists { .. })
    ));
    for to in ["INBOX", "Inbox"] {
        assert!(matches!(
            md.rename_folder("A", to),
            Err(Error::FolderExists { .. })
        ));
    }
    assert!(matches!(
        md.rename_folder("INBOX", "X"),
        Err(Error::InvalidFolderName { .. })
    ));
    assert!(matches!(
        md.rename_folder("Nope", "X"),
        Err(Error::NoSuchFolder { .. })
    ));
    for to in ["", "x..y", "x/y", "~x", ".x"] {
        assert!(
            matches!(
                md.rename_folder("A", to),
                Err(Error::InvalidFolderName { .. })
            ),
            "{to:?}"
        );
    }
    assert_eq!(root_entries(&md), [".A", ".A.x", ".A.y", ".B", ".C.y"]);
}

#[test]
fn rename_inbox_moves_its_messages_and_keeps_its_children() {
    let (_dir, md) = maildir();
    deliver(&md, "Subject: one\n\nx\n");
    deliver(&md, "Subject: two\n\ny\n");
    md.create_folder("INBOX.child").unwrap();
    let mut inbox = Mailbox::open(&md).unwrap();
    inbox.move_new_to_cur().unwrap();
    let mut keywords = crate::Keywords::load(&md).unwrap();
    let junk = keywords.letter_for("Junk", true).unwrap().unwrap();
    let mut flags = Flags::empty().with(Flag::Seen);
    flags.insert_keyword_letter(junk);
    inbox.set_flags(2, flags).unwrap();
    let dates: Vec<SystemTime> = inbox.messages().iter().map(|m| m.internal_date).collect();

    let moved = md.rename_inbox("Old").unwrap();
    assert_eq!(moved.uids, [(1, 1), (2, 2)]);
    inbox.refresh().unwrap();
    assert!(inbox.messages().is_empty());
    let old = md.folder("Old").unwrap();
    let old_box = Mailbox::open(&old).unwrap();
    assert_eq!(old_box.uidvalidity(), moved.uidvalidity);
    let got: Vec<String> = old_box
        .messages()
        .iter()
        .map(|m| m.flags.to_string())
        .collect();
    let old_keywords = crate::Keywords::load(&old).unwrap();
    let old_junk = old_keywords.letter_for_existing("Junk");
    assert_eq!(got, ["".to_owned(), format!("S{}", char::from(old_junk))]);
    let old_dates: Vec<SystemTime> = old_box.messages().iter().map(|m| m.internal_date).collect();
    assert_eq!(old_dates, dates);
    assert!(md.root().join(".INBOX.child/cur").is_dir());
    assert!(matches!(
        md.rename_inbox("Old"),
        Err(Error::FolderExists { .. })
    ));
}

impl crate::Keywords {
    /// letter_for_existing - the letter of a keyword the list has (test helper).
    fn letter_for_existing(&self, name: &str) -> u8 {
        self.iter().find(|(_, n)| *n == name).unwrap().0
    }
}
