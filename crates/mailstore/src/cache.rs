//! cache - the per-Maildir metadata cache, `postern.cache`: each
//! message's [`Metadata`] by UID, so that FETCH ENVELOPE or BODYSTRUCTURE
//! on a large folder does not parse every file again.
//!
//! ## The file
//!
//! ```text
//! header   "PSTNMETA" | version u32 LE | UIDVALIDITY u32 LE
//! record   length u32 LE | FNV-1a-64 of the payload u64 LE | payload
//! payload  postcard (UID, base name, size) | postcard Metadata
//! ```
//!
//! Records follow the header back to back; a later record for a UID
//! replaces an earlier one. The version changes whenever the encoding of
//! [`Metadata`] does (a golden test pins it). It is Postern's own file:
//! Dovecot's `dovecot.index.cache` is never written.
//!
//! ## Never trusting it
//!
//! The cache is an optimisation, and the user's file: anything wrong
//! with it means recomputing, never a wrong answer or an error. A missing
//! file, a wrong magic, an unknown version, another UIDVALIDITY, or an
//! unreadable file means an empty cache. Records are read up to the first
//! one that is cut short, fails its checksum, or does not decode; the
//! rest of the file is ignored (and the next flush rewrites it). An entry
//! is used only for the message it was made from: same UID, same base
//! name, same size ([`MessageEntry`](crate::MessageEntry)'s), else it is
//! recomputed; one whose metadata does not decode is recomputed too.
//!
//! ## Writing
//!
//! [`Mailbox::flush_metadata`](crate::Mailbox::flush_metadata) writes
//! what was computed since the last flush, under an flock on
//! `postern.cache.lock` (Postern's only; Dovecot never reads this file).
//! Under the lock it first reads what other sessions added since it read
//! the file (or the whole file, if another session replaced it), then
//! either appends the new records at the end, or, when the file is
//! missing, damaged, or a quarter or more of its records are dead
//! (expunged messages, replaced entries), replaces it whole: temporary
//! file, fsync, rename, directory fsync. Appends are not fsynced: a crash
//! can cut the last records short, which readers detect and the next
//! flush repairs. A reader never needs the lock: appends only add bytes
//! after the last complete record, and replacement is a rename.
//!
//! XXX: memory is not bounded: the whole file is read at the first
//! lookup, and every entry stays in memory (encoded until first used,
//! then decoded). Fine for 100,000 messages (about 100 MB); a bounded
//! cache would read records on demand through an index of offsets.
//! XXX: a message is read whole into memory to be parsed; its size is
//! bounded by `message_size_limit` at delivery, not here.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::BorrowedFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg, OFlag};
use nix::sys::stat::{Mode, fstat};
use serde::{Deserialize, Serialize};

use crate::error::{Error, errno_err, io_err};
use crate::fsutil::{FileMode, match_dir_owner, open_regular_at, replace_file};
use crate::metadata::Metadata;

/// The cache's file name, in the Maildir's directory.
pub(crate) const CACHE_FILE: &str = "postern.cache";

/// The lock file's name: flocked while the cache file is written.
pub(crate) const CACHE_LOCK: &str = "postern.cache.lock";

/// The first bytes of a cache file.
const MAGIC: &[u8; 8] = b"PSTNMETA";

/// The format version; change it whenever the encoding of a record or of
/// [`Metadata`] changes.
pub(crate) const VERSION: u32 = 2;

/// Bytes before the first record: magic, version, UIDVALIDITY.
pub(crate) const HEADER_LEN: usize = 16;

/// Bytes before each record's payload: its length and checksum.
const RECORD_HEAD_LEN: usize = 12;

/// A record longer than this is taken for garbage (real ones are a few
/// KB; a structure with thousands of parts stays far below).
const MAX_RECORD_LEN: u32 = 16 * 1024 * 1024;

/// Messages are parsed from at most this many bytes (a longer one is
/// described from its beginning); delivery bounds them far lower.
pub(crate) const MAX_MESSAGE_LEN: u64 = 1024 * 1024 * 1024;

/// How long a flush waits for another writer before giving up (writers
/// hold the lock for one append or rewrite).
const LOCK_TIMEOUT: Duration = Duration::from_secs(10);

/// The pause between attempts to take the lock.
const LOCK_PAUSE: Duration = Duration::from_millis(10);

/// A cache file larger than this is ignored and rebuilt.
const MAX_FILE_LEN: u64 = 2 * 1024 * 1024 * 1024;

/// RecordHead - the start of a record's payload: whose metadata follows.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RecordHead {
    /// The message's UID.
    pub(crate) uid: u32,
    /// Its base name when the entry was made.
    pub(crate) base: String,
    /// Its size (as stored) when the entry was made.
    pub(crate) size: u64,
}

/// Body - an entry's metadata, as read or once used.
#[derive(Debug, Clone)]
enum Body {
    /// The postcard encoding, as read from the file, not decoded yet.
    Encoded(Arc<[u8]>),
    /// Decoded (or computed).
    Decoded(Arc<Metadata>),
}

/// Slot - one cached entry.
#[derive(Debug, Clone)]
struct Slot {
    /// The base name the entry was made for.
    base: String,
    /// The stored size the entry was made for.
    size: u64,
    /// The metadata.
    body: Body,
    /// Whether the file holds this entry already.
    persisted: bool,
}

/// FileId - a file's device and inode.
type FileId = (u64, u64);

/// FileState - which file the cache was read from, and how far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileState {
    /// Device and inode: another session's rewrite makes a new file.
    id: FileId,
    /// The end of the last complete record read.
    valid_end: u64,
}

/// MetadataCache - the metadata cache of one Maildir, in memory.
#[derive(Debug)]
pub(crate) struct MetadataCache {
    /// The UIDVALIDITY the entries belong to.
    uidvalidity: u32,
    /// The entries by UID.
    slots: HashMap<u32, Slot>,
    /// The file read, if it was valid.
    file: Option<FileState>,
    /// Records in the file that no live entry uses (replaced, expunged,
    /// or undecodable): what a rewrite would save.
    dead: usize,
    /// Whether the file read was damaged (bad header, or bytes after the
    /// last complete record), so the next flush rewrites it.
    damaged: bool,
}

/// Scanned - the records found in a cache file's bytes.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    /// The records, in file order.
    pub(crate) records: Vec<(RecordHead, Arc<[u8]>)>,
    /// The end of the last complete record.
    pub(crate) valid_end: u64,
    /// Whether bytes follow the last complete record.
    pub(crate) damaged_tail: bool,
}

impl MetadataCache {
    /// empty - a cache with no entries, for `uidvalidity`.
    pub(crate) fn empty(uidvalidity: u32) -> MetadataCache {
        MetadataCache {
            uidvalidity,
            slots: HashMap::new(),
            file: None,
            dead: 0,
            damaged: false,
        }
    }

    /// load - the cache of the Maildir open as `dir`, for `uidvalidity`;
    /// empty if there is no usable file (a reason is logged).
    pub(crate) fn load(dir: BorrowedFd<'_>, dir_path: &Path, uidvalidity: u32) -> MetadataCache {
        let mut cache = MetadataCache::empty(uidvalidity);
        match open_cache(dir, dir_path, false) {
            Ok(Some((mut file, id))) => {
                cache.damaged = cache.read_from(&mut file, id, dir_path, 0);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read metadata cache; ignoring it"),
        }
        cache
    }

    /// uidvalidity - the UIDVALIDITY the entries belong to.
    pub(crate) fn uidvalidity(&self) -> u32 {
        self.uidvalidity
    }

    /// get - the entry for `uid` if it was made for this base name and
    /// size and decodes; a stale or broken one is dropped.
    pub(crate) fn get(&mut self, uid: u32, base: &str, size: u64) -> Option<Arc<Metadata>> {
        let slot = self.slots.get_mut(&uid)?;
        if slot.base != base || slot.size != size {
            tracing::debug!(uid, "metadata cache entry is stale; recomputing");
            self.drop_slot(uid);
            return None;
        }
        match &slot.body {
            Body::Decoded(metadata) => Some(Arc::clone(metadata)),
            Body::Encoded(bytes) => match decode_metadata(bytes) {
                Some(metadata) => {
                    let metadata = Arc::new(metadata);
                    slot.body = Body::Decoded(Arc::clone(&metadata));
                    Some(metadata)
                }
                None => {
                    tracing::warn!(uid, "metadata cache entry does not decode; recomputing");
                    self.drop_slot(uid);
                    None
                }
            },
        }
    }

    /// insert - remember computed metadata, to be written at the next
    /// flush.
    pub(crate) fn insert(&mut self, uid: u32, base: &str, size: u64, metadata: Arc<Metadata>) {
        let slot = Slot {
            base: base.to_owned(),
            size,
            body: Body::Decoded(metadata),
            persisted: false,
        };
        if let Some(old) = self.slots.insert(uid, slot)
            && old.persisted
        {
            self.dead += 1;
        }
    }

    /// unwritten - how many entries the next flush would write.
    pub(crate) fn unwritten(&self) -> usize {
        self.slots.values().filter(|s| !s.persisted).count()
    }

    /// flush - forget entries whose UID `is_live` rejects (expunged),
    /// then write what is not in the file yet (see the module notes).
    /// Returns how many entries were written.
    pub(crate) fn flush(
        &mut self,
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        is_live: impl Fn(u32) -> bool,
    ) -> Result<usize, Error> {
        self.forget_expunged(&is_live);
        if self.unwritten() == 0 && !self.needs_rewrite() {
            return Ok(0);
        }
        let _lock = lock(dir, dir_path)?;
        // Catch up with what other sessions wrote since we read the file.
        let opened = match open_cache(dir, dir_path, true) {
            Err(e @ (Error::Symlink { .. } | Error::NotARegularFile { .. })) => {
                // Replaced by the rename below, never written through.
                tracing::warn!(error = %e, "metadata cache is not a regular file; replacing it");
                None
            }
            other => other?,
        };
        let mut rewrite = match opened {
            None => true,
            Some((mut file, id)) => {
                let (from, same) = match self.file {
                    Some(state) if state.id == id => (state.valid_end, true),
                    _ => (0, false),
                };
                if !same {
                    // Replaced (or never read): start again from it, keeping
                    // what we computed.
                    let computed: Vec<(u32, Slot)> = self
                        .slots
                        .iter()
                        .filter(|(_, s)| !s.persisted)
                        .map(|(&uid, s)| (uid, s.clone()))
                        .collect();
                    self.slots.clear();
                    self.file = None;
                    self.dead = 0;
                    for (uid, slot) in computed {
                        self.slots.insert(uid, slot);
                    }
                }
                self.damaged = self.read_from(&mut file, id, dir_path, from);
                self.damaged || self.file.is_none()
            }
        };
        // Records others wrote may be for messages we know are gone.
        self.forget_expunged(&is_live);
        rewrite |= self.needs_rewrite();
        let unwritten = self.unwritten();
        if rewrite {
            let written = self.rewrite(dir, dir_path)?;
            tracing::debug!(path = %dir_path.display(), entries = written, "metadata cache rewritten");
            return Ok(unwritten);
        }
        if unwritten == 0 {
            return Ok(0);
        }
        self.append(dir, dir_path)?;
        Ok(unwritten)
    }

    // ---- internals ----

    /// needs_rewrite - whether the file read was damaged, or its dead
    /// records are a quarter or more of the live ones.
    fn needs_rewrite(&self) -> bool {
        self.damaged || (self.dead > 0 && self.dead.saturating_mul(4) >= self.slots.len())
    }

    /// forget_expunged - drop the entries whose UID `is_live` rejects.
    fn forget_expunged(&mut self, is_live: &impl Fn(u32) -> bool) {
        let expunged: Vec<u32> = self
            .slots
            .keys()
            .copied()
            .filter(|&uid| !is_live(uid))
            .collect();
        for uid in expunged {
            self.drop_slot(uid);
        }
    }

    /// drop_slot - forget an entry; if the file has it, it is now dead.
    fn drop_slot(&mut self, uid: u32) {
        if let Some(slot) = self.slots.remove(&uid)
            && slot.persisted
        {
            self.dead += 1;
        }
    }

    /// read_from - read the records of `file` from `from` (0: the header
    /// first) into the slots; a computed entry for the same UID, base and
    /// size counts as written. Returns whether the file is damaged after
    /// its last complete record (it then needs rewriting). A file with a
    /// bad header leaves `self.file` None.
    fn read_from(&mut self, file: &mut File, id: FileId, dir_path: &Path, from: u64) -> bool {
        let path = dir_path.join(CACHE_FILE);
        let data = match read_tail(file, from) {
            Ok(data) => data,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read metadata cache; ignoring it");
                self.file = None;
                return true;
            }
        };
        let (start, base_offset) = if from == 0 {
            match parse_header(&data) {
                Some(uidvalidity) if uidvalidity == self.uidvalidity => (HEADER_LEN, 0),
                Some(_) => {
                    tracing::info!(path = %path.display(), "metadata cache is for another UIDVALIDITY; rebuilding");
                    self.file = None;
                    return true;
                }
                None => {
                    tracing::warn!(path = %path.display(), "metadata cache has an unknown header; rebuilding");
                    self.file = None;
                    return true;
                }
            }
        } else {
            (0, from)
        };
        let read = parse_records(&data, start);
        if read.damaged_tail {
            tracing::warn!(path = %path.display(), offset = base_offset + read.valid_end, "metadata cache is damaged after this offset; ignoring the rest");
        }
        for (head, bytes) in read.records {
            let slot = Slot {
                base: head.base,
                size: head.size,
                body: Body::Encoded(bytes),
                persisted: true,
            };
            match self.slots.get(&head.uid) {
                Some(ours) if !ours.persisted => {
                    if ours.base == slot.base && ours.size == slot.size {
                        // Another session computed the same entry: keep our
                        // decoded copy, but do not write it again.
                        if let Some(ours) = self.slots.get_mut(&head.uid) {
                            ours.persisted = true;
                        }
                    } else {
                        self.dead += 1;
                    }
                }
                Some(_) => {
                    self.dead += 1;
                    self.slots.insert(head.uid, slot);
                }
                None => {
                    self.slots.insert(head.uid, slot);
                }
            }
        }
        self.file = Some(FileState {
            id,
            valid_end: base_offset + read.valid_end,
        });
        read.damaged_tail
    }

    /// rewrite - replace the file with one holding every entry; returns
    /// how many.
    fn rewrite(&mut self, dir: BorrowedFd<'_>, dir_path: &Path) -> Result<usize, Error> {
        let mut out = header(self.uidvalidity);
        let mut uids: Vec<u32> = self.slots.keys().copied().collect();
        uids.sort_unstable();
        let mut written = 0;
        for uid in &uids {
            if let Some(slot) = self.slots.get(uid)
                && let Some(record) = encode_record(*uid, slot)
            {
                out.extend_from_slice(&record);
                written += 1;
            }
        }
        replace_file(dir, dir_path, CACHE_FILE, &out, FileMode::Private)?;
        let path = dir_path.join(CACHE_FILE);
        let st = crate::fsutil::stat_at(dir, CACHE_FILE, &path)?;
        self.file = st.map(|st| FileState {
            id: (st.st_dev, st.st_ino),
            valid_end: u64::try_from(out.len()).unwrap_or(u64::MAX),
        });
        for slot in self.slots.values_mut() {
            slot.persisted = true;
        }
        self.dead = 0;
        self.damaged = false;
        Ok(written)
    }

    /// append - add the unwritten entries after the last record (the
    /// caller holds the lock and has read up to the end).
    fn append(&mut self, dir: BorrowedFd<'_>, dir_path: &Path) -> Result<(), Error> {
        let path = dir_path.join(CACHE_FILE);
        let Some(state) = self.file else {
            return Ok(());
        };
        let mut out = Vec::new();
        let mut uids: Vec<u32> = self
            .slots
            .iter()
            .filter(|(_, s)| !s.persisted)
            .map(|(&uid, _)| uid)
            .collect();
        uids.sort_unstable();
        for uid in &uids {
            if let Some(slot) = self.slots.get(uid)
                && let Some(record) = encode_record(*uid, slot)
            {
                out.extend_from_slice(&record);
            }
        }
        let Some((file, id)) = open_cache(dir, dir_path, true)? else {
            return Ok(());
        };
        if id != state.id {
            // Cannot happen under the lock; leave it for the next flush.
            return Ok(());
        }
        file.write_all_at(&out, state.valid_end)
            .map_err(io_err("write", &path))?;
        self.file = Some(FileState {
            id,
            valid_end: state
                .valid_end
                .saturating_add(u64::try_from(out.len()).unwrap_or(u64::MAX)),
        });
        for uid in uids {
            if let Some(slot) = self.slots.get_mut(&uid) {
                slot.persisted = true;
            }
        }
        Ok(())
    }
}

/// decode_metadata - a record's metadata; None if it does not decode
/// exactly.
pub(crate) fn decode_metadata(bytes: &[u8]) -> Option<Metadata> {
    match postcard::take_from_bytes::<Metadata>(bytes) {
        Ok((metadata, [])) => Some(metadata),
        _ => None,
    }
}

/// header - a cache file's first bytes.
pub(crate) fn header(uidvalidity: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&uidvalidity.to_le_bytes());
    out
}

/// parse_header - the UIDVALIDITY of a cache file with our magic and
/// version.
pub(crate) fn parse_header(data: &[u8]) -> Option<u32> {
    let magic = data.get(..8)?;
    let version = u32::from_le_bytes(data.get(8..12)?.try_into().ok()?);
    let uidvalidity = u32::from_le_bytes(data.get(12..16)?.try_into().ok()?);
    (magic == MAGIC && version == VERSION).then_some(uidvalidity)
}

/// encode_record - one framed record; None (logged) if the metadata
/// does not encode, which would be a bug.
fn encode_record(uid: u32, slot: &Slot) -> Option<Vec<u8>> {
    let head = RecordHead {
        uid,
        base: slot.base.clone(),
        size: slot.size,
    };
    let encoded = (|| {
        let mut payload = postcard::to_allocvec(&head)?;
        match &slot.body {
            Body::Encoded(bytes) => payload.extend_from_slice(bytes),
            Body::Decoded(metadata) => {
                payload.extend_from_slice(&postcard::to_allocvec(metadata.as_ref())?);
            }
        }
        Ok::<_, postcard::Error>(payload)
    })();
    let payload = match encoded {
        Ok(payload) => payload,
        Err(e) => {
            tracing::error!(uid, error = %e, "cannot encode metadata cache entry; not cached");
            return None;
        }
    };
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&l| l <= MAX_RECORD_LEN)?;
    let mut out = Vec::with_capacity(RECORD_HEAD_LEN + payload.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&fnv1a(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Some(out)
}

/// encode_entry - the framed record [`encode_record`] writes for an entry
/// computed now (for the fuzz targets: seeds and round trips).
pub(crate) fn encode_entry(uid: u32, base: &str, size: u64, metadata: Metadata) -> Option<Vec<u8>> {
    let slot = Slot {
        base: base.to_owned(),
        size,
        body: Body::Decoded(Arc::new(metadata)),
        persisted: false,
    };
    encode_record(uid, &slot)
}

/// parse_records - the complete, intact records in `data` from `start`.
pub(crate) fn parse_records(data: &[u8], start: usize) -> Scanned {
    let mut read = Scanned::default();
    let mut pos = start;
    loop {
        let rest = data.get(pos..).unwrap_or_default();
        if rest.is_empty() {
            break;
        }
        let Some(record) = parse_record(rest) else {
            read.damaged_tail = true;
            break;
        };
        let (head, metadata, len) = record;
        read.records.push((head, Arc::from(metadata)));
        pos += len;
    }
    read.valid_end = u64::try_from(pos).unwrap_or(u64::MAX);
    read
}

/// parse_record - the record at the start of `data`: its head, its
/// metadata bytes, and its framed length; None if it is cut short, too
/// long, fails its checksum, or its head does not decode.
fn parse_record(data: &[u8]) -> Option<(RecordHead, &[u8], usize)> {
    let len = u32::from_le_bytes(data.get(..4)?.try_into().ok()?);
    if len > MAX_RECORD_LEN {
        return None;
    }
    let checksum = u64::from_le_bytes(data.get(4..RECORD_HEAD_LEN)?.try_into().ok()?);
    let len = usize::try_from(len).ok()?;
    let payload = data.get(RECORD_HEAD_LEN..RECORD_HEAD_LEN.checked_add(len)?)?;
    if fnv1a(payload) != checksum {
        return None;
    }
    let (head, metadata) = postcard::take_from_bytes::<RecordHead>(payload).ok()?;
    Some((head, metadata, RECORD_HEAD_LEN + len))
}

/// fnv1a - the 64-bit FNV-1a hash: a stable checksum against torn and
/// damaged records (not against tampering: the file is the user's, and
/// its contents only ever describe the user's own mail).
pub(crate) fn fnv1a(data: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// open_cache - the cache file and its (device, inode), opened without
/// following a symbolic link, read-only or read-write; None if there is
/// none.
fn open_cache(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    write: bool,
) -> Result<Option<(File, FileId)>, Error> {
    let path = dir_path.join(CACHE_FILE);
    let access = if write {
        OFlag::O_RDWR
    } else {
        OFlag::O_RDONLY
    };
    Ok(open_regular_at(dir, CACHE_FILE, &path, access)?
        .map(|(fd, st)| (File::from(fd), (st.st_dev, st.st_ino))))
}

/// read_tail - the file's bytes from `from` to its end, at most
/// [`MAX_FILE_LEN`] in all.
fn read_tail(file: &mut File, from: u64) -> io::Result<Vec<u8>> {
    let len = file.metadata()?.len();
    if len > MAX_FILE_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {MAX_FILE_LEN} bytes"),
        ));
    }
    file.seek(SeekFrom::Start(from))?;
    let mut data = Vec::with_capacity(usize::try_from(len.saturating_sub(from)).unwrap_or(0));
    file.take(MAX_FILE_LEN.saturating_sub(from))
        .read_to_end(&mut data)?;
    Ok(data)
}

/// lock - the flock that serialises writers of the cache file; released
/// on drop. The lock file is created once (mode 0600) and never removed,
/// since removing a flocked file lets two writers lock different files.
fn lock(dir: BorrowedFd<'_>, dir_path: &Path) -> Result<Flock<File>, Error> {
    let path = dir_path.join(CACHE_LOCK);
    let flags = OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = match nix::fcntl::openat(dir, CACHE_LOCK, flags, Mode::from_bits_truncate(0o600)) {
        Ok(fd) => fd,
        Err(Errno::ELOOP) => return Err(Error::Symlink { path }),
        Err(errno) => return Err(errno_err("open", &path)(errno)),
    };
    let dir_st = fstat(dir).map_err(errno_err("stat", dir_path))?;
    match_dir_owner(&fd, &dir_st, &path)?;
    let start = Instant::now();
    let mut file = File::from(fd);
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => return Ok(locked),
            Err((unlocked, Errno::EWOULDBLOCK | Errno::EINTR)) => {
                let waited = start.elapsed();
                if waited >= LOCK_TIMEOUT {
                    return Err(Error::LockTimeout { path, waited });
                }
                file = unlocked;
                std::thread::sleep(LOCK_PAUSE);
            }
            Err((_, errno)) => return Err(errno_err("lock (flock)", &path)(errno)),
        }
    }
}

#[cfg(test)]
mod tests;
