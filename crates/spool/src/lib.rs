//! # spool: queue IDs, queue directories and durable queue files
//!
//! The spool is where accepted mail lives until every recipient is done
//! (DESIGN.md §3). This crate owns its layout and its file format; the
//! daemons (smtpd, qmgr, delivery agents) and the `postern` queue tools
//! go through it and never build spool paths themselves.
//!
//! ## What it provides
//!
//! * [`QueueId`]: 20 characters `[0-9A-Z]` (Crockford base 32): the
//!   creation time in microseconds, then random bits. Unique across
//!   processes, hosts and restarts; string order is creation order; and the
//!   only way to name a queue file ([`QueueId::parse`] is strict).
//! * [`Spool`] and [`Queue`]: the directory tree (`incoming`, `active`,
//!   `deferred`, `hold`, `corrupt`, `maildrop`, plus `private`, `public`,
//!   `pid` and `recycle`), creating it with the right modes and owners,
//!   and moving, listing, removing and quarantining whole queue files. A
//!   deferred file's mtime is its next attempt time. Finished small queue
//!   files wait in `recycle/` to be overwritten by new messages
//!   ([`Spool::retire`]) instead of being deleted and created again.
//! * [`QueueWriter`]: streams a new queue file (envelope, then the message
//!   through [`std::io::Write`]) and commits it durably.
//! * [`QueueFile`]: opens and verifies a queue file, streams its message,
//!   and records per-recipient results durably and cheaply.
//! * [`Spool::listing`], [`Spool::locate`] and [`Spool::apply`]: what the
//!   queue tools and qmgr share to list messages ([`Listed`]) and to delete,
//!   hold, release and requeue them ([`Operation`]).
//!
//! ## The queue file
//!
//! One file per message, a sequence of self-delimiting parts (all integers
//! big-endian; the exact bytes are in the `codec` module):
//!
//! ```text
//! header    magic "POSTERNQ", version 1, flags 0, envelope length, message length
//! envelope  postcard-encoded: sender, recipients (+ ORCPT, NOTIFY), arrival,
//!           client, SASL user, ENVID, RET, BODY=8BITMIME, SMTPUTF8
//! message   the message bytes exactly as given
//! trailer   magic "POSTERNE", version, the two lengths again, CRC-32 of
//!           envelope + message, CRC-32 of the trailer itself
//! updates   appended records: type, length, payload, CRC-32 each;
//!           Done{rcpt}, Failed{rcpt, status, reason}, Deferred{rcpt, reason}
//! ```
//!
//! Recipient states are not rewritten in place: an update record is
//! appended after the trailer and fdatasync'ed, so marking a recipient costs
//! one small write and one sync, and the committed part of the file never
//! changes again. A reader applies the records in order; the last record
//! for a recipient wins, and Done and Failed are final.
//!
//! ## The commit protocol, and why it is crash safe
//!
//! 1. [`Spool::create`] creates `incoming/.ID.tmp` with `O_EXCL` (mode
//!    0600) and writes the header, whose message length is still the
//!    "uncommitted" marker, and the envelope.
//! 2. The caller streams the message; it goes to disk in 64 KiB chunks.
//! 3. [`QueueWriter::commit`] appends the trailer, writes the real message
//!    length into the header, fsyncs the file, renames it to `incoming/ID`
//!    (never replacing an existing file) and fsyncs the directory. Only
//!    then may smtpd answer `250`.
//!
//! After a crash at any instant a queue file is either absent (the client
//! was not told 250; a leftover `.ID.tmp` is never read as mail and is
//! cleaned by [`Spool::remove_stale_tmp`]) or whole: the rename happens
//! after the fsync, and the directory fsync makes the rename durable before
//! success is reported. Independently of that ordering, a reader
//! recognises a complete file by itself: the header must carry a real
//! length, the trailer must sit exactly there with a valid checksum and
//! matching lengths, and the CRC over envelope and message must match. A
//! file cut anywhere before the end of its trailer is
//! [`Error::Incomplete`]; wrong magic, an unknown version or flag, a
//! checksum mismatch or an undecodable envelope is [`Error::Corrupt`].
//! Neither is ever read as mail; callers move such files to `corrupt/`
//! with [`Spool::quarantine`].
//!
//! Update records are appended one at a time, each after the previous one
//! is durable, so a crash can damage only the last one. A final record
//! that is short, fails its checksum, or is all zeros is a torn append: it
//! counts as not written ([`QueueFile::torn_tail`] reports it, and the
//! next append cuts it off first). The recipient then keeps its earlier
//! state and at most that one delivery is repeated (at-least-once, DESIGN
//! §3.4). A bad record in the middle, an unknown record type or a record
//! about a nonexistent or already-final recipient is [`Error::Corrupt`].
//!
//! Moves between queues are single renames followed by fsyncs of both
//! directories, so a file is in exactly one queue after a crash.
//!
//! Everything on disk is self-describing and in the file system (no state
//! in memory that another process would need), as DESIGN §9 asks.
//!
//! # Security
//!
//! Moderately sensitive: every daemon that handles mail uses this crate,
//! and it decides which paths are touched.
//!
//! * A queue ID from outside (command line, IPC, a file name) becomes a
//!   [`QueueId`] only through [`QueueId::parse`], which accepts exactly 20
//!   characters of `[0-9A-Z]` without `I L O U`; so no ID can build a path
//!   like `../x`. Queue names come only from the [`Queue`] enum. Every
//!   spool path is `root/queue/ID`.
//! * Spool files are written by mail_owner only: directories are 0700
//!   (maildrop 1733, public 0711) and owned by mail_owner, queue files are
//!   created 0600. [`Spool::create_dirs`] refuses symbolic links and
//!   changes modes and owners through an opened directory, not a name.
//!   Queue files are opened with `O_NOFOLLOW` and `O_NONBLOCK` and must be
//!   regular files: a symbolic link, directory, FIFO or socket under a
//!   queue ID is [`Error::Corrupt`], to be quarantined rather than retried.
//! * Reading is bounded: lengths are checked against the file size and
//!   fixed limits ([`MAX_ENVELOPE_LEN`], 64 KiB per update record) before
//!   anything is allocated; the message is streamed, never loaded. A
//!   damaged file yields an error, never a panic.
//! * The CRC-32 detects accidents (torn writes, bad media), not forgery:
//!   whoever can write the spool can write mail anyway.
//!
//! # Errors
//!
//! [`Error`] names the path or queue ID in every variant.
//! [`Error::is_damaged`] means "quarantine this file"; other I/O errors
//! are local faults (disk full, permissions) that the caller retries or
//! reports as a temporary failure.
//!
//! # Use from async code
//!
//! Everything here blocks (and fsyncs): call it from `spawn_blocking` or a
//! dedicated thread, never on a runtime worker. This crate has no tokio.
//!
//! # Known limits
//!
//! * Directory fsyncs are shared by concurrent commits and removals in one
//!   process (the `groupsync` module); the file's own fsync is per message.
//! * XXX: a file deferred many times grows by one record per recipient per
//!   attempt; rewriting (compacting) it on the move to `deferred/` would
//!   bound that.
//! * Only one process at a time may append to a given queue file (qmgr,
//!   which owns `active/`); nothing here locks.

mod codec;
mod crc;
mod envelope;
mod error;
mod file;
mod fsutil;
pub mod groupsync;
mod id;
pub mod maildrop;
mod manage;
mod queue;
mod recycle;
mod spool;
mod writer;

pub use codec::MAX_ENVELOPE_LEN;
pub use envelope::{Client, DsnNotify, DsnRet, Envelope, Recipient, RecipientState};
pub use error::{Corruption, Error};
pub use file::{MAX_REASON_LEN, MessageReader, QueueFile, TornTail};
pub use id::{ParseQueueIdError, QueueId};
pub use manage::{Listed, ListedRecipient, Operation, recipient_domain};
pub use nix::unistd::{Gid, Uid};
pub use queue::Queue;
pub use spool::Spool;
pub use writer::QueueWriter;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
