//! mailbox - a Maildir opened for reading: its messages with UIDs, flags
//! and sizes, as POP3 and IMAP sessions see them.
//!
//! ## How a scan goes
//!
//! [`Mailbox::open`] and [`Mailbox::refresh`] read the UID list (without
//! the lock: it is only ever replaced whole, by rename), then list `new/`
//! and then `cur/` (in that order, so a message a reader moves from one
//! to the other meanwhile is seen at least once; seen twice, the `cur/`
//! name wins). Names starting with `.`, and anything but regular files,
//! are ignored; `tmp/` is never looked at. Messages are matched to the
//! list by base name (the name without its `:2,` flags suffix), so a
//! message keeps its UID when it moves from `new/` to `cur/` or its flags
//! change.
//!
//! A file is stat'ed when a scan first sees it under its current name:
//! for its modification time, which is IMAP's INTERNALDATE as Dovecot
//! reads it (later scans remember it by base name: renames keep it), and
//! for its status change time, the message's modification sequence (see
//! below). A file whose name did not change since the previous scan is
//! not stat'ed again (unless its name has no `,S=` size or the listing
//! gives no file type).
//!
//! Only if something must change does the scan take the UID list lock
//! (the `uidlock` module), read the list again, and write a new one:
//!
//! * files the list does not know get the next UIDs, in order of their
//!   delivery time (the number before the first `.` of the name, then
//!   the `M` microseconds after it, then the name); UIDs are never given
//!   twice, and the next UID only grows;
//! * lines for messages whose files are gone (expunged by another
//!   session, POP3 client or Dovecot) are dropped;
//! * sizes with CRLF line endings that had to be computed by reading a
//!   file (its name has no `,W=`) are kept in the line's `W` field, as
//!   Dovecot does, so the next scan need not read it again.
//!
//! A line is only dropped when the scan was stable: neither directory's
//! modification time moved during the scan, nor within the second before
//! it. readdir may miss a file renamed while it runs (a flag change by
//! another session), and dropping that file's line would give it a second
//! UID at the next scan; a message missing from an unstable scan is left
//! out of this view but keeps its line.
//!
//! ## The view
//!
//! A [`Mailbox`] is a snapshot: [`Mailbox::messages`] changes only in
//! [`Mailbox::refresh`] and [`Mailbox::expunge`]. A message another
//! process expunged stays listed until then (reading it gives `None`);
//! one it renamed is found again by its base name whenever an operation
//! finds the old name gone. So POP3 message numbers and IMAP sequence
//! numbers built over `messages()` stay valid between refreshes.
//!
//! ## Modification sequences (IMAP CONDSTORE)
//!
//! RFC 7162 gives each message a mod-sequence that grows whenever its
//! metadata (here: its flags) changes, and the folder a HIGHESTMODSEQ
//! that never decreases, so that a client can ask only for what changed
//! since it last looked. There is no state file for them: both are read
//! from the file system, so changes by any program using the Maildir
//! (Dovecot, mutt, another Postern process) count, and a fresh view finds
//! the same values.
//!
//! * A message's mod-sequence ([`MessageEntry::modseq`]) is its file's
//!   status change time (ctime) in microseconds since the Unix epoch, at
//!   least 1. Flags are in the file name, so a flag change is a rename,
//!   and Linux file systems set the renamed file's ctime; delivery,
//!   APPEND and COPY create the name and so set it too. A scan reads it
//!   only from the stat it does anyway for a file new to the view or
//!   renamed since the previous scan; a message whose name did not change
//!   keeps its value without a stat.
//! * [`Mailbox::highest_modseq`] is the largest of the messages' values
//!   and the modification times of `new/` and `cur/` (in microseconds)
//!   taken at the start of the scan. An expunge (unlink) or a move sets
//!   the directory's time, so removing the message with the highest
//!   value does not lower HIGHESTMODSEQ for a later view. A view never
//!   lowers its own value.
//! * The view's own changes count at once: [`Mailbox::set_flags`] and
//!   [`Mailbox::move_new_to_cur`] stat each renamed file for its new
//!   value, and after them and [`Mailbox::expunge`] the directories are
//!   stat'ed again and their times taken into HIGHESTMODSEQ, but only if
//!   no one else changed the directories since the view last looked:
//!   otherwise that waits for the next refresh, which also shows what
//!   the others changed (taking it earlier would cover changes the view
//!   has not reported).
//!
//! Limits of the scheme:
//!
//! * The values are wall-clock times. If the clock is set back, later
//!   changes get lower values than earlier ones, and a client that asks
//!   for changes since a value it saw before misses them until the clock
//!   has caught up (a view keeps its own HIGHESTMODSEQ from decreasing; a
//!   new view does not know the old value).
//! * Two changes within one tick of the file system's clock get the same
//!   value. Recent Linux kernels give ext4, XFS, Btrfs and tmpfs
//!   fine-grained times once a time has been read ("multigrain"
//!   timestamps), which keeps a change after a scan apart from it; older
//!   kernels and other file systems use a coarse clock (a scheduler tick,
//!   1 to 10 ms), so a change in the same tick as the scan that reported
//!   a HIGHESTMODSEQ can be missed by a client resynchronising from it.
//! * Anything that sets ctime without changing flags makes a message
//!   look changed to views that stat it afterwards. The common case is
//!   COPY and MOVE into another folder, whose hard link to the source
//!   file sets the source's ctime; chmod, chown and extended attributes
//!   do too. The client is told about a change that was none: spurious,
//!   and harmless (it fetches flags it already had).
//! * A file system that does not set ctime on rename (POSIX leaves it
//!   open; some network and FUSE file systems) keeps a message's value
//!   through flag changes, so clients resynchronising with CHANGEDSINCE
//!   miss those; the flags themselves are still read right.
//! * A change another process made just before one of this view's own
//!   and not yet seen by a refresh can have a lower value than the one
//!   the view reports for its own change; the next refresh shows it (with
//!   that lower value) to this session, but a client that saved the
//!   higher value and reconnects elsewhere may miss it.

use crate::fasthash::{FastMap, FastSet};
use std::cell::OnceCell;
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::dir::Type;
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{FileStat, Mode, fstat};
use nix::unistd::{UnlinkatFlags, fsync, unlinkat};

use crate::cache::MetadataCache;
use crate::error::{Error, errno_err, io_err};
use crate::flags::{Flags, INFO_PREFIX};
use crate::fsutil::{FileStamp, Kind, for_each_entry, kind, open_dir_at, stat_at};
use crate::index;
use crate::maildir::Maildir;
use crate::metadata::{Metadata, parse_metadata};
use crate::name::size_field;
use crate::pop3::pop3_uidl;
use crate::quota::{self, signed};
use crate::uidlist::{Record, UidList, base_name};
use crate::uidlock::{self, LockTiming};
use crate::wire::{MessageReader, wire_size_of};

/// How many times a scan is repeated while the directories change under it.
const SCAN_ATTEMPTS: u32 = 3;

/// A directory modified more recently than this before a scan may have
/// been modified again during it within the same timestamp tick.
const SETTLE_TIME: Duration = Duration::from_secs(1);

/// How many times an operation follows a message that keeps being renamed.
const FOLLOW_ATTEMPTS: u32 = 5;

/// The flags message files are opened with.
const FILE_FLAGS: OFlag = OFlag::O_RDONLY
    .union(OFlag::O_NOFOLLOW)
    .union(OFlag::O_NONBLOCK)
    .union(OFlag::O_CLOEXEC);

/// Location - which of a Maildir's directories holds a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Location {
    /// `new/`: delivered, not yet seen by any session (IMAP's `\Recent`).
    New,
    /// `cur/`: seen by a session; flags are in its name.
    Cur,
}

impl Location {
    /// dir_name - the directory's name.
    pub fn dir_name(self) -> &'static str {
        match self {
            Location::New => "new",
            Location::Cur => "cur",
        }
    }
}

/// MessageEntry - one message of a [`Mailbox`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MessageEntry {
    /// The IMAP UID; with the mailbox's UIDVALIDITY it names this message
    /// for good.
    pub uid: u32,
    /// The file's current name, flags suffix included
    /// ([`MessageEntry::file_name`]).
    pub(crate) name: Box<str>,
    /// The length of its base name ([`MessageEntry::base`]).
    pub(crate) base_len: usize,
    /// Which directory the file is in.
    pub location: Location,
    /// The flags in the file name.
    pub flags: Flags,
    /// Bytes in the file (LF line endings): `,S=` in the name, else stat.
    pub size: u64,
    /// Bytes on the wire (CRLF line endings), what POP3 LIST and IMAP
    /// RFC822.SIZE report and what [`Mailbox::open_message`] yields:
    /// `,W=` in the name, else the UID list's `W` field, else counted.
    pub wire_size: u64,
    /// IMAP's INTERNALDATE: the file's modification time, as Dovecot
    /// reads it for Maildir (delivery leaves it at the time of delivery,
    /// [`Maildir::append`] sets the client's date, a copy keeps it).
    pub internal_date: SystemTime,
    /// IMAP's MODSEQ (RFC 7162 CONDSTORE): the file's status change time
    /// (ctime) in microseconds since the Unix epoch, at least 1, as of
    /// the scan that found the file new or renamed, or of this view's own
    /// last rename of it. It grows with every flag change, by anyone; the
    /// module notes say how, and where that falls short.
    pub modseq: u64,
    /// A POP3 UIDL saved in the UID list (the `P` field, from a migration
    /// into Dovecot); [`Mailbox::pop3_uidl`] prefers it.
    pub saved_pop3_uidl: Option<String>,
}

impl MessageEntry {
    /// base - the file's base name: its name without the `:2,` flags
    /// suffix, which stays the same as the message moves and its flags
    /// change.
    pub fn base(&self) -> &str {
        self.name.get(..self.base_len).unwrap_or(&self.name)
    }

    /// file_name - the file's current name, flags suffix included.
    pub fn file_name(&self) -> &str {
        &self.name
    }
}

/// Mailbox - a Maildir opened for reading, with UIDs assigned.
///
/// Blocking: use it from `spawn_blocking` or a blocking thread.
#[derive(Debug)]
pub struct Mailbox {
    /// The Maildir's directory.
    path: PathBuf,
    /// Its mailbox's root, where the quota file is.
    root: PathBuf,
    /// The Maildir's directory, open.
    dir: OwnedFd,
    /// `new/`, open (again after [`Mailbox::release_descriptors`]).
    new: OnceCell<OwnedFd>,
    /// `cur/`, likewise.
    cur: OnceCell<OwnedFd>,
    /// UIDVALIDITY from the UID list at the last scan.
    uidvalidity: u32,
    /// The next UID from the UID list at the last scan.
    next_uid: u32,
    /// The messages at the last scan, ascending by UID.
    messages: Vec<MessageEntry>,
    /// Lock waiting times (shorter in tests).
    timing: LockTiming,
    /// The metadata cache, read at the first [`Mailbox::metadata`].
    cache: Option<MetadataCache>,
    /// The modification times of `new/` and `cur/` that the view's state
    /// accounts for: taken at the start of the last scan, or after the
    /// view's own change when nobody else had changed them.
    known_dirs: [SystemTime; 2],
    /// For `new/` and `cur/`: whether the view's messages there are
    /// exactly the directory's files as of `known_dirs` (the last scan
    /// saw it settled, and the view has not changed it since), so that
    /// while its time stays the same it need not be listed again.
    complete: [bool; 2],
    /// The UID list the view was built from.
    uidlist: Option<FileStamp>,
    /// The snapshot in the index file, as far as this view knows (loaded
    /// or written by it).
    saved: Option<index::Head>,
    /// HIGHESTMODSEQ as of the last scan and the view's own changes.
    highest_modseq: u64,
}

impl Mailbox {
    /// open - open `maildir` and scan it (see the module notes): every
    /// message in `new/` and `cur/` gets its UID, new ones under the UID
    /// list lock.
    ///
    /// The Maildir must exist (a missing one is an [`Error::Io`] with
    /// NotFound; [`Maildir::ensure`] creates it). A UID list lock held
    /// too long is [`Error::LockTimeout`], temporary. Symbolic links at
    /// or below the Maildir's root are refused ([`Error::Symlink`]) or,
    /// for message files, ignored.
    pub fn open(maildir: &Maildir) -> Result<Mailbox, Error> {
        Mailbox::open_with(maildir, LockTiming::DEFAULT)
    }

    /// open_with - [`Mailbox::open`] with other lock timing.
    pub(crate) fn open_with(maildir: &Maildir, timing: LockTiming) -> Result<Mailbox, Error> {
        let path = maildir.path().to_path_buf();
        let dir = maildir.open()?;
        let new = open_dir_at(dir.as_fd(), OsStr::new("new"), &path.join("new"))?;
        let cur = open_dir_at(dir.as_fd(), OsStr::new("cur"), &path.join("cur"))?;
        let mut mailbox = Mailbox {
            path,
            root: maildir.root().to_path_buf(),
            dir,
            new: OnceCell::from(new),
            cur: OnceCell::from(cur),
            uidvalidity: 0,
            next_uid: 0,
            messages: Vec::new(),
            timing,
            cache: None,
            known_dirs: [UNIX_EPOCH; 2],
            complete: [false; 2],
            uidlist: None,
            saved: None,
            highest_modseq: 0,
        };
        if let Some((head, messages)) = index::load(mailbox.dir.as_fd(), &mailbox.path) {
            // What the last complete scan found: the refresh below finds
            // out how much of it still holds.
            mailbox.uidvalidity = head.uidvalidity;
            mailbox.next_uid = head.next_uid;
            mailbox.highest_modseq = head.highest_modseq;
            mailbox.uidlist = Some(head.uidlist);
            mailbox.known_dirs = head.dirs;
            mailbox.complete = [true; 2];
            mailbox.messages = messages;
            mailbox.saved = Some(head);
        }
        mailbox.refresh()?;
        Ok(mailbox)
    }

    /// path - the Maildir's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// uidvalidity - the folder's UIDVALIDITY: UIDs are only comparable
    /// across sessions while it stays the same.
    pub fn uidvalidity(&self) -> u32 {
        self.uidvalidity
    }

    /// next_uid - the UID the next new message will get (IMAP UIDNEXT),
    /// as of the last scan.
    pub fn next_uid(&self) -> u32 {
        self.next_uid
    }

    /// highest_modseq - IMAP's HIGHESTMODSEQ (RFC 7162): the largest of
    /// the messages' [`MessageEntry::modseq`] and the modification times
    /// (microseconds) of `new/` and `cur/`, as of the last scan and this
    /// view's own changes since. It never decreases in a view, and an
    /// expunge (the directory's time) keeps it from decreasing for later
    /// views; the `mailbox` module notes give its limits. At least 1.
    pub fn highest_modseq(&self) -> u64 {
        self.highest_modseq.max(1)
    }

    /// messages - the messages as of the last scan, ascending by UID.
    pub fn messages(&self) -> &[MessageEntry] {
        &self.messages
    }

    /// message - the message with this UID, if the view has it.
    pub fn message(&self, uid: u32) -> Option<&MessageEntry> {
        self.index_of(uid).and_then(|i| self.messages.get(i))
    }

    /// pop3_uidl - the POP3 unique-id of the message with this UID: the
    /// one saved in the UID list if any, else Dovecot's default
    /// `%08Xu%08Xv` ([`pop3_uidl`](crate::pop3_uidl)). None if the view
    /// has no such message.
    pub fn pop3_uidl(&self, uid: u32) -> Option<String> {
        let entry = self.message(uid)?;
        Some(match &entry.saved_pop3_uidl {
            Some(saved) => saved.clone(),
            None => pop3_uidl(entry.uid, self.uidvalidity),
        })
    }

    /// refresh - scan again: pick up new mail (with new UIDs), renamed
    /// files (new flags, and a new [`MessageEntry::modseq`] read with one
    /// stat each), and messages expunged elsewhere (dropped from the
    /// view). Files whose names did not change are not stat'ed again.
    pub fn refresh(&mut self) -> Result<(), Error> {
        if self.complete == [true; 2]
            && self.uidlist.is_some()
            && self.dir_times()? == self.known_dirs
            && UidList::stamp(self.dir.as_fd(), &self.path)? == self.uidlist
        {
            // Neither directory nor the UID list changed since the view
            // was complete: a scan would find the same.
            return Ok(());
        }
        let (listed, mut stamp) = UidList::read_stamped(self.dir.as_fd(), &self.path, false)?;
        let mut scan = self.scan()?;
        let index: FastMap<&str, &Record> = listed
            .iter()
            .flat_map(|l| &l.records)
            .map(|r| (r.base.as_str(), r))
            .collect();
        let mut computed = false;
        let mut vanished = Vec::new();
        for (base, found) in &mut scan.files {
            if found.wire_size.is_some() {
                continue;
            }
            let cached = index
                .get(base.as_str())
                .and_then(|r| r.ext_value('W'))
                .and_then(|w| w.parse().ok());
            if cached.is_some() {
                found.wire_size = cached;
                continue;
            }
            match self.count_wire_size(found)? {
                Some(size) => {
                    found.wire_size = Some(size);
                    found.wire_size_counted = true;
                    computed = true;
                }
                None => vanished.push(base.clone()),
            }
        }
        if !vanished.is_empty() {
            // Renamed or removed since the listing: next time.
            scan.stable = false;
            for base in &vanished {
                scan.files.remove(base);
            }
        }
        let need_write = match &listed {
            None => true,
            Some(list) => {
                computed
                    || scan.files.keys().any(|b| !index.contains_key(b.as_str()))
                    || (scan.stable
                        && list
                            .records
                            .iter()
                            .any(|r| !scan.files.contains_key(&r.base)))
            }
        };
        drop(index);
        let list = match listed {
            Some(list) if !need_write => list,
            _ => {
                let (list, written) = self.update_list(listed.as_ref(), &scan)?;
                stamp = written;
                list
            }
        };
        self.uidvalidity = list.uidvalidity;
        self.next_uid = list.next_uid;
        self.messages = list
            .records
            .iter()
            .filter_map(|r| {
                let found = scan.files.get(&r.base)?;
                Some(Mailbox::entry(r, found))
            })
            .collect();
        let highest = self
            .messages
            .iter()
            .map(|m| m.modseq)
            .chain(scan.dir_times.iter().map(|&t| micros(t)))
            .max()
            .unwrap_or(0);
        self.highest_modseq = self.highest_modseq.max(highest);
        self.known_dirs = scan.dir_times;
        self.complete = scan.complete;
        self.uidlist = stamp;
        self.save_index();
        Ok(())
    }

    /// save_index - after a scan: if it was complete and found something
    /// else than the index file holds, write the view to it. A failure
    /// (disk full, a read-only Maildir) only costs the next open a scan.
    fn save_index(&mut self) {
        let Some(uidlist) = self.uidlist else {
            return;
        };
        if self.complete != [true; 2] {
            return;
        }
        let head = index::Head {
            uidvalidity: self.uidvalidity,
            next_uid: self.next_uid,
            highest_modseq: self.highest_modseq,
            uidlist,
            dirs: self.known_dirs,
        };
        if self.saved == Some(head) {
            return;
        }
        match index::save(self.dir.as_fd(), &self.path, &head, &self.messages) {
            Ok(()) => self.saved = Some(head),
            Err(e) => tracing::debug!(error = %e, "cannot write the folder index"),
        }
    }

    /// move_new_to_cur - move the view's messages in `new/` to `cur/`
    /// (with an empty `:2,` suffix, or the flags they had), as a session
    /// does once it has shown them, then fsync both directories. UIDs stay
    /// the same. Returns how many files this call moved; one another
    /// process moved first is followed, not counted. A moved message's
    /// [`MessageEntry::modseq`] becomes the moved file's new status change
    /// time, as with [`Mailbox::set_flags`].
    pub fn move_new_to_cur(&mut self) -> Result<usize, Error> {
        let uids: Vec<u32> = self
            .messages
            .iter()
            .filter(|m| m.location == Location::New)
            .map(|m| m.uid)
            .collect();
        if uids.is_empty() {
            return Ok(0);
        }
        let dirs_before = self.dir_times().ok();
        let mut moved = 0;
        for uid in uids {
            for _ in 0..FOLLOW_ATTEMPTS {
                let Some(entry) = self.index_of(uid).and_then(|i| self.messages.get(i)) else {
                    break;
                };
                if entry.location != Location::New {
                    break;
                }
                let target = format!("{}{INFO_PREFIX}{}", entry.base(), entry.flags);
                match nix::fcntl::renameat(
                    self.dir_fd(Location::New)?,
                    entry.file_name(),
                    self.dir_fd(Location::Cur)?,
                    target.as_str(),
                ) {
                    Ok(()) => {
                        let flags = entry.flags;
                        self.set_location(uid, Location::Cur, target, flags);
                        self.note_renamed(uid);
                        moved += 1;
                        break;
                    }
                    Err(Errno::ENOENT) => {
                        if !self.follow(uid)? {
                            break;
                        }
                    }
                    Err(errno) => {
                        return Err(errno_err("rename", &self.message_path(entry))(errno));
                    }
                }
            }
        }
        if moved > 0 {
            self.note_own_change(dirs_before);
            // cur/ first: after a crash the message is then in at least one.
            fsync(self.dir_fd(Location::Cur)?)
                .map_err(errno_err("fsync directory", &self.path.join("cur")))?;
            fsync(self.dir_fd(Location::New)?)
                .map_err(errno_err("fsync directory", &self.path.join("new")))?;
        }
        Ok(moved)
    }

    /// set_flags - give the message with this UID exactly these flags:
    /// rename its file to `BASE:2,FLAGS` in `cur/` (letters in ASCII
    /// order). A file renamed meanwhile by someone else is found again
    /// and renamed from there (the last writer wins).
    ///
    /// Ok(false) if the message is gone (expunged elsewhere; it stays in
    /// the view until [`Mailbox::refresh`]). A UID the view does not have
    /// is [`Error::UnknownUid`]. The directory is not fsynced: a flag
    /// change lost in a crash is not worth a disk flush per change.
    ///
    /// After a rename the message's [`MessageEntry::modseq`] is the
    /// renamed file's new status change time (stat'ed at once, so the
    /// caller can report the new MODSEQ) and
    /// [`Mailbox::highest_modseq`] takes it in. Setting the flags the
    /// file already has renames nothing and changes neither.
    pub fn set_flags(&mut self, uid: u32, flags: Flags) -> Result<bool, Error> {
        for _ in 0..FOLLOW_ATTEMPTS {
            let entry = self.entry_for(uid)?;
            let target = format!("{}{INFO_PREFIX}{flags}", entry.base());
            if entry.location == Location::Cur && entry.file_name() == target {
                self.set_location(uid, Location::Cur, target, flags);
                return Ok(true);
            }
            let dirs_before = self.dir_times().ok();
            match nix::fcntl::renameat(
                self.dir_fd(entry.location)?,
                entry.file_name(),
                self.dir_fd(Location::Cur)?,
                target.as_str(),
            ) {
                Ok(()) => {
                    self.set_location(uid, Location::Cur, target, flags);
                    self.note_renamed(uid);
                    self.note_own_change(dirs_before);
                    return Ok(true);
                }
                Err(Errno::ENOENT) => {
                    if !self.follow(uid)? {
                        return Ok(false);
                    }
                }
                Err(errno) => return Err(errno_err("rename", &self.message_path(&entry))(errno)),
            }
        }
        Err(self.still_moving(uid))
    }

    /// expunge - remove the files of these messages and drop them from the
    /// view, then fsync the directories touched. A file already gone is
    /// not an error (someone else expunged it); one renamed meanwhile is
    /// found and removed. UIDs the view does not have are ignored.
    /// Returns how many files this call removed.
    ///
    /// The UID list keeps the lines until the next scan that finds the
    /// files gone; their UIDs are never given again.
    /// [`Mailbox::highest_modseq`] does not decrease: it keeps the removed
    /// messages' values and takes in the directories' new modification
    /// times (when nobody else changed them meanwhile; see the module
    /// notes).
    pub fn expunge(&mut self, uids: &[u32]) -> Result<usize, Error> {
        if uids.is_empty() {
            return Ok(0);
        }
        let dirs_before = self.dir_times().ok();
        let mut removed = 0;
        let mut removed_bytes = 0;
        let mut dropped = FastSet::default();
        let mut touched = FastSet::default();
        for &uid in uids {
            for _ in 0..FOLLOW_ATTEMPTS {
                let Some(entry) = self.index_of(uid).and_then(|i| self.messages.get(i)) else {
                    break;
                };
                match unlinkat(
                    self.dir_fd(entry.location)?,
                    entry.file_name(),
                    UnlinkatFlags::NoRemoveDir,
                ) {
                    Ok(()) => {
                        removed += 1;
                        removed_bytes += signed(entry.size);
                        touched.insert(entry.location);
                        dropped.insert(uid);
                        break;
                    }
                    Err(Errno::ENOENT) => {
                        if !self.follow(uid)? {
                            dropped.insert(uid);
                            break;
                        }
                    }
                    Err(errno) => {
                        let e = errno_err("remove", &self.message_path(entry))(errno);
                        self.messages.retain(|m| !dropped.contains(&m.uid));
                        quota::record(&self.root, -removed_bytes, -signed(removed as u64));
                        return Err(e);
                    }
                }
            }
        }
        self.messages.retain(|m| !dropped.contains(&m.uid));
        quota::record(&self.root, -removed_bytes, -signed(removed as u64));
        if removed > 0 {
            // The messages' values stay in HIGHESTMODSEQ; the directories'
            // new times carry them to later views.
            self.note_own_change(dirs_before);
        }
        for location in touched {
            fsync(self.dir_fd(location)?).map_err(errno_err(
                "fsync directory",
                &self.path.join(location.dir_name()),
            ))?;
        }
        Ok(removed)
    }

    /// open_stored - the message's file as stored (LF line endings).
    /// None if it is gone. A UID the view does not have is
    /// [`Error::UnknownUid`].
    pub fn open_stored(&mut self, uid: u32) -> Result<Option<File>, Error> {
        for _ in 0..FOLLOW_ATTEMPTS {
            let entry = self.entry_for(uid)?;
            match nix::fcntl::openat(
                self.dir_fd(entry.location)?,
                entry.file_name(),
                FILE_FLAGS,
                Mode::empty(),
            ) {
                Ok(fd) => {
                    let st = fstat(&fd).map_err(errno_err("stat", &self.message_path(&entry)))?;
                    if kind(&st) != Kind::File {
                        return Err(Error::NotARegularFile {
                            path: self.message_path(&entry),
                        });
                    }
                    return Ok(Some(File::from(fd)));
                }
                Err(Errno::ENOENT) => {
                    if !self.follow(uid)? {
                        return Ok(None);
                    }
                }
                Err(Errno::ELOOP) => {
                    return Err(Error::Symlink {
                        path: self.message_path(&entry),
                    });
                }
                Err(errno) => return Err(errno_err("open", &self.message_path(&entry))(errno)),
            }
        }
        Err(self.still_moving(uid))
    }

    /// open_message - the message in wire form (CRLF line endings), what
    /// POP3 RETR and IMAP FETCH send: exactly
    /// [`MessageEntry::wire_size`] bytes, unless a name's `,W=` lies.
    /// None if it is gone. A UID the view does not have is
    /// [`Error::UnknownUid`].
    pub fn open_message(&mut self, uid: u32) -> Result<Option<MessageReader<File>>, Error> {
        Ok(self.open_stored(uid)?.map(MessageReader::new))
    }

    /// metadata - the [`Metadata`] (ENVELOPE, BODYSTRUCTURE, part
    /// spans) of the message with this UID: from the metadata cache
    /// (`postern.cache`, the `cache` module) when it holds an entry made
    /// for this very file (same UID, base name and size), else computed
    /// by reading and parsing the file and remembered for
    /// [`Mailbox::flush_metadata`].
    ///
    /// None if the message is gone (expunged elsewhere). A UID the view
    /// does not have is [`Error::UnknownUid`]. A missing, stale or
    /// damaged cache is never an error: it only costs parsing. Spans in
    /// the result are offsets in the stored file ([`Mailbox::open_stored`]).
    pub fn metadata(&mut self, uid: u32) -> Result<Option<Arc<Metadata>>, Error> {
        let Some(index) = self.index_of(uid) else {
            return Err(Error::UnknownUid {
                path: self.path.clone(),
                uid,
            });
        };
        if self
            .cache
            .as_ref()
            .is_none_or(|c| c.uidvalidity() != self.uidvalidity)
        {
            self.cache = Some(MetadataCache::load(
                self.dir.as_fd(),
                &self.path,
                self.uidvalidity,
            ));
        }
        // A hit (the usual case in a large SEARCH) copies nothing.
        if let (Some(cache), Some(entry)) = (self.cache.as_mut(), self.messages.get(index))
            && let Some(found) = cache.get(uid, entry.base(), entry.size)
        {
            return Ok(Some(found));
        }
        let entry = self.entry_for(uid)?;
        let Some(file) = self.open_stored(uid)? else {
            return Ok(None);
        };
        let mut bytes = Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
        file.take(crate::cache::MAX_MESSAGE_LEN)
            .read_to_end(&mut bytes)
            .map_err(io_err("read", &self.message_path(&entry)))?;
        let metadata = Arc::new(parse_metadata(&bytes));
        if let Some(cache) = self.cache.as_mut() {
            cache.insert(uid, entry.base(), entry.size, Arc::clone(&metadata));
        }
        Ok(Some(metadata))
    }

    /// flush_metadata - write the metadata computed since the last flush
    /// to the cache file, and drop entries of messages no longer in the
    /// view (expunged). Cheap when there is nothing to write, so a
    /// session can call it after every command that fetched metadata;
    /// entries not flushed are lost when the Mailbox is dropped (they are
    /// computed again next time). Returns how many entries were written.
    ///
    /// Takes the cache's own lock (not the UID list lock). An error (disk
    /// full, a read-only Maildir) leaves the file as it was; the session
    /// can go on without the cache.
    pub fn flush_metadata(&mut self) -> Result<usize, Error> {
        let Some(cache) = self.cache.as_mut() else {
            return Ok(0);
        };
        if cache.uidvalidity() != self.uidvalidity {
            // Made for UIDs that no longer mean the same messages.
            self.cache = None;
            return Ok(0);
        }
        let messages = &self.messages;
        cache.flush(self.dir.as_fd(), &self.path, |uid| {
            messages.binary_search_by_key(&uid, |m| m.uid).is_ok()
        })
    }

    // ---- internals ----

    /// index_of - the position of `uid` in the view.
    fn index_of(&self, uid: u32) -> Option<usize> {
        self.messages.binary_search_by_key(&uid, |m| m.uid).ok()
    }

    /// entry_for - a copy of the message's entry, or [`Error::UnknownUid`].
    fn entry_for(&self, uid: u32) -> Result<MessageEntry, Error> {
        self.message(uid).cloned().ok_or_else(|| Error::UnknownUid {
            path: self.path.clone(),
            uid,
        })
    }

    /// dir_fd - the open directory for a location.
    fn dir_fd(&self, location: Location) -> Result<BorrowedFd<'_>, Error> {
        let cell = match location {
            Location::New => &self.new,
            Location::Cur => &self.cur,
        };
        if let Some(fd) = cell.get() {
            return Ok(fd.as_fd());
        }
        let name = location.dir_name();
        let fd = open_dir_at(self.dir.as_fd(), OsStr::new(name), &self.path.join(name))?;
        Ok(cell.get_or_init(|| fd).as_fd())
    }

    /// release_descriptors - close `new/` and `cur/` until the view next
    /// needs them (it opens them again then, with the same checks), so a
    /// view kept for long without use (an IMAP session in IDLE) holds one
    /// descriptor instead of three.
    pub fn release_descriptors(&mut self) {
        self.new = OnceCell::new();
        self.cur = OnceCell::new();
    }

    /// set_location - record that the message now has this name (with
    /// the same base name).
    fn set_location(&mut self, uid: u32, location: Location, file_name: String, flags: Flags) {
        self.complete = [false; 2];
        if let Some(entry) = self.index_of(uid).and_then(|i| self.messages.get_mut(i)) {
            entry.location = location;
            entry.base_len = base_name(&file_name).len();
            entry.name = file_name.into();
            entry.flags = flags;
        }
    }

    /// message_path - the full path of a message's file (Maildir,
    /// directory, name), for messages and errors.
    pub fn message_path(&self, entry: &MessageEntry) -> PathBuf {
        self.path
            .join(entry.location.dir_name())
            .join(entry.file_name())
    }

    /// note_renamed - after this view renamed the message's file: take
    /// its new status change time as its mod-sequence (and into
    /// HIGHESTMODSEQ); the next scan need not stat it under this name. If
    /// the file is gone already (renamed or removed again by someone
    /// else), `cur/`'s modification time stands in: the rename into it
    /// set that time, and the next refresh stats the file under its new
    /// name.
    fn note_renamed(&mut self, uid: u32) {
        let Some(entry) = self.message(uid) else {
            return;
        };
        let stat = self
            .dir_fd(entry.location)
            .and_then(|dir| stat_at(dir, entry.file_name(), &self.message_path(entry)));
        let modseq = match stat {
            Ok(Some(st)) if kind(&st) == Kind::File => modseq_of(&st),
            other => {
                if let Err(e) = other {
                    tracing::warn!(error = %e, "cannot stat renamed message; using its directory's time");
                }
                match self.dir_fd(Location::Cur).map(fstat) {
                    Ok(Ok(st)) => micros(mtime(&st)).max(entry.modseq),
                    _ => return,
                }
            }
        };
        if let Some(entry) = self.index_of(uid).and_then(|i| self.messages.get_mut(i)) {
            entry.modseq = modseq;
        }
        self.highest_modseq = self.highest_modseq.max(modseq);
    }

    /// note_own_change - after this view changed `new/` or `cur/`: if the
    /// directories were as the view knew them just before (`before`, from
    /// [`Mailbox::dir_times`]), only this view changed them, and their new
    /// times go into HIGHESTMODSEQ. Otherwise someone else changed them
    /// too, and taking their times would cover changes the view has not
    /// seen: that waits for the next refresh.
    fn note_own_change(&mut self, before: Option<[SystemTime; 2]>) {
        // The new times are not settled: a change by someone else in the
        // same tick would not show in them, so the next refresh lists.
        self.complete = [false; 2];
        if before != Some(self.known_dirs) {
            return;
        }
        let Ok(after) = self.dir_times() else {
            return;
        };
        self.known_dirs = after;
        for t in after {
            self.highest_modseq = self.highest_modseq.max(micros(t));
        }
    }

    /// follow - find the message's file again after its name went away;
    /// false if it is gone.
    fn follow(&mut self, uid: u32) -> Result<bool, Error> {
        let Some(base) = self.message(uid).map(|m| m.base().to_owned()) else {
            return Ok(false);
        };
        let mut found = None;
        // Twice: a listing can miss a file renamed while it runs.
        for _ in 0..2 {
            for location in [Location::New, Location::Cur] {
                let path = self.path.join(location.dir_name());
                for_each_name(self.dir_fd(location)?, &path, |name, _| {
                    if base_name(name) == base {
                        found = Some((location, name.to_owned()));
                    }
                })?;
            }
            if found.is_some() {
                break;
            }
        }
        match found {
            Some((location, name)) => {
                let flags = Flags::from_file_name(&name);
                self.set_location(uid, location, name, flags);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// still_moving - the error for a message renamed on every attempt.
    fn still_moving(&self, uid: u32) -> Error {
        let path = self
            .message(uid)
            .map_or_else(|| self.path.clone(), |m| self.message_path(m));
        Error::Io {
            op: "follow renamed message",
            path,
            source: std::io::Error::from(Errno::ENOENT),
        }
    }

    /// scan - list `new/` then `cur/`, again while they change under us.
    /// A directory the view holds complete and whose time did not change
    /// is taken from the view instead of listed.
    fn scan(&self) -> Result<Scan, Error> {
        let mut files = FastMap::default();
        let mut dir_times = [UNIX_EPOCH; 2];
        // What the view knows by base name, so that a listed file whose
        // name did not change need not be stat'ed.
        let mut known: Option<FastMap<&str, &MessageEntry>> = None;
        for _ in 0..SCAN_ATTEMPTS {
            let before = self.dir_times()?;
            dir_times = before;
            files = FastMap::default();
            let unchanged = [0, 1].map(|i| {
                self.complete.get(i) == Some(&true) && before.get(i) == self.known_dirs.get(i)
            });
            for (location, unchanged) in [Location::New, Location::Cur].into_iter().zip(unchanged) {
                if unchanged {
                    for m in self.messages.iter().filter(|m| m.location == location) {
                        let found = Found::from_entry(m);
                        files.insert(found.base.clone(), found);
                    }
                } else {
                    let known = known.get_or_insert_with(|| {
                        self.messages.iter().map(|m| (m.base(), m)).collect()
                    });
                    self.list(location, known, &mut files)?;
                }
            }
            let after = self.dir_times()?;
            if before == after {
                let settled = SystemTime::now()
                    .checked_sub(SETTLE_TIME)
                    .unwrap_or(UNIX_EPOCH);
                let complete = before.map(|t| t <= settled);
                return Ok(Scan {
                    files,
                    stable: complete == [true; 2],
                    complete,
                    dir_times,
                });
            }
        }
        Ok(Scan {
            files,
            stable: false,
            complete: [false; 2],
            dir_times,
        })
    }

    /// dir_times - the modification times of `new/` and `cur/`.
    fn dir_times(&self) -> Result<[SystemTime; 2], Error> {
        let new = fstat(self.dir_fd(Location::New)?)
            .map_err(errno_err("stat", &self.path.join("new")))?;
        let cur = fstat(self.dir_fd(Location::Cur)?)
            .map_err(errno_err("stat", &self.path.join("cur")))?;
        Ok([mtime(&new), mtime(&cur)])
    }

    /// list - add the message files of one directory to `files`; `known`
    /// is what the view knows of files by base name.
    fn list(
        &self,
        location: Location,
        known: &FastMap<&str, &MessageEntry>,
        files: &mut FastMap<String, Found>,
    ) -> Result<(), Error> {
        let dir = self.dir_fd(location)?;
        let path = self.path.join(location.dir_name());
        let mut names = Vec::new();
        for_each_name(dir, &path, |name, file_type| {
            names.push((name.to_owned(), file_type));
        })?;
        for (name, file_type) in names {
            let base = base_name(&name);
            let time = delivery_time(base);
            let mut size = size_field(&name, 'S');
            let seen = known.get(base);
            // A file keeps its modification time through renames, but a
            // rename (a flag change) sets its status change time.
            let unchanged = seen
                .filter(|s| s.location == location && s.file_name() == name.as_str())
                .map(|s| (s.internal_date, s.modseq));
            let (mtime_found, modseq) = match unchanged {
                Some(unchanged) if size.is_some() && file_type.is_some() => unchanged,
                _ => {
                    let Some(st) = stat_at(dir, name.as_str(), &path.join(&name))? else {
                        continue;
                    };
                    if kind(&st) != Kind::File {
                        continue;
                    }
                    size = size.or_else(|| u64::try_from(st.st_size).ok());
                    (
                        seen.map_or_else(|| mtime(&st), |s| s.internal_date),
                        modseq_of(&st),
                    )
                }
            };
            let found = Found {
                base: base.to_owned(),
                wire_size: size_field(&name, 'W')
                    .or_else(|| seen.filter(|s| s.file_name() == name).map(|s| s.wire_size)),
                wire_size_counted: false,
                flags: Flags::from_file_name(&name),
                size: size.unwrap_or(0),
                time,
                mtime: mtime_found,
                modseq,
                name,
                location,
            };
            // cur/ is listed last and wins over new/ for the same base.
            files.insert(found.base.clone(), found);
        }
        Ok(())
    }

    /// count_wire_size - read a file to count its wire size; None if it
    /// is gone.
    fn count_wire_size(&self, found: &Found) -> Result<Option<u64>, Error> {
        let path = self.path.join(found.location.dir_name()).join(&found.name);
        let fd = match nix::fcntl::openat(
            self.dir_fd(found.location)?,
            found.name.as_str(),
            FILE_FLAGS,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::ELOOP) => return Err(Error::Symlink { path }),
            Err(errno) => return Err(errno_err("open", &path)(errno)),
        };
        let mut file = File::from(fd);
        wire_size_of(&mut file)
            .map(Some)
            .map_err(io_err("read", &path))
    }

    /// update_list - under the lock, bring the UID list up to date with a
    /// scan and write it; the list and the written file's stamp. `listed`
    /// is what we read before the scan.
    fn update_list(
        &self,
        listed: Option<&UidList>,
        scan: &Scan,
    ) -> Result<(UidList, Option<FileStamp>), Error> {
        let _lock = uidlock::lock(self.dir.as_fd(), &self.path, self.timing)?;
        let mut list =
            UidList::read(self.dir.as_fd(), &self.path, true)?.unwrap_or_else(UidList::new);
        if scan.stable {
            // Only lines that existed before the scan began can be judged
            // by it; later ones may be for files delivered after it.
            let judged_below = match listed {
                Some(old) if old.uidvalidity == list.uidvalidity => old.next_uid,
                _ => 0,
            };
            let before = list.records.len();
            list.records
                .retain(|r| r.uid >= judged_below || scan.files.contains_key(&r.base));
            if list.records.len() < before {
                tracing::debug!(path = %self.path.display(), dropped = before - list.records.len(), "expunged messages dropped from UID list");
            }
        }
        let known: FastSet<&str> = list.records.iter().map(|r| r.base.as_str()).collect();
        let mut fresh: Vec<&Found> = scan
            .files
            .values()
            .filter(|f| !known.contains(f.base.as_str()))
            .collect();
        drop(known);
        fresh.sort_by(|a, b| (a.sort_time(), &a.base).cmp(&(b.sort_time(), &b.base)));
        for found in fresh {
            if list.assign(found.base.clone()).is_none() {
                return Err(Error::UidsExhausted {
                    path: self.path.clone(),
                });
            }
        }
        for record in &mut list.records {
            if record.ext_value('W').is_some() {
                continue;
            }
            if let Some(found) = scan.files.get(&record.base)
                && found.wire_size_counted
                && let Some(size) = found.wire_size
            {
                record.set_ext('W', &size.to_string());
            }
        }
        list.write(self.dir.as_fd(), &self.path)?;
        // Still under the lock: nobody else can have replaced it yet.
        let stamp = UidList::stamp(self.dir.as_fd(), &self.path)?;
        Ok((list, stamp))
    }

    /// entry - the view's entry for a list line and its file.
    fn entry(record: &Record, found: &Found) -> MessageEntry {
        MessageEntry {
            uid: record.uid,
            name: found.name.as_str().into(),
            base_len: found.base.len(),
            location: found.location,
            flags: found.flags,
            size: found.size,
            wire_size: found.wire_size.unwrap_or(found.size),
            internal_date: found.mtime,
            modseq: found.modseq,
            saved_pop3_uidl: record.ext_value('P').map(str::to_owned),
        }
    }
}

/// Scan - what one listing of `new/` and `cur/` found.
#[derive(Debug)]
struct Scan {
    /// The message files by base name.
    files: FastMap<String, Found>,
    /// Whether the directories were quiet during the scan, so that a
    /// message not found is really gone.
    stable: bool,
    /// For `new/` and `cur/`: whether the directory was quiet during the
    /// scan and for [`SETTLE_TIME`] before it, so that while its time
    /// stays the same its files stay those found.
    complete: [bool; 2],
    /// The modification times of `new/` and `cur/` when the (last
    /// attempt at the) scan began: every change before them is in
    /// `files`, unless the scan was unstable.
    dir_times: [SystemTime; 2],
}

/// Found - one message file found by a scan.
#[derive(Debug, Clone)]
struct Found {
    /// Its name.
    name: String,
    /// Its base name.
    base: String,
    /// Its directory.
    location: Location,
    /// Its flags.
    flags: Flags,
    /// Its size as stored.
    size: u64,
    /// Its wire size, once known.
    wire_size: Option<u64>,
    /// Whether `wire_size` was counted by reading the file (and is worth
    /// keeping in the UID list).
    wire_size_counted: bool,
    /// Seconds and microseconds from the name, if it starts with them.
    time: Option<(u64, u32)>,
    /// The file's modification time: the internal date.
    mtime: SystemTime,
    /// The file's status change time in microseconds: the mod-sequence.
    modseq: u64,
}

impl Found {
    /// from_entry - a view's message as a scan would find it again.
    fn from_entry(m: &MessageEntry) -> Found {
        let base = m.base();
        Found {
            name: m.file_name().to_owned(),
            base: base.to_owned(),
            location: m.location,
            flags: m.flags,
            size: m.size,
            wire_size: Some(m.wire_size),
            wire_size_counted: false,
            time: delivery_time(base),
            mtime: m.internal_date,
            modseq: m.modseq,
        }
    }

    /// sort_time - the key that orders new messages for UIDs.
    fn sort_time(&self) -> (u64, u32) {
        match self.time {
            Some(t) => t,
            None => self
                .mtime
                .duration_since(UNIX_EPOCH)
                .map(|d| (d.as_secs(), d.subsec_micros()))
                .unwrap_or((0, 0)),
        }
    }
}

/// delivery_time - the seconds (and `M` microseconds) a Maildir name
/// starts with: `1276528487.M364837P9451.host`.
fn delivery_time(base: &str) -> Option<(u64, u32)> {
    let (secs, rest) = base.split_once('.')?;
    if secs.is_empty() || !secs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = secs.parse().ok()?;
    let micros = rest
        .strip_prefix('M')
        .map(|r| {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            r.get(..digits).and_then(|d| d.parse().ok()).unwrap_or(0)
        })
        .unwrap_or(0);
    Some((secs, micros))
}

/// mtime - a stat result's modification time.
fn mtime(st: &FileStat) -> SystemTime {
    let secs = u64::try_from(st.st_mtime).unwrap_or(0);
    let nanos = u32::try_from(st.st_mtime_nsec).unwrap_or(0);
    UNIX_EPOCH
        .checked_add(Duration::new(secs, nanos.min(999_999_999)))
        .unwrap_or(UNIX_EPOCH)
}

/// The largest mod-sequence IMAP allows (RFC 7162: 63 bits).
const MAX_MODSEQ: u64 = i64::MAX.unsigned_abs();

/// micros - a time in microseconds since the Unix epoch as a
/// mod-sequence: at least 1 (for times at or before the epoch), at most
/// [`MAX_MODSEQ`].
fn micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_micros()).ok())
        .unwrap_or(0)
        .clamp(1, MAX_MODSEQ)
}

/// modseq_of - a stat result's status change time (ctime) as a
/// mod-sequence.
fn modseq_of(st: &FileStat) -> u64 {
    let secs = u64::try_from(st.st_ctime).unwrap_or(0);
    let nanos = u32::try_from(st.st_ctime_nsec).unwrap_or(0);
    micros(
        UNIX_EPOCH
            .checked_add(Duration::new(secs, nanos.min(999_999_999)))
            .unwrap_or(UNIX_EPOCH),
    )
}

/// for_each_name - call `f` with each candidate message file name in a
/// Maildir subdirectory (not starting with `.`, valid UTF-8, and a regular
/// file or of unknown type) and its type if the listing knows it.
fn for_each_name(
    dir: BorrowedFd<'_>,
    path: &Path,
    mut f: impl FnMut(&str, Option<Type>),
) -> Result<(), Error> {
    for_each_entry(dir, path, |bytes, file_type| {
        if bytes.first() == Some(&b'.') || matches!(file_type, Some(t) if t != Type::File) {
            return;
        }
        match std::str::from_utf8(bytes) {
            Ok(name) => f(name, file_type),
            Err(_) => {
                tracing::warn!(path = %path.join(OsStr::from_bytes(bytes)).display(), "message file name is not UTF-8; ignored");
            }
        }
    })
}

mod copy;

pub use copy::Copied;

#[cfg(test)]
mod tests;
