//! search - SEARCH keys evaluated for one message at a time (RFC 3501
//! §6.4.4, RFC 9051 §6.4.4, RFC 7162's MODSEQ), and the SEARCH and
//! ESEARCH responses (RFC 4731).
//!
//! The session builds a [`Matcher`] once per command from the parsed
//! [`SearchKey`], then asks it about each message with the message's
//! cheap facts ([`Facts`]: numbers, flags, internal date, size,
//! modseq) and a [`MessageSource`] that loads the expensive parts only
//! when a key needs them: the [`Metadata`] (ENVELOPE: SUBJECT, FROM, TO,
//! CC, BCC, SENT*) and the stored bytes (HEADER, BODY, TEXT).
//! [`Matcher::needs`] says in advance which, so a search over flags never
//! opens a file. Within an AND the cheap keys are tried first, and
//! evaluation stops at the first key that decides.
//!
//! # How strings match
//!
//! A string matches when it occurs in the decoded text, compared after
//! folding both: Unicode lower case, and every run of
//! white space as one space. Decoded means RFC 2047 encoded words
//! decoded and folding undone for headers, and transfer encoding and
//! charset undone for bodies (mail-parser does both). As in Dovecot:
//!
//! * FROM, TO, CC and BCC match the address list written out as Dovecot
//!   writes it, `"Carol, C." <carol@example.com>, <erin@example.net>,
//!   Group: <a@b>, <c@d>;` (a display name quoted unless it is one atom,
//!   then encoded words decoded), so `<carol@` or `"Carol` match;
//! * BODY searches only text/* parts, each on its own (not attachments of
//!   other types, not preambles, boundaries or embedded messages'
//!   headers); TEXT searches those and every header block, MIME headers
//!   and embedded messages' headers included;
//! * HEADER matches any occurrence of the field in the message's own
//!   header; an empty string matches when the field is there at all, and
//!   so it does for SUBJECT and the address keys (BODY "" and TEXT ""
//!   match every message).
//!
//! # Dates
//!
//! BEFORE, ON and SINCE compare the internal date's day in UTC (the zone
//! INTERNALDATE is shown in). SENTBEFORE, SENTON and SENTSINCE compare
//! the day of the Date: header in its own zone; a message without a Date:
//! header, or with one that does not parse, was sent on 1970-01-01, as
//! Dovecot has it (so SENTBEFORE any later day matches it).

mod text;

use std::time::SystemTime;

use imap_proto::{Date, SearchKey, SearchReturn, SequenceSet, encode};
use mailstore::{Flag, Flags, Metadata};

use crate::fetch::{KeywordNames, Need, keyword_names, utc_time};

use text::{MessageText, addresses_text, decode_value, fold, message_text, root_fields};

/// Facts - what the session knows about a message without
/// loading anything.
pub struct Facts<'a> {
    /// Its sequence number.
    pub seq: u32,
    /// Its UID.
    pub uid: u32,
    /// The largest sequence number in the mailbox (what `*` stands for in
    /// a sequence set).
    pub largest_seq: u32,
    /// The largest UID in the mailbox (`*` in UID sets).
    pub largest_uid: u32,
    /// Its flags (system flags and keyword letters).
    pub flags: Flags,
    /// The folder's keyword names, for the letters in `flags`.
    pub keywords: &'a dyn KeywordNames,
    /// Whether it is `\Recent` in this session.
    pub recent: bool,
    /// Its internal date.
    pub internal_date: SystemTime,
    /// Its RFC822.SIZE.
    pub size: u64,
    /// Its modification sequence (CONDSTORE), 0 if none is kept.
    pub modseq: u64,
}

/// MessageSource - the expensive parts of a message, loaded on demand
/// (and best kept by the implementation once loaded: a search may ask
/// for them more than once).
pub trait MessageSource {
    /// What loading can fail with.
    type Error;

    /// metadata - the message's metadata (usually from the cache).
    fn metadata(&mut self) -> Result<&Metadata, Self::Error>;

    /// message - the message as stored (LF line endings).
    fn message(&mut self) -> Result<&[u8], Self::Error>;
}

/// Which address header an address key searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AddressField {
    /// FROM.
    From,
    /// TO.
    To,
    /// CC.
    Cc,
    /// BCC.
    Bcc,
}

impl AddressField {
    /// name - the header field's name.
    fn name(self) -> &'static [u8] {
        match self {
            AddressField::From => b"From",
            AddressField::To => b"To",
            AddressField::Cc => b"Cc",
            AddressField::Bcc => b"Bcc",
        }
    }
}

/// How a date key compares a day with its date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DateCmp {
    /// BEFORE: earlier.
    Before,
    /// ON: the same day.
    On,
    /// SINCE: the same day or later.
    Since,
}

impl DateCmp {
    /// holds - whether `day` compares so with `date`.
    fn holds(self, day: Date, date: Date) -> bool {
        match self {
            DateCmp::Before => day < date,
            DateCmp::On => day == date,
            DateCmp::Since => day >= date,
        }
    }
}

/// Node - a search key prepared for evaluation: strings folded, ANDs
/// ordered cheapest first.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    /// Always true.
    All,
    /// A system flag is set (`true`) or not set (`false`).
    Flag(Flag, bool),
    /// `\Recent` is (or is not) set.
    Recent(bool),
    /// NEW: recent and not seen.
    New,
    /// A keyword is (`true`) or is not set, by folded name.
    Keyword(String, bool),
    /// RFC822.SIZE greater than this.
    Larger(u64),
    /// RFC822.SIZE smaller than this.
    Smaller(u64),
    /// The internal date's day.
    Internal(DateCmp, Date),
    /// The Date: header's day.
    Sent(DateCmp, Date),
    /// The sequence number is in the set.
    Seq(SequenceSet),
    /// The UID is in the set.
    Uid(SequenceSet),
    /// The modseq is at least this.
    ModSeq(u64),
    /// An address header contains the folded string.
    Address(AddressField, String),
    /// The subject contains the folded string.
    Subject(String),
    /// A header field (name as given) contains the folded string.
    Header(String, String),
    /// A text part contains the folded string.
    Body(String),
    /// A header block or text part contains the folded string.
    Text(String),
    /// Not.
    Not(Box<Node>),
    /// Every one.
    And(Vec<Node>),
    /// Either.
    Or(Box<Node>, Box<Node>),
}

impl Node {
    /// compile - the node for `key`.
    fn compile(key: &SearchKey) -> Node {
        let date = |cmp, date: &Date| Node::Internal(cmp, *date);
        let sent = |cmp, date: &Date| Node::Sent(cmp, *date);
        match key {
            SearchKey::All => Node::All,
            SearchKey::Answered => Node::Flag(Flag::Replied, true),
            SearchKey::Unanswered => Node::Flag(Flag::Replied, false),
            SearchKey::Deleted => Node::Flag(Flag::Trashed, true),
            SearchKey::Undeleted => Node::Flag(Flag::Trashed, false),
            SearchKey::Draft => Node::Flag(Flag::Draft, true),
            SearchKey::Undraft => Node::Flag(Flag::Draft, false),
            SearchKey::Flagged => Node::Flag(Flag::Flagged, true),
            SearchKey::Unflagged => Node::Flag(Flag::Flagged, false),
            SearchKey::Seen => Node::Flag(Flag::Seen, true),
            SearchKey::Unseen => Node::Flag(Flag::Seen, false),
            SearchKey::Recent => Node::Recent(true),
            SearchKey::Old => Node::Recent(false),
            SearchKey::New => Node::New,
            SearchKey::Keyword(k) => Node::Keyword(k.clone(), true),
            SearchKey::Unkeyword(k) => Node::Keyword(k.clone(), false),
            SearchKey::Larger(n) => Node::Larger(*n),
            SearchKey::Smaller(n) => Node::Smaller(*n),
            SearchKey::Before(d) => date(DateCmp::Before, d),
            SearchKey::On(d) => date(DateCmp::On, d),
            SearchKey::Since(d) => date(DateCmp::Since, d),
            SearchKey::SentBefore(d) => sent(DateCmp::Before, d),
            SearchKey::SentOn(d) => sent(DateCmp::On, d),
            SearchKey::SentSince(d) => sent(DateCmp::Since, d),
            SearchKey::Sequence(set) => Node::Seq(set.clone()),
            SearchKey::Uid(set) => Node::Uid(set.clone()),
            SearchKey::ModSeq(n) => Node::ModSeq(*n),
            SearchKey::From(s) => Node::Address(AddressField::From, fold(s)),
            SearchKey::To(s) => Node::Address(AddressField::To, fold(s)),
            SearchKey::Cc(s) => Node::Address(AddressField::Cc, fold(s)),
            SearchKey::Bcc(s) => Node::Address(AddressField::Bcc, fold(s)),
            SearchKey::Subject(s) => Node::Subject(fold(s)),
            SearchKey::Header(name, s) => Node::Header(name.clone(), fold(s)),
            SearchKey::Body(s) => Node::Body(fold(s)),
            SearchKey::Text(s) => Node::Text(fold(s)),
            SearchKey::Not(inner) => Node::Not(Box::new(Node::compile(inner))),
            SearchKey::Or(a, b) => {
                let (mut a, mut b) = (Node::compile(a), Node::compile(b));
                if b.cost() < a.cost() {
                    std::mem::swap(&mut a, &mut b);
                }
                Node::Or(Box::new(a), Box::new(b))
            }
            SearchKey::And(keys) => {
                let mut nodes: Vec<Node> = keys.iter().map(Node::compile).collect();
                // Stable: keys of equal cost keep the client's order.
                nodes.sort_by_key(Node::cost);
                Node::And(nodes)
            }
        }
    }

    /// cost - the most this node may need loaded.
    fn cost(&self) -> Need {
        match self {
            Node::All
            | Node::Flag(..)
            | Node::Recent(_)
            | Node::New
            | Node::Keyword(..)
            | Node::Larger(_)
            | Node::Smaller(_)
            | Node::Internal(..)
            | Node::Seq(_)
            | Node::Uid(_)
            | Node::ModSeq(_) => Need::Entry,
            // An empty string asks whether the header is there, which
            // the envelope cannot always tell.
            Node::Address(_, s) if s.is_empty() => Need::Message,
            Node::Sent(..) | Node::Address(..) | Node::Subject(_) => Need::Metadata,
            Node::Header(..) | Node::Body(_) | Node::Text(_) => Need::Message,
            Node::Not(inner) => inner.cost(),
            Node::And(nodes) => nodes.iter().map(Node::cost).max().unwrap_or(Need::Entry),
            Node::Or(a, b) => a.cost().max(b.cost()),
        }
    }

    /// uses_modseq - whether a MODSEQ key is anywhere in the tree.
    fn uses_modseq(&self) -> bool {
        match self {
            Node::ModSeq(_) => true,
            Node::Not(inner) => inner.uses_modseq(),
            Node::And(nodes) => nodes.iter().any(Node::uses_modseq),
            Node::Or(a, b) => a.uses_modseq() || b.uses_modseq(),
            _ => false,
        }
    }
}

/// Derived - what has been worked out about the message so far.
#[derive(Debug, Default)]
struct Derived {
    /// From the metadata, each worked out when first needed: the Date:
    /// header's day (1970-01-01 without one).
    sent: Option<Date>,
    /// The subject, decoded and folded; None without a Subject: header.
    subject: Option<Option<String>>,
    /// From, To, Cc and Bcc, written out and folded; empty for no address.
    addresses: [Option<String>; 4],
    /// The message's own header fields, decoded.
    fields: Option<Vec<(Vec<u8>, String)>>,
    /// Every header block and text part.
    text: Option<MessageText>,
}

/// The day a message without a usable Date: header was sent.
const NO_DATE: Date = Date {
    year: 1970,
    month: 1,
    day: 1,
};

/// sent_day - the day of a raw Date: header value, in its own zone.
fn sent_day(raw: Option<&[u8]>) -> Date {
    let Some(raw) = raw else {
        return NO_DATE;
    };
    let text = String::from_utf8_lossy(raw);
    match mail_parser::DateTime::parse_rfc822(&text) {
        Some(dt) if dt.is_valid() => Date {
            year: dt.year,
            month: dt.month,
            day: dt.day,
        },
        _ => NO_DATE,
    }
}

/// Evaluation - one message being matched.
struct Evaluation<'e, 'f, S> {
    /// Its facts.
    facts: &'e Facts<'f>,
    /// Where to load the rest from.
    source: &'e mut S,
    /// What was loaded and worked out.
    derived: Derived,
}

impl<S: MessageSource> Evaluation<'_, '_, S> {
    /// eval - whether `node` matches.
    fn eval(&mut self, node: &Node) -> Result<bool, S::Error> {
        let facts = self.facts;
        Ok(match node {
            Node::All => true,
            Node::Flag(flag, set) => facts.flags.contains(*flag) == *set,
            Node::Recent(recent) => facts.recent == *recent,
            Node::New => facts.recent && !facts.flags.contains(Flag::Seen),
            Node::Keyword(name, set) => {
                let has = keyword_names(facts.flags, facts.keywords)
                    .any(|k| k.eq_ignore_ascii_case(name));
                has == *set
            }
            Node::Larger(n) => facts.size > *n,
            Node::Smaller(n) => facts.size < *n,
            Node::Internal(cmp, date) => cmp.holds(utc_time(facts.internal_date).date, *date),
            Node::Seq(set) => set.contains(facts.seq, facts.largest_seq),
            Node::Uid(set) => set.contains(facts.uid, facts.largest_uid),
            Node::ModSeq(n) => facts.modseq >= *n,
            Node::Sent(cmp, date) => cmp.holds(self.sent()?, *date),
            Node::Subject(needle) => self
                .subject()?
                .is_some_and(|subject| subject.contains(needle.as_str())),
            Node::Address(field, needle) => {
                let listed = self.addresses(*field)?;
                let (none, found) = (listed.is_empty(), listed.contains(needle.as_str()));
                if needle.is_empty() && none {
                    // No address, but the field may still be there.
                    self.fields()?
                        .iter()
                        .any(|(name, _)| name.eq_ignore_ascii_case(field.name()))
                } else {
                    found
                }
            }
            Node::Header(name, needle) => self.fields()?.iter().any(|(field, value)| {
                field.eq_ignore_ascii_case(name.as_bytes()) && value.contains(needle.as_str())
            }),
            Node::Body(needle) => {
                needle.is_empty()
                    || self
                        .text()?
                        .bodies
                        .iter()
                        .any(|b| b.contains(needle.as_str()))
            }
            Node::Text(needle) => {
                let text = self.text()?;
                needle.is_empty()
                    || text
                        .headers
                        .iter()
                        .chain(&text.bodies)
                        .any(|t| t.contains(needle.as_str()))
            }
            Node::Not(inner) => !self.eval(inner)?,
            Node::And(nodes) => {
                for node in nodes {
                    if !self.eval(node)? {
                        return Ok(false);
                    }
                }
                true
            }
            Node::Or(a, b) => self.eval(a)? || self.eval(b)?,
        })
    }

    /// sent - the day of the Date: header, from the metadata.
    fn sent(&mut self) -> Result<Date, S::Error> {
        if let Some(day) = self.derived.sent {
            return Ok(day);
        }
        let day = sent_day(self.source.metadata()?.envelope.date.as_deref());
        self.derived.sent = Some(day);
        Ok(day)
    }

    /// subject - the subject, decoded and folded, from the metadata.
    fn subject(&mut self) -> Result<Option<&str>, S::Error> {
        if self.derived.subject.is_none() {
            let envelope = &self.source.metadata()?.envelope;
            let subject = envelope.subject.as_deref().map(|s| fold(&decode_value(s)));
            self.derived.subject = Some(subject);
        }
        Ok(self.derived.subject.as_ref().and_then(|s| s.as_deref()))
    }

    /// addresses - one address list written out and folded, from the
    /// metadata.
    fn addresses(&mut self, field: AddressField) -> Result<&str, S::Error> {
        let slot = field as usize;
        if self
            .derived
            .addresses
            .get(slot)
            .is_some_and(Option::is_none)
        {
            let envelope = &self.source.metadata()?.envelope;
            let list = match field {
                AddressField::From => &envelope.from,
                AddressField::To => &envelope.to,
                AddressField::Cc => &envelope.cc,
                AddressField::Bcc => &envelope.bcc,
            };
            let text = addresses_text(list);
            if let Some(cached) = self.derived.addresses.get_mut(slot) {
                *cached = Some(text);
            }
        }
        Ok(self
            .derived
            .addresses
            .get(slot)
            .and_then(|a| a.as_deref())
            .unwrap_or(""))
    }

    /// fields - the message's own header fields, decoded.
    fn fields(&mut self) -> Result<&[(Vec<u8>, String)], S::Error> {
        if self.derived.fields.is_none() {
            self.derived.fields = Some(root_fields(self.source.message()?));
        }
        Ok(self.derived.fields.get_or_insert_with(Vec::new))
    }

    /// text - the message's header blocks and text parts.
    fn text(&mut self) -> Result<&MessageText, S::Error> {
        if self.derived.text.is_none() {
            self.derived.text = Some(message_text(self.source.message()?));
        }
        Ok(self.derived.text.get_or_insert_with(MessageText::default))
    }
}

/// Matcher - a search key ready to be evaluated against many messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    /// The prepared key.
    root: Node,
}

impl Matcher {
    /// new - prepare `key` (the whole criteria; several top-level keys
    /// are one [`SearchKey::And`]).
    pub fn new(key: &SearchKey) -> Matcher {
        Matcher {
            root: Node::compile(key),
        }
    }

    /// needs - the most any message may need loaded: [`Need::Entry`]
    /// means the [`MessageSource`] is never called.
    pub fn needs(&self) -> Need {
        self.root.cost()
    }

    /// uses_modseq - whether the criteria contain MODSEQ, so that the
    /// response must report the highest modseq found (RFC 7162 §3.1.5).
    pub fn uses_modseq(&self) -> bool {
        self.root.uses_modseq()
    }

    /// matches - whether the message matches. The source is asked only
    /// for what a key being evaluated needs; its errors end the search.
    pub fn matches<S: MessageSource>(
        &self,
        facts: &Facts<'_>,
        source: &mut S,
    ) -> Result<bool, S::Error> {
        Evaluation {
            facts,
            source,
            derived: Derived::default(),
        }
        .eval(&self.root)
    }
}

/// matches - [`Matcher::matches`] for a single message.
pub fn matches<S: MessageSource>(
    key: &SearchKey,
    facts: &Facts<'_>,
    source: &mut S,
) -> Result<bool, S::Error> {
    Matcher::new(key).matches(facts, source)
}

/// compact_set - numbers in IMAP's compact sequence-set form, `1:3,5,9`: sorted,
/// duplicates dropped, runs as ranges. Empty for no numbers.
pub fn compact_set(numbers: &[u32]) -> String {
    let mut sorted = numbers.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut out = String::new();
    let mut iter = sorted.into_iter().peekable();
    while let Some(start) = iter.next() {
        let mut end = start;
        while let Some(&next) = iter.peek() {
            if Some(next) != end.checked_add(1) {
                break;
            }
            end = next;
            iter.next();
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
    }
    out
}

/// write_search - `* SEARCH 1 2 3\r\n`, the numbers in the order given,
/// with ` (MODSEQ n)` before the line end when `modseq` is given (the
/// highest modseq of the matches, for a search with MODSEQ that found
/// something).
pub fn write_search(out: &mut Vec<u8>, numbers: &[u32], modseq: Option<u64>) {
    out.extend_from_slice(b"* SEARCH");
    for n in numbers {
        out.extend_from_slice(format!(" {n}").as_bytes());
    }
    if let Some(modseq) = modseq {
        out.extend_from_slice(format!(" (MODSEQ {modseq})").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// write_esearch - `* ESEARCH (TAG "a1") UID MIN 1 MAX 9 ALL 1:3,5,9
/// COUNT 3\r\n` (RFC 4731), in Dovecot's order: MIN, MAX, ALL, COUNT,
/// then MODSEQ.
///
/// `returns` are the RETURN options; empty (`RETURN ()`) means ALL.
/// MIN, MAX and ALL are left out when nothing matched; COUNT is always
/// there when asked for. `modseq` is as for [`write_search`].
pub fn write_esearch(
    out: &mut Vec<u8>,
    tag: &str,
    uid: bool,
    numbers: &[u32],
    returns: &[SearchReturn],
    modseq: Option<u64>,
) {
    let wants =
        |r: SearchReturn| returns.contains(&r) || (r == SearchReturn::All && returns.is_empty());
    out.extend_from_slice(b"* ESEARCH");
    out.extend_from_slice(b" (TAG ");
    encode::string(out, tag.as_bytes());
    out.push(b')');
    if uid {
        out.extend_from_slice(b" UID");
    }
    let min = numbers.iter().min();
    let max = numbers.iter().max();
    if let (true, Some(min)) = (wants(SearchReturn::Min), min) {
        out.extend_from_slice(format!(" MIN {min}").as_bytes());
    }
    if let (true, Some(max)) = (wants(SearchReturn::Max), max) {
        out.extend_from_slice(format!(" MAX {max}").as_bytes());
    }
    if wants(SearchReturn::All) && !numbers.is_empty() {
        out.extend_from_slice(format!(" ALL {}", compact_set(numbers)).as_bytes());
    }
    if wants(SearchReturn::Count) {
        let mut distinct = numbers.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        out.extend_from_slice(format!(" COUNT {}", distinct.len()).as_bytes());
    }
    if let Some(modseq) = modseq {
        out.extend_from_slice(format!(" MODSEQ {modseq}").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests;
