//! uidlist - the per-Maildir UID list, in Dovecot's `dovecot-uidlist`
//! format (version 3), so Postern and Dovecot can serve one Maildir.
//!
//! The file maps IMAP UIDs to message files and holds the folder's
//! UIDVALIDITY and next UID. As Dovecot documents it, the first line is
//!
//! ```text
//! 3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1
//! ```
//!
//! the format version, then fields in any order: `V` UIDVALIDITY, `N` the
//! UID the next new message gets, `G` the folder's 128-bit GUID in hex.
//! Fields we do not know are kept and written back. Each further line is
//! one message, in ascending UID order:
//!
//! ```text
//! 25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394
//! 25017 W2481 :1276533073.M242911P3632.kurkku
//! ```
//!
//! the UID, optional extension fields (a key letter and a value: `W` the
//! size with CRLF line endings, `P` a saved POP3 UIDL, `G` a message GUID,
//! others), then `:` and the file's base name: its name without the `:2,`
//! flags suffix, which changes as flags change while the base stays.
//!
//! Dovecot sometimes appends lines without rewriting the header, so `N`
//! may lag: the next UID is the larger of `N` and the last UID plus one.
//!
//! Reading is tolerant: a malformed line is logged and skipped, a line
//! with a UID not above the previous one or a base name seen before is
//! skipped, and an unusable header makes the whole file count as missing
//! (a new list, with a new UIDVALIDITY, replaces it). The file is only
//! replaced whole: written to a temporary file, fsynced, renamed over the
//! old one, and the directory fsynced, all under the lock of the
//! `uidlock` module.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::Error;
use crate::fasthash::FastSet;
use crate::fsutil::{FileMode, FileStamp, read_file_stat_at, replace_file, stat_at};

/// The UID list's file name, in the Maildir's directory.
pub(crate) const UIDLIST: &str = "dovecot-uidlist";

/// The format version we write.
const VERSION: u32 = 3;

/// A UID list larger than this is refused rather than read into memory
/// (a million messages take about 100 MB).
const MAX_SIZE: u64 = 512 * 1024 * 1024;

/// The largest UID given out; `u32::MAX` is left unused so that the next
/// UID always fits in 32 bits, as IMAP's UIDNEXT must.
pub(crate) const MAX_UID: u32 = u32::MAX - 1;

/// UidList - the contents of a `dovecot-uidlist` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UidList {
    /// The folder's UIDVALIDITY (never 0).
    pub(crate) uidvalidity: u32,
    /// The UID the next new message gets: above every UID ever given.
    pub(crate) next_uid: u32,
    /// The folder's GUID, 32 hex digits, if the file had one.
    pub(crate) guid: Option<String>,
    /// Header fields we do not interpret, kept verbatim in their order.
    pub(crate) extra_header: Vec<String>,
    /// The messages, ascending by UID, each base name once.
    pub(crate) records: Vec<Record>,
}

/// Record - one message line of the UID list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    /// The message's UID.
    pub(crate) uid: u32,
    /// Extension fields (`W1234`), kept verbatim in their order.
    pub(crate) ext: Vec<String>,
    /// The file's base name: its name up to (not including) the first `:`.
    pub(crate) base: String,
}

impl Record {
    /// ext_value - the value of the extension field with key `key`.
    pub(crate) fn ext_value(&self, key: char) -> Option<&str> {
        self.ext.iter().find_map(|field| field.strip_prefix(key))
    }

    /// set_ext - set the extension field `key` to `value`, replacing one
    /// already there.
    pub(crate) fn set_ext(&mut self, key: char, value: &str) {
        let field = format!("{key}{value}");
        match self.ext.iter_mut().find(|f| f.starts_with(key)) {
            Some(existing) => *existing = field,
            None => self.ext.push(field),
        }
    }
}

impl UidList {
    /// new - an empty list for a folder that has none: UIDVALIDITY is the
    /// current Unix time (as Dovecot does), the first UID 1, and a fresh
    /// random GUID.
    pub(crate) fn new() -> UidList {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        UidList {
            uidvalidity: u32::try_from(now).unwrap_or(u32::MAX).max(1),
            next_uid: 1,
            guid: Some(random_guid()),
            extra_header: Vec::new(),
            records: Vec::new(),
        }
    }

    /// parse - read a UID list's bytes; None if the header is unusable.
    ///
    /// `complete` says the file cannot be in the middle of an append (we
    /// hold the lock): otherwise a last line without its newline is taken
    /// for one being written and ignored. `path` is for log messages.
    pub(crate) fn parse(data: &[u8], path: &Path, complete: bool) -> Option<UidList> {
        let mut lines = data.split(|&b| b == b'\n');
        let header = lines.next()?;
        let Some(mut list) = std::str::from_utf8(header)
            .ok()
            .and_then(|h| parse_header(h.trim_end_matches('\r')))
        else {
            tracing::warn!(path = %path.display(), "UID list has a broken header; starting a new list");
            return None;
        };
        let mut seen = FastSet::default();
        let mut last_uid = 0;
        let mut lines = lines.enumerate().peekable();
        while let Some((index, line)) = lines.next() {
            let line_number = index + 2;
            if lines.peek().is_none() {
                // After the last newline: empty, or a line still being appended.
                if !line.is_empty() && !complete {
                    tracing::debug!(path = %path.display(), line = line_number, "UID list ends in a partial line; ignored");
                    break;
                }
                if line.is_empty() {
                    break;
                }
            }
            let parsed = std::str::from_utf8(line)
                .ok()
                .and_then(|l| parse_record(l.trim_end_matches('\r')));
            let Some((uid, ext, base)) = parsed else {
                tracing::warn!(path = %path.display(), line = line_number, "malformed line in UID list; skipped");
                continue;
            };
            if uid <= last_uid {
                tracing::warn!(path = %path.display(), line = line_number, uid, "UID list line out of order; skipped");
                continue;
            }
            if !seen.insert(base) {
                tracing::warn!(path = %path.display(), line = line_number, uid, "UID list names a file twice; later line skipped");
                continue;
            }
            last_uid = uid;
            list.records.push(Record {
                uid,
                ext,
                base: base.to_owned(),
            });
        }
        list.next_uid = list.next_uid.max(last_uid.saturating_add(1));
        Some(list)
    }

    /// to_bytes - the file's contents, in version 3 format.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{VERSION} V{} N{}", self.uidvalidity, self.next_uid);
        if let Some(guid) = &self.guid {
            out.push_str(" G");
            out.push_str(guid);
        }
        for field in &self.extra_header {
            out.push(' ');
            out.push_str(field);
        }
        out.push('\n');
        for record in &self.records {
            out.push_str(&record.uid.to_string());
            for field in &record.ext {
                out.push(' ');
                out.push_str(field);
            }
            out.push_str(" :");
            out.push_str(&record.base);
            out.push('\n');
        }
        out.into_bytes()
    }

    /// assign - give the next UID to a new message; None when the folder
    /// has used up its UIDs (it then needs a new UIDVALIDITY).
    pub(crate) fn assign(&mut self, base: String) -> Option<u32> {
        let uid = self.next_uid;
        if uid == 0 || uid > MAX_UID {
            return None;
        }
        self.next_uid = uid.checked_add(1)?;
        self.records.push(Record {
            uid,
            ext: Vec::new(),
            base,
        });
        Some(uid)
    }

    /// read - the UID list of the Maildir open as `dir`; None if there is
    /// none or its header is unusable. See [`UidList::parse`] for `complete`.
    pub(crate) fn read(
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        complete: bool,
    ) -> Result<Option<UidList>, Error> {
        Ok(UidList::read_stamped(dir, dir_path, complete)?.0)
    }

    /// read_stamped - [`UidList::read`], and the file's [`FileStamp`] as
    /// of before it was read (None if there is no file): while
    /// [`UidList::stamp`] still gives the same, the list is the same.
    pub(crate) fn read_stamped(
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        complete: bool,
    ) -> Result<(Option<UidList>, Option<FileStamp>), Error> {
        let Some((data, st)) = read_file_stat_at(dir, dir_path, UIDLIST, MAX_SIZE, "UID list")?
        else {
            return Ok((None, None));
        };
        let list = UidList::parse(&data, &dir_path.join(UIDLIST), complete);
        Ok((list, Some(FileStamp::of(&st))))
    }

    /// stamp - the UID list file's [`FileStamp`] now; None if there is
    /// none.
    pub(crate) fn stamp(dir: BorrowedFd<'_>, dir_path: &Path) -> Result<Option<FileStamp>, Error> {
        let path = dir_path.join(UIDLIST);
        Ok(stat_at(dir, UIDLIST, &path)?.map(|st| FileStamp::of(&st)))
    }

    /// write - replace the UID list of the Maildir open as `dir` with this
    /// one: temporary file, fsync, rename, fsync of the directory. The
    /// caller holds the lock.
    ///
    /// The file keeps the mode of the one it replaces (a new one gets the
    /// directory's read/write bits), and a caller running as root gives it
    /// the directory's owner, so that the user's own tools can read it.
    pub(crate) fn write(&self, dir: BorrowedFd<'_>, dir_path: &Path) -> Result<(), Error> {
        replace_file(
            dir,
            dir_path,
            UIDLIST,
            &self.to_bytes(),
            FileMode::LikeDirectory,
        )
    }
}

/// parse_header - the first line; None if unusable (not version 2 or 3,
/// or no valid UIDVALIDITY).
fn parse_header(line: &str) -> Option<UidList> {
    // A field's trailing CRs go: written back last on the line, they would be taken
    // for a CRLF line end, and the field would change.
    let mut fields = line
        .split(' ')
        .map(|f| f.trim_end_matches('\r'))
        .filter(|f| !f.is_empty());
    let version: u32 = fields.next()?.parse().ok()?;
    // Version 2 was written by a few Dovecot betas, with the same layout.
    if !matches!(version, 2 | 3) {
        return None;
    }
    let mut uidvalidity = None;
    let mut next_uid = None;
    let mut guid = None;
    let mut extra_header = Vec::new();
    for field in fields {
        if let Some(v) = field.strip_prefix('V') {
            uidvalidity = number(v).filter(|&v| v != 0);
        } else if let Some(n) = field.strip_prefix('N') {
            next_uid = number(n);
        } else if let Some(g) = field.strip_prefix('G') {
            guid = Some(g.to_owned());
        } else {
            extra_header.push(field.to_owned());
        }
    }
    Some(UidList {
        uidvalidity: uidvalidity?,
        // A missing or broken N is recomputed from the records.
        next_uid: next_uid.unwrap_or(1).max(1),
        guid,
        extra_header,
        records: Vec::new(),
    })
}

/// parse_record - one message line: `UID [EXT...] :BASE`: the UID, the
/// extension fields and the base name.
fn parse_record(line: &str) -> Option<(u32, Vec<String>, &str)> {
    let (uid, mut rest) = line.split_once(' ')?;
    let uid = number(uid).filter(|&u| u != 0 && u <= MAX_UID)?;
    let mut ext = Vec::new();
    let file_name = loop {
        rest = rest.trim_start_matches(' ');
        if let Some(name) = rest.strip_prefix(':') {
            break name;
        }
        let (field, after) = rest.split_once(' ')?;
        ext.push(field.to_owned());
        rest = after;
    };
    // Older Dovecot versions stored the whole name, flags included.
    let base = base_name(file_name);
    // A base ending in CR (possible only before a `:` suffix) could not be written
    // back: a CR before the LF is taken for a CRLF line end.
    if base.is_empty() || base.contains('/') || base.starts_with('.') || base.ends_with('\r') {
        return None;
    }
    Some((uid, ext, base))
}

/// base_name - a message file name without its `:2,` flags suffix.
pub(crate) fn base_name(name: &str) -> &str {
    name.split_once(':').map_or(name, |(base, _)| base)
}

/// number - a decimal u32 of digits only.
fn number(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// random_guid - 128 random bits as 32 hex digits.
fn random_guid() -> String {
    // RandomState is seeded from the OS's random source.
    let mut hex = String::with_capacity(32);
    for part in 0u8..2 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u8(part);
        hasher.write_u128(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0),
        );
        hex.push_str(&format!("{:016x}", hasher.finish()));
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<UidList> {
        UidList::parse(text.as_bytes(), Path::new("test"), true)
    }

    fn uids_and_bases(list: &UidList) -> Vec<(u32, &str)> {
        list.records
            .iter()
            .map(|r| (r.uid, r.base.as_str()))
            .collect()
    }

    #[test]
    fn dovecot_documented_example_parses() {
        let text = "3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n\
                    25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n\
                    25017 W2481 :1276533073.M242911P3632.kurkku:2,F\n";
        let list = parse(text).unwrap();
        assert_eq!(list.uidvalidity, 1275660208);
        assert_eq!(list.next_uid, 25022);
        assert_eq!(
            list.guid.as_deref(),
            Some("3085f01b7f11094c501100008c4a11c1")
        );
        assert_eq!(
            uids_and_bases(&list),
            vec![
                (25006, "1276528487.M364837P9451.kurkku,S=1355,W=1394"),
                (25017, "1276533073.M242911P3632.kurkku"),
            ]
        );
        assert_eq!(list.records[1].ext_value('W'), Some("2481"));
        assert_eq!(list.records[0].ext_value('W'), None);
    }

    #[test]
    fn round_trip_keeps_unknown_fields() {
        let text = "3 V7 N12 Gabc X1 Yfoo\n\
                    3 W120 S100 Pold-uidl :1.M1.h,S=100\n\
                    11 :2.M2.h\n";
        let list = parse(text).unwrap();
        assert_eq!(list.extra_header, vec!["X1", "Yfoo"]);
        assert_eq!(String::from_utf8(list.to_bytes()).unwrap(), text);
        assert_eq!(list.records[0].ext_value('P'), Some("old-uidl"));
        assert_eq!(list.records[0].ext_value('S'), Some("100"));
    }

    #[test]
    fn next_uid_follows_appended_lines() {
        // Dovecot appends without rewriting the header: N may lag.
        let list = parse("3 V5 N1 G00\n1 :a\n2 :b\n7 :c\n").unwrap();
        assert_eq!(list.next_uid, 8);
        let list = parse("3 V5 N100\n1 :a\n").unwrap();
        assert_eq!(list.next_uid, 100);
        let list = parse("3 V5\n4 :a\n").unwrap();
        assert_eq!(list.next_uid, 5);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let text = "3 V5 N20\n\
                    1 :a\n\
                    x :bad-uid\n\
                    0 :zero\n\
                    2 no-colon\n\
                    3 :\n\
                    4 :../escape/x\n\
                    5 :.hidden\n\
                    1 :out-of-order\n\
                    6 :a:2,S\n\
                    \n\
                    4294967295 :max\n\
                    7 W1 :b\r\n\
                    8    W2   :c\n";
        let list = parse(text).unwrap();
        assert_eq!(uids_and_bases(&list), vec![(1, "a"), (7, "b"), (8, "c")]);
        assert_eq!(list.records[2].ext, vec!["W2"]);
    }

    /// See: issue 11. Found by fuzzing: a base name ending in CR (from an old-style
    /// line with the flags suffix) was kept, then lost its CR when the list was
    /// written back, so the message no longer matched its record.
    #[test]
    fn issue_11_a_base_ending_in_cr_is_malformed() {
        let text = "3 V5 N9\n1 :a\r\r:2,S\n2 :b\r:2,\r\n3 :c\rd:2,S\r\n4 :e\r\r\n";
        let list = parse(text).unwrap();
        assert_eq!(uids_and_bases(&list), vec![(3, "c\rd"), (4, "e")]);
        let again = UidList::parse(&list.to_bytes(), Path::new("test"), true).unwrap();
        assert_eq!(again, list);
    }

    /// See: issue 11. Found by fuzzing: a header field ending in CR lost the CR when
    /// the list was written back with the field last on the line.
    #[test]
    fn issue_11_header_fields_lose_trailing_crs_when_read() {
        let list = parse("3 \r X\r V73\r \r Gab\r\n").unwrap();
        assert_eq!(list.uidvalidity, 73);
        assert_eq!(list.extra_header, vec!["X"]);
        assert_eq!(list.guid.as_deref(), Some("ab"));
        let again = UidList::parse(&list.to_bytes(), Path::new("test"), true).unwrap();
        assert_eq!(again, list);
    }

    #[test]
    fn broken_headers_make_no_list() {
        for text in [
            "",
            "\n1 :a\n",
            "3 N5\n",
            "3 V0 N5\n",
            "3 Vx N5\n",
            "1 12345 6\n",
            "4 V1 N2\n",
            "three V1\n",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
        assert!(parse("2 V9 N3\n1 :a\n").is_some());
        assert!(parse("3 V9 Nx\n1 :a\n").is_some_and(|l| l.next_uid == 2));
    }

    #[test]
    fn a_partial_last_line_counts_only_under_the_lock() {
        let data = b"3 V5 N3\n1 :a\n2 :b";
        let unlocked = UidList::parse(data, Path::new("t"), false).unwrap();
        assert_eq!(uids_and_bases(&unlocked), vec![(1, "a")]);
        let locked = UidList::parse(data, Path::new("t"), true).unwrap();
        assert_eq!(uids_and_bases(&locked), vec![(1, "a"), (2, "b")]);
    }

    #[test]
    fn assign_counts_up_and_stops_at_the_last_uid() {
        let mut list = parse("3 V5 N4\n").unwrap();
        assert_eq!(list.assign("a".into()), Some(4));
        assert_eq!(list.assign("b".into()), Some(5));
        assert_eq!(list.next_uid, 6);
        list.next_uid = MAX_UID;
        assert_eq!(list.assign("c".into()), Some(MAX_UID));
        assert_eq!(list.assign("d".into()), None);
        assert_eq!(list.records.len(), 3);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_parse_without_panicking(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            for complete in [false, true] {
                if let Some(list) = UidList::parse(&data, Path::new("fuzz"), complete) {
                    // Whatever was salvaged is a valid list: it reads back the same.
                    let again = UidList::parse(&list.to_bytes(), Path::new("fuzz"), true);
                    proptest::prop_assert_eq!(again.as_ref(), Some(&list));
                    proptest::prop_assert!(list.records.iter().all(|r| r.uid < list.next_uid));
                }
            }
        }

        #[test]
        fn lists_round_trip(
            uidvalidity in 1u32..,
            gaps in proptest::collection::vec(1u32..1000, 0..20),
            extra in 0u32..5,
        ) {
            let mut list = UidList::new();
            list.uidvalidity = uidvalidity;
            let mut uid = 0;
            for (i, gap) in gaps.iter().enumerate() {
                uid += gap;
                let mut record = Record { uid, ext: Vec::new(), base: format!("{i}.M{gap}P1.host,S={gap}") };
                if gap % 2 == 0 {
                    record.set_ext('W', &gap.to_string());
                }
                list.records.push(record);
            }
            list.next_uid = uid + 1 + extra;
            let parsed = UidList::parse(&list.to_bytes(), Path::new("t"), false);
            proptest::prop_assert_eq!(parsed, Some(list));
        }
    }

    #[test]
    fn new_lists_use_the_time_and_a_guid() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let list = UidList::new();
        assert!(u64::from(list.uidvalidity) >= before);
        assert_eq!(list.next_uid, 1);
        let guid = list.guid.clone().unwrap();
        assert_eq!(guid.len(), 32);
        assert!(guid.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(UidList::new().guid, list.guid);
        let text = String::from_utf8(list.to_bytes()).unwrap();
        assert_eq!(text, format!("3 V{} N1 G{guid}\n", list.uidvalidity));
    }
}
