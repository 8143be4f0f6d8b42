//! A logged-in user's mailboxes: names, LIST, STATUS, CREATE, DELETE, RENAME,
//! subscriptions, APPEND and the destination side of COPY and MOVE.
//!
//! One personal namespace, no prefix, `.` as the hierarchy separator: Maildir++'s own
//! layout, as Dovecot shows it, so folder names mean the same in both servers. INBOX is
//! the Maildir's root; `A.B` is the directory `.A.B`. Names are kept in modified
//! UTF-7, as clients send them and as Dovecot stores them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use imap_proto::{
    Code, DateTime, Flag, ListReturn, ListSelect, Response, Status, StatusItem, encode,
};
use mailstore::{Flags, Keywords, Mailbox, Maildir};

use crate::selected::Selected;

/// The hierarchy separator.
pub const SEPARATOR: char = '.';

/// What a COPY or MOVE produced: the destination's UIDVALIDITY and (source UID,
/// destination UID) pairs.
pub struct Copied {
    pub uidvalidity: u32,
    pub pairs: Vec<(u32, u32)>,
}

pub struct Account {
    /// The login name.
    pub user: String,
    /// The mailbox root (INBOX).
    root: Maildir,
    /// Configured special-use folders (`Sent`, ...).
    special_use: Vec<String>,
}

fn no(tag: &str, code: Option<Code>, text: &str) -> Response {
    let response = Response::tagged(tag, Status::No, text);
    match code {
        Some(code) => response.with_code(code),
        None => response,
    }
}

/// The reply for a failed store operation, with the RFC 5530 code that fits.
pub fn store_error(tag: &str, e: &mailstore::Error) -> Response {
    use mailstore::Error;
    match e {
        Error::FolderExists { .. } => no(tag, Some(Code::AlreadyExists), "Mailbox already exists."),
        Error::NoSuchFolder { .. } => no(tag, Some(Code::NonExistent), "Mailbox doesn't exist."),
        Error::InvalidFolderName { .. } => no(tag, Some(Code::Cannot), "Invalid mailbox name."),
        e if e.is_over_quota() => no(tag, Some(Code::OverQuota), "Quota exceeded."),
        e if e.is_temporary() => {
            tracing::warn!("mail store: {e}");
            no(
                tag,
                Some(Code::Unavailable),
                "Mail store temporarily unavailable; try again.",
            )
        }
        e => {
            tracing::warn!("mail store: {e}");
            no(
                tag,
                Some(Code::ServerBug),
                "Internal error in the mail store.",
            )
        }
    }
}

/// Whether `name` is INBOX (any case).
fn is_inbox(name: &str) -> bool {
    name.eq_ignore_ascii_case("INBOX")
}

/// The special-use attribute of a configured folder name.
fn special_use_attribute(name: &str) -> Option<&'static str> {
    match name.to_ascii_lowercase().as_str() {
        "drafts" => Some("\\Drafts"),
        "sent" | "sent messages" | "sent items" => Some("\\Sent"),
        "trash" | "deleted messages" | "deleted items" => Some("\\Trash"),
        "junk" | "spam" => Some("\\Junk"),
        "archive" | "archives" => Some("\\Archive"),
        _ => None,
    }
}

/// Whether `name` matches an IMAP LIST pattern (`*` anything, `%` anything but the
/// separator). INBOX matches case-insensitively.
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[char], n: &[char]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some(('*', rest)) => {
                (0..=n.len()).any(|i| n.get(i..).is_some_and(|tail| go(rest, tail)))
            }
            Some(('%', rest)) => {
                let stop = n.iter().position(|&c| c == SEPARATOR).unwrap_or(n.len());
                (0..=stop).any(|i| n.get(i..).is_some_and(|tail| go(rest, tail)))
            }
            Some((c, rest)) => n
                .split_first()
                .is_some_and(|(d, tail)| c == d && go(rest, tail)),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    if go(&p, &n) {
        return true;
    }
    // "inbox" and "Inbox.x" patterns match INBOX and its children.
    let upper_inbox = |s: &str| -> String {
        if s.len() >= 5
            && s.get(..5).is_some_and(is_inbox)
            && (s.len() == 5 || s[5..].starts_with(SEPARATOR))
        {
            format!("INBOX{}", &s[5..])
        } else {
            s.to_owned()
        }
    };
    let p: Vec<char> = upper_inbox(pattern).chars().collect();
    let n: Vec<char> = upper_inbox(name).chars().collect();
    go(&p, &n)
}

impl Account {
    /// Opens the user's mailbox root, creating it and the special-use folders on the
    /// first login.
    pub fn open(
        user: &str,
        root: &std::path::Path,
        special_use: &[String],
    ) -> Result<Account, mailstore::Error> {
        let root = Maildir::new(root);
        root.ensure(None, mailstore::DEFAULT_MODE)?;
        let account = Account {
            user: user.to_owned(),
            root,
            special_use: special_use.to_vec(),
        };
        for name in special_use {
            let folder = account.root.resolve(name)?;
            if !folder.path().exists() {
                match account.root.create_folder(name) {
                    Ok(_) | Err(mailstore::Error::FolderExists { .. }) => {}
                    Err(e) => return Err(e),
                }
                account.root.subscribe(name)?;
            }
        }
        Ok(account)
    }

    /// The Maildir for a mailbox name, or `None` if the name is not valid.
    fn maildir(&self, name: &str) -> Option<Maildir> {
        if is_inbox(name) {
            return Some(self.root.clone());
        }
        if !imap_proto::mutf7::is_valid(name) {
            return None;
        }
        self.root.resolve(name).ok()
    }

    /// The Maildir of an existing mailbox (its `cur/`, `new/` and `tmp/` made if a
    /// Maildir++ tool left them out).
    pub fn existing(&self, name: &str) -> Result<Maildir, Response> {
        match self.maildir(name) {
            Some(maildir) if maildir.path().is_dir() => {
                maildir
                    .ensure(None, mailstore::DEFAULT_MODE)
                    .map_err(|e| store_error("", &e))?;
                Ok(maildir)
            }
            Some(_) => Err(no("", Some(Code::NonExistent), "Mailbox doesn't exist.")),
            None => Err(no("", Some(Code::Cannot), "Invalid mailbox name.")),
        }
    }

    pub fn create(&mut self, tag: &str, name: &str) -> Response {
        let name = name.strip_suffix(SEPARATOR).unwrap_or(name);
        if is_inbox(name) {
            return no(tag, Some(Code::AlreadyExists), "Mailbox already exists.");
        }
        if self.maildir(name).is_none() {
            return no(tag, Some(Code::Cannot), "Invalid mailbox name.");
        }
        match self.root.create_folder(name) {
            Ok(_) => Response::tagged(tag, Status::Ok, "CREATE completed"),
            Err(e) => store_error(tag, &e),
        }
    }

    pub fn delete(&mut self, tag: &str, name: &str, selected: Option<&str>) -> Response {
        if is_inbox(name) {
            return no(tag, Some(Code::Cannot), "INBOX can't be deleted.");
        }
        if selected == Some(name) {
            return no(tag, Some(Code::InUse), "Can't delete the selected mailbox.");
        }
        if self.maildir(name).is_none() {
            return no(tag, Some(Code::Cannot), "Invalid mailbox name.");
        }
        match self.root.delete_folder(name) {
            Ok(()) => Response::tagged(tag, Status::Ok, "DELETE completed"),
            Err(e) => store_error(tag, &e),
        }
    }

    pub fn rename(&mut self, tag: &str, from: &str, to: &str) -> Response {
        let to = to.strip_suffix(SEPARATOR).unwrap_or(to);
        if self.maildir(to).is_none() || is_inbox(to) {
            return no(tag, Some(Code::Cannot), "Invalid mailbox name.");
        }
        if self.maildir(to).is_some_and(|m| m.path().exists()) {
            return no(
                tag,
                Some(Code::AlreadyExists),
                "Target mailbox already exists.",
            );
        }
        if let Err(r) = self.existing(from) {
            return r.retag(tag);
        }
        let result = if is_inbox(from) {
            // RFC 9051 6.3.6: INBOX's messages move to the new mailbox; INBOX stays.
            self.root.rename_inbox(to).map(|_| ())
        } else {
            self.root.rename_folder(from, to)
        };
        match result {
            Ok(()) => Response::tagged(tag, Status::Ok, "RENAME completed"),
            Err(e) => store_error(tag, &e),
        }
    }

    pub fn subscribe(&mut self, tag: &str, name: &str, subscribe: bool) -> Response {
        let name = if is_inbox(name) { "INBOX" } else { name };
        if self.maildir(name).is_none() {
            return no(tag, Some(Code::Cannot), "Invalid mailbox name.");
        }
        let result = if subscribe {
            self.root.subscribe(name)
        } else {
            self.root.unsubscribe(name)
        };
        match result {
            Ok(_) => Response::tagged(
                tag,
                Status::Ok,
                if subscribe {
                    "SUBSCRIBE completed"
                } else {
                    "UNSUBSCRIBE completed"
                },
            ),
            Err(e) => store_error(tag, &e),
        }
    }

    /// LIST and LSUB (`lsub`), with LIST-EXTENDED's selection and return options.
    #[allow(clippy::too_many_arguments)]
    pub fn list(
        &mut self,
        tag: &str,
        reference: &str,
        patterns: &[String],
        select: &[ListSelect],
        returns: &[ListReturn],
        lsub: bool,
        selected: Option<&Selected>,
        out: &mut Vec<u8>,
    ) -> Response {
        let verb = if lsub { "LSUB" } else { "LIST" };
        if !lsub && select.is_empty() && patterns.iter().all(|p| p.is_empty()) {
            // The hierarchy delimiter and root name (RFC 9051 6.3.9).
            out.extend_from_slice(b"* LIST (\\Noselect) \".\" \"\"\r\n");
            return Response::tagged(tag, Status::Ok, "LIST completed");
        }
        let folders = match self.root.list_folders() {
            Ok(folders) => folders,
            Err(e) => return store_error(tag, &e),
        };
        let subscriptions = match self.root.subscriptions() {
            Ok(s) => s,
            Err(e) => return store_error(tag, &e),
        };
        let subscribed_only = lsub || select.contains(&ListSelect::Subscribed);
        let special_only = select.contains(&ListSelect::SpecialUse);
        let want_subscribed = subscribed_only || returns.contains(&ListReturn::Subscribed);
        let want_special = !lsub;
        let status_items = returns.iter().find_map(|r| match r {
            ListReturn::Status(items) => Some(items.clone()),
            _ => None,
        });
        for folder in &folders {
            let full_matches = patterns.iter().any(|p| {
                let pattern = format!("{reference}{p}");
                pattern_matches(&pattern, &folder.name)
            });
            if !full_matches {
                continue;
            }
            let subscribed = subscriptions
                .iter()
                .any(|s| s == &folder.name || (is_inbox(s) && is_inbox(&folder.name)));
            if subscribed_only && !subscribed {
                continue;
            }
            let special = if want_special {
                self.special_use
                    .iter()
                    .any(|s| s == &folder.name)
                    .then(|| special_use_attribute(&folder.name))
                    .flatten()
            } else {
                None
            };
            if special_only && special.is_none() {
                continue;
            }
            let mut attributes: Vec<&str> = Vec::new();
            if lsub {
                // LSUB shows only \Noselect (RFC 3501 7.2.3).
                if !folder.selectable {
                    attributes.push("\\Noselect");
                }
            } else if folder.selectable {
                attributes.push(if folder.has_children {
                    "\\HasChildren"
                } else {
                    "\\HasNoChildren"
                });
            } else {
                attributes.push("\\Noselect");
                if folder.has_children {
                    attributes.push("\\HasChildren");
                }
            }
            if want_subscribed && subscribed && !lsub {
                attributes.push("\\Subscribed");
            }
            if let Some(special) = special {
                attributes.push(special);
            }
            out.extend_from_slice(format!("* {verb} ({}) \".\" ", attributes.join(" ")).as_bytes());
            encode::astring(out, folder.name.as_bytes());
            out.extend_from_slice(b"\r\n");
            if let Some(items) = &status_items
                && folder.selectable
            {
                let _ = self.write_status(&folder.name, items, selected, out);
            }
        }
        if subscribed_only && !special_only {
            // Subscribed names whose mailbox is gone are still listed (RFC 3501
            // 6.3.9, RFC 5258 3.1: \NonExistent).
            let attributes = if lsub {
                "\\Noselect"
            } else {
                "\\Subscribed \\NonExistent"
            };
            for name in &subscriptions {
                let exists = folders
                    .iter()
                    .any(|f| &f.name == name || (is_inbox(name) && is_inbox(&f.name)));
                let matches = patterns
                    .iter()
                    .any(|p| pattern_matches(&format!("{reference}{p}"), name));
                if !exists && matches {
                    out.extend_from_slice(format!("* {verb} ({attributes}) \".\" ").as_bytes());
                    encode::astring(out, name.as_bytes());
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
        Response::tagged(tag, Status::Ok, format!("{verb} completed"))
    }

    /// STATUS.
    pub fn status(
        &mut self,
        tag: &str,
        name: &str,
        items: &[StatusItem],
        selected: Option<&Selected>,
        out: &mut Vec<u8>,
    ) -> Response {
        match self.write_status(name, items, selected, out) {
            Ok(()) => Response::tagged(tag, Status::Ok, "STATUS completed"),
            Err(r) => r.retag(tag),
        }
    }

    fn write_status(
        &self,
        name: &str,
        items: &[StatusItem],
        selected: Option<&Selected>,
        out: &mut Vec<u8>,
    ) -> Result<(), Response> {
        let maildir = self.existing(name)?;
        let opened;
        let (view, recent) = match selected.filter(|s| s.path() == maildir.path()) {
            Some(s) => (s.view(), s.recent_count()),
            None => {
                opened = Mailbox::open(&maildir).map_err(|e| store_error("", &e))?;
                let recent = opened
                    .messages()
                    .iter()
                    .filter(|m| m.location == mailstore::Location::New)
                    .count();
                (&opened, recent)
            }
        };
        let messages = view.messages();
        let mut fields = Vec::new();
        for item in items {
            let (label, value) = match item {
                StatusItem::Messages => ("MESSAGES", messages.len() as u64),
                StatusItem::Recent => ("RECENT", recent as u64),
                StatusItem::UidNext => ("UIDNEXT", u64::from(view.next_uid())),
                StatusItem::UidValidity => ("UIDVALIDITY", u64::from(view.uidvalidity())),
                StatusItem::Unseen => (
                    "UNSEEN",
                    messages
                        .iter()
                        .filter(|m| !m.flags.contains(mailstore::Flag::Seen))
                        .count() as u64,
                ),
                StatusItem::Deleted => (
                    "DELETED",
                    messages
                        .iter()
                        .filter(|m| m.flags.contains(mailstore::Flag::Trashed))
                        .count() as u64,
                ),
                StatusItem::Size => ("SIZE", messages.iter().map(|m| m.wire_size).sum()),
                StatusItem::HighestModSeq => ("HIGHESTMODSEQ", view.highest_modseq()),
            };
            fields.push(format!("{label} {value}"));
        }
        out.extend_from_slice(b"* STATUS ");
        encode::astring(
            out,
            if is_inbox(name) {
                b"INBOX"
            } else {
                name.as_bytes()
            },
        );
        out.extend_from_slice(format!(" ({})\r\n", fields.join(" ")).as_bytes());
        Ok(())
    }

    /// APPEND.
    pub fn append(
        &mut self,
        tag: &str,
        name: &str,
        flags: &[Flag],
        date: Option<DateTime>,
        message: &[u8],
    ) -> Response {
        let maildir = match self.existing(name) {
            Ok(m) => m,
            Err(r) => {
                return match r.code {
                    Some(Code::NonExistent) => {
                        no(tag, Some(Code::TryCreate), "Mailbox doesn't exist.")
                    }
                    _ => r.retag(tag),
                };
            }
        };
        let mut keywords = match Keywords::load(&maildir) {
            Ok(k) => k,
            Err(e) => return store_error(tag, &e),
        };
        let mut stored = Flags::empty();
        for flag in flags {
            match flag {
                Flag::Seen => stored.insert(mailstore::Flag::Seen),
                Flag::Answered => stored.insert(mailstore::Flag::Replied),
                Flag::Flagged => stored.insert(mailstore::Flag::Flagged),
                Flag::Deleted => stored.insert(mailstore::Flag::Trashed),
                Flag::Draft => stored.insert(mailstore::Flag::Draft),
                Flag::Recent | Flag::Extension(_) => {}
                Flag::Keyword(name) => match keywords.letter_for(name, true) {
                    Ok(Some(letter)) => {
                        stored.insert_keyword_letter(letter);
                    }
                    Ok(None) => {}
                    Err(e) => return store_error(tag, &e),
                },
            }
        }
        let internal_date = date.map(to_system_time);
        let options = mailstore::DeliverOptions::default();
        match maildir.append(&mut &message[..], stored, internal_date, &options) {
            Ok(appended) => Response::tagged(tag, Status::Ok, "APPEND completed")
                .with_code(Code::AppendUid(appended.uidvalidity, appended.uid)),
            Err(e) => store_error(tag, &e),
        }
    }

    /// COPY (or MOVE, which also expunges the originals) into mailbox `name`.
    pub fn copy_into(
        &mut self,
        source: &mut Mailbox,
        uids: &[u32],
        name: &str,
        is_move: bool,
    ) -> Result<Copied, Response> {
        let maildir = match self.existing(name) {
            Ok(m) => m,
            Err(r) => {
                return Err(match r.code {
                    Some(Code::NonExistent) => {
                        no("", Some(Code::TryCreate), "Mailbox doesn't exist.")
                    }
                    _ => r,
                });
            }
        };
        let result = if is_move {
            source.move_to(uids, &maildir)
        } else {
            source.copy_to(uids, &maildir)
        };
        result
            .map(|copied| Copied {
                uidvalidity: copied.uidvalidity,
                pairs: copied.uids,
            })
            .map_err(|e| store_error("", &e))
    }
}

/// An APPEND date as a point in time.
fn to_system_time(date: DateTime) -> SystemTime {
    let days = service::clock::days_from_civil(
        i64::from(date.date.year),
        u32::from(date.date.month),
        u32::from(date.date.day),
    );
    let secs = days * 86_400
        + i64::from(date.hour) * 3600
        + i64::from(date.minute) * 60
        + i64::from(date.second)
        - i64::from(date.zone_minutes) * 60;
    match u64::try_from(secs) {
        Ok(secs) => UNIX_EPOCH + Duration::from_secs(secs),
        Err(_) => UNIX_EPOCH,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_patterns() {
        assert!(pattern_matches("*", "INBOX"));
        assert!(pattern_matches("*", "a.b.c"));
        assert!(pattern_matches("%", "Sent"));
        assert!(!pattern_matches("%", "a.b"));
        assert!(pattern_matches("a.%", "a.b"));
        assert!(!pattern_matches("a.%", "a.b.c"));
        assert!(pattern_matches("a*", "a.b.c"));
        assert!(pattern_matches("inbox", "INBOX"));
        assert!(pattern_matches("Inbox.%", "INBOX.x"));
        assert!(!pattern_matches("Sent", "sent"));
    }

    #[test]
    fn append_dates() {
        let date = DateTime {
            date: imap_proto::Date {
                year: 2026,
                month: 11,
                day: 23,
            },
            hour: 14,
            minute: 3,
            second: 2,
            zone_minutes: 60,
        };
        let secs = to_system_time(date)
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert_eq!(secs, 1_795_442_582 - 3600);
    }
}
