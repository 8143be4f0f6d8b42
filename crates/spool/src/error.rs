//! error - what can go wrong in the spool, with the file or ID it concerns.

use std::io;
use std::path::PathBuf;

use crate::QueueId;

/// Errors of this crate. Every variant names the path or queue ID involved.
///
/// For a queue file that cannot be read, [`Error::is_damaged`] tells the
/// caller to [`quarantine`](crate::Spool::quarantine) it; anything else is
/// a local (environment) problem, or a caller bug for the recipient errors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call failed; `op` says what we were doing.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What we were doing, e.g. "open queue file", "fsync directory".
        op: &'static str,
        /// The file or directory it was done to.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The queue file ends before its end record: truncated, or a `.tmp`
    /// file whose writer died before commit.
    #[error("{}: incomplete queue file (no end record)", path.display())]
    Incomplete {
        /// The queue file.
        path: PathBuf,
    },
    /// The queue file is not in a format this version reads.
    #[error("{}: corrupt queue file: {reason}", path.display())]
    Corrupt {
        /// The queue file.
        path: PathBuf,
        /// What is wrong with it.
        reason: Corruption,
    },
    /// A spool directory is a symbolic link; refused (symlink attacks).
    #[error("{}: is a symbolic link, refusing to use it as a spool directory", path.display())]
    Symlink {
        /// The offending path.
        path: PathBuf,
    },
    /// A spool directory path exists but is not a directory.
    #[error("{}: exists and is not a directory", path.display())]
    NotADirectory {
        /// The offending path.
        path: PathBuf,
    },
    /// A move or commit would replace an existing queue file; nothing was changed.
    #[error("{}: already exists, refusing to replace it", path.display())]
    AlreadyExists {
        /// The existing target.
        path: PathBuf,
    },
    /// Every fresh queue ID tried was taken (should never happen).
    #[error("{}: no free queue ID after {attempts} attempts", dir.display())]
    NoFreeId {
        /// The directory the file was to be created in.
        dir: PathBuf,
        /// How many IDs were tried.
        attempts: u32,
    },
    /// A recipient index beyond the envelope's recipient list.
    #[error("{id}: no recipient #{rcpt}, the envelope has {count}")]
    NoSuchRecipient {
        /// The queue file.
        id: QueueId,
        /// The index asked for.
        rcpt: u32,
        /// How many recipients there are.
        count: usize,
    },
    /// A recipient already Done or Failed cannot change state again.
    #[error("{id}: recipient #{rcpt} already has a final state")]
    RecipientFinal {
        /// The queue file.
        id: QueueId,
        /// The recipient index.
        rcpt: u32,
    },
    /// The envelope's arrival time is before 1970, which the format cannot hold.
    #[error("envelope arrival time is before the Unix epoch")]
    ArrivalBeforeEpoch,
    /// More recipients than a `u32` index can name.
    #[error("envelope has {count} recipients, more than a queue file can index")]
    TooManyRecipients {
        /// The number given.
        count: usize,
    },
    /// The encoded envelope exceeds [`MAX_ENVELOPE_LEN`](crate::MAX_ENVELOPE_LEN).
    #[error("envelope encodes to {len} bytes, the limit is {max}")]
    EnvelopeTooLarge {
        /// Encoded size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An update record would exceed the format's limit (64 KiB).
    #[error("update record of {len} bytes exceeds the limit")]
    UpdateTooLarge {
        /// Encoded payload size.
        len: usize,
    },
    /// A queue operation was asked for a message in a queue it does not take
    /// messages from (e.g. releasing a message that is not on hold).
    #[error("{id}: cannot {operation} a message in {queue}")]
    NotApplicable {
        /// The queue file.
        id: QueueId,
        /// The operation's name (`delete`, `hold`, `release`, `requeue`).
        operation: &'static str,
        /// Where the message is.
        queue: crate::Queue,
    },
    /// postcard refused to encode a record (a bug in this crate if it ever happens).
    #[error("encode {what}: {source}")]
    Encode {
        /// Which record.
        what: &'static str,
        /// The encoder's error.
        #[source]
        source: postcard::Error,
    },
}

impl Error {
    /// is_damaged - the queue file itself is bad (Incomplete or Corrupt):
    /// move it to `corrupt/` rather than retry.
    pub fn is_damaged(&self) -> bool {
        matches!(self, Self::Incomplete { .. } | Self::Corrupt { .. })
    }

    /// is_not_found - a file or directory did not exist (e.g. another
    /// process already moved or removed the queue file).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Why a queue file is corrupt. Offsets are bytes from the start of the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// The path is not a regular file (a symbolic link, FIFO, socket,
    /// device, directory...).
    #[error("not a regular file")]
    NotRegularFile,
    /// The file does not start with the queue-file magic.
    #[error("bad magic number")]
    BadMagic,
    /// A format version this build does not read.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u16),
    /// Reserved header bits are set (written by a newer version?).
    #[error("unknown header flags {0:#06x}")]
    UnknownFlags(u16),
    /// The end record is missing where the header says it is, or fails its checksum.
    #[error("bad end record at offset {0}")]
    BadTrailer(u64),
    /// Header and end record disagree about the lengths.
    #[error("header and end record disagree about the lengths")]
    LengthMismatch,
    /// The envelope and message bytes do not match the stored checksum.
    #[error("checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    Checksum {
        /// From the end record.
        stored: u32,
        /// Over the bytes on disk.
        computed: u32,
    },
    /// The header claims an envelope larger than the limit.
    #[error("envelope length {0} exceeds the limit")]
    EnvelopeTooLarge(u32),
    /// The envelope bytes do not decode.
    #[error("undecodable envelope: {0}")]
    Envelope(postcard::Error),
    /// The envelope decodes but bytes are left over.
    #[error("trailing bytes after the envelope")]
    EnvelopeTrailingBytes,
    /// The arrival time is out of range (nanoseconds >= 1e9, or overflow).
    #[error("invalid arrival time")]
    Arrival,
    /// An update record that is complete but fails its checksum, not at the end of the file.
    #[error("update record at offset {0} fails its checksum")]
    UpdateChecksum(u64),
    /// An update record longer than the format allows.
    #[error("update record at offset {offset} claims {len} bytes, over the limit")]
    UpdateTooLarge {
        /// Where the record starts.
        offset: u64,
        /// The claimed payload length.
        len: u32,
    },
    /// An update record of a type this version does not know.
    #[error("update record at offset {offset} has unknown type {tag}")]
    UnknownUpdate {
        /// Where the record starts.
        offset: u64,
        /// Its type byte.
        tag: u8,
    },
    /// An update record whose payload does not decode.
    #[error("undecodable update record at offset {offset}: {source}")]
    Update {
        /// Where the record starts.
        offset: u64,
        /// The decoder's error.
        source: postcard::Error,
    },
    /// An update record names a recipient the envelope does not have.
    #[error("update record at offset {offset} names recipient #{rcpt}, which does not exist")]
    UpdateRecipient {
        /// Where the record starts.
        offset: u64,
        /// The index it names.
        rcpt: u32,
    },
    /// An update record changes a recipient that was already Done or Failed.
    #[error("update record at offset {offset} changes final recipient #{rcpt}")]
    UpdateAfterFinal {
        /// Where the record starts.
        offset: u64,
        /// The index it names.
        rcpt: u32,
    },
}
