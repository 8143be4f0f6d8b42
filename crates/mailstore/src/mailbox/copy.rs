//! copy - IMAP COPY and MOVE: messages of a [`Mailbox`] view into
//! another folder (or the same one), with their flags, keywords and
//! internal dates, and new UIDs there (for COPYUID).
//!
//! Each message is first staged in the destination's `tmp/`: as a hard
//! link to the source file when both are on one file system (no data is
//! copied; the file, its modification time and so its internal date are
//! shared, as Dovecot does it), else as a byte-for-byte copy with the
//! source's modification time, fsynced. Then, under the destination's UID
//! list lock, the staged files are linked into `cur/` with their flags,
//! `cur/` is fsynced, and they get the next UIDs in one rewrite of the
//! list (the `append` module's commit). Either every message is copied
//! or, on an error, none is (what was published is taken back), as IMAP
//! COPY requires.
//!
//! Keywords are letters per folder, so they are carried over by name:
//! a keyword the destination does not know yet is added to its
//! `dovecot-keywords`; one it has no room for (26 in use), and a letter
//! the source's list has no name for, are dropped. Keywords added to the
//! destination's list stay there even if the copy then fails.
//!
//! MOVE ([`Mailbox::move_to`]) is COPY, then expunging the copied
//! messages in the source. Between the two a crash leaves a message in
//! both folders, never in neither.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::fstat;
use nix::unistd::linkat;

use super::{FOLLOW_ATTEMPTS, Mailbox, MessageEntry, mtime};
use crate::append::{Staged, Target, commit};
use crate::deliver::{TmpFile, copy_to_tmp};
use crate::error::{Error, errno_err};
use crate::flags::Flags;
use crate::fsutil::{Kind, kind, open_dir_at, stat_at};
use crate::keywords::Keywords;
use crate::maildir::Maildir;
use crate::name::unique_name;

/// Copied - the result of [`Mailbox::copy_to`], [`Mailbox::move_to`]
/// and [`Maildir::rename_inbox`]: IMAP's COPYUID.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Copied {
    /// The destination's UIDVALIDITY when the UIDs were given.
    pub uidvalidity: u32,
    /// (UID in the source, UID in the destination) of every message
    /// copied, ascending by source UID.
    pub uids: Vec<(u32, u32)>,
}

impl Mailbox {
    /// copy_to - copy the messages with these UIDs into `dest` (IMAP
    /// COPY): same content, flags, keywords (by name) and internal date,
    /// new UIDs there; see the module notes.
    ///
    /// UIDs may come in any order and repeat; each message is copied
    /// once, in UID order. A UID the view does not have is
    /// [`Error::UnknownUid`], before anything is done. A message another
    /// session expunged meanwhile is skipped: it is missing from the
    /// result's pairs (IMAP: the copy of the rest still happens, or the
    /// caller reports it). `dest` must exist ([`Maildir::ensure`]) and
    /// may be this very folder. On error nothing was copied. A UID list
    /// lock held too long is [`Error::LockTimeout`]. Blocking.
    pub fn copy_to(&mut self, uids: &[u32], dest: &Maildir) -> Result<Copied, Error> {
        let mut wanted = uids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        for &uid in &wanted {
            self.entry_for(uid)?;
        }
        let dest_dir = dest.open()?;
        let tmp_path = dest.path().join("tmp");
        let cur_path = dest.path().join("cur");
        let tmp_fd = open_dir_at(dest_dir.as_fd(), "tmp".as_ref(), &tmp_path)?;
        let cur_fd = open_dir_at(dest_dir.as_fd(), "cur".as_ref(), &cur_path)?;
        let letters = self.keyword_map(&wanted, dest)?;
        let mut staged = Vec::with_capacity(wanted.len());
        let mut sources = Vec::with_capacity(wanted.len());
        for uid in wanted {
            let Some((tmp, entry)) = self.stage(uid, tmp_fd.as_fd(), &tmp_path)? else {
                continue;
            };
            staged.push(Staged {
                tmp,
                size: entry.size,
                wire_size: entry.wire_size,
                flags: map_keywords(entry.flags, &letters),
            });
            sources.push(uid);
        }
        let target = Target {
            dir: dest_dir.as_fd(),
            path: dest.path(),
            root: dest.root(),
            cur: cur_fd.as_fd(),
            location: crate::Location::Cur,
        };
        let (uidvalidity, published) = commit(&target, &mut staged, self.timing)?;
        for message in staged {
            message.tmp.remove();
        }
        Ok(Copied {
            uidvalidity,
            uids: sources
                .into_iter()
                .zip(published.into_iter().map(|(_, uid)| uid))
                .collect(),
        })
    }

    /// move_to - move the messages with these UIDs into `dest` (IMAP
    /// MOVE, RFC 6851): [`Mailbox::copy_to`], then
    /// [`Mailbox::expunge`] of the messages copied, which leaves the
    /// view. Returns the copy's pairs; the source UIDs in them are the
    /// ones expunged (IMAP's EXPUNGE responses). An error while
    /// expunging is returned after the copy is complete: the messages
    /// are then in both folders, never in neither.
    pub fn move_to(&mut self, uids: &[u32], dest: &Maildir) -> Result<Copied, Error> {
        let copied = self.copy_to(uids, dest)?;
        let sources: Vec<u32> = copied.uids.iter().map(|&(source, _)| source).collect();
        self.expunge(&sources)?;
        Ok(copied)
    }

    /// keyword_map - for each source keyword letter used by these
    /// messages, the destination's letter for the same name (None: drop).
    fn keyword_map(&self, uids: &[u32], dest: &Maildir) -> Result<[Option<u8>; 26], Error> {
        let mut map = [None; 26];
        let used: Flags =
            uids.iter()
                .filter_map(|&uid| self.message(uid))
                .fold(Flags::empty(), |mut all, m| {
                    for letter in m.flags.keyword_letters() {
                        all.insert_keyword_letter(letter);
                    }
                    all
                });
        if used.keyword_letters().next().is_none() {
            return Ok(map);
        }
        let source = Keywords::load_with(&Maildir::new(self.path.clone()), self.timing)?;
        let mut target = Keywords::load_with(dest, self.timing)?;
        for letter in used.keyword_letters() {
            let Some(name) = source.name(letter) else {
                tracing::debug!(path = %self.path.display(), letter = %char::from(letter), "keyword letter without a name; not copied");
                continue;
            };
            let mapped = target.letter_for(name, true)?;
            if mapped.is_none() {
                tracing::warn!(path = %dest.path().display(), keyword = name, "no room for another keyword; not copied");
            }
            if let Some(slot) = map.get_mut(usize::from(letter - b'a')) {
                *slot = mapped;
            }
        }
        Ok(map)
    }

    /// stage - put the message `uid` into the destination's `tmp/`, as a
    /// hard link or else a copy; with the entry it was made from. None if
    /// the message is gone.
    fn stage<'t>(
        &mut self,
        uid: u32,
        tmp_fd: BorrowedFd<'t>,
        tmp_path: &Path,
    ) -> Result<Option<(TmpFile<'t>, MessageEntry)>, Error> {
        for _ in 0..FOLLOW_ATTEMPTS {
            let entry = self.entry_for(uid)?;
            let name = unique_name();
            match linkat(
                self.dir_fd(entry.location)?,
                entry.file_name(),
                tmp_fd,
                name.as_str(),
                AtFlags::empty(),
            ) {
                Ok(()) => {
                    let path = tmp_path.join(&name);
                    let tmp = TmpFile::adopt(tmp_fd, name, path);
                    // link(2) does not follow a symlink: make sure what we
                    // linked is a message file.
                    return match stat_at(tmp_fd, tmp.name.as_str(), &tmp.path)?.map(|st| kind(&st))
                    {
                        Some(Kind::File) => Ok(Some((tmp, entry))),
                        Some(Kind::Symlink) => Err(Error::Symlink {
                            path: self.message_path(&entry),
                        }),
                        _ => Err(Error::NotARegularFile {
                            path: self.message_path(&entry),
                        }),
                    };
                }
                Err(Errno::ENOENT) => {
                    if !self.follow(uid)? {
                        return Ok(None);
                    }
                }
                Err(Errno::EEXIST) => {}
                // Another file system, or none that links (EPERM also
                // when protected_hardlinks refuses): copy the bytes.
                Err(
                    Errno::EXDEV | Errno::EPERM | Errno::EMLINK | Errno::EOPNOTSUPP | Errno::ENOSYS,
                ) => return self.stage_copy(uid, tmp_fd, tmp_path),
                Err(errno) => return Err(errno_err("link", &self.message_path(&entry))(errno)),
            }
        }
        Err(self.still_moving(uid))
    }

    /// stage_copy - [`Mailbox::stage`] by copying the bytes, with the
    /// source's modification time, fsynced.
    fn stage_copy<'t>(
        &mut self,
        uid: u32,
        tmp_fd: BorrowedFd<'t>,
        tmp_path: &Path,
    ) -> Result<Option<(TmpFile<'t>, MessageEntry)>, Error> {
        let Some(mut source) = self.open_stored(uid)? else {
            return Ok(None);
        };
        // open_stored followed any rename: this entry names the file read.
        let entry = self.entry_for(uid)?;
        let st = fstat(&source).map_err(errno_err("stat", &self.message_path(&entry)))?;
        let tmp = copy_to_tmp(&mut source, mtime(&st), tmp_fd, tmp_path)?;
        Ok(Some((tmp, entry)))
    }
}

/// map_keywords - `flags` with each keyword letter replaced by its letter
/// in the destination (or dropped).
fn map_keywords(flags: Flags, letters: &[Option<u8>; 26]) -> Flags {
    let mut out = flags;
    for letter in flags.keyword_letters() {
        out.remove_keyword_letter(letter);
    }
    for letter in flags.keyword_letters() {
        if let Some(Some(mapped)) = letters.get(usize::from(letter - b'a')) {
            out.insert_keyword_letter(*mapped);
        }
    }
    out
}
