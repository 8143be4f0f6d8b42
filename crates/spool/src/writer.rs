//! writer - creating a queue file: envelope, streamed message, commit.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::PathBuf;

use nix::fcntl::OFlag;

use crate::codec::{self, HEADER_MESSAGE_LEN_OFFSET, Header, Trailer, UNCOMMITTED};
use crate::crc::Crc32;
use crate::error::Error;
use crate::fsutil::{fsync_dir_grouped, io_err, rename_noreplace};
use crate::recycle;
use crate::spool::tmp_name;
use crate::{Envelope, Queue, QueueId, Spool};

/// How many fresh IDs `create` tries before giving up (one is normal).
const CREATE_ATTEMPTS: u32 = 8;
/// Write buffer size: large enough to make few system calls per message.
const BUFFER_LEN: usize = 64 * 1024;

/// A queue file being written: `incoming/.ID.tmp` until [`commit`](Self::commit).
///
/// Write the message bytes through [`std::io::Write`]; they go to disk in
/// buffered chunks and are never held whole in memory. Dropping the writer
/// without committing removes the temporary file (best effort; a leftover
/// is found by [`Spool::remove_stale_tmp`] and is never read as mail).
#[derive(Debug)]
pub struct QueueWriter {
    /// The ID the file will have; known from the start so it can be logged.
    id: QueueId,
    /// `incoming/.ID.tmp`.
    tmp_path: PathBuf,
    /// `incoming/ID`.
    final_path: PathBuf,
    /// The open temporary file; None once committed or aborted.
    out: Option<BufWriter<File>>,
    /// Whether the file is a recycled one (the `recycle` module), whose
    /// old contents past the new end must be cut off at commit.
    reused: bool,
    /// Running checksum over envelope and message bytes.
    crc: Crc32,
    /// Envelope length, repeated in the end record.
    envelope_len: u32,
    /// Message bytes accepted so far.
    message_len: u64,
}

impl QueueWriter {
    /// create - see [`Spool::create`].
    pub(crate) fn create(spool: &Spool, envelope: &Envelope) -> Result<Self, Error> {
        QueueWriter::create_as(spool, envelope, QueueId::new, CREATE_ATTEMPTS)
    }

    /// create_with_id - see [`Spool::create_with_id`].
    pub(crate) fn create_with_id(
        spool: &Spool,
        envelope: &Envelope,
        id: QueueId,
    ) -> Result<Self, Error> {
        QueueWriter::create_as(spool, envelope, || id, 1)
    }

    /// create_as - create with the first free ID of `attempts` from `next_id`.
    fn create_as(
        spool: &Spool,
        envelope: &Envelope,
        mut next_id: impl FnMut() -> QueueId,
        attempts: u32,
    ) -> Result<Self, Error> {
        let envelope_bytes = codec::encode_envelope(envelope)?;
        let envelope_len =
            u32::try_from(envelope_bytes.len()).map_err(|_| Error::EnvelopeTooLarge {
                len: envelope_bytes.len(),
                max: codec::MAX_ENVELOPE_LEN,
            })?;
        let dir = spool.dir(Queue::Incoming);
        for _ in 0..attempts {
            let id = next_id();
            let tmp_path = dir.join(tmp_name(&id));
            let final_path = spool.path(Queue::Incoming, &id);
            let recycled = recycle::take(spool.root(), &tmp_path);
            let reused = recycled.is_some();
            let file = match recycled {
                Some(file) => file,
                None => match OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(OFlag::O_NOFOLLOW.bits())
                    .open(&tmp_path)
                {
                    Ok(file) => file,
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                    Err(e) => return Err(io_err("create queue file", &tmp_path)(e)),
                },
            };
            let mut writer = Self {
                id,
                tmp_path,
                final_path,
                out: Some(BufWriter::with_capacity(BUFFER_LEN, file)),
                reused,
                crc: Crc32::new(),
                envelope_len,
                message_len: 0,
            };
            // The ID must also be free as a final name, or commit would fail
            // after the whole message was received. (Drop removes the tmp.)
            if fs::symlink_metadata(&writer.final_path).is_ok() {
                continue;
            }
            let header = codec::encode_header(Header {
                envelope_len,
                message_len: UNCOMMITTED,
            });
            writer.put(&header)?;
            writer.put(&envelope_bytes)?;
            writer.crc.update(&envelope_bytes);
            return Ok(writer);
        }
        Err(Error::NoFreeId { dir, attempts })
    }

    /// id - the queue ID this file gets on commit (log it from the start).
    pub fn id(&self) -> &QueueId {
        &self.id
    }

    /// message_len - message bytes written so far (for size limits).
    pub fn message_len(&self) -> u64 {
        self.message_len
    }

    /// commit - make the queue file durable and visible; returns its ID.
    ///
    /// Flushes the message, appends the end record, fills in the message
    /// length in the header, fsyncs the file, renames `.ID.tmp` to `ID`
    /// (never replacing a file) and fsyncs `incoming/`. Only after `Ok` may
    /// the caller report the mail as accepted. On `Err` the temporary file
    /// is removed and nothing was queued.
    pub fn commit(mut self) -> Result<QueueId, Error> {
        let trailer = codec::encode_trailer(Trailer {
            envelope_len: self.envelope_len,
            message_len: self.message_len,
            data_crc: self.crc.finish(),
        });
        let Some(out) = self.out.as_mut() else {
            return Err(self.closed());
        };
        let result = out.flush().and_then(|()| {
            // The buffer is empty now, so writing to the file directly
            // continues exactly where the message ended.
            let file = out.get_mut();
            file.write_all(&trailer)?;
            if self.reused {
                let end = file.stream_position()?;
                file.set_len(end)?;
            }
            file.write_all_at(&self.message_len.to_be_bytes(), HEADER_MESSAGE_LEN_OFFSET)?;
            file.sync_all()
        });
        result.map_err(io_err("write queue file", &self.tmp_path))?;
        rename_noreplace(&self.tmp_path, &self.final_path)?;
        // From here the temporary name is gone: Drop must not remove anything.
        self.out = None;
        let dir = crate::fsutil::parent(&self.final_path);
        if let Err(e) = fsync_dir_grouped(&dir) {
            // The rename may not survive a crash, so the caller must not
            // report success; take the file back so a retry by the client
            // does not deliver twice. XXX: if this unlink fails too, the
            // mail may be delivered although the client was told it was not.
            let _ = fs::remove_file(&self.final_path);
            return Err(e);
        }
        Ok(self.id)
    }

    /// abort - give up on this message: remove the temporary file.
    pub fn abort(mut self) -> Result<(), Error> {
        self.out = None;
        match fs::remove_file(&self.tmp_path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove queue file", &self.tmp_path)(e)),
        }
    }

    /// put - write header or envelope bytes (not part of the message count).
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        match self.out.as_mut() {
            Some(out) => out
                .write_all(bytes)
                .map_err(io_err("write queue file", &self.tmp_path)),
            None => Err(self.closed()),
        }
    }

    /// closed - the error for using a writer after commit or abort (cannot
    /// happen through the public API, which consumes the writer).
    fn closed(&self) -> Error {
        Error::Io {
            op: "write queue file",
            path: self.tmp_path.clone(),
            source: io::Error::other("queue writer already closed"),
        }
    }
}

impl Write for QueueWriter {
    /// write - append message bytes.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| io::Error::other("queue writer already closed"))?;
        let n = out.write(buf)?;
        if let Some(accepted) = buf.get(..n) {
            self.crc.update(accepted);
        }
        self.message_len = self
            .message_len
            .saturating_add(u64::try_from(n).unwrap_or(u64::MAX));
        Ok(n)
    }

    /// flush - push buffered bytes to the kernel (not to disk; commit does that).
    fn flush(&mut self) -> io::Result<()> {
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for QueueWriter {
    fn drop(&mut self) {
        if self.out.take().is_some() {
            // Best effort: a leftover .tmp is never read as mail.
            let _ = fs::remove_file(&self.tmp_path);
        }
    }
}
