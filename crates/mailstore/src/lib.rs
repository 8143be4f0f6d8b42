//! # mailstore: Maildir++ mail storage
//!
//! Where delivered mail lives (DESIGN.md §6). The local delivery agent
//! writes through this crate; pop3d and imapd read through it, with UIDs
//! in Dovecot's `dovecot-uidlist` format so that Postern and Dovecot can
//! serve the same Maildir, and IMAP keyword names in Dovecot's
//! `dovecot-keywords`. Everything is blocking std I/O: async callers use
//! `spawn_blocking`.
//!
//! ## What it provides
//!
//! * [`Maildir`]: one Maildir, a mailbox root or a Maildir++ folder
//!   ([`Maildir::folder`]: `.Name` directories, `.` as hierarchy
//!   separator, a `maildirfolder` marker file). [`Maildir::ensure`]
//!   creates `cur/ new/ tmp/` (and missing parents) with a mode and, for
//!   a caller running as root, an owner.
//! * [`Maildir::deliver`]: stores one message, as described below, and
//!   returns [`Delivered`] (its path and both sizes).
//! * [`Maildir::usage`] and [`DeliverOptions`]: per-mailbox quota by
//!   bytes and message count, from the sizes in file names (no
//!   `maildirsize` cache yet; see the `quota` module's XXX).
//! * [`Maildir::clean_tmp`]: removes what dead deliveries left in `tmp/`.
//! * [`mbox::append`]: appends to an mbox file for `/file` alias targets,
//!   locked, mboxrd-quoted, all or nothing.
//! * [`Mailbox`]: the reading side. [`Mailbox::open`] scans `new/` and
//!   `cur/` and gives every message a UID from the UID list (new ones
//!   under its lock); each [`MessageEntry`] has its UID, base name, path,
//!   [`Flags`], both sizes, internal date and IMAP CONDSTORE
//!   mod-sequence ([`Mailbox::highest_modseq`] gives the folder's
//!   HIGHESTMODSEQ). The view moves `new/` to
//!   `cur/`, sets flags (by renaming), expunges, and opens a message as
//!   stored or in wire form ([`MessageReader`]: CRLF line endings,
//!   exactly `wire_size` bytes).
//! * [`Keywords`]: the folder's IMAP keyword names for the flag letters
//!   `a`..`z` ([`Flags::keyword_letters`]), read from and added to
//!   Dovecot's `dovecot-keywords` under the UID list lock; names are
//!   IMAP atoms ([`is_valid_keyword`]) compared without regard to case,
//!   at most 26 per folder.
//! * [`parse_metadata`]: what IMAP FETCH needs from a message's bytes
//!   ([`Metadata`]: its [`Envelope`], its [`BodyStructure`] with each
//!   part's [`Span`] in the file, its sizes in CRLF form), computed with
//!   mail-parser; pure, and lenient with malformed MIME (the `metadata`
//!   module says how each case is shown).
//! * [`Mailbox::metadata`] and [`Mailbox::flush_metadata`]: the same,
//!   through a per-folder cache file `postern.cache` (the `cache`
//!   module: versioned, checksummed records, validated per message by
//!   UID, base name and size, rebuilt whenever anything is wrong with
//!   it), so that FETCH on a large folder does not parse every file.
//! * [`MaildropLock`] and [`pop3_uidl`]: POP3's exclusive maildrop lock
//!   (an flock that dies with its session) and Dovecot's default UIDL
//!   format.
//!
//! And for IMAP's folder management and writing, each the way Dovecot
//! does it with its default Maildir++ layout (the `folders`,
//! `subscriptions`, `append` and `mailbox::copy` modules say how):
//!
//! * [`Maildir::list_folders`] ([`FolderInfo`]: name, selectable or
//!   `\Noselect`, children), [`Maildir::resolve`] (an IMAP name to its
//!   Maildir, INBOX in any case), [`Maildir::create_folder`],
//!   [`Maildir::delete_folder`], [`Maildir::rename_folder`] (with its
//!   children) and [`Maildir::rename_inbox`] (RFC 3501: INBOX's messages
//!   move into a new folder). Names are IMAP names, `.` separated
//!   ([`HIERARCHY_SEPARATOR`]), in modified UTF-7 as stored. New folders
//!   get their UIDVALIDITY from Dovecot's `dovecot-uidvalidity` counter,
//!   so a name deleted and created again never repeats one.
//! * [`Maildir::subscriptions`], [`Maildir::subscribe`],
//!   [`Maildir::unsubscribe`]: Dovecot's `subscriptions` file (version 2
//!   and older), changed under its dot-lock and replaced atomically.
//! * [`Maildir::append`]: IMAP APPEND into `cur/` with flags and an
//!   internal date, crash-safe as delivery is, with its UID given at once
//!   ([`Appended`]: APPENDUID's UIDVALIDITY and UID).
//! * [`Mailbox::copy_to`] and [`Mailbox::move_to`]: IMAP COPY and MOVE
//!   (hard links where possible, all or nothing), with flags, keywords by
//!   name and internal dates kept ([`Copied`]: COPYUID's pairs).
//!
//! A message's internal date ([`MessageEntry::internal_date`]) is its
//! file's modification time, as Dovecot has it for Maildir.
//!
//! A message's mod-sequence ([`MessageEntry::modseq`], RFC 7162) is its
//! file's status change time (ctime) in microseconds, which a flag change
//! (a rename) moves on, and HIGHESTMODSEQ also counts the modification
//! times of `new/` and `cur/`, which an expunge moves on. Nothing is
//! stored for them, so changes by Dovecot, mutt or another Postern
//! process count as much as this view's own. The `mailbox` module notes
//! describe the scheme and its limits: a clock set back, ties within one
//! tick of a coarse file system clock, spurious changes from hard links
//! (COPY) and chmod, and file systems that do not set ctime on rename.
//!
//! ## The UID list, and sharing a Maildir with Dovecot
//!
//! `dovecot-uidlist` (version 3) in the Maildir's directory maps UIDs to
//! base names and holds UIDVALIDITY (the Unix time when the list was
//! created) and the next UID; the `uidlist` module describes the format.
//! Postern reads lists Dovecot wrote, keeps fields it does not know, and
//! writes lists Dovecot reads, so either server can take over a Maildir
//! and clients keep their UIDs. Changes are made under Dovecot's
//! dot-lock `dovecot-uidlist.lock` plus an flock among Postern's own
//! processes (the `uidlock` module: stale dot-locks are removed after two
//! minutes, or at once if their process is gone; waiting gives up after
//! ten seconds with a temporary error), and the list is replaced whole
//! (temporary file, fsync, rename, directory fsync). A UID is never given
//! to two messages nor twice to one, and the next UID only grows; the
//! `mailbox` module says how the scan makes sure of that when other
//! processes rename files under it. Nothing here lives only in memory,
//! so sessions on several hosts sharing the store agree (DESIGN §9).
//!
//! ## The delivery protocol, and why it is crash safe
//!
//! As the Maildir specification describes it (cr.yp.to/proto/maildir.html):
//!
//! 1. Create `tmp/UNIQUE` with `O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600.
//!    `UNIQUE` is `SECONDS.M<micros>P<pid>Q<counter>R<64 random bits in
//!    hex>.HOST`, with `/` in the host name written `\057` and `:`
//!    written `\072` (also `,` as `\054`, and any other unsafe byte in
//!    octal likewise).
//! 2. Write the caller's prefix (`Return-Path:`, `Delivered-To:`) and the
//!    message, turning CRLF into LF: Maildir files hold Unix line endings,
//!    as Dovecot and mutt expect, while the queue holds CRLF.
//! 3. fsync the file.
//! 4. link(2) it to `new/UNIQUE,S=SIZE,W=WIRESIZE`: `S` is the file's size
//!    as stored, `W` its size with CRLF line endings (what IMAP
//!    RFC822.SIZE and POP3 report), both in Dovecot's format, so readers
//!    never need to stat or read the file for sizes. link never replaces
//!    an existing name; on file systems without hard links,
//!    rename(RENAME_NOREPLACE) is used instead.
//! 5. fsync `new/`, then unlink `tmp/UNIQUE`.
//!
//! Only after step 5's fsync does `deliver` return success, and only then
//! may the queue mark the recipient done. A crash before the link leaves
//! at most a file in `tmp/`, which no reader treats as mail (and
//! `clean_tmp` removes after 36 hours); the queue still holds the message
//! and delivers it again. A crash after the fsync of `new/` leaves the
//! message delivered (and maybe a stale tmp name): the queue may not have
//! recorded it, so that one delivery can repeat (at-least-once, DESIGN
//! §3). Readers see a message whole or not at all, because its name
//! appears in `new/` only after its content is on disk. On any error the
//! tmp file is removed (a guard does it on every path, including a
//! panicking reader), and if fsyncing `new/` fails the new name is removed
//! too, so an error never leaves a copy that the retry would duplicate.
//!
//! No step takes a lock and every name is unique across hosts, so several
//! hosts may deliver into one store on a shared file system (DESIGN §9).
//!
//! ## Security
//!
//! In system-user mode the delivery agent works in directories the
//! recipient controls, who may plant symbolic links there to redirect a
//! privileged write (DESIGN §2). So this crate never follows a symlink at
//! or below a Maildir's root: the root is opened with `O_NOFOLLOW`, and
//! everything below it (`tmp/`, `new/`, folders, the message file) is
//! reached with `openat`/`linkat`/`mkdirat` relative to an opened
//! directory, each step with `O_NOFOLLOW`; a link is [`Error::Symlink`].
//! Directories [`Maildir::ensure`] creates are chowned and chmodded
//! through their descriptors, and with an owner given every existing
//! Maildir directory must be owned by that uid ([`Error::WrongOwner`]).
//! Components above the root (the virtual mailbox base, a home directory)
//! are the caller's and are followed. The safest arrangement, and the one
//! DESIGN §2 prescribes, is still to deliver in a child running as the
//! recipient; `ensure` with an owner is for a caller that must create the
//! Maildir as root. Message files are created 0600. mbox appends refuse
//! symlinks, non-regular files and files with several hard links.
//!
//! Reading follows the same rule: message files, the UID list, the
//! metadata cache and the lock files are opened relative to the opened
//! Maildir with `O_NOFOLLOW`; a symbolic link or anything but a regular
//! file in `new/` or `cur/` is not a message. Files this crate creates
//! there (the UID list, the keyword list, lock files) get mode 0600 or
//! the replaced file's mode (the metadata cache, which repeats what
//! messages say, always 0600), and, for a caller running as root, the
//! Maildir's owner. The UID list, the keyword list and the metadata
//! cache are the user's files: the first two are parsed tolerantly (a
//! bad line is logged and skipped) and read only up to 512 MiB and
//! 64 KiB; the cache is never trusted (checksummed records, decoded
//! without recursion, nesting checked, entries matched to the message
//! file) and read only up to 2 GiB.
//!
//! Delivery and the mailbox view never parse the message; a hostile
//! message can only be long, and callers bound its size
//! (`message_size_limit`) before it is queued. [`parse_metadata`] does
//! parse it, with mail-parser, without I/O: it never fails, bounds the
//! nesting it follows ([`MAX_NESTING`]), and survives a panic inside
//! mail-parser (falling back to header plus one text part).
//!
//! ## Errors
//!
//! [`Error`] names the path involved. [`Error::is_temporary`] sorts them
//! for DSNs: temporary (4.x.x, keep the mail) for disk full (ENOSPC,
//! EDQUOT), I/O errors (EIO), permissions (EACCES, EPERM), a read-only
//! file system, a lock held too long, a failing message reader, a wrong
//! owner, and unknown errnos; permanent (5.x.x) for a path that is not a
//! directory (or not a regular file for mbox), a symbolic link, several
//! hard links, an invalid path or folder name. [`Error::OverQuota`] is its
//! own variant: the caller's configuration decides whether it defers or
//! bounces. Readers map the same way: temporary is `[SYS/TEMP]` in POP3
//! and `NO [UNAVAILABLE]` in IMAP (a UID list lock held too long is
//! [`Error::LockTimeout`]); [`Error::UnknownUid`] is a caller's bug and
//! [`Error::UidsExhausted`] needs an administrator.
//!
//! ## Configuration
//!
//! None read here: callers pass paths, owners, modes and quotas
//! (`virtual_mailbox_base`, `home_mailbox`, `mailbox_size_limit`).

mod append;
mod cache;
mod deliver;
mod error;
mod fasthash;
mod flags;
mod folders;
mod fsutil;
#[doc(hidden)]
pub mod fuzz_api;
mod index;
mod keywords;
mod lineend;
mod mailbox;
mod maildir;
pub mod mbox;
mod metadata;
mod name;
mod pop3;
mod quota;
mod source;
mod subscriptions;
mod uidlist;
mod uidlock;
mod uidvalidity;
mod wire;

pub use append::Appended;
pub use deliver::{DeliverOptions, Delivered};
pub use error::Error;
pub use flags::{Flag, Flags};
pub use folders::{FolderInfo, HIERARCHY_SEPARATOR, INBOX};
pub use keywords::{Keywords, MAX_KEYWORD_LEN, is_valid_keyword};
pub use mailbox::{Copied, Location, Mailbox, MessageEntry};
pub use maildir::{DEFAULT_MODE, Maildir, STALE_TMP_AGE};
pub use metadata::{
    Address, BodyStructure, Content, Disposition, Embedded, Envelope, MAX_NESTING, Metadata,
    PartInfo, Span, parse_metadata,
};
pub use nix::unistd::{Gid, Uid};
pub use pop3::{MAILDROP_LOCK, MaildropLock, pop3_uidl};
pub use quota::{QuotaLimit, Usage};
pub use wire::MessageReader;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
