//! folders - a mailbox's Maildir++ folders as IMAP sees them: listing
//! (LIST), creating, deleting and renaming, as Dovecot does with its
//! default `maildir:` layout, so that either server sees the other's
//! folders.
//!
//! ## Names
//!
//! The mailbox's root Maildir is INBOX. A folder `Archive.2024` is the
//! directory `.Archive.2024` in the root: `.` separates hierarchy levels
//! both on disk and in IMAP (Dovecot's `separator = .`), so an IMAP name
//! is the directory name without its leading dot, bytes as they are.
//! Names stay in IMAP's modified UTF-7 (`&AOQ-rger`), as Dovecot stores
//! them; decoding is the IMAP layer's business. Children of INBOX are
//! ordinary folders named `INBOX.x` (directory `.INBOX.x`).
//!
//! INBOX is case-insensitive in IMAP: every function here takes `inbox`,
//! `Inbox.Sent` and so on as `INBOX`, `INBOX.Sent` ([`Maildir::resolve`]).
//! A directory whose first level is INBOX in another case (`.inbox.x`,
//! not made by Dovecot nor by us) could not be reached that way and is
//! left out of listings.
//!
//! The rules of [`Maildir::folder`] apply to every name: not empty, no
//! `/`, no leading or trailing `.`, no `..`, no control characters, at
//! most 254 bytes. A new name (create, rename target) must also not start
//! with `~`, which Dovecot refuses too. A trailing separator in an IMAP
//! CREATE (`CREATE foo.`) is the IMAP layer's to strip.
//!
//! ## What Dovecot does, and so what we do
//!
//! * **Listing.** Every directory `.Name` in the root is a folder, with
//!   or without `cur/ new/ tmp/` inside (Dovecot lists an empty one and
//!   creates the subdirectories when it is selected: IMAP SELECT should
//!   call [`Maildir::ensure`] before [`Mailbox::open`]). Files, entries
//!   starting with `..` (Dovecot's and our own half-deleted folders), and
//!   names that break the rules above are not folders. Symbolic links
//!   are left out (Dovecot would follow them; this crate never follows a
//!   link inside a mailbox, see the crate's Security notes). A level with
//!   no directory of its own (`A` when only `.A.B` exists) is listed as
//!   not selectable (IMAP `\Noselect`) with children.
//! * **Create** makes only the folder's own directory, not its parents
//!   (`CREATE A.B.C` leaves `A` and `A.B` as `\Noselect` levels), exactly
//!   as Dovecot does. The folder appears whole: it is built under a
//!   hidden name (`..postern-create.UNIQUE`: `cur/ new/ tmp/`, the
//!   `maildirfolder` marker, a `dovecot-uidlist` with a fresh
//!   UIDVALIDITY from Dovecot's counter, the `uidvalidity` module) and
//!   renamed into place without replacing anything; a folder that exists
//!   is [`Error::FolderExists`]. Directories get the root's permission
//!   bits and, for a caller running as root, its owner.
//! * **Delete** refuses INBOX. A folder removes its own directory with
//!   all its mail; its children are separate directories and stay, so a
//!   deleted parent becomes a `\Noselect` level (Dovecot: the same). A
//!   name with no directory of its own, even with children, is
//!   [`Error::NoSuchFolder`] (Dovecot: `NONEXISTENT`). The directory is
//!   first renamed to a hidden `..postern-trash.UNIQUE` (so it vanishes
//!   at once, whole) and then removed; what a crash or an error leaves
//!   there is removed by a later delete once an hour old, and is never
//!   listed nor counted in quota.
//! * **Rename** moves a folder and all its children (`A` to `B` moves
//!   `.A`, `.A.x`, `.A.x.y`); a name with children but no directory of
//!   its own can be renamed too (its children move), as in Dovecot. It is
//!   refused, before anything moves, if the target or any child's target
//!   exists. Each directory is one rename(2); a crash between them leaves
//!   some children under the old name (Dovecot: the same). UIDs and
//!   UIDVALIDITY move with the folder. Renaming INBOX is different in
//!   IMAP: [`Maildir::rename_inbox`].
//! * **Subscriptions** are names, not folders: create, delete and rename
//!   leave the `subscriptions` file alone, as Dovecot does (the
//!   `subscriptions` module).
//!
//! Sessions that have a folder open keep working on their open
//! directories when another renames it; when another deletes it, they
//! find its messages gone.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::dir::Type;
use nix::errno::Errno;
use nix::sys::stat::fstat;
use nix::unistd::{Gid, Uid, UnlinkatFlags, fsync, unlinkat};

use crate::error::{Error, errno_err};
use crate::fsutil::{
    Kind, for_each_entry, kind, make_dir_at, open_dir, open_dir_at, rename_noreplace, stat_at,
};
use crate::mailbox::{Copied, Mailbox};
use crate::maildir::{DEFAULT_MODE, Maildir, check_folder_name, ensure_marker, ensure_subdirs};
use crate::name::unique_name;
use crate::quota::QUOTA_FILE;
use crate::uidlist::UidList;
use crate::uidvalidity;

/// The name of the root Maildir in IMAP.
pub const INBOX: &str = "INBOX";

/// The hierarchy separator, on disk and in IMAP.
pub const HIERARCHY_SEPARATOR: char = '.';

/// The hidden name a folder is built under before it appears.
const CREATE_PREFIX: &str = "..postern-create.";

/// The hidden name a deleted folder has while it is removed.
const TRASH_PREFIX: &str = "..postern-trash.";

/// Leftovers of a create or delete this old belong to a process that died.
const LEFTOVER_AGE: Duration = Duration::from_secs(60 * 60);

/// How deep a tree [`remove_tree`] goes (a folder is two levels deep;
/// anything much deeper is not ours).
const MAX_TREE_DEPTH: u32 = 16;

/// FolderInfo - one name of [`Maildir::list_folders`], with what IMAP
/// LIST shows about it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FolderInfo {
    /// The IMAP name: `INBOX`, or the folder name with `.` between levels
    /// (`Archive.2024`), in modified UTF-7 as stored.
    pub name: String,
    /// Whether the name has a directory of its own; false for a level
    /// that only holds other folders (IMAP `\Noselect`).
    pub selectable: bool,
    /// Whether any folder lies below it (IMAP `\HasChildren`, else
    /// `\HasNoChildren`).
    pub has_children: bool,
}

impl Maildir {
    /// resolve - the Maildir for an IMAP mailbox name of this mailbox:
    /// the root for `INBOX` (in any case), else the folder of that name
    /// from the root (`inbox.x` is `INBOX.x`), whichever Maildir `self`
    /// is. The name must follow [`Maildir::folder`]'s rules
    /// ([`Error::InvalidFolderName`]); whether the folder exists is not
    /// checked.
    pub fn resolve(&self, name: &str) -> Result<Maildir, Error> {
        let name = normalize(name);
        let root = Maildir::new(self.root());
        if name == INBOX {
            Ok(root)
        } else {
            root.folder(&name)
        }
    }

    /// list_folders - every name IMAP LIST shows for this mailbox: INBOX
    /// first, then the folders and the levels above them (see the
    /// module notes for what counts), sorted by name (bytewise, so a
    /// parent comes just before its children). Works from the root
    /// whichever Maildir `self` is. Blocking: one listing of the root,
    /// plus a stat for each entry whose type the file system does not
    /// report.
    pub fn list_folders(&self) -> Result<Vec<FolderInfo>, Error> {
        let root_fd = open_dir(self.root())?;
        let own = folder_dirs(root_fd.as_fd(), self.root())?;
        Ok(folder_tree(&own))
    }

    /// create_folder - create the folder `name` of this mailbox, complete
    /// with `cur/ new/ tmp/`, marker and UID list, and return it.
    ///
    /// Missing parents are not created (they are `\Noselect` levels, as
    /// in Dovecot). A name that exists (INBOX included) is
    /// [`Error::FolderExists`]; a bad name [`Error::InvalidFolderName`].
    /// The folder appears whole or not at all, and is on disk (root
    /// fsynced) when this returns. Directories get the root's permission
    /// bits (and owner, for a caller running as root).
    pub fn create_folder(&self, name: &str) -> Result<Maildir, Error> {
        let name = normalize(name);
        let root = Maildir::new(self.root());
        if name == INBOX {
            return Err(Error::FolderExists {
                name: INBOX.to_owned(),
                path: root.path().to_path_buf(),
            });
        }
        check_new_name(&name)?;
        let folder = root.folder(&name)?;
        let root_fd = open_dir(self.root())?;
        let dir = dir_name(&name);
        if stat_at(root_fd.as_fd(), dir.as_str(), folder.path())?.is_some() {
            return Err(exists(&folder));
        }
        let (mode, owner) = creation_mode(root_fd.as_fd(), self.root())?;
        let temp_name = format!("{CREATE_PREFIX}{}", unique_name());
        let temp = TreeGuard {
            dir: root_fd.as_fd(),
            path: self.root().join(&temp_name),
            name: temp_name,
            armed: true,
        };
        let temp_fd = make_dir_at(
            root_fd.as_fd(),
            OsStr::new(&temp.name),
            &temp.path,
            mode,
            owner,
        )?;
        ensure_subdirs(temp_fd.as_fd(), &temp.path, mode, owner)?;
        ensure_marker(temp_fd.as_fd(), &temp.path, mode, owner)?;
        let mut list = UidList::new();
        list.uidvalidity = uidvalidity::next(root_fd.as_fd(), self.root());
        list.write(temp_fd.as_fd(), &temp.path)?;
        if !rename_noreplace(
            root_fd.as_fd(),
            &temp.name,
            root_fd.as_fd(),
            &dir,
            folder.path(),
        )? {
            return Err(exists(&folder));
        }
        temp.disarm();
        fsync(&root_fd).map_err(errno_err("fsync directory", self.root()))?;
        tracing::debug!(path = %folder.path().display(), uidvalidity = list.uidvalidity, "folder created");
        Ok(folder)
    }

    /// delete_folder - delete the folder `name` of this mailbox with all
    /// its messages; its children stay (see the module notes).
    ///
    /// INBOX cannot be deleted ([`Error::InvalidFolderName`]). A name
    /// without a directory of its own is [`Error::NoSuchFolder`], a
    /// symbolic link [`Error::Symlink`]. The folder is gone (renamed
    /// away, root fsynced) before its files are removed; a failure while
    /// removing them is logged, not returned, and a later delete cleans
    /// up. Subscriptions are not changed.
    pub fn delete_folder(&self, name: &str) -> Result<(), Error> {
        let name = normalize(name);
        if name == INBOX {
            return Err(Error::InvalidFolderName {
                name: INBOX.to_owned(),
                reason: "INBOX cannot be deleted",
            });
        }
        let folder = Maildir::new(self.root()).folder(&name)?;
        let root_fd = open_dir(self.root())?;
        let dir = dir_name(&name);
        match stat_at(root_fd.as_fd(), dir.as_str(), folder.path())?.map(|st| kind(&st)) {
            None => return Err(no_such(&folder)),
            Some(Kind::Dir) => {}
            Some(Kind::Symlink) => {
                return Err(Error::Symlink {
                    path: folder.path().to_path_buf(),
                });
            }
            Some(_) => {
                return Err(Error::NotADirectory {
                    path: folder.path().to_path_buf(),
                });
            }
        }
        let trash = format!("{TRASH_PREFIX}{}", unique_name());
        match nix::fcntl::renameat(&root_fd, dir.as_str(), &root_fd, trash.as_str()) {
            Ok(()) => {}
            Err(Errno::ENOENT) => return Err(no_such(&folder)),
            Err(errno) => return Err(errno_err("rename", folder.path())(errno)),
        }
        fsync(&root_fd).map_err(errno_err("fsync directory", self.root()))?;
        tracing::debug!(path = %folder.path().display(), "folder deleted");
        // The quota sum counted the folder's messages: count afresh.
        let quota_path = self.root().join(QUOTA_FILE);
        let quota_name = OsStr::new(QUOTA_FILE);
        if let Err(e) = unlink_at(
            root_fd.as_fd(),
            quota_name,
            &quota_path,
            UnlinkatFlags::NoRemoveDir,
        ) {
            tracing::warn!(error = %e, "cannot remove the quota file");
        }
        let trash_path = self.root().join(&trash);
        if let Err(e) = remove_tree(root_fd.as_fd(), OsStr::new(&trash), &trash_path, 0) {
            tracing::error!(path = %trash_path.display(), error = %e, "cannot remove deleted folder; a later delete retries");
        }
        remove_leftovers(root_fd.as_fd(), self.root());
        Ok(())
    }

    /// rename_folder - rename the folder `from` to `to`, with all its
    /// children (see the module notes).
    ///
    /// `from` must have a directory or children, else
    /// [`Error::NoSuchFolder`]; INBOX cannot be renamed this way
    /// ([`Error::InvalidFolderName`]: see [`Maildir::rename_inbox`]).
    /// If `to` (INBOX included) or the new name of any child exists,
    /// nothing moves and the result is [`Error::FolderExists`]. The
    /// root is fsynced before this returns. Subscriptions are not
    /// changed.
    pub fn rename_folder(&self, from: &str, to: &str) -> Result<(), Error> {
        let from = normalize(from);
        let to = normalize(to);
        let root = Maildir::new(self.root());
        if from == INBOX {
            return Err(Error::InvalidFolderName {
                name: INBOX.to_owned(),
                reason: "renaming INBOX moves its messages instead (rename_inbox)",
            });
        }
        let from_md = root.folder(&from)?;
        if to == INBOX {
            return Err(Error::FolderExists {
                name: INBOX.to_owned(),
                path: root.path().to_path_buf(),
            });
        }
        check_new_name(&to)?;
        let to_md = root.folder(&to)?;
        let root_fd = open_dir(self.root())?;
        let own = folder_dirs(root_fd.as_fd(), self.root())?;
        let prefix = format!("{from}{HIERARCHY_SEPARATOR}");
        let mut children = Vec::new();
        for child in own.iter().filter(|n| n.starts_with(&prefix)) {
            let rest = child.get(prefix.len()..).unwrap_or_default();
            let target = root.folder(&format!("{to}{HIERARCHY_SEPARATOR}{rest}"))?;
            children.push((child.clone(), target));
        }
        let from_exists = own.contains(from.as_ref());
        if !from_exists && children.is_empty() {
            return Err(no_such(&from_md));
        }
        for target in std::iter::once(&to_md).chain(children.iter().map(|(_, t)| t)) {
            let name = target.folder_name().unwrap_or_default();
            if stat_at(root_fd.as_fd(), dir_name(name).as_str(), target.path())?.is_some() {
                return Err(exists(target));
            }
        }
        if from_exists
            && !rename_noreplace(
                root_fd.as_fd(),
                &dir_name(&from),
                root_fd.as_fd(),
                &dir_name(&to),
                to_md.path(),
            )?
        {
            return Err(exists(&to_md));
        }
        for (child, target) in &children {
            let new_name = target.folder_name().unwrap_or_default();
            match rename_noreplace(
                root_fd.as_fd(),
                &dir_name(child),
                root_fd.as_fd(),
                &dir_name(new_name),
                target.path(),
            ) {
                Ok(true) => {}
                // Made or removed by someone else since we looked: leave it.
                Ok(false) => {
                    tracing::warn!(folder = %child, target = %new_name, "rename target appeared meanwhile; child left under its old name");
                }
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        fsync(&root_fd).map_err(errno_err("fsync directory", self.root()))?;
        tracing::debug!(from = %from, to = %to, children = children.len(), "folder renamed");
        Ok(())
    }

    /// rename_inbox - IMAP's RENAME of INBOX (RFC 3501 6.3.5): create the
    /// folder `to` and move every message of INBOX (the root) into it,
    /// with its flags and keywords, leaving INBOX empty; INBOX's own
    /// children (`INBOX.x`) stay where they are. Returns the moved
    /// messages' old and new UIDs and the folder's UIDVALIDITY.
    ///
    /// `to` must not exist ([`Error::FolderExists`], nothing moved).
    /// Mail delivered while this runs stays in INBOX. Each message is
    /// copied (hard link) and fsynced into the folder before INBOX's file
    /// is removed, so a crash can leave a message in both, never in
    /// neither. Dovecot refuses this RENAME for Maildir++; this is the
    /// RFC's behaviour.
    pub fn rename_inbox(&self, to: &str) -> Result<Copied, Error> {
        let dest = self.create_folder(to)?;
        let mut inbox = Mailbox::open(&Maildir::new(self.root()))?;
        let uids: Vec<u32> = inbox.messages().iter().map(|m| m.uid).collect();
        inbox.move_to(&uids, &dest)
    }
}

/// normalize - `name` with a first level of INBOX in any case written
/// `INBOX`.
pub(crate) fn normalize(name: &str) -> Cow<'_, str> {
    let (first, rest) = match name.split_once(HIERARCHY_SEPARATOR) {
        Some((first, rest)) => (first, Some(rest)),
        None => (name, None),
    };
    if first != INBOX && first.eq_ignore_ascii_case(INBOX) {
        Cow::Owned(match rest {
            Some(rest) => format!("{INBOX}{HIERARCHY_SEPARATOR}{rest}"),
            None => INBOX.to_owned(),
        })
    } else {
        Cow::Borrowed(name)
    }
}

/// check_new_name - the extra rule for names being created: no leading `~`.
fn check_new_name(name: &str) -> Result<(), Error> {
    if name.starts_with('~') {
        return Err(Error::InvalidFolderName {
            name: name.to_owned(),
            reason: "starts with `~`",
        });
    }
    Ok(())
}

/// dir_name - the directory of the folder `name`: `.name`.
fn dir_name(name: &str) -> String {
    format!(".{name}")
}

/// exists - [`Error::FolderExists`] for `folder`.
fn exists(folder: &Maildir) -> Error {
    Error::FolderExists {
        name: folder.folder_name().unwrap_or(INBOX).to_owned(),
        path: folder.path().to_path_buf(),
    }
}

/// no_such - [`Error::NoSuchFolder`] for `folder`.
fn no_such(folder: &Maildir) -> Error {
    Error::NoSuchFolder {
        name: folder.folder_name().unwrap_or(INBOX).to_owned(),
        path: folder.path().to_path_buf(),
    }
}

/// creation_mode - the mode and owner for a new folder's directories:
/// the root's permission bits, and its owner if we run as root.
fn creation_mode(
    root: BorrowedFd<'_>,
    root_path: &Path,
) -> Result<(u32, Option<(Uid, Gid)>), Error> {
    let st = fstat(root).map_err(errno_err("stat", root_path))?;
    let mode = match st.st_mode & 0o777 {
        0 => DEFAULT_MODE,
        // The owner must always be able to use it.
        bits => bits | 0o700,
    };
    let owner = (Uid::effective().is_root() && st.st_uid != 0)
        .then(|| (Uid::from_raw(st.st_uid), Gid::from_raw(st.st_gid)));
    Ok((mode, owner))
}

/// folder_dirs - the names of the folder directories in the root open as
/// `root` (see the module notes for what counts).
fn folder_dirs(root: BorrowedFd<'_>, root_path: &Path) -> Result<BTreeSet<String>, Error> {
    let mut found = Vec::new();
    for_each_entry(root, root_path, |bytes, file_type| {
        let Some(folder) = bytes.strip_prefix(b".") else {
            return;
        };
        if folder.is_empty() || folder.first() == Some(&b'.') {
            // Hidden work directories (`..DOVECOT-TRASHED`).
            return;
        }
        let Ok(folder) = std::str::from_utf8(folder) else {
            tracing::warn!(path = %root_path.join(OsStr::from_bytes(bytes)).display(), "folder name is not UTF-8; not listed");
            return;
        };
        found.push((folder.to_owned(), file_type));
    })?;
    let mut names = BTreeSet::new();
    for (folder, file_type) in found {
        if let Err(e) = check_folder_name(&folder) {
            tracing::debug!(error = %e, "directory is not a folder; not listed");
            continue;
        }
        let first = folder.split(HIERARCHY_SEPARATOR).next().unwrap_or_default();
        if first.eq_ignore_ascii_case(INBOX) && (first != INBOX || folder == INBOX) {
            tracing::warn!(folder = %folder, "folder name clashes with INBOX; not listed");
            continue;
        }
        let is_dir = match file_type {
            Some(Type::Directory) => true,
            Some(_) => false,
            None => {
                let dir = dir_name(&folder);
                stat_at(root, dir.as_str(), &root_path.join(&dir))?
                    .is_some_and(|st| kind(&st) == Kind::Dir)
            }
        };
        if is_dir {
            names.insert(folder);
        }
    }
    Ok(names)
}

/// folder_tree - the LIST entries for the folder directories `own`.
fn folder_tree(own: &BTreeSet<String>) -> Vec<FolderInfo> {
    // name -> (selectable, has_children)
    let mut names: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
    for name in own {
        names.entry(name.as_str()).or_default().0 = true;
        for (at, _) in name.match_indices(HIERARCHY_SEPARATOR) {
            if let Some(parent) = name.get(..at) {
                names.entry(parent).or_default().1 = true;
            }
        }
    }
    let inbox_children = names.remove(INBOX).is_some_and(|(_, children)| children);
    let mut out = Vec::with_capacity(names.len() + 1);
    out.push(FolderInfo {
        name: INBOX.to_owned(),
        selectable: true,
        has_children: inbox_children,
    });
    out.extend(
        names
            .into_iter()
            .map(|(name, (selectable, has_children))| FolderInfo {
                name: name.to_owned(),
                selectable,
                has_children,
            }),
    );
    out
}

/// TreeGuard - a directory tree this process is building under a hidden
/// name; removed on drop unless disarmed.
struct TreeGuard<'a> {
    /// The directory holding it (the root).
    dir: BorrowedFd<'a>,
    /// Its name there.
    name: String,
    /// Its full path, for messages.
    path: PathBuf,
    /// Whether it still needs removing.
    armed: bool,
}

impl TreeGuard<'_> {
    /// disarm - the tree has been renamed into place; leave it.
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for TreeGuard<'_> {
    fn drop(&mut self) {
        if self.armed
            && let Err(e) = remove_tree(self.dir, OsStr::new(&self.name), &self.path, 0)
        {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove unfinished folder");
        }
    }
}

/// remove_tree - remove `name` in `parent` and, if it is a directory,
/// everything in it, never following a symbolic link (a link is removed,
/// not its target). Gone already is fine.
pub(crate) fn remove_tree(
    parent: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    depth: u32,
) -> Result<(), Error> {
    let fd = match open_dir_at(parent, name, path) {
        Ok(fd) => fd,
        Err(Error::Symlink { .. } | Error::NotADirectory { .. }) => {
            return unlink_at(parent, name, path, UnlinkatFlags::NoRemoveDir);
        }
        Err(e) if e.is_not_found() => return Ok(()),
        Err(e) => return Err(e),
    };
    if depth >= MAX_TREE_DEPTH {
        return Err(Error::Io {
            op: "remove directory tree",
            path: path.to_path_buf(),
            source: std::io::Error::other("nested too deeply"),
        });
    }
    let mut entries: Vec<(OsString, Option<Type>)> = Vec::new();
    for_each_entry(fd.as_fd(), path, |bytes, file_type| {
        entries.push((OsStr::from_bytes(bytes).to_os_string(), file_type));
    })?;
    for (entry, file_type) in entries {
        let entry_path = path.join(&entry);
        let is_dir = match file_type {
            Some(Type::Directory) => true,
            Some(_) => false,
            None => stat_at(fd.as_fd(), entry.as_os_str(), &entry_path)?
                .is_some_and(|st| kind(&st) == Kind::Dir),
        };
        if is_dir {
            remove_tree(fd.as_fd(), &entry, &entry_path, depth + 1)?;
        } else {
            unlink_at(fd.as_fd(), &entry, &entry_path, UnlinkatFlags::NoRemoveDir)?;
        }
    }
    drop(fd);
    unlink_at(parent, name, path, UnlinkatFlags::RemoveDir)
}

/// unlink_at - unlinkat(2), gone already being fine.
fn unlink_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    flags: UnlinkatFlags,
) -> Result<(), Error> {
    match unlinkat(dir, name, flags) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(errno) => Err(errno_err("remove", path)(errno)),
    }
}

/// remove_leftovers - remove the hidden work directories of creates and
/// deletes that died, once they are [`LEFTOVER_AGE`] old. Failures are
/// logged: this is housekeeping.
fn remove_leftovers(root: BorrowedFd<'_>, root_path: &Path) {
    let mut leftovers = Vec::new();
    let listed = for_each_entry(root, root_path, |bytes, _| {
        if bytes.starts_with(TRASH_PREFIX.as_bytes()) || bytes.starts_with(CREATE_PREFIX.as_bytes())
        {
            leftovers.push(OsStr::from_bytes(bytes).to_os_string());
        }
    });
    if listed.is_err() {
        return;
    }
    let cutoff = SystemTime::now()
        .checked_sub(LEFTOVER_AGE)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs());
    for name in leftovers {
        let path = root_path.join(&name);
        let old = stat_at(root, name.as_os_str(), &path)
            .ok()
            .flatten()
            .is_some_and(|st| u64::try_from(st.st_mtime).unwrap_or(0) < cutoff);
        if old {
            tracing::info!(path = %path.display(), "removing leftover of an interrupted folder create or delete");
            if let Err(e) = remove_tree(root, &name, &path, 0) {
                tracing::warn!(path = %path.display(), error = %e, "cannot remove leftover");
            }
        }
    }
}

#[cfg(test)]
mod tests;
