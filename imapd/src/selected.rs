//! The selected mailbox: the session's numbering of its messages, and the commands
//! that work on them (FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE).
//!
//! The session keeps its own list of (UID, flags) in sequence-number order, which
//! changes only when it tells the client: new messages at the end (EXISTS), flag
//! changes (FETCH FLAGS), removals (EXPUNGE, only where RFC 9051 7.5.1 allows them;
//! until then an expunged message keeps its number and FETCH skips it).

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;
use std::time::SystemTime;

use imap_proto::{
    Code, FetchAttr, Flag, Response, SearchKey, SearchReturn, SequenceSet, Status, StoreKind,
};
use imapd_core::{fetch, search};
use mailstore::{Flags, Keywords, Location, Mailbox, Maildir};

use crate::account::Account;
use crate::session::Enabled;

/// What a STORE asks for.
#[derive(Clone, Copy)]
pub struct FlagChange<'a> {
    /// Replace, add or remove.
    pub kind: StoreKind,
    /// `.SILENT`: no FETCH responses.
    pub silent: bool,
    /// The flags.
    pub flags: &'a [Flag],
    /// CONDSTORE's UNCHANGEDSINCE.
    pub unchanged_since: Option<u64>,
}

/// Whether a rescan may report expunges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncMode {
    /// After NOOP, IDLE, UID commands and the like: everything.
    Full,
    /// After FETCH, STORE and SEARCH by sequence number: no EXPUNGE (RFC 9051 7.5.1).
    NoExpunge,
}

/// One message as the client knows it.
struct Known {
    uid: u32,
    flags: Flags,
    /// Expunged by someone else, not yet reported.
    gone: bool,
}

/// The system flags a client may set, and their Maildir letters.
const SYSTEM_FLAGS: [(&str, mailstore::Flag); 5] = [
    ("\\Answered", mailstore::Flag::Replied),
    ("\\Flagged", mailstore::Flag::Flagged),
    ("\\Deleted", mailstore::Flag::Trashed),
    ("\\Seen", mailstore::Flag::Seen),
    ("\\Draft", mailstore::Flag::Draft),
];

pub struct Selected {
    /// The mailbox name as the client gave it.
    pub name: String,
    /// The user, for log lines.
    pub user: String,
    /// EXAMINE: no changes.
    pub read_only: bool,
    maildir: Maildir,
    view: Mailbox,
    keywords: Keywords,
    known: Vec<Known>,
    /// Messages that are \Recent for this session.
    recent: HashSet<u32>,
    /// Modification times of `cur/`, `new/` and the keyword list at the last scan.
    stamp: Option<[Option<SystemTime>; 3]>,
}

fn stamp(path: &Path) -> [Option<SystemTime>; 3] {
    let mtime = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    [
        mtime(&path.join("cur")),
        mtime(&path.join("new")),
        mtime(&path.join("dovecot-keywords")),
    ]
}

/// `tag NO [code] text` with the tag filled in later.
fn no(code: Option<Code>, text: &str) -> Response {
    let response = Response::tagged("", Status::No, text);
    match code {
        Some(code) => response.with_code(code),
        None => response,
    }
}

fn store_error(e: &mailstore::Error) -> Response {
    crate::account::store_error("", e)
}

impl Selected {
    /// SELECT or EXAMINE: opens the mailbox and writes the untagged responses.
    pub fn open(
        account: &mut Account,
        name: &str,
        read_only: bool,
        rev2: bool,
        out: &mut Vec<u8>,
    ) -> Result<Selected, Response> {
        let maildir = account.existing(name)?;
        let stamp_before = stamp(maildir.path());
        let mut view = Mailbox::open(&maildir).map_err(|e| store_error(&e))?;
        let keywords = Keywords::load(&maildir).map_err(|e| store_error(&e))?;
        let recent: HashSet<u32> = view
            .messages()
            .iter()
            .filter(|m| m.location == Location::New)
            .map(|m| m.uid)
            .collect();
        if !read_only {
            view.move_new_to_cur().map_err(|e| store_error(&e))?;
        }
        let known: Vec<Known> = view
            .messages()
            .iter()
            .map(|m| Known {
                uid: m.uid,
                flags: m.flags,
                gone: false,
            })
            .collect();
        let selected = Selected {
            name: name.to_owned(),
            user: account.user.clone(),
            read_only,
            maildir,
            view,
            keywords,
            known,
            recent,
            stamp: Some(stamp_before),
        };
        if rev2 {
            // RFC 9051 6.3.2: the mailbox's name as the server has it.
            out.extend_from_slice(b"* LIST () \".\" ");
            imap_proto::encode::astring(
                out,
                if name.eq_ignore_ascii_case("INBOX") {
                    b"INBOX"
                } else {
                    name.as_bytes()
                },
            );
            out.extend_from_slice(b"\r\n");
        }
        selected.write_flags_lists(out);
        out.extend_from_slice(format!("* {} EXISTS\r\n", selected.known.len()).as_bytes());
        if !rev2 {
            out.extend_from_slice(format!("* {} RECENT\r\n", selected.recent.len()).as_bytes());
            if let Some(first) = selected
                .known
                .iter()
                .position(|k| !k.flags.contains(mailstore::Flag::Seen))
            {
                Response::untagged(Status::Ok, "First unseen.")
                    .with_code(Code::Unseen(seq(first)))
                    .write_to(out);
            }
        }
        Response::untagged(Status::Ok, "UIDs valid")
            .with_code(Code::UidValidity(selected.view.uidvalidity()))
            .write_to(out);
        Response::untagged(Status::Ok, "Predicted next UID")
            .with_code(Code::UidNext(selected.view.next_uid()))
            .write_to(out);
        Response::untagged(Status::Ok, "Highest")
            .with_code(Code::HighestModSeq(selected.view.highest_modseq()))
            .write_to(out);
        Ok(selected)
    }

    /// Closes the view's descriptors it can open again (see
    /// [`Mailbox::release_descriptors`]).
    pub fn release_descriptors(&mut self) {
        self.view.release_descriptors();
    }

    /// The folder's directory (for IDLE's watch).
    pub fn path(&self) -> &Path {
        self.maildir.path()
    }

    /// `* FLAGS (...)` and `* OK [PERMANENTFLAGS (...)]`.
    fn write_flags_lists(&self, out: &mut Vec<u8>) {
        let mut flags: Vec<String> = SYSTEM_FLAGS.iter().map(|(n, _)| (*n).to_owned()).collect();
        flags.extend(self.keywords.iter().map(|(_, name)| name.to_owned()));
        out.extend_from_slice(format!("* FLAGS ({})\r\n", flags.join(" ")).as_bytes());
        let mut permanent = if self.read_only { Vec::new() } else { flags };
        if !self.read_only && !self.keywords.is_full() {
            permanent.push("\\*".into());
        }
        Response::untagged(Status::Ok, "Flags permitted.")
            .with_code(Code::PermanentFlags(permanent))
            .write_to(out);
    }

    /// Reports what changed since the last report (see the module notes).
    pub fn sync(
        &mut self,
        mode: SyncMode,
        enabled: Enabled,
        out: &mut Vec<u8>,
    ) -> Result<(), mailstore::Error> {
        let rev2 = enabled.rev2;
        let now = stamp(self.maildir.path());
        if self.stamp.as_ref() == Some(&now)
            && (mode == SyncMode::NoExpunge || !self.known.iter().any(|k| k.gone))
        {
            return Ok(());
        }
        self.stamp = Some(now);
        let known_keywords = self.keywords.iter().count();
        self.keywords.refresh()?;
        if self.keywords.iter().count() != known_keywords {
            self.write_flags_lists(out);
        }
        self.view.refresh()?;
        for m in self.view.messages() {
            if m.location == Location::New {
                self.recent.insert(m.uid);
            }
        }
        if !self.read_only {
            self.view.move_new_to_cur()?;
        }
        // Removals first, from the highest number down so the numbers stay right.
        for index in (0..self.known.len()).rev() {
            let Some(k) = self.known.get_mut(index) else {
                continue;
            };
            if self.view.message(k.uid).is_some() {
                continue;
            }
            if mode == SyncMode::Full {
                out.extend_from_slice(format!("* {} EXPUNGE\r\n", seq(index)).as_bytes());
                self.recent.remove(&k.uid);
                self.known.remove(index);
            } else {
                k.gone = true;
            }
        }
        // Flag changes.
        for (index, k) in self.known.iter_mut().enumerate() {
            let Some(m) = self.view.message(k.uid) else {
                continue;
            };
            if m.flags != k.flags {
                k.flags = m.flags;
                let mut line = format!("* {} FETCH (UID {} FLAGS ", seq(index), k.uid).into_bytes();
                fetch::write_flags(
                    &mut line,
                    m.flags,
                    &self.keywords,
                    self.recent.contains(&k.uid),
                );
                if enabled.condstore {
                    line.extend_from_slice(format!(" MODSEQ ({})", m.modseq).as_bytes());
                }
                line.extend_from_slice(b")\r\n");
                out.extend_from_slice(&line);
            }
        }
        // New messages.
        let last = self.known.last().map_or(0, |k| k.uid);
        let before = self.known.len();
        for m in self.view.messages() {
            if m.uid > last {
                self.known.push(Known {
                    uid: m.uid,
                    flags: m.flags,
                    gone: false,
                });
            }
        }
        if self.known.len() != before {
            out.extend_from_slice(format!("* {} EXISTS\r\n", self.known.len()).as_bytes());
            if !rev2 {
                out.extend_from_slice(format!("* {} RECENT\r\n", self.recent.len()).as_bytes());
            }
        }
        Ok(())
    }

    /// The indexes into the session's list named by `set`.
    pub fn resolve(&self, set: &SequenceSet, uid: bool) -> Result<Vec<usize>, Response> {
        if uid {
            let largest = self.known.last().map_or(0, |k| k.uid);
            return Ok(self
                .known
                .iter()
                .enumerate()
                .filter(|(_, k)| set.contains(k.uid, largest))
                .map(|(i, _)| i)
                .collect());
        }
        let count = u32::try_from(self.known.len()).unwrap_or(u32::MAX);
        for range in &set.0 {
            for end in [range.start, range.end] {
                if let imap_proto::SeqNum::Value(n) = end
                    && (n == 0 || n > count)
                {
                    return Err(Response::tagged(
                        "",
                        Status::Bad,
                        "Invalid message sequence number.",
                    ));
                }
            }
        }
        if count == 0 {
            return Err(Response::tagged(
                "",
                Status::Bad,
                "No messages in the mailbox.",
            ));
        }
        Ok((0..self.known.len())
            .filter(|&i| set.contains(seq(i), count))
            .collect())
    }

    /// FETCH for the messages at these indexes, stopping early once `out` holds
    /// enough to send; returns how many indexes it handled.
    pub fn fetch(
        &mut self,
        indexes: &[usize],
        uid: bool,
        items: &[FetchAttr],
        changed_since: Option<u64>,
        condstore: bool,
        out: &mut Vec<u8>,
    ) -> Result<usize, Response> {
        let needs_metadata = items.iter().any(|i| {
            matches!(
                i,
                FetchAttr::Envelope | FetchAttr::Body | FetchAttr::BodyStructure
            ) || fetch::needs_metadata(i)
        });
        let needs_bytes = items.iter().any(fetch::needs_bytes);
        let sets_seen = !self.read_only && items.iter().any(fetch::sets_seen);
        let mut done = 0;
        for &index in indexes {
            if out.len() >= crate::session::FLUSH_AT {
                // Send what is made before reading more (a batch of large messages).
                break;
            }
            done += 1;
            let Some(k) = self.known.get(index) else {
                continue;
            };
            let message_uid = k.uid;
            let Some(entry) = self.view.message(message_uid).map(Facts::of) else {
                continue;
            };
            if changed_since.is_some_and(|since| entry.modseq <= since) {
                continue;
            }
            let mut flags_changed = false;
            if sets_seen && !entry.flags.contains(mailstore::Flag::Seen) {
                match self
                    .view
                    .set_flags(message_uid, entry.flags.with(mailstore::Flag::Seen))
                {
                    Ok(true) => flags_changed = true,
                    Ok(false) => continue,
                    Err(e) => return Err(store_error(&e)),
                }
            }
            let metadata = if needs_metadata {
                match self.view.metadata(message_uid) {
                    Ok(Some(m)) => Some(m),
                    Ok(None) => continue,
                    Err(e) => return Err(store_error(&e)),
                }
            } else {
                None
            };
            let bytes = if needs_bytes {
                match self.view.open_stored(message_uid) {
                    Ok(Some(mut file)) => {
                        let mut bytes =
                            Vec::with_capacity(usize::try_from(entry.size).unwrap_or(0));
                        if let Err(e) = file.read_to_end(&mut bytes) {
                            tracing::warn!("{}: read uid {message_uid}: {e}", self.name);
                            continue;
                        }
                        Some(bytes)
                    }
                    Ok(None) => continue,
                    Err(e) => return Err(store_error(&e)),
                }
            } else {
                None
            };
            let (flags, modseq) = self
                .view
                .message(message_uid)
                .map_or((entry.flags, entry.modseq), |m| (m.flags, m.modseq));
            if let Some(k) = self.known.get_mut(index) {
                k.flags = flags;
            }
            let message = fetch::Message {
                uid: message_uid,
                flags,
                keywords: &self.keywords,
                recent: self.recent.contains(&message_uid),
                internal_date: entry.internal_date,
                size: entry.wire_size,
                modseq,
                metadata: metadata.as_deref(),
                bytes: bytes.as_deref(),
            };
            let start = out.len();
            out.extend_from_slice(format!("* {} FETCH (", seq(index)).as_bytes());
            let mut wanted: Vec<&FetchAttr> = Vec::with_capacity(items.len() + 2);
            if uid && !items.contains(&FetchAttr::Uid) {
                wanted.push(&FetchAttr::Uid);
            }
            wanted.extend(items);
            if flags_changed && !items.contains(&FetchAttr::Flags) {
                wanted.push(&FetchAttr::Flags);
            }
            // RFC 7162 3.1.4.1 and 3.2.4: MODSEQ goes with CHANGEDSINCE, and with
            // flags a FETCH changed once CONDSTORE is on.
            if (changed_since.is_some() || (condstore && flags_changed))
                && !items.contains(&FetchAttr::ModSeq)
            {
                wanted.push(&FetchAttr::ModSeq);
            }
            for (n, item) in wanted.into_iter().enumerate() {
                if n > 0 {
                    out.push(b' ');
                }
                if let Err(e) = fetch::write_item(out, item, &message) {
                    // Nothing of this message's response has been sent yet.
                    out.truncate(start);
                    return Err(match e {
                        fetch::ItemError::Binary(fetch::BinaryError::UnknownCte(_)) => {
                            no(Some(Code::UnknownCte), "Unknown Content-Transfer-Encoding.")
                        }
                        fetch::ItemError::Binary(fetch::BinaryError::Invalid) => {
                            no(Some(Code::Parse), "Cannot decode the part's content.")
                        }
                        _ => no(Some(Code::ServerBug), "Message data unavailable."),
                    });
                }
            }
            out.extend_from_slice(b")\r\n");
        }
        Ok(done)
    }

    /// STORE.
    pub fn store(
        &mut self,
        tag: &str,
        set: &SequenceSet,
        uid: bool,
        change: &FlagChange<'_>,
        enabled: Enabled,
        out: &mut Vec<u8>,
    ) -> Response {
        let FlagChange {
            kind,
            silent,
            flags,
            unchanged_since,
        } = *change;
        let condstore = enabled.condstore || unchanged_since.is_some();
        if self.read_only {
            return Response::tagged(tag, Status::No, "Mailbox is read-only.")
                .with_code(Code::ReadOnly);
        }
        let indexes = match self.resolve(set, uid) {
            Ok(indexes) => indexes,
            Err(r) => return r.retag(tag),
        };
        let mut system = Flags::empty();
        let mut letters = Vec::new();
        for flag in flags {
            match flag {
                Flag::Seen => system.insert(mailstore::Flag::Seen),
                Flag::Answered => system.insert(mailstore::Flag::Replied),
                Flag::Flagged => system.insert(mailstore::Flag::Flagged),
                Flag::Deleted => system.insert(mailstore::Flag::Trashed),
                Flag::Draft => system.insert(mailstore::Flag::Draft),
                Flag::Recent | Flag::Extension(_) => {}
                Flag::Keyword(name) => {
                    let create = kind != StoreKind::Remove;
                    match self.keywords.letter_for(name, create) {
                        Ok(Some(letter)) => letters.push(letter),
                        Ok(None) if !create => {}
                        Ok(None) => {
                            return Response::tagged(
                                tag,
                                Status::No,
                                "Too many keywords in this mailbox.",
                            )
                            .with_code(Code::Limit);
                        }
                        Err(e) => return store_error(&e).retag(tag),
                    }
                }
            }
        }
        let keywords_before = self.keywords.iter().count();
        let mut modified = Vec::new();
        for index in indexes {
            let Some(k) = self.known.get(index) else {
                continue;
            };
            let message_uid = k.uid;
            let Some((current, modseq)) =
                self.view.message(message_uid).map(|m| (m.flags, m.modseq))
            else {
                continue;
            };
            if unchanged_since.is_some_and(|since| modseq > since) {
                modified.push(if uid { message_uid } else { seq(index) });
                continue;
            }
            let mut new = match kind {
                StoreKind::Replace => {
                    let mut new = Flags::empty();
                    if current.contains(mailstore::Flag::Passed) {
                        new.insert(mailstore::Flag::Passed);
                    }
                    new
                }
                _ => current,
            };
            for (_, f) in SYSTEM_FLAGS {
                if system.contains(f) {
                    match kind {
                        StoreKind::Remove => new.remove(f),
                        _ => new.insert(f),
                    }
                }
            }
            for &letter in &letters {
                match kind {
                    StoreKind::Remove => new.remove_keyword_letter(letter),
                    _ => {
                        new.insert_keyword_letter(letter);
                    }
                }
            }
            if new != current {
                match self.view.set_flags(message_uid, new) {
                    Ok(_) => {}
                    Err(e) => return store_error(&e).retag(tag),
                }
            }
            if let Some(k) = self.known.get_mut(index) {
                k.flags = new;
            }
            if !silent {
                let mut line = format!("* {} FETCH (", seq(index)).into_bytes();
                if uid {
                    line.extend_from_slice(format!("UID {message_uid} ").as_bytes());
                }
                line.extend_from_slice(b"FLAGS ");
                fetch::write_flags(
                    &mut line,
                    new,
                    &self.keywords,
                    self.recent.contains(&message_uid),
                );
                if condstore {
                    let modseq = self.view.message(message_uid).map_or(modseq, |m| m.modseq);
                    line.extend_from_slice(format!(" MODSEQ ({modseq})").as_bytes());
                }
                line.extend_from_slice(b")\r\n");
                out.extend_from_slice(&line);
            }
        }
        if self.keywords.iter().count() != keywords_before {
            self.write_flags_lists(out);
        }
        let response = Response::tagged(tag, Status::Ok, "STORE completed");
        if modified.is_empty() {
            response
        } else {
            response.with_code(Code::Modified(search::compact_set(&modified)))
        }
    }

    /// SEARCH and UID SEARCH.
    #[allow(clippy::too_many_arguments)]
    pub fn search(
        &mut self,
        tag: &str,
        uid: bool,
        charset: Option<&str>,
        criteria: &SearchKey,
        returns: Option<&[SearchReturn]>,
        enabled: Enabled,
        out: &mut Vec<u8>,
    ) -> Response {
        if let Some(charset) = charset
            && !charset.eq_ignore_ascii_case("UTF-8")
            && !charset.eq_ignore_ascii_case("US-ASCII")
        {
            return Response::tagged(tag, Status::No, "Unsupported charset.")
                .with_code(Code::BadCharset(vec!["UTF-8".into(), "US-ASCII".into()]));
        }
        let largest_seq = u32::try_from(self.known.len()).unwrap_or(u32::MAX);
        let largest_uid = self.known.last().map_or(0, |k| k.uid);
        let matcher = search::Matcher::new(criteria);
        let mut found = Vec::new();
        let mut highest = 0;
        for (index, k) in self.known.iter().enumerate() {
            if k.gone {
                continue;
            }
            let Some(entry) = self.view.message(k.uid).map(Facts::of) else {
                continue;
            };
            let facts = search::Facts {
                seq: seq(index),
                uid: k.uid,
                largest_seq,
                largest_uid,
                flags: entry.flags,
                keywords: &self.keywords,
                recent: self.recent.contains(&k.uid),
                internal_date: entry.internal_date,
                size: entry.wire_size,
                modseq: entry.modseq,
            };
            let mut source = Source {
                view: &mut self.view,
                uid: k.uid,
                metadata: None,
                bytes: None,
            };
            match matcher.matches(&facts, &mut source) {
                Ok(true) => {
                    found.push(if uid { k.uid } else { seq(index) });
                    highest = highest.max(entry.modseq);
                }
                Ok(false) => {}
                // Expunged meanwhile, or unreadable (logged): not a match.
                Err(()) => {}
            }
        }
        if let Err(e) = self.view.flush_metadata() {
            tracing::warn!("{}: cannot write the metadata cache: {e}", self.name);
        }
        // RFC 7162 3.1.5: a search by MODSEQ reports the highest of the matches.
        let modseq = (matcher.uses_modseq() && !found.is_empty()).then_some(highest);
        match returns {
            None if !enabled.rev2 => search::write_search(out, &found, modseq),
            returns => {
                search::write_esearch(out, tag, uid, &found, returns.unwrap_or(&[]), modseq);
            }
        }
        Response::tagged(tag, Status::Ok, "SEARCH completed")
    }

    /// EXPUNGE and UID EXPUNGE.
    pub fn expunge(
        &mut self,
        tag: &str,
        uids: Option<&SequenceSet>,
        out: &mut Vec<u8>,
    ) -> Response {
        if self.read_only {
            return Response::tagged(tag, Status::No, "Mailbox is read-only.")
                .with_code(Code::ReadOnly);
        }
        let largest = self.known.last().map_or(0, |k| k.uid);
        let doomed: Vec<u32> = self
            .view
            .messages()
            .iter()
            .filter(|m| m.flags.contains(mailstore::Flag::Trashed))
            .filter(|m| uids.is_none_or(|set| set.contains(m.uid, largest)))
            .map(|m| m.uid)
            .collect();
        if let Err(e) = self.view.expunge(&doomed) {
            return store_error(&e).retag(tag);
        }
        self.report_removed(out);
        Response::tagged(tag, Status::Ok, "EXPUNGE completed")
    }

    /// Sends EXPUNGE for every known message the view no longer has.
    fn report_removed(&mut self, out: &mut Vec<u8>) {
        for index in (0..self.known.len()).rev() {
            let Some(k) = self.known.get(index) else {
                continue;
            };
            if self.view.message(k.uid).is_none() {
                out.extend_from_slice(format!("* {} EXPUNGE\r\n", seq(index)).as_bytes());
                self.recent.remove(&k.uid);
                self.known.remove(index);
            }
        }
    }

    /// CLOSE: removes \Deleted messages without reporting them.
    pub fn expunge_silently(&mut self) -> Result<usize, mailstore::Error> {
        let doomed: Vec<u32> = self
            .view
            .messages()
            .iter()
            .filter(|m| m.flags.contains(mailstore::Flag::Trashed))
            .map(|m| m.uid)
            .collect();
        self.view.expunge(&doomed)
    }

    /// COPY and MOVE (RFC 6851): copies into `mailbox`, then for MOVE expunges the
    /// originals and reports them.
    #[allow(clippy::too_many_arguments)]
    pub fn copy(
        &mut self,
        tag: &str,
        account: &mut Account,
        set: &SequenceSet,
        uid: bool,
        mailbox: &str,
        is_move: bool,
        out: &mut Vec<u8>,
    ) -> Response {
        if is_move && self.read_only {
            return Response::tagged(tag, Status::No, "Mailbox is read-only.")
                .with_code(Code::ReadOnly);
        }
        let indexes = match self.resolve(set, uid) {
            Ok(indexes) => indexes,
            Err(r) => return r.retag(tag),
        };
        let uids: Vec<u32> = indexes
            .iter()
            .filter_map(|&i| self.known.get(i))
            .filter(|k| !k.gone)
            .map(|k| k.uid)
            .collect();
        let verb = if is_move { "MOVE" } else { "COPY" };
        let copied = match account.copy_into(&mut self.view, &uids, mailbox, is_move) {
            Ok(copied) => copied,
            Err(r) => return r.retag(tag),
        };
        let code = if copied.pairs.is_empty() {
            None
        } else {
            let (from, to): (Vec<u32>, Vec<u32>) = copied.pairs.iter().copied().unzip();
            Some(Code::CopyUid(
                copied.uidvalidity,
                search::compact_set(&from),
                search::compact_set(&to),
            ))
        };
        if is_move {
            if let Some(code) = code.clone() {
                Response::untagged(Status::Ok, "Moved")
                    .with_code(code)
                    .write_to(out);
            }
            self.report_removed(out);
            return Response::tagged(tag, Status::Ok, format!("{verb} completed"));
        }
        let response = Response::tagged(tag, Status::Ok, format!("{verb} completed"));
        match code {
            Some(code) => response.with_code(code),
            None => response,
        }
    }

    /// Writes what FETCH parsed to the metadata cache; once per command, as the
    /// write looks at the whole folder.
    pub fn flush_metadata(&mut self) {
        if let Err(e) = self.view.flush_metadata() {
            tracing::warn!("{}: cannot write the metadata cache: {e}", self.name);
        }
    }

    /// Counts for STATUS on the selected mailbox: (messages, recent, unseen, deleted,
    /// size, uidnext, uidvalidity).
    pub fn view(&self) -> &Mailbox {
        &self.view
    }

    /// How many messages are \Recent for this session.
    pub fn recent_count(&self) -> usize {
        self.recent.len()
    }
}

/// A message's expensive parts for SEARCH, loaded when a key needs them.
struct Source<'a> {
    view: &'a mut Mailbox,
    uid: u32,
    metadata: Option<std::sync::Arc<mailstore::Metadata>>,
    bytes: Option<Vec<u8>>,
}

impl search::MessageSource for Source<'_> {
    type Error = ();

    fn metadata(&mut self) -> Result<&mailstore::Metadata, ()> {
        if self.metadata.is_none() {
            match self.view.metadata(self.uid) {
                Ok(found) => self.metadata = found,
                Err(e) => tracing::warn!("SEARCH: metadata of uid {}: {e}", self.uid),
            }
        }
        self.metadata.as_deref().ok_or(())
    }

    fn message(&mut self) -> Result<&[u8], ()> {
        if self.bytes.is_none() {
            let mut bytes = Vec::new();
            match self.view.open_stored(self.uid) {
                Ok(Some(mut file)) => match file.read_to_end(&mut bytes) {
                    Ok(_) => self.bytes = Some(bytes),
                    Err(e) => tracing::warn!("SEARCH: read uid {}: {e}", self.uid),
                },
                Ok(None) => {}
                Err(e) => tracing::warn!("SEARCH: open uid {}: {e}", self.uid),
            }
        }
        self.bytes.as_deref().ok_or(())
    }
}

/// The plain values of a message entry a FETCH or SEARCH needs, copied out
/// without the entry's strings.
#[derive(Clone, Copy)]
struct Facts {
    flags: Flags,
    modseq: u64,
    size: u64,
    wire_size: u64,
    internal_date: SystemTime,
}

impl Facts {
    fn of(entry: &mailstore::MessageEntry) -> Facts {
        Facts {
            flags: entry.flags,
            modseq: entry.modseq,
            size: entry.size,
            wire_size: entry.wire_size,
            internal_date: entry.internal_date,
        }
    }
}

/// The sequence number of the message at `index`.
fn seq(index: usize) -> u32 {
    u32::try_from(index).map_or(u32::MAX, |i| i.saturating_add(1))
}
