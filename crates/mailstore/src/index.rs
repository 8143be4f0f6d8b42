//! index - the per-Maildir view index, `postern.index`: what the last
//! complete scan of a folder found, so that opening a large folder that
//! did not change since costs reading one file instead of listing and
//! stat'ing every message file.
//!
//! ## The file
//!
//! ```text
//! header   "PSTNINDX" | version u32 | body length u64 | FNV-1a-64 of the body u64
//! body     UIDVALIDITY u32 | next UID u32 | HIGHESTMODSEQ u64
//!          | UID list stamp (56 bytes) | new/ time | cur/ time | count u32
//!          | count x message | text length u64 | text
//! message  UID u32 | location u8 | flags u64 | size u64 | wire size u64
//!          | internal date | modseq u64 | base length u32 | name length u32
//!          | POP3 UIDL length u32 (u32::MAX: none)
//! time     seconds since the Unix epoch u64 | nanoseconds u32
//! text     each message's name, then its POP3 UIDL, one after the other
//! ```
//!
//! All numbers little-endian. The text is UTF-8, checked once as a
//! whole. The snapshot is written only after a scan
//! that saw both directories settled (unchanged during the scan and for a
//! second before it, see the `mailbox` module), so equal directory times
//! later mean equal directory contents; the UID list's stamp
//! ([`FileStamp`]) says the same for the UID list. A view opened from a
//! snapshot whose times and stamp still match the folder needs no scan at
//! all; one that does not match still uses it to skip the `stat` of every
//! file whose name it lists (and, for a directory whose time matches, the
//! listing of that directory).
//!
//! ## Never trusting it
//!
//! Like the metadata cache, the index is an optimisation: a missing
//! file, a wrong magic or version, a checksum that does not match, or a
//! body that does not decode means a full scan, never an error. It is
//! replaced whole (temporary file and rename) without fsync: after a
//! crash it may be empty or cut short, which the checksum catches. Two
//! sessions writing at once leave one of two valid snapshots. Dovecot
//! neither reads nor writes it.

use std::hash::Hasher;
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Error;
use crate::fasthash::Fnv;
use crate::flags::Flags;
use crate::fsutil::{FileMode, FileStamp, read_file_at, replace_cache_file};
use crate::mailbox::{Location, MessageEntry};

/// The index's file name, in the Maildir's directory.
pub(crate) const INDEX_FILE: &str = "postern.index";

/// The first bytes of an index file.
pub(crate) const MAGIC: &[u8; 8] = b"PSTNINDX";

/// The format version; change it whenever the encoding changes.
pub(crate) const VERSION: u32 = 1;

/// Bytes before the body: magic, version, body length, checksum.
const HEADER_LEN: usize = 8 + 4 + 8 + 8;

/// An index larger than this is ignored rather than read (a million
/// messages take about 120 MB).
const MAX_SIZE: u64 = 512 * 1024 * 1024;

/// Bytes of one message's fixed-size record.
const RECORD_LEN: usize = 4 + 1 + 8 + 8 + 8 + 12 + 8 + 4 + 4 + 4;

/// No POP3 UIDL saved for the message.
const NO_UIDL: u32 = u32::MAX;

/// Head - what a snapshot says of the folder as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    /// The folder's UIDVALIDITY.
    pub(crate) uidvalidity: u32,
    /// The next UID.
    pub(crate) next_uid: u32,
    /// HIGHESTMODSEQ.
    pub(crate) highest_modseq: u64,
    /// The UID list the view was built from.
    pub(crate) uidlist: FileStamp,
    /// The modification times of `new/` and `cur/` the scan saw.
    pub(crate) dirs: [SystemTime; 2],
}

/// load - the snapshot saved in the Maildir open as `dir`; None if there
/// is none or it is unusable (see the module notes).
pub(crate) fn load(dir: BorrowedFd<'_>, dir_path: &Path) -> Option<(Head, Vec<MessageEntry>)> {
    let data = match read_file_at(dir, dir_path, INDEX_FILE, MAX_SIZE, "index") {
        Ok(data) => data?,
        Err(e) => {
            tracing::debug!(error = %e, "index unreadable; scanning");
            return None;
        }
    };
    let decoded = decode(&data);
    if decoded.is_none() {
        tracing::debug!(path = %dir_path.join(INDEX_FILE).display(), "index damaged or of another version; scanning");
    }
    decoded
}

/// save - write a snapshot, replacing the one there.
pub(crate) fn save(
    dir: BorrowedFd<'_>,
    dir_path: &Path,
    head: &Head,
    messages: &[MessageEntry],
) -> Result<(), Error> {
    replace_cache_file(
        dir,
        dir_path,
        INDEX_FILE,
        &encode(head, messages),
        FileMode::Private,
    )
}

/// encode - a snapshot's bytes.
pub(crate) fn encode(head: &Head, messages: &[MessageEntry]) -> Vec<u8> {
    let mut body = Vec::with_capacity(128 + messages.len() * 110);
    body.extend_from_slice(&head.uidvalidity.to_le_bytes());
    body.extend_from_slice(&head.next_uid.to_le_bytes());
    body.extend_from_slice(&head.highest_modseq.to_le_bytes());
    body.extend_from_slice(&head.uidlist.to_bytes());
    for t in head.dirs {
        put_time(&mut body, t);
    }
    let Ok(count) = u32::try_from(messages.len()) else {
        return Vec::new();
    };
    body.extend_from_slice(&count.to_le_bytes());
    let mut text = String::with_capacity(messages.len() * 64);
    for m in messages {
        body.extend_from_slice(&m.uid.to_le_bytes());
        body.push(match m.location {
            Location::New => 0,
            Location::Cur => 1,
        });
        body.extend_from_slice(&m.flags.bits().to_le_bytes());
        body.extend_from_slice(&m.size.to_le_bytes());
        body.extend_from_slice(&m.wire_size.to_le_bytes());
        put_time(&mut body, m.internal_date);
        body.extend_from_slice(&m.modseq.to_le_bytes());
        put_len(&mut body, m.base().len());
        put_len(&mut body, m.file_name().len());
        text.push_str(m.file_name());
        match &m.saved_pop3_uidl {
            Some(uidl) => {
                put_len(&mut body, uidl.len());
                text.push_str(uidl);
            }
            None => body.extend_from_slice(&NO_UIDL.to_le_bytes()),
        }
    }
    body.extend_from_slice(&(text.len() as u64).to_le_bytes());
    body.extend_from_slice(text.as_bytes());
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(body.len() as u64).to_le_bytes());
    out.extend_from_slice(&checksum(&body).to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// decode - a snapshot from its bytes; None if anything is off.
pub(crate) fn decode(data: &[u8]) -> Option<(Head, Vec<MessageEntry>)> {
    let mut r = Reader(data);
    if r.bytes(MAGIC.len())? != MAGIC || r.u32()? != VERSION {
        return None;
    }
    let len = usize::try_from(r.u64()?).ok()?;
    let sum = r.u64()?;
    let body = r.bytes(len)?;
    if !r.0.is_empty() || checksum(body) != sum {
        return None;
    }
    let mut r = Reader(body);
    let uidvalidity = r.u32()?;
    let next_uid = r.u32()?;
    let highest_modseq = r.u64()?;
    let uidlist = FileStamp::from_bytes(r.bytes(56)?.try_into().ok()?);
    let dirs = [r.time()?, r.time()?];
    let count = usize::try_from(r.u32()?).ok()?;
    let mut records = Reader(r.bytes(count.checked_mul(RECORD_LEN)?)?);
    let text_len = usize::try_from(r.u64()?).ok()?;
    let text = std::str::from_utf8(r.bytes(text_len)?).ok()?;
    if !r.0.is_empty() {
        return None;
    }
    let mut at: usize = 0;
    let mut take = |len: usize| {
        let s = text.get(at..at.checked_add(len)?)?;
        at += len;
        Some(s)
    };
    let mut messages = Vec::with_capacity(count);
    let mut last_uid = 0;
    for _ in 0..count {
        let uid = records.u32()?;
        let location = match records.u8()? {
            0 => Location::New,
            1 => Location::Cur,
            _ => return None,
        };
        let flags = Flags::from_bits(records.u64()?)?;
        let size = records.u64()?;
        let wire_size = records.u64()?;
        let internal_date = records.time()?;
        let modseq = records.u64()?;
        let base_len = usize::try_from(records.u32()?).ok()?;
        let name = take(usize::try_from(records.u32()?).ok()?)?;
        let saved_pop3_uidl = match records.u32()? {
            NO_UIDL => None,
            n => Some(take(usize::try_from(n).ok()?)?.to_owned()),
        };
        if uid <= last_uid || !name.is_char_boundary(base_len) || base_len > name.len() {
            return None;
        }
        last_uid = uid;
        messages.push(MessageEntry {
            uid,
            name: name.into(),
            base_len,
            location,
            flags,
            size,
            wire_size,
            internal_date,
            modseq,
            saved_pop3_uidl,
        });
    }
    if at != text.len() {
        return None;
    }
    let head = Head {
        uidvalidity,
        next_uid,
        highest_modseq,
        uidlist,
        dirs,
    };
    Some((head, messages))
}

/// checksum - against torn and damaged files: FNV-1a-64 in four lanes
/// of eight bytes (so the multiplications overlap), folded together with
/// the rest. Any single changed word changes its lane's result.
pub(crate) fn checksum(body: &[u8]) -> u64 {
    let mut lanes = [0xcbf2_9ce4_8422_2325_u64; 4];
    let mut blocks = body.chunks_exact(32);
    for block in &mut blocks {
        for (lane, word) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            *lane = (*lane ^ u64::from_le_bytes(bytes)).wrapping_mul(FNV_PRIME);
        }
    }
    let mut hasher = Fnv::default();
    for lane in lanes {
        hasher.write(&lane.to_le_bytes());
    }
    hasher.write(blocks.remainder());
    hasher.finish()
}

/// The FNV-64 prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// put_time - a time as seconds and nanoseconds since the Unix epoch
/// (earlier times as the epoch).
fn put_time(out: &mut Vec<u8>, t: SystemTime) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    out.extend_from_slice(&d.as_secs().to_le_bytes());
    out.extend_from_slice(&d.subsec_nanos().to_le_bytes());
}

/// put_len - a length as u32.
fn put_len(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

/// Reader - a cursor over the bytes still to decode.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// bytes - the next `n` bytes.
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    /// u8 - one byte.
    fn u8(&mut self) -> Option<u8> {
        Some(*self.bytes(1)?.first()?)
    }

    /// u32 - four bytes, little-endian.
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.bytes(4)?.try_into().ok()?))
    }

    /// u64 - eight bytes, little-endian.
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.bytes(8)?.try_into().ok()?))
    }

    /// time - a time written by [`put_time`].
    fn time(&mut self) -> Option<SystemTime> {
        let secs = self.u64()?;
        let nanos = self.u32()?;
        if nanos >= 1_000_000_000 {
            return None;
        }
        UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(uid: u32, name: &str, uidl: Option<&str>) -> MessageEntry {
        let base_len = name.find(':').unwrap_or(name.len());
        MessageEntry {
            uid,
            name: name.into(),
            base_len,
            location: if name.contains(':') {
                Location::Cur
            } else {
                Location::New
            },
            flags: Flags::from_file_name(name),
            size: 100 + u64::from(uid),
            wire_size: 103 + u64::from(uid),
            internal_date: UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            modseq: 1_700_000_000_000_000 + u64::from(uid),
            saved_pop3_uidl: uidl.map(str::to_owned),
        }
    }

    fn head() -> Head {
        let st = nix::sys::stat::stat("/").unwrap();
        Head {
            uidvalidity: 77,
            next_uid: 9,
            highest_modseq: 123,
            uidlist: FileStamp::of(&st),
            dirs: [
                UNIX_EPOCH + Duration::new(5, 6),
                UNIX_EPOCH + Duration::new(7, 999_999_999),
            ],
        }
    }

    #[test]
    fn snapshots_round_trip() {
        let messages = vec![
            entry(1, "1.M1P1.host,S=10", None),
            entry(3, "3.M1P1.host:2,FS", Some("uidl-3")),
            entry(8, "8.M1P1.h\u{e9}:2,", None),
        ];
        let (h, m) = decode(&encode(&head(), &messages)).unwrap();
        assert_eq!(h, head());
        assert_eq!(m, messages);
        assert_eq!(m[1].base(), "3.M1P1.host");
        assert!(m[1].flags.contains(crate::Flag::Seen));
    }

    #[test]
    fn damage_of_any_kind_is_refused() {
        let bytes = encode(&head(), &[entry(1, "1.a:2,S", None), entry(2, "2.b", None)]);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            assert!(decode(&damaged).is_none(), "flipped byte {at}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_none());
    }

    #[test]
    fn uids_out_of_order_are_refused() {
        let bytes = encode(&head(), &[entry(2, "2.b", None), entry(1, "1.a", None)]);
        assert!(decode(&bytes).is_none());
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_decode_without_panicking(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = decode(&data);
        }
    }
}
