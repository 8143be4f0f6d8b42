//! imap-types' borrowed command turned into our owned [`Command`].
//!
//! Every function returns the reply text on failure; the caller adds the tag.

use chrono::{Datelike, Timelike};
use imap_codec::imap_types::{
    command::{
        Command as WireCommand, CommandBody as WireBody, FetchModifier, SelectParameter,
        StoreModifier,
    },
    core::{AString, Vec1},
    datetime::{DateTime as WireDateTime, NaiveDate},
    extensions::binary::LiteralOrLiteral8,
    fetch::{
        Macro, MacroOrMessageDataItemNames, MessageDataItemName, Part, Section as WireSection,
    },
    flag::{Flag as WireFlag, StoreResponse, StoreType},
    mailbox::{ListMailbox, Mailbox},
    search::SearchKey as WireKey,
    sequence::{SeqOrUid, Sequence, SequenceSet as WireSet},
    status::StatusDataItemName,
};

use crate::command::{
    Command, CommandBody, Date, DateTime, FetchAttr, Flag, SearchKey, Section, SectionText, SeqNum,
    SeqRange, SequenceSet, StatusItem, StoreKind,
};

/// command - converts a decoded command; `message` is the raw command it came from.
pub(super) fn command(wire: WireCommand<'_>, message: &[u8]) -> Result<Command, String> {
    let tag = wire.tag.inner().to_owned();
    let body = body(wire.body, message)?;
    Ok(Command { tag, body })
}

/// body - converts one command body, refusing what imapd does not implement.
fn body(wire: WireBody<'_>, message: &[u8]) -> Result<CommandBody, String> {
    Ok(match wire {
        WireBody::Capability => CommandBody::Capability,
        WireBody::Noop => CommandBody::Noop,
        WireBody::Logout => CommandBody::Logout,
        WireBody::StartTLS => CommandBody::StartTls,
        WireBody::Authenticate {
            mechanism,
            initial_response,
        } => CommandBody::Authenticate {
            mechanism: mechanism.as_ref().to_ascii_uppercase(),
            initial: match initial_response {
                // imap-codec hands out the decoded bytes; the session wants the text
                // as sent, which is the last word of the (single) line.
                Some(_) => Some(last_word(message)?),
                None => None,
            },
        },
        WireBody::Login { username, password } => CommandBody::Login {
            user: utf8(username.as_ref(), "user name")?,
            password: utf8(password.declassify().as_ref(), "password")?,
        },
        WireBody::Enable { capabilities } => CommandBody::Enable(
            capabilities
                .into_iter()
                .map(|c| c.to_string().to_ascii_uppercase())
                .collect(),
        ),
        WireBody::Select {
            mailbox,
            parameters,
        } => CommandBody::Select {
            mailbox: mailbox_name(&mailbox)?,
            read_only: false,
            condstore: condstore(&parameters)?,
        },
        WireBody::Examine {
            mailbox,
            parameters,
        } => CommandBody::Select {
            mailbox: mailbox_name(&mailbox)?,
            read_only: true,
            condstore: condstore(&parameters)?,
        },
        WireBody::Create { mailbox } => CommandBody::Create(mailbox_name(&mailbox)?),
        WireBody::Delete { mailbox } => CommandBody::Delete(mailbox_name(&mailbox)?),
        WireBody::Rename { from, to } => CommandBody::Rename {
            from: mailbox_name(&from)?,
            to: mailbox_name(&to)?,
        },
        WireBody::Subscribe { mailbox } => CommandBody::Subscribe(mailbox_name(&mailbox)?),
        WireBody::Unsubscribe { mailbox } => CommandBody::Unsubscribe(mailbox_name(&mailbox)?),
        WireBody::List {
            reference,
            mailbox_wildcard,
        } => CommandBody::List {
            reference: mailbox_name(&reference)?,
            patterns: vec![pattern(&mailbox_wildcard)?],
            select: Vec::new(),
            returns: Vec::new(),
        },
        WireBody::Lsub {
            reference,
            mailbox_wildcard,
        } => CommandBody::Lsub {
            reference: mailbox_name(&reference)?,
            pattern: pattern(&mailbox_wildcard)?,
        },
        WireBody::Namespace => CommandBody::Namespace,
        WireBody::Status {
            mailbox,
            item_names,
        } => CommandBody::Status {
            mailbox: mailbox_name(&mailbox)?,
            items: item_names
                .iter()
                .map(status_item)
                .collect::<Result<_, _>>()?,
        },
        WireBody::Append {
            mailbox,
            flags,
            date,
            message,
        } => CommandBody::Append {
            mailbox: mailbox_name(&mailbox)?,
            flags: flags.iter().map(flag).collect(),
            date: date.as_ref().map(date_time).transpose()?,
            message: match message {
                LiteralOrLiteral8::Literal(literal) => literal.into_inner().into_owned(),
                LiteralOrLiteral8::Literal8(literal) => literal.data.into_owned(),
            },
        },
        WireBody::Check => CommandBody::Check,
        WireBody::Close => CommandBody::Close,
        WireBody::Unselect => CommandBody::Unselect,
        WireBody::Expunge => CommandBody::Expunge { uids: None },
        WireBody::ExpungeUid { sequence_set } => CommandBody::Expunge {
            uids: Some(sequence_set_of(&sequence_set)),
        },
        WireBody::Search {
            charset,
            criteria,
            uid,
        } => CommandBody::Search {
            uid,
            charset: charset.map(|c| c.as_ref().to_ascii_uppercase()),
            criteria: criteria_of(criteria)?,
            returns: None,
        },
        WireBody::Fetch {
            sequence_set,
            macro_or_item_names,
            uid,
            modifiers,
        } => CommandBody::Fetch {
            uid,
            set: sequence_set_of(&sequence_set),
            items: fetch_items(macro_or_item_names)?,
            changed_since: changed_since(&modifiers)?,
        },
        WireBody::Store {
            sequence_set,
            kind,
            response,
            flags,
            uid,
            modifiers,
        } => CommandBody::Store {
            uid,
            set: sequence_set_of(&sequence_set),
            kind: match kind {
                StoreType::Replace => StoreKind::Replace,
                StoreType::Add => StoreKind::Add,
                StoreType::Remove => StoreKind::Remove,
            },
            silent: response == StoreResponse::Silent,
            flags: flags.iter().map(flag).collect(),
            unchanged_since: modifiers.iter().fold(None, |_, m| match m {
                StoreModifier::UnchangedSince(n) => Some(*n),
            }),
        },
        WireBody::Copy {
            sequence_set,
            mailbox,
            uid,
        } => CommandBody::Copy {
            uid,
            set: sequence_set_of(&sequence_set),
            mailbox: mailbox_name(&mailbox)?,
        },
        WireBody::Move {
            sequence_set,
            mailbox,
            uid,
        } => CommandBody::Move {
            uid,
            set: sequence_set_of(&sequence_set),
            mailbox: mailbox_name(&mailbox)?,
        },
        WireBody::Idle => CommandBody::Idle,
        WireBody::Id { parameters } => CommandBody::Id(parameters.map(|pairs| {
            pairs
                .iter()
                .map(|(field, value)| {
                    (
                        lossy(field.as_ref()),
                        value.0.as_ref().map(|v| lossy(v.as_ref())),
                    )
                })
                .collect()
        })),
        unsupported @ (WireBody::Sort { .. }
        | WireBody::Thread { .. }
        | WireBody::Compress { .. }
        | WireBody::GetQuota { .. }
        | WireBody::GetQuotaRoot { .. }
        | WireBody::SetQuota { .. }) => {
            return Err(format!("{} is not supported", unsupported.name()));
        }
    })
}

/// last_word - the last space-separated word of a one-line command, without the line
/// ending.
fn last_word(message: &[u8]) -> Result<String, String> {
    let line = message.strip_suffix(b"\n").unwrap_or(message);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let word = line.rsplit(|&b| b == b' ').next().unwrap_or_default();
    utf8(word, "initial response")
}

/// utf8 - bytes as a String, or the reply text naming `what` was not UTF-8.
pub(super) fn utf8(bytes: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
}

/// lossy - bytes as a String, replacing what is not UTF-8 (informational text only).
fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// mailbox_name - a mailbox name as sent; any case of INBOX becomes `INBOX`.
pub(super) fn mailbox_name(mailbox: &Mailbox<'_>) -> Result<String, String> {
    match mailbox {
        Mailbox::Inbox => Ok("INBOX".to_owned()),
        Mailbox::Other(other) => utf8(other.as_ref(), "mailbox name"),
    }
}

/// pattern - a LIST/LSUB pattern as sent.
pub(super) fn pattern(pattern: &ListMailbox<'_>) -> Result<String, String> {
    match pattern {
        ListMailbox::Token(token) => utf8(token.as_ref(), "mailbox pattern"),
        ListMailbox::String(string) => utf8(string.as_ref(), "mailbox pattern"),
    }
}

/// condstore - whether SELECT/EXAMINE asked for CONDSTORE; QRESYNC is refused.
fn condstore(parameters: &[SelectParameter]) -> Result<bool, String> {
    let mut condstore = false;
    for parameter in parameters {
        match parameter {
            SelectParameter::CondStore => condstore = true,
            SelectParameter::QResync { .. } => return Err("QRESYNC is not supported".to_owned()),
        }
    }
    Ok(condstore)
}

/// changed_since - FETCH's CHANGEDSINCE; VANISHED (QRESYNC) is refused.
fn changed_since(modifiers: &[FetchModifier]) -> Result<Option<u64>, String> {
    let mut since = None;
    for modifier in modifiers {
        match modifier {
            FetchModifier::ChangedSince(n) => since = Some(n.get()),
            FetchModifier::Vanished => return Err("VANISHED is not supported".to_owned()),
        }
    }
    Ok(since)
}

/// status_item - one STATUS data item name.
pub(super) fn status_item(item: &StatusDataItemName) -> Result<StatusItem, String> {
    Ok(match item {
        StatusDataItemName::Messages => StatusItem::Messages,
        StatusDataItemName::Recent => StatusItem::Recent,
        StatusDataItemName::UidNext => StatusItem::UidNext,
        StatusDataItemName::UidValidity => StatusItem::UidValidity,
        StatusDataItemName::Unseen => StatusItem::Unseen,
        StatusDataItemName::Deleted => StatusItem::Deleted,
        StatusDataItemName::Size => StatusItem::Size,
        StatusDataItemName::HighestModSeq => StatusItem::HighestModSeq,
        StatusDataItemName::DeletedStorage => {
            return Err("STATUS DELETED-STORAGE is not supported".to_owned());
        }
    })
}

/// flag - a message flag; `\Recent` gets its own variant.
fn flag(flag: &WireFlag<'_>) -> Flag {
    match flag {
        WireFlag::Seen => Flag::Seen,
        WireFlag::Answered => Flag::Answered,
        WireFlag::Flagged => Flag::Flagged,
        WireFlag::Deleted => Flag::Deleted,
        WireFlag::Draft => Flag::Draft,
        WireFlag::Keyword(atom) => Flag::Keyword(atom.as_ref().to_owned()),
        WireFlag::Extension(_) => {
            // The extension's name is only reachable through Display (`\Name`).
            let text = flag.to_string();
            let name = text.strip_prefix('\\').unwrap_or(&text);
            if name.eq_ignore_ascii_case("Recent") {
                Flag::Recent
            } else {
                Flag::Extension(name.to_owned())
            }
        }
    }
}

/// sequence_set_of - a sequence set, ranges kept as sent.
fn sequence_set_of(set: &WireSet) -> SequenceSet {
    let num = |n: &SeqOrUid| match n {
        SeqOrUid::Value(v) => SeqNum::Value(v.get()),
        SeqOrUid::Asterisk => SeqNum::Largest,
    };
    SequenceSet(
        set.0
            .as_ref()
            .iter()
            .map(|sequence| match sequence {
                Sequence::Single(n) => SeqRange {
                    start: num(n),
                    end: num(n),
                },
                Sequence::Range(a, b) => SeqRange {
                    start: num(a),
                    end: num(b),
                },
            })
            .collect(),
    )
}

/// date - a calendar date.
fn date(date: &NaiveDate) -> Result<Date, String> {
    let d = date.as_ref();
    Ok(Date {
        year: u16::try_from(d.year()).map_err(|_| "bad year".to_owned())?,
        month: u8::try_from(d.month()).map_err(|_| "bad month".to_owned())?,
        day: u8::try_from(d.day()).map_err(|_| "bad day".to_owned())?,
    })
}

/// date_time - APPEND's internal date, in the zone the client gave.
fn date_time(date_time: &WireDateTime) -> Result<DateTime, String> {
    let dt = date_time.as_ref();
    let local = dt.naive_local();
    let bad = |what: &str| format!("bad {what} in date-time");
    Ok(DateTime {
        date: Date {
            year: u16::try_from(local.year()).map_err(|_| bad("year"))?,
            month: u8::try_from(local.month()).map_err(|_| bad("month"))?,
            day: u8::try_from(local.day()).map_err(|_| bad("day"))?,
        },
        hour: u8::try_from(local.hour()).map_err(|_| bad("hour"))?,
        minute: u8::try_from(local.minute()).map_err(|_| bad("minute"))?,
        second: u8::try_from(local.second()).map_err(|_| bad("second"))?,
        zone_minutes: i16::try_from(dt.offset().local_minus_utc() / 60).map_err(|_| bad("zone"))?,
    })
}

/// criteria_of - SEARCH criteria; several top-level keys are an AND.
fn criteria_of(keys: Vec1<WireKey<'_>>) -> Result<SearchKey, String> {
    let mut keys = keys
        .into_iter()
        .map(|k| search_key(&k))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(match keys.pop() {
        Some(only) if keys.is_empty() => only,
        Some(last) => {
            keys.push(last);
            SearchKey::And(keys)
        }
        None => SearchKey::All,
    })
}

/// string - a SEARCH string argument (must be UTF-8).
fn string(s: &AString<'_>) -> Result<String, String> {
    utf8(s.as_ref(), "search string")
}

/// search_key - one SEARCH key, recursively (imap-codec bounds the depth).
fn search_key(key: &WireKey<'_>) -> Result<SearchKey, String> {
    Ok(match key {
        WireKey::And(keys) => SearchKey::And(
            keys.as_ref()
                .iter()
                .map(search_key)
                .collect::<Result<_, _>>()?,
        ),
        WireKey::SequenceSet(set) => SearchKey::Sequence(sequence_set_of(set)),
        WireKey::All => SearchKey::All,
        WireKey::Answered => SearchKey::Answered,
        WireKey::Bcc(s) => SearchKey::Bcc(string(s)?),
        WireKey::Before(d) => SearchKey::Before(date(d)?),
        WireKey::Body(s) => SearchKey::Body(string(s)?),
        WireKey::Cc(s) => SearchKey::Cc(string(s)?),
        WireKey::Deleted => SearchKey::Deleted,
        WireKey::Draft => SearchKey::Draft,
        WireKey::Flagged => SearchKey::Flagged,
        WireKey::From(s) => SearchKey::From(string(s)?),
        WireKey::Header(name, value) => SearchKey::Header(string(name)?, string(value)?),
        WireKey::Keyword(atom) => SearchKey::Keyword(atom.as_ref().to_owned()),
        WireKey::Larger(n) => SearchKey::Larger(u64::from(*n)),
        WireKey::New => SearchKey::New,
        WireKey::Not(key) => SearchKey::Not(Box::new(search_key(key)?)),
        WireKey::Old => SearchKey::Old,
        WireKey::On(d) => SearchKey::On(date(d)?),
        WireKey::Or(a, b) => SearchKey::Or(Box::new(search_key(a)?), Box::new(search_key(b)?)),
        WireKey::Recent => SearchKey::Recent,
        WireKey::Seen => SearchKey::Seen,
        WireKey::SentBefore(d) => SearchKey::SentBefore(date(d)?),
        WireKey::SentOn(d) => SearchKey::SentOn(date(d)?),
        WireKey::SentSince(d) => SearchKey::SentSince(date(d)?),
        WireKey::Since(d) => SearchKey::Since(date(d)?),
        WireKey::Smaller(n) => SearchKey::Smaller(u64::from(*n)),
        WireKey::Subject(s) => SearchKey::Subject(string(s)?),
        WireKey::Text(s) => SearchKey::Text(string(s)?),
        WireKey::To(s) => SearchKey::To(string(s)?),
        WireKey::Uid(set) => SearchKey::Uid(sequence_set_of(set)),
        WireKey::Unanswered => SearchKey::Unanswered,
        WireKey::Undeleted => SearchKey::Undeleted,
        WireKey::Undraft => SearchKey::Undraft,
        WireKey::Unflagged => SearchKey::Unflagged,
        WireKey::Unkeyword(atom) => SearchKey::Unkeyword(atom.as_ref().to_owned()),
        WireKey::Unseen => SearchKey::Unseen,
        WireKey::ModSequence { modseq, .. } => SearchKey::ModSeq(*modseq),
    })
}

/// fetch_items - FETCH data items with the macros expanded.
fn fetch_items(items: MacroOrMessageDataItemNames<'_>) -> Result<Vec<FetchAttr>, String> {
    let names = match items {
        MacroOrMessageDataItemNames::Macro(m) => {
            return Ok(match m {
                Macro::Fast => vec![
                    FetchAttr::Flags,
                    FetchAttr::InternalDate,
                    FetchAttr::Rfc822Size,
                ],
                Macro::All => vec![
                    FetchAttr::Flags,
                    FetchAttr::InternalDate,
                    FetchAttr::Rfc822Size,
                    FetchAttr::Envelope,
                ],
                Macro::Full => vec![
                    FetchAttr::Flags,
                    FetchAttr::InternalDate,
                    FetchAttr::Rfc822Size,
                    FetchAttr::Envelope,
                    FetchAttr::Body,
                ],
                _ => return Err(format!("FETCH macro {m} is not supported")),
            });
        }
        MacroOrMessageDataItemNames::MessageDataItemNames(names) => names,
    };
    names.iter().map(fetch_attr).collect()
}

/// fetch_attr - one FETCH data item.
fn fetch_attr(name: &MessageDataItemName<'_>) -> Result<FetchAttr, String> {
    let parts = |part: &[std::num::NonZeroU32]| part.iter().map(|n| n.get()).collect::<Vec<_>>();
    let partial =
        |p: &Option<(u32, std::num::NonZeroU32)>| p.map(|(offset, count)| (offset, count.get()));
    Ok(match name {
        MessageDataItemName::Body => FetchAttr::Body,
        MessageDataItemName::BodyExt {
            section,
            partial: range,
            peek,
        } => FetchAttr::BodySection {
            peek: *peek,
            section: section
                .as_ref()
                .map(section_of)
                .transpose()?
                .unwrap_or_default(),
            partial: partial(range),
        },
        MessageDataItemName::BodyStructure => FetchAttr::BodyStructure,
        MessageDataItemName::Envelope => FetchAttr::Envelope,
        MessageDataItemName::Flags => FetchAttr::Flags,
        MessageDataItemName::InternalDate => FetchAttr::InternalDate,
        MessageDataItemName::Rfc822 => FetchAttr::Rfc822,
        MessageDataItemName::Rfc822Header => FetchAttr::Rfc822Header,
        MessageDataItemName::Rfc822Size => FetchAttr::Rfc822Size,
        MessageDataItemName::Rfc822Text => FetchAttr::Rfc822Text,
        MessageDataItemName::Uid => FetchAttr::Uid,
        MessageDataItemName::Binary {
            section,
            partial: range,
            peek,
        } => FetchAttr::Binary {
            peek: *peek,
            part: parts(section),
            partial: partial(range),
        },
        MessageDataItemName::BinarySize { section } => FetchAttr::BinarySize {
            part: parts(section),
        },
        MessageDataItemName::ModSeq => FetchAttr::ModSeq,
    })
}

/// section_of - a BODY[...] section; header field names are upper-cased.
fn section_of(section: &WireSection<'_>) -> Result<Section, String> {
    let part_of = |part: Option<&Part>| {
        part.map(|p| p.0.as_ref().iter().map(|n| n.get()).collect())
            .unwrap_or_default()
    };
    let names = |names: &Vec1<AString<'_>>| {
        names
            .as_ref()
            .iter()
            .map(|n| utf8(n.as_ref(), "header field name").map(|n| n.to_ascii_uppercase()))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match section {
        WireSection::Part(part) => Section {
            part: part_of(Some(part)),
            text: None,
        },
        WireSection::Header(part) => Section {
            part: part_of(part.as_ref()),
            text: Some(SectionText::Header),
        },
        WireSection::HeaderFields(part, fields) => Section {
            part: part_of(part.as_ref()),
            text: Some(SectionText::HeaderFields(names(fields)?)),
        },
        WireSection::HeaderFieldsNot(part, fields) => Section {
            part: part_of(part.as_ref()),
            text: Some(SectionText::HeaderFieldsNot(names(fields)?)),
        },
        WireSection::Text(part) => Section {
            part: part_of(part.as_ref()),
            text: Some(SectionText::Text),
        },
        WireSection::Mime(part) => Section {
            part: part_of(Some(part)),
            text: Some(SectionText::Mime),
        },
    })
}
