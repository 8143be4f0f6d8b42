//! fetch - FETCH data items rendered from the mail store's metadata and
//! message bytes (RFC 3501 §6.4.5 and §7.4.2, RFC 9051 §7.5.2, RFC 3516).
//!
//! Everything here is pure: the session hands in a message's
//! [`Metadata`] (from the cache) and, for items that need them, the
//! stored bytes (LF line endings, as the Maildir holds them), and gets
//! IMAP syntax back in a `Vec<u8>`. Strings go through
//! [`imap_proto::encode`]: quoted when they are short 7-bit text,
//! literals otherwise.
//!
//! What is where:
//!
//! * [`write_flags`], [`write_internal_date`]: FLAGS and INTERNALDATE
//!   from the entry's [`Flags`], the folder's keyword names
//!   ([`KeywordNames`]) and its delivery time.
//! * [`write_envelope`], [`write_body_structure`]: ENVELOPE, BODY and
//!   BODYSTRUCTURE from [`Metadata`] (the `structure` module).
//! * [`section_bytes`], [`binary_section`], [`partial`],
//!   [`body_section_name`]...: `BODY[section]<partial>` and BINARY
//!   (the `section` and `binary` modules).
//! * [`write_item`] with a [`Message`], and [`item_name`],
//!   [`needs_metadata`], [`needs_bytes`], [`sets_seen`]: one FETCH item at
//!   a time, for the session's FETCH loop.
//!
//! # Following Dovecot
//!
//! Postern shares Maildirs with Dovecot and replaces it in place, so
//! clients must see what they saw before. Where RFC 3501 leaves a choice,
//! the output follows Dovecot 2.3 (checked against 2.3.19 with the
//! fixtures in `imapd/tests/fixtures/`):
//!
//! * FLAGS lists `\Answered \Flagged \Deleted \Seen \Draft \Recent`, in
//!   that order, then keywords in letter order. The Maildir `P` (passed)
//!   flag is not shown: Dovecot 2.3 ignores it (`$Forwarded` is an
//!   ordinary keyword there).
//! * ENVELOPE subjects and display names have every run of white space
//!   (folding included) made one space and none at the ends; the other
//!   envelope strings are sent as the metadata has them.
//! * INTERNALDATE has a zero-padded day, `"01-Dec-2026 10:08:08 +0000"`.
//!   Postern always shows UTC.
//! * A text part without a charset parameter gets `"charset"
//!   "us-ascii"` after its other parameters; MD5 is always NIL; extension
//!   data is always written in full (NIL where absent); a single language
//!   is a one-element list.
//! * Section numbers resolve as Dovecot resolves them (see
//!   [`find_part`]); a section that does not exist is the empty string,
//!   not NIL (Dovecot sends `{0}`). BODY[HEADER.FIELDS ...] always ends
//!   with a blank line, even when no field matched.
//! * BINARY of a multipart or message part decodes every leaf inside and
//!   labels it `Content-Transfer-Encoding: binary`; data that was decoded
//!   goes out as a `~{n}` literal8.
//!
//! Differences that come from the metadata (mailstore) rather than from
//! here are listed in the docs of the tests (`fetch/tests.rs`).

mod binary;
mod section;
mod structure;

use std::time::{SystemTime, UNIX_EPOCH};

use imap_proto::{Date, FetchAttr, Section, SectionText, encode};
use mailstore::{Flag, Flags, Keywords, Metadata};

pub use binary::{BinaryData, BinaryError, binary_section, write_binary};
pub(crate) use section::split_header;
pub use section::{find_part, partial, section_bytes};
pub use structure::{write_body_structure, write_envelope};

/// KeywordNames - the names of a folder's keywords, by flag letter.
///
/// [`Keywords`] is the real one; the slice impls serve tests and callers
/// that keep the names elsewhere.
pub trait KeywordNames {
    /// keyword_name - the keyword that `letter` (`b'a'`..=`b'z'`) stands
    /// for, if the folder has one.
    fn keyword_name(&self, letter: u8) -> Option<&str>;
}

impl KeywordNames for Keywords {
    fn keyword_name(&self, letter: u8) -> Option<&str> {
        self.name(letter)
    }
}

impl KeywordNames for [(u8, &str)] {
    fn keyword_name(&self, letter: u8) -> Option<&str> {
        self.iter().find(|(l, _)| *l == letter).map(|(_, n)| *n)
    }
}

impl KeywordNames for [(u8, String)] {
    fn keyword_name(&self, letter: u8) -> Option<&str> {
        self.iter()
            .find(|(l, _)| *l == letter)
            .map(|(_, n)| n.as_str())
    }
}

impl<const N: usize> KeywordNames for [(u8, &str); N] {
    fn keyword_name(&self, letter: u8) -> Option<&str> {
        self.as_slice().keyword_name(letter)
    }
}

impl KeywordNames for Vec<(u8, String)> {
    fn keyword_name(&self, letter: u8) -> Option<&str> {
        self.as_slice().keyword_name(letter)
    }
}

/// keyword_names - the names of the keywords set in `flags`, in letter
/// order; letters the folder has no name for are left out.
pub fn keyword_names<K: KeywordNames + ?Sized>(
    flags: Flags,
    keywords: &K,
) -> impl Iterator<Item = &str> {
    flags
        .keyword_letters()
        .filter_map(move |letter| keywords.keyword_name(letter))
}

/// The system flags in the order FLAGS lists them, with their IMAP names.
const SYSTEM_FLAGS: [(Flag, &str); 5] = [
    (Flag::Replied, "\\Answered"),
    (Flag::Flagged, "\\Flagged"),
    (Flag::Trashed, "\\Deleted"),
    (Flag::Seen, "\\Seen"),
    (Flag::Draft, "\\Draft"),
];

/// write_flags - a FLAGS list, `(\Answered \Seen \Recent Junk)`: system
/// flags, `\Recent` when `recent`, then the keywords with names.
pub fn write_flags<K: KeywordNames + ?Sized>(
    out: &mut Vec<u8>,
    flags: Flags,
    keywords: &K,
    recent: bool,
) {
    out.push(b'(');
    let mut first = true;
    let mut item = |out: &mut Vec<u8>, name: &str| {
        if !first {
            out.push(b' ');
        }
        first = false;
        out.extend_from_slice(name.as_bytes());
    };
    for (flag, name) in SYSTEM_FLAGS {
        if flags.contains(flag) {
            item(out, name);
        }
    }
    if recent {
        item(out, "\\Recent");
    }
    for name in keyword_names(flags, keywords) {
        item(out, name);
    }
    out.push(b')');
}

/// Month names as IMAP dates spell them.
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// month_name - `Jan`..`Dec` for 1..=12 (`???` for anything else).
pub fn month_name(month: u8) -> &'static str {
    usize::from(month)
        .checked_sub(1)
        .and_then(|i| MONTHS.get(i))
        .copied()
        .unwrap_or("???")
}

/// UtcTime - a point in time as a UTC calendar date and clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    /// The day.
    pub date: Date,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
}

/// utc_time - `time` in UTC; times before 1970 work, years are clamped
/// to 0..=9999.
pub fn utc_time(time: SystemTime) -> UtcTime {
    let seconds: i64 = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => {
            // Round towards the past: 0.5 s before the epoch is 23:59:59.
            let d = before.duration();
            let whole = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            let extra = i64::from(d.subsec_nanos() > 0);
            whole.saturating_add(extra).saturating_neg()
        }
    };
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    let narrow = |n: i64| u8::try_from(n).unwrap_or(0);
    UtcTime {
        date: civil_date(days),
        hour: narrow(rest / 3600),
        minute: narrow(rest % 3600 / 60),
        second: narrow(rest % 60),
    }
}

/// civil_date - the proleptic Gregorian date `days` after 1970-01-01
/// (counting eras of 400 years, which repeat exactly).
pub(crate) fn civil_date(days: i64) -> Date {
    let (year, month, day) = service::clock::civil_from_days(days);
    Date {
        year: u16::try_from(year.clamp(0, 9999)).unwrap_or(0),
        month: u8::try_from(month).unwrap_or(1),
        day: u8::try_from(day).unwrap_or(1),
    }
}

/// write_internal_date - INTERNALDATE's quoted date-time,
/// `"23-Nov-2026 14:03:02 +0000"`, in UTC.
pub fn write_internal_date(out: &mut Vec<u8>, time: SystemTime) {
    let t = utc_time(time);
    let text = format!(
        "\"{:02}-{}-{:04} {:02}:{:02}:{:02} +0000\"",
        t.date.day,
        month_name(t.date.month),
        t.date.year,
        t.hour,
        t.minute,
        t.second
    );
    out.extend_from_slice(text.as_bytes());
}

/// body_section_name - the response name of a body section:
/// `BODY[2.HEADER.FIELDS (FROM TO)]<0>` (BODY.PEEK is answered as BODY;
/// only the origin octet of a partial is named).
pub fn body_section_name(section: &Section, partial: Option<(u32, u32)>) -> String {
    let mut out = Vec::from(&b"BODY["[..]);
    write_section_spec(&mut out, section);
    out.push(b']');
    push_origin(&mut out, partial);
    String::from_utf8_lossy(&out).into_owned()
}

/// binary_section_name - `BINARY[1.2]<0>`.
pub fn binary_section_name(part: &[u32], partial: Option<(u32, u32)>) -> String {
    let mut out = format!("BINARY[{}]", part_path(part)).into_bytes();
    push_origin(&mut out, partial);
    String::from_utf8_lossy(&out).into_owned()
}

/// binary_size_name - `BINARY.SIZE[1.2]`.
pub fn binary_size_name(part: &[u32]) -> String {
    format!("BINARY.SIZE[{}]", part_path(part))
}

/// part_path - `1.2.3`.
fn part_path(part: &[u32]) -> String {
    part.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

/// push_origin - `<offset>` for a partial fetch.
fn push_origin(out: &mut Vec<u8>, partial: Option<(u32, u32)>) {
    if let Some((offset, _)) = partial {
        out.extend_from_slice(format!("<{offset}>").as_bytes());
    }
}

/// write_section_spec - what goes between the brackets of BODY[...].
fn write_section_spec(out: &mut Vec<u8>, section: &Section) {
    out.extend_from_slice(part_path(&section.part).as_bytes());
    let Some(text) = &section.text else {
        return;
    };
    if !section.part.is_empty() {
        out.push(b'.');
    }
    let (word, names): (&[u8], Option<&[String]>) = match text {
        SectionText::Header => (b"HEADER", None),
        SectionText::HeaderFields(names) => (b"HEADER.FIELDS", Some(names)),
        SectionText::HeaderFieldsNot(names) => (b"HEADER.FIELDS.NOT", Some(names)),
        SectionText::Text => (b"TEXT", None),
        SectionText::Mime => (b"MIME", None),
    };
    out.extend_from_slice(word);
    if let Some(names) = names {
        out.extend_from_slice(b" (");
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                out.push(b' ');
            }
            encode::astring(out, name.to_ascii_uppercase().as_bytes());
        }
        out.push(b')');
    }
}

/// Need - what an item (or a search key) needs beyond the message's
/// entry (UID, flags, sizes, internal date).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Need {
    /// Nothing more: the entry says it all.
    Entry,
    /// The message's [`Metadata`] (usually from the cache).
    Metadata,
    /// The message's bytes (and its metadata).
    Message,
}

/// item_needs - what [`write_item`] needs beyond the entry for `attr`.
pub fn item_needs(attr: &FetchAttr) -> Need {
    match attr {
        FetchAttr::Flags
        | FetchAttr::InternalDate
        | FetchAttr::Uid
        | FetchAttr::ModSeq
        | FetchAttr::Rfc822Size => Need::Entry,
        FetchAttr::Envelope | FetchAttr::Body | FetchAttr::BodyStructure => Need::Metadata,
        FetchAttr::Rfc822
        | FetchAttr::Rfc822Header
        | FetchAttr::Rfc822Text
        | FetchAttr::BodySection { .. }
        | FetchAttr::Binary { .. }
        | FetchAttr::BinarySize { .. } => Need::Message,
    }
}

/// needs_metadata - whether [`write_item`] needs [`Message::metadata`]
/// for `attr` (every item that reads the message does).
pub fn needs_metadata(attr: &FetchAttr) -> bool {
    item_needs(attr) >= Need::Metadata
}

/// needs_bytes - whether [`write_item`] needs [`Message::bytes`] for
/// `attr`.
pub fn needs_bytes(attr: &FetchAttr) -> bool {
    item_needs(attr) == Need::Message
}

/// sets_seen - whether fetching `attr` sets `\Seen` (BODY[...] without
/// PEEK, BINARY[...] without PEEK, RFC822, RFC822.TEXT).
pub fn sets_seen(attr: &FetchAttr) -> bool {
    match attr {
        FetchAttr::Rfc822 | FetchAttr::Rfc822Text => true,
        FetchAttr::BodySection { peek, .. } | FetchAttr::Binary { peek, .. } => !peek,
        _ => false,
    }
}

/// item_name - the name `attr`'s data has in the FETCH response:
/// `FLAGS`, `BODY[HEADER]<0>`, `BINARY.SIZE[1]`, ...
pub fn item_name(attr: &FetchAttr) -> String {
    match attr {
        FetchAttr::Flags => "FLAGS".to_owned(),
        FetchAttr::InternalDate => "INTERNALDATE".to_owned(),
        FetchAttr::Rfc822Size => "RFC822.SIZE".to_owned(),
        FetchAttr::Envelope => "ENVELOPE".to_owned(),
        FetchAttr::Body => "BODY".to_owned(),
        FetchAttr::BodyStructure => "BODYSTRUCTURE".to_owned(),
        FetchAttr::Uid => "UID".to_owned(),
        FetchAttr::ModSeq => "MODSEQ".to_owned(),
        FetchAttr::Rfc822 => "RFC822".to_owned(),
        FetchAttr::Rfc822Header => "RFC822.HEADER".to_owned(),
        FetchAttr::Rfc822Text => "RFC822.TEXT".to_owned(),
        FetchAttr::BodySection {
            section, partial, ..
        } => body_section_name(section, *partial),
        FetchAttr::Binary { part, partial, .. } => binary_section_name(part, *partial),
        FetchAttr::BinarySize { part } => binary_size_name(part),
    }
}

/// Message - one message as FETCH sees it: its entry's facts, and its
/// metadata and stored bytes when the items need them ([`needs_metadata`],
/// [`needs_bytes`]).
#[derive(Clone, Copy)]
pub struct Message<'a> {
    /// Its UID.
    pub uid: u32,
    /// Its flags.
    pub flags: Flags,
    /// The folder's keyword names.
    pub keywords: &'a dyn KeywordNames,
    /// Whether it is `\Recent` in this session.
    pub recent: bool,
    /// Its internal date.
    pub internal_date: SystemTime,
    /// Its RFC822.SIZE (the entry's wire size).
    pub size: u64,
    /// Its modification sequence (CONDSTORE).
    pub modseq: u64,
    /// Its metadata, if loaded.
    pub metadata: Option<&'a Metadata>,
    /// The message as stored (LF line endings), if loaded.
    pub bytes: Option<&'a [u8]>,
}

/// ItemError - why [`write_item`] wrote nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemError {
    /// The item needs [`Message::metadata`] and it was None (a caller
    /// bug: see [`needs_metadata`]).
    MetadataMissing,
    /// The item needs [`Message::bytes`] and it was None (see
    /// [`needs_bytes`]).
    BytesMissing,
    /// BINARY could not decode the part (`NO [UNKNOWN-CTE]` or `NO
    /// [PARSE]`, see [`BinaryError`]).
    Binary(BinaryError),
}

impl std::fmt::Display for ItemError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ItemError::MetadataMissing => f.write_str("item needs the message metadata"),
            ItemError::BytesMissing => f.write_str("item needs the message bytes"),
            ItemError::Binary(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ItemError {}

/// write_item - `NAME value` for one FETCH item: `FLAGS (\Seen)`,
/// `ENVELOPE (...)`, `BODY[TEXT]<0> {5}\r\nhello`, `BINARY.SIZE[1] 42`.
/// The caller writes `* n FETCH (`, the spaces between items and `)`.
///
/// On error nothing is written.
pub fn write_item(
    out: &mut Vec<u8>,
    attr: &FetchAttr,
    message: &Message<'_>,
) -> Result<(), ItemError> {
    let metadata = || message.metadata.ok_or(ItemError::MetadataMissing);
    let bytes = || message.bytes.ok_or(ItemError::BytesMissing);
    let both = || Ok::<_, ItemError>((bytes()?, metadata()?));
    let whole = |text: Option<SectionText>| Section {
        part: Vec::new(),
        text,
    };
    // The data first, so that an error leaves `out` alone.
    let mut data = Vec::new();
    match attr {
        FetchAttr::Flags => write_flags(&mut data, message.flags, message.keywords, message.recent),
        FetchAttr::InternalDate => write_internal_date(&mut data, message.internal_date),
        FetchAttr::Uid => data.extend_from_slice(message.uid.to_string().as_bytes()),
        FetchAttr::ModSeq => data.extend_from_slice(format!("({})", message.modseq).as_bytes()),
        FetchAttr::Rfc822Size => data.extend_from_slice(message.size.to_string().as_bytes()),
        FetchAttr::Envelope => write_envelope(&mut data, &metadata()?.envelope),
        FetchAttr::Body => write_body_structure(&mut data, &metadata()?.body, false),
        FetchAttr::BodyStructure => write_body_structure(&mut data, &metadata()?.body, true),
        FetchAttr::Rfc822 | FetchAttr::Rfc822Header | FetchAttr::Rfc822Text => {
            let section = whole(match attr {
                FetchAttr::Rfc822Header => Some(SectionText::Header),
                FetchAttr::Rfc822Text => Some(SectionText::Text),
                _ => None,
            });
            let (bytes, metadata) = both()?;
            encode::literal(&mut data, &section_bytes(bytes, metadata, &section));
        }
        FetchAttr::BodySection {
            section,
            partial: p,
            ..
        } => {
            let (bytes, metadata) = both()?;
            encode::literal(
                &mut data,
                partial(&section_bytes(bytes, metadata, section), *p),
            );
        }
        FetchAttr::Binary {
            part, partial: p, ..
        } => {
            let (bytes, metadata) = both()?;
            let mut binary = binary_section(bytes, metadata, part).map_err(ItemError::Binary)?;
            binary.data = partial(&binary.data, *p).to_vec();
            write_binary(&mut data, &binary);
        }
        FetchAttr::BinarySize { part } => {
            let (bytes, metadata) = both()?;
            let binary = binary_section(bytes, metadata, part).map_err(ItemError::Binary)?;
            data.extend_from_slice(binary.data.len().to_string().as_bytes());
        }
    }
    out.extend_from_slice(item_name(attr).as_bytes());
    out.push(b' ');
    out.extend_from_slice(&data);
    Ok(())
}

#[cfg(test)]
mod tests;
