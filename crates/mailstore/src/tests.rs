//! Tests of the public API against real directories.

use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::errno::Errno;
use proptest::prelude::*;

use crate::lineend::tests::{convert, wire_size};
use crate::name::size_field;
use crate::{
    DEFAULT_MODE, DeliverOptions, Delivered, Error, Gid, Maildir, QuotaLimit, STALE_TMP_AGE, Uid,
    Usage, mbox,
};

/// A fresh Maildir (tree created) in a temp dir.
pub(crate) fn maildir() -> (tempfile::TempDir, Maildir) {
    let dir = tempfile::tempdir().unwrap();
    let md = Maildir::new(dir.path().join("Maildir"));
    md.ensure(None, DEFAULT_MODE).unwrap();
    (dir, md)
}

/// The names in a directory, sorted.
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn deliver(md: &Maildir, prefix: &[u8], message: &[u8]) -> Delivered {
    md.deliver(&mut &message[..], prefix, &DeliverOptions::default())
        .unwrap()
}

/// Check one delivered file: in new/, content, and both size fields.
fn check_delivered(md: &Maildir, d: &Delivered, want: &[u8]) {
    assert_eq!(d.path.parent().unwrap(), md.path().join("new"));
    let content = fs::read(&d.path).unwrap();
    assert_eq!(content, want);
    assert_eq!(d.size, want.len() as u64);
    assert_eq!(d.wire_size, wire_size(want));
    let name = d.path.file_name().unwrap().to_str().unwrap();
    assert_eq!(size_field(name, 'S'), Some(d.size), "{name}");
    assert_eq!(size_field(name, 'W'), Some(d.wire_size), "{name}");
    let meta = fs::metadata(&d.path).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

/// A reader that hands out `data` in pieces of `piece` bytes, then fails
/// with `error` if given.
struct Pieces {
    data: Vec<u8>,
    at: usize,
    piece: usize,
    error: Option<io::ErrorKind>,
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at >= self.data.len() {
            return match self.error {
                Some(kind) => Err(io::Error::new(kind, "injected failure")),
                None => Ok(0),
            };
        }
        let n = self.piece.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

fn failing_reader(data: &[u8]) -> Pieces {
    Pieces {
        data: data.to_vec(),
        at: 0,
        piece: 7,
        error: Some(io::ErrorKind::ConnectionReset),
    }
}

fn io_error(errno: Errno) -> Error {
    Error::Io {
        op: "test",
        path: PathBuf::from("/x"),
        source: io::Error::from(errno),
    }
}

// ---- ensure ----

#[test]
fn ensure_creates_the_tree_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let md = Maildir::new(dir.path().join("a/b/Maildir"));
    md.ensure(None, DEFAULT_MODE).unwrap();
    for sub in ["", "cur", "new", "tmp"] {
        let meta = fs::symlink_metadata(md.path().join(sub)).unwrap();
        assert!(meta.is_dir(), "{sub}");
        assert_eq!(meta.permissions().mode() & 0o7777, 0o700, "{sub}");
    }
    // Missing parents are created with the same mode.
    let parent = fs::metadata(dir.path().join("a/b")).unwrap();
    assert_eq!(parent.permissions().mode() & 0o7777, 0o700);

    let msg = deliver(&md, b"", b"hello\n");
    md.ensure(None, DEFAULT_MODE).unwrap();
    assert_eq!(names(&md.path().join("new")).len(), 1);
    assert!(msg.path.exists());
}

#[test]
fn ensure_keeps_the_mode_of_existing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let md = Maildir::new(dir.path().join("Maildir"));
    md.ensure(None, 0o750).unwrap();
    md.ensure(None, DEFAULT_MODE).unwrap();
    let meta = fs::metadata(md.path().join("new")).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o750);
}

#[test]
fn ensure_on_a_folder_creates_root_folder_and_marker() {
    let dir = tempfile::tempdir().unwrap();
    let md = Maildir::new(dir.path().join("Maildir"));
    let sent = md.folder("Sent").unwrap();
    sent.ensure(None, DEFAULT_MODE).unwrap();
    sent.ensure(None, DEFAULT_MODE).unwrap();
    assert_eq!(sent.path(), dir.path().join("Maildir/.Sent"));
    for sub in ["cur", "new", "tmp"] {
        assert!(md.path().join(sub).is_dir(), "{sub}");
        assert!(sent.path().join(sub).is_dir(), "{sub}");
    }
    let marker = fs::symlink_metadata(sent.path().join("maildirfolder")).unwrap();
    assert!(marker.is_file());
    assert_eq!(marker.len(), 0);
    assert_eq!(marker.permissions().mode() & 0o777, 0o600);
    assert!(!md.path().join("maildirfolder").exists());

    let d = deliver(&sent, b"", b"x\n");
    assert_eq!(d.path.parent().unwrap(), sent.path().join("new"));
}

#[test]
fn ensure_refuses_a_path_that_is_a_file_permanently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("Maildir");
    fs::write(&path, b"not a directory").unwrap();
    let md = Maildir::new(&path);
    let err = md.ensure(None, DEFAULT_MODE).unwrap_err();
    assert!(matches!(err, Error::NotADirectory { .. }), "{err:?}");
    assert!(!err.is_temporary());
    let err = md
        .deliver(&mut &b"x"[..], b"", &DeliverOptions::default())
        .unwrap_err();
    assert!(matches!(err, Error::NotADirectory { .. }), "{err:?}");
    assert!(!err.is_temporary());

    // A file where new/ should be.
    let (_dir, md) = maildir();
    fs::remove_dir(md.path().join("new")).unwrap();
    fs::write(md.path().join("new"), b"").unwrap();
    let err = md.ensure(None, DEFAULT_MODE).unwrap_err();
    assert!(matches!(err, Error::NotADirectory { .. }), "{err:?}");
}

#[test]
fn ensure_refuses_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();

    // The Maildir itself.
    let link = dir.path().join("Maildir");
    symlink(&elsewhere, &link).unwrap();
    let err = Maildir::new(&link).ensure(None, DEFAULT_MODE).unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err:?}");
    assert!(!err.is_temporary());

    // A subdirectory.
    let (_dir2, md) = maildir();
    fs::remove_dir(md.path().join("tmp")).unwrap();
    symlink(&elsewhere, md.path().join("tmp")).unwrap();
    let err = md.ensure(None, DEFAULT_MODE).unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err:?}");

    // The folder marker.
    let (_dir3, md) = maildir();
    let folder = md.folder("Junk").unwrap();
    fs::create_dir(folder.path()).unwrap();
    symlink(
        elsewhere.join("planted"),
        folder.path().join("maildirfolder"),
    )
    .unwrap();
    let err = folder.ensure(None, DEFAULT_MODE).unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err:?}");
    assert!(!elsewhere.join("planted").exists());
    assert!(names(&elsewhere).is_empty());
}

#[test]
fn ensure_refuses_bad_paths() {
    for path in ["", "a/../b"] {
        let err = Maildir::new(path).ensure(None, DEFAULT_MODE).unwrap_err();
        assert!(
            matches!(err, Error::InvalidPath { .. }),
            "{path:?}: {err:?}"
        );
        assert!(!err.is_temporary());
    }
}

#[test]
fn ensure_with_owner_chowns_when_root() {
    if !nix::unistd::geteuid().is_root() {
        println!("note: not root, skipping the chown test of Maildir::ensure");
        return;
    }
    let nobody = (Uid::from_raw(65534), Gid::from_raw(65534));
    let dir = tempfile::tempdir().unwrap();
    let md = Maildir::new(dir.path().join("home/Maildir"));
    let folder = md.folder("Drafts").unwrap();
    folder.ensure(Some(nobody), DEFAULT_MODE).unwrap();
    for path in [
        dir.path().join("home"),
        md.path().to_path_buf(),
        md.path().join("new"),
        folder.path().to_path_buf(),
        folder.path().join("tmp"),
        folder.path().join("maildirfolder"),
    ] {
        let meta = fs::symlink_metadata(&path).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid()),
            (65534, 65534),
            "{}",
            path.display()
        );
    }
    // Idempotent for the same owner, refused for another.
    folder.ensure(Some(nobody), DEFAULT_MODE).unwrap();
    let err = md
        .ensure(Some((Uid::from_raw(0), Gid::from_raw(0))), DEFAULT_MODE)
        .unwrap_err();
    assert!(
        matches!(err, Error::WrongOwner { found, .. } if found.as_raw() == 65534),
        "{err:?}"
    );
    assert!(err.is_temporary());
}

// ---- folders ----

#[test]
fn folder_names_are_validated() {
    let md = Maildir::new("/srv/mail/example.org/alice");
    let good: &[(&str, &str)] = &[
        ("Sent", "/srv/mail/example.org/alice/.Sent"),
        ("Archive.2024", "/srv/mail/example.org/alice/.Archive.2024"),
        ("Ünïcødé &- x", "/srv/mail/example.org/alice/.Ünïcødé &- x"),
    ];
    for &(name, path) in good {
        let f = md.folder(name).unwrap();
        assert_eq!(f.path(), Path::new(path));
        assert_eq!(f.folder_name(), Some(name));
        assert_eq!(f.root(), md.path());
    }
    let long = "x".repeat(255);
    let bad: &[&str] = &[
        "", ".Sent", "a/b", "/", "..", "a..b", "a.", "a\0b", "a\nb", "a\x7fb", &long,
    ];
    for &name in bad {
        let err = md.folder(name).unwrap_err();
        assert!(
            matches!(err, Error::InvalidFolderName { .. }),
            "{name:?}: {err:?}"
        );
        assert!(!err.is_temporary());
    }
    assert!(md.folder(&"x".repeat(254)).is_ok());
}

#[test]
fn nested_folders_use_dot_separated_names() {
    let md = Maildir::new("/m");
    let child = md.folder("Archive").unwrap().folder("2024").unwrap();
    assert_eq!(child.path(), Path::new("/m/.Archive.2024"));
    assert_eq!(child.folder_name(), Some("Archive.2024"));
    assert!(md.folder("Archive").unwrap().folder(".x").is_err());
}

// ---- delivery ----

#[test]
fn delivery_stores_exactly_one_converted_file() {
    // (what, prefix, message, stored)
    type Case = (&'static str, &'static [u8], &'static [u8], &'static [u8]);
    let cases: &[Case] = &[
        (
            "crlf to lf, prefix first",
            b"Return-Path: <a@example.org>\r\nDelivered-To: b@example.net\r\n",
            b"Subject: hi\r\n\r\nbody\r\n",
            b"Return-Path: <a@example.org>\nDelivered-To: b@example.net\nSubject: hi\n\nbody\n",
        ),
        (
            "lf prefix",
            b"Delivered-To: b@x\n",
            b"S: x\r\n",
            b"Delivered-To: b@x\nS: x\n",
        ),
        (
            "no trailing newline",
            b"",
            b"Subject: x\r\n\r\nlast line",
            b"Subject: x\n\nlast line",
        ),
        ("empty message", b"", b"", b""),
        (
            "empty message with prefix",
            b"Delivered-To: b@x\r\n",
            b"",
            b"Delivered-To: b@x\n",
        ),
        ("lone cr kept", b"", b"a\rb\r\n", b"a\rb\n"),
        (
            "cr split across prefix",
            b"X: y\r",
            b"\nbody",
            b"X: y\nbody",
        ),
    ];
    for &(what, prefix, message, want) in cases {
        let (_dir, md) = maildir();
        let d = deliver(&md, prefix, message);
        check_delivered(&md, &d, want);
        assert_eq!(names(&md.path().join("new")).len(), 1, "{what}");
        assert!(names(&md.path().join("tmp")).is_empty(), "{what}");
        assert!(names(&md.path().join("cur")).is_empty(), "{what}");
    }
}

#[test]
fn delivered_names_follow_the_maildir_spec() {
    let (_dir, md) = maildir();
    let d = deliver(&md, b"", b"a\r\nb\r\n");
    let name = d.path.file_name().unwrap().to_str().unwrap();
    // UNIQUE,S=4,W=6 with UNIQUE = SECONDS.M..P..Q..R...HOST
    let (unique, sizes) = name.split_once(',').unwrap();
    assert_eq!(sizes, "S=4,W=6");
    let (secs, rest) = unique.split_once('.').unwrap();
    let secs: u64 = secs.parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(now.abs_diff(secs) < 60, "{name}");
    let (middle, host) = rest.split_once('.').unwrap();
    let pid = std::process::id().to_string();
    assert!(middle.starts_with('M'), "{name}");
    assert!(middle.contains(&format!("P{pid}Q")), "{name}");
    assert!(
        !host.is_empty() && !host.contains(['/', ':', ',']),
        "{name}"
    );
}

#[test]
fn delivery_streams_a_large_message() {
    let (_dir, md) = maildir();
    // A few MB of CRLF lines, handed out in odd-sized pieces so that CRs
    // land on chunk boundaries.
    let mut message = Vec::new();
    let mut i = 0u64;
    while message.len() < 3 * 1024 * 1024 {
        message.extend_from_slice(
            format!("line {i} of a long message, some text to fill it\r\n").as_bytes(),
        );
        i += 1;
    }
    let mut reader = Pieces {
        data: message.clone(),
        at: 0,
        piece: 65_537,
        error: None,
    };
    let prefix = b"Delivered-To: big@example.org\r\n";
    let d = md
        .deliver(&mut reader, prefix, &DeliverOptions::default())
        .unwrap();
    let mut all = prefix.to_vec();
    all.extend_from_slice(&message);
    check_delivered(&md, &d, &convert(&all));
    assert!(names(&md.path().join("tmp")).is_empty());
}

#[test]
fn a_thousand_deliveries_never_collide() {
    let (_dir, md) = maildir();
    for i in 0..1000 {
        deliver(&md, b"", format!("message {i}\r\n").as_bytes());
    }
    let new = names(&md.path().join("new"));
    assert_eq!(new.len(), 1000);
    let mut bodies: Vec<String> = new
        .iter()
        .map(|n| fs::read_to_string(md.path().join("new").join(n)).unwrap())
        .collect();
    bodies.sort();
    bodies.dedup();
    assert_eq!(bodies.len(), 1000);
    assert!(names(&md.path().join("tmp")).is_empty());
}

#[test]
fn concurrent_deliveries_never_collide() {
    let (_dir, md) = maildir();
    let md = Arc::new(md);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let md = Arc::clone(&md);
            std::thread::spawn(move || {
                for i in 0..250 {
                    deliver(&md, b"", format!("thread {t} message {i}\n").as_bytes());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let new = names(&md.path().join("new"));
    assert_eq!(new.len(), 1000);
    assert!(names(&md.path().join("tmp")).is_empty());
}

#[test]
fn a_failing_reader_leaves_nothing_behind() {
    let (_dir, md) = maildir();
    let mut reader = failing_reader(b"Subject: x\r\n\r\npartial body");
    let err = md
        .deliver(
            &mut reader,
            b"Delivered-To: x@y\r\n",
            &DeliverOptions::default(),
        )
        .unwrap_err();
    assert!(matches!(err, Error::ReadMessage { .. }), "{err:?}");
    assert!(err.is_temporary());
    for sub in ["tmp", "new", "cur"] {
        assert!(names(&md.path().join(sub)).is_empty(), "{sub}");
    }
}

#[test]
fn a_panicking_reader_leaves_nothing_behind() {
    struct Panics;
    impl Read for Panics {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            panic!("reader panicked");
        }
    }
    let (_dir, md) = maildir();
    let result =
        std::panic::catch_unwind(|| md.deliver(&mut Panics, b"X: y\n", &DeliverOptions::default()));
    assert!(result.is_err());
    assert!(names(&md.path().join("tmp")).is_empty());
    assert!(names(&md.path().join("new")).is_empty());
}

#[test]
fn symlinked_directories_are_refused() {
    let (dir, md) = maildir();
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    for sub in ["new", "tmp"] {
        let (_d, md) = maildir();
        fs::remove_dir(md.path().join(sub)).unwrap();
        symlink(&elsewhere, md.path().join(sub)).unwrap();
        let err = md
            .deliver(&mut &b"x\n"[..], b"", &DeliverOptions::default())
            .unwrap_err();
        assert!(matches!(err, Error::Symlink { .. }), "{sub}: {err:?}");
        assert!(!err.is_temporary());
        assert!(names(&elsewhere).is_empty(), "{sub}");
    }
    // The Maildir root itself.
    let link = dir.path().join("link");
    symlink(md.path(), &link).unwrap();
    let err = Maildir::new(&link)
        .deliver(&mut &b"x\n"[..], b"", &DeliverOptions::default())
        .unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err:?}");
    assert!(names(&md.path().join("new")).is_empty());
}

#[test]
fn delivery_into_a_missing_maildir_is_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let md = Maildir::new(dir.path().join("nope"));
    let err = md
        .deliver(&mut &b"x"[..], b"", &DeliverOptions::default())
        .unwrap_err();
    assert!(err.is_temporary(), "{err:?}");
}

#[test]
fn delivery_with_create_mode_makes_a_missing_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let options = DeliverOptions {
        create_mode: Some(0o750),
        ..Default::default()
    };
    // Missing whole, then missing only tmp/ (another tool's doing).
    let md = Maildir::new(dir.path().join("a/b"));
    let d = md.deliver(&mut &b"x"[..], b"", &options).unwrap();
    assert_eq!(fs::read(&d.path).unwrap(), b"x");
    let mode = fs::metadata(md.path().join("cur"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o750);
    fs::remove_dir(md.path().join("tmp")).unwrap();
    md.deliver(&mut &b"y"[..], b"", &options).unwrap();
    assert!(md.path().join("tmp").is_dir());
    assert_eq!(names(&md.path().join("new")).len(), 2);
}

// ---- quota ----

#[test]
fn usage_counts_root_and_folders() {
    let (_dir, md) = maildir();
    assert_eq!(md.usage().unwrap(), Usage::default());
    deliver(&md, b"", b"12345\r\n"); // 6 bytes
    let sent = md.folder("Sent").unwrap();
    sent.ensure(None, DEFAULT_MODE).unwrap();
    let d = deliver(&sent, b"", b"abc"); // 3 bytes
    // A reader moved one to cur/ with flags.
    let name = d.path.file_name().unwrap().to_str().unwrap();
    fs::rename(&d.path, sent.path().join("cur").join(format!("{name}:2,S"))).unwrap();
    // A message without a size in its name (another tool's): stat'ed.
    fs::write(
        md.path().join("cur/1700000000.1234.otherhost:2,"),
        b"0123456789",
    )
    .unwrap();
    // Not messages: dot files, a file in tmp/.
    fs::write(md.path().join("cur/.hidden"), b"xxxxxxxxxxxxxxxxxxxx").unwrap();
    fs::write(md.path().join("tmp/1.2.host"), b"xxxxxxxxxxxxxxxxxxxxx").unwrap();
    let want = Usage {
        bytes: 6 + 3 + 10,
        messages: 3,
    };
    assert_eq!(md.usage().unwrap(), want);
    // The same from a folder: quota is per mailbox.
    assert_eq!(sent.usage().unwrap(), want);
}

#[test]
fn over_quota_is_refused_and_leaves_nothing() {
    let (_dir, md) = maildir();
    deliver(&md, b"", b"0123456789"); // 10 bytes, 1 message
    let cases: &[(&str, DeliverOptions, &[u8], Option<QuotaLimit>)] = &[
        (
            "bytes: fits exactly",
            DeliverOptions {
                quota_bytes: Some(15),
                ..Default::default()
            },
            b"abcde",
            None,
        ),
        (
            "bytes: one over",
            DeliverOptions {
                quota_bytes: Some(20),
                ..Default::default()
            },
            b"abcdef",
            Some(QuotaLimit::Bytes(20)),
        ),
        (
            "bytes: already over",
            DeliverOptions {
                quota_bytes: Some(5),
                ..Default::default()
            },
            b"",
            Some(QuotaLimit::Bytes(5)),
        ),
        (
            "messages: full",
            DeliverOptions {
                quota_messages: Some(2),
                ..Default::default()
            },
            b"x",
            Some(QuotaLimit::Messages(2)),
        ),
        (
            "messages: room for one",
            DeliverOptions {
                quota_messages: Some(3),
                quota_bytes: Some(1000),
                ..Default::default()
            },
            b"x",
            None,
        ),
    ];
    for (what, options, message, refused) in cases {
        let before = md.usage().unwrap();
        let result = md.deliver(&mut &message[..], b"", options);
        match refused {
            None => {
                result.unwrap_or_else(|e| panic!("{what}: {e}"));
            }
            Some(limit) => {
                let err = result.unwrap_err();
                match &err {
                    Error::OverQuota {
                        usage, limit: got, ..
                    } => {
                        assert_eq!(usage, &before, "{what}");
                        assert_eq!(got, limit, "{what}");
                    }
                    other => panic!("{what}: {other:?}"),
                }
                assert!(err.is_over_quota());
                assert_eq!(md.usage().unwrap(), before, "{what}");
            }
        }
        assert!(names(&md.path().join("tmp")).is_empty(), "{what}");
    }
}

// ---- tmp cleanup ----

#[test]
fn clean_tmp_removes_only_stale_files() {
    let (_dir, md) = maildir();
    let old = md.path().join("tmp/1.M1P1Q1.host");
    let fresh = md.path().join("tmp/2.M1P1Q1.host");
    fs::write(&old, b"old").unwrap();
    fs::write(&fresh, b"fresh").unwrap();
    let long_ago = SystemTime::now() - STALE_TMP_AGE - Duration::from_secs(60);
    fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(long_ago)
        .unwrap();
    assert_eq!(md.clean_tmp(STALE_TMP_AGE).unwrap(), 1);
    assert_eq!(
        names(&md.path().join("tmp")),
        vec!["2.M1P1Q1.host".to_owned()]
    );
}

// ---- errors ----

#[test]
fn errors_are_sorted_into_temporary_and_permanent() {
    let cases: &[(&str, Error, bool)] = &[
        ("disk full", io_error(Errno::ENOSPC), true),
        ("quota of the file system", io_error(Errno::EDQUOT), true),
        ("i/o error", io_error(Errno::EIO), true),
        ("permission", io_error(Errno::EACCES), true),
        ("operation not permitted", io_error(Errno::EPERM), true),
        ("read-only", io_error(Errno::EROFS), true),
        ("not a directory (errno)", io_error(Errno::ENOTDIR), false),
        ("symlink loop (errno)", io_error(Errno::ELOOP), false),
        ("name too long", io_error(Errno::ENAMETOOLONG), false),
        (
            "lock timeout",
            Error::LockTimeout {
                path: "/x".into(),
                waited: Duration::from_secs(1),
            },
            true,
        ),
        (
            "not a directory",
            Error::NotADirectory { path: "/x".into() },
            false,
        ),
        ("symlink", Error::Symlink { path: "/x".into() }, false),
        (
            "folder name",
            Error::InvalidFolderName {
                name: "..".into(),
                reason: "test",
            },
            false,
        ),
    ];
    for (what, err, temporary) in cases {
        assert_eq!(err.is_temporary(), *temporary, "{what}: {err}");
        assert!(!err.is_over_quota(), "{what}");
    }
}

// ---- proptest ----

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn delivery_stores_input_with_crlf_as_lf(
        prefix in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), any::<u8>()], 0..64),
        message in proptest::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), any::<u8>()], 0..4096),
        piece in 1usize..300,
    ) {
        let (_dir, md) = maildir();
        let mut reader = Pieces { data: message.clone(), at: 0, piece, error: None };
        let d = md.deliver(&mut reader, &prefix, &DeliverOptions::default()).unwrap();
        let mut all = prefix.clone();
        all.extend_from_slice(&message);
        let want = convert(&all);
        prop_assert_eq!(fs::read(&d.path).unwrap(), want.clone());
        let name = d.path.file_name().unwrap().to_str().unwrap().to_owned();
        prop_assert_eq!(size_field(&name, 'S'), Some(want.len() as u64));
        prop_assert_eq!(size_field(&name, 'W'), Some(wire_size(&want)));
        prop_assert_eq!(d.size, want.len() as u64);
        prop_assert_eq!(d.wire_size, wire_size(&want));
        prop_assert!(names(&md.path().join("tmp")).is_empty());
    }
}

// ---- mbox ----

/// A parsed mbox message: the `From ` line and the unquoted body.
#[derive(Debug, PartialEq)]
struct MboxMessage {
    from_line: String,
    body: Vec<u8>,
}

/// parse_mbox - split an mboxrd file into messages, undoing the quoting.
fn parse_mbox(data: &[u8]) -> Vec<MboxMessage> {
    let mut messages: Vec<MboxMessage> = Vec::new();
    let mut previous_blank = true;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if previous_blank && line.starts_with(b"From ") {
            if let Some(last) = messages.last_mut() {
                // Drop the separating empty line.
                assert!(
                    last.body.ends_with(b"\n\n") || last.body == b"\n",
                    "{:?}",
                    last.body
                );
                last.body.pop();
            }
            messages.push(MboxMessage {
                from_line: String::from_utf8(line.to_vec()).unwrap(),
                body: Vec::new(),
            });
            previous_blank = false;
            continue;
        }
        let body = &mut messages
            .last_mut()
            .expect("data before the first From line")
            .body;
        let gts = line.iter().take_while(|&&b| b == b'>').count();
        if gts > 0 && line[gts..].starts_with(b"From ") {
            body.extend_from_slice(&line[1..]);
        } else {
            body.extend_from_slice(line);
        }
        previous_blank = line == b"\n";
    }
    if let Some(last) = messages.last_mut() {
        assert_eq!(last.body.pop(), Some(b'\n'), "missing final empty line");
    }
    messages
}

#[test]
fn mbox_round_trips_with_from_quoting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive.mbox");
    let arrival = UNIX_EPOCH + Duration::from_secs(1_234_567_890);
    let bodies: &[&[u8]] = &[
        b"Subject: one\r\n\r\nFrom the start\r\n>From quoted\r\n>>From twice\r\nFrom\r\n",
        b"Subject: two\n\nFrom here\n\nFrom after a blank line\n",
        b"Subject: three\r\n\r\n> From not quoted\r\nfrom lower\r\n",
        b"",
    ];
    for body in bodies {
        mbox::append(&path, "alice@example.org", arrival, &mut &body[..]).unwrap();
    }
    let data = fs::read(&path).unwrap();
    assert!(!data.contains(&b'\r'));
    let messages = parse_mbox(&data);
    assert_eq!(messages.len(), bodies.len());
    for (m, body) in messages.iter().zip(bodies) {
        assert_eq!(
            m.from_line,
            "From alice@example.org Fri Feb 13 23:31:30 2009\n"
        );
        assert_eq!(m.body, convert(body));
    }
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // The raw quoting, once.
    assert!(
        data.windows(27)
            .any(|w| w == b"\n>From the start\n>>From quo")
    );
}

#[test]
fn mbox_sender_and_line_endings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    mbox::append(&path, "", UNIX_EPOCH, &mut &b"no newline at end"[..]).unwrap();
    mbox::append(&path, "odd sender\t@x", UNIX_EPOCH, &mut &b"x\r\n"[..]).unwrap();
    let data = fs::read_to_string(&path).unwrap();
    assert_eq!(
        data,
        "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\nno newline at end\n\n\
         From odd_sender_@x Thu Jan  1 00:00:00 1970\nx\n\n"
    );
}

#[test]
fn mbox_append_after_a_file_without_final_newline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    fs::write(&path, b"From a Thu Jan  1 00:00:00 1970\nbroken").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    mbox::append(&path, "b", UNIX_EPOCH, &mut &b"y\n"[..]).unwrap();
    let data = fs::read_to_string(&path).unwrap();
    assert!(
        data.ends_with("broken\nFrom b Thu Jan  1 00:00:00 1970\ny\n\n"),
        "{data:?}"
    );
}

#[test]
fn mbox_concurrent_appends_are_whole() {
    let dir = tempfile::tempdir().unwrap();
    const REPEAT: usize = 2000;
    let path = Arc::new(dir.path().join("shared.mbox"));
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let path = Arc::clone(&path);
            std::thread::spawn(move || {
                for i in 0..100 {
                    // Over 64 KiB, so each append takes several write(2)s
                    // (one O_APPEND write is atomic by itself).
                    let body =
                        format!("Subject: {t}/{i}\r\n\r\nFrom thread {t}\r\nline 2 of {t}/{i}\r\n")
                            .repeat(REPEAT);
                    let mut reader = Pieces {
                        data: body.into_bytes(),
                        at: 0,
                        piece: 10_000,
                        error: None,
                    };
                    mbox::append(&path, &format!("t{t}@example.org"), UNIX_EPOCH, &mut reader)
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let messages = parse_mbox(&fs::read(&*path).unwrap());
    assert_eq!(messages.len(), 200);
    let mut seen = Vec::new();
    for m in &messages {
        let t = if m.from_line.starts_with("From t0@") {
            0
        } else {
            1
        };
        let body = String::from_utf8(m.body.clone()).unwrap();
        let subject = body.lines().next().unwrap().to_owned();
        let i = subject.rsplit('/').next().unwrap();
        let want =
            format!("Subject: {t}/{i}\n\nFrom thread {t}\nline 2 of {t}/{i}\n").repeat(REPEAT);
        assert_eq!(body, want);
        seen.push((t, i.parse::<u32>().unwrap()));
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 200);
}

#[test]
fn mbox_failing_reader_truncates_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    mbox::append(&path, "a", UNIX_EPOCH, &mut &b"first\n"[..]).unwrap();
    let before = fs::read(&path).unwrap();
    // Large enough that part of it is written before the failure.
    let mut reader = failing_reader(&b"partial line\r\n".repeat(20_000));
    reader.piece = 4096;
    let err = mbox::append(&path, "b", UNIX_EPOCH, &mut reader).unwrap_err();
    assert!(matches!(err, Error::ReadMessage { .. }), "{err:?}");
    assert!(err.is_temporary());
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn mbox_refuses_unsafe_targets() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target");
    fs::write(&target, b"").unwrap();

    let link = dir.path().join("link");
    symlink(&target, &link).unwrap();
    let err = mbox::append(&link, "a", UNIX_EPOCH, &mut &b"x"[..]).unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err:?}");
    assert!(!err.is_temporary());

    let hard = dir.path().join("hard");
    fs::hard_link(&target, &hard).unwrap();
    let err = mbox::append(&hard, "a", UNIX_EPOCH, &mut &b"x"[..]).unwrap_err();
    assert!(matches!(err, Error::HardLinked { links: 2, .. }), "{err:?}");
    assert!(!err.is_temporary());

    let err = mbox::append(dir.path(), "a", UNIX_EPOCH, &mut &b"x"[..]).unwrap_err();
    assert!(matches!(err, Error::NotARegularFile { .. }), "{err:?}");
    assert!(!err.is_temporary());

    let fifo = dir.path().join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    let err = mbox::append(&fifo, "a", UNIX_EPOCH, &mut &b"x"[..]).unwrap_err();
    assert!(matches!(err, Error::NotARegularFile { .. }), "{err:?}");

    assert_eq!(fs::read(&target).unwrap(), b"");
}

#[test]
fn mbox_lock_held_too_long_is_a_temporary_timeout() {
    use nix::fcntl::{Flock, FlockArg};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    fs::write(&path, b"").unwrap();
    let holder = Flock::lock(fs::File::open(&path).unwrap(), FlockArg::LockExclusive).unwrap();
    let err = mbox::append_with_timeout(
        &path,
        "a",
        UNIX_EPOCH,
        &mut &b"x"[..],
        Duration::from_millis(200),
    )
    .unwrap_err();
    assert!(matches!(err, Error::LockTimeout { .. }), "{err:?}");
    assert!(err.is_temporary());
    drop(holder);
    mbox::append(&path, "a", UNIX_EPOCH, &mut &b"x"[..]).unwrap();
}
