//! Tests of the metadata cache through [`Mailbox`]: hits without reading
//! the message, stale and corrupt entries, expunges, several sessions.

use crate::tests::maildir;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use super::*;
use crate::{DeliverOptions, Mailbox, Maildir, parse_metadata};

const PLAIN: &[u8] = b"From: Alice <alice@example.org>\nSubject: plain\n\nhello\n";
const MULTIPART: &[u8] = b"From: bob@example.org\nSubject: parts\nContent-Type: multipart/mixed; boundary=x\n\n--x\n\none\n--x\nContent-Type: text/html\n\n<p>two</p>\n--x--\n";
const THIRD: &[u8] = b"Subject: third\n\nthree\n";

/// deliver - store a message; its path.
fn deliver(md: &Maildir, message: &[u8]) -> PathBuf {
    md.deliver(&mut &message[..], b"", &DeliverOptions::default())
        .unwrap()
        .path
}

/// garble - give a file other content of the same size, so that only a
/// cache hit can still describe it as it was.
fn garble(path: &Path) {
    let len = fs::metadata(path).unwrap().len();
    fs::write(path, vec![b'#'; usize::try_from(len).unwrap()]).unwrap();
}

/// stored - the current path of the message with this UID.
fn stored(mb: &Mailbox, uid: u32) -> PathBuf {
    mb.message_path(mb.message(uid).unwrap()).clone()
}

/// expected - the metadata of a message's stored bytes.
fn expected(message: &[u8]) -> Metadata {
    parse_metadata(message)
}

/// FileView - what the cache file holds.
#[derive(Debug, PartialEq, Eq)]
struct FileView {
    /// The header's UIDVALIDITY, if the header is ours.
    uidvalidity: Option<u32>,
    /// The UIDs of the records, in file order.
    uids: Vec<u32>,
    /// Whether bytes follow the last complete record.
    damaged_tail: bool,
}

fn file_view(md: &Maildir) -> FileView {
    let data = fs::read(md.path().join(CACHE_FILE)).unwrap();
    let read = parse_records(&data, HEADER_LEN);
    FileView {
        uidvalidity: parse_header(&data),
        uids: read.records.iter().map(|(h, _)| h.uid).collect(),
        damaged_tail: read.damaged_tail,
    }
}

fn inode(md: &Maildir) -> u64 {
    fs::metadata(md.path().join(CACHE_FILE)).unwrap().ino()
}

/// cached_pair - a Maildir with PLAIN (UID 1) and MULTIPART (UID 2) and
/// a cache file holding both.
fn cached_pair() -> (tempfile::TempDir, Maildir, u32) {
    let (dir, md) = maildir();
    deliver(&md, PLAIN);
    deliver(&md, MULTIPART);
    let mut mb = Mailbox::open(&md).unwrap();
    assert_eq!(*mb.metadata(1).unwrap().unwrap(), expected(PLAIN));
    assert_eq!(*mb.metadata(2).unwrap().unwrap(), expected(MULTIPART));
    assert_eq!(mb.flush_metadata().unwrap(), 2);
    let uidvalidity = mb.uidvalidity();
    (dir, md, uidvalidity)
}

#[test]
fn a_hit_after_reopening_does_not_read_the_message() {
    let (_dir, md, uidvalidity) = cached_pair();
    assert_eq!(
        file_view(&md),
        FileView {
            uidvalidity: Some(uidvalidity),
            uids: vec![1, 2],
            damaged_tail: false
        }
    );
    let mode = fs::metadata(md.path().join(CACHE_FILE)).unwrap().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(md.path().join(CACHE_LOCK).exists());

    let mut mb = Mailbox::open(&md).unwrap();
    garble(&stored(&mb, 1));
    garble(&stored(&mb, 2));
    assert_eq!(*mb.metadata(1).unwrap().unwrap(), expected(PLAIN));
    assert_eq!(*mb.metadata(2).unwrap().unwrap(), expected(MULTIPART));
    // Nothing new: nothing written, the file untouched.
    let before = fs::read(md.path().join(CACHE_FILE)).unwrap();
    assert_eq!(mb.flush_metadata().unwrap(), 0);
    assert_eq!(fs::read(md.path().join(CACHE_FILE)).unwrap(), before);
    // Without the cache, the garbage is what there is to describe.
    fs::remove_file(md.path().join(CACHE_FILE)).unwrap();
    let mut mb = Mailbox::open(&md).unwrap();
    assert_ne!(*mb.metadata(1).unwrap().unwrap(), expected(PLAIN));
}

#[test]
fn spans_from_the_cache_serve_the_stored_file() {
    let (_dir, md) = maildir();
    deliver(&md, MULTIPART);
    let mut mb = Mailbox::open(&md).unwrap();
    let metadata = mb.metadata(1).unwrap().unwrap();
    assert_eq!(metadata.size, mb.message(1).unwrap().wire_size);
    let html = metadata.part(&[2]).unwrap().info.span;
    let mut file = mb.open_stored(1).unwrap().unwrap();
    let mut content = Vec::new();
    file.read_to_end(&mut content).unwrap();
    let range = usize::try_from(html.body_start).unwrap()..usize::try_from(html.end).unwrap();
    assert_eq!(&content[range], b"<p>two</p>");
}

#[test]
fn a_stale_entry_is_recomputed() {
    let (_dir, md) = maildir();
    // No sizes in the name: the size comes from the file itself.
    let name = "1600000000.M1P1.other:2,S";
    let path = md.path().join("cur").join(name);
    fs::write(&path, PLAIN).unwrap();
    let mut mb = Mailbox::open(&md).unwrap();
    assert_eq!(*mb.metadata(1).unwrap().unwrap(), expected(PLAIN));
    mb.flush_metadata().unwrap();

    // Another tool rewrote the file (it should not, but may): other size.
    fs::write(&path, MULTIPART).unwrap();
    let mut mb = Mailbox::open(&md).unwrap();
    assert_eq!(*mb.metadata(1).unwrap().unwrap(), expected(MULTIPART));
    assert_eq!(mb.flush_metadata().unwrap(), 1);
    assert_eq!(file_view(&md).uids, vec![1]);

    // And the new entry is the one kept.
    garble(&path);
    let mut mb = Mailbox::open(&md).unwrap();
    assert_eq!(*mb.metadata(1).unwrap().unwrap(), expected(MULTIPART));
}

/// Corruption - what to do to a good cache file.
type Corruption = fn(&mut Vec<u8>);

#[test]
fn a_corrupt_cache_is_rebuilt() {
    let cases: &[(&str, Corruption)] = &[
        ("empty", |d| d.clear()),
        ("not a cache", |d| {
            *d = b"hello, I am not a cache\n".to_vec()
        }),
        ("header cut short", |d| d.truncate(10)),
        ("wrong magic", |d| d[0] ^= 0xff),
        ("unknown version", |d| d[8] = d[8].wrapping_add(1)),
        ("other uidvalidity", |d| d[12] = d[12].wrapping_add(1)),
        ("last record cut short", |d| {
            let len = d.len();
            d.truncate(len - 5);
        }),
        ("garbage after the records", |d| {
            d.extend_from_slice(b"\xff\xff\xff")
        }),
        ("a payload byte flipped", |d| {
            let last = d.len() - 1;
            d[last] ^= 0x01;
        }),
        ("first record's length huge", |d| {
            d[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        }),
    ];
    for &(what, corrupt) in cases {
        let (_dir, md, uidvalidity) = cached_pair();
        let path = md.path().join(CACHE_FILE);
        let mut data = fs::read(&path).unwrap();
        corrupt(&mut data);
        fs::write(&path, &data).unwrap();

        let mut mb = Mailbox::open(&md).unwrap();
        assert_eq!(*mb.metadata(1).unwrap().unwrap(), expected(PLAIN), "{what}");
        assert_eq!(
            *mb.metadata(2).unwrap().unwrap(),
            expected(MULTIPART),
            "{what}"
        );
        mb.flush_metadata().unwrap();
        let view = file_view(&md);
        assert_eq!(view.uidvalidity, Some(uidvalidity), "{what}");
        assert!(!view.damaged_tail, "{what}");
        let mut uids = view.uids.clone();
        uids.sort_unstable();
        assert_eq!(uids, vec![1, 2], "{what}: {view:?}");

        // Rebuilt for good: hits again.
        let mut mb = Mailbox::open(&md).unwrap();
        garble(&stored(&mb, 1));
        garble(&stored(&mb, 2));
        assert_eq!(*mb.metadata(1).unwrap().unwrap(), expected(PLAIN), "{what}");
        assert_eq!(
            *mb.metadata(2).unwrap().unwrap(),
            expected(MULTIPART),
            "{what}"
        );
    }
}

#[test]
fn an_undecodable_entry_is_recomputed() {
    let (_dir, md, _) = cached_pair();
    // A record with a valid frame and checksum whose metadata is junk.
    let slot = Slot {
        base: Mailbox::open(&md)
            .unwrap()
            .message(1)
            .unwrap()
            .base()
            .to_owned(),
        size: u64::try_from(PLAIN.len()).unwrap(),
        body: Body::Encoded(Arc::from(&b"\x05junk"[..])),
        persisted: false,
    };
    let record = encode_record(1, &slot).unwrap();
    let path = md.path().join(CACHE_FILE);
    let mut data = fs::read(&path).unwrap();
    data.extend_from_slice(&record);
    fs::write(&path, &data).unwrap();
    let mut mb = Mailbox::open(&md).unwrap();
    assert_eq!(*mb.metadata(1).unwrap().unwrap(), expected(PLAIN));
    assert_eq!(mb.flush_metadata().unwrap(), 1);
}

#[test]
fn expunged_entries_are_dropped_and_the_file_compacted() {
    let (_dir, md) = maildir();
    deliver(&md, PLAIN);
    deliver(&md, MULTIPART);
    deliver(&md, THIRD);
    let mut mb = Mailbox::open(&md).unwrap();
    for uid in 1..=3 {
        mb.metadata(uid).unwrap().unwrap();
    }
    assert_eq!(mb.flush_metadata().unwrap(), 3);
    assert_eq!(file_view(&md).uids, vec![1, 2, 3]);
    assert_eq!(mb.expunge(&[2]).unwrap(), 1);
    assert_eq!(mb.flush_metadata().unwrap(), 0);
    assert_eq!(file_view(&md).uids, vec![1, 3]);
    // Expunged elsewhere: gone from the file too, at the next flush
    // after a refresh.
    let mut other = Mailbox::open(&md).unwrap();
    other.expunge(&[3]).unwrap();
    mb.refresh().unwrap();
    mb.flush_metadata().unwrap();
    assert_eq!(file_view(&md).uids, vec![1]);
}

#[test]
fn sessions_add_to_each_others_cache() {
    let (_dir, md) = maildir();
    deliver(&md, PLAIN);
    deliver(&md, MULTIPART);
    deliver(&md, THIRD);
    let mut one = Mailbox::open(&md).unwrap();
    let mut two = Mailbox::open(&md).unwrap();
    one.metadata(1).unwrap().unwrap();
    one.metadata(3).unwrap().unwrap();
    assert_eq!(one.flush_metadata().unwrap(), 2);
    let first_inode = inode(&md);
    // `two` read no file yet; it computes 2 and 3, then flushes: it
    // reads what `one` wrote, and appends only what is new.
    two.metadata(2).unwrap().unwrap();
    two.metadata(3).unwrap().unwrap();
    assert_eq!(two.flush_metadata().unwrap(), 1);
    assert_eq!(file_view(&md).uids, vec![1, 3, 2]);
    // `one` already had a file: it appends after `two`'s record.
    one.metadata(2).unwrap().unwrap();
    assert_eq!(one.flush_metadata().unwrap(), 0);
    assert_eq!(inode(&md), first_inode, "appended, not rewritten");

    let mut three = Mailbox::open(&md).unwrap();
    for (uid, message) in [(1, PLAIN), (2, MULTIPART), (3, THIRD)] {
        garble(&stored(&three, uid));
        assert_eq!(*three.metadata(uid).unwrap().unwrap(), expected(message));
    }
}

#[test]
fn another_sessions_rewrite_is_followed() {
    let (_dir, md) = maildir();
    for message in [PLAIN, MULTIPART, THIRD] {
        deliver(&md, message);
    }
    let mut one = Mailbox::open(&md).unwrap();
    one.metadata(1).unwrap().unwrap();
    one.metadata(2).unwrap().unwrap();
    one.flush_metadata().unwrap();
    let mut two = Mailbox::open(&md).unwrap();
    two.metadata(1).unwrap().unwrap();
    // `one` expunges and compacts: a new file.
    let before = inode(&md);
    one.expunge(&[2]).unwrap();
    one.flush_metadata().unwrap();
    assert_ne!(inode(&md), before);
    assert_eq!(file_view(&md).uids, vec![1]);
    // `two` adds to the new file, not to the old one it read.
    two.refresh().unwrap();
    two.metadata(3).unwrap().unwrap();
    assert_eq!(two.flush_metadata().unwrap(), 1);
    assert_eq!(file_view(&md).uids, vec![1, 3]);
}

#[test]
fn gone_and_unknown_messages() {
    let (_dir, md) = maildir();
    let path = deliver(&md, PLAIN);
    let mut mb = Mailbox::open(&md).unwrap();
    assert!(matches!(
        mb.metadata(9).unwrap_err(),
        crate::Error::UnknownUid { uid: 9, .. }
    ));
    fs::remove_file(path).unwrap();
    assert_eq!(mb.metadata(1).unwrap(), None);
    assert_eq!(mb.flush_metadata().unwrap(), 0);
    assert!(!md.path().join(CACHE_FILE).exists());
}

#[test]
fn a_symlinked_cache_is_replaced_not_written_through() {
    let (dir, md) = maildir();
    deliver(&md, PLAIN);
    let target = dir.path().join("target");
    fs::write(&target, "keep me").unwrap();
    symlink(&target, md.path().join(CACHE_FILE)).unwrap();
    let mut mb = Mailbox::open(&md).unwrap();
    assert_eq!(*mb.metadata(1).unwrap().unwrap(), expected(PLAIN));
    assert_eq!(mb.flush_metadata().unwrap(), 1);
    assert_eq!(fs::read_to_string(&target).unwrap(), "keep me");
    let meta = fs::symlink_metadata(md.path().join(CACHE_FILE)).unwrap();
    assert!(meta.file_type().is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(file_view(&md).uids, vec![1]);
}

#[test]
fn the_file_format_is_pinned() {
    // Golden bytes: if this fails, the encoding changed; bump VERSION
    // (old caches are then rebuilt) and update the bytes.
    assert_eq!(
        header(0x0102_0304),
        b"PSTNMETA\x02\x00\x00\x00\x04\x03\x02\x01"
    );
    let metadata = parse_metadata(b"Subject: s\n\nx\n");
    let slot = Slot {
        base: "1.M2P3.h".to_owned(),
        size: 14,
        body: Body::Decoded(Arc::new(metadata.clone())),
        persisted: false,
    };
    let record = encode_record(7, &slot).unwrap();
    let hex: String = record.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(hex, GOLDEN_RECORD, "record bytes changed");
    let (head, bytes, len) = parse_record(&record).unwrap();
    assert_eq!(
        (head.uid, head.base.as_str(), head.size),
        (7, "1.M2P3.h", 14)
    );
    assert_eq!(len, record.len());
    assert_eq!(decode_metadata(bytes).unwrap(), metadata);
}

/// The record of `the_file_format_is_pinned`.
const GOLDEN_RECORD: &str = "49000000129607ed988d801d0708312e4d3250332e680e00010173000000000000000001047465787405706c61696e0107636861727365740875732d61736369690000043762697400000000000c0e0e0301000e11";
