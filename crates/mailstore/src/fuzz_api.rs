//! fuzz_api - entry points for the fuzz targets in `fuzz/`; not for other use.
//!
//! Thin wrappers around the crate's private parsers of what it reads from
//! disk (the user's files: message file names, `dovecot-uidlist`,
//! `dovecot-keywords`, `subscriptions`, `maildirsize`, `postern.index`,
//! `postern.cache`),
//! so that `cargo fuzz` can reach them with bytes, plus the writers that
//! produce those files, for round-trip checks. Nothing here is a stable API:
//! it changes whenever the parsers do.

use std::path::Path;

use crate::cache;
use crate::index;
use crate::keywords;
use crate::mailbox::MessageEntry;
use crate::metadata::Metadata;
use crate::name;
use crate::quota::{self, Usage};
use crate::subscriptions::{self, Version};
use crate::uidlist::{self, UidList};

/// A path for log messages; nothing is opened.
const NO_PATH: &str = "fuzz";

/// size_field - the `,S=` (`key` 'S') or `,W=` (`key` 'W') size in a message
/// file name, as the mailbox scan and quota read it.
pub fn size_field(file_name: &str, key: char) -> Option<u64> {
    name::size_field(file_name, key)
}

/// name_with_sizes - the name delivery gives a message stored under `unique`.
pub fn name_with_sizes(unique: &str, size: u64, wire_size: u64) -> String {
    name::with_sizes(unique, size, wire_size)
}

/// base_name - a message file name without its `:2,` flags suffix.
pub fn base_name(file_name: &str) -> &str {
    uidlist::base_name(file_name)
}

/// A `dovecot-uidlist` as read, flattened for the fuzz targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UidListDump {
    /// The folder's UIDVALIDITY.
    pub uidvalidity: u32,
    /// The next UID.
    pub next_uid: u32,
    /// The folder's GUID, as read.
    pub guid: Option<String>,
    /// Header fields kept verbatim.
    pub extra_header: Vec<String>,
    /// Each record: UID, extension fields, base name.
    pub records: Vec<(u32, Vec<String>, String)>,
    /// The list written back in version 3 format.
    pub written: Vec<u8>,
}

/// parse_uidlist - a UID list's bytes as [`UidList::parse`] reads them
/// (`complete`: the reader holds the lock); None if the header is unusable.
pub fn parse_uidlist(data: &[u8], complete: bool) -> Option<UidListDump> {
    let list = UidList::parse(data, Path::new(NO_PATH), complete)?;
    Some(UidListDump {
        uidvalidity: list.uidvalidity,
        next_uid: list.next_uid,
        guid: list.guid.clone(),
        extra_header: list.extra_header.clone(),
        written: list.to_bytes(),
        records: list
            .records
            .into_iter()
            .map(|r| (r.uid, r.ext, r.base))
            .collect(),
    })
}

/// The largest UID a UID list gives out.
pub const MAX_UID: u32 = uidlist::MAX_UID;

/// parse_keywords - the names in a `dovecot-keywords` file's bytes, by index
/// (`a` is 0): always 26 entries.
pub fn parse_keywords(data: &[u8]) -> Vec<Option<String>> {
    keywords::parse(data, Path::new(NO_PATH)).into()
}

/// keywords_to_bytes - the file written for `names` (as returned by
/// [`parse_keywords`]); None unless there are exactly 26.
pub fn keywords_to_bytes(names: &[Option<String>]) -> Option<Vec<u8>> {
    let names: [Option<String>; keywords::SLOTS] = names.to_vec().try_into().ok()?;
    Some(keywords::to_bytes(&names))
}

/// parse_subscriptions - a `subscriptions` file's bytes: whether it is
/// version 2 (else 1), and the names in order.
pub fn parse_subscriptions(data: &[u8]) -> (bool, Vec<String>) {
    let (version, names) = subscriptions::parse(data, Path::new(NO_PATH));
    (version == Version::V2, names)
}

/// subscriptions_to_bytes - the file written for `names` in version 2 (or 1).
pub fn subscriptions_to_bytes(v2: bool, names: &[String]) -> Vec<u8> {
    let version = if v2 { Version::V2 } else { Version::V1 };
    subscriptions::to_bytes(version, names)
}

/// decode_index - a `postern.index` file's bytes: UIDVALIDITY, next UID,
/// HIGHESTMODSEQ and the messages; None if it is unusable.
pub fn decode_index(data: &[u8]) -> Option<(u32, u32, u64, Vec<MessageEntry>)> {
    let (head, messages) = index::decode(data)?;
    Some((
        head.uidvalidity,
        head.next_uid,
        head.highest_modseq,
        messages,
    ))
}

/// index_file - `body` framed as a `postern.index` file: magic, version, its
/// length and its checksum in front (so that a fuzzer's bodies get past the
/// checksum).
pub fn index_file(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(28 + body.len());
    out.extend_from_slice(index::MAGIC);
    out.extend_from_slice(&index::VERSION.to_le_bytes());
    out.extend_from_slice(&u64::try_from(body.len()).unwrap_or(u64::MAX).to_le_bytes());
    out.extend_from_slice(&index::checksum(body).to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// reencode_index - a `postern.index` file decoded and encoded again; None
/// if it does not decode.
pub fn reencode_index(data: &[u8]) -> Option<Vec<u8>> {
    let (head, messages) = index::decode(data)?;
    Some(index::encode(&head, &messages))
}

/// One record of a `postern.cache` file as read.
#[derive(Debug, Clone)]
pub struct CacheRecord {
    /// The UID it is for.
    pub uid: u32,
    /// The base name it was made for.
    pub base: String,
    /// The stored size it was made for.
    pub size: u64,
    /// Its metadata's encoded bytes.
    pub encoded: Vec<u8>,
    /// The metadata, if those bytes decode.
    pub metadata: Option<Metadata>,
}

/// A `postern.cache` file as read.
#[derive(Debug, Clone)]
pub struct CacheDump {
    /// The UIDVALIDITY in its header.
    pub uidvalidity: u32,
    /// The intact records, in file order.
    pub records: Vec<CacheRecord>,
    /// The end of the last intact record.
    pub valid_end: u64,
    /// Whether bytes follow the last intact record.
    pub damaged_tail: bool,
}

/// read_cache - a `postern.cache` file's bytes read as a session reads them:
/// the header, the intact records, and each one's metadata decoded; None if
/// the header is not ours.
pub fn read_cache(data: &[u8]) -> Option<CacheDump> {
    let uidvalidity = cache::parse_header(data)?;
    let scanned = cache::parse_records(data, cache::HEADER_LEN);
    let records = scanned
        .records
        .into_iter()
        .map(|(head, encoded)| CacheRecord {
            uid: head.uid,
            base: head.base,
            size: head.size,
            metadata: cache::decode_metadata(&encoded),
            encoded: encoded.to_vec(),
        })
        .collect();
    Some(CacheDump {
        uidvalidity,
        records,
        valid_end: scanned.valid_end,
        damaged_tail: scanned.damaged_tail,
    })
}

/// cache_entry - the framed record a session writes for `metadata` of the
/// message with this UID, base name and stored size; None if it does not
/// encode.
pub fn cache_entry(uid: u32, base: &str, size: u64, metadata: Metadata) -> Option<Vec<u8>> {
    cache::encode_entry(uid, base, size, metadata)
}

/// cache_file - a `postern.cache` file with this UIDVALIDITY whose records
/// hold `payloads` (each its length, its checksum, and the payload), so that a
/// fuzzer's payloads get past the checksums.
pub fn cache_file(uidvalidity: u32, payloads: &[&[u8]]) -> Vec<u8> {
    let mut out = cache::header(uidvalidity);
    for payload in payloads {
        out.extend_from_slice(
            &u32::try_from(payload.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        out.extend_from_slice(&cache::fnv1a(payload).to_le_bytes());
        out.extend_from_slice(payload);
    }
    out
}

/// parse_quota_file - the usage a `maildirsize` holds for the limits line
/// `definition`, as quota checks read it; None means a fresh count.
pub fn parse_quota_file(data: &[u8], definition: &str) -> Option<Usage> {
    quota::parse_quota_file(data, definition)
}
