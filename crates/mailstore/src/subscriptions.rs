//! subscriptions - the IMAP subscriptions of a mailbox, in Dovecot's
//! `subscriptions` file in the mailbox's root.
//!
//! ## The file
//!
//! Dovecot 2.x writes version 2: the header `V<TAB>2<LF><LF>`, then one
//! name per line, with the levels of the name separated by a TAB instead
//! of the hierarchy separator (so the file does not depend on the
//! separator configured), and each level escaped: byte 0x01 starts an
//! escape, `0x01 '0'` is NUL, `0x01 '1'` is 0x01, `0x01 't'` TAB,
//! `0x01 'r'` CR and `0x01 'n'` LF:
//!
//! ```text
//! V<TAB>2
//!
//! INBOX
//! Archive<TAB>2024
//! &AOQ-rger
//! ```
//!
//! Older files (Dovecot 1.x, Courier) have no header and one name per
//! line, written with the separator (`Archive.2024`). Both are read;
//! a change keeps the file's version (as Dovecot does), and a new file
//! is version 2. Lines are taken without the CRs before the LF; empty
//! lines (also a version 2 line that unescapes to nothing), lines that
//! are not UTF-8 and repeated names are skipped. The file is read only
//! up to 16 MiB.
//!
//! Names are IMAP names as given (modified UTF-7, `.` between levels),
//! with a first level of INBOX in any case written `INBOX`, as Dovecot
//! stores them. A subscription need not name an existing folder: IMAP
//! allows that, and create, delete and rename leave subscriptions alone
//! (Dovecot does the same; whether SUBSCRIBE requires the folder to
//! exist, as Dovecot's does, is the IMAP layer's choice).
//!
//! ## Changing it
//!
//! [`Maildir::subscribe`] and [`Maildir::unsubscribe`] take Dovecot's
//! dot-lock `subscriptions.lock` (stale after 30 seconds unchanged, as
//! Dovecot judges it) together with an flock among Postern's processes
//! (the `uidlock` module), read the file again, and replace it whole:
//! temporary file, fsync, rename over the old one, fsync of the root.
//! Readers see the old list or the new one. Dovecot writes the new list
//! into its dot-lock file and renames that over the old one; either way
//! one writer at a time holds the dot-lock, so no change is lost.

use std::os::fd::AsFd;
use std::path::Path;
use std::time::Duration;

use crate::error::Error;
use crate::folders::{HIERARCHY_SEPARATOR, INBOX, normalize};
use crate::fsutil::{FileMode, open_dir, read_file_at, replace_file};
use crate::maildir::{Maildir, check_folder_name};
use crate::uidlock::{self, LockTiming, LockedFile};

/// The subscriptions file's name, in the mailbox's root.
pub(crate) const SUBSCRIPTIONS: &str = "subscriptions";

/// The first bytes of a version 2 file.
const V2_HEADER: &[u8] = b"V\t2\n\n";

/// A subscriptions file larger than this is refused.
const MAX_SIZE: u64 = 16 * 1024 * 1024;

/// The file and its locks.
const LOCK: LockedFile = LockedFile {
    file: SUBSCRIPTIONS,
    dotlock: "subscriptions.lock",
    what: "subscriptions lock",
};

/// Ten seconds of waiting; Dovecot takes a subscriptions dot-lock
/// unchanged for 30 seconds as stale.
const TIMING: LockTiming = LockTiming {
    timeout: Duration::from_secs(10),
    stale_after: Duration::from_secs(30),
};

/// Version - the format of a subscriptions file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// No header; names with the separator.
    V1,
    /// The `V\t2` header; levels separated by TAB, escaped.
    V2,
}

impl Maildir {
    /// subscriptions - the names the user subscribed to (IMAP LSUB, LIST
    /// (SUBSCRIBED)), in the order of the file, each once. No file means
    /// none. Works from the root whichever Maildir `self` is.
    pub fn subscriptions(&self) -> Result<Vec<String>, Error> {
        let root_fd = open_dir(self.root())?;
        Ok(self.read_subscriptions(root_fd.as_fd())?.1)
    }

    /// read_subscriptions - the file's version and names (a missing file is
    /// an empty version-2 list), from the root open as `root_fd`.
    fn read_subscriptions(
        &self,
        root_fd: std::os::fd::BorrowedFd<'_>,
    ) -> Result<(Version, Vec<String>), Error> {
        let data = read_file_at(
            root_fd,
            self.root(),
            SUBSCRIPTIONS,
            MAX_SIZE,
            "subscriptions file",
        )?;
        Ok(match data {
            Some(data) => parse(&data, &self.root().join(SUBSCRIPTIONS)),
            None => (Version::V2, Vec::new()),
        })
    }

    /// subscribe - add `name` to the subscriptions (IMAP SUBSCRIBE);
    /// true if it was not there yet. `INBOX` in any case is `INBOX`.
    ///
    /// The name must follow [`Maildir::folder`]'s rules or be INBOX
    /// ([`Error::InvalidFolderName`]); it need not exist. Changes are
    /// made under Dovecot's lock, and are on disk when this returns; a
    /// lock held too long is [`Error::LockTimeout`].
    pub fn subscribe(&self, name: &str) -> Result<bool, Error> {
        let name = normalize(name);
        if name != INBOX {
            check_folder_name(&name)?;
        }
        self.change_subscriptions(|names| {
            if names.iter().any(|n| *n == name) {
                false
            } else {
                names.push(name.clone().into_owned());
                true
            }
        })
    }

    /// unsubscribe - remove `name` from the subscriptions (IMAP
    /// UNSUBSCRIBE); true if it was there. `INBOX` in any case is `INBOX`.
    /// Locking and durability as for [`Maildir::subscribe`].
    pub fn unsubscribe(&self, name: &str) -> Result<bool, Error> {
        let name = normalize(name);
        self.change_subscriptions(|names| {
            let before = names.len();
            names.retain(|n| *n != name);
            names.len() != before
        })
    }

    /// change_subscriptions - under the lock, read the list, let `change`
    /// edit it, and write it back if `change` says it changed.
    fn change_subscriptions(
        &self,
        change: impl FnOnce(&mut Vec<String>) -> bool,
    ) -> Result<bool, Error> {
        let root_fd = open_dir(self.root())?;
        let _lock = uidlock::lock_file(root_fd.as_fd(), self.root(), LOCK, TIMING)?;
        let (version, mut names) = self.read_subscriptions(root_fd.as_fd())?;
        if !change(&mut names) {
            return Ok(false);
        }
        replace_file(
            root_fd.as_fd(),
            self.root(),
            SUBSCRIPTIONS,
            &to_bytes(version, &names),
            FileMode::LikeDirectory,
        )?;
        Ok(true)
    }
}

/// parse - a subscriptions file's version and names; `path` is for log
/// messages.
pub(crate) fn parse(data: &[u8], path: &Path) -> (Version, Vec<String>) {
    let (version, body) = match data.strip_prefix(V2_HEADER) {
        Some(body) => (Version::V2, body),
        None => (Version::V1, data),
    };
    let mut names: Vec<String> = Vec::new();
    for (index, line) in body.split(|&b| b == b'\n').enumerate() {
        // Every CR before the LF goes, not just one: a version 1 file cannot hold
        // a name ending in CR (it would lose it when written back), and version 2
        // escapes a CR in a name.
        let end = line.iter().rposition(|&b| b != b'\r').map_or(0, |i| i + 1);
        let line = line.get(..end).unwrap_or_default();
        if line.is_empty() {
            continue;
        }
        let bytes = match version {
            Version::V1 => line.to_vec(),
            Version::V2 => {
                let mut name = Vec::with_capacity(line.len());
                for (i, level) in line.split(|&b| b == b'\t').enumerate() {
                    if i > 0 {
                        name.push(b'.');
                    }
                    unescape(level, &mut name);
                }
                name
            }
        };
        match String::from_utf8(bytes) {
            // A version 2 line of escapes alone (`0x01` at its end) can unescape to
            // nothing: skipped like an empty line.
            Ok(name) if name.is_empty() => {}
            Ok(name) if !names.contains(&name) => names.push(name),
            Ok(_) => {}
            Err(_) => {
                tracing::warn!(path = %path.display(), line = index + 1, "subscription is not UTF-8; skipped");
            }
        }
    }
    (version, names)
}

/// to_bytes - a subscriptions file's contents.
pub(crate) fn to_bytes(version: Version, names: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    if version == Version::V2 {
        out.extend_from_slice(V2_HEADER);
    }
    for name in names {
        match version {
            Version::V1 => out.extend_from_slice(name.as_bytes()),
            Version::V2 => {
                for (i, level) in name.split(HIERARCHY_SEPARATOR).enumerate() {
                    if i > 0 {
                        out.push(b'\t');
                    }
                    escape(level.as_bytes(), &mut out);
                }
            }
        }
        out.push(b'\n');
    }
    out
}

/// escape - Dovecot's TAB escaping of one level.
fn escape(level: &[u8], out: &mut Vec<u8>) {
    for &b in level {
        match b {
            0 => out.extend_from_slice(b"\x010"),
            1 => out.extend_from_slice(b"\x011"),
            b'\t' => out.extend_from_slice(b"\x01t"),
            b'\r' => out.extend_from_slice(b"\x01r"),
            b'\n' => out.extend_from_slice(b"\x01n"),
            _ => out.push(b),
        }
    }
}

/// unescape - undo [`escape`]; an unknown escape stands for the byte
/// after it.
fn unescape(level: &[u8], out: &mut Vec<u8>) {
    let mut bytes = level.iter();
    while let Some(&b) = bytes.next() {
        if b != 1 {
            out.push(b);
            continue;
        }
        match bytes.next() {
            Some(b'0') => out.push(0),
            Some(b'1') => out.push(1),
            Some(b't') => out.push(b'\t'),
            Some(b'r') => out.push(b'\r'),
            Some(b'n') => out.push(b'\n'),
            Some(&other) => out.push(other),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::DEFAULT_MODE;

    fn maildir() -> (tempfile::TempDir, Maildir) {
        let dir = tempfile::tempdir().unwrap();
        let md = Maildir::new(dir.path().join("Maildir"));
        md.ensure(None, DEFAULT_MODE).unwrap();
        (dir, md)
    }

    fn file(md: &Maildir) -> String {
        fs::read_to_string(md.root().join(SUBSCRIPTIONS)).unwrap()
    }

    #[test]
    fn dovecot_files_parse() {
        // As Dovecot 2.3 wrote it (see tests/dovecot.rs).
        let (v, names) = parse(b"V\t2\n\nTop\nINBOX\n&AOQ-rger\nA\tB\tC\n", Path::new("t"));
        assert_eq!(v, Version::V2);
        assert_eq!(names, ["Top", "INBOX", "&AOQ-rger", "A.B.C"]);
        let (v, names) = parse(b"Top\nA.B.C\r\n\nTop\nINBOX", Path::new("t"));
        assert_eq!(v, Version::V1);
        assert_eq!(names, ["Top", "A.B.C", "INBOX"]);
        let (v, names) = parse(b"", Path::new("t"));
        assert_eq!((v, names.len()), (Version::V1, 0));
        let (_, names) = parse(
            b"V\t2\n\nok\n\xff\xfe\nx\x01ty\x01n\x01q\x01",
            Path::new("t"),
        );
        assert_eq!(names, ["ok", "x\ty\nq"]);
    }

    /// See: issue 11. Found by fuzzing: a version 2 line holding only a dangling
    /// escape byte became an empty subscription name.
    #[test]
    fn issue_11_lines_that_unescape_to_nothing_are_skipped() {
        let (v, names) = parse(b"V\t2\n\n\x01\nx\x01\n\x01\x01\nINBOX\n", Path::new("t"));
        assert_eq!(v, Version::V2);
        assert_eq!(names, ["x", "\u{1}", "INBOX"]);
        let (_, names) = parse(b"V\t2\n\n\x01\n", Path::new("t"));
        assert!(names.is_empty());
    }

    /// See: issue 11. Found by fuzzing: a version 1 name read from a line ending in
    /// two CRs kept one, and lost it when a change wrote the file back, so the
    /// subscription changed its name.
    #[test]
    fn issue_11_every_cr_before_the_lf_is_dropped() {
        let data = b"INBOX.Sent\r\r\nArchive\r\n\r\r\nx\ry\n";
        let (v, names) = parse(data, Path::new("t"));
        assert_eq!(v, Version::V1);
        assert_eq!(names, ["INBOX.Sent", "Archive", "x\ry"]);
        assert_eq!(parse(&to_bytes(v, &names), Path::new("t")), (v, names));
        let (_, names) = parse(b"V\t2\n\nA\tB\r\r\nC\x01r\r\n", Path::new("t"));
        assert_eq!(names, ["A.B", "C\r"]);
    }

    #[test]
    fn escaping_round_trips() {
        let names = vec![
            "a.b".to_owned(),
            "tab\there".to_owned(),
            "\u{1}\r\n\0".to_owned(),
            "&AOQ-rger.x".to_owned(),
        ];
        let bytes = to_bytes(Version::V2, &names);
        assert!(bytes.starts_with(b"V\t2\n\na\tb\ntab\x01there\n"));
        assert_eq!(parse(&bytes, Path::new("t")), (Version::V2, names));
    }

    #[test]
    fn subscribe_and_unsubscribe_write_version_2() {
        let (_dir, md) = maildir();
        assert!(md.subscriptions().unwrap().is_empty());
        assert!(md.subscribe("inbox").unwrap());
        assert!(md.subscribe("A.B.C").unwrap());
        assert!(md.subscribe("&AOQ-rger").unwrap());
        assert!(!md.subscribe("A.B.C").unwrap());
        assert!(md.subscribe("Inbox.Sent").unwrap());
        assert_eq!(
            file(&md),
            "V\t2\n\nINBOX\nA\tB\tC\n&AOQ-rger\nINBOX\tSent\n"
        );
        assert_eq!(
            md.subscriptions().unwrap(),
            ["INBOX", "A.B.C", "&AOQ-rger", "INBOX.Sent"]
        );
        assert!(md.unsubscribe("A.B.C").unwrap());
        assert!(!md.unsubscribe("A.B.C").unwrap());
        assert!(md.unsubscribe("INBOX").unwrap());
        assert_eq!(file(&md), "V\t2\n\n&AOQ-rger\nINBOX\tSent\n");
        // Works from a folder too, on the root's file.
        let folder = md.folder("A").unwrap();
        assert_eq!(folder.subscriptions().unwrap(), ["&AOQ-rger", "INBOX.Sent"]);
        let mode = fs::metadata(md.root().join(SUBSCRIPTIONS))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!md.root().join("subscriptions.lock").exists());
    }

    #[test]
    fn version_1_files_stay_version_1() {
        let (_dir, md) = maildir();
        fs::write(md.root().join(SUBSCRIPTIONS), "Top\nA.B.C\n").unwrap();
        assert!(md.subscribe("INBOX").unwrap());
        assert!(md.unsubscribe("Top").unwrap());
        assert_eq!(file(&md), "A.B.C\nINBOX\n");
    }

    #[test]
    fn bad_names_are_refused() {
        let (_dir, md) = maildir();
        for name in ["", ".x", "x.", "a..b", "a/b", "tab\tname", "nl\nname"] {
            assert!(
                matches!(md.subscribe(name), Err(Error::InvalidFolderName { .. })),
                "{name:?}"
            );
        }
        assert!(!md.root().join(SUBSCRIPTIONS).exists());
    }

    #[test]
    fn concurrent_subscribers_lose_nothing() {
        let (_dir, md) = maildir();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let md = md.clone();
                std::thread::spawn(move || {
                    for i in 0..10 {
                        assert!(md.subscribe(&format!("T{t}.n{i}")).unwrap());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(md.subscriptions().unwrap().len(), 40);
    }

    #[test]
    fn a_stale_dovecot_lock_is_broken_and_a_live_one_waited_for() {
        let (_dir, md) = maildir();
        let lock = md.root().join("subscriptions.lock");
        // Dovecot's lock holds the new contents, not a pid.
        fs::write(&lock, "V\t2\n\nhalf-written\n").unwrap();
        let old = std::time::SystemTime::now() - Duration::from_secs(60);
        fs::File::options()
            .write(true)
            .open(&lock)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(md.subscribe("x").unwrap());
        assert!(!lock.exists());
        // A fresh one is waited for, and released in time.
        fs::write(&lock, "").unwrap();
        let remover = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                fs::remove_file(lock).unwrap();
            })
        };
        assert!(md.subscribe("y").unwrap());
        remover.join().unwrap();
        assert_eq!(md.subscriptions().unwrap(), ["x", "y"]);
    }
}
