//! file - reading a committed queue file and recording recipient results.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::OFlag;

use crate::codec::{
    self, HEADER_LEN, MAX_UPDATE_LEN, TRAILER_LEN, UNCOMMITTED, UPDATE_HEAD_LEN, UPDATE_OVERHEAD,
    Update, UpdateDecodeError,
};
use crate::crc::Crc32;
use crate::error::{Corruption, Error};
use crate::fsutil::io_err;
use crate::{Envelope, QueueId, RecipientState};

/// Chunk size for streaming the message through the checksum.
const CHUNK_LEN: usize = 64 * 1024;
/// Longest reason text stored in an update record, in bytes; longer ones are cut.
pub const MAX_REASON_LEN: usize = 16 * 1024;
/// Longest enhanced status code stored, in bytes (`5.1.1` is 5; RFC 3463 allows 3+1+3+1+3).
const MAX_STATUS_LEN: usize = 16;

/// Bytes after the last intact update record that do not form a record:
/// the remains of an append cut short by a crash. They are ignored (the
/// update counts as not written) and cut off before the next append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TornTail {
    /// Offset of the first ignored byte.
    pub offset: u64,
    /// Number of ignored bytes (to the end of the file).
    pub len: u64,
}

/// An open, verified queue file.
///
/// Holds the decoded envelope and recipient states; the message stays on
/// disk and is streamed by [`message`](Self::message). One process at a
/// time may record results in a given file (qmgr, which owns `active/`).
#[derive(Debug)]
pub struct QueueFile {
    /// The file's ID.
    id: QueueId,
    /// Where it was opened, for error messages.
    path: PathBuf,
    /// Opened read-write for appending update records.
    file: File,
    /// What opening found; `states` and `end` follow every update since.
    parsed: Parsed,
    /// The file may hold bytes past `parsed.end` (a torn tail, or a failed
    /// append): cut them off before appending.
    dirty_tail: bool,
}

impl QueueFile {
    /// open - see [`Spool::open`](crate::Spool::open).
    pub(crate) fn open(path: PathBuf, id: QueueId) -> Result<Self, Error> {
        // O_NONBLOCK: opening a FIFO planted under a queue ID must not hang;
        // it is refused below as not a regular file.
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
            .open(&path)
        {
            Ok(file) => file,
            // A symbolic link (refused by O_NOFOLLOW), a directory or a socket
            // under a queue ID is no queue file, and never will be: retrying it
            // would only fail again, forever.
            Err(e) if is_not_a_file(&e) => {
                return Err(corrupt(&path, Corruption::NotRegularFile));
            }
            Err(e) => return Err(io_err("open queue file", &path)(e)),
        };
        let meta = file.metadata().map_err(io_err("stat queue file", &path))?;
        if !meta.is_file() {
            return Err(corrupt(&path, Corruption::NotRegularFile));
        }
        let parsed = Parser {
            file: &file,
            path: &path,
            len: meta.len(),
        }
        .parse()?;
        Ok(Self {
            id,
            path,
            file,
            dirty_tail: parsed.torn.is_some(),
            parsed,
        })
    }

    /// id - the queue ID.
    pub fn id(&self) -> &QueueId {
        &self.id
    }

    /// path - where the file was opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// envelope - sender, recipients, arrival and client information.
    pub fn envelope(&self) -> &Envelope {
        &self.parsed.envelope
    }

    /// message_size - the message length in bytes (Postfix's `size=`).
    pub fn message_size(&self) -> u64 {
        self.parsed.message_size
    }

    /// message - stream the message bytes from disk, from the start.
    ///
    /// The bytes were checksummed when the file was opened.
    pub fn message(&self) -> MessageReader<'_> {
        MessageReader {
            file: &self.file,
            pos: self.parsed.message_offset,
            end: self
                .parsed
                .message_offset
                .saturating_add(self.parsed.message_size),
        }
    }

    /// message_from - stream the message bytes from `offset` (counted from the
    /// message's first byte) to its end.
    pub fn message_from(&self, offset: u64) -> MessageReader<'_> {
        let mut reader = self.message();
        reader.pos = reader.pos.saturating_add(offset).min(reader.end);
        reader
    }

    /// state - the current state of recipient `rcpt`, None if there is no such recipient.
    pub fn state(&self, rcpt: u32) -> Option<&RecipientState> {
        self.parsed.states.get(usize::try_from(rcpt).ok()?)
    }

    /// states - every recipient's state, in envelope order.
    pub fn states(&self) -> &[RecipientState] {
        &self.parsed.states
    }

    /// pending - recipients still to be delivered (Pending or Deferred).
    pub fn pending(&self) -> impl Iterator<Item = u32> + '_ {
        self.parsed
            .states
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.is_final())
            .filter_map(|(i, _)| u32::try_from(i).ok())
    }

    /// torn_tail - bytes ignored after the last intact update record, if
    /// any. Callers should log it with the queue ID: an update was lost,
    /// so that recipient's last attempt may be repeated.
    pub fn torn_tail(&self) -> Option<TornTail> {
        self.parsed.torn
    }

    /// mark_done - record durably that `rcpt` was delivered.
    pub fn mark_done(&mut self, rcpt: u32) -> Result<(), Error> {
        self.append(Update::Done { rcpt })
    }

    /// note_last_done - if `rcpt` is the only recipient still pending, note
    /// in memory that it was delivered and return true, writing nothing:
    /// the caller removes the file next. Else change nothing and return
    /// false (the caller then uses [`QueueFile::mark_done`]).
    ///
    /// The record would only matter if a crash came between now and the
    /// removal; then the file is still there with `rcpt` pending and it is
    /// delivered again, which is the at-least-once promise for a delivery in
    /// flight (Postfix likewise removes a delivered queue file without
    /// marking it). It saves an fdatasync per message, and the blocking
    /// call it would need.
    pub fn note_last_done(&mut self, rcpt: u32) -> bool {
        let others = self.pending().any(|r| r != rcpt);
        let slot = usize::try_from(rcpt)
            .ok()
            .and_then(|i| self.parsed.states.get_mut(i))
            .filter(|state| !state.is_final());
        match slot {
            Some(state) if !others => {
                *state = RecipientState::Done;
                true
            }
            _ => false,
        }
    }

    /// mark_failed - record durably that `rcpt` failed permanently.
    ///
    /// `status` is the enhanced status code (e.g. `5.1.1`). Texts longer
    /// than the format allows ([`MAX_REASON_LEN`]) are cut at a character
    /// boundary.
    pub fn mark_failed(&mut self, rcpt: u32, status: &str, reason: &str) -> Result<(), Error> {
        self.append(Update::Failed {
            rcpt,
            status: truncated(status, MAX_STATUS_LEN),
            reason: truncated(reason, MAX_REASON_LEN),
        })
    }

    /// mark_deferred - record that `rcpt` failed temporarily, and why.
    ///
    /// The reason replaces the previous one (it is what `mailq` shows).
    /// Not fdatasynced: a crash that loses the record leaves `rcpt`
    /// pending, which a deferral means anyway (at worst it is tried again
    /// sooner, or `mailq` shows the previous reason), and a deferral wave
    /// (a remote host down) then costs no disk flush per recipient. A later
    /// durable record flushes it with its own.
    pub fn mark_deferred(&mut self, rcpt: u32, reason: &str) -> Result<(), Error> {
        self.append_with(
            Update::Deferred {
                rcpt,
                reason: truncated(reason, MAX_REASON_LEN),
            },
            false,
        )
    }

    /// append - write one update record at `end`, fdatasync, then apply it.
    fn append(&mut self, update: Update) -> Result<(), Error> {
        self.append_with(update, true)
    }

    /// append_with - [`QueueFile::append`], fdatasynced if `durable`.
    fn append_with(&mut self, update: Update, durable: bool) -> Result<(), Error> {
        let rcpt = update.rcpt();
        let index = usize::try_from(rcpt).ok();
        match index.and_then(|i| self.parsed.states.get(i)) {
            None => {
                return Err(Error::NoSuchRecipient {
                    id: self.id,
                    rcpt,
                    count: self.parsed.states.len(),
                });
            }
            Some(state) if state.is_final() => {
                return Err(Error::RecipientFinal { id: self.id, rcpt });
            }
            Some(_) => {}
        }
        let record = codec::encode_update(&update)?;
        if self.dirty_tail {
            // Appending after garbage would make the garbage a middle record.
            self.file
                .set_len(self.parsed.end)
                .map_err(io_err("truncate queue file", &self.path))?;
            self.dirty_tail = false;
        }
        // Positional write at our own idea of the end, never O_APPEND: the
        // file must hold exactly the records we know of.
        let written = self
            .file
            .write_all_at(&record, self.parsed.end)
            .and_then(|()| {
                if durable {
                    self.file.sync_data()
                } else {
                    Ok(())
                }
            });
        if let Err(e) = written {
            // Part of the record may be on disk; cut it before the next try.
            self.dirty_tail = true;
            return Err(io_err("append to queue file", &self.path)(e));
        }
        self.parsed.end = self.parsed.end.saturating_add(to_u64(record.len()));
        if let Some(slot) = index.and_then(|i| self.parsed.states.get_mut(i)) {
            *slot = update.into_state();
        }
        Ok(())
    }
}

/// Streams a queue file's message bytes; from [`QueueFile::message`].
#[derive(Debug)]
pub struct MessageReader<'a> {
    /// The queue file, read with positional reads (no shared cursor).
    file: &'a File,
    /// Next byte to read.
    pos: u64,
    /// One past the last message byte.
    end: u64,
}

impl Read for MessageReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end.saturating_sub(self.pos)).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        let Some(buf) = buf.get_mut(..want) else {
            return Ok(0);
        };
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.file.read_at(buf, self.pos)?;
        if n == 0 {
            // The file shrank under us: not the message we verified.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "queue file truncated while reading the message",
            ));
        }
        self.pos = self.pos.saturating_add(to_u64(n));
        Ok(n)
    }
}

/// What the parser found in a file.
#[derive(Debug)]
struct Parsed {
    /// The decoded envelope.
    envelope: Envelope,
    /// Where the message bytes start.
    message_offset: u64,
    /// How many message bytes there are.
    message_size: u64,
    /// One per recipient, after applying every update record.
    states: Vec<RecipientState>,
    /// End of the last intact record: where the next update goes.
    end: u64,
    /// Ignored bytes found after `end`.
    torn: Option<TornTail>,
}

/// Reads and checks one queue file, front to back.
struct Parser<'a> {
    file: &'a File,
    path: &'a Path,
    /// File length when opened.
    len: u64,
}

impl Parser<'_> {
    /// parse - header, trailer, checksum, envelope, updates.
    fn parse(&self) -> Result<Parsed, Error> {
        let header_bytes: [u8; 24] = match self.read_array(0)? {
            Some(bytes) => bytes,
            None => return Err(self.short_header()?),
        };
        let header = codec::decode_header(&header_bytes).map_err(|r| self.corrupt(r))?;
        if header.message_len == UNCOMMITTED {
            return Err(self.incomplete());
        }
        if usize::try_from(header.envelope_len).map_or(true, |l| l > codec::MAX_ENVELOPE_LEN) {
            return Err(self.corrupt(Corruption::EnvelopeTooLarge(header.envelope_len)));
        }
        let message_offset = HEADER_LEN + u64::from(header.envelope_len);
        let trailer_offset = message_offset
            .checked_add(header.message_len)
            .filter(|t| t.checked_add(TRAILER_LEN).is_some())
            .ok_or_else(|| self.corrupt(Corruption::LengthMismatch))?;
        let trailer_bytes: [u8; 32] = match self.read_array(trailer_offset)? {
            Some(bytes) => bytes,
            None => return Err(self.incomplete()),
        };
        let trailer = codec::decode_trailer(&trailer_bytes)
            .ok_or_else(|| self.corrupt(Corruption::BadTrailer(trailer_offset)))?;
        if trailer.envelope_len != header.envelope_len || trailer.message_len != header.message_len
        {
            return Err(self.corrupt(Corruption::LengthMismatch));
        }

        // Checksum the envelope and stream the message; keep only the envelope.
        let mut envelope_bytes = vec![0u8; usize::try_from(header.envelope_len).unwrap_or(0)];
        self.read_exact(&mut envelope_bytes, HEADER_LEN)?;
        let mut crc = Crc32::new();
        crc.update(&envelope_bytes);
        self.checksum_range(&mut crc, message_offset, trailer_offset)?;
        let computed = crc.finish();
        if computed != trailer.data_crc {
            return Err(self.corrupt(Corruption::Checksum {
                stored: trailer.data_crc,
                computed,
            }));
        }
        let envelope = codec::decode_envelope(&envelope_bytes).map_err(|r| self.corrupt(r))?;

        let mut states = vec![RecipientState::Pending; envelope.recipients.len()];
        let (end, torn) = self.apply_updates(trailer_offset + TRAILER_LEN, &mut states)?;
        Ok(Parsed {
            envelope,
            message_offset,
            message_size: header.message_len,
            states,
            end,
            torn,
        })
    }

    /// apply_updates - apply intact records from `start`; return the end of
    /// the last one and the torn tail, if any.
    fn apply_updates(
        &self,
        start: u64,
        states: &mut [RecipientState],
    ) -> Result<(u64, Option<TornTail>), Error> {
        let mut pos = start;
        while pos < self.len {
            let torn = Some(TornTail {
                offset: pos,
                len: self.len - pos,
            });
            let Some(head) = self.read_array::<5>(pos)? else {
                return Ok((pos, torn));
            };
            let (tag, payload_len) = codec::decode_update_head(&head);
            let record_len = u64::from(payload_len) + UPDATE_OVERHEAD;
            let record_end = pos.saturating_add(record_len);
            if record_end > self.len {
                // What a crash in the middle of an append leaves behind.
                return Ok((pos, torn));
            }
            if payload_len > MAX_UPDATE_LEN {
                // Never written by us, and a torn append has a true length.
                return Err(self.corrupt(Corruption::UpdateTooLarge {
                    offset: pos,
                    len: payload_len,
                }));
            }
            let mut record = vec![0u8; usize::try_from(record_len).unwrap_or(0)];
            self.read_exact(&mut record, pos)?;
            if !codec::update_crc_ok(&record) {
                // The last record, or zeros to the end (a file system that
                // extended the file but did not write the data): a torn
                // append. Anything else is damage in the middle.
                if record_end == self.len || self.zeros_from(pos)? {
                    return Ok((pos, torn));
                }
                return Err(self.corrupt(Corruption::UpdateChecksum(pos)));
            }
            let payload = record
                .get(to_usize(UPDATE_HEAD_LEN)..record.len().saturating_sub(4))
                .unwrap_or_default();
            let update = codec::decode_update(tag, payload).map_err(|e| {
                self.corrupt(match e {
                    UpdateDecodeError::UnknownTag(tag) => {
                        Corruption::UnknownUpdate { offset: pos, tag }
                    }
                    UpdateDecodeError::Payload(source) => Corruption::Update {
                        offset: pos,
                        source,
                    },
                })
            })?;
            let rcpt = update.rcpt();
            let slot = usize::try_from(rcpt)
                .ok()
                .and_then(|i| states.get_mut(i))
                .ok_or_else(|| self.corrupt(Corruption::UpdateRecipient { offset: pos, rcpt }))?;
            if slot.is_final() {
                return Err(self.corrupt(Corruption::UpdateAfterFinal { offset: pos, rcpt }));
            }
            *slot = update.into_state();
            pos = record_end;
        }
        Ok((pos, None))
    }

    /// short_header - classify a file shorter than a header: the start of a
    /// queue file is Incomplete, anything else Corrupt.
    fn short_header(&self) -> Result<Error, Error> {
        let mut buf = vec![0u8; to_usize(self.len.min(HEADER_LEN))];
        self.read_exact(&mut buf, 0)?;
        let magic_prefix = codec::HEADER_MAGIC
            .get(..buf.len().min(8))
            .unwrap_or_default();
        Ok(if buf.starts_with(magic_prefix) {
            self.incomplete()
        } else {
            self.corrupt(Corruption::BadMagic)
        })
    }

    /// checksum_range - feed bytes `from..to` through `crc` in chunks.
    fn checksum_range(&self, crc: &mut Crc32, from: u64, to: u64) -> Result<(), Error> {
        let mut buf = vec![0u8; CHUNK_LEN];
        let mut pos = from;
        while pos < to {
            let n = to_usize((to - pos).min(to_u64(CHUNK_LEN)));
            let chunk = buf.get_mut(..n).unwrap_or_default();
            self.read_exact(chunk, pos)?;
            crc.update(chunk);
            pos += to_u64(n);
        }
        Ok(())
    }

    /// zeros_from - whether every byte from `pos` to the end is zero.
    fn zeros_from(&self, pos: u64) -> Result<bool, Error> {
        let mut buf = vec![0u8; CHUNK_LEN];
        let mut pos = pos;
        while pos < self.len {
            let n = to_usize((self.len - pos).min(to_u64(CHUNK_LEN)));
            let chunk = buf.get_mut(..n).unwrap_or_default();
            self.read_exact(chunk, pos)?;
            if chunk.iter().any(|b| *b != 0) {
                return Ok(false);
            }
            pos += to_u64(n);
        }
        Ok(true)
    }

    /// read_array - N bytes at `pos`, or None if the file ends before them.
    fn read_array<const N: usize>(&self, pos: u64) -> Result<Option<[u8; N]>, Error> {
        if pos.checked_add(to_u64(N)).is_none_or(|end| end > self.len) {
            return Ok(None);
        }
        let mut buf = [0u8; N];
        self.read_exact(&mut buf, pos)?;
        Ok(Some(buf))
    }

    /// read_exact - fill `buf` from `pos`; a short read means the file
    /// shrank after we measured it, reported as Incomplete.
    fn read_exact(&self, buf: &mut [u8], pos: u64) -> Result<(), Error> {
        match self.file.read_exact_at(buf, pos) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(self.incomplete()),
            Err(e) => Err(io_err("read queue file", self.path)(e)),
        }
    }

    /// incomplete - the error for a file that ends too early.
    fn incomplete(&self) -> Error {
        Error::Incomplete {
            path: self.path.to_path_buf(),
        }
    }

    /// corrupt - the error for a file that is damaged.
    fn corrupt(&self, reason: Corruption) -> Error {
        corrupt(self.path, reason)
    }
}

/// is_not_a_file - whether opening a queue file failed because the name is
/// a symbolic link (ELOOP under O_NOFOLLOW), a directory (EISDIR) or a
/// socket (ENXIO) rather than because of the environment.
fn is_not_a_file(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(nix::libc::ELOOP | nix::libc::EISDIR | nix::libc::ENXIO)
    )
}

/// corrupt - build [`Error::Corrupt`].
fn corrupt(path: &Path, reason: Corruption) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        reason,
    }
}

/// truncated - `s` cut to at most `max` bytes at a character boundary.
fn truncated(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_owned()
}

/// to_u64 - a length as u64 (lossless on every target Rust supports here).
fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// to_usize - a small u64 (bounded by a chunk size or a format limit) as usize.
fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_respects_char_boundaries() {
        assert_eq!(truncated("hello", 10), "hello");
        assert_eq!(truncated("hello", 3), "hel");
        assert_eq!(truncated("héllo", 2), "h");
        assert_eq!(truncated("", 0), "");
    }
}
